//! Lip sync benchmark: Ann's test picture flashes white and her test tone beeps at the same
//! instant once a second; Bob's client shows her pictures the way the window gets them (with
//! `--play`, on a private PulseAudio server's null sink) and measures when each flash reaches
//! the picture sink against when its beep is played, with lip sync on and off. Frame stamps give
//! the glass-to-glass latency of the pictures as shown.
//!
//! Run with `cargo xtask bench-lipsync` (release binaries; results in
//! `target/bench-results/lipsync.json`). Option: `--seconds S` per run (default 30). The run
//! fails when the 95th percentile of |offset| with lip sync exceeds 40 ms.

use std::time::Duration;

use assent_e2e::bench::{arg, machine, publish};
use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions, User};
use assent_e2e::pulse::PulseAudio;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn run(ann: &User, bob: &User, seconds: u64, lip_sync: bool) -> Value {
    let pulse = PulseAudio::start(&["out"]);
    let env = vec![("PULSE_SERVER".to_string(), pulse.server())];
    let code = ann.create_meeting("Lip sync");
    let mut a_args = LOOPBACK_ICE.to_vec();
    a_args.extend([
        "--video",
        "test:flash",
        "--audio",
        "test:beep",
        "--stamp-frames",
    ]);
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend([
        "--video",
        "none",
        "--muted",
        "--play",
        "--speaker",
        "out",
        "--stamp-frames",
        "--lip-sync",
        if lip_sync { "on" } else { "off" },
    ]);
    let mut a = ann.join_env(&code, &a_args, &env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, &env);
    b.event("connected", WAIT).await;
    b.wait_media("Ann", 30, 1000, WAIT).await;
    eprintln!(
        "bench: lip sync {} for {seconds} s",
        if lip_sync { "on" } else { "off" }
    );
    // The measurement window.
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let s = b
        .peer_stats("Ann")
        .await
        .expect("Bob's statistics about Ann");
    b.leave().await;
    a.leave().await;
    drop(pulse);
    json!({
        "av_offset_p50_ms": s["av_offset_p50_ms"],
        "av_offset_p95_abs_ms": s["av_offset_p95_abs_ms"],
        "av_offset_samples": s["av_offset_samples"],
        "shown_latency_p50_ms": s["shown_latency_p50_ms"],
        "shown_latency_p95_ms": s["shown_latency_p95_ms"],
        "decoded_latency_p50_ms": s["latency_p50_ms"],
        "decoded_latency_p95_ms": s["latency_p95_ms"],
        "fps": s["fps"],
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = arg("--seconds", 30).max(5);
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let on = run(&ann, &bob, seconds, true).await;
    let off = run(&ann, &bob, seconds, false).await;
    let report = json!({
        "machine": machine(),
        "seconds_per_run": seconds,
        "lip_sync_on": on,
        "lip_sync_off": off,
    });
    publish(&report);
    let samples = on["av_offset_samples"].as_u64().unwrap_or(0);
    assert!(
        samples + 3 >= seconds,
        "only {samples} flashes were paired with beeps in {seconds} s"
    );
    let p95 = on["av_offset_p95_abs_ms"].as_f64().unwrap_or(f64::MAX);
    assert!(
        p95 <= 40.0,
        "95th percentile of |audio-video offset| {p95:.1} ms with lip sync, want at most 40 ms"
    );
}
