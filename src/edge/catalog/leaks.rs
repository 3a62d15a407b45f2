//! Leaks: the `on_leak` setting, the hash index of every secret, and what a report does.

use super::*;

impl OrgCatalog {
    /// The organization's `on_leak` setting.
    pub(super) fn on_leak(&self) -> Result<OnLeak, GateError> {
        #[derive(Deserialize)]
        struct Setting {
            value: String,
        }
        let rows: Vec<Setting> =
            self.query("SELECT value FROM settings WHERE name = 'on_leak'", vec![])?;
        rows.first().map_or(Ok(OnLeak::default()), |r| {
            r.value.parse().map_err(GateError::Internal)
        })
    }

    /// Indexes a new secret of `record` by its hash, for leak reports: kept after a revoke,
    /// so a report can still tell the key is keygate's.
    pub(super) async fn index_secret(
        &self,
        record: &KeyRecord,
        hash: &KeyHash,
    ) -> Result<(), GateError> {
        let owner = Owner {
            org: record.org.clone(),
            id: record.id.clone(),
        };
        state::keys(&self.env)?
            .put(&leak::index_key(hash), to_json(&owner)?)
            .map_err(internal)?
            .execute()
            .await
            .map_err(|e| GateError::Internal(format!("KV put: {e}")))
    }

    /// One of the keys was found at `url`: the `on_leak` setting acts on it once (a second
    /// report of the same place changes nothing), and each report is audited and sent out.
    pub(super) async fn key_leaked(
        &self,
        id: &KeyId,
        hash: &KeyHash,
        url: String,
        source: String,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        let ok = || respond::json(200, &serde_json::json!({"ok": true}));
        let place = [("url", url.as_str()), ("source", source.as_str())];
        if self.audited(id, AuditKind::KeyLeaked, None, &place)? {
            return ok();
        }
        let live = self.find_live_key(id)?;
        // The secret found decides, not the key: an old secret must not take the current one
        // down with it (rotating is how a leak is answered).
        let found = live.as_ref().and_then(|key| {
            key.secrets
                .iter()
                .find(|s| &s.hash == hash && secret::accepts(std::slice::from_ref(s), hash, now))
        });
        let secret = match found {
            Some(s) if s.until.is_some() => FoundSecret::Previous,
            Some(_) => FoundSecret::Current,
            None => FoundSecret::Inactive,
        };
        let enabled = live.as_ref().is_some_and(|key| key.record.enabled);
        let action = LeakAction::of(secret, enabled, self.on_leak()?);
        let details = AuditDetails::KeyLeaked {
            action: action.as_str(),
            secret: secret.as_str(),
            source: source.clone(),
            url: url.clone(),
        };
        self.record_event(now, AuditKind::KeyLeaked, "keygate", Some(id), &details)?;
        if let Some(key) = live {
            let mut data = key_data(&key.record, None);
            data["found"] = serde_json::json!({
                "action": action.as_str(), "secret": secret.as_str(), "source": source, "url": url
            });
            self.webhooks()
                .enqueue(EventType::KeyLeaked, &data, now, None)?;
            match action {
                LeakAction::Revoked => self.revoke(key, "keygate", now).await?,
                LeakAction::Disabled => self.disable(key, now).await?,
                LeakAction::Retired => self.retire(key, hash).await?,
                LeakAction::Notified | LeakAction::None => {}
            }
        }
        ok()
    }

    /// Ends the grace period of the old secret `hash` now; the current secret keeps working.
    pub(super) async fn retire(&self, key: Stored, hash: &KeyHash) -> Result<(), GateError> {
        let (gone, kept): (Vec<Secret>, Vec<Secret>) =
            key.secrets.into_iter().partition(|s| &s.hash == hash);
        self.guard_set(&key.record, &kept).await?;
        self.unpublish(gone.iter()).await;
        self.exec(
            "UPDATE keys SET secrets = ? WHERE id = ?",
            vec![to_json(&kept)?.into(), key.record.id.as_str().into()],
        )
    }

    /// Turns a live key off, as an admin's `enabled: false` would, on keygate's behalf.
    pub(super) async fn disable(&self, key: Stored, now: UnixMillis) -> Result<(), GateError> {
        let Stored {
            mut record,
            secrets,
        } = key;
        record.enabled = false;
        self.publish(&record, &secrets).await?;
        self.save_record(&record)?;
        self.record_event(
            now,
            AuditKind::KeyDisabled,
            "keygate",
            Some(&record.id),
            &AuditDetails::None {},
        )
    }
}
