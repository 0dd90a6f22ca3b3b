//! The request pages: filing (点单), my requests, a request with its timeline and the actions the
//! viewer may take now, the staff work queue with bulk dispatch, what waits for verification, and the
//! red list with supervision.

use super::{
    Ctx, Errors, FormData, PageError, PageForm, PageQuery, PageResult, ctx_login, ctx_login_at,
    form_key, open_states, render, see_other,
};
use crate::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use redgrid_app::service::now;
use redgrid_core::area::Level;
use redgrid_core::command::{
    Command, Ctx as DecideCtx, Facts, FieldKind, FieldSource, FieldSpec, Need, SubmitInput, decide,
    event_label,
};
use redgrid_core::directory::Directory;
use redgrid_core::error::{CoreError, FieldError, Lang};
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Role};
use redgrid_core::policy::CommandKind;
use redgrid_core::request::{Attachment, Channel, Event, EventBody, Light, Request, Status};
use redgrid_store::{ListFilter, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// The largest photo a resident may attach.
pub const MAX_PHOTO: usize = crate::api::directory::MAX_ATTACHMENT;

/// One option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
}

/// Options under a heading (an empty heading: no `<optgroup>`).
pub struct OptGroup {
    pub label: String,
    pub opts: Vec<Opt>,
}

/// One field of a form, rendered by `field.html`.
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `select`, `checkbox`, `number` or `radio`.
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    pub groups: Vec<OptGroup>,
    pub error: String,
    pub hint: String,
}

impl Field {
    fn new(name: &'static str, label: &str, kind: &'static str) -> Self {
        Field {
            name,
            label: label.to_string(),
            kind,
            required: false,
            value: String::new(),
            groups: Vec::new(),
            error: String::new(),
            hint: String::new(),
        }
    }

    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn options(mut self, opts: Vec<(String, String)>) -> Self {
        self.groups.push(OptGroup {
            label: String::new(),
            opts: opts
                .into_iter()
                .map(|(value, label)| Opt { value, label })
                .collect(),
        });
        self
    }

    fn hint(mut self, h: &str) -> Self {
        self.hint = h.to_string();
        self
    }

    /// The element id of this field inside the form `prefix` (a page may hold several forms).
    pub fn id_in(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.name)
    }
}

/// The first, empty option of a select ("choose", "all", "not sure").
pub fn first_option(label: &str) -> OptGroup {
    OptGroup {
        label: String::new(),
        opts: vec![Opt {
            value: String::new(),
            label: label.to_string(),
        }],
    }
}

/// The select of units to dispatch to (only those that fit `only`, when given).
fn unit_field(c: &Ctx, dir: &Directory, only: Option<&Request>, label: &str) -> Field {
    let mut u = Field::new("unit_id", label, "select").required();
    u.groups.push(first_option(c.t("— 请选择 —", "— choose —")));
    u.groups.extend(unit_groups(dir, c.lang, only));
    u
}

/// A form for one command on the request page.
pub struct ActionForm {
    pub command: &'static str,
    pub label: String,
    pub fields: Vec<Field>,
    /// Shown open (it was just refused).
    pub open: bool,
    pub error: String,
    /// The primary action of this page for this person (drawn prominently).
    pub primary: bool,
}

/// One row of a request list.
pub struct Row {
    pub id: i64,
    pub status: &'static str,
    pub status_label: &'static str,
    pub light: &'static str,
    pub light_label: &'static str,
    pub due: String,
    pub left: String,
    pub category: String,
    pub place: String,
    pub excerpt: String,
    pub created: String,
    pub unit: String,
    pub supervised: bool,
    pub level: &'static str,
    /// The viewer may supervise it now (the red list shows the supervision form only then).
    pub supervise: bool,
}

/// How long until `due`, or how long past it, in words.
pub fn time_left(due: DateTime<Utc>, at: DateTime<Utc>, lang: Lang) -> String {
    let secs = (due - at).num_seconds();
    let m = secs.abs() / 60;
    let (d, h, mi) = (m / 1440, (m % 1440) / 60, m % 60);
    let span = match lang {
        Lang::Zh if d > 0 => format!("{d}天{h}小时"),
        Lang::Zh if h > 0 => format!("{h}小时{mi}分"),
        Lang::Zh => format!("{mi}分钟"),
        Lang::En if d > 0 => format!("{d} d {h} h"),
        Lang::En if h > 0 => format!("{h} h {mi} min"),
        Lang::En => format!("{mi} min"),
    };
    match (secs >= 0, lang) {
        (true, Lang::Zh) => format!("剩余 {span}"),
        (true, Lang::En) => format!("{span} left"),
        (false, Lang::Zh) => format!("超时 {span}"),
        (false, Lang::En) => format!("{span} overdue"),
    }
}

fn category_name(dir: &Directory, id: Option<CategoryId>, lang: Lang) -> String {
    id.and_then(|c| dir.item(c))
        .map(|i| lang.pick(&i.name_zh, &i.name_en).to_string())
        .unwrap_or_default()
}

