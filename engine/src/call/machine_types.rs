//! What goes into the call machine and what comes out of it.

use assent_shared::CallId;
use assent_shared::call::MediaState;
use assent_shared::consent::Scope;
use assent_shared::container::SignedHead;
use assent_shared::ids::UserId;
use assent_shared::signal::{LeaveReason, PeerId, PeerInfo};
use assent_shared::transparency::{DirectoryKeys, Equivocation, SignedRoot};

use super::super::consent::{ConsentEvent, RecordCommand};

pub use crate::media::event::{MediaEvent, SdpKind, Transport};

/// The key directory's verdict on a peer's key, as the edge found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vetting {
    /// The directory proves this key for their email, and it is the one pinned (or the first
    /// seen); `compared`: its safety number was compared in person.
    Trusted { compared: bool },
    /// The directory proves this key, but another one is pinned for their email: nothing is
    /// negotiated until the user compares and accepts it.
    Changed { safety_number: String },
    /// The key cannot be believed (why, for the user).
    Refused(String),
}

/// What happens to the machine, grouped by where it comes from (as ringrtc groups its
/// inputs): the signaling server, the peers' media, the key directory, the user, the recorder
/// and the clock. Each group has its own handler in the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Server(ServerInput),
    /// What the WebRTC connections did (the media layer's own events).
    Media(MediaEvent),
    Directory(DirectoryInput),
    User(UserInput),
    Recorder(RecorderInput),
    /// Time passes (timeouts, heartbeats). Sent about every half second.
    Tick,
}

/// What the signaling server said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerInput {
    /// The server seated us. `peers` are those already present.
    Joined {
        call: CallId,
        me: PeerId,
        peers: Vec<PeerInfo>,
        resumed: bool,
    },
    PeerJoined(PeerInfo),
    PeerLeft {
        peer: PeerId,
        reason: LeaveReason,
    },
    /// A signaling payload relayed from `from`.
    Signal {
        from: PeerId,
        payload: String,
    },
    /// The host removed us, or ended the meeting.
    Removed,
    Ended,
}

/// What the key directory answered (after the edge checked its proofs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryInput {
    /// What the key directory said of `peer`'s key (after [`Effect::VetPeer`]).
    PeerVetted { peer: PeerId, outcome: Vetting },
    /// The server's directory keys (pinned for this profile) and a directory root this
    /// client accepted (from its own checks, or the server's root for an epoch a peer named).
    DirectoryRoot {
        keys: DirectoryKeys,
        root: SignedRoot,
    },
}

/// What the local user asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserInput {
    /// The user compared `peer`'s changed key and accepts it (the edge re-pinned it).
    AcceptKey {
        peer: PeerId,
    },
    /// The user compared `peer`'s safety number in person and it matched (the edge marked the
    /// pin verified).
    KeyCompared {
        peer: PeerId,
    },
    SetMedia(MediaState),
    SendChat {
        text: String,
    },
    /// Propose recording the call to everyone present (our own consent included).
    ProposeRecording {
        title: String,
        scope: Scope,
        retention_days: u16,
    },
    /// Agree to the recording proposal shown (sign a consent token).
    AgreeRecording,
    /// Decline the proposal shown: it ends for everyone.
    DeclineRecording,
    /// Withdraw consent: the recording stops everywhere.
    WithdrawConsent,
    Leave,
}

/// What the recorder on this device did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecorderInput {
    /// It wrote a segment or its ending: show everyone the signed chain head.
    ShareHead(SignedHead),
}

impl Input {
    /// The input's name, for logs (never its contents).
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Server(i) => match i {
                ServerInput::Joined { .. } => "joined",
                ServerInput::PeerJoined(_) => "peer_joined",
                ServerInput::PeerLeft { .. } => "peer_left",
                ServerInput::Signal { .. } => "signal",
                ServerInput::Removed => "removed",
                ServerInput::Ended => "ended",
            },
            Input::Media(e) => match e {
                MediaEvent::LocalDescription { .. } => "local_description",
                MediaEvent::LocalCandidate { .. } => "local_candidate",
                MediaEvent::Transport { .. } => "transport",
                MediaEvent::RemoteCertificate { .. } => "remote_certificate",
                MediaEvent::ChannelOpen { .. } => "channel_open",
                MediaEvent::ChannelMessage { .. } => "channel_message",
                MediaEvent::PeerError { .. } => "peer_error",
                MediaEvent::SendEstimate { .. } => "send_estimate",
            },
            Input::Directory(i) => match i {
                DirectoryInput::PeerVetted { .. } => "peer_vetted",
                DirectoryInput::DirectoryRoot { .. } => "directory_root",
            },
            Input::User(i) => match i {
                UserInput::AcceptKey { .. } => "accept_key",
                UserInput::KeyCompared { .. } => "key_compared",
                UserInput::SetMedia(_) => "set_media",
                UserInput::SendChat { .. } => "send_chat",
                UserInput::ProposeRecording { .. } => "propose_recording",
                UserInput::AgreeRecording => "agree_recording",
                UserInput::DeclineRecording => "decline_recording",
                UserInput::WithdrawConsent => "withdraw_consent",
                UserInput::Leave => "leave",
            },
            Input::Recorder(RecorderInput::ShareHead(_)) => "share_head",
            Input::Tick => "tick",
        }
    }
}

