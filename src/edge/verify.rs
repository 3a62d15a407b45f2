//! The verification path in the worker: format (memory) → record (isolate cache / KV) → the
//! key's admission lease in this isolate (`domain::admission::Lease`: status, authorization and
//! a unit on the guard's record, no call) or, when there is none or it is over, the key's guard
//! (authoritative: secret, status, authorization, rate limits), whose typed outcome is rendered
//! here, never decided again. With `REVOCATION_BOUND_MS=0` the guard decides every request.

use worker::{Env, Request};

use super::log::Trace;
use super::{keystore, leases, rpc, state};
use crate::domain::admission::{Ask, Lease, Local};
use crate::domain::config::RevocationBound;
use crate::domain::key::cache::Held;
use crate::domain::limits::usage::UsageEvent;
use crate::domain::limits::window::{self, WindowReport};
use crate::domain::protocol::{GuardCommand, GuardVerdict, Outcome, OwnedRoute};
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
    pub without_guard: bool,
    /// A lease to give back when it ends (schedule with `wait_until`, see [`hand_back`]).
    pub flush: Option<leases::Flush>,
}

/// Gives `flush`'s lease back to its guard once it has ended, unless a request renewed it
/// first. Best effort: a lease not given back keeps its units counted until they leave the
/// windows, and its usage is lost.
pub async fn hand_back(env: Env, flush: leases::Flush) {
    worker::Delay::from(flush.wait(super::clock::now())).await;
    let Some(handback) = flush.take(super::clock::now()) else {
        return;
    };
    let Ok(guard) = rpc::stub(&env, state::GUARDS_BINDING, flush.guard().as_str()) else {
        return;
    };
    let command = GuardCommand::HandBack { handback };
    let failed = rpc::ask::<_, serde::de::IgnoredAny>(&guard, &command)
        .await
        .err()
        .map(|e| e.log_detail());
    // One line per lease given back: `make bench` counts guard requests from them.
    worker::console_log!(
        "{}",
        serde_json::json!({"event": "hand_back", "key_id": flush.guard().as_str(), "failed": failed})
    );
}

/// The two headers a key may come in: `Authorization` and `X-API-Key`.
pub fn credential_headers(req: &Request) -> Result<(Option<String>, Option<String>), GateError> {
    let get = |name| req.headers().get(name).map_err(super::respond::internal);
    Ok((get("authorization")?, get("x-api-key")?))
}

/// What stages 1 and 2 found: the credential, the key's hash and start, and the (possibly
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
///
/// The isolate admits under the key's lease when it holds one (no call), and otherwise asks the
/// guard for the request in hand and a new lease, sharing one call per key with the requests
/// that arrive meanwhile (`leases`). The guard sets the lease's period: the key's own
/// `revocation_bound_ms`, else `REVOCATION_BOUND_MS`; with 0 it lends none (strict mode) and
/// the key's requests each ask it.
pub async fn admit<'a, 'p>(
    env: &Env,
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    route: Result<Route<'p>, GateError>,
    event: UsageEvent,
    trace: &mut Trace,
) -> Result<Admitted<'a, 'p>, GateError> {
    let found = identify(env, authorization, x_api_key, trace).await?;
    let route = route?;
    let presence = leases::Presence::enter(found.hash);
    let mut waited = 0;
    loop {
        let now = super::clock::now();
        match presence.step(&route, event.clone(), now, waited) {
            leases::Step::Decided(decided) => return leased(found.credential, route, decided, now),
            leases::Step::Wait(call) => {
                call.ended().await;
                waited += 1;
            }
            leases::Step::Ask {
                handback,
                waiting,
                asking,
            } => {
                let ask = Ask { waiting, handback };
                return ask_guard(env, found, route, event, Some((ask, asking)), trace).await;
            }
        }
    }
}

/// [`admit`] when it needs no I/O: the isolate holds the key's record and a lease that
/// decides the request. `Ok(None)` when it needs KV or the guard, with nothing changed (then
/// call [`admit`]); a refusal is as final as [`admit`]'s, which would refuse the same way.
pub fn admit_now<'a, 'p>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    route: Result<Route<'p>, GateError>,
    event: UsageEvent,
    country: impl FnOnce() -> Option<String>,
    trace: &mut Trace,
) -> Result<Option<Admitted<'a, 'p>>, GateError> {
    let (credential, key) = verify::parse_credential(authorization, x_api_key)?;
    let hash = KeyHash::of(&key);
    let now = super::clock::now();
    let Some(held) = keystore::cached(&hash, now) else {
        return Ok(None);
    };
    trace.key_id = Some(held.record.id);
    let route = route?;
    leases::decide_now(&hash, &route, event, now, country)
        .map(|decided| leased(credential, route, decided, now))
        .transpose()
}

