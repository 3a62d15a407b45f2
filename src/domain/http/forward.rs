//! What the origin receives: which request headers are dropped, and the identity keygate
//! asserts, signed so the origin can prove the request came through keygate.
//!
//! The signature is `X-Keygate-Signature: v3=<hex>`, the HMAC-SHA256 under
//! `ORIGIN_SIGNING_SECRET` of these lines joined by `\n`:
//!
//! ```text
//! v3
//! <METHOD>
//! <the target as the origin receives it: ORIGIN's base path, the canonical path, ?query>
//! <X-Keygate-Timestamp: Unix seconds>
//! <X-Keygate-Request-Id: 32 hex digits, unique per request (a nonce against replays)>
//! <X-Keygate-Key-Id>
//! <X-Keygate-Org>
//! <X-Keygate-Scopes: comma-separated>
//! <X-Keygate-Ids: the ids keygate checked, type=id pairs joined by '&'; empty when none>
//! <X-Keygate-Meta: the key's meta JSON, non-ASCII escaped as \uXXXX; null when none>
//! <X-Keygate-Resources: the key's resource restrictions, type=id pairs joined by '&', one
//!  pair per id, types in alphabetical order and ids as the key lists them; empty when the
//!  key is unrestricted>
//! <X-Keygate-Owner: whom the key's requests are attributed to; empty when nobody>
//! ```
//!
//! `v3` is `v2`'s lines with the last two added at the end, so an origin moving from `v2`
//! appends two lines. With the restrictions signed, an origin can enforce its own hierarchy
//! (a team's websites it knows and keygate does not) for keys restricted on a parent type.
//!
//! The body is streamed and not covered: an origin that needs body integrity must rely on the
//! TLS connection from keygate.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::authz::policy::Route;
use crate::domain::authz::verify::AuthorizedKey;
use crate::domain::http::request::{Headers, Method, header_name};
use crate::domain::key::credential::Credential;
use crate::domain::time::UnixMillis;

/// Header carrying the verified key's id to the origin.
pub const KEY_ID_HEADER: &str = "x-keygate-key-id";
/// Header carrying the verified key's organization to the origin.
pub const ORG_HEADER: &str = "x-keygate-org";
/// Header carrying the key's scopes, comma-separated.
pub const SCOPES_HEADER: &str = "x-keygate-scopes";
/// Header carrying the ids keygate checked for the route.
pub const IDS_HEADER: &str = "x-keygate-ids";
/// Header carrying the key's meta JSON.
pub const META_HEADER: &str = "x-keygate-meta";
/// Header carrying the key's resource restrictions.
pub const RESOURCES_HEADER: &str = "x-keygate-resources";
/// Header carrying the key's owner.
pub const OWNER_HEADER: &str = "x-keygate-owner";
/// Longest `X-Keygate-Resources` value a key may be given (its restrictions, encoded): it
/// travels in one header line, and Cloudflare caps a request's headers at 128 KiB in all.
pub const MAX_RESOURCES_HEADER_BYTES: usize = 8192;
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-keygate-timestamp";
/// Header carrying the request's nonce.
pub const REQUEST_ID_HEADER: &str = "x-keygate-request-id";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-keygate-signature";

