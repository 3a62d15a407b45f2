//! Tests of `audit.rs`.

use super::*;

fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
    q.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn kinds_spell_as_serde_does() {
    for kind in AuditKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        assert_eq!(kind.as_str().parse::<AuditKind>().unwrap(), kind);
    }
    assert!("key_exploded".parse::<AuditKind>().is_err());
}

#[test]
fn throttle_lets_one_report_per_key_per_minute() {
    let mut t = Throttle::new(2);
    assert!(t.admit("a", UnixMillis(0)));
    assert!(!t.admit("a", UnixMillis(59_999)));
    assert!(t.admit("b", UnixMillis(1)), "keys are independent");
    assert!(t.admit("a", UnixMillis(60_000)), "a's minute ended");
    assert!(
        !t.admit("b", UnixMillis(60_000)),
        "b's minute has 1 ms left"
    );
    assert!(t.admit("b", UnixMillis(60_001)));
}

#[test]
fn a_budget_per_key_per_minute_with_refunds_and_retry_after() {
    let mut t = Throttle::with_budget(100, 3);
    for at in [0, 10, 20] {
        assert_eq!(t.take("client", UnixMillis(at)), Ok(()));
    }
    assert_eq!(
        t.take("client", UnixMillis(15_000)),
        Err(45_000),
        "room again when the minute that started at 0 ends"
    );
    assert_eq!(t.take("other", UnixMillis(15_000)), Ok(()));
    t.refund(&"client");
    assert_eq!(t.take("client", UnixMillis(15_001)), Ok(()), "refunded");
    assert!(t.take("client", UnixMillis(15_002)).is_err());
    assert_eq!(t.take("client", UnixMillis(60_000)), Ok(()), "a new minute");
}

#[test]
fn a_full_throttle_forgets_the_oldest_minute_only() {
    let mut t = Throttle::new(3);
    for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
        assert!(t.admit(key, UnixMillis(i as u64)));
    }
    // Full: d makes room by forgetting a (the oldest minute), and only a.
    assert!(t.admit("d", UnixMillis(10)));
    assert_eq!(t.len(), 3);
    assert!(!t.admit("b", UnixMillis(11)) && !t.admit("c", UnixMillis(12)));
    assert!(t.admit("a", UnixMillis(13)), "a was forgotten");
    // Ended minutes are dropped as time passes, whatever the traffic.
    assert!(t.admit("e", UnixMillis(70_000)));
    assert_eq!(t.len(), 1, "only e's minute is still running");
}

#[test]
fn memory_stays_bounded_under_a_flood_of_keys() {
    let mut t = Throttle::with_budget(1_000, 5);
    for i in 0..100_000u64 {
        t.admit(i, UnixMillis(i / 10));
        assert!(t.len() <= 1_000);
        assert!(t.order.len() <= 2_000, "the order queue stays bounded too");
    }
}

#[test]
fn ten_failures_a_minute_shut_a_client_out_until_the_minute_ends() {
    let mut l = Throttle::with_budget(100, 10);
    let (a, b) = ("203.0.113.7", "198.51.100.1");
    for i in 0..10 {
        assert_eq!(l.wait(&a, UnixMillis(i * 1000)), Ok(()), "try {i}");
        assert_eq!(l.take(a, UnixMillis(i * 1000)), Ok(()), "failure {i}");
    }
    assert_eq!(l.wait(&a, UnixMillis(9_000)), Err(51_000));
    assert_eq!(l.wait(&a, UnixMillis(20_000)), Err(40_000));
    assert_eq!(l.wait(&a, UnixMillis(59_999)), Err(1));
    assert_eq!(l.wait(&b, UnixMillis(20_000)), Ok(()), "others are not");
    assert_eq!(l.wait(&a, UnixMillis(60_000)), Ok(()), "the minute is over");
    assert_eq!(l.take(a, UnixMillis(60_000)), Ok(()), "a new minute starts");
    assert_eq!(l.wait(&a, UnixMillis(60_001)), Ok(()));
}

