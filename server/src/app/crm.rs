//! CRM: leads (de-duplicated on email and phone, assigned by the tenant's rules, converted into
//! a customer, a contact and an opportunity in one step), the pipeline (stages per tenant with
//! probabilities; every stage an opportunity passes through is kept, and each stage's running
//! totals move with it in the same transaction), activities with their follow-ups, and the
//! quotation made from an opportunity, which wins it when the customer accepts.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::receivables::{PartyInput, check_owner, clean_tags as tags, next_number, optional as text};
use super::{AppState, Change, Ctx, record, stale};
use crate::domain::crm::{self as rules, StageTotals};
use crate::domain::ids::TenantId;
use crate::domain::receivables::Side;
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::crm::{
    self as store, Activity, ActivityFilter, Lead, LeadFilter, Opportunity, OpportunityFilter, PipelineStage, Rule,
    Visit,
};
use crate::store::receivables::{Contact, Party};
use crate::store::{Access, Page, TenantTx};

// ================================================================ assignment rules

pub struct RuleInput {
    pub kind: String,
    pub match_value: Option<String>,
    pub user_ids: Vec<Uuid>,
    pub is_active: Option<bool>,
}

pub async fn assignment_rules(app: &AppState, tenant: TenantId) -> AppResult<Vec<Rule>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::rules(&tx, false).await?;
    tx.commit().await?;
    Ok(r)
}

