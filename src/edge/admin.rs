//! keygate's own routes under `ADMIN_PREFIX`: authenticate, parse the body into a command,
//! and hand it to the organization's catalog. Nothing under the prefix is ever proxied.
//!
//! Failed authentications are counted per client (`CF-Connecting-IP`) in this isolate: after
//! [`MAX_FAILED_AUTH`] in a minute the client gets 429 without its credential being checked.

use std::cell::RefCell;

use serde::Serialize;
use worker::{Env, Request, Response, console_log};

use super::log::Trace;
use futures_util::future::join_all;

use super::{body, clock, console, directory, leaks, respond, rpc, state, verify};
use crate::domain::http::client::ClientId;
use crate::domain::key::credential::{self, is_admin_token};
use crate::domain::manage::actor::Actor;
use crate::domain::manage::audit::{self, Throttle};
use crate::domain::manage::listing::{self, KeyQuery, OrgPage, ResourcePage};
use crate::domain::manage::login;
use crate::domain::manage::registry::PutResource;
use crate::domain::manage::route::Endpoint;
use crate::domain::manage::{self, CreateKey, PutOrg, RotateKey, UpdateKey};
use crate::domain::protocol::{
    DirectoryCommand, DirectoryPage, OrgChange, OrgCommand, OrgQuery, WebhookRequest,
};
use crate::domain::{ApiKey, Config, GateError};

/// The OpenAPI 3.1 description of these routes, served as is.
const OPENAPI: &str = include_str!("../openapi.json");

/// Failed authentications a client may make per minute before it is shut out.
const MAX_FAILED_AUTH: u32 = 10;
/// Clients whose failures an isolate remembers (then the oldest is forgotten).
const MAX_CLIENTS: usize = 10_000;

