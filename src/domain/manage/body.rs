//! The management API's request bodies, parsed into validated values (every error a 400 that
//! names the field; the field rules are in [`rules`](super::rules)).
//!
//! Inputs refuse unknown fields: a typo such as `"scope"` for `"scopes"` must not silently
//! create a key with defaults.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::authz::policy::Policy;
use crate::domain::authz::scope::Scope;
use crate::domain::error::GateError;
use crate::domain::key::record::{GuardFallback, KeyId, KeyOwner, KeyRecord, OrgId};
use crate::domain::limits::bounds::{LimitBounds, WindowSpec};
use crate::domain::limits::plan::Plans;
use crate::domain::limits::window::RateLimit;
use crate::domain::manage::org::OrgTerms;
pub use crate::domain::manage::org::PutOrg;
pub use crate::domain::manage::rules::MAX_META_BYTES;
use crate::domain::manage::rules::{
    invalid, valid_fields, valid_meta, valid_name, valid_owner, valid_rate_limits, valid_resources,
    valid_revocation_bound, valid_scopes,
};
pub use crate::domain::manage::view::{KeyView, OrgView};
use crate::domain::time::UnixMillis;

/// Largest accepted management request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest rotation grace period: 30 days.
pub const MAX_GRACE_HOURS: u32 = 720;
/// Longest expiry: 100 years.
const MAX_EXPIRY_DAYS: u64 = 36_500;

/// Parses a JSON body into `T`; errors name the offending field.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GateError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(body_too_large());
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| invalid("Request body must be UTF-8 JSON"))?;
    // Serde would read a struct from an array too; the API speaks objects only.
    let is_json = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    if text.trim().is_empty() || (is_json && !text.trim_start().starts_with('{')) {
        return Err(invalid("Request body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut path = e.path().to_string();
        let inner = e.into_inner();
        if inner.to_string().starts_with("unknown field") {
            // The path ends at the unknown field itself; report it against its parent.
            path = path
                .rsplit_once('.')
                .map_or(".".to_owned(), |(parent, _)| parent.to_owned());
        }
        let text = inner.to_string();
        let what = strip_position(&text);
        if inner.is_syntax() || inner.is_eof() {
            invalid(format!("Request body is not valid JSON: {what}"))
        } else if path == "." {
            invalid(format!("Invalid request body: {what}"))
        } else {
            invalid(format!("Invalid {path}: {what}"))
        }
    })?;
    de.end()
        .map_err(|_| invalid("Request body has trailing characters after the JSON"))?;
    Ok(value)
}

/// The refusal of a body longer than [`MAX_BODY_BYTES`], whoever finds it first (the reader
/// that stops at the limit, or [`parse_body`]).
pub fn body_too_large() -> GateError {
    invalid("Request body must be at most 64 KiB")
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

/// `POST /orgs/{org}/keys`, as sent.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: Option<String>,
    scopes: Option<Vec<Scope>>,
    expires_in_days: Option<u64>,
    expires_at: Option<String>,
    #[serde(default)]
    resources: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    fields: BTreeMap<String, Vec<String>>,
    rate_limits: Option<Vec<WindowSpec>>,
    rate_limiting: Option<bool>,
    on_limiter_error: Option<GuardFallback>,
    revocation_bound_ms: Option<u32>,
    meta: Option<Box<RawValue>>,
    enabled: Option<bool>,
    owner: Option<String>,
}

/// A validated create request: everything of the record but what the catalog assigns.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct NewKey {
    /// Name.
    pub name: String,
    /// Scopes (at least one).
    pub scopes: Vec<Scope>,
    /// Absolute expiry, or never.
    pub expires_at: Option<UnixMillis>,
    /// Resource restrictions.
    pub resources: BTreeMap<String, Vec<String>>,
    /// Field restrictions.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Own rate-limit windows.
    pub rate_limits: Vec<RateLimit>,
    /// Whether rate limiting applies.
    pub rate_limiting: bool,
    /// When the guard cannot be reached.
    pub on_limiter_error: GuardFallback,
    /// Own revocation bound, ms.
    pub revocation_bound_ms: Option<u32>,
    /// Meta JSON object.
    pub meta: Option<Box<RawValue>>,
    /// Starts enabled?
    pub enabled: bool,
    /// Whom its requests are attributed to, if the request says.
    #[serde(default)]
    pub owner: Option<KeyOwner>,
}

