//! The page language: zh-CN by default, English by choice, kept in a cookie and read once per request.

use super::*;

/// The cookie holding the chosen page language (`zh` or `en`).
pub const LANG_COOKIE: &str = "redgrid_lang";

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

#[derive(serde::Deserialize)]
pub(crate) struct LangQuery {
    to: Option<String>,
    next: Option<String>,
}

/// `GET /lang?to=en&next=/queue`: remembers the language in a cookie and goes back.
pub(crate) async fn switch_lang(PageQuery(q): PageQuery<LangQuery>) -> Response {
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
