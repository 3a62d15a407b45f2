//! The verification path end to end: the built worker on workerd (`wrangler dev`, local KV),
//! in front of a recording origin on 127.0.0.1, spoken to over HTTP as a client would.
//!
//! A custom harness (libtest-mimic) starts the runtimes once for all cases and stops them after,
//! even when cases fail.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use keygate::domain::{ApiKey, UnixMillis};
use libtest_mimic::Failed;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, free_port, now_ms, refusal,
    run_cases, send,
};

struct World {
    origin: Origin,
    /// In front of `origin`.
    gateway: Gateway,
    /// In front of a port where nothing listens.
    orphan: Gateway,
    /// Started with an invalid `ORIGIN`.
    misconfigured: Gateway,
    valid: ApiKey,
    valid_id: String,
    expired: ApiKey,
    disabled: ApiKey,
    revoked: ApiKey,
    /// A key of `orphan`.
    orphan_key: ApiKey,
}

impl World {
    fn start() -> World {
        let origin = Origin::start();
        // Spawned together from this thread (see Gateway::spawn), then awaited.
        let mut gateway = Gateway::spawn(GatewayOptions::new(origin.url()));
        let mut orphan = Gateway::spawn(GatewayOptions::new(format!(
            "http://127.0.0.1:{}",
            free_port()
        )));
        let mut misconfigured = Gateway::spawn(GatewayOptions::new("ftp://files.example"));
        for g in [&mut gateway, &mut orphan, &mut misconfigured] {
            g.wait_ready();
        }

        let admin = Admin::operator(&gateway);
        admin.put_org("acme", r#"{"plan":"enterprise"}"#);
        let (valid, valid_id) = admin.create_key(
            "acme",
            r#"{"name":"Valid key","scopes":["write"],"meta":{"tier":"gold"}}"#,
        );
        let (disabled, _) = admin.create_key(
            "acme",
            r#"{"name":"Disabled key","scopes":["read"],"enabled":false}"#,
        );
        let (revoked, revoked_id) =
            admin.create_key("acme", r#"{"name":"Revoked key","scopes":["read"]}"#);
        assert_eq!(
            admin
                .call("DELETE", &format!("/orgs/acme/keys/{revoked_id}"), None)
                .status,
            200
        );
        // The API only accepts future expiries: this one is 1.5 s away, then awaited.
        let soon = UnixMillis(now_ms() + 1_500).to_string();
        let (expired, expired_id) = admin.create_key(
            "acme",
            &format!(r#"{{"name":"Expiring key","scopes":["read"],"expires_at":"{soon}"}}"#),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while admin
            .call("GET", &format!("/orgs/acme/keys/{expired_id}"), None)
            .json()["status"]
            != "expired"
        {
            assert!(Instant::now() < deadline, "key never reported expired");
            std::thread::sleep(Duration::from_millis(100));
        }

        let orphan_admin = Admin::operator(&orphan);
        orphan_admin.put_org("acme", r#"{"plan":"free"}"#);
        let (orphan_key, _) =
            orphan_admin.create_key("acme", r#"{"name":"Orphan key","scopes":["read"]}"#);

        let parse = |k: String| ApiKey::parse(&k).expect("the API issues well-formed keys");
        World {
            origin,
            gateway,
            orphan,
            misconfigured,
            valid: parse(valid),
            valid_id,
            expired: parse(expired),
            disabled: parse(disabled),
            revoked: parse(revoked),
            orphan_key: parse(orphan_key),
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(&self.gateway, "GET", path, headers, None)
    }
}

fn bearer(key: &ApiKey) -> String {
    format!("Bearer {}", key.expose_secret())
}

/// Asserts a keygate refusal (status, JSON code, a message) and its `WWW-Authenticate` challenge.
fn assert_error(reply: &Reply, status: u16, code: &str) -> Result<(), Failed> {
    refusal(reply, status, code)?;
    let challenge = reply.header("www-authenticate");
    match (status, code) {
        (401, "missing_api_key") => check(
            challenge == Some(r#"Bearer realm="keygate""#),
            "missing-key challenge",
        ),
        (401, _) => check(
            challenge
                .is_some_and(|c| c.starts_with(r#"Bearer realm="keygate", error="invalid_token""#)),
            "invalid_token challenge",
        ),
        _ => check(challenge.is_none(), "no challenge outside 401"),
    }
}

const CASES: &[Case<World>] = &[
    ("missing_key_is_401_and_never_reaches_the_origin", |w| {
        let r = w.get("/t/missing", &[]);
        assert_error(&r, 401, "missing_api_key")?;
        eq(w.origin.seen("/t/missing").len(), 0, "origin requests")
    }),
    ("key_in_the_query_string_is_ignored", |w| {
        let path = format!("/t/query?api_key={}", w.valid.expose_secret());
        assert_error(&w.get(&path, &[]), 401, "missing_api_key")?;
        eq(w.origin.seen("/t/query").len(), 0, "origin requests")
    }),
    ("malformed_keys_are_401_without_a_lookup", |w| {
        let valid = w.valid.expose_secret();
        // The last character changed (a key ending in `x` must not stay valid).
        let last = if valid.ends_with('x') { 'y' } else { 'x' };
        let typo = format!("{}{last}", &valid[..valid.len() - 1]);
        let bad = [
            "kg_live_short",
            typo.as_str(),
            "kg_live_ünïcødé0000000000000000000000000000",
            "Bearer",
            "x".repeat(4000).as_str(),
        ]
        .map(str::to_owned);
        for key in &bad {
            assert_error(
                &w.get("/t/malformed", &[("x-api-key", key)]),
                401,
                "malformed_api_key",
            )?;
        }
        assert_error(
            &w.get("/t/malformed", &[("authorization", "Bearer ")]),
            401,
            "malformed_api_key",
        )?;
        eq(w.origin.seen("/t/malformed").len(), 0, "origin requests")
    }),
    ("unknown_key_is_invalid", |w| {
        let stranger = ApiKey::generate(&Default::default()).unwrap();
        assert_error(
            &w.get("/t/unknown", &[("authorization", &bearer(&stranger))]),
            401,
            "invalid_api_key",
        )
    }),
    ("expired_key_is_refused", |w| {
        let r = w.get("/t/expired", &[("authorization", &bearer(&w.expired))]);
        assert_error(&r, 401, "expired_api_key")?;
        eq(
            r.json()["message"].as_str(),
            Some("API key has expired"),
            "message",
        )
    }),
    ("disabled_key_is_refused", |w| {
        assert_error(
            &w.get("/t/disabled", &[("x-api-key", w.disabled.expose_secret())]),
            401,
            "disabled_api_key",
        )
    }),
    ("revoked_key_reads_as_invalid", |w| {
        let r = w.get("/t/revoked", &[("authorization", &bearer(&w.revoked))]);
        assert_error(&r, 401, "invalid_api_key")?;
        eq(
            r.json()["message"].as_str(),
            Some("Invalid API key"),
            "message",
        )?;
        eq(
            w.origin
                .seen("/t/")
                .iter()
                .filter(|s| s.url.starts_with("/t/revoked"))
                .count(),
            0,
            "origin requests",
        )
    }),
    ("two_different_keys_are_a_400", |w| {
        let other = ApiKey::generate(&Default::default()).unwrap();
        let r = w.get(
            "/t/conflict",
            &[
                ("authorization", &bearer(&w.valid)),
                ("x-api-key", other.expose_secret()),
            ],
        );
        assert_error(&r, 400, "conflicting_api_keys")?;
        // The same key in both headers is fine.
        let r = w.get(
            "/t/same",
            &[
                ("authorization", &bearer(&w.valid)),
                ("x-api-key", w.valid.expose_secret()),
            ],
        );
        eq(r.status, 200, "status with the same key twice")
    }),
    ("problem_json_on_request", |w| {
        let r = w.get("/t/problem", &[("accept", "application/problem+json")]);
        eq(r.status, 401, "status")?;
        eq(
            r.header("content-type"),
            Some("application/problem+json"),
            "content-type",
        )?;
        let body = r.json();
        eq(
            body["type"].as_str(),
            Some("urn:keygate:error:missing_api_key"),
            "type",
        )?;
        eq(body["status"].as_u64(), Some(401), "status member")?;
        eq(
            body["error"].as_str(),
            Some("missing_api_key"),
            "error member",
        )
    }),
    ("bearer_request_reaches_the_origin_intact", |w| {
        let path = "/t/bearer/a%20b/c?x=1&y=%C3%A9&empty=";
        let r = w.get(
            path,
            &[
                ("authorization", &bearer(&w.valid)),
                ("x-custom", "kept"),
                ("x-keygate-key-id", "key_forged"),
                ("x-keygate-org", "evil"),
            ],
        );
        eq(r.status, 200, "status")?;
        eq(r.header("x-origin"), Some("demo"), "origin response header")?;
        eq(
            r.json()["origin"].as_str(),
            Some("keygate demo origin"),
            "origin body",
        )?;
        let seen = w.origin.only("/t/bearer/");
        eq(seen.method.as_str(), "GET", "method")?;
        eq(seen.url.as_str(), path, "path and query")?;
        eq(
            seen.header("authorization"),
            None,
            "authorization forwarded",
        )?;
        eq(seen.header("x-custom"), Some("kept"), "custom header")?;
        eq(
            seen.header("x-keygate-key-id"),
            Some(w.valid_id.as_str()),
            "key id header",
        )?;
        eq(seen.header("x-keygate-org"), Some("acme"), "org header")?;
        let secret = w.valid.expose_secret();
        check(
            !seen.headers.iter().any(|(_, v)| v.contains(secret)),
            "the key reached the origin",
        )
    }),
    ("x_api_key_post_body_is_forwarded_byte_for_byte", |w| {
        let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let r = send(
            &w.gateway,
            "POST",
            "/t/post",
            &[
                ("x-api-key", w.valid.expose_secret()),
                ("content-type", "application/octet-stream"),
            ],
            Some(&body),
        );
        eq(r.status, 200, "status")?;
        let seen = w.origin.only("/t/post");
        eq(seen.method.as_str(), "POST", "method")?;
        eq(seen.header("x-api-key"), None, "x-api-key forwarded")?;
        eq(
            seen.header("content-type"),
            Some("application/octet-stream"),
            "content-type",
        )?;
        check(seen.body == body, "body differs")
    }),
    ("one_mebibyte_upload_arrives_whole", |w| {
        let body: Vec<u8> = (0..(1u32 << 20))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let r = send(
            &w.gateway,
            "PUT",
            "/t/upload",
            &[("authorization", &bearer(&w.valid))],
            Some(&body),
        );
        eq(r.status, 200, "status")?;
        eq(
            r.json()["body_bytes"].as_u64(),
            Some(1 << 20),
            "bytes the origin counted",
        )?;
        let seen = w.origin.only("/t/upload");
        eq(seen.method.as_str(), "PUT", "method")?;
        check(seen.body == body, "body differs")
    }),
    ("origin_status_and_redirects_pass_through", |w| {
        let auth = bearer(&w.valid);
        let r = send(
            &w.gateway,
            "DELETE",
            "/status/204/x",
            &[("authorization", &auth)],
            None,
        );
        eq(r.status, 204, "status")?;
        let r = w.get("/status/418/teapot", &[("authorization", &auth)]);
        eq(r.status, 418, "status")?;
        let r = w.get("/redirect/here", &[("authorization", &auth)]);
        eq(r.status, 302, "redirect not followed")?;
        eq(r.header("location"), Some("/elsewhere"), "location")
    }),
    (
        "revoke_and_disable_act_on_the_next_request_despite_caches",
        |w| {
            let admin = Admin::operator(&w.gateway);
            let (key, id) = admin.create_key("acme", r#"{"name":"Short-lived","scopes":["read"]}"#);
            let auth = format!("Bearer {key}");
            // Warm every cache on the way (isolate, KV) with a successful request.
            eq(
                w.get("/t/cached", &[("authorization", &auth)]).status,
                200,
                "before",
            )?;
            let patch = admin.call(
                "PATCH",
                &format!("/orgs/acme/keys/{id}"),
                Some(r#"{"enabled":false}"#),
            );
            eq(patch.status, 200, "disable")?;
            assert_error(
                &w.get("/t/cached", &[("authorization", &auth)]),
                401,
                "disabled_api_key",
            )?;
            admin.call(
                "PATCH",
                &format!("/orgs/acme/keys/{id}"),
                Some(r#"{"enabled":true}"#),
            );
            eq(
                w.get("/t/cached", &[("authorization", &auth)]).status,
                200,
                "enabled again",
            )?;
            eq(
                admin
                    .call("DELETE", &format!("/orgs/acme/keys/{id}"), None)
                    .status,
                200,
                "revoke",
            )?;
            assert_error(
                &w.get("/t/cached", &[("authorization", &auth)]),
                401,
                "invalid_api_key",
            )
        },
    ),
    ("management_prefix_is_never_proxied", |w| {
        let r = w.get(
            "/_keygate/anything",
            &[("authorization", &bearer(&w.valid))],
        );
        eq(r.status, 404, "status")?;
        eq(r.json()["error"].as_str(), Some("not_found"), "code")?;
        eq(w.origin.seen("/_keygate").len(), 0, "origin requests")
    }),
    ("origin_down_is_502", |w| {
        let r = send(
            &w.orphan,
            "GET",
            "/t/down",
            &[("authorization", &bearer(&w.orphan_key))],
            None,
        );
        assert_error(&r, 502, "origin_unavailable")?;
        eq(
            r.json()["message"].as_str(),
            Some("The upstream API is unavailable"),
            "message",
        )
    }),
    ("misconfiguration_is_a_500_naming_the_variable", |w| {
        let r = send(&w.misconfigured, "GET", "/t/config", &[], None);
        eq(r.status, 500, "status")?;
        let body = r.json();
        eq(body["error"].as_str(), Some("configuration_error"), "code")?;
        check(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("ORIGIN")),
            "message names ORIGIN",
        )
    }),
    ("the_log_never_contains_a_key", |w| {
        let _ = w.get("/t/log", &[("authorization", &bearer(&w.valid))]);
        let Some(log) = w.gateway.log_containing(r#""path":"/t/log""#) else {
            return Err("request not logged".into());
        };
        let secret = &w.valid.expose_secret()[8..];
        check(!log.contains(secret), "a key appears in the log")
    }),
    (
        "a_changed_key_reaches_the_origin_changed_on_the_next_request",
        |w| {
            // The first request caches the record in the isolate; after the PATCH that copy is
            // stale, so the guard sends its current record, and the cache is refreshed with it.
            let admin = Admin::operator(&w.gateway);
            let (key, id) = admin.create_key(
                "acme",
                r#"{"name":"Changing key","scopes":["read"],"meta":{"v":1}}"#,
            );
            let meta_seen = |path: &str| -> Result<Option<String>, Failed> {
                eq(w.get(path, &[("x-api-key", &key)]).status, 200, path)?;
                Ok(w.origin
                    .only(path)
                    .header("x-keygate-meta")
                    .map(str::to_owned))
            };
            eq(
                meta_seen("/t/changing/1")?,
                Some(r#"{"v":1}"#.into()),
                "before",
            )?;
            let patch = admin.call(
                "PATCH",
                &format!("/orgs/acme/keys/{id}"),
                Some(r#"{"meta":{"v":2},"scopes":["read","write"]}"#),
            );
            eq(patch.status, 200, "patch")?;
            for path in ["/t/changing/2", "/t/changing/3"] {
                eq(meta_seen(path)?, Some(r#"{"v":2}"#.into()), path)?;
                eq(
                    w.origin.only(path).header("x-keygate-scopes"),
                    Some("read,write"),
                    path,
                )?;
            }
            Ok(())
        },
    ),
    ("the_log_line_counts_what_a_request_cost", |w| {
        // A key no isolate has seen: its first request reads KV once, the others are served
        // from the isolate cache. The first asks the key's guard, which writes its counters and
        // lends nothing beyond the request (no rate known yet). The second asks again, and the
        // guard lends a lease sized from that rate: written before it counts. The third is
        // admitted under that lease: no call, no write. The first success of a key in an hour
        // is also told to its catalog for the audit trail (after the answer): one object request.
        let (key, _) = Admin::operator(&w.gateway)
            .create_key("acme", r#"{"name":"Cost key","scopes":["read"]}"#);
        for path in ["/t/cost/first", "/t/cost/second", "/t/cost/third"] {
            eq(w.get(path, &[("x-api-key", &key)]).status, 200, path)?;
        }
        let _ = w.get("/t/cost/malformed", &[("x-api-key", "kg_live_nope")]);
        let cost = |path: &str| -> Result<serde_json::Value, Failed> {
            let needle = format!(r#""path":"{path}""#);
            let log = w
                .gateway
                .log_containing(&needle)
                .ok_or("request not logged")?;
            let line = log
                .lines()
                .find(|l| l.contains(&needle))
                .unwrap_or_default();
            let line: serde_json::Value = serde_json::from_str(line)?;
            Ok(serde_json::json!([
                line["kv_reads"],
                line["do_requests"],
                line["rows_written"]
            ]))
        };
        eq(
            cost("/t/cost/first")?,
            serde_json::json!([1, 2, 1]),
            "first request",
        )?;
        eq(
            cost("/t/cost/second")?,
            serde_json::json!([0, 1, 1]),
            "second request",
        )?;
        eq(
            cost("/t/cost/third")?,
            serde_json::json!([0, 0, 0]),
            "third request",
        )?;
        eq(
            cost("/t/cost/malformed")?,
            serde_json::json!([0, 0, 0]),
            "malformed key",
        )?;
        // Management lines carry no cost fields: the catalog's work is not counted.
        let log = w.gateway.log();
        let admin_line = log
            .lines()
            .find(|l| l.contains(r#""path":"/_keygate/v1/orgs/acme/keys""#))
            .unwrap_or_default();
        check(
            !admin_line.is_empty() && !admin_line.contains("kv_reads"),
            &format!("management line: {admin_line}"),
        )
    }),
];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
