//! The call machine driven by a simulated network: each participant's machine, a fake WebRTC
//! edge that makes descriptions with a per-participant certificate fingerprint, and a relay that
//! routes signaling (and can be hostile). No GStreamer, no sockets.

use super::*;
use crate::call::consent::{ConsentEvent, RecordCommand};
use assent_shared::api::MeetingRole;
use assent_shared::consent::Scope;
use assent_shared::transparency::{DirectoryKeys, SignedRoot};

const CALL: CallId = CallId([7; 16]);

fn fp_of(n: u8) -> DtlsFingerprint {
    DtlsFingerprint([n; 32])
}

fn sdp(kind: SdpKind, fp: &DtlsFingerprint) -> String {
    format!(
        "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x-kind:{kind:?}\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=fingerprint:{}\r\n",
        fp.to_attribute()
    )
}

struct Side {
    n: u8,
    identity: SecretIdentity,
    user: UserId,
    peer: PeerId,
    machine: CallMachine,
    /// Effects not yet delivered.
    effects: Vec<Effect>,
    events: Vec<Event>,
    open_media: BTreeSet<PeerId>,
    closed: BTreeSet<PeerId>,
    sent_data: Vec<(PeerId, PeerMessage)>,
    records: Vec<RecordCommand>,
    /// The keys this side pinned, by email.
    pins: BTreeMap<String, assent_shared::PublicIdentity>,
}

impl Side {
    fn new(n: u8) -> Side {
        let identity = SecretIdentity::from_seed([n; 32], Timestamp(0));
        let user = UserId([n; 16]);
        Side {
            n,
            machine: CallMachine::new(
                SecretIdentity::from_seed([n; 32], Timestamp(0)),
                user,
                &format!("user{n}"),
                &format!("user{n}@example.org"),
                assent_shared::DeviceId([n; 16]),
                MediaState {
                    audio: true,
                    video: true,
                    ..MediaState::default()
                },
                Config::default(),
            ),
            identity,
            user,
            peer: PeerId(u64::from(n) * 1000),
            effects: Vec::new(),
            events: Vec::new(),
            open_media: BTreeSet::new(),
            closed: BTreeSet::new(),
            sent_data: Vec::new(),
            records: Vec::new(),
            pins: BTreeMap::new(),
        }
    }

    fn email(&self) -> String {
        format!("user{}@example.org", self.n)
    }

    fn info(&self) -> PeerInfo {
        PeerInfo {
            peer_id: self.peer,
            user_id: self.user,
            email: self.email(),
            display_name: format!("user{}", self.n),
            role: MeetingRole::Participant,
            identity: self.identity.public().clone(),
            codecs: vec![],
        }
    }

    fn input(&mut self, now: u64, input: Input) {
        let fx = self.machine.handle(Timestamp(now), input);
        self.effects.extend(fx);
    }

    fn failures(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::PeerFailed { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }
}

/// What a hostile relay does to signaling payloads in flight.
type Tamper = Box<dyn FnMut(PeerId, PeerId, String) -> String>;

struct Net {
    sides: Vec<Side>,
    now: u64,
    /// The certificate each side really presents in DTLS (a MITM changes what the other sees).
    presented: BTreeMap<(u8, u8), DtlsFingerprint>,
    tamper: Option<Tamper>,
    /// Payloads captured in flight: (from, to, payload).
    captured: Vec<(PeerId, PeerId, String)>,
    /// The key directory: what it proves for each email (a test may make it prove another
    /// key than signaling presents, as a lying server's signaling would).
    directory: BTreeMap<String, assent_shared::PublicIdentity>,
}

impl Net {
    fn new(n: usize) -> Net {
        let sides: Vec<Side> = (1..=n as u8).map(Side::new).collect();
        let directory = sides
            .iter()
            .map(|s| (s.email(), s.identity.public().clone()))
            .collect();
        Net {
            sides,
            now: 1_000,
            presented: BTreeMap::new(),
            tamper: None,
            captured: Vec::new(),
            directory,
        }
    }

