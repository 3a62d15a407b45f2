//! Tests of `usage.rs`.

use super::*;

fn event(at: u64, outcome: &str) -> UsageEvent {
    UsageEvent {
        at: UnixMillis(at),
        method: "GET".into(),
        path: "/x".into(),
        outcome: outcome.into(),
        status: None,
        country: None,
    }
}

#[test]
fn truncation_cuts_on_a_char_boundary_and_marks_the_cut() {
    let mut long = "/".to_owned() + &"a".repeat(60 * 1024);
    truncate(&mut long, MAX_PATH_BYTES);
    assert_eq!(long.len(), MAX_PATH_BYTES);
    assert!(long.starts_with("/aaa") && long.ends_with("aaa…"), "{long}");
    // A 2-byte character straddling the cut is dropped whole, never split.
    for pad in 0..4 {
        let mut text = "x".repeat(pad) + &"é".repeat(400);
        truncate(&mut text, MAX_PATH_BYTES);
        assert!(text.len() <= MAX_PATH_BYTES && text.len() >= MAX_PATH_BYTES - 1);
        assert!(text.ends_with('…'));
        let kept = text.strip_suffix('…').unwrap();
        assert!(kept.chars().all(|c| c == 'x' || c == 'é'));
    }
    for short in ["", "/", "/api/x"] {
        let mut text = short.to_owned();
        truncate(&mut text, MAX_PATH_BYTES);
        assert_eq!(text, short, "short text is untouched");
    }
    let mut exact = "b".repeat(MAX_PATH_BYTES);
    truncate(&mut exact, MAX_PATH_BYTES);
    assert_eq!(exact.len(), MAX_PATH_BYTES);
    assert!(!exact.ends_with('…'), "exactly the bound is not cut");
    let mut tiny = "abcdef".to_owned();
    truncate(&mut tiny, 2);
    assert_eq!(tiny, "ab");
}

#[test]
fn stored_usage_stays_small_whatever_the_requests() {
    // The worst a client can send: huge path, method and country, escaped in JSON.
    let mut u = Usage::default();
    for i in 0..200 {
        u.record(UsageEvent {
            at: UnixMillis(i),
            method: "M".repeat(10_000),
            path: "\"\u{1}".repeat(30_000),
            outcome: "o".repeat(10_000),
            status: Some(429),
            country: Some("c".repeat(10_000)),
        });
    }
    let json = serde_json::to_string(&u).unwrap();
    assert!(
        json.len() < 256 * 1024,
        "usage of {} bytes: far below the 2 MB a stored value may hold",
        json.len()
    );
    let view = u.view(UnixMillis(1_000));
    let event = &view.recent[0];
    assert!(event.path.len() <= MAX_PATH_BYTES && event.path.ends_with('…'));
    assert!(event.method.len() <= MAX_METHOD_BYTES);
    assert!(event.country.as_deref().unwrap().len() <= MAX_COUNTRY_BYTES);
}

fn at(text: &str) -> UnixMillis {
    UnixMillis::parse_rfc3339(text).unwrap()
}

fn event_at(text: &str, outcome: &str) -> UsageEvent {
    event(at(text).0, outcome)
}

/// `(start, admitted, refused)` of each bucket with requests.
fn busy(view: &SeriesView) -> Vec<(String, u64, u64)> {
    view.buckets
        .iter()
        .filter(|b| b.admitted + b.refused > 0)
        .map(|b| (b.start.to_string(), b.admitted, b.refused))
        .collect()
}

#[test]
fn series_split_at_utc_hour_and_day_boundaries() {
    let mut u = Usage::default();
    for (time, outcome) in [
        ("2026-11-23T23:59:59.999Z", "admitted"),
        ("2026-11-24T00:00:00Z", "admitted"),
        ("2026-11-24T00:00:00.001Z", "insufficient_scope"),
        ("2026-11-24T09:59:59.999Z", "rate_limit_exceeded"),
        ("2026-11-24T10:00:00Z", "admitted"),
        ("2026-11-24T10:30:00Z", "disabled_key"),
    ] {
        u.record(event_at(time, outcome));
    }
    let now = at("2026-11-24T10:45:00Z");
    let hours = u.series(Series::Hour, now);
    assert_eq!(hours.series, Series::Hour);
    assert_eq!(hours.buckets.len(), 48);
    assert_eq!(
        hours.buckets.last().unwrap().start,
        at("2026-11-24T10:00:00Z")
    );
    assert_eq!(hours.buckets[0].start, at("2026-11-22T11:00:00Z"));
    assert_eq!(
        busy(&hours),
        vec![
            ("2026-11-23T23:00:00.000Z".into(), 1, 0),
            ("2026-11-24T00:00:00.000Z".into(), 1, 1),
            ("2026-11-24T09:00:00.000Z".into(), 0, 1),
            ("2026-11-24T10:00:00.000Z".into(), 1, 1),
        ]
    );
    let days = u.series(Series::Day, now);
    assert_eq!(days.buckets.len(), 30);
    assert_eq!(days.buckets[0].start, at("2026-10-26T00:00:00Z"));
    assert_eq!(
        busy(&days),
        vec![
            ("2026-11-23T00:00:00.000Z".into(), 1, 0),
            ("2026-11-24T00:00:00.000Z".into(), 2, 3),
        ]
    );
    // Buckets are consecutive, each one period after the last, zero when idle.
    for pair in hours.buckets.windows(2) {
        assert_eq!(pair[1].start.0 - pair[0].start.0, UnixMillis::HOUR);
    }
    assert_eq!(
        serde_json::to_value(&days).unwrap()["buckets"][29],
        serde_json::json!({"start": "2026-11-24T00:00:00.000Z", "admitted": 2, "refused": 3})
    );
    let idle = Usage::default().series(Series::Day, now);
    assert_eq!(idle.buckets.len(), 30);
    assert!(busy(&idle).is_empty(), "zero-filled");
}

