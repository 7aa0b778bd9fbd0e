//! The edge around the call machine: it turns what the signaling server, the recorder and the
//! user say into the machine's inputs, performs the effects the machine returns through its
//! ports ([`Peers`] for the media, [`Io`] for the rest), and keeps what the call leaves behind
//! in the profile's store. It awaits nothing: the call's task ([`super::run`]) does the
//! waiting, so the edge runs the same against simulated ports in tests.

use std::collections::BTreeMap;
use std::path::PathBuf;

use assent_shared::consent::Scope;
use assent_shared::ids::RecordingId;

use super::ports::{self, Io, Peers};
use super::*;
use crate::store::RecordingState;

pub(super) struct Edge<P, I> {
    pub(super) machine: CallMachine,
    pub(super) peers: P,
    pub(super) io: I,
    pub(super) store: Store,
    /// The server's directory keys (pinned).
    pub(super) keys: DirectoryKeys,
    pub(super) public: PublicIdentity,
    pub(super) name: String,
    /// The directories of recordings made here that go to the cloud.
    pub(super) cloud: BTreeMap<RecordingId, PathBuf>,
    /// A recording is running here (until its Finished event).
    pub(super) recording: bool,
    /// Segments and ciphertext bytes of the recording running here.
    pub(super) recording_stats: (u32, u64),
    /// The video codecs each peer announced.
    pub(super) codecs: BTreeMap<PeerId, Vec<String>>,
    pub(super) record: CallRecord,
}

impl<P: Peers, I: Io> Edge<P, I> {
    /// A new edge for `machine`, keeping the call's history as `record`.
    pub(super) fn new(
        machine: CallMachine,
        peers: P,
        io: I,
        store: Store,
        keys: DirectoryKeys,
        record: CallRecord,
    ) -> Self {
        Edge {
            public: machine.identity().clone(),
            name: machine.display_name().to_string(),
            machine,
            peers,
            io,
            store,
            keys,
            cloud: BTreeMap::new(),
            recording: false,
            recording_stats: (0, 0),
            codecs: BTreeMap::new(),
            record,
        }
    }

    /// What the recorder did: kept in the library, told to the app; a new chain head is shared
    /// with the others (`Some`: the machine's input for that).
    pub(super) fn recorded(&mut self, ev: RecorderEvent) -> Option<Input> {
        self.library(&ev);
        let share = match &ev {
            RecorderEvent::Head { head, .. } => {
                Some(Input::Recorder(RecorderInput::ShareHead(head.clone())))
            }
            _ => None,
        };
        self.io.report(CallEvent::Recording(ev));
        share
    }

    /// The call is over: it is kept in the local history, and the driver hears why.
    pub(super) fn finish(&mut self, why: String) {
        self.record.ended_at = Some(Timestamp::now().0);
        if !self.record.call_id.is_empty()
            && let Err(e) = self.store.record_call(&self.record)
        {
            tracing::warn!("cannot keep the call in the local history: {e}");
        }
        self.io.report(CallEvent::Closed { reason: why });
    }

    /// What the user asked for, as the machine's input (`None`: answered here). Statistics
    /// are the call's task's to answer (they await the media's reports).
    pub(super) fn command(&mut self, c: Command) -> Option<Input> {
        Some(Input::User(match c {
            Command::SetMedia(s) => UserInput::SetMedia(s),
            Command::Chat(text) => {
                self.io.record(recorder::Command::Chat {
                    from: self.name.clone(),
                    text: text.clone(),
                    at: Timestamp::now().0,
                });
                UserInput::SendChat { text }
            }
            Command::Record {
                title,
                scope,
                retention_days,
            } => UserInput::ProposeRecording {
                title,
                scope,
                retention_days,
            },
            Command::AgreeRecording => UserInput::AgreeRecording,
            Command::DeclineRecording => UserInput::DeclineRecording,
            Command::WithdrawConsent => UserInput::WithdrawConsent,
            Command::AcceptKey(peer) => return self.accept_key(peer),
            Command::MarkVerified(peer) => return self.mark_verified(peer),
            Command::Leave => UserInput::Leave,
            Command::Stats(_) => return None,
        }))
    }

