//! Call statistics: per peer, what arrived (frames, audio), at what rate since the last report,
//! and what the transport says (round trip, loss).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use assent_shared::signal::PeerId;
use serde::Serialize;

use super::machine::{CallMachine, Phase};
use crate::media::Media;
use crate::media::stats::Transport;

/// One remote peer, as `assent call --stats` prints it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStats {
    pub peer: String,
    pub name: String,
    pub user_id: String,
    pub connected: bool,
    /// The video codec we send them (they send us the same).
    pub codec: Option<&'static str>,
    pub video_frames: u64,
    /// Decoded frames per second since the previous report.
    pub fps: f64,
    pub audio_ms: u64,
    pub video_kbps: f64,
    pub audio_kbps: f64,
    /// What congestion control estimates the connection to them carries (all we send them),
    /// kbit/s; none before the first feedback, or with it off.
    pub send_estimate_kbps: Option<u32>,
    /// Bandwidth probes sent to them, and those that raised the estimate.
    pub probes: u64,
    pub probes_raised: u64,
    /// Unix ms of the first decoded frame.
    pub first_frame_at: Option<u64>,
    #[serde(flatten)]
    pub transport: Transport,
    /// Frame-stamp latency (only with `--stamp-frames`), ms.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_samples: usize,
    /// The same over the frames since the previous report, ms.
    pub recent_latency_p50_ms: Option<f64>,
    pub recent_latency_max_ms: Option<f64>,
    /// The longest wait for a video frame since the previous report (a freeze), ms.
    pub max_frame_gap_ms: u64,
    /// The same as the window gets each picture (with `--play`), ms.
    pub shown_latency_p50_ms: Option<f64>,
    pub shown_latency_p95_ms: Option<f64>,
    /// Lip sync: a flash shown minus its beep played (positive: the picture is late), ms,
    /// with `--stamp-frames --play` and a flash-and-beep sender.
    pub av_offset_p50_ms: Option<f64>,
    /// The 95th percentile of the offset's size.
    pub av_offset_p95_abs_ms: Option<f64>,
    pub av_offset_samples: usize,
}

/// The whole call.
#[derive(Clone, Debug, Serialize)]
pub struct CallStats {
    /// Unix ms.
    pub at: u64,
    pub video_target_kbps: u32,
    pub peers: Vec<PeerStats>,
}

#[derive(Default)]
pub(super) struct Tracker {
    pub(super) transport: BTreeMap<PeerId, Transport>,
    last: BTreeMap<PeerId, (Instant, u64, u64, u64)>,
    /// Latency samples already reported per peer.
    seen_latencies: BTreeMap<PeerId, usize>,
    /// The last receiver report the rate was steered by, per peer.
    steered_by: BTreeMap<PeerId, ReportSignature>,
}

/// What tells one receiver report from the next: webrtcbin keeps answering with the last one
/// until another comes (every few seconds), and a stale loss figure must not cut or hold the
/// rate again and again.
type ReportSignature = (Option<u64>, Option<i64>, Option<u64>);

impl Tracker {
    /// The worst fraction of our packets lost over the receiver reports the rate has not been
    /// steered by yet (`None`: no new report).
    pub(super) fn worst_fresh_loss(&mut self) -> Option<f64> {
        let mut worst: Option<f64> = None;
        for (peer, t) in &self.transport {
            if let Some(f) = fresh_loss(&mut self.steered_by, *peer, t) {
                worst = Some(worst.map_or(f, |w: f64| w.max(f)));
            }
        }
        worst
    }
}

/// The fraction of our packets `peer` lost, when its receiver report is not in `steered_by`
/// yet (it is then).
fn fresh_loss(
    steered_by: &mut BTreeMap<PeerId, ReportSignature>,
    peer: PeerId,
    t: &Transport,
) -> Option<f64> {
    let signature = (
        t.fraction_lost.map(f64::to_bits),
        t.packets_lost_by_peer,
        t.report_marks,
    );
    let fraction = t.fraction_lost?;
    let old = steered_by.insert(peer, signature);
    (old != Some(signature)).then_some(fraction)
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)] as f64 / 1000.0)
}

