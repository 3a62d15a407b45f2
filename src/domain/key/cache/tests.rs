//! Tests of `cache.rs`.

use super::*;
use crate::domain::key::format::ApiKey;

fn hash() -> KeyHash {
    KeyHash::of(&ApiKey::generate(&Default::default()).unwrap())
}

fn record(name: &str) -> KeyRecord {
    KeyRecord::from_json(&format!(
        r#"{{"id":"key_a","org":"acme","name":"{name}","created_at":0}}"#
    ))
    .unwrap()
}

fn found(cache: &mut KeyCache, hash: &KeyHash, now: u64) -> bool {
    matches!(cache.lookup(hash, UnixMillis(now)), Lookup::Hit(Some(_)))
}

#[test]
fn found_and_missing_entries_age_out_differently() {
    let mut cache = KeyCache::new(10);
    let (real, made_up) = (hash(), hash());
    assert!(matches!(cache.lookup(&real, UnixMillis(0)), Lookup::New));
    cache.insert(real, UnixMillis(0), Some(Held::of(record("one"))));
    cache.insert(made_up, UnixMillis(0), None);
    assert!(found(&mut cache, &real, FOUND_TTL_MS - 1));
    assert!(matches!(
        cache.lookup(&made_up, UnixMillis(MISSING_TTL_MS - 1)),
        Lookup::Hit(None)
    ));
    assert!(
        matches!(
            cache.lookup(&made_up, UnixMillis(MISSING_TTL_MS)),
            Lookup::New
        ),
        "an unknown hash costs the client's budget again"
    );
    assert!(
        matches!(cache.lookup(&real, UnixMillis(FOUND_TTL_MS)), Lookup::Known),
        "a real key's record aged out: read again, free"
    );
}

#[test]
fn a_full_cache_keeps_the_keys_in_use() {
    let mut cache = KeyCache::new(16);
    let hot: Vec<KeyHash> = (0..4).map(|_| hash()).collect();
    for h in &hot {
        cache.insert(*h, UnixMillis(0), Some(Held::of(record("hot"))));
    }
    // A flood of made-up keys, each looked up once, with the real keys used in between.
    for i in 0..10_000 {
        let h = hash();
        assert!(matches!(cache.lookup(&h, UnixMillis(i)), Lookup::New));
        cache.insert(h, UnixMillis(i), None);
        if i % 7 == 0 {
            for h in &hot {
                assert!(found(&mut cache, h, i), "hot key evicted at {i}");
            }
        }
        assert!(cache.len() <= 16);
    }
    for h in &hot {
        assert!(found(&mut cache, h, 10_000));
    }
}

#[test]
fn eviction_takes_expired_and_unknown_first_then_the_least_recently_used() {
    let mut cache = KeyCache::new(8);
    let old = hash();
    cache.insert(old, UnixMillis(0), Some(Held::of(record("old"))));
    let records: Vec<KeyHash> = (0..5).map(|_| hash()).collect();
    for (i, h) in records.iter().enumerate() {
        cache.insert(*h, UnixMillis(FOUND_TTL_MS), Some(Held::of(record("r"))));
        assert!(found(&mut cache, h, FOUND_TTL_MS + i as u64));
    }
    let missing = hash();
    cache.insert(missing, UnixMillis(FOUND_TTL_MS), None);
    cache.insert(hash(), UnixMillis(FOUND_TTL_MS), None);
    assert_eq!(cache.len(), 8);
    // Use the first record again: records[1] is now the least recently used.
    assert!(found(&mut cache, &records[0], FOUND_TTL_MS + 10));
    cache.insert(hash(), UnixMillis(FOUND_TTL_MS + 20), None);
    // The expired record and both unknown hashes went; 5 records + the new entry = 6,
    // still above 7 (low water: 8 - 1), so nothing else is taken.
    assert_eq!(cache.len(), 6);
    assert!(matches!(
        cache.lookup(&old, UnixMillis(FOUND_TTL_MS + 30)),
        Lookup::New
    ));
    for h in &records {
        assert!(found(&mut cache, h, FOUND_TTL_MS + 40));
    }
    // Fill up: the unknown hash goes first, then only fresh records are left and the least
    // recently used one (records[0], used at +40 before the others) is evicted.
    cache.insert(
        hash(),
        UnixMillis(FOUND_TTL_MS + 50),
        Some(Held::of(record("x"))),
    );
    cache.insert(
        hash(),
        UnixMillis(FOUND_TTL_MS + 50),
        Some(Held::of(record("y"))),
    );
    assert!(found(&mut cache, &records[1], FOUND_TTL_MS + 60));
    cache.insert(
        hash(),
        UnixMillis(FOUND_TTL_MS + 70),
        Some(Held::of(record("z"))),
    );
    assert_eq!(cache.len(), 8, "the unknown hash made room");
    let newest = hash();
    cache.insert(
        newest,
        UnixMillis(FOUND_TTL_MS + 80),
        Some(Held::of(record("w"))),
    );
    assert_eq!(
        cache.len(),
        8,
        "one record out, one in: never the whole cache"
    );
    assert!(matches!(
        cache.lookup(&records[0], UnixMillis(FOUND_TTL_MS + 90)),
        Lookup::New
    ));
    for h in records[1..].iter().chain([&newest]) {
        assert!(found(&mut cache, h, FOUND_TTL_MS + 90));
    }
}

