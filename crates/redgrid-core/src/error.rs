//! Stable error codes and their messages in zh-CN and English.
//!
//! Every refusal the core (or the store, or the HTTP edge) can give has a stable machine-readable code
//! (`CoreError::code`), an HTTP status class (`CoreError::http_status`) and a human message in the
//! caller's language (`CoreError::message`). Clients branch on the code, never on the message.

use crate::request::Status;
use serde::Serialize;
use std::fmt;

/// The language of a human-readable message. zh-CN is the default everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Picks the language from an HTTP `Accept-Language` value: the highest-weighted tag that is
    /// Chinese or English wins; anything else (or nothing) means zh-CN.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Zh;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0f32;
            for p in pieces {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            let lang = if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Zh)
    }

    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// What kind of record an id names (for "not found" errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Request,
    Area,
    Unit,
    Person,
    Category,
    CategoryClass,
    Token,
    PartyOrg,
    Campaign,
    Suggestion,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Request => "request",
            Entity::Area => "area",
            Entity::Unit => "unit",
            Entity::Person => "person",
            Entity::Category => "category",
            Entity::CategoryClass => "category_class",
            Entity::Token => "api_token",
            Entity::PartyOrg => "party_org",
            Entity::Campaign => "campaign",
            Entity::Suggestion => "suggestion",
        }
    }
    fn zh(self) -> &'static str {
        match self {
            Entity::Request => "诉求",
            Entity::Area => "区域",
            Entity::Unit => "单位",
            Entity::Person => "人员",
            Entity::Category => "事项",
            Entity::CategoryClass => "事项大类",
            Entity::Token => "接口令牌",
            Entity::PartyOrg => "党组织",
            Entity::Campaign => "活动项目",
            Entity::Suggestion => "意见建议",
        }
    }
}

/// Why an actor may not run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// None of the actor's roles may run this command at all.
    RoleNotAllowed,
    /// The actor has a fitting role, but not for this request's area, level or unit.
    OutOfScope,
    /// Only the person who filed the request may do this.
    NotRequester,
    /// The person who handled a request may not verify it.
    SelfVerification,
    /// The named approver does not hold a role at the level above.
    ApproverNotAllowed,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The login name and password do not match an account.
    BadCredentials,
    /// The session has ended (expired or logged out); log in again.
    SessionExpired,
    /// The API token was revoked or has expired.
    TokenRevoked,
    /// The account is disabled.
    AccountDisabled,
    /// A browser request that changes something came without the session's CSRF token.
    CsrfFailed,
    /// The old password given for a change is wrong.
    WrongPassword,
    /// The account must choose a new password before doing anything else.
    PasswordChangeRequired,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::RoleNotAllowed => "role_not_allowed",
            Denial::OutOfScope => "out_of_scope",
            Denial::NotRequester => "not_requester",
            Denial::SelfVerification => "self_verification",
            Denial::ApproverNotAllowed => "approver_not_allowed",
            Denial::Unauthenticated => "unauthenticated",
            Denial::BadCredentials => "bad_credentials",
            Denial::SessionExpired => "session_expired",
            Denial::TokenRevoked => "token_revoked",
            Denial::AccountDisabled => "account_disabled",
            Denial::CsrfFailed => "csrf_failed",
            Denial::WrongPassword => "wrong_password",
            Denial::PasswordChangeRequired => "password_change_required",
        }
    }
}

/// A conflict with the current state that is not a plain illegal transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The same idempotency key was used before with a different body.
    IdempotencyKeyReused,
    /// Someone else changed the request at the same moment; reload and try again.
    ConcurrentUpdate,
    /// The rating window has not ended yet, so the request cannot be closed without a rating.
    RatingWindowOpen,
    /// The request is already at the district level.
    TopLevel,
    /// A record with this natural key already exists.
    AlreadyExists,
    /// The record is still referenced and cannot be removed or deactivated.
    InUse,
    /// Automatic supervision: the request is not past a deadline.
    NotOverdue,
    /// Automatic supervision: the missed deadline was supervised already.
    AlreadySupervised,
    /// Automatic escalation: the request has not been red long enough.
    NotOverdueLongEnough,
}

