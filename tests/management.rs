//! The management API end to end on workerd: every route, every error, concurrency, the audit
//! log, and its effect on the verification path. Every response is also checked against the
//! served OpenAPI document (see `support::Admin`). Each case uses its own organization.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use keygate::domain::{ApiKey, KeyHash, UnixMillis};
use libtest_mimic::Failed;
use serde_json::Value;
use support::{
    ADMIN_TOKEN, Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, now_ms, refusal,
    run_cases, send,
};

struct World {
    _origin: Origin,
    gateway: Gateway,
}

impl World {
    fn admin(&self) -> Admin<'_> {
        Admin::operator(&self.gateway)
    }

    /// A request through the gateway with `key`; returns the status.
    fn use_key(&self, key: &str) -> u16 {
        let auth = format!("Bearer {key}");
        send(
            &self.gateway,
            "GET",
            "/api/ping",
            &[("authorization", &auth)],
            None,
        )
        .status
    }

    fn org(&self, org: &str, plan: &str) -> Admin<'_> {
        let admin = self.admin();
        admin.put_org(org, &format!(r#"{{"plan":"{plan}"}}"#));
        admin
    }
}

/// A key's view without what use changes (last use, request count).
fn settings(reply: &Reply) -> Value {
    let mut view = reply.json();
    if let Some(o) = view.as_object_mut() {
        o.remove("last_used_at");
        o.remove("requests_total");
    }
    view
}

/// Every case, in the order they run.
const CASES: &[Case<World>] = support::cases![
    organizations_are_created_updated_and_read,
    keys_are_created_read_and_listed_masked,
    every_invalid_body_is_a_400_naming_the_field_and_writes_nothing,
    patch_changes_settings_but_never_expiry,
    rotation_keeps_the_id_and_the_old_secret_for_the_grace_period,
    org_admins_cannot_set_what_only_the_operator_may,
    a_lowered_plan_leaves_existing_keys_as_they_are,
    revoke_is_immediate_and_permanent,
    revoke_all_revokes_every_key,
    the_key_limit_holds_under_20_parallel_creates,
    who_may_call_the_management_api,
    unknown_routes_and_wrong_methods,
    the_audit_log_filters_and_pages,
    organizations_are_listed_for_the_admin_token_only,
    keys_are_filtered_sorted_and_paged,
    expiry_is_audited_once_when_first_seen,
    usage_over_time_counts_admitted_and_refused_requests,
    the_openapi_document_covers_every_route,
    no_secret_or_hash_reaches_the_log,
];

