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
//! refusals); the recent events of leased admissions are sampled ([`SAMPLE`] per call, the
//! latest ones).
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
mod tests {
    use super::*;
    use crate::domain::authz::scope::Action;
    use proptest::prelude::*;

    fn limit(n: u32, window_seconds: u32) -> RateLimit {
        RateLimit::new("w", n, window_seconds).unwrap()
    }

    fn record() -> KeyRecord {
        KeyRecord::from_json(
            r#"{"id":"key_a","org":"acme","name":"test","created_at":0,"scopes":["read"]}"#,
        )
        .unwrap()
    }

    fn route() -> Route<'static> {
        Route {
            resource: "employees",
            action: Action::Read,
            ids: Vec::new(),
            envelope: None,
        }
    }

    fn event(at: u64) -> UsageEvent {
        UsageEvent {
            at: UnixMillis(at),
            method: "GET".into(),
            path: "/x".into(),
            outcome: String::new(),
            status: None,
            country: None,
        }
    }

    #[test]
    fn a_low_limit_lends_nothing_beyond_the_request() {
        let limits = [limit(5, 60)];
        let ask = Ask {
            waiting: 1,
            handback: Some(Handback {
                lease: None,
                unused: 0,
                held_ms: 1,
                tally: Tally {
                    admitted: 1_000,
                    ..Tally::default()
                },
            }),
        };
        assert_eq!(spare(&limits, 4, &ask, 1_000), 0);
        // Requests waiting in the isolate get their units, within the room.
        let waiting = Ask { waiting: 9, ..ask };
        assert_eq!(spare(&limits, 4, &waiting, 1_000), 4);
    }

    #[test]
    fn the_allowance_follows_the_rate_within_a_share_of_the_room() {
        let limits = [limit(100_000, 60)];
        let after = |admitted, held_ms| Ask {
            waiting: 1,
            handback: Some(Handback {
                lease: Some(LeaseId(0)),
                unused: 0,
                held_ms,
                tally: Tally {
                    admitted,
                    ..Tally::default()
                },
            }),
        };
        // 1 250 req/s in one isolate, over a 1 s lease: about 1 250 units.
        assert_eq!(spare(&limits, 99_000, &after(1_249, 1_000), 1_000), 1_250);
        // Never more than a quarter of the room left.
        assert_eq!(spare(&limits, 4_000, &after(1_249, 1_000), 1_000), 1_000);
        // A first call lends nothing beyond the requests waiting.
        assert_eq!(spare(&limits, 99_000, &Ask::default(), 1_000), 0);
    }

    #[test]
    fn a_five_per_minute_key_gets_exactly_five_across_isolates() {
        let limits = [limit(5, 60)];
        let mut counters = Counters::default();
        let mut admitted = 0;
        for i in 0..40u64 {
            let ask = Ask {
                waiting: 1,
                handback: None,
            };
            let step = grant(
                &counters,
                &limits,
                Ok(()),
                &ask,
                1_000,
                UnixMillis(1_000 + i),
            );
            counters.commit(step.next);
            if matches!(step.decision, Some(Decision::Allowed { .. })) {
                admitted += 1;
                assert_eq!(step.grant.unwrap().spare, 0);
            }
        }
        assert_eq!(admitted, 5);
    }

    #[test]
    fn a_lease_admits_its_units_then_hands_back_the_rest() {
        let limits = [limit(1_000, 60)];
        let mut counters = Counters::default();
        let ask = Ask {
            waiting: 3,
            handback: None,
        };
        let Granted {
            decision,
            grant: Some(grant),
            next,
            write: true,
        } = grant(&counters, &limits, Ok(()), &ask, 1_000, UnixMillis(10_000))
        else {
            panic!("not granted, or not written")
        };
        counters.commit(next);
        let Some(Decision::Allowed { windows }) = decision else {
            panic!()
        };
        assert_eq!(grant.spare, 2);
        assert_eq!(windows[0].remaining, 997, "the lent units count at once");
        let mut lease = Lease::new(&grant, record(), windows, UnixMillis(9_990));
        let Local::Admitted(_, windows) = lease.admit(&route(), event(10_001), UnixMillis(10_001))
        else {
            panic!()
        };
        assert_eq!(
            windows[0].remaining, 998,
            "the unit left still counts as room"
        );
        let handback = lease.hand_back(UnixMillis(10_002));
        assert_eq!((handback.unused, handback.tally.admitted), (1, 1));
        let ask = Ask {
            waiting: 1,
            handback: Some(handback),
        };
        let Granted {
            grant: Some(second),
            next,
            ..
        } = super::grant(&counters, &limits, Ok(()), &ask, 1_000, UnixMillis(10_003))
        else {
            panic!("not granted")
        };
        counters.commit(next);
        // 2 used of the first lease, its unused unit back, the second lease's units counted;
        // sized from the first lease's rate (2 admissions in 12 ms → 166 in a second).
        assert_eq!(second.spare, 166);
        let room = counters.room(&limits, UnixMillis(10_004));
        assert_eq!(room, 1_000 - 2 - (1 + second.spare));
    }

    #[test]
    fn a_lease_ends_with_its_period_and_refuses_on_its_record() {
        let grant = Grant {
            lease: Some(LeaseId(1)),
            spare: 10,
            period_ms: 1_000,
        };
        let mut lease = Lease::new(&grant, record(), Vec::new(), UnixMillis(5_000));
        assert!(matches!(
            lease.admit(&route(), event(5_979), UnixMillis(5_979)),
            Local::Admitted(..)
        ));
        assert!(matches!(
            lease.admit(&route(), event(5_980), UnixMillis(5_980)),
            Local::Over
        ));
        assert!(matches!(
            lease.admit(&route(), event(4_999), UnixMillis(4_999)),
            Local::Over
        ));
        let write = Route {
            action: Action::Write,
            ..route()
        };
        let mut lease = Lease::new(&grant, record(), Vec::new(), UnixMillis(5_000));
        assert!(matches!(
            lease.admit(&write, event(5_001), UnixMillis(5_001)),
            Local::Refused(GateError::InsufficientScope { .. })
        ));
        assert_eq!(lease.hand_back(UnixMillis(5_002)).unused, 10);
        // A key that expires during the lease goes back to its guard (which audits it).
        let brief = KeyRecord {
            expires_at: Some(UnixMillis(5_500)),
            ..record()
        };
        let mut lease = Lease::new(&grant, brief, Vec::new(), UnixMillis(5_000));
        assert!(matches!(
            lease.admit(&route(), event(5_499), UnixMillis(5_499)),
            Local::Admitted(..)
        ));
        assert!(matches!(
            lease.admit(&route(), event(5_500), UnixMillis(5_500)),
            Local::Over
        ));
    }

    /// One step of the simulation.
    #[derive(Clone, Debug)]
    enum Step {
        /// A request at an isolate.
        Request(usize),
        /// The isolate vanishes (its lease and tally with it); a new one starts with another
        /// clock.
        IsolateCrash(usize, i64),
        /// The guard restarts from what it last stored.
        GuardCrash,
        /// The guard's next write fails.
        FailWrite,
        /// The key is revoked at the guard.
        Revoke,
    }

    fn step() -> impl Strategy<Value = (u64, Step)> {
        let kind = prop_oneof![
            20 => (0usize..5).prop_map(Step::Request),
            1 => ((0usize..5), -3_000i64..3_000).prop_map(|(i, o)| Step::IsolateCrash(i, o)),
            1 => Just(Step::GuardCrash),
            1 => Just(Step::FailWrite),
            1 => Just(Step::Revoke),
        ];
        (prop_oneof![0u64..20, 0u64..300, 0u64..3_000], kind)
    }

    struct Isolate {
        /// Its clock: `real × (1 + ppm / 1e6) + offset`.
        offset: i64,
        ppm: i64,
        lease: Option<Lease>,
    }

    impl Isolate {
        fn clock(&self, real: u64) -> UnixMillis {
            let drift = real as i128 * self.ppm as i128 / 1_000_000;
            UnixMillis((real as i128 + drift + self.offset as i128) as u64)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        /// Several isolates under leases, one guard, renewals, isolate and guard crashes,
        /// failed writes, clocks off by seconds and drifting by up to 1 %: no interval of a
        /// window's length holds more than the limit, and nothing is admitted later than the
        /// lease period after the key was revoked.
        #[test]
        fn leases_never_over_admit_nor_outlive_a_revocation(
            n in prop_oneof![1u32..10, 40u32..200],
            window_s in 1u32..20,
            period in prop::sample::select(vec![0u64, 1, 50, 300, 1_000, 3_000]),
            clocks in prop::collection::vec((-5_000i64..5_000, -10_000i64..10_000), 5),
            waiting in 1u32..8,
            steps in prop::collection::vec(step(), 1..500),
        ) {
            let limits = [limit(n, window_s)];
            let window_ms = u64::from(window_s) * 1000;
            let mut real = 1_000_000u64;
            let mut isolates: Vec<Isolate> = clocks
                .iter()
                .map(|&(offset, ppm)| Isolate { offset, ppm, lease: None })
                .collect();
            let mut counters = Counters::default();
            let mut stored = serde_json::to_string(&counters).unwrap();
            let mut fail_next = false;
            let mut revoked_at: Option<u64> = None;
            let mut admitted: Vec<u64> = Vec::new();
            for (gap, step) in steps {
                real += gap;
                match step {
                    Step::IsolateCrash(i, offset) => {
                        isolates[i].lease = None;
                        isolates[i].offset = offset;
                        continue;
                    }
                    Step::GuardCrash => {
                        counters = Counters::restore(serde_json::from_str(&stored).unwrap());
                        continue;
                    }
                    Step::FailWrite => {
                        fail_next = true;
                        continue;
                    }
                    Step::Revoke => {
                        revoked_at.get_or_insert(real);
                        continue;
                    }
                    Step::Request(_) => {}
                }
                let Step::Request(i) = step else { unreachable!() };
                let isolate = &mut isolates[i];
                let local_now = isolate.clock(real);
                if let Some(lease) = isolate.lease.as_mut() {
                    match lease.admit(&route(), event(local_now.0), local_now) {
                        Local::Admitted(..) => {
                            admitted.push(real);
                            check(&admitted, real, window_ms, n, revoked_at, period)?;
                            continue;
                        }
                        Local::Refused(_) => continue,
                        Local::Over => {}
                    }
                }
                // Ask the guard (its clock is the real one), handing the lease back.
                let asked_at = local_now;
                let handback = isolate.lease.take().map(|l| l.hand_back(local_now));
                let ask = Ask { waiting, handback };
                let allowed = if revoked_at.is_some() { Err(GateError::InvalidKey) } else { Ok(()) };
                let Granted { decision, grant: granted, next, write } =
                    grant(&counters, &limits, allowed, &ask, period, UnixMillis(real));
                if write {
                    if std::mem::take(&mut fail_next) {
                        // Not stored: nothing counts, nothing is admitted.
                        continue;
                    }
                    stored = serde_json::to_string(next.stored()).unwrap();
                }
                counters.commit(next);
                if let (Some(Decision::Allowed { windows }), Some(grant)) = (decision, granted) {
                    admitted.push(real);
                    check(&admitted, real, window_ms, n, revoked_at, period)?;
                    isolate.lease = Some(Lease::new(&grant, record(), windows, asked_at));
                }
            }
        }
    }

    /// The admission at `real` (the last of `admitted`) keeps every window within the limit
    /// and comes before the revocation bound.
    fn check(
        admitted: &[u64],
        real: u64,
        window_ms: u64,
        limit: u32,
        revoked_at: Option<u64>,
        period: u64,
    ) -> Result<(), TestCaseError> {
        let recent = admitted.iter().filter(|&&t| t + window_ms > real).count() as u32;
        prop_assert!(
            recent <= limit,
            "{recent} admitted within {window_ms} ms, limit {limit}"
        );
        if let Some(at) = revoked_at {
            prop_assert!(
                real < at + period.max(1),
                "admitted at {real}, revoked at {at}, bound {period} ms"
            );
        }
        Ok(())
    }
}
