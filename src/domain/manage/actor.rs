//! Who calls the management API, and what each caller may do and set.
//!
//! - The **operator** holds `ADMIN_TOKEN`: every organization, every valid setting. Plans are
//!   the operator's to grant, so the operator may also go beyond them.
//! - An **organization admin** is an API key with the `admin` scope: its own organization's
//!   keys only, and only settings within the organization's plan:
//!   - rate limits no looser than the plan's (see [`within_plan`] for the exact rule);
//!   - never `rate_limiting: false` (no limit at all) or `on_limiter_error: allow` (requests
//!     uncounted while the key's guard is unreachable);
//!   - never `meta`: the origin receives it signed by keygate and may base authorization on
//!     it, so only the operator vouches for it.
//!
//! The rules judge the fields a request *sets*, not the key as it ends up: an organization
//! admin may rename a key the operator gave limits beyond the plan, and the key keeps them.
//! Likewise a plan lowered by the operator leaves each key's own settings as they are (keys
//! without windows of their own follow the new plan's defaults).

use serde::{Deserialize, Serialize};

use crate::domain::config::RevocationBound;
use crate::domain::error::GateError;
use crate::domain::key::record::{GuardFallback, KeyId, KeyRecord, OrgId};
use crate::domain::limits::plan::Plan;
use crate::domain::limits::window::RateLimit;
use crate::domain::manage::body::{KeyPatch, NewKey};
use crate::domain::manage::route::Endpoint;

pub use crate::domain::manage::refusal::Refusal;

/// Who is calling.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The holder of `ADMIN_TOKEN`: every organization, every valid setting.
    Operator,
    /// An API key with the `admin` scope: its own organization's keys, within its plan.
    OrgAdmin {
        /// The acting key.
        key: KeyId,
        /// Its organization.
        org: OrgId,
    },
}

/// The fields of a create or update that only some actors may set.
struct Settings<'a> {
    /// The key's own windows, when set (empty = the plan's defaults).
    rate_limits: Option<&'a [RateLimit]>,
    rate_limiting: Option<bool>,
    on_limiter_error: Option<GuardFallback>,
    revocation_bound_ms: Option<u32>,
    meta: bool,
}

