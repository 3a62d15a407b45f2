//! The resource registry: each child resource's parent, and the reach it gives the keys
//! restricted on the parent type. A change republishes, guard first, every key whose reach it
//! changes, then writes its row and audit event: it acts within those keys' revocation bound.

use super::*;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
  type TEXT NOT NULL, id TEXT NOT NULL, parent_type TEXT NOT NULL, parent_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (type, id)) WITHOUT ROWID;
";

#[derive(Deserialize)]
struct ResourceRow {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    parent_type: String,
    parent_id: String,
    created_at: i64,
    updated_at: i64,
}

impl ResourceRow {
    fn registration(&self) -> Result<Registration, GateError> {
        let stored = |kind: &str, id: &str| {
            ResourceRef::parse(kind, id)
                .map_err(|why| GateError::Internal(format!("stored resource: {why}")))
        };
        Ok(Registration {
            child: stored(&self.kind, &self.id)?,
            parent: stored(&self.parent_type, &self.parent_id)?,
        })
    }

    fn view(&self) -> Result<ResourceView, GateError> {
        Ok(ResourceView {
            kind: self.kind.clone(),
            id: self.id.clone(),
            parent: self.registration()?.parent,
            created_at: UnixMillis(self.created_at as u64),
            updated_at: UnixMillis(self.updated_at as u64),
        })
    }
}

#[derive(Serialize)]
struct ResourceList {
    resources: Vec<ResourceView>,
}

const COLUMNS: &str = "type, id, parent_type, parent_id, created_at, updated_at";

impl OrgCatalog {
    fn registered(&self, resource: &ResourceRef) -> Result<Option<ResourceRow>, GateError> {
        let rows: Vec<ResourceRow> = self.query(
            &format!("SELECT {COLUMNS} FROM resources WHERE type = ? AND id = ?"),
            vec![resource.kind().into(), resource.id().into()],
        )?;
        Ok(rows.into_iter().next())
    }

    /// Every registration of the organization (at most `MAX_REGISTERED`).
    fn registrations(&self) -> Result<Vec<Registration>, GateError> {
        let rows: Vec<ResourceRow> =
            self.query(&format!("SELECT {COLUMNS} FROM resources"), vec![])?;
        rows.iter().map(ResourceRow::registration).collect()
    }

    /// What a key restricted as `resources` reaches now. Reads the registry only for a key
    /// restricted on a parent type.
    pub(super) fn reach_of(
        &self,
        resources: &BTreeMap<String, Vec<String>>,
    ) -> Result<BTreeMap<String, Reach>, GateError> {
        let parents = state::config(&self.env)?.policy.parents();
        if !parents.restricts_a_parent(resources) {
            return Ok(BTreeMap::new());
        }
        Ok(reach(resources, parents, &self.registrations()?))
    }

    /// Gives every live key whose reach differs under `registry` its new reach, guard and KV
    /// first; returns the records to save with the change.
    async fn republish_reach(
        &self,
        registry: &[Registration],
    ) -> Result<Vec<KeyRecord>, GateError> {
        let parents = state::config(&self.env)?.policy.parents();
        let mut changed = Vec::new();
        for Stored {
            mut record,
            secrets,
        } in self.live_keys()?
        {
            let reached = reach(&record.resources, parents, registry);
            if reached != record.reach {
                record.reach = reached;
                self.publish(&record, &secrets).await?;
                changed.push(record);
            }
        }
        Ok(changed)
    }

    pub(super) fn get_resource(&self, resource: &ResourceRef) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let row = self
            .registered(resource)?
            .ok_or(GateError::ResourceNotFound)?;
        respond::json(200, &row.view()?)
    }

    pub(super) fn list_resources(
        &self,
        kind: &str,
        page: &ResourcePage,
    ) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let mut bindings: Vec<SqlStorageValue> = vec![kind.into()];
        let mut filters = String::new();
        if let Some(after) = &page.after {
            filters.push_str(" AND id > ?");
            bindings.push(after.as_str().into());
        }
        if let Some(parent) = &page.parent {
            filters.push_str(" AND parent_id = ?");
            bindings.push(parent.as_str().into());
        }
        // One more than the page: whether another follows.
        bindings.push(SqlStorageValue::Integer(i64::from(page.limit) + 1));
        let mut rows: Vec<ResourceRow> = self.query(
            &format!("SELECT {COLUMNS} FROM resources WHERE type = ?{filters} ORDER BY id LIMIT ?"),
            bindings,
        )?;
        let more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
        let resources = rows
            .iter()
            .map(ResourceRow::view)
            .collect::<Result<_, _>>()?;
        respond::json(
            200,
            &Page {
                items: ResourceList { resources },
                next_cursor,
            },
        )
    }

    pub(super) async fn put_resource(
        &self,
        resource: ResourceRef,
        parent: ResourceRef,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let existing = self.registered(&resource)?;
        let previous = existing
            .as_ref()
            .map(|row| row.registration().map(|r| r.parent))
            .transpose()?;
        let count: Vec<CountRow> = self.query("SELECT COUNT(*) AS n FROM resources", vec![])?;
        let registered = count.first().map_or(0, |r| r.n as u32);
        let put = RegistryPut::of(previous, &parent, registered)?;
        let Some(kind) = put.kind() else {
            let row = existing.ok_or(GateError::ResourceNotFound)?;
            return respond::json(200, &row.view()?);
        };
        let mut registry = self.registrations()?;
        registry.retain(|r| r.child != resource);
        registry.push(Registration {
            child: resource.clone(),
            parent: parent.clone(),
        });
        let republished = self.republish_reach(&registry).await?;
        let created_at = existing
            .as_ref()
            .map_or(ms(now), |row| SqlStorageValue::Integer(row.created_at));
        self.exec(
            &format!("INSERT OR REPLACE INTO resources ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
            vec![
                resource.kind().into(),
                resource.id().into(),
                parent.kind().into(),
                parent.id().into(),
                created_at,
                ms(now),
            ],
        )?;
        for record in &republished {
            self.save_record(record)?;
        }
        let moved_from = match &put {
            RegistryPut::Move { previous } => Some(previous),
            RegistryPut::Create | RegistryPut::Unchanged => None,
        };
        let details = AuditDetails::resource(&resource, &parent, moved_from);
        self.record_event(now, kind, &actor.name(), None, &details)?;
        let row = self
            .registered(&resource)?
            .ok_or_else(|| GateError::Internal("a registration just written is gone".into()))?;
        respond::json(put.status(), &row.view()?)
    }

    pub(super) async fn delete_resource(
        &self,
        resource: ResourceRef,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Response, GateError> {
        self.org_row()?.ok_or(GateError::OrgNotFound)?;
        let row = self
            .registered(&resource)?
            .ok_or(GateError::ResourceNotFound)?;
        let parent = row.registration()?.parent;
        let mut registry = self.registrations()?;
        registry.retain(|r| r.child != resource);
        let republished = self.republish_reach(&registry).await?;
        self.exec(
            "DELETE FROM resources WHERE type = ? AND id = ?",
            vec![resource.kind().into(), resource.id().into()],
        )?;
        for record in &republished {
            self.save_record(record)?;
        }
        let details = AuditDetails::resource(&resource, &parent, None);
        self.record_event(
            now,
            AuditKind::ResourceDeleted,
            &actor.name(),
            None,
            &details,
        )?;
        respond::json(
            200,
            &Revoked {
                success: true,
                message: "Resource registration deleted",
            },
        )
    }
}
