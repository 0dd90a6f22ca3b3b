//! One request's page: its timeline, and a form for each command the viewer may run now, built from the commands' declaration.

use super::*;

/// A form for one command on the request page.
pub struct ActionForm {
    pub command: &'static str,
    pub label: String,
    pub fields: Vec<Field>,
    /// Shown open (it was just refused).
    pub open: bool,
    pub error: String,
    /// The primary action of this page for this person (drawn prominently).
    pub primary: bool,
}

/// One entry of the timeline as shown.
pub struct TimelineEntry {
    pub at: String,
    pub label: &'static str,
    pub who: String,
    pub detail: String,
    pub kind: &'static str,
}

#[derive(Template)]
#[template(path = "request.html")]
pub struct RequestPage {
    pub c: Ctx,
    pub r: Request,
    pub row: Row,
    pub address: String,
    pub tier: String,
    pub rating: String,
    pub photos: Vec<(String, String)>,
    pub timeline: Vec<TimelineEntry>,
    pub actions: Vec<ActionForm>,
    pub own: bool,
    /// The requester's name and phone, for those in charge of the request.
    pub contact: String,
}

pub(crate) fn yes_no(b: bool, lang: Lang) -> &'static str {
    if b {
        lang.pick("是", "yes")
    } else {
        lang.pick("否", "no")
    }
}