thread_local! {
    static FAILED_AUTH: RefCell<Throttle<ClientId>> =
        RefCell::new(Throttle::with_budget(MAX_CLIENTS, MAX_FAILED_AUTH));
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Serves `rest`, the path after the prefix.
/// `method` is the method as sent (an unknown one is a 405, never read as GET).
pub async fn handle(
    mut req: Request,
    env: &Env,
    method: &str,
    rest: &str,
    trace: &mut Trace,
) -> Result<Response, GateError> {
    let endpoint = Endpoint::resolve(method, rest)?;
    match endpoint {
        Endpoint::Health => return respond::json(200, &Health { status: "ok" }),
        Endpoint::OpenApi => return Ok(respond::raw_json(200, OPENAPI)),
        Endpoint::Console(route) => {
            return Ok(console::serve(route, &state::config(env)?.admin_prefix));
        }
        // Authenticated by GitHub's signature, or by holding the key: no admin credential.
        Endpoint::GithubReport => return leaks::github(&mut req, env).await,
        Endpoint::LeakReport => return leaks::report(&mut req, env, &trace.client).await,
        _ => {}
    }
    let actor = throttled_authenticate(&req, env, trace).await?;
    actor.may_call(&endpoint)?;
    let org = match (&endpoint, endpoint.org()) {
        // The deployment's, not an organization's: answered here, no catalog involved.
        (Endpoint::Policy, _) => {
            listing::no_params(&query_pairs(&req)?)?;
            return respond::json(200, &state::config(env)?.policy.view());
        }
        // The one route over every organization (the operator's, checked above).
        (Endpoint::ListOrgs, _) => {
            return list_orgs(OrgPage::parse(&query_pairs(&req)?)?, env).await;
        }
        (_, Some(org)) => org.clone(),
        (_, None) => return Err(GateError::NotFound),
    };
    let command = command(endpoint, &mut req, actor, state::config(env)?).await?;
    let catalog = rpc::stub(env, state::CATALOGS_BINDING, org.as_str())?;
    let accept = req.headers().get("accept").ok().flatten();
    rpc::send(&catalog, &command, accept.as_deref()).await
}

/// [`authenticate`], unless the client (an IPv6 /64 counts as one) failed too often lately:
/// then 429 without looking at the credential. Failures count as
/// [`login::counts_as_failure`] says; the failure that shuts a client out is logged, once per
/// burst.
async fn throttled_authenticate(
    req: &Request,
    env: &Env,
    trace: &mut Trace,
) -> Result<Actor, GateError> {
    let client = trace.client.clone();
    let shut_out = FAILED_AUTH.with_borrow_mut(|l| l.wait(&client, clock::now()));
    if let Err(ms) = shut_out {
        return Err(GateError::TooManyFailedAttempts {
            retry_after: ms.div_ceil(1000),
        });
    }
    let outcome = authenticate(req, env, trace).await;
    let sent = ["authorization", "x-api-key"]
        .iter()
        .any(|h| req.headers().has(h).unwrap_or(false));
    if let Err(e) = &outcome
        && login::counts_as_failure(e, sent)
    {
        let now = clock::now();
        let shut = FAILED_AUTH.with_borrow_mut(|l| {
            l.take(client.clone(), now).is_ok() && l.wait(&client, now).is_err()
        });
        if shut {
            let line = serde_json::json!({
                "event": "admin_auth_throttled",
                "client": client.to_string(),
                "failures": MAX_FAILED_AUTH,
                "period_seconds": Throttle::<ClientId>::PERIOD_MS / 1000,
            });
            console_log!("{line}");
        }
    }
    outcome
}

/// The admin token in `Authorization: Bearer`, or an active API key with the `admin` scope.
async fn authenticate(req: &Request, env: &Env, trace: &mut Trace) -> Result<Actor, GateError> {
    let (authorization, x_api_key) = verify::credential_headers(req)?;
    let credential = match credential::extract(authorization.as_deref(), x_api_key.as_deref()) {
        Err(GateError::MissingKey) => return Err(GateError::Unauthorized),
        other => other?,
    };
    if credential.in_authorization {
        if state::admin_token(env).is_some_and(|token| is_admin_token(credential.key, &token)) {
            return Ok(Actor::Operator);
        }
        // A bearer that is not even shaped like a key was meant as the admin token.
        if ApiKey::parse(credential.key).is_err() {
            return Err(GateError::Unauthorized);
        }
    }
    let (_, key) =
        verify::active_key(env, authorization.as_deref(), x_api_key.as_deref(), trace).await?;
    login::key_actor(key.record())
}

/// Reads what the endpoint needs from the body or query, validated.
async fn command(
    endpoint: Endpoint,
    req: &mut Request,
    actor: Actor,
    config: &Config,
) -> Result<OrgCommand, GateError> {
    let change = match endpoint {
        Endpoint::GetOrg(org) => return Ok(OrgCommand::Query(OrgQuery::GetOrg { org })),
        Endpoint::ListKeys(org) => {
            let query = KeyQuery::parse(&query_pairs(req)?)?;
            return Ok(OrgCommand::Query(OrgQuery::ListKeys { org, query }));
        }
        Endpoint::GetKey(org, id) => return Ok(OrgCommand::Query(OrgQuery::GetKey { org, id })),
        Endpoint::KeyUsage(org, id) => {
            let series = audit::parse_usage_query(&query_pairs(req)?)?;
            return Ok(OrgCommand::Query(OrgQuery::KeyUsage { org, id, series }));
        }
        Endpoint::Audit(org) => {
            let query = audit::parse_query(&query_pairs(req)?)?;
            return Ok(OrgCommand::Query(OrgQuery::Audit { org, query }));
        }
        Endpoint::PutOrg(org) => OrgChange::PutOrg {
            org,
            change: manage::parse_body::<PutOrg>(&read_body(req).await?)?,
            actor,
        },
        Endpoint::CreateKey(org) => {
            let key = manage::parse_body::<CreateKey>(&read_body(req).await?)?.validate(
                clock::now(),
                &config.policy,
                config.limit_bounds,
            )?;
            OrgChange::CreateKey { org, key, actor }
        }
        Endpoint::UpdateKey(org, id) => {
            let patch = manage::parse_body::<UpdateKey>(&read_body(req).await?)?
                .validate(&config.policy, config.limit_bounds)?;
            OrgChange::UpdateKey {
                org,
                id,
                patch,
                actor,
            }
        }
        Endpoint::RevokeKey(org, id) => OrgChange::RevokeKey { org, id, actor },
        Endpoint::RotateKey(org, id) => {
            let bytes = read_body(req).await?;
            // The body is optional here: an empty POST rotates with the default grace period.
            let rotate = if bytes.iter().all(u8::is_ascii_whitespace) {
                RotateKey::default()
            } else {
                manage::parse_body::<RotateKey>(&bytes)?
            };
            OrgChange::RotateKey {
                org,
                id,
                grace_hours: rotate.grace_hours()?,
                actor,
            }
        }
        Endpoint::RevokeAll(org) => OrgChange::RevokeAll { org, actor },
        Endpoint::ListResources(org, kind) => {
            let page = ResourcePage::parse(&query_pairs(req)?)?;
            return Ok(OrgCommand::Query(OrgQuery::ListResources {
                org,
                kind,
                page,
            }));
        }
        Endpoint::GetResource(org, resource) => {
            return Ok(OrgCommand::Query(OrgQuery::GetResource { org, resource }));
        }
        Endpoint::PutResource(org, resource) => {
            let parent = manage::parse_body::<PutResource>(&read_body(req).await?)?
                .validate(&resource, &config.policy)?;
            OrgChange::PutResource {
                org,
                resource,
                parent,
                actor,
            }
        }
        Endpoint::DeleteResource(org, resource) => OrgChange::DeleteResource {
            org,
            resource,
            actor,
        },
        Endpoint::Webhooks(org, route) => {
            let body = if route.has_body() {
                Some(read_body(req).await?)
            } else {
                None
            };
            let command = route.command(body.as_deref())?;
            return Ok(OrgCommand::Webhook(WebhookRequest {
                org,
                actor,
                command,
            }));
        }
        Endpoint::Health
        | Endpoint::OpenApi
        | Endpoint::Policy
        | Endpoint::Console(_)
        | Endpoint::GithubReport
        | Endpoint::LeakReport
        | Endpoint::ListOrgs => return Err(GateError::NotFound),
    };
    Ok(OrgCommand::Change(change))
}

/// The request body: refused (400, nothing read past the limit) when longer than 64 KiB,
/// whether it declares its length or comes chunked.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, GateError> {
    body::request_body(req, manage::body::MAX_BODY_BYTES)
        .await?
        .ok_or_else(manage::body::body_too_large)
}

