//! Tests of `admission.rs`.

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
        requires: &[],
        write: Default::default(),
        ids: Vec::new(),
        parents: Vec::new(),
        envelope: None,
        known_types: None,
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
