//! Field restrictions: the origin's JSON response, cut down to the fields a key may see.
//!
//! Allowed paths are field names, dotted for nesting (`name`, `address.city`). The projection
//! applies to a top-level object, to each object of a top-level array, or, when the route names
//! an envelope (`data`), to what that member holds, leaving the envelope's other members
//! (pagination and the like) as they are. A value where an object was expected (a string
//! `address` when only `address.city` is allowed) is dropped, never passed through: a
//! restricted key sees less, not more. This is the only module that handles untyped JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::GateError;
use super::verify::FieldScope;

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
    let value: Value =
        serde_json::from_slice(body).map_err(|e| unfilterable(format!("invalid JSON: {e}")))?;
    let tree = Tree::of(&scope.allowed);
    let filtered = match (value, scope.envelope.as_deref()) {
        (Value::Object(mut outer), Some(envelope)) if outer.contains_key(envelope) => {
            let inner = outer.remove(envelope).unwrap_or(Value::Null);
            let projected = project(inner, &tree).unwrap_or(Value::Null);
            outer.insert(envelope.to_owned(), projected);
            Value::Object(outer)
        }
        (value @ (Value::Object(_) | Value::Array(_)), _) => {
            project(value, &tree).unwrap_or(Value::Null)
        }
        (other, _) => return Err(unfilterable(format!("top-level JSON is {}", kind(&other)))),
    };
    serde_json::to_vec(&filtered).map_err(|e| unfilterable(e.to_string()))
}

/// `value` cut to `tree`; `None` when it is a scalar where fields were expected.
fn project(value: Value, tree: &Tree) -> Option<Value> {
    match value {
        Value::Object(fields) => {
            let mut kept = Map::new();
            for (name, child) in fields {
                match tree.0.get(&name) {
                    Some(None) => {
                        kept.insert(name, child);
                    }
                    Some(Some(subtree)) => {
                        if let Some(projected) = project(child, subtree) {
                            kept.insert(name, projected);
                        }
                    }
                    None => {}
                }
            }
            Some(Value::Object(kept))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(|v| project(v, tree)).collect(),
        )),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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

    proptest! {
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
