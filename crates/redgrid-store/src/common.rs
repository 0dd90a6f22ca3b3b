//! The body of both backends, written once. `sqlite.rs` and `postgres.rs` each declare this file as
//! their child module `common` (with `#[path]`), after defining the dialect: `type Db` (the sqlx
//! database), `type This` (the store struct), `BACKEND`, the few statements that differ
//! (`SQL_LOCK_REQUEST`, `SQL_NEXT_REQUEST_ID`, `SQL_FILE_REQUEST`, `SQL_MOVE_REQUEST`,
//! `SQL_LOCK_AUDIT_HEAD`, `SQL_APPEND_AUDIT`, `SQL_TEXT_MATCH`, `SQL_MIGRATION_LOCK`, `SQL_LOCK_PERSON`, `PACKED_COMMAND_FACTS`) and the inherent methods `read_pool()`, `write_pool()`, `begin_write()`,
//! `write()` (one job: SQLite's writer task, PostgreSQL's pool) and `fail_point()`. Compiled twice with concrete types: no generic trait-bound puzzles, one behaviour,
//! and rustfmt and clippy see it like any other module.

use super::{
    BACKEND, Db, MOVED_ROWS, PACKED_COMMAND_FACTS, SQL_APPEND_AUDIT, SQL_DEFERRED,
    SQL_FILE_REQUEST, SQL_LOCK_AUDIT_HEAD, SQL_LOCK_PERSON, SQL_LOCK_REQUEST, SQL_MIGRATION_LOCK,
    SQL_MOVE_REQUEST, SQL_NEXT_REQUEST_ID, SQL_TEXT_MATCH, This,
};
pub(super) use crate::audit::{
    self, AuditKind, AuditRecord, AuditRow, ChainKey, EventRow, Keyring,
};
pub(super) use crate::prelude::*;
pub(super) use crate::{
    AccessEntry, AccessQuery, Account, AlertLink, ApiToken, AttachmentMeta, Backend, Change,
    Decide, DirectGroup, ERASED, Erasure, FailPoint, IdempotencyKey, IdempotencyRecord, ItemFields,
    ListFilter, NewArea, NewClass, NewPerson, NewUnit, OutboxMessage, PhoneCode, Result,
    SessionRow, StoreError, UploadQuota, request_columns, request_columns_but_id, request_params,
};
pub(super) use async_trait::async_trait;
pub(super) use chrono::{DateTime, Utc};
pub(super) use redgrid_core::area::{Area, Level};
pub(super) use redgrid_core::catalogue::{CategoryClass, CategoryItem, Tier};
pub(super) use redgrid_core::command::SubmitDecision;
pub(super) use redgrid_core::deadline::Limit;
pub(super) use redgrid_core::directory::Directory;
pub(super) use redgrid_core::error::{Conflict, CoreError, Entity};
pub(super) use redgrid_core::ids::*;
pub(super) use redgrid_core::notify::{NoticeKind, Target, notices};
pub(super) use redgrid_core::person::{Grant, Person, Role, Scope};
pub(super) use redgrid_core::request::Light;
pub(super) use redgrid_core::request::{
    ActorRef, Attachment, Channel, Event, EventBody, Location, RatedVia, Rating, RejectCode,
    Request, Satisfaction, Status, apply,
};
pub(super) use redgrid_core::scorecard::{self, COUNTER_COLUMNS, Counts, Dim, FactKey, Grain};
pub(super) use redgrid_core::unit::{Unit, UnitKind};
pub(super) use sqlx::{AssertSqlSafe, QueryBuilder, Row};
pub(super) use std::collections::{BTreeMap, HashSet};
pub(super) use std::sync::Arc;
pub(super) use std::sync::atomic::Ordering;

pub(super) type Conn = <Db as sqlx::Database>::Connection;
pub(super) type DbRow = <Db as sqlx::Database>::Row;

pub(super) const SQL_GET_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id = $1"
);
pub(super) const SQL_EVENTS: &str = "SELECT request_id, seq, actor_id, actor_role, at, payload \
     FROM request_events WHERE request_id = $1 ORDER BY seq";

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

/// `sqlx::query(sql)` with its arguments bound in order: `sql!(SQL, a, b)` is
/// `sqlx::query(SQL).bind(a).bind(b)`.
macro_rules! sql {
    ($sql:expr $(, $arg:expr)* $(,)?) => {
        sqlx::query($sql)$(.bind($arg))*
    };
}
pub(super) use sql;

/// Builds a record from a row whose columns are named like the record's fields: `field` reads the
/// column as it is, `field: id T` wraps it in the id type `T`, `field: opt T` wraps a nullable one,
/// `field: text` reads a nullable text as empty when null, `field: later` leaves it empty (filled
/// from another query), and `field: word parse` reads a
/// vocabulary word (an unknown word is corrupt data).
macro_rules! from_row {
    ($row:expr, $ty:ident { $($f:ident $(: $how:ident $($conv:path)?)?),* $(,)? }) => {
        Ok($ty { $($f: from_row!(@one $row, $f $(, $how $($conv)?)?),)* })
    };
    (@one $row:expr, $f:ident) => {
        $row.try_get(stringify!($f))?
    };
    (@one $row:expr, $f:ident, id $conv:path) => {
        $conv($row.try_get(stringify!($f))?)
    };
    (@one $row:expr, $f:ident, opt $conv:path) => {
        $row.try_get::<Option<i64>, _>(stringify!($f))?.map($conv)
    };
    (@one $row:expr, $f:ident, later) => {
        Default::default()
    };
    (@one $row:expr, $f:ident, text) => {
        $row.try_get::<Option<String>, _>(stringify!($f))?.unwrap_or_default()
    };
    (@one $row:expr, $f:ident, word $conv:path) => {
        parse_enum(stringify!($f), &$row.try_get::<String, _>(stringify!($f))?, $conv)?
    };
}
pub(super) use from_row;

pub(super) fn parse_enum<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

pub(super) fn parse_opt<T>(
    what: &str,
    value: Option<String>,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>> {
    value.map(|v| parse_enum(what, &v, parse)).transpose()
}

pub(super) fn request_from_row(row: &DbRow) -> Result<Request> {
    let attachments: String = row.try_get("attachments")?;
    let attachments: Vec<Attachment> = serde_json::from_str(&attachments)
        .map_err(|e| StoreError::Corrupt(format!("attachments: {e}")))?;
    let rating = match row.try_get::<Option<bool>, _>("rating_resolved")? {
        None => None,
        Some(resolved) => Some(Rating {
            resolved,
            satisfaction: parse_enum(
                "satisfaction",
                &row.try_get::<Option<String>, _>("rating_satisfaction")?
                    .unwrap_or_default(),
                Satisfaction::parse,
            )?,
            comment: row.try_get("rating_comment")?,
            via: parse_enum(
                "rating via",
                &row.try_get::<Option<String>, _>("rating_via")?
                    .unwrap_or_default(),
                RatedVia::parse,
            )?,
        }),
    };
    Ok(Request {
        id: RequestId(row.try_get("id")?),
        status: parse_enum(
            "status",
            &row.try_get::<String, _>("status")?,
            Status::parse,
        )?,
        channel: parse_enum(
            "channel",
            &row.try_get::<String, _>("channel")?,
            Channel::parse,
        )?,
        description: row.try_get("description")?,
        requester_id: row.try_get::<Option<i64>, _>("requester_id")?.map(PersonId),
        submitted_by: row.try_get::<Option<i64>, _>("submitted_by")?.map(PersonId),
        location: Location {
            area_id: AreaId(row.try_get("area_id")?),
            street_id: AreaId(row.try_get("street_id")?),
            community_id: AreaId(row.try_get("community_id")?),
            grid_id: row.try_get::<Option<i64>, _>("grid_id")?.map(AreaId),
            address: row.try_get("address")?,
            lat: row.try_get("lat")?,
            lon: row.try_get("lon")?,
        },
        attachments,
        category_id: row
            .try_get::<Option<i64>, _>("category_id")?
            .map(CategoryId),
        tier: parse_opt("tier", row.try_get("tier")?, Tier::parse)?,
        urgent: row.try_get("urgent")?,
        level: parse_enum("level", &row.try_get::<String, _>("level")?, Level::parse)?,
        unit_id: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        claimed_by: row.try_get::<Option<i64>, _>("claimed_by")?.map(PersonId),
        suspended_from: parse_opt("status", row.try_get("suspended_from")?, Status::parse)?,
        supervised: row.try_get("supervised")?,
        supervision_count: row.try_get("supervision_count")?,
        rework_count: row.try_get("rework_count")?,
        escalation_count: row.try_get("escalation_count")?,
        respond_due_at: row.try_get("respond_due_at")?,
        resolve_due_at: row.try_get("resolve_due_at")?,
        responded_at: row.try_get("responded_at")?,
        resolved_at: row.try_get("resolved_at")?,
        verified_at: row.try_get("verified_at")?,
        closed_at: row.try_get("closed_at")?,
        resolution: row.try_get("resolution")?,
        cost_fen: row.try_get("cost_fen")?,
        rating,
        reject_code: parse_opt(
            "reject code",
            row.try_get("reject_code")?,
            RejectCode::parse,
        )?,
        duplicate_of: row
            .try_get::<Option<i64>, _>("duplicate_of")?
            .map(RequestId),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
        respond_warn_at: row.try_get("respond_warn_at")?,
        resolve_warn_at: row.try_get("resolve_warn_at")?,
        next_due_at: row.try_get("next_due_at")?,
        next_warn_at: row.try_get("next_warn_at")?,
        on_time: row.try_get("on_time")?,
        suspended_at: row.try_get("suspended_at")?,
        overdue_supervised_for: row.try_get("overdue_supervised_for")?,
        rated_at: row.try_get("rated_at")?,
        restricted: row.try_get("restricted")?,
        public_need: row.try_get("public_need")?,
        public_result: row.try_get("public_result")?,
    })
}

/// Where a projection's values go: a one-row query, or one row of a multi-row insert.
pub(super) trait Binder: Sized {
    fn bind<T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>>(self, value: T) -> Self;
}

impl<'q> Binder for sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
    fn bind<T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>>(self, value: T) -> Self {
        sqlx::query::Query::bind(self, value)
    }
}

impl<'a, 'qb> Binder for &'a mut sqlx::query_builder::Separated<'qb, Db, &'static str> {
    fn bind<T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>>(self, value: T) -> Self {
        self.push_bind(value)
    }
}

/// Binds a catalogue item's fields, in the order `create_item` and `update_item` list them.
pub(super) fn bind_item<B: Binder>(q: B, f: ItemFields) -> B {
    q.bind(f.class_id.0)
        .bind(f.code)
        .bind(f.name_zh)
        .bind(f.name_en)
        .bind(f.default_tier.as_str())
        .bind(f.default_level.as_str())
        .bind(f.active)
        .bind(f.sort)
        .bind(f.respond_limit.map(|l| l.as_text()))
        .bind(f.resolve_limit.map(|l| l.as_text()))
}

/// Binds the 51 projection columns in `request_columns!()` order.
pub(super) fn bind_request<B: Binder>(q: B, r: &Request) -> Result<B> {
    let attachments = serde_json::to_string(&r.attachments)
        .map_err(|e| StoreError::Corrupt(format!("attachments: {e}")))?;
    let rating = r.rating.as_ref();
    Ok(q.bind(r.id.0)
        .bind(r.status.as_str())
        .bind(r.channel.as_str())
        .bind(r.description.clone())
        .bind(r.requester_id.map(|x| x.0))
        .bind(r.submitted_by.map(|x| x.0))
        .bind(r.location.area_id.0)
        .bind(r.location.street_id.0)
        .bind(r.location.community_id.0)
        .bind(r.location.grid_id.map(|x| x.0))
        .bind(r.location.address.clone())
        .bind(r.location.lat)
        .bind(r.location.lon)
        .bind(attachments)
        .bind(r.category_id.map(|x| x.0))
        .bind(r.tier.map(|t| t.as_str()))
        .bind(r.urgent)
        .bind(r.level.as_str())
        .bind(r.unit_id.map(|x| x.0))
        .bind(r.claimed_by.map(|x| x.0))
        .bind(r.suspended_from.map(|s| s.as_str()))
        .bind(r.supervised)
        .bind(r.supervision_count)
        .bind(r.rework_count)
        .bind(r.escalation_count)
        .bind(r.respond_due_at)
        .bind(r.resolve_due_at)
        .bind(r.responded_at)
        .bind(r.resolved_at)
        .bind(r.verified_at)
        .bind(r.closed_at)
        .bind(r.resolution.clone())
        .bind(r.cost_fen)
        .bind(rating.map(|x| x.resolved))
        .bind(rating.map(|x| x.satisfaction.as_str()))
        .bind(rating.and_then(|x| x.comment.clone()))
        .bind(rating.map(|x| x.via.as_str()))
        .bind(r.reject_code.map(|c| c.as_str()))
        .bind(r.duplicate_of.map(|x| x.0))
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(r.version)
        .bind(r.respond_warn_at)
        .bind(r.resolve_warn_at)
        .bind(r.next_due_at)
        .bind(r.next_warn_at)
        .bind(r.on_time)
        .bind(r.suspended_at)
        .bind(r.overdue_supervised_for)
        .bind(r.rated_at)
        .bind(r.restricted)
        .bind(r.public_need.clone())
        .bind(r.public_result.clone()))
}

pub(super) fn event_payload(e: &Event) -> Result<String> {
    serde_json::to_string(&e.body).map_err(|err| StoreError::Corrupt(format!("event: {err}")))
}

/// Binds an event's columns, in [`SQL_INSERT_EVENT`]'s order, after whatever `q` has bound already.
pub(super) fn bind_event<B: Binder>(q: B, e: &Event, payload: &str) -> B {
    q.bind(e.request_id.0)
        .bind(e.seq)
        .bind(e.body.kind())
        .bind(e.actor.person_id.map(|p| p.0))
        .bind(e.actor.role.map(|r| r.as_str()))
        .bind(e.at)
        .bind(payload.to_string())
}

/// Appends a record to the audit chain. The head row is locked (PostgreSQL) or the write lock is
/// held (SQLite) until the transaction ends, so records join one at a time and never fork.
/// Locks the chain's head (PostgreSQL: `FOR UPDATE`; SQLite: the writer holds the lock) and
/// reads it: the last record's number and hash.
async fn lock_head(conn: &mut Conn) -> Result<(i64, String)> {
    let head = sqlx::query(SQL_LOCK_AUDIT_HEAD)
        .fetch_one(&mut *conn)
        .await?;
    Ok((head.try_get("seq")?, head.try_get("hash")?))
}

/// The first row `q` returns, if any, made into a record by `f`.
pub(super) async fn one_row<'q, T>(
    q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>,
    pool: &sqlx::Pool<Db>,
    f: impl Fn(&DbRow) -> Result<T>,
) -> Result<Option<T>> {
    q.fetch_optional(pool).await?.as_ref().map(f).transpose()
}

/// Runs a query and turns each row into a value with `f`.
pub(super) async fn collect_rows<'q, T>(
    q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>,
    pool: &sqlx::Pool<Db>,
    f: impl Fn(&DbRow) -> Result<T>,
) -> Result<Vec<T>> {
    q.fetch_all(pool).await?.iter().map(f).collect()
}

/// The keys this store links the audit chain with ([`crate::AuditStore::set_keyring`]).
pub(super) type ChainKeys = Arc<std::sync::RwLock<Arc<Keyring>>>;

/// The keyring in force now (a copy of the pointer: a rotation affects later calls only).
pub(super) fn keyring_of(keys: &ChainKeys) -> Arc<Keyring> {
    match keys.read() {
        Ok(k) => k.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

impl This {
    /// The keyring in force now (see [`keyring_of`]).
    pub(super) fn keyring(&self) -> Arc<Keyring> {
        keyring_of(&self.chain_keys)
    }
}

/// The key new links are computed with (None: plain SHA-256). A store given no key refuses to
/// extend a chain that is keyed already, so a tool opened without the key cannot weaken it.
async fn link_key<'k>(
    conn: &mut Conn,
    keys: &'k Keyring,
    head: i64,
) -> Result<Option<&'k ChainKey>> {
    if let Some(k) = keys.current() {
        return Ok(Some(k));
    }
    let keyed = sql!("SELECT key_id FROM audit_chain WHERE seq = $1", head)
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| row.try_get::<i64, _>("key_id"))
        .transpose()?
        .unwrap_or(0);
    if keyed > 0 {
        return Err(StoreError::Corrupt(
            "the audit chain is keyed, and this store was opened without its key".into(),
        ));
    }
    Ok(None)
}

