//! `Refusal`: a setting only the operator may make, and its 403 message; imports nothing back.

use std::fmt;

use crate::domain::limits::plan::Plan;
use crate::domain::limits::window::RateLimit;

/// A setting only the operator may make; each names the field, for the 403's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `meta`: the origin trusts it as keygate's word.
    Meta,
    /// An `owner` other than the acting key's own: the origin attributes the key's requests
    /// to its owner.
    Owner,
    /// `rate_limiting: false`.
    RateLimitingOff,
    /// `on_limiter_error: allow`.
    GuardFallbackAllow,
    /// Rotating a key that carries settings only the operator may make, or changing its scopes,
    /// resources or fields: the new secret, or widened access, would hand an organization
    /// admin what only the operator may grant.
    OperatorKey,
    /// `revocation_bound_ms` longer than the deployment's bound, or than the key's own: an
    /// organization admin may only shorten how long a revoked key can still be used.
    LongRevocationBound {
        /// The longest bound the actor may set, milliseconds.
        ceiling: u64,
    },
    /// `rate_limits` that let more through than this window of the plan.
    BeyondPlan {
        /// The organization's plan.
        plan: Plan,
        /// The plan's window no window of the key keeps to.
        window: RateLimit,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Meta => f.write_str("Only the admin token can set meta"),
            Refusal::Owner => f.write_str(
                "Only the admin token can give a key another owner: a key created with an admin-scoped key belongs to that key's owner",
            ),
            Refusal::RateLimitingOff => {
                f.write_str("Only the admin token can set rate_limiting to false")
            }
            Refusal::GuardFallbackAllow => {
                f.write_str("Only the admin token can set on_limiter_error to allow")
            }
            Refusal::OperatorKey => f.write_str(
                "Only the admin token can rotate this key or change its scopes, resources or fields: it has settings only the admin token can make (meta, rate_limiting off, on_limiter_error allow, or limits beyond the plan); an organization admin may rename, tighten, disable, enable or revoke it",
            ),
            Refusal::LongRevocationBound { ceiling } => write!(
                f,
                "Only the admin token can set revocation_bound_ms above {ceiling} (this deployment's bound, or the key's own if shorter)"
            ),
            Refusal::BeyondPlan { plan, window } => write!(
                f,
                "rate_limits go beyond the {} plan's limit of {} requests per {} s: add a window that admits at most {} in {} s, such as {{\"name\":\"{}\",\"limit\":{},\"window_seconds\":{}}} (only the admin token can set limits beyond the plan)",
                plan.as_str(),
                window.limit,
                window.window_seconds,
                window.limit,
                window.window_seconds,
                window.name,
                window.limit,
                window.window_seconds,
            ),
        }
    }
}
