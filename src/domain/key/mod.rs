//! The key: its text format and checksum, its hash, where a request carries it, the record
//! stored for it, its accepted secrets, and the isolate's cache of records.

pub mod cache;
pub mod credential;
pub mod fallback;
pub mod format;
pub mod hash;
pub mod record;
pub mod secret;
