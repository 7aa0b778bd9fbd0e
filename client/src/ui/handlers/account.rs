//! Signing in, Home, scheduling and the settings.

use iced::Task;
use iced::widget::operation;

use super::super::nav::Screen;
use super::super::{App, Message, auth, home, io, schedule, settings};

impl App {
    pub(in crate::ui) fn on_auth(&mut self, msg: auth::Message) -> Task<Message> {
        use auth::{Event as E, Message as M};
        let Screen::Auth(form) = &mut self.screen else {
            return Task::none();
        };
        let dir = self.profile.clone();
        let task = match form.update(msg) {
            None => return Task::none(),
            Some(E::Focus(id)) => return operation::focus(id),
            Some(E::SignedIn(account)) => return self.enter_home(&account),
            Some(E::SignIn {
                server,
                email,
                password,
                totp,
            }) => Task::perform(io::sign_in(dir, server, email, password, totp), M::SignedIn),
            Some(E::SignUp {
                server,
                email,
                name,
                password,
            }) => Task::perform(io::sign_up(dir, server, email, name, password), M::SignedUp),
            Some(E::VerifyEmail { code }) => {
                Task::perform(io::verify_email(dir, code), M::Verified)
            }
            Some(E::ResendCode) => Task::perform(io::resend_code(dir), M::CodeSent),
            Some(E::StartRecovery { server, email }) => {
                Task::perform(io::start_recovery(server, email), M::RecoverySent)
            }
            Some(E::Recover {
                server,
                email,
                email_code,
                recovery_code,
                totp,
                password,
            }) => {
                let recovery = io::Recovery {
                    server,
                    email,
                    email_code,
                    recovery_code,
                    totp,
                    password,
                };
                Task::perform(io::recover(dir, recovery), M::SignedIn)
            }
            Some(E::RecoveryStored {
                server,
                email,
                password,
            }) => Task::perform(io::sign_in(dir, server, email, password, None), M::SignedIn),
        };
        task.map(Message::Auth)
    }

    pub(in crate::ui) fn on_home(&mut self, msg: home::Message) -> Task<Message> {
        use home::{Event as E, Message as M};
        let Screen::Home(home) = &mut self.screen else {
            return Task::none();
        };
        let dir = self.profile.clone();
        let task = match home.update(msg) {
            None => return Task::none(),
            Some(E::Schedule) => return self.open_schedule(),
            Some(E::Enter(card)) => return self.open_setup(card),
            Some(E::Recordings) => return self.open_recordings(),
            Some(E::Settings) => return self.open_settings(),
            Some(E::SignedOut) => return self.restart(),
            Some(E::NewMeeting) => Task::perform(io::new_meeting(dir), M::Meeting),
            Some(E::Join(code)) => Task::perform(io::find_meeting(dir, code), M::Meeting),
            Some(E::PersonalRoom) => Task::perform(io::personal_room(dir), M::Meeting),
            Some(E::SignOut) => Task::perform(io::sign_out(dir), M::SignedOut),
            Some(E::Copy(text)) => return iced::clipboard::write(text),
        };
        task.map(Message::Home)
    }

    /// What the home screen lists arrived: it is updated under whatever screen shows.
    pub(in crate::ui) fn on_overview(&mut self, result: Result<io::Overview, String>) {
        if let (Ok(o), Some(home)) = (result, self.screen.home_mut()) {
            home.update(home::Message::Overview(o));
        }
    }

    pub(in crate::ui) fn on_schedule(&mut self, msg: schedule::Message) -> Task<Message> {
        let Screen::Schedule { form, .. } = &mut self.screen else {
            return Task::none();
        };
        match form.update(msg) {
            None => Task::none(),
            Some(schedule::Event::Cancel) => {
                self.back_home();
                Task::none()
            }
            Some(schedule::Event::Schedule(request)) => Task::perform(
                io::schedule(self.profile.clone(), request),
                schedule::Message::Scheduled,
            )
            .map(Message::Schedule),
            Some(schedule::Event::Scheduled(card)) => {
                let task = self.back_home_refreshed();
                if let Screen::Home(home) = &mut self.screen {
                    home.update(home::Message::Meeting(Ok(card)));
                }
                task
            }
        }
    }

    pub(in crate::ui) fn on_settings(&mut self, msg: settings::Message) -> Task<Message> {
        use settings::{Event as E, Message as M, Section as S};
        let Screen::Settings { page, .. } = &mut self.screen else {
            return Task::none();
        };
        let dir = self.profile.clone();
        let done = |section: S| move |r| M::Done(section, r);
        let task = match page.update(msg) {
            None => return Task::none(),
            Some(E::Back) => {
                self.back_home();
                return Task::none();
            }
            Some(E::Deleted) => return self.restart(),
            Some(E::Reload) => Task::perform(io::settings(dir), M::Loaded),
            Some(E::ChangePassword { current, new }) => {
                Task::perform(io::change_password(dir, current, new), done(S::Password))
            }
            Some(E::EnrolTotp) => Task::perform(io::enrol_totp(dir), M::Enrolled),
            Some(E::ConfirmTotp(code)) => {
                Task::perform(io::confirm_totp(dir, code), done(S::TwoFactor))
            }
            Some(E::DisableTotp(code)) => {
                Task::perform(io::disable_totp(dir, code), done(S::TwoFactor))
            }
            Some(E::Revoke(id)) => Task::perform(io::revoke_session(dir, id), done(S::Sessions)),
            Some(E::DeleteAccount(password)) => {
                Task::perform(io::delete_account(dir, password), M::Deleted)
            }
            Some(E::Sounds(on)) => Task::perform(io::set_sounds(dir, on), done(S::Calls)),
            Some(E::VoiceProcessing(on)) => {
                Task::perform(io::set_voice_processing(dir, on), done(S::Calls))
            }
            Some(E::GainControl(on)) => {
                Task::perform(io::set_gain_control(dir, on), done(S::Calls))
            }
        };
        task.map(Message::Settings)
    }
}
