//! Client-side password derivation and the server-side key backup.
//!
//! From the password and a per-account salt, Argon2id derives a master secret; HKDF-SHA256 expands
//! it into two independent keys: the **authentication secret**, which the client sends to the
//! server in place of the password (the server stores its own Argon2id verifier of it), and the
//! **backup key**, which never leaves the device. The private keys are sealed under a random data
//! key; the data key is wrapped once under the backup key and once under a **recovery code**
//! shown to the user at sign-up. Changing the password re-wraps the data key only. The server
//! stores the [`KeyBackup`] but can derive neither wrapping key.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{self, CodecError};
use crate::identity::SecretIdentity;

pub const BACKUP_VERSION: u16 = 1;
pub const MAX_BACKUP_BYTES: usize = 4096;

/// Argon2id cost parameters. Never below OWASP's minimum (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl KdfParams {
    /// OWASP's minimum recommendation for Argon2id.
    pub const OWASP_MIN: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        lanes: 1,
    };
    /// What new accounts use: 64 MiB, 3 passes.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        lanes: 1,
    };
    /// The least a desktop device accepts for its own password, whatever a server says:
    /// 64 MiB and 3 passes (a server offering less gets a refusal, not a cheaper hash).
    pub const DESKTOP_MIN: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        lanes: 1,
    };
    const MAX_MEMORY_KIB: u32 = 1024 * 1024;

    /// Parameters weaker than OWASP's minimum (or absurdly large ones from an untrusted server)
    /// are refused.
    pub fn check(self) -> Result<Self, BackupError> {
        let strong_enough = self.memory_kib >= Self::OWASP_MIN.memory_kib
            && self.iterations >= Self::OWASP_MIN.iterations
            && self.lanes >= 1;
        let bounded =
            self.memory_kib <= Self::MAX_MEMORY_KIB && self.iterations <= 16 && self.lanes <= 8;
        if strong_enough && bounded {
            Ok(self)
        } else {
            Err(BackupError::WeakParameters)
        }
    }
}

impl KdfParams {
    /// The stronger of two, parameter by parameter.
    pub fn max_with(self, other: KdfParams) -> KdfParams {
        KdfParams {
            memory_kib: self.memory_kib.max(other.memory_kib),
            iterations: self.iterations.max(other.iterations),
            lanes: self.lanes.max(other.lanes),
        }
    }

    /// Does a device that pinned `self` accept `offered`? Never weaker in memory or passes
    /// than the pin or than [`KdfParams::DESKTOP_MIN`], never out of [`KdfParams::check`]'s
    /// range.
    pub fn accepts(self, offered: KdfParams) -> bool {
        offered.check().is_ok()
            && offered.memory_kib >= self.memory_kib.max(Self::DESKTOP_MIN.memory_kib)
            && offered.iterations >= self.iterations.max(Self::DESKTOP_MIN.iterations)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A per-account random salt for the password derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Salt(pub [u8; 16]);

impl Salt {
    /// The salt a device derives for an account: from the server's origin and the normalised
    /// email, so that no server can hand everyone one salt (and crack every account with one
    /// dictionary). Still unique per (server, account).
    pub fn derived(origin: &str, email: &str) -> Salt {
        use sha2::Digest;
        let mut h = Sha256::new();
        h.update(b"assent/v1/password-salt\0");
        let origin = origin.trim().trim_end_matches('/').to_lowercase();
        h.update((origin.len() as u64).to_be_bytes());
        h.update(origin.as_bytes());
        h.update(crate::transparency::normalize_email(email).as_bytes());
        let mut s = [0u8; 16];
        s.copy_from_slice(&h.finalize()[..16]);
        Salt(s)
    }

    pub fn random() -> Salt {
        let mut s = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut s);
        Salt(s)
    }
}

/// Errors of the password derivation and the backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("key derivation parameters are below the minimum or out of range")]
    WeakParameters,
    #[error("password is empty or longer than 1024 bytes")]
    BadPasswordLength,
    #[error("the password or recovery code does not open this backup")]
    WrongKey,
    #[error("recovery code is malformed")]
    MalformedRecoveryCode,
    #[error("the new backup does not hold the same keys")]
    DifferentKeys,
    #[error("backup encoding: {0}")]
    Codec(#[from] CodecError),
    #[error("the backup holds no valid identity")]
    BadContents,
}

/// The two secrets derived from a password. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PasswordKeys {
    auth: [u8; 32],
    backup: [u8; 32],
}

