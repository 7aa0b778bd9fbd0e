//! One recording segment, muxed in memory: the call's encoded streams (RTP from the taps) are
//! depayloaded, not transcoded, and muxed into a Matroska file held in a zeroizing buffer that
//! the container writer encrypts. No plaintext touches the disk.
//!
//! ```text
//!  appsrc(track 1, RTP) ─ depay ─ [parse] ─ [key frame gate] ─┐
//!  appsrc(track 2, RTP) ─ depay ─ …                           ├─ matroskamux ─ appsink ─ memory
//!  …                                                           ┘
//! ```
//! Every video track starts at a key frame (earlier frames of the segment are dropped), so each
//! segment plays on its own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_app::{AppSink, AppSrc};
use zeroize::Zeroizing;

use crate::media::Kind;
use crate::media::tap::TrackId;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("recording pipeline: {0}")]
    Pipeline(String),
    #[error("the segment did not finish in time")]
    Timeout,
}

impl From<glib::BoolError> for SegmentError {
    fn from(e: glib::BoolError) -> Self {
        SegmentError::Pipeline(e.to_string())
    }
}

use gst::glib;

struct Lane {
    src: AppSrc,
}

/// A segment being muxed.
pub struct SegmentMux {
    pipeline: gst::Pipeline,
    lanes: BTreeMap<TrackId, Lane>,
    out: Arc<Mutex<Zeroizing<Vec<u8>>>>,
    /// Timestamps in the segment count from here: the call's running time when it opened,
    /// less a second, so that frames captured just before (video leaves the encoder some
    /// 200 ms after capture, after audio captured later) stay in, in sync with each other.
    base: gst::ClockTime,
    packets: std::sync::atomic::AtomicU64,
}

/// How far before its opening a segment's timeline starts.
pub const LEAD: gst::ClockTime = gst::ClockTime::from_seconds(1);

fn make(factory: &str) -> Result<gst::Element, SegmentError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| SegmentError::Pipeline(format!("{factory} is missing")))
}

/// The depayloader (and parser) for an RTP encoding.
fn depay_chain(encoding: &str) -> Result<Vec<gst::Element>, SegmentError> {
    Ok(match encoding.to_ascii_uppercase().as_str() {
        "VP8" => vec![make("rtpvp8depay")?],
        "VP9" => vec![make("rtpvp9depay")?],
        "H264" => vec![make("rtph264depay")?, make("h264parse")?],
        "OPUS" => vec![make("rtpopusdepay")?, make("opusparse")?],
        other => return Err(SegmentError::Pipeline(format!("cannot record {other}"))),
    })
}

