//! Tests of `body.rs`.

use super::*;
use crate::domain::limits::bounds::LimitBounds;
use crate::domain::limits::plan::{Plan, Plans};

const NOW: UnixMillis = UnixMillis(1_768_435_200_000);

fn create(body: &str) -> Result<NewKey, String> {
    parse_body::<CreateKey>(body.as_bytes())
        .and_then(|c| c.validate(NOW, &Policy::allow_all(), Default::default()))
        .map_err(|e| e.public_message())
}

#[test]
fn a_full_create_body_validates() {
    let k = create(
        r#"{"name":" Reporting ","scopes":["read","employees:read","read"],"expires_in_days":30,
               "resources":{"site":["site_abc123"]},"fields":{"employees":["name","address.city"]},
               "rate_limits":[{"name":"minute","limit":300,"window_seconds":60}],
               "meta":{ "team": "data" },"enabled":false,"revocation_bound_ms":0}"#,
    )
    .unwrap();
    assert_eq!(k.revocation_bound_ms, Some(0));
    assert_eq!(k.name, "Reporting");
    assert_eq!(k.scopes.len(), 2);
    assert_eq!(k.expires_at, Some(NOW.plus_millis(30 * UnixMillis::DAY)));
    assert_eq!(k.meta.unwrap().get(), r#"{"team":"data"}"#);
    assert!(!k.enabled && k.rate_limiting);
}

