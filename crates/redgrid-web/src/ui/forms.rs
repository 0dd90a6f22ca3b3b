//! Forms: the posted fields, the CSRF check every change passes, errors shown next to their fields, and the redirect after a successful post.

use super::*;

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

pub(crate) fn flash_text(done: &str, lang: Lang) -> String {
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
        "saved" => lang.pick("已保存。", "Saved.").to_string(),
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
