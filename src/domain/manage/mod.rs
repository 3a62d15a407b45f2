//! The management API: its routes, who may call what, request bodies and their rules, the
//! views it answers with, the resource registry, and the audit log.

pub mod actor;
pub mod audit;
pub mod body;
pub mod console;
pub mod details;
pub mod listing;
pub mod login;
pub mod org;
pub mod refusal;
pub mod registry;
pub mod route;
pub mod rules;
pub mod view;

pub use body::{CreateKey, KeyPatch, NewKey, PutOrg, RotateKey, UpdateKey, parse_body};
