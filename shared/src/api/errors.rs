//! Errors: the body every refusal has, and the stable codes server and client share.

use serde::{Deserialize, Serialize};

/// Every error body: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// Every error code the server's API answers with (`{"error": {"code": …, "message": …}}`), and
/// its signaling connection's error frames:
/// one type for the server that sends them and the client that acts on them, so neither
/// matches on text. `rendezvous/src/error.rs` documents each with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    AccountDisabled,
    BadPossession,
    BadRecoveryProof,
    Busy,
    EmailTaken,
    EmailUnverified,
    Forbidden,
    Internal,
    InvalidAuthSecret,
    InvalidBody,
    InvalidCode,
    InvalidCredentials,
    InvalidDevice,
    InvalidDisplayName,
    InvalidEmail,
    InvalidIdentity,
    InvalidKeyBackup,
    InvalidManifest,
    InvalidObject,
    InvalidParts,
    InvalidQuery,
    InvalidSalt,
    InvalidSignature,
    InvalidTags,
    InvalidTotp,
    KeyReplaced,
    KeyTaken,
    MalformedJson,
    ManifestRewritten,
    MeetingEnded,
    MeetingLocked,
    NoSuchEpoch,
    NoSuchUpload,
    NotFound,
    NotInDirectory,
    ObjectsMissing,
    PayloadTooLarge,
    QuotaExceeded,
    RecordingComplete,
    RecordingExists,
    RecordingNotEnded,
    RecoveryUnavailable,
    RemovedFromMeeting,
    ScopeLocal,
    SlowDown,
    StorageUnavailable,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpRequired,
    Unauthenticated,
    UnsupportedMediaType,
    WeakKdf,
    InvalidKind,
    InvalidTime,
    TooManyInvitees,
    InvalidTitle,
    // Signaling frames only (`signal::ServerMsg::Error`).
    AlreadyJoined,
    BinaryNotSupported,
    MalformedMessage,
    NotJoined,
    RateLimited,
    RoomFull,
    UnknownPeer,
    /// A code this version does not know (a newer server).
    Unknown,
}

impl ErrorCode {
    /// Every known code.
    pub const ALL: [ErrorCode; 63] = [
        ErrorCode::AccountDisabled,
        ErrorCode::BadPossession,
        ErrorCode::BadRecoveryProof,
        ErrorCode::Busy,
        ErrorCode::EmailTaken,
        ErrorCode::EmailUnverified,
        ErrorCode::Forbidden,
        ErrorCode::Internal,
        ErrorCode::InvalidAuthSecret,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidCode,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidDevice,
        ErrorCode::InvalidDisplayName,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidIdentity,
        ErrorCode::InvalidKeyBackup,
        ErrorCode::InvalidManifest,
        ErrorCode::InvalidObject,
        ErrorCode::InvalidParts,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidSalt,
        ErrorCode::InvalidSignature,
        ErrorCode::InvalidTags,
        ErrorCode::InvalidTotp,
        ErrorCode::KeyReplaced,
        ErrorCode::KeyTaken,
        ErrorCode::MalformedJson,
        ErrorCode::ManifestRewritten,
        ErrorCode::MeetingEnded,
        ErrorCode::MeetingLocked,
        ErrorCode::NoSuchEpoch,
        ErrorCode::NoSuchUpload,
        ErrorCode::NotFound,
        ErrorCode::NotInDirectory,
        ErrorCode::ObjectsMissing,
        ErrorCode::PayloadTooLarge,
        ErrorCode::QuotaExceeded,
        ErrorCode::RecordingComplete,
        ErrorCode::RecordingExists,
        ErrorCode::RecordingNotEnded,
        ErrorCode::RecoveryUnavailable,
        ErrorCode::RemovedFromMeeting,
        ErrorCode::ScopeLocal,
        ErrorCode::SlowDown,
        ErrorCode::StorageUnavailable,
        ErrorCode::TotpAlreadyEnabled,
        ErrorCode::TotpNotEnabled,
        ErrorCode::TotpRequired,
        ErrorCode::Unauthenticated,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::WeakKdf,
        ErrorCode::InvalidKind,
        ErrorCode::InvalidTime,
        ErrorCode::TooManyInvitees,
        ErrorCode::InvalidTitle,
        ErrorCode::AlreadyJoined,
        ErrorCode::BinaryNotSupported,
        ErrorCode::MalformedMessage,
        ErrorCode::NotJoined,
        ErrorCode::RateLimited,
        ErrorCode::RoomFull,
        ErrorCode::UnknownPeer,
    ];

