//! redgrid-web: the HTTP interfaces: the web pages (`ui`), and the JSON API under `/api` with its
//! OpenAPI document, and Open311 GeoReport v2 (`open311.rs`). Handlers stay thin: read the input, ask the service, map
//! the outcome to HTTP.

#![forbid(unsafe_code)]

pub mod api {
    pub mod accounts;
    pub mod directory;
    pub mod grants;
    pub mod org;
    pub mod public;
    pub mod requests;
    pub mod scorecard;
}
pub mod auth;
pub mod body;
pub mod districts;
pub mod error;
pub mod open311;
pub mod openapi;
pub mod proxy;
pub mod server;
pub mod ui;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use redgrid_app::Service;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// What every handler shares.
pub struct AppState {
    pub service: Arc<Service>,
    /// Recently seen credentials, so that a busy client does not cost a database lookup per request.
    pub tokens: auth::TokenCache,
    /// Failed logins per login name and per address.
    pub throttle: auth::Throttle,
    /// How long a login lasts.
    pub session_hours: i64,
    /// Mark cookies `Secure` (the server is reached over TLS, e.g. behind a TLS proxy). Also set per
    /// request when the proxy says `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// The session cookie's name: [`auth::SESSION_COOKIE`], or one per district when several
    /// districts are served from one host (browsers share cookies across ports).
    pub session_cookie: String,
    /// The bearer token a scraper must send for `/metrics`; unset: only clients on this machine.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see [`proxy`]).
    pub trusted_proxies: Vec<proxy::Network>,
}

