//! Meetings: instant, scheduled (with emailed calendar invitations) and personal rooms; join by
//! code; roles (host, co-host, participant); lock, remove, role changes and end. Every action
//! checks the caller's role.

use assent_shared::Timestamp;
use assent_shared::api::ErrorCode;
use assent_shared::api::{CreateMeeting, Meeting, MeetingKind, MeetingRole};
use assent_shared::ids::{MeetingId, UserId};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::mail::MailAttachment;
use crate::mail::Mailer;
use crate::signaling::hub::Input;
use crate::users::{self, check_email};

pub const MAX_INVITEES: usize = 100;
pub const MAX_DURATION_MIN: u32 = 24 * 60;

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

fn kind_str(k: MeetingKind) -> &'static str {
    match k {
        MeetingKind::Instant => "instant",
        MeetingKind::Scheduled => "scheduled",
        MeetingKind::Personal => "personal",
    }
}

fn role_str(r: MeetingRole) -> &'static str {
    match r {
        MeetingRole::Host => "host",
        MeetingRole::Cohost => "cohost",
        MeetingRole::Participant => "participant",
    }
}

fn parse_role(s: &str) -> MeetingRole {
    match s {
        "host" => MeetingRole::Host,
        "cohost" => MeetingRole::Cohost,
        _ => MeetingRole::Participant,
    }
}

fn id_of(v: Vec<u8>) -> [u8; 16] {
    v.try_into().unwrap_or([0; 16])
}

const COLUMNS: &str = "id, code, kind, title, host_id, starts_at, duration_min, locked, ended_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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

/// Codes are shown as `abc-defg-hij`; users may type them with or without dashes, any case.
pub fn normalize_code(code: &str) -> String {
    let letters: String = code
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if letters.len() == 10 {
        format!("{}-{}-{}", &letters[..3], &letters[3..7], &letters[7..])
    } else {
        letters
    }
}

fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let letters: String = (0..10)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect();
    normalize_code(&letters)
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

fn view(c: &Connection, m: &Row, user: &UserId) -> ApiResult<Meeting> {
    let host_name = users::by_id(c, &m.host)?
        .map(|a| a.display_name)
        .unwrap_or_default();
    let role = member_role(c, &m.id, user)?
        .filter(|(_, removed)| !removed)
        .map(|(r, _)| r);
    Ok(Meeting {
        id: m.id,
        code: m.code.clone(),
        kind: m.kind,
        title: m.title.clone(),
        host: m.host,
        host_name,
        starts_at: m.starts_at,
        duration_min: m.duration_min,
        locked: m.locked,
        ended: m.ended_at.is_some(),
        role,
    })
}

fn check_title(t: &str) -> ApiResult<String> {
    let t = t.trim();
    let n = t.chars().count();
    if n == 0 || n > 200 || t.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidTitle,
            "a title has 1 to 200 characters, no control characters",
        ));
    }
    Ok(t.to_string())
}

fn insert(
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

/// Where invitations go out: the mailer, and the server's address for the links they carry.
pub struct Invitations<'a> {
    pub mailer: &'a Mailer,
    pub public_url: &'a str,
}

