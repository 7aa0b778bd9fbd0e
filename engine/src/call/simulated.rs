//! Simulated ports for the call edge's tests (ringrtc's "simulated platform"): media and a
//! world that record what they are asked, and fail where told to. No GStreamer, no sockets.

use std::cell::RefCell;
use std::path::PathBuf;

use assent_shared::call::MediaState;
use assent_shared::signal::{ClientMsg, PeerId};

use super::CallEvent;
use super::ports::{Io, Lookup, Peers};
use crate::media::MediaError;
use crate::media::codec::VideoCodec;
use crate::media::event::SdpKind;
use crate::recorder;

/// Media that records what it is asked and fails where told to.
#[derive(Default)]
pub(super) struct Simulated {
    pub(super) codecs: Vec<String>,
    pub(super) calls: RefCell<Vec<String>>,
    pub(super) fail_create: bool,
    pub(super) fail_remote: bool,
    pub(super) fail_local: bool,
}

impl Simulated {
    fn log(&self, s: String) {
        self.calls.borrow_mut().push(s);
    }
    pub(super) fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

fn broken() -> MediaError {
    MediaError::Pipeline("simulated".into())
}

impl Peers for Simulated {
    fn codecs(&self) -> Vec<String> {
        self.codecs.clone()
    }
    fn create_peer(
        &self,
        peer: PeerId,
        offerer: bool,
        codec: VideoCodec,
    ) -> Result<(), MediaError> {
        self.log(format!("create {peer} offerer={offerer} {codec:?}"));
        if self.fail_create {
            Err(broken())
        } else {
            Ok(())
        }
    }
    fn apply_remote(&self, peer: PeerId, kind: SdpKind, sdp: &str) -> Result<(), MediaError> {
        self.log(format!("remote {peer} {kind:?} {sdp}"));
        if self.fail_remote {
            Err(broken())
        } else {
            Ok(())
        }
    }
    fn add_candidate(&self, peer: PeerId, mline: u32, candidate: &str) {
        self.log(format!("candidate {peer} {mline} {candidate}"));
    }
    fn open_media(&self, peer: PeerId) {
        self.log(format!("open {peer}"));
    }
    fn close_peer(&self, peer: PeerId) {
        self.log(format!("close {peer}"));
    }
    fn send_data(&self, peer: PeerId, text: &str) {
        self.log(format!("data {peer} {text}"));
    }
    fn apply_local(&self, state: MediaState) -> Result<(), MediaError> {
        self.log(format!("local audio={}", state.audio));
        if self.fail_local {
            Err(broken())
        } else {
            Ok(())
        }
    }
}

/// The world around the call, as a record of what the edge asked of it.
#[derive(Default)]
pub(super) struct World {
    pub(super) signals: RefCell<Vec<ClientMsg>>,
    pub(super) records: RefCell<Vec<recorder::Command>>,
    pub(super) uploads: RefCell<Vec<PathBuf>>,
    pub(super) lookups: RefCell<Vec<Lookup>>,
    pub(super) roots: RefCell<Vec<u64>>,
    pub(super) reports: RefCell<Vec<CallEvent>>,
}

impl Io for World {
    fn signal(&self, msg: ClientMsg) {
        self.signals.borrow_mut().push(msg);
    }
    fn record(&self, cmd: recorder::Command) {
        self.records.borrow_mut().push(cmd);
    }
    fn upload(&self, dir: PathBuf) {
        self.uploads.borrow_mut().push(dir);
    }
    fn vet(&self, lookup: Lookup) {
        self.lookups.borrow_mut().push(lookup);
    }
    fn check_root(&self, epoch: u64) {
        self.roots.borrow_mut().push(epoch);
    }
    fn report(&self, event: CallEvent) {
        self.reports.borrow_mut().push(event);
    }
}
