//! The recording HTTP origin on 127.0.0.1 that the gateways forward to: it keeps every request
//! it received (for the checks on what reached the origin) and answers a JSON echo, or a status,
//! redirect, delay, HTML or employees list chosen by the path.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the origin received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query exactly as they arrived.
    pub url: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `X-Keygate-Signature` this request should carry under `secret`, recomputed from the
    /// identity headers it arrived with and `target` (what the origin received): the README's
    /// `v3` lines, in their order.
    pub fn expected_signature(&self, secret: &str, target: &str) -> String {
        let h = |n: &str| self.header(&format!("x-keygate-{n}")).unwrap_or_default();
        let mut lines = vec!["v3", self.method.as_str(), target, h("timestamp")];
        lines.extend(
            [
                "request-id",
                "key-id",
                "org",
                "scopes",
                "ids",
                "meta",
                "resources",
                "owner",
            ]
            .map(h),
        );
        keygate::domain::forward::sign(secret, &lines.join("\n"))
    }
}

/// An HTTP origin that records every request and answers with a JSON echo of it.
/// Paths starting with `/status/<code>` answer with that status; `/flaky/<n>/…` answers 500 to
/// the first `n` requests of that exact URL, then 200 (a recording origin only); `/redirect` answers 302;
/// `/api/employees…` answers [`EMPLOYEES`]; `/api/html…` answers an HTML page; `/slow/<ms>…`
/// answers after that many milliseconds.
pub struct Origin {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    /// `None` for an origin that records nothing (benchmarks and soaks: memory stays flat).
    seen: Option<Arc<Mutex<Vec<Seen>>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl Origin {
    pub fn start() -> Origin {
        Self::start_on(0).expect("bind the origin")
    }

    pub fn start_on(port: u16) -> Result<Origin, Box<dyn std::error::Error + Send + Sync>> {
        Self::serve(port, true)
    }

    /// An origin that answers like the others but keeps no record of what it received.
    pub fn start_unrecorded(port: u16) -> Result<Origin, Box<dyn std::error::Error + Send + Sync>> {
        Self::serve(port, false)
    }

    fn serve(port: u16, record: bool) -> Result<Origin, Box<dyn std::error::Error + Send + Sync>> {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port))?);
        let port = server.server_addr().to_ip().expect("ip listener").port();
        let seen = record.then(|| Arc::new(Mutex::new(Vec::new())));
        let (srv, log) = (server.clone(), seen.clone());
        let worker = thread::spawn(move || {
            for request in srv.incoming_requests() {
                let log = log.clone();
                thread::spawn(move || answer(request, log.as_deref()));
            }
        });
        Ok(Origin {
            port,
            server,
            seen,
            worker: Some(worker),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far whose path starts with `path`.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let all = self
            .seen
            .as_ref()
            .expect("this origin records nothing")
            .lock()
            .unwrap();
        all.iter()
            .filter(|s| s.url.starts_with(path))
            .cloned()
            .collect()
    }

    /// The one request received under `path`; fails the test if there is not exactly one.
    pub fn only(&self, path: &str) -> Seen {
        let seen = self.seen(path);
        assert_eq!(seen.len(), 1, "origin requests under {path}: {seen:#?}");
        seen.into_iter().next().unwrap()
    }
}

fn answer(mut request: tiny_http::Request, log: Option<&Mutex<Vec<Seen>>>) {
    if let Some(ms) = request
        .url()
        .strip_prefix("/slow/")
        .and_then(|r| r.split('/').next()?.parse().ok())
    {
        thread::sleep(Duration::from_millis(ms));
    }
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let seen = Seen {
        method: request.method().as_str().to_owned(),
        url: request.url().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        body,
    };
    let failures_left = seen
        .url
        .strip_prefix("/flaky/")
        .and_then(|rest| rest.split('/').next()?.parse::<usize>().ok())
        .zip(log)
        .is_some_and(|(n, log)| {
            let before = log
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.url == seen.url)
                .count();
            before < n
        });
    let status = seen
        .url
        .strip_prefix("/status/")
        .and_then(|rest| rest.get(..3)?.parse().ok())
        .unwrap_or(if seen.url.starts_with("/redirect") {
            302
        } else if failures_left {
            500
        } else {
            200
        });
    let echo = serde_json::json!({
        "origin": "keygate demo origin",
        "method": seen.method,
        "url": seen.url,
        "key_id": seen.header("x-keygate-key-id"),
        "org": seen.header("x-keygate-org"),
        "body_bytes": seen.body.len(),
    });
    let seen_url_is_employees = seen.url.contains("/api/employees");
    let (content_type, body) = if seen_url_is_employees {
        ("application/json", EMPLOYEES.to_owned())
    } else if seen.url.starts_with("/api/html") {
        ("text/html; charset=utf-8", "<p>not JSON</p>".to_owned())
    } else {
        ("application/json", echo.to_string())
    };
    if let Some(log) = log {
        log.lock().unwrap().push(seen);
    }
    let mut response = tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("content-type", content_type))
        .with_header(header("x-origin", "demo"));
    if status == 302 {
        response = response.with_header(header("location", "/elsewhere"));
    }
    if seen_url_is_employees {
        // Validators and ranges of the unfiltered body: a filtered response must drop them.
        response = response
            .with_header(header("etag", "\"employees-v1\""))
            .with_header(header("last-modified", "Mon, 23 Nov 2026 10:00:00 GMT"))
            .with_header(header("accept-ranges", "bytes"));
    }
    let _ = request.respond(response);
}

/// The origin's employees list: an envelope with pagination, nested and sensitive fields.
pub const EMPLOYEES: &str = r#"{"data":[{"name":"Ada","start_date":"2020-01-01","salary":120000,"address":{"city":"Zürich","street":"Bahnhofstrasse 1"}},{"name":"Bob","start_date":"2021-06-01","salary":95000,"address":"unknown"}],"next":"c2"}"#;

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
