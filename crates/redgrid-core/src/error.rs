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

crate::vocabulary!(plain
    /// What kind of record an id names (for "not found" errors).
    Entity {
        Request = "request", "诉求", "request";
        Area = "area", "区域", "area";
        Unit = "unit", "单位", "unit";
        Person = "person", "人员", "person";
        Category = "category", "事项", "category";
        CategoryClass = "category_class", "事项大类", "category class";
        Token = "api_token", "接口令牌", "API token";
        PartyOrg = "party_org", "党组织", "party organisation";
        Campaign = "campaign", "活动项目", "campaign";
        Suggestion = "suggestion", "意见建议", "suggestion";
    }
);

crate::vocabulary!(plain
    /// Why an actor may not run a command: the stable code and the message in each language.
    Denial {
        /// None of the actor's roles may run this command at all.
        RoleNotAllowed = "role_not_allowed", "您的角色无权执行此操作", "none of your roles may do this";
        /// The actor has a fitting role, but not for this request's area, level or unit.
        OutOfScope = "out_of_scope", "该诉求不在您的辖区、层级或单位范围内",
            "this request is outside your area, level or unit";
        /// Only the person who filed the request may do this.
        NotRequester = "not_requester", "只有诉求提出人可以执行此操作",
            "only the person who filed the request may do this";
        /// The person who handled a request may not verify it.
        SelfVerification = "self_verification", "办理人不能验收自己办理的诉求",
            "the handler of a request may not verify it";
        /// The named approver does not hold a role at the level above.
        ApproverNotAllowed = "approver_not_allowed", "审批人须为上一级的工作人员",
            "the approver must be staff of the level above";
        /// No valid credentials were presented.
        Unauthenticated = "unauthenticated", "未登录或令牌无效", "missing or invalid credentials";
        /// The login name and password do not match an account.
        BadCredentials = "bad_credentials", "账号或密码不正确", "wrong login name or password";
        /// The session has ended (expired or logged out); log in again.
        SessionExpired = "session_expired", "登录已过期，请重新登录",
            "your session has ended; log in again";
        /// The API token was revoked or has expired.
        TokenRevoked = "token_revoked", "接口令牌已吊销或过期", "the API token was revoked or has expired";
        /// The account is disabled.
        AccountDisabled = "account_disabled", "账号已停用，请联系管理员",
            "the account is disabled; ask an administrator";
        /// A browser request that changes something came without the session's CSRF token.
        CsrfFailed = "csrf_failed", "页面已失效（缺少或错误的安全令牌），请刷新后重试",
            "missing or wrong CSRF token; reload the page and try again";
        /// The old password given for a change is wrong.
        WrongPassword = "wrong_password", "原密码不正确", "the current password is wrong";
        /// A staff account's password is not reset by a text message alone.
        ResetByAdministrator = "reset_by_administrator", "工作人员账号请由管理员重置密码",
            "staff accounts get a new password from an administrator";
        /// Nobody grants or revokes their own roles.
        OwnRoles = "own_roles", "不能修改自己的角色，请由上级管理员办理", "you may not change your own roles";
        /// The account must choose a new password before doing anything else.
        PasswordChangeRequired = "password_change_required", "请先修改初始密码（POST /api/me/password）",
            "choose a new password first (POST /api/me/password)";
    }
);

impl Denial {
    pub fn code(self) -> &'static str {
        self.as_str()
    }
}

