//! The validation rules of the management API's bodies: each checks one field and names it in
//! its 400.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::domain::authz::fields::is_field_path;
use crate::domain::authz::policy::Policy;
pub(super) use crate::domain::authz::resource::is_resource_id;
use crate::domain::authz::resource::is_resource_type;
use crate::domain::authz::scope::Scope;
use crate::domain::config::RevocationBound;
use crate::domain::error::GateError;
use crate::domain::http::forward::{MAX_RESOURCES_HEADER_BYTES, resources_header};
use crate::domain::key::record::KeyOwner;
use crate::domain::limits::bounds::{LimitBounds, WindowSpec, check_windows};
use crate::domain::limits::window::RateLimit;

/// Largest `meta` object, serialized: it travels to the origin in a header.
pub const MAX_META_BYTES: usize = 2048;
/// Most ids per resource type, or fields per resource.
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

/// A key's field restrictions: valid paths and, for a resource whose policy rules declare
/// filterable fields, only those: a typo in a field name is a 400, not a key that silently
/// receives empty objects. Resources whose rules declare none accept any path.
pub(super) fn valid_fields(
    map: BTreeMap<String, Vec<String>>,
    policy: &Policy,
) -> Result<BTreeMap<String, Vec<String>>, GateError> {
    let map = valid_restrictions("fields", map, is_field_path)?;
    let known = policy.resources();
    for (resource, paths) in &map {
        // A restriction on a resource no rule names never applies: the key would get every
        // field (a typo such as "employee" must not silently unfilter the response).
        if !known.is_empty() && !known.contains(&resource.as_str()) {
            return Err(invalid(format!(
                "fields: unknown resource {resource:?} (the API policy knows the resources {})",
                known.join(", ")
            )));
        }
        let declared = policy.filterable(resource);
        if declared.is_empty() {
            continue;
        }
        if let Some(unknown) = paths.iter().find(|p| !declared.contains(&p.as_str())) {
            return Err(invalid(format!(
                "fields.{resource}: unknown field {unknown:?} for resource {resource} (the API policy allows {})",
                declared.join(", ")
            )));
        }
    }
    Ok(map)
}

/// A key's resource restrictions: valid as any restriction, and short enough, encoded, for
/// the header that carries them to the origin.
pub(super) fn valid_resources(
    map: BTreeMap<String, Vec<String>>,
    policy: &Policy,
) -> Result<BTreeMap<String, Vec<String>>, GateError> {
    let map = valid_restrictions("resources", map, is_resource_id)?;
    // A type no rule reads and no parent is would never be checked: a typo ("teams") must not
    // make a key meant for one team reach every website.
    let known = policy.id_types();
    if policy.has_rules()
        && let Some(unknown) = map.keys().find(|t| !known.contains(t))
    {
        return Err(invalid(format!(
            "resources: unknown resource type {unknown:?} (the API policy knows the types {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
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

/// A key's own rate-limit windows: within the deployment's `bounds`, whoever sets them (the
/// operator too: these are the deployment's bounds, not a plan's).
pub(super) fn valid_rate_limits(
    limits: Vec<WindowSpec>,
    bounds: LimitBounds,
) -> Result<Vec<RateLimit>, GateError> {
    check_windows("rate_limits", limits, bounds).map_err(invalid)
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
