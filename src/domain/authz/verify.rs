//! The verification stages, cheapest first; each takes the previous stage's output:
//!
//! 1. [`parse_credential`]: headers → [`ApiKey`] (format and checksum, in memory; a bad key
//!    costs no storage access);
//! 2. the edge loads the [`KeyRecord`] by [`KeyHash`](super::KeyHash) (unknown → `invalid_api_key`);
//! 3. [`check_status`]: record + now → [`ActiveKey`] (revoked, expired, disabled, plan);
//! 4. [`authorize`]: active key + the request's [`Route`] → [`AuthorizedKey`] (scopes, then
//!    resource restrictions).
//!
//! Only an [`AuthorizedKey`] can be forwarded, so a skipped stage does not compile.

use crate::domain::authz::policy::Route;
use crate::domain::config::RevocationBound;
use crate::domain::error::GateError;
use crate::domain::key::credential::{self, Credential};
use crate::domain::key::format::ApiKey;
use crate::domain::key::record::{GuardFallback, KeyRecord, KeyStatus};
use crate::domain::time::UnixMillis;

/// Stage 1: the key from the request headers, checked for format and checksum.
pub fn parse_credential<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Result<(Credential<'a>, ApiKey), GateError> {
    let credential = credential::extract(authorization, x_api_key)?;
    let key = ApiKey::parse(credential.key)?;
    Ok((credential, key))
}

/// A key that exists and may be used now.
#[derive(Debug)]
pub struct ActiveKey(KeyRecord);

impl ActiveKey {
    /// The key's record.
    pub fn record(&self) -> &KeyRecord {
        &self.0
    }
}

/// Stage 3: refuses revoked, expired and disabled keys, and keys of organizations whose
/// plan has no API access. Revoked reads as unknown
/// (`invalid_api_key`): a revoked key is gone, and saying so would confirm it once existed.
/// Expiry is inclusive: at `expires_at` the key no longer works.
pub fn check_status(record: KeyRecord, now: UnixMillis) -> Result<ActiveKey, GateError> {
    status(&record, now)?;
    Ok(ActiveKey(record))
}

fn status(record: &KeyRecord, now: UnixMillis) -> Result<(), GateError> {
    match KeyStatus::of(record, now) {
        KeyStatus::Revoked => Err(GateError::InvalidKey),
        KeyStatus::Expired => Err(GateError::ExpiredKey),
        KeyStatus::Disabled => Err(GateError::DisabledKey),
        KeyStatus::Active if !record.api_access => Err(GateError::ApiPlanRequired),
        KeyStatus::Active => Ok(()),
    }
}

/// A key allowed to make this request, and the fields it may see of the response.
#[derive(Debug)]
pub struct AuthorizedKey {
    key: ActiveKey,
    fields: Option<FieldScope>,
}

/// The fields a restricted key may see of a response, and where in the body they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldScope {
    /// Allowed field paths (`name`, `address.city`).
    pub allowed: Vec<String>,
    /// The envelope member holding the items (`data`), if the route names one.
    pub envelope: Option<String>,
}

impl AuthorizedKey {
    /// The key's record.
    pub fn record(&self) -> &KeyRecord {
        self.key.record()
    }

    /// The field restriction of the response, if the key has one for this route's resource.
    pub fn fields(&self) -> Option<&FieldScope> {
        self.fields.as_ref()
    }
}

/// Stage 4: the key must hold a scope for the route's resource and action (or every scope its
/// rule requires), and every id the route names must be among the key's allowed ids for that
/// resource type, or, for a type the key is not restricted on whose parent type it is
/// (`website` in a `team`), among the ids its record reaches through its parents (see
/// [`resource`](super::resource)). Any other type is open.
pub fn authorize(key: ActiveKey, route: &Route<'_>) -> Result<AuthorizedKey, GateError> {
    let fields = authorization(key.record(), route)?;
    Ok(AuthorizedKey { key, fields })
}

/// The key the guard admitted for `route` (its status and authorization checked there, not
/// repeated here), with the field restriction of the route's resource.
pub fn admitted_by_guard(record: KeyRecord, route: &Route<'_>) -> AuthorizedKey {
    let fields = field_scope(&record, route);
    AuthorizedKey {
        key: ActiveKey(record),
        fields,
    }
}

/// Whether the key's responses on `route` are cut to its fields (it is field-restricted on the
/// route's resource): the forward must read the origin's body.
pub fn filters(record: &KeyRecord, route: &Route<'_>) -> bool {
    record.fields.contains_key(route.resource)
}

