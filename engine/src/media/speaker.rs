//! Speakers through `cpal`, the device layer the design names. The pipeline mixes the call's
//! voices (and feeds the echo canceller's reference, `voice.rs`); an `appsink` at its end hands
//! the samples to a queue, and cpal's output stream takes them from there, each sample when its
//! time comes.
//!
//! The time a sample is heard is what the pipeline says it is: its running time plus the
//! pipeline's latency (which the canceller's reference and the pictures, `lipsync.rs`, count
//! on). The `appsink` syncs to the clock and reports [`RENDER_DELAY`] for the way through cpal
//! and the sound server, so each sample arrives that long before its time. The output stream
//! asks for a block ahead of playing it and says when the block's first sample will be heard
//! (its instants smoothed as the microphone's are); the queue gives the samples due then. A
//! device whose clock runs a little fast or slow is followed by skipping or padding a few
//! milliseconds when the two drift [`SLIP`] apart.
//!
//! A thread follows the chosen speaker (`follow.rs`): one that goes away is replaced by the
//! default one, and taken back when it returns.
//!
//! It is chosen with `--speaker cpal:NAME`; calls play through GStreamer's `pulsesink` by
//! default (`receive.rs`), followed by [`watch_pulsesink`], until cpal's PulseAudio host runs
//! reliably (docs/devices.md).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};
use gst::prelude::*;
use gst_app::gst_base::prelude::BaseSinkExt;

use super::MediaError;
use super::follow::{self, Endpoint, Health, Stamper};
use super::mic::RATE;

/// How long before its time a sample reaches the queue: the server's two blocks, one block
/// being filled, and room for a late wake-up of the pipeline or the output thread on a busy
/// machine. It is the latency the `appsink` reports, as an audio sink reports its buffer
/// (the same 100 ms `pulsesink` is given, `receive.rs`).
const RENDER_DELAY: Duration = Duration::from_millis(100);
/// How far the queue's times and the device's may drift apart before samples are skipped or
/// silence is played to line them up again, ns.
const SLIP: u64 = 6_000_000;
/// The most the queue holds (a device that stopped asking must not grow memory): 1 s.
const MAX_QUEUED: usize = RATE as usize;

/// The call's speaker through GStreamer's `pulsesink` (or the system's default sink), by the
/// sound server's name. A chosen speaker that is not there (unplugged since it was chosen)
/// gives the default and a message; it is followed either way: one that goes away mid-call
/// leaves the default playing, and one that appears (again) is played on.
pub(crate) fn through_pulsesink(
    chosen: Option<&str>,
    pipeline: &gst::Pipeline,
) -> Result<gst::Element, MediaError> {
    let Some(id) = chosen else {
        return super::receive::audio_out(None);
    };
    if speaker_present(id) != Some(false) {
        let device = super::receive::audio_out(Some(id))?;
        if device.find_property("device").is_some() {
            watch_pulsesink(id.to_string(), &device, true);
        }
        return Ok(device);
    }
    let told = follow::device_message("speaker", "lost", id, pipeline);
    let _ = pipeline.post_message(told);
    match super::receive::pulsesink() {
        Some(device) => {
            watch_pulsesink(id.to_string(), &device, false);
            Ok(device)
        }
        None => super::receive::audio_out(None),
    }
}

/// The call's speaker through cpal (`name`; empty for the default), which follows the device
/// itself. Without any speaker the call goes on unheard, and the user is told.
pub(crate) fn through_cpal(
    name: &str,
    pipeline: &gst::Pipeline,
) -> Result<gst::Element, MediaError> {
    let wanted = (!name.is_empty()).then(|| name.to_string());
    match speaker(wanted) {
        Ok(sink) => Ok(sink),
        Err(e) => {
            tracing::warn!(error = %e, "no speaker");
            let told = follow::device_message("speaker", "lost", "", pipeline);
            let _ = pipeline.post_message(told);
            Ok(gst::ElementFactory::make("fakesink")
                .property("sync", true)
                .property("async", false)
                .build()?)
        }
    }
}

