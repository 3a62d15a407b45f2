//! CORS for browser clients of the protected API (`CORS_ALLOW_ORIGINS`).
//!
//! A browser sends a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! without credentials, so keygate answers it itself and never forwards it: 204 with the
//! allowed method and headers when the origin is allowed, 403 `origin_not_allowed` otherwise
//! (CORS is off until the deployment lists origins). Every answer of the gateway to an allowed
//! origin, refusals included, carries `Access-Control-Allow-Origin` and exposes the rate-limit
//! headers, so a page can read why it was refused. Keys travel in headers, never cookies, so
//! credentials mode is not allowed. keygate's own management routes stay same-origin.

use crate::domain::config_error::ConfigError;
use crate::domain::error::GateError;
use crate::domain::http::request::FORWARDED_METHODS;

/// Which web origins may call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// No origin (the default): preflights are refused, responses carry no CORS headers.
    #[default]
    Off,
    /// Any origin (`*`).
    Any,
    /// These origins, exactly (`https://app.example.com`).
    Origins(Vec<String>),
}

/// Response headers a browser reads from a keygate answer.
const EXPOSED: &str = "Retry-After, WWW-Authenticate, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Policy, RateLimit, X-Keygate-Limiter";

/// How long a browser may reuse a preflight answer, in seconds.
const MAX_AGE_SECS: &str = "600";

impl Cors {
    /// Parses `CORS_ALLOW_ORIGINS`: `*`, or origins separated by commas.
    pub fn parse(text: &str) -> Result<Cors, ConfigError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Cors::Off);
        }
        if text == "*" {
            return Ok(Cors::Any);
        }
        let origins = text
            .split(',')
            .map(|o| {
                let o = o.trim().trim_end_matches('/');
                let url = url::Url::parse(o).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none()
                });
                match url {
                    Some(url) => Ok(url.origin().ascii_serialization()),
                    None => Err(ConfigError {
                        var: "CORS_ALLOW_ORIGINS",
                        reason: format!("{o:?} is not an origin like https://app.example.com"),
                    }),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Cors::Origins(origins))
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Cors::Off => false,
            Cors::Any => true,
            Cors::Origins(list) => list.iter().any(|o| o == origin),
        }
    }

    /// The answer to a preflight from `origin` asking for `headers`
    /// (`Access-Control-Request-Headers`), or the refusal. Without the headers of every
    /// gateway answer ([`Cors::response_headers`]), which the gateway adds to it.
    pub fn preflight(
        &self,
        origin: &str,
        headers: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>, GateError> {
        if !self.allows(origin) {
            return Err(GateError::OriginNotAllowed(origin.to_owned()));
        }
        let mut out = vec![("access-control-allow-methods", FORWARDED_METHODS.to_owned())];
        // The origin's own headers are its business; keygate needs its credential headers.
        let asked = headers.unwrap_or("").trim();
        let allowed = if asked.is_empty() {
            "Authorization, X-API-Key, Content-Type".to_owned()
        } else {
            asked.to_owned()
        };
        out.push(("access-control-allow-headers", allowed));
        out.push(("access-control-max-age", MAX_AGE_SECS.to_owned()));
        Ok(out)
    }

    /// Headers for a gateway answer to a request from `origin` (none when not allowed).
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match origin {
            Some(origin) if self.allows(origin) => vec![
                ("access-control-allow-origin", origin.to_owned()),
                ("access-control-expose-headers", EXPOSED.to_owned()),
                ("vary", "Origin".to_owned()),
            ],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_and_decide() {
        assert_eq!(Cors::parse("").unwrap(), Cors::Off);
        assert_eq!(Cors::parse("*").unwrap(), Cors::Any);
        let list = Cors::parse("https://app.example.com, http://127.0.0.1:3000/").unwrap();
        assert_eq!(
            list,
            Cors::Origins(vec![
                "https://app.example.com".into(),
                "http://127.0.0.1:3000".into()
            ])
        );
        for bad in ["app.example.com", "https://a.com/path", "ftp://a.com"] {
            assert_eq!(
                Cors::parse(bad).unwrap_err().var,
                "CORS_ALLOW_ORIGINS",
                "{bad}"
            );
        }
        let ok = list.preflight(
            "https://app.example.com",
            Some("authorization, content-type"),
        );
        let headers = ok.unwrap();
        // The headers of every gateway answer are added by the gateway, once (one `Vary`).
        assert!(
            headers
                .iter()
                .all(|(name, _)| !name.starts_with("access-control-allow-origin"))
        );
        assert!(headers.iter().all(|(name, _)| *name != "vary"));
        assert!(headers.contains(&(
            "access-control-allow-headers",
            "authorization, content-type".into()
        )));
        let refused = list.preflight("https://evil.example", None).unwrap_err();
        assert_eq!(
            (refused.status(), refused.code()),
            (403, "origin_not_allowed")
        );
        assert_eq!(
            Cors::Off
                .preflight("https://app.example.com", None)
                .unwrap_err()
                .status(),
            403
        );
        assert!(
            list.response_headers(Some("https://evil.example"))
                .is_empty()
        );
        assert!(
            Cors::Off
                .response_headers(Some("https://app.example.com"))
                .is_empty()
        );
        assert_eq!(
            Cors::Any.response_headers(Some("https://x.dev"))[0].1,
            "https://x.dev"
        );
    }
}