fn area_name(dir: &Directory, id: Option<AreaId>) -> String {
    id.and_then(|a| dir.area(a))
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

fn unit_name(dir: &Directory, id: Option<UnitId>) -> String {
    id.and_then(|u| dir.unit(u))
        .map(|u| u.name.clone())
        .unwrap_or_default()
}

/// The place of a request for lists: community and grid (never the exact address).
fn place(dir: &Directory, r: &Request) -> String {
    let community = area_name(dir, Some(r.location.community_id));
    match r.location.grid_id {
        Some(g) => format!("{community} · {}", area_name(dir, Some(g))),
        None => community,
    }
}

pub fn row(dir: &Directory, r: &Request, at: DateTime<Utc>, lang: Lang) -> Row {
    let handling = !r.status.is_terminal() && r.status != Status::Suspended;
    let light = if handling { r.light_at(at) } else { None };
    let excerpt: String = r.description.chars().take(60).collect();
    let excerpt = if r.description.chars().count() > 60 {
        format!("{excerpt}…")
    } else {
        excerpt
    };
    Row {
        id: r.id.0,
        status: r.status.as_str(),
        status_label: r.status.label(lang),
        light: light.map(Light::as_str).unwrap_or(""),
        light_label: light.map(|l| l.label(lang)).unwrap_or(""),
        due: match (handling, r.next_due_at) {
            (true, Some(d)) => super::local_time(&d),
            _ => String::new(),
        },
        left: match (handling, r.next_due_at) {
            (true, Some(d)) => time_left(d, at, lang),
            _ => String::new(),
        },
        category: category_name(dir, r.category_id, lang),
        place: place(dir, r),
        excerpt,
        created: super::local_time(&r.created_at),
        unit: unit_name(dir, r.unit_id),
        supervised: r.supervised,
        level: r.level.label(lang),
        supervise: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Filing a request.

#[derive(Template)]
#[template(path = "file.html")]
pub struct FilePage {
    pub c: Ctx,
    pub fields: Vec<Field>,
    pub key: String,
    pub photo_id: String,
    pub photo_name: String,
    pub errors: Errors,
}

fn category_groups(dir: &Directory, lang: Lang) -> Vec<OptGroup> {
    let items = dir.items();
    dir.classes()
        .iter()
        .map(|class| OptGroup {
            label: lang.pick(&class.name_zh, &class.name_en).to_string(),
            opts: items
                .iter()
                .filter(|i| i.class_id == class.id && i.active)
                .map(|i| Opt {
                    value: i.id.0.to_string(),
                    label: lang.pick(&i.name_zh, &i.name_en).to_string(),
                })
                .collect(),
        })
        .filter(|g| !g.opts.is_empty())
        .collect()
}

/// Communities and their grids, by street: where a need can be filed.
fn place_groups(dir: &Directory) -> Vec<OptGroup> {
    let mut streets: Vec<_> = dir.areas().filter(|a| a.kind == Level::Street).collect();
    streets.sort_by(|a, b| a.code.cmp(&b.code));
    let mut out = Vec::new();
    for s in streets {
        let mut opts = Vec::new();
        let mut communities: Vec<_> = dir
            .areas()
            .filter(|a| a.kind == Level::Community && a.parent_id == Some(s.id))
            .collect();
        communities.sort_by(|a, b| a.code.cmp(&b.code));
        for c in communities {
            opts.push(Opt {
                value: c.id.0.to_string(),
                label: c.name.clone(),
            });
            let mut grids: Vec<_> = dir
                .areas()
                .filter(|a| a.kind == Level::Grid && a.parent_id == Some(c.id))
                .collect();
            grids.sort_by(|a, b| a.code.cmp(&b.code));
            for g in grids {
                opts.push(Opt {
                    value: g.id.0.to_string(),
                    label: format!("{} · {}", c.name, g.name),
                });
            }
        }
        out.push(OptGroup {
            label: s.name.clone(),
            opts,
        });
    }
    out
}

fn file_fields(
    c: &Ctx,
    dir: &Directory,
    values: &HashMap<String, String>,
    errors: &Errors,
    default_area: Option<AreaId>,
) -> Vec<Field> {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut category = Field::new("category_id", c.t("诉求类别", "Category"), "select").hint(c.t(
        "选一个最接近的类别；不确定可不选，工作人员会帮您归类。",
        "Pick the closest; if unsure leave it, staff will classify it.",
    ));
    category
        .groups
        .push(first_option(c.t("— 不确定 —", "— not sure —")));
    category.groups.extend(category_groups(dir, c.lang));
    category.value = v("category_id");
    let mut area = Field::new(
        "area_id",
        c.t("所在社区或网格", "Community or grid"),
        "select",
    )
    .required()
    .hint(c.t(
        "诉求发生的地方，选到网格更快派到身边的网格员。",
        "Where the need is; choosing the grid reaches your grid worker faster.",
    ));
    area.groups
        .push(first_option(c.t("— 请选择 —", "— choose —")));
    area.groups.extend(place_groups(dir));
    area.value = values
        .get("area_id")
        .cloned()
        .or_else(|| default_area.map(|a| a.0.to_string()))
        .unwrap_or_default();
    let mut description = Field::new("description", c.t("诉求内容", "What is needed"), "textarea")
        .required()
        .hint(c.t(
            "写清楚什么事、在哪里、希望怎么解决（最多 2000 字）。",
            "Say what, where, and what you would like done (up to 2000 characters).",
        ));
    description.value = v("description");
    let mut address = Field::new(
        "address",
        c.t("详细地址（选填）", "Address (optional)"),
        "text",
    )
    .hint(c.t(
        "只给处理人员看，公开清单不显示。",
        "Only the people handling it see this; public lists never show it.",
    ));
    address.value = v("address");
    let mut out = vec![category, area, description, address];
    for f in &mut out {
        f.error = errors.of(f.name).to_string();
    }
    out
}

/// The area a person's own grants point at (a resident filing for their own grid, say).
fn own_area(dir: &Directory, actor: &Actor) -> Option<AreaId> {
    actor.grants().iter().find_map(|g| {
        let a = dir.grant_area(g)?;
        let area = dir.area(a)?;
        matches!(area.kind, Level::Grid | Level::Community).then_some(a)
    })
}

/// `GET /file`: the form to file a request.
pub async fn file_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    let dir = state.service.directory();
    let errors = Errors::default();
    let default_area = c.actor().and_then(|a| own_area(&dir, &a));
    let fields = file_fields(&c, &dir, &HashMap::new(), &errors, default_area);
    Ok(render(&FilePage {
        c,
        fields,
        key: form_key(),
        photo_id: String::new(),
        photo_name: String::new(),
        errors,
    }))
}

/// The allowed photo types.
const PHOTO_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

/// `POST /file` (multipart: the fields and an optional photo): files the request and shows it.
pub async fn file_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    let lang = c.lang;
    let mut pairs = Vec::new();
    let mut photo: Option<(String, String, Vec<u8>)> = None;
    let mut field_errors: Vec<FieldError> = Vec::new();
    let too_big = || {
        PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            lang,
            lang.pick("文件太大", "File too large"),
            lang.pick(
                "照片不能超过 10 MB，请返回缩小后重试。",
                "A photo may be at most 10 MB; go back and choose a smaller one.",
            ),
        )
    };
    // A photo (or a field) that did not arrive whole: the connection broke or the form was cut off.
    let upload_failed = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("上传失败", "Upload failed"),
            lang.pick(
                "照片或表单没有完整上传，请检查网络后返回重试。",
                "The photo or the form did not arrive whole; check the connection, go back and try again.",
            ),
        )
    };
    let mut multipart = multipart.map_err(|_| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("表单有误", "Bad form"),
            lang.pick(
                "表单格式不对，请返回重试。",
                "The form was not sent correctly; go back and try again.",
            ),
        )
    })?;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(_) => {
                return Err(PageError::new(
                    StatusCode::BAD_REQUEST,
                    lang,
                    lang.pick("表单有误", "Bad form"),
                    lang.pick(
                        "表单没有传完整，请重试。",
                        "The form arrived incomplete; try again.",
                    ),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "photo" {
            let file_name = field.file_name().unwrap_or("photo").to_string();
            let ctype = field.content_type().unwrap_or_default().to_string();
            let data = match field.bytes().await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
                Err(_) => return Err(upload_failed()),
            };
            if data.is_empty() {
                continue;
            }
            if data.len() > MAX_PHOTO {
                field_errors.push(FieldError::new("photo", "too_large"));
                continue;
            }
            if !PHOTO_TYPES.contains(&ctype.as_str()) {
                field_errors.push(FieldError::new("photo", "not_allowed"));
                continue;
            }
            photo = Some((file_name, ctype, data.to_vec()));
        } else {
            let text = match field.text().await {
                Ok(t) => t,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
                Err(_) => return Err(upload_failed()),
            };
            pairs.push((name, text));
        }
    }
    let form = FormData { pairs };
    form.check_csrf(&c)?;
    let Some(actor) = c.actor() else {
        return Err(PageError::Login(c.here.clone()));
    };
    let dir = state.service.directory();
    let mut attachments = Vec::new();
    let (mut photo_id, mut photo_name) = (
        form.text("photo_id").unwrap_or_default(),
        form.text("photo_name").unwrap_or_default(),
    );
    if let Some((file_name, ctype, data)) = photo {
        let meta = state
            .service
            .store()
            .put_attachment(&ctype, &data)
            .await
            .map_err(|e| PageError::store(e, lang, "/file"))?;
        photo_id = meta.id;
        photo_name = file_name;
    }
    if !photo_id.is_empty() {
        attachments.push(Attachment {
            id: photo_id.clone(),
            name: if photo_name.is_empty() {
                "photo".into()
            } else {
                photo_name.clone()
            },
        });
    }
    let area_id = form.number("area_id", &mut field_errors).map(AreaId);
    let category_id = form
        .number("category_id", &mut field_errors)
        .map(CategoryId);
    let input = SubmitInput {
        restricted: false,
        channel: Some(Channel::Web),
        description: form.text("description"),
        area_id,
        address: form.text("address"),
        lat: None,
        lon: None,
        requester_name: None,
        requester_phone: None,
        attachments,
        category_id,
    };
    let key = form.text("key");
    let refused = |e: &CoreError, c: Ctx, photo_id: String, photo_name: String| {
        let errors = Errors::from_core(e, c.lang);
        let fields = file_fields(&c, &dir, &form.values(), &errors, None);
        let mut res = render(&FilePage {
            c,
            fields,
            key: form.text("key").unwrap_or_else(form_key),
            photo_id,
            photo_name,
            errors,
        });
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        res
    };
    match state
        .service
        .submit(&actor, &input, field_errors, key.as_deref(), now())
        .await
    {
        Ok((request, _)) => Ok(see_other(&format!("/requests/{}?done=filed", request.id))),
        Err(StoreError::Core(e)) if e.http_status() == 422 => {
            Ok(refused(&e, c, photo_id, photo_name))
        }
        Err(e) => Err(PageError::store(e, lang, "/file")),
    }
}

