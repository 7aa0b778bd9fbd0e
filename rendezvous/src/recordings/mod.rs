//! The recordings registry: metadata and the public manifest (consent tokens included) of every
//! recording uploaded to the cloud, and the ciphertext objects in storage. The server verifies a
//! manifest's signature and consent but can decrypt nothing.
//!
//! Who may do what:
//! - the recorder (who registered it, and whose key signed the manifest) uploads, updates the
//!   manifest, completes, deletes;
//! - the participants named in the consent set see it and download its objects;
//! - an organisation admin sees the metadata and may delete it, and can never decrypt it.

use assent_shared::api::{ErrorCode, RecordingInfo};
use assent_shared::container::verify_manifest;
use assent_shared::ids::RecordingId;
use assent_shared::{PublicIdentity, Timestamp};

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::mail::Mailer;
use crate::sessions::Caller;
use crate::storage::{Storage, StorageError};

mod access;
mod manifest;
mod retention;
mod store;
mod uploads;

use access::{Access, access, must_record};
use manifest::{bad_manifest, check, must_extend};
pub use retention::{delete, expire, purge_recorded_by};
use store::{Status, info, mark_complete, object_size, row, set_participants, within_quota};
pub use uploads::{abort_upload, complete_upload, download, part_urls, start_upload, stored_parts};

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
            ErrorCode::NoSuchUpload,
            "the upload does not exist (completed or aborted)",
        ),
        StorageError::InvalidPart(why) => ApiError::conflict(
            ErrorCode::InvalidParts,
            format!("the parts do not match what was uploaded ({why}); list them again"),
        ),
        other => {
            tracing::warn!("storage: {other}");
            ApiError::new(
                ErrorCode::StorageUnavailable,
                "the recording storage did not answer; retry",
            )
        }
    }
}

/// What the registry works with: its rows, the ciphertext store, each user's quota, and where
/// its notices go. The HTTP edge and the retention job build it from the server's reg.
pub struct Registry<'a> {
    pub db: &'a Db,
    pub storage: &'a Storage,
    /// Each user's cloud storage quota in bytes.
    pub quota: u64,
    pub mailer: &'a Mailer,
    /// The server's address, for the links in notices.
    pub public_url: &'a str,
}

