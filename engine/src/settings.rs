//! The profile's settings on this device that the app changes directly: sounds in calls, voice
//! processing and the devices chosen last. (The account, pins and recordings have their own flows.)

use std::path::Path;

use crate::store::{Store, StoreError};

/// The profile's setting for sounds in calls ("off" turns them off).
const SOUNDS: &str = "call.sounds";
/// Echo cancellation and noise suppression on the microphone ("off" turns them off).
const VOICE_PROCESSING: &str = "call.voice_processing";
/// Automatic gain control on the microphone ("on" turns it on; it lets echo through).
const GAIN_CONTROL: &str = "call.gain_control";

/// A profile's device settings, opened without its account or keys.
pub struct Settings {
    store: Store,
}

impl Settings {
    /// The settings of the profile in `profile_dir` (blocking: it opens the profile's store).
    pub fn open(profile_dir: &Path) -> Result<Settings, StoreError> {
        Ok(Settings {
            store: Store::open(&profile_dir.join("profile.db"))?,
        })
    }

    /// Whether calls play sounds (on unless turned off).
    pub fn sounds(&self) -> bool {
        self.store.setting(SOUNDS).ok().flatten().as_deref() != Some("off")
    }

    pub fn set_sounds(&self, on: bool) -> Result<(), StoreError> {
        self.store
            .set_setting(SOUNDS, if on { "on" } else { "off" })
    }

    /// Whether the microphone is cleaned up (echo, noise): on unless turned off.
    pub fn voice_processing(&self) -> bool {
        self.store
            .setting(VOICE_PROCESSING)
            .ok()
            .flatten()
            .as_deref()
            != Some("off")
    }

    pub fn set_voice_processing(&self, on: bool) -> Result<(), StoreError> {
        self.store
            .set_setting(VOICE_PROCESSING, if on { "on" } else { "off" })
    }

    /// Whether the microphone's level is raised automatically: off unless turned on (for a
    /// headset; with speakers it lets echo through).
    pub fn gain_control(&self) -> bool {
        self.store.setting(GAIN_CONTROL).ok().flatten().as_deref() == Some("on")
    }

    pub fn set_gain_control(&self, on: bool) -> Result<(), StoreError> {
        self.store
            .set_setting(GAIN_CONTROL, if on { "on" } else { "off" })
    }

    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.store.setting(key).ok().flatten()
    }

    pub(crate) fn set(&self, key: &str, value: &str) {
        let _ = self.store.set_setting(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sounds are on by default, and the choice is kept in the profile.
    #[test]
    fn sounds_are_on_until_turned_off_and_the_choice_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Settings::open(dir.path()).unwrap().sounds());
        Settings::open(dir.path())
            .unwrap()
            .set_sounds(false)
            .unwrap();
        assert!(!Settings::open(dir.path()).unwrap().sounds());
        Settings::open(dir.path())
            .unwrap()
            .set_sounds(true)
            .unwrap();
        assert!(Settings::open(dir.path()).unwrap().sounds());
    }

    /// Voice processing is on by default, and turning it off is kept in the profile.
    #[test]
    fn voice_processing_is_on_until_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let settings = || Settings::open(dir.path()).unwrap();
        assert!(settings().voice_processing());
        settings().set_voice_processing(false).unwrap();
        assert!(!settings().voice_processing());
        assert!(settings().sounds(), "a setting of its own");
        settings().set_voice_processing(true).unwrap();
        assert!(settings().voice_processing());
    }

    /// Gain control is off by default (it lets echo through), and turning it on is kept.
    #[test]
    fn gain_control_is_off_until_turned_on() {
        let dir = tempfile::tempdir().unwrap();
        let settings = || Settings::open(dir.path()).unwrap();
        assert!(!settings().gain_control());
        settings().set_gain_control(true).unwrap();
        assert!(settings().gain_control());
        assert!(settings().voice_processing(), "a setting of its own");
        settings().set_gain_control(false).unwrap();
        assert!(!settings().gain_control());
    }
}