// ---------------------------------------------------------------------------------------------
// Lists.

#[derive(Template)]
#[template(path = "list.html")]
pub struct ListPage {
    pub c: Ctx,
    pub title: String,
    pub intro: String,
    pub rows: Vec<Row>,
    /// `mine`, `queue`, `verify` or `redlist`.
    pub mode: &'static str,
    pub filters: Vec<Field>,
    pub units: Vec<Field>,
    /// The queue's filters in force, carried by the bulk-dispatch form so that its result page
    /// shows the same queue.
    pub keep: Vec<(&'static str, String)>,
    /// The address of the next page ("" when this is the last): the same filters, a new `before`.
    pub next: String,
    pub empty: String,
    pub results: Vec<(i64, bool, String)>,
}

impl ListPage {
    pub fn selectable(&self) -> bool {
        self.mode == "queue" && !self.units.is_empty()
    }
}

/// One page of a list: the requests, their rows, and the id to continue before ("" at the end).
async fn list_rows(
    state: &AppState,
    c: &Ctx,
    filter: &ListFilter,
    limit: i64,
) -> Result<(Vec<Request>, Vec<Row>, String), PageError> {
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let requests = state
        .service
        .list_visible(&actor, filter, limit)
        .await
        .map_err(|e| PageError::store(e, c.lang, &c.here))?;
    let next = if requests.len() as i64 == limit {
        requests
            .last()
            .map(|r| r.id.0.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let dir = state.service.directory();
    let at = now();
    let rows = requests.iter().map(|r| row(&dir, r, at, c.lang)).collect();
    Ok((requests, rows, next))
}

/// The address of a list's next page: `path` with the filters in `keep` and `before` (the only
/// value that changes); "" when there is no next page.
pub fn next_href(path: &str, keep: &[(&'static str, String)], before: &str) -> String {
    if before.is_empty() {
        return String::new();
    }
    let mut pairs = keep.to_vec();
    pairs.push(("before", before.to_string()));
    with_query(path, &pairs)
}

/// `path` with `pairs` as its query string (none when empty), values percent-encoded.
fn with_query(path: &str, pairs: &[(&'static str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", super::url_encode(v)))
        .collect();
    format!("{path}?{}", parts.join("&"))
}

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    light: Option<String>,
    level: Option<String>,
    category_id: Option<String>,
    area_id: Option<String>,
    q: Option<String>,
    before: Option<String>,
}

impl ListQuery {
    /// The queue's filters read back from a posted form (the bulk-dispatch form carries them).
    fn from_form(form: &FormData) -> Self {
        let get = |k: &str| form.get(k).map(str::to_string);
        ListQuery {
            status: get("status"),
            light: get("light"),
            level: get("level"),
            category_id: get("category_id"),
            area_id: get("area_id"),
            q: get("q"),
            before: None,
        }
    }

    /// The filters that are set, by name, without `before` (for links and hidden inputs).
    fn filters(&self) -> Vec<(&'static str, String)> {
        [
            ("status", &self.status),
            ("light", &self.light),
            ("level", &self.level),
            ("category_id", &self.category_id),
            ("area_id", &self.area_id),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (k, v.to_string()))
        })
        .collect()
    }

    /// The queue's address with these filters.
    fn queue_href(&self) -> String {
        with_query("/queue", &self.filters())
    }
}

/// `GET /mine`: the requests I filed, newest first.
pub async fn mine(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    let me = c.person.as_ref().map(|p| p.id);
    let filter = ListFilter {
        requester_id: me,
        before_id: q.before.and_then(|b| b.parse().ok()).map(RequestId),
        ..Default::default()
    };
    let (_, rows, next) = list_rows(&state, &c, &filter, 50).await?;
    Ok(render(&ListPage {
        title: c.t("我的诉求", "My requests").into(),
        intro: c
            .t(
                "您提交的诉求和办理进度。办结并经党组织验单后，请点开评价（评单）。",
                "What you filed and where it stands. Once it is resolved and verified, open it to rate it.",
            )
            .into(),
        empty: c
            .t("您还没有提交过诉求。", "You have not filed any request yet.")
            .into(),
        c,
        rows,
        mode: "mine",
        filters: vec![],
        units: vec![],
        keep: vec![],
        next: next_href("/mine", &[], &next),
        results: vec![],
    }))
}

fn queue_filters(c: &Ctx, dir: &Directory, q: &ListQuery) -> Vec<Field> {
    let any = || (String::new(), c.t("全部", "all").to_string());
    let mut status = Field::new("status", c.t("状态", "Status"), "select").options(
        std::iter::once((
            String::new(),
            c.t("办理中（全部）", "open (all)").to_string(),
        ))
        .chain(
            Status::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), s.label(c.lang).to_string())),
        )
        .collect(),
    );
    status.value = q.status.clone().unwrap_or_default();
    let choice =
        |name: &'static str, label: &str, values: Vec<(String, String)>, value: &Option<String>| {
            let mut f = Field::new(name, label, "select")
                .options(std::iter::once(any()).chain(values).collect());
            f.value = value.clone().unwrap_or_default();
            f
        };
    let light = choice(
        "light",
        c.t("亮灯", "Light"),
        Light::ALL
            .iter()
            .map(|l| (l.as_str().to_string(), l.label(c.lang).to_string()))
            .collect(),
        &q.light,
    );
    let level = choice(
        "level",
        c.t("层级", "Level"),
        Level::ALL
            .iter()
            .map(|l| (l.as_str().to_string(), l.label(c.lang).to_string()))
            .collect(),
        &q.level,
    );
    let mut category = Field::new("category_id", c.t("类别", "Category"), "select");
    category.groups.push(first_option(c.t("全部", "all")));
    category.groups.extend(category_groups(dir, c.lang));
    category.value = q.category_id.clone().unwrap_or_default();
    let mut area = Field::new("area_id", c.t("地区", "Area"), "select");
    area.groups.push(first_option(c.t("全部", "all")));
    area.groups.extend(place_groups(dir));
    area.value = q.area_id.clone().unwrap_or_default();
    let mut text = Field::new("q", c.t("关键词", "Text"), "text");
    text.value = q.q.clone().unwrap_or_default();
    vec![status, light, level, category, area, text]
}

