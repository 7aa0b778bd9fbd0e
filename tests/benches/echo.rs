//! Echo benchmark: how much of the far end's own voice comes back to it from a simulated room,
//! with the near end's voice processing on (the default, without gain control), off, and on with
//! gain control.
//!
//! The room is a private PulseAudio server. Ann (the near end) plays the call to the null sink
//! `room`; its monitor, 50 ms later and at half the amplitude, is mixed into the null sink
//! `micmix` together with Ann's own speech, and Ann's microphone is `micmix.monitor`. Bob (the
//! far end) talks (a speech file made with espeak-ng) and plays what he hears to the null sink
//! `far`, which is recorded. Ann says nothing for the first part of the recording and then
//! talks over Bob (double talk).
//!
//! - Echo return loss enhancement (ERLE): the energy of what Ann's microphone picked up against
//!   the energy of what reached Bob, over the part where only Bob talks (after 3 s for the
//!   canceller to settle).
//! - Ann's speech still intelligible: the correlation of what Bob heard with Ann's clean speech
//!   while both talk.
//!
//! Run with `cargo xtask bench-echo` (release binaries; results in
//! `target/bench-results/echo.json`). Options: `--seconds S`, the recording per call (default 30;
//! Ann starts talking 8 s before its end); `--runs N`, the calls with the default processing
//! (default 3: its result varies from call to call); `--cpal-speakers`, both play the call
//! through cpal instead of GStreamer's `pulsesink` (the canceller's reference is then what the
//! cpal stream plays). The run fails when any of those calls leaves less than 20 dB of ERLE.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use assent_e2e::bench::{arg, machine, publish};
use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions, User};
use assent_e2e::pulse::PulseAudio;
use assent_e2e::sound::{RATE, db, envelope_similarity, frame_energy, locate, read_wav, write_wav};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

const FAR: &str = "The quick brown fox jumps over the lazy dog. We are testing echo \
    cancellation in a simulated room, where the loudspeaker plays the voice of the far end and \
    the microphone hears it again. A good echo canceller removes it, so that the far end does \
    not hear itself coming back. One, two, three, four, five, six, seven, eight, nine, ten.";
const NEAR: &str = "Hello from the near end of the call. I am talking while you are \
    talking, and you should still hear every word I say, clearly and without your own voice.";

/// Speech from espeak-ng, as 48 kHz mono.
fn speak(dir: &Path, name: &str, voice: &str, text: &str) -> Vec<f32> {
    let raw = dir.join(format!("{name}-espeak.wav"));
    let st = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&raw)
        .arg(text)
        .status()
        .expect("run espeak-ng (cargo xtask setup installs it)");
    assert!(st.success(), "espeak-ng failed");
    let out = dir.join(format!("{name}-48k.wav"));
    gst_launch(
        &[
            &format!("filesrc location={}", raw.display()),
            "wavparse",
            "audioconvert",
            "audioresample",
            "audio/x-raw,rate=48000,channels=1,format=S16LE",
            "wavenc",
            &format!("filesink location={}", out.display()),
        ]
        .join(" ! "),
        &[],
    );
    read_wav(&out)
}

fn gst_launch(pipeline: &str, env: &[(String, String)]) {
    let st = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .status()
        .expect("run gst-launch-1.0 (cargo xtask setup installs it)");
    assert!(st.success(), "gst-launch-1.0 {pipeline} failed");
}

struct Speech {
    dir: tempfile::TempDir,
    /// Ann's clean speech.
    near: Vec<f32>,
    /// Where Ann's speech starts in what her microphone plays, seconds.
    near_at: usize,
    seconds: usize,
    /// Both play the call through cpal.
    cpal_speakers: bool,
}

/// Ann's voice processing in each run: off, on (the default: without gain control), and on with
/// gain control.
#[derive(Clone, Copy)]
enum Processing {
    Off,
    On,
    WithGainControl,
}

