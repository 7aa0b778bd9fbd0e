//! The recordings registry: metadata and the public manifest (consent tokens included) of every
//! recording uploaded to the cloud, and the ciphertext objects in storage. The server verifies a
//! manifest's signature and consent but can decrypt nothing.
//!
//! Who may do what:
//! - the recorder (who registered it, and whose key signed the manifest) uploads, updates the
//!   manifest, completes, deletes;
//! - the participants named in the consent set see it and download its objects;
//! - an organisation admin sees the metadata and may delete it, and can never decrypt it.

use assent_shared::api::ErrorCode;
use std::collections::BTreeSet;

use assent_shared::api::{
    RecordingInfo, RecordingObject, RecordingPerson, StoredPart, UploadStarted,
};
use assent_shared::consent::Scope;
use assent_shared::container::{Manifest, verify_manifest};
use assent_shared::ids::{RecordingId, UserId};
use assent_shared::{PublicIdentity, Timestamp};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{ApiError, ApiResult};
use crate::sessions::AuthUser;
use crate::state::AppState;
use crate::storage::StorageError;

/// Largest manifest accepted (an hour of 4-second segments is some 150 KiB).
pub const MAX_MANIFEST: usize = 8 * 1024 * 1024;
pub const MAX_PARTS_PER_REQUEST: usize = 100;
const DAY_MS: u64 = 86_400_000;

fn key(id: &RecordingId, name: &str) -> String {
    format!("recordings/{id}/{name}")
}

/// Object names a client may upload: the segments of the container.
pub fn valid_object(name: &str) -> bool {
    name.strip_prefix("segment-")
        .and_then(|r| r.strip_suffix(".age"))
        .is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

fn storage_err(e: StorageError) -> ApiError {
    match e {
        StorageError::NoUpload => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoSuchUpload,
            "the upload does not exist (completed or aborted)",
        ),
        StorageError::InvalidPart(why) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidParts,
            format!("the parts do not match what was uploaded ({why}); list them again"),
        ),
        other => {
            tracing::warn!("storage: {other}");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::StorageUnavailable,
                "the recording storage did not answer; retry",
            )
        }
    }
}

fn bad_manifest(why: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidManifest,
        why,
    )
}

/// A verified manifest and who it names.
struct Checked {
    manifest: Manifest,
    signer: assent_shared::identity::IdentityKey,
    participants: Vec<PublicIdentity>,
}

fn check(bytes: &[u8]) -> ApiResult<Checked> {
    if bytes.len() > MAX_MANIFEST {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the manifest is too large",
        ));
    }
    let (manifest, signer, problems) =
        verify_manifest(bytes).map_err(|e| bad_manifest(format!("unreadable: {e}")))?;
    if let Some(p) = problems.first() {
        return Err(bad_manifest(format!("does not verify: {p:?}")));
    }
    let first = manifest
        .epochs
        .first()
        .ok_or_else(|| bad_manifest("no consent epoch"))?;
    if first.terms.scope != Scope::LocalAndCloud {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ScopeLocal,
            "the participants agreed to a local recording only",
        ));
    }
    let mut seen = BTreeSet::new();
    let participants = manifest
        .epochs
        .iter()
        .flat_map(|e| e.participants.iter())
        .filter(|p| seen.insert(p.signing))
        .cloned()
        .collect();
    Ok(Checked {
        manifest,
        signer,
        participants,
    })
}

/// The recording ids a one-parameter query selects.
fn recording_ids(
    c: &Connection,
    sql: &str,
    param: impl rusqlite::ToSql,
) -> rusqlite::Result<Vec<RecordingId>> {
    let mut st = c.prepare(sql)?;
    let ids: Vec<Vec<u8>> = st
        .query_map([param], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids
        .into_iter()
        .filter_map(|b| b.try_into().ok().map(RecordingId))
        .collect())
}

/// The size of a stored object of a recording, if it is stored.
fn object_size(c: &Connection, id: &RecordingId, name: &str) -> rusqlite::Result<Option<u64>> {
    c.query_row(
        "SELECT size FROM recording_objects WHERE recording_id = ?1 AND name = ?2",
        params![&id.0[..], name],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|o| o.map(|s| s as u64))
}

