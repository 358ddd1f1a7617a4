//! Log in, refresh, log out, and turning a bearer credential into a [`Principal`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::AppState;
use super::access::CachedApiKey;
use crate::auth::secrets::{self, API_KEY_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::auth::{Actor, Principal, passwords};
use crate::domain::access::PermissionSet;
use crate::domain::ids::{ApiKeyId, RefreshTokenId, TenantId, UserId};
use crate::error::{AppError, AppResult};
use crate::infra::ratelimit::Decision;
use crate::store::refresh_tokens::{self, RefreshToken};
use crate::store::{Access, TenantTx, api_keys, roles, tenants, users};

/// Failed logins allowed per account, and per source address, in [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES_PER_ACCOUNT_MAX: u32 = 5;
pub const LOGIN_FAILURES_PER_ADDRESS_MAX: u32 = 20;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug)]
pub struct Session {
    pub tenant_id: TenantId,
    pub tenant_slug: String,
    pub user_id: UserId,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

pub struct LoginInput {
    pub tenant: String,
    pub email: String,
    pub password: String,
    pub source_ip: Option<String>,
}

pub async fn login(app: &AppState, input: LoginInput) -> AppResult<Session> {
    let email = input.email.trim().to_lowercase();
    let account_key = format!("login:acct:{}:{email}", input.tenant);
    let address_key = format!("login:ip:{}", input.source_ip.as_deref().unwrap_or("-"));
    for (key, max) in [(&account_key, LOGIN_FAILURES_PER_ACCOUNT_MAX), (&address_key, LOGIN_FAILURES_PER_ADDRESS_MAX)] {
        if let Decision::Limited { retry_after_secs } = app.limiter.peek(key, max, LOGIN_WINDOW).await {
            return Err(AppError::RateLimited { retry_after_secs });
        }
    }
    let result = try_login(app, &input.tenant, &email, input.password, input.source_ip.clone()).await;
    if matches!(result, Err(AppError::InvalidCredentials)) {
        app.limiter.hit(&account_key, LOGIN_FAILURES_PER_ACCOUNT_MAX, LOGIN_WINDOW).await;
        app.limiter.hit(&address_key, LOGIN_FAILURES_PER_ADDRESS_MAX, LOGIN_WINDOW).await;
    }
    result
}

async fn try_login(
    app: &AppState,
    slug: &str,
    email: &str,
    password: String,
    source_ip: Option<String>,
) -> AppResult<Session> {
    let ptx = app.store.begin_platform(Access::Read).await?;
    let tenant = tenants::find_by_slug(&ptx, slug).await?;
    ptx.commit().await?;
    let user = match &tenant {
        Some(t) => {
            let tx = app.store.begin(t.id, Access::Read).await?;
            let u = users::find_by_email(&tx, email).await?;
            tx.commit().await?;
            u
        }
        None => None,
    };
    let stored_hash = user.as_ref().filter(|u| u.is_active).map(|u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || match stored_hash {
        Some(h) => passwords::verify(&password, &h),
        None => {
            passwords::verify_dummy(&password);
            false
        }
    })
    .await
    .map_err(AppError::internal)?;
    let (Some(tenant), Some(user), true) = (tenant, user, ok) else {
        return Err(AppError::InvalidCredentials);
    };
    let now = app.now();
    let tx = app.store.begin(tenant.id, Access::Write).await?;
    let session = open_session(app, &tx, &tenant.slug, &user, uuid::Uuid::now_v7(), now).await?;
    let ctx = super::Ctx {
        principal: Principal {
            tenant: tenant.id,
            actor: Actor::User(user.id),
            name: user.email.clone(),
            permissions: PermissionSet::EMPTY,
        },
        source_ip,
        request_id: None,
    };
    super::record(&tx, &ctx, now, super::Change::new("session.login", "user", Some(user.id.to_string()), None, None))
        .await?;
    tx.commit().await?;
    Ok(session)
}

/// Issues an access token with the user's current permissions and a refresh token in `family`.
pub(crate) async fn open_session(
    app: &AppState,
    tx: &TenantTx<'_>,
    slug: &str,
    user: &users::User,
    family: uuid::Uuid,
    now: DateTime<Utc>,
) -> AppResult<Session> {
    let permissions =
        roles::of_user(tx, user.id).await?.into_iter().fold(PermissionSet::EMPTY, |acc, r| acc.union(r.permissions));
    let (access_token, access_token_expires_at) =
        app.tokens.issue(tx.tenant(), user.id, &user.email, permissions, now)?;
    let id = RefreshTokenId::new();
    let minted = secrets::mint(REFRESH_TOKEN_PREFIX, tx.tenant(), id.0);
    let refresh_token_expires_at = now + chrono::Duration::seconds(app.config.refresh_token_ttl_secs);
    refresh_tokens::insert(
        tx,
        &RefreshToken {
            id,
            family_id: family,
            user_id: user.id,
            secret_hash: minted.secret_hash,
            created_at: now,
            expires_at: refresh_token_expires_at,
            used_at: None,
            revoked_at: None,
        },
    )
    .await?;
    Ok(Session {
        tenant_id: tx.tenant(),
        tenant_slug: slug.to_owned(),
        user_id: user.id,
        access_token,
        access_token_expires_at,
        refresh_token: minted.token,
        refresh_token_expires_at,
    })
}

fn refresh_refused(why: &str) -> AppError {
    AppError::Unauthenticated(format!("the refresh token {why}"))
}

/// Trades a refresh token for a new pair. A token is good once: presenting a used one means it
/// was stolen or replayed, and every token of its family is revoked.
pub async fn refresh(app: &AppState, token: &str) -> AppResult<Session> {
    let parsed = secrets::parse(REFRESH_TOKEN_PREFIX, token).ok_or_else(|| refresh_refused("is malformed"))?;
    let tenant = match app.tenant(parsed.tenant).await {
        Ok(t) => t,
        Err(AppError::NotFound { .. }) => return Err(refresh_refused("is not valid")),
        Err(e) => return Err(e),
    };
    let now = app.now();
    let tx = app.store.begin(tenant.id, Access::Write).await?;
    let stored = refresh_tokens::get(&tx, RefreshTokenId(parsed.id)).await?;
    let Some(stored) = stored.filter(|s| secrets::secret_matches(parsed.secret, &s.secret_hash)) else {
        return Err(refresh_refused("is not valid"));
    };
    if stored.revoked_at.is_some() {
        return Err(refresh_refused("was revoked"));
    }
    if stored.used_at.is_some() || !refresh_tokens::mark_used(&tx, stored.id, now).await? {
        refresh_tokens::revoke_family(&tx, stored.family_id, now).await?;
        tx.commit().await?;
        return Err(refresh_refused("was already used; every session of this login has been signed out"));
    }
    if stored.expires_at <= now {
        return Err(refresh_refused("has expired"));
    }
    let user = users::get(&tx, stored.user_id).await?.filter(|u| u.is_active);
    let Some(user) = user else {
        return Err(refresh_refused("belongs to a deactivated user"));
    };
    let session = open_session(app, &tx, &tenant.slug, &user, stored.family_id, now).await?;
    tx.commit().await?;
    Ok(session)
}

/// Revokes the refresh token's family. Unknown tokens are ignored: logging out cannot fail.
pub async fn logout(app: &AppState, token: &str) -> AppResult<()> {
    let Some(parsed) = secrets::parse(REFRESH_TOKEN_PREFIX, token) else {
        return Ok(());
    };
    if app.tenant(parsed.tenant).await.is_err() {
        return Ok(());
    }
    let tx = app.store.begin(parsed.tenant, Access::Write).await?;
    if let Some(stored) = refresh_tokens::get(&tx, RefreshTokenId(parsed.id)).await?
        && secrets::secret_matches(parsed.secret, &stored.secret_hash)
    {
        refresh_tokens::revoke_family(&tx, stored.family_id, app.now()).await?;
    }
    tx.commit().await
}

/// Turns `Authorization: Bearer ...` into a principal: an API key (`mk.` prefix) or a JWT.
pub async fn authenticate(app: &AppState, bearer: &str) -> AppResult<Principal> {
    let now = app.now();
    if bearer.starts_with("mk.") {
        return authenticate_api_key(app, bearer, now).await;
    }
    // Verifying an Ed25519 signature costs more than the rest of a cached read; a token that
    // verified once is remembered (its expiry is still checked on every use).
    let v = match app.verified_tokens.get(&bearer.to_owned()) {
        Some(v) => v,
        None => {
            let v = app.tokens.verify(bearer, now)?;
            app.verified_tokens.put(bearer.to_owned(), v.clone());
            v
        }
    };
    if v.expires_at <= now {
        return Err(AppError::Unauthenticated("the access token has expired".into()));
    }
    Ok(Principal { tenant: v.tenant, actor: Actor::User(v.user), name: v.email, permissions: v.permissions })
}

async fn authenticate_api_key(app: &AppState, token: &str, now: DateTime<Utc>) -> AppResult<Principal> {
    let bad = || AppError::Unauthenticated("the API key is not valid".into());
    let parsed = secrets::parse(API_KEY_PREFIX, token).ok_or_else(bad)?;
    let cached = match app.api_keys.get(&parsed.id) {
        Some(c) => c,
        None => {
            if app.tenant(parsed.tenant).await.is_err() {
                return Err(bad());
            }
            let tx = app.store.begin(parsed.tenant, Access::Read).await?;
            let key = api_keys::get(&tx, ApiKeyId(parsed.id)).await?.ok_or_else(bad)?;
            let role_ids = api_keys::role_ids(&tx, key.id).await?;
            let permissions = roles::permissions_of(&tx, &role_ids).await?;
            tx.commit().await?;
            let c = CachedApiKey { tenant: parsed.tenant, key, permissions };
            app.api_keys.put(parsed.id, c.clone());
            c
        }
    };
    if cached.tenant != parsed.tenant || !secrets::secret_matches(parsed.secret, &cached.key.secret_hash) {
        return Err(bad());
    }
    if cached.key.revoked_at.is_some() {
        return Err(AppError::Unauthenticated("the API key was revoked".into()));
    }
    if cached.key.expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::Unauthenticated("the API key has expired".into()));
    }
    Ok(Principal {
        tenant: cached.tenant,
        actor: Actor::ApiKey(cached.key.id),
        name: cached.key.name.clone(),
        permissions: cached.permissions,
    })
}
