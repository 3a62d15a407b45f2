//! Time as integer Unix milliseconds. Only the edge reads the clock
//! (`SystemTime::now()` panics on wasm32-unknown-unknown); everything here takes `now`.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// Milliseconds in one day.
    pub const DAY: u64 = 86_400_000;

    /// `self + ms`, saturating at the far future rather than wrapping.
    pub fn plus_millis(self, ms: u64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(ms))
    }
}
