//! A request as one row of a list (light, time left, category, place), and the lists' paging and filters.

use super::*;

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

pub(crate) fn category_name(dir: &Directory, id: Option<CategoryId>, lang: Lang) -> String {
    id.and_then(|c| dir.item(c))
        .map(|i| lang.pick(&i.name_zh, &i.name_en).to_string())
        .unwrap_or_default()
}

pub(crate) fn area_name(dir: &Directory, id: Option<AreaId>) -> String {
    id.and_then(|a| dir.area(a))
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

pub(crate) fn unit_name(dir: &Directory, id: Option<UnitId>) -> String {
    id.and_then(|u| dir.unit(u))
        .map(|u| u.name.clone())
        .unwrap_or_default()
}

/// The place of a request for lists: community and grid (never the exact address).
pub(crate) fn place(dir: &Directory, r: &Request) -> String {
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
            (true, Some(d)) => crate::ui::local_time(&d),
            _ => String::new(),
        },
        left: match (handling, r.next_due_at) {
            (true, Some(d)) => time_left(d, at, lang),
            _ => String::new(),
        },
        category: category_name(dir, r.category_id, lang),
        place: place(dir, r),
        excerpt,
        created: crate::ui::local_time(&r.created_at),
        unit: unit_name(dir, r.unit_id),
        supervised: r.supervised,
        level: r.level.label(lang),
        supervise: false,
    }
}

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
    /// The request ledger of this queue, with its filters, as `format` (`xlsx` or `csv`): open
    /// requests unless a status is chosen, like the queue itself.
    pub fn ledger_href(&self, format: &'static str) -> String {
        let mut pairs: Vec<(&'static str, String)> = vec![("format", format.to_string())];
        pairs.extend(self.keep.iter().cloned());
        if !self.keep.iter().any(|(k, _)| *k == "status") {
            let open: Vec<&str> = crate::ui::open_states()
                .into_iter()
                .map(|s| s.as_str())
                .collect();
            pairs.push(("status", open.join(",")));
        }
        with_query("/api/requests", &pairs)
    }

    pub fn selectable(&self) -> bool {
        self.mode == "queue" && !self.units.is_empty()
    }
}

/// One page of a list: the requests, their rows, and the id to continue before ("" at the end).
pub(crate) async fn list_rows(
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
pub(crate) fn with_query(path: &str, pairs: &[(&'static str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::ui::url_encode(v)))
        .collect();
    format!("{path}?{}", parts.join("&"))
}

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    pub(crate) status: Option<String>,
    pub(crate) light: Option<String>,
    pub(crate) level: Option<String>,
    pub(crate) category_id: Option<String>,
    pub(crate) area_id: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) before: Option<String>,
}

impl ListQuery {
    /// The queue's filters read back from a posted form (the bulk-dispatch form carries them).
    pub(crate) fn from_form(form: &FormData) -> Self {
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
    pub(crate) fn filters(&self) -> Vec<(&'static str, String)> {
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
    pub(crate) fn queue_href(&self) -> String {
        with_query("/queue", &self.filters())
    }
}

impl IntoResponse for ListPage {
    fn into_response(self) -> axum::response::Response {
        render(&self)
    }
}
