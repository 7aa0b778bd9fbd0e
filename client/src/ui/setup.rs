//! Getting ready to join: your own picture, a level meter for the microphone, the camera,
//! microphone and speaker to use, and whether to join muted or with the camera off.

use assent_engine::Kind;
use assent_engine::Preview;
use assent_engine::level;
use assent_shared::call::MediaState;
use iced::widget::{button, column, container, image, pick_list, progress_bar, row, space, text};
use iced::{Center, Element, Fill};

use super::home::MeetingCard;
use super::theme;

/// What the pickers offer: the engine's catalogue of devices.
pub use assent_engine::{Choice, Chosen, Devices};

/// What the preview should capture (specs; `None`: off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub video: Option<String>,
    pub audio: Option<String>,
}

/// How to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joining {
    pub card: MeetingCard,
    /// Source specs; `None` when there is no such device.
    pub video: Option<String>,
    pub audio: Option<String>,
    /// A speaker's sound server name; `None`: the system default.
    pub speaker: Option<String>,
    /// Microphone and camera on or off at the start.
    pub initial: MediaState,
}

#[derive(Debug, Clone)]
pub enum Message {
    Camera(Choice),
    Microphone(Choice),
    Speaker(Choice),
    ToggleCamera(bool),
    ToggleMic(bool),
    Join,
    Back,
    // The answers to what the app asked for.
    /// The devices, or why they could not be listed.
    Devices(Result<Devices, String>),
    /// The preview could not start at all.
    PreviewFailed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Show this instead of what the preview shows now.
    Preview(Sources),
    Join(Joining),
    Back,
}

#[derive(Debug)]
pub struct Setup {
    card: MeetingCard,
    /// `None` while the devices are being listed.
    devices: Option<Devices>,
    camera: Option<Choice>,
    microphone: Option<Choice>,
    speaker: Option<Choice>,
    camera_on: bool,
    mic_on: bool,
    frame: Option<(u64, image::Handle)>,
    level_db: f32,
    problems: Vec<(Kind, String)>,
    /// Join was asked for before the devices were known: join once they are.
    join_pending: bool,
}

impl Setup {
    pub fn new(card: MeetingCard) -> Setup {
        Setup {
            card,
            devices: None,
            camera: None,
            microphone: None,
            speaker: None,
            camera_on: true,
            mic_on: true,
            frame: None,
            level_db: level::FLOOR_DB,
            problems: Vec::new(),
            join_pending: false,
        }
    }

    pub fn title(&self) -> &str {
        &self.card.title
    }

    pub fn mic_on(&self) -> bool {
        self.mic_on
    }

    pub fn camera_on(&self) -> bool {
        self.camera_on
    }

    /// The devices are listed: the ones chosen last time if they are still there, else the
    /// first of each. Then the preview starts, or, if Join was pressed already, the call.
    fn on_devices(&mut self, devices: Devices) -> Event {
        let pick = |list: &[Choice], last: &Option<String>| {
            last.as_ref()
                .and_then(|spec| list.iter().find(|c| &c.spec == spec))
                .or(list.first())
                .cloned()
        };
        self.camera = pick(&devices.cameras, &devices.last.camera);
        self.microphone = pick(&devices.microphones, &devices.last.microphone);
        self.speaker = pick(&devices.speakers, &devices.last.speaker);
        self.devices = Some(devices);
        match self.join_pending {
            true => self.join(),
            false => Event::Preview(self.sources()),
        }
    }

    /// The devices could not be listed: join with none.
    fn on_devices_failed(&mut self, why: String) -> Option<Event> {
        self.devices = Some(Devices::default());
        self.problems = vec![(Kind::Video, why)];
        self.join_pending.then(|| self.join())
    }

    fn join(&self) -> Event {
        Event::Join(Joining {
            card: self.card.clone(),
            video: self.camera.as_ref().map(|c| c.spec.clone()),
            audio: self.microphone.as_ref().map(|c| c.spec.clone()),
            speaker: self
                .speaker
                .as_ref()
                .filter(|s| !s.spec.is_empty())
                .map(|s| s.spec.clone()),
            initial: MediaState {
                audio: self.mic_on,
                video: self.camera_on,
                screen: false,
                hand: false,
            },
        })
    }

    /// What the preview shows now: its newest picture, the level, what went wrong.
    pub fn on_preview(&mut self, preview: &Preview) {
        if let Some(f) = preview.frame()
            && self.frame.as_ref().is_none_or(|(seq, _)| *seq != f.seq)
        {
            self.frame = Some((f.seq, super::video::picture(f.width, f.height, f.rgba)));
        }
        self.level_db = preview.level_db();
        self.problems = preview.problems();
    }

