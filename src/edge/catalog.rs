//! `OrgCatalog`: one SQLite-backed Durable Object per organization, the source of truth for
//! its plan, keys and audit log. It writes each key's guard (the verification authority) and
//! the KV records the verification path reads.
//!
//! Mutations run one at a time (an async mutex held across their awaits), so the guard, KV and
//! SQL always receive the same sequence of states. Within a mutation the order is: everything
//! that can fail (validation, limits, guard, KV) first, then the SQL rows and the audit event
//! in one synchronous section, so a failed request leaves no half-written key.

use std::time::Duration;

use futures_util::lock::Mutex;
use serde::{Deserialize, Serialize};
use worker::{
    DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State, Storage,
    durable_object,
};

use super::respond::{self, internal};
use super::sql;
use super::webhooks::{self, Webhooks};
use super::{clock, rpc, state};
use crate::domain::key::secret::{self, Secret};
use crate::domain::leak::{self, FoundSecret, LeakAction, OnLeak, Owner};
use crate::domain::limits::usage::UsageSummary;
use crate::domain::manage::actor::Actor;
use crate::domain::manage::audit::{AuditEvent, AuditKind, AuditQuery};
use crate::domain::manage::body::{Assigned, KeyPatch, KeyView, NewKey, OrgView, PutOrg};
use crate::domain::manage::details::{self, AuditDetails};
use crate::domain::manage::org::{OrgPut, OrgTerms};
use crate::domain::protocol::{GuardCommand, OrgChange, OrgCommand, OrgNotice, OrgQuery};
use crate::domain::webhook::{EventType, Notice, SUCCESS_EVERY_MS, notices_ahead};
use crate::domain::{ApiKey, GateError, KeyHash, KeyId, KeyRecord, OrgId, UnixMillis};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS org (
  id TEXT PRIMARY KEY, plan TEXT NOT NULL, api_access INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
  revoked INTEGER NOT NULL DEFAULT 0, secrets TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, type TEXT NOT NULL,
  actor TEXT NOT NULL, key_id TEXT, details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_key ON audit (key_id, seq);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
";

#[durable_object]
pub struct OrgCatalog {
    sql: SqlStorage,
    /// Holds the one alarm of the organization's webhooks.
    storage: Storage,
    /// The outcome of creating the tables, reported by every command if it failed.
    schema: Result<(), String>,
    env: Env,
    writer: Mutex<()>,
}

impl DurableObject for OrgCatalog {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        // Kept, not discarded: every command reports it rather than failing on a missing table.
        let schema = sql
            .exec(SCHEMA, None)
            .and_then(|_| sql.exec(webhooks::SCHEMA, None))
            .map(drop)
            .map_err(|e| format!("SQL schema: {e}"));
        OrgCatalog {
            sql,
            storage: state.storage(),
            schema,
            env,
            writer: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let problem_json = respond::wants_problem_json(&req);
        let outcome = match rpc::receive::<OrgCommand>(&mut req).await {
            Ok(command) => self.run(command).await,
            Err(e) => Err(e),
        };
        Ok(outcome.unwrap_or_else(|e| respond::error(&e, problem_json)))
    }

    /// Sends the notices and deliveries that are due, then sets the next alarm.
    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(e) = self.webhook_alarm(clock::now()).await {
            worker::console_log!(
                "{}",
                serde_json::json!({"error": "webhook_alarm", "detail": e.log_detail()})
            );
            // Tried again in a minute rather than never: the schedule is still in SQL.
            let _ = self.storage.set_alarm(Duration::from_secs(60)).await;
        }
        Response::empty()
    }
}

#[derive(Deserialize)]
struct OrgRow {
    plan: String,
    api_access: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(Deserialize)]
struct KeyRow {
    seq: i64,
    secrets: String,
    record: String,
}

#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

#[derive(Deserialize)]
struct AuditRow {
    seq: i64,
    at: i64,
    #[serde(rename = "type")]
    kind: String,
    actor: String,
    key_id: Option<String>,
    details: String,
}

