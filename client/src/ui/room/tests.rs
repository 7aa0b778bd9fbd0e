//! The room as people see it: who comes and goes, talks, hosts, records and is trusted.

use super::tiles::Mark;
use super::*;
use assent_shared::ids::UserId;

/// The room in a window of the app's first size.
fn ui(room: &Room) -> iced_test::Simulator<'_, Message> {
    iced_test::Simulator::with_size(
        iced::Settings::default(),
        iced::Size::new(1280.0, 720.0),
        room.view(),
    )
}

fn click(room: &mut Room, label: &str) -> Vec<Event> {
    let mut ui = ui(room);
    ui.click(label).expect("the control is on screen");
    let messages: Vec<Message> = ui.into_messages().collect();
    messages
        .into_iter()
        .filter_map(|m| room.update(m))
        .collect()
}

fn shows(room: &Room, s: &str) -> bool {
    ui(room).find(s).is_ok()
}

/// The marks on the tile of the one called `name`.
fn marks_of(room: &Room, name: &str) -> Vec<tiles::Mark> {
    let p = room.people.values().find(|p| p.name == name);
    tiles::marks(p.expect("someone of that name"))
}

/// The marks on our own tile.
fn own_marks(room: &Room) -> Vec<tiles::Mark> {
    room.own_view(false, false).marks
}

/// Joined with the microphone and camera on.
const ON: MediaState = MediaState {
    audio: true,
    video: true,
    screen: false,
    hand: false,
};

