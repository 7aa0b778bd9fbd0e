//! The window's IO: each function is one request to the engine, run as an iced `Task` (never
//! inside `update`). Errors come back as the sentence to show.
//!
//! The engine's account calls hold the profile (its SQLite store) across awaits, which ties
//! them to one thread: each request runs on a blocking thread with its own small runtime, like
//! the command line runs them.

use std::future::Future;
use std::path::{Path, PathBuf};

use assent_client::account::{self, Account, AccountError, Profile};
use assent_client::api::ApiError;
use zeroize::Zeroizing;

use super::home::MeetingCard;

fn open(dir: &Path) -> Result<Profile, String> {
    Profile::open(dir).map_err(|e| e.to_string())
}

/// Run `f`'s future to completion on a thread of its own.
async fn local<T, F, Fut>(f: F) -> Result<T, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a request: {e}"))?;
        Ok(rt.block_on(f()))
    })
    .await
    .map_err(|e| format!("the request failed: {e}"))?
}

/// The account this profile is signed in to, if any (a stored session token).
pub async fn current(dir: PathBuf) -> Option<Account> {
    local(move || async move {
        let profile = open(&dir).ok()?;
        profile.api().ok().map(|(_, account)| account)
    })
    .await
    .ok()
    .flatten()
}

/// The server and email last used, to prefill the sign-in form.
pub async fn last_account(dir: PathBuf) -> Option<(String, String)> {
    local(move || async move {
        let profile = open(&dir).ok()?;
        let a = profile.account().ok()??;
        Some((a.server, a.email))
    })
    .await
    .ok()
    .flatten()
}

#[derive(Debug, Clone)]
pub enum SignInError {
    /// The account has two-factor authentication and no (or a wrong) code was given.
    TotpRequired,
    Other(String),
}

pub async fn sign_in(
    dir: PathBuf,
    server: String,
    email: String,
    password: Zeroizing<String>,
    totp: Option<String>,
) -> Result<Account, SignInError> {
    local(move || async move {
        let profile = open(&dir).map_err(SignInError::Other)?;
        match account::signin(
            &profile,
            &server,
            &email,
            &password,
            totp.as_deref(),
            "desktop",
        )
        .await
        {
            Ok(a) => Ok(a),
            Err(AccountError::Api(e)) if e.code() == Some("totp_required") => {
                Err(SignInError::TotpRequired)
            }
            Err(e) => Err(SignInError::Other(e.to_string())),
        }
    })
    .await
    .unwrap_or_else(|e| Err(SignInError::Other(e)))
}

pub async fn sign_up(
    dir: PathBuf,
    server: String,
    email: String,
    name: String,
    password: Zeroizing<String>,
) -> Result<Zeroizing<String>, String> {
    local(move || async move {
        let profile = open(&dir)?;
        account::signup(&profile, &server, &email, &name, &password)
            .await
            .map(|s| s.recovery_code)
            .map_err(|e| e.to_string())
    })
    .await?
}

pub async fn verify_email(dir: PathBuf, code: String) -> Result<(), String> {
    local(move || async move {
        let profile = open(&dir)?;
        account::verify_email(&profile, &code)
            .await
            .map_err(|e| e.to_string())
    })
    .await?
}

pub async fn resend_code(dir: PathBuf) -> Result<(), String> {
    local(move || async move {
        let profile = open(&dir)?;
        let a = profile
            .account()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| AccountError::NoAccount.to_string())?;
        assent_client::api::Api::new(&a.server)
            .map_err(|e| e.to_string())?
            .resend_code(&a.email)
            .await
            .map_err(|e: ApiError| e.to_string())
    })
    .await?
}

pub async fn sign_out(dir: PathBuf) -> Result<(), String> {
    local(move || async move {
        let profile = open(&dir)?;
        account::signout(&profile).await.map_err(|e| e.to_string())
    })
    .await?
}

pub async fn new_meeting(dir: PathBuf) -> Result<MeetingCard, String> {
    let (api, account) =
        local(move || async move { open(&dir)?.api().map_err(|e| e.to_string()) }).await??;
    let title = format!("{}'s meeting", account.display_name);
    let code = assent_client::call::create_meeting(&api, &title)
        .await
        .map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code,
        title,
        created: true,
    })
}

/// Check that the server admits us to the meeting behind `code`.
pub async fn find_meeting(dir: PathBuf, code: String) -> Result<MeetingCard, String> {
    let (api, _) =
        local(move || async move { open(&dir)?.api().map_err(|e| e.to_string()) }).await??;
    let m = api.join_meeting(&code).await.map_err(|e| match e.code() {
        Some("not_found") => format!("No meeting has the code {code}."),
        _ => e.to_string(),
    })?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: false,
    })
}

/// What the home screen lists.
#[derive(Debug, Clone)]
pub struct Overview {
    pub upcoming: Vec<assent_shared::api::Meeting>,
    pub history: Vec<assent_shared::api::CallHistory>,
}

pub async fn overview(dir: PathBuf) -> Result<Overview, String> {
    let (api, _) =
        local(move || async move { open(&dir)?.api().map_err(|e| e.to_string()) }).await??;
    let upcoming = api.upcoming().await.map_err(|e| e.to_string())?;
    let history = api.history().await.map_err(|e| e.to_string())?;
    Ok(Overview { upcoming, history })
}

pub async fn schedule(
    dir: PathBuf,
    request: assent_shared::api::CreateMeeting,
) -> Result<MeetingCard, String> {
    let (api, _) =
        local(move || async move { open(&dir)?.api().map_err(|e| e.to_string()) }).await??;
    let m = api
        .create_meeting(&request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: true,
    })
}

pub async fn personal_room(dir: PathBuf) -> Result<MeetingCard, String> {
    let (api, _) =
        local(move || async move { open(&dir)?.api().map_err(|e| e.to_string()) }).await??;
    let m = api.personal_room().await.map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: false,
    })
}