/// Replaces the tenant's assignment rules; they are tried in the order given.
pub async fn put_assignment_rules(app: &AppState, ctx: &Ctx, input: Vec<RuleInput>) -> AppResult<Vec<Rule>> {
    let now = app.now();
    let mut f = Fields::new();
    if input.len() > 50 {
        f.push("rules", "at most 50 rules");
    }
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::rules(&tx, true).await?;
    let mut out = Vec::with_capacity(input.len());
    for (i, r) in input.into_iter().enumerate() {
        let at = |x: &str| format!("rules[{i}].{x}");
        match r.kind.as_str() {
            "round_robin" => {
                if r.match_value.is_some() {
                    f.push(at("match_value"), "a round-robin rule matches every lead; leave it out");
                }
            }
            "region" | "tag" => {
                if r.match_value.as_deref().is_none_or(|m| m.trim().is_empty()) {
                    f.push(at("match_value"), format!("name the {} this rule matches", r.kind));
                }
            }
            _ => f.push(at("kind"), "must be one of round_robin, region, tag"),
        }
        if r.user_ids.is_empty() || r.user_ids.len() > 100 {
            f.push(at("user_ids"), "name 1 to 100 users");
        }
        for (j, u) in r.user_ids.iter().enumerate() {
            if let Err(AppError::Validation(e)) = check_owner(&tx, Some(*u), &format!("rules[{i}].user_ids[{j}]")).await
            {
                for e in e {
                    f.push(e.field, e.message);
                }
            }
        }
        let same = |x: &Rule| {
            x.kind == r.kind && x.match_value.as_deref().map(str::trim) == r.match_value.as_deref().map(str::trim)
        };
        if out.iter().any(same) {
            f.push(at("kind"), "the same rule appears twice");
        }
        let kept = before.iter().find(|b| same(b));
        out.push(Rule {
            id: kept.map_or_else(Uuid::now_v7, |b| b.id),
            position: i32::try_from(i).unwrap_or(i32::MAX),
            kind: r.kind,
            match_value: r.match_value.map(|m| m.trim().to_owned()),
            user_ids: r.user_ids,
            next_index: kept.map_or(0, |b| b.next_index),
            is_active: r.is_active.unwrap_or(true),
            created_at: kept.map_or(now, |b| b.created_at),
            updated_at: now,
            version: kept.map_or(1, |b| b.version + 1),
        });
    }
    f.finish()?;
    store::replace_rules(&tx, &out).await?;
    let json = |rs: &[Rule]| {
        serde_json::json!(
            rs.iter()
                .map(|r| serde_json::json!({"kind": r.kind, "match_value": r.match_value, "user_ids": r.user_ids, "is_active": r.is_active}))
                .collect::<Vec<_>>()
        )
    };
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "lead_assignment_rules.replace",
            "lead_assignment_rules",
            None,
            Some(json(&before)),
            Some(json(&out)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

// ================================================================ leads

#[derive(Clone, Default)]
pub struct LeadInput {
    pub name: Option<String>,
    pub company: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub source: Option<String>,
    pub region: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub owner_id: Option<Option<Uuid>>,
    pub status: Option<String>,
    pub memo: Option<String>,
}

fn lead_json(l: &Lead) -> serde_json::Value {
    serde_json::json!({
        "number": l.number, "name": l.name, "company": l.company, "email": l.email, "phone": l.phone,
        "source": l.source, "region": l.region, "tags": l.tags, "status": l.status, "owner_id": l.owner_id,
        "lost_reason": l.lost_reason, "customer_id": l.customer_id, "opportunity_id": l.opportunity_id,
    })
}

fn apply_lead(l: &mut Lead, input: LeadInput) -> AppResult<()> {
    let mut f = Fields::new();
    if let Some(n) = input.name
        && let Some(n) = f.check("name", validate::name(&n, 200))
    {
        l.name = n;
    }
    if let Some(c) = input.company {
        l.company = text(&mut f, "company", c, 200);
    }
    if let Some(e) = input.email {
        l.email = text(&mut f, "email", e, 254);
        if l.email.as_deref().is_some_and(|e| rules::email_key(e).is_none()) {
            f.push("email", "is not an email address");
        }
    }
    if let Some(p) = input.phone {
        l.phone = text(&mut f, "phone", p, 40);
        if l.phone.as_deref().is_some_and(|p| rules::phone_key(p).is_none()) {
            f.push("phone", "needs at least 6 digits");
        }
    }
    if let Some(s) = input.source {
        if !rules::LEAD_SOURCES.contains(&s.as_str()) {
            f.push("source", format!("must be one of {}", rules::LEAD_SOURCES.join(", ")));
        }
        l.source = s;
    }
    if let Some(r) = input.region {
        l.region = text(&mut f, "region", r, 40);
    }
    if let Some(t) = input.tags {
        l.tags = tags(&mut f, "tags", t);
    }
    if let Some(o) = input.owner_id {
        l.owner_id = o;
    }
    if let Some(m) = input.memo {
        l.memo = text(&mut f, "memo", Some(m), 2000).unwrap_or_default();
    }
    if let Some(s) = input.status
        && s != l.status
    {
        match rules::lead_move_ok(&l.status, &s) {
            Ok(()) => l.status = s,
            Err(m) if m.starts_with("the lead") => {
                return Err(AppError::InvalidState { entity: "lead", state: l.status.clone(), action: "edited" });
            }
            Err(m) => f.push("status", m),
        }
    }
    if l.email.is_none() && l.phone.is_none() {
        f.push("email", "give an email or a phone number, so the lead can be reached");
    }
    f.finish()
}

/// Refuses a lead whose email or phone another open lead (or, by email, a customer) already
/// has, naming it.
async fn refuse_duplicates(tx: &TenantTx<'_>, l: &Lead) -> AppResult<()> {
    let ek = l.email.as_deref().and_then(rules::email_key);
    let pk = l.phone.as_deref().and_then(rules::phone_key);
    let dups = store::lead_duplicates(tx, ek.as_deref(), pk.as_deref(), Some(l.id)).await?;
    if let Some(d) = dups.first() {
        let on = if ek.is_some() && d.email.as_deref().and_then(rules::email_key) == ek { "email" } else { "phone" };
        return Err(AppError::Conflict(format!(
            "lead {} ({}) already has this {on}; add to it, or say allow_duplicate",
            d.number, d.name
        )));
    }
    if let Some(e) = &ek
        && let Some(c) = crate::store::receivables::customer_with_email(tx, e).await?
    {
        return Err(AppError::Conflict(format!(
            "customer {} ({}) already has this email; log an activity on it, or say allow_duplicate",
            c.code, c.name
        )));
    }
    Ok(())
}

pub async fn create_lead(app: &AppState, ctx: &Ctx, input: LeadInput, allow_duplicate: bool) -> AppResult<Lead> {
    let now = app.now();
    if input.name.is_none() {
        return Err(AppError::field("name", "is required"));
    }
    let mut l = Lead {
        id: Uuid::now_v7(),
        number: String::new(),
        name: String::new(),
        company: None,
        email: None,
        phone: None,
        source: "other".into(),
        region: None,
        tags: Vec::new(),
        status: "new".into(),
        owner_id: None,
        lost_reason: None,
        memo: String::new(),
        customer_id: None,
        opportunity_id: None,
        converted_at: None,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    if input.status.as_deref().is_some_and(|s| s != "new") {
        return Err(AppError::field("status", "a new lead starts as new"));
    }
    apply_lead(&mut l, input)?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    check_owner(&tx, l.owner_id, "owner_id").await?;
    // One at a time per tenant from here: two submissions of the same lead must not both pass.
    store::lock_leads(&tx).await?;
    if !allow_duplicate {
        refuse_duplicates(&tx, &l).await?;
    }
    if l.owner_id.is_none() {
        let rs: Vec<_> = store::rules(&tx, true).await?.into_iter().filter(|r| r.is_active).collect();
        let mut domain: Vec<_> = rs.iter().map(Rule::to_domain).collect();
        // Users deactivated since the rules were written get no leads.
        for r in &mut domain {
            let mut active = Vec::with_capacity(r.users.len());
            for u in &r.users {
                if check_owner(&tx, Some(*u), "owner_id").await.is_ok() {
                    active.push(*u);
                }
            }
            r.users = active;
        }
        if let Some((rule, user)) = rules::assign(&domain, l.region.as_deref(), &l.tags) {
            l.owner_id = Some(user);
            store::advance_rule(&tx, rule).await?;
        }
    }
    l.number = next_number(&tx, "lead", "LD").await?;
    store::insert_lead(&tx, &l).await?;
    record(&tx, ctx, now, Change::new("lead.create", "lead", Some(l.id.to_string()), None, Some(lead_json(&l))))
        .await?;
    tx.commit().await?;
    Ok(l)
}

pub async fn update_lead(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    input: LeadInput,
    allow_duplicate: bool,
) -> AppResult<Lead> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::get_lead(&tx, id, true).await?.ok_or(AppError::NotFound { entity: "lead" })?;
    if before.version != if_match {
        return Err(stale("lead", before.version));
    }
    if !["new", "contacted", "qualified"].contains(&before.status.as_str()) {
        return Err(AppError::InvalidState { entity: "lead", state: before.status.clone(), action: "edited" });
    }
    let mut l = before.clone();
    apply_lead(&mut l, input)?;
    if l.owner_id != before.owner_id {
        check_owner(&tx, l.owner_id, "owner_id").await?;
    }
    if !allow_duplicate && (l.email != before.email || l.phone != before.phone) {
        store::lock_leads(&tx).await?;
        refuse_duplicates(&tx, &l).await?;
    }
    let l = save_lead(&tx, ctx, &before, l, "lead.update", now).await?;
    tx.commit().await?;
    Ok(l)
}

/// Saves a lead changed from `before` (its version raised by one) and records the change.
async fn save_lead(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    before: &Lead,
    mut l: Lead,
    action: &str,
    now: DateTime<Utc>,
) -> AppResult<Lead> {
    l.updated_at = now;
    l.version = before.version + 1;
    if !store::save_lead(tx, &l).await? {
        return Err(stale("lead", before.version));
    }
    record(
        tx,
        ctx,
        now,
        Change::new(action, "lead", Some(l.id.to_string()), Some(lead_json(before)), Some(lead_json(&l))),
    )
    .await?;
    Ok(l)
}

pub async fn lose_lead(app: &AppState, ctx: &Ctx, id: Uuid, reason: Option<String>) -> AppResult<Lead> {
    let now = app.now();
    let mut f = Fields::new();
    let reason = text(&mut f, "reason", reason, 500);
    if reason.is_none() {
        f.push("reason", "say why the lead was lost");
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::get_lead(&tx, id, true).await?.ok_or(AppError::NotFound { entity: "lead" })?;
    if !["new", "contacted", "qualified"].contains(&before.status.as_str()) {
        return Err(AppError::InvalidState { entity: "lead", state: before.status.clone(), action: "lost" });
    }
    let mut l = before.clone();
    l.status = "lost".into();
    l.lost_reason = reason;
    let l = save_lead(&tx, ctx, &before, l, "lead.lose", now).await?;
    tx.commit().await?;
    Ok(l)
}

pub async fn get_lead(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Lead> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let l = store::get_lead(&tx, id, false).await?.ok_or(AppError::NotFound { entity: "lead" })?;
    tx.commit().await?;
    Ok(l)
}

pub async fn list_leads(app: &AppState, tenant: TenantId, f: &LeadFilter, page: &Page) -> AppResult<Vec<Lead>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_leads(&tx, f, page).await?;
    tx.commit().await?;
    Ok(r)
}

/// What converting a lead makes: the customer (a new one, or an existing one named by id) and
/// the opportunity.
pub struct ConvertInput {
    pub customer_id: Option<Uuid>,
    /// Code of the new customer (default: the lead's number).
    pub customer_code: Option<String>,
    pub opportunity: OpportunityInput,
}

pub struct Converted {
    pub lead: Lead,
    pub customer: Party,
    pub opportunity: Opportunity,
}

/// Converts a lead in one transaction: a customer (or the one named) with the lead's person as
/// a contact, an opportunity at the first stage, and the lead's activities carried over to
/// the customer.
pub async fn convert_lead(app: &AppState, ctx: &Ctx, id: Uuid, input: ConvertInput) -> AppResult<Converted> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::get_lead(&tx, id, true).await?.ok_or(AppError::NotFound { entity: "lead" })?;
    if !["new", "contacted", "qualified"].contains(&before.status.as_str()) {
        return Err(AppError::InvalidState { entity: "lead", state: before.status.clone(), action: "converted" });
    }
    let contact =
        Contact { name: before.name.clone(), role: None, email: before.email.clone(), phone: before.phone.clone() };
    let customer = match input.customer_id {
        Some(cid) => {
            let mut c = super::trade::active_party(&tx, crate::domain::trade::TradeSide::Sales, cid)
                .await
                .map_err(|_| AppError::field("customer_id", "no such active customer"))?;
            if !c.contacts.iter().any(|k| k.name == contact.name && k.email == contact.email) {
                let mut contacts = c.contacts.clone();
                contacts.push(contact);
                c = super::receivables::update_party_in(
                    &tx,
                    ctx,
                    Side::Receivable,
                    c.id,
                    None,
                    PartyInput { contacts: Some(contacts), ..Default::default() },
                    now,
                )
                .await?;
            }
            c
        }
        None => {
            let name = before.company.clone().unwrap_or_else(|| before.name.clone());
            let code = input.customer_code.unwrap_or_else(|| before.number.clone());
            super::receivables::create_party_in(
                &tx,
                ctx,
                Side::Receivable,
                PartyInput {
                    code: Some(code),
                    name: Some(name),
                    email: Some(before.email.clone()),
                    phone: Some(before.phone.clone()),
                    tags: Some(before.tags.clone()),
                    contacts: Some(vec![contact]),
                    owner_id: Some(before.owner_id),
                    region: Some(before.region.clone()),
                    ..Default::default()
                },
                now,
            )
            .await
            .map_err(|e| match e {
                AppError::Validation(errs) => AppError::Validation(
                    errs.into_iter()
                        .map(|mut e| {
                            e.field = if e.field == "code" {
                                "customer_code".into()
                            } else {
                                format!("customer.{}", e.field)
                            };
                            e
                        })
                        .collect(),
                ),
                e => e,
            })?
        }
    };
    let mut oi = input.opportunity;
    oi.customer_id = Some(customer.id);
    oi.owner_id = oi.owner_id.or(Some(before.owner_id));
    oi.source = oi.source.or_else(|| Some(before.source.clone()));
    oi.contact_name = oi.contact_name.or_else(|| Some(Some(before.name.clone())));
    if oi.name.is_none() {
        oi.name = Some(format!("{} – {}", customer.name, before.name));
    }
    let opp = create_opportunity_in(&tx, ctx, oi, Some(before.id), now).await.map_err(|e| match e {
        AppError::Validation(errs) => AppError::Validation(
            errs.into_iter()
                .map(|mut e| {
                    e.field = format!("opportunity.{}", e.field);
                    e
                })
                .collect(),
        ),
        e => e,
    })?;
    let mut l = before.clone();
    l.status = "converted".into();
    l.customer_id = Some(customer.id);
    l.opportunity_id = Some(opp.id);
    l.converted_at = Some(now);
    let l = save_lead(&tx, ctx, &before, l, "lead.convert", now).await?;
    store::carry_activities(&tx, l.id, customer.id).await?;
    tx.commit().await?;
    Ok(Converted { lead: l, customer, opportunity: opp })
}

// ================================================================ pipeline stages

const DEFAULT_STAGES: [(&str, &str, &str, &str); 6] = [
    ("prospecting", "Prospecting", "0.1", "open"),
    ("qualification", "Qualification", "0.25", "open"),
    ("proposal", "Proposal", "0.5", "open"),
    ("negotiation", "Negotiation", "0.75", "open"),
    ("won", "Won", "1", "won"),
    ("lost", "Lost", "0", "lost"),
];

/// The tenant's stages, made from the defaults the first time they are needed.
async fn stages_in(tx: &TenantTx<'_>, now: DateTime<Utc>) -> AppResult<Vec<PipelineStage>> {
    let have = store::stages(tx).await?;
    if !have.is_empty() {
        return Ok(have);
    }
    store::lock_pipeline(tx).await?;
    let have = store::stages(tx).await?;
    if !have.is_empty() {
        return Ok(have);
    }
    for (i, (code, name, p, kind)) in DEFAULT_STAGES.iter().enumerate() {
        store::insert_stage(
            tx,
            &PipelineStage {
                id: Uuid::now_v7(),
                code: (*code).into(),
                name: (*name).into(),
                position: i32::try_from(i + 1).unwrap_or(i32::MAX),
                probability: p.parse().unwrap_or_default(),
                kind: (*kind).into(),
                is_active: true,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
    }
    store::stages(tx).await
}

pub async fn stages(app: &AppState, tenant: TenantId) -> AppResult<Vec<PipelineStage>> {
    let tx = app.store.begin(tenant, Access::Write).await?;
    let s = stages_in(&tx, app.now()).await?;
    tx.commit().await?;
    Ok(s)
}

pub struct StageInput {
    pub code: String,
    pub name: String,
    pub probability: Decimal,
    pub kind: String,
}

/// Replaces the pipeline: the stages in order. A stage left out is retired (kept for history)
/// and must hold no open opportunity; exactly one won and one lost stage, at least one open.
pub async fn put_stages(app: &AppState, ctx: &Ctx, input: Vec<StageInput>) -> AppResult<Vec<PipelineStage>> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    store::lock_pipeline(&tx).await?;
    let before = stages_in(&tx, now).await?;
    let totals = store::stage_totals(&tx).await?;
    let mut f = Fields::new();
    if input.len() > 30 {
        f.push("stages", "at most 30 stages");
    }
    let count = |k: &str| input.iter().filter(|s| s.kind == k).count();
    if count("open") == 0 {
        f.push("stages", "need at least one open stage");
    }
    if count("won") != 1 || count("lost") != 1 {
        f.push("stages", "need exactly one won and one lost stage");
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, s) in input.into_iter().enumerate() {
        let at = |x: &str| format!("stages[{i}].{x}");
        let code = s.code.trim().to_lowercase();
        if code.is_empty() || code.len() > 40 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            f.push(at("code"), "must be 1 to 40 letters, digits or _");
        } else if !seen.insert(code.clone()) {
            f.push(at("code"), "appears twice");
        }
        let name = f.check(&at("name"), validate::name(&s.name, 100)).unwrap_or_default();
        if s.probability < Decimal::ZERO || s.probability > Decimal::ONE {
            f.push(at("probability"), "must be between 0 and 1");
        }
        if !["open", "won", "lost"].contains(&s.kind.as_str()) {
            f.push(at("kind"), "must be one of open, won, lost");
        }
        let old = before.iter().find(|b| b.code == code);
        if let Some(o) = old
            && o.kind != s.kind
            && totals.get(&o.id).is_some_and(|t| t.entered > 0)
        {
            f.push(at("kind"), format!("stage {code} has history as a {} stage; add a new stage instead", o.kind));
        }
        out.push(PipelineStage {
            id: old.map_or_else(Uuid::now_v7, |o| o.id),
            code,
            name,
            position: i32::try_from(i + 1).unwrap_or(i32::MAX),
            probability: s.probability,
            kind: s.kind,
            is_active: true,
            created_at: old.map_or(now, |o| o.created_at),
            updated_at: now,
        });
    }
    for b in before.iter().filter(|b| b.is_active && !out.iter().any(|o| o.id == b.id)) {
        let open = totals.get(&b.id).map_or(0, |t| t.open_count);
        if open > 0 {
            f.push("stages", format!("stage {} still holds {open} open opportunities; move them first", b.code));
        }
    }
    f.finish()?;
    for s in &out {
        if before.iter().any(|b| b.id == s.id) {
            store::update_stage(&tx, s).await?;
        } else {
            store::insert_stage(&tx, s).await?;
        }
    }
    let retired = before.iter().filter(|b| !out.iter().any(|o| o.id == b.id));
    for (pos, b) in (i32::try_from(out.len()).unwrap_or(0) + 1..).zip(retired) {
        store::update_stage(&tx, &PipelineStage { is_active: false, position: pos, updated_at: now, ..b.clone() })
            .await?;
    }
    let json = |ss: &[PipelineStage]| {
        serde_json::json!(ss.iter().map(|s| serde_json::json!({"code": s.code, "name": s.name, "probability": s.probability.to_string(), "kind": s.kind, "is_active": s.is_active})).collect::<Vec<_>>())
    };
    let after = store::stages(&tx).await?;
    record(&tx, ctx, now, Change::new("pipeline.replace", "pipeline", None, Some(json(&before)), Some(json(&after))))
        .await?;
    tx.commit().await?;
    Ok(after)
}

// ================================================================ opportunities

#[derive(Default)]
pub struct OpportunityInput {
    pub name: Option<String>,
    pub customer_id: Option<Uuid>,
    pub contact_name: Option<Option<String>>,
    pub owner_id: Option<Option<Uuid>>,
    pub source: Option<String>,
    pub stage_id: Option<Uuid>,
    pub currency: Option<String>,
    pub expected_amount: Option<Decimal>,
    pub close_date: Option<NaiveDate>,
    pub memo: Option<String>,
}

fn opportunity_json(o: &Opportunity) -> serde_json::Value {
    serde_json::json!({
        "number": o.number, "name": o.name, "customer_id": o.customer_id, "owner_id": o.owner_id, "stage_id": o.stage_id,
        "status": o.status, "probability": o.probability.to_string(), "currency": o.currency,
        "expected_amount": o.expected_amount.to_string(), "close_date": o.close_date, "reason": o.reason,
        "quotation_id": o.quotation_id, "sales_order_id": o.sales_order_id,
    })
}

/// Checks and applies the editable fields (not the stage, the customer or the currency's
/// conversion).
fn apply_opportunity(o: &mut Opportunity, input: &mut OpportunityInput, f: &mut Fields) {
    if let Some(n) = input.name.take()
        && let Some(n) = f.check("name", validate::name(&n, 200))
    {
        o.name = n;
    }
    if let Some(c) = input.contact_name.take() {
        o.contact_name = text(f, "contact_name", c, 200);
    }
    if let Some(w) = input.owner_id.take() {
        o.owner_id = w;
    }
    if let Some(s) = input.source.take() {
        if !rules::LEAD_SOURCES.contains(&s.as_str()) {
            f.push("source", format!("must be one of {}", rules::LEAD_SOURCES.join(", ")));
        }
        o.source = Some(s);
    }
    if let Some(a) = input.expected_amount.take() {
        if a < Decimal::ZERO {
            f.push("expected_amount", "must not be negative");
        }
        o.expected_amount = a;
    }
    if let Some(d) = input.close_date.take() {
        o.close_date = d;
    }
    if let Some(m) = input.memo.take() {
        o.memo = text(f, "memo", Some(m), 2000).unwrap_or_default();
    }
}

/// The expected amount in the base currency, at the rate of `day`.
async fn to_base(tx: &TenantTx<'_>, o: &Opportunity, day: NaiveDate) -> AppResult<Decimal> {
    let (_, rate, _) = super::ledger::currency_and_rate(tx, Some(o.currency.clone()), None, day).await?;
    Ok((o.expected_amount * rate).round_dp(2))
}

pub(crate) async fn create_opportunity_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    mut input: OpportunityInput,
    lead: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Opportunity> {
    let mut f = Fields::new();
    let Some(customer_id) = input.customer_id else {
        return Err(AppError::field("customer_id", "is required"));
    };
    let customer = super::trade::active_party(tx, crate::domain::trade::TradeSide::Sales, customer_id)
        .await
        .map_err(|_| AppError::field("customer_id", "no such active customer"))?;
    let stages = stages_in(tx, now).await?;
    let wanted = match input.stage_id {
        Some(s) => s,
        None => {
            stages
                .iter()
                .find(|x| x.kind == "open" && x.is_active)
                .ok_or_else(|| AppError::internal("a pipeline without an open stage"))?
                .id
        }
    };
    // Read for share: a pipeline edit retiring the stage waits for this transaction, or this
    // one sees the stage retired.
    let stage = match store::stage_for_use(tx, wanted).await? {
        Some(x) if x.kind == "open" && x.is_active => x,
        Some(x) => return Err(AppError::field("stage_id", format!("stage {} is not an open stage in use", x.code))),
        None => return Err(AppError::field("stage_id", "no such stage")),
    };
    if input.name.is_none() {
        f.push("name", "is required");
    }
    if input.close_date.is_none() {
        f.push("close_date", "is required");
    }
    let base = crate::store::tenants::current(tx).await?.base_currency;
    let currency = match input.currency.take() {
        Some(c) => f.check("currency", validate::currency(&c)).unwrap_or_default(),
        None => customer.currency.clone().unwrap_or(base),
    };
    let mut o = Opportunity {
        id: Uuid::now_v7(),
        number: String::new(),
        name: String::new(),
        customer_id,
        lead_id: lead,
        contact_name: None,
        owner_id: customer.owner_id.or(Some(ctx.principal.actor_uuid())),
        source: None,
        stage_id: stage.id,
        status: "open".into(),
        probability: stage.probability,
        currency,
        expected_amount: Decimal::ZERO,
        expected_base: Decimal::ZERO,
        close_date: now.date_naive(),
        reason: None,
        memo: String::new(),
        stage_entered_at: now,
        closed_at: None,
        quotation_id: None,
        sales_order_id: None,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply_opportunity(&mut o, &mut input, &mut f);
    f.finish()?;
    if o.owner_id.is_some_and(|u| u.is_nil()) {
        o.owner_id = None;
    }
    check_owner(tx, o.owner_id, "owner_id").await?;
    o.expected_base = to_base(tx, &o, now.date_naive()).await?;
    o.number = next_number(tx, "opportunity", "OP").await?;
    store::insert_opportunity(tx, &o).await?;
    store::insert_visit(
        tx,
        o.id,
        &Visit {
            seq: 1,
            stage_id: stage.id,
            entered_at: now,
            left_at: None,
            moved_by: Some(ctx.principal.actor_uuid()),
        },
    )
    .await?;
    store::add_to_totals(
        tx,
        stage.id,
        &StageTotals { open_count: 1, open_amount: o.expected_base, entered: 1, ..Default::default() },
    )
    .await?;
    record(
        tx,
        ctx,
        now,
        Change::new("opportunity.create", "opportunity", Some(o.id.to_string()), None, Some(opportunity_json(&o))),
    )
    .await?;
    Ok(o)
}

pub async fn create_opportunity(app: &AppState, ctx: &Ctx, input: OpportunityInput) -> AppResult<Opportunity> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let o = create_opportunity_in(&tx, ctx, input, None, now).await?;
    tx.commit().await?;
    Ok(o)
}

async fn load_open(tx: &TenantTx<'_>, id: Uuid, action: &'static str) -> AppResult<Opportunity> {
    let o = store::get_opportunity(tx, id, true).await?.ok_or(AppError::NotFound { entity: "opportunity" })?;
    if o.status != "open" {
        return Err(AppError::InvalidState {
            entity: "opportunity",
            state: format!("{} {}", o.number, o.status),
            action,
        });
    }
    Ok(o)
}

async fn save_opportunity(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    before: &Opportunity,
    mut o: Opportunity,
    action: &str,
    now: DateTime<Utc>,
) -> AppResult<Opportunity> {
    o.updated_at = now;
    o.version = before.version + 1;
    if !store::save_opportunity(tx, &o).await? {
        return Err(stale("opportunity", before.version));
    }
    record(
        tx,
        ctx,
        now,
        Change::new(
            action,
            "opportunity",
            Some(o.id.to_string()),
            Some(opportunity_json(before)),
            Some(opportunity_json(&o)),
        ),
    )
    .await?;
    Ok(o)
}

pub async fn update_opportunity(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    mut input: OpportunityInput,
) -> AppResult<Opportunity> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load_open(&tx, id, "edited").await?;
    if before.version != if_match {
        return Err(stale("opportunity", before.version));
    }
    let mut f = Fields::new();
    if input.customer_id.is_some_and(|c| c != before.customer_id) {
        f.push("customer_id", "an opportunity stays with its customer");
    }
    if input.stage_id.is_some_and(|s| s != before.stage_id) {
        f.push("stage_id", "move it with the move action");
    }
    let mut o = before.clone();
    if let Some(c) = input.currency.take() {
        o.currency = f.check("currency", validate::currency(&c)).unwrap_or_default();
    }
    apply_opportunity(&mut o, &mut input, &mut f);
    f.finish()?;
    if o.owner_id != before.owner_id {
        check_owner(&tx, o.owner_id, "owner_id").await?;
    }
    if o.expected_amount != before.expected_amount || o.currency != before.currency {
        o.expected_base = to_base(&tx, &o, now.date_naive()).await?;
        let d = StageTotals { open_amount: o.expected_base - before.expected_base, ..Default::default() };
        store::add_to_totals(&tx, o.stage_id, &d).await?;
    }
    let o = save_opportunity(&tx, ctx, &before, o, "opportunity.update", now).await?;
    tx.commit().await?;
    Ok(o)
}

