//! `make bench`, end-to-end part, on the real `workerd` runtime with local KV and Durable
//! Objects, against one origin on 127.0.0.1, loaded by `wrk`. Prints one table with:
//!
//! - the native cost of each verification stage (criterion's medians from `benches/core.rs`,
//!   read from `target/criterion`: run that bench first, as `make bench` does);
//! - side by side, in interleaved rounds: the origin directly, a pass-through worker (no checks:
//!   the floor a Worker reaches here), and keygate with a valid key without and with rate
//!   limits, a malformed key and an unknown key; each keygate line also as a ratio to its
//!   baseline on the same runtime (requests/s and p99): the pass-through for verified requests,
//!   a JS worker refusing locally (`benches/refuse.js`) for refusals, where the runtime has
//!   one. Two runtimes: workerd driven by Miniflare's API (no proxy in front) and `wrangler dev`
//!   (whose reload proxy costs more than keygate does);
//! - the deployed bundle's size (wrangler's own count, the one Cloudflare's 3 MiB limit uses),
//!   and a restart: time until the runtime answers, then the first verified request;
//! - cost per request, counted: KV reads, Durable Object requests and rows written, summed from
//!   keygate's log lines (each line carries what its request did), on the restarted runtime.
//!
//! Knobs: `BENCH_SECONDS` per wrk run (default 5), `BENCH_ROUNDS` (default 3). The table also
//! goes to `target/keygate-bench/report.md`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use keygate::domain::{ApiKey, KeyPrefix};
use support::{
    Admin, Gateway, GatewayOptions, Origin, client, free_port, project_dir, runtime_config, send,
};

/// wrk connections: enough to keep both cores busy, few enough not to measure queueing alone.
const CONNECTIONS: &str = "8";
/// Sequential requests per cost scenario.
const COST_REQUESTS: usize = 200;

fn main() {
    let seconds = env_number("BENCH_SECONDS", 5);
    let rounds = env_number("BENCH_ROUNDS", 3);
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("make bench: wrk is missing (scripts/tools.sh bench installs it)");
        std::process::exit(1);
    }
    let mut report = Report::default();
    report.native();

    let origin = Origin::start_unrecorded(0).expect("bind the origin");
    let options = || GatewayOptions::new(origin.url());
    eprintln!("bench: starting the runtimes");
    let mut direct = Runtime::new(
        "workerd (Miniflare API)",
        Gateway::start_miniflare("passthrough", options()),
        Gateway::start_miniflare("keygate", options()),
    );
    // The same keygate in strict mode (the guard decides every request), beside the leased one.
    let strict = options().var("REVOCATION_BOUND_MS", "0");
    direct.strict = Some(Gateway::start_miniflare("keygate", strict));
    direct.refuse = Some(Gateway::start_miniflare("refuse", options()));
    let mut wrangler_pass = Gateway::spawn_with_config(options(), &passthrough_config());
    let mut wrangler_keygate = Gateway::spawn(options());
    wrangler_pass.wait_ready();
    wrangler_keygate.wait_ready();
    let wrangler = Runtime::new("wrangler dev", wrangler_pass, wrangler_keygate);

    // Interleaved rounds: a slow moment of the machine hits every line, not one.
    let mut lines: Vec<Line> = vec![Line::new(
        "origin directly",
        "-",
        origin.url() + "/bench/origin",
        None,
        None,
    )];
    for runtime in [&direct, &wrangler] {
        lines.extend(runtime.lines());
    }
    for round in 1..=rounds {
        eprintln!(
            "bench: round {round} of {rounds} ({} lines × {seconds} s)",
            lines.len()
        );
        for line in &mut lines {
            line.runs
                .push(wrk(&line.url, line.header.as_ref(), seconds));
        }
    }
    report.load(&lines);
    report.paced(&direct, &lines, seconds, rounds);
    report.guard_calls(&direct);
    report.hot_key(&origin.url(), seconds);
    report.size();
    report.restart(&mut direct, &origin.url());
    report.cost(&direct);
    drop((direct, wrangler));
    report.finish();
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// A pass-through worker and keygate on one runtime, with the keys the lines use.
struct Runtime {
    name: &'static str,
    passthrough: Gateway,
    keygate: Gateway,
    /// `rate_limiting: false`.
    unlimited: String,
    /// Three windows far above what the load reaches: every request is counted, none refused.
    limited: String,
    /// The limited key's id (hand-back log lines name it).
    limited_id: String,
    /// The same keygate with `REVOCATION_BOUND_MS=0`, on the same state: strict mode.
    strict: Option<Gateway>,
    /// A JS worker answering 401 locally: the floor keygate's refusals are divided by.
    refuse: Option<Gateway>,
}

