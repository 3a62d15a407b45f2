//! What the origin receives: which request headers are dropped, and the identity keygate
//! asserts, signed so the origin can prove the request came through keygate.
//!
//! The signature is `X-Keygate-Signature: v1=<hex>`, the HMAC-SHA256 under
//! `ORIGIN_SIGNING_SECRET` of these lines joined by `\n`:
//!
//! ```text
//! v1
//! <METHOD>
//! <path, plus ?query when there is one, exactly as forwarded>
//! <X-Keygate-Timestamp: Unix seconds>
//! <X-Keygate-Key-Id>
//! <X-Keygate-Org>
//! <X-Keygate-Scopes: comma-separated>
//! <X-Keygate-Meta: the key's meta JSON, non-ASCII escaped as \uXXXX; null when none>
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::credential::Credential;
use super::time::UnixMillis;
use super::verify::AuthorizedKey;

/// Header carrying the verified key's id to the origin.
pub const KEY_ID_HEADER: &str = "x-keygate-key-id";
/// Header carrying the verified key's organization to the origin.
pub const ORG_HEADER: &str = "x-keygate-org";
/// Header carrying the key's scopes, comma-separated.
pub const SCOPES_HEADER: &str = "x-keygate-scopes";
/// Header carrying the key's meta JSON.
pub const META_HEADER: &str = "x-keygate-meta";
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-keygate-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-keygate-signature";

/// Whether a request header (lower-case name) is forwarded to the origin. Dropped:
/// - the credential (`X-API-Key`, and `Authorization` when it carried the key);
/// - every `X-Keygate-*` header, so a client cannot forge the identity keygate asserts;
/// - hop-by-hop headers (RFC 9110 §7.6.1) and `Host`, which the outbound fetch sets itself.
pub fn keeps_header(name: &str, credential: &Credential<'_>) -> bool {
    let hop_by_hop = matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "proxy-authorization"
            | "proxy-authenticate"
    );
    !(hop_by_hop
        || name == "x-api-key"
        || (name == "authorization" && credential.in_authorization)
        || name.starts_with("x-keygate-"))
}

/// The identity headers added to the forwarded request for `method` and `target` (path and
/// query). Without a signing secret they are sent unsigned.
pub fn identity_headers(
    key: &AuthorizedKey,
    method: &str,
    target: &str,
    now: UnixMillis,
    secret: Option<&str>,
) -> Vec<(&'static str, String)> {
    let record = key.record();
    let id = record.id.to_string();
    let org = record.org.to_string();
    let scopes = record
        .scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let meta = record
        .meta
        .as_ref()
        .map_or_else(|| "null".to_owned(), |m| ascii_json(m.get()));
    let timestamp = (now.0 / 1000).to_string();
    let signature = secret.map(|secret| {
        let message = ["v1", method, target, &timestamp, &id, &org, &scopes, &meta].join("\n");
        sign(secret, &message)
    });
    let mut headers = vec![
        (KEY_ID_HEADER, id),
        (ORG_HEADER, org),
        (SCOPES_HEADER, scopes),
        (META_HEADER, meta),
        (TIMESTAMP_HEADER, timestamp),
    ];
    headers.extend(signature.map(|s| (SIGNATURE_HEADER, s)));
    headers
}

/// `v1=` and the hex HMAC-SHA256 of `message` under `secret`.
pub fn sign(secret: &str, message: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(message.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// JSON with every non-ASCII character escaped, so it fits a header value. Non-ASCII can only
/// occur inside JSON strings, where `\uXXXX` (UTF-16, surrogate pairs included) is valid.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_signed_over_the_documented_lines() {
        use crate::domain::policy::Route;
        use crate::domain::record::KeyRecord;
        use crate::domain::scope::Action;
        use crate::domain::verify::{authorize, check_status};
        let record = KeyRecord::from_json(
            r#"{"id":"key_a1","org":"acme","name":"n","created_at":0,"scopes":["read","employees:read"],"meta":{"city":"Zürich 🏔"}}"#,
        )
        .unwrap();
        let route = Route {
            resource: "*",
            action: Action::Read,
            ids: vec![],
            envelope: None,
        };
        let key = authorize(check_status(record, UnixMillis(0)).unwrap(), &route).unwrap();
        let headers = identity_headers(
            &key,
            "GET",
            "/api/x?y=1",
            UnixMillis(1_700_000_000_999),
            Some("s3cret"),
        );
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get(SCOPES_HEADER), "read,employees:read");
        assert_eq!(get(META_HEADER), r#"{"city":"Z\u00fcrich \ud83c\udfd4"}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&get(META_HEADER)).unwrap()["city"],
            "Zürich 🏔"
        );
        assert_eq!(get(TIMESTAMP_HEADER), "1700000000");
        let message = format!(
            "v1\nGET\n/api/x?y=1\n1700000000\nkey_a1\nacme\nread,employees:read\n{}",
            get(META_HEADER)
        );
        assert_eq!(get(SIGNATURE_HEADER), sign("s3cret", &message));
        // RFC 4231 test case 2: the HMAC itself is standard.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let unsigned = identity_headers(&key, "GET", "/", UnixMillis(0), None);
        assert!(unsigned.iter().all(|(k, _)| *k != SIGNATURE_HEADER));
    }

    #[test]
    fn credential_and_spoofed_identity_are_dropped() {
        let bearer = Credential {
            key: "k",
            in_authorization: true,
        };
        let header = Credential {
            key: "k",
            in_authorization: false,
        };
        assert!(!keeps_header("x-api-key", &bearer));
        assert!(!keeps_header("x-api-key", &header));
        assert!(!keeps_header("authorization", &bearer));
        assert!(keeps_header("authorization", &header));
        assert!(!keeps_header("x-keygate-key-id", &header));
        assert!(!keeps_header("x-keygate-anything", &header));
        assert!(!keeps_header("connection", &header));
        assert!(!keeps_header("host", &header));
        for kept in [
            "content-type",
            "accept",
            "x-request-id",
            "cookie",
            "x-keygatex",
        ] {
            assert!(keeps_header(kept, &bearer), "{kept}");
        }
    }
}
