//! The command line: global options, commands and their flags (clap derive). Values are parsed
//! by [`values`](crate::values) into keygate's own types; a bad one is clap's usage error,
//! exit 2.

use std::fmt;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use keygate::domain::leak::OnLeak;
use keygate::domain::manage::audit::AuditKind;
use keygate::domain::{GuardFallback, KeyId, OrgId, Plan, RateLimit, Scope};
use serde_json::value::RawValue;
use url::Url;

use crate::values::{self, Restriction, Span, When};

const EXIT_CODES: &str = "\
Exit codes: 0 done; 1 anything else (e.g. a confirmation not given); 2 usage error;
3 keygate refused (any 4xx/5xx answer: its code and message are printed);
4 network failure (connection refused, DNS, TLS, timeout).

Prefer KEYGATE_TOKEN to --token: a flag is visible to every user of the machine in `ps`.";

/// keygate's command-line tool: organizations, keys, usage, the audit log and the policy,
/// through the management API.
#[derive(Parser, Debug)]
#[command(name = "keygate", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// keygate's management root, admin prefix included, e.g. https://api.example.com/_keygate
    #[arg(long, env = "KEYGATE_URL", global = true, value_parser = base_url)]
    pub url: Option<Url>,
    /// The admin token, or an API key with the admin scope (sent as Authorization: Bearer)
    #[arg(long, env = "KEYGATE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<Token>,
    /// Print the API's JSON answer unchanged (for scripts)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The management credential. Never printed: `Debug` hides it, and clap never sees an invalid
/// one (its error would quote the value).
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The `Authorization` header's value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether it can go in a header: printable ASCII, not empty.
    pub fn is_valid(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl From<String> for Token {
    fn from(s: String) -> Token {
        Token(s)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

fn base_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s)
        .map_err(|e| format!("not a URL ({e}); e.g. https://api.example.com/_keygate"))?;
    match url.scheme() {
        "http" | "https" if url.query().is_none() && url.fragment().is_none() => Ok(url),
        "http" | "https" => Err("give the management root without a query or fragment".into()),
        other => Err(format!("scheme {other:?}: use http or https")),
    }
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Organizations: list, show, create or change
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// An organization's keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// An organization's audit log, newest first
    Audit(AuditArgs),
    /// The deployment's route policy: resources, actions, id types, filterable fields
    Policy,
}

/// `keygate orgs …`.
#[derive(Subcommand, Debug)]
pub enum OrgsCommand {
    /// Every organization (admin token only)
    List(Page),
    /// One organization: plan, key count and limit, on_leak
    Get {
        /// The organization's id
        #[arg(value_parser = values::org)]
        org: OrgId,
    },
    /// Create an organization (--plan required) or change it (admin token only)
    Put {
        /// The organization's id
        #[arg(value_parser = values::org)]
        org: OrgId,
        /// free (2 keys), pro (10), business (50) or enterprise (unlimited)
        #[arg(long, value_parser = values::plan)]
        plan: Option<Plan>,
        /// false refuses every key of the organization (403 api_plan_required)
        #[arg(long, value_name = "true|false", action = ArgAction::Set)]
        api_access: Option<bool>,
        /// What a key found in public becomes: revoke, disable or notify
        #[arg(long, value_name = "revoke|disable|notify", value_parser = values::on_leak)]
        on_leak: Option<OnLeak>,
    },
}

/// `keygate keys …`.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key: the key goes to stdout, once; a warning and a summary to stderr
    Create {
        /// The organization's id
        #[arg(value_parser = values::org)]
        org: OrgId,
        /// 3-100 characters
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: KeySettings,
        /// Expires after this long: 30d (whole days are counted by keygate), 12h, 2w
        #[arg(long, value_name = "DURATION", value_parser = Span::parse, conflicts_with = "expires_at")]
        expires_in: Option<Span>,
        /// Expires at this RFC 3339 instant, e.g. 2027-01-15T00:00:00Z
        #[arg(long, value_name = "RFC3339", value_parser = values::instant)]
        expires_at: Option<keygate::domain::UnixMillis>,
        /// Create it disabled
        #[arg(long)]
        disabled: bool,
        /// Who the key acts for: an email address or a user id, sent to the origin with every
        /// request (cannot be changed later)
        #[arg(long, value_name = "EMAIL|ID")]
        owner: Option<String>,
    },
    /// List keys, newest first (masked)
    List {
        /// The organization's id
        #[arg(value_parser = values::org)]
        org: OrgId,
        #[command(flatten)]
        filters: KeyFilters,
        #[command(flatten)]
        page: Page,
    },
    /// One key (masked)
    Get(KeyRef),
    /// Change a key's settings; the expiry cannot change. A list flag replaces the whole list.
    Update {
        #[command(flatten)]
        key: KeyRef,
        /// New name, 3-100 characters
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        settings: KeySettings,
    },
    /// Disable a key (it can be enabled again)
    Disable(KeyRef),
    /// Enable a disabled key
    Enable(KeyRef),
    /// New secret, same id and settings: the new key goes to stdout, once
    Rotate {
        #[command(flatten)]
        key: KeyRef,
        /// How long the previous secret keeps working, 0-720 hours (default 24)
        #[arg(long, value_name = "HOURS")]
        grace_hours: Option<u32>,
    },
    /// Revoke a key, permanently
    Revoke(KeyRef),
    /// Revoke every key of the organization, permanently: asks for its id to be typed
    RevokeAll {
        /// The organization's id
        #[arg(value_parser = values::org)]
        org: OrgId,
        /// Do not ask (for scripts)
        #[arg(long)]
        yes: bool,
    },
    /// A key's usage: last use, counts, refusals, recent requests; or a series of buckets
    Usage {
        #[command(flatten)]
        key: KeyRef,
        /// Buckets of admitted and refused requests: hour (48 hours) or day (30 days)
        #[arg(long, value_enum)]
        series: Option<Series>,
    },
}

