//! The admin console in a real browser: headless Chromium (Debian's) driven through WebDriver,
//! against the built worker on workerd in front of a recording origin. An admin signs in,
//! creates a key, copies its secret from the dialog and uses it through the gateway, sees the
//! request in the key's usage, disables, rotates and revokes it, and revokes all keys with the
//! organization's name typed; a wrong credential shows the API's own message. Every case ends
//! with the browser's console free of errors. Screenshots of every page are taken here, at 1280
//! and 390 px wide: into target/console-screenshots/, or into docs/console/ (the committed ones)
//! with `make screenshots`, so `make test` leaves the tree as it was.
//!
//! One browser serves every case, one case at a time (a lock): cases sign in afresh.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use keygate::domain::UnixMillis;
use libtest_mimic::Failed;
use serde_json::{Value, json};
use support::{
    ADMIN_TOKEN, Admin, Browser, Case, Gateway, GatewayOptions, Origin, check, eq, now_ms,
    project_dir, refusal, run_cases, send, send_with_key,
};

/// Reports at `/api/reports` need `reports:read`; everything else is refused (default deny).
const POLICY: &str = r#"{"default":"deny","rules":[
  {"method":"GET","path":"/api/reports","resource":"reports"},
  {"method":["GET","POST"],"path":"/api/sites/:siteId/stats","resource":"stats","ids":{"site":"path:siteId"},
   "fields":["visitors","pages.path"]}
]}"#;

/// WebDriver's Enter and Escape keys.
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

/// The widths every page is shown at: a laptop and a phone.
const WIDTHS: [(u32, u32); 2] = [(1280, 900), (390, 844)];

struct World {
    origin: Origin,
    gateway: Gateway,
    browser: Mutex<Browser>,
}

impl World {
    fn admin(&self) -> Admin<'_> {
        Admin::operator(&self.gateway)
    }

    /// The operator's client, with organization `org` put on the pro plan.
    fn org(&self, org: &str) -> Admin<'_> {
        let admin = self.admin();
        admin.put_org(org, r#"{"plan":"pro"}"#);
        admin
    }

    fn console(&self) -> String {
        self.gateway.url("/_keygate/console/")
    }

    /// The browser, for one case at a time (a case that failed leaves it usable).
    fn browser(&self) -> std::sync::MutexGuard<'_, Browser> {
        self.browser.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `GET /api/reports` with `key`: the status.
    fn use_key(&self, key: &str) -> u16 {
        send_with_key(&self.gateway, key, "GET", "/api/reports", &[], None).status
    }
}

/// Opens the console signed out, at `width`.
fn fresh(w: &World, b: &Browser, width: (u32, u32)) -> Result<(), Failed> {
    b.viewport(width.0, width.1)?;
    b.goto(&w.console())?;
    b.script("sessionStorage.clear(); location.hash = '#/'", vec![])?;
    b.goto(&w.console())?;
    b.control("Admin token or admin API key")?;
    Ok(())
}

/// Signs in with `credential` (and `org` for an organization's key).
fn sign_in(w: &World, b: &Browser, credential: &str, org: Option<&str>) -> Result<(), Failed> {
    fresh(w, b, WIDTHS[0])?;
    b.control("Admin token or admin API key")?
        .fill(credential)?;
    if let Some(org) = org {
        b.control("Organization")?.fill(org)?;
    }
    b.button("Sign in")?.click()?;
    b.find_text("button", "Sign out")?;
    Ok(())
}

