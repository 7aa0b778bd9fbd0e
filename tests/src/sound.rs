//! Measuring recorded sound: 16-bit mono WAV files, energy over windows, and finding one
//! signal inside another (where the near end's voice lies in what the far end heard).

use std::path::Path;

/// Samples per second of everything measured here.
pub const RATE: usize = 48_000;
/// Samples in one 10 ms frame.
const FRAME: usize = RATE / 100;

/// Read a 16-bit mono WAV file at [`RATE`].
pub fn read_wav(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (
            spec.channels,
            spec.sample_rate as usize,
            spec.bits_per_sample
        ),
        (1, RATE, 16),
        "{}: want 48 kHz 16-bit mono",
        path.display()
    );
    r.samples::<i16>()
        .map(|s| f32::from(s.unwrap_or(0)) / 32768.0)
        .collect()
}

/// Write 16-bit mono WAV at [`RATE`].
pub fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create a WAV file");
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .expect("write a sample");
    }
    w.finalize().expect("finish the WAV file");
}

/// Mean energy of each 10 ms frame.
pub fn frame_energy(x: &[f32]) -> Vec<f64> {
    x.chunks(FRAME)
        .map(|c| c.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / c.len() as f64)
        .collect()
}

/// The power of one frequency in `x` (Goertzel), per sample: a pure tone of amplitude `a` at
/// `freq` gives about `a² / 4`.
pub fn tone_power(x: &[f32], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / RATE as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for v in x {
        let s0 = f64::from(*v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let n = x.len().max(1) as f64;
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)
}

/// Decibels of an energy ratio.
pub fn db(ratio: f64) -> f64 {
    10.0 * ratio.max(1e-12).log10()
}

/// Where `needle` best matches inside `hay` (sample offset, may be negative if `hay` starts
/// inside it), and the normalised correlation there. First the loudness envelopes of 10 ms
/// frames find the place to within a frame, then the waveforms within ±20 ms.
pub fn locate(hay: &[f32], needle: &[f32]) -> (i64, f64) {
    let env = |x: &[f32]| -> Vec<f64> { frame_energy(x).iter().map(|e| e.sqrt()).collect() };
    let (h, n) = (env(hay), env(needle));
    let mut best = (0i64, f64::MIN);
    for lag in -(n.len() as i64) / 2..h.len() as i64 - (n.len() as i64) / 2 {
        let c = correlation(&h, &n, lag);
        if c > best.1 {
            best = (lag, c);
        }
    }
    let coarse = best.0 * FRAME as i64;
    // The waveforms, over the loudest few seconds of the needle.
    let span = (3 * RATE).min(needle.len());
    let loudest = (0..needle.len().saturating_sub(span).max(1))
        .step_by(FRAME)
        .max_by(|a, b| {
            let e = |i: usize| needle[i..i + span].iter().map(|s| s * s).sum::<f32>();
            e(*a).total_cmp(&e(*b))
        })
        .unwrap_or(0);
    let part = &needle[loudest..loudest + span];
    let mut fine = (coarse, f64::MIN);
    let reach = (RATE / 50) as i64;
    for lag in coarse - reach..=coarse + reach {
        let c = correlation(hay, part, lag + loudest as i64);
        if c > fine.1 {
            fine = (lag, c);
        }
    }
    fine
}

/// Normalised correlation of `b` against `a` starting at `a[lag]` (the overlap only).
fn correlation<T: Copy + Into<f64>>(a: &[T], b: &[T], lag: i64) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (i, y) in b.iter().enumerate() {
        let j = lag + i as i64;
        if j < 0 || j >= a.len() as i64 {
            continue;
        }
        let (x, y): (f64, f64) = (a[j as usize].into(), (*y).into());
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (aa * bb).sqrt()
}

/// The correlation of the loudness envelopes (10 ms frames) of `b` and of `a` from sample
/// `lag`: whether the syllables of `b` come through, even when its waveform is reshaped (noise
/// suppression, echo suppression and gain control all reshape it).
pub fn envelope_similarity(a: &[f32], b: &[f32], lag: i64) -> f64 {
    let start = lag.clamp(0, a.len() as i64) as usize;
    let end = (start + b.len()).min(a.len());
    let env = |x: &[f32]| -> Vec<f64> { frame_energy(x).iter().map(|e| e.sqrt()).collect() };
    let (ea, eb) = (env(&a[start..end]), env(b));
    // Pearson correlation over the common frames: the normalised correlation of the
    // envelopes less their means.
    let n = ea.len().min(eb.len());
    if n < 2 {
        return 0.0;
    }
    let centred = |v: &[f64]| -> Vec<f64> {
        let mean = v[..n].iter().sum::<f64>() / n as f64;
        v[..n].iter().map(|x| x - mean).collect()
    };
    correlation(&centred(&ea), &centred(&eb), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice_like(n: usize, seed: u32) -> Vec<f32> {
        // Noise in bursts of random loudness, 100 ms each (syllables, roughly): something to
        // find, and nothing periodic to be found at the wrong place.
        let mut x = seed;
        let mut next = move || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 8) as f32 / (1u32 << 24) as f32
        };
        let mut env = 0.0;
        (0..n)
            .map(|i| {
                if i % 4800 == 0 {
                    env = next();
                }
                (next() - 0.5) * env
            })
            .collect()
    }

    /// A tone's power is found at its frequency and not at another.
    #[test]
    fn tone_power_finds_the_tone() {
        let x: Vec<f32> = (0..RATE / 4)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / RATE as f32).sin())
            .collect();
        let at = tone_power(&x, 440.0);
        assert!((at - 0.0625).abs() < 0.002, "{at}");
        assert!(tone_power(&x, 1000.0) < at / 1000.0);
    }

    /// A signal hidden at a known place, under another, is found to the sample.
    #[test]
    fn locates_a_signal_inside_another() {
        let needle = voice_like(RATE * 2, 7);
        let mut hay = voice_like(RATE * 6, 99)
            .into_iter()
            .map(|s| s * 0.3)
            .collect::<Vec<_>>();
        let at = RATE * 3 + 123;
        for (i, s) in needle.iter().enumerate() {
            hay[at + i] += s;
        }
        let (lag, c) = locate(&hay, &needle);
        assert_eq!(lag, at as i64);
        assert!(c > 0.8, "{c}");
        assert!(db(4.0) > 6.0 && db(4.0) < 6.1);
        assert!(envelope_similarity(&hay, &needle, lag) > 0.9);
        assert!(envelope_similarity(&hay, &needle, lag + RATE as i64) < 0.5);
    }
}
