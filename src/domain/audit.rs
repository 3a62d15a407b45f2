//! The organization audit log: append-only events, never edited or deleted through the API.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::error::GateError;
use super::record::KeyId;
use super::time::{self, UnixMillis};

/// What happened.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// Organization created.
    OrgCreated,
    /// Organization plan or access changed.
    OrgUpdated,
    /// Key created (details: scopes).
    KeyCreated,
    /// Key settings changed (details: which fields).
    KeyUpdated,
    /// Key disabled.
    KeyDisabled,
    /// Key enabled again.
    KeyEnabled,
    /// Key secret rotated (details: grace period, when the old secret stops).
    KeyRotated,
    /// Key revoked.
    KeyRevoked,
    /// Every key of the organization revoked (details: how many).
    KeysRevokedAll,
    /// Key seen expired for the first time.
    KeyExpired,
    /// Requests with one of the organization's keys were refused (details: reason, the
    /// presented key's prefix); at most one event per prefix and reason per minute.
    AuthFailed,
}

impl AuditKind {
    /// Parses the `type` filter of the audit query.
    pub fn parse(s: &str) -> Option<AuditKind> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// One audit event.
#[derive(Serialize, Deserialize, Debug)]
pub struct AuditEvent {
    /// Sequence number within the organization, increasing.
    pub seq: u64,
    /// When it happened.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub at: UnixMillis,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: AuditKind,
    /// Who did it: `admin` (the admin token), a key id (an admin-scoped key) or `keygate`.
    pub actor: String,
    /// The key concerned, if any.
    pub key_id: Option<KeyId>,
    /// Event-specific details.
    pub details: Box<RawValue>,
}

/// Filters and page of `GET /orgs/{org}/audit`.
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
pub struct AuditQuery {
    /// Only this type.
    pub kind: Option<AuditKind>,
    /// Only events about this key.
    pub key_id: Option<KeyId>,
    /// Only at or after this instant.
    pub since: Option<UnixMillis>,
    /// Only before this instant.
    pub until: Option<UnixMillis>,
    /// The page.
    pub page: Page,
}

/// A page request: newest first, `limit` items after the `cursor` (a sequence number).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items per page, 1–200.
    pub limit: u32,
    /// Continue below this sequence number.
    pub cursor: Option<u64>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 50,
            cursor: None,
        }
    }
}

/// Reads `limit` and `cursor` (and the audit filters) from query pairs; unknown parameters
/// are refused so a misspelt filter does not silently return everything.
pub fn parse_query(pairs: &[(String, String)], audit: bool) -> Result<AuditQuery, GateError> {
    let bad = |name: &str, why: &str| {
        GateError::InvalidRequest(format!("Invalid query parameter {name}: {why}"))
    };
    let mut q = AuditQuery::default();
    for (name, value) in pairs {
        match (name.as_str(), audit) {
            ("limit", _) => {
                q.page.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| bad("limit", "must be 1 to 200"))?;
            }
            ("cursor", _) => {
                q.page.cursor = Some(
                    value
                        .parse()
                        .map_err(|_| bad("cursor", "use next_cursor from the previous page"))?,
                );
            }
            ("type", true) => {
                q.kind =
                    Some(AuditKind::parse(value).ok_or_else(|| bad("type", "unknown event type"))?)
            }
            ("key_id", true) => {
                q.key_id = Some(KeyId::parse(value).ok_or_else(|| bad("key_id", "not a key id"))?)
            }
            ("since", true) => {
                q.since = Some(
                    UnixMillis::parse_rfc3339(value)
                        .ok_or_else(|| bad("since", "must be RFC 3339"))?,
                )
            }
            ("until", true) => {
                q.until = Some(
                    UnixMillis::parse_rfc3339(value)
                        .ok_or_else(|| bad("until", "must be RFC 3339"))?,
                )
            }
            (other, _) => return Err(bad(other, "unknown parameter")),
        }
    }
    Ok(q)
}

/// Lets one report per key through per minute, so a flood of failures cannot flood the audit
/// log or the logs. Remembers at most `capacity` keys (then starts over: at worst a few extra
/// reports, never unbounded memory).
#[derive(Debug)]
pub struct Throttle<K> {
    last: HashMap<K, UnixMillis>,
    capacity: usize,
}

impl<K: Hash + Eq> Throttle<K> {
    /// Minimum time between two reports of one key.
    pub const PERIOD_MS: u64 = 60_000;

    /// A throttle remembering up to `capacity` keys.
    pub fn new(capacity: usize) -> Throttle<K> {
        Throttle {
            last: HashMap::new(),
            capacity,
        }
    }

    /// Whether `key` may be reported at `now`; if so, that report is remembered.
    pub fn admit(&mut self, key: K, now: UnixMillis) -> bool {
        let fresh = self
            .last
            .get(&key)
            .is_none_or(|at| now.0.saturating_sub(at.0) >= Self::PERIOD_MS);
        if fresh {
            if self.last.len() >= self.capacity {
                self.last.clear();
            }
            self.last.insert(key, now);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn throttle_lets_one_report_per_key_per_minute() {
        let mut t = Throttle::new(2);
        assert!(t.admit("a", UnixMillis(0)));
        assert!(!t.admit("a", UnixMillis(59_999)));
        assert!(t.admit("b", UnixMillis(1)), "keys are independent");
        // Full (a, b): admitting a again starts over, so b is forgotten and may report again.
        assert!(t.admit("a", UnixMillis(60_000)));
        assert_eq!(t.last.len(), 1);
        assert!(
            t.admit("b", UnixMillis(60_001)),
            "b was forgotten when the throttle started over"
        );
        assert!(!t.admit("a", UnixMillis(60_002)), "a is still remembered");
    }

    #[test]
    fn queries_parse_and_refuse_nonsense() {
        let q = parse_query(
            &pairs(&[
                ("type", "key_revoked"),
                ("limit", "10"),
                ("cursor", "42"),
                ("since", "2026-01-01T00:00:00Z"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(q.kind, Some(AuditKind::KeyRevoked));
        assert_eq!(
            q.page,
            Page {
                limit: 10,
                cursor: Some(42)
            }
        );
        assert!(q.since.is_some());
        for bad in [
            ("limit", "0"),
            ("limit", "201"),
            ("cursor", "x"),
            ("type", "nope"),
            ("since", "yesterday"),
            ("colour", "red"),
        ] {
            assert!(parse_query(&pairs(&[bad]), true).is_err(), "{bad:?}");
        }
        assert!(parse_query(&pairs(&[("type", "key_revoked")]), false).is_err());
    }
}
