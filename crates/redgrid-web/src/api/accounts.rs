//! Logging in and out, passwords, and API tokens.

use crate::AppState;
use crate::auth::{actor, actor_before_password_change, session_cookie, session_set_cookie};
use crate::body::{AdminJson, Reader, parse_json};
use crate::error::{ApiError, lang_of};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::ids::{AreaId, PersonId};
use redgrid_core::person::{Actor, Person, Role};
use redgrid_store::ApiToken;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// The body of `POST /api/login`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct LoginBody {
    /// A username, or the phone number on the person's record.
    #[schema(min_length = 1)]
    login: String,
    #[schema(min_length = 1)]
    password: String,
}

/// What a successful login returns (the session itself is in the `Set-Cookie` header).
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    #[schema(value_type = Object)]
    pub person: Person,
    /// Send this in the `X-CSRF-Token` header with every request that changes something.
    pub csrf_token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The password was set by an administrator: choose your own (`POST /api/me/password`).
    pub must_change: bool,
}

fn validation(invalid: Vec<redgrid_core::error::FieldError>, lang: redgrid_core::Lang) -> ApiError {
    ApiError::core(&CoreError::Validation(invalid), lang)
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `POST /api/login`: opens a session. Wrong credentials: 401 `bad_credentials`; too many failures
/// for the login name or the address: 429 `too_many_attempts` with `Retry-After`.
#[utoipa::path(post, path = "/api/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, body = LoginAnswer), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let lang = lang_of(headers);
    let json = read_small_json(headers, body).await?;
    let mut r = Reader::new(&json);
    let login = r.string("login");
    let password = r.string("password");
    let mut invalid = r.finish();
    if login.as_deref().is_none_or(|l| l.trim().is_empty()) {
        invalid.push(redgrid_core::error::FieldError::new("login", "required"));
    }
    if password.as_deref().is_none_or(str::is_empty) {
        invalid.push(redgrid_core::error::FieldError::new("password", "required"));
    }
    if !invalid.is_empty() {
        return Err(validation(invalid, lang));
    }
    let (login, password) = (login.unwrap_or_default(), password.unwrap_or_default());
    let address = address_of(&parts.extensions);
    let key = state
        .service
        .login_key(&login)
        .await
        .map_err(|e| ApiError::store(e, lang))?;
    if let Some(wait) = state.throttle.retry_after(&key, &address) {
        let mut res = ApiError::plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            &match lang {
                redgrid_core::Lang::Zh => format!("登录失败次数过多，请 {wait} 秒后再试"),
                redgrid_core::Lang::En => {
                    format!("too many failed logins; try again in {wait} seconds")
                }
            },
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(res);
    }
    let session = match state
        .service
        .login(&login, &password, state.session_hours)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            if matches!(
                &e,
                redgrid_store::StoreError::Core(CoreError::Forbidden(Denial::BadCredentials))
            ) {
                state.throttle.failed(&key, &address);
            }
            return Err(ApiError::store(e, lang));
        }
    };
    state.throttle.succeeded(&key);
    Ok(session_started(&state, headers, session, StatusCode::OK))
}

/// The answer that opens a session: the session cookie and [`LoginAnswer`].
fn session_started(
    state: &AppState,
    headers: &HeaderMap,
    session: redgrid_app::accounts::NewSession,
    status: StatusCode,
) -> Response {
    let cookie = session_set_cookie(
        &state.session_cookie,
        Some(&session.token),
        state.session_hours * 3600,
        secure(state, headers),
    );
    let answer = LoginAnswer {
        person: session.person,
        csrf_token: session.row.csrf_token,
        expires_at: session.row.expires_at,
        must_change: session.must_change,
    };
    let mut res = (status, Json(answer)).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    res
}

/// The client's address (for the limits per address).
fn address_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |p| p.0.ip().to_string())
}

/// The body of `POST /api/signup/code`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CodeBody {
    /// An 11-digit mobile number.
    #[schema(pattern = r"^\+?(86)?1[0-9]{10}$")]
    phone: String,
}