/// Reads the queue's filters; unknown values are reported next to their field.
fn queue_filter(dir: &Directory, q: &ListQuery, filters: &mut [Field], lang: Lang) -> ListFilter {
    let mut f = ListFilter::default();
    let mut bad = |name: &str| {
        if let Some(field) = filters.iter_mut().find(|x| x.name == name) {
            field.error = lang.pick("无效的取值", "not a valid choice").to_string();
        }
    };
    let some = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    match some(&q.status) {
        None => f.statuses = open_states(),
        Some(s) => match Status::parse(&s) {
            Some(st) => f.statuses = vec![st],
            None => {
                bad("status");
                f.statuses = open_states();
            }
        },
    }
    if let Some(l) = some(&q.light) {
        match Light::parse(&l) {
            Some(l) => f.light = Some((l, now())),
            None => bad("light"),
        }
    }
    if let Some(l) = some(&q.level) {
        match Level::parse(&l) {
            Some(l) => f.level = Some(l),
            None => bad("level"),
        }
    }
    if let Some(cat) = some(&q.category_id) {
        match cat.parse::<i64>().ok().map(CategoryId) {
            Some(id) if dir.item(id).is_some() => f.category_id = Some(id),
            _ => bad("category_id"),
        }
    }
    if let Some(a) = some(&q.area_id) {
        match a.parse::<i64>().ok().and_then(|a| dir.area(AreaId(a))) {
            Some(area) => f.area = Some((area.kind, area.id)),
            None => bad("area_id"),
        }
    }
    if let Some(t) = some(&q.q) {
        f.text = Some(t.chars().take(100).collect());
    }
    f.before_id = q
        .before
        .as_deref()
        .and_then(|b| b.parse().ok())
        .map(RequestId);
    f
}

