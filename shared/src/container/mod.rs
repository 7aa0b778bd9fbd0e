//! The recording container.
//!
//! A recording is a flat set of files (a directory locally, objects in S3):
//! - `segment-NNNNNN.age`: one segment of a few seconds, the `age` v1 format encrypted to every
//!   consenting participant's X25519 key (see [`segment`]);
//! - `manifest.asm`: the signed manifest, rewritten atomically after every segment.
//!
//! The manifest binds everything: format version, ids, every consent epoch (the proposals), every
//! consent token, the segment list (size, SHA-256 of the ciphertext, who was present, and a hash
//! chain), start and end, all signed by the recorder's identity key. Anyone can check integrity
//! and consent without decrypting; participants decrypt with their own key.
//!
//! File layout of `manifest.asm`: `MAGIC (8) || body || signer key (32) || signature (64)`, where
//! `body` is the canonical encoding of [`Manifest`] and the signature uses the
//! `Manifest` context.

pub mod head;
pub mod segment;
mod store;
mod verify;
mod writer;

pub use head::{Contradiction, Head, HeadError, SignedHead};
pub use store::{DirStore, MemStore, Store};
pub use verify::{Note, Problem, Report, Verdict, read_manifest, verify, verify_manifest};
pub use writer::RecordingWriter;

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::consent::{ConsentToken, EndReason, Proposal};
use crate::identity::IdentityKey;
use crate::sign::{Context, Signature};
use crate::{CallId, Digest, RecordingId, Timestamp};

/// The manifest version written. Version 2: a segment of an extended epoch must be covered by
/// a token *for that epoch* from everyone present in it (a newcomer was agreed to by all).
/// Version 1 (read only): a token for any epoch up to the segment's counted.
pub const MANIFEST_VERSION: u16 = 2;
/// Every manifest version this code reads.
pub const MANIFEST_VERSIONS: [u16; 2] = [1, 2];
pub const MANIFEST_MAGIC: &[u8; 8] = b"ASNTREC\x01";
pub const MANIFEST_NAME: &str = "manifest.asm";
pub const MAX_MANIFEST_BYTES: usize = 32 * 1024 * 1024;
/// Largest segment file the reader accepts.
pub const MAX_SEGMENT_BYTES: u64 = 600 * 1024 * 1024;

/// The file name of segment `index`.
pub fn segment_name(index: u32) -> String {
    format!("segment-{index:06}.age")
}

/// Parse a segment file name back to its index.
pub fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".age")?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a segment carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Track {
    /// Muxed media (e.g. a Matroska/WebM chunk), as received, not transcoded.
    Media,
    /// Chat messages sent during the recording.
    Chat,
}

/// One segment's entry in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub index: u32,
    pub track: Track,
    /// The consent epoch in force while it was recorded.
    pub epoch: u32,
    /// Who was present while it was recorded; each must hold a token.
    pub present: Vec<IdentityKey>,
    /// Offset of its start from the recording's start.
    pub start_ms: u64,
    pub duration_ms: u32,
    /// Size and SHA-256 of the ciphertext file.
    pub size: u64,
    pub sha256: Digest,
    /// Hash chain link: binds this entry to every entry before it.
    pub chain: Digest,
}

/// How and when the recording ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ending {
    pub at: Timestamp,
    /// Why, with the signed withdrawal or decline when one ended it.
    pub reason: Option<EndReason>,
}

/// The recording's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u16,
    pub recording_id: RecordingId,
    pub call_id: CallId,
    pub epochs: Vec<Proposal>,
    pub tokens: Vec<ConsentToken>,
    pub started_at: Timestamp,
    pub segments: Vec<SegmentEntry>,
    /// `None` while recording, or if the recorder crashed.
    pub ended: Option<Ending>,
}

impl Manifest {
    /// The recorder: the proposer of the first epoch.
    pub fn recorder(&self) -> Option<IdentityKey> {
        self.epochs.first().map(|p| p.terms.proposer)
    }

    /// The seed of the segment hash chain.
    pub fn chain_seed(&self) -> Digest {
        let first = self
            .epochs
            .first()
            .map(Proposal::digest)
            .unwrap_or(Digest([0; 32]));
        Digest::of(
            "assent/v1/segment-chain-seed",
            &[&self.recording_id.0, &first.0],
        )
    }

    /// Encode and sign: the bytes of `manifest.asm`.
    pub fn sign(&self, recorder: &crate::SecretIdentity) -> Vec<u8> {
        let body = codec::encode(self);
        let sig = recorder.sign(Context::Manifest, &body);
        let mut out = Vec::with_capacity(8 + body.len() + 96);
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&body);
        out.extend_from_slice(&recorder.key().0);
        out.extend_from_slice(&sig.0);
        out
    }
}

