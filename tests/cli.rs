//! The `keygate` CLI end to end: the real binary (`CARGO_BIN_EXE_keygate`) against keygate on
//! workerd. Each case checks what a user sees (stdout, stderr, exit code) and what the API holds
//! afterwards (read with `support::Admin`, which checks every answer against the OpenAPI
//! document). Each case uses its own organization.

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use keygate::domain::{ApiKey, UnixMillis};
use libtest_mimic::Failed;
use serde_json::Value;
use support::{
    ADMIN_TOKEN, Admin, Case, Gateway, GatewayOptions, Origin, check, eq, free_port, now_ms,
    run_cases, send_with_key,
};

struct World {
    _origin: Origin,
    gateway: Gateway,
}

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit code `code`, or a failure showing everything the run printed.
    fn exits(&self, code: i32, what: &str) -> Result<&Run, Failed> {
        if self.code == Some(code) {
            Ok(self)
        } else {
            Err(format!(
                "{what}: exit {:?}, want {code}\nstdout: {}\nstderr: {}",
                self.code, self.stdout, self.stderr
            )
            .into())
        }
    }

    /// Exit 0.
    fn ok(&self, what: &str) -> Result<&Run, Failed> {
        self.exits(0, what)
    }

    fn json(&self) -> Result<Value, Failed> {
        serde_json::from_str(&self.stdout)
            .map_err(|e| format!("stdout is not JSON ({e}): {}", self.stdout).into())
    }
}

