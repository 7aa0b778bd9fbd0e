//! Sound levels: how loud each person is right now (the microphone meter before joining, and
//! who is speaking in a call), measured on decoded audio as it passes, and the choice of the
//! active speaker from them.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::tap::Source;

/// Silence, in dBFS (the floor every level is clamped to).
pub const FLOOR_DB: f32 = -90.0;

/// A person counts as speaking above this level (dBFS). Room noise through a laptop microphone
/// sits around −60 to −50; speech at a normal distance peaks well above −35.
pub const SPEAKING_DB: f32 = -45.0;

/// The root-mean-square level of 16-bit little-endian samples, in dBFS.
pub fn rms_db_s16le(bytes: &[u8]) -> f32 {
    let samples = bytes.chunks_exact(2);
    let n = samples.len();
    if n == 0 {
        return FLOOR_DB;
    }
    let sum: f64 = samples
        .map(|s| {
            let v = f64::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0;
            v * v
        })
        .sum();
    to_db(sum / n as f64)
}

/// The root-mean-square level of 32-bit float little-endian samples, in dBFS.
pub fn rms_db_f32le(bytes: &[u8]) -> f32 {
    let samples = bytes.chunks_exact(4);
    let n = samples.len();
    if n == 0 {
        return FLOOR_DB;
    }
    let sum: f64 = samples
        .map(|s| {
            let v = f64::from(f32::from_le_bytes([s[0], s[1], s[2], s[3]]));
            if v.is_finite() { v * v } else { 0.0 }
        })
        .sum();
    to_db(sum / n as f64)
}

fn to_db(mean_square: f64) -> f32 {
    if mean_square <= 0.0 {
        return FLOOR_DB;
    }
    ((10.0 * mean_square.log10()) as f32).clamp(FLOOR_DB, 0.0)
}

/// A level as the meter shows it: 0 at −60 dBFS and below, 1 at 0 dBFS.
pub fn meter(db: f32) -> f32 {
    ((db + 60.0) / 60.0).clamp(0.0, 1.0)
}

/// The latest level of each source, smoothed like a VU meter: it rises at once and falls
/// over a few hundred milliseconds, so a pause between two words does not read as silence.
#[derive(Clone, Default)]
pub struct Levels(Arc<(Mutex<Latest>, Condvar)>);

/// Each source's level and when it was measured.
type Latest = BTreeMap<Source, (f32, Instant)>;

/// A level older than this counts as silence.
const STALE: Duration = Duration::from_millis(500);

/// How fast a level falls, dB per second.
const FALL_DB_PER_S: f32 = 30.0;

impl Levels {
    /// A new measurement of `source`.
    pub fn put(&self, source: Source, db: f32) {
        self.put_at(source, db, Instant::now());
    }

    fn put_at(&self, source: Source, db: f32, now: Instant) {
        let (lock, changed) = &*self.0;
        if let Ok(mut m) = lock.lock() {
            let level = match m.get(&source) {
                Some(&(old, at)) => {
                    let fallen = old - FALL_DB_PER_S * now.duration_since(at).as_secs_f32();
                    db.max(fallen)
                }
                None => db,
            };
            m.insert(source, (level.clamp(FLOOR_DB, 0.0), now));
        }
        changed.notify_all();
    }

    /// Wait up to `timeout` for a level of `source` that `wanted` accepts; that level.
    pub fn wait_until(
        &self,
        source: Source,
        wanted: impl Fn(f32) -> bool,
        timeout: Duration,
    ) -> Option<f32> {
        let (lock, changed) = &*self.0;
        let fresh = |m: &Latest| {
            m.get(&source)
                .filter(|(db, at)| at.elapsed() < STALE && wanted(*db))
                .map(|(db, _)| *db)
        };
        let guard = lock.lock().ok()?;
        let (guard, _) = changed
            .wait_timeout_while(guard, timeout, |m| fresh(m).is_none())
            .ok()?;
        fresh(&guard)
    }

    /// The level of `source` now (dBFS); silence if nothing was measured for half a second.
    pub fn get(&self, source: Source) -> f32 {
        self.snapshot()
            .into_iter()
            .find(|(s, _)| *s == source)
            .map_or(FLOOR_DB, |(_, db)| db)
    }

