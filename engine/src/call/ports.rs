//! The call edge's port to the peers' media: the effects of the call machine that touch
//! WebRTC go through [`Peers`], so the mapping from effects to media is tested against a
//! simulated media layer (ringrtc's "simulated platform") as well as run on the real one.

use std::collections::BTreeMap;

use assent_shared::call::MediaState;
use assent_shared::signal::PeerId;

use super::machine::{Effect, Input};
use crate::media::codec::{self, VideoCodec};
use crate::media::event::SdpKind;
use crate::media::{Media, MediaError};

/// What the edge asks of the peers' media.
pub(super) trait Peers {
    /// The video codecs this side offers, best first.
    fn codecs(&self) -> Vec<String>;
    fn create_peer(&self, peer: PeerId, offerer: bool, codec: VideoCodec)
    -> Result<(), MediaError>;
    fn apply_remote(&self, peer: PeerId, kind: SdpKind, sdp: &str) -> Result<(), MediaError>;
    fn add_candidate(&self, peer: PeerId, mline: u32, candidate: &str);
    fn open_media(&self, peer: PeerId);
    fn close_peer(&self, peer: PeerId);
    fn send_data(&self, peer: PeerId, text: &str);
    fn apply_local(&self, state: MediaState) -> Result<(), MediaError>;
}

impl Peers for Media {
    fn codecs(&self) -> Vec<String> {
        Media::codecs(self)
    }
    fn create_peer(
        &self,
        peer: PeerId,
        offerer: bool,
        codec: VideoCodec,
    ) -> Result<(), MediaError> {
        Media::create_peer(self, peer, offerer, codec)
    }
    fn apply_remote(&self, peer: PeerId, kind: SdpKind, sdp: &str) -> Result<(), MediaError> {
        Media::apply_remote(self, peer, kind, sdp)
    }
    fn add_candidate(&self, peer: PeerId, mline: u32, candidate: &str) {
        Media::add_candidate(self, peer, mline, candidate);
    }
    fn open_media(&self, peer: PeerId) {
        Media::open_media(self, peer);
    }
    fn close_peer(&self, peer: PeerId) {
        Media::close_peer(self, peer);
    }
    fn send_data(&self, peer: PeerId, text: &str) {
        Media::send_data(self, peer, text);
    }
    fn apply_local(&self, state: MediaState) -> Result<(), MediaError> {
        Media::apply_local(self, state)
    }
}

/// What became of an effect offered to the media.
#[derive(Debug)]
pub(super) enum Routed {
    /// Done; the machine hears nothing more.
    Done,
    /// Done, and the machine must hear this (a peer's media failed).
    Input(Input),
    /// The local media could not change: for the user, the call goes on.
    LocalFailed(MediaError),
    /// Not a media effect: the edge does it.
    NotMedia(Effect),
}

/// Carry out `effect` on the peers' media if it is one of theirs. The codec for a new peer is
/// the one both sides compute the same way: the newcomer's preference decides (`announced`
/// holds what each peer announced).
pub(super) fn route(
    effect: Effect,
    peers: &dyn Peers,
    announced: &BTreeMap<PeerId, Vec<String>>,
) -> Routed {
    let failed = |peer, e: MediaError| {
        Routed::Input(Input::PeerError {
            peer,
            reason: e.to_string(),
        })
    };
    match effect {
        Effect::CreatePeer { peer, offerer } => {
            let mine = peers.codecs();
            let theirs = announced.get(&peer).cloned().unwrap_or_default();
            let codec = if offerer {
                codec::choose(&mine, &theirs)
            } else {
                codec::choose(&theirs, &mine)
            };
            match peers.create_peer(peer, offerer, codec) {
                Ok(()) => Routed::Done,
                Err(e) => failed(peer, e),
            }
        }
        Effect::ApplyRemote { peer, kind, sdp } => match peers.apply_remote(peer, kind, &sdp) {
            Ok(()) => Routed::Done,
            Err(e) => failed(peer, e),
        },
        Effect::AddCandidate {
            peer,
            mline,
            candidate,
        } => {
            peers.add_candidate(peer, mline, &candidate);
            Routed::Done
        }
        Effect::OpenMedia { peer } => {
            peers.open_media(peer);
            Routed::Done
        }
        Effect::ClosePeer { peer } => {
            peers.close_peer(peer);
            Routed::Done
        }
        Effect::SendData { peer, text } => {
            peers.send_data(peer, &text);
            Routed::Done
        }
        Effect::ApplyLocalMedia(state) => match peers.apply_local(state) {
            Ok(()) => Routed::Done,
            Err(e) => Routed::LocalFailed(e),
        },
        other => Routed::NotMedia(other),
    }
}

#[cfg(test)]
mod tests;
