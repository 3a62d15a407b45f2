//! Tests of `fields.rs`.

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
