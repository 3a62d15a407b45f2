//! Soak: mixed traffic for `SOAK_SECONDS` (default 60) against keygate on workerd, with
//! management changes in parallel. Client threads cycle through a steady key, a rate-limited
//! key, a key being disabled and enabled, a key being rotated, a malformed key and an unknown
//! key; an admin thread creates, renames and revokes keys, edits meta, toggles and rotates.
//!
//! Every answer must be one the spec allows for that key (no 5xx, no transport error), every
//! management call must succeed, the log must hold no panic, and afterwards each key's usage
//! counter must equal the admissions the clients saw. `make soak` runs it alone.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use keygate::domain::{ApiKey, KeyPrefix};
use libtest_mimic::Failed;
use serde_json::Value;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, check, client, eq, no_panic, run_cases,
};

const CLIENTS: usize = 4;
/// The limited key's window: small enough that the soak refuses most of its requests.
const LIMIT: u64 = 20;
const WINDOW_SECONDS: u64 = 10;

struct World {
    _origin: Origin,
    gateway: Gateway,
}

impl World {
    fn start() -> World {
        let origin = Origin::start_unrecorded(0).expect("bind the origin");
        let gateway = Gateway::start(GatewayOptions::new(origin.url()));
        World {
            _origin: origin,
            gateway,
        }
    }
}

/// The keys under load and what the clients saw of each.
struct Keys {
    steady: String,
    limited: String,
    toggled: String,
    /// The rotated key's current secret and how many rotations it has been through.
    rotated: Mutex<(String, usize)>,
    rotations: AtomicUsize,
    unknown: String,
}

/// Which key a request used.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Steady,
    Limited,
    Toggled,
    Rotated,
    Malformed,
    Unknown,
}

const KINDS: [Kind; 6] = [
    Kind::Steady,
    Kind::Limited,
    Kind::Toggled,
    Kind::Rotated,
    Kind::Malformed,
    Kind::Unknown,
];

/// Whether `status`/`code` is an answer the spec allows for a request with a key of `kind`.
/// `superseded`: rotations since the rotated key's secret was read (a second rotation ends the
/// first one's grace period).
fn allowed(kind: Kind, status: u16, code: &str, superseded: usize) -> bool {
    match (kind, status, code) {
        (_, 200, _) => !matches!(kind, Kind::Malformed | Kind::Unknown),
        (Kind::Limited, 429, "rate_limit_exceeded") => true,
        (Kind::Toggled, 401, "disabled_api_key") => true,
        (Kind::Rotated, 401, "invalid_api_key") => superseded >= 2,
        (Kind::Malformed, 401, "malformed_api_key") => true,
        (Kind::Unknown, 401, "invalid_api_key") => true,
        _ => false,
    }
}

/// What all clients saw.
#[derive(Default)]
struct Tally {
    requests: u64,
    admitted: BTreeMap<Kind, u64>,
    statuses: BTreeMap<(Kind, u16), u64>,
    /// The first unexpected answers.
    wrong: Vec<String>,
}

fn client_loop(port: u16, keys: &Keys, stop: &AtomicBool, seed: usize) -> Tally {
    let agent = client();
    let mut tally = Tally::default();
    let mut i = seed;
    while !stop.load(Ordering::Relaxed) {
        let kind = KINDS[i % KINDS.len()];
        let (key, generation) = match kind {
            Kind::Steady => (keys.steady.clone(), 0),
            Kind::Limited => (keys.limited.clone(), 0),
            Kind::Toggled => (keys.toggled.clone(), 0),
            Kind::Rotated => keys.rotated.lock().unwrap().clone(),
            Kind::Malformed => ("kg_live_broken".to_owned(), 0),
            Kind::Unknown => (keys.unknown.clone(), 0),
        };
        let answer = agent
            .get(format!("http://127.0.0.1:{port}/soak/{i}?q=1"))
            .header("x-api-key", &key)
            .call();
        let superseded = keys.rotations.load(Ordering::SeqCst) - generation;
        tally.requests += 1;
        match answer {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let body = r.body_mut().read_to_vec().unwrap_or_default();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let code = body["error"].as_str().unwrap_or_default();
                *tally.statuses.entry((kind, status)).or_default() += 1;
                if status == 200 {
                    *tally.admitted.entry(kind).or_default() += 1;
                }
                if !allowed(kind, status, code, superseded) && tally.wrong.len() < 10 {
                    tally.wrong.push(format!("{kind:?}: {status} {body}"));
                }
            }
            Err(e) if tally.wrong.len() < 10 => tally.wrong.push(format!("{kind:?}: {e}")),
            Err(_) => {}
        }
        i += 1;
    }
    tally
}

