//! Several districts behind one listener.
//!
//! Each district is a whole redgrid of its own: its own database (areas, catalogue, chain,
//! scorecard, accounts), calendar and data folder, and its own [`AppState`] and [`router`]. Nothing
//! is shared between them but the process, so nothing one district holds can be listed, exported
//! or answered in another. This router only chooses the district of each request:
//! 1. by the host name the request was sent to (`Host`, without the port), or
//! 2. for Open311 requests to a host no district claims, by their `jurisdiction_id` (in the query,
//!    or in a form body), which is the district's 6-digit code, or
//! 3. the district marked as the default.
//!
//! A request that none of these places gets `404 unknown_district`; `GET /` gets a page listing the
//! districts, and `/healthz` and `/readyz` answer for the installation as a whole.

use crate::AppState;
use crate::error::{ApiError, lang_of};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use redgrid_core::error::Lang;
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

/// One district as the dispatcher knows it.
pub struct Site {
    /// The district's 6-digit code (the Open311 `jurisdiction_id`).
    pub code: String,
    /// The district's name, for the page that lists the districts.
    pub name: String,
    /// Host names (lower case, no port) whose requests go to this district.
    pub hosts: Vec<String>,
    /// The port of the district's own listener, if it has one (the list of districts links there
    /// when the district has no host name).
    pub port: Option<u16>,
    /// Requests that no host name or `jurisdiction_id` places go here.
    pub default: bool,
    pub state: Arc<AppState>,
}

struct Dispatch {
    sites: Vec<(Site, Router)>,
    by_host: HashMap<String, usize>,
    by_code: HashMap<String, usize>,
    default: Option<usize>,
}

/// The router that sends each request to its district's own [`crate::router`]. Host names and
/// codes must be distinct and at most one site the default (the configuration checks this; here a
/// later duplicate is ignored).
pub fn router(sites: Vec<Site>) -> Router {
    let mut by_host = HashMap::new();
    let mut by_code = HashMap::new();
    let mut default = None;
    let sites: Vec<(Site, Router)> = sites
        .into_iter()
        .map(|s| {
            let r = crate::router(s.state.clone());
            (s, r)
        })
        .collect();
    for (i, (s, _)) in sites.iter().enumerate() {
        for h in &s.hosts {
            by_host.entry(h.to_ascii_lowercase()).or_insert(i);
        }
        by_code.entry(s.code.clone()).or_insert(i);
        if s.default && default.is_none() {
            default = Some(i);
        }
    }
    Router::new()
        .fallback(dispatch)
        .with_state(Arc::new(Dispatch {
            sites,
            by_host,
            by_code,
            default,
        }))
        .layer(axum::middleware::from_fn(crate::auth::security_headers))
}

