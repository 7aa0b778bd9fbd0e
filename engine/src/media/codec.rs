//! Video codecs: VP8 always; VP9 and H.264 (OpenH264) when the GStreamer plugins are there.
//!
//! Each client announces the codecs it can both send and receive, most preferred first, when it
//! takes its seat. Two peers use the first codec of the newcomer's list that the other also
//! has (both sides compute the same answer), so each side links the matching encoder before
//! the offer exists. One encoder per codec in use feeds every peer using that codec.

use gst::prelude::*;

use super::{MediaError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VideoCodec {
    Vp8,
    Vp9,
    H264,
}

impl VideoCodec {
    pub const ALL: [VideoCodec; 3] = [VideoCodec::Vp8, VideoCodec::Vp9, VideoCodec::H264];

    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "vp8",
            VideoCodec::Vp9 => "vp9",
            VideoCodec::H264 => "h264",
        }
    }

    pub fn parse(s: &str) -> Option<VideoCodec> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The RTP encoding name (as in SDP and GStreamer caps).
    pub fn encoding(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::Vp9 => "VP9",
            VideoCodec::H264 => "H264",
        }
    }

    pub fn payload_type(self) -> i32 {
        match self {
            VideoCodec::Vp8 => 96,
            VideoCodec::Vp9 => 98,
            VideoCodec::H264 => 102,
        }
    }

    fn elements(self) -> [&'static str; 4] {
        match self {
            VideoCodec::Vp8 => ["vp8enc", "rtpvp8pay", "rtpvp8depay", "vp8dec"],
            VideoCodec::Vp9 => ["vp9enc", "rtpvp9pay", "rtpvp9depay", "vp9dec"],
            VideoCodec::H264 => ["openh264enc", "rtph264pay", "rtph264depay", "openh264dec"],
        }
    }

    /// Whether every element this codec needs is installed.
    pub fn available(self) -> bool {
        self.elements()
            .iter()
            .all(|e| gst::ElementFactory::find(e).is_some())
    }

    pub fn from_encoding(name: &str) -> Option<VideoCodec> {
        Self::ALL
            .into_iter()
            .find(|c| c.encoding().eq_ignore_ascii_case(name))
    }

    /// A real-time encoder at `kbps`.
    pub fn encoder(self, kbps: u32, fps: u32, threads: i32) -> Result<gst::Element> {
        let missing = || MediaError::MissingElement(self.elements()[0].into());
        let e = match self {
            VideoCodec::Vp8 | VideoCodec::Vp9 => {
                let mut b = gst::ElementFactory::make(self.elements()[0])
                    .property("deadline", 1i64)
                    .property("cpu-used", 8i32)
                    .property("threads", threads)
                    .property("lag-in-frames", 0i32)
                    .property_from_str("end-usage", "cbr")
                    .property("target-bitrate", (kbps * 1000) as i32)
                    .property_from_str("error-resilient", "default")
                    .property("keyframe-max-dist", (fps * 4) as i32)
                    .property("buffer-size", 300i32)
                    .property("buffer-initial-size", 200i32)
                    .property("buffer-optimal-size", 250i32)
                    .property("undershoot", 95i32);
                if self == VideoCodec::Vp9 {
                    b = b.property("row-mt", threads > 1);
                }
                b.build().map_err(|_| missing())?
            }
            VideoCodec::H264 => gst::ElementFactory::make("openh264enc")
                .property("bitrate", kbps * 1000)
                .property_from_str("rate-control", "bitrate")
                .property_from_str("usage-type", "camera")
                .property_from_str("complexity", "low")
                .property("gop-size", fps * 4)
                .property("multi-thread", threads.max(1) as u32)
                .property("enable-frame-skip", true)
                .build()
                .map_err(|_| missing())?,
        };
        Ok(e)
    }

    /// Set the target bitrate of an encoder made by [`VideoCodec::encoder`].
    pub fn set_kbps(self, encoder: &gst::Element, kbps: u32) {
        match self {
            VideoCodec::Vp8 | VideoCodec::Vp9 => {
                encoder.set_property("target-bitrate", (kbps * 1000) as i32)
            }
            VideoCodec::H264 => encoder.set_property("bitrate", kbps * 1000),
        }
    }

    /// The payloader, sending as `ssrc` (the one [`Self::rtp_caps`] announces).
    pub fn payloader(self, ssrc: u32) -> Result<gst::Element> {
        let b = gst::ElementFactory::make(self.elements()[1])
            .property("pt", self.payload_type() as u32)
            .property("ssrc", ssrc)
            .property("mtu", 1200u32);
        let b = match self {
            VideoCodec::Vp8 | VideoCodec::Vp9 => b.property_from_str("picture-id-mode", "15-bit"),
            VideoCodec::H264 => b
                .property("config-interval", -1i32)
                .property_from_str("aggregate-mode", "zero-latency"),
        };
        b.build()
            .map_err(|_| MediaError::MissingElement(self.elements()[1].into()))
    }

    /// Depayloader and decoder for a received stream.
    pub fn receive_chain(self) -> Result<Vec<gst::Element>> {
        let depay = gst::ElementFactory::make(self.elements()[2])
            .build()
            .map_err(|_| MediaError::MissingElement(self.elements()[2].into()))?;
        if depay.find_property("request-keyframe").is_some() {
            depay.set_property("request-keyframe", true);
        }
        let mut chain = vec![depay];
        if self == VideoCodec::H264 {
            chain.push(super::source::make("h264parse")?);
        }
        chain.push(super::source::make(self.elements()[3])?);
        Ok(chain)
    }

    /// The fixed RTP caps the encoder branch announces to webrtcbin, sending as `ssrc` (with
    /// transport-wide congestion control).
    pub fn rtp_caps(self, ssrc: u32) -> gst::Caps {
        let mut b = super::congestion::announce(gst::Caps::builder("application/x-rtp"))
            .field("media", "video")
            .field("encoding-name", self.encoding())
            .field("payload", self.payload_type())
            .field("clock-rate", 90000i32)
            .field("ssrc", ssrc);
        if self == VideoCodec::H264 {
            b = b
                .field("packetization-mode", "1")
                .field("profile-level-id", "42e01f");
        }
        b.build()
    }
}

