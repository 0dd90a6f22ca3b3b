//! The organisation work as the service offers it to the API, the CLI and the demo: imports and
//! exports of the registers, alliances, the activity ledger, suggestions that become requests, and
//! campaigns with their statistics. Every entry point checks the policy table first.

use crate::registers::{self, ImportReport, Plan, Register};
use crate::service::{Service, now};
use crate::tabular::{self, Cell, OutSheet};
use chrono::{Datelike, NaiveDate};
use redgrid_core::Lang;
use redgrid_core::command::SubmitInput;
use redgrid_core::error::{Conflict, CoreError, Entity, FieldError};
use redgrid_core::ids::*;
use redgrid_core::org::{
    Alliance, Campaign, CampaignStats, Figures, PartyOrg, campaign_stats, unpaired_branches,
};
use redgrid_core::person::{Actor, Scope};
use redgrid_core::policy::{self, Action, Subject};
use redgrid_core::request::{Channel, Request};
use redgrid_store::org::{NewActivity, NewAlliance, NewCampaign};
use redgrid_store::{Change, Result, StoreError};
use std::collections::{HashMap, HashSet};

/// The longest activity title, suggestion and donation description.
pub const MAX_TITLE: usize = 200;
pub const MAX_SUGGESTION: usize = 500;
/// The most participants, suggestions and linked requests one activity records.
pub const MAX_PARTICIPANTS: usize = 500;
pub const MAX_SUGGESTIONS: usize = 50;
pub const MAX_LINKED_REQUESTS: usize = 100;

/// Today in China (UTC+8), for "not in the future" checks.
pub fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&redgrid_core::calendar::shanghai())
        .date_naive()
}

fn invalid(errors: Vec<FieldError>) -> StoreError {
    StoreError::Core(CoreError::Validation(errors))
}

fn text_field(errors: &mut Vec<FieldError>, name: &str, value: &str, required: bool, max: usize) {
    let n = value.trim().chars().count();
    if required && n == 0 {
        errors.push(FieldError::new(name, "required"));
    } else if n > max {
        errors.push(FieldError::new(name, "too_long").with_limit(max as i64));
    }
}

impl Service {
    /// Whether `actor` may keep the registers of `subject` (the whole district for imports,
    /// exports and campaigns; an organisation's area for its activities).
    pub fn require_organiser(
        &self,
        actor: &Actor,
        subject: &Subject<'_>,
    ) -> Result<Option<PersonId>> {
        if matches!(actor, Actor::System) {
            // The system: the CLI on the server itself, and the demo.
            return Ok(None);
        }
        let dir = self.directory();
        policy::permit(&dir, actor, Action::Organise, subject)?;
        Ok(actor.person_id())
    }

    /// Imports a register from a spreadsheet. A dry run only reports. A real run writes nothing
    /// unless every row is good, and then writes every row in one transaction.
    pub async fn import_register(
        &self,
        actor: &Actor,
        register: Register,
        bytes: &[u8],
        dry_run: bool,
        lang: Lang,
    ) -> Result<ImportReport> {
        self.require_organiser(actor, &Subject::District)?;
        if register == Register::Staff && !matches!(actor, Actor::System) {
            // Roles anywhere in the district: the granting right at its root.
            let dir = self.directory();
            policy::permit(&dir, actor, Action::Grant, &Subject::District)?;
        }
        let sheet = match tabular::read(bytes) {
            Ok(s) => s,
            Err(e) => return Ok(ImportReport::refused_file(register, dry_run, &e, lang)),
        };
        let mut lookups = self.store().org_lookups().await?;
        lookups.district_code = self.district_code().map(str::to_string);
        let (mut report, plan) = registers::validate(register, &sheet, &lookups, dry_run, lang);
        let Some(plan) = plan.filter(|_| !dry_run) else {
            return Ok(report);
        };
        let details = serde_json::json!({
            "register": register.as_str(),
            "file_sha256": redgrid_store::sha256_hex(bytes),
            "file_kind": report.file_kind,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
        });
        // The staff register gives logins only to people it adds: note who is known before.
        let mut known = HashSet::new();
        if let Plan::Staff(rows) = &plan {
            for r in rows {
                if self.store().person_by_phone(&r.phone).await?.is_some() {
                    known.insert(r.phone.clone());
                }
            }
        }
        self.store()
            .apply_import(&plan, details, Change::by(actor))
            .await?;
        if matches!(
            register,
            Register::Areas | Register::Units | Register::Alliances
        ) {
            self.reload().await?;
        }
        if let Plan::Staff(rows) = &plan {
            report.logins = self
                .logins_for_staff(rows, &known, Change::by(actor))
                .await?;
        }
        report.imported = true;
        Ok(report)
    }

