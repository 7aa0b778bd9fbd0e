//! The public-key directory: each user's identity bundles, append-only, so clients can show a
//! key change instead of silently accepting it. Every bundle a verified account publishes is
//! queued for the key transparency log ([`crate::kt`]) in the same transaction.
//!
//! Publishing rules (each a defence against a user or a server passing off someone else's key):
//! - the publisher proves possession of the new key (a signature by it over the account's
//!   email, this server's directory key and the time);
//! - a signing key belongs to one account: another account's key is refused (403);
//! - a key that was replaced can never be published again (409), so an old, perhaps stolen
//!   key cannot come back.
//!
//! The rows are `store.rs`'s.

pub mod store;

use assent_shared::api::ErrorCode;
use assent_shared::api::{DirectoryEntry, KeyHistoryEntry, PublishIdentity};
use assent_shared::ids::UserId;
use assent_shared::transparency::{KeyPossession, ServerKey};
use assent_shared::{PublicIdentity, Timestamp};
use rusqlite::Connection;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::kt::KeyDirectory;
use crate::users::{self, check_identity};

/// Check a proof of possession of `identity` for the account `email` on this server.
pub fn check_possession(
    identity: &PublicIdentity,
    possession: &KeyPossession,
    email: &str,
    server: &ServerKey,
    now: Timestamp,
) -> ApiResult<()> {
    possession
        .verify(identity, email, server, now)
        .map_err(|e| ApiError::new(ErrorCode::BadPossession, e.to_string()))
}

/// Append `identity` as the user's newest key unless it already is. Refuses a key that another
/// account holds or that this account replaced. When the account's email is verified, the key
/// is queued for the transparency log. Returns whether anything changed.
pub fn append_identity(
    c: &Connection,
    user: &[u8],
    identity: &PublicIdentity,
    now: Timestamp,
) -> ApiResult<bool> {
    let bundle = identity.to_bytes();
    let latest = store::latest(c, user)?;
    if latest.as_ref().is_some_and(|(_, b)| *b == bundle) {
        return Ok(false);
    }
    match store::holder(c, &identity.signing.0)? {
        Some(h) if h != user => {
            return Err(ApiError::new(
                ErrorCode::KeyTaken,
                "this identity key belongs to another account",
            ));
        }
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::KeyReplaced,
                "a key that was replaced cannot be published again",
            ));
        }
        None => {}
    }
    let seq = latest.map(|(s, _)| s + 1).unwrap_or(1);
    store::insert(c, user, seq, &bundle, &identity.signing.0, now)?;
    if let Some(email) = store::verified_email(c, user)? {
        crate::kt::enqueue_identity(c, &email, identity, now)?;
    }
    Ok(true)
}

/// `PUT /v1/me/identity`
pub async fn publish(
    db: &Db,
    kt: &KeyDirectory,
    now: Timestamp,
    user: UserId,
    req: PublishIdentity,
) -> ApiResult<bool> {
    check_identity(&req.identity)?;
    let server = kt.keys().signing;
    let changed = db
        .run(move |c| -> ApiResult<bool> {
            let acct = users::by_id(c, &user)?.ok_or_else(ApiError::unauthenticated)?;
            check_possession(&req.identity, &req.possession, &acct.email, &server, now)?;
            let tx = c.transaction()?;
            let changed = append_identity(&tx, &user.0, &req.identity, now)?;
            tx.commit()?;
            Ok(changed)
        })
        .await?;
    if changed {
        kt.changed();
    }
    Ok(changed)
}

fn entry(c: &Connection, user: UserId, display_name: String) -> ApiResult<DirectoryEntry> {
    // Stored bundles were verified on the way in; a row that no longer parses is skipped.
    let history: Vec<KeyHistoryEntry> = store::history(c, &user.0)?
        .into_iter()
        .filter_map(|p| {
            let identity = PublicIdentity::from_bytes(&p.bundle).ok()?;
            Some(KeyHistoryEntry {
                seq: p.seq as u64,
                identity,
                published_at: p.published_at as u64,
            })
        })
        .collect();
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
pub async fn by_id(db: &Db, user: UserId) -> ApiResult<DirectoryEntry> {
    db.run(move |c| listed(c, users::by_id(c, &user)?)).await
}

/// `GET /v1/directory?email=`
pub async fn by_email(db: &Db, email: String) -> ApiResult<DirectoryEntry> {
    db.run(move |c| listed(c, users::by_email(c, &email)?))
        .await
}

/// The directory entry of an account that is listed: verified and not disabled.
fn listed(c: &Connection, account: Option<users::Account>) -> ApiResult<DirectoryEntry> {
    let a = account
        .filter(|a| a.email_verified && !a.disabled)
        .ok_or_else(ApiError::not_found)?;
    entry(c, a.id, a.display_name)
}
