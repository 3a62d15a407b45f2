//! Forwarding a verified request to the origin: same method, path, query and body (streamed,
//! never buffered), the credential removed, identity headers added, redirects passed back to
//! the client rather than followed.

use std::time::Duration;

use futures_util::future::{Either, select};
use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response,
};

use super::respond::internal;
use crate::domain::{ActiveKey, Credential, GateError, forward};

/// Sends `req` to `target` and returns the origin's response as it arrives.
pub async fn forward(
    req: &Request,
    target: &str,
    key: &ActiveKey,
    credential: &Credential<'_>,
    timeout: Duration,
) -> Result<Response, GateError> {
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if forward::keeps_header(&name, credential) {
            headers.append(&name, &value).map_err(internal)?;
        }
    }
    for (name, value) in forward::identity_headers(key) {
        headers.set(name, &value).map_err(internal)?;
    }
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(req.inner().body().map(JsValue::from));
    let outbound = Request::new_with_init(target, &init).map_err(internal)?;

    let controller = AbortController::default();
    let fetch = Fetch::Request(outbound);
    let signal = controller.signal();
    let send = Box::pin(fetch.send_with_signal(&signal));
    match select(send, Delay::from(timeout)).await {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(e), _)) => Err(GateError::OriginUnavailable(e.to_string())),
        Either::Right(_) => {
            controller.abort();
            Err(GateError::OriginTimeout)
        }
    }
}
