//! Standard Webhooks signatures: a secret shown as `whsec_<base64>`, and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, so receivers can verify
//! with any Standard Webhooks library.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a secret is shown with.
const PREFIX: &str = "whsec_";
/// Bytes of a new secret.
const SECRET_BYTES: usize = 32;

/// An endpoint's signing secret. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// A stored secret that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError;

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a webhook secret is whsec_ and 24 to 64 bytes in base64")
    }
}

impl WebhookSecret {
    /// A new secret from `random` bytes (the caller's source of randomness).
    pub fn from_random(random: [u8; SECRET_BYTES]) -> WebhookSecret {
        WebhookSecret(random.to_vec())
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let bytes = text
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or(SecretError)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError);
        }
        Ok(WebhookSecret(bytes))
    }

    /// `whsec_<base64>`: how it is shown once and stored.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// The `webhook-signature` value of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_like_the_reference_libraries() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let s = WebhookSecret::from_random([7; 32]);
        assert_eq!(WebhookSecret::parse(&s.expose()), Ok(s.clone()));
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(format!("{s:?}"), "WebhookSecret(…)");
        for bad in [
            "",
            "whsec_",
            "whsec_!!!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_AAAA",
        ] {
            assert_eq!(WebhookSecret::parse(bad), Err(SecretError), "{bad:?}");
        }
    }
}
