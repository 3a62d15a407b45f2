//! Rate-limit windows: a sliding window per named limit, kept as [`BUCKETS`] sub-buckets.
//!
//! **Never over-admits.** A request at `now` is admitted only if the requests counted in the
//! buckets that overlap `(now - window, now]` number fewer than `limit`. The oldest of those
//! buckets usually lies partly outside the window and is counted in full, so the count is never
//! below the true number of admissions in any interval of the window's length: no such interval
//! ever holds more than `limit` admissions, whatever the timing of the requests.
//!
//! The price is a little under-admission: capacity comes back when a whole bucket
//! (`window / 60`) has left the window, not request by request.
//!
//! Worked example, `limit = 3`, `window = 60 s` (buckets of 1 s): requests at 0.2 s, 0.5 s and
//! 30 s are admitted; one at 45 s is refused (3 counted) with `retry_after` = 61 s − 45 s = 16 s,
//! when the bucket [0 s, 1 s) has fully left the window; at 61 s a request is admitted again.
//!
//! A request is admitted only if **every** window admits it, and then counts in every window;
//! a refused request counts in none ([`decide`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::record::RateLimit;
use super::time::UnixMillis;

/// Sub-buckets per window.
pub const BUCKETS: u64 = 60;

/// Counts of one window: `(bucket start ms, requests admitted in it)`, oldest first, only
/// buckets with requests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowState {
    buckets: VecDeque<(u64, u32)>,
    /// The window's length, seconds (0 in state stored before it was kept: matched by name).
    #[serde(default)]
    seconds: u32,
}

impl WindowState {
    /// The state a window `limit` starts from when the key's windows change: its own (same name
    /// and length), else one of the same length (a renamed window keeps its counts), else the
    /// shortest longer one, else the longest shorter one (whose history is all there is).
    /// Buckets taken from a window of another length are moved to the last instant they could
    /// hold, so no admission is counted for less time than it happened.
    fn inherit(old: &[(String, WindowState)], limit: &RateLimit) -> WindowState {
        let own = old.iter().find(|(n, s)| {
            *n == limit.name && (s.seconds == limit.window_seconds || s.seconds == 0)
        });
        let total = |s: &WindowState| s.buckets.iter().map(|(_, n)| u64::from(*n)).sum::<u64>();
        let timed = || old.iter().map(|(_, s)| s).filter(|s| s.seconds > 0);
        let source = own.map(|(_, s)| s).or_else(|| {
            timed()
                .filter(|s| s.seconds == limit.window_seconds)
                .max_by_key(|s| total(s))
                .or_else(|| {
                    timed()
                        .filter(|s| s.seconds > limit.window_seconds)
                        .min_by_key(|s| s.seconds)
                })
                .or_else(|| timed().max_by_key(|s| s.seconds))
        });
        let Some(source) = source else {
            return WindowState {
                buckets: VecDeque::new(),
                seconds: limit.window_seconds,
            };
        };
        let mut buckets = VecDeque::with_capacity(source.buckets.len());
        if source.seconds == limit.window_seconds || source.seconds == 0 {
            buckets.clone_from(&source.buckets);
        } else {
            let (from, to) = (
                (u64::from(source.seconds) * 1000 / BUCKETS).max(1),
                bucket_ms(limit),
            );
            for &(start, n) in &source.buckets {
                let at = (start + from - 1) / to * to;
                match buckets.back_mut() {
                    Some((s, c)) if *s == at => *c = c.saturating_add(n),
                    _ => buckets.push_back((at, n)),
                }
            }
        }
        WindowState {
            buckets,
            seconds: limit.window_seconds,
        }
    }
}

/// Where one window stands after a decision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WindowReport {
    /// The window's name, e.g. `minute`.
    pub name: String,
    /// Requests allowed per window.
    pub limit: u32,
    /// Window length, seconds.
    pub window_seconds: u32,
    /// Requests left now.
    pub remaining: u32,
    /// When capacity next comes back (the oldest counted bucket leaves), or `now + window`
    /// when nothing is counted.
    pub reset_at: UnixMillis,
}

