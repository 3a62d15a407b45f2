//! The policy as the management API shows it (`GET /v1/policy`): its settings (with what
//! `write` includes), each rule (with the scopes it requires), and per resource what its rules
//! use (actions, restricted id types, filterable fields), so a console or a script offers only
//! the scopes, restrictions and fields that exist.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{IdSource, Policy, Rule, push_new};
use crate::domain::authz::scope::{Action, Scope, WriteMeaning};
use crate::domain::http::request::{MatrixParams, Method};

/// The whole policy.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct PolicyView<'p> {
    /// `deny` or `allow`: what happens to requests no rule matches.
    pub default: &'static str,
    /// `sensitive` or `insensitive`: how literal path segments compare.
    pub case: &'static str,
    /// `strict` or `ignore`: whether `/a/` is `/a`.
    pub trailing_slash: &'static str,
    /// `refuse` or `strip`: `;` parameters in paths.
    pub matrix_params: &'static str,
    /// What `write` includes, plain or as `resource:write`: some of create, update, delete.
    pub write: WriteMeaning,
    /// Child id type → parent id type (`website` → `team`): a key restricted on the parent
    /// reaches the children registered under it (`PUT /orgs/{org}/resources/{type}/{id}`).
    pub parents: &'p BTreeMap<String, String>,
    /// Every resource the rules name, by name.
    pub resources: Vec<ResourceView<'p>>,
    /// The rules, in the order they are tried.
    pub rules: Vec<RuleView<'p>>,
}

/// What the rules of one resource use.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct ResourceView<'p> {
    /// The scope resource (`stats` in `stats:read`).
    pub name: &'p str,
    /// The actions a scope of it is needed for, in the order first seen: those of its rules'
    /// requests (unless a rule `requires` other scopes) and those rules require of it.
    pub actions: Vec<Action>,
    /// The resource types its rules read ids of (what `resources` restrictions can name).
    pub id_types: Vec<&'p str>,
    /// The field paths keys may be restricted to ([`Policy::filterable`]); empty = any.
    pub fields: Vec<&'p str>,
}

/// One rule.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct RuleView<'p> {
    /// The methods as written, or `["*"]` for any (a rule for GET also matches HEAD).
    pub methods: Vec<&'static str>,
    /// The path as written: literal segments, `:named` segments, a final `*`.
    pub path: &'p str,
    /// The scope resource.
    pub resource: &'p str,
    /// The action of its requests: the rule's own, else each method's (GET read, POST create…).
    pub actions: Vec<Action>,
    /// The scopes its requests need, all of them, instead of `resource:action`: `admin`, or
    /// `resource:action` scopes; empty = `resource:action`.
    pub requires: &'p [Scope],
    /// Restricted resource type → where the id is read (`path:NAME`, `query:NAME`,
    /// `header:name`).
    pub ids: BTreeMap<&'p str, String>,
    /// Where field filtering applies in the response body (`{"data": …}`), if not the top.
    pub envelope: Option<&'p str>,
    /// The field paths keys may be restricted to; empty = none declared.
    pub fields: &'p [String],
}

impl Policy {
    /// The view of the whole policy.
    pub fn view(&self) -> PolicyView<'_> {
        let pick = |loose: bool, strict: &'static str, other: &'static str| match loose {
            false => strict,
            true => other,
        };
        PolicyView {
            default: pick(self.default_allow, "deny", "allow"),
            case: pick(self.reading.fold_case, "sensitive", "insensitive"),
            trailing_slash: pick(self.reading.ignore_trailing_slash, "strict", "ignore"),
            matrix_params: pick(self.matrix == MatrixParams::Strip, "refuse", "strip"),
            write: self.write,
            parents: self.parents.all(),
            resources: self
                .resources()
                .into_iter()
                .map(|name| self.resource_view(name))
                .collect(),
            rules: self.rules.iter().map(Rule::view).collect(),
        }
    }

    fn resource_view<'p>(&'p self, name: &'p str) -> ResourceView<'p> {
        let mut actions = Vec::new();
        let mut id_types = Vec::new();
        for rule in &self.rules {
            if rule.resource == name {
                if rule.requires.is_empty() {
                    for action in rule.actions() {
                        push_new(&mut actions, action);
                    }
                }
                for (kind, _) in &rule.ids {
                    push_new(&mut id_types, kind.as_str());
                }
            }
            let required = rule.requires.iter().filter(|s| s.resource() == Some(name));
            for action in required.filter_map(Scope::action) {
                push_new(&mut actions, action);
            }
        }
        ResourceView {
            name,
            actions,
            id_types,
            fields: self.filterable(name),
        }
    }
}

impl Rule {
    /// The actions its requests perform: its own, else each of its methods' (any method's for
    /// `*`), without repeats.
    fn actions(&self) -> Vec<Action> {
        if let Some(action) = self.action {
            return vec![action];
        }
        let mut actions = Vec::new();
        for method in self.methods.as_deref().unwrap_or(&Method::ALL) {
            push_new(&mut actions, Action::of_method(*method));
        }
        actions
    }

    fn view(&self) -> RuleView<'_> {
        RuleView {
            methods: match &self.methods {
                None => vec!["*"],
                Some(methods) => methods.iter().map(|m| m.as_str()).collect(),
            },
            path: &self.path,
            resource: &self.resource,
            actions: self.actions(),
            requires: &self.requires,
            ids: self
                .ids
                .iter()
                .map(|(kind, source)| (kind.as_str(), source.to_string()))
                .collect(),
            envelope: self.envelope.as_deref(),
            fields: &self.fields,
        }
    }
}

/// As the policy writes it.
impl fmt::Display for IdSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdSource::Path(name) => write!(f, "path:{name}"),
            IdSource::Query(name) => write!(f, "query:{name}"),
            IdSource::Header(name) => write!(f, "header:{name}"),
        }
    }
}
