//! The call state machine: pure code, inputs in, effects out. The edge (`call::run`) feeds it
//! signaling frames, WebRTC events and the user's commands, and performs what it returns.
//!
//! ```text
//!  per remote peer          Vetting ── the directory's proof for their email and bundle
//!                              │       (failed: refused before anything else; a key other
//!                              │        than the pinned one: KeyChanged until accepted)
//!                           we joined after them            they joined after us
//!                           Offering                        AwaitingOffer
//!                              │ our offer is ready            │ their offer: envelope signed,
//!                              ▼ (signed, sent)                ▼ DTLS binding verified
//!                           AwaitingAnswer                  Answering
//!                              │ their answer: verified        │ our answer is ready (sent)
//!                              └──────────► Connecting ◄───────┘
//!                                              │ DTLS: the certificate presented has the
//!                                              ▼ fingerprint the peer signed for this call
//!                                           Connected ── media and data channel open
//!  any phase: bad signature or binding, certificate mismatch, no connection within the timeout
//!  → failed (closed, never retried silently); peer left, or silent on the data channel for a few
//!  seconds (killed, unplugged) → removed.
//! ```
//!
//! Nothing is negotiated with a peer until the key directory has proven that the bundle
//! signaling presents is the one published for their email (the edge fetches and checks the
//! proof, and compares the key with the one pinned for that email): a server that hands out a
//! key of its own is refused before any media, chat or consent. Their signaling waits meanwhile.
//!
//! The peers also compare the newest signed directory root they hold (gossip over the data
//! channel): two different signed roots for one epoch prove that the server showed people
//! different directories; everyone is told and any recording stops.
//!
//! The newcomer offers to everyone already present, so two peers never offer to each other.
//! Media is opened towards a peer only once its certificate is verified: until then the edge
//! keeps the send and receive valves closed and nothing is sent on the data channel.
//!
//! Files: this one holds the state, the inputs' dispatch, seats and peers, consent and time;
//! `machine_negotiation.rs` the signed signaling, descriptions, candidates and certificates;
//! `machine_channel.rs` the data channel; `machine_directory.rs` the key directory checks and
//! gossip; `machine_types.rs` the inputs, effects and events.

use std::collections::{BTreeMap, BTreeSet};

use assent_shared::api::B64;
use assent_shared::call::{
    Body, CALL_PROTOCOL_VERSION, CallError, DtlsFingerprint, Envelope, MAX_CHAT, MediaState, Party,
    PeerMessage, SignedEnvelope, sign_dtls, verify_sdp_binding,
};
use assent_shared::consent::NoticeKind;
use assent_shared::container::SignedHead;
use assent_shared::ids::UserId;
use assent_shared::signal::{LeaveReason, PeerId, PeerInfo};
use assent_shared::transparency::{DirectoryKeys, Equivocation, SignedRoot};
use assent_shared::{CallId, DeviceId, PublicIdentity, RecordingId, SecretIdentity, Timestamp};

pub use super::candidates::CandidateFilter;
use super::consent::{ConsentLink, Out};
pub use types::*;

#[path = "machine_channel.rs"]
mod channel;
#[path = "machine_directory.rs"]
mod directory;
#[path = "machine_negotiation.rs"]
mod negotiation;
#[path = "machine_types.rs"]
mod types;

/// Messages held for a peer whose channel is not open (or not verified) yet.
const MAX_QUEUED: usize = 256;

/// Timing and network policy.
#[derive(Clone, Debug)]
pub struct Config {
    /// A peer not connected and verified by then is given up.
    pub connect_timeout_ms: u64,
    /// A connected peer silent on the data channel this long is gone.
    pub silence_timeout_ms: u64,
    pub ping_interval_ms: u64,
    pub candidates: CandidateFilter,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout_ms: 30_000,
            silence_timeout_ms: 5_000,
            ping_interval_ms: 1_000,
            candidates: CandidateFilter::default(),
        }
    }
}

