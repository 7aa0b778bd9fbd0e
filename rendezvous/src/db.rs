//! SQLite storage: one connection, WAL, foreign keys, schema migrations by `user_version`.
//! Queries run on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

/// Schema migrations, in order. Never edit a shipped one: append.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, sessions, email codes, identity directory.
    r#"
    CREATE TABLE users (
        id BLOB PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        verifier TEXT NOT NULL,
        salt BLOB NOT NULL,
        kdf_memory_kib INTEGER NOT NULL,
        kdf_iterations INTEGER NOT NULL,
        kdf_lanes INTEGER NOT NULL,
        key_backup BLOB,
        email_verified INTEGER NOT NULL DEFAULT 0,
        totp_secret BLOB,
        totp_enabled INTEGER NOT NULL DEFAULT 0,
        totp_last_step INTEGER NOT NULL DEFAULT 0,
        role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id BLOB PRIMARY KEY,
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash BLOB NOT NULL UNIQUE,
        device TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE email_codes (
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        code_hash BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        sent_at INTEGER NOT NULL,
        sent_today INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (user_id, purpose)
    );
    CREATE TABLE identities (
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        bundle BLOB NOT NULL,
        published_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, seq)
    );
    CREATE TABLE recovery_tickets (
        ticket_hash BLOB PRIMARY KEY,
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL
    );
    "#,
    // 2: meetings, members, invitees, calls and their participants (history).
    r#"
    CREATE TABLE meetings (
        id BLOB PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('instant', 'scheduled', 'personal')),
        title TEXT NOT NULL,
        host_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        starts_at INTEGER,
        duration_min INTEGER,
        locked INTEGER NOT NULL DEFAULT 0,
        ended_at INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX meetings_personal ON meetings(host_id) WHERE kind = 'personal';
    CREATE TABLE meeting_members (
        meeting_id BLOB NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('host', 'cohost', 'participant')),
        removed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (meeting_id, user_id)
    );
    CREATE TABLE meeting_invitees (
        meeting_id BLOB NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        email TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (meeting_id, email)
    );
    CREATE TABLE calls (
        id BLOB PRIMARY KEY,
        meeting_id BLOB NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        started_at INTEGER NOT NULL,
        ended_at INTEGER
    );
    CREATE TABLE call_participants (
        call_id BLOB NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        joined_at INTEGER NOT NULL,
        left_at INTEGER
    );
    CREATE INDEX call_participants_user ON call_participants(user_id);
    "#,
    // 3: the recordings registry: metadata, the signed manifest, who may see it, stored
    // objects and multipart uploads in progress.
    r#"
    CREATE TABLE recordings (
        id BLOB PRIMARY KEY,
        call_id BLOB NOT NULL,
        title TEXT NOT NULL,
        recorder_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('uploading', 'complete')),
        retention_days INTEGER NOT NULL,
        retention_until INTEGER,
        manifest BLOB NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        completed_at INTEGER,
        tags TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX recordings_recorder ON recordings(recorder_id);
    CREATE INDEX recordings_retention ON recordings(retention_until) WHERE status = 'complete';
    CREATE TABLE recording_participants (
        recording_id BLOB NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (recording_id, user_id)
    );
    CREATE INDEX recording_participants_user ON recording_participants(user_id);
    CREATE TABLE recording_objects (
        recording_id BLOB NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (recording_id, name)
    );
    CREATE TABLE recording_uploads (
        recording_id BLOB NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        upload_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (recording_id, upload_id)
    );
    "#,
    // 4: a call's participants by call: ending a call (and deleting one) looked them up by a
    // scan of every call's participants, which a burst of calls ending at once (every connection
    // dropped) turned into seconds of work.
    r#"
    CREATE INDEX call_participants_call ON call_participants(call_id);
    "#,
    // 5: the key directory (akd): its epoch, tree and value states, each epoch's signed root,
    // and the changes waiting for the next epoch. Identities by signing key, so a key is
    // published by one account, once.
    r#"
    CREATE TABLE kt_azks (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        latest_epoch INTEGER NOT NULL,
        num_nodes INTEGER NOT NULL
    );
    CREATE TABLE kt_nodes (
        label BLOB PRIMARY KEY,
        node BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE kt_values (
        username BLOB NOT NULL,
        epoch INTEGER NOT NULL,
        version INTEGER NOT NULL,
        node_label BLOB NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (username, epoch)
    ) WITHOUT ROWID;
    CREATE INDEX kt_values_version ON kt_values(username, version);
    CREATE TABLE kt_roots (
        epoch INTEGER PRIMARY KEY,
        root BLOB NOT NULL
    );
    CREATE TABLE kt_pending (
        label BLOB PRIMARY KEY,
        value BLOB NOT NULL,
        queued_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE identities ADD COLUMN signing_key BLOB;
    CREATE INDEX identities_signing_key ON identities(signing_key);
    "#,
    // 6: recovery proofs. The server keeps a hash of the proof that the caller can open the
    // key backup's data key; a recovery must show the proof before it may set a password. A
    // ticket allows a few wrong proofs.
    r#"
    ALTER TABLE users ADD COLUMN recovery_verifier BLOB;
    ALTER TABLE recovery_tickets ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    "#,
];

/// Storage errors (details stay in the logs, never in responses).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed")]
    Join,
    #[error("database schema {found} is newer than this server ({known})")]
    TooNew { found: i64, known: i64 },
}