    /// The code as it travels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::BadPossession => "bad_possession",
            ErrorCode::BadRecoveryProof => "bad_recovery_proof",
            ErrorCode::Busy => "busy",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::EmailUnverified => "email_unverified",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidAuthSecret => "invalid_auth_secret",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidDevice => "invalid_device",
            ErrorCode::InvalidDisplayName => "invalid_display_name",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidIdentity => "invalid_identity",
            ErrorCode::InvalidKeyBackup => "invalid_key_backup",
            ErrorCode::InvalidManifest => "invalid_manifest",
            ErrorCode::InvalidObject => "invalid_object",
            ErrorCode::InvalidParts => "invalid_parts",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidSalt => "invalid_salt",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::InvalidTags => "invalid_tags",
            ErrorCode::InvalidTotp => "invalid_totp",
            ErrorCode::KeyReplaced => "key_replaced",
            ErrorCode::KeyTaken => "key_taken",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::ManifestRewritten => "manifest_rewritten",
            ErrorCode::MeetingEnded => "meeting_ended",
            ErrorCode::MeetingLocked => "meeting_locked",
            ErrorCode::NoSuchEpoch => "no_such_epoch",
            ErrorCode::NoSuchUpload => "no_such_upload",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotInDirectory => "not_in_directory",
            ErrorCode::ObjectsMissing => "objects_missing",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RecordingComplete => "recording_complete",
            ErrorCode::RecordingExists => "recording_exists",
            ErrorCode::RecordingNotEnded => "recording_not_ended",
            ErrorCode::RecoveryUnavailable => "recovery_unavailable",
            ErrorCode::RemovedFromMeeting => "removed_from_meeting",
            ErrorCode::ScopeLocal => "scope_local",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::TotpAlreadyEnabled => "totp_already_enabled",
            ErrorCode::TotpNotEnabled => "totp_not_enabled",
            ErrorCode::TotpRequired => "totp_required",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::WeakKdf => "weak_kdf",
            ErrorCode::InvalidKind => "invalid_kind",
            ErrorCode::InvalidTime => "invalid_time",
            ErrorCode::TooManyInvitees => "too_many_invitees",
            ErrorCode::InvalidTitle => "invalid_title",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::BinaryNotSupported => "binary_not_supported",
            ErrorCode::MalformedMessage => "malformed_message",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The code in an error body (`Unknown` for one this version does not know).
    pub fn parse(s: &str) -> ErrorCode {
        match s {
            "account_disabled" => ErrorCode::AccountDisabled,
            "bad_possession" => ErrorCode::BadPossession,
            "bad_recovery_proof" => ErrorCode::BadRecoveryProof,
            "busy" => ErrorCode::Busy,
            "email_taken" => ErrorCode::EmailTaken,
            "email_unverified" => ErrorCode::EmailUnverified,
            "forbidden" => ErrorCode::Forbidden,
            "internal" => ErrorCode::Internal,
            "invalid_auth_secret" => ErrorCode::InvalidAuthSecret,
            "invalid_body" => ErrorCode::InvalidBody,
            "invalid_code" => ErrorCode::InvalidCode,
            "invalid_credentials" => ErrorCode::InvalidCredentials,
            "invalid_device" => ErrorCode::InvalidDevice,
            "invalid_display_name" => ErrorCode::InvalidDisplayName,
            "invalid_email" => ErrorCode::InvalidEmail,
            "invalid_identity" => ErrorCode::InvalidIdentity,
            "invalid_key_backup" => ErrorCode::InvalidKeyBackup,
            "invalid_manifest" => ErrorCode::InvalidManifest,
            "invalid_object" => ErrorCode::InvalidObject,
            "invalid_parts" => ErrorCode::InvalidParts,
            "invalid_query" => ErrorCode::InvalidQuery,
            "invalid_salt" => ErrorCode::InvalidSalt,
            "invalid_signature" => ErrorCode::InvalidSignature,
            "invalid_tags" => ErrorCode::InvalidTags,
            "invalid_totp" => ErrorCode::InvalidTotp,
            "key_replaced" => ErrorCode::KeyReplaced,
            "key_taken" => ErrorCode::KeyTaken,
            "malformed_json" => ErrorCode::MalformedJson,
            "manifest_rewritten" => ErrorCode::ManifestRewritten,
            "meeting_ended" => ErrorCode::MeetingEnded,
            "meeting_locked" => ErrorCode::MeetingLocked,
            "no_such_epoch" => ErrorCode::NoSuchEpoch,
            "no_such_upload" => ErrorCode::NoSuchUpload,
            "not_found" => ErrorCode::NotFound,
            "not_in_directory" => ErrorCode::NotInDirectory,
            "objects_missing" => ErrorCode::ObjectsMissing,
            "payload_too_large" => ErrorCode::PayloadTooLarge,
            "quota_exceeded" => ErrorCode::QuotaExceeded,
            "recording_complete" => ErrorCode::RecordingComplete,
            "recording_exists" => ErrorCode::RecordingExists,
            "recording_not_ended" => ErrorCode::RecordingNotEnded,
            "recovery_unavailable" => ErrorCode::RecoveryUnavailable,
            "removed_from_meeting" => ErrorCode::RemovedFromMeeting,
            "scope_local" => ErrorCode::ScopeLocal,
            "slow_down" => ErrorCode::SlowDown,
            "storage_unavailable" => ErrorCode::StorageUnavailable,
            "totp_already_enabled" => ErrorCode::TotpAlreadyEnabled,
            "totp_not_enabled" => ErrorCode::TotpNotEnabled,
            "totp_required" => ErrorCode::TotpRequired,
            "unauthenticated" => ErrorCode::Unauthenticated,
            "unsupported_media_type" => ErrorCode::UnsupportedMediaType,
            "weak_kdf" => ErrorCode::WeakKdf,
            "invalid_kind" => ErrorCode::InvalidKind,
            "invalid_time" => ErrorCode::InvalidTime,
            "too_many_invitees" => ErrorCode::TooManyInvitees,
            "invalid_title" => ErrorCode::InvalidTitle,
            "already_joined" => ErrorCode::AlreadyJoined,
            "binary_not_supported" => ErrorCode::BinaryNotSupported,
            "malformed_message" => ErrorCode::MalformedMessage,
            "not_joined" => ErrorCode::NotJoined,
            "rate_limited" => ErrorCode::RateLimited,
            "room_full" => ErrorCode::RoomFull,
            "unknown_peer" => ErrorCode::UnknownPeer,
            _ => ErrorCode::Unknown,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), c);
            assert!(seen.insert(c.as_str()), "{c} twice");
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
        }
        assert_eq!(ErrorCode::parse("from_a_newer_server"), ErrorCode::Unknown);
    }
}
