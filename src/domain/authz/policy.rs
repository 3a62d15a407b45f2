//! The route policy: what each request of the protected API needs. The deploying team writes
//! it once in `wrangler.toml` (`[vars.POLICY]`); it is parsed and validated once per isolate.
//!
//! ```toml
//! [vars.POLICY]
//! default = "deny"                    # or "allow": requests no rule matches
//! case = "sensitive"                  # or "insensitive": how literal segments compare
//! trailing_slash = "strict"           # or "ignore": whether /a/ is /a
//! matrix_params = "refuse"            # or "strip": ';' parameters in paths (400 by default)
//! [[vars.POLICY.rules]]
//! method = "GET"                      # a method, a list of methods, or "*"
//! path = "/api/sites/:siteId/stats"   # literal segments, :named segments, a final *
//! resource = "stats"                  # the scope resource: needs stats:read (or read, …)
//! ids = { site = "path:siteId" }      # restricted resource type → path:NAME | query:NAME | header:NAME
//! [[vars.POLICY.rules]]
//! method = ["GET", "HEAD"]
//! path = "/api/documents/:id/file"
//! resource = "documents"
//! action = "download"                 # default: GET/HEAD read, POST create, PUT/PATCH update, DELETE delete
//! envelope = "data"                   # field filtering applies inside {"data": …}
//! fields = ["title", "owner.name"]    # the field paths keys may be restricted to (optional)
//! [[vars.POLICY.rules]]
//! method = "POST"
//! path = "/api/sites"
//! resource = "sites"
//! requires = "admin"                  # only keys with the admin scope (write is not enough)
//! [[vars.POLICY.rules]]
//! method = "GET"
//! path = "/api/reports/time-entries"
//! resource = "reports"
//! requires = ["reports:read", "time_entries:read"]  # all of them, instead of reports:read
//! [vars.POLICY.parents]
//! website = "team"                    # a website belongs to a team (one level; see `resource`)
//! ```
//!
//! `write = ["create", "update"]` (top level, next to `default`) says what `write` includes,
//! plain or as `resource:write` ([`WriteMeaning`]); by default create, update and delete.
//! A rule's `requires` replaces its `resource:action` need with `admin` or a list of
//! `resource:action` scopes the key must all hold; a refusal lists those it lacks.
//!
//! Rules are tried in order; the first match decides. Rules match the request's canonical
//! target ([`Target`]): percent-decoded segments, ids read once ([`Target::unique_param`],
//! [`Headers::unique`](crate::domain::http::request::Headers::unique)); a rule for GET also matches HEAD. Under the strict defaults, a path that would match another rule (or
//! none) when case and a trailing `/` are ignored is refused with a 400: lenient origins
//! (Express, Spring, IIS) serve `/API/employees/` from the handler of `/api/employees`.
//! Matching splits the path once and compares segment counts before anything else, so a
//! 200-rule policy costs microseconds.
//!
//! A rule's `fields` declare what keys of its resource may be restricted to: once any rule of a
//! resource declares some, a key's field restriction naming another path for that resource is
//! refused when the key is created or changed ([`Policy::filterable`]), so a typo is a 400 and
//! not a key that silently receives empty objects. [`Policy::view`] shows it all to the
//! management API (`GET /v1/policy`).

use std::borrow::Cow;

use crate::domain::authz::resource::Parents;
use crate::domain::authz::scope::{Action, Scope, WriteMeaning};
use crate::domain::error::GateError;
use crate::domain::http::request::{MatrixParams, Method, Request, Target};

mod matching;
mod parse;
mod view;

use matching::without_format;
pub use view::{PolicyView, ResourceView, RuleView};

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    default_allow: bool,
    rules: Vec<Rule>,
    reading: Reading,
    matrix: MatrixParams,
    /// What `write` includes.
    write: WriteMeaning,
    /// Some rule literal has upper case or a rule ends with `/`: a looser reading can then
    /// match differently even for a lower-case path without a trailing `/`.
    rules_fold: bool,
    /// Which id types belong to another (`website` → `team`).
    parents: Parents,
    /// [`Policy::id_types`], computed once when parsed: every route carries it.
    known_types: Vec<String>,
}

/// How rule paths compare with request paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reading {
    /// Literal segments compare ASCII case-insensitively (`case = "insensitive"`).
    fold_case: bool,
    /// A trailing `/` is ignored on both sides (`trailing_slash = "ignore"`).
    ignore_trailing_slash: bool,
    /// Never configured, only the loosest reading: a `.ext` format suffix of the last segment
    /// is ignored (Rails), and case folds beyond ASCII (`ſ` is `s`, `K` is `k` in Java and
    /// Python's case-insensitive matching).
    lenient: bool,
}