/// Units to dispatch to, by level.
fn unit_groups(dir: &Directory, lang: Lang, only: Option<&Request>) -> Vec<OptGroup> {
    let mut out = Vec::new();
    for level in Level::ALL {
        let mut units: Vec<_> = dir
            .units()
            .filter(|u| u.active && u.level == level)
            .filter(|u| {
                only.is_none_or(|r| {
                    u.level == r.level && dir.contains(u.area_id, r.location.area_id)
                })
            })
            .collect();
        if units.is_empty() {
            continue;
        }
        units.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(OptGroup {
            label: level.label(lang).to_string(),
            opts: units
                .into_iter()
                .map(|u| Opt {
                    value: u.id.0.to_string(),
                    label: u.name.clone(),
                })
                .collect(),
        });
    }
    out
}

fn may_dispatch(c: &Ctx) -> bool {
    c.has(Role::GridWorker)
        || c.has(Role::CommunityStaff)
        || c.has(Role::StreetStaff)
        || c.has(Role::DistrictAdmin)
}

const QUEUE_FOR: (&str, &str) = (
    "工作台只对工作人员、党员和志愿者开放。您提交的诉求在“我的诉求”里。",
    "The work queue is for staff, party members and volunteers. What you filed is under “My requests”.",
);

/// The queue page: its filters (with errors next to bad ones), one page of rows, the bulk-dispatch
/// form (for dispatchers) and the results of a bulk dispatch.
async fn queue_page(
    state: &AppState,
    c: Ctx,
    q: &ListQuery,
    unit: Option<Field>,
    results: Vec<(i64, bool, String)>,
) -> PageResult {
    let dir = state.service.directory();
    let mut filters = queue_filters(&c, &dir, q);
    let filter = queue_filter(&dir, q, &mut filters, c.lang);
    let (_, rows, next) = list_rows(state, &c, &filter, 100).await?;
    let mut results = results;
    let units = if may_dispatch(&c) {
        let u = unit.unwrap_or_else(|| unit_field(&c, &dir, None, c.t("派往单位", "Dispatch to")));
        // The unit's field is only on the page with the rows; with none, the message goes on top.
        if rows.is_empty() && !u.error.is_empty() {
            results.push((0, false, u.error.clone()));
        }
        vec![u]
    } else {
        vec![]
    };
    let keep = q.filters();
    let failed = results.iter().any(|r| !r.1) || units.iter().any(|u| !u.error.is_empty());
    let intro = if results.is_empty() && !failed {
        c.t(
            "您的层级和范围内正在办理的诉求。红灯已超时，黄灯即将到期。勾选已受理的诉求可批量派单。",
            "Requests being handled in your level and scope. Red is overdue, yellow is due soon. Tick accepted requests to dispatch them together.",
        )
    } else if results.is_empty() {
        c.t(
            "没有派单：请看下面标红的地方。",
            "Nothing was dispatched; see the message below.",
        )
    } else {
        c.t(
            "批量派单的结果见下。",
            "The outcome of the bulk dispatch is below.",
        )
    };
    let mut res = render(&ListPage {
        title: c.t("工作台", "Work queue").into(),
        intro: intro.into(),
        empty: c.t("没有符合条件的诉求。", "No request matches.").into(),
        c,
        rows,
        mode: "queue",
        filters,
        units,
        next: next_href("/queue", &keep, &next),
        keep,
        results,
    });
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

fn works_queue(c: &Ctx) -> bool {
    c.person.as_ref().is_some_and(super::works_queue)
}

/// `GET /queue`: the work queue of my level and scope, with lights, time left and filters.
pub async fn queue(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    c.require(works_queue(&c), QUEUE_FOR.0, QUEUE_FOR.1)?;
    queue_page(&state, c, &q, None, vec![]).await
}

/// `POST /queue/dispatch`: dispatches every ticked request to one unit; shows what happened to each,
/// on the queue with the filters it was sent from. Without a unit, says so at the unit's field.
pub async fn bulk_dispatch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let q = ListQuery::from_form(&form);
    let c = ctx_login_at(&state, &headers, &uri, q.queue_href()).await?;
    form.check_csrf(&c)?;
    c.require(works_queue(&c), QUEUE_FOR.0, QUEUE_FOR.1)?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let dir = state.service.directory();
    let mut errors = Vec::new();
    let unit = form.number("unit_id", &mut errors).map(UnitId);
    let ids: Vec<RequestId> = form
        .all("id")
        .iter()
        .filter_map(|v| v.parse::<i64>().ok())
        .map(RequestId)
        .collect();
    let mut u = unit_field(&c, &dir, None, c.t("派往单位", "Dispatch to"));
    u.value = form.get("unit_id").unwrap_or_default().to_string();
    let mut results = Vec::new();
    if unit.is_none() {
        u.error = c
            .t("请选择派往单位。", "Choose the unit to dispatch to.")
            .to_string();
    } else if ids.is_empty() {
        results.push((
            0,
            false,
            c.t("请至少勾选一条诉求。", "Tick at least one request.")
                .to_string(),
        ));
    } else {
        for id in ids.iter().take(200) {
            let cmd = Command::Dispatch { unit_id: unit };
            match state.service.run(*id, &actor, &cmd, vec![], now()).await {
                Ok(_) => results.push((
                    id.0,
                    true,
                    format!(
                        "{} → {}",
                        c.t("已派单", "dispatched"),
                        unit_name(&dir, unit)
                    ),
                )),
                Err(StoreError::Core(e)) => {
                    let mut msg = e.message(c.lang);
                    for f in e.fields(c.lang) {
                        msg.push_str(&format!("（{}）", f.message));
                    }
                    results.push((id.0, false, msg))
                }
                Err(e) => return Err(PageError::store(e, c.lang, &c.here)),
            }
        }
    }
    queue_page(&state, c, &q, Some(u), results).await
}

