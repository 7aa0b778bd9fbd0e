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

/// Someone a recording would be encrypted to, as the consent dialog names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    /// Their verified email (the directory's name for their key); empty for ourselves when
    /// unknown.
    pub email: String,
    /// The key directory proved their key, and its safety number was compared in person.
    pub verified: bool,
    /// The key directory proved their key for this call (always true once they can sign).
    pub proven: bool,
    /// The first digits of their key's fingerprint.
    pub fingerprint: String,
    pub you: bool,
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
        /// Everyone the recording will be encrypted to (the epoch's participant set).
        recipients: Vec<Recipient>,
        /// Who joined since the previous epoch (an extension: continue with them?).
        joined: Vec<String>,
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

/// What the link knows of a person in the call.
#[derive(Clone, Debug, Default)]
struct Person {
    email: String,
    /// Safety number compared.
    verified: bool,
    /// Key proven by the directory in this call.
    proven: bool,
}

/// At most this many consent tokens kept while no proposal is known yet (a newcomer may hear
/// others' tokens before the recorder's sync).
const MAX_EARLY: usize = 64;

/// One client's consent for one call.
pub struct ConsentLink {
    machine: ConsentMachine,
    me: PublicIdentity,
    device: DeviceId,
    call: CallId,
    names: BTreeMap<IdentityKey, String>,
    people: BTreeMap<IdentityKey, Person>,
    peers: BTreeMap<IdentityKey, PeerId>,
    last_status: Option<(StatusKind, Vec<IdentityKey>, Vec<IdentityKey>)>,
    /// Tokens that arrived before their recording was known here.
    early: Vec<ConsentToken>,
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
    pub fn new(
        me: PublicIdentity,
        name: &str,
        email: &str,
        device: DeviceId,
        call: CallId,
    ) -> Self {
        let mut names = BTreeMap::new();
        names.insert(me.signing, name.to_string());
        let mut people = BTreeMap::new();
        people.insert(
            me.signing,
            Person {
                email: email.to_string(),
                verified: true,
                proven: true,
            },
        );
        ConsentLink {
            machine: ConsentMachine::new(me.clone(), call),
            me,
            device,
            call,
            names,
            people,
            peers: BTreeMap::new(),
            last_status: None,
            early: Vec::new(),
        }
    }

    /// The directory proved `key` (and `compared`: its safety number was compared).
    pub fn set_verified(&mut self, key: IdentityKey, compared: bool) {
        let p = self.people.entry(key).or_default();
        p.proven = true;
        p.verified = compared;
    }

    /// Who `p` would be encrypted to, as the dialog shows them.
    fn recipients(&self, p: &Proposal) -> Vec<Recipient> {
        p.participants
            .iter()
            .map(|id| {
                let person = self.people.get(&id.signing).cloned().unwrap_or_default();
                let fp = id.fingerprint();
                Recipient {
                    name: self.name(&id.signing),
                    email: person.email,
                    verified: person.verified,
                    proven: person.proven,
                    fingerprint: fp.chars().take(11).collect(),
                    you: id.signing == self.me.signing,
                }
            })
            .collect()
    }

    /// Who is in `p` but was not in the epoch before it.
    fn newcomers(&self, p: &Proposal) -> Vec<String> {
        let Some(s) = self.machine.session() else {
            return Vec::new();
        };
        let Some(before) = p
            .epoch
            .checked_sub(1)
            .and_then(|e| s.epochs().get(e as usize))
        else {
            return Vec::new();
        };
        p.participants
            .iter()
            .filter(|id| !before.is_member(&id.signing))
            .map(|id| self.name(&id.signing))
            .collect()
    }

    pub fn machine(&self) -> &ConsentMachine {
        &self.machine
    }

    /// This device records: the proposer is us, and the terms name this device (another
    /// device of the same account in the call does not record).
    fn is_recorder(&self) -> bool {
        self.machine.session().is_some_and(|s| {
            let t = &s.epochs()[0].terms;
            t.proposer == self.me.signing && t.recorder_device == self.device
        })
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
                    recipients: self.recipients(&p),
                    joined: self.newcomers(&p),
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

    /// Someone took a seat (their bundle as signaling presents it; the directory's proof of
    /// it follows, [`Self::set_verified`]: until then they cannot sign anything here).
    pub fn joined(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        identity: &PublicIdentity,
        name: &str,
        email: &str,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        self.names.insert(identity.signing, name.to_string());
        self.people.entry(identity.signing).or_default().email = email.to_string();
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
        let early = matches!(input, Input::Token(_)) && self.machine.session().is_none();
        let opens = matches!(input, Input::Propose { .. } | Input::Sync { .. });
        if early {
            if let Input::Token(t) = input
                && self.early.len() < MAX_EARLY
            {
                self.early.push(t);
            }
            return out;
        }
        self.feed(now, input, &mut out);
        if opens && self.machine.session().is_some() {
            // Tokens that came before their recording was known here.
            for t in std::mem::take(&mut self.early) {
                let mut more = Vec::new();
                self.feed(now, Input::Token(t), &mut more);
                // A token that does not fit this recording is dropped quietly.
                more.retain(|o| !matches!(o, Out::Event(ConsentEvent::Refused { .. })));
                out.extend(more);
            }
        }
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
        // Proposing is agreeing: the proposal goes with our own token, which also shows
        // everyone that we (the proposer it names) made it.
        let token = ConsentToken::sign(identity, &proposal, now);
        self.feed(
            now,
            Input::Propose {
                proposal: proposal.clone(),
                token: token.clone(),
            },
            &mut out,
        );
        if self.machine.session().is_none() {
            return out;
        }
        out.push(Out::Broadcast(ConsentMsg::Propose {
            proposal: b64(proposal.to_bytes()),
            token: b64(token.to_bytes()),
        }));
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
        ConsentMsg::Propose { proposal, token } => Input::Propose {
            proposal: Proposal::from_bytes(&proposal.0)?,
            token: ConsentToken::from_bytes(&token.0)?,
        },
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
