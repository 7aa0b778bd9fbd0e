//! Microphones through cpal, the device layer: a real PulseAudio server whose "microphones"
//! hear sines (null sinks that `module-sine` plays into; their monitors are the microphones), a call between real clients, and what the far end's speaker plays,
//! recorded from its null sink.

use std::time::{Duration, Instant};

use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions};
use assent_e2e::pulse::PulseAudio;
use assent_e2e::sound::tone_power;

const WAIT: Duration = Duration::from_secs(30);

/// Which of two tones the sink `speaker` plays: records a quarter of a second until one of them
/// clearly dominates and is `want` (or the deadline passes).
async fn hears_on(pulse: &PulseAudio, speaker: &str, want: f64, other: f64) {
    let deadline = Instant::now() + WAIT;
    let monitor = format!("{speaker}.monitor");
    loop {
        let heard = pulse.record(&monitor, 250);
        let (a, b) = (tone_power(&heard, want), tone_power(&heard, other));
        // Opus at 32 kbit/s keeps a sine within a few dB; the other tone is absent.
        if a > 1e-4 && a > 100.0 * b {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{speaker} does not play {want} Hz: power {a:.2e} there, {b:.2e} at {other} Hz"
        );
    }
}

/// Ann sends her microphone as it is (voice processing would treat a steady tone as noise).
fn ann_args(microphone: &str) -> Vec<&str> {
    let mut args = LOOPBACK_ICE.to_vec();
    args.extend([
        "--video",
        "none",
        "--audio",
        microphone,
        "--voice-processing",
        "off",
    ]);
    args
}

/// Bob plays the call on `speaker`; his own voice (a tone far from Ann's) is not played back
/// to him.
fn bob_args(speaker: &str) -> Vec<&str> {
    let mut args = LOOPBACK_ICE.to_vec();
    args.extend([
        "--video",
        "none",
        "--audio",
        "test:3000",
        "--play",
        "--speaker",
        speaker,
    ]);
    args
}

/// Ann's microphone, chosen by name, is captured through cpal and heard by Bob. When it goes
/// away mid-call (its module unloaded: a headset unplugged) Ann is told, the default
/// microphone stands in and Bob hears that one; when it comes back, it is used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_microphone_is_heard_replaced_when_it_goes_away_and_taken_back() {
    let pulse = PulseAudio::start(&["bobout"]);
    let headset = pulse.tone_microphone("headset", 440);
    pulse.tone_microphone("laptop", 1000);
    pulse
        .pactl(&["set-default-source", "laptop.monitor"])
        .unwrap();
    let env = pulse.env();

    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    // The device list is cpal's: the sound server's names, which the sources open.
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let listed: Vec<serde_json::Value> = serde_json::from_str(
        &ann.try_cli_env(&["devices", "--json"], &env_ref)
            .expect("assent devices"),
    )
    .expect("a JSON list");
    let has = |kind: &str, id: &str| listed.iter().any(|d| d["kind"] == kind && d["id"] == id);
    assert!(
        has("microphone", "headset.monitor") && has("microphone", "laptop.monitor"),
        "{listed:?}"
    );
    assert!(has("speaker", "bobout"), "{listed:?}");
    let code = ann.create_meeting("Headset");
    let a_args = ann_args("mic:headset.monitor");
    let b_args = bob_args("bobout");
    let mut a = ann.join_env(&code, &a_args, &env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, &env);
    b.wait_media("Ann", 0, 500, WAIT).await;
    hears_on(&pulse, "bobout", 440.0, 1000.0).await;
    assert!(a.seen("device").is_empty(), "{:?}", a.seen("device"));

    // The headset goes away.
    pulse.unplug(&headset);
    let lost = a.event("device", WAIT).await;
    assert_eq!(lost["kind"], "microphone");
    assert_eq!(lost["device"], "headset.monitor");
    assert_eq!(lost["back"], false);
    assert!(
        lost["message"]
            .as_str()
            .is_some_and(|m| m.contains("using the default microphone")),
        "{lost}"
    );
    hears_on(&pulse, "bobout", 1000.0, 440.0).await;

    // It comes back.
    pulse.tone_microphone("headset", 440);
    let back = a.event("device", WAIT).await;
    assert_eq!(back["back"], true, "{back}");
    hears_on(&pulse, "bobout", 440.0, 1000.0).await;

    b.leave().await;
    a.leave().await;
}

