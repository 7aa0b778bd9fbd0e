//! Bandwidth probing: how the send rate climbs back quickly when a bottleneck lifts.
//!
//! Google Congestion Control's delay-based estimate only grows by 8 % a second, so after the
//! path widens it takes many seconds to use it (from 300 kbit/s to 900, some 14 s). libwebrtc
//! answers this with probes: a short cluster of extra packets sent faster than the estimate,
//! whose arrival times in the transport-wide feedback say what the path carries; a probe that
//! comes through raises the estimate at once. This is that, with retransmissions (RTX copies of
//! the latest video packets, which the receiver drops as duplicates) as the probe's packets:
//! - a probe is sent only when the estimate has been rising for a second, and either is 10 %
//!   past the points where the path last filled (at each of the estimate's last three falls,
//!   what the feedback says arrived over the half second before, or the estimate if lower:
//!   the path may have widened) or under 85 % of them 2 s after the last fall (the queue is
//!   empty and the estimator still well below: has it widened?). Not in between: the path is
//!   about to fill again, the estimator gets there on its own, and a burst would only fill the
//!   queue. Also not when the estimate is what the encoder can use already, nor too soon after
//!   the last probe, nor in a connection's first 10 s (the estimator's start-up);
//! - its packets (at least 5, and 100 ms of the estimate) leave as a burst (the estimator's
//!   pacer lets them out in its 5 ms ticks). What the path carries is the lowest rate over
//!   the cluster's tails that the path stretched (that took longer to arrive than to send): a
//!   shaper (a token bucket) lets its burst allowance through at once and the rest at its
//!   rate, so a measure over the whole cluster would be fooled, and one over a single gap is
//!   at the mercy of jitter. A cluster the path did not stretch went through at the rate it was
//!   sent (all at once: more than it, in a burst at least);
//! - a probe comes through when the path carried at least 90 % of its target (twice the
//!   estimate). Two in a row must, half a second apart (a receiver busy with other work can
//!   stamp arrivals too close together): then the estimate becomes the lower of their targets
//!   and 95 % of what they measured (libwebrtc's target utilisation), and from there each next
//!   probe that comes through raises it again on its own. Otherwise nothing changes (the
//!   delay-based estimate goes on near the path's limit) and the next probe waits longer.
//!
//! Pure: the caller feeds estimates and feedback and sends what it is told.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packets in a probe cluster: at least (libwebrtc's minimum), and at most.
const MIN_PACKETS: usize = 5;
pub(crate) const MAX_PACKETS: usize = 20;
/// A cluster carries this much of the estimate, ms (the queue it adds where the path is full).
const CLUSTER_MS: u64 = 100;
/// The estimate must have risen without a fall for this long before a probe.
const QUIET: Duration = Duration::from_secs(1);
/// No probe with the estimate between these fractions of the highest of the last points where
/// the path filled, and none under them this soon after the last.
const NEAR: (f64, f64) = (0.85, 1.1);
const RECOVERY: Duration = Duration::from_secs(2);
/// How many points where the path filled are remembered.
const FILLS: usize = 3;
/// What arrived is counted over this much of the feedback, ns.
const WINDOW_NS: u64 = 500_000_000;
/// Between a probe that came through and the next.
const AFTER_SUCCESS: Duration = Duration::from_millis(500);
/// Between a probe that found the path near its limit and the next.
const AFTER_FAILURE: Duration = Duration::from_secs(3);
/// No probe in a connection's first seconds: the estimator starts above or below the path and
/// converges, and a probe would only measure the queue it fills on the way.
const START_UP: Duration = Duration::from_secs(10);
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
    /// When it was sent, ns on our clock.
    pub(crate) sent_ns: u64,
    /// When it arrived, ns on the receiver's clock; `None`: lost.
    pub(crate) arrived_ns: Option<u64>,
    pub(crate) bytes: u32,
}

