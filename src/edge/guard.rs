//! `KeyGuard`: one Durable Object per key id (so a rotated key keeps its counters), the
//! authority on whether a secret may be used, and the keeper of the key's rate-limit windows
//! and usage. A Durable Object runs one request at a time, so a decision and its count are one
//! step: concurrent requests cannot both take the last unit of a window.
//!
//! It lends isolates **admission leases** (`domain::admission`): units counted at once, valid
//! for the revocation bound, written before they are lent; and takes them back (`HandBack`, or
//! with the isolate's next call) with the usage made under them.
//!
//! State stays in memory after the first read. The counters are written in batches: a write
//! carries a reservation of the guard's own (a few units per window for the next 10 s) that
//! covers the admissions after it, so most strict-mode requests write nothing, and a restart
//! still never forgets an admission (see `window::Counters`). Usage is written with the counters (`domain::meter`). A new lease counts
//! only once its write succeeded, and every stored text is bounded (`UsageEvent::bounded`), so a
//! write cannot fail for size.

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use worker::{DurableObject, Env, Request, Response, State, durable_object};

use super::{clock, respond, rpc, state};
use crate::domain::admission::{Ask, Grant, Handback};
use crate::domain::key::secret::{self, Secret};
use crate::domain::limits::meter::{Leased, Meter, Metered};
use crate::domain::limits::usage::{Cost, Series, Usage, UsageEvent};
use crate::domain::limits::window::Decision;
use crate::domain::manage::audit::Throttle;
use crate::domain::protocol::{
    GuardCommand, GuardVerdict, KeyRefusal, OrgCommand, OrgNotice, Outcome, OwnedRoute, Standing,
};
use crate::domain::webhook::Sightings;
use crate::domain::{
    GateError, KeyHash, KeyRecord, KeyStatus, RateLimit, RecordDigest, UnixMillis, verify,
};

/// (reason, key prefix) pairs a guard remembers for throttling its failure reports.
const FAILURE_KEYS: usize = 1_000;

/// Storage key of the record and secrets.
const STATE_KEY: &str = "state";
/// Storage key of the windows and usage.
const METER_KEY: &str = "meter";

#[derive(Serialize, Deserialize, Clone)]
struct GuardState {
    record: KeyRecord,
    secrets: Vec<Secret>,
    /// The catalog has been told the key expired (once per key).
    #[serde(default)]
    expiry_reported: bool,
    /// The record's digest, computed when the state is loaded or changed (memory only).
    #[serde(skip)]
    digest: Option<RecordDigest>,
}

impl GuardState {
    /// The state with its record's digest filled in.
    fn digested(mut self) -> GuardState {
        self.digest = Some(self.record.digest());
        self
    }
}

/// What `Admit` asks beyond `Check`: the key's start (for the audit log), the route, the usage
/// event, and whether a lease is wanted.
struct Admission {
    start: String,
    access: OwnedRoute,
    event: UsageEvent,
    lease: Option<Ask>,
}

#[durable_object]
pub struct KeyGuard {
    state: State,
    env: Env,
    cached: RefCell<Option<GuardState>>,
    meter: RefCell<Option<Meter>>,
    /// Last audit report per (reason, key prefix).
    failures: RefCell<Throttle<(String, String)>>,
    /// Refusals and successes reported lately (the audit trail without a write per request).
    sightings: RefCell<Sightings>,
    /// An alarm will report the usage to the catalog (set by the first use after a report).
    usage_report_due: Cell<bool>,
}

