//! Users, roles and API keys.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{AdminRead, AdminWrite, ApiJson, Authorized, Caller, IfMatch, etag, page, paginate};
use super::problem::Problem;
use super::views::{ApiKeyCreated, ApiKeyView, ListResponse, RoleView, SubscriptionView, UserView};
use crate::app::{AppState, access};
use crate::domain::ids::{ApiKeyId, RoleId, UserId};
use crate::error::AppError;
use crate::store::users::UserFilter;

fn role_ids(ids: Vec<Uuid>) -> Vec<RoleId> {
    ids.into_iter().map(RoleId).collect()
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// 1-200, default 50
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub is_active: Option<bool>,
    pub role_id: Option<Uuid>,
    /// Searches email and display name.
    pub q: Option<String>,
}

/// List the tenant's users.
#[utoipa::path(tag = "users", operation_id = "list_users", params(UserListQuery),
    responses((status = 200, body = ListResponse<UserView>), (status = 403, body = Problem)))]
#[get("/users")]
pub async fn list_users(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    q: web::Query<UserListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let filter = UserFilter { is_active: q.is_active, role_id: q.role_id.map(RoleId), q: q.q };
    let rows = access::list_users(&app, auth.tenant_id(), &page, &filter).await?;
    let (rows, next_cursor) = paginate(rows, &page, |r| r.0.id.0);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(UserView::new).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub display_name: String,
    /// At least 10 characters; the user can change it later.
    pub password: String,
    #[serde(default)]
    pub role_ids: Vec<Uuid>,
}

/// Add a user (counts against the plan's seats).
#[utoipa::path(tag = "users", operation_id = "create_user", request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 402, body = Problem), (status = 422, body = Problem)))]
#[post("/users")]
pub async fn create_user(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    body: ApiJson<CreateUserRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = access::NewUser {
        email: b.email,
        display_name: b.display_name,
        password: b.password,
        role_ids: role_ids(b.role_ids),
    };
    let user = UserView::new(access::create_user(&app, &auth.ctx(), input).await?);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", user.id)))
        .insert_header(etag(user.version))
        .json(user))
}

/// Read one user.
#[utoipa::path(tag = "users", operation_id = "get_user",
    responses((status = 200, body = UserView), (status = 404, body = Problem)))]
#[get("/users/{id}")]
pub async fn get_user(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let user = UserView::new(access::get_user(&app, auth.tenant_id(), UserId(*id)).await?);
    Ok(HttpResponse::Ok().insert_header(etag(user.version)).json(user))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    /// false deactivates the user and ends their sessions.
    pub is_active: Option<bool>,
    /// A new password; ends the user's sessions.
    pub password: Option<String>,
    /// Replaces the user's roles.
    pub role_ids: Option<Vec<Uuid>>,
}

/// Change a user (If-Match required).
#[utoipa::path(tag = "users", operation_id = "update_user", request_body = UpdateUserRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = UserView), (status = 412, body = Problem), (status = 428, body = Problem)))]
#[patch("/users/{id}")]
pub async fn update_user(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<UpdateUserRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let patch = access::UserPatch {
        display_name: b.display_name,
        is_active: b.is_active,
        password: b.password,
        role_ids: b.role_ids.map(role_ids),
    };
    let user = UserView::new(access::update_user(&app, &auth.ctx(), UserId(*id), if_match.0, patch).await?);
    Ok(HttpResponse::Ok().insert_header(etag(user.version)).json(user))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-200, default 50
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// List roles, built-in and custom.
#[utoipa::path(tag = "roles", operation_id = "list_roles", params(ListQuery),
    responses((status = 200, body = ListResponse<RoleView>)))]
#[get("/roles")]
pub async fn list_roles(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let (rows, next_cursor) = paginate(access::list_roles(&app, auth.tenant_id(), &page).await?, &page, |r| r.id.0);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(RoleView::from).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub name: String,
    pub description: Option<String>,
    /// `module:action` pairs. Modules: admin, audit, finance, inventory, sales, purchasing,
    /// crm, production, approvals, plugins. Actions: read, write, approve.
    #[schema(example = json!(["sales:read", "sales:write", "inventory:read"]))]
    pub permissions: Vec<String>,
}

fn role_input(b: RoleRequest) -> access::RoleInput {
    access::RoleInput { name: b.name, description: b.description, permissions: b.permissions }
}

/// Create a custom role.
#[utoipa::path(tag = "roles", operation_id = "create_role", request_body = RoleRequest,
    responses((status = 201, body = RoleView), (status = 422, body = Problem)))]
#[post("/roles")]
pub async fn create_role(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    body: ApiJson<RoleRequest>,
) -> Result<HttpResponse, AppError> {
    let role = RoleView::from(access::create_role(&app, &auth.ctx(), role_input(body.0)).await?);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/roles/{}", role.id)))
        .insert_header(etag(role.version))
        .json(role))
}

