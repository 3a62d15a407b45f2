//! The verification path up to an active key, shared by the proxy and the management API:
//! format (memory) → record (isolate cache / KV) → guard (authoritative) → status.

use worker::Env;

use super::{clock, keystore, rpc, state};
use crate::domain::catalog::{GuardCommand, GuardVerdict};
use crate::domain::{ActiveKey, Credential, GateError, KeyHash, KeyId, verify};

/// Verifies the key in the two header values. `seen` receives the key id as soon as it is
/// known, for the log line, even when a later stage refuses the key.
pub async fn active_key<'a>(
    env: &Env,
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
    seen: &mut Option<KeyId>,
) -> Result<(Credential<'a>, ActiveKey), GateError> {
    let (credential, key) = verify::parse_credential(authorization, x_api_key)?;
    let hash = KeyHash::of(&key);
    let now = clock::now();
    let found = keystore::find(&state::keys(env)?, &hash, now)
        .await?
        .ok_or(GateError::InvalidKey)?;
    *seen = Some(found.id.clone());
    let guard = rpc::stub(env, state::GUARDS_BINDING, found.id.as_str())?;
    let mut reply = rpc::send(&guard, &GuardCommand::Check { hash }, None).await?;
    let text = reply.text().await.map_err(super::respond::internal)?;
    let verdict: GuardVerdict = serde_json::from_str(&text).map_err(|e| {
        GateError::Internal(format!(
            "guard {} answered {}: {e}",
            found.id,
            reply.status_code()
        ))
    })?;
    let record = verdict.record.ok_or(GateError::InvalidKey)?;
    Ok((credential, verify::check_status(record, now)?))
}
