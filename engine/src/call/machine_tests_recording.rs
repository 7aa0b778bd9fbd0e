//! The call machine's recording, key directory and chain-head tests, on the simulated network of
//! `machine_tests.rs`.

use super::*;

fn consent_events(s: &Side) -> Vec<&ConsentEvent> {
    s.events
        .iter()
        .filter_map(|e| match e {
            Event::Consent(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn asked(s: &Side) -> usize {
    consent_events(s)
        .iter()
        .filter(|e| matches!(e, ConsentEvent::Asked { .. }))
        .count()
}

fn last_state(s: &Side) -> Option<assent_shared::consent::StatusKind> {
    consent_events(s).iter().rev().find_map(|e| match e {
        ConsentEvent::Status { state, .. } => Some(*state),
        _ => None,
    })
}

fn started(s: &Side) -> bool {
    s.records
        .iter()
        .any(|r| matches!(r, RecordCommand::Start { .. }))
}

fn input(net: &mut Net, i: usize, inp: Input) {
    let now = net.now;
    net.sides[i].input(now, inp);
    net.run();
}

fn propose(net: &mut Net, i: usize) {
    input(
        net,
        i,
        Input::User(UserInput::ProposeRecording {
            title: "Weekly".into(),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
        }),
    );
}

fn three_connected() -> Net {
    let mut net = Net::new(3);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    net.join(2, &[0, 1]);
    net.run();
    net
}

#[test]
fn recording_starts_only_after_every_token_and_everyone_sees_it() {
    use assent_shared::consent::StatusKind;
    let mut net = three_connected();
    propose(&mut net, 0);
    // Everyone else sees the dialog; nothing is recorded yet.
    assert_eq!(asked(&net.sides[1]), 1);
    assert_eq!(asked(&net.sides[2]), 1);
    assert_eq!(asked(&net.sides[0]), 0, "proposing is agreeing");
    assert!(!started(&net.sides[0]));
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    assert!(!started(&net.sides[0]), "one consent still missing");
    input(&mut net, 2, Input::User(UserInput::AgreeRecording));
    assert!(started(&net.sides[0]), "the third token starts it");
    // Only the proposer's device records; everyone shows the same state.
    assert!(net.sides[1].records.is_empty() && net.sides[2].records.is_empty());
    for s in &net.sides {
        assert_eq!(last_state(s), Some(StatusKind::Recording), "side {}", s.n);
    }
}

#[test]
fn a_newcomer_pauses_the_recording_until_everyone_present_agrees() {
    use assent_shared::consent::StatusKind;
    let mut net = Net::new(3);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    assert!(started(&net.sides[0]));
    // The server seats a third person (invited or not).
    net.join(2, &[0, 1]);
    net.run();
    assert_eq!(net.sides[0].records.last(), Some(&RecordCommand::Pause));
    assert_eq!(last_state(&net.sides[1]), Some(StatusKind::Paused));
    // Everyone is asked whether to go on with the newcomer, the recorder included; the
    // dialog names everyone the recording would be encrypted to and who joined.
    for (i, expected) in [(0, 1), (1, 2), (2, 1)] {
        assert_eq!(asked(&net.sides[i]), expected, "side {i}");
    }
    let ask = consent_events(&net.sides[1])
        .into_iter()
        .rev()
        .find_map(|e| match e {
            ConsentEvent::Asked {
                recipients, joined, ..
            } => Some((recipients.clone(), joined.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(ask.1, vec!["user3".to_string()]);
    let emails: Vec<&str> = ask.0.iter().map(|r| r.email.as_str()).collect();
    assert_eq!(emails.len(), 3);
    for n in 1..=3 {
        assert!(
            emails.contains(&format!("user{n}@example.org").as_str()),
            "{emails:?}"
        );
    }
    // The newcomer's own yes is not enough.
    input(&mut net, 2, Input::User(UserInput::AgreeRecording));
    assert_eq!(net.sides[0].records.last(), Some(&RecordCommand::Pause));
    input(&mut net, 0, Input::User(UserInput::AgreeRecording));
    assert_eq!(net.sides[0].records.last(), Some(&RecordCommand::Pause));
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Resume { tokens, .. }) if tokens.len() == 5
    ));
    for s in &net.sides {
        assert_eq!(last_state(s), Some(StatusKind::Recording), "side {}", s.n);
    }
}

#[test]
fn a_newcomer_declined_by_one_person_ends_the_recording() {
    let mut net = Net::new(3);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    net.join(2, &[0, 1]);
    net.run();
    input(&mut net, 2, Input::User(UserInput::AgreeRecording));
    input(&mut net, 1, Input::User(UserInput::DeclineRecording));
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Stop(_))
    ));
}

#[test]
fn a_withdrawal_stops_it_everywhere() {
    let mut net = three_connected();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    input(&mut net, 2, Input::User(UserInput::AgreeRecording));
    input(&mut net, 2, Input::User(UserInput::WithdrawConsent));
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Stop(
            assent_shared::consent::EndReason::Withdrawn(_)
        ))
    ));
    for s in &net.sides {
        assert!(
            consent_events(s).iter().any(
                |e| matches!(e, ConsentEvent::Ended { reason } if reason.contains("withdrew"))
            ),
            "side {}",
            s.n
        );
    }
}

