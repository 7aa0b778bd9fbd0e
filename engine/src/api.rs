//! The rendezvous server's HTTP API, from the client side. Bodies are the shared wire types;
//! errors keep the server's stable code so the UI can say precisely what went wrong.

use std::time::Duration;

use assent_shared::api::{
    ChangePassword, Confirm, ErrorCode, SessionInfo, TotpCode, TotpEnrolment,
};
use assent_shared::api::{
    CompleteUpload, CreateMeeting, DirectoryEntry, Download, EmailCode, EmailOnly, ErrorBody,
    IceServers, KeyBackupBody, Me, Meeting, PartRequest, PartTag, PartUrl, PartUrls, Prelogin,
    PublishIdentity, RecordingInfo, RecordingList, RecordingObject, RecoveryComplete,
    RecoveryTicket, RecoveryVerify, SigninRequest, SigninResponse, SignupRequest, SignupResponse,
    StoredPart, StoredParts, UploadStarted,
};
use assent_shared::ids::RecordingId;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// A failed API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error body.
    #[error("{message} ({code})")]
    Server {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<u64>,
    },
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ApiError {
    /// The server's error code, if it answered with one.
    /// The server's error code (`Unknown` for one this version does not know, or one the
    /// object storage's refusal was given).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Server { code, .. } => Some(ErrorCode::parse(code)),
            _ => None,
        }
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An API client for one server, optionally signed in.
/// How many times a request answered `busy` (503) is tried again before the error is shown.
const BUSY_RETRIES: u32 = 3;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<std::sync::Arc<Zeroizing<String>>>,
    storage: StoragePin,
}

/// Where this client sends and fetches recording objects: the server's own origin, or the one
/// storage origin pinned the first time the server named one (per profile and server; kept by
/// `keep`). A server that later names another host is refused: it cannot send the client to
/// fetch from, or upload to, hosts of its choosing.
#[derive(Clone, Default)]
pub struct StoragePin {
    origin: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    keep: Option<KeepPin>,
}

/// How a newly pinned storage origin is kept (in the profile's store).
type KeepPin = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

impl StoragePin {
    /// A pin as the profile kept it (`None`: nothing pinned yet), and how to keep a new one.
    pub fn new(pinned: Option<String>, keep: impl Fn(&str) + Send + Sync + 'static) -> Self {
        StoragePin {
            origin: std::sync::Arc::new(std::sync::Mutex::new(pinned)),
            keep: Some(std::sync::Arc::new(keep)),
        }
    }

    pub fn pinned(&self) -> Option<String> {
        self.origin.lock().ok().and_then(|o| o.clone())
    }

    /// May `url` (already absolute) be used? Pins its origin if nothing is pinned yet.
    fn check(&self, server: &str, url: &reqwest::Url) -> Result<()> {
        let origin = url.origin().ascii_serialization();
        if reqwest::Url::parse(server).is_ok_and(|s| s.origin() == url.origin()) {
            return Ok(());
        }
        let mut pinned = self
            .origin
            .lock()
            .map_err(|_| ApiError::Protocol("storage pin poisoned".into()))?;
        match pinned.as_deref() {
            Some(p) if p == origin => Ok(()),
            Some(p) => Err(ApiError::Protocol(format!(
                "refusing {origin}: this server's recordings have always been stored at {p},                  and it now names another storage host"
            ))),
            None => {
                if let Some(keep) = &self.keep {
                    keep(&origin);
                }
                *pinned = Some(origin);
                Ok(())
            }
        }
    }
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Api({}, signed in: {})", self.base, self.token.is_some())
    }
}