/// The outcome for one request over all of a key's windows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted, and counted in every window.
    Allowed {
        /// Every window after counting this request.
        windows: Vec<WindowReport>,
    },
    /// Refused; nothing counted.
    Limited {
        /// Every window as it stands.
        windows: Vec<WindowReport>,
        /// Seconds until every refusing window has room again (at least 1).
        retry_after: u64,
    },
}

fn bucket_ms(limit: &RateLimit) -> u64 {
    (u64::from(limit.window_seconds) * 1000 / BUCKETS).max(1)
}

impl WindowState {
    /// Drops buckets that no longer overlap the window and returns the count of the rest.
    fn count(&mut self, limit: &RateLimit, now: UnixMillis) -> u32 {
        let (window, bucket) = (u64::from(limit.window_seconds) * 1000, bucket_ms(limit));
        while self
            .buckets
            .front()
            .is_some_and(|(start, _)| start + bucket + window <= now.0)
        {
            self.buckets.pop_front();
        }
        self.buckets
            .iter()
            .map(|(_, n)| *n)
            .fold(0u32, u32::saturating_add)
    }

    fn report(&self, limit: &RateLimit, counted: u32, now: UnixMillis) -> WindowReport {
        let window = u64::from(limit.window_seconds) * 1000;
        let reset_at = self
            .buckets
            .front()
            .map_or(now.plus_millis(window), |(start, _)| {
                UnixMillis(start + bucket_ms(limit) + window)
            });
        WindowReport {
            name: limit.name.clone(),
            limit: limit.limit,
            window_seconds: limit.window_seconds,
            remaining: limit.limit.saturating_sub(counted),
            reset_at,
        }
    }

    fn add(&mut self, limit: &RateLimit, now: UnixMillis) {
        self.add_units(limit, now, 1);
    }

    /// Counts `units` in the bucket of `at`, keeping the buckets in order (`at` may lie ahead of
    /// the newest bucket: a lease's units are counted at its horizon).
    fn add_units(&mut self, limit: &RateLimit, at: UnixMillis, units: u32) {
        let bucket = bucket_ms(limit);
        let start = at.0 / bucket * bucket;
        let at = self.buckets.partition_point(|(s, _)| *s < start);
        match self.buckets.get_mut(at) {
            Some((s, n)) if *s == start => *n = n.saturating_add(units),
            _ => self.buckets.insert(at, (start, units)),
        }
    }

    /// Takes back up to `units` from the bucket of `at`, if it is still counted.
    fn remove_units(&mut self, limit: &RateLimit, at: UnixMillis, units: u32) {
        let bucket = bucket_ms(limit);
        let start = at.0 / bucket * bucket;
        if let Some(i) = self.buckets.iter().position(|(s, _)| *s == start) {
            let n = &mut self.buckets[i].1;
            *n = n.saturating_sub(units);
            if *n == 0 {
                self.buckets.remove(i);
            }
        }
    }
}

/// Decides one request against `limits`, updating `states` (one per limit, same order; missing
/// ones are created) only when it is admitted.
pub fn decide(limits: &[RateLimit], states: &mut Vec<WindowState>, now: UnixMillis) -> Decision {
    states.resize_with(limits.len(), WindowState::default);
    let counts: Vec<u32> = limits
        .iter()
        .zip(states.iter_mut())
        .map(|(l, s)| s.count(l, now))
        .collect();
    let full: Vec<usize> = (0..limits.len())
        .filter(|&i| counts[i] >= limits[i].limit)
        .collect();
    if full.is_empty() {
        for (limit, state) in limits.iter().zip(states.iter_mut()) {
            state.add(limit, now);
        }
        let windows = limits
            .iter()
            .zip(states.iter())
            .zip(&counts)
            .map(|((l, s), c)| s.report(l, c + 1, now))
            .collect();
        Decision::Allowed { windows }
    } else {
        let windows: Vec<WindowReport> = limits
            .iter()
            .zip(states.iter())
            .zip(&counts)
            .map(|((l, s), c)| s.report(l, *c, now))
            .collect();
        let wait_ms = full
            .iter()
            .map(|&i| windows[i].reset_at.0.saturating_sub(now.0))
            .max()
            .unwrap_or(0);
        Decision::Limited {
            windows,
            retry_after: wait_ms.div_ceil(1000).max(1),
        }
    }
}

