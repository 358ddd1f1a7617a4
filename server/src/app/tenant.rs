//! The tenant's own view of its account: settings, subscription and entitlements.

use super::{AppState, Change, Ctx, record};
use crate::domain::numbering;
use crate::domain::subscription::{self, Entitlements, SubscriptionState};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::Access;
use crate::store::ledger as ledger_store;
use crate::store::tenants::{self, Tenant};

pub struct TenantView {
    pub tenant: Tenant,
    pub state: SubscriptionState,
    pub entitlements: Entitlements,
    /// What the entitlements are spent on: active users and enabled plugins (when read).
    pub usage: Option<Usage>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub seats_used: u64,
    pub plugins_enabled: u64,
}

pub fn view(app: &AppState, tenant: Tenant) -> TenantView {
    let state = subscription::state(tenant.plan, tenant.trial_ends_at, app.now());
    let entitlements = subscription::entitlements(tenant.plan);
    TenantView { tenant, state, entitlements, usage: None }
}

async fn usage(tx: &crate::store::TenantTx<'_>) -> AppResult<Usage> {
    let seats_used = crate::store::users::count_active(tx).await?;
    let plugins_enabled = crate::store::plugins::installs(tx).await?.iter().filter(|i| i.enabled).count() as u64;
    Ok(Usage { seats_used, plugins_enabled })
}

/// The tenant row alone.
pub async fn load(app: &AppState, tenant: crate::domain::ids::TenantId) -> AppResult<Tenant> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let t = tenants::current(&tx).await?;
    tx.commit().await?;
    Ok(t)
}

pub async fn get(app: &AppState, ctx_tenant: crate::domain::ids::TenantId) -> AppResult<TenantView> {
    let tx = app.store.begin(ctx_tenant, Access::Read).await?;
    let t = tenants::current(&tx).await?;
    let used = usage(&tx).await?;
    tx.commit().await?;
    Ok(TenantView { usage: Some(used), ..view(app, t) })
}

pub async fn update_settings(app: &AppState, ctx: &Ctx, if_match: i64, name: Option<String>) -> AppResult<TenantView> {
    let mut f = Fields::new();
    let name = name.map(|n| f.check("name", validate::name(&n, 200)));
    f.finish()?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = tenants::current(&tx).await?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "tenant", current: before.version });
    }
    let mut after = before.clone();
    if let Some(n) = name.flatten() {
        after.name = n;
    }
    after.updated_at = now;
    after.version += 1;
    if !tenants::update_settings(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "tenant", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "tenant.update",
            "tenant",
            Some(after.id.to_string()),
            Some(serde_json::json!({"name": before.name})),
            Some(serde_json::json!({"name": after.name})),
        ),
    )
    .await?;
    tx.commit().await?;
    app.forget_tenant(after.id);
    Ok(view(app, after))
}

// ================================================================ document numbering

/// One numbered kind as the tenant has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Numbering {
    pub kind: &'static numbering::Kind,
    /// The tenant's own prefix, when set.
    pub prefix: Option<String>,
    pub padding: Option<i32>,
    pub next_value: i64,
    /// Prefixes the kind had before: its documents carry them, so no other kind takes them.
    pub former_prefixes: Vec<String>,
}

impl Numbering {
    pub fn effective_prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or(self.kind.prefix)
    }

    pub fn effective_padding(&self) -> i32 {
        self.padding.unwrap_or(numbering::DEFAULT_PADDING)
    }

    /// The number the next document of this kind gets.
    pub fn example(&self) -> String {
        numbering::format(self.effective_prefix(), self.effective_padding(), self.next_value)
    }

    /// Every prefix this kind's documents may carry: the built-in one, the current one and the
    /// ones it had.
    fn claims(&self, prefix: &str) -> bool {
        self.kind.prefix == prefix
            || self.effective_prefix() == prefix
            || self.former_prefixes.iter().any(|p| p == prefix)
    }
}

