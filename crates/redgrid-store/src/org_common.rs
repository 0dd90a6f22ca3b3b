//! The organisation registers for both backends: `sqlite.rs` and `postgres.rs` declare this file as
//! their module `org_common`, beside `common` (whose helpers it uses).

use super::common::*;
use super::{Db, This};
use crate::org::{NewActivity, NewAlliance, NewCampaign, OrgCounts, OrgStore};
use crate::plan::{Lookups, Plan, Ref, StaffRow, grant_key};
use chrono::NaiveDate;
use redgrid_core::org::{
    Activity, ActivityFacts, ActivityKind, Alliance, AllianceGroup, Campaign, Member, MemberKind,
    OrgKind, Pairing, PairingKind, PartyOrg, StatsInput, Suggestion, Target, TargetKind, Volunteer,
};
use sqlx::query_builder::Separated;
use std::collections::HashMap;

/// Rows per multi-row statement: well under both backends' limits on bound values.
const CHUNK: usize = 1000;

fn org_from_row(row: &DbRow) -> Result<PartyOrg> {
    from_row!(row, PartyOrg {
        id, code, name, kind: word OrgKind::parse, parent_id, unit_id: opt UnitId,
        area_id: id AreaId, secretary
    })
}

fn pairing_from_row(row: &DbRow) -> Result<Pairing> {
    from_row!(row, Pairing {
        id, kind: word PairingKind::parse, party_org_id, member_id: opt PersonId, target_id,
        starts_on, ends_on, responsible, goals
    })
}

fn suggestion_from_row(row: &DbRow) -> Result<Suggestion> {
    from_row!(row, Suggestion {
        id, activity_id, area_id: id AreaId, text, taken_on, request_id: opt RequestId
    })
}

fn campaign_from_row(row: &DbRow) -> Result<Campaign> {
    from_row!(
        row,
        Campaign {
            id,
            code,
            name,
            starts_on,
            ends_on,
            root_org_id,
            require_pairing
        }
    )
}

/// Resolves a reference against records written earlier in this import.
fn resolve(r: &Option<Ref<i64>>, written: &HashMap<String, i64>) -> Result<Option<i64>> {
    match r {
        None => Ok(None),
        Some(Ref::Id(id)) => Ok(Some(*id)),
        Some(Ref::Code(c)) => written.get(c).copied().map(Some).ok_or_else(|| {
            StoreError::Corrupt(format!("import plan names {c:?} before writing it"))
        }),
    }
}

fn as_i64<T: Copy + Into<i64>>(r: &Option<Ref<T>>) -> Option<Ref<i64>> {
    r.clone().map(|r| match r {
        Ref::Id(a) => Ref::Id(a.into()),
        Ref::Code(c) => Ref::Code(c),
    })
}

/// Where the batch starting at `start` ends: at most CHUNK rows, and before the first row whose
/// parent (in the same file) is not written yet. A batch always holds at least one row.
fn batch_end(parents: &[Option<Ref<i64>>], start: usize, written: &HashMap<String, i64>) -> usize {
    let waits = |r: &Option<Ref<i64>>| matches!(r, Some(Ref::Code(c)) if !written.contains_key(c));
    let mut end = start + 1;
    while end < parents.len() && end - start < CHUNK && !waits(&parents[end]) {
        end += 1;
    }
    end
}

fn resolve_all(
    parents: &[Option<Ref<i64>>],
    written: &HashMap<String, i64>,
) -> Result<Vec<Option<i64>>> {
    parents.iter().map(|p| resolve(p, written)).collect()
}

fn returned_codes(rows: Vec<DbRow>, written: &mut HashMap<String, i64>) -> Result<()> {
    for r in rows {
        written.insert(r.try_get("code")?, r.try_get("id")?);
    }
    Ok(())
}

/// Upserts people by phone; returns phone → id.
async fn upsert_people<'a>(
    conn: &mut Conn,
    people: impl IntoIterator<Item = (&'a str, &'a str)>,
    at: DateTime<Utc>,
) -> Result<HashMap<String, i64>> {
    let mut qb: QueryBuilder<Db> =
        QueryBuilder::new("INSERT INTO people (name, phone, created_at) ");
    qb.push_values(people, |mut b, (name, phone)| {
        b.push_bind(name.to_string())
            .push_bind(phone.to_string())
            .push_bind(at);
    });
    qb.push(" ON CONFLICT (phone) DO UPDATE SET name = excluded.name RETURNING id, phone");
    let rows = qb.build().fetch_all(&mut *conn).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(r.try_get("phone")?, r.try_get("id")?);
    }
    Ok(out)
}

