//! The demo tenant a newcomer logs into. Each module adds its sample data here; seeding runs
//! once (it does nothing when the demo tenant exists).

use super::AppState;
use super::signup::{SignupInput, signup};
use crate::domain::access::builtin_role;
use crate::domain::ids::RoleId;
use crate::domain::validate::Email;
use crate::error::{AppError, AppResult};
use crate::store::{Access, roles, tenants, users};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_EMAIL: &str = "owner@demo.meridian.test";
pub const DEMO_PASSWORD: &str = "meridian-demo";

/// Staff of the demo company, one per built-in role, all with the demo password.
const DEMO_STAFF: &[(&str, &str, &str)] = &[
    ("accountant@demo.meridian.test", "Li Na (accountant)", "accountant"),
    ("sales@demo.meridian.test", "Wang Wei (sales)", "sales"),
    ("buyer@demo.meridian.test", "Zhang Min (purchasing)", "purchasing"),
    ("warehouse@demo.meridian.test", "Chen Jie (warehouse)", "warehouse"),
    ("viewer@demo.meridian.test", "Guest viewer", "viewer"),
];

/// Creates the demo tenant unless it exists; returns whether it was created.
pub async fn seed(app: &AppState) -> AppResult<bool> {
    let ptx = app.store.begin_platform(Access::Read).await?;
    let exists = tenants::find_by_slug(&ptx, DEMO_SLUG).await?.is_some();
    ptx.commit().await?;
    if exists {
        return Ok(false);
    }
    let session = signup(
        app,
        SignupInput {
            company_name: "Meridian Demo Trading Co.".into(),
            slug: Some(DEMO_SLUG.into()),
            admin_email: DEMO_EMAIL.into(),
            admin_name: Some("Demo Owner".into()),
            admin_password: DEMO_PASSWORD.into(),
            accounting_template: "cn_small_business".into(),
            base_currency: "CNY".into(),
            source_ip: None,
        },
    )
    .await?;
    let hash = crate::auth::passwords::hash_blocking(DEMO_PASSWORD.into()).await?;
    let now = app.now();
    let tx = app.store.begin(session.tenant_id, Access::Write).await?;
    for (email, name, role) in DEMO_STAFF {
        let role_id: RoleId = roles::find_by_name(&tx, role)
            .await?
            .map(|r| r.id)
            .ok_or_else(|| AppError::internal(format!("demo role {role} missing")))?;
        debug_assert!(builtin_role(role).is_some());
        let email = Email::parse(email).map_err(AppError::internal)?;
        let user = users::User::new(&email, (*name).to_owned(), hash.clone(), now);
        users::insert(&tx, &user).await?;
        users::set_roles(&tx, user.id, &[role_id]).await?;
    }
    tx.commit().await?;
    Ok(true)
}
