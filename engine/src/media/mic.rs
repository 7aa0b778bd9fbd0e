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
/// Frames in one 10 ms block.
const BLOCK: u32 = RATE / 100;
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
        .do_timestamp(true)
        .max_bytes(MAX_QUEUED)
        .leaky_type(gst_app::AppLeakyType::Downstream)
        .min_latency(gst::ClockTime::from_mseconds(10).nseconds() as i64)
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
            let present = wanted.map(|id| has_input(&host, id));
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
            Some(id) => host
                .input_devices()
                .map_err(|e| format!("cannot list microphones: {e}"))?
                .find(|d| d.id().is_ok_and(|d| d.id() == id))
                .ok_or_else(|| id.to_string())?,
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
        let stream = match self.capture::<f32>(&device, config, "F32LE", &failed) {
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
                    cpal::SampleFormat::F32 => {
                        self.capture::<f32>(&device, config, "F32LE", &failed)
                    }
                    cpal::SampleFormat::I16 => {
                        self.capture::<i16>(&device, config, "S16LE", &failed)
                    }
                    cpal::SampleFormat::I32 => {
                        self.capture::<i32>(&device, config, "S32LE", &failed)
                    }
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
        let stream = device
            .build_input_stream::<T, _, _>(
                config,
                move |data: &[T], _| {
                    let Some(src) = src.upgrade() else { return };
                    let mut bytes = Vec::with_capacity(std::mem::size_of_val(data));
                    for s in data {
                        s.put(&mut bytes);
                    }
                    // Flushing or stopped: the call is ending; nothing to do.
                    let _ = src.push_buffer(gst::Buffer::from_mut_slice(bytes));
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
        let using = match state {
            "back" => device.to_string(),
            _ => "default".to_string(),
        };
        let s = gst::Structure::builder(DEVICE_MESSAGE)
            .field("kind", "microphone")
            .field("state", state)
            .field("device", device)
            .field("using", using)
            .build();
        src.post_message(gst::message::Element::builder(s).src(&src).build())
            .is_ok()
    }
}

/// Whether the host has an input device with this id now.
fn has_input(host: &cpal::Host, id: &str) -> bool {
    host.input_devices()
        .is_ok_and(|mut all| all.any(|d| d.id().is_ok_and(|d| d.id() == id)))
}

/// A sample as little-endian bytes.
trait Sample: cpal::SizedSample + Send + 'static {
    fn put(&self, out: &mut Vec<u8>);
}

impl Sample for f32 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Sample for i16 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Sample for i32 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
