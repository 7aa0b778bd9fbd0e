//! The signaling core: rooms, seats and routing, as a pure state machine. Inputs come from
//! connections (join, send, leave, disconnect), from host actions (kick, close, role change)
//! and from time (tick); outputs are frames for connections, connections to close, and call
//! history to record. No sockets, no database: the edge (`ws.rs`) performs the outputs.
//!
//! ```text
//!   join ──► seat(conn) ──disconnect──► seat(lost, buffering) ──resume token──► seat(conn)
//!               │                              │ grace elapses
//!               └──leave / kick──► gone ◄──────┘
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};

use assent_shared::api::{ErrorCode, MeetingRole};
use assent_shared::ids::{CallId, MeetingId, UserId};
use assent_shared::signal::{LeaveReason, PROTOCOL_VERSION, PeerId, PeerInfo, ServerMsg};
use assent_shared::{PublicIdentity, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// One connection (socket).
pub type ConnId = u64;

/// Most seats in one room.
pub const MAX_ROOM: usize = 50;
/// Messages kept for a seat whose connection dropped, until it resumes.
pub const MAX_BUFFERED: usize = 256;

/// A user the edge has admitted to a meeting (membership, lock and removal already checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub meeting: MeetingId,
    pub user: UserId,
    /// The account's verified email (its name in the key directory).
    pub email: String,
    pub display_name: String,
    pub role: MeetingRole,
    pub identity: PublicIdentity,
    /// Video codecs the client announced (validated).
    pub codecs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Join {
        conn: ConnId,
        admitted: Box<Admitted>,
        resume: Option<String>,
    },
    Send {
        conn: ConnId,
        to: Option<PeerId>,
        payload: String,
    },
    Leave {
        conn: ConnId,
    },
    Disconnected {
        conn: ConnId,
    },
    Tick,
    Kick {
        meeting: MeetingId,
        user: UserId,
    },
    Close {
        meeting: MeetingId,
    },
    RoleChanged {
        meeting: MeetingId,
        user: UserId,
        role: MeetingRole,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Send {
        conn: ConnId,
        msg: ServerMsg,
    },
    Close {
        conn: ConnId,
    },
    CallStarted {
        meeting: MeetingId,
        call: CallId,
        at: Timestamp,
    },
    CallEnded {
        call: CallId,
        at: Timestamp,
    },
    ParticipantJoined {
        call: CallId,
        user: UserId,
        at: Timestamp,
    },
    ParticipantLeft {
        call: CallId,
        user: UserId,
        at: Timestamp,
    },
}

#[derive(Debug)]
struct Seat {
    info: PeerInfo,
    conn: Option<ConnId>,
    lost_at: Option<Timestamp>,
    resume: [u8; 32],
    buffer: VecDeque<ServerMsg>,
}

#[derive(Debug)]
struct Room {
    call: CallId,
    seats: BTreeMap<PeerId, Seat>,
}

/// All rooms.
#[derive(Debug)]
pub struct Hub {
    grace_ms: u64,
    rooms: HashMap<MeetingId, Room>,
    seated: HashMap<ConnId, (MeetingId, PeerId)>,
    ids: Ids,
}

/// Where call ids, peer ids and resume tokens come from: the operating system's generator, or
/// in tests a seeded one, so that the hub's outputs are reproducible.
struct Ids(Box<dyn RngCore + Send>);

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ids(..)")
    }
}

impl Ids {
    fn call(&mut self) -> CallId {
        let mut b = [0u8; 16];
        self.0.fill_bytes(&mut b);
        CallId(b)
    }

    fn peer(&mut self) -> PeerId {
        PeerId(self.0.next_u64())
    }