/// Leaves the current stage: closes its visit and books the stay in its totals.
async fn leave_stage(tx: &TenantTx<'_>, o: &Opportunity, advanced: bool, now: DateTime<Utc>) -> AppResult<i32> {
    let visits = store::visits(tx, o.id).await?;
    let last = visits.last().ok_or_else(|| AppError::internal("an opportunity without a stage visit"))?;
    store::close_visit(tx, o.id, last.seq, now).await?;
    let seconds = (now - last.entered_at).num_seconds().max(0);
    store::add_to_totals(
        tx,
        o.stage_id,
        &StageTotals {
            open_count: -1,
            open_amount: -o.expected_base,
            advanced: i64::from(advanced),
            stays: 1,
            stay_seconds: seconds,
            ..Default::default()
        },
    )
    .await?;
    Ok(last.seq)
}

async fn enter_stage(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    o: &Opportunity,
    stage: Uuid,
    seq: i32,
    open: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    store::insert_visit(
        tx,
        o.id,
        &Visit {
            seq,
            stage_id: stage,
            entered_at: now,
            left_at: (!open).then_some(now),
            moved_by: Some(ctx.principal.actor_uuid()),
        },
    )
    .await?;
    let d = if open {
        StageTotals { open_count: 1, open_amount: o.expected_base, entered: 1, ..Default::default() }
    } else {
        StageTotals { entered: 1, ..Default::default() }
    };
    store::add_to_totals(tx, stage, &d).await
}

