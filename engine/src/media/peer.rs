//! One `webrtcbin` per remote peer: negotiation, the DTLS certificate hook, the data
//! channel, and the send branches with their valves. ICE is configured in [`super::ice`], what
//! arrives is played by [`super::receive`], pictures go to [`super::frames`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assent_shared::call::DtlsFingerprint;
use assent_shared::signal::PeerId;
use gst::glib;
use gst::prelude::*;
use gst_webrtc::{
    WebRTCDataChannel, WebRTCPeerConnectionState, WebRTCSDPType, WebRTCSessionDescription,
};

use super::codec::VideoCodec;
use super::event::{MediaEvent, SdpKind, Transport};
use super::ice::new_webrtcbin;
use super::receive::receive_branch;
use super::tap::Source;
use super::{Media, MediaError, Result, Shared};

struct SendBranch {
    tee: gst::Element,
    tee_pad: gst::Pad,
    queue: gst::Element,
    valve: gst::Element,
}

/// Everything that belongs to one remote peer.
pub(crate) struct PeerLink {
    webrtc: gst::Element,
    /// The video codec sent to this peer.
    codec: Option<VideoCodec>,
    send: Vec<SendBranch>,
    /// Whether media may flow (the peer is verified).
    open: Arc<AtomicBool>,
    /// Receive valves and elements, added as the peer's streams arrive.
    receive: Arc<Mutex<Vec<gst::Element>>>,
    channel: Arc<Mutex<Option<WebRTCDataChannel>>>,
}

fn send_input(shared: &std::sync::Weak<Shared>, event: MediaEvent) {
    if let Some(s) = shared.upgrade() {
        let _ = s.events.send(event);
    }
}

impl Media {
    /// Build the connection to `peer`, sending it video in `codec`. As offerer, open the data
    /// channel and make the offer; the description comes back as [`MediaEvent::LocalDescription`].
    pub fn create_peer(&self, peer: PeerId, offerer: bool, codec: VideoCodec) -> Result<()> {
        let shared = &self.shared;
        let webrtc = match self.take_spare() {
            Some(w) => w,
            None => new_webrtcbin(shared)?,
        };
        self.prepare_spare();
        let weak = Arc::downgrade(shared);

        watch_transport(&webrtc, &weak, peer);
        watch_dtls(&webrtc, &weak, peer);
        let (open, receive) = watch_streams(&webrtc, &weak, peer);
        let channel = watch_channel(&webrtc, &weak, peer);
        if let Some(video) = shared
            .video
            .as_ref()
            .filter(|_| shared.opts.congestion_control)
        {
            let o = &shared.opts;
            let bounds = super::congestion::Bounds::for_video(o.min_kbps, video.kbps(), o.max_kbps);
            super::congestion::attach(&webrtc, weak.clone(), peer, bounds);
        }
        shared.pipeline.add(&webrtc)?;
        let send = link_senders(shared, &webrtc, codec)?;
        webrtc.sync_state_with_parent()?;

        if offerer {
            open_channel(&webrtc, &weak, peer, &channel)?;
        }
        if let Ok(mut peers) = shared.peers.lock() {
            peers.insert(
                peer,
                PeerLink {
                    webrtc: webrtc.clone(),
                    codec: shared.video.as_ref().map(|_| codec),
                    send,
                    open,
                    receive,
                    channel,
                },
            );
        }
        shared.stats.add_peer(peer);
        if offerer {
            create_description(&webrtc, weak, peer, SdpKind::Offer);
        }
        Ok(())
    }

    /// A webrtcbin made ahead of time (making one takes some 25 ms of the call setup).
    fn take_spare(&self) -> Option<gst::Element> {
        self.shared.spare.lock().ok()?.take()
    }

    /// Make the next spare webrtcbin in the background.
    pub(crate) fn prepare_spare(&self) {
        let weak = Arc::downgrade(&self.shared);
        std::thread::spawn(move || {
            let Some(shared) = weak.upgrade() else { return };
            if let Ok(w) = new_webrtcbin(&shared)
                && let Ok(mut spare) = shared.spare.lock()
                && spare.is_none()
            {
                *spare = Some(w);
            }
        });
    }
}

impl Media {
    fn link(&self, peer: PeerId) -> Option<gst::Element> {
        self.shared
            .peers
            .lock()
            .ok()?
            .get(&peer)
            .map(|l| l.webrtc.clone())
    }

