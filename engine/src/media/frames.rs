//! The latest decoded picture of each person, for the window: a slot per source that the
//! pipeline's appsinks fill and the window reads (newest only, never queued).
//!
//! The window says how large it shows each source ([`FrameSlots::show`]). The pipeline then
//! crops each picture to its tile's shape and scales it to the tile's size, in one pass of
//! GStreamer's converter, so that the window copies the picture as it is instead of filtering
//! it at every redraw; a source the window does not show is not converted at all.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
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
    /// The picture's size as it arrived, before it was cropped and scaled for the window (a
    /// shared screen is fitted whole by its shape).
    pub natural: (u32, u32),
}

/// How large the window shows a source, in pixels: the picture is cropped to this shape (its
/// middle kept) and scaled to this size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct View {
    pub width: u32,
    pub height: u32,
}

/// The largest side a view may ask for (a picture larger than any screen is a mistake).
const MAX_SIDE: u32 = 8192;

impl View {
    /// `width`x`height`, each side at least 2 and at most [`MAX_SIDE`] pixels.
    pub fn new(width: u32, height: u32) -> View {
        View {
            width: width.clamp(2, MAX_SIDE),
            height: height.clamp(2, MAX_SIDE),
        }
    }
}

/// The elements that fit one source's pictures to its view.
struct Sizer {
    /// Closed while the window does not show the source.
    gate: gst::Element,
    crop: gst::Element,
    caps: gst::Element,
    /// The caps without a size: the format and, for our own picture, the frame rate.
    base: gst::Caps,
    /// The size before the window says (our own picture is small); `None`: as `base` says.
    default: Option<(u32, u32)>,
    /// What was last applied, if anything.
    applied: Option<Want>,
}

/// What the window wants of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// It has not said anything yet: the default size.
    Default,
    Hidden,
    At(View),
}

impl Sizer {
    fn apply(&mut self, want: Want) {
        if self.applied == Some(want) {
            return;
        }
        let (size, ratio, shown) = match want {
            Want::Default => (self.default, gst::Fraction::new(0, 1), true),
            Want::At(v) => (Some((v.width, v.height)), reduced(v.width, v.height), true),
            Want::Hidden => (None, gst::Fraction::new(0, 1), false),
        };
        // The size first, then the gate: nothing passes at a size the window did not ask for.
        if shown {
            self.crop.set_property("aspect-ratio", ratio);
            let mut caps = self.base.clone();
            if let (Some((w, h)), Some(s)) = (size, caps.make_mut().structure_mut(0)) {
                s.set("width", w as i32);
                s.set("height", h as i32);
            }
            self.caps.set_property("caps", caps);
        }
        self.gate.set_property("drop", !shown);
        self.applied = Some(want);
    }
}

/// `w/h` in lowest terms.
fn reduced(w: u32, h: u32) -> gst::Fraction {
    let (mut a, mut b) = (w.max(1), h.max(1));
    while b != 0 {
        (a, b) = (b, a % b);
    }
    gst::Fraction::new((w.max(1) / a) as i32, (h.max(1) / a) as i32)
}

#[derive(Default)]
struct Inner {
    frames: Mutex<BTreeMap<Source, Frame>>,
    fresh: Condvar,
    /// Each source's size as it arrives.
    natural: Mutex<BTreeMap<Source, (u32, u32)>>,
    /// What the window shows, once it has said: each source shown and its size.
    views: Mutex<Option<BTreeMap<Source, View>>>,
    sizers: Mutex<BTreeMap<Source, Sizer>>,
}

impl Inner {
    /// What the window last said of `source`.
    fn want(&self, source: Source) -> Want {
        match self.views.lock().ok().as_deref() {
            Some(Some(views)) => views.get(&source).map_or(Want::Hidden, |v| Want::At(*v)),
            _ => Want::Default,
        }
    }
}

/// The latest frame of each person (our own preview and each remote peer); the window waits on
/// it or polls it, and says how it shows each.
#[derive(Clone, Default)]
pub struct FrameSlots(Arc<Inner>);

impl FrameSlots {
    pub fn latest(&self, source: Source) -> Option<Frame> {
        self.0.frames.lock().ok()?.get(&source).cloned()
    }

