//! `/admin/…`: administrators manage categories, tags, people, API keys and settings. The
//! command line does the same work through the same services and store functions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::fields::BLANK;
use crate::domain::people::{Person, Role};
use crate::domain::time::format_micros;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::{Admin, FormBody};
use crate::http::inputs::admin::{
    CatalogChanges, NewApiKey, NewCatalogEntry, NewPerson, PersonChanges, SettingsChanges,
    field_names,
};
use crate::http::path::Id;
use crate::http::schema::*;
use crate::http::schema::{
    AdminCategoriesData, AdminCategory, AdminCategoryData, AdminTag, AdminTagData, AdminTagsData,
    AdminUser, AdminUserData, AdminUsersData, ApiKeyItem, ApiKeysData, CreatedKeyData,
    RevokedKeyData, SettingsData,
};
use crate::services::accounts::{CreateUserError, UpdateUserError, create_user, update_user};
use crate::services::tokens::create_api_key;
use crate::store::accounts::UserSummary;
use crate::store::catalog::{self, Catalog, CatalogEntry};
use crate::store::{StoreError, accounts, settings};

fn category_view(e: &CatalogEntry) -> AdminCategory {
    AdminCategory {
        id: e.id,
        category: e.name.clone(),
        description: e.detail.clone(),
        active: e.active,
    }
}

fn tag_view(e: &CatalogEntry) -> AdminTag {
    AdminTag {
        id: e.id,
        tag: e.name.clone(),
        keyword: e.detail.clone(),
        active: e.active,
    }
}

/// `data.category` or `data.tag` for one entry.
fn entry_answer(which: Catalog, e: &CatalogEntry) -> Response {
    match which {
        Catalog::Categories => ok(AdminCategoryData {
            category: category_view(e),
        }),
        Catalog::Tags => ok(AdminTagData { tag: tag_view(e) }),
    }
}

/// A name another entry of the list has (the unique index) is the client's error, under the
/// name's field.
fn name_taken(which: Catalog, err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict => {
            let (field, _) = field_names(which);
            let noun = match which {
                Catalog::Categories => "category",
                Catalog::Tags => "tag",
            };
            ApiError::field(field, format!("A {noun} with this name already exists."))
        }
        other => other.into(),
    }
}

async fn list_catalog(state: &AppState, which: Catalog) -> Result<Response, ApiError> {
    let entries = catalog::list(&state.db, which).await?;
    Ok(match which {
        Catalog::Categories => ok(AdminCategoriesData {
            categories: entries.iter().map(category_view).collect(),
        }),
        Catalog::Tags => ok(AdminTagsData {
            tags: entries.iter().map(tag_view).collect(),
        }),
    })
}

async fn create_catalog(
    state: &AppState,
    which: Catalog,
    body: &FormBody,
) -> Result<Response, ApiError> {
    let entry = add_entry(state, which, body).await?;
    Ok(entry_answer(which, &entry))
}

/// Creates a category or tag from the form's fields: the API's and the console's one way.
pub async fn add_entry(
    state: &AppState,
    which: Catalog,
    body: &FormBody,
) -> Result<CatalogEntry, ApiError> {
    let NewCatalogEntry { name, detail } = NewCatalogEntry::parse(body, which)?;
    let id = catalog::create(&state.db, which, &name, &detail)
        .await
        .map_err(|err| name_taken(which, err))?;
    Ok(CatalogEntry {
        id,
        name,
        detail,
        active: true,
    })
}

async fn update_catalog(
    state: &AppState,
    which: Catalog,
    id: i64,
    body: &FormBody,
) -> Result<Response, ApiError> {
    let entry = change_entry(state, which, id, body).await?;
    Ok(entry_answer(which, &entry))
}

/// Renames, re-describes, deactivates or reactivates an entry (what the form gives); 404 for
/// an unknown id.
pub async fn change_entry(
    state: &AppState,
    which: Catalog,
    id: i64,
    body: &FormBody,
) -> Result<CatalogEntry, ApiError> {
    let CatalogChanges {
        name,
        detail,
        active,
    } = CatalogChanges::parse(body, which)?;
    if !catalog::update(
        &state.db,
        which,
        id,
        name.as_deref(),
        detail.as_deref(),
        active,
    )
    .await
    .map_err(|err| name_taken(which, err))?
    {
        return Err(ApiError::not_found());
    }
    let entries = catalog::list(&state.db, which).await?;
    entries
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    get,
    path = "/admin/categories",
    tag = "admin",
    operation_id = "admin_categories",
    summary = "Every category",
    responses((status = 200, description = "Done", body = Envelope<AdminCategoriesData>))
)]
pub async fn categories(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    list_catalog(&state, Catalog::Categories).await
}

