//! The messages between the worker and its two Durable Objects, and the secret bookkeeping
//! of rotation. Both objects take a serde enum, never a path to sniff.
//!
//! - The **organization catalog** (one per organization) is the source of truth for the
//!   organization's plan, its keys and its audit log. It enforces the key limit in one
//!   synchronous SQL section, so concurrent creates cannot exceed it.
//! - The **key guard** (one per key id, so it survives rotation) holds the authoritative
//!   record and the hashes of the secrets that may be used. The verification path asks it
//!   whenever the isolate holds no admission lease of the key (`domain::admission`), and a lease
//!   lasts at most the revocation bound, so revoking or disabling acts everywhere within that
//!   bound (on the next request with a bound of 0) even while KV and the isolate cache still hold
//!   the old record.

use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::admission::{Ask, Grant, Handback};
use super::audit::AuditQuery;
use super::error::GateError;
use super::hash::KeyHash;
use super::manage::{KeyPatch, NewKey, PutOrg};
use super::policy::Route;
use super::record::{KeyId, KeyRecord, OrgId, RecordDigest};
use super::scope::Action;
use super::time::UnixMillis;
use super::usage::{Cost, UsageEvent};
use super::window::{Decision, WindowReport};

/// A request to an organization catalog. `org` is the catalog's own organization, `id` a key
/// of it, and `actor` who asks (the catalog judges what the actor may set against the plan).
#[allow(missing_docs)] // the fields are the ids and actor described above
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")] // externally tagged: RawValue meta cannot pass a buffered (internally tagged) enum
pub enum OrgCommand {
    /// Create or update the organization.
    PutOrg {
        org: OrgId,
        change: PutOrg,
        actor: Actor,
    },
    /// Read the organization.
    GetOrg { org: OrgId },
    /// Create a key.
    CreateKey {
        org: OrgId,
        key: NewKey,
        actor: Actor,
    },
    /// List live keys, newest first.
    ListKeys { org: OrgId, query: AuditQuery },
    /// Read one key.
    GetKey { org: OrgId, id: KeyId },
    /// Change a key.
    UpdateKey {
        org: OrgId,
        id: KeyId,
        patch: KeyPatch,
        actor: Actor,
    },
    /// Revoke a key.
    RevokeKey { org: OrgId, id: KeyId, actor: Actor },
    /// Give a key a new secret; the old one works for `grace_hours` more.
    RotateKey {
        org: OrgId,
        id: KeyId,
        grace_hours: u32,
        actor: Actor,
    },
    /// Revoke every key.
    RevokeAll { org: OrgId, actor: Actor },
    /// A key's usage (asked of its guard).
    KeyUsage { org: OrgId, id: KeyId },
    /// Read the audit log.
    Audit { org: OrgId, query: AuditQuery },
    /// A guard saw this key expired for the first time.
    KeyExpired { org: OrgId, id: KeyId },
    /// A guard refused a request with this key (`start`: the presented key's mask).
    AuthFailed {
        org: OrgId,
        id: KeyId,
        reason: String,
        start: String,
    },
}

/// A secret a key accepts: its hash, and until when (exclusive) if it is being retired.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// SHA-256 of the secret.
    pub hash: KeyHash,
    /// `None` for the current secret; the end of the grace period for a rotated-out one.
    pub until: Option<UnixMillis>,
}

/// A request to a key guard.
#[allow(missing_docs)] // fields described on the variants
#[allow(clippy::large_enum_variant)] // a message: built once per request, serialized at once
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")] // externally tagged: RawValue meta cannot pass a buffered (internally tagged) enum
pub enum GuardCommand {
    /// Replace the guard's state (the catalog is the writer; the guard is the authority).
    Set {
        record: Box<KeyRecord>,
        secrets: Vec<Secret>,
    },
    /// May the secret with this hash be used now? Answers a [`GuardVerdict`] without a
    /// decision (the management API's check of admin-scoped keys: not rate limited).
    Check { hash: KeyHash },
    /// The verification path: check the secret (`start`: its mask, for the audit log), the
    /// key's status and its authorization for `access`, then decide and count its rate-limit
    /// windows and record `event`, all in one call. Answers a [`GuardVerdict`] with a decision
    /// when the key may make the request. `known`: the digest of the record the worker holds,
    /// so the verdict carries the record only when it differs.
    Admit {
        hash: KeyHash,
        start: String,
        access: Access,
        event: UsageEvent,
        #[serde(default)]
        known: Option<RecordDigest>,
        /// Asks for an admission lease (see `domain::admission`), handing back the previous
        /// one; `None` keeps strict mode (the guard decides every request).
        #[serde(default)]
        lease: Option<Ask>,
    },
    /// A lease given back without a request (its period ended): release its unused units and
    /// record its usage. Answers `{}`.
    HandBack { handback: Handback },
    /// The key's usage.
    Usage,
}

