//! What the clients of a call say to each other.
//!
//! - [`SignedEnvelope`]: the payload of every signaling `send`. The server relays it without
//!   reading it; the sender signs the exact JSON bytes of an [`Envelope`] (call, sender seat,
//!   recipient, sequence number, body), so a relay can neither alter, forge, misattribute nor
//!   replay one into another call.
//! - The DTLS binding: with each offer and answer, a peer signs its DTLS certificate fingerprint
//!   together with the call and both peers' user and seat ids ([`sign_dtls`]). The receiver checks
//!   it against the sender's identity key, checks that the SDP carries that very fingerprint, and
//!   later that the certificate presented in the DTLS handshake has it, before any media flows.
//! - [`PeerMessage`]: what peers send each other over the WebRTC data channel (end to end,
//!   never through the server): media state, raised hands, chat and its delivery receipts.

use serde::{Deserialize, Serialize};

use crate::api::B64;
use crate::codec;
use crate::identity::{IdentityKey, SecretIdentity};
use crate::ids::{CallId, UserId};
use crate::sign::{Context, Signature};
use crate::signal::PeerId;
use crate::transparency::{Equivocation, SignedRoot};

/// Version of the envelope and of the DTLS binding.
pub const CALL_PROTOCOL_VERSION: u16 = 1;
/// Largest SDP accepted in an offer or answer.
pub const MAX_SDP: usize = 32 * 1024;
/// Largest ICE candidate line accepted.
pub const MAX_CANDIDATE: usize = 1024;
/// Largest chat message, in bytes of UTF-8.
pub const MAX_CHAT: usize = 4096;
/// Largest data channel message accepted (a consent sync carries every epoch's proposal).
pub const MAX_PEER_MESSAGE: usize = 256 * 1024;

/// Why a message from another client was refused. Each names what a user or a log should know;
/// none carries the message's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("unsupported call protocol version {0}")]
    UnsupportedVersion(u16),
    #[error("the signature on a signaling message does not verify: it was altered in transit")]
    BadSignature,
    #[error("a signaling message from another call was replayed into this one")]
    WrongCall,
    #[error("a signaling message was addressed to another participant")]
    NotForMe,
    #[error("the server attributed a signaling message to the wrong sender")]
    WrongSender,
    #[error("a signaling message was replayed (sequence {seq} after {last})")]
    Replayed { seq: u64, last: u64 },
    #[error("{0} is too large")]
    TooLarge(&'static str),
    #[error("the session description has no DTLS fingerprint")]
    NoFingerprint,
    #[error("the session description has several different DTLS fingerprints")]
    ConflictingFingerprints,
    #[error("DTLS fingerprint uses {0}, only sha-256 is accepted")]
    UnsupportedHash(String),
    #[error(
        "the DTLS fingerprint is not signed by the participant's identity key for this call: \
         the connection may be intercepted"
    )]
    BadDtlsBinding,
    #[error(
        "the DTLS certificate presented does not match the fingerprint the participant signed: \
         the connection is intercepted"
    )]
    CertificateMismatch,
}

pub type Result<T, E = CallError> = std::result::Result<T, E>;

/// The SHA-256 fingerprint of a DTLS certificate (of its DER encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtlsFingerprint(pub [u8; 32]);
crate::bytes::serde_fixed!(DtlsFingerprint, 32);

impl std::fmt::Debug for DtlsFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DtlsFingerprint({})",
            data_encoding::HEXUPPER.encode(&self.0[..4])
        )
    }
}

impl DtlsFingerprint {
    /// The fingerprint of a certificate given as DER bytes.
    pub fn of_der(der: &[u8]) -> DtlsFingerprint {
        DtlsFingerprint(crate::Digest::sha256(der).0)
    }

    /// The fingerprint of the first certificate in a PEM text.
    pub fn of_pem(pem: &str) -> Result<DtlsFingerprint> {
        let mut inside = false;
        let mut b64 = String::new();
        for line in pem.lines().map(str::trim) {
            if line == "-----BEGIN CERTIFICATE-----" {
                inside = true;
            } else if line == "-----END CERTIFICATE-----" {
                if inside {
                    break;
                }
            } else if inside {
                b64.push_str(line);
            }
        }
        if b64.is_empty() {
            return Err(CallError::Malformed("no certificate in PEM".into()));
        }
        let der = data_encoding::BASE64
            .decode(b64.as_bytes())
            .map_err(|_| CallError::Malformed("certificate PEM is not base64".into()))?;
        Ok(Self::of_der(&der))
    }