impl Processing {
    /// Ann's `--voice-processing` and `--gain-control`, and what the run is called.
    fn flags(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Processing::Off => ("off", "off", "off"),
            Processing::On => ("on", "off", "on"),
            Processing::WithGainControl => ("on", "on", "on with gain control"),
        }
    }
}

/// One call in the room; what Ann's microphone picked up and what Bob heard.
async fn room(ann: &User, bob: &User, speech: &Speech, processing: Processing) -> Value {
    let (voice, gain, label) = processing.flags();
    let (room, far) = match speech.cpal_speakers {
        true => ("cpal:room", "cpal:far"),
        false => ("room", "far"),
    };
    let dir = speech.dir.path();
    let pulse = PulseAudio::start(&["room", "micmix", "far", "bobvoice"]);
    pulse.loopback("room.monitor", "micmix", 50, 50);
    let env = vec![("PULSE_SERVER".to_string(), pulse.server())];
    let code = ann.create_meeting("Echo");
    let ice: Vec<&str> = LOOPBACK_ICE.to_vec();
    let mut a_args = ice.clone();
    a_args.extend([
        "--video",
        "none",
        "--audio",
        "mic:micmix.monitor",
        "--play",
        "--speaker",
        room,
        "--voice-processing",
        voice,
        "--gain-control",
        gain,
    ]);
    let mut b_args = ice;
    b_args.extend([
        "--video",
        "none",
        "--audio",
        "mic:bobvoice.monitor",
        "--voice-processing",
        "off",
        "--play",
        "--speaker",
        far,
    ]);
    let mut a = ann.join_env(&code, &a_args, &env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, &env);
    b.event("connected", WAIT).await;
    a.event("connected", WAIT).await;
    b.wait_media("Ann", 0, 1000, WAIT).await;
    a.wait_media("Bob", 0, 1000, WAIT).await;

    eprintln!(
        "bench: voice processing {}, recording {} s",
        label, speech.seconds
    );
    let buffers = speech.seconds * 100;
    let (mic, heard) = (dir.join("mic.wav"), dir.join("heard.wav"));
    let record = |device: &str, file: &Path| {
        format!(
            "pulsesrc device={device} num-buffers={buffers} latency-time=10000 ! \
             audio/x-raw,rate=48000,channels=1,format=S16LE ! wavenc ! filesink location={}",
            file.display()
        )
    };
    let play = |file: &str, device: &str| {
        format!(
            "filesrc location={} ! wavparse ! pulsesink device={device}",
            dir.join(file).display()
        )
    };
    let pipeline = format!(
        "{} {} {} {}",
        record("micmix.monitor", &mic),
        record("far.monitor", &heard),
        play("far.wav", "bobvoice"),
        play("near-padded.wav", "micmix"),
    );
    let pulse_env = pulse.env();
    tokio::task::spawn_blocking(move || gst_launch(&pipeline, &pulse_env))
        .await
        .expect("recording");
    a.leave().await;
    b.leave().await;
    drop(pulse);
    measure(&read_wav(&mic), &read_wav(&heard), speech)
}

