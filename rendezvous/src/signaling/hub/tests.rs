//! The hub as a pure state machine: joins, routing, resumption, host actions, limits.

use super::*;
use assent_shared::SecretIdentity;

fn admitted(meeting: MeetingId, n: u8) -> Box<Admitted> {
    let id = SecretIdentity::from_seed([n; 32], Timestamp(0));
    Box::new(Admitted {
        meeting,
        user: UserId([n; 16]),
        email: format!("user{n}@example.org"),
        display_name: format!("user {n}"),
        role: if n == 1 {
            MeetingRole::Host
        } else {
            MeetingRole::Participant
        },
        identity: id.public().clone(),
        codecs: vec!["vp8".into()],
    })
}

/// With its ids drawn from a seeded generator, the hub is a pure function of its inputs:
/// the same joins give the same call id, peer ids and resume tokens, output for output.
#[test]
fn a_seeded_hub_is_deterministic() {
    use rand::SeedableRng;
    let run = |seed: u64| {
        let mut hub = Hub::with_ids(10_000, Box::new(rand::rngs::StdRng::seed_from_u64(seed)));
        let m = MeetingId([9; 16]);
        let mut out = Vec::new();
        for (conn, n) in [(1, 1), (2, 2), (3, 3)] {
            out.extend(hub.handle(
                T,
                Input::Join {
                    conn,
                    admitted: admitted(m, n),
                    resume: None,
                },
            ));
        }
        out.extend(hub.handle(T, Input::Leave { conn: 2 }));
        out
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8), "the ids come from the generator");
    assert!(a.iter().any(|o| matches!(o, Output::CallStarted { .. })));
}

fn sent_to(out: &[Output], conn: ConnId) -> Vec<ServerMsg> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { conn: c, msg } if *c == conn => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn joined(out: &[Output], conn: ConnId) -> (PeerId, String) {
    match sent_to(out, conn).into_iter().next() {
        Some(ServerMsg::Joined {
            peer_id,
            resume_token,
            ..
        }) => (peer_id, resume_token),
        other => panic!("expected joined, got {other:?}"),
    }
}

const T: Timestamp = Timestamp(1_000_000);

#[test]
fn join_route_leave_and_history() {
    let m = MeetingId([9; 16]);
    let mut hub = Hub::new(10_000);
    let out = hub.handle(
        T,
        Input::Join {
            conn: 1,
            admitted: admitted(m, 1),
            resume: None,
        },
    );
    assert!(matches!(out[0], Output::CallStarted { .. }));
    let (a, _) = joined(&out, 1);
    let out = hub.handle(
        T,
        Input::Join {
            conn: 2,
            admitted: admitted(m, 2),
            resume: None,
        },
    );
    let (b, _) = joined(&out, 2);
    assert!(matches!(&sent_to(&out, 1)[0], ServerMsg::PeerJoined { peer } if peer.peer_id == b));
    // Directed and broadcast payloads.
    let out = hub.handle(
        T,
        Input::Send {
            conn: 1,
            to: Some(b),
            payload: "offer".into(),
        },
    );
    assert_eq!(
        sent_to(&out, 2),
        vec![ServerMsg::Message {
            from: a,
            payload: "offer".into()
        }]
    );
    let out = hub.handle(
        T,
        Input::Send {
            conn: 2,
            to: None,
            payload: "hello".into(),
        },
    );
    assert_eq!(
        sent_to(&out, 1),
        vec![ServerMsg::Message {
            from: b,
            payload: "hello".into()
        }]
    );
    assert!(sent_to(&out, 2).is_empty(), "no echo");
    let out = hub.handle(
        T,
        Input::Send {
            conn: 2,
            to: Some(PeerId(7)),
            payload: "x".into(),
        },
    );
    assert!(
        matches!(&sent_to(&out, 2)[0], ServerMsg::Error { code, .. } if *code == ErrorCode::UnknownPeer)
    );
    let out = hub.handle(
        T,
        Input::Send {
            conn: 3,
            to: None,
            payload: "x".into(),
        },
    );
    assert!(
        matches!(&sent_to(&out, 3)[0], ServerMsg::Error { code, .. } if *code == ErrorCode::NotJoined)
    );
    let out = hub.handle(
        T,
        Input::Join {
            conn: 1,
            admitted: admitted(m, 1),
            resume: None,
        },
    );
    assert!(
        matches!(&sent_to(&out, 1)[0], ServerMsg::Error { code, .. } if *code == ErrorCode::AlreadyJoined)
    );
    // Leave; the last one out ends the call.
    let out = hub.handle(T, Input::Leave { conn: 2 });
    assert_eq!(
        sent_to(&out, 1),
        vec![ServerMsg::PeerLeft {
            peer_id: b,
            reason: LeaveReason::Left
        }]
    );
    let out = hub.handle(T, Input::Leave { conn: 1 });
    assert!(out.iter().any(|o| matches!(o, Output::CallEnded { .. })));
    assert_eq!(hub.room_size(&m), 0);
}

