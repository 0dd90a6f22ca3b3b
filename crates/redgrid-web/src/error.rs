//! Errors at the HTTP edge: every refusal becomes its HTTP status and `{code, message}` (plus
//! `fields` for invalid input and `current_status` for an illegal transition), the message in the
//! request's language. Database and internal errors are logged and never shown in detail.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redgrid_core::error::{CoreError, FieldError, Lang};
use redgrid_store::StoreError;
use serde::Serialize;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `invalid_transition`.
    pub code: String,
    /// A human message in zh-CN or English (by `Accept-Language`).
    pub message: String,
    /// For `validation_failed`: every bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// For `invalid_transition`: the request's current state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// What the error came from, so that [`localize`] can word it in the request's language: a
    /// handler that meets a store or core error just uses `?`.
    source: Option<Box<Source>>,
}

/// The language-independent cause of an [`ApiError`].
#[derive(Debug, Clone)]
enum Source {
    Core(CoreError),
    Internal,
}

impl From<StoreError> for ApiError {
    /// Worded in zh-CN here; [`localize`] words it again in the request's language.
    fn from(e: StoreError) -> Self {
        ApiError::store(e, Lang::Zh)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::core(&e, Lang::Zh)
    }
}

/// Middleware: words every error that came from the core or the store in the request's language
/// (from `Accept-Language`), so that handlers need not carry the language to their `?`s.
pub async fn localize(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let lang = lang_of(req.headers());
    if req.uri().to_string().len() > MAX_URI {
        return ApiError::plain(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            &match lang {
                Lang::Zh => format!("请求地址过长（上限 {} KB）", MAX_URI / 1024),
                Lang::En => format!("the address is too long (at most {} KB)", MAX_URI / 1024),
            },
        )
        .into_response();
    }
    let mut res = next.run(req).await;
    let Some(source) = res.extensions_mut().remove::<Source>() else {
        return documented(res, lang).await;
    };
    let again = match source {
        Source::Core(e) => ApiError::core(&e, lang),
        Source::Internal => ApiError::internal(lang),
    };
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&again.body).unwrap_or_default();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The longest request address (path and query) answered; longer ones get 414.
pub const MAX_URI: usize = 8 * 1024;

/// An error answered by the framework rather than by redgrid (a path or query that does not parse,
/// a method a route does not take, a body of the wrong kind) comes as plain text or empty: it is
/// rewritten as the documented JSON error, in the request's language, keeping its status.
async fn documented(res: Response, lang: Lang) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Our own answers: JSON, the pages' HTML, and Open311's XML (its clients expect that format).
    if [
        "application/json",
        "text/html",
        "text/xml",
        "application/xml",
    ]
    .iter()
    .any(|k| kind.starts_with(k))
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let detail = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, zh, en) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "该地址不支持此请求方法",
            "this address does not take that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", "请求体过大", "the body is too large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "请求体类型不受支持",
            "the body's content type is not supported",
        ),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "请求地址过长", "the address is too long"),
        StatusCode::NOT_FOUND => ("not_found", "没有这个地址", "no such endpoint"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "请求超时", "the request took too long"),
        s if s.is_server_error() => ("internal", "服务器内部错误", "internal error"),
        _ => ("bad_request", "请求格式不正确", "the request is malformed"),
    };
    // The framework's own words explain a 4xx (which field, which value); never a 5xx's.
    let message = if detail.is_empty() || status.is_server_error() {
        lang.pick(zh, en).to_string()
    } else {
        format!(
            "{}{}{}",
            lang.pick(zh, en),
            lang.pick("：", ": "),
            detail.chars().take(200).collect::<String>()
        )
    };
    let body = ErrorBody {
        code: code.to_string(),
        message,
        fields: Vec::new(),
        current_status: None,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(
        parts,
        axum::body::Body::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// The language of the request, from `Accept-Language` (zh-CN unless English is preferred).
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

impl ApiError {
    pub fn core(e: &CoreError, lang: Lang) -> Self {
        let current_status = match e {
            CoreError::InvalidTransition { status, .. } => Some(status.as_str().to_string()),
            _ => None,
        };
        ApiError {
            source: Some(Box::new(Source::Core(e.clone()))),
            status: StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            body: ErrorBody {
                code: e.code().to_string(),
                message: e.message(lang),
                fields: e.fields(lang),
                current_status,
            },
        }
    }

    pub fn store(e: StoreError, lang: Lang) -> Self {
        match e {
            StoreError::Core(c) => Self::core(&c, lang),
            other => {
                tracing::error!(error = %other, "internal error");
                Self::internal(lang)
            }
        }
    }

    /// A 500 for a failure of `what` (logged with its cause; the answer says nothing more).
    pub fn failed(what: &str, cause: impl std::fmt::Display, lang: Lang) -> Self {
        tracing::error!(error = %cause, "{what}");
        Self::internal(lang)
    }

    fn internal(lang: Lang) -> Self {
        ApiError {
            source: Some(Box::new(Source::Internal)),
            ..Self::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                lang.pick(
                    "服务器内部错误，请稍后重试",
                    "internal error; please try again later",
                ),
            )
        }
    }

    pub fn plain(status: StatusCode, code: &str, message: &str) -> Self {
        ApiError {
            source: None,
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.to_string(),
                fields: Vec::new(),
                current_status: None,
            },
        }
    }

    pub fn malformed_json(lang: Lang, detail: &str) -> Self {
        let msg = match lang {
            Lang::Zh => format!("请求体不是有效的 JSON：{detail}"),
            Lang::En => format!("the body is not valid JSON: {detail}"),
        };
        Self::plain(StatusCode::BAD_REQUEST, "malformed_json", &msg)
    }

    pub fn not_found_route(lang: Lang) -> Self {
        Self::plain(
            StatusCode::NOT_FOUND,
            "not_found",
            lang.pick("没有这个地址", "no such endpoint"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match self.source.as_deref() {
            Some(Source::Core(CoreError::TooMany { retry_after, .. })) => Some(*retry_after),
            _ => None,
        };
        let mut res = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.max(1).to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(source) = self.source {
            res.extensions_mut().insert(*source);
        }
        res
    }
}
