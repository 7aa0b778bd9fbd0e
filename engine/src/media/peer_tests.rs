//! The peer connection's tests: real webrtcbin pipelines on test sources.

use super::*;
use crate::media::Output;

/// The debug description of a connection lists each transceiver.
#[test]
fn transceivers_are_described() {
    gst::init().unwrap();
    let webrtc = gst::ElementFactory::make("webrtcbin").build().unwrap();
    assert!(transceivers(&webrtc).is_empty());
    let _audio = webrtc.request_pad_simple("sink_%u").unwrap();
    let _video = webrtc.request_pad_simple("sink_%u").unwrap();
    let lines = transceivers(&webrtc);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("#0 mid="), "{lines:?}");
    assert!(lines[1].contains("direction="), "{lines:?}");
}

/// Media started with `opts`, its WebRTC events dropped.
fn start(opts: super::super::MediaOptions) -> Media {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    Media::start(opts, super::super::IceOptions::default(), tx).unwrap()
}

/// Nothing to send, the window as output: media that only plays what peers send, to no sound
/// device (whatever this machine has or lacks, the speaker is the system's fallback sink that
/// plays to nothing by the clock).
fn receiving_only() -> super::super::MediaOptions {
    gst::init().unwrap();
    for sink in [
        "pulsesink",
        "alsasink",
        "openalsink",
        "jackaudiosink",
        "osssink",
        "oss4sink",
    ] {
        if let Some(f) = gst::ElementFactory::find(sink) {
            f.set_rank(gst::Rank::NONE);
        }
    }
    super::super::MediaOptions {
        video: None,
        audio: None,
        screen: None,
        output: Output::Display,
        ..Default::default()
    }
}

/// Microphone off; the camera and the screen as given.
fn sending(video: bool, screen: bool) -> assent_shared::call::MediaState {
    assent_shared::call::MediaState {
        audio: false,
        video,
        screen,
        hand: false,
    }
}

/// Play `description` (a bin ending in RTP) into `media` as if `peer` sent it: built like
/// webrtcbin's pad-added, once the first buffer (and its caps) is there.
fn feed(media: &Media, peer: PeerId, description: &str) -> Arc<Mutex<Vec<gst::Element>>> {
    let shared = media.shared.clone();
    let src = gst::parse::bin_from_description(description, true).unwrap();
    shared.pipeline.add(&src).unwrap();
    let pad = src.static_pad("src").unwrap();
    let open = Arc::new(AtomicBool::new(true));
    let receive = Arc::new(Mutex::new(Vec::new()));
    let branch = receive.clone();
    pad.add_probe(
        gst::PadProbeType::BLOCK | gst::PadProbeType::BUFFER,
        move |pad, _| {
            receive_branch(&shared, peer, pad, &open, &branch).unwrap();
            gst::PadProbeReturn::Remove
        },
    );
    src.sync_state_with_parent().unwrap();
    receive
}

/// How loud a peer is, measured on its decoded audio: a tone counts as speaking, silence
/// does not.
#[test]
fn a_peers_level_is_measured() {
    let media = start(super::super::MediaOptions {
        video: None,
        audio: None,
        screen: None,
        ..Default::default()
    });
    let (loud, quiet) = (PeerId(1), PeerId(2));
    for (peer, volume) in [(loud, 0.5), (quiet, 0.0)] {
        feed(
            &media,
            peer,
            &format!(
                "audiotestsrc is-live=true volume={volume} ! opusenc ! rtpopuspay pt=111 ! \
                 capsfilter caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=111\""
            ),
        );
    }
    let levels = media.levels();
    // A tone at half scale: about −9 dBFS.
    let db = levels
        .wait_until(
            Source::Peer(loud),
            |db| db >= super::super::level::SPEAKING_DB,
            Duration::from_secs(20),
        )
        .expect("a level for the tone");
    assert!((-15.0..=-3.0).contains(&db), "{db}");
    assert!(levels.get(Source::Peer(quiet)) < super::super::level::SPEAKING_DB);
    media.stop();
}

/// With the window as output, our own picture comes back small and in its shape for the
/// self-view; headless, there is none.
#[test]
fn the_window_gets_a_self_view() {
    for output in [Output::Display, Output::Headless] {
        let media = start(super::super::MediaOptions {
            audio: None,
            screen: None,
            output,
            ..Default::default()
        });
        let frame = media.frames().wait_newer(
            Source::Local,
            0,
            Duration::from_secs(match output {
                Output::Display => 20,
                Output::Headless => 1,
            }),
        );
        match output {
            Output::Display => {
                let f = frame.expect("a self-view");
                // 640x480 sent: 320x240 shown.
                assert_eq!((f.width, f.height), (320, 240));
                assert_eq!(f.rgba.len(), 320 * 240 * 4);
            }
            Output::Headless => assert!(frame.is_none()),
        }
        media.stop();
    }
}

