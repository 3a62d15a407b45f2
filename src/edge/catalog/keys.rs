//! Keys: create, list, read, change, rotate, revoke.

use super::*;

impl OrgCatalog {
    pub(super) fn live_count(&self) -> Result<u32, GateError> {
        let rows: Vec<CountRow> =
            self.query("SELECT COUNT(*) AS n FROM keys WHERE revoked = 0", vec![])?;
        Ok(rows.first().map_or(0, |r| r.n as u32))
    }

    /// Every live key, oldest first.
    pub(super) fn live_keys(&self) -> Result<Vec<Stored>, GateError> {
        let rows: Vec<KeyRow> = self.query(
            "SELECT secrets, record FROM keys WHERE revoked = 0 ORDER BY seq",
            vec![],
        )?;
        rows.into_iter().map(decode_key).collect()
    }

    /// Saves a changed record of a live key.
    pub(super) fn save_record(&self, record: &KeyRecord) -> Result<(), GateError> {
        self.exec(
            "UPDATE keys SET record = ? WHERE id = ?",
            vec![
                record.to_json().map_err(internal)?.into(),
                record.id.as_str().into(),
            ],
        )
    }

    pub(super) fn live_key(&self, id: &KeyId) -> Result<Stored, GateError> {
        self.find_live_key(id)?.ok_or(GateError::KeyNotFound)
    }

    /// The key `id` if it is live (`None`: revoked or unknown).
    pub(super) fn find_live_key(&self, id: &KeyId) -> Result<Option<Stored>, GateError> {
        let rows: Vec<KeyRow> = self.query(
            "SELECT secrets, record FROM keys WHERE id = ? AND revoked = 0",
            vec![id.as_str().into()],
        )?;
        rows.into_iter().next().map(decode_key).transpose()
    }

    /// Gives every live key the organization's plan windows and API access; those whose
    /// record changes are published, guard and KV first, so the change acts on each key's next
    /// request.
    pub(super) async fn republish_org(&self, terms: OrgTerms) -> Result<(), GateError> {
        let plans = &state::config(&self.env)?.plans;
        for Stored {
            mut record,
            secrets,
        } in self.live_keys()?
        {
            if terms.give_to(&mut record, plans) {
                self.publish(&record, &secrets).await?;
                self.save_record(&record)?;
            }
        }
        Ok(())
    }

    pub(super) async fn create_key(
        &self,
        org: &OrgId,
        new: NewKey,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let config = state::config(&self.env)?;
        let terms = self.org_terms()?.ok_or(GateError::OrgNotFound)?;
        terms.issues_keys()?;
        actor.may_create(&new, config.plans.get(terms.plan), config.revocation_bound)?;
        // Checked under the writer lock, so concurrent creates cannot both pass it.
        terms.admits_another_key(&config.plans, self.live_count()?)?;
        let secret = self.new_secret()?;
        let assigned = Assigned {
            id: KeyId::generate().map_err(internal)?,
            org: org.clone(),
            start: secret.start(),
            created_by: actor.name(),
            creator_owner: actor.owner().cloned(),
            now,
        };
        let mut record = new.into_record(assigned, terms, &config.plans);
        record.reach = self.reach_of(&record.resources)?;
        let secrets = vec![Secret {
            hash: KeyHash::of(&secret),
            until: None,
        }];
        self.publish(&record, &secrets).await?;
        self.index_secret(&record, &secrets[0].hash).await?;
        self.exec(
            "INSERT INTO keys (id, secrets, record) VALUES (?, ?, ?)",
            vec![
                record.id.as_str().into(),
                to_json(&secrets)?.into(),
                record.to_json().map_err(internal)?.into(),
            ],
        )?;
        let details = AuditDetails::key_created(&record);
        self.record_event(
            now,
            AuditKind::KeyCreated,
            &actor.name(),
            Some(&record.id),
            &details,
        )?;
        let mut view = KeyView::of(&record, now);
        view.key = Some(secret.expose_secret().to_owned());
        respond::json(201, &view)
    }

    pub(super) async fn update_key(
        &self,
        id: &KeyId,
        patch: KeyPatch,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let Stored {
            mut record,
            secrets,
        } = self.live_key(id)?;
        let config = state::config(&self.env)?;
        let plan = self.org_terms()?.ok_or(GateError::OrgNotFound)?.plan;
        actor.may_update(
            &patch,
            &record,
            config.plans.get(plan),
            config.revocation_bound,
        )?;
        let actor = &actor.name();
        let was_enabled = record.enabled;
        let changed = patch.apply(&mut record);
        if changed.is_empty() {
            return respond::json(200, &KeyView::of(&record, now));
        }
        if changed.contains(&"resources") {
            record.reach = self.reach_of(&record.resources)?;
        }
        record.updated_at = Some(now);
        self.publish(&record, &secrets).await?;
        self.save_record(&record)?;
        for (kind, details) in details::update_events(changed, was_enabled, record.enabled) {
            self.record_event(now, kind, actor, Some(id), &details)?;
        }
        respond::json(200, &KeyView::of(&record, now))
    }

