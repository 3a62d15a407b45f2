//! An organization's webhook endpoints as the management API takes and shows them: where to
//! deliver, which events, and ids for endpoints and messages.

use serde::{Deserialize, Serialize};

use super::EventType;
use crate::domain::error::GateError;
use crate::domain::time::{self, UnixMillis};

/// Longest endpoint URL.
const MAX_URL_LEN: usize = 2048;
/// Most endpoints one organization may have.
pub const MAX_ENDPOINTS: usize = 20;

/// `prefix` and `len` random base62 characters: an id that is unguessable, not secret.
pub fn random_id(prefix: &str, len: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes)?;
    // 256 % 62 ≠ 0 leaves a slight bias: harmless for an identifier.
    const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body: String = bytes
        .iter()
        .map(|b| char::from(BASE62[usize::from(b % 62)]))
        .collect();
    Ok(format!("{prefix}{body}"))
}

/// `POST /orgs/{org}/webhooks`.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: an absolute `https://` (or `http://`) URL.
    pub url: String,
    /// The event types it receives (at least one).
    pub events: Vec<EventType>,
}

/// `PATCH /orgs/{org}/webhooks/{id}`: what is given changes.
#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// A new delivery URL.
    pub url: Option<String>,
    /// The new list of event types.
    pub events: Option<Vec<EventType>>,
    /// `false` pauses deliveries (new events are not queued); `true` also clears `failing`.
    pub enabled: Option<bool>,
}

impl CreateWebhook {
    /// Checks the URL and the event list.
    pub fn validate(mut self) -> Result<CreateWebhook, GateError> {
        self.url = check_url(&self.url)?;
        check_events(&self.events)?;
        Ok(self)
    }
}

impl UpdateWebhook {
    /// Checks what is given.
    pub fn validate(mut self) -> Result<UpdateWebhook, GateError> {
        if let Some(url) = &self.url {
            self.url = Some(check_url(url)?);
        }
        if let Some(events) = &self.events {
            check_events(events)?;
        }
        Ok(self)
    }
}

