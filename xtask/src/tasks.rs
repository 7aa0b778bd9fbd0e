//! The tasks themselves.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd::{cargo, root, step, target_dir};
use crate::setup::{self, Purpose};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    setup::ensure(Purpose::Run)?;
    let once = args.iter().any(|a| a == "--once");
    let demo_args: Vec<&String> = args.iter().filter(|a| *a != "--once").collect();
    let mut build = cargo();
    build.args(["build", "--bin", "assent", "--bin", "assent-rendezvous"]);
    step("build", build)?;
    let bin = target_dir().join("debug");

    // The server on its embedded defaults: SQLite and a mail outbox under the data directory.
    let data = target_dir().join("run/server");
    std::fs::create_dir_all(&data)?;
    eprintln!(
        "xtask: starting assent-rendezvous (data in {})",
        data.display()
    );
    let (mut server, addr) = start_server(&bin, &data)?;
    eprintln!("xtask: server listening on http://{addr}");

    // First the consented-recording walk-through (headless); then, with a display, the window.
    let mut demo = Command::new(bin.join("assent"));
    demo.arg("demo").args(demo_args);
    let demo_result = step("assent demo", demo);
    if once || demo_result.is_err() {
        stop(&mut server);
        return demo_result;
    }
    if std::env::var_os("DISPLAY").is_some() {
        // A display: the desktop window on a profile of its own, its sign-in form pointing at
        // this server. Mail (the sign-up code) goes to the outbox.
        eprintln!(
            "\nxtask: opening the window (mail, e.g. the sign-up code, is written to {}); closing it stops the server",
            data.join("outbox").display()
        );
        let mut window = Command::new(bin.join("assent"));
        window
            .arg("--profile")
            .arg(target_dir().join("run/profile"))
            .env("ASSENT_SERVER", format!("http://{addr}"));
        let result = step("assent (the window)", window);
        stop(&mut server);
        return result;
    }
    eprintln!(
        "\nThe server keeps running at http://{addr} (mail is written to {}). Ctrl-C stops it.",
        data.join("outbox").display()
    );
    let st = server.wait()?;
    if !st.success() {
        bail!("assent-rendezvous exited with {st}");
    }
    Ok(())
}

/// Start the server on its embedded defaults in `data`; its address once it listens.
fn start_server(bin: &Path, data: &Path) -> anyhow::Result<(std::process::Child, String)> {
    let mut server = Command::new(bin.join("assent-rendezvous"))
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start assent-rendezvous")?;
    let stdout = server.stdout.take().context("server stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let addr = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(a) = l.strip_prefix("listening on ") {
                    break a.trim().to_string();
                }
            }
            _ => {
                let st = server.wait()?;
                bail!("assent-rendezvous stopped before listening ({st}); is port 7800 in use?");
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((server, addr))
}

/// Stop the server (SIGTERM: it shuts down cleanly) and wait for it.
fn stop(server: &mut std::process::Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
}

pub(crate) const FUZZ_TARGETS: &[&str] = &[
    "manifest",
    "consent",
    "segment",
    "identity",
    "call",
    "transparency",
];

fn fuzz_target(target: &str, seconds: u32) -> anyhow::Result<()> {
    let fuzz_dir = root().join("shared/fuzz");
    let corpus = target_dir().join("fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let mut c = cargo();
    c.current_dir(&fuzz_dir)
        .env_remove("CARGO_TARGET_DIR")
        .args(["fuzz", "run", "--sanitizer", "none", "--target-dir"]);
    c.arg(target_dir().join("fuzz"))
        .arg(target)
        .arg(&corpus)
        .arg(root().join("shared/tests/golden"));
    c.args([
        "--",
        &format!("-max_total_time={seconds}"),
        "-print_final_stats=0",
    ]);
    step(&format!("fuzz {target} for {seconds} s"), c)
}

pub(crate) fn fuzz(args: &[String]) -> anyhow::Result<()> {
    setup::ensure(Purpose::Test)?;
    let mut seconds = 300;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().context("--seconds N")?.parse()?,
            t if FUZZ_TARGETS.contains(&t) => targets.push(t),
            other => bail!(
                "unknown fuzz target or option {other:?} (targets: {})",
                FUZZ_TARGETS.join(", ")
            ),
        }
    }
    if targets.is_empty() {
        targets = FUZZ_TARGETS.to_vec();
    }
    for t in targets {
        fuzz_target(t, seconds)?;
    }
    Ok(())
}

