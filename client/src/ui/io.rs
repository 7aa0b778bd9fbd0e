//! The window's IO: each function is one request to the engine, run as an iced `Task` (never
//! inside `update`). Errors come back as the sentence to show.
//!
//! The engine's account calls hold the profile (its SQLite store) across awaits, which ties
//! them to one thread: each request runs on a blocking thread with its own small runtime, like
//! the command line runs them.

use std::path::{Path, PathBuf};

use assent_engine::account::{self, Account, AccountError, Profile};
use assent_engine::api::ApiError;
use assent_shared::api::ErrorCode;
use zeroize::Zeroizing;

use assent_engine::library;

use super::home::MeetingCard;
use super::recordings;
use super::settings;
use super::setup;
use super::viewer;

fn open(dir: &Path) -> Result<Profile, String> {
    Profile::open(dir).map_err(|e| e.to_string())
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

#[derive(Debug, Clone)]
pub enum SignInError {
    /// The account has two-factor authentication and no (or a wrong) code was given.
    TotpRequired,
    Other(String),
}

impl From<AccountError> for SignInError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Api(e) if e.code() == Some(ErrorCode::TotpRequired) => {
                SignInError::TotpRequired
            }
            e => SignInError::Other(e.to_string()),
        }
    }
}

pub async fn sign_in(
    dir: PathBuf,
    server: String,
    email: String,
    password: Zeroizing<String>,
    totp: Option<String>,
) -> Result<Account, SignInError> {
    async move {
        let profile = open(&dir).map_err(SignInError::Other)?;
        account::signin(
            &profile,
            &server,
            &email,
            &password,
            totp.as_deref(),
            "desktop",
        )
        .await
        .map_err(SignInError::from)
    }
    .await
}

/// Mail a recovery code.
pub async fn start_recovery(server: String, email: String) -> Result<(), String> {
    async move {
        account::start_recovery(&server, &email)
            .await
            .map_err(|e| e.to_string())
    }
    .await
}

/// What the reset step carries.
#[derive(Debug)]
pub struct Recovery {
    pub server: String,
    pub email: String,
    pub email_code: String,
    pub recovery_code: Zeroizing<String>,
    pub totp: Option<String>,
    pub password: Zeroizing<String>,
}

/// Set a new password with the mailed code and the recovery code: signed in, keys kept.
pub async fn recover(dir: PathBuf, r: Recovery) -> Result<Account, SignInError> {
    async move {
        let profile = open(&dir).map_err(SignInError::Other)?;
        let input = account::RecoveryInput {
            server: &r.server,
            email: &r.email,
            email_code: &r.email_code,
            recovery_code: &r.recovery_code,
            totp: r.totp.as_deref(),
            new_password: &r.password,
            device: "desktop",
        };
        account::recover(&profile, input)
            .await
            .map_err(SignInError::from)
    }
    .await
}

pub async fn sign_up(
    dir: PathBuf,
    server: String,
    email: String,
    name: String,
    password: Zeroizing<String>,
) -> Result<Zeroizing<String>, String> {
    async move {
        let profile = open(&dir)?;
        account::signup(&profile, &server, &email, &name, &password)
            .await
            .map(|s| s.recovery_code)
            .map_err(|e| e.to_string())
    }
    .await
}

pub async fn verify_email(dir: PathBuf, code: String) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        account::verify_email(&profile, &code)
            .await
            .map_err(|e| e.to_string())
    }
    .await
}

pub async fn resend_code(dir: PathBuf) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        let a = profile
            .account()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| AccountError::NoAccount.to_string())?;
        assent_engine::api::Api::new(&a.server)
            .map_err(|e| e.to_string())?
            .resend_code(&a.email)
            .await
            .map_err(|e: ApiError| e.to_string())
    }
    .await
}

pub async fn sign_out(dir: PathBuf) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        account::signout(&profile).await.map_err(|e| e.to_string())
    }
    .await
}