fn organizations_are_created_updated_and_read(w: &World) -> Result<(), Failed> {
    let admin = w.admin();
    refusal(
        &admin.call("GET", "/orgs/org-a", None),
        404,
        "org_not_found",
    )?;
    let m = refusal(
        &admin.call("PUT", "/orgs/org-a", Some("{}")),
        400,
        "invalid_request",
    )?;
    check(m.contains("plan is required"), "names plan")?;
    let m = refusal(
        &admin.call("PUT", "/orgs/org-a", Some(r#"{"plan":"gold"}"#)),
        400,
        "invalid_request",
    )?;
    check(m.starts_with("Invalid plan"), &m)?;
    let created = admin.call("PUT", "/orgs/org-a", Some(r#"{"plan":"free"}"#));
    eq(created.status, 201, "create")?;
    eq(created.json()["key_limit"].as_u64(), Some(2), "free limit")?;
    let updated = admin.call(
        "PUT",
        "/orgs/org-a",
        Some(r#"{"plan":"pro","api_access":true}"#),
    );
    eq(updated.status, 200, "update")?;
    let org = admin.call("GET", "/orgs/org-a", None).json();
    eq(org["plan"].as_str(), Some("pro"), "plan")?;
    eq(org["key_limit"].as_u64(), Some(10), "pro limit")?;
    eq(
        org["default_rate_limits"].clone(),
        serde_json::json!([
            {"name": "burst", "limit": 50, "window_seconds": 1},
            {"name": "minute", "limit": 300, "window_seconds": 60},
            {"name": "day", "limit": 100000, "window_seconds": 86400}
        ]),
        "the plan's windows",
    )?;
    refusal(
        &admin.call("GET", "/orgs/Org-A", None),
        400,
        "invalid_request",
    )?;
    let events = admin.call("GET", "/orgs/org-a/audit", None).json();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    eq(kinds, vec!["org_updated", "org_created"], "audit")
}

fn keys_are_created_read_and_listed_masked(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-b", "business");
    refusal(
        &admin.call(
            "POST",
            "/orgs/nobody/keys",
            Some(r#"{"name":"abc","scopes":["read"]}"#),
        ),
        404,
        "org_not_found",
    )?;
    let r = admin.call("POST", "/orgs/org-b/keys", Some(r#"{"name":"Zürich 報告 key","scopes":["read","employees:read"],"expires_in_days":30,"meta":{"team":"data"}}"#));
    eq(r.status, 201, "create")?;
    let created = r.json();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    check(ApiKey::parse(&key).is_ok(), "the key is well formed")?;
    eq(
        created["name"].as_str(),
        Some("Zürich 報告 key"),
        "unicode name kept",
    )?;
    eq(created["created_by"].as_str(), Some("admin"), "created_by")?;
    let expires = UnixMillis::parse_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.0 - now_ms()) as f64 / UnixMillis::DAY as f64;
    check((29.9..30.1).contains(&days), "expires in 30 days")?;
    eq(w.use_key(&key), 200, "the new key works at once")?;
    let got = admin.call("GET", &format!("/orgs/org-b/keys/{id}"), None);
    eq(got.status, 200, "get")?;
    let view = got.json();
    check(view.get("key").is_none(), "GET shows no secret")?;
    eq(
        view["start"].as_str().map(str::to_owned),
        Some(format!("{}…", &key[..12])),
        "masked start",
    )?;
    eq(
        view["meta"].clone(),
        serde_json::json!({"team": "data"}),
        "meta",
    )?;
    for name in ["Second key", "Third key"] {
        admin.create_key(
            "org-b",
            &format!(r#"{{"name":"{name}","scopes":["read"]}}"#),
        );
    }
    let first = admin.call("GET", "/orgs/org-b/keys?limit=2", None).json();
    let page1: Vec<&str> = first["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    eq(page1.len(), 2, "page 1 size")?;
    let cursor = first["next_cursor"].as_str().ok_or("no next_cursor")?;
    let second = admin
        .call(
            "GET",
            &format!("/orgs/org-b/keys?limit=2&cursor={cursor}"),
            None,
        )
        .json();
    let page2: Vec<&str> = second["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    eq(page2.len(), 1, "page 2 size")?;
    check(!page1.contains(&page2[0]), "pages overlap")?;
    eq(second["next_cursor"].clone(), Value::Null, "last page")?;
    eq(
        page2[0],
        id.as_str(),
        "newest first: the first key comes last",
    )?;
    refusal(
        &admin.call("GET", "/orgs/org-b/keys?limit=0", None),
        400,
        "invalid_request",
    )?;
    refusal(
        &admin.call("GET", "/orgs/org-b/keys?colour=red", None),
        400,
        "invalid_request",
    )?;
    let listing = admin.call("GET", "/orgs/org-b/keys", None).text();
    let hash = KeyHash::of(&ApiKey::parse(&key).unwrap()).to_hex();
    check(
        !listing.contains(&key[8..]) && !listing.contains(&hash),
        "a listing shows a secret or hash",
    )
}

fn every_invalid_body_is_a_400_naming_the_field_and_writes_nothing(
    w: &World,
) -> Result<(), Failed> {
    let admin = w.org("org-c", "pro");
    let cases: &[(&str, &str)] = &[
        (r#"{"scopes":["read"]}"#, "API key name is required"),
        (
            r#"{"name":"ab","scopes":["read"]}"#,
            "API key name must be 3-100 characters",
        ),
        (
            &format!(r#"{{"name":"{}","scopes":["read"]}}"#, "ü".repeat(101)),
            "API key name must be 3-100 characters",
        ),
        (
            r#"{"name":"abc","scopes":["root"]}"#,
            "Invalid scopes[0]: Invalid scope: root",
        ),
        (
            r#"{"name":"abc","scopes":["employees:fly"]}"#,
            "Invalid scopes[0]: Invalid scope: employees:fly",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_in_days":-7}"#,
            "Invalid expires_in_days",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"expires_in_days":"7"}"#,
            "Invalid expires_in_days",
        ),
        (r#"{"name":["abc"],"scopes":["read"]}"#, "Invalid name"),
        (
            r#"{"name":"abc","scopes":["read"],"enabled":"yes"}"#,
            "Invalid enabled",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"creator":"me"}"#,
            "Invalid request body: unknown field `creator`",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"owner":"a b"}"#,
            "owner must be 1-254 printable ASCII characters without spaces",
        ),
        (
            r#"{"name":"abc","scopes":["read"],"meta":"x"}"#,
            "meta must be a JSON object",
        ),
        ("{\"name\":\"abc\",", "Request body is not valid JSON"),
        ("name=abc", "Request body is not valid JSON"),
        ("[]", "Request body must be a JSON object"),
        ("", "Request body must be a JSON object"),
    ];
    for (body, want) in cases {
        let m = refusal(
            &admin.call("POST", "/orgs/org-c/keys", Some(body)),
            400,
            "invalid_request",
        )?;
        check(
            m.starts_with(want),
            &format!("{body}: got {m:?}, want {want:?}"),
        )?;
    }
    let huge = format!(
        r#"{{"name":"abc","scopes":["read"],"meta":{{"pad":"{}"}}}}"#,
        "x".repeat(70_000)
    );
    let m = refusal(
        &admin.call("POST", "/orgs/org-c/keys", Some(&huge)),
        400,
        "invalid_request",
    )?;
    eq(m.as_str(), "Request body must be at most 64 KiB", "size")?;
    let bad_utf8 = send(
        &w.gateway,
        "POST",
        "/_keygate/v1/orgs/org-c/keys",
        &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        Some(b"{\"name\":\"\xff\xfe\"}"),
    );
    refusal(&bad_utf8, 400, "invalid_request")?;
    eq(
        admin.call("GET", "/orgs/org-c", None).json()["key_count"].as_u64(),
        Some(0),
        "nothing was written",
    )?;
    let audit = admin
        .call("GET", "/orgs/org-c/audit?type=key_created", None)
        .json();
    eq(
        audit["events"].as_array().map(Vec::len),
        Some(0),
        "no audit event",
    )
}

fn patch_changes_settings_but_never_expiry(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-d", "pro");
    let (_, id) = admin.create_key(
        "org-d",
        r#"{"name":"Before","scopes":["read"],"expires_in_days":7}"#,
    );
    let path = format!("/orgs/org-d/keys/{id}");
    let before = admin.call("GET", &path, None).json();
    for body in [
        r#"{"expires_at":"2099-01-01T00:00:00Z"}"#,
        r#"{"expires_in_days":365}"#,
        r#"{"expires_at":null}"#,
    ] {
        let m = refusal(
            &admin.call("PATCH", &path, Some(body)),
            400,
            "invalid_request",
        )?;
        check(m.starts_with("expires_at cannot be changed"), &m)?;
    }
    refusal(
        &admin.call("PATCH", &path, Some(r#"{"name":"After","colour":"red"}"#)),
        400,
        "invalid_request",
    )?;
    refusal(
        &admin.call("PATCH", &path, Some(r#"{"name":"x"}"#)),
        400,
        "invalid_request",
    )?;
    eq(
        admin.call("GET", &path, None).json(),
        before.clone(),
        "failed PATCHes change nothing",
    )?;
    let r = admin.call(
        "PATCH",
        &path,
        Some(r#"{"name":"After","scopes":["write"],"resources":{"site":["site_abc123"]}}"#),
    );
    eq(r.status, 200, "patch")?;
    let after = r.json();
    eq(after["name"].as_str(), Some("After"), "name")?;
    eq(
        after["scopes"].clone(),
        serde_json::json!(["write"]),
        "scopes",
    )?;
    eq(
        after["expires_at"].clone(),
        before["expires_at"].clone(),
        "expiry unchanged",
    )?;
    check(after["updated_at"].is_string(), "updated_at set")?;
    refusal(
        &admin.call(
            "PATCH",
            "/orgs/org-d/keys/key_nope",
            Some(r#"{"name":"After"}"#),
        ),
        404,
        "key_not_found",
    )?;
    let audit = admin
        .call(
            "GET",
            &format!("/orgs/org-d/audit?type=key_updated&key_id={id}"),
            None,
        )
        .json();
    let changed = &audit["events"][0]["details"]["changed"];
    eq(
        changed.clone(),
        serde_json::json!(["name", "scopes", "resources"]),
        "audit says what changed",
    )
}

fn rotation_keeps_the_id_and_the_old_secret_for_the_grace_period(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-e", "pro");
    let (first, id) = admin.create_key("org-e", r#"{"name":"Rotating","scopes":["read"]}"#);
    let path = format!("/orgs/org-e/keys/{id}/rotate");
    let r = admin.call("POST", &path, None);
    eq(r.status, 200, "rotate with the default grace")?;
    let rotated = r.json();
    let second = rotated["key"].as_str().unwrap().to_owned();
    eq(rotated["id"].as_str(), Some(id.as_str()), "same id")?;
    check(second != first, "new secret")?;
    let until =
        UnixMillis::parse_rfc3339(rotated["previous_key_valid_until"].as_str().unwrap()).unwrap();
    let hours = (until.0 - now_ms()) as f64 / UnixMillis::HOUR as f64;
    check((23.9..24.1).contains(&hours), "24 h grace")?;
    eq(
        (w.use_key(&first), w.use_key(&second)),
        (200, 200),
        "both work during the grace",
    )?;
    let r = admin.call("POST", &path, Some(r#"{"grace_period_hours":0}"#));
    let third = r.json()["key"].as_str().unwrap().to_owned();
    eq(
        (w.use_key(&first), w.use_key(&second), w.use_key(&third)),
        (401, 401, 200),
        "grace 0 retires at once",
    )?;
    refusal(
        &admin.call("POST", &path, Some(r#"{"grace_period_hours":721}"#)),
        400,
        "invalid_request",
    )?;
    refusal(
        &admin.call("POST", &path, Some(r#"{"grace":1}"#)),
        400,
        "invalid_request",
    )?;
    let audit = admin
        .call(
            "GET",
            &format!("/orgs/org-e/audit?type=key_rotated&key_id={id}"),
            None,
        )
        .json();
    eq(
        audit["events"].as_array().map(Vec::len),
        Some(2),
        "two rotations audited",
    )?;
    eq(
        audit["events"][0]["details"]["grace_period_hours"].as_u64(),
        Some(0),
        "grace in the audit",
    )
}

fn org_admins_cannot_set_what_only_the_operator_may(w: &World) -> Result<(), Failed> {
    let operator = w.org("org-p", "free");
    let (admin_key, admin_id) =
        operator.create_key("org-p", r#"{"name":"Org admin","scopes":["admin"]}"#);
    // The operator may go beyond the plan; here it gives the target a small window so
    // "still limited" is quick to prove.
    let (target_key, id) = operator.create_key(
        "org-p",
        r#"{"name":"Target","scopes":["read"],"rate_limits":[{"name":"minute","limit":3,"window_seconds":60}]}"#,
    );
    let path = format!("/orgs/org-p/keys/{id}");
    let as_admin = Admin::bearer(&w.gateway, &admin_key);
    let before = settings(&operator.call("GET", &path, None));
    let audit_before = operator.call("GET", "/orgs/org-p/audit", None).json()["events"].clone();
    let attempts = [
        (
            r#""meta":{"role":"superuser"}"#,
            "Only the admin token can set meta",
        ),
        (r#""meta":{}"#, "Only the admin token can set meta"),
        (
            r#""rate_limiting":false"#,
            "Only the admin token can set rate_limiting to false",
        ),
        (
            r#""on_limiter_error":"allow""#,
            "Only the admin token can set on_limiter_error to allow",
        ),
        (
            r#""rate_limits":[{"name":"second","limit":4294967295,"window_seconds":1}]"#,
            "rate_limits go beyond the free plan's limit of 20 requests per 1 s",
        ),
        (
            r#""rate_limits":[{"name":"minute","limit":20,"window_seconds":60}]"#,
            "rate_limits go beyond the free plan's limit of 10000 requests per 86400 s",
        ),
    ];
    for (field, want) in attempts {
        let created = as_admin.call(
            "POST",
            "/orgs/org-p/keys",
            Some(&format!(r#"{{"name":"Sneaky","scopes":["read"],{field}}}"#)),
        );
        let m = refusal(&created, 403, "forbidden")?;
        check(m.starts_with(want), &format!("create {field}: {m}"))?;
        let patched = as_admin.call("PATCH", &path, Some(&format!("{{{field}}}")));
        let m = refusal(&patched, 403, "forbidden")?;
        check(m.starts_with(want), &format!("patch {field}: {m}"))?;
    }
    // A refused field refuses the whole change, even with allowed fields beside it.
    refusal(
        &as_admin.call(
            "PATCH",
            &path,
            Some(r#"{"name":"Renamed","rate_limiting":false}"#),
        ),
        403,
        "forbidden",
    )?;
    eq(
        settings(&operator.call("GET", &path, None)),
        before,
        "the refused changes changed nothing",
    )?;
    eq(
        operator.call("GET", "/orgs/org-p", None).json()["key_count"].as_u64(),
        Some(2),
        "no key was created",
    )?;
    eq(
        operator.call("GET", "/orgs/org-p/audit", None).json()["events"].clone(),
        audit_before,
        "nothing was audited",
    )?;
    // And the gateway agrees: the key is still limited to 3 a minute.
    let statuses: Vec<u16> = (0..4).map(|_| w.use_key(&target_key)).collect();
    eq(statuses, vec![200, 200, 200, 429], "still rate limited")?;
    // Within the plan, the org admin may tighten and rename; the operator may do anything.
    let r = as_admin.call(
        "PATCH",
        &path,
        Some(r#"{"name":"Tightened","rate_limiting":true,"on_limiter_error":"deny","rate_limits":[{"name":"slow","limit":1,"window_seconds":10}]}"#),
    );
    eq(r.status, 200, "a change within the plan")?;
    let r = operator.call(
        "PATCH",
        &path,
        Some(r#"{"meta":{"role":"superuser"},"rate_limiting":false,"on_limiter_error":"allow"}"#),
    );
    eq(r.status, 200, "the operator may")?;
    eq(
        r.json()["rate_limiting"].as_bool(),
        Some(false),
        "limits off",
    )?;
    // Now the key carries the operator's settings: the org admin may not take it over by
    // widening it or rotating it for a secret of its own, only switch it off.
    let before = settings(&operator.call("GET", &path, None));
    let r = as_admin.call("PATCH", &path, Some(r#"{"scopes":["read","write"]}"#));
    let m = refusal(&r, 403, "forbidden")?;
    check(
        m.starts_with("Only the admin token can rotate this key"),
        &m,
    )?;
    let r = as_admin.call(
        "POST",
        &format!("{path}/rotate"),
        Some(r#"{"grace_period_hours":0}"#),
    );
    refusal(&r, 403, "forbidden")?;
    eq(
        settings(&operator.call("GET", &path, None)),
        before,
        "unchanged",
    )?;
    eq(w.use_key(&target_key), 200, "the old secret still works")?;
    let r = as_admin.call("PATCH", &path, Some(r#"{"enabled":false}"#));
    eq(r.status, 200, "the org admin may disable it")?;
    // Free allows 2 keys: make room, then the org admin creates one on the plan's defaults.
    eq(operator.call("DELETE", &path, None).status, 200, "revoke")?;
    let r = as_admin.call(
        "POST",
        "/orgs/org-p/keys",
        Some(r#"{"name":"Plan defaults","scopes":["read"],"rate_limits":[]}"#),
    );
    eq(r.status, 201, "a key on the plan's defaults")?;
    eq(
        r.json()["created_by"].as_str(),
        Some(admin_id.as_str()),
        "made by the org admin",
    )
}

fn a_lowered_plan_leaves_existing_keys_as_they_are(w: &World) -> Result<(), Failed> {
    let operator = w.org("org-q", "pro");
    let (admin_key, _) = operator.create_key("org-q", r#"{"name":"Org admin","scopes":["admin"]}"#);
    let as_admin = Admin::bearer(&w.gateway, &admin_key);
    let pro_windows = r#"[{"name":"minute","limit":300,"window_seconds":60},{"name":"burst","limit":50,"window_seconds":1},{"name":"day","limit":100000,"window_seconds":86400}]"#;
    let r = as_admin.call(
        "POST",
        "/orgs/org-q/keys",
        Some(&format!(
            r#"{{"name":"Pro sized","scopes":["read"],"rate_limits":{pro_windows}}}"#
        )),
    );
    eq(r.status, 201, "within the pro plan")?;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/orgs/org-q/keys/{id}");
    operator.put_org("org-q", r#"{"plan":"free"}"#);
    let kept = operator.call("GET", &path, None).json();
    eq(
        kept["rate_limits"].clone(),
        serde_json::from_str::<Value>(pro_windows).unwrap(),
        "the key keeps its windows",
    )?;
    eq(
        as_admin
            .call("PATCH", &path, Some(r#"{"name":"Renamed"}"#))
            .status,
        200,
        "other fields may still change",
    )?;
    let m = refusal(
        &as_admin.call(
            "PATCH",
            &path,
            Some(&format!(r#"{{"rate_limits":{pro_windows}}}"#)),
        ),
        403,
        "forbidden",
    )?;
    check(m.contains("free plan"), &m)
}

fn revoke_is_immediate_and_permanent(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-f", "pro");
    let (key, id) = admin.create_key("org-f", r#"{"name":"Doomed","scopes":["read"]}"#);
    eq(w.use_key(&key), 200, "works before")?;
    let r = admin.call("DELETE", &format!("/orgs/org-f/keys/{id}"), None);
    eq(r.status, 200, "revoke")?;
    eq(
        r.json(),
        serde_json::json!({"success": true, "message": "API key revoked successfully"}),
        "body",
    )?;
    eq(w.use_key(&key), 401, "fails on the next request")?;
    refusal(
        &admin.call("GET", &format!("/orgs/org-f/keys/{id}"), None),
        404,
        "key_not_found",
    )?;
    refusal(
        &admin.call("DELETE", &format!("/orgs/org-f/keys/{id}"), None),
        404,
        "key_not_found",
    )?;
    refusal(
        &admin.call("POST", &format!("/orgs/org-f/keys/{id}/rotate"), None),
        404,
        "key_not_found",
    )?;
    refusal(
        &admin.call(
            "PATCH",
            &format!("/orgs/org-f/keys/{id}"),
            Some(r#"{"enabled":true}"#),
        ),
        404,
        "key_not_found",
    )?;
    eq(w.use_key(&key), 401, "still refused")?;
    eq(
        admin.call("GET", "/orgs/org-f/keys", None).json()["keys"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "not listed",
    )
}

fn revoke_all_revokes_every_key(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-g", "pro");
    let keys: Vec<String> = (0..3)
        .map(|i| {
            admin
                .create_key(
                    "org-g",
                    &format!(r#"{{"name":"Key {i}","scopes":["read"]}}"#),
                )
                .0
        })
        .collect();
    let r = admin.call("POST", "/orgs/org-g/keys/revoke-all", None);
    eq(r.status, 200, "revoke-all")?;
    eq(r.json()["revoked"].as_u64(), Some(3), "count")?;
    for key in &keys {
        eq(w.use_key(key), 401, "revoked")?;
    }
    eq(
        admin.call("GET", "/orgs/org-g", None).json()["key_count"].as_u64(),
        Some(0),
        "none left",
    )?;
    let audit = admin
        .call("GET", "/orgs/org-g/audit?type=keys_revoked_all", None)
        .json();
    eq(
        audit["events"][0]["details"]["revoked"].as_u64(),
        Some(3),
        "audited",
    )?;
    refusal(
        &admin.call("POST", "/orgs/nobody/keys/revoke-all", None),
        404,
        "org_not_found",
    )?;
    eq(
        admin
            .call(
                "POST",
                "/orgs/org-g/keys",
                Some(r#"{"name":"Fresh","scopes":["read"]}"#),
            )
            .status,
        201,
        "new keys can follow",
    )
}

fn the_key_limit_holds_under_20_parallel_creates(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-h", "pro");
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let admin = &admin;
                s.spawn(move || {
                    let r = admin.call(
                        "POST",
                        "/orgs/org-h/keys",
                        Some(&format!(r#"{{"name":"Parallel {i}","scopes":["read"]}}"#)),
                    );
                    (
                        r.status,
                        r.json()["error"].as_str().unwrap_or_default().to_owned(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|(s, _)| *s == 201).count();
    let refused = statuses
        .iter()
        .filter(|(s, e)| *s == 403 && e == "key_limit_reached")
        .count();
    eq((created, refused), (10, 10), "created and refused")?;
    eq(
        admin.call("GET", "/orgs/org-h", None).json()["key_count"].as_u64(),
        Some(10),
        "key_count",
    )?;
    let m = refusal(
        &admin.call(
            "POST",
            "/orgs/org-h/keys",
            Some(r#"{"name":"One more","scopes":["read"]}"#),
        ),
        403,
        "key_limit_reached",
    )?;
    eq(
        m.as_str(),
        "API key limit reached. Upgrade to create more keys.",
        "message",
    )?;
    let listed = admin.call("GET", "/orgs/org-h/keys?limit=200", None).json();
    eq(listed["keys"].as_array().map(Vec::len), Some(10), "listed")
}

fn who_may_call_the_management_api(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-i", "pro");
    w.org("org-j", "pro");
    let anonymous = send(&w.gateway, "GET", "/_keygate/v1/orgs/org-i", &[], None);
    refusal(&anonymous, 401, "unauthorized")?;
    eq(
        anonymous.header("www-authenticate"),
        Some(r#"Bearer realm="keygate""#),
        "challenge",
    )?;
    refusal(
        &Admin::bearer(&w.gateway, "not-the-token").call("GET", "/orgs/org-i", None),
        401,
        "unauthorized",
    )?;
    let (admin_key, admin_id) =
        admin.create_key("org-i", r#"{"name":"Org admin","scopes":["admin"]}"#);
    let (read_key, _) = admin.create_key("org-i", r#"{"name":"Reader","scopes":["read"]}"#);
    let as_key = Admin::bearer(&w.gateway, &admin_key);
    eq(
        as_key.call("GET", "/orgs/org-i/keys", None).status,
        200,
        "own organization",
    )?;
    let r = as_key.call(
        "POST",
        "/orgs/org-i/keys",
        Some(r#"{"name":"Made by a key","scopes":["read"]}"#),
    );
    eq(
        r.json()["created_by"].as_str(),
        Some(admin_id.as_str()),
        "created_by is the key",
    )?;
    let m = refusal(&as_key.call("GET", "/orgs/org-j", None), 403, "forbidden")?;
    eq(
        m.as_str(),
        "This API key cannot manage organization org-j",
        "message",
    )?;
    refusal(
        &as_key.call("PUT", "/orgs/org-i", Some(r#"{"plan":"enterprise"}"#)),
        403,
        "forbidden",
    )?;
    let via_header = Admin::with(&w.gateway, ("x-api-key", admin_key.clone()));
    eq(
        via_header.call("GET", "/orgs/org-i", None).status,
        200,
        "X-API-Key works too",
    )?;
    let reader = Admin::bearer(&w.gateway, &read_key);
    let r = reader.call("GET", "/orgs/org-i/keys", None);
    refusal(&r, 403, "insufficient_scope")?;
    check(
        r.header("www-authenticate")
            .is_some_and(|c| c.contains(r#"scope="admin""#)),
        "scope challenge",
    )?;
    refusal(
        &Admin::bearer(&w.gateway, "kg_live_short").call("GET", "/orgs/org-i", None),
        401,
        "unauthorized",
    )?;
    admin.call("DELETE", &format!("/orgs/org-i/keys/{admin_id}"), None);
    refusal(
        &as_key.call("GET", "/orgs/org-i/keys", None),
        401,
        "invalid_api_key",
    )
    .map(drop)
}

fn unknown_routes_and_wrong_methods(w: &World) -> Result<(), Failed> {
    let admin = w.admin();
    let r = admin.call("DELETE", "/orgs/org-k", None);
    refusal(&r, 405, "method_not_allowed")?;
    eq(r.header("allow"), Some("GET, PUT"), "Allow")?;
    let r = admin.call("PUT", "/orgs/org-k/keys/key_abc", None);
    eq(r.header("allow"), Some("GET, PATCH, DELETE"), "Allow")?;
    let r = send(
        &w.gateway,
        "GET",
        "/_keygate/v2/orgs",
        &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
    );
    refusal(&r, 404, "not_found")?;
    let r = admin.call_with(
        "GET",
        "/orgs/nobody",
        None,
        &[("accept", "application/problem+json")],
    );
    eq(r.status, 404, "problem status")?;
    eq(
        r.header("content-type"),
        Some("application/problem+json"),
        "problem type",
    )?;
    eq(
        r.json()["type"].as_str(),
        Some("urn:keygate:error:org_not_found"),
        "problem document",
    )
}

fn the_audit_log_filters_and_pages(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-l", "pro");
    let (_, a) = admin.create_key(
        "org-l",
        r#"{"name":"Key A","scopes":["read","employees:read"]}"#,
    );
    let (_, b) = admin.create_key("org-l", r#"{"name":"Key B","scopes":["read"]}"#);
    admin.call(
        "PATCH",
        &format!("/orgs/org-l/keys/{a}"),
        Some(r#"{"enabled":false}"#),
    );
    admin.call(
        "PATCH",
        &format!("/orgs/org-l/keys/{a}"),
        Some(r#"{"enabled":true}"#),
    );
    admin.call("DELETE", &format!("/orgs/org-l/keys/{b}"), None);
    let all = admin.call("GET", "/orgs/org-l/audit", None).json();
    let kinds: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    eq(
        kinds,
        vec![
            "key_revoked",
            "key_enabled",
            "key_disabled",
            "key_created",
            "key_created",
            "org_created",
        ],
        "all events, newest first",
    )?;
    let created = admin
        .call(
            "GET",
            &format!("/orgs/org-l/audit?type=key_created&key_id={a}"),
            None,
        )
        .json();
    let event = &created["events"][0];
    eq(
        event["details"]["scopes"].clone(),
        serde_json::json!(["read", "employees:read"]),
        "created with scopes",
    )?;
    eq(event["actor"].as_str(), Some("admin"), "actor")?;
    let page = admin.call("GET", "/orgs/org-l/audit?limit=4", None).json();
    let cursor = page["next_cursor"].as_str().ok_or("no cursor")?;
    let rest = admin
        .call(
            "GET",
            &format!("/orgs/org-l/audit?limit=4&cursor={cursor}"),
            None,
        )
        .json();
    eq(
        rest["events"].as_array().map(Vec::len),
        Some(2),
        "second page",
    )?;
    let future = UnixMillis(now_ms() + UnixMillis::DAY).to_string();
    let none = admin
        .call("GET", &format!("/orgs/org-l/audit?since={future}"), None)
        .json();
    eq(
        none["events"].as_array().map(Vec::len),
        Some(0),
        "since the future",
    )?;
    refusal(
        &admin.call("GET", "/orgs/org-l/audit?type=everything", None),
        400,
        "invalid_request",
    )?;
    refusal(
        &admin.call("GET", "/orgs/nobody/audit", None),
        404,
        "org_not_found",
    )?;
    Ok(())
}

/// Every organization id `GET /orgs` lists, following `next_cursor` with pages of `limit`.
fn all_orgs(admin: &Admin<'_>, limit: u32) -> Result<Vec<Value>, Failed> {
    let mut orgs = Vec::new();
    let mut path = format!("/orgs?limit={limit}");
    for _ in 0..100 {
        let page = admin.call("GET", &path, None);
        eq(page.status, 200, "list organizations")?;
        let page = page.json();
        let items = page["orgs"].as_array().ok_or("orgs")?;
        check(items.len() <= limit as usize, "at most limit per page")?;
        orgs.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/orgs?limit={limit}&cursor={cursor}"),
            None => return Ok(orgs),
        }
    }
    Err("next_cursor never ended".into())
}

fn organizations_are_listed_for_the_admin_token_only(w: &World) -> Result<(), Failed> {
    let admin = w.org("list-c", "business");
    w.org("list-a", "free");
    admin.put_org("list-b", r#"{"plan":"pro","api_access":false}"#);
    admin.create_key("list-c", r#"{"name":"one","scopes":["read"]}"#);
    let (_, two) = admin.create_key("list-c", r#"{"name":"two","scopes":["read"]}"#);
    admin.call("DELETE", &format!("/orgs/list-c/keys/{two}"), None);
    let orgs = all_orgs(&admin, 2)?;
    let ids: Vec<&str> = orgs.iter().filter_map(|o| o["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    eq(&ids, &sorted, "in id order, each once across pages")?;
    let ours: Vec<&Value> = orgs
        .iter()
        .filter(|o| o["id"].as_str().is_some_and(|id| id.starts_with("list-")))
        .collect();
    let summary: Vec<Value> = ours
        .iter()
        .map(|o| serde_json::json!([o["id"], o["plan"], o["api_access"], o["key_count"]]))
        .collect();
    eq(
        summary,
        vec![
            serde_json::json!(["list-a", "free", true, 0]),
            serde_json::json!(["list-b", "pro", false, 0]),
            // The revoked key does not count.
            serde_json::json!(["list-c", "business", true, 1]),
        ],
        "plan, API access and live keys of each",
    )?;
    eq(
        all_orgs(&admin, 200)?.len(),
        orgs.len(),
        "one page holds the same",
    )?;
    // An organization admin manages its own keys, not the list of organizations.
    let (admin_key, _) = admin.create_key("list-c", r#"{"name":"Org admin","scopes":["admin"]}"#);
    let m = refusal(
        &Admin::bearer(&w.gateway, &admin_key).call("GET", "/orgs", None),
        403,
        "forbidden",
    )?;
    eq(
        m.as_str(),
        "Only the admin token can list, create or change organizations",
        "message",
    )?;
    refusal(
        &send(&w.gateway, "GET", "/_keygate/v1/orgs", &[], None),
        401,
        "unauthorized",
    )?;
    for bad in ["limit=0", "limit=201", "cursor=Bad!", "plan=pro"] {
        let m = refusal(
            &admin.call("GET", &format!("/orgs?{bad}"), None),
            400,
            "invalid_request",
        )?;
        let name = bad.split('=').next().unwrap();
        check(m.contains(name), &format!("{bad}: {m}"))?;
    }
    refusal(
        &admin.call("POST", "/orgs", Some("{}")),
        405,
        "method_not_allowed",
    )?;
    Ok(())
}

/// The names of the keys a listing of `org` with `query` shows, in order, and its cursor.
fn listed(
    admin: &Admin<'_>,
    org: &str,
    query: &str,
) -> Result<(Vec<String>, Option<String>), Failed> {
    let reply = admin.call("GET", &format!("/orgs/{org}/keys?{query}"), None);
    eq(reply.status, 200, query)?;
    let page = reply.json();
    let names = page["keys"]
        .as_array()
        .ok_or("keys")?
        .iter()
        .filter_map(|k| k["name"].as_str().map(str::to_owned))
        .collect();
    Ok((names, page["next_cursor"].as_str().map(str::to_owned)))
}

fn keys_are_filtered_sorted_and_paged(w: &World) -> Result<(), Failed> {
    let org = "org-list-keys";
    let admin = w.org(org, "business");
    let soon = UnixMillis(now_ms() + 3 * UnixMillis::DAY).to_string();
    let create = |body: String| admin.create_key(org, &body);
    let (idle_key, _) = create(r#"{"name":"Idle reader","scopes":["read"]}"#.into());
    let (busy_key, _) = create(format!(
        r#"{{"name":"Busy exporter","scopes":["read","reports:read"],"expires_at":"{soon}"}}"#
    ));
    let (some_key, some_id) = create(r#"{"name":"Some billing","scopes":["write"]}"#.into());
    let (_, off_id) = create(r#"{"name":"Disabled billing","scopes":["read"]}"#.into());
    let (_, rot_id) = create(r#"{"name":"Rotating ops","scopes":["admin"]}"#.into());
    admin.call(
        "PATCH",
        &format!("/orgs/{org}/keys/{off_id}"),
        Some(r#"{"enabled":false}"#),
    );
    let rotated = admin.call(
        "POST",
        &format!("/orgs/{org}/keys/{rot_id}/rotate"),
        Some(r#"{"grace_period_hours":24}"#),
    );
    eq(rotated.status, 200, "rotate")?;
    for _ in 0..5 {
        eq(w.use_key(&busy_key), 200, "busy key")?;
    }
    for _ in 0..2 {
        eq(w.use_key(&some_key), 200, "some key")?;
    }
    let _ = idle_key;
    // Guards report usage within USAGE_REPORT_MS (1 s here) after their lease ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (names, _) = listed(&admin, org, "sort=requests&limit=2")?;
        if names == ["Busy exporter", "Some billing"] {
            break;
        }
        check(
            Instant::now() < deadline,
            &format!("usage never reached the listing: {names:?}"),
        )?;
        std::thread::sleep(Duration::from_millis(250));
    }
    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "Rotating ops",
                "Disabled billing",
                "Some billing",
                "Busy exporter",
                "Idle reader",
            ],
        ),
        ("order=asc&limit=2", &["Idle reader", "Busy exporter"]),
        (
            "status=active",
            &[
                "Rotating ops",
                "Some billing",
                "Busy exporter",
                "Idle reader",
            ],
        ),
        ("status=disabled", &["Disabled billing"]),
        ("status=rotating", &["Rotating ops"]),
        ("status=expired", &[]),
        (
            &format!(
                "expires_before={}",
                UnixMillis(now_ms() + 7 * UnixMillis::DAY)
            ),
            &["Busy exporter"],
        ),
        ("q=BILLING", &["Disabled billing", "Some billing"]),
        ("scope=reports:read", &["Busy exporter"]),
        ("scope=admin&status=active", &["Rotating ops"]),
        (
            &format!("unused_since={}", UnixMillis(now_ms() - 60_000)),
            &["Rotating ops", "Disabled billing", "Idle reader"],
        ),
        (
            "sort=requests",
            &[
                "Busy exporter",
                "Some billing",
                "Rotating ops",
                "Disabled billing",
                "Idle reader",
            ],
        ),
        (
            "sort=last_used&order=desc&limit=2",
            &["Some billing", "Busy exporter"],
        ),
        ("sort=expires&order=asc&limit=1", &["Busy exporter"]),
    ];
    for (query, want) in cases {
        let (names, _) = listed(&admin, org, query)?;
        eq(
            names,
            want.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            query,
        )?;
    }
    // The page shows each key's exact usage, asked of its guard.
    let (_, _) = listed(&admin, org, "")?;
    let page = admin
        .call("GET", &format!("/orgs/{org}/keys?q=some"), None)
        .json();
    eq(
        page["keys"][0]["id"].as_str(),
        Some(some_id.as_str()),
        "found by name",
    )?;
    eq(
        page["keys"][0]["requests_total"].as_u64(),
        Some(2),
        "exact requests",
    )?;
    // Cursors are positions: a key created between two pages neither repeats nor shifts them.
    let (first, cursor) = listed(&admin, org, "sort=requests&limit=2")?;
    let cursor = cursor.ok_or("a next page")?;
    create(r#"{"name":"Late arrival","scopes":["read"]}"#.into());
    let (second, _) = listed(
        &admin,
        org,
        &format!("sort=requests&limit=2&cursor={cursor}"),
    )?;
    eq(
        first,
        vec!["Busy exporter".to_string(), "Some billing".into()],
        "page 1",
    )?;
    eq(
        second,
        vec!["Late arrival".to_string(), "Rotating ops".into()],
        "page 2: the new unused key sorts among the unused, newest first",
    )?;
    for (bad, name) in [
        ("status=revoked", "status"),
        ("sort=name", "sort"),
        ("order=sideways", "order"),
        ("expires_before=soon", "expires_before"),
        ("unused_since=90d", "unused_since"),
        ("scope=Bad%20Scope", "scope"),
        ("stauts=active", "stauts"),
        ("cursor=42", "cursor"),
        (&format!("sort=created&cursor={cursor}"), "cursor"),
        // The other direction's cursor would repeat keys; a repeated filter would be a guess.
        (
            &format!("sort=requests&order=asc&cursor={cursor}"),
            "cursor",
        ),
        ("status=active&status=disabled", "status"),
    ] {
        let m = refusal(
            &admin.call("GET", &format!("/orgs/{org}/keys?{bad}"), None),
            400,
            "invalid_request",
        )?;
        check(m.contains(name), &format!("{bad}: {m}"))?;
    }
    refusal(
        &admin.call("GET", "/orgs/nobody/keys/key_x/usage", None),
        404,
        "org_not_found",
    )?;
    Ok(())
}

fn expiry_is_audited_once_when_first_seen(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-m", "pro");
    let soon = UnixMillis(now_ms() + 1_000).to_string();
    let (key, id) = admin.create_key(
        "org-m",
        &format!(r#"{{"name":"Brief","scopes":["read"],"expires_at":"{soon}"}}"#),
    );
    eq(w.use_key(&key), 200, "works before expiry")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.use_key(&key) != 401 {
        check(Instant::now() < deadline, "never expired")?;
        std::thread::sleep(Duration::from_millis(100));
    }
    w.use_key(&key);
    let audit = admin
        .call(
            "GET",
            &format!("/orgs/org-m/audit?type=key_expired&key_id={id}"),
            None,
        )
        .json();
    eq(
        audit["events"].as_array().map(Vec::len),
        Some(1),
        "one key_expired event",
    )?;
    eq(
        audit["events"][0]["actor"].as_str(),
        Some("keygate"),
        "actor",
    )
}

/// `(admitted, refused)` summed over a series' buckets, and of its last one.
fn series_totals(series: &Value) -> ((u64, u64), (u64, u64)) {
    let counts = |b: &Value| {
        (
            b["admitted"].as_u64().unwrap_or(0),
            b["refused"].as_u64().unwrap_or(0),
        )
    };
    let buckets = series["buckets"].as_array().cloned().unwrap_or_default();
    let sum = buckets
        .iter()
        .map(counts)
        .fold((0, 0), |(a, r), (x, y)| (a + x, r + y));
    (sum, buckets.last().map(counts).unwrap_or_default())
}

fn usage_over_time_counts_admitted_and_refused_requests(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-o", "pro");
    let (key, id) = admin.create_key("org-o", r#"{"name":"Charted","scopes":["read"]}"#);
    let path = format!("/orgs/org-o/keys/{id}/usage");
    let hour_before = now_ms() / UnixMillis::HOUR;
    for _ in 0..3 {
        eq(w.use_key(&key), 200, "admitted")?;
    }
    let auth = format!("Bearer {key}");
    let post = send(
        &w.gateway,
        "POST",
        "/api/ping",
        &[("authorization", &auth)],
        None,
    );
    refusal(&post, 403, "insufficient_scope")?;
    // Requests decided under an isolate's lease reach the guard when the lease is given back:
    // at the latest when it ends, REVOCATION_BOUND_MS (1 s) after it was granted.
    let deadline = Instant::now() + Duration::from_secs(5);
    let hours = loop {
        let hours = admin
            .call("GET", &format!("{path}?series=hour"), None)
            .json();
        if series_totals(&hours).0 == (3, 1) || Instant::now() > deadline {
            break hours;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eq(hours["series"].as_str(), Some("hour"), "series")?;
    eq(
        hours["buckets"].as_array().map(Vec::len),
        Some(48),
        "48 hours",
    )?;
    let (all, last) = series_totals(&hours);
    eq(all, (3, 1), "admitted and refused over 48 hours")?;
    let hour_after = now_ms() / UnixMillis::HOUR;
    if hour_before == hour_after {
        eq(last, (3, 1), "all in the current hour, the last bucket")?;
        eq(
            hours["buckets"][47]["start"].as_str().map(str::to_owned),
            Some(UnixMillis(hour_after * UnixMillis::HOUR).to_string()),
            "the last bucket starts at the current hour",
        )?;
    }
    let days = admin
        .call("GET", &format!("{path}?series=day"), None)
        .json();
    eq(
        days["buckets"].as_array().map(Vec::len),
        Some(30),
        "30 days",
    )?;
    eq(
        series_totals(&days).0,
        (3, 1),
        "admitted and refused over 30 days",
    )?;
    let summary = admin.call("GET", &path, None).json();
    eq(
        (
            summary["requests_total"].as_u64(),
            summary["refused"]["insufficient_scope"].as_u64(),
        ),
        (Some(3), Some(1)),
        "without series, the summary as before",
    )?;
    for (query, named) in [
        (
            "series=week",
            "Invalid query parameter series: must be hour or day",
        ),
        (
            "series=hour&series=day",
            "Invalid query parameter series: given more than once",
        ),
        (
            "series=hour&colour=red",
            "Invalid query parameter colour: unknown parameter",
        ),
        (
            "colour=red",
            "Invalid query parameter colour: unknown parameter",
        ),
    ] {
        let m = refusal(
            &admin.call("GET", &format!("{path}?{query}"), None),
            400,
            "invalid_request",
        )?;
        eq(m.as_str(), named, query)?;
    }
    Ok(())
}

fn the_openapi_document_covers_every_route(w: &World) -> Result<(), Failed> {
    let r = send(&w.gateway, "GET", "/_keygate/v1/openapi.json", &[], None);
    eq(r.status, 200, "served without credentials")?;
    let doc = r.json();
    eq(doc["openapi"].as_str(), Some("3.1.0"), "version")?;
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in [
        "/v1/policy",
        "/v1/orgs/{org}",
        "/v1/orgs/{org}/keys",
        "/v1/orgs/{org}/keys/{id}",
        "/v1/orgs/{org}/keys/{id}/rotate",
        "/v1/orgs/{org}/keys/revoke-all",
        "/v1/orgs/{org}/audit",
        "/v1/orgs/{org}/resources/{type}",
        "/v1/orgs/{org}/resources/{type}/{id}",
    ] {
        check(paths.iter().any(|q| q.as_str() == p), p)?;
    }
    Ok(())
}

fn no_secret_or_hash_reaches_the_log(w: &World) -> Result<(), Failed> {
    let admin = w.org("org-n", "pro");
    let (key, id) = admin.create_key("org-n", r#"{"name":"Logged","scopes":["read"]}"#);
    let rotated = admin
        .call("POST", &format!("/orgs/org-n/keys/{id}/rotate"), None)
        .json();
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    w.use_key(&key);
    let log = w
        .gateway
        .log_containing(&format!(
            r#""path":"/_keygate/v1/orgs/org-n/keys/{id}/rotate""#
        ))
        .ok_or("not logged")?;
    for secret in [&key, &new_key] {
        let hash = KeyHash::of(&ApiKey::parse(secret).unwrap()).to_hex();
        check(
            !log.contains(&secret[8..]) && !log.contains(&hash),
            "a secret or its hash is in the log",
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let origin = Origin::start();
    // Usage reaches the catalog within a second (a minute by default): the listing cases
    // filter and sort by it.
    let gateway = Gateway::start(GatewayOptions::new(origin.url()).var("USAGE_REPORT_MS", "1000"));
    run_cases(
        World {
            _origin: origin,
            gateway,
        },
        CASES,
    )
}
