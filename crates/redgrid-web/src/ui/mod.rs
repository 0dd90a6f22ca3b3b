//! The web pages: server-rendered HTML (askama templates, checked at compile time), plain forms that
//! work without JavaScript, zh-CN by default with an English switch, and every asset embedded in the
//! binary so that the pages work on an intranet with no internet at all.
//!
//! Forms post `application/x-www-form-urlencoded` (or multipart with a file) to the page's own
//! address; each carries the session's CSRF token in `_csrf`, checked here (the API's header check
//! does not apply outside `/api/`). A refused form is shown again with what was typed and each error
//! next to its field; a successful one redirects (303) so that reloading does not post twice.

pub mod org;
pub mod reports;
pub mod requests;
pub mod svg;

use crate::AppState;
use crate::auth::{self, PageCaller};
use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequest, FromRequestParts, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use redgrid_core::error::{CoreError, Denial, FieldError, Lang};
use redgrid_core::person::{Actor, Person, Role};
use redgrid_core::request::Status;
use redgrid_store::StoreError;
use std::collections::HashMap;
use std::sync::Arc;

/// The cookie holding the chosen page language (`zh` or `en`).
pub const LANG_COOKIE: &str = "redgrid_lang";

const APP_CSS: &str = include_str!("../../assets/app.css");
const APP_JS: &str = include_str!("../../assets/app.js");
const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// One link of the navigation bar.
pub struct Nav {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What every page needs: the language, who is looking, the CSRF token for its forms and the
/// navigation for their roles.
pub struct Ctx {
    pub lang: Lang,
    pub person: Option<Person>,
    pub csrf: String,
    /// The page's path and query, for the language switch to come back to.
    pub here: String,
    pub nav: Vec<Nav>,
    /// A one-line confirmation after a successful form.
    pub flash: Option<String>,
}

impl Ctx {
    /// The text in the page's language.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    pub fn lang_code(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    /// The address that switches to the other language and comes back here.
    pub fn switch_href(&self) -> String {
        let to = if self.is_en() { "zh" } else { "en" };
        format!("/lang?to={to}&next={}", url_encode(&self.here))
    }

    /// The name of who is logged in, or "".
    pub fn person_name(&self) -> &str {
        self.person.as_ref().map_or("", |p| p.name.as_str())
    }

    pub fn has(&self, role: Role) -> bool {
        self.person
            .as_ref()
            .is_some_and(|p| p.grants.iter().any(|g| g.role == role))
    }

    /// Staff who work requests (accept, dispatch, handle, verify or supervise).
    pub fn is_staff(&self) -> bool {
        self.person.as_ref().is_some_and(is_staff)
    }

    /// Refuses the page unless `allowed`: a readable 403 in the page's language saying who the page
    /// is for.
    pub fn require(&self, allowed: bool, zh: &str, en: &str) -> Result<(), PageError> {
        if allowed {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                self.lang,
                self.t("无权查看", "Not allowed"),
                self.t(zh, en),
            ))
        }
    }

    pub fn actor(&self) -> Option<Actor> {
        self.person.clone().map(Actor::Person)
    }

    /// A time as people here read it (Asia/Shanghai, minutes).
    pub fn time(&self, t: &DateTime<Utc>) -> String {
        local_time(t)
    }

    pub fn roles(&self) -> String {
        let Some(p) = &self.person else {
            return String::new();
        };
        let mut names: Vec<&str> = Vec::new();
        for g in &p.grants {
            let l = g.role.label(self.lang);
            if !names.contains(&l) {
                names.push(l);
            }
        }
        names.join(" · ")
    }
}