    /// Parse the value of an SDP `a=fingerprint:` attribute, e.g. `sha-256 AB:CD:…`.
    pub fn parse_attribute(value: &str) -> Result<DtlsFingerprint> {
        let mut parts = value.split_whitespace();
        let (Some(hash), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CallError::Malformed("fingerprint attribute".into()));
        };
        if !hash.eq_ignore_ascii_case("sha-256") {
            return Err(CallError::UnsupportedHash(
                hash.chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(16)
                    .collect(),
            ));
        }
        let mut out = [0u8; 32];
        let mut n = 0;
        for byte in hex.split(':') {
            if n == 32 || byte.len() != 2 {
                return Err(CallError::Malformed("fingerprint value".into()));
            }
            out[n] = u8::from_str_radix(byte, 16)
                .map_err(|_| CallError::Malformed("fingerprint value".into()))?;
            n += 1;
        }
        if n != 32 {
            return Err(CallError::Malformed("fingerprint value".into()));
        }
        Ok(DtlsFingerprint(out))
    }

    /// The one DTLS fingerprint of a session description. Every `a=fingerprint` line (session
    /// or media level) must name the same SHA-256 fingerprint.
    pub fn from_sdp(sdp: &str) -> Result<DtlsFingerprint> {
        let mut found: Option<DtlsFingerprint> = None;
        for line in sdp.lines() {
            let Some(value) = line.trim_end().strip_prefix("a=fingerprint:") else {
                continue;
            };
            let fp = Self::parse_attribute(value)?;
            match found {
                Some(f) if f != fp => return Err(CallError::ConflictingFingerprints),
                _ => found = Some(fp),
            }
        }
        found.ok_or(CallError::NoFingerprint)
    }

    /// The SDP attribute value: `sha-256 AB:CD:…`.
    pub fn to_attribute(&self) -> String {
        let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        format!("sha-256 {}", hex.join(":"))
    }
}

/// A participant as the other side of a call sees it: account and seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Party {
    pub user: UserId,
    pub peer: PeerId,
}

#[derive(Serialize)]
struct DtlsBindingBody<'a> {
    version: u16,
    call: &'a CallId,
    from_user: &'a UserId,
    from_peer: u64,
    to_user: &'a UserId,
    to_peer: u64,
    fingerprint: &'a DtlsFingerprint,
}

/// The canonical bytes a DTLS binding signature covers.
pub fn dtls_binding_bytes(
    call: &CallId,
    from: Party,
    to: Party,
    fingerprint: &DtlsFingerprint,
) -> Vec<u8> {
    codec::encode(&DtlsBindingBody {
        version: CALL_PROTOCOL_VERSION,
        call,
        from_user: &from.user,
        from_peer: from.peer.0,
        to_user: &to.user,
        to_peer: to.peer.0,
        fingerprint,
    })
}

/// Sign our DTLS fingerprint for one call and one recipient.
pub fn sign_dtls(
    identity: &SecretIdentity,
    call: &CallId,
    from: Party,
    to: Party,
    fingerprint: &DtlsFingerprint,
) -> Signature {
    identity.sign(
        Context::DtlsFingerprint,
        &dtls_binding_bytes(call, from, to, fingerprint),
    )
}

/// Check a peer's offer or answer: the SDP has exactly one fingerprint, and the sender signed it
/// for this call, from its seat to ours. Returns the fingerprint the DTLS handshake must present.
pub fn verify_sdp_binding(
    sender_key: &IdentityKey,
    call: &CallId,
    from: Party,
    to: Party,
    sdp: &str,
    signature: &Signature,
) -> Result<DtlsFingerprint> {
    let fp = DtlsFingerprint::from_sdp(sdp)?;
    sender_key
        .verify(
            Context::DtlsFingerprint,
            &dtls_binding_bytes(call, from, to, &fp),
            signature,
        )
        .map_err(|_| CallError::BadDtlsBinding)?;
    Ok(fp)
}

/// A signaling message between two clients, inside a [`SignedEnvelope`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub v: u16,
    pub call: CallId,
    pub from: PeerId,
    /// The recipient, or everyone in the room.
    pub to: Option<PeerId>,
    /// Strictly increasing per sender within a call.
    pub seq: u64,
    pub body: Body,
}