impl Feedback {
    fn bits(&self) -> f64 {
        f64::from(self.bytes) * 8.0
    }
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
    /// Where the path filled at each of its last falls after a rise: the highest estimate
    /// before, or what arrived then if less (a start above the path). Newest last.
    fills: VecDeque<u32>,
    /// What arrived lately, from the feedback: (arrival ns, bits).
    arrived: VecDeque<(u64, f64)>,
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
            fills: VecDeque::new(),
            arrived: VecDeque::new(),
            rising_since: now,
            next_allowed: now,
            pending: None,
        }
    }

    /// For a connection starting now: no probe during its start-up.
    pub(crate) fn starting(mut self, now: Instant) -> Prober {
        self.next_allowed = now + START_UP;
        self
    }

    /// A new estimate from the estimator. A fall marks where the path filled, restarts the
    /// quiet period and ends a probe in flight.
    pub(crate) fn on_estimate(&mut self, now: Instant, bps: u32) {
        if f64::from(bps) < f64::from(self.estimate) * 0.99 {
            // The first cut after a rise (the estimator may cut several times in a row).
            if self.rose {
                if self.fills.len() == FILLS {
                    self.fills.pop_front();
                }
                let carried = self.arriving().map_or(u32::MAX, |bps| bps.round() as u32);
                self.fills.push_back(self.peak.min(carried));
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
            || !self.may_have_widened(now)
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
        for f in packets {
            if let Some(t) = f.arrived_ns {
                self.arrived.push_back((t, f.bits()));
            }
        }
        if let Some(&(newest, _)) = self.arrived.back() {
            while self
                .arrived
                .front()
                .is_some_and(|(t, _)| newest.saturating_sub(*t) > WINDOW_NS)
            {
                self.arrived.pop_front();
            }
        }
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

    /// Whether the path may be wider than where it last filled, as far as the estimate shows.
    fn may_have_widened(&self, now: Instant) -> bool {
        let Some(high) = self.fills.iter().max() else {
            return true;
        };
        let (estimate, high) = (f64::from(self.estimate), f64::from(*high));
        estimate >= high * NEAR.1
            || (estimate < high * NEAR.0 && now.duration_since(self.rising_since) >= RECOVERY)
    }

    /// What has been arriving, bit/s, over the last half second of feedback.
    fn arriving(&self) -> Option<f64> {
        let (first, last) = (self.arrived.front()?.0, self.arrived.back()?.0);
        let span = last.checked_sub(first).filter(|s| *s >= WINDOW_NS / 2)?;
        let bits: f64 = self.arrived.iter().skip(1).map(|(_, b)| b).sum();
        Some(bits * 1e9 / span as f64)
    }

    /// What came through before counts no more.
    fn forget(&mut self) {
        self.unconfirmed = None;
        self.streak = false;
    }
}

/// What the path carried, bit/s, from a cluster sent as one burst: the lowest rate over the
/// cluster's tails that the path stretched (the bits from a packet on over the time from the
/// arrival of the one before it to the last, when that is longer than it took to send them).
/// A shaper lets its burst through at once and the rest at its rate, so a tail past the burst
/// shows its rate, where the whole cluster or one short gap would not; a late packet holds
/// back the ones behind it, which then come together, so a tail from it does not look slow.
/// With no tail stretched, the rate it was sent at (infinite when all at once). `None` when a
/// packet was lost.
fn measure(cluster: &[Feedback]) -> Option<f64> {
    let mut packets = cluster
        .iter()
        .map(|f| Some((f.sent_ns, f.arrived_ns?, f.bits())))
        .collect::<Option<Vec<_>>>()?;
    packets.sort_by_key(|(sent, _, _)| *sent);
    let (first, last) = (*packets.first()?, *packets.last()?);
    let stretched = (1..packets.len())
        .filter_map(|k| {
            let tail = &packets[k..];
            let arrived = tail
                .iter()
                .map(|p| p.1)
                .max()?
                .saturating_sub(packets[k - 1].1);
            let sent = last.0 - packets[k - 1].0;
            (arrived >= sent + TOO_CLOSE_NS)
                .then(|| tail.iter().map(|p| p.2).sum::<f64>() * 1e9 / arrived as f64)
        })
        .fold(f64::INFINITY, f64::min);
    if stretched.is_finite() {
        return Some(stretched);
    }
    let span = last.0 - first.0;
    if span < TOO_CLOSE_NS {
        return Some(f64::INFINITY);
    }
    Some(packets[1..].iter().map(|p| p.2).sum::<f64>() * 1e9 / span as f64)
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
                sent_ns: i,
                arrived_ns: Some(i * 1000),
                bytes: 900,
            });
            let late = (i + 1).saturating_sub(burst as u64);
            out.push(Feedback {
                payload_type: Some(RTX),
                sent_ns: 10 + i,
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
        assert_eq!(p.poll(at(t0, 2_500), &AT_HAND), None, "half a second apart");
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
    fn no_probe_in_the_start_up() {
        let t0 = Instant::now();
        let mut p = Prober::new(t0, 300_000, 1_000_000, 1_500_000).starting(t0);
        p.on_estimate(at(t0, 500), 400_000);
        assert_eq!(p.poll(at(t0, 9_900), &AT_HAND), None);
        assert_eq!(p.poll(at(t0, 10_000), &AT_HAND), probe(800_000, 5));
    }

    #[test]
    fn where_the_path_filled_is_what_arrived_when_that_is_less() {
        let t0 = Instant::now();
        // Started at 900 on a path that carries 500: the feedback says 500 arrive.
        let mut p = Prober::new(t0, 800_000, 2_000_000, 3_000_000);
        p.on_estimate(at(t0, 100), 900_000);
        let arriving: Vec<Feedback> = (0..30)
            .map(|i| Feedback {
                payload_type: Some(96),
                sent_ns: i * 16_000_000,
                arrived_ns: Some(i * 16_000_000),
                bytes: 1000,
            })
            .collect();
        assert_eq!(p.on_feedback(at(t0, 600), &arriving, is_rtx), None);
        p.on_estimate(at(t0, 700), 400_000);
        // 540 is under 110 % of 500 and over 85 % of it: no probe; 560 is past it.
        p.on_estimate(at(t0, 3_000), 540_000);
        assert_eq!(p.poll(at(t0, 3_100), &AT_HAND), None);
        p.on_estimate(at(t0, 3_200), 560_000);
        assert_eq!(p.poll(at(t0, 3_300), &AT_HAND), probe(1_120_000, 6));
    }

    #[test]
    fn no_probe_just_after_the_path_filled() {
        let t0 = Instant::now();
        let mut p = Prober::new(t0, 800_000, 2_000_000, 3_000_000);
        p.on_estimate(at(t0, 500), 900_000);
        assert_eq!(p.poll(at(t0, 1_200), &AT_HAND), probe(1_800_000, 10));
        // The path fills at 900: the estimator cuts twice, and the probe is given up.
        p.on_estimate(at(t0, 1_300), 760_000);
        p.on_estimate(at(t0, 1_400), 650_000);
        let wide = cluster(10, 1_920, 1);
        assert_eq!(p.on_feedback(at(t0, 1_450), &wide, is_rtx), None);
        // Under 85 % of 900: not for 2 s after the fall (nor 3 s after the failed probe).
        p.on_estimate(at(t0, 4_000), 700_000);
        assert_eq!(p.poll(at(t0, 4_250), &AT_HAND), None);
        assert_eq!(p.poll(at(t0, 4_350), &AT_HAND), probe(1_400_000, 8));
        // Near it (85 % to 110 %), whatever the time: it is about to fill again.
        let narrow = cluster(10, 19_200, 1);
        let got = p.on_feedback(at(t0, 4_450), &narrow, is_rtx);
        assert_eq!(got, Some(Outcome::Nothing));
        p.on_estimate(at(t0, 4_600), 800_000);
        assert_eq!(p.poll(at(t0, 9_000), &AT_HAND), None);
        // Past it: it may have widened.
        p.on_estimate(at(t0, 9_100), 1_000_000);
        assert_eq!(p.poll(at(t0, 9_200), &AT_HAND), probe(2_000_000, 11));
        // Three fills remembered: the highest counts.
        for (rise, fall) in [(1_000_000, 9_300), (600_000, 9_500), (700_000, 9_700)] {
            p.on_estimate(at(t0, fall - 100), rise);
            p.on_estimate(at(t0, fall), rise / 2);
        }
        p.on_estimate(at(t0, 20_000), 860_000);
        assert_eq!(
            p.poll(at(t0, 20_100), &AT_HAND),
            None,
            "85 % of 1000 is 850"
        );
        p.on_estimate(at(t0, 20_200), 1_090_000);
        assert_eq!(
            p.poll(at(t0, 20_300), &AT_HAND),
            None,
            "110 % of 1000 is 1100"
        );
        p.on_estimate(at(t0, 20_400), 1_110_000);
        assert!(p.poll(at(t0, 20_500), &AT_HAND).is_some());
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
        // As measured through the benchmark's 500 kbit/s shaper: three in its burst, with 0.75 ms
        // of jitter between the second and third (which must not count as the shaper's rate).
        let bench: Vec<Feedback> = [
            (0, 0, 934),
            (164, 250, 850),
            (199, 1_000, 964),
            (314, 13_250, 853),
            (5_095, 27_750, 845),
        ]
        .into_iter()
        .map(|(sent_us, arrived_us, bytes)| Feedback {
            payload_type: Some(RTX),
            sent_ns: sent_us * 1000,
            arrived_ns: Some(arrived_us * 1000),
            bytes,
        })
        .collect();
        let rate = measure(&bench).unwrap_or(0.0);
        assert!((460_000.0..470_000.0).contains(&rate), "{rate}");
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
        assert_eq!(measure(&rtx), Some(4.0 * 1200.0 * 8.0 * 1e9 / 7_680_000.0));
        assert_eq!(
            probe_once(&mut p, 2_000, t0, &uneven),
            Some(Outcome::Nothing)
        );
        // Sent in the pacer's 5 ms ticks, two at a time, and arriving as sent: the path took
        // them at the rate they were sent (3.84 Mbit/s over the cluster), not the gap's.
        let mut ticks = cluster(5, 0, 5);
        for (i, f) in ticks
            .iter_mut()
            .filter(|f| f.payload_type == Some(RTX))
            .enumerate()
        {
            f.sent_ns = (i as u64 / 2) * 5_000_000;
            f.arrived_ns = Some(40_000_000 + f.sent_ns);
        }
        let rtx: Vec<Feedback> = ticks
            .iter()
            .filter(|f| f.payload_type == Some(RTX))
            .copied()
            .collect();
        assert_eq!(measure(&rtx), Some(4.0 * 1200.0 * 8.0 * 1e9 / 10_000_000.0));
        // Stretched by the path: 3 ms apart where sent 1 ms apart is the path's 3.2 Mbit/s.
        let mut slowed = rtx.clone();
        for (i, f) in slowed.iter_mut().enumerate() {
            f.sent_ns = i as u64 * 1_000_000;
            f.arrived_ns = Some(i as u64 * 3_000_000);
        }
        assert_eq!(
            measure(&slowed),
            Some(4.0 * 1200.0 * 8.0 * 1e9 / 12_000_000.0)
        );
        // One packet held up 6 ms on a fast path, the rest coming just behind it: the path's
        // rate, not that gap's.
        let mut held = rtx.clone();
        for (i, f) in held.iter_mut().enumerate() {
            f.sent_ns = i as u64;
            f.arrived_ns = Some(if i < 2 {
                i as u64 * 100_000
            } else {
                6_100_000 + i as u64 * 100_000
            });
        }
        assert_eq!(measure(&held), Some(3.0 * 1200.0 * 8.0 * 1e9 / 6_400_000.0));
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
        p.on_estimate(at(t0, 3_300), 400_000);
        assert_eq!(probe_once(&mut p, 6_400, t0, &wide), Some(Outcome::Nothing));
        assert_eq!(
            probe_once(&mut p, 7_500, t0, &wide),
            Some(Outcome::Raise(800_000))
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
        assert_eq!(p.poll(at(t0, 5_100), &AT_HAND), probe(400_000, 5));
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
