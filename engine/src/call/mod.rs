//! A call: the edge around the pure [`machine::CallMachine`]. It feeds the machine what the
//! signaling connection, the WebRTC elements and the user produce, performs the effects the
//! machine returns, and reports events to whoever drives it (the window or the CLI).

mod candidates;
pub mod consent;
pub mod machine;
mod report;

use std::time::Duration;

use assent_shared::api::CreateMeeting;
use assent_shared::call::MediaState;
use assent_shared::identity::safety_number;
use assent_shared::signal::{ClientMsg, PeerId, PeerInfo, ServerMsg};
use assent_shared::transparency::{DirectoryKeys, SignedRoot};
use assent_shared::{PublicIdentity, SecretIdentity, Timestamp};
use gst::prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::account::Account;
use crate::api::{Api, ApiError};
use crate::media::{IceOptions, Media, MediaError, MediaOptions, codec, rate};
use crate::recorder::{self, Recorder, RecorderEvent};
use crate::signaling::{self, SignalEvent, Signaling};
use crate::store::{CallRecord, PinSeen, Store};
use crate::transparency::{self, DirectoryError};
use consent::RecordCommand;
use machine::{CallMachine, Effect, Event, Input, Vetting};

/// How long a peer's key may take to appear in the key directory (a new account, or a key
/// changed a moment ago, waits for the next epoch).
const VET_WAIT: Duration = Duration::from_secs(15);
pub use report::{CallStats, PeerStats};

/// How to run a call.
#[derive(Debug)]
pub struct CallOptions {
    /// The meeting's join code.
    pub meeting: String,
    pub media: MediaOptions,
    /// Only TURN-relayed connections.
    pub relay_only: bool,
    /// Gather ICE candidates on these addresses only (empty: all interfaces).
    pub local_addresses: Vec<std::net::IpAddr>,
    /// Use the STUN/TURN servers the rendezvous server hands out.
    pub server_ice: bool,
    pub machine: machine::Config,
    pub initial: MediaState,
    /// Reach signaling through this WebSocket URL instead of the server's own (a proxy).
    pub signal_url: Option<String>,
    /// This installation (a recording proposed here is recorded here).
    pub device: assent_shared::DeviceId,
    /// Where recordings made here are kept (one directory each).
    pub recordings: std::path::PathBuf,
    /// The profile's local store (the uploader keeps its progress there).
    pub profile_db: std::path::PathBuf,
}

/// What the driver hears.
#[derive(Clone, Debug)]
pub enum CallEvent {
    /// Admitted to the meeting (before taking a seat).
    Admitted {
        title: String,
        code: String,
    },
    Call(Event),
    Reconnecting {
        attempt: u32,
    },
    /// The server's frame that is not part of the call protocol (errors, role changes).
    Server(String),
    MediaError(String),
    /// What the recorder did (on the device that records).
    Recording(RecorderEvent),
    /// How the cloud copy of a recording made here is going. These may follow `Closed`: the
    /// event stream ends once the uploads are done.
    Upload(crate::upload::UploadEvent),
    /// The call is over for us; the last event.
    Closed {
        reason: String,
    },
}

/// What the driver can ask.
#[derive(Debug)]
pub enum Command {
    SetMedia(MediaState),
    Chat(String),
    /// Propose recording the call.
    Record {
        title: String,
        scope: assent_shared::consent::Scope,
        retention_days: u16,
    },
    AgreeRecording,
    DeclineRecording,
    WithdrawConsent,
    /// The user compared `peer`'s changed key and accepts it (it becomes the pin, verified).
    AcceptKey(PeerId),
    /// The user compared `peer`'s safety number in person and it matched.
    MarkVerified(PeerId),
    Stats(oneshot::Sender<CallStats>),
    Leave,
}

/// Drive a running call.
#[derive(Clone)]
pub struct CallHandle {
    cmd: mpsc::UnboundedSender<Command>,
    pub media: Media,
}

impl CallHandle {
    pub fn send(&self, c: Command) {
        let _ = self.cmd.send(c);
    }

    pub async fn stats(&self) -> Option<CallStats> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx));
        rx.await.ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// A join code from what a person pastes: a code or an `assent://join/CODE` link.
pub fn join_code(s: &str) -> String {
    s.trim()
        .strip_prefix("assent://join/")
        .unwrap_or(s.trim())
        .trim_end_matches('/')
        .to_string()
}