    /// A resume token: 256 random bits.
    fn token(&mut self) -> String {
        let mut b = [0u8; 32];
        self.0.fill_bytes(&mut b);
        data_encoding::BASE64URL_NOPAD.encode(&b)
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Hub {
    /// A hub whose dropped seats wait `grace_ms` for their owner to reconnect.
    pub fn new(grace_ms: u64) -> Hub {
        Hub::with_ids(grace_ms, Box::new(rand::rngs::OsRng))
    }

    /// A hub drawing its ids and tokens from `rng` (tests give a seeded one).
    fn with_ids(grace_ms: u64, rng: Box<dyn RngCore + Send>) -> Hub {
        Hub {
            grace_ms,
            rooms: HashMap::new(),
            seated: HashMap::new(),
            ids: Ids(rng),
        }
    }

    pub fn room_size(&self, meeting: &MeetingId) -> usize {
        self.rooms.get(meeting).map_or(0, |r| r.seats.len())
    }

    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Join {
                conn,
                admitted,
                resume,
            } => self.join(now, conn, *admitted, resume, &mut out),
            Input::Send { conn, to, payload } => self.send(conn, to, payload, &mut out),
            Input::Leave { conn } => {
                if let Some((meeting, peer)) = self.seated.remove(&conn) {
                    self.free(now, &meeting, peer, LeaveReason::Left, &mut out);
                } else {
                    out.push(Output::Send {
                        conn,
                        msg: ServerMsg::error(ErrorCode::NotJoined, "join a meeting first"),
                    });
                }
            }
            Input::Disconnected { conn } => {
                if let Some((meeting, peer)) = self.seated.remove(&conn)
                    && let Some(seat) = self
                        .rooms
                        .get_mut(&meeting)
                        .and_then(|r| r.seats.get_mut(&peer))
                {
                    seat.conn = None;
                    seat.lost_at = Some(now);
                }
            }
            Input::Tick => self.expire(now, &mut out),
            Input::Kick { meeting, user } => self.kick(now, meeting, user, &mut out),
            Input::Close { meeting } => self.close(now, meeting, &mut out),
            Input::RoleChanged {
                meeting,
                user,
                role,
            } => {
                let mut updated = Vec::new();
                if let Some(room) = self.rooms.get_mut(&meeting) {
                    for seat in room.seats.values_mut().filter(|s| s.info.user_id == user) {
                        seat.info.role = role;
                        updated.push(seat.info.clone());
                    }
                }
                for peer in updated {
                    self.broadcast(
                        &meeting,
                        None,
                        ServerMsg::PeerUpdated {
                            peer: Box::new(peer),
                        },
                        &mut out,
                    );
                }
            }
        }
        out
    }

    fn deliver(seat: &mut Seat, msg: ServerMsg, out: &mut Vec<Output>) {
        match seat.conn {
            Some(conn) => out.push(Output::Send { conn, msg }),
            None => {
                if seat.buffer.len() >= MAX_BUFFERED {
                    seat.buffer.pop_front();
                }
                seat.buffer.push_back(msg);
            }
        }
    }

    /// To every seat of the room except `except`.
    fn broadcast(
        &mut self,
        meeting: &MeetingId,
        except: Option<PeerId>,
        msg: ServerMsg,
        out: &mut Vec<Output>,
    ) {
        if let Some(room) = self.rooms.get_mut(meeting) {
            for (id, seat) in room.seats.iter_mut() {
                if Some(*id) != except {
                    Self::deliver(seat, msg.clone(), out);
                }
            }
        }
    }

    fn join(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        a: Admitted,
        resume: Option<String>,
        out: &mut Vec<Output>,
    ) {
        if self.seated.contains_key(&conn) {
            out.push(Output::Send {
                conn,
                msg: ServerMsg::error(
                    ErrorCode::AlreadyJoined,
                    "this connection is already in a room",
                ),
            });
            return;
        }
        if let Some(token) = resume
            && self.resume(conn, &a, token, out)
        {
            return;
        }
        self.free_stale(now, &a, out);
        if self.room_size(&a.meeting) >= MAX_ROOM {
            out.push(Output::Send {
                conn,
                msg: ServerMsg::error(ErrorCode::RoomFull, "this meeting is full"),
            });
            return;
        }
        self.seat(now, conn, a, out);
    }

