//! What a key's guard remembers of its use: last use, admitted requests per hour for a week
//! and in all, refusals by reason, and the 50 most recent events.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::domain::time::{self, UnixMillis};

/// Usage events an isolate keeps for its next call (the latest).
pub const SAMPLE: usize = 10;

/// Recent events kept.
pub const RECENT: usize = 50;
const HOURS_KEPT: u64 = 7 * 24;

/// Longest path a usage event keeps, in bytes (a longer one is cut, marked with `…`).
pub const MAX_PATH_BYTES: usize = 512;
/// Longest method kept (methods are short tokens; a made-up one may not be).
pub const MAX_METHOD_BYTES: usize = 32;
/// Longest outcome kept (keygate's own codes are shorter).
pub const MAX_OUTCOME_BYTES: usize = 64;
/// Longest country kept (ISO 3166 codes have 2 letters; `T1` for Tor).
pub const MAX_COUNTRY_BYTES: usize = 8;

/// Cuts `text` to at most `max` bytes on a character boundary, ending with `…` when it was
/// cut (the mark counts in the `max`). `max` below 3 bytes cuts without a mark.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    const MARK: &str = "…";
    let room = max.saturating_sub(if max >= MARK.len() { MARK.len() } else { 0 });
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    if max >= MARK.len() {
        text.push_str(MARK);
    }
}

/// One request as the guard stores it (times in milliseconds).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct UsageEvent {
    /// When.
    pub at: UnixMillis,
    /// HTTP method.
    pub method: String,
    /// Path (no query: it may carry secrets of the client's own).
    pub path: String,
    /// `admitted` (forwarded to the origin) or the refusal's error code.
    pub outcome: String,
    /// The status keygate answered with when it refused; `None` for a forwarded request, whose
    /// status only the origin knows (recording it would cost a second call per request).
    #[serde(default)]
    pub status: Option<u16>,
    /// Client country, when the platform knows it.
    pub country: Option<String>,
}

impl UsageEvent {
    /// The event with every text field cut to its bound, so the guard's stored usage (50
    /// events) always fits in one storage value: a client's 60 KB path must not make the
    /// counters' write fail.
    pub fn bounded(mut self) -> UsageEvent {
        truncate(&mut self.path, MAX_PATH_BYTES);
        truncate(&mut self.method, MAX_METHOD_BYTES);
        truncate(&mut self.outcome, MAX_OUTCOME_BYTES);
        if let Some(country) = &mut self.country {
            truncate(country, MAX_COUNTRY_BYTES);
        }
        self
    }
}

/// What serving one request used of the platform's billed operations, counted where each call
/// is made (not estimated): KV reads, Durable Object requests, and storage rows written (each
/// key-value `put` of a SQLite-backed object writes one row of its key-value table).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// KV `get`s issued (an isolate-cache hit issues none).
    pub kv_reads: u32,
    /// Requests to Durable Objects, including those one object makes to another.
    pub do_requests: u32,
    /// Durable Object storage rows written.
    pub rows_written: u32,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.kv_reads += other.kv_reads;
        self.do_requests += other.do_requests;
        self.rows_written += other.rows_written;
    }
}

/// The usage state of one key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    last_used_at: Option<UnixMillis>,
    total: u64,
    /// `(hour since the epoch, admitted requests)`, oldest first.
    hourly: VecDeque<(u64, u64)>,
    refused: BTreeMap<String, u64>,
    recent: VecDeque<UsageEvent>,
}

/// `GET /orgs/{org}/keys/{id}/usage`.
#[derive(Serialize, Debug)]
pub struct UsageView {
    /// Last admitted request.
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    pub last_used_at: Option<UnixMillis>,
    /// Admitted requests in the last 24 hours (whole hours).
    pub requests_24h: u64,
    /// Admitted requests in the last 7 days (whole hours).
    pub requests_7d: u64,
    /// Admitted requests since the key was created.
    pub requests_total: u64,
    /// Refused requests by error code.
    pub refused: BTreeMap<String, u64>,
    /// The most recent events, newest first.
    pub recent: Vec<EventView>,
}