/// The limited key's windows: far above what the load reaches.
const LIMITED_KEY: &str = r#"{"name":"Bench limited","scopes":["read"],"rate_limits":[
    {"name":"burst","limit":1000000,"window_seconds":1},
    {"name":"minute","limit":60000000,"window_seconds":60},
    {"name":"day","limit":2000000000,"window_seconds":86400}]}"#;

impl Runtime {
    fn new(name: &'static str, passthrough: Gateway, keygate: Gateway) -> Runtime {
        let admin = Admin::operator(&keygate);
        admin.put_org("bench", r#"{"plan":"enterprise"}"#);
        let (unlimited, _) = admin.create_key(
            "bench",
            r#"{"name":"Bench unlimited","scopes":["read"],"rate_limiting":false}"#,
        );
        let (limited, limited_id) = admin.create_key("bench", LIMITED_KEY);
        Runtime {
            name,
            passthrough,
            keygate,
            unlimited,
            limited,
            limited_id,
            strict: None,
            refuse: None,
        }
    }

    fn lines(&self) -> Vec<Line> {
        let unknown = ApiKey::generate(&KeyPrefix::default()).unwrap();
        // A refusal is divided by the JS refusal where the runtime has one.
        let refusal_baseline = if self.refuse.is_some() {
            REFUSING_JS
        } else {
            PASS_THROUGH
        };
        let line = |what, path: &str, key: &str, baseline| {
            Line::new(
                what,
                self.name,
                self.keygate.url(path),
                Some(format!("Authorization: Bearer {key}")),
                Some(baseline),
            )
        };
        let keygate = |what, path: &str, key: &str| line(what, path, key, PASS_THROUGH);
        let refusing = |what, path: &str, key: &str| line(what, path, key, refusal_baseline);
        // Each line is checked once first: it must pass, or refuse for the reason it names.
        let expect = |key: &str, status: u16, code: &str| {
            let r = send(
                &self.keygate,
                "GET",
                "/bench/check",
                &[("authorization", &format!("Bearer {key}"))],
                None,
            );
            assert_eq!(r.status, status, "{}: {key}", self.name);
            if !code.is_empty() {
                assert_eq!(r.json()["error"], code, "{}", self.name);
            }
        };
        expect(&self.unlimited, 200, "");
        expect(&self.limited, 200, "");
        expect("kg_live_not_a_key", 401, "malformed_api_key");
        expect(unknown.expose_secret(), 401, "invalid_api_key");
        let mut lines = vec![
            Line::new(
                PASS_THROUGH,
                self.name,
                self.passthrough.url("/bench/pass"),
                None,
                None,
            ),
            keygate(
                "keygate, valid key, no rate limit",
                "/bench/unlimited",
                &self.unlimited,
            ),
            keygate(
                "keygate leased (1 s), valid key, 3 rate-limit windows",
                "/bench/limited",
                &self.limited,
            ),
            refusing(
                "keygate refusing a malformed key",
                "/bench/malformed",
                "kg_live_not_a_key",
            ),
            refusing(
                "keygate refusing an unknown key",
                "/bench/unknown",
                unknown.expose_secret(),
            ),
        ];
        if let Some(refuse) = &self.refuse {
            lines.push(Line::new(
                REFUSING_JS,
                self.name,
                refuse.url("/bench/refuse"),
                Some("Authorization: Bearer kg_live_not_a_key".to_owned()),
                None,
            ));
        }
        if let Some(strict) = &self.strict {
            // Its own key: an organization and key created through the strict copy.
            let admin = Admin::operator(strict);
            admin.put_org("bench-strict", r#"{"plan":"enterprise"}"#);
            let (key, _) = admin.create_key("bench-strict", LIMITED_KEY);
            lines.insert(
                3,
                Line::new(
                    "keygate strict (bound 0), valid key, 3 rate-limit windows",
                    self.name,
                    strict.url("/bench/strict"),
                    Some(format!("Authorization: Bearer {key}")),
                    Some(PASS_THROUGH),
                ),
            );
        }
        lines
    }
}

const PASS_THROUGH: &str = "pass-through worker";
const REFUSING_JS: &str = "JS worker refusing locally (401, no origin)";

/// One line of the load table and its runs.
struct Line {
    what: &'static str,
    runtime: &'static str,
    url: String,
    header: Option<String>,
    /// The line (same runtime) whose requests/s this one is divided by.
    baseline: Option<&'static str>,
    runs: Vec<Wrk>,
}

impl Line {
    fn new(
        what: &'static str,
        runtime: &'static str,
        url: String,
        header: Option<String>,
        baseline: Option<&'static str>,
    ) -> Line {
        Line {
            what,
            runtime,
            url,
            header,
            baseline,
            runs: Vec::new(),
        }
    }

    /// Medians over the rounds: requests/s, p50 and p99 in ms.
    fn medians(&self) -> (f64, f64, f64) {
        let median = |f: fn(&Wrk) -> f64| {
            let mut v: Vec<f64> = self.runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        (
            median(|w| w.rps),
            median(|w| w.p50_ms),
            median(|w| w.p99_ms),
        )
    }
}

/// The paced lines' rate, as a share of the pass-through's saturated requests/s.
const PACED_SHARE: f64 = 0.3;
/// Connections of the paced lines (each a thread on its own schedule).
const PACED_CONNECTIONS: usize = 16;

/// p50 and p99 (ms) of `rate` requests/s to `url` for `seconds`, open loop: each connection
/// sends on a fixed schedule and a request's latency counts from its scheduled time, so a
/// stall shows in full instead of delaying the next send (wrk's closed loop hides it).
fn paced(url: &str, authorization: Option<&str>, rate: f64, seconds: u64) -> (f64, f64) {
    let interval = Duration::from_secs_f64(PACED_CONNECTIONS as f64 / rate);
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs(seconds);
    let mut latencies: Vec<f64> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..PACED_CONNECTIONS)
            .map(|i| {
                s.spawn(move || {
                    let agent = client();
                    let mut at = start + interval.mul_f64(i as f64 / PACED_CONNECTIONS as f64);
                    let mut out = Vec::new();
                    while at < end {
                        if let Some(wait) = at.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let mut request = agent.get(url);
                        if let Some(value) = authorization {
                            request = request.header("authorization", value);
                        }
                        let mut response = request.call().expect("paced request");
                        let _ = response.body_mut().read_to_vec();
                        out.push(at.elapsed().as_secs_f64() * 1000.0);
                        at += interval;
                    }
                    out
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("paced thread"))
            .collect()
    });
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

/// What one wrk run reported.
struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk(url: &str, header: Option<&String>, seconds: u64) -> Wrk {
    wrk_with(url, header, seconds, CONNECTIONS)
}

fn wrk_with(url: &str, header: Option<&String>, seconds: u64, connections: &str) -> Wrk {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        "-c",
        connections,
        "--latency",
        "-d",
        &format!("{seconds}s"),
    ]);
    if let Some(header) = header {
        command.args(["-H", header]);
    }
    let out = command.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_else(|| panic!("wrk printed no {prefix:?}:\n{text}"))
    };
    // Connection failures mean the line is broken; timeouts (over wrk's 2 s) are latency, and
    // show in p99.
    if let Some(errors) = text.lines().find(|l| l.contains("Socket errors")) {
        let counts = errors.split_once(':').map_or("", |(_, counts)| counts);
        let failed = ["connect", "read", "write"].iter().any(|kind| {
            counts
                .split(',')
                .any(|part| part.trim_start().starts_with(kind) && !part.trim().ends_with(" 0"))
        });
        assert!(!failed, "wrk against {url}: {errors}");
    }
    Wrk {
        rps: field("Requests/sec:").parse().unwrap(),
        p50_ms: millis(field("50%")),
        p99_ms: millis(field("99%")),
    }
}

/// wrk's `812.00us`, `8.72ms`, `1.02s` in milliseconds.
fn millis(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => f64::NAN,
    }
}