/// Joined with the camera off, the camera is never opened until it is turned on.
#[test]
fn joined_with_the_camera_off_opens_it_only_when_turned_on() {
    let media = start(super::super::MediaOptions {
        audio: None,
        screen: None,
        output: Output::Display,
        camera_on: false,
        ..Default::default()
    });
    let video = media.shared.video.as_ref().unwrap();
    assert!(!video.camera_running());
    media.apply_local(sending(true, false)).unwrap();
    assert!(video.camera_running());
    media
        .frames()
        .wait_newer(Source::Local, 0, Duration::from_secs(20))
        .expect("a picture once the camera is on");
    media.stop();
}

/// Camera off stops the camera's source (the device is let go of); camera on starts it
/// again and the picture comes back. Sharing the screen stops the camera too.
#[test]
fn camera_off_lets_go_of_the_camera() {
    let media = start(super::super::MediaOptions {
        audio: None,
        screen: Some(Box::new(super::super::source::TestVideo {
            pattern: "smpte".into(),
        })),
        output: Output::Display,
        ..Default::default()
    });
    let video = media.shared.video.as_ref().unwrap();
    let frames = media.frames();
    let wait = Duration::from_secs(20);
    let first = frames
        .wait_newer(Source::Local, 0, wait)
        .expect("a picture");
    assert!(video.camera_running());
    media.apply_local(sending(false, false)).unwrap();
    assert!(!video.camera_running());
    media.apply_local(sending(true, false)).unwrap();
    let back = frames
        .wait_newer(Source::Local, first.seq + 1, wait)
        .expect("the picture comes back");
    assert!(video.camera_running());
    media.apply_local(sending(true, true)).unwrap();
    assert!(!video.camera_running());
    frames
        .wait_newer(Source::Local, back.seq + 1, wait)
        .expect("the screen's picture");
    media.apply_local(sending(true, false)).unwrap();
    assert!(video.camera_running());
    media.stop();
}

/// An RTP stream standing in for what webrtcbin hands out for a peer: VP8 at 320x240.
const VP8_320X240: &str = "videotestsrc is-live=true ! \
    video/x-raw,width=320,height=240,framerate=30/1 ! vp8enc deadline=1 ! rtpvp8pay pt=96 ! \
    capsfilter caps=\"application/x-rtp,media=video,encoding-name=VP8,payload=96\"";

/// With the window as output, a peer's VP8 stream arrives as RGBA frames in the slots.
#[test]
fn display_output_delivers_rgba_frames() {
    let media = start(receiving_only());
    let peer = PeerId(42);
    feed(&media, peer, VP8_320X240);
    let frames = media.frames();
    let first = frames
        .wait_newer(Source::Peer(peer), 0, Duration::from_secs(20))
        .expect("a frame for the window");
    assert_eq!((first.width, first.height), (320, 240));
    assert_eq!(first.rgba.len(), 320 * 240 * 4);
    let later = frames
        .wait_newer(Source::Peer(peer), first.seq, Duration::from_secs(20))
        .expect("frames keep coming");
    assert!(later.seq > first.seq);
    media.stop();
}

/// The first frame of `source` after `after` that `ok` accepts, among the next 300.
fn frame_where(
    frames: &super::super::frames::FrameSlots,
    source: Source,
    mut after: u64,
    ok: impl Fn(&super::super::frames::Frame) -> bool,
) -> super::super::frames::Frame {
    for _ in 0..300 {
        let f = frames
            .wait_newer(source, after, Duration::from_secs(20))
            .expect("frames keep coming");
        if ok(&f) {
            return f;
        }
        after = f.seq;
    }
    panic!("no such frame among 300");
}

/// Every buffer that passes `pad`, told on a channel.
fn buffers_through(pad: &gst::Pad) -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        let _ = tx.send(());
        gst::PadProbeReturn::Ok
    });
    rx
}

