//! The call machine and the key directory: a peer is let in only once the directory vouches
//! for their key, and the directory roots people hold are compared (gossip).

use assent_shared::Timestamp;
use assent_shared::call::{Body, PeerMessage};
use assent_shared::consent::NoticeKind;
use assent_shared::signal::PeerId;
use assent_shared::transparency::{DirectoryKeys, Equivocation, SignedRoot};

use super::{CallMachine, Effect, Event, MAX_ROOTS, Phase, Vetting};

impl CallMachine {
    /// Tell the UI (and consent) that `peer`'s key is the proven one, compared or not.
    pub(super) fn trusted(&mut self, peer: PeerId, compared: bool, fx: &mut Vec<Effect>) {
        let Some(info) = self.peers.get(&peer).map(|p| p.info.clone()) else {
            return;
        };
        let safety_number =
            assent_shared::identity::safety_number(self.identity.public(), &info.identity);
        fx.push(Effect::Event(Event::KeyTrusted {
            peer,
            compared,
            safety_number,
        }));
        let key = info.identity.signing;
        self.with_consent(fx, |c, _, _| {
            c.set_verified(key, compared);
            Vec::new()
        });
    }

    /// The directory's verdict on a peer's key.
    pub(super) fn vetted(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        outcome: Vetting,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.phase != Phase::Vetting {
            return;
        }
        match outcome {
            Vetting::Trusted { compared } => {
                self.trusted(peer, compared, fx);
                self.proceed(now, peer, fx);
            }
            Vetting::Changed { safety_number } => {
                p.phase = Phase::KeyChanged;
                p.since = now;
                let (email, name) = (p.info.email.clone(), p.info.display_name.clone());
                fx.push(Effect::Event(Event::KeyChanged {
                    peer,
                    email,
                    name,
                    safety_number,
                }));
                // Their key is the one the directory proves: we may tell them to wait.
                self.seal(peer, Body::Hold, fx);
            }
            Vetting::Refused(reason) => self.fail(peer, reason, fx),
        }
    }

    /// Their key is believed: negotiate, and handle the signaling that waited.
    pub(super) fn proceed(&mut self, now: Timestamp, peer: PeerId, fx: &mut Vec<Effect>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.phase = if p.offerer {
            Phase::Offering
        } else {
            Phase::AwaitingOffer
        };
        p.since = now;
        let offerer = p.offerer;
        let held = std::mem::take(&mut p.held_signals);
        fx.push(Effect::CreatePeer { peer, offerer });
        for payload in held {
            self.signal(now, peer, &payload, fx);
        }
    }

    /// Remember a root (ours or a peer's, already verified); a contradiction with one known
    /// for the same epoch is an equivocation.
    pub(super) fn learn_root(&mut self, now: Timestamp, root: SignedRoot, fx: &mut Vec<Effect>) {
        let Some(keys) = self.directory else {
            return;
        };
        if let Some(known) = self.roots.get(&root.epoch()).copied() {
            if known.contradicts(&root)
                && let Ok(e) = Equivocation::of(&keys.signing, known, root)
            {
                self.equivocated(now, e, fx);
            }
            return;
        }
        self.roots.insert(root.epoch(), root);
        while self.roots.len() > MAX_ROOTS {
            self.roots.pop_first();
        }
    }

    /// The edge accepted a root (its own lookups, or the server's root for an epoch a peer
    /// named). The newest is what we gossip.
    pub(super) fn directory_root(
        &mut self,
        now: Timestamp,
        keys: DirectoryKeys,
        root: SignedRoot,
        fx: &mut Vec<Effect>,
    ) {
        if root.verify(&keys.signing).is_err() {
            return;
        }
        self.directory = Some(keys);
        self.learn_root(now, root, fx);
        if self.newest.is_none_or(|n| root.epoch() > n.epoch()) {
            self.newest = Some(root);
            let ids: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, p)| p.verified)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.send_data(now, id, PeerMessage::Root { root }, fx);
            }
        }
    }

    /// A peer told us the newest root they hold.
    pub(super) fn gossiped_root(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        root: SignedRoot,
        fx: &mut Vec<Effect>,
    ) {
        let Some(keys) = self.directory else {
            return;
        };
        if root.verify(&keys.signing).is_err() {
            // Not proof of anything (anyone can send bytes): refuse and carry on.
            fx.push(Effect::Event(Event::Refused {
                peer,
                error: "a directory root not signed by this server's directory key".into(),
            }));
            return;
        }
        self.learn_root(now, root, fx);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.root_epoch = Some(root.epoch());
        }
        // Newer than anything we hold: ask the server for its root of that epoch, so that a
        // fork shows even when the two of us were shown different epochs.
        if self.newest.is_none_or(|n| root.epoch() > n.epoch()) {
            fx.push(Effect::CheckRoot {
                epoch: root.epoch(),
            });
        }
    }

    /// The server was caught: tell everyone (with the evidence), and stop any recording.
    pub(super) fn equivocated(
        &mut self,
        now: Timestamp,
        evidence: Equivocation,
        fx: &mut Vec<Effect>,
    ) {
        if self.equivocation.is_some() {
            return;
        }
        self.equivocation = Some(evidence);
        fx.push(Effect::Event(Event::Equivocation {
            evidence: Box::new(evidence),
        }));
        let ids: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.verified)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_data(now, id, PeerMessage::Equivocation { evidence }, fx);
        }
        let recording = self
            .consent
            .as_ref()
            .is_some_and(|c| c.machine().session().is_some());
        if recording {
            self.with_consent(fx, |c, id, now| c.refuse(now, id, NoticeKind::Withdraw));
        }
    }
}