/// The database handle.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// Open (creating) the database file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        backfill_signing_keys(&conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with the connection on the blocking pool.
    pub async fn run<T: Send + 'static, E: From<DbError> + Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|_| E::from(DbError::Join))?
    }
}

/// Whether the database answers (the health check).
pub fn ping(c: &Connection) -> rusqlite::Result<()> {
    c.query_row("SELECT 1", [], |_| Ok(()))
}

/// A database in memory with the current schema (unit tests of the SQL).
#[cfg(test)]
pub fn memory() -> Connection {
    let mut conn = Connection::open_in_memory().expect("an in-memory database");
    conn.pragma_update(None, "foreign_keys", "ON")
        .expect("foreign keys");
    migrate(&mut conn).expect("the migrations apply");
    conn
}

#[cfg(test)]
impl Db {
    /// A handle on a database in memory with the current schema (unit tests of the services).
    pub fn in_memory() -> Db {
        Db {
            conn: Arc::new(Mutex::new(memory())),
        }
    }
}

/// Identities stored before migration 5 get their signing key column filled in.
fn backfill_signing_keys(conn: &Connection) -> Result<(), DbError> {
    let mut st = conn.prepare("SELECT rowid, bundle FROM identities WHERE signing_key IS NULL")?;
    let rows: Vec<(i64, Vec<u8>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (rowid, bundle) in rows {
        if let Ok(id) = assent_shared::PublicIdentity::from_bytes(&bundle) {
            conn.execute(
                "UPDATE identities SET signing_key = ?1 WHERE rowid = ?2",
                rusqlite::params![&id.signing.0[..], rowid],
            )?;
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(DbError::TooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        drop(Db::open(&path).unwrap());
        drop(Db::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        c.pragma_update(None, "user_version", 999).unwrap();
        drop(c);
        assert!(matches!(Db::open(&path), Err(DbError::TooNew { .. })));
    }

    /// The statements run for every call that ends (and the cascade when a call is deleted)
    /// find its participants through an index, not by scanning every call's.
    #[test]
    fn ending_a_call_uses_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        drop(Db::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        for sql in [
            "UPDATE call_participants SET left_at = 1 WHERE call_id = x'00' AND left_at IS NULL",
            "DELETE FROM call_participants WHERE call_id = x'00'",
        ] {
            let plan: Vec<String> = c
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(
                plan.iter().any(|p| p.contains("call_participants_call")),
                "{sql}: {plan:?}"
            );
        }
    }
}
