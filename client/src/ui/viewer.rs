//! The offline viewer of one recording: the integrity verdict, the consent evidence (who
//! agreed to what, when, epoch by epoch), how it ended, the chat transcript, and export with a
//! warning. Everything comes from the recording's own files and this device's keys: no
//! network. An incomplete recording (its recorder stopped without closing it) opens too.

use std::collections::BTreeMap;

use assent_shared::IdentityKey;
use assent_shared::consent::EndReason;
use assent_shared::container::{Note, Report, Track};
use std::sync::Arc;

use assent_engine::Player;
use iced::widget::{button, column, container, image, row, rule, scrollable, slider, space, text};
use iced::{Center, Element, Fill};
use jiff::tz::TimeZone;

use super::{theme, time};

/// One consent signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub who: String,
    pub at: u64,
}

/// One consent epoch: the people it was proposed to and who signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    pub epoch: u32,
    pub participants: Vec<String>,
    pub signed: Vec<Signed>,
}

/// One chat message kept in the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub at: Option<u64>,
    pub from: String,
    pub text: String,
}

/// What the viewer shows, read from the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub dir: String,
    /// The manifest as verified when opened (playback decrypts by it).
    pub manifest: Arc<assent_shared::container::Manifest>,
    pub title: String,
    pub recorder: String,
    pub started_at: u64,
    /// When and how it ended; None: incomplete.
    pub ended: Option<(u64, String)>,
    pub scope: String,
    pub retention_days: u16,
    pub verdict: assent_shared::container::Verdict,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
    pub epochs: Vec<Epoch>,
    pub media_segments: usize,
    /// The chat transcript, or why it could not be read.
    pub chat: Result<Vec<ChatLine>, String>,
}

/// Names for keys: known contacts by name, this device's own key as "you", others by a short
/// form of their key.
pub struct Names<'a> {
    pub known: &'a BTreeMap<IdentityKey, String>,
    pub me: Option<IdentityKey>,
}

impl Names<'_> {
    pub fn of(&self, key: &IdentityKey) -> String {
        if self.me.as_ref() == Some(key) {
            return "you".into();
        }
        match self.known.get(key) {
            Some(n) => n.clone(),
            None => format!("participant {}", key.short()),
        }
    }
}

/// Read the view of a verified recording; `chat` is its decrypted chat track (the JSON lines
/// the recorder writes), or why it could not be decrypted.
pub fn opened(
    report: &Report,
    dir: &str,
    names: &Names<'_>,
    chat: Result<Vec<u8>, String>,
) -> Opened {
    let m = &report.manifest;
    let first = m.epochs.first();
    let ended = m
        .ended
        .as_ref()
        .map(|e| (e.at.0, ending(e.reason.as_ref(), names)));
    let chat = chat.map(|bytes| chat_lines(&bytes));
    Opened {
        dir: dir.to_string(),
        manifest: Arc::new(report.manifest.clone()),
        title: first.map(|p| p.terms.title.clone()).unwrap_or_default(),
        recorder: m
            .recorder()
            .map(|k| names.of(&k))
            .unwrap_or_else(|| "unknown".into()),
        started_at: m.started_at.0,
        ended,
        scope: match first.map(|p| p.terms.scope) {
            Some(assent_shared::consent::Scope::LocalAndCloud) => {
                "kept on the recorder's device and in the cloud".into()
            }
            _ => "kept on the recorder's device only".into(),
        },
        retention_days: first.map_or(0, |p| p.terms.retention_days),
        verdict: report.verdict(),
        problems: report.problems.iter().map(|p| p.to_string()).collect(),
        notes: report
            .notes
            .iter()
            .filter_map(|n| match n {
                Note::Incomplete => None,
                other => Some(other.to_string()),
            })
            .collect(),
        epochs: epochs(report, names),
        media_segments: m
            .segments
            .iter()
            .filter(|s| s.track == Track::Media)
            .count(),
        chat,
    }
}

/// Each consent epoch: who was in the call and who signed, when.
fn epochs(report: &Report, names: &Names<'_>) -> Vec<Epoch> {
    let consents = report.consents();
    report
        .manifest
        .epochs
        .iter()
        .map(|p| Epoch {
            epoch: p.epoch,
            participants: p
                .participants
                .iter()
                .map(|i| names.of(&i.signing))
                .collect(),
            signed: consents
                .iter()
                .filter(|(_, e, _)| *e == p.epoch)
                .map(|(k, _, at)| Signed {
                    who: names.of(k),
                    at: at.0,
                })
                .collect(),
        })
        .collect()
}