    pub(super) async fn rotate_key(
        &self,
        id: &KeyId,
        grace_hours: u32,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let Stored {
            mut record,
            secrets,
        } = self.live_key(id)?;
        let terms = self.org_terms()?.ok_or(GateError::OrgNotFound)?;
        // A new secret is a new credential: not for an organization without API access.
        terms.issues_keys()?;
        actor.may_rotate(&record, state::config(&self.env)?.plans.get(terms.plan))?;
        let actor = &actor.name();
        let secret = self.new_secret()?;
        let rotated = secret::rotate(&secrets, KeyHash::of(&secret), grace_hours, now);
        let old_start = std::mem::replace(&mut record.start, secret.start());
        record.rotated_at = Some(now);
        self.publish(&record, &rotated).await?;
        self.index_secret(&record, &KeyHash::of(&secret)).await?;
        // KV entries of secrets that no longer work are deleted; the guard refuses them anyway.
        self.unpublish(
            secrets
                .iter()
                .filter(|old| !rotated.iter().any(|s| s.hash == old.hash)),
        )
        .await;
        self.exec(
            "UPDATE keys SET secrets = ?, record = ? WHERE id = ?",
            vec![
                to_json(&rotated)?.into(),
                record.to_json().map_err(internal)?.into(),
                id.as_str().into(),
            ],
        )?;
        let details = AuditDetails::key_rotated(grace_hours, &rotated, old_start, &record.start);
        self.record_event(now, AuditKind::KeyRotated, actor, Some(id), &details)?;
        let mut view = KeyView::of(&record, now);
        view.key = Some(secret.expose_secret().to_owned());
        view.previous_key_valid_until = rotated.iter().find_map(|s| s.until);
        respond::json(200, &view)
    }

    /// Revokes one key: the guard first (the next request fails), then KV, then the row.
    pub(super) async fn revoke(
        &self,
        key: Stored,
        actor: &str,
        now: UnixMillis,
    ) -> Result<(), GateError> {
        let Stored {
            mut record,
            secrets,
        } = key;
        record.revoked_at = Some(now);
        self.guard_set(&record, &[]).await?;
        self.unpublish(secrets.iter()).await;
        self.exec(
            "UPDATE keys SET revoked = 1, secrets = '[]', record = ? WHERE id = ?",
            vec![
                record.to_json().map_err(internal)?.into(),
                record.id.as_str().into(),
            ],
        )?;
        self.exec(
            "DELETE FROM key_usage WHERE id = ?",
            vec![record.id.as_str().into()],
        )?;
        self.record_event(
            now,
            AuditKind::KeyRevoked,
            actor,
            Some(&record.id),
            &AuditDetails::None {},
        )
    }

    pub(super) async fn revoke_all(
        &self,
        actor: &str,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let mut revoked = 0;
        for key in self.live_keys()? {
            self.revoke(key, actor, now).await?;
            revoked += 1;
        }
        self.record_event(
            now,
            AuditKind::KeysRevokedAll,
            actor,
            None,
            &AuditDetails::RevokedAll { revoked },
        )?;
        let message = format!("{revoked} API keys revoked");
        respond::json(
            200,
            &RevokedAll {
                success: true,
                revoked,
                message,
            },
        )
    }

    pub(super) fn key_expired(&self, id: &KeyId, now: UnixMillis) -> Result<Response, GateError> {
        if !self.audited(id, AuditKind::KeyExpired, None, &[])? {
            self.record_event(
                now,
                AuditKind::KeyExpired,
                "keygate",
                Some(id),
                &AuditDetails::None {},
            )?;
        }
        respond::json(200, &serde_json::json!({"ok": true}))
    }

    /// The view of a key with its last use and request count, asked of its guard.
    pub(super) async fn view_with_usage(
        &self,
        record: &KeyRecord,
        now: UnixMillis,
    ) -> Result<KeyView, GateError> {
        let guard = rpc::stub(&self.env, state::GUARDS_BINDING, record.id.as_str())?;
        let usage: UsageSummary = rpc::ask(&guard, &GuardCommand::Usage).await?;
        let mut view = KeyView::of(record, now);
        view.last_used_at = usage
            .last_used_at
            .as_deref()
            .and_then(UnixMillis::parse_rfc3339);
        view.requests_total = usage.requests_total;
        Ok(view)
    }

    /// A page of live keys. Filters and order read the usage the guards last reported (at
    /// most a minute old, `OrgNotice::Used`); the page then shows each key's exact usage, asked
    /// of its guard (in parallel).
    pub(super) async fn list_keys(
        &self,
        query: &KeyQuery,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let rows: Vec<ListedRow> = self.query(
            "SELECT k.seq, k.secrets, k.record, u.last_used_at, u.requests
             FROM keys k LEFT JOIN key_usage u ON u.id = k.id WHERE k.revoked = 0",
            vec![],
        )?;
        let stored = rows
            .iter()
            .map(|row| Ok((row, decode(&row.secrets, &row.record)?)))
            .collect::<Result<Vec<_>, GateError>>()?;
        let listed = stored
            .iter()
            .map(|(row, key)| Listed {
                record: &key.record,
                secrets: &key.secrets,
                seq: row.seq as u64,
                last_used_at: row.last_used_at.map(|t| UnixMillis(t as u64)),
                requests: row.requests.unwrap_or(0) as u64,
            })
            .collect();
        let (page, next_cursor) = query.select(listed, now);
        let keys = join_all(page.iter().map(|k| self.view_with_usage(k.record, now)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        respond::json(
            200,
            &Page {
                items: KeyList { keys },
                next_cursor,
            },
        )
    }
}
