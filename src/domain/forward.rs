//! What the origin receives: which request headers are dropped and which identity headers
//! keygate adds.

use super::credential::Credential;
use super::verify::ActiveKey;

/// Header carrying the verified key's id to the origin.
pub const KEY_ID_HEADER: &str = "x-keygate-key-id";
/// Header carrying the verified key's organization to the origin.
pub const ORG_HEADER: &str = "x-keygate-org";

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

/// The identity headers added to the forwarded request.
pub fn identity_headers(key: &ActiveKey) -> [(&'static str, String); 2] {
    let record = key.record();
    [
        (KEY_ID_HEADER, record.id.to_string()),
        (ORG_HEADER, record.org.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
