//! The isolate's cache of key records by hash, as plain data: what it answers, what it
//! remembers of the guard's confirmations, and what it evicts when full.
//!
//! The edge keeps one per isolate in front of KV. Nothing in it decides access on its own: the
//! key's guard is asked on every request. Two things depend on it all the same:
//!
//! - **Fail-open.** When the guard cannot be reached, a key that allows it is admitted only on a
//!   record the guard confirmed within the revocation bound ([`Held::confirmed_at`], see
//!   [`verify::without_guard`](crate::domain::authz::verify::without_guard)). A hash the guard no longer
//!   accepts is dropped at once ([`KeyCache::forget`]).
//! - **Cost under a flood.** Made-up keys (valid format, never issued) each miss the cache. The
//!   cache tells a hash it has never found ([`Lookup::New`]: the edge charges the client's
//!   lookup budget) from a real key's record that merely aged out ([`Lookup::Known`]: free),
//!   and when it is full it evicts expired and not-found entries first, then the least
//!   recently used records, never everything: a flood cannot push out the keys in use.

use std::collections::HashMap;

use crate::domain::error::GateError;
use crate::domain::http::client::ClientId;
use crate::domain::key::hash::KeyHash;
use crate::domain::key::record::{KeyRecord, RecordDigest};
use crate::domain::manage::audit::Throttle;
use crate::domain::time::UnixMillis;

/// How long a found record is reused before KV is read again.
pub const FOUND_TTL_MS: u64 = 300_000;
/// How long an unknown hash is remembered (a repeated unknown key costs one KV read per 10 s;
/// a brand-new key was never looked up, so it is never affected).
pub const MISSING_TTL_MS: u64 = 10_000;
/// Entries an isolate keeps; bounds its memory.
pub const CAPACITY: usize = 10_000;
/// KV lookups of hashes never found here that one client may cause per minute (see
/// [`UnknownKeys`]).
pub const LOOKUP_BUDGET: u32 = 20;
/// Clients an isolate remembers for budgets and log throttling.
pub const CLIENTS: usize = 10_000;

/// A record the isolate holds, with its digest (computed once, when it entered the cache) and
/// the last time the key's guard confirmed it.
#[derive(Clone, Debug)]
pub struct Held {
    /// The record.
    pub record: KeyRecord,
    /// Its digest, sent to the guard so the guard's answer carries a record only when it changed.
    pub digest: RecordDigest,
    /// When the worker sent the request whose answer said this record is the current one for
    /// this secret; `None` for a record only read from KV. The guard decided after this instant,
    /// so the age computed from it is never understated.
    pub confirmed_at: Option<UnixMillis>,
}

impl Held {
    /// A record read from KV: not confirmed by the guard.
    pub fn of(record: KeyRecord) -> Held {
        let digest = record.digest();
        Held {
            record,
            digest,
            confirmed_at: None,
        }
    }
}

/// What the cache knows of a hash.
#[allow(clippy::large_enum_variant)] // returned once per request and taken apart at once
#[derive(Debug)]
pub enum Lookup {
    /// A fresh answer: the record, or `None` when the hash is known not to exist.
    Hit(Option<Held>),
    /// A record was found for this hash before and has aged out: read KV again. This lookup
    /// is not charged to the client's budget (the hash is real).
    Known,
    /// Never found here (or its absence aged out): a KV read the client's budget pays for.
    New,
}

#[derive(Debug)]
struct Entry {
    stored_at: UnixMillis,
    held: Option<Held>,
    /// Use stamp (higher = more recent), for least-recently-used eviction.
    used: u64,
}

impl Entry {
    fn fresh(&self, now: UnixMillis) -> bool {
        let ttl = if self.held.is_some() {
            FOUND_TTL_MS
        } else {
            MISSING_TTL_MS
        };
        now.0.saturating_sub(self.stored_at.0) < ttl
    }
}

/// Key records by hash, at most `capacity` of them.
#[derive(Debug)]
pub struct KeyCache {
    entries: HashMap<KeyHash, Entry>,
    capacity: usize,
    stamp: u64,
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new(CAPACITY)
    }
}