    /// The side seated as `peer`, if it is still running.
    fn idx(&self, peer: PeerId) -> Option<usize> {
        self.sides.iter().position(|s| s.peer == peer)
    }

    /// Seat side `i`: it joins a room holding `present`; the others hear about it.
    fn join(&mut self, i: usize, present: &[usize]) {
        let peers: Vec<PeerInfo> = present.iter().map(|&j| self.sides[j].info()).collect();
        let me = self.sides[i].peer;
        let now = self.now;
        self.sides[i].input(
            now,
            Input::Server(ServerInput::Joined {
                call: CALL,
                me,
                peers,
                resumed: false,
            }),
        );
        let info = self.sides[i].info();
        for &j in present {
            self.sides[j].input(now, Input::Server(ServerInput::PeerJoined(info.clone())));
        }
    }

    /// Deliver effects until nothing moves.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for i in 0..self.sides.len() {
                let fx = std::mem::take(&mut self.sides[i].effects);
                for e in fx {
                    moved = true;
                    self.perform(i, e);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the simulated call does not settle");
    }

    fn perform(&mut self, i: usize, e: Effect) {
        let now = self.now;
        let me = self.sides[i].peer;
        let my_fp = fp_of(self.sides[i].n);
        match e {
            Effect::Signal { to, mut payload } => {
                self.captured.push((me, to, payload.clone()));
                if let Some(t) = self.tamper.as_mut() {
                    payload = t(me, to, payload);
                }
                if let Some(j) = self.idx(to) {
                    self.sides[j].input(
                        now,
                        Input::Server(ServerInput::Signal { from: me, payload }),
                    );
                }
            }
            Effect::CreatePeer { peer, offerer } => {
                if offerer {
                    let sdp = sdp(SdpKind::Offer, &my_fp);
                    self.sides[i].input(
                        now,
                        Input::Media(MediaEvent::LocalDescription {
                            peer,
                            kind: SdpKind::Offer,
                            sdp,
                        }),
                    );
                    self.sides[i].input(
                        now,
                        Input::Media(MediaEvent::LocalCandidate {
                            peer,
                            mline: 0,
                            candidate: "candidate:1 1 UDP 2122 127.0.0.1 40000 typ host".into(),
                        }),
                    );
                }
            }
            Effect::ApplyRemote { peer, kind, .. } => {
                if kind == SdpKind::Offer {
                    let sdp = sdp(SdpKind::Answer, &my_fp);
                    self.sides[i].input(
                        now,
                        Input::Media(MediaEvent::LocalDescription {
                            peer,
                            kind: SdpKind::Answer,
                            sdp,
                        }),
                    );
                }
                // Once both descriptions are set, DTLS runs: each side sees the other's
                // certificate (or what a man in the middle presents instead).
                let Some(j) = self.idx(peer) else {
                    return;
                };
                let (a, b) = (self.sides[i].n, self.sides[j].n);
                let theirs = self.presented.get(&(b, a)).copied().unwrap_or(fp_of(b));
                let mine = self.presented.get(&(a, b)).copied().unwrap_or(fp_of(a));
                if kind == SdpKind::Answer {
                    self.sides[i].input(
                        now,
                        Input::Media(MediaEvent::RemoteCertificate {
                            peer,
                            fingerprint: theirs,
                        }),
                    );
                    self.sides[j].input(
                        now,
                        Input::Media(MediaEvent::RemoteCertificate {
                            peer: me,
                            fingerprint: mine,
                        }),
                    );
                    self.sides[i].input(now, Input::Media(MediaEvent::ChannelOpen { peer }));
                    self.sides[j].input(now, Input::Media(MediaEvent::ChannelOpen { peer: me }));
                }
            }
            Effect::VetPeer {
                peer,
                email,
                identity,
            } => {
                let outcome = if self.directory.get(&email) != Some(&identity) {
                    Vetting::Refused(format!(
                        "{email}'s key is not what the directory has published"
                    ))
                } else {
                    match self.sides[i].pins.get(&email) {
                        Some(pinned) if *pinned != identity => Vetting::Changed {
                            safety_number: "11111 22222".into(),
                        },
                        _ => {
                            self.sides[i].pins.insert(email, identity);
                            Vetting::Trusted { compared: false }
                        }
                    }
                };
                self.sides[i].input(
                    now,
                    Input::Directory(DirectoryInput::PeerVetted { peer, outcome }),
                );
            }
            Effect::CheckRoot { .. } => {}
            Effect::AddCandidate { .. } | Effect::ApplyLocalMedia(_) | Effect::Hangup => {}
            Effect::Record(cmd) => self.sides[i].records.push(cmd),
            Effect::OpenMedia { peer } => {
                self.sides[i].open_media.insert(peer);
            }
            Effect::ClosePeer { peer } => {
                self.sides[i].open_media.remove(&peer);
                self.sides[i].closed.insert(peer);
            }
            Effect::SendData { peer, text } => {
                let msg = PeerMessage::parse(&text).unwrap();
                self.sides[i].sent_data.push((peer, msg));
                if let Some(j) = self.idx(peer)
                    && !self.sides[j].closed.contains(&me)
                {
                    self.sides[j].input(
                        now,
                        Input::Media(MediaEvent::ChannelMessage { peer: me, text }),
                    );
                }
            }
            Effect::Event(ev) => self.sides[i].events.push(ev),
        }
    }

