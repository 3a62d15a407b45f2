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
//! [vars.POLICY.parents]
//! website = "team"                    # a website belongs to a team (one level; see `resource`)
//! ```
//!
//! Rules are tried in order; the first match decides. Rules match the request's canonical
//! target ([`Target`]): percent-decoded segments, ids read once ([`Target::unique_param`],
//! [`Headers::unique`](crate::domain::http::request::Headers::unique)); a rule for GET also matches HEAD. Under the strict defaults, a path that would match another rule (or
//! none) when case and a trailing `/` are ignored is refused with a 400: lenient origins
//! (Express, Spring, IIS) serve `/API/employees/` from the handler of `/api/employees`.
//! Matching splits the path once and compares segment counts before anything else, so a
//! 200-rule policy costs microseconds.

use std::borrow::Cow;

use crate::domain::authz::resource::Parents;
use crate::domain::authz::scope::{Action, Scope};
use crate::domain::error::GateError;
use crate::domain::http::request::{MatrixParams, Method, Request, Target};

mod matching;
mod parse;

use matching::without_format;

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    default_allow: bool,
    rules: Vec<Rule>,
    reading: Reading,
    matrix: MatrixParams,
    /// Some rule literal has upper case or a rule ends with `/`: a looser reading can then
    /// match differently even for a lower-case path without a trailing `/`.
    rules_fold: bool,
    /// Which id types belong to another (`website` → `team`).
    parents: Parents,
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
    segments: Vec<Segment>,
    resource: String,
    action: Option<Action>,
    ids: Vec<(String, IdSource)>,
    envelope: Option<String>,
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
    /// Restricted resource types and the id the request names for each (if it names one).
    pub ids: Vec<(&'p str, Option<String>)>,
    /// For each type in `ids` that belongs to a parent type (the policy's `parents`): the type
    /// and its parent type. A key restricted on the parent and not on the type reaches only
    /// the ids registered under its parents.
    pub parents: Vec<(&'p str, &'p str)>,
    /// Where field filtering applies in the response body.
    pub envelope: Option<&'p str>,
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
            rules_fold: false,
            parents: Parents::default(),
        }
    }

    /// The declared parent types of restricted id types.
    pub fn parents(&self) -> &Parents {
        &self.parents
    }

    /// The resources the rules name: the management API refuses scopes for any other.
    /// Empty when the policy has no rules (then any resource name is accepted).
    pub fn resources(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.rules.iter().map(|r| r.resource.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether `scope` names only resources the policy knows.
    pub fn knows(&self, scope: &Scope) -> bool {
        self.rules.is_empty()
            || scope
                .resource()
                .is_none_or(|r| self.rules.iter().any(|rule| rule.resource == r))
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
                    ids: Vec::new(),
                    parents: Vec::new(),
                    envelope: None,
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
            ids,
            parents,
            envelope: rule.envelope.as_deref(),
        })
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

#[cfg(test)]
mod tests;