/// A time in Asia/Shanghai, `2026-11-23 09:30`.
pub fn local_time(t: &DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page language: the `redgrid_lang` cookie, else zh-CN (the pages' default, whatever the
/// browser says).
pub fn page_lang(headers: &HeaderMap) -> Lang {
    let chosen = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .map(|(_, v)| v.trim().to_string());
    match chosen.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

/// The states of a request still being worked (neither closed nor rejected), submitted included:
/// one list for the home page, the queue, the red list and the dashboard.
pub fn open_states() -> Vec<Status> {
    Status::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect()
}

fn holds(p: &Person, role: Role) -> bool {
    p.grants.iter().any(|g| g.role == role)
}

/// Staff who work requests (any role but resident, volunteer and member).
pub fn is_staff(p: &Person) -> bool {
    p.grants
        .iter()
        .any(|g| !matches!(g.role, Role::Resident | Role::Volunteer | Role::Member))
}

/// Who has a work queue (`/queue`): staff, and the members and volunteers who claim requests.
pub fn works_queue(p: &Person) -> bool {
    is_staff(p) || holds(p, Role::Member) || holds(p, Role::Volunteer)
}

/// Who has the verification list (`/verify`): the roles that may verify.
pub fn verifies(p: &Person) -> bool {
    redgrid_core::policy::role_may(
        &Actor::Person(p.clone()),
        redgrid_core::policy::Action::Run(redgrid_core::policy::CommandKind::Verify),
    )
}

/// Who has the red list (`/redlist`): the roles that may supervise.
pub fn supervises(p: &Person) -> bool {
    redgrid_core::policy::role_may(
        &Actor::Person(p.clone()),
        redgrid_core::policy::Action::Run(redgrid_core::policy::CommandKind::Supervise),
    )
}

fn nav_for(lang: Lang, person: Option<&Person>, path: &str) -> Vec<Nav> {
    let has = |r: Role| person.is_some_and(|p| holds(p, r));
    let staff = person.is_some_and(is_staff);
    let mut items: Vec<(&'static str, &'static str)> = vec![("/", lang.pick("首页", "Home"))];
    if person.is_some() {
        items.push(("/file", lang.pick("我要点单", "File a request")));
        items.push(("/mine", lang.pick("我的诉求", "My requests")));
    }
    if person.is_some_and(works_queue) {
        items.push(("/queue", lang.pick("工作台", "Work queue")));
    }
    if person.is_some_and(verifies) {
        items.push(("/verify", lang.pick("待验单", "To verify")));
    }
    if person.is_some_and(supervises) {
        items.push(("/redlist", lang.pick("亮灯督办", "Red list")));
    }
    if staff {
        items.push(("/scorecard", lang.pick("考核", "Scorecard")));
        items.push(("/dashboard", lang.pick("数据看板", "Dashboard")));
    }
    if has(Role::DistrictAdmin)
        || has(Role::StreetStaff)
        || has(Role::CommunityStaff)
        || has(Role::Verifier)
    {
        items.push(("/org", lang.pick("组织", "Organisation")));
    }
    items.push(("/public/needs", lang.pick("公开清单", "Public lists")));
    items
        .into_iter()
        .map(|(href, label)| Nav {
            href,
            label,
            current: if href == "/" {
                path == "/"
            } else {
                path.starts_with(href.trim_end_matches("/needs"))
            },
        })
        .collect()
}

/// A page that could not be shown: a readable message in the page's language, never a trace.
pub enum PageError {
    /// Not logged in: go to the login page and come back.
    Login(String),
    /// Go to another page first (an account that must change its password goes to `/password`).
    Redirect(String),
    Message {
        status: StatusCode,
        lang: Lang,
        title: String,
        message: String,
    },
}

impl PageError {
    pub fn new(status: StatusCode, lang: Lang, title: &str, message: &str) -> Self {
        PageError::Message {
            status,
            lang,
            title: title.to_string(),
            message: message.to_string(),
        }
    }

    pub fn not_found(lang: Lang) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            lang,
            lang.pick("没有找到", "Not found"),
            lang.pick(
                "没有这个页面，或者您无权查看。",
                "There is no such page, or you may not see it.",
            ),
        )
    }

    /// A form that could not be read (wrong content type, too large, cut off): said readably, with
    /// the status of the rejection.
    pub fn bad_form(status: StatusCode, lang: Lang) -> Self {
        let (status, message) = if status == StatusCode::PAYLOAD_TOO_LARGE {
            (
                status,
                lang.pick(
                    "提交的内容太大，请返回上一页缩短后重试。",
                    "What was sent is too large; go back, shorten it and try again.",
                ),
            )
        } else {
            (
                if status.is_client_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                lang.pick(
                    "表单没有正确提交，请返回上一页刷新后重试。",
                    "The form was not sent correctly; go back, reload the page and try again.",
                ),
            )
        };
        Self::new(status, lang, lang.pick("表单有误", "Bad form"), message)
    }

    /// An address whose query this page does not understand (`/org?page=x`).
    pub fn bad_query(lang: Lang) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("地址有误", "Bad address"),
            lang.pick(
                "地址中的参数不对，请返回上一页重试。",
                "The address carries a value this page does not understand; go back and try again.",
            ),
        )
    }

    pub fn core(e: &CoreError, lang: Lang, here: &str) -> Self {
        if matches!(
            e,
            CoreError::Forbidden(Denial::Unauthenticated | Denial::SessionExpired)
        ) {
            return PageError::Login(here.to_string());
        }
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let title = match status {
            StatusCode::FORBIDDEN => lang.pick("无权操作", "Not allowed"),
            StatusCode::NOT_FOUND => lang.pick("没有找到", "Not found"),
            StatusCode::CONFLICT => lang.pick("状态已变化", "Changed meanwhile"),
            _ => lang.pick("无法完成", "Could not be done"),
        };
        Self::new(status, lang, title, &e.message(lang))
    }

    pub fn store(e: StoreError, lang: Lang, here: &str) -> Self {
        match e {
            StoreError::Core(c) => Self::core(&c, lang, here),
            other => {
                tracing::error!(error = %other, "page failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    lang,
                    lang.pick("服务器内部错误", "Internal error"),
                    lang.pick(
                        "服务器内部错误，请稍后重试。",
                        "Something went wrong on the server; please try again later.",
                    ),
                )
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Ctx,
    title: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login(next) => {
                Redirect::to(&format!("/login?next={}", url_encode(&next))).into_response()
            }
            PageError::Redirect(to) => Redirect::to(&to).into_response(),
            PageError::Message {
                status,
                lang,
                title,
                message,
            } => {
                let c = Ctx {
                    lang,
                    person: None,
                    csrf: String::new(),
                    here: "/".into(),
                    nav: nav_for(lang, None, ""),
                    flash: None,
                };
                let mut res = render(&ErrorPage { c, title, message });
                *res.status_mut() = status;
                res
            }
        }
    }
}

