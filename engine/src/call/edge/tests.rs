//! The call edge against simulated ports and a real profile store: what reaches the machine,
//! what the world is asked, what the store keeps. No GStreamer, no sockets, no server.

use assent_shared::api::ErrorCode;
use assent_shared::api::MeetingRole;
use assent_shared::call::MediaState;
use assent_shared::container::Track;
use assent_shared::ids::{MeetingId, UserId};
use assent_shared::transparency::{RootBody, ServerKey, VrfKey};
use assent_shared::{CallId, DeviceId, Digest};

use super::super::simulated::{Simulated, World};
use super::*;
use crate::store::{CloudState, PinSeen, RecordingRow};

const CALL: CallId = CallId([3; 16]);
const ME: PeerId = PeerId(1000);
const BOB: PeerId = PeerId(2000);

fn identity(n: u8) -> SecretIdentity {
    SecretIdentity::from_seed([n; 32], Timestamp(0))
}

fn server_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[9; 32])
}

fn directory_keys() -> DirectoryKeys {
    DirectoryKeys {
        signing: ServerKey(server_key().verifying_key().to_bytes()),
        vrf: VrfKey([1; 32]),
    }
}

fn root(epoch: u64, hash: u8) -> SignedRoot {
    SignedRoot::sign(
        &server_key(),
        RootBody {
            version: assent_shared::transparency::ROOT_VERSION,
            epoch,
            root_hash: Digest([hash; 32]),
            previous: Digest([0; 32]),
            time: Timestamp(1_000),
        },
    )
}

fn bob() -> PeerInfo {
    PeerInfo {
        peer_id: BOB,
        user_id: UserId([2; 16]),
        email: "bob@example.org".into(),
        display_name: "Bob".into(),
        role: MeetingRole::Participant,
        identity: identity(2).public().clone(),
        codecs: vec!["vp8".into()],
    }
}

struct Test {
    edge: Edge<Simulated, World>,
    _dir: tempfile::TempDir,
}

/// Ann's edge, with a fresh profile store.
fn ann() -> Test {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("profile.db")).unwrap();
    let machine = CallMachine::new(
        identity(1),
        UserId([1; 16]),
        "Ann",
        "ann@example.org",
        DeviceId([1; 16]),
        MediaState {
            audio: true,
            video: true,
            ..MediaState::default()
        },
        machine::Config::default(),
    );
    let peers = Simulated {
        codecs: vec!["vp8".into()],
        ..Simulated::default()
    };
    let record = CallRecord {
        meeting_code: "abc-defg-hij".into(),
        ..CallRecord::starting()
    };
    Test {
        edge: Edge::new(
            machine,
            peers,
            World::default(),
            store,
            directory_keys(),
            record,
        ),
        _dir: dir,
    }
}

fn server(msg: ServerMsg) -> SignalEvent {
    SignalEvent::Msg(Box::new(msg))
}

/// Ann takes her seat with Bob already there: the edge hands the seat to the machine.
fn seat(t: &mut Test) {
    let joined = server(ServerMsg::Joined {
        version: 1,
        meeting_id: MeetingId([5; 16]),
        call_id: CALL,
        peer_id: ME,
        resume_token: "resume".into(),
        role: MeetingRole::Participant,
        peers: vec![bob()],
        resumed: false,
    });
    let input = t.edge.signal_event(joined).unwrap().unwrap();
    t.edge.feed(input);
}

/// What the directory proved for Bob: his key, under the root of epoch 4.
fn proven(identity: PublicIdentity) -> DirectoryReply {
    DirectoryReply::Vetted {
        peer: BOB,
        email: "bob@example.org".into(),
        name: "Bob".into(),
        identity: Box::new(identity),
        result: Ok(transparency::Vetted { root: root(4, 1) }),
    }
}

fn answer(t: &mut Test, reply: DirectoryReply) {
    for input in t.edge.directory_reply(reply) {
        t.edge.feed(input);
    }
}

fn reported(t: &Test) -> Vec<CallEvent> {
    t.edge.io.reports.borrow().clone()
}

