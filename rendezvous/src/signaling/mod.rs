//! Signaling: the pure hub ([`hub`]), the task that owns it, and the call history it writes
//! ([`history`], by a second task, in order). Connections talk to it over channels; their
//! WebSocket edge is the `http_signaling` module.

pub mod history;
pub mod hub;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use assent_shared::signal::ServerMsg;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::db::Db;
use hub::{ConnId, Hub, Input, Output};

/// What a connection's writer receives.
#[derive(Debug)]
pub enum Outbound {
    /// A serialized frame (shared by every recipient of a broadcast: cloning it is a
    /// reference count, not a copy).
    Text(Utf8Bytes),
    /// Send a close frame with this code and stop.
    Close(u16),
}

/// Call-history records written in one transaction at most.
const HISTORY_BATCH: usize = 1024;

/// Frames queued for one connection before it counts as too slow and is dropped.
pub const OUTBOUND_QUEUE: usize = 512;

enum Event {
    Register {
        conn: ConnId,
        tx: mpsc::Sender<Outbound>,
    },
    Input(Box<Input>),
}

/// A handle to the hub task.
#[derive(Clone, Debug)]
pub struct HubHandle {
    tx: mpsc::UnboundedSender<Event>,
    /// Counts call-history records written (lets tests wait for them instead of sleeping).
    history_written: tokio::sync::watch::Receiver<u64>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Event")
    }
}

impl HubHandle {
    pub fn register(&self, conn: ConnId, tx: mpsc::Sender<Outbound>) {
        let _ = self.tx.send(Event::Register { conn, tx });
    }

    pub fn input(&self, input: Input) {
        let _ = self.tx.send(Event::Input(Box::new(input)));
    }

    /// A receiver that changes each time a call-history record has been written.
    pub fn history_written(&self) -> tokio::sync::watch::Receiver<u64> {
        self.history_written.clone()
    }

    /// Carry out what a host action asks of the room (a meetings service's answer), if
    /// anything.
    pub fn apply(&self, input: Option<Input>) {
        if let Some(i) = input {
            self.input(i);
        }
    }
}

/// Start the hub task (and its history writer); `grace` is how long a dropped seat is kept.
pub fn spawn(db: Db, clock: Arc<dyn Clock>, grace: Duration) -> HubHandle {
    let (tx, rx) = mpsc::unbounded_channel::<Event>();
    let (history_tx, history_rx) = mpsc::unbounded_channel::<Output>();
    let (written_tx, history_written) = tokio::sync::watch::channel(0u64);
    tokio::spawn(write_history(db, history_rx, written_tx));
    tokio::spawn(run_hub(
        Hub::new(grace.as_millis() as u64),
        clock,
        rx,
        history_tx,
    ));
    HubHandle {
        tx,
        history_written,
    }
}

/// Write the call history the hub reports. What is queued is written in one transaction: when
/// many seats go at once (a proxy restart drops every connection) that is one commit instead
/// of one per record.
async fn write_history(
    db: Db,
    mut history_rx: mpsc::UnboundedReceiver<Output>,
    written_tx: tokio::sync::watch::Sender<u64>,
) {
    while let Some(first) = history_rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < HISTORY_BATCH {
            match history_rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let r = db
            .run(move |c| -> Result<(), crate::db::DbError> {
                let tx = c.transaction()?;
                for o in &batch {
                    // One bad record must not cost the others theirs.
                    if let Err(e) = history::record(&tx, o) {
                        tracing::error!(error = %e, "could not record call history");
                    }
                }
                Ok(tx.commit()?)
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "could not record call history");
        }
        written_tx.send_modify(|k| *k += n);
    }
}

