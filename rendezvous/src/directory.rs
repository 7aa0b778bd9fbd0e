//! The public-key directory: each user's identity bundles, append-only, so clients can show a
//! key change instead of silently accepting it.

use assent_shared::api::{DirectoryEntry, KeyHistoryEntry};
use assent_shared::ids::UserId;
use assent_shared::{PublicIdentity, Timestamp};
use rusqlite::{Connection, params};

use crate::accounts::{self, check_identity};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Append `bundle` as the user's newest key unless it already is.
pub fn append_identity(
    c: &Connection,
    user: &[u8],
    bundle: &[u8],
    now: Timestamp,
) -> rusqlite::Result<bool> {
    let latest: Option<(i64, Vec<u8>)> = c
        .query_row(
            "SELECT seq, bundle FROM identities WHERE user_id = ?1 ORDER BY seq DESC LIMIT 1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| {
            if e == rusqlite::Error::QueryReturnedNoRows {
                Ok(None)
            } else {
                Err(e)
            }
        })?;
    if latest.as_ref().is_some_and(|(_, b)| b == bundle) {
        return Ok(false);
    }
    let seq = latest.map(|(s, _)| s + 1).unwrap_or(1);
    c.execute(
        "INSERT INTO identities (user_id, seq, bundle, published_at) VALUES (?1, ?2, ?3, ?4)",
        params![user, seq, bundle, now.0 as i64],
    )?;
    Ok(true)
}

/// `PUT /v1/me/identity`
pub async fn publish(state: &AppState, user: UserId, identity: PublicIdentity) -> ApiResult<bool> {
    check_identity(&identity)?;
    let now = state.now();
    let bundle = identity.to_bytes();
    state
        .db
        .run(move |c| -> ApiResult<bool> { Ok(append_identity(c, &user.0, &bundle, now)?) })
        .await
}

fn entry(c: &Connection, user: UserId, display_name: String) -> ApiResult<DirectoryEntry> {
    let mut st = c.prepare(
        "SELECT seq, bundle, published_at FROM identities WHERE user_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([&user.0[..]], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut history = Vec::new();
    for row in rows {
        let (seq, bundle, at) = row?;
        // Stored bundles were verified on the way in; a row that no longer parses is skipped.
        if let Ok(identity) = PublicIdentity::from_bytes(&bundle) {
            history.push(KeyHistoryEntry {
                seq: seq as u64,
                identity,
                published_at: at as u64,
            });
        }
    }
    let identity = history
        .last()
        .map(|h| h.identity.clone())
        .ok_or_else(ApiError::not_found)?;
    Ok(DirectoryEntry {
        user_id: user,
        display_name,
        identity,
        history,
    })
}

/// `GET /v1/directory/{user_id}`
pub async fn by_id(state: &AppState, user: UserId) -> ApiResult<DirectoryEntry> {
    state
        .db
        .run(move |c| -> ApiResult<DirectoryEntry> {
            let a = accounts::by_id(c, &user)?
                .filter(|a| a.email_verified && !a.disabled)
                .ok_or_else(ApiError::not_found)?;
            entry(c, a.id, a.display_name)
        })
        .await
}

/// `GET /v1/directory?email=`
pub async fn by_email(state: &AppState, email: String) -> ApiResult<DirectoryEntry> {
    state
        .db
        .run(move |c| -> ApiResult<DirectoryEntry> {
            let a = accounts::by_email(c, &email)?
                .filter(|a| a.email_verified && !a.disabled)
                .ok_or_else(ApiError::not_found)?;
            entry(c, a.id, a.display_name)
        })
        .await
}
