//! The sessions' rows: SQL only (the rules are in `mod.rs`). A session is kept by the hash of
//! its token, never the token.

use assent_shared::Timestamp;
use assent_shared::api::{AccountRole, SessionInfo};
use assent_shared::ids::UserId;
use rusqlite::{Connection, OptionalExtension, params};

/// A session about to be kept.
pub struct NewSession {
    pub id: UserId,
    pub user: UserId,
    pub token_hash: Vec<u8>,
    pub device: String,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

pub fn insert(c: &Connection, s: &NewSession) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_used_at,
           expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![
            &s.id.0[..],
            &s.user.0[..],
            s.token_hash,
            s.device,
            s.now.0 as i64,
            s.expires_at.0 as i64
        ],
    )?;
    Ok(())
}

/// A session found by its token, with what its account says of it.
pub struct ByToken {
    pub session: Vec<u8>,
    pub user: Vec<u8>,
    pub expires_at: i64,
    pub last_used_at: i64,
    pub role: AccountRole,
    pub disabled: bool,
}

pub fn by_token(c: &Connection, hash: &[u8]) -> rusqlite::Result<Option<ByToken>> {
    c.query_row(
        "SELECT s.id, s.user_id, s.expires_at, s.last_used_at, u.role, u.disabled
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        [hash],
        |r| {
            Ok(ByToken {
                session: r.get(0)?,
                user: r.get(1)?,
                expires_at: r.get(2)?,
                last_used_at: r.get(3)?,
                role: AccountRole::parse(&r.get::<_, String>(4)?),
                disabled: r.get(5)?,
            })
        },
    )
    .optional()
}

pub fn touch(c: &Connection, session: &[u8], now: Timestamp) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE sessions SET last_used_at = ?2 WHERE id = ?1",
        params![session, now.0 as i64],
    )?;
    Ok(())
}

/// `user`'s sessions, oldest first; `current` is marked.
pub fn of_user(c: &Connection, user: UserId, current: &[u8]) -> rusqlite::Result<Vec<SessionInfo>> {
    let mut st = c.prepare(
        "SELECT id, device, created_at, last_used_at, expires_at FROM sessions
         WHERE user_id = ?1 ORDER BY created_at",
    )?;
    let rows = st.query_map([&user.0[..]], |r| {
        let sid: Vec<u8> = r.get(0)?;
        Ok(SessionInfo {
            id: data_encoding::HEXLOWER.encode(&sid),
            current: sid == current,
            device: r.get(1)?,
            created_at: r.get::<_, i64>(2)? as u64,
            last_used_at: r.get::<_, i64>(3)? as u64,
            expires_at: r.get::<_, i64>(4)? as u64,
        })
    })?;
    rows.collect()
}

/// Delete `user`'s session `id`: whether there was one.
pub fn delete(c: &Connection, id: &[u8], user: UserId) -> rusqlite::Result<bool> {
    let n = c.execute(
        "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
        params![id, &user.0[..]],
    )?;
    Ok(n > 0)
}

/// End every session of `user`.
pub fn delete_all(c: &Connection, user: UserId) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM sessions WHERE user_id = ?1", [&user.0[..]])
}

/// End every session of `user` but `keep`.
pub fn delete_others(c: &Connection, user: UserId, keep: &[u8]) -> rusqlite::Result<usize> {
    c.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2",
        params![&user.0[..], keep],
    )
}
