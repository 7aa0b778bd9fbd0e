//! Window benchmark: the CPU of the desktop window (engine and drawing) while it shows a call,
//! next to the headless clients in the same call (same media, no drawing). All on the same
//! 2-core machine, on a virtual display (Xvfb, tiny-skia).
//!
//! Run with `cargo xtask bench-window` (release binaries; results in
//! `target/bench-results/window.json`). Options: `--seconds S`, the measurement (default 30);
//! `--people N`, the window and N-1 headless clients (default 2, at most 4: four tiles);
//! `--width W` of the headless clients' video (4:3; default 640). The report has the frame
//! rate each of the window's tiles showed over the last second and the size it showed it at
//! (the window writes them to `ASSENT_TILE_REPORT`).

use std::time::{Duration, Instant};

use assent_e2e::bench::{arg, cpu_seconds, machine};
use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions};
use assent_e2e::display::Display;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = arg("--seconds", 30);
    let people = arg("--people", 2).clamp(2, 4) as usize;
    let width = arg("--width", 640).clamp(160, 1280);
    let size = format!("{width}x{}", width * 3 / 4);
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let mut others = Vec::new();
    for name in ["Bob", "Cat", "Dan"].iter().take(people - 1) {
        others.push(server.user(name, None).await);
    }
    let code = others[0].create_meeting("Bench");
    let display = Display::start(1280, 720);
    let tiles_at = std::env::temp_dir().join(format!("assent-tiles-{}.json", std::process::id()));
    let window = ann.open_window_env(
        &display.name,
        &[("ASSENT_TILE_REPORT", tiles_at.to_str().unwrap())],
    );
    display.wait_for_window("Assent", WAIT);
    display.focus("Assent");
    // Getting ready: Enter joins with the test sources.
    display.get_ready_for(&code, "Bench", WAIT);
    display.keys(&["Return"]);
    let mut clients: Vec<Client> = Vec::new();
    for (i, u) in others.iter().enumerate() {
        let mut args = LOOPBACK_ICE.to_vec();
        args.extend(["--size", size.as_str()]);
        let mut c = u.join(&code, &args);
        c.event("joined", WAIT).await;
        display.wait_for_window(&format!("Assent — Bench — in call with {}", i + 1), WAIT);
        clients.push(c);
    }
    for c in &mut clients {
        c.wait_media("Ann", 60, 1000, WAIT).await;
    }

    eprintln!(
        "bench: the window and {} headless client(s) (video {size}@30; the window's 640x480@30) \
         for {secs} s",
        people - 1
    );
    let pids: Vec<u32> = clients.iter().map(|c| c.pid()).collect();
    let (w0, c0, t0) = (
        cpu_seconds(window.pid()),
        pids.iter().map(|p| cpu_seconds(*p)).collect::<Vec<_>>(),
        Instant::now(),
    );
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let window_cpu = (cpu_seconds(window.pid()) - w0) / elapsed * 100.0;
    let client_cpu: Vec<f64> = pids
        .iter()
        .zip(&c0)
        .map(|(p, c)| (cpu_seconds(*p) - c) / elapsed * 100.0)
        .collect();
    let mean_client = client_cpu.iter().sum::<f64>() / client_cpu.len() as f64;
    let tiles: serde_json::Value = std::fs::read(&tiles_at)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&tiles_at);
    let mut fps = Vec::new();
    for c in &mut clients {
        fps.push(c.peer_stats("Ann").await.map(|s| s["fps"].clone()));
    }
    let report = json!({
        "machine": machine(),
        "seconds": secs,
        "people": people,
        "headless_video": size,
        "window_cpu_percent_of_one_core": window_cpu,
        "headless_client_cpu_percent_of_one_core": client_cpu,
        "window_to_headless_ratio": window_cpu / mean_client,
        "window_tiles_fps_and_size": tiles,
        "fps_each_client_receives_from_the_window": fps,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if let Ok(out) = std::env::var("ASSENT_BENCH_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}
