//! The identities' rows (each account's published bundles, in order): SQL only.

use assent_shared::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

/// One published bundle.
pub struct Published {
    pub seq: i64,
    pub bundle: Vec<u8>,
    pub published_at: i64,
}

/// The account's newest bundle: its number and bytes.
pub fn latest(c: &Connection, user: &[u8]) -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
    c.query_row(
        "SELECT seq, bundle FROM identities WHERE user_id = ?1 ORDER BY seq DESC LIMIT 1",
        [user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The account that ever published `signing_key`.
pub fn holder(c: &Connection, signing_key: &[u8]) -> rusqlite::Result<Option<Vec<u8>>> {
    c.query_row(
        "SELECT user_id FROM identities WHERE signing_key = ?1 LIMIT 1",
        [signing_key],
        |r| r.get(0),
    )
    .optional()
}

pub fn insert(
    c: &Connection,
    user: &[u8],
    seq: i64,
    bundle: &[u8],
    signing_key: &[u8],
    now: Timestamp,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO identities (user_id, seq, bundle, published_at, signing_key)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user, seq, bundle, now.0 as i64, signing_key],
    )?;
    Ok(())
}

/// The account's email, if it is verified.
pub fn verified_email(c: &Connection, user: &[u8]) -> rusqlite::Result<Option<String>> {
    let row: Option<(String, bool)> = c
        .query_row(
            "SELECT email, email_verified FROM users WHERE id = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(email, verified)| verified.then_some(email)))
}

/// Every bundle the account published, oldest first.
pub fn history(c: &Connection, user: &[u8]) -> rusqlite::Result<Vec<Published>> {
    let mut st = c.prepare(
        "SELECT seq, bundle, published_at FROM identities WHERE user_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([user], |r| {
        Ok(Published {
            seq: r.get(0)?,
            bundle: r.get(1)?,
            published_at: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Every bundle the account holding `email` published, newest first.
pub fn bundles_by_email(c: &Connection, email: &str) -> rusqlite::Result<Vec<Vec<u8>>> {
    let mut st = c.prepare(
        "SELECT i.bundle FROM identities i JOIN users u ON u.id = i.user_id
         WHERE u.email = ?1 ORDER BY i.seq DESC",
    )?;
    let rows = st.query_map([email], |r| r.get::<_, Vec<u8>>(0))?;
    rows.collect()
}
