//! The request log: what one request touched ([`Trace`]) and the one structured line written
//! for it, with the cost fields `make bench` counts.

use serde::Serialize;
use worker::console_log;

use crate::domain::http::client::ClientId;
use crate::domain::http::request::Headers;
use crate::domain::limits::usage::Cost;
use crate::domain::{KeyId, UnixMillis};

/// What one request touched, filled in as it goes: the key it named (as soon as known) and,
/// on the verification path, what it cost on the platform's billed operations.
#[derive(Default)]
pub struct Trace {
    /// Who sent it (per-client budgets).
    pub client: ClientId,
    pub key_id: Option<KeyId>,
    /// The request took the verification path: set when verification starts. Management
    /// routes (whose catalog work is not counted), preflights and requests refused before
    /// verification leave it unset.
    pub proxied: bool,
    pub cost: Cost,
}

impl Trace {
    /// The trace of a request with `headers`, before anything is known of its key.
    pub fn of(headers: &Headers) -> Trace {
        Trace {
            client: ClientId::from_header(headers.get(ClientId::HEADER)),
            ..Trace::default()
        }
    }
}

/// One structured line per request. Never headers or the query: they may carry secrets. The
/// cost fields (verification path only) are how `make bench` counts KV reads, object requests
/// and rows written per request.
#[derive(Serialize)]
struct LogLine<'a> {
    status: u16,
    ms: u64,
    #[serde(flatten)]
    seen: Seen<'a>,
}

/// The line's fields known before the answer.
#[derive(Serialize)]
struct Seen<'a> {
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    cost: Option<Cost>,
}

impl<'a> Seen<'a> {
    fn of(method: &'a str, path: &'a str, trace: &'a Trace) -> Seen<'a> {
        Seen {
            method,
            path,
            key_id: trace.key_id.as_ref().map(KeyId::as_str),
            cost: trace.proxied.then_some(trace.cost),
        }
    }
}

/// Writes the line of one request answered now, which arrived at `started`.
pub fn request(method: &str, path: &str, status: u16, started: UnixMillis, trace: &Trace) {
    let ms = super::clock::now().0.saturating_sub(started.0);
    let seen = Seen::of(method, path, trace);
    match serde_json::to_string(&LogLine { status, ms, seen }) {
        Ok(text) => console_log!("{text}"),
        Err(e) => console_log!("{{\"error\":\"log_line\",\"detail\":{:?}}}", e.to_string()),
    }
}

/// The line of a request answered by `fetch.js` before its status is known: a JSON object that
/// `fetch.js` completes with `status` and `ms` (in front, as [`request`] writes them).
pub fn pending(method: &str, path: &str, trace: &Trace) -> String {
    serde_json::to_string(&Seen::of(method, path, trace)).unwrap_or_else(|_| "{}".to_owned())
}
