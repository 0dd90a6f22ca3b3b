//! The stylesheet, script and icon, embedded in the binary: nothing is fetched from the internet.

use super::*;

pub(crate) const APP_CSS: &str = include_str!("../../assets/app.css");

pub(crate) const APP_JS: &str = include_str!("../../assets/app.js");

pub(crate) const FAVICON: &str = include_str!("../../assets/favicon.svg");

pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
