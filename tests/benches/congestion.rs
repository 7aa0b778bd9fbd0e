//! Congestion control benchmark: Bob sends Ann 640x480 video at 30 fps (a busy test picture,
//! so the encoder uses the bitrate it gets) and a tone through a
//! 500 kbit/s bottleneck (the kernel's token bucket filter on the way to Ann, with a queue
//! of 400 ms like a home router's) and 40 ms of delay each way; after a while the bottleneck lifts
//! to 5 Mbit/s. Once a second it records Bob's video bitrate and congestion estimate, and at Ann
//! the video and audio bitrates, the frame rate, the longest wait for a frame and the frames'
//! one-way latency (frame stamps; the queueing delay is that minus its lowest value). It runs
//! with delay-based congestion control and then with the loss-based rate alone.
//!
//! Run with `cargo xtask bench-congestion` (release binaries; results in
//! `target/bench-results/congestion.json` and the curves in `congestion.png`). Options:
//! `--bottleneck-seconds S` (default 30) and `--open-seconds S` (default 20).
//!
//! The run fails when, with congestion control, the call does not settle within 5 s of the
//! first frame (from then on: queueing delay under 150 ms, at least 15 fps, no wait for a frame
//! over 500 ms, audio at its rate), or when the bitrate does not climb back to 90 % of its
//! maximum within 10 s of the bottleneck lifting.

use std::time::Duration;

use assent_e2e::bench::{arg, machine, save};
use assent_e2e::call::{Client, User};
use assent_e2e::netem::{ADDR_A, ADDR_B, Impairment, LossyLink, ice_args};
use serde::Serialize;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const BOTTLENECK_KBIT: u32 = 500;
const OPEN_KBIT: u32 = 5000;
const QUEUE_MS: u32 = 400;
/// The video bitrate's maximum at 640x480, 30 fps (`MediaOptions::with_size`).
const MAX_KBPS: f64 = 920.0;
/// Opus at 32 kbit/s: what arrives must stay near it.
const AUDIO_MIN_KBPS: f64 = 24.0;

/// One second of the call.
#[derive(Clone, Debug, Default, Serialize)]
struct Second {
    /// Seconds since Ann's first frame from Bob.
    t: f64,
    /// What the bottleneck lets through, kbit/s.
    link_kbps: u32,
    /// Bob's encoder target and his estimate of the path to Ann, kbit/s.
    target_kbps: f64,
    estimate_kbps: Option<f64>,
    /// Bob's bandwidth probes to Ann so far, and those that raised his estimate.
    probes: u64,
    probes_raised: u64,
    /// The fraction of Bob's packets lost, as Ann's latest receiver report says.
    fraction_lost: Option<f64>,
    /// Received at Ann.
    video_kbps: f64,
    audio_kbps: f64,
    fps: f64,
    max_frame_gap_ms: f64,
    latency_p50_ms: Option<f64>,
    latency_max_ms: Option<f64>,
    /// Latency above the lowest seen (filled in at the end).
    queue_p50_ms: Option<f64>,
    queue_max_ms: Option<f64>,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

async fn sample(a: &mut Client, b: &mut Client, t: f64, link_kbps: u32) -> Second {
    let at_ann = a.peer_stats("Bob").await.unwrap_or_default();
    let bob = b.stats().await;
    let to_ann = bob["peers"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "Ann").cloned())
        .unwrap_or_default();
    Second {
        t,
        link_kbps,
        target_kbps: num(&bob["video_target_kbps"]),
        estimate_kbps: to_ann["send_estimate_kbps"].as_f64(),
        probes: to_ann["probes"].as_u64().unwrap_or(0),
        probes_raised: to_ann["probes_raised"].as_u64().unwrap_or(0),
        fraction_lost: to_ann["fraction_lost"].as_f64(),
        video_kbps: num(&at_ann["video_kbps"]),
        audio_kbps: num(&at_ann["audio_kbps"]),
        fps: num(&at_ann["fps"]),
        max_frame_gap_ms: num(&at_ann["max_frame_gap_ms"]),
        latency_p50_ms: at_ann["recent_latency_p50_ms"].as_f64(),
        latency_max_ms: at_ann["recent_latency_max_ms"].as_f64(),
        ..Second::default()
    }
}

