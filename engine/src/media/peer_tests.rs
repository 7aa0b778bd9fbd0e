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

/// Nothing to send, the window as output: media that only plays what peers send.
fn receiving_only() -> super::super::MediaOptions {
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

/// With the window as output, a peer's VP8 stream arrives as RGBA frames in the slots.
#[test]
fn display_output_delivers_rgba_frames() {
    let media = start(receiving_only());
    let peer = PeerId(42);
    // An RTP stream standing in for what webrtcbin hands out for a peer.
    feed(
        &media,
        peer,
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! \
         vp8enc deadline=1 ! rtpvp8pay pt=96 ! \
         capsfilter caps=\"application/x-rtp,media=video,encoding-name=VP8,payload=96\"",
    );
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
        levels
            .wait_until(
                Source::Peer(peer),
                |db| db >= super::super::level::SPEAKING_DB,
                Duration::from_secs(20),
            )
            .expect("the peer is heard");
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
    let (sent_tx, sent) = std::sync::mpsc::channel();
    valve
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let _ = sent_tx.send(());
            gst::PadProbeReturn::Ok
        });
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
