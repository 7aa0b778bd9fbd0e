//! The reader's side: check a recording without decrypting it, and say exactly what is wrong.

use std::collections::{BTreeMap, BTreeSet};

use super::head::{Contradiction, SignedHead};
use super::{
    ContainerError, MANIFEST_NAME, MAX_SEGMENT_BYTES, Manifest, Store, chain_link,
    parse_segment_name, parse_signed,
};
use crate::consent::{ConsentError, ConsentToken, check_chain};
use crate::identity::IdentityKey;
use crate::{Digest, Timestamp};

/// Something that makes the recording untrustworthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The manifest is validly signed, but not by the recorder the proposal names.
    WrongSigner {
        signer: IdentityKey,
        recorder: Option<IdentityKey>,
    },
    /// The manifest's ids disagree with its proposals.
    IdsMismatch,
    /// The consent epochs do not form a valid chain.
    Epochs(ConsentError),
    /// A token does not verify against the epoch it names (foreign, swapped, forged…).
    Token {
        signer: IdentityKey,
        error: ConsentError,
    },
    /// Two tokens from one signer.
    DuplicateToken {
        signer: IdentityKey,
    },
    /// A segment was recorded while a present participant had not consented.
    MissingConsent {
        segment: u32,
        participant: IdentityKey,
    },
    /// A segment names an epoch the manifest does not have.
    UnknownEpoch {
        segment: u32,
    },
    /// A segment lies outside the consented time window.
    OutsideWindow {
        segment: u32,
    },
    /// Entries are not numbered 0, 1, 2, …
    BadIndex {
        position: usize,
        index: u32,
    },
    /// An entry's chain link does not follow from the entries before it.
    ChainBroken {
        segment: u32,
    },
    SegmentMissing {
        segment: u32,
    },
    SegmentTruncated {
        segment: u32,
        expected: u64,
        actual: u64,
    },
    SegmentTooLong {
        segment: u32,
        expected: u64,
        actual: u64,
    },
    /// Same size, other bytes: a bit flip or a substitution.
    SegmentCorrupt {
        segment: u32,
    },
    /// The file holds the bytes of another segment: reordered.
    SegmentOutOfPlace {
        segment: u32,
        holds: u32,
    },
    /// A file the manifest does not list.
    ExtraFile {
        name: String,
    },
    /// The withdrawal or decline recorded as the ending does not verify.
    BadEndingNotice(ConsentError),
    /// During the call the recorder showed this participant `witnessed` entries (and, when
    /// `sealed`, its signed ending); this copy lists `listed`: its end was cut off.
    CutAgainstWitness {
        witnessed: u32,
        listed: u32,
        sealed: bool,
    },
    /// The chain at the point this participant witnessed is not the one the recorder showed.
    OtherHistoryThanWitnessed {
        segment: u32,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::WrongSigner { signer, .. } => write!(
                f,
                "the manifest is signed by {}, not by the recorder the consent names",
                signer.short()
            ),
            Problem::IdsMismatch => f.write_str(
                "the manifest's recording or call id disagrees with what was consented to",
            ),
            Problem::Epochs(e) => write!(f, "the consent history does not hold together: {e}"),
            Problem::Token { signer, error } => {
                write!(
                    f,
                    "the consent signature of {} does not verify: {error}",
                    signer.short()
                )
            }
            Problem::DuplicateToken { signer } => {
                write!(f, "{} appears to have consented twice", signer.short())
            }
            Problem::MissingConsent {
                segment,
                participant,
            } => write!(
                f,
                "segment {segment} was recorded while {} was present without having consented",
                participant.short()
            ),
            Problem::UnknownEpoch { segment } => {
                write!(
                    f,
                    "segment {segment} names consent that the manifest does not hold"
                )
            }
            Problem::OutsideWindow { segment } => {
                write!(
                    f,
                    "segment {segment} lies outside the time window that was consented to"
                )
            }
            Problem::BadIndex { position, index } => write!(
                f,
                "the segment list is out of order: entry {position} is numbered {index}"
            ),
            Problem::ChainBroken { segment } => write!(
                f,
                "the list of segments was altered at segment {segment} (its link does not follow \
                 from the ones before)"
            ),
            Problem::SegmentMissing { segment } => write!(f, "segment {segment} is missing"),
            Problem::SegmentTruncated {
                segment,
                expected,
                actual,
            } => write!(
                f,
                "segment {segment} is cut short: {actual} of {expected} bytes"
            ),
            Problem::SegmentTooLong {
                segment,
                expected,
                actual,
            } => write!(
                f,
                "segment {segment} is longer than signed: {actual} bytes instead of {expected}"
            ),
            Problem::SegmentCorrupt { segment } => write!(
                f,
                "segment {segment} was changed: its bytes are not the ones the recorder signed"
            ),
            Problem::SegmentOutOfPlace { segment, holds } => write!(
                f,
                "segment {segment}'s file holds segment {holds}: the segments were reordered"
            ),
            Problem::ExtraFile { name } => {
                write!(f, "{name} is not part of the signed recording")
            }
            Problem::BadEndingNotice(e) => {
                write!(
                    f,
                    "the withdrawal or decline that ended it does not verify: {e}"
                )
            }
            Problem::CutAgainstWitness {
                witnessed,
                listed,
                sealed,
            } => write!(
                f,
                "during the call the recorder showed you {witnessed} segment(s){}; this copy \
                 lists {listed}: its end was cut off (or its last part was never uploaded)",
                if *sealed {
                    " and its signed ending"
                } else {
                    ""
                }
            ),
            Problem::OtherHistoryThanWitnessed { segment } => write!(
                f,
                "up to segment {segment} this copy differs from what the recorder showed you \
                 during the call: segments were replaced"
            ),
        }
    }
}

