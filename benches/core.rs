//! `make bench`, native part: what one verified request costs in CPU, stage by stage, measured
//! with criterion on the host (optimized, no Workers runtime). The workerd benchmark
//! (`benches/workerd.rs`) prints these medians in its table, read from `target/criterion`.
//!
//! The stages are the ones the verification path runs, with inputs shaped like real traffic: a
//! key record with scopes, resource and field restrictions, three rate-limit windows and meta; a
//! 10- and a 200-rule policy; a 10 KiB JSON list for the field filter. `verify/logic` chains
//! every in-memory check of one admitted request on both sides of the guard call (the worker and
//! the key's Durable Object); `verify/whole` adds the JSON of that call.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::domain::catalog::{self, Access, GuardCommand, GuardVerdict, Secret, Standing};
use keygate::domain::limits::lease::Counters;
use keygate::domain::request::{Headers, Method, Request, Target};
use keygate::domain::usage::{Usage, UsageEvent};
use keygate::domain::window;
use keygate::domain::{
    ApiKey, FieldScope, KeyHash, KeyPrefix, KeyRecord, Policy, UnixMillis, fields, verify,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A key record as KV and the guard hold it: what a restricted integration key looks like.
const RECORD: &str = r#"{"id":"key_2QbX7dMvV4nQ9sTzR8kLpA","org":"acme","name":"Reporting Integration",
"start":"kg_live_3hR9…","scopes":["read","employees:read","stats:read","documents:download","sites:*"],
"resources":{"site":["site_abc123","site_def456","site_ghi789"]},
"fields":{"employees":["name","start_date","address.city"]},
"rate_limits":[{"name":"burst","limit":1000000000,"window_seconds":1},
{"name":"minute","limit":1000000000,"window_seconds":60},{"name":"day","limit":1000000000,"window_seconds":86400}],
"rate_limiting":true,"on_limiter_error":"deny","enabled":true,"expires_at":4102444800000,
"created_at":1763900000000,"created_by":"admin","meta":{"team":"data","tier":"gold"},"api_access":true}"#;

fn record() -> KeyRecord {
    KeyRecord::from_json(RECORD).expect("the bench record parses")
}

/// A policy of `rules` rules, each with a path id, so matching does what a real rule does.
fn policy(rules: usize) -> Policy {
    let rules: Vec<String> = (0..rules)
        .map(|i| {
            format!(
                r#"{{"method":["GET","POST"],"path":"/api/r{i}/:siteId/items/*","resource":"r{i}","ids":{{"site":"path:siteId"}}}}"#
            )
        })
        .collect();
    let stats = r#"{"method":"GET","path":"/api/sites/:siteId/stats","resource":"stats","ids":{"site":"path:siteId"}}"#;
    Policy::parse(&format!(
        r#"{{"default":"deny","rules":[{},{stats}]}}"#,
        rules.join(",")
    ))
    .expect("the bench policy parses")
}

/// A 10 KiB `{"data": [...], "next": ...}` list of employees with nested and sensitive fields.
fn employees_body() -> Vec<u8> {
    let mut items = Vec::new();
    let mut i = 0;
    while serde_json::to_vec(&items).unwrap().len() < 10 * 1024 {
        items.push(serde_json::json!({
            "id": format!("emp_{i:05}"), "name": format!("Employee {i}"), "start_date": "2021-06-01",
            "salary": 90_000 + i, "email": format!("employee{i}@example.com"),
            "address": {"city": "Zürich", "street": "Bahnhofstrasse 1", "zip": "8001"},
        }));
        i += 1;
    }
    serde_json::to_vec(&serde_json::json!({"data": items, "next": "c2"})).unwrap()
}

fn key_text() -> String {
    let prefix: KeyPrefix = "kg_live".parse().unwrap();
    ApiKey::generate(&prefix)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn key(c: &mut Criterion) {
    let text = key_text();
    c.bench_function("key/parse_checksum_hash", |b| {
        b.iter(|| {
            let key = ApiKey::parse(black_box(&text)).unwrap();
            black_box(KeyHash::of(&key))
        })
    });
}

fn record_decode(c: &mut Criterion) {
    c.bench_function("record/decode", |b| {
        b.iter(|| black_box(KeyRecord::from_json(black_box(RECORD)).unwrap()))
    });
}

/// The route of the benchmarks' request: the last rule of the policy.
fn route_of(p: &Policy) -> keygate::domain::Route<'_> {
    let target = p.target("/api/sites/site_abc123/stats", None).unwrap();
    p.route(&get(&target, &Headers::default())).unwrap()
}

/// A GET of `target` without a body.
fn get<'r>(target: &'r Target, headers: &'r Headers) -> Request<'r> {
    Request {
        method: Method::Get,
        target,
        headers,
        form: None,
    }
}

fn policy_match(c: &mut Criterion) {
    for rules in [10, 200] {
        let p = policy(rules);
        // The last rule: every rule before it is tried, the worst case for a match.
        let path = "/api/sites/site_abc123/stats";
        c.bench_function(&format!("policy/match_{rules}_rules"), |b| {
            b.iter(|| {
                let target = p.target(black_box(path), Some("a=1")).unwrap();
                black_box(p.route(&get(&target, &Headers::default())).unwrap())
            })
        });
    }
}