/// What the catalog assigns a new key: its ids, the visible start of its secret, who made it
/// and when.
#[derive(Debug, Clone)]
pub struct Assigned {
    /// The key's id.
    pub id: KeyId,
    /// Its organization.
    pub org: OrgId,
    /// The visible start of its first secret.
    pub start: String,
    /// Who created it (the actor's name).
    pub created_by: String,
    /// The owner of the admin-scoped key that created it, if any: the key's owner when the
    /// request names none (a key made through someone's admin key is theirs).
    pub creator_owner: Option<KeyOwner>,
    /// When.
    pub now: UnixMillis,
}

impl NewKey {
    /// The record of the new key: what was asked, what the catalog assigned, and the
    /// organization's terms (its API access and its plan's windows under `plans`).
    pub fn into_record(self, assigned: Assigned, terms: OrgTerms, plans: &Plans) -> KeyRecord {
        let Assigned {
            id,
            org,
            start,
            created_by,
            creator_owner,
            now,
        } = assigned;
        let mut record = KeyRecord {
            id,
            org,
            name: self.name,
            start,
            scopes: self.scopes,
            resources: self.resources,
            reach: BTreeMap::new(),
            fields: self.fields,
            rate_limits: self.rate_limits,
            rate_limiting: self.rate_limiting,
            on_limiter_error: self.on_limiter_error,
            revocation_bound_ms: self.revocation_bound_ms,
            enabled: self.enabled,
            revoked_at: None,
            expires_at: self.expires_at,
            created_at: now,
            created_by,
            owner: self.owner.or(creator_owner),
            updated_at: None,
            rotated_at: None,
            meta: self.meta,
            api_access: true,
            plan_limits: Vec::new(),
        };
        terms.give_to(&mut record, plans);
        record
    }
}

impl CreateKey {
    /// Validates against `now` (relative expiry is fixed at creation), the route policy
    /// (scopes may only name resources it knows, fields only the paths it declares) and the
    /// deployment's bounds on rate limits.
    pub fn validate(
        self,
        now: UnixMillis,
        policy: &Policy,
        bounds: LimitBounds,
    ) -> Result<NewKey, GateError> {
        let name = valid_name(
            self.name
                .as_deref()
                .ok_or_else(|| invalid("API key name is required"))?,
        )?;
        let scopes = valid_scopes(
            self.scopes
                .ok_or_else(|| invalid("At least one scope is required"))?,
            policy,
        )?;
        let expires_at = match (self.expires_in_days, self.expires_at) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Give either expires_in_days or expires_at, not both",
                ));
            }
            (Some(days), None) => {
                if days == 0 || days > MAX_EXPIRY_DAYS {
                    return Err(invalid(format!(
                        "expires_in_days must be a whole number of days from 1 to {MAX_EXPIRY_DAYS} (7, 30, 90, 180 and 365 are common)"
                    )));
                }
                Some(now.plus_millis(days * UnixMillis::DAY))
            }
            (None, Some(text)) => {
                let at = UnixMillis::parse_rfc3339(&text).ok_or_else(|| {
                    invalid("expires_at must be an RFC 3339 timestamp, e.g. 2027-01-15T00:00:00Z")
                })?;
                if at <= now {
                    return Err(invalid("expires_at must be in the future"));
                }
                Some(at)
            }
            (None, None) => None,
        };
        Ok(NewKey {
            name,
            scopes,
            expires_at,
            resources: valid_resources(self.resources, policy)?,
            fields: valid_fields(self.fields, policy)?,
            rate_limits: valid_rate_limits(self.rate_limits.unwrap_or_default(), bounds)?,
            rate_limiting: self.rate_limiting.unwrap_or(true),
            on_limiter_error: self.on_limiter_error.unwrap_or_default(),
            revocation_bound_ms: self
                .revocation_bound_ms
                .map(valid_revocation_bound)
                .transpose()?,
            meta: self.meta.map(valid_meta).transpose()?,
            enabled: self.enabled.unwrap_or(true),
            owner: self.owner.as_deref().map(valid_owner).transpose()?,
        })
    }
}

/// `PATCH /orgs/{org}/keys/{id}`: every field optional; expiry and owner cannot change.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    name: Option<String>,
    scopes: Option<Vec<Scope>>,
    resources: Option<BTreeMap<String, Vec<String>>>,
    fields: Option<BTreeMap<String, Vec<String>>>,
    rate_limits: Option<Vec<WindowSpec>>,
    rate_limiting: Option<bool>,
    on_limiter_error: Option<GuardFallback>,
    revocation_bound_ms: Option<u32>,
    enabled: Option<bool>,
    meta: Option<Box<RawValue>>,
    // Named so the refusal can say why instead of "unknown field"; present even as null.
    #[serde(default, deserialize_with = "present")]
    expires_at: bool,
    #[serde(default, deserialize_with = "present")]
    expires_in_days: bool,
    #[serde(default, deserialize_with = "present")]
    owner: bool,
}