/// What the edge must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a signaling payload.
    Signal {
        to: PeerId,
        payload: String,
    },
    /// Check `peer`'s key with the key directory: a lookup proof that `email` holds exactly
    /// `identity`, then the pin for `email`. The answer comes back as
    /// [`DirectoryInput::PeerVetted`].
    VetPeer {
        peer: PeerId,
        email: String,
        identity: assent_shared::PublicIdentity,
    },
    /// A peer named a directory root newer than ours: fetch the server's own root for that
    /// epoch (it comes back as [`DirectoryInput::DirectoryRoot`], and is compared).
    CheckRoot {
        epoch: u64,
    },
    /// Build the WebRTC connection to `peer`; as offerer, open the data channel and make an offer.
    CreatePeer {
        peer: PeerId,
        offerer: bool,
    },
    /// Apply the peer's (verified) description; for an offer, then create and set an answer.
    ApplyRemote {
        peer: PeerId,
        kind: SdpKind,
        sdp: String,
    },
    AddCandidate {
        peer: PeerId,
        mline: u32,
        candidate: String,
    },
    /// The peer is verified: open media both ways.
    OpenMedia {
        peer: PeerId,
    },
    ClosePeer {
        peer: PeerId,
    },
    SendData {
        peer: PeerId,
        text: String,
    },
    /// Mute/unmute, camera, screen share as the local user set them.
    ApplyLocalMedia(MediaState),
    /// Leave the signaling room and stop.
    Hangup,
    /// What the recorder must do (only on the recording's proposer's device).
    Record(RecordCommand),
    Event(Event),
}

impl From<MediaEvent> for Input {
    /// Media's WebRTC events are the machine's inputs as they are.
    fn from(e: MediaEvent) -> Input {
        Input::Media(e)
    }
}

/// What the user interface (or the CLI) shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Joined {
        call: CallId,
        me: PeerId,
        resumed: bool,
    },
    ParticipantJoined {
        peer: PeerId,
        user: UserId,
        /// Their verified email (what the directory names their key by).
        email: String,
        name: String,
        /// They came in after us (false for those already there when we joined).
        arrived: bool,
    },
    ParticipantLeft {
        peer: PeerId,
        reason: LeaveReason,
    },
    /// The directory proved their key (and it is the one pinned): negotiation starts.
    /// `compared`: the safety number was compared in person for this key.
    KeyTrusted {
        peer: PeerId,
        compared: bool,
        /// The 60 digits both sides see, to compare in person.
        safety_number: String,
    },
    /// The directory proves another key for them than the one pinned: held until the user
    /// compares the safety number and accepts (or leaves).
    KeyChanged {
        peer: PeerId,
        email: String,
        name: String,
        safety_number: String,
    },
    /// The server signed two different directory roots for one epoch (seen by us or a peer):
    /// proof that it lies about keys. Recording stops.
    Equivocation {
        evidence: Box<Equivocation>,
    },
    /// `peer`, recording this call, showed how far its recording went (its own signature
    /// checked): keep it as a witness against a copy with the end cut off.
    RecordingHead {
        peer: PeerId,
        head: SignedHead,
    },
    /// End to end verified: media flows.
    Connected {
        peer: PeerId,
    },
    /// The connection to `peer` was refused or failed; `reason` says why, for the user.
    PeerFailed {
        peer: PeerId,
        reason: String,
    },
    RemoteMedia {
        peer: PeerId,
        state: MediaState,
    },
    Chat {
        from: PeerId,
        id: u64,
        text: String,
        sent_at: u64,
    },
    ChatSent {
        id: u64,
        to: Vec<PeerId>,
    },
    ChatDelivered {
        id: u64,
        to: PeerId,
    },
    /// A message from a peer was refused (bad, replayed, unexpected).
    Refused {
        peer: PeerId,
        error: String,
    },
    /// A local command could not be carried out.
    CommandFailed {
        reason: String,
    },
    /// Recording consent: dialog, state, end, refusals.
    Consent(ConsentEvent),
    Ended {
        reason: EndReason,
    },
}

/// Why the call ended for us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Left,
    Removed,
    MeetingEnded,
}

/// Where a connection to a peer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the key directory's proof of their key.
    Vetting,
    /// Their key differs from the pinned one: waiting for the user.
    KeyChanged,
    Offering,
    AwaitingAnswer,
    AwaitingOffer,
    Answering,
    Connecting,
    Connected,
}
