//! What arrives from each peer, counted where it is decoded, plus what webrtcbin reports (round
//! trip time, loss). The CLI prints these as JSON; the window shows connection quality from them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use assent_shared::signal::PeerId;
use gst::prelude::*;
use serde::Serialize;

/// Latency samples kept per peer (the benchmark's frame stamps).
const MAX_LATENCY_SAMPLES: usize = 100_000;

/// Counters for one remote peer, updated from streaming threads.
#[derive(Default)]
pub struct PeerCounters {
    pub video_frames: AtomicU64,
    pub audio_ms: AtomicU64,
    pub video_rtp_bytes: AtomicU64,
    pub audio_rtp_bytes: AtomicU64,
    /// Unix ms of the first decoded video frame.
    pub first_frame_at: AtomicU64,
    /// When the last video frame was decoded (µs on a monotonic clock), and the longest wait
    /// for a frame since [`PeerCounters::take_max_gap_us`] was last called.
    last_frame_us: AtomicU64,
    max_gap_us: AtomicU64,
    /// Glass-to-glass latency samples, microseconds (only with frame stamps).
    pub latencies_us: Mutex<Vec<u64>>,
    /// The same measured as the window gets each picture (after lip sync held it back).
    pub shown_latencies_us: Mutex<Vec<u64>>,
    /// The congestion controller's estimate of what the connection to them carries, bit/s
    /// (0: no estimate yet).
    pub send_estimate_bps: AtomicU64,
    /// Bandwidth probes sent to them, and those that raised the estimate.
    pub probes: AtomicU64,
    pub probes_raised: AtomicU64,
    /// Flashes shown against beeps played (a flash-and-beep test source at the sender).
    pub lip_sync: Arc<super::lipsync::Meter>,
}

/// All peers' counters.
#[derive(Default, Clone)]
pub struct Stats {
    peers: Arc<Mutex<BTreeMap<PeerId, Arc<PeerCounters>>>>,
}

impl Stats {
    pub fn add_peer(&self, peer: PeerId) {
        if let Ok(mut p) = self.peers.lock() {
            p.entry(peer).or_default();
        }
    }

    pub fn remove_peer(&self, peer: PeerId) {
        if let Ok(mut p) = self.peers.lock() {
            p.remove(&peer);
        }
    }

    pub fn counters(&self, peer: PeerId) -> Arc<PeerCounters> {
        self.peers
            .lock()
            .map(|mut p| p.entry(peer).or_default().clone())
            .unwrap_or_default()
    }

    /// The counters of a peer still counted (none once it is removed).
    pub fn existing(&self, peer: PeerId) -> Option<Arc<PeerCounters>> {
        self.peers.lock().ok()?.get(&peer).cloned()
    }

    pub fn snapshot(&self) -> BTreeMap<PeerId, Arc<PeerCounters>> {
        self.peers.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

fn now_ms() -> u64 {
    assent_shared::Timestamp::now().0
}

/// Count decoded video frames or audio duration at a decoder's source pad.
pub fn count_decoded(pad: &gst::Pad, counters: Arc<PeerCounters>, video: bool) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buf) = info.buffer() {
            if video {
                counters.frame_decoded(monotonic_us());
                if counters.video_frames.fetch_add(1, Ordering::Relaxed) == 0 {
                    counters.first_frame_at.store(now_ms(), Ordering::Relaxed);
                    tracing::debug!("first video frame decoded");
                }
            } else if let Some(d) = buf.duration() {
                counters.audio_ms.fetch_add(d.mseconds(), Ordering::Relaxed);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Count RTP bytes arriving on a webrtcbin source pad.
pub fn count_rtp(pad: &gst::Pad, counters: Arc<PeerCounters>, video: bool) {
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            let bytes = match (info.buffer(), info.buffer_list()) {
                (Some(b), _) => b.size() as u64,
                (None, Some(l)) => l.calculate_size() as u64,
                _ => 0,
            };
            let c = if video {
                &counters.video_rtp_bytes
            } else {
                &counters.audio_rtp_bytes
            };
            c.fetch_add(bytes, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        },
    );
}

/// Microseconds since the first call in this process (a monotonic clock).
fn monotonic_us() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros() as u64
}

impl PeerCounters {
    fn frame_decoded(&self, now_us: u64) {
        let last = self.last_frame_us.swap(now_us, Ordering::Relaxed);
        if last > 0 {
            self.max_gap_us
                .fetch_max(now_us.saturating_sub(last), Ordering::Relaxed);
        }
    }

