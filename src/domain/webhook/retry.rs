//! At-least-once delivery: each event is tried until its endpoint answers 2xx, with growing
//! delays, and given up after the last one (the endpoint is then marked failing).

use serde::{Deserialize, Serialize};

use crate::domain::time::UnixMillis;

/// The waits after the 1st, 2nd, … failed try: 5 s, 1 min, 10 min, 1 h, 6 h, 24 h. After the
/// seventh try fails the delivery is given up, about 31 hours after the event. A deployment may
/// set its own (`WEBHOOK_RETRY_DELAYS_MS`).
pub const RETRY_DELAYS_MS: [u64; 6] = [5_000, 60_000, 600_000, 3_600_000, 21_600_000, 86_400_000];

/// How one try ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered with this status (2xx is delivered).
    Answered(u16),
    /// No answer: refused connection, timeout, DNS (the runtime's words).
    Failed(String),
}

/// Where a delivery stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// To be tried at `next_at` (try number `attempts + 1`).
    #[allow(missing_docs)]
    Pending { attempts: u32, next_at: UnixMillis },
    /// The endpoint took it.
    #[allow(missing_docs)]
    Delivered { attempts: u32, at: UnixMillis },
    /// Every try failed; the endpoint is marked failing.
    #[allow(missing_docs)]
    GivenUp { attempts: u32, at: UnixMillis },
}

impl DeliveryState {
    /// A new delivery, due now.
    pub fn new(now: UnixMillis) -> DeliveryState {
        DeliveryState::Pending {
            attempts: 0,
            next_at: now,
        }
    }

    /// The state after a try that ended as `attempt` at `now`, waiting `delays[n - 1]` after
    /// the n-th failed try and giving up when they run out. Only a pending delivery is tried;
    /// any other state stays as it is.
    pub fn after(self, attempt: &Attempt, now: UnixMillis, delays: &[u64]) -> DeliveryState {
        let DeliveryState::Pending { attempts, .. } = self else {
            return self;
        };
        let attempts = attempts + 1;
        if matches!(attempt, Attempt::Answered(status) if (200..300).contains(status)) {
            return DeliveryState::Delivered { attempts, at: now };
        }
        match delays.get(attempts as usize - 1) {
            Some(delay) => DeliveryState::Pending {
                attempts,
                next_at: UnixMillis(now.0 + delay),
            },
            None => DeliveryState::GivenUp { attempts, at: now },
        }
    }

    /// When it must be tried next, if ever.
    pub fn due_at(self) -> Option<UnixMillis> {
        match self {
            DeliveryState::Pending { next_at, .. } => Some(next_at),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_then_give_up() {
        let mut state = DeliveryState::new(UnixMillis(0));
        let mut now = UnixMillis(0);
        let mut waits = Vec::new();
        while let Some(due) = state.due_at() {
            waits.push(due.0 - now.0);
            now = due;
            state = state.after(
                &Attempt::Failed("connection refused".into()),
                now,
                &RETRY_DELAYS_MS,
            );
        }
        assert_eq!(waits[0], 0, "the first try is immediate");
        assert_eq!(&waits[1..], &RETRY_DELAYS_MS);
        assert_eq!(
            state,
            DeliveryState::GivenUp {
                attempts: 7,
                at: now
            }
        );
    }

    #[test]
    fn a_2xx_delivers_and_anything_else_retries() {
        let start = DeliveryState::new(UnixMillis(10));
        for status in [200, 201, 204, 299] {
            assert_eq!(
                start.after(&Attempt::Answered(status), UnixMillis(20), &RETRY_DELAYS_MS),
                DeliveryState::Delivered {
                    attempts: 1,
                    at: UnixMillis(20)
                }
            );
        }
        for status in [100, 301, 400, 410, 500, 503] {
            assert_eq!(
                start
                    .after(&Attempt::Answered(status), UnixMillis(20), &RETRY_DELAYS_MS)
                    .due_at(),
                Some(UnixMillis(5_020)),
                "{status}"
            );
        }
        let done = start.after(&Attempt::Answered(200), UnixMillis(20), &RETRY_DELAYS_MS);
        assert_eq!(
            done.after(&Attempt::Answered(500), UnixMillis(30), &RETRY_DELAYS_MS),
            done
        );
    }
}