impl SegmentMux {
    /// A segment for these tracks (the streams flowing when it starts). `label` names each
    /// track's source (written as the Matroska track name, so exports can follow a person's
    /// streams across segments).
    pub fn new(
        tracks: &[(TrackId, gst::Caps)],
        label: impl Fn(&TrackId) -> String,
        opened_at: gst::ClockTime,
    ) -> Result<SegmentMux, SegmentError> {
        let pipeline = gst::Pipeline::new();
        let mux = gst::ElementFactory::make("matroskamux")
            .property("streamable", true)
            .build()
            .map_err(|_| SegmentError::Pipeline("matroskamux is missing".into()))?;
        let sink = AppSink::builder().sync(false).build();
        pipeline.add_many([&mux, sink.upcast_ref()])?;
        mux.link(&sink)?;
        let out = collect(&sink);
        let mut lanes = BTreeMap::new();
        for (track, caps) in tracks {
            let src = AppSrc::builder()
                .caps(caps)
                .format(gst::Format::Time)
                .is_live(false)
                .max_bytes(64 * 1024 * 1024)
                .build();
            let mut chain: Vec<gst::Element> = vec![src.clone().upcast()];
            chain.extend(depay_chain(&track.encoding)?);
            let kind = match track.kind {
                Kind::Video => "video",
                Kind::Audio => "audio",
            };
            let title = format!("{} {kind}", label(track)).replace([',', '"', '\\'], " ");
            chain.push(
                gst::ElementFactory::make("taginject")
                    .property("tags", format!("title=\"{title}\""))
                    .build()
                    .map_err(|_| SegmentError::Pipeline("taginject is missing".into()))?,
            );
            chain.push(
                gst::ElementFactory::make("queue")
                    .property("max-size-buffers", 0u32)
                    .property("max-size-bytes", 0u32)
                    .property("max-size-time", 0u64)
                    .build()?,
            );
            pipeline.add_many(&chain)?;
            gst::Element::link_many(&chain)?;
            let template = match track.kind {
                Kind::Video => "video_%u",
                Kind::Audio => "audio_%u",
            };
            let mux_pad = mux
                .request_pad_simple(template)
                .ok_or_else(|| SegmentError::Pipeline("muxer pad".into()))?;
            let last = chain
                .last()
                .and_then(|e| e.static_pad("src"))
                .ok_or_else(|| SegmentError::Pipeline("lane src".into()))?;
            if track.kind == Kind::Video {
                gate_until_keyframe(&last);
            }
            last.link(&mux_pad)
                .map_err(|e| SegmentError::Pipeline(format!("link: {e:?}")))?;
            lanes.insert(track.clone(), Lane { src });
        }
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| SegmentError::Pipeline(e.to_string()))?;
        Ok(SegmentMux {
            pipeline,
            lanes,
            out,
            base: opened_at.saturating_sub(LEAD),
            packets: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Add one packet of `track` (ignored if the segment has no such track).
    pub fn push(&self, track: &TrackId, buffer: &gst::Buffer) {
        let Some(lane) = self.lanes.get(track) else {
            return;
        };
        let Some(pts) = buffer.pts() else { return };
        let base = self.base;
        // Captured long before the segment opened: it belongs to the previous one.
        let Some(rel) = pts.checked_sub(base) else {
            return;
        };
        let mut b = buffer.copy();
        {
            let b = b.make_mut();
            b.set_pts(rel);
            b.set_dts(buffer.dts().and_then(|d| d.checked_sub(base)).or(Some(rel)));
        }
        if lane.src.push_buffer(b).is_ok() {
            self.packets.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Packets taken so far (none: the segment is empty and not worth writing).
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// End the segment: drain every lane, and return the Matroska bytes.
    /// (A packet pushed concurrently, by a tap that took the segment just before it was
    /// replaced, is refused by the drained lane: harmless.)
    pub fn finish(&self, timeout: Duration) -> Result<Zeroizing<Vec<u8>>, SegmentError> {
        for lane in self.lanes.values() {
            let _ = lane.src.end_of_stream();
        }
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| SegmentError::Pipeline("no bus".into()))?;
        let msg = if self.lanes.is_empty() {
            None
        } else {
            bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(timeout.as_millis() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => {}
            Some(gst::MessageView::Error(e)) => {
                return Err(SegmentError::Pipeline(e.error().to_string()));
            }
            _ if self.lanes.is_empty() => {}
            _ => return Err(SegmentError::Timeout),
        }
        let bytes = std::mem::take(
            &mut *self
                .out
                .lock()
                .map_err(|_| SegmentError::Pipeline("output".into()))?,
        );
        Ok(bytes)
    }
}

/// Drop a video lane's frames until its first key frame.
fn gate_until_keyframe(pad: &gst::Pad) {
    let open = Arc::new(AtomicBool::new(false));
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if open.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Ok;
        }
        match info.buffer() {
            Some(b) if !b.flags().contains(gst::BufferFlags::DELTA_UNIT) => {
                open.store(true, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            }
            Some(_) => gst::PadProbeReturn::Drop,
            None => gst::PadProbeReturn::Ok,
        }
    });
}

/// A synthetic segment (test pattern and tone, VP8 and Opus, `duration_ms` long) for the demo
/// and tests: the same format as a recorded one.
pub fn synthetic(duration_ms: u64, label: &str) -> Result<Zeroizing<Vec<u8>>, SegmentError> {
    crate::media::init().map_err(|e| SegmentError::Pipeline(e.to_string()))?;
    let frames = duration_ms * 30 / 1000;
    let audio_buffers = duration_ms / 20;
    let title = label.replace([',', '"', '\\'], " ");
    let desc = format!(
        "matroskamux name=mux streamable=true ! appsink name=out sync=false \
         videotestsrc num-buffers={frames} pattern=ball ! \
         video/x-raw,width=320,height=240,framerate=30/1 ! vp8enc deadline=1 ! \
         taginject tags=\"title=\\\"{title} video\\\"\" ! mux.video_0 \
         audiotestsrc num-buffers={audio_buffers} samplesperbuffer=960 ! \
         audio/x-raw,rate=48000,channels=1 ! opusenc ! \
         taginject tags=\"title=\\\"{title} audio\\\"\" ! mux.audio_0"
    );
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| SegmentError::Pipeline(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| SegmentError::Pipeline("not a pipeline".into()))?;
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<AppSink>().ok())
        .ok_or_else(|| SegmentError::Pipeline("no sink".into()))?;
    let out = collect(&sink);
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| SegmentError::Pipeline(e.to_string()))?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| SegmentError::Pipeline("no bus".into()))?;
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(60),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => {
            return Err(SegmentError::Pipeline(e.error().to_string()));
        }
        _ => return Err(SegmentError::Timeout),
    }
    let bytes = std::mem::take(
        &mut *out
            .lock()
            .map_err(|_| SegmentError::Pipeline("output".into()))?,
    );
    Ok(bytes)
}

/// Everything `sink` receives, appended in memory (zeroized when dropped: it is plaintext).
fn collect(sink: &AppSink) -> Arc<Mutex<Zeroizing<Vec<u8>>>> {
    let out: Arc<Mutex<Zeroizing<Vec<u8>>>> = Arc::default();
    let o = out.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(b) = sample.buffer()
                    && let Ok(map) = b.map_readable()
                    && let Ok(mut o) = o.lock()
                {
                    o.extend_from_slice(&map);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    out
}
