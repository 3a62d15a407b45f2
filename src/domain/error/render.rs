//! An error as the client receives it: status, headers (challenge, `Retry-After`, limits) and
//! a JSON or `application/problem+json` body.

use serde::Serialize;

use super::{GateError, joined};
use crate::domain::authz::scope::Scope;
use crate::domain::key::fallback::GuardFallback;

impl GateError {
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): `error="invalid_token"` only
    /// when a key was actually sent.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            GateError::MissingKey | GateError::Unauthorized => {
                Some(r#"Bearer realm="keygate""#.to_owned())
            }
            // RFC 6750 §3: `scope` lists every scope the request needs, space-delimited.
            GateError::InsufficientScope { needed, .. } => Some(format!(
                r#"Bearer realm="keygate", error="insufficient_scope", scope="{}""#,
                joined(needed, " ")
            )),
            GateError::MalformedKey(_)
            | GateError::InvalidKey
            | GateError::ExpiredKey
            | GateError::DisabledKey => Some(format!(
                r#"Bearer realm="keygate", error="invalid_token", error_description="{}""#,
                self.public_message()
            )),
            GateError::ConflictingKeys
            | GateError::InvalidRequest(_)
            | GateError::AmbiguousRequest(_)
            | GateError::MethodOverride
            | GateError::BodyTooLarge(_)
            | GateError::OtherOrganization(_)
            | GateError::RouteNotAllowed
            | GateError::RateLimited { .. }
            | GateError::TooManyFailedAttempts { .. }
            | GateError::TooManyInvalidKeys { .. }
            | GateError::ResourceForbidden { .. }
            | GateError::ApiPlanRequired
            | GateError::OriginNotAllowed(_)
            | GateError::UnfilterableResponse(_)
            | GateError::OperatorOnly
            | GateError::NotPermitted(_)
            | GateError::KeyLimitReached
            | GateError::ResourceLimitReached(_)
            | GateError::KeyNotFound
            | GateError::WebhookNotFound
            | GateError::ResourceNotFound
            | GateError::InvalidSignature(_)
            | GateError::OrgNotFound
            | GateError::NotFound
            | GateError::MethodNotAllowed(_)
            | GateError::OriginUnavailable(_)
            | GateError::OriginTimeout
            | GateError::GuardUnavailable(_)
            | GateError::Config(_)
            | GateError::Internal(_) => None,
        }
    }

    /// The full response: status, headers and body, as JSON or, when the client asked for
    /// `application/problem+json`, as an RFC 9457 problem document carrying the same fields.
    pub fn render(&self, problem_json: bool) -> Rendered {
        let message = self.public_message();
        let retry_after = match self {
            GateError::RateLimited { retry_after, .. }
            | GateError::TooManyFailedAttempts { retry_after }
            | GateError::TooManyInvalidKeys { retry_after } => Some(*retry_after),
            _ => None,
        };
        let missing_scopes = match self {
            GateError::InsufficientScope { missing, .. } => Some(missing.as_slice()),
            _ => None,
        };
        let fields = ErrorBody {
            error: self.code(),
            message: &message,
            retry_after,
            missing_scopes,
        };
        let body = if problem_json {
            serde_json::to_string(&Problem {
                kind: format!("urn:keygate:error:{}", self.code()),
                title: &message,
                status: self.status(),
                fields,
            })
        } else {
            serde_json::to_string(&fields)
        };
        let content_type = if problem_json {
            "application/problem+json"
        } else {
            "application/json"
        };
        let mut headers = vec![("content-type", content_type.to_owned())];
        headers.extend(self.www_authenticate().map(|v| ("www-authenticate", v)));
        if let GateError::GuardUnavailable(_) = self {
            headers.push(GuardFallback::Deny.header());
        }
        if let GateError::MethodNotAllowed(allow) = self {
            headers.push(("allow", (*allow).to_owned()));
        }
        if let Some(seconds) = retry_after {
            headers.push(("retry-after", seconds.to_string()));
        }
        if let GateError::RateLimited {
            headers: limits, ..
        } = self
        {
            headers.extend(limits.iter().cloned());
        }
        Rendered {
            status: self.status(),
            headers,
            // Typed strings and numbers cannot fail to encode; if they ever did, the client
            // still gets a JSON body, never an empty one.
            body: body.unwrap_or_else(|_| {
                r#"{"error":"internal_error","message":"Internal error"}"#.to_owned()
            }),
        }
    }
}

/// Whether a client's `Accept` asks for RFC 9457 problem documents.
pub fn wants_problem_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| accept.contains("application/problem+json"))
}