#[derive(Debug)]
struct Peer {
    info: PeerInfo,
    phase: Phase,
    since: Timestamp,
    /// The fingerprint the peer signed (from its verified description).
    expected: Option<DtlsFingerprint>,
    /// A certificate seen before the description was verified.
    presented: Option<DtlsFingerprint>,
    /// Our description went out: local candidates may follow it.
    described: bool,
    held_candidates: Vec<(u32, String)>,
    last_seq: u64,
    channel_open: bool,
    verified: bool,
    last_heard: Timestamp,
    last_ping: Timestamp,
    inbox: Vec<String>,
    outbox: Vec<PeerMessage>,
    media: MediaState,
    /// We make the offer (they were here before us).
    offerer: bool,
    /// Signaling that arrived while their key was being vetted.
    held_signals: Vec<String>,
    /// The newest directory epoch they told us of.
    root_epoch: Option<u64>,
    /// They are comparing our changed key with their user: no connection timeout meanwhile.
    held_by_them: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallPhase {
    Joining,
    InCall { call: CallId, me: PeerId },
    Over,
}

/// One call, as one participant sees it.
pub struct CallMachine {
    identity: SecretIdentity,
    user: UserId,
    name: String,
    email: String,
    device: DeviceId,
    config: Config,
    now: Timestamp,
    consent: Option<ConsentLink>,
    phase: CallPhase,
    peers: BTreeMap<PeerId, Peer>,
    seq: u64,
    local: MediaState,
    chat_seq: u64,
    awaiting_ack: BTreeMap<u64, BTreeSet<PeerId>>,
    /// The directory keys pinned for the server, once the edge told us.
    directory: Option<DirectoryKeys>,
    /// Directory roots known here by epoch (ours and peers' that verified), newest kept.
    roots: BTreeMap<u64, SignedRoot>,
    /// The newest root we accepted ourselves (what we gossip).
    newest: Option<SignedRoot>,
    /// The server was caught equivocating (once is enough).
    equivocation: Option<Equivocation>,
    /// The recordings each peer showed chain heads of (bounded: a peer cannot fill the store).
    heads_from: BTreeMap<PeerId, BTreeSet<RecordingId>>,
}

/// Recordings one peer may show chain heads of in one call.
const MAX_HEADS_PER_PEER: usize = 16;

/// Directory roots remembered in a call.
const MAX_ROOTS: usize = 64;

impl CallMachine {
    pub fn new(
        identity: SecretIdentity,
        user: UserId,
        name: &str,
        email: &str,
        device: DeviceId,
        local: MediaState,
        config: Config,
    ) -> Self {
        CallMachine {
            identity,
            user,
            name: name.to_string(),
            email: email.to_string(),
            device,
            config,
            now: Timestamp(0),
            consent: None,
            phase: CallPhase::Joining,
            peers: BTreeMap::new(),
            seq: 0,
            local,
            chat_seq: 0,
            awaiting_ack: BTreeMap::new(),
            directory: None,
            roots: BTreeMap::new(),
            newest: None,
            equivocation: None,
            heads_from: BTreeMap::new(),
        }
    }

    pub fn is_over(&self) -> bool {
        self.phase == CallPhase::Over
    }

    /// This participant's public identity.
    pub fn identity(&self) -> &PublicIdentity {
        self.identity.public()
    }

    /// This participant's name as the others see it.
    pub fn display_name(&self) -> &str {
        &self.name
    }

    /// The connection phase of each remote peer.
    pub fn peers(&self) -> impl Iterator<Item = (PeerId, Phase, &PeerInfo)> {
        self.peers.iter().map(|(id, p)| (*id, p.phase, &p.info))
    }

    /// The connection phase of remote peer `id` and what the server said of them.
    pub fn peer(&self, id: PeerId) -> Option<(Phase, &PeerInfo)> {
        self.peers.get(&id).map(|p| (p.phase, &p.info))
    }

    /// Recording consent for this call (once seated).
    pub fn consent(&self) -> Option<&ConsentLink> {
        self.consent.as_ref()
    }

    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.phase == CallPhase::Over {
            return fx;
        }
        self.now = now;
        match input {
            Input::Server(i) => self.server_said(now, i, &mut fx),
            Input::Media(e) => self.media_said(now, e, &mut fx),
            Input::Directory(i) => self.directory_said(now, i, &mut fx),
            Input::User(i) => self.user_asked(now, i, &mut fx),
            Input::Recorder(RecorderInput::ShareHead(head)) => {
                let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                for id in ids {
                    let head = PeerMessage::Head {
                        head: B64(head.0.clone()),
                    };
                    self.send_data(now, id, head, &mut fx);
                }
            }
            Input::Tick => self.tick(now, &mut fx),
        }
        fx
    }