    /// Apply the peer's verified description; for an offer, answer it.
    pub fn apply_remote(&self, peer: PeerId, kind: SdpKind, sdp: &str) -> Result<()> {
        let webrtc = self
            .link(peer)
            .ok_or_else(|| MediaError::Pipeline(format!("no connection to {peer}")))?;
        let msg = gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes())
            .map_err(|_| MediaError::Pipeline("unparsable session description".into()))?;
        let type_ = match kind {
            SdpKind::Offer => WebRTCSDPType::Offer,
            SdpKind::Answer => WebRTCSDPType::Answer,
        };
        let desc = WebRTCSessionDescription::new(type_, msg);
        let weak = Arc::downgrade(&self.shared);
        let promise = match kind {
            SdpKind::Answer => None,
            SdpKind::Offer => {
                let w = webrtc.downgrade();
                Some(gst::Promise::with_change_func(move |reply| {
                    if let Some(reason) = reply_error(reply) {
                        return send_input(&weak, MediaEvent::PeerError { peer, reason });
                    }
                    if let Some(webrtc) = w.upgrade() {
                        create_description(&webrtc, weak, peer, SdpKind::Answer);
                    }
                }))
            }
        };
        webrtc.emit_by_name::<()>("set-remote-description", &[&desc, &promise]);
        Ok(())
    }

    /// Ask every peer for a key frame (RTCP PLI).
    pub fn request_remote_keyframes(&self) {
        let Ok(peers) = self.shared.peers.lock() else {
            return;
        };
        for link in peers.values() {
            let Ok(r) = link.receive.lock() else { continue };
            for v in r.iter().filter(|e| is_valve(e)) {
                if let Some(pad) = v.static_pad("sink") {
                    let ev = gst_video::UpstreamForceKeyUnitEvent::builder()
                        .all_headers(true)
                        .build();
                    let _ = pad.push_event(ev);
                }
            }
        }
    }

    /// The video codec sent to `peer`.
    pub fn codec_of(&self, peer: PeerId) -> Option<VideoCodec> {
        self.shared.peers.lock().ok()?.get(&peer)?.codec
    }

    pub fn add_candidate(&self, peer: PeerId, mline: u32, candidate: &str) {
        if let Some(webrtc) = self.link(peer) {
            webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
        }
    }

    /// The peer is verified: let media flow both ways, starting with a key frame.
    pub fn open_media(&self, peer: PeerId) {
        tracing::debug!(%peer, "media opens");
        let Ok(peers) = self.shared.peers.lock() else {
            return;
        };
        let Some(link) = peers.get(&peer) else { return };
        if tracing::enabled!(tracing::Level::DEBUG) {
            for t in transceivers(&link.webrtc) {
                tracing::debug!(%peer, transceiver = %t, "media opens");
            }
        }
        link.open.store(true, Ordering::SeqCst);
        for b in &link.send {
            b.valve.set_property("drop", false);
        }
        if let Ok(r) = link.receive.lock() {
            for v in r.iter().filter(|e| is_valve(e)) {
                v.set_property("drop", false);
                // Ask the peer for a key frame (RTCP PLI): what came before was dropped.
                if let Some(pad) = v.static_pad("sink") {
                    let ev = gst_video::UpstreamForceKeyUnitEvent::builder()
                        .all_headers(true)
                        .build();
                    let _ = pad.push_event(ev);
                }
            }
        }
        drop(peers);
        self.request_keyframe();
    }

    pub fn send_data(&self, peer: PeerId, text: &str) {
        let channel = self
            .shared
            .peers
            .lock()
            .ok()
            .and_then(|p| p.get(&peer).and_then(|l| l.channel.lock().ok()?.clone()));
        match channel {
            Some(dc) => {
                if let Err(e) = dc.send_string_full(Some(text)) {
                    tracing::debug!(%peer, "data channel send failed: {e}");
                }
            }
            None => tracing::warn!(%peer, "no data channel to send on: a message is lost"),
        }
    }

    /// Tear down the connection to `peer` and everything that fed or played it.
    pub fn close_peer(&self, peer: PeerId) {
        let link = self
            .shared
            .peers
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&peer));
        let Some(link) = link else { return };
        link.open.store(false, Ordering::SeqCst);
        let pipeline = &self.shared.pipeline;
        for b in &link.send {
            b.valve.set_property("drop", true);
            unlink_from_tee(b);
        }
        if let Ok(mut c) = link.channel.lock()
            && let Some(dc) = c.take()
        {
            dc.close();
        }
        // Downstream first. The speaker mixer's inputs go before anything is stopped: a
        // receive branch may wait inside the mixer, and stopping webrtcbin (whose thread it
        // is) would wait for it. A push blocked inside webrtcbin returns (flushing) once it
        // stops, so stopping the queues that feed it cannot wait forever.
        if let Some(playback) = &self.shared.playback {
            playback.remove(peer);
        }
        let _ = link.webrtc.set_state(gst::State::Null);
        let _ = pipeline.remove(&link.webrtc);
        for b in &link.send {
            let _ = b.queue.set_state(gst::State::Null);
            let _ = b.valve.set_state(gst::State::Null);
            let _ = pipeline.remove_many([&b.queue, &b.valve]);
        }
        let receive: Vec<gst::Element> = link
            .receive
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for e in receive {
            let _ = e.set_state(gst::State::Null);
            let _ = pipeline.remove(&e);
        }
        if let (Some(v), Some(codec)) = (&self.shared.video, link.codec) {
            v.release(codec);
        }
        self.shared.frames.remove(Source::Peer(peer));
        self.shared.levels.remove(Source::Peer(peer));
        self.shared.stats.remove_peer(peer);
        self.shared.taps.remove(Source::Peer(peer));
    }

    /// WebRTC statistics of the connection to `peer` (RTT, loss, bytes), when it has some.
    pub async fn webrtc_stats(&self, peer: PeerId) -> Option<gst::Structure> {
        let webrtc = self.link(peer)?;
        let (promise, fut) = gst::Promise::new_future();
        webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
        let reply = tokio::time::timeout(Duration::from_secs(2), fut)
            .await
            .ok()?
            .ok()??;
        Some(reply.to_owned())
    }
}

