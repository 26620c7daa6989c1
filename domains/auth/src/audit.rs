//! The tamper-evident audit log: every entry's hash covers the previous one's.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::schema::audit_log;
use kernel::{AppError, RequestMeta};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

// Serialises appends so that each entry sees its predecessor's hash.
const AUDIT_CHAIN_LOCK: i64 = 0x0041_5544_4954;

/// What happened, by whom, to what: built with [`AuditEvent::new`] and the
/// setters, then appended with [`AuditEvent::record`].
///
/// ```ignore
/// AuditEvent::new("user.role_changed", "user")
///     .of(user.id)
///     .by(principal.user_id)
///     .diff(json!({ "before": { "role": "employee" }, "after": { "role": "freelancer" } }))
///     .record(conn, meta)
///     .await?;
/// ```
#[derive(Debug, Clone)]
#[must_use = "an audit event is written only by `record`"]
pub struct AuditEvent<'a> {
    actor_id: Option<Uuid>,
    action: &'a str,
    entity_type: &'a str,
    entity_id: Option<String>,
    diff: Value,
}

impl<'a> AuditEvent<'a> {
    /// `action` (such as `auth.login` or `user.role_changed`) happened to an
    /// entity of `entity_type` (such as `user`); no actor, no entity id and an
    /// empty diff until set.
    pub fn new(action: &'a str, entity_type: &'a str) -> Self {
        Self {
            actor_id: None,
            action,
            entity_type,
            entity_id: None,
            diff: Value::Object(Default::default()),
        }
    }

    /// The entity it happened to.
    pub fn of(mut self, entity_id: impl ToString) -> Self {
        self.entity_id = Some(entity_id.to_string());
        self
    }

    /// Who acted; `None` for an operator's script or an unknown account.
    pub fn by(mut self, actor_id: impl Into<Option<Uuid>>) -> Self {
        self.actor_id = actor_id.into();
        self
    }

    /// Before/after values (`{"before": ..., "after": ...}`) or details.
    pub fn diff(mut self, diff: Value) -> Self {
        self.diff = diff;
        self
    }

    /// Appends the event; call it inside the transaction of the change it records.
    pub async fn record(
        self,
        conn: &mut AsyncPgConnection,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        // Inside the caller's transaction this is a savepoint and the chain lock
        // lasts until the caller commits; called alone, it is its own
        // transaction, so the lock still spans the read of the last hash and the insert.
        conn.transaction::<_, AppError, _>(async |conn| append(conn, meta, self).await)
            .await
    }
}

/// A stored entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    /// Position in the chain.
    pub seq: i64,
    /// Id.
    pub id: Uuid,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// What.
    pub action: String,
    /// Entity type.
    pub entity_type: String,
    /// Entity id.
    pub entity_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Before/after.
    pub diff: Value,
    /// Hash of the previous entry (zeroes for the first).
    pub prev_hash: Vec<u8>,
    /// Hash of this entry.
    pub hash: Vec<u8>,
}

/// JSON with object keys sorted at every level, so the hash does not depend on
/// how PostgreSQL's jsonb orders keys.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|key| {
                    format!(
                        "{}:{}",
                        Value::String(key.clone()),
                        canonical_json(&map[key])
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The hash of an entry given its predecessor's hash.
pub fn entry_hash(entry: &AuditEntry) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(&entry.prev_hash);
    let opt = |value: &Option<String>| value.clone().unwrap_or_default();
    let fields = [
        entry.seq.to_string(),
        entry.id.to_string(),
        entry.occurred_at.timestamp_micros().to_string(),
        entry.actor_id.map(|id| id.to_string()).unwrap_or_default(),
        entry.action.clone(),
        entry.entity_type.clone(),
        opt(&entry.entity_id),
        opt(&entry.ip),
        opt(&entry.user_agent),
        canonical_json(&entry.diff),
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().to_vec()
}

async fn append(
    conn: &mut AsyncPgConnection,
    meta: &RequestMeta,
    event: AuditEvent<'_>,
) -> Result<(), AppError> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({AUDIT_CHAIN_LOCK})"))
        .execute(conn)
        .await?;
    let last: Option<(i64, Vec<u8>)> = audit_log::table
        .select((audit_log::seq, audit_log::hash))
        .order(audit_log::seq.desc())
        .first(conn)
        .await
        .optional()?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, vec![0; 32]));
    let mut entry = AuditEntry {
        seq: prev_seq + 1,
        id: Uuid::now_v7(),
        // PostgreSQL keeps microseconds; hash what will be stored.
        occurred_at: Utc::now().trunc_subsecs(6),
        actor_id: event.actor_id,
        action: event.action.to_string(),
        entity_type: event.entity_type.to_string(),
        entity_id: event.entity_id,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        diff: event.diff,
        prev_hash,
        hash: Vec::new(),
    };
    entry.hash = entry_hash(&entry);
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::seq.eq(entry.seq),
            audit_log::id.eq(entry.id),
            audit_log::occurred_at.eq(entry.occurred_at),
            audit_log::actor_id.eq(entry.actor_id),
            audit_log::action.eq(&entry.action),
            audit_log::entity_type.eq(&entry.entity_type),
            audit_log::entity_id.eq(&entry.entity_id),
            audit_log::ip.eq(&entry.ip),
            audit_log::user_agent.eq(&entry.user_agent),
            audit_log::diff.eq(&entry.diff),
            audit_log::prev_hash.eq(&entry.prev_hash),
            audit_log::hash.eq(&entry.hash),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Filters of the audit log query.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor_id: Option<Uuid>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this entity type.
    pub entity_type: Option<String>,
    /// Only this entity.
    pub entity_id: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// Newest first, `limit + 1` rows after the cursor `before_seq` (so the caller knows
