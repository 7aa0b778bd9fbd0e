//! A call over a bad network: two clients in their own network namespaces, joined by a link
//! that loses 5 % of packets and delays each by 100 ms, each way. The call holds and video
//! keeps at least 20 frames a second.

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
    // Still one call: nobody was dropped.
    assert!(a.seen("participant_left").is_empty() && b.seen("participant_left").is_empty());
    b.leave().await;
    a.leave().await;
}
