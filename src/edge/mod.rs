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

use serde::Serialize;
use worker::{Context, Env, Request, Response, console_log, event};

use crate::domain::usage::Cost;
use crate::domain::{GateError, KeyId};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = clock::now();
    let problem_json = respond::wants_problem_json(&req);
    let method = req.method().to_string();
    let path = req.path();
    let web_origin = req.headers().get("origin").ok().flatten();
    let mut trace = Trace {
        client: verify::client(&req),
        ..Trace::default()
    };
    let mut response = route(req, &env, &ctx, &mut trace)
        .await
        .unwrap_or_else(|err| respond::error(&err, problem_json));
    // Every gateway answer to an allowed web origin, refusals too, is readable by its page.
    if trace.proxied
        && let Ok(config) = state::config(&env)
    {
        let cors = config.cors.response_headers(web_origin.as_deref());
        response = respond::with_extra_headers(response, &cors)
            .unwrap_or_else(|err| respond::error(&err, problem_json));
    }
    let line = LogLine {
        method: &method,
        path: &path,
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
    req: Request,
    env: &Env,
    ctx: &Context,
    trace: &mut Trace,
) -> Result<Response, GateError> {
    let config = state::config(env)?;
    let url = req.url().map_err(respond::internal)?;
    // The method as sent: `req.method()` turns one it does not know (PROPFIND) into GET.
    let method = req.inner().method();
    let target = config.policy.target(url.path(), url.query())?;
    if let Some(rest) = config.admin_prefix.strip(target.path()) {
        return admin::handle(req, env, &method, rest, trace).await;
    }
    trace.proxied = true;
    gateway::handle(req, env, ctx, config, &method, &target, trace).await
}

/// What one request touched, filled in as it goes: the key it named (as soon as known) and,
/// on the verification path, what it cost on the platform's billed operations.
#[derive(Default)]
pub struct Trace {
    /// Who sent it (per-client budgets).
    pub client: crate::domain::client::ClientId,
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
