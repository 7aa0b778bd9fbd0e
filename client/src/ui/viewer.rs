//! The offline viewer of one recording: the integrity verdict, the consent evidence (who
//! agreed to what, when, epoch by epoch), how it ended, the chat transcript, and export with a
//! warning. Everything comes from the recording's own files and this device's keys: no
//! network. An incomplete recording (its recorder stopped without closing it) opens too.

use std::collections::BTreeMap;

use assent_shared::IdentityKey;
use assent_shared::consent::EndReason;
use assent_shared::container::{Note, Report, Track};
use iced::widget::{button, column, container, row, rule, scrollable, space, text};
use iced::{Center, Element, Fill};
use jiff::tz::TimeZone;

use super::{style, time};

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
#[derive(Debug, Clone)]
pub struct Opened {
    pub dir: String,
    pub title: String,
    pub recorder: String,
    pub started_at: u64,
    /// When and how it ended; None: incomplete.
    pub ended: Option<(u64, String)>,
    pub scope: String,
    pub retention_days: u16,
    pub intact: bool,
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
    let consents = report.consents();
    let epochs = m
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
        .collect();
    let ended = m.ended.as_ref().map(|e| {
        let how = match &e.reason {
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
        };
        (e.at.0, how)
    });
    let chat = chat.map(|bytes| {
        String::from_utf8_lossy(&bytes)
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
    });
    Opened {
        dir: dir.to_string(),
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
        intact: report.is_intact(),
        problems: report.problems.iter().map(|p| format!("{p:?}")).collect(),
        notes: report
            .notes
            .iter()
            .filter_map(|n| match n {
                Note::Incomplete => None,
                Note::UnlistedTrailingSegment { name } => Some(format!(
                    "{name}: the segment being written when the recorder stopped (not covered by the signature, left out)"
                )),
                Note::TemporaryFile { name } => {
                    Some(format!("{name}: a leftover temporary file (ignored)"))
                }
            })
            .collect(),
        epochs,
        media_segments: m
            .segments
            .iter()
            .filter(|s| s.track == Track::Media)
            .count(),
        chat,
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Export(Track),
    ConfirmExport,
    CancelExport,
    Back,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Export { dir: String, track: Track },
    Back,
}

#[derive(Debug)]
pub struct Viewer {
    opened: Opened,
    confirm: Option<Track>,
    busy: bool,
    notice: Option<(String, bool)>,
    tz: TimeZone,
}

impl Viewer {
    pub fn new(opened: Opened, tz: TimeZone) -> Viewer {
        Viewer {
            opened,
            confirm: None,
            busy: false,
            notice: None,
            tz,
        }
    }

    pub fn title(&self) -> &str {
        &self.opened.title
    }

    /// An export finished: where it went, or why not.
    pub fn on_exported(&mut self, result: Result<String, String>) {
        self.busy = false;
        self.notice = Some(match result {
            Ok(path) => (format!("Exported to {path}"), false),
            Err(e) => (e, true),
        });
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
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
            Message::Back => Some(Event::Back),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let o = &self.opened;
        let header = row![
            button(text("← Recordings"))
                .style(button::secondary)
                .on_press(Message::Back),
            text(o.title.as_str()).size(26),
        ]
        .spacing(16)
        .align_y(Center);
        let body = column![
            header,
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

    fn verdict(&self) -> Element<'_, Message> {
        let o = &self.opened;
        let mut c = column![].spacing(6);
        if o.intact {
            c = c.push(
                text("✓ Intact: every consent signature and every segment verifies.")
                    .size(18)
                    .style(text::success),
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
                "Incomplete: the recorder stopped without closing it. Everything kept up to then \
                 is signed and verifies.",
            ));
        }
        for n in &o.notes {
            c = c.push(text(n.as_str()).size(13).style(style::muted));
        }
        boxed(c)
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
            row![text(k).width(140).style(style::muted), text(v)].spacing(8)
        };
        boxed(
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
                line("Media", format!("{} segments", o.media_segments)),
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
                    .style(style::muted),
                );
            }
        }
        boxed(c)
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
                c = c.push(text("No chat while recording.").style(style::muted))
            }
            Ok(lines) => {
                for l in lines {
                    let when = l.at.map(|t| time::when(t, &self.tz)).unwrap_or_default();
                    c = c.push(
                        row![
                            text(when).size(13).width(150).style(style::muted),
                            text(format!("{}: {}", l.from, l.text)),
                        ]
                        .spacing(8),
                    );
                }
            }
        }
        boxed(c)
    }

    fn export(&self) -> Element<'_, Message> {
        let mut c = column![
            text("Export").size(18),
            rule::horizontal(1),
            row![
                button(text("Export video…"))
                    .on_press_maybe((!self.busy).then_some(Message::Export(Track::Media))),
                button(text("Export chat…"))
                    .style(button::secondary)
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
                            .style(button::secondary)
                            .on_press(Message::CancelExport),
                        button(text("Export decrypted"))
                            .style(button::danger)
                            .on_press(Message::ConfirmExport),
                    ]
                    .spacing(8),
                ]
                .spacing(8),
            );
        }
        if self.busy {
            c = c.push(text("Exporting…").style(style::muted));
        }
        if let Some((n, error)) = &self.notice {
            c = c.push(text(n.as_str()).style(if *error { text::danger } else { text::success }));
        }
        boxed(c)
    }
}

