//! Lip sync, measured: a test picture that flashes white and a test tone that beeps at the
//! same instant once a second, and at the receiver the time the flash is shown against the
//! time the beep is played.
//!
//! The flash is the first frame at or after each whole second of the sender's running time
//! (and the frames of the next 100 ms); the beep starts at that frame's timestamp, predicted
//! from the frames seen so far (a live test picture's frames are evenly spaced), and lasts
//! 100 ms. Both sources live in one pipeline, so their timestamps share one clock.
//!
//! At the receiver, [`Meter`] takes the clock time at which the window's picture sink delivers
//! a bright frame after dark ones, and the time at which the speaker will play the first loud
//! sample after a quiet spell (its running time plus the pipeline's latency, which is when
//! the sound server is handed it), and pairs each flash with the beep within half a second.

use std::collections::VecDeque;
use std::sync::Mutex;

use gst::prelude::*;

use super::MediaError;
use super::source::{CaptureSource, Kind};

/// How long a flash and a beep last.
const PULSE: gst::ClockTime = gst::ClockTime::from_mseconds(100);
/// The beep's pitch and loudness (a quarter of full scale).
const BEEP_HZ: f64 = 1000.0;
const BEEP_AMPLITUDE: f64 = 8192.0;
const RATE: u64 = 48_000;

/// The sender's picture timing: a frame's timestamp and the frame duration.
static FRAMES: Mutex<Option<(u64, u64)>> = Mutex::new(None);

/// When the flash of second `n` starts: the first frame at or after it.
fn flash_start(n: u64, frames: Option<(u64, u64)>) -> u64 {
    let second = n * gst::ClockTime::SECOND.nseconds();
    match frames {
        Some((pts, d)) if d > 0 => {
            if pts >= second {
                pts - (pts - second) / d * d
            } else {
                pts + (second - pts).div_ceil(d) * d
            }
        }
        _ => second,
    }
}

/// Whether `t` (ns of running time) is within a flash or beep.
fn pulsing(t: u64, frames: Option<(u64, u64)>) -> bool {
    let n = t / gst::ClockTime::SECOND.nseconds();
    // The pulse of second n may start a frame after n; one of second n-1 may still run.
    [n.saturating_sub(1), n].iter().any(|&n| {
        let start = flash_start(n, frames);
        (start..start + PULSE.nseconds()).contains(&t)
    })
}

/// A black test picture that flashes white once a second.
#[derive(Debug, Clone, Default)]
pub struct Flash;

impl CaptureSource for Flash {
    fn kind(&self) -> Kind {
        Kind::Video
    }
    fn describe(&self) -> String {
        "test picture (a flash a second)".into()
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        let bin = gst::parse::bin_from_description(
            "videotestsrc is-live=true pattern=black ! video/x-raw,format=I420 ! \
             identity name=flash",
            true,
        )
        .map_err(|e| MediaError::Pipeline(e.to_string()))?;
        let pad = bin
            .by_name("flash")
            .and_then(|e| e.static_pad("src"))
            .ok_or_else(|| MediaError::Pipeline("flash source".into()))?;
        pad.add_probe(gst::PadProbeType::BUFFER, |pad, probe| {
            let caps = pad.current_caps();
            let Some(buffer) = probe.buffer_mut() else {
                return gst::PadProbeReturn::Ok;
            };
            let (Some(pts), Some(d)) = (buffer.pts(), buffer.duration()) else {
                return gst::PadProbeReturn::Ok;
            };
            let frames = Some((pts.nseconds(), d.nseconds()));
            if let Ok(mut f) = FRAMES.lock() {
                *f = frames;
            }
            if !pulsing(pts.nseconds(), frames) {
                return gst::PadProbeReturn::Ok;
            }
            let Some(info) = caps.and_then(|c| gst_video::VideoInfo::from_caps(&c).ok()) else {
                return gst::PadProbeReturn::Ok;
            };
            let buf = buffer.make_mut();
            if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info)
                && let Ok(luma) = frame.plane_data_mut(0)
            {
                luma.fill(235);
            }
            gst::PadProbeReturn::Ok
        });
        Ok(bin.upcast())
    }
}

/// Silence with a 100 ms beep once a second, at the instant [`Flash`] flashes.
#[derive(Debug, Clone, Default)]
pub struct Beep;