/// Moves an open opportunity to another open stage; its probability becomes the stage's.
pub async fn move_opportunity(app: &AppState, ctx: &Ctx, id: Uuid, stage_id: Uuid) -> AppResult<Opportunity> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let stages = stages_in(&tx, now).await?;
    let before = store::get_opportunity(&tx, id, true).await?.ok_or(AppError::NotFound { entity: "opportunity" })?;
    let from = stages.iter().find(|s| s.id == before.stage_id).ok_or_else(|| AppError::internal("unknown stage"))?;
    let to = store::stage_for_use(&tx, stage_id).await?.ok_or_else(|| AppError::field("stage_id", "no such stage"))?;
    let to = &to;
    if let Some(why) = rules::stage_move_error(&before.status, &from.to_domain(), &to.to_domain()) {
        return if before.status != "open" {
            Err(AppError::InvalidState {
                entity: "opportunity",
                state: format!("{} {}", before.number, before.status),
                action: "moved",
            })
        } else {
            Err(AppError::field("stage_id", why))
        };
    }
    let seq = leave_stage(&tx, &before, to.position > from.position, now).await?;
    let mut o = before.clone();
    o.stage_id = to.id;
    o.probability = to.probability;
    o.stage_entered_at = now;
    enter_stage(&tx, ctx, &o, to.id, seq + 1, true, now).await?;
    let o = save_opportunity(&tx, ctx, &before, o, "opportunity.move", now).await?;
    tx.commit().await?;
    Ok(o)
}

