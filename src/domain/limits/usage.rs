//! What a key's guard remembers of its use: last use, admitted requests per hour for a week
//! and in all, refusals by reason, the 50 most recent events, and admitted and refused
//! requests per hour for 48 hours and per day for 30 days (the series the management API
//! charts).
//!
//! Periods are UTC hours and days since the epoch. A request counts in the period of its
//! time; an isolate's [`Tally`] counts its admissions in the period of its last admission and
//! its refusals in the period it reaches the guard (a lease lasts at most a minute). Each
//! series keeps a bounded number of periods up to its newest, so stored usage stays small.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::domain::time::{self, UnixMillis};

/// Usage events an isolate keeps for its next call (the latest).
pub const SAMPLE: usize = 10;

/// Recent events kept.
pub const RECENT: usize = 50;
/// Hours of admitted requests kept: the 7 days of `requests_7d`.
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
    /// Admitted requests per hour, [`HOURS_KEPT`] hours.
    hourly: Counts,
    refused: BTreeMap<String, u64>,
    recent: VecDeque<UsageEvent>,
    /// Refused requests per hour, [`Series::Hour`]'s 48 hours. Absent from usage stored before
    /// the series existed, as are the two below.
    #[serde(default)]
    hourly_refused: Counts,
    /// Admitted requests per day, [`Series::Day`]'s 30 days.
    #[serde(default)]
    daily: Counts,
    /// Refused requests per day, 30 days.
    #[serde(default)]
    daily_refused: Counts,
}

/// Requests per period (an hour or a day since the epoch), as `(period, count)` pairs, oldest
/// first, no period twice and none without requests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(transparent)]
struct Counts(VecDeque<(u64, u64)>);

impl Counts {
    /// Adds `n` requests to `period`, then drops the periods `keep` or more before the newest,
    /// so at most `keep` are kept. Mostly `period` is the newest; an isolate's tally may land
    /// in an earlier one.
    fn add(&mut self, period: u64, n: u64, keep: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().rev().find(|(p, _)| *p <= period) {
            Some((p, count)) if *p == period => *count += n,
            _ => {
                let at = self.0.partition_point(|(p, _)| *p < period);
                self.0.insert(at, (period, n));
            }
        }
        let newest = self.0.back().map_or(period, |(p, _)| *p);
        while self.0.front().is_some_and(|(p, _)| p + keep <= newest) {
            self.0.pop_front();
        }
    }

    /// Requests in `period`.
    fn at(&self, period: u64) -> u64 {
        self.0
            .iter()
            .find(|(p, _)| *p == period)
            .map_or(0, |(_, n)| *n)
    }

    /// Requests in the `periods` periods up to and including `current` (and any later one: an
    /// isolate's clock may run ahead of the guard's).
    fn last(&self, periods: u64, current: u64) -> u64 {
        self.0
            .iter()
            .filter(|(p, _)| p + periods > current)
            .map(|(_, n)| n)
            .sum()
    }
}

/// A usage series: `hour` (the last 48 hours) or `day` (the last 30 days), UTC.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Series {
    /// Hourly buckets.
    Hour,
    /// Daily buckets.
    Day,
}

impl Series {
    /// Parses a `series` value.
    pub fn parse(text: &str) -> Option<Series> {
        match text {
            "hour" => Some(Series::Hour),
            "day" => Some(Series::Day),
            _ => None,
        }
    }

    /// A bucket's length, ms.
    fn unit_ms(self) -> u64 {
        match self {
            Series::Hour => UnixMillis::HOUR,
            Series::Day => UnixMillis::DAY,
        }
    }

    /// Buckets shown, and periods kept: 48 hours or 30 days.
    pub fn buckets(self) -> u64 {
        match self {
            Series::Hour => 48,
            Series::Day => 30,
        }
    }

    /// The period (hour or day since the epoch) `at` falls in.
    fn period(self, at: UnixMillis) -> u64 {
        at.0 / self.unit_ms()
    }
}

/// `GET /orgs/{org}/keys/{id}/usage?series=hour|day`.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct SeriesView {
    /// Which series.
    pub series: Series,
    /// Exactly [`Series::buckets`] buckets, oldest first, the last one the current hour or day
    /// (each zero when nothing happened).
    pub buckets: Vec<Bucket>,
}

/// One hour or day of a [`SeriesView`].
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The start of the hour or day (UTC), RFC 3339.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub start: UnixMillis,
    /// Requests admitted in it.
    pub admitted: u64,
    /// Requests refused in it, whatever the reason.
    pub refused: u64,
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
            self.count_admitted(event.at, 1);
        } else {
            *self.refused.entry(event.outcome.clone()).or_default() += 1;
            self.count_refused(event.at, 1);
        }
        self.recent.push_back(event);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// Records what an isolate did under a lease, as the guard receives it at `now`: its
    /// admissions (counted in the hour and day of the last one: a lease lasts at most a
    /// minute), its refusals (counted at `now`: the tally does not say when they happened), and
    /// its sampled events.
    pub fn absorb(&mut self, tally: &Tally, now: UnixMillis) {
        if let Some(at) = tally.last_admitted_at {
            let admitted = u64::from(tally.admitted);
            self.last_used_at = self.last_used_at.max(Some(at));
            self.total += admitted;
            self.count_admitted(at, admitted);
        }
        for (code, n) in &tally.refused {
            *self.refused.entry(code.clone()).or_default() += u64::from(*n);
        }
        self.count_refused(now, tally.refused.iter().map(|(_, n)| u64::from(*n)).sum());
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

    fn count_admitted(&mut self, at: UnixMillis, n: u64) {
        self.hourly.add(Series::Hour.period(at), n, HOURS_KEPT);
        self.daily
            .add(Series::Day.period(at), n, Series::Day.buckets());
    }

    fn count_refused(&mut self, at: UnixMillis, n: u64) {
        self.hourly_refused
            .add(Series::Hour.period(at), n, Series::Hour.buckets());
        self.daily_refused
            .add(Series::Day.period(at), n, Series::Day.buckets());
    }

    /// The series at `now`: its buckets up to the current hour or day.
    pub fn series(&self, series: Series, now: UnixMillis) -> SeriesView {
        let (admitted, refused) = match series {
            Series::Hour => (&self.hourly, &self.hourly_refused),
            Series::Day => (&self.daily, &self.daily_refused),
        };
        let current = series.period(now);
        // Saturating: only a clock within 48 hours of 1970 would see fewer buckets.
        let first = current.saturating_sub(series.buckets() - 1);
        SeriesView {
            series,
            buckets: (first..=current)
                .map(|period| Bucket {
                    start: UnixMillis(period * series.unit_ms()),
                    admitted: admitted.at(period),
                    refused: refused.at(period),
                })
                .collect(),
        }
    }

    /// The view at `now`.
    pub fn view(&self, now: UnixMillis) -> UsageView {
        let hour = Series::Hour.period(now);
        UsageView {
            last_used_at: self.last_used_at,
            requests_24h: self.hourly.last(24, hour),
            requests_7d: self.hourly.last(HOURS_KEPT, hour),
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
    /// The first events under the lease, at most [`SAMPLE`]: the later ones need not even
    /// be read whole (their country), which keeps a leased request cheap.
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
        if self.samples_next() {
            self.sample.push(event.bounded());
        }
    }

    /// Whether the next event recorded is kept in the sample.
    pub fn samples_next(&self) -> bool {
        self.sample.len() < SAMPLE
    }
}

#[cfg(test)]
mod tests;
