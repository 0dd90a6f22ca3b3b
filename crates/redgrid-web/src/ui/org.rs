//! The organisation pages: the registers (party organisations, members, volunteers, targets,
//! pairings, alliances, activities, suggestions) as tables with Excel export, the spreadsheet import
//! with its dry-run report, recording an activity, and campaign statistics.

use super::requests::{Field, Opt, OptGroup};
use super::{
    Ctx, Errors, FormData, LoggedIn, PageError, PageForm, PageQuery, PageResult, ctx_login_at,
    posted, render, see_other,
};
use crate::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::NaiveDate;
use redgrid_app::organise::{figure_cells, figure_headers, headline, today};
use redgrid_app::registers::{ImportReport, Register};
use redgrid_app::tabular::Cell;
use redgrid_core::error::{CoreError, FieldError, Lang};
use redgrid_core::ids::RequestId;
use redgrid_core::org::{ActivityKind, Campaign};
use redgrid_core::policy::{self, Action, Subject};
use redgrid_store::StoreError;
use redgrid_store::org::NewActivity;
use std::collections::HashMap;
use std::sync::Arc;

/// The most rows a register page shows at once (the export has them all).
const PAGE_ROWS: usize = 100;

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Num(n) => format!("{n:.2}"),
        Cell::Date(d) => d.to_string(),
        Cell::Empty => String::new(),
    }
}

#[derive(Template)]
#[template(path = "org.html")]
pub struct OrgPage {
    pub c: Ctx,
    pub registers: Vec<(&'static str, &'static str, bool)>,
    pub register: &'static str,
    pub register_label: String,
    pub importable: bool,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total_rows: usize,
    pub page: usize,
    pub pages: usize,
    pub campaigns: Vec<Campaign>,
    pub import_registers: Vec<(&'static str, &'static str)>,
    pub report: Option<ImportReport>,
    pub report_register: String,
    pub activity: Vec<Field>,
    pub activity_error: String,
    /// The register chosen for an import was refused (unknown, or not importable).
    pub import_error: String,
    pub may_read: bool,
    /// Whether the viewer grants roles somewhere (a link to 角色授权).
    pub may_grant: bool,
    /// On the alliances tab: the alliances still working, `(code, name)`, for the end form.
    pub working_alliances: Vec<(String, String)>,
    /// On the alliances tab: the form that creates an alliance or edits one by its code.
    pub alliance_form: Vec<Field>,
}

/// What a posted form hands to the organisation page: an import report, or the activity form as
/// typed with its errors, or a refused import register.
#[derive(Default)]
struct OrgForms {
    report: Option<ImportReport>,
    activity_values: HashMap<String, String>,
    activity_errors: Errors,
    import_error: String,
}

fn may_read_registers(state: &AppState, c: &Ctx) -> bool {
    c.actor().is_some_and(|a| {
        let dir = state.service.directory();
        policy::permit(&dir, &a, Action::Organise, &Subject::District).is_ok()
    })
}

#[derive(serde::Deserialize, Default)]
pub struct RegisterQuery {
    page: Option<usize>,
}

