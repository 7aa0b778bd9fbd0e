//! Sharing the screen where the desktop must grant it first (Wayland's portal, see
//! `media/portal.rs`): while the desktop asks the user, the call goes on, and every other
//! switch (mute, camera, hand) applies at once; the screen follows once granted, if it is still
//! wanted then.

use assent_shared::call::MediaState;

/// The question to the desktop, while it is open.
#[derive(Debug, Default)]
pub(super) struct ScreenAsk {
    asking: bool,
    /// What the user asked for last while the desktop was asking.
    latest: Option<MediaState>,
}

impl ScreenAsk {
    /// The user asks for `wanted`. Returns what the call applies now, and whether to ask the
    /// desktop (`granted`: a screen is already held; `needed`: the desktop must grant it).
    pub(super) fn request(
        &mut self,
        wanted: MediaState,
        granted: bool,
        needed: bool,
    ) -> (MediaState, bool) {
        let waiting = MediaState {
            screen: false,
            ..wanted
        };
        if self.asking {
            self.latest = Some(wanted);
            return (waiting, false);
        }
        if needed && wanted.screen && !granted {
            self.asking = true;
            self.latest = Some(wanted);
            return (waiting, true);
        }
        (wanted, false)
    }

    /// The desktop answered (`granted`): what to apply now with the grant, if the screen is
    /// still wanted (`None`: give the grant back, or there is none).
    pub(super) fn answered(&mut self, granted: bool) -> Option<MediaState> {
        self.asking = false;
        let latest = self.latest.take()?;
        (granted && latest.screen).then_some(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(audio: bool, screen: bool) -> MediaState {
        MediaState {
            audio,
            video: true,
            screen,
            hand: false,
        }
    }

    #[test]
    fn the_screen_waits_for_the_desktop_and_the_rest_applies_at_once() {
        let mut ask = ScreenAsk::default();
        // Without a portal (X11) or with a screen held, it applies as asked.
        assert_eq!(
            ask.request(state(true, true), false, false),
            (state(true, true), false)
        );
        assert_eq!(
            ask.request(state(true, true), true, true),
            (state(true, true), false)
        );
        // Asked of the desktop once; the microphone switch meanwhile applies, the screen waits.
        assert_eq!(
            ask.request(state(true, true), false, true),
            (state(true, false), true)
        );
        assert_eq!(
            ask.request(state(false, true), false, true),
            (state(false, false), false)
        );
        // Granted: the latest wish, screen and all.
        assert_eq!(ask.answered(true), Some(state(false, true)));
        assert_eq!(ask.answered(true), None);
    }

    #[test]
    fn a_refusal_or_a_change_of_mind_shares_nothing() {
        let mut ask = ScreenAsk::default();
        assert!(ask.request(state(true, true), false, true).1);
        assert_eq!(ask.answered(false), None);
        // Asked, then turned off before the desktop answered: the grant is given back.
        assert!(ask.request(state(true, true), false, true).1);
        assert_eq!(
            ask.request(state(true, false), false, true),
            (state(true, false), false)
        );
        assert_eq!(ask.answered(true), None);
        // And a new question can be asked.
        assert!(ask.request(state(true, true), false, true).1);
    }
}