pub async fn new_meeting(dir: PathBuf) -> Result<MeetingCard, String> {
    let (api, account) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let title = format!("{}'s meeting", account.display_name);
    let code = assent_engine::call::create_meeting(&api, &title)
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
    let (api, _) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let m = api.join_meeting(&code).await.map_err(|e| match e.code() {
        Some(ErrorCode::NotFound) => format!("No meeting has the code {code}."),
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
    /// Every alarm the key directory checks have raised on this device (the check of our own
    /// key's history just run included), as sentences.
    pub alarms: Vec<String>,
}

pub async fn overview(dir: PathBuf) -> Result<Overview, String> {
    // The directory check first: the server's keys against the pin, its newest root against
    // every root kept, our own key history against the keys this device held.
    let (api, alarms) = async move {
        let profile = open(&dir)?;
        let (api, account) = profile.api().map_err(|e| e.to_string())?;
        // A check that cannot run (the server unreachable) raises nothing; one that finds
        // something wrong keeps it as an alarm, read back here either way.
        let _ = assent_engine::transparency::checkup(&api, &profile.store, &account.email).await;
        let alarms = profile
            .store
            .alarms()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|a| a.detail)
            .collect::<Vec<_>>();
        Ok::<_, String>((api, alarms))
    }
    .await?;
    let upcoming = api.upcoming().await.map_err(|e| e.to_string())?;
    let history = api.history().await.map_err(|e| e.to_string())?;
    Ok(Overview {
        upcoming,
        history,
        alarms,
    })
}

pub async fn schedule(
    dir: PathBuf,
    request: assent_shared::api::CreateMeeting,
) -> Result<MeetingCard, String> {
    let (api, _) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
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
    let (api, _) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let m = api.personal_room().await.map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: false,
    })
}

/// A call running for the window: commands go to `handle`; `events` is taken once by the app
/// (it ends after the call closed and its uploads are done).
#[derive(Clone)]
pub struct CallLink {
    pub handle: assent_engine::call::CallHandle,
    /// The speaker chosen for the call (its sounds play there too).
    pub speaker: Option<String>,
    pub events: std::sync::Arc<
        std::sync::Mutex<
            Option<tokio::sync::mpsc::UnboundedReceiver<assent_engine::call::CallEvent>>,
        >,
    >,
}

impl std::fmt::Debug for CallLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallLink(..)")
    }
}

/// The devices the meeting setup offers: the cameras, microphones and speakers present, and
/// first, when set, the sources of `ASSENT_VIDEO` / `ASSENT_AUDIO` (the command line's source
/// specs, e.g. `test` or `file:PATH`: a machine without a camera can still show a picture).
pub async fn devices(dir: PathBuf) -> Result<setup::Devices, String> {
    use assent_engine::media::devices::{self, DeviceKind};
    use assent_engine::media::{Kind, source};
    tokio::task::spawn_blocking(move || {
        let found = devices::list().map_err(|e| e.to_string())?;
        let mut out = setup::Devices::default();
        if let Ok(store) = store(&dir) {
            let get = |key: &str| store.setting(key).ok().flatten();
            out.last = setup::Chosen {
                camera: get(CAMERA),
                microphone: get(MICROPHONE),
                speaker: get(SPEAKER),
            };
        }
        for (var, kind, list) in [
            ("ASSENT_VIDEO", Kind::Video, &mut out.cameras),
            ("ASSENT_AUDIO", Kind::Audio, &mut out.microphones),
        ] {
            if let Ok(spec) = std::env::var(var)
                && let Some(src) = source::parse(kind, &spec).map_err(|e| format!("{var}: {e}"))?
            {
                list.push(setup::Choice {
                    label: src.describe(),
                    spec,
                });
            }
        }
        out.speakers.push(setup::Choice {
            label: "System default".into(),
            spec: String::new(),
        });
        for d in found {
            let (list, prefix) = match d.kind {
                DeviceKind::Camera => (&mut out.cameras, "camera"),
                DeviceKind::Microphone => (&mut out.microphones, "mic"),
                DeviceKind::Speaker => (&mut out.speakers, ""),
            };
            let spec = match (prefix, d.id) {
                ("", Some(id)) => id,
                // A speaker the sound server cannot name: only the default reaches it.
                ("", None) => continue,
                (p, Some(id)) => format!("{p}:{id}"),
                (p, None) => p.to_string(),
            };
            list.push(setup::Choice {
                label: d.name,
                spec,
            });
        }
        Ok(out)
    })
    .await
    .map_err(|e| format!("cannot list the devices: {e}"))?
}

/// The profile's settings for the devices chosen last.
const CAMERA: &str = "device.camera";
const MICROPHONE: &str = "device.microphone";
const SPEAKER: &str = "device.speaker";

