//! Worker glue: the fetch entry point and its route table.
//! Handlers return `Result<Response, GateError>`; only `respond` turns errors into responses,
//! so no `worker::Error` ever reaches the runtime as a bare 500.

mod admin;
mod body;
mod catalog;
mod clock;
mod console;
mod directory;
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

use worker::worker_sys::web_sys;
use worker::{Context, Env, Request, Response, event};

use crate::domain::http::client::ClientId;
use crate::domain::http::request;
use crate::domain::{GateError, error};
use incoming::Incoming;
use log::Trace;

// The runtime's request, not `worker::Request`: converting one reads and parses `cf` and the
// URL on every request, which the verified path does not need.
#[event(fetch)]
async fn fetch(raw: web_sys::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = clock::now();
    let incoming = Incoming::read(raw);
    let url = incoming.raw.url();
    let (path, query) = request::split_url(&url);
    let problem_json = error::wants_problem_json(incoming.headers.get("accept"));
    let mut trace = Trace {
        client: ClientId::from_header(incoming.headers.get(ClientId::HEADER)),
        ..Trace::default()
    };
    let mut response = route(&incoming, path, query, &env, &ctx, &mut trace, problem_json)
        .await
        .unwrap_or_else(|err| respond::error(&err, problem_json));
    if let Ok(config) = state::config(&env) {
        response = console::with_security_headers(response, path, &config.admin_prefix);
    }
    let ms = clock::now().0.saturating_sub(started.0);
    log::request(&incoming.method, path, response.status_code(), ms, &trace);
    Ok(response)
}

/// The route table: keygate's own routes under the admin prefix; everything else is the
/// protected API, verified and proxied. Both see the one canonical target: the form matched,
/// forwarded and signed.
async fn route(
    incoming: &Incoming,
    path: &str,
    query: Option<&str>,
    env: &Env,
    ctx: &Context,
    trace: &mut Trace,
    problem_json: bool,
) -> Result<Response, GateError> {
    let config = state::config(env)?;
    let target = config.policy.target(path, query)?;
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
