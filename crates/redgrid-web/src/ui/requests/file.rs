//! Filing a request (点单) from the phone page, with a photo.

use super::*;

/// The largest photo a resident may attach.
pub const MAX_PHOTO: usize = crate::api::directory::MAX_ATTACHMENT;

#[derive(Template)]
#[template(path = "file.html")]
pub struct FilePage {
    pub c: Ctx,
    pub fields: Vec<Field>,
    pub key: String,
    pub photo_id: String,
    pub photo_name: String,
    pub errors: Errors,
}

pub(crate) fn file_fields(
    c: &Ctx,
    dir: &Directory,
    values: &HashMap<String, String>,
    errors: &Errors,
    default_area: Option<AreaId>,
) -> Vec<Field> {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut category = Field::new("category_id", c.t("诉求类别", "Category"), "select").hint(c.t(
        "选一个最接近的类别；不确定可不选，工作人员会帮您归类。",
        "Pick the closest; if unsure leave it, staff will classify it.",
    ));
    category
        .groups
        .push(first_option(c.t("— 不确定 —", "— not sure —")));
    category.groups.extend(category_groups(dir, c.lang));
    category.value = v("category_id");
    let mut area = Field::new(
        "area_id",
        c.t("所在社区或网格", "Community or grid"),
        "select",
    )
    .required()
    .hint(c.t(
        "诉求发生的地方，选到网格更快派到身边的网格员。",
        "Where the need is; choosing the grid reaches your grid worker faster.",
    ));
    area.groups
        .push(first_option(c.t("— 请选择 —", "— choose —")));
    area.groups.extend(place_groups(dir));
    area.value = values
        .get("area_id")
        .cloned()
        .or_else(|| default_area.map(|a| a.0.to_string()))
        .unwrap_or_default();
    let mut description = Field::new("description", c.t("诉求内容", "What is needed"), "textarea")
        .required()
        .hint(c.t(
            "写清楚什么事、在哪里、希望怎么解决（最多 2000 字）。",
            "Say what, where, and what you would like done (up to 2000 characters).",
        ));
    description.value = v("description");
    let mut address = Field::new(
        "address",
        c.t("详细地址（选填）", "Address (optional)"),
        "text",
    )
    .hint(c.t(
        "只给处理人员看，公开清单不显示。",
        "Only the people handling it see this; public lists never show it.",
    ));
    address.value = v("address");
    let mut out = vec![category, area, description, address];
    if c.is_staff() {
        // Staff file on a resident's behalf: a hotline call, a visit to the service window, a
        // grid worker's patrol. The resident is found by phone, or added, and can later sign up
        // with that phone and follow the request.
        let mut channel = Field::new("channel", c.t("来源", "How it came in"), "select").options(
            STAFF_CHANNELS
                .iter()
                .map(|ch| (ch.as_str().to_string(), ch.label(c.lang).to_string()))
                .collect(),
        );
        channel.value = values
            .get("channel")
            .cloned()
            .unwrap_or_else(|| Channel::Hotline.as_str().to_string());
        let mut phone = Field::new(
            "requester_phone",
            c.t("群众手机号（代登记时填写）", "The resident's phone (when filing for them)"),
            "text",
        )
        .hint(c.t(
            "按手机号找到或新建群众；本人以后用此手机号注册即可查看和评价。",
            "The resident is found by phone or added; signing up later with this phone, they follow and rate it.",
        ));
        phone.value = v("requester_phone");
        let mut name = Field::new(
            "requester_name",
            c.t("群众姓名", "The resident's name"),
            "text",
        );
        name.value = v("requester_name");
        out.splice(0..0, [channel, phone, name]);
    }
    for f in &mut out {
        f.error = errors.of(f.name).to_string();
    }
    out
}

/// The ways staff take a need in.
const STAFF_CHANNELS: [Channel; 5] = [
    Channel::Hotline,
    Channel::Window,
    Channel::GridPatrol,
    Channel::SuggestionBox,
    Channel::Web,
];

/// The area a person's own grants point at (a resident filing for their own grid, say).
pub(crate) fn own_area(dir: &Directory, actor: &Actor) -> Option<AreaId> {
    actor.grants().iter().find_map(|g| {
        let a = dir.grant_area(g)?;
        let area = dir.area(a)?;
        matches!(area.kind, Level::Grid | Level::Community).then_some(a)
    })
}

/// `GET /file`: the form to file a request.
pub async fn file_form(State(state): State<Arc<AppState>>, LoggedIn(c): LoggedIn) -> PageResult {
    let dir = state.service.directory();
    let errors = Errors::default();
    // Filing starts from the home grid the person chose, else from where their roles are.
    let home = match c.person.as_ref() {
        Some(p) => state
            .service
            .store()
            .home_area(p.id)
            .await
            .map_err(|e| PageError::store(e, c.lang, "/file"))?,
        None => None,
    };
    let default_area = home.or_else(|| c.actor().and_then(|a| own_area(&dir, &a)));
    let fields = file_fields(&c, &dir, &HashMap::new(), &errors, default_area);
    Ok(render(&FilePage {
        c,
        fields,
        key: form_key(),
        photo_id: String::new(),
        photo_name: String::new(),
        errors,
    }))
}

/// The allowed photo types.
pub(crate) const PHOTO_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

