//! GitHub's secret-scanning partner protocol: a JSON array of found tokens, signed with ECDSA
//! P-256 / SHA-256 over the raw body by one of GitHub's published keys, and the feedback array
//! keygate answers with (hashes and labels, never the tokens).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};

/// Largest report read (GitHub sends batches of at most a few hundred tokens).
pub const MAX_REPORT_BYTES: usize = 1 << 20;

/// GitHub's list of signing keys (`meta/public_keys/secret_scanning`).
#[derive(Deserialize, Debug)]
pub struct KeyList {
    /// The keys, current and past.
    pub public_keys: Vec<PublishedKey>,
}

/// One published key.
#[derive(Deserialize, Debug)]
pub struct PublishedKey {
    /// What `Github-Public-Key-Identifier` names it by.
    pub key_identifier: String,
    /// The PEM of the public key.
    pub key: String,
}

/// Why a key list or a key in it is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyError(pub String);

impl KeyList {
    /// Reads GitHub's JSON.
    pub fn parse(json: &str) -> Result<KeyList, PublicKeyError> {
        serde_json::from_str(json).map_err(|e| PublicKeyError(format!("key list: {e}")))
    }

    /// The PEM of the key named `id`, if listed.
    pub fn find(&self, id: &str) -> Option<&str> {
        self.public_keys
            .iter()
            .find(|k| k.key_identifier == id)
            .map(|k| k.key.as_str())
    }
}

/// Why a report is refused (a 4xx; nothing is looked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// A signature header is missing.
    Unsigned,
    /// The signature is not base64 DER, or does not verify over the body.
    BadSignature,
    /// The body is over [`MAX_REPORT_BYTES`].
    TooLarge,
    /// The body is not the JSON array of found tokens.
    Malformed(String),
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Unsigned => f.write_str(
                "Github-Public-Key-Identifier and Github-Public-Key-Signature are required",
            ),
            ReportError::BadSignature => f.write_str("the signature does not verify"),
            ReportError::TooLarge => write!(f, "a report is at most {MAX_REPORT_BYTES} bytes"),
            ReportError::Malformed(why) => write!(f, "the report is malformed: {why}"),
        }
    }
}

/// Checks `signature` (base64 of ASN.1 DER) over `body` against the PEM public key `pem`.
pub fn verify_signature(pem: &str, signature: &str, body: &[u8]) -> Result<(), ReportError> {
    let key = VerifyingKey::from_public_key_pem(pem).map_err(|_| ReportError::BadSignature)?;
    let der = STANDARD
        .decode(signature.trim())
        .map_err(|_| ReportError::BadSignature)?;
    let signature = Signature::from_der(&der).map_err(|_| ReportError::BadSignature)?;
    key.verify(body, &signature)
        .map_err(|_| ReportError::BadSignature)
}

/// One token GitHub found.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FoundToken {
    /// The string found.
    pub token: String,
    /// The token type keygate registered.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it was found.
    pub url: String,
    /// What kind of place (`content`, `commit`, `issue_comment`, …).
    pub source: String,
}

/// Reads a verified report body.
pub fn parse_report(body: &[u8]) -> Result<Vec<FoundToken>, ReportError> {
    if body.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge);
    }
    // serde's message can quote the input (a token): say where, never what.
    let tokens: Vec<FoundToken> = serde_json::from_slice(body).map_err(|e| {
        ReportError::Malformed(format!(
            "expected an array of {{token, type, url, source}} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if tokens.is_empty() {
        return Err(ReportError::Malformed("no tokens".into()));
    }
    Ok(tokens)
}

/// Whether a token is one of keygate's keys.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A key of a keygate organization (live or not).
    TruePositive,
    /// Not a key keygate issued.
    FalsePositive,
}

/// One entry of the answer.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// The type GitHub sent.
    pub token_type: String,
    /// The verdict.
    pub label: Label,
}

impl Feedback {
    /// The answer for `found`: its SHA-256 (the form keygate stores keys in), never the token.
    pub fn of(found: &FoundToken, label: Label) -> Feedback {
        use sha2::{Digest, Sha256};
        Feedback {
            token_hash: hex::encode(Sha256::digest(found.token.as_bytes())),
            token_type: found.kind.clone(),
            label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{DerSignature, SigningKey};
    use p256::pkcs8::EncodePublicKey;

    fn key_pair(seed: u8) -> (SigningKey, String) {
        let signing = SigningKey::from_bytes(&[seed; 32].into()).unwrap();
        let pem = signing
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        (signing, pem)
    }

    fn sign(key: &SigningKey, body: &[u8]) -> String {
        let signature: DerSignature = key.sign(body);
        STANDARD.encode(signature.as_bytes())
    }

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let (signing, pem) = key_pair(7);
        let body = br#"[{"token":"kg_live_x","type":"keygate_api_key","url":"https://github.com/a/b","source":"content"}]"#;
        let signature = sign(&signing, body);
        assert_eq!(verify_signature(&pem, &signature, body), Ok(()));
        let mut changed = body.to_vec();
        changed[3] ^= 1;
        for (pem, sig, body) in [
            (pem.as_str(), signature.as_str(), changed.as_slice()),
            (pem.as_str(), "bm90IGRlcg==", body.as_slice()),
            (pem.as_str(), "!!", body.as_slice()),
            ("not a pem", signature.as_str(), body.as_slice()),
        ] {
            assert_eq!(
                verify_signature(pem, sig, body),
                Err(ReportError::BadSignature)
            );
        }
        let (_, other_pem) = key_pair(9);
        assert_eq!(
            verify_signature(&other_pem, &signature, body),
            Err(ReportError::BadSignature)
        );
    }

    #[test]
    fn reports_and_key_lists_parse_or_say_why_not() {
        let report = parse_report(
            br#"[{"token":"t","type":"keygate_api_key","url":"https://u","source":"commit"}]"#,
        )
        .unwrap();
        assert_eq!(report[0].source, "commit");
        for bad in [&b"[]"[..], b"{}", b"[{\"token\":1}]", b"[{\"token\":\"t\""] {
            assert!(
                matches!(parse_report(bad), Err(ReportError::Malformed(_))),
                "{bad:?}"
            );
        }
        let big = vec![b' '; MAX_REPORT_BYTES + 1];
        assert_eq!(parse_report(&big), Err(ReportError::TooLarge));
        let list = KeyList::parse(
            r#"{"public_keys":[{"key_identifier":"abc","key":"PEM","is_current":true}]}"#,
        )
        .unwrap();
        assert_eq!(list.find("abc"), Some("PEM"));
        assert_eq!(list.find("zzz"), None);
        assert!(KeyList::parse("[]").is_err());
    }

    #[test]
    fn feedback_reads_as_github_expects() {
        let found = FoundToken {
            token: "abc".into(),
            kind: "keygate_api_key".into(),
            url: "https://u".into(),
            source: "content".into(),
        };
        let f = Feedback::of(&found, Label::FalsePositive);
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"token_hash":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","token_type":"keygate_api_key","label":"false_positive"}"#
        );
    }
}