/// An organization and one of its keys.
#[derive(Args, Debug)]
pub struct KeyRef {
    /// The organization's id
    #[arg(value_parser = values::org)]
    pub org: OrgId,
    /// The key's id (key_…)
    #[arg(value_parser = values::key_id)]
    pub id: KeyId,
}

/// What a key may do and how it is limited: the flags `create` and `update` share.
#[derive(Args, Debug)]
pub struct KeySettings {
    /// read, write, admin or resource:action (repeat for several)
    #[arg(long = "scope", value_name = "SCOPE", value_parser = values::scope)]
    pub scopes: Vec<Scope>,
    /// Ids the key may reach, per type, e.g. site=site_1,site_2 (repeat for several types)
    #[arg(long = "resource", value_name = "TYPE=ID,…", value_parser = Restriction::parse)]
    pub resources: Vec<Restriction>,
    /// Fields the key may read, per resource, e.g. employees=name,start_date
    #[arg(long = "field", value_name = "RESOURCE=PATH,…", value_parser = Restriction::parse)]
    pub fields: Vec<Restriction>,
    /// A window of its own, e.g. minute=100/60 or day=10000/1d (repeat for several)
    #[arg(long = "rate-limit", value_name = "NAME=LIMIT/SECONDS", value_parser = values::rate_limit)]
    pub rate_limits: Vec<RateLimit>,
    /// false: no rate limiting at all (admin token only)
    #[arg(long, value_name = "true|false", action = ArgAction::Set)]
    pub rate_limiting: Option<bool>,
    /// When its guard cannot be reached: deny (default) or allow (admin token only)
    #[arg(long, value_name = "deny|allow", value_parser = values::guard_fallback)]
    pub on_limiter_error: Option<GuardFallback>,
    /// Its own revocation bound in ms (0: the guard decides every request)
    #[arg(long, value_name = "MS")]
    pub revocation_bound_ms: Option<u32>,
    /// A JSON object passed to the origin, e.g. '{"team":"data"}' (admin token only)
    #[arg(long, value_name = "JSON", value_parser = values::meta)]
    pub meta: Option<Box<RawValue>>,
}