/// A response ready for the edge to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    /// HTTP status.
    pub status: u16,
    /// Lower-case header names and their values.
    pub headers: Vec<(&'static str, String)>,
    /// UTF-8 JSON body.
    pub body: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    message: &'a str,
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    /// The scopes an `insufficient_scope` refusal's key lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_scopes: Option<&'a [Scope]>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    /// The same fields as the plain JSON body, after the problem's own.
    #[serde(flatten)]
    fields: ErrorBody<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_error_and_message() {
        let r = GateError::InvalidKey.render(false);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.body,
            r#"{"error":"invalid_api_key","message":"Invalid API key"}"#
        );
        assert!(
            r.headers
                .contains(&("content-type", "application/json".into()))
        );
    }

    #[test]
    fn problem_json_carries_the_same_code() {
        let r = GateError::ExpiredKey.render(true);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["type"], "urn:keygate:error:expired_api_key");
        assert_eq!(v["status"], 401);
        assert_eq!(v["error"], "expired_api_key");
        assert_eq!(v["title"], "API key has expired");
        assert!(
            r.headers
                .contains(&("content-type", "application/problem+json".into()))
        );
    }

    #[test]
    fn rate_limited_is_a_429_with_retry_after_and_limits() {
        let err = GateError::RateLimited {
            retry_after: 45,
            headers: vec![("x-ratelimit-limit", "100".into())],
        };
        let r = err.render(false);
        assert_eq!(r.status, 429);
        assert_eq!(
            r.body,
            r#"{"error":"rate_limit_exceeded","message":"Too many requests","retryAfter":45}"#
        );
        assert!(r.headers.contains(&("retry-after", "45".into())));
        assert!(r.headers.contains(&("x-ratelimit-limit", "100".into())));
    }

    #[test]
    fn failed_attempts_are_a_429_with_retry_after() {
        let r = GateError::TooManyFailedAttempts { retry_after: 40 }.render(false);
        assert_eq!(r.status, 429);
        assert_eq!(
            r.body,
            r#"{"error":"too_many_failed_attempts","message":"Too many failed authentication attempts; try again later","retryAfter":40}"#
        );
        assert!(r.headers.contains(&("retry-after", "40".into())));
        assert!(
            GateError::TooManyFailedAttempts { retry_after: 1 }
                .www_authenticate()
                .is_none()
        );
    }

    #[test]
    fn too_many_invalid_keys_says_when_to_come_back() {
        let r = GateError::TooManyInvalidKeys { retry_after: 42 }.render(false);
        assert_eq!(r.status, 429);
        assert_eq!(
            r.body,
            r#"{"error":"too_many_invalid_keys","message":"Too many invalid API keys from this client; try again later","retryAfter":42}"#
        );
        assert!(r.headers.contains(&("retry-after", "42".into())));
        assert!(
            !r.headers.iter().any(|(n, _)| *n == "www-authenticate"),
            "not a verdict on the key"
        );
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        assert_eq!(
            GateError::MissingKey.www_authenticate().unwrap(),
            r#"Bearer realm="keygate""#
        );
        let sent = GateError::InvalidKey.www_authenticate().unwrap();
        assert!(
            sent.starts_with(r#"Bearer realm="keygate", error="invalid_token""#),
            "{sent}"
        );
        assert!(GateError::OriginTimeout.www_authenticate().is_none());
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let r = GateError::Internal("kv exploded at 10.0.0.1".into()).render(false);
        assert!(!r.body.contains("exploded"));
        let r = GateError::OriginUnavailable("connect ECONNREFUSED".into()).render(true);
        assert!(!r.body.contains("ECONNREFUSED"));
    }

    #[test]
    fn insufficient_scope_lists_the_missing_scopes() {
        let scope = |s: &str| Scope::parse(s).unwrap();
        let err = GateError::InsufficientScope {
            needed: vec![scope("employees:read"), scope("reports:read")],
            missing: vec![scope("reports:read")],
            read_only: false,
        };
        for problem in [false, true] {
            let v: serde_json::Value = serde_json::from_str(&err.render(problem).body).unwrap();
            assert_eq!(v["missing_scopes"], serde_json::json!(["reports:read"]));
        }
        assert_eq!(
            err.www_authenticate().unwrap(),
            r#"Bearer realm="keygate", error="insufficient_scope", scope="employees:read reports:read""#
        );
        let other = GateError::InvalidKey.render(false).body;
        assert!(!other.contains("missing_scopes"), "{other}");
    }
}
