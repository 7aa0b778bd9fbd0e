//! Media with GStreamer: capture once, encode once (VP8 and Opus), and send the same RTP stream
//! to one `webrtcbin` per remote peer (a mesh of up to four people); decode each peer's streams
//! for the window (or count them, headless) and play their audio.
//!
//! ```text
//!  camera/screen ─ raw ─ encoder per codec in use ─ RTP tee ─┬─ queue ─ valve(peer) ─ webrtcbin(peer 1)
//!                                                            └─ queue ─ valve(peer) ─ webrtcbin(peer 2)
//!  microphone ─ opusenc ─ rtpopuspay ─ tee ─ …
//!  webrtcbin(peer) src ─ valve(peer) ─ depay ─ decoder ─ sink (window frames / audio out / counter)
//!
//! (the send side in detail: `send.rs`; codecs: `codec.rs`).
//! ```
//!
//! A peer's valves stay closed until the call machine has verified the peer's DTLS certificate
//! against the fingerprint the peer signed: no media flows either way with an unverified peer.

mod camera;
pub mod chime;
pub mod codec;
mod congestion;
pub mod devices;
pub mod event;
mod follow;
pub mod frames;
mod ice;
pub mod level;
pub mod lipsync;
mod mic;
pub mod peer;
pub mod portal;
pub mod preview;
mod probe;
pub mod rate;
mod receive;
mod send;
pub mod source;
mod speaker;
pub mod stamp;
pub mod stats;
pub mod tap;
mod voice;
mod webcam;

pub(crate) use follow::{DEVICE_MESSAGE, SILENCE};

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use assent_shared::api::IceServer;
use assent_shared::call::MediaState;
use assent_shared::signal::PeerId;
use gst::prelude::*;
use tokio::sync::mpsc;

pub use event::MediaEvent;
use source::make;
pub use source::{CaptureSource, Kind};

#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    #[error(
        "GStreamer element {0} is missing: install the GStreamer plugins (base, good, bad) and \
         gstreamer1.0-nice"
    )]
    MissingElement(String),
    #[error("media pipeline: {0}")]
    Pipeline(String),
    #[error("media source: {0}")]
    Source(String),
    #[error("cannot start GStreamer: {0}")]
    Init(String),
}

impl From<glib::BoolError> for MediaError {
    fn from(e: glib::BoolError) -> Self {
        MediaError::Pipeline(e.to_string())
    }
}

impl From<gst::StateChangeError> for MediaError {
    fn from(e: gst::StateChangeError) -> Self {
        MediaError::Pipeline(e.to_string())
    }
}

impl From<gst::PadLinkError> for MediaError {
    fn from(e: gst::PadLinkError) -> Self {
        MediaError::Pipeline(format!("link: {e:?}"))
    }
}

pub type Result<T, E = MediaError> = std::result::Result<T, E>;

use gst::glib;

/// What a call needs from GStreamer.
const REQUIRED: &[&str] = &[
    "webrtcbin",
    "nicesrc",
    "dtlssrtpdec",
    "srtpdec",
    "vp8enc",
    "vp8dec",
    "rtpvp8pay",
    "rtpvp8depay",
    "opusenc",
    "opusdec",
    "rtpopuspay",
    "rtpopusdepay",
    "videotestsrc",
    "audiotestsrc",
    "valve",
    "tee",
    "input-selector",
];

/// Start GStreamer once, check that every element a call uses is installed, and make the DTLS
/// certificate now: GStreamer makes one per process the first time a DTLS element is created,
/// which would otherwise cost the first call some 200 ms before its offer exists.
pub fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<Result<()>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|e| MediaError::Init(e.to_string()))?;
        congestion::register()?;
        for f in REQUIRED {
            if gst::ElementFactory::find(f).is_none() {
                return Err(MediaError::MissingElement((*f).into()));
            }
        }
        drop(make("dtlsdec")?);
        Ok(())
    })
    .clone()
}

/// Where remote media goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Decoded video frames for the window, audio to the sound server.
    Display,
    /// Decode and count only (the CLI and tests; no display or sound device).
    Headless,
}

