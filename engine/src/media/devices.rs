//! Cameras, microphones and speakers, as the device pickers list them (cameras from nokhwa,
//! Video4Linux; microphones and speakers from cpal: PulseAudio or
//! PipeWire's PulseAudio service, ALSA where there is no sound server).

use serde::Serialize;

/// What a device is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

/// One device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    pub kind: DeviceKind,
    /// What the user sees.
    pub name: String,
    /// What `--video camera:…` / `--audio mic:…` take (the device path or sound server name),
    /// when the device has one.
    pub id: Option<String>,
}

/// Every camera, microphone and speaker present now: cameras from nokhwa (Video4Linux),
/// microphones and speakers from cpal (the sound server's sources and sinks).
pub fn list() -> super::Result<Vec<Device>> {
    super::init()?;
    let mut out = cameras();
    out.extend(sound_devices());
    Ok(out)
}

/// Cameras as nokhwa sees them (Video4Linux), the system's first one first.
fn cameras() -> Vec<Device> {
    super::webcam::list()
        .into_iter()
        .map(|(id, name)| Device {
            kind: DeviceKind::Camera,
            name,
            id: Some(id),
        })
        .collect()
}

/// Whether the camera `id` (a device path) is there now; `None`: whether any camera is.
pub(crate) fn camera_present(id: Option<&str>) -> bool {
    super::webcam::present(id)
}

/// Microphones and speakers as cpal sees them. Their ids are the sound server's names, which
/// the microphone (cpal) and the speaker (`pulsesink`) both open; without a sound server
/// (ALSA alone) a speaker has no such name and only the default reaches it.
fn sound_devices() -> Vec<Device> {
    use cpal::traits::{DeviceTrait, HostTrait};
    let host = cpal::default_host();
    let sound_server = host.id() == cpal::HostId::PulseAudio;
    let mut out = Vec::new();
    for (kind, found) in [
        (DeviceKind::Microphone, host.input_devices()),
        (DeviceKind::Speaker, host.output_devices()),
    ] {
        let Ok(found) = found else { continue };
        for d in found {
            let id = d.id().ok().map(|i| i.id().to_string());
            // ALSA alone lists its plugins too (rate converters, JACK, OSS…): only the cards,
            // once each, and the default.
            if !sound_server
                && !id
                    .as_deref()
                    .is_some_and(|i| i == "default" || i.starts_with("sysdefault:CARD="))
            {
                continue;
            }
            let Some(name) = d
                .description()
                .ok()
                .map(|x| x.name().to_string())
                .or(id.clone())
            else {
                continue;
            };
            let id = match kind {
                DeviceKind::Speaker if !sound_server => None,
                _ => id,
            };
            out.push(Device { kind, name, id });
        }
    }
    out
}

/// A device offered for a call: what the user sees, and the source spec the engine takes
/// (`camera:/dev/video0`, `mic:NAME`, a speaker's sound server name; empty for the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub label: String,
    pub spec: String,
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// Devices chosen, by spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
}

/// What a call can use: first, when set, the sources of `ASSENT_VIDEO` / `ASSENT_AUDIO` (the
/// command line's source specs, e.g. `test` or `file:PATH`: a machine without a camera can
/// still show a picture), then the cameras, microphones and speakers present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    pub cameras: Vec<Choice>,
    pub microphones: Vec<Choice>,
    /// The first is the system's default output.
    pub speakers: Vec<Choice>,
    /// What was chosen the last time (chosen again if it is still there).
    pub last: Chosen,
}

/// Why the devices cannot be offered.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    #[error("{var}: {source}")]
    Setting {
        var: &'static str,
        source: super::source::SourceError,
    },
    #[error("cannot list the devices: {0}")]
    List(#[from] super::MediaError),
}

/// The profile's settings for the devices chosen last.
const CAMERA: &str = "device.camera";
const MICROPHONE: &str = "device.microphone";
const SPEAKER: &str = "device.speaker";