#[test]
fn failures_spread_over_minutes_never_shut_out() {
    let mut l = Throttle::with_budget(100, 10);
    for i in 0..100 {
        let now = UnixMillis(i * 7_000); // 8 or 9 per minute
        assert_eq!(l.wait(&"c", now), Ok(()), "try {i}");
        assert_eq!(l.take("c", now), Ok(()));
    }
}

#[test]
fn a_full_table_forgets_the_oldest_client_and_never_locks_out_a_new_one() {
    let mut l = Throttle::with_budget(2, 2);
    for client in ["a", "a", "b", "b"] {
        assert_eq!(l.take(client, UnixMillis(0)), Ok(()));
    }
    assert!(l.wait(&"a", UnixMillis(1)).is_err());
    // A third client is its own: the oldest is forgotten, nobody shares a tally.
    assert_eq!(l.wait(&"operator", UnixMillis(1)), Ok(()));
    assert_eq!(l.take("operator", UnixMillis(1)), Ok(()));
    assert_eq!(l.wait(&"operator", UnixMillis(2)), Ok(()));
    assert_eq!(l.len(), 2);
}

#[test]
fn a_page_cuts_the_extra_row_and_points_below_its_last() {
    let page = Page {
        limit: 2,
        cursor: Some(10),
    };
    assert_eq!((page.rows_to_fetch(), page.below()), (3, 10));
    assert_eq!(Page::default().below(), (1 << 53) - 1);
    assert_eq!(
        page.cut(vec![9, 7, 4], |s| *s),
        (vec![9, 7], Some("7".into()))
    );
    assert_eq!(
        page.cut(vec![9, 7], |s| *s),
        (vec![9, 7], None),
        "the last page"
    );
    assert_eq!(page.cut(Vec::<i64>::new(), |s| *s), (vec![], None));
}

#[test]
fn queries_parse_and_refuse_nonsense() {
    let q = parse_query(&pairs(&[
        ("type", "key_revoked"),
        ("limit", "10"),
        ("cursor", "42"),
        ("since", "2026-01-01T00:00:00Z"),
    ]))
    .unwrap();
    assert_eq!(q.kind, Some(AuditKind::KeyRevoked));
    assert_eq!(
        q.page,
        Page {
            limit: 10,
            cursor: Some(42)
        }
    );
    assert!(q.since.is_some());
    for bad in [
        ("limit", "0"),
        ("limit", "201"),
        ("cursor", "x"),
        ("type", "nope"),
        ("since", "yesterday"),
        ("colour", "red"),
    ] {
        assert!(parse_query(&pairs(&[bad])).is_err(), "{bad:?}");
    }
}

#[test]
fn the_usage_query_takes_one_series_and_names_what_it_refuses() {
    assert_eq!(parse_usage_query(&[]).map_err(|e| e.code()), Ok(None));
    assert_eq!(
        parse_usage_query(&pairs(&[("series", "hour")])).map_err(|e| e.code()),
        Ok(Some(Series::Hour))
    );
    assert_eq!(
        parse_usage_query(&pairs(&[("series", "day")])).map_err(|e| e.code()),
        Ok(Some(Series::Day))
    );
    for (bad, message) in [
        (
            vec![("series", "week")],
            "Invalid query parameter series: must be hour or day",
        ),
        (
            vec![("series", "Hour")],
            "Invalid query parameter series: must be hour or day",
        ),
        (
            vec![("series", "hour"), ("series", "day")],
            "Invalid query parameter series: given more than once",
        ),
        (
            vec![("series", "hour"), ("limit", "5")],
            "Invalid query parameter limit: unknown parameter",
        ),
    ] {
        let err = parse_usage_query(&pairs(&bad)).unwrap_err();
        assert_eq!(
            (err.code(), err.public_message()),
            ("invalid_request", message.into())
        );
    }
}