/// Capture and encoding settings.
#[derive(Debug)]
pub struct MediaOptions {
    pub video: Option<Box<dyn CaptureSource>>,
    pub audio: Option<Box<dyn CaptureSource>>,
    /// What "share screen" captures.
    pub screen: Option<Box<dyn CaptureSource>>,
    /// Video codecs, most preferred first (VP8 is always added as the common ground).
    pub codecs: Vec<codec::VideoCodec>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Video bitrate bounds (kbit/s); adaptation moves between them.
    pub min_kbps: u32,
    pub start_kbps: u32,
    pub max_kbps: u32,
    /// Receive jitter buffer, ms (webrtcbin's default of 200 ms is far too much for a call).
    pub latency_ms: u32,
    pub output: Output,
    /// The speaker calls are heard on (a sound server device name); `None`: the system default.
    pub speaker: Option<String>,
    /// Open the camera at the start (false: joined with the camera off, so the device is not
    /// opened until it is turned on).
    pub camera_on: bool,
    /// Stamp the capture time into each frame and read it at the receiver (latency benchmark).
    pub stamp_frames: bool,
    /// Echo cancellation (against what the call plays) and noise suppression on a microphone
    /// ([`voice`]); test tones and files are never processed.
    pub voice_processing: bool,
    /// With voice processing: raise the microphone's level to a target (automatic gain
    /// control). Off by default: it lets echo through ([`voice::processor`]); for a headset.
    pub gain_control: bool,
    /// Show each peer's pictures at their presentation time on the clock their voice is
    /// played by (with the window as output); off: as soon as they are decoded.
    pub lip_sync: bool,
    /// Delay-based congestion control ([`congestion`]) besides the loss-based rate; off: the
    /// loss-based rate alone (a queue at a bottleneck then grows until packets are lost).
    pub congestion_control: bool,
}

impl MediaOptions {
    /// Bitrate bounds for a frame size: about 0.1 bit per pixel at most (≈ 900 kbit/s for VGA
    /// at 30 fps, 2.5 Mbit/s from 720p), which is what real-time VP8 needs for a sharp picture;
    /// more costs CPU and bandwidth for nothing visible.
    pub fn with_size(mut self, width: u32, height: u32, fps: u32) -> MediaOptions {
        self.width = width;
        self.height = height;
        self.fps = fps;
        let max = (u64::from(width) * u64::from(height) * u64::from(fps) / 10_000) as u32;
        self.max_kbps = max.clamp(300, 2500);
        self.min_kbps = 100.min(self.max_kbps);
        self.start_kbps = self.max_kbps.min(800);
        self
    }
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            video: Some(Box::new(source::TestVideo::default())),
            audio: Some(Box::new(source::TestAudio::default())),
            screen: Some(Box::new(source::Screen)),
            codecs: vec![codec::VideoCodec::Vp8],
            width: 640,
            height: 480,
            fps: 30,
            min_kbps: 100,
            start_kbps: 800,
            max_kbps: 920,
            latency_ms: 50,
            output: Output::Headless,
            speaker: None,
            camera_on: true,
            stamp_frames: false,
            voice_processing: true,
            gain_control: false,
            lip_sync: true,
            congestion_control: true,
        }
    }
}

/// How to reach peers.
#[derive(Clone, Debug, Default)]
pub struct IceOptions {
    pub servers: Vec<IceServer>,
    /// Only relayed candidates (through TURN).
    pub relay_only: bool,
    /// Gather candidates on these addresses only (tests: loopback or a namespace's address).
    /// Empty: every interface.
    pub local_addresses: Vec<IpAddr>,
}

