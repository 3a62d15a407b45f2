//! Key events and the alarm: each key's notices, the events a change sends, the due work.

use super::*;

impl OrgCatalog {
    pub(super) fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { sql: &self.sql }
    }

    /// After a key changed: its notices follow its new expiry and rotation grace (none once
    /// revoked), and a revoke or disable goes out as an event.
    pub(super) fn after_key_event(
        &self,
        kind: AuditKind,
        id: &KeyId,
        now: UnixMillis,
    ) -> Result<(), GateError> {
        let event = match kind {
            AuditKind::KeyRevoked => Some(EventType::KeyRevoked),
            AuditKind::KeyDisabled => Some(EventType::KeyDisabled),
            AuditKind::KeyCreated
            | AuditKind::KeyUpdated
            | AuditKind::KeyEnabled
            | AuditKind::KeyRotated => None,
            _ => return Ok(()),
        };
        let rows: Vec<KeyRow> = self.query(
            "SELECT secrets, record FROM keys WHERE id = ?",
            vec![id.as_str().into()],
        )?;
        let Some(stored) = rows.into_iter().next().map(decode_key).transpose()? else {
            return Ok(());
        };
        let record = &stored.record;
        let notices = if record.revoked_at.is_some() {
            Vec::new()
        } else {
            let grace_until = stored.secrets.iter().filter_map(|s| s.until).max();
            notices_ahead(record.expires_at, grace_until, now)
        };
        let webhooks = self.webhooks();
        webhooks.schedule(id, &notices, now)?;
        if let Some(event) = event {
            webhooks.enqueue(event, &key_data(record, None), now, None)?;
        }
        Ok(())
    }

    /// The alarm's work: due notices become events (and audit entries), due deliveries are
    /// tried, and the alarm is set for what is due next.
    pub(super) async fn webhook_alarm(&self, now: UnixMillis) -> Result<(), GateError> {
        let webhooks = self.webhooks();
        {
            let _writer = self.writer.lock().await;
            for (id, notice) in webhooks.take_due_notices(now)? {
                let Some(stored) = self.find_live_key(&id)? else {
                    continue;
                };
                webhooks.enqueue(
                    notice.event(),
                    &key_data(&stored.record, Some(notice)),
                    now,
                    None,
                )?;
                match notice {
                    Notice::Expired { .. } => {
                        self.key_expired(&id, now)?;
                    }
                    Notice::Expiring { days, expires_at } => self.record_event(
                        now,
                        AuditKind::KeyExpiring,
                        "keygate",
                        Some(&id),
                        &AuditDetails::KeyExpiring {
                            days,
                            expires_at: expires_at.to_string(),
                        },
                    )?,
                    Notice::RotationGraceEnded { until } => self.record_event(
                        now,
                        AuditKind::KeyRotationGraceEnded,
                        "keygate",
                        Some(&id),
                        &AuditDetails::GraceEnded {
                            until: until.to_string(),
                        },
                    )?,
                }
            }
        }
        let delays = state::config(&self.env)?.webhook_retry_delays.clone();
        for (webhook_id, event_id) in webhooks.deliver_due(now, &delays).await? {
            self.record_event(
                clock::now(),
                AuditKind::WebhookFailing,
                "keygate",
                None,
                &AuditDetails::WebhookFailing {
                    event_id,
                    webhook_id,
                },
            )?;
        }
        webhooks.rearm(&self.storage).await
    }

    pub(super) fn audit(&self, q: &AuditQuery) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let text = |v: Option<String>| v.map_or(SqlStorageValue::Null, SqlStorageValue::from);
        let rows: Vec<AuditRow> = self.query(
            "SELECT seq, at, type, actor, key_id, details FROM audit
             WHERE seq < ?1 AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR key_id = ?3)
               AND at >= ?4 AND at < ?5
             ORDER BY seq DESC LIMIT ?6",
            vec![
                q.page.below().into(),
                text(q.kind.map(|k| k.as_str().to_owned())),
                text(q.key_id.as_ref().map(|k| k.as_str().to_owned())),
                q.since.map_or(0, |t| t.0 as i64).into(),
                q.until.map_or(i64::MAX, |t| t.0 as i64).into(),
                q.page.rows_to_fetch().into(),
            ],
        )?;
        let (rows, next_cursor) = q.page.cut(rows, |row| row.seq);
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            events.push(AuditEvent {
                seq: row.seq as u64,
                at: UnixMillis(row.at as u64),
                kind: row.kind.parse()?,
                actor: row.actor,
                key_id: row.key_id.as_deref().and_then(KeyId::parse),
                details: serde_json::value::RawValue::from_string(row.details).map_err(internal)?,
            });
        }
        respond::json(
            200,
            &Page {
                items: AuditList { events },
                next_cursor,
            },
        )
    }

    /// A fresh secret under the deployment's current prefix.
    pub(super) fn new_secret(&self) -> Result<ApiKey, GateError> {
        ApiKey::generate(&state::config(&self.env)?.key_prefix).map_err(internal)
    }
}
