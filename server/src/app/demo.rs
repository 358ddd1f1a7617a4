//! The demo tenant a newcomer logs into. Each module adds its sample data here; seeding runs
//! once (it does nothing when the demo tenant exists).

use chrono::Datelike;

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
    seed_books(app, &session).await?;
    Ok(true)
}

/// A few months of a trading company's books: capital paid in, goods bought with input VAT,
/// a sale with output VAT and its cost, bank charges, and one entry left as a draft.
async fn seed_books(app: &AppState, session: &super::sessions::Session) -> AppResult<()> {
    use super::ledger::{EntryInput, create_draft, post_entry};
    use crate::domain::ledger::{Dimensions, EntryLine};
    let ctx = super::Ctx {
        principal: crate::auth::Principal {
            tenant: session.tenant_id,
            actor: crate::auth::Actor::User(session.user_id),
            name: DEMO_EMAIL.into(),
            permissions: crate::domain::access::PermissionSet::all(),
        },
        source_ip: None,
        request_id: None,
    };
    let tx = app.store.begin(session.tenant_id, Access::Read).await?;
    let accounts = crate::store::ledger::all_accounts(&tx).await?;
    tx.commit().await?;
    let id = |code: &str| {
        accounts
            .iter()
            .find(|a| a.code == code)
            .map(|a| a.id)
            .ok_or_else(|| AppError::internal(format!("demo account {code}")))
    };
    let today = app.now().date_naive();
    let day = |months_ago: u32, d: u32| {
        let first = today.with_day(1).unwrap_or(today);
        let m = first.checked_sub_months(chrono::Months::new(months_ago)).unwrap_or(first);
        m.with_day(d).unwrap_or(m)
    };
    let line = |code: &str, debit: &str, credit: &str, memo: &str| -> AppResult<EntryLine> {
        Ok(EntryLine {
            account_id: id(code)?,
            debit: debit.parse().map_err(AppError::internal)?,
            credit: credit.parse().map_err(AppError::internal)?,
            memo: memo.into(),
            dimensions: Dimensions::default(),
        })
    };
    let entries = [
        (
            day(2, 3),
            "股东投入资本 Capital paid in",
            vec![line("1002", "500000", "0", "")?, line("3001", "0", "500000", "")?],
            true,
        ),
        (
            day(2, 12),
            "采购商品 Goods bought from Shenzhen Parts Co.",
            vec![
                line("1405", "120000", "0", "")?,
                line("22210101", "15600", "0", "13% VAT")?,
                line("220201", "0", "135600", "")?,
            ],
            true,
        ),
        (
            day(1, 8),
            "销售商品 Goods sold to Hangzhou Retail Ltd.",
            vec![
                line("1122", "90400", "0", "")?,
                line("5001", "0", "80000", "")?,
                line("22210102", "0", "10400", "13% VAT")?,
            ],
            true,
        ),
        (
            day(1, 8),
            "结转销售成本 Cost of goods sold",
            vec![line("5401", "56000", "0", "")?, line("1405", "0", "56000", "")?],
            true,
        ),
        (
            day(1, 20),
            "支付货款 Paid Shenzhen Parts Co.",
            vec![line("220201", "135600", "0", "")?, line("1002", "0", "135600", "")?],
            true,
        ),
        (
            day(0, 2),
            "银行手续费 Bank charges",
            vec![line("5603", "35.50", "0", "")?, line("1002", "0", "35.50", "")?],
            true,
        ),
        (
            day(0, 5),
            "预提房租 Office rent (to review)",
            vec![line("5602", "8000", "0", "")?, line("2241", "0", "8000", "")?],
            false,
        ),
    ];
    for (date, memo, lines, post) in entries {
        let (entry, _) =
            create_draft(app, &ctx, EntryInput { entry_date: date, memo: memo.into(), currency: None, lines }).await?;
        if post {
            post_entry(app, &ctx, entry.id).await?;
        }
    }
    Ok(())
}
