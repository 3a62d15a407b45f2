//! An organization's terms (plan and API access) and what `PUT /orgs/{org}` does to them.

use crate::domain::error::GateError;
use crate::domain::key::record::KeyRecord;
use crate::domain::limits::plan::Plan;
use crate::domain::manage::audit::AuditKind;
use serde::{Deserialize, Serialize};

/// `PUT /orgs/{org}`.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PutOrg {
    /// The plan; required when the organization is created, kept when omitted on update.
    pub plan: Option<Plan>,
    /// `false` refuses every key of the organization (403 `api_plan_required`).
    pub api_access: Option<bool>,
    /// What a key found in public becomes: `revoke` (default), `disable` or `notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_leak: Option<crate::domain::leak::OnLeak>,
}

/// What an organization's plan gives each of its keys: API access and the plan's windows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrgTerms {
    /// The organization's plan.
    pub plan: Plan,
    /// Whether its keys may call the API at all.
    pub api_access: bool,
}

impl OrgTerms {
    /// Gives `record` these terms: the organization's API access and its plan's windows.
    pub fn give_to(self, record: &mut KeyRecord) {
        record.api_access = self.api_access;
        record.plan_limits = self.plan.default_limits();
    }
}

// The plan's key limit as a management refusal; here, not in `limits/plan.rs`, so that the
// plans import nothing from `error.rs` (whose `Refusal` names a plan).
impl Plan {
    /// Whether an organization holding `live` keys may create another (checked under the
    /// catalog's writer lock, so concurrent creates cannot both pass it).
    pub fn admits_another_key(self, live: u32) -> Result<(), GateError> {
        match self.key_limit() {
            Some(limit) if live >= limit => Err(GateError::KeyLimitReached),
            _ => Ok(()),
        }
    }
}

/// What a `PUT /orgs/{org}` does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OrgPut {
    /// The organization is created with these terms.
    Create(OrgTerms),
    /// The organization's terms become these; `changed` when they differ from the old ones,
    /// so every live key must be given them.
    Update {
        /// The new terms.
        terms: OrgTerms,
        /// Whether they differ from the old ones.
        changed: bool,
    },
}

impl OrgPut {
    /// The terms the organization has afterwards.
    pub fn terms(self) -> OrgTerms {
        match self {
            OrgPut::Create(terms) | OrgPut::Update { terms, .. } => terms,
        }
    }

    /// The answer's status: 201 on creation, 200 on update.
    pub fn status(self) -> u16 {
        match self {
            OrgPut::Create(_) => 201,
            OrgPut::Update { .. } => 200,
        }
    }

    /// The audit event it makes.
    pub fn kind(self) -> AuditKind {
        match self {
            OrgPut::Create(_) => AuditKind::OrgCreated,
            OrgPut::Update { .. } => AuditKind::OrgUpdated,
        }
    }
}

impl PutOrg {
    /// What this body does to the organization with terms `existing` (`None`: it does not
    /// exist yet, and the plan is required). Omitted fields keep their value; a new
    /// organization's keys have API access unless it says otherwise.
    pub fn against(self, existing: Option<OrgTerms>) -> Result<OrgPut, GateError> {
        match existing {
            None => {
                let plan = self.plan.ok_or_else(|| {
                    GateError::InvalidRequest(
                        "plan is required when creating an organization (free, pro, business or enterprise)"
                            .into(),
                    )
                })?;
                Ok(OrgPut::Create(OrgTerms {
                    plan,
                    api_access: self.api_access.unwrap_or(true),
                }))
            }
            Some(old) => {
                let terms = OrgTerms {
                    plan: self.plan.unwrap_or(old.plan),
                    api_access: self.api_access.unwrap_or(old.api_access),
                };
                Ok(OrgPut::Update {
                    terms,
                    changed: terms != old,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(plan: Option<Plan>, api_access: Option<bool>) -> PutOrg {
        PutOrg {
            plan,
            api_access,
            on_leak: None,
        }
    }

    const PRO: OrgTerms = OrgTerms {
        plan: Plan::Pro,
        api_access: true,
    };

    #[test]
    fn a_plan_admits_keys_up_to_its_limit() {
        assert!(Plan::Pro.admits_another_key(9).is_ok());
        assert!(Plan::Pro.admits_another_key(10).is_err());
        assert!(Plan::Enterprise.admits_another_key(u32::MAX).is_ok());
    }

    #[test]
    fn creating_needs_a_plan_and_grants_access_by_default() {
        let err = put(None, Some(true)).against(None).unwrap_err();
        assert!(err.public_message().contains("plan is required"));
        let created = put(Some(Plan::Pro), None).against(None).unwrap();
        assert_eq!(created, OrgPut::Create(PRO));
        assert_eq!(
            (created.status(), created.kind()),
            (201, AuditKind::OrgCreated)
        );
        let closed = put(Some(Plan::Free), Some(false)).against(None).unwrap();
        assert!(!closed.terms().api_access);
    }

    #[test]
    fn an_update_keeps_what_it_omits_and_says_whether_anything_changed() {
        let same = put(None, None).against(Some(PRO)).unwrap();
        assert_eq!(
            same,
            OrgPut::Update {
                terms: PRO,
                changed: false
            }
        );
        assert_eq!((same.status(), same.kind()), (200, AuditKind::OrgUpdated));
        let same_plan = put(Some(Plan::Pro), Some(true)).against(Some(PRO)).unwrap();
        assert_eq!(same_plan, same, "restating the terms changes nothing");
        let upgraded = put(Some(Plan::Enterprise), None)
            .against(Some(PRO))
            .unwrap();
        assert_eq!(
            upgraded,
            OrgPut::Update {
                terms: OrgTerms {
                    plan: Plan::Enterprise,
                    api_access: true
                },
                changed: true
            }
        );
        let shut = put(None, Some(false)).against(Some(PRO)).unwrap();
        assert!(matches!(shut, OrgPut::Update { changed: true, .. }));
    }
}
