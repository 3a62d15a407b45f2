//! Counters of a key's windows with their leases: the write lease that batches storage
//! writes (a reservation restored as counted after a crash) and the admission leases lent to
//! isolates and given back.

use serde::{Deserialize, Serialize};

use super::window::{Decision, RateLimit, WindowReport, WindowState, bucket_ms, decide};
use crate::domain::time::UnixMillis;

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
        .map(|l| (l.name.clone(), l.window_seconds.get()))
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
            .map(|l| (l.name.clone(), (l.limit.get() / 10).clamp(1, 10)))
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
            .map(|(l, (_, s))| l.limit.get().saturating_sub(s.count(l, now)))
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
            .map(|l| l.window_ms() + bucket_ms(l))
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
        if now.eq(limits
            .iter()
            .map(|l| (l.name.as_str(), l.window_seconds.get())))
        {
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
mod tests;
