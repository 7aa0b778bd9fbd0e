//! Consent: recording proposals, consent tokens, declines and withdrawals, and the state machine
//! that decides when media may be written.
//!
//! A [`Proposal`] names the exact recording (ids, proposer, recorder device, participant set by
//! identity, scope, retention, title, time window). Its canonical encoding is the byte string
//! participants sign: a [`ConsentToken`] is a domain-separated Ed25519 signature over the digest
//! of that encoding plus the ids it is bound to. When someone joins a recording in progress, the
//! proposal is *extended*: a new epoch whose participant set is the old one plus the newcomer,
//! chained to the previous epoch by digest; only the newcomer needs to sign it.

mod machine;

pub use machine::{ConsentMachine, Effect, EndReason, Input, Phase, Session, Status, StatusKind};

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::identity::{IdentityKey, PublicIdentity, SecretIdentity};
use crate::sign::{Context, Signature};
use crate::{CallId, DeviceId, Digest, RecordingId, Timestamp};

pub const PROPOSAL_VERSION: u16 = 1;
pub const TOKEN_VERSION: u16 = 1;
pub const NOTICE_VERSION: u16 = 1;
/// Most participants one recording may name.
pub const MAX_PARTICIPANTS: usize = 32;
/// Longest title, in bytes of UTF-8.
pub const MAX_TITLE_BYTES: usize = 200;
/// Longest time window of a proposal.
pub const MAX_WINDOW_MS: u64 = 24 * 3600 * 1000;
/// Longest retention.
pub const MAX_RETENTION_DAYS: u16 = 3650;
pub const MAX_PROPOSAL_BYTES: usize = 16 * 1024;
pub const MAX_TOKEN_BYTES: usize = 512;
pub const MAX_NOTICE_BYTES: usize = 512;

/// Where the recording may be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Only on the recorder's machine.
    Local,
    /// On the recorder's machine, and uploaded (as ciphertext) to the server's storage.
    LocalAndCloud,
}

/// What the participants agree to, fixed for the life of a recording (every epoch has the same).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Terms {
    pub recording_id: RecordingId,
    pub call_id: CallId,
    /// Who proposes; the proposer's device records.
    pub proposer: IdentityKey,
    pub recorder_device: DeviceId,
    pub scope: Scope,
    /// Days the cloud copy is kept before automatic deletion.
    pub retention_days: u16,
    pub title: String,
    /// Consent may be given, and media written, only within `[not_before, not_after]`.
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

/// A recording proposal for one participant set (one epoch).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proposal {
    pub version: u16,
    pub terms: Terms,
    /// 0 for the first proposal; +1 for each extension.
    pub epoch: u32,
    /// Digest of the previous epoch's proposal (None for epoch 0).
    pub previous: Option<Digest>,
    /// The participant set, sorted by signing key, without duplicates.
    pub participants: Vec<PublicIdentity>,
}

/// Why consent material was refused. Precise on purpose: the UI and the verifier report it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ConsentError {
    #[error("malformed: {0}")]
    Codec(#[from] CodecError),
    #[error("invalid proposal: {0}")]
    InvalidProposal(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("made for another call")]
    WrongCall,
    #[error("made for another recording")]
    WrongRecording,
    #[error("made for another participant set")]
    WrongParticipantSet,
    #[error("made for other recording terms")]
    TermsMismatch,
    #[error("signer is not a participant of this proposal")]
    UnknownSigner,
    #[error("outside the proposal's time window")]
    OutsideWindow,
    #[error("this participant has already consented")]
    Duplicate,
    #[error("no recording proposal is open")]
    NoProposal,
    #[error("a recording proposal is already open")]
    Busy,
    #[error("the consent epochs do not chain")]
    BrokenChain,
    #[error("made for an earlier participant set (someone joined since)")]
    StaleEpoch,
}

impl Terms {
    fn check(&self) -> Result<(), ConsentError> {
        use ConsentError::InvalidProposal as Bad;
        if self.title.len() > MAX_TITLE_BYTES {
            return Err(Bad("title too long"));
        }
        if self.title.chars().any(char::is_control) {
            return Err(Bad("title contains control characters"));
        }
        if self.not_before >= self.not_after {
            return Err(Bad("time window is empty"));
        }
        if self.not_after.millis_since(self.not_before) > MAX_WINDOW_MS {
            return Err(Bad("time window longer than 24 hours"));
        }
        if self.retention_days == 0 || self.retention_days > MAX_RETENTION_DAYS {
            return Err(Bad("retention must be 1 to 3650 days"));
        }
        Ok(())
    }

    pub fn window_contains(&self, t: Timestamp) -> bool {
        self.not_before <= t && t <= self.not_after
    }
}

