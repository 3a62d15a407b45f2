//! `GuardFallback`: what a key does when its guard cannot be reached; imports nothing back.

use serde::{Deserialize, Serialize};

/// What happens when a key's guard (its rate limiter and status authority) cannot be reached.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[serde(rename_all = "lowercase")]
pub enum GuardFallback {
    /// Refuse the request (503): limits are never exceeded.
    #[default]
    Deny,
    /// Admit it on the cached record, uncounted: availability over exactness.
    Allow,
}

impl GuardFallback {
    /// The header that tells the client its key's guard could not be reached, and what keygate
    /// did about it (`unavailable; allowed` or `unavailable; denied`).
    pub fn header(self) -> (&'static str, String) {
        let what = match self {
            GuardFallback::Allow => "unavailable; allowed",
            GuardFallback::Deny => "unavailable; denied",
        };
        ("x-keygate-limiter", what.to_owned())
    }
}
