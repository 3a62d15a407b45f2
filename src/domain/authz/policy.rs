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
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::authz::scope::{Action, Scope};
use crate::domain::config_error::ConfigError;
use crate::domain::error::GateError;
use crate::domain::http::request::{MatrixParams, Method, Request, Target};

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
    /// Where field filtering applies in the response body.
    pub envelope: Option<&'p str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    case: Option<String>,
    #[serde(default)]
    trailing_slash: Option<String>,
    #[serde(default)]
    matrix_params: Option<String>,
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
        }
    }

    /// Parses the JSON form of `[vars.POLICY]`; errors say which rule and what is wrong.
    pub fn parse(json: &str) -> Result<Policy, ConfigError> {
        let bad = |reason: String| ConfigError {
            var: "POLICY",
            reason,
        };
        let spec: PolicySpec = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let choice = |field: &str, value: Option<String>, strict: &str, loose: &str| match value
            .as_deref()
        {
            None => Ok(false),
            Some(v) if v == strict => Ok(false),
            Some(v) if v == loose => Ok(true),
            Some(other) => Err(bad(format!(
                "{field} must be \"{strict}\" or \"{loose}\", not {other:?}"
            ))),
        };
        let default_allow = choice("default", spec.default, "deny", "allow")?;
        let reading = Reading {
            fold_case: choice("case", spec.case, "sensitive", "insensitive")?,
            ignore_trailing_slash: choice(
                "trailing_slash",
                spec.trailing_slash,
                "strict",
                "ignore",
            )?,
            lenient: false,
        };
        let matrix = match choice("matrix_params", spec.matrix_params, "refuse", "strip")? {
            false => MatrixParams::Refuse,
            true => MatrixParams::Strip,
        };
        let rules: Vec<Rule> = spec
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let label = format!("rule {} ({})", i + 1, r.path);
                Rule::parse(r).map_err(|reason| bad(format!("{label}: {reason}")))
            })
            .collect::<Result<_, _>>()?;
        let rules_fold = rules.iter().any(|r| {
            r.segments.iter().any(|s| match s {
                Segment::Literal(l) => l.is_empty() || l.bytes().any(|b| b.is_ascii_uppercase()),
                Segment::Param(_) | Segment::Rest => false,
            })
        });
        Ok(Policy {
            default_allow,
            rules,
            reading,
            matrix,
            rules_fold,
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
        Ok(Route {
            resource: &rule.resource,
            action: rule.action.unwrap_or_else(|| Action::of_method(method)),
            ids,
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

impl Rule {
    fn parse(spec: RuleSpec) -> Result<Rule, String> {
        let names = match spec.method {
            Methods::One(m) if m == "*" => None,
            Methods::One(m) => Some(vec![m]),
            Methods::Many(list) if list.is_empty() => return Err("method list is empty".into()),
            Methods::Many(list) => Some(list),
        };
        let methods = names
            .map(|names| {
                names
                    .iter()
                    .map(|m| {
                        Method::parse(m).ok_or(format!(
                            "unknown method {m:?} (use {}, or \"*\")",
                            crate::domain::http::request::FORWARDED_METHODS
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
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
                "" if i + 1 != raw.len() => return Err("empty segment ('//')".into()),
                literal => {
                    let canonical =
                        Target::parse(&format!("/{literal}"), None, MatrixParams::Refuse)
                            .map_err(|e| format!("segment {literal:?}: {}", e.public_message()))?;
                    Segment::Literal(canonical.segments().concat())
                }
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

    /// The named parameters if `method` and the (decoded) `segments` match under `reading`.
    fn matches(
        &self,
        method: Method,
        segments: &[&str],
        reading: Reading,
    ) -> Option<Vec<(&str, String)>> {
        // Frameworks answer HEAD with the GET handler.
        let listed = |ms: &Vec<Method>| {
            ms.contains(&method) || (method == Method::Head && ms.contains(&Method::Get))
        };
        if self.methods.as_ref().is_some_and(|ms| !listed(ms)) {
            return None;
        }
        let mut pattern = self.segments.as_slice();
        if reading.ignore_trailing_slash
            && pattern.len() > 1
            && pattern.last() == Some(&Segment::Literal(String::new()))
        {
            pattern = &pattern[..pattern.len() - 1];
        }
        let rest = pattern.last() == Some(&Segment::Rest);
        let fixed = pattern.len() - usize::from(rest);
        if segments.len() < fixed || (!rest && segments.len() != fixed) {
            return None;
        }
        let mut params = Vec::new();
        for (i, (pattern, actual)) in pattern[..fixed].iter().zip(segments).enumerate() {
            let lenient = reading.lenient && !rest && i + 1 == fixed;
            match pattern {
                Segment::Literal(l) if l == actual => {}
                Segment::Literal(l) if reading.fold_case && l.eq_ignore_ascii_case(actual) => {}
                Segment::Literal(l) if reading.lenient && folds_to(l, actual) => {}
                Segment::Literal(l) if lenient && folds_to(without_format(l), actual) => {}
                Segment::Param(name) if !actual.is_empty() => {
                    params.push((name.as_str(), (*actual).to_owned()))
                }
                _ => return None,
            }
        }
        Some(params)
    }
}

/// The last segment without a format suffix (`stats.json` → `stats`), as Rails routes it.
fn without_format(segment: &str) -> &str {
    match segment.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=10).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            stem
        }
        _ => segment,
    }
}

/// Whether `actual` equals the literal under Unicode case folding, char by char, the way
/// Java's `equalsIgnoreCase` and Python's `re.I` compare (`ſ` ~ `s`, `İ` ~ `i`, `K` ~ `k`).
fn folds_to(literal: &str, actual: &str) -> bool {
    let same = |l: char, a: char| {
        l.eq_ignore_ascii_case(&a)
            || a.to_uppercase()
                .next()
                .is_some_and(|u| l.eq_ignore_ascii_case(&u))
            || a.to_lowercase()
                .next()
                .is_some_and(|d| l.eq_ignore_ascii_case(&d))
    };
    literal.chars().count() == actual.chars().count()
        && literal.chars().zip(actual.chars()).all(|(l, a)| same(l, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::http::request::Headers;

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

    fn route_in(
        p: &Policy,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<Flat, &'static str> {
        let headers = Headers::new(vec![("x-team".into(), "team_7".into())]);
        let target = p.target(path, query).map_err(|e| e.code())?;
        let request = Request {
            method: Method::parse(method).unwrap(),
            target: &target,
            headers: &headers,
            form: None,
        };
        p.route(&request)
            .map(|r| {
                (
                    r.resource.to_owned(),
                    r.action,
                    r.ids.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )
            })
            .map_err(|e| e.code())
    }

    fn route(method: &str, path: &str, query: Option<&str>) -> Result<Flat, &'static str> {
        route_in(&policy(), method, path, query)
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
            route("GET", "/api/employees/1/", None).unwrap().0,
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
            Err("ambiguous_request")
        );
        assert_eq!(route("GET", "/elsewhere", None), Err("route_not_allowed"));
        let all = Policy::allow_all();
        assert_eq!(
            route_in(&all, "PATCH", "/anything", None).map(|r| (r.0, r.1)),
            Ok(("*".into(), Action::Update))
        );
        let allow = Policy::parse(r#"{"default":"allow"}"#).unwrap();
        assert!(route_in(&allow, "GET", "/x", None).is_ok());
    }

    /// Each spelling a lenient origin serves from a rule's handler either matches that rule
    /// or is refused; none falls through to the default, under deny or allow.
    #[test]
    fn spellings_never_fall_through_to_the_default() {
        for default in ["deny", "allow"] {
            let p =
                Policy::parse(&POLICY.replacen("\"deny\"", &format!("{default:?}"), 1)).unwrap();
            let employees = Ok(("employees".to_owned(), Action::Read, vec![]));
            for path in [
                "/api/employees/1",
                "/api/employees/%31",
                "/api/%65mployees/1",
                "/api/employees/",
            ] {
                assert_eq!(
                    route_in(&p, "GET", path, None),
                    employees,
                    "{default} {path}"
                );
            }
            for path in [
                "/API/employees/1",
                "/api/Employees",
                "/api/sites/site_a/stats/",
                "/api/sites/site_a/Stats",
                "/api/employees;/1",
                "/api/employees%2F1",
                "//api/employees",
                "/api//employees",
                "/api/sites;x=1/site_a/stats",
                "/api/sites/site_a/stats.json",
                "/api/%C5%BFites/site_a/stats",
                "/api/s%C4%B0tes/site_a/stats",
                "/api/sites/site_a/%C5%BFtat%C5%BF",
            ] {
                assert_eq!(
                    route_in(&p, "GET", path, None),
                    Err("ambiguous_request"),
                    "{default} {path}"
                );
            }
            assert_eq!(
                route_in(&p, "GET", "/api/stats", Some("siteId=a&siteId=b")),
                Err("ambiguous_request")
            );
            // Frameworks answer HEAD with the GET handler: a GET rule covers HEAD.
            assert_eq!(
                route_in(&p, "HEAD", "/api/sites/site_a/stats", None).map(|r| r.0),
                Ok("stats".into())
            );
            // A dot inside a parameter is the parameter's: the same rule either way.
            assert_eq!(
                route_in(&p, "GET", "/api/sites/site.a/stats", None).map(|r| r.0),
                Ok("stats".into())
            );
            assert_eq!(
                route_in(&p, "GET", "/api/employees/report.pdf", None).map(|r| r.0),
                Ok("employees".into())
            );
        }
    }

    #[test]
    fn the_policy_chooses_case_trailing_slash_and_matrix_params() {
        let p = Policy::parse(
            r#"{"case":"insensitive","trailing_slash":"ignore","matrix_params":"strip","rules":[
                {"method":"GET","path":"/api/sites/:siteId/stats","resource":"stats","ids":{"site":"path:siteId"}},
                {"method":"GET","path":"/api/Docs/","resource":"documents"}
            ]}"#,
        )
        .unwrap();
        let stats = |id: &str| {
            Ok((
                "stats".into(),
                Action::Read,
                vec![("site".into(), Some(id.into()))],
            ))
        };
        assert_eq!(
            route_in(&p, "GET", "/API/Sites/Site_A/stats/", None),
            stats("Site_A")
        );
        assert_eq!(
            route_in(&p, "GET", "/api/sites;v=2/site_a;x=1/stats", None),
            stats("site_a")
        );
        assert_eq!(
            route_in(&p, "GET", "/api/docs", None).map(|r| r.0),
            Ok("documents".into())
        );
        // Strict: a rule written with a trailing '/' matches only that spelling, and the other
        // spelling is refused rather than falling through.
        let strict = Policy::parse(
            r#"{"default":"allow","rules":[{"method":"GET","path":"/api/docs/","resource":"documents"}]}"#,
        )
        .unwrap();
        assert_eq!(
            route_in(&strict, "GET", "/api/docs/", None).map(|r| r.0),
            Ok("documents".into())
        );
        assert_eq!(
            route_in(&strict, "GET", "/api/docs", None),
            Err("ambiguous_request")
        );
        assert_eq!(
            route_in(&strict, "GET", "/api/other", None).map(|r| r.0),
            Ok("*".into())
        );
    }

    #[test]
    fn invalid_policies_say_what_is_wrong() {
        let cases = [
            (
                r#"{"rules":[{"method":"FETCH","path":"/a","resource":"a"}]}"#,
                "rule 1 (/a): unknown method \"FETCH\"",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a//b","resource":"a"}]}"#,
                "empty segment",
            ),
            (
                r#"{"rules":[{"method":"GET","path":"/a%2Fb","resource":"a"}]}"#,
                "encoded '/'",
            ),
            (
                r#"{"case":"loose"}"#,
                "case must be \"sensitive\" or \"insensitive\"",
            ),
            (r#"{"trailing_slash":"x"}"#, "trailing_slash must be"),
            (r#"{"matrix_params":"x"}"#, "matrix_params must be"),
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