impl Problem {
    /// A stable code for scripts (`--json`).
    pub fn code(&self) -> &'static str {
        match self {
            Problem::WrongSigner { .. } => "wrong_signer",
            Problem::IdsMismatch => "ids_mismatch",
            Problem::Epochs(_) => "bad_epochs",
            Problem::Token { .. } => "bad_token",
            Problem::DuplicateToken { .. } => "duplicate_token",
            Problem::MissingConsent { .. } => "missing_consent",
            Problem::UnknownEpoch { .. } => "unknown_epoch",
            Problem::OutsideWindow { .. } => "outside_window",
            Problem::BadIndex { .. } => "bad_index",
            Problem::ChainBroken { .. } => "chain_broken",
            Problem::SegmentMissing { .. } => "segment_missing",
            Problem::SegmentTruncated { .. } => "segment_truncated",
            Problem::SegmentTooLong { .. } => "segment_too_long",
            Problem::SegmentCorrupt { .. } => "segment_corrupt",
            Problem::SegmentOutOfPlace { .. } => "segment_out_of_place",
            Problem::ExtraFile { .. } => "extra_file",
            Problem::BadEndingNotice(_) => "bad_ending_notice",
            Problem::CutAgainstWitness { .. } => "cut_against_witness",
            Problem::OtherHistoryThanWitnessed { .. } => "other_history_than_witnessed",
        }
    }
}

/// What a reader may conclude.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signed from start to its signed ending; every consent and every segment verifies.
    Intact,
    /// What is listed verifies, but there is no signed ending: the recorder crashed, is still
    /// recording, or someone (a server) is showing an earlier manifest with the tail cut off.
    Incomplete,
    /// Something does not verify.
    Tampered,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Intact => "intact",
            Verdict::Incomplete => "incomplete",
            Verdict::Tampered => "tampered",
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Incomplete => f.write_str("the recording has no signed ending"),
            Note::UnlistedTrailingSegment { name } => write!(
                f,
                "{name}: the segment being written when the recorder stopped (not covered by \
                 the signature, left out)"
            ),
            Note::TemporaryFile { name } => {
                write!(f, "{name}: a leftover temporary file (ignored)")
            }
            Note::Witnessed { segments, sealed } => write!(
                f,
                "agrees with what the recorder showed you during the call ({segments} \
                 segment(s){})",
                if *sealed {
                    " and its signed ending"
                } else {
                    ""
                }
            ),
        }
    }
}

/// Something worth saying that is not an integrity failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The manifest has no end: the recorder crashed or is still recording.
    Incomplete,
    /// The segment being written when the recorder stopped (not listed, so not verifiable).
    UnlistedTrailingSegment { name: String },
    /// A leftover temporary file from an interrupted write.
    TemporaryFile { name: String },
    /// The recording agrees with the chain head this participant witnessed during the call.
    Witnessed { segments: u32, sealed: bool },
}

/// The verdict on one recording.
#[derive(Clone, Debug)]
pub struct Report {
    pub manifest: Manifest,
    pub signer: IdentityKey,
    pub problems: Vec<Problem>,
    pub notes: Vec<Note>,
}

impl Report {
    /// Everything the manifest lists verifies (an incomplete recording can verify).
    pub fn verifies(&self) -> bool {
        self.problems.is_empty()
    }

    /// Intact means verified **and** sealed with a signed ending: a manifest without one may
    /// be an earlier version with the tail cut off, and is never called intact.
    pub fn is_intact(&self) -> bool {
        self.verdict() == Verdict::Intact
    }

