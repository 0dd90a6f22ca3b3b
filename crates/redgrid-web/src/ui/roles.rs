//! Granting and revoking roles in the pages (组织 → 角色授权): find a person by phone, see their
//! roles with a revoke button each, and grant a role in a place within one's reach. Street and
//! community staff see only the places and roles they may grant.

use super::requests::{Field, Opt, OptGroup};
use super::{
    Ctx, Errors, LoggedIn, PageError, PageForm, PageQuery, PageResult, ctx_login_at, render,
};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use redgrid_app::roles::{GrantInput, Granted, normalize_phone};
use redgrid_core::area::Level;
use redgrid_core::directory::Directory;
use redgrid_core::error::{CoreError, Denial, FieldError, Lang};
use redgrid_core::ids::{AreaId, UnitId};
use redgrid_core::person::{Actor, Grant, Person, Role, Scope};
use redgrid_core::policy::{self, Action, Subject};
use redgrid_store::StoreError;
use std::sync::Arc;

/// One role a person holds, as the page lists it.
pub struct HeldRow {
    pub role: String,
    pub place: String,
    /// The form values that name it: `role` and `place`.
    pub role_id: &'static str,
    pub place_id: String,
    /// Whether the viewer may revoke it.
    pub revocable: bool,
}

#[derive(Template)]
#[template(path = "roles.html")]
pub struct RolesPage {
    c: Ctx,
    /// The phone looked up (or just granted to).
    phone: String,
    /// The person found, with the roles they hold.
    person: Option<(String, Vec<HeldRow>)>,
    /// A phone looked up that no one has.
    not_found: bool,
    fields: Vec<Field>,
    error: String,
    /// After a grant that made a login: its one-time password, shown once.
    one_time_password: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct PhoneQuery {
    phone: Option<String>,
}

/// Whether the actor may grant anything anywhere (the page is theirs).
pub(crate) fn grants_somewhere(dir: &Directory, actor: &Actor) -> bool {
    actor.grants().iter().any(|g| {
        dir.grant_area(g)
            .is_some_and(|a| policy::permit(dir, actor, Action::Grant, &Subject::Area(a)).is_ok())
    })
}

/// `GET /org/roles?phone=…`: the grant form, and the roles of the person with that phone.
pub async fn page(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<PhoneQuery>,
) -> PageResult {
    let actor = allowed(&state, &c)?;
    let phone = q.phone.unwrap_or_default().trim().to_string();
    draw(&state, c, &actor, phone, Errors::default(), None, None).await
}

/// `POST /org/roles/grant` (`phone`, `name`, `role`, `place`): grants a role, then shows the person.
pub async fn grant_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    change(&state, &headers, &uri, form, true).await
}

/// `POST /org/roles/revoke` (`phone`, `role`, `place`): revokes a role, then shows the person.
pub async fn revoke_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    change(&state, &headers, &uri, form, false).await
}

