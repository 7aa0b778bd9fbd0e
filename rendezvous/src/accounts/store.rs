//! The account flows' rows: the accounts they create, verify, re-key and delete, the email
//! codes and the recovery tickets. SQL only (the rules are in `mod.rs`); codes and tickets
//! are kept by their hashes.

use assent_shared::Timestamp;
use assent_shared::backup::{KdfParams, Salt};
use assent_shared::ids::UserId;
use rusqlite::{Connection, OptionalExtension, params};

/// A new account's row, as sign-up stores it.
pub struct NewAccount {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub verifier: String,
    pub salt: Salt,
    pub kdf: KdfParams,
    pub backup: Vec<u8>,
    pub recovery: [u8; 32],
}

pub fn insert(c: &Connection, row: &NewAccount, now: Timestamp) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO users (id, email, display_name, verifier, salt, kdf_memory_kib,
           kdf_iterations, kdf_lanes, key_backup, created_at, recovery_verifier)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            &row.id.0[..],
            row.email,
            row.display_name,
            row.verifier,
            &row.salt.0[..],
            row.kdf.memory_kib,
            row.kdf.iterations,
            row.kdf.lanes,
            row.backup,
            now.0 as i64,
            &row.recovery[..]
        ],
    )?;
    Ok(())
}

/// Whether the account holding `email` verified it (`None`: no account holds it).
pub fn email_verified(c: &Connection, email: &str) -> rusqlite::Result<Option<bool>> {
    c.query_row(
        "SELECT email_verified FROM users WHERE email = ?1",
        [email],
        |r| r.get(0),
    )
    .optional()
}

/// Delete the account holding `email` if it never verified it.
pub fn delete_unverified(c: &Connection, email: &str) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM users WHERE email = ?1 AND email_verified = 0",
        [email],
    )?;
    Ok(())
}

/// Delete the accounts made before `cutoff` that never verified their address: how many.
pub fn delete_unverified_before(c: &Connection, cutoff: Timestamp) -> rusqlite::Result<usize> {
    c.execute(
        "DELETE FROM users WHERE email_verified = 0 AND created_at < ?1",
        [cutoff.0 as i64],
    )
}

pub fn mark_verified(c: &Connection, user: UserId) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET email_verified = 1 WHERE id = ?1",
        [&user.0[..]],
    )?;
    Ok(())
}

pub fn delete(c: &Connection, user: UserId) -> rusqlite::Result<()> {
    c.execute("DELETE FROM users WHERE id = ?1", [&user.0[..]])?;
    Ok(())
}

/// A new password: its verifier, how the key was derived from it, and the backup it seals.
pub struct NewPassword {
    pub verifier: String,
    pub salt: Salt,
    pub kdf: KdfParams,
    pub backup: Vec<u8>,
}

pub fn set_password(c: &Connection, user: UserId, p: &NewPassword) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET verifier = ?2, salt = ?3, kdf_memory_kib = ?4, kdf_iterations = ?5,
           kdf_lanes = ?6, key_backup = ?7 WHERE id = ?1",
        params![
            &user.0[..],
            p.verifier,
            &p.salt.0[..],
            p.kdf.memory_kib,
            p.kdf.iterations,
            p.kdf.lanes,
            p.backup
        ],
    )?;
    Ok(())
}

pub fn set_recovery_verifier(
    c: &Connection,
    user: UserId,
    recovery: &[u8; 32],
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET recovery_verifier = ?2 WHERE id = ?1",
        params![&user.0[..], &recovery[..]],
    )?;
    Ok(())
}

/// The account's sealed key backup (an error if there is no such account).
pub fn key_backup(c: &Connection, user: UserId) -> rusqlite::Result<Option<Vec<u8>>> {
    c.query_row(
        "SELECT key_backup FROM users WHERE id = ?1",
        [&user.0[..]],
        |r| r.get(0),
    )
}

/// An account's stored key backup and recovery verifier (either may be missing).
pub type RecoveryMaterial = (Option<Vec<u8>>, Option<Vec<u8>>);

