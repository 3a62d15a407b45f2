//! Limits: rate-limit windows, their bounds and leases, plans, a guard's meter, usage.

pub mod bounds;
pub mod lease;
pub mod meter;
pub mod plan;
pub mod usage;
pub mod window;
