//! A hostile signaling relay: a WebSocket proxy between one client and the real server that
//! does what a compromised server could do to the client's signaling in both directions —
//! rewrite the DTLS fingerprint in session descriptions, or replay a recorded one.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// What the relay does to payloads carrying an offer or an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pass everything untouched.
    Pass,
    /// Pass everything, but keep a copy of each offer and answer payload.
    Record,
    /// Change one hex digit of the DTLS fingerprint inside the SDP.
    RewriteFingerprint,
    /// Replace offers and answers with the ones recorded earlier (from another call).
    Replay,
}

#[derive(Default)]
struct State {
    recorded: Vec<String>,
    tampered: usize,
}

pub struct HostileRelay {
    /// `ws://…/v1/signal` for the client's `--signal-url`.
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Drop for HostileRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_description(payload: &str) -> bool {
    payload.contains(r#"\"type\":\"offer\""#) || payload.contains(r#"\"type\":\"answer\""#)
}

/// Flip one hex digit right after `a=fingerprint:sha-256 ` in the (JSON-escaped) SDP.
fn rewrite_fingerprint(payload: &str) -> Option<String> {
    let marker = "a=fingerprint:sha-256 ";
    let at = payload.find(marker)? + marker.len();
    let c = payload[at..].chars().next()?;
    let flipped = if c == 'A' { 'B' } else { 'A' };
    Some(format!("{}{flipped}{}", &payload[..at], &payload[at + 1..]))
}

impl HostileRelay {
    /// Proxy to `upstream` (the server's `ws://…/v1/signal`).
    pub async fn start(upstream: String, mode: Mode) -> HostileRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let url = format!("ws://{}/v1/signal", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let state = Arc::new(Mutex::new(State::default()));
        let (m, s) = (mode.clone(), state.clone());
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let conns = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (m, s, up) = (m.clone(), s.clone(), upstream.clone());
                let h = tokio::spawn(async move {
                    let _ = proxy(sock, up, m, s).await;
                });
                conns.lock().unwrap().push(h.abort_handle());
            }
        });
        HostileRelay {
            url,
            mode,
            state,
            task,
            connections,
        }
    }

    /// Cut every proxied connection (both sides see the socket close), as a network blip would.
    pub fn drop_connections(&self) {
        for h in self.connections.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// How many payloads were altered or replaced.
    pub fn tampered(&self) -> usize {
        self.state.lock().unwrap().tampered
    }

    pub fn recorded(&self) -> usize {
        self.state.lock().unwrap().recorded.len()
    }
}

/// Apply the mode to one text frame (either direction); the frame to forward.
fn tamper(text: &str, mode: &Mode, state: &Mutex<State>) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let Some(payload) = v.get("payload").and_then(Value::as_str).map(str::to_string) else {
        return text.to_string();
    };
    if !is_description(&payload) {
        return text.to_string();
    }
    let mut st = state.lock().unwrap();
    let replaced = match mode {
        Mode::Pass => None,
        Mode::Record => {
            st.recorded.push(payload);
            None
        }
        Mode::RewriteFingerprint => rewrite_fingerprint(&payload),
        Mode::Replay => {
            // An offer for an offer, an answer for an answer.
            let want = if payload.contains(r#"\"type\":\"offer\""#) {
                r#"\"type\":\"offer\""#
            } else {
                r#"\"type\":\"answer\""#
            };
            st.recorded.iter().find(|p| p.contains(want)).cloned()
        }
    };
    match replaced {
        Some(p) => {
            st.tampered += 1;
            v["payload"] = Value::String(p);
            v.to_string()
        }
        None => text.to_string(),
    }
}

// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn proxy(
    sock: tokio::net::TcpStream,
    upstream: String,
    mode: Arc<Mutex<Mode>>,
    state: Arc<Mutex<State>>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let auth: Arc<Mutex<Option<String>>> = Arc::default();
    let a = auth.clone();
    let client = tokio_tungstenite::accept_hdr_async(sock, move |req: &Request, resp: Response| {
        *a.lock().unwrap() = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        Ok(resp)
    })
    .await?;
    let mut req = upstream.into_client_request()?;
    if let Some(h) = auth.lock().unwrap().clone() {
        req.headers_mut().insert("authorization", h.parse()?);
    }
    let (server, _) = tokio_tungstenite::connect_async(req).await?;
    let (mut c_tx, mut c_rx) = client.split();
    let (mut s_tx, mut s_rx) = server.split();
    loop {
        tokio::select! {
            m = c_rx.next() => {
                let Some(Ok(m)) = m else { break };
                let m = match m {
                    Message::Text(t) => {
                        let mode = mode.lock().unwrap().clone();
                        Message::Text(tamper(&t, &mode, &state).into())
                    }
                    other => other,
                };
                s_tx.send(m).await?;
            }
            m = s_rx.next() => {
                let Some(Ok(m)) = m else { break };
                let m = match m {
                    Message::Text(t) => {
                        let mode = mode.lock().unwrap().clone();
                        Message::Text(tamper(&t, &mode, &state).into())
                    }
                    other => other,
                };
                c_tx.send(m).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_the_first_fingerprint_digit() {
        let p = r#"{"signed":"...a=fingerprint:sha-256 AB:CD\r\n..."}"#;
        let r = rewrite_fingerprint(p).unwrap();
        assert!(r.contains("a=fingerprint:sha-256 BB:CD"));
        assert_eq!(r.len(), p.len());
        assert_eq!(rewrite_fingerprint("no sdp"), None);
    }
}
