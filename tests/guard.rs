//! The security review's guard findings (issue 10, items 5, 6 and 12), attacked on workerd,
//! each checked by what the origin received as well as by the answers:
//!
//! - a guard outage fails open only on a record the guard confirmed within
//!   `REVOCATION_BOUND_MS`: the guards live in another `wrangler dev` session (a Durable Object
//!   bound by `script_name` through a private dev registry) that is stopped mid-test, which is
//!   exactly what an outage looks like to the worker (the binding answers 503);
//! - 60 KB paths never break a rate-limit window, before or after a restart;
//! - a flood of made-up keys from one client is refused after its budget, without breaking a
//!   real key from that client or another, and with a bounded number of log lines.

use std::process::ExitCode;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use keygate::domain::{ApiKey, KeyPrefix};
use libtest_mimic::Failed;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, no_panic, project_dir,
    run_cases, runtime_config, send,
};

/// Made-up keys the flood sends, and the lookups a client may spend per minute.
const FLOOD: usize = 300;
const BUDGET: usize = 20;

/// The suite runs twice: under `default = "allow"` the test paths are unmatched routes, under
/// `default = "deny"` rules name them. Field filtering needs a rule naming the resource.
fn policy(default: &str) -> String {
    let employees =
        r#"{"method":"GET","path":"/api/employees/*","resource":"employees","envelope":"data"}"#;
    let named = if default == "deny" {
        [
            ("outage", "GET"),
            ("big", "POST"),
            ("big", "GET"),
            ("flood", "GET"),
        ]
        .map(|(p, m)| format!(r#",{{"method":"{m}","path":"/{p}/*","resource":"{p}"}}"#))
        .concat()
    } else {
        String::new()
    };
    format!(r#"{{"default":"{default}","rules":[{employees}{named}]}}"#)
}

struct World {
    /// The policy's default for this run.
    default: &'static str,
    origin: Origin,
    /// Hosts the guards of both fronts; stopped and started again by the outage case.
    guards: Mutex<Gateway>,
    guards_config: std::path::PathBuf,
    /// Default revocation bound (1 s), guards in `guards`.
    front: Gateway,
    /// `REVOCATION_BOUND_MS=60000`, guards in `guards`.
    long_front: Gateway,
    /// A gateway with its own guards, restarted by the 60 KB case (hence the lock).
    plain: Mutex<Gateway>,
    /// A gateway of its own for the flood case. Not `plain`: a gateway restarted inside a case
    /// is spawned by that case's thread and stopped when the thread ends (the parent-death
    /// signal follows the spawning thread), so no other case may rely on it.
    flood: Gateway,
}

fn options(origin: &Origin, default: &str) -> GatewayOptions {
    GatewayOptions::new(origin.url()).var("POLICY", policy(default))
}

/// The runtime config under another worker name; `guards_in`: bind `GUARDS` to that worker's
/// `KeyGuard` instead of a local one.
fn config_named(name: &str, guards_in: Option<&str>) -> std::path::PathBuf {
    let base = std::fs::read_to_string(runtime_config()).expect("read the runtime config");
    let mut text = base.replacen("name = \"keygate\"", &format!("name = {name:?}"), 1);
    assert!(text.contains(name), "the runtime config names the worker");
    if let Some(host) = guards_in {
        let binding = "class_name = \"KeyGuard\"\n";
        assert_eq!(text.matches(binding).count(), 1, "one KeyGuard binding");
        text = text.replacen(binding, &format!("{binding}script_name = {host:?}\n"), 1);
    }
    let path = project_dir()
        .join("target/keygate-tests")
        .join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

impl World {
    fn start(default: &'static str) -> World {
        println!("\nguard suite, policy default = {default:?}");
        let origin = Origin::start();
        let pid = std::process::id();
        let host = format!("keygate-guards-{pid}");
        let guards_config = config_named(&host, None);
        let front_config = config_named(&format!("keygate-front-{pid}"), Some(&host));
        let long_config = config_named(&format!("keygate-long-front-{pid}"), Some(&host));
        let mut guards = Gateway::spawn_with_config(options(&origin, default), &guards_config);
        let mut front = Gateway::spawn_with_config(options(&origin, default), &front_config);
        let mut long_front = Gateway::spawn_with_config(
            options(&origin, default).var("REVOCATION_BOUND_MS", "60000"),
            &long_config,
        );
        let mut plain = Gateway::spawn(options(&origin, default));
        let mut flood = Gateway::spawn(options(&origin, default));
        for gateway in [
            &mut guards,
            &mut front,
            &mut long_front,
            &mut plain,
            &mut flood,
        ] {
            gateway.wait_ready();
        }
        World {
            default,
            origin,
            guards: Mutex::new(guards),
            guards_config,
            front,
            long_front,
            plain: Mutex::new(plain),
            flood,
        }
    }
}

fn get(gateway: &Gateway, key: &str, path: &str, client: Option<&str>) -> Reply {
    let bearer = format!("Bearer {key}");
    let mut headers = vec![("authorization", bearer.as_str())];
    headers.extend(client.map(|ip| ("cf-connecting-ip", ip)));
    send(gateway, "GET", path, &headers, None)
}

fn error_code(reply: &Reply) -> String {
    serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `allow` keys and a `deny` one of organization `org` on `gateway`, by name.
fn keys(gateway: &Gateway, org: &str, names: &[(&str, &str)]) -> Vec<(String, String)> {
    let admin = Admin::operator(gateway);
    admin.put_org(org, r#"{"plan":"enterprise"}"#);
    names
        .iter()
        .map(|(name, fallback)| {
            admin.create_key(
                org,
                &format!(
                    r#"{{"name":"{name}","scopes":["read"],"on_limiter_error":"{fallback}"}}"#
                ),
            )
        })
        .collect()
}

static CASES: &[Case<World>] = &[
    (
        "a_guard_outage_fails_open_only_on_a_record_confirmed_within_the_bound",
        |w| {
            let mut guards = w.guards.lock().unwrap();
            let made = keys(
                &w.front,
                "outage",
                &[
                    ("Fields added later", "allow"),
                    ("Revoked later", "allow"),
                    ("Unchanged but stale", "allow"),
                    ("Never used", "allow"),
                    ("Denies without guard", "deny"),
                ],
            );
            let [fields, revoked, stale, unused, deny] = [0, 1, 2, 3, 4].map(|i| &made[i]);
            let long = &keys(&w.long_front, "outage-long", &[("Long bound", "allow")])[0];

            // The guard confirms each record once; the field-restricted key sees every field.
            let r = get(&w.front, &fields.0, "/api/employees/before", None);
            eq(r.status, 200, "fields key before")?;
            check(
                r.text().contains("salary"),
                "unrestricted before the change",
            )?;
            for (key, path) in [
                (revoked, "/outage/revoked/before"),
                (stale, "/outage/stale/before"),
                (deny, "/outage/deny/before"),
            ] {
                eq(get(&w.front, &key.0, path, None).status, 200, path)?;
            }
            eq(
                get(&w.long_front, &long.0, "/outage/long/before", None).status,
                200,
                "long-bound key before",
            )?;
            let confirmed = Instant::now();

            // The key is restricted and another revoked; neither is used again before the
            // outage, so the isolate still holds their old records.
            let admin = Admin::operator(&w.front);
            let patch = format!("/orgs/outage/keys/{}", fields.1);
            let r = admin.call(
                "PATCH",
                &patch,
                Some(r#"{"fields":{"employees":["name"]}}"#),
            );
            eq(r.status, 200, "restrict the fields")?;
            let r = admin.call("DELETE", &format!("/orgs/outage/keys/{}", revoked.1), None);
            eq(r.status, 200, "revoke")?;

            // The outage: the guards' host goes away.
            let state_dir = guards.state_dir.clone();
            guards.stop();

            // Within its bound (60 s) a confirmed allow key still works, uncounted.
            let r = get(&w.long_front, &long.0, "/outage/long/during", None);
            eq(r.status, 200, "long-bound key during the outage")?;
            eq(
                r.header("x-keygate-limiter"),
                Some("unavailable; allowed"),
                "X-Keygate-Limiter",
            )?;
            eq(
                w.origin.seen("/outage/long/during").len(),
                1,
                "origin: long key",
            )?;

            // Past the 1 s bound nothing fails open on the front: not the restricted key's old
            // record, not the revoked key's, not an unchanged one, not one never confirmed.
            if let Some(rest) = Duration::from_millis(1_500).checked_sub(confirmed.elapsed()) {
                thread::sleep(rest);
            }
            for (key, path) in [
                (fields, "/api/employees/during"),
                (revoked, "/outage/revoked/during"),
                (stale, "/outage/stale/during"),
                (unused, "/outage/unused/during"),
                (deny, "/outage/deny/during"),
            ] {
                let r = get(&w.front, &key.0, path, None);
                eq(
                    (r.status, error_code(&r)),
                    (503, "limiter_unavailable".to_owned()),
                    path,
                )?;
                eq(
                    r.header("x-keygate-limiter"),
                    Some("unavailable; denied"),
                    path,
                )?;
                check(!r.text().contains("salary"), "a hidden field leaked")?;
                eq(w.origin.seen(path).len(), 0, &format!("origin: {path}"))?;
            }

            // The guards come back: the restriction and the revocation hold.
            *guards = Gateway::spawn_with_config(
                options(&w.origin, w.default).state_dir(state_dir),
                &w.guards_config,
            );
            guards.wait_ready();
            let deadline = Instant::now() + Duration::from_secs(60);
            let r = loop {
                let r = get(&w.front, &fields.0, "/api/employees/after", None);
                if r.status != 503 || Instant::now() > deadline {
                    break r;
                }
                thread::sleep(Duration::from_millis(250));
            };
            eq(r.status, 200, "fields key after the outage")?;
            let text = r.text();
            check(text.contains("Ada") && !text.contains("salary"), &text)?;
            let r = get(&w.front, &revoked.0, "/outage/revoked/after", None);
            eq(
                (r.status, error_code(&r)),
                (401, "invalid_api_key".to_owned()),
                "revoked after",
            )?;
            eq(
                w.origin.seen("/outage/revoked/").len(),
                1,
                "origin: revoked key",
            )?;
            eq(
                get(&w.front, &stale.0, "/outage/stale/after", None).status,
                200,
                "stale after",
            )?;
            no_panic(&w.front)?;
            no_panic(&w.long_front)
        },
    ),
    ("sixty_kilobyte_paths_never_break_the_window", |w| {
        let mut plain = w.plain.lock().unwrap();
        let admin = Admin::operator(&plain);
        admin.put_org("bigpaths", r#"{"plan":"enterprise"}"#);
        let (key, id) = admin.create_key(
            "bigpaths",
            r#"{"name":"Big paths","scopes":["read"],"rate_limits":[{"name":"small","limit":5,"window_seconds":600}]}"#,
        );
        let bearer = format!("Bearer {key}");
        let long = "a".repeat(60 * 1024);
        // 40 refused writes (a read key), recorded as usage: 2.4 MB of paths if kept whole,
        // more than a stored value may hold.
        for i in 0..40 {
            let path = format!("/big/post/{i}/{long}");
            let r = send(
                &plain,
                "POST",
                &path,
                &[("authorization", &bearer)],
                Some(b"x"),
            );
            eq(
                (r.status, error_code(&r)),
                (403, "insufficient_scope".to_owned()),
                "POST",
            )?;
        }
        let send_gets = |gateway: &Gateway, round: &str| -> Result<usize, Failed> {
            let mut admitted = 0;
            for i in 0..12 {
                let path = format!("/big/get/{round}/{i}/{long}");
                let r = send(gateway, "GET", &path, &[("authorization", &bearer)], None);
                check(
                    matches!(r.status, 200 | 429),
                    &format!("{round} {i}: {} {}", r.status, error_code(&r)),
                )?;
                admitted += usize::from(r.status == 200);
            }
            Ok(admitted)
        };
        eq(
            send_gets(&plain, "first")?,
            5,
            "admitted before the restart",
        )?;
        // The guard restarts from what it stored: the window is still full.
        let state_dir = plain.state_dir.clone();
        plain.stop();
        *plain = Gateway::start(options(&w.origin, w.default).state_dir(state_dir));
        eq(
            send_gets(&plain, "second")?,
            0,
            "admitted after the restart",
        )?;
        eq(
            w.origin.seen("/big/post/").len(),
            0,
            "origin: refused POSTs",
        )?;
        eq(w.origin.seen("/big/get/").len(), 5, "origin: GETs")?;
        let usage = Admin::operator(&plain)
            .call("GET", &format!("/orgs/bigpaths/keys/{id}/usage"), None)
            .json();
        eq(usage["requests_total"].as_u64(), Some(5), "usage total")?;
        let recent = usage["recent"].as_array().ok_or("no recent events")?;
        check(!recent.is_empty(), "recent events")?;
        for event in recent {
            let path = event["path"].as_str().unwrap_or_default();
            check(
                path.len() <= 512 && path.ends_with('…') && path.starts_with("/big/"),
                &format!("stored path of {} bytes", path.len()),
            )?;
        }
        no_panic(&plain)
    }),
    ("a_flood_of_made_up_keys_is_refused_after_the_budget", |w| {
        let plain = &w.flood;
        let admin = Admin::operator(plain);
        admin.put_org("flood", r#"{"plan":"enterprise"}"#);
        let (real, _) = admin.create_key("flood", r#"{"name":"Real key","scopes":["read"]}"#);
        // The flooder rotates through addresses of its one IPv6 /64: one client all the same.
        let flooder = |i: usize| format!("2001:db8:77:1::{:x}", i + 1);
        let (bystander, prefix) = ("198.51.100.7", "kg_flood".parse::<KeyPrefix>().unwrap());
        let mut real_sent = 0;
        let mut use_real = |client: &str| -> Result<(), Failed> {
            let r = get(
                plain,
                &real,
                &format!("/flood/real/{real_sent}"),
                Some(client),
            );
            real_sent += 1;
            eq(r.status, 200, &format!("the real key from {client}"))
        };
        use_real(&flooder(0))?;
        use_real(bystander)?;
        let (mut invalid, mut throttled) = (0, 0);
        // The budget is per minute of the client's: on a loaded machine the flood may span
        // more than one, and each minute may spend its 20 lookups again.
        let started = Instant::now();
        for i in 0..FLOOD {
            let made_up = ApiKey::generate(&prefix).unwrap();
            let r = get(
                plain,
                made_up.expose_secret(),
                &format!("/flood/fake/{i}"),
                Some(&flooder(i)),
            );
            match (r.status, error_code(&r).as_str()) {
                (401, "invalid_api_key") => invalid += 1,
                (429, "too_many_invalid_keys") => {
                    throttled += 1;
                    let retry: u64 = r
                        .header("retry-after")
                        .and_then(|v| v.parse().ok())
                        .ok_or("no Retry-After")?;
                    check((1..=60).contains(&retry), &format!("Retry-After {retry}"))?;
                }
                other => return Err(format!("made-up key {i}: {other:?}").into()),
            }
            if i % 25 == 0 {
                use_real(&flooder(i))?;
                use_real(bystander)?;
            }
        }
        let minutes = started.elapsed().as_secs() / 60 + 1;
        eq(invalid + throttled, FLOOD, "every made-up key refused")?;
        check(
            invalid >= BUDGET && invalid <= BUDGET * minutes as usize,
            &format!("{invalid} lookups in {minutes} minute(s) of {BUDGET}"),
        )?;
        // The bystander's own made-up key is looked up: it has its own budget.
        let stranger = ApiKey::generate(&prefix).unwrap();
        let r = get(
            plain,
            stranger.expose_secret(),
            "/flood/fake/bystander",
            Some(bystander),
        );
        eq(
            error_code(&r),
            "invalid_api_key".to_owned(),
            "bystander's unknown key",
        )?;
        eq(
            w.origin.seen("/flood/fake/").len(),
            0,
            "origin: made-up keys",
        )?;
        eq(
            w.origin.seen("/flood/real/").len(),
            real_sent,
            "origin: real key",
        )?;
        // What it cost: KV reads within the budget, one log line per client.
        let log = plain
            .log_containing(r#""path":"/flood/fake/bystander""#)
            .ok_or("the last request was not logged")?;
        let kv_reads: u64 = log
            .lines()
            .filter(|l| l.contains(r#""path":"/flood/fake/"#))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["kv_reads"].as_u64().unwrap_or(0))
            .sum();
        eq(
            kv_reads,
            invalid as u64 + 1,
            "KV reads: the lookups plus the bystander's",
        )?;
        let lines = log
            .lines()
            .filter(|l| l.contains(r#""event":"auth_failed""#) && l.contains("kg_flood_"))
            .count();
        check(
            (2..=1 + minutes as usize).contains(&lines),
            &format!("{lines} unknown-key log lines: one per client per minute"),
        )?;
        no_panic(plain)
    }),
];

fn main() -> ExitCode {
    // A dev registry of our own, so the guards' worker is found by name by our fronts only,
    // whatever other `wrangler dev` sessions run on this machine.
    let registry = project_dir()
        .join("target/keygate-tests")
        .join(format!("registry-{}", std::process::id()));
    std::fs::create_dir_all(&registry).unwrap();
    // SAFETY: no other thread runs yet; the variable is read by the wrangler processes spawned
    // below.
    unsafe { std::env::set_var("WRANGLER_REGISTRY_PATH", &registry) };
    // One world after the other: the first is stopped before the second starts.
    let deny = run_cases(World::start("deny"), CASES);
    let allow = run_cases(World::start("allow"), CASES);
    if deny == ExitCode::SUCCESS {
        allow
    } else {
        deny
    }
}
