//! An organization's webhooks inside its `OrgCatalog`: the endpoints, the deliveries still to
//! make and the key notices still ahead, all in the object's SQLite, and one alarm at the
//! earliest due time. The rules (what is due, what a try means, the signature) are the
//! domain's (`domain::webhook`); this file stores, sends and sets the alarm.

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response, SqlStorage,
    SqlStorageValue, Storage,
};

use futures_util::future::{Either, join_all, select};

use super::respond;
use crate::domain::time;
use crate::domain::webhook::{
    Attempt, DeliveryState, EventType, MAX_ENDPOINTS, Notice, Payload, WebhookCommand,
    WebhookEndpoint, WebhookSecret, random_id, sign,
};
use crate::domain::{GateError, KeyId, UnixMillis};

/// The webhook tables, created with the catalog's.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, enabled INTEGER NOT NULL,
  failing INTEGER NOT NULL, secret TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, webhook_id TEXT NOT NULL,
  type TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, due_at INTEGER,
  last_status INTEGER, last_error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due_at);
CREATE INDEX IF NOT EXISTS deliveries_webhook ON deliveries (webhook_id, seq);
CREATE TABLE IF NOT EXISTS notices (
  key_id TEXT NOT NULL, notice TEXT NOT NULL, due_at INTEGER NOT NULL,
  PRIMARY KEY (key_id, notice));
CREATE INDEX IF NOT EXISTS notices_due ON notices (due_at);
";

/// How long an endpoint has to answer one try.
const DELIVERY_TIMEOUT_MS: u64 = 10_000;
/// Deliveries tried per alarm (the rest: at the next one, set at once).
const DELIVERIES_PER_ALARM: i64 = 50;

/// The webhook rows of one catalog.
pub struct Webhooks<'a> {
    pub sql: &'a SqlStorage,
}

#[derive(Deserialize)]
struct EndpointRow {
    id: String,
    url: String,
    events: String,
    enabled: i64,
    failing: i64,
    secret: String,
    created_at: i64,
}

#[derive(Deserialize)]
struct DeliveryRow {
    seq: i64,
    event_id: String,
    webhook_id: String,
    payload: String,
    state: String,
}

#[derive(Deserialize)]
struct NoticeRow {
    key_id: String,
    notice: String,
}

#[derive(Deserialize)]
struct DueRow {
    due: Option<i64>,
}

fn ms(t: UnixMillis) -> SqlStorageValue {
    (t.0 as i64).into()
}

use super::sql::{self, error as sql_error};

fn decode(row: EndpointRow) -> Result<(WebhookEndpoint, WebhookSecret), GateError> {
    let events = serde_json::from_str(&row.events).map_err(sql_error)?;
    let secret = WebhookSecret::parse(&row.secret).map_err(sql_error)?;
    Ok((
        WebhookEndpoint {
            id: row.id,
            url: row.url,
            events,
            enabled: row.enabled != 0,
            failing: row.failing != 0,
            created_at: UnixMillis(row.created_at as u64),
        },
        secret,
    ))
}

