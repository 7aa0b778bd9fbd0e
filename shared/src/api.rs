//! The rendezvous server's HTTP API: request and response bodies (JSON), shared by the server
//! and the client. Unknown fields are refused. Byte strings are unpadded base64url.

use serde::{Deserialize, Serialize};

use crate::backup::{KdfParams, Salt};
use crate::identity::PublicIdentity;
use crate::ids::UserId;
use crate::password::Rule;
use crate::transparency::{KeyPossession, SignedRoot};

/// A variable-length byte string, base64url in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct B64(pub Vec<u8>);

impl std::fmt::Debug for B64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "B64({} bytes)", self.0.len())
    }
}

impl Serialize for B64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::BASE64URL_NOPAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        data_encoding::BASE64URL_NOPAD
            .decode(s.as_bytes())
            .map(B64)
            .map_err(|_| serde::de::Error::custom("expected unpadded base64url"))
    }
}

/// 32 secret bytes (the client-derived authentication secret), base64url in JSON.
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct AuthSecret(pub [u8; 32]);
crate::bytes::serde_fixed!(AuthSecret, 32);

impl std::fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthSecret(..)")
    }
}

crate::bytes::serde_fixed!(Salt, 16);

/// `POST /v1/accounts`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub display_name: String,
    pub auth_secret: AuthSecret,
    pub salt: Salt,
    pub kdf: KdfParams,
    /// The sealed [`crate::backup::KeyBackup`] bytes.
    pub key_backup: B64,
    pub identity: PublicIdentity,
    /// The new key's proof that its holder publishes it (for this email, on this server).
    pub possession: KeyPossession,
    /// The recovery proof ([`crate::backup::KeyBackup::recovery_proof`]): the server keeps
    /// only its hash, and a recovery must present it before it may set a new password.
    pub recovery_proof: AuthSecret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupResponse {
    pub user_id: UserId,
}

/// `POST /v1/accounts/verify`, `POST /v1/recovery/verify`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailCode {
    pub email: String,
    pub code: String,
}

/// `POST /v1/accounts/verify/resend`, `POST /v1/recovery`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailOnly {
    pub email: String,
}

/// `GET /v1/prelogin?email=…`: what the client needs to derive its keys. An unknown address
/// gets a stable made-up salt, so this does not reveal which accounts exist.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prelogin {
    pub salt: Salt,
    pub kdf: KdfParams,
}

/// `POST /v1/sessions`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    pub email: String,
    pub auth_secret: AuthSecret,
    #[serde(default)]
    pub totp: Option<String>,
    /// A name for this device, shown in the session list.
    pub device: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninResponse {
    pub token: String,
    pub session_id: String,
    pub user_id: UserId,
    pub expires_at: u64,
}

impl std::fmt::Debug for SigninResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigninResponse({}, token: ..)", self.user_id)
    }
}

/// One entry of `GET /v1/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionInfo {
    pub id: String,
    pub device: String,
    pub created_at: u64,
    pub last_used_at: u64,
    pub expires_at: u64,
    pub current: bool,
}

/// `GET /v1/me`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub totp_enabled: bool,
    pub created_at: u64,
}

/// `DELETE /v1/me`: deleting an account needs the current authentication secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    pub auth_secret: AuthSecret,
}

/// `PUT /v1/me/password`: the client re-sealed its key backup under the new password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub auth_secret: AuthSecret,
    pub new_auth_secret: AuthSecret,
    pub new_salt: Salt,
    pub new_kdf: KdfParams,
    pub new_key_backup: B64,
    /// The recovery proof (unchanged by a password change; accounts made before recovery
    /// proofs get theirs here).
    pub recovery_proof: AuthSecret,
}

/// `GET /v1/me/key-backup`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBackupBody {
    pub key_backup: Option<B64>,
}

/// `POST /v1/me/totp`: a new, not yet enabled, TOTP secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://totp/…` for a QR code.
    pub uri: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(..)")
    }
}

/// `POST /v1/me/totp/confirm`, `DELETE /v1/me/totp`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

/// `POST /v1/recovery/verify`: the mailed code, and the authenticator's code when two-factor
/// sign-in is on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryVerify {
    pub email: String,
    pub code: String,
    #[serde(default)]
    pub totp: Option<String>,
}

/// `POST /v1/recovery/verify` response: a short-lived ticket and the backup's recovery half
/// ([`crate::backup::RecoveryHalf`]), which only the recovery code (never sent) opens. The
/// password-wrapped part never leaves the server in a recovery.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryTicket {
    pub ticket: String,
    pub recovery_half: B64,
}

impl std::fmt::Debug for RecoveryTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryTicket(..)")
    }
}

/// `POST /v1/recovery/complete`: the recovery proof (made with the recovery code) and the new
/// password's secret, salt, parameters and backup, which must hold the same keys. The answer is
/// a [`SigninResponse`]: every other session is gone, this device is signed in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryComplete {
    pub ticket: String,
    /// The name of the device the recovery signs in (the answer is a new session).
    pub device: String,
    pub recovery_proof: AuthSecret,
    pub new_auth_secret: AuthSecret,
    pub new_salt: Salt,
    pub new_kdf: KdfParams,
    pub new_key_backup: B64,
}

