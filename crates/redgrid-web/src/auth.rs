//! Who is calling, and may they.
//!
//! A caller presents one of:
//! - the session cookie `redgrid_session` set by `POST /api/login` (browsers). Requests that change
//!   something must also carry the session's CSRF token in the `X-CSRF-Token` header;
//! - `Authorization: Bearer rgt_…`, an API token (integrations), which acts within its roles and areas;
//!
//! Credentials are remembered for a few seconds so a busy client does not cost a database lookup per
//! request; logging out, changing a password or revoking a token forgets them at once in this process
//! (another server process notices within the same few seconds).

use crate::AppState;
use crate::error::{ApiError, lang_of};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redgrid_app::accounts::{Credential, TOKEN_PREFIX};
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::person::{Actor, Person};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "redgrid_session";
/// The header carrying the CSRF token on changes made with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A resolved caller: the person, and the CSRF token when they came with a session cookie.
#[derive(Debug, Clone)]
struct Caller {
    person: Person,
    csrf: Option<String>,
    /// The account must choose a new password before anything else.
    must_change: bool,
}

/// Credentials seen in the last `ttl`.
pub struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Caller)>>,
}

/// The most credentials remembered at once; past that the cache starts afresh.
const MAX_CACHED: usize = 10_000;

impl TokenCache {
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let (at, caller) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| caller.clone())
    }

    fn put(&self, key: &str, caller: &Caller) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
            entries.insert(key.to_string(), (Instant::now(), caller.clone()));
        }
    }

    /// Forgets every credential (after a logout, a password change or a revocation).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of the cookie `name`, if the request has one.
pub fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let lang = lang_of(headers);
    let now = redgrid_app::service::now();
    if let Some(token) = bearer(headers) {
        let key = format!("b:{token}");
        if let Some(c) = state.tokens.get(&key) {
            return Ok(Some(c));
        }
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(ApiError::core(
                &CoreError::Forbidden(Denial::Unauthenticated),
                lang,
            ));
        }
        let person = match state.service.token_credential(token, now).await? {
            Credential::Token { person, .. } | Credential::Session { person, .. } => person,
        };
        let caller = Caller {
            person,
            csrf: None,
            must_change: false,
        };
        state.tokens.put(&key, &caller);
        return Ok(Some(caller));
    }
    if let Some(token) = session_cookie(headers, &state.session_cookie) {
        let key = format!("s:{token}");
        if let Some(c) = state.tokens.get(&key) {
            return Ok(Some(c));
        }
        let caller = match state.service.session_credential(token, now).await? {
            Credential::Session {
                person,
                csrf_token,
                must_change,
            } => Caller {
                person,
                csrf: Some(csrf_token),
                must_change,
            },
            Credential::Token { person, .. } => Caller {
                person,
                csrf: None,
                must_change: false,
            },
        };
        state.tokens.put(&key, &caller);
        return Ok(Some(caller));
    }
    Ok(None)
}

/// The calling person, or 401; 403 `password_change_required` while the account must choose a new
/// password (see [`actor_before_password_change`]).
pub async fn actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let lang = lang_of(headers);
    match resolve(state, headers).await? {
        Some(c) if c.must_change => Err(ApiError::core(
            &CoreError::Forbidden(Denial::PasswordChangeRequired),
            lang,
        )),
        Some(c) => Ok(Actor::Person(c.person)),
        None => Err(ApiError::core(
            &CoreError::Forbidden(Denial::Unauthenticated),
            lang,
        )),
    }
}

/// The calling person when the policy lets them administer the district (checked before a body is
/// read, so that others learn nothing from field errors); 401 or 403 otherwise.
pub async fn admin_actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let who = actor(state, headers).await?;
    state
        .service
        .require_admin(&who)
        .map_err(|e| ApiError::store(e, lang_of(headers)))?;
    Ok(who)
}

