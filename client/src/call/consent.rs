//! Recording consent inside a call. Every client runs the shared [`ConsentMachine`] over the
//! same end-to-end signed messages (sent over the data channel), fed with who is present from
//! the call; the proposer's device records, driven by the machine's writing effects. Pure.

use std::collections::BTreeMap;

use assent_shared::api::B64;
use assent_shared::call::ConsentMsg;
use assent_shared::consent::{
    ConsentError, ConsentMachine, ConsentToken, EndReason, Input, NoticeKind, Phase, Proposal,
    Scope, SignedNotice, StatusKind, Terms,
};
use assent_shared::identity::{IdentityKey, PublicIdentity};
use assent_shared::signal::PeerId;
use assent_shared::{CallId, DeviceId, RecordingId, SecretIdentity, Timestamp};

/// How long a proposal's window stays open (consent may be given and media written within it).
const WINDOW_MS: u64 = 12 * 3600 * 1000;
/// At most this many epochs or tokens in a sync.
const MAX_SYNC: usize = 64;

/// What the recorder must do (only on the proposer's device).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordCommand {
    /// Everyone present agreed: start writing, with this consent.
    Start {
        epochs: Vec<Proposal>,
        tokens: Vec<ConsentToken>,
    },
    /// Someone present has not agreed (a newcomer): stop writing media until they do.
    Pause,
    /// Consent is complete again, with the newcomer's token.
    Resume {
        epochs: Vec<Proposal>,
        tokens: Vec<ConsentToken>,
    },
    /// The recording is over (withdrawal, recorder left, window over).
    Stop(EndReason),
}

/// What the UI shows of recording consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsentEvent {
    /// Show the consent dialog.
    Asked {
        recording: RecordingId,
        title: String,
        proposer: String,
        scope: Scope,
        retention_days: u16,
        epoch: u32,
    },
    /// The recording state as everyone sees it.
    Status {
        state: StatusKind,
        title: String,
        agreed: Vec<String>,
        waiting_for: Vec<String>,
    },
    /// The proposal or the recording ended, and why.
    Ended { reason: String },
    /// A consent message was refused.
    Refused { error: String },
}

/// What the call machine must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Broadcast(ConsentMsg),
    SendTo(PeerId, ConsentMsg),
    Record(RecordCommand),
    Event(ConsentEvent),
}

/// One client's consent for one call.
pub struct ConsentLink {
    machine: ConsentMachine,
    me: PublicIdentity,
    device: DeviceId,
    call: CallId,
    names: BTreeMap<IdentityKey, String>,
    peers: BTreeMap<IdentityKey, PeerId>,
    last_status: Option<(StatusKind, Vec<IdentityKey>, Vec<IdentityKey>)>,
}

fn b64(bytes: Vec<u8>) -> B64 {
    B64(bytes)
}

/// Why it ended, in words.
pub fn describe(reason: &EndReason, names: &BTreeMap<IdentityKey, String>) -> String {
    let who = |k: &IdentityKey| names.get(k).cloned().unwrap_or_else(|| k.short());
    match reason {
        EndReason::Declined(n) => format!("{} declined", who(&n.body.signer)),
        EndReason::Withdrawn(n) => format!("{} withdrew consent", who(&n.body.signer)),
        EndReason::ParticipantJoined(k) => {
            format!(
                "{} joined while consent was collected: propose again",
                who(k)
            )
        }
        EndReason::RecorderLeft => "the recorder left".into(),
        EndReason::WindowEnded => "the recording window ended".into(),
    }
}

impl ConsentLink {
    pub fn new(me: PublicIdentity, name: &str, device: DeviceId, call: CallId) -> Self {
        let mut names = BTreeMap::new();
        names.insert(me.signing, name.to_string());
        ConsentLink {
            machine: ConsentMachine::new(me.clone(), call),
            me,
            device,
            call,
            names,
            peers: BTreeMap::new(),
            last_status: None,
        }
    }

    pub fn machine(&self) -> &ConsentMachine {
        &self.machine
    }

    fn is_recorder(&self) -> bool {
        self.machine
            .session()
            .is_some_and(|s| s.epochs()[0].terms.proposer == self.me.signing)
    }

    fn consent(&self) -> (Vec<Proposal>, Vec<ConsentToken>) {
        self.machine
            .session()
            .map(|s| (s.epochs().to_vec(), s.tokens().cloned().collect()))
            .unwrap_or_default()
    }