impl std::fmt::Debug for PasswordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordKeys(..)")
    }
}

impl PasswordKeys {
    /// Derive both keys from `password` (Argon2id, then HKDF with distinct labels).
    pub fn derive(
        password: &str,
        salt: &Salt,
        params: KdfParams,
    ) -> Result<PasswordKeys, BackupError> {
        let params = params.check()?;
        if password.is_empty() || password.len() > 1024 {
            return Err(BackupError::BadPasswordLength);
        }
        let p = Params::new(params.memory_kib, params.iterations, params.lanes, Some(32))
            .map_err(|_| BackupError::WeakParameters)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut master = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(password.as_bytes(), &salt.0, master.as_mut())
            .map_err(|_| BackupError::WeakParameters)?;
        let hk = Hkdf::<Sha256>::new(Some(b"assent/v1/password"), master.as_ref());
        let mut keys = PasswordKeys {
            auth: [0; 32],
            backup: [0; 32],
        };
        // 32-byte outputs are always within HKDF-SHA256's limit.
        let _ = hk.expand(b"assent/v1/auth-secret", &mut keys.auth);
        let _ = hk.expand(b"assent/v1/backup-key", &mut keys.backup);
        Ok(keys)
    }

    /// The authentication secret sent to the server instead of the password.
    pub fn auth_secret(&self) -> &[u8; 32] {
        &self.auth
    }
}

/// A recovery code: 160 random bits shown once at sign-up as eight groups of four characters.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode([u8; 20]);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

impl RecoveryCode {
    pub fn generate() -> RecoveryCode {
        let mut b = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut b);
        RecoveryCode(b)
    }

    /// `ABCD-EFGH-…` (RFC 4648 base32, 32 characters).
    pub fn display(&self) -> Zeroizing<String> {
        let raw = Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0));
        let groups: Vec<&str> = raw
            .as_bytes()
            .chunks(4)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        Zeroizing::new(groups.join("-"))
    }

    /// Parse what a user typed: case, spaces and dashes do not matter.
    pub fn parse(text: &str) -> Result<RecoveryCode, BackupError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let raw = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(cleaned.as_bytes())
                .map_err(|_| BackupError::MalformedRecoveryCode)?,
        );
        let arr: [u8; 20] = raw
            .as_slice()
            .try_into()
            .map_err(|_| BackupError::MalformedRecoveryCode)?;
        Ok(RecoveryCode(arr))
    }

    fn wrapping_key(&self) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"assent/v1/recovery"), &self.0);
        let mut k = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(b"assent/v1/recovery-wrap", k.as_mut());
        k
    }
}

/// An XChaCha20-Poly1305 ciphertext with its nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Sealed {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(key.into());
    // Encryption with a valid key and nonce cannot fail for inputs below the AEAD's size limit.
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    Sealed { nonce, ciphertext }
}

fn open(key: &[u8; 32], aad: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, BackupError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| BackupError::WrongKey)
}

/// The sealed key backup the server stores. It reveals nothing without the password's backup key
/// or the recovery code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBackup {
    pub version: u16,
    /// The derivation parameters and salt the password wrapping was made with.
    pub kdf: KdfParams,
    pub salt: Salt,
    by_password: Sealed,
    by_recovery: Sealed,
    secrets: Sealed,
}

const AAD_PASSWORD: &[u8] = b"assent/v1/backup/data-key/password";
const AAD_RECOVERY: &[u8] = b"assent/v1/backup/data-key/recovery";
const AAD_SECRETS: &[u8] = b"assent/v1/backup/secrets";

impl KeyBackup {
    /// Seal `identity` so that either the password (via `keys`, derived with `kdf` and `salt`) or
    /// the recovery code opens it.
    pub fn create(
        identity: &SecretIdentity,
        keys: &PasswordKeys,
        kdf: KdfParams,
        salt: Salt,
        recovery: &RecoveryCode,
    ) -> KeyBackup {
        let mut data_key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(data_key.as_mut());
        KeyBackup {
            version: BACKUP_VERSION,
            kdf,
            salt,
            by_password: seal(&keys.backup, AAD_PASSWORD, data_key.as_ref()),
            by_recovery: seal(&recovery.wrapping_key(), AAD_RECOVERY, data_key.as_ref()),
            secrets: seal(&data_key, AAD_SECRETS, &identity.to_bytes()),
        }
    }

