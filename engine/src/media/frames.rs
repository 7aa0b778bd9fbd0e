//! The latest decoded picture of each person, for the window: a slot per source that the
//! pipeline's appsinks fill and the window reads (newest only, never queued).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;

use super::Result;
use super::source::{leaky_queue, make};
use super::tap::Source;

/// A decoded video frame for the window.
#[derive(Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// RGBA, `width * height * 4` bytes.
    pub rgba: Arc<Vec<u8>>,
    /// Increases with every new frame of this peer.
    pub seq: u64,
}

/// The latest frame of each person (our own preview and each remote peer); the window waits on
/// it or polls it.
#[derive(Clone, Default)]
pub struct FrameSlots(Arc<(Mutex<BTreeMap<Source, Frame>>, std::sync::Condvar)>);

impl FrameSlots {
    pub fn latest(&self, source: Source) -> Option<Frame> {
        self.0.0.lock().ok()?.get(&source).cloned()
    }

    /// The first frame of `source` newer than `after` (a `seq`), waiting up to `timeout`.
    pub fn wait_newer(&self, source: Source, after: u64, timeout: Duration) -> Option<Frame> {
        let (lock, cv) = &*self.0;
        let guard = lock.lock().ok()?;
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |m| {
                m.get(&source).is_none_or(|f| f.seq <= after)
            })
            .ok()?;
        guard.get(&source).filter(|f| f.seq > after).cloned()
    }

    fn put(&self, source: Source, width: u32, height: u32, rgba: Vec<u8>) {
        let (lock, cv) = &*self.0;
        if let Ok(mut m) = lock.lock() {
            let seq = m.get(&source).map_or(1, |f| f.seq + 1);
            m.insert(
                source,
                Frame {
                    width,
                    height,
                    rgba: Arc::new(rgba),
                    seq,
                },
            );
        }
        cv.notify_all();
    }

    pub(crate) fn remove(&self, source: Source) {
        if let Ok(mut m) = self.0.0.lock() {
            m.remove(&source);
        }
    }

    /// A branch from raw video to `source`'s slot, scaled and paced by `caps` (size, frame
    /// rate): a one-buffer leaky queue (so the branch never holds up what feeds it), rate,
    /// scale, convert, caps and the sink. Added to `bin` and linked; its first element is
    /// returned for linking to.
    pub(crate) fn add_branch(
        &self,
        bin: &gst::Bin,
        source: Source,
        caps: gst::Caps,
    ) -> Result<Vec<gst::Element>> {
        let chain = vec![
            leaky_queue(1)?,
            make("videorate")?,
            make("videoscale")?,
            make("videoconvert")?,
            gst::ElementFactory::make("capsfilter")
                .property("caps", caps)
                .build()?,
            self.sink(source),
        ];
        bin.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        Ok(chain)
    }

    /// An appsink that turns raw video into RGBA frames of `source` in these slots (the
    /// newest only: a frame the window has not taken yet is replaced, never queued), as soon as
    /// each arrives (our own preview).
    pub(crate) fn sink(&self, source: Source) -> gst::Element {
        self.shown_sink(source, false, None)
    }

    /// The same for a peer's picture: with `sync`, each frame is handed over at its
    /// presentation time on the pipeline's clock, the one the speaker plays the peer's voice
    /// by (lip sync); `shown` hears of each frame then, with the clock time.
    pub(crate) fn shown_sink(
        &self,
        source: Source,
        sync: bool,
        shown: Option<Shown>,
    ) -> gst::Element {
        let sink = gst_app::AppSink::builder()
            .caps(
                &gst::Caps::builder("video/x-raw")
                    .field("format", "RGBA")
                    .build(),
            )
            .max_buffers(1)
            .drop(true)
            .sync(sync)
            // Live pictures need no preroll: a self-view with the camera off (no frame ever)
            // must not keep the call's pipeline from playing, and so its sound from the
            // speaker.
            .async_(false)
            .build();
        let slots = self.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(buf), Some(caps)) = (sample.buffer(), sample.caps())
                        && let Ok(info) = gst_video::VideoInfo::from_caps(caps)
                        && let Ok(map) = buf.map_readable()
                    {
                        if let (Some(shown), Some(clock)) = (&shown, sink.clock()) {
                            shown(&map, info.width(), info.height(), clock.time().nseconds());
                        }
                        slots.put(source, info.width(), info.height(), map.to_vec());
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        sink.upcast()
    }
}

/// Told of each picture as the window gets it: RGBA, width, height, clock time (ns).
pub(crate) type Shown = Box<dyn Fn(&[u8], u32, u32, u64) + Send + Sync>;