/// A route as sent to the guard.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Access {
    /// Scope resource.
    pub resource: String,
    /// Action.
    pub action: Action,
    /// Restricted types and the ids the request names.
    pub ids: Vec<(String, Option<String>)>,
    /// Field-filtering envelope.
    pub envelope: Option<String>,
}

impl Access {
    /// The owned form of `route`.
    pub fn of(route: &Route<'_>) -> Access {
        Access {
            resource: route.resource.to_owned(),
            action: route.action,
            ids: route
                .ids
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            envelope: route.envelope.map(str::to_owned),
        }
    }

    /// The borrowed form, for [`authorize`](super::verify::authorize).
    pub fn route(&self) -> Route<'_> {
        Route {
            resource: &self.resource,
            action: self.action,
            ids: self
                .ids
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
            envelope: self.envelope.as_deref(),
        }
    }
}

/// What the guard says of a secret and the key's record.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// The secret is not accepted: never issued, rotated out, or the guard has no state.
    Unknown,
    /// Accepted, and the authoritative record is the one the worker holds (same digest).
    Unchanged,
    /// Accepted, with the authoritative record (the worker held none, or a stale one).
    Current(Box<KeyRecord>),
}

impl Standing {
    /// The standing of an accepted secret whose authoritative record is `record`, for a worker
    /// holding a record with digest `known`.
    pub fn of(record: &KeyRecord, digest: RecordDigest, known: Option<RecordDigest>) -> Standing {
        if known == Some(digest) {
            Standing::Unchanged
        } else {
            Standing::Current(Box::new(record.clone()))
        }
    }

    /// The authoritative record: the guard's, or `held` when it is unchanged; `None` when the
    /// secret is not accepted.
    pub fn record(self, held: KeyRecord) -> Option<KeyRecord> {
        match self {
            Standing::Unknown => None,
            Standing::Unchanged => Some(held),
            Standing::Current(record) => Some(*record),
        }
    }
}

/// The guard's answer to [`GuardCommand::Check`] and [`GuardCommand::Admit`].
#[derive(Serialize, Deserialize, Debug)]
pub struct GuardVerdict {
    /// Whether the secret is accepted, and the record when the worker's is not current.
    pub standing: Standing,
    /// The guard's clock when it decided.
    pub now: UnixMillis,
    /// For `Admit` of an accepted secret: what the guard decided. The worker renders it and
    /// never repeats the checks behind it.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// For `Admit` with a lease asked for, when the request was admitted: the lease lent.
    #[serde(default)]
    pub lease: Option<Grant>,
    /// What the guard spent answering: its storage writes and its own calls to the catalog.
    #[serde(default)]
    pub cost: Cost,
}

/// What the guard decided of a request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Admitted and counted; every window after counting it (and any lease lent with it).
    Admitted {
        /// The windows, for the rate-limit headers.
        windows: Vec<WindowReport>,
    },
    /// A window is full; nothing counted.
    Limited {
        /// The windows, for the rate-limit headers.
        windows: Vec<WindowReport>,
        /// Seconds until every full window has room (at least 1).
        retry_after: u64,
    },
    /// Refused by the key's status or its authorization for the request.
    Refused(KeyRefusal),
}

impl Outcome {
    /// The outcome of a rate-limit decision, or of the refusal that came before it.
    pub fn of(decision: Option<Decision>, refusal: Option<KeyRefusal>) -> Option<Outcome> {
        match (refusal, decision) {
            (Some(refusal), _) => Some(Outcome::Refused(refusal)),
            (None, Some(Decision::Allowed { windows })) => Some(Outcome::Admitted { windows }),
            (
                None,
                Some(Decision::Limited {
                    windows,
                    retry_after,
                }),
            ) => Some(Outcome::Limited {
                windows,
                retry_after,
            }),
            (None, None) => None,
        }
    }
}

/// The refusals of the key's status and authorization checks, as they cross from the guard to
/// the worker: typed, never an error code to parse.
#[allow(missing_docs)] // the fields of the `GateError` variants of the same names
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyRefusal {
    InvalidKey,
    ExpiredKey,
    DisabledKey,
    ApiPlanRequired,
    InsufficientScope { needed: String, read_only: bool },
    ResourceForbidden { kind: String, id: Option<String> },
}

