//! Field restrictions: the origin's JSON response, cut down to the fields a key may see.
//!
//! Allowed paths are field names, dotted for nesting (`name`, `address.city`). The projection
//! applies to a top-level object, to each object of a top-level array, or, when the route names
//! an envelope (`data`), to what that member holds, leaving the envelope's other members
//! (pagination and the like) as they are. A value where an object was expected (a string
//! `address` when only `address.city` is allowed) is dropped, never passed through: a
//! restricted key sees less, not more. This is the only module that handles untyped JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value};

use crate::domain::authz::verify::FieldScope;
use crate::domain::error::GateError;

/// Allowed paths as a tree: a leaf (`None`) allows the whole value below it.
#[derive(Debug, Default)]
struct Tree(BTreeMap<String, Option<Tree>>);

impl Tree {
    fn of(paths: &[String]) -> Tree {
        let mut root = Tree::default();
        for path in paths {
            let mut node = &mut root;
            let mut parts = path.split('.').peekable();
            while let Some(part) = parts.next() {
                let last = parts.peek().is_none();
                let slot = node
                    .0
                    .entry(part.to_owned())
                    .or_insert_with(|| Some(Tree::default()));
                match slot {
                    // A shorter path already allows everything below.
                    None => break,
                    Some(_) if last => {
                        *slot = None;
                        break;
                    }
                    Some(child) => node = child,
                }
            }
        }
        root
    }
}

/// Filters a response body. Refuses (502) a body that is not a JSON object or array: an
/// unfilterable response is never passed on unfiltered.
pub fn filter(
    content_type: Option<&str>,
    body: &[u8],
    scope: &FieldScope,
) -> Result<Vec<u8>, GateError> {
    let unfilterable = |why: String| GateError::UnfilterableResponse(why);
    if !content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().ends_with("json"))
    }) {
        return Err(unfilterable(format!(
            "content-type {content_type:?} is not JSON"
        )));
    }
    let tree = Tree::of(&scope.allowed);
    let mut de = serde_json::Deserializer::from_slice(body);
    let filtered = Body {
        tree: &tree,
        envelope: scope.envelope.as_deref(),
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value))
    .map_err(|e| match e.classify() {
        Category::Data => unfilterable(e.to_string()),
        _ => unfilterable(format!("invalid JSON: {e}")),
    })?;
    serde_json::to_vec(&filtered).map_err(|e| unfilterable(e.to_string()))
}

/// The whole body: a top-level object or array projected to the tree. With an envelope, and
/// when the top-level object has that member, only the member is projected and the others
/// (pagination and the like) pass as they are.
struct Body<'a> {
    tree: &'a Tree,
    envelope: Option<&'a str>,
}

