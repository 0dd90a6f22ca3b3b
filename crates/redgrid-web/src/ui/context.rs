//! The context every page is drawn in: who is looking, in which language, with which navigation, and the role tests that decide what a page offers.

use super::*;

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
    /// The person's unread notifications (the header's 消息 count).
    pub unread: i64,
}

impl Ctx {
    /// Who is logged in; without anyone, the page sends them to log in and come back.
    pub fn me(&self) -> Result<Person, PageError> {
        self.person
            .clone()
            .ok_or_else(|| PageError::Login(self.here.clone()))
    }

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

/// The states of a request still being worked (neither closed nor rejected), submitted included:
/// one list for the home page, the queue, the red list and the dashboard.
pub fn open_states() -> Vec<Status> {
    Status::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect()
}

pub(crate) fn holds(p: &Person, role: Role) -> bool {
    p.grants.iter().any(|g| g.role == role)
}

/// Staff who work requests (any role but resident, volunteer and member).
pub fn is_staff(p: &Person) -> bool {
    p.grants.iter().any(|g| {
        !matches!(
            g.role,
            Role::Resident | Role::Volunteer | Role::Member | Role::Auditor
        )
    })
}

/// Where a person lands after logging in without asking for a page: the staff who dispatch and the
/// members and volunteers who claim on their work queue, verifiers on what waits for verification,
/// supervisors on the red list, residents on their own requests (我的诉求).
pub fn landing(p: &Person) -> &'static str {
    let dispatches = p.grants.iter().any(|g| g.role.staff_level().is_some());
    if dispatches || holds(p, Role::Member) || holds(p, Role::Volunteer) {
        "/queue"
    } else if verifies(p) {
        "/verify"
    } else if supervises(p) {
        "/redlist"
    } else if holds(p, Role::Resident) {
        "/mine"
    } else {
        "/"
    }
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

pub(crate) fn nav_for(lang: Lang, person: Option<&Person>, path: &str) -> Vec<Nav> {
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
    if has(Role::Auditor) {
        items.push(("/audit", lang.pick("访问审计", "Access log")));
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
    let unread = match &person {
        // A count the header shows; a failure to read it must not stop the page.
        Some(p) => state.service.store().unread_count(p.id).await.unwrap_or(0),
        None => 0,
    };
    Ctx {
        lang,
        nav: nav_for(lang, person.as_ref(), uri.path()),
        person,
        csrf,
        here,
        flash,
        unread,
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

/// A page anyone may see: extracts its [`Ctx`] (`Page(c): Page` in a handler's arguments).
pub struct Page(pub Ctx);

/// A page that needs a login: extracts its [`Ctx`], or sends the browser to log in (and to change an
/// initial password) and come back.
pub struct LoggedIn(pub Ctx);

impl axum::extract::FromRequestParts<Arc<AppState>> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Page(ctx(state, &parts.headers, &parts.uri).await))
    }
}

impl axum::extract::FromRequestParts<Arc<AppState>> for LoggedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(LoggedIn(
            ctx_login(state, &parts.headers, &parts.uri).await?,
        ))
    }
}

/// The context of a form posted from the page `page`, and who posted it: logged in (else sent to
/// log in and back to `page`) and carrying the session's CSRF token (else refused).
pub async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    form: &FormData,
    page: &str,
) -> Result<(Ctx, Actor), PageError> {
    let c = ctx_login_at(state, headers, uri, page.into()).await?;
    form.check_csrf(&c)?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    Ok((c, actor))
}
