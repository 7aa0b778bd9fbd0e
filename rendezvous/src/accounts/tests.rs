//! The email codes against the real schema in memory: single use, a lifetime, five tries, and
//! the resend limits.

use super::*;

use crate::testing::T0;

/// A user row, email not verified yet (what sign-up stores; only its id matters here).
fn user(c: &Connection) -> UserId {
    crate::testing::insert_user(c, &UserId::random().to_string(), "user", false)
}

fn code_of(e: ApiError) -> Option<ErrorCode> {
    match e {
        ApiError::Refused { code, .. } => Some(code),
        _ => None,
    }
}

/// The right code works once; a used code is refused after that.
#[test]
fn a_code_is_single_use() {
    let c = crate::db::memory();
    let u = user(&c);
    let code = issue_code(&c, &u, PURPOSE_VERIFY, T0).unwrap().unwrap();
    assert_eq!(code.len(), 6);
    consume_code(&c, &u, PURPOSE_VERIFY, &code, T0.plus_millis(1)).unwrap();
    let again = consume_code(&c, &u, PURPOSE_VERIFY, &code, T0.plus_millis(2)).unwrap_err();
    assert_eq!(code_of(again), Some(ErrorCode::InvalidCode));
}

/// A code is good for fifteen minutes, and for one purpose only.
#[test]
fn a_code_expires_and_belongs_to_its_purpose() {
    let c = crate::db::memory();
    let u = user(&c);
    let code = issue_code(&c, &u, PURPOSE_VERIFY, T0).unwrap().unwrap();
    let other = check_code(&c, &u, PURPOSE_RECOVERY, &code, T0).unwrap_err();
    assert_eq!(code_of(other), Some(ErrorCode::InvalidCode));
    check_code(&c, &u, PURPOSE_VERIFY, &code, T0.plus_millis(CODE_TTL_MS)).unwrap();
    let late = check_code(
        &c,
        &u,
        PURPOSE_VERIFY,
        &code,
        T0.plus_millis(CODE_TTL_MS + 1),
    );
    assert_eq!(code_of(late.unwrap_err()), Some(ErrorCode::InvalidCode));
}

/// Four wrong tries still leave the right code usable; the fifth wrong try ends it, so a
/// guesser gets five chances in a million.
#[test]
fn five_wrong_tries_end_a_code() {
    let c = crate::db::memory();
    let u = user(&c);
    let code = issue_code(&c, &u, PURPOSE_VERIFY, T0).unwrap().unwrap();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..4 {
        assert!(check_code(&c, &u, PURPOSE_VERIFY, wrong, T0).is_err());
    }
    check_code(&c, &u, PURPOSE_VERIFY, &code, T0).unwrap();
    assert!(check_code(&c, &u, PURPOSE_VERIFY, wrong, T0).is_err());
    let spent = check_code(&c, &u, PURPOSE_VERIFY, &code, T0).unwrap_err();
    assert_eq!(code_of(spent), Some(ErrorCode::InvalidCode));
}

/// A new code at most once a minute and ten a day; a new code replaces the old one.
#[test]
fn codes_are_resent_at_most_once_a_minute_and_ten_a_day() {
    let c = crate::db::memory();
    let u = user(&c);
    let first = issue_code(&c, &u, PURPOSE_VERIFY, T0).unwrap().unwrap();
    assert_eq!(
        issue_code(&c, &u, PURPOSE_VERIFY, T0.plus_millis(CODE_RESEND_MS - 1)).unwrap(),
        None
    );
    let mut at = T0;
    let mut last = first.clone();
    for _ in 1..CODE_MAX_PER_DAY {
        at = at.plus_millis(CODE_RESEND_MS);
        last = issue_code(&c, &u, PURPOSE_VERIFY, at).unwrap().unwrap();
    }
    at = at.plus_millis(CODE_RESEND_MS);
    assert_eq!(issue_code(&c, &u, PURPOSE_VERIFY, at).unwrap(), None);
    // The newest code is the one that counts (unless it happens to equal the first).
    if last != first {
        assert!(check_code(&c, &u, PURPOSE_VERIFY, &first, at).is_err());
    }
    check_code(&c, &u, PURPOSE_VERIFY, &last, at).unwrap();
    let next_day = T0.plus_millis(24 * 3_600_000 + CODE_RESEND_MS * 12);
    assert!(
        issue_code(&c, &u, PURPOSE_VERIFY, next_day)
            .unwrap()
            .is_some()
    );
}
