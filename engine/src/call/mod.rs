//! A call: the edge around the pure [`machine::CallMachine`]. It feeds the machine what the
//! signaling connection, the WebRTC elements and the user produce, performs the effects the
//! machine returns, and reports events to whoever drives it (the window or the CLI).

mod candidates;
pub mod consent;
mod edge;
pub mod machine;
mod ports;
mod report;
mod run;
mod screen;
#[cfg(test)]
mod simulated;
mod vetting;

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
use crate::media::{IceOptions, Media, MediaError, MediaOptions, rate};
use crate::recorder::{self, Recorder, RecorderEvent};
use crate::signaling::{self, SignalEvent};
use crate::store::{CallRecord, PinSeen, Store};
use crate::transparency::{self, DirectoryError};
use consent::RecordCommand;
use machine::{
    CallMachine, DirectoryInput, Effect, Event, Input, RecorderInput, ServerInput, UserInput,
    Vetting,
};

/// How long a peer's key may take to appear in the key directory (a new account, or a key
/// changed a moment ago, waits for the next epoch).
const VET_WAIT: Duration = Duration::from_secs(15);
pub use candidates::{IcePolicy, IcePolicyError};
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
}

/// Where the profile keeps what a call leaves behind.
pub(crate) struct Places {
    /// Recordings made here (one directory each).
    pub(crate) recordings: std::path::PathBuf,
    /// The profile's local store (the uploader keeps its progress there).
    pub(crate) profile_db: std::path::PathBuf,
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
    /// The screen is not shared: the desktop refused or could not share it (Wayland's
    /// portal), and why. Whoever asked to share it should show it off again.
    ScreenNotShared(String),
    /// A device went away during the call (the default stands in) or came back.
    Device(DeviceChange),
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

/// A device that went away or came back during the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceChange {
    pub kind: crate::media::devices::DeviceKind,
    /// The chosen device (its id, as the device list gives it).
    pub device: String,
    /// It came back and is in use again; `false`: it went away.
    pub back: bool,
    /// What is used now: the device itself when it is back, "default" (another device stands
    /// in), "black" (a camera with none to stand in: the others see a black picture), "off"
    /// (no camera when the call started: it was joined with the camera off) or "silence" (no
    /// microphone gives sound: the others hear nothing until one does).
    pub using: String,
}

impl DeviceChange {
    /// From the media's bus message.
    pub(crate) fn from_message(s: &gst::StructureRef) -> Option<DeviceChange> {
        use crate::media::devices::DeviceKind;
        if s.name() != crate::media::DEVICE_MESSAGE {
            return None;
        }
        let kind = match s.get::<&str>("kind").ok()? {
            "microphone" => DeviceKind::Microphone,
            "speaker" => DeviceKind::Speaker,
            "camera" => DeviceKind::Camera,
            _ => return None,
        };
        Some(DeviceChange {
            kind,
            device: s.get::<String>("device").ok()?,
            back: s.get::<&str>("state").ok()? == "back",
            using: s
                .get::<String>("using")
                .unwrap_or_else(|_| "default".into()),
        })
    }

    /// What the user is told.
    pub fn message(&self) -> String {
        use crate::media::devices::DeviceKind;
        let what = match self.kind {
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
            DeviceKind::Camera => "camera",
        };
        let device = self.device.as_str();
        if self.back {
            match device {
                "" => format!("A {what} is back and in use again."),
                _ => format!("The {what} {device} is back and in use again."),
            }
        } else if self.kind == DeviceKind::Camera && self.using == "off" {
            // At the start of a call: no camera at all to stand in.
            match device {
                "" => "No camera was found: you are in the call with your camera off.".into(),
                _ => format!(
                    "The camera {device} is not available: you are in the call with your \
                     camera off."
                ),
            }
        } else if self.kind == DeviceKind::Camera && self.using == "black" {
            match device {
                "" => "The camera went away: the others see a black picture until a camera is \
                       back."
                    .into(),
                _ => format!(
                    "The camera {device} is not available: the others see a black picture \
                     until it comes back."
                ),
            }
        } else if self.kind == DeviceKind::Microphone && self.using == crate::media::SILENCE {
            match device {
                "" => "No microphone gives sound: the others hear nothing from you until one \
                       does."
                    .into(),
                _ => format!(
                    "The microphone {device} is not available and no other gives sound: the \
                     others hear nothing from you until one does."
                ),
            }
        } else if self.kind == DeviceKind::Camera && device.is_empty() {
            "The camera went away: using another camera.".into()
        } else if self.kind == DeviceKind::Speaker && self.device.is_empty() {
            "No speaker could be opened: you will not hear the call.".into()
        } else {
            format!(
                "The {what} {} is not available: using the default {what} until it comes back.",
                self.device
            )
        }
    }
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

/// A call in progress, as the app holds it: what the user asks goes in through its handle
/// ([`CallHandle`], which can be cloned), what happens comes out as [`CallEvent`]s. `Closed`
/// is the call's last event; the progress of its uploads may follow, then the events end.
pub struct Call {
    handle: CallHandle,
    events: mpsc::UnboundedReceiver<CallEvent>,
}

impl Call {
    /// Where commands go (the media's frames for the window come with it).
    pub fn handle(&self) -> &CallHandle {
        &self.handle
    }