    fn name(&self, k: &IdentityKey) -> String {
        self.names.get(k).cloned().unwrap_or_else(|| k.short())
    }

    /// Run the machine on one input and turn its effects into ours.
    fn feed(&mut self, now: Timestamp, input: Input, out: &mut Vec<Out>) {
        let recorder_before = self.is_recorder();
        for e in self.machine.handle(now, input) {
            use assent_shared::consent::Effect as E;
            match e {
                E::AskConsent(p) => out.push(Out::Event(ConsentEvent::Asked {
                    recording: p.terms.recording_id,
                    title: p.terms.title.clone(),
                    proposer: self.name(&p.terms.proposer),
                    scope: p.terms.scope,
                    retention_days: p.terms.retention_days,
                    epoch: p.epoch,
                })),
                E::StartWriting { .. } if self.is_recorder() => {
                    let (epochs, tokens) = self.consent();
                    out.push(Out::Record(RecordCommand::Start { epochs, tokens }));
                }
                E::PauseWriting if self.is_recorder() => {
                    out.push(Out::Record(RecordCommand::Pause));
                }
                E::ResumeWriting { .. } if self.is_recorder() => {
                    let (epochs, tokens) = self.consent();
                    out.push(Out::Record(RecordCommand::Resume { epochs, tokens }));
                }
                E::StopWriting(reason) => {
                    // The session is gone by now: who recorded is what it was before.
                    if recorder_before {
                        out.push(Out::Record(RecordCommand::Stop(reason.clone())));
                    }
                    out.push(Out::Event(ConsentEvent::Ended {
                        reason: describe(&reason, &self.names),
                    }));
                }
                E::ProposalEnded(reason) => out.push(Out::Event(ConsentEvent::Ended {
                    reason: describe(&reason, &self.names),
                })),
                E::Rejected(err) => out.push(Out::Event(ConsentEvent::Refused {
                    error: err.to_string(),
                })),
                _ => {}
            }
        }
        self.status(out);
    }

    /// Report the status when it changed.
    fn status(&mut self, out: &mut Vec<Out>) {
        let s = self.machine.status();
        let now = (s.kind, s.agreed.clone(), s.waiting_for.clone());
        if self.last_status.as_ref() == Some(&now) {
            return;
        }
        self.last_status = Some(now);
        let title = self
            .machine
            .session()
            .map(|x| x.current().terms.title.clone())
            .unwrap_or_default();
        out.push(Out::Event(ConsentEvent::Status {
            state: s.kind,
            title,
            agreed: s.agreed.iter().map(|k| self.name(k)).collect(),
            waiting_for: s.waiting_for.iter().map(|k| self.name(k)).collect(),
        }));
    }

    /// Someone took a seat (their directory-verified bundle).
    pub fn joined(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        identity: &PublicIdentity,
        name: &str,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        self.names.insert(identity.signing, name.to_string());
        self.peers.insert(identity.signing, peer);
        self.feed(now, Input::Joined(identity.clone()), &mut out);
        // The recorder brings a newcomer up to date (they sign the extended set).
        if self.is_recorder() && self.machine.session().is_some() {
            let (epochs, tokens) = self.consent();
            if !tokens.is_empty() {
                out.push(Out::SendTo(
                    peer,
                    ConsentMsg::Sync {
                        epochs: epochs.iter().map(|p| b64(p.to_bytes())).collect(),
                        tokens: tokens.iter().map(|t| b64(t.to_bytes())).collect(),
                    },
                ));
            }
        }
        out
    }

    pub fn left(&mut self, now: Timestamp, key: IdentityKey) -> Vec<Out> {
        let mut out = Vec::new();
        self.peers.remove(&key);
        self.feed(now, Input::Left(key), &mut out);
        out
    }

    /// We leave the call: as the recorder, that ends the recording (the others see us leave
    /// and end it on their side).
    pub fn leaving(&mut self, _now: Timestamp) -> Vec<Out> {
        let mut out = Vec::new();
        if self.is_recorder() {
            if matches!(self.machine.phase(), Phase::Active { .. }) {
                out.push(Out::Record(RecordCommand::Stop(EndReason::RecorderLeft)));
            }
            out.push(Out::Event(ConsentEvent::Ended {
                reason: describe(&EndReason::RecorderLeft, &self.names),
            }));
        }
        out
    }