impl Webhooks<'_> {
    fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), GateError> {
        sql::exec(self.sql, query, bindings)
    }

    fn query<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, GateError> {
        sql::rows(self.sql, query, bindings)
    }

    /// Every endpoint, oldest first, with its secret.
    pub fn endpoints(&self) -> Result<Vec<(WebhookEndpoint, WebhookSecret)>, GateError> {
        self.query::<EndpointRow>(
            "SELECT id, url, events, enabled, failing, secret, created_at FROM webhooks
             ORDER BY created_at, id",
            vec![],
        )?
        .into_iter()
        .map(decode)
        .collect()
    }

    /// One endpoint and its secret.
    pub fn endpoint(&self, id: &str) -> Result<(WebhookEndpoint, WebhookSecret), GateError> {
        self.query::<EndpointRow>(
            "SELECT id, url, events, enabled, failing, secret, created_at FROM webhooks
             WHERE id = ?",
            vec![id.into()],
        )?
        .into_iter()
        .next()
        .ok_or(GateError::WebhookNotFound)
        .and_then(decode)
    }

    /// Writes `endpoint` with `secret` (insert or replace).
    pub fn save(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &WebhookSecret,
    ) -> Result<(), GateError> {
        self.exec(
            "INSERT OR REPLACE INTO webhooks (id, url, events, enabled, failing, secret, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                endpoint.id.as_str().into(),
                endpoint.url.as_str().into(),
                serde_json::to_string(&endpoint.events)
                    .map_err(sql_error)?
                    .into(),
                i64::from(endpoint.enabled).into(),
                i64::from(endpoint.failing).into(),
                secret.expose().into(),
                ms(endpoint.created_at),
            ],
        )
    }

    /// Removes an endpoint and its pending deliveries.
    pub fn delete(&self, id: &str) -> Result<(), GateError> {
        self.endpoint(id)?;
        self.exec(
            "DELETE FROM deliveries WHERE webhook_id = ?",
            vec![id.into()],
        )?;
        self.exec("DELETE FROM webhooks WHERE id = ?", vec![id.into()])
    }

    /// Queues event `kind` about `data` for every endpoint that wants it (only `only`, when
    /// given), with one event id; returns the id.
    pub fn enqueue(
        &self,
        kind: EventType,
        data: &serde_json::Value,
        now: UnixMillis,
        only: Option<&str>,
    ) -> Result<String, GateError> {
        let event_id = random_id("msg_", 22).map_err(|e| GateError::Internal(e.to_string()))?;
        let data = serde_json::value::to_raw_value(data).map_err(sql_error)?;
        let payload = Payload {
            kind,
            timestamp: now,
            data: &data,
        }
        .to_json();
        let state = DeliveryState::new(now);
        for (endpoint, _) in self.endpoints()? {
            let wanted = only.map_or(endpoint.wants(kind), |id| id == endpoint.id);
            if !wanted {
                continue;
            }
            self.exec(
                "INSERT INTO deliveries (event_id, webhook_id, type, payload, state, due_at,
                   created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    event_id.as_str().into(),
                    endpoint.id.as_str().into(),
                    kind.as_str().into(),
                    payload.as_str().into(),
                    serde_json::to_string(&state).map_err(sql_error)?.into(),
                    ms(now),
                    ms(now),
                    ms(now),
                ],
            )?;
        }
        Ok(event_id)
    }

    /// Replaces the notices of `key` still ahead at `now` with `notices`. Notices already due
    /// stay: a late alarm still sends them (one for a key revoked meanwhile is skipped then).
    pub fn schedule(
        &self,
        key: &KeyId,
        notices: &[Notice],
        now: UnixMillis,
    ) -> Result<(), GateError> {
        self.exec(
            "DELETE FROM notices WHERE key_id = ? AND due_at > ?",
            vec![key.as_str().into(), ms(now)],
        )?;
        for notice in notices {
            self.exec(
                "INSERT OR REPLACE INTO notices (key_id, notice, due_at) VALUES (?, ?, ?)",
                vec![
                    key.as_str().into(),
                    serde_json::to_string(notice).map_err(sql_error)?.into(),
                    ms(notice.due_at()),
                ],
            )?;
        }
        Ok(())
    }

    /// The notices due at `now`, removed from the schedule: each is sent once.
    pub fn take_due_notices(&self, now: UnixMillis) -> Result<Vec<(KeyId, Notice)>, GateError> {
        let rows: Vec<NoticeRow> = self.query(
            "SELECT key_id, notice FROM notices WHERE due_at <= ? ORDER BY due_at",
            vec![ms(now)],
        )?;
        self.exec("DELETE FROM notices WHERE due_at <= ?", vec![ms(now)])?;
        rows.into_iter()
            .filter_map(|row| {
                let key = KeyId::parse(&row.key_id)?;
                Some(serde_json::from_str(&row.notice).map(|n| (key, n)))
            })
            .collect::<Result<_, _>>()
            .map_err(sql_error)
    }

    /// The earliest instant something is due, if anything is.
    pub fn next_due(&self) -> Result<Option<UnixMillis>, GateError> {
        let rows: Vec<DueRow> = self.query(
            "SELECT MIN(due) AS due FROM (
               SELECT MIN(due_at) AS due FROM notices
               UNION ALL SELECT MIN(due_at) AS due FROM deliveries WHERE due_at IS NOT NULL)",
            vec![],
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.due)
            .map(|due| UnixMillis(due.max(0) as u64)))
    }

    /// Sets the object's alarm at the earliest due instant (at once if it is past).
    pub async fn rearm(&self, storage: &Storage) -> Result<(), GateError> {
        if let Some(due) = self.next_due()? {
            // The runtime takes an offset from now, not an instant.
            let wait = due.0.saturating_sub(super::clock::now().0);
            storage
                .set_alarm(std::time::Duration::from_millis(wait))
                .await
                .map_err(|e| GateError::Internal(format!("alarm: {e}")))?;
        }
        Ok(())
    }

    /// Tries the deliveries due at `now`; returns the (endpoint, event) of each delivery just
    /// given up (its endpoint is marked failing).
    pub async fn deliver_due(
        &self,
        now: UnixMillis,
        delays: &[u64],
    ) -> Result<Vec<(String, String)>, GateError> {
        let due: Vec<DeliveryRow> = self.query(
            "SELECT seq, event_id, webhook_id, payload, state FROM deliveries
             WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
            vec![ms(now), DELIVERIES_PER_ALARM.into()],
        )?;
        // Every try at once: one slow endpoint holds up no other (each has its own timeout).
        let mut tries = Vec::new();
        for row in due {
            let state: DeliveryState = serde_json::from_str(&row.state).map_err(sql_error)?;
            let Ok((endpoint, secret)) = self.endpoint(&row.webhook_id) else {
                continue;
            };
            tries.push((row, state, endpoint, secret));
        }
        let attempts = join_all(tries.iter().map(|(row, _, endpoint, secret)| {
            send(&endpoint.url, secret, &row.event_id, &row.payload)
        }))
        .await;
        let mut given_up = Vec::new();
        for ((row, state, endpoint, _), attempt) in tries.into_iter().zip(attempts) {
            let after = super::clock::now();
            let next = state.after(&attempt, after, delays);
            let (status, error) = match &attempt {
                Attempt::Answered(s) => {
                    (SqlStorageValue::from(i64::from(*s)), SqlStorageValue::Null)
                }
                Attempt::Failed(why) => (SqlStorageValue::Null, why.as_str().into()),
            };
            self.exec(
                "UPDATE deliveries SET state = ?, due_at = ?, last_status = ?, last_error = ?,
                   updated_at = ? WHERE seq = ?",
                vec![
                    serde_json::to_string(&next).map_err(sql_error)?.into(),
                    next.due_at().map_or(SqlStorageValue::Null, ms),
                    status,
                    error,
                    ms(after),
                    row.seq.into(),
                ],
            )?;
            let failing = match next {
                DeliveryState::GivenUp { .. } => true,
                DeliveryState::Delivered { .. } => false,
                DeliveryState::Pending { .. } => continue,
            };
            if failing != endpoint.failing {
                self.exec(
                    "UPDATE webhooks SET failing = ? WHERE id = ?",
                    vec![i64::from(failing).into(), endpoint.id.as_str().into()],
                )?;
            }
            if failing {
                given_up.push((endpoint.id, row.event_id));
            }
        }
        Ok(given_up)
    }
}

