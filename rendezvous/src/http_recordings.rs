//! The HTTP edge of the recordings registry and of the embedded object storage.

use assent_shared::api::ErrorCode;
use assent_shared::api::{
    CompleteUpload, Download, PartRequest, PartUrl, PartUrls, RecordingInfo, RecordingList,
    RecordingObject, SetTags, StoredParts, UploadStarted,
};
use assent_shared::ids::RecordingId;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::http_error::ApiJson;
use crate::recordings::{self, MAX_MANIFEST};
use crate::sessions::AuthUser;
use crate::state::AppState;
use crate::storage::MAX_PART_BYTES;

/// The recordings routes (merged into the API router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/recordings",
            post(register)
                .get(list)
                .layer(DefaultBodyLimit::max(MAX_MANIFEST)),
        )
        .route("/v1/recordings/{id}", get(one).delete(remove))
        .route(
            "/v1/recordings/{id}/manifest",
            put(update_manifest).layer(DefaultBodyLimit::max(MAX_MANIFEST)),
        )
        .route("/v1/recordings/{id}/complete", post(complete))
        .route("/v1/recordings/{id}/tags", put(set_tags))
        .route("/v1/recordings/{id}/objects/{name}", get(download))
        .route(
            "/v1/recordings/{id}/objects/{name}/uploads",
            post(start_upload),
        )
        .route(
            "/v1/recordings/{id}/objects/{name}/uploads/{upload}",
            axum::routing::delete(abort_upload),
        )
        .route(
            "/v1/recordings/{id}/objects/{name}/uploads/{upload}/parts",
            post(part_urls).get(stored_parts),
        )
        .route(
            "/v1/recordings/{id}/objects/{name}/uploads/{upload}/complete",
            post(complete_upload),
        )
        .route(
            "/v1/storage/{*key}",
            put(storage_put)
                .get(storage_get)
                .layer(DefaultBodyLimit::max(MAX_PART_BYTES)),
        )
}

fn rid(s: &str) -> ApiResult<RecordingId> {
    s.parse().map_err(|_| ApiError::not_found())
}

fn manifest_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<Vec<u8>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != "application/octet-stream" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the signed manifest as application/octet-stream",
        ));
    }
    Ok(body.to_vec())
}