#[utoipa::path(
    post,
    path = "/admin/categories",
    tag = "admin",
    operation_id = "create_category",
    summary = "Create a category",
    request_body = CategoryFields,
    responses((status = 200, description = "Done", body = Envelope<AdminCategoryData>))
)]
pub async fn create_category(
    State(state): State<AppState>,
    _admin: Admin,
    body: FormBody,
) -> Result<Response, ApiError> {
    create_catalog(&state, Catalog::Categories, &body).await
}

#[utoipa::path(
    post,
    path = "/admin/categories/{id}",
    tag = "admin",
    operation_id = "update_category",
    summary = "Edit, deactivate or reactivate a category",
    params(("id" = i64, Path)),
    request_body = CategoryUpdateFields,
    responses((status = 200, description = "Done", body = Envelope<AdminCategoryData>))
)]
pub async fn update_category(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    update_catalog(&state, Catalog::Categories, id, &body).await
}

#[utoipa::path(
    get,
    path = "/admin/tags",
    tag = "admin",
    operation_id = "admin_tags",
    summary = "Every tag",
    responses((status = 200, description = "Done", body = Envelope<AdminTagsData>))
)]
pub async fn tags(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    list_catalog(&state, Catalog::Tags).await
}

#[utoipa::path(
    post,
    path = "/admin/tags",
    tag = "admin",
    operation_id = "create_tag",
    summary = "Create a tag",
    request_body = TagFields,
    responses((status = 200, description = "Done", body = Envelope<AdminTagData>))
)]
pub async fn create_tag(
    State(state): State<AppState>,
    _admin: Admin,
    body: FormBody,
) -> Result<Response, ApiError> {
    create_catalog(&state, Catalog::Tags, &body).await
}

#[utoipa::path(
    post,
    path = "/admin/tags/{id}",
    tag = "admin",
    operation_id = "update_tag",
    summary = "Edit, deactivate or reactivate a tag",
    params(("id" = i64, Path)),
    request_body = TagUpdateFields,
    responses((status = 200, description = "Done", body = Envelope<AdminTagData>))
)]
pub async fn update_tag(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    update_catalog(&state, Catalog::Tags, id, &body).await
}

fn user_view(u: &UserSummary) -> AdminUser {
    AdminUser {
        id: u.person.id,
        email: u.person.email.clone(),
        role: u.person.role.as_str().to_owned(),
        active: u.active,
        email_notifications: u.email_notifications,
        created_at: format_micros(u.created_at),
    }
}

#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    operation_id = "users",
    summary = "Everyone",
    responses((status = 200, description = "Done", body = Envelope<AdminUsersData>))
)]
pub async fn users(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let users = accounts::list_users(&state.db).await?;
    Ok(ok(AdminUsersData {
        users: users.iter().map(user_view).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    operation_id = "create_user",
    summary = "Create a person",
    request_body = UserFields,
    responses((status = 200, description = "Done", body = Envelope<AdminUserData>))
)]
pub async fn create_person(
    State(state): State<AppState>,
    _admin: Admin,
    body: FormBody,
) -> Result<Response, ApiError> {
    let id = add_person(&state, &body).await?;
    user_answer(&state, id).await
}

/// Creates a person from the form's fields (email, password, role); answers the new id.
pub async fn add_person(state: &AppState, body: &FormBody) -> Result<i64, ApiError> {
    let NewPerson {
        email,
        password,
        role,
    } = NewPerson::parse(body)?;
    match create_user(&state.db, &email, &password, role).await {
        Ok(id) => Ok(id),
        Err(CreateUserError::Exists(_)) => Err(ApiError::field(
            "email",
            "A user with that email already exists.",
        )),
        Err(CreateUserError::InvalidEmail(_, message)) => Err(ApiError::field("email", message)),
        Err(CreateUserError::EmptyPassword) => Err(ApiError::field("password", BLANK)),
        Err(CreateUserError::Store(e)) => Err(e.into()),
        Err(CreateUserError::Hashing(e)) => Err(ApiError::Internal(e)),
    }
}

#[utoipa::path(
    post,
    path = "/admin/users/{id}",
    tag = "admin",
    operation_id = "update_user",
    summary = "Change role, deactivate, reset password",
    params(("id" = i64, Path)),
    request_body = UserUpdateFields,
    responses((status = 200, description = "Done", body = Envelope<AdminUserData>))
)]
pub async fn update_person(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    change_person(&state, &admin, id, &body).await?;
    user_answer(&state, id).await
}

