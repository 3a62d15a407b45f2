//! Authorization: the route policy (canonical request → rule), scopes, resource restrictions
//! and their parent types, field filtering, and the verification stages that take a key from
//! its record to an authorized request.

pub mod fields;
pub mod policy;
pub mod resource;
pub mod scope;
pub mod verify;