    /// The longest wait between two decoded frames since the last call (a freeze), counting
    /// the wait for a frame that has not come yet.
    pub fn take_max_gap_us(&self) -> u64 {
        let last = self.last_frame_us.load(Ordering::Relaxed);
        let waiting = if last > 0 {
            monotonic_us().saturating_sub(last)
        } else {
            0
        };
        self.max_gap_us.swap(0, Ordering::Relaxed).max(waiting)
    }

    pub fn push_latency(&self, us: u64) {
        push(&self.latencies_us, us);
    }

    pub fn push_shown_latency(&self, us: u64) {
        push(&self.shown_latencies_us, us);
    }
}

fn push(samples: &Mutex<Vec<u64>>, us: u64) {
    if let Ok(mut l) = samples.lock()
        && l.len() < MAX_LATENCY_SAMPLES
    {
        l.push(us);
    }
}

/// What webrtcbin says about one connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Transport {
    /// Round trip time, ms (from RTCP receiver reports).
    pub rtt_ms: Option<f64>,
    /// Packets the peer reported lost of what we sent (all streams).
    pub packets_lost_by_peer: Option<i64>,
    /// Fraction of our packets lost in the last report interval (worst stream), 0..1.
    pub fraction_lost: Option<f64>,
    /// Packets we lost of what the peer sent.
    pub packets_lost: Option<i64>,
    pub packets_received: Option<u64>,
    /// Whether the selected ICE pair goes through a TURN relay.
    pub relayed: Option<bool>,
    /// What tells one receiver report from the next: the highest sequence numbers and sender
    /// report times the peer's reports name, summed over our streams.
    #[serde(skip)]
    pub report_marks: Option<u64>,
}

/// Pick the numbers out of a `get-stats` reply.
pub fn transport_from(stats: &gst::StructureRef) -> Transport {
    let mut t = Transport::default();
    for (_, value) in stats.iter() {
        let Ok(s) = value.get::<gst::Structure>() else {
            continue;
        };
        if let Ok(source) = s.get::<gst::Structure>("gst-rtpsource-stats")
            && source.get::<bool>("have-rb").unwrap_or(false)
        {
            let field = |f: &str| source.get::<u32>(f).map_or(0, u64::from);
            *t.report_marks.get_or_insert(0) += field("rb-exthighestseq") + field("rb-lsr");
        }
        let Ok(kind) = s.get::<gst_webrtc::WebRTCStatsType>("type") else {
            continue;
        };
        match kind {
            gst_webrtc::WebRTCStatsType::RemoteInboundRtp => {
                if let Ok(rtt) = s.get::<f64>("round-trip-time") {
                    let ms = rtt * 1000.0;
                    t.rtt_ms = Some(t.rtt_ms.map_or(ms, |m: f64| m.max(ms)));
                }
                if let Ok(lost) = s.get::<i64>("packets-lost") {
                    *t.packets_lost_by_peer.get_or_insert(0) += lost;
                }
                if let Ok(f) = s.get::<f64>("fraction-lost") {
                    t.fraction_lost = Some(t.fraction_lost.map_or(f, |m: f64| m.max(f)));
                }
            }
            gst_webrtc::WebRTCStatsType::InboundRtp => {
                if let Ok(lost) = s.get::<i64>("packets-lost") {
                    *t.packets_lost.get_or_insert(0) += lost;
                }
                if let Ok(n) = s.get::<u64>("packets-received") {
                    *t.packets_received.get_or_insert(0) += n;
                }
            }
            gst_webrtc::WebRTCStatsType::Transport => {
                t.relayed = selected_pair_relayed(stats, &s).or(t.relayed);
            }
            _ => {}
        }
    }
    t
}

/// Follow transport → selected candidate pair → its two candidates, and say whether either is
/// a relay candidate. (GStreamer 1.22 swaps the local/remote names of candidate entries, so
/// both ends are looked at.)
fn selected_pair_relayed(stats: &gst::StructureRef, transport: &gst::Structure) -> Option<bool> {
    let pair_id = transport.get::<&str>("selected-candidate-pair-id").ok()?;
    let pair = stats.get::<gst::Structure>(pair_id).ok()?;
    let mut relayed = false;
    for key in ["local-candidate-id", "remote-candidate-id"] {
        let id = pair.get::<&str>(key).ok()?;
        let cand = stats.get::<gst::Structure>(id).ok()?;
        relayed |= cand.get::<&str>("candidate-type").ok()? == "relay";
    }
    Some(relayed)
}