/// The window closest to its limit (smallest share remaining; ties: fewest remaining), for the
/// `X-RateLimit-*` headers.
pub fn tightest(windows: &[WindowReport]) -> Option<&WindowReport> {
    windows.iter().min_by(|a, b| {
        let share =
            |w: &WindowReport| u64::from(w.remaining) * 1_000_000 / u64::from(w.limit.max(1));
        share(a).cmp(&share(b)).then(a.remaining.cmp(&b.remaining))
    })
}

/// The response headers for `windows` at `now`: `X-RateLimit-Limit`, `-Remaining` and `-Reset`
/// (Unix seconds) for the tightest window, and the IETF structured fields for all of them
/// (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "minute";q=300;w=60, …` and
/// `RateLimit: "minute";r=287;t=42, …`, `t` being seconds until the reset. Empty without windows.
pub fn headers(windows: &[WindowReport], now: UnixMillis) -> Vec<(&'static str, String)> {
    let Some(tight) = tightest(windows) else {
        return Vec::new();
    };
    let secs_until = |w: &WindowReport| w.reset_at.0.saturating_sub(now.0).div_ceil(1000);
    let policy = windows
        .iter()
        .map(|w| format!("\"{}\";q={};w={}", w.name, w.limit, w.window_seconds));
    let state = windows
        .iter()
        .map(|w| format!("\"{}\";r={};t={}", w.name, w.remaining, secs_until(w)));
    vec![
        ("x-ratelimit-limit", tight.limit.to_string()),
        ("x-ratelimit-remaining", tight.remaining.to_string()),
        (
            "x-ratelimit-reset",
            tight.reset_at.0.div_ceil(1000).to_string(),
        ),
        ("ratelimit-policy", policy.collect::<Vec<_>>().join(", ")),
        ("ratelimit", state.collect::<Vec<_>>().join(", ")),
    ]
}

/// How long a lease holds: admissions within it, up to its reservation, need no write.
pub const LEASE_MS: u64 = 10_000;

/// The windows of one key, by name (a window keeps its counts when others are added or
/// removed), with batched persistence.
///
/// **Batched writes that never forget.** Each write stores the real buckets plus a *lease*: per
/// window a reservation of R units (a tenth of the limit, 1 to 10) valid until a horizon
/// ([`LEASE_MS`] later). Admissions within the lease's reservation and horizon need no write.
/// Restoring turns each reservation into a bucket at the horizon: it is counted until
/// `horizon + window`, which covers every admission the write did not see (all happened before
/// the horizon), so a restart may refuse a few requests early but never admits too many.
///
/// **A lease exists only once stored.** An admission the current lease does not cover is
/// decided on a copy and handed back as a [`Renewal`]: the counters are unchanged until the
/// caller has written [`Renewal::stored`] and [`commit`](Counters::commit)s it. If the write
/// fails the renewal is dropped, the request is not admitted, and the counters are exactly as
/// before: nothing in memory ever relies on a lease that storage does not hold.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    windows: Vec<(String, WindowState)>,
    lease_until: UnixMillis,
    reserved: Vec<(String, u32)>,
    /// Admissions since the last write, per window; memory only.
    #[serde(skip)]
    unwritten: Vec<(String, u32)>,
    /// Admission leases lent to isolates and not given back yet (see `domain::admission`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lent: Vec<Lent>,
    /// The id of the next lease.
    #[serde(default)]
    next_lease: u64,
}

/// Leases remembered for release; older ones are forgotten (their units stay counted until
/// they leave the windows: under-admission, never over-admission).
pub const MAX_LENT: usize = 64;

