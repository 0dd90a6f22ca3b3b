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
