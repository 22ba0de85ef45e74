//! API keys, access tokens and passwords.
//!
//! Keys and tokens are 256 random bits, so a plain SHA-256 of them is a safe stored form (there
//! is nothing to brute-force) and lets a request find its row by an indexed lookup. Passwords are
//! low-entropy and get Argon2id.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly generated secret: the text given out once, and what is stored.
pub struct NewSecret {
    pub plain: String,
    pub hash: String,
    /// The first characters, stored in clear so people can tell their keys apart in a list.
    pub prefix: String,
}

fn generate(kind: &str) -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let plain = format!("{kind}_{}", hex::encode(bytes));
    let prefix = plain.chars().take(kind.len() + 9).collect();
    NewSecret {
        hash: hash_secret(&plain),
        plain,
        prefix,
    }
}

/// A new API key (`sdk_…`).
pub fn new_api_key() -> NewSecret {
    generate("sdk")
}

/// A new access token (`sdt_…`).
pub fn new_access_token() -> NewSecret {
    generate("sdt")
}

/// A new refresh token (`sdr_…`).
pub fn new_refresh_token() -> NewSecret {
    generate("sdr")
}

/// The stored form of a key or token.
pub fn hash_secret(plain: &str) -> String {
    hex::encode(Sha256::digest(plain.as_bytes()))
}

/// Argon2id with the crate's recommended parameters. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Checks a password against a stored hash; a malformed stored hash never matches.
/// CPU-heavy: call from a blocking thread.
pub fn verify_password(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// A hash of a password nobody knows, verified when the email is unknown so that a failed
/// sign-in takes about as long whether or not the account exists.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_and_hash_to_what_is_stored() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a.plain, b.plain);
        assert!(a.plain.starts_with("sdk_"));
        assert_eq!(hash_secret(&a.plain), a.hash);
        assert!(!a.hash.contains(&a.plain));
        assert!(a.plain.starts_with(&a.prefix));
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() -> anyhow::Result<()> {
        let hash = hash_password("correct horse")?;
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        Ok(())
    }
}
