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

mod accounts;
mod meetings;
mod recordings;
#[cfg(test)]
mod tests;

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

/// Percent-encode a URI component (a query or path part, a TURN user name or credential):
/// every byte but RFC 3986's unreserved characters.
pub(crate) fn url_escape(s: &str) -> String {
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