/// One call through the bottleneck; the seconds from Ann's first frame on.
async fn run(
    link: &LossyLink,
    ann: &User,
    bob: &User,
    cc: bool,
    bottleneck: u64,
    open: u64,
) -> Vec<Second> {
    link.bottleneck_to_a(BOTTLENECK_KBIT, QUEUE_MS);
    let code = ann.create_meeting("Congestion");
    let mut a_args = ice_args(ADDR_A);
    // Ann sends no video: the two cores go to Bob's encoder and Ann's decoder.
    a_args.extend(["--stamp-frames", "--video", "none"]);
    let mut b_args = ice_args(ADDR_B);
    b_args.extend([
        // A busy picture uses the bitrate it gets, like a camera's (the ball needs 130 kbit/s).
        "--video",
        "test:busy",
        "--stamp-frames",
        "--congestion-control",
        if cc { "on" } else { "off" },
    ]);
    let mut a = ann.join(&code, &a_args);
    a.event("joined", WAIT).await;
    let mut b = bob.join(&code, &b_args);
    a.event("connected", WAIT).await;
    b.event("connected", WAIT).await;
    a.wait_media("Bob", 1, 0, WAIT).await;
    eprintln!(
        "bench: congestion control {} for {} s at {BOTTLENECK_KBIT} kbit/s, then {} s at {OPEN_KBIT} kbit/s",
        if cc { "on" } else { "off" },
        bottleneck,
        open
    );
    // The per-second counters start now.
    let start = tokio::time::Instant::now();
    sample(&mut a, &mut b, 0.0, BOTTLENECK_KBIT).await;
    let mut seconds = Vec::new();
    let mut clock =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    for k in 1..=bottleneck + open {
        // The sampling clock (not a wait for anything to happen).
        clock.tick().await;
        if k == bottleneck + 1 {
            link.bottleneck_to_a(OPEN_KBIT, QUEUE_MS);
        }
        let link_kbps = if k <= bottleneck {
            BOTTLENECK_KBIT
        } else {
            OPEN_KBIT
        };
        let t = start.elapsed().as_secs_f64();
        let s = sample(&mut a, &mut b, t, link_kbps).await;
        eprintln!(
            "bench: {t:5.1} s link {link_kbps} target {:.0} estimate {:?} probes {}/{} lost {:?} \
             received {:.0}+{:.0} kbit/s, {:.1} fps, gap {:.0} ms, latency {:?}/{:?} ms",
            s.target_kbps,
            s.estimate_kbps,
            s.probes_raised,
            s.probes,
            s.fraction_lost,
            s.video_kbps,
            s.audio_kbps,
            s.fps,
            s.max_frame_gap_ms,
            s.latency_p50_ms,
            s.latency_max_ms
        );
        seconds.push(s);
    }
    b.leave().await;
    a.leave().await;
    // Queueing delay: the latency above the lowest per-second median (an empty queue).
    let base = seconds
        .iter()
        .filter_map(|s| s.latency_p50_ms)
        .fold(f64::INFINITY, f64::min);
    for s in &mut seconds {
        s.queue_p50_ms = s.latency_p50_ms.map(|l| (l - base).max(0.0));
        s.queue_max_ms = s.latency_max_ms.map(|l| (l - base).max(0.0));
    }
    seconds
}

/// A second in which the call is as it should be through the bottleneck.
fn good(s: &Second) -> bool {
    s.queue_p50_ms.is_some_and(|q| q < 150.0)
        && s.fps >= 15.0
        && s.max_frame_gap_ms <= 500.0
        && s.audio_kbps >= AUDIO_MIN_KBPS
}

fn percentile(mut v: Vec<f64>, p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[((v.len() - 1) as f64 * p).round() as usize])
}

