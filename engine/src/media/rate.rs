//! Video bitrate from Google Congestion Control's two halves (draft-ietf-rmcat-gcc-02):
//! - the delay-based estimate of each connection, made by GStreamer's `rtpgccbwe` from
//!   transport-wide congestion control feedback (it sees the queue at a bottleneck grow before
//!   anything is lost, and says how much the path carries);
//! - the loss-based rate here, from RTCP receiver reports once a second: heavy loss cuts the
//!   rate in proportion, light loss holds it, a clean path lets it grow by 8 % a second.
//!
//! The encoder gets the lower of the two. One encoder feeds every peer, so the worst peer
//! decides. Pure: the caller samples the reports, feeds the estimates and applies the answer.

use std::collections::BTreeMap;

use assent_shared::signal::PeerId;

/// What audio and packet overhead take of a connection's estimate before video gets the rest,
/// kbit/s (Opus at 32 kbit/s plus RTP, SRTP, UDP and IP headers at 50 packets a second).
pub const AUDIO_KBPS: u32 = 60;

/// The controller.
#[derive(Clone, Debug)]
pub struct RateController {
    /// The loss-based rate, kbit/s.
    loss_kbps: f64,
    /// The delay-based budget for video per peer, kbit/s (only peers whose estimate is known:
    /// a connection without feedback has none).
    delay_kbps: BTreeMap<PeerId, f64>,
    /// The last target handed out.
    target: f64,
    min: f64,
    max: f64,
}

impl RateController {
    pub fn new(start_kbps: u32, min_kbps: u32, max_kbps: u32) -> Self {
        let (min, max) = (f64::from(min_kbps), f64::from(max_kbps.max(min_kbps)));
        let start = f64::from(start_kbps).clamp(min, max);
        RateController {
            loss_kbps: start,
            delay_kbps: BTreeMap::new(),
            target: start,
            min,
            max,
        }
    }

    /// The current target, kbit/s.
    pub fn kbps(&self) -> u32 {
        self.target.round() as u32
    }

    /// The delay-based estimate of the connection to `peer` (all its media), bit/s. Returns the
    /// new target when it moved by more than 1 %.
    pub fn on_estimate(&mut self, peer: PeerId, bps: u32) -> Option<u32> {
        let video = (f64::from(bps) / 1000.0 - f64::from(AUDIO_KBPS)).max(0.0);
        self.delay_kbps.insert(peer, video);
        self.retarget()
    }

    /// An estimate a bandwidth probe measured (see [`super::probe`]): the path carries it now,
    /// so the loss-based half, which grows 8 % a second, starts from it too, as a probe's
    /// result sets libwebrtc's send rate.
    pub fn on_probed_estimate(&mut self, peer: PeerId, bps: u32) -> Option<u32> {
        let video = (f64::from(bps) / 1000.0 - f64::from(AUDIO_KBPS)).max(0.0);
        self.loss_kbps = self.loss_kbps.max(video).clamp(self.min, self.max);
        self.on_estimate(peer, bps)
    }

    /// Only these peers are still connected: the others' estimates no longer count.
    pub fn keep_only(&mut self, peers: &[PeerId]) -> Option<u32> {
        let before = self.delay_kbps.len();
        self.delay_kbps.retain(|p, _| peers.contains(p));
        if self.delay_kbps.len() == before {
            return None;
        }
        self.retarget()
    }

    /// One second's receiver reports: the worst fraction of packets lost over peers, 0..1
    /// (`None`: no report). Returns the new target when it moved by more than 1 %.
    pub fn on_loss(&mut self, fraction_lost: Option<f64>) -> Option<u32> {
        let loss = fraction_lost?;
        if loss > 0.10 {
            // Cut what is sent, even when the delay-based half set it.
            self.loss_kbps = self.loss_kbps.min(self.target) * (1.0 - 0.5 * loss.min(1.0));
        } else if loss < 0.02 {
            // A loss-based rate may run ahead of a lower delay-based one by half, not more: when
            // the bottleneck lifts, the rate jumps by up to half and then climbs 8 % a second
            // (from 440 to 900 kbit/s in about 4 s), instead of jumping to the maximum.
            self.loss_kbps = self.loss_kbps.min(self.target * 1.5) * 1.08;
        }
        self.loss_kbps = self.loss_kbps.clamp(self.min, self.max);
        self.retarget()
    }

