//! Call history: when each call of a meeting started and ended, and who joined and left when.
//! Written by the signaling hub; read by `GET /v1/history`.

use assent_shared::Timestamp;
use assent_shared::api::{CallHistory, HistoryParticipant};
use assent_shared::ids::UserId;
use rusqlite::{Connection, params};

use super::hub::Output;
use crate::db::Db;
use crate::error::ApiResult;

/// Record one hub output (others are ignored).
pub fn record(c: &Connection, o: &Output) -> rusqlite::Result<()> {
    match o {
        Output::CallStarted { meeting, call, at } => {
            c.execute(
                "INSERT INTO calls (id, meeting_id, started_at) VALUES (?1, ?2, ?3)",
                params![&call.0[..], &meeting.0[..], at.0 as i64],
            )?;
        }
        Output::CallEnded { call, at } => {
            c.execute(
                "UPDATE calls SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
                params![&call.0[..], at.0 as i64],
            )?;
            c.execute(
                "UPDATE call_participants SET left_at = ?2 WHERE call_id = ?1 AND left_at IS NULL",
                params![&call.0[..], at.0 as i64],
            )?;
        }
        Output::ParticipantJoined { call, user, at } => {
            c.execute(
                "INSERT INTO call_participants (call_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
                params![&call.0[..], &user.0[..], at.0 as i64],
            )?;
        }
        Output::ParticipantLeft { call, user, at } => {
            c.execute(
                "UPDATE call_participants SET left_at = ?3
                 WHERE rowid = (SELECT rowid FROM call_participants WHERE call_id = ?1 AND user_id = ?2 AND left_at IS NULL ORDER BY joined_at DESC LIMIT 1)",
                params![&call.0[..], &user.0[..], at.0 as i64],
            )?;
        }
        Output::Send { .. } | Output::Close { .. } => {}
    }
    Ok(())
}

/// Rooms live in memory: calls left open by a previous run ended when it stopped.
pub fn close_open_calls(c: &Connection, now: Timestamp) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE call_participants SET left_at = ?1 WHERE left_at IS NULL",
        [now.0 as i64],
    )?;
    c.execute(
        "UPDATE calls SET ended_at = ?1 WHERE ended_at IS NULL",
        [now.0 as i64],
    )?;
    Ok(())
}

fn id(v: Vec<u8>) -> UserId {
    UserId(v.try_into().unwrap_or([0; 16]))
}

/// `GET /v1/history`: calls the user took part in, newest first.
pub async fn for_user(db: &Db, user: UserId) -> ApiResult<Vec<CallHistory>> {
    db.run(move |c| -> ApiResult<Vec<CallHistory>> {
            let mut calls = c.prepare(
                "SELECT DISTINCT k.id, m.code, m.title, k.started_at, k.ended_at FROM calls k
                 JOIN meetings m ON m.id = k.meeting_id
                 JOIN call_participants p ON p.call_id = k.id
                 WHERE p.user_id = ?1 ORDER BY k.started_at DESC LIMIT 200",
            )?;
            let rows = calls
                .query_map([&user.0[..]], |r| {
                    Ok((id(r.get(0)?), r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<i64>>(4)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut people = c.prepare(
                "SELECT p.user_id, COALESCE(u.display_name, ''), p.joined_at, p.left_at FROM call_participants p
                 LEFT JOIN users u ON u.id = p.user_id WHERE p.call_id = ?1 ORDER BY p.joined_at",
            )?;
            let mut out = Vec::new();
            for (call, code, title, started, ended) in rows {
                let participants = people
                    .query_map([&call.0[..]], |r| {
                        Ok(HistoryParticipant {
                            user_id: id(r.get(0)?),
                            display_name: r.get(1)?,
                            joined_at: r.get::<_, i64>(2)? as u64,
                            left_at: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(CallHistory {
                    call_id: call.to_string(),
                    meeting_code: code,
                    title,
                    started_at: started as u64,
                    ended_at: ended.map(|e| e as u64),
                    duration_ms: ended.map(|e| (e - started).max(0) as u64),
                    participants,
                });
            }
            Ok(out)
        })
        .await
}
