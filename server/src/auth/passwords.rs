//! Argon2id with OWASP's parameters (m=19456 KiB, t=2, p=1). Hashing takes tens of
//! milliseconds of CPU, so callers run it on the blocking pool.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

use crate::error::{AppError, AppResult};

fn argon2() -> AppResult<Argon2<'static>> {
    let params = Params::new(19_456, 2, 1, None).map_err(AppError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()?.hash_password(password.as_bytes(), &salt).map_err(AppError::internal)?.to_string())
}

pub fn verify(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2().map(|a| a.verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
}

/// Verifies against a fixed hash when the account does not exist, so that a login for an
/// unknown email costs the same time as one with a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let h = DUMMY.get_or_init(|| hash("meridian-dummy-password").unwrap_or_default());
    let _ = verify(password, h);
}

pub async fn hash_blocking(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await.map_err(AppError::internal)?
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("wrong horse battery", &h));
    }
}
