//! Admission leases across isolates (issue 11), on workerd: four copies of the keygate worker
//! in one runtime, each its own isolate on its own port, all bound to the first copy's guard
//! namespace and to one KV namespace (Miniflare's API, `benches/miniflare.mjs`). Load is spread
//! across the copies:
//!
//! - a 100/min key under 500 requests from 50 clients admits at most 100 and at least 90;
//! - a revoke stops the key on every copy within the revocation bound (1 s) plus 100 ms;
//! - with a bound of 0 (strict mode: a second runtime, or a key's own `revocation_bound_ms`) a
//!   revoke acts on the next request.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, check, client, eq, fan_out, free_port, no_panic,
    run_cases,
};

const COPIES: usize = 4;

/// Four copies of keygate in one workerd: the gateway (copy 0) and the ports of all four.
struct Copies {
    gateway: Gateway,
    ports: Vec<u16>,
}

impl Copies {
    fn start(origin: &Origin, bound_ms: &str) -> Copies {
        let more: Vec<u16> = (1..COPIES).map(|_| free_port()).collect();
        let options = GatewayOptions::new(origin.url()).var("REVOCATION_BOUND_MS", bound_ms);
        let gateway = Gateway::start_miniflare_copies("keygate", options, &more);
        let ports = std::iter::once(gateway.port).chain(more).collect();
        Copies { gateway, ports }
    }