#[test]
fn people_come_connect_talk_and_go() {
    let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
    assert!(shows(&room, "abc-defg-hij · joining…"));
    let bob = PeerId(2);
    room.on_call_event(CallEvent::Call(CallMachineEvent::Joined {
        call: assent_shared::ids::CallId::random(),
        me: PeerId(1),
        resumed: false,
    }));
    assert!(shows(&room, "Waiting for others to join"));
    assert!(shows(&room, "assent://join/abc-defg-hij"));
    assert_eq!(
        click(&mut room, "Copy link"),
        [Event::Copy("assent://join/abc-defg-hij".into())]
    );
    room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
        email: "someone@example.org".into(),
        peer: bob,
        user: UserId::random(),
        name: "Bob".into(),
        arrived: true,
    }));
    assert!(shows(&room, "Bob") && shows(&room, "Connecting…"));
    assert_eq!(
        marks_of(&room, "Bob"),
        [Mark::Key(KeyState::Checking), Mark::NotConnected(None)]
    );
    assert!(shows(&room, "Bob joined"), "a notice that fades");
    room.on_call_event(CallEvent::Call(CallMachineEvent::Connected { peer: bob }));
    assert!(shows(&room, "abc-defg-hij · you and 1 other"));
    room.on_call_event(CallEvent::Call(CallMachineEvent::RemoteMedia {
        peer: bob,
        state: MediaState {
            audio: false,
            video: true,
            screen: false,
            hand: true,
        },
    }));
    assert_eq!(
        marks_of(&room, "Bob"),
        [Mark::Muted, Mark::Hand, Mark::Key(KeyState::Checking)]
    );
    assert!(!shows(&room, "Connecting…"));
    // Connection quality from the statistics: loss and delay, and pictures arriving.
    let stats = |loss: f64, rtt: f64, fps: f64| assent_engine::CallStats {
        at: 0,
        video_target_kbps: 1000,
        peers: vec![assent_engine::PeerStats {
            peer: bob.to_string(),
            name: "Bob".into(),
            user_id: String::new(),
            connected: true,
            codec: Some("VP8"),
            video_frames: 300,
            fps,
            audio_ms: 10_000,
            video_kbps: 900.0,
            audio_kbps: 32.0,
            first_frame_at: Some(1),
            transport: assent_engine::Transport {
                rtt_ms: Some(rtt),
                fraction_lost: Some(loss),
                ..Default::default()
            },
            ..Default::default()
        }],
    };
    let quality = |room: &Room| {
        marks_of(room, "Bob").into_iter().find_map(|m| match m {
            Mark::Quality(q) => Some(q),
            _ => None,
        })
    };
    room.on_stats(&stats(0.0, 20.0, 30.0));
    assert_eq!(quality(&room), Some(Quality::Good));
    room.on_stats(&stats(0.05, 20.0, 30.0));
    assert_eq!(quality(&room), Some(Quality::Fair));
    room.on_stats(&stats(0.0, 450.0, 30.0));
    assert_eq!(quality(&room), Some(Quality::Poor), "a long round trip");
    room.on_stats(&stats(0.0, 20.0, 0.0));
    assert_eq!(
        quality(&room),
        Some(Quality::Good),
        "frame rates do not count"
    );
    room.on_call_event(CallEvent::Call(CallMachineEvent::Chat {
        from: bob,
        id: 1,
        text: "hello Ann".into(),
        sent_at: 0,
    }));
    // The chat is closed: its button counts what came; opened, it shows it.
    assert!(!shows(&room, "hello Ann"));
    assert!(shows(&room, "1"), "one unread message on the chat button");
    assert!(click(&mut room, "Chat").is_empty());
    assert!(shows(&room, "hello Ann"));
    assert!(!shows(&room, "1"), "read");
    // Our own controls become engine commands.
    assert_eq!(
        click(&mut room, "Mute"),
        [Event::SetMedia(MediaState {
            audio: false,
            video: true,
            screen: false,
            hand: false
        })]
    );
    assert!(shows(&room, "Unmute"));
    assert!(matches!(
        click(&mut room, "Camera off").as_slice(),
        [Event::SetMedia(MediaState { video: false, .. })]
    ));
    room.update(Message::ChatInput("hi Bob".into()));
    assert_eq!(
        room.update(Message::SendChat),
        Some(Event::Chat("hi Bob".into()))
    );
    assert!(shows(&room, "hi Bob"));
    room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantLeft {
        peer: bob,
        reason: assent_shared::signal::LeaveReason::Left,
    }));
    assert!(shows(&room, "Waiting for others to join"));
    assert!(shows(&room, "Bob left"));
    // The notices fade: gone five seconds later.
    room.on_levels(vec![], room.now + std::time::Duration::from_secs(6));
    assert!(!shows(&room, "Bob left"));
    assert!(
        room.notices().is_none(),
        "nothing said: no layer over the stage"
    );
    assert_eq!(click(&mut room, "Leave"), [Event::Leave]);
    room.on_call_event(CallEvent::Closed {
        reason: "left the call".into(),
    });
    assert!(shows(&room, "The call has ended: left the call."));
    assert!(
        click(&mut room, "Unmute").is_empty(),
        "nothing to unmute any more"
    );
    assert_eq!(click(&mut room, "Back"), [Event::Leave]);
}

/// The participant list: everyone with their role; a host gets remove, co-host, lock and
/// end; a participant sees the list only.
/// Sounds: someone arriving (not those already there), leaving, and asking to record.
#[test]
fn chimes_for_arrivals_departures_and_requests() {
    use assent_engine::Chime;
    let joined = |arrived| {
        CallEvent::Call(CallMachineEvent::ParticipantJoined {
            email: "someone@example.org".into(),
            peer: PeerId(2),
            user: UserId::random(),
            name: "Bob".into(),
            arrived,
        })
    };
    assert_eq!(chime_for(&joined(true)), Some(Chime::Joined));
    assert_eq!(chime_for(&joined(false)), None);
    assert_eq!(
        chime_for(&CallEvent::Call(CallMachineEvent::ParticipantLeft {
            peer: PeerId(2),
            reason: assent_shared::signal::LeaveReason::Left,
        })),
        Some(Chime::Left)
    );
    assert_eq!(
        chime_for(&CallEvent::Call(CallMachineEvent::Consent(
            ConsentEvent::Asked {
                recipients: vec![],
                joined: vec![],
                recording: assent_shared::ids::RecordingId::random(),
                title: "Design review".into(),
                proposer: "Bob".into(),
                scope: Scope::LocalAndCloud,
                retention_days: 30,
                epoch: 1,
            }
        ))),
        Some(Chime::Asked)
    );
    assert_eq!(chime_for(&CallEvent::MediaError("x".into())), None);
}

