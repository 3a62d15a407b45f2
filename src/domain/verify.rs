//! The verification stages, cheapest first; each takes the previous stage's output:
//!
//! 1. [`parse_credential`]: headers → [`ApiKey`] (format and checksum, in memory; a bad key
//!    costs no storage access);
//! 2. the edge loads the [`KeyRecord`] by [`KeyHash`](super::KeyHash) (unknown → `invalid_api_key`);
//! 3. [`check_status`]: record + now → [`ActiveKey`] (revoked, expired, disabled).
//!
//! Only an [`ActiveKey`] can be forwarded, so a skipped stage does not compile.

use super::credential::{self, Credential};
use super::error::GateError;
use super::key::ApiKey;
use super::record::{KeyRecord, KeyStatus};
use super::time::UnixMillis;

/// Stage 1: the key from the request headers, checked for format and checksum.
pub fn parse_credential<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Result<(Credential<'a>, ApiKey), GateError> {
    let credential = credential::extract(authorization, x_api_key)?;
    let key = ApiKey::parse(credential.key)?;
    Ok((credential, key))
}

/// A key that exists and may be used now.
#[derive(Debug)]
pub struct ActiveKey(KeyRecord);

impl ActiveKey {
    /// The key's record.
    pub fn record(&self) -> &KeyRecord {
        &self.0
    }
}

/// Stage 3: refuses revoked, expired and disabled keys. Revoked reads as unknown
/// (`invalid_api_key`): a revoked key is gone, and saying so would confirm it once existed.
/// Expiry is inclusive: at `expires_at` the key no longer works.
pub fn check_status(record: KeyRecord, now: UnixMillis) -> Result<ActiveKey, GateError> {
    match KeyStatus::of(&record, now) {
        KeyStatus::Revoked => Err(GateError::InvalidKey),
        KeyStatus::Expired => Err(GateError::ExpiredKey),
        KeyStatus::Disabled => Err(GateError::DisabledKey),
        KeyStatus::Active => Ok(ActiveKey(record)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> KeyRecord {
        KeyRecord::from_json(
            r#"{"id":"key_a","org":"acme","name":"test","created_at":0,"expires_at":1000}"#,
        )
        .unwrap()
    }

    fn code(r: Result<ActiveKey, GateError>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn status_checks_in_order() {
        assert_eq!(code(check_status(record(), UnixMillis(999))), "ok");
        assert_eq!(
            code(check_status(record(), UnixMillis(1_000))),
            "expired_api_key"
        );
        let disabled = KeyRecord {
            enabled: false,
            ..record()
        };
        assert_eq!(
            code(check_status(disabled.clone(), UnixMillis(0))),
            "disabled_api_key"
        );
        assert_eq!(
            code(check_status(disabled, UnixMillis(5_000))),
            "expired_api_key"
        );
        let revoked = KeyRecord {
            revoked_at: Some(UnixMillis(1)),
            enabled: false,
            ..record()
        };
        assert_eq!(
            code(check_status(revoked, UnixMillis(5_000))),
            "invalid_api_key"
        );
        let forever = KeyRecord {
            expires_at: None,
            ..record()
        };
        assert_eq!(code(check_status(forever, UnixMillis(u64::MAX))), "ok");
    }

    #[test]
    fn a_bad_key_fails_before_any_lookup() {
        let err = parse_credential(Some("Bearer kg_live_short"), None).unwrap_err();
        assert_eq!(err.code(), "malformed_api_key");
        let key = ApiKey::generate(&Default::default()).unwrap();
        let auth = format!("Bearer {}", key.expose_secret());
        let (cred, parsed) = parse_credential(Some(&auth), None).unwrap();
        assert!(cred.in_authorization);
        assert_eq!(parsed, key);
    }
}