async fn org_page(
    state: &AppState,
    c: Ctx,
    register: Register,
    page: usize,
    forms: OrgForms,
) -> PageResult {
    let OrgForms {
        report,
        activity_values,
        activity_errors,
        import_error,
    } = forms;
    let (activity_values, activity_errors) = (&activity_values, &activity_errors);
    let lang = c.lang;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let may_read = may_read_registers(state, &c);
    let dir = state.service.directory();
    // Organisers of a street or community may still record activities; the registers and campaign
    // figures are district-wide.
    let may_organise_somewhere = actor.grants().iter().any(|g| {
        dir.grant_area(g).is_some_and(|a| {
            policy::permit(&dir, &actor, Action::Organise, &Subject::Area(a)).is_ok()
        })
    });
    if !may_read && !may_organise_somewhere {
        return Err(PageError::core(
            &CoreError::Forbidden(redgrid_core::error::Denial::RoleNotAllowed),
            lang,
            &c.here,
        ));
    }
    let (headers, rows, total_rows, pages) = if may_read {
        let (from, to) = (
            NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
            today(),
        );
        let sheet = state
            .service
            .register_sheet(&actor, register, lang, from, to)
            .await
            .map_err(|e| PageError::store(e, lang, &c.here))?;
        let total = sheet.rows.len();
        let pages = total.div_ceil(PAGE_ROWS).max(1);
        let page = page.clamp(1, pages);
        let rows = sheet
            .rows
            .iter()
            .skip((page - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .map(|r| r.iter().map(cell_text).collect())
            .collect();
        (sheet.headers, rows, total, pages)
    } else {
        (vec![], vec![], 0, 1)
    };
    let campaigns = if may_read {
        match state.service.store().campaigns().await {
            Ok(c) => c,
            Err(e) => return Err(PageError::store(e, lang, "/org")),
        }
    } else {
        vec![]
    };
    // The organisations this person may record activities for.
    let orgs = state
        .service
        .store()
        .party_orgs()
        .await
        .map_err(|e| PageError::store(e, lang, "/org"))?;
    let mut org_opts: Vec<Opt> = orgs
        .iter()
        .filter(|o| {
            policy::permit(&dir, &actor, Action::Organise, &Subject::Area(o.area_id)).is_ok()
        })
        .map(|o| Opt {
            value: o.id.to_string(),
            label: format!("{}（{}）", o.name, o.kind.label(lang)),
        })
        .collect();
    org_opts.sort_by(|a, b| a.label.cmp(&b.label));
    let activity = activity_fields(&c, org_opts, activity_values, activity_errors);
    let report_register = report
        .as_ref()
        .map(|r| r.register.label(lang).to_string())
        .unwrap_or_default();
    let status = match &report {
        Some(r) if !r.issues.is_empty() => StatusCode::UNPROCESSABLE_ENTITY,
        _ if !activity_errors.is_empty() || !import_error.is_empty() => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::OK,
    };
    let working_alliances = if may_read && register == Register::Alliances {
        let all = state
            .service
            .store()
            .alliances()
            .await
            .map_err(|e| PageError::store(e, lang, "/org"))?;
        all.into_iter()
            .filter(|a| a.ended_on.is_none())
            .map(|a| (a.code, a.name))
            .collect()
    } else {
        vec![]
    };
    let alliance_form = if may_read && register == Register::Alliances {
        alliance_fields(&c, &dir)
    } else {
        vec![]
    };
    let mut res = render(&OrgPage {
        alliance_form,
        working_alliances,
        registers: Register::ALL
            .iter()
            .map(|r| (r.as_str(), r.label(lang), *r == register))
            .collect(),
        register: register.as_str(),
        register_label: register.label(lang).to_string(),
        importable: register.importable(),
        headers,
        rows,
        total_rows,
        page: page.clamp(1, pages),
        pages,
        campaigns,
        import_registers: Register::ALL
            .iter()
            .filter(|r| r.importable())
            .map(|r| (r.as_str(), r.label(lang)))
            .collect(),
        report,
        report_register,
        activity,
        activity_error: activity_errors.general.clone().unwrap_or_default(),
        import_error,
        may_read,
        may_grant: super::roles::grants_somewhere(&dir, &actor),
        c,
    });
    *res.status_mut() = status;
    Ok(res)
}

fn activity_fields(
    c: &Ctx,
    orgs: Vec<Opt>,
    values: &HashMap<String, String>,
    errors: &Errors,
) -> Vec<Field> {
    let mk = |name: &'static str, label: &str, kind: &'static str| {
        let mut f = Field {
            name,
            label: label.to_string(),
            kind,
            required: false,
            value: values.get(name).cloned().unwrap_or_default(),
            groups: vec![],
            error: errors.of(name).to_string(),
            hint: String::new(),
        };
        if name == "held_on" && f.value.is_empty() {
            f.value = today().to_string();
        }
        f
    };
    let mut org = mk(
        "party_org_id",
        c.t("党组织", "Party organisation"),
        "select",
    );
    org.required = true;
    org.groups.push(OptGroup {
        label: String::new(),
        opts: std::iter::once(Opt {
            value: String::new(),
            label: c.t("— 请选择 —", "— choose —").into(),
        })
        .chain(orgs)
        .collect(),
    });
    let mut kind = mk("kind", c.t("活动类型", "Kind"), "select");
    kind.required = true;
    kind.groups.push(OptGroup {
        label: String::new(),
        opts: ActivityKind::ALL
            .iter()
            .map(|k| Opt {
                value: k.as_str().into(),
                label: k.label(c.lang).into(),
            })
            .collect(),
    });
    let mut held = mk("held_on", c.t("日期", "Date"), "date");
    held.required = true;
    let mut title = mk("title", c.t("活动主题", "Title"), "text");
    title.required = true;
    vec![
        org,
        kind,
        held,
        title,
        mk("people_served", c.t("服务人数", "People served"), "number"),
        mk("hours", c.t("服务时长（小时）", "Hours"), "text"),
        mk("donation_items", c.t("捐赠物资", "Donated items"), "text"),
        mk(
            "donation_value",
            c.t("捐赠价值（元）", "Donated value (yuan)"),
            "text",
        ),
        mk(
            "suggestion",
            c.t("收集的意见建议（选填）", "A suggestion heard (optional)"),
            "textarea",
        ),
        mk(
            "request_ids",
            c.t(
                "解决的诉求编号（逗号分隔，选填）",
                "Requests solved (numbers, comma-separated)",
            ),
            "text",
        ),
    ]
}

/// `GET /org`: the registers' index (party organisations first).
pub async fn index(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<RegisterQuery>,
) -> PageResult {
    register_page(&state, c, "party_orgs", q.page).await
}

/// `GET /org/{register}`: one register as a table, 100 rows a page, with its exports.
pub async fn register(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    Path(name): Path<String>,
    PageQuery(q): PageQuery<RegisterQuery>,
) -> PageResult {
    register_page(&state, c, &name, q.page).await
}

/// `GET /org/activities`: the activity ledger (the same page as `/org/{register}`; this address also
/// takes the activity form's posts, so it needs its own route).
pub async fn activities(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<RegisterQuery>,
) -> PageResult {
    register_page(&state, c, "activities", q.page).await
}

/// The page of the register called `name` (404 for no such register), with empty forms.
async fn register_page(state: &AppState, c: Ctx, name: &str, page: Option<usize>) -> PageResult {
    let register = Register::from_name(name).ok_or_else(|| PageError::not_found(c.lang))?;
    org_page(state, c, register, page.unwrap_or(1), OrgForms::default()).await
}

/// `POST /org/import` (multipart: `register`, `file`, `dry_run`): checks a spreadsheet and, unless it
/// is a dry run, imports it all or nothing; the report lists every bad row.
pub async fn import(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let c = ctx_login_at(&state, &headers, &uri, "/org".into()).await?;
    let lang = c.lang;
    let bad_form = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("上传失败", "Upload failed"),
            lang.pick(
                "文件没有完整上传（上限 64 MB），请返回重试。",
                "The file did not arrive whole (at most 64 MB); go back and try again.",
            ),
        )
    };
    let mut multipart = multipart.map_err(|_| bad_form())?;
    let mut pairs = Vec::new();
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    file = Some(field.bytes().await.map_err(|_| bad_form())?.to_vec());
                } else {
                    pairs.push((name, field.text().await.map_err(|_| bad_form())?));
                }
            }
            Ok(None) => break,
            Err(_) => return Err(bad_form()),
        }
    }
    let form = FormData { pairs };
    form.check_csrf(&c)?;
    let actor = c.actor().ok_or_else(|| PageError::Login("/org".into()))?;
    // The register is chosen from a list; anything else is refused next to it, importing nothing.
    let Some(register) = form
        .get("register")
        .and_then(Register::from_name)
        .filter(|r| r.importable())
    else {
        let import_error = match form.text("register") {
            None => c.t("请选择台账。", "Choose a register.").to_string(),
            Some(_) => c
                .t(
                    "没有这个可导入的台账，请从列表中选择。",
                    "There is no such register to import into; choose one from the list.",
                )
                .to_string(),
        };
        return org_page(
            &state,
            c,
            Register::PartyOrgs,
            1,
            OrgForms {
                import_error,
                ..OrgForms::default()
            },
        )
        .await;
    };
    let dry_run = form.get("dry_run").is_some();
    let bytes = file.unwrap_or_default();
    let report = state
        .service
        .import_register(&actor, register, &bytes, dry_run, lang)
        .await
        .map_err(|e| PageError::store(e, lang, "/org"))?;
    let page_c = Ctx {
        here: format!("/org/{}", register.as_str()),
        ..c
    };
    org_page(
        &state,
        page_c,
        register,
        1,
        OrgForms {
            report: Some(report),
            ..OrgForms::default()
        },
    )
    .await
}