/// Our own tile is there from the start; whoever speaks is named as speaking (a muted
/// person is not, however loud their microphone); talking while muted gets a hint.
#[test]
fn own_tile_and_who_is_speaking() {
    let muted = MediaState { audio: false, ..ON };
    let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), muted);
    assert!(shows(&room, "You"));
    assert_eq!(own_marks(&room), [Mark::Muted]);
    let bob = PeerId(2);
    room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
        email: "someone@example.org".into(),
        peer: bob,
        user: UserId::random(),
        name: "Bob".into(),
        arrived: true,
    }));
    room.on_call_event(CallEvent::Call(CallMachineEvent::Connected { peer: bob }));
    room.on_call_event(CallEvent::Call(CallMachineEvent::RemoteMedia {
        peer: bob,
        state: ON,
    }));
    let t0 = std::time::Instant::now();
    // We talk (muted) while Bob is quiet: nobody speaks, and we are told we are muted.
    room.on_levels(vec![(Source::Local, -20.0), (Source::Peer(bob), -70.0)], t0);
    assert_eq!(room.speaking(), None);
    assert!(shows(&room, "You are muted: Ctrl+D or Unmute to be heard."));
    // Bob talks: he is speaking; the hint goes when we stop.
    room.on_levels(
        vec![(Source::Local, -80.0), (Source::Peer(bob), -20.0)],
        t0 + std::time::Duration::from_millis(100),
    );
    assert_eq!(room.speaking(), Some(Source::Peer(bob)));
    assert!(!shows(
        &room,
        "You are muted: Ctrl+D or Unmute to be heard."
    ));
    // We unmute, Bob stops and we talk: we are speaking.
    assert_eq!(room.update(Message::ToggleMic), Some(Event::SetMedia(ON)));
    room.on_levels(
        vec![(Source::Local, -20.0), (Source::Peer(bob), -80.0)],
        t0 + std::time::Duration::from_millis(200),
    );
    assert_eq!(room.speaking(), Some(Source::Local));
    assert!(own_marks(&room).is_empty());
    // Camera off: our initials; screen shared: marked.
    room.update(Message::ToggleCamera);
    assert!(shows(&room, "Y"), "initials for the camera off");
    room.update(Message::ToggleScreen);
    assert_eq!(own_marks(&room), [Mark::Sharing]);
}

#[test]
fn hosts_see_the_participants_and_their_controls() {
    use assent_shared::api::{Meeting, MeetingKind, MeetingRole};
    let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
    let (me, bob) = (UserId::random(), UserId::random());
    room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
        email: "someone@example.org".into(),
        peer: PeerId(2),
        user: bob,
        name: "Bob".into(),
        arrived: true,
    }));
    let meeting = |role| Meeting {
        id: assent_shared::ids::MeetingId([2; 16]),
        code: "abc-defg-hij".into(),
        kind: MeetingKind::Instant,
        title: "Standup".into(),
        host: me,
        host_name: "Ann".into(),
        starts_at: None,
        duration_min: None,
        locked: false,
        ended: false,
        role: Some(role),
    };
    room.on_meeting(meeting(MeetingRole::Participant));
    assert!(click(&mut room, "People").is_empty());
    assert!(shows(&room, "In the call (2)"));
    assert!(shows(&room, "Bob"));
    assert!(
        !shows(&room, "Remove"),
        "a participant has no host controls"
    );
    assert_eq!(room.update(Message::Remove(bob)), None);

    room.on_meeting(meeting(MeetingRole::Host));
    assert!(shows(&room, "You (host)"));
    assert!(shows(&room, "Open: anyone with the code can join."));
    assert_eq!(
        click(&mut room, "Make co-host"),
        [Event::Host(HostAction::MakeCohost(bob))]
    );
    assert!(shows(&room, "someone@example.org · co-host"));
    assert_eq!(
        click(&mut room, "Remove"),
        [Event::Host(HostAction::Remove(bob))]
    );
    assert_eq!(
        click(&mut room, "Lock"),
        [Event::Host(HostAction::Lock(true))]
    );
    assert_eq!(
        click(&mut room, "End for everyone"),
        [Event::Host(HostAction::End)]
    );
    assert!(click(&mut room, "Chat").is_empty());
    assert!(shows(&room, "Messages"), "the chat instead");
    assert!(!shows(&room, "In the call (2)"));
    room.update(Message::ClosePanel);
    assert!(!shows(&room, "Messages"), "closed");
}

