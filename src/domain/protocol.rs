//! The messages between the worker and its two Durable Objects. Both objects take a serde
//! enum, never a path to sniff.
//!
//! - The **organization catalog** (one per organization) is the source of truth for the
//!   organization's plan, its keys and its audit log. It enforces the key limit in one
//!   synchronous SQL section, so concurrent creates cannot exceed it.
//! - The **directory** (one per deployment) lists the organizations for `GET /orgs`: each
//!   catalog enters its organization before creating it and sends its view after each change.
//! - The **key guard** (one per key id, so it survives rotation) holds the authoritative
//!   record and the hashes of the secrets that may be used. The verification path asks it
//!   whenever the isolate holds no admission lease of the key (`domain::admission`), and a lease
//!   lasts at most the revocation bound, so revoking or disabling acts everywhere within that
//!   bound (on the next request with a bound of 0) even while KV and the isolate cache still hold
//!   the old record.

use serde::{Deserialize, Serialize};

use crate::domain::admission::{Ask, Grant, Handback};
use crate::domain::authz::policy::Route;
use crate::domain::authz::resource::ResourceRef;
use crate::domain::authz::scope::{Action, Scope, WriteMeaning};
use crate::domain::error::GateError;
use crate::domain::key::hash::KeyHash;
use crate::domain::key::record::{KeyId, KeyRecord, OrgId, RecordDigest};
use crate::domain::key::secret::Secret;
use crate::domain::limits::usage::{Cost, Series, UsageEvent};
use crate::domain::limits::window::{Decision, WindowReport};
use crate::domain::manage::actor::Actor;
use crate::domain::manage::audit::AuditQuery;
use crate::domain::manage::body::{KeyPatch, NewKey, PutOrg};
use crate::domain::manage::listing::{KeyQuery, OrgPage, ResourcePage};
use crate::domain::time::UnixMillis;
use crate::domain::webhook::WebhookCommand;

/// A request to an organization catalog: a read, a change (run one at a time, audited), or a
/// guard's notice of what it saw. `org` is the catalog's own organization, `id` a key of it,
/// and `actor` who asks (the catalog judges what the actor may set against the plan).
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")] // externally tagged: RawValue meta cannot pass a buffered (internally tagged) enum
pub enum OrgCommand {
    /// Reads: nothing changes.
    Query(OrgQuery),
    /// Changes, made one at a time and audited.
    Change(OrgChange),
    /// What a key's guard saw, recorded in the audit log.
    Notice(OrgNotice),
    /// The organization's webhook endpoints.
    Webhook(WebhookRequest),
}

/// A webhook route's command for the catalog of `org`.
#[derive(Serialize, Deserialize, Debug)]
pub struct WebhookRequest {
    /// The catalog's organization.
    pub org: OrgId,
    /// Who asks (changes are audited under their name).
    pub actor: Actor,
    /// What to do.
    pub command: WebhookCommand,
}

/// A read of an organization catalog.
#[allow(missing_docs)] // the fields are the ids described on [`OrgCommand`]
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum OrgQuery {
    /// Read the organization.
    GetOrg { org: OrgId },
    /// List live keys: filtered, ordered and paged as `query` says.
    ListKeys { org: OrgId, query: KeyQuery },
    /// Read one key.
    GetKey { org: OrgId, id: KeyId },
    /// A key's usage (asked of its guard): the summary, or `series` when given.
    KeyUsage {
        org: OrgId,
        id: KeyId,
        #[serde(default)]
        series: Option<Series>,
    },
    /// Read the audit log.
    Audit { org: OrgId, query: AuditQuery },
    /// Read one registration.
    GetResource { org: OrgId, resource: ResourceRef },
    /// List the registrations of one type.
    ListResources {
        org: OrgId,
        kind: String,
        page: ResourcePage,
    },
}

impl OrgChange {
    /// The organization it changes.
    pub fn org(&self) -> &OrgId {
        match self {
            OrgChange::PutOrg { org, .. }
            | OrgChange::CreateKey { org, .. }
            | OrgChange::UpdateKey { org, .. }
            | OrgChange::RevokeKey { org, .. }
            | OrgChange::RotateKey { org, .. }
            | OrgChange::RevokeAll { org, .. }
            | OrgChange::KeyLeaked { org, .. }
            | OrgChange::PutResource { org, .. }
            | OrgChange::DeleteResource { org, .. } => org,
        }
    }
}

/// A change to an organization catalog, by `actor`.
#[allow(missing_docs)] // the fields are the ids and actor described on [`OrgCommand`]
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum OrgChange {
    /// Create or update the organization.
    PutOrg {
        org: OrgId,
        change: PutOrg,
        actor: Actor,
    },
    /// Create a key.
    CreateKey {
        org: OrgId,
        key: NewKey,
        actor: Actor,
    },
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
    /// Register `resource` under `parent` (validated against the policy), or move it there.
    PutResource {
        org: OrgId,
        resource: ResourceRef,
        parent: ResourceRef,
        actor: Actor,
    },
    /// Remove a registration.
    DeleteResource {
        org: OrgId,
        resource: ResourceRef,
        actor: Actor,
    },
    /// One of the keys was found in public at `url` (`source`): apply the `on_leak` setting.
    KeyLeaked {
        org: OrgId,
        id: KeyId,
        /// Which of the key's secrets was found.
        hash: KeyHash,
        url: String,
        source: String,
    },
}