/// Closes an opportunity as won or lost (with a reason; required when lost).
pub(crate) async fn close_opportunity_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    before: Opportunity,
    won: bool,
    reason: Option<String>,
    sales_order: Option<&crate::store::trade::Order>,
    now: DateTime<Utc>,
) -> AppResult<Opportunity> {
    let stages = stages_in(tx, now).await?;
    let kind = if won { "won" } else { "lost" };
    let to =
        stages.iter().find(|s| s.kind == kind && s.is_active).ok_or_else(|| AppError::internal("no closing stage"))?;
    let seq = leave_stage(tx, &before, won, now).await?;
    let mut o = before.clone();
    o.status = kind.into();
    o.stage_id = to.id;
    o.probability = to.probability;
    o.reason = reason;
    o.closed_at = Some(now);
    o.stage_entered_at = now;
    if let Some(order) = sales_order {
        // Won at what the customer ordered, not at the estimate.
        o.sales_order_id = Some(order.id);
        o.currency = order.currency.clone();
        o.expected_amount = order.net_total;
        o.expected_base = (order.net_total * order.exchange_rate).round_dp(2);
    }
    enter_stage(tx, ctx, &o, to.id, seq + 1, false, now).await?;
    save_opportunity(tx, ctx, &before, o, &format!("opportunity.{}", if won { "win" } else { "lose" }), now).await
}

