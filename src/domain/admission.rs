//! Admission leases: how an isolate admits a key's requests on its own, for a bounded time and
//! a bounded number, without ever letting a window hold more than its limit.
//!
//! One state machine, two sides:
//!
//! - **The guard** ([`grant`]) decides the request in hand and lends the isolate that asked a
//!   lease: `units` admissions (the request in hand is the first) valid for `period_ms`. The
//!   units count in every window **the moment they are lent**, in the bucket of the lease's
//!   horizon (`now + period`), so they stay counted until the horizon has left the window:
//!   every admission made with them happens before the horizon, so no interval of a window's
//!   length ever holds more than the limit (see [`Counters::lend`]). A lease counts only once
//!   the guard has stored it (the [`Renewal`] is written first), so a guard restart never forgets
//!   one.
//! - **The isolate** ([`Lease`]) admits, counts and authorizes on the record the guard sent,
//!   while `now` is within the lease and units are left. Then it calls again, handing back the
//!   unused units (released by the guard: [`Counters::release`]) and what it did since its last
//!   call ([`Tally`]). Its lease ends at `asked_at + period − period/50`, on its own clock,
//!   measured from **before** it asked: the guard decided later, so the lease ends, in real time,
//!   before `decision + period` even with the isolate's clock off by any constant and its rate
//!   off by up to 2 %. That is the revocation bound: a key revoked, disabled or changed at the
//!   guard is used nowhere later than `period` after the change.
//!
//! **Sizing** ([`spare`]): beyond the request in hand, an isolate gets the requests it has
//! waiting, plus what its recent rate would use in one period; never more than a quarter of the
//! room left in the window (so a few isolates cannot hold it all), and for windows below
//! [`LOW_LIMIT`] nothing beyond the requests waiting: a 5/min key gets exactly 5.
//!
//! **Bounds.** Under-admission: units lent and never used are counted until given back; an
//! isolate that vanishes leaves its unused units counted until its lease's horizon leaves the
//! window (at most one lease per isolate: its last grant). Lost usage: an isolate that vanishes
//! loses the [`Tally`] of its last lease (at most that lease's units admitted, and its local
//! refusals); the recent events of leased requests are sampled ([`SAMPLE`] per lease, the first
//! ones: later ones need not read the client's country).
//!
//! [`Counters::lend`]: crate::domain::limits::window::Counters::lend
//! [`Counters::release`]: crate::domain::limits::window::Counters::release
//! [`Renewal`]: crate::domain::limits::window::Renewal

use serde::{Deserialize, Serialize};

use crate::domain::authz::policy::Route;
use crate::domain::authz::verify::{self, AuthorizedKey};
use crate::domain::error::GateError;
use crate::domain::key::record::KeyRecord;
use crate::domain::limits::lease::{Counters, Renewal};
use crate::domain::limits::usage::UsageEvent;
pub use crate::domain::limits::usage::{SAMPLE, Tally};
use crate::domain::limits::window::RateLimit;
use crate::domain::limits::window::{Decision, WindowReport};
use crate::domain::time::UnixMillis;

/// Windows with a limit below this lend no units beyond the requests waiting.
pub const LOW_LIMIT: u32 = 50;
/// A lease takes at most `1 / SHARE` of the room left in a window.
pub const SHARE: u32 = 4;

/// Identifies a lease at its guard.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseId(pub u64);

/// What an isolate asks of the guard with a request in hand.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// Requests of the key waiting in the isolate, the one in hand included (≥ 1).
    pub waiting: u32,
    /// The isolate's previous lease, given back.
    #[serde(default)]
    pub handback: Option<Handback>,
}

/// A lease given back: its unused units, how long it was held, and what was done with it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Handback {
    /// The lease (`None`: a lease without windows, nothing to release).
    pub lease: Option<LeaseId>,
    /// Units not used.
    pub unused: u32,
    /// From asking for it until giving it back, on the isolate's clock, ms.
    pub held_ms: u64,
    /// Usage under it.
    pub tally: Tally,
}

/// A lease as the guard grants it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Its id (`None` when the key has no windows: nothing is counted or released).
    pub lease: Option<LeaseId>,
    /// Units for the isolate beyond the request in hand.
    pub spare: u32,
    /// How long it holds, ms (the key's revocation bound).
    pub period_ms: u64,
}