impl Tracker {
    pub(super) fn snapshot(&mut self, machine: &CallMachine, media: &Media) -> CallStats {
        let counters = media.stats().snapshot();
        let now = Instant::now();
        let mut peers = Vec::new();
        for (id, phase, info) in machine.peers() {
            let c = counters.get(&id);
            let load = |f: fn(&crate::media::stats::PeerCounters) -> u64| c.map_or(0, |c| f(c));
            let frames = load(|c| c.video_frames.load(Ordering::Relaxed));
            let vbytes = load(|c| c.video_rtp_bytes.load(Ordering::Relaxed));
            let abytes = load(|c| c.audio_rtp_bytes.load(Ordering::Relaxed));
            let (fps, vk, ak) = match self.last.get(&id) {
                Some(&(t, f, v, a)) => {
                    let dt = now.duration_since(t).as_secs_f64().max(1e-3);
                    (
                        (frames.saturating_sub(f)) as f64 / dt,
                        (vbytes.saturating_sub(v)) as f64 * 8.0 / 1000.0 / dt,
                        (abytes.saturating_sub(a)) as f64 * 8.0 / 1000.0 / dt,
                    )
                }
                None => (0.0, 0.0, 0.0),
            };
            self.last.insert(id, (now, frames, vbytes, abytes));
            let mut lat: Vec<u64> = c
                .and_then(|c| c.latencies_us.lock().ok().map(|l| l.clone()))
                .unwrap_or_default();
            let seen = self.seen_latencies.insert(id, lat.len()).unwrap_or(0);
            let mut recent = lat.get(seen..).unwrap_or_default().to_vec();
            recent.sort_unstable();
            lat.sort_unstable();
            let mut shown: Vec<u64> = c
                .and_then(|c| c.shown_latencies_us.lock().ok().map(|l| l.clone()))
                .unwrap_or_default();
            shown.sort_unstable();
            let mut av: Vec<i64> = c.map(|c| c.lip_sync.offsets_us()).unwrap_or_default();
            av.sort_unstable();
            let mut av_abs: Vec<u64> = av.iter().map(|o| o.unsigned_abs()).collect();
            av_abs.sort_unstable();
            let av_p50 = (!av.is_empty()).then(|| av[(av.len() - 1) / 2] as f64 / 1000.0);
            let first = load(|c| c.first_frame_at.load(Ordering::Relaxed));
            peers.push(PeerStats {
                peer: id.to_string(),
                name: info.display_name.clone(),
                user_id: info.user_id.to_string(),
                connected: phase == Phase::Connected,
                codec: media.codec_of(id).map(|c| c.name()),
                video_frames: frames,
                fps: (fps * 10.0).round() / 10.0,
                audio_ms: load(|c| c.audio_ms.load(Ordering::Relaxed)),
                video_kbps: vk.round(),
                audio_kbps: ak.round(),
                send_estimate_kbps: c
                    .map(|c| c.send_estimate_bps.load(Ordering::Relaxed))
                    .filter(|b| *b > 0)
                    .map(|b| (b / 1000) as u32),
                probes: load(|c| c.probes.load(Ordering::Relaxed)),
                probes_raised: load(|c| c.probes_raised.load(Ordering::Relaxed)),
                first_frame_at: (first > 0).then_some(first),
                transport: self.transport.get(&id).cloned().unwrap_or_default(),
                latency_p50_ms: percentile(&lat, 0.5),
                latency_p95_ms: percentile(&lat, 0.95),
                latency_samples: lat.len(),
                recent_latency_p50_ms: percentile(&recent, 0.5),
                recent_latency_max_ms: percentile(&recent, 1.0),
                max_frame_gap_ms: c.map_or(0, |c| c.take_max_gap_us() / 1000),
                shown_latency_p50_ms: percentile(&shown, 0.5),
                shown_latency_p95_ms: percentile(&shown, 0.95),
                av_offset_p50_ms: av_p50,
                av_offset_p95_abs_ms: percentile(&av_abs, 0.95),
                av_offset_samples: av.len(),
            });
        }
        self.last.retain(|id, _| counters.contains_key(id));
        self.seen_latencies
            .retain(|id, _| counters.contains_key(id));
        CallStats {
            at: assent_shared::Timestamp::now().0,
            video_target_kbps: media.video_kbps(),
            peers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_report_steers_the_rate_once() {
        let mut t = Tracker::default();
        let peer = PeerId(7);
        let mut fresh = |r: &Transport| {
            t.transport.insert(peer, r.clone());
            t.worst_fresh_loss()
        };
        let report = |loss: f64, marks: u64| Transport {
            fraction_lost: Some(loss),
            packets_lost_by_peer: Some(12),
            rtt_ms: Some(80.0),
            report_marks: Some(marks),
            ..Transport::default()
        };
        assert_eq!(fresh(&report(0.3, 1000)), Some(0.3));
        // The same report asked for again a second later: no new information.
        assert_eq!(fresh(&report(0.3, 1000)), None);
        // The next report (further in the stream) counts, even with the same loss and round
        // trip.
        assert_eq!(fresh(&report(0.3, 1050)), Some(0.3));
        assert_eq!(fresh(&report(0.0, 1100)), Some(0.0));
        assert_eq!(fresh(&Transport::default()), None, "no report yet");
    }
}
