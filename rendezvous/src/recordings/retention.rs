//! Deleting recordings: by the recorder or an admin, with an account, and by the retention
//! job once their time is up. Objects go first, then the rows.

use assent_shared::Timestamp;
use assent_shared::ids::{RecordingId, UserId};

use super::Registry;
use super::access::{Access, access};
use super::store;
use super::{key, storage_err};
use crate::error::{ApiError, ApiResult};
use crate::sessions::Caller;

/// An unfinished multipart upload: object name and the storage's upload id.
pub(super) type NamedUpload = (String, String);

/// Remove a recording's objects and its rows (deletion and retention share this).
pub(super) async fn purge(reg: &Registry<'_>, id: RecordingId) -> ApiResult<()> {
    let (objects, uploads) = reg
        .db
        .run(move |c| -> ApiResult<(Vec<String>, Vec<NamedUpload>)> {
            Ok((store::objects(c, &id)?, store::uploads(c, &id)?))
        })
        .await?;
    for (name, upload) in uploads {
        reg.storage
            .abort(&key(&id, &name), &upload)
            .await
            .map_err(storage_err)?;
    }
    for name in objects
        .iter()
        .map(String::as_str)
        .chain([assent_shared::container::MANIFEST_NAME])
    {
        reg.storage
            .delete(&key(&id, name))
            .await
            .map_err(storage_err)?;
    }
    reg.db
        .run(move |c| -> ApiResult<()> { Ok(store::delete(c, &id)?) })
        .await
}

/// Delete every recording `user` made, objects first (an account being deleted).
pub async fn purge_recorded_by(reg: &Registry<'_>, user: UserId) -> ApiResult<()> {
    let ids = reg
        .db
        .run(move |c| -> ApiResult<Vec<RecordingId>> { Ok(store::recorded_by(c, &user)?) })
        .await?;
    for id in ids {
        purge(reg, id).await?;
    }
    Ok(())
}

/// `DELETE /v1/recordings/{id}`: the recorder or an organisation admin.
pub async fn delete(reg: &Registry<'_>, user: Caller, id: RecordingId) -> ApiResult<()> {
    reg.db
        .run(move |c| -> ApiResult<()> {
            let (_, a) = access(c, &id, &user)?;
            match a {
                Access::Recorder | Access::Admin => Ok(()),
                Access::Participant => Err(ApiError::forbidden()),
            }
        })
        .await?;
    purge(reg, id).await
}

/// The retention job: delete every complete recording past its date. Idempotent (a recording
/// half-deleted by a crash is deleted again on the next run). Returns how many went.
pub async fn expire(reg: &Registry<'_>, now: Timestamp) -> ApiResult<usize> {
    let due: Vec<RecordingId> = reg
        .db
        .run(move |c| -> ApiResult<Vec<RecordingId>> { Ok(store::past_retention(c, now)?) })
        .await?;
    let n = due.len();
    for id in due {
        purge(reg, id).await?;
        tracing::info!(recording = %id, "retention: deleted");
    }
    Ok(n)
}