pub type PageResult = Result<Response, PageError>;

/// Renders a template to an HTML response.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error / 服务器内部错误",
            )
                .into_response()
        }
    }
}

/// Builds the page context. `flash` comes from `?done=…` after a redirect.
pub async fn ctx(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Ctx {
    let lang = page_lang(headers);
    let caller = auth::page_caller(state, headers).await;
    let here = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let done = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "done")
            .map(|(_, v)| v.to_string())
    });
    let flash = done.map(|d| flash_text(&d, lang));
    let (person, csrf) = match caller {
        Some(PageCaller {
            person,
            csrf,
            must_change: _,
        }) => (Some(person), csrf),
        None => (None, String::new()),
    };
    Ctx {
        lang,
        nav: nav_for(lang, person.as_ref(), uri.path()),
        person,
        csrf,
        here,
        flash,
    }
}

/// Like [`ctx`], but the page needs someone logged in (and their password changed, when required:
/// such an account goes straight to `/password`, and comes back here after).
pub async fn ctx_login(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Ctx, PageError> {
    let here = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    ctx_login_at(state, headers, uri, here).await
}

/// [`ctx_login`] for a handler of a posted form: `page` is the address of the page the form belongs
/// to (something a browser can GET). Logging in comes back there, not to the post-only address, and
/// the language switch of the page shown returns there too.
pub async fn ctx_login_at(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    page: String,
) -> Result<Ctx, PageError> {
    match auth::page_caller(state, headers).await {
        None => Err(PageError::Login(page)),
        Some(c) if c.must_change => Err(PageError::Redirect(format!(
            "/password?next={}",
            url_encode(&page)
        ))),
        Some(_) => {
            let mut c = ctx(state, headers, uri).await;
            c.here = page;
            Ok(c)
        }
    }
}

/// A posted `application/x-www-form-urlencoded` form, read as [`FormData`]; a body that cannot be
/// read is a readable page (in the page's language), not the framework's plain-text rejection.
pub struct PageForm(pub FormData);

impl<S: Send + Sync> FromRequest<S> for PageForm {
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        let lang = page_lang(req.headers());
        match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(axum::Form(pairs)) => Ok(PageForm(FormData { pairs })),
            Err(e) => Err(PageError::bad_form(e.status(), lang)),
        }
    }
}

/// A page's query string; one that does not fit (`?page=x`) is a readable 400 page.
pub struct PageQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let lang = page_lang(&parts.headers);
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(PageQuery(v)),
            Err(_) => Err(PageError::bad_query(lang)),
        }
    }
}

