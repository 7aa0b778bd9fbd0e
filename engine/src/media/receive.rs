//! What arrives from a peer: each remote stream through its valve to a depayloader, decoder and
//! sink (the speaker, the window's frame slot, or a counter when headless).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use assent_shared::signal::PeerId;
use gst::prelude::*;

use super::codec::VideoCodec;
use super::source::make;
use super::tap::{Source, TrackId};
use super::{MediaError, Output, Result, Shared, stamp, stats};

/// The speaker's buffer, µs: 100 ms in 10 ms periods instead of pulsesink's 200 ms, which
/// every picture waits for (lip sync). 60 ms left the echo canceller at about -5 dB on this
/// machine; 100 ms keeps it above 20 dB (`cargo xtask bench-echo`).
const SPEAKER_BUFFER_US: i64 = 100_000;
const SPEAKER_PERIOD_US: i64 = 10_000;

/// Where a call's sound goes: the chosen speaker (a sound server device name), or the system's
/// default output, both with a short buffer.
pub(crate) fn audio_out(speaker: Option<&str>) -> Result<gst::Element> {
    if let Some(device) = speaker
        && let Some(sink) = pulsesink()
    {
        sink.set_property("device", device);
        return Ok(sink);
    }
    let auto = make("autoaudiosink")?;
    // The same short buffer for whatever sink it picks.
    if let Some(bin) = auto.downcast_ref::<gst::Bin>() {
        bin.connect_element_added(|_, child| {
            if child.find_property("buffer-time").is_some() {
                child.set_property("buffer-time", SPEAKER_BUFFER_US);
                child.set_property("latency-time", SPEAKER_PERIOD_US);
            }
        });
    }
    Ok(auto)
}

/// GStreamer's PulseAudio sink with the short buffer, on the sound server's default speaker
/// until its `device` is set; `None` where the element is not installed.
pub(crate) fn pulsesink() -> Option<gst::Element> {
    gst::ElementFactory::make("pulsesink")
        .property("buffer-time", SPEAKER_BUFFER_US)
        .property("latency-time", SPEAKER_PERIOD_US)
        .build()
        .ok()
}

/// Play (or count) a stream arriving from `peer`: valve, depayloader, decoder, sink.
pub(super) fn receive_branch(
    shared: &Arc<Shared>,
    peer: PeerId,
    pad: &gst::Pad,
    open: &Arc<AtomicBool>,
    receive: &Arc<Mutex<Vec<gst::Element>>>,
) -> Result<()> {
    let caps = pad
        .current_caps()
        .ok_or_else(|| MediaError::Pipeline("remote stream without caps".into()))?;
    let s = caps
        .structure(0)
        .ok_or_else(|| MediaError::Pipeline("remote stream without caps".into()))?;
    let media = s.get::<&str>("media").unwrap_or("");
    let encoding = s
        .get::<&str>("encoding-name")
        .unwrap_or("")
        .to_ascii_uppercase();
    tracing::debug!(%peer, media, encoding, "remote stream arrives");
    let counters = shared.stats.counters(peer);
    let valve = gst::ElementFactory::make("valve")
        .property("drop", !open.load(Ordering::SeqCst))
        .build()?;
    let video = media == "video";
    let decode = decoder(media, &encoding)?;
    let recordable = decode.is_some();
    let chain = match decode {
        Some(decode) => {
            let decoded = decode.last().cloned();
            let mut chain = vec![valve.clone()];
            chain.extend(decode);
            chain.extend(output(shared, peer, video, &counters)?);
            shared.pipeline.add_many(&chain)?;
            gst::Element::link_many(&chain)?;
            if let (false, Some(playback)) = (video, &shared.playback) {
                // The peer's voice joins the others at the speaker (and the echo reference).
                let last = chain.last().and_then(|e| e.static_pad("src"));
                let last = last.ok_or_else(|| MediaError::Pipeline("audio branch".into()))?;
                if shared.opts.stamp_frames {
                    let weak = Arc::downgrade(shared);
                    counters
                        .lip_sync
                        .watch_audio(&last, &shared.pipeline, move || {
                            weak.upgrade()?.playback.as_ref()?.latency()
                        });
                }
                playback.add(peer, &last)?;
            }
            if let Some(src) = decoded.and_then(|d| d.static_pad("src")) {
                observe_decoded(shared, peer, &src, video, &counters);
            }
            chain
        }
        None => {
            // Not ours to play (e.g. an unknown codec): drain it.
            let chain = vec![make("fakesink")?];
            shared.pipeline.add_many(&chain)?;
            chain
        }
    };
    stats::count_rtp(pad, counters, video);
    if recordable {
        tap_verified(shared, peer, &valve, video, &encoding);
    }
    let first = chain
        .first()
        .and_then(|e| e.static_pad("sink"))
        .ok_or_else(|| MediaError::Pipeline("receive branch sink".into()))?;
    for e in &chain {
        e.sync_state_with_parent()?;
    }
    pad.link(&first)?;
    if let Ok(mut r) = receive.lock() {
        r.extend(chain);
    }
    // Verified while we were building: make sure the valve is open.
    if open.load(Ordering::SeqCst) {
        valve.set_property("drop", false);
    }
    Ok(())
}

