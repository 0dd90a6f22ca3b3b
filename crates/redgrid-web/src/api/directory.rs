//! Read endpoints for areas, units and the catalogue (public: they hold no personal data), the
//! catalogue's administration, the caller's own record, and attachments.

use crate::AppState;
use crate::auth::actor;
use crate::body::{AdminJson, Reader, parse_json};
use crate::error::{ApiError, lang_of};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redgrid_core::area::{Area, Level};
use redgrid_core::catalogue::{CategoryClass, CategoryItem, Tier};
use redgrid_core::deadline::Limit;
use redgrid_core::error::{CoreError, Entity, Lang};
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Person};
use redgrid_core::unit::Unit;
use redgrid_store::{ItemFields, NewClass};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

fn not_found(entity: Entity, raw: &str, lang: Lang) -> ApiError {
    ApiError::core(
        &CoreError::NotFound {
            entity,
            id: raw.parse().unwrap_or(0),
        },
        lang,
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AreaQuery {
    /// Only the children of this area.
    pub parent_id: Option<i64>,
    /// Only areas of this kind.
    pub kind: Option<String>,
}

/// `GET /api/areas`: the area tree as a flat list, by code.
#[utoipa::path(get, path = "/api/areas", tag = "directory", params(AreaQuery), responses((status = 200, body = Vec<Area>)))]
pub async fn areas(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AreaQuery>,
) -> Json<Vec<Area>> {
    let dir = state.service.directory();
    let kind = q.kind.as_deref().and_then(Level::parse);
    let mut list: Vec<Area> = dir
        .areas()
        .filter(|a| q.parent_id.is_none_or(|p| a.parent_id == Some(AreaId(p))))
        .filter(|a| kind.is_none_or(|k| a.kind == k))
        .cloned()
        .collect();
    list.sort_by(|a, b| a.code.cmp(&b.code));
    Json(list)
}

/// An area with the path down to it and its children.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AreaDetail {
    pub area: Area,
    /// From the district down to the area's parent.
    pub path: Vec<Area>,
    pub children: Vec<Area>,
}

/// `GET /api/areas/{id}`.
#[utoipa::path(get, path = "/api/areas/{id}", tag = "directory", params(("id" = i64, Path)),
    responses((status = 200, body = AreaDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn area(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Json<AreaDetail>, ApiError> {
    let dir = state.service.directory();
    let id = raw.parse::<i64>().ok().map(AreaId);
    let area = id
        .and_then(|id| dir.area(id))
        .ok_or_else(|| not_found(Entity::Area, &raw, lang_of(&headers)))?;
    let mut path: Vec<Area> = dir
        .ancestors(area.id)
        .into_iter()
        .skip(1)
        .cloned()
        .collect();
    path.reverse();
    let mut children: Vec<Area> = dir
        .areas()
        .filter(|a| a.parent_id == Some(area.id))
        .cloned()
        .collect();
    children.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(AreaDetail {
        area: area.clone(),
        path,
        children,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// Only units attached to this area.
    pub area_id: Option<i64>,
    /// Only units handling at this level.
    pub level: Option<String>,
}

/// `GET /api/units`.
#[utoipa::path(get, path = "/api/units", tag = "directory", params(UnitQuery), responses((status = 200, body = Vec<Unit>)))]
pub async fn units(
    State(state): State<Arc<AppState>>,
    Query(q): Query<UnitQuery>,
) -> Json<Vec<Unit>> {
    let dir = state.service.directory();
    let level = q.level.as_deref().and_then(Level::parse);
    let mut list: Vec<Unit> = dir
        .units()
        .filter(|u| q.area_id.is_none_or(|a| u.area_id == AreaId(a)))
        .filter(|u| level.is_none_or(|l| u.level == l))
        .cloned()
        .collect();
    list.sort_by_key(|u| u.id);
    Json(list)
}

/// `GET /api/units/{id}`.
#[utoipa::path(get, path = "/api/units/{id}", tag = "directory", params(("id" = i64, Path)),
    responses((status = 200, body = Unit), (status = 404, body = crate::error::ErrorBody)))]
pub async fn unit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Json<Unit>, ApiError> {
    let dir = state.service.directory();
    raw.parse::<i64>()
        .ok()
        .and_then(|id| dir.unit(UnitId(id)))
        .cloned()
        .map(Json)
        .ok_or_else(|| not_found(Entity::Unit, &raw, lang_of(&headers)))
}

/// A catalogue class with its items.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClassWithItems {
    #[serde(flatten)]
    pub class: CategoryClass,
    pub items: Vec<CategoryItem>,
}

/// `GET /api/categories`: the catalogue, class by class.
#[utoipa::path(get, path = "/api/categories", tag = "directory", responses((status = 200, body = Vec<ClassWithItems>)))]
pub async fn categories(State(state): State<Arc<AppState>>) -> Json<Vec<ClassWithItems>> {
    let dir = state.service.directory();
    let items = dir.items();
    Json(
        dir.classes()
            .iter()
            .map(|c| ClassWithItems {
                class: c.clone(),
                items: items
                    .iter()
                    .filter(|i| i.class_id == c.id)
                    .map(|i| (*i).clone())
                    .collect(),
            })
            .collect(),
    )
}

/// The body of `POST /api/categories/classes`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ClassBody {
    #[schema(pattern = "^[a-z0-9_.-]{1,48}$")]
    code: String,
    #[schema(min_length = 1, pattern = r"\S")]
    name_zh: String,
    #[schema(min_length = 1, pattern = r"\S")]
    name_en: String,
    sort: Option<i32>,
}

/// `POST /api/categories/classes` (district administrators).
#[utoipa::path(post, path = "/api/categories/classes", tag = "directory", request_body = ClassBody,
    responses((status = 201, body = CategoryClass), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_class(
    State(state): State<Arc<AppState>>,
    AdminJson { who, json, .. }: AdminJson,
) -> Result<Response, ApiError> {
    let mut r = Reader::new(&json);
    let new = NewClass {
        code: r.string("code").unwrap_or_default(),
        name_zh: r.string("name_zh").unwrap_or_default(),
        name_en: r.string("name_en").unwrap_or_default(),
        sort: r.i32("sort").unwrap_or(0),
    };
    r.done()?;
    let class = state.service.create_class(&who, new).await?;
    Ok((StatusCode::CREATED, Json(class)).into_response())
}

/// The body of `POST /api/categories/items` and `PATCH /api/categories/items/{id}` (on PATCH every
/// field is optional and keeps its value when absent).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ItemBody {
    class_id: i64,
    #[schema(pattern = "^[a-z0-9_.-]{1,48}$")]
    code: String,
    #[schema(min_length = 1, pattern = r"\S")]
    name_zh: String,
    #[schema(min_length = 1, pattern = r"\S")]
    name_en: String,
    default_tier: Tier,
    /// Defaults to the tier's first level.
    default_level: Option<Level>,
    /// The item's own response limit instead of the tier's: `4h` working hours, `1d` working day,
    /// `2ch` clock hours; null clears it.
    #[schema(value_type = Option<String>, example = "4h")]
    respond_limit: Option<String>,
    /// The item's own resolution limit (same form); null clears it.
    #[schema(value_type = Option<String>, example = "3d")]
    resolve_limit: Option<String>,
    active: Option<bool>,
    sort: Option<i32>,
}

fn read_item(
    json: &serde_json::Value,
    base: Option<&CategoryItem>,
) -> (ItemFields, Vec<redgrid_core::error::FieldError>) {
    let mut r = Reader::new(json);
    let class_id = r.id("class_id").or(base.map(|b| b.class_id));
    let code = r.string("code").or(base.map(|b| b.code.clone()));
    let name_zh = r.string("name_zh").or(base.map(|b| b.name_zh.clone()));
    let name_en = r.string("name_en").or(base.map(|b| b.name_en.clone()));
    let tier = r
        .choice("default_tier", Tier::parse)
        .or(base.map(|b| b.default_tier));
    let level = r
        .choice("default_level", Level::parse)
        .or(base.map(|b| b.default_level));
    let respond_limit = r
        .nullable_choice("respond_limit", Limit::parse)
        .unwrap_or(base.and_then(|b| b.respond_limit));
    let resolve_limit = r
        .nullable_choice("resolve_limit", Limit::parse)
        .unwrap_or(base.and_then(|b| b.resolve_limit));
    let active = r.bool("active").or(base.map(|b| b.active)).unwrap_or(true);
    let sort = r.i32("sort").or(base.map(|b| b.sort)).unwrap_or(0);
    // A value that could not be read is reported as wrong, and not also as missing.
    r.require("class_id", class_id.is_some());
    r.require("default_tier", tier.is_some());
    let errors = r.finish();
    let tier = tier.unwrap_or(Tier::Minor);
    (
        ItemFields {
            class_id: class_id.unwrap_or(ClassId(0)),
            code: code.unwrap_or_default(),
            name_zh: name_zh.unwrap_or_default(),
            name_en: name_en.unwrap_or_default(),
            default_tier: tier,
            default_level: level.unwrap_or(tier.default_level()),
            respond_limit,
            resolve_limit,
            active,
            sort,
        },
        errors,
    )
}

/// `POST /api/categories/items` (district administrators).
#[utoipa::path(post, path = "/api/categories/items", tag = "directory", request_body = ItemBody,
    responses((status = 201, body = CategoryItem), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_item(
    State(state): State<Arc<AppState>>,
    AdminJson { who, json, lang }: AdminJson,
) -> Result<Response, ApiError> {
    let (fields, invalid) = read_item(&json, None);
    if !invalid.is_empty() {
        return Err(ApiError::core(&CoreError::Validation(invalid), lang));
    }
    let item = state.service.create_item(&who, fields).await?;
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

/// `PATCH /api/categories/items/{id}` (district administrators).
#[utoipa::path(patch, path = "/api/categories/items/{id}", tag = "directory", params(("id" = i64, Path)), request_body = ItemBody,
    responses((status = 200, body = CategoryItem), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Another item has that code"), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_item(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CategoryItem>, ApiError> {
    let lang = lang_of(&headers);
    let who = crate::auth::admin_actor(&state, &headers).await?;
    let dir = state.service.directory();
    let id = raw.parse::<i64>().ok().map(CategoryId);
    let base = id
        .and_then(|id| dir.item(id))
        .ok_or_else(|| not_found(Entity::Category, &raw, lang))?;
    let json = parse_json(&headers, body)?;
    let (fields, invalid) = read_item(&json, Some(base));
    if !invalid.is_empty() {
        return Err(ApiError::core(&CoreError::Validation(invalid), lang));
    }
    let item = state.service.update_item(&who, base.id, fields).await?;
    Ok(Json(item))
}

/// `GET /api/me`: the calling person and their roles.
#[utoipa::path(get, path = "/api/me", tag = "directory", responses((status = 200, body = Person), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Person>, ApiError> {
    match crate::auth::actor_before_password_change(&state, &headers).await? {
        Actor::Person(p) => Ok(Json(p)),
        Actor::System => Err(ApiError::not_found_route(lang_of(&headers))),
    }
}

/// The largest attachment accepted.
pub const MAX_ATTACHMENT: usize = 10 * 1024 * 1024;

/// What an upload stored.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachmentInfo {
    /// Use this id in `attachments` or `evidence`.
    pub id: String,
    pub content_type: String,
    pub size: i64,
}

/// `POST /api/attachments`: upload a photo or document (raw body; `Content-Type` says what it is).
#[utoipa::path(post, path = "/api/attachments", tag = "requests", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentInfo), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let body = body.map_err(|_| {
        ApiError::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            lang.pick("文件超过 10 MB", "the file is larger than 10 MB"),
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let meta = state
        .service
        .upload(&who, content_type, &body)
        .await
        .map_err(|e| ApiError::store(e, lang))?;
    Ok((
        StatusCode::CREATED,
        Json(AttachmentInfo {
            id: meta.id,
            content_type: meta.content_type,
            size: meta.size,
        }),
    )
        .into_response())
}

/// `GET /api/attachments/{id}`: for people who may see a request that carries the file; 404 for
/// everyone else (and for files not attached to any request).
#[utoipa::path(get, path = "/api/attachments/{id}", tag = "requests", params(("id" = String, Path)),
    responses((status = 200, description = "The file"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    // Only people who may see a request that carries the file.
    let may = state.service.may_see_attachment(&who, &id).await?;
    let found = if may {
        state.service.store().attachment(&id).await?
    } else {
        None
    };
    let (meta, data) = found.ok_or_else(|| {
        ApiError::plain(
            StatusCode::NOT_FOUND,
            "attachment_not_found",
            lang.pick("附件不存在", "no such attachment"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, meta.content_type)], data).into_response())
}
