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

/// Where a call's sound goes: the chosen speaker (a sound server device name), or the system's
/// default output.
pub(crate) fn audio_out(speaker: Option<&str>) -> Result<gst::Element> {
    if let Some(device) = speaker
        && let Ok(sink) = gst::ElementFactory::make("pulsesink")
            .property("device", device)
            .build()
    {
        return Ok(sink);
    }
    make("autoaudiosink")
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
    let mut chain = vec![valve.clone()];
    let video_codec = VideoCodec::from_encoding(&encoding).filter(|c| c.available());
    match (media, encoding.as_str()) {
        ("video", _) if video_codec.is_some() => {
            if let Some(c) = video_codec {
                chain.extend(c.receive_chain()?);
            }
        }
        ("audio", "OPUS") => {
            chain.push(make("rtpopusdepay")?);
            chain.push(
                gst::ElementFactory::make("opusdec")
                    .property("plc", true)
                    .build()?,
            );
        }
        _ => {
            // Not ours to play (e.g. an unknown codec): drain it.
            chain = vec![make("fakesink")?];
        }
    }
    let video = media == "video";
    let decoded_tail = chain.last().cloned();
    let output = shared.opts.output;
    if chain.len() > 1 {
        match (video, output) {
            (true, Output::Display) => {
                chain.push(make("videoconvert")?);
                chain.push(shared.frames.sink(Source::Peer(peer)));
            }
            (false, Output::Display) => {
                chain.push(make("audioconvert")?);
                chain.push(make("audioresample")?);
                chain.push(audio_out(shared.opts.speaker.as_deref())?);
            }
            (_, Output::Headless) => {
                chain.push(
                    gst::ElementFactory::make("fakesink")
                        .property("sync", false)
                        .property("async", false)
                        .build()?,
                );
            }
        }
    }
    shared.pipeline.add_many(&chain)?;
    gst::Element::link_many(&chain)?;
    // Count what the decoder delivers (and read frame stamps for the latency benchmark).
    if let Some(dec) = decoded_tail.filter(|_| chain.len() > 1)
        && let Some(src) = dec.static_pad("src")
    {
        stats::count_decoded(&src, counters.clone(), video);
        if !video {
            // How loud the peer is (who is speaking).
            shared.levels.install(&src, Source::Peer(peer));
        }
        if video && shared.opts.stamp_frames {
            stamp::add_reader(&src, counters.clone());
        }
    }
    stats::count_rtp(pad, counters, video);
    // What passes the valve (verified media, as received) is what a recording keeps.
    let recordable = video_codec.is_some() || (media == "audio" && encoding == "OPUS");
    if recordable && let Some(src) = valve.static_pad("src") {
        shared.taps.install(
            &src,
            TrackId {
                source: Source::Peer(peer),
                kind: if video {
                    super::Kind::Video
                } else {
                    super::Kind::Audio
                },
                encoding: encoding.clone(),
            },
        );
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