impl KeyRefusal {
    /// The refusal behind `error`, if it is one of the status or authorization checks.
    pub fn of(error: &GateError) -> Option<KeyRefusal> {
        Some(match error {
            GateError::InvalidKey => KeyRefusal::InvalidKey,
            GateError::ExpiredKey => KeyRefusal::ExpiredKey,
            GateError::DisabledKey => KeyRefusal::DisabledKey,
            GateError::ApiPlanRequired => KeyRefusal::ApiPlanRequired,
            GateError::InsufficientScope { needed, read_only } => KeyRefusal::InsufficientScope {
                needed: needed.clone(),
                read_only: *read_only,
            },
            GateError::ResourceForbidden { kind, id } => KeyRefusal::ResourceForbidden {
                kind: kind.clone(),
                id: id.clone(),
            },
            _ => return None,
        })
    }

    /// The error the worker answers with.
    pub fn error(self) -> GateError {
        match self {
            KeyRefusal::InvalidKey => GateError::InvalidKey,
            KeyRefusal::ExpiredKey => GateError::ExpiredKey,
            KeyRefusal::DisabledKey => GateError::DisabledKey,
            KeyRefusal::ApiPlanRequired => GateError::ApiPlanRequired,
            KeyRefusal::InsufficientScope { needed, read_only } => {
                GateError::InsufficientScope { needed, read_only }
            }
            KeyRefusal::ResourceForbidden { kind, id } => GateError::ResourceForbidden { kind, id },
        }
    }
}

/// Whether `hash` is an accepted secret at `now`. A retired secret stops at `until` exactly.
pub fn accepts(secrets: &[Secret], hash: &KeyHash, now: UnixMillis) -> bool {
    secrets
        .iter()
        .any(|s| s.hash == *hash && s.until.is_none_or(|until| now < until))
}

/// The secrets after rotating to `new`: the new one, plus the current one until
/// `now + grace_hours` (none when the grace is 0). Secrets already being retired are dropped:
/// one rotation's grace ends when the next rotation starts.
pub fn rotate(secrets: &[Secret], new: KeyHash, grace_hours: u32, now: UnixMillis) -> Vec<Secret> {
    let mut out = vec![Secret {
        hash: new,
        until: None,
    }];
    if grace_hours > 0 {
        let until = now.plus_millis(u64::from(grace_hours) * UnixMillis::HOUR);
        out.extend(
            secrets
                .iter()
                .filter(|s| s.until.is_none())
                .map(|s| Secret {
                    hash: s.hash,
                    until: Some(until),
                }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::ApiKey;

    fn hash() -> KeyHash {
        KeyHash::of(&ApiKey::generate(&Default::default()).unwrap())
    }

    #[test]
    fn the_record_travels_only_when_the_worker_holds_another() {
        let record = |name: &str| {
            KeyRecord::from_json(&format!(
                r#"{{"id":"key_abc123","org":"acme","name":"{name}","created_at":1}}"#
            ))
            .unwrap()
        };
        let (guards, stale) = (record("Current"), record("Stale"));
        let digest = guards.digest();
        let same = Standing::of(&guards, digest, Some(digest));
        assert!(matches!(same, Standing::Unchanged));
        assert_eq!(same.record(guards.clone()).unwrap().name, "Current");
        for known in [None, Some(stale.digest())] {
            let standing = Standing::of(&guards, digest, known);
            let json = serde_json::to_string(&standing).unwrap();
            let back: Standing = serde_json::from_str(&json).unwrap();
            assert_eq!(back.record(stale.clone()).unwrap().name, "Current");
        }
        assert!(Standing::Unknown.record(stale).is_none());
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_the_grace_period() {
        let (old, new) = (hash(), hash());
        let now = UnixMillis(1_000);
        let secrets = rotate(
            &[Secret {
                hash: old,
                until: None,
            }],
            new,
            24,
            now,
        );
        let end = now.plus_millis(24 * UnixMillis::HOUR);
        assert!(accepts(&secrets, &new, now));
        assert!(accepts(&secrets, &old, UnixMillis(end.0 - 1)));
        assert!(!accepts(&secrets, &old, end));
        assert!(accepts(&secrets, &new, UnixMillis(u64::MAX)));
        assert!(!accepts(&secrets, &hash(), now));
    }

    #[test]
    fn zero_grace_and_second_rotation_retire_at_once() {
        let (a, b, c) = (hash(), hash(), hash());
        let now = UnixMillis(1_000);
        let none = rotate(
            &[Secret {
                hash: a,
                until: None,
            }],
            b,
            0,
            now,
        );
        assert_eq!(
            none,
            vec![Secret {
                hash: b,
                until: None
            }]
        );
        let first = rotate(
            &[Secret {
                hash: a,
                until: None,
            }],
            b,
            24,
            now,
        );
        let second = rotate(&first, c, 24, now);
        assert!(
            !accepts(&second, &a, now),
            "a secret two rotations old still works"
        );
        assert!(accepts(&second, &b, now) && accepts(&second, &c, now));
    }
}
