//! The signaling connection: a WebSocket to the rendezvous server, authenticated with the session
//! token, seated in one meeting's room. A dropped connection is re-established with the resume
//! token, so the seat (and the peer-to-peer connections) survive a network blip; the server
//! replays what was sent meanwhile.

use std::time::Duration;

use assent_shared::api::ErrorCode;
use assent_shared::signal::{ClientMsg, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::api::Api;

/// What the signaling task reports.
#[derive(Debug)]
pub enum SignalEvent {
    Msg(Box<ServerMsg>),
    /// The connection dropped; reconnecting (the seat is kept for the server's grace period).
    Reconnecting {
        attempt: u32,
    },
    /// Cannot go on (refused admission, bad token, gave up): why.
    Closed(Closed),
}

/// Why signaling ended for good, said for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Closed {
    #[error("the server refused the session: sign in again")]
    SignedOut,
    /// The server refused the join, or said something retrying cannot cure.
    #[error("{message} ({code})")]
    Refused { code: ErrorCode, message: String },
    #[error("lost the connection to the server")]
    Lost,
}

/// Why one connection attempt failed (it is retried).
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("not a signaling address: {0}")]
    Address(tokio_tungstenite::tungstenite::Error),
    #[error("the session token cannot be sent as a header")]
    Token,
    #[error("cannot connect: {0}")]
    Connect(tokio_tungstenite::tungstenite::Error),
    #[error("cannot encode a message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("cannot send the join: {0}")]
    Send(tokio_tungstenite::tungstenite::Error),
}

