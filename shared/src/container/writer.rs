//! The recorder's side: plaintext segments come in (in memory), ciphertext goes out.
//!
//! Order of writes, for crash safety: the segment file first (atomically), then the re-signed
//! manifest (atomically). A crash therefore loses at most the segment in progress; everything the
//! manifest lists is on disk, and the manifest opens as incomplete (no `ended`).

use std::sync::Arc;

use super::{
    ContainerError, Ending, MANIFEST_NAME, MANIFEST_VERSION, Manifest, SegmentEntry, Store, Track,
    chain_link, segment, segment_name,
};
use crate::consent::{ConsentToken, EndReason, Proposal, check_chain};
use crate::identity::{EncryptionKey, IdentityKey};
use crate::{Digest, SecretIdentity, Timestamp};

/// Writes one recording into a [`Store`].
pub struct RecordingWriter<S: Store> {
    store: S,
    recorder: Arc<SecretIdentity>,
    manifest: Manifest,
    chain_head: Digest,
    /// Reused for every segment's ciphertext.
    buffer: Vec<u8>,
}

impl<S: Store> std::fmt::Debug for RecordingWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordingWriter({}, {} segments)",
            self.manifest.recording_id,
            self.manifest.segments.len()
        )
    }
}

impl<S: Store> RecordingWriter<S> {
    /// Start a recording. `epochs` and `tokens` are the consent collected so far (from the
    /// consent machine); the recorder must be the proposer.
    pub fn create(
        store: S,
        recorder: Arc<SecretIdentity>,
        epochs: &[Proposal],
        tokens: &[ConsentToken],
        started_at: Timestamp,
    ) -> Result<Self, ContainerError> {
        check_chain(epochs)?;
        let first = &epochs[0];
        if first.terms.proposer != recorder.key() {
            return Err(ContainerError::NotRecorder);
        }
        if store.list()?.iter().any(|n| n == MANIFEST_NAME) {
            return Err(ContainerError::AlreadyExists);
        }
        let mut manifest = Manifest {
            version: MANIFEST_VERSION,
            recording_id: first.terms.recording_id,
            call_id: first.terms.call_id,
            epochs: vec![],
            tokens: vec![],
            started_at,
            segments: vec![],
            ended: None,
        };
        merge_consent(&mut manifest, epochs, tokens)?;
        let chain_head = manifest.chain_seed();
        let w = RecordingWriter {
            store,
            recorder,
            manifest,
            chain_head,
            buffer: Vec::new(),
        };
        w.persist()?;
        Ok(w)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Add new epochs and tokens (the known ones must be a prefix of what is given).
    pub fn update_consent(
        &mut self,
        epochs: &[Proposal],
        tokens: &[ConsentToken],
    ) -> Result<(), ContainerError> {
        self.ensure_open()?;
        merge_consent(&mut self.manifest, epochs, tokens)?;
        self.persist()
    }

    fn ensure_open(&self) -> Result<(), ContainerError> {
        if self.manifest.ended.is_some() {
            Err(ContainerError::Finished)
        } else {
            Ok(())
        }
    }

    /// Who this segment is encrypted to: the current epoch's members who hold a token.
    fn recipients(&self) -> Vec<EncryptionKey> {
        let current = self.manifest.epochs.last();
        current
            .map(|p| {
                p.participants
                    .iter()
                    .filter(|m| self.manifest.tokens.iter().any(|t| t.signer() == m.signing))
                    .map(|m| m.encryption)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Encrypt and store one segment, then re-sign the manifest. Refuses (writing nothing) if
    /// anyone in `present` lacks consent for the current participant set.
    pub fn write_segment(
        &mut self,
        track: Track,
        plaintext: &[u8],
        present: &[IdentityKey],
        start_ms: u64,
        duration_ms: u32,
    ) -> Result<&SegmentEntry, ContainerError> {
        self.ensure_open()?;
        let current = self
            .manifest
            .epochs
            .last()
            .ok_or(ContainerError::NotRecorder)?;
        let mut present = present.to_vec();
        present.sort();
        present.dedup();
        for key in &present {
            // Everyone present signed the current epoch (its participant set), as verification
            // will require of this manifest version.
            let consented = current.is_member(key)
                && self
                    .manifest
                    .tokens
                    .iter()
                    .any(|t| &t.signer() == key && t.body.epoch == current.epoch);
            if !consented {
                return Err(ContainerError::NotConsented(*key));
            }
        }
        let epoch = current.epoch;
        let recipients = self.recipients();
        segment::encrypt_into(&recipients, plaintext, &mut self.buffer)?;
        let ciphertext = &self.buffer;
        let index =
            u32::try_from(self.manifest.segments.len()).map_err(|_| ContainerError::TooLarge)?;
        let mut entry = SegmentEntry {
            index,
            track,
            epoch,
            present,
            start_ms,
            duration_ms,
            size: ciphertext.len() as u64,
            sha256: Digest::sha256(ciphertext),
            chain: Digest([0; 32]),
        };
        entry.chain = chain_link(&self.chain_head, &entry);
        self.store.put(&segment_name(index), ciphertext)?;
        self.chain_head = entry.chain;
        self.manifest.segments.push(entry);
        self.persist()?;
        Ok(&self.manifest.segments[index as usize])
    }

    /// Close the recording: record how it ended and sign the final manifest.
    pub fn finish(
        mut self,
        at: Timestamp,
        reason: Option<EndReason>,
    ) -> Result<Manifest, ContainerError> {
        self.ensure_open()?;
        self.manifest.ended = Some(Ending { at, reason });
        self.persist()?;
        Ok(self.manifest)
    }

    fn persist(&self) -> Result<(), ContainerError> {
        self.store
            .put(MANIFEST_NAME, &self.manifest.sign(&self.recorder))?;
        Ok(())
    }
}

fn merge_consent(
    manifest: &mut Manifest,
    epochs: &[Proposal],
    tokens: &[ConsentToken],
) -> Result<(), ContainerError> {
    check_chain(epochs)?;
    if !epochs.starts_with(&manifest.epochs) {
        return Err(crate::consent::ConsentError::BrokenChain.into());
    }
    if epochs[0].terms.recording_id != manifest.recording_id {
        return Err(crate::consent::ConsentError::WrongRecording.into());
    }
    for t in tokens {
        let epoch = epochs
            .get(t.body.epoch as usize)
            .unwrap_or(&epochs[epochs.len() - 1]);
        t.verify(epoch)?;
        match manifest
            .tokens
            .iter()
            .find(|k| k.signer() == t.signer() && k.body.epoch == t.body.epoch)
        {
            Some(known) if known == t => {}
            Some(_) => return Err(crate::consent::ConsentError::Duplicate.into()),
            None => manifest.tokens.push(t.clone()),
        }
    }
    manifest.epochs = epochs.to_vec();
    Ok(())
}
