//! The seed products' promises that keygate once could not express (issue 16), each tested on
//! workerd from the seed's own example: the request it shows, the answer it promises. One
//! gateway per product, configured as docs/configuration.md's table says:
//!
//! - **Z8**: write means create + update, an operation that needs two scopes, limits of at most
//!   10 000 requests per window of 1 s to 1 h, keys `z8_…`;
//! - **Zero Trust Analytics**: a write key "cannot manage sites, invite team members", keys
//!   `zta_live_…`;
//! - **Zenovay**: "You need a Pro plan or higher to create and use API keys", keys `zv_…`.

use std::process::ExitCode;

use libtest_mimic::Failed;
use serde_json::{Value, json};
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, refusal, run_cases, send,
    send_with_key,
};

/// Z8: time entries (write = create + update), and a report that reads employees too.
const Z8_POLICY: &str = r#"{"default":"deny","write":["create","update"],"rules":[
  {"method":["GET","POST"],"path":"/api/time-entries","resource":"time_entries"},
  {"method":["GET","PATCH","DELETE"],"path":"/api/time-entries/:id","resource":"time_entries"},
  {"method":"GET","path":"/api/employees","resource":"employees"},
  {"method":"GET","path":"/api/reports/hours-by-employee","resource":"reports","requires":["reports:read","employees:read"]}
]}"#;
const Z8_BOUNDS: &str = r#"{"max_limit":10000,"min_window_seconds":1,"max_window_seconds":3600}"#;

/// Zero Trust Analytics: plain read / write / admin keys; sites and team are admin's.
const ZTA_POLICY: &str = r#"{"default":"deny","rules":[
  {"method":"GET","path":"/api/stats","resource":"stats","ids":{"site":"query:siteId"}},
  {"method":"POST","path":"/api/track","resource":"events"},
  {"method":["GET","POST"],"path":"/api/goals","resource":"goals"},
  {"method":"GET","path":"/api/sites","resource":"sites"},
  {"method":["POST","DELETE"],"path":"/api/sites","resource":"sites","requires":"admin"},
  {"method":"POST","path":"/api/team/invite","resource":"team","requires":"admin"}
]}"#;

/// Zenovay: the read-only External API; Free teams have no API access.
const ZENOVAY_POLICY: &str = r#"{"default":"deny","rules":[
  {"method":"GET","path":"/api/external/v1/websites","resource":"websites"},
  {"method":"GET","path":"/api/external/v1/usage","resource":"usage","requires":"admin"}
]}"#;
const ZENOVAY_PLANS: &str = r#"{"free":{"api_access":false}}"#;

/// Zenovay's answer when the plan has no API access, in keygate's words.
const PLAN_REQUIRED: &str = "This organization's plan does not include API access. Upgrade to a plan with API access to create and use API keys.";

struct World {
    origin: Origin,
    z8: Gateway,
    zta: Gateway,
    zenovay: Gateway,
}

impl World {
    fn start() -> World {
        let origin = Origin::start();
        let options = |prefix: &str, policy: &str| {
            GatewayOptions::new(origin.url())
                .var("KEY_PREFIX", prefix)
                .var("POLICY", policy.replace('\n', ""))
        };
        let mut z8 = Gateway::spawn(options("z8", Z8_POLICY).var("RATE_LIMIT_BOUNDS", Z8_BOUNDS));
        let mut zta = Gateway::spawn(options("zta_live", ZTA_POLICY));
        let mut zenovay = Gateway::spawn(options("zv", ZENOVAY_POLICY).var("PLANS", ZENOVAY_PLANS));
        for gateway in [&mut z8, &mut zta, &mut zenovay] {
            gateway.wait_ready();
        }
        World {
            origin,
            z8,
            zta,
            zenovay,
        }
    }
}

