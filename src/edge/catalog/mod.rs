//! `OrgCatalog`: one SQLite-backed Durable Object per organization, the source of truth for
//! its plan, keys and audit log. It writes each key's guard (the verification authority) and
//! the KV records the verification path reads.
//!
//! Mutations run one at a time (an async mutex held across their awaits), so the guard, KV and
//! SQL always receive the same sequence of states. Within a mutation the order is: everything
//! that can fail (validation, limits, guard, KV) first, then the SQL rows and the audit event
//! in one synchronous section, so a failed request leaves no half-written key.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::lock::Mutex;
use serde::{Deserialize, Serialize};
use worker::{
    DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State, Storage,
    durable_object,
};

use super::respond::{self, internal};
use super::sql;
use super::webhooks::{self, Webhooks};
use super::{clock, directory, rpc, state};
use crate::domain::authz::resource::{Reach, Registration, ResourceRef, reach};
use crate::domain::key::secret::{self, Secret};
use crate::domain::leak::{self, FoundSecret, LeakAction, OnLeak, Owner};
use crate::domain::limits::usage::UsageSummary;
use crate::domain::manage::actor::Actor;
use crate::domain::manage::audit::{AuditEvent, AuditKind, AuditQuery};
use crate::domain::manage::body::{Assigned, KeyPatch, KeyView, NewKey, OrgView, PutOrg};
use crate::domain::manage::details::{self, AuditDetails};
use crate::domain::manage::listing::{KeyQuery, Listed, ResourcePage};
use crate::domain::manage::org::{OrgPut, OrgTerms};
use crate::domain::manage::registry::{RegistryPut, ResourceView};
use crate::domain::protocol::{
    DirectoryCommand, GuardCommand, OrgChange, OrgCommand, OrgNotice, OrgQuery,
};
use crate::domain::webhook::{EventType, Notice, SUCCESS_EVERY_MS, WebhookCommand, notices_ahead};
use crate::domain::{ApiKey, GateError, KeyHash, KeyId, KeyRecord, OrgId, UnixMillis};

mod alarm;
mod audit;
mod keys;
mod leaks;
mod org;
mod publish;
mod resources;

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
CREATE TABLE IF NOT EXISTS key_usage (
  id TEXT PRIMARY KEY, last_used_at INTEGER, requests INTEGER NOT NULL) WITHOUT ROWID;
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
            .and_then(|_| sql.exec(resources::SCHEMA, None))
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
    secrets: String,
    record: String,
}

/// A live key with the usage its guard last reported.
#[derive(Deserialize)]
struct ListedRow {
    seq: i64,
    secrets: String,
    record: String,
    last_used_at: Option<i64>,
    requests: Option<i64>,
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
struct Page<T> {
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
                let org = change.org().clone();
                let answer = self.change(change, now).await;
                // A change may have moved what is due (a new expiry, a revoke).
                self.webhooks().rearm(&self.storage).await?;
                if answer.is_ok() {
                    self.send_view(&org).await;
                }
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
                // Only a test queues a delivery; reads and edits leave the alarm as it is.
                let queues = matches!(request.command, WebhookCommand::Test(_));
                let (answer, endpoint) = webhooks::handle(&self.webhooks(), request.command, now)?;
                if let (Some(kind), Some(endpoint)) = (kind, endpoint) {
                    let details = AuditDetails::Webhook {
                        url: endpoint.url,
                        webhook_id: endpoint.id,
                    };
                    self.record_event(now, kind, &request.actor.name(), None, &details)?;
                }
                if queues {
                    self.webhooks().rearm(&self.storage).await?;
                }
                Ok(answer)
            }
        }
    }

    async fn read(&self, query: OrgQuery, now: UnixMillis) -> Result<Response, GateError> {
        // An unknown organization says so, whatever was asked of it.
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
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
            OrgQuery::GetResource { resource, .. } => self.get_resource(&resource),
            OrgQuery::ListResources { kind, page, .. } => self.list_resources(&kind, &page),
            OrgQuery::KeyUsage { id, series, .. } => {
                self.live_key(&id)?;
                let guard = rpc::stub(&self.env, state::GUARDS_BINDING, id.as_str())?;
                let command = series.map_or(GuardCommand::Usage, GuardCommand::UsageSeries);
                rpc::send(&guard, &command, None).await
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
            OrgChange::PutResource {
                resource,
                parent,
                actor,
                ..
            } => self.put_resource(resource, parent, &actor, now).await,
            OrgChange::DeleteResource {
                resource, actor, ..
            } => self.delete_resource(resource, &actor, now).await,
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
                let since = UnixMillis(now.0.saturating_sub(u64::from(window_seconds) * 1000));
                let window_field = [("window", window.as_str())];
                if self.audited(&id, AuditKind::KeyRateLimited, Some(since), &window_field)? {
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
                if let Some(stored) = self.find_live_key(&id)? {
                    let mut data = key_data(&stored.record, None);
                    data["window"] = serde_json::to_value(&details).map_err(internal)?;
                    self.webhooks()
                        .enqueue(EventType::KeyRateLimited, &data, now, None)?;
                }
                respond::json(200, &serde_json::json!({"ok": true}))
            }
            OrgNotice::Used {
                id,
                last_used_at,
                requests_total,
                ..
            } => {
                self.exec(
                    "INSERT OR REPLACE INTO key_usage (id, last_used_at, requests) VALUES (?, ?, ?)",
                    vec![
                        id.as_str().into(),
                        last_used_at.map_or(SqlStorageValue::Null, ms),
                        SqlStorageValue::Integer(requests_total as i64),
                    ],
                )?;
                respond::json(200, &serde_json::json!({"ok": true}))
            }
            OrgNotice::AuthSucceeded { id, country, .. } => {
                // The guard reports once an hour, but forgets when it restarts: the log decides.
                let since = UnixMillis(now.0.saturating_sub(SUCCESS_EVERY_MS));
                if !self.audited(&id, AuditKind::AuthSucceeded, Some(since), &[])? {
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
    decode(&row.secrets, &row.record)
}

fn decode(secrets: &str, record: &str) -> Result<Stored, GateError> {
    Ok(Stored {
        record: KeyRecord::from_json(record).map_err(internal)?,
        secrets: serde_json::from_str(secrets).map_err(internal)?,
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

/// What a key event tells a receiver about the key (never its secret); `owner` is whom to
/// notify, as Z Shield tells a key's creator that it expires.
fn key_data(record: &KeyRecord, notice: Option<Notice>) -> serde_json::Value {
    let mut data = serde_json::json!({
        "key_id": record.id.as_str(),
        "name": record.name,
        "start": record.start,
        "expires_at": record.expires_at.map(|t| t.to_string()),
        "owner": record.owner.as_ref().map(|o| o.as_str()),
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
