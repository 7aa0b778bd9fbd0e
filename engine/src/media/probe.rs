//! Bandwidth probing: how the send rate climbs back quickly when a bottleneck lifts.
//!
//! Google Congestion Control's delay-based estimate only grows by 8 % a second, so after the
//! path widens it takes many seconds to use it (from 300 kbit/s to 900, some 14 s). libwebrtc
//! answers this with probes: a short cluster of extra packets sent faster than the estimate,
//! whose arrival times in the transport-wide feedback say what the path carries; a probe that
//! comes through raises the estimate at once. This is that, with retransmissions (RTX copies of
//! the latest video packets, which the receiver drops as duplicates) as the probe's packets:
//! - a probe is sent only when the estimate has been rising for a second and is back within
//!   80 % of the last point where the path filled (the highest estimate before its last fall,
//!   or where it started): just after a fall the path's limit is known, and a burst would only
//!   fill its queue. Also not when the estimate is what the encoder can use already, nor too
//!   soon after the last probe;
//! - its packets (at least 5, and 100 ms of the estimate) leave as a burst. What the path
//!   carries is the rate of the slowest gap between their arrivals: a shaper (a token bucket)
//!   lets its burst allowance through at once and the rest at its rate, so the slow gaps are
//!   the bottleneck's. A cluster that arrives all at once went through whole: the path takes
//!   more than it, in a burst at least;
//! - a probe comes through when the path carried at least 90 % of its target (twice the
//!   estimate). Two in a row must, a second apart (a receiver busy with other work can stamp
//!   arrivals too close together): then the estimate becomes the lower of their targets and
//!   95 % of what they measured (libwebrtc's target utilisation), and from there each next
//!   probe that comes through raises it again on its own. Otherwise nothing changes (the
//!   delay-based estimate goes on near the path's limit) and the next probe waits longer.
//!
//! Pure: the caller feeds estimates and feedback and sends what it is told.

use std::time::{Duration, Instant};

/// Packets in a probe cluster: at least (libwebrtc's minimum), and at most.
const MIN_PACKETS: usize = 5;
pub(crate) const MAX_PACKETS: usize = 20;
/// A cluster carries this much of the estimate, ms (the queue it adds where the path is full).
const CLUSTER_MS: u64 = 100;
/// The estimate must have risen without a fall for this long before a probe.
const QUIET: Duration = Duration::from_secs(1);
/// How near the last point where the path filled the estimate must be.
const NEAR: f64 = 0.8;
/// Between a probe that came through and the next.
const AFTER_SUCCESS: Duration = Duration::from_secs(1);
/// Between a probe that found the path near its limit and the next.
const AFTER_FAILURE: Duration = Duration::from_secs(3);
/// A probe whose feedback has not come within this is given up.
const TIMEOUT: Duration = Duration::from_secs(1);
/// A probe comes through when the path carried this much of its target.
const CARRIED: f64 = 0.9;
/// Of what a probe measured, what the estimate becomes (libwebrtc's target utilisation).
const UTILISATION: f64 = 0.95;
/// Arrivals closer than this cannot be told apart (feedback counts in 250 µs), ns.
const TOO_CLOSE_NS: u64 = 500_000;

/// One packet of transport-wide feedback, as the sender's session reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Feedback {
    pub(crate) payload_type: Option<u8>,
    /// When it arrived, ns on the receiver's clock; `None`: lost.
    pub(crate) arrived_ns: Option<u64>,
    pub(crate) bytes: u32,
}

/// What a finished probe found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// The path carries it: the estimate becomes this, bit/s.
    Raise(u32),
    /// Not (yet) more than the estimate says: not through, lost, or waiting for a second probe.
    Nothing,
}

/// A probe to send: its target, bit/s, and how many of the latest packets to send again at
/// once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Probe {
    pub(crate) target: u32,
    pub(crate) packets: usize,
}

#[derive(Debug)]
struct Pending {
    sent: Instant,
    probe: Probe,
    got: Vec<Feedback>,
}