/// The calling person, even when their account must still change its password: only for reading
/// who one is and for changing the password.
pub async fn actor_before_password_change(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Actor, ApiError> {
    match resolve(state, headers).await? {
        Some(c) => Ok(Actor::Person(c.person)),
        None => Err(ApiError::core(
            &CoreError::Forbidden(Denial::Unauthenticated),
            lang_of(headers),
        )),
    }
}

/// Who is behind a page request: the person, the session's CSRF token (empty when they came with a
/// bearer token) and whether they must change their password first.
pub struct PageCaller {
    pub person: Person,
    pub csrf: String,
    pub must_change: bool,
}

/// The caller of a page, or None when nobody (or an ended session) is logged in.
pub async fn page_caller(state: &AppState, headers: &HeaderMap) -> Option<PageCaller> {
    match resolve(state, headers).await {
        Ok(Some(c)) => Some(PageCaller {
            person: c.person,
            csrf: c.csrf.unwrap_or_default(),
            must_change: c.must_change,
        }),
        _ => None,
    }
}

/// Whether a form's CSRF token is the session's (compared in constant time).
pub fn csrf_matches(expected: &str, sent: &str) -> bool {
    !expected.is_empty() && same_secret(expected, sent)
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses a change made with a session cookie unless it carries the session's CSRF token. Bearer
/// tokens are not sent by browsers on their own, so they need none; logging in needs none either.
/// The pages (everything outside `/api/`) post plain forms: their handlers check the form's `_csrf`
/// field against the session instead.
pub async fn csrf_guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = req.headers();
    if safe
        || bearer(headers).is_some()
        || session_cookie(headers, &state.session_cookie).is_none()
        || req.uri().path() == "/api/login"
        || !req.uri().path().starts_with("/api/")
    {
        return next.run(req).await;
    }
    let lang = lang_of(headers);
    let caller = match resolve(&state, headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return next.run(req).await,
        Err(e) => return e.into_response(),
    };
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (caller.csrf.as_deref(), sent) {
        (Some(expected), Some(sent)) if same_secret(expected, sent) => next.run(req).await,
        _ => ApiError::core(&CoreError::Forbidden(Denial::CsrfFailed), lang).into_response(),
    }
}

/// The client's IP address, as the server loop recorded it (absent when a test calls the router
/// directly).
pub struct Peer(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

/// Whether a browser says this request comes from another site (`Origin` naming another host, or
/// `Sec-Fetch-Site: cross-site`): a form on another site must not log anyone in here (login CSRF).
pub fn cross_site(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // "null" (a sandboxed or privacy-stripped origin) is not us either.
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        // Behind a proxy that rewrites Host, the name the browser used is in X-Forwarded-Host.
        let forwarded = headers
            .get("x-forwarded-host")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        let ours = |h: &str| !h.is_empty() && origin_host.eq_ignore_ascii_case(h);
        return !(ours(host) || forwarded.is_some_and(ours));
    }
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
}

/// Failed logins remembered per account and per client address, over a sliding window.
pub struct Throttle {
    window: Duration,
    per_account: usize,
    per_address: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// At most `per_account` failures per login name and `per_address` per address in `window`.
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Self {
        Throttle {
            window,
            per_account,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `account` is [`redgrid_app::Service::login_key`]: the account however it was named.
    fn keys(account: &str, address: &str) -> [(String, bool); 2] {
        [
            (format!("a:{account}"), true),
            (format!("ip:{address}"), false),
        ]
    }

    /// Seconds to wait before trying again, when either limit is reached.
    pub fn retry_after(&self, login: &str, address: &str) -> Option<u64> {
        let mut map = self.failures.lock().ok()?;
        let mut wait: Option<Duration> = None;
        for (key, is_account) in Self::keys(login, address) {
            let limit = if is_account {
                self.per_account
            } else {
                self.per_address
            };
            if let Some(q) = map.get_mut(&key) {
                while q.front().is_some_and(|t| t.elapsed() >= self.window) {
                    q.pop_front();
                }
                if q.len() >= limit
                    && let Some(oldest) = q.front()
                {
                    let left = self.window.saturating_sub(oldest.elapsed());
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        wait.map(|w| w.as_secs().max(1))
    }

    pub fn failed(&self, login: &str, address: &str) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                map.clear();
            }
            for (key, _) in Self::keys(login, address) {
                map.entry(key).or_default().push_back(Instant::now());
            }
        }
    }

    pub fn succeeded(&self, account: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("a:{account}"));
        }
    }
}

/// The `Set-Cookie` value for a new session in cookie `name` (or, with `None`, one that removes
/// it).
pub fn session_set_cookie(
    name: &str,
    token: Option<&str>,
    max_age_secs: i64,
    secure: bool,
) -> HeaderValue {
    let value = match token {
        Some(t) => format!(
            "{name}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
            if secure { "; Secure" } else { "" }
        ),
        None => format!(
            "{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if secure { "; Secure" } else { "" }
        ),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Security headers on every response: no inline script, no framing, no sniffing, no referrer
/// leaking request ids, and nothing personal kept in caches.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("lang=zh; redgrid_session=abc123; other=1"),
        );
        assert_eq!(session_cookie(&h, SESSION_COOKIE), Some("abc123"));
        h.insert(header::COOKIE, HeaderValue::from_static("redgrid_session="));
        assert_eq!(session_cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcd", "abcd"));
        assert!(!same_secret("abcd", "abce"));
        assert!(!same_secret("abcd", "abc"));
    }

    #[test]
    fn throttling_counts_per_account_and_per_address() {
        // Keys are Service::login_key's: one per account however it was named.
        let t = Throttle::new(Duration::from_secs(60), 3, 5);
        for _ in 0..3 {
            assert_eq!(t.retry_after("zhang", "10.0.0.1"), None);
            t.failed("zhang", "10.0.0.1");
        }
        let wait = t.retry_after("zhang", "10.0.0.9").unwrap_or(0);
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(t.retry_after("li", "10.0.0.9"), None);
        t.failed("li", "10.0.0.1");
        t.failed("wang", "10.0.0.1");
        assert!(
            t.retry_after("zhao", "10.0.0.1").is_some(),
            "the address is over its limit"
        );
        t.succeeded("zhang");
        assert_eq!(t.retry_after("zhang", "10.0.0.9"), None);
    }
}