/// What the key's lease decided, as [`admit`] returns it.
fn leased<'a, 'p>(
    credential: Credential<'a>,
    route: Route<'p>,
    decided: Local,
    now: crate::domain::UnixMillis,
) -> Result<Admitted<'a, 'p>, GateError> {
    match decided {
        Local::Admitted(key, windows) => Ok(Admitted {
            credential,
            route,
            key,
            windows,
            now,
            without_guard: false,
            flush: None,
        }),
        Local::Refused(refusal) => Err(refusal),
        Local::Over => Err(GateError::Internal("a lease over, yet decided".into())),
    }
}

/// Asks the key's guard to decide the request (and, with `lease`, to lend a lease, which is
/// stored for the isolate's next requests), and renders its typed outcome. A guard that cannot
/// be reached leaves the decision to `verify::without_guard`.
async fn ask_guard<'a, 'p>(
    env: &Env,
    found: Identified<'a>,
    route: Route<'p>,
    event: UsageEvent,
    lease: Option<(Ask, leases::Asking)>,
    trace: &mut Trace,
) -> Result<Admitted<'a, 'p>, GateError> {
    let Identified {
        credential,
        hash,
        start,
        held,
    } = found;
    let (wanted, asking) = lease.unzip();
    let command = GuardCommand::Admit {
        hash,
        start,
        access: OwnedRoute::of(&route),
        event,
        known: Some(held.digest),
        lease: wanted,
    };
    let asked_at = super::clock::now();
    let verdict = match ask(env, &held.record.id, command, trace).await {
        Ok(verdict) => verdict,
        Err(unreachable) => {
            let now = super::clock::now();
            // The key's own bound when it has one: a key set to 0 is never served from cache.
            let bound = held
                .record
                .revocation_bound_ms
                .and_then(|ms| RevocationBound::from_millis(ms.into()))
                .unwrap_or(state::config(env)?.revocation_bound);
            let detail = unreachable.log_detail();
            let key =
                verify::without_guard(held.record, held.confirmed_at, now, bound, &route, detail)?;
            return Ok(Admitted {
                credential,
                route,
                key,
                windows: Vec::new(),
                now,
                without_guard: true,
                flush: None,
            });
        }
    };
    keystore::settle(&hash, &verdict.standing, Some(held.digest), asked_at);
    let record = verdict
        .standing
        .record(held.record)
        .ok_or(GateError::InvalidKey)?;
    match verdict.outcome {
        Some(Outcome::Admitted { windows }) => {
            let (windows, flush) = match (&verdict.lease, &asking) {
                (Some(grant), Some(asking)) => {
                    let lease = Lease::new(grant, record.clone(), windows, asked_at);
                    (lease.windows(), asking.store(lease, grant.spare))
                }
                (None, Some(asking)) => {
                    asking.strict();
                    (windows, None)
                }
                _ => (windows, None),
            };
            Ok(Admitted {
                credential,
                key: verify::admitted_by_guard(record, &route),
                route,
                windows,
                now: verdict.now,
                without_guard: false,
                flush,
            })
        }
        Some(Outcome::Limited {
            windows,
            retry_after,
        }) => Err(GateError::RateLimited {
            retry_after,
            headers: window::headers(&windows, verdict.now),
        }),
        Some(Outcome::Refused(refusal)) => Err(refusal.error()),
        None => Err(GateError::Internal(
            "the guard answered Admit without an outcome".into(),
        )),
    }
}

/// Stage 1 and 2: the credential, and the record naming the guard to ask; also the key's
/// start. A key that was never issued has no organization to audit: it is logged instead, at
/// most once per client per minute in this isolate (whatever the key: each made-up key has its
/// own start), and so is a refusal for too many of them.
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
                start: key.start(),
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
            serde_json::json!({"event": "auth_failed", "reason": refusal.code(), "start": key.start()})
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
