//! Per-isolate state: the parsed configuration and the names of the bindings.

use std::cell::OnceCell;
use std::sync::OnceLock;

use worker::{Env, KvStore};

use crate::domain::{Config, ConfigError, GateError};

/// KV namespace holding verification records by key hash.
const KEYS_BINDING: &str = "KEYS";
/// Durable Object namespace of organization catalogs (`OrgCatalog`), named by org id.
pub const CATALOGS_BINDING: &str = "CATALOGS";
/// Durable Object namespace of key guards (`KeyGuard`), named by key id.
pub const GUARDS_BINDING: &str = "GUARDS";
/// Durable Object namespace of the one organization directory (`OrgDirectory`).
pub const DIRECTORY_BINDING: &str = "DIRECTORY";
/// Secret that grants the management API for every organization.
const ADMIN_TOKEN: &str = "ADMIN_TOKEN";

/// Variables cannot change within an isolate, so they are parsed on its first request only.
static CONFIG: OnceLock<Result<Config, ConfigError>> = OnceLock::new();

/// The deployment's configuration, or the error naming the bad variable.
pub fn config(env: &Env) -> Result<&'static Config, GateError> {
    CONFIG
        .get_or_init(|| Config::from_lookup(|name| lookup(env, name)))
        .as_ref()
        .map_err(|e| GateError::Config(e.clone()))
}

/// A variable or secret as text; a TOML table in `[vars]` (such as `POLICY`) arrives as an
/// object and is handed over as JSON.
fn lookup(env: &Env, name: &str) -> Option<String> {
    env.var(name).map(|v| v.to_string()).ok().or_else(|| {
        env.object_var::<serde_json::Value>(name)
            .ok()
            .map(|v| v.to_string())
    })
}

thread_local! {
    /// Bindings cannot change within an isolate either; looking one up checks its type across
    /// the wasm boundary, so the verified path does it once.
    static KEYS: OnceCell<KvStore> = const { OnceCell::new() };
}

/// The KV namespace of verification records.
pub fn keys(env: &Env) -> Result<KvStore, GateError> {
    KEYS.with(|cell| {
        if let Some(kv) = cell.get() {
            return Ok(kv.clone());
        }
        let kv = env
            .kv(KEYS_BINDING)
            .map_err(|e| GateError::Internal(format!("KV binding {KEYS_BINDING}: {e}")))?;
        Ok(cell.get_or_init(|| kv).clone())
    })
}

/// The admin token, if the deployment set one (an empty one counts as unset).
pub fn admin_token(env: &Env) -> Option<String> {
    env.secret(ADMIN_TOKEN)
        .ok()
        .map(|s| s.to_string())
        .filter(|t| !t.is_empty())
}
