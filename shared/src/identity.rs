//! Identities: an Ed25519 signing key and an X25519 encryption key per account, generated on the
//! device. The public halves travel as a [`PublicIdentity`] bundle in which the Ed25519 key signs
//! the X25519 key; the secret halves stay in a [`SecretIdentity`] that zeroizes on drop.

use std::fmt;

use bech32::{Bech32, Hrp};
use ed25519_dalek::SigningKey;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::codec::{self, CodecError};
use crate::sign::{self, Context, Signature};
use crate::{Digest, Timestamp};

/// Current version of the identity bundle encoding.
pub const BUNDLE_VERSION: u16 = 1;
/// Current version of the secret identity encoding.
pub const SECRET_VERSION: u16 = 1;
/// Largest encoded bundle accepted.
pub const MAX_BUNDLE_BYTES: usize = 256;

/// An account's long-term Ed25519 public key: the identity others pin and verify against.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityKey(pub [u8; 32]);
crate::bytes::serde_fixed!(IdentityKey, 32);

impl IdentityKey {
    /// Verify a domain-separated signature by this key.
    pub fn verify(
        &self,
        context: Context,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), sign::BadSignature> {
        sign::verify(&self.0, context, message, signature)
    }

    /// Short hex form for logs and lists (not a security check: use the safety number).
    pub fn short(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0[..6])
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.short())
    }
}

/// An account's X25519 public key, to which recordings are encrypted.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EncryptionKey(pub [u8; 32]);
crate::bytes::serde_fixed!(EncryptionKey, 32);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EncryptionKey({})",
            data_encoding::HEXLOWER.encode(&self.0[..6])
        )
    }
}

impl EncryptionKey {
    /// The key as an age recipient string (`age1…`), usable with the stock `age`/`rage` tools.
    pub fn to_age_recipient(&self) -> String {
        bech32_encode("age", &self.0)
    }

    /// The key as an `age` crate recipient.
    pub fn age_recipient(&self) -> Result<age::x25519::Recipient, IdentityError> {
        self.to_age_recipient()
            .parse()
            .map_err(|_| IdentityError::InvalidKey)
    }
}

fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    // The HRPs used here are constants known to be valid, and 32 bytes fit bech32's length limit.
    match Hrp::parse(hrp) {
        Ok(hrp) => bech32::encode::<Bech32>(hrp, data).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Errors about identities and bundles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("identity encoding: {0}")]
    Codec(#[from] CodecError),
    #[error("identity bundle signature does not verify")]
    BadSignature,
    #[error("invalid key")]
    InvalidKey,
}

/// The signed part of a bundle.
#[derive(Serialize)]
struct BundleBody<'a> {
    version: u16,
    signing: &'a IdentityKey,
    encryption: &'a EncryptionKey,
    created_at: Timestamp,
}

/// The public identity bundle published in the directory: both public keys, the X25519 key signed
/// by the Ed25519 key. Decoding does not imply validity: call [`PublicIdentity::verify`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicIdentity {
    pub version: u16,
    pub signing: IdentityKey,
    pub encryption: EncryptionKey,
    pub created_at: Timestamp,
    pub signature: Signature,
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicIdentity({})", self.signing.short())
    }
}

impl PublicIdentity {
    fn body(&self) -> Vec<u8> {
        codec::encode(&BundleBody {
            version: self.version,
            signing: &self.signing,
            encryption: &self.encryption,
            created_at: self.created_at,
        })
    }

    /// Check the version, the keys and the self-signature.
    pub fn verify(&self) -> Result<(), IdentityError> {
        if self.version != BUNDLE_VERSION {
            return Err(CodecError::UnsupportedVersion(self.version).into());
        }
        // An all-zero X25519 key (or any low-order point) would make every shared secret public.
        let shared_with_base =
            StaticSecret::from([1u8; 32]).diffie_hellman(&PublicKey::from(self.encryption.0));
        if !shared_with_base.was_contributory() {
            return Err(IdentityError::InvalidKey);
        }
        self.signing
            .verify(Context::IdentityBundle, &self.body(), &self.signature)
            .map_err(|_| IdentityError::BadSignature)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decode and verify a bundle.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let b: PublicIdentity = codec::decode(bytes, MAX_BUNDLE_BYTES)?;
        b.verify()?;
        Ok(b)
    }

    /// This identity's fingerprint: 30 decimal digits in six groups of five, derived from both
    /// public keys. Two people read it to each other (or compare a [`safety_number`]).
    pub fn fingerprint(&self) -> String {
        group_digits(&fingerprint_digits(self))
    }
}

fn fingerprint_digits(id: &PublicIdentity) -> String {
    let d = Digest::of("assent/v1/fingerprint", &[&id.signing.0, &id.encryption.0]);
    let mut out = String::with_capacity(30);
    for chunk in d.0.chunks(5).take(6) {
        let mut v = 0u64;
        for b in chunk {
            v = (v << 8) | u64::from(*b);
        }
        out.push_str(&format!("{:05}", v % 100_000));
    }
    out
}

fn group_digits(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The safety number two people compare: both fingerprints, the smaller first, so both sides see
/// the same 60 digits. If either key changes, the number changes.
pub fn safety_number(a: &PublicIdentity, b: &PublicIdentity) -> String {
    let (fa, fb) = (fingerprint_digits(a), fingerprint_digits(b));
    let (first, second) = if fa <= fb { (fa, fb) } else { (fb, fa) };
    group_digits(&(first + &second))
}

/// The private halves. Zeroized on drop; never logged.
pub struct SecretIdentity {
    signing: SigningKey,
    encryption: StaticSecret,
    public: PublicIdentity,
}

impl fmt::Debug for SecretIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretIdentity({}, ..)", self.public.signing.short())
    }
}

