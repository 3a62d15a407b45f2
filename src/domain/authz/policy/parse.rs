//! Reading `[vars.POLICY]`: its JSON form, what `write` includes, each rule's method, path,
//! resource, action, required scopes, ids and filterable fields, and the parent types of ids.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{IdSource, Policy, Reading, Rule, Segment, push_new};
use crate::domain::authz::fields::is_field_path;
use crate::domain::authz::resource::{Parents, is_resource_type};
use crate::domain::authz::scope::{Action, Scope, WriteMeaning};
use crate::domain::config_error::ConfigError;
use crate::domain::http::request::{MatrixParams, Method, Target};

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
    write: Option<Vec<String>>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    /// Child id type → parent id type.
    #[serde(default)]
    parents: BTreeMap<String, String>,
}

/// A setting written as one name or a list of names (`method`, `requires`).
#[derive(Deserialize)]
#[serde(untagged, expecting = "a name or a list of names")]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    method: OneOrMany,
    path: String,
    resource: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    requires: Option<OneOrMany>,
    #[serde(default)]
    ids: BTreeMap<String, String>,
    #[serde(default)]
    envelope: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

impl Policy {
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
        let write = match spec.write {
            None => WriteMeaning::ALL,
            Some(names) => names
                .iter()
                .map(|name| {
                    Action::parse(name).ok_or(format!(
                        "write: unknown action {name:?} (use create, update, delete)"
                    ))
                })
                .collect::<Result<Vec<_>, _>>()
                .and_then(|actions| WriteMeaning::of(&actions))
                .map_err(bad)?,
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
        let parents = Parents::parse(spec.parents).map_err(bad)?;
        let mut known_types: Vec<String> = rules
            .iter()
            .flat_map(|r| r.ids.iter().map(|(kind, _)| kind.clone()))
            .chain(parents.all().values().cloned())
            .collect();
        known_types.sort_unstable();
        known_types.dedup();
        Ok(Policy {
            default_allow,
            rules,
            reading,
            matrix,
            write,
            rules_fold,
            parents,
            known_types,
        })
    }
}

impl Rule {
    fn parse(spec: RuleSpec) -> Result<Rule, String> {
        let names = match spec.method {
            OneOrMany::One(m) if m == "*" => None,
            OneOrMany::One(m) => Some(vec![m]),
            OneOrMany::Many(list) if list.is_empty() => {
                return Err("method list is empty".into());
            }
            OneOrMany::Many(list) => Some(list),
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
        let requires = match spec.requires {
            None => Vec::new(),
            Some(OneOrMany::One(one)) => requirements(vec![one])?,
            Some(OneOrMany::Many(list)) => requirements(list)?,
        };
        let mut ids = Vec::with_capacity(spec.ids.len());
        for (kind, source) in spec.ids {
            // Keys name it in their restrictions: a type no key could be restricted on (`Site`)
            // would leave the route open to every key.
            if !is_resource_type(&kind) {
                return Err(format!(
                    "ids.{kind}: invalid resource type (lower-case letters, digits, '_' and '-')"
                ));
            }
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
        let fields = match spec.fields {
            None => Vec::new(),
            // An empty list would refuse every field restriction of the resource.
            Some(list) if list.is_empty() => {
                return Err("fields is empty (leave it out to accept any field path)".into());
            }
            Some(list) => {
                if let Some(bad) = list.iter().find(|f| !is_field_path(f)) {
                    return Err(format!(
                        "fields: invalid field path {bad:?} (names of letters, digits, '_' or '-', joined by '.' for nesting)"
                    ));
                }
                let mut unique = Vec::with_capacity(list.len());
                for field in list {
                    push_new(&mut unique, field);
                }
                unique
            }
        };
        Ok(Rule {
            methods,
            path: spec.path,
            segments,
            resource: spec.resource,
            action,
            requires,
            ids,
            envelope: spec.envelope,
            fields,
        })
    }
}

/// A rule's `requires`: `admin` alone, or one or more `resource:action` scopes, without
/// repeats.
fn requirements(names: Vec<String>) -> Result<Vec<Scope>, String> {
    if names.is_empty() {
        return Err("requires is empty (leave it out to need resource:action)".into());
    }
    let mut scopes = Vec::with_capacity(names.len());
    for name in names {
        let scope = Scope::requirement(&name).ok_or(format!(
            "requires: {name:?} must be \"admin\" or resource:action with one resource and one of read, create, update, delete, download"
        ))?;
        push_new(&mut scopes, scope);
    }
    if scopes.len() > 1 && scopes.iter().any(Scope::is_admin) {
        return Err("requires: admin grants every scope; require it alone".into());
    }
    Ok(scopes)
}