/// Remember the devices of a call for the next one.
fn remember_devices(store: &assent_engine::store::Store, joining: &setup::Joining) {
    for (key, spec) in [
        (CAMERA, &joining.video),
        (MICROPHONE, &joining.audio),
        // The system default is remembered as such.
        (SPEAKER, &Some(joining.speaker.clone().unwrap_or_default())),
    ] {
        if let Some(spec) = spec {
            let _ = store.set_setting(key, spec);
        }
    }
}

/// A running preview for the meeting setup (dropping the last clone lets go of the camera and
/// the microphone).
#[derive(Clone, Debug)]
pub struct PreviewLink(pub std::sync::Arc<assent_engine::media::preview::Preview>);

/// Start previewing `sources`.
pub async fn start_preview(sources: setup::Sources) -> Result<PreviewLink, String> {
    use assent_engine::media::{Kind, source};
    tokio::task::spawn_blocking(move || {
        let video = match &sources.video {
            Some(spec) => source::parse(Kind::Video, spec)?,
            None => None,
        };
        let audio = match &sources.audio {
            Some(spec) => source::parse(Kind::Audio, spec)?,
            None => None,
        };
        assent_engine::media::preview::Preview::start(video.as_deref(), audio.as_deref())
            .map(|p| PreviewLink(std::sync::Arc::new(p)))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("cannot start the preview: {e}"))?
}

/// The call's media and network settings: the sources, speaker and start state chosen in the
/// meeting setup; `ASSENT_ICE_ADDRESS` and `ASSENT_ICE_ALLOW` from the environment
/// (comma-separated, like `--ice-address` and `--ice-allow`).
fn call_options(
    profile: &Profile,
    joining: &setup::Joining,
) -> Result<assent_engine::call::CallOptions, String> {
    use assent_engine::call::{CallOptions, machine};
    use assent_engine::media::{Kind, MediaOptions, Output, source};
    let parse = |kind: Kind, spec: &Option<String>| match spec {
        Some(spec) => source::parse(kind, spec),
        None => Ok(None),
    };
    let video = parse(Kind::Video, &joining.video)?;
    let audio = parse(Kind::Audio, &joining.audio)?;
    let list = |var: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let local_addresses = list("ASSENT_ICE_ADDRESS")
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|_| format!("ASSENT_ICE_ADDRESS: {a} is not an address"))
        })
        .collect::<Result<Vec<std::net::IpAddr>, String>>()?;
    let candidates = machine::CandidateFilter::parse(&list("ASSENT_ICE_ALLOW"))?;
    Ok(CallOptions {
        meeting: joining.card.code.clone(),
        media: MediaOptions {
            video,
            audio,
            // What "Share screen" captures (`ASSENT_SCREEN`, default the X11/Wayland screen);
            // without one, sharing reports why in the room.
            screen: source::parse(
                Kind::Video,
                &std::env::var("ASSENT_SCREEN").unwrap_or_else(|_| "screen".into()),
            )
            .ok()
            .flatten(),
            output: Output::Display,
            speaker: joining.speaker.clone(),
            ..MediaOptions::default()
        },
        relay_only: false,
        local_addresses,
        server_ice: true,
        machine: machine::Config {
            candidates,
            ..machine::Config::default()
        },
        initial: joining.initial,
        signal_url: None,
        device: profile.device_id(),
        recordings: profile.dir().join("recordings"),
        profile_db: profile.dir().join("profile.db"),
    })
}

