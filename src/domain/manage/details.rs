//! The typed details of each audit event, and which events a change to a key makes.
//!
//! The log has always spelt details with their fields in alphabetical order; the fields here
//! are declared in that order so stored and returned events stay byte for byte the same.

use serde::Serialize;

use crate::domain::authz::resource::ResourceRef;
use crate::domain::authz::scope::Scope;
use crate::domain::key::record::{KeyOwner, KeyRecord};
use crate::domain::key::secret::Secret;
use crate::domain::limits::plan::Plan;
use crate::domain::manage::audit::AuditKind;
use crate::domain::manage::org::OrgTerms;

/// What an audit event records beside its kind, actor and key.
#[derive(Serialize, Debug, Clone)]
#[serde(untagged)]
pub enum AuditDetails {
    /// `org_created`, `org_updated`: the organization's terms afterwards.
    Org {
        /// Whether its keys may call the API.
        api_access: bool,
        /// Its plan.
        plan: Plan,
    },
    /// `key_created`: also the owner, when the key has one.
    KeyCreated {
        /// The expiry, RFC 3339, or `null`.
        expires_at: Option<String>,
        /// The key's name.
        name: String,
        /// Whom its requests are attributed to (absent when nobody).
        #[serde(skip_serializing_if = "Option::is_none")]
        owner: Option<KeyOwner>,
        /// Its scopes.
        scopes: Vec<Scope>,
    },
    /// `key_updated`: the settings that changed.
    KeyUpdated {
        /// Field names, as in the request body.
        changed: Vec<&'static str>,
    },
    /// `key_rotated`.
    KeyRotated {
        /// The grace period asked for.
        grace_period_hours: u32,
        /// The new secret's visible start.
        new_start: String,
        /// The old secret's visible start.
        old_start: String,
        /// When the previous secret stops working, RFC 3339, or `null` (at once).
        previous_secret_valid_until: Option<String>,
    },
    /// `key_expiring`.
    KeyExpiring {
        /// Days left.
        days: u64,
        /// The expiry, RFC 3339.
        expires_at: String,
    },
    /// `key_rotation_grace_ended`.
    GraceEnded {
        /// When the old secret stopped, RFC 3339.
        until: String,
    },
    /// `key_rate_limited`.
    RateLimited {
        /// The full window's limit.
        limit: u32,
        /// Its name.
        window: String,
        /// Its length.
        window_seconds: u32,
    },
    /// `webhook_created`, `webhook_updated`, `webhook_deleted`, `webhook_secret_rotated`.
    Webhook {
        /// Where it delivers.
        url: String,
        /// The endpoint.
        webhook_id: String,
    },
    /// `key_leaked`.
    KeyLeaked {
        /// What keygate did: `revoked`, `disabled`, `notified`, `retired` (an old secret in its
        /// grace period stopped; the current one was untouched) or `none`.
        action: &'static str,
        /// Which secret was found: `current`, `previous` (in its grace period) or `inactive`
        /// (one that no longer works, or a revoked key's).
        secret: &'static str,
        /// Where it was found (GitHub's `source`, or `report`).
        source: String,
        /// Where it was found (a URL, or empty for a report).
        url: String,
    },
    /// `auth_succeeded`.
    AuthSucceeded {
        /// Where the request came from, if the platform said.
        country: Option<String>,
    },
    /// `webhook_failing`.
    WebhookFailing {
        /// The event given up.
        event_id: String,
        /// The endpoint marked failing.
        webhook_id: String,
    },
    /// `keys_revoked_all`.
    RevokedAll {
        /// How many keys were revoked.
        revoked: u32,
    },
    /// `auth_failed`.
    AuthFailed {
        /// Why the key was refused.
        reason: String,
        /// The presented key's visible start.
        start: String,
    },
    /// `resource_created`, `resource_updated`, `resource_deleted`.
    Resource {
        /// The resource's id.
        id: String,
        /// Its parent's id (for a deletion: the parent it had).
        parent_id: String,
        /// Its parent's type.
        parent_type: String,
        /// For a move: the parent's id before it.
        #[serde(skip_serializing_if = "Option::is_none")]
        previous_parent_id: Option<String>,
        /// The resource's type.
        #[serde(rename = "type")]
        kind: String,
    },
    /// Events with nothing to add: `{}`.
    None {},
}

impl AuditDetails {
    /// The details of an organization's terms.
    pub fn org(terms: OrgTerms) -> AuditDetails {
        AuditDetails::Org {
            api_access: terms.api_access,
            plan: terms.plan,
        }
    }

    /// The details of a created key.
    pub fn key_created(record: &KeyRecord) -> AuditDetails {
        AuditDetails::KeyCreated {
            expires_at: record.expires_at.map(|t| t.to_string()),
            name: record.name.clone(),
            owner: record.owner.clone(),
            scopes: record.scopes.clone(),
        }
    }

    /// The details of a rotation from `old_start` to `new_start` with `grace_hours` asked
    /// for, leaving `secrets`.
    pub fn key_rotated(
        grace_hours: u32,
        secrets: &[Secret],
        old_start: String,
        new_start: &str,
    ) -> AuditDetails {
        AuditDetails::KeyRotated {
            grace_period_hours: grace_hours,
            new_start: new_start.to_owned(),
            old_start,
            previous_secret_valid_until: secrets
                .iter()
                .find_map(|s| s.until)
                .map(|t| t.to_string()),
        }
    }

