//! The audit log: one writer, and the query.

use super::*;

impl OrgCatalog {
    /// Whether `id` already has a `kind` event after `since` (any time: `None`) whose details
    /// hold each (field, value) of `detail`: how a sighting, an expiry or a report that is
    /// already in the log is not written, or acted on, twice.
    pub(super) fn audited(
        &self,
        id: &KeyId,
        kind: AuditKind,
        since: Option<UnixMillis>,
        detail: &[(&str, &str)],
    ) -> Result<bool, GateError> {
        let mut query = String::from(
            "SELECT COUNT(*) AS n FROM audit WHERE key_id = ? AND type = ? AND at > ?",
        );
        let mut bindings: Vec<SqlStorageValue> = vec![
            id.as_str().into(),
            kind.as_str().into(),
            since.map_or(-1, |t| t.0 as i64).into(),
        ];
        for (field, value) in detail {
            query.push_str(" AND json_extract(details, ?) = ?");
            bindings.push(format!("$.{field}").into());
            bindings.push((*value).into());
        }
        let rows: Vec<CountRow> = self.query(&query, bindings)?;
        Ok(rows.first().is_some_and(|r| r.n > 0))
    }

    pub(super) fn record_event(
        &self,
        at: UnixMillis,
        kind: AuditKind,
        actor: &str,
        key_id: Option<&KeyId>,
        details: &AuditDetails,
    ) -> Result<(), GateError> {
        self.exec(
            "INSERT INTO audit (at, type, actor, key_id, details) VALUES (?, ?, ?, ?, ?)",
            vec![
                ms(at),
                kind.as_str().into(),
                actor.into(),
                key_id.map_or(SqlStorageValue::Null, |k| k.as_str().into()),
                details.to_json().map_err(internal)?.into(),
            ],
        )?;
        match key_id {
            Some(id) => self.after_key_event(kind, id, at),
            None => Ok(()),
        }
    }
}
