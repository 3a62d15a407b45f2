//! Leaked keys end to end on workerd: GitHub's secret-scanning partner endpoint with a P-256 key
//! pair made here and its public key served by a stand-in for GitHub's key list on 127.0.0.1,
//! the organization's `on_leak` setting, and the public report endpoint.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keygate::domain::{ApiKey, KeyHash};
use libtest_mimic::Failed;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::Value;
use support::{
    Admin, Case, Gateway, GatewayOptions, Origin, Reply, check, eq, refusal, run_cases, send,
};

/// GitHub's key list, as a stand-in serves it: the list can change, fetches are counted.
struct KeyServer {
    port: u16,
    list: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl KeyServer {
    fn start(list: String) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (list, fetches) = (Arc::new(Mutex::new(list)), Arc::new(AtomicUsize::new(0)));
        let (served, counted) = (list.clone(), fetches.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        KeyServer {
            port,
            list,
            fetches,
        }
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/meta/public_keys/secret_scanning",
            self.port
        )
    }
}

/// A signing key of GitHub's stand-in, and its list entry.
fn signer(seed: u8) -> (SigningKey, Value) {
    let key = SigningKey::from_bytes(&[seed; 32].into()).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let id = format!("key-{seed}");
    (
        key,
        serde_json::json!({"key_identifier": id, "key": pem, "is_current": true}),
    )
}

fn list(entries: &[&Value]) -> String {
    serde_json::json!({ "public_keys": entries }).to_string()
}

struct World {
    _origin: Origin,
    gateway: Gateway,
    keys: KeyServer,
    github: (SigningKey, String),
    rotated_in: (SigningKey, String),
}

