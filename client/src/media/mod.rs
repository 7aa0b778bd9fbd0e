//! Media with GStreamer: capture once, encode once (VP8 and Opus), and send the same RTP stream
//! to one `webrtcbin` per remote peer (a mesh of up to four people); decode each peer's streams
//! for the window (or count them, headless) and play their audio.
//!
//! ```text
//!  video source ─ caps ─ [stamp] ─ valve(camera) ─ vp8enc ─ rtpvp8pay ─ tee ─┬─ queue ─ valve(peer) ─ webrtcbin(peer 1)
//!                                                                            └─ queue ─ valve(peer) ─ webrtcbin(peer 2)
//!  audio source ─ convert ─ valve(mic) ─ opusenc ─ rtpopuspay ─ tee ─ …
//!  webrtcbin(peer) src ─ valve(peer) ─ depay ─ decoder ─ sink (window frames / audio out / counter)
//! ```
//!
//! A peer's valves stay closed until the call machine has verified the peer's DTLS certificate
//! against the fingerprint the peer signed: no media flows either way with an unverified peer.

pub mod peer;
pub mod rate;
pub mod source;
pub mod stamp;
pub mod stats;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use assent_shared::api::IceServer;
use assent_shared::call::MediaState;
use assent_shared::signal::PeerId;
use gst::prelude::*;
use tokio::sync::mpsc;

use crate::call::machine::Input;
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
];

/// Start GStreamer once, check that every element a call uses is installed, and make the DTLS
/// certificate now: GStreamer makes one per process the first time a DTLS element is created,
/// which would otherwise cost the first call some 200 ms before its offer exists.
pub fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<Result<()>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|e| MediaError::Init(e.to_string()))?;
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
    /// Stamp the capture time into each frame and read it at the receiver (latency benchmark).
    pub stamp_frames: bool,
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            video: Some(Box::new(source::TestVideo::default())),
            audio: Some(Box::new(source::TestAudio::default())),
            width: 640,
            height: 480,
            fps: 30,
            min_kbps: 150,
            start_kbps: 1000,
            max_kbps: 2500,
            latency_ms: 50,
            output: Output::Headless,
            stamp_frames: false,
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

/// The send side: the encoder and the tee peers attach to.
struct Send {
    mute: gst::Element,
    encoder: gst::Element,
    tee: gst::Element,
}

