//! Faults under traffic, on workerd: the origin stops mid-run and comes back, the origin is too
//! slow, and `wrangler dev` itself restarts mid-run. keygate must answer each with its
//! documented error (502, 504), never another 5xx or a panic, and keep keys, rate-limit
//! counters and the audit log across the restart.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, check, client, die_with_parent, eq, free_port,
    no_panic, run_cases, send,
};

struct World {
    /// The origin `gateway` forwards to, on a fixed port so it can stop and come back.
    origin: Mutex<Option<ProcessOrigin>>,
    origin_port: u16,
    /// In front of `origin`, with a 700 ms origin timeout.
    gateway: Gateway,
    /// Restarted by one case.
    restartable: Mutex<Gateway>,
    /// Serves `restartable`: never stopped.
    steady_origin: Origin,
}

fn options(origin: String, timeout_ms: &str) -> GatewayOptions {
    GatewayOptions::new(origin).var("ORIGIN_TIMEOUT_MS", timeout_ms)
}

impl World {
    fn start() -> World {
        let origin_port = free_port();
        let origin = ProcessOrigin::start(origin_port);
        let steady_origin = Origin::start();
        let mut gateway = Gateway::spawn(options(format!("http://127.0.0.1:{origin_port}"), "700"));
        let mut restartable = Gateway::spawn(options(steady_origin.url(), "30000"));
        gateway.wait_ready();
        restartable.wait_ready();
        World {
            origin: Mutex::new(Some(origin)),
            origin_port,
            gateway,
            restartable: Mutex::new(restartable),
            steady_origin,
        }
    }
}

/// An origin in its own process, so that stopping it is what a crash is: the kernel closes
/// every connection at once (an in-process server would leave kept-alive connections open).
/// Answers every request with a small JSON body; `/slow/<ms>/…` after that many milliseconds.
struct ProcessOrigin(std::process::Child);

const ORIGIN_JS: &str = r#"
const port = Number(process.argv[1]);
require("http").createServer((req, res) => {
  // /drip/<ms>: the status, headers and 1 KiB at once, the body's end ("end") <ms> later.
  const drip = Number((req.url.match(/^\/drip\/(\d+)/) || [])[1] || 0);
  if (drip) {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("a".repeat(1024));
    setTimeout(() => res.end("end"), drip);
    return;
  }
  const ms = Number((req.url.match(/^\/slow\/(\d+)/) || [])[1] || 0);
  setTimeout(() => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ origin: "faults", url: req.url }));
  }, ms);
}).listen(port, "127.0.0.1");
process.stdin.on("end", () => process.exit(0)).resume();
"#;

impl ProcessOrigin {
    fn start(port: u16) -> ProcessOrigin {
        let mut command = std::process::Command::new("node");
        command
            .args(["-e", ORIGIN_JS, &port.to_string()])
            .stdin(std::process::Stdio::piped());
        die_with_parent(&mut command);
        // Owned at once: every path below, the panic included, kills and reaps it.
        let origin = ProcessOrigin(command.spawn().expect("start the node origin"));
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return origin;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("the node origin did not listen on {port}");
    }
}

impl Drop for ProcessOrigin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A key of a fresh enterprise organization.
fn key(gateway: &Gateway, org: &str, body: &str) -> (String, String) {
    let admin = Admin::operator(gateway);
    admin.put_org(org, r#"{"plan":"enterprise"}"#);
    admin.create_key(org, body)
}

/// What a client saw: the status and error code, or a transport failure (status 0).
type Seen = (u16, String);

/// Requests `paths` in turn with `keys[i % len]` from one thread until `stop` is set; what each
/// got, in order, with the key's index.
fn load(
    port: u16,
    keys: Vec<String>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<Vec<(usize, Seen)>> {
    thread::spawn(move || {
        let agent = client();
        let mut seen = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let which = i % keys.len();
            let answer = agent
                .get(format!("http://127.0.0.1:{port}/faults/load/{i}"))
                .header("authorization", &format!("Bearer {}", keys[which]))
                .call();
            let got = match answer {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    let body = r.body_mut().read_to_vec().unwrap_or_default();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    (
                        status,
                        body["error"].as_str().unwrap_or_default().to_owned(),
                    )
                }
                Err(_) => {
                    // The runtime is down (a restart): wait a little rather than spin.
                    thread::sleep(Duration::from_millis(20));
                    (0, String::new())
                }
            };
            seen.push((which, got));
            i += 1;
        }
        seen
    })
}