/// Read one role.
#[utoipa::path(tag = "roles", operation_id = "get_role", responses((status = 200, body = RoleView), (status = 404, body = Problem)))]
#[get("/roles/{id}")]
pub async fn get_role(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let role = RoleView::from(access::get_role(&app, auth.tenant_id(), RoleId(*id)).await?);
    Ok(HttpResponse::Ok().insert_header(etag(role.version)).json(role))
}

/// Change a custom role (built-in roles are fixed). Holders get the new permissions at their
/// next token refresh.
#[utoipa::path(tag = "roles", operation_id = "update_role", request_body = RoleRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = RoleView), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[patch("/roles/{id}")]
pub async fn update_role(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<RoleRequest>,
) -> Result<HttpResponse, AppError> {
    let role =
        RoleView::from(access::update_role(&app, &auth.ctx(), RoleId(*id), if_match.0, role_input(body.0)).await?);
    Ok(HttpResponse::Ok().insert_header(etag(role.version)).json(role))
}

/// Delete a custom role that nobody holds.
#[utoipa::path(tag = "roles", operation_id = "delete_role", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/roles/{id}")]
pub async fn delete_role(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    access::delete_role(&app, &auth.ctx(), RoleId(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List API keys (never their secrets).
#[utoipa::path(tag = "api-keys", operation_id = "list_api_keys", params(ListQuery),
    responses((status = 200, body = ListResponse<ApiKeyView>)))]
#[get("/api-keys")]
pub async fn list_api_keys(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let (rows, next_cursor) =
        paginate(access::list_api_keys(&app, auth.tenant_id(), &page).await?, &page, |r| r.0.id.0);
    let now = app.now();
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|r| ApiKeyView::new(r, now)).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// The key acts with the union of these roles' permissions.
    pub role_ids: Vec<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Create an API key. The answer holds the secret, shown this once.
#[utoipa::path(tag = "api-keys", operation_id = "create_api_key", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = Problem)))]
#[post("/api-keys")]
pub async fn create_api_key(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    body: ApiJson<CreateApiKeyRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = access::NewApiKey { name: b.name, role_ids: role_ids(b.role_ids), expires_at: b.expires_at };
    let (key, roles, secret) = access::create_api_key(&app, &auth.ctx(), input).await?;
    let view = ApiKeyCreated { key: ApiKeyView::new((key, roles), app.now()), secret };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/api-keys/{}", view.key.id)))
        .insert_header(etag(view.key.version))
        .json(view))
}

/// Read one API key.
#[utoipa::path(tag = "api-keys", operation_id = "get_api_key", responses((status = 200, body = ApiKeyView), (status = 404, body = Problem)))]
#[get("/api-keys/{id}")]
pub async fn get_api_key(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let key = ApiKeyView::new(access::get_api_key(&app, auth.tenant_id(), ApiKeyId(*id)).await?, app.now());
    Ok(HttpResponse::Ok().insert_header(etag(key.version)).json(key))
}

/// Revoke an API key; it stops working at once on this node and within 30 seconds on others.
#[utoipa::path(tag = "api-keys", operation_id = "revoke_api_key", responses((status = 200, body = ApiKeyView), (status = 409, body = Problem)))]
#[post("/api-keys/{id}/revoke")]
pub async fn revoke_api_key(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let key = ApiKeyView::new(access::revoke_api_key(&app, &auth.ctx(), ApiKeyId(*id)).await?, app.now());
    Ok(HttpResponse::Ok().insert_header(etag(key.version)).json(key))
}

/// The calling user: profile and roles, what they may do, and their company's subscription
/// (what a client needs to draw its menus and the trial banner).
#[derive(serde::Serialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub user: UserView,
    /// Every permission the user's roles grant, as `module:action`.
    #[schema(example = json!(["sales:read", "sales:write"]))]
    pub permissions: Vec<String>,
    pub tenant: MeTenant,
    pub subscription: SubscriptionView,
}

#[derive(serde::Serialize, ToSchema)]
pub struct MeTenant {
    pub name: String,
    pub slug: String,
    pub base_currency: String,
}

/// The calling user's own profile, roles, permissions and subscription.
#[utoipa::path(tag = "users", operation_id = "get_me", responses((status = 200, body = MeView), (status = 401, body = Problem)))]
#[get("/me")]
pub async fn get_me(app: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    let ctx = caller.ctx();
    let user = UserView::new(access::me(&app, &ctx).await?);
    let t = crate::app::tenant::view(&app, crate::app::tenant::load(&app, ctx.principal.tenant).await?);
    let me = MeView {
        permissions: ctx.principal.permissions.to_strings(),
        subscription: SubscriptionView::new(&t),
        tenant: MeTenant { name: t.tenant.name, slug: t.tenant.slug, base_currency: t.tenant.base_currency },
        user,
    };
    Ok(HttpResponse::Ok().insert_header(etag(me.user.version)).json(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Change one's own password. Every refresh token of the user stops working; log in again
/// on other devices.
#[utoipa::path(tag = "users", operation_id = "change_my_password", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 422, body = Problem)))]
#[post("/me/password")]
pub async fn change_my_password(
    app: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    access::change_own_password(&app, &caller.ctx(), b.current_password, b.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}