/// The probing half of one connection's congestion control.
#[derive(Debug)]
pub(crate) struct Prober {
    /// The estimator's current estimate, bit/s.
    estimate: u32,
    /// No probe once the estimate reaches this (what the encoder can use), bit/s.
    enough: u32,
    /// A probe's target never exceeds this, bit/s.
    max: u32,
    /// What the last probe found, when it came through and the next must confirm it, bit/s.
    unconfirmed: Option<u32>,
    /// The last probe raised the estimate (and nothing fell since): the next needs no second.
    streak: bool,
    /// The highest estimate since its last fall, and whether it rose since.
    peak: u32,
    rose: bool,
    /// The highest before its last fall (where it started, before any): where the path filled.
    ceiling: u32,
    /// Since when the estimate has not fallen.
    rising_since: Instant,
    /// When the next probe may go.
    next_allowed: Instant,
    pending: Option<Pending>,
}

impl Prober {
    pub(crate) fn new(now: Instant, estimate: u32, enough: u32, max: u32) -> Prober {
        Prober {
            estimate,
            enough: enough.min(max),
            max,
            unconfirmed: None,
            streak: false,
            peak: estimate,
            rose: false,
            ceiling: estimate,
            rising_since: now,
            next_allowed: now,
            pending: None,
        }
    }

    /// A new estimate from the estimator. A fall marks where the path filled, restarts the
    /// quiet period and ends a probe in flight.
    pub(crate) fn on_estimate(&mut self, now: Instant, bps: u32) {
        if f64::from(bps) < f64::from(self.estimate) * 0.99 {
            // The first cut after a rise (the estimator may cut several times in a row).
            if self.rose {
                self.ceiling = self.peak;
            }
            self.rose = false;
            self.peak = bps;
            self.rising_since = now;
            self.forget();
            if self.pending.take().is_some() {
                self.next_allowed = now + AFTER_FAILURE;
            }
        } else if bps > self.estimate {
            self.rose = true;
            self.peak = self.peak.max(bps);
        }
        self.estimate = bps;
    }

    /// Whether to send a probe now, given the sizes of the latest packets at hand (newest
    /// first). The caller then sends that many of them again at once; with too few at hand,
    /// none is sent.
    pub(crate) fn poll(&mut self, now: Instant, at_hand: &[u32]) -> Option<Probe> {
        if let Some(p) = &self.pending {
            if now.duration_since(p.sent) < TIMEOUT {
                return None;
            }
            self.pending = None;
            self.forget();
            self.next_allowed = now + AFTER_FAILURE;
        }
        let target = self.estimate.saturating_mul(2).min(self.max);
        if now < self.next_allowed
            || now.duration_since(self.rising_since) < QUIET
            || f64::from(self.estimate) < f64::from(self.ceiling) * NEAR
            || self.estimate >= self.enough
            || f64::from(target) < f64::from(self.estimate) * 1.1
        {
            return None;
        }
        let bits = u64::from(self.estimate) * CLUSTER_MS / 1000;
        let mut packets = 0;
        let mut sum = 0u64;
        for b in at_hand.iter().take(MAX_PACKETS) {
            if packets >= MIN_PACKETS && sum >= bits {
                break;
            }
            packets += 1;
            sum += u64::from(*b) * 8;
        }
        if packets < MIN_PACKETS {
            return None;
        }
        let probe = Probe { target, packets };
        self.pending = Some(Pending {
            sent: now,
            probe,
            got: Vec::new(),
        });
        Some(probe)
    }