/// The request's host name, lower case, without port or a final dot: from `X-Forwarded-Host` (a
/// proxy that rewrites `Host` passes the original there, as the login check also reads it), else
/// from an absolute URI's authority (which RFC 9112 puts before `Host`), else from `Host`.
/// Refused when the request has several `Host` headers (a proxy and redgrid might then disagree).
pub fn host_name(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<Option<String>, SeveralHosts> {
    if headers.get_all(header::HOST).iter().count() > 1 {
        return Err(SeveralHosts);
    }
    let forwarded = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let raw = forwarded
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    let Some(raw) = raw else { return Ok(None) };
    let raw = raw.rsplit('@').next().unwrap_or(raw);
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // [IPv6]:port
        rest.split(']').next().unwrap_or(rest)
    } else {
        raw.split(':').next().unwrap_or(raw)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    Ok((!host.is_empty()).then_some(host))
}

/// A request with more than one `Host` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeveralHosts;

/// How long the dispatcher waits for an Open311 form body it must read to place the request (the
/// districts' own routers allow the same for a whole request).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The most an Open311 form body is buffered to find its `jurisdiction_id` (the Open311 routes
/// take no more than this either).
const MAX_OPEN311_FORM: usize = crate::open311::MAX_MEDIA + (1 << 16);

fn jurisdiction(pairs: &[(String, String)]) -> Option<&str> {
    pairs
        .iter()
        .find(|(k, v)| k == "jurisdiction_id" && !v.is_empty())
        .map(|(_, v)| v.trim())
}

async fn dispatch(State(d): State<Arc<Dispatch>>, req: Request) -> Response {
    let lang = lang_of(req.headers());
    let Ok(host) = host_name(req.headers(), req.uri()) else {
        return ApiError::plain(
            StatusCode::BAD_REQUEST,
            "bad_request",
            lang.pick(
                "请求含有多个 Host 头",
                "the request has several Host headers",
            ),
        )
        .into_response();
    };
    if let Some(i) = host.as_deref().and_then(|h| d.by_host.get(h)) {
        return forward(&d.sites[*i], req).await;
    }
    // Probes sent by address see the whole installation, default district or not.
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/healthz") => return "ok".into_response(),
        (&Method::GET | &Method::HEAD, "/readyz") => return ready(&d).await,
        _ => {}
    }
    let mut req = req;
    if req.uri().path().starts_with("/open311/") {
        let from_query = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(req.uri())
            .ok()
            .and_then(|q| jurisdiction(&q.0).map(str::to_string));
        let code = match from_query {
            Some(c) => Some(c),
            None if req.method() == Method::POST && is_form(req.headers()) => {
                let (parts, body) = req.into_parts();
                let read = axum::body::to_bytes(body, MAX_OPEN311_FORM);
                let bytes = match tokio::time::timeout(BODY_TIMEOUT, read).await {
                    Ok(Ok(b)) => b,
                    Err(_) => {
                        return ApiError::plain(
                            StatusCode::REQUEST_TIMEOUT,
                            "request_timeout",
                            lang.pick("请求体发送超时", "the body took too long to arrive"),
                        )
                        .into_response();
                    }
                    Ok(Err(_)) => {
                        return ApiError::plain(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "payload_too_large",
                            lang.pick("请求体太大", "the body is too large"),
                        )
                        .into_response();
                    }
                };
                let pairs: Vec<(String, String)> =
                    serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
                let code = jurisdiction(&pairs).map(str::to_string);
                req = Request::from_parts(parts, Body::from(bytes));
                code
            }
            None => None,
        };
        if let Some(code) = code {
            return match d.by_code.get(&code) {
                Some(i) => forward(&d.sites[*i], req).await,
                None => ApiError::plain(
                    StatusCode::NOT_FOUND,
                    "unknown_jurisdiction",
                    &match lang {
                        Lang::Zh => format!("没有这个辖区：{code}"),
                        Lang::En => format!("no such jurisdiction_id: {code}"),
                    },
                )
                .into_response(),
            };
        }
    }
    if let Some(i) = d.default {
        return forward(&d.sites[i], req).await;
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/") => chooser(&d, lang, req.headers()),
        _ => ApiError::plain(
            StatusCode::NOT_FOUND,
            "unknown_district",
            lang.pick(
                "这个地址不属于任何一个区：请用本区的网址访问（Open311 请求也可带上 jurisdiction_id）",
                "no district is served at this host name: use your district's own address \
                 (Open311 requests may give jurisdiction_id instead)",
            ),
        )
        .into_response(),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Hands the request to a district's router, its log lines marked with the district's code.
async fn forward((site, router): &(Site, Router), req: Request) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("district", code = %site.code);
    match router.clone().oneshot(req).instrument(span).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

/// `/readyz` for the installation: 200 when every district is ready, else 503; the body gives each.
async fn ready(d: &Dispatch) -> Response {
    let mut all = true;
    let mut each = serde_json::Map::new();
    for pair in &d.sites {
        let probe = Request::get("/readyz").body(Body::empty());
        let ok = match probe {
            Ok(probe) => forward(pair, probe).await.status() == StatusCode::OK,
            Err(_) => false,
        };
        let site = &pair.0;
        all &= ok;
        each.insert(site.code.clone(), serde_json::Value::Bool(ok));
    }
    let status = if all {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({"ready": all, "districts": each})),
    )
        .into_response()
}

use crate::open311::xml_escape as escape;

/// The page at `/` of a host no district claims: the districts served here, each linked to its
/// first host name (on the port this page was reached at) or else to its own port on this host.
fn chooser(d: &Dispatch, lang: Lang, headers: &HeaderMap) -> Response {
    let sent_to = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (this_host, this_port) = match sent_to.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (sent_to, None),
    };
    let mut items = String::new();
    for (s, _) in &d.sites {
        let label = format!("{} ({})", escape(&s.name), escape(&s.code));
        let link = match (s.hosts.first(), s.port) {
            (Some(h), _) => Some(match this_port {
                Some(p) => format!("//{h}:{p}/"),
                None => format!("//{h}/"),
            }),
            (None, Some(p)) if !this_host.is_empty() => Some(format!("//{this_host}:{p}/")),
            _ => None,
        };
        match link {
            Some(u) => items.push_str(&format!(
                "<li><a href=\"{}\">{label}</a></li>\n",
                escape(&u)
            )),
            None => items.push_str(&format!("<li>{label}</li>\n")),
        }
    }
    let (lang_tag, title, lead) = match lang {
        Lang::Zh => (
            "zh-CN",
            "红网格 · 选择所在区",
            "本服务器为以下各区提供服务，请进入本区的网址：",
        ),
        Lang::En => (
            "en",
            "redgrid · choose your district",
            "This server serves the districts below; go to your district's own address:",
        ),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"{lang_tag}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body><h1>{title}</h1>\n<p>{lead}</p>\n<ul>\n{items}</ul>\n\
         </body></html>\n"
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Uri};

    #[test]
    fn host_names_lose_their_port_case_and_final_dot() {
        let mut h = HeaderMap::new();
        let uri: Uri = "/".parse().unwrap();
        let name = |h: &HeaderMap, u: &Uri| host_name(h, u).unwrap();
        h.insert(
            header::HOST,
            HeaderValue::from_static("HeXi.Example.GOV.:8080"),
        );
        assert_eq!(name(&h, &uri).as_deref(), Some("hexi.example.gov"));
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert_eq!(name(&h, &uri).as_deref(), Some("::1"));
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.7"));
        assert_eq!(name(&h, &uri).as_deref(), Some("10.0.0.7"));
        // An absolute URI's authority wins over Host; a proxy's X-Forwarded-Host over both.
        let abs: Uri = "http://nankai.example:81/x".parse().unwrap();
        assert_eq!(name(&h, &abs).as_deref(), Some("nankai.example"));
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("Hexi.example.gov, proxy"),
        );
        assert_eq!(name(&h, &abs).as_deref(), Some("hexi.example.gov"));
        h.remove("x-forwarded-host");
        h.append(header::HOST, HeaderValue::from_static("other.example"));
        assert!(host_name(&h, &uri).is_err(), "two Host headers");
        h.remove(header::HOST);
        assert_eq!(name(&h, &uri), None);
    }

    #[test]
    fn the_list_of_districts_escapes_names() {
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&apos;x&apos;&gt;&amp;");
    }
}
