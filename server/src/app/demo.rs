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
        Ok(EntryLine::base(
            id(code)?,
            debit.parse().map_err(AppError::internal)?,
            credit.parse().map_err(AppError::internal)?,
            memo.into(),
            Dimensions::default(),
        ))
    };
    let entries = [
        (
            day(2, 3),
            "股东投入资本 Capital paid in",
            vec![line("1002", "500000", "0", "")?, line("3001", "0", "500000", "")?],
            true,
        ),
        (
            day(1, 8),
            "结转销售成本 Cost of goods sold",
            vec![line("5401", "56000", "0", "")?, line("1405", "0", "56000", "")?],
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
        let (entry, _) = create_draft(
            app,
            &ctx,
            EntryInput { entry_date: date, memo: memo.into(), currency: None, exchange_rate: None, lines },
        )
        .await?;
        if post {
            post_entry(app, &ctx, entry.id).await?;
        }
    }
    seed_receivables(app, &ctx, &day, &id).await
}

/// Customers and suppliers with invoices in every state: paid, partly paid, overdue, a draft,
/// a credit note, a foreign-currency customer with a realized exchange difference.
async fn seed_receivables(
    app: &AppState,
    ctx: &super::Ctx,
    day: &dyn Fn(u32, u32) -> chrono::NaiveDate,
    id: &dyn Fn(&str) -> AppResult<uuid::Uuid>,
) -> AppResult<()> {
    use super::receivables::{
        InvoiceInput, InvoiceLineInput, PartyInput, PaymentInput, create_invoice, create_party, create_payment,
        post_invoice, put_exchange_rate, tax_codes,
    };
    use crate::domain::receivables::Side;
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().map_err(AppError::internal);
    let codes = tax_codes(app, ctx.principal.tenant).await?;
    let vat13 = codes.iter().find(|c| c.code == "VAT13").map(|c| c.id);
    let party = |code: &str, name: &str, currency: Option<&str>, terms: i32| PartyInput {
        code: Some(code.into()),
        name: Some(name.into()),
        currency: Some(currency.map(Into::into)),
        payment_terms_days: Some(terms),
        ..PartyInput::default()
    };
    let retail =
        create_party(app, ctx, Side::Receivable, party("C-001", "杭州零售有限公司 Hangzhou Retail Ltd.", None, 30))
            .await?;
    let mall =
        create_party(app, ctx, Side::Receivable, party("C-002", "苏州百货 Suzhou Department Store", None, 15)).await?;
    let export =
        create_party(app, ctx, Side::Receivable, party("C-003", "Pacific Imports LLC", Some("USD"), 45)).await?;
    let parts =
        create_party(app, ctx, Side::Payable, party("S-001", "深圳配件有限公司 Shenzhen Parts Co.", None, 30)).await?;
    let _ = create_party(app, ctx, Side::Payable, party("S-002", "宁波包装 Ningbo Packaging", None, 60)).await?;
    put_exchange_rate(app, ctx, "USD", day(3, 1), d("7.1000")?).await?;
    put_exchange_rate(app, ctx, "USD", day(0, 1), d("7.2500")?).await?;
    let line = |desc: &str, account: Option<uuid::Uuid>, qty: &str, price: &str| -> AppResult<InvoiceLineInput> {
        Ok(InvoiceLineInput {
            description: desc.into(),
            account_id: account,
            item_id: None,
            quantity: d(qty)?,
            unit_price: d(price)?,
            tax_code_id: vat13,
        })
    };
    let invoice = |_side: Side, party: uuid::Uuid, date, lines: Vec<InvoiceLineInput>, reference: &str| InvoiceInput {
        party_id: party,
        is_credit_note: false,
        credit_note_of: None,
        invoice_date: date,
        due_date: None,
        currency: None,
        exchange_rate: None,
        tax_inclusive: None,
        reference: Some(reference.into()),
        memo: None,
        lines,
        source: None,
    };
    // Goods bought on credit and paid.
    let inventory = Some(id("1405")?);
    let bought = create_invoice(
        app,
        ctx,
        Side::Payable,
        invoice(
            Side::Payable,
            parts.id,
            day(2, 12),
            vec![line("办公椅 Office chairs", inventory, "400", "300")?],
            "SZP-8812",
        ),
    )
    .await?;
    post_invoice(app, ctx, Side::Payable, bought.0.id).await?;
    let pay = |party, date, amount: &str, allocations| -> AppResult<PaymentInput> {
        Ok(PaymentInput {
            party_id: party,
            payment_date: date,
            amount: d(amount)?,
            currency: None,
            exchange_rate: None,
            account_id: None,
            reference: None,
            memo: None,
            allocations,
        })
    };
    create_payment(app, ctx, Side::Payable, pay(parts.id, day(1, 20), "135600", vec![(bought.0.id, d("135600")?)])?)
        .await?;
    // Sales: one paid, one partly paid, one overdue, one still a draft.
    let sale = |party, date, qty: &str, reference: &str| {
        Ok::<_, AppError>(invoice(
            Side::Receivable,
            party,
            date,
            vec![line("办公椅 Office chairs", None, qty, "800")?],
            reference,
        ))
    };
    let paid = create_invoice(app, ctx, Side::Receivable, sale(retail.id, day(1, 8), "100", "PO-HZ-101")?).await?;
    post_invoice(app, ctx, Side::Receivable, paid.0.id).await?;
    create_payment(app, ctx, Side::Receivable, pay(retail.id, day(1, 25), "90400", vec![(paid.0.id, d("90400")?)])?)
        .await?;
    let partly = create_invoice(app, ctx, Side::Receivable, sale(retail.id, day(0, 3), "20", "PO-HZ-117")?).await?;
    post_invoice(app, ctx, Side::Receivable, partly.0.id).await?;
    create_payment(app, ctx, Side::Receivable, pay(retail.id, day(0, 10), "10000", vec![(partly.0.id, d("10000")?)])?)
        .await?;
    let overdue = create_invoice(app, ctx, Side::Receivable, sale(mall.id, day(2, 5), "15", "SZ-2291")?).await?;
    post_invoice(app, ctx, Side::Receivable, overdue.0.id).await?;
    create_invoice(app, ctx, Side::Receivable, sale(mall.id, day(0, 12), "5", "SZ-2307")?).await?;
    // An export in dollars, paid when the dollar had risen: a realized exchange gain.
    let mut usd = invoice(
        Side::Receivable,
        export.id,
        day(2, 20),
        vec![line("Office chairs (export)", None, "50", "120")?],
        "PI-7781",
    );
    usd.lines[0].tax_code_id = codes.iter().find(|c| c.code == "VAT0").map(|c| c.id);
    let usd = create_invoice(app, ctx, Side::Receivable, usd).await?;
    post_invoice(app, ctx, Side::Receivable, usd.0.id).await?;
    create_payment(app, ctx, Side::Receivable, pay(export.id, day(0, 2), "6000", vec![(usd.0.id, d("6000")?)])?)
        .await?;
    Ok(())
}
