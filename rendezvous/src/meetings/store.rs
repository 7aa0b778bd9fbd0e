//! The meetings' rows: SQL only (the rules are in `mod.rs`).

use assent_shared::Timestamp;
use assent_shared::api::{MeetingKind, MeetingRole};
use assent_shared::ids::{MeetingId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

use super::{new_code, normalize_code};
use crate::error::{ApiError, ApiResult};

/// A meeting row.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: MeetingId,
    pub code: String,
    pub kind: MeetingKind,
    pub title: String,
    pub host: UserId,
    pub starts_at: Option<u64>,
    pub duration_min: Option<u32>,
    pub locked: bool,
    pub ended_at: Option<u64>,
}

pub(super) fn kind_str(k: MeetingKind) -> &'static str {
    match k {
        MeetingKind::Instant => "instant",
        MeetingKind::Scheduled => "scheduled",
        MeetingKind::Personal => "personal",
    }
}

pub(super) fn role_str(r: MeetingRole) -> &'static str {
    match r {
        MeetingRole::Host => "host",
        MeetingRole::Cohost => "cohost",
        MeetingRole::Participant => "participant",
    }
}

pub(super) fn parse_role(s: &str) -> MeetingRole {
    match s {
        "host" => MeetingRole::Host,
        "cohost" => MeetingRole::Cohost,
        _ => MeetingRole::Participant,
    }
}

fn id_of(v: Vec<u8>) -> [u8; 16] {
    v.try_into().unwrap_or([0; 16])
}

pub(super) const COLUMNS: &str =
    "id, code, kind, title, host_id, starts_at, duration_min, locked, ended_at";

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let kind: String = r.get(2)?;
    Ok(Row {
        id: MeetingId(id_of(r.get(0)?)),
        code: r.get(1)?,
        kind: match kind.as_str() {
            "scheduled" => MeetingKind::Scheduled,
            "personal" => MeetingKind::Personal,
            _ => MeetingKind::Instant,
        },
        title: r.get(3)?,
        host: UserId(id_of(r.get(4)?)),
        starts_at: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
        duration_min: r.get::<_, Option<i64>>(6)?.map(|v| v as u32),
        locked: r.get(7)?,
        ended_at: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
    })
}

pub fn by_code(c: &Connection, code: &str) -> rusqlite::Result<Option<Row>> {
    let code = normalize_code(code);
    c.query_row(
        &format!("SELECT {COLUMNS} FROM meetings WHERE code = ?1"),
        [code],
        row,
    )
    .optional()
}

pub fn by_id(c: &Connection, id: &MeetingId) -> rusqlite::Result<Option<Row>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM meetings WHERE id = ?1"),
        [&id.0[..]],
        row,
    )
    .optional()
}

pub fn member_role(
    c: &Connection,
    meeting: &MeetingId,
    user: &UserId,
) -> rusqlite::Result<Option<(MeetingRole, bool)>> {
    c.query_row(
        "SELECT role, removed FROM meeting_members WHERE meeting_id = ?1 AND user_id = ?2",
        params![&meeting.0[..], &user.0[..]],
        |r| Ok((parse_role(&r.get::<_, String>(0)?), r.get::<_, bool>(1)?)),
    )
    .optional()
}

pub(super) fn insert(
    c: &Connection,
    kind: MeetingKind,
    title: &str,
    host: &UserId,
    starts_at: Option<u64>,
    duration: Option<u32>,
    now: Timestamp,
) -> ApiResult<Row> {
    let id = MeetingId::random();
    // A fresh code; retry on the (astronomically rare) collision.
    for _ in 0..8 {
        let code = new_code();
        let n = c.execute(
            "INSERT OR IGNORE INTO meetings (id, code, kind, title, host_id, starts_at, duration_min, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![&id.0[..], code, kind_str(kind), title, &host.0[..], starts_at.map(|v| v as i64), duration.map(i64::from), now.0 as i64],
        )?;
        if n == 1 {
            c.execute(
                "INSERT INTO meeting_members (meeting_id, user_id, role) VALUES (?1, ?2, 'host')",
                params![&id.0[..], &host.0[..]],
            )?;
            return by_id(c, &id)?.ok_or_else(|| ApiError::Internal("meeting vanished".into()));
        }
    }
    Err(ApiError::Internal(
        "could not allocate a meeting code".into(),
    ))
}