/// Join the meeting `code`. The call runs on a thread of its own (its engine tasks live on
/// that thread's runtime until the call and its uploads are over).
pub async fn start_call(dir: PathBuf, joining: setup::Joining) -> Result<CallLink, String> {
    let (ready, started) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("call".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready.send(Err(format!("cannot start the call: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                let setup = || -> Result<_, String> {
                    let profile = open(&dir)?;
                    let (api, account) = profile.api().map_err(|e| e.to_string())?;
                    let identity = profile.identity().map_err(|e| e.to_string())?;
                    let store =
                        assent_engine::store::Store::open(&profile.dir().join("profile.db"))
                            .map_err(|e| e.to_string())?;
                    let opts = call_options(&profile, &joining)?;
                    remember_devices(&store, &joining);
                    Ok((api, account, identity, store, opts))
                };
                let (api, account, identity, store, opts) = match setup() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                match assent_engine::call::start(api, account, identity, store, opts).await {
                    Err(e) => {
                        let _ = ready.send(Err(e.to_string()));
                    }
                    Ok((handle, mut events)) => {
                        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                        let link = CallLink {
                            handle,
                            speaker: joining.speaker.clone(),
                            events: std::sync::Arc::new(std::sync::Mutex::new(Some(rx))),
                        };
                        if ready.send(Ok(link)).is_err() {
                            return;
                        }
                        while let Some(ev) = events.recv().await {
                            if tx.send(ev).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        })
        .map_err(|e| format!("cannot start the call: {e}"))?;
    started
        .await
        .map_err(|_| "the call stopped before it started".to_string())?
}

/// The profile's setting for sounds in calls ("off" turns them off).
const SOUNDS: &str = "call.sounds";

fn sounds_on(store: &assent_engine::store::Store) -> bool {
    store.setting(SOUNDS).ok().flatten().as_deref() != Some("off")
}

/// Sounds in calls on or off, for this device.
pub async fn set_sounds(dir: PathBuf, on: bool) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        store(&dir)?
            .set_setting(SOUNDS, if on { "on" } else { "off" })
            .map_err(|e| e.to_string())?;
        Ok(if on {
            "Calls will play sounds.".to_string()
        } else {
            "Calls will be silent.".to_string()
        })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Play a call's sound (someone came or left, a request to record) on `speaker`, unless
/// sounds are turned off in the settings.
pub async fn chime(
    dir: PathBuf,
    chime: assent_engine::media::chime::Chime,
    speaker: Option<String>,
) {
    let played = tokio::task::spawn_blocking(move || {
        if !store(&dir).is_ok_and(|s| sounds_on(&s)) {
            return Ok(());
        }
        assent_engine::media::chime::play(chime, speaker.as_deref())
    })
    .await;
    if let Ok(Err(e)) = played {
        tracing::debug!(error = %e, "a call sound did not play");
    }
}

/// The events of a started call as a stream (for `Task::run`).
pub fn call_events(
    link: &CallLink,
) -> impl futures_util::Stream<Item = assent_engine::call::CallEvent> + use<> {
    let rx = link.events.lock().ok().and_then(|mut e| e.take());
    futures_util::stream::unfold(rx, |rx| async move {
        let mut rx = rx?;
        let ev = rx.recv().await?;
        Some((ev, Some(rx)))
    })
}

fn store(dir: &Path) -> Result<assent_engine::store::Store, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    assent_engine::store::Store::open(&dir.join("profile.db")).map_err(|e| e.to_string())
}

/// The recordings list: the local library (brought in step with the disk first, so an
/// interrupted recording shows as incomplete) and, when signed in, the server's registry. A
/// registry failure comes back beside the local list, which is shown anyway.
pub async fn recordings(dir: PathBuf) -> Result<(Vec<recordings::Item>, Option<String>), String> {
    async move {
        let rows = {
            let store = store(&dir)?;
            library::recover(&store, &library::root(&dir)).map_err(|e| e.to_string())?;
            store.recordings().map_err(|e| e.to_string())?
        };
        let (cloud, error) = match open(&dir).and_then(|p| p.api().map_err(|e| e.to_string())) {
            Ok((api, _)) => match api.recordings().await {
                Ok(list) => (list, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            },
            Err(_) => (Vec::new(), Some("not signed in".into())),
        };
        Ok((recordings::merge(rows, cloud), error))
    }
    .await
}

/// Set a recording's tags (this device's copy and the cloud copy).
pub async fn set_tags(dir: PathBuf, id: String, tags: Vec<String>) -> Result<String, String> {
    async move {
        let store = store(&dir)?;
        let api = open(&dir)
            .ok()
            .and_then(|p| p.api().ok())
            .map(|(api, _)| api);
        let kept = library::retag(&store, api.as_ref(), &id, &tags).await?;
        Ok(if kept.is_empty() {
            "Tags removed.".to_string()
        } else {
            format!("Tagged {}.", assent_shared::api::hashtags(&kept))
        })
    }
    .await
}

/// Delete a recording's local copy (never one being written: its recorder holds the lock)
/// and/or its cloud copy.
pub async fn delete_recording(
    dir: PathBuf,
    id: String,
    local_copy: bool,
    cloud_copy: bool,
) -> Result<String, String> {
    async move {
        if cloud_copy {
            let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
            let rid: assent_shared::ids::RecordingId =
                id.parse().map_err(|_| "not a recording id".to_string())?;
            api.delete_recording(&rid)
                .await
                .map_err(|e| format!("the cloud copy was not deleted: {e}"))?;
        }
        if local_copy {
            let store = store(&dir)?;
            let root = library::root(&dir);
            let row = store
                .recordings()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or("this recording is not on this device")?;
            let lock =
                library::lock(&root, &id).map_err(|e| format!("the recording is in use: {e}"))?;
            let path = PathBuf::from(&row.dir);
            if path.starts_with(&root) && path.is_dir() {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| format!("cannot delete {}: {e}", path.display()))?;
            }
            store.remove_recording(&id).map_err(|e| e.to_string())?;
            drop(lock);
            let _ = std::fs::remove_file(library::lock_path(&root, &id));
        }
        Ok("Deleted.".to_string())
    }
    .await
}

/// Upload a recording's cloud copy now (the uploader resumes where it stopped).
pub async fn upload_recording(dir: PathBuf, id: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let db = dir.join("profile.db");
        let todo = {
            let store = store(&dir)?;
            assent_engine::upload::pending(&store).map_err(|e| e.to_string())?
        };
        let (_, path) = todo
            .into_iter()
            .find(|(r, _)| *r == id)
            .ok_or("nothing of this recording is waiting to be uploaded")?;
        let uploader = assent_engine::upload::Uploader::new(api, db);
        uploader
            .sync_retrying(&path, 3, &|_| {})
            .await
            .map_err(|e| format!("the upload stopped: {e}"))?;
        Ok("The cloud copy is complete.".to_string())
    }
    .await
}

/// Download a cloud copy into this device's library, where it is verified and listed.
pub async fn download_recording(dir: PathBuf, id: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let rid: assent_shared::ids::RecordingId =
            id.parse().map_err(|_| "not a recording id".to_string())?;
        let root = library::root(&dir);
        let to = root.join(&id);
        let got = assent_engine::upload::download(&api, &rid, &to)
            .await
            .map_err(|e| format!("the download failed: {e}"))?;
        let store = store(&dir)?;
        library::recover(&store, &root).map_err(|e| e.to_string())?;
        // Its cloud copy is the one it came from.
        store
            .set_cloud_state(&id, "complete", got.bytes)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Downloaded ({}).",
            recordings::human_size(got.bytes)
        ))
    }
    .await
}

