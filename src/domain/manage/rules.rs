//! The validation rules of the management API's bodies: each checks one field and names it in
//! its 400.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::authz::policy::Policy;
pub(super) use crate::domain::authz::resource::is_resource_id;
use crate::domain::authz::resource::is_resource_type;
use crate::domain::authz::scope::Scope;
use crate::domain::config::RevocationBound;
use crate::domain::error::GateError;
use crate::domain::http::forward::{MAX_RESOURCES_HEADER_BYTES, resources_header};
use crate::domain::key::record::KeyOwner;
use crate::domain::limits::window::RateLimit;

/// Largest `meta` object, serialized: it travels to the origin in a header.
pub const MAX_META_BYTES: usize = 2048;
/// Most ids per resource type, fields per resource, or rate-limit windows.
const MAX_LIST: usize = 100;

pub(super) fn invalid(message: impl Into<String>) -> GateError {
    GateError::InvalidRequest(message.into())
}

pub(super) fn valid_name(name: &str) -> Result<String, GateError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("API key name is required"));
    }
    let chars = name.chars().count();
    if !(3..=100).contains(&chars) {
        return Err(invalid(format!(
            "API key name must be 3-100 characters (got {chars})"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("API key name must not contain control characters"));
    }
    Ok(name.to_owned())
}

pub(super) fn valid_scopes(scopes: Vec<Scope>, policy: &Policy) -> Result<Vec<Scope>, GateError> {
    if scopes.is_empty() {
        return Err(invalid("At least one scope is required"));
    }
    if let Some(unknown) = scopes.iter().find(|s| !policy.knows(s)) {
        return Err(invalid(format!(
            "Invalid scope: {unknown} (the API policy knows the resources {})",
            policy.resources().join(", ")
        )));
    }
    let mut unique = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !unique.contains(&scope) {
            unique.push(scope);
        }
    }
    Ok(unique)
}

pub(super) fn is_field_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

pub(super) fn valid_restrictions(
    field: &str,
    map: BTreeMap<String, Vec<String>>,
    valid_entry: fn(&str) -> bool,
) -> Result<BTreeMap<String, Vec<String>>, GateError> {
    if map.len() > MAX_LIST {
        return Err(invalid(format!(
            "{field} may name at most {MAX_LIST} resources"
        )));
    }
    for (resource, entries) in &map {
        if !is_resource_type(resource) {
            return Err(invalid(format!(
                "{field}: invalid resource name {resource:?}"
            )));
        }
        if entries.is_empty() || entries.len() > MAX_LIST {
            return Err(invalid(format!(
                "{field}.{resource} must list 1 to {MAX_LIST} entries"
            )));
        }
        if let Some(bad) = entries.iter().find(|e| !valid_entry(e)) {
            return Err(invalid(format!(
                "{field}.{resource}: invalid entry {bad:?}"
            )));
        }
    }
    Ok(map)
}

/// A key's resource restrictions: valid as any restriction, and short enough, encoded, for
/// the header that carries them to the origin.
pub(super) fn valid_resources(
    map: BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Vec<String>>, GateError> {
    let map = valid_restrictions("resources", map, is_resource_id)?;
    let encoded = resources_header(&map).len();
    if encoded > MAX_RESOURCES_HEADER_BYTES {
        return Err(invalid(format!(
            "resources must encode to at most {MAX_RESOURCES_HEADER_BYTES} bytes (got {encoded}): the origin receives them in the X-Keygate-Resources header"
        )));
    }
    Ok(map)
}

/// A key's owner: an email address or a user id (see [`KeyOwner`]).
pub(super) fn valid_owner(owner: &str) -> Result<KeyOwner, GateError> {
    KeyOwner::parse(owner).ok_or_else(|| {
        invalid(format!(
            "owner must be 1-{} printable ASCII characters without spaces (an email address or a user id)",
            KeyOwner::MAX_LEN
        ))
    })
}

/// A key's own revocation bound: 0 to [`RevocationBound::MAX_MS`].
pub(super) fn valid_revocation_bound(ms: u32) -> Result<u32, GateError> {
    RevocationBound::from_millis(u64::from(ms))
        .map(|_| ms)
        .ok_or_else(|| {
            invalid(format!(
                "revocation_bound_ms must be from 0 to {} (milliseconds)",
                RevocationBound::MAX_MS
            ))
        })
}

/// A rate-limit window as a body sends it, before [`valid_rate_limits`] makes it a
/// [`RateLimit`] (which cannot hold a zero): the checks below name the offending field.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RateLimitBody {
    name: String,
    limit: u32,
    window_seconds: u32,
}

pub(super) fn valid_rate_limits(limits: Vec<RateLimitBody>) -> Result<Vec<RateLimit>, GateError> {
    if limits.len() > 10 {
        return Err(invalid("rate_limits may have at most 10 windows"));
    }
    for (i, l) in limits.iter().enumerate() {
        let name_ok = (1..=32).contains(&l.name.len())
            && l.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(invalid(format!(
                "rate_limits[{i}].name must be 1-32 of a-z, 0-9, '_' or '-'"
            )));
        }
        if l.limit == 0 {
            return Err(invalid(format!(
                "rate_limits[{i}].limit must be at least 1"
            )));
        }
        if !(1..=86_400).contains(&l.window_seconds) {
            return Err(invalid(format!(
                "rate_limits[{i}].window_seconds must be from 1 to 86400"
            )));
        }
        if limits[..i].iter().any(|o| o.name == l.name) {
            return Err(invalid(format!(
                "rate_limits[{i}].name {:?} is used twice",
                l.name
            )));
        }
    }
    Ok(limits
        .into_iter()
        .filter_map(|l| RateLimit::new(l.name, l.limit, l.window_seconds))
        .collect())
}

pub(super) fn valid_meta(meta: Box<RawValue>) -> Result<Box<RawValue>, GateError> {
    #![allow(clippy::boxed_local)] // serde hands RawValue over boxed
    if !meta.get().trim_start().starts_with('{') {
        return Err(invalid("meta must be a JSON object"));
    }
    // Re-serialized compactly: the origin receives it in one header line.
    let value: serde_json::Value =
        serde_json::from_str(meta.get()).map_err(|_| invalid("meta must be a JSON object"))?;
    let compact =
        serde_json::to_string(&value).map_err(|_| invalid("meta must be a JSON object"))?;
    if compact.len() > MAX_META_BYTES {
        return Err(invalid(format!(
            "meta must be at most {MAX_META_BYTES} bytes"
        )));
    }
    RawValue::from_string(compact).map_err(|_| invalid("meta must be a JSON object"))
}
