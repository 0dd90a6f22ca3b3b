//! `redgrid demo`: builds a realistic demo district and its history through the real command path
//! (every request is carried by the service, step by step, with back-dated times), so that the
//! ledger, `redgrid check` and every later report see exactly what real use would produce.

pub mod data;
pub mod org;

use crate::Service;
use chrono::{DateTime, Duration, Utc};
use data::ItemSpec;
use redgrid_core::area::{Area, Level};
use redgrid_core::catalogue::{CategoryItem, Tier};
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Grant, Person, Role, Scope};
use redgrid_core::redact::redact;
use redgrid_core::request::{Channel, RejectCode, Request, Satisfaction, Status};
use redgrid_core::unit::{Unit, UnitKind};
use redgrid_store::{ItemFields, NewArea, NewClass, NewPerson, NewUnit, Result, StoreError};
use std::collections::BTreeMap;

/// A small deterministic random generator (SplitMix64): the same seed builds the same district.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A duration between `lo` and `hi` minutes, skewed towards the short end.
    pub fn minutes(&mut self, lo: i64, hi: i64) -> Duration {
        let u = self.unit();
        Duration::minutes(lo + ((hi - lo) as f64 * u * u) as i64)
    }
}

pub(crate) struct GridInfo {
    pub(crate) area: Area,
    pub(crate) team: Unit,
    pub(crate) worker: Person,
    pub(crate) helpers: Vec<Person>,
    pub(crate) community: usize,
}

pub(crate) struct CommunityInfo {
    pub(crate) area: Area,
    pub(crate) office: Unit,
    pub(crate) team: Unit,
    pub(crate) staff: Vec<Person>,
    pub(crate) verifier: Person,
    pub(crate) members: Vec<Person>,
    pub(crate) street: usize,
    pub(crate) grids: Vec<usize>,
}

pub(crate) struct StreetInfo {
    pub(crate) office: Unit,
    pub(crate) staff: Vec<Person>,
}

pub(crate) struct Resident {
    pub(crate) person: Person,
    pub(crate) grid: usize,
}

/// The demo district: who is who, for driving requests and for printing demo tokens.
pub struct District {
    pub name: String,
    pub(crate) grids: Vec<GridInfo>,
    pub(crate) communities: Vec<CommunityInfo>,
    pub(crate) streets: Vec<StreetInfo>,
    pub(crate) departments: Vec<(Unit, Vec<Person>)>,
    pub(crate) district_office: (Unit, Vec<Person>),
    pub(crate) admins: Vec<Person>,
    pub(crate) supervisors: Vec<Person>,
    /// Reads the access log of personal data (and nothing else).
    pub(crate) auditor: Person,
    pub(crate) residents: Vec<Resident>,
    pub(crate) items: Vec<(CategoryItem, &'static ItemSpec)>,
}

/// What the demo built.
pub struct Summary {
    pub areas: usize,
    pub units: usize,
    pub people: i64,
    pub by_status: BTreeMap<&'static str, usize>,
}

pub(crate) struct Names {
    rng: Rng,
    phone: u64,
}

impl Names {
    pub(crate) fn new(seed: u64) -> Self {
        Names {
            rng: Rng::new(seed),
            phone: 0,
        }
    }
    pub(crate) fn name(&mut self) -> String {
        format!(
            "{}{}",
            self.rng.pick(data::SURNAMES),
            self.rng.pick(data::GIVEN_NAMES)
        )
    }
    fn phone(&mut self) -> String {
        self.phone += 1;
        let prefix =
            ["139", "138", "137", "136", "158", "186", "135", "150"][(self.phone % 8) as usize];
        format!("{prefix}{:08}", 20_000_000 + self.phone * 7)
    }
}

/// Makes the demo's people: each with an invented name and phone, and one grant.
struct Hire<'a> {
    service: &'a Service,
    names: Names,
}

