//! Key transparency: the client's side of the auditable key directory.
//!
//! The rendezvous server keeps every account's identity key in an auditable key directory
//! (Meta's `akd`, the engine behind WhatsApp's key transparency). The directory maps a
//! **label**, the account's verified email in canonical form, to a **value**, the digest of the
//! identity bundle. Changes are batched into epochs; each epoch's Merkle root is signed by the
//! server's directory key as a [`SignedRoot`] that names the epoch, the root, the previous
//! epoch's root and the time.
//!
//! What a client checks here, without any IO (the verification itself is `akd_core`'s):
//! - a **lookup proof** binds an email to the bundle signaling presents, against a signed root
//!   that is fresh and not older than one already seen ([`verify_lookup`], [`check_root`]);
//! - a **history proof** lists every version ever published for the client's own email, so it
//!   can raise an alarm for a version it did not publish ([`verify_history`]);
//! - two signed roots for one epoch that differ are proof that the server equivocated
//!   ([`Equivocation`]);
//! - publishing a key needs a **proof of possession** by the new key ([`KeyPossession`]).
//!
//! Auditing (the append-only proofs between epochs) needs `akd` itself, which is not pure; it
//! lives with the client's auditor.

use std::fmt;

use akd_core::configuration::DomainLabel;
use protobuf::Message;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::identity::{IdentityKey, PublicIdentity, SecretIdentity};
use crate::sign::{self, Context, Signature};
use crate::{Digest, Timestamp};

/// The directory's hashing configuration: `akd`'s experimental configuration (BLAKE3) under
/// Assent's own domain label.
pub type Config = akd_core::ExperimentalConfiguration<AssentDomain>;

/// The domain separation label of Assent's directory hashes.
#[derive(Clone, Copy, Debug)]
pub struct AssentDomain;

impl DomainLabel for AssentDomain {
    fn domain_label() -> &'static [u8] {
        b"assent/v1/key-directory"
    }
}

pub const ROOT_VERSION: u16 = 1;
pub const POSSESSION_VERSION: u16 = 1;
/// A signed root older than this is refused: the server must keep vouching for its newest
/// epoch (it re-signs it with the current time while nothing changes).
pub const MAX_ROOT_AGE_MS: u64 = 5 * 60_000;
/// How far ahead of this device's clock a signed time may be.
pub const MAX_CLOCK_SKEW_MS: u64 = 2 * 60_000;
/// A proof of possession is accepted for this long after it was made (and as far before).
pub const POSSESSION_WINDOW_MS: u64 = 10 * 60_000;
/// Largest encoded lookup proof accepted.
pub const MAX_LOOKUP_PROOF: usize = 64 * 1024;
/// Largest encoded key history proof accepted.
pub const MAX_HISTORY_PROOF: usize = 1024 * 1024;
/// Largest encoded append-only proof accepted (between consecutive epochs).
pub const MAX_AUDIT_PROOF: usize = 64 * 1024 * 1024;
/// Largest encoded signed root.
pub const MAX_ROOT_BYTES: usize = 256;

/// The Ed25519 key with which the server signs epoch roots.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerKey(pub [u8; 32]);
crate::bytes::serde_fixed!(ServerKey, 32);

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ServerKey({})",
            data_encoding::HEXLOWER.encode(&self.0[..6])
        )
    }
}

/// The public key of the directory's VRF (which hides labels from auditors and lets clients
/// check that a proof is for the email they asked about).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VrfKey(pub [u8; 32]);
crate::bytes::serde_fixed!(VrfKey, 32);

impl fmt::Debug for VrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VrfKey({})",
            data_encoding::HEXLOWER.encode(&self.0[..6])
        )
    }
}

/// The two public keys a client pins for a server's directory (the first time it meets the
/// server; a change afterwards is an alarm, never accepted silently).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryKeys {
    pub signing: ServerKey,
    pub vrf: VrfKey,
}

impl DirectoryKeys {
    /// A short, stable fingerprint of both keys for people to compare (12 hex digits in
    /// groups of four).
    pub fn fingerprint(&self) -> String {
        let d = Digest::of("assent/v1/directory-keys", &[&self.signing.0, &self.vrf.0]);
        let hex = data_encoding::HEXLOWER.encode(&d.0[..6]);
        format!("{}-{}-{}", &hex[..4], &hex[4..8], &hex[8..])
    }
}