/// Handle to send frames; dropping it (or sending `Leave`) ends the task.
#[derive(Clone)]
pub struct Signaling {
    tx: mpsc::UnboundedSender<ClientMsg>,
    task: std::sync::Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Signaling {
    pub fn send(&self, msg: ClientMsg) {
        let _ = self.tx.send(msg);
    }

    /// Leave the room and wait (briefly) until the server has been told, so the others see us
    /// go at once rather than when our seat times out.
    pub async fn leave(&self) {
        self.send(ClientMsg::Leave);
        if let Some(task) = self.task.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

/// Error codes after which retrying cannot help.
const FINAL_ERRORS: &[ErrorCode] = &[
    ErrorCode::NotFound,
    ErrorCode::MeetingLocked,
    ErrorCode::MeetingEnded,
    ErrorCode::RemovedFromMeeting,
    ErrorCode::RoomFull,
    ErrorCode::Unauthenticated,
];

/// How long to keep trying to reconnect before giving up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Connect to `url` (the server's signaling endpoint, or a proxy in front of it) and join
/// `meeting`; events arrive on `events`.
pub fn spawn(
    api: Api,
    url: String,
    meeting: String,
    codecs: Vec<String>,
    events: mpsc::UnboundedSender<SignalEvent>,
) -> Signaling {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(api, url, meeting, codecs, rx, events));
    Signaling {
        tx,
        task: std::sync::Arc::new(tokio::sync::Mutex::new(Some(task))),
    }
}

enum Outcome {
    /// The user left (or the handle was dropped).
    Done,
    /// The connection dropped: try again.
    Dropped,
    /// The server refused for good.
    Refused(Closed),
}

async fn run(
    api: Api,
    url: String,
    meeting: String,
    codecs: Vec<String>,
    mut rx: mpsc::UnboundedReceiver<ClientMsg>,
    events: mpsc::UnboundedSender<SignalEvent>,
) {
    let mut resume: Option<String> = None;
    let mut attempt = 0u32;
    let mut lost_since: Option<tokio::time::Instant> = None;
    loop {
        let outcome = session(&api, &url, &meeting, &codecs, &mut resume, &mut rx, &events).await;
        match outcome {
            Ok(Outcome::Done) => return,
            Ok(Outcome::Refused(why)) => {
                let _ = events.send(SignalEvent::Closed(why));
                return;
            }
            // It was connected: the outage starts now.
            Ok(Outcome::Dropped) => {
                attempt = 0;
                lost_since = None;
            }
            Err(e) => tracing::debug!(error = %e, "signaling: connection attempt failed"),
        }
        let since = *lost_since.get_or_insert_with(tokio::time::Instant::now);
        if since.elapsed() > GIVE_UP_AFTER {
            let _ = events.send(SignalEvent::Closed(Closed::Lost));
            return;
        }
        attempt += 1;
        let _ = events.send(SignalEvent::Reconnecting { attempt });
        let backoff = Duration::from_millis((250u64 << attempt.min(5)).min(5_000));
        // Leave while waiting to reconnect: stop at once.
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            msg = rx.recv() => {
                if matches!(msg, None | Some(ClientMsg::Leave)) {
                    return;
                }
            }
        }
    }
}

/// Open the WebSocket with the session's token. `Ok(Err(_))` when the server refuses the
/// session (signed out).
async fn open(api: &Api, url: &str) -> Result<Result<WebSocket, Outcome>, ConnectError> {
    let mut req = url.into_client_request().map_err(ConnectError::Address)?;
    if let Some(t) = api.token() {
        let value = format!("Bearer {t}")
            .parse()
            .map_err(|_| ConnectError::Token)?;
        req.headers_mut().insert("authorization", value);
    }
    // No Nagle: signaling messages are small and latency-critical (with delayed ACKs, Nagle
    // holds each candidate back ~40 ms).
    match tokio_tungstenite::connect_async_with_config(req, None, true).await {
        Ok((ws, _)) => Ok(Ok(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) if resp.status() == 401 => {
            Ok(Err(Outcome::Refused(Closed::SignedOut)))
        }
        Err(e) => Err(ConnectError::Connect(e)),
    }
}

type WebSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server said, passed on to the call; the session's outcome when it ends here (a
/// refusal, being removed, the meeting ending).
fn heard(
    text: &str,
    resume: &mut Option<String>,
    seated: &mut bool,
    events: &mpsc::UnboundedSender<SignalEvent>,
) -> Option<Outcome> {
    let Ok(msg) = serde_json::from_str::<ServerMsg>(text) else {
        tracing::warn!("unreadable frame from the server");
        return None;
    };
    let outcome = match &msg {
        ServerMsg::Joined { resume_token, .. } => {
            *resume = Some(resume_token.clone());
            *seated = true;
            None
        }
        // Any refusal of the join itself, or one that retrying cannot cure.
        ServerMsg::Error { code, message } if !*seated || FINAL_ERRORS.contains(code) => {
            return Some(Outcome::Refused(Closed::Refused {
                code: *code,
                message: message.clone(),
            }));
        }
        ServerMsg::Removed | ServerMsg::Ended => Some(Outcome::Done),
        _ => None,
    };
    let _ = events.send(SignalEvent::Msg(Box::new(msg)));
    outcome
}

/// One connection's life. `Err` is a failure to connect at all.
async fn session(
    api: &Api,
    url: &str,
    meeting: &str,
    codecs: &[String],
    resume: &mut Option<String>,
    rx: &mut mpsc::UnboundedReceiver<ClientMsg>,
    events: &mpsc::UnboundedSender<SignalEvent>,
) -> Result<Outcome, ConnectError> {
    let ws = match open(api, url).await? {
        Ok(ws) => ws,
        Err(refused) => return Ok(refused),
    };
    let (mut sink, mut stream) = ws.split();
    let join = ClientMsg::Join {
        meeting: meeting.to_string(),
        resume: resume.clone(),
        codecs: codecs.to_vec(),
    };
    let text = serde_json::to_string(&join)?;
    sink.send(Message::Text(text.into()))
        .await
        .map_err(ConnectError::Send)?;
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.tick().await;
    let mut seated = false;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else {
                    return Ok(Outcome::Dropped);
                };
                let text = match frame {
                    Message::Text(t) => t,
                    Message::Close(_) => return Ok(Outcome::Dropped),
                    _ => continue,
                };
                if let Some(outcome) = heard(&text, resume, &mut seated, events) {
                    return Ok(outcome);
                }
            }
            out = rx.recv() => {
                let Some(out) = out else {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(Outcome::Done);
                };
                let leaving = out == ClientMsg::Leave;
                let text = serde_json::to_string(&out)?;
                if sink.send(Message::Text(text.into())).await.is_err() {
                    if leaving {
                        return Ok(Outcome::Done);
                    }
                    return Ok(Outcome::Dropped);
                }
                if leaving {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(Outcome::Done);
                }
            }
            _ = ping.tick() => {
                let text = serde_json::to_string(&ClientMsg::Ping).unwrap_or_default();
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return Ok(Outcome::Dropped);
                }
            }
        }
    }
}
