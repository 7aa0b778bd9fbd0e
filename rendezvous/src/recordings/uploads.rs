//! Uploads (the recorder only, while the cloud copy is not complete): multipart uploads of
//! the segments through presigned URLs, resumable; and downloads for the participants.

use assent_shared::Timestamp;
use assent_shared::api::{ErrorCode, RecordingObject, StoredPart, UploadStarted};
use assent_shared::ids::RecordingId;

use super::Registry;
use super::access::{Access, access, must_record};
use super::store::{self, Status, object_size};
use super::{MAX_PARTS_PER_REQUEST, key, storage_err, valid_object};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::sessions::Caller;

pub(super) fn check_object(name: &str) -> ApiResult<()> {
    if valid_object(name) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidObject,
            "objects are segment-NNNNNN.age",
        ))
    }
}

pub(super) async fn recorder_of(db: &Db, user: &Caller, id: RecordingId) -> ApiResult<()> {
    let user = *user;
    db.run(move |c| -> ApiResult<()> {
        let (r, a) = access(c, &id, &user)?;
        must_record(&a)?;
        if r.status != Status::Uploading {
            return Err(ApiError::new(
                ErrorCode::RecordingComplete,
                "the cloud copy is complete",
            ));
        }
        Ok(())
    })
    .await
}

pub(super) async fn upload_of(db: &Db, id: RecordingId, name: &str, upload: &str) -> ApiResult<()> {
    let (name, upload) = (name.to_string(), upload.to_string());
    db.run(move |c| -> ApiResult<()> {
        if store::has_upload(c, &id, &name, &upload)? {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::NoSuchUpload, "no such upload"))
        }
    })
    .await
}

/// `POST /v1/recordings/{id}/objects/{name}/uploads`: start a multipart upload.
pub async fn start_upload(
    reg: &Registry<'_>,
    now: Timestamp,
    user: Caller,
    id: RecordingId,
    name: String,
) -> ApiResult<UploadStarted> {
    check_object(&name)?;
    recorder_of(reg.db, &user, id).await?;
    let upload_id = reg
        .storage
        .create_multipart(&key(&id, &name))
        .await
        .map_err(storage_err)?;
    let (n, u) = (name.clone(), upload_id.clone());
    reg.db
        .run(move |c| -> ApiResult<()> { Ok(store::insert_upload(c, &id, &n, &u, now)?) })
        .await?;
    Ok(UploadStarted { upload_id })
}

/// `POST …/uploads/{upload}/parts`: presigned URLs for these parts.
pub async fn part_urls(
    reg: &Registry<'_>,
    user: Caller,
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
        return Err(ApiError::new(
            ErrorCode::InvalidParts,
            "1 to 100 part numbers between 1 and 10000",
        ));
    }
    recorder_of(reg.db, &user, id).await?;
    upload_of(reg.db, id, &name, &upload).await?;
    Ok(parts
        .into_iter()
        .map(|p| (p, reg.storage.presign_part(&key(&id, &name), &upload, p)))
        .collect())
}

/// `GET …/uploads/{upload}/parts`: what storage already holds (to resume).
pub async fn stored_parts(
    reg: &Registry<'_>,
    user: Caller,
    id: RecordingId,
    name: String,
    upload: String,
) -> ApiResult<Vec<StoredPart>> {
    check_object(&name)?;
    recorder_of(reg.db, &user, id).await?;
    upload_of(reg.db, id, &name, &upload).await?;
    let parts = reg
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
    reg: &Registry<'_>,
    user: Caller,
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
        return Err(ApiError::new(
            ErrorCode::InvalidParts,
            "name parts 1 to n (at most 10000) in order, each with its ETag",
        ));
    }
    recorder_of(reg.db, &user, id).await?;
    upload_of(reg.db, id, &name, &upload).await?;
    let k = key(&id, &name);
    reg.storage
        .complete(&k, &upload, &parts)
        .await
        .map_err(storage_err)?;
    let size = reg
        .storage
        .head(&k)
        .await
        .map_err(storage_err)?
        .ok_or_else(|| ApiError::Internal("completed object is missing".into()))?;
    let n = name.clone();
    reg.db
        .run(move |c| -> ApiResult<()> {
            let tx = c.transaction()?;
            store::put_object(&tx, &id, &n, size)?;
            store::delete_upload(&tx, &id, &upload)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(RecordingObject { name, size })
}

/// `DELETE …/uploads/{upload}`: give up an upload.
pub async fn abort_upload(
    reg: &Registry<'_>,
    user: Caller,
    id: RecordingId,
    name: String,
    upload: String,
) -> ApiResult<()> {
    check_object(&name)?;
    recorder_of(reg.db, &user, id).await?;
    upload_of(reg.db, id, &name, &upload).await?;
    reg.storage
        .abort(&key(&id, &name), &upload)
        .await
        .map_err(storage_err)?;
    reg.db
        .run(move |c| -> ApiResult<()> { Ok(store::delete_upload(c, &id, &upload)?) })
        .await
}

/// `GET /v1/recordings/{id}/objects/{name}`: a download URL, for participants only (the
/// manifest too, once the copy is complete).
pub async fn download(
    reg: &Registry<'_>,
    user: Caller,
    id: RecordingId,
    name: String,
) -> ApiResult<(String, u64)> {
    let is_manifest = name == assent_shared::container::MANIFEST_NAME;
    if !is_manifest {
        check_object(&name)?;
    }
    let n = name.clone();
    let size = reg
        .db
        .run(move |c| -> ApiResult<u64> {
            let (r, a) = access(c, &id, &user)?;
            if matches!(a, Access::Admin) {
                return Err(ApiError::forbidden());
            }
            if is_manifest {
                return if r.status == Status::Complete {
                    Ok(r.manifest.len() as u64)
                } else {
                    Err(ApiError::not_found())
                };
            }
            object_size(c, &id, &n)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok((reg.storage.presign_get(&key(&id, &name)), size))
}
