//! Restricted resources: the types and ids a key's `resources` restriction names, the parent
//! types the policy declares (`parents = { website = "team" }`: a website belongs to a team),
//! and what a key restricted on a parent type reaches of its children.
//!
//! Zenovay's "team access": a key restricted to teams "works only for websites that belong to
//! those teams". The request names the website, never the team, so the organization registers
//! each website's team (`PUT /orgs/{org}/resources/website/{id}`, a [`Registration`]), and
//! the catalog writes into the record of every key restricted on `team` (and not on `website`)
//! the websites of its teams: its [`Reach`]. Authorization then reads the record only, in the
//! guard and in an isolate alike, with no lookup per request; a registration that changes
//! republishes the keys it concerns, so it acts within the keys' revocation bound.
//!
//! One level only: a parent type cannot itself have a parent (no team → website → page chain),
//! so a key's reach never depends on more than one registration per id.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::authz::scope::Scope;

/// Longest resource id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Whether `name` may name a resource type: a scope resource name (lower-case letters, digits,
/// `_` or `-`), not `*`.
pub fn is_resource_type(name: &str) -> bool {
    name != "*" && Scope::parse(&format!("{name}:read")).is_some()
}

/// Whether `id` may be a resource id: 1–128 printable ASCII characters, no space and no `,`.
pub fn is_resource_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

/// One resource: its type and id, both valid ([`is_resource_type`], [`is_resource_id`]).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(try_from = "RawRef")]
pub struct ResourceRef {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRef {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

impl TryFrom<RawRef> for ResourceRef {
    type Error = String;

    fn try_from(raw: RawRef) -> Result<ResourceRef, String> {
        ResourceRef::parse(&raw.kind, &raw.id)
    }
}

impl ResourceRef {
    /// The resource `kind`/`id`, or what is wrong with it.
    pub fn parse(kind: &str, id: &str) -> Result<ResourceRef, String> {
        if !is_resource_type(kind) {
            return Err(format!(
                "invalid resource type {kind:?} (lower-case letters, digits, '_' or '-')"
            ));
        }
        if !is_resource_id(id) {
            return Err(format!(
                "invalid resource id {id:?} (1-{MAX_ID_LEN} printable ASCII characters, no space or ',')"
            ));
        }
        Ok(ResourceRef {
            kind: kind.to_owned(),
            id: id.to_owned(),
        })
    }

    /// The type, e.g. `website`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The id, e.g. `w_1`.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// The parent types the policy declares: child type → parent type (`website` → `team`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parents(BTreeMap<String, String>);

impl Parents {
    /// Validates the policy's `parents` table: valid type names, no type its own parent, one
    /// level (a parent type has no parent). The error says which entry is wrong.
    pub fn parse(map: BTreeMap<String, String>) -> Result<Parents, String> {
        for (child, parent) in &map {
            for name in [child, parent] {
                if !is_resource_type(name) {
                    return Err(format!(
                        "parents: invalid resource type {name:?} (lower-case letters, digits, '_' or '-')"
                    ));
                }
            }
            if child == parent {
                return Err(format!("parents: {child} cannot be its own parent"));
            }
            if let Some(grandparent) = map.get(parent) {
                return Err(format!(
                    "parents: {child} → {parent} → {grandparent} has two levels; a parent type cannot have a parent"
                ));
            }
        }
        Ok(Parents(map))
    }

    /// Every declared `(child type, parent type)`, by child type.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The parent type of `child`, if the policy declares one.
    pub fn of(&self, child: &str) -> Option<&str> {
        self.0.get(child).map(String::as_str)
    }