/// How a recording ended, in words, with people's names.
fn ending(reason: Option<&EndReason>, names: &Names<'_>) -> String {
    match reason {
        None => "stopped by the recorder".to_string(),
        Some(EndReason::Withdrawn(n)) => {
            format!("consent withdrawn by {}", names.of(&n.body.signer))
        }
        Some(EndReason::Declined(n)) => format!("declined by {}", names.of(&n.body.signer)),
        Some(EndReason::ParticipantJoined(k)) => {
            format!("{} joined before consent was complete", names.of(k))
        }
        Some(EndReason::RecorderLeft) => "the recorder left the call".into(),
        Some(EndReason::WindowEnded) => "the consented time window ended".into(),
    }
}

/// The chat track's lines: the recorder's JSON lines, or a line as it is if it is not one.
fn chat_lines(bytes: &[u8]) -> Vec<ChatLine> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) => ChatLine {
                at: v["at"].as_u64(),
                from: v["from"].as_str().unwrap_or("someone").to_string(),
                text: v["text"].as_str().unwrap_or_default().to_string(),
            },
            Err(_) => ChatLine {
                at: None,
                from: String::new(),
                text: l.to_string(),
            },
        })
        .collect()
}

#[derive(Debug, Clone)]
pub enum Message {
    PlayPause,
    /// The seek bar moved (milliseconds into the recording).
    Seek(f64),
    Export(Track),
    ConfirmExport,
    CancelExport,
    Back,
    // The answers to what the app asked for.
    /// The media is decrypted and ready to play (or cannot be).
    Media(Result<Arc<Player>, String>),
    /// An export finished: where it went, or why not.
    Exported(Result<String, String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Export { dir: String, track: Track },
    Back,
}

/// Playback: the player (once the media is decrypted) and the newest picture of each track.
#[derive(Debug, Default)]
struct Playback {
    player: Option<Arc<Player>>,
    /// Why it cannot play, if it cannot.
    error: Option<String>,
    frames: Vec<(String, u64, image::Handle)>,
}

#[derive(Debug)]
pub struct Viewer {
    opened: Opened,
    playback: Playback,
    confirm: Option<Track>,
    busy: bool,
    notice: Option<(String, bool)>,
    tz: TimeZone,
}

impl Viewer {
    pub fn new(opened: Opened, tz: TimeZone) -> Viewer {
        Viewer {
            opened,
            playback: Playback::default(),
            confirm: None,
            busy: false,
            notice: None,
            tz,
        }
    }

    pub fn title(&self) -> &str {
        &self.opened.title
    }

    /// The media is decrypted and ready to play (or cannot be).
    fn on_media(&mut self, result: Result<Arc<Player>, String>) {
        match result {
            Ok(p) => self.playback.player = Some(p),
            Err(e) => self.playback.error = Some(e),
        }
    }

    /// Whether a player runs (the window then refreshes the pictures at its pace).
    pub fn has_player(&self) -> bool {
        self.playback.player.is_some()
    }

