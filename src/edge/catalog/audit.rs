//! The audit log: one writer, and the query.

use super::*;

impl OrgCatalog {
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