#[test]
fn a_decline_ends_the_proposal_and_nothing_is_recorded() {
    let mut net = three_connected();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    input(&mut net, 2, Input::User(UserInput::DeclineRecording));
    assert!(net.sides[0].records.is_empty());
    assert!(
        consent_events(&net.sides[1])
            .iter()
            .any(|e| matches!(e, ConsentEvent::Ended { reason } if reason.contains("declined")))
    );
    // Agreeing afterwards has nothing to agree to.
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    assert!(net.sides[0].records.is_empty());
}

#[test]
fn the_recorder_leaving_closes_the_recording_and_others_leaving_does_not() {
    let mut net = three_connected();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    input(&mut net, 2, Input::User(UserInput::AgreeRecording));
    // Side 2 leaves: the recording goes on.
    let p2 = net.sides[2].peer;
    for i in 0..2 {
        input(
            &mut net,
            i,
            Input::Server(ServerInput::PeerLeft {
                peer: p2,
                reason: LeaveReason::Left,
            }),
        );
    }
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Start { .. })
    ));
    // The recorder leaves: it closes the recording.
    input(&mut net, 0, Input::User(UserInput::Leave));
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Stop(
            assent_shared::consent::EndReason::RecorderLeft
        ))
    ));
}

#[test]
fn a_fresh_seat_ends_the_recording_of_the_old_one() {
    let mut net = three_connected();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    input(&mut net, 2, Input::User(UserInput::AgreeRecording));
    assert!(started(&net.sides[0]));
    // The server lost the room (a restart): the recorder gets a new seat, not its old one.
    let peers: Vec<PeerInfo> = [1, 2].iter().map(|&j| net.sides[j].info()).collect();
    let me = net.sides[0].peer;
    let now = net.now;
    net.sides[0].input(
        now,
        Input::Server(ServerInput::Joined {
            call: CallId([0x77; 16]),
            me,
            peers,
            resumed: false,
        }),
    );
    net.run();
    assert!(
        matches!(
            net.sides[0].records.last(),
            Some(RecordCommand::Stop(
                assent_shared::consent::EndReason::RecorderLeft
            ))
        ),
        "{:?}",
        net.sides[0].records
    );
    // Leaving later does not stop it twice.
    let stops = |s: &Side| {
        s.records
            .iter()
            .filter(|r| matches!(r, RecordCommand::Stop(_)))
            .count()
    };
    input(&mut net, 0, Input::User(UserInput::Leave));
    assert_eq!(stops(&net.sides[0]), 1);
}

// ---- Keys the directory vouches for, and gossip of its roots ----