/// Once the window says how large it shows a peer, the peer's pictures come cropped to that
/// shape and scaled to that size (their size as sent still known); while the window does not
/// show them they are still decoded but no longer converted for it; shown again, they come at
/// the new size.
#[test]
fn a_peers_pictures_come_at_the_size_the_window_shows_them() {
    use super::super::frames::View;
    let media = start(receiving_only());
    let peer = PeerId(43);
    let source = Source::Peer(peer);
    let branch = feed(&media, peer, VP8_320X240);
    let frames = media.frames();
    let first = frame_where(&frames, source, 0, |_| true);
    assert_eq!(
        (first.width, first.height, first.natural),
        (320, 240, (320, 240))
    );
    // A 16:9 tile: the top and bottom go, the rest is scaled down.
    let tile = View::new(160, 90);
    frames.show(&std::collections::BTreeMap::from([(source, tile)]));
    let fitted = frame_where(&frames, source, first.seq, |f| f.width == 160);
    assert_eq!((fitted.height, fitted.natural), (90, (320, 240)));
    assert_eq!(fitted.rgba.len(), 160 * 90 * 4);
    // Every frame the peer's decoder gives, told on a channel.
    let decoder = branch
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.factory().is_some_and(|f| f.name() == "vp8dec"))
        .cloned()
        .expect("the peer's decoder");
    let decoded = buffers_through(&decoder.static_pad("src").unwrap());
    let decode = |n: usize| {
        for _ in 0..n {
            decoded
                .recv_timeout(Duration::from_secs(20))
                .expect("decoding goes on");
        }
    };
    // Not shown: decoded, not converted. What was past the gate when it closed arrives;
    // nothing after.
    frames.show(&std::collections::BTreeMap::new());
    while decoded.try_recv().is_ok() {}
    decode(5);
    let hidden = frames.latest(source).expect("a frame").seq;
    decode(30);
    assert_eq!(frames.latest(source).expect("a frame").seq, hidden);
    // Shown again, larger and in its own shape.
    frames.show(&std::collections::BTreeMap::from([(
        source,
        View::new(400, 300),
    )]));
    let again = frame_where(&frames, source, hidden, |f| f.width == 400);
    assert_eq!((again.width, again.height), (400, 300));
    media.stop();
}

/// The window may say a new size for its own picture at any moment (a resize, a new layout,
/// several as a window settles, or hiding it): however often, the camera goes on for the
/// peers (the self-view hangs off the camera's tee, and a failure there would stop the camera
/// for everyone), and the self-view comes at the last size said.
#[test]
fn the_camera_goes_on_however_often_the_self_view_changes_size() {
    use super::super::frames::View;
    use std::collections::BTreeMap;
    let media = start(
        super::super::MediaOptions {
            video: Some(Box::new(super::super::source::TestVideo::default())),
            ..receiving_only()
        }
        .with_size(320, 240, 30),
    );
    let frames = media.frames();
    // Every camera frame on its way to the encoders and the self-view, told on a channel.
    let camera = buffers_through(
        &media
            .pipeline()
            .by_name("video-raw")
            .and_then(|tee| tee.static_pad("sink"))
            .expect("the camera's tee"),
    );
    let next = |changes: usize| {
        camera
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the camera stopped after {changes} changes of size"));
    };
    let sizes = [
        View::new(240, 135),
        View::new(998, 561),
        View::new(97, 55),
        View::new(320, 240),
        View::new(2, 2),
        View::new(1280, 96),
    ];
    // A new size (or none: hidden) with every frame, and twice between some.
    for i in 0..120 {
        let views = match i % 9 {
            8 => BTreeMap::new(),
            _ => BTreeMap::from([(Source::Local, sizes[i % sizes.len()])]),
        };
        frames.show(&views);
        if i % 4 != 0 {
            next(i + 1);
        }
    }
    frames.show(&BTreeMap::from([(Source::Local, View::new(240, 135))]));
    for _ in 0..30 {
        next(121);
    }
    let last = frame_where(&frames, Source::Local, 0, |f| f.width == 240);
    assert_eq!((last.width, last.height), (240, 135));
    media.stop();
}

/// Every stream a client sends is announced with its SSRC, and retransmissions are grouped
/// with the stream they repair: the receiver maps each stream to its m-line by the
/// description, not by guessing from which arrives first.
#[test]
fn descriptions_announce_each_stream_ssrc() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = super::super::MediaOptions {
        screen: None,
        ..Default::default()
    };
    let media = Media::start(opts, super::super::IceOptions::default(), tx).unwrap();
    let peer = PeerId(7);
    media.create_peer(peer, true, VideoCodec::Vp8).unwrap();
    let sdp = loop {
        match rx.blocking_recv() {
            Some(MediaEvent::LocalDescription { sdp, .. }) => break sdp,
            Some(_) => continue,
            None => panic!("no offer"),
        }
    };
    let mut announced = Vec::new();
    for section in sdp.split("\r\nm=").skip(1) {
        let kind = section.split(' ').next().unwrap_or_default();
        if kind == "application" {
            continue;
        }
        let ssrcs: Vec<u32> = section
            .lines()
            .filter_map(|l| l.strip_prefix("a=ssrc:"))
            .filter(|l| l.contains(" cname:"))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
        let groups: Vec<Vec<u32>> = section
            .lines()
            .filter_map(|l| l.strip_prefix("a=ssrc-group:FID "))
            .map(|g| g.split(' ').filter_map(|n| n.parse().ok()).collect())
            .collect();
        assert!(!groups.is_empty(), "{kind}: no retransmission group");
        for g in &groups {
            assert_eq!(g.len(), 2, "{kind}: {g:?}");
            assert!(
                ssrcs.contains(&g[0]),
                "{kind}: group {g:?} not of an announced stream"
            );
            assert!(ssrcs.contains(&g[1]), "{kind}: group {g:?}");
        }
        let media_ssrc = groups[0][0];
        assert_ne!(media_ssrc, 0, "{kind}");
        announced.push((kind.to_string(), media_ssrc));
    }
    let kinds: Vec<&str> = announced.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["video", "audio"]);
    assert_ne!(announced[0].1, announced[1].1);
    media.stop();
}

