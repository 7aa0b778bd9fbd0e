//! Server-side secrets: the Argon2id verifier of each account's authentication secret, random
//! tokens stored only as hashes, and short email codes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use data_encoding::BASE64URL_NOPAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

fn argon() -> Argon2<'static> {
    // OWASP's Argon2id recommendation (19 MiB, 2 passes, 1 lane). The input is already a
    // 256-bit secret derived on the client with a costlier Argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash an authentication secret for storage (blocking: run off the async threads).
pub fn hash_verifier(secret: &[u8]) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon()
        .hash_password(secret, &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
}

/// Check an authentication secret against a stored verifier (blocking).
pub fn check_verifier(stored: &str, secret: &[u8]) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| argon().verify_password(secret, &h).is_ok())
}

/// A verifier for no account, checked against when the email is unknown so that the response
/// time does not reveal whether an account exists.
pub fn dummy_verifier() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_verifier(&[0u8; 32]).unwrap_or_default())
}

/// A fresh random token (returned once to the client) and its stored hash.
pub fn new_token() -> (String, Vec<u8>) {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    let token = BASE64URL_NOPAD.encode(raw.as_ref());
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A six-digit email code.
pub fn new_code() -> String {
    let n = rand::rngs::OsRng.next_u32() % 1_000_000;
    format!("{n:06}")
}

pub fn code_hash(user: &[u8], purpose: &str, code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"assent/v1/email-code");
    h.update(user);
    h.update(purpose.as_bytes());
    h.update(code.as_bytes());
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trip() {
        let v = hash_verifier(&[7; 32]).unwrap();
        assert!(v.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(check_verifier(&v, &[7; 32]));
        assert!(!check_verifier(&v, &[8; 32]));
        assert!(!check_verifier("garbage", &[7; 32]));
    }

    #[test]
    fn codes_and_tokens() {
        assert_eq!(new_code().len(), 6);
        let (t, h) = new_token();
        assert_eq!(token_hash(&t), h);
        assert_eq!(t.len(), 43);
    }
}