/// Create an instant meeting and return its join code.
pub async fn create_meeting(api: &Api, title: &str) -> Result<String, ApiError> {
    let m = api
        .create_meeting(&CreateMeeting {
            kind: assent_shared::api::MeetingKind::Instant,
            title: title.into(),
            starts_at: None,
            duration_min: None,
            invitees: vec![],
        })
        .await?;
    Ok(m.code)
}

/// Join a meeting: admission, ICE servers, media started, then the seat. Events arrive on the
/// returned receiver until [`CallEvent::Closed`].
pub async fn start(
    api: Api,
    account: Account,
    identity: SecretIdentity,
    store: Store,
    mut opts: CallOptions,
) -> Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), CallError> {
    let (events, events_rx) = mpsc::unbounded_channel();
    // The server's directory keys, as pinned for this profile: every key in the call is
    // checked with them.
    let pinned = store.directory_keys().map_err(DirectoryError::from)?;
    let keys = match transparency::server_keys(&api, pinned).await {
        Ok(k) => k,
        Err(e @ DirectoryError::KeysChanged { .. }) => {
            let _ = store.raise_alarm("keys_changed", &e.to_string(), None, Timestamp::now());
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    if pinned.is_none() {
        store
            .set_directory_keys(&keys)
            .map_err(DirectoryError::from)?;
    }
    let newest = store.newest_root().map_err(DirectoryError::from)?;
    let meeting = api.join_meeting(&opts.meeting).await?;
    let _ = events.send(CallEvent::Admitted {
        title: meeting.title.clone(),
        code: meeting.code.clone(),
    });
    let servers = if opts.server_ice {
        api.ice_servers().await?.ice_servers
    } else {
        Vec::new()
    };
    let ice = IceOptions {
        servers,
        relay_only: opts.relay_only,
        local_addresses: std::mem::take(&mut opts.local_addresses),
    };
    let (media_events, media_rx) = mpsc::unbounded_channel();
    let mut media_opts = std::mem::take(&mut opts.media);
    media_opts.camera_on = opts.initial.video && !opts.initial.screen;
    let (start_kbps, min_kbps, max_kbps) = (
        media_opts.start_kbps,
        media_opts.min_kbps,
        media_opts.max_kbps,
    );
    let media = Media::start(media_opts, ice, media_events)?;
    if let Err(e) = media.apply_local(opts.initial) {
        let _ = events.send(CallEvent::MediaError(e.to_string()));
    }
    let (signal_tx, signal_rx) = mpsc::unbounded_channel();
    let url = opts.signal_url.take().unwrap_or_else(|| api.signal_url());
    let signaling = signaling::spawn(
        api.clone(),
        url,
        meeting.code.clone(),
        media.codecs(),
        signal_tx,
    );
    let (cmd, cmd_rx) = mpsc::unbounded_channel();
    let (up_tx, mut up_rx) = mpsc::unbounded_channel();
    let (uploads, _) = crate::upload::spawn(
        crate::upload::Uploader::new(api.clone(), opts.profile_db.clone()),
        up_tx,
    );
    {
        let events = events.clone();
        tokio::spawn(async move {
            while let Some(e) = up_rx.recv().await {
                let _ = events.send(CallEvent::Upload(e));
            }
        });
    }
    let public = identity.public().clone();
    let recorder_identity = SecretIdentity::from_bytes(&identity.to_bytes())
        .map_err(|e| CallError::Media(MediaError::Init(e.to_string())))?;
    let (rec_tx, rec_rx) = mpsc::unbounded_channel();
    let recorder = Recorder::spawn(
        media.clone(),
        std::sync::Arc::new(recorder_identity),
        opts.recordings.clone(),
        rec_tx,
    );
    recorder.send(recorder::Command::Label {
        source: crate::media::tap::Source::Local,
        label: format!("{} <{}>", account.display_name, account.email),
    });
    let mut machine = CallMachine::new(
        identity,
        account.user_id,
        &account.display_name,
        &account.email,
        opts.device,
        opts.initial,
        opts.machine.clone(),
    );
    if let Some(root) = newest {
        machine.handle(Timestamp::now(), Input::DirectoryRoot { keys, root });
    }
    let (directory_tx, directory_rx) = mpsc::unbounded_channel();
    let call = Call {
        api: api.clone(),
        keys,
        directory: directory_tx,
        machine,
        media: media.clone(),
        signaling,
        events,
        store,
        public,
        name: account.display_name.clone(),
        recorder,
        uploads,
        cloud: std::collections::BTreeMap::new(),
        recording: false,
        recording_stats: (0, 0),
        rate: rate::RateController::new(start_kbps, min_kbps, max_kbps),
        report: report::Tracker::default(),
        codecs: std::collections::BTreeMap::new(),
        record: CallRecord {
            call_id: String::new(),
            meeting_code: meeting.code,
            title: meeting.title,
            started_at: Timestamp::now().0,
            ended_at: None,
            participants: Vec::new(),
        },
    };
    tokio::spawn(call.run(media_rx, signal_rx, cmd_rx, rec_rx, directory_rx));
    Ok((CallHandle { cmd, media }, events_rx))
}

/// What the key directory answered (checked off the call's task, handled on it).
enum DirectoryReply {
    Vetted {
        peer: PeerId,
        email: String,
        name: String,
        identity: Box<PublicIdentity>,
        result: Result<transparency::Vetted, DirectoryError>,
    },
    /// The server's root of an epoch a peer named.
    Root(Result<SignedRoot, DirectoryError>),
}

struct Call {
    api: Api,
    /// The server's directory keys (pinned).
    keys: DirectoryKeys,
    directory: mpsc::UnboundedSender<DirectoryReply>,
    machine: CallMachine,
    media: Media,
    signaling: Signaling,
    events: mpsc::UnboundedSender<CallEvent>,
    store: Store,
    public: PublicIdentity,
    name: String,
    recorder: Recorder,
    uploads: crate::upload::UploadQueue,
    /// The directories of recordings made here that go to the cloud.
    cloud: std::collections::BTreeMap<assent_shared::ids::RecordingId, std::path::PathBuf>,
    /// A recording is running here (until its Finished event).
    recording: bool,
    /// Segments and ciphertext bytes of the recording running here.
    recording_stats: (u32, u64),
    rate: rate::RateController,
    report: report::Tracker,
    /// The video codecs each peer announced.
    codecs: std::collections::BTreeMap<PeerId, Vec<String>>,
    record: CallRecord,
}

impl Call {
    async fn run(
        mut self,
        mut media: mpsc::UnboundedReceiver<crate::media::MediaEvent>,
        mut signals: mpsc::UnboundedReceiver<SignalEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut recorded: mpsc::UnboundedReceiver<RecorderEvent>,
        mut directory: mpsc::UnboundedReceiver<DirectoryReply>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut second = tokio::time::interval(Duration::from_secs(1));
        let mut bus = self.media.pipeline().bus().map(|b| b.stream());
        let mut closed = String::from("left the call");
        while !self.machine.is_over() {
            let input = tokio::select! {
                Some(ev) = signals.recv() => match self.signal_event(ev) {
                    Ok(Some(input)) => input,
                    Ok(None) => continue,
                    Err(why) => {
                        closed = why;
                        Input::Leave
                    }
                },
                Some(event) = media.recv() => Input::from(event),
                Some(reply) = directory.recv() => {
                    for input in self.directory_reply(reply) {
                        self.feed(input);
                    }
                    continue;
                }
                Some(c) = commands.recv() => match c {
                    Command::SetMedia(s) => Input::SetMedia(s),
                    Command::Chat(text) => {
                        self.recorder.send(recorder::Command::Chat {
                            from: self.name.clone(),
                            text: text.clone(),
                            at: Timestamp::now().0,
                        });
                        Input::SendChat { text }
                    }
                    Command::Record { title, scope, retention_days } => Input::ProposeRecording {
                        title,
                        scope,
                        retention_days,
                    },
                    Command::AgreeRecording => Input::AgreeRecording,
                    Command::DeclineRecording => Input::DeclineRecording,
                    Command::WithdrawConsent => Input::WithdrawConsent,
                    Command::AcceptKey(peer) => match self.accept_key(peer) {
                        Some(input) => input,
                        None => continue,
                    },
                    Command::MarkVerified(peer) => match self.mark_verified(peer) {
                        Some(input) => input,
                        None => continue,
                    },
                    Command::Leave => Input::Leave,
                    Command::Stats(reply) => {
                        let _ = reply.send(self.stats().await);
                        continue;
                    }
                },
                Some(ev) = recorded.recv() => {
                    self.library(&ev);
                    let share = match &ev {
                        RecorderEvent::Head { head, .. } => Some(Input::ShareHead(head.clone())),
                        _ => None,
                    };
                    let _ = self.events.send(CallEvent::Recording(ev));
                    match share {
                        Some(input) => input,
                        None => continue,
                    }
                }
                Some(msg) = next_bus(&mut bus) => {
                    self.bus_message(&msg);
                    continue;
                }
                _ = tick.tick() => Input::Tick,
                _ = second.tick() => {
                    self.adapt().await;
                    continue;
                }
            };
            self.feed(input);
        }
        self.signaling.leave().await;
        // A recording in progress was told to stop: let it finish its last segment and close
        // its manifest before the media goes away.
        if self.recording {
            let done = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(ev) = recorded.recv().await {
                    self.library(&ev);
                    let last = matches!(ev, RecorderEvent::Finished { .. });
                    let _ = self.events.send(CallEvent::Recording(ev));
                    if last {
                        break;
                    }
                }
            });
            let _ = done.await;
        }
        self.media.stop();
        self.record.ended_at = Some(Timestamp::now().0);
        if !self.record.call_id.is_empty()
            && let Err(e) = self.store.record_call(&self.record)
        {
            tracing::warn!("cannot keep the call in the local history: {e}");
        }
        let _ = self.events.send(CallEvent::Closed { reason: closed });
    }

    fn feed(&mut self, input: Input) {
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
    fn perform(&mut self, effect: Effect) -> Option<Input> {
        match effect {
            Effect::Signal { to, payload } => self.signaling.send(ClientMsg::Send {
                to: Some(to),
                payload,
            }),
            Effect::VetPeer {
                peer,
                email,
                identity,
            } => self.vet(peer, email, identity),
            Effect::CheckRoot { epoch } => {
                let (api, keys, reply) = (self.api.clone(), self.keys, self.directory.clone());
                tokio::spawn(async move {
                    let root = match api.kt_roots(epoch, 1).await {
                        Ok(roots) => roots
                            .into_iter()
                            .find(|r| r.epoch() == epoch && r.verify(&keys.signing).is_ok())
                            .ok_or(DirectoryError::Kt(
                                assent_shared::transparency::KtError::WrongEpoch,
                            )),
                        Err(e) => Err(e.into()),
                    };
                    let _ = reply.send(DirectoryReply::Root(root));
                });
            }
            Effect::CreatePeer { peer, offerer } => {
                // The newcomer's preference decides; both sides compute the same codec.
                let mine = self.media.codecs();
                let theirs = self.codecs.get(&peer).cloned().unwrap_or_default();
                let codec = if offerer {
                    codec::choose(&mine, &theirs)
                } else {
                    codec::choose(&theirs, &mine)
                };
                if let Err(e) = self.media.create_peer(peer, offerer, codec) {
                    return Some(Input::PeerError {
                        peer,
                        reason: e.to_string(),
                    });
                }
            }
            Effect::ApplyRemote { peer, kind, sdp } => {
                if let Err(e) = self.media.apply_remote(peer, kind, &sdp) {
                    return Some(Input::PeerError {
                        peer,
                        reason: e.to_string(),
                    });
                }
            }
            Effect::AddCandidate {
                peer,
                mline,
                candidate,
            } => self.media.add_candidate(peer, mline, &candidate),
            Effect::OpenMedia { peer } => self.media.open_media(peer),
            Effect::ClosePeer { peer } => self.media.close_peer(peer),
            Effect::SendData { peer, text } => self.media.send_data(peer, &text),
            Effect::ApplyLocalMedia(state) => {
                if let Err(e) = self.media.apply_local(state) {
                    let _ = self.events.send(CallEvent::MediaError(e.to_string()));
                }
            }
            Effect::Hangup => self.signaling.send(ClientMsg::Leave),
            Effect::Record(cmd) => {
                let present: Vec<assent_shared::identity::IdentityKey> = self
                    .machine
                    .consent()
                    .map(|c| c.machine().present().copied().collect())
                    .unwrap_or_default();
                self.recorder.send(match cmd {
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
            Effect::Event(e) => {
                if let Event::Equivocation { evidence } = &e
                    && let Err(err) = transparency::record_equivocation(&self.store, evidence)
                {
                    tracing::warn!("cannot keep the evidence of an equivocation: {err}");
                }
                if let Event::RecordingHead { head, .. } = &e
                    && let Err(err) = self.store.keep_head(head)
                {
                    tracing::warn!("cannot keep a recording's chain head: {err}");
                }
                if let Event::Chat {
                    from,
                    text,
                    sent_at,
                    ..
                } = &e
                {
                    let name = self
                        .machine
                        .peers()
                        .find(|(id, _, _)| id == from)
                        .map(|(_, _, info)| info.display_name.clone())
                        .unwrap_or_else(|| from.to_string());
                    self.recorder.send(recorder::Command::Chat {
                        from: name,
                        text: text.clone(),
                        at: *sent_at,
                    });
                }
                if let Event::ParticipantJoined {
                    peer, email, name, ..
                } = &e
                {
                    self.recorder.send(recorder::Command::Label {
                        source: crate::media::tap::Source::Peer(*peer),
                        label: format!("{name} <{email}>"),
                    });
                }
                if let Event::ParticipantJoined { name, .. } = &e
                    && !self.record.participants.contains(name)
                {
                    self.record.participants.push(name.clone());
                }
                let _ = self.events.send(CallEvent::Call(e));
            }
        }
        None
    }

    /// Turn a signaling event into a machine input (or report it). `Err`: the call cannot go on.
    fn signal_event(&mut self, ev: SignalEvent) -> Result<Option<Input>, String> {
        let msg = match ev {
            SignalEvent::Msg(m) => *m,
            SignalEvent::Reconnecting { attempt } => {
                let _ = self.events.send(CallEvent::Reconnecting { attempt });
                return Ok(None);
            }
            SignalEvent::Closed(why) => return Err(why),
        };
        Ok(match msg {
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
                Some(Input::Joined {
                    call: call_id,
                    me: peer_id,
                    peers,
                    resumed,
                })
            }
            ServerMsg::PeerJoined { peer } => {
                self.observe(&peer);
                Some(Input::PeerJoined(*peer))
            }
            ServerMsg::PeerLeft { peer_id, reason } => Some(Input::PeerLeft {
                peer: peer_id,
                reason,
            }),
            ServerMsg::Message { from, payload } => Some(Input::Signal { from, payload }),
            ServerMsg::Removed => Some(Input::Removed),
            ServerMsg::Ended => Some(Input::Ended),
            ServerMsg::PeerUpdated { peer } => {
                let _ = self.events.send(CallEvent::Server(format!(
                    "{} is now {:?}",
                    peer.display_name, peer.role
                )));
                None
            }
            ServerMsg::Error { code, message } => {
                let _ = self
                    .events
                    .send(CallEvent::Server(format!("{message} ({code})")));
                None
            }
            ServerMsg::Pong => None,
        })
    }

    /// Keep the local library in step with what the recorder does.
    fn library(&mut self, ev: &RecorderEvent) {
        // The cloud copy follows the recording: registered when it starts, each segment
        // uploaded once written, completed when it ends.
        match ev {
            RecorderEvent::Started { id, dir, row } if row.scope == "local_and_cloud" => {
                self.cloud.insert(*id, dir.clone());
                self.uploads.kick(dir.clone());
            }
            RecorderEvent::Segment { id, .. } | RecorderEvent::Finished { id, .. } => {
                if let Some(dir) = self.cloud.get(id) {
                    self.uploads.kick(dir.clone());
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
                self.store
                    .recording_ended(&id.to_string(), "complete", Some(Timestamp::now().0))
            }
            // The recorder keeps its own witness too (a cloud copy it downloads later).
            RecorderEvent::Head { head, .. } => self.store.keep_head(head),
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!("recordings library: {e}");
        }
    }

    /// Note the codecs of someone we meet (their key is checked by [`Self::vet`]).
    fn observe(&mut self, p: &PeerInfo) {
        self.codecs.insert(p.peer_id, p.codecs.clone());
    }

    /// Check a peer's key with the key directory, off the call's task.
    fn vet(&mut self, peer: PeerId, email: String, identity: PublicIdentity) {
        let name = self
            .machine
            .peers()
            .find(|(id, _, _)| *id == peer)
            .map(|(_, _, i)| i.display_name.clone())
            .unwrap_or_default();
        let newest = self.store.newest_root().ok().flatten().map(|r| r.epoch());
        let (api, keys, reply) = (self.api.clone(), self.keys, self.directory.clone());
        tokio::spawn(async move {
            let result = transparency::vet(&api, &keys, newest, &email, &identity, VET_WAIT).await;
            let _ = reply.send(DirectoryReply::Vetted {
                peer,
                email,
                name,
                identity: Box::new(identity),
                result,
            });
        });
    }

    /// Turn what the directory said into machine inputs: the roots it showed (the machine
    /// compares them), then the verdict on the peer (the pin decides between trusted and
    /// changed).
    fn directory_reply(&mut self, reply: DirectoryReply) -> Vec<Input> {
        let keys = self.keys;
        let mut inputs = Vec::new();
        let learn = |store: &Store, root: SignedRoot, inputs: &mut Vec<Input>| {
            if let Err(DirectoryError::Equivocation(e)) =
                transparency::keep_root(store, &keys, &root)
            {
                // A contradiction with a root kept from an earlier check: the machine sees both.
                inputs.push(Input::DirectoryRoot { keys, root: e.a });
                inputs.push(Input::DirectoryRoot { keys, root: e.b });
            }
            inputs.push(Input::DirectoryRoot { keys, root });
        };
        match reply {
            DirectoryReply::Root(Ok(root)) => learn(&self.store, root, &mut inputs),
            DirectoryReply::Root(Err(e)) => {
                tracing::warn!("cannot fetch the directory root a peer named: {e}");
            }
            DirectoryReply::Vetted {
                peer,
                email,
                name,
                identity,
                result,
            } => {
                let outcome = match result {
                    Ok(v) => {
                        learn(&self.store, v.root, &mut inputs);
                        match self
                            .store
                            .observe_pin(&email, &name, &identity, Timestamp::now())
                        {
                            Ok(PinSeen::New) => Vetting::Trusted { compared: false },
                            Ok(PinSeen::Same { verified }) => {
                                Vetting::Trusted { compared: verified }
                            }
                            Ok(PinSeen::Changed { .. }) => Vetting::Changed {
                                safety_number: safety_number(&self.public, &identity),
                            },
                            Err(e) => Vetting::Refused(format!("cannot check the pinned key: {e}")),
                        }
                    }
                    Err(e) => Vetting::Refused(e.to_string()),
                };
                inputs.push(Input::PeerVetted { peer, outcome });
            }
        }
        inputs
    }

    /// The user compared `peer`'s safety number: their pinned key is marked verified.
    fn mark_verified(&mut self, peer: PeerId) -> Option<Input> {
        let (email, identity) = self
            .machine
            .peers()
            .find(|(id, _, _)| *id == peer)
            .map(|(_, _, i)| (i.email.clone(), i.identity.clone()))?;
        match self.store.mark_verified(&email, &identity) {
            Ok(true) => Some(Input::KeyCompared { peer }),
            Ok(false) => None,
            Err(e) => {
                let _ = self.events.send(CallEvent::MediaError(format!(
                    "cannot keep the comparison: {e}"
                )));
                None
            }
        }
    }

    /// The user accepts `peer`'s changed key: it becomes the pin for their email.
    fn accept_key(&mut self, peer: PeerId) -> Option<Input> {
        let (email, identity) = self
            .machine
            .peers()
            .find(|(id, phase, _)| *id == peer && *phase == machine::Phase::KeyChanged)
            .map(|(_, _, i)| (i.email.clone(), i.identity.clone()))?;
        let accepted = self
            .store
            .accept_key(&email, &identity, Timestamp::now())
            .and_then(|()| self.store.mark_verified(&email, &identity));
        match accepted {
            Ok(_) => Some(Input::AcceptKey { peer }),
            Err(e) => {
                let _ = self.events.send(CallEvent::MediaError(format!(
                    "cannot keep the accepted key: {e}"
                )));
                None
            }
        }
    }

    fn bus_message(&mut self, msg: &gst::Message) {
        if let gst::MessageView::Error(e) = msg.view() {
            let from = msg
                .src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_default();
            let _ = self
                .events
                .send(CallEvent::MediaError(format!("{from}: {}", e.error())));
        }
    }

    /// Once a second: bitrate adaptation from the receivers' reports.
    async fn adapt(&mut self) {
        let mut worst: Option<f64> = None;
        for peer in self.media.peer_ids() {
            if let Some(s) = self.media.webrtc_stats(peer).await {
                let t = crate::media::stats::transport_from(&s);
                self.report.transport.insert(peer, t.clone());
                if let Some(f) = t.fraction_lost {
                    worst = Some(worst.map_or(f, |w: f64| w.max(f)));
                }
            }
        }
        if let Some(kbps) = self.rate.update(rate::Report {
            fraction_lost: worst,
        }) {
            self.media.set_video_kbps(kbps);
        }
    }

    async fn stats(&mut self) -> CallStats {
        self.adapt().await;
        self.report.snapshot(&self.machine, &self.media)
    }
}

async fn next_bus(bus: &mut Option<gst::bus::BusStream>) -> Option<gst::Message> {
    use futures_util::StreamExt;
    match bus {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}