    fn data_key(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, BackupError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| BackupError::BadContents)?;
        Ok(Zeroizing::new(arr))
    }

    fn open_secrets(&self, data_key: &[u8; 32]) -> Result<SecretIdentity, BackupError> {
        let raw = open(data_key, AAD_SECRETS, &self.secrets)?;
        SecretIdentity::from_bytes(&raw).map_err(|_| BackupError::BadContents)
    }

    pub fn open_with_password(&self, keys: &PasswordKeys) -> Result<SecretIdentity, BackupError> {
        let dk = Self::data_key(&open(&keys.backup, AAD_PASSWORD, &self.by_password)?)?;
        self.open_secrets(&dk)
    }

    pub fn open_with_recovery(&self, code: &RecoveryCode) -> Result<SecretIdentity, BackupError> {
        self.recovery_half().open(code)
    }

    /// Password change: unwrap the data key with the old password keys and wrap it under the new
    /// ones. The sealed secrets and the recovery wrapping are untouched.
    pub fn rewrap_password(
        &self,
        old: &PasswordKeys,
        new: &PasswordKeys,
        kdf: KdfParams,
        salt: Salt,
    ) -> Result<KeyBackup, BackupError> {
        let dk = Self::data_key(&open(&old.backup, AAD_PASSWORD, &self.by_password)?)?;
        self.open_secrets(&dk)?;
        Ok(KeyBackup {
            kdf,
            salt,
            by_password: seal(&new.backup, AAD_PASSWORD, dk.as_ref()),
            ..self.clone()
        })
    }

    /// Forgotten password: the recovery code unwraps the data key, the new password wraps it.
    pub fn reset_password(
        &self,
        code: &RecoveryCode,
        new: &PasswordKeys,
        kdf: KdfParams,
        salt: Salt,
    ) -> Result<KeyBackup, BackupError> {
        self.recovery_half().reset_password(code, new, kdf, salt)
    }

    /// The recovery proof, from the password: whoever can open the data key can make it, and
    /// the server keeps only [`recovery_verifier`] of it.
    pub fn recovery_proof(&self, keys: &PasswordKeys) -> Result<[u8; 32], BackupError> {
        let dk = Self::data_key(&open(&keys.backup, AAD_PASSWORD, &self.by_password)?)?;
        self.open_secrets(&dk)?;
        Ok(proof_of(&dk))
    }

    /// What a server may hand out to someone who proved only the mailbox (and the second
    /// factor): the recovery wrapping and the sealed secrets, both under 160-bit or 256-bit
    /// keys. The password wrapping stays on the server: it would be an offline password oracle.
    pub fn recovery_half(&self) -> RecoveryHalf {
        RecoveryHalf {
            version: self.version,
            by_recovery: self.by_recovery.clone(),
            secrets: self.secrets.clone(),
        }
    }

    /// Does `other` seal the same keys under the same recovery wrapping (only the password
    /// wrapping, salt and parameters may differ)?
    pub fn same_keys(&self, other: &KeyBackup) -> bool {
        self.by_recovery == other.by_recovery && self.secrets == other.secrets
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<KeyBackup, BackupError> {
        let b: KeyBackup = codec::decode(bytes, MAX_BACKUP_BYTES)?;
        if b.version != BACKUP_VERSION {
            return Err(CodecError::UnsupportedVersion(b.version).into());
        }
        b.kdf.check()?;
        Ok(b)
    }
}

fn proof_of(data_key: &[u8; 32]) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(b"assent/v1/recovery-proof"), data_key);
    let mut out = [0u8; 32];
    let _ = hk.expand(b"assent/v1/recovery-proof/v1", &mut out);
    out
}

/// What the server stores of a recovery proof (a hash: the proof has 256 bits of entropy).
pub fn recovery_verifier(proof: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = Sha256::new();
    h.update(b"assent/v1/recovery-verifier\0");
    h.update(proof);
    h.finalize().into()
}

/// The part of a [`KeyBackup`] a recovery gets before it has proven the recovery code: opens
/// with the code only, and tells nothing about the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryHalf {
    pub version: u16,
    by_recovery: Sealed,
    secrets: Sealed,
}

impl RecoveryHalf {
    fn data_key(&self, code: &RecoveryCode) -> Result<Zeroizing<[u8; 32]>, BackupError> {
        KeyBackup::data_key(&open(
            &code.wrapping_key(),
            AAD_RECOVERY,
            &self.by_recovery,
        )?)
    }

