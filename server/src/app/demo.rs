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
            discount: rust_decimal::Decimal::ZERO,
            link: None,
            fixed_base: None,
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
    // Goods bought on credit and paid; the goods came in on a receipt against GRNI.
    let inventory = Some(id("220202")?);
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
    let items = seed_inventory(app, ctx, day, id).await?;
    let (warehouse, desk) = (items.warehouse, items.desk);
    let customer = mall.id;
    let delivered = seed_trade(app, ctx, day, [retail, mall, export, parts], items).await?;
    seed_production(app, ctx, day, warehouse, desk, delivered.desk_order).await?;
    seed_crm(app, ctx, customer).await?;
    seed_service(app, ctx, &delivered).await?;
    seed_approvals(app, ctx).await?;
    seed_plugins(app, ctx).await
}

/// Approvals: everyone reports to the owner; purchases from 5,000 need the buyer's manager
/// (and from 20,000 the accountant too), discounts above 10 % the owner, expense claims from
/// 200 the claimant's manager. The sales rep's trip waits in the owner's inbox; a taxi fare
/// under the threshold was approved and posted at once.
async fn seed_approvals(app: &AppState, ctx: &super::Ctx) -> AppResult<()> {
    use super::approvals::{ApproverInput, FlowInput, StepInput, create_flow, put_position};
    use super::expenses::{ClaimInput, LineInput, create, submit};
    use crate::domain::approvals::{Conditions, Quorum};
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().map_err(AppError::internal);
    let owner = ctx.principal.actor_uuid();
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let mut staff = Vec::new();
    for (email, _, role) in DEMO_STAFF {
        if let Some(u) = users::find_by_email(&tx, email).await? {
            staff.push((u.id.0, *role, u.email));
        }
    }
    tx.commit().await?;
    let find =
        |role: &str| staff.iter().find(|s| s.1 == role).map(|s| s.0).ok_or_else(|| AppError::internal(role.to_owned()));
    for (user, role, _) in &staff {
        let dept = match *role {
            "sales" => "sales",
            "purchasing" | "warehouse" => "operations",
            "accountant" => "finance",
            _ => continue,
        };
        put_position(app, ctx, *user, Some(owner), Some(dept.into())).await?;
    }
    let step = |name: &str, approvers: Vec<ApproverInput>, when: Conditions| StepInput {
        name: name.into(),
        quorum: Quorum::AnyOf,
        approvers,
        when,
    };
    let flow = |kind: &str, name: &str, when: Conditions, auto: Option<rust_decimal::Decimal>, steps| FlowInput {
        document_kind: kind.into(),
        name: name.into(),
        position: None,
        is_active: true,
        when,
        auto_approve_below: auto,
        steps,
    };
    let accountant = find("accountant")?;
    create_flow(
        app,
        ctx,
        flow(
            "purchase_order",
            "Purchases from 5,000",
            Conditions { min_amount: Some(d("5000")?), ..Conditions::default() },
            None,
            vec![
                step("manager", vec![ApproverInput::Manager], Conditions::default()),
                step(
                    "finance",
                    vec![ApproverInput::User(accountant)],
                    Conditions { min_amount: Some(d("20000")?), ..Conditions::default() },
                ),
            ],
        ),
    )
    .await?;
    create_flow(
        app,
        ctx,
        flow(
            "sales_order",
            "Discounts above 10 %",
            Conditions { discount_above: Some(d("0.10")?), ..Conditions::default() },
            None,
            vec![step("owner", vec![ApproverInput::User(owner)], Conditions::default())],
        ),
    )
    .await?;
    create_flow(
        app,
        ctx,
        flow(
            "expense_claim",
            "Expense claims",
            Conditions::default(),
            Some(d("200")?),
            vec![
                step("manager", vec![ApproverInput::Manager], Conditions::default()),
                step(
                    "finance",
                    vec![ApproverInput::User(accountant)],
                    Conditions { min_amount: Some(d("2000")?), ..Conditions::default() },
                ),
            ],
        ),
    )
    .await?;
    let rep = find("sales")?;
    let rep_ctx = super::Ctx {
        principal: crate::auth::Principal {
            actor: crate::auth::Actor::User(crate::domain::ids::UserId(rep)),
            name: "sales@demo.meridian.test".into(),
            ..ctx.principal.clone()
        },
        ..ctx.clone()
    };
    let today = app.now().date_naive();
    let line = |category: &str, what: &str, amount: &str, tax: &str, receipt: &str| -> AppResult<LineInput> {
        Ok(LineInput {
            category: category.into(),
            description: what.into(),
            expense_date: today,
            amount: d(amount)?,
            tax: Some(d(tax)?),
            account_id: None,
            receipt_ref: Some(receipt.into()),
            department: Some("sales".into()),
            project: Some("Mall fit-out".into()),
        })
    };
    let trip = ClaimInput {
        employee_id: None,
        claim_date: today,
        description: "Customer visit to the Shenzhen mall".into(),
        lines: vec![
            line("travel", "High-speed train Shanghai-Shenzhen, return", "1308.00", "108.00", "FP-44190811")?,
            line("lodging", "Hotel, two nights", "1060.00", "60.00", "FP-44190907")?,
            line("meals", "Dinner with the buyer", "260.00", "0", "RC-2207")?,
        ],
    };
    let (c, _) = create(app, &rep_ctx, trip).await?;
    submit(app, &rep_ctx, c.id).await?;
    let taxi = ClaimInput {
        employee_id: None,
        claim_date: today,
        description: "Taxi to the warehouse".into(),
        lines: vec![line("transport", "Taxi", "86.00", "0", "TX-5531")?],
    };
    let (c, _) = create(app, &rep_ctx, taxi).await?;
    submit(app, &rep_ctx, c.id).await?;
    Ok(())
}

