//! Worker glue: the fetch entry point and its route table.
//! Handlers return `Result<Response, GateError>`; only `respond` turns errors into responses,
//! so no `worker::Error` ever reaches the runtime as a bare 500.

mod admin;
mod body;
mod catalog;
mod clock;
mod console;
mod directory;
mod fetch;
mod gateway;
mod guard;
mod incoming;
mod keystore;
mod leaks;
mod leases;
mod log;
mod proxy;
mod respond;
mod rpc;
mod sql;
mod state;
mod verify;
mod webhooks;

use worker::js_sys::Promise;
use worker::wasm_bindgen::{self, prelude::wasm_bindgen};
use worker::wasm_bindgen_futures::future_to_promise;
use worker::worker_sys::{self, web_sys};
use worker::{Context, Env, Request, Response};

use crate::domain::http::request::{self, Target};
use crate::domain::{GateError, UnixMillis, error};
use incoming::Incoming;
use log::Trace;

// The runtime's request, not `worker::Request`: converting one reads and parses `cf` and the
// URL on every request, which the verified path does not need. Not `#[event(fetch)]` either: a
// request decided without I/O is answered with no Rust future (`gateway::at_once`).
#[wasm_bindgen]
pub fn fetch(raw: web_sys::Request, env: Env, ctx: worker_sys::Context) -> Promise {
    let started = clock::now();
    let incoming = Incoming::read(raw);
    let problem_json = error::wants_problem_json(incoming.headers.get("accept"));
    // Parsed once: both paths see this one canonical target.
    let target = state::config(&env).and_then(|config| {
        let (path, query) = request::split_url(&incoming.url);
        config.policy.target(path, query)
    });
    if let Ok(target) = &target
        && let Some(answer) = at_once(&incoming, &env, target, problem_json, started)
    {
        return answer;
    }
    let ctx = Context::new(ctx);
    future_to_promise(async move {
        let response = awaited(&incoming, target, &env, &ctx, problem_json, started).await;
        Ok(web_sys::Response::from(response).into())
    })
}

/// A request of the protected API decided without I/O, answered at once.
fn at_once(
    incoming: &Incoming,
    env: &Env,
    target: &Target,
    problem_json: bool,
    started: UnixMillis,
) -> Option<Promise> {
    let config = state::config(env).ok()?;
    let (path, _) = request::split_url(&incoming.url);
    // Under the admin prefix as sent (console headers), or as matched: keygate's own routes.
    if path.starts_with(config.admin_prefix.as_str())
        || config.admin_prefix.strip(target.path()).is_some()
    {
        return None;
    }
    gateway::at_once(incoming, config, target, path, problem_json, started)
}

/// Any other request: keygate's own routes, and the protected API's when KV, the guard or the
/// body must be awaited.
async fn awaited(
    incoming: &Incoming,
    target: Result<Target, GateError>,
    env: &Env,
    ctx: &Context,
    problem_json: bool,
    started: UnixMillis,
) -> Response {
    let (path, _) = request::split_url(&incoming.url);
    let mut trace = Trace::of(&incoming.headers);
    let mut response = route(incoming, target, env, ctx, &mut trace, problem_json)
        .await
        .unwrap_or_else(|err| respond::error(&err, problem_json));
    if let Ok(config) = state::config(env) {
        response = console::with_security_headers(response, path, &config.admin_prefix);
    }
    log::request(
        &incoming.method,
        path,
        response.status_code(),
        started,
        &trace,
    );
    response
}

/// The route table: keygate's own routes under the admin prefix; everything else is the
/// protected API, verified and proxied. Both see the one canonical target: the form matched,
/// forwarded and signed.
async fn route(
    incoming: &Incoming,
    target: Result<Target, GateError>,
    env: &Env,
    ctx: &Context,
    trace: &mut Trace,
    problem_json: bool,
) -> Result<Response, GateError> {
    let config = state::config(env)?;
    let target = target?;
    match config.admin_prefix.strip(target.path()) {
        Some(rest) => {
            let req = Request::from(Clone::clone(&incoming.raw));
            admin::handle(req, env, &incoming.method, rest, trace).await
        }
        None => {
            let answer = gateway::handle(incoming, env, ctx, config, &target, trace).await;
            Ok(gateway::with_cors(answer, incoming, config, problem_json))
        }
    }
}