/// The filters and order of `keys list`.
#[derive(Args, Debug)]
pub struct KeyFilters {
    /// Only keys in this state
    #[arg(long, value_enum)]
    pub status: Option<KeyState>,
    /// Only keys expiring before this: RFC 3339, or a duration from now (30d)
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    pub expires_before: Option<When>,
    /// Only keys not used since this: RFC 3339, or a duration back from now (90d)
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    pub unused_since: Option<When>,
    /// Only keys whose name, id or start contains this text
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only keys holding this scope
    #[arg(long, value_parser = values::scope)]
    pub scope: Option<Scope>,
    /// Order by
    #[arg(long, value_enum)]
    pub sort: Option<Sort>,
    /// asc or desc
    #[arg(long, value_enum)]
    pub order: Option<Order>,
}

/// The filters of `audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The organization's id
    #[arg(value_parser = values::org)]
    pub org: OrgId,
    /// Only this event type, e.g. key_revoked
    #[arg(long = "type", value_name = "TYPE", value_parser = values::audit_kind)]
    pub kind: Option<AuditKind>,
    /// Only events about this key
    #[arg(long, value_name = "ID", value_parser = values::key_id)]
    pub key_id: Option<KeyId>,
    /// Only at or after this: RFC 3339, or a duration back from now (24h)
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    pub since: Option<When>,
    /// Only before this: RFC 3339, or a duration back from now
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    pub until: Option<When>,
    #[command(flatten)]
    pub page: Page,
}

/// A page of a list.
#[derive(Args, Debug)]
pub struct Page {
    /// Items per page (1-200)
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Continue from a previous page (its `next page:` hint)
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Follow every next page and print them all as one
    #[arg(long)]
    pub all: bool,
}

/// `--status`: a key's state as the list filters it.
#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum KeyState {
    Active,
    Disabled,
    Expired,
    /// Rotated, the previous secret still in its grace period
    Rotating,
}

/// `--sort`.
#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum Sort {
    Created,
    LastUsed,
    Requests,
    Expires,
}

/// `--order`.
#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum Order {
    Asc,
    Desc,
}

/// `--series`.
#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum Series {
    Hour,
    Day,
}

/// The API's spelling of a value-enum flag: its name on the command line.
pub fn spelled<T: ValueEnum>(value: T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// A command line as the shell would split it, when no word holds a space (for tests).
#[cfg(test)]
pub fn parse_line(line: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("keygate").chain(line.split_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_exit_2_and_name_the_flag() {
        for line in [
            "keys list",
            "keys list acme --colour",
            "keys list Acme",
            "keys get acme nope",
            "keys create acme --name ci --rate-limit minute=0/60",
            "keys create acme --name ci --expires-in 30d --expires-at 2030-01-01T00:00:00Z",
            "keys update acme key_a1 --expires-in 30d",
            "keys list acme --sort name",
            "orgs put acme --plan gold",
            "audit acme --since yesterday",
        ] {
            let err = parse_line(line).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{line}: {err}");
        }
        let err = parse_line("keys list acme --sort name")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--sort") && err.contains("last_used"), "{err}");
    }

    #[test]
    fn global_options_go_anywhere_and_the_token_never_prints() {
        let cli =
            parse_line("keys list acme --json --url http://127.0.0.1:8787/_keygate --token s3cret")
                .unwrap();
        assert!(cli.json);
        assert_eq!(cli.url.unwrap().path(), "/_keygate");
        let debug = format!("{:?}", cli.token);
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(parse_line("--url ftp://host policy").is_err());
        assert!(parse_line("--url http://host/_keygate?x=1 policy").is_err());
    }

    #[test]
    fn value_enums_are_spelled_as_the_api_spells_them() {
        assert_eq!(spelled(Sort::LastUsed), "last_used");
        assert_eq!(spelled(KeyState::Rotating), "rotating");
        assert_eq!(spelled(Series::Hour), "hour");
        assert_eq!(spelled(Order::Desc), "desc");
    }

    #[test]
    fn tokens_must_fit_in_a_header() {
        assert!(Token::from("abc".to_owned()).is_valid());
        assert!(!Token::from(String::new()).is_valid());
        assert!(!Token::from("a b".to_owned()).is_valid());
        assert!(!Token::from("a\nb".to_owned()).is_valid());
    }
}