const CASES: &[Case<World>] = &[
    ("origin_stopping_mid_run_is_502_then_recovers", |w| {
        let mut origin = w.origin.lock().unwrap();
        let (k, _) = key(
            &w.gateway,
            "faults-a",
            // Far above what one client sends here: this case is about the origin, not limits.
            r#"{"name":"Load","scopes":["read"],"rate_limits":[{"name":"minute","limit":1000000,"window_seconds":60}]}"#,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let loader = load(w.gateway.port, vec![k], stop.clone());
        thread::sleep(Duration::from_millis(700));
        drop(origin.take());
        thread::sleep(Duration::from_millis(1500));
        *origin = Some(ProcessOrigin::start(w.origin_port));
        thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        let seen: Vec<Seen> = loader.join().unwrap().into_iter().map(|(_, s)| s).collect();

        for (status, code) in &seen {
            check(
                *status == 200 || (*status == 502 && code == "origin_unavailable"),
                &format!("only 200 or 502 origin_unavailable, got {status} {code:?}"),
            )?;
        }
        let first_502 = seen.iter().position(|(s, _)| *s == 502);
        check(first_502.is_some(), "the stopped origin gave no 502")?;
        check(
            seen[..first_502.unwrap_or(0)]
                .iter()
                .any(|(s, _)| *s == 200),
            "requests passed before the stop",
        )?;
        let tail = &seen[seen.len().saturating_sub(5)..];
        check(
            tail.len() == 5 && tail.iter().all(|(s, _)| *s == 200),
            &format!("recovered after the origin came back: {tail:?}"),
        )?;
        no_panic(&w.gateway)
    }),
    (
        "a_slow_origin_is_a_504_and_a_healthy_one_still_answers",
        |w| {
            let _origin = w.origin.lock().unwrap();
            let (k, _) = key(
                &w.gateway,
                "faults-b",
                r#"{"name":"Slow","scopes":["read"]}"#,
            );
            let auth = format!("Bearer {k}");
            let get = |path: &str| send(&w.gateway, "GET", path, &[("authorization", &auth)], None);
            let r = get("/slow/2000/x");
            eq(r.status, 504, "status")?;
            eq(r.json()["error"].as_str(), Some("origin_timeout"), "code")?;
            let r = get("/slow/10/y");
            eq(r.status, 200, "fast enough")?;
            // Now under the key's lease (answered at once): the same 504. A body that streams
            // on past the timeout after headers in time arrives whole (the lease has ended by
            // then: the guard's path, which sends the same way).
            let r = get("/slow/2000/z");
            eq(r.status, 504, "status under the lease")?;
            eq(r.json()["error"].as_str(), Some("origin_timeout"), "code")?;
            for path in ["/drip/1200/a", "/drip/1200/b"] {
                let r = get(path);
                eq(r.status, 200, path)?;
                eq(r.body.len(), 1024 + 3, "whole body")?;
                check(r.body.ends_with(b"end"), "the part after the pause")?;
            }
            no_panic(&w.gateway)
        },
    ),
    (
        "wrangler_dev_restart_mid_run_keeps_keys_counters_and_audit",
        |w| {
            let mut gateway = w.restartable.lock().unwrap();
            let (limited, limited_id) = key(
                &gateway,
                "faults-c",
                r#"{"name":"Limited","scopes":["read"],"rate_limits":[{"name":"minute","limit":40,"window_seconds":60}]}"#,
            );
            let (open, open_id) = Admin::operator(&gateway).create_key(
                "faults-c",
                r#"{"name":"Open","scopes":["read"],"rate_limiting":false}"#,
            );
            // The changes in the audit log; successful authentications are checked apart.
            let admin_view = |g: &Gateway| {
                let admin = Admin::operator(g);
                let mut audit = admin.call("GET", "/orgs/faults-c/audit", None).json();
                let events = audit["events"].as_array_mut().unwrap();
                events.retain(|e| {
                    !matches!(
                        e["type"].as_str(),
                        Some("auth_succeeded" | "key_rate_limited")
                    )
                });
                (admin.call("GET", "/orgs/faults-c/keys", None).json(), audit)
            };
            let (keys_before, audit_before) = admin_view(&gateway);

            let stop = Arc::new(AtomicBool::new(false));
            let loader = load(gateway.port, vec![limited, open], stop.clone());
            thread::sleep(Duration::from_millis(1500));
            let (state_dir, port) = (gateway.state_dir.clone(), gateway.port);
            gateway.stop();
            *gateway = Gateway::start(
                options(w.steady_origin.url(), "30000")
                    .state_dir(state_dir)
                    .port(port),
            );
            thread::sleep(Duration::from_millis(1500));
            stop.store(true, Ordering::Relaxed);
            let seen = loader.join().unwrap();

            check(
                seen.iter().all(|(_, (s, _))| *s < 500),
                "a 5xx during the restart",
            )?;
            check(
                seen.iter().any(|(_, (s, _))| *s == 0),
                "the restart was not seen by the load (no refused connection)",
            )?;
            let admitted = |which: usize| {
                seen.iter()
                    .filter(|(k, (s, _))| *k == which && *s == 200)
                    .count()
            };
            // The window held across the restart: never more than its 40 admissions in all.
            let limited_admitted = admitted(0);
            check(
                (1..=40).contains(&limited_admitted),
                &format!("the limited key was admitted {limited_admitted} times (limit 40)"),
            )?;
            let after_restart = seen
                .iter()
                .rposition(|(_, (s, _))| *s == 0)
                .map_or(&seen[..0], |i| &seen[i + 1..]);
            check(
                after_restart.iter().any(|(k, (s, _))| *k == 1 && *s == 200),
                "the open key works after the restart",
            )?;

            let (keys_after, audit_after) = admin_view(&gateway);
            let ids = |v: &Value| -> Vec<String> {
                v["keys"]
                    .as_array()
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k["id"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            eq(
                ids(&keys_after),
                ids(&keys_before),
                "keys after the restart",
            )?;
            check(
                ids(&keys_after).contains(&limited_id) && ids(&keys_after).contains(&open_id),
                "both keys listed",
            )?;
            eq(
                audit_after["events"].clone(),
                audit_before["events"].clone(),
                "audit log",
            )?;
            let count = |kind: &str| {
                Admin::operator(&gateway)
                    .call("GET", &format!("/orgs/faults-c/audit?type={kind}"), None)
                    .json()["events"]
                    .as_array()
                    .map_or(0, Vec::len)
            };
            eq(
                count("auth_succeeded"),
                2,
                "one successful authentication per key and hour, across the restart",
            )?;
            check(
                count("key_rate_limited") <= 1,
                "at most one rate-limit refusal per window, across the restart",
            )?;
            // Usage is stored with the counters: what the last write before the restart saw is
            // kept (never more than was admitted).
            let usage = Admin::operator(&gateway)
                .call(
                    "GET",
                    &format!("/orgs/faults-c/keys/{limited_id}/usage"),
                    None,
                )
                .json();
            let total = usage["requests_total"].as_u64().unwrap_or(u64::MAX);
            check(
                total >= 1 && total <= limited_admitted as u64,
                &format!("usage {total} of {limited_admitted} admitted"),
            )?;
            no_panic(&gateway)
        },
    ),
];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