    /// A key of a fresh organization allowing `per_minute` requests a minute, with `extra`
    /// fields (`,"name":value…` or nothing).
    fn key(&self, org: &str, per_minute: u32, extra: &str) -> (String, String) {
        let admin = Admin::operator(&self.gateway);
        admin.put_org(org, r#"{"plan":"enterprise"}"#);
        admin.create_key(
            org,
            &format!(
                r#"{{"name":"Spread","scopes":["read"],"rate_limits":[{{"name":"minute","limit":{per_minute},"window_seconds":60}}]{extra}}}"#
            ),
        )
    }

    fn revoke(&self, org: &str, id: &str) -> u16 {
        Admin::operator(&self.gateway)
            .call("DELETE", &format!("/orgs/{org}/keys/{id}"), None)
            .status
    }
}

struct World {
    origin: Origin,
    leased: Copies,
    strict: Copies,
}

/// A GET of `path` with `key` on copy `port`: the status (0 when the request failed).
fn get(agent: &ureq::Agent, port: u16, key: &str, path: &str) -> u16 {
    match agent
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("authorization", &format!("Bearer {key}"))
        .call()
    {
        Ok(mut r) => {
            let _ = r.body_mut().read_to_vec();
            r.status().as_u16()
        }
        Err(ureq::Error::StatusCode(status)) => status,
        Err(_) => 0,
    }
}

/// Until `stop`: requests with `key`, each client on every copy in turn; per request, when it
/// was sent (ms since `start`), the copy and the status.
fn load(
    copies: &Copies,
    key: &str,
    path: &str,
    clients: usize,
    start: Instant,
    stop: &AtomicBool,
) -> Vec<(u64, u16, u16)> {
    thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let agent = client();
                    let mut seen = Vec::new();
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        let port = copies.ports[i % COPIES];
                        let sent = start.elapsed().as_millis() as u64;
                        let status = get(&agent, port, key, &format!("{path}/{c}/{i}"));
                        seen.push((sent, port, status));
                        i += 1;
                        thread::sleep(Duration::from_millis(5));
                    }
                    seen
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Revokes a key under load on every copy, and returns, per copy, the last request sent that
/// was admitted, in ms after the revoke's answer (negative: before it), and the statuses seen
/// after the bound.
fn revoke_under_load(
    copies: &Copies,
    org: &str,
    path: &str,
    extra: &str,
) -> Result<Vec<i64>, Failed> {
    let (key, id) = copies.key(org, 1_000_000, extra);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let revoked_at = Mutex::new(None);
    let seen = thread::scope(|s| {
        let loader = s.spawn(|| load(copies, &key, path, 8, start, &stop));
        thread::sleep(Duration::from_millis(800));
        let status = copies.revoke(org, &id);
        *revoked_at.lock().unwrap() = Some((start.elapsed().as_millis() as i64, status));
        thread::sleep(Duration::from_millis(1_800));
        stop.store(true, Ordering::Relaxed);
        loader.join().unwrap()
    });
    let (revoked, status) = revoked_at.into_inner().unwrap().unwrap();
    eq(status, 200, "revoke")?;
    let mut last = Vec::new();
    for port in &copies.ports {
        let on_copy: Vec<_> = seen.iter().filter(|(_, p, _)| p == port).collect();
        check(
            on_copy.iter().any(|(_, _, s)| *s == 200),
            &format!("copy {port} admitted nothing before the revoke"),
        )?;
        let other: Vec<u16> = on_copy
            .iter()
            .map(|(_, _, s)| *s)
            .filter(|s| ![200, 401].contains(s))
            .collect();
        check(
            other.is_empty(),
            &format!("copy {port}: only 200 and 401, got {other:?}"),
        )?;
        let last_admitted = on_copy
            .iter()
            .filter(|(_, _, s)| *s == 200)
            .map(|(sent, _, _)| *sent as i64 - revoked)
            .max()
            .unwrap_or(i64::MIN);
        last.push(last_admitted);
    }
    Ok(last)
}

const CASES: &[Case<World>] = &[
    (
        "a_hundred_per_minute_key_admits_90_to_100_across_four_isolates",
        |w| {
            let (key, _) = w.leased.key("iso-a", 100, "");
            let statuses = fan_out(50, 10, |c, i| {
                let port = w.leased.ports[(c + i) % COPIES];
                get(&client(), port, &key, &format!("/iso-a/{c}/{i}"))
            });
            let admitted = statuses.iter().filter(|&&s| s == 200).count();
            let limited = statuses.iter().filter(|&&s| s == 429).count();
            eq(admitted + limited, 500, "every answer a 200 or a 429")?;
            check(
                (90..=100).contains(&admitted),
                &format!("{admitted} admitted of a 100/min key across {COPIES} isolates"),
            )?;
            eq(
                w.origin.seen("/iso-a/").len(),
                admitted,
                "requests the origin saw",
            )?;
            no_panic(&w.leased.gateway)
        },
    ),
    (
        "a_revoke_stops_the_key_on_every_copy_within_the_bound_plus_100_ms",
        |w| {
            let last = revoke_under_load(&w.leased, "iso-b", "/iso-b", "")?;
            for (port, last) in w.leased.ports.iter().zip(&last) {
                check(
                    *last <= 1_100,
                    &format!("copy {port} admitted a request sent {last} ms after the revoke"),
                )?;
            }
            Ok(())
        },
    ),
    ("a_bound_of_zero_acts_on_the_next_request", |w| {
        let last = revoke_under_load(&w.strict, "iso-c", "/iso-c", "")?;
        for (port, last) in w.strict.ports.iter().zip(&last) {
            check(
                *last <= 0,
                &format!("copy {port} admitted a request sent {last} ms after the revoke"),
            )?;
        }
        no_panic(&w.strict.gateway)
    }),
    (
        "a_key_with_its_own_bound_of_zero_acts_on_the_next_request",
        |w| {
            // On the leased copies (deployment bound 1 s): the key's own bound wins.
            let own = r#","revocation_bound_ms":0"#;
            let last = revoke_under_load(&w.leased, "iso-d", "/iso-d", own)?;
            for (port, last) in w.leased.ports.iter().zip(&last) {
                check(
                    *last <= 0,
                    &format!("copy {port} admitted a request sent {last} ms after the revoke"),
                )?;
            }
            no_panic(&w.leased.gateway)
        },
    ),
];

fn main() -> ExitCode {
    // Started from this thread: a runtime stops when the thread that spawned it ends.
    let origin = Origin::start();
    let leased = Copies::start(&origin, "1000");
    let strict = Copies::start(&origin, "0");
    run_cases(
        World {
            origin,
            leased,
            strict,
        },
        CASES,
    )
}