fn boxed<'a>(content: impl Into<Element<'a, Message>>) -> Element<'a, Message> {
    container(content)
        .padding(12)
        .width(Fill)
        .style(container::bordered_box)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::container::{DirStore, decrypt_segment, verify};
    use iced_test::simulator;

    /// A real recording: the demo's (four people, a newcomer, a withdrawal, chat), and
    /// Alice's age identity.
    fn demo() -> (tempfile::TempDir, std::path::PathBuf, age::x25519::Identity) {
        let dir = tempfile::tempdir().unwrap();
        crate::cli::demo::run(crate::cli::demo::DemoArgs {
            dir: Some(dir.path().to_path_buf()),
        })
        .unwrap();
        let key = std::fs::read_to_string(dir.path().join("keys/alice.agekey")).unwrap();
        let id: age::x25519::Identity = key.trim().parse().unwrap();
        let rec = dir.path().join("recording");
        (dir, rec, id)
    }

    fn chat(report: &Report, rec: &std::path::Path, id: &age::x25519::Identity) -> Vec<u8> {
        let ds = DirStore::open(rec).unwrap();
        let mut out = Vec::new();
        for s in report
            .manifest
            .segments
            .iter()
            .filter(|s| s.track == Track::Chat)
        {
            out.extend_from_slice(&decrypt_segment(&ds, &report.manifest, s.index, id).unwrap());
        }
        out
    }

    /// The viewer of an intact recording: the verdict, who agreed in each epoch (named when
    /// known), how it ended, the chat; export asks first and warns.
    #[test]
    fn an_intact_recording_shows_its_evidence_and_chat() {
        let (_tmp, rec, id) = demo();
        let report = verify(&DirStore::open(&rec).unwrap()).unwrap();
        let recorder = report.manifest.recorder().unwrap();
        let known = BTreeMap::from([(recorder, "Alice".to_string())]);
        let names = Names {
            known: &known,
            me: None,
        };
        let text = chat(&report, &rec, &id);
        let o = opened(&report, rec.to_str().unwrap(), &names, Ok(text));
        assert!(o.intact);
        assert_eq!(o.recorder, "Alice");
        assert_eq!(o.epochs.len(), 2, "the newcomer extended the consent");
        assert_eq!(
            o.epochs.iter().map(|e| e.signed.len()).sum::<usize>(),
            4,
            "four signatures in all"
        );
        assert!(o.epochs[0].signed.iter().any(|s| s.who == "Alice"));
        let (_, how) = o.ended.clone().expect("it ended");
        assert!(
            how.starts_with("consent withdrawn by participant "),
            "{how}"
        );
        let lines = o.chat.clone().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].from, "Alice");
        assert_eq!(lines[1].text, "Go ahead.");

        let mut v = Viewer::new(o, TimeZone::UTC);
        {
            let mut ui = iced_test::Simulator::with_size(
                iced::Settings::default(),
                (1280.0, 2000.0),
                v.view(),
            );
            assert!(
                ui.find("✓ Intact: every consent signature and every segment verifies.")
                    .is_ok()
            );
            assert!(ui.find("Alice: Thanks, everyone. Recording now.").is_ok());
        }
        let messages: Vec<Message> = {
            let mut ui = iced_test::Simulator::with_size(
                iced::Settings::default(),
                (1280.0, 2000.0),
                v.view(),
            );
            ui.click("Export video…").unwrap();
            ui.into_messages().collect()
        };
        for m in messages {
            assert_eq!(v.update(m), None, "export asks first");
        }
        assert_eq!(v.confirm, Some(Track::Media));
        assert_eq!(
            v.update(Message::ConfirmExport),
            Some(Event::Export {
                dir: rec.to_string_lossy().into_owned(),
                track: Track::Media
            })
        );
        v.on_exported(Ok("/home/ada/Videos/Assent/Demo.mkv".into()));
        let mut ui = simulator(v.view());
        assert!(
            ui.find("Exported to /home/ada/Videos/Assent/Demo.mkv")
                .is_ok()
        );
    }

    /// A tampered recording says so, with the problems; a chat that cannot be decrypted says
    /// why instead of showing nothing.
    #[test]
    fn a_tampered_recording_is_not_intact() {
        let (_tmp, rec, _id) = demo();
        let seg = rec.join("segment-000001.age");
        let mut bytes = std::fs::read(&seg).unwrap();
        let n = bytes.len() / 2;
        bytes[n] ^= 0x40;
        std::fs::write(&seg, bytes).unwrap();
        let report = verify(&DirStore::open(&rec).unwrap()).unwrap();
        let known = BTreeMap::new();
        let names = Names {
            known: &known,
            me: None,
        };
        let o = opened(
            &report,
            rec.to_str().unwrap(),
            &names,
            Err("this device's keys do not open it".into()),
        );
        assert!(!o.intact);
        assert!(!o.problems.is_empty());
        let v = Viewer::new(o, TimeZone::UTC);
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 2000.0), v.view());
        assert!(
            ui.find("✗ Not intact: 1 problem(s) found. Do not rely on this recording.")
                .is_ok()
        );
        assert!(
            ui.find("The chat cannot be read: this device's keys do not open it")
                .is_ok()
        );
    }
}