/// `POST /v1/meetings`
pub async fn create(
    db: &Db,
    invitations: &Invitations<'_>,
    now: Timestamp,
    user: UserId,
    req: CreateMeeting,
) -> ApiResult<Meeting> {
    let title = check_title(&req.title)?;
    let (starts_at, duration, invitees) = match req.kind {
        MeetingKind::Instant => (None, None, vec![]),
        MeetingKind::Personal => {
            return Err(ApiError::new(
                ErrorCode::InvalidKind,
                "a personal room is fetched with GET /v1/meetings/personal",
            ));
        }
        MeetingKind::Scheduled => {
            let start = req.starts_at.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidTime,
                    "a scheduled meeting needs starts_at",
                )
            })?;
            let duration = req.duration_min.unwrap_or(60);
            if duration == 0 || duration > MAX_DURATION_MIN {
                return Err(ApiError::new(
                    ErrorCode::InvalidTime,
                    "duration must be 1 to 1440 minutes",
                ));
            }
            if start + u64::from(duration) * 60_000 < now.0 {
                return Err(ApiError::new(
                    ErrorCode::InvalidTime,
                    "the meeting would be over already",
                ));
            }
            if req.invitees.len() > MAX_INVITEES {
                return Err(ApiError::new(
                    ErrorCode::TooManyInvitees,
                    "at most 100 invitees",
                ));
            }
            let mut emails = req
                .invitees
                .iter()
                .map(|e| check_email(e))
                .collect::<ApiResult<Vec<_>>>()?;
            emails.sort_by_key(|e| e.to_lowercase());
            emails.dedup_by_key(|e| e.to_lowercase());
            (Some(start), Some(duration), emails)
        }
    };
    let inv = invitees.clone();
    let (meeting, host_name, host_email) = db
        .run(move |c| -> ApiResult<(Meeting, String, String)> {
            let tx = c.transaction()?;
            let m = insert(&tx, req.kind, &title, &user, starts_at, duration, now)?;
            for e in &inv {
                tx.execute(
                    "INSERT OR IGNORE INTO meeting_invitees (meeting_id, email) VALUES (?1, ?2)",
                    params![&m.id.0[..], e],
                )?;
            }
            let host = users::by_id(&tx, &user)?.ok_or_else(ApiError::unauthenticated)?;
            let v = view(&tx, &m, &user)?;
            tx.commit()?;
            Ok((v, host.display_name, host.email))
        })
        .await?;
    for to in invitees {
        send_invitation(invitations, &meeting, &host_name, &host_email, &to, now).await;
    }
    Ok(meeting)
}

async fn send_invitation(
    invitations: &Invitations<'_>,
    m: &Meeting,
    host_name: &str,
    host_email: &str,
    to: &str,
    now: Timestamp,
) {
    let (Some(start), Some(duration)) = (m.starts_at, m.duration_min) else {
        return;
    };
    let start_t = Timestamp(start);
    let text = format!(
        "{host_name} invites you to an Assent meeting.\n\n{}\n{} (UTC), {duration} minutes\n\nJoin with the code {} or open assent://join/{}\n\nCalls are end-to-end encrypted. Nothing is recorded unless every participant agrees.\n",
        m.title,
        start_t.to_rfc3339(),
        m.code,
        m.code
    );
    let ics = ics_invitation(m, host_name, host_email, to, invitations.public_url, now);
    let attachment = MailAttachment {
        filename: "invite.ics".into(),
        content_type: "text/calendar; method=REQUEST; charset=utf-8".into(),
        body: ics.into_bytes(),
    };
    if let Err(e) = invitations
        .mailer
        .send(
            to,
            &format!("Invitation: {}", m.title),
            &text,
            &[attachment],
        )
        .await
    {
        tracing::warn!(error = %e, meeting = %m.id, "could not send an invitation");
    }
}

fn ics_time(t: Timestamp) -> String {
    // 2026-11-21T13:05:00.250Z → 20261121T130500Z
    let s = t.to_rfc3339();
    format!(
        "{}{}{}T{}{}{}Z",
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16],
        &s[17..19]
    )
}

fn ics_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Fold a content line to 75 octets (RFC 5545 §3.1), never splitting a character.
fn ics_fold(line: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for ch in line.chars() {
        let n = ch.len_utf8();
        if len + n > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(ch);
        len += n;
    }
    out.push_str("\r\n");
    out
}

