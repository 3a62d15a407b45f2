//! The event types a webhook endpoint subscribes to, and the payload every delivery carries.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::time::{self, UnixMillis};

/// What happened, as receivers read it in `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A key expires in 30, 14 or 7 days (each sent once).
    KeyExpiring,
    /// A key reached its `expires_at` (sent at that instant, not at its next use).
    KeyExpired,
    /// The old secret of a rotated key stopped working.
    KeyRotationGraceEnded,
    /// A key was revoked.
    KeyRevoked,
    /// A key was disabled.
    KeyDisabled,
    /// A key was refused for a rate limit, the first time in that window.
    KeyRateLimited,
    /// A key was found in public (a secret-scanning report or a report to keygate).
    KeyLeaked,
    /// Sent on request, to check an endpoint.
    WebhookTest,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 8] = [
        EventType::KeyExpiring,
        EventType::KeyExpired,
        EventType::KeyRotationGraceEnded,
        EventType::KeyRevoked,
        EventType::KeyDisabled,
        EventType::KeyRateLimited,
        EventType::KeyLeaked,
        EventType::WebhookTest,
    ];

    /// The name on the wire: `key.expiring`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::KeyExpiring => "key.expiring",
            EventType::KeyExpired => "key.expired",
            EventType::KeyRotationGraceEnded => "key.rotation_grace_ended",
            EventType::KeyRevoked => "key.revoked",
            EventType::KeyDisabled => "key.disabled",
            EventType::KeyRateLimited => "key.rate_limited",
            EventType::KeyLeaked => "key.leaked",
            EventType::WebhookTest => "webhook.test",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventType(pub String);

impl fmt::Display for UnknownEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        write!(
            f,
            "unknown event type {:?} (one of: {})",
            self.0,
            known.join(", ")
        )
    }
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<EventType, UnknownEventType> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EventType, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The body of a delivery, as the Standard Webhooks specification shapes it: the type, when
/// the event happened, and its data. Its bytes are signed as sent; a retry sends the same bytes.
#[derive(Serialize, Debug)]
pub struct Payload<'a> {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub timestamp: UnixMillis,
    /// About what: the key, the endpoint.
    pub data: &'a RawValue,
}

impl Payload<'_> {
    /// The JSON text of the delivery.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a payload of typed fields and JSON data serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_say_what_exists() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        let e = "key.exploded".parse::<EventType>().unwrap_err().to_string();
        assert!(
            e.contains("key.exploded") && e.contains("key.expiring"),
            "{e}"
        );
        assert!(serde_json::from_str::<EventType>("\"KEY.EXPIRED\"").is_err());
    }

    #[test]
    fn the_payload_carries_type_time_and_data() {
        let data = RawValue::from_string(r#"{"key_id":"key_1"}"#.into()).unwrap();
        let p = Payload {
            kind: EventType::KeyExpired,
            timestamp: UnixMillis(1_700_000_000_000),
            data: &data,
        };
        assert_eq!(
            p.to_json(),
            r#"{"type":"key.expired","timestamp":"2023-11-14T22:13:20.000Z","data":{"key_id":"key_1"}}"#
        );
    }
}
