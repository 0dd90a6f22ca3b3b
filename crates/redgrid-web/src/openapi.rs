//! The OpenAPI document, served at `/api/openapi.json`. The endpoints are documented on their
//! handlers; the commands of the lifecycle (`POST /api/requests/{id}/{command}`, one handler) are
//! documented from their one declaration in `redgrid_core::command`, like the forms that run them.

use crate::api::{accounts, directory, public, requests, scorecard};
use crate::error::ErrorBody;
use redgrid_core::command::{CommandKind, FieldKind, FieldSpec, Need};
use redgrid_core::error::Lang;
use redgrid_core::request::Attachment;
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};

#[derive(OpenApi)]
#[openapi(
    info(title = "redgrid API", description = "红网格: the demand-to-closure chain of party-building-led grassroots governance. \
        Errors are `{code, message}` with the message in zh-CN or English by Accept-Language. \
        Authenticate with `Authorization: Bearer <token>` (an API token), or log in at `/api/login` for a \
        session cookie and send its `csrf_token` as `X-CSRF-Token` with every change."),
    paths(
        requests::submit, requests::list, requests::get, requests::reveal, requests::public_draft, public::list,
        directory::areas, directory::area, directory::units, directory::unit, directory::categories,
        directory::create_class, directory::create_item, directory::update_item, directory::me,
        directory::upload, directory::download,
        scorecard::scorecard, scorecard::messages, scorecard::mark_read,
        accounts::login, accounts::logout, accounts::change_password, accounts::set_account,
        accounts::create_token, accounts::tokens, accounts::revoke_token,
        crate::api::grants::grant, crate::api::grants::revoke,
        accounts::signup_code, accounts::signup, accounts::set_home, accounts::sms_status,
        accounts::access_log, accounts::erase_person,
        crate::api::org::import, crate::api::org::template, crate::api::org::export,
        crate::api::org::campaign_stats, crate::api::org::create_alliance, crate::api::org::update_alliance,
        crate::api::org::end_alliance, crate::api::org::record_activity, crate::api::org::suggestion_to_request,
        crate::api::org::export_activities, crate::api::org::export_alliances,
    ),
    components(schemas(requests::CommandResult, ErrorBody, Attachment)),
    tags((name = "requests", description = "点单 and the request ledger"),
         (name = "commands", description = "Every command of the lifecycle"),
         (name = "directory", description = "Areas, units, the catalogue, people"),
         (name = "accounts", description = "Logging in, passwords, API tokens, and granting roles"),
         (name = "public", description = "The public need, result and rectification lists (no login; personal data masked)"),
         (name = "organisation", description = "Party organisations, members, pairings, alliances, activities and campaign statistics; Excel import and export"),
         (name = "scorecard", description = "三率: response, resolution, satisfaction, on-time and rework rates")),
)]
pub struct ApiDoc;

/// The whole document: the handlers' own, and every declared command.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    for kind in CommandKind::ALL
        .into_iter()
        .filter(|k| *k != CommandKind::Submit)
    {
        let name = body_name(kind);
        components
            .schemas
            .insert(name.clone(), command_body(kind).into());
        doc.paths.add_path_operation(
            format!("/api/requests/{{id}}/{}", kind.as_str()),
            vec![HttpMethod::Post],
            command_operation(kind, &name),
        );
    }
    close_request_bodies(&mut doc);
    upload_types(&mut doc);
    add_common_errors(&mut doc);
    doc
}

/// `POST /api/attachments` takes the file itself, of one of the kinds the service accepts.
fn upload_types(doc: &mut utoipa::openapi::OpenApi) {
    let Some(op) = doc
        .paths
        .paths
        .get_mut("/api/attachments")
        .and_then(|item| item.post.as_mut())
    else {
        return;
    };
    let file = || {
        ContentBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
            ))
            .build()
    };
    let mut body = RequestBodyBuilder::new()
        .description(Some(
            "The file's bytes; `Content-Type` says what it is, and the bytes must begin as such \
             a file does",
        ))
        .required(Some(Required::True));
    for kind in redgrid_app::service::UPLOAD_TYPES {
        body = body.content(kind, file());
    }
    op.request_body = Some(body.build());
}

/// Request bodies as the server reads them: a field it does not know is refused
/// (`unknown_field`), so no body takes properties beyond its own; a new request needs its
/// description and area (the reader reports every missing field at once, which is why the core's
/// `SubmitInput` keeps them optional), and `restricted` is the system's alone, refused from the API.
fn close_request_bodies(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (name, schema) in components.schemas.iter_mut() {
        let is_body = name.ends_with("Body") && name != "ErrorBody";
        if !(is_body || name == "SubmitInput") {
            continue;
        }
        if let RefOr::T(Schema::Object(object)) = schema {
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            if name == "SubmitInput" {
                object.properties.remove("restricted");
                for field in ["description", "area_id"] {
                    if !object.required.iter().any(|r| r == field) {
                        object.required.push(field.to_string());
                    }
                    // Required, so not null either.
                    if let Some(p) = object.properties.get_mut(field) {
                        not_null(p);
                    }
                }
                if let Some(RefOr::T(Schema::Object(d))) = object.properties.get_mut("description")
                {
                    d.min_length = Some(1);
                    d.pattern = Some(r"\S".to_string());
                }
            }
        }
    }
}