/// What a signaling message carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    /// An SDP offer, with the DTLS binding signature over its fingerprint.
    Offer { sdp: String, dtls: Signature },
    /// An SDP answer, with the DTLS binding signature over its fingerprint.
    Answer { sdp: String, dtls: Signature },
    /// A trickled ICE candidate.
    Candidate { mline: u32, candidate: String },
    /// The sender's user is comparing our key (it differs from the one they pinned): wait for
    /// them instead of giving up on the connection.
    Hold,
}

impl std::fmt::Debug for Body {
    // Never print SDP or candidates (they hold addresses and the fingerprint).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Offer { sdp, .. } => write!(f, "Offer({} bytes)", sdp.len()),
            Body::Answer { sdp, .. } => write!(f, "Answer({} bytes)", sdp.len()),
            Body::Candidate { mline, .. } => write!(f, "Candidate(mline {mline})"),
            Body::Hold => f.write_str("Hold"),
        }
    }
}

/// The payload of a signaling `send`: the exact JSON bytes of an [`Envelope`] and the sender's
/// signature over them (context [`Context::Envelope`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEnvelope {
    pub signed: String,
    pub sig: Signature,
}

impl SignedEnvelope {
    /// Sign an envelope.
    pub fn seal(identity: &SecretIdentity, envelope: &Envelope) -> SignedEnvelope {
        let signed = serde_json::to_string(envelope).unwrap_or_default();
        let sig = identity.sign(Context::Envelope, signed.as_bytes());
        SignedEnvelope { signed, sig }
    }

    /// The JSON text sent as the signaling payload.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse a signaling payload, verify it was signed by `sender_key`, and that it belongs to
    /// this call, comes from the seat the server says it does, and is for us (or everyone).
    /// The sequence number is the caller's to check (it needs per-sender state).
    pub fn open(
        payload: &str,
        sender_key: &IdentityKey,
        relayed_from: PeerId,
        call: &CallId,
        me: PeerId,
    ) -> Result<Envelope> {
        if payload.len() > crate::signal::MAX_PAYLOAD {
            return Err(CallError::TooLarge("signaling payload"));
        }
        let outer: SignedEnvelope = serde_json::from_str(payload)
            .map_err(|_| CallError::Malformed("signaling payload".into()))?;
        sender_key
            .verify(Context::Envelope, outer.signed.as_bytes(), &outer.sig)
            .map_err(|_| CallError::BadSignature)?;
        let env: Envelope = serde_json::from_str(&outer.signed)
            .map_err(|_| CallError::Malformed("signaling envelope".into()))?;
        if env.v != CALL_PROTOCOL_VERSION {
            return Err(CallError::UnsupportedVersion(env.v));
        }
        if env.call != *call {
            return Err(CallError::WrongCall);
        }
        if env.from != relayed_from {
            return Err(CallError::WrongSender);
        }
        if env.to.is_some_and(|to| to != me) {
            return Err(CallError::NotForMe);
        }
        match &env.body {
            Body::Offer { sdp, .. } | Body::Answer { sdp, .. } if sdp.len() > MAX_SDP => {
                return Err(CallError::TooLarge("session description"));
            }
            Body::Candidate { candidate, .. } if candidate.len() > MAX_CANDIDATE => {
                return Err(CallError::TooLarge("ICE candidate"));
            }
            _ => {}
        }
        Ok(env)
    }
}

/// A participant's media and hand state, as they announce it to the others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    pub hand: bool,
}

/// What peers send each other over the data channel (JSON text). Unknown types are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeerMessage {
    /// The sender's current media state (sent on open and on every change).
    State { state: MediaState },
    /// A chat message; `id` is unique per sender within the call.
    Chat { id: u64, text: String, sent_at: u64 },
    /// A chat message arrived.
    ChatAck { id: u64 },
    /// Sent every second: a peer silent for a few seconds is gone (e.g. its process was killed),
    /// long before the server's reconnect grace period ends.
    Ping,
    /// Recording consent, signed end to end (see [`crate::consent`]).
    Consent { msg: ConsentMsg },
    /// The newest key directory root the sender holds (gossip: two different signed roots for
    /// one epoch prove that the server showed people different directories).
    Root { root: SignedRoot },
    /// Proof that the server equivocated: two contradicting roots it signed.
    Equivocation { evidence: Equivocation },
    /// The recorder's signed chain head after each segment and at its ending
    /// ([`crate::container::SignedHead`]): every participant keeps the newest it saw, and a copy of
    /// the recording with its end cut off no longer matches it.
    Head { head: B64 },
}

