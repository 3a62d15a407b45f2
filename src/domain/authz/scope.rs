//! Scopes: what a key may do. Two forms, both strings in the API:
//! - plain, hierarchical: `read` ⊂ `write` ⊂ `admin` (`admin` also manages the key's own
//!   organization through the management API);
//! - granular: `resource:action`, where `resource` is a name (`employees`, `time_entries`)
//!   or `*`, and `action` is `read`, `create`, `update`, `delete`, `download`, `write`
//!   (= create + update + delete) or `*`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::http::request::Method;

/// Longest resource name in a scope.
const MAX_RESOURCE_LEN: usize = 64;

/// One validated scope.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Scope(ScopeKind);

#[derive(Clone, PartialEq, Eq, Debug)]
enum ScopeKind {
    Read,
    Write,
    Admin,
    /// `resource:action`; `None` stands for `*`.
    Granular {
        resource: Option<String>,
        action: Option<Action>,
    },
}

/// What a request does to a resource.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// GET, HEAD.
    Read,
    /// POST.
    Create,
    /// PUT, PATCH.
    Update,
    /// DELETE.
    Delete,
    /// Fetching a document.
    Download,
    /// Create, update and delete.
    Write,
}

impl Action {
    /// The action a method implies when a rule names none: GET/HEAD read, POST create,
    /// PUT/PATCH update, DELETE delete; anything else (OPTIONS…) reads.
    pub fn of_method(method: Method) -> Action {
        match method {
            Method::Post => Action::Create,
            Method::Put | Method::Patch => Action::Update,
            Method::Delete => Action::Delete,
            Method::Get | Method::Head | Method::Options => Action::Read,
        }
    }

    /// Parses an action name.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "read" => Action::Read,
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "download" => Action::Download,
            "write" => Action::Write,
            _ => return None,
        })
    }

    /// Whether holding `self` permits `wanted` (`write` = create + update + delete).
    fn covers(self, wanted: Action) -> bool {
        self == wanted
            || (self == Action::Write
                && matches!(wanted, Action::Create | Action::Update | Action::Delete))
    }

    /// Whether the action changes data.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Delete | Action::Write
        )
    }

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Download => "download",
            Action::Write => "write",
        }
    }
}

impl Scope {
    /// Parses one scope; `None` if it is neither a plain scope nor `resource:action`.
    pub fn parse(s: &str) -> Option<Scope> {
        let kind = match s {
            "read" => ScopeKind::Read,
            "write" => ScopeKind::Write,
            "admin" => ScopeKind::Admin,
            _ => {
                let (resource, action) = s.split_once(':')?;
                let resource = match resource {
                    "*" => None,
                    name if is_resource_name(name) => Some(name.to_owned()),
                    _ => return None,
                };
                let action = match action {
                    "*" => None,
                    a => Some(Action::parse(a)?),
                };
                ScopeKind::Granular { resource, action }
            }
        };
        Some(Scope(kind))
    }

    /// Whether this scope permits `action` on `resource`. Plain scopes nest: `read` permits
    /// reading and downloading anything, `write` adds create, update and delete, `admin`
    /// permits everything.
    pub fn allows(&self, resource: &str, action: Action) -> bool {
        match &self.0 {
            ScopeKind::Admin => true,
            ScopeKind::Write => true,
            ScopeKind::Read => matches!(action, Action::Read | Action::Download),
            ScopeKind::Granular {
                resource: r,
                action: a,
            } => r.as_deref().is_none_or(|r| r == resource) && a.is_none_or(|a| a.covers(action)),
        }
    }

    /// Whether this scope permits any change at all (to decide if a key is read-only).
    pub fn writes_anything(&self) -> bool {
        match &self.0 {
            ScopeKind::Admin | ScopeKind::Write => true,
            ScopeKind::Read => false,
            ScopeKind::Granular { action, .. } => action.is_none_or(Action::writes),
        }
    }

    /// The resource a granular scope names (`None` for plain scopes and `*`).
    pub fn resource(&self) -> Option<&str> {
        match &self.0 {
            ScopeKind::Granular { resource, .. } => resource.as_deref(),
            ScopeKind::Read | ScopeKind::Write | ScopeKind::Admin => None,
        }
    }