    /// Every source's level now (dBFS); sources silent for half a second are left out.
    pub fn snapshot(&self) -> Vec<(Source, f32)> {
        let now = Instant::now();
        self.0
            .0
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, (_, at))| now.duration_since(*at) < STALE)
                    .map(|(s, (db, _))| (*s, *db))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn remove(&self, source: Source) {
        if let Ok(mut m) = self.0.0.lock() {
            m.remove(&source);
        }
    }

    /// Measure the raw audio passing `pad` (16-bit or float samples) as `source`.
    pub fn install(&self, pad: &gst::Pad, source: Source) {
        let levels = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buf) = info.buffer() else {
                return gst::PadProbeReturn::Ok;
            };
            let float = pad
                .current_caps()
                .and_then(|c| {
                    c.structure(0)
                        .and_then(|s| s.get::<&str>("format").ok())
                        .map(|f| f == "F32LE")
                })
                .unwrap_or(false);
            if let Ok(map) = buf.map_readable() {
                let db = if float {
                    rms_db_f32le(&map)
                } else {
                    rms_db_s16le(&map)
                };
                levels.put(source, db);
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// Who is speaking, from the levels: the loudest person above [`SPEAKING_DB`]. Whoever has the
/// floor keeps it while they go on speaking, so two people talking at once do not make the
/// highlight flicker between them; it moves when they stop or someone else has been clearly
/// louder for a moment.
#[derive(Debug, Default, Clone)]
pub struct ActiveSpeaker {
    current: Option<Source>,
    /// A louder challenger and since when it has been louder.
    challenger: Option<(Source, Instant)>,
}

/// How long someone must be clearly louder (by 6 dB) to take the floor from a speaker.
const TAKE_OVER: Duration = Duration::from_millis(700);

impl ActiveSpeaker {
    pub fn current(&self) -> Option<Source> {
        self.current
    }

    /// Update from the levels now; returns who is speaking.
    pub fn update(&mut self, levels: &[(Source, f32)], now: Instant) -> Option<Source> {
        let speaking = |s: Source| {
            levels
                .iter()
                .find(|(x, _)| *x == s)
                .map(|(_, db)| *db)
                .filter(|db| *db >= SPEAKING_DB)
        };
        let loudest = levels
            .iter()
            .filter(|(_, db)| *db >= SPEAKING_DB)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .copied();
        match (
            self.current.and_then(|c| speaking(c).map(|db| (c, db))),
            loudest,
        ) {
            // Nobody speaks.
            (_, None) => {
                self.current = None;
                self.challenger = None;
            }
            // The floor is free: the loudest takes it.
            (None, Some((s, _))) => {
                self.current = Some(s);
                self.challenger = None;
            }
            // The speaker goes on; someone else is clearly louder: after a moment, they take it.
            (Some((cur, cur_db)), Some((s, db))) if s != cur && db >= cur_db + 6.0 => {
                match self.challenger {
                    Some((c, since)) if c == s => {
                        if now.duration_since(since) >= TAKE_OVER {
                            self.current = Some(s);
                            self.challenger = None;
                        }
                    }
                    _ => self.challenger = Some((s, now)),
                }
            }
            (Some(_), Some(_)) => self.challenger = None,
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::signal::PeerId;

    fn s16(samples: impl IntoIterator<Item = i16>) -> Vec<u8> {
        samples.into_iter().flat_map(i16::to_le_bytes).collect()
    }

    #[test]
    fn levels_of_known_signals() {
        // Silence, full scale, and a full-scale sine (−3 dBFS RMS).
        assert_eq!(rms_db_s16le(&s16([0; 480])), FLOOR_DB);
        assert!((rms_db_s16le(&s16([i16::MIN; 480])) - 0.0).abs() < 0.01);
        let sine: Vec<i16> = (0..4800)
            .map(|i| (32767.0 * (i as f64 * 2.0 * std::f64::consts::PI / 48.0).sin()) as i16)
            .collect();
        let db = rms_db_s16le(&s16(sine.iter().copied()));
        assert!((db + 3.01).abs() < 0.05, "{db}");
        // The same sine at a tenth of the amplitude: 20 dB lower.
        let quiet: Vec<f32> = sine.iter().map(|v| f32::from(*v) / 327680.0).collect();
        let bytes: Vec<u8> = quiet.iter().flat_map(|v| v.to_le_bytes()).collect();
        let db = rms_db_f32le(&bytes);
        assert!((db + 23.01).abs() < 0.05, "{db}");
        // Empty or odd-sized input and non-finite samples do not panic or poison the level.
        assert_eq!(rms_db_s16le(&[]), FLOOR_DB);
        assert_eq!(rms_db_s16le(&[1]), FLOOR_DB);
        assert_eq!(rms_db_f32le(&f32::NAN.to_le_bytes()), FLOOR_DB);
        assert_eq!(meter(-90.0), 0.0);
        assert_eq!(meter(0.0), 1.0);
        assert!((meter(-30.0) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn levels_rise_at_once_and_fall_slowly() {
        let levels = Levels::default();
        let t0 = Instant::now();
        levels.put_at(Source::Local, -10.0, t0);
        // 100 ms of silence later the level has fallen 3 dB, not to the floor.
        levels.put_at(Source::Local, FLOOR_DB, t0 + Duration::from_millis(100));
        let db = levels.0.0.lock().unwrap()[&Source::Local].0;
        assert!((db + 13.0).abs() < 0.01, "{db}");
        // A loud sound is taken at once.
        levels.put_at(Source::Local, -5.0, t0 + Duration::from_millis(110));
        assert_eq!(levels.0.0.lock().unwrap()[&Source::Local].0, -5.0);
    }

    #[test]
    fn the_floor_goes_to_the_speaker_and_stays_with_them() {
        let a = Source::Peer(PeerId(1));
        let b = Source::Peer(PeerId(2));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut s = ActiveSpeaker::default();
        // Room noise: nobody.
        assert_eq!(s.update(&[(a, -60.0), (b, -70.0)], at(0)), None);
        // A speaks.
        assert_eq!(s.update(&[(a, -20.0), (b, -70.0)], at(100)), Some(a));
        // B says something a little louder: A keeps the floor.
        assert_eq!(s.update(&[(a, -20.0), (b, -18.0)], at(200)), Some(a));
        // B is clearly louder, but only for a moment: still A.
        assert_eq!(s.update(&[(a, -30.0), (b, -10.0)], at(300)), Some(a));
        assert_eq!(s.update(&[(a, -30.0), (b, -30.0)], at(400)), Some(a));
        // B is clearly louder for long enough: B.
        assert_eq!(s.update(&[(a, -30.0), (b, -10.0)], at(500)), Some(a));
        assert_eq!(s.update(&[(a, -30.0), (b, -10.0)], at(900)), Some(a));
        assert_eq!(s.update(&[(a, -30.0), (b, -10.0)], at(1300)), Some(b));
        // B stops, A still speaks: A.
        assert_eq!(s.update(&[(a, -30.0), (b, -80.0)], at(1400)), Some(a));
        // Silence: nobody.
        assert_eq!(s.update(&[], at(1500)), None);
        assert_eq!(s.current(), None);
    }
}