/// ERLE over Bob-only talk, the delay of the call, and how much of Ann's speech Bob heard.
fn measure(mic: &[f32], heard: &[f32], speech: &Speech) -> Value {
    let (near_mic, in_mic) = locate(mic, &speech.near);
    let (near_heard, in_heard) = locate(heard, &speech.near);
    let delay = near_heard - near_mic;
    let expected = (speech.near_at * RATE) as i64;
    assert!(
        (near_mic - expected).abs() < RATE as i64,
        "Ann's speech found at {near_mic} in her microphone, expected about {expected}"
    );
    // Bob alone: from 3 s to half a second before Ann talks.
    let (from, to) = (3 * RATE, (near_mic as usize).saturating_sub(RATE / 2));
    let shifted = |i: usize| (i as i64 + delay).clamp(0, heard.len() as i64) as usize;
    let picked = frame_energy(&mic[from..to]);
    let reached = frame_energy(&heard[shifted(from)..shifted(to)]);
    // Frames where Bob's voice is in the room (above -50 dBFS at the microphone).
    let (mut e_mic, mut e_heard, mut frames) = (0.0, 0.0, 0);
    // The same per second, to see the canceller settle (or not).
    let mut per_second = Vec::new();
    let (mut s_mic, mut s_heard) = (0.0, 0.0);
    for (i, (m, h)) in picked.iter().zip(&reached).enumerate() {
        if *m > 1e-5 {
            e_mic += m;
            e_heard += h;
            frames += 1;
            s_mic += m;
            s_heard += h;
        }
        if (i + 1) % 100 == 0 {
            per_second.push((db(s_mic / f64::max(s_heard, 1e-12)) * 10.0).round() / 10.0);
            (s_mic, s_heard) = (0.0, 0.0);
        }
    }
    json!({
        "erle_db": db(e_mic / e_heard.max(1e-12)),
        "bob_only_seconds": frames as f64 / 100.0,
        "erle_db_per_second": per_second,
        "echo_at_microphone_dbfs": db(e_mic / frames.max(1) as f64),
        "echo_reaching_bob_dbfs": db(e_heard / frames.max(1) as f64),
        "call_delay_ms": delay as f64 * 1000.0 / RATE as f64,
        "ann_in_her_microphone_correlation": in_mic,
        "ann_heard_by_bob_waveform_correlation": in_heard,
        "ann_heard_by_bob_envelope_correlation":
            envelope_similarity(heard, &speech.near, near_heard),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = arg("--seconds", 30).max(16) as usize;
    let runs = arg("--runs", 3).max(1) as usize;
    let dir = tempfile::tempdir().expect("temporary directory");
    let far = speak(dir.path(), "far", "en-us", FAR);
    let near = speak(dir.path(), "near", "en+f3", NEAR);
    // Bob talks for the whole recording (his speech repeated), Ann 8 s before its end.
    let mut far_long = Vec::new();
    while far_long.len() < seconds * RATE {
        far_long.extend_from_slice(&far);
        far_long.extend(std::iter::repeat_n(0.0, RATE / 2));
    }
    far_long.truncate(seconds * RATE);
    write_wav(&dir.path().join("far.wav"), &far_long);
    let near_at = seconds - 8;
    let mut padded = vec![0.0; near_at * RATE];
    padded.extend_from_slice(&near);
    write_wav(&dir.path().join("near-padded.wav"), &padded);
    let speech = Speech {
        dir,
        near,
        near_at,
        seconds,
        cpal_speakers: std::env::args().any(|a| a == "--cpal-speakers"),
    };

    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let mut on = Vec::new();
    for _ in 0..runs {
        on.push(room(&ann, &bob, &speech, Processing::On).await);
    }
    let off = room(&ann, &bob, &speech, Processing::Off).await;
    let gain = room(&ann, &bob, &speech, Processing::WithGainControl).await;
    // The canceller's result varies from call to call: every call must reach the target, and
    // the median is reported beside the worst.
    let mut erles: Vec<f64> = on.iter().filter_map(|r| r["erle_db"].as_f64()).collect();
    erles.sort_by(f64::total_cmp);
    let erle = erles.get(erles.len() / 2).copied().unwrap_or(0.0);
    let worst = erles.first().copied().unwrap_or(0.0);
    let report = json!({
        "machine": machine(),
        "room": {"echo_delay_ms": 50, "echo_gain_percent": 50, "recording_seconds": seconds},
        "speakers": if speech.cpal_speakers { "cpal" } else { "pulsesink" },
        "voice_processing_on_median_erle_db": erle,
        "voice_processing_on_worst_erle_db": worst,
        "voice_processing_on": on,
        "voice_processing_off": off,
        "voice_processing_with_gain_control": gain,
    });
    publish(&report);
    assert!(
        worst >= 20.0,
        "echo return loss enhancement {worst:.1} dB with voice processing in the worst of {runs} \
         calls ({erles:?}), want at least 20 dB in every call"
    );
}
