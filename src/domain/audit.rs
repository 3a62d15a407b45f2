//! The organization audit log: append-only events, never edited or deleted through the API.

use std::collections::{HashMap, VecDeque};
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

/// Lets `budget` events per key through per minute (one, for reports), so a flood of failures
/// cannot flood the audit log or the logs, nor cost more than the budget in lookups.
///
/// A key's minute starts with its first event and ends [`PERIOD_MS`](Throttle::PERIOD_MS)
/// later; then the key is forgotten and its next event starts a new minute. So at most
/// `budget` events pass per key in each of its minutes (at most `2 × budget` in any 60 s).
///
/// Memory is bounded: at most `capacity` keys are remembered. Ended minutes are dropped as time
/// passes (oldest first, amortized O(1) per call); when `capacity` keys are all within their
/// minute, the one whose minute started first is forgotten to make room (it may get a fresh
/// budget early). Never everything at once.
#[derive(Debug)]
pub struct Throttle<K> {
    periods: HashMap<K, Period>,
    /// `(key, start of its minute)` in the order the minutes started; entries whose key has
    /// started another minute since are skipped when they reach the front.
    order: VecDeque<(K, UnixMillis)>,
    capacity: usize,
    budget: u32,
}

#[derive(Debug, Clone, Copy)]
struct Period {
    start: UnixMillis,
    used: u32,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// Length of one key's period: a minute.
    pub const PERIOD_MS: u64 = 60_000;

    /// A throttle letting one event per key per minute through, remembering up to `capacity`
    /// keys.
    pub fn new(capacity: usize) -> Throttle<K> {
        Throttle::with_budget(capacity, 1)
    }

    /// A throttle letting `budget` events (at least 1) per key per minute through.
    pub fn with_budget(capacity: usize, budget: u32) -> Throttle<K> {
        Throttle {
            periods: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            budget: budget.max(1),
        }
    }

    /// Whether `key` may have one more event at `now`; if so, it is counted.
    pub fn admit(&mut self, key: K, now: UnixMillis) -> bool {
        self.take(key, now).is_ok()
    }

    /// Counts one event of `key` at `now`, or says in how many milliseconds (at least 1) its
    /// minute ends and it may have one again.
    pub fn take(&mut self, key: K, now: UnixMillis) -> Result<(), u64> {
        self.expire(now);
        if let Some(period) = self.periods.get_mut(&key) {
            if period.used < self.budget {
                period.used += 1;
                return Ok(());
            }
            let ends = period.start.0.saturating_add(Self::PERIOD_MS);
            return Err(ends.saturating_sub(now.0).max(1));
        }
        if self.periods.len() >= self.capacity {
            self.forget_oldest();
        }
        self.periods.insert(
            key.clone(),
            Period {
                start: now,
                used: 1,
            },
        );
        self.order.push_back((key, now));
        Ok(())
    }

    /// Gives back one event of `key` (it turned out not to count, e.g. a lookup that found a
    /// real key).
    pub fn refund(&mut self, key: &K) {
        if let Some(period) = self.periods.get_mut(key) {
            period.used = period.used.saturating_sub(1);
        }
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.periods.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.periods.is_empty()
    }

    /// Drops the keys whose minute has ended, oldest first.
    fn expire(&mut self, now: UnixMillis) {
        while let Some((key, start)) = self.order.front() {
            if now.0.saturating_sub(start.0) < Self::PERIOD_MS {
                break;
            }
            if self.periods.get(key).is_some_and(|p| p.start == *start) {
                self.periods.remove(key);
            }
            self.order.pop_front();
        }
    }

    /// Forgets the key whose minute started first.
    fn forget_oldest(&mut self) {
        while let Some((key, start)) = self.order.pop_front() {
            if self.periods.get(&key).is_some_and(|p| p.start == start) {
                self.periods.remove(&key);
                return;
            }
        }
    }
}

