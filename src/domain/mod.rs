//! The runtime-free core of keygate. Nothing here reads the clock, the network or the
//! environment: callers pass `now`, header values and variable lookups in.
//!
//! Grouped by concept: [`key`] (format, hash, credential, record, secrets, the isolate's
//! cache), [`authz`] (policy, scopes, fields, the verification stages), [`limits`] (windows,
//! leases, plans, meter, usage), [`admission`] (the leases an isolate admits with), [`manage`]
//! (the management API: routes, who may do what, bodies, views, audit), [`http`] (the
//! canonical request, clients, CORS, what the origin receives), [`protocol`] (the Durable
//! Objects' messages), [`webhook`] (events, signed deliveries, retries, notices), [`leak`]
//! (secret-scanning reports and what a leak does), [`error`],
//! [`config`] and [`time`].
#![warn(missing_docs)]

pub mod admission;
pub mod authz;
pub mod config;
pub mod config_error;
pub mod error;
pub mod http;
pub mod key;
pub mod leak;
pub mod limits;
pub mod manage;
pub mod protocol;
pub mod time;
pub mod webhook;

pub use authz::policy::{Policy, Route};
pub use authz::scope::{Action, Scope};
pub use authz::verify::{ActiveKey, AuthorizedKey, FieldScope};
pub use config::{Config, ConfigError};
pub use error::GateError;
pub use key::credential::Credential;
pub use key::format::{ApiKey, KeyFormatError, KeyPrefix};
pub use key::hash::KeyHash;
pub use key::record::{GuardFallback, KeyId, KeyRecord, KeyStatus, OrgId, RecordDigest};
pub use limits::plan::Plan;
pub use limits::window::RateLimit;
pub use time::UnixMillis;

// The flat paths of the first layout, kept for the tests, benches and fuzz targets that import
// them. New code imports the grouped paths above.
#[doc(hidden)]
pub use authz::{fields, policy, scope, verify};
#[doc(hidden)]
pub use http::{forward, request};
#[doc(hidden)]
pub use limits::{usage, window};

/// The flat `catalog` path of the first layout: the objects' messages and the secrets.
#[doc(hidden)]
pub mod catalog {
    pub use super::key::secret::{Secret, accepts, rotate};
    /// The first layout's name of [`OwnedRoute`].
    pub use super::protocol::OwnedRoute as Access;
    pub use super::protocol::*;
}
