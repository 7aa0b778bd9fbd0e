//! The client's local store (SQLite, one file per profile): settings, the contacts' pinned
//! identity keys with every change seen (by verified email: see [`directory`]), what this
//! profile knows of the key directory, and a cache of call history.
//!
//! Nothing secret lives here: keys and the session token are in the keyring.

use std::path::Path;

use assent_shared::PublicIdentity;
use rusqlite::{Connection, OptionalExtension, params};

mod directory;
mod heads;
mod states;
pub use directory::{Alarm, PinSeen};
pub use states::{CloudState, RecordingState};
use states::{scope_from_word, scope_word};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("local store: {0}")]
    Corrupt(String),
    #[error("local store {0}: {1}")]
    File(std::path::PathBuf, String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database and its journal files are this user's only (0600), created so from the start
/// and tightened if an older version left them readable.
fn private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let err = |e: std::io::Error| StoreError::File(path.to_path_buf(), e.to_string());
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
    }
    Ok(())
}

const MIGRATIONS: &[&str] = &[
    // 1
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE contacts (
        user_id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        identity BLOB NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE key_changes (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        old_identity BLOB NOT NULL,
        new_identity BLOB NOT NULL,
        seen_at INTEGER NOT NULL,
        acknowledged INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        meeting_code TEXT NOT NULL,
        title TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        participants TEXT NOT NULL
     );",
    // 2
    "CREATE TABLE recordings (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        dir TEXT NOT NULL,
        call_id TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        participants TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        size INTEGER NOT NULL DEFAULT 0,
        segments INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ('recording', 'complete', 'incomplete')),
        scope TEXT NOT NULL CHECK (scope IN ('local', 'local_and_cloud')),
        retention_days INTEGER NOT NULL,
        cloud_state TEXT NOT NULL DEFAULT 'none'
            CHECK (cloud_state IN ('none', 'pending', 'uploading', 'complete', 'failed')),
        uploaded_bytes INTEGER NOT NULL DEFAULT 0
     );",
    // 3: multipart uploads in progress (so an upload resumes after a restart), and why the
    // last upload attempt failed.
    "CREATE TABLE cloud_uploads (
        recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        upload_id TEXT NOT NULL,
        PRIMARY KEY (recording_id, name)
     );
     ALTER TABLE recordings ADD COLUMN cloud_error TEXT;",
    // 4: key transparency. Contacts' keys pinned by verified email (never by a server-chosen
    // id), the keys this profile held itself (to monitor its own history), the directory roots
    // seen (to catch a server that shows different people different directories), and the
    // alarms raised.
    "CREATE TABLE pins (
        email TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        identity BLOB NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE pin_changes (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        old_identity BLOB NOT NULL,
        new_identity BLOB NOT NULL,
        seen_at INTEGER NOT NULL,
        accepted_at INTEGER
     );
     CREATE TABLE own_keys (
        value BLOB PRIMARY KEY,
        identity BLOB NOT NULL,
        since INTEGER NOT NULL
     );
     CREATE TABLE directory_roots (
        epoch INTEGER PRIMARY KEY,
        root BLOB NOT NULL,
        seen_at INTEGER NOT NULL
     );
     CREATE TABLE directory_alarms (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        evidence BLOB,
        raised_at INTEGER NOT NULL
     );",
    // The chain heads recorders showed during calls: witnesses against cut-off copies.
    "CREATE TABLE recording_heads (
        recording_id TEXT NOT NULL,
        signer BLOB NOT NULL,
        head BLOB NOT NULL,
        segments INTEGER NOT NULL,
        sealed INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (recording_id, signer)
     );",
];

/// One recording in the local library.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecordingRow {
    pub id: String,
    pub title: String,
    pub dir: String,
    pub call_id: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub participants: Vec<String>,
    pub tags: Vec<String>,
    pub size: u64,
    pub segments: u32,
    pub state: RecordingState,
    /// Where the participants agreed it may be kept.
    #[serde(serialize_with = "states::serialize_scope")]
    pub scope: assent_shared::consent::Scope,
    pub retention_days: u16,
    pub cloud_state: CloudState,
    pub uploaded_bytes: u64,
}

/// One past call, as this client saw it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CallRecord {
    pub call_id: String,
    pub meeting_code: String,
    pub title: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub participants: Vec<String>,
}