/// CRM: the sales rep takes every new lead in turn; a lead just in, one contacted with a
/// follow-up due, one lost; an opportunity in negotiation and one won.
async fn seed_crm(app: &AppState, ctx: &super::Ctx, customer: uuid::Uuid) -> AppResult<()> {
    use super::crm::{self, ActivityInput, LeadInput, OpportunityInput, RuleInput};
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().map_err(AppError::internal);
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let rep = users::find_by_email(&tx, "sales@demo.meridian.test").await?.map(|u| u.id.0);
    tx.commit().await?;
    let Some(rep) = rep else { return Err(AppError::internal("demo sales rep missing")) };
    crm::put_assignment_rules(
        app,
        ctx,
        vec![RuleInput { kind: "round_robin".into(), match_value: None, user_ids: vec![rep], is_active: None }],
    )
    .await?;
    let lead = |name: &str, company: &str, email: &str, phone: &str, source: &str| LeadInput {
        name: Some(name.into()),
        company: Some(Some(company.into())),
        email: Some(Some(email.into())),
        phone: Some(Some(phone.into())),
        source: Some(source.into()),
        region: Some(Some("华东 East".into())),
        tags: Some(vec!["office furniture".into()]),
        ..LeadInput::default()
    };
    crm::create_lead(
        app,
        ctx,
        lead("赵磊 Zhao Lei", "Suzhou Co-Working", "zhao.lei@sz-cowork.example", "+86 512 6666 0101", "website"),
        false,
    )
    .await?;
    let called = crm::create_lead(
        app,
        ctx,
        lead("孙丽 Sun Li", "Ningbo Design Studio", "sun.li@nb-design.example", "+86 574 5555 0202", "trade_show"),
        false,
    )
    .await?;
    let today = app.now().date_naive();
    crm::log_activity(
        app,
        ctx,
        ActivityInput {
            kind: "call".into(),
            subject: "Met at the Shanghai furniture fair".into(),
            key_points: Some("Wants 12 standing desks for a new studio; asks for samples of the oak top".into()),
            outcome: Some("send samples".into()),
            customer_id: None,
            lead_id: Some(called.id),
            opportunity_id: None,
            owner_id: Some(rep),
            occurred_at: None,
            next_follow_up: Some(today),
        },
    )
    .await?;
    let lost = crm::create_lead(
        app,
        ctx,
        lead("钱伟 Qian Wei", "Hefei Print Shop", "qian.wei@hf-print.example", "+86 551 4444 0303", "phone"),
        false,
    )
    .await?;
    crm::lose_lead(app, ctx, lost.id, Some("only needed one desk; sent to a retailer".into())).await?;
    let stages = crm::stages(app, ctx.principal.tenant).await?;
    let negotiation = stages.iter().find(|s| s.code == "negotiation").map(|s| s.id);
    let opp = |name: &str, amount: &str, days: u64| -> AppResult<OpportunityInput> {
        Ok(OpportunityInput {
            name: Some(name.into()),
            customer_id: Some(customer),
            owner_id: Some(Some(rep)),
            source: Some("referral".into()),
            expected_amount: Some(d(amount)?),
            close_date: Some(today + chrono::Days::new(days)),
            ..OpportunityInput::default()
        })
    };
    let o = crm::create_opportunity(app, ctx, opp("Mall office refit: 40 desks", "48000", 30)?).await?;
    if let Some(n) = negotiation {
        crm::move_opportunity(app, ctx, o.id, n).await?;
    }
    let w = crm::create_opportunity(app, ctx, opp("Meeting room chairs", "6000", 10)?).await?;
    crm::close_opportunity(app, ctx, w.id, true, Some("best delivery date".into())).await?;
    Ok(())
}

