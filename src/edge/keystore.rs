//! Finding a key's record by hash: the isolate's [`KeyCache`] in front of KV, and what the
//! key's guard said of the records it holds.
//!
//! Nothing here decides access on its own: the key's guard (or a lease it granted, for at most
//! the revocation bound) has the last word on status and secrets. The record found here names the guard to ask, and is
//! what a guard outage may fail open on, only within the revocation bound after the guard
//! last confirmed it (see `domain::keycache`).

use std::cell::RefCell;

use worker::KvStore;

use crate::domain::http::client::ClientId;
use crate::domain::key::cache::{Held, KeyCache, Lookup, UnknownKeys};
use crate::domain::limits::usage::Cost;
use crate::domain::protocol::Standing;
use crate::domain::{GateError, KeyHash, KeyRecord, RecordDigest, UnixMillis};

/// How long a location may serve a record (or its absence) from KV's edge cache, in seconds.
const KV_CACHE_TTL_SECS: u64 = 60;

thread_local! {
    static CACHE: RefCell<KeyCache> = RefCell::new(KeyCache::default());
    /// Per client: KV lookups of unknown hashes, and unknown keys logged, in the last minute.
    static UNKNOWN: RefCell<UnknownKeys> = RefCell::new(UnknownKeys::default());
}

/// The record stored under `hash`, or `None` when there is none. A KV read is added to `cost`
/// when the isolate cache cannot answer; one of a hash never found here is charged to
/// `client`'s budget first, and refused (`too_many_invalid_keys`) when it is spent.
pub async fn find(
    kv: &KvStore,
    hash: &KeyHash,
    client: &ClientId,
    now: UnixMillis,
    cost: &mut Cost,
) -> Result<Option<Held>, GateError> {
    let lookup = CACHE.with_borrow_mut(|cache| cache.lookup(hash, now));
    if let Lookup::Hit(held) = lookup {
        return Ok(held);
    }
    let charge = UNKNOWN.with_borrow_mut(|u| u.before_lookup(&lookup, client, now))?;
    cost.kv_reads += 1;
    let loaded = load(kv, hash).await;
    let missing = matches!(loaded, Ok(None));
    UNKNOWN.with_borrow_mut(|u| u.settle(charge, client, missing));
    let held = loaded?.map(Held::of);
    CACHE.with_borrow_mut(|cache| cache.insert(*hash, now, held.clone()));
    Ok(held)
}

/// The record under `hash` when the isolate cache holds it, fresh: no KV read needed.
pub fn cached(hash: &KeyHash, now: UnixMillis) -> Option<Held> {
    match CACHE.with_borrow_mut(|cache| cache.lookup(hash, now)) {
        Lookup::Hit(held) => held,
        _ => None,
    }
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

/// Whether an unknown key of `client` may be logged now (once per client per minute).
pub fn log_unknown_now(client: &ClientId, now: UnixMillis) -> bool {
    UNKNOWN.with_borrow_mut(|u| u.log_now(client, now))
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