/// Units lent beyond the request in hand, with `room_after` admissions left in the tightest
/// window once it is counted: the requests waiting, plus (for windows of [`LOW_LIMIT`] or more)
/// what the isolate's last lease's rate would admit in `period_ms`; never more than
/// `room_after / SHARE` beyond the requests waiting, never more than `room_after`.
pub fn spare(limits: &[RateLimit], room_after: u32, ask: &Ask, period_ms: u64) -> u32 {
    let waiting = ask.waiting.saturating_sub(1);
    let low = limits.iter().any(|l| l.limit.get() < LOW_LIMIT);
    let by_rate = match &ask.handback {
        Some(h) if !low && h.held_ms > 0 => {
            let rate = (u64::from(h.tally.admitted) + 1) * period_ms / h.held_ms;
            u32::try_from(rate)
                .unwrap_or(u32::MAX)
                .min(room_after / SHARE)
        }
        _ => 0,
    };
    waiting.max(by_rate).min(room_after)
}

/// The guard's step for one lease request, as computed by [`grant`].
#[derive(Debug)]
pub struct Granted {
    /// The decision on the request in hand; `None` when status or authorization refused it.
    pub decision: Option<Decision>,
    /// The lease lent, when the request was admitted.
    pub grant: Option<Grant>,
    /// The counters after the step.
    pub next: Renewal,
    /// Whether `next` must be written before it is relied on (a lease lent units beyond the
    /// request in hand, or the request needed a new reservation of the guard's own batching).
    /// Otherwise it may be committed at once: it differs from the stored counters only by
    /// releases (losing one under-admits) and admissions the stored reservation covers.
    pub write: bool,
}

/// The guard's step for a lease request: gives back the isolate's previous lease, then decides
/// the request in hand (`allowed`: the key's status and authorization for it) and lends a new
/// lease when it is admitted. `counters` is not touched: see [`Granted`].
pub fn grant(
    counters: &Counters,
    limits: &[RateLimit],
    allowed: Result<(), GateError>,
    ask: &Ask,
    period_ms: u64,
    now: UnixMillis,
) -> Granted {
    let mut next = counters.clone();
    if let Some(Handback {
        lease: Some(id),
        unused,
        ..
    }) = &ask.handback
    {
        next.release(limits, id.0, *unused);
    }
    let refused = |next: Counters, decision| Granted {
        decision,
        grant: None,
        next: next.renewal(),
        write: false,
    };
    if allowed.is_err() {
        return refused(next, None);
    }
    let room = next.room(limits, now);
    if room == 0 {
        let windows = next.reports(limits, now);
        let retry_after = retry_after(&windows, limits, now);
        let decision = Decision::Limited {
            windows,
            retry_after,
        };
        return refused(next, Some(decision));
    }
    if limits.is_empty() {
        let grant = Grant {
            lease: None,
            spare: u32::MAX,
            period_ms,
        };
        let decision = Decision::Allowed {
            windows: Vec::new(),
        };
        return Granted {
            decision: Some(decision),
            grant: Some(grant),
            next: next.renewal(),
            write: false,
        };
    }
    let spare = spare(limits, room - 1, ask, period_ms);
    if spare == 0 {
        // Nothing lent: the request in hand is admitted as in strict mode, within the guard's
        // own batched writes. The lease still carries the record for the period.
        let (decision, renewal) = next.admit(limits, now);
        let grant = Grant {
            lease: None,
            spare: 0,
            period_ms,
        };
        let write = renewal.is_some();
        let next = renewal.unwrap_or_else(|| next.renewal());
        return Granted {
            decision: Some(decision),
            grant: Some(grant),
            next,
            write,
        };
    }
    let id = next.lend(limits, spare, now.plus_millis(period_ms), now);
    let windows = next.reports(limits, now);
    Granted {
        decision: Some(Decision::Allowed { windows }),
        grant: Some(Grant {
            lease: Some(LeaseId(id)),
            spare,
            period_ms,
        }),
        next: next.renewal(),
        write: true,
    }
}

/// Seconds until every full window has room again (at least 1).
fn retry_after(windows: &[WindowReport], limits: &[RateLimit], now: UnixMillis) -> u64 {
    windows
        .iter()
        .zip(limits)
        .filter(|(w, _)| w.remaining == 0)
        .map(|(w, _)| w.reset_at.0.saturating_sub(now.0))
        .max()
        .unwrap_or(0)
        .div_ceil(1000)
        .max(1)
}