/// A live key as stored: its record and accepted secrets.
struct Stored {
    record: KeyRecord,
    secrets: Vec<Secret>,
}

#[derive(Serialize)]
struct Listed<T> {
    #[serde(flatten)]
    items: T,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct KeyList {
    keys: Vec<KeyView>,
}

#[derive(Serialize)]
struct AuditList {
    events: Vec<AuditEvent>,
}

#[derive(Serialize)]
struct Revoked {
    success: bool,
    message: &'static str,
}

#[derive(Serialize)]
struct RevokedAll {
    success: bool,
    revoked: u32,
    message: String,
}

impl OrgCatalog {
    async fn run(&self, command: OrgCommand) -> Result<Response, GateError> {
        self.schema.clone().map_err(GateError::Internal)?;
        let now = clock::now();
        match command {
            OrgCommand::Query(query) => self.read(query, now).await,
            // Changes and notices run one at a time: the guard, KV and SQL see one sequence.
            OrgCommand::Change(change) => {
                let _writer = self.writer.lock().await;
                let answer = self.change(change, now).await;
                // A change may have moved what is due (a new expiry, a revoke).
                self.webhooks().rearm(&self.storage).await?;
                answer
            }
            OrgCommand::Notice(notice) => {
                let _writer = self.writer.lock().await;
                let answer = self.notice(notice, now);
                self.webhooks().rearm(&self.storage).await?;
                answer
            }
            OrgCommand::Webhook(request) => {
                let _writer = self.writer.lock().await;
                self.org_row()?.ok_or(GateError::OrgNotFound)?;
                let kind = request.command.audit_kind();
                let (answer, endpoint) = webhooks::handle(&self.webhooks(), request.command, now)?;
                if let (Some(kind), Some(endpoint)) = (kind, endpoint) {
                    let details = AuditDetails::Webhook {
                        url: endpoint.url,
                        webhook_id: endpoint.id,
                    };
                    self.record_event(now, kind, &request.actor.name(), None, &details)?;
                }
                self.webhooks().rearm(&self.storage).await?;
                Ok(answer)
            }
        }
    }

    async fn read(&self, query: OrgQuery, now: UnixMillis) -> Result<Response, GateError> {
        match query {
            OrgQuery::GetOrg { org } => {
                respond::json(200, &self.org_view(&org)?.ok_or(GateError::OrgNotFound)?)
            }
            OrgQuery::ListKeys { query, .. } => self.list_keys(&query, now).await,
            OrgQuery::GetKey { id, .. } => {
                let view = self
                    .view_with_usage(&self.live_key(&id)?.record, now)
                    .await?;
                respond::json(200, &view)
            }
            OrgQuery::Audit { query, .. } => self.audit(&query),
            OrgQuery::KeyUsage { id, .. } => {
                self.live_key(&id)?;
                let guard = rpc::stub(&self.env, state::GUARDS_BINDING, id.as_str())?;
                rpc::send(&guard, &GuardCommand::Usage, None).await
            }
        }
    }

    async fn change(&self, change: OrgChange, now: UnixMillis) -> Result<Response, GateError> {
        match change {
            OrgChange::PutOrg { org, change, actor } => {
                self.put_org(&org, change, &actor.name(), now).await
            }
            OrgChange::CreateKey { org, key, actor } => {
                self.create_key(&org, key, &actor, now).await
            }
            OrgChange::KeyLeaked {
                id,
                hash,
                url,
                source,
                ..
            } => self.key_leaked(&id, &hash, url, source, now).await,
            OrgChange::UpdateKey {
                id, patch, actor, ..
            } => self.update_key(&id, patch, &actor, now).await,
            OrgChange::RevokeKey { id, actor, .. } => {
                let key = self.live_key(&id)?;
                self.revoke(key, &actor.name(), now).await?;
                respond::json(
                    200,
                    &Revoked {
                        success: true,
                        message: "API key revoked successfully",
                    },
                )
            }
            OrgChange::RotateKey {
                id,
                grace_hours,
                actor,
                ..
            } => self.rotate_key(&id, grace_hours, &actor, now).await,
            OrgChange::RevokeAll { actor, .. } => self.revoke_all(&actor.name(), now).await,
        }
    }