    /// A register as a sheet with its Chinese (or English) headers. Activities and suggestions are
    /// those of `[from, to]`.
    pub async fn register_sheet(
        &self,
        actor: &Actor,
        register: Register,
        lang: Lang,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<OutSheet> {
        self.require_organiser(actor, &Subject::District)?;
        let store = self.store();
        let dir = self.directory();
        let area_code = |a: AreaId| dir.area(a).map(|a| a.code.clone()).unwrap_or_default();
        let unit_code = |u: Option<UnitId>| {
            u.and_then(|u| dir.unit(u))
                .and_then(|u| u.code.clone())
                .unwrap_or_default()
        };
        let orgs = store.party_orgs().await?;
        let org_code: HashMap<i64, (String, String)> = orgs
            .iter()
            .map(|o| (o.id, (o.code.clone(), o.name.clone())))
            .collect();
        let code_of = |id: Option<i64>| {
            id.and_then(|i| org_code.get(&i))
                .map(|c| c.0.clone())
                .unwrap_or_default()
        };
        let date = |d: Option<NaiveDate>| Cell::from(d);
        let rows: Vec<Vec<Cell>> = match register {
            Register::Areas => {
                let mut areas: Vec<_> = dir.areas().collect();
                areas.sort_by(|a, b| a.code.cmp(&b.code));
                areas
                    .iter()
                    .map(|a| vec![a.code.as_str().into(), a.name.as_str().into()])
                    .collect()
            }
            Register::Units => {
                let mut units: Vec<_> = dir
                    .units()
                    .filter(|u| u.kind != redgrid_core::unit::UnitKind::Alliance)
                    .collect();
                units.sort_by_key(|u| u.id);
                units
                    .iter()
                    .map(|u| {
                        vec![
                            u.code.clone().unwrap_or_default().into(),
                            u.name.as_str().into(),
                            u.kind.label(lang).into(),
                            area_code(u.area_id).into(),
                            u.level.label(lang).into(),
                            unit_code(u.parent_id).into(),
                        ]
                    })
                    .collect()
            }
            Register::PartyOrgs => orgs
                .iter()
                .map(|o| {
                    vec![
                        o.code.as_str().into(),
                        o.name.as_str().into(),
                        o.kind.label(lang).into(),
                        code_of(o.parent_id).into(),
                        unit_code(o.unit_id).into(),
                        area_code(o.area_id).into(),
                        o.secretary.as_str().into(),
                    ]
                })
                .collect(),
            Register::Members => every_page(|after| store.members(after, PAGE), |m| m.person_id)
                .await?
                .iter()
                .map(|m| {
                    vec![
                        m.name.as_str().into(),
                        m.phone.as_str().into(),
                        code_of(Some(m.party_org_id)).into(),
                        m.kind.label(lang).into(),
                        m.home_community_id
                            .map(area_code)
                            .unwrap_or_default()
                            .into(),
                        m.grid_id.map(area_code).unwrap_or_default().into(),
                        date(m.joined_on),
                        date(m.period_from),
                        date(m.period_to),
                    ]
                })
                .collect(),
            Register::Volunteers => {
                every_page(|after| store.volunteers(after, PAGE), |v| v.person_id)
                    .await?
                    .iter()
                    .map(|v| {
                        vec![
                            v.name.as_str().into(),
                            v.phone.as_str().into(),
                            area_code(v.area_id).into(),
                            v.skills.as_str().into(),
                            date(v.registered_on),
                        ]
                    })
                    .collect()
            }
            Register::Targets => store
                .targets()
                .await?
                .iter()
                .map(|t| {
                    vec![
                        t.code.as_str().into(),
                        t.name.as_str().into(),
                        t.kind.label(lang).into(),
                        area_code(t.area_id).into(),
                        unit_code(t.unit_id).into(),
                        t.tags.as_str().into(),
                    ]
                })
                .collect(),
            Register::Staff => store
                .staff()
                .await?
                .iter()
                .map(|g| {
                    let (area, unit) = match g.scope {
                        Scope::Area(a) => (area_code(a), String::new()),
                        Scope::Unit(u) => (String::new(), unit_code(Some(u))),
                    };
                    vec![
                        g.name.as_str().into(),
                        g.phone.as_str().into(),
                        g.role.label(lang).into(),
                        area.into(),
                        unit.into(),
                    ]
                })
                .collect(),
            Register::Pairings => {
                let targets: HashMap<i64, String> = store
                    .targets()
                    .await?
                    .into_iter()
                    .map(|t| (t.id, t.code))
                    .collect();
                let pairings = store.pairings().await?;
                // Household pairings are held by members: their phones come from the member register.
                let mut phones: HashMap<PersonId, String> = HashMap::new();
                if pairings.iter().any(|p| p.member_id.is_some()) {
                    let members =
                        every_page(|after| store.members(after, PAGE), |m| m.person_id).await?;
                    phones.extend(members.into_iter().map(|m| (m.person_id, m.phone)));
                }
                pairings
                    .iter()
                    .map(|p| {
                        vec![
                            p.kind.label(lang).into(),
                            code_of(p.party_org_id).into(),
                            p.member_id
                                .and_then(|m| phones.get(&m).cloned())
                                .unwrap_or_default()
                                .into(),
                            targets
                                .get(&p.target_id)
                                .cloned()
                                .unwrap_or_default()
                                .into(),
                            p.starts_on.into(),
                            date(p.ends_on),
                            p.responsible.as_str().into(),
                            p.goals.as_str().into(),
                        ]
                    })
                    .collect()
            }
            Register::Alliances => store
                .alliances()
                .await?
                .iter()
                .map(|a| {
                    let members: Vec<String> = a
                        .member_unit_ids
                        .iter()
                        .map(|u| unit_code(Some(*u)))
                        .collect();
                    let groups: Vec<String> = a.groups.iter().map(|g| g.name.clone()).collect();
                    let unit = dir.unit(a.unit_id);
                    vec![
                        a.code.as_str().into(),
                        a.name.as_str().into(),
                        unit.map(|u| area_code(u.area_id))
                            .unwrap_or_default()
                            .into(),
                        unit.map(|u| u.level.label(lang)).unwrap_or_default().into(),
                        code_of(a.lead_org_id).into(),
                        members.join("、").into(),
                        groups.join("、").into(),
                        a.goals.as_str().into(),
                        date(a.ended_on),
                    ]
                })
                .collect(),
            Register::Activities => {
                let targets: HashMap<i64, String> = store
                    .targets()
                    .await?
                    .into_iter()
                    .map(|t| (t.id, t.name))
                    .collect();
                let mut out = Vec::new();
                let mut after = None;
                loop {
                    let page = store.activities(from, to, after, 5_000).await?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.id);
                    for a in &page {
                        let (code, name) =
                            org_code.get(&a.party_org_id).cloned().unwrap_or_default();
                        out.push(vec![
                            a.held_on.into(),
                            a.kind.label(lang).into(),
                            code.into(),
                            name.into(),
                            a.title.as_str().into(),
                            a.target_id
                                .and_then(|t| targets.get(&t).cloned())
                                .unwrap_or_default()
                                .into(),
                            Cell::Int(a.participants.len() as i64),
                            Cell::Int(a.people_served),
                            Cell::Int(a.suggestions.len() as i64),
                            Cell::Int(a.request_ids.len() as i64),
                            a.donation_items.as_str().into(),
                            Cell::Num(a.donation_value_fen as f64 / 100.0),
                            Cell::Num(a.hours),
                        ]);
                    }
                }
                out
            }
            Register::Suggestions => store
                .suggestions(from, to)
                .await?
                .iter()
                .map(|s| {
                    vec![
                        Cell::Int(s.id),
                        s.taken_on.into(),
                        dir.area(s.area_id)
                            .map(|a| a.name.clone())
                            .unwrap_or_default()
                            .into(),
                        redgrid_core::person::mask_text(&s.text).into(),
                        s.activity_id.map(Cell::Int).unwrap_or(Cell::Empty),
                        s.request_id.map(|r| Cell::Int(r.0)).unwrap_or(Cell::Empty),
                    ]
                })
                .collect(),
        };
        Ok(OutSheet {
            name: register.label(lang).to_string(),
            headers: register
                .columns()
                .iter()
                .map(|c| c.header(lang).to_string())
                .collect(),
            rows,
        })
    }

