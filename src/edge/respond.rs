//! The one conversion from `GateError` (and other outcomes) to `worker::Response`.

use std::fmt::Display;

use serde::Serialize;
use worker::worker_sys::web_sys;
use worker::{Headers, Request, Response, console_log};

use crate::domain::GateError;

/// Whether the client asked for RFC 9457 problem documents.
pub fn wants_problem_json(req: &Request) -> bool {
    crate::domain::error::wants_problem_json(req.headers().get("accept").ok().flatten().as_deref())
}

/// The error response, with its detail logged. Infallible: it must not turn into the
/// runtime's bare 500.
pub fn error(err: &GateError, problem_json: bool) -> Response {
    let detail = err.log_detail();
    if !detail.is_empty() {
        console_log!(
            "{}",
            serde_json::json!({"error": err.code(), "detail": detail})
        );
    }
    let rendered = err.render(problem_json);
    with_body(
        rendered.status,
        &rendered.headers,
        rendered.body.into_bytes(),
    )
}

/// A JSON response with `status`; a body that fails to serialize is a 500, never an empty
/// answer.
pub fn json(status: u16, body: &impl Serialize) -> Result<Response, GateError> {
    let text = serde_json::to_string(body).map_err(internal)?;
    Ok(with_body(
        status,
        &[("content-type", "application/json".to_owned())],
        text.into_bytes(),
    ))
}

/// A response whose body is already JSON text.
pub fn raw_json(status: u16, body: &str) -> Response {
    with_body(
        status,
        &[("content-type", "application/json".to_owned())],
        body.as_bytes().to_vec(),
    )
}

/// `response` with `extra` headers set (`vary` is added to, never replaced). The origin's
/// headers are immutable, so they are copied; the body is passed on as it is (a stream stays
/// a stream).
pub fn with_extra_headers(
    response: Response,
    extra: &[(&str, String)],
) -> Result<Response, GateError> {
    if extra.is_empty() {
        return Ok(response);
    }
    // One copy inside the runtime, not a boundary crossing per header.
    let headers = web_sys::Headers::new_with_headers(&response.headers().0)
        .map(Headers)
        .map_err(|e| internal(format!("{e:?}")))?;
    for (name, value) in extra {
        if *name == "vary" {
            headers.append(name, value).map_err(internal)?;
        } else {
            headers.set(name, value).map_err(internal)?;
        }
    }
    Ok(response.with_headers(headers))
}

/// A response without a body.
pub fn empty(status: u16, headers: &[(&str, String)]) -> Response {
    with_body(status, headers, Vec::new())
}

/// A response with `body` as it is (a static file).
pub fn bytes(status: u16, headers: &[(&str, String)], body: &[u8]) -> Response {
    with_body(status, headers, body.to_vec())
}

/// Wraps a runtime error as an internal one (its text goes to the log, not the client).
pub fn internal(e: impl Display) -> GateError {
    GateError::Internal(e.to_string())
}

fn with_body(status: u16, headers: &[(&str, String)], body: Vec<u8>) -> Response {
    let out = Headers::new();
    for (name, value) in headers {
        // Names and values are ours and valid; a failure here would only drop a header.
        let _ = out.set(name, value);
    }
    Response::builder()
        .with_status(status)
        .with_headers(out)
        .fixed(body)
}
