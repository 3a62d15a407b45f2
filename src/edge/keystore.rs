//! Finding a key's record by hash: the isolate's [`KeyCache`] in front of KV, and what the
//! key's guard said of the records it holds.
//!
//! Nothing here decides access on its own: the key's guard is asked on every request and has
//! the last word on status and secrets. The record found here names the guard to ask, and is
//! what a guard outage may fail open on, only within the revocation bound after the guard
//! last confirmed it (see `domain::keycache`).

use std::cell::RefCell;

use worker::KvStore;

use crate::domain::audit::Throttle;
use crate::domain::catalog::Standing;
use crate::domain::keycache::{self, Held, KeyCache, Lookup};
use crate::domain::usage::Cost;
use crate::domain::{GateError, KeyHash, KeyRecord, RecordDigest, UnixMillis};

/// How long a location may serve a record (or its absence) from KV's edge cache, in seconds.
const KV_CACHE_TTL_SECS: u64 = 60;

thread_local! {
    /// Unknown key prefixes logged in the last minute.
    static FAILURES: RefCell<Throttle<String>> = RefCell::new(Throttle::new(keycache::CAPACITY));
    static CACHE: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// The record stored under `hash`, or `None` when there is none. A KV read is added to `cost`
/// when the isolate cache cannot answer.
pub async fn find(
    kv: &KvStore,
    hash: &KeyHash,
    now: UnixMillis,
    cost: &mut Cost,
) -> Result<Option<Held>, GateError> {
    if let Lookup::Hit(held) = CACHE.with_borrow_mut(|cache| cache.lookup(hash, now)) {
        return Ok(held);
    }
    cost.kv_reads += 1;
    let held = load(kv, hash).await?.map(Held::of);
    CACHE.with_borrow_mut(|cache| cache.insert(*hash, now, held.clone()));
    Ok(held)
}

/// Records what the guard said of `hash`, for a request sent at `asked_at` with the held
/// record's digest `sent`: a current record replaces the held one, an unchanged one is
/// confirmed, and a secret the guard does not accept is dropped from the cache.
pub fn settle(
    hash: &KeyHash,
    standing: &Standing,
    sent: Option<RecordDigest>,
    asked_at: UnixMillis,
) {
    CACHE.with_borrow_mut(|cache| match standing {
        Standing::Current(record) => cache.refresh(*hash, KeyRecord::clone(record), asked_at),
        Standing::Unchanged => {
            if let Some(digest) = sent {
                cache.confirm(hash, digest, asked_at);
            }
        }
        Standing::Unknown => cache.forget(*hash, asked_at),
    });
}

/// Whether a refused `start` (key mask) was not yet reported in the last minute; records it.
pub fn first_failure_this_minute(start: &str, now: UnixMillis) -> bool {
    FAILURES.with_borrow_mut(|throttle| throttle.admit(start.to_owned(), now))
}

async fn load(kv: &KvStore, hash: &KeyHash) -> Result<Option<KeyRecord>, GateError> {
    let text = kv
        .get(&hash.storage_key())
        .cache_ttl(KV_CACHE_TTL_SECS)
        .text()
        .await
        .map_err(|e| GateError::Internal(format!("KV get {hash:?}: {e}")))?;
    text.map(|t| {
        KeyRecord::from_json(&t)
            .map_err(|e| GateError::Internal(format!("corrupt record {hash:?}: {e}")))
    })
    .transpose()
}