#[test]
fn a_substituted_key_is_refused_before_anything_is_negotiated() {
    let mut net = Net::new(2);
    // The server hands Ann a key of its own for Bob: the directory proves Bob's real key.
    let mallory = SecretIdentity::from_seed([66; 32], Timestamp(0));
    net.sides[1].identity = SecretIdentity::from_seed([66; 32], Timestamp(0));
    net.sides[1].machine = CallMachine::new(
        SecretIdentity::from_seed([66; 32], Timestamp(0)),
        net.sides[1].user,
        "user2",
        "user2@example.org",
        assent_shared::DeviceId([2; 16]),
        MediaState::default(),
        Config::default(),
    );
    net.directory.insert(
        "user2@example.org".into(),
        SecretIdentity::from_seed([2; 32], Timestamp(0))
            .public()
            .clone(),
    );
    assert_ne!(mallory.public(), &net.directory["user2@example.org"]);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    assert_eq!(
        net.sides[0].failures(),
        vec!["user2@example.org's key is not what the directory has published".to_string()]
    );
    assert!(net.connected(0).is_empty() && net.connected(1).is_empty());
    // Nothing was negotiated with the impostor: no offer, no answer, no data.
    assert!(
        net.captured
            .iter()
            .all(|(from, _, _)| *from != net.sides[0].peer),
        "Ann sent nothing to the impostor"
    );
    assert!(net.sides[0].sent_data.is_empty());
}

#[test]
fn a_changed_key_is_held_until_the_user_accepts_it() {
    let mut net = Net::new(2);
    // Ann met Bob before, with another key.
    let old = SecretIdentity::from_seed([42; 32], Timestamp(0));
    net.sides[0]
        .pins
        .insert("user2@example.org".into(), old.public().clone());
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    assert!(net.sides[0].events.iter().any(|e| matches!(
        e,
        Event::KeyChanged { email, .. } if email == "user2@example.org"
    )));
    assert!(net.connected(0).is_empty(), "no media until accepted");
    // Time passes: the peer is not given up while the user decides.
    net.tick(60_000);
    assert!(
        net.sides[0].failures().is_empty(),
        "{:?}",
        net.sides[0].failures()
    );
    let bob = net.sides[1].peer;
    input(&mut net, 0, Input::User(UserInput::AcceptKey { peer: bob }));
    assert_eq!(net.connected(0), net.peers_of(&[1]));
    assert_eq!(net.connected(1), net.peers_of(&[0]));
}

fn root(epoch: u64, hash: u8) -> SignedRoot {
    let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    SignedRoot::sign(
        &k,
        assent_shared::transparency::RootBody {
            version: assent_shared::transparency::ROOT_VERSION,
            epoch,
            root_hash: assent_shared::Digest([hash; 32]),
            previous: assent_shared::Digest([0; 32]),
            time: Timestamp(1_000),
        },
    )
}

fn directory_keys() -> DirectoryKeys {
    let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    DirectoryKeys {
        signing: assent_shared::transparency::ServerKey(k.verifying_key().to_bytes()),
        vrf: assent_shared::transparency::VrfKey([1; 32]),
    }
}

#[test]
fn two_signed_roots_for_one_epoch_are_caught_by_gossip_and_stop_the_recording() {
    let mut net = Net::new(2);
    let keys = directory_keys();
    // The server showed Ann and Bob different directories for epoch 5.
    input(
        &mut net,
        0,
        Input::Directory(DirectoryInput::DirectoryRoot {
            keys,
            root: root(5, 1),
        }),
    );
    input(
        &mut net,
        1,
        Input::Directory(DirectoryInput::DirectoryRoot {
            keys,
            root: root(5, 2),
        }),
    );
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    for side in &net.sides {
        let caught = side.events.iter().find_map(|e| match e {
            Event::Equivocation { evidence } => Some(evidence.clone()),
            _ => None,
        });
        let evidence = caught.unwrap_or_else(|| panic!("side {} did not notice", side.n));
        assert_eq!(evidence.check(&keys.signing), Ok(()));
    }
    // Seen once, and a recording proposed afterwards is not stopped again and again.
    assert_eq!(
        net.sides[0]
            .events
            .iter()
            .filter(|e| matches!(e, Event::Equivocation { .. }))
            .count(),
        1
    );
}