impl DurableObject for KeyGuard {
    fn new(state: State, env: Env) -> Self {
        KeyGuard {
            state,
            env,
            cached: RefCell::new(None),
            meter: RefCell::new(None),
            failures: RefCell::new(Throttle::new(FAILURE_KEYS)),
            sightings: RefCell::new(Sightings::default()),
            usage_report_due: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let problem_json = respond::wants_problem_json(&req);
        let outcome = match rpc::receive::<GuardCommand>(&mut req).await {
            Ok(GuardCommand::Set { record, secrets }) => self.set(*record, secrets).await,
            Ok(GuardCommand::Check { hash }) => self.check(&hash, None, None).await,
            Ok(GuardCommand::Admit {
                hash,
                start,
                access,
                event,
                known,
                lease,
            }) => {
                let admit = Admission {
                    start,
                    access,
                    event,
                    lease,
                };
                self.check(&hash, Some(admit), known).await
            }
            Ok(GuardCommand::HandBack { handback }) => {
                self.usage_changed();
                self.hand_back(&handback).await
            }
            Ok(GuardCommand::Usage) => self.usage(None).await,
            Ok(GuardCommand::UsageSeries(series)) => self.usage(Some(series)).await,
            Err(e) => Err(e),
        };
        Ok(outcome.unwrap_or_else(|e| respond::error(&e, problem_json)))
    }

    /// Reports the usage to the catalog; tried again a minute later when that fails.
    async fn alarm(&self) -> worker::Result<Response> {
        self.usage_report_due.set(false);
        if let Err(e) = self.report_usage().await {
            worker::console_log!(
                "{}",
                serde_json::json!({"error": "usage_report", "detail": e.log_detail()})
            );
            self.usage_changed();
        }
        Response::empty()
    }
}

impl KeyGuard {
    /// Usage moved: it reaches the catalog within `USAGE_REPORT_MS`, by an alarm set after
    /// the answer, so no request waits for it and a busy key costs one report per period.
    fn usage_changed(&self) {
        let Ok(config) = state::config(&self.env) else {
            return;
        };
        if self.usage_report_due.replace(true) {
            return;
        }
        let storage = self.state.storage();
        let every = config.usage_report_every;
        self.state.wait_until(async move {
            if let Err(e) = storage.set_alarm(every).await {
                worker::console_log!(
                    "{}",
                    serde_json::json!({"error": "usage_alarm", "detail": e.to_string()})
                );
            }
        });
    }

    async fn report_usage(&self) -> Result<(), GateError> {
        let Some(guard) = self.load().await? else {
            return Ok(());
        };
        self.ensure_meter().await?;
        let (last_used_at, requests_total) = self
            .meter
            .borrow()
            .as_ref()
            .map(|m| (m.usage().last_used_at(), m.usage().total()))
            .unwrap_or_default();
        let notice = OrgNotice::Used {
            org: guard.record.org.clone(),
            id: guard.record.id.clone(),
            last_used_at,
            requests_total,
        };
        self.tell_catalog(
            &guard.record,
            &OrgCommand::Notice(notice),
            &mut Cost::default(),
        )
        .await
    }

    async fn load(&self) -> Result<Option<GuardState>, GateError> {
        if let Some(cached) = self.cached.borrow().clone() {
            return Ok(Some(cached));
        }
        let loaded = self
            .read::<GuardState>(STATE_KEY)
            .await?
            .map(GuardState::digested);
        *self.cached.borrow_mut() = loaded.clone();
        Ok(loaded)
    }

    /// Makes sure the meter is in memory. Another request may have loaded it during the read;
    /// its copy, possibly already counted, wins.
    async fn ensure_meter(&self) -> Result<(), GateError> {
        if self.meter.borrow().is_some() {
            return Ok(());
        }
        let stored = self.read::<Meter>(METER_KEY).await?.unwrap_or_default();
        let restored = Meter::restore(stored);
        self.meter.borrow_mut().get_or_insert(restored);
        Ok(())
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, GateError> {
        let text: Option<String> = self
            .state
            .storage()
            .get(key)
            .await
            .map_err(respond::internal)?;
        text.map(|t| serde_json::from_str(&t).map_err(respond::internal))
            .transpose()
    }

    /// One `put`: one row of the object's key-value table, added to `cost`.
    async fn write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        cost: &mut Cost,
    ) -> Result<(), GateError> {
        let text = serde_json::to_string(value).map_err(respond::internal)?;
        cost.rows_written += 1;
        self.state
            .storage()
            .put(key, text)
            .await
            .map_err(respond::internal)
    }

    async fn store(&self, new: GuardState, cost: &mut Cost) -> Result<(), GateError> {
        self.write(STATE_KEY, &new, cost).await?;
        *self.cached.borrow_mut() = Some(new.digested());
        Ok(())
    }

    async fn set(&self, record: KeyRecord, secrets: Vec<Secret>) -> Result<Response, GateError> {
        let expiry_reported = self.load().await?.is_some_and(|s| s.expiry_reported);
        let state = GuardState {
            record,
            secrets,
            expiry_reported,
            digest: None,
        };
        self.store(state, &mut Cost::default()).await?;
        respond::json(200, &serde_json::json!({"ok": true}))
    }