    /// Give `conn` back the dropped seat its resume token names, with what was buffered for
    /// it. False when there is no such seat (the join goes on as a new one).
    fn resume(&mut self, conn: ConnId, a: &Admitted, token: String, out: &mut Vec<Output>) -> bool {
        let h = hash(&token);
        let found = self.rooms.get_mut(&a.meeting).and_then(|room| {
            let call = room.call;
            let peers: Vec<PeerInfo> = room.seats.values().map(|s| s.info.clone()).collect();
            room.seats
                .values_mut()
                .find(|s| s.info.user_id == a.user && s.resume == h && s.conn.is_none())
                .map(|seat| (call, seat, peers))
        });
        if let Some((call, seat, peers)) = found {
            seat.conn = Some(conn);
            seat.lost_at = None;
            let me = seat.info.peer_id;
            out.push(Output::Send {
                conn,
                msg: ServerMsg::Joined {
                    version: PROTOCOL_VERSION,
                    meeting_id: a.meeting,
                    call_id: call,
                    peer_id: me,
                    resume_token: token,
                    role: seat.info.role,
                    peers: peers.into_iter().filter(|p| p.peer_id != me).collect(),
                    resumed: true,
                },
            });
            for msg in seat.buffer.drain(..) {
                out.push(Output::Send { conn, msg });
            }
            self.seated.insert(conn, (a.meeting, me));
            return true;
        }
        false
    }

    /// The same user's dropped seats are freed now rather than lingering as ghosts.
    fn free_stale(&mut self, now: Timestamp, a: &Admitted, out: &mut Vec<Output>) {
        let stale: Vec<PeerId> = self
            .rooms
            .get(&a.meeting)
            .map(|r| {
                r.seats
                    .values()
                    .filter(|s| s.info.user_id == a.user && s.conn.is_none())
                    .map(|s| s.info.peer_id)
                    .collect()
            })
            .unwrap_or_default();
        for peer in stale {
            self.free(now, &a.meeting, peer, LeaveReason::Lost, out);
        }
    }

    /// A new seat for `conn` (the room starts a call if it had none); everyone else hears.
    fn seat(&mut self, now: Timestamp, conn: ConnId, a: Admitted, out: &mut Vec<Output>) {
        let ids = &mut self.ids;
        let room = self.rooms.entry(a.meeting).or_insert_with(|| {
            let call = ids.call();
            out.push(Output::CallStarted {
                meeting: a.meeting,
                call,
                at: now,
            });
            Room {
                call,
                seats: BTreeMap::new(),
            }
        });
        let mut peer = ids.peer();
        while room.seats.contains_key(&peer) {
            peer = ids.peer();
        }
        let token = ids.token();
        let info = PeerInfo {
            peer_id: peer,
            user_id: a.user,
            email: a.email,
            display_name: a.display_name,
            role: a.role,
            identity: a.identity,
            codecs: a.codecs,
        };
        let others: Vec<PeerInfo> = room.seats.values().map(|s| s.info.clone()).collect();
        let call = room.call;
        room.seats.insert(
            peer,
            Seat {
                info: info.clone(),
                conn: Some(conn),
                lost_at: None,
                resume: hash(&token),
                buffer: VecDeque::new(),
            },
        );
        self.seated.insert(conn, (a.meeting, peer));
        out.push(Output::ParticipantJoined {
            call,
            user: a.user,
            at: now,
        });
        out.push(Output::Send {
            conn,
            msg: ServerMsg::Joined {
                version: PROTOCOL_VERSION,
                meeting_id: a.meeting,
                call_id: call,
                peer_id: peer,
                resume_token: token,
                role: info.role,
                peers: others,
                resumed: false,
            },
        });
        self.broadcast(
            &a.meeting,
            Some(peer),
            ServerMsg::PeerJoined {
                peer: Box::new(info),
            },
            out,
        );
    }

