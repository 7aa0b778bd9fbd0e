//! ICE for each `webrtcbin`: STUN and TURN servers (TURN credentials percent-encoded into the
//! URI GStreamer wants), relay-only policy, the local addresses to gather, UDP only, and
//! libnice's pacing.

use std::sync::atomic::Ordering;

use gst::glib;
use gst::prelude::*;

use super::{MediaError, Result, Shared};
use crate::api::url_escape as escape;

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

static NEXT_WEBRTCBIN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) fn new_webrtcbin(shared: &Shared) -> Result<gst::Element> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