impl Proposal {
    /// A first proposal (epoch 0) for `participants`, which are sorted and deduplicated here.
    pub fn new(
        terms: Terms,
        mut participants: Vec<PublicIdentity>,
    ) -> Result<Proposal, ConsentError> {
        participants.sort_by_key(|p| p.signing);
        participants.dedup_by_key(|p| p.signing);
        let p = Proposal {
            version: PROPOSAL_VERSION,
            terms,
            epoch: 0,
            previous: None,
            participants,
        };
        p.validate()?;
        Ok(p)
    }

    /// Structural checks and every participant bundle's self-signature.
    pub fn validate(&self) -> Result<(), ConsentError> {
        use ConsentError::InvalidProposal as Bad;
        if self.version != PROPOSAL_VERSION {
            return Err(CodecError::UnsupportedVersion(self.version).into());
        }
        self.terms.check()?;
        if self.participants.is_empty() || self.participants.len() > MAX_PARTICIPANTS {
            return Err(Bad("participant count out of range"));
        }
        if !self
            .participants
            .windows(2)
            .all(|w| w[0].signing < w[1].signing)
        {
            return Err(Bad("participants not sorted and unique"));
        }
        if self.participants.iter().any(|p| p.verify().is_err()) {
            return Err(Bad("a participant's identity bundle does not verify"));
        }
        if !self.is_member(&self.terms.proposer) {
            return Err(Bad("proposer is not a participant"));
        }
        if (self.epoch == 0) != self.previous.is_none() {
            return Err(Bad("epoch and previous digest disagree"));
        }
        Ok(())
    }

    pub fn is_member(&self, key: &IdentityKey) -> bool {
        self.participants
            .binary_search_by_key(key, |p| p.signing)
            .is_ok()
    }

    pub fn member(&self, key: &IdentityKey) -> Option<&PublicIdentity> {
        self.participants.iter().find(|p| &p.signing == key)
    }

    /// Digest of the canonical encoding: what tokens commit to.
    pub fn digest(&self) -> Digest {
        Digest::of("assent/v1/proposal", &[&codec::encode(self)])
    }

    /// Digest of the participant set alone (lets a verifier say *why* a token does not fit).
    pub fn participants_digest(&self) -> Digest {
        let keys: Vec<&[u8]> = self.participants.iter().map(|p| &p.signing.0[..]).collect();
        Digest::of("assent/v1/participant-set", &keys)
    }

    /// The next epoch: the same terms, the participant set plus `newcomer`.
    pub fn extend(&self, newcomer: &PublicIdentity) -> Proposal {
        let mut participants = self.participants.clone();
        if let Err(at) = participants.binary_search_by_key(&newcomer.signing, |p| p.signing) {
            participants.insert(at, newcomer.clone());
        }
        Proposal {
            version: PROPOSAL_VERSION,
            terms: self.terms.clone(),
            epoch: self.epoch.saturating_add(1),
            previous: Some(self.digest()),
            participants,
        }
    }

    /// Whether `next` is a valid extension of `self`.
    pub fn check_extension(&self, next: &Proposal) -> Result<(), ConsentError> {
        next.validate()?;
        let links = next.terms == self.terms
            && next.epoch == self.epoch.saturating_add(1)
            && next.previous == Some(self.digest())
            && self
                .participants
                .iter()
                .all(|p| next.member(&p.signing) == Some(p))
            && next.participants.len() == self.participants.len() + 1;
        if links {
            Ok(())
        } else {
            Err(ConsentError::BrokenChain)
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Proposal, ConsentError> {
        let p: Proposal = codec::decode(bytes, MAX_PROPOSAL_BYTES)?;
        p.validate()?;
        Ok(p)
    }
}

/// Check a whole chain of epochs: epoch 0 first, each extending the one before.
pub fn check_chain(epochs: &[Proposal]) -> Result<(), ConsentError> {
    let first = epochs.first().ok_or(ConsentError::BrokenChain)?;
    first.validate()?;
    if first.epoch != 0 {
        return Err(ConsentError::BrokenChain);
    }
    epochs
        .windows(2)
        .try_for_each(|w| w[0].check_extension(&w[1]))
}

/// The signed part of a consent token.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenBody {
    pub version: u16,
    pub recording_id: RecordingId,
    pub call_id: CallId,
    pub epoch: u32,
    pub proposal: Digest,
    pub participants: Digest,
    pub signer: IdentityKey,
    pub signed_at: Timestamp,
}

/// One participant's signed consent to one proposal epoch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConsentToken {
    pub body: TokenBody,
    pub signature: Signature,
}