impl Actor {
    /// The actor as the audit log and `created_by` name it: `admin` or the key id.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator => "admin".to_owned(),
            Actor::OrgAdmin { key, .. } => key.to_string(),
        }
    }

    /// Whether the actor may call `endpoint` on `org`: an organization admin manages its own
    /// organization's keys, not organizations.
    pub fn may_call(&self, endpoint: &Endpoint, org: &OrgId) -> Result<(), GateError> {
        match self {
            Actor::Operator => Ok(()),
            Actor::OrgAdmin { .. } if endpoint.operator_only() => Err(GateError::OperatorOnly),
            Actor::OrgAdmin { org: own, .. } if own != org => {
                Err(GateError::OtherOrganization(org.to_string()))
            }
            Actor::OrgAdmin { .. } => Ok(()),
        }
    }

    /// Whether the actor may create `key` in an organization on `plan`, under the deployment's
    /// revocation bound `deployment`.
    pub fn may_create(
        &self,
        key: &NewKey,
        plan: Plan,
        deployment: RevocationBound,
    ) -> Result<(), GateError> {
        self.may_set(
            &Settings {
                rate_limits: Some(&key.rate_limits),
                rate_limiting: Some(key.rate_limiting),
                on_limiter_error: Some(key.on_limiter_error),
                revocation_bound_ms: key.revocation_bound_ms,
                meta: key.meta.is_some(),
            },
            plan,
            deployment.as_millis(),
        )
    }

    /// Whether the actor may make `patch` to `record`, a key of an organization on `plan`. Only
    /// the fields the patch sets are judged; the access of a key set beyond what an
    /// organization admin may ([`Actor::may_rotate`]) is the operator's to change.
    pub fn may_update(
        &self,
        patch: &KeyPatch,
        record: &KeyRecord,
        plan: Plan,
        deployment: RevocationBound,
    ) -> Result<(), GateError> {
        let ceiling = record
            .revocation_bound_ms
            .map_or(deployment.as_millis(), |own| {
                u64::from(own).min(deployment.as_millis())
            });
        if patch.changes_access() {
            self.may_rotate(record, plan)?;
        }
        self.may_set(
            &Settings {
                rate_limits: patch.rate_limits.as_deref(),
                rate_limiting: patch.rate_limiting,
                on_limiter_error: patch.on_limiter_error,
                revocation_bound_ms: patch.revocation_bound_ms,
                meta: patch.meta.is_some(),
            },
            plan,
            ceiling,
        )
    }

    /// Whether the actor may rotate `record` (or change more than `enabled`): an organization
    /// admin may not when the key carries any setting only the operator may make, since the new
    /// secret would be a credential with privileges the admin could not grant itself.
    pub fn may_rotate(&self, record: &KeyRecord, plan: Plan) -> Result<(), GateError> {
        let operators = record.meta.is_some()
            || !record.rate_limiting
            || record.on_limiter_error == GuardFallback::Allow
            || within_plan(&record.rate_limits, plan).is_err();
        match self {
            Actor::OrgAdmin { .. } if operators => {
                Err(GateError::NotPermitted(Refusal::OperatorKey))
            }
            Actor::Operator | Actor::OrgAdmin { .. } => Ok(()),
        }
    }

    /// `ceiling`: the longest revocation bound the actor may set, milliseconds.
    fn may_set(&self, settings: &Settings<'_>, plan: Plan, ceiling: u64) -> Result<(), GateError> {
        if *self == Actor::Operator {
            return Ok(());
        }
        let refusal = if let Some(window) = settings
            .rate_limits
            .and_then(|limits| within_plan(limits, plan).err())
        {
            Refusal::BeyondPlan { plan, window }
        } else if settings.rate_limiting == Some(false) {
            Refusal::RateLimitingOff
        } else if settings.on_limiter_error == Some(GuardFallback::Allow) {
            Refusal::GuardFallbackAllow
        } else if settings
            .revocation_bound_ms
            .is_some_and(|ms| u64::from(ms) > ceiling)
        {
            Refusal::LongRevocationBound { ceiling }
        } else if settings.meta {
            Refusal::Meta
        } else {
            return Ok(());
        };
        Err(GateError::NotPermitted(refusal))
    }
}

/// The most requests `window` can admit in any `span_seconds`: an interval of that length is
/// covered by ⌈span ÷ window⌉ consecutive windows, and each admits at most its limit (the
/// sliding window never over-admits, see [`window`](crate::domain::limits::window)).
///
/// ```
/// use keygate::domain::RateLimit;
/// use keygate::domain::actor::most_in;
/// let ten_per_minute = RateLimit::new("minute", 10, 60).unwrap();
/// assert_eq!(most_in(&ten_per_minute, 1), 10); // a second lies inside one minute
/// assert_eq!(most_in(&ten_per_minute, 86_400), 14_400); // a day is 1 440 minutes
/// ```
pub fn most_in(window: &RateLimit, span_seconds: u32) -> u64 {
    let windows = span_seconds.div_ceil(window.window_seconds.get());
    u64::from(window.limit.get()) * u64::from(windows)
}

