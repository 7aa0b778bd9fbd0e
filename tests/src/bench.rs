//! What the benchmarks share: their command-line options, per-process CPU time and where their
//! reports go.

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time (user + system) of a process so far, seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// This machine, for the report.
pub fn machine() -> serde_json::Value {
    serde_json::json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())),
    })
}

/// Write a benchmark's report where `ASSENT_BENCH_OUT` says (`cargo xtask bench-*` points it
/// into `target/bench-results/`); returns that path.
pub fn save(report: &serde_json::Value) -> Option<std::path::PathBuf> {
    let out = std::path::PathBuf::from(std::env::var_os("ASSENT_BENCH_OUT")?);
    let text = serde_json::to_string_pretty(report).expect("json");
    std::fs::write(&out, text).expect("write the report");
    Some(out)
}

/// Print a benchmark's report and [`save`] it.
pub fn publish(report: &serde_json::Value) -> Option<std::path::PathBuf> {
    println!("{}", serde_json::to_string_pretty(report).expect("json"));
    save(report)
}
