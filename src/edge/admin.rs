//! keygate's own routes under `ADMIN_PREFIX`: authenticate, parse the body into a command,
//! and hand it to the organization's catalog. Nothing under the prefix is ever proxied.

use serde::Serialize;
use worker::{Env, Request, Response};

use super::{Trace, body, clock, respond, rpc, state, verify};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditQuery};
use crate::domain::catalog::OrgCommand;
use crate::domain::credential::{self, is_admin_token};
use crate::domain::endpoint::Endpoint;
use crate::domain::manage::{self, CreateKey, PutOrg, RotateKey, UpdateKey};
use crate::domain::{ApiKey, GateError, Policy};

/// The OpenAPI 3.1 description of these routes, served as is.
const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Serves `rest`, the path after the prefix.
pub async fn handle(
    mut req: Request,
    env: &Env,
    rest: &str,
    trace: &mut Trace,
) -> Result<Response, GateError> {
    let endpoint = Endpoint::resolve(req.method().as_ref(), rest)?;
    let org = match (&endpoint, endpoint.org()) {
        (Endpoint::Health, _) => return Ok(respond::json(200, &Health { status: "ok" })),
        (Endpoint::OpenApi, _) => return Ok(respond::raw_json(200, OPENAPI)),
        (_, Some(org)) => org.clone(),
        (_, None) => return Err(GateError::NotFound),
    };
    let actor = authenticate(&req, env, trace).await?;
    actor.may_call(&endpoint, &org)?;
    let command = command(endpoint, &mut req, actor, &state::config(env)?.policy).await?;
    let catalog = rpc::stub(env, state::CATALOGS_BINDING, org.as_str())?;
    let accept = req.headers().get("accept").ok().flatten();
    rpc::send(&catalog, &command, accept.as_deref()).await
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
    let record = key.record();
    if !record.scopes.iter().any(|s| s.is_admin()) {
        return Err(GateError::InsufficientScope {
            needed: "admin".into(),
            read_only: false,
        });
    }
    Ok(Actor::OrgAdmin {
        key: record.id.clone(),
        org: record.org.clone(),
    })
}

/// Reads what the endpoint needs from the body or query, validated.
async fn command(
    endpoint: Endpoint,
    req: &mut Request,
    actor: Actor,
    policy: &Policy,
) -> Result<OrgCommand, GateError> {
    Ok(match endpoint {
        Endpoint::PutOrg(org) => OrgCommand::PutOrg {
            org,
            change: manage::parse_body::<PutOrg>(&read_body(req).await?)?,
            actor,
        },
        Endpoint::GetOrg(org) => OrgCommand::GetOrg { org },
        Endpoint::CreateKey(org) => {
            let key = manage::parse_body::<CreateKey>(&read_body(req).await?)?
                .validate(clock::now(), policy)?;
            OrgCommand::CreateKey { org, key, actor }
        }
        Endpoint::ListKeys(org) => OrgCommand::ListKeys {
            org,
            query: query(req, false)?,
        },
        Endpoint::GetKey(org, id) => OrgCommand::GetKey { org, id },
        Endpoint::UpdateKey(org, id) => {
            let patch =
                manage::parse_body::<UpdateKey>(&read_body(req).await?)?.validate(policy)?;
            OrgCommand::UpdateKey {
                org,
                id,
                patch,
                actor,
            }
        }
        Endpoint::RevokeKey(org, id) => OrgCommand::RevokeKey { org, id, actor },
        Endpoint::KeyUsage(org, id) => OrgCommand::KeyUsage { org, id },
        Endpoint::RotateKey(org, id) => {
            let bytes = read_body(req).await?;
            // The body is optional here: an empty POST rotates with the default grace period.
            let rotate = if bytes.iter().all(u8::is_ascii_whitespace) {
                RotateKey::default()
            } else {
                manage::parse_body::<RotateKey>(&bytes)?
            };
            OrgCommand::RotateKey {
                org,
                id,
                grace_hours: rotate.grace_hours()?,
                actor,
            }
        }
        Endpoint::RevokeAll(org) => OrgCommand::RevokeAll { org, actor },
        Endpoint::Audit(org) => OrgCommand::Audit {
            org,
            query: query(req, true)?,
        },
        Endpoint::Health | Endpoint::OpenApi => return Err(GateError::NotFound),
    })
}

/// The request body: refused (400, nothing read past the limit) when longer than 64 KiB,
/// whether it declares its length or comes chunked.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, GateError> {
    body::request_body(req, manage::MAX_BODY_BYTES)
        .await?
        .ok_or_else(|| GateError::InvalidRequest("Request body must be at most 64 KiB".into()))
}

fn query(req: &Request, audit: bool) -> Result<AuditQuery, GateError> {
    let url = req.url().map_err(respond::internal)?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    audit::parse_query(&pairs, audit)
}
