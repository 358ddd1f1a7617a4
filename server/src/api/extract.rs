//! Extractors that parse at the edge: JSON bodies with field-level errors, the caller and the
//! permission a handler needs, `If-Match`, and list pagination.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use crate::app::Ctx;
use crate::auth::Principal;
use crate::domain::access::{Action, Module, Permission};
use crate::domain::subscription::entitlements;
use crate::error::{AppError, AppResult};
use crate::store::Page;
use crate::store::tenants::Tenant;

/// Set by the request-context middleware on every request.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<String>,
}

/// Set by the authentication middleware when a credential was accepted.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub tenant: Tenant,
}

pub fn request_meta(req: &HttpRequest) -> RequestMeta {
    req.extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or(RequestMeta { request_id: String::new(), source_ip: req.peer_addr().map(|a| a.ip().to_string()) })
}

/// A JSON body: `application/json` only, unknown fields refused (by the types' serde
/// attributes), every error addressed by its JSON path.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json")
            })
            .unwrap_or(false);
        let limit =
            req.app_data::<web::Data<crate::app::AppState>>().map(|s| s.config.body_limit_bytes).unwrap_or(1024 * 1024);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(AppError::UnsupportedMediaType);
            }
            let bytes = bytes.await.map_err(|e| payload_error(e, limit))?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

pub fn payload_error(e: actix_web::Error, limit_bytes: usize) -> AppError {
    use actix_web::error::PayloadError;
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => AppError::PayloadTooLarge { limit_bytes },
        _ if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge { limit_bytes }
        }
        _ => AppError::Malformed(format!("cannot read the body: {e}")),
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(AppError::Malformed(format!("the body is not valid JSON: {inner}")))
                }
                Category::Data => {
                    let msg = strip_position(&inner.to_string());
                    let field = if path == "." { unknown_field_name(&msg).unwrap_or_default() } else { path };
                    Err(AppError::field(if field.is_empty() { "body".into() } else { field }, msg))
                }
            }
        }
    }
}

/// serde_json appends " at line L column C"; field paths say more to a client.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn unknown_field_name(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// A permission a handler needs, as a type, so that the handler's signature declares it.
pub trait Needs {
    const PERMISSION: Permission;
    /// Another permission that grants the same access (master data shared by two modules).
    const OR: Option<Permission> = None;
}

macro_rules! needs {
    ($($name:ident = $module:ident : $action:ident $(| $module2:ident : $action2:ident)?),* $(,)?) => {$(
        pub struct $name;
        impl Needs for $name {
            const PERMISSION: Permission = Permission::new(Module::$module, Action::$action);
            $(const OR: Option<Permission> = Some(Permission::new(Module::$module2, Action::$action2));)?
        }
    )*};
}

needs!(
    AdminRead = Admin:Read,
    AdminWrite = Admin:Write,
    AuditRead = Audit:Read,
    FinanceRead = Finance:Read,
    FinanceWrite = Finance:Write,
    FinanceApprove = Finance:Approve,
    InventoryRead = Inventory:Read,
    InventoryWrite = Inventory:Write,
    InventoryApprove = Inventory:Approve,
    CustomersRead = Sales:Read | Finance:Read,
    CustomersWrite = Sales:Write | Finance:Write,
    SuppliersRead = Purchasing:Read | Finance:Read,
    SuppliersWrite = Purchasing:Write | Finance:Write,
    SalesRead = Sales:Read,
    SalesWrite = Sales:Write,
    PurchasingRead = Purchasing:Read,
    PurchasingWrite = Purchasing:Write,
    PurchasingApprove = Purchasing:Approve,
    TradeRead = Sales:Read | Purchasing:Read,
    TradeSettingsWrite = Sales:Approve | Purchasing:Approve,
    PriceListsRead = Sales:Read | Purchasing:Read,
    PriceListsWrite = Sales:Write | Purchasing:Write,
    BillingWrite = Sales:Write | Finance:Write,
    PayablesWrite = Purchasing:Write | Finance:Write,
    HoldRelease = Purchasing:Approve | Finance:Approve,
    CrmRead = Crm:Read,
    CrmWrite = Crm:Write,
    CrmApprove = Crm:Approve,
    ProductionRead = Production:Read,
    ProductionWrite = Production:Write,
    ProductionApprove = Production:Approve,
    ApprovalsRead = Approvals:Read,
    ApprovalsWrite = Approvals:Write,
    PluginsRead = Plugins:Read,
    PluginsWrite = Plugins:Write,
);

/// The caller, proven to hold `P` and to be entitled to its module.
pub struct Authorized<P: Needs> {
    pub principal: Principal,
    pub tenant: Tenant,
    pub meta: RequestMeta,
    _p: PhantomData<P>,
}

impl<P: Needs> Authorized<P> {
    pub fn ctx(&self) -> Ctx {
        Ctx {
            principal: self.principal.clone(),
            source_ip: self.meta.source_ip.clone(),
            request_id: Some(self.meta.request_id.clone()),
        }
    }

