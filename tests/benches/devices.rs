//! Device layer benchmark: the CPU a call's client spends on its microphone and its speaker
//! through cpal (its own threads, an `appsrc` and an `appsink`) against GStreamer's own
//! PulseAudio elements (`pulsesrc`, `pulsesink`). One real PulseAudio
//! server; Ann's microphone hears a tone (a null sink that `module-sine` plays into), Bob plays
//! the call on a null sink. Ann's client is measured for the microphone, Bob's for the speaker,
//! audio only (no video: the difference is a few percent of a core and video would bury it),
//! with voice processing on, as a call has it. The two paths take turns, twice each.
//!
//! Then the camera: Ann sends a test camera's picture (the `LD_PRELOAD` Video4Linux camera the
//! camera tests use, YUYV 640x480 at 30 frames a second) through nokhwa (`camera:`) and through
//! GStreamer's `v4l2src` (`v4l2:`), video only, and her client is measured; Bob receives.
//!
//! Run with `cargo xtask bench-devices` (release binaries; results in
//! `target/bench-results/devices.json`). Option: `--seconds S` per window (default 20).

use std::time::{Duration, Instant};

use assent_e2e::bench::{arg, cpu_seconds, machine, publish};
use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions, User};
use assent_e2e::fakecam;
use assent_e2e::pulse::PulseAudio;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// Ann's and Bob's CPU over `secs` in a call, Ann's microphone given by `mic`, Bob playing on
/// `speaker`; percent of a core.
async fn window(
    ann: &User,
    bob: &User,
    env: &[(String, String)],
    (mic, speaker): (&str, &str),
    secs: u64,
) -> (f64, f64) {
    let code = ann.create_meeting("Bench");
    let mut a_args = LOOPBACK_ICE.to_vec();
    a_args.extend(["--video", "none", "--audio", mic]);
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend([
        "--video",
        "none",
        "--audio",
        "test",
        "--play",
        "--speaker",
        speaker,
    ]);
    let mut a: Client = ann.join_env(&code, &a_args, env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, env);
    b.wait_media("Ann", 0, 2000, WAIT).await;
    let (a0, b0, t0) = (cpu_seconds(a.pid()), cpu_seconds(b.pid()), Instant::now());
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let ann_cpu = (cpu_seconds(a.pid()) - a0) / elapsed * 100.0;
    let bob_cpu = (cpu_seconds(b.pid()) - b0) / elapsed * 100.0;
    let heard = b.peer_stats("Ann").await.unwrap_or_default();
    assert!(
        heard["audio_ms"].as_u64().unwrap_or(0) >= secs * 900,
        "Bob did not hear Ann through {mic} and {speaker}: {heard}"
    );
    b.leave().await;
    a.leave().await;
    eprintln!("bench: {mic}: {ann_cpu:.2} %, {speaker}: {bob_cpu:.2} % of a core");
    (ann_cpu, bob_cpu)
}

/// Ann's CPU over `secs` in a call where she sends the test camera through `video`; percent
/// of a core.
async fn camera_window(
    ann: &User,
    bob: &User,
    env: &[(String, String)],
    video: &str,
    secs: u64,
) -> f64 {
    let code = ann.create_meeting("Bench");
    let mut a_args = LOOPBACK_ICE.to_vec();
    a_args.extend(["--video", video, "--audio", "none"]);
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend(["--video", "none", "--audio", "none"]);
    let mut a: Client = ann.join_env(&code, &a_args, env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, &[]);
    let before = b.wait_media("Ann", 30, 0, WAIT).await;
    let (a0, t0) = (cpu_seconds(a.pid()), Instant::now());
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let ann_cpu = (cpu_seconds(a.pid()) - a0) / elapsed * 100.0;
    let after = b.peer_stats("Ann").await.unwrap_or_default();
    let frames = |v: &serde_json::Value| v["video_frames"].as_u64().unwrap_or(0);
    let fps = (frames(&after) - frames(&before)) as f64 / elapsed;
    assert!(
        fps >= 20.0,
        "Bob saw {fps:.1} frames a second from Ann's camera through {video}"
    );
    b.leave().await;
    a.leave().await;
    eprintln!("bench: {video}: {ann_cpu:.2} % of a core, {fps:.1} frames a second at Bob");
    ann_cpu
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--seconds", 20);
    let pulse = PulseAudio::start(&["out"]);
    pulse.tone_microphone("mic", 440);
    let env = pulse.env();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let (mut cpal, mut gst) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for _ in 0..2 {
        let paths = ("mic:mic.monitor", "cpal:out");
        let (mic, speaker) = window(&ann, &bob, &env, paths, secs).await;
        cpal.0.push(mic);
        cpal.1.push(speaker);
        let paths = ("pulse:mic.monitor", "out");
        let (mic, speaker) = window(&ann, &bob, &env, paths, secs).await;
        gst.0.push(mic);
        gst.1.push(speaker);
    }
    let cameras = tempfile::tempdir().unwrap();
    fakecam::plug(cameras.path(), 0, "Bench Camera", "3080c0");
    let camera_env = fakecam::env(cameras.path());
    let (mut nokhwa, mut v4l2) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        nokhwa.push(camera_window(&ann, &bob, &camera_env, "camera:/dev/video0", secs).await);
        v4l2.push(camera_window(&ann, &bob, &camera_env, "v4l2:/dev/video0", secs).await);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let report = json!({
        "machine": machine(),
        "seconds_per_window": secs,
        "call": "1:1, audio only (Opus 32 kbit/s), voice processing on, loopback",
        "microphone_client_cpu_percent_of_one_core_cpal": cpal.0,
        "microphone_client_cpu_percent_of_one_core_pulsesrc": gst.0,
        "cpal_microphone_extra_cpu_percent_of_one_core": mean(&cpal.0) - mean(&gst.0),
        "speaker_client_cpu_percent_of_one_core_cpal": cpal.1,
        "speaker_client_cpu_percent_of_one_core_pulsesink": gst.1,
        "cpal_speaker_extra_cpu_percent_of_one_core": mean(&cpal.1) - mean(&gst.1),
        "camera": "1:1, Ann sends a test camera (YUYV 640x480, 30 fps), video only, loopback",
        "camera_client_cpu_percent_of_one_core_nokhwa": nokhwa,
        "camera_client_cpu_percent_of_one_core_v4l2src": v4l2,
        "nokhwa_camera_extra_cpu_percent_of_one_core": mean(&nokhwa) - mean(&v4l2),
    });
    publish(&report);
}
