//! keygate: an API-key gateway for the edge, run as a Cloudflare Worker.
//!
//! - [`domain`] is the product in plain Rust: key format, hashing, records, credential
//!   extraction, verification stages, errors and configuration. It never names the Workers
//!   runtime, so `cargo test` on the host exercises all of it.
//! - `edge` (wasm32 only) is the thin workers-rs glue: the fetch handler, KV, and the origin
//!   fetch. It parses, calls `domain`, and responds.

pub mod domain;

#[cfg(target_arch = "wasm32")]
mod edge;
