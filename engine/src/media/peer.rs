//! One `webrtcbin` per remote peer: negotiation, ICE, the DTLS certificate hook, the data
//! channel, and the send and receive branches with their valves.

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
use super::source::make;
use super::tap::{Source, TrackId};
use super::{Media, MediaError, Output, Result, Shared, stamp, stats};

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

/// Percent-encode a TURN user name or credential for a `turn://user:pass@host` URI.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `turn:host:port?transport=udp` (RFC 7065) as GStreamer wants it:
/// `turn://user:pass@host:port?transport=udp`.
fn turn_uri(url: &str, user: &str, pass: &str) -> Option<String> {
    let (scheme, rest) = url.split_once(':')?;
    if scheme != "turn" && scheme != "turns" {
        return None;
    }
    let rest = rest.trim_start_matches("//");
    Some(format!(
        "{scheme}://{}:{}@{rest}",
        escape(user),
        escape(pass)
    ))
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

        shared.pipeline.add(&webrtc)?;
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
        webrtc.sync_state_with_parent()?;

        if offerer {
            let dc = webrtc.emit_by_name::<Option<WebRTCDataChannel>>(
                "create-data-channel",
                &[&"assent", &None::<gst::Structure>],
            );
            let dc = dc.ok_or_else(|| MediaError::Pipeline("cannot open a data channel".into()))?;
            if let Ok(mut c) = channel.lock() {
                *c = Some(dc.clone());
            }
            hook_channel(&weak, peer, &dc);
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

static NEXT_WEBRTCBIN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn new_webrtcbin(shared: &Shared) -> Result<gst::Element> {
    let n = NEXT_WEBRTCBIN.fetch_add(1, Ordering::Relaxed);
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .name(format!("webrtc-{n}"))
        .property_from_str("bundle-policy", "max-bundle")
        .property("latency", shared.opts.latency_ms)
        .build()
        .map_err(|_| MediaError::MissingElement("webrtcbin".into()))?;
    configure_ice(&shared.ice, &webrtc);
    Ok(webrtc)
}

fn configure_ice(ice: &super::IceOptions, webrtc: &gst::Element) {
    if ice.relay_only {
        webrtc.set_property_from_str("ice-transport-policy", "relay");
    }
    for server in &ice.servers {
        for url in &server.urls {
            if let Some(rest) = url.strip_prefix("stun:") {
                webrtc.set_property(
                    "stun-server",
                    format!("stun://{}", rest.trim_start_matches("//")),
                );
            } else if let (Some(u), Some(p)) = (&server.username, &server.credential)
                && let Some(uri) = turn_uri(url, u, p)
            {
                let _ = webrtc.emit_by_name::<bool>("add-turn-server", &[&uri]);
            }
        }
    }
    let agent = webrtc.property::<glib::Object>("ice-agent");
    for addr in &ice.local_addresses {
        let _ = agent.emit_by_name::<bool>("add-local-ip-address", &[&addr.to_string()]);
    }
    // UDP only: TCP candidates (rarely usable between desktops, and TURN covers the rest)
    // multiply the pairs to check and slow the first connection.
    if agent.find_property("ice-tcp").is_some() {
        agent.set_property("ice-tcp", false);
    }
    if agent.find_property("agent").is_some() {
        let nice = agent.property::<glib::Object>("agent");
        // libnice would otherwise multicast UPnP discovery on every interface.
        if nice.find_property("upnp").is_some() {
            nice.set_property("upnp", false);
        }
        // libnice paces connectivity checks 20 ms apart, and its regular nomination takes a
        // few rounds: 60 ms of every call setup on a fast path. A call has few candidate pairs,
        // so pace them at 5 ms (RFC 8445's floor for real-time media).
        if nice.find_property("stun-pacing-timer").is_some() {
            nice.set_property("stun-pacing-timer", 5u32);
        }
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
        // Downstream first: a push blocked inside webrtcbin returns (flushing) once it stops,
        // so stopping the queues that feed it cannot wait forever.
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
fn receive_branch(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The debug description of a connection lists each transceiver.
    #[test]
    fn transceivers_are_described() {
        gst::init().unwrap();
        let webrtc = gst::ElementFactory::make("webrtcbin").build().unwrap();
        assert!(transceivers(&webrtc).is_empty());
        let _audio = webrtc.request_pad_simple("sink_%u").unwrap();
        let _video = webrtc.request_pad_simple("sink_%u").unwrap();
        let lines = transceivers(&webrtc);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("#0 mid="), "{lines:?}");
        assert!(lines[1].contains("direction="), "{lines:?}");
    }

    /// Media started with `opts`, its WebRTC events dropped.
    fn start(opts: super::super::MediaOptions) -> Media {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        Media::start(opts, super::super::IceOptions::default(), tx).unwrap()
    }

    /// Microphone off; the camera and the screen as given.
    fn sending(video: bool, screen: bool) -> assent_shared::call::MediaState {
        assent_shared::call::MediaState {
            audio: false,
            video,
            screen,
            hand: false,
        }
    }

    /// Play `description` (a bin ending in RTP) into `media` as if `peer` sent it: built like
    /// webrtcbin's pad-added, once the first buffer (and its caps) is there.
    fn feed(media: &Media, peer: PeerId, description: &str) {
        let shared = media.shared.clone();
        let src = gst::parse::bin_from_description(description, true).unwrap();
        shared.pipeline.add(&src).unwrap();
        let pad = src.static_pad("src").unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let receive = Arc::new(Mutex::new(Vec::new()));
        pad.add_probe(
            gst::PadProbeType::BLOCK | gst::PadProbeType::BUFFER,
            move |pad, _| {
                receive_branch(&shared, peer, pad, &open, &receive).unwrap();
                gst::PadProbeReturn::Remove
            },
        );
        src.sync_state_with_parent().unwrap();
    }

    /// How loud a peer is, measured on its decoded audio: a tone counts as speaking, silence
    /// does not.
    #[test]
    fn a_peers_level_is_measured() {
        let media = start(super::super::MediaOptions {
            video: None,
            audio: None,
            screen: None,
            ..Default::default()
        });
        let (loud, quiet) = (PeerId(1), PeerId(2));
        for (peer, volume) in [(loud, 0.5), (quiet, 0.0)] {
            feed(
                &media,
                peer,
                &format!(
                    "audiotestsrc is-live=true volume={volume} ! opusenc ! rtpopuspay pt=111 ! \
                     capsfilter caps=\"application/x-rtp,media=audio,encoding-name=OPUS,payload=111\""
                ),
            );
        }
        let levels = media.levels();
        // A tone at half scale: about −9 dBFS.
        let db = levels
            .wait_until(
                Source::Peer(loud),
                |db| db >= super::super::level::SPEAKING_DB,
                Duration::from_secs(20),
            )
            .expect("a level for the tone");
        assert!((-15.0..=-3.0).contains(&db), "{db}");
        assert!(levels.get(Source::Peer(quiet)) < super::super::level::SPEAKING_DB);
        media.stop();
    }

    /// With the window as output, our own picture comes back small and in its shape for the
    /// self-view; headless, there is none.
    #[test]
    fn the_window_gets_a_self_view() {
        for output in [Output::Display, Output::Headless] {
            let media = start(super::super::MediaOptions {
                audio: None,
                screen: None,
                output,
                ..Default::default()
            });
            let frame = media.frames().wait_newer(
                Source::Local,
                0,
                Duration::from_secs(match output {
                    Output::Display => 20,
                    Output::Headless => 1,
                }),
            );
            match output {
                Output::Display => {
                    let f = frame.expect("a self-view");
                    // 640x480 sent: 320x240 shown.
                    assert_eq!((f.width, f.height), (320, 240));
                    assert_eq!(f.rgba.len(), 320 * 240 * 4);
                }
                Output::Headless => assert!(frame.is_none()),
            }
            media.stop();
        }
    }

    /// Joined with the camera off, the camera is never opened until it is turned on.
    #[test]
    fn joined_with_the_camera_off_opens_it_only_when_turned_on() {
        let media = start(super::super::MediaOptions {
            audio: None,
            screen: None,
            output: Output::Display,
            camera_on: false,
            ..Default::default()
        });
        let video = media.shared.video.as_ref().unwrap();
        assert!(!video.camera_running());
        media.apply_local(sending(true, false)).unwrap();
        assert!(video.camera_running());
        media
            .frames()
            .wait_newer(Source::Local, 0, Duration::from_secs(20))
            .expect("a picture once the camera is on");
        media.stop();
    }

    /// Camera off stops the camera's source (the device is let go of); camera on starts it
    /// again and the picture comes back. Sharing the screen stops the camera too.
    #[test]
    fn camera_off_lets_go_of_the_camera() {
        let media = start(super::super::MediaOptions {
            audio: None,
            screen: Some(Box::new(super::super::source::TestVideo {
                pattern: "smpte".into(),
            })),
            output: Output::Display,
            ..Default::default()
        });
        let video = media.shared.video.as_ref().unwrap();
        let frames = media.frames();
        let wait = Duration::from_secs(20);
        let first = frames
            .wait_newer(Source::Local, 0, wait)
            .expect("a picture");
        assert!(video.camera_running());
        media.apply_local(sending(false, false)).unwrap();
        assert!(!video.camera_running());
        media.apply_local(sending(true, false)).unwrap();
        let back = frames
            .wait_newer(Source::Local, first.seq + 1, wait)
            .expect("the picture comes back");
        assert!(video.camera_running());
        media.apply_local(sending(true, true)).unwrap();
        assert!(!video.camera_running());
        frames
            .wait_newer(Source::Local, back.seq + 1, wait)
            .expect("the screen's picture");
        media.apply_local(sending(true, false)).unwrap();
        assert!(video.camera_running());
        media.stop();
    }

    /// With the window as output, a peer's VP8 stream arrives as RGBA frames in the slots.
    #[test]
    fn display_output_delivers_rgba_frames() {
        let media = start(super::super::MediaOptions {
            video: None,
            audio: None,
            screen: None,
            output: Output::Display,
            ..Default::default()
        });
        let peer = PeerId(42);
        // An RTP stream standing in for what webrtcbin hands out for a peer.
        feed(
            &media,
            peer,
            "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! \
             vp8enc deadline=1 ! rtpvp8pay pt=96 ! \
             capsfilter caps=\"application/x-rtp,media=video,encoding-name=VP8,payload=96\"",
        );
        let frames = media.frames();
        let first = frames
            .wait_newer(Source::Peer(peer), 0, Duration::from_secs(20))
            .expect("a frame for the window");
        assert_eq!((first.width, first.height), (320, 240));
        assert_eq!(first.rgba.len(), 320 * 240 * 4);
        let later = frames
            .wait_newer(Source::Peer(peer), first.seq, Duration::from_secs(20))
            .expect("frames keep coming");
        assert!(later.seq > first.seq);
        media.stop();
    }

    /// Every stream a client sends is announced with its SSRC, and retransmissions are grouped
    /// with the stream they repair: the receiver maps each stream to its m-line by the
    /// description, not by guessing from which arrives first.
    #[test]
    fn descriptions_announce_each_stream_ssrc() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = super::super::MediaOptions {
            screen: None,
            ..Default::default()
        };
        let media = Media::start(opts, super::super::IceOptions::default(), tx).unwrap();
        let peer = PeerId(7);
        media.create_peer(peer, true, VideoCodec::Vp8).unwrap();
        let sdp = loop {
            match rx.blocking_recv() {
                Some(MediaEvent::LocalDescription { sdp, .. }) => break sdp,
                Some(_) => continue,
                None => panic!("no offer"),
            }
        };
        let mut announced = Vec::new();
        for section in sdp.split("\r\nm=").skip(1) {
            let kind = section.split(' ').next().unwrap_or_default();
            if kind == "application" {
                continue;
            }
            let ssrcs: Vec<u32> = section
                .lines()
                .filter_map(|l| l.strip_prefix("a=ssrc:"))
                .filter(|l| l.contains(" cname:"))
                .filter_map(|l| l.split(' ').next()?.parse().ok())
                .collect();
            let groups: Vec<Vec<u32>> = section
                .lines()
                .filter_map(|l| l.strip_prefix("a=ssrc-group:FID "))
                .map(|g| g.split(' ').filter_map(|n| n.parse().ok()).collect())
                .collect();
            assert!(!groups.is_empty(), "{kind}: no retransmission group");
            for g in &groups {
                assert_eq!(g.len(), 2, "{kind}: {g:?}");
                assert!(
                    ssrcs.contains(&g[0]),
                    "{kind}: group {g:?} not of an announced stream"
                );
                assert!(ssrcs.contains(&g[1]), "{kind}: group {g:?}");
            }
            let media_ssrc = groups[0][0];
            assert_ne!(media_ssrc, 0, "{kind}");
            announced.push((kind.to_string(), media_ssrc));
        }
        let kinds: Vec<&str> = announced.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["video", "audio"]);
        assert_ne!(announced[0].1, announced[1].1);
        media.stop();
    }

    #[test]
    fn turn_uris() {
        assert_eq!(
            turn_uri(
                "turn:127.0.0.1:3478?transport=udp",
                "1700000000:ab",
                "x+y/z="
            )
            .as_deref(),
            Some("turn://1700000000%3Aab:x%2By%2Fz%3D@127.0.0.1:3478?transport=udp")
        );
        assert_eq!(turn_uri("stun:127.0.0.1:3478", "u", "p"), None);
    }
}