/// Consent material between clients: the canonical bytes of the signed structures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConsentMsg {
    /// A new proposal (epoch 0), from its proposer, with the proposer's own consent token.
    Propose { proposal: B64, token: B64 },
    /// A participant's consent token.
    Token { token: B64 },
    /// A signed decline or withdrawal.
    Notice { notice: B64 },
    /// The recording in progress, from the recorder to a newcomer: every epoch and token.
    Sync { epochs: Vec<B64>, tokens: Vec<B64> },
}

impl std::fmt::Debug for PeerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerMessage::State { state } => write!(f, "State({state:?})"),
            PeerMessage::Chat { id, text, .. } => write!(f, "Chat({id}, {} bytes)", text.len()),
            PeerMessage::ChatAck { id } => write!(f, "ChatAck({id})"),
            PeerMessage::Ping => f.write_str("Ping"),
            PeerMessage::Consent { msg } => write!(f, "Consent({msg:?})"),
            PeerMessage::Root { root } => write!(f, "Root(epoch {})", root.epoch()),
            PeerMessage::Equivocation { evidence } => {
                write!(f, "Equivocation(epoch {})", evidence.a.epoch())
            }
            PeerMessage::Head { head } => write!(f, "Head({} bytes)", head.0.len()),
        }
    }
}

