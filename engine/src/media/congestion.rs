//! Delay-based congestion control for each connection: transport-wide congestion control
//! (TWCC) sequence numbers on every packet we send, feedback from the receiver's `rtpsession`,
//! and GStreamer's `rtpgccbwe` (gst-plugins-rs, Google Congestion Control) between our send
//! branches and the session: it paces what goes out and estimates what the path carries. The
//! estimates go up as [`MediaEvent::SendEstimate`]; [`super::rate`] turns them into the
//! encoder's bitrate.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use assent_shared::signal::PeerId;
use gst::prelude::*;
use gst_rtp::prelude::*;

use super::event::MediaEvent;
use super::probe::{Feedback, MAX_PACKETS, Outcome, Prober};
use super::{MediaError, Result, Shared};

/// The header extension's URI (draft-holmer-rmcat-transport-wide-cc-extensions-01).
pub(crate) const TWCC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// Its id in our offers: the same on audio and video, as bundling needs.
pub(crate) const TWCC_ID: u32 = 1;

/// Register the Rust RTP plugin (it carries `rtpgccbwe`): no distribution packages it.
pub(crate) fn register() -> Result<()> {
    gstrsrtp::plugin_register_static()
        .map_err(|e| MediaError::Init(format!("the RTP congestion control plugin: {e}")))
}

/// Announce the extension in an encoder branch's fixed RTP caps (webrtcbin writes its offer
/// from them, so the answerer's session sends feedback).
pub(crate) fn announce(
    caps: gst::caps::Builder<gst::caps::NoFeature>,
) -> gst::caps::Builder<gst::caps::NoFeature> {
    caps.field(format!("extmap-{TWCC_ID}"), TWCC_URI)
        .field("rtcp-fb-transport-cc", true)
}

/// Make room for the sequence number in every packet `pay` makes; each connection's session
/// writes its own numbers into it.
pub(crate) fn reserve(pay: &gst::Element) -> Result<()> {
    let ext = gst_rtp::RTPHeaderExtension::create_from_uri(TWCC_URI)
        .ok_or_else(|| MediaError::MissingElement("rtphdrexttwcc".into()))?;
    ext.set_id(TWCC_ID);
    pay.emit_by_name::<()>("add-extension", &[&ext]);
    Ok(())
}

/// Bounds for the estimate of one connection (audio included), bit/s.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) min_bps: u32,
    pub(crate) start_bps: u32,
    pub(crate) max_bps: u32,
    /// What the encoder at its maximum and audio use: no probing above it.
    pub(crate) enough_bps: u32,
}

impl Bounds {
    /// From the video bitrate bounds, kbit/s, with room for audio.
    pub(crate) fn for_video(min_kbps: u32, start_kbps: u32, max_kbps: u32) -> Bounds {
        let total = |k: u32| (k + super::rate::AUDIO_KBPS) * 1000;
        Bounds {
            min_bps: total(min_kbps),
            start_bps: total(start_kbps),
            // Room above the encoder's maximum, so a good path is seen as good.
            max_bps: total(max_kbps) * 3 / 2,
            enough_bps: total(max_kbps),
        }
    }
}

/// Put an estimator in front of `webrtc`'s session when it makes one (before any pad is
/// requested). Each change of its estimate is reported for `peer`.
pub(crate) fn attach(webrtc: &gst::Element, weak: Weak<Shared>, peer: PeerId, bounds: Bounds) {
    webrtc.connect("request-aux-sender", false, move |_| {
        let bwe = match gst::ElementFactory::make("rtpgccbwe")
            .property("min-bitrate", bounds.min_bps)
            .property("max-bitrate", bounds.max_bps)
            .property("estimated-bitrate", bounds.start_bps)
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("no congestion control for this connection: {e}");
                return Some(None::<gst::Element>.to_value());
            }
        };
        let probing = Probing::watch(&bwe, bounds, weak.clone(), peer);
        let weak = weak.clone();
        bwe.connect_notify(Some("estimated-bitrate"), move |bwe, _| {
            let bps = bwe.property::<u32>("estimated-bitrate");
            let probed = probing.on_estimate(bps);
            // A connection being closed has no counters left to keep it in.
            if let Some(s) = weak.upgrade()
                && let Some(counters) = s.stats.existing(peer)
            {
                counters
                    .send_estimate_bps
                    .store(u64::from(bps), Ordering::Relaxed);
                let _ = s
                    .events
                    .send(MediaEvent::SendEstimate { peer, bps, probed });
            }
        });
        Some(bwe.to_value())
    });
}