    fn notice(&self, notice: OrgNotice, now: UnixMillis) -> Result<Response, GateError> {
        match notice {
            OrgNotice::KeyExpired { id, .. } => self.key_expired(&id, now),
            OrgNotice::AuthFailed {
                id, reason, start, ..
            } => {
                let details = AuditDetails::AuthFailed { reason, start };
                self.record_event(now, AuditKind::AuthFailed, "keygate", Some(&id), &details)?;
                respond::json(200, &serde_json::json!({"ok": true}))
            }
            OrgNotice::RateLimited {
                id,
                window,
                limit,
                window_seconds,
                ..
            } => {
                // The guard reports the first refusal of a window, but forgets when it
                // restarts: the log decides.
                let recent: Vec<CountRow> = self.query(
                    "SELECT COUNT(*) AS n FROM audit WHERE key_id = ? AND type = 'key_rate_limited'
                       AND json_extract(details, '$.window') = ? AND at > ?",
                    vec![
                        id.as_str().into(),
                        window.as_str().into(),
                        ms(UnixMillis(
                            now.0.saturating_sub(u64::from(window_seconds) * 1000),
                        )),
                    ],
                )?;
                if recent.first().is_some_and(|r| r.n > 0) {
                    return respond::json(200, &serde_json::json!({"ok": true}));
                }
                let details = AuditDetails::RateLimited {
                    limit,
                    window,
                    window_seconds,
                };
                self.record_event(
                    now,
                    AuditKind::KeyRateLimited,
                    "keygate",
                    Some(&id),
                    &details,
                )?;
                let rows: Vec<KeyRow> = self.query(
                    "SELECT seq, secrets, record FROM keys WHERE id = ? AND revoked = 0",
                    vec![id.as_str().into()],
                )?;
                if let Some(stored) = rows.into_iter().next().map(decode_key).transpose()? {
                    let mut data = key_data(&stored.record, None);
                    data["window"] = serde_json::to_value(&details).map_err(internal)?;
                    self.webhooks()
                        .enqueue(EventType::KeyRateLimited, &data, now, None)?;
                }
                respond::json(200, &serde_json::json!({"ok": true}))
            }
            OrgNotice::AuthSucceeded { id, country, .. } => {
                // The guard reports once an hour, but forgets when it restarts: the log decides.
                let recent: Vec<CountRow> = self.query(
                    "SELECT COUNT(*) AS n FROM audit WHERE key_id = ? AND type = 'auth_succeeded'
                       AND at > ?",
                    vec![
                        id.as_str().into(),
                        ms(UnixMillis(now.0.saturating_sub(SUCCESS_EVERY_MS))),
                    ],
                )?;
                if recent.first().is_none_or(|r| r.n == 0) {
                    let details = AuditDetails::AuthSucceeded { country };
                    self.record_event(
                        now,
                        AuditKind::AuthSucceeded,
                        "keygate",
                        Some(&id),
                        &details,
                    )?;
                }
                respond::json(200, &serde_json::json!({"ok": true}))
            }
        }
    }

    // --- organization ---

    fn org_row(&self) -> Result<Option<OrgRow>, GateError> {
        let rows: Vec<OrgRow> = self.query(
            "SELECT plan, api_access, created_at, updated_at FROM org",
            vec![],
        )?;
        Ok(rows.into_iter().next())
    }

    /// The organization's plan and API access, if it exists.
    fn org_terms(&self) -> Result<Option<OrgTerms>, GateError> {
        self.org_row()?.as_ref().map(terms_of).transpose()
    }

