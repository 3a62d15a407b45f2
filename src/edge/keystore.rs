//! Finding a key's record by hash: an isolate cache in front of KV.
//!
//! The cache can hold a record for minutes because nothing in it decides access on its own:
//! the key's guard is asked on every request and has the last word on status and secrets.
//! The record found here only names the guard to ask.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::KvStore;

use crate::domain::audit::Throttle;
use crate::domain::usage::Cost;
use crate::domain::{GateError, KeyHash, KeyRecord, RecordDigest, UnixMillis};

/// How long a location may serve a record (or its absence) from KV's edge cache, in seconds.
const KV_CACHE_TTL_SECS: u64 = 60;
/// How long this isolate reuses a record it found.
const FOUND_TTL_MS: u64 = 300_000;
/// How long this isolate remembers that a hash is unknown (a flood of one bad key costs one
/// KV read per 10 s, and a brand-new key has never been looked up, so it is never affected).
const MISSING_TTL_MS: u64 = 10_000;
/// Entries kept before the cache starts over; bounds the isolate's memory.
const MAX_ENTRIES: usize = 10_000;

thread_local! {
    /// Unknown key prefixes logged in the last minute.
    static FAILURES: RefCell<Throttle<String>> = RefCell::new(Throttle::new(MAX_ENTRIES));
    static CACHE: RefCell<HashMap<KeyHash, (UnixMillis, Option<Held>)>> = RefCell::new(HashMap::new());
}

/// A record this isolate holds, with its digest (computed once, when it entered the cache).
#[derive(Clone)]
pub struct Held {
    pub record: KeyRecord,
    pub digest: RecordDigest,
}

impl Held {
    fn of(record: KeyRecord) -> Held {
        let digest = record.digest();
        Held { record, digest }
    }
}

/// The record stored under `hash`, or `None` when there is none. A KV read is added to `cost`
/// when the isolate cache cannot answer.
pub async fn find(
    kv: &KvStore,
    hash: &KeyHash,
    now: UnixMillis,
    cost: &mut Cost,
) -> Result<Option<Held>, GateError> {
    let hit = CACHE.with_borrow(|cache| {
        cache.get(hash).and_then(|(at, held)| {
            let ttl = if held.is_some() {
                FOUND_TTL_MS
            } else {
                MISSING_TTL_MS
            };
            (now.0.saturating_sub(at.0) < ttl).then(|| held.clone())
        })
    });
    if let Some(held) = hit {
        return Ok(held);
    }
    cost.kv_reads += 1;
    let held = load(kv, hash).await?.map(Held::of);
    remember(hash, now, held.clone());
    Ok(held)
}

/// Replaces the held record of `hash` with the guard's newer one, so the next requests send a
/// matching digest instead of receiving the record again.
pub fn refresh(hash: &KeyHash, record: &KeyRecord, now: UnixMillis) {
    remember(hash, now, Some(Held::of(record.clone())));
}

fn remember(hash: &KeyHash, now: UnixMillis, held: Option<Held>) {
    CACHE.with_borrow_mut(|cache| {
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(*hash, (now, held));
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