impl AppState {
    pub fn new(service: Arc<Service>) -> Self {
        AppState {
            service,
            tokens: auth::TokenCache::new(Duration::from_secs(10)),
            // Five failures per login name, twenty per address, in fifteen minutes.
            throttle: auth::Throttle::new(Duration::from_secs(15 * 60), 5, 20),
            session_hours: 12,
            secure_cookies: false,
            session_cookie: auth::SESSION_COOKIE.to_string(),
            metrics_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 256 * 1024;

async fn openapi_json() -> impl IntoResponse {
    axum::Json(openapi::document())
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
async fn fallback(uri: axum::http::Uri, headers: HeaderMap) -> axum::response::Response {
    if uri.path().starts_with("/api/") || uri.path().starts_with("/open311/") {
        error::ApiError::not_found_route(error::lang_of(&headers)).into_response()
    } else {
        ui::page_fallback(headers).await
    }
}

async fn health() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the database answers and every migration this build knows is applied
/// (a load balancer may send traffic), 503 with the reason otherwise. `/healthz` only says the
/// process is up.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let store = state.service.store();
    let known = redgrid_store::MIGRATIONS.len();
    match store.applied_migrations().await {
        Ok(applied) if applied.len() >= known => {
            Json(serde_json::json!({"ready": true, "migrations": applied.len()})).into_response()
        }
        Ok(applied) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "ready": false,
                "reason": format!("{} of {known} migrations applied", applied.len()),
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"ready": false, "reason": "the database does not answer"})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: the server's counts in Prometheus' text format (docs/operators/operations.md).
/// Counts only, no personal data.
/// Whether a scraper may read `/metrics`: with a configured token, whoever sends it as a bearer
/// token; without one, only clients on this machine (a Prometheus beside the server, or `curl` on
/// it). A router called directly (tests) has no peer and counts as local.
fn may_scrape(state: &AppState, headers: &HeaderMap, peer: &auth::Peer) -> bool {
    match &state.metrics_token {
        Some(token) => auth::bearer(headers).is_some_and(|sent| auth::same_secret(sent, token)),
        None => peer.0.as_deref().is_none_or(|ip| {
            ip.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
        }),
    }
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    peer: auth::Peer,
) -> Response {
    use redgrid_app::metrics::Gauge;
    if !may_scrape(&state, &headers, &peer) {
        let lang = error::lang_of(&headers);
        return error::ApiError::plain(
            StatusCode::FORBIDDEN,
            "metrics_forbidden",
            lang.pick(
                "指标只对本机或持有指标令牌（metrics_token）的采集端开放",
                "metrics are for this machine, or for a scraper with the metrics_token",
            ),
        )
        .into_response();
    }
    let service = &state.service;
    let store = service.store();
    let mut gauges = Vec::new();
    if let Ok(lights) = service.open_by_light(redgrid_app::service::now()).await {
        gauges.push(Gauge::by(
            "redgrid_open_requests",
            "Open requests (being handled or suspended) by light.",
            "light",
            lights.into_iter().map(|(l, n)| (l.as_str(), n as f64)),
        ));
    }
    if let Ok((delivered, waiting)) = store.outbox_counts().await {
        gauges.push(Gauge::single(
            "redgrid_outbox_waiting",
            "Notifications not yet delivered to every sender.",
            waiting as f64,
        ));
        gauges.push(Gauge::single(
            "redgrid_outbox_delivered",
            "Notifications delivered, in all.",
            delivered as f64,
        ));
    }
    if let Ok((audit, scorecard)) = store.waiting().await {
        gauges.push(Gauge::by(
            "redgrid_settle_waiting",
            "Rows commands left for settling (a few times a second): audit records, scorecard deltas.",
            "table",
            [("audit", audit as f64), ("scorecard", scorecard as f64)],
        ));
    }
    if let Some(wal) = store.wal_bytes() {
        gauges.push(Gauge::single(
            "redgrid_sqlite_wal_bytes",
            "The size of SQLite's write-ahead log file.",
            wal as f64,
        ));
    }
    if let Some(in_use) = store.wal_in_use_bytes() {
        gauges.push(Gauge::single(
            "redgrid_sqlite_wal_in_use_bytes",
            "How much of SQLite's write-ahead log is in use (restarted once past 16 MB).",
            in_use as f64,
        ));
    }
    if let Some((together, rolled_back)) = store.batches() {
        gauges.push(Gauge::by(
            "redgrid_sqlite_batches",
            "SQLite's batches of several commands: committed together, or rolled back and run one by one.",
            "outcome",
            [("together", together as f64), ("rolled_back", rolled_back as f64)],
        ));
    }
    let sms = service.sms();
    gauges.push(Gauge::single(
        "redgrid_sms_failures",
        "Text messages that failed after every retry since the start.",
        sms.failures().len() as f64,
    ));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        service.metrics().render(&gauges),
    )
        .into_response()
}

/// Counts each answered request by its route pattern (never the ids in it), method and status.
async fn count_http(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("(unmatched)", |p| p.as_str())
        .to_string();
    // A fixed set: a label per made-up method would grow the counts without end.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.service.metrics().http(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The whole HTTP application.
pub fn router(state: Arc<AppState>) -> Router {
    use api::{accounts, directory, requests};
    let imports = Router::new()
        .route("/api/org/{register}/import", post(api::org::import))
        .layer(DefaultBodyLimit::max(api::org::MAX_IMPORT_UPLOAD));
    let attachments = Router::new()
        .route("/api/attachments", post(directory::upload))
        .layer(DefaultBodyLimit::max(directory::MAX_ATTACHMENT));
    let open311_routes = Router::new()
        .route(
            "/open311/v2/{resource}",
            get(open311::resource).post(open311::post_request),
        )
        .layer(DefaultBodyLimit::max(open311::MAX_MEDIA + (1 << 16)));
    Router::new()
        .route("/api/requests", post(requests::submit).get(requests::list))
        .route("/api/requests/{id}", get(requests::get))
        .route("/api/requests/{id}/reveal", post(requests::reveal))
        .route(
            "/api/requests/{id}/public-draft",
            get(requests::public_draft),
        )
        .route("/api/requests/{id}/{command}", post(requests::command))
        .route("/api/public/{list}", get(api::public::list))
        .route("/open311/v2/{collection}/{file}", get(open311::member))
        .route("/api/areas", get(directory::areas))
        .route("/api/areas/{id}", get(directory::area))
        .route("/api/units", get(directory::units))
        .route("/api/units/{id}", get(directory::unit))
        .route("/api/categories", get(directory::categories))
        .route("/api/categories/classes", post(directory::create_class))
        .route("/api/categories/items", post(directory::create_item))
        .route("/api/categories/items/{id}", patch(directory::update_item))
        .route("/api/me", get(directory::me))
        .route("/api/login", post(accounts::login))
        .route("/api/logout", post(accounts::logout))
        .route("/api/me/password", post(accounts::change_password))
        .route("/api/me/home", axum::routing::put(accounts::set_home))
        .route("/api/signup/code", post(accounts::signup_code))
        .route("/api/signup", post(accounts::signup))
        .route("/api/admin/sms", get(accounts::sms_status))
        .route("/api/audit/access-log", get(accounts::access_log))
        .route("/api/admin/people/{id}/erase", post(accounts::erase_person))
        .route("/api/accounts", post(accounts::set_account))
        .route("/api/grants", post(api::grants::grant))
        .route("/api/grants/revoke", post(api::grants::revoke))
        .route(
            "/api/tokens",
            post(accounts::create_token).get(accounts::tokens),
        )
        .route("/api/tokens/{id}", delete(accounts::revoke_token))
        .route("/api/me/messages", get(api::scorecard::messages))
        .route("/api/me/messages/read", post(api::scorecard::mark_read))
        .route("/api/scorecard", get(api::scorecard::scorecard))
        .route(
            "/api/org/alliances",
            post(api::org::create_alliance).get(api::org::export_alliances),
        )
        .route(
            "/api/org/alliances/{code}",
            patch(api::org::update_alliance),
        )
        .route(
            "/api/org/alliances/{code}/end",
            post(api::org::end_alliance),
        )
        .route("/api/org/{register}", get(api::org::export))
        .route("/api/org/{register}/template", get(api::org::template))
        .route(
            "/api/org/activities",
            post(api::org::record_activity).get(api::org::export_activities),
        )
        .route(
            "/api/org/suggestions/{id}/request",
            post(api::org::suggestion_to_request),
        )
        .route(
            "/api/org/campaigns/{code}/stats",
            get(api::org::campaign_stats),
        )
        .route("/api/attachments/{id}", get(directory::download))
        .route("/api/openapi.json", get(openapi_json))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .merge(attachments)
        .merge(imports)
        .merge(open311_routes)
        .merge(ui::router())
        .fallback(fallback)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf_guard,
        ))
        .layer(axum::middleware::from_fn(error::localize))
        .layer(axum::middleware::from_fn(auth::security_headers))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_http,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            proxy::real_client,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes, with the default connection
/// limits ([`server::ServeOptions`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, shutdown, server::ServeOptions::default())
        .await
        .map(|_| ())
}

/// Serves the application on `listener` until `shutdown` completes, then lets requests in flight
/// finish within the options' grace period.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: server::ServeOptions,
) -> std::io::Result<server::Stopped> {
    server::serve_app(listener, router(state), shutdown, options).await
}
