//! What microphones and speakers through cpal share: a thread per device that owns the cpal
//! stream and follows the chosen device. A chosen device that goes away during a call
//! (unplugged, its module unloaded) is replaced by the default one, and taken back when it
//! returns; a stream that breaks (the sound server restarted) is opened again. Each change is
//! posted on the pipeline's bus as a [`DEVICE_MESSAGE`], which the call turns into a
//! [`CallEvent::Device`](crate::call::CallEvent::Device) for the user. The thread ends when
//! its element (the `appsrc` or `appsink`) is gone.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use gst::prelude::*;

use super::MediaError;

/// How often the thread looks for the chosen device.
pub(super) const WATCH: Duration = Duration::from_millis(500);

/// The name of the bus message telling that a device went away or came back. Its fields:
/// `kind` ("microphone", "speaker"), `state` ("lost" or "back"), `device` (the chosen device's
/// id) and `using` (what is used now).
pub(crate) const DEVICE_MESSAGE: &str = "assent-device";

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
    device_message_using(kind, state, device, using, from)
}

/// The bus message for a device change, saying what is `using` now: the device itself when it
/// is back, "default" (another device stands in) or "black" (a camera with none to stand in:
/// the others see a black picture).
pub(crate) fn device_message_using(
    kind: &str,
    state: &str,
    device: &str,
    using: &str,
    from: &impl IsA<gst::Object>,
) -> gst::Message {
    let s = gst::Structure::builder(DEVICE_MESSAGE)
        .field("kind", kind)
        .field("state", state)
        .field("device", device)
        .field("using", using)
        .build();
    gst::message::Element::builder(s).src(from).build()
}

/// What is asked of a device first: the encoder's rate, one channel (the sound server
/// converts), in 20 ms blocks (a speaker's server holds two, so its latency is 40 ms). A
/// device that cannot (ALSA hardware) is opened in its own format.
pub(super) fn mono() -> cpal::StreamConfig {
    cpal::StreamConfig {
        channels: 1,
        sample_rate: super::mic::RATE,
        buffer_size: cpal::BufferSize::Fixed(super::mic::BLOCK),
    }
}

/// One side of the device layer: how its streams open, and the element they feed or drain.
pub(super) trait Endpoint: Send + 'static {
    /// "microphone" or "speaker", as the device messages say.
    const KIND: &'static str;
    /// What is said when the system has no such device at all.
    const NONE: &'static str;
    /// The host's device with this id, if it has one now.
    fn find(host: &cpal::Host, id: &str) -> Option<cpal::Device>;
    /// The host's default device.
    fn default_device(host: &cpal::Host) -> Option<cpal::Device>;
    /// A stream on `device` (not started), whose callbacks beat `health` and whose error
    /// callback is [`on_error`].
    fn build(&self, device: &cpal::Device, health: &Arc<Health>) -> Result<cpal::Stream, String>;
    /// The element, while it lives.
    fn element(&self) -> Option<gst::Element>;
    /// Whether the element is fed silence while no device gives any sound (a microphone: the
    /// call goes on and the others hear nothing until one does) instead of failing at the
    /// start, or keeping a broken stream.
    const FILLS: bool = false;
    /// Feed the element `frames` of silence (mono, at the microphone's rate) that end now,
    /// placed by `stamper`; `first` after a device was given up (the element takes its format
    /// again).
    fn silence(&self, _stamper: &mut Stamper, _frames: u64, _first: bool) {}
}

/// How a stream is doing: broken (its error callback said so), how many times its data
/// callback ran, and whether it was given up on (it did not start in time).
#[derive(Default)]
pub(super) struct Health {
    failed: AtomicBool,
    beats: AtomicU64,
    /// How its start went: [`WAITING`], [`STARTED`], [`ABANDONED`] or [`CLOSED`].
    start: AtomicU8,
}