fn field_scope(record: &KeyRecord, route: &Route<'_>) -> Option<FieldScope> {
    record.fields.get(route.resource).map(|allowed| FieldScope {
        allowed: allowed.clone(),
        envelope: route.envelope.map(str::to_owned),
    })
}

/// Stages 3 and 4 on a borrowed record: the same rules, for the guard, which needs the verdict
/// and not the key (no copy of the record per request).
pub fn permits(record: &KeyRecord, now: UnixMillis, route: &Route<'_>) -> Result<(), GateError> {
    status(record, now)?;
    authorization(record, route).map(drop)
}

/// Stage 4's rules; the key's field restriction for the route when it passes.
fn authorization(record: &KeyRecord, route: &Route<'_>) -> Result<Option<FieldScope>, GateError> {
    let missing = route.missing(&record.scopes);
    if !missing.is_empty() {
        let read_only = route.action.writes() && !record.scopes.iter().any(|s| s.writes_anything());
        return Err(GateError::InsufficientScope {
            needed: route.needed(),
            missing,
            read_only,
        });
    }
    if let Some(known) = route.known_types
        && let Some(kind) = record.resources.keys().find(|k| !known.contains(k))
    {
        return Err(GateError::ResourceForbidden {
            kind: kind.clone(),
            id: None,
        });
    }
    for (kind, id) in &route.ids {
        let reached = match (record.resources.get(*kind), route.parent_of(kind)) {
            (Some(allowed), _) => id.as_ref().is_some_and(|id| allowed.contains(id)),
            // Restricted on the parent type only: the id must be registered under one of the
            // key's parents (its record's reach); an unregistered id reaches nothing.
            (None, Some(parent)) if record.resources.contains_key(parent) => id
                .as_deref()
                .is_some_and(|id| record.reaches(kind, parent, id)),
            (None, _) => true,
        };
        if !reached {
            return Err(GateError::ResourceForbidden {
                kind: (*kind).to_owned(),
                id: id.clone(),
            });
        }
    }
    Ok(field_scope(record, route))
}

/// When the key's guard cannot be reached (`detail` says why): the key's `on_limiter_error`
/// decides, and only within the revocation bound.
///
/// - `deny` refuses (503 `limiter_unavailable`).
/// - `allow` skips counting, never authorization: it admits, uncounted, only on a record the
///   guard itself confirmed (`confirmed_at`: when the worker asked the guard that said the
///   record was current for this secret) no longer than `bound` before `now`, and still checks
///   that record's status and authorization. A record the guard never confirmed (read from KV
///   or the isolate cache only), or confirmed longer ago, is refused like `deny`: it may be of
///   a key revoked, disabled, rotated out or restricted since.
/// - Keys restricted to fields or resources fail open only on a record confirmed within the
///   bound, whatever the rule for other keys: a stale copy may lack a restriction added since
///   and would hand out data the key may no longer see. (With the single bound of today both
///   rules coincide; this one is checked on its own so that widening the other cannot widen it.)
pub fn without_guard(
    record: KeyRecord,
    confirmed_at: Option<UnixMillis>,
    now: UnixMillis,
    bound: RevocationBound,
    route: &Route<'_>,
    detail: String,
) -> Result<AuthorizedKey, GateError> {
    if record.on_limiter_error == GuardFallback::Deny {
        return Err(GateError::GuardUnavailable(detail));
    }
    // Age from the moment the worker asked: the guard decided later, so this overstates it.
    let age = confirmed_at.map(|at| now.0.saturating_sub(at.0));
    let fresh = age.is_some_and(|age| age <= bound.as_millis());
    let restricted = !record.fields.is_empty() || !record.resources.is_empty();
    let distrust = match (fresh, restricted) {
        (true, _) => None,
        (false, true) => Some("a field- or resource-restricted key"),
        (false, false) => Some("the key"),
    };
    if let Some(whose) = distrust {
        let seen = match age {
            Some(age) => format!("confirmed {age} ms ago"),
            None => "never confirmed by the guard".to_owned(),
        };
        return Err(GateError::GuardUnavailable(format!(
            "{detail}; not failing open: the record of {whose} is {seen}, bound {} ms",
            bound.as_millis()
        )));
    }
    authorize(check_status(record, now)?, route)
}

#[cfg(test)]
mod tests;