/// The URL as it will be called (normalised: lower-case scheme and host, punycode), which is
/// also what is stored and shown. Spaces and control characters are refused, not dropped.
fn check_url(text: &str) -> Result<String, GateError> {
    let invalid = |why: &str| GateError::InvalidRequest(format!("url {why}"));
    if text.len() > MAX_URL_LEN {
        return Err(invalid("must be at most 2048 characters"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain spaces or control characters"));
    }
    if text.contains(":///") || text.contains("://@") {
        return Err(invalid(
            "must be an absolute http:// or https:// URL with a host",
        ));
    }
    let url = url::Url::parse(text)
        .map_err(|_| invalid("must be an absolute http:// or https:// URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid("must be an absolute http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    Ok(url.to_string())
}

fn check_events(events: &[EventType]) -> Result<(), GateError> {
    if events.is_empty() {
        return Err(GateError::InvalidRequest(
            "events must name at least one event type".into(),
        ));
    }
    if let Some(twice) = events
        .iter()
        .enumerate()
        .find_map(|(i, e)| events[..i].contains(e).then_some(e))
    {
        return Err(GateError::InvalidRequest(format!(
            "events lists {twice} twice"
        )));
    }
    Ok(())
}

/// An endpoint as shown (its secret is not part of it: shown once, at creation and rotation).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// `wh_` and 16 base62 characters.
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// What it receives.
    pub events: Vec<EventType>,
    /// Whether new events are delivered to it.
    pub enabled: bool,
    /// Every try of a delivery failed; cleared by the next 2xx or by enabling it again.
    pub failing: bool,
    /// When it was created.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub created_at: UnixMillis,
}

impl WebhookEndpoint {
    /// Whether an event of `kind` goes to it: enabled and subscribed (a test always goes).
    pub fn wants(&self, kind: EventType) -> bool {
        kind == EventType::WebhookTest || (self.enabled && self.events.contains(&kind))
    }

    /// The endpoint with `change` applied.
    pub fn updated(mut self, change: UpdateWebhook) -> WebhookEndpoint {
        if let Some(url) = change.url {
            self.url = url;
        }
        if let Some(events) = change.events {
            self.events = events;
        }
        if let Some(enabled) = change.enabled {
            self.enabled = enabled;
            if enabled {
                self.failing = false;
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::manage::parse_body;

    fn create(body: &str) -> Result<CreateWebhook, GateError> {
        parse_body::<CreateWebhook>(body.as_bytes())?.validate()
    }

    #[test]
    fn a_webhook_needs_a_plain_absolute_url_and_known_events() {
        let ok = create(r#"{"url":"https://hooks.example.com/k?x=1","events":["key.expired"]}"#)
            .unwrap();
        assert_eq!(ok.events, [EventType::KeyExpired]);
        for (body, says) in [
            (
                r#"{"url":"ftp://x/","events":["key.expired"]}"#,
                "absolute http",
            ),
            (
                r#"{"url":"/relative","events":["key.expired"]}"#,
                "absolute http",
            ),
            (
                r#"{"url":"https://u:p@x/","events":["key.expired"]}"#,
                "credentials",
            ),
            (
                r#"{"url":"https://x/#f","events":["key.expired"]}"#,
                "fragment",
            ),
            (r#"{"url":"https://x/","events":[]}"#, "at least one"),
            (
                r#"{"url":"https://x/","events":["key.expired","key.expired"]}"#,
                "twice",
            ),
            (
                r#"{"url":"https://x/","events":["key.boom"]}"#,
                "unknown event type",
            ),
            (
                r#"{"url":"https://x/","events":["key.expired"],"secret":"x"}"#,
                "unknown field",
            ),
        ] {
            let e = create(body).unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{body}");
            assert!(
                e.public_message().contains(says),
                "{body}: {}",
                e.public_message()
            );
        }
        let normalised = create(r#"{"url":"HTTP://Exämple.COM/a b","events":["key.expired"]}"#);
        assert!(normalised.is_err(), "a space is refused, not dropped");
        let normalised =
            create(r#"{"url":"HTTPS://Exämple.COM/hook","events":["key.expired"]}"#).unwrap();
        assert_eq!(normalised.url, "https://xn--exmple-cua.com/hook");
        for bad in [
            "http:///nohost",
            "http://@127.0.0.1/x",
            " https://x/",
            "https://x/\tab",
        ] {
            let body = serde_json::json!({"url": bad, "events": ["key.expired"]}).to_string();
            assert!(create(&body).is_err(), "{bad:?}");
        }
        let long = format!(
            r#"{{"url":"https://x/{}","events":["key.expired"]}}"#,
            "a".repeat(2100)
        );
        assert!(create(&long).is_err());
    }

    #[test]
    fn enabling_clears_failing_and_tests_always_go() {
        let endpoint = WebhookEndpoint {
            id: "wh_1".into(),
            url: "https://x/".into(),
            events: vec![EventType::KeyRevoked],
            enabled: true,
            failing: true,
            created_at: UnixMillis(0),
        };
        assert!(endpoint.wants(EventType::KeyRevoked));
        assert!(!endpoint.wants(EventType::KeyExpired));
        let paused = endpoint.clone().updated(UpdateWebhook {
            enabled: Some(false),
            ..Default::default()
        });
        assert!(!paused.wants(EventType::KeyRevoked) && paused.failing);
        assert!(paused.wants(EventType::WebhookTest));
        let resumed = paused.updated(UpdateWebhook {
            enabled: Some(true),
            ..Default::default()
        });
        assert!(!resumed.failing && resumed.wants(EventType::KeyRevoked));
        assert!(random_id("wh_", 16).unwrap().starts_with("wh_"));
        assert_eq!(random_id("msg_", 22).unwrap().len(), 26);
    }
}
