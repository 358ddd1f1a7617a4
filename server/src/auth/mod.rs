//! Credentials: password hashing, access tokens (JWT, EdDSA), and the opaque secrets behind
//! refresh tokens and API keys. No HTTP and no SQL here.

pub mod passwords;
pub mod secrets;
pub mod tokens;

use crate::domain::access::{Permission, PermissionSet};
use crate::domain::ids::{ApiKeyId, TenantId, UserId};

/// Who is calling, for which tenant, with what rights. Built by the auth middleware from an
/// access token or an API key.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant: TenantId,
    pub actor: Actor,
    /// The user's email or the key's name, for audit rows.
    pub name: String,
    pub permissions: PermissionSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    ApiKey(ApiKeyId),
    /// The platform operator, acting through `/operator/v1`.
    Operator,
    /// A plugin acting on its own (an event handler's requests); `name` says which.
    Plugin,
}

impl Principal {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    pub fn actor_kind(&self) -> &'static str {
        match self.actor {
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::Operator => "operator",
            Actor::Plugin => "plugin",
        }
    }

    pub fn actor_uuid(&self) -> uuid::Uuid {
        match self.actor {
            Actor::User(u) => u.0,
            Actor::ApiKey(k) => k.0,
            Actor::Operator | Actor::Plugin => uuid::Uuid::nil(),
        }
    }

    /// A stable string naming the caller, for idempotency and rate-limit keys.
    pub fn key(&self) -> String {
        format!("{}:{}", self.actor_kind(), self.actor_uuid())
    }
}