impl Hire<'_> {
    async fn person(&mut self, role: Role, scope: Scope) -> Result<Person> {
        let new = NewPerson {
            name: self.names.name(),
            phone: Some(self.names.phone()),
            grants: vec![Grant { role, scope }],
        };
        let store = self.service.store();
        store
            .create_person(new, redgrid_store::Change::system())
            .await
    }

    /// One person for each role in the unit, in one transaction, in that order.
    async fn crew(&mut self, roles: &[Role], unit: UnitId) -> Result<Vec<Person>> {
        let new = roles
            .iter()
            .map(|role| NewPerson {
                name: self.names.name(),
                phone: Some(self.names.phone()),
                grants: vec![Grant {
                    role: *role,
                    scope: Scope::Unit(unit),
                }],
            })
            .collect();
        self.service
            .store()
            .create_people(new, redgrid_store::Change::system())
            .await
    }

    /// `n` people in one transaction.
    async fn people(&mut self, n: usize, role: Role, scope: Scope) -> Result<Vec<Person>> {
        let new = (0..n)
            .map(|_| NewPerson {
                name: self.names.name(),
                phone: Some(self.names.phone()),
                grants: vec![Grant { role, scope }],
            })
            .collect();
        self.service
            .store()
            .create_people(new, redgrid_store::Change::system())
            .await
    }
}

async fn area(
    service: &Service,
    parent: Option<&Area>,
    kind: Level,
    code: String,
    name: String,
) -> Result<Area> {
    service
        .store()
        .create_area(
            NewArea {
                parent_id: parent.map(|p| p.id),
                kind,
                code,
                name,
            },
            redgrid_store::Change::system(),
        )
        .await
}

/// A unit of `kind` serving `area`, handling at its kind's usual level.
async fn unit(
    service: &Service,
    name: String,
    kind: UnitKind,
    area: &Area,
    parent: Option<UnitId>,
) -> Result<Unit> {
    service
        .store()
        .create_unit(
            NewUnit {
                name,
                kind,
                area_id: area.id,
                level: kind.default_level(area.kind),
                parent_id: parent,
                code: None,
            },
            redgrid_store::Change::system(),
        )
        .await
}