/// True whenever the field appears, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A validated change; `None` leaves a field as it is.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct KeyPatch {
    /// New name.
    pub name: Option<String>,
    /// New scopes.
    pub scopes: Option<Vec<Scope>>,
    /// New resource restrictions.
    pub resources: Option<BTreeMap<String, Vec<String>>>,
    /// New field restrictions.
    pub fields: Option<BTreeMap<String, Vec<String>>>,
    /// New rate-limit windows.
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Rate limiting on or off.
    pub rate_limiting: Option<bool>,
    /// When the guard cannot be reached.
    pub on_limiter_error: Option<GuardFallback>,
    /// New own revocation bound, ms.
    pub revocation_bound_ms: Option<u32>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New meta.
    pub meta: Option<Box<RawValue>>,
}

impl KeyPatch {
    /// Whether the patch changes what the key may reach: its scopes, resources or fields.
    pub fn changes_access(&self) -> bool {
        self.scopes.is_some() || self.resources.is_some() || self.fields.is_some()
    }
}

impl UpdateKey {
    /// Validates the change against the route policy and the bounds on rate limits.
    pub fn validate(self, policy: &Policy, bounds: LimitBounds) -> Result<KeyPatch, GateError> {
        if self.expires_at || self.expires_in_days {
            return Err(invalid(
                "expires_at cannot be changed after creation; create a new key for a different expiry",
            ));
        }
        // Requests already made stay attributed to whom they were made for: another person
        // gets a key of their own.
        if self.owner {
            return Err(invalid(
                "owner cannot be changed after creation; create a key for the new owner and revoke this one",
            ));
        }
        let patch = KeyPatch {
            name: self.name.as_deref().map(valid_name).transpose()?,
            scopes: self.scopes.map(|s| valid_scopes(s, policy)).transpose()?,
            resources: self
                .resources
                .map(|r| valid_resources(r, policy))
                .transpose()?,
            fields: self.fields.map(|f| valid_fields(f, policy)).transpose()?,
            rate_limits: self
                .rate_limits
                .map(|limits| valid_rate_limits(limits, bounds))
                .transpose()?,
            rate_limiting: self.rate_limiting,
            on_limiter_error: self.on_limiter_error,
            revocation_bound_ms: self
                .revocation_bound_ms
                .map(valid_revocation_bound)
                .transpose()?,
            enabled: self.enabled,
            meta: self.meta.map(valid_meta).transpose()?,
        };
        Ok(patch)
    }
}

impl KeyPatch {
    /// Applies the change to `record`; returns the names of the fields that changed.
    pub fn apply(self, record: &mut KeyRecord) -> Vec<&'static str> {
        let mut changed = Vec::new();
        fn set<T: PartialEq>(
            slot: &mut T,
            new: Option<T>,
            name: &'static str,
            changed: &mut Vec<&'static str>,
        ) {
            if let Some(v) = new
                && *slot != v
            {
                *slot = v;
                changed.push(name);
            }
        }
        set(&mut record.name, self.name, "name", &mut changed);
        set(&mut record.scopes, self.scopes, "scopes", &mut changed);
        set(
            &mut record.resources,
            self.resources,
            "resources",
            &mut changed,
        );
        set(&mut record.fields, self.fields, "fields", &mut changed);
        set(
            &mut record.rate_limits,
            self.rate_limits,
            "rate_limits",
            &mut changed,
        );
        set(
            &mut record.rate_limiting,
            self.rate_limiting,
            "rate_limiting",
            &mut changed,
        );
        set(
            &mut record.on_limiter_error,
            self.on_limiter_error,
            "on_limiter_error",
            &mut changed,
        );
        set(
            &mut record.revocation_bound_ms,
            self.revocation_bound_ms.map(Some),
            "revocation_bound_ms",
            &mut changed,
        );
        set(&mut record.enabled, self.enabled, "enabled", &mut changed);
        if let Some(meta) = self.meta
            && record.meta.as_ref().map(|m| m.get()) != Some(meta.get())
        {
            record.meta = Some(meta);
            changed.push("meta");
        }
        changed
    }
}

/// `POST /orgs/{org}/keys/{id}/rotate`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    grace_period_hours: Option<u32>,
}

impl RotateKey {
    /// The grace period in hours (default 24, 0 = the old secret stops at once).
    pub fn grace_hours(&self) -> Result<u32, GateError> {
        match self.grace_period_hours {
            None => Ok(24),
            Some(h) if h <= MAX_GRACE_HOURS => Ok(h),
            Some(_) => Err(invalid(format!(
                "grace_period_hours must be from 0 to {MAX_GRACE_HOURS}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