    pub fn verdict(&self) -> Verdict {
        if !self.problems.is_empty() {
            Verdict::Tampered
        } else if self.manifest.ended.is_none() {
            Verdict::Incomplete
        } else {
            Verdict::Intact
        }
    }

    pub fn is_complete(&self) -> bool {
        self.manifest.ended.is_some()
    }

    /// Compare with the chain heads this participant witnessed during the call (see
    /// [`super::head`]). Only heads the manifest's recorder signed, for this recording,
    /// count. A contradiction with any of them is a problem: the copy is not what was recorded.
    pub fn compare_with_witnesses(&mut self, witnesses: &[SignedHead]) {
        let recorder = self.manifest.recorder();
        let heads: Vec<_> = witnesses
            .iter()
            .filter_map(|w| w.open().ok())
            .filter(|(h, signer)| {
                Some(*signer) == recorder
                    && h.recording_id == self.manifest.recording_id
                    && h.call_id == self.manifest.call_id
            })
            .map(|(h, _)| h)
            .collect();
        let mut found = Vec::new();
        for head in &heads {
            let problem = match head.contradiction(&self.manifest) {
                Some(Contradiction::Cut {
                    witnessed,
                    listed,
                    sealed,
                }) => Problem::CutAgainstWitness {
                    witnessed,
                    listed,
                    sealed,
                },
                Some(Contradiction::OtherHistory { segment }) => {
                    Problem::OtherHistoryThanWitnessed { segment }
                }
                None => continue,
            };
            if !found.contains(&problem) {
                found.push(problem);
            }
        }
        if found.is_empty() {
            if let Some(head) = heads.iter().max_by_key(|h| (h.segments, h.ended)) {
                self.notes.push(Note::Witnessed {
                    segments: head.segments,
                    sealed: head.ended,
                });
            }
        } else {
            self.problems.extend(found);
        }
    }

    /// Who consented, to which epoch, when: the tokens that verified.
    pub fn consents(&self) -> Vec<(IdentityKey, u32, Timestamp)> {
        let bad: BTreeSet<IdentityKey> = self
            .problems
            .iter()
            .filter_map(|p| match p {
                Problem::Token { signer, .. } | Problem::DuplicateToken { signer } => Some(*signer),
                _ => None,
            })
            .collect();
        self.manifest
            .tokens
            .iter()
            .filter(|t| !bad.contains(&t.signer()))
            .map(|t| (t.signer(), t.body.epoch, t.body.signed_at))
            .collect()
    }
}

/// Read and check the signature of a store's manifest.
pub fn read_manifest(store: &impl Store) -> Result<(Manifest, IdentityKey), ContainerError> {
    let bytes = match store.get(MANIFEST_NAME, super::MAX_MANIFEST_BYTES as u64) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContainerError::NoManifest);
        }
        Err(e) => return Err(e.into()),
    };
    parse_signed(&bytes)
}

/// Check a manifest on its own (what a server can check without any segment): its signature,
/// that the recorder signed it, and its consent (epochs chained, every token valid, everyone
/// present in a segment consented). Segments are not looked at.
pub fn verify_manifest(
    bytes: &[u8],
) -> Result<(Manifest, IdentityKey, Vec<Problem>), ContainerError> {
    let (manifest, signer) = parse_signed(bytes)?;
    let mut problems = Vec::new();
    let recorder = manifest.recorder();
    if recorder != Some(signer) {
        problems.push(Problem::WrongSigner { signer, recorder });
    }
    check_consent(&manifest, &mut problems);
    Ok((manifest, signer, problems))
}

/// Verify a whole recording. An unreadable or unsigned manifest is an error (nothing in it can be
/// trusted); everything else is reported as problems and notes.
pub fn verify(store: &impl Store) -> Result<Report, ContainerError> {
    let (manifest, signer) = read_manifest(store)?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();

    let recorder = manifest.recorder();
    if recorder != Some(signer) {
        problems.push(Problem::WrongSigner { signer, recorder });
    }
    check_consent(&manifest, &mut problems);
    check_segments(store, &manifest, &mut problems, &mut notes)?;
    if manifest.ended.is_none() {
        notes.insert(0, Note::Incomplete);
    }
    Ok(Report {
        manifest,
        signer,
        problems,
        notes,
    })
}

