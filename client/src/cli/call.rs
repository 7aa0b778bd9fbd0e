//! `assent meeting create` and `assent call CODE`: a headless call with test, file or device
//! media. Events are printed as JSON lines on standard output; commands are read as lines on
//! standard input (`chat TEXT`, `mute`, `unmute`, `camera on|off`, `hand up|down`, `stats`,
//! `leave`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use assent_engine::ConsentEvent;
use assent_engine::RecorderEvent;
use assent_engine::Session;
use assent_engine::UploadEvent;
use assent_engine::{
    CallCommand as Command, CallEnd as EndReason, CallEvent, CallMachineEvent as Event,
    CallOptions, CandidateFilter, Kind, MediaOptions, Output,
};
use assent_shared::call::MediaState;
use assent_shared::consent::Scope;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use super::account::runtime;

#[derive(Subcommand, Debug)]
pub(crate) enum MeetingCommand {
    /// Create an instant meeting and print its join code.
    Create {
        #[arg(long, default_value = "Meeting")]
        title: String,
        #[arg(long)]
        json: bool,
    },
    /// Lock a meeting you host (nobody new can join), or `--unlock` it.
    Lock {
        code: String,
        #[arg(long)]
        unlock: bool,
    },
    /// Remove someone (by user id) from a meeting you host; they cannot come back.
    Remove { code: String, user: String },
    /// End a meeting you host, for everyone in it.
    End { code: String },
}

