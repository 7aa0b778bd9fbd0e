//! The recorder: on the proposer's device, while the consent machine says so, it takes the
//! call's encoded streams from the media taps, cuts them into segments of a few seconds (each a
//! Matroska file in memory, starting at key frames), and hands each to the container writer,
//! which encrypts it to every consenting participant and writes only ciphertext. Chat during
//! the recording goes into its own encrypted track.
//!
//! It runs on its own thread (muxing and disk writes block); the call sends it commands.

pub mod export;
pub mod player;
pub mod segment;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assent_shared::consent::{ConsentToken, EndReason, Proposal};
use assent_shared::container::{DirStore, Head, RecordingWriter, SignedHead, Track};
use assent_shared::identity::IdentityKey;
use assent_shared::{RecordingId, SecretIdentity, Timestamp};
use tokio::sync::mpsc::UnboundedSender;

use crate::media::Media;
use crate::media::tap::{RecordSink, Source, TrackId};
use segment::SegmentMux;

/// How long a segment is.
pub const SEGMENT_MS: u64 = 4000;
/// How long finishing a segment may take.
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the call tells the recorder.
#[derive(Debug)]
pub enum Command {
    Start {
        epochs: Vec<Proposal>,
        tokens: Vec<ConsentToken>,
        present: Vec<IdentityKey>,
    },
    /// Someone present lacks consent: finish the segment, write nothing more.
    Pause,
    Resume {
        epochs: Vec<Proposal>,
        tokens: Vec<ConsentToken>,
        present: Vec<IdentityKey>,
    },
    Stop(EndReason),
    /// A chat line during the call (kept only while writing).
    Chat {
        from: String,
        text: String,
        at: u64,
    },
    /// Who a stream belongs to (a stable label: the account and its name).
    Label {
        source: Source,
        label: String,
    },
}

/// What the recorder reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecorderEvent {
    Started {
        id: RecordingId,
        dir: PathBuf,
        /// A library row for it (title, scope, retention… from the proposal).
        row: Box<crate::store::RecordingRow>,
    },
    Segment {
        id: RecordingId,
        index: u32,
        track: Track,
        /// Ciphertext bytes written.
        bytes: u64,
    },
    Paused {
        id: RecordingId,
    },
    Resumed {
        id: RecordingId,
    },
    Finished {
        id: RecordingId,
        dir: PathBuf,
        segments: u32,
        bytes: u64,
    },
    /// The chain head after a segment or the ending, signed: shown to every participant.
    Head {
        id: RecordingId,
        head: SignedHead,
    },
    Failed {
        reason: String,
    },
}

/// The handle the call keeps.
#[derive(Clone)]
pub struct Recorder {
    tx: Sender<Command>,
}

impl Recorder {
    /// Start the recorder thread. Recordings go to `root/<recording id>/`.
    pub fn spawn(
        media: Media,
        identity: Arc<SecretIdentity>,
        root: PathBuf,
        events: UnboundedSender<RecorderEvent>,
    ) -> Recorder {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("assent-recorder".into())
            .spawn(move || {
                Worker {
                    media,
                    identity,
                    root,
                    events,
                    current: None,
                    sink: Arc::new(Sink::default()),
                    labels: std::collections::BTreeMap::new(),
                }
                .run(rx)
            })
            .ok();
        Recorder { tx }
    }

    pub fn send(&self, c: Command) {
        let _ = self.tx.send(c);
    }
}

/// The taps' packets go to the segment being muxed.
#[derive(Default)]
struct Sink {
    segment: Mutex<Option<Arc<SegmentMux>>>,
}

impl RecordSink for Sink {
    fn packet(&self, track: &TrackId, _caps: &gst::Caps, buffer: &gst::Buffer) {
        let seg = self.segment.lock().ok().and_then(|s| s.clone());
        if let Some(seg) = seg {
            seg.push(track, buffer);
        }
    }
}

struct Recording {
    writer: RecordingWriter<DirStore>,
    dir: PathBuf,
    /// Held while writing: a free lock after a crash tells recovery the recorder is gone.
    _lock: std::fs::File,
    /// The segment in progress, when writing.
    segment: Option<Open>,
    /// Milliseconds of the recording so far (segment start offsets).
    offset_ms: u64,
    chat: Vec<String>,
    segments: u32,
    bytes: u64,
}