/// The account whose directory holds `identity` (any of its keys, current or past).
fn user_of(c: &Connection, identity: &PublicIdentity) -> rusqlite::Result<Option<UserId>> {
    c.query_row(
        "SELECT user_id FROM identities WHERE bundle = ?1 LIMIT 1",
        [identity.to_bytes()],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()
    .map(|o| o.and_then(|b| b.try_into().ok().map(UserId)))
}

struct Row {
    recorder: UserId,
    status: String,
    manifest: Vec<u8>,
}

fn row(c: &Connection, id: &RecordingId) -> ApiResult<Option<Row>> {
    Ok(c.query_row(
        "SELECT recorder_id, status, manifest FROM recordings WHERE id = ?1",
        [&id.0[..]],
        |r| {
            Ok(Row {
                recorder: UserId(r.get::<_, Vec<u8>>(0)?.try_into().unwrap_or([0; 16])),
                status: r.get(1)?,
                manifest: r.get(2)?,
            })
        },
    )
    .optional()?)
}

fn is_participant(c: &Connection, id: &RecordingId, user: &UserId) -> ApiResult<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM recording_participants WHERE recording_id = ?1 AND user_id = ?2",
        params![&id.0[..], &user.0[..]],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// The caller's relation to a recording. Anyone else is refused with 403 (recording ids are
/// 128 random bits: saying that one exists tells an outsider nothing they could use).
enum Access {
    Recorder,
    Participant,
    Admin,
}

fn access(c: &Connection, id: &RecordingId, user: &AuthUser) -> ApiResult<(Row, Access)> {
    let r = row(c, id)?.ok_or_else(ApiError::not_found)?;
    let a = if r.recorder == user.id {
        Access::Recorder
    } else if is_participant(c, id, &user.id)? {
        Access::Participant
    } else if user.is_admin() {
        Access::Admin
    } else {
        return Err(ApiError::forbidden());
    };
    Ok((r, a))
}

fn must_record(a: &Access) -> ApiResult<()> {
    match a {
        Access::Recorder => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

fn set_participants(c: &Connection, id: &RecordingId, people: &[PublicIdentity]) -> ApiResult<()> {
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
struct InfoRow {
    call: Vec<u8>,
    title: String,
    recorder: Vec<u8>,
    status: String,
    days: u16,
    until: Option<i64>,
    size: i64,
    created: i64,
    completed: Option<i64>,
    tags: String,
}

fn info(c: &Connection, id: &RecordingId, user: &AuthUser) -> ApiResult<RecordingInfo> {
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
                status: r.get(3)?,
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
        can_delete: recorder == user.id || user.is_admin(),
    })
}

/// `POST /v1/recordings` (body: the signed manifest bytes): register a recording for upload.
/// Only its recorder may, only for a cloud scope, only with a manifest that verifies.
/// Refuse a manifest that would take `user` past their storage quota: `size` bytes for
/// recording `id` on top of their other recordings.
fn within_quota(
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
            StatusCode::INSUFFICIENT_STORAGE,
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

pub async fn register(state: &AppState, user: AuthUser, body: Vec<u8>) -> ApiResult<RecordingInfo> {
    let checked = check(&body)?;
    let now = state.now();
    let quota = state
        .config
        .storage
        .quota_bytes_per_user
        .unwrap_or(crate::storage::DEFAULT_QUOTA_BYTES);
    state
        .db
        .run(move |c| -> ApiResult<RecordingInfo> {
            let m = &checked.manifest;
            let tx = c.transaction()?;
            // The signing key must be one the caller published.
            let signer_is_caller = {
                let mut st = tx.prepare("SELECT bundle FROM identities WHERE user_id = ?1")?;
                let bundles = st
                    .query_map([&user.id.0[..]], |r| r.get::<_, Vec<u8>>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                bundles.iter().any(|b| {
                    PublicIdentity::from_bytes(b).is_ok_and(|p| p.signing == checked.signer)
                })
            };
            if !signer_is_caller {
                return Err(ApiError::forbidden());
            }
            if let Some(existing) = row(&tx, &m.recording_id)? {
                if existing.recorder != user.id {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        ErrorCode::RecordingExists,
                        "this recording is registered by someone else",
                    ));
                }
            } else {
                let size = m.segments.iter().map(|s| s.size).sum::<u64>();
                within_quota(&tx, quota, &user.id, &m.recording_id, size)?;
                let terms = &m.epochs[0].terms;
                tx.execute(
                    "INSERT INTO recordings (id, call_id, title, recorder_id, status,
                       retention_days, manifest, size, created_at, tags)
                     VALUES (?1, ?2, ?3, ?4, 'uploading', ?5, ?6, ?7, ?8, '[]')",
                    params![
                        &m.recording_id.0[..],
                        &m.call_id.0[..],
                        terms.title,
                        &user.id.0[..],
                        terms.retention_days,
                        body,
                        m.segments.iter().map(|s| s.size).sum::<u64>() as i64,
                        now.0 as i64
                    ],
                )?;
            }
            set_participants(&tx, &m.recording_id, &checked.participants)?;
            let out = info(&tx, &m.recording_id, &user)?;
            tx.commit()?;
            Ok(out)
        })
        .await
}

/// `PUT /v1/recordings/{id}/manifest`: a newer manifest of the same recording, whose segment
/// list extends the stored one.
pub async fn update_manifest(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    body: Vec<u8>,
) -> ApiResult<()> {
    let checked = check(&body)?;
    if checked.manifest.recording_id != id {
        return Err(bad_manifest("the manifest is of another recording"));
    }
    let quota = state
        .config
        .storage
        .quota_bytes_per_user
        .unwrap_or(crate::storage::DEFAULT_QUOTA_BYTES);
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            let (r, a) = access(&tx, &id, &user)?;
            must_record(&a)?;
            if r.status != "uploading" {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::RecordingComplete,
                    "the cloud copy is complete: its manifest no longer changes",
                ));
            }
            let (old, old_signer, _) = verify_manifest(&r.manifest)
                .map_err(|e| ApiError::Internal(format!("stored manifest: {e}")))?;
            let new = &checked.manifest;
            let extends = old_signer == checked.signer
                && new.epochs.first() == old.epochs.first()
                && new.segments.len() >= old.segments.len()
                && new.segments[..old.segments.len()] == old.segments[..];
            if !extends {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::ManifestRewritten,
                    "a newer manifest must keep every segment listed before, in order",
                ));
            }
            let size = new.segments.iter().map(|s| s.size).sum::<u64>();
            within_quota(&tx, quota, &user.id, &id, size)?;
            tx.execute(
                "UPDATE recordings SET manifest = ?2, size = ?3 WHERE id = ?1",
                params![
                    &id.0[..],
                    body,
                    new.segments.iter().map(|s| s.size).sum::<u64>() as i64
                ],
            )?;
            set_participants(&tx, &id, &checked.participants)?;
            tx.commit()?;
            Ok(())
        })
        .await
}

