//! Organization plans and what they allow.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::limits::window::RateLimit;

/// An organization's plan. It caps the number of live (not revoked) keys.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// 2 keys.
    Free,
    /// 10 keys.
    Pro,
    /// 50 keys.
    Business,
    /// No limit.
    Enterprise,
}

impl Plan {
    /// The plan's name as the API spells it: `free`, `pro`, `business`, `enterprise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
            Plan::Enterprise => "enterprise",
        }
    }

    /// Most live keys the organization may hold; `None` = unlimited.
    pub fn key_limit(self) -> Option<u32> {
        match self {
            Plan::Free => Some(2),
            Plan::Pro => Some(10),
            Plan::Business => Some(50),
            Plan::Enterprise => None,
        }
    }

    /// Every plan, cheapest first.
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::Pro, Plan::Business, Plan::Enterprise];
}

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(s: &str) -> Result<Plan, UnknownPlan> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownPlan)
    }
}

/// A plan name that is none of `free`, `pro`, `business`, `enterprise`.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownPlan;

impl std::fmt::Display for UnknownPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unknown plan")
    }
}

impl Plan {
    /// The rate limits of keys that set none of their own: Free has the Starter tier (burst
    /// 20/s, 60/min, 10 000/day), Pro and Business the Professional tier (50/s, 300/min,
    /// 100 000/day), Enterprise its own (200/s, 1 000/min, 1 000 000/day).
    pub fn default_limits(self) -> Vec<RateLimit> {
        let (burst, minute, day) = match self {
            Plan::Free => (20, 60, 10_000),
            Plan::Pro | Plan::Business => (50, 300, 100_000),
            Plan::Enterprise => (200, 1_000, 1_000_000),
        };
        [
            ("burst", burst, 1),
            ("minute", minute, 60),
            ("day", day, 86_400),
        ]
        .into_iter()
        .filter_map(|(name, limit, seconds)| RateLimit::new(name, limit, seconds))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_have_their_key_limits_and_default_windows() {
        let limits: Vec<_> = [Plan::Free, Plan::Pro, Plan::Business, Plan::Enterprise]
            .map(Plan::key_limit)
            .into();
        assert_eq!(limits, vec![Some(2), Some(10), Some(50), None]);
        assert_eq!(
            serde_json::from_str::<Plan>(r#""business""#).unwrap(),
            Plan::Business
        );
        assert!(serde_json::from_str::<Plan>(r#""gold""#).is_err());
        for plan in [Plan::Free, Plan::Pro, Plan::Business, Plan::Enterprise] {
            assert_eq!(serde_json::to_value(plan).unwrap(), plan.as_str());
            assert_eq!(plan.as_str().parse(), Ok(plan));
        }
        let pro: Vec<(u32, u32)> = Plan::Pro
            .default_limits()
            .iter()
            .map(|l| (l.limit.get(), l.window_seconds.get()))
            .collect();
        assert_eq!(pro, vec![(50, 1), (300, 60), (100_000, 86_400)]);
        assert_eq!("gold".parse::<Plan>(), Err(UnknownPlan));
    }
}