    /// The preview could not start at all.
    fn on_preview_failed(&mut self, why: String) {
        self.problems = vec![(Kind::Video, why)];
    }

    /// The microphone's level as the meter shows it (0 to 1).
    pub fn meter(&self) -> f32 {
        if self.mic_on {
            level::meter(self.level_db)
        } else {
            0.0
        }
    }

    fn sources(&self) -> Sources {
        Sources {
            video: self
                .camera
                .as_ref()
                .filter(|_| self.camera_on)
                .map(|c| c.spec.clone()),
            audio: self
                .microphone
                .as_ref()
                .filter(|_| self.mic_on)
                .map(|c| c.spec.clone()),
        }
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Devices(Ok(devices)) => return Some(self.on_devices(devices)),
            Message::Devices(Err(why)) => return self.on_devices_failed(why),
            Message::PreviewFailed(why) => {
                self.on_preview_failed(why);
                return None;
            }
            Message::Camera(c) => {
                self.camera = Some(c);
                self.frame = None;
            }
            Message::Microphone(c) => self.microphone = Some(c),
            Message::Speaker(c) => {
                self.speaker = Some(c);
                return None;
            }
            Message::ToggleCamera(on) => {
                self.camera_on = on;
                if !on {
                    self.frame = None;
                }
            }
            Message::ToggleMic(on) => self.mic_on = on,
            Message::Join => {
                if self.devices.is_none() {
                    // Still listing the devices: join as soon as they are known.
                    self.join_pending = true;
                    return None;
                }
                return Some(self.join());
            }
            Message::Back => return Some(Event::Back),
        }
        self.problems.clear();
        Some(Event::Preview(self.sources()))
    }

    pub fn view(&self) -> Element<'_, Message> {
        let header = column![
            text(self.card.title.as_str()).size(theme::size::HEADING),
            text(format!(
                "{} · Check how you look and sound before you join.",
                self.card.code
            ))
            .size(13)
            .style(theme::muted),
        ]
        .spacing(2);
        column![
            header,
            row![self.picture(), self.side()].spacing(16).height(Fill),
            self.actions()
        ]
        .spacing(16)
        .padding(24)
        .into()
    }

    /// What went wrong with a kind of device, if anything.
    fn problem(&self, kind: Kind) -> Option<&str> {
        self.problems
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, why)| why.as_str())
    }

    /// The camera's picture, or what stands in for it.
    fn picture(&self) -> Element<'_, Message> {
        let picture: Element<'_, Message> = match (&self.frame, self.camera_on) {
            _ if self.devices.is_none() => centered("Looking for your camera and microphone…"),
            (_, false) => centered("Your camera is off"),
            _ if self.camera.is_none() => centered("No camera found"),
            _ if self.problem(Kind::Video).is_some() => centered("The camera is not available"),
            (Some((_, h)), true) => image(h.clone()).width(Fill).height(Fill).into(),
            (None, true) => centered("Starting the camera…"),
        };
        container(picture)
            .width(Fill)
            .height(Fill)
            .style(container::bordered_box)
            .into()
    }

    /// A device list with its label. No list while there is nothing to choose from (nor a
    /// placeholder: the software renderer left it showing through the first choice drawn over
    /// it).
    fn picker(
        &self,
        label: &'static str,
        options: Vec<Choice>,
        chosen: &Option<Choice>,
        none: &'static str,
        on: fn(Choice) -> Message,
    ) -> Element<'_, Message> {
        let list: Element<'_, Message> = if self.devices.is_none() {
            text("Looking…").into()
        } else if options.is_empty() {
            text(none).into()
        } else {
            pick_list(options, chosen.clone(), on).width(Fill).into()
        };
        column![text(label).size(13).style(theme::muted), list]
            .spacing(4)
            .into()
    }

    /// What went wrong with a device, under its controls.
    fn trouble(&self, kind: Kind, device: &str) -> Option<Element<'_, Message>> {
        self.problem(kind).map(|why| {
            text(format!("{device}: {why}"))
                .size(13)
                .style(text::danger)
                .into()
        })
    }

    /// The devices: camera, microphone (with its level) and speaker, each with its switch.
    fn side(&self) -> Element<'_, Message> {
        let devices = self.devices.clone().unwrap_or_default();
        let camera_switch = switch(
            if self.camera_on {
                "Camera off"
            } else {
                "Camera on"
            },
            self.camera
                .is_some()
                .then_some(Message::ToggleCamera(!self.camera_on)),
        );
        let level = row![
            text("Level").size(13).style(theme::muted),
            progress_bar(0.0..=1.0, self.meter()).girth(8),
        ]
        .spacing(8)
        .align_y(Center);
        let mic_switch = switch(
            if self.mic_on { "Mute" } else { "Unmute" },
            self.microphone
                .is_some()
                .then_some(Message::ToggleMic(!self.mic_on)),
        );
        column![
            self.picker(
                "Camera",
                devices.cameras.clone(),
                &self.camera,
                "No camera found",
                Message::Camera
            ),
            camera_switch,
            self.trouble(Kind::Video, "Camera"),
            self.picker(
                "Microphone",
                devices.microphones.clone(),
                &self.microphone,
                "No microphone found",
                Message::Microphone,
            ),
            level,
            mic_switch,
            self.trouble(Kind::Audio, "Microphone"),
            self.picker(
                "Speaker",
                devices.speakers.clone(),
                &self.speaker,
                "System default",
                Message::Speaker,
            ),
        ]
        .spacing(10)
        .width(320)
        .into()
    }

    /// Back, how you will join, Join.
    fn actions(&self) -> Element<'_, Message> {
        let joining = match (self.mic_on, self.camera_on && self.camera.is_some()) {
            (true, true) => "You will join with your microphone and camera on.",
            (false, true) => "You will join muted, with your camera on.",
            (true, false) => "You will join with your camera off.",
            (false, false) => "You will join muted, with your camera off.",
        };
        row![
            button(text("Back"))
                .padding([8, 16])
                .style(theme::button::secondary)
                .on_press(Message::Back),
            text(joining).size(13).style(theme::muted),
            space::horizontal(),
            button(text("Join"))
                .padding([8, 20])
                .style(theme::button::primary)
                .on_press_maybe((!self.join_pending).then_some(Message::Join)),
        ]
        .spacing(12)
        .align_y(Center)
        .into()
    }
}

