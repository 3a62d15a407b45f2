//! `OrgDirectory`: one SQLite-backed Durable Object for the deployment, the list of its
//! organizations for `GET /orgs`. A catalog enters its organization before creating it (so an
//! organization that exists is always listed) and sends its view after each change (so a page
//! is one request, not one per organization; a view that never arrived is read from the
//! catalog instead).

use serde::Deserialize;
use worker::{DurableObject, Env, Request, Response, SqlStorage, State, durable_object};

use super::{respond, rpc, sql};
use crate::domain::GateError;
use crate::domain::OrgId;
use crate::domain::manage::listing::OrgPage;
use crate::domain::protocol::{DirectoryCommand, DirectoryEntry, DirectoryPage};

/// The name of the one directory in its namespace.
pub const NAME: &str = "directory";

const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, view TEXT) WITHOUT ROWID;";

#[durable_object]
pub struct OrgDirectory {
    sql: SqlStorage,
    /// The outcome of creating the table, reported by every command if it failed.
    schema: Result<(), String>,
}

impl DurableObject for OrgDirectory {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let schema = sql::exec(&sql, SCHEMA, vec![]).map_err(|e| e.log_detail());
        OrgDirectory { sql, schema }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let outcome = match rpc::receive::<DirectoryCommand>(&mut req).await {
            Ok(command) => self.run(command),
            Err(e) => Err(e),
        };
        Ok(outcome.unwrap_or_else(|e| respond::error(&e, false)))
    }
}

#[derive(Deserialize)]
struct OrgRow {
    id: String,
    view: Option<String>,
}

impl OrgDirectory {
    fn run(&self, command: DirectoryCommand) -> Result<Response, GateError> {
        self.schema.clone().map_err(GateError::Internal)?;
        match command {
            DirectoryCommand::Add { org } => {
                sql::exec(
                    &self.sql,
                    "INSERT OR IGNORE INTO orgs (id) VALUES (?)",
                    vec![org.as_str().into()],
                )?;
                respond::json(200, &serde_json::json!({"ok": true}))
            }
            DirectoryCommand::Put { org, view } => {
                let view = serde_json::to_string(&view).map_err(respond::internal)?;
                sql::exec(
                    &self.sql,
                    "INSERT OR REPLACE INTO orgs (id, view) VALUES (?, ?)",
                    vec![org.as_str().into(), view.into()],
                )?;
                respond::json(200, &serde_json::json!({"ok": true}))
            }
            DirectoryCommand::List { page } => respond::json(200, &self.list(&page)?),
        }
    }

    fn list(&self, page: &OrgPage) -> Result<DirectoryPage, GateError> {
        let after = page.after.as_ref().map_or("", OrgId::as_str);
        let rows: Vec<OrgRow> = sql::rows(
            &self.sql,
            "SELECT id, view FROM orgs WHERE id > ? ORDER BY id LIMIT ?",
            vec![after.into(), (i64::from(page.limit) + 1).into()],
        )?;
        let more = rows.len() > page.limit as usize;
        let orgs = rows
            .into_iter()
            .take(page.limit as usize)
            .map(|row| {
                let id = OrgId::parse(&row.id)
                    .ok_or_else(|| GateError::Internal(format!("stored org id {:?}", row.id)))?;
                let view = row
                    .view
                    .map(|v| serde_json::from_str(&v).map_err(respond::internal))
                    .transpose()?;
                Ok(DirectoryEntry { id, view })
            })
            .collect::<Result<_, GateError>>()?;
        Ok(DirectoryPage { orgs, more })
    }
}