/// A playback element for `wanted` (a device id, as the device list gives it; `None` for the
/// system's default). Fails when no speaker at all can be opened. A chosen speaker that is
/// missing at the start gives the default one and a message, as if it had just gone away.
pub(crate) fn speaker(wanted: Option<String>) -> Result<gst::Element, MediaError> {
    let sink = gst_app::AppSink::builder()
        .caps(&super::voice::mono_caps(F32))
        .sync(true)
        .enable_last_sample(false)
        .build();
    sink.set_property("render-delay", RENDER_DELAY.as_nanos() as u64);
    // No preroll: the call's pipeline is live, and its sources give nothing before it plays.
    sink.set_property("async", false);
    let queue = Arc::new(Queue::default());
    let guard = follow::spawn(
        Playback {
            sink: sink.downgrade(),
            queue: queue.clone(),
        },
        wanted,
    )?;
    let into = queue.clone();
    // The guard goes with the appsink's callbacks: when it is finalized, the thread ends and
    // the device closes.
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let _ = &guard;
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let latency = sink
                    .dynamic_cast_ref::<gst_app::gst_base::BaseSink>()
                    .map(|s| s.latency())
                    .unwrap_or_default();
                into.push(&sample, latency);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(sink.upcast())
}

/// Samples waiting for the device, each run with the running time its first sample is heard.
#[derive(Default)]
struct Queue {
    chunks: Mutex<Chunks>,
}

#[derive(Default)]
struct Chunks {
    runs: VecDeque<Run>,
    /// Samples in `runs`, not yet played.
    queued: usize,
}

struct Run {
    /// When `samples[used]` is heard, ns of running time.
    at: u64,
    samples: Vec<f32>,
    used: usize,
}

impl Run {
    fn left(&self) -> usize {
        self.samples.len() - self.used
    }
}

impl Chunks {
    /// Fill `out` with the samples heard from `at` on (ns of running time), one per frame:
    /// late ones are skipped, and silence plays until early ones are due.
    fn take(&mut self, at: u64, out: &mut [f32]) {
        let mut filled = 0;
        while filled < out.len() {
            let Some(run) = self.runs.front_mut() else {
                break;
            };
            let now = at + frames_ns(filled);
            if run.at > now + SLIP {
                // Not yet due: silence until it is.
                let gap = ns_frames(run.at - now).min(out.len() - filled);
                out[filled..filled + gap].fill(0.0);
                filled += gap;
                continue;
            }
            if run.at + SLIP < now {
                // Late: skip what should have been heard already.
                let skip = ns_frames(now - run.at).min(run.left());
                self.skip(skip);
                continue;
            }
            let n = run.left().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&run.samples[run.used..run.used + n]);
            filled += n;
            self.skip(n);
        }
        out[filled..].fill(0.0);
    }

    /// Drop `n` samples from the front run.
    fn skip(&mut self, n: usize) {
        if let Some(run) = self.runs.front_mut() {
            run.used += n;
            run.at += frames_ns(n);
            self.queued -= n;
            if run.left() == 0 {
                self.runs.pop_front();
            }
        }
    }

    fn push(&mut self, at: u64, samples: Vec<f32>) {
        // Time went back (the pipeline's latency lowered, or its time started again): what is
        // queued belongs to the old timeline.
        if let Some(last) = self.runs.back()
            && at + SLIP < last.at + frames_ns(last.left())
        {
            self.runs.clear();
            self.queued = 0;
        }
        self.queued += samples.len();
        self.runs.push_back(Run {
            at,
            samples,
            used: 0,
        });
        while self.queued > MAX_QUEUED {
            let n = self.runs.front().map(Run::left).unwrap_or(0);
            if n == 0 {
                break;
            }
            self.skip(n);
        }
    }
}

impl Queue {
    /// A sample from the appsink, with the pipeline's latency: its samples are heard at its
    /// running time plus the latency.
    fn push(&self, sample: &gst::Sample, latency: gst::ClockTime) {
        let (Some(buffer), Some(segment)) = (sample.buffer(), sample.segment()) else {
            return;
        };
        let Some(segment) = segment.downcast_ref::<gst::ClockTime>() else {
            return;
        };
        let Some(running) = buffer.pts().and_then(|pts| segment.to_running_time(pts)) else {
            return;
        };
        let Ok(map) = buffer.map_readable() else {
            return;
        };
        let Ok(samples) = bytemuck::try_cast_slice::<u8, f32>(map.as_slice()) else {
            return;
        };
        if let Ok(mut chunks) = self.chunks.lock() {
            chunks.push((running + latency).nseconds(), samples.to_vec());
        }
    }

