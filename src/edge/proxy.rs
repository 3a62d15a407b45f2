//! Forwarding an admitted request to the origin: the method, the canonical target and the
//! body (streamed; only a form, or a body without a content type, is read first, to look for
//! `_method` and ids), the credential
//! removed, signed identity headers added, redirects passed back to the client rather than
//! followed. The response streams back untouched, unless the key is field-restricted for the
//! route: then the whole body is fetched (no range, no conditional request; a HEAD asks for
//! the body too), filtered, and marked private.

use futures_util::future::{Either, select};
use worker::js_sys::{self, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{AbortController, Delay, Headers, Request, RequestRedirect, Response, ResponseBody};

use super::body::{read_capped, request_body};
use super::incoming::Incoming;
use super::verify::Admitted;
use super::{clock, respond::internal};
use crate::domain::http::forward::{self, FILTERED_RESPONSE_HEADERS, Identity};
use crate::domain::http::request::{self, Method, Target};
use crate::domain::{Config, FieldScope, GateError, fields};

/// Largest form body read to look for `_method` and ids.
const MAX_FORM_BYTES: usize = 8 << 20;
/// Largest origin response filtered for a field-restricted key.
const MAX_FILTERED_BYTES: usize = 8 << 20;

/// The request body as it will be forwarded.
pub enum Body {
    /// Streamed as it arrives (or none).
    Stream(Option<JsValue>),
    /// Read whole already (a form body, inspected).
    Read(Vec<u8>),
}

impl Body {
    /// The body of `req`. A GET or HEAD with a body is refused (the runtime cannot forward
    /// it, and origins disagree on reading it). A form, or a body without a content type, is
    /// read whole, up to 8 MiB, so that `_method` and ids in it can be checked
    /// ([`request::reads_form`]); any other body streams.
    pub async fn read(
        raw: &web_sys::Request,
        method: Method,
        headers: &request::Headers,
    ) -> Result<Body, GateError> {
        let Some(stream) = raw.body() else {
            return Ok(Body::Stream(None));
        };
        if matches!(method, Method::Get | Method::Head) {
            return Err(GateError::AmbiguousRequest(
                "A GET or HEAD request cannot carry a body".into(),
            ));
        }
        if !request::reads_form(method, headers.get("content-type")) {
            return Ok(Body::Stream(Some(stream.into())));
        }
        let bytes = request_body(&mut Request::from(Clone::clone(raw)), MAX_FORM_BYTES)
            .await?
            .ok_or(GateError::BodyTooLarge(MAX_FORM_BYTES))?;
        Ok(Body::Read(bytes))
    }

    /// The body, when keygate read it whole.
    pub fn form(&self) -> Option<&[u8]> {
        match self {
            Body::Stream(_) => None,
            Body::Read(bytes) => Some(bytes),
        }
    }

    fn into_js(self) -> Option<JsValue> {
        match self {
            Body::Stream(stream) => stream,
            Body::Read(bytes) => Some(Uint8Array::from(bytes.as_slice()).into()),
        }
    }
}

/// What goes to the origin, as keygate read it.
pub struct Outbound<'r> {
    /// The method keygate authorized.
    pub method: Method,
    /// The canonical target keygate matched.
    pub target: &'r Target,
    /// The client's request (its headers are copied, less the ones keygate drops).
    pub incoming: &'r Incoming,
    /// The client's body.
    pub body: Body,
}

/// A runtime exception as an internal error.
fn js(e: JsValue) -> GateError {
    internal(format!("{e:?}"))
}

/// Sends the request to the origin and returns its response.
pub async fn forward(
    out: Outbound<'_>,
    admitted: &Admitted<'_, '_>,
    config: &Config,
) -> Result<Response, GateError> {
    let key = &admitted.key;
    let scope = key.fields();
    // A filtered HEAD would have nothing to filter: fetch the body, answer without it.
    let head_filtered = scope.is_some() && out.method == Method::Head;
    let method = if head_filtered {
        Method::Get
    } else {
        out.method
    };
    let path_and_query = out.target.path_and_query();
    // The client's headers are copied inside the runtime; only the few keygate drops and the
    // identity headers it sets cross the wasm boundary.
    let headers = web_sys::Headers::new_with_headers(&out.incoming.raw.headers()).map_err(js)?;
    for (name, _) in out.incoming.headers.iter() {
        if !forward::keeps_header(name, &admitted.credential, scope.is_some()) {
            headers.delete(name).map_err(js)?;
        }
    }
    let request_id = forward::request_id().map_err(internal)?;
    let identity = Identity {
        method,
        target: &config.origin.target(&path_and_query),
        route: &admitted.route,
        request_id: &request_id,
        now: clock::now(),
    };
    let secret = config.signing_secret.as_ref().map(|s| s.expose());
    for (name, value) in forward::identity_headers(key, &identity, secret) {
        headers.set(name, &value).map_err(js)?;
    }
    let controller = AbortController::default();
    let init = web_sys::RequestInit::new();
    init.set_method(method.as_str());
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual.into());
    init.set_signal(Some(&controller.signal()));
    if !head_filtered && let Some(body) = out.body.into_js() {
        init.set_body(&body);
    }
    let destination = config.origin.join(&path_and_query);
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let send = JsFuture::from(global.fetch_with_str_and_init(&destination, &init));
    let response = match select(send, Delay::from(config.origin_timeout)).await {
        Either::Left((Ok(response), _)) => {
            Response::from(response.unchecked_into::<web_sys::Response>())
        }
        Either::Left((Err(e), _)) => return Err(GateError::OriginUnavailable(format!("{e:?}"))),
        Either::Right(_) => {
            controller.abort();
            return Err(GateError::OriginTimeout);
        }
    };
    match scope {
        None => Ok(response),
        Some(scope) => filtered(response, scope, head_filtered).await,
    }
}

/// The response with its JSON body cut to the key's fields, without the validators and
/// ranges of the unfiltered body, private to the key. `head` drops the body itself.
async fn filtered(
    mut response: Response,
    scope: &FieldScope,
    head: bool,
) -> Result<Response, GateError> {
    let status = response.status_code();
    if matches!(status, 206 | 304) {
        return Err(GateError::UnfilterableResponse(format!(
            "the origin answered {status} to a whole-body request"
        )));
    }
    let content_type = response.headers().get("content-type").ok().flatten();
    let body = match response.body() {
        ResponseBody::Empty => Some(Vec::new()),
        _ => read_capped(response.stream().map_err(internal)?, MAX_FILTERED_BYTES)
            .await
            .map_err(|e| GateError::OriginUnavailable(e.to_string()))?,
    };
    let body = body.ok_or_else(|| {
        GateError::UnfilterableResponse(format!("the response is over {MAX_FILTERED_BYTES} bytes"))
    })?;
    let body = fields::filter(content_type.as_deref(), &body, scope)?;
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        if forward::keeps_filtered_response_header(&name) {
            headers.append(&name, &value).map_err(internal)?;
        }
    }
    for (name, value) in FILTERED_RESPONSE_HEADERS {
        headers.append(name, value).map_err(internal)?;
    }
    let builder = Response::builder().with_status(status);
    Ok(if head {
        headers
            .set("content-length", &body.len().to_string())
            .map_err(internal)?;
        builder.with_headers(headers).empty()
    } else {
        builder.with_headers(headers).fixed(body)
    })
}
