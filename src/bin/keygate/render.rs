//! Human output: aligned tables, relative times ("2 min ago", "in 29 days", "never"), and one
//! printer per kind of answer. Pure: the answer's JSON and `now` in, the text for stdout and
//! stderr out. Only the fields printed are read, so a field the API adds later changes nothing.
//!
//! A new key's secret is the only thing on stdout when it is created or rotated, so
//! `KEY=$(keygate keys create …)` captures exactly the key; what it is and the warning that it
//! is not shown again go to stderr.

use std::collections::BTreeMap;

use keygate::domain::{RateLimit, UnixMillis};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use unicode_width::UnicodeWidthStr;

use crate::call::Answer;

/// What a command prints.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    /// The result: a table, a value, a key.
    pub stdout: String,
    /// Notes for the person at the terminal: warnings, the next page's cursor.
    pub stderr: String,
}

/// Prints `body`, an answer holding `answer`, as text for a person.
pub fn print(answer: Answer, body: &[u8], now: UnixMillis) -> Result<Printed, String> {
    let shown = Shown { now };
    match answer {
        Answer::Org => read(body).map(|o: Org| shown.org(&o)),
        Answer::Orgs => read(body).map(|p: OrgPage| shown.orgs(&p)),
        Answer::Key => read(body).map(|k: Key| shown.key(&k)),
        Answer::Keys => read(body).map(|p: KeyPage| shown.keys(&p)),
        Answer::Created | Answer::Rotated => {
            read(body).and_then(|k: Key| shown.secret(&k, answer == Answer::Rotated))
        }
        Answer::Revoked | Answer::RevokedAll => read(body).map(|d: Done| Printed {
            stdout: format!("{}\n", d.message),
            stderr: String::new(),
        }),
        Answer::Usage => read(body).map(|u: Usage| shown.usage(&u)),
        Answer::Series => read(body).map(|s: Series| shown.series(&s)),
        Answer::Audit => read(body).map(|p: AuditPage| shown.audit(&p)),
        Answer::Policy => read(body).map(|p: Policy| shown.policy(&p)),
    }
}

fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("keygate's answer is not what this CLI reads ({e})"))
}

/// `at` relative to `now`, in the largest whole unit: "just now", "2 min ago", "5 hours ago",
/// "in 29 days", "in 2 years". Whole units round down, so a key that expires in 29 days and
/// 23 hours shows "in 29 days".
pub fn relative(at: UnixMillis, now: UnixMillis) -> String {
    let (ms, ahead) = if at > now {
        (at.0 - now.0, true)
    } else {
        (now.0 - at.0, false)
    };
    let minutes = ms / 60_000;
    let hours = ms / UnixMillis::HOUR;
    let days = ms / UnixMillis::DAY;
    let span = match () {
        _ if minutes == 0 => {
            return if ahead {
                "in under a minute"
            } else {
                "just now"
            }
            .into();
        }
        _ if hours == 0 => format!("{minutes} min"),
        _ if days == 0 => count(hours, "hour"),
        // Up to two years in days: "in 400 days" says more than "in 1 year".
        _ if days < 730 => count(days, "day"),
        _ => count(days / 365, "year"),
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn count(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `at` to the second, UTC: `2026-01-15T09:30:00Z`.
fn stamp(at: UnixMillis) -> String {
    let text = at.to_string();
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

/// Text cut to `max` characters, marked with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Columns aligned by display width (a CJK character takes two), two spaces apart; no
/// trailing spaces.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// A table without a header (label/value pairs).
    fn headless() -> Table {
        Table { rows: Vec::new() }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The aligned text, one line per row.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.width() + 2));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<UnixMillis, D::Error> {
    let text = String::deserialize(d)?;
    UnixMillis::parse_rfc3339(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("not RFC 3339: {text:?}")))
}

fn rfc3339_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UnixMillis>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "rfc3339")] UnixMillis);
    Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(at)| at))
}

#[derive(Deserialize)]
struct Org {
    id: String,
    plan: String,
    api_access: bool,
    key_limit: Option<u64>,
    key_count: u64,
    on_leak: String,
    #[serde(deserialize_with = "rfc3339")]
    created_at: UnixMillis,
    #[serde(deserialize_with = "rfc3339")]
    updated_at: UnixMillis,
}