/// The service desk: the partly delivered order has a ticket in progress with an internal and
/// a customer-visible note, and one resolved, closed and rated; a new ticket waits for someone
/// to take it; the customer rated the delivery.
async fn seed_service(app: &AppState, ctx: &super::Ctx, d: &Delivered) -> AppResult<()> {
    use super::service::{self, ActionInput, SurveyInput, TicketInput};
    use crate::domain::service::Action;
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let rep = users::find_by_email(&tx, "sales@demo.meridian.test").await?.map(|u| u.id.0);
    tx.commit().await?;
    let ticket = |subject: &str, description: &str, priority: &str, assignee: Option<uuid::Uuid>| TicketInput {
        customer_id: Some(d.customer),
        order_id: Some(Some(d.order)),
        subject: Some(subject.into()),
        description: Some(description.into()),
        priority: Some(priority.into()),
        assignee_id: Some(assignee),
        ..TicketInput::default()
    };
    let none = || ActionInput { note: None, reason: None };
    let squeak = service::create_ticket(
        app,
        ctx,
        ticket("办公椅扶手异响 Armrest squeaks", "Two of the six chairs delivered squeak when leaned on", "high", rep),
    )
    .await?;
    service::add_note(app, ctx, squeak.id, "internal", "Same batch as the return from Hangzhou last month?").await?;
    service::add_note(app, ctx, squeak.id, "customer", "Sorry about that: a technician will call you tomorrow.")
        .await?;
    service::act(app, ctx, squeak.id, Action::Start, none()).await?;
    let manual = service::create_ticket(
        app,
        ctx,
        ticket("安装说明 Assembly manual", "Asks for the assembly manual as a PDF", "low", rep),
    )
    .await?;
    service::act(
        app,
        ctx,
        manual.id,
        Action::Resolve,
        ActionInput { note: Some("The PDF is attached to this reply.".into()), reason: None },
    )
    .await?;
    service::act(app, ctx, manual.id, Action::Close, none()).await?;
    service::create_survey(
        app,
        ctx,
        SurveyInput { shipment_id: None, ticket_id: Some(manual.id), score: 4, comment: None, responded_at: None },
    )
    .await?;
    service::create_survey(
        app,
        ctx,
        SurveyInput {
            shipment_id: Some(d.delivery),
            ticket_id: None,
            score: 5,
            comment: Some("Delivered on time, well packed".into()),
            responded_at: None,
        },
    )
    .await?;
    service::create_ticket(
        app,
        ctx,
        ticket(
            "发票抬头更正 Invoice title correction",
            "The invoice title should read 杭州零售有限公司",
            "normal",
            None,
        ),
    )
    .await?;
    Ok(())
}

/// The credit-guard example plugin, built from `plugins/credit-guard` and kept prebuilt in
/// `plugins/dist` so that the demo needs no wasm toolchain.
pub const DEMO_PLUGIN: &[u8] = include_bytes!("../../../plugins/dist/credit-guard.wasm");
pub const DEMO_PLUGIN_MANIFEST: &str = include_str!("../../../plugins/credit-guard/manifest.json");

/// Plugins: the credit guard, enabled, holding orders above 100,000 CNY for customers tagged
/// "high value" for a manager's release.
async fn seed_plugins(app: &AppState, ctx: &super::Ctx) -> AppResult<()> {
    use super::plugins::{EnableInput, UploadInput, enable, set_settings, upload};
    use base64::Engine as _;
    let manifest: serde_json::Value = serde_json::from_str(DEMO_PLUGIN_MANIFEST).map_err(AppError::internal)?;
    let name = manifest["name"].as_str().unwrap_or_default().to_owned();
    let component = base64::engine::general_purpose::STANDARD.encode(DEMO_PLUGIN);
    upload(app, ctx, UploadInput { manifest, component }).await?;
    let settings = serde_json::json!({"tag": "high value", "limit": "100000"});
    set_settings(app, ctx, &name, settings.as_object().cloned().unwrap_or_default()).await?;
    enable(app, ctx, &name, EnableInput { capabilities: vec!["log".into()] }).await?;
    Ok(())
}