#[test]
fn a_new_key_record_has_what_was_asked_assigned_and_the_org_terms() {
    let new =
        create(r#"{"name":"Reporting","scopes":["read"],"meta":{"a":1},"enabled":false}"#).unwrap();
    let assigned = Assigned {
        id: KeyId::parse("key_abc123").unwrap(),
        org: OrgId::parse("acme").unwrap(),
        start: "kg_live_ab12…".into(),
        created_by: "admin".into(),
        creator_owner: None,
        now: NOW,
    };
    let terms = OrgTerms {
        plan: Plan::Free,
        api_access: false,
    };
    let plans = Plans::default();
    let r = new.into_record(assigned.clone(), terms, &plans);
    assert!(r.owner.is_none() && r.reach.is_empty());
    assert_eq!((r.id.as_str(), r.org.as_str()), ("key_abc123", "acme"));
    assert_eq!(
        (r.name.as_str(), r.start.as_str()),
        ("Reporting", "kg_live_ab12…")
    );
    assert_eq!((r.created_at, r.created_by.as_str()), (NOW, "admin"));
    assert_eq!(r.meta.as_ref().map(|m| m.get()), Some(r#"{"a":1}"#));
    assert!(!r.enabled && r.revoked_at.is_none() && r.updated_at.is_none());
    assert!(!r.api_access, "the organization's access, not the default");
    assert_eq!(r.plan_limits, plans.get(Plan::Free).rate_limits);
    assert!(r.rate_limits.is_empty());
    // The owner asked for; else the creating admin key's owner.
    let through = |body: &str, creator: Option<&str>| {
        let assigned = Assigned {
            creator_owner: creator.and_then(KeyOwner::parse),
            ..assigned.clone()
        };
        let record = create(body)
            .unwrap()
            .into_record(assigned, terms, &Plans::default());
        record.owner.map(|o| o.as_str().to_owned())
    };
    let plain = r#"{"name":"Reporting","scopes":["read"]}"#;
    let owned = r#"{"name":"Reporting","scopes":["read"],"owner":"ada@example.com"}"#;
    assert_eq!(through(plain, None), None);
    assert_eq!(through(plain, Some("bob")), Some("bob".to_owned()));
    assert_eq!(through(owned, None), Some("ada@example.com".to_owned()));
}

#[test]
fn owners_are_checked_at_creation_and_fixed_after() {
    let long = format!(r#""{}""#, "x".repeat(255));
    for bad in [
        "\"\"",
        "\"ada lovelace\"",
        "\"josé\"",
        "\"a\\tb\"",
        "12",
        &long,
    ] {
        let body = format!(r#"{{"name":"Owned","scopes":["read"],"owner":{bad}}}"#);
        let err = create(&body).unwrap_err();
        assert!(err.contains("owner"), "{bad}: {err}");
    }
    let err = parse_body::<UpdateKey>(br#"{"owner":"bob@example.com"}"#)
        .and_then(|u| u.validate(&Policy::allow_all(), Default::default()))
        .unwrap_err();
    assert!(
        err.public_message().starts_with("owner cannot be changed"),
        "{err:?}"
    );
}

#[test]
fn resources_must_fit_the_header_that_carries_them() {
    let ids = |n: usize, len: usize| {
        (0..n)
            .map(|i| format!("\"{i:0len$}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let body = |ids: String| {
        format!(r#"{{"name":"Wide","scopes":["read"],"resources":{{"team":[{ids}]}}}}"#)
    };
    // 100 ids of 100 characters: valid restrictions, but over 8 KiB once encoded.
    let err = create(&body(ids(100, 100))).unwrap_err();
    assert!(
        err.starts_with("resources must encode to at most 8192 bytes"),
        "{err}"
    );
    assert!(create(&body(ids(100, 40))).is_ok());
    let patch = format!(r#"{{"resources":{{"team":[{}]}}}}"#, ids(100, 100));
    let refused = parse_body::<UpdateKey>(patch.as_bytes())
        .and_then(|u| u.validate(&Policy::allow_all(), Default::default()));
    assert!(refused.is_err());
}

#[test]
fn every_invalid_body_names_its_field() {
    let cases = [
        (r#"{"scopes":["read"]}"#, "API key name is required"),
        (
            r#"{"name":"   ","scopes":["read"]}"#,
            "API key name is required",
        ),
        (
            r#"{"name":"ab","scopes":["read"]}"#,
            "API key name must be 3-100 characters",
        ),
        (
            &format!(r#"{{"name":"{}","scopes":["read"]}}"#, "é".repeat(101)),
            "API key name must be 3-100",
        ),
        (r#"{"name":"abc"}"#, "At least one scope is required"),
        (
            r#"{"name":"abc","scopes":[]}"#,
            "At least one scope is required",
        ),
        (
            r#"{"name":"abc","scopes":["superuser"]}"#,
            "Invalid scopes[0]: Invalid scope: superuser",
        ),
        (
            r#"{"name":"abc","scopes":"read"}"#,
            "Invalid scopes: invalid type",
        ),
        (
            r#"{"name":123,"scopes":["read"]}"#,
            "Invalid name: invalid type",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_in_days":-1}"#,
            "Invalid expires_in_days",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_in_days":0}"#,
            "expires_in_days must be",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"revocation_bound_ms":60001}"#,
            "revocation_bound_ms must be from 0 to 60000",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_in_days":"30"}"#,
            "Invalid expires_in_days",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_at":"tomorrow"}"#,
            "expires_at must be an RFC 3339",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_at":"2020-01-01T00:00:00Z"}"#,
            "expires_at must be in the future",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_at":"2030-01-01T00:00:00Z","expires_in_days":3}"#,
            "Give either expires_in_days or expires_at, not both",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"scope":"read"}"#,
            "Invalid request body: unknown field `scope`",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"meta":[1]}"#,
            "meta must be a JSON object",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"resources":{"site":[]}}"#,
            "resources.site must list",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"fields":{"employees":["a..b"]}}"#,
            "fields.employees: invalid entry",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"rate_limits":[{"name":"m","limit":0,"window_seconds":60}]}"#,
            "rate_limits[0].limit",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"rate_limits":[{"name":"m","limit":1,"window_seconds":86401}]}"#,
            "rate_limits[0].window_seconds",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"rate_limits":[{"name":"m","limit":1,"window_seconds":1,"x":1}]}"#,
            "Invalid rate_limits[0]: unknown field `x`",
        ),
        (r#"{"name":"abc","#, "Request body is not valid JSON"),
        ("not json", "Request body is not valid JSON"),
        ("", "Request body must be a JSON object"),
        ("[]", "Request body must be a JSON object"),
        ("null", "Request body must be a JSON object"),
        (
            r#"{"name":"abc","scopes":["read"]} x"#,
            "Request body has trailing characters",
        ),
    ];
    for (body, want) in cases {
        let got = create(body).unwrap_err();
        assert!(
            got.starts_with(want),
            "{body}\n  got:  {got}\n  want: {want}…"
        );
    }
    let huge = format!(
        r#"{{"name":"abc","scopes":["read"],"meta":{{"x":"{}"}}}}"#,
        "a".repeat(70_000)
    );
    assert_eq!(
        create(&huge).unwrap_err(),
        "Request body must be at most 64 KiB"
    );
}

#[test]
fn scopes_must_name_resources_the_policy_knows() {
    let policy =
        Policy::parse(r#"{"rules":[{"method":"GET","path":"/e","resource":"employees"}]}"#)
            .unwrap();
    let check = |scopes: &str| {
        parse_body::<CreateKey>(format!(r#"{{"name":"abc","scopes":{scopes}}}"#).as_bytes())
            .and_then(|c| c.validate(NOW, &policy, Default::default()))
            .map(|_| ())
            .map_err(|e| e.public_message())
    };
    assert!(check(r#"["employees:read","read","*:write"]"#).is_ok());
    assert_eq!(
        check(r#"["payroll:read"]"#).unwrap_err(),
        "Invalid scope: payroll:read (the API policy knows the resources employees)"
    );
}

#[test]
fn fields_must_be_declared_when_the_policy_declares_any_for_the_resource() {
    let policy = Policy::parse(
        r#"{"rules":[
            {"method":"GET","path":"/stats","resource":"stats","fields":["visitors","pages.path"]},
            {"method":"GET","path":"/stats/top","resource":"stats","fields":["referrers"]},
            {"method":"GET","path":"/e","resource":"employees"}
        ]}"#,
    )
    .unwrap();
    let create = |fields: &str| {
        parse_body::<CreateKey>(
            format!(r#"{{"name":"abc","scopes":["read"],"fields":{fields}}}"#).as_bytes(),
        )
        .and_then(|c| c.validate(NOW, &policy, Default::default()))
        .map(|k| k.fields)
        .map_err(|e| e.public_message())
    };
    let update = |fields: &str| {
        parse_body::<UpdateKey>(format!(r#"{{"fields":{fields}}}"#).as_bytes())
            .and_then(|u| u.validate(&policy, Default::default()))
            .map(|p| p.fields)
            .map_err(|e| e.public_message())
    };
    // Declared by either rule of the resource.
    assert!(create(r#"{"stats":["visitors","referrers"]}"#).is_ok());
    assert!(update(r#"{"stats":["pages.path"]}"#).is_ok());
    // Resources whose rules declare no fields accept any path.
    assert!(create(r#"{"employees":["name","address.city"]}"#).is_ok());
    // A resource no rule names is a typo: its restriction would never apply.
    let unknown = "fields: unknown resource \"employee\" (the API policy knows the resources employees, stats)";
    assert_eq!(create(r#"{"employee":["name"]}"#).unwrap_err(), unknown);
    assert_eq!(update(r#"{"employee":["name"]}"#).unwrap_err(), unknown);
    // Without rules, any resource is accepted.
    let open = parse_body::<CreateKey>(
        br#"{"name":"abc","scopes":["read"],"fields":{"payroll":["salary"]}}"#,
    )
    .and_then(|c| c.validate(NOW, &Policy::allow_all(), Default::default()));
    assert!(open.is_ok());
    let typo = "fields.stats: unknown field \"vistors\" for resource stats (the API policy allows visitors, pages.path, referrers)";
    assert_eq!(create(r#"{"stats":["vistors"]}"#).unwrap_err(), typo);
    assert_eq!(
        update(r#"{"stats":["visitors","vistors"]}"#).unwrap_err(),
        typo
    );
    // A part of a declared path is another path: not declared.
    assert!(create(r#"{"stats":["pages"]}"#).is_err());
    // Syntax is checked first, whatever the policy.
    assert_eq!(
        create(r#"{"stats":["a..b"]}"#).unwrap_err(),
        "fields.stats: invalid entry \"a..b\""
    );
}

#[test]
fn expiry_cannot_be_patched() {
    for body in [
        r#"{"expires_at":"2030-01-01T00:00:00Z"}"#,
        r#"{"expires_in_days":7}"#,
        r#"{"expires_at":null}"#,
    ] {
        let err = parse_body::<UpdateKey>(body.as_bytes())
            .and_then(|u| u.validate(&Policy::allow_all(), Default::default()))
            .unwrap_err();
        assert!(
            err.public_message()
                .starts_with("expires_at cannot be changed"),
            "{body}"
        );
    }
}

#[test]
fn patches_report_what_changed() {
    let mut record = KeyRecord::from_json(
        r#"{"id":"key_a","org":"acme","name":"Old name","scopes":["read"],"created_at":1}"#,
    )
    .unwrap();
    let patch =
        parse_body::<UpdateKey>(br#"{"name":"New name","scopes":["read"],"enabled":false}"#)
            .and_then(|u| u.validate(&Policy::allow_all(), Default::default()))
            .unwrap();
    assert_eq!(patch.apply(&mut record), vec!["name", "enabled"]);
    assert_eq!(record.name, "New name");
    assert!(!record.enabled);
}

#[test]
fn grace_period_is_bounded() {
    let rotate = |b: &str| parse_body::<RotateKey>(b.as_bytes()).and_then(|r| r.grace_hours());
    assert_eq!(rotate("{}").unwrap(), 24);
    assert_eq!(rotate(r#"{"grace_period_hours":0}"#).unwrap(), 0);
    assert!(rotate(r#"{"grace_period_hours":721}"#).is_err());
    assert!(rotate(r#"{"grace_period_hours":-1}"#).is_err());
}

#[test]
fn views_show_status_and_rfc3339_times() {
    let record = KeyRecord::from_json(r#"{"id":"key_a","org":"acme","name":"abc","start":"kg_live_3hR9…","scopes":["read"],"created_at":1768435200000,"expires_at":1768435200001}"#).unwrap();
    let view = serde_json::to_value(KeyView::of(&record, NOW)).unwrap();
    assert_eq!(view["status"], "active");
    assert_eq!(view["created_at"], "2026-01-15T00:00:00.000Z");
    assert_eq!(view["expires_at"], "2026-01-15T00:00:00.001Z");
    assert_eq!(view["revoked_at"], serde_json::Value::Null);
    let later = serde_json::to_value(KeyView::of(&record, NOW.plus_millis(1))).unwrap();
    assert_eq!(later["status"], "expired");
}

#[test]
fn the_deployments_bounds_apply_to_creates_and_patches() {
    let z8 = LimitBounds::new(10_000, 1, 3_600).unwrap();
    let window = |limit: u32, seconds: u32| {
        format!(r#"[{{"name":"minute","limit":{limit},"window_seconds":{seconds}}}]"#)
    };
    let create = |windows: &str| -> Result<(), String> {
        let body = format!(r#"{{"name":"abc","scopes":["read"],"rate_limits":{windows}}}"#);
        parse_body::<CreateKey>(body.as_bytes())
            .and_then(|c| c.validate(NOW, &Policy::allow_all(), z8))
            .map(drop)
            .map_err(|e| e.public_message())
    };
    let patch = |windows: &str| -> Result<(), String> {
        let body = format!(r#"{{"rate_limits":{windows}}}"#);
        parse_body::<UpdateKey>(body.as_bytes())
            .and_then(|u| u.validate(&Policy::allow_all(), z8))
            .map(drop)
            .map_err(|e| e.public_message())
    };
    type Check<'a> = &'a dyn Fn(&str) -> Result<(), String>;
    let checks: [Check; 2] = [&create, &patch];
    for check in checks {
        assert_eq!(check(&window(10_000, 3_600)), Ok(()));
        assert_eq!(
            check(&window(10_001, 60)),
            Err("rate_limits[0].limit must be at most 10000".into())
        );
        assert_eq!(
            check(&window(100, 3_601)),
            Err("rate_limits[0].window_seconds must be from 1 to 3600".into())
        );
    }
}

#[test]
fn resources_must_name_a_type_the_policy_reads() {
    let policy = Policy::parse(
        r#"{"parents":{"website":"team"},"rules":[
            {"method":"GET","path":"/a/:websiteId","resource":"analytics","ids":{"website":"path:websiteId"}},
            {"method":"GET","path":"/s","resource":"stats","ids":{"site":"query:site"}}
        ]}"#,
    )
    .unwrap();
    let create = |resources: &str| {
        parse_body::<CreateKey>(
            format!(r#"{{"name":"abc","scopes":["read"],"resources":{resources}}}"#).as_bytes(),
        )
        .and_then(|c| c.validate(NOW, &policy, Default::default()))
        .map(|k| k.resources)
        .map_err(|e| e.public_message())
    };
    let update = |resources: &str| {
        parse_body::<UpdateKey>(format!(r#"{{"resources":{resources}}}"#).as_bytes())
            .and_then(|u| u.validate(&policy, Default::default()))
            .map(|p| p.resources)
            .map_err(|e| e.public_message())
    };
    // A type a rule reads, and a declared parent type.
    assert!(create(r#"{"site":["s1"],"website":["w1"]}"#).is_ok());
    assert!(create(r#"{"team":["team_a"]}"#).is_ok());
    // A typo would leave the key unrestricted: refused, on create and on PATCH.
    let unknown = "resources: unknown resource type \"teams\" (the API policy knows the types site, team, website)";
    assert_eq!(create(r#"{"teams":["team_a"]}"#).unwrap_err(), unknown);
    assert_eq!(update(r#"{"teams":["team_a"]}"#).unwrap_err(), unknown);
    // Without rules, any type is accepted.
    let open =
        parse_body::<CreateKey>(br#"{"name":"abc","scopes":["read"],"resources":{"teams":["t"]}}"#)
            .and_then(|c| c.validate(NOW, &Policy::allow_all(), Default::default()));
    assert!(open.is_ok());
}