    /// Hand `input` to the machine and perform what it returns, until nothing more follows.
    pub(super) fn feed(&mut self, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            let now = Timestamp::now();
            if !matches!(input, Input::Tick) {
                tracing::debug!(input = input.kind(), "call input");
            }
            for effect in self.machine.handle(now, input) {
                if let Some(next) = self.perform(effect) {
                    queue.push(next);
                }
            }
        }
    }

    /// Perform one effect; a failure comes back as an input for the machine.
    pub(super) fn perform(&mut self, effect: Effect) -> Option<Input> {
        let effect = match ports::route(effect, &self.peers, &self.codecs) {
            ports::Routed::Done => return None,
            ports::Routed::Input(input) => return Some(input),
            ports::Routed::LocalFailed(e) => {
                self.io.report(CallEvent::MediaError(e.to_string()));
                return None;
            }
            ports::Routed::NotMedia(effect) => effect,
        };
        match effect {
            Effect::Signal { to, payload } => self.io.signal(ClientMsg::Send {
                to: Some(to),
                payload,
            }),
            Effect::VetPeer {
                peer,
                email,
                identity,
            } => self.vet(peer, email, identity),
            Effect::CheckRoot { epoch } => self.io.check_root(epoch),
            Effect::Hangup => self.io.signal(ClientMsg::Leave),
            // The media's own effects went to the media above.
            Effect::CreatePeer { .. }
            | Effect::ApplyRemote { .. }
            | Effect::AddCandidate { .. }
            | Effect::OpenMedia { .. }
            | Effect::ClosePeer { .. }
            | Effect::SendData { .. }
            | Effect::ApplyLocalMedia(_) => {}
            Effect::Record(cmd) => self.record(cmd),
            Effect::Event(e) => {
                self.keep(&e);
                self.io.report(CallEvent::Call(e));
            }
        }
        None
    }

    /// The machine's command for the recorder, with the people present when it was given.
    fn record(&mut self, cmd: RecordCommand) {
        let present: Vec<assent_shared::identity::IdentityKey> = self
            .machine
            .consent()
            .map(|c| c.machine().present().copied().collect())
            .unwrap_or_default();
        self.io.record(match cmd {
            RecordCommand::Start { epochs, tokens } => recorder::Command::Start {
                epochs,
                tokens,
                present,
            },
            RecordCommand::Pause => recorder::Command::Pause,
            RecordCommand::Resume { epochs, tokens } => recorder::Command::Resume {
                epochs,
                tokens,
                present,
            },
            RecordCommand::Stop(reason) => recorder::Command::Stop(reason),
        });
    }

    /// What an event of the call leaves behind here: evidence and chain heads in the store,
    /// chat lines and people's names for the recorder, the people in the call's history.
    pub(super) fn keep(&mut self, e: &Event) {
        match e {
            Event::Equivocation { evidence } => {
                if let Err(err) = transparency::record_equivocation(&self.store, evidence) {
                    tracing::warn!("cannot keep the evidence of an equivocation: {err}");
                }
            }
            Event::RecordingHead { head, .. } => {
                if let Err(err) = self.store.keep_head(head) {
                    tracing::warn!("cannot keep a recording's chain head: {err}");
                }
            }
            Event::Chat {
                from,
                text,
                sent_at,
                ..
            } => {
                let name = self
                    .machine
                    .peer(*from)
                    .map(|(_, info)| info.display_name.clone())
                    .unwrap_or_else(|| from.to_string());
                self.io.record(recorder::Command::Chat {
                    from: name,
                    text: text.clone(),
                    at: *sent_at,
                });
            }
            Event::ParticipantJoined {
                peer, email, name, ..
            } => {
                self.io.record(recorder::Command::Label {
                    source: crate::media::tap::Source::Peer(*peer),
                    label: format!("{name} <{email}>"),
                });
                if !self.record.participants.contains(name) {
                    self.record.participants.push(name.clone());
                }
            }
            _ => {}
        }
    }

    /// Turn a signaling event into a machine input (or report it). `Err`: the call cannot go on.
    pub(super) fn signal_event(
        &mut self,
        ev: SignalEvent,
    ) -> Result<Option<Input>, crate::signaling::Closed> {
        let msg = match ev {
            SignalEvent::Msg(m) => *m,
            SignalEvent::Reconnecting { attempt } => {
                self.io.report(CallEvent::Reconnecting { attempt });
                return Ok(None);
            }
            SignalEvent::Closed(why) => return Err(why),
        };
        let input = match msg {
            ServerMsg::Joined {
                call_id,
                peer_id,
                peers,
                resumed,
                ..
            } => {
                for p in &peers {
                    self.observe(p);
                }
                self.record.call_id = call_id.to_string();
                ServerInput::Joined {
                    call: call_id,
                    me: peer_id,
                    peers,
                    resumed,
                }
            }
            ServerMsg::PeerJoined { peer } => {
                self.observe(&peer);
                ServerInput::PeerJoined(*peer)
            }
            ServerMsg::PeerLeft { peer_id, reason } => ServerInput::PeerLeft {
                peer: peer_id,
                reason,
            },
            ServerMsg::Message { from, payload } => ServerInput::Signal { from, payload },
            ServerMsg::Removed => ServerInput::Removed,
            ServerMsg::Ended => ServerInput::Ended,
            ServerMsg::PeerUpdated { peer } => {
                self.io.report(CallEvent::Server(format!(
                    "{} is now {:?}",
                    peer.display_name, peer.role
                )));
                return Ok(None);
            }
            ServerMsg::Error { code, message } => {
                self.io
                    .report(CallEvent::Server(format!("{message} ({code})")));
                return Ok(None);
            }
            ServerMsg::Pong => return Ok(None),
        };
        Ok(Some(Input::Server(input)))
    }

    /// Keep the local library in step with what the recorder does.
    pub(super) fn library(&mut self, ev: &RecorderEvent) {
        // The cloud copy follows the recording: registered when it starts, each segment
        // uploaded once written, completed when it ends.
        match ev {
            RecorderEvent::Started { id, dir, row } if row.scope == Scope::LocalAndCloud => {
                self.cloud.insert(*id, dir.clone());
                self.io.upload(dir.clone());
            }
            RecorderEvent::Segment { id, .. } | RecorderEvent::Finished { id, .. } => {
                if let Some(dir) = self.cloud.get(id) {
                    self.io.upload(dir.clone());
                }
            }
            _ => {}
        }
        let result = match ev {
            RecorderEvent::Started { row, .. } => {
                self.recording = true;
                let mut row = (**row).clone();
                row.participants = std::iter::once(self.name.clone())
                    .chain(self.machine.peers().map(|(_, _, i)| i.display_name.clone()))
                    .collect();
                self.recording_stats = (0, 0);
                self.store.add_recording(&row)
            }
            RecorderEvent::Segment { id, bytes, .. } => {
                self.recording_stats.0 += 1;
                self.recording_stats.1 += bytes;
                let (n, size) = self.recording_stats;
                self.store.recording_progress(&id.to_string(), n, size)
            }
            RecorderEvent::Finished { id, .. } => {
                self.recording = false;
                self.store.recording_ended(
                    &id.to_string(),
                    RecordingState::Complete,
                    Some(Timestamp::now().0),
                )
            }
            // The recorder keeps its own witness too (a cloud copy it downloads later).
            RecorderEvent::Head { head, .. } => self.store.keep_head(head),
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!("recordings library: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
