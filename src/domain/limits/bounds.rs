//! What a rate-limit window may be: the deployment's bounds on the windows keys ask for
//! (`RATE_LIMIT_BOUNDS`, Z8's "maximum 10,000 requests/window", "1 second to 1 hour"), and the
//! check of a written list of windows (a management body's `rate_limits`, a plan's in `PLANS`)
//! whose errors name the offending entry (`rate_limits[0].limit must be at most 10000`).

use serde::{Deserialize, Serialize};

use crate::domain::config_error::ConfigError;
use crate::domain::limits::window::RateLimit;

/// Most windows in one list.
const MAX_WINDOWS: usize = 10;

/// The largest limit and the shortest and longest window a key's own windows may have. By
/// default any limit (up to 4 294 967 295), 1 s to 1 day (86 400 s); a deployment may only
/// narrow the window range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitBounds {
    /// Requests per window, at most; at least 1.
    max_limit: u32,
    /// Seconds; 1 ≤ `min_window_seconds` ≤ `max_window_seconds` ≤ 86 400.
    min_window_seconds: u32,
    max_window_seconds: u32,
}

impl LimitBounds {
    /// The longest window any key may have: one day.
    pub const LONGEST_WINDOW_SECONDS: u32 = 86_400;

    /// Limits up to `max_limit`, windows of `min_window_seconds` to `max_window_seconds`;
    /// `None` unless `max_limit` ≥ 1 and 1 ≤ min ≤ max ≤ [`Self::LONGEST_WINDOW_SECONDS`].
    pub fn new(
        max_limit: u32,
        min_window_seconds: u32,
        max_window_seconds: u32,
    ) -> Option<LimitBounds> {
        let windows_ok = 1 <= min_window_seconds
            && min_window_seconds <= max_window_seconds
            && max_window_seconds <= Self::LONGEST_WINDOW_SECONDS;
        (max_limit >= 1 && windows_ok).then_some(LimitBounds {
            max_limit,
            min_window_seconds,
            max_window_seconds,
        })
    }

    /// Parses `RATE_LIMIT_BOUNDS`: `{"max_limit": 10000, "min_window_seconds": 1,
    /// "max_window_seconds": 3600}`, each optional (default: [`LimitBounds::default`]'s).
    pub fn parse(json: &str) -> Result<LimitBounds, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Spec {
            max_limit: Option<u32>,
            min_window_seconds: Option<u32>,
            max_window_seconds: Option<u32>,
        }
        let bad = |reason: String| ConfigError {
            var: "RATE_LIMIT_BOUNDS",
            reason,
        };
        let spec: Spec = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let default = LimitBounds::default();
        LimitBounds::new(
            spec.max_limit.unwrap_or(default.max_limit),
            spec.min_window_seconds
                .unwrap_or(default.min_window_seconds),
            spec.max_window_seconds
                .unwrap_or(default.max_window_seconds),
        )
        .ok_or_else(|| {
            bad(format!(
                "max_limit must be at least 1, and 1 <= min_window_seconds <= max_window_seconds <= {}",
                Self::LONGEST_WINDOW_SECONDS
            ))
        })
    }
}

impl Default for LimitBounds {
    fn default() -> Self {
        LimitBounds {
            max_limit: u32::MAX,
            min_window_seconds: 1,
            max_window_seconds: Self::LONGEST_WINDOW_SECONDS,
        }
    }
}

/// A rate-limit window as written, before [`check_windows`] makes it a [`RateLimit`] (which
/// cannot hold a zero): the checks name the offending field.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    name: String,
    limit: u32,
    window_seconds: u32,
}

