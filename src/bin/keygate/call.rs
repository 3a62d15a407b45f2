//! Each command as the one management API call it makes: method, path under `/v1`, query,
//! JSON body, and what its answer holds (so it can be printed). Pure: `now` comes in for the
//! flags that count from now (`--unused-since 90d`).

use std::collections::BTreeMap;

use keygate::domain::manage::PutOrg;
use keygate::domain::{GuardFallback, KeyId, OrgId, RateLimit, Scope, UnixMillis};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cli::{Command, KeySettings, KeysCommand, OrgsCommand, Page, spelled};
use crate::values::Restriction;

/// One request to the management API.
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    /// HTTP method.
    pub method: &'static str,
    /// The path after `/v1`, e.g. `/orgs/acme/keys` (ids are validated: no escaping needed).
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<String>,
    /// What the answer holds.
    pub answer: Answer,
    /// `--all`: follow `next_cursor` to the last page.
    pub follow: bool,
}

/// What an answer holds, which decides how it is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// One organization.
    Org,
    /// A page of organizations.
    Orgs,
    /// One key, masked.
    Key,
    /// A page of keys, masked.
    Keys,
    /// A new key with its secret.
    Created,
    /// A rotated key with its new secret.
    Rotated,
    /// `{"success","message"}` of a revocation.
    Revoked,
    /// `{"success","revoked","message"}` of revoke-all.
    RevokedAll,
    /// A key's usage today.
    Usage,
    /// A key's usage in buckets.
    Series,
    /// A page of audit events.
    Audit,
    /// The route policy.
    Policy,
}

impl Answer {
    /// The array a page of this answer lists, which `--all` concatenates.
    pub fn items(self) -> Option<&'static str> {
        match self {
            Answer::Orgs => Some("orgs"),
            Answer::Keys => Some("keys"),
            Answer::Audit => Some("events"),
            Answer::Org
            | Answer::Key
            | Answer::Created
            | Answer::Rotated
            | Answer::Revoked
            | Answer::RevokedAll
            | Answer::Usage
            | Answer::Series
            | Answer::Policy => None,
        }
    }
}

/// A key's settings as `POST /keys` and `PATCH /keys/{id}` read them (field names as in
/// `keygate::domain::manage::body`); what is not given is left out.
#[derive(Serialize, Default, Debug)]
struct KeyBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<&'a [Scope]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<BTreeMap<&'a str, Vec<&'a str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<&'a str, Vec<&'a str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limits: Option<&'a [RateLimit]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limiting: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_limiter_error: Option<GuardFallback>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_bound_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in_days: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl<'a> KeyBody<'a> {
    /// The settings flags given; a list flag not given at all is left out (an update keeps it).
    fn of(name: Option<&'a str>, s: &'a KeySettings) -> KeyBody<'a> {
        let listed = |list: &'a [Restriction]| (!list.is_empty()).then(|| Restriction::map(list));
        KeyBody {
            name,
            scopes: (!s.scopes.is_empty()).then_some(&s.scopes[..]),
            resources: listed(&s.resources),
            fields: listed(&s.fields),
            rate_limits: (!s.rate_limits.is_empty()).then_some(&s.rate_limits[..]),
            rate_limiting: s.rate_limiting,
            on_limiter_error: s.on_limiter_error,
            revocation_bound_ms: s.revocation_bound_ms,
            meta: s.meta.as_deref(),
            ..KeyBody::default()
        }
    }
}

/// `POST /keys/{id}/rotate`.
#[derive(Serialize)]
struct RotateBody {
    grace_period_hours: u32,
}

/// The JSON text of a body. Its fields are strings, numbers, booleans and maps with string
/// keys, which always encode: a failure here is a bug in this file.
fn json(body: &impl Serialize) -> Option<String> {
    Some(serde_json::to_string(body).expect("a body of strings and numbers encodes"))
}

fn org_path(org: &OrgId) -> String {
    format!("/orgs/{org}")
}

fn key_path(org: &OrgId, id: &KeyId) -> String {
    format!("/orgs/{org}/keys/{id}")
}