/// Runs `keygate args…` with `env` (and no other KEYGATE_ variable), `stdin` as its input.
fn keygate(env: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keygate"));
    command
        .args(args)
        .env_remove("KEYGATE_URL")
        .env_remove("KEYGATE_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start keygate");
    if let Some(mut input) = child.stdin.take() {
        // A command that reads nothing may have exited already: a broken pipe is fine.
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("keygate ran");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl World {
    fn url(&self) -> String {
        self.gateway.url("/_keygate")
    }

    /// `keygate` with the words of `line` (split at spaces) as the operator.
    fn run(&self, line: &str) -> Run {
        self.cli(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// `keygate args…` as the operator, through the environment.
    fn cli(&self, args: &[&str]) -> Run {
        self.cli_as(ADMIN_TOKEN, args, "")
    }

    fn cli_as(&self, token: &str, args: &[&str], stdin: &str) -> Run {
        let url = self.url();
        keygate(
            &[("KEYGATE_URL", &url), ("KEYGATE_TOKEN", token)],
            args,
            stdin,
        )
    }

    fn admin(&self) -> Admin<'_> {
        Admin::operator(&self.gateway)
    }

    /// Creates `org` on `plan` through the CLI.
    fn org(&self, org: &str, plan: &str) -> Result<(), Failed> {
        self.cli(&["orgs", "put", org, "--plan", plan])
            .ok("orgs put")?;
        Ok(())
    }

    /// Creates a key through the CLI; returns `(key, id)`. Its revocation bound is 0, so a
    /// change acts on the next request and its guard counts every request at once.
    fn key(&self, org: &str, name: &str, scope: &str) -> Result<(String, String), Failed> {
        let run = self.cli(&[
            "keys",
            "create",
            org,
            "--name",
            name,
            "--scope",
            scope,
            "--revocation-bound-ms",
            "0",
        ]);
        run.ok("keys create")?;
        let key = run.stdout.trim().to_owned();
        let id = created_id(&run.stderr).ok_or("no key id on stderr")?;
        Ok((key, id))
    }

    /// A request through the gateway with `key`; its status.
    fn use_key(&self, method: &str, key: &str) -> u16 {
        send_with_key(&self.gateway, key, method, "/api/ping", &[], None).status
    }

    /// The key's API view.
    fn view(&self, org: &str, id: &str) -> Value {
        self.admin()
            .call("GET", &format!("/orgs/{org}/keys/{id}"), None)
            .json()
    }

    /// The ids of the organization's live keys, newest first.
    fn live(&self, org: &str) -> Vec<String> {
        ids(&self
            .admin()
            .call("GET", &format!("/orgs/{org}/keys"), None)
            .json())
    }
}

/// The id in `created key_… "name" in org …`.
fn created_id(stderr: &str) -> Option<String> {
    let rest = stderr.split("created ").nth(1)?;
    Some(rest.split_whitespace().next()?.to_owned())
}

fn ids(list: &Value) -> Vec<String> {
    list["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["id"].as_str().map(str::to_owned))
        .collect()
}

/// The lines of a table, header first.
fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Every case, in the order they run.
const CASES: &[Case<World>] = support::cases![
    organizations_are_created_changed_and_shown,
    a_key_is_created_with_every_setting_and_printed_once,
    keys_are_listed_in_an_aligned_table_page_by_page,
    keys_are_filtered_and_sorted,
    update_disable_and_enable_change_the_key,
    rotation_prints_the_new_key_once,
    revoke_removes_the_key,
    usage_and_audit_show_what_happened,
    usage_comes_in_hourly_and_daily_buckets,
    organizations_are_listed,
    the_policy_is_shown,
    a_refusal_is_exit_3_with_the_apis_code_and_message,
    a_usage_error_is_exit_2_and_sends_nothing,
    nothing_listening_is_exit_4,
    revoke_all_needs_the_organization_typed,
    the_token_is_never_printed,
];

fn organizations_are_created_changed_and_shown(w: &World) -> Result<(), Failed> {
    let run = w.run("orgs put cli-orgs --plan pro");
    run.ok("create")?;
    check(run.stdout.contains("plan        pro\n"), &run.stdout)?;
    check(run.stdout.contains("keys        0 of 10\n"), &run.stdout)?;
    w.run("orgs put cli-orgs --api-access false --on-leak disable")
        .ok("change")?;
    let org = w.admin().call("GET", "/orgs/cli-orgs", None).json();
    eq(org["plan"].as_str(), Some("pro"), "plan kept")?;
    eq(org["api_access"].as_bool(), Some(false), "api_access")?;
    eq(org["on_leak"].as_str(), Some("disable"), "on_leak")?;
    let shown = w.run("orgs get cli-orgs --json");
    eq(
        shown.ok("get --json")?.json()?,
        org,
        "--json is the API's answer",
    )?;
    let human = w.run("orgs get cli-orgs");
    check(
        human.ok("get")?.stdout.contains("api access  no\n"),
        &human.stdout,
    )?;
    let missing = w.run("orgs get cli-nobody");
    eq(
        missing.exits(3, "unknown org")?.stderr.as_str(),
        "error: not found (org_not_found): Organization not found\n",
        "stderr",
    )?;
    eq(missing.stdout.as_str(), "", "nothing on stdout")
}

fn a_key_is_created_with_every_setting_and_printed_once(w: &World) -> Result<(), Failed> {
    w.org("cli-create", "pro")?;
    let run = w.cli(&[
        "keys",
        "create",
        "cli-create",
        "--name",
        "CI deploy",
        "--scope",
        "read",
        "--scope",
        "employees:read",
        "--resource",
        "site=s1,s2",
        "--field",
        "employees=name,start_date",
        "--rate-limit",
        "minute=100/60",
        "--expires-in",
        "30d",
        "--meta",
        r#"{"team":"ci"}"#,
        "--revocation-bound-ms",
        "0",
        "--owner",
        "ada@example.com",
    ]);
    run.ok("create")?;
    let key = run.stdout.trim_end_matches('\n');
    check(!key.contains('\n'), "stdout is the key alone")?;
    check(ApiKey::parse(key).is_ok(), "a well-formed key")?;
    check(
        run.stderr
            .contains("warning: the key above is shown this once"),
        &run.stderr,
    )?;
    check(run.stderr.contains("expires in 29 days"), &run.stderr)?;
    eq(w.use_key("GET", key), 200, "the key works")?;
    let id = created_id(&run.stderr).ok_or("no id on stderr")?;
    let view = w.view("cli-create", &id);
    eq(view["name"].as_str(), Some("CI deploy"), "name")?;
    eq(
        view["scopes"].clone(),
        serde_json::json!(["read", "employees:read"]),
        "scopes",
    )?;
    eq(
        view["resources"].clone(),
        serde_json::json!({"site": ["s1", "s2"]}),
        "resources",
    )?;
    eq(
        view["fields"].clone(),
        serde_json::json!({"employees": ["name", "start_date"]}),
        "fields",
    )?;
    eq(
        view["rate_limits"].clone(),
        serde_json::json!([{"name": "minute", "limit": 100, "window_seconds": 60}]),
        "rate_limits",
    )?;
    eq(
        view["meta"].clone(),
        serde_json::json!({"team": "ci"}),
        "meta",
    )?;
    eq(view["revocation_bound_ms"].as_u64(), Some(0), "bound")?;
    eq(view["owner"].as_str(), Some("ada@example.com"), "owner")?;
    let shown = w.run(&format!("keys get cli-create {id}"));
    check(
        shown
            .ok("get")?
            .stdout
            .lines()
            .any(|l| l.starts_with("owner") && l.ends_with("ada@example.com")),
        &shown.stdout,
    )?;
    let expires = UnixMillis::parse_rfc3339(view["expires_at"].as_str().unwrap_or("")).unwrap();
    let days = (expires.0 - now_ms()) as f64 / UnixMillis::DAY as f64;
    check((29.9..30.1).contains(&days), "expires in 30 days")?;
    let json = w.run("keys create cli-create --name Scripted --scope read --json");
    let created = json.ok("create --json")?.json()?;
    check(
        created["key"]
            .as_str()
            .is_some_and(|k| ApiKey::parse(k).is_ok()),
        "--json holds the key",
    )?;
    eq(json.stderr.as_str(), "", "--json prints nothing else")?;
    let refused = w.cli(&["keys", "create", "cli-create", "--name", "No scope"]);
    check(
        refused
            .exits(3, "no scope")?
            .stderr
            .contains("(invalid_request): At least one scope is required"),
        &refused.stderr,
    )
}

fn keys_are_listed_in_an_aligned_table_page_by_page(w: &World) -> Result<(), Failed> {
    w.org("cli-list", "business")?;
    let names = ["First key", "Second key", "Zürich 報告 key"];
    let mut keys = Vec::new();
    for name in names {
        keys.push(w.key("cli-list", name, "read")?);
    }
    let run = w.run("keys list cli-list");
    let table = lines(&run.ok("list")?.stdout);
    eq(table.len(), 4, "header and three keys")?;
    let header = table[0];
    for column in [
        "ID",
        "NAME",
        "KEY",
        "SCOPES",
        "STATUS",
        "LAST USED",
        "REQUESTS",
        "EXPIRES",
    ] {
        check(header.contains(column), column)?;
    }
    let newest_first = names.iter().zip(&keys).rev();
    for (row, (name, (key, id))) in table[1..].iter().zip(newest_first) {
        check(row.starts_with(id.as_str()), "newest first")?;
        // The ID column is ASCII: byte offsets are columns up to the name.
        eq(
            row.find(name),
            header.find("NAME"),
            "the NAME column lines up",
        )?;
        check(!row.contains(key.as_str()), "no full key in a listing")?;
        check(
            row.contains(&format!("{}…", &key[..12])),
            "the masked start",
        )?;
        check(row.contains("never"), "never used, never expires")?;
    }
    check(run.stderr.is_empty(), "no next page")?;
    let first = w.run("keys list cli-list --limit 2");
    eq(lines(&first.ok("page 1")?.stdout).len(), 3, "page 1 rows")?;
    let cursor = first
        .stderr
        .strip_prefix("next page: --cursor ")
        .map(str::trim)
        .ok_or_else(|| format!("no next page hint: {:?}", first.stderr))?;
    let second = w.run(&format!("keys list cli-list --limit 2 --cursor {cursor}"));
    let rows = lines(&second.ok("page 2")?.stdout);
    eq(rows.len(), 2, "page 2 rows")?;
    check(rows[1].starts_with(keys[0].1.as_str()), "the oldest last")?;
    let all = w.run("keys list cli-list --limit 1 --all --json");
    let all = all.ok("--all --json")?.json()?;
    eq(ids(&all).len(), 3, "--all follows every page")?;
    eq(all["next_cursor"].clone(), Value::Null, "and ends")?;
    eq(ids(&all), w.live("cli-list"), "the API's list")
}

/// Needs the list filters and sort of `GET /v1/orgs/{org}/keys` (issue 15, another branch).
fn keys_are_filtered_and_sorted(w: &World) -> Result<(), Failed> {
    w.org("cli-filter", "business")?;
    let (alpha, alpha_id) = w.key("cli-filter", "Alpha reader", "read")?;
    let (_, beta_id) = w.key("cli-filter", "Beta writer", "write")?;
    let expiring = w.cli(&[
        "keys",
        "create",
        "cli-filter",
        "--name",
        "Gamma expiring",
        "--scope",
        "read",
        "--expires-in",
        "30d",
    ]);
    let gamma_id = created_id(&expiring.ok("gamma")?.stderr).ok_or("no id")?;
    w.run(&format!("keys disable cli-filter {beta_id}"))
        .ok("disable")?;
    for _ in 0..2 {
        eq(w.use_key("GET", &alpha), 200, "alpha works")?;
    }
    let list = |flags: &str| -> Result<Vec<String>, Failed> {
        let run = w.run(&format!("keys list cli-filter --json {flags}"));
        Ok(ids(&run.ok(flags)?.json()?))
    };
    eq(
        list("--status disabled")?,
        vec![beta_id.clone()],
        "--status",
    )?;
    eq(list("--search Alpha")?, vec![alpha_id.clone()], "--search")?;
    eq(list("--scope write")?, vec![beta_id.clone()], "--scope")?;
    eq(
        list("--expires-before 60d")?,
        vec![gamma_id.clone()],
        "--expires-before",
    )?;
    // Use reaches the listing's filters within USAGE_REPORT_MS (1 s in this suite).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let unused = list("--unused-since 1h")?;
        check(
            unused.contains(&beta_id),
            "--unused-since: beta was never used",
        )?;
        if !unused.contains(&alpha_id) {
            break;
        }
        check(
            std::time::Instant::now() < deadline,
            "--unused-since: alpha's use never reached the listing",
        )?;
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let by_requests = list("--sort requests --order desc")?;
    eq(
        by_requests.first(),
        Some(&alpha_id),
        "--sort requests --order desc",
    )?;
    let oldest_first = list("--sort created --order asc")?;
    eq(
        oldest_first,
        vec![alpha_id, beta_id, gamma_id],
        "--sort created --order asc",
    )
}

fn update_disable_and_enable_change_the_key(w: &World) -> Result<(), Failed> {
    w.org("cli-update", "pro")?;
    let (key, id) = w.key("cli-update", "Before rename", "read")?;
    let run = w.cli(&[
        "keys",
        "update",
        "cli-update",
        &id,
        "--name",
        "After rename",
        "--scope",
        "write",
        "--rate-limit",
        "hour=500/1h",
    ]);
    check(
        run.ok("update")?.stdout.contains("After rename"),
        &run.stdout,
    )?;
    let view = w.view("cli-update", &id);
    eq(view["name"].as_str(), Some("After rename"), "name")?;
    eq(
        view["scopes"].clone(),
        serde_json::json!(["write"]),
        "scopes",
    )?;
    eq(
        view["rate_limits"][0]["window_seconds"].as_u64(),
        Some(3600),
        "1h window",
    )?;
    let disabled = w.run(&format!("keys disable cli-update {id}"));
    check(
        disabled.ok("disable")?.stdout.contains("disabled"),
        &disabled.stdout,
    )?;
    eq(
        w.view("cli-update", &id)["status"].as_str(),
        Some("disabled"),
        "API status",
    )?;
    eq(w.use_key("GET", &key), 401, "a disabled key is refused")?;
    w.run(&format!("keys enable cli-update {id}"))
        .ok("enable")?;
    eq(w.use_key("GET", &key), 200, "enabled again")?;
    let got = w.run(&format!("keys get cli-update {id} --json"));
    let got = got.ok("get --json")?.json()?;
    eq(got["status"].as_str(), Some("active"), "status")?;
    check(got.get("key").is_none(), "no secret in a get")?;
    let expiry = w.run(&format!("keys update cli-update {id} --expires-in 30d"));
    expiry.exits(2, "update has no expiry flag")?;
    Ok(())
}

fn rotation_prints_the_new_key_once(w: &World) -> Result<(), Failed> {
    w.org("cli-rotate", "pro")?;
    let (old, id) = w.key("cli-rotate", "Rotated key", "read")?;
    let run = w.run(&format!("keys rotate cli-rotate {id} --grace-hours 0"));
    run.ok("rotate")?;
    let new = run.stdout.trim().to_owned();
    check(ApiKey::parse(&new).is_ok() && new != old, "a new key")?;
    check(
        run.stderr.contains("the previous secret no longer works"),
        &run.stderr,
    )?;
    check(run.stderr.contains("warning:"), "the warning")?;
    eq(w.use_key("GET", &new), 200, "the new key works")?;
    eq(w.use_key("GET", &old), 401, "the old one stopped")?;
    let graced = w.run(&format!("keys rotate cli-rotate {id}"));
    check(
        graced
            .ok("rotate, default grace")?
            .stderr
            .contains("works until"),
        &graced.stderr,
    )?;
    eq(
        w.use_key("GET", &new),
        200,
        "the previous secret works in its grace period",
    )
}

fn revoke_removes_the_key(w: &World) -> Result<(), Failed> {
    w.org("cli-revoke", "pro")?;
    let (key, id) = w.key("cli-revoke", "Doomed key", "read")?;
    let run = w.run(&format!("keys revoke cli-revoke {id}"));
    eq(
        run.ok("revoke")?.stdout.as_str(),
        "API key revoked successfully\n",
        "stdout",
    )?;
    eq(w.use_key("GET", &key), 401, "revoked")?;
    let gone = w.run(&format!("keys get cli-revoke {id}"));
    check(
        gone.exits(3, "get a revoked key")?
            .stderr
            .starts_with("error: not found (key_not_found)"),
        &gone.stderr,
    )?;
    eq(w.live("cli-revoke"), Vec::<String>::new(), "no live key")
}

fn usage_and_audit_show_what_happened(w: &World) -> Result<(), Failed> {
    w.org("cli-usage", "pro")?;
    let (key, id) = w.key("cli-usage", "Busy key", "read")?;
    for _ in 0..3 {
        eq(w.use_key("GET", &key), 200, "admitted")?;
    }
    eq(w.use_key("POST", &key), 403, "a read key cannot create")?;
    // The guard records each request as it decides it (bound 0); allow for the write.
    let deadline = Instant::now() + Duration::from_secs(10);
    let usage = loop {
        let run = w.run(&format!("keys usage cli-usage {id} --json"));
        let usage = run.ok("usage --json")?.json()?;
        if usage["requests_total"] == 3 || Instant::now() > deadline {
            break usage;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eq(usage["requests_total"].as_u64(), Some(3), "admitted")?;
    eq(
        usage["refused"].clone(),
        serde_json::json!({"insufficient_scope": 1}),
        "refused",
    )?;
    let human = w.run(&format!("keys usage cli-usage {id}"));
    let text = &human.ok("usage")?.stdout;
    for line in [
        "requests total  3\n",
        "refused         insufficient_scope 1\n",
        "recent requests, newest first:\n",
    ] {
        check(text.contains(line), &format!("{line:?} in\n{text}"))?;
    }
    check(text.contains("/api/ping"), "a recent request")?;
    let listed = w.run("keys list cli-usage");
    let row = lines(&listed.ok("list")?.stdout)[1].to_owned();
    check(
        row.contains("just now"),
        &format!("last used, relative: {row}"),
    )?;
    let audit = w.run("audit cli-usage");
    let table = audit.ok("audit")?.stdout.clone();
    check(table.starts_with("SEQ "), &table)?;
    for kind in ["org_created", "key_created"] {
        check(table.contains(kind), kind)?;
    }
    let created = w.run("audit cli-usage --type key_created --json");
    let events = created.ok("audit --type")?.json()?;
    let events = events["events"].as_array().ok_or("no events")?;
    eq(events.len(), 1, "one key_created")?;
    eq(events[0]["key_id"].as_str(), Some(id.as_str()), "its key")?;
    let recent = w.run(&format!(
        "audit cli-usage --key-id {id} --since 1h --limit 1"
    ));
    eq(
        lines(&recent.ok("audit --key-id --since --limit")?.stdout).len(),
        2,
        "header and one event",
    )?;
    check(
        recent.stderr.starts_with("next page: --cursor "),
        &recent.stderr,
    )
}

/// Needs `?series=` on the usage route (issue 15, another branch).
fn usage_comes_in_hourly_and_daily_buckets(w: &World) -> Result<(), Failed> {
    w.org("cli-series", "pro")?;
    let (key, id) = w.key("cli-series", "Series key", "read")?;
    eq(w.use_key("GET", &key), 200, "admitted")?;
    let hourly = w.run(&format!("keys usage cli-series {id} --series hour --json"));
    let hourly = hourly.ok("--series hour")?.json()?;
    eq(hourly["series"].as_str(), Some("hour"), "series")?;
    eq(
        hourly["buckets"].as_array().map(Vec::len),
        Some(48),
        "48 hours",
    )?;
    let daily = w.run(&format!("keys usage cli-series {id} --series day"));
    let table = lines(&daily.ok("--series day")?.stdout);
    check(table[0].starts_with("DAY"), table[0])?;
    eq(table.len(), 31, "header and 30 days")
}

/// Needs `GET /v1/orgs` (issue 15, another branch).
fn organizations_are_listed(w: &World) -> Result<(), Failed> {
    w.org("cli-listed", "free")?;
    let all = w.run("orgs list --all --limit 2 --json");
    let all = all.ok("orgs list --all")?.json()?;
    let orgs: Vec<&str> = all["orgs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str())
        .collect();
    check(orgs.contains(&"cli-listed"), "the new organization")?;
    let table = w.run("orgs list");
    check(
        table.ok("orgs list")?.stdout.starts_with("ID "),
        &table.stdout,
    )
}

/// Needs `GET /v1/policy` (issue 15, another branch).
fn the_policy_is_shown(w: &World) -> Result<(), Failed> {
    let json = w.run("policy --json");
    let json = json.ok("policy --json")?.json()?;
    eq(json["default"].as_str(), Some("allow"), "default")?;
    eq(json["rules"].as_array().map(Vec::len), Some(2), "rules")?;
    let human = w.run("policy");
    let out = &human.ok("policy")?.stdout;
    let lines: Vec<&str> = out.lines().collect();
    check(lines.first() == Some(&"default: allow"), out)?;
    check(
        lines.contains(&"write means: create, update"),
        &format!("the deployment's write meaning: {out}"),
    )?;
    let row = |path: &str| {
        lines
            .iter()
            .find(|l| l.contains(path))
            .copied()
            .unwrap_or("")
    };
    check(
        row("/api/reports/:id").ends_with("reports:read + employees:read"),
        &format!("a multi-scope rule shows what it requires: {out}"),
    )?;
    check(
        row("/api/employees ").ends_with("employees:read"),
        &format!("a plain rule shows resource:action: {out}"),
    )?;
    check(
        lines
            .iter()
            .any(|l| l.starts_with("employees") && l.ends_with("name,start_date")),
        &format!("filterable fields per resource: {out}"),
    )
}

fn a_refusal_is_exit_3_with_the_apis_code_and_message(w: &World) -> Result<(), Failed> {
    w.org("cli-refused", "pro")?;
    let wrong = w.cli_as("not-the-admin-token", &["orgs", "get", "cli-refused"], "");
    let stderr = &wrong.exits(3, "wrong token")?.stderr;
    check(
        stderr.starts_with("error: unauthorized (unauthorized): "),
        stderr,
    )?;
    check(!stderr.contains("not-the-admin-token"), "the token echoed")?;
    let (reader, _) = w.key("cli-refused", "Reader key", "read")?;
    let scoped = w.cli_as(&reader, &["keys", "list", "cli-refused"], "");
    let stderr = &scoped.exits(3, "a read key")?.stderr;
    check(
        stderr.starts_with("error: forbidden (insufficient_scope): "),
        stderr,
    )?;
    check(!stderr.contains(&reader[8..]), "the key echoed")?;
    let bad_value = w.run("keys list cli-refused --limit 0");
    check(
        bad_value
            .exits(3, "limit 0")?
            .stderr
            .contains("(invalid_request): Invalid query parameter limit"),
        &bad_value.stderr,
    )
}

fn a_usage_error_is_exit_2_and_sends_nothing(w: &World) -> Result<(), Failed> {
    w.org("cli-usage-error", "pro")?;
    let flag = w.run("keys list cli-usage-error --colour");
    check(
        flag.exits(2, "unknown flag")?.stderr.contains("--colour"),
        &flag.stderr,
    )?;
    let value = w.cli(&[
        "keys",
        "create",
        "cli-usage-error",
        "--name",
        "Zero window",
        "--scope",
        "read",
        "--rate-limit",
        "minute=0/60",
    ]);
    check(
        value.exits(2, "bad value")?.stderr.contains("--rate-limit"),
        &value.stderr,
    )?;
    let org = w.run("keys list Not_An_Org");
    org.exits(2, "bad organization id")?;
    let unset = keygate(&[], &["keys", "list", "cli-usage-error"], "");
    check(
        unset
            .exits(2, "no URL or token")?
            .stderr
            .contains("KEYGATE_URL"),
        &unset.stderr,
    )?;
    eq(
        w.live("cli-usage-error"),
        Vec::<String>::new(),
        "nothing created",
    )
}

fn nothing_listening_is_exit_4(_: &World) -> Result<(), Failed> {
    let url = format!("http://127.0.0.1:{}/_keygate", free_port());
    let run = keygate(
        &[("KEYGATE_URL", &url), ("KEYGATE_TOKEN", ADMIN_TOKEN)],
        &["orgs", "get", "acme"],
        "",
    );
    let stderr = &run.exits(4, "connection refused")?.stderr;
    check(
        stderr.starts_with(&format!("error: cannot reach keygate at {url}")),
        stderr,
    )?;
    check(!stderr.contains(ADMIN_TOKEN), "the token echoed")
}

fn revoke_all_needs_the_organization_typed(w: &World) -> Result<(), Failed> {
    w.org("cli-all", "pro")?;
    let (key, _) = w.key("cli-all", "First doomed", "read")?;
    w.key("cli-all", "Second doomed", "read")?;
    let wrong = w.cli_as(ADMIN_TOKEN, &["keys", "revoke-all", "cli-all"], "cli-al\n");
    let stderr = &wrong.exits(1, "wrong name")?.stderr;
    check(
        stderr.contains("Type the organization's id (cli-all) to confirm: "),
        stderr,
    )?;
    check(stderr.contains("nothing was revoked"), stderr)?;
    eq(w.live("cli-all").len(), 2, "both keys live")?;
    eq(w.use_key("GET", &key), 200, "and working")?;
    let closed = w.cli_as(ADMIN_TOKEN, &["keys", "revoke-all", "cli-all"], "");
    closed.exits(1, "no answer")?;
    eq(w.live("cli-all").len(), 2, "still both")?;
    let right = w.cli_as(ADMIN_TOKEN, &["keys", "revoke-all", "cli-all"], "cli-all\n");
    eq(
        right.ok("right name")?.stdout.as_str(),
        "2 API keys revoked\n",
        "stdout",
    )?;
    eq(w.live("cli-all").len(), 0, "none live")?;
    eq(w.use_key("GET", &key), 401, "revoked")?;
    w.key("cli-all", "Third doomed", "read")?;
    let yes = w.run("keys revoke-all cli-all --yes");
    check(
        !yes.ok("--yes")?.stderr.contains("confirm"),
        "--yes asks nothing",
    )?;
    eq(w.live("cli-all").len(), 0, "none live")
}

fn the_token_is_never_printed(w: &World) -> Result<(), Failed> {
    for args in [
        &["--help"][..],
        &["keys", "list", "--help"],
        &["orgs", "--help"],
    ] {
        let run = w.cli(args);
        run.ok("help")?;
        check(!run.stdout.contains(ADMIN_TOKEN), "the token in --help")?;
    }
    let help = w.run("--help");
    for part in ["KEYGATE_URL", "KEYGATE_TOKEN", "Exit codes"] {
        check(help.stdout.contains(part), part)?;
    }
    let flag = keygate(
        &[("KEYGATE_URL", &w.url())],
        &["orgs", "get", "cli-orgs", "--token", "bad token"],
        "",
    );
    check(
        !flag
            .exits(2, "a token with a space")?
            .stderr
            .contains("bad token"),
        &flag.stderr,
    )?;
    Ok(())
}

/// Two rules for `keygate policy` to show; everything else is allowed (to keys with the scope).
const POLICY: &str = r#"{"default":"allow","write":["create","update"],"rules":[
  {"method":"GET","path":"/api/employees","resource":"employees","fields":["name","start_date"],
   "ids":{"site":"header:X-Site"}},
  {"method":"GET","path":"/api/reports/:id","resource":"reports","requires":["reports:read","employees:read"]}]}"#;

fn main() -> ExitCode {
    let origin = Origin::start();
    let gateway = Gateway::start(
        GatewayOptions::new(origin.url())
            .var("USAGE_REPORT_MS", "1000")
            .var("POLICY", POLICY),
    );
    run_cases(
        World {
            _origin: origin,
            gateway,
        },
        CASES,
    )
}
