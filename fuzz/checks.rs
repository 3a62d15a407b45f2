//! The invariants the fuzz targets check, one function per target. Each takes arbitrary bytes
//! and panics when keygate's core breaks a promise: a panic of its own, an error a client
//! caused answered with something other than a 4xx, or output that breaks its contract.
//!
//! Shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`, `make fuzz`) and by the native
//! test `tests/fuzz_replay.rs`, which runs every committed seed and regression through them.

use keygate::domain::manage::{self, CreateKey, PutOrg, RotateKey, UpdateKey};
use keygate::domain::request::{Headers, Method, Request};
use keygate::domain::{ApiKey, FieldScope, GateError, KeyHash, Policy, UnixMillis, fields, verify};

/// A fixed "now" (2025-11-23): the checks must not depend on the clock.
const NOW: UnixMillis = UnixMillis(1_763_900_000_000);

fn client_error(what: &str, err: &GateError) {
    let status = err.status();
    assert!(
        (400..500).contains(&status),
        "{what}: a client's input answered {status} {}",
        err.code()
    );
}

/// The credential headers: the first byte picks where the rest goes (`Authorization`,
/// `X-API-Key`, or both, split in half). Headers arrive as text; bad bytes become U+FFFD.
pub fn key(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (authorization, x_api_key) = match mode % 3 {
        0 => (Some(text.as_ref()), None),
        1 => (None, Some(text.as_ref())),
        _ => {
            let mid = (0..=text.len() / 2)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            (Some(&text[..mid]), Some(&text[mid..]))
        }
    };
    match verify::parse_credential(authorization, x_api_key) {
        Err(e) => client_error("credential", &e),
        Ok((_, key)) => {
            // A key that parses round-trips, hashes, and masks to its prefix and 4 characters.
            let again = ApiKey::parse(key.expose_secret()).expect("a parsed key parses again");
            assert_eq!(KeyHash::of(&again), KeyHash::of(&key));
            let mask = key.mask();
            assert!(
                mask.starts_with(key.prefix()),
                "mask {mask} lost the prefix"
            );
            assert!(
                mask.len() < key.expose_secret().len(),
                "the mask shows the whole key"
            );
        }
    }
}

/// A policy, and if it parses, a request routed by it: the rest of the input after a NUL is
/// `METHOD path?query`.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (spec, request) = text.split_once('\0').unwrap_or((&text, "GET /api/x?id=1"));
    // An invalid policy is the deployer's error (500 configuration_error), never a panic.
    let Ok(policy) = Policy::parse(spec) else {
        return;
    };
    let (method, target) = request.split_once(' ').unwrap_or(("GET", request));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let Some(method) = Method::parse(method) else {
        return;
    };
    let target = match policy.target(path, query) {
        Ok(target) => target,
        Err(e) => return client_error("target", &e),
    };
    // The canonical form is a fixed point: forwarding it and reading it again changes nothing.
    let again = policy.target(target.path(), target.query());
    assert_eq!(
        again.ok().as_ref(),
        Some(&target),
        "canonical target not stable"
    );
    assert!(
        !target.path().contains("//") && !target.path().to_ascii_uppercase().contains("%2F"),
        "ambiguous canonical path {:?}",
        target.path()
    );
    let headers = Headers::new(vec![("x-team".into(), "team_1".into())]);
    let request = Request {
        method,
        target: &target,
        headers: &headers,
        form: None,
    };
    if let Err(e) = policy.route(&request) {
        client_error("route", &e);
    }
}

/// A management body: the first byte picks the endpoint, the rest is the body as sent.
pub fn manage_body(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let policy = Policy::parse(
        r#"{"rules":[{"method":"GET","path":"/api/employees/*","resource":"employees"},
        {"method":"GET","path":"/api/sites/:id","resource":"sites","ids":{"site":"path:id"}}]}"#,
    )
    .expect("the fuzz policy parses");
    let outcome = match which % 4 {
        0 => manage::parse_body::<CreateKey>(body)
            .and_then(|b| b.validate(NOW, &policy, Default::default()))
            .map(drop),
        1 => manage::parse_body::<UpdateKey>(body)
            .and_then(|b| b.validate(&policy, Default::default()))
            .map(drop),
        2 => manage::parse_body::<PutOrg>(body).map(drop),
        _ => manage::parse_body::<RotateKey>(body)
            .and_then(|b| b.grace_hours())
            .map(drop),
    };
    if let Err(e) = outcome {
        client_error("management body", &e);
    }
}

/// An origin's response body filtered to a key's fields. A body that cannot be filtered is the
/// origin's fault (502 `unfilterable_response`); a filtered body is JSON holding, in each
/// item, only the allowed fields.
pub fn field_filter(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let scope = FieldScope {
        allowed: vec!["name".into(), "address.city".into(), "id".into()],
        envelope: (which % 2 == 1).then(|| "data".to_owned()),
    };
    match fields::filter(Some("application/json"), body, &scope) {
        Err(e) => assert_eq!(e.code(), "unfilterable_response", "filter error {e:?}"),
        Ok(out) => {
            let value: serde_json::Value =
                serde_json::from_slice(&out).expect("filtered output is JSON");
            let items = match (&value, &scope.envelope) {
                (serde_json::Value::Object(o), Some(env)) if o.contains_key(env) => &o[env],
                _ => &value,
            };
            let objects: Vec<&serde_json::Value> = match items {
                serde_json::Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for object in objects.iter().filter_map(|o| o.as_object()) {
                for (name, inner) in object.iter() {
                    assert!(
                        ["name", "address", "id"].contains(&name.as_str()),
                        "field {name} survived the filter"
                    );
                    if name == "address" {
                        let only_city = inner
                            .as_object()
                            .is_some_and(|a| a.keys().all(|k| k == "city"));
                        assert!(only_city, "address kept more than city: {inner}");
                    }
                }
            }
        }
    }
}
