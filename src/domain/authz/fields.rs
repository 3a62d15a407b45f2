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

/// Whether `s` is a field path: 1 to 128 bytes of names (ASCII letters, digits, `_`, `-`)
/// joined by `.` for nesting (`address.city`). Keys' restrictions and the policy's filterable
/// fields are both written this way.
pub fn is_field_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

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
mod tests;