/// The part of a [`UsageView`] that key listings show, read back from the guard's answer.
#[derive(Deserialize, Debug, Default)]
pub struct UsageSummary {
    /// Last admitted request, RFC 3339.
    pub last_used_at: Option<String>,
    /// Admitted requests in all.
    pub requests_total: u64,
}

/// A usage event as the API shows it.
#[derive(Serialize, Debug)]
pub struct EventView {
    /// When, RFC 3339.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub at: UnixMillis,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// `admitted` or the refusal's error code.
    pub outcome: String,
    /// keygate's status for a refusal; `None` when forwarded.
    pub status: Option<u16>,
    /// Client country, if known.
    pub country: Option<String>,
}

impl Usage {
    /// Records a request: admitted when `event.outcome` is `admitted`, else a refusal. Its text
    /// fields are cut to their bounds ([`UsageEvent::bounded`]).
    pub fn record(&mut self, event: UsageEvent) {
        let event = event.bounded();
        if event.outcome == "admitted" {
            self.last_used_at = Some(event.at);
            self.total += 1;
            let hour = event.at.0 / UnixMillis::HOUR;
            match self.hourly.back_mut() {
                Some((h, n)) if *h == hour => *n += 1,
                _ => self.hourly.push_back((hour, 1)),
            }
            while self
                .hourly
                .front()
                .is_some_and(|(h, _)| h + HOURS_KEPT <= hour)
            {
                self.hourly.pop_front();
            }
        } else {
            *self.refused.entry(event.outcome.clone()).or_default() += 1;
        }
        self.recent.push_back(event);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// Records what an isolate did under a lease: its admissions (counted in the hour of the
    /// last one: a lease lasts at most a minute), its refusals, and its sampled events.
    pub fn absorb(&mut self, tally: &Tally) {
        if let Some(at) = tally.last_admitted_at {
            let admitted = u64::from(tally.admitted);
            self.last_used_at = self.last_used_at.max(Some(at));
            self.total += admitted;
            let hour = at.0 / UnixMillis::HOUR;
            match self.hourly.iter_mut().rev().find(|(h, _)| *h <= hour) {
                Some((h, n)) if *h == hour => *n += admitted,
                _ => {
                    let at = self.hourly.partition_point(|(h, _)| *h < hour);
                    self.hourly.insert(at, (hour, admitted));
                }
            }
        }
        for (code, n) in &tally.refused {
            *self.refused.entry(code.clone()).or_default() += u64::from(*n);
        }
        for event in &tally.sample {
            self.recent.push_back(event.clone().bounded());
            if self.recent.len() > RECENT {
                self.recent.pop_front();
            }
        }
    }

    /// The last admitted request.
    pub fn last_used_at(&self) -> Option<UnixMillis> {
        self.last_used_at
    }

    /// Admitted requests in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The view at `now`.
    pub fn view(&self, now: UnixMillis) -> UsageView {
        let hour = now.0 / UnixMillis::HOUR;
        let since = |hours: u64| {
            self.hourly
                .iter()
                .filter(|(h, _)| h + hours > hour)
                .map(|(_, n)| n)
                .sum()
        };
        UsageView {
            last_used_at: self.last_used_at,
            requests_24h: since(24),
            requests_7d: since(HOURS_KEPT),
            requests_total: self.total,
            refused: self.refused.clone(),
            recent: self
                .recent
                .iter()
                .rev()
                .map(|e| EventView {
                    at: e.at,
                    method: e.method.clone(),
                    path: e.path.clone(),
                    outcome: e.outcome.clone(),
                    status: e.status,
                    country: e.country.clone(),
                })
                .collect(),
        }
    }
}

/// The usage an isolate recorded under a lease.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests admitted.
    pub admitted: u32,
    /// The last admitted request.
    pub last_admitted_at: Option<UnixMillis>,
    /// Requests refused (status or authorization), by error code.
    pub refused: Vec<(String, u32)>,
    /// The latest events, at most [`SAMPLE`], oldest first.
    pub sample: Vec<UsageEvent>,
}

