//! Tests of `lease.rs`.

use super::*;
use proptest::prelude::*;

fn limit(name: &str, limit: u32, window_seconds: u32) -> RateLimit {
    RateLimit::new(name, limit, window_seconds).unwrap()
}

#[test]
fn a_window_keeps_its_counts_when_others_come_and_go() {
    let minute = limit("minute", 3, 60);
    let mut counters = Counters::default();
    let mut stored = None;
    let mut admit =
        |limits: &[RateLimit], t| admit_with_write(&mut counters, limits, t, false, &mut stored).0;
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
    let mut admit =
        |limits: &[RateLimit], t| admit_with_write(&mut counters, limits, t, false, &mut stored).0;
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
            let (admitted, wrote) = admit_with_write(&mut counters, &limits, t, true, &mut stored);
            if wrote {
                assert!(!admitted, "a failed write never admits");
                assert_eq!(counters, before, "the counters are exactly as before");
                break;
            }
        }
    }
    // Storage recovers: the next request renews the lease and is admitted.
    let (admitted, wrote) = admit_with_write(&mut counters, &limits, t + 100, false, &mut stored);
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

}
