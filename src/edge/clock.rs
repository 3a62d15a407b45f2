//! The only place that reads the clock (`SystemTime::now()` panics on wasm32).

use crate::domain::UnixMillis;

/// Now, from the runtime's clock.
pub fn now() -> UnixMillis {
    UnixMillis(worker::js_sys::Date::now() as u64)
}