    /// Creates an alliance (党建联盟) and its unit.
    pub async fn create_alliance(&self, actor: &Actor, new: NewAlliance) -> Result<Alliance> {
        self.require_organiser(actor, &Subject::District)?;
        let new = NewAlliance {
            code: new.code.trim().to_string(),
            ..new
        };
        self.check_alliance(&new).await?;
        let all = self.store().alliances().await?;
        if all.iter().any(|a| a.code == new.code.trim()) {
            return Err(CoreError::Conflict(Conflict::AlreadyExists).into());
        }
        let a = self.store().save_alliance(&new, Change::by(actor)).await?;
        self.reload().await?;
        Ok(a)
    }

    /// The checks of an alliance's fields, for creating and editing it.
    async fn check_alliance(&self, new: &NewAlliance) -> Result<()> {
        let dir = self.directory();
        let mut errors = Vec::new();
        text_field(&mut errors, "code", &new.code, true, 40);
        text_field(&mut errors, "name", &new.name, true, 100);
        text_field(&mut errors, "goals", &new.goals, false, 1000);
        if dir.area(new.area_id).is_none() {
            errors.push(FieldError::new("area_id", "unknown"));
        }
        if new.member_unit_ids.is_empty() {
            errors.push(FieldError::new("member_unit_ids", "required"));
        }
        if new.member_unit_ids.len() > 200 {
            errors.push(FieldError::new("member_unit_ids", "too_many").with_limit(200));
        }
        for (i, u) in new.member_unit_ids.iter().enumerate() {
            if dir.unit(*u).is_none() {
                errors.push(FieldError::new(format!("member_unit_ids[{i}]"), "unknown"));
            }
        }
        let distinct: HashSet<_> = new.member_unit_ids.iter().collect();
        if distinct.len() != new.member_unit_ids.len() {
            errors.push(FieldError::new("member_unit_ids", "invalid"));
        }
        let names: HashSet<_> = new.groups.iter().map(|g| g.name.trim()).collect();
        if names.len() != new.groups.len() || names.contains("") {
            errors.push(FieldError::new("groups", "invalid"));
        }
        if let Some(lead) = new.lead_org_id
            && self.store().party_org(lead).await?.is_none()
        {
            errors.push(FieldError::new("lead_org_id", "unknown"));
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(())
    }

    /// The alliance with this code.
    async fn alliance_by_code(&self, code: &str) -> Result<Alliance> {
        let all = self.store().alliances().await?;
        all.into_iter()
            .find(|a| a.code == code.trim())
            .ok_or_else(|| CoreError::validation("code", "unknown").into())
    }

    /// Edits an alliance: its name, lead organisation, goals, member units and groups (the code,
    /// area and level stay). An ended alliance is not edited.
    pub async fn update_alliance(
        &self,
        actor: &Actor,
        code: &str,
        change: NewAlliance,
    ) -> Result<Alliance> {
        self.require_organiser(actor, &Subject::District)?;
        let current = self.alliance_by_code(code).await?;
        if current.ended_on.is_some() {
            return Err(CoreError::Conflict(Conflict::InUse).into());
        }
        let unit = self.directory().unit(current.unit_id).cloned();
        let change = NewAlliance {
            code: current.code.clone(),
            area_id: unit.as_ref().map_or(change.area_id, |u| u.area_id),
            level: unit.as_ref().map_or(change.level, |u| u.level),
            ..change
        };
        self.check_alliance(&change).await?;
        let a = self
            .store()
            .save_alliance(&change, Change::by(actor))
            .await?;
        self.reload().await?;
        Ok(a)
    }

    /// Ends an alliance (on `on`, default today): its unit takes no more requests; people granted
    /// roles in it keep the requests they hold.
    pub async fn end_alliance(
        &self,
        actor: &Actor,
        code: &str,
        on: Option<NaiveDate>,
    ) -> Result<Alliance> {
        self.require_organiser(actor, &Subject::District)?;
        let current = self.alliance_by_code(code).await?;
        let a = self
            .store()
            .end_alliance(current.id, on.unwrap_or_else(today), Change::by(actor))
            .await?
            .ok_or_else(|| StoreError::Corrupt("alliance vanished".into()))?;
        self.reload().await?;
        Ok(a)
    }

    /// Records one activity of an organisation in the actor's scope, with its suggestions and the
    /// requests it solved.
    pub async fn record_activity(&self, actor: &Actor, new: NewActivity) -> Result<i64> {
        let store = self.store();
        let Some(org) = store.party_org(new.party_org_id).await? else {
            return Err(CoreError::NotFound {
                entity: Entity::PartyOrg,
                id: new.party_org_id,
            }
            .into());
        };
        self.require_organiser(actor, &Subject::Area(org.area_id))?;
        let mut errors = Vec::new();
        text_field(&mut errors, "title", &new.title, true, MAX_TITLE);
        text_field(
            &mut errors,
            "donation_items",
            &new.donation_items,
            false,
            MAX_SUGGESTION,
        );
        if new.held_on > today() {
            errors.push(FieldError::new("held_on", "out_of_range"));
        }
        if !(0..=1_000_000).contains(&new.people_served) {
            errors.push(FieldError::new("people_served", "out_of_range"));
        }
        if !(0..=100_000_000_000).contains(&new.donation_value_fen) {
            errors.push(FieldError::new("donation_value_fen", "out_of_range"));
        }
        if !(0.0..=100_000.0).contains(&new.hours) || new.hours.is_nan() {
            errors.push(FieldError::new("hours", "out_of_range"));
        }
        if new.participants.len() > MAX_PARTICIPANTS {
            errors.push(
                FieldError::new("participants", "too_many").with_limit(MAX_PARTICIPANTS as i64),
            );
        } else {
            for (i, p) in new.participants.iter().enumerate() {
                if store.person(*p).await?.is_none() {
                    errors.push(FieldError::new(format!("participants[{i}]"), "unknown"));
                }
            }
        }
        if new.suggestions.len() > MAX_SUGGESTIONS {
            errors.push(
                FieldError::new("suggestions", "too_many").with_limit(MAX_SUGGESTIONS as i64),
            );
        }
        for (i, (_, text)) in new.suggestions.iter().enumerate() {
            text_field(
                &mut errors,
                &format!("suggestions[{i}]"),
                text,
                true,
                MAX_SUGGESTION,
            );
        }
        if new.request_ids.len() > MAX_LINKED_REQUESTS {
            errors.push(
                FieldError::new("request_ids", "too_many").with_limit(MAX_LINKED_REQUESTS as i64),
            );
        } else {
            let found = store.existing_requests(&new.request_ids).await?;
            for (i, r) in new.request_ids.iter().enumerate() {
                if !found.contains(r) {
                    errors.push(FieldError::new(format!("request_ids[{i}]"), "unknown"));
                }
            }
        }
        let mut target = new.target_id;
        if let Some(p) = new.pairing_id {
            match store.pairings().await?.into_iter().find(|x| x.id == p) {
                None => errors.push(FieldError::new("pairing_id", "unknown")),
                Some(pairing) => {
                    if target.is_some_and(|t| t != pairing.target_id) {
                        errors.push(FieldError::new("target_id", "not_allowed"));
                    }
                    target = Some(pairing.target_id);
                }
            }
        }
        let targets = store.targets().await?;
        let target_area = match target {
            None => None,
            Some(t) => match targets.iter().find(|x| x.id == t) {
                Some(t) => Some(t.area_id),
                None => {
                    errors.push(FieldError::new("target_id", "unknown"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        // Suggestions lie where the activity served: the target's area, else the organisation's.
        let area = target_area.unwrap_or(org.area_id);
        let mut new = new;
        new.target_id = target;
        new.recorded_by = actor.person_id();
        for s in &mut new.suggestions {
            s.0 = area;
            s.1 = s.1.trim().to_string();
        }
        let ids = store.record_activities(&[new], Change::by(actor)).await?;
        ids.first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("no activity id returned".into()))
    }

    /// Files a suggestion as a request (channel `suggestion_box`) in the suggestion's area, or in
    /// `area` (a grid or community inside it) when the suggestion lies higher up; the suggestion then
    /// points to it. A suggestion becomes at most one request.
    pub async fn suggestion_to_request(
        &self,
        actor: &Actor,
        id: i64,
        area: Option<AreaId>,
    ) -> Result<Request> {
        let store = self.store();
        let Some(s) = store.suggestion(id).await? else {
            return Err(CoreError::NotFound {
                entity: Entity::Suggestion,
                id,
            }
            .into());
        };
        self.require_organiser(actor, &Subject::Area(s.area_id))?;
        if s.request_id.is_some() {
            return Err(CoreError::Conflict(Conflict::AlreadyExists).into());
        }
        if let Some(a) = area
            && !self.directory().contains(s.area_id, a)
        {
            return Err(invalid(vec![FieldError::new("area_id", "outside_area")]));
        }
        let input = SubmitInput {
            category_id: None,
            channel: Some(Channel::SuggestionBox),
            description: Some(s.text.clone()),
            area_id: Some(area.unwrap_or(s.area_id)),
            ..Default::default()
        };
        // Filed by the system on the organisation's behalf: no requester, rated by a follow-up call.
        let key = format!("suggestion-{id}");
        let (request, _) = self
            .submit(&Actor::System, &input, vec![], Some(&key), now())
            .await?;
        store
            .link_suggestion(id, request.id, Change::by(actor))
            .await?;
        Ok(request)
    }

    pub async fn create_campaign(&self, actor: &Actor, new: NewCampaign) -> Result<Campaign> {
        self.require_organiser(actor, &Subject::District)?;
        let mut errors = Vec::new();
        text_field(&mut errors, "code", &new.code, true, 40);
        text_field(&mut errors, "name", &new.name, true, 100);
        if new.ends_on < new.starts_on {
            errors.push(FieldError::new("ends_on", "out_of_range"));
        }
        if let Some(root) = new.root_org_id
            && self.store().party_org(root).await?.is_none()
        {
            errors.push(FieldError::new("root_org_id", "unknown"));
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let mut new = new;
        new.code = new.code.trim().to_string();
        new.name = new.name.trim().to_string();
        self.store().create_campaign(&new, Change::by(actor)).await
    }

    /// A campaign by code, for those who may read district-wide figures.
    pub async fn campaign(&self, actor: &Actor, code: &str) -> Result<Campaign> {
        let dir = self.directory();
        policy::permit(&dir, actor, Action::Assess, &Subject::District)?;
        self.store()
            .campaigns()
            .await?
            .into_iter()
            .find(|c| c.code == code)
            .ok_or_else(|| {
                CoreError::NotFound {
                    entity: Entity::Campaign,
                    id: 0,
                }
                .into()
            })
    }

    /// A campaign's statistics for `[from, to]` (default: the campaign's own period), clipped to the
    /// campaign.
    pub async fn campaign_stats(
        &self,
        actor: &Actor,
        code: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<CampaignStats> {
        let c = self.campaign(actor, code).await?;
        let (from, to) = clip(&c, from, to)?;
        let (input, member_orgs) = self.store().stats_input(from, to).await?;
        Ok(campaign_stats(&c, &input, &member_orgs, from, to))
    }

    /// The campaign's branches with no pairing in force in `[from, to]`.
    pub async fn unpaired(
        &self,
        actor: &Actor,
        code: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<(Campaign, Vec<PartyOrg>)> {
        let c = self.campaign(actor, code).await?;
        let (from, to) = clip(&c, from, to)?;
        let orgs = self.store().party_orgs().await?;
        let pairings = self.store().pairings().await?;
        let out = unpaired_branches(&c, &orgs, &pairings, from, to)
            .into_iter()
            .cloned()
            .collect();
        Ok((c, out))
    }
}

fn clip(
    c: &Campaign,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(NaiveDate, NaiveDate)> {
    let from = from.unwrap_or(c.starts_on).max(c.starts_on);
    let to = to.unwrap_or(c.ends_on).min(c.ends_on);
    if to < from {
        return Err(invalid(vec![FieldError::new("to", "out_of_range")]));
    }
    Ok((from, to))
}

/// Rows a register is read in at a time, for the registers read page by page.
const PAGE: i64 = 10_000;

/// Every row of a register read page by page: `page(after)` gives the rows after the key `after`
/// (from the start when `None`), in key order; `key` is a row's key.
async fn every_page<T, K, P, F>(page: P, key: impl Fn(&T) -> K) -> Result<Vec<T>>
where
    P: Fn(Option<K>) -> F,
    F: std::future::Future<Output = Result<Vec<T>>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let rows = page(after).await?;
        let Some(last) = rows.last() else { break };
        after = Some(key(last));
        out.extend(rows);
    }
    Ok(out)
}

/// The campaign's figures in one sentence, as the seed reports give them (the page's headline and
/// the command line's summary).
pub fn headline(s: &CampaignStats, lang: Lang) -> String {
    let (from, to) = (s.from, s.to);
    let Figures {
        branches,
        members,
        targets_paired: paired,
        visits,
        publicity_sessions: publicity,
        theme_days,
        volunteer_services: services,
        suggestions,
        suggestions_to_requests: filed,
        problems_solved: solved,
        donated_value_fen: fen,
        people_served: served,
        ..
    } = s.total;
    let yuan = fen as f64 / 100.0;
    match lang {
        Lang::Zh => format!(
            "{from}至{to}，{branches}个党组织、{members}名党员参与，联系服务对象{paired}个，走访调研{visits}次，收集意见建议{suggestions}条（转为诉求{filed}件），开展政策宣讲{publicity}场、主题党日{theme_days}次、志愿服务{services}次，解决问题{solved}件，捐赠价值{yuan:.2}元，服务群众{served}人次。"
        ),
        Lang::En => format!(
            "From {from} to {to}: {branches} party organisations and {members} members took part; {paired} targets paired; {visits} visits; {suggestions} suggestions ({filed} filed as requests); {publicity} publicity sessions, {theme_days} theme days, {services} volunteer services; {solved} problems solved; donations worth {yuan:.2} yuan; {served} people served."
        ),
    }
}

/// The labels of the statistics' columns, in order.
pub fn figure_headers(lang: Lang) -> Vec<String> {
    [
        ("参与党组织（个）", "branches taking part"),
        ("参与党员（人）", "members taking part"),
        ("联系服务对象（个）", "targets paired"),
        ("走访调研（次）", "visits"),
        ("政策宣讲（场）", "publicity sessions"),
        ("主题党日（次）", "theme days"),
        ("会议（次）", "meetings"),
        ("志愿服务（次）", "volunteer services"),
        ("捐赠（次）", "donations"),
        ("收集意见建议（条）", "suggestions"),
        ("建议转诉求（件）", "suggestions filed as requests"),
        ("解决问题（件）", "problems solved"),
        ("捐赠价值（元）", "donated value (yuan)"),
        ("服务群众（人次）", "people served"),
        ("志愿服务时长（小时）", "volunteer hours"),
    ]
    .iter()
    .map(|(zh, en)| lang.pick(zh, en).to_string())
    .collect()
}

/// A row of figures as cells, in the order of [`figure_headers`].
pub fn figure_cells(f: &Figures) -> Vec<Cell> {
    vec![
        Cell::Int(f.branches),
        Cell::Int(f.members),
        Cell::Int(f.targets_paired),
        Cell::Int(f.visits),
        Cell::Int(f.publicity_sessions),
        Cell::Int(f.theme_days),
        Cell::Int(f.meetings),
        Cell::Int(f.volunteer_services),
        Cell::Int(f.donations),
        Cell::Int(f.suggestions),
        Cell::Int(f.suggestions_to_requests),
        Cell::Int(f.problems_solved),
        Cell::Num(f.donated_value_fen as f64 / 100.0),
        Cell::Int(f.people_served),
        Cell::Num(f.volunteer_hours),
    ]
}

/// The statistics as a workbook: a sheet with the total and one row per unit, and a sheet of the
/// unpaired branches.
pub fn stats_workbook(
    s: &CampaignStats,
    unpaired: &[PartyOrg],
    lang: Lang,
) -> Result<Vec<u8>, String> {
    let mut headers = vec![lang.pick("单位", "unit").to_string()];
    headers.extend(figure_headers(lang));
    let mut rows = Vec::with_capacity(s.units.len() + 1);
    let mut total = vec![Cell::from(lang.pick("合计", "total"))];
    total.extend(figure_cells(&s.total));
    rows.push(total);
    for u in &s.units {
        let name = if u.unit_name.is_empty() {
            lang.pick("未关联单位", "no unit").to_string()
        } else {
            u.unit_name.clone()
        };
        let mut row = vec![Cell::from(name)];
        row.extend(figure_cells(&u.figures));
        rows.push(row);
    }
    let period = format!("{} – {}", s.from, s.to);
    let title = format!("{}（{period}）", s.campaign.name);
    let unpaired_rows = unpaired
        .iter()
        .map(|o| {
            vec![
                Cell::from(o.code.as_str()),
                Cell::from(o.name.as_str()),
                Cell::from(o.kind.label(lang)),
            ]
        })
        .collect();
    tabular::write_xlsx(&[
        OutSheet {
            name: lang.pick("统计", "figures").to_string(),
            headers,
            rows,
        },
        OutSheet {
            name: lang.pick("未结对支部", "unpaired branches").to_string(),
            headers: vec![
                lang.pick("组织编码", "code").to_string(),
                lang.pick("组织名称", "name").to_string(),
                lang.pick("组织类别", "kind").to_string(),
            ],
            rows: unpaired_rows,
        },
        OutSheet {
            name: lang.pick("说明", "about").to_string(),
            headers: vec![
                lang.pick("项目", "campaign").to_string(),
                lang.pick("统计期间", "period").to_string(),
            ],
            rows: vec![vec![Cell::from(title), Cell::from(period)]],
        },
    ])
}

/// The year of a date, as the default period of CLI reports.
pub fn year_bounds(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

/// This year, in China.
pub fn this_year() -> i32 {
    today().year()
}