    fn secrets(&self, dk: &[u8; 32]) -> Result<SecretIdentity, BackupError> {
        let raw = open(dk, AAD_SECRETS, &self.secrets)?;
        SecretIdentity::from_bytes(&raw).map_err(|_| BackupError::BadContents)
    }

    /// The identity keys, opened with the recovery code.
    pub fn open(&self, code: &RecoveryCode) -> Result<SecretIdentity, BackupError> {
        self.secrets(&*self.data_key(code)?)
    }

    /// The proof the server checks before it accepts a new password.
    pub fn proof(&self, code: &RecoveryCode) -> Result<[u8; 32], BackupError> {
        let dk = self.data_key(code)?;
        self.secrets(&dk)?;
        Ok(proof_of(&dk))
    }

    /// A whole backup again: the same keys, wrapped under a new password.
    pub fn reset_password(
        &self,
        code: &RecoveryCode,
        new: &PasswordKeys,
        kdf: KdfParams,
        salt: Salt,
    ) -> Result<KeyBackup, BackupError> {
        let dk = self.data_key(code)?;
        self.secrets(&dk)?;
        Ok(KeyBackup {
            version: self.version,
            kdf,
            salt,
            by_password: seal(&new.backup, AAD_PASSWORD, dk.as_ref()),
            by_recovery: self.by_recovery.clone(),
            secrets: self.secrets.clone(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<RecoveryHalf, BackupError> {
        let h: RecoveryHalf = codec::decode(bytes, MAX_BACKUP_BYTES)?;
        if h.version != BACKUP_VERSION {
            return Err(CodecError::UnsupportedVersion(h.version).into());
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn keys(pw: &str, salt: &Salt) -> PasswordKeys {
        PasswordKeys::derive(pw, salt, KdfParams::OWASP_MIN).unwrap()
    }

    #[test]
    fn auth_and_backup_keys_differ_and_depend_on_salt() {
        let s1 = Salt([1; 16]);
        let a = keys("correct horse battery", &s1);
        assert_ne!(a.auth, a.backup);
        assert_eq!(a.auth, keys("correct horse battery", &s1).auth);
        assert_ne!(a.auth, keys("correct horse battery", &Salt([2; 16])).auth);
        assert_ne!(a.auth, keys("correct horse batterz", &s1).auth);
    }

    #[test]
    fn weak_parameters_refused() {
        let weak = KdfParams {
            memory_kib: 1024,
            iterations: 1,
            lanes: 1,
        };
        assert_eq!(
            PasswordKeys::derive("pw", &Salt([0; 16]), weak).unwrap_err(),
            BackupError::WeakParameters
        );
        assert_eq!(
            PasswordKeys::derive("", &Salt([0; 16]), KdfParams::OWASP_MIN).unwrap_err(),
            BackupError::BadPasswordLength
        );
    }

    #[test]
    fn change_password_and_recover() {
        let id = SecretIdentity::generate(Timestamp(5));
        let salt = Salt::random();
        let old = keys("first password", &salt);
        let code = RecoveryCode::generate();
        let backup = KeyBackup::create(&id, &old, KdfParams::OWASP_MIN, salt, &code);
        let backup = KeyBackup::from_bytes(&backup.to_bytes()).unwrap();
        assert_eq!(
            backup.open_with_password(&old).unwrap().public(),
            id.public()
        );

        let salt2 = Salt::random();
        let new = keys("second password", &salt2);
        let changed = backup
            .rewrap_password(&old, &new, KdfParams::OWASP_MIN, salt2)
            .unwrap();
        assert_eq!(
            changed.open_with_password(&new).unwrap().public(),
            id.public()
        );
        assert_eq!(
            changed.open_with_password(&old).unwrap_err(),
            BackupError::WrongKey
        );
        assert_eq!(
            changed.open_with_recovery(&code).unwrap().public(),
            id.public()
        );

        let typed = RecoveryCode::parse(&code.display().to_lowercase().replace('-', " ")).unwrap();
        let salt3 = Salt::random();
        let third = keys("third password", &salt3);
        let reset = changed
            .reset_password(&typed, &third, KdfParams::OWASP_MIN, salt3)
            .unwrap();
        assert_eq!(
            reset.open_with_password(&third).unwrap().public(),
            id.public()
        );
        assert_eq!(
            reset
                .open_with_recovery(&RecoveryCode::generate())
                .unwrap_err(),
            BackupError::WrongKey
        );
    }

    #[test]
    fn malformed_recovery_codes() {
        for s in ["", "ABCD", "!!!!-!!!!", &"A".repeat(33)] {
            assert_eq!(
                RecoveryCode::parse(s).unwrap_err(),
                BackupError::MalformedRecoveryCode,
                "{s}"
            );
        }
    }

    #[test]
    fn recovery_half_opens_with_the_code_only_and_proves_what_the_password_proves() {
        let id = SecretIdentity::generate(Timestamp(5));
        let salt = Salt::random();
        let k = keys("correct horse battery", &salt);
        let code = RecoveryCode::generate();
        let backup = KeyBackup::create(&id, &k, KdfParams::OWASP_MIN, salt, &code);
        let half = RecoveryHalf::from_bytes(&backup.recovery_half().to_bytes()).unwrap();
        // The half carries no password wrapping: nothing in it depends on the password.
        let other = KeyBackup::create(
            &id,
            &keys("another one", &salt),
            KdfParams::OWASP_MIN,
            salt,
            &code,
        );
        assert_ne!(backup.by_password, other.by_password);
        assert_eq!(half.open(&code).unwrap().public(), id.public());
        assert_eq!(
            half.open(&RecoveryCode::generate()).unwrap_err(),
            BackupError::WrongKey
        );
        // The proof is the same from the password and from the code.
        let by_password = backup.recovery_proof(&k).unwrap();
        assert_eq!(half.proof(&code).unwrap(), by_password);
        assert_ne!(recovery_verifier(&by_password), by_password);
        assert_eq!(
            backup.recovery_proof(&keys("wrong", &salt)).unwrap_err(),
            BackupError::WrongKey
        );
        // A reset keeps the keys and the recovery wrapping; the new password opens it.
        let salt2 = Salt::random();
        let k2 = keys("brand new password", &salt2);
        let reset = half
            .reset_password(&code, &k2, KdfParams::OWASP_MIN, salt2)
            .unwrap();
        assert!(backup.same_keys(&reset));
        assert_eq!(reset.open_with_password(&k2).unwrap().public(), id.public());
        assert_eq!(reset.recovery_proof(&k2).unwrap(), by_password);
        // A backup of other keys is not the same.
        let foreign = KeyBackup::create(
            &SecretIdentity::generate(Timestamp(6)),
            &k2,
            KdfParams::OWASP_MIN,
            salt2,
            &code,
        );
        assert!(!backup.same_keys(&foreign));
    }

    #[test]
    fn derived_salts_depend_on_origin_and_normalised_email() {
        let a = Salt::derived("https://assent.example.org", "Ann@Example.org ");
        assert_eq!(
            a,
            Salt::derived("https://ASSENT.example.org/", "ann@example.org")
        );
        assert_ne!(
            a,
            Salt::derived("https://other.example.org", "ann@example.org")
        );
        assert_ne!(
            a,
            Salt::derived("https://assent.example.org", "bob@example.org")
        );
        // A golden value: changing the derivation would lock every account out.
        assert_eq!(
            Salt::derived("https://assent.example.org", "ann@example.org")
                .0
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            GOLDEN_SALT
        );
    }

    // sha256("assent/v1/password-salt\0" || be64(len(origin)) || origin || email)[..16], computed
    // independently with Python's hashlib.
    const GOLDEN_SALT: &str = "1f1aa595f3a1613123ee07c819080644";

    #[test]
    fn a_device_accepts_no_weaker_parameters_than_its_pin_or_the_desktop_minimum() {
        let pin = KdfParams::DEFAULT;
        assert!(pin.accepts(KdfParams::DEFAULT));
        assert!(pin.accepts(KdfParams {
            memory_kib: 128 * 1024,
            ..pin
        }));
        assert!(
            !pin.accepts(KdfParams::OWASP_MIN),
            "the server's minimum is not a desktop's"
        );
        assert!(!pin.accepts(KdfParams {
            iterations: 2,
            ..pin
        }));
        let stronger = KdfParams {
            memory_kib: 256 * 1024,
            iterations: 4,
            lanes: 1,
        };
        assert!(!stronger.accepts(KdfParams::DEFAULT), "weaker than the pin");
        assert!(
            !pin.accepts(KdfParams {
                memory_kib: 4 * 1024 * 1024,
                ..pin
            }),
            "absurd"
        );
        assert!(
            !pin.accepts(KdfParams {
                iterations: 1000,
                ..pin
            }),
            "absurd"
        );
    }
}