/// `POST /api/signup/code`: sends a sign-up code to the phone by SMS (good for 10 minutes). The
/// answer is the same whether or not someone has that phone. One code a minute and five an hour to
/// a phone, twenty an hour from an address; five wrong codes lock the phone for 15 minutes: 429 with
/// `Retry-After`.
#[utoipa::path(post, path = "/api/signup/code", tag = "accounts", request_body = CodeBody,
    responses((status = 202), (status = 422, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
pub async fn signup_code(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let json = read_small_json(&parts.headers, body).await?;
    let mut r = Reader::new(&json);
    let phone = r.string("phone").unwrap_or_default();
    r.done()?;
    state
        .service
        .send_signup_code(&phone, &address_of(&parts.extensions))
        .await?;
    let answer = serde_json::json!({
        "sent": true,
        "expires_in_seconds": redgrid_app::signup::CODE_MINUTES * 60,
    });
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The body of `POST /api/signup`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SignUpBody {
    #[schema(pattern = r"^\+?(86)?1[0-9]{10}$")]
    phone: String,
    /// The code sent by `POST /api/signup/code`.
    #[schema(pattern = r"^[0-9]{6}$")]
    code: String,
    /// At least 10 characters, of at least two kinds (letters, digits, others).
    #[schema(min_length = 10, max_length = 128)]
    password: String,
    /// For someone new (default 居民 and the phone's last four digits); a person already known
    /// keeps their name.
    name: Option<String>,
}

/// `POST /api/signup`: signs up with the code sent to the phone (or, for a phone with a login,
/// sets a new password), and opens a session: 201 with the session cookie.
#[utoipa::path(post, path = "/api/signup", tag = "accounts", request_body = SignUpBody,
    responses((status = 201, body = LoginAnswer), (status = 422, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
pub async fn signup(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let json = read_small_json(&parts.headers, body).await?;
    let mut r = Reader::new(&json);
    let form = redgrid_app::signup::SignUp {
        phone: r.string("phone").unwrap_or_default(),
        code: r.string("code").unwrap_or_default(),
        password: r.string("password").unwrap_or_default(),
        name: r.string("name"),
    };
    r.done()?;
    let session = state.service.sign_up(&form, state.session_hours).await?;
    Ok(session_started(
        &state,
        &parts.headers,
        session,
        StatusCode::CREATED,
    ))
}

/// The body of `PUT /api/me/home`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HomeBody {
    /// A grid or a community.
    area_id: i64,
}

/// `PUT /api/me/home`: sets one's home grid, where filing starts.
#[utoipa::path(put, path = "/api/me/home", tag = "accounts", request_body = HomeBody,
    responses((status = 204), (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_home(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = actor(&state, &headers).await?;
    let json = parse_json(&headers, body)?;
    let mut r = Reader::new(&json);
    let area: Option<AreaId> = r.required_id("area_id");
    let invalid = r.finish();
    let Some(area) = area.filter(|_| invalid.is_empty()) else {
        return Err(validation(invalid, lang_of(&headers)));
    };
    state.service.set_home_area(&who, area).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/admin/sms`: the SMS sender and the recent messages it could not send after every try
/// (district administrators).
#[utoipa::path(get, path = "/api/admin/sms", tag = "accounts",
    responses((status = 200, description = "`{sender, failures: [{at, phone (masked), attempts, error}]}`"),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn sms_status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = actor(&state, &headers).await?;
    state.service.require_admin(&who)?;
    let sms = state.service.sms();
    let answer = serde_json::json!({
        "sender": sms.sender_name(),
        "failures": sms.failures(),
    });
    Ok(Json(answer).into_response())
}

/// Reads a JSON body of at most [`crate::MAX_JSON_BODY`] bytes.
async fn read_small_json(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<serde_json::Value, ApiError> {
    match axum::body::to_bytes(body, crate::MAX_JSON_BODY).await {
        Ok(bytes) => parse_json(headers, Ok(bytes)),
        Err(_) => Err(ApiError::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            lang_of(headers).pick(
                "请求体过大（上限 256 KB）",
                "the body is too large (at most 256 KB)",
            ),
        )),
    }
}

/// 204 with a `Set-Cookie` that removes the session cookie.
fn session_ended(state: &AppState, headers: &HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_set_cookie(&state.session_cookie, None, 0, secure(state, headers)),
    );
    res
}

/// `POST /api/logout`: ends the session and removes the cookie.
#[utoipa::path(post, path = "/api/logout", tag = "accounts",
    responses((status = 204), (status = 403, body = crate::error::ErrorBody)))]
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers, &state.session_cookie) {
        state.service.logout(token).await?;
        state.tokens.clear();
    }
    Ok(session_ended(&state, &headers))
}

/// The body of `POST /api/me/password`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PasswordBody {
    current_password: String,
    /// At least 10 characters, of at least two kinds (letters, digits, others).
    #[schema(min_length = 10, max_length = 128)]
    new_password: String,
}

/// `POST /api/me/password`: changes one's own password; every session of the person ends.
#[utoipa::path(post, path = "/api/me/password", tag = "accounts", request_body = PasswordBody,
    responses((status = 204), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn change_password(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor_before_password_change(&state, &headers).await?;
    let json = parse_json(&headers, body)?;
    let mut r = Reader::new(&json);
    let old = r.string("current_password").unwrap_or_default();
    let new = r.string("new_password").unwrap_or_default();
    r.done()?;
    let Actor::Person(p) = who else {
        return Err(ApiError::core(
            &CoreError::Forbidden(Denial::RoleNotAllowed),
            lang,
        ));
    };
    state.service.change_password(p.id, &old, &new).await?;
    state.tokens.clear();
    Ok(session_ended(&state, &headers))
}

/// The body of `POST /api/accounts`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AccountBody {
    person_id: i64,
    /// Optional: people can always log in with the phone on their record. 3–32 letters, digits,
    /// `_`, `.` or `-`, starting with a letter.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9_.-]{2,31}$")]
    username: Option<String>,
    /// At least 10 characters, of at least two kinds (letters, digits, others).
    #[schema(min_length = 10, max_length = 128)]
    password: String,
    /// Default true: the person must choose their own password at the next login.
    must_change: Option<bool>,
}

/// `POST /api/accounts`: gives a person a login or resets their password (district administrators).
#[utoipa::path(post, path = "/api/accounts", tag = "accounts", request_body = AccountBody,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_account(
    State(state): State<Arc<AppState>>,
    AdminJson { who, json, lang }: AdminJson,
) -> Result<Response, ApiError> {
    let mut r = Reader::new(&json);
    let person: Option<PersonId> = r.required_id("person_id");
    let username = r.string("username");
    let password = r.string("password").unwrap_or_default();
    let must_change = r.bool("must_change").unwrap_or(true);
    let invalid = r.finish();
    let Some(person) = person.filter(|_| invalid.is_empty()) else {
        return Err(validation(invalid, lang));
    };
    state
        .service
        .set_login(&who, person, username.as_deref(), &password, must_change)
        .await?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The body of `POST /api/tokens`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenBody {
    person_id: i64,
    #[schema(min_length = 1, pattern = r"\S")]
    name: String,
    /// Roles the person holds that the token may use.
    roles: Vec<String>,
    /// Areas the token is limited to (empty: wherever the person's grants reach).
    area_ids: Option<Vec<i64>>,
    /// Days until it stops working (1–3650; default never).
    valid_days: Option<i64>,
}

/// A new token: `token` is shown this once and cannot be recovered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewToken {
    pub token: String,
    #[schema(value_type = Object)]
    pub api_token: ApiToken,
}

/// `POST /api/tokens`: makes an API token (district administrators).
#[utoipa::path(post, path = "/api/tokens", tag = "accounts", request_body = TokenBody,
    responses((status = 201, body = NewToken), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_token(
    State(state): State<Arc<AppState>>,
    AdminJson { who, json, lang }: AdminJson,
) -> Result<Response, ApiError> {
    let mut r = Reader::new(&json);
    let person: Option<PersonId> = r.required_id("person_id");
    let name = r.string("name").unwrap_or_default();
    let roles = r.list("roles", |v| v.as_str().and_then(Role::parse));
    let areas = r.list("area_ids", |v| crate::body::whole_number(v).map(AreaId));
    let valid_days = r.i64("valid_days");
    let invalid = r.finish();
    let Some(person) = person.filter(|_| invalid.is_empty()) else {
        return Err(validation(invalid, lang));
    };
    let (token, api_token) = state
        .service
        .create_api_token(&who, person, &name, &roles, &areas, valid_days)
        .await?;
    Ok((StatusCode::CREATED, Json(NewToken { token, api_token })).into_response())
}

/// `GET /api/tokens`: every API token, without the tokens themselves (district administrators).
#[utoipa::path(get, path = "/api/tokens", tag = "accounts",
    responses((status = 200, body = Vec<Object>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    state
        .service
        .api_tokens(&who)
        .await
        .map(Json)
        .map_err(|e| ApiError::store(e, lang))
}

/// `DELETE /api/tokens/{id}`: revokes a token at once (district administrators).
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "the token's id")),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let id = id.parse::<i64>().map_err(|_| {
        ApiError::core(
            &CoreError::NotFound {
                entity: redgrid_core::error::Entity::Token,
                id: 0,
            },
            lang,
        )
    })?;
    state.service.revoke_api_token(&who, id).await?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One entry of the access log, as the auditor reads it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AccessItem {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub viewer_id: i64,
    pub viewer_name: String,
    /// Whose data (the requester).
    pub subject_id: Option<i64>,
    pub subject_name: Option<String>,
    pub request_id: i64,
    /// `page` or `api` (a view by those in charge), or `reveal` (unmasked on request).
    pub via: String,
    /// The reason given for a reveal.
    pub reason: Option<String>,
}

/// One page of the access log, newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AccessPage {
    pub items: Vec<AccessItem>,
    pub next_cursor: Option<String>,
}

/// The most rows an export of the access log holds (the newest).
const MAX_ACCESS_EXPORT: i64 = 100_000;

/// `GET /api/audit/access-log`: who viewed or revealed whose personal data, on which request, when
/// and why, newest first. For the personal-data auditor only (not the district administrator).
/// Search by whose data (`person_id` or `phone`), by viewer (`viewer_id`) and by request;
/// `format=xlsx` or `csv` exports every match (up to 100,000 rows).
#[utoipa::path(get, path = "/api/audit/access-log", tag = "accounts",
    params(("person_id" = Option<i64>, Query, minimum = 1, description = "whose data"),
        ("phone" = Option<String>, Query, description = "whose data, by their phone"),
        ("viewer_id" = Option<i64>, Query, minimum = 1, description = "who saw it"),
        ("request_id" = Option<i64>, Query, minimum = 1),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1–1000, default 200 (JSON pages)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("format" = Option<String>, Query, pattern = "^(json|xlsx|csv)$", description = "json (default), xlsx or csv")),
    responses((status = 200, description = "A page of entries; csv or xlsx with `format`", content((AccessPage = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn access_log(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<
        axum::extract::Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let axum::extract::Query(q) = query.map_err(|e| {
        ApiError::plain(
            axum::http::StatusCode::BAD_REQUEST,
            "malformed_query",
            &e.body_text(),
        )
    })?;
    let mut query = redgrid_store::AccessQuery {
        limit: 200,
        ..Default::default()
    };
    let (mut phone, mut format) = (None, "json");
    let mut invalid = Vec::new();
    for (k, v) in &q {
        let number = v.trim().parse::<i64>().ok().filter(|n| *n > 0);
        match (k.as_str(), number) {
            ("person_id", Some(n)) => query.subject = Some(PersonId(n)),
            ("viewer_id", Some(n)) => query.viewer = Some(PersonId(n)),
            ("request_id", Some(n)) => query.request = Some(redgrid_core::ids::RequestId(n)),
            ("limit", Some(n)) if n <= 1000 => query.limit = n,
            ("limit", _) => invalid.push(
                redgrid_core::error::FieldError::new("limit", "out_of_range").with_limit(1000),
            ),
            ("person_id" | "viewer_id" | "request_id", None) => {
                invalid.push(redgrid_core::error::FieldError::new(k.clone(), "invalid"))
            }
            ("phone", _) => phone = Some(v.trim().to_string()).filter(|p| !p.is_empty()),
            ("cursor", _) => match v.strip_prefix('a').and_then(|n| n.parse::<i64>().ok()) {
                Some(n) => query.before = Some(n),
                None => invalid.push(redgrid_core::error::FieldError::new("cursor", "invalid")),
            },
            ("format", _) => match v.as_str() {
                "json" => format = "json",
                "xlsx" => format = "xlsx",
                "csv" => format = "csv",
                _ => invalid.push(redgrid_core::error::FieldError::new("format", "invalid")),
            },
            _ => invalid.push(redgrid_core::error::FieldError::new(
                k.clone(),
                "unknown_field",
            )),
        }
    }
    if !invalid.is_empty() {
        return Err(validation(invalid, lang));
    }
    // Refused before anything is looked up, so a non-auditor learns nothing from the answer.
    state.service.require_auditor(&who)?;
    if let Some(phone) = phone {
        match state
            .service
            .store()
            .person_by_phone(&redgrid_app::roles::normalize_phone(&phone))
            .await?
        {
            Some(p) => query.subject = Some(p.id),
            // Nobody with that phone: nothing was seen of them.
            None => query.subject = Some(PersonId(0)),
        }
    }
    if format != "json" {
        query.limit = MAX_ACCESS_EXPORT;
        query.before = None;
    }
    let rows = state.service.access_log(&who, &query).await?;
    let next_cursor = (format == "json" && rows.len() as i64 == query.limit)
        .then(|| rows.last().map(|r| format!("a{}", r.entry.id)))
        .flatten();
    let items: Vec<AccessItem> = rows
        .into_iter()
        .map(|v| AccessItem {
            id: v.entry.id,
            at: v.entry.at,
            viewer_id: v.entry.viewer_id.0,
            viewer_name: v.viewer_name,
            subject_id: v.entry.subject_id.map(|p| p.0),
            subject_name: v.subject_name,
            request_id: v.entry.request_id.0,
            via: v.entry.via,
            reason: v.entry.reason,
        })
        .collect();
    if format == "json" {
        return Ok(Json(AccessPage { items, next_cursor }).into_response());
    }
    let via_label = |via: &str| match via {
        "reveal" => lang.pick("申请查看", "revealed"),
        "page" => lang.pick("页面查看", "viewed (page)"),
        "api" => lang.pick("接口查看", "viewed (API)"),
        _ => lang.pick("查看", "viewed"),
    };
    let sheet = redgrid_app::tabular::OutSheet {
        name: lang.pick("个人信息访问记录", "Access log").to_string(),
        headers: [
            lang.pick("编号", "No."),
            lang.pick("时间", "Time"),
            lang.pick("查看人编号", "Viewer no."),
            lang.pick("查看人", "Viewer"),
            lang.pick("信息主体编号", "Person no."),
            lang.pick("信息主体", "Whose data"),
            lang.pick("诉求编号", "Request no."),
            lang.pick("方式", "How"),
            lang.pick("理由", "Reason"),
        ]
        .map(String::from)
        .to_vec(),
        rows: items
            .iter()
            .map(|i| {
                vec![
                    i.id.into(),
                    crate::ui::local_time(&i.at).into(),
                    i.viewer_id.into(),
                    i.viewer_name.clone().into(),
                    i.subject_id
                        .map_or(redgrid_app::tabular::Cell::Empty, Into::into),
                    i.subject_name.clone().unwrap_or_default().into(),
                    i.request_id.into(),
                    via_label(&i.via).into(),
                    i.reason.clone().unwrap_or_default().into(),
                ]
            })
            .collect(),
    };
    crate::body::sheet_download("redgrid-access-log", format, sheet, lang)
}

/// What an erasure did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErasureResult {
    pub person_id: i64,
    /// False when the person had been erased before (nothing was done again).
    pub erased: bool,
    /// Requests whose texts and place were replaced by the marker.
    pub requests: usize,
    /// Events rewritten.
    pub events: usize,
    pub message: String,
}

/// The body of `POST /api/admin/people/{id}/erase` and `POST /api/requests/{id}/reveal`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReasonBody {
    /// Why: the resident's request to be erased and its number, a callback to make. Kept in the
    /// audit chain with who, whose and when (requesters seeing their own request may leave it
    /// out).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "回访核实"
    )]
    reason: String,
}

/// `POST /api/admin/people/{id}/erase` `{"reason": "本人申请删除（工单 2026-118）"}`: erases the
/// person's personal data on request (PIPL), for district administrators. Their name becomes
/// `[已删除]`; their phone, login, sessions, tokens and roles go; the description, exact place and
/// rating comments of the requests they filed become the marker. The ledger still replays and the
/// audit chain still verifies; the erasure is a chain record (who, whom, when, why). A second
/// erasure does nothing and says so.
#[utoipa::path(post, path = "/api/admin/people/{id}/erase", tag = "accounts",
    params(("id" = i64, Path)),
    request_body = ReasonBody,
    responses((status = 200, body = ErasureResult), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn erase_person(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ErasureResult>, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let json = parse_json(&headers, body)?;
    let mut r = Reader::new(&json);
    let reason = r.string("reason");
    r.done()?;
    let id = id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::core(
            &CoreError::NotFound {
                entity: redgrid_core::error::Entity::Person,
                id: 0,
            },
            lang,
        )
    })?;
    let done = state
        .service
        .erase_person(&who, PersonId(id), reason.as_deref())
        .await?;
    // Their tokens are gone: drop any cached ones at once.
    state.tokens.clear();
    Ok(Json(ErasureResult {
        person_id: id,
        erased: !done.already,
        requests: done.requests,
        events: done.events,
        message: if done.already {
            lang.pick(
                "此人的个人信息此前已删除，本次未做改动",
                "this person was erased before; nothing was changed",
            )
        } else {
            lang.pick(
                "已删除此人的个人信息",
                "the person's personal data was erased",
            )
        }
        .to_string(),
    }))
}