impl CaptureSource for Beep {
    fn kind(&self) -> Kind {
        Kind::Audio
    }
    fn describe(&self) -> String {
        "test tone (a beep a second)".into()
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        let bin = gst::parse::bin_from_description(
            "audiotestsrc is-live=true wave=silence samplesperbuffer=480 ! \
             audio/x-raw,format=S16LE,channels=1,rate=48000 ! identity name=beep",
            true,
        )
        .map_err(|e| MediaError::Pipeline(e.to_string()))?;
        let pad = bin
            .by_name("beep")
            .and_then(|e| e.static_pad("src"))
            .ok_or_else(|| MediaError::Pipeline("beep source".into()))?;
        pad.add_probe(gst::PadProbeType::BUFFER, |_, probe| {
            let Some(buffer) = probe.buffer_mut() else {
                return gst::PadProbeReturn::Ok;
            };
            let Some(pts) = buffer.pts() else {
                return gst::PadProbeReturn::Ok;
            };
            let frames = FRAMES.lock().ok().and_then(|f| *f);
            let buf = buffer.make_mut();
            let Ok(mut map) = buf.map_writable() else {
                return gst::PadProbeReturn::Ok;
            };
            for (i, sample) in map.chunks_exact_mut(2).enumerate() {
                let t = pts.nseconds() + i as u64 * 1_000_000_000 / RATE;
                let v = if pulsing(t, frames) {
                    let phase = 2.0 * std::f64::consts::PI * BEEP_HZ * t as f64 / 1e9;
                    (phase.sin() * BEEP_AMPLITUDE) as i16
                } else {
                    0
                };
                sample.copy_from_slice(&v.to_le_bytes());
            }
            gst::PadProbeReturn::Ok
        });
        Ok(bin.upcast())
    }
}

/// One peer's flashes shown and beeps played (clock ns), paired into offsets.
#[derive(Default)]
pub struct Meter {
    state: Mutex<MeterState>,
}

#[derive(Default)]
struct MeterState {
    flashes: VecDeque<u64>,
    beeps: VecDeque<u64>,
    /// Video shown minus audio played, µs (positive: the picture is late).
    offsets_us: Vec<i64>,
    bright: bool,
    quiet_since: Option<u64>,
}

/// How far apart a flash and a beep may be and still be one pair.
const PAIR: u64 = 500_000_000;

impl MeterState {
    fn pair(&mut self) {
        while let (Some(&f), Some(&b)) = (self.flashes.front(), self.beeps.front()) {
            if f.abs_diff(b) <= PAIR {
                self.offsets_us.push((f as i64 - b as i64) / 1000);
                self.flashes.pop_front();
                self.beeps.pop_front();
            } else if f < b {
                self.flashes.pop_front();
            } else {
                self.beeps.pop_front();
            }
        }
    }
}

impl Meter {
    /// A picture (RGBA) was shown at clock time `at`.
    pub fn shown(&self, rgba: &[u8], width: u32, height: u32, at: u64) {
        let (w, h) = (width as usize, height as usize);
        // The middle of the picture (the frame stamps of the latency benchmark are at the top).
        let i = (h / 2 * w + w / 2) * 4;
        let Some(px) = rgba.get(i..i + 3) else { return };
        let bright = px.iter().map(|&c| u32::from(c)).sum::<u32>() > 3 * 180;
        if let Ok(mut s) = self.state.lock() {
            if bright && !s.bright {
                s.flashes.push_back(at);
                s.pair();
            }
            s.bright = bright;
        }
    }