    /// The details of a registration of `child` under `parent` (moved from `previous`).
    pub fn resource(
        child: &ResourceRef,
        parent: &ResourceRef,
        previous: Option<&ResourceRef>,
    ) -> AuditDetails {
        AuditDetails::Resource {
            id: child.id().to_owned(),
            parent_id: parent.id().to_owned(),
            parent_type: parent.kind().to_owned(),
            previous_parent_id: previous.map(|p| p.id().to_owned()),
            kind: child.kind().to_owned(),
        }
    }

    /// The details as stored in the log.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// The events a key update makes, given the fields that `changed` and whether the key was
/// and is enabled: `key_enabled` or `key_disabled` when it was turned on or off, then
/// `key_updated` naming every other changed field. No change, no event.
pub fn update_events(
    mut changed: Vec<&'static str>,
    was_enabled: bool,
    enabled: bool,
) -> Vec<(AuditKind, AuditDetails)> {
    let mut events = Vec::new();
    if enabled != was_enabled {
        changed.retain(|f| *f != "enabled");
        let kind = if enabled {
            AuditKind::KeyEnabled
        } else {
            AuditKind::KeyDisabled
        };
        events.push((kind, AuditDetails::None {}));
    }
    if !changed.is_empty() {
        events.push((AuditKind::KeyUpdated, AuditDetails::KeyUpdated { changed }));
    }
    events
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::key::hash::KeyHash;
    use crate::domain::time::UnixMillis;

    fn text(details: AuditDetails) -> String {
        details.to_json().unwrap()
    }

    /// Each detail is spelt exactly as the untyped `json!` blocks it replaced spelt it.
    #[test]
    fn details_spell_as_the_log_always_did() {
        let terms = OrgTerms {
            plan: Plan::Business,
            api_access: false,
        };
        assert_eq!(
            text(AuditDetails::org(terms)),
            json!({"plan": terms.plan, "api_access": terms.api_access}).to_string()
        );
        let scopes: Vec<Scope> = serde_json::from_str(r#"["read","employees:write"]"#).unwrap();
        let until = Some(UnixMillis(1_768_435_200_000));
        for expires_at in [None, until] {
            let details = AuditDetails::KeyCreated {
                expires_at: expires_at.map(|t| t.to_string()),
                name: "Reporting".into(),
                owner: None,
                scopes: scopes.clone(),
            };
            let old = json!({"name": "Reporting", "scopes": scopes, "expires_at": expires_at.map(|t| t.to_string())});
            assert_eq!(text(details), old.to_string());
        }
        let owned = AuditDetails::KeyCreated {
            expires_at: None,
            name: "Mine".into(),
            owner: KeyOwner::parse("ada@example.com"),
            scopes: scopes.clone(),
        };
        assert_eq!(
            text(owned),
            r#"{"expires_at":null,"name":"Mine","owner":"ada@example.com","scopes":["read","employees:write"]}"#
        );
        assert_eq!(
            text(AuditDetails::KeyUpdated {
                changed: vec!["name", "meta"]
            }),
            json!({"changed": ["name", "meta"]}).to_string()
        );
        let hash = KeyHash::from_hex(&"ab".repeat(32)).unwrap();
        for secrets in [vec![], vec![Secret { hash, until }]] {
            let old_until = secrets.iter().find_map(|s| s.until).map(|t| t.to_string());
            assert_eq!(
                text(AuditDetails::key_rotated(
                    24,
                    &secrets,
                    "kg_live_ol…".into(),
                    "kg_live_ne…"
                )),
                json!({
                    "grace_period_hours": 24,
                    "new_start": "kg_live_ne…",
                    "old_start": "kg_live_ol…",
                    "previous_secret_valid_until": old_until
                })
                .to_string()
            );
        }
        assert_eq!(
            text(AuditDetails::RevokedAll { revoked: 3 }),
            json!({"revoked": 3}).to_string()
        );
        assert_eq!(
            text(AuditDetails::AuthFailed {
                reason: "revoked".into(),
                start: "kg_live_ab…".into()
            }),
            json!({"reason": "revoked", "start": "kg_live_ab…"}).to_string()
        );
        assert_eq!(text(AuditDetails::None {}), "{}");
        let website = ResourceRef::parse("website", "w_1").unwrap();
        let (a, b) = (
            ResourceRef::parse("team", "team_a").unwrap(),
            ResourceRef::parse("team", "team_b").unwrap(),
        );
        assert_eq!(
            text(AuditDetails::resource(&website, &b, Some(&a))),
            r#"{"id":"w_1","parent_id":"team_b","parent_type":"team","previous_parent_id":"team_a","type":"website"}"#
        );
        assert_eq!(
            text(AuditDetails::resource(&website, &a, None)),
            r#"{"id":"w_1","parent_id":"team_a","parent_type":"team","type":"website"}"#
        );
    }

    fn kinds(events: &[(AuditKind, AuditDetails)]) -> Vec<AuditKind> {
        events.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn an_update_makes_an_event_per_kind_of_change() {
        assert!(update_events(vec![], true, true).is_empty());
        let off = update_events(vec!["enabled"], true, false);
        assert_eq!(kinds(&off), [AuditKind::KeyDisabled]);
        let on_and_renamed = update_events(vec!["name", "enabled"], false, true);
        assert_eq!(
            kinds(&on_and_renamed),
            [AuditKind::KeyEnabled, AuditKind::KeyUpdated]
        );
        assert_eq!(
            text(on_and_renamed[1].1.clone()),
            r#"{"changed":["name"]}"#,
            "enabled is its own event, not a changed field"
        );
        let renamed = update_events(vec!["name"], true, true);
        assert_eq!(kinds(&renamed), [AuditKind::KeyUpdated]);
    }
}