impl Api {
    /// `server` is the base URL, e.g. `http://127.0.0.1:7800`.
    pub fn new(server: &str) -> Result<Api> {
        let base = server.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base)
            .map_err(|_| ApiError::Protocol(format!("not a server URL: {base}")))?;
        match url.scheme() {
            "https" => {}
            // Without TLS, anyone on the path reads the session token: only this machine.
            "http" if is_loopback(&url) || allowed_in_clear(&url) => {}
            "http" => {
                return Err(ApiError::Protocol(format!(
                    "refusing {base}: without https:// anyone on the network could read and \
                     change what this device sends (plain http:// is allowed only for this \
                     machine, e.g. http://127.0.0.1)"
                )));
            }
            _ => {
                return Err(ApiError::Protocol(format!(
                    "the server URL must start with https:// (or http:// for this machine): {base}"
                )));
            }
        }
        // No redirects: a server or storage could otherwise send the client anywhere.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Ok(Api {
            http,
            base,
            token: None,
            storage: StoragePin::default(),
        })
    }

    /// The server's origin for a stored key derivation salt ([`assent_shared::backup::Salt::derived`]).
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// Use (and keep) this profile's storage pin for the server.
    pub fn with_storage_pin(mut self, pin: StoragePin) -> Api {
        self.storage = pin;
        self
    }

    pub fn with_token(mut self, token: Zeroizing<String>) -> Api {
        self.token = Some(std::sync::Arc::new(token));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().map(|t| t.as_str())
    }

    /// The WebSocket URL of the signaling endpoint.
    pub fn signal_url(&self) -> String {
        let rest = self
            .base
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| {
                self.base
                    .strip_prefix("http://")
                    .map(|r| format!("ws://{r}"))
            })
            .unwrap_or_default();
        format!("{rest}/v1/signal")
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>> {
        let mut attempt = 0;
        loop {
            let mut req = self.request(method.clone(), path);
            if let Some(b) = body {
                req = req.json(b);
            }
            match self.exchange(req).await {
                // The server's password hashing is full: it did nothing with the request.
                // Try again after the pause it asks for (a little more each time, with jitter
                // so that many clients do not come back at once).
                Err(ApiError::Server {
                    status: 503,
                    code,
                    retry_after,
                    ..
                }) if ErrorCode::parse(&code) == ErrorCode::Busy && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    let secs = retry_after.unwrap_or(1).clamp(1, 10) * u64::from(attempt);
                    let jitter = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.subsec_millis() % 500)
                            .unwrap_or(0),
                    );
                    tokio::time::sleep(Duration::from_millis(secs * 1000 + jitter)).await;
                }
                other => return other,
            }
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = self.token() {
            req = req.bearer_auth(t);
        }
        req
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<Option<T>> {
        let resp = req.send().await.map_err(|e| {
            // reqwest's message names the URL, never the body or the token.
            ApiError::Network(e.without_url().to_string())
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => ApiError::Server {
                    status: status.as_u16(),
                    code: b.error.code,
                    message: b.error.message,
                    retry_after: b.error.retry_after,
                },
                Err(_) => ApiError::Protocol(format!("HTTP {status} without an error body")),
            });
        }
        if status == StatusCode::NO_CONTENT || status == StatusCode::ACCEPTED || bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ApiError::Protocol(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send::<(), T>(Method::GET, path, None)
            .await?
            .ok_or_else(|| ApiError::Protocol(format!("empty answer to GET {path}")))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.send::<B, T>(Method::POST, path, Some(body))
            .await?
            .ok_or_else(|| ApiError::Protocol(format!("empty answer to POST {path}")))
    }

    async fn post_empty<B: Serialize>(&self, path: &str, body: &B) -> Result<()> {
        self.send::<B, serde_json::Value>(Method::POST, path, Some(body))
            .await
            .map(|_| ())
    }

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

    /// Register a recording with its signed manifest (again: harmless).
    pub async fn register_recording(&self, manifest: Vec<u8>) -> Result<RecordingInfo> {
        let req = self
            .request(Method::POST, "/v1/recordings")
            .header("content-type", "application/octet-stream")
            .body(manifest);
        self.exchange(req)
            .await?
            .ok_or_else(|| ApiError::Protocol("empty answer to a registration".into()))
    }

    /// A newer manifest of a registered recording.
    pub async fn put_manifest(&self, id: &RecordingId, manifest: Vec<u8>) -> Result<()> {
        let req = self
            .request(Method::PUT, &format!("/v1/recordings/{id}/manifest"))
            .header("content-type", "application/octet-stream")
            .body(manifest);
        self.exchange::<serde_json::Value>(req).await.map(|_| ())
    }

    pub async fn recordings(&self) -> Result<Vec<RecordingInfo>> {
        Ok(self
            .get::<RecordingList>("/v1/recordings")
            .await?
            .recordings)
    }

    /// Every recording's metadata (organisation admins).
    pub async fn all_recordings(&self) -> Result<Vec<RecordingInfo>> {
        Ok(self
            .get::<RecordingList>("/v1/recordings?all=true")
            .await?
            .recordings)
    }

    /// One recording, with its signed manifest when the caller is a participant.
    pub async fn recording(&self, id: &RecordingId) -> Result<(RecordingInfo, Option<Vec<u8>>)> {
        let mut v: serde_json::Value = self.get(&format!("/v1/recordings/{id}")).await?;
        let manifest = match v.as_object_mut().and_then(|o| o.remove("manifest")) {
            Some(serde_json::Value::String(b)) => Some(
                data_encoding::BASE64
                    .decode(b.as_bytes())
                    .map_err(|e| ApiError::Protocol(format!("manifest: {e}")))?,
            ),
            _ => None,
        };
        let info = serde_json::from_value(v).map_err(|e| ApiError::Protocol(e.to_string()))?;
        Ok((info, manifest))
    }

    /// Complete the cloud copy; `interrupted` for a recording whose recorder crashed (its
    /// manifest has no ending).
    pub async fn complete_recording(
        &self,
        id: &RecordingId,
        interrupted: bool,
    ) -> Result<RecordingInfo> {
        let q = if interrupted { "?interrupted=true" } else { "" };
        self.post(
            &format!("/v1/recordings/{id}/complete{q}"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Set a recording's tags (one set, shared by its participants).
    pub async fn set_recording_tags(&self, id: &RecordingId, tags: &[String]) -> Result<()> {
        self.send::<_, serde_json::Value>(
            Method::PUT,
            &format!("/v1/recordings/{id}/tags"),
            Some(&assent_shared::api::SetTags {
                tags: tags.to_vec(),
            }),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_recording(&self, id: &RecordingId) -> Result<()> {
        self.send::<(), serde_json::Value>(Method::DELETE, &format!("/v1/recordings/{id}"), None)
            .await
            .map(|_| ())
    }

    pub async fn start_upload(&self, id: &RecordingId, name: &str) -> Result<UploadStarted> {
        self.post(
            &format!("/v1/recordings/{id}/objects/{}/uploads", url_escape(name)),
            &serde_json::json!({}),
        )
        .await
    }

    fn upload_path(id: &RecordingId, name: &str, upload: &str) -> String {
        format!(
            "/v1/recordings/{id}/objects/{}/uploads/{}",
            url_escape(name),
            url_escape(upload)
        )
    }

    pub async fn part_urls(
        &self,
        id: &RecordingId,
        name: &str,
        upload: &str,
        parts: Vec<u16>,
    ) -> Result<Vec<PartUrl>> {
        let path = format!("{}/parts", Self::upload_path(id, name, upload));
        Ok(self
            .post::<_, PartUrls>(&path, &PartRequest { parts })
            .await?
            .urls)
    }

    pub async fn stored_parts(
        &self,
        id: &RecordingId,
        name: &str,
        upload: &str,
    ) -> Result<Vec<StoredPart>> {
        let path = format!("{}/parts", Self::upload_path(id, name, upload));
        Ok(self.get::<StoredParts>(&path).await?.parts)
    }

    pub async fn complete_upload(
        &self,
        id: &RecordingId,
        name: &str,
        upload: &str,
        parts: Vec<PartTag>,
    ) -> Result<RecordingObject> {
        let path = format!("{}/complete", Self::upload_path(id, name, upload));
        self.post(&path, &CompleteUpload { parts }).await
    }

    pub async fn download_url(&self, id: &RecordingId, name: &str) -> Result<Download> {
        self.get(&format!("/v1/recordings/{id}/objects/{}", url_escape(name)))
            .await
    }

    /// A presigned URL made absolute (the embedded storage's are relative to the server).
    fn presigned(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    /// A presigned URL made absolute and checked: https (or this machine), and the server's own
    /// origin or its pinned storage.
    fn storage_url(&self, url: &str) -> Result<String> {
        let full = self.presigned(url);
        let u = fetchable(&full)?;
        self.storage.check(&self.base, &u)?;
        Ok(full)
    }

    /// PUT bytes to a presigned URL; the object storage's ETag.
    pub async fn put_presigned(&self, url: &str, bytes: Vec<u8>) -> Result<String> {
        let full = self.storage_url(url)?;
        let resp = self
            .http
            .put(full)
            .timeout(Duration::from_secs(300))
            .body(bytes)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !status.is_success() {
            return Err(storage_refusal(status));
        }
        etag.ok_or_else(|| ApiError::Protocol("the storage answered without an ETag".into()))
    }

    /// GET a presigned URL, reading at most `max_bytes` (the size the signed manifest
    /// promises): a server or storage that sends more is cut off, not buffered.
    pub async fn get_presigned(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let full = self.storage_url(url)?;
        let mut resp = self
            .http
            .get(&full)
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(storage_refusal(status));
        }
        let too_much = || {
            ApiError::Protocol(format!(
                "the storage sent more than the {max_bytes} bytes the signed manifest promises"
            ))
        };
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_much());
        }
        let mut out = Vec::with_capacity(max_bytes.min(64 << 20) as usize);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?
        {
            if (out.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_much());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// May the client fetch this (presigned) URL? The same rule as for the server: https, or plain
/// http only to this machine or an allowed private host. A server cannot send the client to
/// fetch from other machines on its network in clear.
fn fetchable(url: &str) -> Result<reqwest::Url> {
    let u = reqwest::Url::parse(url)
        .map_err(|_| ApiError::Protocol("the server gave a malformed storage URL".into()))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if is_loopback(&u) || allowed_in_clear(&u) => Ok(u),
        _ => Err(ApiError::Protocol(format!(
            "refusing to fetch from {}: storage must be https:// (or on this machine)",
            u.host_str().unwrap_or("?")
        ))),
    }
}

/// A refusal from the object storage (its body is S3's XML, not ours).
fn storage_refusal(status: StatusCode) -> ApiError {
    ApiError::Server {
        status: status.as_u16(),
        code: if status == StatusCode::FORBIDDEN {
            ErrorCode::InvalidSignature.as_str().into()
        } else if status.is_server_error() {
            ErrorCode::StorageUnavailable.as_str().into()
        } else {
            "storage_refused".into()
        },
        message: format!("the recording storage answered HTTP {status}"),
        retry_after: None,
    }
}

/// Percent-encode a query or path component.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A host named in `ASSENT_INSECURE_HTTP_HOSTS` (comma-separated): an explicit exception for
/// a private network one controls end to end (the test suite's network namespaces).
fn allowed_in_clear(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    std::env::var("ASSENT_INSECURE_HTTP_HOSTS").is_ok_and(|v| {
        v.split(',')
            .any(|h| !h.trim().is_empty() && h.trim().eq_ignore_ascii_case(host))
    })
}

/// Is the URL's host this machine (127.0.0.0/8, ::1 or `localhost`)?
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers `busy` to the first `busy` requests, then `{}`; the requests seen.
    async fn busy_then_ok(busy: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let _ = tcp.read(&mut buf).await;
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (status, body) = if n < busy {
                    (
                        "503 Service Unavailable",
                        r#"{"error":{"code":"busy","message":"the server is busy; try again in a moment","retry_after":1}}"#,
                    )
                } else {
                    ("200 OK", r#"{"status":"ok"}"#)
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
            }
        });
        (base, seen)
    }

    /// `busy` is tried again (the server did nothing with the request); after a few tries the
    /// error is shown.
    #[tokio::test]
    async fn busy_is_tried_again_then_shown() {
        use std::sync::atomic::Ordering;
        let (base, seen) = busy_then_ok(2).await;
        let api = Api::new(&base).unwrap();
        let v: serde_json::Value = api.get("/v1/health").await.unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(seen.load(Ordering::SeqCst), 3);

        let (base, seen) = busy_then_ok(100).await;
        let api = Api::new(&base).unwrap();
        let e = api
            .get::<serde_json::Value>("/v1/health")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Busy));
        assert_eq!(seen.load(Ordering::SeqCst), 1 + BUSY_RETRIES as usize);
    }

    #[test]
    fn urls() {
        let api = Api::new("http://127.0.0.1:7800/").unwrap();
        assert_eq!(api.signal_url(), "ws://127.0.0.1:7800/v1/signal");
        let api = Api::new("https://assent.example").unwrap();
        assert_eq!(api.signal_url(), "wss://assent.example/v1/signal");
        assert!(Api::new("ftp://x").is_err());
        // Plain http only to this machine: a session token must not cross a network in clear.
        for ok in [
            "http://localhost:7800",
            "http://127.0.0.2",
            "http://[::1]:80",
        ] {
            assert!(Api::new(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://assent.example",
            "http://10.0.0.1:7800",
            "http://[fe80::1]",
        ] {
            let e = Api::new(refused).unwrap_err().to_string();
            assert!(
                e.contains("refusing") && e.contains("https://"),
                "{refused}: {e}"
            );
        }
        assert_eq!(url_escape("a+b@c.d"), "a%2Bb%40c.d");
    }
}
