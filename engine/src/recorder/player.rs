//! Playback of a recording's decrypted media, from memory (no plaintext on disk): one
//! segment at a time, each a Matroska file of its own, served to `decodebin` by an `appsrc`
//! in random-access mode so the demuxer can seek inside it. The video of each person arrives
//! as RGBA frames keyed by track name; sound goes to the sound server (or nowhere, headless).
//! Play, pause and seek anywhere in the recording; the position is the recording's time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_app::{AppSink, AppSrc};
use zeroize::Zeroizing;

use crate::media::frames::Frame;

/// One decrypted media segment: where it starts in the recording, how long it is, its bytes.
pub struct Segment {
    pub start_ms: u64,
    pub duration_ms: u64,
    pub bytes: Zeroizing<Vec<u8>>,
}

/// A segment as the player keeps it: its bytes shared with the buffers it hands to GStreamer
/// (no copy of the plaintext, and the one copy is zeroized when the last buffer is gone).
struct Held {
    start_ms: u64,
    duration_ms: u64,
    bytes: Arc<Zeroizing<Vec<u8>>>,
}

/// A range of a held segment, as the memory of a GStreamer buffer.
struct Slice(Arc<Zeroizing<Vec<u8>>>, std::ops::Range<usize>);

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.0[self.1.clone()]
    }
}

/// Why a recording cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("the recording holds no media")]
    NoMedia,
    #[error("GStreamer element {0} is missing")]
    Missing(&'static str),
    #[error("cannot play the recording: {0}")]
    Pipeline(String),
}

/// Where sound goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sound {
    /// The default output device.
    Speakers,
    /// Decoded and dropped (tests, no sound device), still at the pace of the clock.
    Discard,
}

enum Command {
    Play,
    Pause,
    Seek(u64),
    Stop,
}

/// What the player shares with the window.
#[derive(Default)]
struct State {
    frames: Mutex<BTreeMap<String, Frame>>,
    position_ms: AtomicU64,
    playing: AtomicBool,
    ended: AtomicBool,
    error: Mutex<Option<String>>,
}

/// A recording being played. Dropping it stops playback.
pub struct Player {
    state: Arc<State>,
    commands: Sender<Command>,
    duration_ms: u64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Player({} ms)", self.duration_ms)
    }
}

impl Player {
    /// Start paused at the beginning.
    pub fn new(segments: Vec<Segment>, sound: Sound) -> Result<Player, PlayerError> {
        crate::media::init().map_err(|e| PlayerError::Pipeline(e.to_string()))?;
        if segments.is_empty() {
            return Err(PlayerError::NoMedia);
        }
        let duration_ms = segments
            .iter()
            .map(|s| s.start_ms + s.duration_ms)
            .max()
            .unwrap_or(0);
        let state = Arc::new(State::default());
        state
            .position_ms
            .store(segments[0].start_ms, Ordering::Relaxed);
        let (tx, rx) = channel();
        let st = state.clone();
        let segments: Vec<Held> = segments
            .into_iter()
            .map(|s| Held {
                start_ms: s.start_ms,
                duration_ms: s.duration_ms,
                bytes: Arc::new(s.bytes),
            })
            .collect();
        let thread = std::thread::Builder::new()
            .name("assent-player".into())
            .spawn(move || run(segments, sound, st, rx))
            .map_err(|e| PlayerError::Pipeline(e.to_string()))?;
        Ok(Player {
            state,
            commands: tx,
            duration_ms,
            thread: Some(thread),
        })
    }

    pub fn play(&self) {
        let _ = self.commands.send(Command::Play);
    }

    pub fn pause(&self) {
        let _ = self.commands.send(Command::Pause);
    }

    /// Go to `ms` in the recording (clamped to its length); playing or paused as before.
    pub fn seek(&self, ms: u64) {
        let _ = self.commands.send(Command::Seek(ms.min(self.duration_ms)));
    }

    pub fn duration_ms(&self) -> u64 {
        self.duration_ms
    }

    pub fn position_ms(&self) -> u64 {
        self.state.position_ms.load(Ordering::Relaxed)
    }

    pub fn is_playing(&self) -> bool {
        self.state.playing.load(Ordering::Relaxed)
    }

    /// Played to the end.
    pub fn ended(&self) -> bool {
        self.state.ended.load(Ordering::Relaxed)
    }

    pub fn error(&self) -> Option<String> {
        self.state.error.lock().ok()?.clone()
    }