    /// Feedback on packets sent; `rtx` says which payload types are retransmissions (the probe's
    /// packets). Returns what a probe found once its whole cluster is reported.
    pub(crate) fn on_feedback(
        &mut self,
        now: Instant,
        packets: &[Feedback],
        rtx: impl Fn(u8) -> bool,
    ) -> Option<Outcome> {
        let p = self.pending.as_mut()?;
        let want = p.probe.packets;
        p.got.extend(
            packets
                .iter()
                .filter(|f| f.payload_type.is_some_and(&rtx))
                .take(want.saturating_sub(p.got.len())),
        );
        if p.got.len() < want {
            return None;
        }
        let p = self.pending.take()?;
        let target = f64::from(p.probe.target);
        let measured = measure(&p.got).unwrap_or(0.0);
        if measured < target * CARRIED {
            self.forget();
            self.next_allowed = now + AFTER_FAILURE;
            return Some(Outcome::Nothing);
        }
        let found = (measured * UTILISATION).min(target).round() as u32;
        self.next_allowed = now + AFTER_SUCCESS;
        let confirmed = match self.unconfirmed.take() {
            Some(before) => Some(found.min(before)),
            None if self.streak => Some(found),
            None => None,
        };
        self.streak = confirmed.is_some();
        Some(match confirmed {
            Some(bps) => Outcome::Raise(bps),
            None => {
                self.unconfirmed = Some(found);
                Outcome::Nothing
            }
        })
    }

    /// What came through before counts no more.
    fn forget(&mut self) {
        self.unconfirmed = None;
        self.streak = false;
    }
}