impl Tally {
    pub(crate) fn record(&mut self, event: UsageEvent) {
        if event.outcome == "admitted" {
            self.admitted += 1;
            self.last_admitted_at = Some(event.at);
        } else {
            match self.refused.iter_mut().find(|(c, _)| *c == event.outcome) {
                Some((_, n)) => *n += 1,
                None => self.refused.push((event.outcome.clone(), 1)),
            }
        }
        if self.sample.len() == SAMPLE {
            self.sample.remove(0);
        }
        self.sample.push(event.bounded());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: u64, outcome: &str) -> UsageEvent {
        UsageEvent {
            at: UnixMillis(at),
            method: "GET".into(),
            path: "/x".into(),
            outcome: outcome.into(),
            status: None,
            country: None,
        }
    }

    #[test]
    fn truncation_cuts_on_a_char_boundary_and_marks_the_cut() {
        let mut long = "/".to_owned() + &"a".repeat(60 * 1024);
        truncate(&mut long, MAX_PATH_BYTES);
        assert_eq!(long.len(), MAX_PATH_BYTES);
        assert!(long.starts_with("/aaa") && long.ends_with("aaa…"), "{long}");
        // A 2-byte character straddling the cut is dropped whole, never split.
        for pad in 0..4 {
            let mut text = "x".repeat(pad) + &"é".repeat(400);
            truncate(&mut text, MAX_PATH_BYTES);
            assert!(text.len() <= MAX_PATH_BYTES && text.len() >= MAX_PATH_BYTES - 1);
            assert!(text.ends_with('…'));
            let kept = text.strip_suffix('…').unwrap();
            assert!(kept.chars().all(|c| c == 'x' || c == 'é'));
        }
        for short in ["", "/", "/api/x"] {
            let mut text = short.to_owned();
            truncate(&mut text, MAX_PATH_BYTES);
            assert_eq!(text, short, "short text is untouched");
        }
        let mut exact = "b".repeat(MAX_PATH_BYTES);
        truncate(&mut exact, MAX_PATH_BYTES);
        assert_eq!(exact.len(), MAX_PATH_BYTES);
        assert!(!exact.ends_with('…'), "exactly the bound is not cut");
        let mut tiny = "abcdef".to_owned();
        truncate(&mut tiny, 2);
        assert_eq!(tiny, "ab");
    }

    #[test]
    fn stored_usage_stays_small_whatever_the_requests() {
        // The worst a client can send: huge path, method and country, escaped in JSON.
        let mut u = Usage::default();
        for i in 0..200 {
            u.record(UsageEvent {
                at: UnixMillis(i),
                method: "M".repeat(10_000),
                path: "\"\u{1}".repeat(30_000),
                outcome: "o".repeat(10_000),
                status: Some(429),
                country: Some("c".repeat(10_000)),
            });
        }
        let json = serde_json::to_string(&u).unwrap();
        assert!(
            json.len() < 256 * 1024,
            "usage of {} bytes: far below the 2 MB a stored value may hold",
            json.len()
        );
        let view = u.view(UnixMillis(1_000));
        let event = &view.recent[0];
        assert!(event.path.len() <= MAX_PATH_BYTES && event.path.ends_with('…'));
        assert!(event.method.len() <= MAX_METHOD_BYTES);
        assert!(event.country.as_deref().unwrap().len() <= MAX_COUNTRY_BYTES);
    }

    #[test]
    fn counts_by_period_and_reason() {
        let mut u = Usage::default();
        let day = UnixMillis::DAY;
        u.record(event(0, "admitted"));
        u.record(event(3 * day, "admitted"));
        u.record(event(8 * day, "admitted"));
        u.record(event(8 * day + 1, "rate_limit_exceeded"));
        let v = u.view(UnixMillis(8 * day + 10));
        assert_eq!(
            (v.requests_24h, v.requests_7d, v.requests_total),
            (1, 2, 3),
            "day 3 is within 7 days of day 8"
        );
        assert_eq!(v.refused.get("rate_limit_exceeded"), Some(&1));
        assert_eq!(v.last_used_at, Some(UnixMillis(8 * day)));
        assert_eq!(v.recent[0].outcome, "rate_limit_exceeded", "newest first");
        for i in 0..100 {
            u.record(event(9 * day + i, "admitted"));
        }
        assert_eq!(u.view(UnixMillis(9 * day + 200)).recent.len(), RECENT);
    }
}
