//! The isolate's admission leases, one per key secret (by hash), and the one call per key in
//! flight that concurrent requests share.
//!
//! A request of a key first tries the lease held (`domain::admission::Lease`: status,
//! authorization and a unit, with no call). When the lease is over, the request takes it out and
//! becomes the key's **asker**: it hands the lease back to the guard in its call and stores the
//! lease that comes back. Requests of the same key that arrive meanwhile wait for that call to
//! end (polling on their own timer) and then try the new lease; the asker tells the guard how many requests of the key are
//! in the isolate (`Ask::waiting`), so the new lease has a unit for each. If the asker's call
//! fails or its request is cancelled, the waiters are woken all the same and one of them asks.
//!
//! Memory is bounded: at most [`CAPACITY`] keys; when full, leases that no longer hold are
//! dropped, then every idle one (their units stay counted at the guard until their horizon leaves
//! the windows: under-admission only).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::domain::admission::{Handback, Lease, LeaseId, Local};
use crate::domain::limits::usage::UsageEvent;
use crate::domain::{KeyHash, KeyId, Route, UnixMillis, verify};

/// Keys whose leases an isolate keeps.
const CAPACITY: usize = 10_000;

/// Times a request waits for another request's call before asking itself.
const WAITS: usize = 3;

#[derive(Default)]
struct Entry {
    lease: Option<Lease>,
    asking: Option<Rc<Signal>>,
    /// The guard's last answer lent no lease (the key's own bound is 0): its requests ask the
    /// guard each, side by side, without waiting for one another.
    strict: bool,
    /// Requests of the key in the isolate right now.
    active: u32,
}

thread_local! {
    static LEASES: RefCell<HashMap<KeyHash, Entry>> = RefCell::new(HashMap::new());
}

/// What the lease store says of a request.
pub enum Step {
    /// Decided under the lease held.
    Decided(Local),
    /// Ask the guard: with the lease handed back (if any), for `waiting` requests. Keep the
    /// [`Asking`] until the new lease is stored (or the call failed).
    Ask {
        handback: Option<Handback>,
        waiting: u32,
        asking: Asking,
    },
    /// Another request is asking: wait for it, then try again.
    Wait(Waiting),
}

/// A request of the key in the isolate; counted in `Ask::waiting` while it lives.
pub struct Presence(KeyHash);

impl Presence {
    /// Counts a request of `hash` until dropped.
    pub fn enter(hash: KeyHash) -> Presence {
        LEASES.with_borrow_mut(|leases| {
            if leases.len() >= CAPACITY && !leases.contains_key(&hash) {
                leases.retain(|_, e| e.active > 0 || e.asking.is_some());
            }
            leases.entry(hash).or_default().active += 1;
        });
        Presence(hash)
    }

    /// Tries the lease at `now` (the isolate's clock) for a request to `route`; `waited`: how
    /// many times this request already waited for another's call.
    pub fn step(
        &self,
        route: &Route<'_>,
        event: UsageEvent,
        now: UnixMillis,
        waited: usize,
    ) -> Step {
        LEASES.with_borrow_mut(|leases| {
            let entry = leases.entry(self.0).or_default();
            if entry.strict {
                return Step::Ask {
                    handback: None,
                    waiting: 1,
                    asking: Asking {
                        hash: Some(self.0),
                        signal: None,
                    },
                };
            }
            if let Some(signal) = &entry.asking {
                if waited < WAITS {
                    return Step::Wait(Waiting(signal.clone()));
                }
                // Waited long enough: ask alongside, without touching the shared call.
                return Step::Ask {
                    handback: None,
                    waiting: 1,
                    asking: Asking {
                        hash: None,
                        signal: None,
                    },
                };
            }
            if let Some(lease) = entry.lease.as_mut() {
                match lease.admit(route, event, now) {
                    Local::Over => {}
                    decided => return Step::Decided(decided),
                }
            }
            let handback = entry.lease.take().map(|lease| lease.hand_back(now));
            let signal = Rc::new(Signal::default());
            entry.asking = Some(signal.clone());
            Step::Ask {
                handback,
                waiting: entry.active.max(1),
                asking: Asking {
                    hash: Some(self.0),
                    signal: Some(signal),
                },
            }
        })
    }
}

