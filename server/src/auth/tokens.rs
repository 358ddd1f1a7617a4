//! Access tokens: short-lived JWTs signed with Ed25519. Verification allows exactly one
//! algorithm (EdDSA), requires `exp`, `iss`, `aud` and `sub`, and picks the key by `kid`, so
//! keys can rotate: retired public keys stay accepted until their tokens have expired.
//! Expiry is checked against the server's clock (which tests can move), not the system's.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::config::Config;
use crate::domain::access::PermissionSet;
use crate::domain::ids::{TenantId, UserId};
use crate::error::{AppError, AppResult};

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub tid: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The permission bitmask at issue time.
    pub pm: u64,
    /// The user's email, for audit rows.
    pub em: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    kid: String,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct VerifiedAccess {
    pub expires_at: DateTime<Utc>,
    pub tenant: TenantId,
    pub user: UserId,
    pub email: String,
    pub permissions: PermissionSet,
}

impl TokenKeys {
    /// Loads the signing key from configuration, or in development from (or into)
    /// `<data_dir>/keys/access-token-ed25519.pem`.
    pub fn load(config: &Config) -> AppResult<Self> {
        let pem = match &config.signing_key_pem {
            Some(pem) => pem.clone(),
            None => dev_key(&config.data_dir.join("keys").join("access-token-ed25519.pem"))?,
        };
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| AppError::internal(format!("signing key: {e}")))?;
        let mut keys = Self::from_signing_key(&signing, config)?;
        for path in std::env::var("MERIDIAN_PREVIOUS_PUBLIC_KEY_FILES")
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let public = std::fs::read(path.trim())
                .map_err(|e| AppError::internal(format!("previous public key {path}: {e}")))?;
            keys.accept_public_pem(&public)?;
        }
        Ok(keys)
    }

    pub fn from_signing_key(signing: &SigningKey, config: &Config) -> AppResult<Self> {
        let private_der = signing.to_pkcs8_der().map_err(AppError::internal)?;
        let public_pem = signing.verifying_key().to_public_key_pem(LineEnding::LF).map_err(AppError::internal)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&config.token_issuer]);
        validation.set_audience(&[&config.token_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the server's clock in `verify`.
        validation.validate_exp = false;
        let mut keys = Self {
            encoding: EncodingKey::from_ed_der(private_der.as_bytes()),
            kid: String::new(),
            decoding: HashMap::new(),
            validation,
            issuer: config.token_issuer.clone(),
            audience: config.token_audience.clone(),
            ttl: Duration::seconds(config.access_token_ttl_secs),
        };
        keys.kid = keys.accept_public_pem(public_pem.as_bytes())?;
        Ok(keys)
    }

    /// Accepts tokens signed by the key whose public half this is; returns its `kid`.
    fn accept_public_pem(&mut self, pem: &[u8]) -> AppResult<String> {
        let kid = hex::encode(&Sha256::digest(pem)[..8]);
        let key = DecodingKey::from_ed_pem(pem).map_err(AppError::internal)?;
        self.decoding.insert(kid.clone(), key);
        Ok(kid)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        permissions: PermissionSet,
        now: DateTime<Utc>,
    ) -> AppResult<(String, DateTime<Utc>)> {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user.0.to_string(),
            tid: tenant.0.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            pm: permissions.bits(),
            em: email.to_owned(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(AppError::internal)?;
        Ok((token, expires_at))
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<VerifiedAccess> {
        let bad = |why: &str| AppError::Unauthenticated(format!("the access token {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("is malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(bad("uses an algorithm this server does not accept"));
        }
        let kid = header.kid.ok_or_else(|| bad("names no key"))?;
        let key = self.decoding.get(&kid).ok_or_else(|| bad("was signed by an unknown key"))?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidIssuer => bad("has the wrong issuer"),
                K::InvalidAudience => bad("has the wrong audience"),
                K::InvalidSignature => bad("has an invalid signature"),
                K::MissingRequiredClaim(c) => bad(&format!("lacks the {c} claim")),
                _ => bad("is invalid"),
            }
        })?;
        let c = data.claims;
        if c.exp <= now.timestamp() {
            return Err(bad("has expired"));
        }
        let parse = |s: &str| uuid::Uuid::parse_str(s).map_err(|_| bad("is invalid"));
        Ok(VerifiedAccess {
            expires_at: DateTime::from_timestamp(c.exp, 0).ok_or_else(|| bad("is invalid"))?,
            tenant: TenantId(parse(&c.tid)?),
            user: UserId(parse(&c.sub)?),
            email: c.em,
            permissions: PermissionSet::from_bits(c.pm),
        })
    }
}

fn dev_key(path: &Path) -> AppResult<String> {
    if let Ok(pem) = std::fs::read_to_string(path) {
        return Ok(pem);
    }
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing.to_pkcs8_pem(LineEnding::LF).map_err(AppError::internal)?.to_string();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(AppError::internal)?;
    }
    write_private(path, &pem)?;
    info!(path = %path.display(), "generated a development signing key");
    Ok(pem)
}

fn write_private(path: &Path, contents: &str) -> AppResult<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(AppError::internal)?;
    f.write_all(contents.as_bytes()).map_err(AppError::internal)
}
