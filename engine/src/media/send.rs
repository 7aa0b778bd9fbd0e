//! The send side: capture, the camera/screen switch, and one encoder per codec in use.
//!
//! ```text
//!  camera ─┐
//!          ├ input-selector ─ scale ─ rate ─ convert ─ I420 caps ─ [stamp] ─ valve(video on) ─ raw tee
//!  screen ─┘   (screen capture exists only while shared)
//!  raw tee ─ valve(in use) ─ queue ─ encoder(codec) ─ payloader ─ RTP caps ─ tee ─ peers…
//!  raw tee ─ queue ─ rate ─ scale ─ RGBA 320 wide, 15 fps ─ the window's self-view (window only)
//!  mic ─ convert ─ resample ─ 48 kHz mono ─ [level] ─ valve(unmuted) ─ opusenc ─ rtpopuspay ─ RTP caps ─ tee ─ peers…
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use gst::prelude::*;

use super::codec::VideoCodec;
use super::frames::FrameSlots;
use super::level::Levels;
use super::source::{leaky_queue, make};
use super::tap::{Source, Taps, TrackId};
use super::{CaptureSource, Kind, MediaError, MediaOptions, Result, stamp};

struct Encoder {
    gate: gst::Element,
    encoder: gst::Element,
    tee: gst::Element,
    users: usize,
}

pub(crate) struct VideoSend {
    selector: gst::Element,
    /// The camera's bin: stopped (the device let go of) while the camera is off.
    camera: Option<gst::Element>,
    camera_pad: Option<gst::Pad>,
    screen: Mutex<Option<(gst::Element, gst::Pad)>>,
    mute: gst::Element,
    raw_tee: gst::Element,
    encoders: Mutex<BTreeMap<VideoCodec, Encoder>>,
    kbps: AtomicU32,
    fps: u32,
    threads: i32,
    taps: Taps,
}

fn tee(name: &str) -> Result<gst::Element> {
    Ok(gst::ElementFactory::make("tee")
        .name(name)
        .property("allow-not-linked", true)
        .build()?)
}

/// Join a linked chain of elements (already in the pipeline) to a running tee, and return the
/// tee's new pad. The chain is started from its downstream end and joined last: a buffer the
/// tee pushes into an element that is not active yet comes back FLUSHING, the tee hands that up
/// to the live source, and the source's task stops for good — the stream would die silently for
/// everyone it feeds.
pub(crate) fn join_tee(tee: &gst::Element, chain: &[&gst::Element]) -> Result<gst::Pad> {
    for e in chain.iter().rev() {
        e.sync_state_with_parent()?;
    }
    let first = chain
        .first()
        .and_then(|e| e.static_pad("sink"))
        .ok_or_else(|| MediaError::Pipeline("branch without a sink pad".into()))?;
    let pad = tee
        .request_pad_simple("src_%u")
        .ok_or_else(|| MediaError::Pipeline("tee src pad".into()))?;
    if let Err(e) = pad.link(&first) {
        tee.release_request_pad(&pad);
        return Err(e.into());
    }
    Ok(pad)
}

/// A random SSRC for a stream this client sends. It is fixed in the stream's caps so that
/// webrtcbin announces it in the SDP (`a=ssrc`): the receiver then maps each stream to its
/// m-line by the description instead of guessing from arrival order, and retransmissions are
/// grouped with the stream they repair (`a=ssrc-group:FID`).
fn new_ssrc() -> u32 {
    loop {
        let ssrc = rand::random::<u32>();
        if ssrc != 0 {
            return ssrc;
        }
    }
}

