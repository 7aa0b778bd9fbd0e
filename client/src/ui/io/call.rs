//! The devices, the preview and the call.

use super::*;

/// A call running for the window: commands go to `handle` (its events come through the
/// room's subscription, [`call`]).
#[derive(Clone)]
pub struct CallLink {
    pub handle: assent_engine::CallHandle,
    /// The speaker chosen for the call (its sounds play there too).
    pub speaker: Option<String>,
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
        let profile = settings_of(&dir).ok();
        setup::Devices::list(profile.as_ref()).map_err(say)
    })
    .await
    .map_err(|e| format!("cannot list the devices: {e}"))?
}

/// Remember the devices of a call for the next one.
pub(super) fn remember_devices(settings: &assent_engine::Settings, joining: &setup::Joining) {
    let chosen = setup::Chosen {
        camera: joining.video.clone(),
        microphone: joining.audio.clone(),
        speaker: joining.speaker.clone(),
    };
    setup::Devices::remember(settings, &chosen);
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
    profile: &Session,
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
    })
}

/// A call the room asked for: what to join with. Each request is a call of its own (its
/// subscription is told apart by `id` alone).
#[derive(Debug, Clone)]
pub struct CallRequest {
    id: u64,
    dir: PathBuf,
    joining: setup::Joining,
}

impl CallRequest {
    pub fn new(dir: PathBuf, joining: setup::Joining) -> CallRequest {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CallRequest { id, dir, joining }
    }
}

impl std::hash::Hash for CallRequest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// What the call's subscription reports: that it started (or why not), then its events (the
/// last ones are its uploads finishing, after it closed).
#[derive(Debug, Clone)]
pub enum CallUpdate {
    Started(Result<CallLink, String>),
    Event(assent_engine::CallEvent),
}

/// The call as a subscription's stream (for `Subscription::run_with`): it joins when the room
/// subscribes and leaves when the room goes away (the stream is dropped). Its engine tasks run
/// on the window's runtime; uploads that outlive the room go on there.
pub fn call(request: &CallRequest) -> impl futures_util::Stream<Item = CallUpdate> + use<> {
    enum State {
        Starting(PathBuf, setup::Joining),
        Running(
            LeaveOnDrop,
            tokio::sync::mpsc::UnboundedReceiver<assent_engine::CallEvent>,
        ),
        Over,
    }
    let start = State::Starting(request.dir.clone(), request.joining.clone());
    futures_util::stream::unfold(start, |state| async move {
        match state {
            State::Starting(dir, joining) => match start_call(dir, joining).await {
                Ok((link, events)) => {
                    let guard = LeaveOnDrop(link.handle.clone());
                    Some((CallUpdate::Started(Ok(link)), State::Running(guard, events)))
                }
                Err(e) => Some((CallUpdate::Started(Err(e)), State::Over)),
            },
            State::Running(guard, mut events) => {
                let ev = events.recv().await?;
                Some((CallUpdate::Event(ev), State::Running(guard, events)))
            }
            State::Over => None,
        }
    })
}

/// Leaves the call when the room's subscription goes (a call that already ended ignores it).
struct LeaveOnDrop(assent_engine::CallHandle);

impl Drop for LeaveOnDrop {
    fn drop(&mut self) {
        self.0.send(assent_engine::CallCommand::Leave);
    }
}

/// Join the meeting: the profile's account, keys and store, the options chosen in the setup.
async fn start_call(
    dir: PathBuf,
    joining: setup::Joining,
) -> Result<
    (
        CallLink,
        tokio::sync::mpsc::UnboundedReceiver<assent_engine::CallEvent>,
    ),
    String,
> {
    let setup = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let profile = open(&dir)?;
        let mut opts = call_options(&profile, &joining)?;
        let settings = settings_of(&dir)?;
        opts.media.voice_processing = settings.voice_processing();
        opts.media.gain_control = settings.gain_control();
        remember_devices(&settings, &joining);
        Ok((profile, opts, joining.speaker))
    });
    let (profile, opts, speaker) = setup
        .await
        .map_err(|e| format!("cannot start the call: {e}"))??;
    let (handle, events) = profile.join(opts).await.map_err(say)?.into_parts();
    Ok((CallLink { handle, speaker }, events))
}

/// Store one of this device's switches with `set` (blocking: it opens the profile's store);
/// what the screen then says: `said.0` when turned on, `said.1` when off.
async fn switch(
    dir: PathBuf,
    on: bool,
    set: fn(&assent_engine::Settings, bool) -> Result<(), assent_engine::StoreError>,
    said: (&'static str, &'static str),
) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        set(&settings_of(&dir)?, on).map_err(say)?;
        Ok(if on { said.0 } else { said.1 }.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Sounds in calls on or off, for this device.
pub async fn set_sounds(dir: PathBuf, on: bool) -> Result<String, String> {
    let said = ("Calls will play sounds.", "Calls will be silent.");
    switch(dir, on, assent_engine::Settings::set_sounds, said).await
}

/// Echo cancellation and noise suppression on or off, for this device.
pub async fn set_voice_processing(dir: PathBuf, on: bool) -> Result<String, String> {
    let said = (
        "Your microphone will be cleaned of echo and noise from the next call.",
        "Your microphone will be sent as it is from the next call.",
    );
    switch(dir, on, assent_engine::Settings::set_voice_processing, said).await
}

/// Automatic gain control on or off, for this device.
pub async fn set_gain_control(dir: PathBuf, on: bool) -> Result<String, String> {
    let said = (
        "Your microphone's level will be raised automatically from the next call.",
        "Your microphone's level will be left as it is from the next call.",
    );
    switch(dir, on, assent_engine::Settings::set_gain_control, said).await
}

/// Play a call's sound (someone came or left, a request to record) on `speaker`, unless
/// sounds are turned off in the settings.
pub async fn chime(dir: PathBuf, chime: assent_engine::Chime, speaker: Option<String>) {
    let played = tokio::task::spawn_blocking(move || {
        if !settings_of(&dir).is_ok_and(|s| s.sounds()) {
            return Ok(());
        }
        assent_engine::play_chime(chime, speaker.as_deref())
    })
    .await;
    if let Ok(Err(e)) = played {
        tracing::debug!(error = %e, "a call sound did not play");
    }
}
