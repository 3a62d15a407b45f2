//! Tests of `verify.rs`.

use super::*;
use crate::domain::authz::scope::Action;

fn record() -> KeyRecord {
    KeyRecord::from_json(
        r#"{"id":"key_a","org":"acme","name":"test","created_at":0,"expires_at":1000}"#,
    )
    .unwrap()
}

fn code(r: Result<ActiveKey, GateError>) -> &'static str {
    r.map(|_| "ok").unwrap_or_else(|e| e.code())
}

#[test]
fn status_checks_in_order() {
    assert_eq!(code(check_status(record(), UnixMillis(999))), "ok");
    assert_eq!(
        code(check_status(record(), UnixMillis(1_000))),
        "expired_api_key"
    );
    let disabled = KeyRecord {
        enabled: false,
        ..record()
    };
    assert_eq!(
        code(check_status(disabled.clone(), UnixMillis(0))),
        "disabled_api_key"
    );
    assert_eq!(
        code(check_status(disabled, UnixMillis(5_000))),
        "expired_api_key"
    );
    let revoked = KeyRecord {
        revoked_at: Some(UnixMillis(1)),
        enabled: false,
        ..record()
    };
    assert_eq!(
        code(check_status(revoked, UnixMillis(5_000))),
        "invalid_api_key"
    );
    let forever = KeyRecord {
        expires_at: None,
        ..record()
    };
    assert_eq!(code(check_status(forever, UnixMillis(u64::MAX))), "ok");
}

fn read_route() -> Route<'static> {
    Route {
        resource: "employees",
        action: Action::Read,
        requires: &[],
        write: Default::default(),
        ids: vec![("site", Some("site_1".to_owned()))],
        parents: Vec::new(),
        envelope: None,
        known_types: None,
    }
}

fn fail_open(record: &KeyRecord, confirmed_at: Option<u64>, now: u64) -> Result<(), String> {
    let bound = RevocationBound::from_millis(1_000).unwrap();
    without_guard(
        record.clone(),
        confirmed_at.map(UnixMillis),
        UnixMillis(now),
        bound,
        &read_route(),
        "down".into(),
    )
    .map(drop)
    .map_err(|e| e.code().to_owned())
}

fn allow_key() -> KeyRecord {
    KeyRecord {
        expires_at: None,
        scopes: vec![crate::domain::Scope::parse("read").unwrap()],
        on_limiter_error: GuardFallback::Allow,
        ..record()
    }
}

#[test]
fn without_the_guard_the_key_decides() {
    let route = read_route();
    let deny = KeyRecord {
        on_limiter_error: GuardFallback::Deny,
        ..allow_key()
    };
    let bound = RevocationBound::default();
    let err = without_guard(
        deny,
        Some(UnixMillis(0)),
        UnixMillis(0),
        bound,
        &route,
        "down".into(),
    )
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (503, "limiter_unavailable"));
    assert!(
        err.render(false)
            .headers
            .contains(&("x-keygate-limiter", "unavailable; denied".into()))
    );
    assert_eq!(fail_open(&allow_key(), Some(5_000), 5_000), Ok(()));
    let disabled = KeyRecord {
        enabled: false,
        ..allow_key()
    };
    assert_eq!(
        fail_open(&disabled, Some(0), 0).unwrap_err(),
        "disabled_api_key",
        "a fresh record still has its status checked"
    );
}

#[test]
fn fail_open_trusts_only_a_record_the_guard_confirmed_within_the_bound() {
    let key = allow_key();
    assert_eq!(
        fail_open(&key, None, 10_000).unwrap_err(),
        "limiter_unavailable",
        "a record from KV or the cache alone is never trusted"
    );
    assert_eq!(
        fail_open(&key, Some(9_000), 10_000),
        Ok(()),
        "exactly the bound"
    );
    assert_eq!(
        fail_open(&key, Some(8_999), 10_000).unwrap_err(),
        "limiter_unavailable",
        "1 ms past the bound"
    );
    assert_eq!(
        fail_open(&key, Some(10_500), 10_000),
        Ok(()),
        "a confirmation stamped after now (clock skew) counts as fresh, not as an error"
    );
    let zero = without_guard(
        key.clone(),
        Some(UnixMillis(10_000)),
        UnixMillis(10_000),
        RevocationBound::from_millis(0).unwrap(),
        &read_route(),
        "down".into(),
    );
    assert!(
        zero.is_ok(),
        "a 0 bound trusts only a confirmation of this instant"
    );
    let err = fail_open(&key, Some(0), 60_000).unwrap_err();
    assert_eq!(err, "limiter_unavailable");
}