/// Whether a request header (lower-case name) is forwarded to the origin. Names are compared
/// as CGI-style stacks read them (any character but letters and digits as `-`), so
/// `X_Keygate_Org` and `X.Keygate.Org` are dropped like `X-Keygate-Org`. Dropped:
/// - the credential (`X-API-Key`, and `Authorization` when it carried the key);
/// - every `X-Keygate-*` header, so a client cannot forge the identity keygate asserts;
/// - hop-by-hop headers (RFC 9110 §7.6.1) and `Host`, which the outbound fetch sets itself;
/// - `X-Original-URL` and `X-Rewrite-URL`, which some stacks route on instead of the path;
/// - for a key whose response is filtered (`filtered`), `Range` and the conditional headers:
///   the origin must send the whole body for keygate to filter (no 206 slice, no 304).
pub fn keeps_header(name: &str, credential: &Credential<'_>, filtered: bool) -> bool {
    let name = header_name(name);
    let hop_by_hop = matches!(
        name.as_str(),
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
    let whole_body = matches!(
        name.as_str(),
        "range"
            | "if-range"
            | "if-match"
            | "if-none-match"
            | "if-modified-since"
            | "if-unmodified-since"
    );
    // Headers some stacks route on instead of the request line (IIS rewrite, old Symfony).
    let reroutes = matches!(name.as_str(), "x-original-url" | "x-rewrite-url");
    !(hop_by_hop
        || reroutes
        || (filtered && whole_body)
        || name == "x-api-key"
        || (name == "authorization" && credential.in_authorization)
        || name.starts_with("x-keygate-"))
}

/// The names of the client's headers that are not forwarded (see [`keeps_header`]). Headers
/// its `Connection` header names are forwarded all the same: keygate decided on the headers it
/// saw (a JSON body streams, a form is read for `_method`, a rule reads an id), so the origin
/// must see the same ones; dropping `Content-Type` that way would let it read a form keygate
/// never looked into. A proxy in front that honours `Connection` removes them before keygate.
pub fn dropped_headers<'h>(
    headers: &'h Headers,
    credential: &Credential<'_>,
    filtered: bool,
) -> Vec<&'h str> {
    headers
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !keeps_header(name, credential, filtered))
        .collect()
}

/// Whether an origin response header stays on a filtered response. Length and encoding are
/// the new body's; validators and ranges described the unfiltered one.
pub fn keeps_filtered_response_header(name: &str) -> bool {
    !matches!(
        name,
        "content-length"
            | "content-encoding"
            | "transfer-encoding"
            | "etag"
            | "last-modified"
            | "content-range"
            | "accept-ranges"
            | "cache-control"
    )
}

/// Headers set on every filtered response: the body depends on the key, so no shared cache
/// may keep it or serve it to another key.
pub const FILTERED_RESPONSE_HEADERS: [(&str, &str); 2] = [
    ("cache-control", "private, no-store"),
    ("vary", "Authorization, X-API-Key"),
];

/// What the origin is told about one request.
pub struct Identity<'a> {
    /// The method forwarded.
    pub method: Method,
    /// The target exactly as the origin receives it (`ORIGIN`'s base path included).
    pub target: &'a str,
    /// The route keygate authorized, whose ids are asserted.
    pub route: &'a Route<'a>,
    /// A unique id of this request (32 hex digits).
    pub request_id: &'a str,
    /// When keygate signed it.
    pub now: UnixMillis,
}

/// The identity headers added to the forwarded request. Without a signing secret they are
/// sent unsigned.
pub fn identity_headers(
    key: &AuthorizedKey,
    identity: &Identity<'_>,
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
    let ids = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            identity
                .route
                .ids
                .iter()
                .filter_map(|(kind, id)| Some((*kind, id.as_deref()?))),
        )
        .finish();
    let resources = resources_header(&record.resources);
    let owner = record
        .owner
        .as_ref()
        .map_or_else(String::new, |o| o.as_str().to_owned());
    let meta = record
        .meta
        .as_ref()
        .map_or_else(|| "null".to_owned(), |m| ascii_json(m.get()));
    let timestamp = (identity.now.0 / 1000).to_string();
    let signature = secret.map(|secret| {
        let lines = [
            "v3",
            identity.method.as_str(),
            identity.target,
            &timestamp,
            identity.request_id,
            &id,
            &org,
            &scopes,
            &ids,
            &meta,
            &resources,
            &owner,
        ];
        sign(secret, &lines.join("\n"))
    });
    let mut headers = vec![
        (KEY_ID_HEADER, id),
        (ORG_HEADER, org),
        (SCOPES_HEADER, scopes),
        (IDS_HEADER, ids),
        (META_HEADER, meta),
        (RESOURCES_HEADER, resources),
        (OWNER_HEADER, owner),
        (TIMESTAMP_HEADER, timestamp),
        (REQUEST_ID_HEADER, identity.request_id.to_owned()),
    ];
    headers.extend(signature.map(|s| (SIGNATURE_HEADER, s)));
    headers
}