    /// `Check` (no `admit`) or `Admit`: the verdict for `hash`, deciding and counting the
    /// windows when the key may make the request. The record goes back only when it differs
    /// from the one the worker holds (`known`).
    async fn check(
        &self,
        hash: &KeyHash,
        admit: Option<Admission>,
        known: Option<RecordDigest>,
    ) -> Result<Response, GateError> {
        let now = clock::now();
        let mut cost = Cost::default();
        let Some(mut guard) = self.load().await? else {
            return unknown(now, cost);
        };
        if !secret::accepts(&guard.secrets, hash, now) {
            // A rotated-out or revoked secret of this key.
            if let Some(Admission { start, .. }) = &admit {
                self.report_failure(&guard.record, "invalid_api_key", start, now, &mut cost)
                    .await?;
            }
            return unknown(now, cost);
        }
        if KeyStatus::of(&guard.record, now) == KeyStatus::Expired && !guard.expiry_reported {
            // First sight of the expiry: the organization's audit log records it once.
            let command = OrgCommand::Notice(OrgNotice::KeyExpired {
                org: guard.record.org.clone(),
                id: guard.record.id.clone(),
            });
            self.tell_catalog(&guard.record, &command, &mut cost)
                .await?;
            guard.expiry_reported = true;
            self.store(guard.clone(), &mut cost).await?;
        }
        let (outcome, lease) = match admit {
            None => (None, None),
            Some(Admission {
                start,
                access,
                event,
                lease,
            }) => {
                self.ensure_meter().await?;
                let country = event.country.clone();
                let allowed = verify::permits(&guard.record, now, &access.route());
                let refusal = match &allowed {
                    Ok(()) => None,
                    Err(e) => Some(KeyRefusal::of(e).ok_or_else(|| {
                        GateError::Internal(format!("unexpected refusal {}", e.code()))
                    })?),
                };
                let limits = guard.record.effective_limits();
                // The key's own bound, else the deployment's.
                let period = match (lease.is_some(), guard.record.revocation_bound_ms) {
                    (false, _) => 0,
                    (true, Some(own)) => u64::from(own),
                    (true, None) => state::config(&self.env)?.revocation_bound.as_millis(),
                };
                let (decision, grant) = match lease {
                    Some(ask) if period > 0 => {
                        self.lease(allowed, limits, event, &ask, period, now, &mut cost)
                            .await?
                    }
                    _ => {
                        // A key switched to strict mode: its last lease still comes back.
                        if let Some(Ask {
                            handback: Some(handback),
                            ..
                        }) = &lease
                            && let Some(meter) = self.meter.borrow_mut().as_mut()
                        {
                            meter.hand_back(limits, handback, now);
                        }
                        (
                            self.meter(allowed, limits, event, now, &mut cost).await?,
                            None,
                        )
                    }
                };
                if let Some(
                    e @ (KeyRefusal::InvalidKey | KeyRefusal::ExpiredKey | KeyRefusal::DisabledKey),
                ) = &refusal
                {
                    let code = e.clone().error().code();
                    self.report_failure(&guard.record, code, &start, now, &mut cost)
                        .await?;
                }
                let outcome = Outcome::of(decision, refusal);
                self.usage_changed();
                self.report_sighting(&guard.record, outcome.as_ref(), country, now, &mut cost)?;
                (outcome, grant)
            }
        };
        respond::json(
            200,
            &GuardVerdict {
                standing: Standing::of(
                    &guard.record,
                    guard.digest.unwrap_or_else(|| guard.record.digest()),
                    known,
                ),
                now,
                outcome,
                lease,
                cost,
            },
        )
    }

    /// The lease step on the in-memory meter (see `domain::admission`): a lease lent is
    /// written first and counts, with the rest of the step, only once the write succeeded; a
    /// failed write is an error and leaves the meter as it was.
    #[allow(clippy::too_many_arguments)] // one step, its inputs named as in `Meter::lease`
    async fn lease(
        &self,
        allowed: Result<(), GateError>,
        limits: &[RateLimit],
        event: UsageEvent,
        ask: &Ask,
        period_ms: u64,
        now: UnixMillis,
        cost: &mut Cost,
    ) -> Result<(Option<Decision>, Option<Grant>), GateError> {
        let Leased {
            decision,
            grant,
            pending,
        } = self
            .meter
            .borrow_mut()
            .get_or_insert_with(Meter::default)
            .lease(allowed, limits, event, ask, period_ms, now);
        if let Some(pending) = pending {
            self.write(METER_KEY, &pending.stored(), cost).await?;
            if let Some(meter) = self.meter.borrow_mut().as_mut() {
                meter.commit(pending);
            }
        }
        Ok((decision, grant))
    }

    /// Decides, counts and records one request on the in-memory meter, in one synchronous step:
    /// no other request runs in between, so none can take the same unit. An admission that
    /// needs a new lease is written first and committed only once the write succeeded (the
    /// `put` holds the object's input gate: no other request decides in the meantime); a failed
    /// write is an error and leaves the meter as it was (see `domain::meter`).
    async fn meter(
        &self,
        allowed: Result<(), GateError>,
        limits: &[RateLimit],
        event: UsageEvent,
        now: UnixMillis,
        cost: &mut Cost,
    ) -> Result<Option<Decision>, GateError> {
        let Metered {
            decision, pending, ..
        } = self
            .meter
            .borrow_mut()
            .get_or_insert_with(Meter::default)
            .admit(allowed, limits, event, now);
        if let Some(pending) = pending {
            self.write(METER_KEY, &pending.stored(), cost).await?;
            if let Some(meter) = self.meter.borrow_mut().as_mut() {
                meter.commit(pending);
            }
        }
        Ok(decision)
    }