async fn register(
    State(s): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<RecordingInfo>)> {
    let body = manifest_body(&headers, &body)?;
    Ok((
        StatusCode::CREATED,
        Json(recordings::register(&s.registry(), s.now(), user.caller(), body).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    all: bool,
}

async fn list(
    State(s): State<AppState>,
    user: AuthUser,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<RecordingList>> {
    let Query(q) = q.map_err(|_| ApiError::new(ErrorCode::InvalidQuery, "only ?all=true|false"))?;
    Ok(Json(RecordingList {
        recordings: recordings::list(&s.db, user.caller(), q.all).await?,
    }))
}

/// The manifest rides along base64 in the JSON (participants only).
#[derive(serde::Serialize)]
struct OneRecording {
    #[serde(flatten)]
    info: RecordingInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<String>,
}

async fn one(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (info, manifest) = recordings::get(&s.db, user.caller(), rid(&id)?).await?;
    Ok(Json(OneRecording {
        info,
        manifest: manifest.map(|m| data_encoding::BASE64.encode(&m)),
    })
    .into_response())
}

async fn remove(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    recordings::delete(&s.registry(), user.caller(), rid(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_manifest(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let id = rid(&id)?;
    let body = manifest_body(&headers, &body)?;
    recordings::update_manifest(&s.registry(), user.caller(), id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteQuery {
    #[serde(default)]
    interrupted: bool,
}

async fn complete(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    q: Result<Query<CompleteQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<RecordingInfo>> {
    let Query(q) =
        q.map_err(|_| ApiError::new(ErrorCode::InvalidQuery, "only ?interrupted=true|false"))?;
    Ok(Json(
        recordings::complete(
            &s.registry(),
            s.now(),
            user.caller(),
            rid(&id)?,
            q.interrupted,
        )
        .await?,
    ))
}

async fn set_tags(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetTags>,
) -> ApiResult<StatusCode> {
    recordings::set_tags(&s.db, user.caller(), rid(&id)?, req.tags).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn download(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Download>> {
    let (url, size) = recordings::download(&s.registry(), user.caller(), rid(&id)?, name).await?;
    Ok(Json(Download { url, size }))
}

async fn start_upload(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<UploadStarted>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            recordings::start_upload(&s.registry(), s.now(), user.caller(), rid(&id)?, name)
                .await?,
        ),
    ))
}

async fn abort_upload(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, name, upload)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    recordings::abort_upload(&s.registry(), user.caller(), rid(&id)?, name, upload).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn part_urls(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, name, upload)): Path<(String, String, String)>,
    ApiJson(req): ApiJson<PartRequest>,
) -> ApiResult<Json<PartUrls>> {
    let urls = recordings::part_urls(
        &s.registry(),
        user.caller(),
        rid(&id)?,
        name,
        upload,
        req.parts,
    )
    .await?;
    Ok(Json(PartUrls {
        urls: urls
            .into_iter()
            .map(|(part, url)| PartUrl { part, url })
            .collect(),
    }))
}

async fn stored_parts(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, name, upload)): Path<(String, String, String)>,
) -> ApiResult<Json<StoredParts>> {
    Ok(Json(StoredParts {
        parts: recordings::stored_parts(&s.registry(), user.caller(), rid(&id)?, name, upload)
            .await?,
    }))
}

async fn complete_upload(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, name, upload)): Path<(String, String, String)>,
    ApiJson(req): ApiJson<CompleteUpload>,
) -> ApiResult<Json<RecordingObject>> {
    let parts = req.parts.into_iter().map(|p| (p.part, p.etag)).collect();
    Ok(Json(
        recordings::complete_upload(&s.registry(), user.caller(), rid(&id)?, name, upload, parts)
            .await?,
    ))
}

// ---- The embedded storage (only with the local backend) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Presigned {
    upload: Option<String>,
    part: Option<u16>,
    expires: u64,
    sig: String,
}

fn denied() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidSignature,
        "the link is invalid or expired",
    )
}

fn grant(
    s: &AppState,
    method: &str,
    key: &str,
    q: Result<Query<Presigned>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Option<(String, u16)>> {
    let local = s.storage.local().ok_or_else(ApiError::not_found)?;
    let Query(q) = q.map_err(|_| denied())?;
    let upload = match (q.upload, q.part) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => return Err(denied()),
    };
    let now = s.now().0 / 1000;
    let ok = local.check(
        method,
        key,
        upload.as_ref().map(|(u, p)| (u.as_str(), *p)),
        q.expires,
        &q.sig,
        now,
    );
    if ok { Ok(upload) } else { Err(denied()) }
}

/// A presigned PUT of one part: the signature is checked before a byte of the body is read;
/// the body then streams to disk, at most [`MAX_PART_BYTES`].
async fn storage_put(
    State(s): State<AppState>,
    Path(key): Path<String>,
    q: Result<Query<Presigned>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let (upload, part) = grant(&s, "PUT", &key, q)?.ok_or_else(denied)?;
    let local = s.storage.local().ok_or_else(ApiError::not_found)?;
    let etag = local
        .put_part_stream(&upload, part, body.into_data_stream(), MAX_PART_BYTES)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::TooLarge => {
                ApiError::new(ErrorCode::PayloadTooLarge, "a part is at most 64 MiB")
            }
            crate::storage::StorageError::NoUpload => ApiError::new(
                ErrorCode::NoSuchUpload,
                "the upload does not exist (completed or aborted)",
            ),
            other => ApiError::Internal(other.to_string()),
        })?;
    let mut r = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

async fn storage_get(
    State(s): State<AppState>,
    Path(key): Path<String>,
    q: Result<Query<Presigned>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    if grant(&s, "GET", &key, q)?.is_some() {
        return Err(denied());
    }
    let local = s.storage.local().ok_or_else(ApiError::not_found)?;
    let (len, stream) = local
        .open_read(&key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(ApiError::not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