impl Reading {
    /// How the most lenient origins read a path (Express, Spring, IIS, Rails, …).
    const LOOSEST: Reading = Reading {
        fold_case: true,
        ignore_trailing_slash: true,
        lenient: true,
    };
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None` = any method.
    methods: Option<Vec<Method>>,
    /// The path as written (shown by the policy view; matching uses `segments`).
    path: String,
    segments: Vec<Segment>,
    resource: String,
    action: Option<Action>,
    /// Every scope the request needs instead of `resource:action` ([`Scope::requirement`]s,
    /// without repeats); empty = `resource:action`.
    requires: Vec<Scope>,
    ids: Vec<(String, IdSource)>,
    envelope: Option<String>,
    /// Field paths keys of `resource` may be restricted to, without repeats; empty = none
    /// declared.
    fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Compared with the request's percent-decoded segment.
    Literal(String),
    Param(String),
    /// `*`: the rest of the path (zero or more segments); last only.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum IdSource {
    Path(String),
    Query(String),
    Header(String),
}

/// What a matched request needs and what it names.
#[derive(Debug, PartialEq, Eq)]
pub struct Route<'p> {
    /// Scope resource; `*` when no rule matched and the default allows.
    pub resource: &'p str,
    /// The action the request performs.
    pub action: Action,
    /// The scopes the rule requires, all of them; empty = the narrowest scope for `resource`
    /// and `action`.
    pub requires: &'p [Scope],
    /// What `write` includes in this deployment.
    pub write: WriteMeaning,
    /// Restricted resource types and the id the request names for each (if it names one).
    pub ids: Vec<(&'p str, Option<String>)>,
    /// For each type in `ids` that belongs to a parent type (the policy's `parents`): the type
    /// and its parent type. A key restricted on the parent and not on the type reaches only
    /// the ids registered under its parents.
    pub parents: Vec<(&'p str, &'p str)>,
    /// Where field filtering applies in the response body.
    pub envelope: Option<&'p str>,
    /// The id types a key may be restricted on ([`Policy::id_types`]); `None` when the policy
    /// has no rules. A key restricted on another type is refused everywhere: its restriction
    /// could never be checked (the policy renamed or dropped the type, or its parent).
    pub known_types: Option<&'p [String]>,
}

impl Route<'_> {
    /// The parent type of the id type `kind`, if the policy declares one.
    pub fn parent_of(&self, kind: &str) -> Option<&str> {
        self.parents
            .iter()
            .find(|(child, _)| *child == kind)
            .map(|(_, parent)| *parent)
    }
}

impl Policy {
    /// The policy when none is configured: every route allowed, the action taken from the
    /// method (so a `read` key still cannot write).
    pub fn allow_all() -> Policy {
        Policy {
            default_allow: true,
            rules: Vec::new(),
            reading: Reading {
                fold_case: false,
                ignore_trailing_slash: false,
                lenient: false,
            },
            matrix: MatrixParams::Refuse,
            write: WriteMeaning::ALL,
            rules_fold: false,
            parents: Parents::default(),
            known_types: Vec::new(),
        }
    }

    /// What `write` includes in this deployment.
    pub fn write(&self) -> WriteMeaning {
        self.write
    }

    /// The declared parent types of restricted id types.
    pub fn parents(&self) -> &Parents {
        &self.parents
    }

    /// The resources the rules name, as their `resource` or in what they `require`: the
    /// management API refuses scopes for any other. Empty when the policy has no rules (then
    /// any resource name is accepted).
    pub fn resources(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .rules
            .iter()
            .flat_map(|r| std::iter::once(r.resource.as_str()).chain(r.required_resources()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The id types keys may be restricted on: every type a rule reads an id of, and every
    /// declared parent type, sorted. Empty when the policy has no rules (then any type is
    /// accepted).
    pub fn id_types(&self) -> &[String] {
        &self.known_types
    }

    /// Whether the deployment wrote rules (without any, every route is allowed and any
    /// resource, type or field name is accepted).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The field paths keys may be restricted to for `resource`: every path its rules declare,
    /// in the order first written, without repeats. Empty when no rule of `resource` declares
    /// fields: then any field path is accepted.
    pub fn filterable(&self, resource: &str) -> Vec<&str> {
        let mut paths = Vec::new();
        for rule in self.rules.iter().filter(|r| r.resource == resource) {
            for path in &rule.fields {
                push_new(&mut paths, path.as_str());
            }
        }
        paths
    }

    /// Whether `scope` names only resources the policy knows ([`Policy::resources`]).
    pub fn knows(&self, scope: &Scope) -> bool {
        self.rules.is_empty()
            || scope
                .resource()
                .is_none_or(|r| self.resources().contains(&r))
    }

    /// The canonical form of a request target under this policy's `matrix_params`.
    pub fn target(&self, path: &str, query: Option<&str>) -> Result<Target, GateError> {
        Target::parse(path, query, self.matrix)
    }

    /// The route of a request, or 403 `route_not_allowed` when no rule matches and the
    /// default denies. A path that a more lenient origin would route to another rule (other
    /// case, a trailing `/`, a `.json` suffix, non-ASCII look-alikes) than the policy's own
    /// reading does is a 400, whatever the default: the origin must serve the rule that was
    /// checked.
    pub fn route<'p>(&'p self, request: &Request<'_>) -> Result<Route<'p>, GateError> {
        let (method, target) = (request.method, request.target);
        let segments = target.segments();
        let chosen = self.find(method, &segments, self.reading);
        let path = target.path();
        let last = path.rsplit('/').next().unwrap_or("");
        let may_differ = self.rules_fold
            || (path.len() > 1 && path.ends_with('/'))
            || path.bytes().any(|b| b.is_ascii_uppercase() || b == b'%')
            || last.contains('.');
        if may_differ {
            let loose = self.find(method, &segments, Reading::LOOSEST);
            if chosen.as_ref().map(|(i, _)| *i) != loose.as_ref().map(|(i, _)| *i) {
                return Err(GateError::AmbiguousRequest(format!(
                    "The path {path} reads as another route when case, a trailing '/' or a format suffix is ignored; use the API's exact spelling"
                )));
            }
        }
        let Some((index, params)) = chosen else {
            return if self.default_allow {
                Ok(Route {
                    resource: "*",
                    action: Action::of_method(method),
                    requires: &[],
                    write: self.write,
                    ids: Vec::new(),
                    parents: Vec::new(),
                    envelope: None,
                    known_types: self.known_types(),
                })
            } else {
                Err(GateError::RouteNotAllowed)
            };
        };
        let rule = &self.rules[index];
        let mut ids = Vec::with_capacity(rule.ids.len());
        for (kind, source) in &rule.ids {
            let id = match source {
                IdSource::Path(name) => params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone()),
                IdSource::Query(name) => target.unique_param(name, request.form)?,
                IdSource::Header(name) => request.headers.unique(name)?.map(str::to_owned),
            };
            ids.push((kind.as_str(), id));
        }
        let parents = rule
            .ids
            .iter()
            .filter_map(|(kind, _)| Some((kind.as_str(), self.parents.of(kind)?)))
            .collect();
        Ok(Route {
            resource: &rule.resource,
            action: rule.action.unwrap_or_else(|| Action::of_method(method)),
            requires: &rule.requires,
            write: self.write,
            ids,
            parents,
            envelope: rule.envelope.as_deref(),
            known_types: self.known_types(),
        })
    }

    fn known_types(&self) -> Option<&[String]> {
        self.has_rules().then_some(&self.known_types[..])
    }

    /// The first rule matching under `reading`, and its parameters.
    fn find<'r>(
        &'r self,
        method: Method,
        segments: &[Cow<'_, str>],
        reading: Reading,
    ) -> Option<(usize, Vec<(&'r str, String)>)> {
        let strip = self.matrix == MatrixParams::Strip;
        let mut segs: Vec<&str> = segments
            .iter()
            .map(|s| match s.find(';') {
                Some(i) if strip => &s[..i],
                _ => s.as_ref(),
            })
            .collect();
        if reading.ignore_trailing_slash && segs.len() > 1 && segs.last() == Some(&"") {
            segs.pop();
        }
        if reading.lenient
            && let Some(last) = segs.last_mut()
        {
            *last = without_format(last);
        }
        self.rules.iter().enumerate().find_map(|(i, rule)| {
            rule.matches(method, &segs, reading)
                .map(|params| (i, params))
        })
    }
}

impl Rule {
    /// The resources its `requires` names.
    fn required_resources(&self) -> impl Iterator<Item = &str> {
        self.requires.iter().filter_map(Scope::resource)
    }
}

impl Route<'_> {
    /// Every scope the request needs: the rule's `requires`, else the narrowest scope for its
    /// resource and action ([`Scope::narrowest`]).
    pub fn needed(&self) -> Vec<Scope> {
        match self.requires {
            [] => vec![Scope::narrowest(self.resource, self.action, self.write)],
            all => all.to_vec(),
        }
    }

    /// Those of [`Route::needed`] that `scopes` do not grant: empty when they permit the
    /// request.
    pub fn missing(&self, scopes: &[Scope]) -> Vec<Scope> {
        match self.requires {
            [] if scopes
                .iter()
                .any(|s| s.allows(self.resource, self.action, self.write)) =>
            {
                Vec::new()
            }
            [] => self.needed(),
            all => all
                .iter()
                .filter(|needed| !needed.granted_by(scopes, self.write))
                .cloned()
                .collect(),
        }
    }
}

/// Appends `item` unless `list` holds it already: short lists that keep the order first seen.
fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests;
