//! The call machine's data channel: what goes out (queued until the peer is verified and its
//! channel open), what comes in (state, chat, directory gossip, consent, chain heads).

use super::*;

impl CallMachine {
    /// Send a data channel message now if the peer is verified and its channel open, or later.
    pub(super) fn send_data(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        msg: PeerMessage,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.verified && p.channel_open {
            p.last_ping = now;
            fx.push(Effect::SendData {
                peer,
                text: msg.to_text(),
            });
        } else if p.outbox.len() < MAX_QUEUED {
            p.outbox.push(msg);
        }
    }

    pub(super) fn flush(&mut self, now: Timestamp, peer: PeerId, fx: &mut Vec<Effect>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if !(p.verified && p.channel_open) {
            return;
        }
        p.last_ping = now;
        for msg in std::mem::take(&mut p.outbox) {
            fx.push(Effect::SendData {
                peer,
                text: msg.to_text(),
            });
        }
    }

    pub(super) fn channel_message(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        text: String,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if !p.verified {
            // The certificate check has not come through yet: keep it until it does.
            if p.inbox.len() < MAX_QUEUED {
                p.inbox.push(text);
            }
            return;
        }
        p.last_heard = now;
        let msg = match PeerMessage::parse(&text) {
            Ok(m) => m,
            Err(e) => {
                fx.push(Effect::Event(Event::Refused {
                    peer,
                    error: e.to_string(),
                }));
                return;
            }
        };
        match msg {
            PeerMessage::State { state } => {
                if p.media != state {
                    p.media = state;
                    fx.push(Effect::Event(Event::RemoteMedia { peer, state }));
                }
            }
            PeerMessage::Chat { id, text, sent_at } => {
                fx.push(Effect::Event(Event::Chat {
                    from: peer,
                    id,
                    text,
                    sent_at,
                }));
                self.send_data(now, peer, PeerMessage::ChatAck { id }, fx);
            }
            PeerMessage::ChatAck { id } => {
                if let Some(waiting) = self.awaiting_ack.get_mut(&id) {
                    if waiting.remove(&peer) {
                        fx.push(Effect::Event(Event::ChatDelivered { id, to: peer }));
                    }
                    if waiting.is_empty() {
                        self.awaiting_ack.remove(&id);
                    }
                }
            }
            PeerMessage::Ping => {}
            PeerMessage::Root { root } => self.gossiped_root(now, peer, root, fx),
            PeerMessage::Equivocation { evidence } => {
                let checked = self.directory.map(|k| evidence.check(&k.signing));
                match checked {
                    Some(Ok(())) => self.equivocated(now, evidence, fx),
                    Some(Err(e)) => fx.push(Effect::Event(Event::Refused {
                        peer,
                        error: format!("a claimed directory contradiction does not hold: {e}"),
                    })),
                    None => {}
                }
            }
            PeerMessage::Consent { msg } => {
                self.with_consent(fx, |c, _, now| c.message(now, msg));
            }
            PeerMessage::Head { head } => self.witnessed(peer, SignedHead(head.0), fx),
        }
    }

    /// A peer's chain head: kept only when the peer itself signed it, for this call, and
    /// within the bound of recordings per peer.
    pub(super) fn witnessed(&mut self, peer: PeerId, head: SignedHead, fx: &mut Vec<Effect>) {
        let CallPhase::InCall { call, .. } = self.phase else {
            return;
        };
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let refused = |error: String| Event::Refused { peer, error };
        let opened = match head.open() {
            Ok(o) => o,
            Err(e) => return fx.push(Effect::Event(refused(e.to_string()))),
        };
        let (h, signer) = opened;
        if signer != p.info.identity.signing || h.call_id != call {
            return fx.push(Effect::Event(refused(
                "a recording head not signed by its sender for this call".into(),
            )));
        }
        let seen = self.heads_from.entry(peer).or_default();
        if !seen.contains(&h.recording_id) && seen.len() >= MAX_HEADS_PER_PEER {
            return;
        }
        seen.insert(h.recording_id);
        fx.push(Effect::Event(Event::RecordingHead { peer, head }));
    }

    pub(super) fn send_chat(&mut self, now: Timestamp, text: String, fx: &mut Vec<Effect>) {
        let text = text.trim().to_string();
        if text.is_empty() || text.len() > MAX_CHAT {
            fx.push(Effect::Event(Event::CommandFailed {
                reason: format!("a chat message has 1 to {MAX_CHAT} bytes"),
            }));
            return;
        }
        let to: Vec<PeerId> = self.peers.keys().copied().collect();
        self.chat_seq += 1;
        let id = self.chat_seq;
        for &peer in &to {
            let msg = PeerMessage::Chat {
                id,
                text: text.clone(),
                sent_at: now.0,
            };
            self.send_data(now, peer, msg, fx);
        }
        if !to.is_empty() {
            self.awaiting_ack.insert(id, to.iter().copied().collect());
        }
        fx.push(Effect::Event(Event::ChatSent { id, to }));
    }
}
