//! API errors: a stable, documented code per failure, a human message, and an HTTP status.
//! Responses are `{"error": {"code": "...", "message": "..."}}`; internals are only logged.
//!
//! | code | status | meaning |
//! |---|---|---|
//! | `malformed_json` | 400 | the body is not JSON (or not UTF-8) |
//! | `invalid_body` | 422 | JSON of the wrong shape: missing, unknown or mistyped fields |
//! | `unsupported_media_type` | 415 | the body is not `application/json` |
//! | `payload_too_large` | 413 | the body exceeds the limit |
//! | `invalid_email`, `invalid_display_name`, `invalid_auth_secret`, `weak_kdf`, `invalid_salt`, `invalid_identity`, `invalid_key_backup`, `invalid_device` | 422 | a field's value is not acceptable |
//! | `email_taken` | 409 | an account with this email exists |
//! | `busy` | 503 | too much password hashing is queued already; `Retry-After: 1` |
//! | `invalid_code` | 400 | the email code is wrong, expired or used (after 5 tries it is void) |
//! | `invalid_credentials` | 401 | wrong email or password |
//! | `email_unverified` | 403 | sign-in before the email address was verified |
//! | `totp_required` | 401 | the account has two-factor sign-in: send `totp` |
//! | `invalid_totp` | 401 | the TOTP code is wrong or was already used |
//! | `totp_not_enabled`, `totp_already_enabled` | 409 | two-factor is not / already on |
//! | `unauthenticated` | 401 | no valid session token |
//! | `forbidden` | 403 | the session's user may not do this |
//! | `not_found` | 404 | no such resource (or not visible to you) |
//! | `slow_down` | 429 | too many attempts: retry after `retry_after` seconds |
//! | `account_disabled` | 403 | an administrator disabled the account |
//! | `internal` | 500 | a server fault (logged; nothing was changed) |
//! | `invalid_manifest` | 422 | a recording manifest that does not parse or verify, or is of another recording |
//! | `scope_local` | 409 | the participants agreed to a local recording only: no cloud copy |
//! | `recording_exists` | 409 | the recording id is registered by another recorder |
//! | `quota_exceeded` | 507 | the recorder's recordings would use more cloud storage than its quota |
//! | `recording_complete` | 409 | the cloud copy is complete: no more manifests or uploads |
//! | `manifest_rewritten` | 409 | a newer manifest must keep every segment listed before, in order |
//! | `recording_not_ended` | 409 | upload the final manifest (with its ending) before completing, or complete with `?interrupted=true` (a recorder that crashed) |
//! | `objects_missing` | 409 | segments the manifest lists are not stored (the message names them) |
//! | `invalid_object`, `invalid_tags` | 422 | an object name other than `segment-NNNNNN.age`; bad tags |
//! | `invalid_parts` | 422 / 409 | part numbers out of range or not 1..n (422); parts that do not match the stored ones (409) |
//! | `no_such_upload` | 404 | the multipart upload was completed or aborted |
//! | `invalid_signature` | 403 | a storage link that is forged, for something else, or expired |
//! | `storage_unavailable` | 502 | the object storage did not answer: retry |
//! | `bad_possession` | 403 | publishing an identity without a valid proof that the caller holds its signing key (its signature over the account's email, this server's directory key and the time) |
//! | `key_taken` | 403 | the identity key belongs to another account |
//! | `key_replaced` | 409 | a key this account replaced: it is never published again |
//! | `not_in_directory` | 404 | the key directory has no key for this email address (yet) |
//! | `no_such_epoch` | 404 | the key directory has no such epoch yet |
//! | `invalid_query` | 422 | a query string of the wrong shape (the message says which) |
//! | `invalid_title`, `invalid_kind`, `invalid_time`, `too_many_invitees` | 422 | a meeting's title, kind, start or duration, or invitee list is not acceptable |
//! | `meeting_ended` | 410 | the meeting has ended |
//! | `removed_from_meeting`, `meeting_locked` | 403 | the host removed you, or locked the meeting |
//! | `recovery_unavailable` | 409 | an account made before recovery proofs: change the password once on a device that knows it |
//! | `bad_recovery_proof` | 403 | the recovery code does not belong to this account |
//!
//! The signaling connection's error frames (`{"type": "error", "code": …, "message": …}`) carry
//! the codes above where they apply (`not_found`, `meeting_locked`, …) and these of its own:
//!
//! | code | meaning |
//! |---|---|
//! | `not_joined`, `already_joined` | a message that needs a room before joining one, or a second join |
//! | `room_full` | the meeting has as many people as a call takes |
//! | `unknown_peer` | a message to someone not in the room |
//! | `malformed_message`, `binary_not_supported` | a frame that is not a valid JSON message |
//! | `rate_limited` | too many messages: slow down |