/// A line per transceiver: mid, kind, wanted and negotiated direction (for debugging).
fn transceivers(webrtc: &gst::Element) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0u32..16 {
        let Some(t) = webrtc.emit_by_name::<Option<gst_webrtc::WebRTCRTPTransceiver>>(
            "get-transceiver",
            &[&(i as i32)],
        ) else {
            break;
        };
        let prop = |name: &str| {
            t.find_property(name)
                .map(|_| format!("{:?}", t.property_value(name)))
                .unwrap_or_default()
        };
        out.push(format!(
            "#{i} mid={} kind={} direction={} current={}",
            prop("mid"),
            prop("kind"),
            prop("direction"),
            prop("current-direction")
        ));
    }
    out
}

fn is_valve(e: &gst::Element) -> bool {
    e.factory().is_some_and(|f| f.name() == "valve")
}

/// Release our branch's tee pad while no buffer is passing through it.
fn unlink_from_tee(b: &SendBranch) {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let tee = b.tee.clone();
    let queue_sink = b.queue.static_pad("sink");
    let tx = Mutex::new(Some(tx));
    b.tee_pad.add_probe(gst::PadProbeType::IDLE, move |pad, _| {
        if let Some(sink) = &queue_sink {
            let _ = pad.unlink(sink);
        }
        tee.release_request_pad(pad);
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(());
        }
        gst::PadProbeReturn::Remove
    });
    // The probe runs at once when the pad is idle, or after the buffer in flight.
    let _ = rx.recv_timeout(Duration::from_secs(1));
}

fn reply_error(
    reply: std::result::Result<Option<&gst::StructureRef>, gst::PromiseError>,
) -> Option<String> {
    match reply {
        Ok(Some(s)) => s
            .get::<glib::Error>("error")
            .ok()
            .map(|e| e.message().to_string()),
        Ok(None) => None,
        Err(e) => Some(format!("{e:?}")),
    }
}

