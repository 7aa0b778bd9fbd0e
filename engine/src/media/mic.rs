//! Microphones through `cpal`, the device layer the design names. cpal captures from the sound
//! server (PulseAudio, or PipeWire's PulseAudio service; ALSA's devices where there is no sound
//! server) and an `appsrc` hands the samples to the pipeline, which does the rest (voice
//! processing, Opus, RTP). A thread follows the chosen microphone (`follow.rs`): one that goes
//! away during a call is replaced by the default one, and taken back when it returns.

use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};
use gst::prelude::*;

use super::MediaError;
use super::follow::{self, Endpoint, Health, Stamper};

/// What is asked of the device: the encoder's own rate, one channel (the sound server
/// converts; an ALSA device that cannot gets its own format, converted in the pipeline).
pub(super) const RATE: u32 = 48_000;
/// Frames in one 20 ms block: an Opus frame, so the encoder waits no longer than with smaller
/// blocks, and half the wake-ups of 10 ms ones (cpal's PulseAudio host asks the server for
/// timing at every block; `cargo xtask bench-devices`).
pub(super) const BLOCK: u32 = RATE / 50;
/// How much the `appsrc` holds before it drops the oldest samples (a stalled pipeline must not
/// grow memory or add delay), bytes: 200 ms of 32-bit samples.
const MAX_QUEUED: u64 = (RATE as u64) * 4 / 5;

/// A capture element for `wanted` (a device id, as the device list gives it; `None` for the
/// system's default). A chosen microphone that is missing at the start gives the default one
/// and a message, as if it had just gone away; when no microphone gives sound (none at all,
/// or all suspended) the element gives silence and a message, and the first microphone that
/// does is taken.
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
    let guard = follow::spawn(
        Capture {
            src: src.downgrade(),
        },
        wanted,
    )?;
    // The guard lives as long as the appsrc's callbacks, which go with the appsrc: when it is
    // finalized, the thread ends, closing the device.
    src.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |_, _| {
                let _ = &guard;
            })
            .build(),
    );
    Ok(src.upcast())
}

/// The capture side: cpal's input streams into the appsrc.
struct Capture {
    src: gst::glib::WeakRef<gst_app::AppSrc>,
}

impl Endpoint for Capture {
    const KIND: &'static str = "microphone";
    const NONE: &'static str = "no microphone: the system has no sound input";

    fn find(host: &cpal::Host, id: &str) -> Option<cpal::Device> {
        follow::by_id(host.input_devices().ok()?, id)
    }

    fn default_device(host: &cpal::Host) -> Option<cpal::Device> {
        host.default_input_device()
    }

    fn build(&self, device: &cpal::Device, health: &Arc<Health>) -> Result<cpal::Stream, String> {
        match self.capture::<f32>(device, follow::mono(), F32, health) {
            Ok(s) => Ok(s),
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
                    cpal::SampleFormat::F32 => self.capture::<f32>(device, config, F32, health),
                    cpal::SampleFormat::I16 => self.capture::<i16>(device, config, S16, health),
                    cpal::SampleFormat::I32 => self.capture::<i32>(device, config, S32, health),
                    other => Err(format!("the microphone's format {other} is not supported")),
                }
            }
        }
    }

    fn element(&self) -> Option<gst::Element> {
        self.src.upgrade().map(|s| s.upcast())
    }

    const FILLS: bool = true;

    fn silence(&self, stamper: &mut Stamper, frames: u64, first: bool) {
        let Some(src) = self.src.upgrade() else {
            return;
        };
        if first {
            src.set_caps(Some(&caps(F32, RATE, 1)));
        }
        let (Some(clock), Some(base)) = (src.clock(), src.base_time()) else {
            return;
        };
        let length = frames * 1_000_000_000 / u64::from(RATE);
        let now = clock.time().saturating_sub(base).nseconds();
        let stamp = stamper.stamp(now.saturating_sub(length), frames);
        let _ = src.push_buffer(stamped(vec![0u8; frames as usize * 4], stamp));
    }
}

/// A buffer of `bytes` with its time, duration and whether it starts anew, as
/// [`Stamper::stamp`] gives them.
fn stamped(bytes: Vec<u8>, (pts, duration, discont): (u64, u64, bool)) -> gst::Buffer {
    let mut buffer = gst::Buffer::from_mut_slice(bytes);
    if let Some(b) = buffer.get_mut() {
        b.set_pts(gst::ClockTime::from_nseconds(pts));
        b.set_duration(gst::ClockTime::from_nseconds(duration));
        if discont {
            b.set_flags(gst::BufferFlags::DISCONT);
        }
    }
    buffer
}

/// Interleaved samples in `format` (GStreamer's name) at `rate` with `channels`.
fn caps(format: &str, rate: u32, channels: u16) -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", format)
        .field("layout", "interleaved")
        .field("rate", rate as i32)
        .field("channels", i32::from(channels))
        .build()
}

impl Capture {
    /// A stream of samples of type `T` (`format` in GStreamer's words) into the appsrc.
    fn capture<T: Sample>(
        &self,
        device: &cpal::Device,
        config: cpal::StreamConfig,
        format: &str,
        health: &Arc<Health>,
    ) -> Result<cpal::Stream, String> {
        let caps = caps(format, config.sample_rate, config.channels);
        let src = self.src.clone();
        let channels = usize::from(config.channels.max(1));
        let rate = config.sample_rate.max(1);
        let mut stamper = Stamper::new(rate);
        let alive = health.clone();
        let stream = device
            .build_input_stream::<T, _, _>(
                config,
                move |data: &[T], info: &cpal::InputCallbackInfo| {
                    if !alive.beat() {
                        return;
                    }
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
                    let stamp = stamper.stamp(captured, frames);
                    // In native order, as the caps say.
                    let bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
                    // Flushing or stopped: the call is ending; nothing to do.
                    let _ = src.push_buffer(stamped(bytes, stamp));
                },
                follow::on_error(health),
                Some(follow::START_WAIT),
            )
            .map_err(|e| format!("the microphone cannot be opened: {e}"))?;
        if let Some(src) = self.src.upgrade() {
            src.set_caps(Some(&caps));
        }
        Ok(stream)
    }
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
