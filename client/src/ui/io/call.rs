//! The devices, the preview and the call.

use super::*;

/// A call running for the window: commands go to `handle`; `events` is taken once by the app
/// (it ends after the call closed and its uploads are done).
#[derive(Clone)]
pub struct CallLink {
    pub handle: assent_engine::CallHandle,
    /// The speaker chosen for the call (its sounds play there too).
    pub speaker: Option<String>,
    pub events: std::sync::Arc<
        std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<assent_engine::CallEvent>>>,
    >,
}

impl std::fmt::Debug for CallLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallLink(..)")
    }
}

/// The devices the meeting setup offers (the engine's catalogue, with the ones this profile
/// chose last).
pub async fn devices(dir: PathBuf) -> Result<setup::Devices, String> {
    tokio::task::spawn_blocking(move || {
        let profile = store(&dir).ok();
        setup::Devices::list(profile.as_ref()).map_err(say)
    })
    .await
    .map_err(|e| format!("cannot list the devices: {e}"))?
}

/// Remember the devices of a call for the next one.
pub(super) fn remember_devices(store: &assent_engine::Store, joining: &setup::Joining) {
    let chosen = setup::Chosen {
        camera: joining.video.clone(),
        microphone: joining.audio.clone(),
        speaker: joining.speaker.clone(),
    };
    setup::Devices::remember(store, &chosen);
}

/// A running preview for the meeting setup (dropping the last clone lets go of the camera and
/// the microphone).
#[derive(Clone, Debug)]
pub struct PreviewLink(pub std::sync::Arc<assent_engine::Preview>);

/// Start previewing `sources`.
pub async fn start_preview(sources: setup::Sources) -> Result<PreviewLink, String> {
    use assent_engine::Kind;
    tokio::task::spawn_blocking(move || {
        let video = match &sources.video {
            Some(spec) => assent_engine::parse_source(Kind::Video, spec).map_err(say)?,
            None => None,
        };
        let audio = match &sources.audio {
            Some(spec) => assent_engine::parse_source(Kind::Audio, spec).map_err(say)?,
            None => None,
        };
        assent_engine::Preview::start(video.as_deref(), audio.as_deref())
            .map(|p| PreviewLink(std::sync::Arc::new(p)))
            .map_err(say)
    })
    .await
    .map_err(|e| format!("cannot start the preview: {e}"))?
}

/// The call's media and network settings: the sources, speaker and start state chosen in the
/// meeting setup; the network policy from the environment ([`IcePolicy::from_env`]).
pub(super) fn call_options(
    profile: &Profile,
    joining: &setup::Joining,
) -> Result<assent_engine::CallOptions, String> {
    use assent_engine::{CallOptions, IcePolicy, Kind, MediaOptions, Output};
    let parse = |kind: Kind, spec: &Option<String>| match spec {
        Some(spec) => assent_engine::parse_source(kind, spec).map_err(say),
        None => Ok(None),
    };
    let video = parse(Kind::Video, &joining.video)?;
    let audio = parse(Kind::Audio, &joining.audio)?;
    let IcePolicy {
        local_addresses,
        candidates,
    } = IcePolicy::from_env().map_err(say)?;
    Ok(CallOptions {
        meeting: joining.card.code.clone(),
        media: MediaOptions {
            video,
            audio,
            // What "Share screen" captures (`ASSENT_SCREEN`, default the X11/Wayland screen);
            // without one, sharing reports why in the room.
            screen: assent_engine::parse_source(
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
        machine: assent_engine::CallConfig {
            candidates,
            ..assent_engine::CallConfig::default()
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
                    let store = assent_engine::Store::open(&profile.dir().join("profile.db"))
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
                match assent_engine::start_call(api, account, identity, store, opts).await {
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
pub(super) const SOUNDS: &str = "call.sounds";

pub(super) fn sounds_on(store: &assent_engine::Store) -> bool {
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
pub async fn chime(dir: PathBuf, chime: assent_engine::Chime, speaker: Option<String>) {
    let played = tokio::task::spawn_blocking(move || {
        if !store(&dir).is_ok_and(|s| sounds_on(&s)) {
            return Ok(());
        }
        assent_engine::play_chime(chime, speaker.as_deref())
    })
    .await;
    if let Ok(Err(e)) = played {
        tracing::debug!(error = %e, "a call sound did not play");
    }
}

/// The events of a started call as a stream (for `Task::run`).
pub fn call_events(
    link: &CallLink,
) -> impl futures_util::Stream<Item = assent_engine::CallEvent> + use<> {
    let rx = link.events.lock().ok().and_then(|mut e| e.take());
    futures_util::stream::unfold(rx, |rx| async move {
        let mut rx = rx?;
        let ev = rx.recv().await?;
        Some((ev, Some(rx)))
    })
}