    /// Whether a key restricted as `resources` is restricted on some parent type (only such a
    /// key reaches anything through the registry).
    pub fn restricts_a_parent(&self, resources: &BTreeMap<String, Vec<String>>) -> bool {
        self.0.values().any(|parent| resources.contains_key(parent))
    }
}

/// A registered child resource and its parent (`website w_1` in `team team_a`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The child.
    pub child: ResourceRef,
    /// Its parent.
    pub parent: ResourceRef,
}

/// The ids of one child type a key reaches through its restriction on `parent`: the children
/// registered under one of the key's parent ids. Kept in the key's record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The parent type it was computed for: a record computed under another declaration (the
    /// policy changed since) reaches nothing until it is computed again.
    pub parent: String,
    /// The child ids.
    pub ids: BTreeSet<String>,
}

/// What a key restricted as `resources` reaches through its parent restrictions, given the
/// policy's `parents` and the organization's `registry`: for every declared child type the key
/// is not restricted on itself and whose parent type it is restricted on, the children
/// registered under one of its parent ids (possibly none: then no id of that type passes).
/// Registrations under another parent type than the declared one count for nothing.
///
/// ```
/// use std::collections::BTreeMap;
/// use keygate::domain::authz::resource::{Parents, Registration, ResourceRef, reach};
/// let parents = Parents::parse(BTreeMap::from([("website".into(), "team".into())])).unwrap();
/// let registered = |w: &str, t: &str| Registration {
///     child: ResourceRef::parse("website", w).unwrap(),
///     parent: ResourceRef::parse("team", t).unwrap(),
/// };
/// let registry = [registered("w_1", "team_a"), registered("w_2", "team_b")];
/// let key = BTreeMap::from([("team".to_owned(), vec!["team_a".to_owned()])]);
/// let reached = reach(&key, &parents, &registry);
/// assert_eq!(reached["website"].ids.iter().collect::<Vec<_>>(), ["w_1"]);
/// ```
pub fn reach(
    resources: &BTreeMap<String, Vec<String>>,
    parents: &Parents,
    registry: &[Registration],
) -> BTreeMap<String, Reach> {
    if !parents.restricts_a_parent(resources) {
        return BTreeMap::new();
    }
    let mut reached: BTreeMap<String, Reach> = parents
        .0
        .iter()
        .filter(|(child, parent)| {
            !resources.contains_key(*child) && resources.contains_key(*parent)
        })
        .map(|(child, parent)| {
            let reach = Reach {
                parent: parent.clone(),
                ids: BTreeSet::new(),
            };
            (child.clone(), reach)
        })
        .collect();
    for Registration { child, parent } in registry {
        if let Some(reach) = reached.get_mut(child.kind())
            && reach.parent == parent.kind()
            && resources
                .get(parent.kind())
                .is_some_and(|ids| ids.iter().any(|id| id == parent.id()))
        {
            reach.ids.insert(child.id().to_owned());
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parents(pairs: &[(&str, &str)]) -> Result<Parents, String> {
        Parents::parse(
            pairs
                .iter()
                .map(|(c, p)| ((*c).to_owned(), (*p).to_owned()))
                .collect(),
        )
    }

    fn registered(kind: &str, id: &str, parent_kind: &str, parent: &str) -> Registration {
        Registration {
            child: ResourceRef::parse(kind, id).unwrap(),
            parent: ResourceRef::parse(parent_kind, parent).unwrap(),
        }
    }

    fn restricted(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, ids)| {
                (
                    (*k).to_owned(),
                    ids.iter().map(|s| (*s).to_owned()).collect(),
                )
            })
            .collect()
    }

    fn ids(reach: &BTreeMap<String, Reach>, kind: &str) -> Option<Vec<String>> {
        reach.get(kind).map(|r| r.ids.iter().cloned().collect())
    }

    #[test]
    fn parents_are_one_level_of_valid_types() {
        let ok = parents(&[("website", "team"), ("project", "team")]).unwrap();
        assert_eq!(ok.of("website"), Some("team"));
        assert_eq!(ok.of("team"), None);
        let chain = parents(&[("page", "website"), ("website", "team")]).unwrap_err();
        assert!(chain.contains("two levels"), "{chain}");
        assert!(
            parents(&[("team", "team")])
                .unwrap_err()
                .contains("own parent")
        );
        assert!(
            parents(&[("Website", "team")])
                .unwrap_err()
                .contains("invalid")
        );
        assert!(
            parents(&[("website", "*")])
                .unwrap_err()
                .contains("invalid")
        );
    }

    #[test]
    fn resource_refs_follow_the_rules_of_restrictions() {
        assert!(ResourceRef::parse("website", "w_1").is_ok());
        for (kind, id) in [
            ("Website", "w"),
            ("*", "w"),
            ("website", ""),
            ("website", "a b"),
            ("website", "a,b"),
            ("website", "é"),
        ] {
            assert!(ResourceRef::parse(kind, id).is_err(), "{kind} {id:?}");
        }
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert!(ResourceRef::parse("website", &long).is_err());
        let json = r#"{"type":"team","id":"team_a"}"#;
        let parsed: ResourceRef = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        assert!(serde_json::from_str::<ResourceRef>(r#"{"type":"team","id":""}"#).is_err());
        assert!(serde_json::from_str::<ResourceRef>(r#"{"type":"team","id":"a","x":1}"#).is_err());
    }

    #[test]
    fn a_key_restricted_on_the_parent_reaches_its_parents_children_only() {
        let parents = parents(&[("website", "team"), ("project", "team")]).unwrap();
        let registry = [
            registered("website", "w_a1", "team", "team_a"),
            registered("website", "w_a2", "team", "team_a"),
            registered("website", "w_b1", "team", "team_b"),
            registered("project", "p_a", "team", "team_a"),
            // Registered under a type that is not website's declared parent: counts for nothing.
            registered("website", "w_odd", "org", "team_a"),
        ];
        let team_a = restricted(&[("team", &["team_a"])]);
        let reached = reach(&team_a, &parents, &registry);
        assert_eq!(
            ids(&reached, "website"),
            Some(vec!["w_a1".into(), "w_a2".into()])
        );
        assert_eq!(ids(&reached, "project"), Some(vec!["p_a".into()]));
        assert_eq!(reached["website"].parent, "team");
        let both = restricted(&[("team", &["team_a", "team_b"])]);
        assert_eq!(
            ids(&reach(&both, &parents, &registry), "website")
                .unwrap()
                .len(),
            3
        );
        // A team with no registered website reaches none, but the type is still restricted.
        let empty = restricted(&[("team", &["team_c"])]);
        assert_eq!(
            ids(&reach(&empty, &parents, &registry), "website"),
            Some(vec![])
        );
    }

    #[test]
    fn direct_restrictions_and_unrestricted_parents_need_no_reach() {
        let parents = parents(&[("website", "team")]).unwrap();
        let registry = [registered("website", "w_a1", "team", "team_a")];
        // Restricted on website itself: the direct list decides, nothing to reach.
        let direct = restricted(&[("team", &["team_a"]), ("website", &["w_x"])]);
        assert!(reach(&direct, &parents, &registry).is_empty());
        // Not restricted on team: unaffected.
        let sites = restricted(&[("site", &["s_1"])]);
        assert!(reach(&sites, &parents, &registry).is_empty());
        assert!(reach(&BTreeMap::new(), &parents, &registry).is_empty());
        assert!(
            reach(
                &restricted(&[("team", &["team_a"])]),
                &Parents::default(),
                &registry
            )
            .is_empty()
        );
    }
}
