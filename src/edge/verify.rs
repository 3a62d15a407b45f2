//! The verification path in the worker: format (memory) → record (isolate cache / KV) → the
//! key's guard (authoritative: secret, status, authorization, rate limits) → the same status
//! and authorization checks repeated here on the guard's record at the guard's instant, which
//! turns a refusal into its error.

use worker::{Env, Request};

use super::{Trace, keystore, rpc, state};
use crate::domain::catalog::{Access, GuardCommand, GuardVerdict};
use crate::domain::client::ClientId;
use crate::domain::keycache::Held;
use crate::domain::usage::UsageEvent;
use crate::domain::window::{self, Decision, WindowReport};
use crate::domain::{
    ActiveKey, AuthorizedKey, Credential, GateError, KeyHash, KeyId, Route, verify,
};

/// A key allowed to make a request, with its windows after counting it.
pub struct Admitted<'a, 'p> {
    /// Where the key came from.
    pub credential: Credential<'a>,
    /// The route it was authorized for (the ids it names are asserted to the origin).
    pub route: Route<'p>,
    /// The key and what it may see.
    pub key: AuthorizedKey,
    /// Its windows (empty when it has none).
    pub windows: Vec<WindowReport>,
    /// The guard's instant of the decision.
    pub now: crate::domain::UnixMillis,
    /// The guard could not be reached and the key allows requests without it: uncounted.
    pub without_limiter: bool,
}

/// The client the request came from, for per-client budgets.
pub fn client(req: &Request) -> ClientId {
    ClientId::from_header(
        req.headers()
            .get(ClientId::HEADER)
            .ok()
            .flatten()
            .as_deref(),
    )
}

/// The two headers a key may come in: `Authorization` and `X-API-Key`.
pub fn credential_headers(req: &Request) -> Result<(Option<String>, Option<String>), GateError> {
    let get = |name| req.headers().get(name).map_err(super::respond::internal);
    Ok((get("authorization")?, get("x-api-key")?))
}

/// What stages 1 and 2 found: the credential, the key's hash and mask, and the (possibly
/// cached) record that names the key's guard.
struct Identified<'a> {
    credential: Credential<'a>,
    hash: KeyHash,
    start: String,
    held: Held,
}

/// Verifies the key and its status, without rate limiting (the management API). `trace`
/// receives the key id as soon as it is known, and what the checks cost, for the log line.
pub async fn active_key<'a>(
    env: &Env,
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    trace: &mut Trace,
) -> Result<(Credential<'a>, ActiveKey), GateError> {
    let found = identify(env, authorization, x_api_key, trace).await?;
    let asked_at = super::clock::now();
    let verdict = ask(
        env,
        &found.held.record.id,
        GuardCommand::Check { hash: found.hash },
        trace,
    )
    .await?;
    keystore::settle(&found.hash, &verdict.standing, None, asked_at);
    let record = verdict
        .standing
        .record(found.held.record)
        .ok_or(GateError::InvalidKey)?;
    Ok((found.credential, verify::check_status(record, verdict.now)?))
}

/// Verifies, authorizes and rate-limits a request to `route`, counting it when admitted. The
/// route's own refusal (no rule matched) comes after the key's: a bad key is a 401 first.
pub async fn admit<'a, 'p>(
    env: &Env,
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    route: Result<Route<'p>, GateError>,
    event: UsageEvent,
    trace: &mut Trace,
) -> Result<Admitted<'a, 'p>, GateError> {
    let Identified {
        credential,
        hash,
        start,
        held,
    } = identify(env, authorization, x_api_key, trace).await?;
    let route = route?;
    let command = GuardCommand::Admit {
        hash,
        start,
        access: Access::of(&route),
        event,
        known: Some(held.digest),
    };
    let asked_at = super::clock::now();
    let verdict = match ask(env, &held.record.id, command, trace).await {
        Ok(verdict) => verdict,
        Err(unreachable) => {
            let now = super::clock::now();
            let bound = state::config(env)?.revocation_bound;
            let detail = unreachable.log_detail();
            let key =
                verify::without_guard(held.record, held.confirmed_at, now, bound, &route, detail)?;
            return Ok(Admitted {
                credential,
                route,
                key,
                windows: Vec::new(),
                now,
                without_limiter: true,
            });
        }
    };
    keystore::settle(&hash, &verdict.standing, Some(held.digest), asked_at);
    let record = verdict
        .standing
        .record(held.record)
        .ok_or(GateError::InvalidKey)?;
    let key = verify::authorize(verify::check_status(record, verdict.now)?, &route)?;
    match verdict.decision {
        Some(Decision::Allowed { windows }) => Ok(Admitted {
            credential,
            route,
            key,
            windows,
            now: verdict.now,
            without_limiter: false,
        }),
        Some(Decision::Limited {
            windows,
            retry_after,
        }) => Err(GateError::RateLimited {
            retry_after,
            headers: window::headers(&windows, verdict.now),
        }),
        None => Err(GateError::Internal(
            "the guard admitted a key without deciding".into(),
        )),
    }
}

/// Stage 1 and 2: the credential, and the record naming the guard to ask; also the key's
/// mask. A key that was never issued has no organization to audit: it is logged instead, at
/// most once per client per minute in this isolate (whatever the key: each made-up key has its
/// own mask), and so is a refusal for too many of them.
async fn identify<'a>(
    env: &Env,
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    trace: &mut Trace,
) -> Result<Identified<'a>, GateError> {
    let (credential, key) = verify::parse_credential(authorization, x_api_key)?;
    let hash = KeyHash::of(&key);
    let now = super::clock::now();
    let found = keystore::find(
        &state::keys(env)?,
        &hash,
        &trace.client,
        now,
        &mut trace.cost,
    )
    .await;
    let refusal = match found {
        Ok(Some(held)) => {
            trace.key_id = Some(held.record.id.clone());
            return Ok(Identified {
                credential,
                hash,
                start: key.mask(),
                held,
            });
        }
        Ok(None) => GateError::InvalidKey,
        Err(e @ GateError::TooManyInvalidKeys { .. }) => e,
        Err(e) => return Err(e),
    };
    if keystore::log_unknown_now(&trace.client, now) {
        worker::console_log!(
            "{}",
            serde_json::json!({"event": "auth_failed", "reason": refusal.code(), "start": key.mask()})
        );
    }
    Err(refusal)
}

/// Asks the key's guard; its verdict says what the guard itself spent.
async fn ask(
    env: &Env,
    guard_id: &KeyId,
    command: GuardCommand,
    trace: &mut Trace,
) -> Result<GuardVerdict, GateError> {
    let guard = rpc::stub(env, state::GUARDS_BINDING, guard_id.as_str())?;
    trace.cost.do_requests += 1;
    let verdict: GuardVerdict = rpc::ask(&guard, &command).await?;
    trace.cost += verdict.cost;
    Ok(verdict)
}
