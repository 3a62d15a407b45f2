//! `KeyRecord`: what the verification path reads from KV for one key hash, and the ids in it.
//!
//! The record is JSON. Readers tolerate fields they do not know (a newer deployment may have
//! written them) and fill missing optional fields with defaults, so records survive upgrades.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use sha2::Digest as _;

use crate::domain::authz::resource::Reach;
use crate::domain::authz::scope::Scope;
use crate::domain::limits::window::RateLimit;
use crate::domain::time::UnixMillis;

pub use crate::domain::key::fallback::GuardFallback;

/// Longest organization or key id.
const MAX_ID_LEN: usize = 64;

/// A stable key id, `key_` followed by base62 characters. It never changes, even on rotation.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct KeyId(String);

impl KeyId {
    /// Random base62 characters in a generated id (≈ 95 bits: unguessable, not secret).
    const RANDOM_LEN: usize = 16;

    /// Parses an id as it appears in records and URLs.
    pub fn parse(s: &str) -> Option<KeyId> {
        let body = s.strip_prefix("key_")?;
        let valid = !body.is_empty()
            && s.len() <= MAX_ID_LEN
            && body.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| KeyId(s.to_owned()))
    }

    /// A fresh random id.
    pub fn generate() -> Result<KeyId, getrandom::Error> {
        let mut bytes = [0u8; Self::RANDOM_LEN];
        getrandom::fill(&mut bytes)?;
        // 256 % 62 ≠ 0 leaves a slight bias: harmless for an identifier that is not a secret.
        let body: String = bytes
            .iter()
            .map(|b| {
                char::from(
                    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        [usize::from(b % 62)],
                )
            })
            .collect();
        Ok(KeyId(format!("key_{body}")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KeyId::parse(&s).ok_or_else(|| D::Error::custom(format!("invalid key id {s:?}")))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization (tenant) id: 1–64 characters of `[a-z0-9_-]`, starting with a letter or
/// digit. Lower case only, so `Acme` and `acme` cannot become two tenants.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct OrgId(String);

impl OrgId {
    /// Parses an organization id.
    pub fn parse(s: &str) -> Option<OrgId> {
        let valid = s.len() <= MAX_ID_LEN
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        valid.then(|| OrgId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OrgId::parse(&s).ok_or_else(|| D::Error::custom(format!("invalid organization id {s:?}")))
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a key belongs to: the person its requests are attributed to, an email address or a
/// user id. 1–254 printable ASCII characters, no space or control character: 254 is the
/// longest email address, and the value reaches the origin as one header line, unchanged.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct KeyOwner(String);

impl KeyOwner {
    /// Longest owner, in bytes.
    pub const MAX_LEN: usize = 254;

    /// Parses an owner as given at creation.
    pub fn parse(s: &str) -> Option<KeyOwner> {
        let valid =
            !s.is_empty() && s.len() <= Self::MAX_LEN && s.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| KeyOwner(s.to_owned()))
    }

    /// The owner as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for KeyOwner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KeyOwner::parse(&s).ok_or_else(|| D::Error::custom(format!("invalid owner {s:?}")))
    }
}

/// The record of one key: what the verification path reads from KV (by hash) and from the
/// key's guard, and what the management API shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Stable id of the key.
    pub id: KeyId,
    /// Organization the key belongs to.
    pub org: OrgId,
    /// Human name, 3–100 characters.
    pub name: String,
    /// The key's start: prefix and the first 4 random characters, e.g. `kg_live_3hR9…`.
    #[serde(default)]
    pub start: String,
    /// Scopes granted to the key.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Resource restrictions: resource type → the ids the key may reach. A type not listed
    /// is unrestricted (unless its parent type is, see `reach`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, Vec<String>>,
    /// What the key reaches through its restrictions on parent types: child type → the child
    /// ids registered under its parents. Written by the catalog from the organization's
    /// registry ([`reach`](crate::domain::authz::resource::reach)), never set through the API.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reach: BTreeMap<String, Reach>,
    /// Field restrictions: resource → the fields the key may see. A resource not listed
    /// shows every field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<String>>,
    /// The key's own rate-limit windows; empty = the organization's plan defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimit>,
    /// `false` switches rate limiting off for this key.
    #[serde(default = "enabled_by_default")]
    pub rate_limiting: bool,
    /// What happens when the key's guard cannot be reached.
    #[serde(default)]
    pub on_limiter_error: GuardFallback,
    /// The key's own revocation bound, ms (0 to 60 000): how long an isolate's admission lease
    /// of it lasts; `None` = the deployment's `REVOCATION_BOUND_MS`; 0 = strict mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_bound_ms: Option<u32>,
    /// A disabled key is refused with `disabled_api_key` until enabled again.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Set once the key is revoked; a revoked key never works again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<UnixMillis>,
    /// The key is refused from this instant on (inclusive); `None` = never expires.
    #[serde(default)]
    pub expires_at: Option<UnixMillis>,
    /// Creation time.
    pub created_at: UnixMillis,
    /// Who created it: `admin` (the admin token) or the id of an admin-scoped key.
    #[serde(default)]
    pub created_by: String,
    /// Whom its requests are attributed to; fixed at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<KeyOwner>,
    /// Last change through the management API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<UnixMillis>,
    /// Last rotation of its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<UnixMillis>,
    /// Free-form JSON passed to the origin, kept byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Box<RawValue>>,
    /// The organization's plan includes API access (copied from the organization, which
    /// republishes its keys when it changes).
    #[serde(default = "enabled_by_default")]
    pub api_access: bool,
    /// The organization plan's default windows, used when the key sets none (copied from the
    /// organization like `api_access`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan_limits: Vec<RateLimit>,
}

/// A key's lifecycle state as the API reports it.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Disabled by an admin.
    Disabled,
    /// Past its expiry.
    Expired,
    /// Revoked; permanent.
    Revoked,
}

impl KeyStatus {
    /// The status of `record` at `now`.
    pub fn of(record: &KeyRecord, now: UnixMillis) -> KeyStatus {
        if record.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if record.expires_at.is_some_and(|at| now >= at) {
            KeyStatus::Expired
        } else if !record.enabled {
            KeyStatus::Disabled
        } else {
            KeyStatus::Active
        }
    }
}

fn enabled_by_default() -> bool {
    true
}

impl KeyRecord {
    /// The windows that apply: none when rate limiting is off, else the key's own, else the
    /// plan's defaults.
    pub fn effective_limits(&self) -> &[RateLimit] {
        match (self.rate_limiting, self.rate_limits.is_empty()) {
            (false, _) => &[],
            (true, false) => &self.rate_limits,
            (true, true) => &self.plan_limits,
        }
    }

    /// Whether the key reaches `id` of type `kind` through its restriction on `parent` (the
    /// parent type the policy declares now; a reach computed for another reaches nothing).
    pub fn reaches(&self, kind: &str, parent: &str, id: &str) -> bool {
        self.reach
            .get(kind)
            .is_some_and(|reach| reach.parent == parent && reach.ids.contains(id))
    }

    /// Decodes a record read from storage.
    pub fn from_json(text: &str) -> Result<KeyRecord, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Encodes the record for storage. A failure is the caller's error to report: never an
    /// empty record written in its place.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The digest of the record's content (see [`RecordDigest`]).
    pub fn digest(&self) -> RecordDigest {
        // Strings, integers, string-keyed maps and already-valid raw JSON: the encoding cannot
        // fail, and nothing is stored from it (a digest only saves resending a record).
        let json = serde_json::to_vec(self).unwrap_or_default();
        let full = sha2::Sha256::digest(&json);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&full[..16]);
        RecordDigest(bytes)
    }
}

/// A digest of a record's content: 128 bits of the SHA-256 of its JSON. The worker tells the
/// key's guard the digest of the record it holds, and the guard sends its record back only when
/// the digests differ, so a request does not carry the whole record twice. Equal digests mean
/// equal records (the encoding is deterministic: fields in order, maps sorted, meta kept byte
/// for byte), and no chosen record can be made to collide with another.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecordDigest([u8; 16]);

/// Hex between the worker and its Durable Objects.
impl Serialize for RecordDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for RecordDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("invalid record digest"))?;
        Ok(RecordDigest(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_follow_content_and_round_trip() {
        let text = r#"{"id":"key_abc123","org":"acme","name":"Digest","created_at":1,"meta":{"b":1, "a":2}}"#;
        let record = KeyRecord::from_json(text).unwrap();
        let again = KeyRecord::from_json(&record.to_json().unwrap()).unwrap();
        assert_eq!(
            record.digest(),
            again.digest(),
            "decode/encode keeps the digest"
        );
        let mut renamed = record.clone();
        renamed.name = "Digest 2".into();
        assert_ne!(record.digest(), renamed.digest());
        let mut disabled = record.clone();
        disabled.enabled = false;
        assert_ne!(record.digest(), disabled.digest());
        let json = serde_json::to_string(&record.digest()).unwrap();
        assert_eq!(json.len(), 34, "32 hex digits, quoted: {json}");
        assert_eq!(
            serde_json::from_str::<RecordDigest>(&json).unwrap(),
            record.digest()
        );
    }

    #[test]
    fn ids_are_validated() {
        assert!(KeyId::parse("key_abc123").is_some());
        for bad in [
            "key_",
            "abc",
            "key_a-b",
            "key_é",
            &format!("key_{}", "a".repeat(61)),
        ] {
            assert!(KeyId::parse(bad).is_none(), "{bad:?}");
        }
        let id = KeyId::generate().unwrap();
        assert_eq!(KeyId::parse(id.as_str()), Some(id));
        assert!(OrgId::parse("acme-corp_2").is_some());
        for bad in ["", "Acme", "-acme", "a b", "acme/x", &"a".repeat(65)] {
            assert!(OrgId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn record_round_trips_and_tolerates_unknown_fields() {
        let text = r#"{"id":"key_a1","org":"acme","name":"Reporting","scopes":["read"],
            "expires_at":null,"created_at":5,"meta":{"plan": "pro", "n":[1,2]},"future":1}"#;
        let record = KeyRecord::from_json(text).unwrap();
        assert!(record.enabled);
        assert_eq!(
            record.meta.as_ref().unwrap().get(),
            r#"{"plan": "pro", "n":[1,2]}"#
        );
        let again = KeyRecord::from_json(&record.to_json().unwrap()).unwrap();
        assert_eq!(again.to_json().unwrap(), record.to_json().unwrap());
    }

    #[test]
    fn owners_are_printable_ascii_without_spaces() {
        for good in ["ada@example.com", "user_42", "a", &"x".repeat(254)] {
            assert_eq!(KeyOwner::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "ada lovelace",
            "tab\there",
            "line\n",
            "josé@x",
            &"x".repeat(255),
        ] {
            assert!(KeyOwner::parse(bad).is_none(), "{bad:?}");
        }
        let old = r#"{"id":"key_a1","org":"acme","name":"Old","created_at":1}"#;
        assert!(
            KeyRecord::from_json(old).unwrap().owner.is_none(),
            "old records have none"
        );
        let owned = r#"{"id":"key_a1","org":"acme","name":"Mine","created_at":1,"owner":"ada@example.com"}"#;
        let record = KeyRecord::from_json(owned).unwrap();
        assert_eq!(
            record.owner.as_ref().map(KeyOwner::as_str),
            Some("ada@example.com")
        );
        assert!(
            record
                .to_json()
                .unwrap()
                .contains(r#""owner":"ada@example.com""#)
        );
        let forged = r#"{"id":"key_a1","org":"acme","name":"Bad","created_at":1,"owner":"a b"}"#;
        assert!(KeyRecord::from_json(forged).is_err());
    }

    #[test]
    fn records_with_invalid_ids_are_refused() {
        let text = r#"{"id":"nope","org":"acme","name":"x","created_at":1}"#;
        assert!(KeyRecord::from_json(text).is_err());
    }
}
