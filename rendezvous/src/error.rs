//! The services' errors: what went wrong in the server's own terms, a stable [`ErrorCode`] and a
//! sentence for people. Nothing here knows HTTP: `http_error` maps each error to a response
//! (and its status) in one place, and the signaling connection to an error frame.

use assent_shared::api::ErrorCode;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is refused for a reason the caller can act on.
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    /// The request clashes with what is stored (an upload's parts that do not match), whatever
    /// its code says otherwise: ask again after looking.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error("too many attempts")]
    SlowDown { retry_after_secs: u64 },
    /// Too much password hashing waiting already: come back in a moment.
    #[error("busy")]
    Busy,
    #[error("internal error")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Refused {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn unauthenticated() -> ApiError {
        ApiError::new(ErrorCode::Unauthenticated, "sign in first")
    }
    pub fn forbidden() -> ApiError {
        ApiError::new(ErrorCode::Forbidden, "you may not do this")
    }
    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "no such resource")
    }
    pub fn invalid_code() -> ApiError {
        ApiError::new(
            ErrorCode::InvalidCode,
            "the code is wrong, expired or already used",
        )
    }
    pub fn invalid_totp() -> ApiError {
        ApiError::new(
            ErrorCode::InvalidTotp,
            "the code is wrong or was already used",
        )
    }
    pub fn invalid_credentials() -> ApiError {
        ApiError::new(ErrorCode::InvalidCredentials, "wrong email or password")
    }

    /// The stable code (for tests and logs).
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Refused { code, .. } | ApiError::Conflict { code, .. } => *code,
            ApiError::SlowDown { .. } => ErrorCode::SlowDown,
            ApiError::Busy => ErrorCode::Busy,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}
