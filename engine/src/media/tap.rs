//! Taps for the recorder: every encoded stream of the call, ours and each verified peer's, as RTP
//! packets, handed to whoever records. Nothing is transcoded; with no recorder attached a tap
//! costs one uncontended lock per packet.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assent_shared::signal::PeerId;
use gst::prelude::*;

use super::Kind;

/// Whose stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Local,
    Peer(PeerId),
}

/// One stream of the call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId {
    pub source: Source,
    pub kind: Kind,
    /// The RTP encoding name (VP8, VP9, H264, OPUS).
    pub encoding: String,
}

/// Receives the packets of every tapped stream while attached.
pub trait RecordSink: Send + Sync {
    fn packet(&self, track: &TrackId, caps: &gst::Caps, buffer: &gst::Buffer);
}

type Sink = Arc<Mutex<Option<Arc<dyn RecordSink>>>>;

#[derive(Clone, Default)]
pub struct Taps {
    sink: Sink,
    /// Streams seen, with their caps and when their last packet passed.
    live: Arc<Mutex<BTreeMap<TrackId, (gst::Caps, Instant)>>>,
}

impl Taps {
    /// Tap the RTP stream passing `pad`.
    pub(crate) fn install(&self, pad: &gst::Pad, track: TrackId) {
        let sink = self.sink.clone();
        let live = self.live.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |pad, info| {
                let Some(caps) = pad.current_caps() else {
                    return gst::PadProbeReturn::Ok;
                };
                if let Ok(mut l) = live.lock() {
                    match l.get_mut(&track) {
                        Some(e) => e.1 = Instant::now(),
                        None => {
                            l.insert(track.clone(), (caps.clone(), Instant::now()));
                        }
                    }
                }
                let Some(sink) = sink.lock().ok().and_then(|s| s.clone()) else {
                    return gst::PadProbeReturn::Ok;
                };
                if let Some(b) = info.buffer() {
                    sink.packet(&track, &caps, b);
                } else if let Some(list) = info.buffer_list() {
                    for b in list.iter_owned() {
                        sink.packet(&track, &caps, &b);
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    /// Forget a peer's streams (it left).
    pub(crate) fn remove(&self, source: Source) {
        if let Ok(mut l) = self.live.lock() {
            l.retain(|t, _| t.source != source);
        }
    }

    pub fn attach(&self, sink: Arc<dyn RecordSink>) {
        if let Ok(mut s) = self.sink.lock() {
            *s = Some(sink);
        }
    }

    pub fn detach(&self) {
        if let Ok(mut s) = self.sink.lock() {
            *s = None;
        }
    }

    /// The streams flowing now (a packet within the last two seconds), with their RTP caps.
    pub fn tracks(&self) -> Vec<(TrackId, gst::Caps)> {
        self.live
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(_, (_, last))| last.elapsed() < Duration::from_secs(2))
                    .map(|(t, (c, _))| (t.clone(), c.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