#[test]
fn a_stale_record_of_a_revoked_disabled_or_scoped_down_key_never_fails_open() {
    // What the isolate still holds: an unrestricted, enabled copy, confirmed 1.001 s ago.
    // Whatever happened to the key since (revoked, disabled, rotated out, restricted),
    // the guard outage refuses it.
    assert_eq!(
        fail_open(&allow_key(), Some(0), 1_001).unwrap_err(),
        "limiter_unavailable"
    );
}

#[test]
fn restricted_keys_fail_open_only_on_a_fresh_record() {
    let fields = KeyRecord {
        fields: [("employees".to_owned(), vec!["name".to_owned()])].into(),
        ..allow_key()
    };
    let resources = KeyRecord {
        resources: [("site".to_owned(), vec!["site_1".to_owned()])].into(),
        ..allow_key()
    };
    for restricted in [&fields, &resources] {
        for (confirmed, now, ok) in [
            (None, 0, false),
            (Some(0), 0, true),
            (Some(0), 1_000, true),
            (Some(0), 1_001, false),
            (Some(0), u64::MAX, false),
        ] {
            let got = fail_open(restricted, confirmed, now);
            assert_eq!(got.is_ok(), ok, "{confirmed:?} at {now}: {got:?}");
            if !ok {
                assert_eq!(got.unwrap_err(), "limiter_unavailable");
            }
        }
    }
    // Within the bound the restriction itself still applies.
    let elsewhere = Route {
        ids: vec![("site", Some("site_2".to_owned()))],
        ..read_route()
    };
    let err = without_guard(
        resources,
        Some(UnixMillis(0)),
        UnixMillis(0),
        RevocationBound::default(),
        &elsewhere,
        "down".into(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "resource_forbidden");
    let detail = without_guard(
        fields,
        Some(UnixMillis(0)),
        UnixMillis(5_000),
        RevocationBound::default(),
        &read_route(),
        "down".into(),
    )
    .unwrap_err()
    .log_detail();
    assert!(
        detail.contains("restricted key") && detail.contains("5000 ms ago"),
        "{detail}"
    );
}

#[test]
fn the_guards_borrowed_check_agrees_with_the_stages() {
    let scoped = |scopes: &[&str]| KeyRecord {
        scopes: scopes
            .iter()
            .map(|s| crate::domain::Scope::parse(s).unwrap())
            .collect(),
        resources: [("site".to_owned(), vec!["site_1".to_owned()])].into(),
        ..record()
    };
    let records = [
        scoped(&["read"]),
        scoped(&["employees:create"]),
        KeyRecord {
            enabled: false,
            ..scoped(&["write"])
        },
        KeyRecord {
            api_access: false,
            ..scoped(&["admin"])
        },
    ];
    let route = |action, site: &str| Route {
        resource: "employees",
        action,
        requires: &[],
        write: Default::default(),
        ids: vec![("site", Some(site.to_owned()))],
        parents: Vec::new(),
        envelope: None,
        known_types: None,
    };
    for record in &records {
        for now in [UnixMillis(0), UnixMillis(1_000)] {
            for action in [Action::Read, Action::Create, Action::Delete] {
                for site in ["site_1", "site_2"] {
                    let r = route(action, site);
                    let staged = check_status(record.clone(), now)
                        .and_then(|k| authorize(k, &r))
                        .map(drop);
                    let borrowed = permits(record, now, &r);
                    assert_eq!(
                        staged.map_err(|e| e.code()),
                        borrowed.map_err(|e| e.code()),
                        "{:?} {action:?} {site} at {now:?}",
                        record.scopes
                    );
                }
            }
        }
    }
}

#[test]
fn plans_without_api_access_refuse_every_key() {
    let blocked = KeyRecord {
        api_access: false,
        ..record()
    };
    assert_eq!(
        code(check_status(blocked, UnixMillis(0))),
        "api_plan_required"
    );
}

fn authorize_code(
    json: &str,
    resource: &str,
    action: Action,
    ids: Vec<(&str, Option<&str>)>,
) -> Result<Option<FieldScope>, (String, String)> {
    let record = KeyRecord::from_json(json).unwrap();
    let key = check_status(record, UnixMillis(0)).unwrap();
    let route = Route {
        resource,
        action,
        requires: &[],
        write: Default::default(),
        ids: ids
            .into_iter()
            .map(|(k, v)| (k, v.map(str::to_owned)))
            .collect(),
        parents: Vec::new(),
        envelope: Some("data"),
        known_types: None,
    };
    authorize(key, &route)
        .map(|a| a.fields().cloned())
        .map_err(|e| (e.code().to_owned(), e.public_message()))
}

const BASE: &str = r#""id":"key_a","org":"acme","name":"test","created_at":0"#;

#[test]
fn scopes_and_resources_are_enforced() {
    let read = format!(r#"{{{BASE},"scopes":["read"],"resources":{{"site":["site_abc123"]}}}}"#);
    assert!(
        authorize_code(
            &read,
            "stats",
            Action::Read,
            vec![("site", Some("site_abc123"))]
        )
        .is_ok()
    );
    assert_eq!(
        authorize_code(
            &read,
            "stats",
            Action::Read,
            vec![("site", Some("site_xyz789"))]
        )
        .unwrap_err(),
        (
            "resource_forbidden".into(),
            "This API key cannot access site_xyz789".into()
        )
    );
    assert_eq!(
        authorize_code(&read, "stats", Action::Read, vec![("site", None)])
            .unwrap_err()
            .0,
        "resource_forbidden"
    );
    assert!(
        authorize_code(&read, "stats", Action::Read, vec![("team", Some("any"))]).is_ok(),
        "unrestricted type"
    );
    assert_eq!(
        authorize_code(&read, "stats", Action::Create, vec![]).unwrap_err(),
        (
            "insufficient_scope".into(),
            "Insufficient permissions. This key has read-only access.".into()
        )
    );
    let granular = format!(r#"{{{BASE},"scopes":["employees:read","projects:write"]}}"#);
    assert_eq!(
        authorize_code(&granular, "employees", Action::Delete, vec![])
            .unwrap_err()
            .1,
        "Insufficient permissions. This key needs the employees:delete scope."
    );
    assert!(authorize_code(&granular, "projects", Action::Update, vec![]).is_ok());
}

#[test]
fn required_scopes_are_checked_before_resources_and_all_reported() {
    use crate::domain::Scope;
    let requires = [
        Scope::requirement("reports:read").unwrap(),
        Scope::requirement("time_entries:read").unwrap(),
    ];
    let route = Route {
        resource: "reports",
        action: Action::Read,
        requires: &requires,
        write: Default::default(),
        ids: vec![("site", Some("site_2".to_owned()))],
        parents: Vec::new(),
        envelope: None,
        known_types: None,
    };
    let json = format!(r#"{{{BASE},"scopes":["reports:read"],"resources":{{"site":["site_1"]}}}}"#);
    let key = check_status(KeyRecord::from_json(&json).unwrap(), UnixMillis(0)).unwrap();
    match authorize(key, &route).unwrap_err() {
        GateError::InsufficientScope {
            needed,
            missing,
            read_only: false,
        } => {
            assert_eq!(needed, requires);
            assert_eq!(missing, requires[1..]);
        }
        other => panic!("{other:?}"),
    }
    let both = format!(r#"{{{BASE},"scopes":["reports:read","time_entries:read"]}}"#);
    let key = check_status(KeyRecord::from_json(&both).unwrap(), UnixMillis(0)).unwrap();
    assert!(authorize(key, &route).is_ok());
}

#[test]
fn field_restrictions_follow_the_route_resource() {
    let json =
        format!(r#"{{{BASE},"scopes":["read"],"fields":{{"employees":["name","start_date"]}}}}"#);
    let fields = authorize_code(&json, "employees", Action::Read, vec![])
        .unwrap()
        .unwrap();
    assert_eq!(
        fields,
        FieldScope {
            allowed: vec!["name".into(), "start_date".into()],
            envelope: Some("data".into())
        }
    );
    assert_eq!(
        authorize_code(&json, "projects", Action::Read, vec![]).unwrap(),
        None
    );
}

#[test]
fn a_bad_key_fails_before_any_lookup() {
    let err = parse_credential(Some("Bearer kg_live_short"), None).unwrap_err();
    assert_eq!(err.code(), "malformed_api_key");
    let key = ApiKey::generate(&Default::default()).unwrap();
    let auth = format!("Bearer {}", key.expose_secret());
    let (cred, parsed) = parse_credential(Some(&auth), None).unwrap();
    assert!(cred.in_authorization);
    assert_eq!(parsed, key);
}

/// Zenovay's team access: a key restricted to teams reaches the websites registered under
/// them, and nothing else, when the route's website id belongs to the `team` parent type.
#[test]
fn a_key_restricted_on_the_parent_reaches_only_its_registered_children() {
    let team_a = format!(
        r#"{{{BASE},"scopes":["read"],"resources":{{"team":["team_a"]}},
            "reach":{{"website":{{"parent":"team","ids":["w_a1","w_a2"]}}}}}}"#
    );
    let website = |id: Option<&'static str>| {
        move |json: &str| {
            let record = KeyRecord::from_json(json).unwrap();
            let route = Route {
                resource: "analytics",
                action: Action::Read,
                requires: &[],
                write: Default::default(),
                ids: vec![("website", id.map(str::to_owned))],
                parents: vec![("website", "team")],
                envelope: None,
                known_types: None,
            };
            let staged = check_status(record.clone(), UnixMillis(0))
                .and_then(|k| authorize(k, &route))
                .map(drop)
                .map_err(|e| (e.code().to_owned(), e.public_message()));
            // The guard's borrowed check says the same.
            let borrowed = permits(&record, UnixMillis(0), &route)
                .map_err(|e| (e.code().to_owned(), e.public_message()));
            assert_eq!(staged, borrowed);
            staged
        }
    };
    assert!(website(Some("w_a1"))(&team_a).is_ok());
    assert!(website(Some("w_a2"))(&team_a).is_ok());
    // Another team's website, an unregistered one, a case variant, none at all: the refusal
    // every resource restriction gives.
    for other in ["w_b1", "w_unknown", "W_A1", "w_a1 "] {
        assert_eq!(
            website(Some(other))(&team_a).unwrap_err(),
            (
                "resource_forbidden".into(),
                format!("This API key cannot access {other}")
            ),
            "{other}"
        );
    }
    assert_eq!(website(None)(&team_a).unwrap_err().0, "resource_forbidden");
    // Restricted on team with no website registered under it: no website passes.
    let lonely = format!(r#"{{{BASE},"scopes":["read"],"resources":{{"team":["team_c"]}}}}"#);
    assert!(website(Some("w_a1"))(&lonely).is_err());
    // A reach computed for another parent type reaches nothing.
    let stale = format!(
        r#"{{{BASE},"scopes":["read"],"resources":{{"team":["team_a"]}},
            "reach":{{"website":{{"parent":"org","ids":["w_a1"]}}}}}}"#
    );
    assert!(website(Some("w_a1"))(&stale).is_err());
    // Restricted on website itself: the direct list decides, whatever the teams.
    let direct = format!(
        r#"{{{BASE},"scopes":["read"],"resources":{{"team":["team_a"],"website":["w_b1"]}},
            "reach":{{"website":{{"parent":"team","ids":["w_a1"]}}}}}}"#
    );
    assert!(website(Some("w_b1"))(&direct).is_ok());
    assert!(website(Some("w_a1"))(&direct).is_err());
    // Not restricted on team: unaffected, as before.
    let open = format!(r#"{{{BASE},"scopes":["read"]}}"#);
    let sites = format!(r#"{{{BASE},"scopes":["read"],"resources":{{"site":["s_1"]}}}}"#);
    assert!(website(Some("w_b1"))(&open).is_ok());
    assert!(website(Some("w_b1"))(&sites).is_ok());
    // A route whose website has no declared parent type ignores the reach.
    let undeclared = authorize_code(
        &team_a,
        "analytics",
        Action::Read,
        vec![("website", Some("w_b1"))],
    );
    assert!(undeclared.is_ok());
}

/// A key restricted on a type the policy no longer knows (its `parents` renamed or dropped) is
/// refused everywhere: its restriction could never be checked, so it must not open every id.
#[test]
fn a_restriction_the_policy_cannot_check_refuses_everything() {
    let record = KeyRecord::from_json(&format!(
        r#"{{{BASE},"scopes":["read"],"resources":{{"team":["team_a"]}}}}"#
    ))
    .unwrap();
    let known = ["website".to_owned()];
    let route = |known_types| Route {
        resource: "analytics",
        action: Action::Read,
        requires: &[],
        write: Default::default(),
        ids: vec![("website", Some("w_b1".to_owned()))],
        parents: Vec::new(),
        envelope: None,
        known_types,
    };
    let refused = permits(&record, UnixMillis(0), &route(Some(&known[..]))).unwrap_err();
    assert_eq!(refused.code(), "resource_forbidden");
    let staged = check_status(record.clone(), UnixMillis(0))
        .and_then(|k| authorize(k, &route(Some(&known[..]))))
        .map(drop)
        .unwrap_err();
    assert_eq!(staged.code(), "resource_forbidden");
    // Once the policy reads `team` again (or has no rules at all), the key works as before.
    let with_team = ["team".to_owned(), "website".to_owned()];
    assert!(permits(&record, UnixMillis(0), &route(Some(&with_team[..]))).is_ok());
    assert!(permits(&record, UnixMillis(0), &route(None)).is_ok());
}