/// One try: POST `payload` to `url`, signed the Standard Webhooks way (a fresh timestamp each
/// try, the same id), within [`DELIVERY_TIMEOUT_MS`]. Redirects are not followed.
async fn send(url: &str, secret: &WebhookSecret, id: &str, payload: &str) -> Attempt {
    let timestamp = super::clock::now().0 / 1000;
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value);
    let signed = set("content-type", "application/json")
        .and_then(|_| set("user-agent", "keygate-webhooks/1"))
        .and_then(|_| set("webhook-id", id))
        .and_then(|_| set("webhook-timestamp", &timestamp.to_string()))
        .and_then(|_| set("webhook-signature", &sign(secret, id, timestamp, payload)));
    if let Err(e) = signed {
        return Attempt::Failed(e.to_string());
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(worker::RequestRedirect::Manual)
        .with_body(Some(JsValue::from_str(payload)));
    let request = match Request::new_with_init(url, &init) {
        Ok(r) => r,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Delay::from(std::time::Duration::from_millis(DELIVERY_TIMEOUT_MS));
    match select(sending, timeout).await {
        Either::Left((Ok(response), _)) => Attempt::Answered(response.status_code()),
        Either::Left((Err(e), _)) => Attempt::Failed(e.to_string()),
        Either::Right(_) => {
            controller.abort();
            Attempt::Failed(format!("no answer within {DELIVERY_TIMEOUT_MS} ms"))
        }
    }
}

/// Deliveries shown per endpoint, newest first.
const DELIVERIES_SHOWN: i64 = 50;

/// An endpoint with its secret: the answer to a creation or a secret rotation, the only
/// times the secret is shown.
#[derive(Serialize)]
struct WithSecret {
    #[serde(flatten)]
    endpoint: WebhookEndpoint,
    secret: String,
}

#[derive(Serialize)]
struct EndpointList {
    webhooks: Vec<WebhookEndpoint>,
}

/// One delivery as the API shows it.
#[derive(Serialize)]
struct DeliveryView {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    /// `pending`, `delivered` or `given_up`.
    status: &'static str,
    attempts: u32,
    #[serde(serialize_with = "time::serialize_rfc3339_opt")]
    next_attempt_at: Option<UnixMillis>,
    last_status: Option<i64>,
    last_error: Option<String>,
    #[serde(serialize_with = "time::serialize_rfc3339")]
    created_at: UnixMillis,
    #[serde(serialize_with = "time::serialize_rfc3339")]
    updated_at: UnixMillis,
}

#[derive(Serialize)]
struct DeliveryList {
    deliveries: Vec<DeliveryView>,
}

#[derive(Deserialize)]
struct DeliveryLogRow {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    state: String,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn fresh_secret() -> Result<WebhookSecret, GateError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| GateError::Internal(e.to_string()))?;
    Ok(WebhookSecret::from_random(bytes))
}

