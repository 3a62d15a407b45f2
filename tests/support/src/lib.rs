//! What keygate's integration tests, benchmarks and `make dev` share: a recording origin, the
//! built worker on workerd, an HTTP client, the management client checked against the served
//! OpenAPI document, a headless Chromium for the console, assertions that report instead of
//! panicking, and the case harness.
//!
//! A crate of its own (a dev-dependency of keygate) rather than a module each test includes:
//! every test binary, bench and example links the one copy, and no part is dead code in any of
//! them. Every process started here is stopped when its handle drops, whatever the tests did.

mod admin;
mod assert;
mod browser;
mod cases;
mod gateway;
mod host;
mod http;
mod openapi;
mod origin;

pub use admin::Admin;
pub use assert::{check, eq, no_panic, refusal};
pub use browser::{Browser, Element, LogEntry};
pub use cases::{Case, fan_out, run_cases};
pub use gateway::{ADMIN_TOKEN, Gateway, GatewayOptions, SECRET_VARS, runtime_config};
pub use host::{command_lines, die_with_parent, free_port, now_ms, project_dir};
pub use http::{Reply, client, send, send_raw, send_with_key};
pub use origin::{EMPLOYEES, Origin, Seen};
