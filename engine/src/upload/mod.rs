//! The cloud copy of a recording: its signed manifest is registered with the server and its
//! ciphertext segments go to object storage through presigned URLs, in multipart uploads
//! whose ids are kept in the local store, so that after the app, the server or the storage
//! restarts the upload resumes from the parts storage already holds.
//!
//! [`sync`] brings one recording's cloud copy up to date (everything written so far; and once
//! the recording has ended, completes it). [`spawn`] runs a queue that syncs the recordings it
//! is told about, with retries and backoff, and reports progress.

pub mod plan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assent_shared::api::{PartTag, RecordingStatus};
use assent_shared::consent::Scope;
use assent_shared::container::{MANIFEST_NAME, verify_manifest};
use assent_shared::ids::RecordingId;
use tokio::sync::mpsc;

use crate::api::{Api, ApiError};
use crate::store::{CloudState, RecordingState, Store};
use plan::{Failure, PartSpan};

/// What the uploader reports (the UI shows it; the CLI prints it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadEvent {
    Progress {
        id: String,
        uploaded: u64,
        total: u64,
    },
    /// The cloud copy is complete: every participant can download it.
    Complete { id: String, total: u64 },
    Retrying {
        id: String,
        attempt: u32,
        in_ms: u64,
        error: String,
    },
    /// Given up (the reason will not go away by retrying); kept in the library as failed.
    Failed { id: String, error: String },
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The recording on disk cannot be uploaded as it is.
    #[error("{0}")]
    Local(String),
}

impl UploadError {
    fn failure(&self) -> Failure {
        match self {
            UploadError::Api(e) => plan::classify(e),
            UploadError::Local(_) => Failure::Permanent,
        }
    }
}

/// How far one pass got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// Everything written so far is up; the recording is still open.
    UpToDate { uploaded: u64 },
    /// The cloud copy is complete.
    Complete { total: u64 },
    /// Local only: nothing to do.
    NotForCloud,
}

/// Uploads recordings for one signed-in account.
#[derive(Clone, Debug)]
pub struct Uploader {
    api: Api,
    /// The profile's store (opened per pass: the uploader runs beside the call engine).
    db: PathBuf,
    part_size: u64,
}

fn local(what: &str, e: impl std::fmt::Display) -> UploadError {
    UploadError::Local(format!("{what}: {e}"))
}

impl Uploader {
    pub fn new(api: Api, db: PathBuf) -> Uploader {
        Uploader {
            api,
            db,
            part_size: plan::PART_SIZE,
        }
    }

    fn store(&self) -> Result<Store, UploadError> {
        Store::open(&self.db).map_err(|e| local("local store", e))
    }

    /// One pass over the recording in `dir`.
    pub async fn sync(
        &self,
        dir: &Path,
        report: &(dyn Fn(UploadEvent) + Send + Sync),
    ) -> Result<Synced, UploadError> {
        let bytes = std::fs::read(dir.join(MANIFEST_NAME)).map_err(|e| local("the manifest", e))?;
        let (manifest, _, problems) =
            verify_manifest(&bytes).map_err(|e| local("the manifest does not verify", e))?;
        if let Some(p) = problems.first() {
            return Err(UploadError::Local(format!(
                "the manifest does not verify: {p:?}"
            )));
        }
        let first = manifest
            .epochs
            .first()
            .ok_or_else(|| UploadError::Local("the manifest has no consent".into()))?;
        if first.terms.scope != Scope::LocalAndCloud {
            return Ok(Synced::NotForCloud);
        }
        let id = manifest.recording_id;
        let key = id.to_string();
        let total: u64 = manifest.segments.iter().map(|s| s.size).sum();
        let info = self.api.register_recording(bytes.clone()).await?;
        if info.status == RecordingStatus::Complete {
            self.store()?
                .set_cloud_state(&key, CloudState::Complete, total)
                .map_err(|e| local("local store", e))?;
            return Ok(Synced::Complete { total });
        }
        self.api.put_manifest(&id, bytes).await?;
        let mut done = plan::uploaded(&manifest, &info.objects);
        self.progress(&key, done, total, report)?;
        for (name, size) in plan::missing_objects(&manifest, &info.objects) {
            let data = std::fs::read(dir.join(&name)).map_err(|e| local(&name, e))?;
            if data.len() as u64 != size {
                return Err(UploadError::Local(format!(
                    "{name} on disk is not the size the manifest lists"
                )));
            }
            self.object(&id, &name, &data, |sent| {
                let _ = self.progress(&key, done + sent, total, report);
            })
            .await?;
            done += size;
            self.progress(&key, done, total, report)?;
        }
        // A recording whose recorder crashed is never ended: recovery marked it incomplete in
        // the library, and its copy is completed as it is.
        let interrupted = manifest.ended.is_none() && self.is_incomplete(&key)?;
        if manifest.ended.is_none() && !interrupted {
            return Ok(Synced::UpToDate { uploaded: done });
        }
        self.api.complete_recording(&id, interrupted).await?;
        self.store()?
            .set_cloud_state(&key, CloudState::Complete, total)
            .map_err(|e| local("local store", e))?;
        report(UploadEvent::Complete { id: key, total });
        Ok(Synced::Complete { total })
    }