impl Health {
    /// The data callback ran; whether its data is wanted (a stream given up on may still call
    /// back before it closes, and must neither feed nor drain the element).
    pub(super) fn beat(&self) -> bool {
        self.beats.fetch_add(1, Ordering::Relaxed);
        self.start.load(Ordering::Relaxed) < ABANDONED
    }
}

/// How long a stream may take to start. cpal's PulseAudio host returns from a microphone's
/// `play()` only when its first sound arrives, which a suspended source never sends: without
/// a limit the call waited for its microphone for ever, and the others heard nothing.
/// Opening a stream (cpal's own limit) is bounded the same way.
pub(super) const START_WAIT: Duration = Duration::from_secs(2);

/// A start given up on: its thread still waits in `play()` on a device, which is not tried
/// again until it returns (and closes the stream it was given) or the stream breaks. Kept
/// for the whole process, so that calls one after another do not each leave a thread
/// waiting on the same silent device.
struct Stalled {
    kind: &'static str,
    device: String,
    health: Arc<Health>,
}

static STALLED: Mutex<Vec<Stalled>> = Mutex::new(Vec::new());

/// The starts still waiting (those whose `play()` returned, or whose stream broke, are let go).
fn stalled() -> std::sync::MutexGuard<'static, Vec<Stalled>> {
    let mut stalled = STALLED.lock().unwrap_or_else(|e| e.into_inner());
    stalled.retain(|s| {
        s.health.start.load(Ordering::Acquire) == ABANDONED
            && !s.health.failed.load(Ordering::Relaxed)
    });
    stalled
}

/// Whether a start on `device` (a `kind` of device) was given up on and still waits.
fn stalled_on(kind: &str, device: &str) -> bool {
    stalled()
        .iter()
        .any(|s| s.kind == kind && s.device == device)
}

/// How a start ends: the thread calling `play()` claims the stream for the follower
/// (`STARTED`), or the follower gives up first (`ABANDONED`, then `CLOSED` once `play()` has
/// returned and the stream is closed); whoever comes second knows.
const WAITING: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;
const CLOSED: u8 = 3;

