//! A participant's witness of how far a recording went: the recorder's signed statement of the
//! segment chain's head (how many entries, the last link, whether it was sealed with an ending).
//!
//! The recorder sends one over the data channel after every segment and when it ends; every
//! participant keeps the newest it saw. Later, a copy of the recording (from the cloud, or from
//! anyone) is compared with it: a server that serves an earlier manifest with the tail dropped
//! still has every signature verify, but not against the head the participant holds.
//!
//! Layout: `HEAD_MAGIC (8) || body || signer key (32) || signature (64)`, where `body` is the
//! canonical encoding of [`Head`] and the signature uses the `RecordingHead` context.

use serde::{Deserialize, Serialize};

use super::Manifest;
use crate::codec::{self, CodecError};
use crate::identity::IdentityKey;
use crate::sign::{Context, Signature};
use crate::{CallId, Digest, RecordingId};

pub const HEAD_MAGIC: &[u8; 8] = b"ASNTHED\x01";
/// A signed head is small; anything larger is refused before its signature is checked.
pub const MAX_HEAD_BYTES: usize = 512;

/// Where a recording's segment chain stood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub recording_id: RecordingId,
    pub call_id: CallId,
    /// How many manifest entries (segments of every track) the chain holds.
    pub segments: u32,
    /// The chain link of the last entry (the chain seed when there is none).
    pub chain: Digest,
    /// The recorder sealed the recording with a signed ending.
    pub ended: bool,
}

impl Head {
    /// The head of what `manifest` lists.
    pub fn of(manifest: &Manifest) -> Head {
        Head {
            recording_id: manifest.recording_id,
            call_id: manifest.call_id,
            segments: manifest.segments.len() as u32,
            chain: manifest
                .segments
                .last()
                .map(|s| s.chain)
                .unwrap_or_else(|| manifest.chain_seed()),
            ended: manifest.ended.is_some(),
        }
    }

    /// Sign as the recorder: the bytes participants keep.
    pub fn sign(&self, recorder: &crate::SecretIdentity) -> SignedHead {
        let body = codec::encode(self);
        let sig = recorder.sign(Context::RecordingHead, &body);
        let mut out = Vec::with_capacity(8 + body.len() + 96);
        out.extend_from_slice(HEAD_MAGIC);
        out.extend_from_slice(&body);
        out.extend_from_slice(&recorder.key().0);
        out.extend_from_slice(&sig.0);
        SignedHead(out)
    }

    /// Does a recording's manifest agree with this witness? `None` when it does (or when the
    /// witness is of another recording).
    pub fn contradiction(&self, manifest: &Manifest) -> Option<Contradiction> {
        if self.recording_id != manifest.recording_id || self.call_id != manifest.call_id {
            return None;
        }
        let listed = manifest.segments.len() as u32;
        if self.segments > listed {
            return Some(Contradiction::Cut {
                witnessed: self.segments,
                listed,
                sealed: self.ended,
            });
        }
        let chain = match self.segments {
            0 => manifest.chain_seed(),
            n => manifest.segments[n as usize - 1].chain,
        };
        if chain != self.chain {
            return Some(Contradiction::OtherHistory {
                segment: self.segments.saturating_sub(1),
            });
        }
        if self.ended && (listed != self.segments || manifest.ended.is_none()) {
            return Some(Contradiction::Cut {
                witnessed: self.segments,
                listed,
                sealed: true,
            });
        }
        None
    }
}

/// How a copy of a recording disagrees with the head a participant witnessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contradiction {
    /// The recorder showed `witnessed` entries (and, if `sealed`, its signed ending), and the
    /// copy lists `listed`: the end is missing, or (sealed, yet more listed) was rewritten.
    Cut {
        witnessed: u32,
        listed: u32,
        sealed: bool,
    },
    /// The copy's chain at the witnessed point is not the one the recorder showed: segments
    /// up to `segment` were replaced.
    OtherHistory { segment: u32 },
}

/// A head as the recorder signed it (what goes over the data channel and into the local store).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHead(pub Vec<u8>);

impl std::fmt::Debug for SignedHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignedHead({} bytes)", self.0.len())
    }
}

/// Why a signed head is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("not a recording head")]
    NotAHead,
    #[error("the recording head is malformed: {0}")]
    Codec(#[from] CodecError),
    #[error("the recording head's signature does not verify")]
    BadSignature,
}

impl SignedHead {
    /// Check the signature; the head and who signed it.
    pub fn open(&self) -> Result<(Head, IdentityKey), HeadError> {
        let bytes = &self.0;
        if bytes.len() > MAX_HEAD_BYTES {
            return Err(CodecError::TooLarge {
                len: bytes.len(),
                max: MAX_HEAD_BYTES,
            }
            .into());
        }
        let rest = bytes.strip_prefix(HEAD_MAGIC).ok_or(HeadError::NotAHead)?;
        if rest.len() < 96 {
            return Err(HeadError::Codec(CodecError::Malformed));
        }
        let (body, tail) = rest.split_at(rest.len() - 96);
        let (key, sig) = tail.split_at(32);
        let signer = IdentityKey(key.try_into().map_err(|_| CodecError::Malformed)?);
        let signature = Signature(sig.try_into().map_err(|_| CodecError::Malformed)?);
        signer
            .verify(Context::RecordingHead, body, &signature)
            .map_err(|_| HeadError::BadSignature)?;
        let head: Head = codec::decode(body, MAX_HEAD_BYTES)?;
        Ok((head, signer))
    }
}