/// `POST /v1/recordings/{id}/complete`: every segment the (ended) manifest lists is stored;
/// the manifest is stored beside them, the retention clock starts, and every participant is told.
/// `interrupted`: the recorder crashed and its manifest has no ending; the copy is completed as
/// it is (verifying it shows it incomplete, every segment in it intact).
pub async fn complete(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    interrupted: bool,
) -> ApiResult<RecordingInfo> {
    let u = user.clone();
    let (manifest, missing) = state
        .db
        .run(move |c| -> ApiResult<(Vec<u8>, Vec<String>)> {
            let (r, a) = access(c, &id, &u)?;
            must_record(&a)?;
            let (m, _, _) = verify_manifest(&r.manifest)
                .map_err(|e| ApiError::Internal(format!("stored manifest: {e}")))?;
            if m.ended.is_none() && !interrupted {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::RecordingNotEnded,
                    "upload the final manifest (with its ending) first, or complete it as interrupted",
                ));
            }
            let mut missing = Vec::new();
            for s in &m.segments {
                let name = assent_shared::container::segment_name(s.index);
                if object_size(c, &id, &name)? != Some(s.size) {
                    missing.push(name);
                }
            }
            Ok((r.manifest, missing))
        })
        .await?;
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ObjectsMissing,
            format!("not stored yet: {}", missing.join(", ")),
        ));
    }
    state
        .storage
        .put(&key(&id, assent_shared::container::MANIFEST_NAME), manifest)
        .await
        .map_err(storage_err)?;
    let now = state.now();
    let u = user.clone();
    let (info, mail) = state
        .db
        .run(move |c| -> ApiResult<(RecordingInfo, Vec<String>)> {
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
            let mut mail = Vec::new();
            if first {
                let mut st = c.prepare(
                    "SELECT u.email FROM recording_participants p JOIN users u ON u.id = p.user_id
                     WHERE p.recording_id = ?1 AND u.disabled = 0",
                )?;
                mail = st
                    .query_map([&id.0[..]], |r| r.get::<_, String>(0))?
                    .collect::<Result<_, _>>()?;
            }
            Ok((info(c, &id, &u)?, mail))
        })
        .await?;
    for to in mail {
        let text = format!(
            "A recording you agreed to is now available in Assent: \"{}\".\n\n\
             Open Assent to download it; only you and the other participants can decrypt it.\n\
             The cloud copy is kept for {} days.\n\n{}\n",
            info.title, info.retention_days, state.config.public_url
        );
        if let Err(e) = state
            .mailer
            .send(&to, "A recording is available", &text, &[])
            .await
        {
            tracing::warn!("cannot mail a recording notice: {e}");
        }
    }
    Ok(info)
}