    fn send(&mut self, conn: ConnId, to: Option<PeerId>, payload: String, out: &mut Vec<Output>) {
        let Some((meeting, from)) = self.seated.get(&conn).copied() else {
            out.push(Output::Send {
                conn,
                msg: ServerMsg::error(ErrorCode::NotJoined, "join a meeting first"),
            });
            return;
        };
        let msg = ServerMsg::Message { from, payload };
        match to {
            None => self.broadcast(&meeting, Some(from), msg, out),
            Some(target) => match self
                .rooms
                .get_mut(&meeting)
                .and_then(|r| r.seats.get_mut(&target))
            {
                Some(seat) if target != from => Self::deliver(seat, msg, out),
                _ => out.push(Output::Send {
                    conn,
                    msg: ServerMsg::error(ErrorCode::UnknownPeer, "no such peer in this room"),
                }),
            },
        }
    }

    /// Remove a seat, tell the others, end the call if the room is empty.
    fn free(
        &mut self,
        now: Timestamp,
        meeting: &MeetingId,
        peer: PeerId,
        reason: LeaveReason,
        out: &mut Vec<Output>,
    ) {
        let Some(room) = self.rooms.get_mut(meeting) else {
            return;
        };
        let Some(seat) = room.seats.remove(&peer) else {
            return;
        };
        if let Some(conn) = seat.conn {
            self.seated.remove(&conn);
        }
        let call = room.call;
        out.push(Output::ParticipantLeft {
            call,
            user: seat.info.user_id,
            at: now,
        });
        if room.seats.is_empty() {
            self.rooms.remove(meeting);
            out.push(Output::CallEnded { call, at: now });
        } else {
            self.broadcast(
                meeting,
                None,
                ServerMsg::PeerLeft {
                    peer_id: peer,
                    reason,
                },
                out,
            );
        }
    }

    fn expire(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        let expired: Vec<(MeetingId, PeerId)> = self
            .rooms
            .iter()
            .flat_map(|(m, r)| {
                r.seats
                    .values()
                    .filter(|s| {
                        s.lost_at
                            .is_some_and(|t| now.millis_since(t) >= self.grace_ms)
                    })
                    .map(move |s| (*m, s.info.peer_id))
            })
            .collect();
        for (meeting, peer) in expired {
            self.free(now, &meeting, peer, LeaveReason::Lost, out);
        }
    }

    fn kick(&mut self, now: Timestamp, meeting: MeetingId, user: UserId, out: &mut Vec<Output>) {
        let seats: Vec<(PeerId, Option<ConnId>)> = self
            .rooms
            .get(&meeting)
            .map(|r| {
                r.seats
                    .values()
                    .filter(|s| s.info.user_id == user)
                    .map(|s| (s.info.peer_id, s.conn))
                    .collect()
            })
            .unwrap_or_default();
        for (peer, conn) in seats {
            if let Some(conn) = conn {
                out.push(Output::Send {
                    conn,
                    msg: ServerMsg::Removed,
                });
                out.push(Output::Close { conn });
            }
            self.free(now, &meeting, peer, LeaveReason::Removed, out);
        }
    }

    fn close(&mut self, now: Timestamp, meeting: MeetingId, out: &mut Vec<Output>) {
        let Some(room) = self.rooms.remove(&meeting) else {
            return;
        };
        for seat in room.seats.values() {
            out.push(Output::ParticipantLeft {
                call: room.call,
                user: seat.info.user_id,
                at: now,
            });
            if let Some(conn) = seat.conn {
                self.seated.remove(&conn);
                out.push(Output::Send {
                    conn,
                    msg: ServerMsg::Ended,
                });
                out.push(Output::Close { conn });
            }
        }
        out.push(Output::CallEnded {
            call: room.call,
            at: now,
        });
    }
}

#[cfg(test)]
mod tests;
