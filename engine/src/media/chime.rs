//! Short sounds for what happens in a call while you may be looking elsewhere: someone came
//! in, someone left, and above all someone asks to record (a request nobody should miss).
//! Made here as a few soft sine notes (no sound files to ship), played on the call's speaker.

use std::time::Duration;

use gst::prelude::*;

use super::{MediaError, Result, init, source::make};

/// Which sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chime {
    /// Someone joined the call: two notes going up.
    Joined,
    /// Someone left: two notes going down.
    Left,
    /// Someone asks to record: three notes, repeated once.
    Asked,
}

const RATE: u32 = 48_000;

impl Chime {
    /// The notes: frequency (Hz) and length (ms).
    fn notes(self) -> &'static [(f32, u32)] {
        match self {
            Chime::Joined => &[(660.0, 120), (880.0, 180)],
            Chime::Left => &[(880.0, 120), (660.0, 180)],
            Chime::Asked => &[
                (784.0, 110),
                (988.0, 110),
                (1175.0, 200),
                (0.0, 120),
                (784.0, 110),
                (988.0, 110),
                (1175.0, 200),
            ],
        }
    }

    /// The sound as 48 kHz mono 16-bit samples. Each note rises over 5 ms and fades out
    /// exponentially to silence at its end, so nothing clicks; the loudest sample is a quarter
    /// of full scale.
    pub fn samples(self) -> Vec<i16> {
        let mut out = Vec::new();
        for &(freq, ms) in self.notes() {
            let n = (RATE * ms / 1000) as usize;
            let attack = (RATE / 200) as usize; // 5 ms
            for i in 0..n {
                if freq == 0.0 {
                    out.push(0);
                    continue;
                }
                let t = i as f32 / RATE as f32;
                let rise = (i as f32 / attack as f32).min(1.0);
                // From 1 to 0 over the note, falling fast at first.
                let left = 1.0 - i as f32 / n as f32;
                let fall = left * (-3.0 * (1.0 - left)).exp();
                let v = (2.0 * std::f32::consts::PI * freq * t).sin() * rise * fall * 0.25;
                out.push((v * i16::MAX as f32) as i16);
            }
        }
        out
    }

    /// How long it plays.
    pub fn duration(self) -> Duration {
        Duration::from_millis(self.notes().iter().map(|(_, ms)| u64::from(*ms)).sum())
    }
}

/// Play `chime` on `speaker` (a sound server device; `None`: the system default) and wait
/// until it has played.
pub fn play(chime: Chime, speaker: Option<&str>) -> Result<()> {
    init()?;
    run(chime, super::receive::audio_out(speaker)?)
}

/// Play `chime` into `sink` until the end.
fn run(chime: Chime, sink: gst::Element) -> Result<()> {
    let bytes: Vec<u8> = chime
        .samples()
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    // The chime's rate is the calls' (48 kHz).
    let caps = super::voice::mono_caps("S16LE");
    let src = gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        .build();
    let pipeline = gst::Pipeline::with_name("assent-chime");
    let chain = [
        src.upcast_ref::<gst::Element>(),
        &make("audioconvert")?,
        &make("audioresample")?,
        &sink,
    ];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    let mut buffer = gst::Buffer::from_mut_slice(bytes);
    if let Some(b) = buffer.get_mut() {
        b.set_pts(gst::ClockTime::ZERO);
        b.set_duration(gst::ClockTime::from_nseconds(
            chime.duration().as_nanos() as u64
        ));
    }
    src.push_buffer(buffer)
        .map_err(|e| MediaError::Pipeline(format!("chime: {e:?}")))?;
    src.end_of_stream()
        .map_err(|e| MediaError::Pipeline(format!("chime: {e:?}")))?;
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| MediaError::Pipeline("chime: no bus".into()))?;
    // The sound's length and a margin for a slow sound server.
    let limit = gst::ClockTime::from_nseconds(
        (chime.duration() + Duration::from_secs(3)).as_nanos() as u64,
    );
    let msg = bus.timed_pop_filtered(limit, &[gst::MessageType::Eos, gst::MessageType::Error]);
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(MediaError::Pipeline(format!(
            "chime: {}",
            e.error().message()
        ))),
        _ => Err(MediaError::Pipeline("chime: did not finish playing".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chimes_are_soft_and_do_not_click() {
        for chime in [Chime::Joined, Chime::Left, Chime::Asked] {
            let s = chime.samples();
            assert_eq!(
                s.len() as u64,
                chime.duration().as_millis() as u64 * u64::from(RATE) / 1000
            );
            let peak = s.iter().map(|v| v.unsigned_abs()).max().unwrap();
            assert!(
                peak > 4000 && peak <= i16::MAX as u16 / 4 + 1,
                "{chime:?}: {peak}"
            );
            // Starts and ends at (near) silence: no click.
            assert!(s[0].unsigned_abs() < 100 && s.last().unwrap().unsigned_abs() < 100);
        }
        // Joining goes up, leaving goes down.
        assert!(Chime::Joined.notes()[0].0 < Chime::Joined.notes()[1].0);
        assert!(Chime::Left.notes()[0].0 > Chime::Left.notes()[1].0);
    }

    /// Played in real time to the end (into a sink that keeps time, as a sound card does).
    #[test]
    fn a_chime_plays_to_the_end() {
        init().unwrap();
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", true)
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        run(Chime::Joined, sink).unwrap();
        assert!(started.elapsed() >= Chime::Joined.duration() - Duration::from_millis(50));
    }
}
