//! The protected API's requests: the canonical request parsed once, who sent it, CORS, and
//! what the origin receives (headers and the signed identity).

pub mod client;
pub mod cors;
pub mod forward;
pub mod headers;
pub mod method;
pub mod request;
pub mod target;