pub(crate) struct Shared {
    pipeline: gst::Pipeline,
    video: Option<send::VideoSend>,
    audio: Option<send::AudioSend>,
    opts: MediaOptions,
    codecs: Vec<codec::VideoCodec>,
    ice: IceOptions,
    events: mpsc::UnboundedSender<MediaEvent>,
    peers: Mutex<BTreeMap<PeerId, peer::PeerLink>>,
    /// A webrtcbin made ahead of the next peer.
    spare: Mutex<Option<gst::Element>>,
    /// The speaker's mixer and echo reference (with the window as output).
    playback: Option<voice::Playback>,
    pub(crate) stats: stats::Stats,
    pub(crate) frames: frames::FrameSlots,
    pub(crate) levels: level::Levels,
    pub(crate) taps: tap::Taps,
    /// The screen the desktop portal granted (Wayland), while it is shared.
    screen_grant: Mutex<Option<portal::ScreenGrant>>,
}

/// The local media of one call.
#[derive(Clone)]
pub struct Media {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Media(..)")
    }
}

impl Media {
    /// Build and start the capture pipeline (before joining, so the first offer is not kept
    /// waiting). WebRTC events go to `events`.
    pub fn start(
        opts: MediaOptions,
        ice: IceOptions,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<Media> {
        init()?;
        let pipeline = gst::Pipeline::with_name("assent-call");
        let taps = tap::Taps::default();
        let frames = frames::FrameSlots::default();
        let levels = level::Levels::default();
        let video = if opts.video.is_some() || opts.screen.is_some() {
            let video =
                send::VideoSend::build(&pipeline, opts.video.as_deref(), &opts, taps.clone())?;
            if opts.output == Output::Display {
                video.add_self_view(&pipeline, &frames, &opts)?;
            }
            Some(video)
        } else {
            None
        };
        let process = opts.voice_processing
            && opts.audio.as_ref().is_some_and(|a| a.is_microphone())
            && voice::available();
        if opts.voice_processing && !voice::available() {
            tracing::warn!("no echo cancellation: GStreamer's webrtcdsp is not installed");
        }
        // The speaker first: the canceller looks its echo reference up as it starts.
        let playback = match opts.output {
            Output::Display => {
                let device = match opts
                    .speaker
                    .as_deref()
                    .and_then(|s| s.strip_prefix("cpal:"))
                {
                    Some(name) => speaker::through_cpal(name, &pipeline)?,
                    None => speaker::through_pulsesink(opts.speaker.as_deref(), &pipeline)?,
                };
                Some(voice::Playback::build(&pipeline, device, process)?)
            }
            Output::Headless => None,
        };
        let audio = match &opts.audio {
            Some(src) => {
                let processor = match process {
                    true => Some(voice::processor(
                        playback.as_ref().and_then(|p| p.probe()),
                        opts.gain_control,
                    )?),
                    false => None,
                };
                Some(send::AudioSend::build(
                    &pipeline,
                    src.as_ref(),
                    processor,
                    &taps,
                    &levels,
                )?)
            }
            None => None,
        };
        pipeline.set_state(gst::State::Playing)?;
        let codecs = codec::local(&opts.codecs);
        let media = Media {
            shared: Arc::new(Shared {
                pipeline,
                video,
                audio,
                opts,
                codecs,
                ice,
                events,
                peers: Mutex::new(BTreeMap::new()),
                spare: Mutex::new(None),
                playback,
                stats: stats::Stats::default(),
                frames,
                levels,
                taps,
                screen_grant: Mutex::new(None),
            }),
        };
        // Ready before the first peer: a webrtcbin, and the encoder of the preferred codec.
        media.prepare_spare();
        if let (Some(v), Some(first)) = (&media.shared.video, media.shared.codecs.first()) {
            v.acquire(&media.shared.pipeline, *first)?;
            v.release(*first);
        }
        Ok(media)
    }

    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.shared.pipeline
    }

    /// The video codecs this client announces, most preferred first.
    pub fn codecs(&self) -> Vec<String> {
        self.shared
            .codecs
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }

    /// The latest decoded frame of each peer (RGBA), and with the window as output our own
    /// picture as sent, for the window.
    pub fn frames(&self) -> frames::FrameSlots {
        self.shared.frames.clone()
    }

    /// How loud each peer is, and our microphone (measured before muting, so the window can
    /// say "you are muted" to someone talking).
    pub fn levels(&self) -> level::Levels {
        self.shared.levels.clone()
    }

