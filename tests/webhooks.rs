//! Webhooks end to end on workerd, with the recording origin as the receiver on 127.0.0.1:
//! expiry notices on a schedule (Durable Object alarms), `key.expired` at the instant, retries
//! with the same id, a restart between tries, a revoked key's notices not sent, the signature
//! checked by docs/webhooks.md's own snippet, and the management routes.

use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use keygate::domain::UnixMillis;
use libtest_mimic::Failed;
use serde_json::Value;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Seen, check, eq, now_ms, refusal, run_cases,
};

/// Retries come fast here: the plan's shape, not its waits, is under test.
const RETRY_DELAYS_MS: &str = "1500,1500,1500";

struct World {
    origin: Origin,
    gateway: Gateway,
}

impl World {
    /// An organization with one endpoint for `events` at `path`; returns the admin, the
    /// endpoint's id and its secret.
    fn hooked(&self, org: &str, path: &str, events: &[&str]) -> (Admin<'_>, String, String) {
        let admin = Admin::operator(&self.gateway);
        admin.put_org(org, r#"{"plan":"enterprise"}"#);
        let body = serde_json::json!({"url": self.origin.url() + path, "events": events});
        let r = admin.call(
            "POST",
            &format!("/orgs/{org}/webhooks"),
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let v = r.json();
        (
            admin,
            v["id"].as_str().unwrap().to_owned(),
            v["secret"].as_str().unwrap().to_owned(),
        )
    }
}

/// A key of `org` expiring `ms` from now; returns its id.
/// The owner of the keys made by [`key_expiring_in`]: whom a receiver tells (Z Shield mails the
/// key's creator at 30, 14 and 7 days).
const OWNER: &str = "creator@example.com";

fn key_expiring_in(admin: &Admin<'_>, org: &str, name: &str, ms: u64) -> String {
    let at = UnixMillis(now_ms() + ms);
    let body =
        format!(r#"{{"name":"{name}","scopes":["read"],"expires_at":"{at}","owner":"{OWNER}"}}"#);
    admin.create_key(org, &body).1
}

/// Waits up to `secs` for `want` deliveries under `path`, then returns what arrived.
fn deliveries(origin: &Origin, path: &str, want: usize, secs: u64) -> Vec<Seen> {
    let start = Instant::now();
    loop {
        let seen = origin.seen(path);
        if seen.len() >= want || start.elapsed() > Duration::from_secs(secs) {
            return seen;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn body(seen: &Seen) -> Value {
    serde_json::from_slice(&seen.body).expect("a JSON delivery")
}

const DAY: u64 = 86_400_000;

const CASES: &[Case<World>] = support::cases![
    endpoints_are_created_listed_changed_and_deleted,
    each_expiry_notice_arrives_once,
    a_key_expires_on_time_without_being_used,
    a_revoked_key_sends_no_pending_notice,
    a_failing_receiver_gets_the_event_again_with_the_same_id,
    the_signature_verifies_with_the_readme_snippet,
    a_restart_between_tries_still_delivers,
    a_rate_limit_is_sent_once_per_window_and_successes_are_audited,
    a_rotation_audits_both_masks,
    an_endpoint_that_never_answers_2xx_is_marked_failing,
    a_disabled_endpoint_gets_no_more_tries,
];

fn endpoints_are_created_listed_changed_and_deleted(w: &World) -> Result<(), Failed> {
    let (admin, id, secret) = w.hooked("wh-api", "/hooks/api", &["key.revoked"]);
    check(
        secret.starts_with("whsec_"),
        "the secret is shown as whsec_…",
    )?;
    let list = admin.call("GET", "/orgs/wh-api/webhooks", None).json();
    eq(
        list["webhooks"][0]["id"].as_str(),
        Some(id.as_str()),
        "listed",
    )?;
    check(
        list["webhooks"][0].get("secret").is_none(),
        "a list never shows the secret",
    )?;
    let path = format!("/orgs/wh-api/webhooks/{id}");
    let changed = admin.call(
        "PATCH",
        &path,
        Some(r#"{"events":["key.revoked","key.disabled"],"enabled":false}"#),
    );
    eq(changed.status, 200, "patch")?;
    eq(changed.json()["enabled"].as_bool(), Some(false), "paused")?;
    let rotated = admin
        .call("POST", &format!("{path}/rotate-secret"), None)
        .json();
    check(
        rotated["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_") && s != secret),
        "a rotation shows a new secret",
    )?;
    for (body, field) in [
        (r#"{"url":"ftp://x/","events":["key.revoked"]}"#, "url"),
        (
            r#"{"url":"https://x/","events":["key.exploded"]}"#,
            "key.exploded",
        ),
        (r#"{"url":"https://x/","events":[]}"#, "events"),
        (r#"{"url":"https://x/"}"#, "events"),
    ] {
        let message = refusal(
            &admin.call("POST", "/orgs/wh-api/webhooks", Some(body)),
            400,
            "invalid_request",
        )?;
        check(message.contains(field), &format!("{body}: {message}"))?;
    }
    eq(
        admin.call("GET", "/orgs/wh-api/webhooks", None).json()["webhooks"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "a refused body adds nothing",
    )?;
    refusal(
        &admin.call("GET", "/orgs/wh-api/webhooks/wh_nothere", None),
        404,
        "webhook_not_found",
    )?;
    refusal(
        &admin.call("PUT", &path, Some("{}")),
        405,
        "method_not_allowed",
    )?;
    eq(admin.call("DELETE", &path, None).status, 200, "delete")?;
    let kinds: Vec<String> = admin.call("GET", "/orgs/wh-api/audit", None).json()["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["type"].as_str())
                .filter(|t| t.starts_with("webhook_"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    eq(
        kinds,
        [
            "webhook_deleted",
            "webhook_secret_rotated",
            "webhook_updated",
            "webhook_created",
        ]
        .map(str::to_owned)
        .to_vec(),
        "every change is audited",
    )?;
    refusal(&admin.call("GET", &path, None), 404, "webhook_not_found")?;
    Ok(())
}

fn each_expiry_notice_arrives_once(w: &World) -> Result<(), Failed> {
    let (admin, _, _) = w.hooked("wh-notice", "/hooks/notice", &["key.expiring"]);
    let mut keys = Vec::new();
    for days in [30, 14, 7] {
        let id = key_expiring_in(
            &admin,
            "wh-notice",
            &format!("Due in {days}"),
            days * DAY + 3_000,
        );
        keys.push((id, days));
    }
    let seen = deliveries(&w.origin, "/hooks/notice", 3, 20);
    eq(seen.len(), 3, "one notice per key")?;
    for (id, days) in &keys {
        let mine: Vec<Value> = seen
            .iter()
            .map(body)
            .filter(|b| b["data"]["key_id"] == id.as_str())
            .collect();
        eq(mine.len(), 1, &format!("notices of the {days}-day key"))?;
        eq(mine[0]["type"].as_str(), Some("key.expiring"), "type")?;
        eq(
            mine[0]["data"]["days_left"].as_u64(),
            Some(*days),
            "days_left",
        )?;
        eq(
            mine[0]["data"]["owner"].as_str(),
            Some(OWNER),
            "whom to tell",
        )?;
    }
    // Later alarms must not send them again.
    thread::sleep(Duration::from_secs(3));
    eq(
        w.origin.seen("/hooks/notice").len(),
        3,
        "notices after 3 s more",
    )?;
    let audit = admin
        .call("GET", "/orgs/wh-notice/audit?type=key_expiring", None)
        .json();
    eq(
        audit["events"].as_array().map(Vec::len),
        Some(3),
        "key_expiring audit events",
    )?;
    Ok(())
}

fn a_key_expires_on_time_without_being_used(w: &World) -> Result<(), Failed> {
    let (admin, _, _) = w.hooked("wh-expired", "/hooks/expired", &["key.expired"]);
    let id = key_expiring_in(&admin, "wh-expired", "Short lived", 3_000);
    let seen = deliveries(&w.origin, "/hooks/expired", 1, 15);
    eq(seen.len(), 1, "key.expired deliveries")?;
    let delivered = body(&seen[0]);
    eq(delivered["type"].as_str(), Some("key.expired"), "type")?;
    eq(
        delivered["data"]["key_id"].as_str(),
        Some(id.as_str()),
        "key",
    )?;
    eq(delivered["data"]["owner"].as_str(), Some(OWNER), "owner")?;
    let audit = admin
        .call("GET", "/orgs/wh-expired/audit?type=key_expired", None)
        .json();
    eq(
        audit["events"][0]["key_id"].as_str(),
        Some(id.as_str()),
        "audited at expiry",
    )?;
    Ok(())
}

fn a_revoked_key_sends_no_pending_notice(w: &World) -> Result<(), Failed> {
    let (admin, _, _) = w.hooked(
        "wh-revoked",
        "/hooks/revoked",
        &["key.expired", "key.revoked"],
    );
    let id = key_expiring_in(&admin, "wh-revoked", "Revoked soon", 3_000);
    eq(
        admin
            .call("DELETE", &format!("/orgs/wh-revoked/keys/{id}"), None)
            .status,
        200,
        "revoke",
    )?;
    thread::sleep(Duration::from_secs(6));
    let kinds: Vec<String> = w
        .origin
        .seen("/hooks/revoked")
        .iter()
        .map(|s| body(s)["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    eq(kinds, vec!["key.revoked".to_owned()], "deliveries")?;
    Ok(())
}

fn a_failing_receiver_gets_the_event_again_with_the_same_id(w: &World) -> Result<(), Failed> {
    let (admin, id, _) = w.hooked("wh-retry", "/flaky/2/hooks/retry", &["key.revoked"]);
    let r = admin.call("POST", &format!("/orgs/wh-retry/webhooks/{id}/test"), None);
    eq(r.status, 202, "test queued")?;
    let event_id = r.json()["event_id"].as_str().unwrap().to_owned();
    let seen = deliveries(&w.origin, "/flaky/2/hooks/retry", 3, 20);
    eq(seen.len(), 3, "tries")?;
    for s in &seen {
        eq(
            s.header("webhook-id"),
            Some(event_id.as_str()),
            "the same id on every try",
        )?;
        eq(body(s)["type"].as_str(), Some("webhook.test"), "type")?;
    }
    thread::sleep(Duration::from_secs(2));
    eq(
        w.origin.seen("/flaky/2/hooks/retry").len(),
        3,
        "no try after the 2xx",
    )?;
    let log = admin
        .call(
            "GET",
            &format!("/orgs/wh-retry/webhooks/{id}/deliveries"),
            None,
        )
        .json();
    let last = &log["deliveries"][0];
    eq(last["status"].as_str(), Some("delivered"), "status")?;
    eq(last["attempts"].as_u64(), Some(3), "attempts")?;
    eq(last["last_status"].as_u64(), Some(200), "last status")?;
    Ok(())
}

fn the_signature_verifies_with_the_readme_snippet(w: &World) -> Result<(), Failed> {
    let (admin, id, secret) = w.hooked("wh-sign", "/hooks/sign", &["key.revoked"]);
    admin.call("POST", &format!("/orgs/wh-sign/webhooks/{id}/test"), None);
    let seen = deliveries(&w.origin, "/hooks/sign", 1, 15);
    eq(seen.len(), 1, "deliveries")?;
    let readme = std::fs::read_to_string(support::project_dir().join("docs/webhooks.md"))?;
    let snippet = readme
        .split("<!-- webhook-verify -->")
        .nth(1)
        .and_then(|after| after.split("```js").nth(1))
        .and_then(|code| code.split("```").next())
        .ok_or("docs/webhooks.md has no ```js block after <!-- webhook-verify -->")?;
    let headers: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| {
                (
                    (*h).to_owned(),
                    seen[0].header(h).unwrap_or_default().into(),
                )
            })
            .collect();
    let text = String::from_utf8(seen[0].body.clone())?;
    let run = |secret: &str, body: &str| -> Result<String, Failed> {
        let script = format!(
            "{snippet}\nconst input = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n\
             console.log(verifyWebhook(input.secret, input.headers, input.body) ? 'valid' : 'invalid');\n"
        );
        let mut child = Command::new("node")
            .args(["--input-type=commonjs", "-e", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = serde_json::json!({"secret": secret, "headers": headers, "body": body});
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes())?;
        let out = child.wait_with_output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    eq(
        run(&secret, &text)?,
        "valid".to_owned(),
        "the delivery as received",
    )?;
    eq(
        run(&secret, &text.replace("webhook.test", "key.revoked"))?,
        "invalid".to_owned(),
        "a changed body",
    )?;
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    eq(run(other, &text)?, "invalid".to_owned(), "another secret")?;
    Ok(())
}

fn a_restart_between_tries_still_delivers(w: &World) -> Result<(), Failed> {
    // Its own runtime, so that stopping it leaves the other cases' alone.
    let mut gateway =
        Gateway::start(GatewayOptions::new(w.origin.url()).var("WEBHOOK_RETRY_DELAYS_MS", "4000"));
    let admin = Admin::operator(&gateway);
    admin.put_org("wh-restart", r#"{"plan":"enterprise"}"#);
    let url = w.origin.url() + "/flaky/1/hooks/restart";
    let body = serde_json::json!({"url": url, "events": ["key.revoked"]}).to_string();
    let id = admin
        .call("POST", "/orgs/wh-restart/webhooks", Some(&body))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    admin.call(
        "POST",
        &format!("/orgs/wh-restart/webhooks/{id}/test"),
        None,
    );
    eq(
        deliveries(&w.origin, "/flaky/1/hooks/restart", 1, 15).len(),
        1,
        "first try",
    )?;
    let (state_dir, port) = (gateway.state_dir.clone(), gateway.port);
    gateway.stop();
    let gateway = Gateway::start(
        GatewayOptions::new(w.origin.url())
            .var("WEBHOOK_RETRY_DELAYS_MS", "4000")
            .state_dir(state_dir)
            .port(port),
    );
    let seen = deliveries(&w.origin, "/flaky/1/hooks/restart", 2, 20);
    eq(seen.len(), 2, "tries across the restart")?;
    eq(
        seen[1].header("webhook-id"),
        seen[0].header("webhook-id"),
        "same id",
    )?;
    drop(gateway);
    Ok(())
}

fn a_rate_limit_is_sent_once_per_window_and_successes_are_audited(w: &World) -> Result<(), Failed> {
    let (admin, _, _) = w.hooked("wh-limit", "/hooks/limit", &["key.rate_limited"]);
    let (key, id) = admin.create_key(
        "wh-limit",
        r#"{"name":"Two a minute","scopes":["read"],"rate_limits":[{"name":"minute","limit":2,"window_seconds":60}]}"#,
    );
    let statuses: Vec<u16> = (0..5)
        .map(|_| support::send_with_key(&w.gateway, &key, "GET", "/api/ping", &[], None).status)
        .collect();
    eq(statuses, vec![200, 200, 429, 429, 429], "statuses")?;
    let seen = deliveries(&w.origin, "/hooks/limit", 1, 15);
    thread::sleep(Duration::from_secs(2));
    eq(
        w.origin.seen("/hooks/limit").len(),
        1,
        "one key.rate_limited for three 429s",
    )?;
    let delivered = body(&seen[0]);
    eq(
        delivered["data"]["key_id"].as_str(),
        Some(id.as_str()),
        "key",
    )?;
    eq(
        delivered["data"]["window"]["window"].as_str(),
        Some("minute"),
        "window",
    )?;
    let count = |kind: &str| {
        admin
            .call("GET", &format!("/orgs/wh-limit/audit?type={kind}"), None)
            .json()["events"]
            .as_array()
            .map_or(0, Vec::len)
    };
    eq(
        count("key_rate_limited"),
        1,
        "key_rate_limited audit events",
    )?;
    eq(
        count("auth_succeeded"),
        1,
        "auth_succeeded audit events (once an hour)",
    )?;
    Ok(())
}

fn a_rotation_audits_both_masks(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    admin.put_org("wh-rotate", r#"{"plan":"enterprise"}"#);
    let (_, id) = admin.create_key("wh-rotate", r#"{"name":"Rotated","scopes":["read"]}"#);
    let before = admin
        .call("GET", &format!("/orgs/wh-rotate/keys/{id}"), None)
        .json();
    let after = admin
        .call("POST", &format!("/orgs/wh-rotate/keys/{id}/rotate"), None)
        .json();
    let audit = admin
        .call("GET", "/orgs/wh-rotate/audit?type=key_rotated", None)
        .json();
    let details = &audit["events"][0]["details"];
    eq(&details["old_start"], &before["start"], "old mask")?;
    eq(&details["new_start"], &after["start"], "new mask")?;
    check(
        details["previous_secret_valid_until"].is_string(),
        "when the old secret stops",
    )?;
    Ok(())
}

fn an_endpoint_that_never_answers_2xx_is_marked_failing(w: &World) -> Result<(), Failed> {
    let (admin, id, _) = w.hooked("wh-failing", "/status/503/hooks/failing", &["key.revoked"]);
    admin.call(
        "POST",
        &format!("/orgs/wh-failing/webhooks/{id}/test"),
        None,
    );
    // One try and three retries 1.5 s apart.
    let seen = deliveries(&w.origin, "/status/503/hooks/failing", 4, 20);
    eq(seen.len(), 4, "tries")?;
    thread::sleep(Duration::from_secs(1));
    let endpoint = admin
        .call("GET", &format!("/orgs/wh-failing/webhooks/{id}"), None)
        .json();
    eq(endpoint["failing"].as_bool(), Some(true), "marked failing")?;
    let log = admin
        .call(
            "GET",
            &format!("/orgs/wh-failing/webhooks/{id}/deliveries"),
            None,
        )
        .json();
    eq(
        log["deliveries"][0]["status"].as_str(),
        Some("given_up"),
        "status",
    )?;
    eq(
        log["deliveries"][0]["last_status"].as_u64(),
        Some(503),
        "last status",
    )?;
    let audit = admin
        .call("GET", "/orgs/wh-failing/audit?type=webhook_failing", None)
        .json();
    eq(
        audit["events"][0]["details"]["webhook_id"].as_str(),
        Some(id.as_str()),
        "webhook_failing audit event",
    )?;
    let resumed = admin.call(
        "PATCH",
        &format!("/orgs/wh-failing/webhooks/{id}"),
        Some(r#"{"enabled":true}"#),
    );
    eq(
        resumed.json()["failing"].as_bool(),
        Some(false),
        "enabling clears failing",
    )?;
    Ok(())
}

fn a_disabled_endpoint_gets_no_more_tries(w: &World) -> Result<(), Failed> {
    let (admin, id, _) = w.hooked("wh-off", "/status/500/hooks/off", &["key.revoked"]);
    admin.call("POST", &format!("/orgs/wh-off/webhooks/{id}/test"), None);
    eq(
        deliveries(&w.origin, "/status/500/hooks/off", 1, 15).len(),
        1,
        "first try",
    )?;
    let off = admin.call(
        "PATCH",
        &format!("/orgs/wh-off/webhooks/{id}"),
        Some(r#"{"enabled":false}"#),
    );
    eq(off.status, 200, "disable")?;
    thread::sleep(Duration::from_secs(4));
    eq(
        w.origin.seen("/status/500/hooks/off").len(),
        1,
        "tries after disabling",
    )?;
    Ok(())
}

fn main() -> ExitCode {
    let origin = Origin::start();
    let gateway = Gateway::start(
        GatewayOptions::new(origin.url()).var("WEBHOOK_RETRY_DELAYS_MS", RETRY_DELAYS_MS),
    );
    run_cases(World { origin, gateway }, CASES)
}
