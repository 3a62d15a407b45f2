//! A key's meter as its guard keeps it: the rate-limit counters and the usage, stored together
//! in one value, and the one step that decides, counts and records a request.
//!
//! **Nothing counts before it is stored.** Most admissions are covered by the stored lease (see
//! [`Counters`]) and are counted in place. One that is not is decided on copies and handed back
//! as [`Pending`]: the guard writes [`Pending::stored`], and only once that write succeeded does
//! it [`commit`](Meter::commit) it and admit the request. A failed write drops the `Pending`:
//! the meter is exactly as before, so a restart never finds fewer admissions stored than were
//! made. Usage recorded with the counters follows the same rule.

use serde::{Deserialize, Serialize};

use crate::domain::admission::{self, Ask, Grant, Handback};
use crate::domain::error::GateError;
use crate::domain::limits::lease::{Counters, Renewal};
use crate::domain::limits::usage::{Usage, UsageEvent};
use crate::domain::limits::window::Decision;
use crate::domain::limits::window::RateLimit;
use crate::domain::time::UnixMillis;

/// The counters and usage of one key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Meter {
    counters: Counters,
    usage: Usage,
}

/// What one request did to the meter.
#[derive(Debug)]
pub struct Metered {
    /// The rate-limit decision; `None` when status or authorization refused the request.
    pub decision: Option<Decision>,
    /// The outcome recorded: `admitted`, `rate_limit_exceeded` or the refusal's code.
    pub outcome: String,
    /// `Some` when the decision counts only once written: write [`Pending::stored`], then
    /// [`Meter::commit`]; on a failed write, drop it and do not admit the request.
    pub pending: Option<Pending>,
}

/// What a lease request did to the meter.
#[derive(Debug)]
pub struct Leased {
    /// The decision on the request in hand; `None` when status or authorization refused it.
    pub decision: Option<Decision>,
    /// The lease lent, when the request was admitted.
    pub grant: Option<Grant>,
    /// `Some` when the step must be stored before it counts: write [`Pending::stored`], then [`Meter::commit`]; on a failed
    /// write, drop it, lend nothing and do not admit the request.
    pub pending: Option<Pending>,
}

/// An admission waiting for its write: the renewed counters and the usage with the request.
#[derive(Debug)]
#[must_use = "the admission counts only once written and committed"]
pub struct Pending {
    renewal: Renewal,
    usage: Usage,
}

/// A [`Meter`] as written, borrowed from a [`Pending`] (same fields, same JSON).
#[derive(Serialize, Debug)]
pub struct Stored<'a> {
    counters: &'a Counters,
    usage: &'a Usage,
}

impl Pending {
    /// What to write before the request is admitted.
    pub fn stored(&self) -> Stored<'_> {
        Stored {
            counters: self.renewal.stored(),
            usage: &self.usage,
        }
    }
}

impl Meter {
    /// The meter as stored, with the stored lease turned into counted buckets.
    pub fn restore(stored: Meter) -> Meter {
        Meter {
            counters: Counters::restore(stored.counters),
            usage: stored.usage,
        }
    }

    /// The usage.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Decides one request (`allowed`: the key's status and authorization for it) against
    /// `limits` at `now`, and records `event` with its outcome. A refusal, or an admission the
    /// stored lease covers, is recorded in place; any other admission comes back
    /// [`Pending`] and changes nothing until committed.
    pub fn admit(
        &mut self,
        allowed: Result<(), GateError>,
        limits: &[RateLimit],
        mut event: UsageEvent,
        now: UnixMillis,
    ) -> Metered {
        let (decision, renewal) = match allowed {
            Ok(()) => {
                let (decision, renewal) = self.counters.admit(limits, now);
                (event.outcome, event.status) = match decision {
                    Decision::Allowed { .. } => ("admitted".into(), None),
                    Decision::Limited { .. } => ("rate_limit_exceeded".into(), Some(429)),
                };
                (Some(decision), renewal)
            }
            Err(refusal) => {
                event.outcome = refusal.code().into();
                event.status = Some(refusal.status());
                (None, None)
            }
        };
        let outcome = event.outcome.clone();
        let pending = match renewal {
            None => {
                self.usage.record(event);
                None
            }
            Some(renewal) => {
                // Copied once per lease renewal, not per request.
                let mut usage = self.usage.clone();
                usage.record(event);
                Some(Pending { renewal, usage })
            }
        };
        Metered {
            decision,
            outcome,
            pending,
        }
    }

