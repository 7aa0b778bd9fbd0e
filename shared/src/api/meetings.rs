//! Meetings, their hosts and history, administration and the ICE servers.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// What kind of meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingKind {
    /// Starts now.
    Instant,
    /// Has a start time, a duration and invitees (who get an email with a calendar file).
    Scheduled,
    /// The host's permanent room with a fixed code.
    Personal,
}

/// A role in a meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingRole {
    Participant,
    Cohost,
    Host,
}

/// `POST /v1/meetings`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMeeting {
    pub kind: MeetingKind,
    pub title: String,
    /// Scheduled meetings: start (Unix ms) and duration in minutes.
    #[serde(default)]
    pub starts_at: Option<u64>,
    #[serde(default)]
    pub duration_min: Option<u32>,
    /// Scheduled meetings: email addresses to invite.
    #[serde(default)]
    pub invitees: Vec<String>,
}

/// A meeting as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meeting {
    pub id: crate::ids::MeetingId,
    /// The join code, e.g. `abc-defg-hij`; also in `assent://join/<code>` links.
    pub code: String,
    pub kind: MeetingKind,
    pub title: String,
    pub host: UserId,
    pub host_name: String,
    pub starts_at: Option<u64>,
    pub duration_min: Option<u32>,
    pub locked: bool,
    pub ended: bool,
    /// The caller's role, if they are a member.
    pub role: Option<MeetingRole>,
}

/// `POST /v1/meetings/{code}/lock`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockMeeting {
    pub locked: bool,
}

/// `POST /v1/meetings/{code}/remove`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    pub user_id: UserId,
}

/// `POST /v1/meetings/{code}/role`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    pub user_id: UserId,
    pub role: MeetingRole,
}

/// One participant of a past call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParticipant {
    pub user_id: UserId,
    pub display_name: String,
    pub joined_at: u64,
    pub left_at: Option<u64>,
}

/// One entry of `GET /v1/history`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallHistory {
    pub call_id: String,
    pub meeting_code: String,
    pub title: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    pub duration_ms: Option<u64>,
    pub participants: Vec<HistoryParticipant>,
}

/// One entry of `GET /v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUser {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: super::AccountRole,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: u64,
}

/// `POST /v1/admin/users/{id}/disabled`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDisabled {
    pub disabled: bool,
}

/// One entry of `GET /v1/ice-servers`, in the WebRTC `RTCIceServer` shape.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IceServer({:?})", self.urls)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working (Unix ms).
    pub expires_at: u64,
}