pub async fn close_opportunity(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    won: bool,
    reason: Option<String>,
) -> AppResult<Opportunity> {
    let now = app.now();
    let mut f = Fields::new();
    let reason = text(&mut f, "reason", reason, 500);
    if !won && reason.is_none() {
        f.push("reason", "say why the opportunity was lost");
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load_open(&tx, id, if won { "won" } else { "lost" }).await?;
    let o = close_opportunity_in(&tx, ctx, before, won, reason, None, now).await?;
    tx.commit().await?;
    Ok(o)
}

/// Makes a quotation for an open opportunity's customer and links it; accepting the quotation
/// later wins the opportunity.
pub async fn quote_opportunity(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    mut input: super::trade::OrderInput,
) -> AppResult<(Opportunity, crate::store::trade::Order, Vec<crate::store::trade::OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load_open(&tx, id, "quoted").await?;
    if input.party_id != before.customer_id {
        return Err(AppError::field("party_id", "must be the opportunity's customer"));
    }
    if let Some(q) = before.quotation_id {
        let (old, _) = super::trade::load_order(&tx, crate::domain::trade::TradeSide::Sales, q, false).await?;
        if old.status == "draft" || old.status == "sent" {
            return Err(AppError::Conflict(format!(
                "quotation {} of this opportunity is still {}; cancel or lose it first",
                old.number, old.status
            )));
        }
    }
    input.kind = "quotation".into();
    let (q, lines) =
        super::trade::create_order_in(app, &tx, ctx, crate::domain::trade::TradeSide::Sales, input, None, now).await?;
    let mut o = before.clone();
    o.quotation_id = Some(q.id);
    let o = save_opportunity(&tx, ctx, &before, o, "opportunity.quote", now).await?;
    tx.commit().await?;
    Ok((o, q, lines))
}

/// A quotation was accepted: the open opportunity it was made from is won by the new order.
pub(crate) async fn quotation_accepted(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    quotation: Uuid,
    order: &crate::store::trade::Order,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(o) = store::opportunity_of_quotation(tx, quotation).await?
        && o.status == "open"
    {
        close_opportunity_in(tx, ctx, o, true, Some("quotation accepted".into()), Some(order), now).await?;
    }
    Ok(())
}

/// A draft order that won an opportunity was deleted (its quotation is open again): the win is
/// undone exactly, the opportunity open again in the stage it was won from.
pub(crate) async fn order_deleted(tx: &TenantTx<'_>, ctx: &Ctx, order: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    let Some(before) = store::opportunity_of_order(tx, order).await? else { return Ok(()) };
    if before.status != "won" {
        return Ok(());
    }
    let visits = store::visits(tx, before.id).await?;
    let [.., from, won] = visits.as_slice() else {
        return Err(AppError::internal("a won opportunity without the stage it was won from"));
    };
    let stayed = from.left_at.map_or(0, |l| (l - from.entered_at).num_seconds().max(0));
    store::delete_visit(tx, before.id, won.seq).await?;
    store::reopen_visit(tx, before.id, from.seq).await?;
    store::add_to_totals(tx, won.stage_id, &StageTotals { entered: -1, ..Default::default() }).await?;
    store::add_to_totals(
        tx,
        from.stage_id,
        &StageTotals {
            open_count: 1,
            open_amount: before.expected_base,
            advanced: -1,
            stays: -1,
            stay_seconds: -stayed,
            ..Default::default()
        },
    )
    .await?;
    let stage = stages_in(tx, now).await?.into_iter().find(|s| s.id == from.stage_id);
    let mut o = before.clone();
    o.status = "open".into();
    o.stage_id = from.stage_id;
    o.probability = stage.map_or(o.probability, |s| s.probability);
    o.stage_entered_at = from.entered_at;
    o.reason = None;
    o.closed_at = None;
    o.sales_order_id = None;
    save_opportunity(tx, ctx, &before, o, "opportunity.reopen", now).await?;
    Ok(())
}

pub async fn get_opportunity(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(Opportunity, Vec<Visit>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let o = store::get_opportunity(&tx, id, false).await?.ok_or(AppError::NotFound { entity: "opportunity" })?;
    let v = store::visits(&tx, id).await?;
    tx.commit().await?;
    Ok((o, v))
}

pub async fn list_opportunities(
    app: &AppState,
    tenant: TenantId,
    f: &OpportunityFilter,
    page: &Page,
) -> AppResult<Vec<Opportunity>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_opportunities(&tx, f, page).await?;
    tx.commit().await?;
    Ok(r)
}

// ================================================================ activities

pub struct ActivityInput {
    pub kind: String,
    pub subject: String,
    pub key_points: Option<String>,
    pub outcome: Option<String>,
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub next_follow_up: Option<NaiveDate>,
}

/// Logs an activity. It closes the earlier open follow-ups on the same customer, lead or
/// opportunity (this is the follow-up), and may set the next one.
pub async fn log_activity(app: &AppState, ctx: &Ctx, input: ActivityInput) -> AppResult<Activity> {
    let now = app.now();
    let mut f = Fields::new();
    if !rules::ACTIVITY_KINDS.contains(&input.kind.as_str()) {
        f.push("kind", format!("must be one of {}", rules::ACTIVITY_KINDS.join(", ")));
    }
    let subject = f.check("subject", validate::name(&input.subject, 200)).unwrap_or_default();
    let key_points = text(&mut f, "key_points", input.key_points, 4000).unwrap_or_default();
    let outcome = text(&mut f, "outcome", input.outcome, 500);
    let occurred_at = input.occurred_at.unwrap_or(now);
    if occurred_at > now + chrono::Duration::minutes(5) {
        f.push("occurred_at", "must not be in the future (plan it with next_follow_up)");
    }
    if input.next_follow_up.is_some_and(|d| d < occurred_at.date_naive()) {
        f.push("next_follow_up", "must not be before the activity");
    }
    if input.customer_id.is_none() && input.lead_id.is_none() && input.opportunity_id.is_none() {
        f.push("customer_id", "name the customer, lead or opportunity this activity is about");
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut customer = input.customer_id;
    if let Some(c) = customer {
        super::receivables::check_customer(&tx, c, "customer_id").await?;
    }
    if let Some(l) = input.lead_id {
        let lead = store::get_lead(&tx, l, false).await?.ok_or_else(|| AppError::field("lead_id", "no such lead"))?;
        customer = customer.or(lead.customer_id);
    }
    if let Some(o) = input.opportunity_id {
        let opp = store::get_opportunity(&tx, o, false)
            .await?
            .ok_or_else(|| AppError::field("opportunity_id", "no such opportunity"))?;
        if customer.is_some_and(|c| c != opp.customer_id) {
            return Err(AppError::field("opportunity_id", "belongs to another customer"));
        }
        customer = Some(opp.customer_id);
    }
    let owner = input.owner_id.unwrap_or(ctx.principal.actor_uuid());
    check_owner(&tx, Some(owner), "owner_id").await?;
    let a = Activity {
        id: Uuid::now_v7(),
        kind: input.kind,
        subject,
        key_points,
        outcome,
        customer_id: customer,
        lead_id: input.lead_id,
        opportunity_id: input.opportunity_id,
        owner_id: owner,
        occurred_at,
        next_follow_up: input.next_follow_up,
        follow_up_done: false,
        created_at: now,
    };
    store::complete_follow_ups(&tx, None, Some(&a)).await?;
    store::insert_activity(&tx, &a).await?;
    if let Some(l) = a.lead_id {
        store::mark_contacted(&tx, l, now).await?;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "activity.create",
            "activity",
            Some(a.id.to_string()),
            None,
            Some(serde_json::json!({"kind": a.kind, "subject": a.subject, "customer_id": a.customer_id, "lead_id": a.lead_id,
                "opportunity_id": a.opportunity_id, "next_follow_up": a.next_follow_up})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// Marks an activity's follow-up done without logging another.
pub async fn complete_follow_up(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<Activity> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let a = store::get_activity(&tx, id, true).await?.ok_or(AppError::NotFound { entity: "activity" })?;
    if a.next_follow_up.is_none() || a.follow_up_done {
        return Err(AppError::InvalidState {
            entity: "activity",
            state: if a.follow_up_done { "follow-up done".into() } else { "without a follow-up".into() },
            action: "marked done",
        });
    }
    store::complete_follow_ups(&tx, Some(id), None).await?;
    record(&tx, ctx, now, Change::new("activity.follow_up_done", "activity", Some(id.to_string()), None, None)).await?;
    tx.commit().await?;
    Ok(Activity { follow_up_done: true, ..a })
}

pub async fn list_activities(
    app: &AppState,
    tenant: TenantId,
    f: &ActivityFilter,
    page: &Page,
) -> AppResult<Vec<Activity>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_activities(&tx, f, page).await?;
    tx.commit().await?;
    Ok(r)
}

/// A user's reminders: follow-ups due today and overdue ones.
pub async fn follow_ups(
    app: &AppState,
    tenant: TenantId,
    owner: Uuid,
    today: Option<NaiveDate>,
) -> AppResult<(NaiveDate, Vec<Activity>)> {
    let today = today.unwrap_or(app.now().date_naive());
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::follow_ups_due(&tx, owner, today).await?;
    tx.commit().await?;
    Ok((today, r))
}

// ================================================================ reports

pub struct FunnelStage {
    pub stage: PipelineStage,
    pub totals: StageTotals,
    /// Open amount × the stage's probability.
    pub weighted_amount: Decimal,
}

/// The sales funnel: per stage the open opportunities (count, amount, weighted), how often
/// opportunities entered it and went on (stage-to-stage conversion), and the average days
/// they stayed. For the whole tenant it reads the running totals; for one owner or a window of
/// creation dates it counts the opportunities and their stage visits.
pub async fn funnel(app: &AppState, tenant: TenantId, scope: store::ReportScope) -> AppResult<Vec<FunnelStage>> {
    let tx = app.store.begin(tenant, Access::Write).await?;
    let stages = stages_in(&tx, app.now()).await?;
    let totals = if scope.is_all() {
        store::stage_totals(&tx).await?
    } else {
        let positions = stages.iter().map(|s| (s.id, (s.position, s.kind.clone()))).collect();
        store::stage_totals_for(&tx, &scope, &positions).await?
    };
    tx.commit().await?;
    Ok(stages
        .into_iter()
        .filter_map(|s| {
            let t = totals.get(&s.id).cloned().unwrap_or_default();
            if !s.is_active && t.entered == 0 {
                return None;
            }
            let weighted_amount = (t.open_amount * s.probability).round_dp(2);
            Some(FunnelStage { stage: s, totals: t, weighted_amount })
        })
        .collect())
}

pub struct Rate {
    pub key: Option<String>,
    pub won: i64,
    pub lost: i64,
    pub won_amount: Decimal,
}

impl Rate {
    pub fn rate(&self) -> Option<Decimal> {
        let n = self.won + self.lost;
        (n > 0).then(|| rules::share(self.won, n))
    }
}

pub struct LeadRate {
    pub source: String,
    pub leads: i64,
    pub converted: i64,
    pub lost: i64,
}

impl LeadRate {
    pub fn rate(&self) -> Option<Decimal> {
        (self.leads > 0).then(|| rules::share(self.converted, self.leads))
    }
}

pub struct Performance {
    pub by_owner: Vec<Rate>,
    pub by_source: Vec<Rate>,
    pub leads: Vec<LeadRate>,
}

/// Win rates by owner and by source (opportunities closed in the window) and the lead
/// conversion rate by source (leads created in the window).
pub async fn performance(
    app: &AppState,
    tenant: TenantId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> AppResult<Performance> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let rate = |(key, won, lost, won_amount): (Option<String>, i64, i64, Decimal)| Rate { key, won, lost, won_amount };
    let by_owner = store::win_rates(&tx, "owner", from, to).await?.into_iter().map(rate).collect();
    let by_source = store::win_rates(&tx, "source", from, to).await?.into_iter().map(rate).collect();
    let leads = store::lead_conversion(&tx, from, to)
        .await?
        .into_iter()
        .map(|(source, leads, converted, lost)| LeadRate { source, leads, converted, lost })
        .collect();
    tx.commit().await?;
    Ok(Performance { by_owner, by_source, leads })
}

// ================================================================ customer 360

pub struct Customer360 {
    pub customer: Party,
    /// Open invoices less credit notes and unapplied receipts, in base.
    pub ar_balance: Decimal,
    /// Confirmed orders not yet invoiced, in base.
    pub unbilled_orders: Decimal,
    pub facts: store::CustomerFacts,
    pub recent_activities: Vec<Activity>,
    /// The latest by when it happened.
    pub last_activity: Option<Activity>,
    pub open_follow_ups: Vec<Activity>,
    pub open_opportunities: Vec<Opportunity>,
    pub open_quotations: Vec<crate::store::trade::Order>,
    pub recent_orders: Vec<crate::store::trade::Order>,
    /// Service tickets not yet resolved, oldest first.
    pub open_tickets: Vec<crate::store::service::Ticket>,
    pub survey_responses: i64,
    /// The average survey score, to 2 places.
    pub satisfaction: Option<Decimal>,
}

impl Customer360 {
    /// Share of the distinct items bought that were bought again (in more than one order).
    pub fn repurchase_rate(&self) -> Option<Decimal> {
        (self.facts.items_bought > 0).then(|| rules::share(self.facts.items_rebought, self.facts.items_bought))
    }
}

/// One customer as sales, CRM and finance see it, in one read.
pub async fn customer_360(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Customer360> {
    use crate::store::trade::{self as trade, OrderFilter};
    let today = app.now().date_naive();
    let tx = app.store.begin(tenant, Access::Read).await?;
    let customer = crate::store::receivables::get_party(&tx, Side::Receivable, id)
        .await?
        .ok_or(AppError::NotFound { entity: "customer" })?;
    let (ar_balance, unbilled_orders) = trade::customer_exposure(&tx, id).await?;
    let facts = store::customer_facts(&tx, id, today).await?;
    let ten = Page { limit: 10, after: None };
    let recent_activities =
        store::list_activities(&tx, &ActivityFilter { customer_id: Some(id), ..Default::default() }, &ten).await?;
    let open_follow_ups = store::open_follow_ups_of(&tx, id).await?;
    let last_activity = store::last_activity(&tx, id).await?;
    let open_opportunities = store::list_opportunities(
        &tx,
        &OpportunityFilter { customer_id: Some(id), status: Some("open".into()), ..Default::default() },
        &Page { limit: 50, after: None },
    )
    .await?;
    let sales = crate::domain::trade::TradeSide::Sales;
    let open_quotations = trade::list_orders(
        &tx,
        sales,
        &OrderFilter { kind: Some("quotation".into()), party_id: Some(id), ..Default::default() },
        &Page { limit: 50, after: None },
    )
    .await?
    .into_iter()
    .filter(|q| q.status == "draft" || q.status == "sent")
    .collect();
    let recent_orders = trade::list_orders(
        &tx,
        sales,
        &OrderFilter { kind: Some("order".into()), party_id: Some(id), ..Default::default() },
        &ten,
    )
    .await?;
    let (open_tickets, survey_responses, satisfaction) = super::service::customer_service(&tx, id).await?;
    tx.commit().await?;
    let mut recent_activities = recent_activities;
    recent_activities.truncate(10);
    let mut recent_orders = recent_orders;
    recent_orders.truncate(10);
    Ok(Customer360 {
        customer,
        ar_balance,
        unbilled_orders,
        facts,
        recent_activities,
        last_activity,
        open_follow_ups,
        open_opportunities,
        open_quotations,
        recent_orders,
        open_tickets,
        survey_responses,
        satisfaction,
    })
}

// ================================================================ search

pub struct Hit {
    /// customer | contact | lead | opportunity
    pub kind: &'static str,
    pub id: Uuid,
    pub title: String,
    pub detail: String,
}

/// Customers, their contacts, leads and opportunities whose name, code or number, phone,
/// email or tag holds the text; at most 50.
pub async fn search(app: &AppState, tenant: TenantId, q: &str) -> AppResult<Vec<Hit>> {
    let q = q.trim();
    if q.chars().count() < 2 {
        return Err(AppError::field("q", "give at least 2 characters"));
    }
    if q.chars().count() > 100 {
        return Err(AppError::field("q", "must be at most 100 characters"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let hits = store::search(&tx, q, 50).await?;
    tx.commit().await?;
    Ok(hits.into_iter().map(|(kind, id, title, detail)| Hit { kind, id, title, detail }).collect())
}

// ================================================================ segments

pub struct Segmented {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub last_purchase: NaiveDate,
    pub purchases: rules::Purchases,
    pub score: rules::Rfm,
}

pub struct Segments {
    pub as_of: NaiveDate,
    pub buyers: i64,
    pub repeat_buyers: i64,
    pub customers: Vec<Segmented>,
}

impl Segments {
    /// Customers who ordered more than once in the window, over those who ordered.
    pub fn repurchase_rate(&self) -> Option<Decimal> {
        (self.buyers > 0).then(|| rules::share(self.repeat_buyers, self.buyers))
    }
}

/// RFM segments of the customers billed up to `as_of` (from `from`), and the repurchase rate
/// of the customers who ordered in that window.
pub async fn segments(
    app: &AppState,
    tenant: TenantId,
    from: Option<NaiveDate>,
    as_of: Option<NaiveDate>,
) -> AppResult<Segments> {
    let as_of = as_of.unwrap_or(app.now().date_naive());
    if from.is_some_and(|f| f > as_of) {
        return Err(AppError::field("from", "must not be after as_of"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let rows = store::purchases_by_customer(&tx, from, as_of).await?;
    let (buyers, repeat_buyers) = store::repurchase(&tx, from, as_of).await?;
    tx.commit().await?;
    let purchases: Vec<rules::Purchases> = rows
        .iter()
        .map(|(id, _, _, last, n, amount)| rules::Purchases {
            customer: *id,
            days_since_last: (as_of - *last).num_days(),
            count: *n,
            amount: *amount,
        })
        .collect();
    let scores = rules::rfm(&purchases);
    let customers = rows
        .into_iter()
        .zip(purchases)
        .zip(scores)
        .map(|(((id, code, name, last, _, _), purchases), score)| Segmented {
            id,
            code,
            name,
            last_purchase: last,
            purchases,
            score,
        })
        .collect();
    Ok(Segments { as_of, buyers, repeat_buyers, customers })
}
