//! Accounts, sessions, two-factor sign-in, recovery and the key directory.

use super::*;

impl Api {
    pub async fn prelogin(&self, email: &str) -> Result<Prelogin> {
        let q: String = url_escape(email);
        self.get(&format!("/v1/prelogin?email={q}")).await
    }

    pub async fn signup(&self, req: &SignupRequest) -> Result<SignupResponse> {
        self.post("/v1/accounts", req).await
    }

    pub async fn verify_email(&self, email: &str, code: &str) -> Result<()> {
        let body = EmailCode {
            email: email.into(),
            code: code.into(),
        };
        self.post_empty("/v1/accounts/verify", &body).await
    }

    pub async fn resend_code(&self, email: &str) -> Result<()> {
        let body = EmailOnly {
            email: email.into(),
        };
        self.post_empty("/v1/accounts/verify/resend", &body).await
    }

    /// Mail a recovery code to a verified account (the answer is the same for any address).
    pub async fn start_recovery(&self, email: &str) -> Result<()> {
        let body = EmailOnly {
            email: email.into(),
        };
        self.post_empty("/v1/recovery", &body).await
    }

    /// The mailed code (and the TOTP code) for a ticket and the backup's recovery half.
    pub async fn verify_recovery(&self, req: &RecoveryVerify) -> Result<RecoveryTicket> {
        self.post("/v1/recovery/verify", req).await
    }

    /// The recovery proof and the new password: a session on this device.
    pub async fn complete_recovery(&self, req: &RecoveryComplete) -> Result<SigninResponse> {
        self.post("/v1/recovery/complete", req).await
    }

    pub async fn signin(&self, req: &SigninRequest) -> Result<SigninResponse> {
        self.post("/v1/sessions", req).await
    }

    pub async fn signout(&self) -> Result<()> {
        self.send::<(), serde_json::Value>(Method::DELETE, "/v1/sessions/current", None)
            .await
            .map(|_| ())
    }

    pub async fn me(&self) -> Result<Me> {
        self.get("/v1/me").await
    }

    pub async fn key_backup(&self) -> Result<KeyBackupBody> {
        self.get("/v1/me/key-backup").await
    }

    // Account settings.

    /// This account's sessions (devices signed in).
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        self.get("/v1/sessions").await
    }

    /// Sign one session out (another device).
    pub async fn revoke_session(&self, id: &str) -> Result<()> {
        let path = format!("/v1/sessions/{}", url_escape(id));
        self.send::<(), serde_json::Value>(Method::DELETE, &path, None)
            .await
            .map(|_| ())
    }

    pub async fn change_password(&self, req: &ChangePassword) -> Result<()> {
        self.send::<_, serde_json::Value>(Method::PUT, "/v1/me/password", Some(req))
            .await
            .map(|_| ())
    }

    /// Start two-factor enrolment: a new secret, not active until confirmed with a code.
    pub async fn totp_enrol(&self) -> Result<TotpEnrolment> {
        self.send::<(), TotpEnrolment>(Method::POST, "/v1/me/totp", None)
            .await?
            .ok_or_else(|| ApiError::Protocol("empty answer to POST /v1/me/totp".into()))
    }

    pub async fn totp_confirm(&self, code: &str) -> Result<()> {
        let body = TotpCode { code: code.into() };
        self.post_empty("/v1/me/totp/confirm", &body).await
    }

    pub async fn totp_disable(&self, code: &str) -> Result<()> {
        let body = TotpCode { code: code.into() };
        self.send::<_, serde_json::Value>(Method::DELETE, "/v1/me/totp", Some(&body))
            .await
            .map(|_| ())
    }

    /// Delete the account (the server checks the authentication secret).
    pub async fn delete_account(&self, req: &Confirm) -> Result<()> {
        self.send::<_, serde_json::Value>(Method::DELETE, "/v1/me", Some(req))
            .await
            .map(|_| ())
    }

    pub async fn publish_identity(&self, body: &PublishIdentity) -> Result<()> {
        self.send::<_, serde_json::Value>(Method::PUT, "/v1/me/identity", Some(body))
            .await
            .map(|_| ())
    }

    pub async fn directory(&self, user: &assent_shared::ids::UserId) -> Result<DirectoryEntry> {
        self.get(&format!("/v1/directory/{user}")).await
    }

    // The key directory (key transparency).

    /// The directory's public keys (pinned on first contact).
    pub async fn kt_keys(&self) -> Result<assent_shared::transparency::DirectoryKeys> {
        self.get("/v1/kt/keys").await
    }

    /// The newest epoch's root, freshly signed.
    pub async fn kt_head(&self) -> Result<assent_shared::transparency::SignedRoot> {
        self.get("/v1/kt/head").await
    }

    /// An account's current key with its lookup proof.
    pub async fn kt_lookup(&self, email: &str) -> Result<assent_shared::api::KtLookup> {
        self.get(&format!("/v1/kt/lookup?email={}", url_escape(email)))
            .await
    }

    /// This account's own key history with its proof.
    pub async fn kt_history(&self) -> Result<assent_shared::api::KtHistory> {
        self.get("/v1/kt/history").await
    }

    /// The append-only proof from epoch `start` to `start + 1`.
    pub async fn kt_audit(&self, start: u64) -> Result<assent_shared::api::KtAudit> {
        self.get(&format!("/v1/kt/audit?start={start}")).await
    }

    /// Each epoch's signed root from `from` (at most `limit`).
    pub async fn kt_roots(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<assent_shared::transparency::SignedRoot>> {
        let r: assent_shared::api::KtRoots = self
            .get(&format!("/v1/kt/roots?from={from}&limit={limit}"))
            .await?;
        Ok(r.roots)
    }
}
