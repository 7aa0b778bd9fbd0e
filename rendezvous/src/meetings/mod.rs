//! Meetings: instant, scheduled (with emailed calendar invitations) and personal rooms; join by
//! code; roles (host, co-host, participant); lock, remove, role changes and end. Every action
//! checks the caller's role.

use assent_shared::Timestamp;
use assent_shared::api::ErrorCode;
use assent_shared::api::{CreateMeeting, Meeting, MeetingKind, MeetingRole};
use assent_shared::ids::UserId;
use rand::Rng;
use rusqlite::Connection;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::mail::MailAttachment;
use crate::mail::Mailer;
use crate::signaling::hub::Input;
use crate::users::{self, check_email};

mod store;
use store::insert;
pub use store::{Row, by_code, by_id, member_role};

pub const MAX_INVITEES: usize = 100;
pub const MAX_DURATION_MIN: u32 = 24 * 60;

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
                store::add_invitee(&tx, &m.id, e)?;
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
        let m = match store::personal_of(c, &user)? {
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
    db.run(move |c| -> ApiResult<Vec<Meeting>> {
        let email = users::by_id(c, &user)?.map(|a| a.email).unwrap_or_default();
        let rows = store::upcoming_for(c, &user, &email, now)?;
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
            store::add_participant(c, &m.id, user)?;
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
        store::set_locked(c, &m.id, locked)?;
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
    db.run(move |c| -> ApiResult<Option<Input>> {
        let m = authorize(c, &user, &code, MeetingRole::Cohost)?;
        if target == m.host {
            return Err(ApiError::forbidden());
        }
        store::mark_removed(c, &m.id, &target)?;
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
    db.run(move |c| -> ApiResult<Option<Input>> {
        let m = authorize(c, &user, &code, MeetingRole::Host)?;
        if role == MeetingRole::Host || target == m.host {
            return Err(ApiError::forbidden());
        }
        if !store::set_role(c, &m.id, &target, role)? {
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
            store::mark_ended(c, &m.id, now)?;
        }
        Ok(Some(Input::Close { meeting: m.id }))
    })
    .await
}

#[cfg(test)]
mod tests;
