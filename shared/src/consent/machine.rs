//! The consent state machine: pure code, inputs in, effects out.
//!
//! ```text
//!        Propose (signed by its proposer,
//!                 set == present)                all present signed the epoch
//!   Idle ───────────────────────────► Collecting ───────────────────────────► Active{writing}
//!    ▲                                  │  decline / withdraw / newcomer /         │   ▲
//!    │                                  │  recorder left / window over             │   │ everyone
//!    └──────────────────────────────────┘                                          │   │ present signs
//!    ▲                                                                  newcomer  ▼   │ the extension
//!    │        withdraw / decline / recorder left / window over     Active{paused} ─┘
//!    └───────────────────────────────────────────────────────────────────┘
//! ```
//!
//! A newcomer during a recording extends the participant set by an epoch; recording pauses
//! and resumes only once **everyone present** has signed the new epoch (each of them sees who
//! joined), so a server that seats someone nobody invited gets nothing without everyone's say.
//!
//! Every client runs the same machine over the same (end-to-end signed) messages, so everyone
//! shows the same state; only the recorder acts on the writing effects. The invariant, checked
//! exhaustively in `tests/consent_model.rs`: **while writing, every participant present is in
//! the current epoch's set and holds a valid token for that very epoch.**

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConsentError, ConsentToken, NoticeKind, Proposal, SignedNotice, check_chain};
use crate::identity::{IdentityKey, PublicIdentity};
use crate::{CallId, Timestamp};

/// What happens to the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A new recording proposal (epoch 0), with its proposer's own consent token: a proposal
    /// is signed by the person it names as proposer, or it is refused.
    Propose {
        proposal: Proposal,
        token: ConsentToken,
    },
    /// The state of a recording in progress, sent by the recorder to a newcomer.
    Sync {
        epochs: Vec<Proposal>,
        tokens: Vec<ConsentToken>,
    },
    Token(ConsentToken),
    Notice(SignedNotice),
    /// Someone is now present in the call (their directory-verified bundle).
    Joined(PublicIdentity),
    Left(IdentityKey),
    /// Time passes (checks the proposal's window).
    Tick,
}

/// Why a proposal or recording ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndReason {
    /// The signed decline that ended it.
    Declined(SignedNotice),
    /// The signed withdrawal that ended it.
    Withdrawn(SignedNotice),
    /// Someone joined while consent was being collected: the set changed, propose again.
    ParticipantJoined(IdentityKey),
    RecorderLeft,
    WindowEnded,
}

impl EndReason {
    /// Who ended it, when a person did.
    pub fn by(&self) -> Option<IdentityKey> {
        match self {
            EndReason::Declined(n) | EndReason::Withdrawn(n) => Some(n.body.signer),
            EndReason::ParticipantJoined(k) => Some(*k),
            EndReason::RecorderLeft | EndReason::WindowEnded => None,
        }
    }
}

/// What the edge must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Show the consent dialog for this proposal (the local user is in its set and has not signed).
    AskConsent(Proposal),
    StartWriting {
        epoch: u32,
    },
    PauseWriting,
    ResumeWriting {
        epoch: u32,
    },
    /// Finish the recording (the writer closes the manifest).
    StopWriting(EndReason),
    /// A proposal ended before any recording started.
    ProposalEnded(EndReason),
    /// An input was refused; nothing changed.
    Rejected(ConsentError),
}

/// The epochs of one recording and the tokens collected for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Session {
    epochs: Vec<Proposal>,
    /// Tokens by (epoch, signer): a token counts for the epoch it signed.
    tokens: BTreeMap<(u32, IdentityKey), ConsentToken>,
}

impl Session {
    fn new(first: Proposal) -> Session {
        Session {
            epochs: vec![first],
            tokens: BTreeMap::new(),
        }
    }

    pub fn epochs(&self) -> &[Proposal] {
        &self.epochs
    }

    pub fn tokens(&self) -> impl Iterator<Item = &ConsentToken> {
        self.tokens.values()
    }

    /// Whether `key` signed the current epoch.
    pub fn has_token(&self, key: &IdentityKey) -> bool {
        self.tokens.contains_key(&(self.current().epoch, *key))
    }