    pub fn tenant_id(&self) -> crate::domain::ids::TenantId {
        self.principal.tenant
    }
}

impl<P: Needs> FromRequest for Authorized<P> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authorize::<P>(req))
    }
}

fn authorize<P: Needs>(req: &HttpRequest) -> AppResult<Authorized<P>> {
    let auth = req
        .extensions()
        .get::<Authenticated>()
        .cloned()
        .ok_or_else(|| AppError::Unauthenticated("this endpoint needs a bearer token or API key".into()))?;
    let entitled = entitlements(auth.tenant.plan);
    let granted = [Some(P::PERMISSION), P::OR].into_iter().flatten().find(|p| auth.principal.can(*p));
    let Some(needed) = granted else {
        let names = [Some(P::PERMISSION), P::OR].into_iter().flatten().map(|p| p.to_string()).collect::<Vec<_>>();
        return Err(AppError::Forbidden(names.join(" or ")));
    };
    if !entitled.includes(needed.module) {
        return Err(AppError::ModuleNotInPlan(needed.module.as_str().into()));
    }
    Ok(Authorized { principal: auth.principal, tenant: auth.tenant, meta: request_meta(req), _p: PhantomData })
}

/// The version a client last saw, from `If-Match: "<version>"`.
pub struct IfMatch(pub i64);

impl FromRequest for IfMatch {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let r = match req.headers().get(header::IF_MATCH) {
            None => Err(AppError::PreconditionRequired),
            Some(v) => v
                .to_str()
                .ok()
                .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|s| s.parse::<i64>().ok())
                .map(IfMatch)
                .ok_or_else(|| AppError::Malformed("If-Match must be an ETag this server gave, like \"3\"".into())),
        };
        std::future::ready(r)
    }
}

pub fn etag(version: i64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

pub const PAGE_LIMIT_DEFAULT: u64 = 50;
pub const PAGE_LIMIT_MAX: u64 = 200;

/// Parses `limit` and `cursor` into a page request.
pub fn page(limit: Option<u64>, cursor: Option<&str>) -> AppResult<Page> {
    let limit = limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(AppError::field("limit", format!("must be between 1 and {PAGE_LIMIT_MAX}")));
    }
    let after = match cursor {
        None | Some("") => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| uuid::Uuid::from_slice(&b).ok())
                .ok_or_else(|| AppError::field("cursor", "is not a cursor this server gave"))?,
        ),
    };
    Ok(Page { limit, after })
}

pub fn cursor_of(id: uuid::Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// Cuts the one extra row a store list fetched and turns the last kept id into a cursor.
pub fn paginate<T>(mut rows: Vec<T>, page: &Page, id: impl Fn(&T) -> uuid::Uuid) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| cursor_of(id(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

/// Query-string errors (a bad filter value) as field problems.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let msg = err.to_string();
    let field = msg.split('`').nth(1).unwrap_or("query").to_owned();
    AppError::field(field, msg).into()
}

/// Path errors (an id that is not a UUID) answer 404: no such object exists.
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    AppError::NotFound { entity: "object" }.into()
}

/// Any authenticated caller, whatever their permissions (for a user's own profile).
pub struct Caller {
    pub principal: Principal,
    pub meta: RequestMeta,
}

impl Caller {
    pub fn ctx(&self) -> Ctx {
        Ctx {
            principal: self.principal.clone(),
            source_ip: self.meta.source_ip.clone(),
            request_id: Some(self.meta.request_id.clone()),
        }
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.extensions().get::<Authenticated>().cloned();
        std::future::ready(match auth {
            Some(a) => Ok(Caller { principal: a.principal, meta: request_meta(req) }),
            None => Err(AppError::Unauthenticated("this endpoint needs a bearer token or API key".into())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decimal::{Money, Quantity};

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        quantity: Quantity,
        unit_price: Money,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        lines: Vec<Line>,
    }

    fn field_of(body: &str) -> (String, String) {
        match parse_json::<Order>(body.as_bytes()) {
            Err(AppError::Validation(errors)) => (errors[0].field.clone(), errors[0].message.clone()),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_json_number_where_a_decimal_string_is_required_is_a_field_error() {
        let (field, message) =
            field_of(r#"{"lines": [{"quantity": "1", "unit_price": "2.50"}, {"quantity": 3, "unit_price": "1"}]}"#);
        assert_eq!(field, "lines[1].quantity");
        assert!(message.contains("not a JSON number"), "{message}");
        let (field, message) = field_of(r#"{"lines": [{"quantity": "1", "unit_price": "2.123456"}]}"#);
        assert_eq!((field.as_str(), message.contains("4 decimal places")), ("lines[0].unit_price", true));
        let (field, _) = field_of(r#"{"lines": [], "total": "1"}"#);
        assert_eq!(field, "total");
        assert!(matches!(parse_json::<Order>(b"{\"lines\": ["), Err(AppError::Malformed(_))));
    }
}
