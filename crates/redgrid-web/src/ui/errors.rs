//! Errors as pages: every refusal becomes a page in the reader's language (or a redirect to log in), never a bare status.

use super::*;

/// A page that could not be shown: a readable message in the page's language, never a trace.
pub enum PageError {
    /// Not logged in: go to the login page and come back.
    Login(String),
    /// Go to another page first (an account that must change its password goes to `/password`).
    Redirect(String),
    Message {
        status: StatusCode,
        lang: Lang,
        title: String,
        message: String,
    },
}

impl PageError {
    pub fn new(status: StatusCode, lang: Lang, title: &str, message: &str) -> Self {
        PageError::Message {
            status,
            lang,
            title: title.to_string(),
            message: message.to_string(),
        }
    }

    pub fn not_found(lang: Lang) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            lang,
            lang.pick("没有找到", "Not found"),
            lang.pick(
                "没有这个页面，或者您无权查看。",
                "There is no such page, or you may not see it.",
            ),
        )
    }

    /// A form that could not be read (wrong content type, too large, cut off): said readably, with
    /// the status of the rejection.
    pub fn bad_form(status: StatusCode, lang: Lang) -> Self {
        let (status, message) = if status == StatusCode::PAYLOAD_TOO_LARGE {
            (
                status,
                lang.pick(
                    "提交的内容太大，请返回上一页缩短后重试。",
                    "What was sent is too large; go back, shorten it and try again.",
                ),
            )
        } else {
            (
                if status.is_client_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                lang.pick(
                    "表单没有正确提交，请返回上一页刷新后重试。",
                    "The form was not sent correctly; go back, reload the page and try again.",
                ),
            )
        };
        Self::new(status, lang, lang.pick("表单有误", "Bad form"), message)
    }

    /// An address whose query this page does not understand (`/org?page=x`).
    pub fn bad_query(lang: Lang) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("地址有误", "Bad address"),
            lang.pick(
                "地址中的参数不对，请返回上一页重试。",
                "The address carries a value this page does not understand; go back and try again.",
            ),
        )
    }

    pub fn core(e: &CoreError, lang: Lang, here: &str) -> Self {
        if matches!(
            e,
            CoreError::Forbidden(Denial::Unauthenticated | Denial::SessionExpired)
        ) {
            return PageError::Login(here.to_string());
        }
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let title = match status {
            StatusCode::FORBIDDEN => lang.pick("无权操作", "Not allowed"),
            StatusCode::NOT_FOUND => lang.pick("没有找到", "Not found"),
            StatusCode::CONFLICT => lang.pick("状态已变化", "Changed meanwhile"),
            _ => lang.pick("无法完成", "Could not be done"),
        };
        Self::new(status, lang, title, &e.message(lang))
    }

    pub fn store(e: StoreError, lang: Lang, here: &str) -> Self {
        match e {
            StoreError::Core(c) => Self::core(&c, lang, here),
            other => {
                tracing::error!(error = %other, "page failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    lang,
                    lang.pick("服务器内部错误", "Internal error"),
                    lang.pick(
                        "服务器内部错误，请稍后重试。",
                        "Something went wrong on the server; please try again later.",
                    ),
                )
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    c: Ctx,
    title: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login(next) => {
                Redirect::to(&format!("/login?next={}", url_encode(&next))).into_response()
            }
            PageError::Redirect(to) => Redirect::to(&to).into_response(),
            PageError::Message {
                status,
                lang,
                title,
                message,
            } => {
                let c = Ctx {
                    lang,
                    person: None,
                    csrf: String::new(),
                    here: "/".into(),
                    nav: nav_for(lang, None, ""),
                    flash: None,
                    unread: 0,
                };
                let mut res = render(&ErrorPage { c, title, message });
                *res.status_mut() = status;
                res
            }
        }
    }
}

pub type PageResult = Result<Response, PageError>;

/// Renders a template to an HTML response.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error / 服务器内部错误",
            )
                .into_response()
        }
    }
}

pub(crate) async fn not_found(headers: HeaderMap) -> Response {
    PageError::not_found(page_lang(&headers)).into_response()
}

/// The fallback for unknown paths outside `/api/`: a page, not JSON.
pub async fn page_fallback(headers: HeaderMap) -> Response {
    not_found(headers).await
}
