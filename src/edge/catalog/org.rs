//! The organization: its row, its terms and what `PUT /orgs/{org}` does.

use super::*;

impl OrgCatalog {
    pub(super) fn org_row(&self) -> Result<Option<OrgRow>, GateError> {
        let rows: Vec<OrgRow> = self.query(
            "SELECT plan, api_access, created_at, updated_at FROM org",
            vec![],
        )?;
        Ok(rows.into_iter().next())
    }

    /// The organization's plan and API access, if it exists.
    pub(super) fn org_terms(&self) -> Result<Option<OrgTerms>, GateError> {
        self.org_row()?.as_ref().map(terms_of).transpose()
    }

    pub(super) fn org_view(&self, org: &OrgId) -> Result<Option<OrgView>, GateError> {
        let Some(row) = self.org_row()? else {
            return Ok(None);
        };
        let terms = terms_of(&row)?;
        Ok(Some(OrgView {
            id: org.clone(),
            plan: terms.plan,
            api_access: terms.api_access,
            key_limit: terms.plan.key_limit(),
            key_count: self.live_count()?,
            default_rate_limits: terms.plan.default_limits(),
            on_leak: self.on_leak()?,
            created_at: UnixMillis(row.created_at as u64),
            updated_at: UnixMillis(row.updated_at as u64),
        }))
    }

    pub(super) async fn put_org(
        &self,
        org: &OrgId,
        change: PutOrg,
        actor: &str,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let on_leak = change.on_leak;
        let put = change.against(self.org_terms()?)?;
        let terms = put.terms();
        let (plan, access) = (
            terms.plan.as_str().into(),
            i64::from(terms.api_access).into(),
        );
        // Entered first (again on each PUT: idempotent, and it enters organizations made
        // before the directory existed), so an organization that exists is always listed.
        let directory = rpc::stub(&self.env, state::DIRECTORY_BINDING, directory::NAME)?;
        let add = DirectoryCommand::Add { org: org.clone() };
        rpc::ask::<_, serde::de::IgnoredAny>(&directory, &add).await?;
        match put {
            OrgPut::Create(_) => {
                self.exec(
                "INSERT INTO org (id, plan, api_access, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                vec![org.as_str().into(), plan, access, ms(now), ms(now)],
                )?
            }
            OrgPut::Update { changed, .. } => {
                if changed {
                    self.republish_org(terms).await?;
                }
                self.exec(
                    "UPDATE org SET plan = ?, api_access = ?, updated_at = ?",
                    vec![plan, access, ms(now)],
                )?;
            }
        }
        if let Some(on_leak) = on_leak {
            self.exec(
                "INSERT OR REPLACE INTO settings (name, value) VALUES ('on_leak', ?)",
                vec![on_leak.as_str().into()],
            )?;
        }
        let view = self.org_view(org)?.ok_or(GateError::OrgNotFound)?;
        let details = AuditDetails::org(OrgTerms {
            plan: view.plan,
            api_access: view.api_access,
        });
        self.record_event(now, put.kind(), actor, None, &details)?;
        respond::json(put.status(), &view)
    }
}