/// Counts failed attempts per client and shuts a client out once it has failed `max` times
/// within a minute: until that minute (counted from its first failure) is over, the caller
/// answers without checking anything, so guessing runs at `max` tries per minute at most.
///
/// Clients are opaque keys (an IP address); `None` (no client known) is one shared tally. It
/// remembers at most `capacity` clients: when full, clients whose minute is over are forgotten,
/// and if that is not enough, further clients share the shared tally. Memory stays bounded, and
/// a flood from many addresses can shut out only the clients it makes share, never unlock one.
///
/// Worked example, `max = 10`: failures at 0 s, 1 s, …, 9 s are each answered normally (the
/// tenth shuts the client out, [`fail`](AttemptLimiter::fail) says so once); a try at 20 s is
/// refused with 40 s to wait; at 60 s the client's minute is over and it is checked again.
#[derive(Debug)]
pub struct AttemptLimiter<K> {
    clients: HashMap<K, Tally>,
    shared: Tally,
    capacity: usize,
    max: u32,
}

/// One client's failures in its current minute.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// The minute's first failure.
    since: UnixMillis,
    /// Failures since then.
    failures: u32,
}

impl Tally {
    fn over(&self, now: UnixMillis) -> bool {
        now.0.saturating_sub(self.since.0) >= AttemptLimiter::<()>::PERIOD_MS
    }

    /// Seconds to wait (rounded up, at least 1) when shut out at `now`.
    fn wait(&self, now: UnixMillis, max: u32) -> Option<u64> {
        (self.failures >= max && !self.over(now)).then(|| {
            let end = self.since.0 + AttemptLimiter::<()>::PERIOD_MS;
            end.saturating_sub(now.0).div_ceil(1000).max(1)
        })
    }

    /// Counts a failure at `now`; true when it is the one that reaches `max`.
    fn fail(&mut self, now: UnixMillis, max: u32) -> bool {
        if self.over(now) {
            *self = Tally {
                since: now,
                failures: 0,
            };
        }
        self.failures = self.failures.saturating_add(1);
        self.failures == max
    }
}

impl<K: Hash + Eq> AttemptLimiter<K> {
    /// The span in which `max` failures shut a client out.
    pub const PERIOD_MS: u64 = 60_000;

    /// A limiter allowing `max` failures per client per minute, remembering `capacity` clients.
    pub fn new(max: u32, capacity: usize) -> AttemptLimiter<K> {
        AttemptLimiter {
            clients: HashMap::new(),
            shared: Tally::default(),
            capacity,
            max: max.max(1),
        }
    }

    /// `Err(seconds to wait)` when `client` is shut out at `now`; then do not check its
    /// credential at all.
    pub fn check(&mut self, client: Option<&K>, now: UnixMillis) -> Result<(), u64> {
        let tally = match client.map(|c| self.clients.get(c).copied()) {
            Some(Some(own)) => own,
            Some(None) if !self.full(now) => return Ok(()),
            Some(None) | None => self.shared,
        };
        tally.wait(now, self.max).map_or(Ok(()), Err)
    }

    /// Counts a failed attempt of `client` at `now`. True when this failure shuts it out: the
    /// one moment to report the burst.
    pub fn fail(&mut self, client: Option<K>, now: UnixMillis) -> bool {
        let max = self.max;
        let tally = match client {
            Some(c) if self.clients.contains_key(&c) || !self.full(now) => {
                self.clients.entry(c).or_default()
            }
            Some(_) | None => &mut self.shared,
        };
        tally.fail(now, max)
    }

    /// Whether no new client fits, after forgetting those whose minute is over.
    fn full(&mut self, now: UnixMillis) -> bool {
        if self.clients.len() >= self.capacity {
            self.clients.retain(|_, t| !t.over(now));
        }
        self.clients.len() >= self.capacity
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
        assert!(t.admit("a", UnixMillis(60_000)), "a's minute ended");
        assert!(
            !t.admit("b", UnixMillis(60_000)),
            "b's minute has 1 ms left"
        );
        assert!(t.admit("b", UnixMillis(60_001)));
    }

    #[test]
    fn a_budget_per_key_per_minute_with_refunds_and_retry_after() {
        let mut t = Throttle::with_budget(100, 3);
        for at in [0, 10, 20] {
            assert_eq!(t.take("client", UnixMillis(at)), Ok(()));
        }
        assert_eq!(
            t.take("client", UnixMillis(15_000)),
            Err(45_000),
            "room again when the minute that started at 0 ends"
        );
        assert_eq!(t.take("other", UnixMillis(15_000)), Ok(()));
        t.refund(&"client");
        assert_eq!(t.take("client", UnixMillis(15_001)), Ok(()), "refunded");
        assert!(t.take("client", UnixMillis(15_002)).is_err());
        assert_eq!(t.take("client", UnixMillis(60_000)), Ok(()), "a new minute");
    }