/// The windows of `specs` (the list called `field`), if there are at most 10, each named
/// 1-32 of `[a-z0-9_-]` (no name twice) and within `bounds`; else why not, naming
/// `field[i]`'s member.
pub fn check_windows(
    field: &str,
    specs: Vec<WindowSpec>,
    bounds: LimitBounds,
) -> Result<Vec<RateLimit>, String> {
    if specs.len() > MAX_WINDOWS {
        return Err(format!("{field} may have at most {MAX_WINDOWS} windows"));
    }
    for (i, w) in specs.iter().enumerate() {
        let name_ok = (1..=32).contains(&w.name.len())
            && w.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(format!(
                "{field}[{i}].name must be 1-32 of a-z, 0-9, '_' or '-'"
            ));
        }
        if w.limit == 0 {
            return Err(format!("{field}[{i}].limit must be at least 1"));
        }
        if w.limit > bounds.max_limit {
            return Err(format!(
                "{field}[{i}].limit must be at most {}",
                bounds.max_limit
            ));
        }
        if !(bounds.min_window_seconds..=bounds.max_window_seconds).contains(&w.window_seconds) {
            return Err(format!(
                "{field}[{i}].window_seconds must be from {} to {}",
                bounds.min_window_seconds, bounds.max_window_seconds
            ));
        }
        if specs[..i].iter().any(|o| o.name == w.name) {
            return Err(format!("{field}[{i}].name {:?} is used twice", w.name));
        }
    }
    Ok(specs
        .into_iter()
        .filter_map(|w| RateLimit::new(w.name, w.limit, w.window_seconds))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, limit: u32, window_seconds: u32) -> WindowSpec {
        WindowSpec {
            name: name.to_owned(),
            limit,
            window_seconds,
        }
    }

    #[test]
    fn windows_keep_within_the_bounds_and_the_error_names_the_bound() {
        // Z8: "Rate limit maximum 10,000 requests/window", "1 second to 1 hour".
        let z8 = LimitBounds::new(10_000, 1, 3_600).unwrap();
        let ok = check_windows("rate_limits", vec![spec("minute", 10_000, 60)], z8).unwrap();
        assert_eq!(ok, vec![RateLimit::new("minute", 10_000, 60).unwrap()]);
        let cases = [
            (
                spec("minute", 10_001, 60),
                "rate_limits[0].limit must be at most 10000",
            ),
            (
                spec("day", 100, 86_400),
                "rate_limits[0].window_seconds must be from 1 to 3600",
            ),
            (
                spec("minute", 0, 60),
                "rate_limits[0].limit must be at least 1",
            ),
            (spec("Minute", 1, 60), "rate_limits[0].name must be 1-32"),
        ];
        for (window, want) in cases {
            let err = check_windows("rate_limits", vec![window], z8).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
        let twice = check_windows("w", vec![spec("a", 1, 1), spec("a", 2, 2)], z8).unwrap_err();
        assert_eq!(twice, "w[1].name \"a\" is used twice");
        let eleven = (0..11).map(|i| spec(&format!("w{i}"), 1, 1)).collect();
        assert!(check_windows("w", eleven, z8).is_err());
        let default = LimitBounds::default();
        assert!(check_windows("w", vec![spec("day", u32::MAX, 86_400)], default).is_ok());
        let err = check_windows("w", vec![spec("week", 1, 86_401)], default).unwrap_err();
        assert_eq!(err, "w[0].window_seconds must be from 1 to 86400");
    }

    #[test]
    fn bounds_parse_from_the_variable() {
        let z8 = LimitBounds::parse(r#"{"max_limit":10000,"max_window_seconds":3600}"#).unwrap();
        assert_eq!(z8, LimitBounds::new(10_000, 1, 3_600).unwrap());
        assert_eq!(LimitBounds::parse("{}").unwrap(), LimitBounds::default());
        for bad in [
            r#"{"max_limit":0}"#,
            r#"{"min_window_seconds":0}"#,
            r#"{"min_window_seconds":60,"max_window_seconds":59}"#,
            r#"{"max_window_seconds":86401}"#,
            r#"{"max":5}"#,
            r#"{"max_limit":-1}"#,
            "10000",
        ] {
            let err = LimitBounds::parse(bad).unwrap_err();
            assert_eq!(err.var, "RATE_LIMIT_BOUNDS", "{bad}");
        }
    }
}
