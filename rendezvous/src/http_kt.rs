//! The HTTP edge of the key directory.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /v1/kt/keys` | anyone | the directory's root-signing key and VRF key (clients pin them) |
//! | `GET /v1/kt/head` | anyone | the newest epoch's root, freshly signed |
//! | `GET /v1/kt/roots?from=N&limit=M` | anyone | each epoch's signed root as first published |
//! | `GET /v1/kt/audit?start=N` | anyone | the append-only proof from epoch N to N+1 |
//! | `GET /v1/kt/lookup?email=` | signed in | an account's current key with its lookup proof |
//! | `GET /v1/kt/history` | signed in | the caller's own key history with its proof |

use assent_shared::PublicIdentity;
use assent_shared::api::ErrorCode;
use assent_shared::api::{B64, KtAudit, KtHistory, KtLookup, KtRoots};
use assent_shared::transparency::{self as kt, DirectoryKeys, SignedRoot};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::Connection;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::sessions::AuthUser;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/kt/keys", get(keys))
        .route("/v1/kt/head", get(head))
        .route("/v1/kt/roots", get(roots))
        .route("/v1/kt/audit", get(audit))
        .route("/v1/kt/lookup", get(lookup))
        .route("/v1/kt/history", get(history))
}

async fn keys(State(s): State<AppState>) -> Json<DirectoryKeys> {
    Json(s.kt.keys())
}

async fn head(State(s): State<AppState>) -> ApiResult<Json<SignedRoot>> {
    Ok(Json(s.kt.head().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RootsQuery {
    #[serde(default)]
    from: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn roots(
    State(s): State<AppState>,
    q: Result<Query<RootsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<KtRoots>> {
    let Query(q) = q.map_err(|_| ApiError::new(ErrorCode::InvalidQuery, "pass ?from=N&limit=M"))?;
    Ok(Json(KtRoots {
        roots: s.kt.roots(q.from, q.limit).await?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    start: u64,
}

async fn audit(
    State(s): State<AppState>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<KtAudit>> {
    let Query(q) = q.map_err(|_| ApiError::new(ErrorCode::InvalidQuery, "pass ?start=N"))?;
    let (start, end, proof) = s.kt.audit(q.start).await?;
    Ok(Json(KtAudit {
        start,
        end,
        proof: B64(proof),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailQuery {
    email: String,
}

/// Every bundle an account with `email` ever published.
fn bundles_of(c: &Connection, email: &str) -> rusqlite::Result<Vec<PublicIdentity>> {
    Ok(crate::directory::store::bundles_by_email(c, email)?
        .iter()
        .filter_map(|b| PublicIdentity::from_bytes(b).ok())
        .collect())
}

async fn lookup(
    State(s): State<AppState>,
    _user: AuthUser,
    q: Result<Query<EmailQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<KtLookup>> {
    let Query(q) = q.map_err(|_| ApiError::new(ErrorCode::InvalidEmail, "pass ?email="))?;
    let email = kt::normalize_email(&q.email);
    let (root, proof, value) = s.kt.lookup(&email).await?;
    let bundles =
        s.db.run(move |c| -> ApiResult<Vec<PublicIdentity>> { Ok(bundles_of(c, &email)?) })
            .await?;
    let identity = bundles.into_iter().find(|b| kt::value(b) == value);
    Ok(Json(KtLookup {
        root,
        proof: B64(proof),
        identity,
    }))
}

async fn history(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<KtHistory>> {
    let id = user.id;
    let email =
        s.db.run(move |c| -> ApiResult<String> {
            crate::users::by_id(c, &id)?
                .map(|a| kt::normalize_email(&a.email))
                .ok_or_else(ApiError::unauthenticated)
        })
        .await?;
    let (root, proof, values) = s.kt.history(&email).await?;
    let bundles =
        s.db.run(move |c| -> ApiResult<Vec<PublicIdentity>> { Ok(bundles_of(c, &email)?) })
            .await?;
    let identities = values
        .iter()
        .filter_map(|v| bundles.iter().find(|b| kt::value(b) == *v).cloned())
        .collect();
    Ok(Json(KtHistory {
        root,
        proof: B64(proof),
        identities,
    }))
}