impl CallRecord {
    /// A call starting now, before the server names it or anyone else comes.
    pub fn starting() -> CallRecord {
        CallRecord {
            call_id: String::new(),
            meeting_code: String::new(),
            title: String::new(),
            started_at: assent_shared::Timestamp::now().0,
            ended_at: None,
            participants: Vec::new(),
        }
    }
}

/// The store is `Sync`: its connection is behind a lock, taken for each statement or
/// transaction, so engine futures that use it can move between threads.
pub struct Store {
    conn: std::sync::Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store(..)")
    }
}

impl Store {
    /// Open (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        private_file(path)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store {
            conn: std::sync::Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The connection, for one statement or transaction (a panic while it was held leaves
    /// SQLite consistent: the transaction is rolled back).
    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&mut self) -> Result<()> {
        let mut db = self.db();
        let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this app ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = db.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        let db = self.db();
        Ok(db
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let db = self.db();
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn remove_setting(&self, key: &str) -> Result<()> {
        let db = self.db();
        db.execute("DELETE FROM settings WHERE key = ?1", [key])?;
        Ok(())
    }

    /// The names of everyone whose keys this device has seen, current and earlier keys alike
    /// (to name the signers of a recording's consent).
    pub fn contact_names(&self) -> Result<Vec<(assent_shared::IdentityKey, String)>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT p.display_name || ' <' || p.email || '>', p.identity FROM pins p
             UNION ALL
             SELECT p.display_name || ' <' || p.email || '>', k.old_identity FROM pin_changes k
             JOIN pins p ON p.email = k.email
             UNION ALL
             SELECT c.display_name, c.identity FROM contacts c
             UNION ALL
             SELECT c.display_name, k.old_identity FROM key_changes k
             JOIN contacts c ON c.user_id = k.user_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, bytes) = row?;
            if let Ok(identity) = PublicIdentity::from_bytes(&bytes) {
                out.push((identity.signing, name));
            }
        }
        Ok(out)
    }

    pub fn record_call(&self, call: &CallRecord) -> Result<()> {
        let db = self.db();
        let participants = serde_json::to_string(&call.participants)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        db.execute(
            "INSERT INTO calls (call_id, meeting_code, title, started_at, ended_at, participants)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(call_id) DO UPDATE SET ended_at = excluded.ended_at,
               participants = excluded.participants",
            params![
                call.call_id,
                call.meeting_code,
                call.title,
                call.started_at as i64,
                call.ended_at.map(|t| t as i64),
                participants
            ],
        )?;
        Ok(())
    }

    pub fn add_recording(&self, r: &RecordingRow) -> Result<()> {
        let db = self.db();
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        db.execute(
            "INSERT INTO recordings (id, title, dir, call_id, started_at, ended_at, participants,
               tags, size, segments, state, scope, retention_days, cloud_state, uploaded_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(id) DO NOTHING",
            params![
                r.id,
                r.title,
                r.dir,
                r.call_id,
                r.started_at as i64,
                r.ended_at.map(|t| t as i64),
                json(&r.participants),
                json(&r.tags),
                r.size as i64,
                r.segments,
                r.state,
                scope_word(r.scope),
                r.retention_days,
                r.cloud_state,
                r.uploaded_bytes as i64
            ],
        )?;
        Ok(())
    }

    /// A segment was written.
    pub fn recording_progress(&self, id: &str, segments: u32, size: u64) -> Result<()> {
        let db = self.db();
        db.execute(
            "UPDATE recordings SET segments = ?2, size = ?3 WHERE id = ?1",
            params![id, segments, size as i64],
        )?;
        Ok(())
    }

    /// The recording ended (complete) or was found abandoned (incomplete).
    pub fn recording_ended(
        &self,
        id: &str,
        state: RecordingState,
        ended_at: Option<u64>,
    ) -> Result<()> {
        let db = self.db();
        db.execute(
            "UPDATE recordings SET state = ?2, ended_at = COALESCE(?3, ended_at) WHERE id = ?1",
            params![id, state, ended_at.map(|t| t as i64)],
        )?;
        Ok(())
    }

    pub fn set_cloud_state(&self, id: &str, state: CloudState, uploaded_bytes: u64) -> Result<()> {
        let db = self.db();
        db.execute(
            "UPDATE recordings SET cloud_state = ?2, uploaded_bytes = ?3,
               cloud_error = CASE WHEN ?2 = 'failed' THEN cloud_error ELSE NULL END
             WHERE id = ?1",
            params![id, state, uploaded_bytes as i64],
        )?;
        Ok(())
    }

    /// The upload failed for a reason retrying will not fix.
    pub fn set_cloud_failed(&self, id: &str, error: &str) -> Result<()> {
        let db = self.db();
        db.execute(
            "UPDATE recordings SET cloud_state = 'failed', cloud_error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    pub fn cloud_error(&self, id: &str) -> Result<Option<String>> {
        let db = self.db();
        Ok(db
            .query_row(
                "SELECT cloud_error FROM recordings WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The multipart upload in progress for an object, if any.
    pub fn upload_id(&self, recording: &str, name: &str) -> Result<Option<String>> {
        let db = self.db();
        Ok(db
            .query_row(
                "SELECT upload_id FROM cloud_uploads WHERE recording_id = ?1 AND name = ?2",
                [recording, name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_upload_id(&self, recording: &str, name: &str, upload: Option<&str>) -> Result<()> {
        let db = self.db();
        match upload {
            Some(u) => db.execute(
                "INSERT INTO cloud_uploads (recording_id, name, upload_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT(recording_id, name) DO UPDATE SET upload_id = excluded.upload_id",
                params![recording, name, u],
            )?,
            None => db.execute(
                "DELETE FROM cloud_uploads WHERE recording_id = ?1 AND name = ?2",
                params![recording, name],
            )?,
        };
        Ok(())
    }

    pub fn set_tags(&self, id: &str, tags: &[String]) -> Result<bool> {
        let db = self.db();
        let json = serde_json::to_string(tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let n = db.execute(
            "UPDATE recordings SET tags = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        Ok(n == 1)
    }

    pub fn remove_recording(&self, id: &str) -> Result<()> {
        let db = self.db();
        db.execute("DELETE FROM cloud_uploads WHERE recording_id = ?1", [id])?;
        db.execute("DELETE FROM recordings WHERE id = ?1", [id])?;
        Ok(())
    }

    /// The library, newest first.
    pub fn recordings(&self) -> Result<Vec<RecordingRow>> {
        let db = self.db();
        let mut st = db.prepare(
            "SELECT id, title, dir, call_id, started_at, ended_at, participants, tags, size,
               segments, state, scope, retention_days, cloud_state, uploaded_bytes
             FROM recordings ORDER BY started_at DESC",
        )?;
        let rows = st.query_map([], |r| {
            let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
            Ok(RecordingRow {
                id: r.get(0)?,
                title: r.get(1)?,
                dir: r.get(2)?,
                call_id: r.get(3)?,
                started_at: r.get::<_, i64>(4)? as u64,
                ended_at: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
                participants: list(r.get(6)?),
                tags: list(r.get(7)?),
                size: r.get::<_, i64>(8)? as u64,
                segments: r.get(9)?,
                state: r.get(10)?,
                scope: scope_from_word(&r.get::<_, String>(11)?).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        11,
                        rusqlite::types::Type::Text,
                        "unknown scope".into(),
                    )
                })?,
                retention_days: r.get(12)?,
                cloud_state: r.get(13)?,
                uploaded_bytes: r.get::<_, i64>(14)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn calls(&self) -> Result<Vec<CallRecord>> {
        let db = self.db();
        let mut st = db.prepare(
            "SELECT call_id, meeting_code, title, started_at, ended_at, participants
             FROM calls ORDER BY started_at DESC",
        )?;
        let rows = st.query_map([], |r| {
            let participants: String = r.get(5)?;
            Ok(CallRecord {
                call_id: r.get(0)?,
                meeting_code: r.get(1)?,
                title: r.get(2)?,
                started_at: r.get::<_, i64>(3)? as u64,
                ended_at: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
                participants: serde_json::from_str(&participants).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_calls() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("p.db")).unwrap();
        assert_eq!(s.setting("server").unwrap(), None);
        s.set_setting("server", "http://a").unwrap();
        s.set_setting("server", "http://b").unwrap();
        assert_eq!(s.setting("server").unwrap().as_deref(), Some("http://b"));
        s.remove_setting("server").unwrap();
        assert_eq!(s.setting("server").unwrap(), None);
        let mut c = CallRecord {
            call_id: "c1".into(),
            meeting_code: "abc".into(),
            title: "t".into(),
            started_at: 5,
            ended_at: None,
            participants: vec!["Ann".into()],
        };
        s.record_call(&c).unwrap();
        c.ended_at = Some(9);
        c.participants.push("Bob".into());
        s.record_call(&c).unwrap();
        assert_eq!(s.calls().unwrap(), vec![c]);
    }
}
