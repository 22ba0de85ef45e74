//! Tokens from a host platform: a JWT verified with a configured HS256 secret, an RS256/ES256
//! public key, or a JWKS file, and the person it names found or created on first sight.
//!
//! The algorithm decides the key: HS256 only ever uses the shared secret, RS256/ES256 only the
//! public keys, so a token signed with the public key as an HMAC secret (the HS/RS confusion)
//! finds no key that verifies it. `alg: none` is never accepted.

use anyhow::Context;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::JwtConfig;
use crate::domain::fields::Choice;
use crate::domain::people::{Person, Role, check_email, normalize_email};
use crate::store::{Db, StoreError, accounts};

struct PublicKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies host-issued tokens; built once at start-up from the configuration.
pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    public: Vec<PublicKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
    role_claim: Option<String>,
}

/// What a verified token says about its person.
#[derive(Debug)]
pub struct HostIdentity {
    pub subject: String,
    pub email: Option<String>,
    /// The role the configured claim states, when the token carries it with a known value.
    pub role: Option<Role>,
    /// The token's `exp`, in microseconds since the Unix epoch.
    pub expires_at: i64,
}

fn pem_key(pem: &[u8]) -> anyhow::Result<(Algorithm, DecodingKey)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((Algorithm::RS256, key));
    }
    DecodingKey::from_ec_pem(pem)
        .map(|key| (Algorithm::ES256, key))
        .map_err(|_| anyhow::anyhow!("not an RSA or EC public key in PEM form"))
}

impl JwtVerifier {
    /// `None` when no key source is configured; an error when a configured file is unusable, so
    /// a misconfigured desk refuses to start rather than refusing every token.
    pub fn from_config(config: &JwtConfig) -> anyhow::Result<Option<Self>> {
        if !config.enabled() {
            return Ok(None);
        }
        let hs256 = config
            .jwt_hs256_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        let mut public = Vec::new();
        if let Some(path) = &config.jwt_public_key_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read JWT public key {}", path.display()))?;
            let (algorithm, key) =
                pem_key(&pem).with_context(|| format!("JWT public key {}", path.display()))?;
            public.push(PublicKey {
                kid: None,
                algorithm,
                key,
            });
        }
        if let Some(path) = &config.jwt_jwks_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read JWKS file {}", path.display()))?;
            let set: JwkSet = serde_json::from_str(&text)
                .with_context(|| format!("JWKS file {} is not a key set", path.display()))?;
            for jwk in &set.keys {
                let algorithm = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    // Symmetric or other keys in a public key set are not trusted.
                    _ => continue,
                };
                let key = DecodingKey::from_jwk(jwk)
                    .with_context(|| format!("unusable key in JWKS file {}", path.display()))?;
                public.push(PublicKey {
                    kid: jwk.common.key_id.clone(),
                    algorithm,
                    key,
                });
            }
        }
        Ok(Some(Self {
            hs256,
            public,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            leeway_secs: config.jwt_leeway_secs,
            role_claim: config.jwt_role_claim.clone(),
        }))
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        // A configured audience or issuer must also be present, not only match when present.
        let mut required = vec!["exp", "sub"];
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// Checks signature, `exp`, `nbf`, `iss` and `aud`; `None` for any failure.
    pub fn verify(&self, token: &str) -> Option<HostIdentity> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let claims: Value = match header.alg {
            Algorithm::HS256 => {
                let key = self.hs256.as_ref()?;
                jsonwebtoken::decode(token, key, &self.validation(Algorithm::HS256))
                    .ok()?
                    .claims
            }
            alg @ (Algorithm::RS256 | Algorithm::ES256) => {
                let candidates = self.public.iter().filter(|k| {
                    k.algorithm == alg
                        && match (&header.kid, &k.kid) {
                            (Some(wanted), Some(have)) => wanted == have,
                            (_, None) => true,
                            (None, Some(_)) => true,
                        }
                });
                candidates
                    .filter_map(|k| {
                        jsonwebtoken::decode::<Value>(token, &k.key, &self.validation(alg)).ok()
                    })
                    .map(|data| data.claims)
                    .next()?
            }
            _ => return None,
        };
        let expires_at = claims
            .get("exp")?
            .as_f64()
            .map(|secs| (secs * 1_000_000.0) as i64)?;
        let subject = claims.get("sub")?.as_str()?.to_owned();
        // A subject with U+0000 could not be stored on PostgreSQL: the token is refused alike
        // on both backends (an email with it is no usable email, see `is_plausible_email`).
        if subject.is_empty() || crate::domain::fields::has_nul(&subject) {
            return None;
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .map(normalize_email)
            .filter(|e| check_email(e).is_ok());
        // Only an explicit, known value says anything: a token without the claim (or with a
        // value the desk does not know) leaves the person's role as it is.
        let role = self
            .role_claim
            .as_ref()
            .and_then(|claim| claims.get(claim))
            .and_then(Value::as_str)
            .and_then(Role::from_code_text);
        Some(HostIdentity {
            subject,
            email,
            role,
            expires_at,
        })
    }
}

/// The person a verified token names: known by subject, or created on first sight, or linked
/// by email to an existing *customer* account (never to an agent or administrator: a host that
/// can mint a token for any email must not thereby become the desk's staff). `None` when the
/// person is deactivated, or the email belongs to staff or to another subject.
pub async fn person_for(db: &Db, identity: &HostIdentity) -> Result<Option<Person>, StoreError> {
    if let Some(user) = accounts::person_by_external_subject(db, &identity.subject).await? {
        if !user.active {
            return Ok(None);
        }
        let mut person = user.person;
        if let Some(role) = identity.role
            && role != person.role
        {
            accounts::update_user(db, person.id, Some(role), None, None, None).await?;
            person.role = role;
        }
        return Ok(Some(person));
    }
    let Some(email) = &identity.email else {
        return Ok(None);
    };
    let role = identity.role.unwrap_or(Role::Customer);
    let id = match accounts::link_external_person(db, &identity.subject, email, role).await {
        Ok(id) => id,
        // Another subject owns that email, or a concurrent first request linked it already.
        Err(StoreError::Conflict) => {
            return match accounts::person_by_external_subject(db, &identity.subject).await? {
                Some(user) if user.active => Ok(Some(user.person)),
                _ => Ok(None),
            };
        }
        Err(e) => return Err(e),
    };
    let Some(user) = accounts::person_by_external_subject(db, &identity.subject).await? else {
        return Ok(None);
    };
    if !user.active || user.person.id != id {
        return Ok(None);
    }
    Ok(Some(user.person))
}
