//! Worker glue: the fetch entry point, its route table and the request log line.
//! Handlers return `Result<Response, GateError>`; only `respond` turns errors into responses,
//! so no `worker::Error` ever reaches the runtime as a bare 500.

mod admin;
mod body;
mod catalog;
mod clock;
mod gateway;
mod guard;
mod keystore;
mod leases;
mod proxy;
mod respond;
mod rpc;
mod state;
mod verify;
mod webhooks;

use serde::Serialize;
use worker::worker_sys::web_sys;
use worker::{Context, Env, Request, Response, console_log, event};

use crate::domain::http::client::ClientId;
use crate::domain::http::request::{self, Headers};
use crate::domain::limits::usage::Cost;
use crate::domain::{GateError, KeyId, error};

/// A request as the fetch entry read it: the runtime's object, with the method as sent and the
/// headers copied out once (each read of the runtime's object crosses the wasm boundary).
pub struct Incoming {
    pub raw: web_sys::Request,
    /// As sent: the runtime's typed method turns one it does not know (PROPFIND) into GET.
    pub method: String,
    pub headers: Headers,
}

// The runtime's request, not `worker::Request`: converting one reads and parses `cf` and the
// URL on every request, which the verified path does not need.
#[event(fetch)]
async fn fetch(raw: web_sys::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = clock::now();
    let incoming = Incoming {
        method: raw.method(),
        headers: Headers::new(worker::Headers(raw.headers()).entries().collect()),
        raw,
    };
    let url = incoming.raw.url();
    let (path, query) = request::split_url(&url);
    let problem_json = error::wants_problem_json(incoming.headers.get("accept"));
    let mut trace = Trace {
        client: ClientId::from_header(incoming.headers.get(ClientId::HEADER)),
        ..Trace::default()
    };
    let mut response = route(&incoming, path, query, &env, &ctx, &mut trace)
        .await
        .unwrap_or_else(|err| respond::error(&err, problem_json));
    // Every gateway answer to an allowed web origin, refusals too, is readable by its page.
    if trace.proxied
        && let Ok(config) = state::config(&env)
    {
        let cors = config.cors.response_headers(incoming.headers.get("origin"));
        response = respond::with_extra_headers(response, &cors)
            .unwrap_or_else(|err| respond::error(&err, problem_json));
    }
    let line = LogLine {
        method: &incoming.method,
        path,
        status: response.status_code(),
        key_id: trace.key_id.as_ref().map(KeyId::as_str),
        ms: clock::now().0.saturating_sub(started.0),
        cost: trace.proxied.then_some(trace.cost),
    };
    console_log!("{}", serde_json::to_string(&line).unwrap_or_default());
    Ok(response)
}

/// keygate's own routes under the admin prefix; everything else is verified and proxied.
/// Both see the one canonical target: the form matched, forwarded and signed.
async fn route(
    incoming: &Incoming,
    path: &str,
    query: Option<&str>,
    env: &Env,
    ctx: &Context,
    trace: &mut Trace,
) -> Result<Response, GateError> {
    let config = state::config(env)?;
    let target = config.policy.target(path, query)?;
    if let Some(rest) = config.admin_prefix.strip(target.path()) {
        let req = Request::from(Clone::clone(&incoming.raw));
        return admin::handle(req, env, &incoming.method, rest, trace).await;
    }
    trace.proxied = true;
    gateway::handle(incoming, env, ctx, config, &target, trace).await
}

/// What one request touched, filled in as it goes: the key it named (as soon as known) and,
/// on the verification path, what it cost on the platform's billed operations.
#[derive(Default)]
pub struct Trace {
    /// Who sent it (per-client budgets).
    pub client: crate::domain::http::client::ClientId,
    pub key_id: Option<KeyId>,
    /// The request took the verification path (not the management routes, whose catalog work
    /// is not counted).
    pub proxied: bool,
    pub cost: Cost,
}

/// One structured line per request. Never headers or the query: they may carry secrets. The
/// cost fields (verification path only) are how `make bench` counts KV reads, object requests
/// and rows written per request.
#[derive(Serialize)]
struct LogLine<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    ms: u64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    cost: Option<Cost>,
}