impl Conflict {
    pub fn code(&self) -> &'static str {
        match self {
            Conflict::IdempotencyKeyReused => "idempotency_key_reused",
            Conflict::ConcurrentUpdate => "concurrent_update",
            Conflict::RatingWindowOpen => "rating_window_open",
            Conflict::TopLevel => "cannot_escalate_further",
            Conflict::AlreadyExists => "already_exists",
            Conflict::InUse => "in_use",
            Conflict::NotOverdue => "not_overdue",
            Conflict::AlreadySupervised => "already_supervised",
            Conflict::NotOverdueLongEnough => "not_overdue_long_enough",
        }
    }
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as sent, e.g. `description` or `location.area_id`.
    pub field: String,
    /// A stable reason code: `required`, `too_long`, `too_short`, `invalid`, `out_of_range`,
    /// `unknown`, `not_allowed`, `too_many`.
    pub code: &'static str,
    /// A human message in the request's language.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// For `too_long` / `too_many` / `out_of_range`: the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: String::new(),
            limit: None,
        }
    }
    pub fn with_limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Fills `message` in the given language.
    pub fn localized(mut self, lang: Lang) -> Self {
        let limit = self.limit.unwrap_or_default();
        self.message = match (self.code, lang) {
            ("required", Lang::Zh) => "必填".into(),
            ("required", Lang::En) => "is required".into(),
            ("too_long", Lang::Zh) => format!("不能超过 {limit} 个字符"),
            ("too_long", Lang::En) => format!("must be at most {limit} characters"),
            ("too_short", Lang::Zh) => format!("至少 {limit} 个字符"),
            ("too_short", Lang::En) => format!("must be at least {limit} characters"),
            ("too_many", Lang::Zh) => format!("最多 {limit} 项"),
            ("too_many", Lang::En) => format!("must have at most {limit} items"),
            ("out_of_range", Lang::Zh) => "超出允许范围".into(),
            ("out_of_range", Lang::En) => "is out of range".into(),
            ("unknown", Lang::Zh) => "不存在".into(),
            ("unknown", Lang::En) => "does not exist".into(),
            ("not_allowed", Lang::Zh) => "此处不允许该值".into(),
            ("not_allowed", Lang::En) => "is not allowed here".into(),
            ("inactive", Lang::Zh) => "已停用".into(),
            ("inactive", Lang::En) => "is no longer in use".into(),
            ("wrong_level", Lang::Zh) => "与当前办理层级不符".into(),
            ("wrong_level", Lang::En) => "does not match the handling level".into(),
            ("outside_area", Lang::Zh) => "不在诉求所在区域内".into(),
            ("outside_area", Lang::En) => "is outside the request's area".into(),
            ("unknown_field", Lang::Zh) => "不支持的字段".into(),
            ("unknown_field", Lang::En) => "is not a known field".into(),
            ("invalid_type", Lang::Zh) => "类型不正确".into(),
            ("invalid_type", Lang::En) => "has the wrong type".into(),
            (_, Lang::Zh) => "格式不正确".into(),
            (_, Lang::En) => "is invalid".into(),
        };
        self
    }
}

/// Every refusal the domain can give.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// An id in the path names nothing (404).
    NotFound { entity: Entity, id: i64 },
    /// The command is not allowed from the request's current state (409).
    InvalidTransition {
        command: &'static str,
        status: Status,
    },
    /// The actor may not do this (403).
    Forbidden(Denial),
    /// One or more fields are missing, too large or invalid (422).
    Validation(Vec<FieldError>),
    /// Some other conflict with the current state (409).
    Conflict(Conflict),
}