/// `GET /verify`: resolved requests waiting for the party organisation's verification (验单).
pub async fn to_verify(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    c.require(
        c.person.as_ref().is_some_and(super::verifies),
        "待验单只对党组织的核验人员开放。",
        "The verification list is for the party organisation's verifiers.",
    )?;
    let filter = ListFilter {
        statuses: vec![Status::Resolved],
        before_id: q.before.and_then(|b| b.parse().ok()).map(RequestId),
        ..Default::default()
    };
    let (_, rows, next) = list_rows(&state, &c, &filter, 100).await?;
    Ok(render(&ListPage {
        title: c.t("待验单", "Waiting for verification").into(),
        intro: c
            .t(
                "已办结、等待党组织核验的诉求。点开一条，电话或上门回访后填写验单结果。",
                "Resolved requests waiting for the party organisation to check. Open one, call or visit, then record the result.",
            )
            .into(),
        empty: c.t("没有待验单的诉求。", "Nothing waits for verification.").into(),
        c,
        rows,
        mode: "verify",
        filters: vec![],
        units: vec![],
        keep: vec![],
        next: next_href("/verify", &[], &next),
        results: vec![],
    }))
}

/// `GET /redlist`: requests showing a red light, with the supervise action (亮灯督办) on each one the
/// viewer may supervise now.
pub async fn red_list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    c.require(
        c.person.as_ref().is_some_and(super::supervises),
        "亮灯督办只对督查人员和区级管理员开放。",
        "The red list is for supervisors and district administrators.",
    )?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let at = now();
    let filter = ListFilter {
        statuses: open_states(),
        light: Some((Light::Red, at)),
        before_id: q.before.and_then(|b| b.parse().ok()).map(RequestId),
        ..Default::default()
    };
    let (requests, mut rows, next) = list_rows(&state, &c, &filter, 100).await?;
    let dir = state.service.directory();
    for (row, r) in rows.iter_mut().zip(&requests) {
        row.supervise =
            allowed_commands(&state, &dir, &actor, r, at).contains(&CommandKind::Supervise);
    }
    Ok(render(&ListPage {
        title: c.t("亮灯督办", "Red list").into(),
        intro: c
            .t(
                "已超过时限（红灯）的诉求。填写督办意见后提交，承办单位会收到督办通知。",
                "Requests past their deadline (red). Write a supervision order; the handling unit is notified.",
            )
            .into(),
        empty: c.t("目前没有红灯诉求。", "No request is red now.").into(),
        c,
        rows,
        mode: "redlist",
        filters: vec![],
        units: vec![],
        keep: vec![],
        next: next_href("/redlist", &[], &next),
        results: vec![],
    }))
}

// ---------------------------------------------------------------------------------------------
// One request.

/// One entry of the timeline as shown.
pub struct TimelineEntry {
    pub at: String,
    pub label: &'static str,
    pub who: String,
    pub detail: String,
    pub kind: &'static str,
}

#[derive(Template)]
#[template(path = "request.html")]
pub struct RequestPage {
    pub c: Ctx,
    pub r: Request,
    pub row: Row,
    pub address: String,
    pub tier: String,
    pub rating: String,
    pub photos: Vec<(String, String)>,
    pub timeline: Vec<TimelineEntry>,
    pub actions: Vec<ActionForm>,
    pub own: bool,
}

fn yes_no(b: bool, lang: Lang) -> &'static str {
    if b {
        lang.pick("是", "yes")
    } else {
        lang.pick("否", "no")
    }
}

fn entry(dir: &Directory, e: &Event, lang: Lang) -> TimelineEntry {
    let who = match (e.actor.person_id, e.actor.role) {
        (None, _) => lang.pick("系统", "system").to_string(),
        (Some(_), Some(role)) => role.label(lang).to_string(),
        (Some(_), None) => String::new(),
    };
    let detail = match &e.body {
        EventBody::Submitted { description, .. } => description.clone(),
        EventBody::Accepted {
            category_id,
            tier,
            urgent,
            level,
        } => {
            let mut s = format!(
                "{} · {} · {}",
                category_name(dir, Some(*category_id), lang),
                tier.label(lang),
                level.label(lang)
            );
            if *urgent {
                s.push_str(lang.pick(" · 紧急", " · urgent"));
            }
            s
        }
        EventBody::Rejected {
            code,
            duplicate_of,
            text,
        } => {
            let mut s = code.label(lang).to_string();
            if let Some(d) = duplicate_of {
                s.push_str(&format!(" #{d}"));
            }
            if let Some(t) = text {
                s.push_str(&format!("：{t}"));
            }
            s
        }
        EventBody::Dispatched { unit_id, .. } => unit_name(dir, Some(*unit_id)),
        EventBody::Returned { reason } => reason.clone(),
        EventBody::Claimed { .. } => String::new(),
        EventBody::Noted { text, contact_made } => {
            if *contact_made {
                format!(
                    "{text}（{}）",
                    lang.pick("已联系居民", "resident contacted")
                )
            } else {
                text.clone()
            }
        }
        EventBody::Deliberated {
            decision,
            attendees,
        } => format!(
            "{decision}（{}{attendees}）",
            lang.pick("参会：", "present: ")
        ),
        EventBody::Resolved {
            summary,
            cost_fen,
            outcome,
            ..
        } => match (cost_fen, outcome) {
            (_, Some(o)) => format!(
                "{}：{} · {summary}",
                lang.pick("预警核查", "alert check"),
                o.label(lang)
            ),
            (Some(f), None) => format!(
                "{summary}（{} {:.2} {}）",
                lang.pick("费用", "cost"),
                *f as f64 / 100.0,
                lang.pick("元", "yuan")
            ),
            (None, None) => summary.clone(),
        },
        EventBody::Verified { passed, reason } => {
            let s = if *passed {
                lang.pick("核验通过", "passed")
            } else {
                lang.pick("核验未通过，返工", "failed; back for rework")
            };
            match reason {
                Some(r) => format!("{s}：{r}"),
                None => s.to_string(),
            }
        }
        EventBody::Rated {
            resolved,
            satisfaction,
            comment,
            ..
        } => {
            let mut s = format!(
                "{}{} · {}",
                lang.pick("问题解决：", "resolved: "),
                yes_no(*resolved, lang),
                satisfaction.label(lang)
            );
            if let Some(cm) = comment {
                s.push_str(&format!(" · {cm}"));
            }
            s
        }
        EventBody::Closed {} => String::new(),
        EventBody::Escalated {
            from, to, reason, ..
        } => format!("{} → {}：{reason}", from.label(lang), to.label(lang)),
        EventBody::Suspended { reason, .. } => reason.clone(),
        EventBody::Resumed { .. } => String::new(),
        EventBody::Supervised { order, .. } => order.clone(),
    };
    TimelineEntry {
        at: super::local_time(&e.at),
        label: event_label(e.body.kind(), lang),
        who,
        detail,
        kind: e.body.kind(),
    }
}

