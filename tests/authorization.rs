//! Authorization at the edge on workerd: the route policy, scopes, resource and field
//! restrictions, plan access, and the signed identity as the origin receives it (checked with
//! docs/identity.md's own Python and Node snippets).

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

use libtest_mimic::Failed;
use support::{
    Admin, Case, EMPLOYEES, Gateway, GatewayOptions, Origin, Reply, check, eq, project_dir,
    refusal, run_cases, send, send_with_key,
};

const PLAN_REQUIRED: &str = "This organization's plan does not include API access. Upgrade to a plan with API access to create and use API keys.";

const SIGNING_SECRET: &str = "origin-signing-secret-for-tests";

const POLICY: &str = r#"{"default":"deny","rules":[
  {"method":"GET","path":"/api/sites/:siteId/stats","resource":"stats","ids":{"site":"path:siteId"}},
  {"method":"GET","path":"/api/stats","resource":"stats","ids":{"site":"query:siteId"}},
  {"method":["GET","POST","PATCH","DELETE"],"path":"/api/employees/*","resource":"employees","envelope":"data","fields":["name","start_date","salary","address.city"]},
  {"method":"GET","path":"/api/html/*","resource":"employees"},
  {"method":"GET","path":"/api/teams/:team/docs/:doc","resource":"documents","action":"download","ids":{"team":"header:x-team"}}
]}"#;

struct World {
    origin: Origin,
    gateway: Gateway,
    bad_policy: Gateway,
}

impl World {
    fn start() -> World {
        let origin = Origin::start();
        let options = |policy: &str| {
            GatewayOptions::new(origin.url())
                .var("ORIGIN_SIGNING_SECRET", SIGNING_SECRET)
                .var("POLICY", policy.replace('\n', ""))
        };
        let mut gateway = Gateway::spawn(options(POLICY));
        let bad = r#"{"rules":[{"method":"GET","path":"/api/x","resource":"x","action":"fly"}]}"#;
        let mut bad_policy = Gateway::spawn(options(bad));
        gateway.wait_ready();
        bad_policy.wait_ready();
        World {
            origin,
            gateway,
            bad_policy,
        }
    }