    /// Fill `out` for a block heard from `at`.
    fn take(&self, at: u64, out: &mut [f32]) {
        match self.chunks.lock() {
            Ok(mut chunks) => chunks.take(at, out),
            Err(_) => out.fill(0.0),
        }
    }
}

fn frames_ns(frames: usize) -> u64 {
    frames as u64 * 1_000_000_000 / u64::from(RATE)
}

fn ns_frames(ns: u64) -> usize {
    (ns * u64::from(RATE) / 1_000_000_000) as usize
}

/// The playing side: the queue into cpal's output streams.
struct Playback {
    sink: gst::glib::WeakRef<gst_app::AppSink>,
    queue: Arc<Queue>,
}

impl Endpoint for Playback {
    const KIND: &'static str = "speaker";
    const NONE: &'static str = "no speaker: the system has no sound output";

    fn find(host: &cpal::Host, id: &str) -> Option<cpal::Device> {
        follow::by_id(host.output_devices().ok()?, id)
    }

    fn default_device(host: &cpal::Host) -> Option<cpal::Device> {
        host.default_output_device()
    }

    fn build(&self, device: &cpal::Device, health: &Arc<Health>) -> Result<cpal::Stream, String> {
        match self.play::<f32>(device, follow::mono(), health) {
            Ok(s) => Ok(s),
            // A device that takes only its own format (ALSA hardware): the same rate is needed,
            // in any number of channels.
            Err(_) => {
                let own = device
                    .default_output_config()
                    .map_err(|e| format!("the speaker has no usable format: {e}"))?;
                if own.sample_rate() != RATE {
                    return Err(format!(
                        "the speaker plays at {} Hz, not {RATE}",
                        own.sample_rate()
                    ));
                }
                let config = cpal::StreamConfig {
                    channels: own.channels(),
                    sample_rate: RATE,
                    buffer_size: cpal::BufferSize::Default,
                };
                match own.sample_format() {
                    cpal::SampleFormat::F32 => self.play::<f32>(device, config, health),
                    cpal::SampleFormat::I16 => self.play::<i16>(device, config, health),
                    other => Err(format!("the speaker's format {other} is not supported")),
                }
            }
        }
    }

    fn element(&self) -> Option<gst::Element> {
        self.sink.upgrade().map(|s| s.upcast())
    }
}

impl Playback {
    /// An output stream of samples of type `T`, each frame the queue's next sample in every
    /// channel.
    fn play<T: cpal::SizedSample + cpal::FromSample<f32> + Send + 'static>(
        &self,
        device: &cpal::Device,
        config: cpal::StreamConfig,
        health: &Arc<Health>,
    ) -> Result<cpal::Stream, String> {
        let sink = self.sink.clone();
        let queue = self.queue.clone();
        let channels = usize::from(config.channels.max(1));
        let mut stamper = Stamper::new(RATE);
        let alive = health.clone();
        let mut mono: Vec<f32> = Vec::new();
        device
            .build_output_stream::<T, _, _>(
                config,
                move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
                    if !alive.beat() {
                        data.fill(T::EQUILIBRIUM);
                        return;
                    }
                    let frames = data.len() / channels;
                    mono.resize(frames, 0.0);
                    // When the block's first sample is heard, on the pipeline's running time.
                    let heard = sink.upgrade().and_then(|sink| {
                        let (clock, base) = (sink.clock()?, sink.base_time()?);
                        let t = info.timestamp();
                        let ahead = t.playback.saturating_duration_since(t.callback);
                        let now = clock.time().saturating_sub(base).nseconds();
                        Some(now + ahead.as_nanos() as u64)
                    });
                    match heard {
                        Some(heard) => {
                            let (at, _, _) = stamper.stamp(heard, frames as u64);
                            queue.take(at, &mut mono);
                        }
                        // Before the pipeline plays (or after it is gone): silence.
                        None => mono.fill(0.0),
                    }
                    for (frame, v) in data.chunks_mut(channels).zip(&mono) {
                        frame.fill(T::from_sample(*v));
                    }
                },
                follow::on_error(health),
                Some(follow::START_WAIT),
            )
            .map_err(|e| format!("the speaker cannot be opened: {e}"))
    }
}