    fn is_incomplete(&self, id: &str) -> Result<bool, UploadError> {
        Ok(self
            .store()?
            .recordings()
            .map_err(|e| local("local store", e))?
            .iter()
            .any(|r| r.id == id && r.state == RecordingState::Incomplete))
    }

    fn progress(
        &self,
        id: &str,
        uploaded: u64,
        total: u64,
        report: &(dyn Fn(UploadEvent) + Send + Sync),
    ) -> Result<(), UploadError> {
        self.store()?
            .set_cloud_state(id, CloudState::Uploading, uploaded)
            .map_err(|e| local("local store", e))?;
        report(UploadEvent::Progress {
            id: id.to_string(),
            uploaded,
            total,
        });
        Ok(())
    }

    /// Upload one object, resuming the multipart upload recorded for it if storage still has
    /// it. `sent` hears the bytes of this object that are up so far.
    async fn object(
        &self,
        id: &RecordingId,
        name: &str,
        data: &[u8],
        sent: impl Fn(u64),
    ) -> Result<(), UploadError> {
        let key = id.to_string();
        let spans = plan::parts(data.len() as u64, self.part_size);
        let known = self
            .store()?
            .upload_id(&key, name)
            .map_err(|e| local("local store", e))?;
        let (upload, held) = match known {
            Some(u) => match self.api.stored_parts(id, name, &u).await {
                Ok(held) => (u, held),
                Err(e) if e.code() == Some(assent_shared::api::ErrorCode::NoSuchUpload) => {
                    (self.start(id, name).await?, Vec::new())
                }
                Err(e) => return Err(e.into()),
            },
            None => (self.start(id, name).await?, Vec::new()),
        };
        let todo = plan::parts_to_send(&spans, &held);
        let mut up: u64 = spans
            .iter()
            .filter(|s| !todo.contains(s))
            .map(|s| s.len)
            .sum();
        sent(up);
        for batch in todo.chunks(plan::URLS_PER_REQUEST) {
            let numbers: Vec<u16> = batch.iter().map(|s| s.number).collect();
            let urls = self.api.part_urls(id, name, &upload, numbers).await?;
            for span in batch {
                let url = urls
                    .iter()
                    .find(|u| u.part == span.number)
                    .ok_or_else(|| ApiError::Protocol("a part URL is missing".into()))?;
                let body = slice(data, span).to_vec();
                self.api.put_presigned(&url.url, body).await?;
                up += span.len;
                sent(up);
            }
        }
        // Complete with the parts as storage lists them (what a resumed upload has, too).
        let listed = self.api.stored_parts(id, name, &upload).await?;
        let tags: Vec<PartTag> = spans
            .iter()
            .map(|s| {
                listed
                    .iter()
                    .find(|p| p.part == s.number && p.size == s.len)
                    .map(|p| PartTag {
                        part: s.number,
                        etag: p.etag.clone(),
                    })
                    .ok_or_else(|| ApiError::Protocol(format!("part {} is not stored", s.number)))
            })
            .collect::<Result<_, _>>()?;
        match self.api.complete_upload(id, name, &upload, tags).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(assent_shared::api::ErrorCode::NoSuchUpload) => {
                // Completed by an earlier attempt whose answer was lost, or aborted: the next
                // pass sees which from the recording's stored objects.
                self.forget(&key, name)?;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        }
        self.forget(&key, name)
    }

    async fn start(&self, id: &RecordingId, name: &str) -> Result<String, UploadError> {
        let upload = self.api.start_upload(id, name).await?.upload_id;
        self.store()?
            .set_upload_id(&id.to_string(), name, Some(&upload))
            .map_err(|e| local("local store", e))?;
        Ok(upload)
    }

    fn forget(&self, key: &str, name: &str) -> Result<(), UploadError> {
        self.store()?
            .set_upload_id(key, name, None)
            .map_err(|e| local("local store", e))
    }