fn money_fen(v: Option<String>, name: &'static str, errors: &mut Vec<FieldError>) -> i64 {
    match v {
        None => 0,
        Some(s) => match s.parse::<f64>() {
            Ok(y) if y.is_finite() && y >= 0.0 => (y * 100.0).round() as i64,
            _ => {
                errors.push(FieldError::new(name, "invalid"));
                0
            }
        },
    }
}

/// `POST /org/activities`: records one activity in the ledger.
pub async fn record_activity(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let c = ctx_login_at(&state, &headers, &uri, "/org/activities".into()).await?;
    let lang = c.lang;
    form.check_csrf(&c)?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let mut errors = Vec::new();
    let org = form.number("party_org_id", &mut errors);
    if org.is_none() && !errors.iter().any(|e| e.field == "party_org_id") {
        errors.push(FieldError::new("party_org_id", "required"));
    }
    let kind = form.get("kind").and_then(ActivityKind::parse);
    if kind.is_none() {
        errors.push(FieldError::new("kind", "required"));
    }
    let held_on = match form.text("held_on") {
        None => {
            errors.push(FieldError::new("held_on", "required"));
            None
        }
        Some(s) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new("held_on", "invalid"));
                None
            }
        },
    };
    let people_served = form.number("people_served", &mut errors).unwrap_or(0);
    let hours = match form.text("hours") {
        None => 0.0,
        Some(h) => h.parse::<f64>().unwrap_or_else(|_| {
            errors.push(FieldError::new("hours", "invalid"));
            0.0
        }),
    };
    let donation_value_fen = money_fen(form.text("donation_value"), "donation_value", &mut errors);
    let mut request_ids = Vec::new();
    if let Some(list) = form.text("request_ids") {
        for part in list.split([',', '，', ' ']).filter(|p| !p.is_empty()) {
            match part.trim_start_matches('#').parse::<i64>() {
                Ok(n) => request_ids.push(RequestId(n)),
                Err(_) => errors.push(FieldError::new("request_ids", "invalid")),
            }
        }
    }
    let outcome = match (org, kind, held_on) {
        (Some(org), Some(kind), Some(held_on)) if errors.is_empty() => {
            let new = NewActivity {
                kind,
                held_on,
                party_org_id: org,
                pairing_id: None,
                target_id: None,
                title: form.text("title").unwrap_or_default(),
                participants: vec![],
                people_served,
                donation_items: form.text("donation_items").unwrap_or_default(),
                donation_value_fen,
                hours,
                suggestions: form
                    .text("suggestion")
                    .map(|s| vec![(redgrid_core::ids::AreaId(0), s)])
                    .unwrap_or_default(),
                request_ids,
                recorded_by: None,
            };
            state.service.record_activity(&actor, new).await
        }
        _ => Err(CoreError::Validation(errors).into()),
    };
    match outcome {
        Ok(_) => Ok(see_other("/org/activities?done=recorded")),
        Err(StoreError::Core(e)) if e.http_status() == 422 || e.http_status() == 404 => {
            let mut errs = Errors::from_core(&e, lang);
            // `request_ids[2]` and the like are shown at the list's field.
            let keys: Vec<String> = errs.by_field.keys().cloned().collect();
            for k in keys {
                if let Some((base, _)) = k.split_once('[')
                    && let Some(v) = errs.by_field.remove(&k)
                {
                    errs.by_field.entry(base.to_string()).or_insert(v);
                }
            }
            // The store's names for what the form calls otherwise.
            for (stored, shown) in [
                ("suggestions", "suggestion"),
                ("donation_value_fen", "donation_value"),
            ] {
                if let Some(v) = errs.by_field.remove(stored) {
                    errs.by_field.entry(shown.into()).or_insert(v);
                }
            }
            org_page(
                &state,
                c,
                Register::Activities,
                1,
                OrgForms {
                    activity_values: form.values(),
                    activity_errors: errs,
                    ..OrgForms::default()
                },
            )
            .await
        }
        Err(e) => Err(PageError::store(e, lang, "/org")),
    }
}

