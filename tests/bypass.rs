//! The ways around the policy a security review found, each class with variations, on workerd:
//! every case runs against two gateways with the same rules, one with `default = "deny"` and
//! one with `default = "allow"` (whose `ORIGIN` also has a base path, `/base`). Each case
//! asserts what the origin received, not only the status.

use std::process::ExitCode;

use libtest_mimic::Failed;
use support::{
    ADMIN_TOKEN, Admin, Case, Gateway, GatewayOptions, Origin, Reply, Seen, check, eq, no_panic,
    refusal, run_cases, send, send_raw, send_with_key,
};

const SIGNING_SECRET: &str = "bypass-signing-secret";

const RULES: &str = r#"[
  {"method":"GET","path":"/api/sites/:siteId/stats","resource":"stats","ids":{"site":"path:siteId"}},
  {"method":"GET","path":"/api/stats","resource":"stats","ids":{"site":"query:siteId"}},
  {"method":["GET","HEAD","POST","PATCH","DELETE"],"path":"/api/employees/*","resource":"employees","envelope":"data"},
  {"method":"GET","path":"/api/teams/:team/docs/:doc","resource":"documents","action":"download","ids":{"team":"header:x-team"}},
  {"method":"GET","path":"/api/payroll","resource":"payroll"},
  {"method":["POST","DELETE"],"path":"/api/orders/*","resource":"orders"},
  {"method":"POST","path":"/api/reports","resource":"reports","ids":{"site":"query:siteId"}}
]"#;

/// One gateway with its own origin and keys.
struct Side {
    default: &'static str,
    /// `ORIGIN`'s base path: what the origin sees in front of every forwarded path.
    base: &'static str,
    origin: Origin,
    gateway: Gateway,
    /// employees:read, fields name and start_date only.
    fields: String,
    /// stats:read on site_abc123 only.
    site: String,
    /// documents:download for team_a only.
    team: String,
    /// employees:read (no payroll).
    employees: String,
    /// orders:create only.
    create: String,
    /// read.
    reader: String,
    /// reports:create on site_abc123 only.
    reports: String,
}

struct World {
    sides: [Side; 2],
}

/// The web origin browsers may call a side from (none: CORS off).
fn cors(default: &str) -> &'static str {
    if default == "allow" {
        "https://app.example.com"
    } else {
        ""
    }
}

/// A side whose runtime is still booting.
struct Booting {
    default: &'static str,
    base: &'static str,
    origin: Origin,
    gateway: Gateway,
}