/// A key's resource restrictions as `X-Keygate-Resources` carries them: `type=id` pairs,
/// form-encoded, joined by `&`, one per id, types in order (`team=team_a&team=team_b`); empty
/// for an unrestricted key.
pub fn resources_header(resources: &BTreeMap<String, Vec<String>>) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            resources
                .iter()
                .flat_map(|(kind, ids)| ids.iter().map(move |id| (kind, id))),
        )
        .finish()
}

thread_local! {
    /// The isolate's 64 random bits, drawn on its first request, and the count of ids made.
    static IDS: std::cell::Cell<Option<(u64, u64)>> = const { std::cell::Cell::new(None) };
}

/// A fresh request id, 32 hex digits: the isolate's random half and a count. Unique (a nonce
/// the origin may keep to refuse replays) without a random draw per request; not secret, the
/// signature covers it.
pub fn request_id() -> Result<String, getrandom::Error> {
    let (random, count) = match IDS.get() {
        Some(ids) => ids,
        None => (getrandom::u64()?, 0),
    };
    IDS.set(Some((random, count.wrapping_add(1))));
    Ok(format!("{random:016x}{count:016x}"))
}

/// `v3=` and the hex HMAC-SHA256 of `message` under `secret`.
pub fn sign(secret: &str, message: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(message.as_bytes());
    format!("v3={}", hex::encode(mac.finalize().into_bytes()))
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
    fn headers_the_connection_header_lists_still_reach_the_origin() {
        let headers = Headers::new(
            [
                ("connection", "Content-Type, x-foo"),
                ("content-type", "application/json"),
                ("x-foo", "a"),
                ("x-api-key", "k"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec(),
        );
        let credential = Credential {
            key: "k",
            in_authorization: false,
        };
        assert_eq!(
            dropped_headers(&headers, &credential, false),
            ["connection", "x-api-key"]
        );
    }

    #[test]
    fn request_ids_are_32_hex_digits_and_never_repeat() {
        let ids: Vec<String> = (0..1000).map(|_| request_id().unwrap()).collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Another isolate (thread) draws its own random half.
        let other = std::thread::spawn(|| request_id().unwrap()).join().unwrap();
        assert_ne!(other[..16], ids[0][..16]);
    }

    #[test]
    fn identity_is_signed_over_the_documented_lines() {
        use crate::domain::authz::policy::Route;
        use crate::domain::authz::scope::Action;
        use crate::domain::authz::verify::{authorize, check_status};
        use crate::domain::key::record::KeyRecord;
        let record = KeyRecord::from_json(
            r#"{"id":"key_a1","org":"acme","name":"n","created_at":0,"scopes":["read","employees:read"],"meta":{"city":"Zürich 🏔"},
                "resources":{"team":["team_b","team a"],"site":["site a&b"]},"owner":"ada@example.com"}"#,
        )
        .unwrap();
        let route = Route {
            resource: "*",
            action: Action::Read,
            requires: &[],
            write: Default::default(),
            ids: vec![("site", Some("site a&b".into())), ("team", None)],
            parents: Vec::new(),
            envelope: None,
            known_types: None,
        };
        let route = Route {
            ids: vec![
                ("site", Some("site a&b".into())),
                ("team", Some("team a".into())),
            ],
            ..route
        };
        let key = authorize(check_status(record, UnixMillis(0)).unwrap(), &route).unwrap();
        let identity = Identity {
            method: Method::Get,
            target: "/base/api/x?y=1",
            route: &route,
            request_id: "0123456789abcdef0123456789abcdef",
            now: UnixMillis(1_700_000_000_999),
        };
        let headers = identity_headers(&key, &identity, Some("s3cret"));
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
        assert_eq!(get(IDS_HEADER), "site=site+a%26b&team=team+a");
        // Types in order, ids as the key lists them, one pair per id.
        assert_eq!(
            get(RESOURCES_HEADER),
            "site=site+a%26b&team=team_b&team=team+a"
        );
        assert_eq!(get(OWNER_HEADER), "ada@example.com");
        let message = format!(
            "v3\nGET\n/base/api/x?y=1\n1700000000\n0123456789abcdef0123456789abcdef\nkey_a1\nacme\nread,employees:read\nsite=site+a%26b&team=team+a\n{}\nsite=site+a%26b&team=team_b&team=team+a\nada@example.com",
            get(META_HEADER)
        );
        assert_eq!(get(SIGNATURE_HEADER), sign("s3cret", &message));
        // RFC 4231 test case 2: the HMAC itself is standard.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "v3=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let unsigned = identity_headers(&key, &identity, None);
        assert!(unsigned.iter().all(|(k, _)| *k != SIGNATURE_HEADER));
        // An unrestricted key without an owner: both headers present, empty, and signed so.
        let plain = KeyRecord::from_json(
            r#"{"id":"key_a1","org":"acme","name":"n","created_at":0,"scopes":["read"]}"#,
        )
        .unwrap();
        let open = Route {
            resource: "*",
            action: Action::Read,
            requires: &[],
            write: Default::default(),
            ids: Vec::new(),
            parents: Vec::new(),
            envelope: None,
            known_types: None,
        };
        let identity = Identity {
            route: &open,
            ..identity
        };
        let key = authorize(check_status(plain, UnixMillis(0)).unwrap(), &open).unwrap();
        let headers = identity_headers(&key, &identity, Some("s3cret"));
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            (get(RESOURCES_HEADER), get(OWNER_HEADER)),
            (Some(""), Some(""))
        );
        let message = "v3\nGET\n/base/api/x?y=1\n1700000000\n0123456789abcdef0123456789abcdef\nkey_a1\nacme\nread\n\nnull\n\n";
        assert_eq!(
            get(SIGNATURE_HEADER),
            Some(sign("s3cret", message).as_str())
        );
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
        assert!(!keeps_header("x-api-key", &bearer, false));
        assert!(!keeps_header("x-api-key", &header, false));
        assert!(!keeps_header("authorization", &bearer, false));
        assert!(keeps_header("authorization", &header, false));
        assert!(!keeps_header("x-keygate-key-id", &header, false));
        assert!(!keeps_header("x-keygate-anything", &header, false));
        for spoofed in [
            "x-keygate-resources",
            "X-Keygate-Owner",
            "x_keygate_resources",
            "x.keygate.owner",
        ] {
            assert!(!keeps_header(spoofed, &header, false), "{spoofed}");
        }
        assert!(!keeps_header("x_keygate_org", &header, false));
        assert!(!keeps_header("X_Keygate_Key_Id", &header, false));
        assert!(!keeps_header("x_api_key", &header, false));
        assert!(!keeps_header("x.keygate.org", &header, false));
        assert!(!keeps_header("x-original-url", &header, false));
        assert!(!keeps_header("x_rewrite_url", &header, false));
        for conditional in ["range", "if-none-match", "if-modified-since", "if-range"] {
            assert!(keeps_header(conditional, &header, false), "{conditional}");
            assert!(!keeps_header(conditional, &header, true), "{conditional}");
        }
        assert!(!keeps_header("connection", &header, false));
        assert!(!keeps_header("host", &header, false));
        for kept in [
            "content-type",
            "accept",
            "x-request-id",
            "cookie",
            "x-keygatex",
        ] {
            assert!(keeps_header(kept, &bearer, false), "{kept}");
        }
    }
}
