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
            Input::Joined {
                call: CALL,
                me,
                peers,
                resumed: false,
            },
        );
        let info = self.sides[i].info();
        for &j in present {
            self.sides[j].input(now, Input::PeerJoined(info.clone()));
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
                    self.sides[j].input(now, Input::Signal { from: me, payload });
                }
            }
            Effect::CreatePeer { peer, offerer } => {
                if offerer {
                    let sdp = sdp(SdpKind::Offer, &my_fp);
                    self.sides[i].input(
                        now,
                        Input::LocalDescription {
                            peer,
                            kind: SdpKind::Offer,
                            sdp,
                        },
                    );
                    self.sides[i].input(
                        now,
                        Input::LocalCandidate {
                            peer,
                            mline: 0,
                            candidate: "candidate:1 1 UDP 2122 127.0.0.1 40000 typ host".into(),
                        },
                    );
                }
            }
            Effect::ApplyRemote { peer, kind, .. } => {
                if kind == SdpKind::Offer {
                    let sdp = sdp(SdpKind::Answer, &my_fp);
                    self.sides[i].input(
                        now,
                        Input::LocalDescription {
                            peer,
                            kind: SdpKind::Answer,
                            sdp,
                        },
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
                        Input::RemoteCertificate {
                            peer,
                            fingerprint: theirs,
                        },
                    );
                    self.sides[j].input(
                        now,
                        Input::RemoteCertificate {
                            peer: me,
                            fingerprint: mine,
                        },
                    );
                    self.sides[i].input(now, Input::ChannelOpen { peer });
                    self.sides[j].input(now, Input::ChannelOpen { peer: me });
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
                self.sides[i].input(now, Input::PeerVetted { peer, outcome });
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
                    self.sides[j].input(now, Input::ChannelMessage { peer: me, text });
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
        Input::Joined {
            call: new_call,
            me: me0,
            peers: vec![],
            resumed: false,
        },
    );
    let info0 = net.sides[0].info();
    let me1 = net.sides[1].peer;
    net.sides[1].input(
        now,
        Input::Joined {
            call: new_call,
            me: me1,
            peers: vec![info0],
            resumed: false,
        },
    );
    let info1 = net.sides[1].info();
    net.sides[0].input(now, Input::PeerJoined(info1));
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
        Input::SendChat {
            text: "hello early".into(),
        },
    );
    net.run();
    let now = net.now;
    net.sides[0].input(
        now,
        Input::SendChat {
            text: "  hi back ".into(),
        },
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
    net.sides[0].input(now, Input::SendChat { text: "  ".into() });
    net.sides[0].input(
        now,
        Input::SendChat {
            text: "x".repeat(MAX_CHAT + 1),
        },
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
    net.sides[0].input(now, Input::Signal { from, payload });
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
    net.sides[1].input(now, Input::Leave);
    net.run();
    assert!(net.sides[1].machine.is_over());
    assert!(net.connected(1).is_empty());
    let p1 = net.sides[1].peer;
    net.sides[0].input(
        now,
        Input::PeerLeft {
            peer: p1,
            reason: LeaveReason::Left,
        },
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
        Input::LocalCandidate {
            peer: p0,
            mline: 0,
            candidate: "candidate:2 1 UDP 2122 192.168.1.5 40001 typ host".into(),
        },
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
        Input::Joined {
            call: CALL,
            me,
            peers: vec![info1],
            resumed: true,
        },
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
        Input::ProposeRecording {
            title: "Weekly".into(),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
        },
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
    input(&mut net, 1, Input::AgreeRecording);
    assert!(!started(&net.sides[0]), "one consent still missing");
    input(&mut net, 2, Input::AgreeRecording);
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
    input(&mut net, 1, Input::AgreeRecording);
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
    input(&mut net, 2, Input::AgreeRecording);
    assert_eq!(net.sides[0].records.last(), Some(&RecordCommand::Pause));
    input(&mut net, 0, Input::AgreeRecording);
    assert_eq!(net.sides[0].records.last(), Some(&RecordCommand::Pause));
    input(&mut net, 1, Input::AgreeRecording);
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
    input(&mut net, 1, Input::AgreeRecording);
    net.join(2, &[0, 1]);
    net.run();
    input(&mut net, 2, Input::AgreeRecording);
    input(&mut net, 1, Input::DeclineRecording);
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Stop(_))
    ));
}

