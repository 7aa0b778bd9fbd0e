//! The call machine's negotiation with each peer: end-to-end signed envelopes, descriptions
//! and candidates (with the ICE policy), the DTLS certificate checked against the signed
//! fingerprint, and the transport's state.

use super::*;

impl CallMachine {
    pub(super) fn parties(&self, peer: &Peer) -> Option<(CallId, Party, Party)> {
        let CallPhase::InCall { call, me } = self.phase else {
            return None;
        };
        let mine = Party {
            user: self.user,
            peer: me,
        };
        let theirs = Party {
            user: peer.info.user_id,
            peer: peer.info.peer_id,
        };
        Some((call, mine, theirs))
    }

    pub(super) fn seal(&mut self, to: PeerId, body: Body, fx: &mut Vec<Effect>) {
        let CallPhase::InCall { call, me } = self.phase else {
            return;
        };
        self.seq += 1;
        let env = Envelope {
            v: CALL_PROTOCOL_VERSION,
            call,
            from: me,
            to: Some(to),
            seq: self.seq,
            body,
        };
        let payload = SignedEnvelope::seal(&self.identity, &env).to_payload();
        fx.push(Effect::Signal { to, payload });
    }

    pub(super) fn local_description(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        kind: SdpKind,
        sdp: String,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let Some((call, mine, theirs)) = self.parties(p) else {
            return;
        };
        let fingerprint = match DtlsFingerprint::from_sdp(&sdp) {
            Ok(f) => f,
            Err(e) => return self.fail(peer, format!("our own description is unusable: {e}"), fx),
        };
        let dtls = sign_dtls(&self.identity, &call, mine, theirs, &fingerprint);
        let body = match kind {
            SdpKind::Offer => Body::Offer { sdp, dtls },
            SdpKind::Answer => Body::Answer { sdp, dtls },
        };
        self.seal(peer, body, fx);
        let held = match self.peers.get_mut(&peer) {
            Some(p) => {
                p.described = true;
                p.phase = match (kind, p.phase) {
                    (SdpKind::Offer, Phase::Offering) => Phase::AwaitingAnswer,
                    (SdpKind::Answer, Phase::Answering) => Phase::Connecting,
                    (_, phase) => phase,
                };
                p.since = now;
                std::mem::take(&mut p.held_candidates)
            }
            None => Vec::new(),
        };
        for (mline, candidate) in held {
            self.seal(peer, Body::Candidate { mline, candidate }, fx);
        }
    }

