//! The proxied pipeline: parse the rest of the request once (method, headers, body when it
//! must be read), answer CORS preflights, refuse method overrides, match the policy, verify and
//! admit the key, forward to the origin and add the rate-limit headers.

use worker::worker_sys::ext::RequestExt;
use worker::{Cf, Context, Env, Response};

use super::incoming::Incoming;
use super::log::Trace;
use super::{clock, proxy, respond, verify};
use crate::domain::http::request::{self, FORWARDED_METHODS, Method, Target};
use crate::domain::limits::usage::UsageEvent;
use crate::domain::limits::window;
use crate::domain::{Config, GateError, GuardFallback};

/// Serves one request of the protected API.
pub async fn handle(
    incoming: &Incoming,
    env: &Env,
    ctx: &Context,
    config: &Config,
    target: &Target,
    trace: &mut Trace,
) -> Result<Response, GateError> {
    let method =
        Method::parse(&incoming.method).ok_or(GateError::MethodNotAllowed(FORWARDED_METHODS))?;
    let headers = &incoming.headers;
    if let Some(origin) = request::preflight_origin(method, headers) {
        let allowed = config
            .cors
            .preflight(origin, headers.get("access-control-request-headers"))?;
        return Ok(respond::empty(204, &allowed));
    }
    let body = proxy::Body::read(&incoming.raw, method, headers).await?;
    let fields = body.form().map(request::form_names);
    let request = request::Request {
        method,
        target,
        headers,
        form: fields.as_deref(),
    };
    request::method_override(&request)?;
    let route = config.policy.route(&request);
    let event = UsageEvent {
        at: clock::now(),
        method: method.as_str().to_owned(),
        path: target.path().to_owned(),
        outcome: String::new(),
        status: None,
        country: incoming.raw.cf().and_then(|cf| Cf::from(cf).country()),
    };
    trace.proxied = true;
    let mut admitted = verify::admit(
        env,
        headers.get("authorization"),
        headers.get("x-api-key"),
        route,
        event,
        trace,
    )
    .await?;
    // Unused allowance and usage go back to the guard after the answer, off the hot path.
    if let Some(flush) = admitted.flush.take() {
        ctx.wait_until(verify::hand_back(env.clone(), flush));
    }
    let outbound = proxy::Outbound {
        method,
        target,
        incoming,
        body,
    };
    let response = proxy::forward(outbound, &admitted, config).await?;
    let mut extra = window::headers(&admitted.windows, admitted.now);
    if admitted.without_guard {
        extra.push(GuardFallback::Allow.header());
    }
    respond::with_extra_headers(response, &extra)
}

/// The gateway's answer, or its refusal, with the CORS headers of the request's web origin:
/// every gateway answer to an allowed origin, refusals too, is readable by its page.
pub fn with_cors(
    answer: Result<Response, GateError>,
    incoming: &Incoming,
    config: &Config,
    problem_json: bool,
) -> Response {
    let cors = config.cors.response_headers(incoming.headers.get("origin"));
    let response = answer.unwrap_or_else(|err| respond::error(&err, problem_json));
    respond::with_extra_headers(response, &cors)
        .unwrap_or_else(|err| respond::error(&err, problem_json))
}