    /// Tells the catalog about a refused request, at most once per reason and key prefix per
    /// minute: a flood of bad requests costs no extra calls and cannot fill the audit log.
    async fn report_failure(
        &self,
        record: &KeyRecord,
        reason: &str,
        start: &str,
        now: UnixMillis,
        cost: &mut Cost,
    ) -> Result<(), GateError> {
        let fresh = self
            .failures
            .borrow_mut()
            .admit((reason.to_owned(), start.to_owned()), now);
        if fresh {
            let command = OrgCommand::Notice(OrgNotice::AuthFailed {
                org: record.org.clone(),
                id: record.id.clone(),
                reason: reason.to_owned(),
                start: start.to_owned(),
            });
            self.tell_catalog(record, &command, cost).await?;
        }
        Ok(())
    }

    /// Tells the catalog of the first rate-limit refusal in a window (it sends
    /// `key.rate_limited`) and of a success once an hour (the audit trail's successful
    /// authentications), after the answer.
    fn report_sighting(
        &self,
        record: &KeyRecord,
        outcome: Option<&Outcome>,
        country: Option<String>,
        now: UnixMillis,
        cost: &mut Cost,
    ) -> Result<(), GateError> {
        let (org, id) = (record.org.clone(), record.id.clone());
        let notice = match outcome {
            Some(Outcome::Limited { windows, .. }) => {
                let first = self.sightings.borrow_mut().limited(windows, now).cloned();
                first.map(|w| OrgNotice::RateLimited {
                    org,
                    id,
                    window: w.name,
                    limit: w.limit,
                    window_seconds: w.window_seconds,
                })
            }
            Some(Outcome::Admitted { .. }) => self
                .sightings
                .borrow_mut()
                .succeeded(now)
                .then_some(OrgNotice::AuthSucceeded { org, id, country }),
            _ => None,
        };
        match notice {
            Some(notice) => {
                let catalog = rpc::stub(&self.env, state::CATALOGS_BINDING, record.org.as_str())?;
                cost.do_requests += 1;
                let command = OrgCommand::Notice(notice);
                // After the answer: a sighting never delays the request it saw.
                self.state.wait_until(async move {
                    let told = rpc::ask::<_, serde::de::IgnoredAny>(&catalog, &command).await;
                    if let Err(e) = told {
                        worker::console_log!(
                            "{}",
                            serde_json::json!({"error": "sighting", "detail": e.log_detail()})
                        );
                    }
                });
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Sends `command` to the catalog of `record`'s organization; an answer but 200 is an
    /// error, so an unwritten audit event is never taken for a written one.
    async fn tell_catalog(
        &self,
        record: &KeyRecord,
        command: &OrgCommand,
        cost: &mut Cost,
    ) -> Result<(), GateError> {
        let catalog = rpc::stub(&self.env, state::CATALOGS_BINDING, record.org.as_str())?;
        cost.do_requests += 1;
        rpc::ask::<_, serde::de::IgnoredAny>(&catalog, command)
            .await
            .map(drop)
    }

    async fn hand_back(&self, handback: &Handback) -> Result<Response, GateError> {
        let Some(guard) = self.load().await? else {
            return respond::json(200, &serde_json::json!({}));
        };
        self.ensure_meter().await?;
        if let Some(meter) = self.meter.borrow_mut().as_mut() {
            meter.hand_back(guard.record.effective_limits(), handback, clock::now());
        }
        respond::json(200, &serde_json::json!({}))
    }

    /// The usage view, or the series when one is asked for.
    async fn usage(&self, series: Option<Series>) -> Result<Response, GateError> {
        self.ensure_meter().await?;
        let now = clock::now();
        let empty = Usage::default();
        let meter = self.meter.borrow();
        let usage = meter.as_ref().map_or(&empty, Meter::usage);
        match series {
            None => respond::json(200, &usage.view(now)),
            Some(series) => respond::json(200, &usage.series(series, now)),
        }
    }
}

/// The verdict for a secret the guard does not accept.
fn unknown(now: UnixMillis, cost: Cost) -> Result<Response, GateError> {
    respond::json(
        200,
        &GuardVerdict {
            standing: Standing::Unknown,
            now,
            outcome: None,
            lease: None,
            cost,
        },
    )
}
