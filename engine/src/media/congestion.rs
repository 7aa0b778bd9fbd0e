//! Delay-based congestion control for each connection: transport-wide congestion control
//! (TWCC) sequence numbers on every packet we send, feedback from the receiver's `rtpsession`,
//! and GStreamer's `rtpgccbwe` (gst-plugins-rs, Google Congestion Control) between our send
//! branches and the session: it paces what goes out and estimates what the path carries. The
//! estimates go up as [`MediaEvent::SendEstimate`]; [`super::rate`] turns them into the
//! encoder's bitrate.

use std::sync::Weak;

use assent_shared::signal::PeerId;
use gst::prelude::*;
use gst_rtp::prelude::*;

use super::event::MediaEvent;
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
        let weak = weak.clone();
        bwe.connect_notify(Some("estimated-bitrate"), move |bwe, _| {
            let bps = bwe.property::<u32>("estimated-bitrate");
            // A connection being closed has no counters left to keep it in.
            if let Some(s) = weak.upgrade()
                && let Some(counters) = s.stats.existing(peer)
            {
                counters
                    .send_estimate_bps
                    .store(u64::from(bps), std::sync::atomic::Ordering::Relaxed);
                let _ = s.events.send(MediaEvent::SendEstimate { peer, bps });
            }
        });
        Some(bwe.to_value())
    });
}