/// An iCalendar (RFC 5545) invitation for a scheduled meeting.
pub fn ics_invitation(
    m: &Meeting,
    host_name: &str,
    host_email: &str,
    to: &str,
    public_url: &str,
    now: Timestamp,
) -> String {
    let start = Timestamp(m.starts_at.unwrap_or(0));
    let end = start.plus_millis(u64::from(m.duration_min.unwrap_or(60)) * 60_000);
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//Assent//Assent meetings//EN".into(),
        "METHOD:REQUEST".into(),
        "BEGIN:VEVENT".into(),
        format!("UID:{}@assent", m.id),
        format!("DTSTAMP:{}", ics_time(now)),
        format!("DTSTART:{}", ics_time(start)),
        format!("DTEND:{}", ics_time(end)),
        format!("SUMMARY:{}", ics_escape(&m.title)),
        format!(
            "DESCRIPTION:{}",
            ics_escape(&format!(
                "Join: assent://join/{}\nCode: {}\nServer: {public_url}",
                m.code, m.code
            ))
        ),
        format!("LOCATION:assent://join/{}", m.code),
        format!("ORGANIZER;CN={}:mailto:{host_email}", ics_escape(host_name)),
        format!("ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{to}"),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ];
    lines.iter().map(|l| ics_fold(l)).collect()
}

/// `GET /v1/meetings/personal`: the host's permanent room, created on first use.
pub async fn personal(db: &Db, now: Timestamp, user: UserId) -> ApiResult<Meeting> {
    db.run(move |c| -> ApiResult<Meeting> {
        let existing = c
            .query_row(
                &format!("SELECT {COLUMNS} FROM meetings WHERE host_id = ?1 AND kind = 'personal'"),
                [&user.0[..]],
                row,
            )
            .optional()?;
        let m = match existing {
            Some(m) => m,
            None => {
                let name = users::by_id(c, &user)?
                    .map(|a| a.display_name)
                    .unwrap_or_default();
                insert(
                    c,
                    MeetingKind::Personal,
                    &format!("{name}'s room"),
                    &user,
                    None,
                    None,
                    now,
                )?
            }
        };
        view(c, &m, &user)
    })
    .await
}

/// `GET /v1/meetings/{code}`
pub async fn get(db: &Db, user: UserId, code: String) -> ApiResult<Meeting> {
    db.run(move |c| -> ApiResult<Meeting> {
        let m = by_code(c, &code)?.ok_or_else(ApiError::not_found)?;
        view(c, &m, &user)
    })
    .await
}

/// `GET /v1/meetings/upcoming`: scheduled meetings the user hosts or is invited to, not over.
pub async fn upcoming(db: &Db, now: Timestamp, user: UserId) -> ApiResult<Vec<Meeting>> {
    db
        .run(move |c| -> ApiResult<Vec<Meeting>> {
            let email = users::by_id(c, &user)?.map(|a| a.email).unwrap_or_default();
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM meetings m WHERE kind = 'scheduled' AND ended_at IS NULL
                   AND starts_at + duration_min * 60000 >= ?2
                   AND (host_id = ?1
                        OR EXISTS (SELECT 1 FROM meeting_members x WHERE x.meeting_id = m.id AND x.user_id = ?1 AND x.removed = 0)
                        OR EXISTS (SELECT 1 FROM meeting_invitees i WHERE i.meeting_id = m.id AND i.email = ?3))
                 ORDER BY starts_at LIMIT 200"
            ))?;
            let rows = st.query_map(params![&user.0[..], now.0 as i64, email], row)?.collect::<Result<Vec<_>, _>>()?;
            rows.iter().map(|m| view(c, m, &user)).collect()
        })
        .await
}

/// Whether `user` may enter meeting `code` now; makes them a participant if they are not a
/// member yet. Used by `POST /v1/meetings/{code}/join` and the signaling socket.
pub fn admit(c: &Connection, user: &UserId, code: &str) -> ApiResult<(Row, MeetingRole)> {
    let m = by_code(c, code)?.ok_or_else(ApiError::not_found)?;
    if m.ended_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::MeetingEnded,
            "the host ended this meeting",
        ));
    }
    match member_role(c, &m.id, user)? {
        Some((_, true)) => Err(ApiError::new(
            ErrorCode::RemovedFromMeeting,
            "the host removed you from this meeting",
        )),
        Some((role, false)) => Ok((m, role)),
        None if m.locked => Err(ApiError::new(
            ErrorCode::MeetingLocked,
            "the host locked this meeting",
        )),
        None => {
            c.execute(
                "INSERT INTO meeting_members (meeting_id, user_id, role) VALUES (?1, ?2, 'participant')",
                params![&m.id.0[..], &user.0[..]],
            )?;
            Ok((m, MeetingRole::Participant))
        }
    }
}