/// Builds the district's areas, units, catalogue and people.
pub async fn build_district(service: &Service, seed: u64, residents: usize) -> Result<District> {
    let mut rng = Rng::new(seed);
    let mut hire = Hire {
        service,
        names: Names {
            rng: Rng::new(seed.wrapping_add(1)),
            phone: 0,
        },
    };
    let name = "滨城新区".to_string();
    let district = area(
        service,
        None,
        Level::District,
        "120199".into(),
        name.clone(),
    )
    .await?;
    let mut streets = Vec::new();
    let mut communities = Vec::new();
    let mut grids = Vec::new();
    let per_street = data::COMMUNITIES.len() / data::STREETS.len();
    for (si, (street_name, _)) in data::STREETS.iter().enumerate() {
        let street_code = format!("120199{:03}", si + 1);
        let street = area(
            service,
            Some(&district),
            Level::Street,
            street_code.clone(),
            street_name.to_string(),
        )
        .await?;
        let office = unit(
            service,
            format!("{street_name}办事处"),
            UnitKind::StreetOffice,
            &street,
            None,
        )
        .await?;
        let staff = hire
            .people(2, Role::StreetStaff, Scope::Unit(office.id))
            .await?;
        // The street's party working committee verifies street-level work.
        hire.person(Role::Verifier, Scope::Area(street.id)).await?;
        for ci in 0..per_street {
            let community_name = data::COMMUNITIES[si * per_street + ci];
            let code = format!("{street_code}{:03}", ci + 1);
            let c = area(
                service,
                Some(&street),
                Level::Community,
                code.clone(),
                community_name.to_string(),
            )
            .await?;
            let office_name = if community_name.ends_with('村') {
                "村民委员会"
            } else {
                "居民委员会"
            };
            let c_office = unit(
                service,
                format!("{community_name}{office_name}"),
                UnitKind::CommunityOffice,
                &c,
                None,
            )
            .await?;
            let c_team = unit(
                service,
                format!("{community_name}党员志愿服务队"),
                UnitKind::Team,
                &c,
                Some(c_office.id),
            )
            .await?;
            let c_staff = hire
                .people(2, Role::CommunityStaff, Scope::Unit(c_office.id))
                .await?;
            let verifier = hire.person(Role::Verifier, Scope::Area(c.id)).await?;
            let members = hire.people(3, Role::Member, Scope::Unit(c_team.id)).await?;
            let ci_index = communities.len();
            let mut grid_ids = Vec::new();
            let n_grids = 5 + rng.below(4);
            for gi in 0..n_grids {
                let g = area(
                    service,
                    Some(&c),
                    Level::Grid,
                    format!("{code}{:02}", gi + 1),
                    format!("{community_name}第{}网格", gi + 1),
                )
                .await?;
                let team = unit(
                    service,
                    format!("{community_name}第{}网格党小组", gi + 1),
                    UnitKind::GridTeam,
                    &g,
                    None,
                )
                .await?;
                let mut crew = hire
                    .crew(&[Role::GridWorker, Role::Volunteer, Role::Member], team.id)
                    .await?
                    .into_iter();
                let (Some(worker), helpers) = (crew.next(), crew.collect::<Vec<_>>()) else {
                    return Err(StoreError::Corrupt("a grid without its worker".into()));
                };
                grid_ids.push(grids.len());
                grids.push(GridInfo {
                    area: g,
                    team,
                    worker,
                    helpers,
                    community: ci_index,
                });
            }
            communities.push(CommunityInfo {
                area: c,
                office: c_office,
                team: c_team,
                staff: c_staff,
                verifier,
                members,
                street: si,
                grids: grid_ids,
            });
        }
        streets.push(StreetInfo { office, staff });
    }
    let mut departments = Vec::new();
    for (zh, _) in data::DEPARTMENTS {
        let u = unit(
            service,
            zh.to_string(),
            UnitKind::Department,
            &district,
            None,
        )
        .await?;
        let staff = hire
            .people(2, Role::DepartmentStaff, Scope::Unit(u.id))
            .await?;
        departments.push((u, staff));
    }
    let office = unit(
        service,
        "区社会治理服务中心".into(),
        UnitKind::DistrictOffice,
        &district,
        None,
    )
    .await?;
    let office_staff = hire
        .people(2, Role::DepartmentStaff, Scope::Unit(office.id))
        .await?;
    let admins = hire
        .people(2, Role::DistrictAdmin, Scope::Area(district.id))
        .await?;
    let supervisors = hire
        .people(2, Role::Supervisor, Scope::Area(district.id))
        .await?;
    hire.person(Role::Verifier, Scope::Area(district.id))
        .await?;
    let auditor = hire.person(Role::Auditor, Scope::Area(district.id)).await?;

    // The catalogue.
    let mut items = Vec::new();
    for (ci, class) in data::CATALOGUE.iter().enumerate() {
        let c = service
            .store()
            .create_class(
                NewClass {
                    code: class.code.into(),
                    name_zh: class.name_zh.into(),
                    name_en: class.name_en.into(),
                    sort: ci as i32 + 1,
                },
                redgrid_store::Change::system(),
            )
            .await?;
        for (ii, spec) in class.items.iter().enumerate() {
            let tier = Tier::parse(spec.tier).unwrap_or(Tier::Minor);
            let item = service
                .store()
                .create_item(
                    ItemFields {
                        class_id: c.id,
                        code: spec.code.into(),
                        name_zh: spec.name_zh.into(),
                        name_en: spec.name_en.into(),
                        default_tier: tier,
                        default_level: tier.default_level(),
                        respond_limit: None,
                        resolve_limit: None,
                        active: true,
                        sort: ii as i32 + 1,
                    },
                    redgrid_store::Change::system(),
                )
                .await?;
            items.push((item, spec));
        }
    }

    // Residents, each living in one grid, made in one transaction.
    let homes: Vec<usize> = (0..residents).map(|_| rng.below(grids.len())).collect();
    let people: Vec<Resident> = hire
        .people(residents, Role::Resident, Scope::Area(district.id))
        .await?
        .into_iter()
        .zip(homes)
        .map(|(person, grid)| Resident { person, grid })
        .collect();
    service.reload().await?;
    Ok(District {
        name,
        grids,
        communities,
        streets,
        departments,
        district_office: (office, office_staff),
        admins,
        supervisors,
        auditor,
        residents: people,
        items,
    })
}

fn tier_weight(t: Tier) -> usize {
    match t {
        Tier::Micro => 6,
        Tier::Minor => 6,
        Tier::Medium => 3,
        Tier::Major => 2,
        Tier::Hard => 1,
    }
}

/// How long the handler takes to resolve, by tier (minutes).
fn work_time(rng: &mut Rng, t: Tier) -> Duration {
    match t {
        Tier::Micro => rng.minutes(60, 60 * 20),
        Tier::Minor => rng.minutes(120, 60 * 24 * 3),
        Tier::Medium => rng.minutes(60 * 12, 60 * 24 * 6),
        Tier::Major => rng.minutes(60 * 24, 60 * 24 * 12),
        Tier::Hard => rng.minutes(60 * 24 * 4, 60 * 24 * 25),
    }
}

