//! The organization's resource registry, as the management API sees it: which parent each
//! child resource belongs to (`website w_1` in `team team_a`), so that keys restricted on the
//! parent type reach it (see [`resource`](crate::domain::authz::resource)).
//!
//! - `PUT /orgs/{org}/resources/{type}/{id}` `{"parent": {"type": "team", "id": "team_a"}}`
//!   registers or moves a child (201, then 200); `GET` reads it, `DELETE` removes it;
//! - `GET /orgs/{org}/resources/{type}` lists one type in id order (`limit`, `cursor`,
//!   `parent`).
//!
//! Only a type the policy gives a parent type may be registered, under a parent of that type.
//! An organization registers at most [`MAX_REGISTERED`] resources: every key restricted on a
//! parent type carries the ids it reaches in its record, so the registry bounds the record.

use serde::{Deserialize, Serialize};

use crate::domain::authz::policy::Policy;
use crate::domain::authz::resource::ResourceRef;
use crate::domain::error::GateError;
use crate::domain::manage::audit::AuditKind;
use crate::domain::time::{self, UnixMillis};

/// Most resources one organization registers (all types together).
pub const MAX_REGISTERED: u32 = 1_000;

/// `PUT /orgs/{org}/resources/{type}/{id}`, as sent.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PutResource {
    parent: Option<ResourceRef>,
}

impl PutResource {
    /// The parent of `resource`: required, and of the parent type the policy declares for the
    /// resource's type. A type without a declared parent type cannot be registered: no key
    /// would ever reach it through a parent.
    pub fn validate(
        self,
        resource: &ResourceRef,
        policy: &Policy,
    ) -> Result<ResourceRef, GateError> {
        let invalid = |message: String| GateError::InvalidRequest(message);
        let kind = resource.kind();
        let Some(declared) = policy.parents().of(kind) else {
            return Err(invalid(format!(
                "The resource type {kind} has no parent type: the policy's parents must name one (parents = {{ {kind} = \"team\" }})"
            )));
        };
        let parent = self.parent.ok_or_else(|| {
            invalid(format!(
                "parent is required: {{\"parent\": {{\"type\": \"{declared}\", \"id\": \"…\"}}}}"
            ))
        })?;
        if parent.kind() != declared {
            return Err(invalid(format!(
                "parent.type must be {declared}: the policy makes {declared} the parent of {kind}"
            )));
        }
        Ok(parent)
    }
}

/// What a `PUT` of a registration does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryPut {
    /// A new registration.
    Create,
    /// The resource moves from `previous` to the new parent.
    Move {
        /// The parent it had.
        previous: ResourceRef,
    },
    /// It already has this parent: nothing changes, nothing is audited.
    Unchanged,
}

impl RegistryPut {
    /// What registering a resource under `parent` does, when it is registered under
    /// `existing` now and the organization holds `registered` registrations: a new one beyond
    /// [`MAX_REGISTERED`] is refused.
    pub fn of(
        existing: Option<ResourceRef>,
        parent: &ResourceRef,
        registered: u32,
    ) -> Result<RegistryPut, GateError> {
        match existing {
            None if registered >= MAX_REGISTERED => {
                Err(GateError::ResourceLimitReached(MAX_REGISTERED))
            }
            None => Ok(RegistryPut::Create),
            Some(previous) if previous == *parent => Ok(RegistryPut::Unchanged),
            Some(previous) => Ok(RegistryPut::Move { previous }),
        }
    }

    /// The answer's status: 201 for a new registration, else 200.
    pub fn status(&self) -> u16 {
        match self {
            RegistryPut::Create => 201,
            RegistryPut::Move { .. } | RegistryPut::Unchanged => 200,
        }
    }

    /// The audit event it makes, if it changes anything.
    pub fn kind(&self) -> Option<AuditKind> {
        match self {
            RegistryPut::Create => Some(AuditKind::ResourceCreated),
            RegistryPut::Move { .. } => Some(AuditKind::ResourceUpdated),
            RegistryPut::Unchanged => None,
        }
    }
}

/// A registration as the API shows it.
#[derive(Serialize, Debug)]
pub struct ResourceView {
    /// The resource's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its parent.
    pub parent: ResourceRef,
    /// When it was first registered.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub created_at: UnixMillis,
    /// When its parent last changed.
    #[serde(serialize_with = "time::serialize_rfc3339")]
    pub updated_at: UnixMillis,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::manage::body::parse_body;

    fn policy() -> Policy {
        Policy::parse(r#"{"parents":{"website":"team"},"rules":[]}"#).unwrap()
    }

    fn put(kind: &str, body: &str) -> Result<ResourceRef, String> {
        let resource = ResourceRef::parse(kind, "w_1").unwrap();
        parse_body::<PutResource>(body.as_bytes())
            .and_then(|p| p.validate(&resource, &policy()))
            .map_err(|e| e.public_message())
    }

    #[test]
    fn a_registration_names_a_parent_of_the_declared_type() {
        let parent = put("website", r#"{"parent":{"type":"team","id":"team_a"}}"#).unwrap();
        assert_eq!((parent.kind(), parent.id()), ("team", "team_a"));
        let wrong = put("website", r#"{"parent":{"type":"org","id":"team_a"}}"#).unwrap_err();
        assert!(wrong.starts_with("parent.type must be team"), "{wrong}");
        let undeclared = put("site", r#"{"parent":{"type":"team","id":"team_a"}}"#).unwrap_err();
        assert!(undeclared.contains("has no parent type"), "{undeclared}");
        let missing = put("website", "{}").unwrap_err();
        assert!(missing.starts_with("parent is required"), "{missing}");
        for bad in [
            r#"{"parent":{"type":"team","id":"a b"}}"#,
            r#"{"parent":{"type":"team"}}"#,
            r#"{"parent":"team_a"}"#,
            r#"{"parent":{"type":"team","id":"a"},"extra":1}"#,
        ] {
            let err = put("website", bad).unwrap_err();
            assert!(err.starts_with("Invalid"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_put_creates_moves_or_changes_nothing_within_the_cap() {
        let team = |id: &str| ResourceRef::parse("team", id).unwrap();
        assert_eq!(
            RegistryPut::of(None, &team("a"), 0).unwrap(),
            RegistryPut::Create
        );
        let moved = RegistryPut::of(Some(team("a")), &team("b"), MAX_REGISTERED).unwrap();
        assert_eq!(
            moved,
            RegistryPut::Move {
                previous: team("a")
            }
        );
        assert_eq!(
            (moved.status(), moved.kind()),
            (200, Some(AuditKind::ResourceUpdated))
        );
        let same = RegistryPut::of(Some(team("a")), &team("a"), 5).unwrap();
        assert_eq!((same.status(), same.kind()), (200, None));
        assert_eq!(RegistryPut::Create.status(), 201);
        let full = RegistryPut::of(None, &team("a"), MAX_REGISTERED).unwrap_err();
        assert_eq!(
            (full.status(), full.code()),
            (403, "resource_limit_reached")
        );
    }
}
