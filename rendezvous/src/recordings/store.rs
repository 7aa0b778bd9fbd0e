//! The registry's SQL: rows of recordings, their participants and stored objects. Nothing
//! here decides who may do what ([`super::access`]) or talks to storage.

use assent_shared::api::{ErrorCode, RecordingInfo, RecordingObject, RecordingPerson};
use assent_shared::ids::{RecordingId, UserId};
use assent_shared::{PublicIdentity, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use super::DAY_MS;
use crate::error::{ApiError, ApiResult};
use crate::sessions::Caller;

/// The recording ids a query selects.
fn recording_ids(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<RecordingId>> {
    let mut st = c.prepare(sql)?;
    let ids: Vec<Vec<u8>> = st
        .query_map(params, |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids
        .into_iter()
        .filter_map(|b| b.try_into().ok().map(RecordingId))
        .collect())
}

/// The size of a stored object of a recording, if it is stored.
pub(super) fn object_size(
    c: &Connection,
    id: &RecordingId,
    name: &str,
) -> rusqlite::Result<Option<u64>> {
    c.query_row(
        "SELECT size FROM recording_objects WHERE recording_id = ?1 AND name = ?2",
        params![&id.0[..], name],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|o| o.map(|s| s as u64))
}

/// The account whose directory holds `identity` (any of its keys, current or past).
pub(super) fn user_of(
    c: &Connection,
    identity: &PublicIdentity,
) -> rusqlite::Result<Option<UserId>> {
    c.query_row(
        "SELECT user_id FROM identities WHERE bundle = ?1 LIMIT 1",
        [identity.to_bytes()],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()
    .map(|o| o.and_then(|b| b.try_into().ok().map(UserId)))
}

/// Where a cloud copy is (the schema allows only these two spellings).
pub(super) use assent_shared::api::RecordingStatus as Status;

/// A `status` column's value.
fn status(s: &str) -> Status {
    match s {
        "complete" => Status::Complete,
        _ => Status::Uploading,
    }
}

pub(super) struct Row {
    pub(super) recorder: UserId,
    pub(super) status: Status,
    pub(super) manifest: Vec<u8>,
}

pub(super) fn row(c: &Connection, id: &RecordingId) -> ApiResult<Option<Row>> {
    Ok(c.query_row(
        "SELECT recorder_id, status, manifest FROM recordings WHERE id = ?1",
        [&id.0[..]],
        |r| {
            Ok(Row {
                recorder: UserId(r.get::<_, Vec<u8>>(0)?.try_into().unwrap_or([0; 16])),
                status: status(&r.get::<_, String>(1)?),
                manifest: r.get(2)?,
            })
        },
    )
    .optional()?)
}

pub(super) fn is_participant(c: &Connection, id: &RecordingId, user: &UserId) -> ApiResult<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM recording_participants WHERE recording_id = ?1 AND user_id = ?2",
        params![&id.0[..], &user.0[..]],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

pub(super) fn set_participants(
    c: &Connection,
    id: &RecordingId,
    people: &[PublicIdentity],
) -> ApiResult<()> {
    for p in people {
        if let Some(u) = user_of(c, p)? {
            c.execute(
                "INSERT OR IGNORE INTO recording_participants (recording_id, user_id)
                 VALUES (?1, ?2)",
                params![&id.0[..], &u.0[..]],
            )?;
        }
    }
    Ok(())
}

/// One `recordings` row as stored.
pub(super) struct InfoRow {
    call: Vec<u8>,
    title: String,
    recorder: Vec<u8>,
    status: Status,
    days: u16,
    until: Option<i64>,
    size: i64,
    created: i64,
    completed: Option<i64>,
    tags: String,
}

pub(super) fn info(c: &Connection, id: &RecordingId, user: &Caller) -> ApiResult<RecordingInfo> {
    let InfoRow {
        call,
        title,
        recorder,
        status,
        days,
        until,
        size,
        created,
        completed,
        tags,
    } = c.query_row(
        "SELECT call_id, title, recorder_id, status, retention_days, retention_until, size,
               created_at, completed_at, tags FROM recordings WHERE id = ?1",
        [&id.0[..]],
        |r| {
            Ok(InfoRow {
                call: r.get(0)?,
                title: r.get(1)?,
                recorder: r.get(2)?,
                status: status(&r.get::<_, String>(3)?),
                days: r.get(4)?,
                until: r.get(5)?,
                size: r.get(6)?,
                created: r.get(7)?,
                completed: r.get(8)?,
                tags: r.get(9)?,
            })
        },
    )?;
    let mut st = c.prepare(
        "SELECT p.user_id, u.display_name FROM recording_participants p
         JOIN users u ON u.id = p.user_id WHERE p.recording_id = ?1 ORDER BY u.display_name",
    )?;
    let participants = st
        .query_map([&id.0[..]], |r| {
            Ok(RecordingPerson {
                user_id: UserId(r.get::<_, Vec<u8>>(0)?.try_into().unwrap_or([0; 16])),
                display_name: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut st = c.prepare(
        "SELECT name, size FROM recording_objects WHERE recording_id = ?1 ORDER BY name",
    )?;
    let objects = st
        .query_map([&id.0[..]], |r| {
            Ok(RecordingObject {
                name: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let recorder = UserId(recorder.try_into().unwrap_or([0; 16]));
    Ok(RecordingInfo {
        id: *id,
        call_id: assent_shared::CallId(call.try_into().unwrap_or([0; 16])),
        title,
        recorder,
        status,
        retention_days: days,
        retention_until: until.map(|t| t as u64),
        size: size as u64,
        created_at: created as u64,
        completed_at: completed.map(|t| t as u64),
        participants,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        objects,
        can_delete: recorder == user.id || user.admin,
    })
}

/// Refuse a manifest that would take `user` past their storage quota: `size` bytes for
/// recording `id` on top of their other recordings.
pub(super) fn within_quota(
    c: &Connection,
    quota: u64,
    user: &UserId,
    id: &RecordingId,
    size: u64,
) -> ApiResult<()> {
    let others: i64 = c.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM recordings WHERE recorder_id = ?1 AND id != ?2",
        params![&user.0[..], &id.0[..]],
        |r| r.get(0),
    )?;
    let used = others.max(0) as u64;
    if used.saturating_add(size) > quota {
        let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
        return Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "your cloud storage is full: {:.2} GiB of {:.2} GiB used by your recordings; \
                 delete cloud copies you no longer need (the copies on your devices stay)",
                gib(used),
                gib(quota)
            ),
        ));
    }
    Ok(())
}

/// Mark an uploading recording complete, its retention counted from `now`. The participants'
/// addresses to tell, the first time only (empty when it was complete already).
pub(super) fn mark_complete(
    c: &Connection,
    id: &RecordingId,
    now: Timestamp,
) -> ApiResult<Vec<String>> {
    let days: i64 = c.query_row(
        "SELECT retention_days FROM recordings WHERE id = ?1",
        [&id.0[..]],
        |r| r.get(0),
    )?;
    let first = c.execute(
        "UPDATE recordings SET status = 'complete', completed_at = ?2,
           retention_until = ?3 WHERE id = ?1 AND status = 'uploading'",
        params![&id.0[..], now.0 as i64, now.0 as i64 + days * DAY_MS as i64],
    )? == 1;
    if !first {
        return Ok(Vec::new());
    }
    let mut st = c.prepare(
        "SELECT u.email FROM recording_participants p JOIN users u ON u.id = p.user_id
         WHERE p.recording_id = ?1 AND u.disabled = 0",
    )?;
    let mail = st
        .query_map([&id.0[..]], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(mail)
}

/// A recording about to be registered.
pub(super) struct NewRecording<'a> {
    pub(super) id: RecordingId,
    pub(super) call: assent_shared::CallId,
    pub(super) title: &'a str,
    pub(super) recorder: UserId,
    pub(super) retention_days: u16,
    pub(super) manifest: &'a [u8],
    pub(super) size: u64,
    pub(super) now: Timestamp,
}

pub(super) fn insert(c: &Connection, r: &NewRecording<'_>) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO recordings (id, call_id, title, recorder_id, status,
           retention_days, manifest, size, created_at, tags)
         VALUES (?1, ?2, ?3, ?4, 'uploading', ?5, ?6, ?7, ?8, '[]')",
        params![
            &r.id.0[..],
            &r.call.0[..],
            r.title,
            &r.recorder.0[..],
            r.retention_days,
            r.manifest,
            r.size as i64,
            r.now.0 as i64
        ],
    )?;
    Ok(())
}

/// A newer manifest, and the size its segments add up to.
pub(super) fn set_manifest(
    c: &Connection,
    id: &RecordingId,
    manifest: &[u8],
    size: u64,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recordings SET manifest = ?2, size = ?3 WHERE id = ?1",
        params![&id.0[..], manifest, size as i64],
    )?;
    Ok(())
}

/// The participants' labels, as a JSON list.
pub(super) fn set_tags(c: &Connection, id: &RecordingId, tags: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recordings SET tags = ?2 WHERE id = ?1",
        params![&id.0[..], tags],
    )?;
    Ok(())
}

/// Every recording, newest first (`user: None`), or those `user` made or took part in.
pub(super) fn listed(c: &Connection, user: Option<&UserId>) -> rusqlite::Result<Vec<RecordingId>> {
    match user {
        None => recording_ids(c, "SELECT id FROM recordings ORDER BY created_at DESC", []),
        Some(user) => recording_ids(
            c,
            "SELECT id FROM recordings WHERE recorder_id = ?1 OR id IN
               (SELECT recording_id FROM recording_participants WHERE user_id = ?1)
             ORDER BY created_at DESC",
            [&user.0[..]],
        ),
    }
}

/// The recordings `user` made.
pub(super) fn recorded_by(c: &Connection, user: &UserId) -> rusqlite::Result<Vec<RecordingId>> {
    recording_ids(
        c,
        "SELECT id FROM recordings WHERE recorder_id = ?1",
        [&user.0[..]],
    )
}

/// The recordings past their retention date at `now`: complete ones past theirs, and uploads
/// never completed once a complete one begun then would have gone (counted from when it was
/// registered).
pub(super) fn past_retention(c: &Connection, now: Timestamp) -> rusqlite::Result<Vec<RecordingId>> {
    let mut ids = recording_ids(
        c,
        "SELECT id FROM recordings WHERE status = 'complete' AND retention_until <= ?1",
        [now.0 as i64],
    )?;
    ids.extend(recording_ids(
        c,
        "SELECT id FROM recordings WHERE status = 'uploading'
           AND created_at + retention_days * 86400000 <= ?1",
        [now.0 as i64],
    )?);
    Ok(ids)
}

/// The names of the recording's stored objects.
pub(super) fn objects(c: &Connection, id: &RecordingId) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare("SELECT name FROM recording_objects WHERE recording_id = ?1")?;
    st.query_map([&id.0[..]], |r| r.get(0))?.collect()
}

/// An object stored: its size (a second upload of the same name replaces it).
pub(super) fn put_object(
    c: &Connection,
    id: &RecordingId,
    name: &str,
    size: u64,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO recording_objects (recording_id, name, size) VALUES (?1, ?2, ?3)
         ON CONFLICT(recording_id, name) DO UPDATE SET size = excluded.size",
        params![&id.0[..], name, size as i64],
    )?;
    Ok(())
}

/// The recording's multipart uploads in progress: (object name, upload id).
pub(super) fn uploads(c: &Connection, id: &RecordingId) -> rusqlite::Result<Vec<(String, String)>> {
    let mut st =
        c.prepare("SELECT name, upload_id FROM recording_uploads WHERE recording_id = ?1")?;
    st.query_map([&id.0[..]], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Whether `upload` is an upload of object `name` of the recording.
pub(super) fn has_upload(
    c: &Connection,
    id: &RecordingId,
    name: &str,
    upload: &str,
) -> rusqlite::Result<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM recording_uploads WHERE recording_id = ?1 AND name = ?2
           AND upload_id = ?3",
        params![&id.0[..], name, upload],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

pub(super) fn insert_upload(
    c: &Connection,
    id: &RecordingId,
    name: &str,
    upload: &str,
    now: Timestamp,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO recording_uploads (recording_id, name, upload_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![&id.0[..], name, upload, now.0 as i64],
    )?;
    Ok(())
}

pub(super) fn delete_upload(
    c: &Connection,
    id: &RecordingId,
    upload: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM recording_uploads WHERE recording_id = ?1 AND upload_id = ?2",
        params![&id.0[..], upload],
    )?;
    Ok(())
}

/// Delete the recording's rows (its participants, objects and uploads go by cascade).
pub(super) fn delete(c: &Connection, id: &RecordingId) -> rusqlite::Result<()> {
    c.execute("DELETE FROM recordings WHERE id = ?1", [&id.0[..]])?;
    Ok(())
}