/// `GET /v1/recordings` (`?all=true` for an admin: every recording's metadata).
pub async fn list(state: &AppState, user: AuthUser, all: bool) -> ApiResult<Vec<RecordingInfo>> {
    if all && !user.is_admin() {
        return Err(ApiError::forbidden());
    }
    state
        .db
        .run(move |c| -> ApiResult<Vec<RecordingInfo>> {
            let ids: Vec<Vec<u8>> = if all {
                let mut st = c.prepare("SELECT id FROM recordings ORDER BY created_at DESC")?;
                st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
            } else {
                let mut st = c.prepare(
                    "SELECT id FROM recordings WHERE recorder_id = ?1 OR id IN
                       (SELECT recording_id FROM recording_participants WHERE user_id = ?1)
                     ORDER BY created_at DESC",
                )?;
                st.query_map([&user.id.0[..]], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            ids.into_iter()
                .filter_map(|b| b.try_into().ok().map(RecordingId))
                .map(|id| info(c, &id, &user))
                .collect()
        })
        .await
}

/// `GET /v1/recordings/{id}`: metadata, and for participants the manifest (as bytes).
pub async fn get(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
) -> ApiResult<(RecordingInfo, Option<Vec<u8>>)> {
    state
        .db
        .run(move |c| -> ApiResult<(RecordingInfo, Option<Vec<u8>>)> {
            let (r, a) = access(c, &id, &user)?;
            let manifest = match a {
                Access::Admin => None,
                _ => Some(r.manifest),
            };
            Ok((info(c, &id, &user)?, manifest))
        })
        .await
}

/// `PUT /v1/recordings/{id}/tags`: the participants' labels.
pub async fn set_tags(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    tags: Vec<String>,
) -> ApiResult<()> {
    let clean = assent_shared::api::normalize_tags(&tags).map_err(|why| {
        ApiError::field(
            ErrorCode::InvalidTags,
            format!("{why} (at most 20 tags of 1 to 40 characters)"),
        )
    })?;
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let (_, a) = access(c, &id, &user)?;
            if matches!(a, Access::Admin) {
                return Err(ApiError::forbidden());
            }
            c.execute(
                "UPDATE recordings SET tags = ?2 WHERE id = ?1",
                params![&id.0[..], serde_json::to_string(&clean).unwrap_or_default()],
            )?;
            Ok(())
        })
        .await
}

/// An unfinished multipart upload: object name and the storage's upload id.
type NamedUpload = (String, String);

/// Remove a recording's objects and its rows (deletion and retention share this).
async fn purge(state: &AppState, id: RecordingId) -> ApiResult<()> {
    let (objects, uploads) = state
        .db
        .run(move |c| -> ApiResult<(Vec<String>, Vec<NamedUpload>)> {
            let mut st = c.prepare("SELECT name FROM recording_objects WHERE recording_id = ?1")?;
            let objects = st
                .query_map([&id.0[..]], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut st =
                c.prepare("SELECT name, upload_id FROM recording_uploads WHERE recording_id = ?1")?;
            let uploads = st
                .query_map([&id.0[..]], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok((objects, uploads))
        })
        .await?;
    for (name, upload) in uploads {
        state
            .storage
            .abort(&key(&id, &name), &upload)
            .await
            .map_err(storage_err)?;
    }
    for name in objects
        .iter()
        .map(String::as_str)
        .chain([assent_shared::container::MANIFEST_NAME])
    {
        state
            .storage
            .delete(&key(&id, name))
            .await
            .map_err(storage_err)?;
    }
    state
        .db
        .run(move |c| -> ApiResult<()> {
            c.execute("DELETE FROM recordings WHERE id = ?1", [&id.0[..]])?;
            Ok(())
        })
        .await
}

/// Delete every recording `user` made, objects first (an account being deleted).
pub async fn purge_recorded_by(state: &AppState, user: UserId) -> ApiResult<()> {
    let ids = state
        .db
        .run(move |c| -> ApiResult<Vec<RecordingId>> {
            Ok(recording_ids(
                c,
                "SELECT id FROM recordings WHERE recorder_id = ?1",
                &user.0[..],
            )?)
        })
        .await?;
    for id in ids {
        purge(state, id).await?;
    }
    Ok(())
}

/// `DELETE /v1/recordings/{id}`: the recorder or an organisation admin.
pub async fn delete(state: &AppState, user: AuthUser, id: RecordingId) -> ApiResult<()> {
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let (_, a) = access(c, &id, &user)?;
            match a {
                Access::Recorder | Access::Admin => Ok(()),
                Access::Participant => Err(ApiError::forbidden()),
            }
        })
        .await?;
    purge(state, id).await
}