/// Takes `null` out of a property's types (`["integer", "null"]`, or `oneOf` null and a schema).
fn not_null(p: &mut utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{Schema, SchemaType};
    let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
    match p {
        RefOr::T(Schema::Object(o)) => {
            if let SchemaType::Array(types) = &o.schema_type {
                let types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                if let [only] = types.as_slice() {
                    o.schema_type = SchemaType::Type(only.clone());
                }
            }
        }
        RefOr::T(Schema::OneOf(one)) => {
            let rest: Vec<_> = one.items.iter().filter(|s| !is_null(s)).cloned().collect();
            if let [only] = rest.as_slice() {
                *p = only.clone();
            }
        }
        _ => {}
    }
}

/// The answers any operation may give besides its own: a request that does not parse (400), no or
/// a bad login (401), a body of another type (415, where there is a body), nothing by that id (404,
/// where the path names something), fields refused (422), too many requests
/// (429) and a failure of the server (500), all as [`ErrorBody`].
fn add_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    let error = |what: &str| -> RefOr<utoipa::openapi::Response> {
        ResponseBuilder::new()
            .description(what)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
            .into()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let names_something = path.contains('{');
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let has_body = op.request_body.is_some();
            let answers = &mut op.responses.responses;
            let mut add = |code: &str, what: &str| {
                answers
                    .entry(code.to_string())
                    .or_insert_with(|| error(what));
            };
            add("400", "The path, query or body does not parse");
            add("401", "No login, or a login that is no longer valid");
            if has_body {
                add("415", "The body's content type is not the one documented");
            }
            if names_something {
                add("404", "Nothing with that id or code");
            }
            add(
                "422",
                "Refused field by field (fields lists each with its code)",
            );
            add("429", "Too many requests: wait the seconds in Retry-After");
            add("500", "The server failed; the message says no more");
        }
    }
}

/// `accept` → `AcceptBody`.
fn body_name(kind: CommandKind) -> String {
    let id = kind.as_str();
    let mut chars = id.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or_default();
    format!("{first}{}Body", chars.as_str())
}

/// A command's body, from its declared fields.
fn command_body(kind: CommandKind) -> utoipa::openapi::schema::Schema {
    let body = ObjectBuilder::new().description(Some(format!(
        "{} {}",
        kind.label(Lang::Zh),
        kind.label(Lang::En)
    )));
    let mut body = body.additional_properties(Some(
        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
    ));
    for f in kind.fields() {
        body = body.property(f.name, field_schema(f));
        if f.need == Need::Required {
            body = body.required(f.name);
        }
    }
    body.build().into()
}

fn field_schema(f: &FieldSpec) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let help = format!("{} ({} / {})", f.help, f.label_zh, f.label_en);
    let integer = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some(help.clone()))
    };
    match f.kind {
        // A required text must say something: blank (or only invisible characters) is refused.
        FieldKind::Text { max } if f.need == Need::Required => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some(r"\S"))
            .description(Some(help))
            .into(),
        FieldKind::Text { max } => ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(max))
            .description(Some(help))
            .into(),
        FieldKind::Checkbox | FieldKind::YesNo => ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .description(Some(help))
            .into(),
        FieldKind::Category
        | FieldKind::Unit
        | FieldKind::RequestNo
        | FieldKind::PersonNo
        | FieldKind::MoneyFen => integer().into(),
        FieldKind::Choice(options) => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(options(Lang::En).into_iter().map(|(id, _)| id)))
            .description(Some(help))
            .into(),
        FieldKind::Attachments => ArrayBuilder::new()
            .items(Ref::from_schema_name("Attachment"))
            .description(Some(help))
            .into(),
    }
}

/// `POST /api/requests/{id}/{command}` for one command.
fn command_operation(kind: CommandKind, body: &str) -> utoipa::openapi::path::Operation {
    let json = |schema: &str| {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .build()
    };
    let error = |text: &str| {
        ResponseBuilder::new()
            .description(text)
            .content("application/json", json("ErrorBody"))
            .build()
    };
    OperationBuilder::new()
        .tag("commands")
        .operation_id(Some(kind.as_str()))
        .summary(Some(format!(
            "{} {}",
            kind.label(Lang::Zh),
            kind.label(Lang::En)
        )))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The request"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
                )),
        )
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json(body))
                .build(),
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description("Done: the new state and the event")
                .content("application/json", json("CommandResult"))
                .build(),
        )
        .response("400", error("Malformed JSON"))
        .response("401", error("No valid token"))
        .response("403", error("Role or scope does not allow it"))
        .response("404", error("No such request"))
        .response(
            "409",
            error("Not allowed from the current state (see current_status)"),
        )
        .response("422", error("Invalid fields (see fields)"))
        .build()
}
