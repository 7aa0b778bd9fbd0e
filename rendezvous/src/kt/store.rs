//! The key directory's own rows beside `akd`'s tree ([`super::storage`]): the signed root of
//! each epoch and the queue of values waiting for the next one. SQL only.

use assent_shared::transparency::SignedRoot;
use assent_shared::{Digest, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

pub fn root(c: &Connection, epoch: u64) -> rusqlite::Result<Option<SignedRoot>> {
    let bytes: Option<Vec<u8>> = c
        .query_row(
            "SELECT root FROM kt_roots WHERE epoch = ?1",
            [epoch as i64],
            |r| r.get(0),
        )
        .optional()?;
    Ok(bytes.and_then(|b| SignedRoot::from_bytes(&b).ok()))
}

pub fn newest_root(c: &Connection) -> rusqlite::Result<Option<SignedRoot>> {
    let bytes: Option<Vec<u8>> = c
        .query_row(
            "SELECT root FROM kt_roots ORDER BY epoch DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(bytes.and_then(|b| SignedRoot::from_bytes(&b).ok()))
}

/// The stored root of each epoch from `from`, at most `limit` (a row that does not parse is
/// skipped).
pub fn roots(c: &Connection, from: u64, limit: i64) -> rusqlite::Result<Vec<SignedRoot>> {
    let mut st =
        c.prepare("SELECT root FROM kt_roots WHERE epoch >= ?1 ORDER BY epoch LIMIT ?2")?;
    let rows = st.query_map(params![from as i64, limit], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Ok(root) = SignedRoot::from_bytes(&r?) {
            out.push(root);
        }
    }
    Ok(out)
}

pub fn insert_root(c: &Connection, root: &SignedRoot) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO kt_roots (epoch, root) VALUES (?1, ?2)",
        params![root.epoch() as i64, root.to_bytes()],
    )?;
    Ok(())
}

/// Queue `value` for `label` (the newest value queued for a label wins).
pub fn enqueue(
    c: &Connection,
    label: &[u8],
    value: Digest,
    now: Timestamp,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO kt_pending (label, value, queued_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (label) DO UPDATE SET value = ?2, queued_at = ?3",
        params![label, &value.0[..], now.0 as i64],
    )?;
    Ok(())
}

/// A queued (label, value).
pub type Pending = (Vec<u8>, Vec<u8>);

/// The oldest `limit` values queued.
pub fn pending(c: &Connection, limit: i64) -> rusqlite::Result<Vec<Pending>> {
    let mut st = c.prepare("SELECT label, value FROM kt_pending ORDER BY queued_at LIMIT ?1")?;
    let rows = st.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Take what was published off the queue (a newer value queued for a label meanwhile stays).
pub fn dequeue(c: &mut Connection, published: &[Pending]) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    for (l, v) in published {
        tx.execute(
            "DELETE FROM kt_pending WHERE label = ?1 AND value = ?2",
            params![l, v],
        )?;
    }
    tx.commit()
}

/// Whether the directory ever held a value for `label`.
pub fn has_label(c: &Connection, label: &[u8]) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM kt_values WHERE username = ?1)",
        [label],
        |r| r.get(0),
    )
}
