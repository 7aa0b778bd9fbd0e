//! Domain-separated Ed25519 signatures, verified strictly.
//!
//! Every signature Assent makes is over `"assent-sig-v1" || len(context) || context || message`,
//! where the context names the purpose. A signature made for one purpose therefore never verifies
//! for another, even over identical message bytes. Verification uses `verify_strict` (rejects
//! small-order keys and non-canonical `R`/`s`).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// The purposes Assent signs for. Never reuse a context for a new meaning: add one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// The identity bundle: the X25519 key bound to the Ed25519 key.
    IdentityBundle,
    /// A consent token over a recording proposal.
    ConsentToken,
    /// A decline or withdrawal.
    ConsentNotice,
    /// A recording manifest.
    Manifest,
    /// A DTLS certificate fingerprint bound to a call and the two peers.
    DtlsFingerprint,
    /// An end-to-end signaling envelope.
    Envelope,
    /// A key directory epoch root, signed by the server's directory key.
    DirectoryRoot,
    /// Proof that whoever publishes an identity key holds it.
    KeyPossession,
    /// A recording's segment chain head, as the recorder showed it to the participants.
    RecordingHead,
}

impl Context {
    pub fn label(self) -> &'static [u8] {
        match self {
            Context::IdentityBundle => b"assent/v1/identity-bundle",
            Context::ConsentToken => b"assent/v1/consent-token",
            Context::ConsentNotice => b"assent/v1/consent-notice",
            Context::Manifest => b"assent/v1/recording-manifest",
            Context::DtlsFingerprint => b"assent/v1/dtls-fingerprint",
            Context::Envelope => b"assent/v1/signaling-envelope",
            Context::DirectoryRoot => b"assent/v1/directory-root",
            Context::KeyPossession => b"assent/v1/key-possession",
            Context::RecordingHead => b"assent/v1/recording-head",
        }
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signature(..)")
    }
}

crate::bytes::serde_fixed!(Signature, 64);

/// The signature did not verify (coarse on purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

fn framed(context: Context, message: &[u8]) -> Vec<u8> {
    let label = context.label();
    let mut m = Vec::with_capacity(16 + label.len() + message.len());
    m.extend_from_slice(b"assent-sig-v1");
    m.push(label.len() as u8);
    m.extend_from_slice(label);
    m.extend_from_slice(message);
    m
}

/// Sign `message` for `context`.
pub fn sign(key: &SigningKey, context: Context, message: &[u8]) -> Signature {
    Signature(key.sign(&framed(context, message)).to_bytes())
}

/// Verify a signature made by [`sign`] for the same context, strictly.
pub fn verify(
    key: &[u8; 32],
    context: Context,
    message: &[u8],
    signature: &Signature,
) -> Result<(), BadSignature> {
    verify_raw_strict(key, &framed(context, message), &signature.0)
}

/// Plain Ed25519 verification of `message` (no context), strict: canonical `s` and `R`, no
/// small-order key or `R`. The building block of [`verify`]; exposed for test vectors.
pub fn verify_raw_strict(
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), BadSignature> {
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature[32..]);
    if bool::from(curve25519_dalek::Scalar::from_canonical_bytes(s).is_none()) {
        return Err(BadSignature);
    }
    let vk = VerifyingKey::from_bytes(key).map_err(|_| BadSignature)?;
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    vk.verify_strict(message, &sig).map_err(|_| BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_separate_domains() {
        let k = SigningKey::from_bytes(&[7; 32]);
        let pk = k.verifying_key().to_bytes();
        let s = sign(&k, Context::ConsentToken, b"same bytes");
        assert_eq!(
            verify(&pk, Context::ConsentToken, b"same bytes", &s),
            Ok(())
        );
        assert_eq!(
            verify(&pk, Context::ConsentNotice, b"same bytes", &s),
            Err(BadSignature)
        );
        assert_eq!(
            verify(&pk, Context::ConsentToken, b"other bytes", &s),
            Err(BadSignature)
        );
    }

    #[test]
    fn labels_are_distinct() {
        use Context::*;
        let all = [
            IdentityBundle,
            ConsentToken,
            ConsentNotice,
            Manifest,
            DtlsFingerprint,
            Envelope,
            DirectoryRoot,
            KeyPossession,
            RecordingHead,
        ];
        let labels: std::collections::BTreeSet<_> = all.iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), all.len());
    }

    /// A signature whose `s` has the group order added is the same signature to a lax
    /// verifier (malleability); it must not verify here, whatever features ed25519-dalek was
    /// built with.
    #[test]
    fn non_canonical_s_is_refused() {
        let k = SigningKey::from_bytes(&[7; 32]);
        let pk = k.verifying_key().to_bytes();
        let s = sign(&k, Context::Envelope, b"m");
        assert_eq!(verify(&pk, Context::Envelope, b"m", &s), Ok(()));
        // s + l, where l = 2^252 + 27742317777372353535851937790883648493 (little endian).
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut bumped = s;
        let mut carry = 0u16;
        for (b, l) in bumped.0[32..].iter_mut().zip(L) {
            let v = u16::from(*b) + u16::from(l) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0, "s + l fits in 256 bits for this s");
        assert_eq!(
            verify(&pk, Context::Envelope, b"m", &bumped),
            Err(BadSignature)
        );
    }
}