pub(super) async fn chain_append(
    conn: &mut Conn,
    keys: &Keyring,
    rec: &AuditRecord,
) -> Result<i64> {
    let (seq, prev) = lock_head(conn).await?;
    // Records commands left waiting join first, so the chain keeps the order of writing.
    let (seq, prev) = link_waiting(conn, keys, seq, prev).await?;
    let key = link_key(conn, keys, seq).await?;
    let seq = seq + 1;
    let hash = audit::chain_hash(&prev, seq, rec, key.map(|k| k.secret.as_slice()));
    sql!(
        SQL_APPEND_AUDIT,
        seq,
        rec.at,
        rec.kind.as_str(),
        rec.actor_id.map(|p| p.0),
        rec.request_id.map(|r| r.0),
        rec.event_seq,
        rec.payload.clone(),
        prev,
        hash,
        key.map_or(0, |k| k.id)
    )
    .execute(&mut *conn)
    .await?;
    Ok(seq)
}

/// Which of `ids` stand in the `id` column of `table`.
async fn existing_ids<T>(
    pool: &sqlx::Pool<Db>,
    table: &'static str,
    ids: Vec<T>,
) -> Result<HashSet<T>>
where
    T: for<'q> sqlx::Encode<'q, Db>
        + for<'r> sqlx::Decode<'r, Db>
        + sqlx::Type<Db>
        + Eq
        + std::hash::Hash
        + Send
        + 'static,
{
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT id FROM {table} WHERE id IN ("));
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(id);
    }
    qb.push(")");
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter().map(|r| Ok(r.try_get::<T, _>("id")?)).collect()
}

/// Records an administrative change in the audit chain and commits it with the change.
pub(super) async fn commit_admin(
    mut tx: sqlx::Transaction<'static, Db>,
    keys: &Keyring,
    by: Change,
    action: &str,
    details: serde_json::Value,
) -> Result<()> {
    chain_append(
        &mut tx,
        keys,
        &AuditRecord::admin(by.at, by.by, action, details),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new person with their grants, and its audit record, in the caller's transaction.
async fn add_person(
    conn: &mut Conn,
    keys: &Keyring,
    new: &NewPerson,
    by: Change,
) -> Result<Person> {
    let id = insert_person(conn, &new.name, new.phone.as_deref(), by.at).await?;
    for g in &new.grants {
        let (area, unit) = scope_columns(g.scope);
        sql!(
            "INSERT INTO grants (person_id, role, area_id, unit_id) VALUES ($1, $2, $3, $4)",
            id.0,
            g.role.as_str(),
            area,
            unit
        )
        .execute(&mut *conn)
        .await?;
    }
    let person = load_person(conn, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("person vanished".into()))?;
    // Who holds which roles; never the name or phone (the chain is read by auditors).
    let details = grants_details(&person);
    chain_append(
        conn,
        keys,
        &AuditRecord::admin(by.at, by.by, "create_person", details),
    )
    .await?;
    Ok(person)
}

/// The record in a row of `audit_chain` or `audit_pending`.
fn audit_record_from(row: &DbRow) -> Result<AuditRecord> {
    let kind: String = row.try_get("kind")?;
    Ok(AuditRecord {
        at: row.try_get("at")?,
        kind: parse_enum("audit kind", &kind, AuditKind::parse)?,
        actor_id: row.try_get::<Option<i64>, _>("actor_id")?.map(PersonId),
        request_id: row.try_get::<Option<i64>, _>("request_id")?.map(RequestId),
        event_seq: row.try_get("event_seq")?,
        payload: row.try_get("payload")?,
    })
}

pub(super) fn audit_row_from(row: &DbRow) -> Result<AuditRow> {
    Ok(AuditRow {
        seq: row.try_get("seq")?,
        record: audit_record_from(row)?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
        key_id: row.try_get("key_id")?,
    })
}

pub(super) fn event_from_row(row: &DbRow) -> Result<Event> {
    let payload: String = row.try_get("payload")?;
    let body: EventBody = serde_json::from_str(&payload)
        .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
    Ok(Event {
        request_id: RequestId(row.try_get("request_id")?),
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: ActorRef {
            person_id: row.try_get::<Option<i64>, _>("actor_id")?.map(PersonId),
            role: parse_opt("role", row.try_get("actor_role")?, Role::parse)?,
        },
        body,
    })
}

/// Adds (`held`) or removes one grant unless it is so already, with its audit-chain record (who,
/// to whom, which role, where). Returns whether it changed anything.
pub(super) async fn change_grant(
    conn: &mut Conn,
    keys: &Keyring,
    person: PersonId,
    grant: Grant,
    held: bool,
    by: Change,
) -> Result<bool> {
    let (area, unit) = scope_columns(grant.scope);
    let exists = sql!(
        "SELECT 1 FROM grants WHERE person_id = $1 AND role = $2 \
         AND area_id IS NOT DISTINCT FROM $3 AND unit_id IS NOT DISTINCT FROM $4",
        person.0,
        grant.role.as_str(),
        area,
        unit
    )
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if exists == held {
        return Ok(false);
    }
    let sql = if held {
        "INSERT INTO grants (person_id, role, area_id, unit_id) VALUES ($1, $2, $3, $4)"
    } else {
        "DELETE FROM grants WHERE person_id = $1 AND role = $2 \
         AND area_id IS NOT DISTINCT FROM $3 AND unit_id IS NOT DISTINCT FROM $4"
    };
    sql!(sql, person.0, grant.role.as_str(), area, unit)
        .execute(&mut *conn)
        .await?;
    let action = if held { "grant_role" } else { "revoke_role" };
    let details = serde_json::json!({
        "person_id": person.0,
        "role": grant.role.as_str(),
        "area_id": area,
        "unit_id": unit,
    });
    chain_append(
        conn,
        keys,
        &AuditRecord::admin(by.at, by.by, action, details),
    )
    .await?;
    Ok(true)
}

/// A grant's place as the `grants` table keeps it: `(area_id, unit_id)`, exactly one set.
pub(super) fn scope_columns(scope: Scope) -> (Option<i64>, Option<i64>) {
    match scope {
        Scope::Area(a) => (Some(a.0), None),
        Scope::Unit(u) => (None, Some(u.0)),
    }
}

/// A grant from a row with `role`, `area_id` and `unit_id`.
pub(super) fn grant_from_row(row: &DbRow) -> Result<Grant> {
    let role = parse_enum("role", &row.try_get::<String, _>("role")?, Role::parse)?;
    let scope = match (
        row.try_get::<Option<i64>, _>("area_id")?,
        row.try_get::<Option<i64>, _>("unit_id")?,
    ) {
        (Some(a), None) => Scope::Area(AreaId(a)),
        (None, Some(u)) => Scope::Unit(UnitId(u)),
        _ => return Err(StoreError::Corrupt("a grant without a single scope".into())),
    };
    Ok(Grant { role, scope })
}

pub(super) async fn load_person(conn: &mut Conn, id: PersonId) -> Result<Option<Person>> {
    let Some(row) = sql!("SELECT id, name, phone FROM people WHERE id = $1", id.0)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let rows = sql!(
        "SELECT role, area_id, unit_id FROM grants WHERE person_id = $1 ORDER BY role",
        id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut grants = Vec::with_capacity(rows.len());
    for g in rows {
        grants.push(grant_from_row(&g)?);
    }
    Ok(Some(Person {
        id,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        grants,
    }))
}

pub(super) async fn insert_person(
    conn: &mut Conn,
    name: &str,
    phone: Option<&str>,
    at: DateTime<Utc>,
) -> Result<PersonId> {
    let row = sql!(
        "INSERT INTO people (name, phone, created_at) VALUES ($1, $2, $3) RETURNING id",
        name.to_string(),
        phone.map(String::from),
        at
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(unique_to_conflict)?;
    Ok(PersonId(row.try_get("id")?))
}

pub(super) fn unique_to_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Duplicate(_) => StoreError::Core(CoreError::Conflict(Conflict::AlreadyExists)),
        other => other,
    }
}

pub(super) fn area_from_row(row: &DbRow) -> Result<Area> {
    from_row!(row, Area {
        id: id AreaId, parent_id: opt AreaId, kind: word Level::parse, code, name
    })
}

pub(super) fn unit_from_row(row: &DbRow) -> Result<Unit> {
    from_row!(row, Unit {
        id: id UnitId, name, kind: word UnitKind::parse, area_id: id AreaId,
        level: word Level::parse, parent_id: opt UnitId, active, code
    })
}

pub(super) fn class_from_row(row: &DbRow) -> Result<CategoryClass> {
    from_row!(row, CategoryClass {
        id: id ClassId, code, name_zh, name_en, sort
    })
}

pub(super) fn item_from_row(row: &DbRow) -> Result<CategoryItem> {
    Ok(CategoryItem {
        id: CategoryId(row.try_get("id")?),
        class_id: ClassId(row.try_get("class_id")?),
        code: row.try_get("code")?,
        name_zh: row.try_get("name_zh")?,
        name_en: row.try_get("name_en")?,
        default_tier: parse_enum(
            "tier",
            &row.try_get::<String, _>("default_tier")?,
            Tier::parse,
        )?,
        default_level: parse_enum(
            "level",
            &row.try_get::<String, _>("default_level")?,
            Level::parse,
        )?,
        respond_limit: limit_of("respond limit", row.try_get("respond_limit")?)?,
        resolve_limit: limit_of("resolve limit", row.try_get("resolve_limit")?)?,
        active: row.try_get("active")?,
        sort: row.try_get("sort")?,
    })
}

pub(super) const ITEM_COLUMNS: &str = "id, class_id, code, name_zh, name_en, default_tier, default_level, respond_limit, resolve_limit, active, sort";

pub(super) fn limit_of(what: &str, v: Option<String>) -> Result<Option<Limit>> {
    v.map(|t| Limit::parse(&t).ok_or_else(|| corrupt(what, &t)))
        .transpose()
}

/// ` AND (…)`: the requests `v` may see (deny by default: with no clause the list is empty).
pub(super) fn push_visible(qb: &mut QueryBuilder<Db>, v: &redgrid_core::policy::Visibility) {
    if v.all {
        return;
    }
    qb.push(" AND (1 = 0");
    if let Some(p) = v.requester {
        qb.push(" OR requester_id = ").push_bind(p.0);
    }
    if let Some(p) = v.handler {
        qb.push(" OR claimed_by = ").push_bind(p.0);
    }
    if !v.units.is_empty() {
        qb.push(" OR unit_id IN (");
        let mut sep = qb.separated(", ");
        for u in &v.units {
            sep.push_bind(u.0);
        }
        qb.push(")");
    }
    for (kind, id, level) in &v.areas {
        qb.push(" OR (");
        match kind {
            // The whole district (only with a handling level; otherwise `all` is set).
            Level::District => qb.push("area_id IS NOT NULL"),
            Level::Street => qb.push("street_id = ").push_bind(id.0),
            Level::Community => qb.push("community_id = ").push_bind(id.0),
            Level::Grid => qb.push("grid_id = ").push_bind(id.0),
        };
        if let Some(l) = level {
            qb.push(" AND level = ").push_bind(l.as_str());
        }
        qb.push(")");
    }
    qb.push(")");
}

pub(super) fn push_filter(qb: &mut QueryBuilder<Db>, f: &ListFilter) {
    if let Some(v) = &f.visible {
        // Ordinary requests by the caller's visibility, restricted ones by its restricted part.
        qb.push(" AND ((restricted = ").push_bind(false);
        push_visible(qb, v);
        qb.push(") OR (restricted = ").push_bind(true);
        match &v.restricted {
            Some(r) => push_visible(qb, r),
            None => {
                qb.push(" AND 1 = 0");
            }
        }
        qb.push("))");
    }
    if !f.statuses.is_empty() {
        qb.push(" AND status IN (");
        let mut sep = qb.separated(", ");
        for s in &f.statuses {
            sep.push_bind(s.as_str());
        }
        qb.push(")");
    }
    if let Some(l) = f.level {
        qb.push(" AND level = ").push_bind(l.as_str());
    }
    if f.flagged {
        qb.push(" AND (supervision_count > 0 OR rework_count > 0)");
    }
    if let Some(u) = f.unit_id {
        qb.push(" AND unit_id = ").push_bind(u.0);
    }
    if let Some((level, id)) = f.area {
        let column = match level {
            Level::District => None,
            Level::Street => Some(" AND street_id = "),
            Level::Community => Some(" AND community_id = "),
            Level::Grid => Some(" AND grid_id = "),
        };
        if let Some(c) = column {
            qb.push(c).push_bind(id.0);
        }
    }
    if let Some(c) = f.category_id {
        qb.push(" AND category_id = ").push_bind(c.0);
    }
    if let Some(t) = f.tier {
        qb.push(" AND tier = ").push_bind(t.as_str());
    }
    if let Some(c) = f.channel {
        qb.push(" AND channel = ").push_bind(c.as_str());
    }
    if let Some(p) = f.requester_id {
        qb.push(" AND requester_id = ").push_bind(p.0);
    }
    if let Some(t) = f.created_from {
        qb.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = f.created_to {
        qb.push(" AND created_at < ").push_bind(t);
    }
    if let Some(t) = f.updated_from {
        qb.push(" AND updated_at >= ").push_bind(t);
    }
    if let Some(t) = f.updated_to {
        qb.push(" AND updated_at < ").push_bind(t);
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(SQL_TEXT_MATCH)
            .push_bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    }
    if let Some(b) = f.before_id {
        qb.push(" AND id < ").push_bind(b.0);
    }
    if let Some((light, now)) = f.light {
        // The instant the light is read at: a suspended request's clock stopped when suspended.
        let t = |qb: &mut QueryBuilder<Db>| {
            qb.push("COALESCE(suspended_at, ").push_bind(now).push(")");
        };
        match light {
            Light::Red => {
                qb.push(" AND ((next_due_at IS NOT NULL AND next_due_at < ");
                t(qb);
                qb.push(") OR on_time = FALSE)");
            }
            Light::Yellow => {
                qb.push(" AND next_due_at IS NOT NULL AND next_warn_at <= ");
                t(qb);
                qb.push(" AND next_due_at >= ");
                t(qb);
            }
            Light::Green => {
                qb.push(" AND ((next_due_at IS NOT NULL AND next_warn_at > ");
                t(qb);
                qb.push(") OR on_time = TRUE)");
            }
        }
    }
    if let Some((from, to)) = f.due_between {
        qb.push(" AND status <> 'suspended' AND next_due_at >= ")
            .push_bind(from)
            .push(" AND next_due_at <= ")
            .push_bind(to);
    }
}

/// Adds a scorecard delta to the fact table (one statement; rows that exist are incremented).
pub(super) async fn add_facts(conn: &mut Conn, delta: &BTreeMap<FactKey, Counts>) -> Result<()> {
    insert_facts(conn, delta).await
}

/// Adds the scorecard change of a command that moved a request from `old` to `new` where the
/// backend wants it ([`PACKED_COMMAND_FACTS`]): on PostgreSQL, packed rows of its own in
/// `scorecard_deltas` for [`settle`] to fold in, so commands never wait on each other's counters
/// (reads add these rows until they are folded); on SQLite, whose one writer runs commands one
/// after another anyway, straight into the facts.
pub(super) async fn add_command_facts(conn: &mut Conn, old: &Request, new: &Request) -> Result<()> {
    if PACKED_COMMAND_FACTS {
        let packed = scorecard::packed_delta(Some(old), new);
        if !packed.is_empty() {
            let mut qb =
                QueryBuilder::<Db>::new(format!("INSERT INTO scorecard_deltas {PACKED_COLUMNS} "));
            push_packed_values(&mut qb, &packed);
            qb.build().execute(&mut *conn).await?;
        }
        return Ok(());
    }
    let facts = scorecard::delta(Some(old), new);
    if facts.is_empty() {
        return Ok(());
    }
    add_facts(conn, &facts).await
}

/// The columns of `scorecard_deltas` that [`push_packed_values`] gives, in its order.
pub(super) const PACKED_COLUMNS: &str = "(day, level_key, unit_key, community_key, category_key, \
     respond_due, responded_on_time, rated, rated_resolved, satisfied, basically_satisfied, \
     closed, closed_on_time, closed_reworked)";

/// Pushes `VALUES (...), ...` with one row of [`PACKED_COLUMNS`] for each packed delta.
pub(super) fn push_packed_values(qb: &mut QueryBuilder<Db>, rows: &[scorecard::PackedDelta]) {
    qb.push_values(rows, |mut b, r| {
        b.push_bind(r.day);
        for k in r.keys {
            b.push_bind(k);
        }
        for v in r.counts.to_array() {
            b.push_bind(v);
        }
    });
}

/// The columns [`insert_facts`] writes, in its order.
const FACT_COLUMNS: &str = "(grain, dim, bucket, key, respond_due, responded_on_time, \
     rated, rated_resolved, satisfied, basically_satisfied, closed, closed_on_time, closed_reworked)";

/// Adds fact rows to `scorecard_facts` (rows that exist are incremented).
async fn insert_facts(conn: &mut Conn, delta: &BTreeMap<FactKey, Counts>) -> Result<()> {
    // 13 parameters a row; stay well below both backends' parameter limits.
    let rows: Vec<_> = delta.iter().collect();
    for chunk in rows.chunks(2000) {
        let mut qb =
            QueryBuilder::<Db>::new(format!("INSERT INTO scorecard_facts {FACT_COLUMNS} "));
        qb.push_values(chunk, |mut b, (k, c)| {
            b.push_bind(k.grain as i16)
                .push_bind(k.dim as i16)
                .push_bind(k.bucket)
                .push_bind(k.key);
            for v in c.to_array() {
                b.push_bind(v);
            }
        });
        qb.push(" ON CONFLICT (grain, dim, bucket, key) DO UPDATE SET ");
        let mut sep = qb.separated(", ");
        for c in COUNTER_COLUMNS {
            sep.push(format!("{c} = scorecard_facts.{c} + excluded.{c}"));
        }
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The scorecard's facts with the commands' packed deltas not yet folded in, expanded to the
/// facts they stand for (`scorecard_delta_facts`; the same rows, to be summed), each with
/// `columns`: reads see every command that committed, folded or not.
fn facts_with_pending(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM scorecard_facts UNION ALL SELECT {columns} FROM scorecard_delta_facts"
    )
}

/// How many waiting rows [`settle`] takes at a time.
const SETTLE_BATCH: i64 = 5000;

/// What commands left for later, now done: the scorecard deltas folded into the facts and the
/// audit records linked into the chain, oldest first, in the caller's transaction. The chain's head
/// is locked first, so settlers (and administrative changes) take turns; only rows written before
/// the call are taken, so a settle ends however busy the server is. Returns how many rows it took.
pub(super) async fn settle(conn: &mut Conn, keys: &Keyring) -> Result<u64> {
    let (seq, prev) = lock_head(conn).await?;
    let mut taken = 0u64;
    let cols = COUNTER_COLUMNS.join(", ");
    // Only PostgreSQL's commands leave packed counts ([`PACKED_COMMAND_FACTS`]); SQLite's add to
    // the facts, so a settle there (once per batch) skips the look.
    let last = if PACKED_COMMAND_FACTS {
        waiting_until(conn, "scorecard_deltas").await?
    } else {
        0
    };
    let returning = format!("day, level_key, unit_key, community_key, category_key AS k, {cols}");
    let mut more = last != 0;
    while more {
        let rows = take_waiting(conn, "scorecard_deltas", last, &returning).await?;
        more = rows.len() == SETTLE_BATCH as usize;
        taken += rows.len() as u64;
        let mut total: BTreeMap<FactKey, Counts> = BTreeMap::new();
        for row in &rows {
            let (category, counts) = counts_from_row(row)?;
            let packed = scorecard::PackedDelta {
                day: row.try_get("day")?,
                keys: [
                    row.try_get("level_key")?,
                    row.try_get("unit_key")?,
                    row.try_get("community_key")?,
                    category,
                ],
                counts,
            };
            for (key, counts) in packed.facts() {
                total.entry(key).or_default().add(&counts);
            }
        }
        // Rows of one request that cancel out (a unit changed, say) leave nothing to add.
        total.retain(|_, c| !c.is_zero());
        add_facts(conn, &total).await?;
    }
    let before = seq;
    let (seq, _) = link_waiting(conn, keys, seq, prev).await?;
    taken += (seq - before) as u64;
    Ok(taken)
}

/// The newest waiting row of `table` (0 when none): what a settle takes, and no more.
async fn waiting_until(conn: &mut Conn, table: &'static str) -> Result<i64> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS last FROM {table}"
    )))
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("last")?)
}