impl ConsentToken {
    /// Agree to `proposal` as `identity`, at `now`.
    pub fn sign(identity: &SecretIdentity, proposal: &Proposal, now: Timestamp) -> ConsentToken {
        let body = TokenBody {
            version: TOKEN_VERSION,
            recording_id: proposal.terms.recording_id,
            call_id: proposal.terms.call_id,
            epoch: proposal.epoch,
            proposal: proposal.digest(),
            participants: proposal.participants_digest(),
            signer: identity.key(),
            signed_at: now,
        };
        let signature = identity.sign(Context::ConsentToken, &codec::encode(&body));
        ConsentToken { body, signature }
    }

    pub fn signer(&self) -> IdentityKey {
        self.body.signer
    }

    /// Verify this token against the proposal it claims to consent to. The cheap checks of
    /// what it names come first; the signature last (refusals of tokens for something else
    /// then cost no curve arithmetic).
    pub fn verify(&self, proposal: &Proposal) -> Result<(), ConsentError> {
        let b = &self.body;
        if b.version != TOKEN_VERSION {
            return Err(CodecError::UnsupportedVersion(b.version).into());
        }
        if b.call_id != proposal.terms.call_id {
            return Err(ConsentError::WrongCall);
        }
        if b.recording_id != proposal.terms.recording_id {
            return Err(ConsentError::WrongRecording);
        }
        if b.participants != proposal.participants_digest() {
            return Err(ConsentError::WrongParticipantSet);
        }
        if b.epoch != proposal.epoch || b.proposal != proposal.digest() {
            return Err(ConsentError::TermsMismatch);
        }
        if !proposal.is_member(&b.signer) {
            return Err(ConsentError::UnknownSigner);
        }
        if !proposal.terms.window_contains(b.signed_at) {
            return Err(ConsentError::OutsideWindow);
        }
        b.signer
            .verify(Context::ConsentToken, &codec::encode(b), &self.signature)
            .map_err(|_| ConsentError::BadSignature)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ConsentToken, ConsentError> {
        Ok(codec::decode(bytes, MAX_TOKEN_BYTES)?)
    }
}

/// A signed "no": declining a proposal, or withdrawing consent already given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NoticeKind {
    Decline,
    Withdraw,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NoticeBody {
    pub version: u16,
    pub kind: NoticeKind,
    pub recording_id: RecordingId,
    pub call_id: CallId,
    pub epoch: u32,
    pub proposal: Digest,
    pub signer: IdentityKey,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedNotice {
    pub body: NoticeBody,
    pub signature: Signature,
}

impl SignedNotice {
    pub fn sign(
        identity: &SecretIdentity,
        kind: NoticeKind,
        proposal: &Proposal,
        now: Timestamp,
    ) -> SignedNotice {
        let body = NoticeBody {
            version: NOTICE_VERSION,
            kind,
            recording_id: proposal.terms.recording_id,
            call_id: proposal.terms.call_id,
            epoch: proposal.epoch,
            proposal: proposal.digest(),
            signer: identity.key(),
            at: now,
        };
        let signature = identity.sign(Context::ConsentNotice, &codec::encode(&body));
        SignedNotice { body, signature }
    }

    /// Verify against the proposal epoch it names (what it names first, the signature last).
    pub fn verify(&self, proposal: &Proposal) -> Result<(), ConsentError> {
        let b = &self.body;
        if b.version != NOTICE_VERSION {
            return Err(CodecError::UnsupportedVersion(b.version).into());
        }
        if b.call_id != proposal.terms.call_id {
            return Err(ConsentError::WrongCall);
        }
        if b.recording_id != proposal.terms.recording_id {
            return Err(ConsentError::WrongRecording);
        }
        if b.epoch != proposal.epoch || b.proposal != proposal.digest() {
            return Err(ConsentError::TermsMismatch);
        }
        if !proposal.is_member(&b.signer) {
            return Err(ConsentError::UnknownSigner);
        }
        b.signer
            .verify(Context::ConsentNotice, &codec::encode(b), &self.signature)
            .map_err(|_| ConsentError::BadSignature)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SignedNotice, ConsentError> {
        Ok(codec::decode(bytes, MAX_NOTICE_BYTES)?)
    }
}

/// Test fixtures shared by unit tests, integration tests and benches.
#[doc(hidden)]
pub mod fixtures {
    use super::*;

    /// `n` deterministic identities (seeds 1..=n).
    pub fn identities(n: u8) -> Vec<SecretIdentity> {
        (1..=n)
            .map(|i| SecretIdentity::from_seed([i; 32], Timestamp(1_700_000_000_000)))
            .collect()
    }

    pub const T0: Timestamp = Timestamp(1_795_266_300_000);

    pub fn terms(proposer: &SecretIdentity) -> Terms {
        Terms {
            recording_id: RecordingId([0x11; 16]),
            call_id: CallId([0x22; 16]),
            proposer: proposer.key(),
            recorder_device: DeviceId([0x33; 16]),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
            title: "Quarterly review".into(),
            not_before: T0,
            not_after: T0.plus_millis(3600 * 1000),
        }
    }

    #[allow(clippy::expect_used)]
    pub fn proposal(ids: &[SecretIdentity]) -> Proposal {
        let mut t = terms(&ids[0]);
        t.proposer = ids[0].key();
        Proposal::new(t, ids.iter().map(|i| i.public().clone()).collect()).expect("valid fixture")
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn token_verifies_for_its_proposal_only() {
        let ids = identities(3);
        let p = proposal(&ids);
        let now = T0.plus_millis(10);
        let t = ConsentToken::sign(&ids[1], &p, now);
        assert_eq!(t.verify(&p), Ok(()));
        assert_eq!(ConsentToken::from_bytes(&t.to_bytes()).unwrap(), t);

        let mut other_call = p.clone();
        other_call.terms.call_id = CallId([9; 16]);
        assert_eq!(
            ConsentToken::sign(&ids[1], &other_call, now).verify(&p),
            Err(ConsentError::WrongCall)
        );

        let mut other_rec = p.clone();
        other_rec.terms.recording_id = RecordingId([9; 16]);
        assert_eq!(
            ConsentToken::sign(&ids[1], &other_rec, now).verify(&p),
            Err(ConsentError::WrongRecording)
        );

        let smaller = proposal(&ids[..2]);
        assert_eq!(
            ConsentToken::sign(&ids[1], &smaller, now).verify(&p),
            Err(ConsentError::WrongParticipantSet)
        );

        let mut other_title = p.clone();
        other_title.terms.title = "Something else".into();
        assert_eq!(
            ConsentToken::sign(&ids[1], &other_title, now).verify(&p),
            Err(ConsentError::TermsMismatch)
        );

        let stranger = &identities(4)[3];
        assert_eq!(
            ConsentToken::sign(stranger, &p, now).verify(&p),
            Err(ConsentError::UnknownSigner)
        );

        let late = ConsentToken::sign(&ids[1], &p, p.terms.not_after.plus_millis(1));
        assert_eq!(late.verify(&p), Err(ConsentError::OutsideWindow));

        let mut forged = t.clone();
        forged.body.signer = ids[2].key();
        assert_eq!(forged.verify(&p), Err(ConsentError::BadSignature));
    }

    #[test]
    fn proposal_validation() {
        let ids = identities(3);
        let p = proposal(&ids);
        assert_eq!(Proposal::from_bytes(&p.to_bytes()).unwrap(), p);
        let mut unsorted = p.clone();
        unsorted.participants.reverse();
        assert!(matches!(
            unsorted.validate(),
            Err(ConsentError::InvalidProposal(_))
        ));
        let mut outsider = p.clone();
        outsider.terms.proposer = identities(4)[3].key();
        assert!(matches!(
            outsider.validate(),
            Err(ConsentError::InvalidProposal(_))
        ));
        let mut long = p.clone();
        long.terms.title = "x".repeat(MAX_TITLE_BYTES + 1);
        assert!(matches!(
            long.validate(),
            Err(ConsentError::InvalidProposal(_))
        ));
        let mut empty = p.clone();
        empty.terms.not_after = empty.terms.not_before;
        assert!(matches!(
            empty.validate(),
            Err(ConsentError::InvalidProposal(_))
        ));
    }

    #[test]
    fn extension_chain() {
        let ids = identities(4);
        let p0 = proposal(&ids[..2]);
        let p1 = p0.extend(ids[3].public());
        let p2 = p1.extend(ids[2].public());
        assert_eq!(check_chain(&[p0.clone(), p1.clone(), p2.clone()]), Ok(()));
        assert_eq!(
            check_chain(&[p0.clone(), p2.clone()]),
            Err(ConsentError::BrokenChain)
        );
        assert_eq!(
            check_chain(std::slice::from_ref(&p1)),
            Err(ConsentError::BrokenChain)
        );
        let mut tampered = p1.clone();
        tampered.terms.scope = Scope::Local;
        assert_eq!(
            p0.check_extension(&tampered),
            Err(ConsentError::BrokenChain)
        );
        assert_eq!(p2.participants.len(), 4);
    }

    #[test]
    fn notices() {
        let ids = identities(2);
        let p = proposal(&ids);
        let n = SignedNotice::sign(&ids[1], NoticeKind::Withdraw, &p, T0);
        assert_eq!(n.verify(&p), Ok(()));
        assert_eq!(SignedNotice::from_bytes(&n.to_bytes()).unwrap(), n);
        let mut flipped = n.clone();
        flipped.body.kind = NoticeKind::Decline;
        assert_eq!(flipped.verify(&p), Err(ConsentError::BadSignature));
    }
}