/// Two warehouses with bins; items of every kind (average and FIFO cost, units in boxes and
/// grams, a batch-tracked item, a service, one below its reorder point); opening stock, the
/// chairs received against GRNI with freight landed on them, chairs issued to cost of sales, a
/// transfer in transit, a stocktake being counted, a reservation and a draft issue.
async fn seed_inventory(
    app: &AppState,
    ctx: &super::Ctx,
    day: &dyn Fn(u32, u32) -> chrono::NaiveDate,
    id: &dyn Fn(&str) -> AppResult<uuid::Uuid>,
) -> AppResult<DemoItems> {
    use super::inventory::{
        DocumentInput, ItemInput, LineInput, NewReservation, WarehouseInput, create_bin, create_document, create_item,
        create_warehouse, post_document, reserve, ship_transfer,
    };
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().map_err(AppError::internal);
    let wh = |code: &str, name: &str| WarehouseInput {
        code: Some(code.into()),
        name: Some(name.into()),
        ..WarehouseInput::default()
    };
    let main = create_warehouse(app, ctx, wh("WH-MAIN", "主仓库 Main warehouse")).await?;
    let shanghai = create_warehouse(app, ctx, wh("WH-SH", "上海仓 Shanghai warehouse")).await?;
    for bin in ["A-01", "A-02", "B-01"] {
        create_bin(app, ctx, main.id, bin.into(), None).await?;
    }
    let item = |sku: &str, name: &str, kind: &str, unit: &str| ItemInput {
        sku: Some(sku.into()),
        name: Some(name.into()),
        item_type: Some(kind.into()),
        base_unit: Some(unit.into()),
        default_warehouse_id: Some(Some(main.id)),
        ..ItemInput::default()
    };
    let chair = create_item(
        app,
        ctx,
        ItemInput {
            units: Some(vec![("box".into(), d("4")?)]),
            purchase_unit: Some(Some("box".into())),
            safety_stock: Some(d("50")?),
            reorder_point: Some(d("80")?),
            reorder_quantity: Some(d("100")?),
            max_stock: Some(Some(d("600")?)),
            standard_cost: Some(d("300")?),
            weight: Some(Some(d("12")?)),
            ..item("CHAIR-01", "办公椅 Office chair", "purchased", "pcs")
        },
    )
    .await?;
    let desk = create_item(
        app,
        ctx,
        ItemInput {
            valuation_method: Some("fifo".into()),
            standard_cost: Some(d("650")?),
            ..item("DESK-01", "办公桌 Office desk", "both", "pcs")
        },
    )
    .await?;
    let foam = create_item(
        app,
        ctx,
        ItemInput {
            units: Some(vec![("g".into(), d("0.001")?)]),
            category: Some(Some("raw materials".into())),
            ..item("FOAM-01", "海绵 Seat foam", "purchased", "kg")
        },
    )
    .await?;
    let glue = create_item(
        app,
        ctx,
        ItemInput {
            batch_tracked: Some(true),
            shelf_life_days: Some(Some(180)),
            category: Some(Some("raw materials".into())),
            ..item("GLUE-01", "胶水 Upholstery glue", "purchased", "bottle")
        },
    )
    .await?;
    let lamp = create_item(
        app,
        ctx,
        ItemInput {
            safety_stock: Some(d("10")?),
            reorder_point: Some(d("15")?),
            reorder_quantity: Some(d("20")?),
            ..item("LAMP-01", "台灯 Desk lamp", "purchased", "pcs")
        },
    )
    .await?;
    let install = create_item(app, ctx, item("INSTALL", "安装服务 Installation service", "service", "hour")).await?;

    let line = |item: uuid::Uuid, qty: &str, cost: Option<&str>| -> AppResult<LineInput> {
        Ok(LineInput {
            item_id: Some(item),
            quantity: Some(d(qty)?),
            unit_cost: cost.map(d).transpose()?,
            ..LineInput::default()
        })
    };
    let doc = |kind: &str, date, lines: Vec<LineInput>| DocumentInput {
        kind: Some(kind.into()),
        date: Some(date),
        warehouse_id: Some(main.id),
        lines: Some(lines),
        ..DocumentInput::default()
    };
    let mut glue_lot = line(glue.id, "60", Some("18.50"))?;
    glue_lot.lot_number = Some("GL-2026-01".into());
    glue_lot.production_date = Some(day(3, 1));
    let opening = create_document(
        app,
        ctx,
        DocumentInput {
            purpose: Some("opening".into()),
            memo: Some("期初库存 Opening stock".into()),
            ..doc(
                "receipt",
                day(2, 1),
                vec![
                    line(desk.id, "30", Some("650"))?,
                    line(foam.id, "500", Some("12"))?,
                    glue_lot,
                    line(lamp.id, "12", Some("45"))?,
                ],
            )
        },
    )
    .await?;
    post_document(app, ctx, opening.0.id).await?;
    // The chairs on supplier invoice SZP-8812 (400 at 300.00), received against GRNI.
    let chairs = create_document(
        app,
        ctx,
        DocumentInput {
            counter_account_id: Some(id("220202")?),
            memo: Some("深圳配件 SZP-8812".into()),
            ..doc("receipt", day(2, 12), vec![line(chair.id, "400", Some("300"))?])
        },
    )
    .await?;
    post_document(app, ctx, chairs.0.id).await?;
    let freight = create_document(
        app,
        ctx,
        DocumentInput {
            kind: Some("landed_cost".into()),
            date: Some(day(2, 14)),
            basis: Some("quantity".into()),
            amount: Some(d("800")?),
            receipt_ids: Some(vec![chairs.0.id]),
            memo: Some("运费 Freight SZP-8812".into()),
            ..DocumentInput::default()
        },
    )
    .await?;
    post_document(app, ctx, freight.0.id).await?;
    // The chairs sold on the invoices above left stock to cost of sales.
    let sold = create_document(
        app,
        ctx,
        DocumentInput {
            reason: Some("销售出库 Delivered on sales invoices".into()),
            counter_account_id: Some(id("5401")?),
            ..doc("issue", day(1, 8), vec![line(chair.id, "135", None)?])
        },
    )
    .await?;
    post_document(app, ctx, sold.0.id).await?;
    let mut foam_grams = line(foam.id, "2500", None)?;
    foam_grams.unit = Some("g".into());
    let sample = create_document(
        app,
        ctx,
        DocumentInput {
            reason: Some("样品 Samples for a trade show".into()),
            ..doc("issue", day(1, 15), vec![foam_grams])
        },
    )
    .await?;
    post_document(app, ctx, sample.0.id).await?;
    let transfer = create_document(
        app,
        ctx,
        DocumentInput {
            to_warehouse_id: Some(shanghai.id),
            memo: Some("补货上海仓 Restock Shanghai".into()),
            ..doc("transfer", day(0, 1), vec![line(desk.id, "10", None)?])
        },
    )
    .await?;
    ship_transfer(app, ctx, transfer.0.id, Some(day(0, 1))).await?;
    let sh_chairs = create_document(
        app,
        ctx,
        DocumentInput {
            to_warehouse_id: Some(shanghai.id),
            ..doc("transfer", day(1, 20), vec![line(chair.id, "40", None)?])
        },
    )
    .await?;
    post_document(app, ctx, sh_chairs.0.id).await?;
    let lamps = line(lamp.id, "7", None)?;
    let lamps_out = create_document(
        app,
        ctx,
        DocumentInput { reason: Some("办公室自用 Office use".into()), ..doc("issue", day(0, 2), vec![lamps]) },
    )
    .await?;
    post_document(app, ctx, lamps_out.0.id).await?;
    let count_lamps = LineInput { item_id: Some(lamp.id), ..LineInput::default() };
    create_document(app, ctx, doc("stocktake", day(0, 3), vec![count_lamps])).await?;
    create_document(
        app,
        ctx,
        DocumentInput {
            reason: Some("报废 Damaged in storage".into()),
            ..doc("issue", day(0, 4), vec![line(chair.id, "2", None)?])
        },
    )
    .await?;
    let held = NewReservation {
        item_id: chair.id,
        warehouse_id: main.id,
        quantity: d("20")?,
        source_type: "sales_order".into(),
        source_id: "SO-DEMO-001".into(),
        memo: "苏州百货 next delivery".into(),
    };
    reserve(app, ctx, held).await?;
    Ok(DemoItems { warehouse: main.id, chair: chair.id, desk: desk.id, lamp: lamp.id, install: install.id })
}

