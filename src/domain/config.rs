//! `Config`: the deployment's variables, parsed once into typed values.
//!
//! | variable       | default     | meaning                                                  |
//! |----------------|-------------|----------------------------------------------------------|
//! | `ORIGIN`       | (required)  | base URL of the protected API, `http(s)://host[:port][/base]` |
//! | `KEY_PREFIX`   | `kg_live`   | prefix of newly issued keys                              |
//! | `ADMIN_PREFIX` | `/_keygate` | path under which keygate serves its own routes           |
//! | `ORIGIN_TIMEOUT_MS` | `30000` | how long the origin may take to send response headers (1–600000) |
//! | `POLICY`       | allow all   | the route policy (see [`Policy`]), as JSON               |
//! | `REVOCATION_BOUND_MS` | `1000` | longest time a revoked, disabled or changed key can still be used (0–60000) |
//! | `ORIGIN_SIGNING_SECRET` | none | secret: signs the identity headers sent to the origin |
//! | `CORS_ALLOW_ORIGINS` | none (off) | web origins browsers may call the API from: `*` or a comma list |
//! | `GITHUB_KEYS_URL` | GitHub's `meta/public_keys/secret_scanning` | where the keys that sign secret-scanning reports are listed |
//! | `USAGE_REPORT_MS` | `60000` | how often, at most, a used key's usage reaches its catalog for listings' filters and order (1000–3600000) |
//! | `WEBHOOK_RETRY_DELAYS_MS` | 5 s, 1 min, 10 min, 1 h, 6 h, 24 h | waits between the tries of a webhook delivery, a comma list (1–10 waits) |
//! | `PLANS` | free 2 keys, pro 10, business 50, enterprise unlimited; all with API access | per plan: `api_access`, `key_limit`, default `rate_limits` (see [`Plans`]), as JSON |
//! | `RATE_LIMIT_BOUNDS` | any limit, 1 s to 1 day | the largest limit and the window range a key's own windows may have (see [`LimitBounds`]), as JSON |

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::domain::authz::policy::Policy;
pub use crate::domain::config_error::ConfigError;
use crate::domain::http::cors::Cors;
use crate::domain::key::format::KeyPrefix;
use crate::domain::limits::bounds::LimitBounds;
use crate::domain::limits::plan::Plans;
use crate::domain::webhook::RETRY_DELAYS_MS;

/// Typed configuration of one deployment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where verified requests go.
    pub origin: Origin,
    /// Prefix of keys this deployment issues.
    pub key_prefix: KeyPrefix,
    /// Path prefix of keygate's own routes.
    pub admin_prefix: AdminPrefix,
    /// How long the origin may take to answer before the client gets 504.
    pub origin_timeout: Duration,
    /// What each route of the protected API needs.
    pub policy: Policy,
    /// Signs the identity headers; unsigned without it.
    pub signing_secret: Option<SigningSecret>,
    /// Which web origins browsers may call the API from.
    pub cors: Cors,
    /// How long a revoked, disabled or changed key can still be used, at most.
    pub revocation_bound: RevocationBound,
    /// The waits between the tries of a webhook delivery (never empty).
    pub webhook_retry_delays: Vec<u64>,
    /// Where GitHub lists the keys that sign its secret-scanning reports.
    pub github_keys_url: String,
    /// How often, at most, a used key's guard reports its usage to the catalog.
    pub usage_report_every: Duration,
    /// What a key's own rate-limit windows may be, whoever sets them.
    pub limit_bounds: LimitBounds,
    /// What each plan gives an organization.
    pub plans: Plans,
}

/// The published bound on how long a revoked, disabled or changed key can still be used
/// (`REVOCATION_BOUND_MS`, 0 to 60 000 ms, default 1 000). Nothing may act on a copy of a key's
/// record older than this without asking the key's guard: a guard outage fails open only on a
/// record the guard confirmed within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationBound(u64);

impl RevocationBound {
    /// The default: one second.
    pub const DEFAULT_MS: u64 = 1_000;
    /// The longest bound a deployment may publish: one minute.
    pub const MAX_MS: u64 = 60_000;

    /// A bound of `ms` milliseconds, if within `0..=MAX_MS`.
    pub fn from_millis(ms: u64) -> Option<RevocationBound> {
        (ms <= Self::MAX_MS).then_some(RevocationBound(ms))
    }

    /// The bound in milliseconds.
    pub fn as_millis(self) -> u64 {
        self.0
    }
}

impl Default for RevocationBound {
    fn default() -> Self {
        RevocationBound(Self::DEFAULT_MS)
    }
}

/// The origin-signing secret. `Debug` never shows it.
#[derive(Clone)]
pub struct SigningSecret(String);

