//! Call benchmark: setup time to the first remote frame, glass-to-glass latency, CPU of a 1:1
//! call at two sizes, and the largest mesh this machine runs without dropping frames.
//!
//! Run with `cargo xtask bench-calls` (release binaries; results in
//! `target/bench-results/calls.json`). Options: `--setup-calls N` (default 20), `--seconds S`
//! per measurement (default 20), `--max-mesh N` (default 5).
//!
//! Everything runs on loopback with test sources; "glass to glass" is from the raw frame
//! leaving the test source to the decoded frame at the receiver (no camera, no screen).

use std::time::{Duration, Instant};

use assent_e2e::bench::{arg, cpu_seconds, machine};
use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions, User};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn users(server: &Server, n: usize) -> Vec<User> {
    let names = ["Ann", "Bob", "Cat", "Dan", "Eve", "Fay"];
    let mut v = Vec::new();
    for name in names.iter().take(n) {
        v.push(server.user(name, None).await);
    }
    v
}

/// Join → first remote frame, `calls` times: Ann waits in the room, Bob joins fresh each time.
async fn setup(server: &Server, ann: &User, bob: &User, calls: u64) -> Value {
    let code = ann.create_meeting("Setup");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut from_joined = Vec::new();
    let mut from_start = Vec::new();
    for _ in 0..calls {
        let started = assent_shared::Timestamp::now().0;
        let mut b = bob.join(&code, LOOPBACK_ICE);
        let joined = b.event("joined", WAIT).await["at"].as_u64().unwrap();
        b.event("connected", WAIT).await;
        let s = b.wait_media("Ann", 1, 0, WAIT).await;
        let first = s["first_frame_at"].as_u64().unwrap();
        from_joined.push(first.saturating_sub(joined) as f64);
        from_start.push(first.saturating_sub(started) as f64);
        b.leave().await;
        a.wait("Bob leaving", WAIT, |v| v["event"] == "participant_left")
            .await;
    }
    let _ = server;
    json!({
        "calls": calls,
        "seat_to_first_frame_ms": {"p50": percentile(&mut from_joined, 0.5), "p95": percentile(&mut from_joined, 0.95)},
        "process_start_to_first_frame_ms": {"p50": percentile(&mut from_start, 0.5), "p95": percentile(&mut from_start, 0.95)},
    })
}

/// Start a call of `people` with `extra` arguments; everyone connected to everyone.
async fn call(people: &[User], extra: &[&str]) -> Vec<Client> {
    let code = people[0].create_meeting("Bench");
    let mut args: Vec<&str> = LOOPBACK_ICE.to_vec();
    args.extend(extra);
    let mut clients: Vec<Client> = Vec::new();
    for (i, u) in people.iter().enumerate() {
        let mut c = u.join(&code, &args);
        c.event("joined", WAIT).await;
        for _ in 0..i {
            c.event("connected", WAIT).await;
        }
        clients.push(c);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        // The earlier ones connected to everyone who came after them.
        let later = people.len() - 1 - i;
        for _ in 0..later {
            c.event("connected", WAIT).await;
        }
    }
    for c in clients.iter_mut() {
        for u in people {
            if u.name != c.name {
                c.wait_media(&u.name, 30, 500, WAIT).await;
            }
        }
    }
    clients
}

/// Measure a running call for `secs`: CPU per client and the frame rate of every stream.
async fn measure(clients: &mut [Client], secs: u64) -> (Vec<f64>, Vec<f64>, Vec<Value>) {
    let frames = |s: &Value| -> Vec<(String, u64)> {
        s["peers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p["name"].as_str().unwrap_or("").to_string(),
                            p["video_frames"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut before = Vec::new();
    for c in clients.iter_mut() {
        let s = c.stats().await;
        before.push((cpu_seconds(c.pid()), frames(&s)));
    }
    let t0 = Instant::now();
    // The measurement window itself.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let mut cpu = Vec::new();
    let mut fps = Vec::new();
    let mut last = Vec::new();
    for (c, (cpu0, f0)) in clients.iter_mut().zip(before) {
        let s = c.stats().await;
        let dt = t0.elapsed().as_secs_f64();
        cpu.push((cpu_seconds(c.pid()) - cpu0) / dt * 100.0);
        for (name, n1) in frames(&s) {
            let n0 = f0.iter().find(|(n, _)| *n == name).map_or(0, |(_, n)| *n);
            fps.push((n1 - n0) as f64 / dt);
        }
        last.push(s);
    }
    (cpu, fps, last)
}

async fn leave_all(clients: &mut [Client]) {
    for c in clients.iter_mut().rev() {
        c.leave().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let setup_calls = arg("--setup-calls", 20);
    let secs = arg("--seconds", 20);
    let max_mesh = arg("--max-mesh", 5) as usize;
    let server = Server::start(ServerOptions::default()).await;
    let people = users(&server, max_mesh.max(2)).await;
    let mut report = json!({
        "machine": machine(),
    });

    eprintln!("bench: join → first frame over {setup_calls} calls");
    report["setup"] = setup(&server, &people[0], &people[1], setup_calls).await;
    eprintln!("{}", report["setup"]);

    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        let size = format!("{w}x{h}");
        eprintln!("bench: 1:1 at {size}@30 for {secs} s");
        let mut clients = call(&people[..2], &["--size", &size, "--stamp-frames"]).await;
        let (cpu, mut fps, stats) = measure(&mut clients, secs).await;
        let mut lat50 = Vec::new();
        let mut lat95 = Vec::new();
        for s in &stats {
            for p in s["peers"].as_array().into_iter().flatten() {
                lat50.extend(p["latency_p50_ms"].as_f64());
                lat95.extend(p["latency_p95_ms"].as_f64());
            }
        }
        let key = format!("one_to_one_{size}");
        report[&key] = json!({
            "cpu_percent_of_one_core_per_client": cpu,
            "cpu_percent_of_one_core_both": cpu.iter().sum::<f64>(),
            "fps_min": percentile(&mut fps, 0.0),
            "glass_to_glass_ms_p50": lat50.iter().copied().fold(f64::NAN, f64::max),
            "glass_to_glass_ms_p95": lat95.iter().copied().fold(f64::NAN, f64::max),
        });
        eprintln!("{}", report[&key]);
        leave_all(&mut clients).await;
    }

    let mut largest = 0;
    let mut meshes = Vec::new();
    for n in 2..=max_mesh {
        eprintln!("bench: mesh of {n} at 640x480@30 for {secs} s");
        let mut clients = call(&people[..n], &[]).await;
        let (cpu, mut fps, _) = measure(&mut clients, secs).await;
        let min_fps = percentile(&mut fps, 0.0);
        let ok = min_fps >= 28.5;
        meshes.push(json!({"people": n, "fps_min": min_fps, "cpu_percent_total": cpu.iter().sum::<f64>(), "no_drops": ok}));
        eprintln!("{}", meshes.last().unwrap());
        leave_all(&mut clients).await;
        if ok {
            largest = n;
        } else {
            break;
        }
    }
    report["mesh"] = json!({"runs": meshes, "largest_without_drops": largest});

    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    let out = std::env::var("ASSENT_BENCH_OUT").unwrap_or_else(|_| "calls.json".into());
    std::fs::write(&out, text).unwrap();
    eprintln!("bench: written to {out}");
}