    fn server_said(&mut self, now: Timestamp, input: ServerInput, fx: &mut Vec<Effect>) {
        match input {
            ServerInput::Joined {
                call,
                me,
                peers,
                resumed,
            } => self.joined(now, call, me, peers, resumed, fx),
            ServerInput::PeerJoined(info) => self.add_peer(now, info, false, fx),
            ServerInput::PeerLeft { peer, reason } => self.remove(peer, reason, fx),
            ServerInput::Signal { from, payload } => self.signal(now, from, &payload, fx),
            ServerInput::Removed => self.end(EndReason::Removed, fx),
            ServerInput::Ended => self.end(EndReason::MeetingEnded, fx),
        }
    }

    fn media_said(&mut self, now: Timestamp, event: MediaEvent, fx: &mut Vec<Effect>) {
        match event {
            MediaEvent::LocalDescription { peer, kind, sdp } => {
                self.local_description(now, peer, kind, sdp, fx)
            }
            MediaEvent::LocalCandidate {
                peer,
                mline,
                candidate,
            } => self.local_candidate(peer, mline, candidate, fx),
            MediaEvent::Transport { peer, state } => self.transport(peer, state, fx),
            MediaEvent::RemoteCertificate { peer, fingerprint } => {
                self.certificate(now, peer, fingerprint, fx)
            }
            MediaEvent::ChannelOpen { peer } => self.channel_open(now, peer, fx),
            MediaEvent::ChannelMessage { peer, text } => self.channel_message(now, peer, text, fx),
            MediaEvent::PeerError { peer, reason } => self.fail(peer, reason, fx),
            // The bitrate is the call task's business, not the call's state.
            MediaEvent::SendEstimate { .. } => {}
        }
    }

    fn directory_said(&mut self, now: Timestamp, input: DirectoryInput, fx: &mut Vec<Effect>) {
        match input {
            DirectoryInput::PeerVetted { peer, outcome } => self.vetted(now, peer, outcome, fx),
            DirectoryInput::DirectoryRoot { keys, root } => {
                self.directory_root(now, keys, root, fx)
            }
        }
    }

    fn user_asked(&mut self, now: Timestamp, input: UserInput, fx: &mut Vec<Effect>) {
        match input {
            UserInput::AcceptKey { peer } => self.accept_key(now, peer, fx),
            UserInput::KeyCompared { peer } => self.key_compared(peer, fx),
            UserInput::SetMedia(state) => self.set_media(now, state, fx),
            UserInput::SendChat { text } => self.send_chat(now, text, fx),
            UserInput::ProposeRecording {
                title,
                scope,
                retention_days,
            } => self.with_consent(fx, |c, id, now| {
                c.propose(now, id, &title, scope, retention_days)
            }),
            UserInput::AgreeRecording => self.with_consent(fx, |c, id, now| c.agree(now, id)),
            UserInput::DeclineRecording => {
                self.with_consent(fx, |c, id, now| c.refuse(now, id, NoticeKind::Decline))
            }
            UserInput::WithdrawConsent => {
                self.with_consent(fx, |c, id, now| c.refuse(now, id, NoticeKind::Withdraw))
            }
            UserInput::Leave => self.end(EndReason::Left, fx),
        }
    }