/// A wrangler config for the pass-through worker, written under `target/`.
fn passthrough_config() -> PathBuf {
    let dir = project_dir().join("target/keygate-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("passthrough.toml");
    let main = project_dir().join("benches/passthrough.js");
    std::fs::write(
        &path,
        format!(
            "name = \"passthrough\"\nmain = {:?}\ncompatibility_date = \"2026-04-01\"\n",
            main.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// The table, built section by section.
#[derive(Default)]
struct Report {
    text: String,
}

impl Report {
    fn section(&mut self, title: &str, header: &str) {
        let columns = header.matches('|').count() - 1;
        self.text += &format!("\n**{title}**\n\n{header}\n|{}\n", "---|".repeat(columns));
    }

    fn row(&mut self, cells: &[String]) {
        self.text += &format!("| {} |\n", cells.join(" | "));
    }

    /// criterion's median estimate of each native benchmark.
    fn native(&mut self) {
        self.section(
            "Native, per operation (criterion median; goal for the in-memory verification: under 5 µs)",
            "| operation | median |",
        );
        for (id, what) in [
            ("key_parse_checksum_hash", "key: parse + checksum + SHA-256"),
            ("record_decode", "KV record: decode (JSON)"),
            (
                "policy_match_10_rules",
                "policy match, 10 rules (last rule)",
            ),
            (
                "policy_match_200_rules",
                "policy match, 200 rules (last rule)",
            ),
            ("scope_check", "scope check"),
            ("verify_status_and_authorize", "status + scopes + resources"),
            ("window_decide_3_windows", "rate-limit decision, 3 windows"),
            ("fields_filter_10KiB", "field filter, 10 KiB JSON body"),
            (
                "verify_logic",
                "every check of an admitted request, both sides",
            ),
            (
                "verify_whole",
                "the same with the guard call's JSON (whole in-memory path)",
            ),
        ] {
            let path = project_dir().join(format!("target/criterion/{id}/new/estimates.json"));
            let median = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["median"]["point_estimate"].as_f64());
            let cell = median.map_or("not run (cargo bench --bench core)".to_owned(), nanos);
            self.row(&[what.to_owned(), cell]);
        }
    }

    fn load(&mut self, lines: &[Line]) {
        self.section(
            &format!("End to end, wrk -t1 -c{CONNECTIONS} (median of the rounds)"),
            "| line | runtime | requests/s | p50 ms | p99 ms | vs baseline: requests/s, p99 |",
        );
        for line in lines {
            let (rps, p50, p99) = line.medians();
            let ratio = line.baseline.and_then(|base| {
                let base = lines
                    .iter()
                    .find(|l| l.what == base && l.runtime == line.runtime)?;
                let (base_rps, _, base_p99) = base.medians();
                Some(format!("{:.2}×, {:.2}×", rps / base_rps, p99 / base_p99))
            });
            self.row(&[
                line.what.to_owned(),
                line.runtime.to_owned(),
                format!("{rps:.0}"),
                format!("{p50:.2}"),
                format!("{p99:.2}"),
                ratio.unwrap_or_else(|| "-".into()),
            ]);
        }
    }

    /// p50 and p99 at one fixed rate, 30 % of the pass-through's saturated requests/s, on the
    /// pass-through, leased keygate and keygate refusing a malformed key: latency where no
    /// line saturates the machine (a closed loop at saturation measures its scheduling).
    fn paced(&mut self, runtime: &Runtime, lines: &[Line], seconds: u64, rounds: u64) {
        let Some(pass) = lines
            .iter()
            .find(|l| l.what == PASS_THROUGH && l.runtime == runtime.name)
        else {
            return;
        };
        let rate = pass.medians().0 * PACED_SHARE;
        self.section(
            &format!(
                "Latency at a fixed rate: {rate:.0} requests/s, 30 % of the pass-through's (open loop, {PACED_CONNECTIONS} connections, workerd via Miniflare, median of {rounds} interleaved rounds)"
            ),
            "| line | p50 ms | p99 ms | p99 vs pass-through |",
        );
        let limited = format!("Bearer {}", runtime.limited);
        let runs = [
            (PASS_THROUGH, runtime.passthrough.url("/bench/paced"), None),
            (
                "keygate leased (1 s), valid key, 3 rate-limit windows",
                runtime.keygate.url("/bench/limited"),
                Some(limited.as_str()),
            ),
            (
                "keygate refusing a malformed key",
                runtime.keygate.url("/bench/paced"),
                Some("Bearer kg_live_not_a_key"),
            ),
        ];
        let mut results = vec![Vec::new(); runs.len()];
        for _ in 0..rounds {
            for ((_, url, auth), out) in runs.iter().zip(&mut results) {
                out.push(paced(url, *auth, rate, seconds));
            }
        }
        let median = |v: &mut Vec<(f64, f64)>, f: fn(&(f64, f64)) -> f64| {
            let mut x: Vec<f64> = v.iter().map(f).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        let mut base_p99 = None;
        for ((what, _, _), mut out) in runs.into_iter().zip(results) {
            let (p50, p99) = (median(&mut out, |r| r.0), median(&mut out, |r| r.1));
            let base = *base_p99.get_or_insert(p99);
            self.row(&[
                what.to_owned(),
                format!("{p50:.2}"),
                format!("{p99:.2}"),
                format!("{:.2}×", p99 / base),
            ]);
        }
    }

    /// Guard requests per verified request of the leased limited key over all the rounds:
    /// those its requests made (their log lines) plus the leases given back when they ended.
    fn guard_calls(&mut self, runtime: &Runtime) {
        self.section(
            "Guard requests per verified request under steady load (counted from the log)",
            "| line | verified requests | guard requests | per request |",
        );
        let (sum, requests) = sum_cost(&runtime.keygate, "/bench/limited");
        let handbacks = hand_backs(&runtime.keygate, &runtime.limited_id);
        let calls = sum[1] + handbacks;
        self.row(&[
            "keygate leased (1 s), valid key, 3 windows (workerd via Miniflare)".into(),
            requests.to_string(),
            format!("{calls} ({handbacks} hand-backs)"),
            format!("{:.4}", calls as f64 / requests.max(1) as f64),
        ]);
    }

    /// One key through four isolates (four copies of keygate in one workerd sharing the guard
    /// namespace), loaded at once by four wrk processes: the key's requests/s and its guard's.
    fn hot_key(&mut self, origin: &str, seconds: u64) {
        let more: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let copies = Gateway::start_miniflare_copies("keygate", GatewayOptions::new(origin), &more);
        let admin = Admin::operator(&copies);
        admin.put_org("bench-hot", r#"{"plan":"enterprise"}"#);
        let (key, id) = admin.create_key("bench-hot", LIMITED_KEY);
        let header = format!("Authorization: Bearer {key}");
        let ports: Vec<u16> = std::iter::once(copies.port).chain(more).collect();
        eprintln!("bench: one key through four isolates ({seconds} s)");
        let runs: Vec<Wrk> = std::thread::scope(|s| {
            let handles: Vec<_> = ports
                .iter()
                .map(|port| {
                    let url = format!("http://127.0.0.1:{port}/bench/hot");
                    let header = header.clone();
                    s.spawn(move || wrk_with(&url, Some(&header), seconds, "2"))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let rps: f64 = runs.iter().map(|w| w.rps).sum();
        let p99 = runs.iter().map(|w| w.p99_ms).fold(0.0, f64::max);
        let (sum, requests) = sum_cost(&copies, "/bench/hot");
        let calls = sum[1] + hand_backs(&copies, &id);
        self.section(
            "One hot key through four isolates (4 × wrk -t1 -c2 at once, one run)",
            "| requests/s (sum) | worst p99 ms | guard requests/s | guard requests per request |",
        );
        self.row(&[
            format!("{rps:.0}"),
            format!("{p99:.2}"),
            format!("{:.1}", calls as f64 / seconds as f64),
            format!("{:.4}", calls as f64 / requests.max(1) as f64),
        ]);
    }

    /// wrangler's own size count of the bundle it would upload.
    fn size(&mut self) {
        let dir = project_dir().join("target/keygate-bench/bundle");
        let out = Command::new(project_dir().join("node_modules/.bin/wrangler"))
            .current_dir(project_dir())
            .args(["deploy", "--dry-run", "--outdir", dir.to_str().unwrap()])
            .args(["--config", runtime_config().to_str().unwrap()])
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .output()
            .expect("wrangler deploy --dry-run");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let total = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Total Upload:"))
            .unwrap_or("(wrangler printed no size)")
            .trim()
            .to_owned();
        self.section("Size and start", "| measure | value |");
        self.row(&[
            "bundle (wasm + JS glue), as `wrangler deploy` uploads it; limit 3 MiB gzip (free plan)".into(),
            total,
        ]);
    }

    /// Stops the runtime's keygate and starts it again on the same state and port: the first
    /// request then meets a cold isolate, a cold guard and an empty isolate cache.
    fn restart(&mut self, runtime: &mut Runtime, origin: &str) {
        runtime.keygate.stop();
        let started = Instant::now();
        runtime.keygate = Gateway::start_miniflare(
            "keygate",
            GatewayOptions::new(origin)
                .state_dir(runtime.keygate.state_dir.clone())
                .port(runtime.keygate.port),
        );
        let ready = started.elapsed();
        let keygate = &runtime.keygate;
        let bearer = format!("Bearer {}", runtime.unlimited);
        let timed = |path: &str| {
            let at = Instant::now();
            let r = send(keygate, "GET", path, &[("authorization", &bearer)], None);
            assert_eq!(r.status, 200, "after the restart");
            at.elapsed()
        };
        let first = timed("/bench/after-restart/1");
        let second = timed("/bench/after-restart/2");
        self.row(&[
            "restart on existing state: spawn → first answer (workerd via Miniflare)".into(),
            format!("{} ms", ready.as_millis()),
        ]);
        self.row(&[
            "first verified request after the restart (cold isolate, guard and cache)".into(),
            format!("{:.1} ms", first.as_secs_f64() * 1000.0),
        ]);
        self.row(&[
            "the request after it".into(),
            format!("{:.1} ms", second.as_secs_f64() * 1000.0),
        ]);
        let cost = sum_cost(keygate, "/bench/after-restart/1").0;
        self.row(&[
            "first request's cost (KV reads / object requests / rows written)".into(),
            format!("{} / {} / {}", cost[0], cost[1], cost[2]),
        ]);
    }

    /// Requests sent one by one per scenario; the counts come from keygate's log lines.
    fn cost(&mut self, runtime: &Runtime) {
        self.section(
            &format!("Cost per request, counted ({COST_REQUESTS} requests each, after the load)"),
            "| request | KV reads | object requests | rows written |",
        );
        let unknown = ApiKey::generate(&KeyPrefix::default()).unwrap();
        for (what, path, key) in [
            (
                "valid key, no rate limit",
                "/cost/unlimited",
                runtime.unlimited.as_str(),
            ),
            (
                "valid key, 3 windows",
                "/cost/limited",
                runtime.limited.as_str(),
            ),
            ("malformed key", "/cost/malformed", "kg_live_not_a_key"),
            ("unknown key", "/cost/unknown", unknown.expose_secret()),
        ] {
            let bearer = format!("Bearer {key}");
            for _ in 0..COST_REQUESTS {
                send(
                    &runtime.keygate,
                    "GET",
                    path,
                    &[("authorization", &bearer)],
                    None,
                );
            }
            let (sum, lines) = sum_cost(&runtime.keygate, path);
            assert_eq!(lines, COST_REQUESTS, "log lines for {path}");
            let per = |n: u64| format!("{:.3}", n as f64 / lines as f64);
            self.row(&[what.into(), per(sum[0]), per(sum[1]), per(sum[2])]);
        }
    }

    fn finish(self) {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let text = format!(
            "keygate benchmark — {cores} cores, {cpu}; origin, load generator and runtime share them\n{}",
            self.text
        );
        println!("{text}");
        let path = project_dir().join("target/keygate-bench/report.md");
        let _ = std::fs::write(&path, &text);
        eprintln!("bench: table written to {}", path.display());
    }
}

/// The summed (KV reads, object requests, rows written) of the log lines for `path`, and how
/// many lines there were.
fn sum_cost(gateway: &Gateway, path: &str) -> ([u64; 3], usize) {
    let needle = format!(r#""path":"{path}""#);
    // The runner writes its log asynchronously: give it a moment to catch up.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = ([0; 3], 0);
    while Instant::now() < deadline {
        let log = gateway.log();
        let mut sum = [0u64; 3];
        let mut n = 0;
        for line in log.lines().filter(|l| l.contains(&needle)) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            for (slot, field) in sum
                .iter_mut()
                .zip(["kv_reads", "do_requests", "rows_written"])
            {
                *slot += v[field].as_u64().unwrap_or(0);
            }
            n += 1;
        }
        if n == last.1 && n > 0 {
            return (sum, n);
        }
        last = (sum, n);
        std::thread::sleep(Duration::from_millis(300));
    }
    last
}

/// Leases of key `id` given back when they ended (their log lines), each one guard request.
fn hand_backs(gateway: &Gateway, id: &str) -> u64 {
    let key = format!(r#""key_id":"{id}""#);
    gateway
        .log()
        .lines()
        .filter(|l| l.contains(r#""event":"hand_back""#) && l.contains(&key))
        .count() as u64
}

fn nanos(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}