/// The retention job: delete every complete recording past its date. Idempotent (a recording
/// half-deleted by a crash is deleted again on the next run). Returns how many went.
pub async fn expire(state: &AppState, now: Timestamp) -> ApiResult<usize> {
    let due: Vec<RecordingId> = state
        .db
        .run(move |c| -> ApiResult<Vec<RecordingId>> {
            let mut ids = recording_ids(
                c,
                "SELECT id FROM recordings WHERE status = 'complete' AND retention_until <= ?1",
                now.0 as i64,
            )?;
            // An upload never completed goes when a complete one begun then would have: its
            // retention counted from when it was registered.
            ids.extend(recording_ids(
                c,
                "SELECT id FROM recordings WHERE status = 'uploading'
                   AND created_at + retention_days * 86400000 <= ?1",
                now.0 as i64,
            )?);
            Ok(ids)
        })
        .await?;
    let n = due.len();
    for id in due {
        purge(state, id).await?;
        tracing::info!(recording = %id, "retention: deleted");
    }
    Ok(n)
}

/// Run the retention job every `interval` until the process ends.
pub fn spawn_retention(state: AppState, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            if let Err(e) = expire(&state, state.now()).await {
                tracing::warn!("retention job: {e}");
            }
            if let Err(e) = crate::accounts::expire_unverified(&state, state.now()).await {
                tracing::warn!("unverified accounts job: {e}");
            }
        }
    });
}

// ---- Uploads (recorder only) ----

fn check_object(name: &str) -> ApiResult<()> {
    if valid_object(name) {
        Ok(())
    } else {
        Err(ApiError::field(
            ErrorCode::InvalidObject,
            "objects are segment-NNNNNN.age",
        ))
    }
}

async fn recorder_of(state: &AppState, user: &AuthUser, id: RecordingId) -> ApiResult<()> {
    let user = user.clone();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let (r, a) = access(c, &id, &user)?;
            must_record(&a)?;
            if r.status != "uploading" {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::RecordingComplete,
                    "the cloud copy is complete",
                ));
            }
            Ok(())
        })
        .await
}

async fn upload_of(state: &AppState, id: RecordingId, name: &str, upload: &str) -> ApiResult<()> {
    let (name, upload) = (name.to_string(), upload.to_string());
    state
        .db
        .run(move |c| -> ApiResult<()> {
            c.query_row(
                "SELECT 1 FROM recording_uploads WHERE recording_id = ?1 AND name = ?2
                   AND upload_id = ?3",
                params![&id.0[..], name, upload],
                |_| Ok(()),
            )
            .optional()?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::NoSuchUpload,
                    "no such upload",
                )
            })
        })
        .await
}

/// `POST /v1/recordings/{id}/objects/{name}/uploads`: start a multipart upload.
pub async fn start_upload(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    name: String,
) -> ApiResult<UploadStarted> {
    check_object(&name)?;
    recorder_of(state, &user, id).await?;
    let upload_id = state
        .storage
        .create_multipart(&key(&id, &name))
        .await
        .map_err(storage_err)?;
    let (n, u) = (name.clone(), upload_id.clone());
    let now = state.now();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            c.execute(
                "INSERT INTO recording_uploads (recording_id, name, upload_id, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![&id.0[..], n, u, now.0 as i64],
            )?;
            Ok(())
        })
        .await?;
    Ok(UploadStarted { upload_id })
}

