//! The WebSocket edge: `GET /v1/signal` with `Authorization: Bearer <session token>`.
//!
//! Limits: frames up to 65 KiB (payloads 64 KiB), 50 messages a second per connection (bursts
//! of 100), one room per connection. Malformed messages get an `error` frame and change
//! nothing; frames that are not valid WebSocket text (invalid UTF-8) close the connection with
//! code 1007, oversized ones with 1009.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use assent_shared::PublicIdentity;
use assent_shared::api::ErrorCode;
use assent_shared::signal::{ClientMsg, MAX_FRAME, MAX_PAYLOAD, ServerMsg};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};
use crate::sessions::AuthUser;
use crate::signaling::hub::{Admitted, ConnId, Input};
use crate::signaling::{CLOSE_SIGNED_OUT, OUTBOUND_QUEUE, Outbound};
use crate::state::AppState;
use crate::{meetings, users};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

pub async fn upgrade(
    State(state): State<AppState>,
    user: AuthUser,
    ws: WebSocketUpgrade,
) -> Response {
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| connection(state, user, socket))
}

/// A token bucket: `capacity` messages, refilled at `rate` a second.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    const CAPACITY: f64 = 100.0;
    const RATE: f64 = 50.0;

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * Self::RATE)
            .min(Self::CAPACITY);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn admit(
    state: &AppState,
    user: assent_shared::ids::UserId,
    code: String,
) -> ApiResult<Admitted> {
    state
        .db
        .run(move |c| -> ApiResult<Admitted> {
            let (m, role) = meetings::admit(c, &user, &code)?;
            let acct = users::by_id(c, &user)?.ok_or_else(ApiError::unauthenticated)?;
            let (_, bundle) = crate::directory::store::latest(c, &user.0)?
                .ok_or_else(|| ApiError::Internal("no stored identity".into()))?;
            let identity = PublicIdentity::from_bytes(&bundle)
                .map_err(|_| ApiError::Internal("stored identity".into()))?;
            Ok(Admitted {
                meeting: m.id,
                user,
                email: assent_shared::transparency::normalize_email(&acct.email),
                display_name: acct.display_name,
                role,
                identity,
                codecs: Vec::new(),
            })
        })
        .await
}

fn error_frame(e: &ApiError) -> ServerMsg {
    match e {
        ApiError::Refused { code, message } | ApiError::Conflict { code, message } => {
            ServerMsg::error(*code, message)
        }
        ApiError::SlowDown { .. } => ServerMsg::error(ErrorCode::SlowDown, "too many attempts"),
        ApiError::Busy => {
            ServerMsg::error(ErrorCode::Busy, "the server is busy; try again in a moment")
        }
        ApiError::Internal(_) => ServerMsg::error(ErrorCode::Internal, "internal server error"),
    }
}

async fn connection(state: AppState, user: AuthUser, socket: WebSocket) {
    let conn: ConnId = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE);
    state.hub.register(conn, tx.clone());
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write(sink, rx));
    let reply = |m: ServerMsg| {
        let _ = tx.try_send(Outbound::Text(
            serde_json::to_string(&m).unwrap_or_default().into(),
        ));
    };
    let mut bucket = Bucket {
        tokens: Bucket::CAPACITY,
        last: Instant::now(),
    };
    tracing::debug!(conn, user = %user.id, "signaling connected");
    let stop = state.sockets.add(conn, user.id, user.session.clone());
    loop {
        let frame = tokio::select! {
            // The session ended: the connection ends now, whatever the client does.
            // Its seat goes too (no grace period to resume: the session cannot come back).
            () = stop.notified() => {
                state.hub.input(Input::Leave { conn });
                let _ = tx.try_send(Outbound::Close(CLOSE_SIGNED_OUT));
                break;
            }
            frame = stream.next() => match frame {
                Some(f) => f,
                None => break,
            },
        };
        let text = match frame {
            Ok(Message::Text(t)) => t,
            Ok(Message::Binary(_)) => {
                reply(ServerMsg::error(
                    ErrorCode::BinaryNotSupported,
                    "send JSON text frames",
                ));
                continue;
            }
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Err(e) => {
                let code = close_code(&e);
                let _ = tx.try_send(Outbound::Close(code));
                break;
            }
        };
        if !bucket.take() {
            reply(ServerMsg::error(
                ErrorCode::RateLimited,
                "too many messages; slow down",
            ));
            continue;
        }
        message(&state, user.id, conn, &text, &reply).await;
    }
    state.sockets.remove(conn);
    state.hub.input(Input::Disconnected { conn });
    drop(tx);
    let _ = writer.await;
    tracing::debug!(conn, "signaling disconnected");
}

/// Write what the hub and the reader queue for this connection, flushing once per burst,
/// until the queue ends or a close is asked for.
async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
) {
    // Queue every frame already waiting, then flush once: one write for a burst.
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(o) = next {
            match o {
                Outbound::Text(t) => {
                    if sink.feed(Message::Text(t)).await.is_err() {
                        break 'outer;
                    }
                }
                Outbound::Close(code) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: "".into(),
                        })))
                        .await;
                    break 'outer;
                }
            }
            next = rx.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// The close code for a frame that could not be read: not UTF-8 (1007), too large (1009), or
/// a protocol error (1002).
fn close_code(e: &axum::Error) -> u16 {
    let text = e.to_string();
    if text.contains("UTF-8") || text.contains("utf-8") {
        1007
    } else if text.contains("too long") || text.contains("Space limit") || text.contains("size") {
        1009
    } else {
        1002
    }
}

/// What a client's text frame asks: ping, leave, a message for a peer, or joining a meeting
/// (admitted by the meetings' rules first).
async fn message(
    state: &AppState,
    user: assent_shared::ids::UserId,
    conn: ConnId,
    text: &str,
    reply: &impl Fn(ServerMsg),
) {
    match serde_json::from_str::<ClientMsg>(text) {
        Err(e) => reply(ServerMsg::error(
            ErrorCode::MalformedMessage,
            &e.to_string(),
        )),
        Ok(ClientMsg::Ping) => reply(ServerMsg::Pong),
        Ok(ClientMsg::Leave) => state.hub.input(Input::Leave { conn }),
        Ok(ClientMsg::Send { to, payload }) => {
            if payload.len() > MAX_PAYLOAD {
                reply(ServerMsg::error(
                    ErrorCode::PayloadTooLarge,
                    "payloads are at most 64 KiB",
                ));
            } else {
                state.hub.input(Input::Send { conn, to, payload });
            }
        }
        Ok(ClientMsg::Join {
            meeting,
            resume,
            codecs,
        }) => {
            if !assent_shared::signal::codecs_valid(&codecs) {
                reply(ServerMsg::error(
                    ErrorCode::MalformedMessage,
                    "codecs: at most 8 names of 1 to 16 characters a-z, 0-9, -",
                ));
                return;
            }
            match admit(state, user, meeting).await {
                Ok(mut admitted) => {
                    admitted.codecs = codecs;
                    state.hub.input(Input::Join {
                        conn,
                        admitted: Box::new(admitted),
                        resume,
                    })
                }
                Err(e) => reply(error_frame(&e)),
            }
        }
    }
}
