//! The recordings list and the viewer.

use iced::Task;
use iced::widget::operation;

use super::super::nav::Screen;
use super::super::{App, Message, io, recordings, viewer};

impl App {
    pub(in crate::ui) fn on_recordings(&mut self, msg: recordings::Message) -> Task<Message> {
        use recordings::{Event as E, Message as M};
        let Screen::Recordings { list, .. } = &mut self.screen else {
            return Task::none();
        };
        let dir = self.profile.clone();
        let edit = matches!(msg, M::EditTags(_));
        let task = match list.update(msg) {
            // The tags field opened: it takes the keyboard.
            None if edit => return operation::focus(recordings::TAGS),
            None => return Task::none(),
            Some(E::Back) => {
                self.back_home();
                return Task::none();
            }
            Some(E::Opened(opened)) => return self.open_viewer(*opened),
            Some(E::Refresh) => return self.load_recordings(),
            Some(E::Open { dir: recording, .. }) => {
                Task::perform(io::open_recording(dir, recording), |r| {
                    M::Opened(r.map(Box::new))
                })
            }
            Some(E::Upload(id)) => Task::perform(io::upload_recording(dir, id), M::Done),
            Some(E::Download(id)) => Task::perform(io::download_recording(dir, id), M::Done),
            Some(E::Delete { id, local, cloud }) => {
                Task::perform(io::delete_recording(dir, id, local, cloud), M::Done)
            }
            Some(E::SetTags { id, tags }) => Task::perform(io::set_tags(dir, id, tags), M::Done),
        };
        task.map(Message::Recordings)
    }

    pub(in crate::ui) fn on_viewer(&mut self, msg: viewer::Message) -> Task<Message> {
        let Screen::Viewer { viewer, .. } = &mut self.screen else {
            return Task::none();
        };
        match viewer.update(msg) {
            None => Task::none(),
            Some(viewer::Event::Export {
                dir: recording,
                track,
            }) => Task::perform(
                io::export_recording(self.profile.clone(), recording, track),
                viewer::Message::Exported,
            )
            .map(Message::Viewer),
            Some(viewer::Event::Back) => self.back_to_list(),
        }
    }
}
