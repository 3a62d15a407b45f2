//! Tests of `window.rs`.

use super::*;
use proptest::prelude::*;

fn limit(name: &str, limit: u32, window_seconds: u32) -> RateLimit {
    RateLimit::new(name, limit, window_seconds).unwrap()
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
    let Decision::Allowed { windows } = decide(&limits, &mut states, UnixMillis(1_000_000)) else {
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