    #[test]
    fn a_full_throttle_forgets_the_oldest_minute_only() {
        let mut t = Throttle::new(3);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            assert!(t.admit(key, UnixMillis(i as u64)));
        }
        // Full: d makes room by forgetting a (the oldest minute), and only a.
        assert!(t.admit("d", UnixMillis(10)));
        assert_eq!(t.len(), 3);
        assert!(!t.admit("b", UnixMillis(11)) && !t.admit("c", UnixMillis(12)));
        assert!(t.admit("a", UnixMillis(13)), "a was forgotten");
        // Ended minutes are dropped as time passes, whatever the traffic.
        assert!(t.admit("e", UnixMillis(70_000)));
        assert_eq!(t.len(), 1, "only e's minute is still running");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let mut t = Throttle::with_budget(1_000, 5);
        for i in 0..100_000u64 {
            t.admit(i, UnixMillis(i / 10));
            assert!(t.len() <= 1_000);
            assert!(t.order.len() <= 2_000, "the order queue stays bounded too");
        }
    }

    #[test]
    fn ten_failures_a_minute_shut_a_client_out_until_the_minute_ends() {
        let mut l = AttemptLimiter::new(10, 100);
        let (a, b) = ("203.0.113.7", "198.51.100.1");
        for i in 0..10 {
            assert_eq!(l.check(Some(&a), UnixMillis(i * 1000)), Ok(()), "try {i}");
            assert_eq!(l.fail(Some(a), UnixMillis(i * 1000)), i == 9, "failure {i}");
        }
        assert_eq!(l.check(Some(&a), UnixMillis(9_000)), Err(51));
        assert_eq!(l.check(Some(&a), UnixMillis(20_000)), Err(40));
        assert_eq!(l.check(Some(&a), UnixMillis(59_001)), Err(1), "rounded up");
        assert_eq!(
            l.check(Some(&b), UnixMillis(20_000)),
            Ok(()),
            "others are not"
        );
        assert_eq!(
            l.check(None, UnixMillis(20_000)),
            Ok(()),
            "nor the shared tally"
        );
        assert_eq!(
            l.check(Some(&a), UnixMillis(60_000)),
            Ok(()),
            "the minute is over"
        );
        assert!(
            !l.fail(Some(a), UnixMillis(60_000)),
            "a new minute starts at 1"
        );
        assert_eq!(l.check(Some(&a), UnixMillis(60_001)), Ok(()));
    }

    #[test]
    fn failures_spread_over_minutes_never_shut_out() {
        let mut l = AttemptLimiter::new(10, 100);
        for i in 0..100 {
            let now = UnixMillis(i * 7_000); // 8 or 9 per minute
            assert_eq!(l.check(Some(&"c"), now), Ok(()), "try {i}");
            assert!(!l.fail(Some("c"), now));
        }
    }

    #[test]
    fn unknown_clients_and_overflow_share_one_tally() {
        let mut l = AttemptLimiter::new(2, 2);
        assert!(!l.fail(None, UnixMillis(0)));
        assert!(l.fail(None, UnixMillis(0)), "the shared tally reaches max");
        assert_eq!(l.check(None, UnixMillis(1)), Err(60));
        // Two remembered clients fill the limiter; a third counts in the shared tally.
        assert!(!l.fail(Some("a"), UnixMillis(0)));
        assert!(!l.fail(Some("b"), UnixMillis(0)));
        assert_eq!(
            l.check(Some(&"c"), UnixMillis(1)),
            Err(60),
            "c shares the tally"
        );
        assert_eq!(l.check(Some(&"a"), UnixMillis(1)), Ok(()), "a has its own");
        // Once their minute is over, remembered clients make room again.
        assert_eq!(l.check(Some(&"c"), UnixMillis(60_000)), Ok(()));
        assert!(!l.fail(Some("c"), UnixMillis(60_000)));
        assert_eq!(l.clients.len(), 1, "a and b were forgotten");
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