/// A key of a new organization `org` on `plan` in `gateway`: `(key, id)`.
fn key_of(gateway: &Gateway, org: &str, plan: &str, body: &str) -> (String, String) {
    let admin = Admin::operator(gateway);
    admin.put_org(org, &format!(r#"{{"plan":"{plan}"}}"#));
    admin.create_key(org, body)
}

/// `reply` is the 403 `insufficient_scope` naming `missing`, with `message`.
fn lacks(reply: &Reply, missing: &[&str], message: &str) -> Result<(), Failed> {
    eq(
        refusal(reply, 403, "insufficient_scope")?.as_str(),
        message,
        "message",
    )?;
    eq(
        reply.json()["missing_scopes"].clone(),
        json!(missing),
        "missing_scopes",
    )
}

/// How many requests under `path` the origin received.
fn reached(w: &World, path: &str) -> usize {
    w.origin.seen(path).len()
}

const CASES: &[Case<World>] = support::cases![
    z8_write_creates_and_updates_time_entries_but_does_not_delete,
    z8_an_operation_that_needs_two_scopes_names_the_missing_one,
    z8_limits_keep_to_10000_requests_per_window_of_1_second_to_1_hour,
    z8_the_policy_view_shows_what_write_includes_and_what_rules_require,
    zta_a_write_key_cannot_manage_sites_or_invite_team_members,
    zenovay_free_teams_cannot_create_or_use_api_keys,
];

fn z8_write_creates_and_updates_time_entries_but_does_not_delete(w: &World) -> Result<(), Failed> {
    let (key, _) = key_of(
        &w.z8,
        "z8-entries",
        "pro",
        r#"{"name":"Time tracking","scopes":["time_entries:read","time_entries:write"]}"#,
    );
    check(key.starts_with("z8_"), &format!("a Z8 key: {key}"))?;
    // The seed's "Example: Create Time Entry".
    let entry = br#"{"employeeId":"emp_123","startTime":"2026-01-15T09:00:00Z","endTime":"2026-01-15T17:00:00Z"}"#;
    let json_body = [("content-type", "application/json")];
    let created = send_with_key(
        &w.z8,
        &key,
        "POST",
        "/api/time-entries",
        &json_body,
        Some(entry),
    );
    eq(created.status, 200, "create")?;
    let seen = w.origin.only("/api/time-entries");
    eq(
        (seen.method.as_str(), seen.body.as_slice()),
        ("POST", &entry[..]),
        "the origin got the entry",
    )?;
    let updated = send_with_key(
        &w.z8,
        &key,
        "PATCH",
        "/api/time-entries/1",
        &json_body,
        Some(br#"{"endTime":"2026-01-15T18:00:00Z"}"#),
    );
    eq(updated.status, 200, "update")?;
    let deleted = send_with_key(&w.z8, &key, "DELETE", "/api/time-entries/1", &[], None);
    lacks(
        &deleted,
        &["time_entries:delete"],
        "Insufficient permissions. This key needs the time_entries:delete scope.",
    )?;
    eq(
        deleted.header("www-authenticate"),
        Some(r#"Bearer realm="keygate", error="insufficient_scope", scope="time_entries:delete""#),
        "challenge",
    )?;
    eq(reached(w, "/api/time-entries/1"), 1, "the PATCH only")?;
    // Plain write means the same; a scope that names delete still deletes.
    let (plain, _) = key_of(
        &w.z8,
        "z8-plain",
        "pro",
        r#"{"name":"Plain write","scopes":["write"]}"#,
    );
    let plain_delete = send_with_key(&w.z8, &plain, "DELETE", "/api/time-entries/2", &[], None);
    lacks(
        &plain_delete,
        &["time_entries:delete"],
        "Insufficient permissions. This key needs the time_entries:delete scope.",
    )?;
    let (deleter, _) = key_of(
        &w.z8,
        "z8-deleter",
        "pro",
        r#"{"name":"Cleanup","scopes":["time_entries:delete"]}"#,
    );
    let r = send_with_key(&w.z8, &deleter, "DELETE", "/api/time-entries/3", &[], None);
    eq(r.status, 200, "time_entries:delete deletes")?;
    eq(
        (
            reached(w, "/api/time-entries/2"),
            reached(w, "/api/time-entries/3"),
        ),
        (0, 1),
        "only the permitted delete reached the origin",
    )
}

fn z8_an_operation_that_needs_two_scopes_names_the_missing_one(w: &World) -> Result<(), Failed> {
    let path = "/api/reports/hours-by-employee";
    let (reports, _) = key_of(
        &w.z8,
        "z8-reports",
        "pro",
        r#"{"name":"Reporting Integration","scopes":["reports:read"]}"#,
    );
    let r = send_with_key(&w.z8, &reports, "GET", path, &[], None);
    lacks(
        &r,
        &["employees:read"],
        "Insufficient permissions. This request needs the scopes reports:read, employees:read; this key lacks employees:read.",
    )?;
    eq(
        r.header("www-authenticate"),
        Some(
            r#"Bearer realm="keygate", error="insufficient_scope", scope="reports:read employees:read""#,
        ),
        "challenge lists both",
    )?;
    let (neither, _) = key_of(
        &w.z8,
        "z8-neither",
        "pro",
        r#"{"name":"Time only","scopes":["time_entries:read"]}"#,
    );
    let r = send_with_key(&w.z8, &neither, "GET", path, &[], None);
    eq(
        r.json()["missing_scopes"].clone(),
        json!(["reports:read", "employees:read"]),
        "both missing",
    )?;
    eq(reached(w, path), 0, "nothing reached the origin")?;
    let (both, _) = key_of(
        &w.z8,
        "z8-both",
        "pro",
        r#"{"name":"Dashboard","scopes":["reports:read","employees:read"]}"#,
    );
    eq(
        send_with_key(&w.z8, &both, "GET", path, &[], None).status,
        200,
        "both scopes",
    )?;
    eq(
        reached(w, path),
        1,
        "the permitted request reached the origin",
    )
}

fn z8_limits_keep_to_10000_requests_per_window_of_1_second_to_1_hour(
    w: &World,
) -> Result<(), Failed> {
    let admin = Admin::operator(&w.z8);
    admin.put_org("z8-limits", r#"{"plan":"enterprise"}"#);
    let create = |windows: &str| {
        admin.call(
            "POST",
            "/orgs/z8-limits/keys",
            Some(&format!(
                r#"{{"name":"Reporting Integration","scopes":["reports:read"],"rate_limits":{windows}}}"#
            )),
        )
    };
    let cases = [
        (
            r#"[{"name":"window","limit":10001,"window_seconds":60}]"#,
            "rate_limits[0].limit must be at most 10000",
        ),
        (
            r#"[{"name":"minute","limit":100,"window_seconds":60},{"name":"day","limit":1000,"window_seconds":86400}]"#,
            "rate_limits[1].window_seconds must be from 1 to 3600",
        ),
    ];
    for (windows, message) in cases {
        let r = create(windows);
        eq(
            refusal(&r, 400, "invalid_request")?.as_str(),
            message,
            "even for the operator",
        )?;
    }
    eq(
        admin.call("GET", "/orgs/z8-limits", None).json()["key_count"].as_u64(),
        Some(0),
        "nothing created",
    )?;
    // The seed's default: 100 requests per minute; the largest allowed: 10 000 per hour.
    let r = create(r#"[{"name":"minute","limit":100,"window_seconds":60}]"#);
    eq(r.status, 201, "within the bounds")?;
    let path = format!(
        "/orgs/z8-limits/keys/{}",
        r.json()["id"].as_str().unwrap_or_default()
    );
    let r = admin.call(
        "PATCH",
        &path,
        Some(r#"{"rate_limits":[{"name":"hour","limit":10000,"window_seconds":3600}]}"#),
    );
    eq(r.status, 200, "the largest limit and window")?;
    let r = admin.call(
        "PATCH",
        &path,
        Some(r#"{"rate_limits":[{"name":"hour","limit":10001,"window_seconds":3600}]}"#),
    );
    eq(
        refusal(&r, 400, "invalid_request")?.as_str(),
        "rate_limits[0].limit must be at most 10000",
        "PATCH too",
    )?;
    eq(
        admin.call("GET", &path, None).json()["rate_limits"].clone(),
        json!([{"name": "hour", "limit": 10000, "window_seconds": 3600}]),
        "the refused PATCH changed nothing",
    )
}

fn z8_the_policy_view_shows_what_write_includes_and_what_rules_require(
    w: &World,
) -> Result<(), Failed> {
    let view = Admin::operator(&w.z8).call("GET", "/policy", None);
    eq(view.status, 200, "status")?;
    let view = view.json();
    eq(view["write"].clone(), json!(["create", "update"]), "write")?;
    let report = view["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["resource"] == "reports"))
        .cloned()
        .unwrap_or(Value::Null);
    eq(
        report["requires"].clone(),
        json!(["reports:read", "employees:read"]),
        "the report's scopes",
    )?;
    let employees = view["resources"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["name"] == "employees"))
        .cloned()
        .unwrap_or(Value::Null);
    eq(employees["actions"].clone(), json!(["read"]), "employees")
}

fn zta_a_write_key_cannot_manage_sites_or_invite_team_members(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.zta);
    admin.put_org("zta-acme", r#"{"plan":"pro"}"#);
    // The seed's "Write Key: For sending tracking data".
    let (write, _) = admin.create_key(
        "zta-acme",
        r#"{"name":"Backend Tracking","scopes":["write"]}"#,
    );
    let (full, _) = admin.create_key("zta-acme", r#"{"name":"Admin Script","scopes":["admin"]}"#);
    check(
        write.starts_with("zta_live_"),
        &format!("a ZTA key: {write}"),
    )?;
    let body = [("content-type", "application/json")];
    // Can: everything in read, send pageviews and events, create goals and funnels.
    for (method, path, payload) in [
        ("GET", "/api/stats?siteId=site_abc123&period=7d", None),
        ("POST", "/api/track", Some(&br#"{"type":"pageview"}"#[..])),
        ("POST", "/api/goals", Some(&br#"{"name":"Signup"}"#[..])),
        ("GET", "/api/sites", None),
    ] {
        let r = send_with_key(&w.zta, &write, method, path, &body, payload);
        eq(r.status, 200, &format!("write key: {method} {path}"))?;
    }
    // Cannot: manage sites, invite team members.
    for (method, path) in [
        ("POST", "/api/sites"),
        ("DELETE", "/api/sites"),
        ("POST", "/api/team/invite"),
    ] {
        let r = send_with_key(&w.zta, &write, method, path, &body, Some(b"{}"));
        lacks(
            &r,
            &["admin"],
            "Insufficient permissions. This key needs the admin scope.",
        )?;
    }
    eq(
        reached(w, "/api/team"),
        0,
        "no refused request reached the origin",
    )?;
    eq(
        w.origin
            .seen("/api/sites")
            .iter()
            .filter(|s| s.method != "GET")
            .count(),
        0,
        "no site changed",
    )?;
    // Admin: "Can do everything a user can do via the API."
    for (method, path) in [("POST", "/api/sites"), ("POST", "/api/team/invite")] {
        let r = send_with_key(&w.zta, &full, method, path, &body, Some(b"{}"));
        eq(r.status, 200, &format!("admin key: {method} {path}"))?;
    }
    eq(reached(w, "/api/team/invite"), 1, "the admin's invitation")
}

fn zenovay_free_teams_cannot_create_or_use_api_keys(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.zenovay);
    let team = admin.put_org("zv-free", r#"{"plan":"free"}"#);
    eq(
        team["api_access"].as_bool(),
        Some(false),
        "a free team's access",
    )?;
    // Step 2 of the seed: the create form, for a Free team.
    let r = admin.call(
        "POST",
        "/orgs/zv-free/keys",
        Some(r#"{"name":"Production Integration","scopes":["read"]}"#),
    );
    eq(
        refusal(&r, 403, "api_plan_required")?.as_str(),
        PLAN_REQUIRED,
        "creation refused",
    )?;
    let listed = admin.call("GET", "/orgs/zv-free/keys", None).json();
    eq(listed["keys"].clone(), json!([]), "nothing created")?;
    // A Pro team's key works (the seed's cURL example, with X-API-Key)…
    let pro = admin.put_org("zv-pro", r#"{"plan":"pro"}"#);
    eq(
        pro["api_access"].as_bool(),
        Some(true),
        "a pro team's access",
    )?;
    let (key, _) = admin.create_key("zv-pro", r#"{"name":"Production","scopes":["read"]}"#);
    check(key.starts_with("zv_"), &format!("a Zenovay key: {key}"))?;
    let websites = |key: &str| {
        send(
            &w.zenovay,
            "GET",
            "/api/external/v1/websites",
            &[("x-api-key", key)],
            None,
        )
    };
    eq(websites(&key).status, 200, "on pro")?;
    // …until the team moves to Free: its existing key is refused from the next request.
    let moved = admin.put_org("zv-pro", r#"{"plan":"free"}"#);
    eq(
        moved["api_access"].as_bool(),
        Some(false),
        "the free plan's access",
    )?;
    let before = reached(w, "/api/external/v1/websites");
    let r = websites(&key);
    eq(
        refusal(&r, 403, "api_plan_required")?.as_str(),
        PLAN_REQUIRED,
        "existing key refused",
    )?;
    eq(
        reached(w, "/api/external/v1/websites"),
        before,
        "nothing reached the origin",
    )?;
    // "Upgrade your workspace, then create a key."
    admin.put_org("zv-pro", r#"{"plan":"business"}"#);
    eq(websites(&key).status, 200, "upgraded")?;
    // Zenovay's Admin scope: admin-only endpoints.
    let usage = send(
        &w.zenovay,
        "GET",
        "/api/external/v1/usage",
        &[("x-api-key", &key)],
        None,
    );
    lacks(
        &usage,
        &["admin"],
        "Insufficient permissions. This key needs the admin scope.",
    )
}

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
