//! Hostile and broken input on workerd: oversized and countless headers, invalid UTF-8 and
//! control bytes in keys, path tricks aimed at the management routes, bad management bodies.
//! Every case must end in a clear 4xx (or pass intact) and change nothing. Faults of the
//! origin and the runtime are in `faults.rs`.

use std::process::ExitCode;

use libtest_mimic::Failed;
use support::{
    ADMIN_TOKEN, Admin, Case, Gateway, GatewayOptions, Origin, check, eq, no_panic, run_cases,
    send, send_raw,
};

struct World {
    origin: Origin,
    gateway: Gateway,
    key: String,
}

impl World {
    fn start() -> World {
        let origin = Origin::start();
        let gateway = Gateway::start(GatewayOptions::new(origin.url()));
        let admin = Admin::operator(&gateway);
        admin.put_org("hostile", r#"{"plan":"enterprise"}"#);
        let (key, _) = admin.create_key("hostile", r#"{"name":"Target","scopes":["read"]}"#);
        World {
            origin,
            gateway,
            key,
        }
    }

    fn raw(&self, request_line: &str, headers: &str) -> (u16, String) {
        let raw =
            format!("{request_line}\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
        send_raw(&self.gateway, raw.as_bytes())
    }
}

fn client_error(status: u16, what: &str) -> Result<(), Failed> {
    check(
        (400..500).contains(&status),
        &format!("{what}: status {status} is not a 4xx"),
    )
}

const CASES: &[Case<World>] = &[
    (
        "dot_segments_never_reach_the_management_routes_without_auth",
        |w| {
            for path in [
                "/api/../_keygate/v1/orgs/hostile/keys",
                "/x/%2e%2e/_keygate/v1/orgs/hostile/keys",
                "/./_keygate/v1/orgs/hostile/keys",
                "//_keygate/v1/orgs/hostile/keys",
            ] {
                let (status, body) = w.raw(&format!("GET {path} HTTP/1.1"), "");
                client_error(status, path)?;
                check(
                    !body.contains("kg_live_"),
                    &format!("{path} leaked a key listing"),
                )?;
            }
            // With a valid API key that is not admin-scoped, traversal gains nothing either.
            let (status, body) = w.raw(
                "POST /api/../_keygate/v1/orgs/hostile/keys/revoke-all HTTP/1.1",
                &format!("Authorization: Bearer {}\r\nContent-Length: 0\r\n", w.key),
            );
            client_error(status, "revoke-all with a read key")?;
            check(!body.contains("\"revoked\""), "revoke-all ran")?;
            eq(
                send(
                    &w.gateway,
                    "GET",
                    "/api/check",
                    &[("authorization", &format!("Bearer {}", w.key))],
                    None,
                )
                .status,
                200,
                "the key still works",
            )?;
            eq(
                w.origin.seen("/_keygate").len(),
                0,
                "management paths reached the origin",
            )
        },
    ),
    (
        "huge_and_countless_headers_pass_intact_or_get_a_clear_4xx",
        |w| {
            // keygate adds no header limit below the platform's: what the runtime accepts reaches
            // the origin intact, and the origin's own verdict (such as 431) comes back.
            let huge = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
            let (status, _) = w.raw(
                "GET /api/big HTTP/1.1",
                &format!("Authorization: Bearer {}\r\n{huge}", w.key),
            );
            check(
                status != 0 && status < 500,
                &format!("a 64 KiB header: {status}"),
            )?;
            if status == 200 {
                let seen = w.origin.only("/api/big");
                eq(
                    seen.header("x-big").map(str::len),
                    Some(64 * 1024),
                    "the header arrived whole",
                )?;
                eq(seen.header("authorization"), None, "the key was removed")?;
            }
            let many: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
            let (status, _) = w.raw(
                "GET /api/many HTTP/1.1",
                &format!("Authorization: Bearer {}\r\n{many}", w.key),
            );
            check(
                status != 0 && status < 500,
                &format!("10 000 headers: {status}"),
            )?;
            if status == 200 {
                let seen = w.origin.only("/api/many");
                eq(
                    seen.headers
                        .iter()
                        .filter(|(n, _)| n.starts_with("x-h"))
                        .count(),
                    10_000,
                    "every header arrived",
                )?;
            }
            // A huge key is refused by its format alone.
            let long_key = format!("kg_live_{}", "A".repeat(60 * 1024));
            let (status, body) = w.raw(
                "GET /api/longkey HTTP/1.1",
                &format!("X-API-Key: {long_key}\r\n"),
            );
            eq(status, 401, "a 60 KiB key")?;
            check(body.contains("malformed_api_key"), "malformed")?;
            eq(w.origin.seen("/api/longkey").len(), 0, "origin requests")
        },
    ),
    (
        "invalid_utf8_and_control_bytes_in_keys_are_malformed",
        |w| {
            let mut raw =
                b"GET /api/utf8 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: kg_live_".to_vec();
            raw.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
            raw.extend_from_slice(
                b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\nConnection: close\r\n\r\n",
            );
            let (status, body) = send_raw(&w.gateway, &raw);
            client_error(status, "invalid UTF-8")?;
            check(
                status != 401 || body.contains("malformed_api_key"),
                &format!("invalid UTF-8: {body}"),
            )?;
            let (status, _) = w.raw(
                "GET /api/ctl HTTP/1.1",
                "X-API-Key: kg_live_\u{1}\u{7f}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n",
            );
            client_error(status, "control bytes")?;
            let (status, _) = w.raw(
                "GET /api/nul%00/x HTTP/1.1",
                &format!("Authorization: Bearer {}\r\n", w.key),
            );
            check(
                status != 0 && status < 500,
                &format!("a NUL in the path: {status}"),
            )?;
            // A NUL inside a real key, and after it: never a key that works.
            for (at, header) in [(10, "X-API-Key"), (w.key.len(), "Authorization: Bearer")] {
                let mut raw = format!(
                    "GET /api/nulkey HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}{} ",
                    if header.ends_with("Key") { ":" } else { "" }
                )
                .into_bytes();
                raw.extend_from_slice(&w.key.as_bytes()[..at]);
                raw.push(0);
                raw.extend_from_slice(&w.key.as_bytes()[at..]);
                raw.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
                let (status, _) = send_raw(&w.gateway, &raw);
                client_error(status, &format!("a NUL in {header}"))?;
            }
            eq(
                w.origin.seen("/api/utf8").len()
                    + w.origin.seen("/api/ctl").len()
                    + w.origin.seen("/api/nulkey").len(),
                0,
                "origin requests",
            )
        },
    ),
    ("bad_management_bodies_change_nothing", |w| {
        let admin = Admin::operator(&w.gateway);
        let before = admin.call("GET", "/orgs/hostile/keys", None).json();
        for body in [
            "{\"name\":\"abc\",\"scopes\":[\"read\"],\"meta\":{\"a\":\"\u{0}\"}",
            "\u{feff}{}",
            "{\"name\":\"\\ud800\",\"scopes\":[\"read\"]}",
            "{\"name\":\"abc\",\"scopes\":[\"read\"],\"enabled\":null,\"enabled\":true}",
        ] {
            let r = admin.call("POST", "/orgs/hostile/keys", Some(body));
            client_error(r.status, body)?;
        }
        eq(
            admin.call("GET", "/orgs/hostile/keys", None).json(),
            before,
            "keys unchanged",
        )
    }),
    ("chunked_management_bodies_are_capped_while_read", |_| {
        // On workerd through Miniflare's API: wrangler dev's proxy answers the request *after*
        // one whose body the worker left unread with its own 503 ("Your worker restarted
        // mid-request"), an artifact of its pooled connection that Cloudflare does not have.
        let gateway =
            Gateway::start_miniflare("keygate", GatewayOptions::new("http://127.0.0.1:9"));
        let admin = Admin::operator(&gateway);
        admin.put_org("chunked", r#"{"plan":"enterprise"}"#);
        // No Content-Length: the body's size is known only by reading it.
        let chunked = |name: &str, size: usize| {
            let mut json = format!(r#"{{"name":"{name}","scopes":["read"]}}"#).into_bytes();
            json.resize(size, b' ');
            let mut raw = format!(
                "POST /_keygate/v1/orgs/chunked/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            .into_bytes();
            for chunk in json.chunks(16 * 1024) {
                raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                raw.extend_from_slice(chunk);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            send_raw(&gateway, &raw)
        };
        for (name, size) in [("Chunked 1 MiB", 1 << 20), ("Chunked over", 64 * 1024 + 1)] {
            let (status, body) = chunked(name, size);
            eq(status, 400, name)?;
            check(
                body.contains("Request body must be at most 64 KiB"),
                &format!("{name}: {body}"),
            )?;
        }
        let (status, body) = chunked("Chunked at the cap", 64 * 1024);
        eq(status, 201, &format!("exactly 64 KiB, chunked: {body}"))?;
        let names: Vec<String> = admin.call("GET", "/orgs/chunked/keys", None).json()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["name"].as_str().map(str::to_owned))
            .collect();
        eq(
            names,
            vec!["Chunked at the cap".to_owned()],
            "only the body within the cap made a key",
        )?;
        no_panic(&gateway)
    }),
    ("failed_admin_logins_are_throttled_per_client", |w| {
        // Cloudflare sets CF-Connecting-IP; locally the client's own value passes.
        let (attacker, bystander) = ("203.0.113.9", "198.51.100.4");
        let call = |token: &str, ip: &str| {
            Admin::bearer(&w.gateway, token).call_with(
                "GET",
                "/orgs/hostile",
                None,
                &[("cf-connecting-ip", ip)],
            )
        };
        for i in 0..10 {
            eq(
                call(&format!("guess-{i}"), attacker).status,
                401,
                "a wrong token",
            )?;
        }
        let r = call(ADMIN_TOKEN, attacker);
        eq(
            r.status,
            429,
            "the right token after 10 failures in a minute",
        )?;
        let body = r.json();
        eq(
            body["error"].as_str(),
            Some("too_many_failed_attempts"),
            "code",
        )?;
        let wait = body["retryAfter"].as_u64().unwrap_or(0);
        check((1..=60).contains(&wait), &format!("retryAfter {wait}"))?;
        eq(
            r.header("retry-after"),
            Some(wait.to_string().as_str()),
            "Retry-After",
        )?;
        eq(call(ADMIN_TOKEN, bystander).status, 200, "another client")?;
        for _ in 0..3 {
            eq(call("guess", attacker).status, 429, "still shut out")?;
        }
        eq(
            send(
                &w.gateway,
                "GET",
                "/_keygate/health",
                &[("cf-connecting-ip", attacker)],
                None,
            )
            .status,
            200,
            "health needs no credential",
        )?;
        let log = w
            .gateway
            .log_containing("admin_auth_throttled")
            .ok_or("the burst was not logged")?;
        let lines = log
            .lines()
            .filter(|l| l.contains("admin_auth_throttled") && l.contains(attacker))
            .count();
        eq(lines, 1, "the burst is logged once")?;
        // One host holds a whole IPv6 /64: rotating through it is still one client.
        let host = |i: u32| format!("2001:db8:44:7::{:x}", i + 1);
        for i in 0..10 {
            eq(
                call(&format!("v6-guess-{i}"), &host(i)).status,
                401,
                "a wrong token",
            )?;
        }
        eq(
            call(ADMIN_TOKEN, &host(99)).status,
            429,
            "the same /64, a new address",
        )?;
        eq(
            call(ADMIN_TOKEN, "2001:db8:44:8::1").status,
            200,
            "the next /64",
        )?;
        // A key-shaped guess refused for the made-up-key budget counts as a failure too.
        let prefix: keygate::domain::KeyPrefix = "kg_live".parse().unwrap();
        let guesser = "192.0.2.55";
        let mut refusals = Vec::new();
        for _ in 0..40 {
            let guess = keygate::domain::ApiKey::generate(&prefix).unwrap();
            refusals.push(call(guess.expose_secret(), guesser).status);
        }
        check(
            refusals.iter().all(|s| matches!(s, 401 | 429))
                && refusals.iter().filter(|s| **s == 401).count() <= 10,
            &format!("key-shaped guesses: {refusals:?}"),
        )?;
        let r = call(ADMIN_TOKEN, guesser);
        eq(
            r.json()["error"].as_str(),
            Some("too_many_failed_attempts"),
            "the right token after key-shaped guesses",
        )
    }),
];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
