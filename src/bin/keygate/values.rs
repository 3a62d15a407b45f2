//! The values the flags take, each parsed once into a typed value by a clap `value_parser`, so
//! a bad value is a usage error (exit 2) that names the flag before any request is sent.
//! Where keygate's library has the type (ids, scopes, plans, windows, RFC 3339), it is used
//! here too: the CLI accepts what the API accepts, spelled the same way.

use std::collections::BTreeMap;
use std::str::FromStr;

use keygate::domain::leak::OnLeak;
use keygate::domain::manage::audit::AuditKind;
use keygate::domain::{GuardFallback, KeyId, OrgId, Plan, RateLimit, Scope, UnixMillis};
use serde_json::value::RawValue;

/// A length of time written `<number><unit>`: `90s`, `15m`, `12h`, `30d`, `2w`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Span {
    millis: u64,
}

impl Span {
    const UNITS: [(char, u64); 5] = [
        ('s', 1_000),
        ('m', 60_000),
        ('h', UnixMillis::HOUR),
        ('d', UnixMillis::DAY),
        ('w', 7 * UnixMillis::DAY),
    ];

    /// Parses `<number><unit>`, the number at least 1.
    pub fn parse(s: &str) -> Result<Span, String> {
        let bad = || {
            format!(
                "{s:?} is not a duration: write a number and a unit, e.g. 90d, 12h, 30m, 45s or 2w"
            )
        };
        let unit = s.chars().last().ok_or_else(bad)?;
        let per = Span::UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, ms)| *ms)
            .ok_or_else(bad)?;
        let digits = &s[..s.len() - unit.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        match n.checked_mul(per) {
            Some(millis) if n > 0 => Ok(Span { millis }),
            _ => Err(bad()),
        }
    }

    /// The length in milliseconds.
    pub fn millis(self) -> u64 {
        self.millis
    }

    /// The number of days, when the span is a whole number of them.
    pub fn whole_days(self) -> Option<u64> {
        self.millis
            .is_multiple_of(UnixMillis::DAY)
            .then_some(self.millis / UnixMillis::DAY)
    }
}

/// A point in time on the command line: RFC 3339, or a [`Span`] from now whose direction the
/// flag decides (`--unused-since 90d` looks back, `--expires-before 30d` looks ahead).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum When {
    /// An RFC 3339 instant.
    At(UnixMillis),
    /// A span from now.
    From(Span),
}

impl When {
    /// Parses RFC 3339 (`2026-01-15T00:00:00Z`) or a span (`90d`).
    pub fn parse(s: &str) -> Result<When, String> {
        if let Some(at) = UnixMillis::parse_rfc3339(s) {
            return Ok(When::At(at));
        }
        Span::parse(s).map(When::From).map_err(|_| {
            format!("{s:?} is neither RFC 3339 (2026-01-15T00:00:00Z) nor a duration from now (90d, 12h)")
        })
    }

    /// The instant, a span counted back from `now`.
    pub fn before(self, now: UnixMillis) -> UnixMillis {
        match self {
            When::At(at) => at,
            When::From(span) => UnixMillis(now.0.saturating_sub(span.millis)),
        }
    }

    /// The instant, a span counted ahead of `now`.
    pub fn after(self, now: UnixMillis) -> UnixMillis {
        match self {
            When::At(at) => at,
            When::From(span) => now.plus_millis(span.millis),
        }
    }
}

/// An RFC 3339 instant, e.g. `2027-01-15T00:00:00Z`.
pub fn instant(s: &str) -> Result<UnixMillis, String> {
    UnixMillis::parse_rfc3339(s)
        .ok_or_else(|| format!("{s:?} is not RFC 3339, e.g. 2027-01-15T00:00:00Z"))
}