/// The encoded secret identity (versioned).
#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct SecretRepr {
    version: u16,
    signing_seed: [u8; 32],
    encryption_secret: [u8; 32],
    created_at: u64,
}

impl SecretIdentity {
    /// Generate fresh keys with the OS random generator.
    pub fn generate(created_at: Timestamp) -> SecretIdentity {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let encryption = StaticSecret::random_from_rng(rand::rngs::OsRng);
        Self::from_parts(signing, encryption, created_at)
    }

    /// Deterministic keys from a seed: for test fixtures and golden files only.
    pub fn from_seed(seed: [u8; 32], created_at: Timestamp) -> SecretIdentity {
        let d = Digest::of("assent/v1/test-seed", &[&seed]);
        let e = Digest::of("assent/v1/test-seed-x25519", &[&seed]);
        Self::from_parts(
            SigningKey::from_bytes(&d.0),
            StaticSecret::from(e.0),
            created_at,
        )
    }

    fn from_parts(signing: SigningKey, encryption: StaticSecret, created_at: Timestamp) -> Self {
        let signing_pub = IdentityKey(signing.verifying_key().to_bytes());
        let encryption_pub = EncryptionKey(PublicKey::from(&encryption).to_bytes());
        let mut public = PublicIdentity {
            version: BUNDLE_VERSION,
            signing: signing_pub,
            encryption: encryption_pub,
            created_at,
            signature: Signature([0; 64]),
        };
        public.signature = sign::sign(&signing, Context::IdentityBundle, &public.body());
        SecretIdentity {
            signing,
            encryption,
            public,
        }
    }

    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    pub fn key(&self) -> IdentityKey {
        self.public.signing
    }

    /// Sign `message` for `context` with the Ed25519 key.
    pub fn sign(&self, context: Context, message: &[u8]) -> Signature {
        sign::sign(&self.signing, context, message)
    }

    /// The X25519 secret as an age identity (`AGE-SECRET-KEY-1…`), for the stock `age`/`rage`
    /// tools. Handle with care: whoever holds it can decrypt every recording made for this user.
    pub fn to_age_identity(&self) -> SecretString {
        let raw = Zeroizing::new(self.encryption.to_bytes());
        let mut s = bech32_encode("age-secret-key-", raw.as_ref());
        let upper = s.to_uppercase();
        s.zeroize();
        SecretString::from(upper)
    }

    /// The X25519 secret as an `age` crate identity.
    pub fn age_identity(&self) -> Result<age::x25519::Identity, IdentityError> {
        use secrecy::ExposeSecret;
        self.to_age_identity()
            .expose_secret()
            .parse()
            .map_err(|_| IdentityError::InvalidKey)
    }

    /// Versioned encoding of the secret keys (for the OS keyring and the sealed backup).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let repr = SecretRepr {
            version: SECRET_VERSION,
            signing_seed: self.signing.to_bytes(),
            encryption_secret: self.encryption.to_bytes(),
            created_at: self.public.created_at.0,
        };
        Zeroizing::new(codec::encode(&repr))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SecretIdentity, IdentityError> {
        let repr: SecretRepr = codec::decode(bytes, 128)?;
        if repr.version != SECRET_VERSION {
            return Err(CodecError::UnsupportedVersion(repr.version).into());
        }
        let signing = SigningKey::from_bytes(&repr.signing_seed);
        let encryption = StaticSecret::from(repr.encryption_secret);
        Ok(Self::from_parts(
            signing,
            encryption,
            Timestamp(repr.created_at),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::x25519;
    use secrecy::ExposeSecret;

    #[test]
    fn bundle_verifies_and_detects_tampering() {
        let id = SecretIdentity::generate(Timestamp(1));
        let b = id.public().clone();
        assert_eq!(PublicIdentity::from_bytes(&b.to_bytes()).as_ref(), Ok(&b));
        let mut other = b.clone();
        other.encryption = SecretIdentity::generate(Timestamp(1)).public().encryption;
        assert_eq!(other.verify(), Err(IdentityError::BadSignature));
        let mut zero = b.clone();
        zero.encryption = EncryptionKey([0; 32]);
        assert_eq!(zero.verify(), Err(IdentityError::InvalidKey));
        let mut v2 = b;
        v2.version = 2;
        assert!(matches!(
            v2.verify(),
            Err(IdentityError::Codec(CodecError::UnsupportedVersion(2)))
        ));
    }

    #[test]
    fn age_strings_match_the_age_crate() {
        let id = SecretIdentity::generate(Timestamp(1));
        let parsed: x25519::Identity = id.to_age_identity().expose_secret().parse().unwrap();
        assert_eq!(
            parsed.to_public().to_string(),
            id.public().encryption.to_age_recipient()
        );
        assert!(
            id.to_age_identity()
                .expose_secret()
                .starts_with("AGE-SECRET-KEY-1")
        );
    }

    #[test]
    fn secret_round_trip() {
        let id = SecretIdentity::generate(Timestamp(42));
        let back = SecretIdentity::from_bytes(&id.to_bytes()).unwrap();
        assert_eq!(back.public(), id.public());
    }

    #[test]
    fn safety_number_is_symmetric_and_key_bound() {
        let a = SecretIdentity::from_seed([1; 32], Timestamp(0));
        let b = SecretIdentity::from_seed([2; 32], Timestamp(0));
        let c = SecretIdentity::from_seed([3; 32], Timestamp(0));
        let ab = safety_number(a.public(), b.public());
        assert_eq!(ab, safety_number(b.public(), a.public()));
        assert_ne!(ab, safety_number(a.public(), c.public()));
        assert_eq!(ab.len(), 60 + 11);
        assert_eq!(a.public().fingerprint().len(), 30 + 5);
    }
}