pub(crate) fn entry(dir: &Directory, e: &Event, lang: Lang) -> TimelineEntry {
    let who = match (e.actor.person_id, e.actor.role) {
        (None, _) => lang.pick("系统", "system").to_string(),
        (Some(_), Some(role)) => role.label(lang).to_string(),
        (Some(_), None) => String::new(),
    };
    let detail = match &e.body {
        EventBody::Submitted { description, .. } => description.clone(),
        EventBody::Accepted {
            category_id,
            tier,
            urgent,
            level,
            public_summary,
        } => {
            let mut s = format!(
                "{} · {} · {}",
                category_name(dir, Some(*category_id), lang),
                tier.label(lang),
                level.label(lang)
            );
            if *urgent {
                s.push_str(lang.pick(" · 紧急", " · urgent"));
            }
            if let Some(p) = public_summary {
                s.push_str(&format!(" · {}{p}", lang.pick("公示：", "public: ")));
            }
            s
        }
        EventBody::Rejected {
            code,
            duplicate_of,
            text,
        } => {
            let mut s = code.label(lang).to_string();
            if let Some(d) = duplicate_of {
                s.push_str(&format!(" #{d}"));
            }
            if let Some(t) = text {
                s.push_str(&format!("：{t}"));
            }
            s
        }
        EventBody::Dispatched { unit_id, .. } => unit_name(dir, Some(*unit_id)),
        EventBody::Returned { reason } => reason.clone(),
        EventBody::Claimed { .. } => String::new(),
        EventBody::Noted { text, contact_made } => {
            if *contact_made {
                format!(
                    "{text}（{}）",
                    lang.pick("已联系居民", "resident contacted")
                )
            } else {
                text.clone()
            }
        }
        EventBody::Deliberated {
            decision,
            attendees,
        } => format!(
            "{decision}（{}{attendees}）",
            lang.pick("参会：", "present: ")
        ),
        EventBody::Resolved {
            summary,
            cost_fen,
            outcome,
            ..
        } => match (cost_fen, outcome) {
            (_, Some(o)) => format!(
                "{}：{} · {summary}",
                lang.pick("预警核查", "alert check"),
                o.label(lang)
            ),
            (Some(f), None) => format!(
                "{summary}（{} {:.2} {}）",
                lang.pick("费用", "cost"),
                *f as f64 / 100.0,
                lang.pick("元", "yuan")
            ),
            (None, None) => summary.clone(),
        },
        EventBody::Verified {
            passed,
            reason,
            reached,
        } => {
            let s = if *passed {
                lang.pick("核验通过", "passed")
            } else {
                lang.pick("核验未通过，返工", "failed; back for rework")
            };
            let call = match reached {
                Some(true) => lang.pick(
                    "（回访已联系到本人）",
                    " (the follow-up call reached the resident)",
                ),
                Some(false) => lang.pick(
                    "（回访未联系到本人）",
                    " (the follow-up call did not reach the resident)",
                ),
                None => "",
            };
            match reason {
                Some(r) => format!("{s}{call}：{r}"),
                None => format!("{s}{call}"),
            }
        }
        EventBody::Rated {
            resolved,
            satisfaction,
            comment,
            ..
        } => {
            let mut s = format!(
                "{}{} · {}",
                lang.pick("问题解决：", "resolved: "),
                yes_no(*resolved, lang),
                satisfaction.label(lang)
            );
            if let Some(cm) = comment {
                s.push_str(&format!(" · {cm}"));
            }
            s
        }
        EventBody::Closed {} => String::new(),
        EventBody::Escalated {
            from, to, reason, ..
        } => format!("{} → {}：{reason}", from.label(lang), to.label(lang)),
        EventBody::Suspended { reason, .. } => reason.clone(),
        EventBody::Resumed { .. } => String::new(),
        EventBody::Supervised { order, .. } => order.clone(),
        EventBody::AlertUpdated { text, .. } => text.clone(),
        EventBody::Published { need, result } => [
            need.as_ref()
                .map(|t| format!("{}{t}", lang.pick("需求：", "need: "))),
            result
                .as_ref()
                .map(|t| format!("{}{t}", lang.pick("结果：", "result: "))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · "),
    };
    TimelineEntry {
        at: crate::ui::local_time(&e.at),
        label: event_label(e.body.kind(), lang),
        who,
        detail,
        kind: e.body.kind(),
    }
}

/// The commands `actor` may run on `r` now: exactly those the core would accept once their form is
/// filled in. Each is decided in a dry run (nothing is stored) with the service's settings and
/// deadline policy at `at`, with its fields left empty: a refusal about the fields only means
/// "fill in the form"; any other refusal (the role, the scope, the state, the handler verifying
/// their own work, the rating window still open, no level above to escalate to) means the action
/// is not offered.
pub fn allowed_commands(
    state: &AppState,
    dir: &Directory,
    actor: &Actor,
    r: &Request,
    at: DateTime<Utc>,
) -> Vec<CommandKind> {
    let facts = Facts::default();
    let ctx = DecideCtx {
        dir,
        now: at,
        settings: state.service.settings(),
        facts: &facts,
        deadlines: state.service.deadline_policy().map(|p| p.as_ref()),
    };
    CommandKind::ALL
        .into_iter()
        .filter(|k| {
            Command::blank(*k).is_some_and(|cmd| {
                matches!(
                    decide(r, actor, &cmd, vec![], &ctx),
                    Ok(_) | Err(CoreError::Validation(_))
                )
            })
        })
        .collect()
}

/// The values a command's form starts with: the public summaries' drafts (or the ones approved).
fn prefill(kind: CommandKind, drafts: Option<&PublicDraft>) -> HashMap<String, String> {
    let mut values = HashMap::new();
    let Some(d) = drafts else { return values };
    match kind {
        CommandKind::Accept => {
            values.insert("public_summary".into(), d.need.clone());
        }
        CommandKind::Publish => {
            let need = d.approved_need.clone().unwrap_or_else(|| d.need.clone());
            values.insert("need".into(), need);
            if let Some(result) = d.approved_result.clone().or_else(|| d.result.clone()) {
                values.insert("result".into(), result);
            }
        }
        _ => {}
    }
    values
}

/// The form of one command, with the values typed and the errors of a refused attempt.
pub(crate) fn action_form(
    c: &Ctx,
    dir: &Directory,
    r: &Request,
    kind: CommandKind,
    values: &HashMap<String, String>,
    errors: Option<&Errors>,
) -> ActionForm {
    let lang = c.lang;
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut fields: Vec<Field> = kind
        .fields()
        .iter()
        .filter(|f| f.need != Need::PowerAlertOnly || r.channel == Channel::PowerAlert)
        // Evidence pictures are uploaded through the API; the page's form has none.
        .filter(|f| !matches!(f.kind, FieldKind::Attachments))
        .map(|f| form_field(c, dir, r, f, values))
        .collect();
    for f in &mut fields {
        if f.value.is_empty() {
            f.value = v(f.name);
        }
        if let Some(e) = errors {
            f.error = e.of(f.name).to_string();
        }
    }
    let primary = matches!(
        (kind, r.status),
        (CommandKind::Accept, Status::Submitted)
            | (CommandKind::Dispatch, Status::Accepted)
            | (CommandKind::Claim, Status::Dispatched)
            | (CommandKind::Resolve, Status::Claimed)
            | (CommandKind::Verify, Status::Resolved)
            | (CommandKind::Rate, Status::Verified)
    );
    ActionForm {
        command: kind.as_str(),
        label: kind.label(lang).to_string(),
        fields,
        open: errors.is_some(),
        error: errors.and_then(|e| e.general.clone()).unwrap_or_default(),
        primary,
    }
}

/// The form field for one declared field of a command.
pub(crate) fn form_field(
    c: &Ctx,
    dir: &Directory,
    r: &Request,
    spec: &FieldSpec,
    values: &HashMap<String, String>,
) -> Field {
    let lang = c.lang;
    let label = spec.label(lang);
    let required = spec.need != Need::Optional;
    let blank = if required {
        c.t("— 请选择 —", "— choose —")
    } else {
        c.t("— 默认 —", "— default —")
    };
    let field = match spec.kind {
        FieldKind::Text { .. } => Field::new(spec.name, label, "textarea"),
        FieldKind::Checkbox => Field::new(spec.name, label, "checkbox"),
        FieldKind::RequestNo | FieldKind::PersonNo => Field::new(spec.name, label, "number"),
        FieldKind::MoneyFen | FieldKind::Attachments => Field::new(spec.name, label, "text"),
        FieldKind::YesNo => Field::new(spec.name, label, "select").options(vec![
            (String::new(), blank.to_string()),
            ("true".to_string(), c.t("是", "yes").to_string()),
            ("false".to_string(), c.t("否", "no").to_string()),
        ]),
        FieldKind::Choice(options) => Field::new(spec.name, label, "select").options(
            std::iter::once((String::new(), blank.to_string()))
                .chain(
                    options(lang)
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), name.to_string())),
                )
                .collect(),
        ),
        FieldKind::Category => {
            let mut cat = Field::new(spec.name, label, "select");
            cat.groups.push(first_option(blank));
            cat.groups.extend(category_groups(dir, lang));
            // The category the resident suggested, until staff choose another.
            cat.value = values
                .get(spec.name)
                .cloned()
                .or_else(|| r.category_id.map(|c| c.0.to_string()))
                .unwrap_or_default();
            cat
        }
        FieldKind::Unit => unit_field(c, dir, Some(r), label),
    };
    if required { field.required() } else { field }
}

