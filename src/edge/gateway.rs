//! The proxied pipeline: parse the rest of the request once (method, headers, body when it
//! must be read), answer CORS preflights, refuse method overrides, match the policy, verify and
//! admit the key, forward to the origin and add the rate-limit headers.
//!
//! A request that needs no I/O to be decided (a key whose record and lease the isolate holds,
//! or a refusal that needs neither) is answered at once ([`at_once`]): no Rust future, and the
//! origin fetch, its extra headers and the log line are carried out by `fetch.js`. Any other
//! goes through [`handle`], which awaits KV, the guard or a form body; both run the same checks
//! in the same order.

use serde::Serialize;
use worker::js_sys::Promise;
use worker::wasm_bindgen::{JsValue, prelude::Closure};
use worker::worker_sys::ext::RequestExt;
use worker::worker_sys::web_sys;
use worker::{Cf, Context, Env, Response};

use super::incoming::Incoming;
use super::log::{self, Trace};
use super::proxy::{Body, Outbound, Plan};
use super::verify::{self, Admitted};
use super::{clock, fetch, proxy, respond};
use crate::domain::http::request::{self, FORWARDED_METHODS, Method, Target};
use crate::domain::limits::usage::UsageEvent;
use crate::domain::limits::window;
use crate::domain::{Config, GateError, GuardFallback, Route, UnixMillis};

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
    let body = Body::read(&incoming.raw, method, headers).await?;
    let (route, mut event) = ask(incoming, config, target, method, &body, trace)?;
    event.country = country(incoming);
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
    let extra = extra_headers(&admitted);
    let outbound = Outbound {
        method,
        target,
        incoming,
        body,
    };
    let response = proxy::forward(outbound, &admitted, config).await?;
    respond::with_extra_headers(response, &extra)
}

/// Method overrides refused, the route the request asks for and its usage event (without
/// the country, read only when the event is kept): the checks
/// between reading the body and verifying the key, on both paths.
fn ask<'p>(
    incoming: &Incoming,
    config: &'p Config,
    target: &Target,
    method: Method,
    body: &Body,
    trace: &mut Trace,
) -> Result<(Result<Route<'p>, GateError>, UsageEvent), GateError> {
    let fields = body.form().map(request::form_names);
    let request = request::Request {
        method,
        target,
        headers: &incoming.headers,
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
        country: None,
    };
    trace.proxied = true;
    Ok((route, event))
}

/// The client's country, when the platform knows it (reading `request.cf` costs: only for
/// the events kept).
fn country(incoming: &Incoming) -> Option<String> {
    incoming.raw.cf().and_then(|cf| Cf::from(cf).country())
}

/// The rate-limit headers of an admitted request, and the fallback's when the guard was not
/// asked.
fn extra_headers(admitted: &Admitted<'_, '_>) -> Vec<(&'static str, String)> {
    let mut extra = window::headers(&admitted.windows, admitted.now);
    if admitted.without_guard {
        extra.push(GuardFallback::Allow.header());
    }
    extra
}

/// A request decided at once, as `fetch.js` answers it: the plan it sends, the headers it adds
/// to the origin's response (rate limits and CORS) or to a refusal of an origin failure (CORS),
/// and the request's log line for it to complete.
#[derive(Serialize)]
struct Answer<'a> {
    send: Plan<'a>,
    extra: Vec<(&'static str, String)>,
    cors: Vec<(&'static str, String)>,
    problem_json: bool,
    started: u64,
    log: String,
}

/// Answers a request of the protected API that needs no I/O to be decided: forwarded under
/// the key's lease, or refused. `None`: it needs KV, the guard, a body read or a preflight
/// answer, and nothing was changed; [`handle`] serves it.
pub fn at_once(
    incoming: &Incoming,
    config: &Config,
    target: &Target,
    path: &str,
    problem_json: bool,
    started: UnixMillis,
) -> Option<Promise> {
    let method = Method::parse(&incoming.method)?;
    let headers = &incoming.headers;
    if request::preflight_origin(method, headers).is_some() {
        return None;
    }
    // No client: it only budgets lookups of unknown keys, which are never decided at once.
    let mut trace = Trace::default();
    let decided = Body::unread(&incoming.raw, method, headers).and_then(|body| {
        let Some(body) = body else { return Ok(None) };
        let (route, event) = ask(incoming, config, target, method, &body, &mut trace)?;
        let admitted = verify::admit_now(
            headers.get("authorization"),
            headers.get("x-api-key"),
            route,
            event,
            || country(incoming),
            &mut trace,
        )?;
        Ok(admitted.map(|admitted| (body, admitted)))
    });
    let refusal = match decided {
        Ok(None) => return None,
        Ok(Some((body, admitted))) => {
            let outbound = Outbound {
                method,
                target,
                incoming,
                body,
            };
            match forward_at_once(
                outbound,
                &admitted,
                config,
                path,
                problem_json,
                started,
                &trace,
            ) {
                Ok(promise) => return Some(promise),
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    let response = with_cors(Err(refusal), incoming, config, problem_json);
    log::request(
        &incoming.method,
        path,
        response.status_code(),
        started,
        &trace,
    );
    Some(Promise::resolve(&JsValue::from(web_sys::Response::from(
        response,
    ))))
}

/// Hands an admitted request to `fetch.js`, which sends it and answers.
fn forward_at_once(
    outbound: Outbound<'_>,
    admitted: &Admitted<'_, '_>,
    config: &Config,
    path: &str,
    problem_json: bool,
    started: UnixMillis,
    trace: &Trace,
) -> Result<Promise, GateError> {
    // Fail closed: a filtered key's forward is awaited (`leases::decide_now` never decides it).
    if admitted.key.fields().is_some() {
        return Err(GateError::Internal(
            "a field-restricted key decided at once".into(),
        ));
    }
    let send = Plan::of(&outbound, admitted, config)?;
    let cors = config
        .cors
        .response_headers(outbound.incoming.headers.get("origin"));
    let mut extra = extra_headers(admitted);
    extra.extend(cors.iter().cloned());
    let body = send.body(outbound.body);
    let answer = Answer {
        send,
        extra,
        cors,
        problem_json,
        started: started.0,
        log: log::pending(&outbound.incoming.method, path, trace),
    };
    let text = serde_json::to_string(&answer).map_err(respond::internal)?;
    Ok(fetch::answer(
        &outbound.incoming.raw,
        &text,
        &body,
        &origin_failed(),
    ))
}

thread_local! {
    /// `fetch.js`'s way back when the origin fails: made once per isolate.
    static ORIGIN_FAILED: JsValue = Closure::<dyn Fn(bool, String, bool) -> web_sys::Response>::new(
        |timeout: bool, detail: String, problem_json: bool| {
            let err = if timeout {
                GateError::OriginTimeout
            } else {
                GateError::OriginUnavailable(detail)
            };
            respond::error(&err, problem_json).into()
        },
    )
    .into_js_value();
}

fn origin_failed() -> JsValue {
    ORIGIN_FAILED.with(Clone::clone)
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