/// Hands a stop to the thread when dropped: kept by the element's callbacks, which go with the
/// element, so the thread ends (and the device closes) when the element is finalized.
pub(super) struct StopOnDrop(mpsc::Sender<()>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// Start following `wanted` (a device id; `None` for the system's default) for `end`, on a
/// thread of its own. `guard` must go with the element. Fails when no device at all opens; a
/// chosen device missing at the start gives the default and a message, as if it had just gone
/// away.
pub(super) fn spawn<E: Endpoint>(end: E, wanted: Option<String>) -> Result<StopOnDrop, MediaError> {
    let (stop_tx, stop) = mpsc::channel::<()>();
    let (ready_tx, ready) = mpsc::channel();
    let follower = Follower { end, wanted, stop };
    std::thread::Builder::new()
        .name(E::KIND.into())
        .spawn(move || follower.run(ready_tx))
        .map_err(|e| MediaError::Source(format!("cannot start the {}: {e}", E::KIND)))?;
    match ready.recv() {
        Ok(Ok(())) => Ok(StopOnDrop(stop_tx)),
        Ok(Err(why)) => Err(MediaError::Source(why)),
        Err(_) => Err(MediaError::Source(format!("the {} did not start", E::KIND))),
    }
}

struct Follower<E> {
    end: E,
    wanted: Option<String>,
    stop: mpsc::Receiver<()>,
}

/// A running stream.
struct Open {
    _stream: cpal::Stream,
    /// Whether it is the chosen device (not the default standing in for it).
    chosen: bool,
    health: Arc<Health>,
    /// The beats at the last look, and how many looks in a row saw no new one.
    beats: u64,
    still: u32,
}

/// How many looks in a row (half a second apart) may find a stream's callback silent before it
/// counts as broken. A stream that stops calling back without an error was seen with cpal's
/// PulseAudio host: the first speaker stream of most clients in `cargo xtask bench-echo
/// --cpal-speakers` called back once and never again; opened again, it plays.
const STILL_LOOKS: u32 = 2;

impl Open {
    /// Whether the stream broke or stopped calling back.
    fn broken(&mut self) -> bool {
        let beats = self.health.beats.load(Ordering::Relaxed);
        if beats == self.beats {
            self.still += 1;
        } else {
            (self.beats, self.still) = (beats, 0);
        }
        self.health.failed.load(Ordering::Relaxed) || self.still >= STILL_LOOKS
    }
}

impl<E: Endpoint> Follower<E> {
    fn run(self, ready: mpsc::Sender<Result<(), String>>) {
        let mut host = cpal::default_host();
        // The last failure to open, told once.
        let mut last_error: Option<String> = None;
        // A change not yet told: the element has no bus until it is in the pipeline.
        let mut pending: Option<Change> = None;
        let first = match &self.wanted {
            Some(id) => self.open(&host, Some(id)).or_else(|_| {
                let open = self.open(&host, None)?;
                pending = Some(Change::new("lost", id, "default"));
                Ok(open)
            }),
            None => self.open(&host, None),
        };
        let mut current = match first {
            Ok(open) => Some(open),
            // No device gives sound: the call starts without, and takes the first that does.
            Err(why) if E::FILLS => {
                tracing::warn!("{}: {why}", E::KIND);
                last_error = Some(why);
                pending = Some(self.silent());
                None
            }
            Err(why) => {
                let _ = ready.send(Err(why));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        // Silence while no device is open.
        let mut fill = current.is_none().then(Fill::new);
        let mut look = Instant::now() + WATCH;
        loop {
            let until = fill.as_ref().map_or(look, |f| f.due().min(look));
            let wait = until.saturating_duration_since(Instant::now());
            match self.stop.recv_timeout(wait) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            if self.end.element().is_none() {
                return;
            }
            if let Some(fill) = &mut fill {
                fill.feed(&self.end);
            }
            if Instant::now() < look {
                continue;
            }
            look = Instant::now() + WATCH;
            if let Some(change) = &pending
                && self.tell(change)
            {
                pending = None;
            }
            let failed = current.as_mut().is_none_or(Open::broken);
            // While a start waits on a silent device, no new connections: each look would
            // make one.
            let waiting = !stalled().is_empty();
            if failed && !waiting {
                // The sound server may have restarted: a new connection.
                host = cpal::default_host();
            }
            let wanted = self.wanted.as_deref();
            // A device still not started counts as not there.
            let present = wanted.map(|id| E::find(&host, id).is_some() && !stalled_on(E::KIND, id));
            let chosen = current.as_ref().is_some_and(|o| o.chosen);
            let (target, said) = match (current.is_some(), chosen, present, failed) {
                // Silent: the chosen device if it is there, else the default.
                (false, _, Some(true), _) => (wanted, "back"),
                (false, _, Some(false), _) => (None, "lost"),
                (false, _, None, _) => (None, "back"),
                // The chosen device went away: the default stands in.
                (true, true, Some(false), _) => (None, "lost"),
                // It broke but is listed: open it again.
                (true, true, _, true) => (wanted, ""),
                // It is back.
                (true, false, Some(true), _) => (wanted, "back"),
                // The default broke: open whatever the default is now.
                (true, false, _, true) => (None, ""),
                _ => continue,
            };
            // A new connection for the new stream (unless it was just made): PulseAudio's
            // client connection answers "invalid argument" to new streams once one of its
            // streams was moved away from a sink that went.
            if !failed && !waiting {
                host = cpal::default_host();
            }
            let opened = match self.open(&host, target) {
                Err(_) if target.is_some() && (chosen || current.is_none()) => {
                    self.open(&host, None).map(|o| (o, "lost"))
                }
                other => other.map(|o| (o, said)),
            };
            let change = match opened {
                Ok((open, said)) => {
                    last_error = None;
                    fill = None;
                    // The old stream closes as it is replaced.
                    current = Some(open);
                    let device = wanted.unwrap_or_default();
                    match said {
                        "back" => Some(Change::new("back", device, device)),
                        "lost" => Some(Change::new("lost", device, "default")),
                        _ => None,
                    }
                }
                Err(why) => {
                    // Said once, not at every look while it lasts.
                    if last_error.as_ref() != Some(&why) {
                        tracing::warn!("{}: {why}", E::KIND);
                        last_error = Some(why);
                    }
                    // A broken stream that nothing replaces: silence, where the element
                    // takes it.
                    if E::FILLS && current.is_some() && failed {
                        current = None;
                        fill = Some(Fill::new());
                        Some(self.silent())
                    } else {
                        None
                    }
                }
            };
            if let Some(change) = change
                && !self.tell(&change)
            {
                pending = Some(change);
            }
        }
    }

    /// The change told when no device gives sound.
    fn silent(&self) -> Change {
        Change::new("lost", self.wanted.as_deref().unwrap_or_default(), SILENCE)
    }

    /// Open `id` (or the default) and start it.
    fn open(&self, host: &cpal::Host, id: Option<&str>) -> Result<Open, String> {
        let device = match id {
            Some(id) => E::find(host, id).ok_or_else(|| format!("no {} {id}", E::KIND))?,
            None => E::default_device(host).ok_or_else(|| E::NONE.to_string())?,
        };
        let name = device.id().map(|d| d.id().to_string()).unwrap_or_default();
        let silent = || format!("the {} gives no sound (is it suspended?)", E::KIND);
        if stalled_on(E::KIND, &name) {
            return Err(silent());
        }
        let health = Arc::new(Health::default());
        let stream = self.end.build(&device, &health)?;
        // `play()` on a thread of its own, waited for at most START_WAIT.
        let (tx, started) = mpsc::sync_channel(1);
        let claim = health.clone();
        std::thread::Builder::new()
            .name(format!("{} start", E::KIND))
            .spawn(move || {
                let result = stream.play();
                if claim
                    .start
                    .compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    let _ = tx.send((stream, result));
                } else {
                    // Given up on, the stream closes here.
                    drop(stream);
                    claim.start.store(CLOSED, Ordering::Release);
                }
            })
            .map_err(|e| format!("cannot start the {}: {e}", E::KIND))?;
        let result = match started.recv_timeout(START_WAIT) {
            Ok(result) => result,
            Err(_) => {
                let given_up = health
                    .start
                    .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if given_up {
                    STALLED
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Stalled {
                            kind: E::KIND,
                            device: name,
                            health: health.clone(),
                        });
                    return Err(silent());
                }
                // It started as the wait ran out: the stream is on its way.
                started
                    .recv()
                    .map_err(|_| format!("the {} did not start", E::KIND))?
            }
        };
        let stream = match result {
            (stream, Ok(())) => stream,
            (_, Err(e)) => return Err(format!("the {} does not start: {e}", E::KIND)),
        };
        Ok(Open {
            _stream: stream,
            chosen: id.is_some() && id == self.wanted.as_deref(),
            health,
            beats: 0,
            still: 0,
        })
    }

    /// Post a device change on the bus; whether it could be.
    fn tell(&self, change: &Change) -> bool {
        let Some(element) = self.end.element() else {
            return false;
        };
        let Change {
            state,
            device,
            using,
        } = change;
        element
            .post_message(device_message_using(
                E::KIND,
                state,
                device,
                using,
                &element,
            ))
            .is_ok()
    }
}

/// What a device message says: `state` ("lost", "back"), the chosen `device` ("" for the
/// system's default) and what is used now.
struct Change {
    state: &'static str,
    device: String,
    using: String,
}

impl Change {
    fn new(state: &'static str, device: &str, using: &str) -> Change {
        Change {
            state,
            device: device.into(),
            using: using.into(),
        }
    }
}

/// What a device message's `using` says when no microphone gives sound: the others hear
/// nothing.
pub(crate) const SILENCE: &str = "silence";

/// Silence for the element while no device is open, in the microphone's blocks, as many as
/// are due by the wall clock since it began.
struct Fill {
    since: Instant,
    frames: u64,
    stamper: Stamper,
}

/// How many blocks of silence one look may feed: after a stall (a device that took its whole
/// start to refuse) the rest are skipped, and the stamps start again.
const FILL_MAX: u64 = 5;

impl Fill {
    fn new() -> Fill {
        Fill {
            since: Instant::now(),
            frames: 0,
            stamper: Stamper::new(super::mic::RATE),
        }
    }

    fn block() -> u64 {
        u64::from(super::mic::BLOCK)
    }

    /// When the next block is due.
    fn due(&self) -> Instant {
        let frames = self.frames + Self::block();
        self.since + Duration::from_nanos(frames * 1_000_000_000 / u64::from(super::mic::RATE))
    }

    /// Feed the blocks due by now.
    fn feed<E: Endpoint>(&mut self, end: &E) {
        let elapsed =
            self.since.elapsed().as_nanos() * u128::from(super::mic::RATE) / 1_000_000_000;
        let elapsed = u64::try_from(elapsed).unwrap_or(u64::MAX);
        let block = Self::block();
        let due = (elapsed.saturating_sub(self.frames) / block).min(FILL_MAX);
        for _ in 0..due {
            end.silence(&mut self.stamper, block, self.frames == 0);
            self.frames += block;
        }
        if elapsed.saturating_sub(self.frames) >= block {
            self.frames = elapsed - elapsed % block;
        }
    }
}

/// The error callback of a stream: anything but an over- or underrun means it broke.
pub(super) fn on_error(health: &Arc<Health>) -> impl FnMut(cpal::Error) + Send + 'static {
    let health = health.clone();
    move |e: cpal::Error| {
        if e.kind() != cpal::ErrorKind::Xrun {
            health.failed.store(true, Ordering::Relaxed);
        }
    }
}

