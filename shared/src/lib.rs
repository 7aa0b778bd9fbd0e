//! Assent's pure core.
//!
//! Everything here is free of sockets, async runtimes, windows and media frameworks: wire types,
//! identities and signatures, client-side password derivation and the key backup, consent tokens
//! and the consent state machine, and the encrypted recording container.
//!
//! Bad input anywhere in this crate gives a typed error, never a panic.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod backup;
pub mod bytes;
pub mod call;
pub mod codec;
pub mod consent;
pub mod container;
pub mod identity;
pub mod ids;
pub mod password;
pub mod sign;
pub mod signal;
pub mod time;
pub mod transparency;

pub use identity::{IdentityKey, PublicIdentity, SecretIdentity};
pub use ids::{CallId, DeviceId, RecordingId};
pub use time::Timestamp;

/// A SHA-256 digest, used for content addresses and hash chains.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// SHA-256 over a domain-separation label followed by each part, each part length-prefixed
    /// so that no two different part lists hash the same input.
    pub fn of(label: &str, parts: &[&[u8]]) -> Digest {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        h.update((label.len() as u64).to_be_bytes());
        h.update(label.as_bytes());
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        Digest(h.finalize().into())
    }

    /// Plain SHA-256 of a byte string (e.g. a segment's ciphertext, so anyone can check it).
    pub fn sha256(data: &[u8]) -> Digest {
        use sha2::{Digest as _, Sha256};
        Digest(Sha256::digest(data).into())
    }

    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({})", &self.to_hex()[..16])
    }
}

bytes::serde_fixed!(Digest, 32);
