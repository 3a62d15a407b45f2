//! Forwarding an authorized request to the origin: same method, path, query and body
//! (streamed, never buffered), the credential removed, signed identity headers added,
//! redirects passed back to the client rather than followed. The response streams back
//! untouched, unless the key is field-restricted for the route: then it is filtered whole.

use futures_util::future::{Either, select};
use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response, Url,
};

use super::clock;
use super::respond::internal;
use crate::domain::{AuthorizedKey, Config, Credential, FieldScope, GateError, fields, forward};

/// Sends `req` to the origin and returns its response.
pub async fn forward(
    req: &Request,
    url: &Url,
    key: &AuthorizedKey,
    credential: &Credential<'_>,
    config: &Config,
) -> Result<Response, GateError> {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let method = req.method();
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if forward::keeps_header(&name, credential) {
            headers.append(&name, &value).map_err(internal)?;
        }
    }
    let secret = config.signing_secret.as_ref().map(|s| s.expose());
    for (name, value) in
        forward::identity_headers(key, method.as_ref(), &target, clock::now(), secret)
    {
        headers.set(name, &value).map_err(internal)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(req.inner().body().map(JsValue::from));
    let destination = config.origin.join(url.path(), url.query());
    let outbound = Request::new_with_init(&destination, &init).map_err(internal)?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(outbound);
    let send = Box::pin(fetch.send_with_signal(&signal));
    let response = match select(send, Delay::from(config.origin_timeout)).await {
        Either::Left((Ok(response), _)) => response,
        Either::Left((Err(e), _)) => return Err(GateError::OriginUnavailable(e.to_string())),
        Either::Right(_) => {
            controller.abort();
            return Err(GateError::OriginTimeout);
        }
    };
    match key.fields() {
        None => Ok(response),
        Some(scope) => filtered(response, scope).await,
    }
}

/// The response with its JSON body cut to the key's fields. Length and encoding headers go:
/// the body is new, and the runtime has already decoded it.
async fn filtered(mut response: Response, scope: &FieldScope) -> Result<Response, GateError> {
    let content_type = response.headers().get("content-type").ok().flatten();
    let body = response
        .bytes()
        .await
        .map_err(|e| GateError::OriginUnavailable(e.to_string()))?;
    let body = fields::filter(content_type.as_deref(), &body, scope)?;
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        if !matches!(
            name.as_str(),
            "content-length" | "content-encoding" | "transfer-encoding"
        ) {
            headers.append(&name, &value).map_err(internal)?;
        }
    }
    Ok(Response::builder()
        .with_status(response.status_code())
        .with_headers(headers)
        .fixed(body))
}