async fn numberings(tx: &crate::store::TenantTx<'_>) -> AppResult<Vec<Numbering>> {
    let rows = ledger_store::sequences(tx).await?;
    Ok(numbering::KINDS
        .iter()
        .map(|kind| {
            let row = rows.iter().find(|r| r.sequence_key == kind.key);
            Numbering {
                kind,
                prefix: row.and_then(|r| r.prefix.clone()),
                padding: row.and_then(|r| r.padding),
                next_value: row.map_or(1, |r| r.next_value),
                former_prefixes: row
                    .and_then(|r| r.former_prefixes.as_deref())
                    .map(|f| f.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect())
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// Every numbered kind with its prefix, digits and next number.
pub async fn list_numbering(app: &AppState, tenant: crate::domain::ids::TenantId) -> AppResult<Vec<Numbering>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let out = numberings(&tx).await?;
    tx.commit().await?;
    Ok(out)
}

/// A change to one kind's numbering. Each field: None leaves it as it is; Some(None) goes
/// back to the built-in prefix or digits.
#[derive(Default)]
pub struct NumberingInput {
    pub prefix: Option<Option<String>>,
    pub padding: Option<Option<i32>>,
    /// Never below the next number, so no number is handed out twice.
    pub next_value: Option<i64>,
}

/// The highest next number a tenant may set: far beyond any real count, far from overflow.
pub const MAX_NEXT_VALUE: i64 = 1_000_000_000_000;

/// Sets how a kind's documents are numbered from the next one on. Numbers already given stay.
pub async fn set_numbering(app: &AppState, ctx: &Ctx, key: &str, input: NumberingInput) -> AppResult<Numbering> {
    let kind = numbering::find(key).ok_or(AppError::NotFound { entity: "numbered document kind" })?;
    let mut f = Fields::new();
    if let Some(Some(p)) = &input.prefix {
        f.check("prefix", numbering::check_prefix(p).map_err(str::to_owned));
    }
    if let Some(Some(p)) = input.padding {
        f.check("padding", numbering::check_padding(p).map_err(str::to_owned));
    }
    if let Some(n) = input.next_value
        && !(1..=MAX_NEXT_VALUE).contains(&n)
    {
        f.push("next_value", format!("must be between 1 and {MAX_NEXT_VALUE}"));
    }
    f.finish()?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    // One numbering change at a time per tenant: the prefix check reads every kind's row.
    ledger_store::next_in_sequence(&tx, "numbering_settings_lock").await?;
    let (current_next, old_prefix, old_padding) = ledger_store::lock_sequence(&tx, key).await?;
    let all = numberings(&tx).await?;
    let former_prefixes = all.iter().find(|n| n.kind.key == key).map(|n| n.former_prefixes.clone()).unwrap_or_default();
    let before =
        Numbering { kind, prefix: old_prefix, padding: old_padding, next_value: current_next, former_prefixes };
    let mut after = Numbering {
        kind,
        prefix: match input.prefix {
            Some(p) => p.filter(|p| p != kind.prefix),
            None => before.prefix.clone(),
        },
        padding: match input.padding {
            Some(p) => p.filter(|p| *p != numbering::DEFAULT_PADDING),
            None => before.padding,
        },
        next_value: input.next_value.unwrap_or(current_next),
        former_prefixes: before.former_prefixes.clone(),
    };
    if after.next_value < current_next {
        return Err(AppError::field(
            "next_value",
            format!("must be at least {current_next}: numbers below it may already be in use"),
        ));
    }
    // Two kinds under one prefix would number different documents alike (quotations and orders
    // share a table, where numbers must be unique): no kind takes a prefix another kind has,
    // had, or was built with.
    let wanted = after.effective_prefix().to_owned();
    if let Some(other) = all.iter().find(|o| o.kind.key != key && o.claims(&wanted)) {
        return Err(AppError::field("prefix", format!("is used by {}", other.kind.label.to_lowercase())));
    }
    let old = before.effective_prefix().to_owned();
    if old != wanted && old != kind.prefix && !after.former_prefixes.contains(&old) {
        after.former_prefixes.push(old);
    }
    let setting = ledger_store::SequenceSetting {
        next_value: after.next_value,
        prefix: after.prefix.clone(),
        padding: after.padding,
        former_prefixes: after.former_prefixes.clone(),
    };
    ledger_store::set_sequence(&tx, key, &setting).await?;
    let json = |n: &Numbering| serde_json::json!({"prefix": n.effective_prefix(), "padding": n.effective_padding(), "next_value": n.next_value});
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "numbering.update",
            "document_sequence",
            Some(key.to_owned()),
            Some(json(&before)),
            Some(json(&after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