    pub(super) fn local_candidate(
        &mut self,
        peer: PeerId,
        mline: u32,
        candidate: String,
        fx: &mut Vec<Effect>,
    ) {
        // Our own candidates follow the same policy: in tests, only allowed networks leave.
        if !self.config.candidates.allows(&candidate) {
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if !p.described {
            if p.held_candidates.len() < MAX_QUEUED {
                p.held_candidates.push((mline, candidate));
            }
            return;
        }
        self.seal(peer, Body::Candidate { mline, candidate }, fx);
    }

    pub(super) fn signal(
        &mut self,
        now: Timestamp,
        from: PeerId,
        payload: &str,
        fx: &mut Vec<Effect>,
    ) {
        let CallPhase::InCall { call, me } = self.phase else {
            return;
        };
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        if matches!(p.phase, Phase::Vetting | Phase::KeyChanged) {
            if p.held_signals.len() < MAX_QUEUED {
                p.held_signals.push(payload.to_string());
            }
            return;
        }
        let (phase, last_seq) = (p.phase, p.last_seq);
        let env = match SignedEnvelope::open(payload, &p.info.identity.signing, from, &call, me) {
            Ok(env) => env,
            Err(e) => return self.refuse_signal(from, phase, e, fx),
        };
        if env.seq <= last_seq {
            let e = CallError::Replayed {
                seq: env.seq,
                last: last_seq,
            };
            return self.refuse_signal(from, phase, e, fx);
        }
        if let Some(p) = self.peers.get_mut(&from) {
            p.last_seq = env.seq;
        }
        match env.body {
            Body::Offer { sdp, dtls } => self.remote_sdp(now, from, SdpKind::Offer, sdp, dtls, fx),
            Body::Answer { sdp, dtls } => {
                self.remote_sdp(now, from, SdpKind::Answer, sdp, dtls, fx)
            }
            Body::Hold => {
                if let Some(p) = self.peers.get_mut(&from) {
                    p.held_by_them = true;
                }
            }
            Body::Candidate { mline, candidate } => {
                if self.config.candidates.allows(&candidate) {
                    fx.push(Effect::AddCandidate {
                        peer: from,
                        mline,
                        candidate,
                    });
                }
            }
        }
    }

    /// A refused signaling message. Before the peer is connected the connection cannot be
    /// trusted to be set up correctly: fail it. Afterwards, refuse the message and carry on.
    pub(super) fn refuse_signal(
        &mut self,
        peer: PeerId,
        phase: Phase,
        e: CallError,
        fx: &mut Vec<Effect>,
    ) {
        if phase == Phase::Connected {
            fx.push(Effect::Event(Event::Refused {
                peer,
                error: e.to_string(),
            }));
        } else {
            self.fail(peer, e.to_string(), fx);
        }
    }

    pub(super) fn remote_sdp(
        &mut self,
        now: Timestamp,
        from: PeerId,
        kind: SdpKind,
        sdp: String,
        dtls: assent_shared::sign::Signature,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.peers.get(&from) else {
            return;
        };
        let expected_phase = match kind {
            SdpKind::Offer => Phase::AwaitingOffer,
            SdpKind::Answer => Phase::AwaitingAnswer,
        };
        if p.phase != expected_phase {
            let reason = format!("unexpected {kind:?} in phase {:?}", p.phase);
            return self.refuse_signal(from, p.phase, CallError::Malformed(reason), fx);
        }
        let Some((call, mine, theirs)) = self.parties(p) else {
            return;
        };
        // They signed from their seat to ours.
        let fp =
            match verify_sdp_binding(&p.info.identity.signing, &call, theirs, mine, &sdp, &dtls) {
                Ok(fp) => fp,
                Err(e) => return self.fail(from, e.to_string(), fx),
            };
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        p.expected = Some(fp);
        p.phase = match kind {
            SdpKind::Offer => Phase::Answering,
            SdpKind::Answer => Phase::Connecting,
        };
        p.since = now;
        fx.push(Effect::ApplyRemote {
            peer: from,
            kind,
            sdp,
        });
        if let Some(presented) = p.presented.take() {
            self.certificate(now, from, presented, fx);
        }
    }

    pub(super) fn certificate(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        fingerprint: DtlsFingerprint,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(expected) = p.expected else {
            p.presented = Some(fingerprint);
            return;
        };
        if expected != fingerprint {
            return self.fail(peer, CallError::CertificateMismatch.to_string(), fx);
        }
        if p.verified {
            return;
        }
        p.verified = true;
        p.phase = Phase::Connected;
        p.since = now;
        p.last_heard = now;
        fx.push(Effect::OpenMedia { peer });
        fx.push(Effect::Event(Event::Connected { peer }));
        let state = self.local;
        let inbox = self
            .peers
            .get_mut(&peer)
            .map(|p| std::mem::take(&mut p.inbox))
            .unwrap_or_default();
        // Say who we are first, then the directory we see, then what waited.
        let mut outbox = vec![PeerMessage::State { state }];
        if let Some(root) = self.newest {
            outbox.push(PeerMessage::Root { root });
        }
        if let Some(evidence) = self.equivocation {
            outbox.push(PeerMessage::Equivocation { evidence });
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            outbox.append(&mut p.outbox);
            p.outbox = outbox;
        }
        self.flush(now, peer, fx);
        for text in inbox {
            self.channel_message(now, peer, text, fx);
        }
    }

    pub(super) fn transport(&mut self, peer: PeerId, state: Transport, fx: &mut Vec<Effect>) {
        if state == Transport::Failed && self.peers.contains_key(&peer) {
            self.fail(
                peer,
                "no network path to them (ICE failed; a TURN server may be needed)".into(),
                fx,
            );
        }
    }
}
