//! The Assent client engine: everything the desktop window and the headless command line share.
//! It owns the IO (HTTP and WebSocket to the rendezvous server, GStreamer media, the keyring,
//! the local store) around pure state machines (the call machine here, consent in `shared`).
//!
//! The app sees only what this page exports: the facade below. The modules behind it are the
//! engine's own (`tests/tests/layers.rs` fails the build if the app reaches past the facade).

mod account;
mod api;
mod audit;
mod call;
mod disk;
mod keyring;
mod library;
mod media;
mod recorder;
mod session;
mod settings;
mod signaling;
mod store;
mod transparency;
mod upload;

// The session: a profile on this device, its account (the account flows are its methods), and
// what the server says about keys.
pub use account::{Account, AccountError, Profile as Session, RecoveryInput, SignedUp};
pub use api::{Api, ApiError};
pub use audit::{AuditError, AuditReport, AuditState, audit, load_state, save_state};
pub use transparency::{Checkup, DirectoryError};

// Meetings and calls.
pub use call::consent::{ConsentEvent, Recipient};
pub use call::machine::{
    CandidateFilter, Config as CallConfig, EndReason as CallEnd, Event as CallMachineEvent,
};
pub use call::{
    Call, CallError, CallEvent, CallHandle, CallOptions, CallStats, Command as CallCommand,
    DeviceChange, IcePolicy, IcePolicyError, PeerStats, create_meeting, join_code,
};

// Devices, the preview, and what a call shows and plays.
pub use media::chime::{Chime, play as play_chime};
pub use media::codec::VideoCodec;
pub use media::devices::{
    Choice, Chosen, Device, DeviceKind, Devices, DevicesError, list as list_devices,
};
pub use media::frames::{Frame, FrameSlots, View};
pub use media::level;
pub use media::preview::Preview;
pub use media::source::{
    CaptureSource, FileSource, Kind, SourceError, TestAudio, TestVideo, parse as parse_source,
};
pub use media::stats::Transport;
pub use media::tap::Source;
pub use media::{MediaError, MediaOptions, Output};

// Recordings: the library, the recorder's reports, playback, uploads.
pub use library::{
    Copies, Exported, Keys, Library, LibraryError, Listing, Opened, Recovered, Uploads,
};
pub use recorder::player::{Player, PlayerError, Segment as PlayerSegment, Sound};
pub use recorder::segment::synthetic as synthetic_segment;
pub use recorder::{RecorderError, RecorderEvent};
pub use settings::Settings;
pub use store::{CloudState, RecordingRow, RecordingState, StoreError};
pub use upload::{DRAIN_TIMEOUT as UPLOAD_DRAIN_TIMEOUT, Downloaded, UploadError, UploadEvent};