/// A posted form as the source of a declared command's fields (the same fields as the JSON API).
pub(crate) struct FormSource<'a> {
    pub(crate) form: &'a FormData,
    pub(crate) errors: Vec<FieldError>,
}

impl FieldSource for FormSource<'_> {
    fn text(&mut self, name: &'static str) -> Option<String> {
        self.form.text(name)
    }

    fn flag(&mut self, name: &'static str, checkbox: bool) -> Option<bool> {
        let value = match self.form.text(name).as_deref() {
            Some("true" | "on" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            _ => None,
        };
        // An unticked checkbox is not sent at all: it means "no".
        if checkbox {
            Some(value.unwrap_or(false))
        } else {
            value
        }
    }

    fn number(&mut self, name: &'static str) -> Option<i64> {
        self.form.number(name, &mut self.errors)
    }

    /// Forms take yuan (up to two decimals); the command carries fen.
    fn money_fen(&mut self, name: &'static str) -> Option<i64> {
        let v = self.form.text(name)?;
        match v.parse::<f64>() {
            Ok(y) if y.is_finite() && (0.0..1e10).contains(&y) => Some((y * 100.0).round() as i64),
            _ => {
                self.errors.push(FieldError::new(name, "invalid"));
                None
            }
        }
    }

    fn word(&mut self, name: &'static str, known: &dyn Fn(&str) -> bool) -> Option<String> {
        let v = self.form.text(name)?;
        if known(&v) {
            Some(v)
        } else {
            self.errors.push(FieldError::new(name, "invalid"));
            None
        }
    }

    fn attachments(&mut self, _name: &'static str) -> Vec<Attachment> {
        Vec::new()
    }

    fn errors(&mut self) -> Vec<FieldError> {
        std::mem::take(&mut self.errors)
    }
}

