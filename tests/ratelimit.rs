//! Rate limits and usage on workerd: exact counts under concurrency, the 429 and the headers
//! (parsed as structured fields), switching limits off, counters shared across rotation and
//! kept across a restart of `wrangler dev`, usage, and plan defaults.

use std::process::ExitCode;
use std::sync::Mutex;

use libtest_mimic::Failed;
use serde_json::Value;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, fan_out, now_ms, run_cases,
    send,
};

struct World {
    origin: Origin,
    gateway: Gateway,
    /// Restarted by one case; the lock keeps that case alone with it.
    restartable: Mutex<Gateway>,
}

impl World {
    fn start() -> World {
        let origin = Origin::start();
        let mut gateway = Gateway::spawn(GatewayOptions::new(origin.url()));
        let mut restartable = Gateway::spawn(GatewayOptions::new(origin.url()));
        gateway.wait_ready();
        restartable.wait_ready();
        World {
            origin,
            gateway,
            restartable: Mutex::new(restartable),
        }
    }
}

fn key(gateway: &Gateway, org: &str, plan: &str, body: &str) -> (String, String) {
    let admin = Admin::operator(gateway);
    admin.put_org(org, &format!(r#"{{"plan":"{plan}"}}"#));
    admin.create_key(org, body)
}

fn get(gateway: &Gateway, key: &str, path: &str) -> Reply {
    send(
        gateway,
        "GET",
        path,
        &[("authorization", &format!("Bearer {key}"))],
        None,
    )
}

/// An RFC 9651 list of string items with integer parameters: `"name";a=1;b=2, ...`.
/// One member of a structured-field list: its string item and integer parameters.
type Member = (String, Vec<(String, i64)>);

fn structured(field: &str) -> Result<Vec<Member>, Failed> {
    field
        .split(',')
        .map(|member| {
            let mut parts = member.trim().split(';');
            let item = parts.next().unwrap_or_default();
            let name = item
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .ok_or_else(|| format!("not a string item: {item:?}"))?;
            let params = parts
                .map(|p| {
                    let (k, v) = p
                        .split_once('=')
                        .ok_or_else(|| format!("bad parameter {p:?}"))?;
                    let v: i64 = v.parse().map_err(|_| format!("not an integer: {v:?}"))?;
                    check(k.bytes().all(|b| b.is_ascii_lowercase()), "parameter key")?;
                    Ok((k.to_owned(), v))
                })
                .collect::<Result<Vec<_>, Failed>>()?;
            Ok((name.to_owned(), params))
        })
        .collect()
}

fn param(item: &Member, key: &str) -> Option<i64> {
    item.1.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

const CASES: &[Case<World>] = &[
    (
        "exactly_the_limit_is_admitted_under_50_concurrent_clients",
        |w| {
            let (k, id) = key(
                &w.gateway,
                "rl-a",
                "enterprise",
                r#"{"name":"Hundred","scopes":["read"],"rate_limits":[{"name":"minute","limit":100,"window_seconds":60}]}"#,
            );
            let statuses = fan_out(50, 10, |c, i| {
                get(&w.gateway, &k, &format!("/rl-a/{c}/{i}")).status
            });
            let admitted = statuses.iter().filter(|&&s| s == 200).count();
            let limited = statuses.iter().filter(|&&s| s == 429).count();
            if (admitted, limited) != (100, 400) {
                let path = format!("/orgs/rl-a/keys/{id}/usage");
                let usage = Admin::operator(&w.gateway).call("GET", &path, None).json();
                let seen = w.origin.seen("/rl-a/").len();
                let mut others: Vec<u16> = statuses
                    .iter()
                    .copied()
                    .filter(|s| ![200, 429].contains(s))
                    .collect();
                others.dedup();
                return Err(format!(
                    "admitted {admitted}, limited {limited} of 500 (others: {others:?}); origin saw {seen}; guard: total {} refused {}",
                    usage["requests_total"], usage["refused"]
                )
                .into());
            }
            eq(
                w.origin.seen("/rl-a/").len(),
                100,
                "requests the origin saw",
            )
        },
    ),
    (
        "the_429_and_the_headers_follow_the_seeds_and_the_draft",
        |w| {
            let (k, _) = key(
                &w.gateway,
                "rl-b",
                "enterprise",
                r#"{"name":"Two windows","scopes":["read"],"rate_limits":[{"name":"minute","limit":3,"window_seconds":60},{"name":"day","limit":100000,"window_seconds":86400}]}"#,
            );
            let first = get(&w.gateway, &k, "/rl-b");
            eq(first.status, 200, "first")?;
            eq(
                first.header("x-ratelimit-limit"),
                Some("3"),
                "limit of the tightest window",
            )?;
            eq(
                first.header("x-ratelimit-remaining"),
                Some("2"),
                "remaining",
            )?;
            let reset: u64 = first.header("x-ratelimit-reset").unwrap_or("0").parse()?;
            let now = now_ms() / 1000;
            check(
                reset > now && reset <= now + 62,
                "reset is a Unix time within the minute",
            )?;
            eq(
                first.header("ratelimit-policy"),
                Some(r#""minute";q=3;w=60, "day";q=100000;w=86400"#),
                "RateLimit-Policy",
            )?;
            let state = structured(first.header("ratelimit").ok_or("no RateLimit")?)?;
            eq(
                state.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(),
                vec!["minute", "day"],
                "RateLimit items",
            )?;
            eq(
                (param(&state[0], "r"), param(&state[1], "r")),
                (Some(2), Some(99_999)),
                "r",
            )?;
            check(
                param(&state[0], "t").is_some_and(|t| (1..=61).contains(&t)),
                "t",
            )?;
            get(&w.gateway, &k, "/rl-b");
            get(&w.gateway, &k, "/rl-b");
            let refused = get(&w.gateway, &k, "/rl-b");
            eq(refused.status, 429, "fourth")?;
            let body = refused.json();
            eq(body["error"].as_str(), Some("rate_limit_exceeded"), "error")?;
            eq(
                body["message"].as_str(),
                Some("Too many requests"),
                "message",
            )?;
            let retry = body["retryAfter"].as_u64().ok_or("no retryAfter")?;
            check((1..=61).contains(&retry), "retryAfter within the minute")?;
            eq(
                refused.header("retry-after"),
                Some(retry.to_string().as_str()),
                "Retry-After",
            )?;
            eq(
                refused.header("x-ratelimit-remaining"),
                Some("0"),
                "remaining on 429",
            )?;
            let state = structured(refused.header("ratelimit").ok_or("no RateLimit on 429")?)?;
            eq(param(&state[0], "r"), Some(0), "r on 429")?;
            eq(
                param(&state[1], "r"),
                Some(99_997),
                "the refusal counted in no window",
            )
        },
    ),
    ("limits_can_be_switched_off", |w| {
        let (k, _) = key(
            &w.gateway,
            "rl-c",
            "free",
            r#"{"name":"Unlimited","scopes":["read"],"rate_limits":[],"rate_limiting":false}"#,
        );
        for i in 0..30 {
            let r = get(&w.gateway, &k, "/rl-c");
            eq(
                r.status,
                200,
                &format!("request {i} (the free plan's burst is 20/s)"),
            )?;
            eq(
                r.header("x-ratelimit-limit"),
                None,
                "no headers without limits",
            )?;
        }
        Ok(())
    }),
    ("keys_without_limits_get_their_plan_defaults", |w| {
        let (k, _) = key(
            &w.gateway,
            "rl-d",
            "free",
            r#"{"name":"Defaults","scopes":["read"]}"#,
        );
        let r = get(&w.gateway, &k, "/rl-d");
        eq(
            r.header("ratelimit-policy"),
            Some(r#""burst";q=20;w=1, "minute";q=60;w=60, "day";q=10000;w=86400"#),
            "Starter tier",
        )?;
        Admin::operator(&w.gateway).put_org("rl-d", r#"{"plan":"pro"}"#);
        let r = get(&w.gateway, &k, "/rl-d");
        eq(
            r.header("ratelimit-policy"),
            Some(r#""burst";q=50;w=1, "minute";q=300;w=60, "day";q=100000;w=86400"#),
            "after the plan change",
        )?;
        let state = structured(r.header("ratelimit").ok_or("no RateLimit")?)?;
        eq(
            param(&state[1], "r"),
            Some(298),
            "counts kept across the plan change",
        )
    }),
    ("a_rotated_key_keeps_its_counters", |w| {
        let (old, id) = key(
            &w.gateway,
            "rl-e",
            "enterprise",
            r#"{"name":"Rotating","scopes":["read"],"rate_limits":[{"name":"minute","limit":5,"window_seconds":60}]}"#,
        );
        for _ in 0..3 {
            eq(
                get(&w.gateway, &old, "/rl-e").status,
                200,
                "before rotation",
            )?;
        }
        let rotated = Admin::operator(&w.gateway)
            .call("POST", &format!("/orgs/rl-e/keys/{id}/rotate"), None)
            .json();
        let new = rotated["key"].as_str().ok_or("no key")?.to_owned();
        let r = get(&w.gateway, &new, "/rl-e");
        eq(
            (r.status, r.header("x-ratelimit-remaining")),
            (200, Some("1")),
            "new secret, same counters",
        )?;
        eq(
            get(&w.gateway, &old, "/rl-e").status,
            200,
            "old secret in its grace period",
        )?;
        eq(
            get(&w.gateway, &new, "/rl-e").status,
            429,
            "the shared limit is reached",
        )
    }),
    ("counters_survive_a_restart_of_wrangler_dev", |w| {
        let mut gateway = w.restartable.lock().unwrap();
        let (k, _) = key(
            &gateway,
            "rl-f",
            "enterprise",
            r#"{"name":"Persistent","scopes":["read"],"rate_limits":[{"name":"minute","limit":4,"window_seconds":60}]}"#,
        );
        for _ in 0..4 {
            eq(get(&gateway, &k, "/rl-f").status, 200, "before restart")?;
        }
        let state_dir = gateway.state_dir.clone();
        gateway.stop();
        *gateway = Gateway::start(GatewayOptions::new(w.origin.url()).state_dir(state_dir));
        let r = get(&gateway, &k, "/rl-f");
        eq(r.status, 429, "after restart the window is still full")?;
        let usage = Admin::operator(&gateway)
            .call("GET", "/orgs/rl-f/keys", None)
            .json();
        eq(
            usage["keys"].as_array().map(Vec::len),
            Some(1),
            "the key survived too",
        )
    }),
    ("usage_counts_admitted_and_refused_requests", |w| {
        let (k, id) = key(
            &w.gateway,
            "rl-g",
            "enterprise",
            r#"{"name":"Counted","scopes":["read"],"rate_limits":[{"name":"minute","limit":3,"window_seconds":60}]}"#,
        );
        for i in 0..5 {
            get(&w.gateway, &k, &format!("/rl-g/item/{i}?secret=not-logged"));
        }
        let usage =
            Admin::operator(&w.gateway).call("GET", &format!("/orgs/rl-g/keys/{id}/usage"), None);
        eq(usage.status, 200, "usage")?;
        let u = usage.json();
        eq(
            (
                u["requests_total"].as_u64(),
                u["requests_24h"].as_u64(),
                u["requests_7d"].as_u64(),
            ),
            (Some(3), Some(3), Some(3)),
            "admitted",
        )?;
        eq(
            u["refused"]["rate_limit_exceeded"].as_u64(),
            Some(2),
            "refused by reason",
        )?;
        check(u["last_used_at"].is_string(), "last_used_at")?;
        let recent = u["recent"].as_array().ok_or("no recent")?;
        eq(recent.len(), 5, "recent events")?;
        eq(
            recent[0]["path"].as_str(),
            Some("/rl-g/item/4"),
            "newest first, no query",
        )?;
        eq(
            recent[0]["outcome"].as_str(),
            Some("rate_limit_exceeded"),
            "outcome",
        )?;
        eq(
            recent[4]["outcome"].as_str(),
            Some("admitted"),
            "oldest admitted",
        )?;
        eq(recent[4]["method"].as_str(), Some("GET"), "method")?;
        eq(
            (recent[0]["status"].as_u64(), recent[4]["status"].clone()),
            (Some(429), Value::Null),
            "status",
        )?;
        let missing =
            Admin::operator(&w.gateway).call("GET", "/orgs/rl-g/keys/key_nope/usage", None);
        eq(
            missing.json()["error"].clone(),
            Value::from("key_not_found"),
            "unknown key",
        )
    }),
    ("listings_show_last_use_and_request_counts", |w| {
        let (k, id) = key(
            &w.gateway,
            "rl-h",
            "enterprise",
            r#"{"name":"Listed","scopes":["read"]}"#,
        );
        let admin = Admin::operator(&w.gateway);
        let before = admin
            .call("GET", &format!("/orgs/rl-h/keys/{id}"), None)
            .json();
        eq(
            (
                before["last_used_at"].clone(),
                before["requests_total"].as_u64(),
            ),
            (Value::Null, Some(0)),
            "unused",
        )?;
        for _ in 0..3 {
            get(&w.gateway, &k, "/rl-h");
        }
        // Requests admitted under an isolate's lease reach the guard when the lease is given
        // back: at the latest when it ends, REVOCATION_BOUND_MS (1 s) after it was granted.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let listed = loop {
            let listed = admin.call("GET", "/orgs/rl-h/keys", None).json();
            let total = listed["keys"][0]["requests_total"].as_u64();
            if total == Some(3) || std::time::Instant::now() > deadline {
                break listed;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let entry = &listed["keys"][0];
        eq(
            entry["requests_total"].as_u64(),
            Some(3),
            "requests_total in the listing within the lease period",
        )?;
        check(
            entry["last_used_at"].is_string(),
            "last_used_at in the listing",
        )
    }),
    (
        "authentication_failures_are_audited_at_most_once_a_minute",
        |w| {
            let (k, id) = key(
                &w.gateway,
                "rl-i",
                "enterprise",
                r#"{"name":"Failing","scopes":["read"]}"#,
            );
            let admin = Admin::operator(&w.gateway);
            eq(get(&w.gateway, &k, "/rl-i").status, 200, "works first")?;
            admin.call(
                "PATCH",
                &format!("/orgs/rl-i/keys/{id}"),
                Some(r#"{"enabled":false}"#),
            );
            for _ in 0..5 {
                eq(get(&w.gateway, &k, "/rl-i").status, 401, "disabled")?;
            }
            eq(
                admin
                    .call("DELETE", &format!("/orgs/rl-i/keys/{id}"), None)
                    .status,
                200,
                "revoke",
            )?;
            for _ in 0..5 {
                eq(get(&w.gateway, &k, "/rl-i").status, 401, "revoked")?;
            }
            let audit = admin
                .call(
                    "GET",
                    &format!("/orgs/rl-i/audit?type=auth_failed&key_id={id}"),
                    None,
                )
                .json();
            let events = audit["events"].as_array().ok_or("no events")?;
            let reasons: Vec<&str> = events
                .iter()
                .filter_map(|e| e["details"]["reason"].as_str())
                .collect();
            eq(
                reasons,
                vec!["invalid_api_key", "disabled_api_key"],
                "one event per reason, newest first",
            )?;
            eq(
                events[0]["details"]["start"].as_str(),
                Some(format!("{}…", &k[..12]).as_str()),
                "the presented key's prefix",
            )?;
            let log = w.gateway.log();
            check(!log.contains(&k[12..]), "the key reached the log")
        },
    ),
];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
