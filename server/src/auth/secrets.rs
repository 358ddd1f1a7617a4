//! Opaque credentials: `<prefix>.<tenant>.<id>.<secret>`. The tenant and id let the server find
//! the row in a tenant-scoped transaction; only the SHA-256 of the secret is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::domain::ids::TenantId;

pub const API_KEY_PREFIX: &str = "mk";
pub const REFRESH_TOKEN_PREFIX: &str = "mrt";

pub struct Minted {
    pub token: String,
    pub secret_hash: String,
}

pub fn mint(prefix: &str, tenant: TenantId, id: Uuid) -> Minted {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    Minted {
        token: format!("{prefix}.{}.{}.{secret}", tenant.0.simple(), id.simple()),
        secret_hash: hash_secret(&secret),
    }
}

pub struct Parsed<'a> {
    pub tenant: TenantId,
    pub id: Uuid,
    pub secret: &'a str,
}

pub fn parse<'a>(prefix: &str, token: &'a str) -> Option<Parsed<'a>> {
    let mut parts = token.split('.');
    if parts.next()? != prefix {
        return None;
    }
    let tenant = Uuid::try_parse(parts.next()?).ok()?;
    let id = Uuid::try_parse(parts.next()?).ok()?;
    let secret = parts.next()?;
    if parts.next().is_some() || secret.len() != 43 {
        return None;
    }
    Some(Parsed { tenant: TenantId(tenant), id, secret })
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// A short fingerprint of arbitrary bytes (request bodies for idempotency).
pub fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_back_and_matches_only_its_hash() {
        let tenant = TenantId::new();
        let id = Uuid::now_v7();
        let m = mint(API_KEY_PREFIX, tenant, id);
        let p = parse(API_KEY_PREFIX, &m.token).unwrap();
        assert_eq!((p.tenant, p.id), (tenant, id));
        assert!(secret_matches(p.secret, &m.secret_hash));
        assert!(!secret_matches("x", &m.secret_hash));
        assert!(parse(REFRESH_TOKEN_PREFIX, &m.token).is_none());
        assert!(parse(API_KEY_PREFIX, &format!("{}.extra", m.token)).is_none());
    }
}