    /// The data channel to `peer` opened: what waited for it goes now.
    fn channel_open(&mut self, now: Timestamp, peer: PeerId, fx: &mut Vec<Effect>) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.channel_open = true;
            p.last_heard = now;
        }
        self.flush(now, peer, fx);
    }

    /// The user accepts `peer`'s changed key after comparing the safety number: verified.
    fn accept_key(&mut self, now: Timestamp, peer: PeerId, fx: &mut Vec<Effect>) {
        if self
            .peers
            .get(&peer)
            .is_some_and(|p| p.phase == Phase::KeyChanged)
        {
            self.trusted(peer, true, fx);
            self.proceed(now, peer, fx);
        }
    }

    /// The user compared `peer`'s safety number in person (not while its key is in question).
    fn key_compared(&mut self, peer: PeerId, fx: &mut Vec<Effect>) {
        if self
            .peers
            .get(&peer)
            .is_some_and(|p| !matches!(p.phase, Phase::Vetting | Phase::KeyChanged))
        {
            self.trusted(peer, true, fx);
        }
    }

    /// The user turned the microphone, camera or screen on or off: apply it, tell everyone.
    fn set_media(&mut self, now: Timestamp, state: MediaState, fx: &mut Vec<Effect>) {
        self.local = state;
        fx.push(Effect::ApplyLocalMedia(state));
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.send_data(now, id, PeerMessage::State { state }, fx);
        }
    }

    fn joined(
        &mut self,
        now: Timestamp,
        call: CallId,
        me: PeerId,
        peers: Vec<PeerInfo>,
        resumed: bool,
        fx: &mut Vec<Effect>,
    ) {
        let same_call =
            matches!(self.phase, CallPhase::InCall { call: c, me: m } if c == call && m == me);
        fx.push(Effect::Event(Event::Joined { call, me, resumed }));
        if resumed && same_call {
            // A resumed seat: connections are peer to peer and carried on. Reconcile who is here.
            let present: BTreeSet<PeerId> = peers.iter().map(|p| p.peer_id).collect();
            let gone: Vec<PeerId> = self
                .peers
                .keys()
                .filter(|id| !present.contains(id))
                .copied()
                .collect();
            for id in gone {
                self.remove(id, LeaveReason::Left, fx);
            }
            for info in peers {
                if !self.peers.contains_key(&info.peer_id) {
                    self.add_peer(now, info, false, fx);
                }
            }
            return;
        }
        // A fresh seat (also after a reconnect too late to resume): start over. A recording
        // made here belonged to the old seat's call and its consent: it ends now.
        if self.consent.is_some() {
            let now = self.now;
            self.with_consent(fx, |c, _, _| c.leaving(now));
        }
        let old: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in old {
            self.remove(id, LeaveReason::Lost, fx);
        }
        self.phase = CallPhase::InCall { call, me };
        self.seq = 0;
        self.consent = Some(ConsentLink::new(
            self.identity.public().clone(),
            &self.name,
            &self.email,
            self.device,
            call,
        ));
        for info in peers {
            self.add_peer(now, info, true, fx);
        }
    }

    fn add_peer(&mut self, now: Timestamp, info: PeerInfo, offerer: bool, fx: &mut Vec<Effect>) {
        let CallPhase::InCall { me, .. } = self.phase else {
            return;
        };
        let id = info.peer_id;
        if id == me || self.peers.contains_key(&id) {
            return;
        }
        fx.push(Effect::Event(Event::ParticipantJoined {
            peer: id,
            user: info.user_id,
            email: info.email.clone(),
            name: info.display_name.clone(),
            // We make the offer to those already there; newcomers offer to us.
            arrived: !offerer,
        }));
        if info.identity.verify().is_err() {
            fx.push(Effect::Event(Event::PeerFailed {
                peer: id,
                reason: "their identity key bundle does not verify".into(),
            }));
            return;
        }
        fx.push(Effect::VetPeer {
            peer: id,
            email: info.email.clone(),
            identity: info.identity.clone(),
        });
        self.peers.insert(
            id,
            Peer {
                info,
                phase: Phase::Vetting,
                since: now,
                expected: None,
                presented: None,
                described: false,
                held_candidates: Vec::new(),
                last_seq: 0,
                channel_open: false,
                verified: false,
                last_heard: now,
                last_ping: now,
                inbox: Vec::new(),
                outbox: Vec::new(),
                media: MediaState::default(),
                offerer,
                held_signals: Vec::new(),
                root_epoch: None,
                held_by_them: false,
            },
        );
        // Consent counts them at once, in the server's order (the same for everyone): a
        // recording pauses for a newcomer even before their key is proven, and they can sign
        // only once it is (consent travels on the verified data channel).
        if let Some(p) = self.peers.get(&id) {
            let (identity, name, email) = (
                p.info.identity.clone(),
                p.info.display_name.clone(),
                p.info.email.clone(),
            );
            let now = self.now;
            self.with_consent(fx, |c, _, _| c.joined(now, id, &identity, &name, &email));
        }
    }

    fn remove(&mut self, peer: PeerId, reason: LeaveReason, fx: &mut Vec<Effect>) {
        if let Some(p) = self.peers.remove(&peer) {
            fx.push(Effect::ClosePeer { peer });
            fx.push(Effect::Event(Event::ParticipantLeft { peer, reason }));
            self.consent_left(&p.info, fx);
        }
        for waiting in self.awaiting_ack.values_mut() {
            waiting.remove(&peer);
        }
        self.awaiting_ack.retain(|_, w| !w.is_empty());
    }

    /// Give up on a peer: close the connection and say why. It stays gone until it rejoins.
    fn fail(&mut self, peer: PeerId, reason: String, fx: &mut Vec<Effect>) {
        if let Some(p) = self.peers.remove(&peer) {
            fx.push(Effect::ClosePeer { peer });
            fx.push(Effect::Event(Event::PeerFailed { peer, reason }));
            self.consent_left(&p.info, fx);
        }
    }

    /// Someone is no longer in the call: consent stops counting them, unless another seat of
    /// the same account is still here.
    fn consent_left(&mut self, info: &PeerInfo, fx: &mut Vec<Effect>) {
        let key = info.identity.signing;
        if self.peers.values().any(|p| p.info.identity.signing == key) {
            return;
        }
        let now = self.now;
        self.with_consent(fx, |c, _, _| c.left(now, key));
    }

    /// Run a consent step and carry out what it asks.
    fn with_consent(
        &mut self,
        fx: &mut Vec<Effect>,
        step: impl FnOnce(&mut ConsentLink, &SecretIdentity, Timestamp) -> Vec<Out>,
    ) {
        let now = self.now;
        let Some(link) = self.consent.as_mut() else {
            fx.push(Effect::Event(Event::CommandFailed {
                reason: "not in a call yet".into(),
            }));
            return;
        };
        let outs = step(link, &self.identity, now);
        for o in outs {
            match o {
                Out::Broadcast(msg) => {
                    let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                    for id in ids {
                        let m = PeerMessage::Consent { msg: msg.clone() };
                        self.send_data(now, id, m, fx);
                    }
                }
                Out::SendTo(peer, msg) => {
                    self.send_data(now, peer, PeerMessage::Consent { msg }, fx);
                }
                Out::Record(cmd) => fx.push(Effect::Record(cmd)),
                Out::Event(e) => fx.push(Effect::Event(Event::Consent(e))),
            }
        }
    }

    fn end(&mut self, reason: EndReason, fx: &mut Vec<Effect>) {
        if self.consent.is_some() {
            // As the recorder, leaving ends the recording (its manifest is closed).
            let now = self.now;
            self.with_consent(fx, |c, _, _| c.leaving(now));
        }
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in ids {
            fx.push(Effect::ClosePeer { peer });
        }
        self.peers.clear();
        self.phase = CallPhase::Over;
        fx.push(Effect::Hangup);
        fx.push(Effect::Event(Event::Ended { reason }));
    }

    fn tick(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let mut timed_out = Vec::new();
        let mut silent = Vec::new();
        let mut ping = Vec::new();
        for (&id, p) in &self.peers {
            if p.phase == Phase::KeyChanged || (p.held_by_them && p.phase != Phase::Connected) {
                // A user (ours or theirs) is comparing a changed key: no timeout.
            } else if p.phase != Phase::Connected {
                if now.millis_since(p.since) >= self.config.connect_timeout_ms {
                    timed_out.push(id);
                }
            } else if p.channel_open {
                if now.millis_since(p.last_heard) >= self.config.silence_timeout_ms {
                    silent.push(id);
                } else if now.millis_since(p.last_ping) >= self.config.ping_interval_ms {
                    ping.push(id);
                }
            }
        }
        for id in timed_out {
            let reason = if self
                .peers
                .get(&id)
                .is_some_and(|p| p.phase == Phase::Vetting)
            {
                "their key could not be checked with the key directory in time"
            } else {
                "could not connect in time (no network path, or they did not answer)"
            };
            self.fail(id, reason.into(), fx);
        }
        for id in silent {
            self.remove(id, LeaveReason::Lost, fx);
        }
        for id in ping {
            self.send_data(now, id, PeerMessage::Ping, fx);
        }
        if self.consent.is_some() {
            self.with_consent(fx, |c, _, now| c.tick(now));
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