/// GStreamer's name for 32-bit float samples in native order.
const F32: &str = if cfg!(target_endian = "little") {
    "F32LE"
} else {
    "F32BE"
};

/// Follow the chosen speaker `id` for `sink` (a `pulsesink`), which plays on it when `chosen`
/// (on the default otherwise). When it goes away the sound server moves the stream to the
/// default speaker (PulseAudio's stream rescue; PipeWire does it always) and the user is told;
/// when it comes back the stream is moved there and the user is told again. The thread ends
/// with the sink.
pub(crate) fn watch_pulsesink(id: String, sink: &gst::Element, chosen: bool) {
    let sink = sink.downgrade();
    let watch = move || {
        // One host for the call: each asks the sound server anew, twice a second.
        let host = cpal::default_host();
        let mut chosen = chosen;
        loop {
            std::thread::sleep(follow::WATCH);
            let Some(sink) = sink.upgrade() else {
                return;
            };
            let said = match (chosen, output_present(&host, &id)) {
                (true, Some(false)) => "lost",
                (false, Some(true)) => {
                    sink.set_property("device", &id);
                    "back"
                }
                _ => continue,
            };
            chosen = !chosen;
            let _ = sink.post_message(follow::device_message("speaker", said, &id, &sink));
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
            .and_then(|all| follow::by_id(all, id))
            .is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> u64 {
        n * 1_000_000
    }

    fn ramp(from: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| from + i as f32).collect()
    }

    /// Samples play when they are due: silence until the first is, contiguous runs join
    /// without a gap, late ones are skipped, and a drift within the tolerance is left alone.
    #[test]
    fn the_queue_plays_each_sample_at_its_time() {
        let mut c = Chunks::default();
        // 10 ms runs (480 samples) from 100 ms on.
        c.push(ms(100), ramp(0.0, 480));
        c.push(ms(110), ramp(480.0, 480));
        c.push(ms(120), ramp(960.0, 480));
        // A block from 93 ms: 7 ms of silence, then the first samples.
        let mut out = vec![9.0; 480];
        c.take(ms(93), &mut out);
        assert!(out[..336].iter().all(|v| *v == 0.0));
        assert_eq!(out[336..], ramp(0.0, 144)[..]);
        // The next block 2 ms later than the samples say (within the tolerance): no skip.
        c.take(ms(105), &mut out);
        assert_eq!(out, ramp(144.0, 480));
        // 20 ms later than that: the late samples are skipped.
        c.take(ms(140), &mut out);
        assert!(out.iter().all(|v| *v == 0.0), "all was due before 140 ms");
        assert_eq!(c.queued, 0);
        // A run far ahead: a block before it is silence and keeps it.
        c.push(ms(500), ramp(1.0, 480));
        c.take(ms(200), &mut out);
        assert!(out.iter().all(|v| *v == 0.0));
        assert_eq!(c.queued, 480);
    }

    /// A sample from before the queued ones (time went back) starts the queue anew.
    #[test]
    fn time_going_back_starts_anew() {
        let mut c = Chunks::default();
        c.push(ms(5000), ramp(0.0, 480));
        c.push(ms(5010), ramp(480.0, 480));
        c.push(ms(100), ramp(7.0, 480));
        assert_eq!(c.queued, 480);
        let mut out = vec![0.0; 480];
        c.take(ms(100), &mut out);
        assert_eq!(out, ramp(7.0, 480));
    }

    /// A device that stopped asking does not grow the queue past a second.
    #[test]
    fn the_queue_holds_at_most_a_second() {
        let mut c = Chunks::default();
        for i in 0..300u64 {
            c.push(ms(10 * i), ramp(0.0, 480));
        }
        assert_eq!(c.queued, MAX_QUEUED);
        assert_eq!(c.runs.front().map(|r| r.at), Some(ms(10 * 200)));
    }
}
