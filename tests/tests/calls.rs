//! Calls between real `assent` clients through the real server: media both ways, chat with
//! receipts, a mesh of three, TURN-only through coturn, a peer killed mid-call.
//!
//! Every client gathers ICE candidates on 127.0.0.1 only and accepts only loopback candidates:
//! no packet leaves the machine.

use std::time::Duration;

use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions};
use serde_json::Value;

const CONNECT: Duration = Duration::from_secs(30);
const MEDIA: Duration = Duration::from_secs(30);

async fn connected(c: &mut Client, expected: usize) {
    for _ in 0..expected {
        c.event("connected", CONNECT).await;
    }
}

/// Send a chat line from `from` and check every other client got it and `from` got receipts.
async fn chat_reaches(from: &mut Client, others: &mut [&mut Client], text: &str) {
    from.command(&format!("chat {text}"));
    for o in others.iter_mut() {
        let v = o
            .wait("the chat message", MEDIA, |v| {
                v["event"] == "chat" && v["text"] == text
            })
            .await;
        assert!(v["from"].is_string());
    }
    let sent = from.event("chat_sent", MEDIA).await;
    let id = sent["id"].as_u64().unwrap();
    for _ in 0..others.len() {
        from.wait("a delivery receipt", MEDIA, |v| {
            v["event"] == "chat_delivered" && v["id"] == id
        })
        .await;
    }
}