/// Carries one request as far as the clock allows.
struct Walk<'a> {
    service: &'a Service,
    d: &'a District,
    rng: &'a mut Rng,
    now: DateTime<Utc>,
    t: DateTime<Utc>,
    r: Request,
}

impl<'a> Walk<'a> {
    /// Advances the clock by a random span; false when the step would lie in the future.
    fn later_by(&mut self, span: impl FnOnce(&mut Rng) -> Duration) -> bool {
        let by = span(self.rng);
        self.later(by)
    }

    /// Advances the clock; false when the step would lie in the future.
    fn later(&mut self, by: Duration) -> bool {
        self.t += by;
        self.t <= self.now
    }

    async fn run(&mut self, who: &Actor, cmd: Command) -> Result<()> {
        let (r, _) = self
            .service
            .run(self.r.id, who, &cmd, vec![], self.t)
            .await?;
        self.r = r;
        Ok(())
    }

    fn grid(&self) -> &'a GridInfo {
        let grid_area = self.r.location.grid_id;
        let d: &'a District = self.d;
        d.grids
            .iter()
            .find(|g| Some(g.area.id) == grid_area)
            .unwrap_or(&d.grids[0])
    }

    fn community(&self) -> &'a CommunityInfo {
        let d: &'a District = self.d;
        &d.communities[self.grid().community]
    }

    /// Staff who dispatch and escalate at the request's current level.
    fn level_staff(&mut self) -> Actor {
        let p = match self.r.level {
            Level::Grid => self.grid().worker.clone(),
            Level::Community => self.rng.pick(&self.community().staff).clone(),
            Level::Street => {
                let s = self.community().street;
                self.rng.pick(&self.d.streets[s].staff).clone()
            }
            Level::District => self.d.admins[0].clone(),
        };
        Actor::Person(p)
    }

    /// A unit to dispatch to at the current level, and someone in it who will claim.
    fn target(&mut self) -> (UnitId, Person) {
        match self.r.level {
            Level::Grid => {
                let g = self.grid();
                let claimer = if self.rng.chance(0.4) {
                    g.worker.clone()
                } else {
                    self.rng.pick(&g.helpers).clone()
                };
                (g.team.id, claimer)
            }
            Level::Community => {
                let c = self.community();
                if self.rng.chance(0.5) {
                    (c.team.id, self.rng.pick(&c.members).clone())
                } else {
                    (c.office.id, self.rng.pick(&c.staff).clone())
                }
            }
            Level::Street => {
                if self.rng.chance(0.5) {
                    let (u, staff) = self.rng.pick(&self.d.departments);
                    (u.id, self.rng.pick(staff).clone())
                } else {
                    let s = &self.d.streets[self.community().street];
                    (s.office.id, self.rng.pick(&s.staff).clone())
                }
            }
            Level::District => {
                let (u, staff) = &self.d.district_office;
                (u.id, self.rng.pick(staff).clone())
            }
        }
    }

    fn approver_above(&mut self) -> Option<PersonId> {
        match self.r.level {
            Level::Grid => Some(self.rng.pick(&self.community().staff).id),
            Level::Community => {
                let s = self.community().street;
                Some(self.rng.pick(&self.d.streets[s].staff).id)
            }
            Level::Street => Some(self.d.admins[0].id),
            Level::District => None,
        }
    }

    /// Dispatch, claim, work (with the side paths), resolve, verify. Returns false when the clock ran out.
    async fn handle(
        &mut self,
        tier: Tier,
        resolutions: &[&str],
        mut reclaim: bool,
    ) -> Result<bool> {
        loop {
            let claimer = if reclaim {
                // Reopened after an unhappy rating: the unit it stayed with claims it again.
                reclaim = false;
                self.unit_staff()
            } else {
                if !self.later_by(|r| r.minutes(5, 60 * 6)) {
                    return Ok(false);
                }
                let (unit, claimer) = self.target();
                let staff = self.level_staff();
                self.run(
                    &staff,
                    Command::Dispatch {
                        unit_id: Some(unit),
                    },
                )
                .await?;
                claimer
            };
            if !self.later_by(|r| r.minutes(10, 60 * 20)) {
                return Ok(false);
            }
            if self.rng.chance(0.03) {
                // 退单: only a unit's staff may send it back (a team of members simply claims).
                let staff = self.unit_staff();
                if staff.grants.iter().any(|g| g.role.staff_level().is_some()) {
                    let reason = self.rng.pick(data::RETURN_REASONS).to_string();
                    self.run(
                        &Actor::Person(staff),
                        Command::Return {
                            reason: Some(reason),
                        },
                    )
                    .await?;
                    continue;
                }
            }
            let handler = Actor::Person(claimer.clone());
            self.run(&handler, Command::Claim {}).await?;
            if self.r.level != Level::District && self.rng.chance(0.08) {
                if !self.later_by(|r| r.minutes(60, 60 * 30)) {
                    return Ok(false);
                }
                let staff = self.level_staff();
                let reason = self.rng.pick(data::ESCALATE_REASONS).to_string();
                self.run(
                    &staff,
                    Command::Escalate {
                        reason: Some(reason),
                    },
                )
                .await?;
                continue;
            }
            if self.rng.chance(0.6) {
                if !self.later_by(|r| r.minutes(10, 60 * 8)) {
                    return Ok(false);
                }
                let text = self.rng.pick(data::NOTES).to_string();
                self.run(
                    &handler,
                    Command::Note {
                        text: Some(text),
                        contact_made: Some(true),
                    },
                )
                .await?;
            }
            if self.rng.chance(0.03)
                && let Some(approver) = self.approver_above()
            {
                if !self.later_by(|r| r.minutes(60, 60 * 24)) {
                    return Ok(false);
                }
                let staff = self.level_staff();
                let reason = self.rng.pick(data::SUSPEND_REASONS).to_string();
                self.run(
                    &staff,
                    Command::Suspend {
                        reason: Some(reason),
                        approver_id: Some(approver),
                    },
                )
                .await?;
                if !self.later_by(|r| r.minutes(60 * 24 * 3, 60 * 24 * 40)) || self.rng.chance(0.3)
                {
                    return Ok(false);
                }
                self.run(&staff, Command::Resume {}).await?;
            }
            let mut work = work_time(self.rng, tier);
            let four_days = Duration::days(4);
            if work > four_days && self.t + four_days <= self.now && self.rng.chance(0.4) {
                self.t += four_days;
                work -= four_days;
                let sup = Actor::Person(self.rng.pick(&self.d.supervisors).clone());
                let order = self.rng.pick(data::SUPERVISE_ORDERS).to_string();
                self.run(&sup, Command::Supervise { order: Some(order) })
                    .await?;
            }
            if !self.later(work) {
                return Ok(false);
            }
            loop {
                let summary = self.rng.pick(resolutions).to_string();
                let cost = self
                    .rng
                    .chance(0.3)
                    .then(|| (self.rng.below(500) as i64 + 1) * 100);
                // Most handlers approve the draft of their result; the rest leave it to the verifier.
                let public = self.rng.chance(0.7).then(|| redact(&summary, &[]));
                self.run(
                    &handler,
                    Command::Resolve {
                        outcome: None,
                        summary: Some(summary),
                        evidence: vec![],
                        cost_fen: cost,
                        public_summary: public,
                    },
                )
                .await?;
                if !self.later_by(|r| r.minutes(30, 60 * 40)) {
                    return Ok(false);
                }
                let verifier = Actor::Person(self.community().verifier.clone());
                if self.rng.chance(0.07) {
                    let reason = self.rng.pick(data::VERIFY_FAIL_REASONS).to_string();
                    self.run(
                        &verifier,
                        Command::Verify {
                            passed: Some(false),
                            reason: Some(reason),
                            reached: Some(true),
                        },
                    )
                    .await?;
                    if !self.later_by(|r| work_time(r, Tier::Micro)) {
                        return Ok(false);
                    }
                    continue;
                }
                self.run(
                    &verifier,
                    Command::Verify {
                        passed: Some(true),
                        reason: None,
                        reached: Some(true),
                    },
                )
                .await?;
                if self.r.public_result.is_none()
                    && let Some(result) = self.r.resolution.clone()
                {
                    self.run(
                        &verifier,
                        Command::Publish {
                            need: None,
                            result: Some(redact(&result, &[])),
                        },
                    )
                    .await?;
                }
                return Ok(true);
            }
        }
    }
}