    fn retarget(&mut self) -> Option<u32> {
        let delay = self
            .delay_kbps
            .values()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let next = self.loss_kbps.min(delay).clamp(self.min, self.max);
        // Against what the encoder was last given: estimates come every 100 ms or so in steps
        // under 1 %, which must add up instead of each being let go.
        let at_bound = next == self.min || next == self.max;
        if next == self.target || (!at_bound && (next - self.target).abs() <= self.target * 0.01) {
            return None;
        }
        self.target = next;
        Some(self.kbps())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        PeerId(u64::from(n))
    }

    #[test]
    fn loss_grows_holds_and_backs_off_within_bounds() {
        let mut r = RateController::new(1000, 150, 2500);
        assert_eq!(r.on_loss(Some(0.0)), Some(1080));
        assert_eq!(r.on_loss(Some(0.05)), None, "light loss holds");
        assert_eq!(
            r.on_loss(Some(0.5)),
            Some(810),
            "half lost: cut by a quarter"
        );
        for _ in 0..100 {
            r.on_loss(Some(0.0));
        }
        assert_eq!(r.kbps(), 2500);
        for _ in 0..100 {
            r.on_loss(Some(1.0));
        }
        assert_eq!(r.kbps(), 150);
        assert_eq!(r.on_loss(None), None, "no report, no change");
    }

    #[test]
    fn the_lower_half_and_the_worst_peer_decide() {
        let mut r = RateController::new(800, 100, 900);
        // A 500 kbit/s path: video gets what audio leaves.
        assert_eq!(r.on_estimate(peer(1), 500_000), Some(440));
        // A clean path lets the loss-based half grow, but the delay-based one holds.
        for _ in 0..10 {
            r.on_loss(Some(0.0));
        }
        assert_eq!(r.kbps(), 440);
        // A second, faster peer changes nothing; a slower one lowers the rate for all.
        assert_eq!(r.on_estimate(peer(2), 5_000_000), None);
        assert_eq!(r.on_estimate(peer(2), 300_000), Some(240));
        // The slow one leaves: back to the first peer's budget.
        assert_eq!(r.keep_only(&[peer(1)]), Some(440));
        assert_eq!(r.keep_only(&[peer(1)]), None);
        // The bottleneck lifts: the estimate climbs and the loss-based half follows a second
        // at a time, from what is sent.
        r.on_estimate(peer(1), 5_000_000);
        let mut seconds = 0;
        while r.kbps() < 900 {
            r.on_loss(Some(0.0));
            seconds += 1;
            assert!(seconds < 20, "stuck at {}", r.kbps());
        }
        assert!(seconds <= 5, "took {seconds} s");
        // A probe's estimate: the loss-based half starts from it, not 8 % a second below.
        let mut p = RateController::new(900, 100, 900);
        assert_eq!(p.on_estimate(peer(1), 360_000), Some(300));
        for _ in 0..3 {
            p.on_loss(Some(0.0));
        }
        // Without a probe, the loss-based half holds it to half again over the last target.
        assert_eq!(p.on_estimate(peer(1), 1_500_000), Some(486));
        let mut p = RateController::new(900, 100, 900);
        assert_eq!(p.on_estimate(peer(1), 360_000), Some(300));
        for _ in 0..3 {
            p.on_loss(Some(0.0));
        }
        assert_eq!(p.on_probed_estimate(peer(1), 760_000), Some(700));
        assert_eq!(p.on_probed_estimate(peer(1), 1_500_000), Some(900));
        // Heavy loss cuts what is sent, whatever the delay-based half allows.
        r.on_estimate(peer(1), 500_000);
        assert_eq!(r.on_loss(Some(0.4)), Some(352));
        // Small steps add up: an estimate climbing 0.8 % at a time still moves the encoder.
        let mut r = RateController::new(900, 100, 900);
        assert_eq!(r.on_estimate(peer(1), 560_000), Some(500));
        let moved: Vec<u32> = (1..=10)
            .filter_map(|i| r.on_estimate(peer(1), 560_000 + i * 4_000))
            .collect();
        assert_eq!(
            moved,
            [508, 516, 524, 532, 540],
            "every second step of 0.8 % passes 1 %"
        );
        assert_eq!(r.kbps(), 540);
        let mut r = RateController::new(500, 100, 900);
        // Never below the floor, whatever the estimate says.
        assert_eq!(r.on_estimate(peer(1), 10_000), Some(100));
    }
}