/// Takes (deletes and returns the columns `returning` of) the oldest batch of waiting rows of
/// `table` written up to row `last`.
async fn take_waiting(
    conn: &mut Conn,
    table: &'static str,
    last: i64,
    returning: &str,
) -> Result<Vec<DbRow>> {
    Ok(sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE id <= $1 ORDER BY id LIMIT {SETTLE_BATCH}) \
         RETURNING {returning}"
    )))
    .bind(last)
    .fetch_all(&mut *conn)
    .await?)
}

/// Links the audit records waiting in `audit_pending` (those written before the call) after the
/// head `(seq, prev)`, oldest first, and moves the head on; the caller holds the head's lock.
/// Returns the new head.
pub(super) async fn link_waiting(
    conn: &mut Conn,
    keys: &Keyring,
    mut seq: i64,
    mut prev: String,
) -> Result<(i64, String)> {
    let before = seq;
    let last = waiting_until(conn, "audit_pending").await?;
    let key = if last == 0 {
        None
    } else {
        link_key(conn, keys, seq).await?
    };
    let (secret, key_id) = (key.map(|k| k.secret.as_slice()), key.map_or(0, |k| k.id));
    let mut more = last != 0;
    while more {
        let returning = "id, at, kind, actor_id, request_id, event_seq, payload, tag";
        let rows = take_waiting(conn, "audit_pending", last, returning).await?;
        more = rows.len() == SETTLE_BATCH as usize;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let rec = audit_record_from(row)?;
            // A record only the keyed writer could have tagged is linked with the key; one with a
            // missing or wrong tag (written through the database alone) gets a plain link, which
            // `audit verify` reports.
            let genuine = match (secret, row.try_get::<Option<String>, _>("tag")?) {
                (Some(_), Some(tag)) => keys
                    .keys()
                    .iter()
                    .any(|k| audit::record_tag(&k.secret, &rec) == tag),
                _ => false,
            };
            records.push((row.try_get::<i64, _>("id")?, rec, genuine));
        }
        // RETURNING gives no order: link them as they were written.
        records.sort_by_key(|(id, ..)| *id);
        // 10 parameters a row.
        for chunk in records.chunks(1000) {
            let mut linked = Vec::with_capacity(chunk.len());
            for (_, rec, genuine) in chunk {
                seq += 1;
                let (key, id) = if *genuine {
                    (secret, key_id)
                } else {
                    if secret.is_some() {
                        tracing::error!(
                            seq,
                            "an audit record waiting to be linked has no valid tag: linked with a plain hash"
                        );
                    }
                    (None, 0)
                };
                let hash = audit::chain_hash(&prev, seq, rec, key);
                linked.push((
                    seq,
                    rec,
                    std::mem::replace(&mut prev, hash.clone()),
                    hash,
                    id,
                ));
            }
            chain_rows(linked).build().execute(&mut *conn).await?;
        }
    }
    if seq != before {
        sql!(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            seq,
            prev.clone()
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok((seq, prev))
}

/// The statement that adds linked records to the chain, each as `(seq, record, prev_hash, hash,
/// key_id)`: ten parameters a row, so at most a thousand rows to a statement.
pub(super) fn chain_rows<'r>(
    linked: impl IntoIterator<Item = (i64, &'r AuditRecord, String, String, i64)>,
) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(
        "INSERT INTO audit_chain (seq, at, kind, actor_id, request_id, event_seq, payload, \
         prev_hash, hash, key_id) ",
    );
    qb.push_values(linked, |mut b, (seq, rec, prev, hash, key_id)| {
        b.push_bind(seq)
            .push_bind(rec.at)
            .push_bind(rec.kind.as_str())
            .push_bind(rec.actor_id.map(|p| p.0))
            .push_bind(rec.request_id.map(|r| r.0))
            .push_bind(rec.event_seq)
            .push_bind(rec.payload.clone())
            .push_bind(prev)
            .push_bind(hash)
            .push_bind(key_id);
    });
    qb
}

/// Writes the notifications an event causes, resolving each target to people.
pub(super) async fn add_notices(conn: &mut Conn, event: &Event, after: &Request) -> Result<()> {
    for (kind, target) in notices(event, after) {
        let mut qb = QueryBuilder::<Db>::new("");
        push_notice(&mut qb, event, after, kind, &target);
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// What a notice of `event` says (the outbox row's payload).
fn notice_payload(event: &Event, after: &Request, kind: NoticeKind) -> String {
    serde_json::json!({
        "request_id": after.id.0,
        "seq": event.seq,
        "kind": kind.as_str(),
        "status": after.status.as_str(),
        "title_zh": kind.title(redgrid_core::Lang::Zh),
        "title_en": kind.title(redgrid_core::Lang::En),
    })
    .to_string()
}

/// Pushes the statement that writes one notice of `event` to the outbox, one row per recipient
/// of `target`. It ends inside its `WHERE` clause, so a caller may add conditions with `AND`.
pub(super) fn push_notice(
    qb: &mut QueryBuilder<Db>,
    event: &Event,
    after: &Request,
    kind: NoticeKind,
    target: &Target,
) {
    let payload = notice_payload(event, after, kind);
    qb.push(
        "INSERT INTO outbox (created_at, request_id, seq, kind, recipient_id, unit_id, payload, \
         next_attempt_at) SELECT DISTINCT ",
    );
    qb.push_bind(event.at)
        .push(", ")
        .push_bind(after.id.0)
        .push(", ")
        .push_bind(event.seq)
        .push(", ")
        .push_bind(kind.as_str())
        .push(", ");
    match target {
        Target::Person(p) => {
            qb.push_bind(p.0)
                .push(", ")
                .push_bind(None::<i64>)
                .push(", ")
                .push_bind(payload)
                .push(", ")
                .push_bind(event.at)
                .push(" FROM people WHERE id = ")
                .push_bind(p.0);
        }
        Target::Unit(u) => {
            qb.push("person_id, ")
                .push_bind(u.0)
                .push(", ")
                .push_bind(payload)
                .push(", ")
                .push_bind(event.at)
                .push(" FROM grants WHERE unit_id = ")
                .push_bind(u.0);
        }
        Target::AreaRoles(areas, roles) => {
            qb.push("person_id, ")
                .push_bind(None::<i64>)
                .push(", ")
                .push_bind(payload)
                .push(", ")
                .push_bind(event.at)
                .push(" FROM grants WHERE role IN (");
            let mut sep = qb.separated(", ");
            for r in roles {
                sep.push_bind(r.as_str());
            }
            qb.push(")");
            if !areas.is_empty() {
                // Granted on one of the areas, or on a unit located there.
                let list = |qb: &mut QueryBuilder<Db>| {
                    qb.push("(");
                    let mut sep = qb.separated(", ");
                    for a in areas {
                        sep.push_bind(a.0);
                    }
                    qb.push(")");
                };
                qb.push(" AND (area_id IN ");
                list(qb);
                qb.push(" OR unit_id IN (SELECT id FROM units WHERE area_id IN ");
                list(qb);
                qb.push("))");
            } else {
                qb.push(" AND area_id IS NOT NULL");
            }
        }
    }
}

/// A fact row (`grain`, `dim`, `bucket`, `k` and the counters) with its key.
pub(super) fn fact_from_row(row: &DbRow) -> Result<(FactKey, Counts)> {
    let (key, counts) = counts_from_row(row)?;
    let grain = match row.try_get::<i16, _>("grain")? {
        0 => Grain::Day,
        1 => Grain::Month,
        2 => Grain::Year,
        g => return Err(corrupt("grain", &g.to_string())),
    };
    let dim = match row.try_get::<i16, _>("dim")? {
        0 => Dim::Level,
        1 => Dim::Unit,
        2 => Dim::Community,
        3 => Dim::Category,
        d => return Err(corrupt("dimension", &d.to_string())),
    };
    Ok((
        FactKey {
            grain,
            dim,
            bucket: row.try_get("bucket")?,
            key,
        },
        counts,
    ))
}

pub(super) fn counts_from_row(row: &DbRow) -> Result<(i64, Counts)> {
    let mut a = [0i64; 9];
    for (i, c) in COUNTER_COLUMNS.iter().enumerate() {
        a[i] = row.try_get(*c)?;
    }
    Ok((row.try_get("k")?, Counts::from_array(a)))
}

pub(super) fn message_from_row(row: &DbRow) -> Result<OutboxMessage> {
    from_row!(row, OutboxMessage {
        id, created_at, request_id: id RequestId, seq, kind, recipient_id: opt PersonId,
        unit_id: opt UnitId, payload, attempts, next_attempt_at, delivered_at, last_error, read_at,
        delivered_to
    })
}

pub(super) const OUTBOX_COLUMNS: &str = "id, created_at, request_id, seq, kind, recipient_id, unit_id, payload, \
     attempts, next_attempt_at, delivered_at, last_error, read_at, delivered_to";

/// The states in which a request is being handled and its deadline runs.
pub(super) const SQL_HANDLING: &str = "status IN ('accepted', 'dispatched', 'claimed')";

/// The SQL expression a plain GROUP BY groups requests by.
pub(super) fn direct_key(group: DirectGroup) -> &'static str {
    match group {
        DirectGroup::Level => {
            "(CASE level WHEN 'grid' THEN 1 WHEN 'community' THEN 2 WHEN 'street' THEN 3 ELSE 4 END)"
        }
        DirectGroup::Unit => "COALESCE(unit_id, 0)",
        DirectGroup::Community => "community_id",
        DirectGroup::Street => "street_id",
        DirectGroup::Category => "COALESCE(category_id, 0)",
        DirectGroup::District => "0",
    }
}

/// One write: a submission or a command. Jobs own everything they need, so a backend may run them
/// on a writer task, several to a transaction.
pub(super) enum Job {
    Submit {
        decision: Box<SubmitDecision>,
        at: DateTime<Utc>,
        key: Option<IdempotencyKey>,
        /// The request's number when given before the job runs (PostgreSQL hands numbers out of
        /// a block it takes from the sequence at once); `None`: the job takes the next one.
        number: Option<RequestId>,
        /// The chain's keys when the job was made: its audit record is tagged with the current one.
        chain: Arc<Keyring>,
    },
    Execute {
        id: RequestId,
        at: DateTime<Utc>,
        decide: Decide,
        chain: Arc<Keyring>,
    },
}

/// The tag of a record left waiting (None without a key: the settler then links it plainly).
pub(super) fn pending_tag(chain: &Keyring, rec: &AuditRecord) -> Option<String> {
    chain.current().map(|k| audit::record_tag(&k.secret, rec))
}

/// What a job wrote.
pub(super) enum Done {
    Submitted(Box<Request>),
    Executed(Box<(Request, Event)>),
}

/// Why a job did not complete.
pub(super) enum JobError {
    /// Refused before anything was written: the transaction may go on with other jobs.
    Refused(StoreError),
    /// Failed after writing, or in the database: the transaction must be rolled back.
    Failed(StoreError),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Failed(e.into())
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Failed(e)
    }
}

impl JobError {
    pub(crate) fn into_inner(self) -> StoreError {
        match self {
            JobError::Refused(e) | JobError::Failed(e) => e,
        }
    }
}

