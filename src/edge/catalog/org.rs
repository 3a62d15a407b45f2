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
        let plans = &state::config(&self.env)?.plans;
        Ok(Some(OrgView {
            id: org.clone(),
            plan: terms.plan,
            api_access: terms.api_access,
            key_limit: plans.get(terms.plan).key_limit,
            key_count: self.live_count()?,
            default_rate_limits: plans.get(terms.plan).rate_limits.clone(),
            on_leak: self.on_leak()?,
            created_at: UnixMillis(row.created_at as u64),
            updated_at: UnixMillis(row.updated_at as u64),
        }))
    }

    /// Sends the organization's view to the directory, for `GET /orgs`. The change is already
    /// made: a failed send is logged, and the listing then asks this catalog instead.
    pub(super) async fn send_view(&self, org: &OrgId) {
        let sent = async {
            let view = self.org_view(org)?.ok_or(GateError::OrgNotFound)?;
            let view = serde_json::to_value(view).map_err(internal)?;
            let directory = rpc::stub(&self.env, state::DIRECTORY_BINDING, directory::NAME)?;
            let put = DirectoryCommand::Put {
                org: org.clone(),
                view,
            };
            rpc::ask::<_, serde::de::IgnoredAny>(&directory, &put).await
        };
        if let Err(e) = sent.await {
            worker::console_log!(
                "{}",
                serde_json::json!({"error": "directory_view", "org": org.as_str(), "detail": e.log_detail()})
            );
        }
    }

    pub(super) async fn put_org(
        &self,
        org: &OrgId,
        change: PutOrg,
        actor: &str,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let on_leak = change.on_leak;
        let put = change.against(self.org_terms()?, &state::config(&self.env)?.plans)?;
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
            OrgPut::Update(_) => {
                self.republish_org(terms).await?;
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
