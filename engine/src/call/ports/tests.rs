//! The effects that touch the peers' media, against a simulated media layer: what it was asked
//! to do, and what a failure becomes.

use super::super::simulated::Simulated;
use super::*;

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const PEER: PeerId = PeerId(7);

/// The newcomer's preference decides the codec, whichever side builds the connection: both
/// sides compute the same one.
#[test]
fn both_sides_choose_the_same_codec() {
    let announced = BTreeMap::from([(PEER, names(&["h264", "vp8"]))]);
    let me = Simulated {
        codecs: names(&["vp9", "vp8", "h264"]),
        ..Simulated::default()
    };
    // Offerer: my list first.
    let offer = Effect::CreatePeer {
        peer: PEER,
        offerer: true,
    };
    assert!(matches!(route(offer, &me, &announced), Routed::Done));
    // Answerer: theirs first.
    let answer = Effect::CreatePeer {
        peer: PEER,
        offerer: false,
    };
    assert!(matches!(route(answer, &me, &announced), Routed::Done));
    assert_eq!(
        me.calls(),
        [
            format!("create {PEER} offerer=true Vp8"),
            format!("create {PEER} offerer=false H264"),
        ]
    );
}

/// A peer whose media fails becomes the machine's `PeerError` for that peer (and only that
/// peer): the call goes on with the others.
#[test]
fn a_peer_whose_media_fails_is_reported_to_the_machine() {
    let me = Simulated {
        fail_create: true,
        fail_remote: true,
        ..Simulated::default()
    };
    let none = BTreeMap::new();
    let create = Effect::CreatePeer {
        peer: PEER,
        offerer: true,
    };
    match route(create, &me, &none) {
        Routed::Input(Input::Media(MediaEvent::PeerError { peer, reason })) => {
            assert_eq!(peer, PEER);
            assert_eq!(reason, "media pipeline: simulated");
        }
        other => panic!("{other:?}"),
    }
    let remote = Effect::ApplyRemote {
        peer: PEER,
        kind: SdpKind::Offer,
        sdp: "v=0".into(),
    };
    assert!(matches!(
        route(remote, &me, &none),
        Routed::Input(Input::Media(MediaEvent::PeerError { peer, .. })) if peer == PEER
    ));
}

/// The local media failing is the user's to hear about, not a peer's failure.
#[test]
fn local_media_failing_is_not_a_peer_error() {
    let me = Simulated {
        fail_local: true,
        ..Simulated::default()
    };
    let state = MediaState {
        audio: false,
        video: true,
        screen: false,
        hand: false,
    };
    let routed = route(Effect::ApplyLocalMedia(state), &me, &BTreeMap::new());
    assert!(matches!(
        routed,
        Routed::LocalFailed(MediaError::Pipeline(_))
    ));
    assert_eq!(me.calls(), ["local audio=false"]);
}

/// Candidates, opening, data and closing reach the media as given; effects that are not the
/// media's come back untouched, and the media hears nothing of them.
#[test]
fn the_rest_reach_the_media_or_come_back() {
    let me = Simulated::default();
    let none = BTreeMap::new();
    for effect in [
        Effect::AddCandidate {
            peer: PEER,
            mline: 1,
            candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host".into(),
        },
        Effect::OpenMedia { peer: PEER },
        Effect::SendData {
            peer: PEER,
            text: "{}".into(),
        },
        Effect::ClosePeer { peer: PEER },
    ] {
        assert!(matches!(route(effect, &me, &none), Routed::Done));
    }
    assert_eq!(
        me.calls(),
        [
            format!("candidate {PEER} 1 candidate:1 1 UDP 1 127.0.0.1 5000 typ host"),
            format!("open {PEER}"),
            format!("data {PEER} {{}}"),
            format!("close {PEER}"),
        ]
    );
    let hangup = route(Effect::Hangup, &me, &BTreeMap::new());
    assert!(matches!(hangup, Routed::NotMedia(Effect::Hangup)));
    assert_eq!(me.calls().len(), 4);
}