impl Call {
    fn new(method: &'static str, path: String, answer: Answer) -> Call {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            answer,
            follow: false,
        }
    }

    fn body(mut self, body: Option<String>) -> Call {
        self.body = body;
        self
    }

    fn param(mut self, name: &'static str, value: Option<String>) -> Call {
        self.query.extend(value.map(|v| (name, v)));
        self
    }

    fn page(self, page: &Page) -> Call {
        let mut call = self
            .param("limit", page.limit.map(|n| n.to_string()))
            .param("cursor", page.cursor.clone());
        call.follow = page.all;
        call
    }

    /// The call `command` makes.
    pub fn of(command: &Command, now: UnixMillis) -> Call {
        match command {
            Command::Orgs(OrgsCommand::List(page)) => {
                Call::new("GET", "/orgs".into(), Answer::Orgs).page(page)
            }
            Command::Orgs(OrgsCommand::Get { org }) => Call::new("GET", org_path(org), Answer::Org),
            Command::Orgs(OrgsCommand::Put {
                org,
                plan,
                api_access,
                on_leak,
            }) => Call::new("PUT", org_path(org), Answer::Org).body(json(&PutOrg {
                plan: *plan,
                api_access: *api_access,
                on_leak: *on_leak,
            })),
            Command::Keys(keys) => Call::of_keys(keys, now),
            Command::Audit(a) => Call::new("GET", format!("/orgs/{}/audit", a.org), Answer::Audit)
                .param("type", a.kind.map(|k| k.as_str().to_owned()))
                .param("key_id", a.key_id.as_ref().map(KeyId::to_string))
                .param("since", a.since.map(|w| w.before(now).to_string()))
                .param("until", a.until.map(|w| w.before(now).to_string()))
                .page(&a.page),
            Command::Policy => Call::new("GET", "/policy".into(), Answer::Policy),
        }
    }

    fn of_keys(command: &KeysCommand, now: UnixMillis) -> Call {
        match command {
            KeysCommand::Create {
                org,
                name,
                settings,
                expires_in,
                expires_at,
                disabled,
                owner,
            } => {
                let mut body = KeyBody::of(Some(name), settings);
                body.owner = owner.as_deref();
                // Whole days go as days, counted by keygate's clock; anything else as an instant.
                match expires_in.map(|span| (span, span.whole_days())) {
                    Some((_, Some(days))) => body.expires_in_days = Some(days),
                    Some((span, None)) => {
                        body.expires_at = Some(now.plus_millis(span.millis()).to_string())
                    }
                    None => body.expires_at = expires_at.map(|at| at.to_string()),
                }
                body.enabled = disabled.then_some(false);
                Call::new("POST", format!("/orgs/{org}/keys"), Answer::Created).body(json(&body))
            }
            KeysCommand::List {
                org,
                filters: f,
                page,
            } => Call::new("GET", format!("/orgs/{org}/keys"), Answer::Keys)
                .param("status", f.status.map(spelled))
                .param(
                    "expires_before",
                    f.expires_before.map(|w| w.after(now).to_string()),
                )
                .param(
                    "unused_since",
                    f.unused_since.map(|w| w.before(now).to_string()),
                )
                .param("q", f.search.clone())
                .param("scope", f.scope.as_ref().map(Scope::to_string))
                .param("sort", f.sort.map(spelled))
                .param("order", f.order.map(spelled))
                .page(page),
            KeysCommand::Get(k) => Call::new("GET", key_path(&k.org, &k.id), Answer::Key),
            KeysCommand::Update {
                key,
                name,
                settings,
            } => Call::new("PATCH", key_path(&key.org, &key.id), Answer::Key)
                .body(json(&KeyBody::of(name.as_deref(), settings))),
            KeysCommand::Disable(k) | KeysCommand::Enable(k) => {
                let enabled = matches!(command, KeysCommand::Enable(_));
                let body = KeyBody {
                    enabled: Some(enabled),
                    ..KeyBody::default()
                };
                Call::new("PATCH", key_path(&k.org, &k.id), Answer::Key).body(json(&body))
            }
            KeysCommand::Rotate { key, grace_hours } => Call::new(
                "POST",
                format!("{}/rotate", key_path(&key.org, &key.id)),
                Answer::Rotated,
            )
            .body(grace_hours.and_then(|h| {
                json(&RotateBody {
                    grace_period_hours: h,
                })
            })),
            KeysCommand::Revoke(k) => Call::new("DELETE", key_path(&k.org, &k.id), Answer::Revoked),
            KeysCommand::RevokeAll { org, .. } => Call::new(
                "POST",
                format!("/orgs/{org}/keys/revoke-all"),
                Answer::RevokedAll,
            ),
            KeysCommand::Usage { key, series } => {
                let answer = if series.is_some() {
                    Answer::Series
                } else {
                    Answer::Usage
                };
                Call::new(
                    "GET",
                    format!("{}/usage", key_path(&key.org, &key.id)),
                    answer,
                )
                .param("series", series.map(spelled))
            }
        }
    }

    /// The same call for the page after `cursor`.
    pub fn set_cursor(&mut self, cursor: String) {
        self.query.retain(|(name, _)| *name != "cursor");
        self.query.push(("cursor", cursor));
    }
}

