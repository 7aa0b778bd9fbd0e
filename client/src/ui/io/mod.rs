//! The window's IO: each function is one request to the engine, run as an iced `Task` (never
//! inside `update`), awaited directly (the engine is `Send`). Errors come back as the sentence
//! to show. By concern: [`account`] (signing in, the settings), [`meetings`], [`call`] (the
//! devices, the preview, the call) and [`recordings`] (the library and the viewer).

use std::path::{Path, PathBuf};

use assent_engine::ApiError;
use assent_engine::{Account, AccountError, Session};
use assent_shared::api::ErrorCode;
use zeroize::Zeroizing;

use super::home::MeetingCard;
use super::recordings;
use super::settings;
use super::setup;
use super::viewer;

mod account_io;
mod call;
mod library_io;
mod meetings;
#[cfg(test)]
mod tests;

pub use account_io::*;
pub use call::*;
pub use library_io::*;
pub use meetings::*;

fn open(dir: &Path) -> Result<Session, String> {
    Session::open(dir).map_err(|e| e.to_string())
}

/// The account this profile is signed in to, if any (a stored session token).
pub async fn current(dir: PathBuf) -> Option<Account> {
    async move {
        let profile = open(&dir).ok()?;
        profile.api().ok().map(|(_, account)| account)
    }
    .await
}

/// The server and email last used, to prefill the sign-in form.
pub async fn last_account(dir: PathBuf) -> Option<(String, String)> {
    async move {
        let profile = open(&dir).ok()?;
        let a = profile.account().ok()??;
        Some((a.server, a.email))
    }
    .await
}

/// The sentence a person reads for an engine error: every engine error type says itself, in
/// words for people (never a debug dump), so the window shows exactly that.
fn say(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The profile's device settings (sounds, the devices chosen last).
fn settings_of(dir: &Path) -> Result<assent_engine::Settings, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    assent_engine::Settings::open(dir).map_err(say)
}