/// Saves the page (or the open dialog, as the screen shows it) as <name>-<width>.png in
/// `CONSOLE_SCREENSHOTS` (a directory under the project; `make screenshots` gives docs/console),
/// else target/console-screenshots.
fn shoot(b: &Browser, name: &str) -> Result<(), Failed> {
    let width = b.script("return window.innerWidth", vec![])?;
    let dialog =
        b.script("return !!document.querySelector('dialog[open]')", vec![])? == json!(true);
    // Fonts and the last answer settle before the picture.
    b.script_async(
        "const done = arguments[0]; document.fonts.ready.then(() => requestAnimationFrame(() => done(true)))",
        vec![],
    )?;
    let dir = std::env::var("CONSOLE_SCREENSHOTS")
        .unwrap_or_else(|_| "target/console-screenshots".to_owned());
    let dir = project_dir().join(dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path: PathBuf = dir.join(format!("{name}-{width}.png"));
    b.screenshot(&path, !dialog)?;
    Ok(())
}

/// The page fits its width: nothing runs off the side of a 390 px phone.
fn fits(b: &Browser, page: &str) -> Result<(), Failed> {
    let sizes = b.script(
        "return [document.documentElement.scrollWidth, window.innerWidth, [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.checkVisibility() && !e.closest('.table-wrap, .tabs')).map(e => e.tagName + '.' + e.className).slice(0, 5)]",
        vec![],
    )?;
    check(
        sizes[0].as_u64() <= sizes[1].as_u64() && sizes[2].as_array().is_some_and(Vec::is_empty),
        &format!("{page} is wider than the screen: {sizes}"),
    )
}

/// No error or warning in the browser's console: script errors, CSP violations and failed
/// loads of the console's own files all fail. A refusal of the management API (`/v1/…`) is
/// an answer the page shows (a wrong credential, the 403 that tells an organization's key
/// from the admin token, a route this keygate does not have yet): Chromium still logs it.
fn console_clean(b: &Browser) -> Result<(), Failed> {
    let problems: Vec<String> = b
        .log()?
        .into_iter()
        .filter(|e| matches!(e.level.as_str(), "SEVERE" | "WARNING"))
        .filter(|e| !(e.source == "network" && e.message.contains("/_keygate/v1/")))
        .map(|e| format!("{} {}: {}", e.level, e.source, e.message))
        .collect();
    check(
        problems.is_empty(),
        &format!("the browser's console: {problems:#?}"),
    )
}

/// The titles of the rows the page lists (key names, event types), once it is not loading.
fn listed(b: &Browser) -> Result<Value, String> {
    b.script(
        "const list = document.querySelector('.list');
         return !list || list.getAttribute('aria-busy') ? null : [...list.querySelectorAll('tbody td.title')].map(td => td.textContent)",
        vec![],
    )
}

/// The key `name` of `org`, as the API shows it.
fn key_named(w: &World, org: &str, name: &str) -> Result<Value, Failed> {
    let keys = w
        .admin()
        .call("GET", &format!("/orgs/{org}/keys"), None)
        .json();
    keys["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["name"] == name).cloned())
        .ok_or_else(|| format!("no key named {name} in {org}: {keys}").into())
}

/// The secret in the open one-time dialog, copied with its Copy button and read back from
/// the clipboard; it must be the text the dialog shows.
fn copy_secret(b: &Browser) -> Result<String, Failed> {
    b.wait_text("This API key will not be visible in the future. Please copy it now.")?;
    let shown = b.find("dialog[open] .secret")?.property("value")?;
    b.button("Copy")?.click()?;
    b.wait_text("Copied to the clipboard.")?;
    // As a user who allowed this page to read the clipboard (a permission of its origin).
    b.grant("clipboard-read")?;
    let copied = b.script_async(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('refused: ' + e))",
        vec![],
    )?;
    eq(
        copied.clone(),
        shown,
        "the clipboard holds the secret shown",
    )?;
    Ok(copied.as_str().unwrap_or_default().to_owned())
}

/// Every case, in the order they run.
const CASES: &[Case<World>] = support::cases![
    the_console_is_served_with_strict_headers_and_no_credential,
    a_wrong_credential_shows_the_apis_message,
    a_refused_key_is_told_in_the_dialog_by_keyboard_alone,
    an_admin_creates_a_key_copies_it_and_uses_it_through_the_gateway,
    the_policy_and_usage_series_shape_the_dialog_and_the_charts,
    revoke_all_needs_the_organizations_name_typed,
    an_organization_admin_key_manages_its_own_organization,
    every_page_is_readable_at_1280_and_390_px,
];

fn the_console_is_served_with_strict_headers_and_no_credential(w: &World) -> Result<(), Failed> {
    let bare = send(&w.gateway, "GET", "/_keygate/console", &[], None);
    eq(bare.status, 308, "the folder without its slash redirects")?;
    eq(
        bare.header("location"),
        Some("/_keygate/console/"),
        "to the folder",
    )?;
    let page = send(&w.gateway, "GET", "/_keygate/console/", &[], None);
    eq(page.status, 200, "the page needs no credential")?;
    eq(
        page.header("content-type"),
        Some("text/html; charset=utf-8"),
        "html",
    )?;
    eq(
        page.header("content-security-policy"),
        Some(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
        "CSP",
    )?;
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ] {
        eq(page.header(name), Some(value), name)?;
    }
    let html = page.text();
    check(
        !html.contains("<script>") && !html.contains(" style=") && !html.contains("<style"),
        "no inline script or style",
    )?;
    check(
        !html.contains("http"),
        "no address elsewhere: every file is the worker's",
    )?;
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("the page names its script")?;
    check(script.starts_with("app.js?v="), "the script is versioned")?;
    let js = send(
        &w.gateway,
        "GET",
        &format!("/_keygate/console/{script}"),
        &[],
        None,
    );
    eq(js.status, 200, "script")?;
    eq(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8"),
        "script type",
    )?;
    eq(
        js.header("cache-control"),
        Some("public, max-age=31536000, immutable"),
        "kept",
    )?;
    check(
        js.header("content-security-policy").is_some(),
        "CSP on assets",
    )?;
    let css = send(&w.gateway, "GET", "/_keygate/console/app.css", &[], None);
    eq(
        css.header("content-type"),
        Some("text/css; charset=utf-8"),
        "style type",
    )?;
    let icon = send(
        &w.gateway,
        "HEAD",
        "/_keygate/console/favicon.svg",
        &[],
        None,
    );
    eq(
        (icon.status, icon.header("content-type")),
        (200, Some("image/svg+xml")),
        "icon",
    )?;
    refusal(
        &send(
            &w.gateway,
            "GET",
            "/_keygate/console/secrets.txt",
            &[],
            None,
        ),
        404,
        "not_found",
    )?;
    refusal(
        &send(&w.gateway, "POST", "/_keygate/console/", &[], Some(b"x")),
        405,
        "method_not_allowed",
    )?;
    // Refusals under the console's path carry its headers too: a 404, a 405, and the 400 for a
    // path keygate will not read.
    for (method, path, status) in [
        ("GET", "/_keygate/console/nope", 404),
        ("DELETE", "/_keygate/console/", 405),
        ("GET", "/_keygate/console//", 400),
        ("GET", "/_keygate/console/;x", 400),
    ] {
        let r = send(&w.gateway, method, path, &[], None);
        eq(r.status, status, path)?;
        for name in [
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
        ] {
            check(
                r.header(name).is_some(),
                &format!("{method} {path}: {name}"),
            )?;
        }
    }
    Ok(())
}

fn a_wrong_credential_shows_the_apis_message(w: &World) -> Result<(), Failed> {
    let b = w.browser();
    // What the API says to this credential, word for word, is what the page must show.
    let wrong = "not-the-admin-token";
    let api = send_with_key(&w.gateway, wrong, "GET", "/_keygate/v1/orgs", &[], None);
    let message = refusal(&api, 401, "unauthorized")?;
    fresh(w, &b, WIDTHS[0])?;
    b.control("Admin token or admin API key")?.fill(wrong)?;
    b.button("Sign in")?.click()?;
    let shown = b.find("[role=alert]")?.text()?;
    check(
        shown.contains(&message) && shown.contains("unauthorized"),
        &format!("the page shows {shown:?}, the API said {message:?}"),
    )?;
    let stored = b.script("return sessionStorage.length", vec![])?;
    eq(stored, json!(0), "a refused credential is not kept")?;
    check(!b.url()?.contains(wrong), "never in the address")?;
    shoot(&b, "signin-refused")?;
    console_clean(&b)
}

fn a_refused_key_is_told_in_the_dialog_by_keyboard_alone(w: &World) -> Result<(), Failed> {
    let org = "console-keys";
    let admin = w.org(org);
    // What the API says to a two-letter name without scopes, word for word.
    let body = r#"{"name":"ab","scopes":[],"expires_in_days":90}"#;
    let refused = admin.call("POST", &format!("/orgs/{org}/keys"), Some(body));
    let message = refusal(&refused, 400, "invalid_request")?;
    let b = w.browser();
    sign_in(w, &b, ADMIN_TOKEN, None)?;
    b.goto(&format!("{}#/orgs/{org}/keys", w.console()))?;
    b.wait_text("No keys yet.")?;
    // Enter in the name field submits the dialog; Esc closes it and gives the focus back.
    b.button("Create key")?.click()?;
    b.control("Name")?.type_text(&format!("ab{ENTER}"))?;
    b.find_text("dialog [role=alert]", &message)?;
    b.control("Name")?.type_text(ESCAPE)?;
    b.wait("the dialog to close", || {
        let open = b.script("return !!document.querySelector('dialog')", vec![])?;
        Ok((open == json!(false)).then_some(()))
    })?;
    let focused = b.script("return document.activeElement.textContent", vec![])?;
    eq(
        focused,
        json!("Create key"),
        "the focus is back on the opener",
    )?;
    eq(
        admin.call("GET", &format!("/orgs/{org}/keys"), None).json()["keys"].clone(),
        json!([]),
        "nothing was created",
    )?;
    console_clean(&b)
}

fn an_admin_creates_a_key_copies_it_and_uses_it_through_the_gateway(
    w: &World,
) -> Result<(), Failed> {
    let org = "console-flow";
    w.org(org);
    let b = w.browser();
    sign_in(w, &b, ADMIN_TOKEN, None)?;
    let stored = b.script(
        "return sessionStorage.getItem('keygate.console.session')",
        vec![],
    )?;
    check(
        stored.as_str().is_some_and(|s| s.contains(ADMIN_TOKEN)),
        "the credential is in sessionStorage",
    )?;
    check(!b.url()?.contains(ADMIN_TOKEN), "and never in the address")?;
    b.find_text("a", org)?.click()?;
    b.wait_text("No keys yet.")?;

    // Create: a name, a scope of the policy, 30 days.
    b.button("Create key")?.click()?;
    b.control("Name")?.fill("Reporting Integration")?;
    b.control("Other scopes")?.fill("reports:read")?;
    b.control("30 days")?.click()?;
    b.button("Create key")?.click()?;
    let key = copy_secret(&b)?;
    let created = key_named(w, org, "Reporting Integration")?;
    eq(created["scopes"].clone(), json!(["reports:read"]), "scopes")?;
    let expires = created["expires_at"].as_str().ok_or("an expiry")?;
    let days = (UnixMillis::parse_rfc3339(expires)
        .ok_or("RFC 3339")?
        .0
        .saturating_sub(now_ms())) as f64
        / 86_400_000.0;
    check((29.9..=30.0).contains(&days), &format!("30 days: {days}"))?;

    // The copied secret works through the gateway: the origin receives the request.
    let before = w.origin.seen("/api/reports").len();
    eq(w.use_key(&key), 200, "the copied key gets through")?;
    let seen = w.origin.seen("/api/reports");
    eq(seen.len(), before + 1, "the origin received it")?;
    eq(
        seen.last().and_then(|s| s.header("x-keygate-key-id")),
        created["id"].as_str(),
        "as this key",
    )?;
    b.button("Done")?.click()?;

    // The key's page shows the request, and charts when this keygate keeps them.
    b.wait_text("GET /api/reports")?;
    let all_time = b.find_text(".tile", "All time")?.text()?;
    check(all_time.starts_with('1'), &format!("all time: {all_time}"))?;
    let id = created["id"].as_str().unwrap_or_default();
    let series = w.admin().call(
        "GET",
        &format!("/orgs/{org}/keys/{id}/usage?series=hour"),
        None,
    );
    if series.json()["buckets"].is_array() {
        let charts = b.script(
            "return document.querySelectorAll('figure.chart svg rect.admitted').length",
            vec![],
        )?;
        eq(charts, json!(48 + 30), "a bar per hour and per day")?;
    } else {
        b.wait_text("No chart data")?;
    }
    check(
        b.text_of_page()?.contains("reports:read"),
        "scopes on the key's page",
    )?;

    // Edit: only what changed is sent; the page shows it.
    b.button("Edit")?.click()?;
    b.control("Name")?.fill("Reporting (EU)")?;
    b.button("Save changes")?.click()?;
    b.wait_text("Changes saved.")?;
    b.find_text("h1", "Reporting (EU)")?;
    eq(
        key_named(w, org, "Reporting (EU)")?["scopes"].clone(),
        json!(["reports:read"]),
        "the scopes stay",
    )?;

    // Disable: the gateway refuses it; enable: it works again.
    b.button("Disable")?.click()?;
    b.wait_text("is disabled: the gateway refuses it")?;
    refusal(
        &send_with_key(&w.gateway, &key, "GET", "/api/reports", &[], None),
        401,
        "disabled_api_key",
    )?;
    b.button("Enable")?.click()?;
    b.wait_text("is enabled again")?;
    eq(w.use_key(&key), 200, "enabled again")?;

    // Rotate with no grace: the new secret works, the old one stops at once.
    b.button("Rotate")?.click()?;
    b.control("None: the old secret stops at once")?.click()?;
    b.button("Rotate key")?.click()?;
    let rotated = copy_secret(&b)?;
    b.wait_text("The previous secret no longer works.")?;
    check(rotated != key, "a new secret")?;
    eq(w.use_key(&rotated), 200, "the new secret")?;
    eq(w.use_key(&key), 401, "the old secret")?;
    b.button("Done")?.click()?;
    b.wait_text("key_rotated")?;

    // Revoke, confirmed.
    b.button("Revoke")?.click()?;
    b.wait_text("This cannot be undone")?;
    b.button("Revoke key")?.click()?;
    b.wait_text("API key revoked successfully")?;
    eq(w.use_key(&rotated), 401, "revoked")?;
    b.wait_text("No keys yet.")?;
    console_clean(&b)
}

fn the_policy_and_usage_series_shape_the_dialog_and_the_charts(w: &World) -> Result<(), Failed> {
    let org = "console-policy";
    w.org(org);
    let b = w.browser();
    sign_in(w, &b, ADMIN_TOKEN, None)?;
    b.goto(&format!("{}#/orgs/{org}/keys", w.console()))?;
    b.wait_text("No keys yet.")?;
    // The dialog offers what GET /v1/policy describes: the suite's POLICY.
    b.button("Create key")?.click()?;
    b.control("Name")?.fill("Berlin stats")?;
    b.find("[aria-label='stats scopes'] input[value='stats:read']")?
        .click()?;
    b.find_text("summary", "Resources and fields")?.click()?;
    b.control("site ids")?.fill("site_berlin")?;
    b.find("input[value='visitors']")?.click()?;
    b.control("7 days")?.click()?;
    shoot(&b, "create-key-policy")?;
    b.button("Create key")?.click()?;
    let key = copy_secret(&b)?;
    b.button("Done")?.click()?;
    b.find_text("h1", "Berlin stats")?;
    let created = key_named(w, org, "Berlin stats")?;
    eq(
        (
            created["scopes"].clone(),
            created["resources"].clone(),
            created["fields"].clone(),
        ),
        (
            json!(["stats:read"]),
            json!({"site": ["site_berlin"]}),
            json!({"stats": ["visitors"]}),
        ),
        "what the dialog offered is what the key holds",
    )?;
    let stats = |site: &str| {
        send_with_key(
            &w.gateway,
            &key,
            "GET",
            &format!("/api/sites/{site}/stats"),
            &[],
            None,
        )
    };
    eq(stats("site_berlin").status, 200, "its site")?;
    refusal(&stats("site_paris"), 403, "resource_forbidden")?;
    // The charts draw the series keygate keeps per hour and per day: a bar per bucket.
    b.button("Disable")?.click()?;
    b.wait_text("is disabled")?;
    // The page is drawn again after the change; its activity arrives after its settings.
    let bars = b.wait("the charts of the key, drawn again", || {
        let bars = b.script(
            r#"return [...document.querySelectorAll('[aria-label="Key actions"] button')].some(b => b.textContent === 'Enable') ? [...document.querySelectorAll('figure.chart svg')].map(s => [s.querySelectorAll('rect.admitted').length, s.getAttribute('aria-label')]) : []"#,
            vec![],
        )?;
        Ok((bars.as_array().is_some_and(|a| a.len() == 2)).then_some(bars))
    })?;
    eq(bars[0][0].clone(), json!(48), "a bar per hour")?;
    eq(bars[1][0].clone(), json!(30), "a bar per day")?;
    check(
        bars[0][1]
            .as_str()
            .is_some_and(|l| l.contains("admitted and")),
        "each chart says what it shows",
    )?;
    shoot(&b, "key-charts")?;
    console_clean(&b)
}

fn revoke_all_needs_the_organizations_name_typed(w: &World) -> Result<(), Failed> {
    let org = "console-bulk";
    let admin = w.org(org);
    let keys: Vec<String> = (0..2)
        .map(|i| {
            admin
                .create_key(
                    org,
                    &format!(r#"{{"name":"Bulk {i}","scopes":["reports:read"]}}"#),
                )
                .0
        })
        .collect();
    let b = w.browser();
    sign_in(w, &b, ADMIN_TOKEN, None)?;
    b.goto(&format!("{}#/orgs/{org}/keys", w.console()))?;
    b.find_text("a", "Bulk 1")?;
    // The search narrows the list as it is typed, and the address keeps it.
    b.control("Search by name")?.type_text("bulk 1")?;
    b.wait("the search to narrow the list", || {
        Ok((listed(&b)? == json!(["Bulk 1"])).then_some(()))
    })?;
    check(
        b.url()?.contains("q=bulk+1"),
        "the filter is in the address",
    )?;
    b.button("Revoke ALL keys")?.click()?;
    b.wait_text("This process cannot be reversed")?;
    let confirm = b.button("Revoke ALL keys")?;
    eq(
        confirm.property("disabled")?,
        json!(true),
        "not before typing",
    )?;
    let typed = b.control(&format!("Type {org} to confirm"))?;
    typed.fill("console-bul")?;
    eq(
        confirm.property("disabled")?,
        json!(true),
        "not a near miss",
    )?;
    typed.type_text("k")?;
    eq(
        confirm.property("disabled")?,
        json!(false),
        "the exact name",
    )?;
    for key in &keys {
        eq(w.use_key(key), 200, "still working before the confirmation")?;
    }
    confirm.click()?;
    b.wait_text("2 API keys revoked")?;
    for key in &keys {
        eq(w.use_key(key), 401, "revoked")?;
    }
    // The list comes back with the search it had.
    b.wait_text("No key matches.")?;
    console_clean(&b)
}

fn an_organization_admin_key_manages_its_own_organization(w: &World) -> Result<(), Failed> {
    let org = "console-self";
    let admin = w.org(org);
    let (own, _) = admin.create_key(org, r#"{"name":"Org admin","scopes":["admin"]}"#);
    let b = w.browser();
    fresh(w, &b, WIDTHS[0])?;
    b.control("Admin token or admin API key")?.fill(&own)?;
    b.button("Sign in")?.click()?;
    b.wait_text("This is an organization's admin key: enter the id of its organization.")?;
    // Another organization: the API's refusal, as it words it.
    admin.put_org("console-other", r#"{"plan":"free"}"#);
    let other = send_with_key(
        &w.gateway,
        &own,
        "GET",
        "/_keygate/v1/orgs/console-other",
        &[],
        None,
    );
    let message = refusal(&other, 403, "forbidden")?;
    b.control("Organization")?.fill("console-other")?;
    b.button("Sign in")?.click()?;
    b.find_text("[role=alert]", &message)?;
    b.control("Organization")?.fill(org)?;
    b.button("Sign in")?.click()?;
    b.wait_text(&format!("Admin key of {org}"))?;
    b.find_text("a", "Org admin")?;
    // Settings only the admin token may change say so, and cannot be sent.
    b.find_text(".tabs a", "Settings")?.click()?;
    b.wait_text("Only the admin token can change this.")?;
    b.find_text("button", "Sign out")?.click()?;
    b.control("Admin token or admin API key")?;
    eq(
        b.script("return sessionStorage.length", vec![])?,
        json!(0),
        "sign out forgets the credential",
    )?;
    console_clean(&b)
}

/// An organization as an admin knows it: keys of every status with use, an audit log, a
/// webhook. Returns the id of the busiest key.
fn seed(w: &World, org: &str) -> Result<String, Failed> {
    let admin = w.org(org);
    let soon = UnixMillis(now_ms() + 12 * 86_400_000).to_string();
    let (reporting, reporting_id) = admin.create_key(
        org,
        r#"{"name":"Reporting Integration","scopes":["reports:read","stats:read"],"expires_in_days":90,"resources":{"site":["site_berlin","site_paris"]},"rate_limits":[{"name":"minute","limit":300,"window_seconds":60},{"name":"day","limit":50000,"window_seconds":86400}],"meta":{"team":"data"}}"#,
    );
    let (dashboard, _) = admin.create_key(
        org,
        &format!(r#"{{"name":"Dashboard","scopes":["read"],"expires_at":"{soon}"}}"#),
    );
    let (_, ci) = admin.create_key(
        org,
        r#"{"name":"CI pipeline","scopes":["write","reports:read"],"expires_in_days":30}"#,
    );
    admin.create_key(org, r#"{"name":"Org admin","scopes":["admin"]}"#);
    admin.call(
        "PATCH",
        &format!("/orgs/{org}/keys/{ci}"),
        Some(r#"{"enabled":false}"#),
    );
    for _ in 0..6 {
        eq(w.use_key(&reporting), 200, "reporting")?;
    }
    for _ in 0..2 {
        let r = send_with_key(
            &w.gateway,
            &reporting,
            "GET",
            "/api/sites/site_tokyo/stats",
            &[],
            None,
        );
        eq(r.status, 403, "a site the key does not hold")?;
    }
    let outside = send_with_key(&w.gateway, &dashboard, "GET", "/api/admin", &[], None);
    refusal(&outside, 403, "route_not_allowed")?;
    eq(w.use_key(&dashboard), 200, "read reads reports")?;
    let hook = admin.call(
        "POST",
        &format!("/orgs/{org}/webhooks"),
        Some(
            &json!({"url": format!("{}/hooks/keygate", w.origin.url()), "events": ["key.expiring", "key.revoked", "key.leaked"]})
                .to_string(),
        ),
    );
    eq(hook.status, 201, "webhook")?;
    Ok(reporting_id)
}

fn every_page_is_readable_at_1280_and_390_px(w: &World) -> Result<(), Failed> {
    let org = "acme";
    let busiest = seed(w, org)?;
    let b = w.browser();
    for width in WIDTHS {
        fresh(w, &b, width)?;
        shoot(&b, "signin")?;
        b.control("Admin token or admin API key")?
            .fill(ADMIN_TOKEN)?;
        b.button("Sign in")?.click()?;
        b.find_text("a", org)?;
        fits(&b, "organizations")?;
        shoot(&b, "orgs")?;

        b.goto(&format!("{}#/orgs/{org}/keys", w.console()))?;
        b.find_text("a", "Reporting Integration")?;
        b.wait_text("used ")?;
        fits(&b, "keys")?;
        shoot(&b, "keys")?;

        b.button("Create key")?.click()?;
        b.control("Name")?.fill("Billing export")?;
        b.control("read")?.click()?;
        fits(&b, "the create dialog")?;
        shoot(&b, "create-key")?;
        b.button("Create key")?.click()?;
        b.wait_text("Please copy it now.")?;
        shoot(&b, "secret")?;
        b.button("Done")?.click()?;
        // Done opens the new key's page: only then elsewhere.
        b.find_text("h1", "Billing export")?;

        b.goto(&format!("{}#/orgs/{org}/keys/{busiest}", w.console()))?;
        b.wait_text("GET /api/sites/site_tokyo/stats")?;
        b.wait_text("key_created")?;
        fits(&b, "the key's page")?;
        shoot(&b, "key")?;
        b.button("Rotate")?.click()?;
        shoot(&b, "rotate")?;
        b.button("Cancel")?.click()?;
        b.button("Revoke")?.click()?;
        shoot(&b, "revoke")?;
        b.button("Cancel")?.click()?;

        b.goto(&format!("{}#/orgs/{org}/keys", w.console()))?;
        b.button("Revoke ALL keys")?.click()?;
        b.control(&format!("Type {org} to confirm"))?.fill("acm")?;
        shoot(&b, "revoke-all")?;
        b.button("Cancel")?.click()?;

        b.find_text(".tabs a", "Audit log")?.click()?;
        b.wait_text("key_created")?;
        fits(&b, "audit")?;
        shoot(&b, "audit")?;
        b.control("Event")?.select("webhook_created")?;
        b.wait("only webhook_created events", || {
            Ok((listed(&b)? == json!(["webhook_created"])).then_some(()))
        })?;
        // A test event, delivered to the origin, in the endpoint's deliveries.
        b.find_text(".tabs a", "Webhooks")?.click()?;
        b.button("Send test event")?.click()?;
        b.wait_text("A webhook.test event is on its way.")?;
        b.wait("the test delivery", || {
            b.button("Show deliveries")?.click()?;
            let delivered = b.find(".deliveries > *")?.text()?.contains("delivered");
            b.button("Hide deliveries")?.click()?;
            Ok(delivered.then_some(()))
        })?;
        b.button("Show deliveries")?.click()?;
        b.wait_text("webhook.test")?;
        fits(&b, "webhooks")?;
        shoot(&b, "webhooks")?;
        b.find_text(".tabs a", "Settings")?.click()?;
        b.wait_text("Leaked keys")?;
        fits(&b, "settings")?;
        shoot(&b, "settings")?;
        // Keys created for the pictures would fill the plan: the next width starts as this one.
        let made = key_named(w, org, "Billing export")?;
        let id = made["id"].as_str().unwrap_or_default();
        w.admin()
            .call("DELETE", &format!("/orgs/{org}/keys/{id}"), None);
        console_clean(&b)?;
    }
    // Removing an endpoint drops its pending deliveries: asked first, and Cancel keeps it.
    let hooks = || {
        w.admin()
            .call("GET", &format!("/orgs/{org}/webhooks"), None)
            .json()["webhooks"]
            .as_array()
            .map_or(0, Vec::len)
    };
    b.find_text(".tabs a", "Webhooks")?.click()?;
    b.button("Remove")?.click()?;
    b.wait_text("Remove this endpoint?")?;
    b.button("Cancel")?.click()?;
    eq(hooks(), 1, "Cancel keeps the endpoint")?;
    b.button("Remove")?.click()?;
    b.button("Remove endpoint")?.click()?;
    b.wait_text("Endpoint removed, with its pending deliveries.")?;
    eq(hooks(), 0, "removed once confirmed")?;
    console_clean(&b)
}

fn main() -> ExitCode {
    let origin = Origin::start();
    // A bound of 0: the guard decides every request, so a disable or a revoke acts on the
    // next one and the usage shown is exact at once.
    let mut gateway = Gateway::spawn(
        GatewayOptions::new(origin.url())
            .var("POLICY", POLICY.replace('\n', ""))
            .var("REVOCATION_BOUND_MS", "0"),
    );
    let browser = Browser::start(WIDTHS[0].0, WIDTHS[0].1);
    gateway.wait_ready();
    run_cases(
        World {
            origin,
            gateway,
            browser: Mutex::new(browser),
        },
        CASES,
    )
}