    /// Watch decoded audio (S16 or F32, any channels) at `pad`: the first loud sample after
    /// 300 ms of quiet is a beep, played at its running time plus the latency the sinks play
    /// with (`latency`).
    pub(crate) fn watch_audio(
        self: &std::sync::Arc<Self>,
        pad: &gst::Pad,
        pipeline: &gst::Pipeline,
        latency: impl Fn() -> Option<gst::ClockTime> + Send + Sync + 'static,
    ) {
        let meter = self.clone();
        let pipeline = pipeline.downgrade();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
            let (Some(buf), Some(caps)) = (probe.buffer(), pad.current_caps()) else {
                return gst::PadProbeReturn::Ok;
            };
            let Some(format) = caps.structure(0).and_then(AudioFormat::of) else {
                return gst::PadProbeReturn::Ok;
            };
            let Some(pts) = buf.pts() else {
                return gst::PadProbeReturn::Ok;
            };
            let Ok(map) = buf.map_readable() else {
                return gst::PadProbeReturn::Ok;
            };
            let loud = loud_frames(&map, &format);
            let Some(pipeline) = pipeline.upgrade() else {
                return gst::PadProbeReturn::Ok;
            };
            let segment = pad.sticky_event::<gst::event::Segment>(0);
            let running = segment
                .and_then(|s| s.segment().downcast_ref::<gst::ClockTime>().cloned())
                .and_then(|s| s.to_running_time(pts))
                .unwrap_or(pts);
            let (Some(base), Some(latency)) = (pipeline.base_time(), latency()) else {
                return gst::PadProbeReturn::Ok;
            };
            let rate = u64::from(format.rate.max(1));
            let Ok(mut s) = meter.state.lock() else {
                return gst::PadProbeReturn::Ok;
            };
            for (i, is_loud) in loud.iter().enumerate() {
                let t = base.nseconds()
                    + running.nseconds()
                    + latency.nseconds()
                    + i as u64 * 1_000_000_000 / rate;
                match (*is_loud, s.quiet_since) {
                    (true, Some(q)) if t.saturating_sub(q) >= 300_000_000 => {
                        s.beeps.push_back(t);
                        s.quiet_since = None;
                        s.pair();
                    }
                    (true, _) => s.quiet_since = None,
                    (false, None) => s.quiet_since = Some(t),
                    (false, Some(_)) => {}
                }
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// Offsets so far, µs (picture shown minus sound played).
    pub fn offsets_us(&self) -> Vec<i64> {
        self.state
            .lock()
            .map(|s| s.offsets_us.clone())
            .unwrap_or_default()
    }
}

/// Raw audio as this meter reads it.
struct AudioFormat {
    float: bool,
    channels: usize,
    rate: u32,
}

impl AudioFormat {
    fn of(s: &gst::StructureRef) -> Option<AudioFormat> {
        let float = match s.get::<&str>("format").ok()? {
            "S16LE" => false,
            "F32LE" => true,
            _ => return None,
        };
        if s.get::<&str>("layout").ok() == Some("non-interleaved") {
            return None;
        }
        Some(AudioFormat {
            float,
            channels: s.get::<i32>("channels").ok()?.max(1) as usize,
            rate: s.get::<i32>("rate").ok()?.max(1) as u32,
        })
    }
}

/// For each audio frame (a sample of every channel), whether it is loud (above a tenth of
/// full scale).
fn loud_frames(data: &[u8], format: &AudioFormat) -> Vec<bool> {
    let width = if format.float { 4 } else { 2 };
    data.chunks_exact(width * format.channels)
        .map(|frame| {
            frame.chunks_exact(width).any(|s| match s {
                [a, b] => i16::from_le_bytes([*a, *b]).unsigned_abs() > 3277,
                [a, b, c, d] => f32::from_le_bytes([*a, *b, *c, *d]).abs() > 0.1,
                _ => false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// The beep starts with the first frame at or after each second, wherever the frames fall.
    #[test]
    fn flash_and_beep_start_together() {
        // 30 fps frames starting 12 ms into the running time.
        let d = 33_333_333;
        let frames = Some((12 * MS + 5 * d, d));
        let start = flash_start(1, frames);
        assert!(start >= 1000 * MS && start < 1000 * MS + d, "{start}");
        assert_eq!((start - 12 * MS) % d, 0);
        assert!(pulsing(start, frames));
        assert!(!pulsing(start - 1, frames));
        assert!(pulsing(start + 99 * MS, frames));
        assert!(!pulsing(start + 101 * MS, frames));
        // Without frames, on the second itself.
        assert_eq!(flash_start(3, None), 3000 * MS);
    }

    /// Flashes and beeps are paired within half a second; strays are dropped.
    #[test]
    fn offsets_pair_flashes_with_beeps() {
        let mut s = MeterState::default();
        s.beeps.extend([1000 * MS, 3000 * MS]);
        s.flashes.extend([1030 * MS, 2000 * MS, 2990 * MS]);
        s.pair();
        assert_eq!(s.offsets_us, [30_000, -10_000]);
    }
}