    /// The latest epoch (sessions always hold at least one).
    pub fn current(&self) -> &Proposal {
        &self.epochs[self.epochs.len() - 1]
    }

    fn epoch(&self, n: u32) -> &Proposal {
        self.epochs
            .get(n as usize)
            .unwrap_or_else(|| self.current())
    }

    /// Verify and keep a token for the current epoch.
    fn accept(&mut self, token: ConsentToken, now: Timestamp) -> Result<(), ConsentError> {
        if token.body.epoch < self.current().epoch {
            // Made for a participant set that has grown since: it counts for nothing now.
            return Err(ConsentError::StaleEpoch);
        }
        self.keep(token, now)
    }

    /// Verify and keep a token (for any epoch of this recording whose set holds the signer):
    /// the history a sync brings.
    fn keep(&mut self, token: ConsentToken, now: Timestamp) -> Result<(), ConsentError> {
        let key = (token.body.epoch, token.signer());
        if let Some(kept) = self.tokens.get(&key) {
            // The very token again (a resend) or another claiming the same signer and epoch.
            return Err(if *kept == token {
                ConsentError::Duplicate
            } else {
                match token.verify(self.epoch(token.body.epoch)) {
                    Err(e) => e,
                    Ok(()) => ConsentError::Duplicate,
                }
            });
        }
        token.verify(self.epoch(token.body.epoch))?;
        if !self.current().terms.window_contains(now) {
            return Err(ConsentError::OutsideWindow);
        }
        self.tokens.insert(key, token);
        Ok(())
    }

    /// Every present participant is in the current set and signed the current epoch.
    pub fn covers<'a>(&self, present: impl IntoIterator<Item = &'a IdentityKey>) -> bool {
        present
            .into_iter()
            .all(|k| self.current().is_member(k) && self.has_token(k))
    }
}

/// The machine's phase.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    Idle,
    Collecting(Session),
    Active { session: Session, writing: bool },
}

/// A summary for the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    /// Present participants who hold a token.
    pub agreed: Vec<IdentityKey>,
    /// Present participants the recording waits for.
    pub waiting_for: Vec<IdentityKey>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    Idle,
    Collecting,
    Recording,
    Paused,
}

/// One client's consent machine for one call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsentMachine {
    me: IdentityKey,
    call_id: CallId,
    present: BTreeMap<IdentityKey, PublicIdentity>,
    phase: Phase,
}

impl ConsentMachine {
    /// A machine for `me` (present from the start) in call `call_id`.
    pub fn new(me: PublicIdentity, call_id: CallId) -> ConsentMachine {
        let mut present = BTreeMap::new();
        present.insert(me.signing, me.clone());
        ConsentMachine {
            me: me.signing,
            call_id,
            present,
            phase: Phase::Idle,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn present(&self) -> impl Iterator<Item = &IdentityKey> {
        self.present.keys()
    }

    /// The identity bundles of everyone present (to propose a recording to exactly them).
    pub fn present_identities(&self) -> impl Iterator<Item = &PublicIdentity> {
        self.present.values()
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Collecting(s) | Phase::Active { session: s, .. } => Some(s),
        }
    }

    pub fn is_writing(&self) -> bool {
        matches!(self.phase, Phase::Active { writing: true, .. })
    }

    pub fn status(&self) -> Status {
        let kind = match &self.phase {
            Phase::Idle => StatusKind::Idle,
            Phase::Collecting(_) => StatusKind::Collecting,
            Phase::Active { writing: true, .. } => StatusKind::Recording,
            Phase::Active { writing: false, .. } => StatusKind::Paused,
        };
        let (agreed, waiting_for) = match self.session() {
            None => (vec![], vec![]),
            Some(s) => self.present.keys().partition(|k| s.has_token(k)),
        };
        Status {
            kind,
            agreed,
            waiting_for,
        }
    }

    /// Handle one input at time `now`; return what the edge must do.
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Err(e) = self.step(now, input, &mut fx) {
            fx.push(Effect::Rejected(e));
        }
        fx
    }

