//! An in-process server (the real router over a real SQLite file), a real SMTP listener, a
//! manual clock, and a client that does what the desktop app does: derive keys from the
//! password, seal the key backup, sign up, verify, sign in.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use assent_e2e::smtp::SmtpSink;
use assent_rendezvous::clock::ManualClock;
use assent_rendezvous::config::Config;
use assent_rendezvous::{AppState, build_state, router};
use assent_shared::SecretIdentity;
use assent_shared::Timestamp;
use assent_shared::api::{AuthSecret, B64, SignupRequest};
use assent_shared::backup::{KdfParams, KeyBackup, PasswordKeys, RecoveryCode, Salt};
use assent_shared::transparency::KeyPossession;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const T0: Timestamp = Timestamp(1_795_266_300_000);

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub smtp: SmtpSink,
    pub clock: ManualClock,
    pub state: AppState,
    pub app: Router,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server with its configuration adjusted by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start().await;
        let clock = ManualClock::at(T0);
        let (state, app) = Self::build(dir.path(), &smtp, &clock, configure);
        TestServer {
            dir,
            smtp,
            clock,
            state,
            app,
        }
    }

    /// A server whose recordings live in a real S3 server.
    pub async fn start_s3(garage: &assent_e2e::garage::Garage) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start().await;
        let clock = ManualClock::at(T0);
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.mail.smtp_url = Some(smtp.url());
        // Tests publish key directory epochs themselves (`kt.publish_pending`), when they mean to.
        config.directory.epoch_interval_ms = 3_600_000;
        let env: std::collections::BTreeMap<&str, String> = garage.env().into_iter().collect();
        config.storage.s3_endpoint = Some(env["ASSENT_S3_ENDPOINT"].clone());
        config.storage.s3_region = Some(env["ASSENT_S3_REGION"].clone());
        config.storage.s3_bucket = Some(env["ASSENT_S3_BUCKET"].clone());
        config.storage.s3_access_key = Some(env["ASSENT_S3_ACCESS_KEY"].clone());
        config.storage.s3_secret_key = Some(env["ASSENT_S3_SECRET_KEY"].clone());
        let state = build_state(config, Arc::new(clock.clone())).unwrap();
        let app = router(state.clone());
        TestServer {
            dir,
            smtp,
            clock,
            state,
            app,
        }
    }

    fn build(
        dir: &std::path::Path,
        smtp: &SmtpSink,
        clock: &ManualClock,
        configure: impl FnOnce(&mut Config),
    ) -> (AppState, Router) {
        let mut config = Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        };
        config.mail.smtp_url = Some(smtp.url());
        // Tests publish key directory epochs themselves (`kt.publish_pending`), when they mean to.
        config.directory.epoch_interval_ms = 3_600_000;
        configure(&mut config);
        let state = build_state(config, Arc::new(clock.clone())).unwrap();
        let app = router(state.clone());
        (state, app)
    }

    /// Restart with TURN configured and the given clock.
    pub fn set_turn(
        &mut self,
        turn_urls: Vec<String>,
        secret: &str,
        clock: Arc<dyn assent_rendezvous::clock::Clock>,
    ) {
        let mut config = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        config.mail.smtp_url = Some(self.smtp.url());
        config.directory.epoch_interval_ms = 3_600_000;
        config.turn.turn_urls = turn_urls;
        config.turn.secret = Some(secret.into());
        config.turn.stun_urls = vec![];
        let state = build_state(config, clock).unwrap();
        self.app = router(state.clone());
        self.state = state;
    }

    /// Restart believing `X-Forwarded-For` from these reverse proxies.
    pub fn trust_proxies(&mut self, trusted: Vec<std::net::IpAddr>) {
        let mut config = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        config.mail.smtp_url = Some(self.smtp.url());
        config.directory.epoch_interval_ms = 3_600_000;
        config.proxy.trusted = trusted;
        let state = build_state(config, Arc::new(self.clock.clone())).unwrap();
        self.app = router(state.clone());
        self.state = state;
    }

    /// A JSON request from TCP peer `ip` carrying `X-Forwarded-For: forwarded`.
    pub async fn call_forwarded(
        &self,
        method: Method,
        path: &str,
        body: Value,
        ip: [u8; 4],
        forwarded: &str,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Stop and start the server over the same data directory.
    pub fn restart(&mut self) {
        let (state, app) = Self::build(self.dir.path(), &self.smtp, &self.clock, |_| {});
        self.state = state;
        self.app = app;
    }

    /// A request with a raw body, from `ip`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
        ip: [u8; 4],
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let mut req = b.body(Body::from(body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_from(method, path, token, body, [127, 0, 0, 1])
            .await
    }

    pub async fn call_from(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        ip: [u8; 4],
    ) -> (StatusCode, Value) {
        match body {
            Some(v) => {
                self.raw(
                    method,
                    path,
                    token,
                    Some("application/json"),
                    serde_json::to_vec(&v).unwrap(),
                    ip,
                )
                .await
            }
            None => self.raw(method, path, token, None, vec![], ip).await,
        }
    }

    pub async fn mail_code(&self, to: &str, nth: usize) -> String {
        self.smtp
            .wait_for(to, nth, Duration::from_secs(10))
            .await
            .code()
            .expect("a code in the mail")
    }

    pub async fn user_count(&self) -> i64 {
        self.state
            .db
            .run(|c| -> Result<i64, assent_rendezvous::db::DbError> {
                Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
            })
            .await
            .unwrap()
    }
}

/// What a client holds for one account.
pub struct Client {
    pub email: String,
    pub password: String,
    pub identity: SecretIdentity,
    pub salt: Salt,
    pub keys: PasswordKeys,
    pub recovery: RecoveryCode,
    pub backup: KeyBackup,
    pub token: Option<String>,
}

pub const KDF: KdfParams = KdfParams::OWASP_MIN;

pub fn auth(keys: &PasswordKeys) -> Value {
    serde_json::to_value(AuthSecret(*keys.auth_secret())).unwrap()
}

impl Client {
    pub fn new(email: &str, password: &str) -> Client {
        let identity = SecretIdentity::generate(T0);
        let salt = Salt::random();
        let keys = PasswordKeys::derive(password, &salt, KDF).unwrap();
        let recovery = RecoveryCode::generate();
        let backup = KeyBackup::create(&identity, &keys, KDF, salt, &recovery);
        Client {
            email: email.into(),
            password: password.into(),
            identity,
            salt,
            keys,
            recovery,
            backup,
            token: None,
        }
    }

    /// A proof of possession of `identity` for this account on `s`.
    pub fn possession(&self, identity: &SecretIdentity, s: &TestServer) -> KeyPossession {
        KeyPossession::prove(
            identity,
            &self.email,
            &s.state.kt.keys().signing,
            s.state.now(),
        )
    }

    /// The body of `PUT /v1/me/identity` publishing `identity`.
    pub fn publish_body(&self, identity: &SecretIdentity, s: &TestServer) -> Value {
        json!({"identity": identity.public(), "possession": self.possession(identity, s)})
    }

    pub fn signup_body(&self, s: &TestServer) -> Value {
        serde_json::to_value(SignupRequest {
            email: self.email.clone(),
            display_name: self.email.split('@').next().unwrap().into(),
            auth_secret: AuthSecret(*self.keys.auth_secret()),
            salt: self.salt,
            kdf: KDF,
            key_backup: B64(self.backup.to_bytes()),
            identity: self.identity.public().clone(),
            possession: self.possession(&self.identity, s),
            recovery_proof: AuthSecret(self.backup.recovery_proof(&self.keys).unwrap()),
        })
        .unwrap()
    }

    pub fn signin_body(&self) -> Value {
        json!({"email": self.email, "auth_secret": auth(&self.keys), "device": "test laptop"})
    }

    /// Sign up, read the code from the mail, verify, sign in.
    pub async fn register(email: &str, s: &TestServer) -> Client {
        let mut c = Client::new(email, "a long enough passphrase");
        let (st, v) = s
            .call(Method::POST, "/v1/accounts", None, Some(c.signup_body(s)))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let code = s.mail_code(email, 0).await;
        let (st, v) = s
            .call(
                Method::POST,
                "/v1/accounts/verify",
                None,
                Some(json!({"email": email, "code": code})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
        c.signin(s).await;
        c
    }

    pub async fn signin(&mut self, s: &TestServer) {
        let (st, v) = s
            .call(Method::POST, "/v1/sessions", None, Some(self.signin_body()))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        self.token = Some(v["token"].as_str().unwrap().to_string());
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// The error code of an error response.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A WebSocket signaling client for tests.
pub struct Ws {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl TestServer {
    /// Serve the router on a free loopback port (for WebSocket tests); the task ends with the test.
    pub async fn listen(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = self
            .app
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    }
}

impl Ws {
    pub async fn connect(
        addr: SocketAddr,
        token: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{addr}/v1/signal")
            .into_client_request()
            .unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Ws { stream })
    }

    pub async fn send(&mut self, v: Value) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(
                v.to_string().into(),
            ))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, m: tokio_tungstenite::tungstenite::Message) {
        use futures_util::SinkExt;
        self.stream.send(m).await.unwrap();
    }

    /// The next text frame as JSON (fails the test after 10 s without one).
    pub async fn recv(&mut self) -> Value {
        use futures_util::StreamExt;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("no frame within 10 s");
            match next {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                    return serde_json::from_str(&t).unwrap();
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                    return json!({"type": "closed", "code": f.map(|f| u16::from(f.code))});
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return json!({"type": "closed", "error": e.to_string()}),
                None => return json!({"type": "closed"}),
            }
        }
    }

    /// Receive until a frame of `kind` arrives (others are returned too, for inspection).
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == kind {
                return v;
            }
            assert_ne!(v["type"], "closed", "closed while waiting for {kind}: {v}");
        }
    }

    pub async fn join(&mut self, code: &str) -> Value {
        self.send(json!({"type": "join", "meeting": code})).await;
        self.until("joined").await
    }
}