/// What the settings screen shows from the server: two-factor state and the sessions.
pub async fn settings(dir: PathBuf) -> Result<settings::Loaded, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let me = api.me().await.map_err(|e| e.to_string())?;
        let sessions = api.sessions().await.map_err(|e| e.to_string())?;
        Ok(settings::Loaded {
            totp_enabled: me.totp_enabled,
            sessions,
            sounds: store(&dir).is_ok_and(|s| sounds_on(&s)),
        })
    }
    .await
}

pub async fn change_password(
    dir: PathBuf,
    current: Zeroizing<String>,
    new: Zeroizing<String>,
) -> Result<String, String> {
    async move {
        let profile = open(&dir)?;
        account::change_password(&profile, &current, &new)
            .await
            .map_err(|e| e.to_string())?;
        Ok(
            "Password changed. Your keys and recovery code are unchanged; your other devices \
            were signed out."
                .to_string(),
        )
    }
    .await
}

/// Start two-factor enrolment: the secret and its `otpauth://` URI.
pub async fn enrol_totp(dir: PathBuf) -> Result<(Zeroizing<String>, String), String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let e = api.totp_enrol().await.map_err(|e| e.to_string())?;
        Ok((Zeroizing::new(e.secret.clone()), e.uri.clone()))
    }
    .await
}

pub async fn confirm_totp(dir: PathBuf, code: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.totp_confirm(&code).await.map_err(|e| e.to_string())?;
        Ok("Two-factor sign-in is on.".to_string())
    }
    .await
}

pub async fn disable_totp(dir: PathBuf, code: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.totp_disable(&code).await.map_err(|e| e.to_string())?;
        Ok("Two-factor sign-in is off.".to_string())
    }
    .await
}

pub async fn revoke_session(dir: PathBuf, id: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.revoke_session(&id).await.map_err(|e| e.to_string())?;
        Ok("That device is signed out.".to_string())
    }
    .await
}

