//! Why a command failed, the line it prints, and its exit code. The codes are documented in
//! `keygate --help` and docs/cli.md, and scripts rely on them:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | anything else: a confirmation not given, an answer that is not keygate's |
//! | 2 | usage error (clap's own code: a bad flag or value, no URL or token) |
//! | 3 | keygate refused: any 4xx or 5xx answer; its code and message are printed |
//! | 4 | network failure: connection refused, DNS, TLS, timeout |

use std::fmt;

use serde::Deserialize;
use ureq::http::StatusCode;

/// A command that did not do its work.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// keygate (or whatever answered at the URL) answered 4xx or 5xx.
    Refused {
        /// HTTP status.
        status: u16,
        /// keygate's error code and message, when the body is keygate's error JSON; otherwise
        /// the start of the body.
        said: Said,
        /// `retryAfter` of a 429, seconds.
        retry_after: Option<u64>,
    },
    /// Nothing answered: connection refused, DNS, TLS, timeout.
    Network {
        /// Where it tried (without any user info).
        target: String,
        /// What the transport said.
        reason: String,
    },
    /// Anything else.
    Other(String),
}

/// What a refusal's body said.
#[derive(Debug, PartialEq, Eq)]
pub enum Said {
    /// keygate's `{"error": code, "message": …}`.
    Error {
        /// Stable machine code, e.g. `insufficient_scope`.
        code: String,
        /// Human message.
        message: String,
    },
    /// Not keygate's error body: its first line, shortened.
    Text(String),
}

/// keygate's error body (src/domain/error/render.rs): also the problem+json form's fields.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
    #[serde(rename = "retryAfter")]
    retry_after: Option<u64>,
}

/// Longest piece of a foreign body quoted in an error line.
const QUOTED_CHARS: usize = 200;

impl Failure {
    /// A 4xx/5xx answer with `body`.
    pub fn refused(status: u16, body: &[u8]) -> Failure {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => Failure::Refused {
                status,
                said: Said::Error {
                    code: e.error,
                    message: e.message,
                },
                retry_after: e.retry_after,
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                Failure::Refused {
                    status,
                    said: Said::Text(line.trim().chars().take(QUOTED_CHARS).collect()),
                    retry_after: None,
                }
            }
        }
    }

    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Refused { .. } => 3,
            Failure::Network { .. } => 4,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused {
                status,
                said,
                retry_after,
            } => {
                let reason = StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .map(str::to_lowercase);
                match (said, reason) {
                    (Said::Error { code, message }, Some(reason)) => {
                        write!(f, "error: {reason} ({code}): {message}")?
                    }
                    (Said::Error { code, message }, None) => {
                        write!(f, "error: HTTP {status} ({code}): {message}")?
                    }
                    (Said::Text(text), reason) => {
                        write!(f, "error: HTTP {status}")?;
                        if let Some(reason) = reason {
                            write!(f, " {reason}")?;
                        }
                        if !text.is_empty() {
                            write!(f, ": {text}")?;
                        }
                    }
                }
                match retry_after {
                    Some(seconds) => write!(f, " (retry after {seconds} s)"),
                    None => Ok(()),
                }
            }
            Failure::Network { target, reason } => {
                write!(f, "error: cannot reach keygate at {target}: {reason}")
            }
            Failure::Other(what) => write!(f, "error: {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_exit_code() {
        assert_eq!(Failure::refused(403, b"{}").exit_code(), 3);
        assert_eq!(Failure::refused(500, b"").exit_code(), 3);
        let network = Failure::Network {
            target: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(network.exit_code(), 4);
        assert_eq!(Failure::Other("aborted".into()).exit_code(), 1);
    }

    #[test]
    fn keygates_code_and_message_are_printed() {
        let body = br#"{"error":"insufficient_scope","message":"Missing scope: admin"}"#;
        assert_eq!(
            Failure::refused(403, body).to_string(),
            "error: forbidden (insufficient_scope): Missing scope: admin"
        );
        let problem = br#"{"type":"urn:keygate:error:too_many_failed_attempts","title":"t","status":429,"error":"too_many_failed_attempts","message":"Too many failed authentication attempts; try again later","retryAfter":40}"#;
        assert_eq!(
            Failure::refused(429, problem).to_string(),
            "error: too many requests (too_many_failed_attempts): Too many failed authentication attempts; try again later (retry after 40 s)"
        );
    }

    #[test]
    fn a_body_that_is_not_keygates_is_quoted_shortly() {
        let html = format!("\n<html>{}</html>\nsecond line", "x".repeat(500));
        let line = Failure::refused(502, html.as_bytes()).to_string();
        assert!(
            line.starts_with("error: HTTP 502 bad gateway: <html>xxx"),
            "{line}"
        );
        assert!(!line.contains("second line") && line.len() < 260, "{line}");
        assert_eq!(Failure::refused(599, b"").to_string(), "error: HTTP 599");
        assert_eq!(
            Failure::refused(599, br#"{"error":"odd","message":"Odd"}"#).to_string(),
            "error: HTTP 599 (odd): Odd"
        );
    }
}