#[test]
fn a_flood_of_made_up_keys_costs_its_client_the_budget_and_no_more() {
    let mut cache = KeyCache::default();
    let mut unknown = UnknownKeys::default();
    let (flooder, other) = (
        ClientId::from_header(Some("203.0.113.9")),
        ClientId::from_header(Some("198.51.100.7")),
    );
    let real = hash();
    cache.insert(real, UnixMillis(0), Some(Held::of(record("real"))));
    let (mut lookups, mut refused, mut logged) = (0, 0, 0);
    for i in 0..300u64 {
        let now = UnixMillis(1_000 + i * 10);
        let made_up = hash();
        let lookup = cache.lookup(&made_up, now);
        match unknown.before_lookup(&lookup, &flooder, now) {
            Ok(charge) => {
                lookups += 1;
                cache.insert(made_up, now, None);
                unknown.settle(charge, &flooder, true);
                logged += usize::from(unknown.log_now(&flooder, now));
            }
            Err(e) => {
                assert_eq!(e.code(), "too_many_invalid_keys");
                let GateError::TooManyInvalidKeys { retry_after } = e else {
                    unreachable!()
                };
                assert!((1..=60).contains(&retry_after), "{retry_after}");
                refused += 1;
                logged += usize::from(unknown.log_now(&flooder, now));
            }
        }
        // The flooder's own real key, already held, still works.
        assert!(found(&mut cache, &real, now.0));
    }
    assert_eq!(lookups, LOOKUP_BUDGET as usize);
    assert_eq!(refused, 300 - LOOKUP_BUDGET as usize);
    assert_eq!(logged, 1, "one log line per client per minute");
    // Another client has its own budget.
    let lookup = cache.lookup(&hash(), UnixMillis(4_000));
    assert_eq!(
        unknown
            .before_lookup(&lookup, &other, UnixMillis(4_000))
            .unwrap(),
        Charge::Charged
    );
    // A real key that aged out is looked up again for free, even by the flooder.
    assert!(matches!(
        cache.lookup(&real, UnixMillis(FOUND_TTL_MS + 1)),
        Lookup::Known
    ));
    assert_eq!(
        unknown
            .before_lookup(&Lookup::Known, &flooder, UnixMillis(4_000))
            .unwrap(),
        Charge::Free
    );
    // A minute after the flood began, the flooder may look up again.
    let later = UnixMillis(61_000);
    assert!(unknown.before_lookup(&Lookup::New, &flooder, later).is_ok());
}

#[test]
fn a_lookup_that_finds_a_real_key_is_given_back() {
    let mut unknown = UnknownKeys::default();
    let client = ClientId::from_header(Some("203.0.113.9"));
    for i in 0..10 * LOOKUP_BUDGET {
        let now = UnixMillis(u64::from(i));
        let charge = unknown.before_lookup(&Lookup::New, &client, now).unwrap();
        unknown.settle(charge, &client, false);
    }
    for _ in 0..LOOKUP_BUDGET {
        let charge = unknown
            .before_lookup(&Lookup::New, &client, UnixMillis(500))
            .unwrap();
        unknown.settle(charge, &client, true);
    }
    assert!(
        unknown
            .before_lookup(&Lookup::New, &client, UnixMillis(501))
            .is_err()
    );
}

#[test]
fn confirmations_follow_the_guard_and_never_go_back() {
    let mut cache = KeyCache::new(4);
    let h = hash();
    let first = Held::of(record("first"));
    let digest = first.digest;
    cache.insert(h, UnixMillis(0), Some(first));
    let confirmed = |cache: &mut KeyCache| match cache.lookup(&h, UnixMillis(10)) {
        Lookup::Hit(Some(held)) => (held.record.name, held.confirmed_at),
        other => panic!("{other:?}"),
    };
    assert_eq!(confirmed(&mut cache), ("first".into(), None), "from KV");
    cache.confirm(&h, digest, UnixMillis(5));
    assert_eq!(confirmed(&mut cache).1, Some(UnixMillis(5)));
    cache.confirm(&h, digest, UnixMillis(3));
    assert_eq!(
        confirmed(&mut cache).1,
        Some(UnixMillis(5)),
        "an older answer"
    );
    cache.confirm(&h, record("other").digest(), UnixMillis(9));
    assert_eq!(
        confirmed(&mut cache).1,
        Some(UnixMillis(5)),
        "a confirmation of another record"
    );
    cache.refresh(h, record("second"), UnixMillis(7));
    assert_eq!(
        confirmed(&mut cache),
        ("second".into(), Some(UnixMillis(7)))
    );
    cache.refresh(h, record("first"), UnixMillis(6));
    assert_eq!(
        confirmed(&mut cache).0,
        "second",
        "the answer to an earlier question does not replace a later one"
    );
    cache.forget(h, UnixMillis(8));
    assert!(
        matches!(cache.lookup(&h, UnixMillis(9)), Lookup::Hit(None)),
        "the guard said unknown: nothing is held for it any more"
    );
}