pub async fn delete_account(dir: PathBuf, password: Zeroizing<String>) -> Result<(), String> {
    async move {
        let profile = open(&dir)?;
        account::delete_account(&profile, &password)
            .await
            .map_err(|e| e.to_string())
    }
    .await
}

/// Open a recording for the viewer: verify it (offline), name the signers from this device's
/// contacts, and decrypt its chat with this device's keys.
pub async fn open_recording(dir: PathBuf, recording: String) -> Result<viewer::Opened, String> {
    async move {
        use assent_shared::container::{DirStore, Track, decrypt_segment};
        let path = PathBuf::from(&recording);
        let ds = DirStore::open(&path).map_err(|e| format!("cannot open the recording: {e}"))?;
        let report = assent_engine::library::verify_witnessed(&dir, &ds)
            .map_err(|e| format!("cannot read the recording: {e}"))?;
        let known: std::collections::BTreeMap<_, _> = store(&dir)?
            .contact_names()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let identity = open(&dir)?.identity().map_err(|e| e.to_string());
        let me = identity.as_ref().ok().map(|i| i.key());
        let chat = identity.and_then(|i| {
            let age = i.age_identity().map_err(|e| e.to_string())?;
            let mut text = Vec::new();
            for seg in report
                .manifest
                .segments
                .iter()
                .filter(|s| s.track == Track::Chat)
            {
                let bytes = decrypt_segment(&ds, &report.manifest, seg.index, &age)
                    .map_err(|_| "this device's keys do not open it".to_string())?;
                text.extend_from_slice(&bytes);
                text.push(b'\n');
            }
            Ok(text)
        });
        let names = viewer::Names { known: &known, me };
        Ok(viewer::opened(&report, &recording, &names, chat))
    }
    .await
}

/// Export one track decrypted into the user's videos folder (`~/Videos/Assent`, or
/// `~/Assent exports` without one), under a name made from the title and date that does not
/// overwrite anything; the path written.
pub async fn export_recording(
    dir: PathBuf,
    recording: String,
    track: assent_shared::container::Track,
) -> Result<String, String> {
    async move {
        use assent_shared::container::{DirStore, Track};
        let path = PathBuf::from(&recording);
        let ds = DirStore::open(&path).map_err(|e| format!("cannot open the recording: {e}"))?;
        let report = assent_engine::library::verify_witnessed(&dir, &ds)
            .map_err(|e| format!("cannot read the recording: {e}"))?;
        if !report.verifies() {
            return Err("the recording does not verify: not exported".into());
        }
        let identity = open(&dir)?.identity().map_err(|e| e.to_string())?;
        let age = identity.age_identity().map_err(|e| e.to_string())?;
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("no home directory to export to")?;
        let folder = if home.join("Videos").is_dir() {
            home.join("Videos").join("Assent")
        } else {
            home.join("Assent exports")
        };
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        let title: String = report
            .manifest
            .epochs
            .first()
            .map(|p| p.terms.title.as_str())
            .unwrap_or("recording")
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == ' ' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let date = jiff::Timestamp::from_millisecond(report.manifest.started_at.0 as i64)
            .map(|t| t.strftime("%Y-%m-%d %H%M").to_string())
            .unwrap_or_default();
        let ext = match track {
            Track::Media => "mkv",
            Track::Chat => "txt",
        };
        let mut out = folder.join(format!("{} {date}.{ext}", title.trim()));
        let mut n = 2;
        while out.exists() {
            out = folder.join(format!("{} {date} ({n}).{ext}", title.trim()));
            n += 1;
        }
        crate::cli::recordings::export_track(&path, &report, &age, &out, track)
            .map_err(|e| format!("the export failed: {e:#}"))?;
        Ok(out.display().to_string())
    }
    .await
}