/// Files `count` requests over the last `days` days and carries each as far as its age allows.
pub async fn build_requests(
    service: &Service,
    d: &District,
    seed: u64,
    count: usize,
    days: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut rng = Rng::new(seed.wrapping_add(7));
    let mut created: Vec<DateTime<Utc>> = (0..count)
        .map(|_| {
            let back = Duration::minutes((rng.unit() * (days * 24 * 60) as f64) as i64);
            now - back
        })
        .collect();
    created.sort();
    let weights: Vec<usize> = d
        .items
        .iter()
        .map(|(i, _)| tier_weight(i.default_tier))
        .collect();
    let total: usize = weights.iter().sum();
    // Each request is planned here in turn (who files what, where), then walked through its life
    // with a random stream of its own, `WAVE` requests at a time: their commands reach the store
    // together and share its transactions, as a busy district's would. Duplicates point at
    // requests of earlier waves.
    let mut filed: Vec<(RequestId, AreaId)> = Vec::new();
    let mut plans = Vec::with_capacity(WAVE);
    for (n, at) in created.into_iter().enumerate() {
        // The first resident files often, so their demo token shows a full history.
        let resident = if n % 40 == 0 {
            &d.residents[0]
        } else {
            rng.pick(&d.residents)
        };
        let mut w = rng.below(total.max(1));
        let mut idx = 0;
        while idx + 1 < weights.len() && w >= weights[idx] {
            w -= weights[idx];
            idx += 1;
        }
        let (item, spec) = &d.items[idx];
        let mut grid = &d.grids[resident.grid];
        if rng.chance(0.15) {
            let c = &d.communities[grid.community];
            grid = &d.grids[*rng.pick(&c.grids)];
        }
        let c = &d.communities[grid.community];
        let road = rng.pick(data::ROADS);
        let address = format!(
            "{}{}号{}号楼{}单元",
            road,
            rng.below(300) + 1,
            rng.below(30) + 1,
            rng.below(6) + 1
        );
        let roll = rng.unit();
        let (who, channel, contact) = if roll < 0.5 {
            (Actor::Person(resident.person.clone()), Channel::App, None)
        } else if roll < 0.6 {
            (Actor::Person(resident.person.clone()), Channel::Web, None)
        } else if roll < 0.8 {
            (
                Actor::Person(rng.pick(&c.staff).clone()),
                Channel::Hotline,
                Some(&resident.person),
            )
        } else if roll < 0.88 {
            (
                Actor::Person(rng.pick(&c.staff).clone()),
                Channel::Window,
                Some(&resident.person),
            )
        } else {
            (
                Actor::Person(grid.worker.clone()),
                Channel::GridPatrol,
                None,
            )
        };
        // Some residents say who they are and where they live, or leave a number, in their own
        // words: the public lists must never show it (the intake staff approve a summary without).
        let mut description = rng.pick(spec.descriptions).to_string();
        let roll = rng.unit();
        if channel == Channel::GridPatrol {
            // A grid worker's own report names nobody.
        } else if roll < 0.15 {
            description = format!(
                "我是{}，住{}{}室，{description}",
                resident.person.name,
                address,
                rng.below(20) * 100 + 101
            );
        } else if roll < 0.25
            && let Some(phone) = &resident.person.phone
        {
            description = format!("{description}。联系电话{phone}，{}", resident.person.name);
        }
        let input = SubmitInput {
            restricted: false,
            category_id: None,
            channel: Some(channel),
            description: Some(description),
            area_id: Some(grid.area.id),
            address: Some(address),
            lat: None,
            lon: None,
            requester_name: contact.map(|p| p.name.clone()),
            requester_phone: contact.and_then(|p| p.phone.clone()),
            attachments: vec![],
        };
        let walk_seed = seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        plans.push((who, input, at, item, *spec, c, walk_seed));
        if plans.len() == WAVE {
            file_wave(service, d, now, &mut plans, &mut filed).await?;
        }
    }
    file_wave(service, d, now, &mut plans, &mut filed).await
}

