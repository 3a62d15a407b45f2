//! Scopes: what a key may do. Two forms, both strings in the API:
//! - plain, hierarchical: `read` ⊂ `write` ⊂ `admin` (`admin` also manages the key's own
//!   organization through the management API);
//! - granular: `resource:action`, where `resource` is a name (`employees`, `time_entries`)
//!   or `*`, and `action` is `read`, `create`, `update`, `delete`, `download`, `write` or `*`.
//!
//! What `write` includes, plain or as `resource:write`, is the deployment's [`WriteMeaning`]
//! (the policy's `write` setting): create, update and delete unless it says less (Z8's write
//! is create + update).

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

    /// Whether holding `self` permits `wanted` (`write` = what `write` means here).
    fn covers(self, wanted: Action, write: WriteMeaning) -> bool {
        self == wanted || (self == Action::Write && write.includes(wanted))
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

/// What `write` includes, plain or as `resource:write`: some of create, update and delete
/// (never none), all three by default. Shown and sent as the list of those actions.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(into = "Vec<Action>", try_from = "Vec<Action>")]
pub struct WriteMeaning {
    create: bool,
    update: bool,
    delete: bool,
}

impl WriteMeaning {
    /// Create, update and delete.
    pub const ALL: WriteMeaning = WriteMeaning {
        create: true,
        update: true,
        delete: true,
    };

    /// The meaning of `actions`: one or more of create, update and delete.
    pub fn of(actions: &[Action]) -> Result<WriteMeaning, String> {
        if actions.is_empty() {
            return Err("write must include at least one of create, update, delete".into());
        }
        let mut meaning = WriteMeaning {
            create: false,
            update: false,
            delete: false,
        };
        for action in actions {
            match action {
                Action::Create => meaning.create = true,
                Action::Update => meaning.update = true,
                Action::Delete => meaning.delete = true,
                Action::Read | Action::Download | Action::Write => {
                    return Err(format!(
                        "write may include create, update and delete, not {}",
                        action.as_str()
                    ));
                }
            }
        }
        Ok(meaning)
    }

    /// Whether `write` permits `action`.
    pub fn includes(self, action: Action) -> bool {
        match action {
            Action::Create => self.create,
            Action::Update => self.update,
            Action::Delete => self.delete,
            Action::Read | Action::Download | Action::Write => false,
        }
    }

    /// The actions it includes, in the order create, update, delete.
    pub fn actions(self) -> Vec<Action> {
        [Action::Create, Action::Update, Action::Delete]
            .into_iter()
            .filter(|a| self.includes(*a))
            .collect()
    }
}

impl Default for WriteMeaning {
    fn default() -> Self {
        WriteMeaning::ALL
    }
}

impl From<WriteMeaning> for Vec<Action> {
    fn from(meaning: WriteMeaning) -> Self {
        meaning.actions()
    }
}

impl TryFrom<Vec<Action>> for WriteMeaning {
    type Error = String;

    fn try_from(actions: Vec<Action>) -> Result<Self, String> {
        WriteMeaning::of(&actions)
    }
}

impl Scope {
    /// The `admin` scope.
    pub fn admin() -> Scope {
        Scope(ScopeKind::Admin)
    }

    /// The narrowest scope that permits `action` on `resource` (`*`: a request no rule
    /// matched): `resource:action`; for `*`, plain `read` for reading, plain `write` for what
    /// `write` includes, else `*:action` (a `delete` beyond Z8's write).
    pub fn narrowest(resource: &str, action: Action, write: WriteMeaning) -> Scope {
        let kind = match resource {
            "*" if matches!(action, Action::Read | Action::Download) => ScopeKind::Read,
            "*" if write.includes(action) => ScopeKind::Write,
            "*" => ScopeKind::Granular {
                resource: None,
                action: Some(action),
            },
            name => ScopeKind::Granular {
                resource: Some(name.to_owned()),
                action: Some(action),
            },
        };
        Scope(kind)
    }

    /// Parses a scope a policy rule may require (`requires`): `admin`, or `resource:action`
    /// naming one resource and one action other than `write` (whose meaning varies), so that
    /// the 403 can say exactly what is missing.
    pub fn requirement(s: &str) -> Option<Scope> {
        let scope = Scope::parse(s)?;
        match &scope.0 {
            ScopeKind::Admin => Some(scope),
            ScopeKind::Granular {
                resource: Some(_),
                action: Some(action),
            } if *action != Action::Write => Some(scope),
            ScopeKind::Read | ScopeKind::Write | ScopeKind::Granular { .. } => None,
        }
    }

    /// Whether `scopes` grant this requirement ([`Scope::requirement`]): `admin` only by
    /// `admin`, `resource:action` by any scope that permits it.
    pub fn granted_by(&self, scopes: &[Scope], write: WriteMeaning) -> bool {
        match &self.0 {
            ScopeKind::Admin => scopes.iter().any(Scope::is_admin),
            ScopeKind::Granular {
                resource: Some(resource),
                action: Some(action),
            } => scopes.iter().any(|s| s.allows(resource, *action, write)),
            // Never a requirement; held as such, it is granted.
            ScopeKind::Read | ScopeKind::Write | ScopeKind::Granular { .. } => {
                scopes.contains(self)
            }
        }
    }

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

    /// Whether this scope permits `action` on `resource` where `write` means `write`. Plain
    /// scopes nest: `read` permits reading and downloading anything, `write` adds what `write`
    /// includes, `admin` permits everything.
    pub fn allows(&self, resource: &str, action: Action, write: WriteMeaning) -> bool {
        let reads = matches!(action, Action::Read | Action::Download);
        match &self.0 {
            ScopeKind::Admin => true,
            ScopeKind::Write => reads || write.includes(action),
            ScopeKind::Read => reads,
            ScopeKind::Granular {
                resource: r,
                action: a,
            } => {
                r.as_deref().is_none_or(|r| r == resource)
                    && a.is_none_or(|a| a.covers(action, write))
            }
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

    /// The action a granular scope names (`None` for plain scopes and `*`).
    pub fn action(&self) -> Option<Action> {
        match &self.0 {
            ScopeKind::Granular { action, .. } => *action,
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
        allows_under(WriteMeaning::ALL, scopes, resource, action)
    }

    fn allows_under(write: WriteMeaning, scopes: &[&str], resource: &str, action: Action) -> bool {
        scopes
            .iter()
            .map(|s| Scope::parse(s).unwrap())
            .any(|s| s.allows(resource, action, write))
    }

    fn parsed(scopes: &[&str]) -> Vec<Scope> {
        scopes.iter().map(|s| Scope::parse(s).unwrap()).collect()
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

    #[test]
    fn write_means_what_the_deployment_says() {
        use Action::*;
        let z8 = WriteMeaning::of(&[Create, Update]).unwrap();
        for scopes in [&["time_entries:write"][..], &["write"], &["*:write"]] {
            assert!(
                allows_under(z8, scopes, "time_entries", Create),
                "{scopes:?}"
            );
            assert!(
                allows_under(z8, scopes, "time_entries", Update),
                "{scopes:?}"
            );
            assert!(
                !allows_under(z8, scopes, "time_entries", Delete),
                "{scopes:?}"
            );
            assert!(allows_under(
                WriteMeaning::ALL,
                scopes,
                "time_entries",
                Delete
            ));
        }
        assert!(allows_under(z8, &["write"], "time_entries", Read));
        assert!(allows_under(
            z8,
            &["time_entries:delete"],
            "time_entries",
            Delete
        ));
        assert!(allows_under(
            z8,
            &["time_entries:*"],
            "time_entries",
            Delete
        ));
        assert!(allows_under(z8, &["admin"], "time_entries", Delete));
        assert_eq!(WriteMeaning::default(), WriteMeaning::ALL);
        assert_eq!(z8.actions(), vec![Create, Update]);
        assert_eq!(
            serde_json::to_string(&z8).unwrap(),
            r#"["create","update"]"#
        );
        let back: WriteMeaning = serde_json::from_str(r#"["update","create"]"#).unwrap();
        assert_eq!(back, z8);
        for bad in [&[][..], &[Read], &[Create, Download], &[Write]] {
            assert!(WriteMeaning::of(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_narrowest_scope_names_what_a_request_needs() {
        use Action::*;
        let z8 = WriteMeaning::of(&[Create, Update]).unwrap();
        let table = [
            ("employees", Read, WriteMeaning::ALL, "employees:read"),
            ("time_entries", Delete, z8, "time_entries:delete"),
            ("*", Read, z8, "read"),
            ("*", Download, z8, "read"),
            ("*", Create, z8, "write"),
            ("*", Delete, WriteMeaning::ALL, "write"),
            ("*", Delete, z8, "*:delete"),
        ];
        for (resource, action, write, want) in table {
            let scope = Scope::narrowest(resource, action, write);
            assert_eq!(scope.to_string(), want);
            assert!(scope.allows(resource, action, write), "{want} permits it");
        }
    }

    #[test]
    fn requirements_are_admin_or_one_resource_and_action() {
        for ok in [
            "admin",
            "employees:read",
            "reports:download",
            "sites:delete",
        ] {
            assert!(Scope::requirement(ok).is_some(), "{ok}");
        }
        for bad in [
            "read",
            "write",
            "*:read",
            "employees:*",
            "employees:write",
            "x",
        ] {
            assert!(Scope::requirement(bad).is_none(), "{bad}");
        }
        let write = WriteMeaning::ALL;
        let admin = Scope::admin();
        assert!(admin.granted_by(&parsed(&["admin"]), write));
        for not_admin in [&["write"][..], &["*:*"], &["read", "sites:write"]] {
            assert!(
                !admin.granted_by(&parsed(not_admin), write),
                "{not_admin:?}"
            );
        }
        let reports = Scope::requirement("reports:read").unwrap();
        assert!(reports.granted_by(&parsed(&["reports:read"]), write));
        assert!(reports.granted_by(&parsed(&["read"]), write));
        assert!(reports.granted_by(&parsed(&["*:read"]), write));
        assert!(!reports.granted_by(&parsed(&["employees:read"]), write));
        let delete = Scope::requirement("time_entries:delete").unwrap();
        let z8 = WriteMeaning::of(&[Action::Create, Action::Update]).unwrap();
        assert!(delete.granted_by(&parsed(&["time_entries:write"]), write));
        assert!(!delete.granted_by(&parsed(&["time_entries:write"]), z8));
    }
}