fn authorize(c: &mut Criterion) {
    let p = policy(10);
    let route = route_of(&p);
    let record = record();
    c.bench_function("scope/check", |b| {
        b.iter(|| {
            black_box(
                record
                    .scopes
                    .iter()
                    .any(|s| s.allows(black_box(route.resource), route.action, route.write)),
            )
        })
    });
    c.bench_function("verify/status_and_authorize", |b| {
        b.iter(|| {
            let active = verify::check_status(record.clone(), UnixMillis(1_763_900_000_000));
            black_box(verify::authorize(active.unwrap(), &route).unwrap())
        })
    });
}

fn window_decision(c: &mut Criterion) {
    let record = record();
    let limits = record.effective_limits().to_vec();
    let mut counters = Counters::default();
    let mut now = 1_763_900_000_000u64;
    c.bench_function("window/decide_3_windows", |b| {
        b.iter(|| {
            // A request every millisecond: buckets fill, slide and expire as under load.
            now += 1;
            let (decision, renewal) = counters.admit(&limits, UnixMillis(now));
            if let Some(renewal) = renewal {
                black_box(renewal.stored());
                counters.commit(renewal);
            }
            black_box(decision)
        })
    });
}

fn field_filter(c: &mut Criterion) {
    let body = employees_body();
    let scope = FieldScope {
        allowed: vec!["name".into(), "start_date".into(), "address.city".into()],
        envelope: Some("data".into()),
    };
    c.bench_function("fields/filter_10KiB", |b| {
        b.iter(|| {
            black_box(fields::filter(Some("application/json"), black_box(&body), &scope).unwrap())
        })
    });
}

/// The guard call's message as it crosses: through JSON when `encode`, as is otherwise.
fn wire<T: Serialize + DeserializeOwned>(message: T, encode: bool) -> T {
    if !encode {
        return message;
    }
    serde_json::from_str(&serde_json::to_string(&message).unwrap()).unwrap()
}

/// Every in-memory step of one admitted request, in the order the worker and the guard run them:
/// what the isolate does around its KV cache and the guard call, and what the guard does
/// between receiving the command and answering. Only the platform's I/O is left out.
/// `verify/logic` is the checks alone; `verify/whole` adds the JSON of the guard call (the
/// command and the verdict, each encoded and decoded once).
fn whole(c: &mut Criterion) {
    for (name, encode) in [("verify/logic", false), ("verify/whole", true)] {
        admitted_request(c, name, encode);
    }
}

fn admitted_request(c: &mut Criterion, name: &str, encode: bool) {
    let text = key_text();
    let authorization = format!("Bearer {text}");
    let p = policy(10);
    let record = record();
    let hash = KeyHash::of(&ApiKey::parse(&text).unwrap());
    let secrets = vec![Secret { hash, until: None }];
    // Worker and guard both hold the record and its digest (computed when it was loaded).
    let digest = record.digest();
    let mut cache = HashMap::new();
    cache.insert(hash, (record.clone(), digest));
    let limits = record.effective_limits().to_vec();
    let mut counters = Counters::default();
    let mut usage = Usage::default();
    let mut now = 1_763_900_000_000u64;
    c.bench_function(name, |b| {
        b.iter(|| {
            now += 1;
            let at = UnixMillis(now);
            // Worker: credential, format, checksum, hash; the cached record; the route.
            let (_, key) = verify::parse_credential(Some(black_box(&authorization)), None).unwrap();
            let hash = KeyHash::of(&key);
            let (cached, known): (KeyRecord, _) = cache.get(&hash).cloned().unwrap();
            let route = route_of(&p);
            let command = GuardCommand::Admit {
                hash,
                start: key.mask(),
                access: Access::of(&route),
                event: UsageEvent {
                    at,
                    method: "GET".into(),
                    path: "/api/sites/site_abc123/stats".into(),
                    outcome: String::new(),
                    status: None,
                    country: None,
                },
                known: Some(known),
                lease: None,
            };
            // Guard: the command, the secret, status and authorization, windows, usage; its
            // verdict.
            let GuardCommand::Admit {
                hash,
                access,
                mut event,
                known,
                ..
            } = wire(command, encode)
            else {
                unreachable!()
            };
            assert!(catalog::accepts(&secrets, &hash, at));
            verify::permits(&record, at, &access.route()).unwrap();
            let (decision, renewal) = counters.admit(&limits, at);
            event.outcome = "admitted".into();
            // As the guard: a renewal is written (with the usage) before it counts.
            match renewal {
                None => usage.record(event),
                Some(renewal) => {
                    let mut next = usage.clone();
                    next.record(event);
                    black_box((renewal.stored(), &next));
                    counters.commit(renewal);
                    usage = next;
                }
            }
            let verdict = GuardVerdict {
                standing: Standing::of(&record, digest, known),
                now: at,
                outcome: catalog::Outcome::of(Some(decision), None),
                lease: None,
                cost: Default::default(),
            };
            // Worker: the verdict read back and rendered (the guard's checks are not repeated),
            // headers.
            let verdict = wire(verdict, encode);
            let current = verdict.standing.record(cached).unwrap();
            black_box(verify::admitted_by_guard(current, &route));
            let Some(catalog::Outcome::Admitted { windows }) = verdict.outcome else {
                panic!("the bench limits never refuse");
            };
            black_box(window::headers(&windows, verdict.now))
        })
    });
}

criterion_group! {
    name = benches;
    // Short runs: medians are stable to a few percent here, and `make bench` stays quick.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = key, record_decode, policy_match, authorize, window_decision, field_filter, whole
}
criterion_main!(benches);