/// `POST /file` (multipart: the fields and an optional photo): files the request and shows it.
pub async fn file_post(
    State(state): State<Arc<AppState>>,
    crate::auth::Peer(peer): crate::auth::Peer,
    LoggedIn(c): LoggedIn,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let lang = c.lang;
    let mut pairs = Vec::new();
    let mut photo: Option<(String, String, Vec<u8>)> = None;
    let mut field_errors: Vec<FieldError> = Vec::new();
    let too_big = || {
        PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            lang,
            lang.pick("文件太大", "File too large"),
            lang.pick(
                "照片不能超过 10 MB，请返回缩小后重试。",
                "A photo may be at most 10 MB; go back and choose a smaller one.",
            ),
        )
    };
    // A photo (or a field) that did not arrive whole: the connection broke or the form was cut off.
    let upload_failed = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("上传失败", "Upload failed"),
            lang.pick(
                "照片或表单没有完整上传，请检查网络后返回重试。",
                "The photo or the form did not arrive whole; check the connection, go back and try again.",
            ),
        )
    };
    let mut multipart = multipart.map_err(|_| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("表单有误", "Bad form"),
            lang.pick(
                "表单格式不对，请返回重试。",
                "The form was not sent correctly; go back and try again.",
            ),
        )
    })?;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(_) => {
                return Err(PageError::new(
                    StatusCode::BAD_REQUEST,
                    lang,
                    lang.pick("表单有误", "Bad form"),
                    lang.pick(
                        "表单没有传完整，请重试。",
                        "The form arrived incomplete; try again.",
                    ),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "photo" {
            let file_name = field.file_name().unwrap_or("photo").to_string();
            let ctype = field.content_type().unwrap_or_default().to_string();
            let data = match field.bytes().await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
                Err(_) => return Err(upload_failed()),
            };
            if data.is_empty() {
                continue;
            }
            if data.len() > MAX_PHOTO {
                field_errors.push(FieldError::new("photo", "too_large"));
                continue;
            }
            if !PHOTO_TYPES.contains(&ctype.as_str()) {
                field_errors.push(FieldError::new("photo", "not_allowed"));
                continue;
            }
            photo = Some((file_name, ctype, data.to_vec()));
        } else {
            let text = match field.text().await {
                Ok(t) => t,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
                Err(_) => return Err(upload_failed()),
            };
            pairs.push((name, text));
        }
    }
    let form = FormData { pairs };
    form.check_csrf(&c)?;
    let Some(actor) = c.actor() else {
        return Err(PageError::Login(c.here.clone()));
    };
    let dir = state.service.directory();
    let mut attachments = Vec::new();
    let (mut photo_id, mut photo_name) = (
        form.text("photo_id").unwrap_or_default(),
        form.text("photo_name").unwrap_or_default(),
    );
    if let Some((file_name, ctype, data)) = photo {
        let meta = state
            .service
            .upload(&actor, &ctype, &data)
            .await
            .map_err(|e| PageError::store(e, lang, "/file"))?;
        photo_id = meta.id;
        photo_name = file_name;
    }
    if !photo_id.is_empty() {
        attachments.push(Attachment {
            id: photo_id.clone(),
            name: if photo_name.is_empty() {
                "photo".into()
            } else {
                photo_name.clone()
            },
        });
    }
    let area_id = form.number("area_id", &mut field_errors).map(AreaId);
    let category_id = form
        .number("category_id", &mut field_errors)
        .map(CategoryId);
    // Residents file on the web; staff say how it came in, and for whom.
    let channel = if c.is_staff() {
        match form.text("channel").as_deref().map(Channel::parse) {
            None => Some(Channel::Hotline),
            Some(Some(ch)) if STAFF_CHANNELS.contains(&ch) => Some(ch),
            Some(_) => {
                field_errors.push(FieldError::new("channel", "not_allowed"));
                None
            }
        }
    } else {
        Some(Channel::Web)
    };
    let (requester_name, requester_phone) = if c.is_staff() {
        (form.text("requester_name"), form.text("requester_phone"))
    } else {
        (None, None)
    };
    let input = SubmitInput {
        restricted: false,
        channel,
        description: form.text("description"),
        area_id,
        address: form.text("address"),
        lat: None,
        lon: None,
        requester_name,
        requester_phone,
        attachments,
        category_id,
    };
    let key = form.text("key");
    let refused = |e: &CoreError, c: Ctx, photo_id: String, photo_name: String| {
        let errors = Errors::from_core(e, c.lang);
        let fields = file_fields(&c, &dir, &form.values(), &errors, None);
        let mut res = render(&FilePage {
            c,
            fields,
            key: form.text("key").unwrap_or_else(form_key),
            photo_id,
            photo_name,
            errors,
        });
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        res
    };
    let filed = match state.service.admit_filing(&actor, peer.as_deref(), now()) {
        Ok(()) => {
            state
                .service
                .submit(&actor, &input, field_errors, key.as_deref(), now())
                .await
        }
        Err(e) => Err(e),
    };
    match filed {
        Ok((request, _)) => Ok(see_other(&format!("/requests/{}?done=filed", request.id))),
        Err(StoreError::Core(e)) if e.http_status() == 422 => {
            Ok(refused(&e, c, photo_id, photo_name))
        }
        Err(e) => Err(PageError::store(e, lang, "/file")),
    }
}