crate::vocabulary!(plain
    /// A conflict with the current state that is not a plain illegal transition: the stable code
    /// and the message in each language.
    Conflict {
        /// The same idempotency key was used before with a different body.
        IdempotencyKeyReused = "idempotency_key_reused", "该幂等键已用于内容不同的提交",
            "this idempotency key was already used with a different body";
        /// Someone else changed the request at the same moment; reload and try again.
        ConcurrentUpdate = "concurrent_update", "诉求刚被他人修改，请刷新后重试",
            "the request was changed by someone else; reload and try again";
        /// The rating window has not ended yet, so the request cannot be closed without a rating.
        RatingWindowOpen = "rating_window_open", "评价期尚未结束，不能自动销号",
            "the rating window has not ended yet";
        /// The request is already at the district level.
        TopLevel = "cannot_escalate_further", "已在区级办理，不能再上报",
            "the request is already at district level and cannot be escalated";
        /// A record with this natural key already exists.
        AlreadyExists = "already_exists", "记录已存在", "a record with this key already exists";
        /// The record is still referenced and cannot be removed or deactivated.
        InUse = "in_use", "记录仍在使用中", "the record is still in use";
        /// Automatic supervision: the request is not past a deadline.
        NotOverdue = "not_overdue", "诉求未超过办理时限", "the request is not past a deadline";
        /// Automatic supervision: the missed deadline was supervised already.
        AlreadySupervised = "already_supervised", "该超时诉求已自动督办",
            "this missed deadline was supervised already";
        /// An alert update goes only to a request the electricity detectors filed.
        NotAnAlert = "not_a_power_alert", "只有电力预警诉求可以更新预警",
            "only a request filed by the electricity detectors takes alert updates";
        /// Automatic escalation: the request has not been red long enough.
        NotOverdueLongEnough = "not_overdue_long_enough", "超时时长未达到自动上报条件",
            "the request has not been overdue long enough to escalate automatically";
    }
);

impl Conflict {
    pub fn code(&self) -> &'static str {
        self.as_str()
    }
}

crate::vocabulary!(plain
    /// What someone did too often (429): the stable code and the message in each language.
    Limit {
        /// Sign-up codes asked for one phone, or from one address, too often.
        Codes = "too_many_codes", "验证码发送过于频繁", "too many codes were asked for";
        /// Five wrong codes: the phone is locked for a while.
        Tries = "too_many_tries", "验证码错误次数过多，该手机号已暂时锁定",
            "too many wrong codes; the phone is locked for a while";
        /// Requests filed too fast by one person or from one address.
        Filing = "too_many_requests", "提交过于频繁", "too many requests filed";
        /// Files uploaded too fast by one person.
        Uploads = "too_many_uploads", "上传过于频繁", "too many files uploaded";
        /// A person's uploads for the day are used up.
        UploadQuota = "upload_quota", "今日上传已达上限", "today's upload quota is used up";
    }
);

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

    /// Fills `message` in the given language (`{limit}` in a message is the field's limit).
    pub fn localized(mut self, lang: Lang) -> Self {
        let (zh, en) = FIELD_MESSAGES
            .iter()
            .find(|(code, ..)| *code == self.code)
            .map_or(("格式不正确", "is invalid"), |&(_, zh, en)| (zh, en));
        let text = lang.pick(zh, en);
        self.message = match self.limit {
            Some(limit) => text.replace("{limit}", &limit.to_string()),
            // A limit the caller did not give is not quoted as 0.
            None if text.contains("{limit}") => LIMITLESS
                .iter()
                .find(|(code, ..)| *code == self.code)
                .map_or(
                    lang.pick("格式不正确", "is invalid"),
                    |&(_, zh, en)| lang.pick(zh, en),
                )
                .to_string(),
            None => text.to_string(),
        };
        self
    }
}

/// The messages of the codes with a limit, for when none was given.
const LIMITLESS: &[(&str, &str, &str)] = &[
    ("too_long", "过长", "is too long"),
    ("too_short", "过短", "is too short"),
    ("too_many", "项数过多", "has too many items"),
];

