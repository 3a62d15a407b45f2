//! Talking HTTP to a gateway: a request read whole into a [`Reply`], a request with an API key,
//! and raw bytes over TCP for what no client library would send.

use std::time::Duration;

use crate::Gateway;

/// Sends `raw` bytes as one HTTP/1.1 request over TCP and returns the status and the body:
/// for what no client library would send (dot segments, invalid UTF-8, huge header blocks).
pub fn send_raw(gateway: &Gateway, raw: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", gateway.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before reading everything; that is an answer too.
    let _ = stream.write_all(raw);
    // Read until the response is complete (the server may keep the connection open after it).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 65536];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if response_complete(&answer) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Whether `bytes` hold a whole HTTP/1.1 response (by Content-Length, or chunked to its end).
fn response_complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let head = head.to_ascii_lowercase();
    if let Some(length) = head.lines().find_map(|l| l.strip_prefix("content-length:")) {
        return length
            .trim()
            .parse::<usize>()
            .is_ok_and(|n| body.len() >= n);
    }
    head.contains("transfer-encoding: chunked") && body.ends_with("0\r\n\r\n")
}

/// The answer `wrangler dev`'s own proxy gives when its connection to workerd broke before the
/// worker saw the request (after an earlier answer that left a request body unread). keygate
/// never says this; workerd without the proxy, as on Cloudflare, never does either.
const DEV_PROXY_RESTART: &str = "Your worker restarted mid-request";

/// Sends one request to the gateway and reads the whole answer. A [`DEV_PROXY_RESTART`] answer
/// (the request never reached the worker) is sent again, once.
pub fn send(
    gateway: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let reply = send_once(gateway, method, path, headers, body);
    if reply.status == 503 && String::from_utf8_lossy(&reply.body).starts_with(DEV_PROXY_RESTART) {
        return send_once(gateway, method, path, headers, body);
    }
    reply
}

fn send_once(
    gateway: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(gateway.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let agent = client();
    let response = match body {
        Some(bytes) => agent.run(request.body(bytes.to_vec()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    Reply::from(response.expect("HTTP exchange with the gateway"))
}

/// [`send`] with `key` in `Authorization: Bearer`, then the `extra` headers.
pub fn send_with_key(
    gateway: &Gateway,
    key: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    send(gateway, method, path, &headers, body)
}

/// An HTTP client that returns every status as a response and never follows redirects.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A response read whole: status, lower-case headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn from(mut r: ureq::http::Response<ureq::Body>) -> Reply {
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_default();
        Reply {
            status: r.status().as_u16(),
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced), for messages and `contains` checks.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}