    /// The guard's step for a lease request (see [`admission::grant`]): takes back the
    /// isolate's previous lease and records its usage, then decides the request in hand
    /// (`allowed`: the key's status and authorization for it), records `event`, and lends a new
    /// lease when it is admitted. A new lease comes back [`Pending`], and counts (with all of
    /// this step) only once written and committed; a step that lends nothing is applied at once
    /// (a release or usage lost in a restart only under-admits and under-counts).
    pub fn lease(
        &mut self,
        allowed: Result<(), GateError>,
        limits: &[RateLimit],
        mut event: UsageEvent,
        ask: &Ask,
        period_ms: u64,
        now: UnixMillis,
    ) -> Leased {
        let refusal = allowed.as_ref().err().map(|e| (e.code(), e.status()));
        let admission::Granted {
            decision,
            grant,
            next: renewal,
            write,
        } = admission::grant(&self.counters, limits, allowed, ask, period_ms, now);
        (event.outcome, event.status) = match (&decision, refusal) {
            (_, Some((code, status))) => (code.into(), Some(status)),
            (Some(Decision::Allowed { .. }), None) => ("admitted".into(), None),
            (_, None) => ("rate_limit_exceeded".into(), Some(429)),
        };
        let mut usage = self.usage.clone();
        if let Some(handback) = &ask.handback {
            usage.absorb(&handback.tally, now);
        }
        usage.record(event);
        let pending = Pending { renewal, usage };
        if write {
            Leased {
                decision,
                grant,
                pending: Some(pending),
            }
        } else {
            self.commit(pending);
            Leased {
                decision,
                grant,
                pending: None,
            }
        }
    }

    /// Takes back a lease an isolate gives back without a request (its period ended) at `now`:
    /// its unused units are released and its usage recorded, in memory (a restart loses them:
    /// the units stay counted until they leave the windows, the usage is lost).
    pub fn hand_back(&mut self, limits: &[RateLimit], handback: &Handback, now: UnixMillis) {
        if let Some(id) = handback.lease {
            self.counters.release(limits, id.0, handback.unused);
        }
        self.usage.absorb(&handback.tally, now);
    }

    /// Makes a written [`Pending`] the current state.
    pub fn commit(&mut self, pending: Pending) {
        self.counters.commit(pending.renewal);
        self.usage = pending.usage;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A request with a path of `len` bytes.
    fn event(at: u64, len: usize) -> UsageEvent {
        UsageEvent {
            at: UnixMillis(at),
            method: "GET".into(),
            path: format!("/p/{}", "x".repeat(len)),
            outcome: String::new(),
            status: None,
            country: None,
        }
    }

    fn json(meter: &Meter) -> String {
        serde_json::to_string(meter).unwrap()
    }

    #[test]
    fn the_pending_meter_is_written_as_a_meter() {
        let limits = [RateLimit::new("minute", 30, 60).unwrap()];
        let mut meter = Meter::default();
        let metered = meter.admit(Ok(()), &limits, event(1_000, 60 * 1024), UnixMillis(1_000));
        assert_eq!(metered.outcome, "admitted");
        let pending = metered
            .pending
            .expect("the first admission renews the lease");
        let written = serde_json::to_string(&pending.stored()).unwrap();
        assert!(
            written.len() < 4_096,
            "the 60 KB path is cut before it is stored"
        );
        let read: Meter = serde_json::from_str(&written).unwrap();
        meter.commit(pending);
        assert_eq!(json(&read), json(&meter));
        assert_eq!(Meter::restore(read), Meter::restore(meter.clone()));
        assert_eq!(meter.usage().view(UnixMillis(2_000)).requests_total, 1);
    }

    proptest! {
        /// Whatever the traffic and whichever writes fail, a failed write leaves the meter
        /// (counters and usage) exactly as it was, and refusals by status or authorization
        /// never need a write.
        #[test]
        fn a_failed_write_leaves_the_meter_as_it_was(
            limit in 1u32..20,
            steps in prop::collection::vec((0u64..2_000, any::<bool>(), 0u8..5), 1..100),
        ) {
            let limits = [RateLimit::new("w", limit, 10).unwrap()];
            let mut meter = Meter::default();
            let mut now = 1_000_000;
            for (gap, write_fails, kind) in steps {
                now += gap;
                let allowed = if kind == 0 { Err(GateError::DisabledKey) } else { Ok(()) };
                let before = meter.clone();
                let metered = meter.admit(allowed, &limits, event(now, 600), UnixMillis(now));
                match metered.pending {
                    None => {}
                    Some(pending) => {
                        prop_assert_eq!(&metered.outcome, "admitted");
                        prop_assert_eq!(&meter, &before, "pending changed the meter");
                        if !write_fails {
                            meter.commit(pending);
                        }
                    }
                }
                if kind == 0 {
                    prop_assert!(metered.decision.is_none());
                }
            }
        }
    }
}