/// How many demo requests are walked at once: as many as the SQLite writer takes into one
/// transaction (256 commands), so its batches run full (64 built the demo in 11.0 s here, 256 in
/// 9.8–9.9 s; the WAL's peak rose from 18 to 30 MB, under its 64 MB limit).
const WAVE: usize = 256;

type Plan<'a> = (
    Actor,
    SubmitInput,
    DateTime<Utc>,
    &'a CategoryItem,
    &'a data::ItemSpec,
    &'a CommunityInfo,
    u64,
);

/// Files and walks the planned requests concurrently, then adds them to `filed`.
async fn file_wave<'a>(
    service: &Service,
    d: &District,
    now: DateTime<Utc>,
    plans: &mut Vec<Plan<'a>>,
    filed: &mut Vec<(RequestId, AreaId)>,
) -> Result<()> {
    let earlier: &[(RequestId, AreaId)] = filed;
    let walks = plans
        .drain(..)
        .map(|(who, input, at, item, spec, c, walk_seed)| async move {
            let (r, _) = service.submit(&who, &input, vec![], None, at).await?;
            // The requester's name, as the intake staff see it beside the draft summary.
            let name = match (&input.requester_name, &who) {
                (Some(n), _) => Some(n.clone()),
                (None, Actor::Person(p)) if r.requester_id == Some(p.id) => Some(p.name.clone()),
                _ => None,
            };
            let mut rng = Rng::new(walk_seed);
            let mut walk = Walk {
                service,
                d,
                rng: &mut rng,
                now,
                t: at,
                r,
            };
            walk_one(&mut walk, item, spec, c, earlier, name.as_deref()).await?;
            Ok::<_, StoreError>((walk.r.id, c.area.id))
        });
    let done = futures_util::future::join_all(walks).await;
    let done = done.into_iter().collect::<Result<Vec<_>>>()?;
    filed.extend(done);
    Ok(())
}