fn consent(room: &mut Room, c: ConsentEvent) {
    room.on_call_event(CallEvent::Call(CallMachineEvent::Consent(c)));
}

/// The consent dialog: who proposes what, Agree or Decline; the indicator everyone sees
/// with who agreed; withdrawing; the reason when it stops.
#[test]
fn recording_needs_everyones_consent_and_shows_while_on() {
    let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
    assert_eq!(
        click(&mut room, "Record"),
        [Event::Record {
            title: "Standup recording".into()
        }]
    );
    consent(
        &mut room,
        ConsentEvent::Asked {
            recipients: vec![],
            joined: vec![],
            recording: assent_shared::ids::RecordingId::random(),
            title: "Design review".into(),
            proposer: "Bob".into(),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
            epoch: 1,
        },
    );
    consent(
        &mut room,
        ConsentEvent::Status {
            state: StatusKind::Collecting,
            title: "Design review".into(),
            agreed: vec!["Bob".into()],
            waiting_for: vec!["Ann".into()],
        },
    );
    assert!(shows(&room, "Bob asks to record “Design review”"));
    assert!(shows(&room, "Already agreed: Bob."));
    assert!(shows(&room, "Asking to record · waiting for Ann"));
    assert!(
        !shows(&room, "Withdraw consent"),
        "nothing to withdraw before agreeing"
    );
    assert!(
        click(&mut room, "Record").is_empty(),
        "one proposal at a time"
    );
    assert_eq!(click(&mut room, "Agree"), [Event::Agree]);
    assert!(
        !shows(&room, "Bob asks to record “Design review”"),
        "answered"
    );
    consent(
        &mut room,
        ConsentEvent::Status {
            state: StatusKind::Recording,
            title: "Design review".into(),
            agreed: vec!["Bob".into(), "Ann".into()],
            waiting_for: vec![],
        },
    );
    assert_eq!(room.recording_state(), Some(StatusKind::Recording));
    assert!(shows(&room, "Recording 0:00"));
    // The pill counts the time; a click shows who agreed.
    room.on_levels(vec![], room.now + std::time::Duration::from_secs(75));
    assert!(shows(&room, "Recording 1:15"));
    assert!(click(&mut room, "Recording 1:15").is_empty());
    assert!(shows(&room, "Agreed: Bob, Ann"));
    assert!(shows(&room, "“Design review”"));
    assert_eq!(click(&mut room, "Withdraw consent"), [Event::Withdraw]);
    consent(
        &mut room,
        ConsentEvent::Ended {
            reason: "Ann withdrew consent".into(),
        },
    );
    assert_eq!(room.recording_state(), None);
    assert!(shows(&room, "Recording stopped: Ann withdrew consent."));
    // A new proposal, declined this time.
    consent(
        &mut room,
        ConsentEvent::Asked {
            recipients: vec![],
            joined: vec![],
            recording: assent_shared::ids::RecordingId::random(),
            title: "Again".into(),
            proposer: "Bob".into(),
            scope: Scope::Local,
            retention_days: 7,
            epoch: 2,
        },
    );
    assert!(shows(&room, "Bob asks to record “Again”"));
    assert_eq!(click(&mut room, "Decline"), [Event::Decline]);
    // A changed key: the safety number to compare; "It matches" remembers it.
    room.on_call_event(CallEvent::Call(CallMachineEvent::KeyChanged {
        peer: PeerId(7),
        email: "bob@example.org".into(),
        name: "Bob".into(),
        safety_number: "12345 67890 13579 24680".into(),
    }));
    assert!(shows(
        &room,
        "⚠ Bob (bob@example.org)'s key has changed since you last met"
    ));
    assert!(shows(&room, "12345 67890 13579 24680"));
    assert_eq!(
        click(&mut room, "It matches"),
        [Event::KeyCompared(PeerId(7))]
    );
    assert!(!shows(&room, "12345 67890 13579 24680"));
    // Screen and hand go to the others as media state.
    let sharing = click(&mut room, "Share screen");
    assert!(matches!(sharing.as_slice(), [Event::SetMedia(m)] if m.screen && !m.hand));
    let hand = click(&mut room, "Raise hand");
    assert!(matches!(hand.as_slice(), [Event::SetMedia(m)] if m.screen && m.hand));
    assert!(shows(&room, "Stop sharing") && shows(&room, "Lower hand"));
    // The desktop would not share it (Wayland's portal): the button is back, and says why.
    room.on_call_event(CallEvent::ScreenNotShared(
        "screen sharing was cancelled".into(),
    ));
    assert!(shows(&room, "Share screen") && shows(&room, "screen sharing was cancelled"));
    let hand = click(&mut room, "Lower hand");
    assert!(matches!(hand.as_slice(), [Event::SetMedia(m)] if !m.screen && !m.hand));
    // The next recording's status clears the note about the last one.
    consent(
        &mut room,
        ConsentEvent::Status {
            state: StatusKind::Recording,
            title: "Again".into(),
            agreed: vec!["Bob".into(), "Ann".into()],
            waiting_for: vec![],
        },
    );
    assert!(!shows(&room, "Recording stopped: Ann withdrew consent."));
}
#[test]
fn keys_show_how_far_they_are_trusted_and_the_dialog_names_every_recipient() {
    use assent_engine::Recipient;
    let mut room = Room::new("Trust".into(), "abc-defg-hij".into(), ON);
    room.on_call_event(CallEvent::Call(CallMachineEvent::Joined {
        call: assent_shared::CallId([1; 16]),
        me: PeerId(1),
        resumed: false,
    }));
    room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
        peer: PeerId(2),
        user: assent_shared::ids::UserId([2; 16]),
        email: "bob@example.org".into(),
        name: "Bob".into(),
        arrived: true,
    }));
    assert_eq!(
        marks_of(&room, "Bob"),
        [Mark::Key(KeyState::Checking), Mark::NotConnected(None)]
    );
    // The recording dialog names everyone it is encrypted to, and who joined.
    consent(
        &mut room,
        ConsentEvent::Asked {
            recipients: vec![
                Recipient {
                    name: "Ann".into(),
                    email: "ann@example.org".into(),
                    verified: true,
                    proven: true,
                    fingerprint: "11111 22222".into(),
                    you: true,
                },
                Recipient {
                    name: "Bob".into(),
                    email: "bob@example.org".into(),
                    verified: false,
                    proven: false,
                    fingerprint: "33333 44444".into(),
                    you: false,
                },
            ],
            joined: vec!["Bob".into()],
            recording: assent_shared::ids::RecordingId::random(),
            title: "Review".into(),
            proposer: "Ann".into(),
            scope: Scope::Local,
            retention_days: 7,
            epoch: 1,
        },
    );
    assert!(shows(
        &room,
        "Bob joined: go on recording with them in the call?"
    ));
    assert!(shows(&room, "Bob <bob@example.org>"));
    assert!(shows(&room, "· key not checked yet · 33333 44444"));
    // The directory proves Bob's key: tile, dialog and people panel say so.
    let number = "12345 67890 12345 67890 12345 67890 12345 67890 12345 67890 12345 67890";
    room.on_call_event(CallEvent::Call(CallMachineEvent::KeyTrusted {
        peer: PeerId(2),
        compared: false,
        safety_number: number.into(),
    }));
    assert_eq!(
        marks_of(&room, "Bob"),
        [
            Mark::Key(KeyState::Proven { compared: false }),
            Mark::NotConnected(None)
        ]
    );
    assert!(shows(&room, "· not verified · 33333 44444"));
    room.update(Message::Decline);
    click(&mut room, "People");
    assert!(shows(&room, "bob@example.org · participant"));
    assert!(shows(
        &room,
        "12345 67890 12345 67890 12345 67890\n12345 67890 12345 67890 12345 67890"
    ));
    assert!(click(&mut room, "QR code").is_empty());
    assert!(shows(&room, "Hide QR code"));
    assert_eq!(
        click(&mut room, "It matches"),
        [Event::MarkVerified(PeerId(2))]
    );
    room.on_call_event(CallEvent::Call(CallMachineEvent::KeyTrusted {
        peer: PeerId(2),
        compared: true,
        safety_number: number.into(),
    }));
    assert!(shows(&room, "✓ Verified: safety number compared"));
    assert_eq!(
        marks_of(&room, "Bob")[0],
        Mark::Key(KeyState::Proven { compared: true })
    );
    // The server caught lying: a banner nobody can miss.
    room.on_call_event(CallEvent::Call(CallMachineEvent::Equivocation {
        evidence: Box::new(equivocation()),
    }));
    assert!(shows(&room, "⚠ The server is lying about keys"));
}

