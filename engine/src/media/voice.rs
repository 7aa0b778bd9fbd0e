//! Voice processing: echo cancellation, noise suppression and (when asked) gain control on the
//! microphone, with everything the speaker plays as the echo reference (GStreamer's `webrtcdsp`
//! and `webrtcechoprobe`, which wrap the WebRTC audio processing library).
//!
//! ```text
//!  peer 1 audio ─ convert ─┐
//!  peer 2 audio ─ convert ─┼─ audiomixer ─ S16LE 48 kHz mono ─ webrtcechoprobe ─ speaker
//!  silence (keeps time) ───┘                                        ╎ reference
//!  microphone ─ convert ─ S16LE 48 kHz mono ─ webrtcdsp ─ mute ─ opusenc …
//! ```
//!
//! The far end's voices reach the speaker through one mixer so that the canceller hears all of
//! them; a silent live source keeps the mixer (and so the reference) running while nobody else
//! is in the call. The canceller works in 10 ms periods and needs the probe and itself at the
//! same rate, in the same pipeline, and the probe made before the canceller starts.
//!
//! Only a real microphone is processed: a test tone or a media file has no room around it, and
//! noise suppression would take a steady tone for noise.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use assent_shared::signal::PeerId;
use gst::prelude::*;

use super::source::make;
use super::{MediaError, Result};

/// The rate and format the canceller and its reference run at.
const RATE: i32 = 48_000;

/// `audio/x-raw` as the canceller and the probe take it.
pub(crate) fn processing_caps() -> gst::Caps {
    mono_caps("S16LE")
}

/// Interleaved one-channel `audio/x-raw` at 48 kHz in `format` (GStreamer's name).
pub(crate) fn mono_caps(format: &str) -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", format)
        .field("layout", "interleaved")
        .field("rate", RATE)
        .field("channels", 1i32)
        .build()
}

/// How long the mixer waits for a peer's voice beyond the latency its branch reports.
const MIXER_SLACK: gst::ClockTime = gst::ClockTime::from_mseconds(20);

static NEXT_PROBE: AtomicU64 = AtomicU64::new(0);

/// Whether the elements voice processing needs are installed (`webrtcdsp` is in GStreamer's
/// bad plugins; a build without it calls unprocessed and says so once).
pub(crate) fn available() -> bool {
    gst::ElementFactory::find("webrtcdsp").is_some()
        && gst::ElementFactory::find("webrtcechoprobe").is_some()
}

/// The speaker of a call: one mixer for every peer's voice, the echo reference, the device.
pub(crate) struct Playback {
    mixer: gst::Element,
    /// The speaker: `pulsesink` (or `autoaudiosink`, a bin around a sink), the cpal speaker's
    /// `appsink` (`speaker.rs`), or a `fakesink` when no cpal speaker opens.
    device: gst::Element,
    /// The probe's name, when the canceller listens to it.
    probe: Option<String>,
    /// Each peer's pads on the mixer (released when the peer goes).
    pads: Mutex<BTreeMap<PeerId, Vec<gst::Pad>>>,
}

impl Playback {
    /// Build the speaker chain in `pipeline`; with `reference`, an echo probe before the device.
    pub(crate) fn build(
        pipeline: &gst::Pipeline,
        device: gst::Element,
        reference: bool,
    ) -> Result<Playback> {
        let silence = gst::ElementFactory::make("audiotestsrc")
            .name("speaker-silence")
            .property("is-live", true)
            .property_from_str("wave", "silence")
            .property("samplesperbuffer", RATE / 100)
            .build()?;
        let silence_caps = capsfilter(processing_caps())?;
        let mixer = gst::ElementFactory::make("audiomixer")
            .name("speaker-mix")
            .build()?;
        // Room for a decoder's late output: anything later than the mixer waits is cut, and
        // a voice cut into pieces is worse than 20 ms more delay.
        mixer.set_property("latency", MIXER_SLACK.nseconds());
        let caps = capsfilter(processing_caps())?;
        let mut chain = vec![silence, silence_caps.clone(), mixer.clone(), caps];
        let probe = if reference {
            let name = format!(
                "assent-echo-probe-{}",
                NEXT_PROBE.fetch_add(1, Ordering::Relaxed)
            );
            chain.push(
                gst::ElementFactory::make("webrtcechoprobe")
                    .name(&name)
                    .build()
                    .map_err(|_| MediaError::MissingElement("webrtcechoprobe".into()))?,
            );
            Some(name)
        } else {
            None
        };
        chain.extend([
            make("audioconvert")?,
            make("audioresample")?,
            device.clone(),
        ]);
        pipeline.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        ignore_inactive_once_running(&mixer, &silence_caps);
        Ok(Playback {
            mixer,
            device,
            probe,
            pads: Mutex::new(BTreeMap::new()),
        })
    }

