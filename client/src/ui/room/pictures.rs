//! The pictures a call shows: each person's latest frame, the size the stage lays each one out
//! at (told to the engine, which crops and scales to it so the window copies a picture without
//! filtering it), and how many pictures a second each tile shows.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use assent_engine::{Frame, FrameSlots, Source, View};
use iced::Size;
use iced::widget::image;

/// A person's latest picture.
#[derive(Debug, Clone)]
pub(super) struct Picture {
    pub seq: u64,
    pub handle: image::Handle,
    /// Its size.
    pub size: (u32, u32),
    /// Its size as it arrived, before the engine fitted it to the tile.
    pub natural: (u32, u32),
}

impl Picture {
    pub fn of(f: Frame) -> Picture {
        Picture {
            seq: f.seq,
            handle: super::super::video::picture(f.width, f.height, f.rgba),
            size: (f.width, f.height),
            natural: f.natural,
        }
    }
}

/// What a `natural`-sized picture becomes in a tile of `size` (logical pixels, at the window's
/// scale of one): a camera fills it (cropped to its shape), a shared screen is fitted whole.
pub(super) fn view_for(size: Size, natural: (u32, u32), screen: bool) -> View {
    let (w, h) = (size.width.floor().max(2.0), size.height.floor().max(2.0));
    if !screen || natural.0 == 0 || natural.1 == 0 {
        return View::new(w as u32, h as u32);
    }
    let scale = (w / natural.0 as f32).min(h / natural.1 as f32);
    View::new(
        (natural.0 as f32 * scale).floor() as u32,
        (natural.1 as f32 * scale).floor() as u32,
    )
}

/// How often the tiles' frame rates are measured.
const RATE_EVERY: Duration = Duration::from_secs(1);

/// The views the stage lays pictures out at, and the frame rate each tile shows.
#[derive(Debug, Default)]
pub(super) struct Shown {
    /// The views the latest layout gave each picture (filled as the stage is laid out).
    pub laid: RefCell<BTreeMap<Source, View>>,
    /// The views the engine was last told.
    told: BTreeMap<Source, View>,
    /// Pictures taken for each source since `since`.
    counts: BTreeMap<Source, u32>,
    since: Option<Instant>,
    /// Pictures a second each tile showed over the last measurement.
    rates: BTreeMap<Source, f32>,
}

impl Shown {
    /// The stage is about to be laid out again: what it lays out from now on is shown.
    pub fn relayout(&self) {
        self.laid.borrow_mut().clear();
    }

    /// A tile lays out `source`'s picture at `view`.
    pub fn lay(&self, source: Source, view: View) {
        self.laid.borrow_mut().insert(source, view);
    }

    /// Tell the engine what the latest layout shows, if that changed.
    pub fn tell(&mut self, frames: &FrameSlots) {
        let laid = self.laid.borrow().clone();
        if laid != self.told {
            frames.show(&laid);
            self.told = laid;
        }
    }

    /// A new picture of `source` was taken.
    pub fn count(&mut self, source: Source) {
        *self.counts.entry(source).or_default() += 1;
    }

    /// Measure the rates if a second has passed since the last measurement (true then).
    pub fn measure(&mut self, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        let elapsed = now.saturating_duration_since(since);
        if elapsed < RATE_EVERY {
            return false;
        }
        let secs = elapsed.as_secs_f32();
        self.rates = self
            .told
            .keys()
            .map(|s| (*s, self.counts.get(s).copied().unwrap_or(0) as f32 / secs))
            .collect();
        self.counts.clear();
        self.since = Some(now);
        true
    }

    /// The pictures a second each shown tile showed, with its size.
    pub fn rates(&self) -> Vec<(Source, f32, View)> {
        self.rates
            .iter()
            .filter_map(|(s, r)| Some((*s, *r, *self.told.get(s)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera fills its tile; a screen keeps its shape inside it, as large as it fits.
    #[test]
    fn a_camera_fills_its_tile_and_a_screen_fits_whole() {
        let tile = Size::new(640.6, 360.2);
        assert_eq!(view_for(tile, (640, 480), false), View::new(640, 360));
        assert_eq!(view_for(tile, (1920, 1200), true), View::new(576, 360));
        assert_eq!(view_for(tile, (1000, 200), true), View::new(640, 128));
        // Nothing known of the screen yet: the tile.
        assert_eq!(view_for(tile, (0, 0), true), View::new(640, 360));
    }

    /// The engine is told once per change of layout; a tile that goes is no longer shown.
    #[test]
    fn the_engine_hears_what_is_shown_when_it_changes() {
        let frames = FrameSlots::default();
        let mut shown = Shown::default();
        let bob = Source::Peer(assent_shared::signal::PeerId(2));
        shown.relayout();
        shown.lay(bob, View::new(320, 180));
        shown.lay(Source::Local, View::new(240, 135));
        shown.tell(&frames);
        assert_eq!(shown.told.len(), 2);
        shown.relayout();
        shown.lay(bob, View::new(320, 180));
        shown.tell(&frames);
        assert_eq!(shown.told.keys().collect::<Vec<_>>(), [&bob]);
    }

    /// The rate is what was counted over the time measured.
    #[test]
    fn a_tiles_rate_is_its_pictures_over_the_time() {
        let frames = FrameSlots::default();
        let mut shown = Shown::default();
        let bob = Source::Peer(assent_shared::signal::PeerId(2));
        shown.lay(bob, View::new(320, 180));
        shown.tell(&frames);
        let t0 = Instant::now();
        assert!(!shown.measure(t0));
        for _ in 0..45 {
            shown.count(bob);
        }
        assert!(!shown.measure(t0 + Duration::from_millis(500)));
        assert!(shown.rates().is_empty(), "measured before a second");
        assert!(shown.measure(t0 + Duration::from_millis(1500)));
        assert_eq!(shown.rates(), [(bob, 30.0, View::new(320, 180))]);
    }
}