/// The commands `actor` may run on `r` now: exactly those the core would accept once their form is
/// filled in. Each is decided in a dry run (nothing is stored) with the service's settings and
/// deadline policy at `at`, with its fields left empty: a refusal about the fields only means
/// "fill in the form"; any other refusal (the role, the scope, the state, the handler verifying
/// their own work, the rating window still open, no level above to escalate to) means the action
/// is not offered.
pub fn allowed_commands(
    state: &AppState,
    dir: &Directory,
    actor: &Actor,
    r: &Request,
    at: DateTime<Utc>,
) -> Vec<CommandKind> {
    let facts = Facts::default();
    let ctx = DecideCtx {
        dir,
        now: at,
        settings: state.service.settings(),
        facts: &facts,
        deadlines: state.service.deadline_policy().map(|p| p.as_ref()),
    };
    CommandKind::ALL
        .into_iter()
        .filter(|k| {
            Command::blank(*k).is_some_and(|cmd| {
                matches!(
                    decide(r, actor, &cmd, vec![], &ctx),
                    Ok(_) | Err(CoreError::Validation(_))
                )
            })
        })
        .collect()
}

/// The form of one command, with the values typed and the errors of a refused attempt.
fn action_form(
    c: &Ctx,
    dir: &Directory,
    r: &Request,
    kind: CommandKind,
    values: &HashMap<String, String>,
    errors: Option<&Errors>,
) -> ActionForm {
    let lang = c.lang;
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut fields: Vec<Field> = kind
        .fields()
        .iter()
        .filter(|f| f.need != Need::PowerAlertOnly || r.channel == Channel::PowerAlert)
        // Evidence pictures are uploaded through the API; the page's form has none.
        .filter(|f| !matches!(f.kind, FieldKind::Attachments))
        .map(|f| form_field(c, dir, r, f, values))
        .collect();
    for f in &mut fields {
        if f.value.is_empty() {
            f.value = v(f.name);
        }
        if let Some(e) = errors {
            f.error = e.of(f.name).to_string();
        }
    }
    let primary = matches!(
        (kind, r.status),
        (CommandKind::Accept, Status::Submitted)
            | (CommandKind::Dispatch, Status::Accepted)
            | (CommandKind::Claim, Status::Dispatched)
            | (CommandKind::Resolve, Status::Claimed)
            | (CommandKind::Verify, Status::Resolved)
            | (CommandKind::Rate, Status::Verified)
    );
    ActionForm {
        command: kind.as_str(),
        label: kind.label(lang).to_string(),
        fields,
        open: errors.is_some(),
        error: errors.and_then(|e| e.general.clone()).unwrap_or_default(),
        primary,
    }
}

/// The form field for one declared field of a command.
fn form_field(
    c: &Ctx,
    dir: &Directory,
    r: &Request,
    spec: &FieldSpec,
    values: &HashMap<String, String>,
) -> Field {
    let lang = c.lang;
    let label = spec.label(lang);
    let required = spec.need != Need::Optional;
    let blank = if required {
        c.t("— 请选择 —", "— choose —")
    } else {
        c.t("— 默认 —", "— default —")
    };
    let field = match spec.kind {
        FieldKind::Text { .. } => Field::new(spec.name, label, "textarea"),
        FieldKind::Checkbox => Field::new(spec.name, label, "checkbox"),
        FieldKind::RequestNo | FieldKind::PersonNo => Field::new(spec.name, label, "number"),
        FieldKind::MoneyFen | FieldKind::Attachments => Field::new(spec.name, label, "text"),
        FieldKind::YesNo => Field::new(spec.name, label, "select").options(vec![
            (String::new(), blank.to_string()),
            ("true".to_string(), c.t("是", "yes").to_string()),
            ("false".to_string(), c.t("否", "no").to_string()),
        ]),
        FieldKind::Choice(options) => Field::new(spec.name, label, "select").options(
            std::iter::once((String::new(), blank.to_string()))
                .chain(
                    options(lang)
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), name.to_string())),
                )
                .collect(),
        ),
        FieldKind::Category => {
            let mut cat = Field::new(spec.name, label, "select");
            cat.groups.push(first_option(blank));
            cat.groups.extend(category_groups(dir, lang));
            // The category the resident suggested, until staff choose another.
            cat.value = values
                .get(spec.name)
                .cloned()
                .or_else(|| r.category_id.map(|c| c.0.to_string()))
                .unwrap_or_default();
            cat
        }
        FieldKind::Unit => unit_field(c, dir, Some(r), label),
    };
    if required { field.required() } else { field }
}

/// A posted form as the source of a declared command's fields (the same fields as the JSON API).
struct FormSource<'a> {
    form: &'a FormData,
    errors: Vec<FieldError>,
}

