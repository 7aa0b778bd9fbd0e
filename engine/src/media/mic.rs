//! Microphones through `cpal`, the device layer the design names. cpal captures from the sound
//! server (PulseAudio, or PipeWire's PulseAudio service; ALSA's devices where there is no sound
//! server) and an `appsrc` hands the samples to the pipeline, which does the rest (voice
//! processing, Opus, RTP).
//!
//! One thread per microphone owns the cpal stream and watches the device: a chosen microphone
//! that goes away during a call (unplugged, its module unloaded) is replaced by the default
//! one, and taken back when it returns. Each change is posted on the pipeline's bus as a
//! [`DEVICE_MESSAGE`], which the call turns into a
//! [`CallEvent::Device`](crate::call::CallEvent::Device) for the user. The thread ends when the
//! `appsrc` is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use gst::prelude::*;

use super::MediaError;

/// What is asked of the device: the encoder's own rate, one channel (the sound server
/// converts; an ALSA device that cannot gets its own format, converted in the pipeline).
const RATE: u32 = 48_000;
/// Frames in one 20 ms block: an Opus frame, so the encoder waits no longer than with smaller
/// blocks, and half the wake-ups of 10 ms ones (cpal's PulseAudio host asks the server for
/// timing at every block; `cargo xtask bench-devices`).
const BLOCK: u32 = RATE / 50;
/// How often the watcher looks for the chosen device.
const WATCH: Duration = Duration::from_millis(500);
/// How much the `appsrc` holds before it drops the oldest samples (a stalled pipeline must not
/// grow memory or add delay), bytes: 200 ms of 32-bit samples.
const MAX_QUEUED: u64 = (RATE as u64) * 4 / 5;

/// The name of the bus message telling that a device went away or came back. Its fields:
/// `kind` ("microphone"), `state` ("lost" or "back"), `device` (the chosen device's id) and
/// `using` (what is captured now).
pub(crate) const DEVICE_MESSAGE: &str = "assent-device";

/// A capture element for `wanted` (a device id, as the device list gives it; `None` for the
/// system's default). Fails when no microphone at all can be opened. A chosen microphone that
/// is missing at the start gives the default one and a message, as if it had just gone away.
pub(super) fn source(wanted: Option<String>) -> Result<gst::Element, MediaError> {
    let src = gst_app::AppSrc::builder()
        .is_live(true)
        .format(gst::Format::Time)
        .max_bytes(MAX_QUEUED)
        .leaky_type(gst_app::AppLeakyType::Downstream)
        .min_latency(
            gst::ClockTime::from_mseconds(u64::from(BLOCK * 1000 / RATE)).nseconds() as i64,
        )
        .build();
    let (stop_tx, stop) = mpsc::channel::<()>();
    // The sender lives as long as the appsrc's callbacks, which go with the appsrc: when it is
    // finalized, the watcher's channel closes and the thread ends, closing the device.
    let guard = StopOnDrop(stop_tx);
    src.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |_, _| {
                let _ = &guard;
            })
            .build(),
    );
    let (ready_tx, ready) = mpsc::channel();
    let watcher = Watcher {
        wanted,
        src: src.downgrade(),
        stop,
    };
    std::thread::Builder::new()
        .name("microphone".into())
        .spawn(move || watcher.run(ready_tx))
        .map_err(|e| MediaError::Source(format!("cannot start the microphone: {e}")))?;
    match ready.recv() {
        Ok(Ok(())) => Ok(src.upcast()),
        Ok(Err(why)) => Err(MediaError::Source(why)),
        Err(_) => Err(MediaError::Source("the microphone did not start".into())),
    }
}

