//! Zenovay's "team access" and personal keys on workerd, from the seed's own example: keys sent
//! as `X-API-Key: zv_…` to `GET /api/external/v1/analytics/:websiteId`, restricted to teams,
//! working "only for websites that belong to those teams"; every request attributed to the
//! key's owner, who reaches the origin signed. Also the registry routes, a website moving
//! between teams (within the revocation bound, strict and leased), and the spellings an
//! attacker would try.

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, refusal, run_cases, send,
};

const SIGNING_SECRET: &str = "teams-signing-secret";

/// The External API of the seed, deny by default; a website belongs to a team.
const POLICY: &str = r#"{"default":"deny","parents":{"website":"team"},"rules":[
  {"method":"GET","path":"/api/external/v1/analytics/:websiteId","resource":"analytics","ids":{"website":"path:websiteId"}},
  {"method":"GET","path":"/api/external/v1/websites/:websiteId","resource":"websites","ids":{"website":"path:websiteId"}},
  {"method":"GET","path":"/api/external/v1/heatmaps/:websiteId/pages","resource":"heatmaps","ids":{"website":"path:websiteId"}},
  {"method":"GET","path":"/api/external/v1/websites","resource":"websites"},
  {"method":"GET","path":"/api/external/v1/usage","resource":"usage"}
]}"#;

/// The analytics route of a website.
fn analytics(website: &str) -> String {
    format!("/api/external/v1/analytics/{website}")
}

/// The default revocation bound of the test deployment (`wrangler.toml`), ms.
const BOUND_MS: u64 = 1_000;

struct World {
    origin: Origin,
    gateway: Gateway,
}

impl World {
    fn admin(&self) -> Admin<'_> {
        Admin::operator(&self.gateway)
    }

    /// Organization `org` on the pro plan, for the operator.
    fn org(&self, org: &str) -> Admin<'_> {
        let admin = self.admin();
        admin.put_org(org, r#"{"plan":"pro"}"#);
        admin
    }

    /// Registers `website` under `team`; fails unless it is created or moved.
    fn register(&self, org: &str, website: &str, team: &str) -> Result<Reply, Failed> {
        let body = format!(r#"{{"parent":{{"type":"team","id":"{team}"}}}}"#);
        let r = self.admin().call(
            "PUT",
            &format!("/orgs/{org}/resources/website/{website}"),
            Some(&body),
        );
        check(
            matches!(r.status, 200 | 201),
            &format!("register {website}: {} {}", r.status, r.text()),
        )?;
        Ok(r)
    }

    /// A request as the seed shows it: the key in `X-API-Key`.
    fn get(&self, key: &str, path: &str) -> Reply {
        send(&self.gateway, "GET", path, &[("x-api-key", key)], None)
    }

    fn get_with(&self, key: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
        let mut headers = vec![("x-api-key", key)];
        headers.extend_from_slice(extra);
        send(&self.gateway, "GET", path, &headers, None)
    }
}

/// The refusal every resource restriction gives: 403 `resource_forbidden`, naming the id.
fn forbidden(reply: &Reply, id: &str) -> Result<(), Failed> {
    let message = refusal(reply, 403, "resource_forbidden")?;
    eq(
        message,
        format!("This API key cannot access {id}"),
        "message",
    )
}

