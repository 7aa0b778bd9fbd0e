//! `assent-rendezvous`: accounts, the key directory, meetings and signaling for Assent. It never
//! sees media, chat, recording plaintext or private keys.

pub mod accounts;
pub mod admin;
pub mod clock;
pub mod config;
pub mod db;
pub mod directory;
pub mod error;
pub mod http;
pub mod http_error;
pub mod http_kt;
pub mod http_recordings;
pub mod http_signaling;
pub mod jobs;
pub mod kt;
pub mod mail;
pub mod meetings;
pub mod recordings;
pub mod secrets;
pub mod sessions;
pub mod signaling;
pub mod state;
pub mod storage;
#[cfg(test)]
mod testing;
pub mod throttle;
pub mod totp;
pub mod turn;
pub mod users;

use std::sync::Arc;

pub use http::router;
pub use state::AppState;

/// Build the server's state from a configuration: database, mailer, secret.
pub fn build_state(
    config: config::Config,
    clock: Arc<dyn clock::Clock>,
) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)?;
    let db = db::Db::open(&config.database_path())?;
    {
        // Rooms live in memory: calls still open from a previous run ended with it.
        let conn = rusqlite::Connection::open(config.database_path())?;
        signaling::history::close_open_calls(&conn, clock.now())?;
    }
    let grace = std::time::Duration::from_secs(config.limits.reconnect_grace_secs);
    let hub = signaling::spawn(db.clone(), clock.clone(), grace);
    let mailer = match &config.mail.smtp_url {
        Some(url) => mail::Mailer::smtp(url, &config.mail.from)?,
        None => mail::Mailer::outbox(config.data_dir.join("outbox"), &config.mail.from)?,
    };
    let secret = state::load_or_create_secret(&config.data_dir.join("server.key"))?;
    let storage =
        storage::Storage::from_config(&config.storage, &config.data_dir, &secret, clock.clone())?;
    let state = AppState::new(db, mailer, clock, config, hub, secret, storage);
    let every = std::time::Duration::from_millis(state.config.directory.epoch_interval_ms);
    state.kt.clone().spawn_publisher(every);
    Ok(state)
}