#[test]
fn a_withdrawal_stops_it_everywhere() {
    let mut net = three_connected();
    propose(&mut net, 0);
    input(&mut net, 1, Input::AgreeRecording);
    input(&mut net, 2, Input::AgreeRecording);
    input(&mut net, 2, Input::WithdrawConsent);
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
    input(&mut net, 1, Input::AgreeRecording);
    input(&mut net, 2, Input::DeclineRecording);
    assert!(net.sides[0].records.is_empty());
    assert!(
        consent_events(&net.sides[1])
            .iter()
            .any(|e| matches!(e, ConsentEvent::Ended { reason } if reason.contains("declined")))
    );
    // Agreeing afterwards has nothing to agree to.
    input(&mut net, 1, Input::AgreeRecording);
    assert!(net.sides[0].records.is_empty());
}

#[test]
fn the_recorder_leaving_closes_the_recording_and_others_leaving_does_not() {
    let mut net = three_connected();
    propose(&mut net, 0);
    input(&mut net, 1, Input::AgreeRecording);
    input(&mut net, 2, Input::AgreeRecording);
    // Side 2 leaves: the recording goes on.
    let p2 = net.sides[2].peer;
    for i in 0..2 {
        input(
            &mut net,
            i,
            Input::PeerLeft {
                peer: p2,
                reason: LeaveReason::Left,
            },
        );
    }
    assert!(matches!(
        net.sides[0].records.last(),
        Some(RecordCommand::Start { .. })
    ));
    // The recorder leaves: it closes the recording.
    input(&mut net, 0, Input::Leave);
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
    input(&mut net, 1, Input::AgreeRecording);
    input(&mut net, 2, Input::AgreeRecording);
    assert!(started(&net.sides[0]));
    // The server lost the room (a restart): the recorder gets a new seat, not its old one.
    let peers: Vec<PeerInfo> = [1, 2].iter().map(|&j| net.sides[j].info()).collect();
    let me = net.sides[0].peer;
    let now = net.now;
    net.sides[0].input(
        now,
        Input::Joined {
            call: CallId([0x77; 16]),
            me,
            peers,
            resumed: false,
        },
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
    input(&mut net, 0, Input::Leave);
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
    input(&mut net, 0, Input::AcceptKey { peer: bob });
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
        Input::DirectoryRoot {
            keys,
            root: root(5, 1),
        },
    );
    input(
        &mut net,
        1,
        Input::DirectoryRoot {
            keys,
            root: root(5, 2),
        },
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
            Input::DirectoryRoot {
                keys,
                root: root(5, 1),
            },
        );
    }
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    propose(&mut net, 0);
    input(&mut net, 1, Input::AgreeRecording);
    assert!(started(&net.sides[0]));
    // Carol was shown another directory; she joins and gossips it.
    let mut fresh = Side::new(3);
    fresh.input(
        net.now,
        Input::DirectoryRoot {
            keys,
            root: root(5, 7),
        },
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
        Input::DirectoryRoot {
            keys,
            root: root(5, 1),
        },
    );
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let forged = SignedRoot::sign(&other, root(5, 2).body);
    net.join(0, &[]);
    net.join(1, &[0]);
    net.run();
    let bob = net.sides[1].peer;
    let text = PeerMessage::Root { root: forged }.to_text();
    input(&mut net, 0, Input::ChannelMessage { peer: bob, text });
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
    input(&mut net, 0, Input::ShareHead(head.clone()));
    for i in 1..3 {
        assert_eq!(heads_seen(&net.sides[i]), vec![&head], "side {i}");
    }

    // Bob relays Ann's head as his own, and signs one for another call: both refused.
    let bob = net.sides[1].peer;
    let relayed = head_by(&net.sides[0].identity, CALL, 2, 9);
    let elsewhere = head_by(&net.sides[1].identity, CallId([8; 16]), 3, 9);
    for h in [relayed, elsewhere] {
        let text = PeerMessage::Head { head: B64(h.0) }.to_text();
        input(&mut net, 2, Input::ChannelMessage { peer: bob, text });
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
        input(&mut net, 2, Input::ChannelMessage { peer: bob, text });
    }
    assert_eq!(heads_seen(&net.sides[2]).len(), 1 + MAX_HEADS_PER_PEER);
}
