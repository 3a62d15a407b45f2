use proptest::prelude::*;

use super::*;
use crate::domain::key::format::ApiKey;
use crate::domain::key::hash::KeyHash;

fn hash() -> KeyHash {
    KeyHash::of(&ApiKey::generate(&Default::default()).unwrap())
}

const NOW: UnixMillis = UnixMillis(1_000_000_000);

struct Key {
    record: KeyRecord,
    secrets: Vec<Secret>,
    seq: u64,
    last_used_at: Option<UnixMillis>,
    requests: u64,
}

fn key(seq: u64, name: &str, extra: &str) -> Key {
    let record = KeyRecord::from_json(&format!(
        r#"{{"id":"key_{seq}","org":"acme","name":"{name}","created_at":{seq}{extra}}}"#
    ))
    .unwrap();
    Key {
        record,
        secrets: vec![],
        seq,
        last_used_at: None,
        requests: 0,
    }
}

fn listed(keys: &[Key]) -> Vec<Listed<'_>> {
    keys.iter()
        .map(|k| Listed {
            record: &k.record,
            secrets: &k.secrets,
            seq: k.seq,
            last_used_at: k.last_used_at,
            requests: k.requests,
        })
        .collect()
}

/// A query string's decoded pairs, as the edge hands them over.
fn pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn query(text: &str) -> Result<KeyQuery, GateError> {
    KeyQuery::parse(&pairs(text))
}

fn names(keys: &[Key], q: &str) -> (Vec<String>, Option<String>) {
    let (page, next) = query(q).unwrap().select(listed(keys), NOW);
    (page.iter().map(|k| k.record.name.clone()).collect(), next)
}