/// `POST …/uploads/{upload}/parts`: presigned URLs for these parts.
pub async fn part_urls(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    name: String,
    upload: String,
    parts: Vec<u16>,
) -> ApiResult<Vec<(u16, String)>> {
    check_object(&name)?;
    if parts.is_empty()
        || parts.len() > MAX_PARTS_PER_REQUEST
        || parts.iter().any(|p| *p == 0 || *p > 10_000)
    {
        return Err(ApiError::field(
            ErrorCode::InvalidParts,
            "1 to 100 part numbers between 1 and 10000",
        ));
    }
    recorder_of(state, &user, id).await?;
    upload_of(state, id, &name, &upload).await?;
    Ok(parts
        .into_iter()
        .map(|p| (p, state.storage.presign_part(&key(&id, &name), &upload, p)))
        .collect())
}

/// `GET …/uploads/{upload}/parts`: what storage already holds (to resume).
pub async fn stored_parts(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    name: String,
    upload: String,
) -> ApiResult<Vec<StoredPart>> {
    check_object(&name)?;
    recorder_of(state, &user, id).await?;
    upload_of(state, id, &name, &upload).await?;
    let parts = state
        .storage
        .list_parts(&key(&id, &name), &upload)
        .await
        .map_err(storage_err)?;
    Ok(parts
        .into_iter()
        .map(|p| StoredPart {
            part: p.number,
            etag: p.etag,
            size: p.size,
        })
        .collect())
}

/// `POST …/uploads/{upload}/complete`: assemble the object; it is then listed as stored.
pub async fn complete_upload(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    name: String,
    upload: String,
    parts: Vec<(u16, String)>,
) -> ApiResult<RecordingObject> {
    check_object(&name)?;
    // Parts 1 to n, each once, in order (what S3 requires to assemble an object).
    let consecutive = parts
        .iter()
        .enumerate()
        .all(|(i, (n, _))| usize::from(*n) == i + 1);
    if parts.is_empty() || parts.len() > 10_000 || !consecutive {
        return Err(ApiError::field(
            ErrorCode::InvalidParts,
            "name parts 1 to n (at most 10000) in order, each with its ETag",
        ));
    }
    recorder_of(state, &user, id).await?;
    upload_of(state, id, &name, &upload).await?;
    let k = key(&id, &name);
    state
        .storage
        .complete(&k, &upload, &parts)
        .await
        .map_err(storage_err)?;
    let size = state
        .storage
        .head(&k)
        .await
        .map_err(storage_err)?
        .ok_or_else(|| ApiError::Internal("completed object is missing".into()))?;
    let n = name.clone();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO recording_objects (recording_id, name, size) VALUES (?1, ?2, ?3)
                 ON CONFLICT(recording_id, name) DO UPDATE SET size = excluded.size",
                params![&id.0[..], n, size as i64],
            )?;
            tx.execute(
                "DELETE FROM recording_uploads WHERE recording_id = ?1 AND upload_id = ?2",
                params![&id.0[..], upload],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(RecordingObject { name, size })
}

/// `DELETE …/uploads/{upload}`: give up an upload.
pub async fn abort_upload(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    name: String,
    upload: String,
) -> ApiResult<()> {
    check_object(&name)?;
    recorder_of(state, &user, id).await?;
    upload_of(state, id, &name, &upload).await?;
    state
        .storage
        .abort(&key(&id, &name), &upload)
        .await
        .map_err(storage_err)?;
    state
        .db
        .run(move |c| -> ApiResult<()> {
            c.execute(
                "DELETE FROM recording_uploads WHERE recording_id = ?1 AND upload_id = ?2",
                params![&id.0[..], upload],
            )?;
            Ok(())
        })
        .await
}

/// `GET /v1/recordings/{id}/objects/{name}`: a download URL, for participants only (the
/// manifest too, once the copy is complete).
pub async fn download(
    state: &AppState,
    user: AuthUser,
    id: RecordingId,
    name: String,
) -> ApiResult<(String, u64)> {
    let is_manifest = name == assent_shared::container::MANIFEST_NAME;
    if !is_manifest {
        check_object(&name)?;
    }
    let n = name.clone();
    let size = state
        .db
        .run(move |c| -> ApiResult<u64> {
            let (r, a) = access(c, &id, &user)?;
            if matches!(a, Access::Admin) {
                return Err(ApiError::forbidden());
            }
            if is_manifest {
                return if r.status == "complete" {
                    Ok(r.manifest.len() as u64)
                } else {
                    Err(ApiError::not_found())
                };
            }
            object_size(c, &id, &n)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok((state.storage.presign_get(&key(&id, &name)), size))
}
