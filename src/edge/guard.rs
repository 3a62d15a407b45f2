//! `KeyGuard`: one Durable Object per key id, the authority on whether a secret may be used.
//! It keeps its state in memory after the first read, so a check costs no storage access.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use worker::{DurableObject, Env, Request, Response, State, durable_object};

use super::{clock, respond, rpc, state};
use crate::domain::catalog::{self, GuardCommand, GuardVerdict, OrgCommand, Secret};
use crate::domain::{GateError, KeyRecord, KeyStatus};

/// Storage key of the guard's state.
const STATE_KEY: &str = "state";

#[derive(Serialize, Deserialize, Clone)]
struct GuardState {
    record: KeyRecord,
    secrets: Vec<Secret>,
    /// The catalog has been told the key expired (once per key).
    #[serde(default)]
    expiry_reported: bool,
}

#[durable_object]
pub struct KeyGuard {
    state: State,
    env: Env,
    cached: RefCell<Option<GuardState>>,
}

impl DurableObject for KeyGuard {
    fn new(state: State, env: Env) -> Self {
        KeyGuard {
            state,
            env,
            cached: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let problem_json = respond::wants_problem_json(&req);
        let outcome = match rpc::receive::<GuardCommand>(&mut req).await {
            Ok(GuardCommand::Set { record, secrets }) => self.set(record, secrets).await,
            Ok(GuardCommand::Check { hash }) => self.check(&hash).await,
            Err(e) => Err(e),
        };
        Ok(outcome.unwrap_or_else(|e| respond::error(&e, problem_json)))
    }
}

impl KeyGuard {
    async fn load(&self) -> Result<Option<GuardState>, GateError> {
        if let Some(cached) = self.cached.borrow().clone() {
            return Ok(Some(cached));
        }
        let text: Option<String> = self
            .state
            .storage()
            .get(STATE_KEY)
            .await
            .map_err(respond::internal)?;
        let loaded = text
            .map(|t| serde_json::from_str::<GuardState>(&t).map_err(respond::internal))
            .transpose()?;
        *self.cached.borrow_mut() = loaded.clone();
        Ok(loaded)
    }

    async fn store(&self, new: GuardState) -> Result<(), GateError> {
        let text = serde_json::to_string(&new).map_err(respond::internal)?;
        self.state
            .storage()
            .put(STATE_KEY, text)
            .await
            .map_err(respond::internal)?;
        *self.cached.borrow_mut() = Some(new);
        Ok(())
    }

    async fn set(
        &self,
        record: Box<KeyRecord>,
        secrets: Vec<Secret>,
    ) -> Result<Response, GateError> {
        let expiry_reported = self.load().await?.is_some_and(|s| s.expiry_reported);
        self.store(GuardState {
            record: *record,
            secrets,
            expiry_reported,
        })
        .await?;
        Ok(respond::json(200, &serde_json::json!({"ok": true})))
    }

    async fn check(&self, hash: &crate::domain::KeyHash) -> Result<Response, GateError> {
        let now = clock::now();
        let Some(mut guard) = self.load().await? else {
            return Ok(respond::json(200, &GuardVerdict { record: None }));
        };
        if !catalog::accepts(&guard.secrets, hash, now) {
            return Ok(respond::json(200, &GuardVerdict { record: None }));
        }
        if KeyStatus::of(&guard.record, now) == KeyStatus::Expired && !guard.expiry_reported {
            // First sight of the expiry: the organization's audit log records it once.
            let command = OrgCommand::KeyExpired {
                org: guard.record.org.clone(),
                id: guard.record.id.clone(),
            };
            let catalog = rpc::stub(
                &self.env,
                state::CATALOGS_BINDING,
                guard.record.org.as_str(),
            )?;
            rpc::send(&catalog, &command, None).await?;
            guard.expiry_reported = true;
            self.store(guard.clone()).await?;
        }
        Ok(respond::json(
            200,
            &GuardVerdict {
                record: Some(guard.record),
            },
        ))
    }
}
