//! Vetting the people in a call against the key directory: each peer's key is looked up (with
//! its proof) through the edge's [`Io`] port, the answer fed to the machine; keys compared in
//! person are remembered as verified, and a changed key is held until accepted.

use super::edge::Edge;
use super::ports::{Io, Lookup, Peers};
use super::*;

impl<P: Peers, I: Io> Edge<P, I> {
    /// Note the codecs of someone we meet (their key is checked by [`Self::vet`]).
    pub(super) fn observe(&mut self, p: &PeerInfo) {
        self.codecs.insert(p.peer_id, p.codecs.clone());
    }

    /// Check a peer's key with the key directory (the answer comes back to the call's task
    /// as a [`DirectoryReply`]).
    pub(super) fn vet(&mut self, peer: PeerId, email: String, identity: PublicIdentity) {
        let name = self
            .machine
            .peer(peer)
            .map(|(_, i)| i.display_name.clone())
            .unwrap_or_default();
        let newest = self.store.newest_root().ok().flatten().map(|r| r.epoch());
        self.io.vet(Lookup {
            peer,
            email,
            name,
            identity,
            newest,
        });
    }

    /// Turn what the directory said into machine inputs: the roots it showed (the machine
    /// compares them), then the verdict on the peer (the pin decides between trusted and
    /// changed).
    pub(super) fn directory_reply(&mut self, reply: DirectoryReply) -> Vec<Input> {
        let keys = self.keys;
        let mut inputs = Vec::new();
        let learn = |store: &Store, root: SignedRoot, inputs: &mut Vec<Input>| {
            if let Err(DirectoryError::Equivocation(e)) =
                transparency::keep_root(store, &keys, &root)
            {
                // A contradiction with a root kept from an earlier check: the machine sees both.
                inputs.push(Input::Directory(DirectoryInput::DirectoryRoot {
                    keys,
                    root: e.a,
                }));
                inputs.push(Input::Directory(DirectoryInput::DirectoryRoot {
                    keys,
                    root: e.b,
                }));
            }
            inputs.push(Input::Directory(DirectoryInput::DirectoryRoot {
                keys,
                root,
            }));
        };
        match reply {
            DirectoryReply::Root(Ok(root)) => learn(&self.store, root, &mut inputs),
            DirectoryReply::Root(Err(e)) => {
                tracing::warn!("cannot fetch the directory root a peer named: {e}");
            }
            DirectoryReply::Vetted {
                peer,
                email,
                name,
                identity,
                result,
            } => {
                let outcome = match result {
                    Ok(v) => {
                        learn(&self.store, v.root, &mut inputs);
                        match self
                            .store
                            .observe_pin(&email, &name, &identity, Timestamp::now())
                        {
                            Ok(PinSeen::New) => Vetting::Trusted { compared: false },
                            Ok(PinSeen::Same { verified }) => {
                                Vetting::Trusted { compared: verified }
                            }
                            Ok(PinSeen::Changed { .. }) => Vetting::Changed {
                                safety_number: safety_number(&self.public, &identity),
                            },
                            Err(e) => Vetting::Refused(format!("cannot check the pinned key: {e}")),
                        }
                    }
                    Err(e) => Vetting::Refused(e.to_string()),
                };
                inputs.push(Input::Directory(DirectoryInput::PeerVetted {
                    peer,
                    outcome,
                }));
            }
        }
        inputs
    }

    /// The user compared `peer`'s safety number: their pinned key is marked verified.
    pub(super) fn mark_verified(&mut self, peer: PeerId) -> Option<Input> {
        let (email, identity) = self
            .machine
            .peer(peer)
            .map(|(_, i)| (i.email.clone(), i.identity.clone()))?;
        match self.store.mark_verified(&email, &identity) {
            Ok(true) => Some(Input::User(UserInput::KeyCompared { peer })),
            Ok(false) => None,
            Err(e) => {
                self.io.report(CallEvent::MediaError(format!(
                    "cannot keep the comparison: {e}"
                )));
                None
            }
        }
    }

    /// The user accepts `peer`'s changed key: it becomes the pin for their email.
    pub(super) fn accept_key(&mut self, peer: PeerId) -> Option<Input> {
        let (email, identity) = self
            .machine
            .peer(peer)
            .filter(|(phase, _)| *phase == machine::Phase::KeyChanged)
            .map(|(_, i)| (i.email.clone(), i.identity.clone()))?;
        let accepted = self
            .store
            .accept_key(&email, &identity, Timestamp::now())
            .and_then(|()| self.store.mark_verified(&email, &identity));
        match accepted {
            Ok(_) => Some(Input::User(UserInput::AcceptKey { peer })),
            Err(e) => {
                self.io.report(CallEvent::MediaError(format!(
                    "cannot keep the accepted key: {e}"
                )));
                None
            }
        }
    }
}