/// Production: desks (made or bought) from a desk top, four legs (backflushed) and a phantom
/// fitting kit; the overhead rates; an order in progress (kit issued, two of five completed),
/// one planned for next month; and an MRP run whose suggestions wait for the planner.
async fn seed_production(
    app: &AppState,
    ctx: &super::Ctx,
    day: &dyn Fn(u32, u32) -> chrono::NaiveDate,
    warehouse: uuid::Uuid,
    desk: uuid::Uuid,
    desk_order: uuid::Uuid,
) -> AppResult<()> {
    use super::inventory::{DocumentInput, ItemInput, LineInput, create_document, create_item, post_document};
    use super::manufacturing::{CompleteInput, IssueInput, OrderInput, complete, create_order, issue, order_action};
    use super::production::{
        BomInput, BomLineInput, PlanningInput, SettingsInput, bom_action, create_bom, update_planning, update_settings,
    };
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().map_err(AppError::internal);
    let item = |sku: &str, name: &str, kind: &str| ItemInput {
        sku: Some(sku.into()),
        name: Some(name.into()),
        item_type: Some(kind.into()),
        base_unit: Some("pcs".into()),
        default_warehouse_id: Some(Some(warehouse)),
        ..ItemInput::default()
    };
    let top = create_item(app, ctx, item("TOP-01", "桌面板 Desk top", "purchased")).await?;
    let leg = create_item(app, ctx, item("LEG-01", "桌腿 Desk leg", "purchased")).await?;
    let fittings = create_item(app, ctx, item("FIT-KIT", "五金包 Fitting kit (phantom)", "manufactured")).await?;
    let screw = create_item(app, ctx, item("SCREW-01", "螺丝 Screw", "purchased")).await?;
    let line = |item: uuid::Uuid, qty: &str, cost: &str| -> AppResult<LineInput> {
        Ok(LineInput {
            item_id: Some(item),
            quantity: Some(d(qty)?),
            unit_cost: Some(d(cost)?),
            ..LineInput::default()
        })
    };
    let opening = create_document(
        app,
        ctx,
        DocumentInput {
            kind: Some("receipt".into()),
            date: Some(day(1, 5)),
            warehouse_id: Some(warehouse),
            purpose: Some("opening".into()),
            memo: Some("期初库存 Opening stock (production)".into()),
            lines: Some(vec![line(top.id, "12", "220")?, line(leg.id, "60", "30")?, line(screw.id, "1000", "0.2")?]),
            ..DocumentInput::default()
        },
    )
    .await?;
    post_document(app, ctx, opening.0.id).await?;
    let bom_line = |c: uuid::Uuid, q: &str, backflush: bool, phantom: bool| -> AppResult<BomLineInput> {
        Ok(BomLineInput {
            component_id: c,
            quantity: d(q)?,
            scrap_percent: None,
            issue_method: Some(if backflush { "backflush" } else { "kit" }.into()),
            phantom: Some(phantom),
            byproduct: None,
        })
    };
    let kit = create_bom(
        app,
        ctx,
        BomInput {
            item_id: fittings.id,
            revision: "A".into(),
            valid_from: None,
            valid_to: None,
            output_quantity: None,
            memo: None,
            lines: vec![BomLineInput { scrap_percent: Some(d("5")?), ..bom_line(screw.id, "16", true, false)? }],
        },
    )
    .await?;
    bom_action(app, ctx, kit.0.id, "activate").await?;
    let bom = create_bom(
        app,
        ctx,
        BomInput {
            item_id: desk,
            revision: "A".into(),
            valid_from: None,
            valid_to: None,
            output_quantity: None,
            memo: Some("标准办公桌 Standard desk".into()),
            lines: vec![
                bom_line(top.id, "1", false, false)?,
                bom_line(leg.id, "4", true, false)?,
                bom_line(fittings.id, "1", false, true)?,
            ],
        },
    )
    .await?;
    bom_action(app, ctx, bom.0.id, "activate").await?;
    update_settings(
        app,
        ctx,
        0,
        SettingsInput { overhead_rate: Some(d("0.05")?), overhead_per_unit: Some(d("20")?), move_tolerance_days: None },
    )
    .await?;
    update_planning(
        app,
        ctx,
        desk,
        0,
        PlanningInput {
            lead_time_days: Some(5),
            lot_policy: None,
            lot_period_days: None,
            lot_minimum: None,
            lot_multiple: Some(d("5")?),
        },
    )
    .await?;
    let today = app.now().date_naive();
    let order = |q: &str, due: chrono::NaiveDate, sales_order_id| -> AppResult<OrderInput> {
        Ok(OrderInput {
            item_id: desk,
            bom_id: Some(bom.0.id),
            quantity: d(q)?,
            warehouse_id: Some(warehouse),
            start_date: None,
            due_date: due,
            sales_order_id,
            memo: None,
        })
    };
    let running = create_order(app, ctx, order("5", today + chrono::Days::new(3), Some(desk_order))?).await?;
    order_action(app, ctx, running.0.id, "release").await?;
    issue(app, ctx, running.0.id, IssueInput { date: Some(day(0, 1)), lines: Vec::new() }).await?;
    complete(app, ctx, running.0.id, CompleteInput { date: Some(day(0, 1)), quantity: d("2")? }).await?;
    create_order(app, ctx, order("10", today + chrono::Days::new(35), None)?).await?;
    super::mrp::run(app, ctx, super::mrp::RunInput { items: None, horizon: None }).await?;
    Ok(())
}

