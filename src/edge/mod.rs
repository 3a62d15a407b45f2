//! Worker glue: the fetch entry point, its route table and the request log line.
//! Handlers return `Result<Response, GateError>`; only `respond` turns errors into responses,
//! so no `worker::Error` ever reaches the runtime as a bare 500.

mod admin;
mod clock;
mod keystore;
mod proxy;
mod respond;
mod state;

use serde::Serialize;
use worker::{Context, Env, Request, Response, console_log, event};

use crate::domain::{GateError, KeyHash, KeyId, verify};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let started = clock::now();
    let problem_json = respond::wants_problem_json(&req);
    let method = req.method().to_string();
    let path = req.path();
    let mut key_id = None;
    let response = route(req, &env, &mut key_id).await.unwrap_or_else(|err| {
        log_error(&err);
        respond::error(&err, problem_json)
    });
    let line = LogLine {
        method: &method,
        path: &path,
        status: response.status_code(),
        key_id: key_id.as_ref().map(KeyId::as_str),
        ms: clock::now().0.saturating_sub(started.0),
    };
    console_log!("{}", serde_json::to_string(&line).unwrap_or_default());
    Ok(response)
}

/// keygate's own routes under the admin prefix; everything else is verified and proxied.
async fn route(req: Request, env: &Env, key_id: &mut Option<KeyId>) -> Result<Response, GateError> {
    let config = state::config(env)?;
    let url = req.url().map_err(respond::internal)?;
    if let Some(rest) = config.admin_prefix.strip(url.path()) {
        return admin::handle(&req, rest);
    }
    let authorization = req
        .headers()
        .get("authorization")
        .map_err(respond::internal)?;
    let x_api_key = req.headers().get("x-api-key").map_err(respond::internal)?;
    let (credential, key) =
        verify::parse_credential(authorization.as_deref(), x_api_key.as_deref())?;
    let record = keystore::load(&state::keys(env)?, &KeyHash::of(&key))
        .await?
        .ok_or(GateError::InvalidKey)?;
    *key_id = Some(record.id.clone());
    let active = verify::check_status(record, clock::now())?;
    let target = config.origin.join(url.path(), url.query());
    proxy::forward(&req, &target, &active, &credential, config.origin_timeout).await
}

fn log_error(err: &GateError) {
    let detail = err.log_detail();
    if !detail.is_empty() {
        console_log!(
            "{}",
            serde_json::json!({"error": err.code(), "detail": detail})
        );
    }
}

/// One structured line per request. Never headers or the query: they may carry secrets.
#[derive(Serialize)]
struct LogLine<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    ms: u64,
}