#[cfg(test)]
mod tests {
    use keygate::domain::Policy;
    use keygate::domain::manage::{self, CreateKey, RotateKey, UpdateKey};
    use serde_json::json;

    use super::*;
    use crate::cli::parse_line;

    /// 2026-01-15T00:00:00Z.
    const NOW: UnixMillis = UnixMillis(1_768_435_200_000);

    /// The call of a command line (words split at spaces).
    fn call(line: &str) -> Call {
        let cli = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        Call::of(&cli.command, NOW)
    }

    fn query(call: &Call) -> Vec<(&str, &str)> {
        call.query.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }

    fn body(c: &Call) -> serde_json::Value {
        serde_json::from_str(c.body.as_deref().expect("a body")).unwrap()
    }

    #[test]
    fn each_command_is_one_call() {
        let key = "/orgs/acme/keys/key_a1";
        for (line, method, path, answer) in [
            ("orgs list", "GET", "/orgs", Answer::Orgs),
            ("orgs get acme", "GET", "/orgs/acme", Answer::Org),
            ("orgs put acme --plan pro", "PUT", "/orgs/acme", Answer::Org),
            (
                "keys create acme --name ci",
                "POST",
                "/orgs/acme/keys",
                Answer::Created,
            ),
            ("keys list acme", "GET", "/orgs/acme/keys", Answer::Keys),
            ("keys get acme key_a1", "GET", key, Answer::Key),
            (
                "keys update acme key_a1 --name new",
                "PATCH",
                key,
                Answer::Key,
            ),
            ("keys disable acme key_a1", "PATCH", key, Answer::Key),
            ("keys enable acme key_a1", "PATCH", key, Answer::Key),
            (
                "keys rotate acme key_a1",
                "POST",
                &format!("{key}/rotate"),
                Answer::Rotated,
            ),
            ("keys revoke acme key_a1", "DELETE", key, Answer::Revoked),
            (
                "keys revoke-all acme",
                "POST",
                "/orgs/acme/keys/revoke-all",
                Answer::RevokedAll,
            ),
            (
                "keys usage acme key_a1",
                "GET",
                &format!("{key}/usage"),
                Answer::Usage,
            ),
            (
                "keys usage acme key_a1 --series day",
                "GET",
                &format!("{key}/usage"),
                Answer::Series,
            ),
            ("audit acme", "GET", "/orgs/acme/audit", Answer::Audit),
            ("policy", "GET", "/policy", Answer::Policy),
        ] {
            let c = call(line);
            assert_eq!(
                (c.method, c.path.as_str(), c.answer),
                (method, path, answer),
                "{line}"
            );
        }
    }

    #[test]
    fn list_filters_become_the_apis_query() {
        let c = call(
            "keys list acme --status rotating --expires-before 30d --unused-since 90d \
             --search deploy --scope employees:read --sort last_used --order asc --limit 20 \
             --cursor c1 --all",
        );
        assert_eq!(
            query(&c),
            [
                ("status", "rotating"),
                ("expires_before", "2026-02-14T00:00:00.000Z"),
                ("unused_since", "2025-10-17T00:00:00.000Z"),
                ("q", "deploy"),
                ("scope", "employees:read"),
                ("sort", "last_used"),
                ("order", "asc"),
                ("limit", "20"),
                ("cursor", "c1"),
            ]
        );
        assert!(c.follow);
        assert!(call("keys list acme").query.is_empty(), "nothing not given");
        let c = call(
            "audit acme --type key_revoked --key-id key_a1 --since 24h --until 2026-01-14T12:00:00Z",
        );
        assert_eq!(
            query(&c),
            [
                ("type", "key_revoked"),
                ("key_id", "key_a1"),
                ("since", "2026-01-14T00:00:00.000Z"),
                ("until", "2026-01-14T12:00:00.000Z"),
            ]
        );
        let c = call("keys usage acme key_a1 --series hour");
        assert_eq!(query(&c), [("series", "hour")]);
    }

    #[test]
    fn the_next_page_replaces_the_cursor() {
        let mut c = call("keys list acme --cursor c1 --limit 5");
        c.set_cursor("c2".into());
        assert_eq!(query(&c), [("limit", "5"), ("cursor", "c2")]);
    }