#[test]
fn series_keep_48_hours_and_30_days() {
    let mut u = Usage::default();
    let start = at("2026-01-01T00:30:00Z").0;
    // One admitted and one refused request an hour for 60 days.
    for hour in 0..60 * 24 {
        let t = start + hour * UnixMillis::HOUR;
        u.record(event(t, "admitted"));
        u.record(event(t + 1, "rate_limit_exceeded"));
    }
    assert_eq!(u.hourly.0.len(), HOURS_KEPT as usize);
    assert_eq!(u.hourly_refused.0.len(), 48);
    assert_eq!((u.daily.0.len(), u.daily_refused.0.len()), (30, 30));
    let now = UnixMillis(start + (60 * 24 - 1) * UnixMillis::HOUR);
    let hours = u.series(Series::Hour, now);
    assert!(
        hours
            .buckets
            .iter()
            .all(|b| (b.admitted, b.refused) == (1, 1))
    );
    let days = u.series(Series::Day, now);
    assert!(
        days.buckets
            .iter()
            .all(|b| (b.admitted, b.refused) == (24, 24))
    );
    // A day later nothing new happened: the day shifts in as zeros.
    let later = u.series(Series::Day, now.plus_millis(UnixMillis::DAY));
    assert_eq!(later.buckets.len(), 30);
    assert_eq!(
        (later.buckets[29].admitted, later.buckets[28].admitted),
        (0, 24)
    );
    let json = serde_json::to_string(&u).unwrap();
    assert!(json.len() < 16 * 1024, "{} bytes of series", json.len());
}

#[test]
fn an_absorbed_tally_counts_refusals_when_the_guard_receives_it() {
    let mut u = Usage::default();
    let mut tally = Tally::default();
    tally.record(event_at("2026-11-24T09:59:58Z", "admitted"));
    tally.record(event_at("2026-11-24T09:59:59Z", "admitted"));
    tally.record(event_at("2026-11-24T09:59:59.5Z", "insufficient_scope"));
    tally.record(event_at("2026-11-24T09:59:59.6Z", "resource_forbidden"));
    u.absorb(&tally, at("2026-11-24T10:00:00.5Z"));
    let hours = u.series(Series::Hour, at("2026-11-24T10:10:00Z"));
    assert_eq!(
        busy(&hours),
        vec![
            ("2026-11-24T09:00:00.000Z".into(), 2, 0),
            ("2026-11-24T10:00:00.000Z".into(), 0, 2),
        ]
    );
    // An earlier hour (a late tally) lands in its place, not at the end.
    let mut late = Tally::default();
    late.record(event_at("2026-11-24T08:15:00Z", "admitted"));
    u.absorb(&late, at("2026-11-24T10:01:00Z"));
    let hours = u.series(Series::Hour, at("2026-11-24T10:10:00Z"));
    assert_eq!(busy(&hours)[0], ("2026-11-24T08:00:00.000Z".into(), 1, 0));
    assert_eq!(u.view(at("2026-11-24T10:10:00Z")).requests_total, 3);
}

#[test]
fn usage_stored_before_the_series_still_reads() {
    let stored =
        r#"{"last_used_at":1000,"total":2,"hourly":[[0,2]],"refused":{"x":1},"recent":[]}"#;
    let mut u: Usage = serde_json::from_str(stored).unwrap();
    assert_eq!(u.view(UnixMillis(2_000)).requests_24h, 2);
    assert!(busy(&u.series(Series::Day, UnixMillis(2_000))).is_empty());
    u.record(event(3_000, "admitted"));
    let json = serde_json::to_value(&u).unwrap();
    assert_eq!(json["hourly"], serde_json::json!([[0, 3]]), "same format");
}

#[test]
fn counts_by_period_and_reason() {
    let mut u = Usage::default();
    let day = UnixMillis::DAY;
    u.record(event(0, "admitted"));
    u.record(event(3 * day, "admitted"));
    u.record(event(8 * day, "admitted"));
    u.record(event(8 * day + 1, "rate_limit_exceeded"));
    let v = u.view(UnixMillis(8 * day + 10));
    assert_eq!(
        (v.requests_24h, v.requests_7d, v.requests_total),
        (1, 2, 3),
        "day 3 is within 7 days of day 8"
    );
    assert_eq!(v.refused.get("rate_limit_exceeded"), Some(&1));
    assert_eq!(v.last_used_at, Some(UnixMillis(8 * day)));
    assert_eq!(v.recent[0].outcome, "rate_limit_exceeded", "newest first");
    for i in 0..100 {
        u.record(event(9 * day + i, "admitted"));
    }
    assert_eq!(u.view(UnixMillis(9 * day + 200)).recent.len(), RECENT);
}

#[test]
fn a_tally_keeps_the_first_events_and_counts_them_all() {
    let mut tally = Tally::default();
    for at in 0..(SAMPLE as u64 + 5) {
        assert_eq!(tally.samples_next(), at < SAMPLE as u64);
        tally.record(event(at, "admitted"));
    }
    tally.record(event(99, "insufficient_scope"));
    assert_eq!(tally.admitted, SAMPLE as u32 + 5);
    assert_eq!(tally.refused, vec![("insufficient_scope".to_owned(), 1)]);
    let kept: Vec<u64> = tally.sample.iter().map(|e| e.at.0).collect();
    assert_eq!(kept, (0..SAMPLE as u64).collect::<Vec<_>>());
}