/// Create an offer or answer, set it locally, and hand its SDP to the call machine.
fn create_description(
    webrtc: &gst::Element,
    weak: std::sync::Weak<Shared>,
    peer: PeerId,
    kind: SdpKind,
) {
    let w = webrtc.downgrade();
    let field = match kind {
        SdpKind::Offer => "offer",
        SdpKind::Answer => "answer",
    };
    let promise = gst::Promise::with_change_func(move |reply| {
        let desc = match reply {
            Ok(Some(s)) => s.get::<WebRTCSessionDescription>(field).ok(),
            _ => None,
        };
        let Some(desc) = desc else {
            let reason = reply_error(reply).unwrap_or_else(|| format!("no {field} was made"));
            return send_input(&weak, MediaEvent::PeerError { peer, reason });
        };
        let Some(webrtc) = w.upgrade() else { return };
        webrtc.emit_by_name::<()>("set-local-description", &[&desc, &None::<gst::Promise>]);
        match desc.sdp().as_text() {
            Ok(sdp) => send_input(&weak, MediaEvent::LocalDescription { peer, kind, sdp }),
            Err(e) => send_input(
                &weak,
                MediaEvent::PeerError {
                    peer,
                    reason: format!("cannot write the {field}: {e}"),
                },
            ),
        }
    });
    let signal = match kind {
        SdpKind::Offer => "create-offer",
        SdpKind::Answer => "create-answer",
    };
    webrtc.emit_by_name::<()>(signal, &[&None::<gst::Structure>, &promise]);
}

/// Tell the call about this peer's local ICE candidates and whether its connection holds
/// (failures end the peer).
fn watch_transport(webrtc: &gst::Element, weak: &std::sync::Weak<Shared>, peer: PeerId) {
    // Local ICE candidates.
    let w = weak.clone();
    webrtc.connect("on-ice-candidate", false, move |values| {
        let mline = values.get(1).and_then(|v| v.get::<u32>().ok());
        let candidate = values.get(2).and_then(|v| v.get::<String>().ok());
        if let (Some(mline), Some(candidate)) = (mline, candidate) {
            send_input(
                &w,
                MediaEvent::LocalCandidate {
                    peer,
                    mline,
                    candidate,
                },
            );
        }
        None
    });
    webrtc.connect_notify(Some("ice-connection-state"), move |e, _| {
        let state = e.property::<gst_webrtc::WebRTCICEConnectionState>("ice-connection-state");
        tracing::debug!(%peer, ?state, "ICE");
    });
    // Connection state: failures end the peer.
    let w = weak.clone();
    webrtc.connect_notify(Some("connection-state"), move |e, _| {
        let state = e.property::<WebRTCPeerConnectionState>("connection-state");
        let t = match state {
            WebRTCPeerConnectionState::Failed => Transport::Failed,
            WebRTCPeerConnectionState::Connected => Transport::Connected,
            _ => return,
        };
        send_input(&w, MediaEvent::Transport { peer, state: t });
    });
}

/// The DTLS certificate the peer presents, as soon as the handshake shows it (before the
/// SRTP keys exist; webrtcbin 1.22 does not compare it with the SDP fingerprint); and jitter
/// buffers that start as soon as packets arrive in order.
fn watch_dtls(webrtc: &gst::Element, weak: &std::sync::Weak<Shared>, peer: PeerId) {
    // The DTLS certificate the peer presents, as soon as the handshake shows it (before the
    // SRTP keys exist). webrtcbin 1.22 does not compare it with the SDP fingerprint.
    let w = weak.clone();
    webrtc.connect("deep-element-added", false, move |values| {
        let element = values.get(2).and_then(|v| v.get::<gst::Element>().ok())?;
        let factory = element.factory().map(|f| f.name().to_string());
        if factory.as_deref() == Some("rtpjitterbuffer") {
            // Start as soon as packets arrive in order instead of after the full latency:
            // the first frame shows that much sooner.
            element.set_property("faststart-min-packets", 2u32);
        }
        if factory.as_deref() == Some("dtlssrtpdec") {
            let w = w.clone();
            element.connect_notify(Some("peer-pem"), move |e, _| {
                let pem = e.property::<Option<String>>("peer-pem");
                let Some(pem) = pem else { return };
                match DtlsFingerprint::of_pem(&pem) {
                    Ok(fingerprint) => {
                        send_input(&w, MediaEvent::RemoteCertificate { peer, fingerprint })
                    }
                    Err(e) => send_input(
                        &w,
                        MediaEvent::PeerError {
                            peer,
                            reason: format!("unreadable DTLS certificate: {e}"),
                        },
                    ),
                }
            });
        }
        None
    });
}