/// `POST /v1/meetings/{code}/join`
pub async fn join(db: &Db, user: UserId, code: String) -> ApiResult<Meeting> {
    db.run(move |c| -> ApiResult<Meeting> {
        let (m, _) = admit(c, &user, &code)?;
        view(c, &m, &user)
    })
    .await
}

/// Load the meeting and check that `user` holds at least `needed`.
fn authorize(c: &Connection, user: &UserId, code: &str, needed: MeetingRole) -> ApiResult<Row> {
    let m = by_code(c, code)?.ok_or_else(ApiError::not_found)?;
    match member_role(c, &m.id, user)? {
        Some((role, false)) if role >= needed => Ok(m),
        _ => Err(ApiError::forbidden()),
    }
}

/// `POST /v1/meetings/{code}/lock` (host or co-host)
pub async fn lock(db: &Db, user: UserId, code: String, locked: bool) -> ApiResult<Option<Input>> {
    db.run(move |c| -> ApiResult<Option<Input>> {
        let m = authorize(c, &user, &code, MeetingRole::Cohost)?;
        c.execute(
            "UPDATE meetings SET locked = ?2 WHERE id = ?1",
            params![&m.id.0[..], locked],
        )?;
        Ok(None)
    })
    .await
}

/// `POST /v1/meetings/{code}/remove` (host or co-host; never the host)
pub async fn remove(
    db: &Db,
    user: UserId,
    code: String,
    target: UserId,
) -> ApiResult<Option<Input>> {
    db
        .run(move |c| -> ApiResult<Option<Input>> {
            let m = authorize(c, &user, &code, MeetingRole::Cohost)?;
            if target == m.host {
                return Err(ApiError::forbidden());
            }
            c.execute(
                "INSERT INTO meeting_members (meeting_id, user_id, role, removed) VALUES (?1, ?2, 'participant', 1)
                 ON CONFLICT (meeting_id, user_id) DO UPDATE SET removed = 1",
                params![&m.id.0[..], &target.0[..]],
            )?;
            Ok(Some(Input::Kick {
                meeting: m.id,
                user: target,
            }))
        })
        .await
}

/// `POST /v1/meetings/{code}/role` (host only; the host role is not transferable here)
pub async fn set_role(
    db: &Db,
    user: UserId,
    code: String,
    target: UserId,
    role: MeetingRole,
) -> ApiResult<Option<Input>> {
    db
        .run(move |c| -> ApiResult<Option<Input>> {
            let m = authorize(c, &user, &code, MeetingRole::Host)?;
            if role == MeetingRole::Host || target == m.host {
                return Err(ApiError::forbidden());
            }
            let n = c.execute(
                "UPDATE meeting_members SET role = ?3 WHERE meeting_id = ?1 AND user_id = ?2 AND removed = 0",
                params![&m.id.0[..], &target.0[..], role_str(role)],
            )?;
            if n == 0 {
                return Err(ApiError::not_found());
            }
            Ok(Some(Input::RoleChanged {
                meeting: m.id,
                user: target,
                role,
            }))
        })
        .await
}

/// `POST /v1/meetings/{code}/end` (host only). A personal room stays; its current call ends.
pub async fn end(db: &Db, now: Timestamp, user: UserId, code: String) -> ApiResult<Option<Input>> {
    db.run(move |c| -> ApiResult<Option<Input>> {
        let m = authorize(c, &user, &code, MeetingRole::Host)?;
        if m.kind != MeetingKind::Personal {
            c.execute(
                "UPDATE meetings SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
                params![&m.id.0[..], now.0 as i64],
            )?;
        }
        Ok(Some(Input::Close { meeting: m.id }))
    })
    .await
}

#[cfg(test)]
mod tests;