    /// The newest frame of each video track, by track name.
    pub fn frames(&self) -> BTreeMap<String, Frame> {
        self.state
            .frames
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The segment holding `ms`, and the offset into it.
fn locate(segments: &[Held], ms: u64) -> (usize, u64) {
    let i = segments.iter().rposition(|s| s.start_ms <= ms).unwrap_or(0);
    (i, ms.saturating_sub(segments[i].start_ms))
}

fn run(segments: Vec<Held>, sound: Sound, state: Arc<State>, commands: Receiver<Command>) {
    let mut at = Cursor {
        index: 0,
        offset: 0,
        playing: false,
    };
    loop {
        let pipeline = match start_segment(&segments[at.index], at, sound, &state) {
            Ok(p) => p,
            Err(e) => {
                fail(&state, e);
                return;
            }
        };
        match play_segment(&pipeline, &segments, at, &state, &commands) {
            Next::Segment(next) => at = next,
            Next::Stop => return,
        }
    }
}

/// Where the player is: which segment, how far into it it starts, and whether it plays.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    index: usize,
    offset: u64,
    playing: bool,
}

/// What playing a segment ends in: another segment (or the same one again), or stopping.
enum Next {
    Segment(Cursor),
    Stop,
}

fn fail(state: &State, e: String) {
    if let Ok(mut slot) = state.error.lock() {
        *slot = Some(e);
    }
}

/// The segment's pipeline, prerolled at the cursor's offset (a flushing seek the demuxer
/// serves in pull mode), playing if the cursor says so.
fn start_segment(
    seg: &Held,
    at: Cursor,
    sound: Sound,
    state: &Arc<State>,
) -> Result<gst::Pipeline, String> {
    let pipeline = build(seg, sound, state).map_err(|e| e.to_string())?;
    // Where it is, before the first picture of this segment can show.
    state
        .position_ms
        .store(seg.start_ms + at.offset, Ordering::Relaxed);
    if pipeline.set_state(gst::State::Paused).is_err() || !prerolled(&pipeline) {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(format!("segment at {} ms does not play", seg.start_ms));
    }
    if at.offset > 0 {
        let _ = pipeline.seek_simple(
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::ClockTime::from_mseconds(at.offset),
        );
        let _ = prerolled(&pipeline);
    }
    state
        .position_ms
        .store(seg.start_ms + at.offset, Ordering::Relaxed);
    if at.playing {
        let _ = pipeline.set_state(gst::State::Playing);
    }
    Ok(pipeline)
}

/// Play one segment, obeying commands (first), the bus (then) and keeping the position, until
/// it ends, a seek moves elsewhere, or the player stops.
fn play_segment(
    pipeline: &gst::Pipeline,
    segments: &[Held],
    mut at: Cursor,
    state: &State,
    commands: &Receiver<Command>,
) -> Next {
    let seg = &segments[at.index];
    let bus = pipeline.bus().expect("a pipeline has a bus");
    loop {
        match commands.recv_timeout(Duration::from_millis(20)) {
            Ok(Command::Play) => {
                state.playing.store(true, Ordering::Relaxed);
                if state.ended.swap(false, Ordering::Relaxed) {
                    // Played to the end: from the start again.
                    let _ = pipeline.set_state(gst::State::Null);
                    return Next::Segment(Cursor {
                        index: 0,
                        offset: 0,
                        playing: true,
                    });
                }
                at.playing = true;
                let _ = pipeline.set_state(gst::State::Playing);
            }
            Ok(Command::Pause) => {
                at.playing = false;
                state.playing.store(false, Ordering::Relaxed);
                let _ = pipeline.set_state(gst::State::Paused);
            }
            Ok(Command::Seek(ms)) => {
                let _ = pipeline.set_state(gst::State::Null);
                state.ended.store(false, Ordering::Relaxed);
                let (index, offset) = locate(segments, ms);
                return Next::Segment(Cursor {
                    index,
                    offset,
                    playing: at.playing,
                });
            }
            Ok(Command::Stop) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let _ = pipeline.set_state(gst::State::Null);
                return Next::Stop;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Eos(_) => {
                    let _ = pipeline.set_state(gst::State::Null);
                    if at.index + 1 < segments.len() {
                        return Next::Segment(Cursor {
                            index: at.index + 1,
                            offset: 0,
                            playing: at.playing,
                        });
                    }
                    return at_end(segments, at, state, commands);
                }
                gst::MessageView::Error(e) => {
                    fail(state, e.error().to_string());
                    let _ = pipeline.set_state(gst::State::Null);
                    return Next::Stop;
                }
                _ => {}
            }
        }
        if let Some(pos) = pipeline.query_position::<gst::ClockTime>() {
            state
                .position_ms
                .store(seg.start_ms + pos.mseconds(), Ordering::Relaxed);
        }
    }
}