impl CoreError {
    pub fn validation(field: impl Into<String>, code: &'static str) -> Self {
        CoreError::Validation(vec![FieldError::new(field, code)])
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotFound { entity, .. } => match entity {
                Entity::Request => "request_not_found",
                Entity::Area => "area_not_found",
                Entity::Unit => "unit_not_found",
                Entity::Person => "person_not_found",
                Entity::Category => "category_not_found",
                Entity::CategoryClass => "category_class_not_found",
                Entity::Token => "api_token_not_found",
                Entity::PartyOrg => "party_org_not_found",
                Entity::Campaign => "campaign_not_found",
                Entity::Suggestion => "suggestion_not_found",
            },
            CoreError::InvalidTransition { .. } => "invalid_transition",
            CoreError::Forbidden(d) => d.code(),
            CoreError::Validation(_) => "validation_failed",
            CoreError::Conflict(c) => c.code(),
        }
    }

    /// The HTTP status this error maps to.
    pub fn http_status(&self) -> u16 {
        match self {
            CoreError::NotFound { .. } => 404,
            CoreError::InvalidTransition { .. } => 409,
            CoreError::Forbidden(
                Denial::Unauthenticated
                | Denial::BadCredentials
                | Denial::SessionExpired
                | Denial::TokenRevoked,
            ) => 401,
            CoreError::Forbidden(_) => 403,
            CoreError::Validation(_) => 422,
            CoreError::Conflict(_) => 409,
        }
    }

    /// A human-readable message in the given language.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            CoreError::NotFound { entity, id } => match lang {
                Lang::Zh => format!("{}（编号 {id}）不存在", entity.zh()),
                Lang::En => format!("{} {id} does not exist", entity.as_str()),
            },
            CoreError::InvalidTransition { command, status } => match lang {
                Lang::Zh => format!(
                    "诉求当前状态为「{}」，不能执行「{}」",
                    status.label(Lang::Zh),
                    crate::command::command_label(command, Lang::Zh)
                ),
                Lang::En => format!(
                    "cannot {command} a request that is {}",
                    status.label(Lang::En)
                ),
            },
            CoreError::Forbidden(d) => match (d, lang) {
                (Denial::RoleNotAllowed, Lang::Zh) => "您的角色无权执行此操作".into(),
                (Denial::RoleNotAllowed, Lang::En) => "none of your roles may do this".into(),
                (Denial::OutOfScope, Lang::Zh) => "该诉求不在您的辖区、层级或单位范围内".into(),
                (Denial::OutOfScope, Lang::En) => {
                    "this request is outside your area, level or unit".into()
                }
                (Denial::NotRequester, Lang::Zh) => "只有诉求提出人可以执行此操作".into(),
                (Denial::NotRequester, Lang::En) => {
                    "only the person who filed the request may do this".into()
                }
                (Denial::SelfVerification, Lang::Zh) => "办理人不能验收自己办理的诉求".into(),
                (Denial::SelfVerification, Lang::En) => {
                    "the handler of a request may not verify it".into()
                }
                (Denial::ApproverNotAllowed, Lang::Zh) => "审批人须为上一级的工作人员".into(),
                (Denial::ApproverNotAllowed, Lang::En) => {
                    "the approver must be staff of the level above".into()
                }
                (Denial::Unauthenticated, Lang::Zh) => "未登录或令牌无效".into(),
                (Denial::Unauthenticated, Lang::En) => "missing or invalid credentials".into(),
                (Denial::BadCredentials, Lang::Zh) => "账号或密码不正确".into(),
                (Denial::BadCredentials, Lang::En) => "wrong login name or password".into(),
                (Denial::SessionExpired, Lang::Zh) => "登录已过期，请重新登录".into(),
                (Denial::SessionExpired, Lang::En) => "your session has ended; log in again".into(),
                (Denial::TokenRevoked, Lang::Zh) => "接口令牌已吊销或过期".into(),
                (Denial::TokenRevoked, Lang::En) => {
                    "the API token was revoked or has expired".into()
                }
                (Denial::AccountDisabled, Lang::Zh) => "账号已停用，请联系管理员".into(),
                (Denial::AccountDisabled, Lang::En) => {
                    "the account is disabled; ask an administrator".into()
                }
                (Denial::CsrfFailed, Lang::Zh) => {
                    "页面已失效（缺少或错误的安全令牌），请刷新后重试".into()
                }
                (Denial::CsrfFailed, Lang::En) => {
                    "missing or wrong CSRF token; reload the page and try again".into()
                }
                (Denial::WrongPassword, Lang::Zh) => "原密码不正确".into(),
                (Denial::WrongPassword, Lang::En) => "the current password is wrong".into(),
                (Denial::PasswordChangeRequired, Lang::Zh) => {
                    "请先修改初始密码（POST /api/me/password）".into()
                }
                (Denial::PasswordChangeRequired, Lang::En) => {
                    "choose a new password first (POST /api/me/password)".into()
                }
            },
            CoreError::Validation(fields) => {
                let list: Vec<String> = fields.iter().map(|f| f.field.clone()).collect();
                match lang {
                    Lang::Zh => format!("提交的内容有误：{}", list.join("、")),
                    Lang::En => format!("invalid fields: {}", list.join(", ")),
                }
            }
            CoreError::Conflict(c) => match (c, lang) {
                (Conflict::IdempotencyKeyReused, Lang::Zh) => "该幂等键已用于内容不同的提交".into(),
                (Conflict::IdempotencyKeyReused, Lang::En) => {
                    "this idempotency key was already used with a different body".into()
                }
                (Conflict::ConcurrentUpdate, Lang::Zh) => "诉求刚被他人修改，请刷新后重试".into(),
                (Conflict::ConcurrentUpdate, Lang::En) => {
                    "the request was changed by someone else; reload and try again".into()
                }
                (Conflict::RatingWindowOpen, Lang::Zh) => "评价期尚未结束，不能自动销号".into(),
                (Conflict::RatingWindowOpen, Lang::En) => {
                    "the rating window has not ended yet".into()
                }
                (Conflict::TopLevel, Lang::Zh) => "已在区级办理，不能再上报".into(),
                (Conflict::TopLevel, Lang::En) => {
                    "the request is already at district level and cannot be escalated".into()
                }
                (Conflict::AlreadyExists, Lang::Zh) => "记录已存在".into(),
                (Conflict::AlreadyExists, Lang::En) => {
                    "a record with this key already exists".into()
                }
                (Conflict::InUse, Lang::Zh) => "记录仍在使用中".into(),
                (Conflict::InUse, Lang::En) => "the record is still in use".into(),
                (Conflict::NotOverdue, Lang::Zh) => "诉求未超过办理时限".into(),
                (Conflict::NotOverdue, Lang::En) => "the request is not past a deadline".into(),
                (Conflict::AlreadySupervised, Lang::Zh) => "该超时诉求已自动督办".into(),
                (Conflict::AlreadySupervised, Lang::En) => {
                    "this missed deadline was supervised already".into()
                }
                (Conflict::NotOverdueLongEnough, Lang::Zh) => "超时时长未达到自动上报条件".into(),
                (Conflict::NotOverdueLongEnough, Lang::En) => {
                    "the request has not been overdue long enough to escalate automatically".into()
                }
            },
        }
    }

    /// The invalid fields, localized, for a validation error.
    pub fn fields(&self, lang: Lang) -> Vec<FieldError> {
        match self {
            CoreError::Validation(f) => f.iter().cloned().map(|f| f.localized(lang)).collect(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message(Lang::En))
    }
}