/// The link after `prev` for `entry` (its `chain` field is ignored).
pub fn chain_link(prev: &Digest, entry: &SegmentEntry) -> Digest {
    #[derive(Serialize)]
    struct Link<'a> {
        index: u32,
        track: Track,
        epoch: u32,
        present: &'a [IdentityKey],
        start_ms: u64,
        duration_ms: u32,
        size: u64,
        sha256: &'a Digest,
    }
    let link = codec::encode(&Link {
        index: entry.index,
        track: entry.track,
        epoch: entry.epoch,
        present: &entry.present,
        start_ms: entry.start_ms,
        duration_ms: entry.duration_ms,
        size: entry.size,
        sha256: &entry.sha256,
    });
    Digest::of("assent/v1/segment-chain", &[&prev.0, &link])
}

/// Errors of the container.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("no manifest found")]
    NoManifest,
    #[error("manifest is not an Assent recording manifest")]
    NotAManifest,
    #[error("manifest encoding: {0}")]
    Codec(#[from] CodecError),
    #[error("manifest signature does not verify")]
    BadManifestSignature,
    #[error("consent: {0}")]
    Consent(#[from] crate::consent::ConsentError),
    #[error("refusing to write: {0:?} has not consented to the current participant set")]
    NotConsented(IdentityKey),
    #[error("the recorder key is not the proposer of this recording")]
    NotRecorder,
    #[error("a recording already exists here")]
    AlreadyExists,
    #[error("the recording is finished")]
    Finished,
    #[error("segment too large")]
    TooLarge,
    #[error("encryption failed")]
    Encrypt,
    #[error("decryption failed: not a recipient, or the segment is damaged")]
    Decrypt,
    #[error("no such segment")]
    NoSuchSegment,
}

/// Parse `manifest.asm` bytes: magic, canonical body, signer and signature (checked).
pub fn parse_signed(bytes: &[u8]) -> Result<(Manifest, IdentityKey), ContainerError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: MAX_MANIFEST_BYTES,
        }
        .into());
    }
    let rest = bytes
        .strip_prefix(MANIFEST_MAGIC)
        .ok_or(ContainerError::NotAManifest)?;
    if rest.len() < 96 {
        return Err(ContainerError::Codec(CodecError::Malformed));
    }
    let (body, tail) = rest.split_at(rest.len() - 96);
    let (key, sig) = tail.split_at(32);
    let signer = IdentityKey(key.try_into().map_err(|_| CodecError::Malformed)?);
    let signature = Signature(sig.try_into().map_err(|_| CodecError::Malformed)?);
    signer
        .verify(Context::Manifest, body, &signature)
        .map_err(|_| ContainerError::BadManifestSignature)?;
    let manifest: Manifest = codec::decode(body, MAX_MANIFEST_BYTES)?;
    if !MANIFEST_VERSIONS.contains(&manifest.version) {
        return Err(CodecError::UnsupportedVersion(manifest.version).into());
    }
    Ok((manifest, signer))
}

/// Decrypt segment `index` of the recording in `store` with a participant's identity, after
/// checking its size and hash against the manifest.
pub fn decrypt_segment(
    store: &impl Store,
    manifest: &Manifest,
    index: u32,
    identity: &age::x25519::Identity,
) -> Result<zeroize::Zeroizing<Vec<u8>>, ContainerError> {
    let bytes = checked_segment(store, manifest, index)?;
    segment::decrypt(identity, &bytes)
}

/// Like [`decrypt_segment`], streaming the plaintext into `sink`; returns its length.
pub fn decrypt_segment_to(
    store: &impl Store,
    manifest: &Manifest,
    index: u32,
    identity: &age::x25519::Identity,
    sink: impl std::io::Write,
) -> Result<u64, ContainerError> {
    let bytes = checked_segment(store, manifest, index)?;
    segment::decrypt_to(identity, &bytes, sink)
}

/// Read segment `index` and check its size and hash against the manifest.
fn checked_segment(
    store: &impl Store,
    manifest: &Manifest,
    index: u32,
) -> Result<Vec<u8>, ContainerError> {
    let entry = manifest
        .segments
        .get(index as usize)
        .ok_or(ContainerError::NoSuchSegment)?;
    let bytes = store.get(&segment_name(index), MAX_SEGMENT_BYTES)?;
    if bytes.len() as u64 != entry.size || Digest::sha256(&bytes) != entry.sha256 {
        return Err(ContainerError::Decrypt);
    }
    Ok(bytes)
}