/// A device's on/off button (inactive without the device).
fn switch(label: &str, message: Option<Message>) -> Element<'_, Message> {
    button(text(label))
        .padding([6, 14])
        .style(theme::button::secondary)
        .on_press_maybe(message)
        .into()
}

fn centered(what: &str) -> Element<'_, Message> {
    container(text(what).size(18).style(theme::muted))
        .center(Fill)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    fn card() -> MeetingCard {
        MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Standup".into(),
            created: false,
        }
    }

    fn choice(label: &str, spec: &str) -> Choice {
        Choice {
            label: label.into(),
            spec: spec.into(),
        }
    }

    fn devices() -> Devices {
        Devices {
            cameras: vec![
                choice("Integrated Camera", "camera:/dev/video0"),
                choice("USB Camera", "camera:/dev/video2"),
            ],
            microphones: vec![choice("Built-in Audio", "mic:alsa_input.pci")],
            speakers: vec![
                choice("System default", ""),
                choice("Headset", "alsa_output.usb"),
            ],
            last: Chosen::default(),
        }
    }

    fn click(setup: &mut Setup, label: &str) -> Vec<Event> {
        let mut ui = simulator(setup.view());
        ui.click(label).expect("the control is on screen");
        let messages: Vec<Message> = ui.into_messages().collect();
        messages
            .into_iter()
            .filter_map(|m| setup.update(m))
            .collect()
    }

    fn shows(setup: &Setup, s: &str) -> bool {
        simulator(setup.view()).find(s).is_ok()
    }

    #[test]
    fn the_first_devices_are_previewed_and_joined_with() {
        let mut setup = Setup::new(card());
        assert!(shows(&setup, "Looking for your camera and microphone…"));
        let sources = setup.on_devices(devices());
        assert_eq!(
            sources,
            Event::Preview(Sources {
                video: Some("camera:/dev/video0".into()),
                audio: Some("mic:alsa_input.pci".into()),
            })
        );
        assert!(shows(&setup, "Starting the camera…"));
        assert_eq!(setup.camera.as_ref().unwrap().label, "Integrated Camera");
        assert!(shows(
            &setup,
            "You will join with your microphone and camera on."
        ));
        assert_eq!(
            click(&mut setup, "Join"),
            [Event::Join(Joining {
                card: card(),
                video: Some("camera:/dev/video0".into()),
                audio: Some("mic:alsa_input.pci".into()),
                speaker: None,
                initial: MediaState {
                    audio: true,
                    video: true,
                    screen: false,
                    hand: false,
                },
            })]
        );
    }

    /// The devices chosen last time are chosen again when they are still there.
    #[test]
    fn the_last_choice_is_remembered() {
        let mut setup = Setup::new(card());
        let mut d = devices();
        d.last = Chosen {
            camera: Some("camera:/dev/video2".into()),
            microphone: Some("mic:unplugged".into()),
            speaker: Some("alsa_output.usb".into()),
        };
        let Event::Preview(sources) = setup.on_devices(d) else {
            panic!("a preview")
        };
        assert_eq!(sources.video.as_deref(), Some("camera:/dev/video2"));
        // The microphone is gone: the first one instead.
        assert_eq!(sources.audio.as_deref(), Some("mic:alsa_input.pci"));
        let Some(Event::Join(j)) = setup.update(Message::Join) else {
            panic!("a join")
        };
        assert_eq!(j.speaker.as_deref(), Some("alsa_output.usb"));
    }

    /// Join pressed before the devices are known: the call starts as soon as they are.
    #[test]
    fn an_early_join_waits_for_the_devices() {
        let mut setup = Setup::new(card());
        assert!(click(&mut setup, "Join").is_empty());
        let Event::Join(j) = setup.on_devices(devices()) else {
            panic!("no join");
        };
        assert_eq!(j.video.as_deref(), Some("camera:/dev/video0"));
        let mut failed = Setup::new(card());
        assert!(click(&mut failed, "Join").is_empty());
        let Some(Event::Join(j)) = failed.on_devices_failed("no device monitor".into()) else {
            panic!("no join");
        };
        assert_eq!((j.video, j.audio), (None, None));
    }

    #[test]
    fn choosing_devices_and_joining_muted_with_the_camera_off() {
        let mut setup = Setup::new(card());
        setup.on_devices(devices());
        // Another camera: the preview changes to it.
        assert_eq!(
            setup.update(Message::Camera(choice("USB Camera", "camera:/dev/video2"))),
            Some(Event::Preview(Sources {
                video: Some("camera:/dev/video2".into()),
                audio: Some("mic:alsa_input.pci".into()),
            }))
        );
        // Another speaker: nothing to preview again.
        assert_eq!(
            setup.update(Message::Speaker(choice("Headset", "alsa_output.usb"))),
            None
        );
        // Mute and camera off, by their switches: the preview lets go of both.
        assert_eq!(
            click(&mut setup, "Mute"),
            [Event::Preview(Sources {
                video: Some("camera:/dev/video2".into()),
                audio: None,
            })]
        );
        assert_eq!(
            click(&mut setup, "Camera off"),
            [Event::Preview(Sources {
                video: None,
                audio: None,
            })]
        );
        assert!(shows(&setup, "Your camera is off"));
        assert!(shows(&setup, "Unmute") && shows(&setup, "Camera on"));
        assert!(shows(&setup, "You will join muted, with your camera off."));
        assert_eq!(setup.meter(), 0.0);
        let Some(Event::Join(j)) = click(&mut setup, "Join").pop() else {
            panic!("no join");
        };
        assert_eq!(j.video.as_deref(), Some("camera:/dev/video2"));
        assert_eq!(j.speaker.as_deref(), Some("alsa_output.usb"));
        assert!(!j.initial.audio && !j.initial.video);
        assert_eq!(click(&mut setup, "Back"), [Event::Back]);
    }

    #[test]
    fn no_devices_joins_without_them() {
        let mut setup = Setup::new(card());
        setup.on_devices(Devices {
            speakers: vec![choice("System default", "")],
            ..Devices::default()
        });
        assert!(shows(&setup, "No camera found"));
        assert!(shows(&setup, "You will join with your camera off."));
        let Some(Event::Join(j)) = click(&mut setup, "Join").pop() else {
            panic!("no join");
        };
        assert_eq!((j.video, j.audio, j.speaker), (None, None, None));
    }

    /// The preview's picture, level and problems reach the screen.
    #[test]
    fn the_preview_shows_the_picture_the_level_and_what_failed() {
        use assent_engine::{FileSource, TestAudio, TestVideo};
        let mut setup = Setup::new(card());
        setup.on_devices(devices());
        let preview = Preview::start(Some(&TestVideo::default()), Some(&TestAudio::default()))
            .expect("a preview");
        let wait = std::time::Duration::from_secs(20);
        preview.wait_for_picture(0, wait).expect("a picture");
        preview.wait_for_level(-40.0, wait).expect("a level");
        setup.on_preview(&preview);
        assert!(setup.frame.is_some());
        assert!(setup.meter() > 0.3, "{}", setup.meter());
        assert!(!shows(&setup, "Starting the camera…"));
        drop(preview);
        let broken = FileSource {
            path: "/nonexistent/camera.webm".into(),
            kind: Kind::Video,
        };
        let preview = Preview::start(Some(&broken), None).expect("a preview");
        setup.on_preview(&preview);
        assert!(shows(&setup, "The camera is not available"));
        assert!(shows(
            &setup,
            "Camera: media source: no such file: /nonexistent/camera.webm"
        ));
    }
}