pub(crate) async fn request_page(
    state: &AppState,
    c: Ctx,
    id: RequestId,
    failed: Option<(CommandKind, HashMap<String, String>, Errors)>,
) -> PageResult {
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let viewed = state
        .service
        .view(&actor, id, "page")
        .await
        .map_err(|e| PageError::store(e, c.lang, &c.here))?;
    let (r, events) = (viewed.request, viewed.events);
    // Those in charge see whom to reach (their view is in the access log).
    let contact = viewed
        .requester
        .filter(|_| c.person.as_ref().map(|p| p.id) != r.requester_id)
        .map(|k| match k.phone {
            Some(phone) => format!("{} · {phone}", k.name),
            None => k.name,
        })
        .unwrap_or_default();
    let dir = state.service.directory();
    let lang = c.lang;
    let own = c.person.as_ref().map(|p| p.id) == r.requester_id && r.requester_id.is_some();
    let allowed = allowed_commands(state, &dir, &actor, &r, now());
    // The public summaries come prefilled with the automatic draft, for staff to correct and approve.
    let drafts = if allowed
        .iter()
        .any(|k| matches!(k, CommandKind::Accept | CommandKind::Publish))
    {
        state.service.public_draft(&actor, id).await.ok()
    } else {
        None
    };
    let mut actions: Vec<ActionForm> = allowed
        .into_iter()
        .map(|k| match &failed {
            Some((fk, values, errors)) if *fk == k => {
                action_form(&c, &dir, &r, k, values, Some(errors))
            }
            _ => action_form(&c, &dir, &r, k, &prefill(k, drafts.as_ref()), None),
        })
        .collect();
    // A refused command that is no longer allowed (the state moved on) still shows why.
    if let Some((fk, values, errors)) = &failed
        && !actions.iter().any(|a| a.command == fk.as_str())
    {
        let mut f = action_form(&c, &dir, &r, *fk, values, Some(errors));
        f.fields.clear();
        actions.insert(0, f);
    }
    actions.sort_by_key(|a| !a.primary);
    let row = row(&dir, &r, now(), lang);
    let tier = r
        .tier
        .map(|t| t.label(lang).to_string())
        .unwrap_or_default();
    let rating = r
        .rating
        .as_ref()
        .map(|x| {
            format!(
                "{}{} · {}",
                lang.pick("问题解决：", "resolved: "),
                yes_no(x.resolved, lang),
                x.satisfaction.label(lang)
            )
        })
        .unwrap_or_default();
    let mut photos: Vec<(String, String)> = r
        .attachments
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    for e in &events {
        match &e.body {
            EventBody::Resolved { evidence, .. } => {
                photos.extend(evidence.iter().map(|a| (a.id.clone(), a.name.clone())));
            }
            EventBody::AlertUpdated { chart, .. } => {
                photos.extend(chart.iter().map(|a| (a.id.clone(), a.name.clone())));
            }
            _ => {}
        }
    }
    let timeline = events.iter().map(|e| entry(&dir, e, lang)).collect();
    let address = r.location.address.clone().unwrap_or_default();
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut res = render(&RequestPage {
        c,
        r,
        row,
        address,
        tier,
        rating,
        photos,
        timeline,
        actions,
        own,
        contact,
    });
    *res.status_mut() = status;
    Ok(res)
}

pub(crate) fn parse_id(raw: &str, lang: Lang) -> Result<RequestId, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(RequestId)
        .ok_or_else(|| PageError::not_found(lang))
}

/// `GET /requests/{id}`: the request, its timeline, and the actions I may take now.
pub async fn page(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id, c.lang)?;
    request_page(&state, c, id, None).await
}

/// `POST /requests/{id}/{command}`: runs one command from its form. Success goes back to the page
/// (or to `back`, e.g. the red list); a refusal shows the page again with the form open, what was
/// typed, and each error next to its field.
pub async fn command_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, name)): Path<(String, String)>,
    PageForm(form): PageForm,
) -> PageResult {
    let id = parse_id(&id, crate::ui::page_lang(&headers))?;
    // The page the form was on: a list it came from, or the request's page (never this post-only
    // address), for logging in again and for the language switch.
    let back = form
        .get("back")
        .filter(|b| *b == "/redlist" || *b == "/verify" || *b == "/queue")
        .map(str::to_string)
        .unwrap_or_else(|| format!("/requests/{id}"));
    let c = ctx_login_at(&state, &headers, &uri, back.clone()).await?;
    let lang = c.lang;
    form.check_csrf(&c)?;
    let kind = CommandKind::parse(&name)
        .filter(|k| *k != CommandKind::Submit)
        .ok_or_else(|| PageError::not_found(lang))?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let mut source = FormSource {
        form: &form,
        errors: Vec::new(),
    };
    let (cmd, invalid) =
        Command::read(kind, &mut source).ok_or_else(|| PageError::not_found(lang))?;
    match state.service.run(id, &actor, &cmd, invalid, now()).await {
        Ok(_) => Ok(see_other(&format!("{back}?done={}", kind.as_str()))),
        Err(StoreError::Core(e)) => {
            if matches!(e, CoreError::NotFound { .. }) {
                return Err(PageError::core(&e, lang, &c.here));
            }
            let errors = Errors::from_core(&e, lang);
            let page_c = crate::ui::Ctx {
                here: format!("/requests/{id}"),
                ..c
            };
            request_page(&state, page_c, id, Some((kind, form.values(), errors))).await
        }
        Err(e) => Err(PageError::store(e, lang, &c.here)),
    }
}
