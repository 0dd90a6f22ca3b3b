//! The OpenAPI document, served at `/api/openapi.json`. Command bodies are documented here one by
//! one; the handler that reads them is `api::requests::command`.

use crate::api::{accounts, directory, public, requests, scorecard};
use crate::error::ErrorBody;
use redgrid_core::area::Level;
use redgrid_core::catalogue::Tier;
use redgrid_core::request::{Attachment, RejectCode, Satisfaction};
use utoipa::{OpenApi, ToSchema};

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AcceptBody {
    category_id: i64,
    /// Defaults to the category's tier.
    tier: Option<Tier>,
    urgent: Option<bool>,
    /// Defaults to the tier's first level.
    level: Option<Level>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RejectBody {
    code: RejectCode,
    /// Required when `code` is `duplicate`.
    duplicate_of: Option<i64>,
    /// Required when `code` is `other`.
    text: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DispatchBody {
    /// A unit of the request's level whose area holds the request.
    unit_id: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReasonBody {
    reason: String,
}

#[derive(ToSchema)]
pub struct EmptyBody {}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NoteBody {
    text: String,
    /// True when the note records contact with the requester (counts as the response).
    contact_made: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ResolveBody {
    /// What was done.
    summary: String,
    evidence: Option<Vec<Attachment>>,
    /// Cost in fen (1/100 yuan).
    cost_fen: Option<i64>,
    /// Required for a power alert (channel `power_alert`), refused for anything else: what the
    /// check found.
    outcome: Option<redgrid_core::request::AlertOutcome>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerifyBody {
    passed: bool,
    /// Required when `passed` is false.
    reason: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RateBody {
    resolved: bool,
    satisfaction: Satisfaction,
    comment: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SuspendBody {
    reason: String,
    /// Staff of the level above who approved.
    approver_id: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SuperviseBody {
    order: String,
}

macro_rules! command_doc {
    ($name:ident, $path:literal, $body:ty, $summary:literal) => {
        #[utoipa::path(post, path = $path, tag = "commands", summary = $summary,
            params(("id" = i64, Path, description = "The request")),
            request_body = $body,
            responses(
                (status = 200, description = "Done: the new state and the event", body = requests::CommandResult),
                (status = 400, description = "Malformed JSON", body = ErrorBody),
                (status = 401, description = "No valid token", body = ErrorBody),
                (status = 403, description = "Role or scope does not allow it", body = ErrorBody),
                (status = 404, description = "No such request", body = ErrorBody),
                (status = 409, description = "Not allowed from the current state (see current_status)", body = ErrorBody),
                (status = 422, description = "Invalid fields (see fields)", body = ErrorBody)))]
        #[allow(dead_code)]
        fn $name() {}
    };
}

command_doc!(
    accept,
    "/api/requests/{id}/accept",
    AcceptBody,
    "受理 accept: classify and set tier and level"
);
command_doc!(
    reject,
    "/api/requests/{id}/reject",
    RejectBody,
    "不予受理 reject"
);
command_doc!(
    dispatch,
    "/api/requests/{id}/dispatch",
    DispatchBody,
    "派单 dispatch to a unit"
);
command_doc!(
    return_,
    "/api/requests/{id}/return",
    ReasonBody,
    "退单 return to the dispatcher"
);
command_doc!(claim, "/api/requests/{id}/claim", EmptyBody, "接单 claim");
command_doc!(
    note,
    "/api/requests/{id}/note",
    NoteBody,
    "办理记录 progress note"
);
command_doc!(
    resolve,
    "/api/requests/{id}/resolve",
    ResolveBody,
    "办结 resolve"
);
command_doc!(
    verify,
    "/api/requests/{id}/verify",
    VerifyBody,
    "验单 verify (pass or send back)"
);
command_doc!(
    rate,
    "/api/requests/{id}/rate",
    RateBody,
    "评单 rate (closes, or reopens when unresolved or unsatisfied)"
);
command_doc!(
    close,
    "/api/requests/{id}/close",
    EmptyBody,
    "销号 close without a rating after the rating window"
);
command_doc!(
    escalate,
    "/api/requests/{id}/escalate",
    ReasonBody,
    "上报 escalate one level"
);
command_doc!(
    suspend,
    "/api/requests/{id}/suspend",
    SuspendBody,
    "挂账 suspend with approval"
);
command_doc!(
    resume,
    "/api/requests/{id}/resume",
    EmptyBody,
    "恢复 resume"
);
command_doc!(
    supervise,
    "/api/requests/{id}/supervise",
    SuperviseBody,
    "督办 supervise"
);

#[derive(OpenApi)]
#[openapi(
    info(title = "redgrid API", description = "红网格: the demand-to-closure chain of party-building-led grassroots governance. \
        Errors are `{code, message}` with the message in zh-CN or English by Accept-Language. \
        Authenticate with `Authorization: Bearer <token>` (an API token), or log in at `/api/login` for a \
        session cookie and send its `csrf_token` as `X-CSRF-Token` with every change."),
    paths(
        requests::submit, requests::list, requests::get, requests::reveal, public::list,
        accept, reject, dispatch, return_, claim, note, resolve, verify, rate, close, escalate, suspend, resume, supervise,
        directory::areas, directory::area, directory::units, directory::unit, directory::categories,
        directory::create_class, directory::create_item, directory::update_item, directory::me,
        directory::upload, directory::download,
        scorecard::scorecard, scorecard::messages,
        accounts::login, accounts::logout, accounts::change_password, accounts::set_account,
        accounts::create_token, accounts::tokens, accounts::revoke_token,
        crate::api::org::import, crate::api::org::template, crate::api::org::export,
        crate::api::org::campaign_stats, crate::api::org::record_activity, crate::api::org::suggestion_to_request,
    ),
    tags((name = "requests", description = "点单 and the request ledger"),
         (name = "commands", description = "Every command of the lifecycle"),
         (name = "directory", description = "Areas, units, the catalogue, people"),
         (name = "accounts", description = "Logging in, passwords and API tokens"),
         (name = "public", description = "The public need, result and rectification lists (no login; personal data masked)"),
         (name = "organisation", description = "Party organisations, members, pairings, alliances, activities and campaign statistics; Excel import and export"),
         (name = "scorecard", description = "三率: response, resolution, satisfaction, on-time and rework rates")),
)]
pub struct ApiDoc;