/// Whether `limits` (a key's own windows) keep within `plan`: for every window of the plan
/// (P requests per S seconds) the key has a window that admits at most P in any S seconds
/// ([`most_in`]). No list at all means the plan's own windows, which keep within it. Returns
/// the first plan window no key window keeps to.
///
/// Worked example, Free (20 per 1 s, 60 per 60 s, 10 000 per 86 400 s):
/// - 1 per 10 s keeps to all three (1, 6 and 8 640);
/// - 20 per 60 s keeps to the first two but admits 28 800 a day: refused for the day window
///   (add `{"limit": 10000, "window_seconds": 86400}`, or lower it);
/// - 1 000 per 86 400 s alone admits 1 000 in one second: refused for the 1 s window.
pub fn within_plan(limits: &[RateLimit], plan: Plan) -> Result<(), RateLimit> {
    if limits.is_empty() {
        return Ok(());
    }
    match plan.default_limits().into_iter().find(|p| {
        !limits
            .iter()
            .any(|k| most_in(k, p.window_seconds.get()) <= u64::from(p.limit.get()))
    }) {
        Some(uncovered) => Err(uncovered),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::manage::body::{CreateKey, UpdateKey, parse_body};
    use crate::domain::{Policy, UnixMillis};

    fn org_admin() -> Actor {
        Actor::OrgAdmin {
            key: KeyId::parse("key_admin1").unwrap(),
            org: OrgId::parse("acme").unwrap(),
        }
    }

    fn create(actor: &Actor, plan: Plan, body: &str) -> Result<(), String> {
        let key = parse_body::<CreateKey>(body.as_bytes())
            .and_then(|c| c.validate(UnixMillis(0), &Policy::allow_all()))
            .map_err(|e| format!("invalid: {}", e.public_message()))?;
        actor
            .may_create(&key, plan, RevocationBound::default())
            .map_err(|e| {
                assert_eq!((e.status(), e.code()), (403, "forbidden"));
                e.public_message()
            })
    }

    /// A key of the organization as an organization admin would have set it up.
    fn plain_key() -> KeyRecord {
        KeyRecord::from_json(r#"{"id":"key_t1","org":"acme","name":"Target","created_at":0}"#)
            .unwrap()
    }

    fn update(actor: &Actor, plan: Plan, body: &str) -> Result<(), String> {
        update_key(actor, plan, &plain_key(), body)
    }

    fn update_key(actor: &Actor, plan: Plan, key: &KeyRecord, body: &str) -> Result<(), String> {
        let patch = parse_body::<UpdateKey>(body.as_bytes())
            .and_then(|u| u.validate(&Policy::allow_all()))
            .map_err(|e| format!("invalid: {}", e.public_message()))?;
        actor
            .may_update(&patch, key, plan, RevocationBound::default())
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
        let free = Plan::Free.default_limits();
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
                within_plan(&windows(list), Plan::Free).err().as_ref(),
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
            let refused = admin.may_rotate(&key, Plan::Free).unwrap_err();
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
                    .may_rotate(&key, Plan::Free)
                    .map_err(|e| e.code()),
                Ok(())
            );
        }
        assert_eq!(
            admin
                .may_rotate(&plain_key(), Plan::Free)
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
                .and_then(|c| c.validate(UnixMillis(0), &Policy::allow_all()))
                .unwrap()
        };
        let own = key(r#"{"name":"Own","scopes":["read"],"revocation_bound_ms":1000}"#);
        // Under a strict deployment, an org admin may not give a key a longer bound.
        assert!(admin.may_create(&own, Plan::Free, strict).is_err());
        assert!(Actor::Operator.may_create(&own, Plan::Free, strict).is_ok());
        // A key the operator set to 0 stays at 0 for the org admin, whatever the deployment.
        let zero = KeyRecord::from_json(
            r#"{"id":"key_t1","org":"acme","name":"Target","created_at":0,"revocation_bound_ms":0}"#,
        )
        .unwrap();
        let raise = parse_body::<UpdateKey>(br#"{"revocation_bound_ms":500}"#)
            .and_then(|u| u.validate(&Policy::allow_all()))
            .unwrap();
        let refused = admin
            .may_update(&raise, &zero, Plan::Free, RevocationBound::default())
            .unwrap_err();
        assert!(
            refused.public_message().contains("above 0"),
            "{}",
            refused.public_message()
        );
        assert!(
            admin
                .may_update(&raise, &plain_key(), Plan::Free, RevocationBound::default())
                .is_ok()
        );
    }

    #[test]
    fn org_admins_stay_in_their_organization() {
        let acme = OrgId::parse("acme").unwrap();
        let other = OrgId::parse("other").unwrap();
        let key = KeyId::parse("key_a").unwrap();
        let admin = org_admin();
        assert!(
            admin
                .may_call(&Endpoint::ListKeys(acme.clone()), &acme)
                .is_ok()
        );
        assert_eq!(
            admin
                .may_call(&Endpoint::GetKey(other.clone(), key), &other)
                .unwrap_err()
                .public_message(),
            "This API key cannot manage organization other"
        );
        assert_eq!(
            admin
                .may_call(&Endpoint::PutOrg(acme.clone()), &acme)
                .unwrap_err()
                .public_message(),
            "Only the admin token can create or change organizations"
        );
        assert!(
            Actor::Operator
                .may_call(&Endpoint::PutOrg(other.clone()), &other)
                .is_ok()
        );
        assert_eq!(admin.name(), "key_admin1");
        assert_eq!(Actor::Operator.name(), "admin");
    }
}
