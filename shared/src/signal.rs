//! The signaling protocol between clients and the rendezvous server: JSON text frames over a
//! WebSocket authenticated with the session token. The server routes `payload`s without reading
//! them: clients sign (and where needed encrypt) what they put there, end to end.

use serde::{Deserialize, Serialize};

use crate::api::MeetingRole;
use crate::identity::PublicIdentity;
use crate::ids::{CallId, UserId};

/// Protocol version, sent by the server in `joined` (2: peers carry their email).
pub const PROTOCOL_VERSION: u32 = 2;
/// Largest `payload`, in bytes.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Largest frame the server reads.
pub const MAX_FRAME: usize = MAX_PAYLOAD + 1024;
/// At most this many codec names in a `join`.
pub const MAX_CODECS: usize = 8;

/// Codec names a client may announce: 1 to 16 of `a-z`, `0-9`, `-`, at most [`MAX_CODECS`].
pub fn codecs_valid(codecs: &[String]) -> bool {
    codecs.len() <= MAX_CODECS
        && codecs.iter().all(|c| {
            (1..=16).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A seat in a room: stable across a reconnect within the grace period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.len() != 16 {
            return Err(serde::de::Error::custom("a peer id is 16 hex digits"));
        }
        u64::from_str_radix(&s, 16)
            .map(PeerId)
            .map_err(serde::de::Error::custom)
    }
}

/// From client to server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// Enter a meeting's room (one room per connection). `resume` reclaims a seat after a
    /// dropped connection, within the grace period.
    Join {
        meeting: String,
        #[serde(default)]
        resume: Option<String>,
        /// The video codecs this client can send and receive, most preferred first, so peers
        /// pick a common one before negotiating.
        #[serde(default)]
        codecs: Vec<String>,
    },
    /// Route an opaque payload to one peer, or to everyone else in the room (`to` absent).
    Send {
        #[serde(default)]
        to: Option<PeerId>,
        payload: String,
    },
    /// Leave the room (the seat is freed at once).
    Leave,
    Ping,
}

/// Someone in the room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerInfo {
    pub peer_id: PeerId,
    pub user_id: UserId,
    /// The account's verified email: the name its key is published under in the key
    /// directory (clients check the bundle against a directory proof for this email).
    pub email: String,
    pub display_name: String,
    pub role: MeetingRole,
    /// The directory's current identity bundle for this user.
    pub identity: PublicIdentity,
    /// The video codecs the client announced when joining.
    #[serde(default)]
    pub codecs: Vec<String>,
}

/// Why a peer left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    /// The connection dropped and was not resumed within the grace period.
    Lost,
    Removed,
}

/// From server to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMsg {
    Joined {
        version: u32,
        meeting_id: crate::ids::MeetingId,
        call_id: CallId,
        peer_id: PeerId,
        /// Present this to resume the seat after a reconnect.
        resume_token: String,
        role: MeetingRole,
        /// Everyone else already in the room.
        peers: Vec<PeerInfo>,
        /// Whether this was a resumed seat.
        resumed: bool,
    },
    PeerJoined {
        peer: Box<PeerInfo>,
    },
    PeerLeft {
        peer_id: PeerId,
        reason: LeaveReason,
    },
    PeerUpdated {
        peer: Box<PeerInfo>,
    },
    Message {
        from: PeerId,
        payload: String,
    },
    Pong,
    /// The host removed you; the room is closed for this connection.
    Removed,
    /// The host ended the meeting.
    Ended,
    /// A refusal: the code (the HTTP API's codes, and a few of the connection's own) and a
    /// message for people.
    Error {
        code: crate::api::ErrorCode,
        message: String,
    },
}

impl ServerMsg {
    pub fn error(code: crate::api::ErrorCode, message: &str) -> ServerMsg {
        ServerMsg::Error {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"send","to":"00000000000000ff","payload":"x"}"#)
                .unwrap();
        assert_eq!(
            m,
            ClientMsg::Send {
                to: Some(PeerId(255)),
                payload: "x".into()
            }
        );
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"join","meeting":"abc-defg-hij"}"#).unwrap();
        assert_eq!(
            m,
            ClientMsg::Join {
                meeting: "abc-defg-hij".into(),
                resume: None,
                codecs: vec![],
            }
        );
        assert!(
            serde_json::from_str::<ClientMsg>(r#"{"type":"join","meeting":"x","admin":true}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<ClientMsg>(r#"{"type":"send","to":"zz","payload":"x"}"#)
                .is_err()
        );
        assert!(codecs_valid(&["vp8".into(), "h264".into()]));
        assert!(!codecs_valid(&["VP8".into()]));
        assert!(!codecs_valid(&["".into()]));
        assert!(!codecs_valid(&vec!["vp8".to_string(); 9]));
        let s = serde_json::to_string(&ServerMsg::PeerLeft {
            peer_id: PeerId(1),
            reason: LeaveReason::Lost,
        })
        .unwrap();
        assert_eq!(
            s,
            r#"{"type":"peer_left","peer_id":"0000000000000001","reason":"lost"}"#
        );
    }
}
