//! An organization's terms (plan and API access) and what `PUT /orgs/{org}` does to them.

use crate::domain::error::GateError;
use crate::domain::key::record::KeyRecord;
use crate::domain::limits::plan::{Plan, Plans};
use crate::domain::manage::audit::AuditKind;
use serde::{Deserialize, Serialize};

/// `PUT /orgs/{org}`.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PutOrg {
    /// The plan; required when the organization is created, kept when omitted on update.
    pub plan: Option<Plan>,
    /// `false` refuses every key of the organization and the creation or rotation of keys
    /// (403 `api_plan_required`). When omitted: the plan's on creation and when the plan
    /// changes, else unchanged.
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
    /// Gives `record` these terms: the organization's API access and its plan's windows under
    /// `plans`; whether that changed the record (a key to publish again).
    pub fn give_to(self, record: &mut KeyRecord, plans: &Plans) -> bool {
        let windows = &plans.get(self.plan).rate_limits;
        let changed = record.api_access != self.api_access || record.plan_limits != *windows;
        record.api_access = self.api_access;
        record.plan_limits.clone_from(windows);
        changed
    }

    /// Whether the organization may be issued a secret (a new key or a rotation): not without
    /// API access, since the key could not be used (Zenovay: "You need a Pro plan or higher to
    /// create and use API keys").
    pub fn issues_keys(self) -> Result<(), GateError> {
        match self.api_access {
            true => Ok(()),
            false => Err(GateError::ApiPlanRequired),
        }
    }

    /// Whether an organization holding `live` keys may create another: room under its plan's
    /// key limit in `plans` (checked under the catalog's writer lock, so concurrent creates
    /// cannot both pass it).
    pub fn admits_another_key(self, plans: &Plans, live: u32) -> Result<(), GateError> {
        match plans.get(self.plan).key_limit {
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
    /// The organization's terms become these (the same, or not): every live key is given
    /// them, and those whose record changes (new terms, or the deployment changed `PLANS`)
    /// are published again.
    Update(OrgTerms),
}

impl OrgPut {
    /// The terms the organization has afterwards.
    pub fn terms(self) -> OrgTerms {
        match self {
            OrgPut::Create(terms) | OrgPut::Update(terms) => terms,
        }
    }

    /// The answer's status: 201 on creation, 200 on update.
    pub fn status(self) -> u16 {
        match self {
            OrgPut::Create(_) => 201,
            OrgPut::Update(_) => 200,
        }
    }

    /// The audit event it makes.
    pub fn kind(self) -> AuditKind {
        match self {
            OrgPut::Create(_) => AuditKind::OrgCreated,
            OrgPut::Update(_) => AuditKind::OrgUpdated,
        }
    }
}

impl PutOrg {
    /// What this body does to the organization with terms `existing` (`None`: it does not
    /// exist yet, and the plan is required). Omitted fields keep their value, except API
    /// access, which follows the plan (`plans`) when the organization is created or its plan
    /// changes: a grant or a cut the operator made by hand lasts until the next plan change.
    pub fn against(self, existing: Option<OrgTerms>, plans: &Plans) -> Result<OrgPut, GateError> {
        let plans_access = |plan: Plan| plans.get(plan).api_access;
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
                    api_access: self.api_access.unwrap_or(plans_access(plan)),
                }))
            }
            Some(old) => {
                let plan = self.plan.unwrap_or(old.plan);
                let kept = match plan == old.plan {
                    true => old.api_access,
                    false => plans_access(plan),
                };
                Ok(OrgPut::Update(OrgTerms {
                    plan,
                    api_access: self.api_access.unwrap_or(kept),
                }))
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

    fn zenovay() -> Plans {
        Plans::parse(r#"{"free":{"api_access":false}}"#).unwrap()
    }

    #[test]
    fn keys_are_issued_with_api_access_and_up_to_the_plans_limit() {
        let plans = Plans::default();
        assert!(PRO.admits_another_key(&plans, 9).is_ok());
        let full = PRO.admits_another_key(&plans, 10).unwrap_err();
        assert_eq!(full.code(), "key_limit_reached");
        let enterprise = OrgTerms {
            plan: Plan::Enterprise,
            ..PRO
        };
        assert!(enterprise.admits_another_key(&plans, u32::MAX).is_ok());
        let closed = OrgTerms {
            api_access: false,
            ..PRO
        };
        let err = closed.issues_keys().unwrap_err();
        assert_eq!((err.status(), err.code()), (403, "api_plan_required"));
        assert!(PRO.issues_keys().is_ok());
        let tight = Plans::parse(r#"{"pro":{"key_limit":1}}"#).unwrap();
        assert!(PRO.admits_another_key(&tight, 1).is_err());
    }

    #[test]
    fn api_access_follows_the_plan_unless_the_put_says_otherwise() {
        let plans = zenovay();
        let free = put(Some(Plan::Free), None).against(None, &plans).unwrap();
        assert!(!free.terms().api_access, "a new free team has no API");
        let pro = put(Some(Plan::Pro), None).against(None, &plans).unwrap();
        assert!(pro.terms().api_access);
        let granted = put(Some(Plan::Free), Some(true))
            .against(None, &plans)
            .unwrap();
        assert!(granted.terms().api_access, "the operator's exception");
        // Moving to a plan takes that plan's access; staying keeps the organization's own.
        let free_terms = free.terms();
        let upgraded = put(Some(Plan::Pro), None)
            .against(Some(free_terms), &plans)
            .unwrap();
        assert_eq!(upgraded.terms(), PRO);
        let downgraded = put(Some(Plan::Free), None)
            .against(Some(PRO), &plans)
            .unwrap();
        assert!(!downgraded.terms().api_access);
        let exception = granted.terms();
        let kept = put(Some(Plan::Free), None)
            .against(Some(exception), &plans)
            .unwrap();
        assert_eq!(
            kept,
            OrgPut::Update(exception),
            "restating the plan keeps the exception"
        );
    }

    #[test]
    fn giving_terms_reports_whether_the_record_changed() {
        let mut record =
            KeyRecord::from_json(r#"{"id":"key_a","org":"acme","name":"test","created_at":0}"#)
                .unwrap();
        let plans = Plans::default();
        assert!(PRO.give_to(&mut record, &plans));
        assert_eq!(record.plan_limits, plans.get(Plan::Pro).rate_limits);
        assert!(!PRO.give_to(&mut record, &plans), "the same terms again");
        let fewer = Plans::parse(
            r#"{"pro":{"rate_limits":[{"name":"minute","limit":5,"window_seconds":60}]}}"#,
        )
        .unwrap();
        assert!(
            PRO.give_to(&mut record, &fewer),
            "the deployment changed PLANS"
        );
    }

    #[test]
    fn creating_needs_a_plan_and_grants_access_by_default() {
        let err = put(None, Some(true))
            .against(None, &Plans::default())
            .unwrap_err();
        assert!(err.public_message().contains("plan is required"));
        let created = put(Some(Plan::Pro), None)
            .against(None, &Plans::default())
            .unwrap();
        assert_eq!(created, OrgPut::Create(PRO));
        assert_eq!(
            (created.status(), created.kind()),
            (201, AuditKind::OrgCreated)
        );
        let closed = put(Some(Plan::Free), Some(false))
            .against(None, &Plans::default())
            .unwrap();
        assert!(!closed.terms().api_access);
    }

    #[test]
    fn an_update_keeps_what_it_omits() {
        let same = put(None, None)
            .against(Some(PRO), &Plans::default())
            .unwrap();
        assert_eq!(same, OrgPut::Update(PRO));
        assert_eq!((same.status(), same.kind()), (200, AuditKind::OrgUpdated));
        let same_plan = put(Some(Plan::Pro), Some(true))
            .against(Some(PRO), &Plans::default())
            .unwrap();
        assert_eq!(same_plan, same, "restating the terms changes nothing");
        let upgraded = put(Some(Plan::Enterprise), None)
            .against(Some(PRO), &Plans::default())
            .unwrap();
        assert_eq!(
            upgraded,
            OrgPut::Update(OrgTerms {
                plan: Plan::Enterprise,
                api_access: true
            })
        );
        let shut = put(None, Some(false))
            .against(Some(PRO), &Plans::default())
            .unwrap();
        assert!(!shut.terms().api_access);
    }
}
