//! Tests of `policy.rs`.

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
        let p = Policy::parse(&POLICY.replacen("\"deny\"", &format!("{default:?}"), 1)).unwrap();
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
        (
            r#"{"rules":[{"method":"GET","path":"/a","resource":"a","fields":[]}]}"#,
            "rule 1 (/a): fields is empty",
        ),
        (
            r#"{"rules":[{"method":"GET","path":"/a","resource":"a","fields":["ok","bad..path"]}]}"#,
            "fields: invalid field path \"bad..path\"",
        ),
        (
            r#"{"rules":[{"method":"GET","path":"/a","resource":"a","fields":"name"}]}"#,
            "invalid type",
        ),
        (r#"{"default":"maybe"}"#, "default must be"),
        (r#"{"write":[]}"#, "write must include at least one"),
        (
            r#"{"write":["create","read"]}"#,
            "write may include create, update and delete, not read",
        ),
        (
            r#"{"write":["create","erase"]}"#,
            "write: unknown action \"erase\"",
        ),
        (r#"{"write":"create"}"#, "invalid type"),
        (
            r#"{"rules":[{"method":"POST","path":"/s","resource":"sites","requires":"owner"}]}"#,
            "rule 1 (/s): requires: \"owner\" must be \"admin\" or resource:action",
        ),
        (
            r#"{"rules":[{"method":"POST","path":"/s","resource":"sites","requires":["sites:write"]}]}"#,
            "requires: \"sites:write\" must be",
        ),
        (
            r#"{"rules":[{"method":"POST","path":"/s","resource":"sites","requires":["write"]}]}"#,
            "requires: \"write\" must be",
        ),
        (
            r#"{"rules":[{"method":"POST","path":"/s","resource":"sites","requires":["*:read"]}]}"#,
            "requires: \"*:read\" must be",
        ),
        (
            r#"{"rules":[{"method":"POST","path":"/s","resource":"sites","requires":[]}]}"#,
            "rule 1 (/s): requires is empty",
        ),
        (
            r#"{"rules":[{"method":"POST","path":"/s","resource":"sites","requires":["admin","sites:read"]}]}"#,
            "admin grants every scope; require it alone",
        ),
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

#[test]
fn filterable_fields_are_the_union_of_the_rules_of_a_resource() {
    let p = Policy::parse(
        r#"{"rules":[
            {"method":"GET","path":"/api/stats","resource":"stats","fields":["visitors","pages.path","visitors"]},
            {"method":"GET","path":"/api/stats/top","resource":"stats","fields":["referrers","pages.path"]},
            {"method":"GET","path":"/api/stats/raw","resource":"stats"},
            {"method":"GET","path":"/api/e","resource":"employees"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(
        p.filterable("stats"),
        vec!["visitors", "pages.path", "referrers"]
    );
    assert!(p.filterable("employees").is_empty());
    assert!(p.filterable("payroll").is_empty());
    assert!(policy().filterable("employees").is_empty());
}

#[test]
fn the_view_shows_settings_rules_and_what_each_resource_uses() {
    let p = Policy::parse(
        r#"{"default":"deny","trailing_slash":"ignore","write":["update","create"],"rules":[
            {"method":["GET","HEAD"],"path":"/api/sites/:siteId/stats","resource":"stats","ids":{"site":"path:siteId"},"envelope":"data","fields":["visitors","pages.path"]},
            {"method":"GET","path":"/api/stats","resource":"stats","ids":{"site":"query:siteId","team":"header:X-Team"}},
            {"method":["GET","POST","DELETE"],"path":"/api/employees/*","resource":"employees"},
            {"method":"*","path":"/api/docs/%7Eold","resource":"documents","action":"download"},
            {"method":"*","path":"/api/any","resource":"documents"},
            {"method":"POST","path":"/api/sites","resource":"sites","requires":"admin"},
            {"method":"GET","path":"/api/reports/time-entries","resource":"reports","requires":["reports:read","time_entries:read","reports:read"]}
        ]}"#,
    )
    .unwrap();
    let json = serde_json::to_value(p.view()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "default": "deny",
            "case": "sensitive",
            "trailing_slash": "ignore",
            "matrix_params": "refuse",
            "write": ["create", "update"],
            "parents": {},
            "resources": [
                {"name": "documents", "actions": ["download", "read", "create", "update", "delete"], "id_types": [], "fields": []},
                {"name": "employees", "actions": ["read", "create", "delete"], "id_types": [], "fields": []},
                {"name": "reports", "actions": ["read"], "id_types": [], "fields": []},
                {"name": "sites", "actions": [], "id_types": [], "fields": []},
                {"name": "stats", "actions": ["read"], "id_types": ["site", "team"], "fields": ["visitors", "pages.path"]},
                {"name": "time_entries", "actions": ["read"], "id_types": [], "fields": []}
            ],
            "rules": [
                {"methods": ["GET", "HEAD"], "path": "/api/sites/:siteId/stats", "resource": "stats",
                 "actions": ["read"], "ids": {"site": "path:siteId"}, "envelope": "data",
                 "fields": ["visitors", "pages.path"], "requires": []},
                {"methods": ["GET"], "path": "/api/stats", "resource": "stats", "actions": ["read"],
                 "ids": {"site": "query:siteId", "team": "header:x-team"}, "envelope": null, "fields": [], "requires": []},
                {"methods": ["GET", "POST", "DELETE"], "path": "/api/employees/*", "resource": "employees",
                 "actions": ["read", "create", "delete"], "ids": {}, "envelope": null, "fields": [], "requires": []},
                {"methods": ["*"], "path": "/api/docs/%7Eold", "resource": "documents",
                 "actions": ["download"], "ids": {}, "envelope": null, "fields": [], "requires": []},
                {"methods": ["*"], "path": "/api/any", "resource": "documents",
                 "actions": ["read", "create", "update", "delete"], "ids": {}, "envelope": null, "fields": [], "requires": []},
                {"methods": ["POST"], "path": "/api/sites", "resource": "sites", "actions": ["create"],
                 "ids": {}, "envelope": null, "fields": [], "requires": ["admin"]},
                {"methods": ["GET"], "path": "/api/reports/time-entries", "resource": "reports", "actions": ["read"],
                 "ids": {}, "envelope": null, "fields": [], "requires": ["reports:read", "time_entries:read"]}
            ]
        })
    );
    let none = serde_json::to_value(Policy::allow_all().view()).unwrap();
    assert_eq!(
        none,
        serde_json::json!({"default": "allow", "case": "sensitive", "trailing_slash": "strict",
                           "matrix_params": "refuse", "write": ["create", "update", "delete"], "parents": {},
                           "resources": [], "rules": []})
    );
}

/// The route of `method path` under `p` (no query, no headers).
fn matched<'p>(p: &'p Policy, method: &str, target: &'p Target) -> Route<'p> {
    let headers = Box::leak(Box::new(Headers::default()));
    p.route(&Request {
        method: Method::parse(method).unwrap(),
        target,
        headers,
        form: None,
    })
    .unwrap()
}

fn scopes(list: &[&str]) -> Vec<Scope> {
    list.iter().map(|s| Scope::parse(s).unwrap()).collect()
}

fn names(list: Vec<Scope>) -> Vec<String> {
    list.iter().map(Scope::to_string).collect()
}

#[test]
fn a_rule_may_require_admin_or_several_scopes() {
    // Zero Trust Analytics: write "cannot manage sites"; Z8: "some operations require
    // multiple scopes".
    let p = Policy::parse(
        r#"{"rules":[
            {"method":"POST","path":"/api/sites","resource":"sites","requires":"admin"},
            {"method":"GET","path":"/api/reports/time-entries","resource":"reports","requires":["time_entries:read","reports:read"]},
            {"method":"GET","path":"/api/stats","resource":"stats"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(
        p.resources(),
        vec!["reports", "sites", "stats", "time_entries"]
    );
    assert!(p.knows(&Scope::parse("time_entries:read").unwrap()));
    let sites = p.target("/api/sites", None).unwrap();
    let route = matched(&p, "POST", &sites);
    assert_eq!(names(route.needed()), ["admin"]);
    for not_enough in [
        &["write"][..],
        &["sites:create"],
        &["*:*"],
        &["read", "write"],
    ] {
        assert_eq!(
            names(route.missing(&scopes(not_enough))),
            ["admin"],
            "{not_enough:?}"
        );
    }
    assert!(route.missing(&scopes(&["admin"])).is_empty());
    let report = p.target("/api/reports/time-entries", None).unwrap();
    let route = matched(&p, "GET", &report);
    assert_eq!(names(route.needed()), ["time_entries:read", "reports:read"]);
    assert_eq!(
        names(route.missing(&scopes(&["reports:read"]))),
        ["time_entries:read"]
    );
    assert_eq!(
        names(route.missing(&scopes(&["employees:read"]))),
        ["time_entries:read", "reports:read"]
    );
    assert!(
        route
            .missing(&scopes(&["reports:read", "time_entries:read"]))
            .is_empty()
    );
    assert!(
        route.missing(&scopes(&["read"])).is_empty(),
        "plain read reads all"
    );
    let stats = p.target("/api/stats", None).unwrap();
    let route = matched(&p, "GET", &stats);
    assert_eq!(names(route.needed()), ["stats:read"]);
    assert!(route.missing(&scopes(&["write"])).is_empty());
}

#[test]
fn write_follows_the_policy_on_every_route() {
    // Z8: "Time Entries: Write — Create, update".
    let p = Policy::parse(
        r#"{"default":"allow","write":["create","update"],"rules":[
            {"method":"*","path":"/api/time-entries/*","resource":"time_entries"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(p.write().actions(), vec![Action::Create, Action::Update]);
    let entry = p.target("/api/time-entries/1", None).unwrap();
    let other = p.target("/api/other", None).unwrap();
    let key = scopes(&["time_entries:write", "write"]);
    for method in ["POST", "PATCH", "PUT", "GET"] {
        assert!(
            matched(&p, method, &entry).missing(&key).is_empty(),
            "{method}"
        );
        assert!(
            matched(&p, method, &other).missing(&key).is_empty(),
            "{method}"
        );
    }
    let delete = matched(&p, "DELETE", &entry);
    assert_eq!(names(delete.missing(&key)), ["time_entries:delete"]);
    assert_eq!(
        names(matched(&p, "DELETE", &other).missing(&key)),
        ["*:delete"]
    );
    assert!(delete.missing(&scopes(&["time_entries:delete"])).is_empty());
    let everything =
        Policy::parse(r#"{"rules":[{"method":"*","path":"/a","resource":"a"}]}"#).unwrap();
    assert_eq!(everything.write(), WriteMeaning::ALL);
}

#[test]
fn parents_reach_the_routes_whose_ids_they_name() {
    let p = Policy::parse(
        r#"{"default":"deny","parents":{"website":"team"},"rules":[
            {"method":"GET","path":"/api/external/v1/analytics/:websiteId","resource":"analytics","ids":{"website":"path:websiteId"}},
            {"method":"GET","path":"/api/external/v1/usage","resource":"usage"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(p.parents().of("website"), Some("team"));
    let headers = Headers::new(Vec::new());
    let parents_of = |path: &str| {
        let target = p.target(path, None).unwrap();
        let request = Request {
            method: Method::Get,
            target: &target,
            headers: &headers,
            form: None,
        };
        let route = p.route(&request).unwrap();
        let parents: Vec<(String, String)> = route
            .parents
            .iter()
            .map(|(c, p)| ((*c).to_owned(), (*p).to_owned()))
            .collect();
        (parents, route.parent_of("website").map(str::to_owned))
    };
    assert_eq!(
        parents_of("/api/external/v1/analytics/w_1"),
        (
            vec![("website".to_owned(), "team".to_owned())],
            Some("team".to_owned())
        )
    );
    assert_eq!(parents_of("/api/external/v1/usage"), (vec![], None));
    for (parents, wrong) in [
        (r#"{"page":"website","website":"team"}"#, "two levels"),
        (r#"{"team":"team"}"#, "own parent"),
        (r#"{"website":"Team"}"#, "invalid resource type"),
        (r#"["website"]"#, "invalid type"),
    ] {
        let err = Policy::parse(&format!(r#"{{"parents":{parents},"rules":[]}}"#)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("POLICY: ") && text.contains(wrong),
            "{parents}: {text}"
        );
    }
}

#[test]
fn id_types_are_type_names_keys_can_be_restricted_on() {
    let err = Policy::parse(
        r#"{"rules":[{"method":"GET","path":"/u/:w","resource":"u","ids":{"Website":"path:w"}}]}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("ids.Website: invalid resource type"),
        "{err}"
    );
}
