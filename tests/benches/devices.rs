//! Device layer benchmark: the CPU a call's client spends on its microphone through cpal (its
//! own capture thread, an `appsrc`) against GStreamer's own PulseAudio element (`pulsesrc`),
//! the path before cpal. One real PulseAudio server; the microphone hears a tone (a null sink
//! that `module-sine` plays into). Ann's client is measured, audio only (no video: the
//! difference is a few percent of a core and video would bury it), with voice processing on,
//! as a call has it. The two paths take turns, twice each.
//!
//! Run with `cargo xtask bench-devices` (release binaries; results in
//! `target/bench-results/devices.json`). Option: `--seconds S` per window (default 20).

use std::time::{Duration, Instant};

use assent_e2e::bench::{arg, cpu_seconds, machine, publish};
use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions, User};
use assent_e2e::pulse::PulseAudio;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// Ann's CPU over `secs` in a call with Bob, her microphone given by `spec`; percent of a core.
async fn window(ann: &User, bob: &User, env: &[(String, String)], spec: &str, secs: u64) -> f64 {
    let code = ann.create_meeting("Bench");
    let mut a_args = LOOPBACK_ICE.to_vec();
    a_args.extend(["--video", "none", "--audio", spec]);
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend(["--video", "none", "--audio", "test"]);
    let mut a: Client = ann.join_env(&code, &a_args, env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, env);
    b.wait_media("Ann", 0, 2000, WAIT).await;
    let (c0, t0) = (cpu_seconds(a.pid()), Instant::now());
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let cpu = (cpu_seconds(a.pid()) - c0) / t0.elapsed().as_secs_f64() * 100.0;
    let heard = b.peer_stats("Ann").await.unwrap_or_default();
    assert!(
        heard["audio_ms"].as_u64().unwrap_or(0) >= secs * 900,
        "Bob did not hear Ann through {spec}: {heard}"
    );
    b.leave().await;
    a.leave().await;
    eprintln!("bench: {spec}: {cpu:.2} % of a core");
    cpu
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--seconds", 20);
    let pulse = PulseAudio::start(&[]);
    pulse.tone_microphone("mic", 440);
    let env = pulse.env();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let (mut cpal, mut gst) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        cpal.push(window(&ann, &bob, &env, "mic:mic.monitor", secs).await);
        gst.push(window(&ann, &bob, &env, "pulse:mic.monitor", secs).await);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let report = json!({
        "machine": machine(),
        "seconds_per_window": secs,
        "call": "1:1, audio only (Opus 32 kbit/s), voice processing on, loopback",
        "client_cpu_percent_of_one_core_cpal": cpal,
        "client_cpu_percent_of_one_core_pulsesrc": gst,
        "cpal_extra_cpu_percent_of_one_core": mean(&cpal) - mean(&gst),
    });
    publish(&report);
}
