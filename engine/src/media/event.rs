//! What the media layer tells the layer above it: WebRTC events, in its own terms. The call layer
//! maps them to its machine's inputs; media knows nothing of the call machine.

use assent_shared::call::DtlsFingerprint;
use assent_shared::signal::PeerId;

/// An SDP description's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpKind {
    Offer,
    Answer,
}

/// The WebRTC connection states worth reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Connected,
    Failed,
}

/// One event from a peer's WebRTC connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// Our description for `peer` is set locally and ready to send.
    LocalDescription {
        peer: PeerId,
        kind: SdpKind,
        sdp: String,
    },
    LocalCandidate {
        peer: PeerId,
        mline: u32,
        candidate: String,
    },
    Transport {
        peer: PeerId,
        state: Transport,
    },
    /// The DTLS handshake with `peer` presented a certificate with this fingerprint.
    RemoteCertificate {
        peer: PeerId,
        fingerprint: DtlsFingerprint,
    },
    ChannelOpen {
        peer: PeerId,
    },
    ChannelMessage {
        peer: PeerId,
        text: String,
    },
    /// The delay-based estimate of what the connection to `peer` carries changed (all our
    /// media to them, bit/s); `probed`: a bandwidth probe measured it.
    SendEstimate {
        peer: PeerId,
        bps: u32,
        probed: bool,
    },
    /// Media could not do its part for `peer` (no offer made, description refused).
    PeerError {
        peer: PeerId,
        reason: String,
    },
}
