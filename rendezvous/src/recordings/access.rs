//! Who may do what with a recording: the recorder (who registered it) uploads, updates,
//! completes and deletes; the participants named in its consent see and download it; an
//! organisation admin sees its metadata and may delete it. Anyone else is refused.

use assent_shared::ids::{RecordingId, UserId};
use rusqlite::Connection;

use super::store::{Row, is_participant, row};
use crate::error::{ApiError, ApiResult};
use crate::sessions::Caller;

/// The caller's relation to a recording. Anyone else is refused with 403 (recording ids are
/// 128 random bits: saying that one exists tells an outsider nothing they could use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    Recorder,
    Participant,
    Admin,
}

/// The rule: what `caller` is to a recording `recorder` made (`participant`: the caller is
/// named in its consent). Being the recorder or a participant comes before being an admin.
pub(super) fn relation(caller: &Caller, recorder: &UserId, participant: bool) -> ApiResult<Access> {
    if caller.id == *recorder {
        Ok(Access::Recorder)
    } else if participant {
        Ok(Access::Participant)
    } else if caller.admin {
        Ok(Access::Admin)
    } else {
        Err(ApiError::forbidden())
    }
}

/// The recording and the caller's relation to it (404 if there is none).
pub(super) fn access(
    c: &Connection,
    id: &RecordingId,
    caller: &Caller,
) -> ApiResult<(Row, Access)> {
    let r = row(c, id)?.ok_or_else(ApiError::not_found)?;
    let participant = r.recorder != caller.id && is_participant(c, id, &caller.id)?;
    let a = relation(caller, &r.recorder, participant)?;
    Ok((r, a))
}

/// Only the recorder may.
pub(super) fn must_record(a: &Access) -> ApiResult<()> {
    match a {
        Access::Recorder => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::api::ErrorCode;
    use rusqlite::params;

    fn user(c: &Connection, email: &str, role: &str) -> Caller {
        let id = UserId::random();
        c.execute(
            "INSERT INTO users (id, email, display_name, verifier, salt, kdf_memory_kib,
               kdf_iterations, kdf_lanes, role, created_at)
             VALUES (?1, ?2, 'x', 'v', x'00', 1, 1, 1, ?3, 0)",
            params![&id.0[..], email, role],
        )
        .unwrap();
        Caller {
            id,
            admin: role == "admin",
        }
    }

    fn recording(c: &Connection, recorder: &Caller, participants: &[&Caller]) -> RecordingId {
        let id = RecordingId::random();
        c.execute(
            "INSERT INTO recordings (id, call_id, title, recorder_id, status, retention_days,
               manifest, size, created_at)
             VALUES (?1, x'00', 't', ?2, 'uploading', 30, x'00', 0, 0)",
            params![&id.0[..], &recorder.id.0[..]],
        )
        .unwrap();
        for p in participants {
            c.execute(
                "INSERT INTO recording_participants (recording_id, user_id) VALUES (?1, ?2)",
                params![&id.0[..], &p.id.0[..]],
            )
            .unwrap();
        }
        id
    }

    fn status(r: ApiResult<(Row, Access)>) -> Result<Access, ErrorCode> {
        r.map(|(_, a)| a).map_err(|e| e.code())
    }

    /// The recorder, the participants, an admin and an outsider, as the database holds them;
    /// the recorder is the recorder even when also listed as a participant, an admin who took
    /// part is a participant (and sees the manifest), and a recording that does not exist is
    /// 404 for everyone.
    #[test]
    fn each_caller_gets_their_relation_and_outsiders_nothing() {
        let c = crate::db::memory();
        let ann = user(&c, "ann@example.org", "user");
        let bob = user(&c, "bob@example.org", "user");
        let eve = user(&c, "eve@example.org", "user");
        let root = user(&c, "root@example.org", "admin");
        let boss = user(&c, "boss@example.org", "admin");
        let id = recording(&c, &ann, &[&ann, &bob, &boss]);
        assert_eq!(status(access(&c, &id, &ann)), Ok(Access::Recorder));
        assert_eq!(status(access(&c, &id, &bob)), Ok(Access::Participant));
        assert_eq!(status(access(&c, &id, &boss)), Ok(Access::Participant));
        assert_eq!(status(access(&c, &id, &root)), Ok(Access::Admin));
        assert_eq!(status(access(&c, &id, &eve)), Err(ErrorCode::Forbidden));
        let other = recording(&c, &bob, &[&bob]);
        assert_eq!(status(access(&c, &other, &ann)), Err(ErrorCode::Forbidden));
        let missing = RecordingId::random();
        for who in [&ann, &root] {
            assert_eq!(status(access(&c, &missing, who)), Err(ErrorCode::NotFound));
        }
    }

    /// Only the recorder may act as the recorder.
    #[test]
    fn only_the_recorder_records() {
        assert!(must_record(&Access::Recorder).is_ok());
        for a in [Access::Participant, Access::Admin] {
            assert_eq!(must_record(&a).unwrap_err().code(), ErrorCode::Forbidden);
        }
    }
}