    /// Sync with retries until the copy is complete, up to date (an open recording), or the
    /// failure is permanent (recorded in the library). `attempts` bounds the tries (0: no bound).
    pub async fn sync_retrying(
        &self,
        dir: &Path,
        attempts: u32,
        report: &(dyn Fn(UploadEvent) + Send + Sync),
    ) -> Result<Synced, UploadError> {
        let mut attempt = 0;
        loop {
            match self.sync(dir, report).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    attempt += 1;
                    let id = dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if e.failure() == Failure::Permanent || (attempts > 0 && attempt >= attempts) {
                        let error = e.to_string();
                        if let Ok(store) = self.store() {
                            let _ = store.set_cloud_failed(&id, &error);
                        }
                        report(UploadEvent::Failed { id, error });
                        return Err(e);
                    }
                    let wait = plan::backoff(attempt, 0.5 + rand::random::<f64>() / 2.0);
                    report(UploadEvent::Retrying {
                        id,
                        attempt,
                        in_ms: wait.as_millis() as u64,
                        error: e.to_string(),
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

fn slice<'a>(data: &'a [u8], span: &PartSpan) -> &'a [u8] {
    &data[span.offset as usize..(span.offset + span.len) as usize]
}

/// Tell the queue a recording changed (a segment was written, or it ended).
#[derive(Clone, Debug)]
pub struct UploadQueue {
    tx: mpsc::UnboundedSender<PathBuf>,
}

impl UploadQueue {
    pub fn kick(&self, dir: PathBuf) {
        let _ = self.tx.send(dir);
    }
}

/// Run the upload queue: each kicked recording is synced (retrying with backoff) until up to
/// date; kicks that arrive meanwhile coalesce. The task ends once every [`UploadQueue`] is
/// dropped and nothing is left to do.
pub fn spawn(
    uploader: Uploader,
    events: mpsc::UnboundedSender<UploadEvent>,
) -> (UploadQueue, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let task = tokio::spawn(async move {
        let mut dirty: BTreeMap<PathBuf, ()> = BTreeMap::new();
        let report = move |e: UploadEvent| {
            let _ = events.send(e);
        };
        loop {
            // Gather every kick that is waiting; wait for one if there is nothing to do.
            while let Ok(d) = rx.try_recv() {
                dirty.insert(d, ());
            }
            let Some(dir) = dirty.keys().next().cloned() else {
                match rx.recv().await {
                    Some(d) => {
                        dirty.insert(d, ());
                        continue;
                    }
                    None => break,
                }
            };
            dirty.remove(&dir);
            let _ = uploader.sync_retrying(&dir, 0, &report).await;
        }
    });
    (UploadQueue { tx }, task)
}

/// How long an upload may take to finish after a call before the CLI stops waiting.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Which recordings of the library should be (re)uploaded: cloud scope, not complete, and (for
/// those still being recorded by a live recorder) skipped.
pub fn pending(store: &Store) -> Result<Vec<(String, PathBuf)>, crate::store::StoreError> {
    Ok(store
        .recordings()?
        .into_iter()
        .filter(|r| r.scope == Scope::LocalAndCloud && r.cloud_state != CloudState::Complete)
        .filter(|r| r.state != RecordingState::Recording)
        .map(|r| (r.id, PathBuf::from(r.dir)))
        .collect())
}

/// What a download brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Downloaded {
    pub segments: u32,
    pub bytes: u64,
}

/// Download a complete cloud copy into `to` (empty or new): the signed manifest, and every
/// segment it lists, each checked against the manifest's size and SHA-256 before it is kept.
pub async fn download(api: &Api, id: &RecordingId, to: &Path) -> Result<Downloaded, UploadError> {
    let (info, manifest) = api.recording(id).await?;
    let bytes = manifest.ok_or_else(|| {
        UploadError::Local("only the recording's participants can download it".into())
    })?;
    if info.status != RecordingStatus::Complete {
        return Err(UploadError::Local(
            "the cloud copy is not complete yet: try again when the recorder has uploaded it"
                .into(),
        ));
    }
    let (m, _, problems) =
        verify_manifest(&bytes).map_err(|e| local("the manifest does not verify", e))?;
    if let Some(p) = problems.first() {
        return Err(UploadError::Local(format!(
            "the manifest does not verify: {p:?}"
        )));
    }
    if m.recording_id != *id {
        return Err(UploadError::Local(
            "the server sent the manifest of another recording".into(),
        ));
    }
    if to.exists()
        && std::fs::read_dir(to)
            .map_err(|e| local(&to.display().to_string(), e))?
            .next()
            .is_some()
    {
        return Err(UploadError::Local(format!("{} is not empty", to.display())));
    }
    std::fs::create_dir_all(to).map_err(|e| local(&to.display().to_string(), e))?;
    let mut total = 0;
    for s in &m.segments {
        let name = assent_shared::container::segment_name(s.index);
        let url = api.download_url(id, &name).await?;
        let data = api.get_presigned(&url.url, s.size).await?;
        if data.len() as u64 != s.size || assent_shared::Digest::sha256(&data) != s.sha256 {
            return Err(UploadError::Local(format!(
                "{name} from storage does not match the manifest (size or SHA-256)"
            )));
        }
        write_atomically(&to.join(&name), &data)?;
        total += s.size;
    }
    write_atomically(&to.join(MANIFEST_NAME), &bytes)?;
    Ok(Downloaded {
        segments: m.segments.len() as u32,
        bytes: total,
    })
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<(), UploadError> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| local(&path.display().to_string(), e))
}