#[derive(Deserialize)]
struct OrgPage {
    orgs: Vec<Org>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Key {
    id: String,
    org: String,
    name: String,
    #[serde(default)]
    owner: Option<String>,
    start: String,
    status: String,
    scopes: Vec<String>,
    #[serde(default)]
    resources: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    fields: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    rate_limits: Vec<RateLimit>,
    #[serde(default = "yes")]
    rate_limiting: bool,
    #[serde(default)]
    on_limiter_error: Option<String>,
    #[serde(default)]
    revocation_bound_ms: Option<u32>,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    expires_at: Option<UnixMillis>,
    #[serde(deserialize_with = "rfc3339")]
    created_at: UnixMillis,
    #[serde(default)]
    created_by: String,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    updated_at: Option<UnixMillis>,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    rotated_at: Option<UnixMillis>,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    last_used_at: Option<UnixMillis>,
    #[serde(default)]
    requests_total: u64,
    #[serde(default)]
    meta: Option<Box<RawValue>>,
    /// Only in the answer that creates or rotates the key.
    #[serde(default)]
    key: Option<String>,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    previous_key_valid_until: Option<UnixMillis>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct KeyPage {
    keys: Vec<Key>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Done {
    message: String,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(deserialize_with = "rfc3339_opt")]
    last_used_at: Option<UnixMillis>,
    requests_24h: u64,
    requests_7d: u64,
    requests_total: u64,
    #[serde(default)]
    refused: BTreeMap<String, u64>,
    #[serde(default)]
    recent: Vec<UsageEvent>,
}

#[derive(Deserialize)]
struct UsageEvent {
    #[serde(deserialize_with = "rfc3339")]
    at: UnixMillis,
    method: String,
    path: String,
    outcome: String,
    status: Option<u16>,
    country: Option<String>,
}

#[derive(Deserialize)]
struct Series {
    series: String,
    buckets: Vec<Bucket>,
}

#[derive(Deserialize)]
struct Bucket {
    #[serde(deserialize_with = "rfc3339")]
    start: UnixMillis,
    admitted: u64,
    refused: u64,
}

#[derive(Deserialize)]
struct AuditPage {
    events: Vec<AuditEvent>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct AuditEvent {
    seq: u64,
    #[serde(deserialize_with = "rfc3339")]
    at: UnixMillis,
    #[serde(rename = "type")]
    kind: String,
    actor: String,
    key_id: Option<String>,
    details: Box<RawValue>,
}

#[derive(Deserialize)]
struct Policy {
    default: String,
    /// What `write` includes in this deployment.
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    resources: Vec<PolicyResource>,
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

#[derive(Deserialize)]
struct PolicyResource {
    name: String,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    id_types: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

#[derive(Deserialize)]
struct PolicyRule {
    #[serde(default)]
    methods: Vec<String>,
    path: String,
    resource: String,
    #[serde(default)]
    actions: Vec<String>,
    /// Scopes the rule requires instead of `resource:action` (all of them).
    #[serde(default)]
    requires: Vec<String>,
}

/// Longest key name in a table (`keys get` shows it whole).
const NAME_CHARS: usize = 32;

/// The printers, with the instant relative times count from.
struct Shown {
    now: UnixMillis,
}

impl Shown {
    fn ago(&self, at: Option<UnixMillis>) -> String {
        at.map_or_else(|| "never".into(), |at| relative(at, self.now))
    }

    /// `2026-01-15T09:30:00Z (2 min ago)`.
    fn when(&self, at: UnixMillis) -> String {
        format!("{} ({})", stamp(at), relative(at, self.now))
    }

    fn org(&self, o: &Org) -> Printed {
        let keys = match o.key_limit {
            Some(limit) => format!("{} of {limit}", o.key_count),
            None => format!("{} (no limit)", o.key_count),
        };
        pairs(vec![
            ("id", o.id.clone()),
            ("plan", o.plan.clone()),
            ("api access", yes_no(o.api_access)),
            ("keys", keys),
            ("on leak", o.on_leak.clone()),
            ("created", self.when(o.created_at)),
            ("updated", self.when(o.updated_at)),
        ])
    }

    fn orgs(&self, page: &OrgPage) -> Printed {
        let mut table = Table::new(&["ID", "PLAN", "API", "KEYS", "ON LEAK", "CREATED"]);
        for o in &page.orgs {
            let keys = match o.key_limit {
                Some(limit) => format!("{}/{limit}", o.key_count),
                None => o.key_count.to_string(),
            };
            table.row(vec![
                o.id.clone(),
                o.plan.clone(),
                yes_no(o.api_access),
                keys,
                o.on_leak.clone(),
                relative(o.created_at, self.now),
            ]);
        }
        listed(
            table,
            page.orgs.is_empty(),
            "organizations",
            &page.next_cursor,
        )
    }

    fn key(&self, k: &Key) -> Printed {
        let mut rows = vec![
            ("id", k.id.clone()),
            ("name", k.name.clone()),
            ("org", k.org.clone()),
            ("key", k.start.clone()),
            ("status", k.status.clone()),
            ("scopes", k.scopes.join(", ")),
            ("resources", restrictions(&k.resources, "any")),
            ("fields", restrictions(&k.fields, "all")),
            ("rate limits", self.limits(k)),
            (
                "revocation",
                k.revocation_bound_ms
                    .map_or("the deployment's bound".into(), |ms| {
                        format!("within {ms} ms")
                    }),
            ),
            (
                "expires",
                k.expires_at.map_or("never".into(), |at| self.when(at)),
            ),
            (
                "created",
                format!("{} by {}", self.when(k.created_at), k.created_by),
            ),
            ("owner", k.owner.clone().unwrap_or_else(|| "none".into())),
        ];
        rows.extend(k.updated_at.map(|at| ("updated", self.when(at))));
        rows.extend(k.rotated_at.map(|at| ("rotated", self.when(at))));
        rows.push(("last used", self.ago(k.last_used_at)));
        rows.push(("requests", k.requests_total.to_string()));
        rows.push((
            "meta",
            k.meta
                .as_ref()
                .map_or("none".into(), |m| m.get().to_owned()),
        ));
        pairs(rows)
    }

    fn limits(&self, k: &Key) -> String {
        let mut text = if !k.rate_limiting {
            "off".to_owned()
        } else if k.rate_limits.is_empty() {
            "the plan's".to_owned()
        } else {
            let windows: Vec<String> = k
                .rate_limits
                .iter()
                .map(|l| format!("{} {}/{}s", l.name, l.limit, l.window_seconds))
                .collect();
            windows.join(", ")
        };
        if k.on_limiter_error.as_deref() == Some("allow") {
            text.push_str("; admitted uncounted when its guard is unreachable");
        }
        text
    }

    fn keys(&self, page: &KeyPage) -> Printed {
        let mut table = Table::new(&[
            "ID",
            "NAME",
            "KEY",
            "SCOPES",
            "STATUS",
            "LAST USED",
            "REQUESTS",
            "EXPIRES",
        ]);
        for k in &page.keys {
            table.row(vec![
                k.id.clone(),
                clip(&k.name, NAME_CHARS),
                k.start.clone(),
                k.scopes.join(","),
                k.status.clone(),
                self.ago(k.last_used_at),
                k.requests_total.to_string(),
                self.ago(k.expires_at),
            ]);
        }
        listed(table, page.keys.is_empty(), "keys", &page.next_cursor)
    }

    fn secret(&self, k: &Key, rotated: bool) -> Result<Printed, String> {
        let secret = k.key.as_deref().ok_or("keygate's answer holds no key")?;
        let what = if rotated {
            let previous = match k.previous_key_valid_until {
                Some(until) => format!("the previous secret works until {}", self.when(until)),
                None => "the previous secret no longer works".into(),
            };
            format!("rotated {} \"{}\" in {}: {previous}", k.id, k.name, k.org)
        } else {
            let expires = k.expires_at.map_or("never expires".into(), |at| {
                format!("expires {}", relative(at, self.now))
            });
            format!(
                "created {} \"{}\" in {} ({}; {expires})",
                k.id,
                k.name,
                k.org,
                k.scopes.join(", ")
            )
        };
        Ok(Printed {
            stdout: format!("{secret}\n"),
            stderr: format!(
                "{what}\nwarning: the key above is shown this once and cannot be retrieved again: store it now\n"
            ),
        })
    }

    fn usage(&self, u: &Usage) -> Printed {
        let refused: Vec<String> = u
            .refused
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        let mut printed = pairs(vec![
            ("last used", self.ago(u.last_used_at)),
            ("requests 24h", u.requests_24h.to_string()),
            ("requests 7d", u.requests_7d.to_string()),
            ("requests total", u.requests_total.to_string()),
            (
                "refused",
                if refused.is_empty() {
                    "none".into()
                } else {
                    refused.join(", ")
                },
            ),
        ]);
        if !u.recent.is_empty() {
            let mut table = Table::new(&["WHEN", "METHOD", "PATH", "OUTCOME", "STATUS", "COUNTRY"]);
            for e in &u.recent {
                table.row(vec![
                    relative(e.at, self.now),
                    e.method.clone(),
                    e.path.clone(),
                    e.outcome.clone(),
                    e.status.map_or("-".into(), |s| s.to_string()),
                    e.country.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            printed
                .stdout
                .push_str("\nrecent requests, newest first:\n");
            printed.stdout.push_str(&table.render());
        }
        printed
    }

    fn series(&self, s: &Series) -> Printed {
        let mut table = Table::new(&[&s.series.to_uppercase(), "ADMITTED", "REFUSED"]);
        for b in &s.buckets {
            table.row(vec![
                stamp(b.start),
                b.admitted.to_string(),
                b.refused.to_string(),
            ]);
        }
        Printed {
            stdout: table.render(),
            stderr: String::new(),
        }
    }

    fn audit(&self, page: &AuditPage) -> Printed {
        let mut table = Table::new(&["SEQ", "AT", "TYPE", "ACTOR", "KEY", "DETAILS"]);
        for e in &page.events {
            let details = e.details.get();
            table.row(vec![
                e.seq.to_string(),
                stamp(e.at),
                e.kind.clone(),
                e.actor.clone(),
                e.key_id.clone().unwrap_or_else(|| "-".into()),
                if details == "{}" {
                    String::new()
                } else {
                    details.to_owned()
                },
            ]);
        }
        listed(table, page.events.is_empty(), "events", &page.next_cursor)
    }

    fn policy(&self, p: &Policy) -> Printed {
        let mut out = format!("default: {}\n", p.default);
        if !p.write.is_empty() {
            out.push_str(&format!("write means: {}\n", p.write.join(", ")));
        }
        if !p.resources.is_empty() {
            let mut table = Table::new(&["RESOURCE", "ACTIONS", "ID TYPES", "FIELDS"]);
            for r in &p.resources {
                table.row(vec![
                    r.name.clone(),
                    r.actions.join(","),
                    or_dash(r.id_types.join(",")),
                    or_dash(r.fields.join(",")),
                ]);
            }
            out.push('\n');
            out.push_str(&table.render());
        }
        if !p.rules.is_empty() {
            let mut table = Table::new(&["METHODS", "PATH", "NEEDS"]);
            for r in &p.rules {
                // What a key must hold: the required scopes, else resource:action per action.
                let needs = if r.requires.is_empty() {
                    let each: Vec<String> = r
                        .actions
                        .iter()
                        .map(|a| format!("{}:{a}", r.resource))
                        .collect();
                    each.join(" or ")
                } else {
                    r.requires.join(" + ")
                };
                table.row(vec![
                    or_dash(r.methods.join(",")),
                    r.path.clone(),
                    or_dash(needs),
                ]);
            }
            out.push('\n');
            out.push_str(&table.render());
        }
        Printed {
            stdout: out,
            stderr: String::new(),
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn or_dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}

/// `site=s1,s2; team=t1`, or `none` when there are none.
fn restrictions(map: &BTreeMap<String, Vec<String>>, none: &str) -> String {
    if map.is_empty() {
        return none.into();
    }
    let each: Vec<String> = map
        .iter()
        .map(|(name, entries)| format!("{name}={}", entries.join(",")))
        .collect();
    each.join("; ")
}

/// Label/value lines, the values aligned.
fn pairs(rows: Vec<(&str, String)>) -> Printed {
    let mut table = Table::headless();
    for (label, value) in rows {
        table.row(vec![label.to_owned(), value]);
    }
    Printed {
        stdout: table.render(),
        stderr: String::new(),
    }
}

/// A page of a list: the table (or `no …`), and the next page's cursor on stderr.
fn listed(table: Table, empty: bool, what: &str, next: &Option<String>) -> Printed {
    Printed {
        stdout: if empty {
            format!("no {what}\n")
        } else {
            table.render()
        },
        stderr: next
            .as_ref()
            .map(|c| format!("next page: --cursor {c}\n"))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-15T00:00:00Z.
    const NOW: UnixMillis = UnixMillis(1_768_435_200_000);
    const MIN: u64 = 60_000;
    const HOUR: u64 = UnixMillis::HOUR;
    const DAY: u64 = UnixMillis::DAY;

    #[test]
    fn relative_times_round_down_to_the_largest_unit() {
        let past = |ms: u64| relative(UnixMillis(NOW.0 - ms), NOW);
        let ahead = |ms: u64| relative(NOW.plus_millis(ms), NOW);
        assert_eq!(past(0), "just now");
        assert_eq!(past(59_999), "just now");
        assert_eq!(past(2 * MIN + 5_000), "2 min ago");
        assert_eq!(past(59 * MIN), "59 min ago");
        assert_eq!(past(HOUR), "1 hour ago");
        assert_eq!(past(23 * HOUR + 59 * MIN), "23 hours ago");
        assert_eq!(past(DAY), "1 day ago");
        assert_eq!(past(400 * DAY), "400 days ago");
        assert_eq!(past(3 * 365 * DAY), "3 years ago");
        assert_eq!(ahead(30 * 1000), "in under a minute");
        assert_eq!(
            ahead(30 * DAY - 5_000),
            "in 29 days",
            "a 30-day key a moment later"
        );
        assert_eq!(ahead(30 * DAY), "in 30 days");
        assert_eq!(ahead(5 * HOUR), "in 5 hours");
    }

    #[test]
    fn tables_align_by_display_width() {
        let mut t = Table::new(&["ID", "NAME", "STATUS"]);
        t.row(vec!["key_1".into(), "Zürich 報告".into(), "active".into()]);
        t.row(vec!["key_22".into(), "ci".into(), "disabled".into()]);
        assert_eq!(
            t.render(),
            "ID      NAME         STATUS\n\
             key_1   Zürich 報告  active\n\
             key_22  ci           disabled\n"
        );
    }

    #[test]
    fn stamps_are_to_the_second() {
        assert_eq!(stamp(UnixMillis(1_768_435_200_250)), "2026-01-15T00:00:00Z");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abcd", 4), "abcd");
    }

    fn key_json(extra: &str) -> String {
        format!(
            r#"{{"id":"key_a1","org":"acme","name":"CI deploy","start":"kg_live_3hR9…","status":"active",
            "scopes":["read","employees:read"],"resources":{{"site":["s1","s2"]}},"fields":{{}},
            "rate_limits":[{{"name":"minute","limit":100,"window_seconds":60}}],"rate_limiting":true,
            "on_limiter_error":"deny","revocation_bound_ms":null,"enabled":true,
            "expires_at":"2026-02-14T00:00:00.000Z","created_at":"2026-01-14T23:58:00.000Z",
            "created_by":"admin","updated_at":null,"rotated_at":null,"revoked_at":null,
            "meta":{{"team":"ci"}},"last_used_at":null,"requests_total":0{extra}}}"#
        )
    }

    #[test]
    fn a_key_list_is_a_table_with_relative_times_and_the_next_cursor() {
        let body = format!(
            r#"{{"keys":[{},{}],"next_cursor":"17"}}"#,
            key_json(""),
            key_json("").replace("key_a1", "key_b2").replace(
                r#""last_used_at":null,"requests_total":0"#,
                r#""last_used_at":"2026-01-14T23:58:00Z","requests_total":12"#
            )
        );
        let printed = print(Answer::Keys, body.as_bytes(), NOW).unwrap();
        assert_eq!(
            printed.stdout,
            "ID      NAME       KEY            SCOPES               STATUS  LAST USED  REQUESTS  EXPIRES\n\
             key_a1  CI deploy  kg_live_3hR9…  read,employees:read  active  never      0         in 30 days\n\
             key_b2  CI deploy  kg_live_3hR9…  read,employees:read  active  2 min ago  12        in 30 days\n"
        );
        assert_eq!(printed.stderr, "next page: --cursor 17\n");
        let empty = print(Answer::Keys, br#"{"keys":[],"next_cursor":null}"#, NOW).unwrap();
        assert_eq!(
            empty,
            Printed {
                stdout: "no keys\n".into(),
                stderr: String::new()
            }
        );
    }

    #[test]
    fn a_new_key_alone_goes_to_stdout() {
        let body = key_json(r#","key":"kg_live_secret""#);
        let printed = print(Answer::Created, body.as_bytes(), NOW).unwrap();
        assert_eq!(printed.stdout, "kg_live_secret\n");
        assert!(
            printed.stderr.contains(
                "created key_a1 \"CI deploy\" in acme (read, employees:read; expires in 30 days)"
            ),
            "{}",
            printed.stderr
        );
        assert!(
            printed
                .stderr
                .contains("warning: the key above is shown this once")
        );
        let rotated = key_json(
            r#","key":"kg_live_new","previous_key_valid_until":"2026-01-16T00:00:00.000Z""#,
        );
        let printed = print(Answer::Rotated, rotated.as_bytes(), NOW).unwrap();
        assert_eq!(printed.stdout, "kg_live_new\n");
        assert!(
            printed
                .stderr
                .contains("works until 2026-01-16T00:00:00Z (in 1 day)"),
            "{}",
            printed.stderr
        );
        assert!(
            print(Answer::Created, key_json("").as_bytes(), NOW).is_err(),
            "no key, no success"
        );
    }

    #[test]
    fn one_key_is_label_and_value_lines() {
        let printed = print(Answer::Key, key_json("").as_bytes(), NOW).unwrap();
        let text = printed.stdout;
        for line in [
            "status       active\n",
            "resources    site=s1,s2\n",
            "fields       all\n",
            "rate limits  minute 100/60s\n",
            "expires      2026-02-14T00:00:00Z (in 30 days)\n",
            "created      2026-01-14T23:58:00Z (2 min ago) by admin\n",
            "last used    never\n",
            "meta         {\"team\":\"ci\"}\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn usage_series_audit_orgs_and_policy_print() {
        let usage = br#"{"last_used_at":"2026-01-14T23:00:00Z","requests_24h":3,"requests_7d":3,"requests_total":3,
            "refused":{"insufficient_scope":1},"recent":[{"at":"2026-01-14T23:00:00Z","method":"GET","path":"/api/ping","outcome":"admitted","status":null,"country":null}]}"#;
        let text = print(Answer::Usage, usage, NOW).unwrap().stdout;
        assert!(text.contains("last used       1 hour ago\n"), "{text}");
        assert!(
            text.contains("refused         insufficient_scope 1\n"),
            "{text}"
        );
        assert!(
            text.contains("1 hour ago  GET     /api/ping  admitted  -       -"),
            "{text}"
        );
        let series = br#"{"series":"hour","buckets":[{"start":"2026-01-14T23:00:00Z","admitted":3,"refused":1}]}"#;
        assert_eq!(
            print(Answer::Series, series, NOW).unwrap().stdout,
            "HOUR                  ADMITTED  REFUSED\n2026-01-14T23:00:00Z  3         1\n"
        );
        let audit = br#"{"events":[{"seq":2,"at":"2026-01-14T23:00:00.000Z","type":"key_revoked","actor":"admin","key_id":"key_a1","details":{}},
            {"seq":1,"at":"2026-01-14T22:00:00.000Z","type":"org_created","actor":"admin","key_id":null,"details":{"plan":"pro"}}],"next_cursor":null}"#;
        let text = print(Answer::Audit, audit, NOW).unwrap().stdout;
        assert_eq!(
            text,
            "SEQ  AT                    TYPE         ACTOR  KEY     DETAILS\n\
             2    2026-01-14T23:00:00Z  key_revoked  admin  key_a1\n\
             1    2026-01-14T22:00:00Z  org_created  admin  -       {\"plan\":\"pro\"}\n"
        );
        let orgs = br#"{"orgs":[{"id":"acme","plan":"pro","api_access":true,"key_limit":10,"key_count":3,"on_leak":"revoke",
            "created_at":"2026-01-13T00:00:00Z","updated_at":"2026-01-14T00:00:00Z"}],"next_cursor":null}"#;
        assert_eq!(
            print(Answer::Orgs, orgs, NOW).unwrap().stdout,
            "ID    PLAN  API  KEYS  ON LEAK  CREATED\nacme  pro   yes  3/10  revoke   2 days ago\n"
        );
        let policy = br#"{"default":"deny","write":["create","update"],"resources":[{"name":"stats","actions":["read"],"id_types":["site"],"fields":[]}],
            "rules":[{"methods":["GET","HEAD"],"path":"/api/sites/:siteId/stats","resource":"stats","actions":["read"],"requires":[],"ids":{"site":"path:siteId"}},
                     {"methods":["POST"],"path":"/api/sites","resource":"sites","actions":["create"],"requires":["admin"]}]}"#;
        let text = print(Answer::Policy, policy, NOW).unwrap().stdout;
        assert!(
            text.starts_with("default: deny\nwrite means: create, update\n"),
            "{text}"
        );
        assert!(text.contains("stats     read     site      -\n"), "{text}");
        assert!(
            text.contains("GET,HEAD  /api/sites/:siteId/stats  stats:read\n"),
            "{text}"
        );
        assert!(
            text.contains("POST      /api/sites                admin\n"),
            "{text}"
        );
    }

    #[test]
    fn an_answer_of_another_shape_is_an_error_not_a_blank() {
        let err = print(Answer::Keys, br#"{"orgs":[]}"#, NOW).unwrap_err();
        assert!(err.contains("missing field `keys`"), "{err}");
    }
}