/// A lease lent to an isolate: `units` counted in every window in the bucket of `horizon`
/// (when the lease ends), under the windows `shape` of that moment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
struct Lent {
    id: u64,
    horizon: UnixMillis,
    units: u32,
    /// `(name, window_seconds)` of every window when lent: a release into windows of another
    /// shape could take back units that are not the lease's, so it is ignored.
    shape: Vec<(String, u32)>,
}

fn shape(limits: &[RateLimit]) -> Vec<(String, u32)> {
    limits
        .iter()
        .map(|l| (l.name.clone(), l.window_seconds))
        .collect()
}

/// An admission that counts only once written: the counters with it and a fresh lease.
/// Write [`Renewal::stored`], then [`Counters::commit`]; drop it if the write fails.
#[derive(Debug)]
#[must_use = "the admission counts only once the renewal is written and committed"]
pub struct Renewal(Counters);

impl Renewal {
    /// What to write: the windows with this admission, and the new lease.
    pub fn stored(&self) -> &Counters {
        &self.0
    }
}

impl Counters {
    /// The counters as stored, with the stored lease turned into buckets.
    pub fn restore(mut stored: Counters) -> Counters {
        for (name, units) in std::mem::take(&mut stored.reserved) {
            if let Some((_, state)) = stored.windows.iter_mut().find(|(n, _)| *n == name) {
                state.buckets.push_back((stored.lease_until.0, units));
            }
        }
        stored.lease_until = UnixMillis(0);
        stored
    }

    /// Decides one request. A refusal changes nothing that matters and needs no write. An
    /// admission the stored lease covers is counted in place (`None`). Any other admission comes
    /// with a [`Renewal`] and is not counted yet: the request may be admitted only after the
    /// renewal is written and committed.
    pub fn admit(&mut self, limits: &[RateLimit], now: UnixMillis) -> (Decision, Option<Renewal>) {
        if self.covers_one_more(limits, now) {
            self.align(limits);
            let decision = self.decide_in_place(limits, now);
            if matches!(decision, Decision::Allowed { .. }) {
                for limit in limits {
                    *self.unwritten_mut(&limit.name) += 1;
                }
            }
            return (decision, None);
        }
        // Only here (once per reservation or lease period) are the windows copied; `self` is
        // left untouched, aligned or not, until the renewal is committed.
        let mut next = self.clone();
        next.align(limits);
        let decision = next.decide_in_place(limits, now);
        if !matches!(decision, Decision::Allowed { .. }) {
            return (decision, None);
        }
        next.lease_until = now.plus_millis(LEASE_MS);
        next.reserved = limits
            .iter()
            .map(|l| (l.name.clone(), (l.limit / 10).clamp(1, 10)))
            .collect();
        next.unwritten.clear();
        (decision, Some(Renewal(next)))
    }

    /// The admissions every window can still take at `now` (`u32::MAX` without windows).
    pub fn room(&mut self, limits: &[RateLimit], now: UnixMillis) -> u32 {
        self.align(limits);
        limits
            .iter()
            .zip(self.windows.iter_mut())
            .map(|(l, (_, s))| l.limit.saturating_sub(s.count(l, now)))
            .min()
            .unwrap_or(u32::MAX)
    }

    /// Every window as it stands at `now`, for the rate-limit headers.
    pub fn reports(&mut self, limits: &[RateLimit], now: UnixMillis) -> Vec<WindowReport> {
        self.align(limits);
        limits
            .iter()
            .zip(self.windows.iter_mut())
            .map(|(l, (_, s))| {
                let counted = s.count(l, now);
                s.report(l, counted, now)
            })
            .collect()
    }

