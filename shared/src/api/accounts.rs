//! Accounts, sessions, two-factor sign-in, recovery and the key directory.

use serde::{Deserialize, Serialize};

use super::{AuthSecret, B64};
use crate::backup::{KdfParams, Salt};
use crate::identity::PublicIdentity;
use crate::ids::UserId;
use crate::password::Rule;
use crate::transparency::{KeyPossession, SignedRoot};

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

/// What an account may do on its server: an administrator lists, disables and re-enables
/// accounts (and can never decrypt anything). Spelled `user` / `admin` on the wire and in the
/// server's database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    User,
    Admin,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::User => "user",
            AccountRole::Admin => "admin",
        }
    }

    /// A stored role; anything unknown is the least privileged one.
    pub fn parse(s: &str) -> AccountRole {
        match s {
            "admin" => AccountRole::Admin,
            _ => AccountRole::User,
        }
    }
}

/// `GET /v1/me`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: AccountRole,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The role keeps the spelling the server's database and older clients use, and a role
    /// the client does not know is refused rather than read as another.
    #[test]
    fn account_roles_keep_their_wire_spelling() {
        for role in [AccountRole::User, AccountRole::Admin] {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<AccountRole>(&json).unwrap(), role);
            assert_eq!(AccountRole::parse(role.as_str()), role);
        }
        assert!(serde_json::from_str::<AccountRole>("\"root\"").is_err());
        assert_eq!(AccountRole::parse("root"), AccountRole::User);
    }
}