fn equivocation() -> assent_shared::transparency::Equivocation {
    use assent_shared::transparency::{ROOT_VERSION, RootBody, SignedRoot};
    let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let body = |h: u8| RootBody {
        version: ROOT_VERSION,
        epoch: 4,
        root_hash: assent_shared::Digest([h; 32]),
        previous: assent_shared::Digest([0; 32]),
        time: assent_shared::Timestamp(1),
    };
    assent_shared::transparency::Equivocation {
        a: SignedRoot::sign(&k, body(1)),
        b: SignedRoot::sign(&k, body(2)),
    }
}

/// A room with `names` in it, all connected.
fn room_with(names: &[&str]) -> Room {
    let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
    room.on_call_event(CallEvent::Call(CallMachineEvent::Joined {
        call: assent_shared::CallId([1; 16]),
        me: PeerId(1),
        resumed: false,
    }));
    for (i, name) in names.iter().enumerate() {
        let peer = PeerId(i as u64 + 2);
        room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
            peer,
            user: UserId::random(),
            email: format!("{name}@example.org"),
            name: (*name).into(),
            arrived: false,
        }));
        room.on_call_event(CallEvent::Call(CallMachineEvent::Connected { peer }));
    }
    room
}

/// Where the text `s` is drawn in the room at 1280x720: its top left corner.
fn at(room: &Room, s: &'static str) -> iced::Point {
    let found = ui(room)
        .find(s)
        .unwrap_or_else(|_| panic!("{s} is not shown"));
    found.bounds().position()
}

