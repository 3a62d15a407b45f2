//! Forwarding an admitted request to the origin: the method, the canonical target and the
//! body (streamed; only a form, or a body without a content type, is read first, to look for
//! `_method` and ids), the credential
//! removed, signed identity headers added, redirects passed back to the client rather than
//! followed. The response streams back untouched, unless the key is field-restricted for the
//! route: then the whole body is fetched (no range, no conditional request; a HEAD asks for
//! the body too), filtered, and marked private.

use serde::Serialize;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{Headers, Request, Response, ResponseBody};

use super::body::{read_capped, request_body};
use super::incoming::Incoming;
use super::verify::Admitted;
use super::{clock, fetch, respond::internal};
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
    /// The body of `req` as far as it is known without reading it: `None` when it must be read
    /// whole first. A GET or HEAD with a body is refused (the runtime cannot forward it, and
    /// origins disagree on reading it). A form, or a body without a content type, is read
    /// whole, up to 8 MiB, so that `_method` and ids in it can be checked
    /// ([`request::reads_form`]); any other body streams.
    pub fn unread(
        raw: &web_sys::Request,
        method: Method,
        headers: &request::Headers,
    ) -> Result<Option<Body>, GateError> {
        let Some(stream) = raw.body() else {
            return Ok(Some(Body::Stream(None)));
        };
        if matches!(method, Method::Get | Method::Head) {
            return Err(GateError::AmbiguousRequest(
                "A GET or HEAD request cannot carry a body".into(),
            ));
        }
        if request::reads_form(method, headers.get("content-type")) {
            // Read for `_method` and ids: bytes an origin would decompress first hide them.
            if headers
                .get("content-encoding")
                .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"))
            {
                return Err(GateError::AmbiguousRequest(
                    "A form body (or one without a content type) cannot be content-encoded".into(),
                ));
            }
            return Ok(None);
        }
        Ok(Some(Body::Stream(Some(stream.into()))))
    }

    /// The body of `req`, read whole when [`Body::unread`] says it must be.
    pub async fn read(
        raw: &web_sys::Request,
        method: Method,
        headers: &request::Headers,
    ) -> Result<Body, GateError> {
        if let Some(body) = Body::unread(raw, method, headers)? {
            return Ok(body);
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

    /// The body as `fetch.js` sends it (`null` for none).
    pub fn into_js(self) -> JsValue {
        match self {
            Body::Stream(stream) => stream.unwrap_or(JsValue::NULL),
            Body::Read(bytes) => Uint8Array::from(bytes.as_slice()).into(),
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

/// How `fetch.js` sends a request to the origin: where, with which method, which of the
/// client's headers it drops and which it sets. The client's headers and body stay in the
/// runtime; only these few names and values cross the wasm boundary.
#[derive(Serialize)]
pub struct Plan<'a> {
    url: String,
    method: &'static str,
    drop: Vec<&'a str>,
    set: Vec<(&'static str, String)>,
    timeout_ms: u64,
    /// The key's response is filtered and the client asked for HEAD: the body is fetched (GET)
    /// and dropped after filtering.
    #[serde(skip)]
    head_filtered: bool,
}

impl<'a> Plan<'a> {
    /// The plan of an admitted request: the method keygate authorized (GET for a filtered
    /// HEAD), the canonical target under `ORIGIN`, the client's headers less the ones keygate
    /// drops, the signed identity headers.
    pub fn of(
        out: &Outbound<'a>,
        admitted: &Admitted<'_, '_>,
        config: &Config,
    ) -> Result<Plan<'a>, GateError> {
        let key = &admitted.key;
        let filtered = key.fields().is_some();
        // A filtered HEAD would have nothing to filter: fetch the body, answer without it.
        let head_filtered = filtered && out.method == Method::Head;
        let method = if head_filtered {
            Method::Get
        } else {
            out.method
        };
        let path_and_query = out.target.path_and_query();
        let drop = forward::dropped_headers(&out.incoming.headers, &admitted.credential, filtered);
        let request_id = forward::request_id().map_err(internal)?;
        let identity = Identity {
            method,
            target: &config.origin.target(&path_and_query),
            route: &admitted.route,
            request_id: &request_id,
            now: clock::now(),
        };
        let secret = config.signing_secret.as_ref().map(|s| s.expose());
        Ok(Plan {
            url: config.origin.join(&path_and_query),
            method: method.as_str(),
            drop,
            set: forward::identity_headers(key, &identity, secret),
            timeout_ms: u64::try_from(config.origin_timeout.as_millis()).unwrap_or(u64::MAX),
            head_filtered,
        })
    }

    /// The body to send with this plan.
    pub fn body(&self, body: Body) -> JsValue {
        if self.head_filtered {
            JsValue::NULL
        } else {
            body.into_js()
        }
    }
}

/// Sends the request to the origin and returns its response, filtered for a field-restricted
/// key.
pub async fn forward(
    out: Outbound<'_>,
    admitted: &Admitted<'_, '_>,
    config: &Config,
) -> Result<Response, GateError> {
    let plan = Plan::of(&out, admitted, config)?;
    let text = serde_json::to_string(&plan).map_err(internal)?;
    let body = plan.body(out.body);
    let sent = JsFuture::from(fetch::send(&out.incoming.raw, &text, &body)).await;
    let response = match sent {
        Ok(response) => Response::from(response.unchecked_into::<web_sys::Response>()),
        Err(e) if fetch::is_timeout(&e) => return Err(GateError::OriginTimeout),
        Err(e) => return Err(GateError::OriginUnavailable(format!("{e:?}"))),
    };
    match admitted.key.fields() {
        None => Ok(response),
        Some(scope) => filtered(response, scope, plan.head_filtered).await,
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
