//! Publishing a key to its guard and to KV, and taking it back.

use super::*;

impl OrgCatalog {
    pub(super) async fn guard_set(
        &self,
        record: &KeyRecord,
        secrets: &[Secret],
    ) -> Result<(), GateError> {
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
    pub(super) async fn publish(
        &self,
        record: &KeyRecord,
        secrets: &[Secret],
    ) -> Result<(), GateError> {
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
    pub(super) async fn unpublish<'a>(&self, secrets: impl Iterator<Item = &'a Secret>) {
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
}