/// Why key transparency material was refused. The messages are what a user or an operator
/// should read; the caller adds whose key it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KtError {
    #[error("malformed key directory data: {0}")]
    Malformed(String),
    #[error("unsupported key directory format version {0}")]
    UnsupportedVersion(u16),
    #[error("the directory root is not signed by this server's directory key")]
    BadRootSignature,
    #[error(
        "the directory root is {minutes} minutes old: the server stopped vouching for its \
         directory, or is replaying an old one"
    )]
    StaleRoot { minutes: u64 },
    #[error("the directory root is dated in the future (more than the allowed clock skew)")]
    FutureRoot,
    #[error(
        "the server showed an older directory (epoch {epoch}) than one already seen \
         (epoch {newest}): it is rolling the directory back"
    )]
    RolledBack { epoch: u64, newest: u64 },
    #[error("the directory proof does not verify: {0}")]
    BadProof(String),
    #[error("the proof is for another directory epoch than its signed root")]
    WrongEpoch,
    #[error("the key is not what the directory has published")]
    KeyMismatch,
    #[error("the account has been deleted from the directory")]
    Deleted,
    #[error("the proof of possession of the new key does not verify")]
    BadPossession,
    #[error("the proof of possession is too old or dated in the future")]
    StalePossession,
    #[error("two signed roots for one epoch are not a contradiction")]
    NotEquivocation,
}

pub type Result<T, E = KtError> = std::result::Result<T, E>;

impl From<CodecError> for KtError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::UnsupportedVersion(v) => KtError::UnsupportedVersion(v),
            other => KtError::Malformed(other.to_string()),
        }
    }
}

/// The canonical form of an email address: trimmed and lower-cased. The directory's label is
/// always this, never an id the server chooses.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The directory label of an account.
pub fn label(email: &str) -> akd_core::AkdLabel {
    akd_core::AkdLabel(normalize_email(email).into_bytes())
}

/// The directory value of an identity bundle: the digest of its canonical encoding.
pub fn value(identity: &PublicIdentity) -> Digest {
    Digest::of("assent/v1/directory-value", &[&identity.to_bytes()])
}

/// The value an account's label takes when the account is deleted (a tombstone: a label can
/// never leave the directory, but it can say that nobody holds it any more).
pub fn deleted_value() -> Digest {
    Digest::of("assent/v1/directory-deleted", &[])
}

/// What the server signs for an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootBody {
    pub version: u16,
    pub epoch: u64,
    pub root_hash: Digest,
    /// The root of the epoch before (for epoch 0, the root of the empty directory).
    pub previous: Digest,
    /// When the server signed this (it re-signs its newest epoch while nothing changes).
    pub time: Timestamp,
}

/// An epoch root signed by the server's directory key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRoot {
    pub body: RootBody,
    pub signature: Signature,
}

impl SignedRoot {
    /// Sign `body` with the server's directory key (server side).
    pub fn sign(key: &ed25519_dalek::SigningKey, body: RootBody) -> SignedRoot {
        let signature = sign::sign(key, Context::DirectoryRoot, &codec::encode(&body));
        SignedRoot { body, signature }
    }

    /// Check the version and the signature by `key`.
    pub fn verify(&self, key: &ServerKey) -> Result<()> {
        if self.body.version != ROOT_VERSION {
            return Err(KtError::UnsupportedVersion(self.body.version));
        }
        sign::verify(
            &key.0,
            Context::DirectoryRoot,
            &codec::encode(&self.body),
            &self.signature,
        )
        .map_err(|_| KtError::BadRootSignature)
    }

    pub fn epoch(&self) -> u64 {
        self.body.epoch
    }

    /// Whether `other` says something different about the same epoch (its root or the root
    /// before it). The time is not part of the claim: the server re-signs an epoch over time.
    pub fn contradicts(&self, other: &SignedRoot) -> bool {
        self.body.epoch == other.body.epoch
            && (self.body.root_hash != other.body.root_hash
                || self.body.previous != other.body.previous)
    }