/// `POST /v1/recordings` (body: the signed manifest bytes): register a recording for upload.
/// Only its recorder may, only for a cloud scope, only with a manifest that verifies.
pub async fn register(
    reg: &Registry<'_>,
    now: Timestamp,
    user: Caller,
    body: Vec<u8>,
) -> ApiResult<RecordingInfo> {
    let checked = check(&body)?;
    let quota = reg.quota;
    reg.db
        .run(move |c| -> ApiResult<RecordingInfo> {
            let m = &checked.manifest;
            let tx = c.transaction()?;
            // The signing key must be one the caller published.
            let signer_is_caller = crate::directory::store::history(&tx, &user.id.0)?
                .iter()
                .any(|p| {
                    PublicIdentity::from_bytes(&p.bundle).is_ok_and(|p| p.signing == checked.signer)
                });
            if !signer_is_caller {
                return Err(ApiError::forbidden());
            }
            if let Some(existing) = row(&tx, &m.recording_id)? {
                if existing.recorder != user.id {
                    return Err(ApiError::new(
                        ErrorCode::RecordingExists,
                        "this recording is registered by someone else",
                    ));
                }
            } else {
                let size = m.segments.iter().map(|s| s.size).sum::<u64>();
                within_quota(&tx, quota, &user.id, &m.recording_id, size)?;
                let terms = &m.epochs[0].terms;
                let row = store::NewRecording {
                    id: m.recording_id,
                    call: m.call_id,
                    title: &terms.title,
                    recorder: user.id,
                    retention_days: terms.retention_days,
                    manifest: &body,
                    size,
                    now,
                };
                store::insert(&tx, &row)?;
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
    reg: &Registry<'_>,
    user: Caller,
    id: RecordingId,
    body: Vec<u8>,
) -> ApiResult<()> {
    let checked = check(&body)?;
    if checked.manifest.recording_id != id {
        return Err(bad_manifest("the manifest is of another recording"));
    }
    let quota = reg.quota;
    reg.db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            let (r, a) = access(&tx, &id, &user)?;
            must_record(&a)?;
            if r.status != Status::Uploading {
                return Err(ApiError::new(
                    ErrorCode::RecordingComplete,
                    "the cloud copy is complete: its manifest no longer changes",
                ));
            }
            must_extend(&r.manifest, &checked)?;
            let new = &checked.manifest;
            let size = new.segments.iter().map(|s| s.size).sum::<u64>();
            within_quota(&tx, quota, &user.id, &id, size)?;
            store::set_manifest(&tx, &id, &body, size)?;
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
    reg: &Registry<'_>,
    now: Timestamp,
    user: Caller,
    id: RecordingId,
    interrupted: bool,
) -> ApiResult<RecordingInfo> {
    let u = user;
    let (manifest, missing) = reg
        .db
        .run(move |c| -> ApiResult<(Vec<u8>, Vec<String>)> {
            let (r, a) = access(c, &id, &u)?;
            must_record(&a)?;
            let (m, _, _) = verify_manifest(&r.manifest)
                .map_err(|e| ApiError::Internal(format!("stored manifest: {e}")))?;
            if m.ended.is_none() && !interrupted {
                return Err(ApiError::new(ErrorCode::RecordingNotEnded,
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
            ErrorCode::ObjectsMissing,
            format!("not stored yet: {}", missing.join(", ")),
        ));
    }
    reg.storage
        .put(&key(&id, assent_shared::container::MANIFEST_NAME), manifest)
        .await
        .map_err(storage_err)?;
    let u = user;
    let (info, mail) = reg
        .db
        .run(move |c| -> ApiResult<(RecordingInfo, Vec<String>)> {
            let mail = mark_complete(c, &id, now)?;
            Ok((info(c, &id, &u)?, mail))
        })
        .await?;
    notify_available(reg, &info, mail).await;
    Ok(info)
}

/// Tell the participants (by mail) that a recording they agreed to can be downloaded.
async fn notify_available(reg: &Registry<'_>, info: &RecordingInfo, to: Vec<String>) {
    for to in to {
        let text = format!(
            "A recording you agreed to is now available in Assent: \"{}\".\n\n\
             Open Assent to download it; only you and the other participants can decrypt it.\n\
             The cloud copy is kept for {} days.\n\n{}\n",
            info.title, info.retention_days, reg.public_url
        );
        if let Err(e) = reg
            .mailer
            .send(&to, "A recording is available", &text, &[])
            .await
        {
            tracing::warn!("cannot mail a recording notice: {e}");
        }
    }
}

/// `GET /v1/recordings` (`?all=true` for an admin: every recording's metadata).
pub async fn list(db: &Db, user: Caller, all: bool) -> ApiResult<Vec<RecordingInfo>> {
    if all && !user.admin {
        return Err(ApiError::forbidden());
    }
    db.run(move |c| -> ApiResult<Vec<RecordingInfo>> {
        store::listed(c, (!all).then_some(&user.id))?
            .into_iter()
            .map(|id| info(c, &id, &user))
            .collect()
    })
    .await
}

/// `GET /v1/recordings/{id}`: metadata, and for participants the manifest (as bytes).
pub async fn get(
    db: &Db,
    user: Caller,
    id: RecordingId,
) -> ApiResult<(RecordingInfo, Option<Vec<u8>>)> {
    db.run(move |c| -> ApiResult<(RecordingInfo, Option<Vec<u8>>)> {
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
pub async fn set_tags(db: &Db, user: Caller, id: RecordingId, tags: Vec<String>) -> ApiResult<()> {
    let clean = assent_shared::api::normalize_tags(&tags).map_err(|why| {
        ApiError::new(
            ErrorCode::InvalidTags,
            format!("{why} (at most 20 tags of 1 to 40 characters)"),
        )
    })?;
    db.run(move |c| -> ApiResult<()> {
        let (_, a) = access(c, &id, &user)?;
        if matches!(a, Access::Admin) {
            return Err(ApiError::forbidden());
        }
        let tags = serde_json::to_string(&clean).unwrap_or_default();
        Ok(store::set_tags(c, &id, &tags)?)
    })
    .await
}
