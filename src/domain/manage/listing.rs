//! Listing keys, organizations and registered resources: the filters and order of
//! `GET /orgs/{org}/keys`, the pages of `GET /orgs` and `GET /orgs/{org}/resources/{type}`,
//! and the key selection itself (pure: the catalog hands in every live key with
//! the usage its guard last reported, and gets back one page).
//!
//! Cursors are positions in the chosen order (`<sort>.<value>.<seq>`), not offsets: keys
//! created or revoked between two pages neither repeat nor skip the keys that stay.

use serde::{Deserialize, Serialize};

use crate::domain::authz::resource::is_resource_id;
use crate::domain::authz::scope::Scope;
use crate::domain::error::GateError;
use crate::domain::key::record::{KeyRecord, KeyStatus, OrgId};
use crate::domain::key::secret::Secret;
use crate::domain::time::UnixMillis;

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most items per page.
pub const MAX_LIMIT: u32 = 200;
/// Longest `q` (name search) accepted, in characters (a name is at most 100).
const MAX_SEARCH_CHARS: usize = 200;

/// The refusal of query parameter `name`, saying `why`.
pub fn invalid_param(name: &str, why: &str) -> GateError {
    GateError::InvalidRequest(format!("Invalid query parameter {name}: {why}"))
}

use invalid_param as bad;

/// Refuses a parameter given twice: which of two filters applies must never be a guess (a
/// cache or proxy in front may read the first where keygate would read the last).
pub fn once_each(pairs: &[(String, String)]) -> Result<(), GateError> {
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(seen, _)| seen == name) {
            return Err(bad(name, "given more than once"));
        }
    }
    Ok(())
}

/// Refuses any parameter, for routes that take none.
pub fn no_params(pairs: &[(String, String)]) -> Result<(), GateError> {
    match pairs.first() {
        Some((name, _)) => Err(bad(name, "unknown parameter")),
        None => Ok(()),
    }
}

/// `limit`: 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<u32, GateError> {
    value
        .parse()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| bad("limit", "must be 1 to 200"))
}

fn parse_time(name: &str, value: &str) -> Result<UnixMillis, GateError> {
    UnixMillis::parse_rfc3339(value).ok_or_else(|| bad(name, "must be RFC 3339"))
}

/// The `status` filter of a key listing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// Usable now.
    Active,
    /// Disabled by an admin (and not expired).
    Disabled,
    /// Past its expiry.
    Expired,
    /// Active, and its previous secret still works (a rotation's grace period).
    Rotating,
}

/// What a key listing is ordered by.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeySort {
    /// Creation (the default).
    Created,
    /// Last admitted request; never used sorts as oldest.
    LastUsed,
    /// Admitted requests in all.
    Requests,
    /// Expiry; never expiring sorts as latest.
    Expires,
}

impl KeySort {
    fn parse(s: &str) -> Option<KeySort> {
        Some(match s {
            "created" => KeySort::Created,
            "last_used" => KeySort::LastUsed,
            "requests" => KeySort::Requests,
            "expires" => KeySort::Expires,
            _ => return None,
        })
    }

    /// The letter that marks a cursor of this order, so a cursor cannot be replayed under
    /// another one.
    fn mark(self) -> char {
        match self {
            KeySort::Created => 'c',
            KeySort::LastUsed => 'u',
            KeySort::Requests => 'r',
            KeySort::Expires => 'e',
        }
    }
}

/// A position in a key listing's order: the sort value and the key's sequence number.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    value: u64,
    seq: u64,
}

/// Filters, order and page of `GET /orgs/{org}/keys`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KeyQuery {
    /// Only keys in this state.
    pub status: Option<StatusFilter>,
    /// Only keys expiring before this instant (keys that never expire are left out).
    pub expires_before: Option<UnixMillis>,
    /// Only keys not used since this instant (never used counts as unused).
    pub unused_since: Option<UnixMillis>,
    /// Only keys whose name contains this, ignoring case.
    pub search: Option<String>,
    /// Only keys holding this scope (as written on the key).
    pub scope: Option<Scope>,
    /// Order.
    pub sort: KeySort,
    /// Largest first (the default) or smallest first.
    pub descending: bool,
    /// Items per page.
    pub limit: u32,
    /// Continue after this position.
    pub after: Option<Position>,
}