/// The isolate's side: a lease the guard granted, with the record it was granted on.
#[derive(Debug, Clone)]
pub struct Lease {
    lease: Option<LeaseId>,
    record: KeyRecord,
    asked_at: UnixMillis,
    until: UnixMillis,
    left: u32,
    /// The windows as the guard reported them after lending (the lent units counted as used).
    windows: Vec<WindowReport>,
    tally: Tally,
}

/// What an isolate's lease says of a request.
#[allow(clippy::large_enum_variant)] // returned once per request and matched at once
#[derive(Debug)]
pub enum Local {
    /// Admitted and counted under the lease; the windows for the headers.
    Admitted(AuthorizedKey, Vec<WindowReport>),
    /// Refused by the key's status or authorization, on the guard's record, within the lease.
    Refused(GateError),
    /// The lease is over (its period or its units): ask the guard.
    Over,
}

impl Lease {
    /// The lease `grant` on `record`, asked for at `asked_at` (the isolate's clock, read before
    /// sending), with `windows` as the guard reported them.
    pub fn new(
        grant: &Grant,
        record: KeyRecord,
        windows: Vec<WindowReport>,
        asked_at: UnixMillis,
    ) -> Lease {
        let period = grant.period_ms - grant.period_ms / 50;
        Lease {
            lease: grant.lease,
            record,
            asked_at,
            until: asked_at.plus_millis(period),
            left: grant.spare,
            windows,
            tally: Tally::default(),
        }
    }

    /// The record the lease was granted on.
    pub fn record(&self) -> &KeyRecord {
        &self.record
    }

    /// Whether the lease still holds at `now` (a clock that went back before the ask ends it).
    pub fn holds(&self, now: UnixMillis) -> bool {
        self.asked_at <= now && now < self.until
    }

    /// Decides a request to `route` at `now` under the lease, recording `event` when it is
    /// decided here. Status and authorization first: a refusal uses no unit. A key whose status
    /// refuses it (expired since the grant) ends the lease: the guard decides that request, and
    /// records and audits the refusal as it does for every authentication failure.
    pub fn admit(&mut self, route: &Route<'_>, mut event: UsageEvent, now: UnixMillis) -> Local {
        if !self.holds(now) {
            return Local::Over;
        }
        let Ok(active) = verify::check_status(self.record.clone(), now) else {
            return Local::Over;
        };
        match verify::authorize(active, route) {
            Err(refusal) => {
                event.outcome = refusal.code().into();
                event.status = Some(refusal.status());
                self.tally.record(event);
                Local::Refused(refusal)
            }
            Ok(_) if self.left == 0 => Local::Over,
            Ok(key) => {
                self.left -= 1;
                event.outcome = "admitted".into();
                event.status = None;
                self.tally.record(event);
                Local::Admitted(key, self.windows())
            }
        }
    }

    /// Whether the next request decided under the lease is kept among the sampled events
    /// (`Tally::sample`), so its whole event is worth reading.
    pub fn samples_next(&self) -> bool {
        self.tally.samples_next()
    }

    /// The windows as this isolate sees them: the guard's report, with the units this lease
    /// still holds counted as room (they are this isolate's to use).
    pub fn windows(&self) -> Vec<WindowReport> {
        let left = if self.lease.is_some() { self.left } else { 0 };
        self.windows
            .iter()
            .map(|w| WindowReport {
                remaining: w.remaining.saturating_add(left),
                ..w.clone()
            })
            .collect()
    }

    /// Which grant this is: its id and when it was asked for.
    pub fn identity(&self) -> (Option<LeaseId>, UnixMillis) {
        (self.lease, self.asked_at)
    }

    /// When the lease ends, on the isolate's clock.
    pub fn ends(&self) -> UnixMillis {
        self.until
    }

    /// Ends the lease at `now` (the isolate's clock): what goes back to the guard.
    pub fn hand_back(self, now: UnixMillis) -> Handback {
        Handback {
            lease: self.lease,
            unused: self.left,
            held_ms: now.0.saturating_sub(self.asked_at.0),
            tally: self.tally,
        }
    }
}

#[cfg(test)]
mod tests;