/// What the trade seed needs from the inventory seed.
struct DemoItems {
    warehouse: uuid::Uuid,
    chair: uuid::Uuid,
    desk: uuid::Uuid,
    lamp: uuid::Uuid,
    install: uuid::Uuid,
}

/// Sales and purchasing: customer groups and terms, price lists for customers and suppliers,
/// the trade settings; a quotation sent, an order in draft, an order partly delivered and
/// billed, a dollar order confirmed; a low-stock request ordered, received in part and billed
/// through the three-way match, and a request still in draft.
async fn seed_trade(
    app: &AppState,
    ctx: &super::Ctx,
    day: &dyn Fn(u32, u32) -> chrono::NaiveDate,
    parties: [crate::store::receivables::Party; 4],
    items: DemoItems,
) -> AppResult<Delivered> {
    use super::purchasing::{self, MatchLineInput, MatchedInvoiceInput, ReceiptInput, ReceiptLineInput};
    use super::receivables::{PartyInput, tax_codes, update_party};
    use super::sales::{self, DeliveryInput, DeliveryLineInput, InvoiceDeliveriesInput};
    use super::trade::{
        OrderInput, OrderLineInput, PriceListInput, SettingsInput, create_order, create_price_list, put_settings,
    };
    use crate::domain::receivables::Side;
    use crate::domain::trade::{PriceBreak, TradeSide};
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().map_err(AppError::internal);
    let [retail, mall, export, parts] = parties;
    let vat13 = tax_codes(app, ctx.principal.tenant).await?.into_iter().find(|c| c.code == "VAT13").map(|c| c.id);
    update_party(
        app,
        ctx,
        Side::Receivable,
        retail.id,
        retail.version,
        PartyInput {
            group: Some(Some("trade".into())),
            tags: Some(vec!["high value".into()]),
            credit_limit: Some(Some(d("300000")?)),
            contacts: Some(vec![crate::store::receivables::Contact {
                name: "周敏 Zhou Min".into(),
                role: Some("采购 buyer".into()),
                email: Some("zhou.min@hz-retail.example".into()),
                phone: Some("+86 571 8888 1234".into()),
            }]),
            due_rule: Some("end_of_month".into()),
            ..PartyInput::default()
        },
    )
    .await?;
    let brk = |item, min: &str, price: &str, lead: Option<i32>| -> AppResult<PriceBreak> {
        Ok(PriceBreak {
            item_id: item,
            min_quantity: d(min)?,
            unit_price: d(price)?,
            discount_percent: rust_decimal::Decimal::ZERO,
            lead_time_days: lead,
            min_order_quantity: None,
        })
    };
    let list = |side, code: &str, name: &str, currency: &str, party, group: Option<&str>, items| PriceListInput {
        side,
        code: code.into(),
        name: name.into(),
        currency: Some(currency.into()),
        tax_inclusive: false,
        party_group: group.map(Into::into),
        party_id: party,
        valid_from: Some(day(3, 1)),
        valid_to: None,
        is_active: true,
        items,
    };
    let i = &items;
    for l in [
        list(
            TradeSide::Sales,
            "RETAIL",
            "零售价 Retail",
            "CNY",
            None,
            None,
            vec![brk(i.chair, "0", "800", None)?, brk(i.desk, "0", "1500", None)?, brk(i.install, "0", "120", None)?],
        ),
        list(
            TradeSide::Sales,
            "TRADE",
            "批发价 Trade",
            "CNY",
            None,
            Some("trade"),
            vec![brk(i.chair, "0", "780", None)?, brk(i.chair, "10", "760", None)?, brk(i.desk, "5", "1400", None)?],
        ),
        list(
            TradeSide::Sales,
            "EXPORT-USD",
            "Export (USD)",
            "USD",
            None,
            None,
            vec![brk(i.chair, "0", "120", None)?, brk(i.desk, "0", "220", None)?],
        ),
        list(
            TradeSide::Purchase,
            "SZP-2026",
            "深圳配件 price list",
            "CNY",
            Some(parts.id),
            None,
            vec![
                brk(i.chair, "0", "300", Some(7))?,
                brk(i.desk, "0", "900", Some(14))?,
                brk(i.lamp, "0", "45", Some(5))?,
            ],
        ),
    ] {
        create_price_list(app, ctx, l).await?;
    }
    put_settings(
        app,
        ctx,
        0,
        SettingsInput {
            overdue_block_days: Some(60),
            over_receipt_tolerance: d("0.05")?,
            price_tolerance: d("0.02")?,
            quantity_tolerance: rust_decimal::Decimal::ZERO,
        },
    )
    .await?;
    let line = |item, qty: &str| -> AppResult<OrderLineInput> {
        Ok(OrderLineInput {
            item_id: item,
            description: None,
            warehouse_id: None,
            quantity: d(qty)?,
            unit_price: None,
            discount_percent: None,
            discount_amount: None,
            tax_code_id: vat13,
            expected_date: None,
            request_id: None,
            price_rule: None,
        })
    };
    let order = |party, kind: &str, date, lines| OrderInput {
        party_id: party,
        kind: kind.into(),
        order_date: date,
        expected_date: None,
        valid_until: None,
        currency: None,
        exchange_rate: None,
        tax_inclusive: None,
        discount_percent: None,
        warehouse_id: None,
        reference: None,
        memo: None,
        lines,
    };
    let quote =
        create_order(app, ctx, TradeSide::Sales, order(mall.id, "quotation", day(0, 6), vec![line(i.desk, "4")?]))
            .await?;
    sales::quotation_action(app, ctx, quote.0.id, "send", None).await?;
    let (desk_order, _) =
        create_order(app, ctx, TradeSide::Sales, order(retail.id, "order", day(0, 9), vec![line(i.desk, "2")?]))
            .await?;
    // Confirmed; the desks come from the production order made for it (seed_production).
    sales::confirm(app, ctx, desk_order.id, true).await?;
    let mut big = order(retail.id, "order", day(0, 7), vec![line(i.chair, "12")?, line(i.install, "3")?]);
    big.discount_percent = Some(d("0.02")?);
    big.reference = Some("PO-HZ-130".into());
    let (so, _) = create_order(app, ctx, TradeSide::Sales, big).await?;
    sales::confirm(app, ctx, so.id, true).await?;
    let dn = sales::deliver(
        app,
        ctx,
        DeliveryInput {
            customer_id: retail.id,
            date: day(0, 8),
            reference: None,
            memo: Some("first half".into()),
            lines: vec![DeliveryLineInput {
                order_id: so.id,
                line_no: 1,
                quantity: d("6")?,
                warehouse_id: None,
                batch_id: None,
            }],
        },
    )
    .await?;
    sales::invoice_deliveries(
        app,
        ctx,
        InvoiceDeliveriesInput {
            delivery_ids: vec![dn.0.id],
            invoice_date: day(0, 8),
            exchange_rate: None,
            due_date: None,
        },
    )
    .await?;
    let (usd, _) =
        create_order(app, ctx, TradeSide::Sales, order(export.id, "order", day(0, 10), vec![line(i.chair, "5")?]))
            .await?;
    sales::confirm(app, ctx, usd.id, true).await?;

    let (requests, _) = purchasing::requests_from_low_stock(app, ctx, day(0, 20)).await?;
    let ids: Vec<uuid::Uuid> = requests.iter().map(|r| r.id).collect();
    for r in &ids {
        purchasing::request_action(app, ctx, *r, "approve", Some("restock".into())).await?;
    }
    if !ids.is_empty() {
        let pos = purchasing::orders_from_requests(app, ctx, &ids, day(0, 11)).await?;
        if let Some((po, lines)) = pos.into_iter().next() {
            purchasing::order_action(app, ctx, po.id, "approve", None).await?;
            let first = lines.first().ok_or_else(|| AppError::internal("demo purchase order without lines"))?;
            let half = (first.quantity / rust_decimal::Decimal::TWO).round_dp(0).max(rust_decimal::Decimal::ONE);
            let (grn, _) = purchasing::receive(
                app,
                ctx,
                ReceiptInput {
                    supplier_id: po.party_id,
                    date: day(0, 13),
                    reference: Some("SZP-DN-5521".into()),
                    memo: None,
                    lines: vec![ReceiptLineInput {
                        order_id: po.id,
                        line_no: first.line_no,
                        quantity: half,
                        warehouse_id: None,
                        batch_id: None,
                    }],
                },
            )
            .await?;
            purchasing::invoice_receipts(
                app,
                ctx,
                MatchedInvoiceInput {
                    supplier_id: po.party_id,
                    invoice_date: day(0, 14),
                    due_date: None,
                    reference: Some("SZP-INV-9031".into()),
                    exchange_rate: None,
                    memo: None,
                    lines: vec![MatchLineInput {
                        receipt_id: grn.id,
                        line_no: 1,
                        quantity: half,
                        unit_price: first.unit_price,
                        tax_code_id: vat13,
                        fixed_base: None,
                    }],
                },
            )
            .await?;
        }
    }
    purchasing::create_request(
        app,
        ctx,
        purchasing::RequestInput {
            item_id: i.desk,
            warehouse_id: Some(i.warehouse),
            quantity: d("10")?,
            needed_by: day(0, 25),
            supplier_id: None,
            memo: Some("展厅样品 showroom samples".into()),
        },
    )
    .await?;
    Ok(Delivered { customer: retail.id, order: so.id, delivery: dn.0.id, desk_order: desk_order.id })
}

/// The sales order the demo delivered in part, for the service desk to talk about.
struct Delivered {
    customer: uuid::Uuid,
    order: uuid::Uuid,
    delivery: uuid::Uuid,
    /// The order for two desks, which the running production order makes.
    desk_order: uuid::Uuid,
}