/// The message of each field error code, in Chinese and English. Any other code reads "格式不正确" /
/// "is invalid".
const FIELD_MESSAGES: &[(&str, &str, &str)] = &[
    ("required", "必填", "is required"),
    (
        "too_long",
        "不能超过 {limit} 个字符",
        "must be at most {limit} characters",
    ),
    (
        "too_short",
        "至少 {limit} 个字符",
        "must be at least {limit} characters",
    ),
    (
        "too_many",
        "最多 {limit} 项",
        "must have at most {limit} items",
    ),
    ("out_of_range", "超出允许范围", "is out of range"),
    ("unknown", "不存在", "does not exist"),
    ("not_allowed", "此处不允许该值", "is not allowed here"),
    (
        "other_district",
        "不是本系统所配置的区",
        "is not the district this server is configured for",
    ),
    ("inactive", "已停用", "is no longer in use"),
    (
        "personal_number",
        "不能含电话、证件或银行卡等号码",
        "must not hold a phone, ID or bank-card number",
    ),
    (
        "wrong_level",
        "与当前办理层级不符",
        "does not match the handling level",
    ),
    (
        "outside_area",
        "不在诉求所在区域内",
        "is outside the request's area",
    ),
    ("unknown_field", "不支持的字段", "is not a known field"),
    ("invalid_type", "类型不正确", "has the wrong type"),
    (
        "wrong_content",
        "文件内容与声明的类型不符",
        "does not match its declared type",
    ),
    (
        "wrong_code",
        "验证码不正确或已过期",
        "is wrong or has expired",
    ),
];

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
    /// Done too often (429): may be tried again after `retry_after` seconds.
    TooMany { limit: Limit, retry_after: i64 },
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
            CoreError::TooMany { limit, .. } => limit.as_str(),
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
            CoreError::TooMany { .. } => 429,
        }
    }

    /// A human-readable message in the given language.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            // Id 0 stands for "named otherwise" (a code, a phone, a token): no number to quote.
            CoreError::NotFound { entity, id } if *id <= 0 => match lang {
                Lang::Zh => format!("{}不存在", entity.label(Lang::Zh)),
                Lang::En => format!("no such {}", entity.label(Lang::En)),
            },
            CoreError::NotFound { entity, id } => match lang {
                Lang::Zh => format!("{}（编号 {id}）不存在", entity.label(Lang::Zh)),
                Lang::En => format!("{} {id} does not exist", entity.label(Lang::En)),
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
            CoreError::Forbidden(d) => d.label(lang).into(),
            CoreError::Validation(fields) => {
                let list: Vec<String> = fields.iter().map(|f| f.field.clone()).collect();
                match lang {
                    Lang::Zh => format!("提交的内容有误：{}", list.join("、")),
                    Lang::En => format!("invalid fields: {}", list.join(", ")),
                }
            }
            CoreError::Conflict(c) => c.label(lang).into(),
            CoreError::TooMany { limit, retry_after } => match lang {
                Lang::Zh => format!("{}，请 {retry_after} 秒后再试", limit.label(lang)),
                Lang::En => format!("{}; try again in {retry_after} seconds", limit.label(lang)),
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

/// Whether `c` shows nothing: zero-width spaces and joiners, the word joiner and other invisible
/// operators, the byte-order mark, the soft hyphen, bidirectional marks and Hangul fillers. Text
/// made of these and white space is blank.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

/// `s` without white space or invisible characters at either end: empty when it shows nothing.
pub fn trim_visible(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

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
        let field = field.into();
        // A value that could not be read is missing to the checks that follow: its own error says
        // why, and "required" on top would only repeat it.
        if code == "required" && self.0.iter().any(|e| e.field == field) {
            return;
        }
        self.0.push(FieldError::new(field, code));
    }
    /// Checks a required free-text field: present, not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        match value.map(trim_visible) {
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
    /// The record a reference field names, when it names one in use: `find` looks the id up,
    /// and the field is reported `required` (no id), `unknown` (no such record) or `inactive` (a
    /// record no longer in use).
    pub fn in_use<I, T>(
        &mut self,
        field: &str,
        id: Option<I>,
        find: impl FnOnce(I) -> Option<T>,
        active: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let Some(id) = id else {
            self.add(field, "required");
            return None;
        };
        match find(id) {
            None => self.add(field, "unknown"),
            Some(t) if !active(&t) => self.add(field, "inactive"),
            found => return found,
        }
        None
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