/// Runs a webhook route's command on the catalog's tables: the answer, and the endpoint a
/// change concerned (for the audit log).
pub fn handle(
    webhooks: &Webhooks<'_>,
    command: WebhookCommand,
    now: UnixMillis,
) -> Result<(Response, Option<WebhookEndpoint>), GateError> {
    let read = |answer: Result<Response, GateError>| answer.map(|a| (a, None));
    match command {
        WebhookCommand::List => {
            let webhooks = webhooks.endpoints()?.into_iter().map(|(e, _)| e).collect();
            read(respond::json(200, &EndpointList { webhooks }))
        }
        WebhookCommand::Create(body) => {
            if webhooks.endpoints()?.len() >= MAX_ENDPOINTS {
                return Err(GateError::InvalidRequest(format!(
                    "An organization has at most {MAX_ENDPOINTS} webhook endpoints"
                )));
            }
            let endpoint = WebhookEndpoint {
                id: random_id("wh_", 16).map_err(|e| GateError::Internal(e.to_string()))?,
                url: body.url,
                events: body.events,
                enabled: true,
                failing: false,
                created_at: now,
            };
            let secret = fresh_secret()?;
            webhooks.save(&endpoint, &secret)?;
            let secret = secret.expose();
            let answer = respond::json(
                201,
                &WithSecret {
                    endpoint: endpoint.clone(),
                    secret,
                },
            )?;
            Ok((answer, Some(endpoint)))
        }
        WebhookCommand::Get(id) => read(respond::json(200, &webhooks.endpoint(&id)?.0)),
        WebhookCommand::Update(id, change) => {
            let (endpoint, secret) = webhooks.endpoint(&id)?;
            let endpoint = endpoint.updated(change);
            webhooks.save(&endpoint, &secret)?;
            if !endpoint.enabled {
                // Off means off: retries still pending are dropped, as for a deleted endpoint.
                webhooks.exec(
                    "DELETE FROM deliveries WHERE webhook_id = ? AND due_at IS NOT NULL",
                    vec![id.as_str().into()],
                )?;
            }
            Ok((respond::json(200, &endpoint)?, Some(endpoint)))
        }
        WebhookCommand::Delete(id) => {
            let (endpoint, _) = webhooks.endpoint(&id)?;
            webhooks.delete(&id)?;
            let answer = respond::json(
                200,
                &serde_json::json!({"success": true, "message": "Webhook endpoint deleted"}),
            )?;
            Ok((answer, Some(endpoint)))
        }
        WebhookCommand::Test(id) => {
            webhooks.endpoint(&id)?;
            let data = serde_json::json!({"webhook_id": id});
            let event_id = webhooks.enqueue(EventType::WebhookTest, &data, now, Some(&id))?;
            read(respond::json(
                202,
                &serde_json::json!({"event_id": event_id}),
            ))
        }
        WebhookCommand::RotateSecret(id) => {
            let (endpoint, _) = webhooks.endpoint(&id)?;
            let secret = fresh_secret()?;
            webhooks.save(&endpoint, &secret)?;
            let secret = secret.expose();
            let answer = respond::json(
                200,
                &WithSecret {
                    endpoint: endpoint.clone(),
                    secret,
                },
            )?;
            Ok((answer, Some(endpoint)))
        }
        WebhookCommand::Deliveries(id) => {
            webhooks.endpoint(&id)?;
            let rows: Vec<DeliveryLogRow> = webhooks.query(
                "SELECT event_id, type, state, last_status, last_error, created_at, updated_at
                 FROM deliveries WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?",
                vec![id.as_str().into(), DELIVERIES_SHOWN.into()],
            )?;
            let deliveries = rows
                .into_iter()
                .map(|row| {
                    let state: DeliveryState =
                        serde_json::from_str(&row.state).map_err(sql_error)?;
                    let (status, attempts) = match state {
                        DeliveryState::Pending { attempts, .. } => ("pending", attempts),
                        DeliveryState::Delivered { attempts, .. } => ("delivered", attempts),
                        DeliveryState::GivenUp { attempts, .. } => ("given_up", attempts),
                    };
                    Ok(DeliveryView {
                        event_id: row.event_id,
                        kind: row.kind,
                        status,
                        attempts,
                        next_attempt_at: state.due_at(),
                        last_status: row.last_status,
                        last_error: row.last_error,
                        created_at: UnixMillis(row.created_at as u64),
                        updated_at: UnixMillis(row.updated_at as u64),
                    })
                })
                .collect::<Result<_, GateError>>()?;
            read(respond::json(200, &DeliveryList { deliveries }))
        }
    }
}