async fn walk_one(
    w: &mut Walk<'_>,
    item: &CategoryItem,
    spec: &ItemSpec,
    c: &CommunityInfo,
    filed: &[(RequestId, AreaId)],
    requester: Option<&str>,
) -> Result<()> {
    if !w.later_by(|r| r.minutes(10, 60 * 10)) {
        return Ok(());
    }
    let intake = Actor::Person(w.rng.pick(&c.staff).clone());
    if w.rng.chance(0.05) {
        let earlier = filed
            .iter()
            .rev()
            .find(|(_, a)| *a == c.area.id)
            .map(|(id, _)| *id);
        let cmd = match (w.rng.below(3), earlier) {
            (0, Some(of)) => Command::Reject {
                code: Some(RejectCode::Duplicate),
                duplicate_of: Some(of),
                text: None,
            },
            (1, _) => Command::Reject {
                code: Some(RejectCode::OutOfScope),
                duplicate_of: None,
                text: Some(w.rng.pick(data::REJECT_TEXTS).to_string()),
            },
            _ => Command::Reject {
                code: Some(RejectCode::NoContent),
                duplicate_of: None,
                text: None,
            },
        };
        return w.run(&intake, cmd).await;
    }
    let urgent = w.rng.chance(0.02);
    w.run(
        &intake,
        Command::Accept {
            category_id: Some(item.id),
            tier: None,
            urgent: Some(urgent),
            level: None,
            // The intake staff approve the automatic draft as it is.
            public_summary: Some(redact(&w.r.description, requester.as_slice())),
        },
    )
    .await?;
    let mut rounds = 0;
    loop {
        rounds += 1;
        if !w
            .handle(item.default_tier, spec.resolutions, rounds > 1)
            .await?
        {
            return Ok(());
        }
        // 评单: most requesters rate; the rest are closed when the window ends.
        let Some(requester) = w.r.requester_id else {
            let closes_at = w.t + Duration::days(7) + Duration::minutes(5);
            if closes_at <= w.now {
                w.t = closes_at;
                w.run(&Actor::System, Command::Close {}).await?;
            }
            return Ok(());
        };
        if w.rng.chance(0.8) {
            if !w.later_by(|r| r.minutes(60, 60 * 24 * 5)) {
                return Ok(());
            }
            let requester = w
                .d
                .residents
                .iter()
                .find(|r| r.person.id == requester)
                .map(|r| r.person.clone())
                .ok_or_else(|| StoreError::Corrupt("requester is not a demo resident".into()))?;
            let unhappy = rounds == 1 && w.rng.chance(0.07);
            let (resolved, satisfaction, comment) = if unhappy {
                (
                    w.rng.chance(0.5),
                    Satisfaction::Unsatisfied,
                    w.rng.pick(data::RATING_COMMENTS_BAD).to_string(),
                )
            } else {
                let s = if w.rng.chance(0.8) {
                    Satisfaction::Satisfied
                } else {
                    Satisfaction::BasicallySatisfied
                };
                (true, s, w.rng.pick(data::RATING_COMMENTS_GOOD).to_string())
            };
            let comment = w.rng.chance(0.6).then_some(comment);
            w.run(
                &Actor::Person(requester),
                Command::Rate {
                    resolved: Some(resolved),
                    satisfaction: Some(satisfaction),
                    comment,
                },
            )
            .await?;
            if w.r.status == Status::Closed {
                return Ok(());
            }
            // Reopened: still with the same unit, which claims it again in the next round.
            continue;
        }
        let closes_at = w.t + Duration::days(7) + Duration::minutes(5);
        if closes_at <= w.now {
            w.t = closes_at;
            w.run(&Actor::System, Command::Close {}).await?;
        }
        return Ok(());
    }
}

