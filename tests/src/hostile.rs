//! A hostile server: an HTTP and WebSocket proxy that stands between clients and the real
//! rendezvous server and can rewrite anything the server says, to clients pointed at it (their
//! profile's server URL is the proxy's). It can also hold the server's own directory signing
//! key ([`server_directory_key`]): a malicious operator has it, and can sign anything with it.
//!
//! What it does is set by the test at any moment: rewrite HTTP answers by path
//! ([`HostileServer::on_http`]), rewrite or drop signaling frames from the server
//! ([`HostileServer::on_frames`]), or inject frames of its own ([`HostileServer::inject`]).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Rewrites an HTTP answer: `(path with query, status, body)` → the status and body to send
/// instead, or `None` to pass it on.
pub type HttpRewrite = Box<dyn Fn(&str, u16, &[u8]) -> Option<(u16, Vec<u8>)> + Send + Sync>;
/// Rewrites one signaling frame from the server: the frames to deliver instead (empty drops it).
pub type FrameRewrite = Box<dyn Fn(&str) -> Vec<String> + Send + Sync>;

#[derive(Default)]
struct Hooks {
    http: Option<HttpRewrite>,
    frames: Option<FrameRewrite>,
    clients: Vec<mpsc::UnboundedSender<String>>,
    /// Paths requested through the proxy, in order.
    requested: Vec<String>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    hooks: Arc<Mutex<Hooks>>,
}

pub struct HostileServer {
    /// The proxy's base URL: what the attacked clients believe is the server.
    pub base: String,
    hooks: Arc<Mutex<Hooks>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileServer {
    /// Proxy to the real server at `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> HostileServer {
        let hooks: Arc<Mutex<Hooks>> = Arc::default();
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            hooks: hooks.clone(),
        };
        let app = Router::new()
            .route("/v1/signal", axum::routing::get(signal))
            .fallback(forward)
            .with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the hostile proxy");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HostileServer { base, hooks, task }
    }

    /// Rewrite HTTP answers from now on (replacing any earlier rewrite).
    pub fn on_http(
        &self,
        f: impl Fn(&str, u16, &[u8]) -> Option<(u16, Vec<u8>)> + Send + Sync + 'static,
    ) {
        self.hooks.lock().unwrap().http = Some(Box::new(f));
    }

    /// Rewrite signaling frames from the server from now on.
    pub fn on_frames(&self, f: impl Fn(&str) -> Vec<String> + Send + Sync + 'static) {
        self.hooks.lock().unwrap().frames = Some(Box::new(f));
    }

    /// Behave honestly again.
    pub fn honest(&self) {
        let mut h = self.hooks.lock().unwrap();
        h.http = None;
        h.frames = None;
    }

    /// Send a frame of our own to every signaling connection through the proxy.
    pub fn inject(&self, frame: &str) {
        let h = self.hooks.lock().unwrap();
        for c in &h.clients {
            let _ = c.send(frame.to_string());
        }
    }

    /// Every path requested through the proxy so far.
    pub fn requested(&self) -> Vec<String> {
        self.hooks.lock().unwrap().requested.clone()
    }
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    p.hooks.lock().unwrap().requested.push(path.clone());
    let answer = upstream(&p, method, &path, &headers, body).await;
    let Ok((status, ctype, bytes)) = answer else {
        return (StatusCode::BAD_GATEWAY, "upstream unreachable").into_response();
    };
    let rewritten = {
        let h = p.hooks.lock().unwrap();
        h.http.as_ref().and_then(|f| f(&path, status, &bytes))
    };
    let (status, body) = rewritten.unwrap_or_else(|| (status, bytes.to_vec()));
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        body,
    )
        .into_response();
    if let Some(ct) = ctype
        && let Ok(v) = ct.parse()
    {
        r.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
    }
    r
}

async fn upstream(
    p: &Proxy,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(u16, Option<String>, Bytes), reqwest::Error> {
    let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = p.http.request(m, format!("{}{path}", p.upstream));
    for name in ["authorization", "content-type"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            req = req.header(name, v);
        }
    }
    let resp = req.body(body).send().await?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, ctype, resp.bytes().await?))
}

async fn signal(State(p): State<Proxy>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    ws.on_upgrade(move |socket| pump(p, auth, socket))
}

async fn pump(p: Proxy, auth: Option<String>, client: WebSocket) {
    let url = format!("{}/v1/signal", p.upstream.replacen("http://", "ws://", 1));
    let Ok(mut req) = url.into_client_request() else {
        return;
    };
    if let Some(a) = auth
        && let Ok(v) = a.parse()
    {
        req.headers_mut().insert("authorization", v);
    }
    let Ok((server, _)) = tokio_tungstenite::connect_async(req).await else {
        return;
    };
    let (inject_tx, mut inject_rx) = mpsc::unbounded_channel::<String>();
    p.hooks.lock().unwrap().clients.push(inject_tx);
    let (mut c_tx, mut c_rx) = client.split();
    let (mut s_tx, mut s_rx) = server.split();
    loop {
        tokio::select! {
            m = c_rx.next() => {
                let Some(Ok(m)) = m else { break };
                let out = match m {
                    AxMessage::Text(t) => TMessage::Text(t.as_str().into()),
                    AxMessage::Binary(b) => TMessage::Binary(b),
                    AxMessage::Ping(b) => TMessage::Ping(b),
                    AxMessage::Pong(b) => TMessage::Pong(b),
                    AxMessage::Close(_) => break,
                };
                if s_tx.send(out).await.is_err() {
                    break;
                }
            }
            m = s_rx.next() => {
                let Some(Ok(m)) = m else { break };
                let frames: Vec<String> = match m {
                    TMessage::Text(t) => {
                        let h = p.hooks.lock().unwrap();
                        match &h.frames {
                            Some(f) => f(t.as_str()),
                            None => vec![t.as_str().to_string()],
                        }
                    }
                    TMessage::Close(_) => break,
                    _ => continue,
                };
                for f in frames {
                    if c_tx.send(AxMessage::Text(f.into())).await.is_err() {
                        return;
                    }
                }
            }
            Some(f) = inject_rx.recv() => {
                if c_tx.send(AxMessage::Text(f.into())).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// The server's directory signing key, as the server derives it from its secret (a malicious
/// operator holds both): HKDF-SHA256 of `server.key` under the server's own label.
pub fn server_directory_key(data_dir: &std::path::Path) -> ed25519_dalek::SigningKey {
    let secret = std::fs::read(data_dir.join("server.key")).expect("the server's secret");
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, &secret);
    let mut seed = [0u8; 32];
    hk.expand(b"assent/rendezvous/directory-signing/v1", &mut seed)
        .expect("32 bytes");
    ed25519_dalek::SigningKey::from_bytes(&seed)
}