/// `PUT /v1/me/identity`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishIdentity {
    pub identity: PublicIdentity,
    /// A signature by the new key over the account, the server's directory key and the time.
    pub possession: KeyPossession,
}

/// `GET /v1/kt/lookup?email=`: the account's current key in the key directory, with the
/// proof and the fresh signed root it verifies against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KtLookup {
    pub root: SignedRoot,
    /// The `akd` lookup proof (protobuf).
    pub proof: B64,
    /// The bundle whose digest the directory holds (absent for a deleted account).
    pub identity: Option<PublicIdentity>,
}

/// `GET /v1/kt/history`: every version of one's own key the directory ever held.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KtHistory {
    pub root: SignedRoot,
    /// The `akd` key history proof (protobuf).
    pub proof: B64,
    /// The bundles the server knows for the proven values, newest first (a value the server
    /// cannot name a bundle for is left out: the proof still lists it).
    pub identities: Vec<PublicIdentity>,
}

/// `GET /v1/kt/audit?start=N`: the append-only proof from epoch N to N+1.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KtAudit {
    pub start: SignedRoot,
    pub end: SignedRoot,
    /// The `akd` append-only proof (protobuf).
    pub proof: B64,
}

/// `GET /v1/kt/roots?from=N&limit=M`: each epoch's signed root, as first published.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KtRoots {
    pub roots: Vec<SignedRoot>,
}

/// One published key of a user, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyHistoryEntry {
    pub seq: u64,
    pub identity: PublicIdentity,
    pub published_at: u64,
}

/// `GET /v1/directory/{user_id}`, `GET /v1/directory?email=…`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryEntry {
    pub user_id: UserId,
    pub display_name: String,
    pub identity: PublicIdentity,
    /// Every key this user ever published (append-only), so clients can warn on changes.
    pub history: Vec<KeyHistoryEntry>,
}

/// `GET /v1/password-policy`: the rules clients enforce (the server never sees passwords).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
    pub rules: Vec<Rule>,
}

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

/// What kind of meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingKind {
    /// Starts now.
    Instant,
    /// Has a start time, a duration and invitees (who get an email with a calendar file).
    Scheduled,
    /// The host's permanent room with a fixed code.
    Personal,
}

/// A role in a meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingRole {
    Participant,
    Cohost,
    Host,
}

/// `POST /v1/meetings`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMeeting {
    pub kind: MeetingKind,
    pub title: String,
    /// Scheduled meetings: start (Unix ms) and duration in minutes.
    #[serde(default)]
    pub starts_at: Option<u64>,
    #[serde(default)]
    pub duration_min: Option<u32>,
    /// Scheduled meetings: email addresses to invite.
    #[serde(default)]
    pub invitees: Vec<String>,
}

/// A meeting as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meeting {
    pub id: crate::ids::MeetingId,
    /// The join code, e.g. `abc-defg-hij`; also in `assent://join/<code>` links.
    pub code: String,
    pub kind: MeetingKind,
    pub title: String,
    pub host: UserId,
    pub host_name: String,
    pub starts_at: Option<u64>,
    pub duration_min: Option<u32>,
    pub locked: bool,
    pub ended: bool,
    /// The caller's role, if they are a member.
    pub role: Option<MeetingRole>,
}

/// `POST /v1/meetings/{code}/lock`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockMeeting {
    pub locked: bool,
}

/// `POST /v1/meetings/{code}/remove`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    pub user_id: UserId,
}

/// `POST /v1/meetings/{code}/role`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    pub user_id: UserId,
    pub role: MeetingRole,
}

/// One participant of a past call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParticipant {
    pub user_id: UserId,
    pub display_name: String,
    pub joined_at: u64,
    pub left_at: Option<u64>,
}

/// One entry of `GET /v1/history`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallHistory {
    pub call_id: String,
    pub meeting_code: String,
    pub title: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub duration_ms: Option<u64>,
    pub participants: Vec<HistoryParticipant>,
}

/// One entry of `GET /v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUser {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: u64,
}

/// `POST /v1/admin/users/{id}/disabled`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDisabled {
    pub disabled: bool,
}

/// One entry of `GET /v1/ice-servers`, in the WebRTC `RTCIceServer` shape.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IceServer({:?})", self.urls)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working (Unix ms).
    pub expires_at: u64,
}

/// Someone a recording belongs to (in its consent set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingPerson {
    pub user_id: UserId,
    pub display_name: String,
}

/// A stored object of a recording (ciphertext).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingObject {
    pub name: String,
    pub size: u64,
}