    /// The latency the pipeline's sinks play with (what a sample's running time is delayed by
    /// before it is heard, and a picture's before it is shown).
    pub(crate) fn latency(&self) -> Option<gst::ClockTime> {
        use gst_app::gst_base::prelude::BaseSinkExt;
        let sink = match self.device.downcast_ref::<gst::Bin>() {
            Some(bin) => bin.iterate_sinks().into_iter().flatten().next()?,
            None => self.device.clone(),
        };
        let sink = sink.downcast::<gst_app::gst_base::BaseSink>().ok()?;
        Some(sink.latency())
    }

    /// The probe the canceller reads, if any.
    pub(crate) fn probe(&self) -> Option<&str> {
        self.probe.as_deref()
    }

    /// Link `src` (`peer`'s decoded audio) into the mixer, and have the pipeline count the
    /// new branch's latency (its jitter buffer): until then the mixer would not wait for it
    /// and cut its voice into pieces.
    pub(crate) fn add(&self, peer: PeerId, src: &gst::Pad) -> Result<()> {
        let pad = self
            .mixer
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Pipeline("no mixer input".into()))?;
        src.link(&pad)?;
        if let Ok(mut pads) = self.pads.lock() {
            pads.entry(peer).or_default().push(pad);
        }
        let _ = self
            .mixer
            .post_message(gst::message::Latency::builder().src(&self.mixer).build());
        Ok(())
    }

    /// `peer` is gone: give its mixer inputs back. Done before the peer's branch is stopped:
    /// releasing a pad wakes a branch thread that waits inside the mixer (a query waits there
    /// until the mixer's own thread takes it), which stopping the branch first would wait for
    /// forever. What the branch still sends is dropped, not refused as unlinked.
    pub(crate) fn remove(&self, peer: PeerId) {
        let pads = self
            .pads
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&peer))
            .unwrap_or_default();
        for pad in pads {
            if let Some(src) = pad.peer() {
                src.add_probe(gst::PadProbeType::DATA_DOWNSTREAM, |_, _| {
                    gst::PadProbeReturn::Drop
                });
            }
            self.mixer.release_request_pad(&pad);
        }
    }

    /// How many peers' voices the mixer takes now.
    #[cfg(test)]
    pub(crate) fn inputs(&self) -> usize {
        self.pads.lock().map(|p| p.len()).unwrap_or(0)
    }
}

/// The microphone's processing: echo cancellation against `probe` (when the call plays sound),
/// noise suppression, and with `gain_control` the level raised to a target.
///
/// Gain control is off unless asked for: the library's gain control lets through much of what
/// the canceller removed (`cargo xtask bench-echo`, 30 s calls as set up here: 16.6 to 26.6 dB
/// of echo return loss enhancement without it, −7.4 to 14.9 with it; its fixed mode did no
/// better, even at 0 dB of gain). It is for a headset, where there is no echo.
pub(crate) fn processor(probe: Option<&str>, gain_control: bool) -> Result<gst::Element> {
    let dsp = gst::ElementFactory::make("webrtcdsp")
        .name("voice-processing")
        .build()
        .map_err(|_| MediaError::MissingElement("webrtcdsp".into()))?;
    dsp.set_property("echo-cancel", probe.is_some());
    if let Some(probe) = probe {
        dsp.set_property("probe", probe);
        // The delay between the speaker and the microphone comes from the timestamps of both
        // (what the sound server reports). The default filter: the extended one, meant for
        // rooms whose echo lasts, cancelled less of the simulated room's echo (16.1 and 18.0 dB
        // against 20.7 to 21.6 in 20 s runs of the benchmark).
        dsp.set_property("delay-agnostic", false);
        dsp.set_property("extended-filter", false);
        dsp.set_property_from_str("echo-suppression-level", "high");
    }
    dsp.set_property("noise-suppression", true);
    dsp.set_property("high-pass-filter", true);
    dsp.set_property("gain-control", gain_control);
    Ok(dsp)
}

fn capsfilter(caps: gst::Caps) -> Result<gst::Element> {
    Ok(gst::ElementFactory::make("capsfilter")
        .property("caps", caps)
        .build()?)
}