    /// Counts the request in hand at `now` and lends `units` more to a new lease ending at
    /// `horizon`: each counts in every window from now until the horizon's bucket leaves the
    /// window, which covers every admission made with it (all happen before the horizon). The
    /// caller has checked that [`room`](Counters::room) is at least `units + 1`. Returns the
    /// lease's id.
    pub fn lend(
        &mut self,
        limits: &[RateLimit],
        units: u32,
        horizon: UnixMillis,
        now: UnixMillis,
    ) -> u64 {
        self.align(limits);
        for (limit, (_, state)) in limits.iter().zip(self.windows.iter_mut()) {
            state.add_units(limit, now, 1);
            if units > 0 {
                state.add_units(limit, horizon, units);
            }
        }
        let id = self.next_lease;
        self.next_lease += 1;
        // A lease whose bucket has left every window has nothing left to release.
        let longest = limits
            .iter()
            .map(|l| u64::from(l.window_seconds) * 1000 + bucket_ms(l))
            .max()
            .unwrap_or(0);
        self.lent.retain(|l| l.horizon.0 + longest > now.0);
        self.lent.push(Lent {
            id,
            horizon,
            units,
            shape: shape(limits),
        });
        if self.lent.len() > MAX_LENT {
            self.lent.remove(0);
        }
        id
    }

    /// Gives back `unused` units of lease `id` (at most what it was lent). A lease given back
    /// already, forgotten, or lent under windows of another shape gives back nothing: a
    /// release is never applied twice, nor to units that are not the lease's.
    pub fn release(&mut self, limits: &[RateLimit], id: u64, unused: u32) {
        let Some(at) = self.lent.iter().position(|l| l.id == id) else {
            return;
        };
        let lent = self.lent.remove(at);
        if lent.shape != shape(limits) {
            return;
        }
        self.align(limits);
        let units = unused.min(lent.units);
        for (limit, (_, state)) in limits.iter().zip(self.windows.iter_mut()) {
            state.remove_units(limit, lent.horizon, units);
        }
    }

    /// The counters as they are, to be written before they are relied on (see [`Renewal`]).
    pub fn renewal(self) -> Renewal {
        Renewal(self)
    }

    /// Makes a written renewal the current state.
    pub fn commit(&mut self, renewal: Renewal) {
        *self = renewal.0;
    }