pub(crate) struct Shared {
    pipeline: gst::Pipeline,
    video: Option<Send>,
    audio: Option<Send>,
    opts: MediaOptions,
    ice: IceOptions,
    inputs: mpsc::UnboundedSender<Input>,
    peers: Mutex<BTreeMap<PeerId, peer::PeerLink>>,
    pub(crate) stats: stats::Stats,
    pub(crate) frames: peer::FrameSlots,
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
    /// Build and start the capture and encoding pipeline (before joining, so the first offer is
    /// not kept waiting). WebRTC events go to `inputs`.
    pub fn start(
        opts: MediaOptions,
        ice: IceOptions,
        inputs: mpsc::UnboundedSender<Input>,
    ) -> Result<Media> {
        init()?;
        let pipeline = gst::Pipeline::with_name("assent-call");
        let video = match &opts.video {
            Some(src) => Some(video_send(&pipeline, src.as_ref(), &opts)?),
            None => None,
        };
        let audio = match &opts.audio {
            Some(src) => Some(audio_send(&pipeline, src.as_ref())?),
            None => None,
        };
        pipeline.set_state(gst::State::Playing)?;
        Ok(Media {
            shared: Arc::new(Shared {
                pipeline,
                video,
                audio,
                opts,
                ice,
                inputs,
                peers: Mutex::new(BTreeMap::new()),
                stats: stats::Stats::default(),
                frames: peer::FrameSlots::default(),
            }),
        })
    }

    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.shared.pipeline
    }

    /// The latest decoded frame of each peer (RGBA), for the window.
    pub fn frames(&self) -> peer::FrameSlots {
        self.shared.frames.clone()
    }

    /// Mute / unmute and camera on / off.
    pub fn apply_local(&self, state: MediaState) {
        if let Some(a) = &self.shared.audio {
            a.mute.set_property("drop", !state.audio);
        }
        if let Some(v) = &self.shared.video {
            let was_off: bool = v.mute.property("drop");
            v.mute.set_property("drop", !state.video);
            if was_off && state.video {
                self.request_keyframe();
            }
        }
    }

    /// Ask the video encoder for a key frame (a peer joined, or the camera came back).
    pub fn request_keyframe(&self) {
        if let Some(v) = &self.shared.video {
            let ev = gst_video::UpstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            if let Some(pad) = v.encoder.static_pad("src") {
                // Upstream from the encoder's source pad is the encoder itself.
                let _ = pad.send_event(ev);
            }
        }
    }

    /// Set the video bitrate (kbit/s), within the configured bounds.
    pub fn set_video_kbps(&self, kbps: u32) {
        if let Some(v) = &self.shared.video {
            let kbps = kbps.clamp(self.shared.opts.min_kbps, self.shared.opts.max_kbps);
            v.encoder
                .set_property("target-bitrate", (kbps * 1000) as i32);
        }
    }

    pub fn video_kbps(&self) -> u32 {
        self.shared
            .video
            .as_ref()
            .map(|v| (v.encoder.property::<i32>("target-bitrate") / 1000) as u32)
            .unwrap_or(0)
    }

    pub fn options(&self) -> &MediaOptions {
        &self.shared.opts
    }

    pub fn stats(&self) -> &stats::Stats {
        &self.shared.stats
    }

    /// Stop everything.
    pub fn stop(&self) {
        let ids: Vec<PeerId> = self.peer_ids();
        for id in ids {
            self.close_peer(id);
        }
        let _ = self.shared.pipeline.set_state(gst::State::Null);
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

fn video_send(pipeline: &gst::Pipeline, src: &dyn CaptureSource, o: &MediaOptions) -> Result<Send> {
    let source = src.build()?;
    let scale = make("videoscale")?;
    let rate = make("videorate")?;
    let convert = make("videoconvert")?;
    let caps = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("width", o.width as i32)
                .field("height", o.height as i32)
                .field("framerate", gst::Fraction::new(o.fps as i32, 1))
                .build(),
        )
        .build()?;
    let mute = gst::ElementFactory::make("valve")
        .name("camera")
        .property("drop", false)
        .build()?;
    let queue = gst::ElementFactory::make("queue")
        .property("max-size-buffers", 2u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .property_from_str("leaky", "downstream")
        .build()?;
    let encoder = gst::ElementFactory::make("vp8enc")
        .name("video-encoder")
        .property("deadline", 1i64)
        .property("cpu-used", 8i32)
        .property("threads", encoder_threads(o.width, o.height))
        .property("lag-in-frames", 0i32)
        .property_from_str("end-usage", "cbr")
        .property("target-bitrate", (o.start_kbps * 1000) as i32)
        .property_from_str("error-resilient", "default")
        .property("keyframe-max-dist", (o.fps * 4) as i32)
        .property("buffer-size", 300i32)
        .property("buffer-initial-size", 200i32)
        .property("buffer-optimal-size", 250i32)
        .property("undershoot", 95i32)
        .build()
        .map_err(|_| MediaError::MissingElement("vp8enc".into()))?;
    let pay = gst::ElementFactory::make("rtpvp8pay")
        .property("pt", 96u32)
        .property("mtu", 1200u32)
        .property_from_str("picture-id-mode", "15-bit")
        .build()?;
    // Fixed RTP caps: webrtcbin builds its offer from what a caps query upstream answers.
    let rtp_caps = rtp_caps("video", "VP8", 96, 90000)?;
    let tee = gst::ElementFactory::make("tee")
        .name("video-tee")
        .property("allow-not-linked", true)
        .build()?;
    let chain = [
        &source, &scale, &rate, &convert, &caps, &mute, &queue, &encoder, &pay, &rtp_caps, &tee,
    ];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    if o.stamp_frames {
        let pad = caps
            .static_pad("src")
            .ok_or_else(|| MediaError::Pipeline("caps src".into()))?;
        stamp::add_writer(&pad, o.width, o.height);
    }
    Ok(Send { mute, encoder, tee })
}

fn audio_send(pipeline: &gst::Pipeline, src: &dyn CaptureSource) -> Result<Send> {
    let source = src.build()?;
    let convert = make("audioconvert")?;
    let resample = make("audioresample")?;
    let caps = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("audio/x-raw")
                .field("rate", 48000i32)
                .field("channels", 1i32)
                .build(),
        )
        .build()?;
    let mute = gst::ElementFactory::make("valve")
        .name("microphone")
        .property("drop", false)
        .build()?;
    let encoder = gst::ElementFactory::make("opusenc")
        .name("audio-encoder")
        .property("bitrate", 32000i32)
        .property_from_str("audio-type", "voice")
        .property_from_str("frame-size", "20")
        .property("inband-fec", true)
        .property("packet-loss-percentage", 5i32)
        .build()
        .map_err(|_| MediaError::MissingElement("opusenc".into()))?;
    let pay = gst::ElementFactory::make("rtpopuspay")
        .property("pt", 111u32)
        .build()?;
    let rtp_caps = rtp_caps("audio", "OPUS", 111, 48000)?;
    let tee = gst::ElementFactory::make("tee")
        .name("audio-tee")
        .property("allow-not-linked", true)
        .build()?;
    let chain = [
        &source, &convert, &resample, &caps, &mute, &encoder, &pay, &rtp_caps, &tee,
    ];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    Ok(Send { mute, encoder, tee })
}

fn rtp_caps(media: &str, encoding: &str, payload: i32, clock_rate: i32) -> Result<gst::Element> {
    Ok(gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("application/x-rtp")
                .field("media", media)
                .field("encoding-name", encoding)
                .field("payload", payload)
                .field("clock-rate", clock_rate)
                .build(),
        )
        .build()?)
}

/// libvpx's multithreaded VP8 encoder busy-waits between rows: on a small machine shared with
/// decoders (and, in tests, other clients) extra threads burn a core spinning. One thread up to
/// VGA, and for larger frames at most half the cores.
fn encoder_threads(width: u32, height: u32) -> i32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if width * height <= 640 * 480 || cores <= 2 {
        1
    } else {
        (cores / 2).min(4) as i32
    }
}