/// What the path carried, bit/s, from a cluster sent as one burst: the rate of the slowest gap
/// between arrivals (a packet's bits over the time since the one before it). Infinite when
/// they came too close together to tell; `None` when one was lost.
fn measure(cluster: &[Feedback]) -> Option<f64> {
    let mut arrivals = cluster
        .iter()
        .map(|f| Some((f.arrived_ns?, f.bytes)))
        .collect::<Option<Vec<_>>>()?;
    arrivals.sort_by_key(|(t, _)| *t);
    Some(
        arrivals
            .windows(2)
            .filter_map(|w| {
                let gap = w[1].0 - w[0].0;
                (gap >= TOO_CLOSE_NS).then(|| f64::from(w[1].1) * 8.0 * 1e9 / gap as f64)
            })
            .fold(f64::INFINITY, f64::min),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTX: u8 = 97;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// A cluster of `n` 1200-byte retransmissions sent at once that arrive `gap_us` apart (after
    /// the first `burst` come through together), with other traffic mixed in.
    fn cluster(n: usize, gap_us: u64, burst: usize) -> Vec<Feedback> {
        let mut out = Vec::new();
        for i in 0..n as u64 {
            out.push(Feedback {
                payload_type: Some(96),
                arrived_ns: Some(i * 1000),
                bytes: 900,
            });
            let late = (i + 1).saturating_sub(burst as u64);
            out.push(Feedback {
                payload_type: Some(RTX),
                arrived_ns: Some(50_000_000 + late * gap_us * 1000),
                bytes: 1200,
            });
        }
        out
    }

    /// Started at half `estimate`, and risen to it.
    fn ready(t0: Instant, estimate: u32) -> Prober {
        let mut p = Prober::new(t0, estimate / 2, 1_000_000, 1_500_000);
        p.on_estimate(at(t0, 100), estimate);
        p
    }

    const AT_HAND: [u32; 30] = [1200; 30];

    fn probe(target: u32, packets: usize) -> Option<Probe> {
        Some(Probe { target, packets })
    }

    fn is_rtx(pt: u8) -> bool {
        pt == RTX
    }

    /// A probe at `now` with packets of 1200 bytes at hand, and what its cluster found.
    fn probe_once(p: &mut Prober, now: u64, t0: Instant, got: &[Feedback]) -> Option<Outcome> {
        p.poll(at(t0, now), &AT_HAND)?;
        p.on_feedback(at(t0, now + 50), got, is_rtx)
    }

    #[test]
    fn a_wide_path_raises_the_estimate_to_twice_once_confirmed() {
        let t0 = Instant::now();
        let mut p = ready(t0, 300_000);
        assert_eq!(
            p.poll(at(t0, 900), &AT_HAND),
            None,
            "not quiet for long enough"
        );
        assert_eq!(
            p.poll(at(t0, 2_000), &AT_HAND[..4]),
            None,
            "too few packets at hand"
        );
        assert_eq!(p.poll(at(t0, 2_000), &AT_HAND), probe(600_000, 5));
        assert_eq!(p.poll(at(t0, 2_050), &AT_HAND), None, "one probe at a time");
        // 5 Mbit/s: 1200 bytes every 1.92 ms. One probe is not enough.
        let wide = cluster(5, 1_920, 1);
        let got = p.on_feedback(at(t0, 2_100), &wide, is_rtx);
        assert_eq!(got, Some(Outcome::Nothing));
        assert_eq!(p.poll(at(t0, 2_900), &AT_HAND), None, "a second apart");
        assert_eq!(p.poll(at(t0, 3_100), &AT_HAND), probe(600_000, 5));
        let got = p.on_feedback(at(t0, 3_150), &wide, is_rtx);
        assert_eq!(got, Some(Outcome::Raise(600_000)));
        // From there, twice again with one probe (capped by the maximum), and more packets:
        // 100 ms of 600 kbit/s is 7 of them.
        p.on_estimate(at(t0, 3_160), 600_000);
        assert_eq!(p.poll(at(t0, 4_200), &AT_HAND), probe(1_200_000, 7));
        let got = p.on_feedback(at(t0, 4_250), &cluster(7, 1_920, 1), is_rtx);
        assert_eq!(got, Some(Outcome::Raise(1_200_000)));
        // What the encoder can use is reached: no more probes.
        p.on_estimate(at(t0, 4_260), 1_200_000);
        assert_eq!(p.poll(at(t0, 9_000), &AT_HAND), None);
    }

    #[test]
    fn no_probe_just_after_the_path_filled() {
        let t0 = Instant::now();
        let mut p = Prober::new(t0, 800_000, 2_000_000, 3_000_000);
        p.on_estimate(at(t0, 500), 900_000);
        assert_eq!(p.poll(at(t0, 1_100), &AT_HAND), probe(1_800_000, 10));
        // The path fills at 900: the estimator cuts twice, and the probe is given up.
        p.on_estimate(at(t0, 1_200), 760_000);
        p.on_estimate(at(t0, 1_300), 650_000);
        let wide = cluster(10, 1_920, 1);
        assert_eq!(p.on_feedback(at(t0, 1_350), &wide, is_rtx), None);
        // Until it is back within 80 % of 900, climbing is the estimator's work.
        p.on_estimate(at(t0, 6_000), 700_000);
        assert_eq!(p.poll(at(t0, 6_100), &AT_HAND), None);
        p.on_estimate(at(t0, 6_500), 720_000);
        assert_eq!(p.poll(at(t0, 6_600), &AT_HAND), probe(1_440_000, 8));
    }

    #[test]
    fn the_slowest_gap_says_what_a_shaper_lets_through() {
        let t0 = Instant::now();
        // 500 kbit/s behind a shaper that let the first three through at once: the later
        // gaps say 500, under 90 % of the target.
        let mut p = ready(t0, 350_000);
        let shaped = cluster(5, 19_200, 3);
        assert_eq!(
            probe_once(&mut p, 2_000, t0, &shaped),
            Some(Outcome::Nothing)
        );
        assert_eq!(
            p.poll(at(t0, 4_000), &AT_HAND),
            None,
            "waits longer after a failure"
        );
        // All at once (a shaper's burst, or a fast path), twice: through, to the target.
        let at_once = cluster(5, 0, 5);
        assert_eq!(
            probe_once(&mut p, 5_100, t0, &at_once),
            Some(Outcome::Nothing)
        );
        assert_eq!(
            probe_once(&mut p, 6_200, t0, &at_once),
            Some(Outcome::Raise(700_000))
        );
        // Gaps too short to tell are left out: 5 Mbit/s with every other pair stamped together.
        let mut p = ready(t0, 300_000);
        let mut uneven = cluster(6, 1_920, 1);
        for (i, f) in uneven
            .iter_mut()
            .filter(|f| f.payload_type == Some(RTX))
            .enumerate()
        {
            f.arrived_ns = Some(50_000_000 + (i as u64 / 2) * 3_840_000);
        }
        let rtx: Vec<Feedback> = uneven
            .iter()
            .filter(|f| f.payload_type == Some(RTX))
            .copied()
            .collect();
        assert_eq!(measure(&rtx), Some(1200.0 * 8.0 * 1e9 / 3_840_000.0));
        assert_eq!(
            probe_once(&mut p, 2_000, t0, &uneven),
            Some(Outcome::Nothing)
        );
    }

    #[test]
    fn the_lower_of_two_confirming_probes_counts_and_a_failure_between_starts_over() {
        let t0 = Instant::now();
        let mut p = ready(t0, 300_000);
        // Just the target (1200 bytes every 16 ms), then far more: 95 % of the lower.
        let just = cluster(5, 16_000, 1);
        let wide = cluster(10, 1_920, 1);
        assert_eq!(probe_once(&mut p, 2_000, t0, &just), Some(Outcome::Nothing));
        assert_eq!(
            probe_once(&mut p, 3_100, t0, &wide),
            Some(Outcome::Raise(570_000))
        );
        // After a fall, two again.
        p.on_estimate(at(t0, 3_200), 570_000);
        p.on_estimate(at(t0, 3_300), 500_000);
        assert_eq!(probe_once(&mut p, 4_400, t0, &wide), Some(Outcome::Nothing));
        assert_eq!(
            probe_once(&mut p, 5_500, t0, &wide),
            Some(Outcome::Raise(1_000_000))
        );
        // Through, not through, through: not yet.
        let mut p = ready(t0, 300_000);
        let narrow = cluster(5, 19_200, 1);
        assert_eq!(probe_once(&mut p, 2_000, t0, &wide), Some(Outcome::Nothing));
        assert_eq!(
            probe_once(&mut p, 3_100, t0, &narrow),
            Some(Outcome::Nothing)
        );
        assert_eq!(probe_once(&mut p, 6_200, t0, &wide), Some(Outcome::Nothing));
        assert_eq!(
            probe_once(&mut p, 7_300, t0, &wide),
            Some(Outcome::Raise(600_000))
        );
    }

    #[test]
    fn a_fall_or_a_loss_or_silence_ends_a_probe_without_raising() {
        let t0 = Instant::now();
        let wide = cluster(10, 1_920, 1);
        // The estimate falls while the probe is out: given up, and the quiet period restarts.
        let mut p = ready(t0, 300_000);
        assert!(p.poll(at(t0, 2_000), &AT_HAND).is_some());
        p.on_estimate(at(t0, 2_050), 200_000);
        assert_eq!(p.on_feedback(at(t0, 2_100), &wide, is_rtx), None);
        assert_eq!(p.poll(at(t0, 4_000), &AT_HAND), None);
        assert_eq!(
            p.poll(at(t0, 5_100), &AT_HAND),
            None,
            "not within 80 % of 300"
        );
        p.on_estimate(at(t0, 5_200), 250_000);
        assert_eq!(p.poll(at(t0, 5_300), &AT_HAND), probe(500_000, 5));
        // A packet of the cluster lost.
        let mut p = ready(t0, 300_000);
        let mut lost = wide.clone();
        lost[3].arrived_ns = None;
        assert_eq!(probe_once(&mut p, 2_000, t0, &lost), Some(Outcome::Nothing));
        // No feedback at all: given up after a second.
        let mut p = ready(t0, 300_000);
        assert!(p.poll(at(t0, 2_000), &AT_HAND).is_some());
        assert_eq!(p.poll(at(t0, 2_900), &AT_HAND), None);
        assert_eq!(
            p.poll(at(t0, 3_100), &AT_HAND),
            None,
            "given up, then the wait"
        );
        assert!(p.poll(at(t0, 6_200), &AT_HAND).is_some());
        // Feedback in pieces adds up; other payload types are not the probe.
        let mut p = ready(t0, 300_000);
        assert_eq!(probe_once(&mut p, 2_000, t0, &wide), Some(Outcome::Nothing));
        assert!(p.poll(at(t0, 3_100), &AT_HAND).is_some());
        assert_eq!(p.on_feedback(at(t0, 3_150), &wide[..5], is_rtx), None);
        assert_eq!(
            p.on_feedback(at(t0, 3_160), &wide[5..], is_rtx),
            Some(Outcome::Raise(600_000))
        );
    }
}