    /// Take the newest picture of each track (shared with the player, not copied).
    pub fn on_frame(&mut self) {
        let Some(p) = &self.playback.player else {
            return;
        };
        let frames = p.frames();
        let mut out = Vec::with_capacity(frames.len());
        for (name, f) in frames {
            match self
                .playback
                .frames
                .iter()
                .position(|(n, s, _)| *n == name && *s == f.seq)
            {
                Some(i) => out.push(self.playback.frames.swap_remove(i)),
                None => {
                    out.push((
                        name,
                        f.seq,
                        super::video::picture(f.width, f.height, f.rgba),
                    ));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        self.playback.frames = out;
    }

    /// An export finished: where it went, or why not.
    fn on_exported(&mut self, result: Result<String, String>) {
        self.busy = false;
        self.notice = Some(match result {
            Ok(path) => (format!("Exported to {path}"), false),
            Err(e) => (e, true),
        });
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Media(result) => {
                self.on_media(result);
                None
            }
            Message::Exported(result) => {
                self.on_exported(result);
                None
            }
            Message::Export(track) => {
                if !self.busy {
                    self.confirm = Some(track);
                    self.notice = None;
                }
                None
            }
            Message::ConfirmExport => {
                let track = self.confirm.take()?;
                self.busy = true;
                Some(Event::Export {
                    dir: self.opened.dir.clone(),
                    track,
                })
            }
            Message::CancelExport => {
                self.confirm = None;
                None
            }
            Message::PlayPause => {
                if let Some(p) = &self.playback.player {
                    if p.is_playing() {
                        p.pause();
                    } else {
                        p.play();
                    }
                }
                None
            }
            Message::Seek(ms) => {
                if let Some(p) = &self.playback.player {
                    p.seek(ms.max(0.0) as u64);
                }
                None
            }
            Message::Back => Some(Event::Back),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let o = &self.opened;
        let header = row![
            button(text("← Recordings"))
                .style(theme::button::secondary)
                .on_press(Message::Back),
            text(o.title.as_str()).size(theme::size::HEADING),
        ]
        .spacing(16)
        .align_y(Center);
        let body = column![
            header,
            self.player(),
            self.verdict(),
            self.facts(),
            self.evidence(),
            self.chat(),
            self.export(),
        ]
        .spacing(16)
        .width(820);
        container(scrollable(container(body).center_x(Fill).padding(24)))
            .height(Fill)
            .into()
    }

    fn player(&self) -> Element<'_, Message> {
        let pb = &self.playback;
        let Some(p) = &pb.player else {
            return theme::card(match &pb.error {
                Some(e) => {
                    text(format!("This recording cannot be played here: {e}")).style(text::danger)
                }
                None => text("Decrypting the recording…").style(theme::muted),
            });
        };
        let mut tiles = row![].spacing(8);
        for (name, _, handle) in &pb.frames {
            tiles = tiles.push(
                column![
                    image(handle.clone()).width(Fill),
                    text(name.as_str()).size(13).style(theme::muted),
                ]
                .spacing(4)
                .width(Fill),
            );
        }
        if pb.frames.is_empty() {
            tiles = tiles.push(text("No picture yet.").style(theme::muted));
        }
        // A recording of no length (a segment closed at once) still gets a seek bar that has
        // a range.
        let duration = p.duration_ms().max(1);
        let position = p.position_ms().min(duration);
        let controls = row![
            button(text(if p.is_playing() { "Pause" } else { "Play" }))
                .padding([6, 16])
                .on_press(Message::PlayPause),
            slider(0.0..=duration as f64, position as f64, Message::Seek)
                .step(100.0)
                .width(Fill),
            text(times(position, duration)).font(iced::Font::MONOSPACE),
        ]
        .spacing(12)
        .align_y(Center);
        let mut c = column![tiles, controls].spacing(10);
        if let Some(e) = p.error() {
            c = c.push(text(format!("Playback stopped: {e}")).style(text::danger));
        }
        theme::card(c)
    }

    fn verdict(&self) -> Element<'_, Message> {
        use assent_shared::container::Verdict;
        let o = &self.opened;
        let mut c = column![].spacing(6);
        if o.verdict == Verdict::Intact {
            c = c.push(
                text("✓ Intact: every consent signature and every segment verifies.")
                    .size(18)
                    .style(text::success),
            );
        } else if o.verdict == Verdict::Incomplete {
            c = c.push(
                text("⚠ Incomplete, may be truncated: there is no signed ending.")
                    .size(18)
                    .style(text::warning),
            );
        } else {
            c = c.push(
                text(format!(
                    "✗ Not intact: {} problem(s) found. Do not rely on this recording.",
                    o.problems.len()
                ))
                .size(18)
                .style(text::danger),
            );
            for p in &o.problems {
                c = c.push(text(p.as_str()).size(13).style(text::danger));
            }
        }
        if o.ended.is_none() {
            c = c.push(text(
                "What is here is signed and verifies, but the end is not: the recorder may have \
                 crashed, or someone may be showing an earlier version with the end cut off.",
            ));
        }
        for n in &o.notes {
            c = c.push(text(n.as_str()).size(13).style(theme::muted));
        }
        theme::card(c)
    }

    fn facts(&self) -> Element<'_, Message> {
        let o = &self.opened;
        let ended = match &o.ended {
            Some((at, how)) => format!(
                "{} ({}), {}",
                time::when(*at, &self.tz),
                time::duration(at.saturating_sub(o.started_at)),
                how
            ),
            None => "never (incomplete)".into(),
        };
        let line = |k: &'static str, v: String| {
            row![text(k).width(140).style(theme::muted), text(v)].spacing(8)
        };
        theme::card(
            column![
                line("Started", time::when(o.started_at, &self.tz)),
                line("Ended", ended),
                line("Recorded by", o.recorder.clone()),
                line(
                    "Terms",
                    format!(
                        "{}; the cloud copy is deleted after {} days",
                        o.scope, o.retention_days
                    )
                ),
                line(
                    "Media",
                    match o.media_segments {
                        1 => "1 segment".to_string(),
                        n => format!("{n} segments"),
                    }
                ),
            ]
            .spacing(6),
        )
    }