/// Changes what the form gives of a person (role, active, password, notifications), as
/// `admin`; 404 for an unknown id.
pub async fn change_person(
    state: &AppState,
    admin: &Person,
    id: i64,
    body: &FormBody,
) -> Result<(), ApiError> {
    let PersonChanges {
        role,
        active,
        password,
        email_notifications,
    } = PersonChanges::parse(body)?;
    // An administrator cannot lock themselves out of the desk.
    if id == admin.id && (active == Some(false) || role.is_some_and(|r| r != Role::Admin)) {
        return Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            "You cannot deactivate or demote yourself.",
        ));
    }
    let updated = update_user(
        &state.db,
        id,
        role,
        active,
        password.as_deref(),
        email_notifications,
    );
    match updated.await {
        Ok(()) => Ok(()),
        Err(UpdateUserError::NotFound(_)) => Err(ApiError::not_found()),
        Err(UpdateUserError::EmptyPassword) => Err(ApiError::field("password", BLANK)),
        Err(UpdateUserError::Store(e)) => Err(e.into()),
        Err(UpdateUserError::Hashing(e)) => Err(ApiError::Internal(e)),
    }
}

/// `data.user` for one person.
async fn user_answer(state: &AppState, id: i64) -> Result<Response, ApiError> {
    let user = accounts::user_summary(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(ok(AdminUserData {
        user: user_view(&user),
    }))
}

#[utoipa::path(
    get,
    path = "/admin/apikeys",
    tag = "admin",
    operation_id = "api_keys",
    summary = "Every API key (never the secret)",
    responses((status = 200, description = "Done", body = Envelope<ApiKeysData>))
)]
pub async fn api_keys(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let keys = accounts::list_api_keys(&state.db).await?;
    Ok(ok(ApiKeysData {
        apikeys: keys
            .iter()
            .map(|k| ApiKeyItem {
                id: k.id,
                name: k.name.clone(),
                prefix: k.prefix.clone(),
                scope: k.scope.as_str().to_owned(),
                created_at: format_micros(k.created_at),
                revoked_at: k.revoked_at.map(format_micros),
            })
            .collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/admin/apikeys",
    tag = "admin",
    operation_id = "create_api_key",
    summary = "Issue an API key (shown once)",
    request_body = ApiKeyFields,
    responses((status = 200, description = "Done", body = Envelope<CreatedKeyData>))
)]
pub async fn create_key(
    State(state): State<AppState>,
    _admin: Admin,
    body: FormBody,
) -> Result<Response, ApiError> {
    // The only time the key is ever shown.
    Ok(ok(issue_key(&state, &body).await?))
}

/// Issues an API key from the form's fields (name, scope): its only showing is in the answer.
pub async fn issue_key(state: &AppState, body: &FormBody) -> Result<CreatedKeyData, ApiError> {
    let NewApiKey { name, scope } = NewApiKey::parse(body)?;
    let (id, key) = create_api_key(&state.db, &name, scope).await?;
    Ok(CreatedKeyData {
        id,
        name,
        scope: scope.as_str().to_owned(),
        apikey: key,
    })
}

#[utoipa::path(
    post,
    path = "/admin/apikeys/{id}/revoke",
    tag = "admin",
    operation_id = "revoke_api_key",
    summary = "Revoke an API key",
    params(("id" = i64, Path)),
    responses((status = 200, description = "Done", body = Envelope<RevokedKeyData>))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    if accounts::revoke_api_key(&state.db, id).await? {
        Ok(ok(RevokedKeyData { id, revoked: true }))
    } else {
        Err(ApiError::not_found())
    }
}

/// The open-ticket limit in force (the stored setting, else the configured default).
pub async fn open_ticket_limit(state: &AppState) -> Result<i64, ApiError> {
    let mut conn = state.db.acquire().await?;
    Ok(settings::open_ticket_limit(&mut conn, state.open_ticket_limit()).await?)
}

/// Stores what the form gives of the settings.
pub async fn change_settings(state: &AppState, body: &FormBody) -> Result<(), ApiError> {
    if let Some(limit) = SettingsChanges::parse(body)?.open_ticket_limit {
        settings::set(&state.db, settings::OPEN_TICKET_LIMIT, &limit.to_string()).await?;
    }
    Ok(())
}

async fn settings_view(state: &AppState) -> Result<Response, ApiError> {
    Ok(ok(SettingsData {
        open_ticket_limit: open_ticket_limit(state).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/admin/settings",
    tag = "admin",
    operation_id = "settings",
    summary = "The settings in force",
    responses((status = 200, description = "Done", body = Envelope<SettingsData>))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    settings_view(&state).await
}

#[utoipa::path(
    post,
    path = "/admin/settings",
    tag = "admin",
    operation_id = "update_settings",
    summary = "Change settings, without a restart",
    request_body = SettingsFields,
    responses((status = 200, description = "Done", body = Envelope<SettingsData>))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    _admin: Admin,
    body: FormBody,
) -> Result<Response, ApiError> {
    change_settings(&state, &body).await?;
    settings_view(&state).await
}
