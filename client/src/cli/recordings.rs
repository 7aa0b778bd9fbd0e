//! `assent recordings verify|export`: check a recording offline, and decrypt it on request.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use assent_engine::UploadEvent;
use assent_engine::{Copies, Keys, Library, LibraryError, Listing};
use assent_shared::consent::EndReason;
use assent_shared::container::{Note, Report, Track, Verdict};
use assent_shared::identity::IdentityKey;
use clap::{Subcommand, ValueEnum};
use serde_json::json;

#[derive(Subcommand, Debug)]
pub(crate) enum RecordingsCommand {
    /// The recordings made on this device: title, date, duration, participants, size, state
    /// (an interrupted recording shows as incomplete), cloud copy.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check a recording's manifest, consent and every segment, without decrypting anything.
    /// Exit status 0: intact (complete or incomplete); 1: problems found.
    Verify {
        /// The recording's directory.
        dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a recording's tags (on this device's copy and the cloud copy; no tags clears them).
    Tag { id: String, tags: Vec<String> },
    /// The cloud copies: upload, list, download, delete.
    #[command(subcommand)]
    Cloud(CloudCommand),
    /// Download a recording you took part in (the same as `cloud download`).
    Download {
        id: String,
        /// Where to put it (must be empty or not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Decrypt one track to a plain file. The result is unprotected: keep it safe.
    Export {
        dir: PathBuf,
        /// A file holding your age identity (AGE-SECRET-KEY-1…).
        #[arg(long)]
        identity: PathBuf,
        /// Where to write the plaintext (must not exist).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = TrackArg::Media)]
        track: TrackArg,
        /// Export even if verification found problems.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum CloudCommand {
    /// Upload (or resume uploading) the cloud copies of recordings made here that are not
    /// complete yet: every one, or the one given. JSON progress events on stdout.
    Upload {
        /// A recording id (default: all pending).
        id: Option<String>,
        /// Give up after this many failed attempts per recording (0: keep trying).
        #[arg(long, default_value_t = 8)]
        attempts: u32,
    },
    /// The recordings on the server you took part in (or, for an organisation admin with
    /// `--all`, every recording's metadata).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Download a recording's ciphertext and signed manifest into a directory, checking every
    /// segment against the manifest; then `assent recordings verify DIR` and `export`.
    Download {
        id: String,
        /// Where to put it (must be empty or not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Delete a recording's cloud copy for everyone (its recorder, or an organisation admin).
    Delete { id: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum TrackArg {
    Media,
    Chat,
}

pub(crate) fn run(profile_dir: &Path, cmd: RecordingsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RecordingsCommand::List { json } => {
            list(profile_dir, json)?;
            Ok(ExitCode::SUCCESS)
        }
        RecordingsCommand::Verify { dir, json } => {
            let report = open(profile_dir, &dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
            } else {
                print!("{}", describe(&report));
            }
            Ok(verdict_exit(report.verdict()))
        }
        RecordingsCommand::Export {
            dir,
            identity,
            out,
            track,
            force,
        } => {
            export(profile_dir, &dir, &identity, &out, track, force)?;
            Ok(ExitCode::SUCCESS)
        }
        RecordingsCommand::Cloud(c) => cloud(profile_dir, c),
        RecordingsCommand::Tag { id, tags } => {
            // `a b`, `a,b` and `"a, b"` alike.
            let tags: Vec<String> = tags
                .iter()
                .flat_map(|t| assent_shared::api::split_tags(t))
                .collect();
            let rt = super::account::runtime()?;
            let kept = rt.block_on(Library::new(profile_dir).retag(&id, &tags))?;
            println!(
                "{}",
                if kept.is_empty() {
                    "no tags".to_string()
                } else {
                    assent_shared::api::hashtags(&kept)
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        RecordingsCommand::Download { id, to } => {
            cloud(profile_dir, CloudCommand::Download { id, to })
        }
    }
}

fn cloud(profile_dir: &Path, cmd: CloudCommand) -> anyhow::Result<ExitCode> {
    let library = Library::new(profile_dir);
    let rt = super::account::runtime()?;
    rt.block_on(async move {
        match cmd {
            CloudCommand::Upload { id, attempts } => {
                let report = |e: UploadEvent| {
                    println!("{}", super::call::upload_json(&e));
                };
                // Every pending one (some may fail: the status says so), or the one asked for.
                let done = library.upload(id.as_deref(), attempts, &report).await?;
                Ok(if done.failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            CloudCommand::List { all } => {
                let list = library.cloud(all).await?;
                println!("{}", serde_json::to_string(&list)?);
                Ok(ExitCode::SUCCESS)
            }
            CloudCommand::Download { id, to } => {
                let got = library.download(&id, Some(&to)).await?;
                println!(
                    "{}",
                    json!({"event": "downloaded", "recording": id,
                           "dir": to, "segments": got.segments, "bytes": got.bytes})
                );
                Ok(ExitCode::SUCCESS)
            }
            CloudCommand::Delete { id } => {
                let cloud_only = Copies {
                    local: false,
                    cloud: true,
                };
                library.delete(&id, cloud_only).await?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn list(profile_dir: &Path, json: bool) -> anyhow::Result<()> {
    let Listing { rows, recovered } = Library::new(profile_dir).list()?;
    for id in &recovered.incomplete {
        eprintln!("recording {id} was interrupted: marked incomplete (its segments verify)");
    }
    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("No recordings on this device.");
    }
    for r in rows {
        let started = assent_shared::Timestamp(r.started_at);
        let duration = r
            .ended_at
            .map(|e| format!("{} s", e.saturating_sub(r.started_at) / 1000))
            .unwrap_or_else(|| "-".into());
        let keep_until = started.plus_millis(u64::from(r.retention_days) * 86_400_000);
        println!(
            "{}  \"{}\"  {}  {}  {} segments, {} bytes  [{}; cloud {}; kept until {}]",
            r.id,
            r.title,
            started.to_rfc3339(),
            duration,
            r.segments,
            r.size,
            r.state,
            r.cloud_state,
            keep_until.to_rfc3339(),
        );
        if !r.participants.is_empty() {
            println!("    with {}", r.participants.join(", "));
        }
        if !r.tags.is_empty() {
            println!("    tagged {}", assent_shared::api::hashtags(&r.tags));
        }
    }
    Ok(())
}

/// Verify a recording's directory, compared with what this profile witnessed during the call.
fn open(profile_dir: &Path, dir: &Path) -> anyhow::Result<Report> {
    Ok(Library::new(profile_dir).verify(dir)?)
}

fn hex(k: &IdentityKey) -> String {
    k.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// Human-readable report.
pub(crate) fn describe(r: &Report) -> String {
    let m = &r.manifest;
    let mut s = String::new();
    let first = m.epochs.first();
    let title = first.map(|p| p.terms.title.as_str()).unwrap_or("");
    s += &format!("Recording {}  \"{}\"\n", m.recording_id, title);
    s += &format!("  call {}\n", m.call_id);
    if let Some(p) = first {
        s += &format!(
            "  scope {:?}, retention {} days, window {} to {}\n",
            p.terms.scope,
            p.terms.retention_days,
            p.terms.not_before.to_rfc3339(),
            p.terms.not_after.to_rfc3339()
        );
    }
    s += &format!(
        "  recorder {} (manifest signed by {})\n",
        m.recorder().map(|k| hex(&k)).unwrap_or_default(),
        hex(&r.signer)
    );
    s += &format!("  started {}\n", m.started_at.to_rfc3339());
    match &m.ended {
        Some(e) => {
            s += &format!(
                "  ended   {} ({})\n",
                e.at.to_rfc3339(),
                ending(e.reason.as_ref())
            )
        }
        None => s += "  ended   never: no signed ending\n",
    }
    s += &format!("  consent epochs: {}\n", m.epochs.len());
    for (key, epoch, at) in r.consents() {
        s += &format!(
            "    consented: {} to epoch {} at {}\n",
            hex(&key),
            epoch,
            at.to_rfc3339()
        );
    }
    let media = m
        .segments
        .iter()
        .filter(|x| x.track == Track::Media)
        .count();
    let bytes: u64 = m.segments.iter().map(|x| x.size).sum();
    s += &format!(
        "  segments: {} ({} media, {} chat), {} bytes of ciphertext\n",
        m.segments.len(),
        media,
        m.segments.len() - media,
        bytes
    );
    for n in &r.notes {
        match n {
            Note::Incomplete => {}
            other => s += &format!("  note: {other}\n"),
        }
    }
    for p in &r.problems {
        s += &format!("  problem: {p}\n");
    }
    s += &verdict(r);
    s
}

/// The last line of a description: what the verification concludes.
fn verdict(r: &Report) -> String {
    match r.verdict() {
        Verdict::Intact => "VERDICT: intact: signed to its ending; every consent signature and \
                            every segment verifies\n"
            .to_string(),
        Verdict::Incomplete => format!(
            "VERDICT: INCOMPLETE, MAY BE TRUNCATED: there is no signed ending. The {} \
             segment(s) listed verify, but the recorder may have crashed, or someone may be \
             showing an earlier version with the end cut off.\n",
            r.manifest.segments.len()
        ),
        Verdict::Tampered => format!(
            "VERDICT: NOT INTACT: {} problem(s); do not rely on this recording\n",
            r.problems.len()
        ),
    }
}

/// `verify`'s exit status: 0 intact, 1 tampered, 2 incomplete (no signed ending: perhaps
/// truncated, never reported as intact).
pub(crate) fn verdict_exit(v: Verdict) -> ExitCode {
    match v {
        Verdict::Intact => ExitCode::SUCCESS,
        Verdict::Tampered => ExitCode::FAILURE,
        Verdict::Incomplete => ExitCode::from(2),
    }
}

/// How a recording ended, in words.
pub(crate) fn ending(reason: Option<&EndReason>) -> String {
    match reason {
        None => "stopped by the recorder".into(),
        Some(EndReason::Withdrawn(n)) => format!("consent withdrawn by {}", hex(&n.body.signer)),
        Some(EndReason::Declined(n)) => format!("declined by {}", hex(&n.body.signer)),
        Some(EndReason::ParticipantJoined(k)) => {
            format!("{} joined before consent was complete", hex(k))
        }
        Some(EndReason::RecorderLeft) => "the recorder left the call".into(),
        Some(EndReason::WindowEnded) => "the consented time window ended".into(),
    }
}

fn report_json(r: &Report) -> serde_json::Value {
    let m = &r.manifest;
    json!({
        "recording_id": m.recording_id.to_string(),
        "call_id": m.call_id.to_string(),
        "title": m.epochs.first().map(|p| p.terms.title.clone()),
        "recorder": m.recorder().map(|k| hex(&k)),
        "signer": hex(&r.signer),
        "started_at": m.started_at.to_rfc3339(),
        "ended_at": m.ended.as_ref().map(|e| e.at.to_rfc3339()),
        "ending": m.ended.as_ref().map(|e| ending(e.reason.as_ref())),
        "complete": r.is_complete(),
        "intact": r.is_intact(),
        "verifies": r.verifies(),
        "verdict": r.verdict().code(),
        "epochs": m.epochs.len(),
        "consents": r.consents().iter().map(|(k, e, at)| json!({"signer": hex(k), "epoch": e, "at": at.to_rfc3339()})).collect::<Vec<_>>(),
        "segments": m.segments.len(),
        "ciphertext_bytes": m.segments.iter().map(|x| x.size).sum::<u64>(),
        "problems": r.problems.iter().map(|p| json!({"code": p.code(), "detail": format!("{p:?}"), "text": p.to_string()})).collect::<Vec<_>>(),
        "notes": r.notes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
    })
}

fn read_identity(path: &Path) -> anyhow::Result<age::x25519::Identity> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .context("no AGE-SECRET-KEY-1… line in the identity file")?;
    line.parse()
        .map_err(|e| anyhow::anyhow!("invalid age identity: {e}"))
}

fn export(
    profile_dir: &Path,
    dir: &Path,
    identity: &Path,
    out: &Path,
    track: TrackArg,
    force: bool,
) -> anyhow::Result<()> {
    let keys = Keys::Given(read_identity(identity)?);
    let want = match track {
        TrackArg::Media => Track::Media,
        TrackArg::Chat => Track::Chat,
    };
    eprintln!(
        "warning: writing DECRYPTED content to {}; anyone who can read that file can watch it",
        out.display()
    );
    let got = match Library::new(profile_dir).export(dir, want, Some(out), keys, force) {
        Err(LibraryError::DoesNotVerify(n)) => bail!(
            "the recording does not verify ({n} problem(s)); run `assent recordings verify` or pass --force"
        ),
        other => other?,
    };
    for t in &got.tracks {
        eprintln!(
            "track \"{}\": {} frames, {:.1} s",
            t.name,
            t.frames,
            t.end_ms as f64 / 1000.0
        );
    }
    eprintln!("exported {} bytes", got.bytes);
    Ok(())
}