use assent_shared::api::ErrorCode;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// The HTTP status of each code: the one place the services' errors meet HTTP.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::MalformedJson | C::InvalidCode => StatusCode::BAD_REQUEST,
        C::InvalidBody
        | C::InvalidEmail
        | C::InvalidDisplayName
        | C::InvalidAuthSecret
        | C::WeakKdf
        | C::InvalidSalt
        | C::InvalidIdentity
        | C::InvalidKeyBackup
        | C::InvalidDevice
        | C::InvalidManifest
        | C::InvalidObject
        | C::InvalidTags
        | C::InvalidParts
        | C::InvalidQuery
        | C::InvalidTitle
        | C::InvalidKind
        | C::InvalidTime
        | C::TooManyInvitees => StatusCode::UNPROCESSABLE_ENTITY,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::InvalidCredentials | C::TotpRequired | C::InvalidTotp | C::Unauthenticated => {
            StatusCode::UNAUTHORIZED
        }
        C::EmailUnverified
        | C::Forbidden
        | C::AccountDisabled
        | C::InvalidSignature
        | C::BadPossession
        | C::KeyTaken
        | C::RemovedFromMeeting
        | C::MeetingLocked
        | C::BadRecoveryProof => StatusCode::FORBIDDEN,
        C::NotFound | C::NoSuchUpload | C::NotInDirectory | C::NoSuchEpoch => StatusCode::NOT_FOUND,
        C::EmailTaken
        | C::TotpNotEnabled
        | C::TotpAlreadyEnabled
        | C::ScopeLocal
        | C::RecordingExists
        | C::RecordingComplete
        | C::ManifestRewritten
        | C::RecordingNotEnded
        | C::ObjectsMissing
        | C::KeyReplaced
        | C::RecoveryUnavailable => StatusCode::CONFLICT,
        C::MeetingEnded => StatusCode::GONE,
        C::SlowDown | C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::QuotaExceeded => StatusCode::INSUFFICIENT_STORAGE,
        C::StorageUnavailable => StatusCode::BAD_GATEWAY,
        C::Busy => StatusCode::SERVICE_UNAVAILABLE,
        C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        // Signaling's own codes travel in error frames, never as HTTP answers.
        C::NotJoined
        | C::AlreadyJoined
        | C::RoomFull
        | C::UnknownPeer
        | C::MalformedMessage
        | C::BinaryNotSupported => StatusCode::BAD_REQUEST,
        // Only a client makes this one, for a code it does not know.
        C::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let (code, message) = match &r {
            JsonRejection::JsonDataError(e) => (ErrorCode::InvalidBody, e.body_text()),
            JsonRejection::JsonSyntaxError(_) => (
                ErrorCode::MalformedJson,
                "the body is not valid JSON".to_string(),
            ),
            JsonRejection::MissingJsonContentType(_) => (
                ErrorCode::UnsupportedMediaType,
                "send Content-Type: application/json".to_string(),
            ),
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => (
                ErrorCode::PayloadTooLarge,
                "the body is too large".to_string(),
            ),
            _ => (
                ErrorCode::MalformedJson,
                "the body could not be read".to_string(),
            ),
        };
        ApiError::new(code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Refused { code, message } => (
                status(code),
                Json(json!({"error": {"code": code, "message": message}})),
            )
                .into_response(),
            ApiError::Conflict { code, message } => (
                StatusCode::CONFLICT,
                Json(json!({"error": {"code": code, "message": message}})),
            )
                .into_response(),
            ApiError::SlowDown { retry_after_secs } => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"error": {"code": "slow_down", "message": "too many attempts; try again later", "retry_after": retry_after_secs}})),
                )
                    .into_response();
                if let Ok(v) = retry_after_secs.to_string().parse() {
                    r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
                }
                r
            }
            ApiError::Busy => {
                let mut r = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": {"code": "busy", "message": "the server is busy; try again in a moment", "retry_after": 1}})),
                )
                    .into_response();
                r.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                );
                r
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(
                        json!({"error": {"code": "internal", "message": "internal server error"}}),
                    ),
                )
                    .into_response()
            }
        }
    }
}

/// A JSON body whose rejections are [`ApiError`]s.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[cfg(test)]
mod code_table {
    /// Every code the API can answer with is documented in the table above.
    #[test]
    fn every_code_is_documented() {
        let text = include_str!("http_error.rs");
        let table = &text[..text.find("use assent_shared").unwrap_or(0)];
        let missing: Vec<_> = assent_shared::api::ErrorCode::ALL
            .iter()
            .filter(|c| !table.contains(&format!("`{}`", c.as_str())))
            .collect();
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }

    /// The status the table gives each code is the status the server answers with.
    #[test]
    fn the_table_gives_each_code_its_status() {
        let text = include_str!("http_error.rs");
        let table = &text[..text.find("use assent_shared").unwrap_or(0)];
        let mut checked = 0;
        for row in table.lines().filter_map(|l| l.strip_prefix("//! | ")) {
            let cols: Vec<&str> = row.split(" | ").collect();
            let Some(Ok(documented)) = cols.get(1).map(|s| s[..3.min(s.len())].parse::<u16>())
            else {
                continue;
            };
            for name in cols[0].split('`').skip(1).step_by(2) {
                let code = assent_shared::api::ErrorCode::parse(name);
                assert_eq!(
                    super::status(code).as_u16(),
                    documented,
                    "`{name}` is documented as {documented}"
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} codes in the table");
    }
}