/// `--rate-limit NAME=LIMIT/WINDOW`: `minute=100/60` (seconds) or `day=10000/1d`.
pub fn rate_limit(s: &str) -> Result<RateLimit, String> {
    let bad = |why: &str| format!("{s:?}: {why} (write NAME=LIMIT/SECONDS, e.g. minute=100/60)");
    let (name, rest) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (limit, window) = rest.split_once('/').ok_or_else(|| bad("no '/'"))?;
    let limit: u32 = limit
        .parse()
        .map_err(|_| bad("the limit is not a whole number"))?;
    let seconds = match window.parse::<u32>() {
        Ok(seconds) => seconds,
        Err(_) => {
            let span =
                Span::parse(window).map_err(|_| bad("the window is not seconds or 1m/1h/1d"))?;
            u32::try_from(span.millis() / 1000).map_err(|_| bad("the window is too long"))?
        }
    };
    RateLimit::new(name, limit, seconds)
        .ok_or_else(|| bad("neither the limit nor the window may be 0"))
}

/// `--resource TYPE=ID,…` or `--field RESOURCE=PATH,…`: one name and its entries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Restriction {
    name: String,
    entries: Vec<String>,
}

impl Restriction {
    /// Parses `name=a,b,c`.
    pub fn parse(s: &str) -> Result<Restriction, String> {
        let (name, entries) = s
            .split_once('=')
            .filter(|(name, entries)| !name.is_empty() && !entries.is_empty())
            .ok_or_else(|| format!("{s:?}: write NAME=A,B (e.g. site=site_1,site_2)"))?;
        let entries: Vec<String> = entries.split(',').map(str::to_owned).collect();
        if entries.iter().any(String::is_empty) {
            return Err(format!("{s:?}: an empty entry between commas"));
        }
        Ok(Restriction {
            name: name.to_owned(),
            entries,
        })
    }

    /// The restrictions as the API's object: one list per name, a name given twice merged.
    pub fn map(list: &[Restriction]) -> BTreeMap<&str, Vec<&str>> {
        let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in list {
            map.entry(&r.name)
                .or_default()
                .extend(r.entries.iter().map(String::as_str));
        }
        map
    }
}

/// `--meta JSON`: a JSON object, kept as written.
pub fn meta(s: &str) -> Result<Box<RawValue>, String> {
    let raw: Box<RawValue> = serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?;
    if raw.get().trim_start().starts_with('{') {
        Ok(raw)
    } else {
        Err("meta must be a JSON object, e.g. {\"team\":\"data\"}".to_owned())
    }
}

/// An organization id: lower-case letters, digits, `_` and `-`.
pub fn org(s: &str) -> Result<OrgId, String> {
    OrgId::parse(s).ok_or_else(|| {
        format!("{s:?} is not an organization id: use 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit")
    })
}

/// A key id: `key_` and letters or digits.
pub fn key_id(s: &str) -> Result<KeyId, String> {
    KeyId::parse(s).ok_or_else(|| format!("{s:?} is not a key id (key_…)"))
}

/// A scope: `read`, `write`, `admin` or `resource:action`.
pub fn scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| {
        format!("{s:?} is not a scope: read, write, admin or resource:action (e.g. employees:read)")
    })
}

/// A plan name.
pub fn plan(s: &str) -> Result<Plan, String> {
    Plan::from_str(s).map_err(|_| {
        let names: Vec<&str> = Plan::ALL.iter().map(|p| p.as_str()).collect();
        format!("{s:?} is not a plan: {}", names.join(", "))
    })
}

/// What a leaked key becomes: `revoke`, `disable` or `notify`.
pub fn on_leak(s: &str) -> Result<OnLeak, String> {
    OnLeak::from_str(s)
}

/// An audit event type, as the API spells it.
pub fn audit_kind(s: &str) -> Result<AuditKind, String> {
    AuditKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("{s:?} is not an event type: {}", names.join(", "))
    })
}