    fn step(
        &mut self,
        now: Timestamp,
        input: Input,
        fx: &mut Vec<Effect>,
    ) -> Result<(), ConsentError> {
        match input {
            Input::Propose { proposal, token } => self.propose(now, proposal, token, fx),
            Input::Sync { epochs, tokens } => self.sync(now, epochs, tokens, fx),
            Input::Token(t) => self.token(now, t, fx),
            Input::Notice(n) => self.notice(n, fx),
            Input::Joined(id) => self.joined(id, fx),
            Input::Left(key) => {
                self.left(key, fx);
                Ok(())
            }
            Input::Tick => {
                self.tick(now, fx);
                Ok(())
            }
        }
    }

    fn ask_if_needed(&self, session: &Session, fx: &mut Vec<Effect>) {
        if session.current().is_member(&self.me) && !session.has_token(&self.me) {
            fx.push(Effect::AskConsent(session.current().clone()));
        }
    }

    fn propose(
        &mut self,
        now: Timestamp,
        p: Proposal,
        token: ConsentToken,
        fx: &mut Vec<Effect>,
    ) -> Result<(), ConsentError> {
        if !matches!(self.phase, Phase::Idle) {
            return Err(ConsentError::Busy);
        }
        p.validate()?;
        // Signed by its proposer: nobody can propose in someone else's name.
        if token.signer() != p.terms.proposer {
            return Err(ConsentError::UnknownSigner);
        }
        token.verify(&p)?;
        if p.epoch != 0 {
            return Err(ConsentError::BrokenChain);
        }
        if p.terms.call_id != self.call_id {
            return Err(ConsentError::WrongCall);
        }
        if !p.terms.window_contains(now) {
            return Err(ConsentError::OutsideWindow);
        }
        let same_set = p.participants.len() == self.present.len()
            && p.participants
                .iter()
                .all(|m| self.present.get(&m.signing) == Some(m));
        if !same_set {
            return Err(ConsentError::WrongParticipantSet);
        }
        let mut session = Session::new(p);
        session.accept(token, now)?;
        self.ask_if_needed(&session, fx);
        if session.covers(self.present.keys()) {
            // The proposer alone in the call.
            self.phase = Phase::Active {
                session,
                writing: true,
            };
            fx.push(Effect::StartWriting { epoch: 0 });
        } else {
            self.phase = Phase::Collecting(session);
        }
        Ok(())
    }

    fn sync(
        &mut self,
        now: Timestamp,
        epochs: Vec<Proposal>,
        tokens: Vec<ConsentToken>,
        fx: &mut Vec<Effect>,
    ) -> Result<(), ConsentError> {
        if !matches!(self.phase, Phase::Idle) {
            return Err(ConsentError::Busy);
        }
        check_chain(&epochs)?;
        let mut iter = epochs.into_iter();
        let mut session = Session::new(iter.next().ok_or(ConsentError::BrokenChain)?);
        session.epochs.extend(iter);
        if session.current().terms.call_id != self.call_id {
            return Err(ConsentError::WrongCall);
        }
        if !session.current().is_member(&self.me) {
            return Err(ConsentError::WrongParticipantSet);
        }
        for t in tokens {
            session.keep(t, now)?;
        }
        // The proposer signed the first epoch, or this is not a recording in progress.
        let proposer = session.epochs[0].terms.proposer;
        if !session.tokens.contains_key(&(0, proposer)) {
            return Err(ConsentError::NoProposal);
        }
        self.ask_if_needed(&session, fx);
        let writing = session.covers(self.present.keys());
        self.phase = Phase::Active { session, writing };
        Ok(())
    }

    fn token(
        &mut self,
        now: Timestamp,
        t: ConsentToken,
        fx: &mut Vec<Effect>,
    ) -> Result<(), ConsentError> {
        match &mut self.phase {
            Phase::Idle => Err(ConsentError::NoProposal),
            Phase::Collecting(s) => {
                s.accept(t, now)?;
                if s.covers(self.present.keys()) {
                    let session = s.clone();
                    self.phase = Phase::Active {
                        session,
                        writing: true,
                    };
                    fx.push(Effect::StartWriting { epoch: 0 });
                }
                Ok(())
            }
            Phase::Active { session, writing } => {
                session.accept(t, now)?;
                if !*writing && session.covers(self.present.keys()) {
                    *writing = true;
                    fx.push(Effect::ResumeWriting {
                        epoch: session.current().epoch,
                    });
                }
                Ok(())
            }
        }
    }