/// The server's seat reaches the machine, the call's history learns its id, and the peer
/// already there is looked up in the key directory before anything is negotiated.
#[test]
fn a_seat_sends_the_people_present_to_the_key_directory_first() {
    let mut t = ann();
    seat(&mut t);
    assert_eq!(t.edge.record.call_id, CALL.to_string());
    assert_eq!(t.edge.codecs.get(&BOB), Some(&vec!["vp8".to_string()]));
    let lookups = t.edge.io.lookups.borrow().clone();
    assert_eq!(
        lookups,
        [ports::Lookup {
            peer: BOB,
            email: "bob@example.org".into(),
            name: "Bob".into(),
            identity: identity(2).public().clone(),
            newest: None,
        }]
    );
    // Nothing reached the media before the directory answered.
    assert!(t.edge.peers.calls().is_empty());
}

/// A key the directory proves is pinned on first sight, its root kept, and the connection
/// to that peer starts (we came last, so we offer).
#[test]
fn a_proven_key_is_pinned_and_the_connection_starts() {
    let mut t = ann();
    seat(&mut t);
    answer(&mut t, proven(identity(2).public().clone()));
    let pin = t.edge.store.pin("bob@example.org").unwrap().unwrap();
    assert_eq!(pin.identity, *identity(2).public());
    assert!(!pin.verified);
    assert_eq!(
        t.edge.store.newest_root().unwrap().map(|r| r.epoch()),
        Some(4)
    );
    assert_eq!(
        t.edge.peers.calls(),
        [format!("create {BOB} offerer=true Vp8")]
    );
    // The next lookup may not accept a proof older than what this device has seen.
    t.edge
        .vet(BOB, "bob@example.org".into(), identity(2).public().clone());
    assert_eq!(t.edge.io.lookups.borrow().last().unwrap().newest, Some(4));
}

/// The directory refusing a key is that peer's failure, said to the user; no connection is
/// built and nothing is pinned.
#[test]
fn a_refused_key_fails_the_peer_without_a_connection() {
    let mut t = ann();
    seat(&mut t);
    answer(
        &mut t,
        DirectoryReply::Vetted {
            peer: BOB,
            email: "bob@example.org".into(),
            name: "Bob".into(),
            identity: Box::new(identity(2).public().clone()),
            result: Err(DirectoryError::Kt(
                assent_shared::transparency::KtError::WrongEpoch,
            )),
        },
    );
    // Never built: closing is all the media hears of them.
    assert_eq!(t.edge.peers.calls(), [format!("close {BOB}")]);
    assert!(reported(&t).iter().any(|e| matches!(
        e,
        CallEvent::Call(Event::PeerFailed { peer, .. }) if *peer == BOB
    )));
    assert_eq!(t.edge.store.pin("bob@example.org").unwrap(), None);
}

/// Another key than the one pinned for Bob's email waits for the user, with the safety
/// number to compare; accepting it re-pins it as verified and the connection starts.
#[test]
fn a_changed_key_waits_for_the_user_and_accepting_it_re_pins_it() {
    let mut t = ann();
    let old = identity(7).public().clone();
    let seen = t
        .edge
        .store
        .observe_pin("bob@example.org", "Bob", &old, Timestamp(1))
        .unwrap();
    assert_eq!(seen, PinSeen::New);
    seat(&mut t);
    answer(&mut t, proven(identity(2).public().clone()));
    let expected = safety_number(identity(1).public(), identity(2).public());
    assert!(reported(&t).iter().any(|e| matches!(
        e,
        CallEvent::Call(Event::KeyChanged { peer, safety_number, .. })
            if *peer == BOB && *safety_number == expected
    )));
    assert!(t.edge.peers.calls().is_empty());
    assert_eq!(
        t.edge
            .store
            .pin("bob@example.org")
            .unwrap()
            .unwrap()
            .identity,
        old
    );

    let input = t.edge.command(Command::AcceptKey(BOB)).unwrap();
    t.edge.feed(input);
    let pin = t.edge.store.pin("bob@example.org").unwrap().unwrap();
    assert_eq!(pin.identity, *identity(2).public());
    assert!(pin.verified);
    assert_eq!(
        t.edge.peers.calls(),
        [format!("create {BOB} offerer=true Vp8")]
    );
}