    /// The next thing that happened (`None` once the call and its uploads are over).
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// The handle and the events apart (a driver that selects over both).
    pub fn into_parts(self) -> (CallHandle, mpsc::UnboundedReceiver<CallEvent>) {
        (self.handle, self.events)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The profile could not give its account, keys or store.
    #[error(transparent)]
    Profile(#[from] crate::account::AccountError),
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
    places: Places,
) -> Result<Call, CallError> {
    let (events, events_rx) = mpsc::unbounded_channel();
    let keys = directory_keys(&api, &store).await?;
    let newest = store.newest_root().map_err(DirectoryError::from)?;
    let meeting = api.join_meeting(&opts.meeting).await?;
    let _ = events.send(CallEvent::Admitted {
        title: meeting.title.clone(),
        code: meeting.code.clone(),
    });
    let (media_events, media_rx) = mpsc::unbounded_channel();
    let (media, rate, no_camera) = start_media(&api, &mut opts, media_events).await?;
    if let Some(device) = no_camera {
        let _ = events.send(CallEvent::Device(DeviceChange {
            kind: crate::media::devices::DeviceKind::Camera,
            device,
            back: false,
            using: "off".into(),
        }));
    }
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
    let uploads = uploads(&api, places.profile_db, events.clone());
    let (rec_tx, rec_rx) = mpsc::unbounded_channel();
    let recorder = start_recorder(&media, &identity, &account, places.recordings, rec_tx)?;
    let machine = new_machine(identity, &account, &opts, newest.map(|root| (keys, root)));
    let (directory_tx, directory_rx) = mpsc::unbounded_channel();
    let live = ports::Live {
        api: api.clone(),
        keys,
        signaling,
        recorder,
        uploads,
        directory: directory_tx,
        events,
    };
    let record = CallRecord {
        meeting_code: meeting.code,
        title: meeting.title,
        ..CallRecord::starting()
    };
    let call = run::Running {
        edge: edge::Edge::new(machine, media.clone(), live, store, keys, record),
        rate,
        report: report::Tracker::default(),
        screen: screen::ScreenAsk::default(),
    };
    tokio::spawn(call.run(media_rx, signal_rx, cmd_rx, rec_rx, directory_rx));
    Ok(Call {
        handle: CallHandle { cmd, media },
        events: events_rx,
    })
}

/// The call machine for this account, told the newest key directory root this device has
/// checked (if any).
fn new_machine(
    identity: SecretIdentity,
    account: &Account,
    opts: &CallOptions,
    root: Option<(DirectoryKeys, assent_shared::transparency::SignedRoot)>,
) -> CallMachine {
    let mut machine = CallMachine::new(
        identity,
        account.user_id,
        &account.display_name,
        &account.email,
        opts.device,
        opts.initial,
        opts.machine.clone(),
    );
    if let Some((keys, root)) = root {
        machine.handle(
            Timestamp::now(),
            Input::Directory(DirectoryInput::DirectoryRoot { keys, root }),
        );
    }
    machine
}

/// Start the media with the server's ICE servers (unless the options say not to) and the
/// rate controller for its bitrate. A camera that is not there (unplugged, or none at all)
/// joins with the camera off instead of failing the call: its id ("" for the default) is
/// returned for the user to be told.
async fn start_media(
    api: &Api,
    opts: &mut CallOptions,
    events: mpsc::UnboundedSender<crate::media::MediaEvent>,
) -> Result<(Media, rate::RateController, Option<String>), CallError> {
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
    let mut media_opts = std::mem::take(&mut opts.media);
    let no_camera = match &media_opts.video {
        Some(video) if opts.initial.video => video.missing(),
        _ => None,
    };
    if no_camera.is_some() {
        opts.initial.video = false;
    }
    media_opts.camera_on = opts.initial.video && !opts.initial.screen;
    let rate = rate::RateController::new(
        media_opts.start_kbps,
        media_opts.min_kbps,
        media_opts.max_kbps,
    );
    Ok((Media::start(media_opts, ice, events)?, rate, no_camera))
}

/// The recorder of this device (it records only when this device proposes a recording and
/// everyone agreed), with this person's own track labelled.
fn start_recorder(
    media: &Media,
    identity: &SecretIdentity,
    account: &Account,
    recordings: std::path::PathBuf,
    events: mpsc::UnboundedSender<RecorderEvent>,
) -> Result<Recorder, CallError> {
    let recorder_identity = SecretIdentity::from_bytes(&identity.to_bytes())
        .map_err(|e| CallError::Media(MediaError::Init(e.to_string())))?;
    let recorder = Recorder::spawn(
        media.clone(),
        std::sync::Arc::new(recorder_identity),
        recordings,
        events,
    );
    recorder.send(recorder::Command::Label {
        source: crate::media::tap::Source::Local,
        label: format!("{} <{}>", account.display_name, account.email),
    });
    Ok(recorder)
}

/// The server's directory keys, as pinned for this profile (pinned now if this is its first
/// call): every key in the call is checked with them. Keys that changed raise an alarm and
/// stop the call.
async fn directory_keys(api: &Api, store: &Store) -> Result<DirectoryKeys, CallError> {
    let pinned = store.directory_keys().map_err(DirectoryError::from)?;
    let keys = match transparency::server_keys(api, pinned).await {
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
    Ok(keys)
}

/// The upload queue of the call's recordings; its progress becomes the call's events.
fn uploads(
    api: &Api,
    profile_db: std::path::PathBuf,
    events: mpsc::UnboundedSender<CallEvent>,
) -> crate::upload::UploadQueue {
    let (up_tx, mut up_rx) = mpsc::unbounded_channel();
    let (uploads, _) =
        crate::upload::spawn(crate::upload::Uploader::new(api.clone(), profile_db), up_tx);
    tokio::spawn(async move {
        while let Some(e) = up_rx.recv().await {
            let _ = events.send(CallEvent::Upload(e));
        }
    });
    uploads
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
