//! Organization plans and what each gives an organization: API access, a key limit and the
//! windows of keys that set none of their own. The deployment sets them (`PLANS`, parsed into
//! [`Plans`]); without it, or for what it leaves out, the defaults are:
//!
//! | plan       | `api_access` | `key_limit` | `rate_limits` (burst / minute / day)  |
//! |------------|--------------|-------------|---------------------------------------|
//! | free       | true         | 2           | 20/1 s, 60/60 s, 10 000/86 400 s      |
//! | pro        | true         | 10          | 50/1 s, 300/60 s, 100 000/86 400 s    |
//! | business   | true         | 50          | 50/1 s, 300/60 s, 100 000/86 400 s    |
//! | enterprise | true         | unlimited   | 200/1 s, 1 000/60 s, 1 000 000/86 400 s |
//!
//! ```toml
//! [vars.PLANS.free]
//! api_access = false            # Zenovay: "Free teams … cannot call the programmatic API"
//! [vars.PLANS.pro]
//! key_limit = 10                # a number, or "unlimited"
//! rate_limits = [{ name = "minute", limit = 100, window_seconds = 60 }]
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::config_error::ConfigError;
use crate::domain::limits::bounds::{LimitBounds, WindowSpec, check_windows};
use crate::domain::limits::window::RateLimit;

/// An organization's plan: the deployment's [`Plans`] say what each gives.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// The cheapest.
    Free,
    /// The first paid plan.
    Pro,
    /// More keys.
    Business,
    /// No key limit by default.
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

    /// Every plan, cheapest first.
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::Pro, Plan::Business, Plan::Enterprise];

    fn index(self) -> usize {
        match self {
            Plan::Free => 0,
            Plan::Pro => 1,
            Plan::Business => 2,
            Plan::Enterprise => 3,
        }
    }
}

/// What one plan gives an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanTerms {
    /// The plan.
    pub plan: Plan,
    /// Whether a new organization on it (or one moved to it) may call the API and be issued
    /// keys.
    pub api_access: bool,
    /// Most live (not revoked) keys; `None` = unlimited.
    pub key_limit: Option<u32>,
    /// The windows of keys that set none of their own (never empty); also what an
    /// organization admin's own windows must keep within.
    pub rate_limits: Vec<RateLimit>,
}

impl PlanTerms {
    /// The default terms of `plan` (the table above).
    fn default_of(plan: Plan) -> PlanTerms {
        let (key_limit, burst, minute, day) = match plan {
            Plan::Free => (Some(2), 20, 60, 10_000),
            Plan::Pro => (Some(10), 50, 300, 100_000),
            Plan::Business => (Some(50), 50, 300, 100_000),
            Plan::Enterprise => (None, 200, 1_000, 1_000_000),
        };
        let rate_limits = [
            ("burst", burst, 1),
            ("minute", minute, 60),
            ("day", day, 86_400),
        ]
        .into_iter()
        .filter_map(|(name, limit, seconds)| RateLimit::new(name, limit, seconds))
        .collect();
        PlanTerms {
            plan,
            api_access: true,
            key_limit,
            rate_limits,
        }
    }
}

/// The deployment's plans: what each gives (`PLANS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plans([PlanTerms; 4]);

impl Default for Plans {
    fn default() -> Self {
        Plans(Plan::ALL.map(PlanTerms::default_of))
    }
}

/// One plan in `PLANS`; what it leaves out keeps its default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSpec {
    api_access: Option<bool>,
    key_limit: Option<KeyLimitSpec>,
    rate_limits: Option<Vec<WindowSpec>>,
}

/// `key_limit = 10` or `key_limit = "unlimited"`.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a whole number of keys (0 to 4294967295) or \"unlimited\""
)]
enum KeyLimitSpec {
    Count(u32),
    Word(String),
}

impl Plans {
    /// What `plan` gives.
    pub fn get(&self, plan: Plan) -> &PlanTerms {
        &self.0[plan.index()]
    }

