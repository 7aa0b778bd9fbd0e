//! The accounts as every service sees them: a stored account and its rows (`store.rs`), the
//! check of a password secret against its verifier, and the checks of what clients send.
//! Below the services (accounts, sessions, two-factor, the directory, meetings, admin), which
//! all use it.

pub mod store;

use assent_shared::PublicIdentity;
use assent_shared::api::{AuthSecret, ErrorCode};

use crate::error::{ApiError, ApiResult};
use crate::secrets;

pub use store::{Account, by_email, by_id};

/// Validation of what a client sends.
pub fn check_email(email: &str) -> ApiResult<String> {
    let e = email.trim();
    let ok =
        e.len() <= 254 && e.parse::<lettre::Address>().is_ok() && !e.contains(char::is_whitespace);
    if ok {
        Ok(e.to_string())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidEmail,
            "not a valid email address",
        ))
    }
}

pub fn check_display_name(name: &str) -> ApiResult<String> {
    let n = name.trim();
    let count = n.chars().count();
    if count == 0 || count > 64 || n.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidDisplayName,
            "a display name has 1 to 64 characters, no control characters",
        ));
    }
    Ok(n.to_string())
}

pub fn check_identity(identity: &PublicIdentity) -> ApiResult<()> {
    identity.verify().map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidIdentity,
            "the identity bundle does not verify",
        )
    })
}

/// Check `secret` against `verifier` (or a dummy, so timing does not reveal unknown accounts).
pub async fn verify_secret(verifier: Option<String>, secret: &AuthSecret) -> ApiResult<bool> {
    let s = zeroize::Zeroizing::new(secret.0);
    secrets::argon_bounded(move || match verifier {
        Some(v) => secrets::check_verifier(&v, s.as_ref()),
        None => {
            secrets::check_verifier(secrets::dummy_verifier(), s.as_ref());
            false
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use assent_shared::ids::UserId;

    use super::*;

    #[test]
    fn emails_are_checked_and_trimmed() {
        assert_eq!(check_email(" ann@example.org ").unwrap(), "ann@example.org");
        for bad in ["", "ann", "ann@", "@example.org", "a nn@example.org"] {
            assert!(
                matches!(
                    check_email(bad),
                    Err(ApiError::Refused {
                        code: ErrorCode::InvalidEmail,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(check_email(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn display_names_have_1_to_64_printable_characters() {
        assert_eq!(check_display_name("  Ann  ").unwrap(), "Ann");
        assert_eq!(
            check_display_name(&"é".repeat(64)).unwrap().chars().count(),
            64
        );
        for bad in ["", "   ", "A\u{7}nn"] {
            assert!(check_display_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_display_name(&"a".repeat(65)).is_err());
    }

    /// A stored account is found by email (whatever its case and spaces) and by id.
    #[test]
    fn accounts_are_found_by_email_and_id() {
        let c = crate::db::memory();
        let id = UserId::random();
        c.execute(
            "INSERT INTO users (id, email, display_name, verifier, salt, kdf_memory_kib,
               kdf_iterations, kdf_lanes, created_at)
             VALUES (?1, 'ann@example.org', 'Ann', 'v', ?2, 65536, 3, 1, 7)",
            rusqlite::params![&id.0[..], &[9u8; 16][..]],
        )
        .unwrap();
        let a = by_email(&c, " ANN@example.org").unwrap().unwrap();
        assert_eq!(
            (a.id, a.display_name.as_str(), a.salt.0),
            (id, "Ann", [9; 16])
        );
        assert!(!a.email_verified && !a.totp_enabled && !a.disabled);
        assert_eq!(a.role, assent_shared::api::AccountRole::User);
        assert_eq!(by_id(&c, &id).unwrap().unwrap().email, "ann@example.org");
        assert!(by_email(&c, "bob@example.org").unwrap().is_none());
    }

    /// A bundle that does not verify is refused with its code.
    #[test]
    fn identities_must_verify() {
        let id = assent_shared::SecretIdentity::generate(assent_shared::Timestamp(1));
        check_identity(id.public()).unwrap();
        let mut forged = id.public().clone();
        forged.signing = assent_shared::SecretIdentity::generate(assent_shared::Timestamp(2)).key();
        assert!(matches!(
            check_identity(&forged),
            Err(ApiError::Refused {
                code: ErrorCode::InvalidIdentity,
                ..
            })
        ));
    }
}
