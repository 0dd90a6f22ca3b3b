//! Every command of the lifecycle, declared once: its identifier and labels, the event it appends
//! with that event's labels, the states it may start from, and each field with its kind, whether it
//! is needed, its labels and its meaning. From this one declaration come [`Command`] and
//! [`CommandKind`], the empty command a page's dry run decides on ([`Command::blank`]), reading a
//! command from any [`FieldSource`] (the JSON API and the pages' forms, [`Command::read`]), the
//! fields a form shows and the API documents ([`CommandKind::fields`]), the states a command may
//! start from ([`CommandKind::allowed_from`]) and every label the pages, messages and Open311 use.
//!
//! Adding a command: declare it here, then write its decision in `mod.rs` (`decide`) and its event
//! in `request.rs`; the compiler points at every match still missing it.

use super::fields::{FieldKind, FieldSource, FieldSpec, FromField, Need};
use super::limits;
use crate::area::Level;
use crate::catalogue::Tier;
use crate::error::{FieldError, Lang};
use crate::ids::{CategoryId, PersonId, RequestId, UnitId};
use crate::request::{AlertOutcome, Attachment, RejectCode, Satisfaction, Status};
use crate::vocab::Vocab;
use serde::{Deserialize, Serialize};

/// The `(identifier, name)` options of a vocabulary, for a [`FieldKind::Choice`].
fn options<T: Vocab>(lang: Lang) -> Vec<(&'static str, &'static str)> {
    T::options(lang)
}

macro_rules! commands {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $id:literal, $zh:literal, $en:literal;
        event $ev:literal, $ev_zh:literal, $ev_en:literal;
        from [$($from:ident),*];
        { $( $field:ident : $ty:ty = $kind:expr, $need:ident, $fzh:literal, $fen:literal, $help:literal; )* }
    )+) => {
        /// A command on an existing request, with its input.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(tag = "command", rename_all = "snake_case")]
        pub enum Command {
            $(
                $(#[$doc])*
                $variant { $( #[doc = $help] #[serde(default)] $field: $ty, )* },
            )+
        }

        /// The commands: filing (`Submit`, which makes a request) and every command on one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandKind {
            Submit,
            $($variant,)+
        }

        impl CommandKind {
            pub const ALL: [CommandKind; 1 + [$($id),+].len()] =
                [CommandKind::Submit, $(CommandKind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    CommandKind::Submit => "submit",
                    $(CommandKind::$variant => $id,)+
                }
            }

            pub fn parse(s: &str) -> Option<CommandKind> {
                CommandKind::ALL.into_iter().find(|c| c.as_str() == s)
            }

            /// The command's name for people.
            pub fn label(self, lang: Lang) -> &'static str {
                match self {
                    CommandKind::Submit => lang.pick("点单", "submit"),
                    $(CommandKind::$variant => lang.pick($zh, $en),)+
                }
            }

            /// The kind of event the command appends.
            pub fn event(self) -> &'static str {
                match self {
                    CommandKind::Submit => "submitted",
                    $(CommandKind::$variant => $ev,)+
                }
            }

            /// The states the command may start from (docs/design/lifecycle.md, "Commands").
            pub fn allowed_from(self) -> &'static [Status] {
                match self {
                    CommandKind::Submit => &[],
                    $(CommandKind::$variant => &[$(Status::$from),*],)+
                }
            }

            /// The command's fields, in the order forms show them.
            pub fn fields(self) -> &'static [FieldSpec] {
                match self {
                    CommandKind::Submit => &[],
                    $(CommandKind::$variant => {
                        const FIELDS: &[FieldSpec] = &[$(FieldSpec {
                            name: stringify!($field),
                            kind: $kind,
                            label_zh: $fzh,
                            label_en: $fen,
                            need: Need::$need,
                            help: $help,
                        }),*];
                        FIELDS
                    })+
                }
            }
        }

        impl Command {
            pub fn kind(&self) -> CommandKind {
                match self {
                    $(Command::$variant { .. } => CommandKind::$variant,)+
                }
            }

            /// The command of `kind` with every field left empty (none for `Submit`).
            pub fn blank(kind: CommandKind) -> Option<Command> {
                match kind {
                    CommandKind::Submit => None,
                    $(CommandKind::$variant => Some(Command::$variant {
                        $($field: Default::default(),)*
                    }),)+
                }
            }

            /// Reads a command of `kind` from a JSON body, a form or any other source, with every
            /// malformed field (none for `Submit`, which has its own input).
            pub fn read(
                kind: CommandKind,
                src: &mut dyn FieldSource,
            ) -> Option<(Command, Vec<FieldError>)> {
                let command = match kind {
                    CommandKind::Submit => return None,
                    $(CommandKind::$variant => Command::$variant {
                        $($field: FromField::from_field(src, &FieldSpec {
                            name: stringify!($field),
                            kind: $kind,
                            label_zh: $fzh,
                            label_en: $fen,
                            need: Need::$need,
                            help: $help,
                        }),)*
                    },)+
                };
                Some((command, src.errors()))
            }
        }

        /// An event kind's name for people (the timeline, notifications, Open311 updates).
        pub fn event_label(kind: &str, lang: Lang) -> &'static str {
            match kind {
                "submitted" => lang.pick("提交诉求（点单）", "Filed"),
                $($ev => lang.pick($ev_zh, $ev_en),)+
                _ => lang.pick("记录", "Event"),
            }
        }
    };
}