/// The task that owns the hub: connections register, inputs (and a tick every half second)
/// go in, its outputs go to the connections and the history.
async fn run_hub(
    mut hub: Hub,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::UnboundedReceiver<Event>,
    history_tx: mpsc::UnboundedSender<Output>,
) {
    let mut fanout = Fanout::default();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let input = tokio::select! {
            ev = rx.recv() => match ev {
                None => break,
                Some(Event::Register { conn, tx }) => { fanout.conns.insert(conn, tx); continue; }
                Some(Event::Input(i)) => *i,
            },
            _ = tick.tick() => Input::Tick,
        };
        if let Input::Disconnected { conn } = &input {
            fanout.conns.remove(conn);
        }
        let mut pending = vec![input];
        while let Some(input) = pending.pop() {
            for out in hub.handle(clock.now(), input) {
                match out {
                    Output::Send { conn, msg } => {
                        if !fanout.send(conn, msg) {
                            pending.push(Input::Disconnected { conn });
                        }
                    }
                    Output::Close { conn } => {
                        if let Some(tx) = fanout.conns.remove(&conn) {
                            let _ = tx.try_send(Outbound::Close(1000));
                        }
                    }
                    history => {
                        let _ = history_tx.send(history);
                    }
                }
            }
        }
    }
}

/// The connections the hub writes to.
#[derive(Default)]
struct Fanout {
    conns: HashMap<ConnId, mpsc::Sender<Outbound>>,
    /// A broadcast yields the same message for several connections in a row: serialize once.
    last: Option<(ServerMsg, Utf8Bytes)>,
}

impl Fanout {
    /// Queue `msg` for `conn`. False when the connection is too slow (or gone): it is dropped,
    /// and its seat waits for a resume.
    fn send(&mut self, conn: ConnId, msg: ServerMsg) -> bool {
        let text = match &self.last {
            Some((m, t)) if *m == msg => t.clone(),
            _ => {
                let t: Utf8Bytes = serde_json::to_string(&msg).unwrap_or_default().into();
                self.last = Some((msg, t.clone()));
                t
            }
        };
        let full = self
            .conns
            .get(&conn)
            .is_some_and(|tx| tx.try_send(Outbound::Text(text)).is_err());
        if full {
            tracing::warn!(conn, "dropping a connection that does not keep up");
            self.conns.remove(&conn);
        }
        !full
    }
}

/// WebSocket close code for a connection whose session ended (revoked, password changed or
/// reset, account deleted or disabled).
pub const CLOSE_SIGNED_OUT: u16 = 4401;

/// The live signaling connections by account and session, so that signing a session out ends
/// its connections at once (they would otherwise stay in their calls and could join others).
#[derive(Default)]
pub struct LiveSockets {
    inner: std::sync::Mutex<std::collections::HashMap<ConnId, LiveSocket>>,
}

struct LiveSocket {
    user: assent_shared::ids::UserId,
    session: Vec<u8>,
    stop: std::sync::Arc<tokio::sync::Notify>,
}

impl LiveSockets {
    /// Track a new connection; it ends when the returned notify fires.
    pub fn add(
        &self,
        conn: ConnId,
        user: assent_shared::ids::UserId,
        session: Vec<u8>,
    ) -> std::sync::Arc<tokio::sync::Notify> {
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).insert(
            conn,
            LiveSocket {
                user,
                session,
                stop: stop.clone(),
            },
        );
        stop
    }

    pub fn remove(&self, conn: ConnId) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&conn);
    }

    /// End every connection of `user` (except those of session `keep`); how many.
    pub fn close_user(&self, user: assent_shared::ids::UserId, keep: Option<&[u8]>) -> usize {
        self.close(|s| s.user == user && keep != Some(s.session.as_slice()))
    }

    /// End the connections of one session of `user`.
    pub fn close_session(&self, user: assent_shared::ids::UserId, session: &[u8]) -> usize {
        self.close(|s| s.user == user && s.session == session)
    }

    fn close(&self, which: impl Fn(&LiveSocket) -> bool) -> usize {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for s in map.values().filter(|s| which(s)) {
            // A stored permit: the connection stops even if it is not waiting right now.
            s.stop.notify_one();
            n += 1;
        }
        n
    }
}