/// Accepting the key of someone whose key did not change does nothing.
#[test]
fn accepting_an_unchanged_key_does_nothing() {
    let mut t = ann();
    seat(&mut t);
    answer(&mut t, proven(identity(2).public().clone()));
    assert_eq!(t.edge.command(Command::AcceptKey(BOB)), None);
    assert!(
        !t.edge
            .store
            .pin("bob@example.org")
            .unwrap()
            .unwrap()
            .verified
    );
}

/// The library row the recorder reports with a recording it starts.
fn recording_row(
    id: assent_shared::ids::RecordingId,
    dir: &std::path::Path,
    scope: Scope,
) -> RecordingRow {
    RecordingRow {
        id: id.to_string(),
        title: "Standup".into(),
        dir: dir.display().to_string(),
        call_id: CALL.to_string(),
        started_at: 1,
        ended_at: None,
        participants: vec![],
        tags: vec![],
        size: 0,
        segments: 0,
        state: RecordingState::Recording,
        scope,
        retention_days: 30,
        cloud_state: match scope {
            Scope::LocalAndCloud => CloudState::Pending,
            _ => CloudState::None,
        },
        uploaded_bytes: 0,
    }
}

/// A recording going to the cloud is kept in the library as it grows and each change is
/// handed to the upload queue; its chain heads are shared with the others.
#[test]
fn a_cloud_recording_is_kept_and_uploaded_as_it_grows() {
    let mut t = ann();
    seat(&mut t);
    let id = assent_shared::ids::RecordingId([4; 16]);
    let dir = std::path::PathBuf::from("/recordings/one");
    let row = recording_row(id, &dir, Scope::LocalAndCloud);
    let started = RecorderEvent::Started {
        id,
        dir: dir.clone(),
        row: Box::new(row),
    };
    assert_eq!(t.edge.recorded(started), None);
    for (index, bytes) in [(0, 100), (1, 50)] {
        let segment = RecorderEvent::Segment {
            id,
            index,
            track: Track::Media,
            bytes,
        };
        assert_eq!(t.edge.recorded(segment), None);
    }
    let kept = &t.edge.store.recordings().unwrap()[0];
    assert_eq!((kept.segments, kept.size), (2, 150));
    assert_eq!(kept.participants, ["Ann", "Bob"]);
    t.edge.recorded(RecorderEvent::Finished {
        id,
        dir: dir.clone(),
        segments: 2,
        bytes: 150,
    });
    assert_eq!(
        t.edge.store.recordings().unwrap()[0].state,
        RecordingState::Complete
    );
    assert!(!t.edge.recording);
    assert_eq!(t.edge.io.uploads.borrow().len(), 4);
    assert!(t.edge.io.uploads.borrow().iter().all(|d| *d == dir));
    let told = reported(&t)
        .iter()
        .filter(|e| matches!(e, CallEvent::Recording(_)))
        .count();
    assert_eq!(told, 4);
}

/// A recording kept only here never goes to the upload queue.
#[test]
fn a_local_recording_is_not_uploaded() {
    let mut t = ann();
    let id = assent_shared::ids::RecordingId([5; 16]);
    let row = recording_row(id, std::path::Path::new("/recordings/two"), Scope::Local);
    t.edge.recorded(RecorderEvent::Started {
        id,
        dir: "/recordings/two".into(),
        row: Box::new(row),
    });
    t.edge.recorded(RecorderEvent::Finished {
        id,
        dir: "/recordings/two".into(),
        segments: 0,
        bytes: 0,
    });
    assert!(t.edge.io.uploads.borrow().is_empty());
    assert_eq!(t.edge.store.recordings().unwrap().len(), 1);
}

/// The machine's event for Bob, there when we joined.
fn bob_joined() -> Event {
    Event::ParticipantJoined {
        peer: BOB,
        user: UserId([2; 16]),
        email: "bob@example.org".into(),
        name: "Bob".into(),
        arrived: false,
    }
}