fn check_consent(m: &Manifest, problems: &mut Vec<Problem>) {
    if let Err(e) = check_chain(&m.epochs) {
        problems.push(Problem::Epochs(e));
    }
    if m.epochs
        .iter()
        .any(|p| p.terms.recording_id != m.recording_id || p.terms.call_id != m.call_id)
    {
        problems.push(Problem::IdsMismatch);
    }
    // Valid tokens by signer and epoch.
    let mut valid: BTreeMap<(IdentityKey, u32), &ConsentToken> = BTreeMap::new();
    for t in &m.tokens {
        let result = match m.epochs.get(t.body.epoch as usize).or(m.epochs.last()) {
            Some(epoch) => t.verify(epoch),
            None => Err(ConsentError::NoProposal),
        };
        match result {
            Err(error) => problems.push(Problem::Token {
                signer: t.signer(),
                error,
            }),
            Ok(()) if valid.contains_key(&(t.signer(), t.body.epoch)) => {
                problems.push(Problem::DuplicateToken { signer: t.signer() })
            }
            Ok(()) => {
                valid.insert((t.signer(), t.body.epoch), t);
            }
        }
    }
    if let Some(crate::consent::EndReason::Declined(n) | crate::consent::EndReason::Withdrawn(n)) =
        m.ended.as_ref().and_then(|e| e.reason.as_ref())
    {
        let result = match m.epochs.get(n.body.epoch as usize) {
            Some(epoch) => n.verify(epoch),
            None => Err(ConsentError::TermsMismatch),
        };
        if let Err(e) = result {
            problems.push(Problem::BadEndingNotice(e));
        }
    }
    let mut chain = m.chain_seed();
    for (position, s) in m.segments.iter().enumerate() {
        if s.index as usize != position {
            problems.push(Problem::BadIndex {
                position,
                index: s.index,
            });
        }
        if chain_link(&chain, s) != s.chain {
            problems.push(Problem::ChainBroken { segment: s.index });
        }
        chain = s.chain;
        let Some(epoch) = m.epochs.get(s.epoch as usize) else {
            problems.push(Problem::UnknownEpoch { segment: s.index });
            continue;
        };
        let start = m.started_at.plus_millis(s.start_ms);
        let end = start.plus_millis(u64::from(s.duration_ms));
        if !epoch.terms.window_contains(start) || !epoch.terms.window_contains(end) {
            problems.push(Problem::OutsideWindow { segment: s.index });
        }
        for key in &s.present {
            let signed = if m.version >= 2 {
                // Everyone present agreed to this very epoch (its participant set).
                valid.contains_key(&(*key, s.epoch))
            } else {
                valid.range((*key, 0)..=(*key, s.epoch)).next().is_some()
            };
            let covered = epoch.is_member(key) && signed;
            if !covered {
                problems.push(Problem::MissingConsent {
                    segment: s.index,
                    participant: *key,
                });
            }
        }
    }
}

fn check_segments(
    store: &impl Store,
    m: &Manifest,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<Note>,
) -> Result<(), ContainerError> {
    let by_hash: BTreeMap<Digest, u32> = m.segments.iter().map(|s| (s.sha256, s.index)).collect();
    let names = store.list()?;
    let listed = m.segments.len();
    for name in &names {
        if name == MANIFEST_NAME {
            continue;
        }
        if name.ends_with(".tmp") {
            notes.push(Note::TemporaryFile { name: name.clone() });
            continue;
        }
        match parse_segment_name(name) {
            Some(i) if (i as usize) < listed => {}
            Some(i) if i as usize == listed && m.ended.is_none() => {
                notes.push(Note::UnlistedTrailingSegment { name: name.clone() })
            }
            _ => problems.push(Problem::ExtraFile { name: name.clone() }),
        }
    }
    for s in &m.segments {
        let name = super::segment_name(s.index);
        if !names.contains(&name) {
            problems.push(Problem::SegmentMissing { segment: s.index });
            continue;
        }
        let bytes = match store.get(&name, MAX_SEGMENT_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                problems.push(Problem::SegmentTooLong {
                    segment: s.index,
                    expected: s.size,
                    actual: MAX_SEGMENT_BYTES,
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let actual = bytes.len() as u64;
        let hash = Digest::sha256(&bytes);
        if hash == s.sha256 {
            continue;
        }
        match by_hash.get(&hash) {
            Some(&holds) => problems.push(Problem::SegmentOutOfPlace {
                segment: s.index,
                holds,
            }),
            None if actual < s.size => problems.push(Problem::SegmentTruncated {
                segment: s.index,
                expected: s.size,
                actual,
            }),
            None if actual > s.size => problems.push(Problem::SegmentTooLong {
                segment: s.index,
                expected: s.size,
                actual,
            }),
            None => problems.push(Problem::SegmentCorrupt { segment: s.index }),
        }
    }
    Ok(())
}
