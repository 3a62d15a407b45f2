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
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::domain::time::UnixMillis;

/// One rate-limit window of a key: at most `limit` requests per `window_seconds`. Neither can
/// be zero (a record holding one does not decode), so the arithmetic below needs no guards.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Name shown in headers, e.g. `minute` (1–32 of `[a-z0-9_-]`).
    pub name: String,
    /// Requests admitted per window.
    pub limit: NonZeroU32,
    /// Window length in seconds (1 s to 1 day, or the deployment's narrower
    /// [`LimitBounds`](super::bounds::LimitBounds)).
    pub window_seconds: NonZeroU32,
}

impl RateLimit {
    /// The window `name` of `limit` requests per `window_seconds`; `None` if either is zero.
    pub fn new(name: impl Into<String>, limit: u32, window_seconds: u32) -> Option<RateLimit> {
        Some(RateLimit {
            name: name.into(),
            limit: NonZeroU32::new(limit)?,
            window_seconds: NonZeroU32::new(window_seconds)?,
        })
    }

    /// The window's length, milliseconds (at least 1000).
    pub fn window_ms(&self) -> u64 {
        u64::from(self.window_seconds.get()) * 1000
    }
}

/// Sub-buckets per window.
pub const BUCKETS: u64 = 60;

/// Counts of one window: `(bucket start ms, requests admitted in it)`, oldest first, only
/// buckets with requests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowState {
    pub(super) buckets: VecDeque<(u64, u32)>,
    /// The window's length, seconds (0 in state stored before it was kept: matched by name).
    #[serde(default)]
    pub(super) seconds: u32,
}

impl WindowState {
    /// The state a window `limit` starts from when the key's windows change: its own (same name
    /// and length), else one of the same length (a renamed window keeps its counts), else the
    /// shortest longer one, else the longest shorter one (whose history is all there is).
    /// Buckets taken from a window of another length are moved to the last instant they could
    /// hold, so no admission is counted for less time than it happened.
    pub(super) fn inherit(old: &[(String, WindowState)], limit: &RateLimit) -> WindowState {
        let own = old.iter().find(|(n, s)| {
            *n == limit.name && (s.seconds == limit.window_seconds.get() || s.seconds == 0)
        });
        let total = |s: &WindowState| s.buckets.iter().map(|(_, n)| u64::from(*n)).sum::<u64>();
        let timed = || old.iter().map(|(_, s)| s).filter(|s| s.seconds > 0);
        let source = own.map(|(_, s)| s).or_else(|| {
            timed()
                .filter(|s| s.seconds == limit.window_seconds.get())
                .max_by_key(|s| total(s))
                .or_else(|| {
                    timed()
                        .filter(|s| s.seconds > limit.window_seconds.get())
                        .min_by_key(|s| s.seconds)
                })
                .or_else(|| timed().max_by_key(|s| s.seconds))
        });
        let Some(source) = source else {
            return WindowState {
                buckets: VecDeque::new(),
                seconds: limit.window_seconds.get(),
            };
        };
        let mut buckets = VecDeque::with_capacity(source.buckets.len());
        if source.seconds == limit.window_seconds.get() || source.seconds == 0 {
            buckets.clone_from(&source.buckets);
        } else {
            let (from, to) = (
                // `source.seconds` > 0 here: a window of 1 s or more has buckets of 16 ms or more.
                u64::from(source.seconds) * 1000 / BUCKETS,
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
            seconds: limit.window_seconds.get(),
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

pub(super) fn bucket_ms(limit: &RateLimit) -> u64 {
    // At least 1000 / 60 = 16 ms: a window is never shorter than 1 s.
    limit.window_ms() / BUCKETS
}

impl WindowState {
    /// Drops buckets that no longer overlap the window and returns the count of the rest.
    pub(super) fn count(&mut self, limit: &RateLimit, now: UnixMillis) -> u32 {
        let (window, bucket) = (limit.window_ms(), bucket_ms(limit));
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

    pub(super) fn report(&self, limit: &RateLimit, counted: u32, now: UnixMillis) -> WindowReport {
        let window = limit.window_ms();
        let reset_at = self
            .buckets
            .front()
            .map_or(now.plus_millis(window), |(start, _)| {
                UnixMillis(start + bucket_ms(limit) + window)
            });
        WindowReport {
            name: limit.name.clone(),
            limit: limit.limit.get(),
            window_seconds: limit.window_seconds.get(),
            remaining: limit.limit.get().saturating_sub(counted),
            reset_at,
        }
    }

    fn add(&mut self, limit: &RateLimit, now: UnixMillis) {
        self.add_units(limit, now, 1);
    }

    /// Counts `units` in the bucket of `at`, keeping the buckets in order (`at` may lie ahead of
    /// the newest bucket: a lease's units are counted at its horizon).
    pub(super) fn add_units(&mut self, limit: &RateLimit, at: UnixMillis, units: u32) {
        let bucket = bucket_ms(limit);
        let start = at.0 / bucket * bucket;
        let at = self.buckets.partition_point(|(s, _)| *s < start);
        match self.buckets.get_mut(at) {
            Some((s, n)) if *s == start => *n = n.saturating_add(units),
            _ => self.buckets.insert(at, (start, units)),
        }
    }

    /// Takes back up to `units` from the bucket of `at`, if it is still counted.
    pub(super) fn remove_units(&mut self, limit: &RateLimit, at: UnixMillis, units: u32) {
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
        .filter(|&i| counts[i] >= limits[i].limit.get())
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

#[cfg(test)]
mod tests;
