//! Keys found in public, reported from outside: GitHub's signed secret-scanning batches and
//! anyone's report of a key (holding it is the proof). Each of keygate's keys found goes to
//! its organization's catalog, which applies the organization's `on_leak` setting; the answer
//! never says more than GitHub's feedback asks for.

use std::cell::RefCell;

use futures_util::future::join_all;
use worker::{Env, Fetch, Request, Response};

use super::body::read_capped;
use super::{body, clock, respond, rpc, state};
use crate::domain::http::client::ClientId;
use crate::domain::key::hash::KeyHash;
use crate::domain::leak::{
    self, Feedback, KeyList, Label, LeakReport, MAX_REPORT_BYTES, Owner, ReportError,
};
use crate::domain::manage::audit::Throttle;
use crate::domain::protocol::{OrgChange, OrgCommand};
use crate::domain::{ApiKey, GateError, UnixMillis};

/// Reports a client may send per minute to `POST /v1/leaked`.
const REPORTS_PER_MINUTE: u32 = 10;
/// Clients whose reports an isolate remembers.
const MAX_CLIENTS: usize = 10_000;
/// Largest key list read (GitHub's is a few KiB).
const MAX_KEY_LIST_BYTES: usize = 256 << 10;
/// How long an identifier missing from the fetched list is refused without fetching it again.
const REFETCH_AFTER_MS: u64 = 5_000;
/// Largest report to `POST /v1/leaked`.
const MAX_LEAK_REPORT_BYTES: usize = 4096;

thread_local! {
    /// GitHub's signing keys and when they were fetched: once per isolate, and again for an
    /// unknown identifier at most every 5 s (so unknown identifiers cannot make keygate
    /// fetch the list on every request).
    static GITHUB_KEYS: RefCell<Option<(KeyList, UnixMillis)>> = const { RefCell::new(None) };
    static REPORTS: RefCell<Throttle<ClientId>> =
        RefCell::new(Throttle::with_budget(MAX_CLIENTS, REPORTS_PER_MINUTE));
}

/// `POST /v1/secret-scanning/github`: verify the batch's signature, then judge each token.
pub async fn github(req: &mut Request, env: &Env) -> Result<Response, GateError> {
    let header = |name| req.headers().get(name).ok().flatten();
    let (Some(key_id), Some(signature)) = (
        header("github-public-key-identifier"),
        header("github-public-key-signature"),
    ) else {
        return Err(GateError::InvalidSignature(
            ReportError::Unsigned.to_string(),
        ));
    };
    let body = body::request_body(req, MAX_REPORT_BYTES)
        .await?
        .ok_or(GateError::BodyTooLarge(MAX_REPORT_BYTES))?;
    let pem = public_key(&state::config(env)?.github_keys_url, &key_id).await?;
    leak::verify_signature(&pem, &signature, &body)
        .map_err(|e| GateError::InvalidSignature(e.to_string()))?;
    let tokens = leak::parse_report(&body).map_err(|e| GateError::InvalidRequest(e.to_string()))?;
    let labels = join_all(
        tokens
            .iter()
            .map(|t| judge(env, &t.token, &t.url, &t.source)),
    )
    .await;
    let feedback = tokens
        .iter()
        .zip(labels)
        .map(|(t, label)| Ok(Feedback::of(t, label?)))
        .collect::<Result<Vec<_>, GateError>>()?;
    respond::json(200, &feedback)
}

/// `POST /v1/leaked`: the same for one key anyone found. The answer is the same whether the
/// key existed or not, and a client may send only a few a minute, so it cannot probe for keys.
pub async fn report(
    req: &mut Request,
    env: &Env,
    client: &ClientId,
) -> Result<Response, GateError> {
    REPORTS
        .with_borrow_mut(|t| t.take(client.clone(), clock::now()))
        .map_err(|ms| GateError::TooManyInvalidKeys {
            retry_after: ms.div_ceil(1000),
        })?;
    let body = body::request_body(req, MAX_LEAK_REPORT_BYTES)
        .await?
        .ok_or(GateError::BodyTooLarge(MAX_LEAK_REPORT_BYTES))?;
    // Not the shared body parser: its messages may quote the values, and a value is a key.
    let report = serde_json::from_slice::<LeakReport>(&body).map_err(|_| {
        GateError::InvalidRequest(
            r#"The body must be {"key": "…", "url": "…"} (url optional)"#.into(),
        )
    })?;
    let url = report.url.unwrap_or_default();
    judge(env, &report.key, &url, "report").await?;
    respond::json(202, &serde_json::json!({"received": true}))
}

/// Whether `token` is one of keygate's keys (revoked or not); if it is, its catalog is told
/// where it was found. A string that is not a key, or fails its checksum, is never looked up.
async fn judge(env: &Env, token: &str, url: &str, source: &str) -> Result<Label, GateError> {
    let Ok(key) = ApiKey::parse(token) else {
        return Ok(Label::FalsePositive);
    };
    let hash = KeyHash::of(&key);
    let kv = state::keys(env)?;
    let owner = kv
        .get(&leak::index_key(&hash))
        .json::<Owner>()
        .await
        .map_err(|e| GateError::Internal(format!("KV get: {e}")))?;
    let Some(Owner { org, id }) = owner else {
        return Ok(Label::FalsePositive);
    };
    let catalog = rpc::stub(env, state::CATALOGS_BINDING, org.as_str())?;
    let command = OrgCommand::Change(OrgChange::KeyLeaked {
        org,
        id,
        hash,
        url: url.to_owned(),
        source: source.to_owned(),
    });
    rpc::ask::<_, serde::de::IgnoredAny>(&catalog, &command).await?;
    Ok(Label::TruePositive)
}

/// The PEM of GitHub's key `id`: from the isolate's copy of the list, fetched again once when
/// the id is not in it (GitHub rotates its keys).
async fn public_key(url: &str, id: &str) -> Result<String, GateError> {
    let shown: String = id.chars().take(64).collect();
    let unknown = || GateError::InvalidSignature(format!("unknown key identifier {shown:?}"));
    let now = clock::now();
    let (cached, fresh) = GITHUB_KEYS.with_borrow(|held| match held {
        Some((list, at)) => (
            list.find(id).map(str::to_owned),
            now.0 < at.0 + REFETCH_AFTER_MS,
        ),
        None => (None, false),
    });
    if let Some(pem) = cached {
        return Ok(pem);
    }
    if fresh {
        return Err(unknown());
    }
    let mut response = Fetch::Url(
        url.parse()
            .map_err(|e| GateError::Internal(format!("{e}")))?,
    )
    .send()
    .await
    .map_err(|e| GateError::Internal(format!("GitHub's key list: {e}")))?;
    if response.status_code() != 200 {
        return Err(GateError::Internal(format!(
            "GitHub's key list answered {}",
            response.status_code()
        )));
    }
    let bytes = read_capped(
        response
            .stream()
            .map_err(|e| GateError::Internal(format!("GitHub's key list: {e}")))?,
        MAX_KEY_LIST_BYTES,
    )
    .await
    .map_err(|e| GateError::Internal(format!("GitHub's key list: {e}")))?
    .ok_or_else(|| GateError::Internal("GitHub's key list is over 256 KiB".into()))?;
    let text = String::from_utf8_lossy(&bytes);
    let list = KeyList::parse(&text).map_err(|e| GateError::Internal(e.0))?;
    let pem = list.find(id).map(str::to_owned);
    GITHUB_KEYS.with_borrow_mut(|cached| *cached = Some((list, now)));
    pem.ok_or_else(unknown)
}