fn fleet() -> Vec<Key> {
    let mut keys = vec![
        key(1, "Billing export", r#","scopes":["read"]"#),
        key(2, "CI deploy", r#","scopes":["admin"],"enabled":false"#),
        key(3, "old partner", r#","scopes":["read"],"expires_at":500"#),
        key(
            4,
            "Mobile app",
            r#","scopes":["stats:read"],"expires_at":2000000000"#,
        ),
        key(
            5,
            "billing sync",
            r#","scopes":["write"],"expires_at":1500000000"#,
        ),
    ];
    keys[0].last_used_at = Some(UnixMillis(900_000_000));
    keys[0].requests = 40;
    keys[3].last_used_at = Some(UnixMillis(100));
    keys[3].requests = 7;
    keys[4].last_used_at = Some(UnixMillis(999_000_000));
    keys[4].requests = 300;
    // Rotated, then disabled: its previous secret no longer works, so it is not rotating.
    keys[1].secrets = vec![Secret {
        hash: hash(),
        until: Some(NOW.plus_millis(1)),
    }];
    keys[4].secrets = vec![
        Secret {
            hash: hash(),
            until: None,
        },
        Secret {
            hash: hash(),
            until: Some(NOW.plus_millis(1)),
        },
    ];
    keys
}

#[test]
fn newest_first_by_default() {
    let keys = fleet();
    let (names, next) = names(&keys, "");
    assert_eq!(names[0], "billing sync");
    assert_eq!(names.len(), 5);
    assert_eq!(next, None);
}

#[test]
fn each_filter_keeps_what_it_names() {
    let keys = fleet();
    let cases = [
        (
            "status=active",
            vec!["billing sync", "Mobile app", "Billing export"],
        ),
        ("status=disabled", vec!["CI deploy"]),
        ("status=expired", vec!["old partner"]),
        ("status=rotating", vec!["billing sync"]),
        // Keys that never expire are not "expiring before" anything.
        (
            "expires_before=1970-01-20T00:00:00Z",
            vec!["billing sync", "old partner"],
        ),
        // Never used counts as unused.
        (
            "unused_since=1970-01-11T00:00:00Z",
            vec!["Mobile app", "old partner", "CI deploy"],
        ),
        ("q=BILLING", vec!["billing sync", "Billing export"]),
        ("scope=read", vec!["old partner", "Billing export"]),
        ("scope=stats:read", vec!["Mobile app"]),
        ("status=active&q=billing&scope=write", vec!["billing sync"]),
    ];
    for (q, want) in cases {
        assert_eq!(names(&keys, q).0, want, "{q}");
    }
}

#[test]
fn sorts_both_ways_with_the_unknown_at_the_natural_end() {
    let keys = fleet();
    let cases = [
        (
            // Ties go newest first in descending order.
            "sort=requests",
            vec![
                "billing sync",
                "Billing export",
                "Mobile app",
                "old partner",
                "CI deploy",
            ],
        ),
        (
            "sort=last_used&order=asc",
            vec![
                "CI deploy",
                "old partner",
                "Mobile app",
                "Billing export",
                "billing sync",
            ],
        ),
        // Never expiring sorts last when soonest comes first.
        (
            "sort=expires&order=asc",
            vec![
                "old partner",
                "billing sync",
                "Mobile app",
                "Billing export",
                "CI deploy",
            ],
        ),
        (
            "sort=created&order=asc",
            vec![
                "Billing export",
                "CI deploy",
                "old partner",
                "Mobile app",
                "billing sync",
            ],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(names(&keys, q).0, want, "{q}");
    }
}

#[test]
fn bad_parameters_are_refused_by_name() {
    for (q, named) in [
        ("status=revoked", "status"),
        ("sort=name", "sort"),
        ("order=up", "order"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("expires_before=tomorrow", "expires_before"),
        ("unused_since=90d", "unused_since"),
        ("scope=Read!", "scope"),
        ("q=", "q"),
        ("stauts=active", "stauts"),
        ("cursor=12", "cursor"),
        ("cursor=rd.1.2", "cursor"),
        ("sort=requests&cursor=cd.1.2", "cursor"),
        // A cursor of the other direction would repeat keys.
        ("sort=requests&order=asc&cursor=rd.1.2", "cursor"),
        ("cursor=cd.1.2.3", "cursor"),
        ("cursor=c.1.2", "cursor"),
        // Each parameter once: which of two would apply must not be a guess.
        ("status=active&status=disabled", "status"),
        ("limit=2&limit=3", "limit"),
        ("q=a&q=b", "q"),
    ] {
        let err = query(q).unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{q}");
        assert!(format!("{err:?}").contains(named), "{q}: {err:?}");
    }
    // The cursor's sort and order are checked wherever they stand.
    assert!(query("cursor=rd.1.2&sort=requests").is_ok());
    assert!(query("cursor=ra.1.2&sort=requests&order=asc").is_ok());
    // 200 characters, not bytes: a name search in any script.
    assert!(query(&format!("q={}", "é".repeat(200))).is_ok());
    assert!(query(&format!("q={}", "é".repeat(201))).is_err());
}

#[test]
fn org_pages_read_limit_and_cursor_only() {
    let page = OrgPage::parse(&pairs("limit=2&cursor=acme")).unwrap();
    assert_eq!((page.limit, page.after.unwrap().as_str()), (2, "acme"));
    for bad in ["limit=500", "cursor=Not_An-Id!", "plan=pro"] {
        assert_eq!(
            OrgPage::parse(&pairs(bad)).unwrap_err().code(),
            "invalid_request"
        );
    }
}

#[test]
fn resource_pages_read_limit_cursor_and_parent() {
    let page = ResourcePage::parse(&pairs("limit=2&cursor=w_1&parent=team_a")).unwrap();
    assert_eq!(
        page,
        ResourcePage {
            limit: 2,
            after: Some("w_1".into()),
            parent: Some("team_a".into())
        }
    );
    assert_eq!(ResourcePage::parse(&[]).unwrap().limit, DEFAULT_LIMIT);
    for bad in ["limit=0", "cursor=a,b", "parent=", "team=team_a"] {
        let err = ResourcePage::parse(&pairs(bad)).unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{bad}");
    }
}

proptest! {
    /// Following next_cursor visits every matching key exactly once, in order, whatever the
    /// sort, direction, page size and ties; and keys added or removed between pages never make
    /// one that stays repeat or go missing.
    #[test]
    fn cursors_visit_each_key_once(
        usage in prop::collection::vec((0u64..5, 0u64..4), 1..40),
        sort in prop::sample::select(vec!["created", "last_used", "requests", "expires"]),
        order in prop::sample::select(vec!["asc", "desc"]),
        limit in 1u32..7,
        churn in prop::collection::vec(any::<bool>(), 40),
    ) {
        let mut keys: Vec<Key> = usage.iter().enumerate().map(|(i, (used, requests))| {
            let expiry = if i % 3 == 0 { String::new() } else { format!(r#","expires_at":{}"#, 2_000_000_000 + (i as u64 % 4)) };
            let mut k = key(i as u64 + 1, "k", &expiry);
            k.last_used_at = (*used > 0).then_some(UnixMillis(*used));
            k.requests = *requests;
            k
        }).collect();
        let base = format!("sort={sort}&order={order}&limit={limit}");
        let (all, _) = query(&format!("sort={sort}&order={order}&limit=200")).unwrap().select(listed(&keys), NOW);
        let all: Vec<u64> = all.iter().map(|k| k.seq).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut removed = std::collections::HashSet::new();
        for round in 0..100 {
            let q = match &cursor { Some(c) => format!("{base}&cursor={c}"), None => base.clone() };
            let (page, next) = query(&q).unwrap().select(listed(&keys), NOW);
            prop_assert!(page.len() <= limit as usize);
            seen.extend(page.iter().map(|k| k.seq));
            // Between pages: one key removed (never one already seen or past) at random.
            if churn[round % churn.len()] && let Some(pos) = keys.iter().position(|k| !seen.contains(&k.seq) && k.seq % 2 == 0) {
                removed.insert(keys.remove(pos).seq);
            }
            match next { Some(c) => cursor = Some(c), None => break }
        }
        let expected: Vec<u64> = all.into_iter().filter(|s| !removed.contains(s)).collect();
        prop_assert_eq!(seen, expected);
    }
}