/// A peer whose audio has not started yet must not hold the others back (the mixer's
/// `ignore-inactive-pads`); but only once the silence, which keeps the mixer running, has
/// been mixed. A pad counts as inactive until its first buffer is queued, and a mixer whose
/// every pad is inactive ends its stream (GStreamer 1.22): the call would have no sound. The
/// mixer's first output is no sign: it may be a timeout before the silence's first buffer
/// arrived (seen in the device tests on a loaded machine). So the silence's mixer pad says
/// when its first buffer was consumed, and the next output turns the option on.
fn ignore_inactive_once_running(mixer: &gst::Element, silence: &gst::Element) {
    if mixer.find_property("ignore-inactive-pads").is_none() {
        return;
    }
    let (Some(src), Some(pad)) = (
        mixer.static_pad("src"),
        silence.static_pad("src").and_then(|p| p.peer()),
    ) else {
        return;
    };
    let consumed = Arc::new(AtomicBool::new(false));
    pad.set_property("emit-signals", true);
    let seen = consumed.clone();
    // Emitted on the mixer's thread, which may hold its lock: only a flag here.
    pad.connect("buffer-consumed", false, move |_| {
        seen.store(true, Ordering::SeqCst);
        None
    });
    let weak = mixer.downgrade();
    let silence_pad = pad.downgrade();
    src.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        if !consumed.load(Ordering::SeqCst) {
            return gst::PadProbeReturn::Ok;
        }
        if let Some(mixer) = weak.upgrade() {
            mixer.set_property("ignore-inactive-pads", true);
        }
        if let Some(pad) = silence_pad.upgrade() {
            pad.set_property("emit-signals", false);
        }
        gst::PadProbeReturn::Remove
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The canceller as set up for a call: the default filter, strong suppression, gain
    /// control only when asked for (it lets echo through); without a probe, no cancelling.
    #[test]
    fn the_processor_cancels_echo_and_controls_gain_only_when_asked() {
        gst::init().unwrap();
        assert!(available(), "webrtcdsp (cargo xtask setup installs it)");
        let probe = gst::ElementFactory::make("webrtcechoprobe")
            .name("voice-test-probe")
            .build()
            .unwrap();
        for gain in [false, true] {
            let dsp = processor(Some(probe.name().as_str()), gain).unwrap();
            assert!(dsp.property::<bool>("echo-cancel"));
            assert!(!dsp.property::<bool>("extended-filter"));
            assert!(!dsp.property::<bool>("delay-agnostic"));
            let level = dsp.property_value("echo-suppression-level");
            let level = gst::glib::EnumValue::from_value(&level).unwrap().1.nick();
            assert_eq!(level, "high");
            assert!(dsp.property::<bool>("noise-suppression"));
            assert_eq!(dsp.property::<bool>("gain-control"), gain);
        }
        let alone = processor(None, false).unwrap();
        assert!(!alone.property::<bool>("echo-cancel"));
    }
    /// The mixer keeps running when the silence's first buffer comes after the mixer has
    /// already timed out and played (a loaded machine): it must not end its stream for want
    /// of an active input, and it ignores inactive inputs once the silence is mixed.
    #[test]
    fn a_late_first_silence_does_not_end_the_mix() {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = gst_app::AppSink::builder()
            .sync(true)
            .callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        let _ = s.pull_sample();
                        let _ = tx.send(());
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            )
            .build();
        sink.set_property("async", false);
        let _playback = Playback::build(&pipeline, sink.upcast(), false).unwrap();
        let silence = pipeline.by_name("speaker-silence").unwrap();
        let mixer = pipeline.by_name("speaker-mix").unwrap();
        // The silence's buffers are held back until the mixer has played on its own.
        let pass = Arc::new(AtomicBool::new(false));
        let open = pass.clone();
        silence
            .static_pad("src")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                match open.load(Ordering::SeqCst) {
                    true => gst::PadProbeReturn::Ok,
                    false => gst::PadProbeReturn::Drop,
                }
            });
        let bus = pipeline.bus().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let wait = Duration::from_secs(10);
        let played = |n: usize, what: &str| {
            for i in 0..n {
                if rx.recv_timeout(wait).is_err() {
                    let ended = bus.pop_filtered(&[gst::MessageType::Eos]).is_some();
                    panic!("{what}: the mixer stopped after {i} buffers (ended: {ended})");
                }
            }
        };
        played(5, "before the silence");
        assert!(!mixer.property::<bool>("ignore-inactive-pads"));
        pass.store(true, Ordering::SeqCst);
        played(20, "with the silence");
        assert!(mixer.property::<bool>("ignore-inactive-pads"));
        assert!(bus.pop_filtered(&[gst::MessageType::Eos]).is_none());
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