impl FieldSource for FormSource<'_> {
    fn text(&mut self, name: &'static str) -> Option<String> {
        self.form.text(name)
    }

    fn flag(&mut self, name: &'static str, checkbox: bool) -> Option<bool> {
        let value = match self.form.text(name).as_deref() {
            Some("true" | "on" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            _ => None,
        };
        // An unticked checkbox is not sent at all: it means "no".
        if checkbox {
            Some(value.unwrap_or(false))
        } else {
            value
        }
    }

    fn number(&mut self, name: &'static str) -> Option<i64> {
        self.form.number(name, &mut self.errors)
    }

    /// Forms take yuan (up to two decimals); the command carries fen.
    fn money_fen(&mut self, name: &'static str) -> Option<i64> {
        let v = self.form.text(name)?;
        match v.parse::<f64>() {
            Ok(y) if y.is_finite() && (0.0..1e10).contains(&y) => Some((y * 100.0).round() as i64),
            _ => {
                self.errors.push(FieldError::new(name, "invalid"));
                None
            }
        }
    }

    fn word(&mut self, name: &'static str, known: &dyn Fn(&str) -> bool) -> Option<String> {
        let v = self.form.text(name)?;
        if known(&v) {
            Some(v)
        } else {
            self.errors.push(FieldError::new(name, "invalid"));
            None
        }
    }

    fn attachments(&mut self, _name: &'static str) -> Vec<Attachment> {
        Vec::new()
    }

    fn errors(&mut self) -> Vec<FieldError> {
        std::mem::take(&mut self.errors)
    }
}

async fn request_page(
    state: &AppState,
    c: Ctx,
    id: RequestId,
    failed: Option<(CommandKind, HashMap<String, String>, Errors)>,
) -> PageResult {
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let (r, events) = state
        .service
        .view(&actor, id)
        .await
        .map_err(|e| PageError::store(e, c.lang, &c.here))?;
    let dir = state.service.directory();
    let lang = c.lang;
    let own = c.person.as_ref().map(|p| p.id) == r.requester_id && r.requester_id.is_some();
    let mut actions: Vec<ActionForm> = allowed_commands(state, &dir, &actor, &r, now())
        .into_iter()
        .map(|k| match &failed {
            Some((fk, values, errors)) if *fk == k => {
                action_form(&c, &dir, &r, k, values, Some(errors))
            }
            _ => action_form(&c, &dir, &r, k, &HashMap::new(), None),
        })
        .collect();
    // A refused command that is no longer allowed (the state moved on) still shows why.
    if let Some((fk, values, errors)) = &failed
        && !actions.iter().any(|a| a.command == fk.as_str())
    {
        let mut f = action_form(&c, &dir, &r, *fk, values, Some(errors));
        f.fields.clear();
        actions.insert(0, f);
    }
    actions.sort_by_key(|a| !a.primary);
    let row = row(&dir, &r, now(), lang);
    let tier = r
        .tier
        .map(|t| t.label(lang).to_string())
        .unwrap_or_default();
    let rating = r
        .rating
        .as_ref()
        .map(|x| {
            format!(
                "{}{} · {}",
                lang.pick("问题解决：", "resolved: "),
                yes_no(x.resolved, lang),
                x.satisfaction.label(lang)
            )
        })
        .unwrap_or_default();
    let mut photos: Vec<(String, String)> = r
        .attachments
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    for e in &events {
        if let EventBody::Resolved { evidence, .. } = &e.body {
            photos.extend(evidence.iter().map(|a| (a.id.clone(), a.name.clone())));
        }
    }
    let timeline = events.iter().map(|e| entry(&dir, e, lang)).collect();
    let address = r.location.address.clone().unwrap_or_default();
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut res = render(&RequestPage {
        c,
        r,
        row,
        address,
        tier,
        rating,
        photos,
        timeline,
        actions,
        own,
    });
    *res.status_mut() = status;
    Ok(res)
}

fn parse_id(raw: &str, lang: Lang) -> Result<RequestId, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(RequestId)
        .ok_or_else(|| PageError::not_found(lang))
}

/// `GET /requests/{id}`: the request, its timeline, and the actions I may take now.
pub async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> PageResult {
    let c = ctx_login(&state, &headers, &uri).await?;
    let id = parse_id(&id, c.lang)?;
    request_page(&state, c, id, None).await
}

/// `POST /requests/{id}/{command}`: runs one command from its form. Success goes back to the page
/// (or to `back`, e.g. the red list); a refusal shows the page again with the form open, what was
/// typed, and each error next to its field.
pub async fn command_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, name)): Path<(String, String)>,
    PageForm(form): PageForm,
) -> PageResult {
    let id = parse_id(&id, super::page_lang(&headers))?;
    // The page the form was on: a list it came from, or the request's page (never this post-only
    // address), for logging in again and for the language switch.
    let back = form
        .get("back")
        .filter(|b| *b == "/redlist" || *b == "/verify" || *b == "/queue")
        .map(str::to_string)
        .unwrap_or_else(|| format!("/requests/{id}"));
    let c = ctx_login_at(&state, &headers, &uri, back.clone()).await?;
    let lang = c.lang;
    form.check_csrf(&c)?;
    let kind = CommandKind::parse(&name)
        .filter(|k| *k != CommandKind::Submit)
        .ok_or_else(|| PageError::not_found(lang))?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let mut source = FormSource {
        form: &form,
        errors: Vec::new(),
    };
    let (cmd, invalid) =
        Command::read(kind, &mut source).ok_or_else(|| PageError::not_found(lang))?;
    match state.service.run(id, &actor, &cmd, invalid, now()).await {
        Ok(_) => Ok(see_other(&format!("{back}?done={}", kind.as_str()))),
        Err(StoreError::Core(e)) => {
            if matches!(e, CoreError::NotFound { .. }) {
                return Err(PageError::core(&e, lang, &c.here));
            }
            let errors = Errors::from_core(&e, lang);
            let page_c = super::Ctx {
                here: format!("/requests/{id}"),
                ..c
            };
            request_page(&state, page_c, id, Some((kind, form.values(), errors))).await
        }
        Err(e) => Err(PageError::store(e, lang, &c.here)),
    }
}

impl IntoResponse for ListPage {
    fn into_response(self) -> axum::response::Response {
        render(&self)
    }
}