#[derive(Args, Debug)]
pub(crate) struct CallArgs {
    /// The meeting's join code (or an assent://join/CODE link).
    code: String,
    /// Leave after this long (e.g. 30s, 5m); without it, stay until `leave` or end of input.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Video: test[:PATTERN] (videotestsrc's, or busy: a picture that uses its bitrate), file:PATH, camera[:DEVICE] (through nokhwa; DEVICE as `assent devices` lists it), v4l2[:DEVICE] (the same through GStreamer's v4l2src, to compare), screen, none.
    #[arg(long, default_value = "test")]
    video: String,
    /// Audio: test[:HZ], file:PATH, mic[:DEVICE] (a microphone through cpal; DEVICE as `assent devices` lists it), pulse[:DEVICE] (the same through GStreamer's pulsesrc, to compare), none.
    #[arg(long, default_value = "test")]
    audio: String,
    /// What `screen on` shares: screen, or a video source as for --video.
    #[arg(long, default_value = "screen")]
    screen: String,
    /// Video codecs, most preferred first (vp8 is always possible).
    #[arg(long, value_delimiter = ',', default_value = "vp8,vp9,h264")]
    codecs: Vec<String>,
    /// Video size, WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480")]
    size: String,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Start with the microphone muted.
    #[arg(long)]
    muted: bool,
    /// Start with the camera off.
    #[arg(long)]
    camera_off: bool,
    /// Receive jitter buffer, ms.
    #[arg(long, default_value_t = 50)]
    latency: u32,
    /// Relay everything through TURN (ICE transport policy "relay").
    #[arg(long)]
    relay_only: bool,
    /// Do not use the server's STUN/TURN servers.
    #[arg(long)]
    no_server_ice: bool,
    /// Gather ICE candidates on this address only (repeatable). Tests use 127.0.0.1.
    #[arg(long = "ice-address")]
    ice_addresses: Vec<std::net::IpAddr>,
    /// Use only remote candidates in these networks (repeatable, e.g. 127.0.0.0/8).
    #[arg(long = "ice-allow")]
    ice_allow: Vec<String>,
    /// Print statistics every this many seconds (and always at the end).
    #[arg(long)]
    stats_every: Option<u64>,
    /// Stamp frames with the capture time and measure latency at the receiver, and with --play
    /// the offset of a test:flash sender's flashes from its test:beep beeps (benchmark).
    #[arg(long)]
    stamp_frames: bool,
    /// Play remote audio on the sound device (default: decode and count only).
    #[arg(long)]
    play: bool,
    /// With --play: the sound server's output device (default: the system's), played through
    /// GStreamer's pulsesink; `cpal:NAME` (`cpal:` for the default) plays it through cpal.
    #[arg(long, requires = "play")]
    speaker: Option<String>,
    /// Echo cancellation and noise suppression on a microphone (mic:...): on or off (default:
    /// the profile's setting, on unless turned off in the window).
    #[arg(long, value_parser = parse_on_off)]
    voice_processing: Option<bool>,
    /// With voice processing: raise the microphone's level automatically, on or off (default:
    /// the profile's setting, off unless turned on; it lets echo through, so for a headset).
    #[arg(long, value_parser = parse_on_off)]
    gain_control: Option<bool>,
    /// With --play: show each peer's pictures in step with their voice (on, the default) or as
    /// soon as they are decoded (off).
    #[arg(long, value_parser = parse_on_off)]
    lip_sync: Option<bool>,
    /// Delay-based congestion control (Google Congestion Control from transport-wide feedback)
    /// besides the loss-based rate: on (the default) or off.
    #[arg(long, value_parser = parse_on_off)]
    congestion_control: Option<bool>,
    /// Reach signaling through this WebSocket URL (a proxy) instead of the server's.
    #[arg(long)]
    signal_url: Option<String>,
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: use on or off")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("not a duration: {s} (use 500ms, 30s, 5m)")),
    };
    if !(0.0..=86_400.0 * 7.0).contains(&secs) {
        return Err(format!("duration out of range: {s}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub(crate) fn run_meeting(profile_dir: &Path, cmd: MeetingCommand) -> anyhow::Result<ExitCode> {
    let profile = Session::open(profile_dir)?;
    let (api, _) = profile.api()?;
    let rt = runtime()?;
    rt.block_on(async move {
        match cmd {
            MeetingCommand::Create { title, json } => {
                let code = assent_engine::create_meeting(&api, &title).await?;
                if json {
                    println!(
                        "{}",
                        json!({"code": code, "link": format!("assent://join/{code}")})
                    );
                } else {
                    println!("{code}");
                }
            }
            MeetingCommand::Lock { code, unlock } => {
                let code = assent_engine::join_code(&code);
                api.lock_meeting(&code, !unlock).await?;
                println!(
                    "{}",
                    if unlock {
                        "Unlocked: anyone with the code can join."
                    } else {
                        "Locked: nobody new can join."
                    }
                );
            }
            MeetingCommand::Remove { code, user } => {
                let user: assent_shared::ids::UserId =
                    user.parse().map_err(|_| anyhow::anyhow!("not a user id"))?;
                api.remove_member(&assent_engine::join_code(&code), user)
                    .await?;
                println!("Removed.");
            }
            MeetingCommand::End { code } => {
                api.end_meeting(&assent_engine::join_code(&code)).await?;
                println!("The meeting has ended for everyone.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Print one event line, stamped with the time (Unix ms).
fn emit(mut v: Value) {
    use std::io::Write;
    if let Some(o) = v.as_object_mut() {
        o.insert("at".into(), json!(assent_shared::Timestamp::now().0));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn event_json(e: &CallEvent) -> Value {
    match e {
        CallEvent::Admitted { title, code } => {
            json!({"event": "admitted", "title": title, "code": code})
        }
        CallEvent::Reconnecting { attempt } => json!({"event": "reconnecting", "attempt": attempt}),
        CallEvent::Server(m) => json!({"event": "server", "message": m}),
        CallEvent::MediaError(m) => json!({"event": "media_error", "message": m}),
        CallEvent::ScreenNotShared(m) => json!({"event": "screen_not_shared", "message": m}),
        CallEvent::Device(d) => json!({"event": "device", "kind": d.kind, "device": d.device,
            "back": d.back, "using": d.using, "message": d.message()}),
        CallEvent::Closed { reason } => json!({"event": "closed", "reason": reason}),
        CallEvent::Recording(r) => recording_json(r),
        CallEvent::Upload(u) => upload_json(u),
        CallEvent::Call(e) => match e {
            Event::Joined { call, me, resumed } => json!({"event": "joined",
                "call": call.to_string(), "peer": me.to_string(), "resumed": resumed}),
            Event::ParticipantJoined {
                peer,
                user,
                email,
                name,
                arrived,
            } => json!({"event": "participant_joined", "arrived": arrived,
                "peer": peer.to_string(), "user": user.to_string(), "email": email, "name": name}),
            Event::KeyTrusted {
                peer,
                compared,
                safety_number,
            } => json!({"event": "key_trusted", "peer": peer.to_string(), "compared": compared,
                "safety_number": safety_number}),
            Event::KeyChanged {
                peer,
                email,
                name,
                safety_number,
            } => json!({"event": "key_changed", "peer": peer.to_string(), "email": email,
                "name": name, "safety_number": safety_number}),
            Event::Equivocation { evidence } => json!({"event": "equivocation",
                "epoch": evidence.a.epoch(),
                "evidence": serde_json::to_value(evidence.as_ref()).unwrap_or_default()}),
            Event::RecordingHead { peer, head } => {
                let h = head.open().ok().map(|(h, _)| h);
                json!({"event": "recording_head", "peer": peer.to_string(),
                    "recording": h.map(|h| h.recording_id.to_string()),
                    "segments": h.map(|h| h.segments), "sealed": h.map(|h| h.ended)})
            }
            Event::ParticipantLeft { peer, reason } => json!({"event": "participant_left",
                "peer": peer.to_string(), "reason": format!("{reason:?}").to_lowercase()}),
            Event::Connected { peer } => json!({"event": "connected", "peer": peer.to_string()}),
            Event::PeerFailed { peer, reason } => json!({"event": "peer_failed",
                "peer": peer.to_string(), "reason": reason}),
            Event::RemoteMedia { peer, state } => json!({"event": "remote_media",
                "peer": peer.to_string(), "audio": state.audio, "video": state.video,
                "screen": state.screen, "hand": state.hand}),
            Event::Chat {
                from,
                id,
                text,
                sent_at,
            } => json!({"event": "chat", "from": from.to_string(), "id": id, "text": text,
                        "sent_at": sent_at}),
            Event::ChatSent { id, to } => json!({"event": "chat_sent", "id": id,
                "to": to.iter().map(|p| p.to_string()).collect::<Vec<_>>()}),
            Event::ChatDelivered { id, to } => json!({"event": "chat_delivered", "id": id,
                "to": to.to_string()}),
            Event::Refused { peer, error } => json!({"event": "refused",
                "peer": peer.to_string(), "error": error}),
            Event::CommandFailed { reason } => json!({"event": "command_failed", "reason": reason}),
            Event::Consent(c) => consent_json(c),
            Event::Ended { reason } => json!({"event": "ended", "reason": match reason {
                EndReason::Left => "left",
                EndReason::Removed => "removed",
                EndReason::MeetingEnded => "meeting_ended",
            }}),
        },
    }
}

pub(crate) fn upload_json(u: &UploadEvent) -> Value {
    match u {
        UploadEvent::Progress {
            id,
            uploaded,
            total,
        } => json!({"event": "upload_progress", "recording": id, "uploaded": uploaded,
                    "total": total}),
        UploadEvent::Complete { id, total } => {
            json!({"event": "upload_complete", "recording": id, "total": total})
        }
        UploadEvent::Retrying {
            id,
            attempt,
            in_ms,
            error,
        } => json!({"event": "upload_retrying", "recording": id, "attempt": attempt,
                    "in_ms": in_ms, "error": error}),
        UploadEvent::Failed { id, error } => {
            json!({"event": "upload_failed", "recording": id, "error": error})
        }
    }
}

fn consent_json(c: &ConsentEvent) -> Value {
    match c {
        ConsentEvent::Asked {
            recording,
            title,
            proposer,
            scope,
            retention_days,
            epoch,
            recipients,
            joined,
        } => json!({"event": "consent_asked", "recording": recording.to_string(), "title": title,
            "proposer": proposer, "scope": match scope {
                Scope::Local => "local",
                Scope::LocalAndCloud => "local_and_cloud",
            }, "retention_days": retention_days, "epoch": epoch, "joined": joined,
            "recipients": recipients.iter().map(|r| json!({"name": r.name, "email": r.email,
                "verified": r.verified, "proven": r.proven, "fingerprint": r.fingerprint,
                "you": r.you})).collect::<Vec<_>>()}),
        ConsentEvent::Status {
            state,
            title,
            agreed,
            waiting_for,
        } => json!({"event": "recording", "state": format!("{state:?}").to_lowercase(),
            "title": title, "agreed": agreed, "waiting_for": waiting_for}),
        ConsentEvent::Ended { reason } => json!({"event": "recording_ended", "reason": reason}),
        ConsentEvent::Refused { error } => json!({"event": "consent_refused", "error": error}),
    }
}

fn recording_json(r: &RecorderEvent) -> Value {
    match r {
        RecorderEvent::Started { id, dir, .. } => json!({"event": "recording_started",
            "recording": id.to_string(), "dir": dir}),
        RecorderEvent::Segment {
            id,
            index,
            track,
            bytes,
        } => json!({"event": "segment_written", "recording": id.to_string(), "index": index,
            "track": format!("{track:?}").to_lowercase(), "bytes": bytes}),
        RecorderEvent::Paused { id } => json!({"event": "recording_paused",
            "recording": id.to_string()}),
        RecorderEvent::Resumed { id } => json!({"event": "recording_resumed",
            "recording": id.to_string()}),
        RecorderEvent::Finished {
            id,
            dir,
            segments,
            bytes,
        } => json!({"event": "recording_finished", "recording": id.to_string(), "dir": dir,
            "segments": segments, "bytes": bytes}),
        RecorderEvent::Head { id, head } => {
            let h = head.open().ok().map(|(h, _)| h);
            json!({"event": "recording_head_shown", "recording": id.to_string(),
                "segments": h.map(|h| h.segments), "sealed": h.map(|h| h.ended)})
        }
        RecorderEvent::Failed { reason } => json!({"event": "recorder_failed", "reason": reason}),
    }
}

/// A peer id as events print it (16 hex digits).
fn parse_peer(s: &str) -> Option<assent_shared::signal::PeerId> {
    serde_json::from_value(json!(s)).ok()
}

/// `record [--local|--cloud] [--days N] TITLE`.
fn parse_record(rest: &str) -> Result<Command, String> {
    let mut scope = Scope::LocalAndCloud;
    let mut days: u16 = 30;
    let mut words = rest.split_whitespace().peekable();
    let mut title = Vec::new();
    while let Some(w) = words.next() {
        match w {
            "--local" => scope = Scope::Local,
            "--cloud" => scope = Scope::LocalAndCloud,
            "--days" => {
                days = words
                    .next()
                    .and_then(|d| d.parse().ok())
                    .ok_or("record --days N: a number of days")?
            }
            other => title.push(other),
        }
    }
    let title = title.join(" ");
    if title.is_empty() {
        return Err("record [--local|--cloud] [--days N] TITLE".into());
    }
    Ok(Command::Record {
        title,
        scope,
        retention_days: days,
    })
}

fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s.split_once('x').context("--size WIDTHxHEIGHT")?;
    let (w, h): (u32, u32) = (w.parse()?, h.parse()?);
    if !(16..=3840).contains(&w) || !(16..=2160).contains(&h) {
        bail!("video size out of range: {s}");
    }
    Ok((w, h))
}

pub(crate) fn run_call(profile_dir: &Path, args: CallArgs) -> anyhow::Result<ExitCode> {
    let profile = Session::open(profile_dir)?;
    let mut opts = call_options(&profile, &args)?;
    let settings = assent_engine::Settings::open(profile_dir)?;
    opts.media.voice_processing = args
        .voice_processing
        .unwrap_or_else(|| settings.voice_processing());
    opts.media.gain_control = args.gain_control.unwrap_or_else(|| settings.gain_control());
    let rt = runtime()?;
    let result = rt.block_on(async move {
        let (handle, events) = profile.join(opts).await?.into_parts();
        Ok(drive(handle, events, &args).await)
    });
    // The stdin reader is a blocking thread that never returns while stdin stays open: do
    // not wait for it.
    rt.shutdown_background();
    result
}

/// The call's options from the command line.
fn call_options(profile: &Session, args: &CallArgs) -> anyhow::Result<CallOptions> {
    let (width, height) = parse_size(&args.size)?;
    let source = |kind, spec: &str| assent_engine::parse_source(kind, spec);
    let video = source(Kind::Video, &args.video)?;
    let audio = source(Kind::Audio, &args.audio)?;
    let screen = source(Kind::Video, &args.screen)?;
    let mut codecs = Vec::new();
    for c in &args.codecs {
        codecs.push(
            assent_engine::VideoCodec::parse(c)
                .with_context(|| format!("unknown codec {c}: use vp8, vp9, h264"))?,
        );
    }
    let candidates = CandidateFilter::parse(&args.ice_allow)?;
    Ok(CallOptions {
        meeting: assent_engine::join_code(&args.code),
        media: MediaOptions {
            video,
            audio,
            screen,
            codecs,
            latency_ms: args.latency,
            output: if args.play {
                Output::Display
            } else {
                Output::Headless
            },
            stamp_frames: args.stamp_frames,
            speaker: args.speaker.clone(),
            lip_sync: args.lip_sync.unwrap_or(true),
            congestion_control: args.congestion_control.unwrap_or(true),
            ..MediaOptions::default()
        }
        .with_size(width, height, args.fps.clamp(1, 60)),
        relay_only: args.relay_only,
        local_addresses: args.ice_addresses.clone(),
        server_ice: !args.no_server_ice,
        machine: assent_engine::CallConfig {
            candidates,
            ..assent_engine::CallConfig::default()
        },
        initial: initial_state(args),
        signal_url: args.signal_url.clone(),
        device: profile.device_id(),
    })
}

fn initial_state(args: &CallArgs) -> MediaState {
    MediaState {
        audio: !args.muted,
        video: !args.camera_off,
        screen: false,
        hand: false,
    }
}

/// Run the call: events out as JSON lines, commands in from stdin, until it closes; the exit
/// status says whether it ended as asked.
async fn drive(
    handle: assent_engine::CallHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<CallEvent>,
    args: &CallArgs,
) -> ExitCode {
    let mut state = initial_state(args);
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let mut stats_tick = args
        .stats_every
        .map(|s| tokio::time::interval(Duration::from_secs(s.max(1))));
    let mut final_stats = None;
    let mut left = false;
    let code = loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break ExitCode::FAILURE };
                emit(event_json(&ev));
                // Not shared after all: the next switch must not ask again.
                if let CallEvent::ScreenNotShared(_) = &ev {
                    state.screen = false;
                }
                if let CallEvent::Closed { reason } = &ev {
                    let asked = left || reason == "left the call";
                    drain(&mut events).await;
                    break if asked { ExitCode::SUCCESS } else { ExitCode::FAILURE };
                }
            }
            line = stdin.next_line(), if stdin_open => {
                let Ok(Some(line)) = line else {
                    // End of input is not a request to leave (scripts close stdin).
                    stdin_open = false;
                    continue;
                };
                match parse_line(&line, &mut state) {
                    Line::Send(c) => handle.send(c),
                    Line::Failed(reason) => emit(json!({"event": "command_failed", "reason": reason})),
                    Line::Stats => {
                        if let Some(s) = handle.stats().await {
                            emit(json!({"event": "stats", "stats": s}));
                        }
                    }
                    Line::Leave => {
                        final_stats = handle.stats().await;
                        left = true;
                        handle.send(Command::Leave);
                    }
                    Line::Nothing => {}
                }
            }
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            }, if !left => {
                final_stats = handle.stats().await;
                left = true;
                handle.send(Command::Leave);
            }
            _ = async {
                match stats_tick.as_mut() {
                    Some(t) => { t.tick().await; }
                    None => std::future::pending().await,
                }
            } => {
                if let Some(s) = handle.stats().await {
                    emit(json!({"event": "stats", "stats": s}));
                }
            }
        }
    };
    if let Some(s) = final_stats {
        emit(json!({"event": "final_stats", "stats": s}));
    }
    code
}

/// The cloud copy of a recording made here finishes after the call: report it until the
/// uploads are done (or resume them later with `assent recordings upload`).
async fn drain(events: &mut tokio::sync::mpsc::UnboundedReceiver<CallEvent>) {
    let drain = tokio::time::timeout(assent_engine::UPLOAD_DRAIN_TIMEOUT, async {
        while let Some(ev) = events.recv().await {
            emit(event_json(&ev));
        }
    });
    if drain.await.is_err() {
        emit(json!({"event": "upload_deferred",
                    "reason": "still uploading; `assent recordings upload` resumes it"}));
    }
}

/// What a line on stdin asks for.
#[derive(Debug)]
enum Line {
    Send(Command),
    Stats,
    Leave,
    Failed(String),
    Nothing,
}

/// Read one stdin line (`chat TEXT`, `mute`, `camera on`, `record …`, `leave`, …); the media
/// switches change `state`, which is what is sent.
fn parse_line(line: &str, state: &mut MediaState) -> Line {
    let line = line.trim();
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut set = |f: &mut dyn FnMut(&mut MediaState)| {
        f(state);
        Line::Send(Command::SetMedia(*state))
    };
    match (verb, rest.trim()) {
        ("chat", text) => Line::Send(Command::Chat(text.to_string())),
        ("mute", _) => set(&mut |s| s.audio = false),
        ("unmute", _) => set(&mut |s| s.audio = true),
        ("camera", "on") => set(&mut |s| s.video = true),
        ("camera", "off") => set(&mut |s| s.video = false),
        ("screen", "on") => set(&mut |s| s.screen = true),
        ("screen", "off") => set(&mut |s| s.screen = false),
        ("hand", "up") => set(&mut |s| s.hand = true),
        ("hand", "down") => set(&mut |s| s.hand = false),
        ("record", rest) => match parse_record(rest) {
            Ok(c) => Line::Send(c),
            Err(reason) => Line::Failed(reason),
        },
        ("agree", _) => Line::Send(Command::AgreeRecording),
        ("decline", _) => Line::Send(Command::DeclineRecording),
        ("withdraw", _) => Line::Send(Command::WithdrawConsent),
        ("verified", peer) => match parse_peer(peer) {
            Some(p) => Line::Send(Command::MarkVerified(p)),
            None => Line::Failed("verified PEER (after comparing the safety number)".into()),
        },
        ("accept-key", peer) => match parse_peer(peer) {
            Some(p) => Line::Send(Command::AcceptKey(p)),
            None => Line::Failed("accept-key PEER (the peer id of a key_changed event)".into()),
        },
        ("stats", _) => Line::Stats,
        ("leave", _) => Line::Leave,
        ("", _) => Line::Nothing,
        _ => Line::Failed(format!("unknown command: {verb}")),
    }
}

pub(crate) fn run_devices(json: bool) -> anyhow::Result<ExitCode> {
    let devices = assent_engine::list_devices()?;
    if json {
        println!("{}", serde_json::to_string(&devices)?);
    } else if devices.is_empty() {
        println!("No cameras, microphones or speakers found.");
    } else {
        for d in devices {
            println!(
                "{:<10} {}{}",
                format!("{:?}", d.kind).to_lowercase(),
                d.name,
                d.id.map(|i| format!("  ({i})")).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stdin lines become commands; the media switches change the state that is sent.
    #[test]
    fn stdin_lines_become_commands() {
        let mut state = MediaState {
            audio: true,
            video: true,
            screen: false,
            hand: false,
        };
        assert!(
            matches!(parse_line("mute", &mut state), Line::Send(Command::SetMedia(s)) if !s.audio && s.video)
        );
        assert!(
            matches!(parse_line(" hand up ", &mut state), Line::Send(Command::SetMedia(s)) if s.hand && !s.audio)
        );
        assert!(!state.audio && state.hand);
        assert!(
            matches!(parse_line("chat hello there", &mut state), Line::Send(Command::Chat(t)) if t == "hello there")
        );
        assert!(matches!(parse_line("leave", &mut state), Line::Leave));
        assert!(matches!(parse_line("", &mut state), Line::Nothing));
        assert!(matches!(
            parse_line("verified nobody", &mut state),
            Line::Failed(_)
        ));
        assert!(
            matches!(parse_line("dance", &mut state), Line::Failed(r) if r == "unknown command: dance")
        );
    }

    #[test]
    fn durations_and_codes() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
        assert_eq!(
            assent_engine::join_code("assent://join/abc-defg-hij"),
            "abc-defg-hij"
        );
        assert_eq!(assent_engine::join_code(" abc "), "abc");
        assert!(parse_size("640x480").is_ok());
        assert!(parse_size("640").is_err());
        assert!(parse_size("99999x480").is_err());
    }
}
