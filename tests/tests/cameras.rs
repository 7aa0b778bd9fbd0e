//! Cameras through nokhwa, on a machine without one: the client is given Video4Linux cameras by
//! the test camera library (`tests/fakecam`, loaded with `LD_PRELOAD`), each a file in a
//! folder saying its name and the colour of its picture; deleting the file unplugs it. Bob
//! sees Ann's picture in his window (on a virtual display), so what crosses the call is what
//! is checked: her chosen camera, the one that stands in when it is unplugged, the chosen one
//! again when it is back, and a black picture when none is left.

use std::time::Duration;

use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions};
use assent_e2e::display::{Display, screenshot_dir};
use assent_e2e::fakecam::{env as camera_env, plug, unplug};

const WAIT: Duration = Duration::from_secs(60);

/// Ann chooses her red camera (the second one; the green one is the system's first). Bob sees
/// red; unplugged, the green one stands in and Ann is told; plugged back, red again and Ann is
/// told; with both gone Bob sees black, and Ann is told that too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_camera_is_seen_replaced_when_unplugged_and_taken_back() {
    let cameras = tempfile::tempdir().unwrap();
    plug(cameras.path(), 2, "Desk Camera", "00ff00");
    plug(cameras.path(), 5, "Red Camera", "ff0000");
    let env = camera_env(cameras.path());
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    // The device list is nokhwa's: Video4Linux nodes, named as their drivers name them.
    let listed: Vec<serde_json::Value> = serde_json::from_str(
        &ann.try_cli_env(&["devices", "--json"], &env_ref)
            .expect("assent devices"),
    )
    .expect("a JSON list");
    let cameras_listed: Vec<(&str, &str)> = listed
        .iter()
        .filter(|d| d["kind"] == "camera")
        .map(|d| (d["id"].as_str().unwrap(), d["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        cameras_listed,
        [
            ("/dev/video2", "Desk Camera"),
            ("/dev/video5", "Red Camera")
        ]
    );

    let display = Display::start(1280, 720);
    let tmp = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(&tmp);
    let code = bob.create_meeting("Cameras");
    let _window = bob.open_window(&display.name);
    display.enter_call(&code, "Cameras", WAIT);

    let mut args = LOOPBACK_ICE.to_vec();
    args.extend(["--video", "camera:/dev/video5", "--audio", "test"]);
    let mut a = ann.join_env(&code, &args, &env);
    a.event("joined", WAIT).await;
    display.wait_for_window("Assent — Cameras — in call with 1", WAIT);
    let tile = (300, 200);
    let red = |(r, g, b): (u8, u8, u8)| r > 200 && g < 60 && b < 60;
    let green = |(r, g, b): (u8, u8, u8)| r < 60 && g > 200 && b < 60;
    display.wait_for_pixel(
        &shots.join("camera-chosen.png"),
        tile,
        red,
        "Ann's chosen camera (red) is not shown",
        WAIT,
    );
    assert!(a.seen("device").is_empty(), "{:?}", a.seen("device"));

    // Unplugged: the system's first camera stands in.
    unplug(cameras.path(), 5);
    let lost = a.event("device", WAIT).await;
    assert_eq!(lost["kind"], "camera", "{lost}");
    assert_eq!(lost["device"], "/dev/video5", "{lost}");
    assert_eq!(lost["back"], false, "{lost}");
    assert_eq!(lost["using"], "default", "{lost}");
    assert_eq!(
        lost["message"],
        "The camera /dev/video5 is not available: using the default camera until it comes back."
    );
    display.wait_for_pixel(
        &shots.join("camera-stand-in.png"),
        tile,
        green,
        "the camera standing in (green) is not shown",
        WAIT,
    );

    // Plugged back: hers again.
    plug(cameras.path(), 5, "Red Camera", "ff0000");
    let back = a.event("device", WAIT).await;
    assert_eq!(back["back"], true, "{back}");
    assert_eq!(
        back["message"],
        "The camera /dev/video5 is back and in use again."
    );
    display.wait_for_pixel(
        &shots.join("camera-back.png"),
        tile,
        red,
        "Ann's camera (red) is not shown again",
        WAIT,
    );

    // Every camera gone: a black picture, and she is told.
    unplug(cameras.path(), 2);
    unplug(cameras.path(), 5);
    let none = a.event("device", WAIT).await;
    assert_eq!(none["using"], "black", "{none}");
    assert_eq!(
        none["message"],
        "The camera /dev/video5 is not available: the others see a black picture until it \
         comes back."
    );
    display.wait_for_pixel(
        &shots.join("camera-none.png"),
        tile,
        |(r, g, b)| r < 30 && g < 30 && b < 30,
        "no black picture with every camera gone",
        WAIT,
    );
    assert!(
        a.seen("media_error").is_empty(),
        "{:?}",
        a.seen("media_error")
    );
    a.leave().await;
}

/// GStreamer's `v4l2src`, kept beside nokhwa to compare (`cargo xtask bench-devices`), reads
/// the same camera into a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gstreamer_camera_path_reads_the_same_camera() {
    let cameras = tempfile::tempdir().unwrap();
    plug(cameras.path(), 1, "Laptop Camera", "0000ff");
    let env = camera_env(cameras.path());
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Through v4l2src");
    let mut args = LOOPBACK_ICE.to_vec();
    args.extend(["--video", "v4l2:/dev/video1", "--audio", "none"]);
    let mut a = ann.join_env(&code, &args, &env);
    a.event("joined", WAIT).await;
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend(["--video", "none", "--audio", "none"]);
    let mut b = bob.join(&code, &b_args);
    b.wait_media("Ann", 60, 0, WAIT).await;
    assert!(
        a.seen("media_error").is_empty(),
        "{:?}",
        a.seen("media_error")
    );
    b.leave().await;
    a.leave().await;
}

