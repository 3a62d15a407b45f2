//! The route policy: what each request of the protected API needs. The deploying team writes
//! it once in `wrangler.toml` (`[vars.POLICY]`); it is parsed and validated once per isolate.
//!
//! ```toml
//! [vars.POLICY]
//! default = "deny"                    # or "allow": requests no rule matches
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
//! ```
//!
//! Rules are tried in order; the first match decides. Matching splits the path once and
//! compares segment counts before anything else, so a 200-rule policy costs microseconds.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::config::ConfigError;
use super::error::GateError;
use super::scope::{Action, Scope};

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    default_allow: bool,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None` = any method.
    methods: Option<Vec<String>>,
    segments: Vec<Segment>,
    resource: String,
    action: Option<Action>,
    ids: Vec<(String, IdSource)>,
    envelope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
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
    /// Where field filtering applies in the response body.
    pub envelope: Option<&'p str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Methods {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    method: Methods,
    path: String,
    resource: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    ids: BTreeMap<String, String>,
    #[serde(default)]
    envelope: Option<String>,
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl Policy {
    /// The policy when none is configured: every route allowed, the action taken from the
    /// method (so a `read` key still cannot write).
    pub fn allow_all() -> Policy {
        Policy {
            default_allow: true,
            rules: Vec::new(),
        }
    }

    /// Parses the JSON form of `[vars.POLICY]`; errors say which rule and what is wrong.
    pub fn parse(json: &str) -> Result<Policy, ConfigError> {
        let bad = |reason: String| ConfigError {
            var: "POLICY",
            reason,
        };
        let spec: PolicySpec = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let default_allow = match spec.default.as_deref() {
            None | Some("deny") => false,
            Some("allow") => true,
            Some(other) => {
                return Err(bad(format!(
                    "default must be \"allow\" or \"deny\", not {other:?}"
                )));
            }
        };
        let rules = spec
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let label = format!("rule {} ({})", i + 1, r.path);
                Rule::parse(r).map_err(|reason| bad(format!("{label}: {reason}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            default_allow,
            rules,
        })
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

    /// The route of a request, or 403 `route_not_allowed` when no rule matches and the
    /// default denies. `header` looks a request header up by lower-case name.
    pub fn route<'p>(
        &'p self,
        method: &str,
        path: &str,
        query: Option<&str>,
        header: impl Fn(&str) -> Option<String>,
    ) -> Result<Route<'p>, GateError> {
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        for rule in &self.rules {
            if let Some(params) = rule.matches(method, &segments) {
                let ids = rule
                    .ids
                    .iter()
                    .map(|(kind, source)| {
                        let id = match source {
                            IdSource::Path(name) => params
                                .iter()
                                .find(|(n, _)| n == name)
                                .map(|(_, v)| percent_decode(v)),
                            IdSource::Query(name) => query.and_then(|q| query_value(q, name)),
                            IdSource::Header(name) => header(name),
                        };
                        (kind.as_str(), id)
                    })
                    .collect();
                return Ok(Route {
                    resource: &rule.resource,
                    action: rule.action.unwrap_or_else(|| Action::of_method(method)),
                    ids,
                    envelope: rule.envelope.as_deref(),
                });
            }
        }
        if self.default_allow {
            Ok(Route {
                resource: "*",
                action: Action::of_method(method),
                ids: Vec::new(),
                envelope: None,
            })
        } else {
            Err(GateError::RouteNotAllowed)
        }
    }
}

impl Rule {
    fn parse(spec: RuleSpec) -> Result<Rule, String> {
        let methods = match spec.method {
            Methods::One(m) if m == "*" => None,
            Methods::One(m) => Some(vec![m]),
            Methods::Many(list) if list.is_empty() => return Err("method list is empty".into()),
            Methods::Many(list) => Some(list),
        };
        if let Some(bad) = methods
            .iter()
            .flatten()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(format!(
                "unknown method {bad:?} (use {}, or \"*\")",
                METHODS.join(", ")
            ));
        }
        if !spec.path.starts_with('/') {
            return Err("path must start with '/'".into());
        }
        let raw: Vec<&str> = spec.path.split('/').skip(1).collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            segments.push(match *s {
                "*" if i + 1 == raw.len() => Segment::Rest,
                "*" => return Err("'*' may only be the last segment".into()),
                p if p.starts_with(':') && p.len() > 1 => Segment::Param(p[1..].to_owned()),
                ":" => return Err("a ':' segment needs a name".into()),
                literal => Segment::Literal(literal.to_owned()),
            });
        }
        if Scope::parse(&format!("{}:read", spec.resource)).is_none() {
            return Err(format!(
                "invalid resource {:?} (lower-case letters, digits, '_' or '-', or \"*\")",
                spec.resource
            ));
        }
        let action = spec
            .action
            .map(|a| {
                Action::parse(&a)
                    .filter(|a| *a != Action::Write)
                    .ok_or(format!("unknown action {a:?}"))
            })
            .transpose()?;
        let mut ids = Vec::with_capacity(spec.ids.len());
        for (kind, source) in spec.ids {
            let source = match source.split_once(':') {
                Some(("path", name)) if segments.contains(&Segment::Param(name.to_owned())) => {
                    IdSource::Path(name.to_owned())
                }
                Some(("path", name)) => {
                    return Err(format!("ids.{kind}: the path has no :{name} segment"));
                }
                Some(("query", name)) if !name.is_empty() => IdSource::Query(name.to_owned()),
                Some(("header", name)) if !name.is_empty() => {
                    IdSource::Header(name.to_ascii_lowercase())
                }
                _ => {
                    return Err(format!(
                        "ids.{kind}: {source:?} must be path:NAME, query:NAME or header:NAME"
                    ));
                }
            };
            ids.push((kind, source));
        }
        Ok(Rule {
            methods,
            segments,
            resource: spec.resource,
            action,
            ids,
            envelope: spec.envelope,
        })
    }

    /// The named parameters if `method` and `segments` match.
    fn matches<'s>(&self, method: &str, segments: &[&'s str]) -> Option<Vec<(&str, &'s str)>> {
        let rest = self.segments.last() == Some(&Segment::Rest);
        let fixed = self.segments.len() - usize::from(rest);
        if segments.len() < fixed || (!rest && segments.len() != fixed) {
            return None;
        }
        if self
            .methods
            .as_ref()
            .is_some_and(|ms| !ms.iter().any(|m| m == method))
        {
            return None;
        }
        let mut params = Vec::new();
        for (pattern, actual) in self.segments[..fixed].iter().zip(segments) {
            match pattern {
                Segment::Literal(l) if l == actual => {}
                Segment::Param(name) if !actual.is_empty() => params.push((name.as_str(), *actual)),
                _ => return None,
            }
        }
        Some(params)
    }
}

fn query_value(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| segment.to_owned(), |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{
        "default": "deny",
        "rules": [
            {"method": "GET", "path": "/api/sites/:siteId/stats", "resource": "stats", "ids": {"site": "path:siteId"}},
            {"method": "GET", "path": "/api/stats", "resource": "stats", "ids": {"site": "query:siteId"}},
            {"method": ["GET", "POST"], "path": "/api/employees/*", "resource": "employees", "envelope": "data"},
            {"method": "*", "path": "/api/teams/:team/docs/:doc", "resource": "documents", "action": "download", "ids": {"team": "header:X-Team"}}
        ]
    }"#;

    fn policy() -> Policy {
        Policy::parse(POLICY).unwrap()
    }

    /// A route flattened for comparison: resource, action, and (type, id) pairs.
    type Flat = (String, Action, Vec<(String, Option<String>)>);

    fn route(method: &str, path: &str, query: Option<&str>) -> Result<Flat, &'static str> {
        let p = policy();
        p.route(method, path, query, |h| {
            (h == "x-team").then(|| "team_7".to_owned())
        })
        .map(|r| {
            (
                r.resource.to_owned(),
                r.action,
                r.ids.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            )
        })
        .map_err(|e| e.code())
    }

    #[test]
    fn rules_match_in_order_with_ids_from_path_query_and_header() {
        assert_eq!(
            route("GET", "/api/sites/site_abc/stats", None),
            Ok((
                "stats".into(),
                Action::Read,
                vec![("site".into(), Some("site_abc".into()))]
            ))
        );
        assert_eq!(
            route("GET", "/api/sites/site%20x/stats", None).unwrap().2[0]
                .1
                .as_deref(),
            Some("site x")
        );
        assert_eq!(
            route("GET", "/api/stats", Some("period=7d&siteId=site_q"))
                .unwrap()
                .2,
            vec![("site".into(), Some("site_q".into()))]
        );
        assert_eq!(
            route("GET", "/api/stats", None).unwrap().2,
            vec![("site".into(), None)]
        );
        assert_eq!(
            route("POST", "/api/employees/1/notes", None).unwrap().1,
            Action::Create
        );
        assert_eq!(
            route("GET", "/api/employees/", None).unwrap().0,
            "employees"
        );
        let docs = route("DELETE", "/api/teams/t1/docs/d1", None).unwrap();
        assert_eq!(
            (docs.1, docs.2),
            (
                Action::Download,
                vec![("team".into(), Some("team_7".into()))]
            )
        );
    }

    #[test]
    fn unmatched_requests_follow_the_default() {
        assert_eq!(
            route("DELETE", "/api/employees/1", None),
            Err("route_not_allowed")
        );
        assert_eq!(
            route("GET", "/api/sites/x/stats/more", None),
            Err("route_not_allowed")
        );
        assert_eq!(
            route("GET", "/api/sites//stats", None),
            Err("route_not_allowed")
        );
        assert_eq!(route("GET", "/elsewhere", None), Err("route_not_allowed"));
        let all = Policy::allow_all();
        let open = all.route("PATCH", "/anything", None, |_| None).unwrap();
        assert_eq!((open.resource, open.action), ("*", Action::Update));
        let allow = Policy::parse(r#"{"default":"allow"}"#).unwrap();
        assert!(allow.route("GET", "/x", None, |_| None).is_ok());
    }

    #[test]
    fn invalid_policies_say_what_is_wrong() {
        let cases = [
            (
                r#"{"rules":[{"method":"FETCH","path":"/a","resource":"a"}]}"#,
                "rule 1 (/a): unknown method \"FETCH\"",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"a","resource":"a"}]}"#,
                "rule 1 (a): path must start with '/'",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a/*/b","resource":"a"}]}"#,
                "'*' may only be the last segment",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a","resource":"A b"}]}"#,
                "invalid resource \"A b\"",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a","resource":"a","action":"fly"}]}"#,
                "unknown action \"fly\"",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a/:x","resource":"a","ids":{"site":"path:y"}}]}"#,
                "ids.site: the path has no :y segment",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a","resource":"a","ids":{"site":"cookie:s"}}]}"#,
                "ids.site: \"cookie:s\" must be",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a","resource":"a","colour":1}]}"#,
                "unknown field `colour`",
            ),
            (r#"{"default":"maybe"}"#, "default must be"),
            ("not json", "expected"),
        ];
        for (json, want) in cases {
            let err = Policy::parse(json).unwrap_err();
            assert_eq!(err.var, "POLICY");
            assert!(
                err.reason.contains(want),
                "{json}\n  got: {}\n  want: {want}",
                err.reason
            );
        }
    }

    #[test]
    fn known_resources_gate_scopes() {
        let p = policy();
        assert_eq!(p.resources(), vec!["documents", "employees", "stats"]);
        assert!(p.knows(&Scope::parse("employees:read").unwrap()));
        assert!(p.knows(&Scope::parse("*:read").unwrap()));
        assert!(p.knows(&Scope::parse("read").unwrap()));
        assert!(!p.knows(&Scope::parse("payroll:read").unwrap()));
        assert!(Policy::allow_all().knows(&Scope::parse("payroll:read").unwrap()));
    }
}
