//! Getting ready and the call: the setup and its preview, the room and the call's link.

use iced::Task;

use super::super::nav::Screen;
use super::super::{App, Message, home, io, room, setup};
use assent_engine::CallCommand as Command;

impl App {
    pub(in crate::ui) fn on_setup(&mut self, msg: setup::Message) -> Task<Message> {
        let Screen::Setup { setup, .. } = &mut self.screen else {
            return Task::none();
        };
        match setup.update(msg) {
            None => Task::none(),
            Some(setup::Event::Preview(sources)) => self.preview(sources),
            Some(setup::Event::Back) => {
                self.back_home();
                Task::none()
            }
            Some(setup::Event::Join(joining)) => self.join(joining),
        }
    }

    /// Into the room: its subscription starts the call (the preview is dropped with the
    /// setup: the call opens the devices).
    fn join(&mut self, joining: setup::Joining) -> Task<Message> {
        let Screen::Setup { home, .. } = std::mem::replace(&mut self.screen, Screen::Loading)
        else {
            return Task::none();
        };
        let card = &joining.card;
        let room = Box::new(room::Room::new(
            card.title.clone(),
            card.code.clone(),
            joining.initial,
        ));
        self.screen = Screen::Room {
            room,
            request: Box::new(io::CallRequest::new(self.profile.clone(), joining)),
            call: None,
            home,
        };
        Task::none()
    }

    /// Start previewing `sources` in the meeting setup (the preview shown until now is let go
    /// of first: the new one may need the same camera).
    fn preview(&mut self, sources: setup::Sources) -> Task<Message> {
        let Screen::Setup {
            preview,
            generation,
            ..
        } = &mut self.screen
        else {
            return Task::none();
        };
        *preview = None;
        *generation += 1;
        let n = *generation;
        Task::perform(io::start_preview(sources), move |r| {
            Message::PreviewStarted(n, r)
        })
    }

    /// A preview started (or could not): kept if it is the newest asked for. Otherwise a
    /// newer one was asked for (or the setup is over): this one is dropped here, letting go
    /// of its devices.
    pub(in crate::ui) fn on_preview(&mut self, n: u64, result: Result<io::PreviewLink, String>) {
        if let Screen::Setup {
            setup,
            preview,
            generation,
            ..
        } = &mut self.screen
            && n == *generation
        {
            match result {
                Ok(p) => *preview = Some(p),
                Err(e) => {
                    setup.update(setup::Message::PreviewFailed(e));
                }
            }
        }
    }

    /// The call started: the room keeps its link, and the meeting is asked for (who hosts).
    /// If it could not start: home, saying why.
    pub(in crate::ui) fn on_call_started(
        &mut self,
        result: Result<io::CallLink, String>,
    ) -> Task<Message> {
        let Screen::Room { call, room, .. } = &mut self.screen else {
            return Task::none();
        };
        match result {
            Ok(link) => {
                *call = Some(link);
                let info = io::meeting_info(self.profile.clone(), room.code().to_string());
                Task::perform(info, |m| Message::Room(room::Message::Meeting(m)))
            }
            Err(e) => {
                self.back_home();
                if let Screen::Home(home) = &mut self.screen {
                    home.update(home::Message::Meeting(Err(format!("Could not join: {e}"))));
                }
                Task::none()
            }
        }
    }

    pub(in crate::ui) fn on_room(&mut self, msg: room::Message) -> Task<Message> {
        let Screen::Room { room, call, .. } = &mut self.screen else {
            return Task::none();
        };
        let dir = self.profile.clone();
        let (event, link) = (room.update(msg), call.as_ref());
        let command = match event {
            None => return Task::none(),
            Some(room::Event::Leave) if room.ended().is_some() || link.is_none() => {
                return self.back_home_refreshed();
            }
            Some(room::Event::Host(action)) => {
                let code = room.code().to_string();
                let noted = |r: Result<(), String>| Message::Room(room::Message::Noted(r.err()));
                let info = io::meeting_info(dir.clone(), code.clone());
                return Task::perform(io::host_action(dir, code, action), noted).chain(
                    Task::perform(info, |m| Message::Room(room::Message::Meeting(m))),
                );
            }
            Some(room::Event::Chime(c)) => {
                return match link {
                    Some(link) => {
                        Task::perform(io::chime(dir, c, link.speaker.clone()), |_| Message::Idle)
                    }
                    None => Task::none(),
                };
            }
            Some(room::Event::Copy(text)) => return iced::clipboard::write(text),
            Some(room::Event::SetMedia(state)) => Command::SetMedia(state),
            Some(room::Event::Chat(text)) => Command::Chat(text),
            Some(room::Event::Leave) => Command::Leave,
            Some(room::Event::KeyCompared(peer)) => Command::AcceptKey(peer),
            Some(room::Event::MarkVerified(peer)) => Command::MarkVerified(peer),
            Some(room::Event::Record { title }) => Command::Record {
                title,
                scope: assent_shared::consent::Scope::LocalAndCloud,
                retention_days: 30,
            },
            Some(room::Event::Agree) => Command::AgreeRecording,
            Some(room::Event::Decline) => Command::DeclineRecording,
            Some(room::Event::Withdraw) => Command::WithdrawConsent,
        };
        if let Some(link) = link {
            link.handle.send(command);
        }
        Task::none()
    }

    /// Time to show the newest pictures: the preview's, the call's or the recording's.
    pub(in crate::ui) fn on_frame(&mut self) {
        match &mut self.screen {
            Screen::Setup {
                setup,
                preview: Some(p),
                ..
            } => setup.on_preview(&p.0),
            Screen::Room {
                room,
                call: Some(link),
                ..
            } => {
                let media = &link.handle.media;
                if room.on_frames(&media.frames(), &media.levels()) {
                    report_tiles(room);
                }
            }
            Screen::Viewer { viewer, .. } => viewer.on_frame(),
            _ => {}
        }
    }

    /// Ask the call for its statistics (connection quality).
    pub(in crate::ui) fn ask_stats(&self) -> Task<Message> {
        let Screen::Room {
            call: Some(link), ..
        } = &self.screen
        else {
            return Task::none();
        };
        let handle = link.handle.clone();
        Task::perform(async move { handle.stats().await }, |stats| match stats {
            Some(s) => Message::Room(room::Message::Stats(std::sync::Arc::new(s))),
            None => Message::Idle,
        })
    }
}

/// With `ASSENT_TILE_REPORT` set (the window benchmark), the frame rate each tile showed over
/// the last second and its size, written to that file as JSON once a second.
fn report_tiles(room: &room::Room) {
    let Some(path) = std::env::var_os("ASSENT_TILE_REPORT") else {
        return;
    };
    let tiles: Vec<serde_json::Value> = room
        .tile_rates()
        .into_iter()
        .map(|(name, fps, view)| {
            serde_json::json!({"name": name, "fps": fps, "width": view.width, "height": view.height})
        })
        .collect();
    let json = serde_json::Value::Array(tiles).to_string();
    // Written aside and renamed, so that a reader never sees half of it.
    let aside = std::path::PathBuf::from(&path).with_extension("part");
    if std::fs::write(&aside, json).is_ok() {
        let _ = std::fs::rename(&aside, &path);
    }
}