    /// Whether `next` is the epoch right after this one and chains to it.
    pub fn chains_to(&self, next: &SignedRoot) -> bool {
        next.body.epoch == self.body.epoch.saturating_add(1)
            && next.body.previous == self.body.root_hash
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SignedRoot> {
        let r: SignedRoot = codec::decode(bytes, MAX_ROOT_BYTES)?;
        if r.body.version != ROOT_VERSION {
            return Err(KtError::UnsupportedVersion(r.body.version));
        }
        Ok(r)
    }
}

/// Check a signed root before trusting anything proven against it: signed by the pinned
/// directory key, not older than `max_age_ms` nor dated in the future, and not older (by
/// epoch) than the newest root this device has already accepted.
pub fn check_root(
    keys: &DirectoryKeys,
    root: &SignedRoot,
    now: Timestamp,
    max_age_ms: u64,
    newest_epoch: Option<u64>,
) -> Result<()> {
    root.verify(&keys.signing)?;
    let t = root.body.time;
    if t.0 > now.0.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(KtError::FutureRoot);
    }
    let age = now.millis_since(t);
    if age > max_age_ms {
        return Err(KtError::StaleRoot {
            minutes: age / 60_000,
        });
    }
    if let Some(newest) = newest_epoch
        && root.body.epoch < newest
    {
        return Err(KtError::RolledBack {
            epoch: root.body.epoch,
            newest,
        });
    }
    Ok(())
}

/// What a verified lookup proves: at the root's epoch, the label's newest version holds
/// `value` (published at `published_epoch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proven {
    pub epoch: u64,
    pub version: u64,
    pub published_epoch: u64,
    pub value: Digest,
}

impl Proven {
    /// Whether the proven value is `identity`'s bundle.
    pub fn check(&self, identity: &PublicIdentity) -> Result<()> {
        if self.value == value(identity) {
            Ok(())
        } else if self.value == deleted_value() {
            Err(KtError::Deleted)
        } else {
            Err(KtError::KeyMismatch)
        }
    }
}

fn digest_of(bytes: &[u8]) -> Result<Digest> {
    let raw: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KtError::Malformed("a directory value is not 32 bytes".into()))?;
    Ok(Digest(raw))
}

fn parse<M: Message>(bytes: &[u8], max: usize, what: &str) -> Result<M> {
    if bytes.len() > max {
        return Err(KtError::Malformed(format!(
            "{what} of {} bytes, more than {max}",
            bytes.len()
        )));
    }
    M::parse_from_bytes(bytes).map_err(|_| KtError::Malformed(format!("{what} does not parse")))
}

/// Decode a lookup proof (protobuf, `akd`'s wire format).
pub fn decode_lookup(bytes: &[u8]) -> Result<akd_core::LookupProof> {
    let p: akd_core::proto::specs::types::LookupProof =
        parse(bytes, MAX_LOOKUP_PROOF, "lookup proof")?;
    akd_core::LookupProof::try_from(&p).map_err(|e| KtError::Malformed(e.to_string()))
}

pub fn encode_lookup(proof: &akd_core::LookupProof) -> Vec<u8> {
    akd_core::proto::specs::types::LookupProof::from(proof)
        .write_to_bytes()
        .unwrap_or_default()
}

/// Decode a key history proof.
pub fn decode_history(bytes: &[u8]) -> Result<akd_core::HistoryProof> {
    let p: akd_core::proto::specs::types::HistoryProof =
        parse(bytes, MAX_HISTORY_PROOF, "key history proof")?;
    akd_core::HistoryProof::try_from(&p).map_err(|e| KtError::Malformed(e.to_string()))
}

pub fn encode_history(proof: &akd_core::HistoryProof) -> Vec<u8> {
    akd_core::proto::specs::types::HistoryProof::from(proof)
        .write_to_bytes()
        .unwrap_or_default()
}