fn flash_text(done: &str, lang: Lang) -> String {
    match done {
        "filed" => lang
            .pick(
                "诉求已提交，可在本页跟踪办理进度。",
                "Your request was filed; follow it on this page.",
            )
            .to_string(),
        "bulk" => lang
            .pick("批量派单已完成。", "Bulk dispatch done.")
            .to_string(),
        "imported" => lang.pick("导入完成。", "Imported.").to_string(),
        "recorded" => lang
            .pick("活动已记入台账。", "Activity recorded.")
            .to_string(),
        "password" => lang.pick("密码已更改。", "Password changed.").to_string(),
        cmd => {
            let label = redgrid_core::command::command_label(cmd, lang);
            match lang {
                Lang::Zh => format!("{label}已完成。"),
                Lang::En => format!("Done: {label}."),
            }
        }
    }
}

/// A posted form: its fields by name (the last value wins), and every value for names that repeat.
pub struct FormData {
    pub pairs: Vec<(String, String)>,
}

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed value, None when absent or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every value as typed, for showing a refused form again.
    pub fn values(&self) -> HashMap<String, String> {
        self.pairs.iter().cloned().collect()
    }

    /// A whole number field: None when blank; an error entry when it is not a number.
    pub fn number(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
        let v = self.text(name)?;
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(name.to_string(), "invalid"));
                None
            }
        }
    }

    /// Refuses the form unless it carries the session's CSRF token.
    pub fn check_csrf(&self, c: &Ctx) -> Result<(), PageError> {
        let sent = self.get("_csrf").unwrap_or_default();
        if auth::csrf_matches(&c.csrf, sent) {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                c.lang,
                c.t("页面已过期", "The page has expired"),
                c.t(
                    "表单已过期或来源不明，请返回上一页刷新后重试。",
                    "The form has expired or did not come from this site; go back, reload and try again.",
                ),
            ))
        }
    }
}

/// Field errors in the page's language, by field name, for showing next to each field.
#[derive(Default)]
pub struct Errors {
    pub by_field: HashMap<String, String>,
    /// A message for the whole form (a refusal that is not about one field).
    pub general: Option<String>,
}

impl Errors {
    pub fn from_core(e: &CoreError, lang: Lang) -> Self {
        let mut out = Errors::default();
        let fields = e.fields(lang);
        if fields.is_empty() {
            out.general = Some(e.message(lang));
        }
        for f in fields {
            let msg = if f.message.is_empty() {
                f.code.to_string()
            } else {
                f.message.clone()
            };
            // Nested names (`location.area_id`) are shown at their last part.
            let key = f.field.rsplit('.').next().unwrap_or(&f.field).to_string();
            out.by_field.entry(key).or_insert(msg);
        }
        out
    }

    pub fn from_fields(fields: Vec<FieldError>, lang: Lang) -> Self {
        Self::from_core(&CoreError::Validation(fields), lang)
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_none()
    }

    /// The error of one field, or "".
    pub fn of(&self, field: &str) -> &str {
        self.by_field.get(field).map(String::as_str).unwrap_or("")
    }
}

/// A fresh random key for a form, so that a second submit of the same form files nothing new.
pub fn form_key() -> String {
    redgrid_app::accounts::random_hex(16).unwrap_or_default()
}

/// A redirect after a successful post.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Only same-site paths are followed after login or a language switch.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

#[derive(serde::Deserialize)]
struct LangQuery {
    to: Option<String>,
    next: Option<String>,
}

/// `GET /lang?to=en&next=/queue`: remembers the language in a cookie and goes back.
async fn switch_lang(PageQuery(q): PageQuery<LangQuery>) -> Response {
    let to = if q.to.as_deref() == Some("en") {
        "en"
    } else {
        "zh"
    };
    let mut res = see_other(&safe_next(q.next.as_deref()));
    let cookie = format!("{LANG_COOKIE}={to}; Path=/; SameSite=Lax; Max-Age=31536000");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Ctx,
    district: String,
    open: i64,
    closed: i64,
}

/// `GET /`: what redgrid is, and how to file, follow and rate a request.
async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> PageResult {
    let c = ctx(&state, &headers, &uri).await;
    let dir = state.service.directory();
    let district = dir.district().map(|d| d.name.clone()).unwrap_or_default();
    let store = state.service.store();
    let count = |statuses: Vec<redgrid_core::request::Status>| {
        let store = store.clone();
        async move {
            store
                .count(&redgrid_store::ListFilter {
                    statuses,
                    ..Default::default()
                })
                .await
        }
    };
    let lang = c.lang;
    let open = count(open_states())
        .await
        .map_err(|e| PageError::store(e, lang, "/"))?;
    let closed = count(vec![Status::Closed])
        .await
        .map_err(|e| PageError::store(e, lang, "/"))?;
    Ok(render(&HomePage {
        c,
        district,
        open,
        closed,
    }))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    login: String,
    next: String,
    error: String,
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageQuery(q): PageQuery<NextQuery>,
) -> Response {
    let c = ctx(&state, &headers, &uri).await;
    render(&LoginPage {
        c,
        login: String::new(),
        next: safe_next(q.next.as_deref()),
        error: String::new(),
    })
}

