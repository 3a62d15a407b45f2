//! The organization audit log: append-only events, never edited or deleted through the API;
//! and the query parameters of the management API's reads (pages, audit filters, usage series).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::error::GateError;
use crate::domain::key::record::KeyId;
use crate::domain::limits::usage::Series;
use crate::domain::manage::listing::{self, invalid_param as bad};
use crate::domain::time::{self, UnixMillis};

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
    /// Key expired (written at its `expires_at`, or when a guard first saw it expired).
    KeyExpired,
    /// Key expires in 30, 14 or 7 days (details: days, expires_at).
    KeyExpiring,
    /// The old secret of a rotated key stopped (details: until).
    KeyRotationGraceEnded,
    /// A webhook endpoint was added (details: webhook_id, url).
    WebhookCreated,
    /// A webhook endpoint was changed (details: webhook_id, url).
    WebhookUpdated,
    /// A webhook endpoint was removed (details: webhook_id, url).
    WebhookDeleted,
    /// A webhook endpoint's signing secret was replaced (details: webhook_id, url).
    WebhookSecretRotated,
    /// A webhook endpoint failed every try of a delivery and is marked failing (details:
    /// webhook_id, event_id).
    WebhookFailing,
    /// A key was refused for a rate limit, the first time in that window (details: window,
    /// limit, window_seconds).
    KeyRateLimited,
    /// A key was found in public (details: action, source, url).
    KeyLeaked,
    /// A key authenticated successfully; at most one event per key per hour (details:
    /// country).
    AuthSucceeded,
    /// Requests with one of the organization's keys were refused (details: reason, the
    /// presented key's prefix); at most one event per prefix and reason per minute.
    AuthFailed,
    /// A resource was registered under a parent (details: type, id, parent).
    ResourceCreated,
    /// A registered resource moved to another parent (details: type, id, parent, the
    /// previous parent's id).
    ResourceUpdated,
    /// A registration was removed (details: type, id, the parent it had).
    ResourceDeleted,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [AuditKind; 24] = [
        AuditKind::OrgCreated,
        AuditKind::OrgUpdated,
        AuditKind::KeyCreated,
        AuditKind::KeyUpdated,
        AuditKind::KeyDisabled,
        AuditKind::KeyEnabled,
        AuditKind::KeyRotated,
        AuditKind::KeyRevoked,
        AuditKind::KeysRevokedAll,
        AuditKind::KeyExpired,
        AuditKind::KeyExpiring,
        AuditKind::KeyRotationGraceEnded,
        AuditKind::WebhookCreated,
        AuditKind::WebhookUpdated,
        AuditKind::WebhookDeleted,
        AuditKind::WebhookSecretRotated,
        AuditKind::WebhookFailing,
        AuditKind::KeyRateLimited,
        AuditKind::KeyLeaked,
        AuditKind::AuthSucceeded,
        AuditKind::AuthFailed,
        AuditKind::ResourceCreated,
        AuditKind::ResourceUpdated,
        AuditKind::ResourceDeleted,
    ];

    /// The kind as the API and the log's `type` column spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::OrgCreated => "org_created",
            AuditKind::OrgUpdated => "org_updated",
            AuditKind::KeyCreated => "key_created",
            AuditKind::KeyUpdated => "key_updated",
            AuditKind::KeyDisabled => "key_disabled",
            AuditKind::KeyEnabled => "key_enabled",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::KeyRevoked => "key_revoked",
            AuditKind::KeysRevokedAll => "keys_revoked_all",
            AuditKind::KeyExpired => "key_expired",
            AuditKind::KeyExpiring => "key_expiring",
            AuditKind::KeyRotationGraceEnded => "key_rotation_grace_ended",
            AuditKind::WebhookCreated => "webhook_created",
            AuditKind::WebhookUpdated => "webhook_updated",
            AuditKind::WebhookDeleted => "webhook_deleted",
            AuditKind::WebhookSecretRotated => "webhook_secret_rotated",
            AuditKind::WebhookFailing => "webhook_failing",
            AuditKind::KeyRateLimited => "key_rate_limited",
            AuditKind::KeyLeaked => "key_leaked",
            AuditKind::AuthSucceeded => "auth_succeeded",
            AuditKind::AuthFailed => "auth_failed",
            AuditKind::ResourceCreated => "resource_created",
            AuditKind::ResourceUpdated => "resource_updated",
            AuditKind::ResourceDeleted => "resource_deleted",
        }
    }

    /// Parses the `type` filter of the audit query.
    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::str::FromStr for AuditKind {
    type Err = GateError;

    fn from_str(s: &str) -> Result<AuditKind, GateError> {
        AuditKind::parse(s).ok_or_else(|| GateError::Internal(format!("unknown audit kind {s:?}")))
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

impl Page {
    /// How many rows to ask the store for: one past the page, to learn whether another follows.
    pub fn rows_to_fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The sequence number the page continues below (everything without a cursor).
    pub fn below(&self) -> i64 {
        // Without a cursor: past any sequence number, and within JavaScript's safe integers
        // (the runtime warns about, and rounds, a larger binding).
        const PAST_ANY: i64 = (1 << 53) - 1;
        self.cursor.map_or(PAST_ANY, |c| c as i64)
    }

    /// Cuts rows fetched newest first with [`rows_to_fetch`](Page::rows_to_fetch) to this page;
    /// returns them and the cursor of the next page (the last row's sequence number), if any.
    pub fn cut<T>(&self, mut rows: Vec<T>, seq: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
        let more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let next = more
            .then(|| rows.last().map(|r| seq(r).to_string()))
            .flatten();
        (rows, next)
    }
}

/// Reads the audit log's filters and page from query pairs; unknown parameters are refused
/// so a misspelt filter does not silently return everything.
pub fn parse_query(pairs: &[(String, String)]) -> Result<AuditQuery, GateError> {
    let time = |name: &str, value: &str| {
        UnixMillis::parse_rfc3339(value).ok_or_else(|| bad(name, "must be RFC 3339"))
    };
    listing::once_each(pairs)?;
    let mut q = AuditQuery::default();
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => q.page.limit = listing::parse_limit(value)?,
            "cursor" => {
                q.page.cursor = Some(
                    value
                        .parse()
                        .map_err(|_| bad("cursor", "use next_cursor from the previous page"))?,
                );
            }
            "type" => {
                q.kind =
                    Some(AuditKind::parse(value).ok_or_else(|| bad("type", "unknown event type"))?)
            }
            "key_id" => {
                q.key_id = Some(KeyId::parse(value).ok_or_else(|| bad("key_id", "not a key id"))?)
            }
            "since" => q.since = Some(time(name, value)?),
            "until" => q.until = Some(time(name, value)?),
            other => return Err(bad(other, "unknown parameter")),
        }
    }
    Ok(q)
}

