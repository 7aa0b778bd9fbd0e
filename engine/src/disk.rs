//! The recordings on disk, below both the library and the recorder: the directory, the
//! recorder's lock, and recovery. After a crash, a recording its recorder never closed is found
//! (its lock is free), verified, and marked incomplete — every finished segment still counts —
//! and, if its participants agreed to a cloud copy, offered for upload.

use std::fs::File;
use std::path::{Path, PathBuf};

use assent_shared::consent::Scope;
use assent_shared::container::{DirStore, Manifest, Report, verify};

use crate::store::{CloudState, RecordingRow, RecordingState, Store, StoreError};

/// Verify a recording (any copy: local, downloaded, handed over) and compare it with the chain
/// heads this profile witnessed during the call, if it has a store: a copy whose end was cut
/// off, or whose history differs from what the recorder showed, does not verify.
pub fn verify_witnessed(
    profile_dir: &Path,
    copy: &impl assent_shared::container::Store,
) -> Result<Report, WitnessedError> {
    let mut report = verify(copy)?;
    let db = profile_dir.join("profile.db");
    if db.exists() {
        let heads = Store::open(&db)?.heads(&report.manifest.recording_id.to_string())?;
        report.compare_with_witnesses(&heads);
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum WitnessedError {
    #[error("{0}")]
    Container(#[from] assent_shared::container::ContainerError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Where the recordings of a profile are.
pub fn root(profile_dir: &Path) -> PathBuf {
    profile_dir.join("recordings")
}

/// The lock a recorder holds while writing `id` (outside the recording's directory, so the
/// directory holds only the recording's own files).
pub fn lock_path(root: &Path, id: &str) -> PathBuf {
    root.join(format!("{id}.lock"))
}

/// Take the recording lock (the recorder keeps the returned file open while writing).
pub fn lock(root: &Path, id: &str) -> std::io::Result<File> {
    let f = File::create(lock_path(root, id))?;
    f.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "another process is writing this recording",
        ),
        std::fs::TryLockError::Error(e) => e,
    })?;
    Ok(f)
}

/// A library row for a recording, from its manifest.
pub fn row_from_manifest(m: &Manifest, dir: &Path, participants: Vec<String>) -> RecordingRow {
    let first = m.epochs.first();
    let scope = first.map_or(Scope::Local, |p| p.terms.scope);
    RecordingRow {
        id: m.recording_id.to_string(),
        title: first.map(|p| p.terms.title.clone()).unwrap_or_default(),
        dir: dir.to_string_lossy().into_owned(),
        call_id: m.call_id.to_string(),
        started_at: m.started_at.0,
        ended_at: m.ended.as_ref().map(|e| e.at.0),
        participants,
        tags: Vec::new(),
        size: m.segments.iter().map(|s| s.size).sum(),
        segments: m.segments.len() as u32,
        state: if m.ended.is_some() {
            RecordingState::Complete
        } else {
            RecordingState::Recording
        },
        scope,
        retention_days: first.map_or(0, |p| p.terms.retention_days),
        cloud_state: if scope == Scope::LocalAndCloud {
            CloudState::Pending
        } else {
            CloudState::None
        },
        uploaded_bytes: 0,
    }
}

/// What recovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Recordings found abandoned by their recorder, now marked incomplete.
    pub incomplete: Vec<String>,
    /// Recordings on disk the library did not know (a crash before it was told).
    pub adopted: Vec<String>,
}

/// Bring the library in step with the disk: adopt unknown recordings, and mark those whose
/// recorder is gone (lock free) complete or incomplete after verifying them.
pub fn recover(store: &Store, root: &Path) -> Result<Recovered, StoreError> {
    let mut out = Recovered::default();
    let known: std::collections::BTreeSet<String> =
        store.recordings()?.into_iter().map(|r| r.id).collect();
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let dir = e.path();
            if !dir.is_dir() {
                continue;
            }
            let id = e.file_name().to_string_lossy().into_owned();
            if known.contains(&id) {
                continue;
            }
            let Ok(ds) = DirStore::open(&dir) else {
                continue;
            };
            let Ok(report) = verify(&ds) else { continue };
            let row = row_from_manifest(&report.manifest, &dir, Vec::new());
            store.add_recording(&row)?;
            out.adopted.push(id);
        }
    }
    for row in store.recordings()? {
        if row.state != RecordingState::Recording {
            continue;
        }
        // A live recorder holds the lock.
        if lock(root, &row.id).is_err() {
            continue;
        }
        let _ = std::fs::remove_file(lock_path(root, &row.id));
        let dir = PathBuf::from(&row.dir);
        let report = DirStore::open(&dir).ok().and_then(|ds| verify(&ds).ok());
        match report {
            Some(r) => {
                let m = &r.manifest;
                store.recording_progress(
                    &row.id,
                    m.segments.len() as u32,
                    m.segments.iter().map(|s| s.size).sum(),
                )?;
                let state = if m.ended.is_some() {
                    RecordingState::Complete
                } else {
                    RecordingState::Incomplete
                };
                store.recording_ended(&row.id, state, m.ended.as_ref().map(|e| e.at.0))?;
                if state == RecordingState::Incomplete {
                    out.incomplete.push(row.id.clone());
                }
            }
            None => {
                store.recording_ended(&row.id, RecordingState::Incomplete, None)?;
                out.incomplete.push(row.id.clone());
            }
        }
    }
    Ok(out)
}