    #[test]
    fn create_sends_every_flag_in_the_apis_field() {
        let c = call(
            r#"keys create acme --name CI-deploy --scope read --scope employees:read
               --resource site=s1,s2 --resource site=s3 --field employees=name,start_date
               --rate-limit minute=100/60 --rate-limiting true --on-limiter-error allow
               --revocation-bound-ms 0 --meta {"team":"ci"} --expires-in 30d --disabled
               --owner ada@example.com"#,
        );
        assert_eq!(
            body(&c),
            json!({
                "owner": "ada@example.com",
                "name": "CI-deploy",
                "scopes": ["read", "employees:read"],
                "resources": {"site": ["s1", "s2", "s3"]},
                "fields": {"employees": ["name", "start_date"]},
                "rate_limits": [{"name": "minute", "limit": 100, "window_seconds": 60}],
                "rate_limiting": true,
                "on_limiter_error": "allow",
                "revocation_bound_ms": 0,
                "meta": {"team": "ci"},
                "enabled": false,
                "expires_in_days": 30,
            })
        );
        let hours = call("keys create acme --name ci --expires-in 36h");
        assert_eq!(body(&hours)["expires_at"], "2026-01-16T12:00:00.000Z");
        let at = call("keys create acme --name ci --expires-at 2027-01-15T00:00:00+01:00");
        assert_eq!(body(&at)["expires_at"], "2027-01-14T23:00:00.000Z");
        assert_eq!(
            body(&call("keys create acme --name ci")),
            json!({"name": "ci"})
        );
    }

    #[test]
    fn update_sends_only_what_changes() {
        for (line, sent) in [
            (
                "keys update acme key_a1 --scope write",
                json!({"scopes": ["write"]}),
            ),
            ("keys disable acme key_a1", json!({"enabled": false})),
            ("keys enable acme key_a1", json!({"enabled": true})),
            (
                "orgs put acme --api-access false --on-leak notify",
                json!({"plan": null, "api_access": false, "on_leak": "notify"}),
            ),
            (
                "keys rotate acme key_a1 --grace-hours 0",
                json!({"grace_period_hours": 0}),
            ),
        ] {
            assert_eq!(body(&call(line)), sent, "{line}");
        }
        assert_eq!(
            call("keys rotate acme key_a1").body,
            None,
            "the default grace"
        );
    }

    /// The bodies are read by keygate's own parsers, so a field name the API does not know
    /// (they refuse unknown fields) fails here, not against a server.
    #[test]
    fn keygate_reads_every_body_the_cli_sends() {
        let policy = Policy::allow_all();
        let bytes = |line: &str| call(line).body.unwrap_or_default().into_bytes();
        let create = |line: &str| {
            manage::parse_body::<CreateKey>(&bytes(line))
                .and_then(|b| b.validate(NOW, &policy, Default::default()))
        };
        let key = create(
            r#"keys create acme --name CI-deploy --scope employees:read --resource site=s1
               --field employees=name --rate-limit minute=100/60 --rate-limiting false
               --on-limiter-error allow --revocation-bound-ms 0 --meta {"team":"ci"}
               --expires-in 36h --disabled"#,
        )
        .unwrap();
        assert_eq!(key.expires_at, Some(NOW.plus_millis(36 * UnixMillis::HOUR)));
        assert!(!key.enabled && !key.rate_limiting);
        let key = create("keys create acme --name ci-key --scope read --expires-in 2w").unwrap();
        assert_eq!(key.expires_at, Some(NOW.plus_millis(14 * UnixMillis::DAY)));
        for line in [
            r#"keys update acme key_a1 --name new-name --scope write --resource site=s1
               --field employees=name --rate-limit day=10/1d --rate-limiting true
               --on-limiter-error deny --revocation-bound-ms 500 --meta {}"#,
            "keys disable acme key_a1",
        ] {
            let patch = manage::parse_body::<UpdateKey>(&bytes(line))
                .and_then(|b| b.validate(&policy, Default::default()));
            assert!(patch.is_ok(), "{line}: {patch:?}");
        }
        let rotate =
            manage::parse_body::<RotateKey>(&bytes("keys rotate acme key_a1 --grace-hours 48"));
        assert_eq!(rotate.unwrap().grace_hours().ok(), Some(48));
        let put =
            manage::parse_body::<PutOrg>(&bytes("orgs put acme --plan business --on-leak disable"));
        assert_eq!(put.unwrap().plan, Some(keygate::domain::Plan::Business));
    }
}