/// The codecs this machine can use, in `preference` order (unknown or missing ones dropped).
pub fn local(preference: &[VideoCodec]) -> Vec<VideoCodec> {
    let mut out: Vec<VideoCodec> = Vec::new();
    for c in preference {
        if !out.contains(c) && c.available() {
            out.push(*c);
        }
    }
    if !out.contains(&VideoCodec::Vp8) {
        // Everyone can do VP8: the common ground.
        out.push(VideoCodec::Vp8);
    }
    out
}

/// The codec two peers use: the first of the offerer's list the answerer also has; VP8 when
/// they share nothing else (or a peer announced nothing, like an older client).
pub fn choose(offerer: &[String], answerer: &[String]) -> VideoCodec {
    offerer
        .iter()
        .filter(|c| answerer.contains(c))
        .find_map(|c| VideoCodec::parse(c))
        .unwrap_or(VideoCodec::Vp8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn both_sides_choose_the_same() {
        let a = names(&["vp9", "h264", "vp8"]);
        let b = names(&["h264", "vp8"]);
        assert_eq!(choose(&a, &b), VideoCodec::H264);
        assert_eq!(choose(&b, &a), VideoCodec::H264);
        assert_eq!(choose(&a, &names(&["vp8"])), VideoCodec::Vp8);
        assert_eq!(choose(&a, &[]), VideoCodec::Vp8);
        assert_eq!(
            choose(&names(&["av1", "vp9"]), &names(&["av1", "vp9"])),
            VideoCodec::Vp9
        );
        for c in VideoCodec::ALL {
            assert_eq!(VideoCodec::parse(c.name()), Some(c));
            assert_eq!(VideoCodec::from_encoding(c.encoding()), Some(c));
        }
    }
}