impl World {
    /// POSTs `body` to the partner endpoint, signed by `key` under `id` (unsigned: `None`).
    fn report(&self, body: &[u8], signed: Option<(&SigningKey, &str)>) -> Reply {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some((key, id)) = signed {
            let signature: DerSignature = key.sign(body);
            headers.push(("github-public-key-identifier".into(), id.to_owned()));
            headers.push((
                "github-public-key-signature".into(),
                STANDARD.encode(signature.as_bytes()),
            ));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        send(
            &self.gateway,
            "POST",
            "/_keygate/v1/secret-scanning/github",
            &headers,
            Some(body),
        )
    }

    fn signed(&self, body: &[u8]) -> Reply {
        self.report(body, Some((&self.github.0, &self.github.1)))
    }

    fn status_of(&self, key: &str) -> u16 {
        support::send_with_key(&self.gateway, key, "GET", "/api/ping", &[], None).status
    }
}

fn found(tokens: &[&str]) -> Vec<u8> {
    let found: Vec<Value> = tokens
        .iter()
        .map(|t| {
            serde_json::json!({
                "token": t, "type": "keygate_api_key",
                "url": "https://github.com/octo/repo/blob/abc/config.env", "source": "content"
            })
        })
        .collect();
    serde_json::to_vec(&found).unwrap()
}

fn hash_hex(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn org_with_key(admin: &Admin<'_>, org: &str, on_leak: Option<&str>) -> (String, String) {
    let body = match on_leak {
        Some(o) => format!(r#"{{"plan":"enterprise","on_leak":"{o}"}}"#),
        None => r#"{"plan":"enterprise"}"#.to_owned(),
    };
    admin.put_org(org, &body);
    admin.create_key(org, r#"{"name":"Leaky","scopes":["read"]}"#)
}

fn audit(admin: &Admin<'_>, org: &str) -> Vec<Value> {
    admin
        .call("GET", &format!("/orgs/{org}/audit?type=key_leaked"), None)
        .json()["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const CASES: &[Case<World>] = support::cases![
    a_signed_report_labels_each_token_and_revokes_the_live_key,
    bad_reports_are_refused_and_revoke_nothing,
    the_same_report_twice_acts_once_and_answers_the_same,
    disable_and_notify_leave_what_the_organization_chose,
    an_unknown_key_identifier_fetches_the_list_again,
    anyone_can_report_a_key_without_learning_whether_it_was_one,
    an_old_secret_found_never_takes_the_current_one_down,
];

fn a_signed_report_labels_each_token_and_revokes_the_live_key(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (live, live_id) = org_with_key(&admin, "leak-a", None);
    let (revoked, revoked_id) = admin.create_key("leak-a", r#"{"name":"Gone","scopes":["read"]}"#);
    eq(
        admin
            .call("DELETE", &format!("/orgs/leak-a/keys/{revoked_id}"), None)
            .status,
        200,
        "revoke",
    )?;
    let unknown = ApiKey::generate(&Default::default()).unwrap();
    let tokens = [
        live.as_str(),
        revoked.as_str(),
        "kg_live_not_a_key",
        unknown.expose_secret(),
    ];
    eq(w.status_of(&live), 200, "the live key before the report")?;
    let r = w.signed(&found(&tokens));
    eq(r.status, 200, "report")?;
    let text = r.text();
    for t in &tokens {
        check(!text.contains(t), "the answer never carries a token")?;
    }
    let labels: Vec<(String, String)> = r
        .json()
        .as_array()
        .ok_or("an array")?
        .iter()
        .map(|f| {
            (
                f["token_hash"].as_str().unwrap_or_default().to_owned(),
                f["label"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = tokens
        .iter()
        .zip([
            "true_positive",
            "true_positive",
            "false_positive",
            "false_positive",
        ])
        .map(|(t, l)| (hash_hex(t), l.to_owned()))
        .collect();
    eq(labels, want, "labels")?;
    eq(
        r.json()[0]["token_type"].as_str(),
        Some("keygate_api_key"),
        "token type",
    )?;
    // The hash is the one keygate stores: no raw token needed to match it.
    eq(
        hash_hex(&live),
        KeyHash::of(&ApiKey::parse(&live).unwrap()).to_hex(),
        "hash",
    )?;
    refusal(
        &support::send_with_key(&w.gateway, &live, "GET", "/api/ping", &[], None),
        401,
        "invalid_api_key",
    )?;
    let events = audit(&admin, "leak-a");
    let action = |id: &str| {
        events.iter().find(|e| e["key_id"] == id).map(|e| {
            e["details"]["action"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    };
    eq(
        action(&live_id),
        Some("revoked".to_owned()),
        "live key's leak",
    )?;
    eq(
        action(&revoked_id),
        Some("none".to_owned()),
        "revoked key's leak",
    )?;
    eq(
        events[0]["details"]["url"].as_str(),
        Some("https://github.com/octo/repo/blob/abc/config.env"),
        "where it was found",
    )?;
    Ok(())
}

fn bad_reports_are_refused_and_revoke_nothing(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (live, _) = org_with_key(&admin, "leak-b", None);
    let body = found(&[&live]);
    let (github, id) = (&w.github.0, w.github.1.as_str());
    refusal(&w.report(&body, None), 401, "invalid_signature")?;
    let other = SigningKey::from_bytes(&[99u8; 32].into()).unwrap();
    refusal(
        &w.report(&body, Some((&other, id))),
        401,
        "invalid_signature",
    )?;
    refusal(
        &w.report(&body, Some((github, "no-such-key"))),
        401,
        "invalid_signature",
    )?;
    // Signed whole, sent cut short.
    let signature: DerSignature = github.sign(&body);
    let cut = &body[..body.len() / 2];
    let sig = STANDARD.encode(signature.as_bytes());
    let r = send(
        &w.gateway,
        "POST",
        "/_keygate/v1/secret-scanning/github",
        &[
            ("github-public-key-identifier", id),
            ("github-public-key-signature", &sig),
        ],
        Some(cut),
    );
    refusal(&r, 401, "invalid_signature")?;
    refusal(&w.signed(b"{\"not\":\"an array\"}"), 400, "invalid_request")?;
    refusal(&w.signed(b"[]"), 400, "invalid_request")?;
    // Over 1 MiB: keygate answers 413 without reading it all, and may close while the client
    // still writes (a broken pipe, or a reset that loses the answer). Raw bytes, whose write
    // error is no failure, and a few tries for an answer read whole.
    let huge = vec![b' '; (1 << 20) + 1];
    let (key, id) = (&w.github.0, &w.github.1);
    let signature: DerSignature = key.sign(&huge);
    let mut raw = format!(
        "POST /_keygate/v1/secret-scanning/github HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         content-type: application/json\r\ngithub-public-key-identifier: {id}\r\n\
         github-public-key-signature: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        STANDARD.encode(signature.as_bytes()),
        huge.len()
    )
    .into_bytes();
    raw.extend_from_slice(&huge);
    let answer = (0..5)
        .map(|_| support::send_raw(&w.gateway, &raw))
        .find(|(status, body)| *status != 0 && !body.is_empty())
        .ok_or("no answer to a 1 MiB + 1 report in five tries")?;
    eq(answer.0, 413, "over 1 MiB")?;
    check(answer.1.contains("body_too_large"), &answer.1)?;
    eq(w.status_of(&live), 200, "the key still works")?;
    eq(audit(&admin, "leak-b").len(), 0, "nothing audited")?;
    Ok(())
}

fn the_same_report_twice_acts_once_and_answers_the_same(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (live, _) = org_with_key(&admin, "leak-c", None);
    let body = found(&[&live]);
    let first = w.signed(&body);
    let second = w.signed(&body);
    eq(first.status, 200, "first")?;
    eq(second.json(), first.json(), "the same answer")?;
    eq(audit(&admin, "leak-c").len(), 1, "one leak recorded")?;
    let revokes = admin
        .call("GET", "/orgs/leak-c/audit?type=key_revoked", None)
        .json()["events"]
        .as_array()
        .map_or(0, Vec::len);
    eq(revokes, 1, "revoked once")?;
    Ok(())
}

fn disable_and_notify_leave_what_the_organization_chose(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (disabled, disabled_id) = org_with_key(&admin, "leak-d", Some("disable"));
    eq(
        admin.call("GET", "/orgs/leak-d", None).json()["on_leak"].as_str(),
        Some("disable"),
        "the setting",
    )?;
    eq(w.signed(&found(&[&disabled])).status, 200, "report")?;
    refusal(
        &support::send_with_key(&w.gateway, &disabled, "GET", "/api/ping", &[], None),
        401,
        "disabled_api_key",
    )?;
    let view = admin
        .call("GET", &format!("/orgs/leak-d/keys/{disabled_id}"), None)
        .json();
    eq(
        view["enabled"].as_bool(),
        Some(false),
        "disabled, not revoked",
    )?;
    let (notified, _) = org_with_key(&admin, "leak-n", Some("notify"));
    eq(w.signed(&found(&[&notified])).status, 200, "report")?;
    eq(w.status_of(&notified), 200, "a notify key keeps working")?;
    eq(
        audit(&admin, "leak-n")[0]["details"]["action"].as_str(),
        Some("notified"),
        "audited",
    )?;
    refusal(
        &admin.call("PUT", "/orgs/leak-n", Some(r#"{"on_leak":"ignore"}"#)),
        400,
        "invalid_request",
    )?;
    Ok(())
}

fn an_unknown_key_identifier_fetches_the_list_again(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (live, _) = org_with_key(&admin, "leak-r", None);
    // The list is cached once a report has been checked against it; an unknown identifier
    // fetches it again, at most every 5 s.
    eq(w.signed(b"[]").status, 400, "a signed, empty report")?;
    let before = w.keys.fetches.load(Ordering::SeqCst);
    let flood = w.report(&found(&[&live]), Some((&w.github.0, "made-up")));
    refusal(&flood, 401, "invalid_signature")?;
    thread::sleep(std::time::Duration::from_millis(5_500));
    let before = before.max(w.keys.fetches.load(Ordering::SeqCst));
    // GitHub starts signing with a key keygate has not seen: the list now holds both.
    let (_, first_entry) = signer(7);
    let (_, second_entry) = signer(8);
    *w.keys.list.lock().unwrap() = list(&[&first_entry, &second_entry]);
    let r = w.report(&found(&[&live]), Some((&w.rotated_in.0, &w.rotated_in.1)));
    eq(r.status, 200, "signed by the new key")?;
    eq(
        w.keys.fetches.load(Ordering::SeqCst) - before,
        1,
        "one fetch of the list",
    )?;
    Ok(())
}

fn anyone_can_report_a_key_without_learning_whether_it_was_one(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (live, _) = org_with_key(&admin, "leak-p", None);
    let post = |body: &str| {
        send(
            &w.gateway,
            "POST",
            "/_keygate/v1/leaked",
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        )
    };
    let real = post(&format!(
        r#"{{"key":"{live}","url":"https://pastebin.example/x"}}"#
    ));
    let fake = post(r#"{"key":"kg_live_definitely_not_a_key"}"#);
    eq(real.status, 202, "a real key")?;
    eq(
        (fake.status, fake.json()),
        (real.status, real.json()),
        "the same answer",
    )?;
    refusal(&post(r#"{"nope":1}"#), 400, "invalid_request")?;
    refusal(
        &support::send_with_key(&w.gateway, &live, "GET", "/api/ping", &[], None),
        401,
        "invalid_api_key",
    )?;
    eq(
        audit(&admin, "leak-p")[0]["details"]["source"].as_str(),
        Some("report"),
        "audited as a report",
    )?;
    let statuses: Vec<u16> = (0..10).map(|_| post(r#"{"key":"x"}"#).status).collect();
    check(
        statuses.contains(&429),
        &format!("a flood of reports is cut off: {statuses:?}"),
    )?;
    Ok(())
}

fn an_old_secret_found_never_takes_the_current_one_down(w: &World) -> Result<(), Failed> {
    let admin = Admin::operator(&w.gateway);
    let (old, id) = org_with_key(&admin, "leak-o", None);
    let rotate = |grace: u32| {
        let body = format!(r#"{{"grace_period_hours":{grace}}}"#);
        let r = admin.call(
            "POST",
            &format!("/orgs/leak-o/keys/{id}/rotate"),
            Some(&body),
        );
        r.json()["key"].as_str().unwrap_or_default().to_owned()
    };
    // An old secret that no longer works: recognised, nothing done.
    let current = rotate(0);
    let r = w.signed(&found(&[&old]));
    eq(
        r.json()[0]["label"].as_str(),
        Some("true_positive"),
        "label",
    )?;
    eq(
        w.status_of(&current),
        200,
        "the current secret after its predecessor was found",
    )?;
    // An old secret still in its grace period: it stops now, the current one stays.
    let newest = rotate(24);
    eq(
        w.status_of(&current),
        200,
        "the previous secret during its grace",
    )?;
    let body = format!(
        r#"[{{"token":"{current}","type":"keygate_api_key","url":"https://github.com/o/r/2","source":"commit"}}]"#
    );
    eq(w.signed(body.as_bytes()).status, 200, "report")?;
    thread::sleep(std::time::Duration::from_millis(1_500));
    eq(
        w.status_of(&current),
        401,
        "the previous secret, found, is retired",
    )?;
    eq(w.status_of(&newest), 200, "the current secret")?;
    let actions: Vec<(String, String)> = audit(&admin, "leak-o")
        .iter()
        .map(|e| {
            (
                e["details"]["action"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["details"]["secret"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    eq(
        actions,
        vec![
            ("retired".to_owned(), "previous".to_owned()),
            ("none".to_owned(), "inactive".to_owned()),
        ],
        "audited, newest first",
    )?;
    Ok(())
}

fn main() -> ExitCode {
    let (github, entry) = signer(7);
    let (rotated_in, _) = signer(8);
    let keys = KeyServer::start(list(&[&entry]));
    let origin = Origin::start();
    let gateway =
        Gateway::start(GatewayOptions::new(origin.url()).var("GITHUB_KEYS_URL", keys.url()));
    run_cases(
        World {
            _origin: origin,
            gateway,
            keys,
            github: (github, "key-7".to_owned()),
            rotated_in: (rotated_in, "key-8".to_owned()),
        },
        CASES,
    )
}
