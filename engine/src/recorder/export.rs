//! Export: the decrypted segments of a recording remuxed into one Matroska file that any player
//! opens. Each segment is a Matroska file of its own (starting at key frames); the tracks are
//! followed across segments by their names (who and what: "Ann (…) video"), and each segment's
//! timestamps are shifted by its offset in the recording. Nothing is transcoded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_app::{AppSink, AppSrc};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export pipeline: {0}")]
    Pipeline(String),
    #[error("segment {0} is not a readable media segment")]
    Unreadable(usize),
}

impl From<glib::BoolError> for ExportError {
    fn from(e: glib::BoolError) -> Self {
        ExportError::Pipeline(e.to_string())
    }
}

use gst::glib;

/// One demuxed stream of a segment.
struct Stream {
    key: String,
    caps: gst::Caps,
    samples: Vec<gst::Sample>,
}

/// Demux one segment completely (segments are a few seconds: memory is bounded by that).
fn demux(bytes: &[u8], n: usize) -> Result<Vec<Stream>, ExportError> {
    let pipeline = gst::Pipeline::new();
    let src = AppSrc::builder()
        .caps(&gst::Caps::builder("video/x-matroska").build())
        .format(gst::Format::Bytes)
        .build();
    let demux = gst::ElementFactory::make("matroskademux")
        .build()
        .map_err(|_| ExportError::Pipeline("matroskademux is missing".into()))?;
    pipeline.add_many([src.upcast_ref(), &demux])?;
    src.link(&demux)?;
    let streams: Arc<Mutex<Vec<Arc<Mutex<Stream>>>>> = Arc::default();
    let weak = pipeline.downgrade();
    let st = streams.clone();
    demux.connect_pad_added(move |_, pad| {
        if let Some(pipeline) = weak.upgrade() {
            collect_pad(&pipeline, pad, &st);
        }
    });
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| ExportError::Pipeline(e.to_string()))?;
    let _ = src.push_buffer(gst::Buffer::from_slice(bytes.to_vec()));
    let _ = src.end_of_stream();
    let msg = finish(&pipeline, Duration::from_secs(30))?;
    let streams = streams.lock().map(|v| v.clone()).unwrap_or_default();
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        // A segment closed before any media arrived holds only a header: nothing to export.
        Some(gst::MessageView::Error(_)) if streams.is_empty() => return Ok(Vec::new()),
        Some(gst::MessageView::Error(e)) => {
            tracing::warn!("segment {n}: {}", e.error());
            return Err(ExportError::Unreadable(n));
        }
        _ => return Err(ExportError::Unreadable(n)),
    }
    Ok(collected(streams))
}

/// What an export produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub tracks: Vec<String>,
    pub segments: usize,
}

/// Remux decrypted media segments, each with its start offset (ms), into `out`.
pub fn remux(segments: &[(u64, Zeroizing<Vec<u8>>)], out: &Path) -> Result<Exported, ExportError> {
    crate::media::init().map_err(|e| ExportError::Pipeline(e.to_string()))?;
    let (demuxed, tracks) = demux_all(segments)?;
    let pipeline = gst::Pipeline::new();
    let mux = gst::ElementFactory::make("matroskamux")
        .build()
        .map_err(|_| ExportError::Pipeline("matroskamux is missing".into()))?;
    let sink = gst::ElementFactory::make("filesink")
        .property("location", out.to_string_lossy().to_string())
        .build()?;
    pipeline.add_many([&mux, &sink])?;
    mux.link(&sink)?;
    let mut srcs: BTreeMap<String, AppSrc> = BTreeMap::new();
    for (key, caps) in &tracks {
        srcs.insert(key.clone(), track_source(&pipeline, &mux, key, caps)?);
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| ExportError::Pipeline(e.to_string()))?;
    push_all(&demuxed, &srcs);
    for src in srcs.values() {
        let _ = src.end_of_stream();
    }
    let timeout = Duration::from_secs(60) + Duration::from_millis(segments.len() as u64 * 500);
    let msg = finish(&pipeline, timeout)?;
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(Exported {
            tracks: tracks.into_keys().collect(),
            segments: segments.len(),
        }),
        Some(gst::MessageView::Error(e)) => Err(ExportError::Pipeline(e.error().to_string())),
        _ => Err(ExportError::Pipeline("the export did not finish".into())),
    }
}