/// Reads the usage route's one parameter, `series` (`hour` or `day`; none: the summary). An
/// unknown value, a repeated `series` or any other parameter is refused, naming it.
pub fn parse_usage_query(pairs: &[(String, String)]) -> Result<Option<Series>, GateError> {
    listing::once_each(pairs)?;
    let mut series = None;
    for (name, value) in pairs {
        match name.as_str() {
            "series" => {
                series =
                    Some(Series::parse(value).ok_or_else(|| bad("series", "must be hour or day"))?)
            }
            other => return Err(bad(other, "unknown parameter")),
        }
    }
    Ok(series)
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

    /// `Err(milliseconds, at least 1)` while `key` has used its budget in its current minute:
    /// checked before work whose failure is counted (an admin login), without counting.
    ///
    /// Worked example, budget 10 (failed admin logins): failures at 0 s … 9 s are each
    /// [`take`](Throttle::take)n; a try at 20 s waits 40 s and is not looked at; at 60 s the
    /// client's minute is over and it is checked again.
    pub fn wait(&mut self, key: &K, now: UnixMillis) -> Result<(), u64> {
        self.expire(now);
        match self.periods.get(key) {
            Some(period) if period.used >= self.budget => {
                let ends = period.start.0.saturating_add(Self::PERIOD_MS);
                Err(ends.saturating_sub(now.0).max(1))
            }
            Some(_) | None => Ok(()),
        }
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

#[cfg(test)]
mod tests;