/// What the jobs of one transaction share, so that each needs fewer statements of its own (SQLite's
/// group commit; every statement is a round trip to the connection's thread): the requests the jobs
/// move, read in one statement up front and then kept as each job leaves them; the next request id;
/// and the scorecard counts the commands add, summed here and written once before the commit. A
/// request read here is only a first guess: moving it still checks its version.
///
/// With `defer` set, the plain moves and filings are not written at once but kept in `deferred`
/// and written together by [`flush_writes`], a few to a call; a job that needs more than its
/// move (a contact, an idempotency key, files) writes what is waiting first.
#[derive(Default)]
pub(super) struct Shared {
    pub requests: std::collections::HashMap<i64, Request>,
    pub next_id: Option<i64>,
    pub facts: BTreeMap<FactKey, Counts>,
    pub defer: bool,
    pub deferred: Vec<Deferred>,
}

/// A move or a filing decided in a batch and not yet written.
pub(super) struct Deferred {
    request: Request,
    /// The version the move expects the stored request at; `None` for a filing.
    version: Option<i64>,
    event: Event,
    payload: String,
    audit: AuditRecord,
    /// For a move, which [`INDEXED`] columns it changes.
    changes: u16,
}

/// The texts of a batch's deferred writes, each with the number of its parameters (see
/// `SQL_DEFERRED`, which only SQLite has: PostgreSQL never defers).
pub(super) struct DeferredTexts {
    /// A filing, its event and the event's audit record left for settling (three rows).
    pub file: (&'static str, usize),
    /// A filing and its event, its record left to the batch (two rows).
    pub file_linked: (&'static str, usize),
    /// What follows the columns a move sets: the version it expects, its event and the event's
    /// audit record left for settling (three rows, with the request's).
    pub move_tail: (&'static str, usize),
    /// The same with the record left to the batch (two rows).
    pub move_linked_tail: (&'static str, usize),
    /// A notice to a unit's people.
    pub notice_unit: (&'static str, usize),
}

/// Whether a move from the first request to the second changed a column.
type Changed = fn(&Request, &Request) -> bool;

/// The columns of `requests` that its indexes cover (the migrations' `CREATE INDEX … ON
/// requests`), each with a test of whether a move changed it. A deferred move names these in its
/// `SET` only when they changed: SQLite rewrites the entries of every index whose column an
/// `UPDATE` names, whatever the value. A column missing here is always set, so the list only
/// decides how much work a move saves, never what it writes.
pub(super) const INDEXED: [(&str, Changed); 13] = [
    ("status", |a, b| a.status != b.status),
    ("requester_id", |a, b| a.requester_id != b.requester_id),
    ("street_id", |a, b| {
        a.location.street_id != b.location.street_id
    }),
    ("community_id", |a, b| {
        a.location.community_id != b.location.community_id
    }),
    ("grid_id", |a, b| a.location.grid_id != b.location.grid_id),
    ("category_id", |a, b| a.category_id != b.category_id),
    ("level", |a, b| a.level != b.level),
    ("unit_id", |a, b| a.unit_id != b.unit_id),
    ("respond_due_at", |a, b| {
        a.respond_due_at != b.respond_due_at
    }),
    ("verified_at", |a, b| a.verified_at != b.verified_at),
    ("created_at", |a, b| a.created_at != b.created_at),
    ("updated_at", |a, b| a.updated_at != b.updated_at),
    ("next_due_at", |a, b| a.next_due_at != b.next_due_at),
];

// One bit each in a `u16`.
const _: () = assert!(INDEXED.len() <= 16);

/// Which of the [`INDEXED`] columns a move from `old` to `new` changes, one bit each.
fn indexed_changes(old: &Request, new: &Request) -> u16 {
    INDEXED
        .iter()
        .enumerate()
        .filter(|(_, (_, changed))| changed(old, new))
        .fold(0, |bits, (i, _)| bits | 1 << i)
}

/// The start of a move's text: every column but `id`, except the [`INDEXED`] ones whose bit
/// `changes` lacks, each with its parameter (`$2`–`$53`, as [`bind_request`] binds them).
fn move_set(changes: u16) -> String {
    let (mut columns, mut params) = (Vec::new(), Vec::new());
    for (i, column) in request_columns_but_id!()
        .split(',')
        .map(str::trim)
        .enumerate()
    {
        let unchanged = INDEXED
            .iter()
            .position(|(c, _)| *c == column)
            .is_some_and(|bit| changes & (1 << bit) == 0);
        if !unchanged {
            columns.push(column);
            params.push(format!("${}", i + 2));
        }
    }
    format!(
        "UPDATE requests SET ({}) = ({})",
        columns.join(", "),
        params.join(", ")
    )
}

/// How many moves (or filings) one call of [`flush_writes`] may carry, largest first.
const WRITES_PER_CALL: [usize; 5] = [16, 8, 4, 2, 1];

/// `sql` (whose parameters are `$1`–`$params`) repeated `copies` times, each copy numbering its
/// parameters after the one before, so one call binds the copies' values in turn. Made once per
/// shape: a text made per batch would be prepared afresh each time, which costs more than the
/// calls it saves.
fn repeated(sql: &str, params: usize, copies: usize) -> String {
    let mut out = String::with_capacity((sql.len() + 2) * copies);
    for copy in 0..copies {
        if copy > 0 {
            out.push_str("; ");
        }
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c != '$' {
                continue;
            }
            let mut n = 0usize;
            let mut digits = false;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n * 10 + d as usize;
                digits = true;
                chars.next();
            }
            if digits {
                out.push_str(&(n + copy * params).to_string());
            }
        }
    }
    out
}

/// A text [`flush_writes`] sends, before it is repeated for a call.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum WriteText {
    /// Filings; `linked`: their audit records left to the batch.
    File { linked: bool },
    /// Moves setting every column but the [`INDEXED`] ones they leave as they were.
    Move { linked: bool, changes: u16 },
    /// Notices to units.
    NoticeUnit,
}

/// The most texts [`write_text`] keeps; past that (moves changing ever other columns) it makes
/// the rest afresh for each call.
const KEPT_TEXTS: usize = 512;

/// The text of one call of [`flush_writes`]: `which`, repeated as often as the size numbered
/// `size` in [`WRITES_PER_CALL`] says. Made once and kept: a text made for each batch would be
/// prepared afresh each time, and sending a kept one copies nothing.
fn write_text(texts: &DeferredTexts, which: WriteText, size: usize) -> Arc<str> {
    type Kept = std::sync::Mutex<std::collections::HashMap<(WriteText, usize), Arc<str>>>;
    static KEPT: std::sync::OnceLock<Kept> = std::sync::OnceLock::new();
    let mut kept = KEPT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(text) = kept.get(&(which, size)) {
        return text.clone();
    }
    let (sql, params) = match which {
        WriteText::File { linked: false } => (texts.file.0.to_string(), texts.file.1),
        WriteText::File { linked: true } => (texts.file_linked.0.to_string(), texts.file_linked.1),
        WriteText::Move { linked, changes } => {
            let (tail, params) = if linked {
                texts.move_linked_tail
            } else {
                texts.move_tail
            };
            (format!("{}{tail}", move_set(changes)), params)
        }
        WriteText::NoticeUnit => (texts.notice_unit.0.to_string(), texts.notice_unit.1),
    };
    let text: Arc<str> = repeated(&sql, params, WRITES_PER_CALL[size]).into();
    if kept.len() < KEPT_TEXTS {
        kept.insert((which, size), text.clone());
    }
    text
}

/// How many of `left` waiting writes the next call takes, and the index of that size in
/// [`WRITES_PER_CALL`].
fn call_size(left: usize) -> (usize, usize) {
    WRITES_PER_CALL
        .iter()
        .enumerate()
        .find(|(_, k)| **k <= left)
        .map_or((WRITES_PER_CALL.len() - 1, 1), |(i, k)| (i, *k))
}

/// Writes the batch's deferred filings (first, in order) and moves (in order), up to 16 to a
/// call, then the moves' notices. Each move still matches only its expected version: a call that
/// wrote fewer rows than its copies promise fails, and the batch rolls back.
///
/// With `linked`, the writes leave their audit records there, in the order written, for the batch
/// to link itself (SQLite's `link_batch`); without, they leave them in `audit_pending` for settling,
/// tagged with `chain`'s key.
pub(super) async fn flush_writes(
    conn: &mut Conn,
    shared: &mut Shared,
    mut linked: Option<&mut Vec<AuditRecord>>,
    chain: &Keyring,
) -> std::result::Result<(), JobError> {
    if shared.deferred.is_empty() {
        return Ok(());
    }
    let Some(texts) = &SQL_DEFERRED else {
        return Err(JobError::Failed(StoreError::Corrupt(
            "this backend has no texts for deferred writes".into(),
        )));
    };
    let writes = std::mem::take(&mut shared.deferred);
    let (filings, moves): (Vec<&Deferred>, Vec<&Deferred>) =
        writes.iter().partition(|w| w.version.is_none());
    // Moves go in rounds: each request's first move of the batch in the first, its second in the
    // second, and so on, so each move finds the version it expects. Within a round, moves that
    // change the same indexed columns share a text, a few to a call.
    let mut round_of = std::collections::HashMap::new();
    let mut ordered: Vec<(usize, u16, usize, &Deferred)> = moves
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let round = round_of.entry(w.request.id.0).or_insert(0usize);
            *round += 1;
            (*round, w.changes, i, *w)
        })
        .collect();
    ordered.sort_by_key(|(round, changes, i, _)| (*round, *changes, *i));
    let linking = linked.is_some();
    // Runs of writes that share a text: the filings, then each round's moves by columns set.
    let mut runs: Vec<((usize, WriteText), Vec<&Deferred>)> = Vec::new();
    if !filings.is_empty() {
        runs.push(((0, WriteText::File { linked: linking }), filings));
    }
    for (round, changes, _, w) in ordered {
        let key = (
            round,
            WriteText::Move {
                linked: linking,
                changes,
            },
        );
        match runs.last_mut() {
            Some((k, run)) if *k == key => run.push(w),
            _ => runs.push((key, vec![w])),
        }
    }
    // Rows a copy writes: the request, its event, and its audit record unless the batch links it.
    let rows = if linking { 2 } else { 3 };
    for ((_, text), run) in &runs {
        let mut rest = &run[..];
        while !rest.is_empty() {
            let (size, k) = call_size(rest.len());
            let mut q = sqlx::query(AssertSqlSafe(write_text(texts, *text, size)));
            for w in &rest[..k] {
                q = bind_request(q, &w.request)?;
                if let Some(v) = w.version {
                    q = q.bind(v);
                }
                q = bind_event(q, &w.event, &w.payload);
                match linked.as_deref_mut() {
                    Some(records) => records.push(w.audit.clone()),
                    None => {
                        q = q
                            .bind(w.audit.payload.clone())
                            .bind(pending_tag(chain, &w.audit))
                    }
                }
            }
            let done = q.execute(&mut *conn).await?;
            if done.rows_affected() != rows * k as u64 {
                return Err(JobError::Failed(
                    CoreError::Conflict(Conflict::ConcurrentUpdate).into(),
                ));
            }
            rest = &rest[k..];
        }
    }
    // Notices to units (a dispatch's, most often) a few to a call; the others one by one.
    let mut to_units = Vec::new();
    for w in &moves {
        for (kind, target) in notices(&w.event, &w.request) {
            match target {
                Target::Unit(u) => to_units.push((w, kind, u)),
                other => {
                    let mut qb = QueryBuilder::<Db>::new("");
                    push_notice(&mut qb, &w.event, &w.request, kind, &other);
                    qb.build().execute(&mut *conn).await?;
                }
            }
        }
    }
    let mut rest = &to_units[..];
    while !rest.is_empty() {
        let (size, k) = call_size(rest.len());
        let mut q = sqlx::query(AssertSqlSafe(write_text(
            texts,
            WriteText::NoticeUnit,
            size,
        )));
        for (w, kind, unit) in &rest[..k] {
            q = q
                .bind(w.event.at)
                .bind(w.request.id.0)
                .bind(w.event.seq)
                .bind(kind.as_str())
                .bind(unit.0)
                .bind(notice_payload(&w.event, &w.request, *kind));
        }
        q.execute(&mut *conn).await?;
        rest = &rest[k..];
    }
    Ok(())
}