/// Collect what a demuxed pad carries (its samples, caps and track name) into `streams`.
fn collect_pad(pipeline: &gst::Pipeline, pad: &gst::Pad, streams: &Mutex<Vec<Arc<Mutex<Stream>>>>) {
    let sink = AppSink::builder().sync(false).build();
    let stream = Arc::new(Mutex::new(Stream {
        key: String::new(),
        caps: gst::Caps::new_empty(),
        samples: Vec::new(),
    }));
    if let Ok(mut v) = streams.lock() {
        v.push(stream.clone());
    }
    // The track name arrives as a stream tag.
    let s2 = stream.clone();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::EventView::Tag(t)) = info.event().map(|e| e.view())
            && let Some(title) = t.tag().get::<gst::tags::Title>()
            && let Ok(mut s) = s2.lock()
        {
            s.key = title.get().to_string();
        }
        gst::PadProbeReturn::Ok
    });
    let s3 = stream.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Ok(mut s) = s3.lock() {
                    if let Some(c) = sample.caps() {
                        s.caps = c.to_owned();
                    }
                    s.samples.push(sample);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let queue = gst::ElementFactory::make("queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .build();
    let Ok(queue) = queue else { return };
    if pipeline.add_many([&queue, sink.upcast_ref()]).is_err() {
        return;
    }
    let _ = queue.link(&sink);
    // Downstream first: a buffer reaching an element not active yet is refused.
    let _ = sink.sync_state_with_parent();
    let _ = queue.sync_state_with_parent();
    if let Some(q) = queue.static_pad("sink") {
        let _ = pad.link(&q);
    }
}

/// The streams collected, each named (by its title tag, or by its place).
fn collected(streams: Vec<Arc<Mutex<Stream>>>) -> Vec<Stream> {
    let mut out = Vec::new();
    for (i, s) in streams.into_iter().enumerate() {
        let Ok(mut s) = s.lock() else { continue };
        if s.key.is_empty() {
            s.key = format!("track {i}");
        }
        out.push(Stream {
            key: std::mem::take(&mut s.key),
            caps: s.caps.clone(),
            samples: std::mem::take(&mut s.samples),
        });
    }
    out
}

/// Wait up to `timeout` for the pipeline to finish or fail, then stop it.
fn finish(
    pipeline: &gst::Pipeline,
    timeout: Duration,
) -> Result<Option<gst::Message>, ExportError> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| ExportError::Pipeline("no bus".into()))?;
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(timeout.as_secs()),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    Ok(msg)
}

/// Each segment's start and its streams.
type Demuxed = Vec<(u64, Vec<Stream>)>;
/// Each track's name and caps.
type Tracks = BTreeMap<String, gst::Caps>;

/// Every segment demuxed, and the tracks they hold with their caps (the output needs all its
/// tracks before it starts).
fn demux_all(segments: &[(u64, Zeroizing<Vec<u8>>)]) -> Result<(Demuxed, Tracks), ExportError> {
    let mut demuxed = Vec::new();
    let mut tracks: BTreeMap<String, gst::Caps> = BTreeMap::new();
    for (i, (start, bytes)) in segments.iter().enumerate() {
        let streams = demux(bytes, i)?;
        for s in &streams {
            tracks
                .entry(s.key.clone())
                .or_insert_with(|| s.caps.clone());
        }
        demuxed.push((*start, streams));
    }
    Ok((demuxed, tracks))
}

/// A source for one track into the muxer, tagged with the track's name.
fn track_source(
    pipeline: &gst::Pipeline,
    mux: &gst::Element,
    key: &str,
    caps: &gst::Caps,
) -> Result<AppSrc, ExportError> {
    let src = AppSrc::builder()
        .caps(caps)
        .format(gst::Format::Time)
        .max_bytes(0)
        .build();
    let video = caps
        .structure(0)
        .is_some_and(|s| s.name().starts_with("video/"));
    let tag = gst::ElementFactory::make("taginject")
        .property(
            "tags",
            format!("title=\"{}\"", key.replace(['"', '\\', ','], " ")),
        )
        .build()?;
    let queue = gst::ElementFactory::make("queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .build()?;
    pipeline.add_many([src.upcast_ref(), &tag, &queue])?;
    gst::Element::link_many([src.upcast_ref(), &tag, &queue])?;
    let pad = mux
        .request_pad_simple(if video { "video_%u" } else { "audio_%u" })
        .ok_or_else(|| ExportError::Pipeline("muxer pad".into()))?;
    queue
        .static_pad("src")
        .ok_or_else(|| ExportError::Pipeline("queue".into()))?
        .link(&pad)
        .map_err(|e| ExportError::Pipeline(format!("link: {e:?}")))?;
    Ok(src)
}

/// Every sample, in order, shifted to where its segment starts; the recording starts at its
/// first sample (segments keep some lead before it).
fn push_all(demuxed: &[(u64, Vec<Stream>)], srcs: &BTreeMap<String, AppSrc>) {
    let first = demuxed
        .first()
        .into_iter()
        .flat_map(|(_, streams)| streams.iter())
        .flat_map(|s| s.samples.iter())
        .filter_map(|x| x.buffer().and_then(|b| b.pts()))
        .min()
        .unwrap_or(gst::ClockTime::ZERO);
    for (start, streams) in demuxed {
        let offset = gst::ClockTime::from_mseconds(*start);
        for s in streams {
            let Some(src) = srcs.get(&s.key) else {
                continue;
            };
            for sample in &s.samples {
                let Some(buf) = sample.buffer() else { continue };
                let mut b = buf.copy();
                {
                    let b = b.make_mut();
                    b.set_pts(buf.pts().map(|p| (p + offset).saturating_sub(first)));
                    b.set_dts(buf.dts().map(|d| (d + offset).saturating_sub(first)));
                }
                let _ = src.push_buffer(b);
            }
        }
    }
}

/// What a media file holds: each track's name, its number of frames, and the last timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSummary {
    pub name: String,
    pub frames: usize,
    pub end_ms: u64,
}

/// Read a Matroska file back (to check an export, or for a viewer's summary).
pub fn probe(path: &Path) -> Result<Vec<TrackSummary>, ExportError> {
    crate::media::init().map_err(|e| ExportError::Pipeline(e.to_string()))?;
    let bytes = std::fs::read(path).map_err(|e| ExportError::Pipeline(e.to_string()))?;
    let streams = demux(&bytes, 0)?;
    Ok(streams
        .into_iter()
        .map(|s| TrackSummary {
            end_ms: s
                .samples
                .iter()
                .filter_map(|x| x.buffer().and_then(|b| b.pts()))
                .max()
                .map_or(0, |t| t.mseconds()),
            frames: s.samples.len(),
            name: s.key,
        })
        .collect())
}
