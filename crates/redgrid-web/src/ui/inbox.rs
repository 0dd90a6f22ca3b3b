//! The inbox (消息): every person's notifications, newest first, with the unread count the header
//! shows; opening one marks it read and goes to its request. Each kind can also go by SMS.

use super::{Ctx, LoggedIn, PageError, PageForm, PageResult, render, see_other};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use redgrid_app::service::now;
use redgrid_core::notify::NoticeKind;
use std::sync::Arc;

/// One message as the inbox lists it.
pub struct Item {
    pub id: i64,
    pub title: String,
    pub request_id: i64,
    pub at: String,
    pub read: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    c: Ctx,
    items: Vec<Item>,
    /// `(kind, label, chosen)` for the SMS choices.
    kinds: Vec<(&'static str, &'static str, bool)>,
    has_phone: bool,
}

/// `GET /inbox`: the latest 100 messages.
pub async fn page(State(state): State<Arc<AppState>>, LoggedIn(c): LoggedIn) -> PageResult {
    let lang = c.lang;
    let me = c.me()?;
    let store = state.service.store();
    let fail = |e| PageError::store(e, lang, "/inbox");
    let list = store.messages_for(me.id, 100).await.map_err(fail)?;
    let chosen = store.sms_choices(me.id).await.map_err(fail)?;
    let title_key = lang.pick("title_zh", "title_en");
    let items = list
        .into_iter()
        .map(|m| {
            let payload: serde_json::Value = serde_json::from_str(&m.payload).unwrap_or_default();
            let title = payload[title_key]
                .as_str()
                .map(str::to_string)
                .or_else(|| NoticeKind::parse(&m.kind).map(|k| k.title(lang).to_string()))
                .unwrap_or_else(|| m.kind.clone());
            Item {
                id: m.id,
                title,
                request_id: m.request_id.0,
                at: super::local_time(&m.created_at),
                read: m.read_at.is_some(),
            }
        })
        .collect();
    let kinds = NoticeKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str(),
                k.title(lang),
                chosen.iter().any(|c| c == k.as_str()),
            )
        })
        .collect();
    Ok(render(&InboxPage {
        c,
        items,
        kinds,
        has_phone: me.phone.is_some(),
    }))
}

/// `GET /inbox/{id}`: marks the message read and goes to its request.
pub async fn open(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    Path(id): Path<i64>,
) -> PageResult {
    let lang = c.lang;
    let me = c.me()?;
    let store = state.service.store();
    let list = store
        .messages_for(me.id, 1000)
        .await
        .map_err(|e| PageError::store(e, lang, "/inbox"))?;
    let Some(m) = list.into_iter().find(|m| m.id == id) else {
        return Err(PageError::not_found(lang));
    };
    store
        .mark_read(me.id, Some(id), now())
        .await
        .map_err(|e| PageError::store(e, lang, "/inbox"))?;
    Ok(see_other(&format!("/requests/{}", m.request_id.0)))
}

/// `POST /inbox/read`: marks every message read.
pub async fn read_all(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let (c, _) = super::posted(&state, &headers, &uri, &form, "/inbox").await?;
    let me = c.me()?;
    state
        .service
        .store()
        .mark_read(me.id, None, now())
        .await
        .map_err(|e| PageError::store(e, c.lang, "/inbox"))?;
    Ok(see_other("/inbox"))
}

/// `POST /inbox/sms` (`kind` repeated): the kinds also sent by SMS.
pub async fn sms_choices(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    PageForm(form): PageForm,
) -> PageResult {
    let (c, _) = super::posted(&state, &headers, &uri, &form, "/inbox").await?;
    let me = c.me()?;
    let kinds: Vec<String> = form
        .pairs
        .iter()
        .filter(|(k, _)| k == "kind")
        .filter_map(|(_, v)| NoticeKind::parse(v).map(|k| k.as_str().to_string()))
        .collect();
    state
        .service
        .store()
        .set_sms_choices(me.id, &kinds)
        .await
        .map_err(|e| PageError::store(e, c.lang, "/inbox"))?;
    Ok(see_other("/inbox?done=saved"))
}