impl Side {
    /// Starts the origin and the runtime without waiting, so both sides boot at once.
    fn spawn(default: &'static str, base: &'static str) -> Booting {
        let origin = Origin::start();
        let policy = format!(r#"{{"default":"{default}","rules":{RULES}}}"#).replace('\n', "");
        let gateway = Gateway::spawn(
            GatewayOptions::new(format!("{}{base}", origin.url()))
                .var("ORIGIN_SIGNING_SECRET", SIGNING_SECRET)
                .var("POLICY", policy)
                // CORS is on for one web origin on the allow side, off on the deny side.
                .var("CORS_ALLOW_ORIGINS", cors(default)),
        );
        Booting {
            default,
            base,
            origin,
            gateway,
        }
    }

    /// Waits for the runtime and makes the side's keys.
    fn ready(booting: Booting) -> Side {
        let Booting {
            default,
            base,
            origin,
            mut gateway,
        } = booting;
        gateway.wait_ready();
        let admin = Admin::operator(&gateway);
        admin.put_org("bypass", r#"{"plan":"enterprise"}"#);
        let key = |body: &str| admin.create_key("bypass", body).0;
        let fields = key(
            r#"{"name":"Fields","scopes":["employees:read"],"fields":{"employees":["name","start_date"]}}"#,
        );
        let site = key(
            r#"{"name":"One site","scopes":["stats:read"],"resources":{"site":["site_abc123"]}}"#,
        );
        let team = key(
            r#"{"name":"One team","scopes":["documents:download"],"resources":{"team":["team_a"]}}"#,
        );
        let employees = key(r#"{"name":"Employees","scopes":["employees:read"]}"#);
        let create = key(r#"{"name":"Creator","scopes":["orders:create"]}"#);
        let reader = key(r#"{"name":"Reader","scopes":["read"]}"#);
        let reports = key(
            r#"{"name":"Reports","scopes":["reports:create"],"resources":{"site":["site_abc123"]}}"#,
        );
        Side {
            default,
            base,
            origin,
            gateway,
            fields,
            site,
            team,
            employees,
            create,
            reader,
            reports,
        }
    }

    fn send(
        &self,
        key: &str,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let probe = next_probe();
        let mut headers = vec![("x-probe", probe.as_str())];
        headers.extend_from_slice(extra);
        send_with_key(&self.gateway, key, method, path, &headers, body)
    }

    fn get(&self, key: &str, path: &str) -> Reply {
        self.send(key, "GET", path, &[], None)
    }

    /// Requests the origin received under `path` (the base path added).
    fn seen(&self, path: &str) -> Vec<Seen> {
        self.origin.seen(&format!("{}{path}", self.base))
    }

    /// What the origin received of the last request this thread sent, if it got there.
    fn last_seen(&self) -> Option<Seen> {
        let probe = PROBE.with_borrow(Clone::clone);
        self.origin
            .seen("")
            .into_iter()
            .find(|seen| seen.header("x-probe") == Some(probe.as_str()))
    }

    /// Whether the origin received the last request this thread sent.
    fn saw_last(&self) -> bool {
        self.last_seen().is_some()
    }

    /// Sends raw request bytes with `key` (for what no client library would send).
    fn raw(&self, key: &str, request_line: &str, headers: &str) -> (u16, String) {
        let probe = next_probe();
        let raw = format!(
            "{request_line}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nX-Probe: {probe}\r\n{headers}Connection: close\r\n\r\n"
        );
        send_raw(&self.gateway, raw.as_bytes())
    }
}

thread_local! {
    /// The probe header of the last request this thread sent (cases run in parallel).
    static PROBE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A fresh `X-Probe` value, remembered as this thread's last.
fn next_probe() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let probe = format!(
        "p{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    PROBE.with_borrow_mut(|last| last.clone_from(&probe));
    probe
}

/// `reply` (to this thread's last request) is a refusal with `status` and `code`, and the
/// origin never received that request.
fn refused_unseen(
    side: &Side,
    reply: &Reply,
    status: u16,
    code: &str,
    what: &str,
) -> Result<(), Failed> {
    let what = format!("[default {}] {what}", side.default);
    let body = String::from_utf8_lossy(&reply.body);
    refusal(reply, status, code)
        .map_err(|e| format!("{what}: {}", e.message().unwrap_or_default()))?;
    check(!body.contains("salary"), &format!("{what}: leaked salary"))?;
    check(!side.saw_last(), &format!("{what}: the origin received it"))
}

/// A request to try: target, extra headers, body.
type Attempt<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<&'a [u8]>);

/// Runs `case` on both sides.
fn both(case: impl Fn(&Side) -> Result<(), Failed>) -> impl Fn(&World) -> Result<(), Failed> {
    move |w| w.sides.iter().try_for_each(&case)
}

const CASES: &[Case<World>] = &[
    ("path_spellings_match_their_rule_or_are_refused", |w| {
        both(|s| {
            // Spellings that decode to the rule's path are that path, forwarded canonical.
            for path in [
                "/api/employees/1",
                "/api/employees/%31",
                "/api/%65mployees/1",
            ] {
                let r = s.get(&s.fields, path);
                eq(r.status, 200, &format!("[{}] {path}", s.default))?;
                let body = r.json();
                eq(body["data"][0].get("salary"), None, "salary filtered")?;
                eq(body["data"][0]["name"].as_str(), Some("Ada"), "name kept")?;
                let seen = s.last_seen().ok_or("origin saw nothing")?;
                eq(seen.url, format!("{}/api/employees/1", s.base), path)?;
            }
            // Spellings that a lenient origin would serve from the employees handler.
            for path in [
                "/API/employees/1",
                "/api/Employees/1",
                "/api/employees;/1",
                "/api;x=1/employees/1",
                "/api/employees%2F1",
                "/api/employees%2f1",
                "//api/employees/1",
                "/api//employees/1",
                "/api/employees/1%00",
                "/api/employees/%252F1",
                "/api/employees%5C1",
                "/api/employees/..%3B/payroll",
                "/api/employees%3B/1",
            ] {
                let r = s.get(&s.fields, path);
                refused_unseen(s, &r, 400, "ambiguous_request", path)?;
            }
            // A site the key may not see stays forbidden whatever the spelling of `stats`.
            for path in [
                "/api/sites/site_xyz789/%73tats",
                "/api/sites/site_xyz789/stat%73",
                "/api/sites/site%5Fxyz789/stats",
            ] {
                let r = s.get(&s.site, path);
                refused_unseen(s, &r, 403, "resource_forbidden", path)?;
            }
            for path in [
                "/api/sites/site_xyz789/stats/",
                "/api/sites/site_xyz789/STATS",
            ] {
                let r = s.get(&s.site, path);
                refused_unseen(s, &r, 400, "ambiguous_request", path)?;
            }
            let r = s.get(&s.site, "/api/sites/site_abc123/%73tats");
            eq(r.status, 200, "own site, encoded")?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            eq(
                seen.url,
                format!("{}/api/sites/site_abc123/stats", s.base),
                "forwarded as /stats",
            )
        })(w)
    }),
    ("a_repeated_id_is_refused_never_first_one_wins", |w| {
        both(|s| {
            for query in [
                "siteId=site_abc123&siteId=site_xyz789",
                "siteId=site_abc123;siteId=site_xyz789",
                "siteId=site_abc123&x=1;siteId=site_xyz789",
                "siteId=site_abc123&SiteId=site_xyz789",
                "siteId=site_abc123&siteId[]=site_xyz789",
                "siteId=site_abc123&site%49d=site_xyz789",
                "siteId=site_abc123&+siteId=site_xyz789",
                "siteId=site_abc123&siteId%00=site_xyz789",
                "siteId=site_abc123&[siteId]=site_xyz789",
                "siteId=site_abc123&%5BsiteId%5D=site_xyz789",
            ] {
                let r = s.get(&s.site, &format!("/api/stats?{query}"));
                refused_unseen(s, &r, 400, "ambiguous_request", query)?;
            }
            let r = s.get(&s.site, "/api/stats?SITEID=site_xyz789");
            refused_unseen(s, &r, 403, "resource_forbidden", "other spelling")?;
            let r = s.get(&s.site, "/api/stats?siteId=site_abc123&period=7d");
            eq(r.status, 200, "one id")?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            eq(
                seen.url.clone(),
                format!("{}/api/stats?siteId=site_abc123&period=7d", s.base),
                "origin url",
            )?;
            eq(
                seen.header("x-keygate-ids"),
                Some("site=site_abc123"),
                "asserted ids",
            )?;
            // Header ids: sent twice, or once more under a '_' spelling.
            let path = "/api/teams/team_a/docs/d1";
            for extra in [
                &[("x-team", "team_a"), ("x-team", "team_b")][..],
                &[("x-team", "team_a"), ("x_team", "team_b")][..],
                &[("x-team", "team_a"), ("x.team", "team_b")][..],
                &[("x-team", "team_a, team_b")][..],
            ] {
                let r = s.send(&s.team, "GET", path, extra, None);
                refused_unseen(s, &r, 400, "ambiguous_request", &format!("{extra:?}"))?;
            }
            let r = s.send(&s.team, "GET", path, &[("x-team", "team_a")], None);
            eq(r.status, 200, "one team header")
        })(w)
    }),
    ("the_authorized_target_is_the_forwarded_target", |w| {
        both(|s| {
            for path in [
                "//api/payroll",
                "/api/employees/%2F..%2Fpayroll",
                "/api/employees/..%2F..%2Fpayroll",
                "/api/employees/x%2F..%2F..%2Fapi%2Fpayroll",
                "/api/employees/%252e%252e/payroll",
            ] {
                let r = s.get(&s.employees, path);
                refused_unseen(s, &r, 400, "ambiguous_request", path)?;
            }
            // Dot segments the runtime resolves reach the rule of the path they resolve to.
            let r = s.get(&s.employees, "/api/employees/%2e%2e/%2e%2e/api/payroll");
            refused_unseen(s, &r, 403, "insufficient_scope", "resolved dots")?;
            eq(s.seen("/api/payroll").len(), 0, "payroll reached")
        })(w)
    }),
    ("the_signature_covers_the_target_the_origin_receives", |w| {
        both(|s| {
            let r = s.get(&s.site, "/api/sites/site_abc123/%73tats?x=%C3%A9");
            eq(r.status, 200, "status")?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            let target = format!("{}/api/sites/site_abc123/stats?x=%C3%A9", s.base);
            eq(seen.url.clone(), target.clone(), "origin target")?;
            let h = |n: &str| seen.header(n).unwrap_or_default().to_owned();
            eq(h("x-keygate-request-id").len(), 32, "request id")?;
            eq(
                h("x-keygate-signature"),
                seen.expected_signature(SIGNING_SECRET, &target),
                "signature over the received target",
            )?;
            eq(h("x-keygate-ids").as_str(), "site=site_abc123", "ids")?;
            eq(
                h("x-keygate-resources").as_str(),
                "site=site_abc123",
                "the key's restrictions",
            )?;
            eq(h("x-keygate-owner").as_str(), "", "no owner")?;
            // Two requests never share a request id (the origin's replay check relies on it).
            s.get(&s.site, "/api/sites/site_abc123/%73tats?x=%C3%A9");
            let again = s.last_seen().ok_or("origin saw nothing")?;
            check(
                again.header("x-keygate-request-id") != seen.header("x-keygate-request-id"),
                "request ids repeat",
            )
        })(w)
    }),
    ("method_overrides_are_refused", |w| {
        both(|s| {
            let path = "/api/orders/o1";
            let form = ("content-type", "application/x-www-form-urlencoded");
            let multipart = ("content-type", "multipart/form-data; boundary=XyZ");
            let multipart_body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--\r\n";
            let mixed = ("content-type", "multipart/mixed; boundary=XyZ");
            let two_types = (
                "content-type",
                "application/x-www-form-urlencoded, text/plain",
            );
            let agree = ("x-http-method-override", "POST");
            let attempts: [Attempt; 16] = [
                (path, vec![("x-http-method-override", "DELETE")], None),
                (path, vec![("x-method-override", "DELETE")], None),
                (path, vec![("x-http-method", "delete")], None),
                (path, vec![("x_http_method_override", "DELETE")], None),
                (path, vec![("x.http.method.override", "DELETE")], None),
                (
                    path,
                    vec![
                        ("x-http-method", "POST"),
                        ("x-http-method-override", "DELETE"),
                    ],
                    None,
                ),
                ("/api/orders/o1?_method=DELETE", vec![], None),
                ("/api/orders/o1?_method=DELETE", vec![agree], None),
                ("/api/orders/o1?+_method=DELETE", vec![], None),
                (path, vec![form], Some(b"qty=1&_method=DELETE")),
                (path, vec![form], Some(b"qty=1&[_method]=DELETE")),
                (path, vec![form], Some(b"qty=1&_method%00=DELETE")),
                (path, vec![], Some(b"_method=DELETE")),
                (path, vec![two_types], Some(b"_method=DELETE")),
                (path, vec![multipart], Some(multipart_body)),
                (path, vec![mixed], Some(multipart_body)),
            ];
            for (target, headers, body) in attempts {
                let r = s.send(&s.create, "POST", target, &headers, body.or(Some(b"")));
                refused_unseen(
                    s,
                    &r,
                    400,
                    "method_override_refused",
                    &format!("{target} {headers:?}"),
                )?;
            }
            // The real method is still what the key needs: a create key cannot DELETE.
            let r = s.send(&s.create, "DELETE", path, &[], None);
            refused_unseen(s, &r, 403, "insufficient_scope", "DELETE")?;
            // A form without _method reaches the origin byte for byte; an override naming the
            // real method is harmless.
            let r = s.send(&s.create, "POST", path, &[form], Some(b"qty=1&note=a%26b"));
            eq(r.status, 200, "plain form")?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            eq(seen.body.as_slice(), &b"qty=1&note=a%26b"[..], "form body")?;
            let r = s.send(
                &s.create,
                "POST",
                path,
                &[("x-http-method-override", "POST")],
                Some(b"{}"),
            );
            eq(r.status, 200, "override naming POST")?;
            // A compressed form hides its `_method` from keygate, not from an origin that
            // decompresses first: refused, whatever it holds.
            for encoding in ["gzip", "br, gzip"] {
                let r = s.send(
                    &s.create,
                    "POST",
                    path,
                    &[form, ("content-encoding", encoding)],
                    Some(b"\x1f\x8b\x08\x00"),
                );
                refused_unseen(s, &r, 400, "ambiguous_request", encoding)?;
            }
            // `Connection` naming the content type must not strip it from what the origin reads
            // (a body keygate streamed as JSON would reach Rack as a form). Raw: HTTP clients
            // manage `Connection` themselves. A proxy in front may drop both: then keygate sees
            // no content type and reads the body as a form.
            let probe = next_probe();
            let raw = format!(
                "POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\nX-Probe: {probe}\r\nConnection: content-type\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n_method=DELETE",
                s.create
            );
            let (status, body) = send_raw(&s.gateway, raw.as_bytes());
            match s.last_seen() {
                Some(seen) => eq(
                    seen.header("content-type"),
                    Some("application/json"),
                    "the content type keygate read the body by",
                ),
                None => check(
                    status == 400 && body.contains("method_override_refused"),
                    &format!("Connection: content-type: {status} {body}"),
                ),
            }
        })(w)
    }),
    ("unknown_methods_are_405_and_never_counted", |w| {
        both(|s| {
            let admin = Admin::operator(&s.gateway);
            let id = admin.call("GET", "/orgs/bypass/keys", None).json()["keys"]
                .as_array()
                .and_then(|keys| keys.iter().find(|k| k["name"] == "Reader"))
                .and_then(|k| k["id"].as_str().map(str::to_owned))
                .ok_or("no reader key")?;
            let usage = |admin: &Admin| {
                admin
                    .call("GET", &format!("/orgs/bypass/keys/{id}/usage"), None)
                    .json()["requests_total"]
                    .clone()
            };
            let counted = usage(&admin);
            // Lower-case methods are refused by the local server in front of workerd (501)
            // or by keygate (405); either way they reach nothing.
            for method in ["PROPFIND", "PURGE", "MKCOL", "TRACE", "get", "patch"] {
                let (status, body) = s.raw(
                    &s.reader,
                    &format!("{method} /api/employees/1 HTTP/1.1"),
                    "",
                );
                let what = format!("[{}] {method}: {body}", s.default);
                if method.bytes().any(|b| b.is_ascii_lowercase()) {
                    check(status == 405 || status == 501, &what)?;
                } else {
                    eq(status, 405, &what)?;
                    check(body.contains("method_not_allowed"), &what)?;
                }
                check(!s.saw_last(), &format!("{method}: the origin received it"))?;
            }
            eq(usage(&admin), counted, "usage after unknown methods")?;
            // The management routes too.
            let (status, _) = send_raw(
                &s.gateway,
                format!(
                    "PROPFIND /_keygate/v1/orgs/bypass HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
            eq(status, 405, "management PROPFIND")
        })(w)
    }),
    (
        "underscore_spellings_of_keygate_headers_never_reach_the_origin",
        |w| {
            both(|s| {
                let r = s.send(
                    &s.reader,
                    "GET",
                    "/api/employees/7",
                    &[
                        ("x_keygate_org", "evil"),
                        ("X_Keygate_Key_Id", "key_forged"),
                        ("x-keygate-scopes", "admin"),
                        ("x_api_key", "kg_live_forged"),
                        ("x.keygate.meta", "{\"role\":\"admin\"}"),
                        ("x-original-url", "/api/payroll"),
                        ("x_rewrite_url", "/api/payroll"),
                    ],
                    None,
                );
                eq(r.status, 200, "status")?;
                let seen = s.last_seen().ok_or("origin saw nothing")?;
                let names: Vec<String> = seen
                    .headers
                    .iter()
                    .map(|(n, _)| n.replace(['_', '.'], "-"))
                    .collect();
                for name in [
                    "x-keygate-org",
                    "x-keygate-key-id",
                    "x-keygate-scopes",
                    "x-keygate-meta",
                    "x-api-key",
                    "x-original-url",
                    "x-rewrite-url",
                ] {
                    let count = names.iter().filter(|n| *n == name).count();
                    let want = usize::from(name.starts_with("x-keygate-"));
                    eq(count, want, &format!("[{}] copies of {name}", s.default))?;
                }
                eq(seen.header("x-keygate-org"), Some("bypass"), "org")?;
                eq(seen.header("x-keygate-scopes"), Some("read"), "scopes")
            })(w)
        },
    ),
    ("filtered_keys_get_whole_filtered_private_bodies", |w| {
        both(|s| {
            let path = "/api/employees/list";
            let conditional = [
                ("range", "bytes=0-40"),
                ("if-none-match", "\"employees-v1\""),
                ("if-modified-since", "Mon, 23 Nov 2026 10:00:00 GMT"),
                ("if-range", "\"employees-v1\""),
            ];
            let r = s.send(&s.fields, "GET", path, &conditional, None);
            eq(r.status, 200, &format!("[{}] status", s.default))?;
            let body = String::from_utf8_lossy(&r.body).into_owned();
            check(!body.contains("salary") && !body.contains("Bahnhof"), &body)?;
            eq(
                r.json()["data"][1]["name"].as_str(),
                Some("Bob"),
                "whole list",
            )?;
            for dropped in ["etag", "last-modified", "accept-ranges", "content-range"] {
                eq(r.header(dropped), None, dropped)?;
            }
            eq(
                r.header("cache-control"),
                Some("private, no-store"),
                "cache",
            )?;
            check(
                r.header("vary")
                    .is_some_and(|v| v.contains("Authorization") && v.contains("X-API-Key")),
                "vary",
            )?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            for (name, _) in conditional {
                eq(seen.header(name), None, &format!("forwarded {name}"))?;
            }
            // HEAD: the filtered headers, no body; the origin was asked for the body.
            let r = s.send(&s.fields, "HEAD", path, &[], None);
            eq(r.status, 200, "HEAD status")?;
            eq(r.body.len(), 0, "HEAD body")?;
            eq(r.header("etag"), None, "HEAD etag")?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            eq(seen.method.as_str(), "GET", "HEAD forwarded as")?;
            // An unrestricted key keeps the origin's validators and ranges.
            let r = s.send(&s.employees, "GET", path, &[("range", "bytes=0-40")], None);
            eq(
                r.header("etag"),
                Some("\"employees-v1\""),
                "unfiltered etag",
            )?;
            let seen = s.last_seen().ok_or("origin saw nothing")?;
            eq(seen.header("range"), Some("bytes=0-40"), "unfiltered range")?;
            no_panic(&s.gateway)
        })(w)
    }),
    (
        "what_lenient_origins_read_elsewhere_is_refused_or_checked",
        |w| {
            both(|s| {
                let form = ("content-type", "application/x-www-form-urlencoded");
                // The id checked in the query, the origin (PHP's $_REQUEST, Laravel) reads the body.
                let target = "/api/reports?siteId=site_abc123";
                for body in [&b"siteId=site_xyz789"[..], b"+siteId=site_xyz789"] {
                    let r = s.send(&s.reports, "POST", target, &[form], Some(body));
                    refused_unseen(s, &r, 400, "ambiguous_request", "id in the body too")?;
                }
                let r = s.send(&s.reports, "POST", target, &[form], Some(b"title=Q3"));
                eq(r.status, 200, &format!("[{}] report", s.default))?;
                let seen = s.last_seen().ok_or("origin saw nothing")?;
                eq(
                    seen.body.as_slice(),
                    &b"title=Q3"[..],
                    "form body forwarded",
                )?;
                // A format suffix Rails strips would reach the stats rule the policy did not match.
                let r = s.get(&s.site, "/api/sites/site_xyz789/stats.json");
                refused_unseen(s, &r, 400, "ambiguous_request", ".json")?;
                // HEAD is answered by the GET handler, so a GET rule checks it.
                let r = s.send(&s.site, "HEAD", "/api/sites/site_xyz789/stats", &[], None);
                eq(r.status, 403, "HEAD of another site")?;
                check(!s.saw_last(), "HEAD of another site reached the origin")?;
                let r = s.send(&s.site, "HEAD", "/api/sites/site_abc123/stats", &[], None);
                eq(r.status, 200, "HEAD of its site")?;
                eq(
                    s.last_seen().map(|x| x.method),
                    Some("HEAD".to_owned()),
                    "forwarded as HEAD",
                )?;
                // A GET with a body cannot be forwarded: refused before any count.
                let r = s.send(&s.reader, "GET", "/api/employees/3", &[], Some(b"x=1"));
                refused_unseen(s, &r, 400, "ambiguous_request", "GET with a body")
            })(w)
        },
    ),
    (
        "browsers_get_cors_answers_without_a_key_and_never_reach_the_origin",
        |w| {
            both(|s| {
                let app = "https://app.example.com";
                let preflight = |origin: &str| {
                    s.send(
                        "",
                        "OPTIONS",
                        "/api/employees/1",
                        &[
                            ("origin", origin),
                            ("access-control-request-method", "GET"),
                            ("access-control-request-headers", "authorization"),
                        ],
                        None,
                    )
                };
                let r = preflight("https://evil.example");
                refused_unseen(s, &r, 403, "origin_not_allowed", "other origin")?;
                let r = preflight(app);
                if cors(s.default).is_empty() {
                    refused_unseen(s, &r, 403, "origin_not_allowed", "CORS off")?;
                    let r = s.send(
                        &s.reader,
                        "GET",
                        "/api/employees/1",
                        &[("origin", app)],
                        None,
                    );
                    return eq(r.header("access-control-allow-origin"), None, "CORS off");
                }
                eq(r.status, 204, "preflight")?;
                check(!s.saw_last(), "the preflight was forwarded")?;
                eq(
                    r.header("access-control-allow-origin"),
                    Some(app),
                    "allow origin",
                )?;
                eq(
                    r.header("access-control-allow-headers"),
                    Some("authorization"),
                    "allow headers",
                )?;
                check(
                    r.header("access-control-allow-methods")
                        .is_some_and(|m| m.contains("DELETE")),
                    "allow methods",
                )?;
                // Answers carry CORS headers, refusals too, so the page can read why.
                let ok = s.send(
                    &s.reader,
                    "GET",
                    "/api/employees/1",
                    &[("origin", app)],
                    None,
                );
                eq(ok.status, 200, "status")?;
                eq(
                    ok.header("access-control-allow-origin"),
                    Some(app),
                    "on 200",
                )?;
                check(
                    ok.header("access-control-expose-headers")
                        .is_some_and(|h| h.contains("X-RateLimit-Remaining")),
                    "exposed headers",
                )?;
                let no_key = send(
                    &s.gateway,
                    "GET",
                    "/api/employees/1",
                    &[("origin", app)],
                    None,
                );
                eq(no_key.status, 401, "no key")?;
                eq(
                    no_key.header("access-control-allow-origin"),
                    Some(app),
                    "on 401",
                )?;
                let other = s.send(
                    &s.reader,
                    "GET",
                    "/api/employees/1",
                    &[("origin", "https://evil.example")],
                    None,
                );
                eq(
                    other.header("access-control-allow-origin"),
                    None,
                    "other origin",
                )?;
                // A plain OPTIONS (not a preflight) is an API request like any other.
                let r = s.send(&s.reader, "OPTIONS", "/api/employees/1", &[], None);
                eq(r.status, 200, "plain OPTIONS")
            })(w)
        },
    ),
];

fn main() -> ExitCode {
    let booting = [Side::spawn("deny", ""), Side::spawn("allow", "/base")];
    run_cases(
        World {
            sides: booting.map(Side::ready),
        },
        CASES,
    )
}