    fn org_view(&self, org: &OrgId) -> Result<Option<OrgView>, GateError> {
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
            on_leak: self.on_leak()?,
            created_at: UnixMillis(row.created_at as u64),
            updated_at: UnixMillis(row.updated_at as u64),
        }))
    }

    async fn put_org(
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
        match put {
            OrgPut::Create(_) => self.exec(
                "INSERT INTO org (id, plan, api_access, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                vec![org.as_str().into(), plan, access, ms(now), ms(now)],
            )?,
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

    // --- keys ---

    fn live_count(&self) -> Result<u32, GateError> {
        let rows: Vec<CountRow> =
            self.query("SELECT COUNT(*) AS n FROM keys WHERE revoked = 0", vec![])?;
        Ok(rows.first().map_or(0, |r| r.n as u32))
    }

    /// Every live key, oldest first.
    fn live_keys(&self) -> Result<Vec<Stored>, GateError> {
        let rows: Vec<KeyRow> = self.query(
            "SELECT seq, secrets, record FROM keys WHERE revoked = 0 ORDER BY seq",
            vec![],
        )?;
        rows.into_iter().map(decode_key).collect()
    }

    /// Saves a changed record of a live key.
    fn save_record(&self, record: &KeyRecord) -> Result<(), GateError> {
        self.exec(
            "UPDATE keys SET record = ? WHERE id = ?",
            vec![
                record.to_json().map_err(internal)?.into(),
                record.id.as_str().into(),
            ],
        )
    }

    fn live_key(&self, id: &KeyId) -> Result<Stored, GateError> {
        let rows: Vec<KeyRow> = self.query(
            "SELECT seq, secrets, record FROM keys WHERE id = ? AND revoked = 0",
            vec![id.as_str().into()],
        )?;
        rows.into_iter()
            .next()
            .map(decode_key)
            .transpose()?
            .ok_or(GateError::KeyNotFound)
    }

    /// Gives every live key the organization's new plan limits and API access, guard and KV
    /// first, so the change acts on each key's next request.
    async fn republish_org(&self, terms: OrgTerms) -> Result<(), GateError> {
        for Stored {
            mut record,
            secrets,
        } in self.live_keys()?
        {
            terms.give_to(&mut record);
            self.publish(&record, &secrets).await?;
            self.save_record(&record)?;
        }
        Ok(())
    }

    async fn create_key(
        &self,
        org: &OrgId,
        new: NewKey,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let terms = self.org_terms()?.ok_or(GateError::OrgNotFound)?;
        actor.may_create(&new, terms.plan, state::config(&self.env)?.revocation_bound)?;
        let actor = &actor.name();
        // Checked under the writer lock, so concurrent creates cannot both pass it.
        terms.plan.admits_another_key(self.live_count()?)?;
        let secret = self.new_secret()?;
        let assigned = Assigned {
            id: KeyId::generate().map_err(internal)?,
            org: org.clone(),
            start: secret.start(),
            created_by: actor.to_owned(),
            now,
        };
        let record = new.into_record(assigned, terms);
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
            actor,
            Some(&record.id),
            &details,
        )?;
        let mut view = KeyView::of(&record, now);
        view.key = Some(secret.expose_secret().to_owned());
        respond::json(201, &view)
    }

    async fn update_key(
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
        let plan = self.org_terms()?.ok_or(GateError::OrgNotFound)?.plan;
        let deployment = state::config(&self.env)?.revocation_bound;
        actor.may_update(&patch, &record, plan, deployment)?;
        let actor = &actor.name();
        let was_enabled = record.enabled;
        let changed = patch.apply(&mut record);
        if changed.is_empty() {
            return respond::json(200, &KeyView::of(&record, now));
        }
        record.updated_at = Some(now);
        self.publish(&record, &secrets).await?;
        self.save_record(&record)?;
        for (kind, details) in details::update_events(changed, was_enabled, record.enabled) {
            self.record_event(now, kind, actor, Some(id), &details)?;
        }
        respond::json(200, &KeyView::of(&record, now))
    }

    async fn rotate_key(
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
        let plan = self.org_terms()?.ok_or(GateError::OrgNotFound)?.plan;
        actor.may_rotate(&record, plan)?;
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
    async fn revoke(&self, key: Stored, actor: &str, now: UnixMillis) -> Result<(), GateError> {
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
        self.record_event(
            now,
            AuditKind::KeyRevoked,
            actor,
            Some(&record.id),
            &AuditDetails::None {},
        )
    }

    async fn revoke_all(&self, actor: &str, now: UnixMillis) -> Result<Response, GateError> {
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

    fn key_expired(&self, id: &KeyId, now: UnixMillis) -> Result<Response, GateError> {
        let seen: Vec<CountRow> = self.query(
            "SELECT COUNT(*) AS n FROM audit WHERE key_id = ? AND type = 'key_expired'",
            vec![id.as_str().into()],
        )?;
        if seen.first().is_none_or(|r| r.n == 0) {
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
    async fn view_with_usage(
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

    async fn list_keys(&self, query: &AuditQuery, now: UnixMillis) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let rows: Vec<KeyRow> = self.query(
            "SELECT seq, secrets, record FROM keys WHERE revoked = 0 AND seq < ? ORDER BY seq DESC LIMIT ?",
            vec![query.page.below().into(), query.page.rows_to_fetch().into()],
        )?;
        let (rows, next_cursor) = query.page.cut(rows, |row| row.seq);
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            keys.push(self.view_with_usage(&decode_key(row)?.record, now).await?);
        }
        respond::json(
            200,
            &Listed {
                items: KeyList { keys },
                next_cursor,
            },
        )
    }

    // --- audit ---

    fn record_event(
        &self,
        at: UnixMillis,
        kind: AuditKind,
        actor: &str,
        key_id: Option<&KeyId>,
        details: &AuditDetails,
    ) -> Result<(), GateError> {
        self.exec(
            "INSERT INTO audit (at, type, actor, key_id, details) VALUES (?, ?, ?, ?, ?)",
            vec![
                ms(at),
                kind.as_str().into(),
                actor.into(),
                key_id.map_or(SqlStorageValue::Null, |k| k.as_str().into()),
                details.to_json().map_err(internal)?.into(),
            ],
        )?;
        match key_id {
            Some(id) => self.after_key_event(kind, id, at),
            None => Ok(()),
        }
    }

    // --- leaks ---

    /// The organization's `on_leak` setting.
    fn on_leak(&self) -> Result<OnLeak, GateError> {
        #[derive(Deserialize)]
        struct Setting {
            value: String,
        }
        let rows: Vec<Setting> =
            self.query("SELECT value FROM settings WHERE name = 'on_leak'", vec![])?;
        rows.first().map_or(Ok(OnLeak::default()), |r| {
            r.value.parse().map_err(GateError::Internal)
        })
    }

    /// Indexes a new secret of `record` by its hash, for leak reports: kept after a revoke,
    /// so a report can still tell the key is keygate's.
    async fn index_secret(&self, record: &KeyRecord, hash: &KeyHash) -> Result<(), GateError> {
        let owner = Owner {
            org: record.org.clone(),
            id: record.id.clone(),
        };
        state::keys(&self.env)?
            .put(&leak::index_key(hash), to_json(&owner)?)
            .map_err(internal)?
            .execute()
            .await
            .map_err(|e| GateError::Internal(format!("KV put: {e}")))
    }

    /// One of the keys was found at `url`: the `on_leak` setting acts on it once (a second
    /// report of the same place changes nothing), and each report is audited and sent out.
    async fn key_leaked(
        &self,
        id: &KeyId,
        hash: &KeyHash,
        url: String,
        source: String,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let ok = || respond::json(200, &serde_json::json!({"ok": true}));
        let seen: Vec<CountRow> = self.query(
            "SELECT COUNT(*) AS n FROM audit WHERE key_id = ? AND type = 'key_leaked'
               AND json_extract(details, '$.url') = ? AND json_extract(details, '$.source') = ?",
            vec![
                id.as_str().into(),
                url.as_str().into(),
                source.as_str().into(),
            ],
        )?;
        if seen.first().is_some_and(|r| r.n > 0) {
            return ok();
        }
        let rows: Vec<KeyRow> = self.query(
            "SELECT seq, secrets, record FROM keys WHERE id = ? AND revoked = 0",
            vec![id.as_str().into()],
        )?;
        let live = rows.into_iter().next().map(decode_key).transpose()?;
        // The secret found decides, not the key: an old secret must not take the current one
        // down with it (rotating is how a leak is answered).
        let found = live.as_ref().and_then(|key| {
            key.secrets
                .iter()
                .find(|s| &s.hash == hash && secret::accepts(std::slice::from_ref(s), hash, now))
        });
        let secret = match found {
            Some(s) if s.until.is_some() => FoundSecret::Previous,
            Some(_) => FoundSecret::Current,
            None => FoundSecret::Inactive,
        };
        let enabled = live.as_ref().is_some_and(|key| key.record.enabled);
        let action = LeakAction::of(secret, enabled, self.on_leak()?);
        let details = AuditDetails::KeyLeaked {
            action: action.as_str(),
            secret: secret.as_str(),
            source: source.clone(),
            url: url.clone(),
        };
        self.record_event(now, AuditKind::KeyLeaked, "keygate", Some(id), &details)?;
        if let Some(key) = live {
            let mut data = key_data(&key.record, None);
            data["found"] = serde_json::json!({
                "action": action.as_str(), "secret": secret.as_str(), "source": source, "url": url
            });
            self.webhooks()
                .enqueue(EventType::KeyLeaked, &data, now, None)?;
            match action {
                LeakAction::Revoked => self.revoke(key, "keygate", now).await?,
                LeakAction::Disabled => self.disable(key, now).await?,
                LeakAction::Retired => self.retire(key, hash).await?,
                LeakAction::Notified | LeakAction::None => {}
            }
        }
        ok()
    }

    /// Ends the grace period of the old secret `hash` now; the current secret keeps working.
    async fn retire(&self, key: Stored, hash: &KeyHash) -> Result<(), GateError> {
        let (gone, kept): (Vec<Secret>, Vec<Secret>) =
            key.secrets.into_iter().partition(|s| &s.hash == hash);
        self.guard_set(&key.record, &kept).await?;
        self.unpublish(gone.iter()).await;
        self.exec(
            "UPDATE keys SET secrets = ? WHERE id = ?",
            vec![to_json(&kept)?.into(), key.record.id.as_str().into()],
        )
    }

    /// Turns a live key off, as an admin's `enabled: false` would, on keygate's behalf.
    async fn disable(&self, key: Stored, now: UnixMillis) -> Result<(), GateError> {
        let Stored {
            mut record,
            secrets,
        } = key;
        record.enabled = false;
        self.publish(&record, &secrets).await?;
        self.save_record(&record)?;
        self.record_event(
            now,
            AuditKind::KeyDisabled,
            "keygate",
            Some(&record.id),
            &AuditDetails::None {},
        )
    }

    // --- webhooks ---

    fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { sql: &self.sql }
    }

    /// After a key changed: its notices follow its new expiry and rotation grace (none once
    /// revoked), and a revoke or disable goes out as an event.
    fn after_key_event(
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
            "SELECT seq, secrets, record FROM keys WHERE id = ?",
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
    async fn webhook_alarm(&self, now: UnixMillis) -> Result<(), GateError> {
        let webhooks = self.webhooks();
        {
            let _writer = self.writer.lock().await;
            for (id, notice) in webhooks.take_due_notices(now)? {
                let rows: Vec<KeyRow> = self.query(
                    "SELECT seq, secrets, record FROM keys WHERE id = ? AND revoked = 0",
                    vec![id.as_str().into()],
                )?;
                let Some(stored) = rows.into_iter().next().map(decode_key).transpose()? else {
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

    fn audit(&self, q: &AuditQuery) -> Result<Response, GateError> {
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
            &Listed {
                items: AuditList { events },
                next_cursor,
            },
        )
    }

    /// A fresh secret under the deployment's current prefix.
    fn new_secret(&self) -> Result<ApiKey, GateError> {
        ApiKey::generate(&state::config(&self.env)?.key_prefix).map_err(internal)
    }

    // --- publishing to the guard and KV ---

    async fn guard_set(&self, record: &KeyRecord, secrets: &[Secret]) -> Result<(), GateError> {
        let guard = rpc::stub(&self.env, state::GUARDS_BINDING, record.id.as_str())?;
        let command = GuardCommand::Set {
            record: Box::new(record.clone()),
            secrets: secrets.to_vec(),
        };
        rpc::ask::<_, serde::de::IgnoredAny>(&guard, &command)
            .await
            .map(drop)
    }

    /// Makes the record authoritative (guard) and findable by each secret's hash (KV). A
    /// retiring secret's KV entry expires with its grace period.
    async fn publish(&self, record: &KeyRecord, secrets: &[Secret]) -> Result<(), GateError> {
        self.guard_set(record, secrets).await?;
        let kv = state::keys(&self.env)?;
        let now = clock::now();
        for secret in secrets {
            let mut put = kv
                .put(
                    &secret.hash.storage_key(),
                    record.to_json().map_err(internal)?,
                )
                .map_err(internal)?;
            if let Some(until) = secret.until {
                // KV's shortest expiry is 60 s; the guard ends the grace period exactly.
                put = put.expiration_ttl((until.0.saturating_sub(now.0) / 1000).max(60));
            }
            put.execute()
                .await
                .map_err(|e| GateError::Internal(format!("KV put: {e}")))?;
        }
        Ok(())
    }

    /// Deletes KV entries; failures are logged, not fatal: the guard already refuses them.
    async fn unpublish<'a>(&self, secrets: impl Iterator<Item = &'a Secret>) {
        let Ok(kv) = state::keys(&self.env) else {
            return;
        };
        for secret in secrets {
            if let Err(e) = kv.delete(&secret.hash.storage_key()).await {
                worker::console_log!(
                    "{}",
                    serde_json::json!({"error": "kv_delete", "detail": e.to_string()})
                );
            }
        }
    }

    // --- SQL ---

    fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), GateError> {
        sql::exec(&self.sql, query, bindings)
    }

    fn query<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, GateError> {
        sql::rows(&self.sql, query, bindings)
    }
}

fn decode_key(row: KeyRow) -> Result<Stored, GateError> {
    Ok(Stored {
        record: KeyRecord::from_json(&row.record).map_err(internal)?,
        secrets: serde_json::from_str(&row.secrets).map_err(internal)?,
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<String, GateError> {
    serde_json::to_string(value).map_err(internal)
}

fn ms(t: UnixMillis) -> SqlStorageValue {
    SqlStorageValue::Integer(t.0 as i64)
}

fn terms_of(row: &OrgRow) -> Result<OrgTerms, GateError> {
    let plan = row
        .plan
        .parse()
        .map_err(|_| GateError::Internal(format!("stored plan {:?}", row.plan)))?;
    Ok(OrgTerms {
        plan,
        api_access: row.api_access != 0,
    })
}

/// What a key event tells a receiver about the key (never its secret).
fn key_data(record: &KeyRecord, notice: Option<Notice>) -> serde_json::Value {
    let mut data = serde_json::json!({
        "key_id": record.id.as_str(),
        "name": record.name,
        "start": record.start,
        "expires_at": record.expires_at.map(|t| t.to_string()),
    });
    match notice {
        Some(Notice::Expiring { days, .. }) => data["days_left"] = days.into(),
        Some(Notice::RotationGraceEnded { until }) => {
            data["old_secret_until"] = until.to_string().into()
        }
        _ => {}
    }
    data
}