/// Played to the end of the last segment: wait for a command (play again, seek, stop).
fn at_end(segments: &[Held], at: Cursor, state: &State, commands: &Receiver<Command>) -> Next {
    let seg = &segments[at.index];
    state
        .position_ms
        .store(seg.start_ms + seg.duration_ms, Ordering::Relaxed);
    state.playing.store(false, Ordering::Relaxed);
    state.ended.store(true, Ordering::Relaxed);
    let paused = Cursor {
        playing: false,
        ..at
    };
    match commands.recv() {
        Ok(Command::Seek(ms)) => {
            state.ended.store(false, Ordering::Relaxed);
            let (index, offset) = locate(segments, ms);
            Next::Segment(Cursor {
                index,
                offset,
                playing: false,
            })
        }
        Ok(Command::Play) => {
            state.playing.store(true, Ordering::Relaxed);
            state.ended.store(false, Ordering::Relaxed);
            Next::Segment(Cursor {
                index: 0,
                offset: 0,
                playing: true,
            })
        }
        Ok(Command::Pause) => Next::Segment(paused),
        Ok(Command::Stop) | Err(_) => Next::Stop,
    }
}

/// Wait for the pipeline to reach PAUSED with data (or fail).
fn prerolled(pipeline: &gst::Pipeline) -> bool {
    matches!(
        pipeline.state(gst::ClockTime::from_seconds(10)),
        (Ok(_), gst::State::Paused | gst::State::Playing, _)
    )
}

/// `appsrc (random access over the segment's bytes) ! decodebin`, video to RGBA appsinks and
/// sound to the output.
fn build(seg: &Held, sound: Sound, state: &Arc<State>) -> Result<gst::Pipeline, PlayerError> {
    let pipeline = gst::Pipeline::new();
    let src = memory_source(seg.bytes.clone());
    let decode = gst::ElementFactory::make("decodebin")
        .build()
        .map_err(|_| PlayerError::Missing("decodebin"))?;
    pipeline
        .add_many([src.upcast_ref(), &decode])
        .map_err(|e| PlayerError::Pipeline(e.to_string()))?;
    src.link(&decode)
        .map_err(|e| PlayerError::Pipeline(e.to_string()))?;
    let weak = pipeline.downgrade();
    let state = state.clone();
    decode.connect_pad_added(move |_, pad| {
        if let Some(pipeline) = weak.upgrade() {
            play_pad(&pipeline, pad, sound, &state);
        }
    });
    Ok(pipeline)
}

/// The decrypted segment, read from memory (never written to disk), seekable.
fn memory_source(bytes: Arc<Zeroizing<Vec<u8>>>) -> AppSrc {
    let size = bytes.len() as u64;
    let src = AppSrc::builder()
        .stream_type(gst_app::AppStreamType::RandomAccess)
        .format(gst::Format::Bytes)
        .size(size as i64)
        .build();
    let cursor = Arc::new(AtomicU64::new(0));
    let (b, c) = (bytes.clone(), cursor.clone());
    let c2 = cursor.clone();
    src.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |src, length| {
                let at = c.load(Ordering::Relaxed) as usize;
                if at >= b.len() {
                    let _ = src.end_of_stream();
                    return;
                }
                let end = (at + length.max(4096) as usize).min(b.len());
                let mut buffer = gst::Buffer::from_slice(Slice(b.clone(), at..end));
                if let Some(buf) = buffer.get_mut() {
                    buf.set_offset(at as u64);
                }
                c.store(end as u64, Ordering::Relaxed);
                let _ = src.push_buffer(buffer);
            })
            .seek_data(move |_, offset| {
                if offset > size {
                    return false;
                }
                c2.store(offset, Ordering::Relaxed);
                true
            })
            .build(),
    );
    src
}

/// Play what a decoded pad carries: video into the frame the viewer shows, audio to the
/// speakers (or nowhere), anything else nowhere.
fn play_pad(pipeline: &gst::Pipeline, pad: &gst::Pad, sound: Sound, state: &Arc<State>) {
    let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
    let kind = caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let chain = if kind.starts_with("video/") {
        video_chain(pad, state)
    } else if kind.starts_with("audio/") {
        audio_chain(sound)
    } else {
        gst::ElementFactory::make("fakesink")
            .build()
            .ok()
            .map(|s| vec![s])
    };
    let Some(chain) = chain else { return };
    if pipeline.add_many(&chain).is_err() || gst::Element::link_many(&chain).is_err() {
        return;
    }
    // Downstream first: a buffer reaching an element not active yet is refused.
    for e in chain.iter().rev() {
        let _ = e.sync_state_with_parent();
    }
    if let Some(sinkpad) = chain[0].static_pad("sink") {
        let _ = pad.link(&sinkpad);
    }
}

