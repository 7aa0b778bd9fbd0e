//! The call's task: it waits on the media, the signaling connection, the user's commands, the
//! recorder and the key directory, feeds the call machine, and performs the effects it
//! returns.

use super::*;
use crate::store::RecordingState;
use assent_shared::consent::Scope;

impl Running {
    pub(super) async fn run(
        mut self,
        mut media: mpsc::UnboundedReceiver<crate::media::MediaEvent>,
        mut signals: mpsc::UnboundedReceiver<SignalEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut recorded: mpsc::UnboundedReceiver<RecorderEvent>,
        mut directory: mpsc::UnboundedReceiver<DirectoryReply>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut second = tokio::time::interval(Duration::from_secs(1));
        let mut bus = self.media.pipeline().bus().map(|b| b.stream());
        let mut closed = String::from("left the call");
        while !self.machine.is_over() {
            let input = tokio::select! {
                Some(ev) = signals.recv() => match self.signal_event(ev) {
                    Ok(Some(input)) => input,
                    Ok(None) => continue,
                    Err(why) => {
                        closed = why.to_string();
                        Input::Leave
                    }
                },
                Some(event) = media.recv() => Input::from(event),
                Some(reply) = directory.recv() => {
                    for input in self.directory_reply(reply) {
                        self.feed(input);
                    }
                    continue;
                }
                Some(c) = commands.recv() => match self.command(c).await {
                    Some(input) => input,
                    None => continue,
                },
                Some(ev) = recorded.recv() => match self.recorded(ev) {
                    Some(input) => input,
                    None => continue,
                },
                Some(msg) = next_bus(&mut bus) => {
                    self.bus_message(&msg);
                    continue;
                }
                _ = tick.tick() => Input::Tick,
                _ = second.tick() => {
                    self.adapt().await;
                    continue;
                }
            };
            self.feed(input);
        }
        self.close(&mut recorded, closed).await;
    }

    /// What the recorder did: kept in the library, told to the app; a new chain head is shared
    /// with the others (`Some`: the machine's input for that).
    fn recorded(&mut self, ev: RecorderEvent) -> Option<Input> {
        self.library(&ev);
        let share = match &ev {
            RecorderEvent::Head { head, .. } => Some(Input::ShareHead(head.clone())),
            _ => None,
        };
        let _ = self.events.send(CallEvent::Recording(ev));
        share
    }