fn capsfilter(caps: gst::Caps) -> Result<gst::Element> {
    Ok(gst::ElementFactory::make("capsfilter")
        .property("caps", caps)
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

impl VideoSend {
    pub(crate) fn build(
        pipeline: &gst::Pipeline,
        camera: Option<&dyn CaptureSource>,
        o: &MediaOptions,
        taps: Taps,
    ) -> Result<VideoSend> {
        let selector = make("input-selector")?;
        pipeline.add(&selector)?;
        let (camera, camera_pad) = match camera {
            Some(src) => {
                let bin = src.build()?;
                pipeline.add(&bin)?;
                // Joined with the camera off: it stays closed when the pipeline starts.
                bin.set_locked_state(!o.camera_on);
                let pad = selector
                    .request_pad_simple("sink_%u")
                    .ok_or_else(|| MediaError::Pipeline("selector pad".into()))?;
                bin.static_pad("src")
                    .ok_or_else(|| MediaError::Pipeline("source without src pad".into()))?
                    .link(&pad)?;
                selector.set_property("active-pad", &pad);
                (Some(bin), Some(pad))
            }
            None => (None, None),
        };
        let caps = capsfilter(
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("width", o.width as i32)
                .field("height", o.height as i32)
                .field("framerate", gst::Fraction::new(o.fps as i32, 1))
                .build(),
        )?;
        let mute = gst::ElementFactory::make("valve")
            .name("camera")
            .property("drop", false)
            .build()?;
        let raw_tee = tee("video-raw")?;
        let chain = [
            &selector,
            &make("videoscale")?,
            &make("videorate")?,
            &make("videoconvert")?,
            &caps,
            &mute,
            &raw_tee,
        ];
        pipeline.add_many(&chain[1..])?;
        gst::Element::link_many(chain)?;
        if o.stamp_frames {
            let pad = caps
                .static_pad("src")
                .ok_or_else(|| MediaError::Pipeline("caps src".into()))?;
            stamp::add_writer(&pad, o.width, o.height);
        }
        Ok(VideoSend {
            selector,
            camera,
            camera_pad,
            screen: Mutex::new(None),
            mute,
            raw_tee,
            encoders: Mutex::new(BTreeMap::new()),
            kbps: AtomicU32::new(o.start_kbps),
            fps: o.fps,
            threads: encoder_threads(o.width, o.height),
            taps,
        })
    }

    /// Our own picture for the window, as it is sent (camera or screen; nothing while the
    /// camera is off): at 15 frames a second, in RGBA, small until the window says the size
    /// of its tile.
    pub(crate) fn add_self_view(
        &self,
        pipeline: &gst::Pipeline,
        frames: &FrameSlots,
        o: &MediaOptions,
    ) -> Result<()> {
        // 320 wide, in the shape of what is sent (square pixels: the window ignores aspect).
        let height = (320 * o.height / o.width.max(1)).max(2);
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", "RGBA")
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .field("framerate", gst::Fraction::new(15, 1))
            .build();
        let chain = frames.add_branch(
            pipeline.upcast_ref(),
            Source::Local,
            caps,
            Some((320, height)),
        )?;
        let chain: Vec<&gst::Element> = chain.iter().collect();
        join_tee(&self.raw_tee, &chain)?;
        Ok(())
    }

    /// The RTP tee of `codec`'s encoder, made on first use; one more user of it.
    pub(crate) fn acquire(
        &self,
        pipeline: &gst::Pipeline,
        codec: VideoCodec,
    ) -> Result<gst::Element> {
        let mut encoders = self
            .encoders
            .lock()
            .map_err(|_| MediaError::Pipeline("encoders".into()))?;
        if let Some(e) = encoders.get_mut(&codec) {
            e.users += 1;
            e.gate.set_property("drop", false);
            return Ok(e.tee.clone());
        }
        let gate = gst::ElementFactory::make("valve")
            .property("drop", false)
            .build()?;
        let queue = leaky_queue(2)?;
        let encoder = codec.encoder(self.kbps.load(Ordering::Relaxed), self.fps, self.threads)?;
        let ssrc = new_ssrc();
        let pay = codec.payloader(ssrc)?;
        super::congestion::reserve(&pay)?;
        // Fixed RTP caps: webrtcbin builds its offer from what a caps query upstream answers.
        let caps = capsfilter(codec.rtp_caps(ssrc))?;
        let out = tee(&format!("video-{}", codec.name()))?;
        if let Some(pad) = caps.static_pad("src") {
            self.taps.install(
                &pad,
                TrackId {
                    source: Source::Local,
                    kind: Kind::Video,
                    encoding: codec.encoding().into(),
                },
            );
        }
        let chain = [&gate, &queue, &encoder, &pay, &caps, &out];
        pipeline.add_many(chain)?;
        gst::Element::link_many(chain)?;
        join_tee(&self.raw_tee, &chain)?;
        encoders.insert(
            codec,
            Encoder {
                gate,
                encoder,
                tee: out.clone(),
                users: 1,
            },
        );
        Ok(out)
    }

    /// One user fewer; an encoder nobody uses stops encoding.
    pub(crate) fn release(&self, codec: VideoCodec) {
        if let Ok(mut encoders) = self.encoders.lock()
            && let Some(e) = encoders.get_mut(&codec)
        {
            e.users = e.users.saturating_sub(1);
            if e.users == 0 {
                e.gate.set_property("drop", true);
            }
        }
    }

    pub(crate) fn set_kbps(&self, kbps: u32) {
        self.kbps.store(kbps, Ordering::Relaxed);
        if let Ok(encoders) = self.encoders.lock() {
            for (codec, e) in encoders.iter() {
                codec.set_kbps(&e.encoder, kbps);
            }
        }
    }

    pub(crate) fn kbps(&self) -> u32 {
        self.kbps.load(Ordering::Relaxed)
    }

    pub(crate) fn request_keyframe(&self) {
        let Ok(encoders) = self.encoders.lock() else {
            return;
        };
        for e in encoders.values() {
            let ev = gst_video::UpstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            if let Some(pad) = e.encoder.static_pad("src") {
                // Upstream from the encoder's source pad is the encoder itself.
                let _ = pad.send_event(ev);
            }
        }
    }

    /// Capture from the camera or not. Off, the camera's source is stopped, so the device is
    /// let go of (its light goes out) instead of being read and thrown away.
    pub(crate) fn set_camera(&self, on: bool) -> Result<()> {
        let Some(camera) = &self.camera else {
            return Ok(());
        };
        let running = !camera.is_locked_state();
        match (on, running) {
            (false, true) => {
                camera.set_locked_state(true);
                camera.set_state(gst::State::Null)?;
            }
            (true, false) => {
                camera.set_locked_state(false);
                if camera.sync_state_with_parent().is_err() {
                    // Not there (unplugged, or none at all): it stays off until asked again.
                    camera.set_locked_state(true);
                    let _ = camera.set_state(gst::State::Null);
                    return Err(MediaError::Source(
                        "the camera cannot be opened: is it plugged in?".into(),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the camera's source is running.
    #[cfg(test)]
    pub(crate) fn camera_running(&self) -> bool {
        self.camera
            .as_ref()
            .is_some_and(|c| c.current_state() == gst::State::Playing)
    }

    /// Send video (camera or screen) or nothing.
    pub(crate) fn set_sending(&self, on: bool) -> bool {
        let was_off: bool = self.mute.property("drop");
        self.mute.set_property("drop", !on);
        was_off && on
    }

    /// Start or stop sharing the screen in place of the camera. The screen is captured only
    /// while shared.
    pub(crate) fn set_screen(
        &self,
        pipeline: &gst::Pipeline,
        source: Option<&dyn CaptureSource>,
        on: bool,
    ) -> Result<()> {
        let mut screen = self
            .screen
            .lock()
            .map_err(|_| MediaError::Pipeline("screen".into()))?;
        match (on, screen.is_some()) {
            (true, false) => {
                let src = source
                    .ok_or_else(|| MediaError::Source("no screen source is configured".into()))?;
                let bin = src.build()?;
                pipeline.add(&bin)?;
                let pad = self
                    .selector
                    .request_pad_simple("sink_%u")
                    .ok_or_else(|| MediaError::Pipeline("selector pad".into()))?;
                bin.static_pad("src")
                    .ok_or_else(|| MediaError::Pipeline("screen source without src pad".into()))?
                    .link(&pad)?;
                if let Err(e) = bin.sync_state_with_parent() {
                    self.selector.release_request_pad(&pad);
                    let _ = pipeline.remove(&bin);
                    return Err(e.into());
                }
                self.selector.set_property("active-pad", &pad);
                *screen = Some((bin, pad));
            }
            (false, true) => {
                if let Some(camera) = &self.camera_pad {
                    self.selector.set_property("active-pad", camera);
                }
                if let Some((bin, pad)) = screen.take() {
                    let _ = bin.set_state(gst::State::Null);
                    self.selector.release_request_pad(&pad);
                    let _ = pipeline.remove(&bin);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The microphone's Opus stream.
pub(crate) struct AudioSend {
    pub(crate) mute: gst::Element,
    pub(crate) tee: gst::Element,
}

impl AudioSend {
    pub(crate) fn build(
        pipeline: &gst::Pipeline,
        src: &dyn CaptureSource,
        processor: Option<gst::Element>,
        taps: &Taps,
        levels: &Levels,
    ) -> Result<AudioSend> {
        let source = src.build()?;
        let caps = capsfilter(match processor {
            Some(_) => super::voice::processing_caps(),
            None => gst::Caps::builder("audio/x-raw")
                .field("rate", 48000i32)
                .field("channels", 1i32)
                .build(),
        })?;
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
            // libwebrtc's desktop setting: indistinguishable for speech, a little cheaper.
            .property("complexity", 9i32)
            .build()
            .map_err(|_| MediaError::MissingElement("opusenc".into()))?;
        let ssrc = new_ssrc();
        let pay = gst::ElementFactory::make("rtpopuspay")
            .property("pt", 111u32)
            .property("ssrc", ssrc)
            .build()?;
        super::congestion::reserve(&pay)?;
        let rtp = capsfilter(
            super::congestion::announce(
                gst::Caps::builder("application/x-rtp")
                    .field("media", "audio")
                    .field("encoding-name", "OPUS")
                    .field("payload", 111i32)
                    .field("clock-rate", 48000i32)
                    .field("ssrc", ssrc),
            )
            .build(),
        )?;
        let out = tee("audio-tee")?;
        if let Some(pad) = rtp.static_pad("src") {
            taps.install(
                &pad,
                TrackId {
                    source: Source::Local,
                    kind: Kind::Audio,
                    encoding: "OPUS".into(),
                },
            );
        }
        let mut chain = vec![
            source,
            make("audioconvert")?,
            make("audioresample")?,
            caps.clone(),
        ];
        // What the microphone hears once cleaned (the echo of others is not our voice).
        let heard = processor.unwrap_or(caps);
        if chain.last() != Some(&heard) {
            chain.push(heard.clone());
        }
        chain.extend([mute.clone(), encoder, pay, rtp, out.clone()]);
        pipeline.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        if let Some(pad) = heard.static_pad("src") {
            levels.install(&pad, Source::Local);
        }
        Ok(AudioSend { mute, tee: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    /// Branches joined to a tee while its source pushes as fast as it can never stop the source
    /// (joined before they are started, the first push into one stops it for good).
    #[test]
    fn joining_a_busy_tee_never_stops_its_source() {
        super::super::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("audiotestsrc")
            .property("samplesperbuffer", 48i32)
            .build()
            .unwrap();
        let t = tee("busy").unwrap();
        pipeline.add_many([&src, &t]).unwrap();
        src.link(&t).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        const BRANCHES: usize = 100;
        // Room for every branch's report: none may be dropped while the test is still joining.
        let (tx, rx) = mpsc::sync_channel::<usize>(BRANCHES);
        for n in 0..BRANCHES {
            let queue = gst::ElementFactory::make("queue").build().unwrap();
            let sink = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()
                .unwrap();
            pipeline.add_many([&queue, &sink]).unwrap();
            queue.link(&sink).unwrap();
            let count = Arc::new(AtomicU64::new(0));
            let tx = tx.clone();
            sink.static_pad("sink")
                .unwrap()
                .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    // A few buffers each: enough to show the source still runs after every
                    // join, without making the test a race against a busy machine.
                    if count.fetch_add(1, Ordering::Relaxed) == 10 {
                        let _ = tx.try_send(n);
                    }
                    gst::PadProbeReturn::Ok
                });
            join_tee(&t, &[&queue, &sink]).unwrap();
        }
        // Every branch, the last joined included, goes on receiving.
        let mut fed = std::collections::BTreeSet::new();
        while fed.len() < BRANCHES {
            let n = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the source stopped: {} of {BRANCHES} fed", fed.len()));
            fed.insert(n);
        }
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