/// Invite `email` to the meeting (once).
pub(super) fn add_invitee(
    c: &Connection,
    meeting: &MeetingId,
    email: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR IGNORE INTO meeting_invitees (meeting_id, email) VALUES (?1, ?2)",
        params![&meeting.0[..], email],
    )?;
    Ok(())
}

/// The host's personal room, if it was made already.
pub(super) fn personal_of(c: &Connection, host: &UserId) -> rusqlite::Result<Option<Row>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM meetings WHERE host_id = ?1 AND kind = 'personal'"),
        [&host.0[..]],
        row,
    )
    .optional()
}

/// Scheduled meetings not over at `now` that `user` (with `email`) hosts, is a member of, or
/// is invited to; the soonest first, at most 200.
pub(super) fn upcoming_for(
    c: &Connection,
    user: &UserId,
    email: &str,
    now: Timestamp,
) -> rusqlite::Result<Vec<Row>> {
    let mut st = c.prepare(&format!(
        "SELECT {COLUMNS} FROM meetings m WHERE kind = 'scheduled' AND ended_at IS NULL
           AND starts_at + duration_min * 60000 >= ?2
           AND (host_id = ?1
                OR EXISTS (SELECT 1 FROM meeting_members x WHERE x.meeting_id = m.id AND x.user_id = ?1 AND x.removed = 0)
                OR EXISTS (SELECT 1 FROM meeting_invitees i WHERE i.meeting_id = m.id AND i.email = ?3))
         ORDER BY starts_at LIMIT 200"
    ))?;
    let rows = st.query_map(params![&user.0[..], now.0 as i64, email], row)?;
    rows.collect()
}

/// Make `user` a participant.
pub(super) fn add_participant(
    c: &Connection,
    meeting: &MeetingId,
    user: &UserId,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO meeting_members (meeting_id, user_id, role) VALUES (?1, ?2, 'participant')",
        params![&meeting.0[..], &user.0[..]],
    )?;
    Ok(())
}

pub(super) fn set_locked(
    c: &Connection,
    meeting: &MeetingId,
    locked: bool,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE meetings SET locked = ?2 WHERE id = ?1",
        params![&meeting.0[..], locked],
    )?;
    Ok(())
}

/// Mark `user` removed from the meeting (a member or not).
pub(super) fn mark_removed(
    c: &Connection,
    meeting: &MeetingId,
    user: &UserId,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO meeting_members (meeting_id, user_id, role, removed) VALUES (?1, ?2, 'participant', 1)
         ON CONFLICT (meeting_id, user_id) DO UPDATE SET removed = 1",
        params![&meeting.0[..], &user.0[..]],
    )?;
    Ok(())
}

/// Give a member (not removed) `role`; false when `user` is no such member.
pub(super) fn set_role(
    c: &Connection,
    meeting: &MeetingId,
    user: &UserId,
    role: MeetingRole,
) -> rusqlite::Result<bool> {
    let n = c.execute(
        "UPDATE meeting_members SET role = ?3 WHERE meeting_id = ?1 AND user_id = ?2 AND removed = 0",
        params![&meeting.0[..], &user.0[..], role_str(role)],
    )?;
    Ok(n == 1)
}

/// End the meeting at `now` (once).
pub(super) fn mark_ended(
    c: &Connection,
    meeting: &MeetingId,
    now: Timestamp,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE meetings SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
        params![&meeting.0[..], now.0 as i64],
    )?;
    Ok(())
}