/// What a key does when its guard is unreachable: `deny` or `allow`.
pub fn guard_fallback(s: &str) -> Result<GuardFallback, String> {
    match s {
        "deny" => Ok(GuardFallback::Deny),
        "allow" => Ok(GuardFallback::Allow),
        _ => Err(format!("{s:?}: use deny or allow")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = UnixMillis::DAY;

    #[test]
    fn spans_take_one_unit() {
        for (text, ms) in [
            ("45s", 45_000),
            ("30m", 1_800_000),
            ("12h", 12 * UnixMillis::HOUR),
            ("90d", 90 * DAY),
            ("2w", 14 * DAY),
        ] {
            assert_eq!(Span::parse(text).map(Span::millis), Ok(ms), "{text}");
        }
        for bad in [
            "",
            "d",
            "30",
            "0d",
            "-3d",
            "+3d",
            "3 d",
            "1.5h",
            "3y",
            "３d",
            "99999999999999999w",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Span::parse("30d").unwrap().whole_days(), Some(30));
        assert_eq!(Span::parse("2w").unwrap().whole_days(), Some(14));
        assert_eq!(Span::parse("36h").unwrap().whole_days(), None);
    }

    #[test]
    fn a_when_is_rfc_3339_or_a_span_in_the_flags_direction() {
        let now = UnixMillis(100 * DAY);
        let at = When::parse("2026-01-15T00:00:00Z").unwrap();
        assert_eq!(at, When::At(UnixMillis(1_768_435_200_000)));
        assert_eq!(at.before(now), at.after(now), "an instant has no direction");
        let ninety = When::parse("90d").unwrap();
        assert_eq!(ninety.before(now), UnixMillis(10 * DAY));
        assert_eq!(ninety.after(now), UnixMillis(190 * DAY));
        assert_eq!(
            When::parse("200d").unwrap().before(now),
            UnixMillis(0),
            "saturates"
        );
        let err = When::parse("yesterday").unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("90d"), "{err}");
    }

    #[test]
    fn rate_limits_are_name_limit_and_window() {
        let minute = rate_limit("minute=100/60").unwrap();
        assert_eq!(minute, RateLimit::new("minute", 100, 60).unwrap());
        assert_eq!(
            rate_limit("day=10000/1d").unwrap(),
            RateLimit::new("day", 10_000, 86_400).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&minute).unwrap(),
            r#"{"name":"minute","limit":100,"window_seconds":60}"#,
            "the API's field names"
        );
        for (bad, why) in [
            ("minute", "no '='"),
            ("minute=100", "no '/'"),
            ("minute=lots/60", "limit"),
            ("minute=100/soon", "window"),
            ("minute=0/60", "may be 0"),
            ("minute=100/0", "may be 0"),
        ] {
            let err = rate_limit(bad).unwrap_err();
            assert!(
                err.contains(why) && err.contains("NAME=LIMIT/SECONDS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn restrictions_merge_by_name() {
        let list = [
            Restriction::parse("site=s1,s2").unwrap(),
            Restriction::parse("team=t1").unwrap(),
            Restriction::parse("site=s3").unwrap(),
        ];
        let map = Restriction::map(&list);
        assert_eq!(map["site"], ["s1", "s2", "s3"]);
        assert_eq!(map["team"], ["t1"]);
        assert_eq!(
            Restriction::parse("employees=name,pages.path").unwrap(),
            Restriction {
                name: "employees".into(),
                entries: vec!["name".into(), "pages.path".into()]
            }
        );
        for bad in ["site", "=s1", "site=", "site=s1,,s2", "site=s1,"] {
            assert!(Restriction::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn meta_is_a_json_object() {
        assert_eq!(
            meta(r#"{"team": "data"}"#).unwrap().get(),
            r#"{"team": "data"}"#
        );
        assert!(meta("[1]").unwrap_err().contains("JSON object"));
        assert!(meta("{team}").unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn names_are_the_apis() {
        assert!(org("acme-2").is_ok());
        assert!(org("Acme").unwrap_err().contains("organization id"));
        assert!(key_id("key_abc123").is_ok());
        assert!(key_id("abc").is_err());
        assert_eq!(
            scope("employees:read").unwrap().to_string(),
            "employees:read"
        );
        assert!(scope("employees:fly").is_err());
        assert_eq!(plan("pro"), Ok(Plan::Pro));
        assert!(
            plan("gold")
                .unwrap_err()
                .contains("free, pro, business, enterprise")
        );
        assert_eq!(on_leak("disable"), Ok(OnLeak::Disable));
        assert!(on_leak("ignore").is_err());
        assert_eq!(audit_kind("key_revoked"), Ok(AuditKind::KeyRevoked));
        assert!(
            audit_kind("key_burned")
                .unwrap_err()
                .contains("key_created")
        );
        assert_eq!(guard_fallback("allow"), Ok(GuardFallback::Allow));
        assert!(guard_fallback("maybe").is_err());
    }
}
