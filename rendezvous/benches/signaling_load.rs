//! Signaling load benchmark: the real `assent-rendezvous` binary (release build), N
//! authenticated WebSocket clients on loopback in rooms of 4, 200-byte envelopes broadcast in
//! each room.
//!
//! Run it with `cargo xtask bench-signaling` (server pinned to core 0, this generator to core 1,
//! 20000 file descriptors each). Options after `--`: `--connections N` (idle-memory step, default
//! 10000; 1000 is always measured too), `--active N` (clients in the throughput ramp, default
//! 1000), `--seconds S` per ramp step (default 4), `--out FILE` (JSON results).
//!
//! Reports server RSS per idle connection at 1k and N connections, and for each offered rate the
//! delivered messages/s and p50/p99 latency; the headline is the highest delivered rate whose p99
//! stays under 20 ms.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use assent_shared::SecretIdentity;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) of a process, in clock ticks (100 a second on Linux).
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

impl Server {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Create `n` verified users with sessions and `n / 4` meetings directly in the database; return
/// (token, meeting code) per user.
fn seed(data: &std::path::Path, n: usize) -> Vec<(String, String)> {
    std::fs::create_dir_all(data).unwrap();
    let db_path = data.join("assent.sqlite3");
    drop(assent_rendezvous::db::Db::open(&db_path).unwrap());
    let mut c = rusqlite::Connection::open(&db_path).unwrap();
    let tx = c.transaction().unwrap();
    let bundle = SecretIdentity::generate(assent_shared::Timestamp(0))
        .public()
        .to_bytes();
    let now = assent_shared::Timestamp::now().0 as i64;
    let mut out = Vec::with_capacity(n);
    let mut meeting_id = [0u8; 16];
    let mut code = String::new();
    // Meeting codes are ten letters: "l" and the room number with its digits as letters.
    for i in 0..n {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        tx.execute(
            "INSERT INTO users (id, email, display_name, verifier, salt, kdf_memory_kib, kdf_iterations, kdf_lanes, email_verified, created_at)
             VALUES (?1, ?2, ?3, 'unused', x'00000000000000000000000000000000', 65536, 3, 1, 1, ?4)",
            rusqlite::params![&id[..], format!("load{i}@example.org"), format!("load {i}"), now],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO identities (user_id, seq, bundle, published_at) VALUES (?1, 1, ?2, ?3)",
            rusqlite::params![&id[..], bundle, now],
        )
        .unwrap();
        let (token, hash) = assent_rendezvous::secrets::new_token();
        let mut sid = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut sid);
        tx.execute(
            "INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_used_at, expires_at) VALUES (?1, ?2, ?3, 'load', ?4, ?4, ?5)",
            rusqlite::params![&sid[..], &id[..], hash, now, now + 86_400_000],
        )
        .unwrap();
        if i % 4 == 0 {
            rand::rngs::OsRng.fill_bytes(&mut meeting_id);
            code = format!("l{:09}", i / 4)
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        (b'a' + c as u8 - b'0') as char
                    } else {
                        c
                    }
                })
                .collect();
            code = format!("{}-{}-{}", &code[..3], &code[3..7], &code[7..]);
            tx.execute(
                "INSERT INTO meetings (id, code, kind, title, host_id, created_at) VALUES (?1, ?2, 'instant', 'load', ?3, ?4)",
                rusqlite::params![&meeting_id[..], code, &id[..], now],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO meeting_members (meeting_id, user_id, role) VALUES (?1, ?2, ?3)",
            rusqlite::params![
                &meeting_id[..],
                &id[..],
                if i % 4 == 0 { "host" } else { "participant" }
            ],
        )
        .unwrap();
        out.push((token, code.clone()));
    }
    tx.commit().unwrap();
    out
}

fn start_server(data: &std::path::Path) -> Server {
    let exe = env!("CARGO_BIN_EXE_assent-rendezvous");
    let cpu = std::env::var("ASSENT_BENCH_SERVER_CPU").unwrap_or_else(|_| "0".into());
    let mut child = Command::new("taskset")
        .args([
            "-c",
            &cpu,
            "prlimit",
            "--nofile=20000:20000",
            exe,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data)
        .arg("serve")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server (needs taskset and prlimit from util-linux)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let l = lines.next().expect("server output").unwrap();
        if let Some(a) = l.strip_prefix("listening on ") {
            break a.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    // taskset and prlimit exec the server, so the child's pid is the server's.
    Server { child, addr }
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    delivered: u64,
    recording: bool,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, token: &str, code: &str) -> Ws {
    let mut req = format!("ws://{addr}/v1/signal")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .expect("connect");
    ws.send(Message::Text(
        format!(r#"{{"type":"join","meeting":"{code}"}}"#).into(),
    ))
    .await
    .unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"type\":\"joined\"") => return ws,
            Some(Ok(Message::Text(t))) if t.contains("\"type\":\"error\"") => {
                panic!("join failed: {t}")
            }
            Some(Ok(_)) => continue,
            other => panic!("connection ended while joining: {other:?}"),
        }
    }
}

