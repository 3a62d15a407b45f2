//! `KeyHash`: the SHA-256 of a full key, the only form in which a key is ever stored.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::domain::key::format::ApiKey;

/// SHA-256 of the whole key text (prefix, random and checksum). KV records are stored under
/// [`KeyHash::storage_key`]; the key itself is never stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Hashes a parsed key.
    pub fn of(key: &ApiKey) -> KeyHash {
        KeyHash(Sha256::digest(key.expose_secret().as_bytes()).into())
    }

    /// Lower-case hex of the digest (64 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The KV key under which the verification record lives: `key:<hex>`.
    pub fn storage_key(&self) -> String {
        format!("key:{}", self.to_hex())
    }
}

impl KeyHash {
    /// Parses the 64-digit hex form.
    pub fn from_hex(text: &str) -> Option<KeyHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(KeyHash(bytes))
    }
}

/// Hex in storage and between the worker and its Durable Objects.
impl Serialize for KeyHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        KeyHash::from_hex(&text).ok_or_else(|| serde::de::Error::custom("invalid key hash"))
    }
}

/// Shows 8 hex digits: enough to correlate log lines, useless to look a record up.
impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_of_the_whole_key() {
        let key = ApiKey::generate(&Default::default()).unwrap();
        let expected = hex::encode(Sha256::digest(key.expose_secret()));
        assert_eq!(KeyHash::of(&key).to_hex(), expected);
        assert_eq!(KeyHash::of(&key).storage_key(), format!("key:{expected}"));
        assert_eq!(KeyHash::from_hex(&expected), Some(KeyHash::of(&key)));
        assert_eq!(KeyHash::from_hex("abc"), None);
    }

    #[test]
    fn debug_shows_only_a_short_prefix() {
        let key = ApiKey::generate(&Default::default()).unwrap();
        let hash = KeyHash::of(&key);
        let shown = format!("{hash:?}");
        assert!(!shown.contains(&hash.to_hex()[..9]), "{shown}");
    }
}