/// Play the peer's streams as they arrive; what comes back is whether media may flow and the
/// receive elements made so far.
fn watch_streams(
    webrtc: &gst::Element,
    weak: &std::sync::Weak<Shared>,
    peer: PeerId,
) -> (Arc<AtomicBool>, Arc<Mutex<Vec<gst::Element>>>) {
    // Remote streams.
    let open = Arc::new(AtomicBool::new(false));
    let receive = Arc::new(Mutex::new(Vec::new()));
    {
        let w = weak.clone();
        let open = open.clone();
        let receive = receive.clone();
        webrtc.connect_pad_added(move |_, pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let Some(shared) = w.upgrade() else { return };
            if let Err(e) = receive_branch(&shared, peer, pad, &open, &receive) {
                tracing::warn!(%peer, "cannot play a remote stream: {e}");
            }
        });
    }
    (open, receive)
}

/// Keep and hook the data channel the peer opens.
fn watch_channel(
    webrtc: &gst::Element,
    weak: &std::sync::Weak<Shared>,
    peer: PeerId,
) -> Arc<Mutex<Option<WebRTCDataChannel>>> {
    // Data channel.
    let channel: Arc<Mutex<Option<WebRTCDataChannel>>> = Arc::new(Mutex::new(None));
    {
        let w = weak.clone();
        let channel = channel.clone();
        webrtc.connect("on-data-channel", false, move |values| {
            let dc = values
                .get(1)
                .and_then(|v| v.get::<WebRTCDataChannel>().ok())?;
            // Keep it before hooking it: once the call hears the channel is open it sends
            // at once (what it sends while the channel is unknown would be lost).
            if let Ok(mut c) = channel.lock() {
                *c = Some(dc.clone());
            }
            hook_channel(&w, peer, &dc);
            None
        });
    }

    channel
}

/// A queue and a closed valve from each local tee (video in `codec`, audio) into `webrtc`.
fn link_senders(
    shared: &Shared,
    webrtc: &gst::Element,
    codec: VideoCodec,
) -> Result<Vec<SendBranch>> {
    let mut send = Vec::new();
    let video_tee = match &shared.video {
        Some(v) => Some(v.acquire(&shared.pipeline, codec)?),
        None => None,
    };
    let audio_tee = shared.audio.as_ref().map(|a| a.tee.clone());
    for tee in [video_tee, audio_tee].into_iter().flatten() {
        let queue = gst::ElementFactory::make("queue")
            .property("max-size-buffers", 64u32)
            .property("max-size-bytes", 0u32)
            .property("max-size-time", 500_000_000u64)
            .property_from_str("leaky", "downstream")
            .build()?;
        let valve = gst::ElementFactory::make("valve")
            .property("drop", true)
            .build()?;
        shared.pipeline.add_many([&queue, &valve])?;
        queue.link(&valve)?;
        let sink = webrtc
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Pipeline("webrtcbin sink pad".into()))?;
        valve
            .static_pad("src")
            .ok_or_else(|| MediaError::Pipeline("valve src".into()))?
            .link(&sink)?;
        if let Some(t) = sink.property::<Option<glib::Object>>("transceiver") {
            t.set_property("do-nack", true);
        }
        let tee_pad = super::send::join_tee(&tee, &[&queue, &valve])?;
        send.push(SendBranch {
            tee: tee.clone(),
            tee_pad,
            queue,
            valve,
        });
    }
    Ok(send)
}

/// As the offerer, open the data channel (kept before it is hooked).
fn open_channel(
    webrtc: &gst::Element,
    weak: &std::sync::Weak<Shared>,
    peer: PeerId,
    channel: &Mutex<Option<WebRTCDataChannel>>,
) -> Result<()> {
    let dc = webrtc.emit_by_name::<Option<WebRTCDataChannel>>(
        "create-data-channel",
        &[&"assent", &None::<gst::Structure>],
    );
    let dc = dc.ok_or_else(|| MediaError::Pipeline("cannot open a data channel".into()))?;
    if let Ok(mut c) = channel.lock() {
        *c = Some(dc.clone());
    }
    hook_channel(weak, peer, &dc);
    Ok(())
}

fn hook_channel(weak: &std::sync::Weak<Shared>, peer: PeerId, dc: &WebRTCDataChannel) {
    let w = weak.clone();
    dc.connect_on_open(move |_| send_input(&w, MediaEvent::ChannelOpen { peer }));
    let w = weak.clone();
    dc.connect_on_message_string(move |_, text| {
        if let Some(text) = text {
            send_input(
                &w,
                MediaEvent::ChannelMessage {
                    peer,
                    text: text.to_string(),
                },
            );
        }
    });
    if dc.ready_state() == gst_webrtc::WebRTCDataChannelState::Open {
        send_input(weak, MediaEvent::ChannelOpen { peer });
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
