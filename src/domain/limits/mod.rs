//! Limits: rate-limit windows and their leases, plans, a guard's meter, usage.

pub mod lease;
pub mod meter;
pub mod plan;
pub mod usage;
pub mod window;