/// Decides a request of `hash` to `route` at `now` under the lease held, if one holds, no call
/// of the key is in flight and the key's responses on the route are not filtered (that forward
/// reads the body: it is awaited); `None` otherwise, with nothing changed (the request then
/// goes through [`Presence::step`]). `country` is asked only for an event the lease keeps.
pub fn decide_now(
    hash: &KeyHash,
    route: &Route<'_>,
    mut event: UsageEvent,
    now: UnixMillis,
    country: impl FnOnce() -> Option<String>,
) -> Option<Local> {
    LEASES.with_borrow_mut(|leases| {
        let entry = leases.get_mut(hash)?;
        if entry.strict || entry.asking.is_some() {
            return None;
        }
        let lease = entry.lease.as_mut()?;
        if verify::filters(lease.record(), route) {
            return None;
        }
        if lease.samples_next() {
            event.country = country();
        }
        match lease.admit(route, event, now) {
            Local::Over => None,
            decided => Some(decided),
        }
    })
}

impl Drop for Presence {
    fn drop(&mut self) {
        LEASES.with_borrow_mut(|leases| {
            if let Some(entry) = leases.get_mut(&self.0) {
                entry.active = entry.active.saturating_sub(1);
            }
        });
    }
}

/// A call to the key's guard: the key's shared one (with a signal: dropping it ends the call for
/// the waiters, whatever happened), or one alongside (`hash`: it may still store what it gets).
pub struct Asking {
    hash: Option<KeyHash>,
    signal: Option<Rc<Signal>>,
}

impl Asking {
    /// The guard lent no lease for the request it admitted: the key is in strict mode.
    pub fn strict(&self) {
        if let Some(hash) = &self.hash {
            LEASES.with_borrow_mut(|leases| leases.entry(*hash).or_default().strict = true);
        }
    }

    /// Stores the lease the call brought back. When it lends units beyond the request in hand,
    /// the [`Flush`] that gives it back once it ends (unless a request renews it first), so its
    /// unused units and usage reach the guard within the lease period.
    pub fn store(&self, lease: Lease, spare: u32) -> Option<Flush> {
        let hash = self.hash.as_ref()?;
        let flush = (spare > 0).then(|| Flush {
            hash: *hash,
            guard: lease.record().id.clone(),
            identity: lease.identity(),
            at: lease.ends(),
        });
        LEASES.with_borrow_mut(|leases| {
            let entry = leases.entry(*hash).or_default();
            entry.lease = Some(lease);
            entry.strict = false;
        });
        flush
    }
}

/// A lease to give back when it ends, if no request has renewed it by then.
pub struct Flush {
    hash: KeyHash,
    guard: KeyId,
    identity: (Option<LeaseId>, UnixMillis),
    at: UnixMillis,
}

impl Flush {
    /// The key's guard.
    pub fn guard(&self) -> &KeyId {
        &self.guard
    }

    /// How long until the lease ends, from `now`.
    pub fn wait(&self, now: UnixMillis) -> Duration {
        Duration::from_millis(self.at.0.saturating_sub(now.0))
    }

    /// At `now`, once the lease has ended: takes it out and hands it back, if it is still the
    /// one held and no call of the key is in flight (that call hands it back itself).
    pub fn take(&self, now: UnixMillis) -> Option<Handback> {
        LEASES.with_borrow_mut(|leases| {
            let entry = leases.get_mut(&self.hash)?;
            let same = entry
                .lease
                .as_ref()
                .is_some_and(|l| l.identity() == self.identity);
            if !same || entry.asking.is_some() {
                return None;
            }
            entry.lease.take().map(|lease| lease.hand_back(now))
        })
    }
}

impl Drop for Asking {
    fn drop(&mut self) {
        if let (Some(hash), Some(signal)) = (self.hash, self.signal.take()) {
            LEASES.with_borrow_mut(|leases| {
                if let Some(entry) = leases.get_mut(&hash)
                    && entry
                        .asking
                        .as_ref()
                        .is_some_and(|s| Rc::ptr_eq(s, &signal))
                {
                    entry.asking = None;
                }
            });
            signal.fire();
        }
    }
}

/// Set once, when a call ends.
#[derive(Default)]
struct Signal {
    done: Cell<bool>,
}

impl Signal {
    fn fire(&self) {
        self.done.set(true);
    }
}

/// How often a waiting request looks whether the call it waits for ended.
const POLL: Duration = Duration::from_millis(1);

/// A call another request of the key has in flight.
pub struct Waiting(Rc<Signal>);

impl Waiting {
    /// Resolves once that call has ended. Polled on a timer of this request's own, never woken
    /// by the asking request: workerd cancels a request that waits on another request's events
    /// as hung (and I/O must stay in the request that makes it).
    pub async fn ended(self) {
        while !self.0.done.get() {
            worker::Delay::from(POLL).await;
        }
    }
}