    pub fn tick(&mut self, now: Timestamp) -> Vec<Out> {
        let mut out = Vec::new();
        if self.machine.session().is_some() {
            self.feed(now, Input::Tick, &mut out);
        }
        out
    }

    /// A consent message from a peer.
    pub fn message(&mut self, now: Timestamp, msg: ConsentMsg) -> Vec<Out> {
        let mut out = Vec::new();
        let input = match decode(msg) {
            Ok(i) => i,
            Err(e) => {
                out.push(Out::Event(ConsentEvent::Refused {
                    error: e.to_string(),
                }));
                return out;
            }
        };
        self.feed(now, input, &mut out);
        out
    }

    /// Propose recording this call to everyone present; our own consent goes with it.
    pub fn propose(
        &mut self,
        now: Timestamp,
        identity: &SecretIdentity,
        title: &str,
        scope: Scope,
        retention_days: u16,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        let participants: Vec<PublicIdentity> =
            self.machine.present_identities().cloned().collect();
        let terms = Terms {
            recording_id: RecordingId::random(),
            call_id: self.call,
            proposer: self.me.signing,
            recorder_device: self.device,
            scope,
            retention_days,
            title: title.trim().to_string(),
            not_before: now,
            not_after: now.plus_millis(WINDOW_MS),
        };
        let proposal = match Proposal::new(terms, participants) {
            Ok(p) => p,
            Err(e) => {
                out.push(Out::Event(ConsentEvent::Refused {
                    error: format!("cannot propose: {e}"),
                }));
                return out;
            }
        };
        self.feed(now, Input::Propose(proposal.clone()), &mut out);
        if self.machine.session().is_none() {
            return out;
        }
        // No dialog for the proposer: proposing is agreeing.
        out.retain(|o| !matches!(o, Out::Event(ConsentEvent::Asked { .. })));
        out.push(Out::Broadcast(ConsentMsg::Propose {
            proposal: b64(proposal.to_bytes()),
        }));
        // Proposing is agreeing.
        out.extend(self.agree(now, identity));
        out
    }

    /// Sign consent for the current proposal and tell everyone.
    pub fn agree(&mut self, now: Timestamp, identity: &SecretIdentity) -> Vec<Out> {
        let mut out = Vec::new();
        let Some(current) = self.machine.session().map(|s| s.current().clone()) else {
            out.push(Out::Event(ConsentEvent::Refused {
                error: "there is no recording proposal to agree to".into(),
            }));
            return out;
        };
        let token = ConsentToken::sign(identity, &current, now);
        self.feed(now, Input::Token(token.clone()), &mut out);
        out.push(Out::Broadcast(ConsentMsg::Token {
            token: b64(token.to_bytes()),
        }));
        out
    }

    /// Decline the proposal, or withdraw consent given: either ends it for everyone.
    pub fn refuse(
        &mut self,
        now: Timestamp,
        identity: &SecretIdentity,
        kind: NoticeKind,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        let Some(current) = self.machine.session().map(|s| s.current().clone()) else {
            out.push(Out::Event(ConsentEvent::Refused {
                error: "there is no recording to decline or withdraw from".into(),
            }));
            return out;
        };
        let notice = SignedNotice::sign(identity, kind, &current, now);
        self.feed(now, Input::Notice(notice.clone()), &mut out);
        out.push(Out::Broadcast(ConsentMsg::Notice {
            notice: b64(notice.to_bytes()),
        }));
        out
    }
}

fn decode(msg: ConsentMsg) -> Result<Input, ConsentError> {
    Ok(match msg {
        ConsentMsg::Propose { proposal } => Input::Propose(Proposal::from_bytes(&proposal.0)?),
        ConsentMsg::Token { token } => Input::Token(ConsentToken::from_bytes(&token.0)?),
        ConsentMsg::Notice { notice } => Input::Notice(SignedNotice::from_bytes(&notice.0)?),
        ConsentMsg::Sync { epochs, tokens } => {
            if epochs.len() > MAX_SYNC || tokens.len() > MAX_SYNC {
                return Err(ConsentError::InvalidProposal("sync too large"));
            }
            Input::Sync {
                epochs: epochs
                    .iter()
                    .map(|e| Proposal::from_bytes(&e.0))
                    .collect::<Result<_, _>>()?,
                tokens: tokens
                    .iter()
                    .map(|t| ConsentToken::from_bytes(&t.0))
                    .collect::<Result<_, _>>()?,
            }
        }
    })
}
