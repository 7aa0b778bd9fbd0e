//! Recording benchmark: the recorder's extra CPU in a 1:1 call (the same call measured before
//! and while it is recorded with a cloud copy), and the time from the end of a recorded call
//! to its complete cloud copy in a real S3 server (Garage).
//!
//! Run with `cargo xtask bench-recording` (release binaries; results in
//! `target/bench-results/recording.json`). Options: `--seconds S` per CPU window (default 30),
//! `--call-seconds N`, how long the recorded call lasts in all (default 600: ten minutes).

use std::time::{Duration, Instant};

use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time (user + system) of a process so far, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

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
        "machine": {
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "cpu": std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())),
        },
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
