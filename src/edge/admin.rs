//! keygate's own routes under `ADMIN_PREFIX`. Nothing under the prefix is ever proxied.

use serde::Serialize;
use worker::{Method, Request, Response};

use super::respond;
use crate::domain::GateError;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Dispatches `rest`, the path after the prefix.
pub fn handle(req: &Request, rest: &str) -> Result<Response, GateError> {
    match (req.method(), rest) {
        (Method::Get | Method::Head, "/health") => Ok(respond::json(200, &Health { status: "ok" })),
        _ => Err(GateError::NotFound),
    }
}