/// With the window as output, every peer's voice goes through the one speaker mixer (the echo
/// canceller's reference) and is decoded and heard; a peer that leaves gives its input back.
#[test]
fn peers_are_heard_through_the_speaker_mix() {
    let media = start(receiving_only());
    let (ann, bob) = (PeerId(1), PeerId(2));
    for peer in [ann, bob] {
        feed(
            &media,
            peer,
            "audiotestsrc is-live=true volume=0.5 ! opusenc ! rtpopuspay pt=111 ! \
             capsfilter caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=111\"",
        );
    }
    let levels = media.levels();
    for peer in [ann, bob] {
        let heard = levels.wait_until(
            Source::Peer(peer),
            |db| db >= super::super::level::SPEAKING_DB,
            Duration::from_secs(20),
        );
        let decoded = media
            .shared
            .stats
            .counters(peer)
            .audio_ms
            .load(Ordering::Relaxed);
        assert!(
            heard.is_some(),
            "{peer} is not heard: {decoded} ms decoded, levels {:?}, pipeline {:?}",
            levels.snapshot(),
            media.shared.pipeline.current_state()
        );
    }
    let playback = media.shared.playback.as_ref().expect("a speaker");
    assert_eq!(playback.inputs(), 2);
    playback.remove(ann);
    assert_eq!(playback.inputs(), 1);
    media.stop();
}

/// A peer's branch that waits inside a speaker mixer which stopped taking anything (its query
/// waits for the mixer's thread) is let go when the peer's mixer inputs are given back, so the
/// branch can then be stopped (a call that hung here could not be left); what the branch still
/// sends is dropped without an error.
#[test]
fn a_branch_stuck_in_the_mixer_is_let_go_when_its_peer_goes() {
    let media = start(receiving_only());
    let pipeline = media.shared.pipeline.clone();
    let mixer = pipeline.by_name("speaker-mix").unwrap();
    let (ended_tx, ended) = std::sync::mpsc::channel();
    mixer.static_pad("src").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if let Some(gst::EventView::Eos(_)) = info.event().map(|e| e.view()) {
                let _ = ended_tx.send(());
            }
            gst::PadProbeReturn::Ok
        },
    );
    // The mixer's only input ends: so does the mixer, and its thread takes nothing more.
    let silence = pipeline.by_name("speaker-silence").unwrap();
    assert!(silence.send_event(gst::event::Eos::new()));
    ended
        .recv_timeout(Duration::from_secs(10))
        .expect("the mixer ends");
    // A peer's decoder asks the mixer about buffers (a serialized query) and waits.
    let (asked_tx, asked) = std::sync::mpsc::channel();
    mixer.connect_pad_added(move |_, pad| {
        let asked_tx = asked_tx.clone();
        pad.add_probe(gst::PadProbeType::QUERY_DOWNSTREAM, move |_, info| {
            if let Some(gst::QueryView::Allocation(_)) = info.query().map(|q| q.view()) {
                let _ = asked_tx.send(());
            }
            gst::PadProbeReturn::Ok
        });
    });
    let ann = PeerId(1);
    let receive = feed(
        &media,
        ann,
        "audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=111 ! \
         capsfilter caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=111\"",
    );
    asked
        .recv_timeout(Duration::from_secs(10))
        .expect("the branch asks the mixer");
    let playback = media.shared.playback.as_ref().expect("a speaker");
    playback.remove(ann);
    // What the branch sends from now on goes nowhere, quietly.
    let valve = receive.lock().unwrap().first().cloned().unwrap();
    let sent = buffers_through(&valve.static_pad("src").unwrap());
    for _ in 0..5 {
        sent.recv_timeout(Duration::from_secs(10))
            .expect("the branch goes on once let go");
    }
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    assert!(error.is_none(), "{error:?}");
    // And it can be stopped.
    let elements = std::mem::take(&mut *receive.lock().unwrap());
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for e in elements {
            let _ = e.set_state(gst::State::Null);
        }
        let _ = done_tx.send(());
    });
    done.recv_timeout(Duration::from_secs(10))
        .expect("the branch stops");
    media.stop();
}