    /// Parses the JSON form of `[vars.PLANS]`: a table per plan, each setting optional.
    pub fn parse(json: &str) -> Result<Plans, ConfigError> {
        let bad = |reason: String| ConfigError {
            var: "PLANS",
            reason,
        };
        let mut de = serde_json::Deserializer::from_str(json);
        let specs: BTreeMap<String, PlanSpec> =
            serde_path_to_error::deserialize(&mut de).map_err(|e| match e.path().to_string() {
                path if path == "." => bad(e.into_inner().to_string()),
                path => bad(format!("{path}: {}", e.into_inner())),
            })?;
        let mut plans = Plans::default();
        for (name, spec) in specs {
            let plan: Plan = name.parse().map_err(|_| {
                bad(format!(
                    "unknown plan {name:?} (the plans are free, pro, business, enterprise)"
                ))
            })?;
            let terms = &mut plans.0[plan.index()];
            if let Some(access) = spec.api_access {
                terms.api_access = access;
            }
            match spec.key_limit {
                None => {}
                Some(KeyLimitSpec::Count(n)) => terms.key_limit = Some(n),
                Some(KeyLimitSpec::Word(w)) if w == "unlimited" => terms.key_limit = None,
                Some(KeyLimitSpec::Word(w)) => {
                    return Err(bad(format!(
                        "{name}.key_limit must be a number of keys or \"unlimited\", not {w:?}"
                    )));
                }
            }
            if let Some(windows) = spec.rate_limits {
                if windows.is_empty() {
                    return Err(bad(format!(
                        "{name}.rate_limits must have at least one window"
                    )));
                }
                let field = format!("{name}.rate_limits");
                terms.rate_limits =
                    check_windows(&field, windows, LimitBounds::default()).map_err(bad)?;
            }
        }
        Ok(plans)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(terms: &PlanTerms) -> Vec<(u32, u32)> {
        terms
            .rate_limits
            .iter()
            .map(|l| (l.limit.get(), l.window_seconds.get()))
            .collect()
    }

    #[test]
    fn the_default_plans_are_todays() {
        let plans = Plans::default();
        let limits: Vec<_> = Plan::ALL.map(|p| plans.get(p).key_limit).into();
        assert_eq!(limits, vec![Some(2), Some(10), Some(50), None]);
        assert!(Plan::ALL.iter().all(|p| plans.get(*p).api_access));
        assert_eq!(
            windows(plans.get(Plan::Pro)),
            vec![(50, 1), (300, 60), (100_000, 86_400)]
        );
        assert_eq!(
            windows(plans.get(Plan::Enterprise)),
            vec![(200, 1), (1_000, 60), (1_000_000, 86_400)]
        );
        for plan in Plan::ALL {
            assert_eq!(plans.get(plan).plan, plan);
            assert_eq!(serde_json::to_value(plan).unwrap(), plan.as_str());
            assert_eq!(plan.as_str().parse(), Ok(plan));
        }
        assert!(serde_json::from_str::<Plan>(r#""gold""#).is_err());
        assert_eq!("gold".parse::<Plan>(), Err(UnknownPlan));
    }

    #[test]
    fn plans_take_what_the_deployment_sets_and_keep_the_rest() {
        // Zenovay: "You need a Pro plan or higher to create and use API keys."
        let plans = Plans::parse(
            r#"{"free":{"api_access":false,"key_limit":0},
                "pro":{"key_limit":"unlimited","rate_limits":[{"name":"minute","limit":100,"window_seconds":60}]}}"#,
        )
        .unwrap();
        let free = plans.get(Plan::Free);
        assert!(!free.api_access);
        assert_eq!(free.key_limit, Some(0));
        assert_eq!(windows(free), vec![(20, 1), (60, 60), (10_000, 86_400)]);
        let pro = plans.get(Plan::Pro);
        assert!(pro.api_access);
        assert_eq!(pro.key_limit, None);
        assert_eq!(windows(pro), vec![(100, 60)]);
        assert_eq!(
            plans.get(Plan::Business),
            Plans::default().get(Plan::Business)
        );
        assert_eq!(Plans::parse("{}").unwrap(), Plans::default());
    }

    #[test]
    fn a_bad_plan_names_the_variable_and_the_setting() {
        let cases = [
            (r#"{"gold":{}}"#, r#"unknown plan "gold""#),
            (r#"{"free":{"api":false}}"#, "free.api: unknown field `api`"),
            (
                r#"{"free":{"api_access":"no"}}"#,
                "free.api_access: invalid type",
            ),
            (
                r#"{"pro":{"key_limit":"lots"}}"#,
                r#"pro.key_limit must be a number of keys or "unlimited""#,
            ),
            (r#"{"pro":{"key_limit":-1}}"#, "pro.key_limit"),
            (
                r#"{"pro":{"rate_limits":[]}}"#,
                "pro.rate_limits must have at least one window",
            ),
            (
                r#"{"pro":{"rate_limits":[{"name":"m","limit":0,"window_seconds":60}]}}"#,
                "pro.rate_limits[0].limit must be at least 1",
            ),
            ("[]", "invalid type"),
        ];
        for (json, want) in cases {
            let err = Plans::parse(json).unwrap_err();
            assert_eq!(err.var, "PLANS");
            assert!(err.reason.contains(want), "{json}: {}", err.reason);
        }
    }
}
