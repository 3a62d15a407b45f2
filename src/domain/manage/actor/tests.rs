//! Tests of `actor.rs`.

use super::*;
use crate::domain::limits::plan::{Plan, PlanTerms, Plans};
use crate::domain::manage::body::{CreateKey, UpdateKey, parse_body};
use crate::domain::{Policy, UnixMillis};

/// What `plan` gives by default.
fn terms(plan: Plan) -> PlanTerms {
    Plans::default().get(plan).clone()
}

fn org_admin() -> Actor {
    Actor::OrgAdmin {
        key: KeyId::parse("key_admin1").unwrap(),
        org: OrgId::parse("acme").unwrap(),
        owner: None,
    }
}

#[test]
fn an_org_admin_makes_keys_for_its_own_owner_only() {
    let ada = Actor::OrgAdmin {
        key: KeyId::parse("key_admin1").unwrap(),
        org: OrgId::parse("acme").unwrap(),
        owner: KeyOwner::parse("ada@example.com"),
    };
    let named = |owner: &str| format!(r#"{{"name":"Mine","scopes":["read"],"owner":"{owner}"}}"#);
    assert_eq!(create(&ada, Plan::Pro, &named("ada@example.com")), Ok(()));
    assert_eq!(
        create(&ada, Plan::Pro, r#"{"name":"Mine","scopes":["read"]}"#),
        Ok(())
    );
    let other = create(&ada, Plan::Pro, &named("bob@example.com")).unwrap_err();
    assert!(
        other.starts_with("Only the admin token can give a key another owner"),
        "{other}"
    );
    // An admin key without an owner cannot name one either.
    assert!(create(&org_admin(), Plan::Pro, &named("ada@example.com")).is_err());
    assert_eq!(
        create(&Actor::Operator, Plan::Pro, &named("bob@example.com")),
        Ok(())
    );
    assert_eq!(ada.owner().map(KeyOwner::as_str), Some("ada@example.com"));
    assert_eq!(Actor::Operator.owner(), None);
}

fn create(actor: &Actor, plan: Plan, body: &str) -> Result<(), String> {
    let key = parse_body::<CreateKey>(body.as_bytes())
        .and_then(|c| c.validate(UnixMillis(0), &Policy::allow_all(), Default::default()))
        .map_err(|e| format!("invalid: {}", e.public_message()))?;
    actor
        .may_create(&key, &terms(plan), RevocationBound::default())
        .map_err(|e| {
            assert_eq!((e.status(), e.code()), (403, "forbidden"));
            e.public_message()
        })
}

/// A key of the organization as an organization admin would have set it up.
fn plain_key() -> KeyRecord {
    KeyRecord::from_json(r#"{"id":"key_t1","org":"acme","name":"Target","created_at":0}"#).unwrap()
}

fn update(actor: &Actor, plan: Plan, body: &str) -> Result<(), String> {
    update_key(actor, plan, &plain_key(), body)
}

fn update_key(actor: &Actor, plan: Plan, key: &KeyRecord, body: &str) -> Result<(), String> {
    let patch = parse_body::<UpdateKey>(body.as_bytes())
        .and_then(|u| u.validate(&Policy::allow_all(), Default::default()))
        .map_err(|e| format!("invalid: {}", e.public_message()))?;
    actor
        .may_update(&patch, key, &terms(plan), RevocationBound::default())
        .map_err(|e| {
            assert_eq!((e.status(), e.code()), (403, "forbidden"));
            e.public_message()
        })
}

fn windows(list: &[(u32, u32)]) -> Vec<RateLimit> {
    list.iter()
        .enumerate()
        .map(|(i, &(limit, window_seconds))| {
            RateLimit::new(format!("w{i}"), limit, window_seconds).unwrap()
        })
        .collect()
}

#[test]
fn the_operator_may_set_anything_valid() {
    let everything = r#"{"name":"abc","scopes":["read"],"meta":{"role":"superuser"},
            "rate_limiting":false,"on_limiter_error":"allow",
            "rate_limits":[{"name":"s","limit":4294967295,"window_seconds":1}]}"#;
    assert_eq!(create(&Actor::Operator, Plan::Free, everything), Ok(()));
    assert_eq!(
        update(
            &Actor::Operator,
            Plan::Free,
            r#"{"meta":{"a":1},"rate_limiting":false,"on_limiter_error":"allow"}"#
        ),
        Ok(())
    );
}

#[test]
fn an_org_admin_may_not_loosen_or_vouch() {
    let admin = org_admin();
    let cases = [
        (
            r#""meta":{"role":"admin"}"#,
            "Only the admin token can set meta",
        ),
        (r#""meta":{}"#, "Only the admin token can set meta"),
        (
            r#""rate_limiting":false"#,
            "Only the admin token can set rate_limiting to false",
        ),
        (
            r#""on_limiter_error":"allow""#,
            "Only the admin token can set on_limiter_error to allow",
        ),
        (
            r#""revocation_bound_ms":1001"#,
            "Only the admin token can set revocation_bound_ms above 1000",
        ),
        (
            r#""rate_limits":[{"name":"s","limit":4294967295,"window_seconds":1}]"#,
            "rate_limits go beyond the free plan's limit of 20 requests per 1 s: add a window that admits at most 20 in 1 s, such as {\"name\":\"burst\",\"limit\":20,\"window_seconds\":1} (only the admin token",
        ),
        (
            r#""rate_limits":[{"name":"m","limit":20,"window_seconds":60}]"#,
            "rate_limits go beyond the free plan's limit of 10000 requests per 86400 s",
        ),
    ];
    for (field, want) in cases {
        let created = create(
            &admin,
            Plan::Free,
            &format!(r#"{{"name":"abc","scopes":["read"],{field}}}"#),
        );
        let patched = update(&admin, Plan::Free, &format!("{{{field}}}"));
        for got in [created, patched] {
            let got = got.expect_err(field);
            assert!(
                got.starts_with(want),
                "{field}\n  got:  {got}\n  want: {want}…"
            );
        }
    }
}

#[test]
fn an_org_admin_may_tighten_and_use_the_plan() {
    let admin = org_admin();
    for field in [
        r#""rate_limiting":true"#,
        r#""on_limiter_error":"deny""#,
        r#""rate_limits":[]"#,
        r#""rate_limits":[{"name":"burst","limit":20,"window_seconds":1},{"name":"minute","limit":60,"window_seconds":60},{"name":"day","limit":10000,"window_seconds":86400}]"#,
        r#""rate_limits":[{"name":"slow","limit":1,"window_seconds":10}]"#,
        r#""enabled":false"#,
        r#""revocation_bound_ms":0"#,
        r#""revocation_bound_ms":1000"#,
    ] {
        assert_eq!(
            create(
                &admin,
                Plan::Free,
                &format!(r#"{{"name":"abc","scopes":["read"],{field}}}"#)
            ),
            Ok(()),
            "{field}"
        );
        assert_eq!(update(&admin, Plan::Free, &format!("{{{field}}}")), Ok(()));
    }
    assert_eq!(
        create(&admin, Plan::Free, r#"{"name":"abc","scopes":["read"]}"#),
        Ok(()),
        "the defaults are within every plan"
    );
    let pro = r#"{"rate_limits":[{"name":"burst","limit":50,"window_seconds":1},{"name":"minute","limit":300,"window_seconds":60},{"name":"day","limit":100000,"window_seconds":86400}]}"#;
    assert_eq!(update(&admin, Plan::Pro, pro), Ok(()));
    assert!(
        update(&admin, Plan::Free, pro).is_err(),
        "Pro's windows exceed Free"
    );
}

#[test]
fn every_plan_window_needs_a_key_window_that_keeps_to_it() {
    // Free: 20 per 1 s ("burst"), 60 per 60 s ("minute"), 10 000 per 86 400 s ("day").
    let free = terms(Plan::Free).rate_limits;
    let (burst, minute, day) = (&free[0], &free[1], &free[2]);
    type Row<'a> = (&'a [(u32, u32)], Option<&'a RateLimit>);
    let table: &[Row<'_>] = &[
        (&[], None),
        (&[(20, 1), (60, 60), (10_000, 86_400)], None),
        (&[(1, 10)], None),                       // 1, 6 and 8 640
        (&[(1, 9)], None),                        // 9 600 a day
        (&[(1, 8)], Some(day)),                   // 10 800 a day
        (&[(20, 60)], Some(day)),                 // 28 800 a day
        (&[(30, 60)], Some(burst)),               // all 30 in one second
        (&[(20, 60), (10_000, 86_400)], None),    // each plan window has its keeper
        (&[(10_001, 86_400), (1, 1)], Some(day)), // 1 per second is 86 400 a day
        (&[(1_000, 86_400)], Some(burst)),        // all 1 000 in one second
        (&[(21, 2), (10_000, 86_400)], Some(burst)),
        (&[(20, 2), (10_000, 86_400)], Some(minute)), // 600 a minute
        (&[(4_294_967_295, 1)], Some(burst)),
    ];
    for (list, want) in table {
        assert_eq!(
            within_plan(&windows(list), &terms(Plan::Free))
                .err()
                .as_ref(),
            *want,
            "{list:?}"
        );
    }
    assert_eq!(
        most_in(&windows(&[(u32::MAX, 1)])[0], 86_400),
        86_400 * u64::from(u32::MAX),
        "no overflow"
    );
}

#[test]
fn an_org_admin_may_not_rotate_or_widen_a_key_the_operator_set_beyond_it() {
    let admin = org_admin();
    let operator_keys = [
        r#""meta":{"role":"superuser"}"#,
        r#""rate_limiting":false"#,
        r#""on_limiter_error":"allow""#,
        r#""rate_limits":[{"name":"s","limit":5000,"window_seconds":1}]"#,
    ];
    for setting in operator_keys {
        let key = KeyRecord::from_json(&format!(
            r#"{{"id":"key_t1","org":"acme","name":"Target","created_at":0,{setting}}}"#
        ))
        .unwrap();
        let refused = admin.may_rotate(&key, &terms(Plan::Free)).unwrap_err();
        assert!(
            refused
                .public_message()
                .starts_with("Only the admin token can rotate"),
            "{setting}"
        );
        for body in [
            r#"{"scopes":["read","write"]}"#,
            r#"{"resources":{"site":["s1"]}}"#,
            r#"{"fields":{"employees":["name"]}}"#,
        ] {
            assert!(
                update_key(&admin, Plan::Free, &key, body).is_err(),
                "{setting} {body}"
            );
        }
        // Taking access away, or renaming, stays possible.
        for body in [r#"{"enabled":false}"#, r#"{"name":"Renamed"}"#] {
            assert_eq!(update_key(&admin, Plan::Free, &key, body), Ok(()), "{body}");
        }
        assert_eq!(
            Actor::Operator
                .may_rotate(&key, &terms(Plan::Free))
                .map_err(|e| e.code()),
            Ok(())
        );
    }
    assert_eq!(
        admin
            .may_rotate(&plain_key(), &terms(Plan::Free))
            .map_err(|e| e.code()),
        Ok(())
    );
}

#[test]
fn an_org_admin_may_only_shorten_a_revocation_bound() {
    let admin = org_admin();
    let strict = RevocationBound::from_millis(0).unwrap();
    let key = |body: &str| {
        parse_body::<CreateKey>(body.as_bytes())
            .and_then(|c| c.validate(UnixMillis(0), &Policy::allow_all(), Default::default()))
            .unwrap()
    };
    let own = key(r#"{"name":"Own","scopes":["read"],"revocation_bound_ms":1000}"#);
    // Under a strict deployment, an org admin may not give a key a longer bound.
    assert!(admin.may_create(&own, &terms(Plan::Free), strict).is_err());
    assert!(
        Actor::Operator
            .may_create(&own, &terms(Plan::Free), strict)
            .is_ok()
    );
    // A key the operator set to 0 stays at 0 for the org admin, whatever the deployment.
    let zero = KeyRecord::from_json(
        r#"{"id":"key_t1","org":"acme","name":"Target","created_at":0,"revocation_bound_ms":0}"#,
    )
    .unwrap();
    let raise = parse_body::<UpdateKey>(br#"{"revocation_bound_ms":500}"#)
        .and_then(|u| u.validate(&Policy::allow_all(), Default::default()))
        .unwrap();
    let refused = admin
        .may_update(
            &raise,
            &zero,
            &terms(Plan::Free),
            RevocationBound::default(),
        )
        .unwrap_err();
    assert!(
        refused.public_message().contains("above 0"),
        "{}",
        refused.public_message()
    );
    assert!(
        admin
            .may_update(
                &raise,
                &plain_key(),
                &terms(Plan::Free),
                RevocationBound::default()
            )
            .is_ok()
    );
}

#[test]
fn org_admins_stay_in_their_organization() {
    let acme = OrgId::parse("acme").unwrap();
    let other = OrgId::parse("other").unwrap();
    let key = KeyId::parse("key_a").unwrap();
    let admin = org_admin();
    assert!(admin.may_call(&Endpoint::ListKeys(acme.clone())).is_ok());
    assert_eq!(
        admin
            .may_call(&Endpoint::GetKey(other.clone(), key))
            .unwrap_err()
            .public_message(),
        "This API key cannot manage organization other"
    );
    assert_eq!(
        admin
            .may_call(&Endpoint::PutOrg(acme.clone()))
            .unwrap_err()
            .public_message(),
        "Only the admin token can list, create or change organizations"
    );
    assert_eq!(
        admin.may_call(&Endpoint::ListOrgs).unwrap_err().code(),
        "forbidden"
    );
    assert!(Actor::Operator.may_call(&Endpoint::ListOrgs).is_ok());
    assert!(
        Actor::Operator
            .may_call(&Endpoint::PutOrg(other.clone()))
            .is_ok()
    );
    // The policy is no organization's: any organization's admin may read it.
    assert!(admin.may_call(&Endpoint::Policy).is_ok());
    assert!(Actor::Operator.may_call(&Endpoint::Policy).is_ok());
    assert_eq!(admin.name(), "key_admin1");
    assert_eq!(Actor::Operator.name(), "admin");
}

#[test]
fn within_plan_follows_the_deployments_plans() {
    let plans = Plans::parse(
        r#"{"free":{"rate_limits":[{"name":"minute","limit":100,"window_seconds":60}]}}"#,
    )
    .unwrap();
    let free = plans.get(Plan::Free);
    assert_eq!(within_plan(&windows(&[(100, 60)]), free), Ok(()));
    assert_eq!(
        within_plan(&windows(&[(101, 60)]), free),
        Err(free.rate_limits[0].clone())
    );
    // The default Free plan refuses 100 per minute (60 per minute at most).
    assert!(within_plan(&windows(&[(100, 60)]), &terms(Plan::Free)).is_err());
    let key = parse_body::<CreateKey>(
        br#"{"name":"abc","scopes":["read"],"rate_limits":[{"name":"m","limit":101,"window_seconds":60}]}"#,
    )
    .and_then(|c| c.validate(UnixMillis(0), &Policy::allow_all(), Default::default()))
    .unwrap();
    let refused = org_admin()
        .may_create(&key, free, RevocationBound::default())
        .unwrap_err();
    assert!(
        refused
            .public_message()
            .starts_with("rate_limits go beyond the free plan's limit of 100 requests per 60 s"),
        "{}",
        refused.public_message()
    );
}