struct StopOnDrop(mpsc::Sender<()>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// The thread that owns the cpal stream.
struct Watcher {
    wanted: Option<String>,
    src: gst::glib::WeakRef<gst_app::AppSrc>,
    stop: mpsc::Receiver<()>,
}

/// A running capture.
struct Open {
    _stream: cpal::Stream,
    /// Whether it is the chosen device (not the default standing in for it).
    chosen: bool,
    /// Set by cpal when the stream broke (the device or the sound server went away).
    failed: Arc<AtomicBool>,
}

impl Watcher {
    fn run(self, ready: mpsc::Sender<Result<(), String>>) {
        let mut host = cpal::default_host();
        // A change not yet told: the appsrc has no bus until it is in the pipeline.
        let mut pending: Option<(&str, String)> = None;
        let first = match &self.wanted {
            Some(id) => self.open(&host, Some(id)).or_else(|_| {
                let open = self.open(&host, None)?;
                pending = Some(("lost", id.to_string()));
                Ok(open)
            }),
            None => self.open(&host, None),
        };
        let mut current = match first {
            Ok(open) => {
                let _ = ready.send(Ok(()));
                open
            }
            Err(why) => {
                let _ = ready.send(Err(why));
                return;
            }
        };
        loop {
            match self.stop.recv_timeout(WATCH) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            if self.src.upgrade().is_none() {
                return;
            }
            if let Some((state, id)) = &pending
                && self.tell(state, id)
            {
                pending = None;
            }
            let failed = current.failed.load(Ordering::Relaxed);
            if failed {
                // The sound server may have restarted: a new connection.
                host = cpal::default_host();
            }
            let wanted = self.wanted.as_deref();
            let present = wanted.map(|id| input_device(&host, id).is_some());
            let (target, said) = match (current.chosen, present, failed) {
                // The chosen device went away: the default stands in.
                (true, Some(false), _) => (None, Some("lost")),
                // It broke but is listed: open it again.
                (true, _, true) => (wanted, None),
                // It is back.
                (false, Some(true), _) => (wanted, Some("back")),
                // The default broke: open whatever the default is now.
                (false, _, true) => (None, None),
                _ => continue,
            };
            let opened = match self.open(&host, target) {
                Err(_) if target.is_some() && current.chosen => {
                    self.open(&host, None).map(|o| (o, Some("lost")))
                }
                other => other.map(|o| (o, said)),
            };
            match opened {
                Ok((open, said)) => {
                    // The old stream closes as it is replaced.
                    current = open;
                    if let Some(state) = said {
                        let id = wanted.unwrap_or("default");
                        if !self.tell(state, id) {
                            pending = Some((state, id.to_string()));
                        }
                    }
                }
                Err(why) => tracing::warn!("microphone: {why}"),
            }
        }
    }

    /// Open `id` (or the default) and start feeding the appsrc.
    fn open(&self, host: &cpal::Host, id: Option<&str>) -> Result<Open, String> {
        let device = match id {
            Some(id) => input_device(host, id).ok_or_else(|| format!("no microphone {id}"))?,
            None => host
                .default_input_device()
                .ok_or_else(|| "no microphone: the system has no sound input".to_string())?,
        };
        let failed = Arc::new(AtomicBool::new(false));
        let config = cpal::StreamConfig {
            channels: 1,
            sample_rate: RATE,
            buffer_size: cpal::BufferSize::Fixed(BLOCK),
        };
        let stream = match self.capture::<f32>(&device, config, F32, &failed) {
            Ok(s) => s,
            // A device that takes only its own format (ALSA hardware).
            Err(_) => {
                let own = device
                    .default_input_config()
                    .map_err(|e| format!("the microphone has no usable format: {e}"))?;
                let config = cpal::StreamConfig {
                    channels: own.channels(),
                    sample_rate: own.sample_rate(),
                    buffer_size: cpal::BufferSize::Default,
                };
                match own.sample_format() {
                    cpal::SampleFormat::F32 => self.capture::<f32>(&device, config, F32, &failed),
                    cpal::SampleFormat::I16 => self.capture::<i16>(&device, config, S16, &failed),
                    cpal::SampleFormat::I32 => self.capture::<i32>(&device, config, S32, &failed),
                    other => Err(format!("the microphone's format {other} is not supported")),
                }?
            }
        };
        stream
            .play()
            .map_err(|e| format!("the microphone does not start: {e}"))?;
        Ok(Open {
            _stream: stream,
            chosen: id.is_some() && id == self.wanted.as_deref(),
            failed,
        })
    }

    /// A stream of samples of type `T` (`format` in GStreamer's words) into the appsrc.
    fn capture<T: Sample>(
        &self,
        device: &cpal::Device,
        config: cpal::StreamConfig,
        format: &str,
        failed: &Arc<AtomicBool>,
    ) -> Result<cpal::Stream, String> {
        let caps = gst::Caps::builder("audio/x-raw")
            .field("format", format)
            .field("layout", "interleaved")
            .field("rate", config.sample_rate as i32)
            .field("channels", i32::from(config.channels))
            .build();
        let src = self.src.clone();
        let broke = failed.clone();
        let channels = usize::from(config.channels.max(1));
        let rate = config.sample_rate.max(1);
        let mut stamper = Stamper::new(rate);
        let stream = device
            .build_input_stream::<T, _, _>(
                config,
                move |data: &[T], info: &cpal::InputCallbackInfo| {
                    let Some(src) = src.upgrade() else { return };
                    // Before the pipeline plays there is no running time to put it on.
                    let (Some(clock), Some(base)) = (src.clock(), src.base_time()) else {
                        return;
                    };
                    // When the first sample was captured, on the pipeline's running time: the
                    // echo canceller lines the microphone up with what the speaker played by
                    // these times (stamped on arrival, as `do-timestamp` would, they are a
                    // block and the server's latency late). cpal's capture instant
                    // (PulseAudio host) is that of the block's end, the server's latency once
                    // the block is read, so its first sample is a block earlier.
                    let t = info.timestamp();
                    let frames = (data.len() / channels) as u64;
                    let behind = t.callback.saturating_duration_since(t.capture)
                        + Duration::from_nanos(frames * 1_000_000_000 / u64::from(rate));
                    let captured = clock
                        .time()
                        .saturating_sub(base)
                        .nseconds()
                        .saturating_sub(behind.as_nanos() as u64);
                    let (pts, duration, discont) = stamper.stamp(captured, frames);
                    // In native order, as the caps say.
                    let mut buffer =
                        gst::Buffer::from_mut_slice(bytemuck::cast_slice::<T, u8>(data).to_vec());
                    if let Some(b) = buffer.get_mut() {
                        b.set_pts(gst::ClockTime::from_nseconds(pts));
                        b.set_duration(gst::ClockTime::from_nseconds(duration));
                        if discont {
                            b.set_flags(gst::BufferFlags::DISCONT);
                        }
                    }
                    // Flushing or stopped: the call is ending; nothing to do.
                    let _ = src.push_buffer(buffer);
                },
                move |e: cpal::Error| {
                    if e.kind() != cpal::ErrorKind::Xrun {
                        broke.store(true, Ordering::Relaxed);
                    }
                },
                None,
            )
            .map_err(|e| format!("the microphone cannot be opened: {e}"))?;
        if let Some(src) = self.src.upgrade() {
            src.set_caps(Some(&caps));
        }
        Ok(stream)
    }

    /// Post a device change on the bus; whether it could be.
    fn tell(&self, state: &str, device: &str) -> bool {
        let Some(src) = self.src.upgrade() else {
            return false;
        };
        src.post_message(device_message("microphone", state, device, &src))
            .is_ok()
    }
}

/// The bus message for a device change: `kind` ("microphone", "speaker"), `state` ("lost":
/// the default stands in; "back"), the chosen `device`, posted by `from`.
pub(crate) fn device_message(
    kind: &str,
    state: &str,
    device: &str,
    from: &impl IsA<gst::Object>,
) -> gst::Message {
    let using = match state {
        "back" => device,
        _ => "default",
    };
    let s = gst::Structure::builder(DEVICE_MESSAGE)
        .field("kind", kind)
        .field("state", state)
        .field("device", device)
        .field("using", using)
        .build();
    gst::message::Element::builder(s).src(from).build()
}

/// Follow the chosen speaker `id` that `sink` (a `pulsesink`) plays on. When it goes away the
/// sound server moves the stream to the default speaker (PulseAudio's stream rescue; PipeWire
/// does it always) and the user is told; when it comes back the stream is moved back there
/// and the user is told again. The thread ends with the sink.
pub(crate) fn watch_speaker(id: String, sink: &gst::Element) {
    let sink = sink.downgrade();
    let watch = move || {
        // One host for the call: each asks the sound server anew, twice a second.
        let host = cpal::default_host();
        let mut chosen = true;
        loop {
            std::thread::sleep(WATCH);
            let Some(sink) = sink.upgrade() else {
                return;
            };
            match (chosen, output_present(&host, &id)) {
                (true, Some(false)) => {
                    chosen = false;
                    let _ = sink.post_message(device_message("speaker", "lost", &id, &sink));
                }
                (false, Some(true)) => {
                    chosen = true;
                    sink.set_property("device", &id);
                    let _ = sink.post_message(device_message("speaker", "back", &id, &sink));
                }
                _ => {}
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("speaker".into())
        .spawn(watch)
    {
        tracing::warn!(error = %e, "the speaker is not watched");
    }
}

/// Whether the sound server has a speaker with this id now (`None`: it cannot tell, without
/// a sound server).
pub(crate) fn speaker_present(id: &str) -> Option<bool> {
    output_present(&cpal::default_host(), id)
}

/// [`speaker_present`] on `host`.
fn output_present(host: &cpal::Host, id: &str) -> Option<bool> {
    if host.id() != cpal::HostId::PulseAudio {
        return None;
    }
    Some(
        host.output_devices()
            .ok()
            .and_then(|all| by_id(all, id))
            .is_some(),
    )
}

/// Timestamps for captured blocks. The capture instants cpal reports scatter by several
/// milliseconds around the truth (the first often by 10 ms or more), so each block is stamped
/// where the samples counted since the first put it, plus an offset that follows the reported
/// instants slowly (a moving average): consecutive blocks join within a fraction of a
/// millisecond and the stamps settle on the true capture times. It starts again from the
/// reported instant when the two drift apart by more than [`RESYNC_NS`] (a stall, a device
/// change).
struct Stamper {
    rate: u64,
    /// The reported running time of sample 0, or nothing yet.
    start: Option<u64>,
    samples: u64,
    /// The average of reported minus counted times, ns.
    offset: f64,
}

/// How far counted and reported times may drift apart, ns.
const RESYNC_NS: f64 = 40_000_000.0;
/// How much of each block's difference the offset takes (about the last 20 blocks count).
const FOLLOW: f64 = 0.05;

impl Stamper {
    fn new(rate: u32) -> Stamper {
        Stamper {
            rate: u64::from(rate.max(1)),
            start: None,
            samples: 0,
            offset: 0.0,
        }
    }

    fn at(&self, start: u64, samples: u64) -> u64 {
        start + (u128::from(samples) * 1_000_000_000 / u128::from(self.rate)) as u64
    }

    /// A block of `frames` whose first sample was captured at `captured` (ns of running time,
    /// as reported): its timestamp, duration and whether it starts anew (a discontinuity).
    fn stamp(&mut self, captured: u64, frames: u64) -> (u64, u64, bool) {
        let mut discont = false;
        let start = match self.start {
            Some(start)
                if (captured as f64 - self.at(start, self.samples) as f64 - self.offset).abs()
                    <= RESYNC_NS =>
            {
                start
            }
            _ => {
                discont = self.start.is_some();
                self.start = Some(captured);
                self.samples = 0;
                self.offset = 0.0;
                captured
            }
        };
        let counted = self.at(start, self.samples);
        self.offset += (captured as f64 - counted as f64 - self.offset) * FOLLOW;
        let pts = (counted as f64 + self.offset).max(0.0) as u64;
        self.samples += frames;
        let end = (self.at(start, self.samples) as f64 + self.offset).max(0.0) as u64;
        (pts, end.saturating_sub(pts), discont)
    }
}

/// The host's input device with this id, if it has one now.
fn input_device(host: &cpal::Host, id: &str) -> Option<cpal::Device> {
    by_id(host.input_devices().ok()?, id)
}

/// The device with this id (the sound server's name) among `devices`.
fn by_id(mut devices: impl Iterator<Item = cpal::Device>, id: &str) -> Option<cpal::Device> {
    devices.find(|d| d.id().is_ok_and(|d| d.id() == id))
}

/// A sample type the pipeline takes as it is.
trait Sample: cpal::SizedSample + bytemuck::Pod + Send + 'static {}

impl Sample for f32 {}
impl Sample for i16 {}
impl Sample for i32 {}

/// GStreamer's names for the sample types in native order.
const F32: &str = if cfg!(target_endian = "little") {
    "F32LE"
} else {
    "F32BE"
};
const S16: &str = if cfg!(target_endian = "little") {
    "S16LE"
} else {
    "S16BE"
};
const S32: &str = if cfg!(target_endian = "little") {
    "S32LE"
} else {
    "S32BE"
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Reported instants scattered around the truth (the first 12 ms late, then ±5 ms): the
    /// stamps join within a fraction of a millisecond and settle within a millisecond of the
    /// truth; a stall past the tolerance starts again, marked as a discontinuity.
    #[test]
    fn timestamps_follow_the_capture_times_smoothly() {
        let mut s = Stamper::new(48_000);
        let truth = |i: u64| 1_000_000_000 + i * 20_000_000;
        let jitter = |i: u64| -> i64 {
            match i {
                0 => 12_000_000,
                _ => [5_000_000, -4_000_000, 2_000_000, -5_000_000, 1_000_000][(i % 5) as usize],
            }
        };
        let mut end = None;
        for i in 0..200u64 {
            let (pts, dur, discont) = s.stamp(truth(i).saturating_add_signed(jitter(i)), 960);
            assert!(!discont);
            if let Some(e) = end {
                assert!(
                    pts.abs_diff(e) < 1_000_000,
                    "block {i} starts {pts}, previous ended {e}"
                );
            }
            end = Some(pts + dur);
            if i >= 100 {
                assert!(
                    pts.abs_diff(truth(i)) < 1_000_000,
                    "block {i}: {pts} vs {}",
                    truth(i)
                );
            }
        }
        // A stall of half a second: a new start from the reported instant.
        let (pts, _, discont) = s.stamp(truth(225), 960);
        assert!(discont);
        assert_eq!(pts, truth(225));
    }
}