impl std::error::Error for CoreError {}

/// Collects field errors while validating a command body.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn new() -> Self {
        Fields(Vec::new())
    }
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }
    pub fn add(&mut self, field: impl Into<String>, code: &'static str) {
        self.0.push(FieldError::new(field, code));
    }
    /// Checks a required free-text field: present, not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        match value.map(str::trim) {
            None | Some("") => self.add(field, "required"),
            Some(v) if v.chars().count() > max => {
                self.push(FieldError::new(field, "too_long").with_limit(max as i64))
            }
            _ => {}
        }
    }
    /// Checks an optional free-text field: at most `max` characters.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value
            && v.chars().count() > max
        {
            self.push(FieldError::new(field, "too_long").with_limit(max as i64));
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn finish(self) -> Result<(), CoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_weight() {
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language(Some("fr, en;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::Zh);
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.2, zh;q=0.7")),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language(Some("en;q=0")), Lang::Zh);
    }

    #[test]
    fn codes_and_statuses_are_stable() {
        let e = CoreError::InvalidTransition {
            command: "claim",
            status: Status::Submitted,
        };
        assert_eq!(e.code(), "invalid_transition");
        assert_eq!(e.http_status(), 409);
        assert!(e.message(Lang::Zh).contains("已提交"));
        assert!(e.message(Lang::En).contains("submitted"));
        let e = CoreError::NotFound {
            entity: Entity::Request,
            id: 7,
        };
        assert_eq!((e.code(), e.http_status()), ("request_not_found", 404));
        assert_eq!(CoreError::Forbidden(Denial::OutOfScope).http_status(), 403);
        assert_eq!(
            CoreError::Forbidden(Denial::Unauthenticated).http_status(),
            401
        );
        let v = CoreError::Validation(vec![FieldError::new("description", "required")]);
        assert_eq!((v.code(), v.http_status()), ("validation_failed", 422));
        assert_eq!(v.fields(Lang::En)[0].message, "is required");
    }
}