fn assert_flowing(stats: &Value, from: &str) {
    let frames = stats["video_frames"].as_u64().unwrap_or(0);
    let audio = stats["audio_ms"].as_u64().unwrap_or(0);
    assert!(frames >= 30 && audio >= 1000, "from {from}: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_one_call_media_and_chat_both_ways() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("One to one");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", CONNECT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut a, 1).await;
    connected(&mut b, 1).await;
    // Both receive video frames and audio from the other.
    let from_bob = a.wait_media("Bob", 60, 2000, MEDIA).await;
    let from_ann = b.wait_media("Ann", 60, 2000, MEDIA).await;
    assert_flowing(&from_bob, "Bob");
    assert_flowing(&from_ann, "Ann");
    assert_eq!(from_bob["relayed"], false, "a direct loopback path");
    // Chat, both ways, with delivery receipts.
    chat_reaches(&mut a, &mut [&mut b], "hello from Ann").await;
    chat_reaches(&mut b, &mut [&mut a], "and hello back").await;
    // Raised hand, mute and camera off are visible to the other side.
    b.command("hand up");
    a.wait("Bob's raised hand", MEDIA, |v| {
        v["event"] == "remote_media" && v["hand"] == true
    })
    .await;
    b.command("mute");
    a.wait("Bob muted", MEDIA, |v| {
        v["event"] == "remote_media" && v["audio"] == false
    })
    .await;
    // Camera off (Bob's camera source stops) and on again: his picture comes back.
    b.command("camera off");
    a.wait("Bob's camera off", MEDIA, |v| {
        v["event"] == "remote_media" && v["video"] == false
    })
    .await;
    b.command("camera on");
    a.wait("Bob's camera on", MEDIA, |v| {
        v["event"] == "remote_media" && v["video"] == true
    })
    .await;
    let before = a.wait_media("Bob", 0, 0, MEDIA).await["video_frames"]
        .as_u64()
        .unwrap();
    a.wait_media("Bob", before + 30, 0, MEDIA).await;
    let last = b.leave().await;
    assert_eq!(last["peers"].as_array().unwrap().len(), 1);
    a.wait("Bob leaving", MEDIA, |v| v["event"] == "participant_left")
        .await;
    a.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_party_mesh_everyone_hears_and_sees_everyone() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let code = ann.create_meeting("Three");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", CONNECT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut b, 1).await;
    let mut c = cat.join(&code, LOOPBACK_ICE);
    connected(&mut c, 2).await;
    connected(&mut a, 2).await;
    for (client, others) in [
        (&mut a, ["Bob", "Cat"]),
        (&mut b, ["Ann", "Cat"]),
        (&mut c, ["Ann", "Bob"]),
    ] {
        for o in others {
            let s = client.wait_media(o, 30, 1000, MEDIA).await;
            assert_flowing(&s, o);
        }
    }
    chat_reaches(&mut c, &mut [&mut a, &mut b], "hi both").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_call_goes_through_coturn() {
    let server = Server::start(ServerOptions {
        turn: true,
        ..ServerOptions::default()
    })
    .await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Relayed");
    let mut args: Vec<&str> = LOOPBACK_ICE.to_vec();
    args.push("--relay-only");
    let mut a = ann.join(&code, &args);
    a.event("joined", CONNECT).await;
    let mut b = bob.join(&code, &args);
    connected(&mut a, 1).await;
    connected(&mut b, 1).await;
    let s = b.wait_media("Ann", 30, 1000, MEDIA).await;
    assert_flowing(&s, "Ann");
    assert_eq!(s["relayed"], true, "the selected path is a TURN relay: {s}");
    let s = a.wait_media("Bob", 30, 1000, MEDIA).await;
    assert_eq!(s["relayed"], true, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_peer_is_removed_within_seconds_and_the_call_goes_on() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let code = ann.create_meeting("Kill");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", CONNECT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut b, 1).await;
    let mut c = cat.join(&code, LOOPBACK_ICE);
    connected(&mut c, 2).await;
    connected(&mut a, 2).await;
    a.wait_media("Cat", 10, 500, MEDIA).await;
    let killed_at = std::time::Instant::now();
    c.kill9();
    for x in [&mut a, &mut b] {
        x.wait("Cat removed as lost", Duration::from_secs(10), |v| {
            v["event"] == "participant_left" && v["reason"] == "lost"
        })
        .await;
    }
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(8), "removed after {took:?}");
    // Ann and Bob still see and hear each other, and the frames keep coming.
    let before = a.peer_stats("Bob").await.unwrap()["video_frames"]
        .as_u64()
        .unwrap();
    let after = a.wait_media("Bob", before + 30, 0, MEDIA).await;
    assert!(after["video_frames"].as_u64().unwrap() > before);
    let s = a.stats().await;
    assert_eq!(s["peers"].as_array().unwrap().len(), 1, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codecs_are_negotiated_per_pair() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let code = ann.create_meeting("Codecs");
    let with = |codecs: &'static str| -> Vec<&'static str> {
        let mut v = LOOPBACK_ICE.to_vec();
        v.extend(["--codecs", codecs]);
        v
    };
    let mut a = ann.join(&code, &with("vp9,h264,vp8"));
    a.event("joined", CONNECT).await;
    // Bob prefers H.264 and has VP9: the newcomer's preference decides.
    let mut b = bob.join(&code, &with("h264,vp9"));
    connected(&mut b, 1).await;
    // Cat only has VP8.
    let mut c = cat.join(&code, &with("vp8"));
    connected(&mut c, 2).await;
    connected(&mut a, 2).await;
    let ab = a.wait_media("Bob", 30, 500, MEDIA).await;
    let ba = b.wait_media("Ann", 30, 500, MEDIA).await;
    assert_eq!(ab["codec"], "h264", "{ab}");
    assert_eq!(ba["codec"], "h264", "{ba}");
    for (x, others) in [
        (&mut a, &["Cat"][..]),
        (&mut b, &["Cat"]),
        (&mut c, &["Ann", "Bob"]),
    ] {
        for o in others {
            let s = x.wait_media(o, 30, 500, MEDIA).await;
            assert_eq!(s["codec"], "vp8", "{} ← {o}: {s}", x.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_share_starts_and_stops_and_everyone_sees_it() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let code = ann.create_meeting("Screen");
    let mut args = LOOPBACK_ICE.to_vec();
    args.extend(["--screen", "test:snow"]);
    let mut a = ann.join(&code, &args);
    a.event("joined", CONNECT).await;
    let mut b = bob.join(&code, LOOPBACK_ICE);
    connected(&mut a, 1).await;
    connected(&mut b, 1).await;
    b.wait_media("Ann", 30, 500, MEDIA).await;
    a.command("screen on");
    b.wait("Ann sharing", MEDIA, |v| {
        v["event"] == "remote_media" && v["screen"] == true
    })
    .await;
    let before = b.peer_stats("Ann").await.unwrap()["video_frames"]
        .as_u64()
        .unwrap();
    b.wait_media("Ann", before + 30, 0, MEDIA).await;
    // Stopping the share goes back to the camera; the camera off stops video altogether.
    a.command("screen off");
    b.wait("Ann stopped sharing", MEDIA, |v| {
        v["event"] == "remote_media" && v["screen"] == false
    })
    .await;
    let before = b.peer_stats("Ann").await.unwrap()["video_frames"]
        .as_u64()
        .unwrap();
    b.wait_media("Ann", before + 30, 0, MEDIA).await;
    assert!(
        a.seen("media_error").is_empty(),
        "{:?}",
        a.seen("media_error")
    );
}