#[derive(Template)]
#[template(path = "campaign.html")]
pub struct CampaignPage {
    pub c: Ctx,
    pub campaign: Campaign,
    pub from: String,
    pub to: String,
    pub headline: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total: Vec<String>,
    pub covered: i64,
    pub unpaired: Vec<String>,
    /// The period as typed (shown again as typed when refused).
    pub from_value: String,
    pub to_value: String,
    /// Errors next to each date, and a note when the figures shown are not for the dates typed.
    pub from_error: String,
    pub to_error: String,
    pub error: String,
}

#[derive(serde::Deserialize, Default)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /org/campaigns/{code}?from&to`: a campaign's figures in total and per unit, the branches
/// without a pairing, and the Excel export.
pub async fn campaign(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    Path(code): Path<String>,
    PageQuery(q): PageQuery<PeriodQuery>,
) -> PageResult {
    let lang = c.lang;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let typed = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or("").to_string();
    let (from_typed, to_typed) = (typed(&q.from), typed(&q.to));
    let date = |s: &str, error: &mut String| -> Option<NaiveDate> {
        if s.is_empty() {
            return None;
        }
        match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                *error = match lang {
                    Lang::Zh => format!("「{s}」不是有效日期，日期格式应为 2026-01-31。"),
                    Lang::En => format!("“{s}” is not a date; dates look like 2026-01-31."),
                };
                None
            }
        }
    };
    let (mut from_error, mut to_error) = (String::new(), String::new());
    let from = date(&from_typed, &mut from_error);
    let to = date(&to_typed, &mut to_error);
    let mut error = String::new();
    let fail = |e| PageError::store(e, lang, "/org");
    let whole = || async {
        state
            .service
            .campaign_stats(&actor, &code, None, None)
            .await
            .map_err(fail)
    };
    let stats = if !from_error.is_empty() || !to_error.is_empty() {
        whole().await?
    } else {
        match state.service.campaign_stats(&actor, &code, from, to).await {
            Ok(s) => s,
            Err(StoreError::Core(e)) if e.http_status() == 422 => {
                // Said at the date it is about (the end before the start: at the end).
                let errs = Errors::from_core(&e, lang);
                if !errs.of("from").is_empty() {
                    from_error = lang
                        .pick(
                            "开始日期须在活动期内。",
                            "The start must be within the campaign.",
                        )
                        .into();
                }
                if !errs.of("to").is_empty() {
                    to_error = lang
                        .pick(
                            "结束日期不能早于开始日期，且须在活动期内。",
                            "The end may not be before the start, and must be within the campaign.",
                        )
                        .into();
                }
                if from_error.is_empty() && to_error.is_empty() {
                    error = e.message(lang);
                }
                whole().await?
            }
            Err(e) => return Err(fail(e)),
        }
    };
    if !from_error.is_empty() || !to_error.is_empty() {
        error = lang
            .pick(
                "下面的数字是活动全程的。",
                "The figures below cover the whole campaign.",
            )
            .into();
    }
    let (_, unpaired) = state
        .service
        .unpaired(&actor, &code, Some(stats.from), Some(stats.to))
        .await
        .map_err(fail)?;
    let texts = |cells: Vec<Cell>| cells.iter().map(cell_text).collect::<Vec<_>>();
    let mut headers_row = vec![lang.pick("单位", "Unit").to_string()];
    headers_row.extend(figure_headers(lang));
    let rows = stats
        .units
        .iter()
        .map(|u| {
            let mut r = vec![u.unit_name.clone()];
            r.extend(texts(figure_cells(&u.figures)));
            r
        })
        .collect();
    let mut total = vec![lang.pick("合计", "Total").to_string()];
    total.extend(texts(figure_cells(&stats.total)));
    let headline = headline(&stats, lang);
    let refused = !from_error.is_empty() || !to_error.is_empty();
    let shown = |typed: String, actual: NaiveDate| {
        if refused || !typed.is_empty() {
            typed
        } else {
            actual.to_string()
        }
    };
    Ok(render(&CampaignPage {
        from_value: shown(from_typed, stats.from),
        to_value: shown(to_typed, stats.to),
        from_error,
        to_error,
        from: stats.from.to_string(),
        to: stats.to.to_string(),
        headline,
        headers: headers_row,
        rows,
        total,
        covered: stats.branches_covered,
        unpaired: unpaired.iter().map(|o| o.name.clone()).collect(),
        error,
        campaign: stats.campaign,
        c,
    }))
}