    /// The first frame of `source` newer than `after` (a `seq`), waiting up to `timeout`.
    pub fn wait_newer(&self, source: Source, after: u64, timeout: Duration) -> Option<Frame> {
        let guard = self.0.frames.lock().ok()?;
        let (guard, _) = self
            .0
            .fresh
            .wait_timeout_while(guard, timeout, |m| {
                m.get(&source).is_none_or(|f| f.seq <= after)
            })
            .ok()?;
        guard.get(&source).filter(|f| f.seq > after).cloned()
    }

    /// What the window shows now: each source in `views` at its size, cropped to its shape;
    /// any other source is not shown (its pictures are dropped before they are converted).
    pub fn show(&self, views: &BTreeMap<Source, View>) {
        if let Ok(mut v) = self.0.views.lock() {
            *v = Some(views.clone());
        }
        if let Ok(mut sizers) = self.0.sizers.lock() {
            for (source, sizer) in sizers.iter_mut() {
                sizer.apply(views.get(source).map_or(Want::Hidden, |v| Want::At(*v)));
            }
        }
    }

    fn put(&self, source: Source, width: u32, height: u32, rgba: Vec<u8>) {
        let natural = self
            .0
            .natural
            .lock()
            .ok()
            .and_then(|n| n.get(&source).copied())
            .unwrap_or((width, height));
        if let Ok(mut m) = self.0.frames.lock() {
            let seq = m.get(&source).map_or(1, |f| f.seq + 1);
            m.insert(
                source,
                Frame {
                    width,
                    height,
                    rgba: Arc::new(rgba),
                    seq,
                    natural,
                },
            );
        }
        self.0.fresh.notify_all();
    }

    pub(crate) fn remove(&self, source: Source) {
        if let Ok(mut m) = self.0.frames.lock() {
            m.remove(&source);
        }
        if let Ok(mut s) = self.0.sizers.lock() {
            s.remove(&source);
        }
        if let Ok(mut n) = self.0.natural.lock() {
            n.remove(&source);
        }
    }

    /// A branch from raw video to `source`'s slot, paced by `caps` (frame rate; its size, or
    /// `default`, until the window says one): a one-buffer leaky queue (so the branch never
    /// holds up what feeds it), rate, then [`Self::fitted`] into the sink. Added to `bin` and
    /// linked; its first element is returned for linking to.
    pub(crate) fn add_branch(
        &self,
        bin: &gst::Bin,
        source: Source,
        caps: gst::Caps,
        default: Option<(u32, u32)>,
    ) -> Result<Vec<gst::Element>> {
        let mut chain = vec![leaky_queue(1)?, make("videorate")?];
        chain.extend(self.fitted(source, caps, default, self.sink(source))?);
        bin.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        Ok(chain)
    }

    /// From raw video to `sink` as the window shows `source`: dropped while not shown,
    /// otherwise cropped to its view's shape, then scaled and converted to it (`base`: the
    /// caps without a size) in one pass. Not added or linked.
    pub(crate) fn fitted(
        &self,
        source: Source,
        base: gst::Caps,
        default: Option<(u32, u32)>,
        sink: gst::Element,
    ) -> Result<Vec<gst::Element>> {
        let gate = make("valve")?;
        let crop = make("aspectratiocrop")?;
        let caps = gst::ElementFactory::make("capsfilter").build()?;
        if let Some(pad) = gate.static_pad("sink") {
            // A new size is negotiated within the branch (the crop and the scaler adapt to any
            // input): the request to renegotiate stops here. Upstream it would reach the source
            // (our camera, through the tee that feeds the peers too), whose renegotiation can
            // cross a change of size here and fail: the camera stopped for everyone.
            pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, |_, info| {
                match info.event().map(|e| e.type_()) {
                    Some(gst::EventType::Reconfigure) => gst::PadProbeReturn::Drop,
                    _ => gst::PadProbeReturn::Ok,
                }
            });
            let slots = self.0.clone();
            pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
                if let Some(gst::EventView::Caps(c)) = info.event().map(|e| e.view())
                    && let Ok(v) = gst_video::VideoInfo::from_caps(c.caps())
                    && let Ok(mut n) = slots.natural.lock()
                {
                    n.insert(source, (v.width(), v.height()));
                }
                gst::PadProbeReturn::Ok
            });
        }
        let mut sizer = Sizer {
            gate: gate.clone(),
            crop: crop.clone(),
            caps: caps.clone(),
            base,
            default,
            applied: None,
        };
        sizer.apply(self.0.want(source));
        if let Ok(mut s) = self.0.sizers.lock() {
            s.insert(source, sizer);
        }
        Ok(vec![gate, crop, make("videoconvertscale")?, caps, sink])
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
