//! TOTP two-factor sign-in (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, ±1 step of clock
//! skew). A code is accepted once: the last used step is remembered.

use assent_shared::Timestamp;
use assent_shared::api::ErrorCode;
use assent_shared::api::{TotpCode, TotpEnrolment};
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::users::{self, Account};

const STEP: u64 = 30;
const DIGITS: usize = 6;

fn totp(secret: &[u8], account: &str) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        secret.to_vec(),
        Some("Assent".into()),
        account.to_string(),
    )
    .ok()
}

/// The step of `code` if it is valid at `now` and newer than `last_step`.
pub fn check(secret: &[u8], code: &str, now: Timestamp, last_step: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        secret.to_vec(),
        None,
        String::new(),
    );
    let secs = now.0 / 1000;
    let current = secs / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .filter(|&step| step > last_step)
        .find(|&step| constant_eq(&t.generate(step * STEP), code))
}

/// Check `code` for `acct` and use it up, atomically: of two concurrent requests with one code,
/// one wins (the `UPDATE … WHERE totp_last_step < step` matches once).
pub fn consume(
    c: &rusqlite::Connection,
    acct: &Account,
    code: &str,
    now: Timestamp,
) -> ApiResult<()> {
    let secret = acct.totp_secret.clone().unwrap_or_default();
    let step = check(&secret, code, now, acct.totp_last_step).ok_or_else(ApiError::invalid_totp)?;
    if users::store::use_totp_step(c, acct.id, step)? {
        Ok(())
    } else {
        Err(ApiError::invalid_totp())
    }
}

/// The error when two-factor is on and no code came.
pub fn required() -> ApiError {
    ApiError::new(
        ErrorCode::TotpRequired,
        "enter the code from your authenticator app",
    )
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn already_enabled() -> ApiError {
    ApiError::new(
        ErrorCode::TotpAlreadyEnabled,
        "two-factor sign-in is already on",
    )
}

/// `POST /v1/me/totp`: a new secret, not yet enabled.
pub async fn enrol(db: &Db, acct: Account) -> ApiResult<TotpEnrolment> {
    if acct.totp_enabled {
        return Err(already_enabled());
    }
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let t = totp(&secret, &acct.email).ok_or_else(|| ApiError::Internal("totp".into()))?;
    let enrolment = TotpEnrolment {
        secret: t.get_secret_base32(),
        uri: t.get_url(),
    };
    let id = acct.id;
    db.run(move |c| -> ApiResult<()> { Ok(users::store::set_totp_secret(c, id, &secret)?) })
        .await?;
    Ok(enrolment)
}

/// `POST /v1/me/totp/confirm`: a valid code from the new secret turns two-factor on.
pub async fn confirm(db: &Db, now: Timestamp, acct: Account, req: TotpCode) -> ApiResult<()> {
    if acct.totp_enabled {
        return Err(already_enabled());
    }
    let secret = acct
        .totp_secret
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::TotpNotEnabled, "start enrolment first"))?;
    let step =
        check(&secret, &req.code, now, acct.totp_last_step).ok_or_else(ApiError::invalid_totp)?;
    let id = acct.id;
    db.run(move |c| -> ApiResult<()> { Ok(users::store::enable_totp(c, id, step)?) })
        .await
}

/// `DELETE /v1/me/totp`: a valid code turns two-factor off.
pub async fn disable(db: &Db, now: Timestamp, acct: Account, req: TotpCode) -> ApiResult<()> {
    if !acct.totp_enabled {
        return Err(ApiError::new(
            ErrorCode::TotpNotEnabled,
            "two-factor sign-in is off",
        ));
    }
    let secret = acct.totp_secret.clone().unwrap_or_default();
    check(&secret, &req.code, now, acct.totp_last_step).ok_or_else(ApiError::invalid_totp)?;
    let id = acct.id;
    db.run(move |c| -> ApiResult<()> { Ok(users::store::disable_totp(c, id)?) })
        .await
}

/// Load the signed-in user's account.
pub async fn account(db: &Db, id: assent_shared::ids::UserId) -> ApiResult<Account> {
    db.run(move |c| -> ApiResult<Option<Account>> { Ok(users::by_id(c, &id)?) })
        .await?
        .ok_or_else(ApiError::unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (8 digits there; the same HOTP values truncated differently
    /// are checked through totp-rs with 8 digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new_unchecked(Algorithm::SHA1, 8, 0, 30, secret, None, String::new());
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time), code, "t = {time}");
        }
    }

    #[test]
    fn six_digit_codes_are_single_use_with_skew() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            30,
            secret.clone(),
            None,
            String::new(),
        );
        let now = Timestamp(1_111_111_111_000);
        let code = t.generate(1_111_111_111);
        let step = check(&secret, &code, now, 0).unwrap();
        assert_eq!(check(&secret, &code, now, step), None, "replay refused");
        // One step late is still accepted, two are not.
        assert!(check(&secret, &code, now.plus_millis(30_000), 0).is_some());
        assert!(check(&secret, &code, now.plus_millis(90_000), 0).is_none());
        assert!(check(&secret, "12345", now, 0).is_none());
        assert!(check(&secret, "abcdef", now, 0).is_none());
    }
}