impl Devices {
    /// The devices now, with the ones chosen last in this profile (blocking: it asks the
    /// device monitor).
    pub fn list(profile: Option<&crate::settings::Settings>) -> Result<Devices, DevicesError> {
        let found = list()?;
        let mut out = Devices::default();
        if let Some(settings) = profile {
            let get = |key: &str| settings.get(key);
            out.last = Chosen {
                camera: get(CAMERA),
                microphone: get(MICROPHONE),
                speaker: get(SPEAKER),
            };
        }
        for (var, kind, list) in [
            ("ASSENT_VIDEO", super::Kind::Video, &mut out.cameras),
            ("ASSENT_AUDIO", super::Kind::Audio, &mut out.microphones),
        ] {
            if let Ok(spec) = std::env::var(var)
                && let Some(src) = super::source::parse(kind, &spec)
                    .map_err(|source| DevicesError::Setting { var, source })?
            {
                list.push(Choice {
                    label: src.describe(),
                    spec,
                });
            }
        }
        out.speakers.push(Choice {
            label: "System default".into(),
            spec: String::new(),
        });
        out.add(found);
        Ok(out)
    }

    fn add(&mut self, found: Vec<Device>) {
        for d in found {
            let (list, prefix) = match d.kind {
                DeviceKind::Camera => (&mut self.cameras, "camera"),
                DeviceKind::Microphone => (&mut self.microphones, "mic"),
                DeviceKind::Speaker => (&mut self.speakers, ""),
            };
            let spec = match (prefix, d.id) {
                ("", Some(id)) => id,
                // A speaker the sound server cannot name: only the default reaches it.
                ("", None) => continue,
                (p, Some(id)) => format!("{p}:{id}"),
                (p, None) => p.to_string(),
            };
            list.push(Choice {
                label: d.name,
                spec,
            });
        }
    }

    /// Keep the devices of a call for the next one (`None` for a speaker: the system default,
    /// remembered as such).
    pub fn remember(settings: &crate::settings::Settings, chosen: &Chosen) {
        for (key, spec) in [
            (CAMERA, &chosen.camera),
            (MICROPHONE, &chosen.microphone),
            (SPEAKER, &Some(chosen.speaker.clone().unwrap_or_default())),
        ] {
            if let Some(spec) = spec {
                settings.set(key, spec);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn listing_works_without_devices() {
        // A build machine has no camera or microphone: the list may be empty, but listing works.
        let devices = super::list().unwrap();
        assert!(devices.iter().all(|d| !d.name.is_empty()));
    }

    /// Devices become choices with the spec the sources take; a speaker without a sound
    /// server name is left out (only the default reaches it).
    #[test]
    fn devices_become_choices() {
        use super::*;
        let mut d = Devices::default();
        let dev = |kind, name: &str, id: Option<&str>| Device {
            kind,
            name: name.into(),
            id: id.map(str::to_string),
        };
        d.add(vec![
            dev(DeviceKind::Camera, "Webcam", Some("/dev/video0")),
            dev(DeviceKind::Microphone, "Mic", None),
            dev(DeviceKind::Speaker, "Speakers", Some("alsa_output.pci")),
            dev(DeviceKind::Speaker, "Nameless", None),
        ]);
        let specs = |l: &[Choice]| l.iter().map(|c| c.spec.clone()).collect::<Vec<_>>();
        assert_eq!(specs(&d.cameras), ["camera:/dev/video0"]);
        assert_eq!(specs(&d.microphones), ["mic"]);
        assert_eq!(specs(&d.speakers), ["alsa_output.pci"]);
    }

    /// What was chosen is offered again next time; the default speaker is kept as such.
    #[test]
    fn the_last_choice_is_remembered() {
        use super::*;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::settings::Settings::open(dir.path()).unwrap();
        let chosen = Chosen {
            camera: Some("test".into()),
            microphone: None,
            speaker: None,
        };
        Devices::remember(&store, &chosen);
        let d = Devices::list(Some(&store)).unwrap();
        assert_eq!(
            d.last,
            Chosen {
                camera: Some("test".into()),
                microphone: None,
                speaker: Some(String::new()),
            }
        );
        assert_eq!(d.speakers[0].label, "System default");
    }
}