/// whether there is a next page), and the total count.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<(Vec<AuditEntry>, i64), AppError> {
    let build = || {
        let mut query = audit_log::table.into_boxed();
        if let Some(actor) = filter.actor_id {
            query = query.filter(audit_log::actor_id.eq(actor));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_log::action.eq(action.clone()));
        }
        if let Some(entity_type) = &filter.entity_type {
            query = query.filter(audit_log::entity_type.eq(entity_type.clone()));
        }
        if let Some(entity_id) = &filter.entity_id {
            query = query.filter(audit_log::entity_id.eq(entity_id.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_log::occurred_at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_log::occurred_at.lt(to));
        }
        query
    };
    let total: i64 = build().count().get_result(conn).await?;
    let mut page = build();
    if let Some(before) = before_seq {
        page = page.filter(audit_log::seq.lt(before));
    }
    let rows = page
        .order(audit_log::seq.desc())
        .limit(limit + 1)
        .select(AuditEntry::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Result of re-computing the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    /// Entries checked.
    pub checked: i64,
    /// The first entry whose hash or link does not match, if any.
    pub first_broken_seq: Option<i64>,
}

/// Re-computes every hash and link, oldest first, in batches.
pub async fn verify_chain(conn: &mut AsyncPgConnection) -> Result<ChainCheck, AppError> {
    const BATCH: i64 = 1000;
    let mut checked = 0;
    let mut expected_prev = vec![0u8; 32];
    let mut expected_seq = 1;
    let mut after = 0;
    loop {
        let batch: Vec<AuditEntry> = audit_log::table
            .filter(audit_log::seq.gt(after))
            .order(audit_log::seq.asc())
            .limit(BATCH)
            .select(AuditEntry::as_select())
            .load(conn)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for entry in &batch {
            checked += 1;
            let intact = entry.seq == expected_seq
                && entry.prev_hash == expected_prev
                && entry.hash == entry_hash(entry);
            if !intact {
                return Ok(ChainCheck {
                    checked,
                    first_broken_seq: Some(entry.seq),
                });
            }
            expected_prev = entry.hash.clone();
            expected_seq += 1;
        }
    }
    Ok(ChainCheck {
        checked,
        first_broken_seq: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            seq: 1,
            id: Uuid::from_u128(9),
            occurred_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).expect("time"),
            actor_id: None,
            action: "auth.login".into(),
            entity_type: "user".into(),
            entity_id: Some("u1".into()),
            ip: Some("10.0.0.1".into()),
            user_agent: None,
            diff: serde_json::json!({"b": 1, "a": {"z": [1, 2], "y": null}}),
            prev_hash: vec![0; 32],
            hash: Vec::new(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": 1, "a": {"z": 2, "y": [ {"d": 1, "c": 2} ]}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"y":[{"c":2,"d":1}],"z":2},"b":1}"#
        );
    }

    #[test]
    fn any_change_to_an_entry_changes_its_hash() {
        let original = entry_hash(&entry());
        let mut changed = entry();
        changed.action = "auth.logout".into();
        assert_ne!(entry_hash(&changed), original);
        let mut changed = entry();
        changed.diff = serde_json::json!({"b": 2});
        assert_ne!(entry_hash(&changed), original);
        let mut changed = entry();
        changed.prev_hash = vec![1; 32];
        assert_ne!(entry_hash(&changed), original);
    }
}