/// A recording in the registry (`GET /v1/recordings`, `/v1/recordings/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingInfo {
    pub id: crate::ids::RecordingId,
    pub call_id: crate::ids::CallId,
    pub title: String,
    pub recorder: UserId,
    /// `uploading` until the recorder completes the cloud copy, then `complete`.
    pub status: String,
    pub retention_days: u16,
    /// When the cloud copy will be deleted (Unix ms; set at completion).
    pub retention_until: Option<u64>,
    /// Ciphertext bytes the manifest lists.
    pub size: u64,
    pub created_at: u64,
    pub completed_at: Option<u64>,
    pub participants: Vec<RecordingPerson>,
    pub tags: Vec<String>,
    /// Objects already stored.
    pub objects: Vec<RecordingObject>,
    /// Whether the caller may delete it (the recorder, or an organisation admin).
    pub can_delete: bool,
}

/// `GET /v1/recordings`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingList {
    pub recordings: Vec<RecordingInfo>,
}

/// `POST /v1/recordings/{id}/objects/{name}/uploads`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadStarted {
    pub upload_id: String,
}

/// `POST …/uploads/{upload}/parts`: which parts to presign.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartRequest {
    pub parts: Vec<u16>,
}

/// A presigned URL: absolute, or relative to the server (the embedded storage).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUrl {
    pub part: u16,
    pub url: String,
}

impl std::fmt::Debug for PartUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartUrl({}, ..)", self.part)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUrls {
    pub urls: Vec<PartUrl>,
}

/// A part already stored (to resume an upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPart {
    pub part: u16,
    pub etag: String,
    pub size: u64,
}

/// `GET …/uploads/{upload}/parts`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredParts {
    pub parts: Vec<StoredPart>,
}

/// `POST …/uploads/{upload}/complete`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    pub parts: Vec<PartTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartTag {
    pub part: u16,
    pub etag: String,
}

/// `GET /v1/recordings/{id}/objects/{name}`: where to download it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub url: String,
    pub size: u64,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Download({} bytes, ..)", self.size)
    }
}

/// `PUT /v1/recordings/{id}/tags`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTags {
    pub tags: Vec<String>,
}

/// How many tags a recording may have.
pub const MAX_TAGS: usize = 20;
/// How long a tag may be, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// Tags as a person writes them on one line: separated by commas (`team meeting, q3`), or as
/// hashtags (`#design #q3`). Not normalised yet: see [`normalize_tags`].
pub fn split_tags(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in line.split(',') {
        let words: Vec<&str> = piece.split_whitespace().collect();
        if words.len() > 1 && words.iter().all(|w| w.starts_with('#')) {
            out.extend(words.into_iter().map(str::to_string));
        } else {
            out.push(piece.to_string());
        }
    }
    out
}

/// Tags as shown to people: `#board #q3`.
pub fn hashtags<S: AsRef<str>>(tags: &[S]) -> String {
    tags.iter()
        .map(|t| format!("#{}", t.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A recording's tags as kept: each trimmed and without a leading `#`, empty ones dropped,
/// each once (the first spelling kept, compared without regard to case), in the order given.
/// At most [`MAX_TAGS`] of at most [`MAX_TAG_CHARS`] characters, without control characters
/// or commas (which separate tags where they are written in one line).
pub fn normalize_tags<S: AsRef<str>>(tags: &[S]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.as_ref().trim().trim_start_matches('#').trim();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(format!("a tag is at most {MAX_TAG_CHARS} characters"));
        }
        if t.chars().any(char::is_control) {
            return Err("a tag cannot hold control characters".into());
        }
        if t.contains(',') {
            return Err("a tag cannot hold a comma (commas separate tags)".into());
        }
        if !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    Ok(out)
}

/// Every error code the server's API answers with (`{"error": {"code": …, "message": …}}`):
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
    /// A code this version does not know (a newer server).
    Unknown,
}

impl ErrorCode {
    /// Every known code.
    pub const ALL: [ErrorCode; 56] = [
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
mod tag_tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            normalize_tags(&[" board ", "#Q3", "", "q3", "# hiring", "Board"]).unwrap(),
            ["board", "Q3", "hiring"]
        );
        assert!(normalize_tags::<&str>(&[]).unwrap().is_empty());
        let ok: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&ok).unwrap().len(), MAX_TAGS);
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        // Duplicates do not count against the limit.
        let mut dup = ok.clone();
        dup.push("T0".into());
        assert!(normalize_tags(&dup).is_ok());
        assert!(normalize_tags(&["é".repeat(MAX_TAG_CHARS)]).is_ok());
        assert!(normalize_tags(&["é".repeat(MAX_TAG_CHARS + 1)]).is_err());
        assert!(normalize_tags(&["a\nb"]).is_err());
        assert!(normalize_tags(&["a,b"]).is_err());
        assert_eq!(hashtags(&["board", "Q3"]), "#board #Q3");
        assert_eq!(hashtags::<&str>(&[]), "");
        assert_eq!(
            split_tags("team meeting, q3,#a #b, #c"),
            ["team meeting", " q3", "#a", "#b", " #c"]
        );
        assert_eq!(
            normalize_tags(&split_tags("team meeting, q3,#a #b, #c")).unwrap(),
            ["team meeting", "q3", "a", "b", "c"]
        );
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