/// Decode an append-only proof between two epochs.
pub fn decode_audit(bytes: &[u8]) -> Result<akd_core::AppendOnlyProof> {
    let p: akd_core::proto::specs::types::AppendOnlyProof =
        parse(bytes, MAX_AUDIT_PROOF, "append-only proof")?;
    akd_core::AppendOnlyProof::try_from(&p).map_err(|e| KtError::Malformed(e.to_string()))
}

pub fn encode_audit(proof: &akd_core::AppendOnlyProof) -> Vec<u8> {
    akd_core::proto::specs::types::AppendOnlyProof::from(proof)
        .write_to_bytes()
        .unwrap_or_default()
}

/// Verify a lookup proof for `email` against `root` (whose signature this checks; its
/// freshness is [`check_root`]'s). Returns what it proves; compare with [`Proven::check`].
pub fn verify_lookup(
    keys: &DirectoryKeys,
    root: &SignedRoot,
    email: &str,
    proof: &[u8],
) -> Result<Proven> {
    root.verify(&keys.signing)?;
    let proof = decode_lookup(proof)?;
    let result = akd_core::verify::lookup_verify::<Config>(
        &keys.vrf.0,
        root.body.root_hash.0,
        root.body.epoch,
        label(email),
        proof,
    )
    .map_err(|e| KtError::BadProof(e.to_string()))?;
    if result.epoch > root.body.epoch {
        return Err(KtError::WrongEpoch);
    }
    Ok(Proven {
        epoch: root.body.epoch,
        version: result.version,
        published_epoch: result.epoch,
        value: digest_of(&result.value.0)?,
    })
}

/// One version of a label, as a history proof shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub version: u64,
    /// The epoch in which it was published.
    pub epoch: u64,
    pub value: Digest,
}

/// Verify the complete key history of `email` against `root`: every version ever published,
/// newest first.
pub fn verify_history(
    keys: &DirectoryKeys,
    root: &SignedRoot,
    email: &str,
    proof: &[u8],
) -> Result<Vec<Version>> {
    use akd_core::verify::history::{HistoryParams, HistoryVerificationParams};
    root.verify(&keys.signing)?;
    let proof = decode_history(proof)?;
    let results = akd_core::verify::key_history_verify::<Config>(
        &keys.vrf.0,
        root.body.root_hash.0,
        root.body.epoch,
        label(email),
        proof,
        HistoryVerificationParams::Default {
            history_params: HistoryParams::Complete,
        },
    )
    .map_err(|e| KtError::BadProof(e.to_string()))?;
    results
        .into_iter()
        .map(|r| {
            Ok(Version {
                version: r.version,
                epoch: r.epoch,
                value: digest_of(&r.value.0)?,
            })
        })
        .collect()
}

/// Two roots, validly signed by the same directory key, that contradict each other about one
/// epoch: proof that the server showed different people different directories. Anyone can
/// check it with the server's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivocation {
    pub a: SignedRoot,
    pub b: SignedRoot,
}

impl Equivocation {
    /// The evidence, if `a` and `b` really are contradicting roots signed by `key`.
    pub fn of(key: &ServerKey, a: SignedRoot, b: SignedRoot) -> Result<Equivocation> {
        let e = Equivocation { a, b };
        e.check(key)?;
        Ok(e)
    }

    pub fn check(&self, key: &ServerKey) -> Result<()> {
        self.a.verify(key)?;
        self.b.verify(key)?;
        if self.a.contradicts(&self.b) {
            Ok(())
        } else {
            Err(KtError::NotEquivocation)
        }
    }
}

/// What a new key signs to show the server it is held by whoever publishes it.
#[derive(Serialize)]
struct PossessionBody<'a> {
    version: u16,
    /// The account, by its canonical email.
    email: &'a str,
    /// The server, by its directory key (so the proof cannot be replayed to another server).
    server: &'a ServerKey,
    /// The key being published.
    identity: &'a IdentityKey,
    time: Timestamp,
}

/// A proof that the publisher of an identity bundle holds its signing key, for one account on
/// one server, at one time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPossession {
    pub time: Timestamp,
    pub signature: Signature,
}

impl KeyPossession {
    fn body(email: &str, server: &ServerKey, identity: &IdentityKey, time: Timestamp) -> Vec<u8> {
        let email = normalize_email(email);
        codec::encode(&PossessionBody {
            version: POSSESSION_VERSION,
            email: &email,
            server,
            identity,
            time,
        })
    }

