//! A call over a bad network: two clients in their own network namespaces, joined by a link
//! that loses 5 % of packets and delays each by 100 ms, each way. The call holds, video
//! keeps at least 20 frames a second, and congestion control estimates the path.

use std::time::{Duration, Instant};

use assent_e2e::call::Client;
use assent_e2e::netem::{ADDR_A, ADDR_B, Impairment, LossyLink, ice_args};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(45);
/// The video bitrate's maximum at 640x480, 30 fps (`MediaOptions::with_size`), kbit/s.
const MAX_KBPS: u64 = 920;

async fn frames_from(c: &mut Client, name: &str) -> u64 {
    // A stats request left unanswered is asked again, not read as no frames (a later reading
    // would then be below an earlier one).
    c.wait_media(name, 0, 0, WAIT).await["video_frames"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_holds_over_five_percent_loss_and_100ms_delay() {
    let link = LossyLink::new(
        "loss",
        Impairment {
            loss: 0.05,
            delay: Duration::from_millis(100),
        },
        7,
    );
    // The server lives in A's namespace; B reaches it over the impaired link too.
    let (_server, ann, bob) = link.ann_and_bob().await;
    let code = ann.create_meeting("Lossy");
    let mut a = ann.join(&code, &ice_args(ADDR_A));
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, &ice_args(ADDR_B));
    a.event("connected", WAIT).await;
    b.event("connected", WAIT).await;
    a.wait_media("Bob", 30, 500, WAIT).await;
    b.wait_media("Ann", 30, 500, WAIT).await;

    // Measure ten seconds of video both ways.
    let start = Instant::now();
    let (a0, b0) = (
        frames_from(&mut a, "Bob").await,
        frames_from(&mut b, "Ann").await,
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (a1, b1) = (
        frames_from(&mut a, "Bob").await,
        frames_from(&mut b, "Ann").await,
    );
    let secs = start.elapsed().as_secs_f64();
    let fps_at_a = (a1 - a0) as f64 / secs;
    let fps_at_b = (b1 - b0) as f64 / secs;
    let dropped = link.dropped.load(std::sync::atomic::Ordering::Relaxed);
    let forwarded = link.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "fps at Ann {fps_at_a:.1}, at Bob {fps_at_b:.1}; link dropped {dropped} of {}",
        dropped + forwarded
    );
    assert!(dropped > 0, "the link must actually lose packets");
    assert!(fps_at_a >= 20.0, "Ann sees Bob at {fps_at_a:.1} fps");
    assert!(fps_at_b >= 20.0, "Bob sees Ann at {fps_at_b:.1} fps");
    // Congestion control runs on transport-wide feedback: each side estimates what the path
    // to the other carries, within its bounds (160 kbit/s up, audio included).
    for (c, peer) in [(&mut a, "Bob"), (&mut b, "Ann")] {
        let estimate = c
            .peer_stats(peer)
            .await
            .and_then(|p| p["send_estimate_kbps"].as_u64());
        eprintln!("estimate of the path to {peer}: {estimate:?} kbit/s");
        assert!(
            estimate.is_some_and(|k| k >= 160),
            "no congestion estimate for the path to {peer}: {estimate:?}"
        );
    }
    // Still one call: nobody was dropped.
    assert!(a.seen("participant_left").is_empty() && b.seen("participant_left").is_empty());
    b.leave().await;
    a.leave().await;
}

/// Through a 500 kbit/s bottleneck with a deep queue (400 ms, like a home router's), delay-based
/// congestion control brings Bob's video under what the link carries within seconds and keeps
/// the queue short, where the loss-based rate alone would fill it: frames keep coming and arrive
/// with little more latency than the link's own 40 ms. When the bottleneck lifts, the rate
/// climbs back within 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn congestion_control_keeps_a_bottleneck_queue_short() {
    let link = LossyLink::new(
        "gcc",
        Impairment {
            loss: 0.0,
            delay: Duration::from_millis(40),
        },
        9,
    );
    link.bottleneck_to_a(500, 400);
    let (_server, ann, bob) = link.ann_and_bob().await;
    let code = ann.create_meeting("Bottleneck");
    // Both report once a second on their own clock; the test reads those reports.
    let mut a_args = ice_args(ADDR_A);
    a_args.extend(["--video", "none", "--stamp-frames", "--stats-every", "1"]);
    let mut b_args = ice_args(ADDR_B);
    b_args.extend([
        "--video",
        "test:busy",
        "--stamp-frames",
        "--stats-every",
        "1",
    ]);
    let mut a = ann.join(&code, &a_args);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, &b_args);
    a.wait_media("Bob", 1, 0, WAIT).await;
    // Within five seconds of the first frame, Bob's encoder is under what the link carries.
    let start = Instant::now();
    let settled_at = loop {
        let s = next_report(&mut b).await;
        if s["video_target_kbps"].as_u64().unwrap_or(u64::MAX) < 500 {
            break s["at"].as_u64().unwrap_or(0);
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "Bob's video target still {} kbit/s after 5 s through a 500 kbit/s bottleneck",
            s["video_target_kbps"]
        );
    };
    // Ann's reports from then on; Bob's over the same five seconds.
    let mut at_ann = Vec::new();
    while at_ann.len() < 6 {
        let s = next_report(&mut a).await;
        if s["at"].as_u64().unwrap_or(0) >= settled_at {
            at_ann.push(peer(&s, "Bob"));
        }
    }
    let mut worst_target = 0u64;
    for _ in 0..5 {
        let s = next_report(&mut b).await;
        worst_target = worst_target.max(s["video_target_kbps"].as_u64().unwrap_or(u64::MAX));
    }
    let frames_at = |p: &Value| p["video_frames"].as_u64().unwrap_or(0);
    let frames = frames_at(&at_ann[5]) - frames_at(&at_ann[0]);
    let worst_gap = at_ann[1..]
        .iter()
        .map(|p| p["max_frame_gap_ms"].as_u64().unwrap_or(u64::MAX))
        .max()
        .unwrap_or(0);
    let mut latencies: Vec<f64> = at_ann[1..]
        .iter()
        .filter_map(|p| p["recent_latency_p50_ms"].as_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let median = latencies.get(latencies.len() / 2).copied();
    eprintln!(
        "Bob's target at most {worst_target} kbit/s; Ann got {frames} frames, longest gap \
         {worst_gap} ms, latency per second (median) {latencies:?}"
    );
    assert!(
        worst_target < 500,
        "Bob's video target {worst_target} kbit/s through a 500 kbit/s bottleneck"
    );
    assert!(frames >= 75, "only {frames} frames in about 5 s");
    assert!(worst_gap <= 1000, "a freeze of {worst_gap} ms");
    // The link takes 40 ms; coding and the jitter buffer some 30 more; a full queue 400 more.
    assert!(
        median.is_some_and(|m| m < 200.0),
        "frames arrive {median:?} ms after capture: the queue is full"
    );
    // The bottleneck lifts to 5 Mbit/s: bandwidth probes find it, and Bob's video climbs back
    // to 90 % of its maximum within 10 s (by his own clock), where the estimate alone grows 8 %
    // a second.
    link.bottleneck_to_a(5000, 400);
    // Bob's reports are stamped in Unix ms on this machine's clock.
    let lifted = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (climbed, probes) = loop {
        let s = next_report(&mut b).await;
        let at = s["at"].as_u64().unwrap_or(0);
        let target = s["video_target_kbps"].as_u64().unwrap_or(0);
        let to_ann = peer(&s, "Ann");
        if target >= MAX_KBPS * 9 / 10 {
            break (
                at.saturating_sub(lifted),
                to_ann["probes_raised"].as_u64().unwrap_or(0),
            );
        }
        assert!(
            at.saturating_sub(lifted) <= 10_000,
            "Bob's video target {target} kbit/s 10 s after the bottleneck lifted (estimate {}, \
             probes {}, raised {})",
            to_ann["send_estimate_kbps"],
            to_ann["probes"],
            to_ann["probes_raised"]
        );
    };
    eprintln!("climbed back in {climbed} ms; {probes} probes raised the estimate");
    b.leave().await;
    a.leave().await;
}

/// The client's next once-a-second report.
async fn next_report(c: &mut Client) -> Value {
    c.event("stats", Duration::from_secs(10)).await["stats"].clone()
}

/// What a report says about the peer named `name`.
fn peer(stats: &Value, name: &str) -> Value {
    stats["peers"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == name).cloned())
        .unwrap_or_default()
}