    /// Whether this scope grants management of the key's own organization.
    pub fn is_admin(&self) -> bool {
        self.0 == ScopeKind::Admin
    }
}

fn is_resource_name(s: &str) -> bool {
    s.len() <= MAX_RESOURCE_LEN
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ScopeKind::Read => f.write_str("read"),
            ScopeKind::Write => f.write_str("write"),
            ScopeKind::Admin => f.write_str("admin"),
            ScopeKind::Granular { resource, action } => write!(
                f,
                "{}:{}",
                resource.as_deref().unwrap_or("*"),
                action.map_or("*", Action::as_str)
            ),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("Invalid scope: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print_back() {
        for s in [
            "read",
            "write",
            "admin",
            "employees:read",
            "time_entries:*",
            "*:read",
            "*:*",
            "docs:download",
            "projects:write",
        ] {
            assert_eq!(
                Scope::parse(s).map(|x| x.to_string()).as_deref(),
                Some(s),
                "{s}"
            );
        }
    }

    #[test]
    fn unknown_scopes_are_refused() {
        for s in [
            "",
            "Read",
            "superuser",
            "employees",
            "employees:",
            ":read",
            "employees:fly",
            "Employees:read",
            "a:b:c",
            "emp loyees:read",
            "é:read",
        ] {
            assert!(Scope::parse(s).is_none(), "{s:?}");
        }
        let err = serde_json::from_str::<Scope>(r#""employees:fly""#).unwrap_err();
        assert!(
            err.to_string().starts_with("Invalid scope: employees:fly"),
            "{err}"
        );
    }

    fn allows(scopes: &[&str], resource: &str, action: Action) -> bool {
        scopes
            .iter()
            .map(|s| Scope::parse(s).unwrap())
            .any(|s| s.allows(resource, action))
    }

    #[test]
    fn scope_algebra() {
        use Action::*;
        let table: &[(&[&str], &str, Action, bool)] = &[
            (&["read"], "employees", Read, true),
            (&["read"], "docs", Download, true),
            (&["read"], "employees", Create, false),
            (&["write"], "employees", Delete, true),
            (&["write"], "employees", Read, true),
            (&["admin"], "anything", Update, true),
            (&["employees:read"], "employees", Read, true),
            (&["employees:read"], "employees", Update, false),
            (&["employees:read"], "projects", Read, false),
            (&["time_entries:*"], "time_entries", Delete, true),
            (&["time_entries:write"], "time_entries", Create, true),
            (&["time_entries:write"], "time_entries", Read, false),
            (&["time_entries:write"], "time_entries", Download, false),
            (&["*:read"], "projects", Read, true),
            (&["*:read"], "projects", Create, false),
            (&["docs:download"], "docs", Download, true),
            (&["docs:download"], "docs", Read, false),
            (&["*:*"], "x", Delete, true),
            (
                &["employees:read", "projects:write"],
                "projects",
                Update,
                true,
            ),
            (&[], "employees", Read, false),
        ];
        for (scopes, resource, action, want) in table {
            assert_eq!(
                allows(scopes, resource, *action),
                *want,
                "{scopes:?} {resource}:{action:?}"
            );
        }
    }

    #[test]
    fn methods_imply_actions() {
        assert_eq!(Action::of_method(Method::Get), Action::Read);
        assert_eq!(Action::of_method(Method::Head), Action::Read);
        assert_eq!(Action::of_method(Method::Post), Action::Create);
        assert_eq!(Action::of_method(Method::Patch), Action::Update);
        assert_eq!(Action::of_method(Method::Put), Action::Update);
        assert_eq!(Action::of_method(Method::Delete), Action::Delete);
    }

    #[test]
    fn only_admin_is_admin() {
        assert!(Scope::parse("admin").unwrap().is_admin());
        assert!(!Scope::parse("write").unwrap().is_admin());
        assert!(!Scope::parse("*:*").unwrap().is_admin());
    }
}