    /// The call is over: leave signaling, let a recording in progress finish its last segment
    /// and close its manifest before the media goes away, keep the call in the local history.
    async fn close(&mut self, recorded: &mut mpsc::UnboundedReceiver<RecorderEvent>, why: String) {
        self.signaling.leave().await;
        if self.recording {
            let done = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(ev) = recorded.recv().await {
                    self.library(&ev);
                    let last = matches!(ev, RecorderEvent::Finished { .. });
                    let _ = self.events.send(CallEvent::Recording(ev));
                    if last {
                        break;
                    }
                }
            });
            let _ = done.await;
        }
        self.media.stop();
        self.record.ended_at = Some(Timestamp::now().0);
        if !self.record.call_id.is_empty()
            && let Err(e) = self.store.record_call(&self.record)
        {
            tracing::warn!("cannot keep the call in the local history: {e}");
        }
        let _ = self.events.send(CallEvent::Closed { reason: why });
    }

    /// What the user asked for, as the machine's input (`None`: answered here).
    async fn command(&mut self, c: Command) -> Option<Input> {
        Some(match c {
            Command::SetMedia(s) => Input::SetMedia(s),
            Command::Chat(text) => {
                self.recorder.send(recorder::Command::Chat {
                    from: self.name.clone(),
                    text: text.clone(),
                    at: Timestamp::now().0,
                });
                Input::SendChat { text }
            }
            Command::Record {
                title,
                scope,
                retention_days,
            } => Input::ProposeRecording {
                title,
                scope,
                retention_days,
            },
            Command::AgreeRecording => Input::AgreeRecording,
            Command::DeclineRecording => Input::DeclineRecording,
            Command::WithdrawConsent => Input::WithdrawConsent,
            Command::AcceptKey(peer) => return self.accept_key(peer),
            Command::MarkVerified(peer) => return self.mark_verified(peer),
            Command::Leave => Input::Leave,
            Command::Stats(reply) => {
                let _ = reply.send(self.stats().await);
                return None;
            }
        })
    }

    pub(super) fn feed(&mut self, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            let now = Timestamp::now();
            if !matches!(input, Input::Tick) {
                tracing::debug!(input = input.kind(), "call input");
            }
            for effect in self.machine.handle(now, input) {
                if let Some(next) = self.perform(effect) {
                    queue.push(next);
                }
            }
        }
    }

    /// Perform one effect; a failure comes back as an input for the machine.
    pub(super) fn perform(&mut self, effect: Effect) -> Option<Input> {
        let effect = match ports::route(effect, &self.media, &self.codecs) {
            ports::Routed::Done => return None,
            ports::Routed::Input(input) => return Some(input),
            ports::Routed::LocalFailed(e) => {
                let _ = self.events.send(CallEvent::MediaError(e.to_string()));
                return None;
            }
            ports::Routed::NotMedia(effect) => effect,
        };
        match effect {
            Effect::Signal { to, payload } => self.signaling.send(ClientMsg::Send {
                to: Some(to),
                payload,
            }),
            Effect::VetPeer {
                peer,
                email,
                identity,
            } => self.vet(peer, email, identity),
            Effect::CheckRoot { epoch } => {
                let (api, keys, reply) = (self.api.clone(), self.keys, self.directory.clone());
                tokio::spawn(async move {
                    let root = match api.kt_roots(epoch, 1).await {
                        Ok(roots) => roots
                            .into_iter()
                            .find(|r| r.epoch() == epoch && r.verify(&keys.signing).is_ok())
                            .ok_or(DirectoryError::Kt(
                                assent_shared::transparency::KtError::WrongEpoch,
                            )),
                        Err(e) => Err(e.into()),
                    };
                    let _ = reply.send(DirectoryReply::Root(root));
                });
            }
            Effect::Hangup => self.signaling.send(ClientMsg::Leave),
            // The media's own effects went to the media above.
            Effect::CreatePeer { .. }
            | Effect::ApplyRemote { .. }
            | Effect::AddCandidate { .. }
            | Effect::OpenMedia { .. }
            | Effect::ClosePeer { .. }
            | Effect::SendData { .. }
            | Effect::ApplyLocalMedia(_) => {}
            Effect::Record(cmd) => {
                let present: Vec<assent_shared::identity::IdentityKey> = self
                    .machine
                    .consent()
                    .map(|c| c.machine().present().copied().collect())
                    .unwrap_or_default();
                self.recorder.send(match cmd {
                    RecordCommand::Start { epochs, tokens } => recorder::Command::Start {
                        epochs,
                        tokens,
                        present,
                    },
                    RecordCommand::Pause => recorder::Command::Pause,
                    RecordCommand::Resume { epochs, tokens } => recorder::Command::Resume {
                        epochs,
                        tokens,
                        present,
                    },
                    RecordCommand::Stop(reason) => recorder::Command::Stop(reason),
                });
            }
            Effect::Event(e) => {
                self.keep(&e);
                let _ = self.events.send(CallEvent::Call(e));
            }
        }
        None
    }

    /// What an event of the call leaves behind here: evidence and chain heads in the store,
    /// chat lines and people's names for the recorder, the people in the call's history.
    fn keep(&mut self, e: &Event) {
        if let Event::Equivocation { evidence } = e
            && let Err(err) = transparency::record_equivocation(&self.store, evidence)
        {
            tracing::warn!("cannot keep the evidence of an equivocation: {err}");
        }
        if let Event::RecordingHead { head, .. } = e
            && let Err(err) = self.store.keep_head(head)
        {
            tracing::warn!("cannot keep a recording's chain head: {err}");
        }
        if let Event::Chat {
            from,
            text,
            sent_at,
            ..
        } = e
        {
            let name = self
                .machine
                .peers()
                .find(|(id, _, _)| id == from)
                .map(|(_, _, info)| info.display_name.clone())
                .unwrap_or_else(|| from.to_string());
            self.recorder.send(recorder::Command::Chat {
                from: name,
                text: text.clone(),
                at: *sent_at,
            });
        }
        if let Event::ParticipantJoined {
            peer, email, name, ..
        } = e
        {
            self.recorder.send(recorder::Command::Label {
                source: crate::media::tap::Source::Peer(*peer),
                label: format!("{name} <{email}>"),
            });
        }
        if let Event::ParticipantJoined { name, .. } = e
            && !self.record.participants.contains(name)
        {
            self.record.participants.push(name.clone());
        }
    }

    /// Turn a signaling event into a machine input (or report it). `Err`: the call cannot go on.
    pub(super) fn signal_event(
        &mut self,
        ev: SignalEvent,
    ) -> Result<Option<Input>, crate::signaling::Closed> {
        let msg = match ev {
            SignalEvent::Msg(m) => *m,
            SignalEvent::Reconnecting { attempt } => {
                let _ = self.events.send(CallEvent::Reconnecting { attempt });
                return Ok(None);
            }
            SignalEvent::Closed(why) => return Err(why),
        };
        Ok(match msg {
            ServerMsg::Joined {
                call_id,
                peer_id,
                peers,
                resumed,
                ..
            } => {
                for p in &peers {
                    self.observe(p);
                }
                self.record.call_id = call_id.to_string();
                Some(Input::Joined {
                    call: call_id,
                    me: peer_id,
                    peers,
                    resumed,
                })
            }
            ServerMsg::PeerJoined { peer } => {
                self.observe(&peer);
                Some(Input::PeerJoined(*peer))
            }
            ServerMsg::PeerLeft { peer_id, reason } => Some(Input::PeerLeft {
                peer: peer_id,
                reason,
            }),
            ServerMsg::Message { from, payload } => Some(Input::Signal { from, payload }),
            ServerMsg::Removed => Some(Input::Removed),
            ServerMsg::Ended => Some(Input::Ended),
            ServerMsg::PeerUpdated { peer } => {
                let _ = self.events.send(CallEvent::Server(format!(
                    "{} is now {:?}",
                    peer.display_name, peer.role
                )));
                None
            }
            ServerMsg::Error { code, message } => {
                let _ = self
                    .events
                    .send(CallEvent::Server(format!("{message} ({code})")));
                None
            }
            ServerMsg::Pong => None,
        })
    }

    /// Keep the local library in step with what the recorder does.
    pub(super) fn library(&mut self, ev: &RecorderEvent) {
        // The cloud copy follows the recording: registered when it starts, each segment
        // uploaded once written, completed when it ends.
        match ev {
            RecorderEvent::Started { id, dir, row } if row.scope == Scope::LocalAndCloud => {
                self.cloud.insert(*id, dir.clone());
                self.uploads.kick(dir.clone());
            }
            RecorderEvent::Segment { id, .. } | RecorderEvent::Finished { id, .. } => {
                if let Some(dir) = self.cloud.get(id) {
                    self.uploads.kick(dir.clone());
                }
            }
            _ => {}
        }
        let result = match ev {
            RecorderEvent::Started { row, .. } => {
                self.recording = true;
                let mut row = (**row).clone();
                row.participants = std::iter::once(self.name.clone())
                    .chain(self.machine.peers().map(|(_, _, i)| i.display_name.clone()))
                    .collect();
                self.recording_stats = (0, 0);
                self.store.add_recording(&row)
            }
            RecorderEvent::Segment { id, bytes, .. } => {
                self.recording_stats.0 += 1;
                self.recording_stats.1 += bytes;
                let (n, size) = self.recording_stats;
                self.store.recording_progress(&id.to_string(), n, size)
            }
            RecorderEvent::Finished { id, .. } => {
                self.recording = false;
                self.store.recording_ended(
                    &id.to_string(),
                    RecordingState::Complete,
                    Some(Timestamp::now().0),
                )
            }
            // The recorder keeps its own witness too (a cloud copy it downloads later).
            RecorderEvent::Head { head, .. } => self.store.keep_head(head),
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!("recordings library: {e}");
        }
    }

    pub(super) fn bus_message(&mut self, msg: &gst::Message) {
        if let gst::MessageView::Error(e) = msg.view() {
            let from = msg
                .src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_default();
            let _ = self
                .events
                .send(CallEvent::MediaError(format!("{from}: {}", e.error())));
        }
    }

    /// Once a second: bitrate adaptation from the receivers' reports.
    pub(super) async fn adapt(&mut self) {
        let mut worst: Option<f64> = None;
        for peer in self.media.peer_ids() {
            if let Some(s) = self.media.webrtc_stats(peer).await {
                let t = crate::media::stats::transport_from(&s);
                self.report.transport.insert(peer, t.clone());
                if let Some(f) = t.fraction_lost {
                    worst = Some(worst.map_or(f, |w: f64| w.max(f)));
                }
            }
        }
        if let Some(kbps) = self.rate.update(rate::Report {
            fraction_lost: worst,
        }) {
            self.media.set_video_kbps(kbps);
        }
    }

    pub(super) async fn stats(&mut self) -> CallStats {
        self.adapt().await;
        self.report.snapshot(&self.machine, &self.media)
    }
}

async fn next_bus(bus: &mut Option<gst::bus::BusStream>) -> Option<gst::Message> {
    use futures_util::StreamExt;
    match bus {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}