/// Video packets smaller than this are not worth sending again as a probe.
const PROBE_PACKET_BYTES: usize = 500;

/// Probing for one connection ([`super::probe`]) around its estimator: the latest packets
/// going out (what a probe sends again), the feedback coming back (what it measures), and the
/// retransmission sender webrtcbin puts in front of the estimator (what sends it).
struct Probing {
    inner: Mutex<ProbingState>,
    /// Set while a probe's result is being given to the estimator (its notification comes
    /// from inside).
    raising: AtomicBool,
    /// Where the probes are counted.
    shared: Weak<Shared>,
    peer: PeerId,
}

struct ProbingState {
    prober: Prober,
    /// The latest packets big enough to probe with: (SSRC, sequence number, payload type,
    /// bytes).
    recent: VecDeque<(u32, u16, u8, u32)>,
    /// The retransmission sender, found when the first feedback comes; `None` inside: there
    /// is none.
    rtx: Option<Option<gst::Element>>,
}

impl Probing {
    fn watch(
        bwe: &gst::Element,
        bounds: Bounds,
        shared: Weak<Shared>,
        peer: PeerId,
    ) -> Arc<Probing> {
        let probing = Arc::new(Probing {
            inner: Mutex::new(ProbingState {
                prober: Prober::new(
                    Instant::now(),
                    bounds.start_bps,
                    bounds.enough_bps,
                    bounds.max_bps,
                )
                .starting(Instant::now()),
                recent: VecDeque::new(),
                rtx: None,
            }),
            raising: AtomicBool::new(false),
            shared,
            peer,
        });
        if let Some(sink) = bwe.static_pad("sink") {
            let p = Arc::downgrade(&probing);
            sink.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    if let Some(p) = p.upgrade() {
                        match &info.data {
                            Some(gst::PadProbeData::Buffer(b)) => p.outgoing(b),
                            Some(gst::PadProbeData::BufferList(l)) => {
                                l.iter().for_each(|b| p.outgoing(b))
                            }
                            _ => (),
                        }
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        }
        if let Some(src) = bwe.static_pad("src") {
            let p = Arc::downgrade(&probing);
            let weak_bwe = bwe.downgrade();
            src.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                if let (Some(p), Some(bwe), Some(gst::PadProbeData::Event(e))) =
                    (p.upgrade(), weak_bwe.upgrade(), &info.data)
                    && let Some(s) = e.structure()
                    && s.name() == "RTPTWCCPackets"
                {
                    p.feedback(&bwe, s);
                }
                gst::PadProbeReturn::Ok
            });
        }
        probing
    }

    /// A new estimate; whether it is a probe's.
    fn on_estimate(&self, bps: u32) -> bool {
        if let Ok(mut s) = self.inner.lock() {
            s.prober.on_estimate(Instant::now(), bps);
        }
        self.raising.load(Ordering::SeqCst)
    }

    fn outgoing(&self, buffer: &gst::BufferRef) {
        if buffer.size() < PROBE_PACKET_BYTES {
            return;
        }
        let Ok(rtp) = gst_rtp::RTPBuffer::from_buffer_readable(buffer) else {
            return;
        };
        if let Ok(mut s) = self.inner.lock() {
            if s.recent.len() >= 2 * MAX_PACKETS {
                s.recent.pop_front();
            }
            let bytes = u32::try_from(buffer.size()).unwrap_or(u32::MAX);
            s.recent
                .push_back((rtp.ssrc(), rtp.seq(), rtp.payload_type(), bytes));
        }
    }

    /// Feedback from the session: measure a probe in flight, raise the estimate if it came
    /// through, and send the next probe when it is time.
    fn feedback(&self, bwe: &gst::Element, s: &gst::StructureRef) {
        let packets: Vec<Feedback> = s
            .get::<gst::glib::ValueArray>("packets")
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.get::<gst::Structure>().ok())
                    .filter_map(|p| {
                        Some(Feedback {
                            payload_type: p.get::<u8>("payload-type").ok(),
                            sent_ns: p.get::<u64>("local-ts").ok()?,
                            arrived_ns: p
                                .get::<u64>("remote-ts")
                                .ok()
                                .filter(|_| !p.get::<bool>("lost").unwrap_or(true)),
                            bytes: p.get::<u32>("size").unwrap_or(0),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let now = Instant::now();
        let (raise, send) = {
            let Ok(mut guard) = self.inner.lock() else {
                return;
            };
            let st = &mut *guard;
            let Some(rtx) = st.rtx.get_or_insert_with(|| find_rtx(bwe)).clone() else {
                return;
            };
            // Read each time: a new transceiver (a shared screen) adds to it.
            let map = rtx_map(&rtx);
            let outcome = st
                .prober
                .on_feedback(now, &packets, |pt| map.iter().any(|(_, r)| *r == pt));
            let raise = match outcome {
                Some(Outcome::Raise(bps)) => Some(bps),
                _ => None,
            };
            let mut send = Vec::new();
            if raise.is_none() {
                let mut cluster: Vec<(u32, u16)> = Vec::new();
                let mut sizes: Vec<u32> = Vec::new();
                for (ssrc, seq, pt, bytes) in st.recent.iter().rev() {
                    if map.iter().any(|(m, _)| m == pt) && !cluster.contains(&(*ssrc, *seq)) {
                        cluster.push((*ssrc, *seq));
                        sizes.push(*bytes);
                    }
                }
                if let Some(probe) = st.prober.poll(now, &sizes) {
                    tracing::debug!(
                        target_kbps = probe.target / 1000,
                        packets = probe.packets,
                        "bandwidth probe"
                    );
                    cluster.truncate(probe.packets);
                    send = cluster;
                }
            }
            (raise, (rtx, send))
        };
        let (rtx, cluster) = send;
        self.count(|c| {
            if raise.is_some() {
                c.probes_raised.fetch_add(1, Ordering::Relaxed);
            }
            if !cluster.is_empty() {
                c.probes.fetch_add(1, Ordering::Relaxed);
            }
        });
        if let Some(bps) = raise {
            tracing::debug!(kbps = bps / 1000, "a bandwidth probe raised the estimate");
            self.raising.store(true, Ordering::SeqCst);
            bwe.set_property("estimated-bitrate", bps);
            self.raising.store(false, Ordering::SeqCst);
        }
        if let Some(pad) = rtx.static_pad("src") {
            for (ssrc, seq) in cluster {
                let request = gst::Structure::builder("GstRTPRetransmissionRequest")
                    .field("seqnum", u32::from(seq))
                    .field("ssrc", ssrc)
                    .build();
                pad.send_event(gst::event::CustomUpstream::new(request));
            }
        }
    }

    fn count(&self, f: impl FnOnce(&super::stats::PeerCounters)) {
        if let Some(s) = self.shared.upgrade()
            && let Some(c) = s.stats.existing(self.peer)
        {
            f(&c);
        }
    }
}

/// The retransmission sender in the same bin as the estimator.
fn find_rtx(bwe: &gst::Element) -> Option<gst::Element> {
    let bin = bwe.parent()?.downcast::<gst::Bin>().ok()?;
    let found = bin
        .iterate_elements()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "rtprtxsend"));
    if found.is_none() {
        tracing::debug!("no retransmission sender beside the estimator: no bandwidth probes");
    }
    found
}

/// Its payload types: (media, retransmission).
fn rtx_map(rtx: &gst::Element) -> Vec<(u8, u8)> {
    rtx.property::<Option<gst::Structure>>("payload-type-map")
        .map(|m| {
            m.iter()
                .filter_map(|(media, r)| {
                    Some((
                        media.parse().ok()?,
                        u8::try_from(r.get::<u32>().ok()?).ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}
