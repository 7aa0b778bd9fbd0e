//! The accounts' rows: SQL only.

use assent_shared::api::{AccountRole, AdminUser};
use assent_shared::backup::{KdfParams, Salt};
use assent_shared::ids::UserId;
use rusqlite::{Connection, OptionalExtension, params};

/// A stored account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub verifier: String,
    pub salt: Salt,
    pub kdf: KdfParams,
    pub email_verified: bool,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: u64,
    pub role: AccountRole,
    pub disabled: bool,
    pub created_at: u64,
}

const ACCOUNT_COLUMNS: &str = "id, email, display_name, verifier, salt, kdf_memory_kib, kdf_iterations, kdf_lanes, \
     email_verified, totp_secret, totp_enabled, totp_last_step, role, disabled, created_at";

fn row_to_account(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let id: Vec<u8> = r.get(0)?;
    let salt: Vec<u8> = r.get(4)?;
    Ok(Account {
        id: UserId(id.try_into().unwrap_or([0; 16])),
        email: r.get(1)?,
        display_name: r.get(2)?,
        verifier: r.get(3)?,
        salt: Salt(salt.try_into().unwrap_or([0; 16])),
        kdf: KdfParams {
            memory_kib: r.get(5)?,
            iterations: r.get(6)?,
            lanes: r.get(7)?,
        },
        email_verified: r.get(8)?,
        totp_secret: r.get(9)?,
        totp_enabled: r.get(10)?,
        totp_last_step: r.get::<_, i64>(11)? as u64,
        role: AccountRole::parse(&r.get::<_, String>(12)?),
        disabled: r.get(13)?,
        created_at: r.get::<_, i64>(14)? as u64,
    })
}

pub fn by_email(c: &Connection, email: &str) -> rusqlite::Result<Option<Account>> {
    c.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE email = ?1"),
        [email.trim()],
        row_to_account,
    )
    .optional()
}

pub fn by_id(c: &Connection, id: &UserId) -> rusqlite::Result<Option<Account>> {
    c.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?1"),
        [&id.0[..]],
        row_to_account,
    )
    .optional()
}

/// Every account, oldest first, as an administrator sees it.
pub fn all(c: &Connection) -> rusqlite::Result<Vec<AdminUser>> {
    let mut st = c.prepare(
        "SELECT id, email, display_name, role, email_verified, disabled, created_at
         FROM users ORDER BY created_at",
    )?;
    let rows = st.query_map([], |r| {
        let id: Vec<u8> = r.get(0)?;
        Ok(AdminUser {
            user_id: UserId(id.try_into().unwrap_or([0; 16])),
            email: r.get(1)?,
            display_name: r.get(2)?,
            role: AccountRole::parse(&r.get::<_, String>(3)?),
            email_verified: r.get(4)?,
            disabled: r.get(5)?,
            created_at: r.get::<_, i64>(6)? as u64,
        })
    })?;
    rows.collect()
}

/// Disable or re-enable `id`: whether it exists.
pub fn set_disabled(c: &Connection, id: UserId, disabled: bool) -> rusqlite::Result<bool> {
    let n = c.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        params![&id.0[..], disabled],
    )?;
    Ok(n > 0)
}

/// Make the account of `email` an administrator: how many matched.
pub fn promote(c: &Connection, email: &str) -> rusqlite::Result<usize> {
    c.execute(
        "UPDATE users SET role = 'admin' WHERE email = ?1",
        [email.trim()],
    )
}

/// A new two-factor secret for `id`, not enabled until confirmed.
pub fn set_totp_secret(c: &Connection, id: UserId, secret: &[u8]) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET totp_secret = ?2, totp_enabled = 0 WHERE id = ?1",
        params![&id.0[..], secret],
    )?;
    Ok(())
}

/// Two-factor on for `id`, with `step` used.
pub fn enable_totp(c: &Connection, id: UserId, step: u64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET totp_enabled = 1, totp_last_step = ?2 WHERE id = ?1",
        params![&id.0[..], step as i64],
    )?;
    Ok(())
}

/// Two-factor off for `id`, its secret forgotten.
pub fn disable_totp(c: &Connection, id: UserId) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE users SET totp_enabled = 0, totp_secret = NULL WHERE id = ?1",
        params![&id.0[..]],
    )?;
    Ok(())
}

/// Use up two-factor step `step` for `id`, atomically: whether this call was the one that did
/// (of two concurrent requests with one code, one wins).
pub fn use_totp_step(c: &Connection, id: UserId, step: u64) -> rusqlite::Result<bool> {
    let n = c.execute(
        "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
        params![&id.0[..], step as i64],
    )?;
    Ok(n == 1)
}