async fn change(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    form: super::FormData,
    granting: bool,
) -> PageResult {
    let c = ctx_login_at(state, headers, uri, "/org/roles".into()).await?;
    form.check_csrf(&c)?;
    let actor = allowed(state, &c)?;
    let phone = form.text("phone").unwrap_or_default();
    let mut invalid = Vec::new();
    let role = match form.text("role") {
        None => {
            invalid.push(FieldError::new("role", "required"));
            None
        }
        Some(r) => Role::parse(&r).or_else(|| {
            invalid.push(FieldError::new("role", "unknown"));
            None
        }),
    };
    let (area_id, unit_id) = match form.text("place").as_deref().map(parse_place) {
        None => {
            invalid.push(FieldError::new("place", "required"));
            (None, None)
        }
        Some(None) => {
            invalid.push(FieldError::new("place", "unknown"));
            (None, None)
        }
        Some(Some(Scope::Area(a))) => (Some(a), None),
        Some(Some(Scope::Unit(u))) => (None, Some(u)),
    };
    if phone.is_empty() {
        invalid.push(FieldError::new("phone", "required"));
    }
    if !invalid.is_empty() {
        let errors = Errors::from_core(&CoreError::Validation(invalid), c.lang);
        let page = draw(state, c, &actor, phone, errors, Some(form), None).await?;
        return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let input = GrantInput {
        phone: Some(phone.clone()),
        name: form.text("name"),
        role,
        area_id,
        unit_id,
        ..Default::default()
    };
    let done = if granting {
        state.service.grant_role(&actor, &input).await
    } else {
        state.service.revoke_role(&actor, &input).await
    };
    match done {
        Ok(Granted {
            person,
            changed,
            one_time_password,
        }) => {
            state.tokens.clear();
            let mut c = c;
            c.flash = Some(flash(c.lang, granting, changed));
            let phone = person.phone.clone().unwrap_or(phone);
            draw(
                state,
                c,
                &actor,
                phone,
                Errors::default(),
                None,
                one_time_password,
            )
            .await
        }
        Err(StoreError::Core(e)) => {
            let mut errors = Errors::from_core(&e, c.lang);
            // The service names `area_id`/`unit_id`; the form has one `place`.
            for f in ["area_id", "unit_id"] {
                if let Some(m) = errors.by_field.remove(f) {
                    errors.by_field.insert("place".into(), m);
                }
            }
            let page = draw(state, c, &actor, phone, errors, Some(form), None).await?;
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            Ok(with_status(page, status))
        }
        Err(e) => Err(PageError::store(e, c.lang, "/org/roles")),
    }
}

fn with_status(mut page: axum::response::Response, status: StatusCode) -> axum::response::Response {
    *page.status_mut() = status;
    page
}

fn flash(lang: Lang, granting: bool, changed: bool) -> String {
    match (granting, changed) {
        (true, true) => lang.pick("已授权。", "The role was granted."),
        (false, true) => lang.pick("已撤销该角色。", "The role was revoked."),
        (true, false) => lang.pick(
            "此人已有该角色，未做改动。",
            "They hold that role already; nothing changed.",
        ),
        (false, false) => lang.pick(
            "此人没有该角色，未做改动。",
            "They do not hold that role; nothing changed.",
        ),
    }
    .to_string()
}

/// The page is for people who may grant somewhere.
fn allowed(state: &AppState, c: &Ctx) -> Result<Actor, PageError> {
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let dir = state.service.directory();
    if grants_somewhere(&dir, &actor) {
        Ok(actor)
    } else {
        Err(PageError::core(
            &CoreError::Forbidden(Denial::RoleNotAllowed),
            c.lang,
            &c.here,
        ))
    }
}

/// `area:ID` or `unit:ID`.
fn parse_place(s: &str) -> Option<Scope> {
    let (kind, id) = s.split_once(':')?;
    let id: i64 = id.parse().ok()?;
    match kind {
        "area" => Some(Scope::Area(AreaId(id))),
        "unit" => Some(Scope::Unit(UnitId(id))),
        _ => None,
    }
}

fn place_value(scope: Scope) -> String {
    match scope {
        Scope::Area(a) => format!("area:{}", a.0),
        Scope::Unit(u) => format!("unit:{}", u.0),
    }
}

fn place_label(dir: &Directory, scope: Scope, lang: Lang) -> String {
    match scope {
        Scope::Area(a) => dir.area(a).map_or_else(
            || a.0.to_string(),
            |a| format!("{}（{}）", a.name, a.kind.label(lang)),
        ),
        Scope::Unit(u) => dir
            .unit(u)
            .map_or_else(|| u.0.to_string(), |u| u.name.clone()),
    }
}

async fn draw(
    state: &AppState,
    c: Ctx,
    actor: &Actor,
    phone: String,
    errors: Errors,
    typed: Option<super::FormData>,
    one_time_password: Option<String>,
) -> PageResult {
    let dir = state.service.directory();
    let lang = c.lang;
    let may = |grant: &Grant| policy::may_grant(&dir, actor, grant).is_ok();
    // The places within reach: areas (district, streets, communities, grids) and units.
    let reach = |scope: Scope| Role::ALL.iter().any(|&role| may(&Grant { role, scope }));
    let mut areas: Vec<_> = dir.areas().filter(|a| reach(Scope::Area(a.id))).collect();
    areas.sort_by(|a, b| a.code.cmp(&b.code));
    let mut units: Vec<_> = dir
        .units()
        .filter(|u| u.active && reach(Scope::Unit(u.id)))
        .collect();
    units.sort_by(|a, b| a.name.cmp(&b.name));
    let indent = |l: Level| match l {
        Level::District => "",
        Level::Street => "　",
        Level::Community => "　　",
        Level::Grid => "　　　",
    };
    let mut place = Field::new(
        "place",
        c.t("在哪里（区划或单位）", "Where (an area or a unit)"),
        "select",
    )
    .required()
    .hint(c.t(
        "区划：负责该区划及其下级；单位：处理派给该单位的诉求。",
        "An area: that area and everything below it. A unit: the requests dispatched to it.",
    ));
    place.groups.push(super::requests::first_option(
        c.t("— 请选择 —", "— choose —"),
    ));
    place.groups.push(OptGroup {
        label: c.t("区划", "Areas").to_string(),
        opts: areas
            .iter()
            .map(|a| Opt {
                value: place_value(Scope::Area(a.id)),
                label: format!("{}{}", indent(a.kind), a.name),
            })
            .collect(),
    });
    if !units.is_empty() {
        place.groups.push(OptGroup {
            label: c.t("单位", "Units").to_string(),
            opts: units
                .iter()
                .map(|u| Opt {
                    value: place_value(Scope::Unit(u.id)),
                    label: u.name.clone(),
                })
                .collect(),
        });
    }
    // The roles within reach somewhere.
    let roles: Vec<(String, String)> = Role::ALL
        .iter()
        .filter(|&&role| {
            areas.iter().any(|a| {
                may(&Grant {
                    role,
                    scope: Scope::Area(a.id),
                })
            })
        })
        .map(|r| (r.as_str().to_string(), r.label(lang).to_string()))
        .collect();
    let mut role = Field::new("role", c.t("角色", "Role"), "select").required();
    role.groups.push(super::requests::first_option(
        c.t("— 请选择 —", "— choose —"),
    ));
    role = role.options(roles);
    let phone_field = Field::new("phone", c.t("手机号", "Phone"), "text")
        .required()
        .hint(c.t(
            "按手机号查找人员；找不到时填写姓名即新建。",
            "People are found by phone; give a name to add someone new.",
        ));
    let name = Field::new(
        "name",
        c.t("姓名（新人员必填）", "Name (for someone new)"),
        "text",
    );
    let mut fields = vec![phone_field, name, role, place];
    for f in &mut fields {
        f.value = match (&typed, f.name) {
            (Some(t), n) => t.get(n).unwrap_or_default().to_string(),
            (None, "phone") => phone.clone(),
            _ => String::new(),
        };
        f.error = errors.of(f.name).to_string();
    }
    let found: Option<Person> = if phone.is_empty() {
        None
    } else {
        state
            .service
            .store()
            .person_by_phone(&normalize_phone(&phone))
            .await
            .map_err(|e| PageError::store(e, lang, "/org/roles"))?
    };
    // Below the district, a person is shown only with the roles within one's reach, and someone
    // holding none of them is "not found": the page is no directory of the whole district.
    let district_wide = policy::permit(&dir, actor, Action::Grant, &Subject::District).is_ok();
    let found = found.filter(|p| district_wide || p.grants.iter().any(&may));
    let not_found = !phone.is_empty() && found.is_none();
    let person = found.map(|p| {
        let rows = p
            .grants
            .iter()
            .filter(|g| district_wide || may(g))
            .map(|g| HeldRow {
                role: g.role.label(lang).to_string(),
                place: place_label(&dir, g.scope, lang),
                role_id: g.role.as_str(),
                place_id: place_value(g.scope),
                revocable: may(g) && actor.person_id() != Some(p.id),
            })
            .collect();
        (p.name.clone(), rows)
    });
    Ok(render(&RolesPage {
        c,
        phone,
        person,
        not_found,
        fields,
        error: errors.general.unwrap_or_default(),
        one_time_password,
    }))
}