    fn connected(&self, i: usize) -> BTreeSet<PeerId> {
        self.sides[i].open_media.clone()
    }

    fn peers_of(&self, others: &[usize]) -> BTreeSet<PeerId> {
        others.iter().map(|&j| self.sides[j].peer).collect()
    }

    fn tick(&mut self, ms: u64) {
        self.now += ms;
        for s in &mut self.sides {
            s.input(self.now, Input::Tick);
        }
        self.run();
    }
}

#[test]
fn two_peers_connect_verified_and_exchange_state() {
    let mut net = Net::new(2);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    assert_eq!(net.connected(0), net.peers_of(&[1]));
    assert_eq!(net.connected(1), net.peers_of(&[0]));
    for s in &net.sides {
        assert!(s.failures().is_empty(), "{:?}", s.failures());
        assert!(
            s.events
                .iter()
                .any(|e| matches!(e, Event::Connected { .. }))
        );
        // Each learned the other's media state once verified.
        assert!(s.events.iter().any(|e| matches!(
            e,
            Event::RemoteMedia {
                state: MediaState {
                    audio: true,
                    video: true,
                    ..
                },
                ..
            }
        )));
    }
    // The newcomer (side 1) offered; side 0 answered: one offer, one answer.
    let bodies: Vec<String> = net.captured.iter().map(|c| c.2.clone()).collect();
    assert_eq!(
        bodies.iter().filter(|b| b.contains(r#"\"offer\""#)).count(),
        1
    );
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b.contains(r#"\"answer\""#))
            .count(),
        1
    );
}

#[test]
fn three_party_mesh_newcomer_offers_to_everyone() {
    let mut net = Net::new(3);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    net.join(2, &[0, 1]);
    net.run();
    for (i, others) in [(0, vec![1, 2]), (1, vec![0, 2]), (2, vec![0, 1])] {
        assert_eq!(net.connected(i), net.peers_of(&others), "side {i}");
    }
    let offers_from_2 = net
        .captured
        .iter()
        .filter(|(from, _, p)| *from == net.sides[2].peer && p.contains(r#"\"offer\""#))
        .count();
    assert_eq!(offers_from_2, 2);
    // Side 0 saw both others arrive; the newcomer found them there (no "arrived" chime).
    let arrivals = |i: usize| -> Vec<bool> {
        net.sides[i]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::ParticipantJoined { arrived, .. } => Some(*arrived),
                _ => None,
            })
            .collect()
    };
    assert_eq!(arrivals(0), [true, true]);
    assert_eq!(arrivals(2), [false, false]);
}

#[test]
fn relay_rewriting_the_fingerprint_breaks_the_call() {
    let mut net = Net::new(2);
    net.tamper = Some(Box::new(|_, _, payload: String| {
        // Replace the first fingerprint byte in the SDP (inside the signed JSON).
        payload.replace("fingerprint:sha-256 02", "fingerprint:sha-256 EE")
    }));
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    assert!(net.connected(0).is_empty());
    assert!(net.connected(1).is_empty());
    let f = net.sides[0].failures();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].contains("altered in transit"), "{f:?}");
}

#[test]
fn replayed_offer_from_an_old_call_is_refused() {
    // Capture side 1's offer in call A ...
    let mut old = Net::new(2);
    old.join(0, &[]);
    old.join(1, &[0]);
    old.run();
    let (_, _, old_offer) = old
        .captured
        .iter()
        .find(|c| c.2.contains(r#"\"offer\""#))
        .cloned()
        .unwrap();
    // ... and replay it into a new call instead of the fresh one.
    let mut net = Net::new(2);
    net.tamper = Some(Box::new(move |_, _, payload: String| {
        if payload.contains(r#"\"offer\""#) {
            old_offer.clone()
        } else {
            payload
        }
    }));
    let new_call = CallId([8; 16]);
    // Seat both in another call id.
    let me0 = net.sides[0].peer;
    let now = net.now;
    net.sides[0].input(
        now,
        Input::Server(ServerInput::Joined {
            call: new_call,
            me: me0,
            peers: vec![],
            resumed: false,
        }),
    );
    let info0 = net.sides[0].info();
    let me1 = net.sides[1].peer;
    net.sides[1].input(
        now,
        Input::Server(ServerInput::Joined {
            call: new_call,
            me: me1,
            peers: vec![info0],
            resumed: false,
        }),
    );
    let info1 = net.sides[1].info();
    net.sides[0].input(now, Input::Server(ServerInput::PeerJoined(info1)));
    net.run();
    assert!(net.connected(0).is_empty());
    let f = net.sides[0].failures();
    assert!(f.iter().any(|r| r.contains("another call")), "{f:?}");
}

#[test]
fn man_in_the_middle_certificate_is_refused_before_media() {
    let mut net = Net::new(2);
    // The relay terminates DTLS itself: side 0 sees certificate 0xEE instead of side 1's.
    net.presented.insert((2, 1), fp_of(0xEE));
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    assert!(
        net.connected(0).is_empty(),
        "no media towards the intercepted peer"
    );
    let f = net.sides[0].failures();
    assert!(f.iter().any(|r| r.contains("does not match")), "{f:?}");
    assert!(
        net.sides[0].sent_data.is_empty(),
        "nothing sent on the channel"
    );
}

#[test]
fn valid_envelope_with_a_binding_for_another_seat_is_refused() {
    // Side 1 is honest about the envelope but its binding names another recipient: e.g. a
    // binding lifted from its connection to someone else.
    let mut net = Net::new(2);
    net.join(0, &[]);
    let ident = SecretIdentity::from_seed([2; 32], Timestamp(0));
    let (p0, u0, p1, u1) = (
        net.sides[0].peer,
        net.sides[0].user,
        net.sides[1].peer,
        net.sides[1].user,
    );
    net.tamper = Some(Box::new(move |from, to, payload: String| {
        if !payload.contains(r#"\"offer\""#) {
            return payload;
        }
        let fp = fp_of(2);
        let wrong_to = Party {
            user: u0,
            peer: PeerId(999),
        };
        let dtls = sign_dtls(&ident, &CALL, Party { user: u1, peer: p1 }, wrong_to, &fp);
        let env = Envelope {
            v: CALL_PROTOCOL_VERSION,
            call: CALL,
            from,
            to: Some(to),
            seq: 1,
            body: Body::Offer {
                sdp: sdp(SdpKind::Offer, &fp),
                dtls,
            },
        };
        assert_eq!(to, p0);
        SignedEnvelope::seal(&ident, &env).to_payload()
    }));
    net.join(1, &[0]);
    net.run();
    let f = net.sides[0].failures();
    assert!(f.iter().any(|r| r.contains("not signed by")), "{f:?}");
}

#[test]
fn chat_is_delivered_and_acknowledged_and_queued_until_verified() {
    let mut net = Net::new(2);
    net.join(0, &[]);
    net.join(1, &[0]);
    // Side 1 types before anything is connected.
    let now = net.now;
    net.sides[1].input(
        now,
        Input::User(UserInput::SendChat {
            text: "hello early".into(),
        }),
    );
    net.run();
    let now = net.now;
    net.sides[0].input(
        now,
        Input::User(UserInput::SendChat {
            text: "  hi back ".into(),
        }),
    );
    net.run();
    let got = |i: usize| -> Vec<String> {
        net.sides[i]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Chat { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(got(0), vec!["hello early"]);
    assert_eq!(got(1), vec!["hi back"]);
    for i in 0..2 {
        assert!(
            net.sides[i]
                .events
                .iter()
                .any(|e| matches!(e, Event::ChatDelivered { id: 1, .. })),
            "side {i} saw its message delivered"
        );
    }
    // Empty and oversized messages are refused locally.
    let now = net.now;
    net.sides[0].input(now, Input::User(UserInput::SendChat { text: "  ".into() }));
    net.sides[0].input(
        now,
        Input::User(UserInput::SendChat {
            text: "x".repeat(MAX_CHAT + 1),
        }),
    );
    let failed = net.sides[0]
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Event(Event::CommandFailed { .. })))
        .count();
    assert_eq!(failed, 2);
}

#[test]
fn silent_peer_is_removed_within_seconds_and_the_call_goes_on() {
    let mut net = Net::new(3);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    net.join(2, &[0, 1]);
    net.run();
    // Side 2 is killed: it stops answering (its effects and inputs vanish).
    let dead = net.sides[2].peer;
    for s in &mut net.sides[..2] {
        s.closed.insert(dead);
    }
    net.sides.truncate(2);
    let mut waited = 0;
    while waited < 10_000 {
        net.tick(500);
        waited += 500;
        let gone = net.sides[..2].iter().all(|s| {
            s.events.iter().any(
                |e| matches!(e, Event::ParticipantLeft { peer, reason: LeaveReason::Lost } if *peer == dead),
            )
        });
        if gone {
            break;
        }
    }
    assert!(waited <= 6_000, "removed after {waited} ms");
    // The two others are still connected to each other.
    assert_eq!(net.connected(0), net.peers_of(&[1]));
    assert_eq!(net.connected(1), net.peers_of(&[0]));
}

#[test]
fn unanswered_peer_times_out_with_a_reason() {
    let mut net = Net::new(2);
    net.join(0, &[]);
    // Side 1 joins but its offers never arrive (a relay dropping everything).
    net.tamper = Some(Box::new(|_, _, _| String::from("{}")));
    net.join(1, &[0]);
    net.run();
    // Side 0 failed the malformed message right away; side 1 waits for an answer and times out.
    assert!(!net.sides[0].failures().is_empty());
    for _ in 0..62 {
        net.tick(500);
    }
    let f = net.sides[1].failures();
    assert!(f.iter().any(|r| r.contains("in time")), "{f:?}");
}

#[test]
fn sequence_numbers_must_increase() {
    let mut net = Net::new(2);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    // Replay side 1's last candidate to side 0 after connecting: refused, call goes on.
    let (from, _, payload) = net
        .captured
        .iter()
        .rev()
        .find(|c| c.0 == net.sides[1].peer)
        .cloned()
        .unwrap();
    let now = net.now;
    net.sides[0].input(now, Input::Server(ServerInput::Signal { from, payload }));
    net.run();
    assert!(net.sides[0].events.iter().any(|e| matches!(
        e,
        Event::Refused { error, .. } if error.contains("replayed")
    )));
    assert_eq!(net.connected(0), net.peers_of(&[1]));
}

#[test]
fn leaving_closes_everything_and_the_others_see_it() {
    let mut net = Net::new(2);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    let now = net.now;
    net.sides[1].input(now, Input::User(UserInput::Leave));
    net.run();
    assert!(net.sides[1].machine.is_over());
    assert!(net.connected(1).is_empty());
    let p1 = net.sides[1].peer;
    net.sides[0].input(
        now,
        Input::Server(ServerInput::PeerLeft {
            peer: p1,
            reason: LeaveReason::Left,
        }),
    );
    net.run();
    assert!(net.connected(0).is_empty());
}

#[test]
fn candidate_filter() {
    let f = CandidateFilter::parse(&["127.0.0.0/8".into(), "10.77.0.0/16".into()]).unwrap();
    assert!(f.allows("candidate:1 1 UDP 2122 127.0.0.1 40000 typ host"));
    assert!(f.allows("a=candidate:1 1 UDP 2122 10.77.3.4 40000 typ host"));
    assert!(!f.allows("candidate:1 1 UDP 2122 192.168.1.5 40000 typ host"));
    assert!(!f.allows("candidate:1 1 UDP 2122 abcd.local 40000 typ host"));
    assert!(!f.allows("candidate:1 1 UDP 2122 ::1 40000 typ host"));
    assert!(!f.allows("garbage"));
    let open = CandidateFilter::default();
    assert!(open.allows("candidate:1 1 UDP 2122 192.168.1.5 40000 typ host"));
    let v6 = CandidateFilter::parse(&["::1".into()]).unwrap();
    assert!(v6.allows("candidate:1 1 UDP 2122 ::1 40000 typ host"));
    assert!(CandidateFilter::parse(&["10.0.0.0/33".into()]).is_err());
    assert!(CandidateFilter::parse(&["nope".into()]).is_err());
    // Candidates outside the filter are neither sent nor used.
    let mut net = Net::new(2);
    for s in &mut net.sides {
        s.machine.config.candidates = f.clone();
    }
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    let p0 = net.sides[0].peer;
    let now = net.now;
    net.sides[1].input(
        now,
        Input::Media(MediaEvent::LocalCandidate {
            peer: p0,
            mline: 0,
            candidate: "candidate:2 1 UDP 2122 192.168.1.5 40001 typ host".into(),
        }),
    );
    assert!(net.sides[1].effects.is_empty());
}

#[test]
fn resumed_seat_keeps_connections_and_reconciles() {
    let mut net = Net::new(3);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    net.join(2, &[0, 1]);
    net.run();
    // Side 0's signaling drops and resumes; meanwhile side 2 left.
    let me = net.sides[0].peer;
    let info1 = net.sides[1].info();
    let now = net.now;
    net.sides[0].input(
        now,
        Input::Server(ServerInput::Joined {
            call: CALL,
            me,
            peers: vec![info1],
            resumed: true,
        }),
    );
    net.run();
    assert_eq!(net.connected(0), net.peers_of(&[1]));
    let creates = net.sides[0]
        .events
        .iter()
        .filter(|e| matches!(e, Event::ParticipantJoined { .. }))
        .count();
    assert_eq!(creates, 2, "no one was re-created");
}

// ---- Recording consent over the call ----

#[path = "machine_tests_recording.rs"]
mod recording;
