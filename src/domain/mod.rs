//! The runtime-free core of keygate. Nothing here reads the clock, the network or the
//! environment: callers pass `now`, header values and variable lookups in.
#![warn(missing_docs)]

pub mod actor;
pub mod admission;
pub mod audit;
pub mod catalog;
pub mod client;
pub mod config;
pub mod cors;
pub mod credential;
pub mod endpoint;
pub mod error;
pub mod fields;
pub mod forward;
pub mod hash;
pub mod key;
pub mod keycache;
pub mod manage;
pub mod meter;
pub mod plan;
pub mod policy;
pub mod record;
pub mod request;
pub mod scope;
pub mod time;
pub mod usage;
pub mod verify;
pub mod window;

pub use config::{Config, ConfigError};
pub use credential::Credential;
pub use error::GateError;
pub use hash::KeyHash;
pub use key::{ApiKey, KeyFormatError, KeyPrefix};
pub use plan::Plan;
pub use policy::{Policy, Route};
pub use record::{KeyId, KeyRecord, KeyStatus, LimiterFallback, OrgId, RateLimit, RecordDigest};
pub use scope::{Action, Scope};
pub use time::UnixMillis;
pub use verify::{ActiveKey, AuthorizedKey, FieldScope};