/// The depayloader and decoder for a stream we play (a video codec this machine has, or
/// Opus); `None` for anything else.
fn decoder(media: &str, encoding: &str) -> Result<Option<Vec<gst::Element>>> {
    let video_codec = VideoCodec::from_encoding(encoding).filter(|c| c.available());
    Ok(match (media, encoding) {
        ("video", _) if video_codec.is_some() => match video_codec {
            Some(c) => Some(c.receive_chain()?),
            None => None,
        },
        ("audio", "OPUS") => Some(vec![
            make("rtpopusdepay")?,
            gst::ElementFactory::make("opusdec")
                .property("plc", true)
                .build()?,
        ]),
        _ => None,
    })
}

/// Where decoded media goes: the window's frame for the peer and the speakers, or nowhere
/// (headless).
fn output(
    shared: &Shared,
    peer: PeerId,
    video: bool,
    counters: &Arc<stats::PeerCounters>,
) -> Result<Vec<gst::Element>> {
    Ok(match (video, shared.opts.output) {
        // Stamped pictures (the latency benchmarks) are read whole, as they arrive.
        (true, Output::Display) if shared.opts.stamp_frames => vec![
            make("videoconvert")?,
            shared.frames.shown_sink(
                Source::Peer(peer),
                shared.opts.lip_sync,
                Some(shown(counters.clone())),
            ),
        ],
        // Fitted to the tile the window shows it in.
        (true, Output::Display) => shared.frames.fitted(
            Source::Peer(peer),
            gst::Caps::builder("video/x-raw")
                .field("format", "RGBA")
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
            None,
            shared
                .frames
                .shown_sink(Source::Peer(peer), shared.opts.lip_sync, None),
        )?,
        // Into the speaker's mixer (linked by the caller: with the window as output the call
        // always has one).
        (false, Output::Display) => vec![make("audioconvert")?, make("audioresample")?],
        (_, Output::Headless) => vec![
            gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()?,
        ],
    })
}

/// What the benchmarks measure as the window gets a picture: its glass-to-glass latency (from
/// the frame stamp) and the flashes of a flash-and-beep sender.
fn shown(counters: Arc<stats::PeerCounters>) -> crate::media::frames::Shown {
    Box::new(move |rgba, width, height, at| {
        if let Some(age) = stamp::age_rgba(rgba, width) {
            counters.push_shown_latency(age);
        }
        counters.lip_sync.shown(rgba, width, height, at);
    })
}

/// Count what the decoder delivers, hear how loud the peer is (who is speaking), and read
/// frame stamps for the latency benchmark.
fn observe_decoded(
    shared: &Shared,
    peer: PeerId,
    src: &gst::Pad,
    video: bool,
    counters: &Arc<stats::PeerCounters>,
) {
    stats::count_decoded(src, counters.clone(), video);
    if !video {
        shared.levels.install(src, Source::Peer(peer));
    }
    if video && shared.opts.stamp_frames {
        stamp::add_reader(src, counters.clone());
    }
}

/// What passes the valve (verified media, as received) is what a recording keeps.
fn tap_verified(shared: &Shared, peer: PeerId, valve: &gst::Element, video: bool, encoding: &str) {
    let Some(src) = valve.static_pad("src") else {
        return;
    };
    let kind = if video {
        super::Kind::Video
    } else {
        super::Kind::Audio
    };
    let track = TrackId {
        source: Source::Peer(peer),
        kind,
        encoding: encoding.to_string(),
    };
    shared.taps.install(&src, track);
}
