//! A real browser for the console's tests: Debian's `chromium`, headless, driven by its
//! `chromedriver` through the W3C WebDriver HTTP protocol (a small client on ureq; the few
//! Chromium-only calls go through chromedriver's DevTools passthrough).
//!
//! chromedriver listens on 127.0.0.1 only (without `--allowed-ips` it accepts local clients
//! alone), Chromium's DevTools port is its own loopback one, and the browser runs in a fresh
//! profile. chromedriver starts in a process group of its own, which the browsers it launches
//! join: dropping the handle ends the session and stops the whole group, whatever the tests did.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::host::{die_with_parent, free_port, project_dir};

/// The key under which WebDriver names an element in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a lookup waits for the page to show what it looks for.
const PATIENCE: Duration = Duration::from_secs(15);

/// A headless Chromium session.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:<port>`: chromedriver.
    server: String,
    /// `<server>/session/<id>`: this session.
    session: String,
    profile: PathBuf,
    agent: ureq::Agent,
}

/// An element of the page.
#[derive(Clone)]
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

/// One line of the browser's console (or a network or CSP error it reported).
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`…
    pub level: String,
    /// `javascript`, `console-api`, `network`, `security`…
    pub source: String,
    pub message: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a `width` × `height` window.
    /// Panics with a clear message when either is missing (`scripts/tools.sh browser`).
    pub fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let profile = project_dir()
            .join("target/keygate-tests")
            .join(format!("chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let log = std::fs::File::create(profile.with_extension("log")).expect("chromedriver log");
        let mut command = Command::new("chromedriver");
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        die_with_parent(&mut command);
        let driver = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start chromedriver ({e}): run `scripts/tools.sh browser` (make test does)"
            )
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let server = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            session: server.clone(),
            server,
            profile,
            agent,
        };
        browser.wait_for_driver();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync", "--disable-component-update",
                    "--remote-debugging-address=127.0.0.1", "--hide-scrollbars",
                    format!("--user-data-dir={}", browser.profile.display()),
                    format!("--window-size={width},{height}"),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 15_000},
        }}});
        let answer = browser
            .raw("POST", "/session", Some(capabilities))
            .unwrap_or_else(|e| panic!("chromedriver refused a session: {e}"));
        let id = answer["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.session = format!("{}/session/{id}", browser.server);
        browser
    }

    fn wait_for_driver(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(status) = self.raw("GET", "/status", None)
                && status["ready"] == json!(true)
            {
                return;
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("chromedriver exited ({exit}) before it was ready");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready after 20 s"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command of the server (`/session`, `/status`): its `value`.
    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.request(method, &format!("{}{path}", self.server), body)
    }

    fn request(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json");
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let bytes = if method == "POST" && bytes.is_empty() {
            b"{}".to_vec()
        } else {
            bytes
        };
        let mut response = self
            .agent
            .run(request.body(bytes).unwrap())
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let parsed: Value =
            serde_json::from_str(&text).map_err(|e| format!("{method} {url}: {e}: {text}"))?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if response.status().is_success() {
            Ok(value)
        } else {
            Err(format!(
                "{method} {url}: {} {}",
                value["error"].as_str().unwrap_or("error"),
                value["message"].as_str().unwrap_or(&text)
            ))
        }
    }

    /// A command of this session (`/url`, `/element`…).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.request(method, &format!("{}{path}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) -> Result<(), String> {
        self.call("POST", "/url", Some(json!({"url": url})))
            .map(drop)
    }

    /// The page's address.
    pub fn url(&self) -> Result<String, String> {
        Ok(self
            .call("GET", "/url", None)?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    /// Elements come back as WebDriver references: see [`Browser::element_of`].
    pub fn script(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1](value)` when done.
    pub fn script_async(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// A Chromium DevTools command, through chromedriver.
    pub fn devtools(&self, command: &str, params: Value) -> Result<Value, String> {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": command, "params": params})),
        )
    }

    /// The element a script returned, if it is one.
    pub fn element_of(&self, value: &Value) -> Option<Element<'_>> {
        value[ELEMENT].as_str().map(|id| Element {
            browser: self,
            id: id.to_owned(),
        })
    }

    /// Polls `probe` until it gives a value, for up to 15 s; then the error says `what` never
    /// showed, with the page's text.
    pub fn wait<T>(
        &self,
        what: &str,
        mut probe: impl FnMut() -> Result<Option<T>, String>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe()? {
                return Ok(found);
            }
            if Instant::now() > deadline {
                let text = self.text_of_page().unwrap_or_default();
                return Err(format!(
                    "{what}: not there after 15 s; the page reads:\n{text}"
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element `script` returns (given `args`), once it returns one; `what` names it in
    /// the error.
    fn lookup(&self, what: String, script: &str, args: Vec<Value>) -> Result<Element<'_>, String> {
        self.wait(&what, || {
            Ok(self.element_of(&self.script(script, args.clone())?))
        })
    }

    /// The first element `css` selects that is shown, once there is one.
    pub fn find(&self, css: &str) -> Result<Element<'_>, String> {
        self.lookup(
            format!("an element {css}"),
            "return [...document.querySelectorAll(arguments[0])].find(e => e.checkVisibility()) ?? null",
            vec![json!(css)],
        )
    }

    /// The shown element `css` selects whose text contains `text`.
    pub fn find_text(&self, css: &str, text: &str) -> Result<Element<'_>, String> {
        self.lookup(
            format!("{css} reading {text:?}"),
            "return [...document.querySelectorAll(arguments[0])].find(e => e.checkVisibility() && e.textContent.includes(arguments[1])) ?? null",
            vec![json!(css), json!(text)],
        )
    }

    /// The shown button whose label is `label`: in the open dialog when there is one.
    pub fn button(&self, label: &str) -> Result<Element<'_>, String> {
        self.lookup(
            format!("a button {label:?}"),
            "const scope = document.querySelector('dialog[open]:last-of-type') ?? document;
             return [...scope.querySelectorAll('button')].find(b => b.checkVisibility() && b.textContent.trim() === arguments[0]) ?? null",
            vec![json!(label)],
        )
    }

    /// The control labelled `label` (its `<label>`'s text starts so, or its `aria-label` is
    /// it), in the open dialog when there is one: a control nobody can name is not found,
    /// which is the point.
    pub fn control(&self, label: &str) -> Result<Element<'_>, String> {
        self.lookup(
            format!("a control labelled {label:?}"),
            "const scope = document.querySelector('dialog[open]:last-of-type') ?? document;
             const byLabel = [...scope.querySelectorAll('label')]
               .filter(l => l.control && l.control.checkVisibility() && l.textContent.trim().startsWith(arguments[0]))
               .map(l => l.control);
             const byAria = [...scope.querySelectorAll('[aria-label]')]
               .filter(e => e.checkVisibility() && e.getAttribute('aria-label') === arguments[0]);
             return byLabel[0] ?? byAria[0] ?? null",
            vec![json!(label)],
        )
    }

    /// The text of the page (`document.body.innerText`), for messages and `contains` checks.
    pub fn text_of_page(&self) -> Result<String, String> {
        Ok(self
            .script("return document.body.innerText", vec![])?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// Waits until the page's text contains `text`.
    pub fn wait_text(&self, text: &str) -> Result<(), String> {
        self.wait(&format!("the text {text:?}"), || {
            Ok(self.text_of_page()?.contains(text).then_some(()))
        })
    }

    /// Lets the page read the clipboard (`navigator.clipboard.readText`), as a user who said
    /// yes to the browser's prompt.
    pub fn grant(&self, permission: &str) -> Result<(), String> {
        self.call(
            "POST",
            "/permissions",
            Some(json!({"descriptor": {"name": permission}, "state": "granted"})),
        )
        .map(drop)
    }

    /// Emulates a screen `width` px wide (a phone below 700 px: touch, the mobile viewport).
    pub fn viewport(&self, width: u32, height: u32) -> Result<(), String> {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700}),
        )
        .map(drop)
    }

    /// A PNG of the page at `path`: the whole page (`full`), or what the screen shows (an
    /// open dialog is drawn over the screen, not the page).
    pub fn screenshot(&self, path: &Path, full: bool) -> Result<(), String> {
        let data = if full {
            let metrics = self.devtools("Page.getLayoutMetrics", json!({}))?;
            let size = &metrics["cssContentSize"];
            let width = metrics["cssLayoutViewport"]["clientWidth"]
                .as_f64()
                .unwrap_or(1280.0);
            let height = size["height"].as_f64().unwrap_or(800.0).min(8000.0);
            self.devtools(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
            )?["data"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        } else {
            self.call("GET", "/screenshot", None)?
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("screenshot: {e}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| format!("write {}: {e}", path.display()))
    }

    /// The browser's console since the last call: errors, warnings, CSP reports, failed loads.
    pub fn log(&self) -> Result<Vec<LogEntry>, String> {
        let entries = self.call("POST", "/se/log", Some(json!({"type": "browser"})))?;
        Ok(entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| LogEntry {
                level: e["level"].as_str().unwrap_or("").to_owned(),
                source: e["source"].as_str().unwrap_or("").to_owned(),
                message: e["message"].as_str().unwrap_or("").to_owned(),
            })
            .collect())
    }
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Clicks it as a user would (it must be shown and not covered).
    pub fn click(&self) -> Result<(), String> {
        self.browser
            .call("POST", &self.path("/click"), Some(json!({})))
            .map(drop)
    }

    /// Types `text` into it, after what it holds.
    pub fn type_text(&self, text: &str) -> Result<(), String> {
        self.browser
            .call("POST", &self.path("/value"), Some(json!({"text": text})))
            .map(drop)
    }

    /// Empties it, then types `text`.
    pub fn fill(&self, text: &str) -> Result<(), String> {
        self.browser
            .call("POST", &self.path("/clear"), Some(json!({})))?;
        self.type_text(text)
    }

    /// Its rendered text.
    pub fn text(&self) -> Result<String, String> {
        Ok(self
            .browser
            .call("GET", &self.path("/text"), None)?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// A DOM property (`value`, `checked`, `disabled`…).
    pub fn property(&self, name: &str) -> Result<Value, String> {
        self.browser
            .call("GET", &self.path(&format!("/property/{name}")), None)
    }

    /// Chooses the `<option>` of this `<select>` whose value is `value`.
    pub fn select(&self, value: &str) -> Result<(), String> {
        let option = self.browser.script(
            "return [...arguments[0].options].find(o => o.value === arguments[1]) ?? null",
            vec![self.reference(), json!(value)],
        )?;
        self.browser
            .element_of(&option)
            .ok_or_else(|| format!("no option {value:?}"))?
            .click()
    }

    /// The element as a script argument.
    pub fn reference(&self) -> Value {
        json!({ ELEMENT: self.id })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session (Chromium closes), then stops whatever is left of the group.
        let _ = self.call("DELETE", "", None);
        let group = self.driver.id() as i32;
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.driver.try_wait().ok().flatten().is_none() {
            thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