impl Default for KeyQuery {
    fn default() -> Self {
        KeyQuery {
            status: None,
            expires_before: None,
            unused_since: None,
            search: None,
            scope: None,
            sort: KeySort::Created,
            descending: true,
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

impl KeyQuery {
    /// Reads the query string's pairs; an unknown parameter or a bad value is a 400 naming it,
    /// so a misspelt filter never silently lists everything.
    pub fn parse(pairs: &[(String, String)]) -> Result<KeyQuery, GateError> {
        once_each(pairs)?;
        let mut q = KeyQuery::default();
        let mut cursor = None;
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => q.limit = parse_limit(value)?,
                "cursor" => cursor = Some(value.as_str()),
                "status" => {
                    q.status = Some(match value.as_str() {
                        "active" => StatusFilter::Active,
                        "disabled" => StatusFilter::Disabled,
                        "expired" => StatusFilter::Expired,
                        "rotating" => StatusFilter::Rotating,
                        _ => return Err(bad(name, "use active, disabled, expired or rotating")),
                    })
                }
                "expires_before" => q.expires_before = Some(parse_time(name, value)?),
                "unused_since" => q.unused_since = Some(parse_time(name, value)?),
                "q" => {
                    if value.is_empty() || value.chars().count() > MAX_SEARCH_CHARS {
                        return Err(bad(name, "must be 1 to 200 characters"));
                    }
                    q.search = Some(value.to_lowercase());
                }
                "scope" => {
                    q.scope = Some(Scope::parse(value).ok_or_else(|| bad(name, "not a scope"))?)
                }
                "sort" => {
                    q.sort = KeySort::parse(value)
                        .ok_or_else(|| bad(name, "use created, last_used, requests or expires"))?
                }
                "order" => {
                    q.descending = match value.as_str() {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(bad(name, "use asc or desc")),
                    }
                }
                other => return Err(bad(other, "unknown parameter")),
            }
        }
        // Read last: its meaning depends on `sort`, wherever it stands in the query.
        if let Some(cursor) = cursor {
            q.after = Some(q.parse_cursor(cursor).ok_or_else(|| {
                bad(
                    "cursor",
                    "use next_cursor from the previous page, with the same sort and order",
                )
            })?);
        }
        Ok(q)
    }

    /// The mark of this query's cursors: its sort and direction (`cd`, `ua`, …), so a cursor
    /// is refused under another order rather than repeating or skipping keys.
    fn mark(&self) -> String {
        let direction = if self.descending { 'd' } else { 'a' };
        format!("{}{direction}", self.sort.mark())
    }

    fn parse_cursor(&self, text: &str) -> Option<Position> {
        let mut parts = text.split('.');
        let mark = parts.next()?;
        let value = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        (parts.next().is_none() && mark == self.mark()).then_some(Position { value, seq })
    }

    fn cursor(&self, at: Position) -> String {
        format!("{}.{}.{}", self.mark(), at.value, at.seq)
    }

    /// Whether `key` passes the filters at `now`.
    fn admits(&self, key: &Listed<'_>, now: UnixMillis) -> bool {
        let record = key.record;
        let status = KeyStatus::of(record, now);
        let status_ok = self.status.is_none_or(|wanted| match wanted {
            StatusFilter::Active => status == KeyStatus::Active,
            StatusFilter::Disabled => status == KeyStatus::Disabled,
            StatusFilter::Expired => status == KeyStatus::Expired,
            // Only a usable key's previous secret works: a disabled key is not rotating.
            StatusFilter::Rotating => {
                status == KeyStatus::Active
                    && key
                        .secrets
                        .iter()
                        .any(|s| s.until.is_some_and(|until| now < until))
            }
        });
        status_ok
            && self
                .expires_before
                .is_none_or(|t| record.expires_at.is_some_and(|at| at < t))
            && self
                .unused_since
                .is_none_or(|t| key.last_used_at.is_none_or(|used| used < t))
            && self
                .search
                .as_deref()
                .is_none_or(|s| record.name.to_lowercase().contains(s))
            && self
                .scope
                .as_ref()
                .is_none_or(|s| record.scopes.contains(s))
    }

    fn position(&self, key: &Listed<'_>) -> Position {
        let value = match self.sort {
            KeySort::Created => key.seq,
            KeySort::LastUsed => key.last_used_at.map_or(0, |t| t.0),
            KeySort::Requests => key.requests,
            KeySort::Expires => key.record.expires_at.map_or(u64::MAX, |t| t.0),
        };
        Position {
            value,
            seq: key.seq,
        }
    }

    /// One page of `keys` at `now`: filtered, ordered, after the cursor; and the next page's
    /// cursor when more follow.
    pub fn select<'a>(
        &self,
        keys: Vec<Listed<'a>>,
        now: UnixMillis,
    ) -> (Vec<Listed<'a>>, Option<String>) {
        let mut keys: Vec<(Position, Listed<'a>)> = keys
            .into_iter()
            .filter(|k| self.admits(k, now))
            .map(|k| (self.position(&k), k))
            .filter(|(at, _)| {
                self.after.is_none_or(|after| {
                    if self.descending {
                        *at < after
                    } else {
                        *at > after
                    }
                })
            })
            .collect();
        keys.sort_by(|(a, _), (b, _)| if self.descending { b.cmp(a) } else { a.cmp(b) });
        let more = keys.len() > self.limit as usize;
        keys.truncate(self.limit as usize);
        let next = more
            .then(|| keys.last().map(|(at, _)| self.cursor(*at)))
            .flatten();
        (keys.into_iter().map(|(_, k)| k).collect(), next)
    }
}

/// A live key as a listing sees it: its record and secrets, its sequence number in the
/// catalog, and the usage its guard last reported.
#[derive(Debug)]
pub struct Listed<'a> {
    /// The record.
    pub record: &'a KeyRecord,
    /// Its accepted secrets.
    pub secrets: &'a [Secret],
    /// Creation order within the organization.
    pub seq: u64,
    /// Last admitted request, as last reported.
    pub last_used_at: Option<UnixMillis>,
    /// Admitted requests, as last reported.
    pub requests: u64,
}