#[test]
fn an_equivocation_during_a_recording_stops_it() {
    let mut net = Net::new(3);
    let keys = directory_keys();
    for i in 0..3 {
        input(
            &mut net,
            i,
            Input::Directory(DirectoryInput::DirectoryRoot {
                keys,
                root: root(5, 1),
            }),
        );
    }
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    propose(&mut net, 0);
    input(&mut net, 1, Input::User(UserInput::AgreeRecording));
    assert!(started(&net.sides[0]));
    // Carol was shown another directory; she joins and gossips it.
    let mut fresh = Side::new(3);
    fresh.input(
        net.now,
        Input::Directory(DirectoryInput::DirectoryRoot {
            keys,
            root: root(5, 7),
        }),
    );
    net.sides[2] = fresh;
    net.join(2, &[0, 1]);
    net.run();
    assert!(
        matches!(
            net.sides[0].records.last(),
            Some(RecordCommand::Stop(
                assent_shared::consent::EndReason::Withdrawn(_)
            ))
        ),
        "{:?}",
        net.sides[0].records
    );
}

#[test]
fn a_root_not_signed_by_the_directory_key_proves_nothing() {
    let mut net = Net::new(2);
    let keys = directory_keys();
    input(
        &mut net,
        0,
        Input::Directory(DirectoryInput::DirectoryRoot {
            keys,
            root: root(5, 1),
        }),
    );
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let forged = SignedRoot::sign(&other, root(5, 2).body);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    let bob = net.sides[1].peer;
    let text = PeerMessage::Root { root: forged }.to_text();
    input(
        &mut net,
        0,
        Input::Media(MediaEvent::ChannelMessage { peer: bob, text }),
    );
    assert!(
        !net.sides[0]
            .events
            .iter()
            .any(|e| matches!(e, Event::Equivocation { .. }))
    );
    assert!(net.sides[0].events.iter().any(|e| matches!(
        e,
        Event::Refused { error, .. } if error.contains("not signed by this server")
    )));
}

fn head_by(by: &SecretIdentity, call: CallId, recording: u8, segments: u32) -> SignedHead {
    assent_shared::container::Head {
        recording_id: RecordingId([recording; 16]),
        call_id: call,
        segments,
        chain: assent_shared::Digest([segments as u8; 32]),
        ended: false,
    }
    .sign(by)
}

fn heads_seen(s: &Side) -> Vec<&SignedHead> {
    s.events
        .iter()
        .filter_map(|e| match e {
            Event::RecordingHead { head, .. } => Some(head),
            _ => None,
        })
        .collect()
}

/// The recorder's chain heads reach everyone as witnesses; a participant cannot pass off a
/// head signed by someone else (or for another call) or fill the others' stores with them.
#[test]
fn chain_heads_reach_everyone_and_only_their_signers_can_send_them() {
    let mut net = three_connected();
    let head = head_by(&net.sides[0].identity, CALL, 1, 3);
    input(
        &mut net,
        0,
        Input::Recorder(RecorderInput::ShareHead(head.clone())),
    );
    for i in 1..3 {
        assert_eq!(heads_seen(&net.sides[i]), vec![&head], "side {i}");
    }

    // Bob relays Ann's head as his own, and signs one for another call: both refused.
    let bob = net.sides[1].peer;
    let relayed = head_by(&net.sides[0].identity, CALL, 2, 9);
    let elsewhere = head_by(&net.sides[1].identity, CallId([8; 16]), 3, 9);
    for h in [relayed, elsewhere] {
        let text = PeerMessage::Head { head: B64(h.0) }.to_text();
        input(
            &mut net,
            2,
            Input::Media(MediaEvent::ChannelMessage { peer: bob, text }),
        );
    }
    assert_eq!(heads_seen(&net.sides[2]).len(), 1);
    let refused = net.sides[2]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Refused { error, .. } if error.contains("recording head")))
        .count();
    assert_eq!(refused, 2);

    // A flood of heads of made-up recordings: only the first few are kept.
    for r in 10..40 {
        let h = head_by(&net.sides[1].identity, CALL, r, 1);
        let text = PeerMessage::Head { head: B64(h.0) }.to_text();
        input(
            &mut net,
            2,
            Input::Media(MediaEvent::ChannelMessage { peer: bob, text }),
        );
    }
    assert_eq!(heads_seen(&net.sides[2]).len(), 1 + MAX_HEADS_PER_PEER);
}
