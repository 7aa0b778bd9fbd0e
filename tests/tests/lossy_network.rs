//! A call over a bad network: two clients in their own network namespaces, joined by a link
//! that loses 5 % of packets and delays each by 100 ms, each way. The call holds, video
//! keeps at least 20 frames a second, and congestion control estimates the path.

use std::time::{Duration, Instant};

use assent_e2e::call::{Client, Server, ServerOptions};
use assent_e2e::netem::{ADDR_A, ADDR_B, Impairment, LossyLink, NETWORK};

const WAIT: Duration = Duration::from_secs(45);

async fn frames_from(c: &mut Client, name: &str) -> u64 {
    c.peer_stats(name)
        .await
        .map_or(0, |p| p["video_frames"].as_u64().unwrap_or(0))
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
    let server = Server::start(ServerOptions {
        netns: Some(link.a.name.clone()),
        listen_ip: ADDR_A.into(),
        ..ServerOptions::default()
    })
    .await;
    let ann = server.user("Ann", Some(link.a.name.clone())).await;
    let bob = server.user("Bob", Some(link.b.name.clone())).await;
    let code = ann.create_meeting("Lossy");
    let mut a = ann.join(
        &code,
        &[
            "--ice-address",
            ADDR_A,
            "--ice-allow",
            NETWORK,
            "--no-server-ice",
        ],
    );
    a.event("joined", WAIT).await;
    let mut b = bob.join(
        &code,
        &[
            "--ice-address",
            ADDR_B,
            "--ice-allow",
            NETWORK,
            "--no-server-ice",
        ],
    );
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
/// with little more latency than the link's own 40 ms.
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
    let server = Server::start(ServerOptions {
        netns: Some(link.a.name.clone()),
        listen_ip: ADDR_A.into(),
        ..ServerOptions::default()
    })
    .await;
    let ann = server.user("Ann", Some(link.a.name.clone())).await;
    let bob = server.user("Bob", Some(link.b.name.clone())).await;
    let code = ann.create_meeting("Bottleneck");
    let ice = |addr: &'static str| {
        vec![
            "--ice-address",
            addr,
            "--ice-allow",
            NETWORK,
            "--no-server-ice",
        ]
    };
    let mut a_args = ice(ADDR_A);
    a_args.extend(["--video", "none", "--stamp-frames"]);
    let mut b_args = ice(ADDR_B);
    b_args.extend(["--video", "test:busy", "--stamp-frames"]);
    let mut a = ann.join(&code, &a_args);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, &b_args);
    a.wait_media("Bob", 1, 0, WAIT).await;
    // Give the call five seconds to settle, then look at the next five.
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = a.peer_stats("Bob").await.expect("Ann's view of Bob");
    let mut worst_target = 0u64;
    let mut worst_gap = 0u64;
    let mut latencies = Vec::new();
    while start.elapsed() < Duration::from_secs(10) {
        // The sampling clock, not a wait for something to happen.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let bob_says = b.stats().await;
        worst_target = worst_target.max(bob_says["video_target_kbps"].as_u64().unwrap_or(0));
        let p = a.peer_stats("Bob").await.expect("Ann's view of Bob");
        worst_gap = worst_gap.max(p["max_frame_gap_ms"].as_u64().unwrap_or(u64::MAX));
        if let Some(l) = p["recent_latency_p50_ms"].as_f64() {
            latencies.push(l);
        }
    }
    let after = a.peer_stats("Bob").await.expect("Ann's view of Bob");
    let frames =
        after["video_frames"].as_u64().unwrap_or(0) - before["video_frames"].as_u64().unwrap_or(0);
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
    b.leave().await;
    a.leave().await;
}