/// Management changes in a loop until `stop`; returns the calls that did not succeed.
fn admin_loop(gateway: &Gateway, keys: &Keys, ids: &Ids, stop: &AtomicBool) -> Vec<String> {
    let admin = Admin::operator(gateway);
    let mut failures = Vec::new();
    let mut expect = |what: &str, status: u16| {
        if !(200..300).contains(&status) && failures.len() < 10 {
            failures.push(format!("{what}: {status}"));
        }
    };
    let mut cycle = 0;
    while !stop.load(Ordering::Relaxed) {
        let r = admin.call(
            "POST",
            "/orgs/soak/keys",
            Some(&format!(r#"{{"name":"Churn {cycle}","scopes":["read"]}}"#)),
        );
        expect("create", r.status);
        if let Some(id) = r.json()["id"].as_str() {
            let path = format!("/orgs/soak/keys/{id}");
            let rename = format!(r#"{{"name":"Churn {cycle} renamed"}}"#);
            expect("rename", admin.call("PATCH", &path, Some(&rename)).status);
            expect("revoke", admin.call("DELETE", &path, None).status);
        }
        let steady = format!("/orgs/soak/keys/{}", ids.steady);
        let meta = format!(r#"{{"meta":{{"cycle":{cycle}}}}}"#);
        expect("meta", admin.call("PATCH", &steady, Some(&meta)).status);
        let toggled = format!("/orgs/soak/keys/{}", ids.toggled);
        expect(
            "disable",
            admin
                .call("PATCH", &toggled, Some(r#"{"enabled":false}"#))
                .status,
        );
        thread::sleep(Duration::from_millis(100));
        expect(
            "enable",
            admin
                .call("PATCH", &toggled, Some(r#"{"enabled":true}"#))
                .status,
        );
        if cycle % 3 == 0 {
            let rotate = format!("/orgs/soak/keys/{}/rotate", ids.rotated);
            let r = admin.call("POST", &rotate, Some(r#"{"grace_period_hours":1}"#));
            expect("rotate", r.status);
            if let Some(new) = r.json()["key"].as_str() {
                let generation = keys.rotations.fetch_add(1, Ordering::SeqCst) + 1;
                *keys.rotated.lock().unwrap() = (new.to_owned(), generation);
            }
        }
        expect(
            "audit",
            admin.call("GET", "/orgs/soak/audit?limit=10", None).status,
        );
        thread::sleep(Duration::from_millis(200));
        cycle += 1;
    }
    failures
}

struct Ids {
    steady: String,
    limited: String,
    toggled: String,
    rotated: String,
}

fn soak(w: &World) -> Result<(), Failed> {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let admin = Admin::operator(&w.gateway);
    admin.put_org("soak", r#"{"plan":"enterprise"}"#);
    let open = r#""scopes":["read"],"rate_limiting":false"#;
    let (steady, steady_id) = admin.create_key("soak", &format!(r#"{{"name":"Steady",{open}}}"#));
    let (limited, limited_id) = admin.create_key(
        "soak",
        &format!(
            r#"{{"name":"Limited","scopes":["read"],"rate_limits":[{{"name":"window","limit":{LIMIT},"window_seconds":{WINDOW_SECONDS}}}]}}"#
        ),
    );
    let (toggled, toggled_id) =
        admin.create_key("soak", &format!(r#"{{"name":"Toggled",{open}}}"#));
    let (rotated, rotated_id) =
        admin.create_key("soak", &format!(r#"{{"name":"Rotated",{open}}}"#));
    let keys = Keys {
        steady,
        limited,
        toggled,
        rotated: Mutex::new((rotated, 0)),
        rotations: AtomicUsize::new(0),
        unknown: ApiKey::generate(&KeyPrefix::default())
            .unwrap()
            .expose_secret()
            .to_owned(),
    };
    let ids = Ids {
        steady: steady_id,
        limited: limited_id,
        toggled: toggled_id,
        rotated: rotated_id,
    };

    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (keys, stop) = (&keys, &stop);
    let (tallies, admin_failures) = thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| s.spawn(move || client_loop(w.gateway.port, keys, stop, c)))
            .collect();
        let admin = s.spawn(|| admin_loop(&w.gateway, keys, &ids, stop));
        thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let tallies: Vec<Tally> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        (tallies, admin.join().unwrap())
    });
    let elapsed = started.elapsed().as_secs_f64();

    let mut all = Tally::default();
    for t in tallies {
        all.requests += t.requests;
        for (k, n) in t.admitted {
            *all.admitted.entry(k).or_default() += n;
        }
        for (k, n) in t.statuses {
            *all.statuses.entry(k).or_default() += n;
        }
        all.wrong.extend(t.wrong);
    }
    eprintln!(
        "soak: {} requests in {elapsed:.0} s ({:.0}/s); by key and status: {:?}",
        all.requests,
        all.requests as f64 / elapsed,
        all.statuses
    );
    check(
        all.wrong.is_empty(),
        &format!("unexpected answers: {:#?}", all.wrong),
    )?;
    check(
        admin_failures.is_empty(),
        &format!("management calls failed: {admin_failures:?}"),
    )?;
    for kind in [Kind::Steady, Kind::Limited, Kind::Toggled, Kind::Rotated] {
        check(
            all.admitted.get(&kind).is_some_and(|&n| n > 0),
            &format!("{kind:?} was never admitted"),
        )?;
    }
    // Refusals must have happened too, or the soak did not exercise them.
    for refused in [
        (Kind::Limited, 429),
        (Kind::Malformed, 401),
        (Kind::Unknown, 401),
    ] {
        check(
            all.statuses.contains_key(&refused),
            &format!("no {refused:?} answers"),
        )?;
    }
    let windows = (elapsed / WINDOW_SECONDS as f64).ceil() as u64 + 1;
    let limited_admitted = all.admitted[&Kind::Limited];
    check(
        limited_admitted <= LIMIT * windows,
        &format!("the limited key was admitted {limited_admitted} times in {elapsed:.0} s"),
    )?;

    // The usage counters equal the admissions the clients saw, key by key, once every lease
    // has been given back: at the latest when it ends, REVOCATION_BOUND_MS (1 s) after its
    // grant.
    for (kind, id) in [
        (Kind::Steady, &ids.steady),
        (Kind::Limited, &ids.limited),
        (Kind::Toggled, &ids.toggled),
        (Kind::Rotated, &ids.rotated),
    ] {
        let deadline = Instant::now() + Duration::from_secs(3);
        let total = loop {
            let usage = admin
                .call("GET", &format!("/orgs/soak/keys/{id}/usage"), None)
                .json();
            let total = usage["requests_total"].as_u64();
            if total == Some(all.admitted[&kind]) || Instant::now() > deadline {
                break total;
            }
            thread::sleep(Duration::from_millis(100));
        };
        eq(
            total,
            Some(all.admitted[&kind]),
            &format!("{kind:?} usage vs admitted"),
        )?;
    }
    no_panic(&w.gateway)
}

const CASES: &[Case<World>] = &[("mixed_traffic_with_admin_changes", soak)];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
