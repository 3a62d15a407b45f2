//! `OrgDirectory`: one SQLite-backed Durable Object for the deployment, the list of its
//! organizations. It holds ids only: plans, access and key counts stay in each catalog, read
//! live when `GET /orgs` shows a page.

use serde::Deserialize;
use worker::{DurableObject, Env, Request, Response, SqlStorage, State, durable_object};

use super::{respond, rpc, sql};
use crate::domain::GateError;
use crate::domain::OrgId;
use crate::domain::manage::listing::OrgPage;
use crate::domain::protocol::{DirectoryCommand, DirectoryPage};

/// The name of the one directory in its namespace.
pub const NAME: &str = "directory";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY) WITHOUT ROWID;";

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
struct IdRow {
    id: String,
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
            DirectoryCommand::List { page } => respond::json(200, &self.list(&page)?),
        }
    }

    fn list(&self, page: &OrgPage) -> Result<DirectoryPage, GateError> {
        let after = page.after.as_ref().map_or("", OrgId::as_str);
        let rows: Vec<IdRow> = sql::rows(
            &self.sql,
            "SELECT id FROM orgs WHERE id > ? ORDER BY id LIMIT ?",
            vec![after.into(), (i64::from(page.limit) + 1).into()],
        )?;
        let more = rows.len() > page.limit as usize;
        let orgs = rows
            .into_iter()
            .take(page.limit as usize)
            .map(|row| {
                OrgId::parse(&row.id)
                    .ok_or_else(|| GateError::Internal(format!("stored org id {:?}", row.id)))
            })
            .collect::<Result<_, _>>()?;
        Ok(DirectoryPage { orgs, more })
    }
}