    /// Mute / unmute, camera on / off, screen sharing on / off.
    pub fn apply_local(&self, state: MediaState) -> Result<()> {
        if let Some(a) = &self.shared.audio {
            a.mute.set_property("drop", !state.audio);
        }
        let Some(v) = &self.shared.video else {
            return Ok(());
        };
        let shared = {
            let grant = self.shared.screen_grant.lock();
            // What the desktop granted, or the configured source (X11, a test source).
            let granted = grant.as_ref().ok().and_then(|g| g.as_ref());
            let source = match granted {
                Some(g) => Some(g as &dyn source::CaptureSource),
                None => self.shared.opts.screen.as_deref(),
            };
            v.set_screen(&self.shared.pipeline, source, state.screen)
        };
        if !state.screen {
            self.close_screen_grant();
        }
        // The camera runs only while it is what we send.
        let camera = v.set_camera(state.video && !state.screen);
        if v.set_sending(state.video || state.screen) || shared.is_ok() {
            self.request_keyframe();
        }
        shared.and(camera)
    }

    /// Ask the video encoders for a key frame (a peer joined, the picture changed).
    pub fn request_keyframe(&self) {
        if let Some(v) = &self.shared.video {
            v.request_keyframe();
        }
    }

    /// Set the video bitrate (kbit/s), within the configured bounds.
    pub fn set_video_kbps(&self, kbps: u32) {
        if let Some(v) = &self.shared.video {
            v.set_kbps(kbps.clamp(self.shared.opts.min_kbps, self.shared.opts.max_kbps));
        }
    }

    pub fn video_kbps(&self) -> u32 {
        self.shared.video.as_ref().map_or(0, |v| v.kbps())
    }

    pub fn options(&self) -> &MediaOptions {
        &self.shared.opts
    }

    pub fn stats(&self) -> &stats::Stats {
        &self.shared.stats
    }

    /// The call pipeline's running time now (what media timestamps count from).
    pub fn running_time(&self) -> gst::ClockTime {
        self.shared
            .pipeline
            .current_running_time()
            .unwrap_or(gst::ClockTime::ZERO)
    }

    /// Every encoded stream of the call, for the recorder.
    pub fn taps(&self) -> &tap::Taps {
        &self.shared.taps
    }

    /// Ask every sender, ourselves and each peer, for a key frame (a recording segment starts).
    pub fn request_all_keyframes(&self) {
        self.request_keyframe();
        self.request_remote_keyframes();
    }

    /// Stop everything.
    pub fn stop(&self) {
        let ids: Vec<PeerId> = self.peer_ids();
        for id in ids {
            self.close_peer(id);
        }
        let _ = self.shared.pipeline.set_state(gst::State::Null);
        self.close_screen_grant();
    }

    /// The screen the desktop granted (Wayland), shared from the next `apply_local` that
    /// turns the screen on; one granted before is closed.
    pub fn grant_screen(&self, grant: portal::ScreenGrant) {
        if let Ok(mut g) = self.shared.screen_grant.lock()
            && let Some(old) = g.replace(grant)
        {
            old.close();
        }
    }

    /// Whether sharing the screen needs the desktop portal's grant: the screen (not a test
    /// source or a file) on a Wayland desktop.
    pub fn screen_needs_portal(&self) -> bool {
        portal::needed()
            && self
                .shared
                .opts
                .screen
                .as_ref()
                .is_some_and(|s| s.is_screen())
    }

    /// Whether the desktop has granted a screen that is still held.
    pub fn screen_granted(&self) -> bool {
        self.shared.screen_grant.lock().is_ok_and(|g| g.is_some())
    }

    /// Give the granted screen back (after its capture stopped).
    fn close_screen_grant(&self) {
        let grant = self
            .shared
            .screen_grant
            .lock()
            .ok()
            .and_then(|mut g| g.take());
        if let Some(grant) = grant {
            grant.close();
        }
    }

    pub fn peer_ids(&self) -> Vec<PeerId> {
        self.shared
            .peers
            .lock()
            .map(|p| p.keys().copied().collect())
            .unwrap_or_default()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
