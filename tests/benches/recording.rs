//! Recording benchmark: the recorder's extra CPU in a 1:1 call (the same call measured before
//! and while it is recorded with a cloud copy), and the time from the end of a recorded call
//! to its complete cloud copy in a real S3 server (Garage).
//!
//! Run with `cargo xtask bench-recording` (release binaries; results in
//! `target/bench-results/recording.json`). Options: `--seconds S` per CPU window (default 30),
//! `--call-seconds N`, how long the recorded call lasts in all (default 600: ten minutes).

use std::time::{Duration, Instant};

use assent_e2e::bench::{arg, cpu_seconds, machine};
use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// The recorder's CPU over `secs`, percent of one core.
async fn cpu_window(c: &Client, secs: u64) -> f64 {
    let (c0, t0) = (cpu_seconds(c.pid()), Instant::now());
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    (cpu_seconds(c.pid()) - c0) / t0.elapsed().as_secs_f64() * 100.0
}

fn now_ms() -> u64 {
    assent_shared::Timestamp::now().0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--seconds", 30);
    let call_secs = arg("--call-seconds", 600).max(secs + 10);
    let server = Server::start(ServerOptions {
        s3: true,
        ..ServerOptions::default()
    })
    .await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Bench");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    b.event("connected", WAIT).await;
    a.event("connected", WAIT).await;
    a.wait_media("Bob", 25, 100, WAIT).await;

    eprintln!("bench: 1:1 at 640x480@30 unrecorded for {secs} s");
    let unrecorded = cpu_window(&a, secs).await;
    a.command("record --cloud Bench");
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    let started = a.event("recording_started", WAIT).await;
    let recorded_from = Instant::now();
    a.wait("a first segment", WAIT, |v| v["event"] == "segment_written")
        .await;
    eprintln!("bench: the same call recorded (cloud copy) for {secs} s");
    let recorded = cpu_window(&a, secs).await;
    let rest = call_secs.saturating_sub(recorded_from.elapsed().as_secs());
    eprintln!("bench: recording on for {rest} s more ({call_secs} s in all)");
    // The rest of the call.
    tokio::time::sleep(Duration::from_secs(rest)).await;
    let left_at = now_ms();
    a.leave().await;
    let complete = a.seen("upload_complete");
    let Some(done) = complete.first() else {
        panic!("no complete cloud copy: {:?}", a.seen("upload_failed"));
    };
    let end_to_cloud = done["at"].as_u64().unwrap_or(0).saturating_sub(left_at);
    let bytes = done["total"].as_u64().unwrap_or(0);
    b.leave().await;

    let report = json!({
        "machine": machine(),
        "recording": started["recording"],
        "recorder_cpu_percent_of_one_core_unrecorded": unrecorded,
        "recorder_cpu_percent_of_one_core_recorded": recorded,
        "recording_extra_cpu_percent_of_one_core": recorded - unrecorded,
        "call_seconds_recorded": call_secs,
        "ciphertext_bytes": bytes,
        "call_end_to_complete_cloud_copy_ms": end_to_cloud,
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    let out = std::env::var("ASSENT_BENCH_OUT").unwrap_or_else(|_| "recording.json".into());
    std::fs::write(&out, text).unwrap();
    eprintln!("bench: written to {out}");
}