/// Why the recorder could not go on (reported to the call as [`RecorderEvent::Failed`]).
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("a recording is already running")]
    AlreadyRunning,
    #[error("there is no recording to resume")]
    NotRunning,
    #[error("there is no proposal to record under")]
    NoProposal,
    #[error("{}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the recording: {0}")]
    Container(#[from] assent_shared::container::ContainerError),
    #[error("{0}")]
    Segment(#[from] segment::SegmentError),
}

impl Recording {
    /// Encrypt and write one segment of `track` (who was present, its start and duration); the
    /// event that reports it.
    fn write(
        &mut self,
        id: RecordingId,
        track: Track,
        plain: &[u8],
        (present, start_ms, duration_ms): (&[IdentityKey], u64, u32),
    ) -> Result<RecorderEvent, RecorderError> {
        let entry = self
            .writer
            .write_segment(track, plain, present, start_ms, duration_ms)?;
        self.segments += 1;
        self.bytes += entry.size;
        Ok(RecorderEvent::Segment {
            id,
            index: entry.index,
            track,
            bytes: entry.size,
        })
    }
}

struct Open {
    mux: Arc<SegmentMux>,
    started: Instant,
    /// Who was present when it started: the writer checks each of them consented.
    present: Vec<IdentityKey>,
}

struct Worker {
    media: Media,
    identity: Arc<SecretIdentity>,
    root: PathBuf,
    events: UnboundedSender<RecorderEvent>,
    current: Option<Recording>,
    sink: Arc<Sink>,
    labels: std::collections::BTreeMap<Source, String>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Command>) {
        loop {
            let wait = self
                .current
                .as_ref()
                .and_then(|r| r.segment.as_ref())
                .map(|s| Duration::from_millis(SEGMENT_MS).saturating_sub(s.started.elapsed()))
                .unwrap_or(Duration::from_secs(3600));
            match rx.recv_timeout(wait) {
                Ok(c) => {
                    if let Err(e) = self.command(c) {
                        self.fail(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.rotate() {
                        self.fail(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // The call is gone without a Stop (a crash of the call task): close what
                    // was written as it is; the manifest stays incomplete but verifiable.
                    let _ = self.close_segment();
                    self.media.taps().detach();
                    return;
                }
            }
        }
    }

    fn fail(&mut self, error: RecorderError) {
        let reason = error.to_string();
        tracing::warn!("recorder: {reason}");
        let _ = self.events.send(RecorderEvent::Failed { reason });
    }

    fn id(&self) -> Option<RecordingId> {
        self.current
            .as_ref()
            .map(|r| r.writer.manifest().recording_id)
    }

    fn command(&mut self, c: Command) -> Result<(), RecorderError> {
        match c {
            Command::Start {
                epochs,
                tokens,
                present,
            } => self.start(&epochs, &tokens, present),
            Command::Pause => {
                self.close_segment()?;
                if let Some(id) = self.id() {
                    let _ = self.events.send(RecorderEvent::Paused { id });
                }
                Ok(())
            }
            Command::Resume {
                epochs,
                tokens,
                present,
            } => {
                let Some(r) = self.current.as_mut() else {
                    return Err(RecorderError::NotRunning);
                };
                r.writer.update_consent(&epochs, &tokens)?;
                self.open_segment(present)?;
                if let Some(id) = self.id() {
                    let _ = self.events.send(RecorderEvent::Resumed { id });
                }
                Ok(())
            }
            Command::Stop(reason) => self.stop(reason),
            Command::Label { source, label } => {
                self.labels.insert(source, label);
                Ok(())
            }
            Command::Chat { from, text, at } => {
                if let Some(r) = self.current.as_mut()
                    && r.segment.is_some()
                {
                    let line = serde_json::json!({"from": from, "text": text, "at": at});
                    r.chat.push(line.to_string());
                }
                Ok(())
            }
        }
    }

    fn start(
        &mut self,
        epochs: &[Proposal],
        tokens: &[ConsentToken],
        present: Vec<IdentityKey>,
    ) -> Result<(), RecorderError> {
        if self.current.is_some() {
            return Err(RecorderError::AlreadyRunning);
        }
        let id = epochs
            .first()
            .map(|p| p.terms.recording_id)
            .ok_or(RecorderError::NoProposal)?;
        let dir = self.root.join(id.to_string());
        let at = |source| RecorderError::Dir {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(at)?;
        let lock = crate::disk::lock(&self.root, &id.to_string()).map_err(at)?;
        let store = DirStore::open(&dir).map_err(at)?;
        let writer = RecordingWriter::create(
            store,
            self.identity.clone(),
            epochs,
            tokens,
            Timestamp::now(),
        )?;
        let row = crate::disk::row_from_manifest(writer.manifest(), &dir, Vec::new());
        self.current = Some(Recording {
            writer,
            dir: dir.clone(),
            _lock: lock,
            segment: None,
            offset_ms: 0,
            chat: Vec::new(),
            segments: 0,
            bytes: 0,
        });
        self.media.taps().attach(self.sink.clone());
        let _ = self.events.send(RecorderEvent::Started {
            id,
            dir,
            row: Box::new(row),
        });
        self.open_segment(present)
    }

    /// Start a segment with the streams flowing now; ask everyone for a key frame.
    fn open_segment(&mut self, present: Vec<IdentityKey>) -> Result<(), RecorderError> {
        let tracks = self.media.taps().tracks();
        let labels = &self.labels;
        let opened_at = self.media.running_time();
        let mux = SegmentMux::new(
            &tracks,
            |t| {
                labels
                    .get(&t.source)
                    .cloned()
                    .unwrap_or_else(|| match t.source {
                        Source::Local => "me".into(),
                        Source::Peer(p) => p.to_string(),
                    })
            },
            opened_at,
        )?;
        let mux = Arc::new(mux);
        if let Ok(mut s) = self.sink.segment.lock() {
            *s = Some(mux.clone());
        }
        self.media.request_all_keyframes();
        if let Some(r) = self.current.as_mut() {
            r.segment = Some(Open {
                mux,
                started: Instant::now(),
                present,
            });
        }
        Ok(())
    }

    /// Finish the segment in progress (if any): mux, encrypt, write.
    fn close_segment(&mut self) -> Result<(), RecorderError> {
        if let Ok(mut s) = self.sink.segment.lock() {
            *s = None;
        }
        let Some(r) = self.current.as_mut() else {
            return Ok(());
        };
        let Some(open) = r.segment.take() else {
            return Ok(());
        };
        let duration_ms = open.started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
        let start_ms = r.offset_ms;
        r.offset_ms += u64::from(duration_ms);
        let mux = open.mux;
        let empty = mux.packets() == 0;
        let plain = mux.finish(FINISH_TIMEOUT)?;
        let id = r.writer.manifest().recording_id;
        let span = (&open.present[..], start_ms, duration_ms);
        let mut wrote = false;
        if !empty && !plain.is_empty() {
            let ev = r.write(id, Track::Media, &plain, span)?;
            let _ = self.events.send(ev);
            wrote = true;
        }
        if !r.chat.is_empty() {
            let text = zeroize::Zeroizing::new(r.chat.join("\n") + "\n");
            r.chat.clear();
            let ev = r.write(id, Track::Chat, text.as_bytes(), span)?;
            let _ = self.events.send(ev);
            wrote = true;
        }
        if wrote {
            let head = Head::of(r.writer.manifest()).sign(&self.identity);
            let _ = self.events.send(RecorderEvent::Head { id, head });
        }
        Ok(())
    }

    /// A segment is long enough: close it and open the next with the same people present.
    fn rotate(&mut self) -> Result<(), RecorderError> {
        let present = self
            .current
            .as_ref()
            .and_then(|r| r.segment.as_ref())
            .map(|s| s.present.clone());
        let Some(present) = present else {
            return Ok(());
        };
        self.close_segment()?;
        self.open_segment(present)
    }

    fn stop(&mut self, reason: EndReason) -> Result<(), RecorderError> {
        let closed = self.close_segment();
        self.media.taps().detach();
        let Some(r) = self.current.take() else {
            return closed;
        };
        let id = r.writer.manifest().recording_id;
        let (dir, segments, bytes) = (r.dir.clone(), r.segments, r.bytes);
        let manifest = r.writer.finish(Timestamp::now(), Some(reason))?;
        let head = Head::of(&manifest).sign(&self.identity);
        let _ = std::fs::remove_file(crate::disk::lock_path(&self.root, &id.to_string()));
        let _ = self.events.send(RecorderEvent::Finished {
            id,
            dir,
            segments,
            bytes,
        });
        let _ = self.events.send(RecorderEvent::Head { id, head });
        closed
    }
}