/// The page of `GET /orgs`: organizations in id order, after `after`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OrgPage {
    /// Items per page.
    pub limit: u32,
    /// Continue after this organization id (the previous page's `next_cursor`).
    pub after: Option<OrgId>,
}

impl OrgPage {
    /// Reads `limit` and `cursor`; anything else is a 400 naming it.
    pub fn parse(pairs: &[(String, String)]) -> Result<OrgPage, GateError> {
        once_each(pairs)?;
        let mut page = OrgPage {
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => page.limit = parse_limit(value)?,
                "cursor" => {
                    page.after = Some(
                        OrgId::parse(value)
                            .ok_or_else(|| bad(name, "use next_cursor from the previous page"))?,
                    )
                }
                other => return Err(bad(other, "unknown parameter")),
            }
        }
        Ok(page)
    }
}

/// The page of `GET /orgs/{org}/resources/{type}`: registrations of one type in id order,
/// after `after`, only those under the parent id `parent` when it is given.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ResourcePage {
    /// Items per page.
    pub limit: u32,
    /// Continue after this id (the previous page's `next_cursor`).
    pub after: Option<String>,
    /// Only the children of this parent id.
    pub parent: Option<String>,
}

impl ResourcePage {
    /// Reads `limit`, `cursor` and `parent`; anything else is a 400 naming it.
    pub fn parse(pairs: &[(String, String)]) -> Result<ResourcePage, GateError> {
        once_each(pairs)?;
        let mut page = ResourcePage {
            limit: DEFAULT_LIMIT,
            after: None,
            parent: None,
        };
        for (name, value) in pairs {
            let id = || {
                is_resource_id(value)
                    .then(|| value.clone())
                    .ok_or_else(|| bad(name, "must be a resource id"))
            };
            match name.as_str() {
                "limit" => page.limit = parse_limit(value)?,
                "cursor" => page.after = Some(id()?),
                "parent" => page.parent = Some(id()?),
                other => return Err(bad(other, "unknown parameter")),
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests;
