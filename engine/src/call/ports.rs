//! The call edge's ports: the effects of the call machine that touch WebRTC go through
//! [`Peers`], everything else the edge does to the world (signaling, the recorder, the upload
//! queue, the key directory, the driver) through [`Io`]. The edge is tested against simulated
//! implementations of both (ringrtc's "simulated platform") as well as run on the real ones
//! ([`Media`] and [`Live`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use assent_shared::PublicIdentity;
use assent_shared::call::MediaState;
use assent_shared::signal::{ClientMsg, PeerId};
use assent_shared::transparency::{DirectoryKeys, KtError};
use tokio::sync::mpsc;

use super::machine::{Effect, Input, MediaEvent};
use super::{CallEvent, DirectoryReply, VET_WAIT};
use crate::api::Api;
use crate::media::codec::{self, VideoCodec};
use crate::media::event::SdpKind;
use crate::media::{Media, MediaError};
use crate::recorder::{self, Recorder};
use crate::signaling::Signaling;
use crate::transparency::{self, DirectoryError};
use crate::upload::UploadQueue;

/// A peer's key to check with the key directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Lookup {
    pub(super) peer: PeerId,
    pub(super) email: String,
    pub(super) name: String,
    pub(super) identity: PublicIdentity,
    /// The newest directory epoch this device has checked (the proof may not be older).
    pub(super) newest: Option<u64>,
}

/// What the edge asks of the world around the call, besides the peers' media. Nothing here
/// answers at once: the directory's answers come back to the call's task as
/// [`DirectoryReply`]s, the recorder's as its events.
pub(super) trait Io {
    /// A frame for the signaling server.
    fn signal(&self, msg: ClientMsg);
    /// A command for this device's recorder.
    fn record(&self, cmd: recorder::Command);
    /// A recording going to the cloud changed: the upload queue syncs it.
    fn upload(&self, dir: PathBuf);
    /// Look a peer's key up in the key directory, with its proof.
    fn vet(&self, lookup: Lookup);
    /// Fetch the server's signed root for `epoch` (a peer named it).
    fn check_root(&self, epoch: u64);
    /// Tell the driver (the window or the CLI).
    fn report(&self, event: CallEvent);
}

/// The real world: the signaling connection, the recorder, the upload queue, the server's
/// key directory (checked off the call's task) and the driver's event channel.
pub(super) struct Live {
    pub(super) api: Api,
    /// The server's directory keys (pinned).
    pub(super) keys: DirectoryKeys,
    pub(super) signaling: Signaling,
    pub(super) recorder: Recorder,
    pub(super) uploads: UploadQueue,
    pub(super) directory: mpsc::UnboundedSender<DirectoryReply>,
    pub(super) events: mpsc::UnboundedSender<CallEvent>,
}

impl Io for Live {
    fn signal(&self, msg: ClientMsg) {
        self.signaling.send(msg);
    }
    fn record(&self, cmd: recorder::Command) {
        self.recorder.send(cmd);
    }
    fn upload(&self, dir: PathBuf) {
        self.uploads.kick(dir);
    }
    fn vet(&self, lookup: Lookup) {
        let (api, keys, reply) = (self.api.clone(), self.keys, self.directory.clone());
        tokio::spawn(async move {
            let result = transparency::vet(
                &api,
                &keys,
                lookup.newest,
                &lookup.email,
                &lookup.identity,
                VET_WAIT,
            )
            .await;
            let _ = reply.send(DirectoryReply::Vetted {
                peer: lookup.peer,
                email: lookup.email,
                name: lookup.name,
                identity: Box::new(lookup.identity),
                result,
            });
        });
    }
    fn check_root(&self, epoch: u64) {
        let (api, keys, reply) = (self.api.clone(), self.keys, self.directory.clone());
        tokio::spawn(async move {
            let root = match api.kt_roots(epoch, 1).await {
                Ok(roots) => roots
                    .into_iter()
                    .find(|r| r.epoch() == epoch && r.verify(&keys.signing).is_ok())
                    .ok_or(DirectoryError::Kt(KtError::WrongEpoch)),
                Err(e) => Err(e.into()),
            };
            let _ = reply.send(DirectoryReply::Root(root));
        });
    }
    fn report(&self, event: CallEvent) {
        let _ = self.events.send(event);
    }
}

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
        Routed::Input(Input::Media(MediaEvent::PeerError {
            peer,
            reason: e.to_string(),
        }))
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
