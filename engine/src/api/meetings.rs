//! Meetings, their hosts' actions, history and the ICE servers.

use super::*;

impl Api {
    pub async fn create_meeting(&self, req: &CreateMeeting) -> Result<Meeting> {
        self.post("/v1/meetings", req).await
    }

    pub async fn meeting(&self, code: &str) -> Result<Meeting> {
        self.get(&format!("/v1/meetings/{}", url_escape(code)))
            .await
    }

    /// Host actions (host or co-host; making co-hosts: the host).
    pub async fn lock_meeting(&self, code: &str, locked: bool) -> Result<()> {
        let path = format!("/v1/meetings/{}/lock", url_escape(code));
        self.post_empty(&path, &assent_shared::api::LockMeeting { locked })
            .await
    }

    pub async fn remove_member(&self, code: &str, user: assent_shared::ids::UserId) -> Result<()> {
        let path = format!("/v1/meetings/{}/remove", url_escape(code));
        self.post_empty(&path, &assent_shared::api::MemberRef { user_id: user })
            .await
    }

    pub async fn set_role(
        &self,
        code: &str,
        user: assent_shared::ids::UserId,
        role: assent_shared::api::MeetingRole,
    ) -> Result<()> {
        let path = format!("/v1/meetings/{}/role", url_escape(code));
        self.post_empty(
            &path,
            &assent_shared::api::SetRole {
                user_id: user,
                role,
            },
        )
        .await
    }

    pub async fn end_meeting(&self, code: &str) -> Result<()> {
        let path = format!("/v1/meetings/{}/end", url_escape(code));
        self.send::<(), serde_json::Value>(Method::POST, &path, None)
            .await
            .map(|_| ())
    }

    /// The admission check before taking a seat (ended, locked, removed).
    pub async fn join_meeting(&self, code: &str) -> Result<Meeting> {
        self.post(
            &format!("/v1/meetings/{}/join", url_escape(code)),
            &serde_json::json!({}),
        )
        .await
    }

    /// Scheduled meetings still to come that the caller hosts or is invited to.
    pub async fn upcoming(&self) -> Result<Vec<Meeting>> {
        self.get("/v1/meetings/upcoming").await
    }

    /// The caller's calls, newest first.
    pub async fn history(&self) -> Result<Vec<assent_shared::api::CallHistory>> {
        self.get("/v1/history").await
    }

    pub async fn personal_room(&self) -> Result<Meeting> {
        self.get("/v1/meetings/personal").await
    }

    pub async fn ice_servers(&self) -> Result<IceServers> {
        self.get("/v1/ice-servers").await
    }

    // ---- Recordings ----
}