    /// Prove possession of `identity`'s keys for `email` on the server whose directory key is
    /// `server`.
    pub fn prove(
        identity: &SecretIdentity,
        email: &str,
        server: &ServerKey,
        now: Timestamp,
    ) -> KeyPossession {
        let body = Self::body(email, server, &identity.key(), now);
        KeyPossession {
            time: now,
            signature: identity.sign(Context::KeyPossession, &body),
        }
    }

    /// Check the proof for `bundle` (server side), at the server's time `now`.
    pub fn verify(
        &self,
        bundle: &PublicIdentity,
        email: &str,
        server: &ServerKey,
        now: Timestamp,
    ) -> Result<()> {
        let body = Self::body(email, server, &bundle.signing, self.time);
        bundle
            .signing
            .verify(Context::KeyPossession, &body, &self.signature)
            .map_err(|_| KtError::BadPossession)?;
        let skew = self.time.0.abs_diff(now.0);
        if skew > POSSESSION_WINDOW_MS {
            return Err(KtError::StalePossession);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::fixtures::{T0, identities};

    fn server() -> (ed25519_dalek::SigningKey, DirectoryKeys) {
        let k = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let keys = DirectoryKeys {
            signing: ServerKey(k.verifying_key().to_bytes()),
            vrf: VrfKey([6; 32]),
        };
        (k, keys)
    }

    fn body(epoch: u64, root: u8, previous: u8, time: Timestamp) -> RootBody {
        RootBody {
            version: ROOT_VERSION,
            epoch,
            root_hash: Digest([root; 32]),
            previous: Digest([previous; 32]),
            time,
        }
    }

    #[test]
    fn emails_are_canonical() {
        assert_eq!(normalize_email("  Bob@Example.ORG "), "bob@example.org");
        assert_eq!(label("Bob@Example.org"), label("bob@example.org "));
        assert_ne!(label("bob@example.org"), label("bob2@example.org"));
    }

    #[test]
    fn roots_verify_and_chain() {
        let (k, keys) = server();
        let r1 = SignedRoot::sign(&k, body(1, 1, 0, T0));
        let r2 = SignedRoot::sign(&k, body(2, 2, 1, T0));
        assert_eq!(r1.verify(&keys.signing), Ok(()));
        assert!(r1.chains_to(&r2));
        assert!(!r2.chains_to(&r1));
        assert_eq!(SignedRoot::from_bytes(&r1.to_bytes()), Ok(r1));
        let mut forged = r1;
        forged.body.root_hash = Digest([9; 32]);
        assert_eq!(forged.verify(&keys.signing), Err(KtError::BadRootSignature));
        let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let by_other = SignedRoot::sign(&other, body(1, 1, 0, T0));
        assert_eq!(
            by_other.verify(&keys.signing),
            Err(KtError::BadRootSignature)
        );
        // The signature is domain separated: a consent token's context does not verify.
        let raw = codec::encode(&r1.body);
        let sig = sign::sign(&k, Context::ConsentToken, &raw);
        let wrong = SignedRoot {
            body: r1.body,
            signature: sig,
        };
        assert_eq!(wrong.verify(&keys.signing), Err(KtError::BadRootSignature));
    }

    #[test]
    fn freshness_and_rollback() {
        let (k, keys) = server();
        let now = T0.plus_millis(MAX_ROOT_AGE_MS);
        let root = SignedRoot::sign(&k, body(4, 4, 3, T0));
        assert_eq!(
            check_root(&keys, &root, now, MAX_ROOT_AGE_MS, Some(4)),
            Ok(())
        );
        assert_eq!(
            check_root(&keys, &root, now.plus_millis(1), MAX_ROOT_AGE_MS, None),
            Err(KtError::StaleRoot { minutes: 5 })
        );
        assert_eq!(
            check_root(&keys, &root, now, MAX_ROOT_AGE_MS, Some(5)),
            Err(KtError::RolledBack {
                epoch: 4,
                newest: 5
            })
        );
        let future = SignedRoot::sign(&k, body(4, 4, 3, T0.plus_millis(MAX_CLOCK_SKEW_MS + 1)));
        assert_eq!(
            check_root(&keys, &future, T0, MAX_ROOT_AGE_MS, None),
            Err(KtError::FutureRoot)
        );
        let mut unsigned = root;
        unsigned.signature = Signature([0; 64]);
        assert_eq!(
            check_root(&keys, &unsigned, now, MAX_ROOT_AGE_MS, None),
            Err(KtError::BadRootSignature)
        );
    }

    #[test]
    fn equivocation_needs_a_real_contradiction() {
        let (k, keys) = server();
        let a = SignedRoot::sign(&k, body(3, 3, 2, T0));
        let later = SignedRoot::sign(&k, body(3, 3, 2, T0.plus_millis(60_000)));
        assert_eq!(
            Equivocation::of(&keys.signing, a, later),
            Err(KtError::NotEquivocation),
            "the same epoch re-signed later is not a contradiction"
        );
        let fork = SignedRoot::sign(&k, body(3, 8, 2, T0));
        let e = Equivocation::of(&keys.signing, a, fork).unwrap();
        assert_eq!(e.check(&keys.signing), Ok(()));
        let rewritten_past = SignedRoot::sign(&k, body(3, 3, 7, T0));
        assert!(Equivocation::of(&keys.signing, a, rewritten_past).is_ok());
        let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let foreign = SignedRoot::sign(&other, body(3, 8, 2, T0));
        assert_eq!(
            Equivocation::of(&keys.signing, a, foreign),
            Err(KtError::BadRootSignature)
        );
    }

    #[test]
    fn possession_binds_account_server_key_and_time() {
        let ids = identities(2);
        let (_, keys) = server();
        let p = KeyPossession::prove(&ids[0], "Ann@example.org", &keys.signing, T0);
        let bundle = ids[0].public();
        assert_eq!(
            p.verify(bundle, "ann@example.org", &keys.signing, T0),
            Ok(())
        );
        assert_eq!(
            p.verify(bundle, "eve@example.org", &keys.signing, T0),
            Err(KtError::BadPossession),
            "another account"
        );
        assert_eq!(
            p.verify(bundle, "ann@example.org", &ServerKey([1; 32]), T0),
            Err(KtError::BadPossession),
            "another server"
        );
        assert_eq!(
            p.verify(ids[1].public(), "ann@example.org", &keys.signing, T0),
            Err(KtError::BadPossession),
            "another key"
        );
        assert_eq!(
            p.verify(
                bundle,
                "ann@example.org",
                &keys.signing,
                T0.plus_millis(POSSESSION_WINDOW_MS + 1)
            ),
            Err(KtError::StalePossession)
        );
    }

    #[test]
    fn values_and_tombstones() {
        let ids = identities(2);
        let v = value(ids[0].public());
        let proven = Proven {
            epoch: 2,
            version: 1,
            published_epoch: 1,
            value: v,
        };
        assert_eq!(proven.check(ids[0].public()), Ok(()));
        assert_eq!(proven.check(ids[1].public()), Err(KtError::KeyMismatch));
        let gone = Proven {
            value: deleted_value(),
            ..proven
        };
        assert_eq!(gone.check(ids[0].public()), Err(KtError::Deleted));
    }

    #[test]
    fn malformed_proofs_are_errors() {
        assert!(matches!(
            decode_lookup(b"\xff\xff"),
            Err(KtError::Malformed(_))
        ));
        assert!(matches!(
            decode_lookup(&vec![0; MAX_LOOKUP_PROOF + 1]),
            Err(KtError::Malformed(_))
        ));
        // An empty message parses as protobuf but lacks every required field.
        assert!(matches!(decode_lookup(b""), Err(KtError::Malformed(_))));
        // An empty history parses (only repeated fields) but proves nothing.
        let (k, keys) = server();
        let root = SignedRoot::sign(&k, body(1, 1, 0, T0));
        assert!(matches!(
            verify_history(&keys, &root, "ann@example.org", b""),
            Err(KtError::BadProof(_))
        ));
    }
}
