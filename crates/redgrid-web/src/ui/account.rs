//! The home page, logging in and out, and changing one's password.

use super::*;

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    c: Ctx,
    district: String,
    open: i64,
    closed: i64,
}

/// `GET /`: what redgrid is, and how to file, follow and rate a request.
pub(crate) async fn home(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> PageResult {
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
pub(crate) struct LoginPage {
    c: Ctx,
    login: String,
    next: String,
    error: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn login_form(
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
pub(crate) async fn login_post(
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
    if crate::auth::cross_site(&headers) {
        let msg = lang.pick(
            "登录须在本站页面上进行。",
            "Log in from this site's own page.",
        );
        return refuse(c, msg.to_string(), StatusCode::FORBIDDEN);
    }
    if login.is_empty() || password.is_empty() {
        let msg = lang.pick("请输入用户名和密码。", "Enter your user name and password.");
        return refuse(c, msg.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let key = match state.service.login_key(&login).await {
        Ok(k) => k,
        Err(e) => return PageError::store(e, lang, "/login").into_response(),
    };
    if let Some(wait) = state.throttle.retry_after(&key, &address) {
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
            state.throttle.succeeded(&key);
            // Without a page asked for, each person lands on their own work.
            let next = if next == "/" {
                landing(&session.person).to_string()
            } else {
                next
            };
            let to = if session.must_change {
                format!("/password?next={}", url_encode(&next))
            } else {
                next
            };
            session_started(&state, &to, &session.token)
        }
        Err(StoreError::Core(e)) => {
            if matches!(e, CoreError::Forbidden(Denial::BadCredentials)) {
                state.throttle.failed(&key, &address);
            }
            refuse(c, e.message(lang), StatusCode::UNAUTHORIZED)
        }
        Err(e) => PageError::store(e, lang, "/login").into_response(),
    }
}

/// Goes on to `to` with the new session's cookie.
fn session_started(state: &AppState, to: &str, token: &str) -> Response {
    let mut res = see_other(to);
    res.headers_mut().insert(
        header::SET_COOKIE,
        auth::session_set_cookie(
            &state.session_cookie,
            Some(token),
            state.session_hours * 3600,
            state.secure_cookies,
        ),
    );
    res
}

/// `POST /logout`: ends the session.
pub(crate) async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let c = ctx(&state, &headers, &uri).await;
    if c.person.is_some() {
        form.check_csrf(&c)?;
    }
    if let Some(token) = auth::session_cookie(&headers, &state.session_cookie) {
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
        auth::session_set_cookie(&state.session_cookie, None, 0, state.secure_cookies),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "password.html")]
pub(crate) struct PasswordPage {
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
pub(crate) fn password_errors(e: &CoreError, lang: Lang) -> Errors {
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

pub(crate) async fn password_form(
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
pub(crate) async fn password_post(
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

#[derive(Template)]
#[template(path = "signup.html")]
pub(crate) struct SignUpPage {
    c: Ctx,
    /// Whether a code was sent (the second step).
    sent: bool,
    phone: String,
    phone_error: String,
    name: String,
    /// `(id, label, error)` of the second step's fields.
    fields: Vec<(&'static str, &'static str, String)>,
    error: String,
}

impl SignUpPage {
    fn new(c: Ctx, sent: bool, phone: String) -> Self {
        SignUpPage {
            c,
            sent,
            phone,
            phone_error: String::new(),
            name: String::new(),
            fields: Vec::new(),
            error: String::new(),
        }
    }

    /// The second step's fields, each with its error.
    fn with_fields(mut self, errors: &Errors) -> Self {
        let c = &self.c;
        let labels: [(&'static str, &'static str); 4] = [
            ("code", c.t("短信验证码", "Code from the text message")),
            ("name", c.t("姓名（选填）", "Name (optional)")),
            (
                "password",
                if c.is_en() {
                    "Password (10 or more characters, two of letters, digits, symbols)"
                } else {
                    "设置密码（至少 10 位，含字母、数字、符号中的两种）"
                },
            ),
            ("again", c.t("再输一次密码", "Password again")),
        ];
        self.fields = labels
            .into_iter()
            .map(|(id, label)| (id, label, errors.of(id).to_string()))
            .collect();
        self.error = errors.general.clone().unwrap_or_default();
        self
    }
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct PhoneQuery {
    phone: Option<String>,
}

/// `GET /signup`: the first step, the phone number.
pub(crate) async fn signup_form(Page(c): Page, PageQuery(q): PageQuery<PhoneQuery>) -> PageResult {
    Ok(render(&SignUpPage::new(
        c,
        false,
        q.phone.unwrap_or_default(),
    )))
}

fn peer_address(request: &axum::extract::Request) -> String {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |p| p.0.ip().to_string())
}

async fn form_of(request: axum::extract::Request) -> FormData {
    use axum::extract::FromRequest;
    let pairs = match axum::Form::<Vec<(String, String)>>::from_request(request, &()).await {
        Ok(axum::Form(p)) => p,
        Err(_) => Vec::new(),
    };
    FormData { pairs }
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// `POST /signup/code` (`phone`): sends the code, then shows the second step.
pub(crate) async fn signup_code_post(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers().clone();
    let uri = request.uri().clone();
    let address = peer_address(&request);
    let c = ctx(&state, &headers, &uri).await;
    let form = form_of(request).await;
    let phone = form.text("phone").unwrap_or_default();
    match state.service.send_signup_code(&phone, &address).await {
        Ok(()) => {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            render(&SignUpPage::new(c, true, digits).with_fields(&Errors::default()))
        }
        Err(StoreError::Core(e)) => {
            let lang = c.lang;
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut page = SignUpPage::new(c, false, phone);
            let errors = Errors::from_core(&e, lang);
            page.phone_error = errors.of("phone").to_string();
            page.error = errors.general.unwrap_or_default();
            with_status(render(&page), status)
        }
        Err(e) => PageError::store(e, c.lang, "/signup").into_response(),
    }
}

/// `POST /signup` (`phone`, `code`, `name`, `password`, `again`): signs up, logs in, and goes on to
/// choose the home grid.
pub(crate) async fn signup_post(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers().clone();
    let uri = request.uri().clone();
    let c = ctx(&state, &headers, &uri).await;
    let lang = c.lang;
    let form = form_of(request).await;
    let phone = form.text("phone").unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_string();
    let again = form.get("again").unwrap_or_default();
    let name = form.text("name");
    let refuse = |c: Ctx, errors: Errors, status: StatusCode| {
        let mut page = SignUpPage::new(c, true, phone.clone()).with_fields(&errors);
        page.name = name.clone().unwrap_or_default();
        with_status(render(&page), status)
    };
    if password != again {
        let mut errors = Errors::default();
        errors.by_field.insert(
            "again".into(),
            lang.pick("两次输入的密码不一致", "The passwords differ")
                .into(),
        );
        return refuse(c, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let input = redgrid_app::signup::SignUp {
        phone: phone.clone(),
        code: form.text("code").unwrap_or_default(),
        password,
        name: name.clone(),
    };
    match state.service.sign_up(&input, state.session_hours).await {
        Ok(session) => {
            let to = format!("/me/home?next={}", url_encode(landing(&session.person)));
            session_started(&state, &to, &session.token)
        }
        Err(StoreError::Core(e)) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            refuse(c, Errors::from_core(&e, lang), status)
        }
        Err(e) => PageError::store(e, lang, "/signup").into_response(),
    }
}

#[derive(Template)]
#[template(path = "home_grid.html")]
pub(crate) struct HomeGridPage {
    c: Ctx,
    fields: Vec<requests::Field>,
    next: String,
}

async fn home_page(
    state: &AppState,
    c: Ctx,
    next: String,
    value: String,
    error: String,
) -> PageResult {
    let dir = state.service.directory();
    let mut area = requests::Field::new(
        "area_id",
        c.t("我居住的网格或社区", "The grid or community I live in"),
        "select",
    )
    .required();
    area.groups
        .push(requests::first_option(c.t("— 请选择 —", "— choose —")));
    area.groups.extend(requests::place_groups(&dir));
    area.value = value;
    area.error = error;
    Ok(render(&HomeGridPage {
        c,
        fields: vec![area],
        next,
    }))
}

/// `GET /me/home?next=…`: choose one's home grid.
pub(crate) async fn home_form(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<NextQuery>,
) -> PageResult {
    let current = match c.person.as_ref() {
        Some(p) => state
            .service
            .store()
            .home_area(p.id)
            .await
            .map_err(|e| PageError::store(e, c.lang, "/me/home"))?,
        None => None,
    };
    let next = safe_next(q.next.as_deref());
    let value = current.map(|a| a.0.to_string()).unwrap_or_default();
    home_page(&state, c, next, value, String::new()).await
}

/// `POST /me/home` (`area_id`, `next`): saves the home grid and goes on.
pub(crate) async fn home_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let (c, actor) = posted(&state, &headers, &uri, &form, "/me/home").await?;
    let next = safe_next(form.get("next"));
    let value = form.text("area_id").unwrap_or_default();
    let area = value.parse::<i64>().ok().map(redgrid_core::ids::AreaId);
    let outcome = match area {
        None => Err(CoreError::validation("area_id", "required").into()),
        Some(a) => state.service.set_home_area(&actor, a).await,
    };
    match outcome {
        Ok(()) => Ok(see_other(&next)),
        Err(StoreError::Core(e)) => {
            let lang = c.lang;
            let error = Errors::from_core(&e, lang).of("area_id").to_string();
            let page = home_page(&state, c, next, value, error).await?;
            Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(PageError::store(e, c.lang, "/me/home")),
    }
}
