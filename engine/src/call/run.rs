//! The call's task: it waits on the media, the signaling connection, the user's commands, the
//! recorder and the key directory, and hands what arrives to the [`Edge`]. It also does what
//! needs the real media: its bus errors, the receivers' reports and the bitrate they steer.

use super::edge::Edge;
use super::ports::{Io, Live};
use super::*;

pub(super) struct Running {
    pub(super) edge: Edge<Media, Live>,
    pub(super) rate: rate::RateController,
    pub(super) report: report::Tracker,
    /// The screen asked of the desktop (Wayland), while it asks the user.
    pub(super) screen: super::screen::ScreenAsk,
}

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
        let mut bus = self.edge.peers.pipeline().bus().map(|b| b.stream());
        let mut closed = String::from("left the call");
        // The desktop's answers about sharing the screen.
        let (answer_tx, mut answers) = mpsc::unbounded_channel();
        while !self.edge.machine.is_over() {
            let input = tokio::select! {
                Some(ev) = signals.recv() => match self.edge.signal_event(ev) {
                    Ok(Some(input)) => input,
                    Ok(None) => continue,
                    Err(why) => {
                        closed = why.to_string();
                        Input::User(UserInput::Leave)
                    }
                },
                Some(event) = media.recv() => match event {
                    crate::media::MediaEvent::SendEstimate { peer, bps, probed } => {
                        let kbps = if probed {
                            self.rate.on_probed_estimate(peer, bps)
                        } else {
                            self.rate.on_estimate(peer, bps)
                        };
                        if let Some(kbps) = kbps {
                            self.edge.peers.set_video_kbps(kbps);
                        }
                        continue;
                    }
                    event => Input::from(event),
                },
                Some(reply) = directory.recv() => {
                    for input in self.edge.directory_reply(reply) {
                        self.edge.feed(input);
                    }
                    continue;
                }
                Some(c) = commands.recv() => match c {
                    Command::Stats(reply) => {
                        let _ = reply.send(self.stats().await);
                        continue;
                    }
                    Command::SetMedia(wanted) => {
                        let granted = self.edge.peers.screen_granted();
                        let needed = self.edge.peers.screen_needs_portal();
                        let (now, ask) = self.screen.request(wanted, granted, needed);
                        if ask {
                            let tx = answer_tx.clone();
                            tokio::spawn(async move {
                                let _ = tx.send(crate::media::portal::ScreenGrant::ask().await);
                            });
                        }
                        Input::User(UserInput::SetMedia(now))
                    }
                    c => match self.edge.command(c) {
                        Some(input) => input,
                        None => continue,
                    },
                },
                Some(answer) = answers.recv() => {
                    match (self.screen.answered(answer.is_ok()), answer) {
                        (Some(state), Ok(grant)) => {
                            self.edge.peers.grant_screen(grant);
                            Input::User(UserInput::SetMedia(state))
                        }
                        (None, Ok(grant)) => {
                            grant.close();
                            continue;
                        }
                        (_, Err(e)) => {
                            self.edge.io.report(CallEvent::ScreenNotShared(e.to_string()));
                            continue;
                        }
                    }
                }
                Some(ev) = recorded.recv() => match self.edge.recorded(ev) {
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
            self.edge.feed(input);
        }
        self.close(&mut recorded, closed).await;
    }

    /// The call is over: leave signaling, let a recording in progress finish its last segment
    /// and close its manifest before the media goes away, keep the call in the local history.
    async fn close(&mut self, recorded: &mut mpsc::UnboundedReceiver<RecorderEvent>, why: String) {
        self.edge.io.signaling.leave().await;
        if self.edge.recording {
            let done = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(ev) = recorded.recv().await {
                    let last = matches!(ev, RecorderEvent::Finished { .. });
                    self.edge.recorded(ev);
                    if last {
                        break;
                    }
                }
            });
            let _ = done.await;
        }
        self.edge.peers.stop();
        self.edge.finish(why);
    }

    fn bus_message(&mut self, msg: &gst::Message) {
        // A branch joined or changed its latency (a peer's jitter buffer): the sinks must wait
        // for the slowest path again, or the speaker's mixer cuts voices and pictures are shown
        // ahead of their sound. GStreamer leaves this to the application.
        // It runs on a thread of its own: it queries and informs every sink, and the call
        // must not wait for a streaming thread.
        if let gst::MessageView::Latency(_) = msg.view() {
            let pipeline = self.edge.peers.pipeline().downgrade();
            std::thread::spawn(move || {
                if let Some(p) = pipeline.upgrade() {
                    let _ = p.recalculate_latency();
                }
            });
        }
        if let gst::MessageView::Element(e) = msg.view()
            && let Some(change) = e.structure().and_then(DeviceChange::from_message)
        {
            tracing::info!("{}", change.message());
            self.edge.io.report(CallEvent::Device(change));
        }
        if let gst::MessageView::Error(e) = msg.view() {
            let from = msg
                .src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_default();
            self.edge
                .io
                .report(CallEvent::MediaError(format!("{from}: {}", e.error())));
        }
    }

    /// Once a second: bitrate adaptation from the receivers' reports.
    async fn adapt(&mut self) {
        let media = &self.edge.peers;
        let peers = media.peer_ids();
        if let Some(kbps) = self.rate.keep_only(&peers) {
            media.set_video_kbps(kbps);
        }
        self.refresh_transport().await;
        let worst = self.report.worst_fresh_loss();
        // No new report is no news of loss: the path counts as clean until one says otherwise
        // (webrtcbin's receiver report figures often stay unchanged for seconds; the
        // estimator's own loss control sees every packet's fate from transport-wide feedback).
        let heard = !self.report.transport.is_empty();
        if let Some(kbps) = self.rate.on_loss(worst.or(heard.then_some(0.0))) {
            self.edge.peers.set_video_kbps(kbps);
        }
    }

    /// Ask every connection what its transport says.
    async fn refresh_transport(&mut self) {
        let media = &self.edge.peers;
        let peers = media.peer_ids();
        self.report.transport.retain(|p, _| peers.contains(p));
        for peer in peers {
            if let Some(s) = media.webrtc_stats(peer).await {
                let t = crate::media::stats::transport_from(&s);
                self.report.transport.insert(peer, t);
            }
        }
    }

    /// Statistics now. (The rate moves only once a second, however often they are asked for.)
    async fn stats(&mut self) -> CallStats {
        self.refresh_transport().await;
        self.report.snapshot(&self.edge.machine, &self.edge.peers)
    }
}

async fn next_bus(bus: &mut Option<gst::bus::BusStream>) -> Option<gst::Message> {
    use futures_util::StreamExt;
    match bus {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}