/// The query string, decoded into pairs (the domain reads them into typed filters).
fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, GateError> {
    let url = req.url().map_err(respond::internal)?;
    Ok(url.query_pairs().into_owned().collect())
}

/// `GET /orgs`: a page of the directory, each organization as its catalog showed it after its
/// last change. The few without a view (the catalog's send failed) are asked of their catalog,
/// in parallel; an id whose catalog was never created (its creation failed after the entry) is
/// left out.
async fn list_orgs(page: OrgPage, env: &Env) -> Result<Response, GateError> {
    let directory = rpc::stub(env, state::DIRECTORY_BINDING, directory::NAME)?;
    let listed: DirectoryPage = rpc::ask(&directory, &DirectoryCommand::List { page }).await?;
    let views = join_all(listed.orgs.iter().map(|entry| async move {
        let org = &entry.id;
        if let Some(view) = &entry.view {
            return Ok(Some(view.clone()));
        }
        let catalog = rpc::stub(env, state::CATALOGS_BINDING, org.as_str())?;
        let query = OrgCommand::Query(OrgQuery::GetOrg { org: org.clone() });
        let mut reply = rpc::send(&catalog, &query, None).await?;
        match reply.status_code() {
            200 => reply
                .json::<serde_json::Value>()
                .await
                .map(Some)
                .map_err(respond::internal),
            404 => Ok(None),
            status => Err(GateError::Internal(format!(
                "catalog of {org} answered {status}"
            ))),
        }
    }))
    .await;
    let orgs = views
        .into_iter()
        .filter_map(Result::transpose)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = listed
        .more
        .then(|| listed.orgs.last().map(|entry| entry.id.to_string()))
        .flatten();
    respond::json(
        200,
        &serde_json::json!({"orgs": orgs, "next_cursor": next_cursor}),
    )
}
