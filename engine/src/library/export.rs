//! Decrypting one track of a verified recording to a plain file: the chat as text, the media
//! remuxed into one Matroska file that is read back before it counts. A failure leaves no file
//! behind, and nothing that exists is ever overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use assent_shared::container::{DirStore, Report, Track, decrypt_segment, decrypt_segment_to};

use super::error::{LibraryError, Result};
use crate::recorder::export::TrackSummary;

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct Exported {
    /// The plain file.
    pub path: PathBuf,
    pub bytes: u64,
    /// The media tracks read back from it (none for the chat).
    pub tracks: Vec<TrackSummary>,
}

/// Decrypt track `want` of the recording in `dir` to `out`, which must not exist.
pub(super) fn track(
    dir: &Path,
    report: &Report,
    id: &age::x25519::Identity,
    out: &Path,
    want: Track,
) -> Result<Exported> {
    let store = DirStore::open(dir).map_err(LibraryError::Open)?;
    if out.exists() {
        return Err(LibraryError::Exists(out.to_path_buf()));
    }
    // Decrypt into a side file and publish it at the end: a failure leaves no half-written
    // export.
    let partial = out.with_extension("partial");
    let result = write(&store, report, id, &partial, want).and_then(|(bytes, tracks)| {
        publish(&partial, out)?;
        Ok(Exported {
            path: out.to_path_buf(),
            bytes,
            tracks,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn write(
    store: &DirStore,
    report: &Report,
    id: &age::x25519::Identity,
    partial: &Path,
    want: Track,
) -> Result<(u64, Vec<TrackSummary>)> {
    let io = |source| LibraryError::Write {
        path: partial.to_path_buf(),
        source,
    };
    // Decrypted content: readable by this user only, and never through an existing file
    // (O_EXCL: no symlink or earlier file is followed).
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(partial)
            .map_err(io)?
    };
    let segments = report.manifest.segments.iter().filter(|s| s.track == want);
    if want == Track::Chat {
        // Chat is text: the lines of every segment, in order.
        let mut written = 0;
        for seg in segments {
            written += decrypt_segment_to(store, &report.manifest, seg.index, id, &mut file)
                .map_err(|_| LibraryError::Undecryptable(seg.index))?;
        }
        file.flush().map_err(io)?;
        file.sync_all().map_err(io)?;
        return Ok((written, Vec::new()));
    }
    // Media: one Matroska file remuxed from every segment (each plays on its own; the tracks
    // are followed across them).
    let mut plain = Vec::new();
    for seg in segments {
        let bytes = decrypt_segment(store, &report.manifest, seg.index, id)
            .map_err(|_| LibraryError::Undecryptable(seg.index))?;
        plain.push((seg.start_ms, bytes));
    }
    drop(file);
    crate::recorder::export::remux(&plain, partial)?;
    let written = std::fs::metadata(partial).map_err(io)?.len();
    // Read it back: an export that does not play is an error, not a file.
    let tracks = crate::recorder::export::probe(partial)?;
    std::fs::File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    Ok((written, tracks))
}

/// Publish under the final name without overwriting anything that appeared there in the
/// meantime: a hard link fails if the name exists (no check-then-rename race).
fn publish(partial: &Path, out: &Path) -> Result<()> {
    std::fs::hard_link(partial, out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            LibraryError::Exists(out.to_path_buf())
        } else {
            LibraryError::Write {
                path: out.to_path_buf(),
                source: e,
            }
        }
    })?;
    std::fs::remove_file(partial).map_err(|source| LibraryError::Write {
        path: partial.to_path_buf(),
        source,
    })
}

/// Where the window exports to: the user's videos folder (`~/Videos/Assent`, or
/// `~/Assent exports` without one), under a name made from the title and date that does not
/// collide with anything there.
pub(super) fn default_path(report: &Report, track: Track) -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or(LibraryError::NoHome)?;
    let folder = if home.join("Videos").is_dir() {
        home.join("Videos").join("Assent")
    } else {
        home.join("Assent exports")
    };
    std::fs::create_dir_all(&folder).map_err(|source| LibraryError::Write {
        path: folder.clone(),
        source,
    })?;
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
    let date = date_of(report.manifest.started_at.0);
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
    Ok(out)
}

/// `YYYY-MM-DD HHMM` (UTC) of a time in milliseconds since the epoch.
pub(super) fn date_of(ms: u64) -> String {
    assent_shared::Timestamp(ms)
        .to_rfc3339()
        .get(..16)
        .map(|s| s.replace('T', " ").replace(':', ""))
        .unwrap_or_default()
}
