//! Leaked keys: GitHub's secret-scanning reports (signed batches of found tokens) and what an
//! organization does with a key found in public (`on_leak`).

mod github;
mod on_leak;

pub use github::{
    Feedback, FoundToken, KeyList, Label, MAX_REPORT_BYTES, PublicKeyError, ReportError,
    parse_report, verify_signature,
};
pub use on_leak::{FoundSecret, LeakAction, OnLeak};

use serde::{Deserialize, Serialize};

use crate::domain::key::hash::KeyHash;
use crate::domain::key::record::{KeyId, OrgId};

/// Where a leaked key's owner is found: every secret keygate issues is indexed by its hash
/// under [`index_key`], kept after the key is revoked, so a report can tell one of keygate's
/// keys (revoked or not) from a string that only looks like one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The key's organization.
    pub org: OrgId,
    /// The key.
    pub id: KeyId,
}

/// The KV name of a secret's [`Owner`] entry.
pub fn index_key(hash: &KeyHash) -> String {
    format!("leak:{}", hash.to_hex())
}

/// `POST /v1/leaked`: a key someone found.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LeakReport {
    /// The key as found.
    pub key: String,
    /// Where it was found, if the reporter says.
    #[serde(default)]
    pub url: Option<String>,
}