pub(crate) fn test() -> anyhow::Result<()> {
    setup::ensure(Purpose::Test)?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    step("cargo fmt --check", fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    step("cargo clippy", clippy)?;
    for t in FUZZ_TARGETS {
        fuzz_target(t, 10)?;
    }
    // The end-to-end tests run the real binaries; nextest builds only test targets. Built
    // together with the tests, the binaries get the same features as the tests' build, so
    // nextest reuses every dependency instead of building them a second time.
    let mut bins = cargo();
    bins.args(["build", "--workspace", "--bins", "--tests"]);
    step("cargo build --bins --tests", bins)?;
    // The installer packages: built, linted, installed with apt into a clean Debian 12 root
    // and run there.
    crate::package::test_packages()?;
    // Last, so its summary is the final line.
    let mut nextest = cargo();
    nextest.args(["nextest", "run", "--workspace", "--profile", "ci"]);
    // As on a clean Debian root or under `env -i`: no locale. Nothing in the suite (the window
    // harness reads UTF-8 titles) may depend on the caller's.
    for var in ["LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES"] {
        nextest.env_remove(var);
    }
    step("cargo nextest run --workspace", nextest)
}

/// Real-window screenshots of every screen: the window end-to-end test (the app on a virtual
/// display against a local server, with a headless second client in the call), its pictures
/// kept in `DIR` (default `docs/screenshots`).
pub(crate) fn screenshots(args: &[String]) -> anyhow::Result<()> {
    setup::ensure(Purpose::Test)?;
    let dir = match args {
        [] => root().join("docs/screenshots"),
        [d] => std::path::absolute(d)?,
        _ => bail!("usage: cargo xtask screenshots [DIR]"),
    };
    std::fs::create_dir_all(&dir)?;
    let mut bins = cargo();
    bins.args(["build", "--workspace", "--bins", "--tests"]);
    step("cargo build (the binaries)", bins)?;
    let mut t = cargo();
    // The window tests, and the hostile-server test whose window shows a key alarm.
    t.args([
        "nextest",
        "run",
        "-p",
        "assent-e2e",
        "-E",
        "binary(window) | test(a_key_published_in_the_victims_name_raises_her_alarm)",
    ])
    .env("ASSENT_SCREENSHOT_DIR", &dir);
    step("the window on a virtual display", t)?;
    eprintln!("xtask: screenshots in {}", dir.display());
    Ok(())
}

pub(crate) fn bench() -> anyhow::Result<()> {
    setup::ensure(Purpose::Test)?;
    let mut b = cargo();
    b.args(["bench", "-p", "assent-shared", "--bench", "segment"]);
    step("criterion: segment encryption", b)?;
    rage_comparison()
}

/// Time the stock `rage` CLI on the same 256 MiB with three recipients, and compare with the
/// criterion estimates; write both to `target/bench-results/segment.txt`.
pub(crate) fn rage_comparison() -> anyhow::Result<()> {
    let work = tempdir()?;
    let recipients = rage_keys(&work)?;
    let (rage_enc, rage_dec) = rage_rates(&work, &recipients)?;
    let ours_enc = criterion_rate("encrypt_256MiB")?;
    let ours_dec = criterion_rate("decrypt_256MiB")?;
    let report = format!(
        "segment encryption, 256 MiB, 3 recipients ({} cores, {})\n\
         encrypt: assent {ours_enc:.0} MiB/s, rage CLI {rage_enc:.0} MiB/s, ratio {:.2}\n\
         decrypt: assent {ours_dec:.0} MiB/s, rage CLI {rage_dec:.0} MiB/s, ratio {:.2}\n\
         (rage timings include process start and file I/O to tmpfs/disk; assent's are in memory)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_name(),
        ours_enc / rage_enc,
        ours_dec / rage_dec,
    );
    print!("{report}");
    let out = target_dir().join("bench-results");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("segment.txt"), report)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// The comparison's input size in MiB.
const RAGE_MIB: f64 = 256.0;

/// Three age key pairs made by `rage-keygen` in `work` (`k0.txt`…); their public keys.
fn rage_keys(work: &Path) -> anyhow::Result<Vec<String>> {
    let keygen = setup::cargo_bin_dir().join("rage-keygen");
    let mut recipients = Vec::new();
    for i in 0..3 {
        let key = work.join(format!("k{i}.txt"));
        step("rage-keygen", {
            let mut c = Command::new(&keygen);
            c.arg("-o").arg(&key);
            c
        })?;
        let text = std::fs::read_to_string(&key)?;
        let r = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .context("no public key")?;
        recipients.push(r.to_string());
    }
    Ok(recipients)
}

/// The rage CLI's median encryption and decryption rates (MiB/s) over five runs on 256 MiB.
fn rage_rates(work: &Path, recipients: &[String]) -> anyhow::Result<(f64, f64)> {
    let rage = setup::cargo_bin_dir().join("rage");
    let input = work.join("in.bin");
    let data: Vec<u8> = (0..256u32 * 1024 * 1024)
        .map(|i| i.wrapping_mul(2_654_435_761) as u8)
        .collect();
    std::fs::write(&input, &data)?;
    drop(data);
    let enc = work.join("in.age");
    let mut enc_times = Vec::new();
    let mut dec_times = Vec::new();
    for _ in 0..5 {
        let _ = std::fs::remove_file(&enc);
        let t = std::time::Instant::now();
        let mut c = Command::new(&rage);
        c.arg("-e");
        for r in recipients {
            c.arg("-r").arg(r);
        }
        c.arg("-o").arg(&enc).arg(&input);
        step("rage -e", c)?;
        enc_times.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        let mut c = Command::new(&rage);
        c.arg("-d")
            .arg("-i")
            .arg(work.join("k1.txt"))
            .arg("-o")
            .arg("/dev/null")
            .arg(&enc);
        step("rage -d", c)?;
        dec_times.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((
        RAGE_MIB / median(&mut enc_times),
        RAGE_MIB / median(&mut dec_times),
    ))
}

/// Our rate (MiB/s) from the segment benchmark's criterion estimate `name`.
fn criterion_rate(name: &str) -> anyhow::Result<f64> {
    let p = target_dir().join(format!("criterion/segment/{name}/new/estimates.json"));
    let text = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
    let median_ns = text
        .split("\"median\":")
        .nth(1)
        .and_then(|s| s.split("\"point_estimate\":").nth(1))
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .context("no median in criterion estimates")?;
    Ok(RAGE_MIB / (median_ns / 1e9))
}

/// The machine's CPU model, for the report.
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default()
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("assent-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// The signaling load benchmark: the release server pinned to core 0, the load generator to
/// core 1, 20000 file descriptors each; results in `target/bench-results/signaling.json`.
pub(crate) fn bench_signaling(args: &[String]) -> anyhow::Result<()> {
    setup::ensure(Purpose::Test)?;
    let mut build = cargo();
    build.args([
        "bench",
        "-p",
        "assent-rendezvous",
        "--bench",
        "signaling_load",
        "--no-run",
    ]);
    step("build the signaling benchmark", build)?;
    let out = target_dir().join("bench-results");
    std::fs::create_dir_all(&out)?;
    let mut c = Command::new("taskset");
    c.args(["-c", "1", "prlimit", "--nofile=20000:20000"]);
    c.arg(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root()).env("CARGO_TARGET_DIR", target_dir());
    c.args([
        "bench",
        "-p",
        "assent-rendezvous",
        "--bench",
        "signaling_load",
        "--",
        "--out",
    ]);
    c.arg(out.join("signaling.json"));
    c.args(args);
    step("signaling load benchmark", c)
}

/// The recording benchmark (extra CPU, call end → complete cloud copy) against release
/// binaries and Garage; results in `target/bench-results/recording.json`.
pub(crate) fn bench_recording(args: &[String]) -> anyhow::Result<()> {
    release_bench("recording", args)
}

/// The window benchmark (its CPU in a 1:1 call) against release binaries; results in
/// `target/bench-results/window.json`.
pub(crate) fn bench_window(args: &[String]) -> anyhow::Result<()> {
    release_bench("window", args)
}

/// The call benchmark against release binaries; results in `target/bench-results/calls.json`.
pub(crate) fn bench_calls(args: &[String]) -> anyhow::Result<()> {
    release_bench("calls", args)
}

/// The lip sync benchmark: flashes shown against beeps played, lip sync on and off.
pub(crate) fn bench_lipsync(args: &[String]) -> anyhow::Result<()> {
    release_bench("lipsync", args)
}

/// The congestion benchmark: a call through a 500 kbit/s bottleneck that lifts to 5 Mbit/s,
/// delay-based congestion control on and off; the curves in `congestion.png`.
pub(crate) fn bench_congestion(args: &[String]) -> anyhow::Result<()> {
    release_bench("congestion", args)
}

pub(crate) fn bench_devices(args: &[String]) -> anyhow::Result<()> {
    release_bench("devices", args)
}

/// The echo benchmark: a call in a simulated room, voice processing on and off.
pub(crate) fn bench_echo(args: &[String]) -> anyhow::Result<()> {
    release_bench("echo", args)
}

fn release_bench(name: &str, args: &[String]) -> anyhow::Result<()> {
    setup::ensure(Purpose::Test)?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--bin",
        "assent",
        "--bin",
        "assent-rendezvous",
    ]);
    step("build release binaries", build)?;
    let out = target_dir().join("bench-results");
    std::fs::create_dir_all(&out)?;
    let release = target_dir().join("release");
    let mut c = cargo();
    c.args(["bench", "-p", "assent-e2e", "--bench", name, "--"])
        .args(args)
        .env("ASSENT_BIN_ASSENT", release.join("assent"))
        .env(
            "ASSENT_BIN_ASSENT_RENDEZVOUS",
            release.join("assent-rendezvous"),
        )
        .env("ASSENT_BENCH_OUT", out.join(format!("{name}.json")));
    step(&format!("{name} benchmark"), c)
}