/// `POST /login`: checks the name and password, sets the session cookie and goes on.
async fn login_post(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    use axum::extract::FromRequest;
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let headers = request.headers().clone();
    let uri = request.uri().clone();
    let c = ctx(&state, &headers, &uri).await;
    let lang = c.lang;
    let pairs = match axum::Form::<Vec<(String, String)>>::from_request(request, &()).await {
        Ok(axum::Form(p)) => p,
        Err(_) => Vec::new(),
    };
    let form = FormData { pairs };
    let login = form.text("login").unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_string();
    let next = safe_next(form.get("next"));
    let address = peer.map(|p| p.ip().to_string()).unwrap_or_default();
    let refuse = |c: Ctx, msg: String, status: StatusCode| {
        let mut res = render(&LoginPage {
            c,
            login: login.clone(),
            next: next.clone(),
            error: msg,
        });
        *res.status_mut() = status;
        res
    };
    if login.is_empty() || password.is_empty() {
        let msg = lang.pick("请输入用户名和密码。", "Enter your user name and password.");
        return refuse(c, msg.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    if let Some(wait) = state.throttle.retry_after(&login, &address) {
        let msg = match lang {
            Lang::Zh => format!("尝试次数过多，请 {wait} 秒后再试。"),
            Lang::En => format!("Too many attempts; try again in {wait} seconds."),
        };
        return refuse(c, msg, StatusCode::TOO_MANY_REQUESTS);
    }
    match state
        .service
        .login(&login, &password, state.session_hours)
        .await
    {
        Ok(session) => {
            state.throttle.succeeded(&login);
            let to = if session.must_change {
                format!("/password?next={}", url_encode(&next))
            } else {
                next
            };
            let mut res = see_other(&to);
            res.headers_mut().insert(
                header::SET_COOKIE,
                auth::session_set_cookie(
                    Some(&session.token),
                    state.session_hours * 3600,
                    state.secure_cookies,
                ),
            );
            res
        }
        Err(StoreError::Core(e)) => {
            if matches!(e, CoreError::Forbidden(Denial::BadCredentials)) {
                state.throttle.failed(&login, &address);
            }
            refuse(c, e.message(lang), StatusCode::UNAUTHORIZED)
        }
        Err(e) => PageError::store(e, lang, "/login").into_response(),
    }
}

/// `POST /logout`: ends the session.
async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let c = ctx(&state, &headers, &uri).await;
    if c.person.is_some() {
        form.check_csrf(&c)?;
    }
    if let Some(token) = auth::session_cookie(&headers) {
        state
            .service
            .logout(token)
            .await
            .map_err(|e| PageError::store(e, c.lang, "/"))?;
        state.tokens.clear();
    }
    let mut res = see_other("/");
    res.headers_mut().insert(
        header::SET_COOKIE,
        auth::session_set_cookie(None, 0, state.secure_cookies),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Ctx,
    next: String,
    errors: Errors,
    /// The shortest password allowed.
    min: usize,
}

impl PasswordPage {
    fn new(c: Ctx, next: String, errors: Errors) -> Self {
        PasswordPage {
            c,
            next,
            errors,
            min: redgrid_app::accounts::MIN_PASSWORD,
        }
    }
}

/// The refusals of a password change, at the page's fields: the store names the new password
/// `new_password` (the form calls it `new`), and its codes get the page's own words.
fn password_errors(e: &CoreError, lang: Lang) -> Errors {
    use redgrid_app::accounts::{MAX_PASSWORD, MIN_PASSWORD};
    let mut errors = Errors::from_core(e, lang);
    if matches!(e, CoreError::Forbidden(Denial::WrongPassword)) {
        errors.general = None;
        errors.by_field.insert("old".into(), e.message(lang));
    }
    if let Some(f) = e
        .fields(lang)
        .into_iter()
        .find(|f| f.field == "new_password")
    {
        errors.by_field.remove("new_password");
        let msg = match (f.code, lang) {
            ("too_short", Lang::Zh) => format!("新密码至少 {MIN_PASSWORD} 位"),
            ("too_short", Lang::En) => {
                format!("the new password must have at least {MIN_PASSWORD} characters")
            }
            ("too_long", Lang::Zh) => format!("新密码不能超过 {MAX_PASSWORD} 位"),
            ("too_long", Lang::En) => {
                format!("the new password may have at most {MAX_PASSWORD} characters")
            }
            ("too_simple", Lang::Zh) => "新密码须包含字母、数字、符号中的至少两种".into(),
            ("too_simple", Lang::En) => {
                "the new password needs two of: letters, digits, symbols".into()
            }
            ("unchanged", Lang::Zh) => "新密码不能与原密码相同".into(),
            ("unchanged", Lang::En) => "the new password must differ from the current one".into(),
            _ => f.message,
        };
        errors.by_field.insert("new".into(), msg);
    }
    errors
}

async fn password_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageQuery(q): PageQuery<NextQuery>,
) -> PageResult {
    let c = ctx(&state, &headers, &uri).await;
    if c.person.is_none() {
        return Err(PageError::Login(uri.to_string()));
    }
    Ok(render(&PasswordPage::new(
        c,
        safe_next(q.next.as_deref()),
        Errors::default(),
    )))
}

/// `POST /password`: changes one's own password (the old one is required).
async fn password_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let mut c = ctx(&state, &headers, &uri).await;
    let next = safe_next(form.get("next"));
    // The page the form belongs to (for the language switch and for logging in again).
    c.here = if next == "/" {
        "/password".into()
    } else {
        format!("/password?next={}", url_encode(&next))
    };
    let Some(person) = c.person.clone() else {
        return Err(PageError::Login(c.here.clone()));
    };
    form.check_csrf(&c)?;
    let old = form.get("old").unwrap_or_default();
    let new = form.get("new").unwrap_or_default();
    let again = form.get("again").unwrap_or_default();
    let lang = c.lang;
    if new != again {
        let mut errors = Errors::default();
        errors.by_field.insert(
            "again".into(),
            lang.pick("两次输入的新密码不一致", "the two new passwords differ")
                .into(),
        );
        let mut res = render(&PasswordPage::new(c, next, errors));
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    }
    match state.service.change_password(person.id, old, new).await {
        Ok(()) => {
            state.tokens.clear();
            Ok(see_other(&format!(
                "{next}{}done=password",
                if next.contains('?') { '&' } else { '?' }
            )))
        }
        Err(StoreError::Core(e)) => {
            let errors = password_errors(&e, lang);
            let mut res = render(&PasswordPage::new(c, next, errors));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(PageError::store(e, lang, "/password")),
    }
}

async fn not_found(headers: HeaderMap) -> Response {
    PageError::not_found(page_lang(&headers)).into_response()
}

/// The pages' routes (merged with the API's in [`crate::router`]).
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .route("/lang", get(switch_lang))
        .route("/login", get(login_form).post(login_post))
        .route("/logout", post(logout))
        .route("/password", get(password_form).post(password_post))
        .route(
            "/file",
            get(requests::file_form)
                .post(requests::file_post)
                .layer(DefaultBodyLimit::max(requests::MAX_PHOTO + 256 * 1024)),
        )
        .route("/mine", get(requests::mine))
        .route("/queue", get(requests::queue))
        .route("/queue/dispatch", post(requests::bulk_dispatch))
        .route("/verify", get(requests::to_verify))
        .route("/redlist", get(requests::red_list))
        .route("/requests/{id}", get(requests::page))
        .route("/requests/{id}/{command}", post(requests::command_post))
        .route("/public/{list}", get(reports::public))
        .route("/scorecard", get(reports::scorecard))
        .route("/dashboard", get(reports::dashboard))
        .route("/org", get(org::index))
        .route(
            "/org/import",
            post(org::import).layer(DefaultBodyLimit::max(crate::api::org::MAX_IMPORT_UPLOAD)),
        )
        .route(
            "/org/activities",
            get(org::activities).post(org::record_activity),
        )
        .route("/org/campaigns/{code}", get(org::campaign))
        .route("/org/{register}", get(org::register))
        .layer(DefaultBodyLimit::max(crate::MAX_JSON_BODY))
}

/// The fallback for unknown paths outside `/api/`: a page, not JSON.
pub async fn page_fallback(headers: HeaderMap) -> Response {
    not_found(headers).await
}