/// What a key's guard tells its organization's catalog, for the audit log.
#[allow(missing_docs)] // the fields are the ids described on [`OrgCommand`]
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum OrgNotice {
    /// The guard saw this key expired for the first time.
    KeyExpired { org: OrgId, id: KeyId },
    /// The guard refused a request with this key (`start`: the presented key's start).
    AuthFailed {
        org: OrgId,
        id: KeyId,
        reason: String,
        start: String,
    },
    /// The guard refused this key for the first time in `window` (name, limit, seconds).
    RateLimited {
        org: OrgId,
        id: KeyId,
        window: String,
        limit: u32,
        window_seconds: u32,
    },
    /// The guard admitted this key (reported at most once an hour), from `country`.
    AuthSucceeded {
        org: OrgId,
        id: KeyId,
        country: Option<String>,
    },
    /// The key's usage as its guard knows it (reported at most once a minute while it is
    /// used), so listings can filter and sort by it without asking every guard.
    Used {
        org: OrgId,
        id: KeyId,
        last_used_at: Option<UnixMillis>,
        requests_total: u64,
    },
}

/// A request to the directory of organizations.
#[allow(missing_docs)] // the organization described on the variant
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryCommand {
    /// Enter an organization (idempotent): done before its catalog creates it.
    Add { org: OrgId },
    /// The organization as `GET /orgs/{org}` shows it after a change, so a listing needs
    /// no request per organization.
    Put { org: OrgId, view: serde_json::Value },
    /// Organizations in id order, one page; answers a [`DirectoryPage`].
    List { page: OrgPage },
}

/// A page of the directory.
#[derive(Serialize, Deserialize, Debug)]
pub struct DirectoryPage {
    /// The organizations, in id order.
    pub orgs: Vec<DirectoryEntry>,
    /// Whether more follow the last one.
    pub more: bool,
}

/// One organization in the directory.
#[derive(Serialize, Deserialize, Debug)]
pub struct DirectoryEntry {
    /// Its id.
    pub id: OrgId,
    /// Its view after its last change; `None` until the catalog first sent one.
    pub view: Option<serde_json::Value>,
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
    /// The verification path: check the secret (`start`: its visible start, for the audit log), the
    /// key's status and its authorization for `access`, then decide and count its rate-limit
    /// windows and record `event`, all in one call. Answers a [`GuardVerdict`] with a decision
    /// when the key may make the request. `known`: the digest of the record the worker holds,
    /// so the verdict carries the record only when it differs.
    Admit {
        hash: KeyHash,
        start: String,
        access: OwnedRoute,
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
    /// The key's usage (a [`UsageView`](crate::domain::limits::usage::UsageView)).
    Usage,
    /// The key's usage over time (a [`SeriesView`](crate::domain::limits::usage::SeriesView)).
    UsageSeries(Series),
}

/// A [`Route`] owned, as sent to the guard.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct OwnedRoute {
    /// Scope resource.
    pub resource: String,
    /// Action.
    pub action: Action,
    /// The scopes the matched rule requires (empty: `resource:action`).
    #[serde(default)]
    pub requires: Vec<Scope>,
    /// What `write` includes in this deployment.
    #[serde(default)]
    pub write: WriteMeaning,
    /// Restricted types and the ids the request names.
    pub ids: Vec<(String, Option<String>)>,
    /// The parent type of each type in `ids` that has one.
    #[serde(default)]
    pub parents: Vec<(String, String)>,
    /// Field-filtering envelope.
    pub envelope: Option<String>,
    /// The id types keys may be restricted on; `None`: the policy has no rules.
    #[serde(default)]
    pub known_types: Option<Vec<String>>,
}

impl OwnedRoute {
    /// The owned form of `route`.
    pub fn of(route: &Route<'_>) -> OwnedRoute {
        OwnedRoute {
            resource: route.resource.to_owned(),
            action: route.action,
            requires: route.requires.to_vec(),
            write: route.write,
            ids: route
                .ids
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            parents: route
                .parents
                .iter()
                .map(|(c, p)| ((*c).to_owned(), (*p).to_owned()))
                .collect(),
            envelope: route.envelope.map(str::to_owned),
            known_types: route.known_types.map(<[String]>::to_vec),
        }
    }

    /// The borrowed form, for [`authorize`](crate::domain::authz::verify::authorize).
    pub fn route(&self) -> Route<'_> {
        Route {
            resource: &self.resource,
            action: self.action,
            requires: &self.requires,
            write: self.write,
            ids: self
                .ids
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
            parents: self
                .parents
                .iter()
                .map(|(c, p)| (c.as_str(), p.as_str()))
                .collect(),
            envelope: self.envelope.as_deref(),
            known_types: self.known_types.as_deref(),
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
    InsufficientScope {
        needed: Vec<Scope>,
        missing: Vec<Scope>,
        read_only: bool,
    },
    ResourceForbidden {
        kind: String,
        id: Option<String>,
    },
}

impl KeyRefusal {
    /// The refusal behind `error`, if it is one of the status or authorization checks.
    pub fn of(error: &GateError) -> Option<KeyRefusal> {
        Some(match error {
            GateError::InvalidKey => KeyRefusal::InvalidKey,
            GateError::ExpiredKey => KeyRefusal::ExpiredKey,
            GateError::DisabledKey => KeyRefusal::DisabledKey,
            GateError::ApiPlanRequired => KeyRefusal::ApiPlanRequired,
            GateError::InsufficientScope {
                needed,
                missing,
                read_only,
            } => KeyRefusal::InsufficientScope {
                needed: needed.clone(),
                missing: missing.clone(),
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
            KeyRefusal::InsufficientScope {
                needed,
                missing,
                read_only,
            } => GateError::InsufficientScope {
                needed,
                missing,
                read_only,
            },
            KeyRefusal::ResourceForbidden { kind, id } => GateError::ResourceForbidden { kind, id },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