use FieldKind::*;

commands! {
    /// 受理: classify the request, and set its tier and handling level.
    Accept = "accept", "受理", "accept";
    event "accepted", "受理", "Accepted";
    from [Submitted];
    {
        category_id: Option<CategoryId> = Category, Required, "类别", "Category",
            "The item of the catalogue (事项).";
        tier: Option<Tier> = Choice(options::<Tier>), Optional, "事项分级", "Tier",
            "Defaults to the category's tier.";
        urgent: Option<bool> = Checkbox, Optional, "紧急", "Urgent",
            "Urgent requests count clock hours, not working time.";
        level: Option<Level> = Choice(options::<Level>), Optional, "办理层级", "Level",
            "Defaults to the tier's first level (or the category's, when the tier is not given).";
        public_summary: Option<String> = Text { max: limits::PUBLIC }, Optional,
            "公示内容（不含姓名、住址、号码）", "Public summary (no names, addresses or numbers)",
            "What the public need list shows instead of the resident's words. Until one is given the public row shows only category, community, status and dates; `GET /api/requests/{id}/public-draft` proposes one.";
    }

    /// 不予受理: refuse the request, with a reason.
    Reject = "reject", "不予受理", "reject";
    event "rejected", "不予受理", "Rejected";
    from [Submitted, Accepted];
    {
        code: Option<RejectCode> = Choice(options::<RejectCode>), Required, "不予受理原因", "Reason",
            "Why the request is not accepted.";
        duplicate_of: Option<RequestId> = RequestNo, Optional, "重复的诉求编号", "Duplicate of request no.",
            "Required when `code` is `duplicate`: the request it repeats.";
        text: Option<String> = Text { max: limits::REASON }, Optional, "说明", "Explanation",
            "Required when `code` is `other`.";
    }

    /// 派单: hand the request to a unit of its level.
    Dispatch = "dispatch", "派单", "dispatch";
    event "dispatched", "派单", "Dispatched";
    from [Accepted];
    {
        unit_id: Option<UnitId> = Unit, Required, "派往单位", "Unit",
            "A unit of the request's level whose area holds the request.";
    }

    /// 退单: the unit hands the request back to whoever dispatched it.
    Return = "return", "退单", "return";
    event "returned", "退单", "Returned";
    from [Dispatched, Claimed];
    {
        reason: Option<String> = Text { max: limits::REASON }, Required, "理由", "Reason",
            "Why the unit cannot handle it.";
    }

    /// 接单: a member of the unit takes the request on.
    Claim = "claim", "接单", "claim";
    event "claimed", "接单", "Claimed";
    from [Dispatched];
    {}

    /// 办理记录: what was done so far.
    Note = "note", "办理记录", "note";
    event "noted", "办理记录", "Note";
    from [Claimed];
    {
        text: Option<String> = Text { max: limits::NOTE }, Required, "办理情况", "What was done",
            "What was done so far.";
        contact_made: Option<bool> = Checkbox, Optional, "已与居民联系", "Contacted the resident",
            "True when the note records contact with the requester (counts as the response).";
    }

    /// 办结: the work is done.
    Resolve = "resolve", "办结", "resolve";
    event "resolved", "办结", "Resolved";
    from [Claimed];
    {
        outcome: Option<AlertOutcome> = Choice(options::<AlertOutcome>), PowerAlertOnly,
            "预警核查结果", "What the check found",
            "For a power alert (channel `power_alert`), what the visit found: required there, refused elsewhere.";
        summary: Option<String> = Text { max: limits::SUMMARY }, Required, "办理结果", "Result",
            "What was done.";
        evidence: Vec<Attachment> = Attachments, Optional, "办理照片", "Evidence",
            "Pictures uploaded before (`POST /api/attachments`).";
        cost_fen: Option<i64> = MoneyFen, Optional, "费用（元，选填）", "Cost (yuan, optional)",
            "Cost in fen (1/100 yuan).";
        public_summary: Option<String> = Text { max: limits::PUBLIC }, Optional,
            "结果公示内容（不含姓名、住址、号码）", "Public summary of the result (no names, addresses or numbers)",
            "What the public result list shows instead of the handler's words; left empty, staff approve one later (`publish`).";
    }

    /// 验单: the party organisation checks the result, and passes it or sends it back.
    Verify = "verify", "验单", "verify";
    event "verified", "验单", "Verified";
    from [Resolved];
    {
        passed: Option<bool> = YesNo, Required, "核验通过", "Passed",
            "Whether the result holds.";
        reason: Option<String> = Text { max: limits::REASON }, Optional,
            "核验说明（不通过时必填）", "Notes (required when it fails)",
            "Required when `passed` is false.";
        reached: Option<bool> = Checkbox, Optional, "回访已联系到居民本人", "The follow-up call reached the resident",
            "Whether the follow-up call or visit (回访) reached the resident.";
    }

    /// 评单: the requester (or staff on a follow-up call) rates the result.
    Rate = "rate", "评单", "rate";
    event "rated", "评单", "Rated";
    from [Verified];
    {
        resolved: Option<bool> = YesNo, Required, "问题解决了吗", "Was it resolved?",
            "Whether the need was met; no reopens the request.";
        satisfaction: Option<Satisfaction> = Choice(options::<Satisfaction>), Required,
            "满意度", "Satisfaction", "How satisfied the requester is; unsatisfied reopens it.";
        comment: Option<String> = Text { max: limits::COMMENT }, Optional,
            "意见（选填）", "Comment (optional)", "Anything the requester adds.";
    }

    /// 销号: close a verified request whose rating window has passed without a rating.
    Close = "close", "销号", "close";
    event "closed", "销号", "Closed";
    from [Verified];
    {}

    /// 上报: send the request one level up.
    Escalate = "escalate", "上报", "escalate";
    event "escalated", "上报", "Escalated";
    from [Accepted, Dispatched, Claimed];
    {
        reason: Option<String> = Text { max: limits::REASON }, Required, "理由", "Reason",
            "Why the level above must handle it.";
    }

    /// 挂账: park the request, with the approval of the level above.
    Suspend = "suspend", "挂账", "suspend";
    event "suspended", "挂账", "Suspended";
    from [Dispatched, Claimed];
    {
        reason: Option<String> = Text { max: limits::REASON }, Required, "挂账理由", "Reason",
            "What the request waits for.";
        approver_id: Option<PersonId> = PersonNo, Required,
            "批准人编号（上一级）", "Approver's person no. (level above)",
            "Staff of the level above who approved.";
    }

    /// 恢复办理: take a suspended request up again.
    Resume = "resume", "恢复办理", "resume";
    event "resumed", "恢复办理", "Resumed";
    from [Suspended];
    {}

    /// 议单: a joint meeting (联席会议) of those concerned settles how a hard request is handled,
    /// and its decision is kept on the request.
    Deliberate = "deliberate", "议单", "deliberate";
    event "deliberated", "议单", "Deliberated";
    from [Accepted, Dispatched, Claimed, Suspended];
    {
        decision: Option<String> = Text { max: limits::SUMMARY }, Required, "议定事项", "What was decided",
            "What the meeting decided: who does what, by when.";
        attendees: Option<String> = Text { max: limits::REASON }, Required, "参会单位", "Who took part",
            "The units and people at the meeting.";
    }

    /// 公示审核: staff write or approve what the public lists show of the need and of the result,
    /// instead of the resident's and the handler's own words.
    Publish = "publish", "公示审核", "publish";
    event "published", "公示审核", "Public summary approved";
    from [Accepted, Dispatched, Claimed, Resolved, Verified, Suspended, Closed];
    {
        need: Option<String> = Text { max: limits::PUBLIC }, Optional,
            "需求公示内容", "Public summary of the need",
            "Replaces the need's public summary. At least one of `need` and `result` is required.";
        result: Option<String> = Text { max: limits::PUBLIC }, Optional,
            "结果公示内容", "Public summary of the result",
            "Replaces the result's public summary; only once the request has been resolved.";
    }

    /// 督办: a supervisor orders the request handled.
    Supervise = "supervise", "督办", "supervise";
    event "supervised", "督办", "Supervised";
    from [Submitted, Accepted, Dispatched, Claimed, Resolved, Verified, Suspended];
    {
        order: Option<String> = Text { max: limits::REASON }, Required, "督办意见", "Supervision order",
            "What must be done, by when.";
    }

    /// 预警更新: an electricity alert's episode goes on (more days) or grows worse; the system adds
    /// it to the episode's one request while that request is still being handled.
    UpdateAlert = "update_alert", "预警更新", "update alert";
    event "alert_updated", "预警更新", "Alert updated";
    from [Submitted, Accepted, Dispatched, Claimed, Suspended];
    {
        text: Option<String> = Text { max: limits::REASON }, Required, "更新内容", "What is new",
            "The episode's days so far and its severity.";
        chart: Vec<Attachment> = Attachments, Optional, "用电曲线", "Chart",
            "The episode's chart redrawn with its new days (uploaded before).";
    }
}