/// What one run comes to.
fn summary(seconds: &[Second], bottleneck: usize) -> Value {
    let (narrow, wide) = seconds.split_at(bottleneck.min(seconds.len()));
    // Settled from the first second after which every second through the bottleneck is good.
    let settled = (0..narrow.len()).find(|&i| narrow[i..].iter().all(good));
    let settle_s = settled.map(|i| if i == 0 { 0.0 } else { narrow[i - 1].t });
    let after: &[Second] = settled.map_or(&[], |i| &narrow[i..]);
    let lift_t = narrow.last().map_or(0.0, |s| s.t);
    let climb_s = wide
        .iter()
        .find(|s| s.target_kbps >= 0.9 * MAX_KBPS)
        .map(|s| s.t - lift_t);
    let q = |of: &[Second]| {
        of.iter()
            .filter_map(|s| s.queue_p50_ms)
            .collect::<Vec<f64>>()
    };
    let qmax = |of: &[Second]| {
        of.iter()
            .filter_map(|s| s.queue_max_ms)
            .collect::<Vec<f64>>()
    };
    let min = |f: fn(&Second) -> f64, of: &[Second]| of.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&Second) -> f64, of: &[Second]| of.iter().map(f).fold(0.0, f64::max);
    let mean = |f: fn(&Second) -> f64, of: &[Second]| {
        of.iter().map(f).sum::<f64>() / of.len().max(1) as f64
    };
    json!({
        "settle_s": settle_s,
        "climb_back_s": climb_s,
        "probes_through_the_bottleneck": narrow.last().map(|s| [s.probes_raised, s.probes]),
        "probes_after_the_lift": wide.last().zip(narrow.last()).map(|(w, n)| {
            [w.probes_raised - n.probes_raised, w.probes - n.probes]
        }),
        "through_the_bottleneck_once_settled": {
            "seconds": after.len(),
            "queue_delay_p50_ms": percentile(q(after), 0.5),
            "queue_delay_p95_ms": percentile(q(after), 0.95),
            "queue_delay_worst_second_ms": percentile(q(after), 1.0),
            "queue_delay_worst_frame_ms": percentile(qmax(after), 1.0),
            "fps_min": min(|s| s.fps, after),
            "max_frame_gap_ms": max(|s| s.max_frame_gap_ms, after),
            "audio_kbps_min": min(|s| s.audio_kbps, after),
            "video_kbps_mean": mean(|s| s.video_kbps, after).round(),
        },
        "through_the_bottleneck": {
            "queue_delay_p50_ms": percentile(q(narrow), 0.5),
            "queue_delay_p95_ms": percentile(q(narrow), 0.95),
            "queue_delay_worst_frame_ms": percentile(qmax(narrow), 1.0),
            "fps_mean": (mean(|s| s.fps, narrow) * 10.0).round() / 10.0,
            "fps_min": min(|s| s.fps, narrow),
            "max_frame_gap_ms": max(|s| s.max_frame_gap_ms, narrow),
            "video_kbps_mean": mean(|s| s.video_kbps, narrow).round(),
        },
        "after_the_lift": {
            "target_kbps_last": wide.last().map(|s| s.target_kbps),
            "queue_delay_p50_ms": percentile(q(wide), 0.5),
        },
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bottleneck = arg("--bottleneck-seconds", 30).max(10);
    let open = arg("--open-seconds", 20).max(12);
    let link = LossyLink::new(
        "cc",
        Impairment {
            loss: 0.0,
            delay: Duration::from_millis(40),
        },
        11,
    );
    // The server lives in Ann's namespace; Bob reaches it through the bottleneck too.
    let (_server, ann, bob) = link.ann_and_bob().await;
    let on = run(&link, &ann, &bob, true, bottleneck, open).await;
    let off = run(&link, &ann, &bob, false, bottleneck, open).await;
    let (on_sum, off_sum) = (
        summary(&on, bottleneck as usize),
        summary(&off, bottleneck as usize),
    );
    let report = json!({
        "machine": machine(),
        "link": {
            "bottleneck_kbit": BOTTLENECK_KBIT,
            "open_kbit": OPEN_KBIT,
            "queue_ms": QUEUE_MS,
            "delay_each_way_ms": 40,
            "bottleneck_seconds": bottleneck,
            "open_seconds": open,
        },
        "congestion_control_on": on_sum,
        "congestion_control_off": off_sum,
        "seconds_on": on,
        "seconds_off": off,
    });
    // The summaries on the terminal; the seconds are in the file.
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "congestion_control_on": report["congestion_control_on"],
            "congestion_control_off": report["congestion_control_off"],
        }))
        .expect("json")
    );
    let png = save(&report).map_or_else(
        || std::env::temp_dir().join("congestion.png"),
        |out| out.with_extension("png"),
    );
    plot(&on, &off, bottleneck as f64, &png);
    eprintln!("bench: curves in {}", png.display());

    let settle = on_sum["settle_s"].as_f64();
    assert!(
        settle.is_some_and(|s| s <= 5.0),
        "with congestion control the call did not settle within 5 s (settled at {settle:?} s): {on_sum}"
    );
    let climb = on_sum["climb_back_s"].as_f64();
    assert!(
        climb.is_some_and(|c| c <= 10.0),
        "the bitrate did not climb back to 90 % of {MAX_KBPS} kbit/s within 10 s of the lift ({climb:?} s)"
    );
}