    fn notice(&mut self, n: SignedNotice, fx: &mut Vec<Effect>) -> Result<(), ConsentError> {
        let reason = match n.body.kind {
            NoticeKind::Decline => EndReason::Declined(n.clone()),
            NoticeKind::Withdraw => EndReason::Withdrawn(n.clone()),
        };
        match &self.phase {
            Phase::Idle => return Err(ConsentError::NoProposal),
            Phase::Collecting(s) => {
                n.verify(s.epoch(n.body.epoch))?;
                fx.push(Effect::ProposalEnded(reason));
            }
            Phase::Active { session, .. } => {
                n.verify(session.epoch(n.body.epoch))?;
                fx.push(Effect::StopWriting(reason));
            }
        }
        self.phase = Phase::Idle;
        Ok(())
    }

    fn joined(&mut self, id: PublicIdentity, fx: &mut Vec<Effect>) -> Result<(), ConsentError> {
        if self.present.get(&id.signing) == Some(&id) {
            return Ok(());
        }
        id.verify().map_err(|_| ConsentError::BadSignature)?;
        if let Some(known) = self.present.get(&id.signing) {
            // Same identity key with another bundle: refuse rather than silently accept a change.
            return if known == &id {
                Ok(())
            } else {
                Err(ConsentError::WrongParticipantSet)
            };
        }
        let key = id.signing;
        self.present.insert(key, id.clone());
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Collecting(s) => {
                if !s.current().is_member(&key) {
                    fx.push(Effect::ProposalEnded(EndReason::ParticipantJoined(key)));
                    self.phase = Phase::Idle;
                }
            }
            Phase::Active { session, writing } => {
                let extended = !session.current().is_member(&key);
                if extended {
                    let next = session.current().extend(&id);
                    session.epochs.push(next);
                }
                if *writing && !session.covers(self.present.keys()) {
                    *writing = false;
                    fx.push(Effect::PauseWriting);
                }
                if extended {
                    // Everyone present is asked again, with the newcomer in the set.
                    let session = session.clone();
                    self.ask_if_needed(&session, fx);
                }
            }
        }
        Ok(())
    }

    fn left(&mut self, key: IdentityKey, fx: &mut Vec<Effect>) {
        if key == self.me || self.present.remove(&key).is_none() {
            return;
        }
        let recorder_left = self
            .session()
            .is_some_and(|s| s.current().terms.proposer == key);
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Collecting(_) if recorder_left => {
                fx.push(Effect::ProposalEnded(EndReason::RecorderLeft));
                self.phase = Phase::Idle;
            }
            Phase::Active { .. } if recorder_left => {
                fx.push(Effect::StopWriting(EndReason::RecorderLeft));
                self.phase = Phase::Idle;
            }
            Phase::Collecting(s) => {
                if s.covers(self.present.keys()) {
                    let session = s.clone();
                    self.phase = Phase::Active {
                        session,
                        writing: true,
                    };
                    fx.push(Effect::StartWriting { epoch: 0 });
                }
            }
            Phase::Active { session, writing } => {
                if !*writing && session.covers(self.present.keys()) {
                    *writing = true;
                    fx.push(Effect::ResumeWriting {
                        epoch: session.current().epoch,
                    });
                }
            }
        }
    }

    fn tick(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let over = self
            .session()
            .is_some_and(|s| now > s.current().terms.not_after);
        if !over {
            return;
        }
        match self.phase {
            Phase::Idle => {}
            Phase::Collecting(_) => fx.push(Effect::ProposalEnded(EndReason::WindowEnded)),
            Phase::Active { .. } => fx.push(Effect::StopWriting(EndReason::WindowEnded)),
        }
        self.phase = Phase::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{NoticeKind, SignedNotice};
    use super::*;
    use crate::SecretIdentity;

    /// `ids[me]`'s machine with all of `ids` present.
    fn machine_of(ids: &[SecretIdentity], me: usize) -> ConsentMachine {
        let mut m = ConsentMachine::new(ids[me].public().clone(), terms(&ids[0]).call_id);
        for (i, id) in ids.iter().enumerate() {
            if i != me {
                assert_eq!(m.handle(T0, Input::Joined(id.public().clone())), vec![]);
            }
        }
        m
    }

    /// `p`, proposed (and signed) by its proposer `by`.
    fn propose(by: &SecretIdentity, p: &Proposal, now: Timestamp) -> Input {
        Input::Propose {
            proposal: p.clone(),
            token: ConsentToken::sign(by, p, now),
        }
    }

    #[test]
    fn starts_only_with_every_token_then_pauses_until_everyone_signs_the_newcomer_in() {
        let all = identities(4);
        let ids = &all[..3];
        // Bob's view (ids[1]); Ann (ids[0]) proposes and records.
        let mut m = machine_of(ids, 1);
        let p = proposal(ids);
        let now = T0.plus_millis(5);
        assert_eq!(
            m.handle(now, propose(&ids[0], &p, now)),
            vec![Effect::AskConsent(p.clone())]
        );
        assert!(
            m.handle(now, Input::Token(ConsentToken::sign(&ids[1], &p, now)))
                .is_empty()
        );
        assert_eq!(m.status().waiting_for, vec![ids[2].key()]);
        assert!(!m.is_writing());
        let dup = m.handle(now, Input::Token(ConsentToken::sign(&ids[1], &p, now)));
        assert_eq!(dup, vec![Effect::Rejected(ConsentError::Duplicate)]);
        let fx = m.handle(now, Input::Token(ConsentToken::sign(&ids[2], &p, now)));
        assert_eq!(fx, vec![Effect::StartWriting { epoch: 0 }]);

        // A newcomer pauses it, and everyone present is asked about the extended set.
        let fx = m.handle(now, Input::Joined(all[3].public().clone()));
        let ext = m.session().unwrap().current().clone();
        assert_eq!(
            fx,
            vec![Effect::PauseWriting, Effect::AskConsent(ext.clone())]
        );
        assert_eq!(ext.epoch, 1);
        assert!(ext.is_member(&all[3].key()));
        // A token for the old set is refused.
        let stale = m.handle(now, Input::Token(ConsentToken::sign(&all[3], &p, now)));
        assert_eq!(stale, vec![Effect::Rejected(ConsentError::StaleEpoch)]);
        // The newcomer's own token is not enough: the people already recording decide too.
        assert!(
            m.handle(now, Input::Token(ConsentToken::sign(&all[3], &ext, now)))
                .is_empty()
        );
        assert!(!m.is_writing());
        for who in [&all[0], &all[1]] {
            assert!(
                m.handle(now, Input::Token(ConsentToken::sign(who, &ext, now)))
                    .is_empty()
            );
        }
        assert_eq!(m.status().waiting_for, vec![all[2].key()]);
        let fx = m.handle(now, Input::Token(ConsentToken::sign(&all[2], &ext, now)));
        assert_eq!(fx, vec![Effect::ResumeWriting { epoch: 1 }]);

        // Someone leaving does not stop it; a withdrawal does.
        assert!(m.handle(now, Input::Left(ids[2].key())).is_empty());
        assert!(m.is_writing());
        let w = SignedNotice::sign(&ids[0], NoticeKind::Withdraw, &p, now);
        assert_eq!(
            m.handle(now, Input::Notice(w.clone())),
            vec![Effect::StopWriting(EndReason::Withdrawn(w))]
        );
        assert_eq!(m.phase(), &Phase::Idle);
    }

    #[test]
    fn a_proposal_is_signed_by_its_proposer() {
        let ids = identities(3);
        let mut m = machine_of(&ids, 1);
        let p = proposal(&ids);
        // Carol sends a proposal naming Ann as proposer (and recorder), signed by herself.
        assert_eq!(
            m.handle(T0, propose(&ids[2], &p, T0)),
            vec![Effect::Rejected(ConsentError::UnknownSigner)]
        );
        // A forged token: signer field Ann, signature Carol's.
        let mut forged = ConsentToken::sign(&ids[2], &p, T0);
        forged.body.signer = ids[0].key();
        assert_eq!(
            m.handle(
                T0,
                Input::Propose {
                    proposal: p.clone(),
                    token: forged
                }
            ),
            vec![Effect::Rejected(ConsentError::BadSignature)]
        );
        // Ann's token for another proposal.
        let mut other = p.clone();
        other.terms.title = "Something else".into();
        assert_eq!(
            m.handle(
                T0,
                Input::Propose {
                    proposal: p.clone(),
                    token: ConsentToken::sign(&ids[0], &other, T0)
                }
            ),
            vec![Effect::Rejected(ConsentError::TermsMismatch)]
        );
        assert_eq!(m.phase(), &Phase::Idle);
    }

    #[test]
    fn proposal_must_name_exactly_who_is_present() {
        let ids = identities(3);
        let mut m = machine_of(&ids, 0);
        let p = proposal(&ids[..2]);
        assert_eq!(
            m.handle(T0, propose(&ids[0], &p, T0)),
            vec![Effect::Rejected(ConsentError::WrongParticipantSet)]
        );
    }

    #[test]
    fn alone_the_proposal_starts_at_once() {
        let ids = identities(1);
        let mut m = machine_of(&ids, 0);
        let p = proposal(&ids);
        assert_eq!(
            m.handle(T0, propose(&ids[0], &p, T0)),
            vec![Effect::StartWriting { epoch: 0 }]
        );
    }

    #[test]
    fn decline_ends_the_proposal_and_window_expiry_stops() {
        let ids = identities(2);
        let mut m = machine_of(&ids, 0);
        let p = proposal(&ids);
        m.handle(T0, propose(&ids[0], &p, T0));
        let d = SignedNotice::sign(&ids[1], NoticeKind::Decline, &p, T0);
        assert_eq!(
            m.handle(T0, Input::Notice(d.clone())),
            vec![Effect::ProposalEnded(EndReason::Declined(d))]
        );

        m.handle(T0, propose(&ids[0], &p, T0));
        m.handle(T0, Input::Token(ConsentToken::sign(&ids[1], &p, T0)));
        assert!(m.is_writing());
        assert!(m.handle(p.terms.not_after, Input::Tick).is_empty());
        assert_eq!(
            m.handle(p.terms.not_after.plus_millis(1), Input::Tick),
            vec![Effect::StopWriting(EndReason::WindowEnded)]
        );
    }

    #[test]
    fn newcomer_syncs_and_is_asked() {
        let ids = identities(3);
        let mut rec = machine_of(&ids[..2], 0);
        let p = proposal(&ids[..2]);
        rec.handle(T0, propose(&ids[0], &p, T0));
        rec.handle(T0, Input::Token(ConsentToken::sign(&ids[1], &p, T0)));
        rec.handle(T0, Input::Joined(ids[2].public().clone()));
        let s = rec.session().unwrap();
        let mut newcomer = ConsentMachine::new(ids[2].public().clone(), p.terms.call_id);
        newcomer.handle(T0, Input::Joined(ids[0].public().clone()));
        newcomer.handle(T0, Input::Joined(ids[1].public().clone()));
        let fx = newcomer.handle(
            T0,
            Input::Sync {
                epochs: s.epochs().to_vec(),
                tokens: s.tokens().cloned().collect(),
            },
        );
        assert_eq!(fx, vec![Effect::AskConsent(s.current().clone())]);
        assert_eq!(newcomer.status().kind, StatusKind::Paused);
        // A sync without the proposer's own token is not a recording in progress.
        let mut stranger = ConsentMachine::new(ids[2].public().clone(), p.terms.call_id);
        stranger.handle(T0, Input::Joined(ids[0].public().clone()));
        stranger.handle(T0, Input::Joined(ids[1].public().clone()));
        let without: Vec<ConsentToken> = s
            .tokens()
            .filter(|t| t.signer() != ids[0].key())
            .cloned()
            .collect();
        assert_eq!(
            stranger.handle(
                T0,
                Input::Sync {
                    epochs: s.epochs().to_vec(),
                    tokens: without,
                },
            ),
            vec![Effect::Rejected(ConsentError::NoProposal)]
        );
    }
}