impl PeerMessage {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse and bound a data channel message.
    pub fn parse(text: &str) -> Result<PeerMessage> {
        if text.len() > MAX_PEER_MESSAGE {
            return Err(CallError::TooLarge("data channel message"));
        }
        let m: PeerMessage = serde_json::from_str(text)
            .map_err(|_| CallError::Malformed("data channel message".into()))?;
        if let PeerMessage::Chat { text, .. } = &m
            && text.len() > MAX_CHAT
        {
            return Err(CallError::TooLarge("chat message"));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn party(n: u8) -> Party {
        Party {
            user: UserId([n; 16]),
            peer: PeerId(u64::from(n)),
        }
    }

    const FP: &str = "sha-256 \
        0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9";

    fn sdp_with(fp: &str) -> String {
        format!(
            "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
             a=fingerprint:{fp}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=fingerprint:{fp}\r\n"
        )
    }

    #[test]
    fn fingerprint_attribute_round_trip() {
        let fp = DtlsFingerprint::parse_attribute(FP).unwrap();
        assert_eq!(fp.to_attribute(), FP);
        assert_eq!(DtlsFingerprint::from_sdp(&sdp_with(FP)).unwrap(), fp);
        let lower = FP.to_lowercase().replace("sha-256", "SHA-256");
        assert_eq!(DtlsFingerprint::parse_attribute(&lower).unwrap(), fp);
    }

    #[test]
    fn fingerprint_errors() {
        assert_eq!(
            DtlsFingerprint::from_sdp("v=0\r\n"),
            Err(CallError::NoFingerprint)
        );
        let other = FP.replace("0A:1B", "FF:1B");
        let two = format!("{}a=fingerprint:{other}\r\n", sdp_with(FP));
        assert_eq!(
            DtlsFingerprint::from_sdp(&two),
            Err(CallError::ConflictingFingerprints)
        );
        assert!(matches!(
            DtlsFingerprint::parse_attribute("sha-1 AB:CD"),
            Err(CallError::UnsupportedHash(_))
        ));
        for bad in [
            "sha-256",
            "sha-256 AB",
            "sha-256 AB:CD extra",
            "sha-256 ZZ:1B",
            &format!("{FP}:00"),
            &FP.replace("0A:", "0A"),
        ] {
            assert!(DtlsFingerprint::parse_attribute(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprint_of_pem() {
        let der = b"not really a certificate, but any bytes hash";
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            data_encoding::BASE64.encode(der)
        );
        assert_eq!(
            DtlsFingerprint::of_pem(&pem).unwrap(),
            DtlsFingerprint::of_der(der)
        );
        assert!(DtlsFingerprint::of_pem("garbage").is_err());
    }

    #[test]
    fn dtls_binding_checks_everything_it_names() {
        let alice = SecretIdentity::from_seed([1; 32], Timestamp(0));
        let bob = SecretIdentity::from_seed([2; 32], Timestamp(0));
        let call = CallId([9; 16]);
        let fp = DtlsFingerprint::parse_attribute(FP).unwrap();
        let sdp = sdp_with(FP);
        let sig = sign_dtls(&alice, &call, party(1), party(2), &fp);
        let key = alice.key();
        assert_eq!(
            verify_sdp_binding(&key, &call, party(1), party(2), &sdp, &sig),
            Ok(fp)
        );
        // Another call (a replay), other seats, another key, another fingerprint: all refused.
        let bad = Err(CallError::BadDtlsBinding);
        let other_call = CallId([8; 16]);
        assert_eq!(
            verify_sdp_binding(&key, &other_call, party(1), party(2), &sdp, &sig),
            bad
        );
        assert_eq!(
            verify_sdp_binding(&key, &call, party(1), party(3), &sdp, &sig),
            bad
        );
        assert_eq!(
            verify_sdp_binding(&key, &call, party(2), party(1), &sdp, &sig),
            bad
        );
        assert_eq!(
            verify_sdp_binding(&bob.key(), &call, party(1), party(2), &sdp, &sig),
            bad
        );
        let rewritten = sdp_with(&FP.replace("0A:1B", "FF:1B"));
        assert_eq!(
            verify_sdp_binding(&key, &call, party(1), party(2), &rewritten, &sig),
            bad
        );
    }

    #[test]
    fn envelope_open_refuses_tampering() {
        let alice = SecretIdentity::from_seed([1; 32], Timestamp(0));
        let call = CallId([9; 16]);
        let env = Envelope {
            v: CALL_PROTOCOL_VERSION,
            call,
            from: PeerId(1),
            to: Some(PeerId(2)),
            seq: 7,
            body: Body::Candidate {
                mline: 0,
                candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host".into(),
            },
        };
        let sealed = SignedEnvelope::seal(&alice, &env);
        let payload = sealed.to_payload();
        let key = alice.key();
        assert_eq!(
            SignedEnvelope::open(&payload, &key, PeerId(1), &call, PeerId(2)),
            Ok(env.clone())
        );
        assert_eq!(
            SignedEnvelope::open(&payload, &key, PeerId(1), &CallId([8; 16]), PeerId(2)),
            Err(CallError::WrongCall)
        );
        assert_eq!(
            SignedEnvelope::open(&payload, &key, PeerId(3), &call, PeerId(2)),
            Err(CallError::WrongSender)
        );
        assert_eq!(
            SignedEnvelope::open(&payload, &key, PeerId(1), &call, PeerId(3)),
            Err(CallError::NotForMe)
        );
        let bob = SecretIdentity::from_seed([2; 32], Timestamp(0));
        assert_eq!(
            SignedEnvelope::open(&payload, &bob.key(), PeerId(1), &call, PeerId(2)),
            Err(CallError::BadSignature)
        );
        let altered = payload.replace("127.0.0.1", "127.0.0.2");
        assert_eq!(
            SignedEnvelope::open(&altered, &key, PeerId(1), &call, PeerId(2)),
            Err(CallError::BadSignature)
        );
        assert!(matches!(
            SignedEnvelope::open("{", &key, PeerId(1), &call, PeerId(2)),
            Err(CallError::Malformed(_))
        ));
        // A correctly signed envelope of another version is refused by version.
        let mut v2 = env.clone();
        v2.v = 2;
        let p2 = SignedEnvelope::seal(&alice, &v2).to_payload();
        assert_eq!(
            SignedEnvelope::open(&p2, &key, PeerId(1), &call, PeerId(2)),
            Err(CallError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn peer_messages() {
        let m = PeerMessage::Chat {
            id: 3,
            text: "hello".into(),
            sent_at: 5,
        };
        assert_eq!(PeerMessage::parse(&m.to_text()).unwrap(), m);
        assert_eq!(
            m.to_text(),
            r#"{"type":"chat","id":3,"text":"hello","sent_at":5}"#
        );
        assert!(PeerMessage::parse(r#"{"type":"chat_ack","id":1,"x":2}"#).is_err());
        assert!(PeerMessage::parse(r#"{"type":"shout"}"#).is_err());
        let long = PeerMessage::Chat {
            id: 1,
            text: "x".repeat(MAX_CHAT + 1),
            sent_at: 0,
        };
        assert_eq!(
            PeerMessage::parse(&long.to_text()),
            Err(CallError::TooLarge("chat message"))
        );
    }
}