impl KeyCache {
    /// An empty cache holding at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> KeyCache {
        KeyCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            stamp: 0,
        }
    }

    /// Entries held (fresh or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn next_stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// What the cache says of `hash` at `now`; a hit counts as a use.
    pub fn lookup(&mut self, hash: &KeyHash, now: UnixMillis) -> Lookup {
        let stamp = self.next_stamp();
        match self.entries.get_mut(hash) {
            Some(entry) if entry.fresh(now) => {
                entry.used = stamp;
                Lookup::Hit(entry.held.clone())
            }
            Some(Entry { held: Some(_), .. }) => Lookup::Known,
            Some(Entry { held: None, .. }) | None => Lookup::New,
        }
    }

    /// Stores what KV said of `hash` at `now` (a record, unconfirmed, or `None`).
    pub fn insert(&mut self, hash: KeyHash, now: UnixMillis, held: Option<Held>) {
        if !self.entries.contains_key(&hash) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let used = self.next_stamp();
        self.entries.insert(
            hash,
            Entry {
                stored_at: now,
                held,
                used,
            },
        );
    }

    /// The guard answered, for a request sent at `asked_at`, that `record` is the current one
    /// for `hash`: it replaces the held copy, confirmed at `asked_at`. An answer to an older
    /// request than the one that last confirmed the entry is ignored (answers may arrive out of
    /// order; the later question saw the later record).
    pub fn refresh(&mut self, hash: KeyHash, record: KeyRecord, asked_at: UnixMillis) {
        if self.confirmed_after(&hash, asked_at) {
            return;
        }
        let held = Held {
            confirmed_at: Some(asked_at),
            ..Held::of(record)
        };
        self.insert(hash, asked_at, Some(held));
    }

    /// The guard answered, for a request sent at `asked_at` with `digest`, that the record with
    /// that digest is current: the held copy is confirmed, if it is still that one.
    pub fn confirm(&mut self, hash: &KeyHash, digest: RecordDigest, asked_at: UnixMillis) {
        if let Some(Entry {
            held: Some(held), ..
        }) = self.entries.get_mut(hash)
            && held.digest == digest
            && held.confirmed_at.is_none_or(|at| at < asked_at)
        {
            held.confirmed_at = Some(asked_at);
        }
    }

    /// The guard does not accept `hash` (never issued, revoked, rotated out): the held record
    /// is dropped at once and the hash remembered as unknown, so neither a request nor a guard
    /// outage acts on it again.
    pub fn forget(&mut self, hash: KeyHash, now: UnixMillis) {
        self.insert(hash, now, None);
    }

    fn confirmed_after(&self, hash: &KeyHash, at: UnixMillis) -> bool {
        self.entries
            .get(hash)
            .and_then(|e| e.held.as_ref()?.confirmed_at)
            .is_some_and(|confirmed| confirmed > at)
    }

    /// Frees room when full. First every expired entry and every not-found entry (cheap to
    /// learn again: one KV read, and a made-up key is worth nothing); then, if that freed less
    /// than an eighth of the cache, the least recently used records down to seven eighths, so
    /// the sweep runs at most once per `capacity / 8` insertions. Never the whole cache.
    fn make_room(&mut self, now: UnixMillis) {
        self.entries.retain(|_, e| e.held.is_some() && e.fresh(now));
        let low_water = self.capacity - self.capacity.div_ceil(8);
        if self.entries.len() <= low_water {
            return;
        }
        let excess = self.entries.len() - low_water;
        let mut by_use: Vec<(u64, KeyHash)> =
            self.entries.iter().map(|(h, e)| (e.used, *h)).collect();
        by_use.select_nth_unstable_by_key(excess - 1, |(used, _)| *used);
        for (_, hash) in &by_use[..excess] {
            self.entries.remove(hash);
        }
    }
}

/// Per client, what unknown keys may cost: at most [`LOOKUP_BUDGET`] KV lookups of hashes
/// never found here per minute (a lookup that finds a real key is given back), and at most one
/// log line per minute.
///
/// A made-up key with a valid checksum cannot be told from a real one without a lookup, and
/// each one is new, so the isolate cache alone does not bound the cost of a flood. Beyond the
/// budget the request is refused (429 `too_many_invalid_keys`, with when to retry) without any
/// lookup. Keys this isolate has already found never touch the budget, so a client's real keys
/// keep working while its made-up ones are refused; a real key the isolate has never seen,
/// sent by a client that spent its budget, waits for the client's minute to end like the rest.
#[derive(Debug)]
pub struct UnknownKeys {
    budget: Throttle<ClientId>,
    logged: Throttle<ClientId>,
}

impl Default for UnknownKeys {
    fn default() -> Self {
        UnknownKeys {
            budget: Throttle::with_budget(CLIENTS, LOOKUP_BUDGET),
            logged: Throttle::new(CLIENTS),
        }
    }
}

/// Whether a lookup was charged to a client's budget (then [`UnknownKeys::settle`] gives it
/// back when the key turns out to exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "settle the charge once the lookup is done"]
pub enum Charge {
    /// A hash found before: free.
    Free,
    /// A hash never found here: one unit of the client's budget.
    Charged,
}

impl UnknownKeys {
    /// Before a KV lookup that the cache could not answer (`lookup` is [`Lookup::Known`] or
    /// [`Lookup::New`]): whether `client` may make it at `now`.
    pub fn before_lookup(
        &mut self,
        lookup: &Lookup,
        client: &ClientId,
        now: UnixMillis,
    ) -> Result<Charge, GateError> {
        match lookup {
            Lookup::Hit(_) | Lookup::Known => Ok(Charge::Free),
            Lookup::New => self
                .budget
                .take(client.clone(), now)
                .map(|()| Charge::Charged)
                .map_err(|ms| GateError::TooManyInvalidKeys {
                    retry_after: ms.div_ceil(1000),
                }),
        }
    }

    /// After the lookup: a charged one that did not find the key missing (found, or failed)
    /// is given back.
    pub fn settle(&mut self, charge: Charge, client: &ClientId, missing: bool) {
        if charge == Charge::Charged && !missing {
            self.budget.refund(client);
        }
    }

    /// Whether an unknown key of `client` (or its refusal) may be logged at `now`: once per
    /// client per minute, whatever the keys (each made-up key has its own start).
    pub fn log_now(&mut self, client: &ClientId, now: UnixMillis) -> bool {
        self.logged.admit(client.clone(), now)
    }
}

#[cfg(test)]
mod tests;