impl<'a> Walk<'a> {
    /// Someone in the assigned unit who may claim or return it.
    fn unit_staff(&mut self) -> Person {
        let unit = self.r.unit_id;
        let g = self.grid();
        if Some(g.team.id) == unit {
            return g.worker.clone();
        }
        let c = self.community();
        if Some(c.team.id) == unit {
            let members = c.members.clone();
            return self.rng.pick(&members).clone();
        }
        if Some(c.office.id) == unit {
            let staff = c.staff.clone();
            return self.rng.pick(&staff).clone();
        }
        let s = &self.d.streets[c.street];
        if Some(s.office.id) == unit {
            let staff = s.staff.clone();
            return self.rng.pick(&staff).clone();
        }
        for (u, staff) in self
            .d
            .departments
            .iter()
            .chain(std::iter::once(&self.d.district_office))
        {
            if Some(u.id) == unit {
                return staff[0].clone();
            }
        }
        self.d.admins[0].clone()
    }
}

/// The people `redgrid demo` prints tokens for: one of each role.
pub fn representatives(d: &District) -> Vec<(&'static str, &'static str, Person)> {
    let g = &d.grids[0];
    let c = &d.communities[g.community];
    vec![
        ("居民", "resident", d.residents[0].person.clone()),
        ("网格员", "grid_worker", g.worker.clone()),
        ("志愿者", "volunteer", g.helpers[0].clone()),
        ("党员", "member", c.members[0].clone()),
        ("社区工作人员", "community_staff", c.staff[0].clone()),
        (
            "街镇工作人员",
            "street_staff",
            d.streets[c.street].staff[0].clone(),
        ),
        (
            "部门工作人员",
            "department_staff",
            d.departments[0].1[0].clone(),
        ),
        ("验单人（社区党委）", "verifier", c.verifier.clone()),
        ("督办人员", "supervisor", d.supervisors[0].clone()),
        ("区级管理员", "district_admin", d.admins[0].clone()),
        ("个人信息审计员", "auditor", d.auditor.clone()),
    ]
}

/// The same representatives, found in an existing demo database.
pub async fn representatives_from_store(
    service: &Service,
) -> Result<Vec<(&'static str, &'static str, Person)>> {
    let roles = [
        ("居民", Role::Resident),
        ("网格员", Role::GridWorker),
        ("志愿者", Role::Volunteer),
        ("党员", Role::Member),
        ("社区工作人员", Role::CommunityStaff),
        ("街镇工作人员", Role::StreetStaff),
        ("部门工作人员", Role::DepartmentStaff),
        ("验单人", Role::Verifier),
        ("督办人员", Role::Supervisor),
        ("区级管理员", Role::DistrictAdmin),
        ("个人信息审计员", Role::Auditor),
    ];
    let mut out = Vec::new();
    for (zh, role) in roles {
        // The person who already has the role's demo login, else the first with the role.
        let by_login = match service.store().account_by_login(role.as_str()).await? {
            Some(a) => service.store().person(a.person_id).await?,
            None => None,
        };
        let person = match by_login {
            Some(p) => Some(p),
            None => service
                .store()
                .people_with_role(role, 1)
                .await?
                .into_iter()
                .next(),
        };
        if let Some(p) = person {
            out.push((zh, role.as_str(), p));
        }
    }
    Ok(out)
}

/// Counts what was built.
pub async fn summarize(service: &Service, d: &District) -> Result<Summary> {
    let store = service.store();
    let mut by_status = BTreeMap::new();
    for s in Status::ALL {
        let n = store
            .count(&redgrid_store::ListFilter {
                statuses: vec![s],
                ..Default::default()
            })
            .await?;
        by_status.insert(s.as_str(), n as usize);
    }
    let dir = service.directory();
    let _ = d;
    Ok(Summary {
        areas: dir.areas().count(),
        units: dir.units().count(),
        people: store.count_people().await?,
        by_status,
    })
}
