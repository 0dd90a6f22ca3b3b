//! The lists people work from: my requests, the staff work queue with bulk dispatch, what waits for verification, and the red list.

use super::*;

/// `GET /mine`: the requests I filed, newest first.
pub async fn mine(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    let me = c.person.as_ref().map(|p| p.id);
    let filter = ListFilter {
        requester_id: me,
        before_id: q.before.and_then(|b| b.parse().ok()).map(RequestId),
        ..Default::default()
    };
    let (_, rows, next) = list_rows(&state, &c, &filter, 50).await?;
    let words = [
        ("我的诉求", "My requests"),
        (
            "您提交的诉求和办理进度。办结并经党组织验单后，请点开评价（评单）。",
            "What you filed and where it stands. Once it is resolved and verified, open it to rate it.",
        ),
        (
            "您还没有提交过诉求。",
            "You have not filed any request yet.",
        ),
    ];
    Ok(plain_list(c, "mine", words, rows, &next))
}

pub(crate) fn queue_filters(c: &Ctx, dir: &Directory, q: &ListQuery) -> Vec<Field> {
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
pub(crate) fn queue_filter(
    dir: &Directory,
    q: &ListQuery,
    filters: &mut [Field],
    lang: Lang,
) -> ListFilter {
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

pub(crate) fn may_dispatch(c: &Ctx) -> bool {
    c.has(Role::GridWorker)
        || c.has(Role::CommunityStaff)
        || c.has(Role::StreetStaff)
        || c.has(Role::DistrictAdmin)
}

pub(crate) const QUEUE_FOR: (&str, &str) = (
    "工作台只对工作人员、党员和志愿者开放。您提交的诉求在“我的诉求”里。",
    "The work queue is for staff, party members and volunteers. What you filed is under “My requests”.",
);

/// The queue page: its filters (with errors next to bad ones), one page of rows, the bulk-dispatch
/// form (for dispatchers) and the results of a bulk dispatch.
pub(crate) async fn queue_page(
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

pub(crate) fn works_queue(c: &Ctx) -> bool {
    c.person.as_ref().is_some_and(crate::ui::works_queue)
}

/// `GET /queue`: the work queue of my level and scope, with lights, time left and filters.
pub async fn queue(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
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
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    c.require(
        c.person.as_ref().is_some_and(crate::ui::verifies),
        "待验单只对党组织的核验人员开放。",
        "The verification list is for the party organisation's verifiers.",
    )?;
    let filter = ListFilter {
        statuses: vec![Status::Resolved],
        before_id: q.before.and_then(|b| b.parse().ok()).map(RequestId),
        ..Default::default()
    };
    let (_, rows, next) = list_rows(&state, &c, &filter, 100).await?;
    let words = [
        ("待验单", "Waiting for verification"),
        (
            "已办结、等待党组织核验的诉求。点开一条，电话或上门回访后填写验单结果。",
            "Resolved requests waiting for the party organisation to check. Open one, call or visit, then record the result.",
        ),
        ("没有待验单的诉求。", "Nothing waits for verification."),
    ];
    Ok(plain_list(c, "verify", words, rows, &next))
}

/// `GET /redlist`: requests showing a red light, with the supervise action (亮灯督办) on each one the
/// viewer may supervise now.
pub async fn red_list(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult {
    c.require(
        c.person.as_ref().is_some_and(crate::ui::supervises),
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
    let words = [
        ("亮灯督办", "Red list"),
        (
            "已超过时限（红灯）的诉求。填写督办意见后提交，承办单位会收到督办通知。",
            "Requests past their deadline (red). Write a supervision order; the handling unit is notified.",
        ),
        ("目前没有红灯诉求。", "No request is red now."),
    ];
    Ok(plain_list(c, "redlist", words, rows, &next))
}

/// A list without filters or forms at `/{mode}`: its title, introduction and what an empty list
/// says, each in Chinese and English.
fn plain_list(
    c: Ctx,
    mode: &'static str,
    words: [(&str, &str); 3],
    rows: Vec<Row>,
    next: &str,
) -> axum::response::Response {
    let [title, intro, empty] = words.map(|(zh, en)| c.t(zh, en).to_string());
    render(&ListPage {
        title,
        intro,
        empty,
        next: next_href(&format!("/{mode}"), &[], next),
        c,
        rows,
        mode,
        filters: vec![],
        units: vec![],
        keep: vec![],
        results: vec![],
    })
}