/// `POST /org/alliances/end` (`code`, `ended_on`): ends an alliance and shows the register.
pub async fn end_alliance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let (c, actor) = posted(&state, &headers, &uri, &form, "/org/alliances").await?;
    let lang = c.lang;
    let code = form.text("code").unwrap_or_default();
    let on = match form.text("ended_on") {
        None => None,
        Some(d) => match NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let e = CoreError::validation("ended_on", "invalid");
                return Err(PageError::core(&e, lang, "/org/alliances"));
            }
        },
    };
    match state.service.end_alliance(&actor, &code, on).await {
        Ok(_) => Ok(see_other("/org/alliances?done=saved")),
        Err(StoreError::Core(e)) => Err(PageError::core(&e, lang, "/org/alliances")),
        Err(e) => Err(PageError::store(e, lang, "/org/alliances")),
    }
}

/// The fields of the alliance form: a new code creates one, an existing code edits it.
fn alliance_fields(c: &Ctx, dir: &redgrid_core::directory::Directory) -> Vec<Field> {
    use redgrid_core::area::Level;
    let mut areas: Vec<_> = dir
        .areas()
        .filter(|a| a.kind != Level::Grid)
        .map(|a| Opt {
            value: a.id.0.to_string(),
            label: format!("{}（{}）", a.name, a.code),
        })
        .collect();
    areas.sort_by(|a, b| a.label.cmp(&b.label));
    let mut area = Field::new(
        "area_id",
        c.t("所在区域（新建时）", "Area (when created)"),
        "select",
    );
    area.groups.push(OptGroup {
        label: String::new(),
        opts: areas,
    });
    let level = Field::new(
        "level",
        c.t("承接哪一级的诉求", "Takes requests of level"),
        "select",
    )
    .options(
        [Level::Street, Level::Community, Level::District]
            .iter()
            .map(|l| (l.as_str().to_string(), l.label(c.lang).to_string()))
            .collect(),
    );
    vec![
        Field::new("code", c.t("联盟编码", "Alliance code"), "text")
            .required()
            .hint(c.t(
                "新编码即新建；已有编码即修改该联盟。",
                "A new code creates one; an existing code edits it.",
            )),
        Field::new("name", c.t("联盟名称", "Name"), "text").required(),
        area,
        level,
        Field::new("members", c.t("成员单位编码", "Member unit codes"), "text")
            .required()
            .hint(c.t(
                "用顿号或逗号分隔，如 U-TD、U-XFL",
                "Separated by 、 or commas, e.g. U-TD, U-XFL",
            )),
        Field::new(
            "groups",
            c.t("工作组（选填）", "Working groups (optional)"),
            "text",
        )
        .hint(c.t("名称用顿号分隔", "Names separated by 、")),
        Field::new(
            "goals",
            c.t("工作目标（选填）", "Goals (optional)"),
            "textarea",
        ),
    ]
}