#[test]
fn dropped_connection_resumes_its_seat_with_buffered_messages() {
    let m = MeetingId([9; 16]);
    let mut hub = Hub::new(10_000);
    let out = hub.handle(
        T,
        Input::Join {
            conn: 1,
            admitted: admitted(m, 1),
            resume: None,
        },
    );
    let (a, _) = joined(&out, 1);
    let out = hub.handle(
        T,
        Input::Join {
            conn: 2,
            admitted: admitted(m, 2),
            resume: None,
        },
    );
    let (b, token) = joined(&out, 2);
    let out = hub.handle(T, Input::Disconnected { conn: 2 });
    assert!(
        out.is_empty(),
        "nobody is told about a drop within the grace period"
    );
    hub.handle(
        T,
        Input::Send {
            conn: 1,
            to: Some(b),
            payload: "while away".into(),
        },
    );
    assert!(hub.handle(T.plus_millis(9_999), Input::Tick).is_empty());
    let out = hub.handle(
        T.plus_millis(9_999),
        Input::Join {
            conn: 5,
            admitted: admitted(m, 2),
            resume: Some(token),
        },
    );
    let msgs = sent_to(&out, 5);
    assert!(matches!(&msgs[0], ServerMsg::Joined { peer_id, resumed: true, .. } if *peer_id == b));
    assert_eq!(
        msgs[1],
        ServerMsg::Message {
            from: a,
            payload: "while away".into()
        }
    );
    assert!(
        sent_to(&out, 1).is_empty(),
        "no ghost: the others saw no leave and no join"
    );
    assert_eq!(hub.room_size(&m), 2);
}

#[test]
fn grace_expiry_and_wrong_resume_token() {
    let m = MeetingId([9; 16]);
    let mut hub = Hub::new(10_000);
    hub.handle(
        T,
        Input::Join {
            conn: 1,
            admitted: admitted(m, 1),
            resume: None,
        },
    );
    let out = hub.handle(
        T,
        Input::Join {
            conn: 2,
            admitted: admitted(m, 2),
            resume: None,
        },
    );
    let (b, _) = joined(&out, 2);
    hub.handle(T, Input::Disconnected { conn: 2 });
    // A wrong token gives a fresh seat, and the stale one is freed, not left as a ghost.
    let out = hub.handle(
        T,
        Input::Join {
            conn: 3,
            admitted: admitted(m, 2),
            resume: Some("forged".into()),
        },
    );
    let (b2, _) = joined(&out, 3);
    assert_ne!(b, b2);
    assert!(sent_to(&out, 1).contains(&ServerMsg::PeerLeft {
        peer_id: b,
        reason: LeaveReason::Lost
    }));
    assert_eq!(hub.room_size(&m), 2);
    hub.handle(T, Input::Disconnected { conn: 3 });
    let out = hub.handle(T.plus_millis(10_000), Input::Tick);
    assert_eq!(
        sent_to(&out, 1),
        vec![ServerMsg::PeerLeft {
            peer_id: b2,
            reason: LeaveReason::Lost
        }]
    );
    assert_eq!(hub.room_size(&m), 1);
}

#[test]
fn kick_close_and_roles() {
    let m = MeetingId([9; 16]);
    let mut hub = Hub::new(10_000);
    hub.handle(
        T,
        Input::Join {
            conn: 1,
            admitted: admitted(m, 1),
            resume: None,
        },
    );
    hub.handle(
        T,
        Input::Join {
            conn: 2,
            admitted: admitted(m, 2),
            resume: None,
        },
    );
    let out = hub.handle(
        T,
        Input::Join {
            conn: 3,
            admitted: admitted(m, 3),
            resume: None,
        },
    );
    let (c, _) = joined(&out, 3);
    let out = hub.handle(
        T,
        Input::RoleChanged {
            meeting: m,
            user: UserId([2; 16]),
            role: MeetingRole::Cohost,
        },
    );
    assert!(
        matches!(&sent_to(&out, 1)[0], ServerMsg::PeerUpdated { peer } if peer.role == MeetingRole::Cohost)
    );
    let out = hub.handle(
        T,
        Input::Kick {
            meeting: m,
            user: UserId([3; 16]),
        },
    );
    assert_eq!(sent_to(&out, 3), vec![ServerMsg::Removed]);
    assert!(out.contains(&Output::Close { conn: 3 }));
    assert!(sent_to(&out, 1).contains(&ServerMsg::PeerLeft {
        peer_id: c,
        reason: LeaveReason::Removed
    }));
    let out = hub.handle(T, Input::Close { meeting: m });
    assert_eq!(sent_to(&out, 1), vec![ServerMsg::Ended]);
    assert_eq!(sent_to(&out, 2), vec![ServerMsg::Ended]);
    assert!(out.iter().any(|o| matches!(o, Output::CallEnded { .. })));
    assert_eq!(hub.room_size(&m), 0);
}

#[test]
fn room_limit() {
    let m = MeetingId([9; 16]);
    let mut hub = Hub::new(10_000);
    for i in 0..MAX_ROOM as u64 {
        let mut a = admitted(m, 2);
        a.user = UserId([(i % 250) as u8 + 3; 16]);
        a.user.0[0] = i as u8;
        hub.handle(
            T,
            Input::Join {
                conn: i,
                admitted: a,
                resume: None,
            },
        );
    }
    let out = hub.handle(
        T,
        Input::Join {
            conn: 999,
            admitted: admitted(m, 1),
            resume: None,
        },
    );
    assert!(
        matches!(&sent_to(&out, 999)[0], ServerMsg::Error { code, .. } if *code == ErrorCode::RoomFull)
    );
}
