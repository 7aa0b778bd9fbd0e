//! Window benchmark: the CPU of the desktop window (engine and drawing) while it shows a 1:1
//! call, next to the headless client at the other end of the same call (same media both ways,
//! no drawing). Both on the same 2-core machine, on a virtual display (Xvfb, tiny-skia).
//!
//! Run with `cargo xtask bench-window` (release binaries; results in
//! `target/bench-results/window.json`). Option: `--seconds S`, the measurement (default 30).

use std::time::{Duration, Instant};

use assent_e2e::bench::{arg, cpu_seconds, machine};
use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions};
use assent_e2e::display::Display;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--seconds", 30);
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = bob.create_meeting("Bench");
    let display = Display::start(1280, 720);
    let window = ann.open_window(&display.name);
    display.wait_for_window("Assent", WAIT);
    display.focus("Assent");
    display.type_text(&format!("assent://join/{code}"));
    display.keys(&["Return"]);
    display.wait_for_window("Assent — Bench", WAIT);
    display.keys(&["Return"]);
    // The meeting setup: Enter joins with the test sources.
    display.wait_for_window("Assent — Bench — getting ready", WAIT);
    display.keys(&["Return"]);
    let mut b = bob.join(&code, LOOPBACK_ICE);
    b.event("joined", WAIT).await;
    display.wait_for_window("Assent — Bench — in call with 1", WAIT);
    b.wait_media("Ann", 60, 1000, WAIT).await;

    eprintln!("bench: window and headless client in a 1:1 call at 640x480@30 for {secs} s");
    let (w0, c0, t0) = (
        cpu_seconds(window.pid()),
        cpu_seconds(b.pid()),
        Instant::now(),
    );
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let window_cpu = (cpu_seconds(window.pid()) - w0) / elapsed * 100.0;
    let client_cpu = (cpu_seconds(b.pid()) - c0) / elapsed * 100.0;
    let fps = b.peer_stats("Ann").await.map(|s| s["fps"].clone());
    let report = json!({
        "machine": machine(),
        "seconds": secs,
        "window_cpu_percent_of_one_core": window_cpu,
        "headless_client_cpu_percent_of_one_core": client_cpu,
        "window_to_headless_ratio": window_cpu / client_cpu,
        "fps_the_client_receives_from_the_window": fps,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if let Ok(out) = std::env::var("ASSENT_BENCH_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}