/// `POST /org/alliances/save`: creates an alliance, or edits the one with that code.
pub async fn save_alliance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let (c, actor) = posted(&state, &headers, &uri, &form, "/org/alliances").await?;
    let lang = c.lang;
    let dir = state.service.directory();
    let split = |k: &str| redgrid_app::registers::list_cell(&form.text(k).unwrap_or_default());
    let mut errors = Vec::new();
    let mut members = Vec::new();
    for code in split("members") {
        match dir
            .units()
            .find(|u| u.code.as_deref() == Some(code.as_str()))
        {
            Some(u) => members.push(u.id),
            None => errors.push(FieldError::new("members", "unknown")),
        }
    }
    let area_id = form
        .number("area_id", &mut errors)
        .map(redgrid_core::ids::AreaId);
    let code = form.text("code").unwrap_or_default();
    let new = redgrid_store::org::NewAlliance {
        code: code.clone(),
        name: form.text("name").unwrap_or_default(),
        area_id: area_id.unwrap_or(redgrid_core::ids::AreaId(0)),
        level: form
            .get("level")
            .and_then(redgrid_core::area::Level::parse)
            .unwrap_or(redgrid_core::area::Level::Street),
        lead_org_id: None,
        goals: form.text("goals").unwrap_or_default(),
        member_unit_ids: members,
        groups: redgrid_app::registers::named_groups(split("groups")),
    };
    let refused = |e: CoreError| {
        let fields: Vec<String> = e
            .fields(lang)
            .into_iter()
            .map(|f| format!("{}：{}", f.field, f.message))
            .collect();
        let message = if fields.is_empty() {
            e.message(lang)
        } else {
            fields.join("；")
        };
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        PageError::new(
            status,
            lang,
            lang.pick("无法保存联盟", "The alliance was not saved"),
            &message,
        )
    };
    if !errors.is_empty() {
        return Err(refused(CoreError::Validation(errors)));
    }
    let exists = state
        .service
        .store()
        .alliances()
        .await
        .map_err(|e| PageError::store(e, lang, "/org/alliances"))?
        .iter()
        .any(|a| a.code == code);
    let saved = if exists {
        state.service.update_alliance(&actor, &code, new).await
    } else {
        state.service.create_alliance(&actor, new).await
    };
    match saved {
        Ok(_) => Ok(see_other("/org/alliances?done=saved")),
        Err(StoreError::Core(e)) => Err(refused(e)),
        Err(e) => Err(PageError::store(e, lang, "/org/alliances")),
    }
}
