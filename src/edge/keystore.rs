//! KV access to verification records.

use worker::KvStore;

use crate::domain::{GateError, KeyHash, KeyRecord};

/// How long a location may serve a record (or its absence) from its cache, in seconds.
/// 60 s is KV's own default; revocation that must act sooner cannot rely on KV at all.
const CACHE_TTL_SECS: u64 = 60;

/// The record stored under `hash`, or `None` when there is none.
pub async fn load(kv: &KvStore, hash: &KeyHash) -> Result<Option<KeyRecord>, GateError> {
    let text = kv
        .get(&hash.storage_key())
        .cache_ttl(CACHE_TTL_SECS)
        .text()
        .await
        .map_err(|e| GateError::Internal(format!("KV get {hash:?}: {e}")))?;
    text.map(|t| {
        KeyRecord::from_json(&t)
            .map_err(|e| GateError::Internal(format!("corrupt record {hash:?}: {e}")))
    })
    .transpose()
}