impl<'de> DeserializeSeed<'de> for Body<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Body<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(envelope) = self.envelope else {
            return Ok(Project(self.tree).visit_map(map)?.unwrap_or(Value::Null));
        };
        let mut others = Map::new();
        let mut inner = None;
        while let Some(name) = map.next_key::<String>()? {
            if name == envelope {
                inner = Some(map.next_value_seed(Project(self.tree))?);
            } else {
                others.insert(name, map.next_value::<Value>()?);
            }
        }
        match inner {
            // Inserted last: a repeated envelope member never survives unprojected.
            Some(projected) => {
                others.insert(envelope.to_owned(), projected.unwrap_or(Value::Null));
                Ok(Value::Object(others))
            }
            // No envelope member: the object itself holds the fields.
            None => Project(self.tree)
                .deserialize(Value::Object(others))
                .map(|v| v.unwrap_or(Value::Null))
                .map_err(de::Error::custom),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Ok(Project(self.tree).visit_seq(seq)?.unwrap_or(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value, E> {
        Err(top_level("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        Err(top_level("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        Err(top_level("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Err(top_level("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Value, E> {
        Err(top_level("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Err(top_level("null"))
    }
}

/// A member name, borrowed from the body unless it has escapes: most members are skipped, and
/// their names need no copy.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

fn top_level<E: de::Error>(kind: &str) -> E {
    E::custom(format!("top-level JSON is {kind}"))
}

/// A value cut to a tree while it is parsed: members the tree does not name are skipped without
/// being built. `None` for a scalar where fields were expected (it is dropped).
struct Project<'a>(&'a Tree);

impl<'de> DeserializeSeed<'de> for Project<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Project<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut kept = Map::new();
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            match self.0.0.get(name.as_ref()) {
                Some(None) => {
                    let value = map.next_value::<Value>()?;
                    kept.insert(name.into_owned(), value);
                }
                Some(Some(subtree)) => match map.next_value_seed(Project(subtree))? {
                    Some(projected) => {
                        kept.insert(name.into_owned(), projected);
                    }
                    // A scalar where fields were expected: a repeat of the member must not
                    // leave an earlier, projected copy either way; drop both.
                    None => {
                        kept.remove(name.as_ref());
                    }
                },
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(Value::Object(kept)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Project(self.0))? {
            items.extend(item);
        }
        Ok(Some(Value::Array(items)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn scope(allowed: &[&str], envelope: Option<&str>) -> FieldScope {
        FieldScope {
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            envelope: envelope.map(str::to_owned),
        }
    }

    fn run(body: Value, allowed: &[&str], envelope: Option<&str>) -> Value {
        let out = filter(
            Some("application/json; charset=utf-8"),
            body.to_string().as_bytes(),
            &scope(allowed, envelope),
        )
        .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn objects_arrays_envelopes_and_nested_paths() {
        let employee = json!({"name": "Ada", "start_date": "2020-01-01", "salary": 1, "address": {"city": "Zürich", "street": "Main"}});
        assert_eq!(
            run(employee.clone(), &["name", "start_date"], None),
            json!({"name": "Ada", "start_date": "2020-01-01"})
        );
        assert_eq!(
            run(employee.clone(), &["address.city"], None),
            json!({"address": {"city": "Zürich"}})
        );
        assert_eq!(
            run(employee.clone(), &["address", "address.city"], None),
            json!({"address": {"city": "Zürich", "street": "Main"}})
        );
        assert_eq!(
            run(
                json!([employee.clone(), {"name": "Bob", "salary": 2}]),
                &["name"],
                None
            ),
            json!([{"name": "Ada"}, {"name": "Bob"}])
        );
        assert_eq!(
            run(
                json!({"data": [employee.clone()], "next": "c2"}),
                &["name"],
                Some("data")
            ),
            json!({"data": [{"name": "Ada"}], "next": "c2"})
        );
        assert_eq!(
            run(employee.clone(), &["name"], Some("data")),
            json!({"name": "Ada"}),
            "envelope absent: the root"
        );
        assert_eq!(
            run(json!({"address": "Main St 1"}), &["address.city"], None),
            json!({}),
            "scalar where an object was expected"
        );
        assert_eq!(
            run(json!([1, {"name": "x", "y": 2}]), &["name"], None),
            json!([{"name": "x"}])
        );
    }

    #[test]
    fn what_cannot_be_filtered_is_refused() {
        let s = scope(&["name"], None);
        for (ct, body) in [
            (Some("text/html"), &b"<p>hi</p>"[..]),
            (None, &b"{}"[..]),
            (Some("application/json"), &b"{oops"[..]),
            (Some("application/json"), &b"\"just a string\""[..]),
        ] {
            assert_eq!(
                filter(ct, body, &s).unwrap_err().code(),
                "unfilterable_response",
                "{ct:?}"
            );
        }
        assert!(filter(Some("application/problem+json"), b"{}", &s).is_ok());
    }

    /// Every key path in `v` (array indices skipped), as dotted strings.
    fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.push(p.clone());
                    paths(child, &p, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| paths(i, prefix, out)),
            _ => {}
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-c]{0,3}".prop_map(Value::String)
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-e]", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The projection as first written, on a parsed value: the reference the streaming filter
    /// must match exactly.
    fn reference(value: Value, tree: &Tree) -> Option<Value> {
        match value {
            Value::Object(fields) => {
                let mut kept = Map::new();
                for (name, child) in fields {
                    match tree.0.get(&name) {
                        Some(None) => {
                            kept.insert(name, child);
                        }
                        Some(Some(subtree)) => {
                            if let Some(projected) = reference(child, subtree) {
                                kept.insert(name, projected);
                            }
                        }
                        None => {}
                    }
                }
                Some(Value::Object(kept))
            }
            Value::Array(items) => Some(Value::Array(
                items
                    .into_iter()
                    .filter_map(|v| reference(v, tree))
                    .collect(),
            )),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => None,
        }
    }

    /// The reference filter of a whole body: the envelope's member projected when present,
    /// otherwise the body itself.
    fn reference_body(text: &str, allowed: &[&str], envelope: Option<&str>) -> Option<Value> {
        let tree = Tree::of(&allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        match (serde_json::from_str::<Value>(text).ok()?, envelope) {
            (Value::Object(mut outer), Some(env)) if outer.contains_key(env) => {
                let inner = outer.remove(env).unwrap_or(Value::Null);
                outer.insert(
                    env.to_owned(),
                    reference(inner, &tree).unwrap_or(Value::Null),
                );
                Some(Value::Object(outer))
            }
            (v @ (Value::Object(_) | Value::Array(_)), _) => {
                Some(reference(v, &tree).unwrap_or(Value::Null))
            }
            _ => None,
        }
    }

    fn streamed(text: &str, allowed: &[&str], envelope: Option<&str>) -> Option<Value> {
        let out = filter(
            Some("application/json"),
            text.as_bytes(),
            &scope(allowed, envelope),
        );
        out.ok()
            .map(|bytes| serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn repeated_and_escaped_members_filter_like_the_reference() {
        for (text, allowed, envelope) in [
            (r#"{"a":1,"a":{"b":2,"c":3}}"#, &["a.b"][..], None),
            (r#"{"a":{"b":2,"c":3},"a":1}"#, &["a.b"], None),
            (r#"{"a":{"b":2},"a":{"c":3,"b":4}}"#, &["a.b"], None),
            (
                r#"{"data":[{"a":1,"x":2}],"data":"s","n":1}"#,
                &["a"],
                Some("data"),
            ),
            (
                r#"{"data":"s","data":[{"a":1,"x":2}],"n":1,"n":2}"#,
                &["a"],
                Some("data"),
            ),
            (r#"{"x":{"a":1,"y":2}}"#, &["a"], Some("data")),
            // Escaped names are the same names.
            (
                r#"{"n\u0061me":"Ada","s\u0061lary":1,"name":"Bob"}"#,
                &["name"],
                None,
            ),
        ] {
            assert_eq!(
                streamed(text, allowed, envelope),
                reference_body(text, allowed, envelope),
                "{text} {allowed:?} {envelope:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_streaming_filter_equals_the_reference(
            body in json_value(),
            allowed in prop::collection::vec("[a-e](\\.[a-e]){0,2}", 0..4),
            envelope in proptest::option::of("[a-e]"),
        ) {
            let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
            let text = body.to_string();
            prop_assert_eq!(
                streamed(&text, &refs, envelope.as_deref()),
                reference_body(&text, &refs, envelope.as_deref())
            );
        }

        #[test]
        fn no_field_outside_the_allowed_set_survives(
            body in prop::collection::btree_map("[a-e]", json_value(), 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
            allowed in prop::collection::vec("[a-e](\\.[a-e]){0,2}", 0..4),
        ) {
            let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
            let out = run(body, &refs, None);
            let mut found = Vec::new();
            paths(&out, "", &mut found);
            for p in found {
                let ok = allowed.iter().any(|a| {
                    a == &p || a.starts_with(&format!("{p}.")) || p.starts_with(&format!("{a}."))
                });
                prop_assert!(ok, "{p} survived; allowed {allowed:?}");
            }
        }
    }
}
