//! Finding the API key in a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
//! Never the query string: URLs end up in logs, browser history and referrers.

use sha2::{Digest, Sha256};

use crate::domain::error::GateError;

/// The key text a client sent, and where it came from (so the proxy removes that header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The key as sent, trimmed of surrounding white space. Not yet checked.
    pub key: &'a str,
    /// True when the key came in `Authorization: Bearer`.
    pub in_authorization: bool,
}

/// Picks the key out of the two header values.
///
/// - `Authorization` counts only with the `Bearer` scheme (any case); another scheme (say
///   `Basic` for the origin) is left alone and forwarded.
/// - Both headers with the same key is fine; with different keys it is refused (400) rather
///   than guessing which one the client meant.
pub fn extract<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Result<Credential<'a>, GateError> {
    let bearer = authorization.and_then(bearer_token);
    let header = x_api_key.map(str::trim);
    match (bearer, header) {
        (None, None) => Err(GateError::MissingKey),
        (Some(b), Some(h)) if b != h => Err(GateError::ConflictingKeys),
        (Some(key), _) => Ok(Credential {
            key,
            in_authorization: true,
        }),
        (None, Some(key)) => Ok(Credential {
            key,
            in_authorization: false,
        }),
    }
}

/// Whether `presented` is the admin token. Both are hashed first, so the comparison takes the
/// same time whatever their lengths and wherever they differ.
pub fn is_admin_token(presented: &str, token: &str) -> bool {
    let (a, b) = (Sha256::digest(presented), Sha256::digest(token));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

/// The token of a `Bearer` credential (RFC 6750 §2.1), or `None` for another scheme.
fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(auth: Option<&str>, x: Option<&str>) -> Result<(&'static str, bool), &'static str> {
        // Leak is fine in a test: it lets the table hold plain &'static str results.
        let auth = auth.map(|s| &*Box::leak(s.to_owned().into_boxed_str()));
        let x = x.map(|s| &*Box::leak(s.to_owned().into_boxed_str()));
        extract(auth, x)
            .map(|c| (c.key, c.in_authorization))
            .map_err(|e| e.code())
    }

    #[test]
    fn headers_are_read_as_documented() {
        assert_eq!(key(Some("Bearer abc"), None), Ok(("abc", true)));
        assert_eq!(key(Some("bearer   abc  "), None), Ok(("abc", true)));
        assert_eq!(key(Some("BEARER\tabc"), None), Ok(("abc", true)));
        assert_eq!(key(None, Some(" abc ")), Ok(("abc", false)));
        assert_eq!(key(Some("Bearer abc"), Some("abc")), Ok(("abc", true)));
        assert_eq!(
            key(Some("Basic dXNlcjpwdw=="), Some("abc")),
            Ok(("abc", false))
        );
        // A bearer header with no token is a key that was sent, and malformed later.
        assert_eq!(key(Some("Bearer"), None), Ok(("", true)));
        assert_eq!(key(Some("Bearer "), None), Ok(("", true)));
    }

    #[test]
    fn admin_token_comparison() {
        assert!(is_admin_token("s3cret-token", "s3cret-token"));
        assert!(!is_admin_token("s3cret-tokeN", "s3cret-token"));
        assert!(!is_admin_token("", "s3cret-token"));
        assert!(!is_admin_token("s3cret-token-and-more", "s3cret-token"));
    }

    #[test]
    fn missing_and_conflicting_keys_are_refused() {
        assert_eq!(key(None, None), Err("missing_api_key"));
        assert_eq!(
            key(Some("Basic dXNlcjpwdw=="), None),
            Err("missing_api_key")
        );
        assert_eq!(key(Some("Bearerabc"), None), Err("missing_api_key"));
        assert_eq!(
            key(Some("Bearer abc"), Some("abd")),
            Err("conflicting_api_keys")
        );
    }
}