/// Runs one job inside an open transaction. `fail` injects a failure after the event write;
/// `shared` is what the other jobs of a batch left (None: a job alone, or PostgreSQL).
pub(super) async fn run_job(
    conn: &mut Conn,
    job: &Job,
    fail: bool,
    shared: Option<&mut Shared>,
) -> std::result::Result<Done, JobError> {
    match job {
        Job::Submit {
            decision,
            at,
            key,
            number,
            chain,
        } => run_submit(
            conn,
            decision,
            *at,
            key.as_ref(),
            *number,
            chain,
            fail,
            shared,
        )
        .await
        .map(|r| Done::Submitted(Box::new(r))),
        Job::Execute {
            id,
            at,
            decide,
            chain,
        } => run_execute(conn, *id, *at, decide, chain, fail, shared)
            .await
            .map(|done| Done::Executed(Box::new(done))),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run_submit(
    conn: &mut Conn,
    decision: &SubmitDecision,
    at: DateTime<Utc>,
    key: Option<&IdempotencyKey>,
    number: Option<RequestId>,
    chain: &Keyring,
    fail: bool,
    mut shared: Option<&mut Shared>,
) -> std::result::Result<Request, JobError> {
    let defer = !fail
        && key.is_none()
        && crate::contact_of(decision).is_none()
        && decision.body.attachment_ids().is_empty()
        && shared.as_ref().is_some_and(|s| s.defer);
    if !defer && let Some(s) = shared.as_deref_mut() {
        flush_writes(conn, s, None, chain).await?;
    }
    let mut body = decision.body.clone();
    if let Some(contact) = crate::contact_of(decision) {
        let found = sql!(
            "SELECT id FROM people WHERE phone = $1",
            contact.phone.clone()
        )
        .fetch_optional(&mut *conn)
        .await?;
        let id = match found {
            Some(r) => PersonId(r.try_get("id")?),
            None => insert_person(conn, &contact.name, Some(&contact.phone), at).await?,
        };
        if let EventBody::Submitted { requester_id, .. } = &mut body {
            *requester_id = Some(id);
        }
    }
    let id = match number.or(shared.as_ref().and_then(|s| s.next_id.map(RequestId))) {
        Some(id) => id,
        None => {
            let row = sqlx::query(SQL_NEXT_REQUEST_ID)
                .fetch_one(&mut *conn)
                .await?;
            RequestId(row.try_get("id")?)
        }
    };
    let event = Event {
        request_id: id,
        seq: 1,
        at,
        actor: decision.actor,
        body,
    };
    let request = apply(None, &event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // The request, its event and the event's audit record, in one call (SQL_FILE_REQUEST).
    let payload = event_payload(&event)?;
    let audit = AuditRecord::event(&event, &payload);
    if defer && let Some(shared) = shared {
        shared.next_id = Some(id.0 + 1);
        shared.requests.insert(id.0, request.clone());
        shared.deferred.push(Deferred {
            request: request.clone(),
            version: None,
            event,
            payload,
            audit,
            changes: 0,
        });
        return Ok(request);
    }
    let tag = pending_tag(chain, &audit);
    bind_event(
        bind_request(sqlx::query(SQL_FILE_REQUEST), &request)?,
        &event,
        &payload,
    )
    .bind(audit.payload)
    .bind(tag)
    .execute(&mut *conn)
    .await?;
    if fail {
        return Err(JobError::Failed(StoreError::Injected(
            FailPoint::AfterEventWrite,
        )));
    }
    if let Some(k) = key {
        sql!(
            "INSERT INTO idempotency_keys (actor_key, key, body_hash, request_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            k.actor_key.clone(),
            k.key.clone(),
            k.body_hash.clone(),
            id.0,
            at
        )
        .execute(&mut *conn)
        .await?;
    }
    mark_attached(conn, &event).await?;
    if let Some(shared) = shared {
        shared.next_id = Some(id.0 + 1);
        shared.requests.insert(id.0, request.clone());
    }
    Ok(request)
}

/// How many files and bytes `person` uploaded since `since`.
async fn uploads_since(
    conn: &mut Conn,
    person: PersonId,
    since: DateTime<Utc>,
) -> Result<(i64, i64)> {
    let row = sql!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes \
         FROM attachments WHERE uploaded_by = $1 AND created_at >= $2",
        person.0,
        since
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("n")?, row.try_get("bytes")?))
}

/// Refuses an upload of `size` bytes by `person` at `at` that would pass their hourly count or
/// their day's bytes.
async fn within_quota(
    conn: &mut Conn,
    person: PersonId,
    at: DateTime<Utc>,
    size: i64,
    quota: UploadQuota,
) -> Result<()> {
    use redgrid_core::error::Limit;
    if quota.per_hour > 0 {
        let (n, _) = uploads_since(conn, person, at - chrono::Duration::hours(1)).await?;
        if n >= quota.per_hour {
            return Err(CoreError::TooMany {
                limit: Limit::Uploads,
                retry_after: 3600,
            }
            .into());
        }
    }
    if quota.bytes_per_day > 0 {
        let (_, bytes) = uploads_since(conn, person, at - chrono::Duration::days(1)).await?;
        if bytes + size > quota.bytes_per_day {
            return Err(CoreError::TooMany {
                limit: Limit::UploadQuota,
                retry_after: 24 * 3600,
            }
            .into());
        }
    }
    Ok(())
}

/// Records that the event's files are used, so they are never cleaned up as unused uploads. A
/// file gone meanwhile (deleted as unused between the service's check and this write) refuses
/// the command, so no request ever names a missing file.
async fn mark_attached(conn: &mut Conn, event: &Event) -> std::result::Result<(), JobError> {
    for id in event.body.attachment_ids() {
        sql!(
            "UPDATE attachments SET attached_at = $2 WHERE id = $1 AND attached_at IS NULL",
            id.to_string(),
            event.at
        )
        .execute(&mut *conn)
        .await?;
        let present = sql!(
            "SELECT 1 AS one FROM attachments WHERE id = $1",
            id.to_string()
        )
        .fetch_optional(&mut *conn)
        .await?;
        // Refused after the command wrote: the transaction rolls back (a batch then runs its
        // jobs one by one, so only this one is refused).
        if present.is_none() {
            return Err(JobError::Failed(
                CoreError::validation("attachments", "unknown").into(),
            ));
        }
    }
    Ok(())
}

pub(super) async fn run_execute(
    conn: &mut Conn,
    id: RequestId,
    at: DateTime<Utc>,
    decide: &Decide,
    chain: &Keyring,
    fail: bool,
    mut shared: Option<&mut Shared>,
) -> std::result::Result<(Request, Event), JobError> {
    let known = shared.as_ref().and_then(|s| s.requests.get(&id.0).cloned());
    let current = match known {
        Some(request) => request,
        None => {
            let row = sql!(SQL_LOCK_REQUEST, id.0)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(JobError::Refused(
                    CoreError::NotFound {
                        entity: Entity::Request,
                        id: id.0,
                    }
                    .into(),
                ))?;
            request_from_row(&row)?
        }
    };
    let decision = decide(&current).map_err(|e| JobError::Refused(e.into()))?;
    let event = decision.event_for(&current, at);
    let next =
        apply(Some(current.clone()), &event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // The request moves, its event is written and its audit record left for settling, in one
    // call (SQL_MOVE_REQUEST): the event only when the request was still at the version read above.
    let payload = event_payload(&event)?;
    let audit = AuditRecord::event(&event, &payload);
    let plain = !fail && event.body.attachment_ids().is_empty();
    if let Some(shared) = shared.as_deref_mut()
        && shared.defer
    {
        if plain {
            for (k, c) in scorecard::delta(Some(&current), &next) {
                shared.facts.entry(k).or_default().add(&c);
            }
            shared.requests.insert(id.0, next.clone());
            shared.deferred.push(Deferred {
                request: next.clone(),
                version: Some(current.version),
                event: event.clone(),
                payload,
                audit,
                changes: indexed_changes(&current, &next),
            });
            return Ok((next, event));
        }
        flush_writes(conn, shared, None, chain).await?;
    }
    let moved = bind_request(sqlx::query(SQL_MOVE_REQUEST), &next)?.bind(current.version);
    let tag = pending_tag(chain, &audit);
    let done = bind_event(moved, &event, &payload)
        .bind(audit.payload)
        .bind(tag)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != MOVED_ROWS {
        return Err(JobError::Failed(
            CoreError::Conflict(Conflict::ConcurrentUpdate).into(),
        ));
    }
    if fail {
        return Err(JobError::Failed(StoreError::Injected(
            FailPoint::AfterEventWrite,
        )));
    }
    match shared.as_deref_mut() {
        Some(shared) => {
            for (k, c) in scorecard::delta(Some(&current), &next) {
                shared.facts.entry(k).or_default().add(&c);
            }
        }
        None => add_command_facts(conn, &current, &next).await?,
    }
    add_notices(conn, &event, &next).await?;
    mark_attached(conn, &event).await?;
    if let Some(shared) = shared {
        shared.requests.insert(id.0, next.clone());
    }
    Ok((next, event))
}

/// Runs one job in a transaction of its own.
pub(super) async fn run_alone(
    pool: &sqlx::Pool<Db>,
    begin: &'static str,
    job: &Job,
    fail: bool,
) -> Result<Done> {
    let mut tx = pool.begin_with(begin).await?;
    match run_job(&mut tx, job, fail, None).await {
        Ok(done) => {
            tx.commit().await?;
            Ok(done)
        }
        Err(e) => Err(e.into_inner()),
    }
}

pub(super) fn item_details(item: &CategoryItem) -> serde_json::Value {
    serde_json::json!({
        "item_id": item.id.0, "class_id": item.class_id.0, "code": item.code, "name_zh": item.name_zh,
        "default_tier": item.default_tier.as_str(), "default_level": item.default_level.as_str(),
        "active": item.active, "respond_limit": item.respond_limit.map(|l| l.as_text()),
        "resolve_limit": item.resolve_limit.map(|l| l.as_text()),
    })
}

pub(super) fn grants_details(p: &Person) -> serde_json::Value {
    let grants: Vec<serde_json::Value> = p
        .grants
        .iter()
        .map(|g| match g.scope {
            Scope::Area(a) => serde_json::json!({"role": g.role.as_str(), "area_id": a.0}),
            Scope::Unit(u) => serde_json::json!({"role": g.role.as_str(), "unit_id": u.0}),
        })
        .collect();
    serde_json::json!({ "person_id": p.id.0, "grants": grants })
}

pub(super) const ACCOUNT_COLUMNS: &str = "a.person_id, a.username, a.password_hash, a.disabled, a.must_change, \
     a.created_at, a.password_changed_at";
pub(super) const TOKEN_COLUMNS: &str = "id, token_hash, prefix, name, person_id, roles, area_ids, created_by, created_at, \
     expires_at, revoked_at";

pub(super) fn account_from_row(row: &DbRow) -> Result<Account> {
    from_row!(row, Account {
        person_id: id PersonId, username, password_hash, disabled, must_change, created_at,
        password_changed_at
    })
}

pub(super) fn session_from_row(row: &DbRow) -> Result<SessionRow> {
    from_row!(row, SessionRow {
        token_hash, person_id: id PersonId, csrf_token, created_at, expires_at
    })
}

pub(super) fn token_from_row(row: &DbRow) -> Result<ApiToken> {
    let roles: String = row.try_get("roles")?;
    let roles: Vec<String> = serde_json::from_str(&roles)
        .map_err(|e| StoreError::Corrupt(format!("token roles: {e}")))?;
    let areas: String = row.try_get("area_ids")?;
    let areas: Vec<i64> = serde_json::from_str(&areas)
        .map_err(|e| StoreError::Corrupt(format!("token areas: {e}")))?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        token_hash: row.try_get("token_hash")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        person_id: PersonId(row.try_get("person_id")?),
        roles: roles
            .iter()
            .map(|r| parse_enum("role", r, Role::parse))
            .collect::<Result<_>>()?,
        area_ids: areas.into_iter().map(AreaId).collect(),
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(PersonId),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Puts the events written before the audit chain existed into it, oldest first (migration 3).
pub(super) async fn chain_existing_events(conn: &mut Conn) -> Result<()> {
    let mut after = (0i64, 0i64);
    loop {
        let rows = event_rows_after(conn, after, 5000).await?;
        let Some(last) = rows.last() else { break };
        after = (last.request_id, last.seq);
        for e in &rows {
            let rec = AuditRecord {
                at: e.at,
                kind: AuditKind::Event,
                actor_id: e.actor_id.map(PersonId),
                request_id: Some(RequestId(e.request_id)),
                event_seq: Some(e.seq),
                payload: audit::event_digest(e),
            };
            // Plain links, in the table as migration 3 left it (no `key_id` column yet).
            let (seq, prev) = lock_head(conn).await?;
            let seq = seq + 1;
            let hash = audit::chain_hash(&prev, seq, &rec, None);
            sql!(
                "INSERT INTO audit_chain (seq, at, kind, actor_id, request_id, event_seq, payload, \
                 prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                seq,
                rec.at,
                rec.kind.as_str(),
                rec.actor_id.map(|p| p.0),
                rec.request_id.map(|r| r.0),
                rec.event_seq,
                rec.payload,
                prev,
                hash.clone()
            )
            .execute(&mut *conn)
            .await?;
            sql!(
                "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                seq,
                hash
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

pub(super) async fn event_rows_after(
    conn: &mut Conn,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<EventRow>> {
    let rows = sql!(
        "SELECT request_id, seq, kind, actor_id, actor_role, at, payload FROM request_events \
         WHERE request_id > $1 OR (request_id = $1 AND seq > $2) ORDER BY request_id, seq LIMIT $3",
        after.0,
        after.1,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            from_row!(
                r,
                EventRow {
                    request_id,
                    seq,
                    kind,
                    actor_id,
                    actor_role,
                    at,
                    payload
                }
            )
        })
        .collect()
}

impl This {
    /// Request ids from a query whose `$1` is an instant and `$2` the limit (the jobs' candidates).
    async fn ids_before(
        &self,
        sql: String,
        t: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<RequestId>> {
        let rows = sql!(AssertSqlSafe(sql), t, limit)
            .fetch_all(self.read_pool())
            .await?;
        rows.iter()
            .map(|r| Ok(RequestId(r.try_get("id")?)))
            .collect()
    }
    /// An administrator's write that returns one row: runs `query` in a write transaction (a
    /// duplicate key is a conflict), reads the row with `read`, appends `action` with the details
    /// `audit` gives to the audit chain, and commits.
    async fn admin_write<T: Send>(
        &self,
        query: sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
        read: fn(&DbRow) -> Result<T>,
        by: Change,
        action: &str,
        audit: impl FnOnce(&T) -> serde_json::Value + Send,
    ) -> Result<T> {
        let mut tx = self.begin_write().await?;
        let row = query
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_to_conflict)?;
        let value = read(&row)?;
        commit_admin(tx, &self.keyring(), by, action, audit(&value)).await?;
        Ok(value)
    }
}

/// The references [`Schema::dangling_references`] checks: table, column, the table it names.
/// These are the foreign keys migration 16 drops on PostgreSQL.
const HOT_REFERENCES: &[(&str, &str, &str)] = &[
    ("requests", "requester_id", "people"),
    ("requests", "submitted_by", "people"),
    ("requests", "area_id", "areas"),
    ("requests", "street_id", "areas"),
    ("requests", "community_id", "areas"),
    ("requests", "grid_id", "areas"),
    ("requests", "category_id", "category_items"),
    ("requests", "unit_id", "units"),
    ("requests", "claimed_by", "people"),
    ("request_events", "request_id", "requests"),
    ("request_events", "actor_id", "people"),
    ("outbox", "request_id", "requests"),
    ("outbox", "recipient_id", "people"),
    ("outbox", "unit_id", "units"),
];

#[async_trait]
impl Schema for This {
    fn backend(&self) -> Backend {
        BACKEND
    }

    async fn dangling_references(&self) -> Result<Vec<(String, i64)>> {
        let sql: Vec<String> = HOT_REFERENCES
            .iter()
            .map(|(table, column, names)| {
                format!(
                    "SELECT '{table}.{column}' AS reference, COUNT(*) AS n FROM {table} t \
                     WHERE t.{column} IS NOT NULL AND NOT EXISTS \
                     (SELECT 1 FROM {names} p WHERE p.id = t.{column})"
                )
            })
            .collect();
        let rows = sqlx::query(AssertSqlSafe(sql.join(" UNION ALL ")))
            .fetch_all(self.read_pool())
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            let n: i64 = row.try_get("n")?;
            if n > 0 {
                out.push((row.try_get("reference")?, n));
            }
        }
        Ok(out)
    }

    fn wal_bytes(&self) -> Option<u64> {
        self.dialect_wal_bytes()
    }

    fn wal_in_use_bytes(&self) -> Option<u64> {
        self.dialect_wal_in_use()
    }

    fn batches(&self) -> Option<(u64, u64)> {
        self.dialect_batches()
    }

    async fn flush(&self) -> Result<()> {
        self.dialect_flush().await
    }

    async fn snapshot_to(&self, path: &std::path::Path) -> Result<()> {
        self.dialect_snapshot_to(path).await
    }

    async fn migrate(&self) -> Result<Vec<i64>> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS redgrid_migrations (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(self.write_pool())
        .await?;
        let mut tx = self.begin_write().await?;
        if let Some(lock) = SQL_MIGRATION_LOCK {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let rows = sqlx::query("SELECT version, checksum FROM redgrid_migrations")
            .fetch_all(&mut *tx)
            .await?;
        let mut applied = std::collections::HashMap::new();
        for r in rows {
            applied.insert(
                r.try_get::<i64, _>("version")?,
                r.try_get::<String, _>("checksum")?,
            );
        }
        let mut now_applied = Vec::new();
        for m in crate::MIGRATIONS {
            let sum = m.checksum(BACKEND);
            match applied.get(&m.version) {
                Some(s) if *s == sum => continue,
                Some(_) => {
                    return Err(StoreError::Corrupt(format!(
                        "migration {} ({}) changed after it was applied",
                        m.version, m.name
                    )));
                }
                None => {}
            }
            sqlx::raw_sql(AssertSqlSafe(m.sql(BACKEND)))
                .execute(&mut *tx)
                .await?;
            if m.version == 3 {
                chain_existing_events(&mut tx).await?;
            }
            sql!(
                "INSERT INTO redgrid_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                m.version,
                m.name,
                sum,
                Utc::now().to_rfc3339()
            )
            .execute(&mut *tx)
            .await?;
            now_applied.push(m.version);
        }
        tx.commit().await?;
        Ok(now_applied)
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT version FROM redgrid_migrations ORDER BY version")
            .fetch_all(self.read_pool())
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>("version")?))
            .collect()
    }
}

#[async_trait]
impl DirectoryStore for This {
    async fn load_directory(&self) -> Result<Directory> {
        let mut c = self.read_pool().acquire().await?;
        let areas = sqlx::query("SELECT id, parent_id, kind, code, name FROM areas")
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(area_from_row)
            .collect::<Result<Vec<_>>>()?;
        let units = sqlx::query(
            "SELECT id, name, kind, area_id, level, parent_id, active, code FROM units",
        )
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(unit_from_row)
        .collect::<Result<Vec<_>>>()?;
        let classes = sqlx::query("SELECT id, code, name_zh, name_en, sort FROM category_classes")
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(class_from_row)
            .collect::<Result<Vec<_>>>()?;
        let items = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM category_items"
        )))
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(item_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(Directory::new(areas, units, classes, items))
    }

    async fn create_area(&self, new: NewArea, by: Change) -> Result<Area> {
        let query = sql!(
            "INSERT INTO areas (parent_id, kind, code, name) VALUES ($1, $2, $3, $4) \
             RETURNING id, parent_id, kind, code, name",
            new.parent_id.map(|p| p.0),
            new.kind.as_str(),
            new.code,
            new.name
        );
        self.admin_write(query, area_from_row, by, "create_area", |area| {
            serde_json::json!({
                "area_id": area.id.0, "parent_id": area.parent_id.map(|p| p.0), "kind": area.kind.as_str(),
                "code": area.code, "name": area.name,
            })
        })
        .await
    }

    async fn create_unit(&self, new: NewUnit, by: Change) -> Result<Unit> {
        let query = sql!(
            "INSERT INTO units (name, kind, area_id, level, parent_id, active, code) VALUES ($1, $2, $3, $4, $5, TRUE, $6) \
             RETURNING id, name, kind, area_id, level, parent_id, active, code",
            new.name,
            new.kind.as_str(),
            new.area_id.0,
            new.level.as_str(),
            new.parent_id.map(|p| p.0),
            new.code
        );
        self.admin_write(query, unit_from_row, by, "create_unit", |unit| {
            serde_json::json!({
                "unit_id": unit.id.0, "name": unit.name, "kind": unit.kind.as_str(), "area_id": unit.area_id.0,
                "level": unit.level.as_str(), "parent_id": unit.parent_id.map(|p| p.0),
            })
        })
        .await
    }

    async fn create_class(&self, new: NewClass, by: Change) -> Result<CategoryClass> {
        let query = sql!(
            "INSERT INTO category_classes (code, name_zh, name_en, sort) VALUES ($1, $2, $3, $4) \
             RETURNING id, code, name_zh, name_en, sort",
            new.code,
            new.name_zh,
            new.name_en,
            new.sort
        );
        self.admin_write(query, class_from_row, by, "create_class", |class| {
            serde_json::json!({
                "class_id": class.id.0, "code": class.code, "name_zh": class.name_zh, "sort": class.sort,
            })
        })
        .await
    }

    async fn create_item(&self, f: ItemFields, by: Change) -> Result<CategoryItem> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO category_items (class_id, code, name_zh, name_en, default_tier, default_level, active, sort, \
             respond_limit, resolve_limit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {ITEM_COLUMNS}"
        )));
        self.admin_write(
            bind_item(query, f),
            item_from_row,
            by,
            "create_item",
            item_details,
        )
        .await
    }

    async fn update_item(&self, id: CategoryId, f: ItemFields, by: Change) -> Result<CategoryItem> {
        let mut tx = self.begin_write().await?;
        let query = sql!(
            AssertSqlSafe(format!(
                "UPDATE category_items SET class_id = $2, code = $3, name_zh = $4, name_en = $5, \
             default_tier = $6, default_level = $7, active = $8, sort = $9, respond_limit = $10, \
             resolve_limit = $11 WHERE id = $1 RETURNING {ITEM_COLUMNS}"
            )),
            id.0
        );
        let row = bind_item(query, f)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unique_to_conflict)?;
        let item = match row {
            Some(r) => item_from_row(&r)?,
            None => {
                return Err(CoreError::NotFound {
                    entity: Entity::Category,
                    id: id.0,
                }
                .into());
            }
        };
        commit_admin(tx, &self.keyring(), by, "update_item", item_details(&item)).await?;
        Ok(item)
    }

    async fn create_person(&self, new: NewPerson, by: Change) -> Result<Person> {
        let mut tx = self.begin_write().await?;
        let person = add_person(&mut tx, &self.keyring(), &new, by).await?;
        tx.commit().await?;
        Ok(person)
    }

    async fn create_people(&self, new: Vec<NewPerson>, by: Change) -> Result<Vec<Person>> {
        let mut tx = self.begin_write().await?;
        let keys = self.keyring();
        let mut out = Vec::with_capacity(new.len());
        for p in &new {
            out.push(add_person(&mut tx, &keys, p, by).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn set_grant(
        &self,
        person: PersonId,
        grant: Grant,
        held: bool,
        by: Change,
    ) -> Result<Option<(Person, bool)>> {
        let mut tx = self.begin_write().await?;
        // Locks the person's row (PostgreSQL; SQLite has one writer) so that two grants of the same
        // role cannot both find it missing.
        let found = sql!("UPDATE people SET name = name WHERE id = $1", person.0)
            .execute(&mut *tx)
            .await?;
        if found.rows_affected() == 0 {
            return Ok(None);
        }
        let changed = change_grant(&mut tx, &self.keyring(), person, grant, held, by).await?;
        let after = load_person(&mut tx, person)
            .await?
            .ok_or_else(|| StoreError::Corrupt("person vanished".into()))?;
        tx.commit().await?;
        Ok(Some((after, changed)))
    }

    async fn person_by_phone(&self, phone: &str) -> Result<Option<Person>> {
        let mut c = self.read_pool().acquire().await?;
        let row = sql!("SELECT id FROM people WHERE phone = $1", phone.to_string())
            .fetch_optional(&mut *c)
            .await?;
        match row {
            Some(r) => load_person(&mut c, PersonId(r.try_get("id")?)).await,
            None => Ok(None),
        }
    }

    async fn person(&self, id: PersonId) -> Result<Option<Person>> {
        let mut c = self.read_pool().acquire().await?;
        load_person(&mut c, id).await
    }

    async fn count_people(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM people")
            .fetch_one(self.read_pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn people_with_role(&self, role: Role, limit: i64) -> Result<Vec<Person>> {
        let mut c = self.read_pool().acquire().await?;
        let rows = sql!(
            "SELECT DISTINCT person_id FROM grants WHERE role = $1 ORDER BY person_id LIMIT $2",
            role.as_str(),
            limit
        )
        .fetch_all(&mut *c)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(p) = load_person(&mut c, PersonId(r.try_get("person_id")?)).await? {
                out.push(p);
            }
        }
        Ok(out)
    }
}

/// A row of `power_alert_links`, selected as
/// `alert_link_columns!()`.
fn alert_link_from_row(r: &DbRow) -> Result<AlertLink> {
    from_row!(r, AlertLink { request_id: id RequestId, district, detector, meter, day, since, severity, reasons, ended })
}

/// The columns of a selected [`AlertLink`], as a literal for `concat!`.
macro_rules! alert_link_columns {
    () => {
        "SELECT request_id, district, detector, meter, day, since, severity, reasons, ended"
    };
}

#[async_trait]
impl RequestStore for This {
    async fn link_power_alert(&self, link: &AlertLink, at: DateTime<Utc>) -> Result<bool> {
        let done = sql!(
            "INSERT INTO power_alert_links \
             (request_id, district, detector, meter, day, since, severity, reasons, ended, linked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (request_id) DO NOTHING",
            link.request_id.0,
            &link.district,
            &link.detector,
            &link.meter,
            link.day,
            link.since,
            link.severity,
            &link.reasons,
            link.ended,
            at
        )
        .execute(self.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn power_alert_link(
        &self,
        district: &str,
        detector: &str,
        meter: &str,
        since: chrono::NaiveDate,
    ) -> Result<Option<AlertLink>> {
        one_row(
            sql!(
                concat!(
                    alert_link_columns!(),
                    " FROM power_alert_links \
                 WHERE district = $1 AND detector = $2 AND meter = $3 AND since = $4 \
                 ORDER BY request_id DESC LIMIT 1"
                ),
                district,
                detector,
                meter,
                since
            ),
            self.read_pool(),
            alert_link_from_row,
        )
        .await
    }

    async fn update_power_alert_link(&self, link: &AlertLink) -> Result<()> {
        sql!(
            "UPDATE power_alert_links SET day = $1, severity = $2, reasons = $3, ended = $4 \
             WHERE request_id = $5",
            link.day,
            link.severity,
            &link.reasons,
            link.ended,
            link.request_id.0
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn claim_power_alert_end(
        &self,
        request_id: RequestId,
        ended: chrono::NaiveDate,
    ) -> Result<bool> {
        let done = sql!(
            "UPDATE power_alert_links SET ended = $1 \
             WHERE request_id = $2 AND (ended IS NULL OR ended < $1)",
            ended,
            request_id.0
        )
        .execute(self.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn power_alert_links(&self, district: &str) -> Result<Vec<AlertLink>> {
        let rows = sql!(
            concat!(
                alert_link_columns!(),
                " FROM power_alert_links WHERE district = $1 ORDER BY request_id"
            ),
            district
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter().map(alert_link_from_row).collect()
    }

    async fn submit(
        &self,
        decision: SubmitDecision,
        at: DateTime<Utc>,
        key: Option<IdempotencyKey>,
    ) -> Result<Request> {
        match self
            .write(Job::Submit {
                decision: Box::new(decision),
                at,
                key,
                number: None,
                chain: self.keyring(),
            })
            .await?
        {
            Done::Submitted(r) => Ok(*r),
            Done::Executed(_) => Err(StoreError::Corrupt("writer answered the wrong job".into())),
        }
    }

    async fn idempotency(&self, actor_key: &str, key: &str) -> Result<Option<IdempotencyRecord>> {
        let row = sql!(
            "SELECT body_hash, request_id FROM idempotency_keys WHERE actor_key = $1 AND key = $2",
            actor_key.to_string(),
            key.to_string()
        )
        .fetch_optional(self.write_pool())
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(IdempotencyRecord {
                body_hash: r.try_get("body_hash")?,
                request_id: RequestId(r.try_get("request_id")?),
            })),
        }
    }

    async fn execute(
        &self,
        id: RequestId,
        at: DateTime<Utc>,
        decide: Decide,
    ) -> Result<(Request, Event)> {
        match self
            .write(Job::Execute {
                id,
                at,
                decide,
                chain: self.keyring(),
            })
            .await?
        {
            Done::Executed(done) => Ok(*done),
            Done::Submitted(_) => Err(StoreError::Corrupt("writer answered the wrong job".into())),
        }
    }

    async fn request(&self, id: RequestId) -> Result<Option<Request>> {
        one_row(
            sql!(SQL_GET_REQUEST, id.0),
            self.read_pool(),
            request_from_row,
        )
        .await
    }

    async fn events(&self, id: RequestId) -> Result<Vec<Event>> {
        collect_rows(sql!(SQL_EVENTS, id.0), self.read_pool(), event_from_row).await
    }

    async fn list(&self, filter: &ListFilter, limit: i64) -> Result<Vec<Request>> {
        let mut qb = QueryBuilder::<Db>::new(concat!(
            "SELECT ",
            request_columns!(),
            " FROM requests WHERE 1 = 1"
        ));
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(self.read_pool()).await?;
        rows.iter().map(request_from_row).collect()
    }

    async fn count(&self, filter: &ListFilter) -> Result<i64> {
        let mut qb = QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM requests WHERE 1 = 1");
        push_filter(&mut qb, filter);
        let row = qb.build().fetch_one(self.read_pool()).await?;
        Ok(row.try_get("n")?)
    }

    async fn existing_requests(&self, ids: &[RequestId]) -> Result<HashSet<RequestId>> {
        let ids = ids.iter().map(|id| id.0).collect();
        let found = existing_ids(self.read_pool(), "requests", ids).await?;
        Ok(found.into_iter().map(RequestId).collect())
    }

    async fn request_ids(&self, after: Option<RequestId>, limit: i64) -> Result<Vec<RequestId>> {
        let rows = sql!(
            "SELECT id FROM requests WHERE id > $1 ORDER BY id LIMIT $2",
            after.map(|a| a.0).unwrap_or(0),
            limit
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter()
            .map(|r| Ok(RequestId(r.try_get("id")?)))
            .collect()
    }

    async fn overdue_unsupervised(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<RequestId>> {
        let sql = format!(
            "SELECT id FROM requests WHERE next_due_at < $1 AND {SQL_HANDLING} \
             AND (overdue_supervised_for IS NULL OR overdue_supervised_for <> next_due_at) \
             ORDER BY next_due_at, id LIMIT $2"
        );
        self.ids_before(sql, now, limit).await
    }

    async fn rating_window_ended(
        &self,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<RequestId>> {
        let sql = "SELECT id FROM requests WHERE status = 'verified' AND verified_at <= $1 \
                   ORDER BY verified_at, id LIMIT $2";
        self.ids_before(sql.to_string(), cutoff, limit).await
    }

    async fn red_before(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<RequestId>> {
        let sql = format!(
            "SELECT id FROM requests WHERE next_due_at < $1 AND {SQL_HANDLING} \
             AND level <> 'district' ORDER BY next_due_at, id LIMIT $2"
        );
        self.ids_before(sql, before, limit).await
    }
}

#[async_trait]
impl ScorecardStore for This {
    async fn facts(&self, dim: Dim, ranges: &[(Grain, i32, i32)]) -> Result<Vec<(i64, Counts)>> {
        if ranges.is_empty() {
            return Ok(vec![]);
        }
        let sums: String = COUNTER_COLUMNS
            .iter()
            .map(|c| format!(", CAST(SUM({c}) AS BIGINT) AS {c}"))
            .collect();
        let cols = COUNTER_COLUMNS.join(", ");
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT key AS k{sums} FROM ({}) AS f WHERE dim = ",
            facts_with_pending(&format!("grain, dim, bucket, key, {cols}"))
        ));
        qb.push_bind(dim as i16).push(" AND (");
        for (i, (grain, from, to)) in ranges.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push("(grain = ")
                .push_bind(*grain as i16)
                .push(" AND bucket BETWEEN ")
                .push_bind(*from)
                .push(" AND ")
                .push_bind(*to)
                .push(")");
        }
        qb.push(") GROUP BY key");
        let rows = qb.build().fetch_all(self.read_pool()).await?;
        rows.iter().map(counts_from_row).collect()
    }

    async fn respond_slice(
        &self,
        dim: Dim,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, Counts)>> {
        let key = match dim {
            Dim::Level => direct_key(DirectGroup::Level),
            Dim::Unit => direct_key(DirectGroup::Unit),
            Dim::Community => direct_key(DirectGroup::Community),
            Dim::Category => direct_key(DirectGroup::Category),
        };
        let zeros: String = COUNTER_COLUMNS[2..]
            .iter()
            .map(|c| format!(", CAST(0 AS BIGINT) AS {c}"))
            .collect();
        collect_rows(
            sql!(
                AssertSqlSafe(format!(
                    "SELECT CAST({key} AS BIGINT) AS k, CAST(COUNT(*) AS BIGINT) AS respond_due, \
             CAST(SUM(CASE WHEN responded_at IS NOT NULL AND responded_at <= respond_due_at \
             THEN 1 ELSE 0 END) AS BIGINT) AS responded_on_time{zeros} \
             FROM requests WHERE respond_due_at >= $1 AND respond_due_at < $2 GROUP BY k"
                )),
                from,
                to
            ),
            self.read_pool(),
            counts_from_row,
        )
        .await
    }

    async fn scorecard_direct(
        &self,
        group: DirectGroup,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        respond_to: DateTime<Utc>,
    ) -> Result<Vec<(i64, Counts)>> {
        let key = direct_key(group);
        let resp = "respond_due_at >= $1 AND respond_due_at < $3";
        let rated = "rated_at >= $1 AND rated_at < $2";
        let closed = "status = 'closed' AND closed_at >= $1 AND closed_at < $2";
        let sum = |cond: String, name: &str| {
            format!("CAST(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS BIGINT) AS {name}")
        };
        let cols = [
            sum(resp.into(), "respond_due"),
            sum(
                format!("{resp} AND responded_at IS NOT NULL AND responded_at <= respond_due_at"),
                "responded_on_time",
            ),
            sum(rated.into(), "rated"),
            sum(
                format!("{rated} AND rating_resolved = TRUE"),
                "rated_resolved",
            ),
            sum(
                format!("{rated} AND rating_satisfaction = 'satisfied'"),
                "satisfied",
            ),
            sum(
                format!("{rated} AND rating_satisfaction = 'basically_satisfied'"),
                "basically_satisfied",
            ),
            sum(closed.into(), "closed"),
            sum(
                format!("{closed} AND (on_time IS NULL OR on_time = TRUE)"),
                "closed_on_time",
            ),
            sum(format!("{closed} AND rework_count > 0"), "closed_reworked"),
        ]
        .join(", ");
        collect_rows(
            sql!(
                AssertSqlSafe(format!(
                    "SELECT CAST({key} AS BIGINT) AS k, {cols} FROM requests \
             WHERE ({resp}) OR ({rated}) OR (closed_at >= $1 AND closed_at < $2) GROUP BY k"
                )),
                from,
                to,
                respond_to
            ),
            self.read_pool(),
            counts_from_row,
        )
        .await
    }

    async fn all_facts(&self) -> Result<BTreeMap<FactKey, Counts>> {
        let cols = COUNTER_COLUMNS.join(", ");
        let sums: String = COUNTER_COLUMNS
            .iter()
            .map(|c| format!(", CAST(SUM({c}) AS BIGINT) AS {c}"))
            .collect();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT grain, dim, bucket, key AS k{sums} FROM ({}) AS f GROUP BY grain, dim, bucket, key",
            facts_with_pending(&format!("grain, dim, bucket, key, {cols}"))
        )))
        .fetch_all(self.read_pool())
        .await?;
        let mut out = BTreeMap::new();
        for row in &rows {
            let (key, counts) = fact_from_row(row)?;
            if !counts.is_zero() {
                out.insert(key, counts);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl OutboxStore for This {
    async fn due_messages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxMessage>> {
        collect_rows(sql!(
            AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        )),
            now,
            limit
        ), self.write_pool(), message_from_row).await
    }

    async fn lease_message(
        &self,
        id: i64,
        seen_next: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sql!(
            "UPDATE outbox SET next_attempt_at = $3 \
             WHERE id = $1 AND next_attempt_at = $2 AND delivered_at IS NULL",
            id,
            seen_next,
            lease_until
        )
        .execute(self.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn message_delivered(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        sql!(
            "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1",
            id,
            at
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn message_failed(
        &self,
        id: i64,
        attempts: i32,
        next: DateTime<Utc>,
        error: &str,
        delivered_to: &str,
    ) -> Result<()> {
        sql!(
            "UPDATE outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, delivered_to = $5 \
             WHERE id = $1",
            id,
            attempts,
            next,
            error.chars().take(500).collect::<String>(),
            delivered_to.to_string()
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn messages_for(&self, person: PersonId, limit: i64) -> Result<Vec<OutboxMessage>> {
        collect_rows(sql!(AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE recipient_id = $1 ORDER BY id DESC LIMIT $2"
        )), person.0, limit), self.read_pool(), message_from_row).await
    }

    async fn unread_count(&self, person: PersonId) -> Result<i64> {
        let row = sql!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM outbox WHERE recipient_id = $1 AND read_at IS NULL",
            person.0
        )
        .fetch_one(self.read_pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn mark_read(&self, person: PersonId, id: Option<i64>, at: DateTime<Utc>) -> Result<u64> {
        let done = sql!(
            "UPDATE outbox SET read_at = $3 WHERE recipient_id = $1 AND read_at IS NULL \
             AND ($2 IS NULL OR id = $2)",
            person.0,
            id,
            at
        )
        .execute(self.write_pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn sms_choices(&self, person: PersonId) -> Result<Vec<String>> {
        collect_rows(
            sql!(
                "SELECT kind FROM sms_choices WHERE person_id = $1 ORDER BY kind",
                person.0
            ),
            self.read_pool(),
            |r| Ok(r.try_get("kind")?),
        )
        .await
    }

    async fn set_sms_choices(&self, person: PersonId, kinds: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sql!("DELETE FROM sms_choices WHERE person_id = $1", person.0)
            .execute(&mut *tx)
            .await?;
        for k in kinds {
            sql!(
                "INSERT INTO sms_choices (person_id, kind) VALUES ($1, $2)",
                person.0,
                k.clone()
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_counts(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT CAST(SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS done, \
             CAST(SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS waiting FROM outbox",
        )
        .fetch_one(self.read_pool())
        .await?;
        Ok((
            row.try_get::<Option<i64>, _>("done")?.unwrap_or(0),
            row.try_get::<Option<i64>, _>("waiting")?.unwrap_or(0),
        ))
    }
}

#[async_trait]
impl AttachmentStore for This {
    async fn put_attachment(
        &self,
        content_type: &str,
        data: &[u8],
        by: Option<PersonId>,
        quota: UploadQuota,
    ) -> Result<AttachmentMeta> {
        let id = crate::sha256_hex(data);
        let at = crate::now();
        let mut tx = self.begin_write().await?;
        if let Some(person) = by {
            // Uploads by the same person take turns from here to the commit.
            sql!(SQL_LOCK_PERSON, person.0)
                .fetch_optional(&mut *tx)
                .await?;
            within_quota(&mut tx, person, at, data.len() as i64, quota).await?;
        }
        sql!(
            "INSERT INTO attachments (id, content_type, size, data, created_at, uploaded_by, attached_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE \
             SET created_at = excluded.created_at, attached_at = COALESCE(attachments.attached_at, excluded.attached_at) \
             WHERE attachments.attached_at IS NULL",
            id.clone(),
            content_type.to_string(),
            data.len() as i64,
            data.to_vec(),
            at,
            by.map(|p| p.0),
            by.is_none().then_some(at)
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AttachmentMeta {
            id,
            content_type: content_type.to_string(),
            size: data.len() as i64,
        })
    }

    async fn delete_unused_attachments(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sql!(
            "DELETE FROM attachments WHERE attached_at IS NULL AND created_at < $1",
            before
        )
        .execute(self.write_pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn attachment(&self, id: &str) -> Result<Option<(AttachmentMeta, Vec<u8>)>> {
        let row = sql!(
            "SELECT id, content_type, size, data FROM attachments WHERE id = $1",
            id.to_string()
        )
        .fetch_optional(self.read_pool())
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((
                AttachmentMeta {
                    id: r.try_get("id")?,
                    content_type: r.try_get("content_type")?,
                    size: r.try_get("size")?,
                },
                r.try_get("data")?,
            ))),
        }
    }

    async fn existing_attachments(&self, ids: &[String]) -> Result<HashSet<String>> {
        existing_ids(self.read_pool(), "attachments", ids.to_vec()).await
    }

    async fn requests_with_attachment(&self, id: &str, limit: i64) -> Result<Vec<RequestId>> {
        // Hex digits only, so the pattern holds no LIKE wildcard.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let rows = sql!(
            "SELECT DISTINCT request_id FROM request_events \
             WHERE kind IN ('submitted', 'resolved', 'alert_updated') AND payload LIKE $1 \
             ORDER BY request_id LIMIT $2",
            format!("%\"id\":\"{id}\"%"),
            limit
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter()
            .map(|r| Ok(RequestId(r.try_get::<i64, _>("request_id")?)))
            .collect()
    }
}

/// A request's events with what its requester wrote and where they live replaced by [`ERASED`]:
/// the submission's description and exact place, and every rating's comment (their own words, or
/// taken down on a follow-up call); and in every other text of the request (notes, results,
/// reasons, public summaries) their name and phone, wherever staff wrote them. Returns the events
/// that changed.
fn erase_events(events: &mut [Event], name: &str, phone: Option<&str>) -> Result<Vec<usize>> {
    fn scrub(v: &mut serde_json::Value, words: &[&str]) {
        match v {
            serde_json::Value::String(t) => {
                for w in words {
                    if t.contains(w) {
                        *t = t.replace(w, ERASED);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, words)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| scrub(i, words)),
            _ => {}
        }
    }
    let words: Vec<&str> = [Some(name), phone]
        .into_iter()
        .flatten()
        .filter(|w| w.chars().count() >= 2 && *w != ERASED)
        .collect();
    let mut changed = Vec::new();
    for (i, e) in events.iter_mut().enumerate() {
        let before = e.body.clone();
        match &mut e.body {
            EventBody::Submitted {
                description,
                location,
                ..
            } => {
                *description = ERASED.to_string();
                location.address = location.address.as_ref().map(|_| ERASED.to_string());
                location.lat = None;
                location.lon = None;
            }
            EventBody::Rated { comment, .. } if comment.is_some() => {
                *comment = Some(ERASED.to_string());
            }
            _ => {}
        }
        let mut json = serde_json::to_value(&e.body)
            .map_err(|err| StoreError::Corrupt(format!("event: {err}")))?;
        scrub(&mut json, &words);
        e.body = serde_json::from_value(json)
            .map_err(|err| StoreError::Corrupt(format!("event: {err}")))?;
        if e.body != before {
            changed.push(i);
        }
    }
    Ok(changed)
}

#[async_trait]
impl AccountStore for This {
    async fn retention_due(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<PersonId>> {
        collect_rows(
            sql!(
            "SELECT p.id FROM people p WHERE p.name <> $1 \
             AND EXISTS (SELECT 1 FROM requests r WHERE r.requester_id = p.id) \
             AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.requester_id = p.id \
                 AND (r.status NOT IN ('closed', 'rejected') OR r.updated_at >= $2)) \
             AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.person_id = p.id AND g.role <> 'resident') \
             AND NOT EXISTS (SELECT 1 FROM sessions x WHERE x.person_id = p.id AND x.last_seen_at >= $2) \
             AND NOT EXISTS (SELECT 1 FROM members m WHERE m.person_id = p.id) \
             AND NOT EXISTS (SELECT 1 FROM volunteers v WHERE v.person_id = p.id) \
             ORDER BY p.id LIMIT $3",
            ERASED.to_string(),
            before,
            limit
        ),
            self.read_pool(),
            |r| Ok(PersonId(r.try_get("id")?)),
        )
        .await
    }

    async fn erase_person(&self, id: PersonId, reason: &str, by: Change) -> Result<Erasure> {
        let keys = self.keyring();
        let mut tx = self.begin_write().await?;
        // The chain's head first, as every writer of the chain takes it.
        lock_head(&mut tx).await?;
        let person = load_person(&mut tx, id).await?.ok_or(CoreError::NotFound {
            entity: Entity::Person,
            id: id.0,
        })?;
        if person.name == ERASED && person.phone.is_none() {
            return Ok(Erasure {
                already: true,
                ..Default::default()
            });
        }
        let requests: Vec<i64> = sql!(
            "SELECT id FROM requests WHERE requester_id = $1 ORDER BY id",
            id.0
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<std::result::Result<_, _>>()?;
        let mut rewritten: Vec<(i64, i64, String)> = Vec::new();
        for rid in &requests {
            // The request is locked first, so no command changes it while it is rewritten.
            sql!(SQL_LOCK_REQUEST, *rid)
                .fetch_optional(&mut *tx)
                .await?;
            let rows = sql!(SQL_EVENTS, *rid).fetch_all(&mut *tx).await?;
            let mut events = rows
                .iter()
                .map(event_from_row)
                .collect::<Result<Vec<_>>>()?;
            let changed = erase_events(&mut events, &person.name, person.phone.as_deref())?;
            for i in &changed {
                let e = &events[*i];
                let payload = event_payload(e)?;
                sql!(
                    "UPDATE request_events SET payload = $3 WHERE request_id = $1 AND seq = $2",
                    e.request_id.0,
                    e.seq,
                    payload.clone()
                )
                .execute(&mut *tx)
                .await?;
                rewritten.push((
                    e.request_id.0,
                    e.seq,
                    audit::event_digest(&EventRow::of(e, &payload)),
                ));
            }
            if changed.is_empty() {
                continue;
            }
            // The projection, rebuilt from the rewritten events, so `check` agrees.
            let projection = redgrid_core::request::replay(&events)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .ok_or_else(|| StoreError::Corrupt(format!("request {rid} has no events")))?;
            bind_request(
                sqlx::query(concat!(
                    "UPDATE requests SET (",
                    request_columns!(),
                    ") = (",
                    request_params!(),
                    ") WHERE id = $1"
                )),
                &projection,
            )?
            .execute(&mut *tx)
            .await?;
        }
        // The person: name and phone gone; no login, session, token, role or SMS choice left.
        for table in [
            "sessions",
            "api_tokens",
            "accounts",
            "sms_choices",
            "grants",
        ] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE person_id = $1"
            )))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(phone) = &person.phone {
            for table in ["phone_codes", "phone_locks"] {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE phone = $1"
                )))
                .bind(phone.clone())
                .execute(&mut *tx)
                .await?;
            }
        }
        sql!(
            "UPDATE people SET name = $2, phone = NULL WHERE id = $1",
            id.0,
            ERASED.to_string()
        )
        .execute(&mut *tx)
        .await?;
        let details = serde_json::json!({
            "person_id": id.0,
            "reason": reason,
            "requests": requests,
            "events": rewritten,
        });
        chain_append(
            &mut tx,
            &keys,
            &AuditRecord::admin(by.at, by.by, "erase_person", details),
        )
        .await?;
        tx.commit().await?;
        self.dialect_forget_recent();
        Ok(Erasure {
            already: false,
            requests: requests.len(),
            events: rewritten.len(),
        })
    }

    async fn set_account(&self, a: &Account, action: &str, by: Change) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sql!(
            "INSERT INTO accounts (person_id, username, password_hash, disabled, must_change, created_at, \
             password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (person_id) DO UPDATE SET \
             username = excluded.username, password_hash = excluded.password_hash, disabled = excluded.disabled, \
             must_change = excluded.must_change, password_changed_at = excluded.password_changed_at",
            a.person_id.0,
            a.username.clone(),
            a.password_hash.clone(),
            a.disabled,
            a.must_change,
            a.created_at,
            a.password_changed_at
        )
        .execute(&mut *tx)
        .await
        .map_err(unique_to_conflict)?;
        sql!("DELETE FROM sessions WHERE person_id = $1", a.person_id.0)
            .execute(&mut *tx)
            .await?;
        // Never the password or its hash.
        let details = serde_json::json!({
            "person_id": a.person_id.0, "username": a.username, "disabled": a.disabled,
            "must_change": a.must_change,
        });
        commit_admin(tx, &self.keyring(), by, action, details).await?;
        Ok(())
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<Account>> {
        one_row(sql!(
            AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN people p ON p.id = a.person_id \
             WHERE a.username = $1 OR p.phone = $1 ORDER BY CASE WHEN a.username = $1 THEN 0 ELSE 1 END LIMIT 1"
        )),
            login
        ), self.read_pool(), account_from_row).await
    }

    async fn account(&self, person: PersonId) -> Result<Option<Account>> {
        one_row(
            sql!(
                AssertSqlSafe(format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.person_id = $1"
                )),
                person.0
            ),
            self.read_pool(),
            account_from_row,
        )
        .await
    }

    async fn create_session(&self, s: &SessionRow) -> Result<()> {
        sql!(
            "INSERT INTO sessions (token_hash, person_id, csrf_token, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $4)",
            s.token_hash.clone(),
            s.person_id.0,
            s.csrf_token.clone(),
            s.created_at,
            s.expires_at
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        one_row(sql!(
            "SELECT token_hash, person_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = $1",
            token_hash
        ), self.read_pool(), session_from_row).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sql!("DELETE FROM sessions WHERE token_hash = $1", token_hash)
            .execute(self.write_pool())
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let r = sql!("DELETE FROM sessions WHERE expires_at < $1", now)
            .execute(self.write_pool())
            .await?;
        Ok(r.rows_affected())
    }

    async fn record_phone_code(&self, c: &PhoneCode) -> Result<()> {
        sql!(
            "INSERT INTO phone_codes (phone, address, code_hash, sent_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            c.phone.clone(),
            c.address.clone(),
            c.code_hash.clone(),
            c.sent_at,
            c.expires_at
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn codes_sent_since(
        &self,
        phone: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<(Vec<DateTime<Utc>>, Vec<DateTime<Utc>>)> {
        let mut out = (Vec::new(), Vec::new());
        for (column, value, list) in [
            ("phone", phone, &mut out.0),
            ("address", address, &mut out.1),
        ] {
            let rows = sql!(
                AssertSqlSafe(format!(
                    "SELECT sent_at FROM phone_codes WHERE {column} = $1 AND sent_at >= $2 \
                 ORDER BY sent_at LIMIT 1000"
                )),
                value.to_string(),
                since
            )
            .fetch_all(self.write_pool())
            .await?;
            for r in rows {
                list.push(r.try_get("sent_at")?);
            }
        }
        Ok(out)
    }

    async fn latest_phone_code(&self, phone: &str) -> Result<Option<PhoneCode>> {
        let row = sql!(
            "SELECT id, phone, address, code_hash, sent_at, expires_at, used_at FROM phone_codes \
             WHERE phone = $1 ORDER BY sent_at DESC, id DESC LIMIT 1",
            phone.to_string()
        )
        .fetch_optional(self.write_pool())
        .await?;
        row.map(|r| {
            from_row!(
                r,
                PhoneCode {
                    id,
                    phone,
                    address,
                    code_hash,
                    sent_at,
                    expires_at,
                    used_at
                }
            )
        })
        .transpose()
    }

    async fn use_phone_code(&self, id: i64, at: DateTime<Utc>) -> Result<bool> {
        let done = sql!(
            "UPDATE phone_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
            id,
            at
        )
        .execute(self.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_phone_failure(&self, phone: &str) -> Result<i64> {
        let row = sql!(
            "INSERT INTO phone_locks (phone, failures) VALUES ($1, 1) \
             ON CONFLICT (phone) DO UPDATE SET failures = phone_locks.failures + 1 \
             RETURNING failures",
            phone.to_string()
        )
        .fetch_one(self.write_pool())
        .await?;
        Ok(row.try_get("failures")?)
    }

    async fn phone_lock(&self, phone: &str) -> Result<(i64, Option<DateTime<Utc>>)> {
        let row = sql!(
            "SELECT failures, locked_until FROM phone_locks WHERE phone = $1",
            phone.to_string()
        )
        .fetch_optional(self.write_pool())
        .await?;
        match row {
            Some(r) => Ok((r.try_get("failures")?, r.try_get("locked_until")?)),
            None => Ok((0, None)),
        }
    }

    async fn set_phone_lock(
        &self,
        phone: &str,
        failures: i64,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sql!(
            "INSERT INTO phone_locks (phone, failures, locked_until) VALUES ($1, $2, $3) \
             ON CONFLICT (phone) DO UPDATE SET failures = excluded.failures, \
             locked_until = excluded.locked_until",
            phone.to_string(),
            failures,
            locked_until
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn home_area(&self, person: PersonId) -> Result<Option<AreaId>> {
        let row = sql!("SELECT home_area_id FROM people WHERE id = $1", person.0)
            .fetch_optional(self.read_pool())
            .await?;
        match row {
            Some(r) => Ok(r.try_get::<Option<i64>, _>("home_area_id")?.map(AreaId)),
            None => Ok(None),
        }
    }

    async fn set_home_area(&self, person: PersonId, area: AreaId) -> Result<()> {
        sql!(
            "UPDATE people SET home_area_id = $2 WHERE id = $1",
            person.0,
            area.0
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn create_api_token(&self, t: &ApiToken, by: Change) -> Result<ApiToken> {
        let roles: Vec<&str> = t.roles.iter().map(|r| r.as_str()).collect();
        let areas: Vec<i64> = t.area_ids.iter().map(|a| a.0).collect();
        let roles =
            serde_json::to_string(&roles).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let areas =
            serde_json::to_string(&areas).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let query = sql!(
            AssertSqlSafe(format!(
                "INSERT INTO api_tokens (token_hash, prefix, name, person_id, roles, area_ids, created_by, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {TOKEN_COLUMNS}"
            )),
            t.token_hash.clone(),
            t.prefix.clone(),
            t.name.clone(),
            t.person_id.0,
            roles.clone(),
            areas.clone(),
            t.created_by.map(|p| p.0),
            t.created_at,
            t.expires_at
        );
        self.admin_write(query, token_from_row, by, "create_api_token", |stored| {
            serde_json::json!({
            "token_id": stored.id, "prefix": stored.prefix, "name": stored.name,
            "person_id": stored.person_id.0, "roles": roles, "area_ids": areas,
            "expires_at": stored.expires_at,
            })
        })
        .await
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        one_row(
            sql!(
                AssertSqlSafe(format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
                )),
                token_hash
            ),
            self.read_pool(),
            token_from_row,
        )
        .await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"
        )))
        .fetch_all(self.read_pool())
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_api_token(&self, id: i64, by: Change) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sql!(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            id,
            by.at
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let details = serde_json::json!({ "token_id": id });
        commit_admin(tx, &self.keyring(), by, "revoke_api_token", details).await?;
        Ok(true)
    }
}

#[async_trait]
impl AuditStore for This {
    async fn append_audit(&self, record: &AuditRecord) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let seq = chain_append(&mut tx, &self.keyring(), record).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn settle(&self) -> Result<u64> {
        // Nothing waiting (the usual answer when idle): a read, not a write transaction.
        let waiting: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM audit_pending LIMIT 1) AS a) \
             + (SELECT COUNT(*) FROM (SELECT 1 FROM scorecard_deltas LIMIT 1) AS s) AS n",
        )
        .fetch_one(self.read_pool())
        .await?
        .try_get("n")?;
        if waiting == 0 {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let n = settle(&mut tx, &self.keyring()).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn waiting(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM audit_pending) AS a, \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM scorecard_deltas) AS s",
        )
        .fetch_one(self.read_pool())
        .await?;
        Ok((row.try_get("a")?, row.try_get("s")?))
    }

    async fn audit_rows(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
        self.settle().await?;
        collect_rows(sql!(
            "SELECT seq, at, kind, actor_id, request_id, event_seq, payload, prev_hash, hash, key_id \
             FROM audit_chain WHERE seq > $1 ORDER BY seq LIMIT $2",
            after,
            limit
        ), self.read_pool(), audit_row_from).await
    }

    fn set_keyring(&self, keys: Keyring) {
        let keys = Arc::new(keys);
        match self.chain_keys.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    async fn last_keyed(&self) -> Result<Option<AuditRow>> {
        // Linked records only: settling here could link waiting ones before the key is set.
        one_row(sqlx::query(
            "SELECT seq, at, kind, actor_id, request_id, event_seq, payload, prev_hash, hash, key_id \
             FROM audit_chain WHERE key_id > 0 ORDER BY seq DESC LIMIT 1",
        ), self.read_pool(), audit_row_from).await
    }

    async fn audit_head(&self) -> Result<(i64, String)> {
        self.settle().await?;
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.read_pool())
            .await?;
        Ok((row.try_get("seq")?, row.try_get("hash")?))
    }

    async fn chain_event_digests(
        &self,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Vec<(i64, i64, String)>> {
        self.settle().await?;
        let rows = sql!(
            "SELECT request_id, event_seq, payload FROM audit_chain WHERE kind = 'event' \
             AND (request_id > $1 OR (request_id = $1 AND event_seq > $2)) \
             ORDER BY request_id, event_seq LIMIT $3",
            after.0,
            after.1,
            limit
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("request_id")?,
                    r.try_get("event_seq")?,
                    r.try_get("payload")?,
                ))
            })
            .collect()
    }

    async fn event_rows(&self, after: (i64, i64), limit: i64) -> Result<Vec<EventRow>> {
        let mut conn = self.read_pool().acquire().await?;
        event_rows_after(&mut conn, after, limit).await
    }

    async fn log_access(&self, e: &AccessEntry) -> Result<()> {
        sql!(
            "INSERT INTO access_log (at, viewer_id, subject_id, request_id, via, reason) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            e.at,
            e.viewer_id.0,
            e.subject_id.map(|p| p.0),
            e.request_id.0,
            e.via.clone(),
            e.reason.clone()
        )
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    async fn access_log(&self, q: &AccessQuery) -> Result<Vec<AccessEntry>> {
        let rows = sql!(
            "SELECT id, at, viewer_id, subject_id, request_id, via, reason FROM access_log \
             WHERE ($1 IS NULL OR subject_id = $1) AND ($2 IS NULL OR request_id = $2) \
             AND ($3 IS NULL OR viewer_id = $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5",
            q.subject.map(|p| p.0),
            q.request.map(|r| r.0),
            q.viewer.map(|p| p.0),
            q.before,
            q.limit
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter()
            .map(|r| {
                from_row!(r, AccessEntry {
                    id, at, viewer_id: id PersonId, subject_id: opt PersonId,
                    request_id: id RequestId, via, reason
                })
            })
            .collect()
    }
}

#[cfg(feature = "testing")]
#[async_trait]
impl TestHooks for This {
    async fn rebuild_facts(&self) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        // Settlers take the chain's head first: holding it, no settle can fold deltas into the
        // facts while they are rebuilt (on PostgreSQL one could otherwise add to the new rows).
        lock_head(&mut tx).await?;
        for table in ["scorecard_facts", "scorecard_deltas"] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await?;
        }
        let mut after = 0i64;
        let mut total: BTreeMap<FactKey, Counts> = BTreeMap::new();
        loop {
            let rows = sql!(
                concat!(
                    "SELECT ",
                    request_columns!(),
                    " FROM requests WHERE id > $1 ORDER BY id LIMIT 2000"
                ),
                after
            )
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id")?;
            for row in &rows {
                for (k, c) in scorecard::contribution(&request_from_row(row)?) {
                    total.entry(k).or_default().add(&c);
                }
            }
        }
        add_facts(&mut tx, &total).await?;
        tx.commit().await?;
        Ok(total.len() as u64)
    }

    async fn load_projections(&self, requests: &[Request]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut facts: BTreeMap<FactKey, Counts> = BTreeMap::new();
        // 50 parameters a row: 400 rows stay below both backends' parameter limits.
        for chunk in requests.chunks(400) {
            let mut qb = QueryBuilder::<Db>::new(concat!(
                "INSERT INTO requests (",
                request_columns!(),
                ") "
            ));
            let mut failed = None;
            qb.push_values(chunk, |mut row, r| {
                if let Err(e) = bind_request(&mut row, r) {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            qb.build().execute(&mut *tx).await?;
            for r in chunk {
                for (k, c) in scorecard::contribution(r) {
                    facts.entry(k).or_default().add(&c);
                }
            }
        }
        add_facts(&mut tx, &facts).await?;
        tx.commit().await?;
        Ok(())
    }

    fn inject_failure(&self, point: Option<FailPoint>) {
        let v = match point {
            None => 0,
            Some(FailPoint::AfterEventWrite) => 1,
        };
        self.fail_point().store(v, Ordering::SeqCst);
    }

    async fn execute_raw(&self, sql: &str) -> Result<u64> {
        let r = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(self.write_pool())
            .await?;
        Ok(r.rows_affected())
    }
}

#[cfg(test)]
mod repeated_tests {
    #[test]
    fn each_copy_numbers_its_parameters_after_the_one_before() {
        let sql = "UPDATE t SET a = $1, b = $2 WHERE id = $1; SELECT $2, '$x', 1$";
        assert_eq!(super::repeated(sql, 2, 1), sql);
        assert_eq!(
            super::repeated(sql, 2, 3),
            "UPDATE t SET a = $1, b = $2 WHERE id = $1; SELECT $2, '$x', 1$; \
             UPDATE t SET a = $3, b = $4 WHERE id = $3; SELECT $4, '$x', 1$; \
             UPDATE t SET a = $5, b = $6 WHERE id = $5; SELECT $6, '$x', 1$"
        );
    }

    #[test]
    fn a_call_takes_the_largest_size_that_fits() {
        let taken: Vec<usize> = [37usize, 16, 15, 3, 1]
            .iter()
            .map(|n| super::call_size(*n).1)
            .collect();
        assert_eq!(taken, [16, 16, 8, 2, 1]);
    }
}

#[cfg(test)]
mod indexed_tests {
    use super::*;

    /// A request's values as a move binds them, each as text.
    struct Bound(Vec<String>);

    impl Binder for Bound {
        fn bind<T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>>(mut self, value: T) -> Self {
            let mut args = <Db as sqlx::Database>::Arguments::default();
            sqlx::Arguments::add(&mut args, value).unwrap_or_else(|e| panic!("{e}"));
            self.0.push(format!("{args:?}"));
            self
        }
    }

    fn bound(r: &Request) -> Vec<String> {
        bind_request(Bound(Vec::new()), r)
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }

    fn filed() -> Request {
        let e = Event {
            request_id: RequestId(7),
            seq: 1,
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            actor: ActorRef::SYSTEM,
            body: EventBody::Submitted {
                restricted: false,
                channel: Channel::App,
                description: "楼道堆物".into(),
                requester_id: Some(PersonId(3)),
                location: Location {
                    area_id: AreaId(4),
                    street_id: AreaId(2),
                    community_id: AreaId(3),
                    grid_id: Some(AreaId(4)),
                    address: None,
                    lat: None,
                    lon: None,
                },
                attachments: vec![],
                level: Level::Grid,
                category_id: Some(CategoryId(5)),
            },
        };
        apply(None, &e).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Other values a field of a request's JSON might take: some of them fit the field's type.
    fn others(v: &serde_json::Value) -> Vec<serde_json::Value> {
        use serde_json::json;
        let mut out = match v {
            serde_json::Value::Bool(b) => vec![json!(!b)],
            serde_json::Value::Number(n) => vec![json!(n.as_i64().unwrap_or(0) + 1), json!(0.5)],
            _ => vec![],
        };
        out.extend([
            json!(9),
            json!("2031-02-03T04:05:06Z"),
            json!("accepted"),
            json!("district"),
            json!("claimed"),
            json!("a"),
            json!(true),
            json!([]),
            serde_json::Value::Null,
        ]);
        out.retain(|o| o != v);
        out
    }

    /// Every field of a request, changed one at a time to each other value it can take: a move
    /// names each indexed column exactly when the value it binds there changed, and every indexed
    /// column is seen changing.
    #[test]
    fn a_move_sets_every_indexed_column_whose_value_changed() {
        let base = filed();
        let json = serde_json::to_value(&base).unwrap_or_default();
        let columns: Vec<&str> = request_columns!().split(',').map(str::trim).collect();
        let positions: Vec<usize> = INDEXED
            .iter()
            .map(|(c, _)| {
                columns
                    .iter()
                    .position(|x| x == c)
                    .unwrap_or_else(|| panic!("{c} is not a request column"))
            })
            .collect();
        let mut paths: Vec<Vec<String>> = Vec::new();
        if let serde_json::Value::Object(fields) = &json {
            for (k, v) in fields {
                match v {
                    serde_json::Value::Object(inner) => {
                        paths.extend(inner.keys().map(|i| vec![k.clone(), i.clone()]))
                    }
                    _ => paths.push(vec![k.clone()]),
                }
            }
        }
        let (before, mut seen, mut tried) = (bound(&base), 0u16, 0);
        for path in &paths {
            let field = path.iter().fold(&json, |v, k| &v[k.as_str()]).clone();
            for other in others(&field) {
                let mut changed = json.clone();
                let slot = path.iter().fold(&mut changed, |v, k| &mut v[k.as_str()]);
                *slot = other;
                let Ok(changed) = serde_json::from_value::<Request>(changed) else {
                    continue;
                };
                tried += 1;
                let after = bound(&changed);
                let bits = indexed_changes(&base, &changed);
                for (bit, p) in positions.iter().enumerate() {
                    let differs = before[*p] != after[*p];
                    assert_eq!(
                        bits & (1 << bit) != 0,
                        differs,
                        "{} after changing {path:?}",
                        INDEXED[bit].0
                    );
                    if differs {
                        seen |= 1 << bit;
                    }
                }
            }
        }
        assert!(tried > 60, "only {tried} changes tried");
        assert_eq!(
            seen,
            (1 << INDEXED.len()) - 1,
            "indexed columns never changed"
        );
    }

    /// A move's text names every column but `id` when all indexed ones changed, and leaves out
    /// exactly the indexed ones that did not; each column keeps its parameter.
    #[test]
    fn a_moves_set_names_the_columns_it_must() {
        let all = move_set(u16::MAX);
        assert_eq!(
            all,
            concat!(
                "UPDATE requests SET (",
                request_columns_but_id!(),
                ") = (",
                crate::request_params_but_id!(),
                ")"
            )
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
        );
        let status_only = move_set(1);
        assert!(status_only.contains("(status, channel,"), "{status_only}");
        assert!(status_only.contains("= ($2, $3,"), "{status_only}");
        for (column, _) in &INDEXED[1..] {
            assert!(!status_only.contains(&format!(" {column},")), "{column}");
            assert!(!status_only.contains(&format!(" {column})")), "{column}");
        }
        assert!(status_only.contains("version"), "{status_only}");
    }
}