    /// Whether the stored lease covers one more admission at `now` in every window.
    fn covers_one_more(&self, limits: &[RateLimit], now: UnixMillis) -> bool {
        let count = |list: &[(String, u32)], name: &str| {
            list.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c)
        };
        now < self.lease_until
            && limits.iter().all(|l| {
                count(&self.unwritten, &l.name).saturating_add(1) <= count(&self.reserved, &l.name)
            })
    }

    fn unwritten_mut(&mut self, name: &str) -> &mut u32 {
        let at = match self.unwritten.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.unwritten.push((name.to_owned(), 0));
                self.unwritten.len() - 1
            }
        };
        &mut self.unwritten[at].1
    }

    /// [`decide`] on the aligned windows, in place.
    fn decide_in_place(&mut self, limits: &[RateLimit], now: UnixMillis) -> Decision {
        // Moved out and back rather than copied: this runs on every request.
        let mut states: Vec<WindowState> = self
            .windows
            .iter_mut()
            .map(|(_, s)| std::mem::take(s))
            .collect();
        let decision = decide(limits, &mut states, now);
        for ((_, slot), state) in self.windows.iter_mut().zip(states) {
            *slot = state;
        }
        decision
    }

    /// Lines the windows up with `limits` ([`WindowState::inherit`]): a window keeps its
    /// counts when others are added or removed, or when it is renamed (renaming must not reset
    /// a limit), and a new window starts from the counts of the closest window the key had.
    /// Usually they already match, and nothing changes.
    fn align(&mut self, limits: &[RateLimit]) {
        let now = self.windows.iter().map(|(n, s)| (n.as_str(), s.seconds));
        if now.eq(limits.iter().map(|l| (l.name.as_str(), l.window_seconds))) {
            return;
        }
        let old = std::mem::take(&mut self.windows);
        self.windows = limits
            .iter()
            .map(|l| (l.name.clone(), WindowState::inherit(&old, l)))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limit(name: &str, limit: u32, window_seconds: u32) -> RateLimit {
        RateLimit {
            name: name.into(),
            limit,
            window_seconds,
        }
    }

    #[test]
    fn a_window_keeps_its_counts_when_others_come_and_go() {
        let minute = limit("minute", 3, 60);
        let mut counters = Counters::default();
        let mut stored = None;
        let mut admit = |limits: &[RateLimit], t| {
            admit_with_write(&mut counters, limits, t, false, &mut stored).0
        };
        for t in 0..2 {
            assert!(admit(std::slice::from_ref(&minute), t));
        }
        // A burst window is added in front: the minute still holds its 2 admissions.
        let both = [limit("burst", 10, 1), minute.clone()];
        assert!(admit(&both, 10));
        assert!(!admit(&both, 20));
        // The burst goes again; the minute is still full, and a new window starts from the
        // closest one the key had: the hour and then the day hold the minute's 3 admissions.
        let again = [minute, limit("hour", 3, 3600)];
        assert!(!admit(&again, 30));
        let longer = [limit("day", 4, 86_400)];
        assert!(admit(&longer, 40));
        assert!(!admit(&longer, 50));
    }

    /// An organization admin renamed a full window (or swapped the plan's windows for identical
    /// ones) to start it empty: the counts follow the window's length, not its name.
    #[test]
    fn a_renamed_or_resized_window_keeps_its_counts() {
        let mut counters = Counters::default();
        let mut stored = None;
        let mut admit = |limits: &[RateLimit], t| {
            admit_with_write(&mut counters, limits, t, false, &mut stored).0
        };
        let first = [limit("m0", 5, 60)];
        for t in 0..5 {
            assert!(admit(&first, t));
        }
        for (i, name) in ["m1", "m2", "minute"].iter().enumerate() {
            let renamed = [limit(name, 5, 60)];
            assert!(!admit(&renamed, 100 + i as u64), "{name}");
        }
        // A shorter window takes the longer one's counts at their latest possible instant.
        let shorter = [limit("half", 5, 30)];
        assert!(!admit(&shorter, 200));
        assert!(admit(&[limit("half", 5, 30)], 32_000));
    }

    fn allowed(d: &Decision) -> bool {
        matches!(d, Decision::Allowed { .. })
    }

    #[test]
    fn the_worked_example() {
        let limits = [limit("minute", 3, 60)];
        let mut states = Vec::new();
        for t in [200, 500, 30_000] {
            assert!(allowed(&decide(&limits, &mut states, UnixMillis(t))));
        }
        match decide(&limits, &mut states, UnixMillis(45_000)) {
            Decision::Limited {
                retry_after,
                windows,
            } => {
                assert_eq!(retry_after, 16);
                assert_eq!(windows[0].remaining, 0);
                assert_eq!(windows[0].reset_at, UnixMillis(61_000));
            }
            other => panic!("{other:?}"),
        }
        assert!(!allowed(&decide(&limits, &mut states, UnixMillis(60_999))));
        assert!(allowed(&decide(&limits, &mut states, UnixMillis(61_000))));
    }

    #[test]
    fn every_window_must_admit_and_refusals_count_nowhere() {
        let limits = [limit("burst", 2, 1), limit("minute", 3, 60)];
        let mut states = Vec::new();
        assert!(allowed(&decide(&limits, &mut states, UnixMillis(0))));
        assert!(allowed(&decide(&limits, &mut states, UnixMillis(1))));
        let Decision::Limited {
            windows,
            retry_after,
        } = decide(&limits, &mut states, UnixMillis(2))
        else {
            panic!()
        };
        assert_eq!((windows[0].remaining, windows[1].remaining), (0, 1));
        assert_eq!(
            retry_after, 2,
            "the burst bucket [0, 16 ms) leaves at 1.016 s → 2 s"
        );
        let Decision::Allowed { windows } = decide(&limits, &mut states, UnixMillis(1_100)) else {
            panic!()
        };
        assert_eq!((windows[0].remaining, windows[1].remaining), (1, 0));
        assert!(
            !allowed(&decide(&limits, &mut states, UnixMillis(1_200))),
            "the minute is full"
        );
    }

    #[test]
    fn headers_follow_the_draft() {
        let limits = [limit("minute", 300, 60), limit("day", 100_000, 86_400)];
        let mut states = Vec::new();
        let Decision::Allowed { windows } = decide(&limits, &mut states, UnixMillis(1_000_000))
        else {
            panic!()
        };
        let h = headers(&windows, UnixMillis(1_000_000));
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get("x-ratelimit-limit"), "300");
        assert_eq!(get("x-ratelimit-remaining"), "299");
        assert_eq!(get("x-ratelimit-reset"), "1061");
        assert_eq!(
            get("ratelimit-policy"),
            r#""minute";q=300;w=60, "day";q=100000;w=86400"#
        );
        // The day's buckets are 24 min: the one holding t=1000 s started at 0, leaves at 87 840 s.
        assert_eq!(
            get("ratelimit"),
            r#""minute";r=299;t=61, "day";r=99999;t=86840"#
        );
        assert!(headers(&[], UnixMillis(0)).is_empty());
    }

    /// Admits at `now` as the guard does, with a write that fails when `fails`; whether the
    /// request was admitted, and whether a write was attempted.
    fn admit_with_write(
        counters: &mut Counters,
        limits: &[RateLimit],
        now: u64,
        fails: bool,
        stored: &mut Option<String>,
    ) -> (bool, bool) {
        match counters.admit(limits, UnixMillis(now)) {
            (d, None) => (allowed(&d), false),
            (_, Some(renewal)) if fails => {
                drop(renewal);
                (false, true)
            }
            (d, Some(renewal)) => {
                *stored = Some(serde_json::to_string(renewal.stored()).unwrap());
                counters.commit(renewal);
                (allowed(&d), true)
            }
        }
    }

    #[test]
    fn writes_are_batched_within_a_lease() {
        let limits = [limit("minute", 100, 60)];
        let mut counters = Counters::default();
        let (mut writes, mut stored) = (0, None);
        for i in 0..100 {
            let (admitted, wrote) =
                admit_with_write(&mut counters, &limits, 1_000 + i * 10, false, &mut stored);
            assert!(admitted);
            writes += usize::from(wrote);
        }
        assert_eq!(writes, 10, "one write per 10 admissions (the reservation)");
        let (d, renewal) = counters.admit(&limits, UnixMillis(3_000));
        assert!(
            !allowed(&d) && renewal.is_none(),
            "a refusal writes nothing"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_counters_as_they_were() {
        let limits = [limit("burst", 5, 1), limit("minute", 30, 60)];
        let mut counters = Counters::default();
        let mut stored = None;
        let mut t = 1_000;
        // Admissions until one needs a renewal, which fails: nothing of it remains (the first
        // one included: not even the windows are set up).
        for _ in 0..3 {
            loop {
                let before = counters.clone();
                t += 100;
                let (admitted, wrote) =
                    admit_with_write(&mut counters, &limits, t, true, &mut stored);
                if wrote {
                    assert!(!admitted, "a failed write never admits");
                    assert_eq!(counters, before, "the counters are exactly as before");
                    break;
                }
            }
        }
        // Storage recovers: the next request renews the lease and is admitted.
        let (admitted, wrote) =
            admit_with_write(&mut counters, &limits, t + 100, false, &mut stored);
        assert!(admitted && wrote);
    }

    #[test]
    fn a_failing_write_then_a_restart_never_over_admits() {
        // The review's reproduction: usage events too big to store made every renewal fail;
        // the guard acted on the unstored lease, and after an eviction 60 requests passed a
        // 30/min window. Here the writes fail from the 10th request on, then the guard restarts
        // from what was stored, with writes working again.
        let limits = [limit("minute", 30, 60)];
        let mut counters = Counters::default();
        let mut stored: Option<String> = None;
        let mut admitted = 0;
        for i in 0..60u64 {
            let (ok, _) =
                admit_with_write(&mut counters, &limits, 1_000 + i * 200, i >= 9, &mut stored);
            admitted += u32::from(ok);
        }
        let restored: Counters = serde_json::from_str(stored.as_deref().unwrap()).unwrap();
        counters = Counters::restore(restored);
        for i in 0..60u64 {
            let (ok, _) =
                admit_with_write(&mut counters, &limits, 13_000 + i * 200, false, &mut stored);
            admitted += u32::from(ok);
        }
        assert!(
            admitted <= 30,
            "{admitted} admitted within one minute, limit 30"
        );
    }

    #[test]
    fn tightest_is_the_smallest_share_left() {
        let w = |name: &str, limit, remaining| WindowReport {
            name: name.into(),
            limit,
            window_seconds: 1,
            remaining,
            reset_at: UnixMillis(0),
        };
        let windows = [
            w("minute", 300, 287),
            w("day", 100_000, 99_000),
            w("burst", 20, 3),
        ];
        assert_eq!(tightest(&windows).unwrap().name, "burst");
        assert!(tightest(&[]).is_none());
    }

    proptest! {
        /// Crash at random moments, restore what was last written, and let writes fail at
        /// random: still no interval of a window's length holds more than `limit` admissions,
        /// counting every admission made before and after each crash, and a failed write
        /// leaves the counters exactly as they were.
        #[test]
        fn batched_writes_never_forget_across_crashes(
            limit_n in 1u32..40,
            window_s in 1u32..30,
            steps in prop::collection::vec((0u64..1_500, 0u8..4, 0u8..20), 1..400),
        ) {
            let limits = [limit("w", limit_n, window_s)];
            let mut counters = Counters::default();
            let mut stored: Option<String> = None;
            let (mut now, mut writes, mut admitted) = (1_000_000u64, 0usize, Vec::new());
            for (gap, fail, crash) in steps {
                now += gap;
                if crash == 0 {
                    let restored: Counters = stored.as_deref().map(|t| serde_json::from_str(t).unwrap()).unwrap_or_default();
                    counters = Counters::restore(restored);
                }
                let before = counters.clone();
                let (ok, wrote) = admit_with_write(&mut counters, &limits, now, fail == 0, &mut stored);
                if wrote && fail == 0 {
                    prop_assert!(!ok, "admitted on a failed write");
                    prop_assert_eq!(&counters, &before, "a failed write changed the counters");
                }
                if ok {
                    admitted.push(now);
                    let window_ms = u64::from(window_s) * 1000;
                    let recent = admitted.iter().filter(|&&t| t + window_ms > now).count() as u32;
                    prop_assert!(recent <= limit_n, "{recent} admitted within {window_s}s, limit {limit_n}");
                }
                writes += usize::from(wrote && fail != 0);
            }
            prop_assert!(writes <= admitted.len(), "more writes than admissions");
        }

        /// No interval of a window's length ever holds more than `limit` admissions, and every
        /// reported `reset_at` lies in the future.
        #[test]
        fn never_more_than_limit_in_any_window(
            limit_n in 1u32..20,
            window_s in 1u32..120,
            gaps in prop::collection::vec(0u64..3_000, 1..300),
        ) {
            let limits = [limit("w", limit_n, window_s)];
            let mut states = Vec::new();
            let mut now = 1_000_000u64;
            let mut admitted: Vec<u64> = Vec::new();
            for gap in gaps {
                now += gap;
                let d = decide(&limits, &mut states, UnixMillis(now));
                let windows = match &d { Decision::Allowed { windows } | Decision::Limited { windows, .. } => windows.clone() };
                prop_assert!(windows[0].reset_at.0 > now);
                if let Decision::Limited { retry_after, .. } = d {
                    prop_assert!(retry_after >= 1);
                }
                if allowed(&d) {
                    admitted.push(now);
                    let window_ms = u64::from(window_s) * 1000;
                    let recent = admitted.iter().filter(|&&t| t + window_ms > now).count() as u32;
                    prop_assert!(recent <= limit_n, "{recent} admitted within {window_s}s, limit {limit_n}");
                    prop_assert!(windows[0].remaining <= limit_n - recent, "reports more room than there is");
                }
                // The headers agree with the decisions: the next request at the same instant is
                // admitted exactly when `remaining` says there is room.
                let mut probe = states.clone();
                prop_assert_eq!(allowed(&decide(&limits, &mut probe, UnixMillis(now))), windows[0].remaining > 0);
            }
        }
    }
}