/// One to five people: alone with the invitation, two with our picture in a corner (it moves
/// on a click), a grid for three and four, 3 + 2 for five; the speaker view puts the one
/// speaking large over a strip; the side panel opens beside the stage and closes.
#[test]
fn layouts_for_one_to_five_people_the_speaker_view_and_the_panel() {
    // Alone.
    let room = room_with(&[]);
    assert_eq!(room.layout(), layout::Layout::Alone);
    assert!(shows(&room, "Waiting for others to join"));

    // Two: Bob large, us small in the bottom right corner, then the bottom left.
    let mut room = room_with(&["Bob"]);
    assert!(matches!(room.layout(), layout::Layout::Pair { .. }));
    assert!(!shows(&room, "Waiting for others to join"));
    let (bob, you) = (at(&room, "Bob"), at(&room, "You"));
    assert!(you.x > bob.x + 600.0, "we are in the right corner: {you:?}");
    assert!(click(&mut room, "You").is_empty());
    assert_eq!(room.pip, Corner::BottomLeft);
    assert!(at(&room, "You").x < 400.0);
    assert!(!shows(&room, "Speaker view"), "no speaker view for two");

    // Three: two above, one under them, centred.
    let room = room_with(&["Bob", "Carol"]);
    let (bob, carol, you) = (at(&room, "Bob"), at(&room, "Carol"), at(&room, "You"));
    assert_eq!(bob.y, carol.y);
    assert!(carol.x > bob.x);
    assert!(you.y > bob.y);
    assert!(you.x > bob.x && you.x < carol.x, "the last row is centred");

    // Four: two by two.
    let room = room_with(&["Bob", "Carol", "Dan"]);
    let (bob, carol, dan, you) = (
        at(&room, "Bob"),
        at(&room, "Carol"),
        at(&room, "Dan"),
        at(&room, "You"),
    );
    assert_eq!((bob.y, dan.y), (carol.y, you.y));
    assert_eq!((bob.x, carol.x), (dan.x, you.x));
    assert!(dan.y > bob.y);

    // Five: three, then two centred.
    let mut room = room_with(&["Bob", "Carol", "Dan", "Eve"]);
    let row1 = [at(&room, "Bob"), at(&room, "Carol"), at(&room, "Dan")];
    let row2 = [at(&room, "Eve"), at(&room, "You")];
    assert!(row1.iter().all(|p| p.y == row1[0].y));
    assert!(row2.iter().all(|p| p.y == row2[0].y && p.y > row1[0].y));
    assert!(row2[0].x > row1[0].x && row2[1].x < row1[2].x);

    // The speaker view: Dan speaks and is large, the others in the strip under him.
    assert!(click(&mut room, "Speaker view").is_empty());
    let dan = *room.people.keys().nth(2).unwrap();
    room.on_levels(vec![(Source::Peer(dan), -20.0)], std::time::Instant::now());
    assert_eq!(
        room.layout(),
        layout::Layout::Speaker {
            large: 2,
            strip: vec![0, 1, 3, 4]
        }
    );
    let large = at(&room, "Dan");
    let strip = [at(&room, "Bob"), at(&room, "Carol"), at(&room, "Eve")];
    assert!(
        strip.iter().all(|p| p.y == strip[0].y && p.y > large.y),
        "{large:?} over {strip:?}"
    );
    assert!(shows(&room, "Grid view"));

    // The panel opens beside the stage (the tiles move left) and closes.
    let before = at(&room, "Dan");
    assert!(click(&mut room, "People").is_empty());
    assert!(shows(&room, "In the call (5)"));
    assert!(at(&room, "Dan").x < before.x);
    assert_eq!(room.update(Message::ClosePanel), None);
    assert_eq!(at(&room, "Dan"), before);
}

/// The consent dialog is a modal: while it is up, the controls under it cannot be reached;
/// answered, they can.
#[test]
fn the_consent_dialog_is_a_modal_over_the_stage() {
    let mut room = room_with(&["Bob"]);
    consent(
        &mut room,
        ConsentEvent::Asked {
            recipients: vec![],
            joined: vec![],
            recording: assent_shared::ids::RecordingId::random(),
            title: "Design review".into(),
            proposer: "Bob".into(),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
            epoch: 1,
        },
    );
    assert!(shows(&room, "Bob asks to record “Design review”"));
    assert!(
        click(&mut room, "Mute").is_empty(),
        "the bar is under the dialog"
    );
    assert_eq!(click(&mut room, "Agree"), [Event::Agree]);
    assert!(!shows(&room, "Bob asks to record “Design review”"));
    assert!(matches!(
        click(&mut room, "Mute").as_slice(),
        [Event::SetMedia(MediaState { audio: false, .. })]
    ));
}