/// Asks for `website` with `key` until the status is `want`. A request started later than
/// `bound_ms` after `since` (plus 100 ms: an isolate's lease ends 2 % early on its own clock,
/// and the request itself takes time to reach the worker) must already get it; with a bound of
/// 0, the first request must. Then three more must agree. Returns how long it took.
fn settles(
    w: &World,
    key: &str,
    website: &str,
    want: u16,
    since: Instant,
    bound_ms: u64,
) -> Result<Duration, Failed> {
    let deadline = since + Duration::from_millis(bound_ms + 100);
    loop {
        let started = Instant::now();
        let status = w.get(key, &analytics(website)).status;
        if status == want {
            for _ in 0..3 {
                eq(
                    w.get(key, &analytics(website)).status,
                    want,
                    "status after it settled",
                )?;
            }
            return Ok(started - since);
        }
        if bound_ms == 0 || started > deadline {
            return Err(format!(
                "{website}: {status} for a request started {} ms after the change (bound {bound_ms} ms, want {want})",
                (started - since).as_millis()
            )
            .into());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

const CASES: &[Case<World>] = support::cases![
    a_team_key_works_only_for_its_teams_websites,
    the_origin_receives_the_owner_and_the_restrictions_signed,
    moving_a_website_acts_within_the_bound_strict_and_leased,
    the_registry_is_validated_paged_and_audited,
    owners_are_fixed_at_creation_and_org_admins_give_their_own,
    spellings_and_spoofed_headers_reach_nothing,
];

/// The seed's example: a key restricted to one team, a website of that team (200), a website of
/// another team (403, the origin receives nothing), and in both verification modes.
fn a_team_key_works_only_for_its_teams_websites(w: &World) -> Result<(), Failed> {
    let admin = w.org("zen-a");
    w.register("zen-a", "w_a1", "team_a")?;
    w.register("zen-a", "w_b1", "team_b")?;
    for (mode, bound) in [("leased", ""), ("strict", r#","revocation_bound_ms":0"#)] {
        let body = format!(
            r#"{{"name":"Client A {mode}","scopes":["read"],"resources":{{"team":["team_a"]}}{bound}}}"#
        );
        let (key, _) = admin.create_key("zen-a", &body);
        check(key.starts_with("zv_"), "keys start with the zv_ prefix")?;
        eq(w.get(&key, &analytics("w_a1")).status, 200, mode)?;
        // The seed's other routes of the same website, by `Authorization: Bearer` too.
        let bearer = format!("Bearer {key}");
        let r = send(
            &w.gateway,
            "GET",
            "/api/external/v1/heatmaps/w_a1/pages",
            &[("authorization", &bearer)],
            None,
        );
        eq(r.status, 200, "heatmaps of the team's website")?;
        forbidden(&w.get(&key, &analytics("w_b1")), "w_b1")?;
        forbidden(&w.get(&key, &analytics("w_nowhere")), "w_nowhere")?;
        forbidden(&w.get(&key, "/api/external/v1/websites/w_b1"), "w_b1")?;
        // Routes that name no website are the key's scopes' business only.
        eq(w.get(&key, "/api/external/v1/usage").status, 200, "usage")?;
    }
    eq(
        w.origin.seen(&analytics("w_b1")).len(),
        0,
        "the origin saw the other team's website",
    )?;
    // A typo in the type would leave the key unrestricted: refused, nothing created.
    let m = refusal(
        &admin.call(
            "POST",
            "/orgs/zen-a/keys",
            Some(r#"{"name":"Typo","scopes":["read"],"resources":{"teams":["team_a"]}}"#),
        ),
        400,
        "invalid_request",
    )?;
    check(
        m.starts_with("resources: unknown resource type \"teams\""),
        &m,
    )?;
    eq(
        w.origin.seen(&analytics("w_nowhere")).len(),
        0,
        "the origin saw an unregistered website",
    )?;
    // "All teams you have access to": no restriction, every website.
    let (all, _) = admin.create_key("zen-a", r#"{"name":"Dashboard","scopes":["read"]}"#);
    eq(
        w.get(&all, &analytics("w_b1")).status,
        200,
        "an unrestricted key",
    )?;
    // A key restricted on websites themselves follows its own list, whatever the teams.
    let (direct, _) = admin.create_key(
        "zen-a",
        r#"{"name":"One site","scopes":["read"],"resources":{"team":["team_a"],"website":["w_b1"]}}"#,
    );
    eq(
        w.get(&direct, &analytics("w_b1")).status,
        200,
        "listed site",
    )?;
    forbidden(&w.get(&direct, &analytics("w_a1")), "w_a1")
}

/// "Every request is attributed to you": the origin receives the owner and the key's team
/// restriction, signed (`v3`), and can verify it.
fn the_origin_receives_the_owner_and_the_restrictions_signed(w: &World) -> Result<(), Failed> {
    let admin = w.org("zen-b");
    w.register("zen-b", "w_sig", "team_b1")?;
    let (key, id) = admin.create_key(
        "zen-b",
        r#"{"name":"Signed","scopes":["read"],"owner":"ada@example.com",
            "resources":{"team":["team_b2","team_b1"]}}"#,
    );
    eq(w.get(&key, &analytics("w_sig")).status, 200, "status")?;
    let seen = w.origin.only(&analytics("w_sig"));
    let h = |n: &str| seen.header(n).unwrap_or_default().to_owned();
    eq(h("x-keygate-owner").as_str(), "ada@example.com", "owner")?;
    eq(
        h("x-keygate-resources").as_str(),
        "team=team_b2&team=team_b1",
        "the key's restrictions, in its order",
    )?;
    eq(
        h("x-keygate-ids").as_str(),
        "website=w_sig",
        "the id checked",
    )?;
    eq(h("x-keygate-key-id"), id.clone(), "key id")?;
    eq(
        h("x-keygate-signature"),
        seen.expected_signature(SIGNING_SECRET, &analytics("w_sig")),
        "signature",
    )?;
    check(
        h("x-keygate-signature").starts_with("v3="),
        "the signature is v3",
    )?;
    // The view shows the owner; the key's creation is audited with it.
    let view = admin.call("GET", &format!("/orgs/zen-b/keys/{id}"), None);
    eq(
        view.json()["owner"].as_str(),
        Some("ada@example.com"),
        "view",
    )?;
    let audit = admin
        .call("GET", "/orgs/zen-b/audit?type=key_created", None)
        .json();
    eq(
        audit["events"][0]["details"]["owner"].as_str(),
        Some("ada@example.com"),
        "key_created details",
    )?;
    // A key without an owner or restrictions: both headers there, empty.
    let (plain, _) = admin.create_key("zen-b", r#"{"name":"Plain","scopes":["read"]}"#);
    let usage = "/api/external/v1/usage?case=plain-identity";
    eq(w.get(&plain, usage).status, 200, "plain")?;
    let seen = w.origin.only(usage);
    eq(
        (
            seen.header("x-keygate-owner").unwrap_or_default(),
            seen.header("x-keygate-resources").unwrap_or_default(),
        ),
        ("", ""),
        "empty owner and restrictions",
    )
}

/// Moving a website into the key's team opens it, moving it out or deleting its registration
/// closes it: at the next request in strict mode, within the bound when the isolate decides
/// alone under a lease (`rate_limiting: false`: a lease with units for its whole period).
fn moving_a_website_acts_within_the_bound_strict_and_leased(w: &World) -> Result<(), Failed> {
    let admin = w.org("zen-c");
    for (mode, bound_ms, extra) in [
        ("strict", 0, r#","revocation_bound_ms":0"#),
        ("leased", BOUND_MS, r#","rate_limiting":false"#),
    ] {
        let website = format!("w_move_{mode}");
        w.register("zen-c", &website, "team_other")?;
        let body = format!(
            r#"{{"name":"Mover {mode}","scopes":["read"],"resources":{{"team":["team_c"]}}{extra}}}"#
        );
        let (key, _) = admin.create_key("zen-c", &body);
        forbidden(&w.get(&key, &analytics(&website)), &website)?;
        // Into the key's team.
        w.register("zen-c", &website, "team_c")?;
        let took = settles(w, &key, &website, 200, Instant::now(), bound_ms)?;
        eprintln!("{mode}: moved in, 200 after {} ms", took.as_millis());
        // Under a lease the isolate now admits alone; out of the team again.
        for _ in 0..5 {
            eq(w.get(&key, &analytics(&website)).status, 200, "warm lease")?;
        }
        w.register("zen-c", &website, "team_other")?;
        let took = settles(w, &key, &website, 403, Instant::now(), bound_ms)?;
        eprintln!("{mode}: moved out, 403 after {} ms", took.as_millis());
        // Back in, then the registration deleted: unregistered is refused.
        w.register("zen-c", &website, "team_c")?;
        settles(w, &key, &website, 200, Instant::now(), bound_ms)?;
        let r = admin.call(
            "DELETE",
            &format!("/orgs/zen-c/resources/website/{website}"),
            None,
        );
        eq(r.status, 200, "deleted")?;
        settles(w, &key, &website, 403, Instant::now(), bound_ms)?;
        forbidden(&w.get(&key, &analytics(&website)), &website)?;
    }
    Ok(())
}

/// The registry routes: create 201, same parent 200 (nothing audited), move 200, read, list in
/// id order by page and by parent, delete; every bad request a 400 that writes nothing; the
/// organization's admin key may manage it, another organization's may not.
fn the_registry_is_validated_paged_and_audited(w: &World) -> Result<(), Failed> {
    let admin = w.org("zen-d");
    let put = |id: &str, body: &str| {
        admin.call(
            "PUT",
            &format!("/orgs/zen-d/resources/website/{id}"),
            Some(body),
        )
    };
    let team = |t: &str| format!(r#"{{"parent":{{"type":"team","id":"{t}"}}}}"#);
    let r = put("w_1", &team("team_x"));
    eq(r.status, 201, "created")?;
    eq(
        r.json()["parent"].clone(),
        serde_json::json!({"type": "team", "id": "team_x"}),
        "parent",
    )?;
    eq(put("w_1", &team("team_x")).status, 200, "unchanged")?;
    let moved = put("w_1", &team("team_y"));
    eq(moved.status, 200, "moved")?;
    eq(
        moved.json()["parent"]["id"].as_str(),
        Some("team_y"),
        "moved",
    )?;
    for (id, t) in [("w_2", "team_x"), ("w_3", "team_y"), ("w_4", "team_x")] {
        eq(put(id, &team(t)).status, 201, id)?;
    }
    let got = admin.call("GET", "/orgs/zen-d/resources/website/w_1", None);
    eq(got.json()["type"].as_str(), Some("website"), "type")?;
    // Pages of two, in id order; then only team_x's.
    let page = admin
        .call("GET", "/orgs/zen-d/resources/website?limit=2", None)
        .json();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect()
    };
    eq(
        ids(&page),
        vec!["w_1".to_owned(), "w_2".to_owned()],
        "page 1",
    )?;
    let cursor = page["next_cursor"].as_str().ok_or("no next_cursor")?;
    let next = admin
        .call(
            "GET",
            &format!("/orgs/zen-d/resources/website?limit=2&cursor={cursor}"),
            None,
        )
        .json();
    eq(
        ids(&next),
        vec!["w_3".to_owned(), "w_4".to_owned()],
        "page 2",
    )?;
    eq(next["next_cursor"].clone(), serde_json::Value::Null, "last")?;
    let team_x = admin
        .call("GET", "/orgs/zen-d/resources/website?parent=team_x", None)
        .json();
    eq(
        ids(&team_x),
        vec!["w_2".to_owned(), "w_4".to_owned()],
        "team_x",
    )?;
    // Bad requests: 400 naming what is wrong, nothing written.
    for (path, body, why) in [
        (
            "/orgs/zen-d/resources/site/s_1",
            team("team_x"),
            "has no parent type",
        ),
        (
            "/orgs/zen-d/resources/website/w_5",
            r#"{"parent":{"type":"org","id":"o"}}"#.to_owned(),
            "parent.type must be team",
        ),
        (
            "/orgs/zen-d/resources/website/w_5",
            "{}".to_owned(),
            "parent is required",
        ),
        (
            "/orgs/zen-d/resources/website/w%205",
            team("team_x"),
            "Invalid resource",
        ),
        (
            "/orgs/zen-d/resources/Website/w_5",
            team("team_x"),
            "invalid resource type",
        ),
        (
            "/orgs/zen-d/resources/website/w_5",
            r#"{"parent":{"type":"team","id":"a,b"}}"#.to_owned(),
            "Invalid parent",
        ),
    ] {
        let r = admin.call("PUT", path, Some(&body));
        let message = refusal(&r, 400, "invalid_request")?;
        check(message.contains(why), &format!("{path}: {message}"))?;
    }
    refusal(
        &admin.call("GET", "/orgs/zen-d/resources/website/w_5", None),
        404,
        "resource_not_found",
    )?;
    refusal(
        &admin.call("GET", "/orgs/zen-nobody/resources/website", None),
        404,
        "org_not_found",
    )?;
    // Deleted: gone, and the audit log has the whole story.
    eq(
        admin
            .call("DELETE", "/orgs/zen-d/resources/website/w_1", None)
            .status,
        200,
        "deleted",
    )?;
    refusal(
        &admin.call("DELETE", "/orgs/zen-d/resources/website/w_1", None),
        404,
        "resource_not_found",
    )?;
    let audit = admin
        .call("GET", "/orgs/zen-d/audit?limit=200", None)
        .json();
    let events: Vec<(String, serde_json::Value)> = audit["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("resource_"))
        })
        .filter(|e| e["details"]["id"] == "w_1")
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["details"].clone(),
            )
        })
        .collect();
    eq(
        events,
        vec![
            (
                "resource_deleted".to_owned(),
                serde_json::json!({"id": "w_1", "parent_id": "team_y", "parent_type": "team", "type": "website"}),
            ),
            (
                "resource_updated".to_owned(),
                serde_json::json!({"id": "w_1", "parent_id": "team_y", "parent_type": "team", "previous_parent_id": "team_x", "type": "website"}),
            ),
            (
                "resource_created".to_owned(),
                serde_json::json!({"id": "w_1", "parent_id": "team_x", "parent_type": "team", "type": "website"}),
            ),
        ],
        "audit, newest first; the unchanged PUT made none",
    )?;
    // The organization's admin key manages its registry; another organization's may not, nor a
    // read key.
    let (own, _) = admin.create_key("zen-d", r#"{"name":"Org admin","scopes":["admin"]}"#);
    let org_admin = Admin::bearer(&w.gateway, &own);
    let r = org_admin.call(
        "PUT",
        "/orgs/zen-d/resources/website/w_6",
        Some(&team("team_x")),
    );
    eq(r.status, 201, "org admin registers")?;
    w.org("zen-e");
    let other = Admin::bearer(&w.gateway, &own);
    refusal(
        &other.call("GET", "/orgs/zen-e/resources/website", None),
        403,
        "forbidden",
    )?;
    let (reader, _) = admin.create_key("zen-d", r#"{"name":"Reader","scopes":["read"]}"#);
    refusal(
        &Admin::bearer(&w.gateway, &reader).call("GET", "/orgs/zen-d/resources/website", None),
        403,
        "insufficient_scope",
    )?;
    Ok(())
}

/// The owner is checked and fixed at creation; an organization admin's keys belong to its own
/// key's owner.
fn owners_are_fixed_at_creation_and_org_admins_give_their_own(w: &World) -> Result<(), Failed> {
    let admin = w.org("zen-f");
    let r = admin.call(
        "POST",
        "/orgs/zen-f/keys",
        Some(r#"{"name":"Spaced","scopes":["read"],"owner":"ada lovelace"}"#),
    );
    let message = refusal(&r, 400, "invalid_request")?;
    check(message.contains("owner must be"), &message)?;
    let (ada_admin, ada_admin_id) = admin.create_key(
        "zen-f",
        r#"{"name":"Ada's admin","scopes":["admin"],"owner":"ada@example.com"}"#,
    );
    let r = admin.call(
        "PATCH",
        &format!("/orgs/zen-f/keys/{ada_admin_id}"),
        Some(r#"{"owner":"bob@example.com"}"#),
    );
    let message = refusal(&r, 400, "invalid_request")?;
    check(message.starts_with("owner cannot be changed"), &message)?;
    let as_ada = Admin::bearer(&w.gateway, &ada_admin);
    let r = as_ada.call(
        "POST",
        "/orgs/zen-f/keys",
        Some(r#"{"name":"Ada's reader","scopes":["read"]}"#),
    );
    eq(r.status, 201, "created by Ada's admin key")?;
    eq(
        r.json()["owner"].as_str(),
        Some("ada@example.com"),
        "the creator's owner by default",
    )?;
    let r = as_ada.call(
        "POST",
        "/orgs/zen-f/keys",
        Some(r#"{"name":"For Bob","scopes":["read"],"owner":"bob@example.com"}"#),
    );
    let message = refusal(&r, 403, "forbidden")?;
    check(
        message.starts_with("Only the admin token can give a key another owner"),
        &message,
    )?;
    let (plain, _) = admin.create_key("zen-f", r#"{"name":"Nobody's","scopes":["read"]}"#);
    let r = admin.call("GET", "/orgs/zen-f/keys?limit=200", None).json();
    let owners: Vec<Option<String>> = r["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| k["owner"].as_str().map(str::to_owned))
        .collect();
    check(owners.contains(&None), "a key without owner lists null")?;
    eq(
        w.get(&plain, "/api/external/v1/usage").status,
        200,
        "plain key works",
    )
}

/// The id checked is the one forwarded, spelt once: an encoded id decodes to the registered one
/// and reaches the origin decoded; case, trailing characters and a second id in the query
/// change nothing; identity headers a client sends never reach the origin.
fn spellings_and_spoofed_headers_reach_nothing(w: &World) -> Result<(), Failed> {
    let admin = w.org("zen-g");
    w.register("zen-g", "w_g1", "team_g")?;
    w.register("zen-g", "w_h1", "team_h")?;
    let (key, _) = admin.create_key(
        "zen-g",
        r#"{"name":"Team G","scopes":["read"],"resources":{"team":["team_g"]}}"#,
    );
    // Encoded: checked and forwarded as the registered id.
    eq(
        w.get(&key, "/api/external/v1/analytics/w%5Fg1").status,
        200,
        "encoded '_'",
    )?;
    eq(
        w.origin.seen(&analytics("w_g1")).len(),
        1,
        "forwarded decoded",
    )?;
    for (path, id) in [
        ("/api/external/v1/analytics/W_G1", "W_G1"),
        ("/api/external/v1/analytics/w%5Fh1", "w_h1"),
        ("/api/external/v1/analytics/w_g1%2C", "w_g1%2C"),
    ] {
        let r = w.get(&key, path);
        check(
            matches!(r.status, 400 | 403),
            &format!("{path}: {} {}", r.status, r.text()),
        )?;
        if r.status == 403 {
            check(
                r.text().contains(id) || r.text().contains("cannot access"),
                path,
            )?;
        }
    }
    // The rule reads the path: a second website in the query changes nothing either way.
    forbidden(
        &w.get(&key, "/api/external/v1/analytics/w_h1?websiteId=w_g1"),
        "w_h1",
    )?;
    // A trailing '/' reads as the rule's route to lenient origins: refused, never forwarded.
    let r = w.get(&key, "/api/external/v1/analytics/w_h1/");
    check(
        matches!(r.status, 400 | 403),
        &format!("trailing slash: {}", r.status),
    )?;
    eq(
        w.origin.seen(&analytics("w_h1")).len(),
        0,
        "the other team's website reached the origin",
    )?;
    // Forged identity: a client's X-Keygate-* headers, in any spelling, never arrive.
    let r = w.get_with(
        &key,
        &analytics("w_g1"),
        &[
            ("x-keygate-resources", "team=team_h"),
            ("x-keygate-owner", "mallory@example.com"),
            ("x_keygate_owner", "mallory@example.com"),
            ("x.keygate.resources", "team=team_h"),
        ],
    );
    eq(r.status, 200, "status")?;
    let seen = w.origin.seen(&analytics("w_g1"));
    let last = seen.last().ok_or("origin saw nothing")?;
    let values = |name: &str| -> Vec<&str> {
        last.headers
            .iter()
            .filter(|(n, _)| n.replace(['_', '.'], "-") == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    eq(
        values("x-keygate-resources"),
        vec!["team=team_g"],
        "resources",
    )?;
    // The key has no owner: an empty header, or none, never the forged one.
    check(
        values("x-keygate-owner").iter().all(|v| v.is_empty()),
        "a forged owner reached the origin",
    )
}

fn main() -> ExitCode {
    let origin = Origin::start();
    let mut gateway = Gateway::spawn(
        GatewayOptions::new(origin.url())
            .var("ORIGIN_SIGNING_SECRET", SIGNING_SECRET)
            .var("KEY_PREFIX", "zv")
            .var("POLICY", POLICY.replace('\n', "")),
    );
    gateway.wait_ready();
    run_cases(World { origin, gateway }, CASES)
}