/// Decrypt a recording's media with this device's keys, in memory, and make a player for it
/// (paused at the start). Sound goes to the speakers unless `ASSENT_AUDIO_OUT=none`.
///
/// `manifest` is the one the viewer verified when it opened the recording (not verified
/// again: each segment is still checked against it as it is decrypted).
pub async fn load_media(
    dir: PathBuf,
    recording: String,
    manifest: std::sync::Arc<assent_shared::container::Manifest>,
) -> Result<std::sync::Arc<assent_engine::recorder::player::Player>, String> {
    async move {
        use assent_engine::recorder::player::{Player, Segment, Sound};
        use assent_shared::container::{DirStore, Track, decrypt_segment};
        let path = PathBuf::from(&recording);
        let ds = DirStore::open(&path).map_err(|e| format!("cannot open the recording: {e}"))?;
        let identity = open(&dir)?.identity().map_err(|e| e.to_string())?;
        let age = identity.age_identity().map_err(|e| e.to_string())?;
        let mut segments = Vec::new();
        for s in manifest.segments.iter().filter(|s| s.track == Track::Media) {
            let bytes = decrypt_segment(&ds, &manifest, s.index, &age)
                .map_err(|_| "this device's keys do not open it".to_string())?;
            segments.push(Segment {
                start_ms: s.start_ms,
                duration_ms: u64::from(s.duration_ms),
                bytes,
            });
        }
        let sound = match std::env::var("ASSENT_AUDIO_OUT").as_deref() {
            Ok("none") => Sound::Discard,
            _ => Sound::Speakers,
        };
        Player::new(segments, sound).map(std::sync::Arc::new)
    }
    .await
}

/// The meeting as the server sees it (host, locked, our role).
pub async fn meeting_info(
    dir: PathBuf,
    code: String,
) -> Result<assent_shared::api::Meeting, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.meeting(&code).await.map_err(|e| e.to_string())
    }
    .await
}

/// A host action on the meeting `code`.
pub async fn host_action(
    dir: PathBuf,
    code: String,
    action: super::room::HostAction,
) -> Result<(), String> {
    use super::room::HostAction;
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        match action {
            HostAction::Lock(locked) => api.lock_meeting(&code, locked).await,
            HostAction::End => api.end_meeting(&code).await,
            HostAction::Remove(user) => api.remove_member(&code, user).await,
            HostAction::MakeCohost(user) => {
                api.set_role(&code, user, assent_shared::api::MeetingRole::Cohost)
                    .await
            }
        }
        .map_err(|e| e.to_string())
    }
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_engine::store::RecordingRow;

    fn recording(profile: &Path, id: &str) -> PathBuf {
        let dir = library::root(profile).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("segment-000000.age"), b"ciphertext").unwrap();
        let store = store(profile).unwrap();
        store
            .add_recording(&RecordingRow {
                id: id.into(),
                title: "Weekly sync".into(),
                dir: dir.to_string_lossy().into_owned(),
                call_id: "c".into(),
                started_at: 1,
                ended_at: Some(2),
                participants: vec![],
                tags: vec![],
                size: 10,
                segments: 1,
                state: "complete".into(),
                scope: "local".into(),
                retention_days: 30,
                cloud_state: "none".into(),
                uploaded_bytes: 0,
            })
            .unwrap();
        dir
    }

    /// Sounds in calls are on until turned off, and the setting is kept in the profile.
    #[tokio::test(flavor = "multi_thread")]
    async fn call_sounds_setting_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        assert!(sounds_on(&store(&dir).unwrap()));
        set_sounds(dir.clone(), false).await.unwrap();
        assert!(!sounds_on(&store(&dir).unwrap()));
        // Turned off, a sound is not played (and waiting for it costs nothing).
        chime(dir.clone(), assent_engine::media::chime::Chime::Asked, None).await;
        set_sounds(dir.clone(), true).await.unwrap();
        assert!(sounds_on(&store(&dir).unwrap()));
    }

    /// Deleting the local copy removes its files and its row; a recording whose recorder
    /// holds the lock is refused and left whole.
    #[tokio::test(flavor = "multi_thread")]
    async fn deleting_a_local_copy_respects_the_recorders_lock() {
        let profile = tempfile::tempdir().unwrap();
        let p = profile.path().to_path_buf();
        let busy = recording(&p, "busy");
        let lock = library::lock(&library::root(&p), "busy").unwrap();
        let err = delete_recording(p.clone(), "busy".into(), true, false)
            .await
            .unwrap_err();
        assert!(err.contains("in use"), "{err}");
        assert!(busy.join("segment-000000.age").exists());
        drop(lock);

        let done = recording(&p, "done");
        delete_recording(p.clone(), "done".into(), true, false)
            .await
            .unwrap();
        assert!(!done.exists());
        let ids: Vec<String> = store(&p)
            .unwrap()
            .recordings()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["busy"]);
        let err = delete_recording(p, "done".into(), true, false)
            .await
            .unwrap_err();
        assert!(err.contains("not on this device"), "{err}");
    }
}