pub fn recovery_material(c: &Connection, user: UserId) -> rusqlite::Result<RecoveryMaterial> {
    c.query_row(
        "SELECT key_backup, recovery_verifier FROM users WHERE id = ?1",
        [&user.0[..]],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// When the last code for (user, purpose) was sent, and how many were sent that day.
pub fn code_sent(
    c: &Connection,
    user: UserId,
    purpose: &str,
) -> rusqlite::Result<Option<(Timestamp, i64)>> {
    c.query_row(
        "SELECT sent_at, sent_today FROM email_codes WHERE user_id = ?1 AND purpose = ?2",
        params![&user.0[..], purpose],
        |r| Ok((Timestamp(r.get::<_, i64>(0)? as u64), r.get(1)?)),
    )
    .optional()
}

/// A code about to be kept (replacing the one before for its user and purpose).
pub struct NewCode<'a> {
    pub user: UserId,
    pub purpose: &'a str,
    pub hash: Vec<u8>,
    pub expires_at: Timestamp,
    pub sent_at: Timestamp,
    pub sent_today: i64,
}

pub fn put_code(c: &Connection, code: &NewCode<'_>) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO email_codes (user_id, purpose, code_hash, expires_at, attempts, sent_at,
           sent_today)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)
         ON CONFLICT (user_id, purpose) DO UPDATE SET code_hash = ?3, expires_at = ?4,
           attempts = 0, sent_at = ?5, sent_today = ?6",
        params![
            &code.user.0[..],
            code.purpose,
            code.hash,
            code.expires_at.0 as i64,
            code.sent_at.0 as i64,
            code.sent_today
        ],
    )?;
    Ok(())
}

/// A kept code: its hash, when it expires and how often it was tried.
pub struct StoredCode {
    pub hash: Vec<u8>,
    pub expires_at: i64,
    pub attempts: i64,
}

pub fn code(c: &Connection, user: UserId, purpose: &str) -> rusqlite::Result<Option<StoredCode>> {
    c.query_row(
        "SELECT code_hash, expires_at, attempts FROM email_codes
         WHERE user_id = ?1 AND purpose = ?2",
        params![&user.0[..], purpose],
        |r| {
            Ok(StoredCode {
                hash: r.get(0)?,
                expires_at: r.get(1)?,
                attempts: r.get(2)?,
            })
        },
    )
    .optional()
}

/// One more try of (user, purpose)'s code.
pub fn count_code_try(c: &Connection, user: UserId, purpose: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE email_codes SET attempts = attempts + 1 WHERE user_id = ?1 AND purpose = ?2",
        params![&user.0[..], purpose],
    )?;
    Ok(())
}

/// Void (user, purpose)'s code: expired, with `attempts` tries used. The row stays, for the
/// resend limits.
pub fn void_code(
    c: &Connection,
    user: UserId,
    purpose: &str,
    attempts: i64,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE email_codes SET attempts = ?3, expires_at = 0 WHERE user_id = ?1 AND purpose = ?2",
        params![&user.0[..], purpose, attempts],
    )?;
    Ok(())
}

pub fn insert_ticket(
    c: &Connection,
    hash: &[u8],
    user: UserId,
    expires_at: Timestamp,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO recovery_tickets (ticket_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
        params![hash, &user.0[..], expires_at.0 as i64],
    )?;
    Ok(())
}

/// A kept recovery ticket: whose, until when, and how many wrong proofs it saw.
pub struct Ticket {
    pub user: UserId,
    pub expires_at: i64,
    pub attempts: i64,
}

pub fn ticket(c: &Connection, hash: &[u8]) -> rusqlite::Result<Option<Ticket>> {
    c.query_row(
        "SELECT user_id, expires_at, attempts FROM recovery_tickets WHERE ticket_hash = ?1",
        [hash],
        |r| {
            let user: Vec<u8> = r.get(0)?;
            Ok(Ticket {
                user: UserId(user.try_into().unwrap_or([0; 16])),
                expires_at: r.get(1)?,
                attempts: r.get(2)?,
            })
        },
    )
    .optional()
}

/// One more wrong proof for the ticket.
pub fn count_ticket_try(c: &Connection, hash: &[u8]) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recovery_tickets SET attempts = attempts + 1 WHERE ticket_hash = ?1",
        [hash],
    )?;
    Ok(())
}

/// Use the ticket up: whether this call was the one that did.
pub fn take_ticket(c: &Connection, hash: &[u8]) -> rusqlite::Result<bool> {
    Ok(c.execute(
        "DELETE FROM recovery_tickets WHERE ticket_hash = ?1",
        [hash],
    )? == 1)
}

pub fn delete_tickets(c: &Connection, user: UserId) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM recovery_tickets WHERE user_id = ?1",
        [&user.0[..]],
    )?;
    Ok(())
}
