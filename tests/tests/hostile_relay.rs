//! The server must not be able to intercept a call: a signaling relay that rewrites the DTLS
//! fingerprint, or replays a signed description from an earlier call, breaks the call with a
//! clear error, and no media flows either way.

use std::time::Duration;

use assent_e2e::call::{Client, LOOPBACK_ICE, Server, ServerOptions, User};
use assent_e2e::relay::{HostileRelay, Mode};

const WAIT: Duration = Duration::from_secs(30);

/// Ann joins directly; Bob's signaling goes through the relay.
fn join_via(bob: &User, code: &str, relay: &HostileRelay) -> Client {
    let mut args: Vec<&str> = LOOPBACK_ICE.to_vec();
    args.extend(["--signal-url", &relay.url]);
    bob.join(code, &args)
}

/// Neither side has received a single frame or audio buffer from the other.
async fn no_media(a: &mut Client, b: &mut Client) {
    for (c, other) in [(a, "Bob"), (b, "Ann")] {
        if let Some(p) = c.peer_stats(other).await {
            assert_eq!(p["video_frames"], 0, "{}: {p}", c.name);
            assert_eq!(p["audio_ms"], 0, "{}: {p}", c.name);
            assert_eq!(p["connected"], false, "{}: {p}", c.name);
        }
        assert!(c.seen("connected").is_empty(), "{} connected", c.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewritten_fingerprint_breaks_the_call() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let relay = HostileRelay::start(
        format!("ws://{}/v1/signal", server.rendezvous.addr),
        Mode::RewriteFingerprint,
    )
    .await;
    let code = ann.create_meeting("Intercepted");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = join_via(&bob, &code, &relay);
    let failed = a.event("peer_failed", WAIT).await;
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains("altered in transit"), "{reason}");
    assert!(relay.tampered() >= 1);
    no_media(&mut a, &mut b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn description_replayed_from_an_earlier_call_breaks_the_call() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let relay = HostileRelay::start(
        format!("ws://{}/v1/signal", server.rendezvous.addr),
        Mode::Record,
    )
    .await;
    // A first, honest call: the relay keeps Bob's signed offer.
    let code = ann.create_meeting("First");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = join_via(&bob, &code, &relay);
    a.event("connected", WAIT).await;
    b.event("connected", WAIT).await;
    assert!(relay.recorded() >= 1);
    b.leave().await;
    a.leave().await;

    // A second call: the relay swaps Bob's fresh offer for the recorded one.
    relay.set_mode(Mode::Replay);
    let code = ann.create_meeting("Second");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = join_via(&bob, &code, &relay);
    let failed = a.event("peer_failed", WAIT).await;
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains("another call was replayed"), "{reason}");
    assert!(relay.tampered() >= 1);
    no_media(&mut a, &mut b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_signaling_resumes_the_seat_and_the_call_goes_on() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let relay = HostileRelay::start(
        format!("ws://{}/v1/signal", server.rendezvous.addr),
        Mode::Pass,
    )
    .await;
    let code = ann.create_meeting("Blip");
    let mut a = ann.join(&code, LOOPBACK_ICE);
    a.event("joined", WAIT).await;
    let mut b = join_via(&bob, &code, &relay);
    a.event("connected", WAIT).await;
    b.event("connected", WAIT).await;
    b.wait_media("Ann", 30, 500, WAIT).await;
    // The network between Bob and the server blips: Bob reconnects and resumes his seat.
    relay.drop_connections();
    b.event("reconnecting", WAIT).await;
    let rejoined = b.event("joined", WAIT).await;
    assert_eq!(rejoined["resumed"], true, "{rejoined}");
    // Media never depended on the server: it kept flowing, and nobody left or rejoined.
    let before = b.peer_stats("Ann").await.unwrap()["video_frames"]
        .as_u64()
        .unwrap();
    b.wait_media("Ann", before + 30, 0, WAIT).await;
    chat_both_ways(&mut a, &mut b).await;
    assert!(
        a.seen("participant_left").is_empty(),
        "{:?}",
        a.seen("participant_left")
    );
    assert_eq!(b.seen("participant_joined").len(), 1);
}

async fn chat_both_ways(a: &mut Client, b: &mut Client) {
    a.command("chat still here?");
    b.wait("the chat", WAIT, |v| v["event"] == "chat").await;
    b.command("chat yes");
    a.wait("the answer", WAIT, |v| v["event"] == "chat").await;
}