    fn evidence(&self) -> Element<'_, Message> {
        let mut c = column![text("Who agreed").size(18), rule::horizontal(1)].spacing(6);
        for e in &self.opened.epochs {
            let heading = if e.epoch == 0 {
                format!("Proposed to {}", e.participants.join(", "))
            } else {
                format!(
                    "Extended (epoch {}) when the group changed: {}",
                    e.epoch,
                    e.participants.join(", ")
                )
            };
            c = c.push(text(heading));
            for s in &e.signed {
                c = c.push(
                    text(format!(
                        "✓ {} signed at {}",
                        s.who,
                        time::when(s.at, &self.tz)
                    ))
                    .size(14)
                    .style(text::success),
                );
            }
            let missing: Vec<&String> = e
                .participants
                .iter()
                .filter(|p| !e.signed.iter().any(|s| &s.who == *p))
                .collect();
            for m in missing {
                c = c.push(
                    text(format!(
                        "✗ {m} did not sign: nothing was recorded under this epoch"
                    ))
                    .size(14)
                    .style(theme::muted),
                );
            }
        }
        theme::card(c)
    }

    fn chat(&self) -> Element<'_, Message> {
        let mut c = column![
            text("Chat during the recording").size(18),
            rule::horizontal(1)
        ]
        .spacing(6);
        match &self.opened.chat {
            Err(e) => c = c.push(text(format!("The chat cannot be read: {e}")).style(text::danger)),
            Ok(lines) if lines.is_empty() => {
                c = c.push(text("No chat while recording.").style(theme::muted))
            }
            Ok(lines) => {
                for l in lines {
                    let when = l.at.map(|t| time::when(t, &self.tz)).unwrap_or_default();
                    c = c.push(
                        row![
                            text(when).size(13).width(150).style(theme::muted),
                            text(format!("{}: {}", l.from, l.text)),
                        ]
                        .spacing(8),
                    );
                }
            }
        }
        theme::card(c)
    }

    fn export(&self) -> Element<'_, Message> {
        let mut c = column![
            text("Export").size(18),
            rule::horizontal(1),
            row![
                button(text("Export video…"))
                    .on_press_maybe((!self.busy).then_some(Message::Export(Track::Media))),
                button(text("Export chat…"))
                    .style(theme::button::secondary)
                    .on_press_maybe((!self.busy).then_some(Message::Export(Track::Chat))),
            ]
            .spacing(8),
        ]
        .spacing(8);
        if let Some(track) = self.confirm {
            let what = match track {
                Track::Media => "the video and sound",
                Track::Chat => "the chat",
            };
            c = c.push(
                column![
                    text(format!(
                        "This writes {what} DECRYPTED to a file on this computer. Anyone who can \
                         read that file can see it, and it no longer proves who agreed: the \
                         participants consented to the encrypted recording."
                    ))
                    .style(text::danger),
                    row![
                        space::horizontal(),
                        button(text("Cancel"))
                            .style(theme::button::secondary)
                            .on_press(Message::CancelExport),
                        button(text("Export decrypted"))
                            .style(theme::button::danger)
                            .on_press(Message::ConfirmExport),
                    ]
                    .spacing(8),
                ]
                .spacing(8),
            );
        }
        if self.busy {
            c = c.push(text("Exporting…").style(theme::muted));
        }
        if let Some((n, error)) = &self.notice {
            c = c.push(text(n.as_str()).style(if *error { text::danger } else { text::success }));
        }
        theme::card(c)
    }
}

/// The seek bar's time: the position against the recording's length (ms), both as m:ss, or
/// both as h:mm:ss for a recording of an hour or more. The length counts a started second (a
/// recording of 0.8 s is 0:01 long, not 0:00), the position whole seconds played, and at the
/// end it reads as the length.
fn times(position: u64, length: u64) -> String {
    let length_s = length.div_ceil(1000);
    let position_s = if position >= length {
        length_s
    } else {
        position / 1000
    };
    let long = length_s >= 3600;
    format!("{} / {}", clock(position_s, long), clock(length_s, long))
}

/// `s` seconds as m:ss, or as h:mm:ss when `long`.
fn clock(s: u64, long: bool) -> String {
    if long {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests;