/// A chosen microphone that gives no sound (its source suspended: cpal's PulseAudio host waits
/// in `play()` for the first sound, and the call used to wait with it, for ever) does not hold
/// the call up: Ann is told, the default microphone stands in and Bob hears it; when the
/// microphone gives sound again, it is used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_that_gives_no_sound_is_replaced_until_it_does() {
    let pulse = PulseAudio::start(&["bobout"]);
    pulse.tone_microphone("headset", 440);
    pulse.tone_microphone("laptop", 1000);
    pulse
        .pactl(&["set-default-source", "laptop.monitor"])
        .unwrap();
    pulse.pactl(&["suspend-sink", "headset", "1"]).unwrap();
    let env = pulse.env();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Silent headset");
    let a_args = ann_args("mic:headset.monitor");
    let mut a = ann.join_env(&code, &a_args, &env);
    let told = a.event("device", WAIT).await;
    assert_eq!(told["device"], "headset.monitor", "{told}");
    assert_eq!(told["back"], false, "{told}");
    let mut b = bob.join_env(&code, &bob_args("bobout"), &env);
    b.wait_media("Ann", 0, 500, WAIT).await;
    hears_on(&pulse, "bobout", 1000.0, 440.0).await;

    pulse.pactl(&["suspend-sink", "headset", "0"]).unwrap();
    let back = a.event("device", WAIT).await;
    assert_eq!(back["back"], true, "{back}");
    hears_on(&pulse, "bobout", 440.0, 1000.0).await;
    b.leave().await;
    a.leave().await;
}

/// When no microphone gives sound (the only one suspended) the call starts all the same: Ann
/// is told the others hear nothing from her, Bob receives her audio (silence, where before the
/// call's media failed); once the microphone gives sound it is taken, and Bob hears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_starts_without_sound_when_no_microphone_gives_any_and_takes_one_when_it_does() {
    let pulse = PulseAudio::start(&["bobout"]);
    pulse.tone_microphone("headset", 440);
    pulse
        .pactl(&["set-default-source", "headset.monitor"])
        .unwrap();
    pulse.pactl(&["suspend-sink", "headset", "1"]).unwrap();
    let env = pulse.env();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Silent desk");
    let mut a = ann.join_env(&code, &ann_args("mic"), &env);
    let told = a.event("device", WAIT).await;
    assert_eq!(told["kind"], "microphone", "{told}");
    assert_eq!(told["back"], false, "{told}");
    assert_eq!(told["using"], "silence", "{told}");
    assert_eq!(
        told["message"],
        "No microphone gives sound: the others hear nothing from you until one does."
    );
    let mut b = bob.join_env(&code, &bob_args("bobout"), &env);
    b.wait_media("Ann", 0, 500, WAIT).await;
    let heard = pulse.record("bobout.monitor", 250);
    assert!(
        tone_power(&heard, 440.0) < 1e-5,
        "Bob hears the suspended tone"
    );

    pulse.pactl(&["suspend-sink", "headset", "0"]).unwrap();
    let back = a.event("device", WAIT).await;
    assert_eq!(back["back"], true, "{back}");
    hears_on(&pulse, "bobout", 440.0, 1000.0).await;
    b.leave().await;
    a.leave().await;
}

/// A chosen microphone or speaker that is not there at the start does not stop the call: the
/// default one is used and the user is told; when the speaker is plugged in, the call plays
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_microphone_or_speaker_gives_the_default_and_a_message() {
    let pulse = PulseAudio::start(&["bobout"]);
    pulse.tone_microphone("laptop", 1000);
    pulse
        .pactl(&["set-default-source", "laptop.monitor"])
        .unwrap();
    pulse.pactl(&["set-default-sink", "bobout"]).unwrap();
    let env = pulse.env();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("No headset");
    let a_args = ann_args("mic:unplugged-headset");
    let b_args = bob_args("unplugged-speaker");
    let mut a: Client = ann.join_env(&code, &a_args, &env);
    let told = a.event("device", WAIT).await;
    assert_eq!(told["device"], "unplugged-headset");
    assert_eq!(told["back"], false);
    let mut b = bob.join_env(&code, &b_args, &env);
    let told = b.event("device", WAIT).await;
    assert_eq!(told["kind"], "speaker");
    assert_eq!(told["device"], "unplugged-speaker");
    b.wait_media("Ann", 0, 500, WAIT).await;
    hears_on(&pulse, "bobout", 1000.0, 440.0).await;
    pulse.speaker("unplugged-speaker");
    let back = b.event("device", WAIT).await;
    assert_eq!(back["back"], true, "{back}");
    hears_on(&pulse, "unplugged-speaker", 1000.0, 440.0).await;
    b.leave().await;
    a.leave().await;
}