/// The device with this id (the sound server's name) among `devices`.
pub(super) fn by_id(
    mut devices: impl Iterator<Item = cpal::Device>,
    id: &str,
) -> Option<cpal::Device> {
    devices.find(|d| d.id().is_ok_and(|d| d.id() == id))
}

/// Times for blocks of samples at a device. The instants cpal reports scatter by several
/// milliseconds around the truth (the first often by 10 ms or more), so each block is placed
/// where the samples counted since the first put it, plus an offset that follows the reported
/// instants slowly (a moving average): consecutive blocks join within a fraction of a
/// millisecond and the times settle on the true ones. It starts again from the reported instant
/// when the two drift apart by more than [`RESYNC_NS`] (a stall, a device change).
pub(super) struct Stamper {
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
    pub(super) fn new(rate: u32) -> Stamper {
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

    /// A block of `frames` whose first sample is at `reported` (ns of running time): its time,
    /// duration and whether it starts anew (a discontinuity).
    pub(super) fn stamp(&mut self, reported: u64, frames: u64) -> (u64, u64, bool) {
        let mut discont = false;
        let start = match self.start {
            Some(start)
                if (reported as f64 - self.at(start, self.samples) as f64 - self.offset).abs()
                    <= RESYNC_NS =>
            {
                start
            }
            _ => {
                discont = self.start.is_some();
                self.start = Some(reported);
                self.samples = 0;
                self.offset = 0.0;
                reported
            }
        };
        let counted = self.at(start, self.samples);
        self.offset += (reported as f64 - counted as f64 - self.offset) * FOLLOW;
        let pts = (counted as f64 + self.offset).max(0.0) as u64;
        self.samples += frames;
        let end = (self.at(start, self.samples) as f64 + self.offset).max(0.0) as u64;
        (pts, end.saturating_sub(pts), discont)
    }
}

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