/// Open `clients` connections (in batches, to stay within the accept backlog).
async fn open_all(addr: SocketAddr, clients: &[(String, String)]) -> Vec<Ws> {
    let mut out = Vec::with_capacity(clients.len());
    for chunk in clients.chunks(200) {
        let batch =
            futures_util::future::join_all(chunk.iter().map(|(t, c)| connect(addr, t, c))).await;
        out.extend(batch);
    }
    out
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut idle, mut active, mut seconds, mut out_file) =
        (10_000usize, 1_000usize, 4u64, None::<String>);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--connections" => idle = args.next().unwrap().parse().unwrap(),
            "--active" => active = args.next().unwrap().parse().unwrap(),
            "--seconds" => seconds = args.next().unwrap().parse().unwrap(),
            "--out" => out_file = args.next(),
            _ => {}
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(idle, active, seconds, out_file));
}

async fn run(idle: usize, active: usize, seconds: u64, out_file: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let users = seed(&data, idle.max(active).max(1000));
    let server = start_server(&data);
    let mut report = serde_json::Map::new();

    let idle_results = idle_memory(&server, &users, idle).await;
    report.insert("idle".into(), idle_results.into());
    // The ramp measures steady relaying on a fresh server over the same data: otherwise the
    // idle phase's seats, kept for the reconnect grace, would all expire in the middle of a
    // ramp step, and that burst (seats freed, call history written) would be counted as relay
    // latency.
    drop(server);
    let server = start_server(&data);

    // Throughput ramp: `active` clients, each broadcasting to its 3 room-mates.
    let stats = Rc::new(RefCell::new(Stats::default()));
    let rate = Rc::new(Cell::new(0.0f64)); // sends per second per client
    let start = Instant::now();
    let conns = open_all(server.addr, &users[..active]).await;
    spawn_clients(conns, &stats, &rate, start);
    let mut steps = Vec::new();
    let mut best = 0.0f64;
    for deliveries_per_sec in [
        10_000.0, 20_000.0, 40_000.0, 60_000.0, 70_000.0, 80_000.0, 90_000.0, 100_000.0, 120_000.0,
        140_000.0,
    ] {
        // Each send reaches 3 peers.
        rate.set(deliveries_per_sec / 3.0 / active as f64);
        if rate.get() > 49.0 {
            println!(
                "rate: {deliveries_per_sec} would exceed the per-connection limit with {active} clients; stopping"
            );
            break;
        }
        let (delivered, p99, step) = ramp_step(&server, &stats, seconds, deliveries_per_sec).await;
        steps.push(step);
        if p99 < 20.0 && delivered >= deliveries_per_sec * 0.95 {
            best = best.max(delivered);
        } else if p99 > 100.0 {
            break;
        }
    }
    rate.set(0.0);
    println!(
        "headline: {best:.0} deliveries/s with p99 < 20 ms ({active} clients in rooms of 4, 200-byte payloads, server on one core)"
    );
    report.insert("ramp".into(), steps.into());
    report.insert("best_deliveries_per_sec_p99_under_20ms".into(), best.into());
    if let Some(f) = out_file {
        std::fs::write(
            &f,
            serde_json::to_string_pretty(&serde_json::Value::Object(report)).unwrap(),
        )
        .unwrap();
        println!("results written to {f}");
    }
    drop(server);
}