/// A camera that is not there (unplugged since it was chosen; this works the same for a
/// machine without any camera) does not stop the call: the user is told, joins with the camera
/// off, and the call goes on with sound; the others see the camera as off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_camera_gives_a_message_and_a_call_without_video() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("No camera");
    let mut a_args = LOOPBACK_ICE.to_vec();
    a_args.extend(["--video", "camera:/dev/video-unplugged", "--audio", "test"]);
    let mut a = ann.join(&code, &a_args);
    let told = a.event("device", WAIT).await;
    assert_eq!(told["kind"], "camera");
    assert_eq!(told["device"], "/dev/video-unplugged");
    assert_eq!(told["back"], false);
    assert_eq!(
        told["message"],
        "The camera /dev/video-unplugged is not available: you are in the call with your camera \
         off."
    );
    a.event("joined", WAIT).await;
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend(["--video", "test", "--audio", "test"]);
    let mut b = bob.join(&code, &b_args);
    b.event("connected", WAIT).await;
    // Her camera is off for Bob; Ann hears and sees Bob, Bob hears Ann.
    let state = b
        .wait("Ann's media state", WAIT, |v| v["event"] == "remote_media")
        .await;
    assert_eq!(state["video"], false, "{state}");
    assert_eq!(state["audio"], true, "{state}");
    a.wait_media("Bob", 10, 500, WAIT).await;
    let from_ann = b.wait_media("Ann", 0, 1000, WAIT).await;
    assert_eq!(
        from_ann["video_frames"], 0,
        "no picture from Ann: {from_ann}"
    );
    // Turning the camera on while it is still not there: Ann is told, the call goes on.
    a.command("camera on");
    let e = a.event("media_error", WAIT).await;
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("the camera cannot be opened: is it plugged in?")),
        "{e}"
    );
    let heard = from_ann["audio_ms"].as_u64().unwrap_or(0);
    b.wait_media("Ann", 0, heard + 1000, WAIT).await;
    b.leave().await;
    a.leave().await;
}

/// A chosen speaker that goes away mid-call (headphones unplugged) is replaced by the default
/// one, and the user is told; when it comes back, the call plays there again. The sound server
/// is set up as a desktop's is: streams on a sink that goes away move to the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_speaker_that_goes_away_is_replaced_and_taken_back() {
    speaker_goes_away_and_comes_back("").await;
}

/// The same through cpal: its own thread opens the default speaker when the chosen one goes,
/// and the chosen one again when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_speaker_through_cpal_is_heard_replaced_and_taken_back() {
    speaker_goes_away_and_comes_back("cpal:").await;
}

/// Bob plays the call on "headphones" (through `path`: "" for pulsesink, "cpal:"), which are
/// unplugged and plugged back.
async fn speaker_goes_away_and_comes_back(path: &str) {
    let pulse = PulseAudio::start(&["laptopout"]);
    pulse.load_module(&["module-rescue-streams"]);
    let plugged = pulse.speaker("headphones");
    pulse.tone_microphone("annmic", 440);
    pulse.pactl(&["set-default-sink", "laptopout"]).unwrap();
    let env = pulse.env();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Headphones");
    let a_args = ann_args("mic:annmic.monitor");
    let chosen = format!("{path}headphones");
    let b_args = bob_args(&chosen);
    let mut a = ann.join_env(&code, &a_args, &env);
    a.event("joined", WAIT).await;
    let mut b = bob.join_env(&code, &b_args, &env);
    b.wait_media("Ann", 0, 500, WAIT).await;
    hears_on(&pulse, "headphones", 440.0, 1000.0).await;

    // Unplugged: Bob is told, and hears Ann on the default speaker.
    pulse.pactl(&["unload-module", &plugged]).unwrap();
    let lost = b.event("device", WAIT).await;
    assert_eq!(lost["kind"], "speaker", "{lost}");
    assert_eq!(lost["device"], "headphones", "{lost}");
    assert_eq!(lost["back"], false, "{lost}");
    hears_on(&pulse, "laptopout", 440.0, 1000.0).await;

    // Plugged back: the call plays there again.
    pulse.speaker("headphones");
    let back = b.event("device", WAIT).await;
    assert_eq!(back["back"], true, "{back}");
    hears_on(&pulse, "headphones", 440.0, 1000.0).await;
    b.leave().await;
    a.leave().await;
}