    /// A key of organization `org` (put on the enterprise plan first) with the given body.
    fn key(&self, org: &str, body: &str) -> String {
        let admin = Admin::operator(&self.gateway);
        admin.put_org(org, r#"{"plan":"enterprise"}"#);
        admin.create_key(org, body).0
    }

    fn get(&self, key: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
        self.request(key, "GET", path, extra, None)
    }

    fn request(
        &self,
        key: &str,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        send_with_key(&self.gateway, key, method, path, extra, body)
    }
}

fn refused(reply: &Reply, status: u16, code: &str, message: &str) -> Result<(), Failed> {
    eq(refusal(reply, status, code)?.as_str(), message, "message")
}

/// Runs a snippet of docs/identity.md (`marker` names the block) with `driver` appended, feeding `input`.
fn run_snippet(
    marker: &str,
    program: &str,
    args: &[&str],
    driver: &str,
    input: &str,
) -> Result<String, Failed> {
    let readme = std::fs::read_to_string(project_dir().join("docs/identity.md"))
        .map_err(|e| e.to_string())?;
    let after = readme
        .split(marker)
        .nth(1)
        .ok_or(format!("docs/identity.md has no {marker}"))?;
    let code = after.split("```").nth(1).ok_or("no code block")?;
    let code = code.split_once('\n').map(|(_, rest)| rest).unwrap_or(code);
    let mut child = Command::new(program)
        .args(args)
        .arg(format!("{code}\n{driver}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{program} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

const PYTHON_DRIVER: &str = r#"
import json, sys
for case in json.load(sys.stdin):
    print(verify_keygate(case["secret"].encode(), case["method"], case["target"], case["headers"]))
"#;

const NODE_DRIVER: &str = r#"
let input = "";
process.stdin.on("data", (d) => (input += d)).on("end", () => {
  for (const c of JSON.parse(input)) console.log(verifyKeygate(c.secret, c.method, c.target, c.headers) ? "True" : "False");
});
"#;

const CASES: &[Case<World>] = &[
    ("requests_no_rule_allows_are_refused", |w| {
        let key = w.key("auth-a", r#"{"name":"Admin-ish","scopes":["admin"]}"#);
        let r = w.get(&key, "/api/unknown", &[]);
        refused(
            &r,
            403,
            "route_not_allowed",
            "No rule of the API policy allows this request",
        )?;
        let r = w.request(&key, "PUT", "/api/employees/1", &[], None);
        eq(
            r.json()["error"].as_str(),
            Some("route_not_allowed"),
            "method not in the rule",
        )?;
        eq(w.origin.seen("/api/unknown").len(), 0, "origin requests")
    }),
    ("a_read_key_cannot_write", |w| {
        let key = w.key("auth-b", r#"{"name":"Reader","scopes":["read"]}"#);
        eq(w.get(&key, "/api/employees", &[]).status, 200, "read")?;
        let r = w.request(&key, "POST", "/api/employees", &[], Some(b"{}"));
        refused(
            &r,
            403,
            "insufficient_scope",
            "Insufficient permissions. This key has read-only access.",
        )?;
        eq(
            r.header("www-authenticate"),
            Some(r#"Bearer realm="keygate", error="insufficient_scope", scope="employees:create""#),
            "challenge",
        )?;
        eq(
            w.origin
                .seen("/api/employees")
                .iter()
                .filter(|s| s.method == "POST")
                .count(),
            0,
            "origin saw the write",
        )
    }),
    ("granular_scopes_name_what_is_missing", |w| {
        let key = w.key(
            "auth-c",
            r#"{"name":"Employees","scopes":["employees:read","documents:download"]}"#,
        );
        eq(
            w.get(&key, "/api/employees", &[]).status,
            200,
            "employees:read",
        )?;
        let r = w.get(&key, "/api/sites/site_abc123/stats", &[]);
        refused(
            &r,
            403,
            "insufficient_scope",
            "Insufficient permissions. This key needs the stats:read scope.",
        )?;
        let r = w.request(&key, "DELETE", "/api/employees/7", &[], None);
        refused(
            &r,
            403,
            "insufficient_scope",
            "Insufficient permissions. This key has read-only access.",
        )?;
        eq(
            w.get(&key, "/api/teams/t1/docs/d1", &[("x-team", "t1")])
                .status,
            200,
            "download",
        )
    }),
    ("resource_restrictions_hold_in_path_query_and_header", |w| {
        let key = w.key("auth-d", r#"{"name":"One site","scopes":["read"],"resources":{"site":["site_abc123"],"team":["t1"]}}"#);
        eq(
            w.get(&key, "/api/sites/site_abc123/stats", &[]).status,
            200,
            "own site",
        )?;
        let r = w.get(&key, "/api/sites/site_xyz789/stats", &[]);
        refused(
            &r,
            403,
            "resource_forbidden",
            "This API key cannot access site_xyz789",
        )?;
        eq(
            w.get(&key, "/api/stats?siteId=site_abc123&period=7d", &[])
                .status,
            200,
            "own site by query",
        )?;
        let r = w.get(&key, "/api/stats?siteId=site_xyz789", &[]);
        refused(
            &r,
            403,
            "resource_forbidden",
            "This API key cannot access site_xyz789",
        )?;
        let r = w.get(&key, "/api/stats", &[]);
        eq(
            r.json()["error"].as_str(),
            Some("resource_forbidden"),
            "no id named",
        )?;
        eq(
            w.get(&key, "/api/teams/t1/docs/d1", &[("x-team", "t1")])
                .status,
            200,
            "own team by header",
        )?;
        let r = w.get(&key, "/api/teams/t2/docs/d1", &[("x-team", "t2")]);
        refused(
            &r,
            403,
            "resource_forbidden",
            "This API key cannot access t2",
        )?;
        let open = w.key("auth-d", r#"{"name":"All sites","scopes":["read"]}"#);
        eq(
            w.get(&open, "/api/sites/site_xyz789/stats", &[]).status,
            200,
            "unrestricted key",
        )?;
        eq(
            w.origin.seen("/api/sites/site_xyz789").len(),
            1,
            "only the unrestricted request reached the origin",
        )
    }),
    ("field_restricted_responses_are_filtered", |w| {
        let key = w.key("auth-e", r#"{"name":"Calendar","scopes":["read"],"fields":{"employees":["name","start_date","address.city"]}}"#);
        let r = w.get(&key, "/api/employees", &[]);
        eq(r.status, 200, "status")?;
        let want = serde_json::json!({"data": [
            {"name": "Ada", "start_date": "2020-01-01", "address": {"city": "Zürich"}},
            {"name": "Bob", "start_date": "2021-06-01"}
        ], "next": "c2"});
        eq(r.json(), want, "filtered body")?;
        let text = String::from_utf8_lossy(&r.body).into_owned();
        check(
            !text.contains("salary") && !text.contains("Bahnhofstrasse"),
            "hidden fields leaked",
        )?;
        let open = w.key("auth-e", r#"{"name":"Everything","scopes":["read"]}"#);
        let r = w.get(&open, "/api/employees", &[]);
        eq(
            String::from_utf8_lossy(&r.body).into_owned(),
            EMPLOYEES.to_owned(),
            "unrestricted: the origin's bytes",
        )
    }),
    ("non_json_is_never_passed_unfiltered", |w| {
        let key = w.key(
            "auth-f",
            r#"{"name":"Restricted","scopes":["read"],"fields":{"employees":["name"]}}"#,
        );
        let r = w.get(&key, "/api/html/page", &[]);
        refused(
            &r,
            502,
            "unfilterable_response",
            "The upstream response could not be filtered to this key's fields",
        )?;
        check(
            !String::from_utf8_lossy(&r.body).contains("not JSON"),
            "origin body leaked",
        )?;
        let open = w.key("auth-f", r#"{"name":"Open","scopes":["read"]}"#);
        let r = w.get(&open, "/api/html/page", &[]);
        eq(
            (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            (200, "<p>not JSON</p>".to_owned()),
            "unrestricted",
        )
    }),
    (
        "plans_without_api_access_refuse_every_key_from_the_next_request",
        |w| {
            let key = w.key("auth-g", r#"{"name":"Plan","scopes":["read"]}"#);
            let admin = Admin::operator(&w.gateway);
            eq(w.get(&key, "/api/employees", &[]).status, 200, "before")?;
            admin.put_org("auth-g", r#"{"api_access":false}"#);
            let r = w.get(&key, "/api/employees", &[]);
            refused(&r, 403, "api_plan_required", PLAN_REQUIRED)?;
            // A key it could not use is not created, nor is a new secret issued.
            let create = admin.call(
                "POST",
                "/orgs/auth-g/keys",
                Some(r#"{"name":"Created while off","scopes":["read"]}"#),
            );
            eq(
                refusal(&create, 403, "api_plan_required")?.as_str(),
                PLAN_REQUIRED,
                "create",
            )?;
            let listed = admin.call("GET", "/orgs/auth-g/keys", None).json();
            eq(
                listed["keys"].as_array().map(Vec::len),
                Some(1),
                "nothing created",
            )?;
            let id = listed["keys"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let rotate = admin.call("POST", &format!("/orgs/auth-g/keys/{id}/rotate"), None);
            refusal(&rotate, 403, "api_plan_required")?;
            admin.put_org("auth-g", r#"{"api_access":true}"#);
            eq(
                w.get(&key, "/api/employees", &[]).status,
                200,
                "back on, the same secret",
            )
        },
    ),
    ("scopes_for_resources_the_policy_lacks_are_refused", |w| {
        let admin = Admin::operator(&w.gateway);
        admin.put_org("auth-h", r#"{"plan":"pro"}"#);
        let r = admin.call(
            "POST",
            "/orgs/auth-h/keys",
            Some(r#"{"name":"Payroll","scopes":["payroll:read"]}"#),
        );
        eq(r.status, 400, "status")?;
        let m = r.json()["message"].as_str().unwrap_or_default().to_owned();
        check(m.starts_with("Invalid scope: payroll:read"), &m)
    }),
    ("the_origin_can_verify_the_signed_identity", |w| {
        let key = w.key(
            "auth-i",
            r#"{"name":"Signed","scopes":["read","employees:read"],"meta":{"team":"Zürich"},
                "resources":{"team":["t1","t2"]},"owner":"ada@example.com"}"#,
        );
        let path = "/api/employees/42?fields=a,b&q=%C3%A9";
        w.get(
            &key,
            path,
            &[
                ("x-keygate-key-id", "key_forged"),
                ("x-keygate-signature", "v1=forged"),
            ],
        );
        let seen = w.origin.only("/api/employees/42");
        let h = |n: &str| seen.header(n).unwrap_or_default().to_owned();
        check(
            h("x-keygate-key-id").starts_with("key_") && h("x-keygate-key-id") != "key_forged",
            "forged id replaced",
        )?;
        eq(h("x-keygate-org").as_str(), "auth-i", "org")?;
        eq(
            h("x-keygate-scopes").as_str(),
            "read,employees:read",
            "scopes",
        )?;
        eq(
            serde_json::from_str::<serde_json::Value>(&h("x-keygate-meta")).ok(),
            Some(serde_json::json!({"team": "Zürich"})),
            "meta",
        )?;
        eq(
            h("x-keygate-resources").as_str(),
            "team=t1&team=t2",
            "resources",
        )?;
        eq(h("x-keygate-owner").as_str(), "ada@example.com", "owner")?;
        let headers: serde_json::Map<String, serde_json::Value> = seen
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let tampered = |name: &str, value: &str| {
            let mut changed = headers.clone();
            changed.insert(name.into(), value.into());
            changed
        };
        let cases = serde_json::json!([
            {"secret": SIGNING_SECRET, "method": "GET", "target": seen.url, "headers": headers},
            {"secret": SIGNING_SECRET, "method": "GET", "target": seen.url, "headers": tampered("x-keygate-scopes", "admin")},
            {"secret": SIGNING_SECRET, "method": "GET", "target": seen.url, "headers": tampered("x-keygate-resources", "team=t1")},
            {"secret": SIGNING_SECRET, "method": "GET", "target": seen.url, "headers": tampered("x-keygate-owner", "mallory@example.com")},
            {"secret": "wrong secret", "method": "GET", "target": seen.url, "headers": headers},
            {"secret": SIGNING_SECRET, "method": "POST", "target": seen.url, "headers": headers},
        ])
        .to_string();
        let python = run_snippet(
            "<!-- verify-python -->",
            "python3",
            &["-c"],
            PYTHON_DRIVER,
            &cases,
        )?;
        eq(
            python.as_str(),
            "True\nFalse\nFalse\nFalse\nFalse\nFalse",
            "python verification",
        )?;
        let node = run_snippet("<!-- verify-node -->", "node", &["-e"], NODE_DRIVER, &cases)?;
        eq(
            node.as_str(),
            "True\nFalse\nFalse\nFalse\nFalse\nFalse",
            "node verification",
        )
    }),
    ("the_policy_is_served_to_admins", |w| {
        refusal(
            &send(&w.gateway, "GET", "/_keygate/v1/policy", &[], None),
            401,
            "unauthorized",
        )?;
        let m = refusal(
            &Admin::operator(&w.gateway).call("GET", "/policy?limit=0", None),
            400,
            "invalid_request",
        )?;
        check(m.contains("limit: unknown parameter"), &m)?;
        let r = Admin::operator(&w.gateway).call("GET", "/policy", None);
        eq(r.status, 200, "status")?;
        let policy = r.json();
        eq(
            (
                policy["default"].as_str(),
                policy["case"].as_str(),
                policy["write"].clone(),
            ),
            (
                Some("deny"),
                Some("sensitive"),
                serde_json::json!(["create", "update", "delete"]),
            ),
            "settings",
        )?;
        eq(
            policy["resources"].clone(),
            serde_json::json!([
                {"name": "documents", "actions": ["download"], "id_types": ["team"], "fields": []},
                {"name": "employees", "actions": ["read", "create", "update", "delete"], "id_types": [],
                 "fields": ["name", "start_date", "salary", "address.city"]},
                {"name": "stats", "actions": ["read"], "id_types": ["site"], "fields": []}
            ]),
            "resources",
        )?;
        eq(
            policy["rules"][0].clone(),
            serde_json::json!({"methods": ["GET"], "path": "/api/sites/:siteId/stats",
                "resource": "stats", "actions": ["read"], "requires": [], "ids": {"site": "path:siteId"},
                "envelope": null, "fields": []}),
            "first rule",
        )?;
        eq(
            policy["rules"].as_array().map(Vec::len),
            Some(5),
            "every rule",
        )?;
        // Not an organization's: any organization's admin-scoped key reads it, others do not.
        let admin_key = w.key("auth-p", r#"{"name":"Org admin","scopes":["admin"]}"#);
        eq(
            Admin::bearer(&w.gateway, &admin_key)
                .call("GET", "/policy", None)
                .json(),
            policy,
            "an organization admin reads the same policy",
        )?;
        let reader = w.key("auth-p", r#"{"name":"Reader","scopes":["read"]}"#);
        refusal(
            &Admin::bearer(&w.gateway, &reader).call("GET", "/policy", None),
            403,
            "insufficient_scope",
        )
        .map(drop)
    }),
    ("a_field_the_policy_does_not_declare_is_a_400", |w| {
        let admin = Admin::operator(&w.gateway);
        admin.put_org("auth-q", r#"{"plan":"enterprise"}"#);
        let (_, id) = admin.create_key(
            "auth-q",
            r#"{"name":"Calendar","scopes":["read"],"fields":{"employees":["name","address.city"]}}"#,
        );
        let typo = "fields.employees: unknown field \"strat_date\" for resource employees (the API policy allows name, start_date, salary, address.city)";
        let r = admin.call(
            "POST",
            "/orgs/auth-q/keys",
            Some(
                r#"{"name":"Typo","scopes":["read"],"fields":{"employees":["name","strat_date"]}}"#,
            ),
        );
        eq(
            refusal(&r, 400, "invalid_request")?,
            typo.to_owned(),
            "create",
        )?;
        eq(
            admin.call("GET", "/orgs/auth-q", None).json()["key_count"].as_u64(),
            Some(1),
            "nothing was created",
        )?;
        // A resource no rule names: the restriction would never apply, and the key would
        // receive every field.
        let r = admin.call(
            "POST",
            "/orgs/auth-q/keys",
            Some(r#"{"name":"Typo","scopes":["read"],"fields":{"employee":["name"]}}"#),
        );
        let m = refusal(&r, 400, "invalid_request")?;
        check(m.starts_with("fields: unknown resource \"employee\""), &m)?;
        eq(
            admin.call("GET", "/orgs/auth-q", None).json()["key_count"].as_u64(),
            Some(1),
            "nothing was created",
        )?;
        let path = format!("/orgs/auth-q/keys/{id}");
        let r = admin.call(
            "PATCH",
            &path,
            Some(r#"{"fields":{"employees":["strat_date"]}}"#),
        );
        eq(
            refusal(&r, 400, "invalid_request")?,
            typo.to_owned(),
            "patch",
        )?;
        eq(
            admin.call("GET", &path, None).json()["fields"].clone(),
            serde_json::json!({"employees": ["name", "address.city"]}),
            "nothing was changed",
        )?;
        // Resources whose rules declare no fields keep accepting any path.
        let r = admin.call(
            "PATCH",
            &path,
            Some(r#"{"fields":{"employees":["start_date"],"stats":["anything.at.all"]}}"#),
        );
        eq(r.status, 200, "declared or unchecked fields")
    }),
    ("an_invalid_policy_is_a_500_that_says_what_is_wrong", |w| {
        let r = send(&w.bad_policy, "GET", "/api/x", &[], None);
        eq(r.status, 500, "status")?;
        let body = r.json();
        eq(body["error"].as_str(), Some("configuration_error"), "code")?;
        eq(
            body["message"].as_str(),
            Some(r#"keygate is misconfigured: POLICY: rule 1 (/api/x): unknown action "fly""#),
            "message",
        )
    }),
];

fn main() -> ExitCode {
    run_cases(World::start(), CASES)
}
