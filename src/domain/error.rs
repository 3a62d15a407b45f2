//! `GateError`: every way a request can fail, each with one status, one code and one public
//! message. The matches below have no `_` arm, so a new variant forces each decision.
//!
//! Codes are API: clients branch on them, so they never change. Detail that helps an operator
//! (why a key was malformed, what the origin said) goes to logs through
//! [`GateError::log_detail`], never into a response body, except for configuration errors,
//! which exist to tell the deploying team what to fix.

use crate::domain::authz::scope::Scope;
use crate::domain::config_error::ConfigError;
use crate::domain::key::format::KeyFormatError;
use crate::domain::manage::refusal::Refusal;

mod render;

pub use render::{Rendered, wants_problem_json};

/// A failed request. Client faults are 4xx, origin faults 502/504, keygate's own 500.
#[allow(missing_docs)] // variant fields are described on their variants
#[derive(Debug)]
pub enum GateError {
    /// No key in `Authorization: Bearer` or `X-API-Key`.
    MissingKey,
    /// A key was sent but is not well formed (bad length, characters or checksum).
    MalformedKey(KeyFormatError),
    /// Both credential headers were sent, with different keys.
    ConflictingKeys,
    /// Well formed, but no such key, or revoked.
    InvalidKey,
    /// The key's expiry has passed.
    ExpiredKey,
    /// The key is disabled.
    DisabledKey,
    /// A management request body or parameter is invalid; the message names the field.
    InvalidRequest(String),
    /// The request can be read more than one way (an encoded `/`, an empty segment, a
    /// repeated id parameter…); the message says which. Refused rather than guessed.
    AmbiguousRequest(String),
    /// The request asks the origin to act as another method (`X-HTTP-Method-Override`,
    /// `_method`): keygate authorizes the method it sees, so it refuses these.
    MethodOverride,
    /// A body keygate must read whole (a form it inspects for `_method`) is larger than it
    /// reads; carries the limit in bytes.
    BodyTooLarge(usize),
    /// A management route without a valid admin credential.
    Unauthorized,
    /// A report whose signature is missing, does not verify or names an unknown key.
    InvalidSignature(String),
    /// The key lacks a scope the request needs: every scope it needs (one, or all those a
    /// policy rule `requires`), those the key lacks, and whether the key can only read (then
    /// the message says so, as users of read-only keys expect).
    InsufficientScope {
        needed: Vec<Scope>,
        missing: Vec<Scope>,
        read_only: bool,
    },
    /// No policy rule matches the request and the policy's default denies.
    RouteNotAllowed,
    /// The key is restricted to other ids of this resource type: the type, and the id asked
    /// for (`None` when the request names none).
    ResourceForbidden { kind: String, id: Option<String> },
    /// The organization's plan does not include API access.
    ApiPlanRequired,
    /// A CORS preflight from a web origin the deployment does not allow; carries the origin.
    OriginNotAllowed(String),
    /// A rate-limit window is full: seconds until there is room, and the rate-limit headers.
    RateLimited {
        retry_after: u64,
        headers: Vec<(&'static str, String)>,
    },
    /// Too many failed management authentications from this client: seconds until it may try
    /// again (its credential was not checked).
    TooManyFailedAttempts { retry_after: u64 },
    /// This client sent too many keys that do not exist (well formed, never issued) in the last
    /// minute: refused without a lookup until `retry_after` seconds have passed. A 429 rather
    /// than a 401: the key may be fine, the client has to slow down.
    TooManyInvalidKeys { retry_after: u64 },
    /// The key's guard could not be reached and the key says to refuse then; detail for logs.
    GuardUnavailable(String),
    /// A field-restricted response could not be filtered (not JSON); detail for logs.
    UnfilterableResponse(String),
    /// An admin-scoped key acting outside its own organization; carries that organization.
    OtherOrganization(String),
    /// Only the admin token may do this (create or change organizations).
    OperatorOnly,
    /// Only the admin token may make this setting (beyond the plan, or vouched for by
    /// keygate); the refusal names the field.
    NotPermitted(Refusal),
    /// The organization's plan allows no more keys.
    KeyLimitReached,
    /// The organization's resource registry holds its most registrations; carries that number.
    ResourceLimitReached(u32),
    /// No such key (or revoked) in this organization.
    KeyNotFound,
    /// No such webhook endpoint in this organization.
    WebhookNotFound,
    /// No such resource in this organization's registry.
    ResourceNotFound,
    /// No such organization.
    OrgNotFound,
    /// No such route under the management prefix.
    NotFound,
    /// The route exists but not with this method; carries the allowed methods.
    MethodNotAllowed(&'static str),
    /// The origin could not be reached (connection refused, DNS, TLS…); detail for logs.
    OriginUnavailable(String),
    /// The origin did not answer in time.
    OriginTimeout,
    /// The deployment's variables are invalid.
    Config(ConfigError),
    /// A failure inside keygate or its storage; detail for logs only.
    Internal(String),
}

impl GateError {
    /// HTTP status of the response.
    pub fn status(&self) -> u16 {
        match self {
            GateError::MissingKey
            | GateError::MalformedKey(_)
            | GateError::InvalidKey
            | GateError::ExpiredKey
            | GateError::DisabledKey => 401,
            GateError::ConflictingKeys
            | GateError::InvalidRequest(_)
            | GateError::AmbiguousRequest(_)
            | GateError::MethodOverride => 400,
            GateError::Unauthorized | GateError::InvalidSignature(_) => 401,
            GateError::InsufficientScope { .. }
            | GateError::RouteNotAllowed
            | GateError::ResourceForbidden { .. }
            | GateError::ApiPlanRequired
            | GateError::OriginNotAllowed(_)
            | GateError::OtherOrganization(_)
            | GateError::OperatorOnly
            | GateError::NotPermitted(_)
            | GateError::KeyLimitReached
            | GateError::ResourceLimitReached(_) => 403,
            GateError::KeyNotFound
            | GateError::WebhookNotFound
            | GateError::ResourceNotFound
            | GateError::OrgNotFound
            | GateError::NotFound => 404,
            GateError::MethodNotAllowed(_) => 405,
            GateError::BodyTooLarge(_) => 413,
            GateError::RateLimited { .. }
            | GateError::TooManyFailedAttempts { .. }
            | GateError::TooManyInvalidKeys { .. } => 429,
            GateError::OriginUnavailable(_) | GateError::UnfilterableResponse(_) => 502,
            GateError::OriginTimeout => 504,
            GateError::GuardUnavailable(_) => 503,
            GateError::Config(_) | GateError::Internal(_) => 500,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            GateError::MissingKey => "missing_api_key",
            GateError::MalformedKey(_) => "malformed_api_key",
            GateError::ConflictingKeys => "conflicting_api_keys",
            GateError::InvalidKey => "invalid_api_key",
            GateError::ExpiredKey => "expired_api_key",
            GateError::DisabledKey => "disabled_api_key",
            GateError::InvalidRequest(_) => "invalid_request",
            GateError::AmbiguousRequest(_) => "ambiguous_request",
            GateError::MethodOverride => "method_override_refused",
            GateError::BodyTooLarge(_) => "body_too_large",
            GateError::Unauthorized => "unauthorized",
            GateError::InvalidSignature(_) => "invalid_signature",
            GateError::InsufficientScope { .. } => "insufficient_scope",
            GateError::RouteNotAllowed => "route_not_allowed",
            GateError::RateLimited { .. } => "rate_limit_exceeded",
            GateError::TooManyFailedAttempts { .. } => "too_many_failed_attempts",
            GateError::TooManyInvalidKeys { .. } => "too_many_invalid_keys",
            GateError::ResourceForbidden { .. } => "resource_forbidden",
            GateError::ApiPlanRequired => "api_plan_required",
            GateError::OriginNotAllowed(_) => "origin_not_allowed",
            GateError::UnfilterableResponse(_) => "unfilterable_response",
            GateError::OtherOrganization(_)
            | GateError::OperatorOnly
            | GateError::NotPermitted(_) => "forbidden",
            GateError::KeyLimitReached => "key_limit_reached",
            GateError::ResourceLimitReached(_) => "resource_limit_reached",
            GateError::KeyNotFound => "key_not_found",
            GateError::WebhookNotFound => "webhook_not_found",
            GateError::ResourceNotFound => "resource_not_found",
            GateError::OrgNotFound => "org_not_found",
            GateError::NotFound => "not_found",
            GateError::MethodNotAllowed(_) => "method_not_allowed",
            GateError::OriginUnavailable(_) => "origin_unavailable",
            GateError::OriginTimeout => "origin_timeout",
            GateError::GuardUnavailable(_) => "limiter_unavailable",
            GateError::Config(_) => "configuration_error",
            GateError::Internal(_) => "internal_error",
        }
    }

    /// Human-readable message sent to the client.
    pub fn public_message(&self) -> String {
        match self {
            GateError::MissingKey => {
                "API key is required. Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
                    .into()
            }
            GateError::MalformedKey(_) => "Malformed API key".into(),
            GateError::ConflictingKeys => {
                "Two different API keys were sent; send one, in 'Authorization' or 'X-API-Key'.".into()
            }
            GateError::InvalidKey => "Invalid API key".into(),
            GateError::ExpiredKey => "API key has expired".into(),
            GateError::DisabledKey => "API key is disabled".into(),
            GateError::InvalidRequest(message) | GateError::AmbiguousRequest(message) => {
                message.clone()
            }
            GateError::BodyTooLarge(limit) => {
                format!("The request body must be at most {} KiB", limit / 1024)
            }
            GateError::MethodOverride => {
                "Method overrides (X-HTTP-Method-Override, _method) are not accepted; send the real method".into()
            }
            GateError::Unauthorized => {
                "The admin token or an API key with the admin scope is required".into()
            }
            GateError::InvalidSignature(why) => format!("Invalid signature: {why}"),
            GateError::InsufficientScope { read_only: true, .. } => {
                "Insufficient permissions. This key has read-only access.".into()
            }
            GateError::InsufficientScope {
                needed, missing, ..
            } => match needed.as_slice() {
                [one] => format!("Insufficient permissions. This key needs the {one} scope."),
                all => format!(
                    "Insufficient permissions. This request needs the scopes {}; this key lacks {}.",
                    joined(all, ", "),
                    joined(missing, ", ")
                ),
            },
            GateError::RouteNotAllowed => "No rule of the API policy allows this request".into(),
            GateError::RateLimited { .. } => "Too many requests".into(),
            GateError::TooManyFailedAttempts { .. } => {
                "Too many failed authentication attempts; try again later".into()
            }
            GateError::TooManyInvalidKeys { .. } => {
                "Too many invalid API keys from this client; try again later".into()
            }
            GateError::ResourceForbidden { id: Some(id), .. } => {
                format!("This API key cannot access {id}")
            }
            GateError::ResourceForbidden { kind, id: None } => {
                format!("This API key is limited to specific {kind} ids; name one in the request")
            }
            GateError::ApiPlanRequired => {
                "This organization's plan does not include API access. Upgrade to a plan with API access to create and use API keys.".into()
            }
            GateError::OriginNotAllowed(origin) => {
                format!("Cross-origin requests from {origin} are not allowed")
            }
            GateError::UnfilterableResponse(_) => {
                "The upstream response could not be filtered to this key's fields".into()
            }
            GateError::OtherOrganization(org) => {
                format!("This API key cannot manage organization {org}")
            }
            GateError::OperatorOnly => {
                "Only the admin token can list, create or change organizations".into()
            }
            GateError::NotPermitted(refusal) => refusal.to_string(),
            GateError::KeyLimitReached => "API key limit reached. Upgrade to create more keys.".into(),
            GateError::ResourceLimitReached(limit) => format!(
                "Resource registry full: an organization registers at most {limit} resources; delete some first"
            ),
            GateError::KeyNotFound => "API key not found".into(),
            GateError::WebhookNotFound => "Webhook endpoint not found".into(),
            GateError::ResourceNotFound => "Resource not registered".into(),
            GateError::OrgNotFound => "Organization not found".into(),
            GateError::NotFound => "Not found".into(),
            GateError::MethodNotAllowed(allow) => format!("Method not allowed; use {allow}"),
            GateError::OriginUnavailable(_) => "The upstream API is unavailable".into(),
            GateError::GuardUnavailable(_) => {
                "The rate limiter is unavailable and this key refuses requests without it".into()
            }
            GateError::OriginTimeout => "The upstream API did not respond in time".into(),
            GateError::Config(e) => format!("keygate is misconfigured: {e}"),
            GateError::Internal(_) => "Internal error".into(),
        }
    }

    /// Detail for the log line; never sent to the client.
    pub fn log_detail(&self) -> String {
        match self {
            GateError::MalformedKey(reason) => reason.to_string(),
            GateError::OriginUnavailable(detail)
            | GateError::UnfilterableResponse(detail)
            | GateError::Internal(detail) => detail.clone(),
            GateError::Config(e) => e.to_string(),
            GateError::GuardUnavailable(detail) => detail.clone(),
            GateError::MissingKey
            | GateError::ConflictingKeys
            | GateError::InvalidRequest(_)
            | GateError::AmbiguousRequest(_)
            | GateError::MethodOverride
            | GateError::BodyTooLarge(_)
            | GateError::Unauthorized
            | GateError::InvalidSignature(_)
            | GateError::InsufficientScope { .. }
            | GateError::OtherOrganization(_)
            | GateError::RouteNotAllowed
            | GateError::RateLimited { .. }
            | GateError::TooManyFailedAttempts { .. }
            | GateError::TooManyInvalidKeys { .. }
            | GateError::ResourceForbidden { .. }
            | GateError::ApiPlanRequired
            | GateError::OriginNotAllowed(_)
            | GateError::OperatorOnly
            | GateError::NotPermitted(_)
            | GateError::KeyLimitReached
            | GateError::ResourceLimitReached(_)
            | GateError::KeyNotFound
            | GateError::WebhookNotFound
            | GateError::ResourceNotFound
            | GateError::OrgNotFound
            | GateError::MethodNotAllowed(_)
            | GateError::InvalidKey
            | GateError::ExpiredKey
            | GateError::DisabledKey
            | GateError::NotFound
            | GateError::OriginTimeout => String::new(),
        }
    }
}

/// The scopes as written, separated by `separator`.
pub(crate) fn joined(scopes: &[Scope], separator: &str) -> String {
    scopes
        .iter()
        .map(Scope::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

impl From<KeyFormatError> for GateError {
    fn from(e: KeyFormatError) -> Self {
        GateError::MalformedKey(e)
    }
}

impl From<ConfigError> for GateError {
    fn from(e: ConfigError) -> Self {
        GateError::Config(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_one_status_and_code() {
        let table: &[(GateError, u16, &str)] = &[
            (GateError::MissingKey, 401, "missing_api_key"),
            (
                GateError::MalformedKey(KeyFormatError::BadLength),
                401,
                "malformed_api_key",
            ),
            (GateError::ConflictingKeys, 400, "conflicting_api_keys"),
            (GateError::InvalidKey, 401, "invalid_api_key"),
            (GateError::ExpiredKey, 401, "expired_api_key"),
            (GateError::DisabledKey, 401, "disabled_api_key"),
            (GateError::NotFound, 404, "not_found"),
            (
                GateError::InvalidRequest("x".into()),
                400,
                "invalid_request",
            ),
            (GateError::Unauthorized, 401, "unauthorized"),
            (
                GateError::InvalidSignature("x".into()),
                401,
                "invalid_signature",
            ),
            (
                GateError::InsufficientScope {
                    needed: vec![Scope::admin()],
                    missing: vec![Scope::admin()],
                    read_only: false,
                },
                403,
                "insufficient_scope",
            ),
            (GateError::RouteNotAllowed, 403, "route_not_allowed"),
            (
                GateError::ResourceForbidden {
                    kind: "site".into(),
                    id: None,
                },
                403,
                "resource_forbidden",
            ),
            (GateError::ApiPlanRequired, 403, "api_plan_required"),
            (
                GateError::UnfilterableResponse("html".into()),
                502,
                "unfilterable_response",
            ),
            (GateError::OtherOrganization("o".into()), 403, "forbidden"),
            (GateError::NotPermitted(Refusal::Meta), 403, "forbidden"),
            (GateError::KeyLimitReached, 403, "key_limit_reached"),
            (GateError::KeyNotFound, 404, "key_not_found"),
            (GateError::WebhookNotFound, 404, "webhook_not_found"),
            (GateError::ResourceNotFound, 404, "resource_not_found"),
            (
                GateError::ResourceLimitReached(1000),
                403,
                "resource_limit_reached",
            ),
            (GateError::OrgNotFound, 404, "org_not_found"),
            (
                GateError::MethodNotAllowed("GET"),
                405,
                "method_not_allowed",
            ),
            (
                GateError::OriginUnavailable("refused".into()),
                502,
                "origin_unavailable",
            ),
            (GateError::OriginTimeout, 504, "origin_timeout"),
            (
                GateError::TooManyInvalidKeys { retry_after: 1 },
                429,
                "too_many_invalid_keys",
            ),
            (GateError::Internal("kv".into()), 500, "internal_error"),
        ];
        for (err, status, code) in table {
            assert_eq!((err.status(), err.code()), (*status, *code), "{err:?}");
        }
    }

    #[test]
    fn insufficient_scope_names_what_is_missing() {
        let scopes = |list: &[&str]| -> Vec<Scope> {
            list.iter().map(|s| Scope::parse(s).unwrap()).collect()
        };
        let one = GateError::InsufficientScope {
            needed: scopes(&["time_entries:delete"]),
            missing: scopes(&["time_entries:delete"]),
            read_only: false,
        };
        assert_eq!(
            one.public_message(),
            "Insufficient permissions. This key needs the time_entries:delete scope."
        );
        let several = GateError::InsufficientScope {
            needed: scopes(&["employees:read", "reports:read"]),
            missing: scopes(&["reports:read"]),
            read_only: false,
        };
        assert_eq!(
            several.public_message(),
            "Insufficient permissions. This request needs the scopes employees:read, reports:read; this key lacks reports:read."
        );
        let read_only = GateError::InsufficientScope {
            needed: scopes(&["admin"]),
            missing: scopes(&["admin"]),
            read_only: true,
        };
        assert_eq!(
            read_only.public_message(),
            "Insufficient permissions. This key has read-only access."
        );
    }
}
