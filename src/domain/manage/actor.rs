//! Who calls the management API, and what each caller may do and set.
//!
//! - The **operator** holds `ADMIN_TOKEN`: every organization, every valid setting. Plans are
//!   the operator's to grant, so the operator may also go beyond them.
//! - An **organization admin** is an API key with the `admin` scope: its own organization's
//!   keys only, and only settings within the organization's plan (as the deployment's `PLANS`
//!   defines it):
//!   - rate limits no looser than the plan's (see [`within_plan`] for the exact rule);
//!   - never `rate_limiting: false` (no limit at all) or `on_limiter_error: allow` (requests
//!     uncounted while the key's guard is unreachable);
//!   - never `meta`: the origin receives it signed by keygate and may base authorization on
//!     it, so only the operator vouches for it;
//!   - never an `owner` other than its own key's: the origin attributes requests to the owner,
//!     so an organization admin cannot make keys in another person's name. A key it creates
//!     without an owner belongs to its own key's owner (none if that has none).
//!
//! The rules judge the fields a request *sets*, not the key as it ends up: an organization
//! admin may rename a key the operator gave limits beyond the plan, and the key keeps them.
//! Likewise a plan lowered by the operator leaves each key's own settings as they are (keys
//! without windows of their own follow the new plan's defaults).

use serde::{Deserialize, Serialize};

use crate::domain::config::RevocationBound;
use crate::domain::error::GateError;
use crate::domain::key::record::{GuardFallback, KeyId, KeyOwner, KeyRecord, OrgId};
use crate::domain::limits::plan::PlanTerms;
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
        /// Its owner: the person acting through it.
        #[serde(default)]
        owner: Option<KeyOwner>,
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
    /// The owner a new key is given, when the request names one.
    owner: Option<&'a KeyOwner>,
}

impl Actor {
    /// The actor as the audit log and `created_by` name it: `admin` or the key id.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator => "admin".to_owned(),
            Actor::OrgAdmin { key, .. } => key.to_string(),
        }
    }

    /// The owner of the acting admin-scoped key: a key it creates without an owner gets it.
    /// `None` for the operator, who acts for nobody in particular.
    pub fn owner(&self) -> Option<&KeyOwner> {
        match self {
            Actor::Operator => None,
            Actor::OrgAdmin { owner, .. } => owner.as_ref(),
        }
    }

    /// Whether the actor may call `endpoint`: an organization admin manages its own
    /// organization's keys, not organizations, and reads what is no organization's (the
    /// policy).
    pub fn may_call(&self, endpoint: &Endpoint) -> Result<(), GateError> {
        match (self, endpoint.org()) {
            (Actor::Operator, _) => Ok(()),
            (Actor::OrgAdmin { .. }, _) if endpoint.operator_only() => Err(GateError::OperatorOnly),
            (Actor::OrgAdmin { org: own, .. }, Some(org)) if own != org => {
                Err(GateError::OtherOrganization(org.to_string()))
            }
            (Actor::OrgAdmin { .. }, _) => Ok(()),
        }
    }

    /// Whether the actor may create `key` in an organization on `plan`, under the deployment's
    /// revocation bound `deployment`.
    pub fn may_create(
        &self,
        key: &NewKey,
        plan: &PlanTerms,
        deployment: RevocationBound,
    ) -> Result<(), GateError> {
        self.may_set(
            &Settings {
                rate_limits: Some(&key.rate_limits),
                rate_limiting: Some(key.rate_limiting),
                on_limiter_error: Some(key.on_limiter_error),
                revocation_bound_ms: key.revocation_bound_ms,
                meta: key.meta.is_some(),
                owner: key.owner.as_ref(),
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
        plan: &PlanTerms,
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
                owner: None,
            },
            plan,
            ceiling,
        )
    }

    /// Whether the actor may rotate `record` (or change more than `enabled`): an organization
    /// admin may not when the key carries any setting only the operator may make, since the new
    /// secret would be a credential with privileges the admin could not grant itself.
    pub fn may_rotate(&self, record: &KeyRecord, plan: &PlanTerms) -> Result<(), GateError> {
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
    fn may_set(
        &self,
        settings: &Settings<'_>,
        plan: &PlanTerms,
        ceiling: u64,
    ) -> Result<(), GateError> {
        if *self == Actor::Operator {
            return Ok(());
        }
        let refusal = if let Some(window) = settings
            .rate_limits
            .and_then(|limits| within_plan(limits, plan).err())
        {
            Refusal::BeyondPlan {
                plan: plan.plan,
                window,
            }
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
        } else if settings
            .owner
            .is_some_and(|owner| Some(owner) != self.owner())
        {
            Refusal::Owner
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
/// Worked example, Free by default (20 per 1 s, 60 per 60 s, 10 000 per 86 400 s):
/// - 1 per 10 s keeps to all three (1, 6 and 8 640);
/// - 20 per 60 s keeps to the first two but admits 28 800 a day: refused for the day window
///   (add `{"limit": 10000, "window_seconds": 86400}`, or lower it);
/// - 1 000 per 86 400 s alone admits 1 000 in one second: refused for the 1 s window.
pub fn within_plan(limits: &[RateLimit], plan: &PlanTerms) -> Result<(), RateLimit> {
    if limits.is_empty() {
        return Ok(());
    }
    match plan.rate_limits.iter().find(|p| {
        !limits
            .iter()
            .any(|k| most_in(k, p.window_seconds.get()) <= u64::from(p.limit.get()))
    }) {
        Some(uncovered) => Err(uncovered.clone()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