/// Turning the camera off lets the device go (a camera may then be unplugged, or used by
/// another program); turning it on opens it again, and a camera that is not there gives a
/// clear error and leaves the call as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_turned_off_is_let_go_and_opened_again() {
    let cameras = tempfile::tempdir().unwrap();
    plug(cameras.path(), 0, "Laptop Camera", "0000ff");
    let env = camera_env(cameras.path());
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Off and on");
    let mut args = LOOPBACK_ICE.to_vec();
    args.extend(["--video", "camera", "--audio", "test"]);
    let mut a = ann.join_env(&code, &args, &env);
    a.event("joined", WAIT).await;
    let mut b_args = LOOPBACK_ICE.to_vec();
    b_args.extend(["--video", "test", "--audio", "test"]);
    let mut b = bob.join(&code, &b_args);
    let seen = b.wait_media("Ann", 30, 0, WAIT).await;
    let frames = seen["video_frames"].as_u64().unwrap();

    // Off: unplugging it now goes unnoticed (the device is not open).
    a.command("camera off");
    b.wait("Ann's camera off", WAIT, |v| {
        v["event"] == "remote_media" && v["video"] == false
    })
    .await;
    unplug(cameras.path(), 0);
    // On while it is not there: an error, the call goes on.
    a.command("camera on");
    let e = a.event("media_error", WAIT).await;
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("the camera cannot be opened: is it plugged in?")),
        "{e}"
    );
    // Plugged in and turned on: Bob gets pictures again.
    a.command("camera off");
    plug(cameras.path(), 0, "Laptop Camera", "0000ff");
    a.command("camera on");
    b.wait_media("Ann", frames + 30, 0, WAIT).await;
    // No camera was followed while it was off.
    assert!(a.seen("device").is_empty(), "{:?}", a.seen("device"));
    b.leave().await;
    a.leave().await;
}

/// In the window: the getting-ready preview shows the chosen camera (scaled to the preview's
/// width: the camera's caps must say its pixels are square, or the scaler cannot work out the
/// height), the call shows it in her own tile, and the tile follows the camera standing in
/// while it is unplugged, and the chosen one when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_previews_the_chosen_camera_and_follows_it() {
    let cameras = tempfile::tempdir().unwrap();
    plug(cameras.path(), 2, "Desk Camera", "00ff00");
    plug(cameras.path(), 5, "Red Camera", "ff0000");
    let mut env = camera_env(cameras.path());
    env.push(("ASSENT_VIDEO".into(), "camera:/dev/video5".into()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let display = Display::start(1280, 720);
    let tmp = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(&tmp);
    let code = ann.create_meeting("Cameras");
    let _window = ann.open_window_env(&display.name, &env_ref);
    display.wait_for_window("Assent", WAIT);
    display.focus("Assent");
    display.get_ready_for(&code, "Cameras", WAIT);
    let red = |(r, g, b): (u8, u8, u8)| r > 200 && g < 60 && b < 60;
    let green = |(r, g, b): (u8, u8, u8)| r < 60 && g > 200 && b < 60;
    display.wait_for_pixel(
        &shots.join("camera-preview.png"),
        (470, 360),
        red,
        "the preview does not show the chosen camera (red)",
        WAIT,
    );
    display.keys(&["Return"]);
    display.wait_for_window("Assent — Cameras — in call with 0", WAIT);
    let own = (730, 350);
    display.wait_for_pixel(
        &shots.join("camera-own-tile.png"),
        own,
        red,
        "her own tile does not show her camera (red)",
        WAIT,
    );
    unplug(cameras.path(), 5);
    display.wait_for_pixel(
        &shots.join("camera-own-stand-in.png"),
        own,
        green,
        "her own tile does not show the camera standing in (green)",
        WAIT,
    );
    plug(cameras.path(), 5, "Red Camera", "ff0000");
    display.wait_for_pixel(
        &shots.join("camera-own-back.png"),
        own,
        red,
        "her own tile does not show her camera again (red)",
        WAIT,
    );
}