/// The server's memory with 1,000 and then `idle` connections open and doing nothing: per
/// connection, above the baseline.
async fn idle_memory(
    server: &Server,
    users: &[(String, String)],
    idle: usize,
) -> Vec<serde_json::Value> {
    let base = server.rss_kib();
    let mut idle_results = Vec::new();
    let mut conns = Vec::new();
    for target in [1000usize, idle] {
        if target <= conns.len() || target > users.len() {
            continue;
        }
        let more = open_all(server.addr, &users[conns.len()..target]).await;
        conns.extend(more);
        let rss = server.rss_kib();
        let per = (rss.saturating_sub(base)) as f64 * 1024.0 / conns.len() as f64;
        println!(
            "idle: {:>6} connections, server RSS {:>7} KiB (baseline {base} KiB), {:.1} KB per connection",
            conns.len(),
            rss,
            per / 1000.0
        );
        idle_results.push(serde_json::json!({"connections": conns.len(), "rss_kib": rss, "baseline_kib": base, "bytes_per_connection": per}));
    }
    idle_results
}

/// Every client broadcasts to its room-mates at the shared `rate` (sends per second) and
/// records, while `stats` says so, when each message it hears was sent.
fn spawn_clients(conns: Vec<Ws>, stats: &Rc<RefCell<Stats>>, rate: &Rc<Cell<f64>>, start: Instant) {
    let pad = "x".repeat(180);
    for (i, ws) in conns.into_iter().enumerate() {
        let (mut sink, mut stream) = ws.split();
        let stats_r = stats.clone();
        tokio::task::spawn_local(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m
                    && let Some(pos) = t.find("\"payload\":\"")
                {
                    let digits = &t[pos + 11..pos + 31];
                    if let Ok(sent) = digits.parse::<u64>() {
                        let now = start.elapsed().as_micros() as u64;
                        let mut s = stats_r.borrow_mut();
                        if s.recording {
                            s.delivered += 1;
                            s.latencies_us
                                .push(now.saturating_sub(sent).min(u64::from(u32::MAX)) as u32);
                        }
                    }
                }
            }
        });
        let rate = rate.clone();
        let pad = pad.clone();
        tokio::task::spawn_local(async move {
            // Spread the clients' phases over the first period.
            let mut next =
                tokio::time::Instant::now() + Duration::from_micros((i as u64 * 7919) % 100_000);
            loop {
                let r = rate.get();
                if r <= 0.0 {
                    next = tokio::time::Instant::now() + Duration::from_millis(50);
                    tokio::time::sleep_until(next).await;
                    continue;
                }
                tokio::time::sleep_until(next).await;
                next += Duration::from_secs_f64(1.0 / r);
                let now = start.elapsed().as_micros() as u64;
                let msg = format!(r#"{{"type":"send","payload":"{now:020}{pad}"}}"#);
                if sink.send(Message::Text(msg.into())).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// One step of the ramp at `deliveries_per_sec`: delivered per second, p99 latency (ms), and
/// the step's record (with p50 and the CPU used).
async fn ramp_step(
    server: &Server,
    stats: &RefCell<Stats>,
    seconds: u64,
    deliveries_per_sec: f64,
) -> (f64, f64, serde_json::Value) {
    tokio::time::sleep(Duration::from_secs(1)).await; // settle at the new rate (a benchmark pacing step, not a test)
    {
        let mut s = stats.borrow_mut();
        s.latencies_us.clear();
        s.delivered = 0;
        s.recording = true;
    }
    let t0 = Instant::now();
    let (server_pid, own_pid) = (
        server.child.id().to_string(),
        std::process::id().to_string(),
    );
    let (s0, g0) = (cpu_ticks(&server_pid), cpu_ticks(&own_pid));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let ticks = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / (seconds as f64 * 100.0) * 100.0;
    let (server_cpu, gen_cpu) = (
        ticks(s0, cpu_ticks(&server_pid)),
        ticks(g0, cpu_ticks(&own_pid)),
    );
    let mut s = stats.borrow_mut();
    s.recording = false;
    let elapsed = t0.elapsed().as_secs_f64();
    let delivered = s.delivered as f64 / elapsed;
    s.latencies_us.sort_unstable();
    let (p50, p99) = (
        percentile(&s.latencies_us, 0.5),
        percentile(&s.latencies_us, 0.99),
    );
    println!(
        "rate: offered {deliveries_per_sec:>7.0}/s, delivered {delivered:>8.0}/s, p50 {p50:>6.2} ms, p99 {p99:>7.2} ms, server CPU {server_cpu:>4.0} %, generator CPU {gen_cpu:>4.0} %"
    );
    let record = serde_json::json!({"offered": deliveries_per_sec, "delivered": delivered, "p50_ms": p50, "p99_ms": p99, "server_cpu_percent": server_cpu, "generator_cpu_percent": gen_cpu});
    (delivered, p99, record)
}