/// Chat lines go to the recorder under the sender's name; people get their labels.
#[test]
fn chat_and_people_reach_the_recorder_by_name() {
    let mut t = ann();
    seat(&mut t);
    t.edge.keep(&Event::Chat {
        from: BOB,
        id: 1,
        text: "hello".into(),
        sent_at: 42,
    });
    t.edge.keep(&bob_joined());
    let records = format!("{:?}", t.edge.io.records.borrow());
    assert!(
        records.contains(r#"Chat { from: "Bob", text: "hello", at: 42 }"#),
        "{records}"
    );
    assert!(
        records.contains(r#"label: "Bob <bob@example.org>""#),
        "{records}"
    );
    assert_eq!(t.edge.record.participants, ["Bob"]);
    // What the user types goes to the recorder under their own name, and to the machine.
    let input = t.edge.command(Command::Chat("hi".into()));
    assert_eq!(
        input,
        Some(Input::User(UserInput::SendChat { text: "hi".into() }))
    );
    assert!(format!("{:?}", t.edge.io.records.borrow()).contains(r#"from: "Ann", text: "hi""#));
}

/// Two signed roots for one epoch are kept as evidence in the profile.
#[test]
fn an_equivocation_is_kept_as_evidence() {
    let mut t = ann();
    let keys = directory_keys();
    let evidence =
        assent_shared::transparency::Equivocation::of(&keys.signing, root(5, 1), root(5, 2))
            .unwrap();
    t.edge.keep(&Event::Equivocation {
        evidence: Box::new(evidence),
    });
    let alarms = t.edge.store.alarms().unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].kind, "equivocation");
}

/// The server's own frames are reported, not fed to the machine; signaling that cannot go
/// on ends the call with its reason.
#[test]
fn server_frames_outside_the_call_protocol_are_reported() {
    let mut t = ann();
    let error = server(ServerMsg::Error {
        code: ErrorCode::Forbidden,
        message: "only the host can do that".into(),
    });
    assert_eq!(t.edge.signal_event(error).unwrap(), None);
    let reconnecting = SignalEvent::Reconnecting { attempt: 2 };
    assert_eq!(t.edge.signal_event(reconnecting).unwrap(), None);
    let events = reported(&t);
    assert!(matches!(
        &events[0],
        CallEvent::Server(s)
            if *s == format!("only the host can do that ({})", ErrorCode::Forbidden)
    ));
    assert!(matches!(events[1], CallEvent::Reconnecting { attempt: 2 }));
    let closed = SignalEvent::Closed(crate::signaling::Closed::SignedOut);
    assert_eq!(
        t.edge.signal_event(closed),
        Err(crate::signaling::Closed::SignedOut)
    );
}

/// Leaving hangs up through signaling; the call is kept in the local history with the
/// people who were in it, and the driver hears why it closed.
#[test]
fn leaving_hangs_up_and_keeps_the_call_in_the_history() {
    let mut t = ann();
    seat(&mut t);
    t.edge.keep(&bob_joined());
    let leave = t.edge.command(Command::Leave).unwrap();
    t.edge.feed(leave);
    assert!(t.edge.machine.is_over());
    assert!(
        t.edge
            .io
            .signals
            .borrow()
            .iter()
            .any(|m| matches!(m, ClientMsg::Leave))
    );
    t.edge.finish("left the call".into());
    let calls = t.edge.store.calls().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call_id, CALL.to_string());
    assert_eq!(calls[0].participants, ["Bob"]);
    assert!(calls[0].ended_at.is_some());
    assert!(matches!(
        reported(&t).last(),
        Some(CallEvent::Closed { reason }) if reason == "left the call"
    ));
}

/// The local media failing to change is the user's to hear about; the call goes on.
#[test]
fn a_local_media_failure_is_reported_and_the_call_goes_on() {
    let mut t = ann();
    t.edge.peers.fail_local = true;
    seat(&mut t);
    let input = t
        .edge
        .command(Command::SetMedia(MediaState::default()))
        .unwrap();
    t.edge.feed(input);
    assert!(!t.edge.machine.is_over());
    assert!(
        reported(&t)
            .iter()
            .any(|e| matches!(e, CallEvent::MediaError(m) if m == "media pipeline: simulated"))
    );
}