impl SigningSecret {
    /// The secret itself, for the HMAC.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

impl Config {
    /// Reads every variable through `lookup` (the worker's `env.var`, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let origin = lookup("ORIGIN").ok_or_else(|| ConfigError {
            var: "ORIGIN",
            reason: "is required (the base URL of the API keygate protects)".into(),
        })?;
        let key_prefix = match lookup("KEY_PREFIX") {
            None => KeyPrefix::default(),
            Some(p) => p.parse().map_err(|_| ConfigError {
                var: "KEY_PREFIX",
                reason: format!(
                    "{p:?} must be 1-32 letters, digits or '_', not starting or ending with '_'"
                ),
            })?,
        };
        let admin_prefix = match lookup("ADMIN_PREFIX") {
            None => AdminPrefix::default(),
            Some(p) => AdminPrefix::parse(&p)?,
        };
        let origin_timeout = millis(&lookup, "ORIGIN_TIMEOUT_MS", 30_000, 1..=600_000)?;
        let usage_report_every = millis(&lookup, "USAGE_REPORT_MS", 60_000, 1_000..=3_600_000)?;
        let policy = match lookup("POLICY") {
            None => Policy::allow_all(),
            Some(json) => Policy::parse(&json)?,
        };
        let revocation_bound = match lookup("REVOCATION_BOUND_MS") {
            None => RevocationBound::default(),
            Some(ms) => ms
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(RevocationBound::from_millis)
                .ok_or_else(|| ConfigError {
                    var: "REVOCATION_BOUND_MS",
                    reason: format!(
                        "{ms:?} must be a whole number of milliseconds, 0 to {}",
                        RevocationBound::MAX_MS
                    ),
                })?,
        };
        let signing_secret = lookup("ORIGIN_SIGNING_SECRET")
            .filter(|s| !s.is_empty())
            .map(SigningSecret);
        let cors = match lookup("CORS_ALLOW_ORIGINS") {
            None => Cors::Off,
            Some(text) => Cors::parse(&text)?,
        };
        let webhook_retry_delays = match lookup("WEBHOOK_RETRY_DELAYS_MS") {
            None => RETRY_DELAYS_MS.to_vec(),
            Some(text) => parse_delays(&text).ok_or_else(|| ConfigError {
                var: "WEBHOOK_RETRY_DELAYS_MS",
                reason: format!(
                    "{text:?} must be 1 to 10 waits in milliseconds, each 1 to 604800000, separated by commas"
                ),
            })?,
        };
        let plans = match lookup("PLANS") {
            None => Plans::default(),
            Some(json) => Plans::parse(&json)?,
        };
        let limit_bounds = match lookup("RATE_LIMIT_BOUNDS") {
            None => LimitBounds::default(),
            Some(json) => LimitBounds::parse(&json)?,
        };
        let github_keys_url =
            lookup("GITHUB_KEYS_URL").unwrap_or_else(|| GITHUB_KEYS_URL.to_owned());
        if !Url::parse(&github_keys_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return Err(ConfigError {
                var: "GITHUB_KEYS_URL",
                reason: format!("{github_keys_url:?} must be an http(s) URL"),
            });
        }
        Ok(Config {
            plans,
            limit_bounds,
            usage_report_every,
            github_keys_url,
            webhook_retry_delays,
            cors,
            origin: Origin::parse(&origin)?,
            key_prefix,
            admin_prefix,
            origin_timeout,
            policy,
            signing_secret,
            revocation_bound,
        })
    }
}

/// GitHub's list of the keys that sign secret-scanning reports.
const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// The variable `var` as a duration in whole milliseconds within `range`, or `default` ms.
fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let Some(text) = lookup(var) else {
        return Ok(Duration::from_millis(default));
    };
    match text.trim().parse::<u64>() {
        Ok(ms) if range.contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError {
            var,
            reason: format!(
                "{text:?} must be a whole number of milliseconds, {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// `5000,60000,…`: 1 to 10 waits of 1 ms to 7 days.
fn parse_delays(text: &str) -> Option<Vec<u64>> {
    let delays = text
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<u64>()
                .ok()
                .filter(|d| (1..=604_800_000).contains(d))
        })
        .collect::<Option<Vec<u64>>>()?;
    (1..=10).contains(&delays.len()).then_some(delays)
}

/// The origin's base URL, without a trailing `/`, so a request path can be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `http(s)://host[:port][/base]`.
    base: String,
    /// The `/base` part (empty when none): what the origin sees in front of each path.
    path: String,
}

impl Origin {
    /// Parses `ORIGIN`: http or https, a host, an optional base path, no query or fragment.
    pub fn parse(text: &str) -> Result<Origin, ConfigError> {
        let bad = |reason: &str| ConfigError {
            var: "ORIGIN",
            reason: format!("{text:?} {reason}"),
        };
        let url = Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must use http or https"));
        }
        if url.host().is_none() {
            return Err(bad("has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not have a query or fragment"));
        }
        Ok(Origin {
            base: url.as_str().trim_end_matches('/').to_owned(),
            path: url.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The URL to forward to: the base, then the request's canonical path and query.
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// The request target the origin receives for `path_and_query`: the base path in front.
    pub fn target(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.path)
    }
}

/// Path prefix of keygate's own routes, e.g. `/_keygate`: starts with `/`, no trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminPrefix(String);

impl Default for AdminPrefix {
    fn default() -> Self {
        AdminPrefix("/_keygate".to_owned())
    }
}

impl AdminPrefix {
    /// Parses `ADMIN_PREFIX`.
    pub fn parse(text: &str) -> Result<AdminPrefix, ConfigError> {
        let segments_ok = text.split('/').skip(1).all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        });
        if text.starts_with('/') && text.len() > 1 && segments_ok {
            Ok(AdminPrefix(text.to_owned()))
        } else {
            Err(ConfigError {
                var: "ADMIN_PREFIX",
                reason: format!("{text:?} must be a path like /_keygate (no trailing '/')"),
            })
        }
    }

    /// The prefix as configured, e.g. `/_keygate`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rest of `path` after the prefix (`""` or starting with `/`), if it is under it.
    pub fn strip<'p>(&self, path: &'p str) -> Option<&'p str> {
        path.strip_prefix(self.0.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests;