/// Writes a register whose rows may name a parent in the same file (areas, units, party
/// organisations): in batches that never hold a row before its parent, each parent resolved to the
/// id written for it. `sql` is the statement before VALUES and what follows them (ending in
/// `RETURNING id, code`); `bind` pushes one row's values, given its parent's id.
async fn write_tree<R>(
    conn: &mut Conn,
    rows: &[R],
    refs: &[Option<Ref<i64>>],
    [insert, upsert]: [&str; 2],
    bind: impl Fn(&mut Separated<'_, Db, &'static str>, &R, Option<i64>),
) -> Result<()> {
    let mut written = HashMap::new();
    let mut start = 0;
    while start < rows.len() {
        let end = batch_end(refs, start, &written);
        let parents = resolve_all(&refs[start..end], &written)?;
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(insert);
        qb.push_values(rows[start..end].iter().zip(parents), |mut b, (r, p)| {
            bind(&mut b, r, p)
        });
        qb.push(upsert);
        let got = qb
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(unique_to_conflict)?;
        returned_codes(got, &mut written)?;
        start = end;
    }
    Ok(())
}

/// Creates an alliance (with its unit) or, when its code exists, replaces its name, lead, goals,
/// members and groups.
async fn write_alliance(conn: &mut Conn, r: &NewAlliance, at: DateTime<Utc>) -> Result<i64> {
    let mut kept: HashMap<String, (String, String)> = HashMap::new();
    let found = sql!(
        "SELECT id, unit_id FROM alliances WHERE code = $1",
        r.code.clone()
    )
    .fetch_optional(&mut *conn)
    .await?;
    let id: i64 = match found {
        Some(row) => {
            let (id, unit): (i64, i64) = (row.try_get("id")?, row.try_get("unit_id")?);
            sql!(
                "UPDATE alliances SET name = $2, lead_org_id = $3, goals = $4 WHERE id = $1",
                id,
                r.name.clone(),
                r.lead_org_id,
                r.goals.clone()
            )
            .execute(&mut *conn)
            .await?;
            sql!(
                "UPDATE units SET name = $2 WHERE id = $1",
                unit,
                r.name.clone()
            )
            .execute(&mut *conn)
            .await
            .map_err(unique_to_conflict)?;
            // Groups keep their focus and leader when the file names them again.
            for g in sql!(
                "SELECT name, focus, leader FROM alliance_groups WHERE alliance_id = $1",
                id
            )
            .fetch_all(&mut *conn)
            .await?
            {
                kept.insert(
                    g.try_get("name")?,
                    (g.try_get("focus")?, g.try_get("leader")?),
                );
            }
            for table in ["alliance_units", "alliance_groups"] {
                sql!(
                    AssertSqlSafe(format!("DELETE FROM {table} WHERE alliance_id = $1")),
                    id
                )
                .execute(&mut *conn)
                .await?;
            }
            id
        }
        None => {
            let unit: i64 = sql!(
                "INSERT INTO units (name, kind, area_id, level, parent_id, active, code) \
                 VALUES ($1, 'alliance', $2, $3, NULL, TRUE, $4) RETURNING id",
                r.name.clone(),
                r.area_id.0,
                r.level.as_str(),
                format!("ALLIANCE-{}", r.code)
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(unique_to_conflict)?
            .try_get("id")?;
            sql!(
                "INSERT INTO alliances (code, name, unit_id, lead_org_id, goals, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                r.code.clone(),
                r.name.clone(),
                unit,
                r.lead_org_id,
                r.goals.clone(),
                at
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(unique_to_conflict)?
            .try_get("id")?
        }
    };
    for u in &r.member_unit_ids {
        sql!(
            "INSERT INTO alliance_units (alliance_id, unit_id) VALUES ($1, $2)",
            id,
            u.0
        )
        .execute(&mut *conn)
        .await?;
    }
    for g in &r.groups {
        let (kept_focus, kept_leader) = kept.remove(&g.name).unwrap_or_default();
        let or_kept = |new: &str, kept: String| {
            if new.is_empty() {
                kept
            } else {
                new.to_string()
            }
        };
        sql!(
            "INSERT INTO alliance_groups (alliance_id, name, focus, leader) VALUES ($1, $2, $3, $4)",
            id,
            g.name.clone(),
            or_kept(&g.focus, kept_focus),
            or_kept(&g.leader, kept_leader)
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

async fn apply_plan(conn: &mut Conn, keys: &Keyring, plan: &Plan, by: Change) -> Result<()> {
    let at = by.at;
    match plan {
        Plan::Areas(rows) => {
            let refs: Vec<_> = rows.iter().map(|r| as_i64(&r.parent)).collect();
            let sql = [
                "INSERT INTO areas (parent_id, kind, code, name) ",
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id, code",
            ];
            write_tree(conn, rows, &refs, sql, |b, r, p| {
                b.push_bind(p)
                    .push_bind(r.kind.as_str())
                    .push_bind(r.code.clone())
                    .push_bind(r.name.clone());
            })
            .await?;
        }
        Plan::Units(rows) => {
            for r in rows {
                if let Some(id) = r.adopt {
                    sql!(
                        "UPDATE units SET code = $1 WHERE id = $2 AND code IS NULL",
                        r.code.clone(),
                        id.0
                    )
                    .execute(&mut *conn)
                    .await?;
                }
            }
            let refs: Vec<_> = rows.iter().map(|r| as_i64(&r.parent)).collect();
            let sql = [
                "INSERT INTO units (name, kind, area_id, level, parent_id, active, code) ",
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 area_id = excluded.area_id, level = excluded.level, parent_id = excluded.parent_id \
                 RETURNING id, code",
            ];
            write_tree(conn, rows, &refs, sql, |b, r, p| {
                b.push_bind(r.name.clone())
                    .push_bind(r.kind.as_str())
                    .push_bind(r.area_id.0)
                    .push_bind(r.level.as_str())
                    .push_bind(p)
                    .push_bind(true)
                    .push_bind(r.code.clone());
            })
            .await?;
        }
        Plan::PartyOrgs(rows) => {
            let refs: Vec<_> = rows.iter().map(|r| r.parent.clone()).collect();
            let sql = [
                "INSERT INTO party_orgs (code, name, kind, parent_id, unit_id, area_id, secretary, updated_at) ",
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 parent_id = excluded.parent_id, unit_id = excluded.unit_id, area_id = excluded.area_id, \
                 secretary = excluded.secretary, updated_at = excluded.updated_at RETURNING id, code",
            ];
            write_tree(conn, rows, &refs, sql, |b, r, p| {
                b.push_bind(r.code.clone())
                    .push_bind(r.name.clone())
                    .push_bind(r.kind.as_str())
                    .push_bind(p)
                    .push_bind(r.unit_id.map(|u| u.0))
                    .push_bind(r.area_id.0)
                    .push_bind(r.secretary.clone())
                    .push_bind(at);
            })
            .await?;
        }
        Plan::Members(rows) => {
            for batch in rows.chunks(CHUNK) {
                let people = batch.iter().map(|r| (r.name.as_str(), r.phone.as_str()));
                let ids = upsert_people(conn, people, at).await?;
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO members (person_id, party_org_id, kind, home_community_id, grid_id, joined_on, \
                         period_from, period_to, updated_at) ",
                );
                qb.push_values(batch, |mut b, r| {
                    b.push_bind(ids.get(&r.phone).copied())
                        .push_bind(r.party_org_id)
                        .push_bind(r.kind.as_str())
                        .push_bind(r.home_community_id.map(|a| a.0))
                        .push_bind(r.grid_id.map(|a| a.0))
                        .push_bind(r.joined_on)
                        .push_bind(r.period_from)
                        .push_bind(r.period_to)
                        .push_bind(at);
                });
                qb.push(" ON CONFLICT (person_id) DO UPDATE SET party_org_id = excluded.party_org_id, kind = excluded.kind, \
                             home_community_id = excluded.home_community_id, grid_id = excluded.grid_id, \
                             joined_on = excluded.joined_on, period_from = excluded.period_from, \
                             period_to = excluded.period_to, updated_at = excluded.updated_at");
                qb.build().execute(&mut *conn).await?;
            }
        }
        Plan::Volunteers(rows) => {
            for batch in rows.chunks(CHUNK) {
                let people = batch.iter().map(|r| (r.name.as_str(), r.phone.as_str()));
                let ids = upsert_people(conn, people, at).await?;
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO volunteers (person_id, area_id, skills, registered_on, updated_at) ",
                );
                qb.push_values(batch, |mut b, r| {
                    b.push_bind(ids.get(&r.phone).copied())
                        .push_bind(r.area_id.0)
                        .push_bind(r.skills.clone())
                        .push_bind(r.registered_on)
                        .push_bind(at);
                });
                qb.push(" ON CONFLICT (person_id) DO UPDATE SET area_id = excluded.area_id, skills = excluded.skills, \
                             registered_on = excluded.registered_on, updated_at = excluded.updated_at");
                qb.build().execute(&mut *conn).await?;
            }
        }
        Plan::Targets(rows) => {
            for batch in rows.chunks(CHUNK) {
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO targets (code, name, kind, area_id, unit_id, tags, updated_at) ",
                );
                qb.push_values(batch, |mut b, r| {
                    b.push_bind(r.code.clone())
                        .push_bind(r.name.clone())
                        .push_bind(r.kind.as_str())
                        .push_bind(r.area_id.0)
                        .push_bind(r.unit_id.map(|u| u.0))
                        .push_bind(r.tags.clone())
                        .push_bind(at);
                });
                qb.push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                             area_id = excluded.area_id, unit_id = excluded.unit_id, tags = excluded.tags, \
                             updated_at = excluded.updated_at");
                qb.build().execute(&mut *conn).await?;
            }
        }
        Plan::Alliances(rows) => {
            for r in rows {
                write_alliance(conn, r, at).await?;
            }
        }
        Plan::Staff(rows) => {
            for batch in rows.chunks(CHUNK) {
                // A person holding several roles has several rows: upsert each phone once.
                let mut people: Vec<(&str, &str)> = Vec::with_capacity(batch.len());
                for r in batch {
                    if !people.iter().any(|(_, phone)| *phone == r.phone) {
                        people.push((r.name.as_str(), r.phone.as_str()));
                    }
                }
                let ids = upsert_people(conn, people, at).await?;
                for r in batch {
                    let person = ids.get(&r.phone).copied().ok_or_else(|| {
                        StoreError::Corrupt(format!("no person for phone of row {}", r.name))
                    })?;
                    let grant = Grant {
                        role: r.role,
                        scope: r.scope,
                    };
                    change_grant(conn, keys, PersonId(person), grant, true, by).await?;
                }
            }
        }
        Plan::Pairings(rows) => {
            for batch in rows.chunks(CHUNK) {
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO pairings (natural_key, kind, party_org_id, member_id, target_id, starts_on, ends_on, \
                         responsible, goals, updated_at) ",
                );
                qb.push_values(batch, |mut b, r| {
                    b.push_bind(r.natural_key.clone())
                        .push_bind(r.kind.as_str())
                        .push_bind(r.party_org_id)
                        .push_bind(r.member_id.map(|m| m.0))
                        .push_bind(r.target_id)
                        .push_bind(r.starts_on)
                        .push_bind(r.ends_on)
                        .push_bind(r.responsible.clone())
                        .push_bind(r.goals.clone())
                        .push_bind(at);
                });
                qb.push(" ON CONFLICT (natural_key) DO UPDATE SET starts_on = excluded.starts_on, \
                             ends_on = excluded.ends_on, responsible = excluded.responsible, goals = excluded.goals, \
                             updated_at = excluded.updated_at");
                qb.build().execute(&mut *conn).await?;
            }
        }
    }
    Ok(())
}

async fn alliance_rows(pool: &sqlx::Pool<Db>, only: Option<i64>) -> Result<Vec<Alliance>> {
    let rows = sql!(
        "SELECT id, code, name, unit_id, lead_org_id, goals, ended_on FROM alliances \
             WHERE ($1 IS NULL OR id = $1) ORDER BY code",
        only
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let members = sql!(
            "SELECT unit_id FROM alliance_units WHERE alliance_id = $1 ORDER BY unit_id",
            id
        )
        .fetch_all(pool)
        .await?;
        let groups = sql!(
            "SELECT name, focus, leader FROM alliance_groups WHERE alliance_id = $1 ORDER BY name",
            id
        )
        .fetch_all(pool)
        .await?;
        out.push(Alliance {
            id,
            code: r.try_get("code")?,
            name: r.try_get("name")?,
            unit_id: UnitId(r.try_get("unit_id")?),
            lead_org_id: r.try_get("lead_org_id")?,
            goals: r.try_get("goals")?,
            member_unit_ids: members
                .iter()
                .map(|m| m.try_get::<i64, _>("unit_id").map(UnitId))
                .collect::<std::result::Result<_, _>>()?,
            groups: groups
                .iter()
                .map(|g| {
                    from_row!(
                        g,
                        AllianceGroup {
                            name,
                            focus,
                            leader
                        }
                    )
                })
                .collect::<Result<_>>()?,
            ended_on: r.try_get("ended_on")?,
        });
    }
    Ok(out)
}

#[async_trait]
impl OrgStore for This {
    async fn org_lookups(&self) -> Result<Lookups> {
        let pool = self.read_pool();
        let mut l = Lookups::default();
        for r in sqlx::query("SELECT id, code, kind FROM areas")
            .fetch_all(pool)
            .await?
        {
            let kind = parse_enum("level", &r.try_get::<String, _>("kind")?, Level::parse)?;
            l.areas
                .insert(r.try_get("code")?, (AreaId(r.try_get("id")?), kind));
        }
        for r in sqlx::query("SELECT id, code, area_id, name FROM units")
            .fetch_all(pool)
            .await?
        {
            let id = UnitId(r.try_get("id")?);
            let area = AreaId(r.try_get("area_id")?);
            let code: Option<String> = r.try_get("code")?;
            if let Some(c) = &code {
                l.units.insert(c.clone(), (id, area));
            }
            l.unit_names.insert((area, r.try_get("name")?), (id, code));
        }
        for r in sqlx::query("SELECT id, code, kind, parent_id FROM party_orgs")
            .fetch_all(pool)
            .await?
        {
            let kind = parse_enum("org kind", &r.try_get::<String, _>("kind")?, OrgKind::parse)?;
            l.orgs.insert(
                r.try_get("code")?,
                (r.try_get("id")?, kind, r.try_get("parent_id")?),
            );
        }
        for r in sqlx::query("SELECT id, code, kind FROM targets")
            .fetch_all(pool)
            .await?
        {
            let kind = parse_enum(
                "target kind",
                &r.try_get::<String, _>("kind")?,
                TargetKind::parse,
            )?;
            l.targets
                .insert(r.try_get("code")?, (r.try_get("id")?, kind));
        }
        for r in sqlx::query(
            "SELECT p.phone, m.person_id FROM members m JOIN people p ON p.id = m.person_id",
        )
        .fetch_all(pool)
        .await?
        {
            if let Some(phone) = r.try_get::<Option<String>, _>("phone")? {
                l.members.insert(phone, PersonId(r.try_get("person_id")?));
            }
        }
        for r in sqlx::query(
            "SELECT p.phone, v.person_id FROM volunteers v JOIN people p ON p.id = v.person_id",
        )
        .fetch_all(pool)
        .await?
        {
            if let Some(phone) = r.try_get::<Option<String>, _>("phone")? {
                l.volunteers
                    .insert(phone, PersonId(r.try_get("person_id")?));
            }
        }
        for r in sqlx::query("SELECT natural_key FROM pairings")
            .fetch_all(pool)
            .await?
        {
            l.pairings.insert(r.try_get("natural_key")?);
        }
        for r in sqlx::query(
            "SELECT p.phone, g.role, g.area_id, g.unit_id FROM grants g \
             JOIN people p ON p.id = g.person_id WHERE p.phone IS NOT NULL",
        )
        .fetch_all(pool)
        .await?
        {
            let g = grant_from_row(&r)?;
            let phone: String = r.try_get("phone")?;
            l.grants.insert(grant_key(&phone, g.role, g.scope));
        }
        for r in sqlx::query("SELECT id, code, ended_on FROM alliances")
            .fetch_all(pool)
            .await?
        {
            let ended = r.try_get::<Option<NaiveDate>, _>("ended_on")?.is_some();
            l.alliances
                .insert(r.try_get("code")?, (r.try_get("id")?, ended));
        }
        Ok(l)
    }

    async fn apply_import(
        &self,
        plan: &Plan,
        details: serde_json::Value,
        by: Change,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        apply_plan(&mut tx, &self.keyring(), plan, by).await?;
        if self.fail_point().load(Ordering::SeqCst) == 1 {
            return Err(StoreError::Injected(FailPoint::AfterEventWrite));
        }
        commit_admin(tx, &self.keyring(), by, "import", details).await?;
        Ok(())
    }

    async fn party_orgs(&self) -> Result<Vec<PartyOrg>> {
        sqlx::query("SELECT id, code, name, kind, parent_id, unit_id, area_id, secretary FROM party_orgs ORDER BY code")
                .fetch_all(self.read_pool())
                .await?
                .iter()
                .map(org_from_row)
                .collect()
    }

    async fn party_org(&self, id: i64) -> Result<Option<PartyOrg>> {
        one_row(sql!(
            "SELECT id, code, name, kind, parent_id, unit_id, area_id, secretary FROM party_orgs WHERE id = $1",
            id
        ), self.read_pool(), org_from_row).await
    }

    async fn members(&self, after: Option<PersonId>, limit: i64) -> Result<Vec<Member>> {
        let rows = sql!(
            "SELECT m.person_id, p.name, p.phone, m.party_org_id, m.kind, m.home_community_id, m.grid_id, \
                 m.joined_on, m.period_from, m.period_to FROM members m JOIN people p ON p.id = m.person_id \
                 WHERE m.person_id > $1 ORDER BY m.person_id LIMIT $2",
            after.map(|p| p.0).unwrap_or(0),
            limit
        )
            .fetch_all(self.read_pool())
            .await?;
        rows.iter()
            .map(|r| {
                from_row!(r, Member {
                    person_id: id PersonId, name, phone: text, party_org_id,
                    kind: word MemberKind::parse, home_community_id: opt AreaId,
                    grid_id: opt AreaId, joined_on, period_from, period_to
                })
            })
            .collect()
    }

    async fn staff(&self) -> Result<Vec<StaffRow>> {
        let rows = sqlx::query(
            "SELECT p.name, p.phone, g.role, g.area_id, g.unit_id FROM grants g \
             JOIN people p ON p.id = g.person_id WHERE g.role <> 'resident' \
             ORDER BY p.id, g.role, g.area_id, g.unit_id",
        )
        .fetch_all(self.read_pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let g = grant_from_row(&r)?;
            out.push(StaffRow {
                name: r.try_get("name")?,
                phone: r.try_get::<Option<String>, _>("phone")?.unwrap_or_default(),
                role: g.role,
                scope: g.scope,
            });
        }
        Ok(out)
    }

    async fn volunteers(&self, after: Option<PersonId>, limit: i64) -> Result<Vec<Volunteer>> {
        let rows = sql!(
            "SELECT v.person_id, p.name, p.phone, v.area_id, v.skills, v.registered_on \
                 FROM volunteers v JOIN people p ON p.id = v.person_id \
                 WHERE v.person_id > $1 ORDER BY v.person_id LIMIT $2",
            after.map(|p| p.0).unwrap_or(0),
            limit
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter()
            .map(|r| {
                from_row!(r, Volunteer {
                    person_id: id PersonId, name, phone: text, area_id: id AreaId,
                    skills, registered_on
                })
            })
            .collect()
    }

    async fn targets(&self) -> Result<Vec<Target>> {
        let rows = sqlx::query(
            "SELECT id, code, name, kind, area_id, unit_id, tags FROM targets ORDER BY code",
        )
        .fetch_all(self.read_pool())
        .await?;
        rows.iter()
            .map(|r| {
                from_row!(r, Target {
                    id, code, name, kind: word TargetKind::parse, area_id: id AreaId,
                    unit_id: opt UnitId, tags
                })
            })
            .collect()
    }

    async fn pairings(&self) -> Result<Vec<Pairing>> {
        sqlx::query(
                "SELECT id, kind, party_org_id, member_id, target_id, starts_on, ends_on, responsible, goals \
                 FROM pairings ORDER BY id",
            )
            .fetch_all(self.read_pool())
            .await?
            .iter()
            .map(pairing_from_row)
            .collect()
    }

    async fn alliances(&self) -> Result<Vec<Alliance>> {
        alliance_rows(self.read_pool(), None).await
    }

    async fn save_alliance(&self, new: &NewAlliance, by: Change) -> Result<Alliance> {
        let mut tx = self.begin_write().await?;
        let id = write_alliance(&mut tx, new, by.at).await?;
        let details = serde_json::json!({
            "alliance_id": id, "code": new.code, "name": new.name,
            "member_unit_ids": new.member_unit_ids.iter().map(|u| u.0).collect::<Vec<_>>(),
        });
        commit_admin(tx, &self.keyring(), by, "save_alliance", details).await?;
        alliance_rows(self.read_pool(), Some(id))
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("alliance vanished after it was saved".into()))
    }

    async fn end_alliance(&self, id: i64, on: NaiveDate, by: Change) -> Result<Option<Alliance>> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sql!("SELECT unit_id, ended_on FROM alliances WHERE id = $1", id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        if row.try_get::<Option<NaiveDate>, _>("ended_on")?.is_some() {
            return Err(StoreError::Core(CoreError::Conflict(
                Conflict::AlreadyExists,
            )));
        }
        let unit: i64 = row.try_get("unit_id")?;
        sql!("UPDATE alliances SET ended_on = $2 WHERE id = $1", id, on)
            .execute(&mut *tx)
            .await?;
        sql!("UPDATE units SET active = FALSE WHERE id = $1", unit)
            .execute(&mut *tx)
            .await?;
        let details = serde_json::json!({"alliance_id": id, "ended_on": on.to_string()});
        commit_admin(tx, &self.keyring(), by, "end_alliance", details).await?;
        Ok(alliance_rows(self.read_pool(), Some(id)).await?.pop())
    }

    async fn record_activities(&self, new: &[NewActivity], by: Change) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(new.len());
        for a in new {
            let id: i64 = sql!(
                "INSERT INTO activities (kind, held_on, party_org_id, pairing_id, target_id, title, people_served, \
                     donation_items, donation_value_fen, hours, recorded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                a.kind.as_str(),
                a.held_on,
                a.party_org_id,
                a.pairing_id,
                a.target_id,
                a.title.clone(),
                a.people_served,
                a.donation_items.clone(),
                a.donation_value_fen,
                a.hours,
                a.recorded_by.map(|p| p.0),
                by.at
            )
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
            if !a.participants.is_empty() {
                let mut people = a.participants.clone();
                people.sort();
                people.dedup();
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO activity_participants (activity_id, person_id) ",
                );
                qb.push_values(&people, |mut b, p| {
                    b.push_bind(id).push_bind(p.0);
                });
                qb.build().execute(&mut *tx).await?;
            }
            if !a.request_ids.is_empty() {
                let mut reqs = a.request_ids.clone();
                reqs.sort();
                reqs.dedup();
                let mut qb: QueryBuilder<Db> =
                    QueryBuilder::new("INSERT INTO activity_requests (activity_id, request_id) ");
                qb.push_values(&reqs, |mut b, r| {
                    b.push_bind(id).push_bind(r.0);
                });
                qb.build().execute(&mut *tx).await?;
            }
            if !a.suggestions.is_empty() {
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO suggestions (activity_id, area_id, text, taken_on) ",
                );
                qb.push_values(&a.suggestions, |mut b, (area, text)| {
                    b.push_bind(id)
                        .push_bind(area.0)
                        .push_bind(text.clone())
                        .push_bind(a.held_on);
                });
                qb.build().execute(&mut *tx).await?;
            }
            ids.push(id);
        }
        let details = serde_json::json!({ "activities": ids.len(), "first_id": ids.first(), "last_id": ids.last() });
        commit_admin(tx, &self.keyring(), by, "record_activities", details).await?;
        Ok(ids)
    }

    async fn activities(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Activity>> {
        let pool = self.read_pool();
        let rows = sql!(
            "SELECT id, kind, held_on, party_org_id, pairing_id, target_id, title, people_served, donation_items, \
                 donation_value_fen, hours FROM activities WHERE held_on >= $1 AND held_on <= $2 AND id > $3 \
                 ORDER BY id LIMIT $4",
            from,
            to,
            after.unwrap_or(0),
            limit
        )
            .fetch_all(pool)
            .await?;
        let mut out: Vec<Activity> = Vec::with_capacity(rows.len());
        for r in &rows {
            let activity: Result<Activity> = from_row!(r, Activity {
                id, kind: word ActivityKind::parse, held_on, party_org_id, pairing_id, target_id,
                title, participants: later, people_served, donation_items, donation_value_fen,
                hours, suggestions: later, request_ids: later
            });
            out.push(activity?);
        }
        let (Some(first), Some(last)) = (out.first().map(|a| a.id), out.last().map(|a| a.id))
        else {
            return Ok(out);
        };
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        // The participants, requests and suggestions of the activities in the id range.
        let children = |sql: &'static str| sql!(sql, first, last).fetch_all(pool);
        let of = |r: &DbRow| -> Result<Option<usize>> {
            Ok(index.get(&r.try_get::<i64, _>("activity_id")?).copied())
        };
        for r in children("SELECT activity_id, person_id FROM activity_participants WHERE activity_id >= $1 AND activity_id <= $2 ORDER BY person_id").await? {
            if let Some(i) = of(&r)? {
                out[i].participants.push(PersonId(r.try_get("person_id")?));
            }
        }
        for r in children("SELECT activity_id, request_id FROM activity_requests WHERE activity_id >= $1 AND activity_id <= $2 ORDER BY request_id").await? {
            if let Some(i) = of(&r)? {
                out[i].request_ids.push(RequestId(r.try_get("request_id")?));
            }
        }
        for r in children("SELECT id, activity_id, area_id, text, taken_on, request_id FROM suggestions WHERE activity_id >= $1 AND activity_id <= $2 ORDER BY id").await? {
            if let Some(i) = of(&r)? {
                out[i].suggestions.push(suggestion_from_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn suggestion(&self, id: i64) -> Result<Option<Suggestion>> {
        one_row(sql!(
            "SELECT id, activity_id, area_id, text, taken_on, request_id FROM suggestions WHERE id = $1",
            id
        ), self.read_pool(), suggestion_from_row).await
    }

    async fn suggestions(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Suggestion>> {
        sql!(
            "SELECT id, activity_id, area_id, text, taken_on, request_id FROM suggestions \
                         WHERE taken_on >= $1 AND taken_on <= $2 ORDER BY id",
            from,
            to
        )
        .fetch_all(self.read_pool())
        .await?
        .iter()
        .map(suggestion_from_row)
        .collect()
    }

    async fn link_suggestion(&self, id: i64, request: RequestId, by: Change) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sql!(
            "UPDATE suggestions SET request_id = $1 WHERE id = $2 AND request_id IS NULL",
            request.0,
            id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            let details = serde_json::json!({ "suggestion_id": id, "request_id": request.0 });
            chain_append(
                &mut tx,
                &self.keyring(),
                &AuditRecord::admin(by.at, by.by, "suggestion_to_request", details),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn create_campaign(&self, new: &NewCampaign, by: Change) -> Result<Campaign> {
        let mut tx = self.begin_write().await?;
        let row = sql!(
            "INSERT INTO campaigns (code, name, starts_on, ends_on, root_org_id, require_pairing, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 RETURNING id, code, name, starts_on, ends_on, root_org_id, require_pairing",
            new.code.clone(),
            new.name.clone(),
            new.starts_on,
            new.ends_on,
            new.root_org_id,
            new.require_pairing,
            by.at
        )
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_to_conflict)?;
        let c = campaign_from_row(&row)?;
        let details = serde_json::json!({ "campaign_id": c.id, "code": c.code, "name": c.name });
        commit_admin(tx, &self.keyring(), by, "create_campaign", details).await?;
        Ok(c)
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>> {
        sqlx::query("SELECT id, code, name, starts_on, ends_on, root_org_id, require_pairing FROM campaigns ORDER BY starts_on DESC, code")
                .fetch_all(self.read_pool())
                .await?
                .iter()
                .map(campaign_from_row)
                .collect()
    }

    async fn stats_input(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(StatsInput, HashMap<PersonId, i64>)> {
        let pool = self.read_pool();
        let mut input = StatsInput {
            orgs: self.party_orgs().await?,
            ..Default::default()
        };
        input.pairings = sql!(
            "SELECT id, kind, party_org_id, member_id, target_id, starts_on, ends_on, responsible, goals \
                 FROM pairings WHERE starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $1) ORDER BY id",
            from,
            to
        )
            .fetch_all(pool)
            .await?
            .iter()
            .map(pairing_from_row)
            .collect::<Result<_>>()?;
        let rows = sql!(
            "SELECT id, kind, party_org_id, target_id, people_served, donation_value_fen, hours \
                 FROM activities WHERE held_on >= $1 AND held_on <= $2 ORDER BY id",
            from,
            to
        )
        .fetch_all(pool)
        .await?;
        let mut index = HashMap::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            index.insert(id, input.activities.len());
            input.activities.push(ActivityFacts {
                id,
                kind: parse_enum(
                    "activity kind",
                    &r.try_get::<String, _>("kind")?,
                    ActivityKind::parse,
                )?,
                party_org_id: r.try_get("party_org_id")?,
                target_id: r.try_get("target_id")?,
                participants: Vec::new(),
                people_served: r.try_get("people_served")?,
                donation_value_fen: r.try_get("donation_value_fen")?,
                hours: r.try_get("hours")?,
                suggestions: 0,
                suggestions_to_requests: 0,
                solved_requests: Vec::new(),
            });
        }
        for r in sql!(
            "SELECT ap.activity_id, ap.person_id FROM activity_participants ap \
                 JOIN activities a ON a.id = ap.activity_id WHERE a.held_on >= $1 AND a.held_on <= $2",
            from,
            to
        ).fetch_all(pool).await?
            {
                if let Some(i) = index.get(&r.try_get::<i64, _>("activity_id")?) {
                    input.activities[*i].participants.push(PersonId(r.try_get("person_id")?));
                }
            }
        for r in sql!(
            "SELECT s.activity_id, COUNT(*) AS n, COUNT(s.request_id) AS to_requests FROM suggestions s \
                 JOIN activities a ON a.id = s.activity_id WHERE a.held_on >= $1 AND a.held_on <= $2 \
                 GROUP BY s.activity_id",
            from,
            to
        ).fetch_all(pool).await?
            {
                if let Some(i) = index.get(&r.try_get::<i64, _>("activity_id")?) {
                    input.activities[*i].suggestions = r.try_get("n")?;
                    input.activities[*i].suggestions_to_requests = r.try_get("to_requests")?;
                }
            }
        for r in sql!(
            "SELECT ar.activity_id, ar.request_id FROM activity_requests ar \
                 JOIN activities a ON a.id = ar.activity_id JOIN requests r ON r.id = ar.request_id \
                 WHERE a.held_on >= $1 AND a.held_on <= $2 AND r.status IN ('resolved', 'verified', 'closed') \
                 AND (r.rating_resolved IS NULL OR r.rating_resolved = TRUE)",
            from,
            to
        ).fetch_all(pool).await?
            {
                if let Some(i) = index.get(&r.try_get::<i64, _>("activity_id")?) {
                    input.activities[*i].solved_requests.push(RequestId(r.try_get("request_id")?));
                }
            }
        let mut member_orgs = HashMap::new();
        for r in sqlx::query("SELECT person_id, party_org_id FROM members")
            .fetch_all(pool)
            .await?
        {
            let p = PersonId(r.try_get("person_id")?);
            input.member_ids.insert(p);
            member_orgs.insert(p, r.try_get("party_org_id")?);
        }
        for r in sqlx::query("SELECT id, name FROM units")
            .fetch_all(pool)
            .await?
        {
            input
                .unit_names
                .insert(UnitId(r.try_get("id")?), r.try_get("name")?);
        }
        Ok((input, member_orgs))
    }

    async fn org_counts(&self) -> Result<OrgCounts> {
        let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM party_orgs) AS party_orgs, (SELECT COUNT(*) FROM members) AS members, \
                 (SELECT COUNT(*) FROM volunteers) AS volunteers, (SELECT COUNT(*) FROM targets) AS targets, \
                 (SELECT COUNT(*) FROM pairings) AS pairings, (SELECT COUNT(*) FROM alliances) AS alliances, \
                 (SELECT COUNT(*) FROM activities) AS activities, (SELECT COUNT(*) FROM suggestions) AS suggestions, \
                 (SELECT COUNT(*) FROM campaigns) AS campaigns",
            )
            .fetch_one(self.read_pool())
            .await?;
        from_row!(
            row,
            OrgCounts {
                party_orgs,
                members,
                volunteers,
                targets,
                pairings,
                alliances,
                activities,
                suggestions,
                campaigns
            }
        )
    }
}