/// Video frames (RGBA) for the viewer, named by the stream's title tag.
fn video_chain(pad: &gst::Pad, state: &Arc<State>) -> Option<Vec<gst::Element>> {
    let key = Arc::new(Mutex::new(format!("video {}", pad.name())));
    let k2 = key.clone();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::EventView::Tag(t)) = info.event().map(|e| e.view())
            && let Some(title) = t.tag().get::<gst::tags::Title>()
            && let Ok(mut k) = k2.lock()
        {
            *k = title.get().to_string();
        }
        gst::PadProbeReturn::Ok
    });
    let sink = AppSink::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", "RGBA")
                .build(),
        )
        .sync(true)
        .max_buffers(2)
        .drop(true)
        .build();
    let st = state.clone();
    let (st2, k3) = (state.clone(), key.clone());
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                store_frame(&st, &key, &sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .new_preroll(move |sink| {
                // The first picture shows while paused (and after a seek).
                if let Ok(sample) = sink.pull_preroll() {
                    store_frame(&st2, &k3, &sample);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let Ok(queue) = gst::ElementFactory::make("queue").build() else {
        return None;
    };
    let Ok(convert) = gst::ElementFactory::make("videoconvert").build() else {
        return None;
    };
    Some(vec![queue, convert, sink.upcast()])
}

/// The audio, to the speakers or (in tests) discarded at the clock's pace.
fn audio_chain(sound: Sound) -> Option<Vec<gst::Element>> {
    let out = match sound {
        Sound::Speakers => gst::ElementFactory::make("autoaudiosink").build(),
        Sound::Discard => gst::ElementFactory::make("fakesink")
            .property("sync", true)
            .build(),
    };
    let (Ok(queue), Ok(convert), Ok(resample), Ok(out)) = (
        gst::ElementFactory::make("queue").build(),
        gst::ElementFactory::make("audioconvert").build(),
        gst::ElementFactory::make("audioresample").build(),
        out,
    ) else {
        return None;
    };
    Some(vec![queue, convert, resample, out])
}

fn store_frame(state: &State, key: &Mutex<String>, sample: &gst::Sample) {
    let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
        return;
    };
    let Ok(info) = gst_video::VideoInfo::from_caps(caps) else {
        return;
    };
    let Ok(map) = buffer.map_readable() else {
        return;
    };
    let (w, h) = (info.width(), info.height());
    let stride = info.stride()[0] as usize;
    let row = w as usize * 4;
    let mut rgba = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        let start = y * stride;
        if let Some(line) = map.get(start..start + row) {
            rgba.extend_from_slice(line);
        }
    }
    let Ok(name) = key.lock().map(|k| k.clone()) else {
        return;
    };
    if let Ok(mut frames) = state.frames.lock() {
        let seq = frames.get(&name).map_or(1, |f| f.seq + 1);
        frames.insert(
            name,
            Frame {
                width: w,
                height: h,
                rgba: Arc::new(rgba),
                seq,
                natural: (w, h),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Wait (up to 30 s) until `f` holds, checking every few milliseconds.
    fn until(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn segments() -> Vec<Segment> {
        (0..3)
            .map(|i| Segment {
                start_ms: i * 2000,
                duration_ms: 2000,
                bytes: super::super::segment::synthetic(2000, "player").unwrap(),
            })
            .collect()
    }

    /// Paused at the start it shows the first picture; it plays across segments in real time,
    /// pauses, seeks into another segment, and stops at the end.
    #[test]
    fn plays_pauses_seeks_across_segments() {
        let p = Player::new(segments(), Sound::Discard).unwrap();
        assert_eq!(p.duration_ms(), 6000);
        until("the first picture", || !p.frames().is_empty());
        assert!(!p.is_playing());
        let first = p.frames().values().next().unwrap().clone();
        assert_eq!((first.width, first.height), (320, 240));
        assert_eq!(first.rgba.len(), 320 * 240 * 4);

        p.play();
        until("playing past the first second", || p.position_ms() > 1000);
        p.pause();
        until("paused", || !p.is_playing());
        // A picture already on its way when the pause came may still land (the sink's
        // preroll): let it, then nothing moves for 300 ms (playing, some 9 pictures would).
        std::thread::sleep(Duration::from_millis(150));
        let at = p.position_ms();
        let seq = p.frames().values().next().unwrap().seq;
        std::thread::sleep(Duration::from_millis(300));
        assert!(p.position_ms() <= at + 50, "paused means still");
        assert_eq!(p.frames().values().next().unwrap().seq, seq);

        // Into the third segment, still paused: its picture shows.
        p.seek(4500);
        until("at the seek target", || {
            (4400..4700).contains(&p.position_ms())
        });
        p.play();
        until("the end", || p.ended());
        assert_eq!(p.position_ms(), 6000);
        assert!(p.error().is_none(), "{:?}", p.error());
        // Play after the end starts over.
        p.play();
        until("from the start again", || {
            p.is_playing() && p.position_ms() < 2000
        });
    }
}
