//! The views the management API answers with: an organization and a key as it shows them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::authz::scope::Scope;
use crate::domain::key::record::{GuardFallback, KeyId, KeyOwner, KeyRecord, KeyStatus, OrgId};
use crate::domain::limits::plan::Plan;
use crate::domain::limits::window::RateLimit;
use crate::domain::time::{self, UnixMillis};

/// An organization as the API shows it.
#[derive(Serialize, Clone, Debug)]
pub struct OrgView {
    /// Organization id.
    pub id: OrgId,
    /// Plan.
    pub plan: Plan,
    /// Whether its keys may call the API.
    pub api_access: bool,
    /// Most live keys; `null` = unlimited.
    pub key_limit: Option<u32>,
    /// Live (not revoked) keys.
    pub key_count: u32,
    /// The plan's windows: the limits of every key that sets none of its own, and the bounds
    /// an organization admin's own windows must keep within.
    pub default_rate_limits: Vec<RateLimit>,
    /// What a key found in public becomes.
    pub on_leak: crate::domain::leak::OnLeak,
    /// Creation time.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub created_at: UnixMillis,
    /// Last change.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub updated_at: UnixMillis,
}

/// A key as the management API shows it: never the secret or its hash.
#[derive(Serialize, Debug)]
pub struct KeyView {
    /// The full key: only in the answer to the call that creates or rotates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// After a rotation: until when the previous secret still works.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "time::serialize_rfc3339_opt"
    )]
    pub previous_key_valid_until: Option<UnixMillis>,
    /// Stable id.
    pub id: KeyId,
    /// Organization.
    pub org: OrgId,
    /// Name.
    pub name: String,
    /// The key's start: prefix and the first random characters.
    pub start: String,
    /// Status now.
    pub status: KeyStatus,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// Resource restrictions.
    pub resources: BTreeMap<String, Vec<String>>,
    /// Field restrictions.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Own rate-limit windows.
    pub rate_limits: Vec<RateLimit>,
    /// Rate limiting on?
    pub rate_limiting: bool,
    /// When the guard cannot be reached.
    pub on_limiter_error: GuardFallback,
    /// The key's own revocation bound, ms; `None` = the deployment's.
    pub revocation_bound_ms: Option<u32>,
    /// Enabled flag.
    pub enabled: bool,
    /// Expiry, or `null` = never.
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    pub expires_at: Option<UnixMillis>,
    /// Creation time.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub created_at: UnixMillis,
    /// Creator.
    pub created_by: String,
    /// Whom its requests are attributed to; `None` = nobody in particular.
    pub owner: Option<KeyOwner>,
    /// Last update.
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    pub updated_at: Option<UnixMillis>,
    /// Last rotation.
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    pub rotated_at: Option<UnixMillis>,
    /// Revocation time.
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    pub revoked_at: Option<UnixMillis>,
    /// Meta JSON.
    pub meta: Option<Box<RawValue>>,
    /// Last admitted request (from the key's guard).
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    pub last_used_at: Option<UnixMillis>,
    /// Admitted requests since creation (from the key's guard).
    pub requests_total: u64,
}

impl KeyView {
    /// The view of `record` at `now`.
    pub fn of(record: &KeyRecord, now: UnixMillis) -> KeyView {
        let r = record.clone();
        KeyView {
            key: None,
            previous_key_valid_until: None,
            status: KeyStatus::of(record, now),
            id: r.id,
            org: r.org,
            name: r.name,
            start: r.start,
            scopes: r.scopes,
            resources: r.resources,
            fields: r.fields,
            rate_limits: r.rate_limits,
            rate_limiting: r.rate_limiting,
            on_limiter_error: r.on_limiter_error,
            revocation_bound_ms: r.revocation_bound_ms,
            enabled: r.enabled,
            expires_at: r.expires_at,
            created_at: r.created_at,
            created_by: r.created_by,
            owner: r.owner,
            updated_at: r.updated_at,
            rotated_at: r.rotated_at,
            revoked_at: r.revoked_at,
            meta: r.meta,
            last_used_at: None,
            requests_total: 0,
        }
    }
}