/// One curve: its label, colour and points.
type Curve = (&'static str, plotters::style::RGBColor, Vec<(f64, f64)>);

/// One chart of curves over the run's seconds.
fn panel<DB: plotters::prelude::DrawingBackend>(
    area: &plotters::drawing::DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    x_end: f64,
    y_top: f64,
    legend: plotters::chart::SeriesLabelPosition,
    curves: Vec<Curve>,
) {
    use plotters::prelude::*;
    let mut c = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_end, 0.0..y_top)
        .expect("plot");
    c.configure_mesh().x_desc("s").draw().expect("plot");
    for (label, colour, points) in curves {
        c.draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .expect("plot")
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    c.configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .expect("plot");
}

/// The curves, congestion control on (left) and off (right): rates, queueing delay, frame
/// rate, drawn as SVG and rendered to `png` with the system's fonts.
fn plot(on: &[Second], off: &[Second], lift: f64, png: &std::path::Path) {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1400, 1000)).into_drawing_area();
        root.fill(&WHITE).expect("plot");
        let areas = root.split_evenly((3, 2));
        let end = on.iter().chain(off).map(|s| s.t).fold(1.0, f64::max);
        let runs = [(on, "congestion control on"), (off, "loss-based rate only")];
        for (col, (run, name)) in runs.into_iter().enumerate() {
            let line = |f: fn(&Second) -> Option<f64>| -> Vec<(f64, f64)> {
                run.iter().filter_map(|s| f(s).map(|v| (s.t, v))).collect()
            };
            let rate_top = run
                .iter()
                .map(|s| s.target_kbps.max(s.video_kbps))
                .fold(1000.0, f64::max)
                * 1.2;
            panel(
                &areas[col],
                &format!("{name}: kbit/s"),
                end,
                rate_top,
                SeriesLabelPosition::UpperLeft,
                vec![
                    ("bottleneck", BLACK, line(|s| Some(f64::from(s.link_kbps)))),
                    ("encoder target", BLUE, line(|s| Some(s.target_kbps))),
                    ("estimate (all media)", MAGENTA, line(|s| s.estimate_kbps)),
                    ("video received", GREEN, line(|s| Some(s.video_kbps))),
                ],
            );
            // Up to a second: what is more is off the chart (the JSON has it).
            let delay_top = run
                .iter()
                .filter_map(|s| s.queue_max_ms)
                .fold(200.0, f64::max)
                .min(1000.0)
                * 1.1;
            panel(
                &areas[2 + col],
                "queueing delay, ms (frame latency above its lowest)",
                end,
                delay_top,
                SeriesLabelPosition::UpperRight,
                vec![
                    ("median frame", BLUE, line(|s| s.queue_p50_ms)),
                    ("worst frame", RED, line(|s| s.queue_max_ms)),
                    ("150 ms", BLACK, vec![(0.0, 150.0), (end, 150.0)]),
                ],
            );
            panel(
                &areas[4 + col],
                &format!("frames a second at Ann (bottleneck lifts at {lift:.0} s)"),
                end,
                35.0,
                SeriesLabelPosition::LowerRight,
                vec![
                    ("fps", BLUE, line(|s| Some(s.fps))),
                    ("15 fps", BLACK, vec![(0.0, 15.0), (end, 15.0)]),
                ],
            );
        }
        root.present().expect("plot");
    }
    let mut opt = resvg::usvg::Options::default();
    let fonts = opt.fontdb_mut();
    fonts.load_system_fonts();
    fonts.set_sans_serif_family("DejaVu Sans");
    let tree = resvg::usvg::Tree::from_str(&svg, &opt).expect("the plot's SVG");
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("a picture to draw in");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(png).expect("write the plot");
}
