//! Before joining: the chosen camera's picture and the chosen microphone's level, so a person
//! can see and hear how they will come across. Nothing is encoded or sent. The camera and the
//! microphone each run in a pipeline of their own, so one that fails (a busy camera) leaves the
//! other working, and both are let go of when the preview is dropped (the call opens them
//! next).

use std::sync::Mutex;

use gst::prelude::*;

use super::frames::{Frame, FrameSlots};
use super::level::{FLOOR_DB, Levels};
use super::source::make;
use super::tap::Source;
use super::{CaptureSource, Kind, MediaError, Result, init};

pub struct Preview {
    video: Option<gst::Pipeline>,
    audio: Option<gst::Pipeline>,
    frames: FrameSlots,
    levels: Levels,
    /// What went wrong, by kind (at start, or reported by a pipeline since).
    problems: Mutex<Vec<(Kind, String)>>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Preview(..)")
    }
}

/// The preview's picture: 480 pixels wide, 30 frames a second.
const WIDTH: i32 = 480;

impl Preview {
    /// Start showing `video` and measuring `audio` (either may be left out: camera off,
    /// microphone muted). Fails only when GStreamer itself cannot start; a source that cannot
    /// is among [`Preview::problems`].
    pub fn start(
        video: Option<&dyn CaptureSource>,
        audio: Option<&dyn CaptureSource>,
    ) -> Result<Preview> {
        init()?;
        let frames = FrameSlots::default();
        let levels = Levels::default();
        let mut problems = Vec::new();
        let mut run = |kind: Kind, src: Option<&dyn CaptureSource>| {
            let src = src?;
            let built = match kind {
                Kind::Video => video_pipeline(src, &frames),
                Kind::Audio => audio_pipeline(src, &levels),
            };
            match built.and_then(|p| {
                p.set_state(gst::State::Playing).map_err(|_| {
                    let why = first_error(&p).unwrap_or_else(|| "it would not start".into());
                    let _ = p.set_state(gst::State::Null);
                    MediaError::Source(why)
                })?;
                Ok(p)
            }) {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push((kind, e.to_string()));
                    None
                }
            }
        };
        let video = run(Kind::Video, video);
        let audio = run(Kind::Audio, audio);
        Ok(Preview {
            video,
            audio,
            frames,
            levels,
            problems: Mutex::new(problems),
        })
    }

    /// The newest picture, if the camera gave one.
    pub fn frame(&self) -> Option<Frame> {
        self.frames.latest(Source::Local)
    }

    /// The microphone's level now (dBFS).
    pub fn level_db(&self) -> f32 {
        if self.audio.is_none() {
            return FLOOR_DB;
        }
        self.levels.get(Source::Local)
    }

    /// Wait up to `timeout` for a picture newer than `after` (a frame's `seq`; 0 for the
    /// first).
    pub fn wait_for_picture(&self, after: u64, timeout: std::time::Duration) -> Option<Frame> {
        self.frames.wait_newer(Source::Local, after, timeout)
    }

    /// Wait up to `timeout` for the microphone's level to reach `db` (dBFS); that level.
    pub fn wait_for_level(&self, db: f32, timeout: std::time::Duration) -> Option<f32> {
        self.levels.wait_until(Source::Local, |l| l >= db, timeout)
    }

    /// What went wrong so far, by kind.
    pub fn problems(&self) -> Vec<(Kind, String)> {
        let mut problems = self.problems.lock().map(|p| p.clone()).unwrap_or_default();
        for (kind, pipeline) in [(Kind::Video, &self.video), (Kind::Audio, &self.audio)] {
            if let Some(why) = pipeline.as_ref().and_then(first_error) {
                problems.push((kind, why));
            }
        }
        if let Ok(mut p) = self.problems.lock() {
            p.clone_from(&problems);
        }
        problems
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        for p in [&self.video, &self.audio].into_iter().flatten() {
            let _ = p.set_state(gst::State::Null);
        }
    }
}

/// The first error a pipeline has posted, if any (without waiting).
fn first_error(p: &gst::Pipeline) -> Option<String> {
    let msg = p.bus()?.pop_filtered(&[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(e.error().message().to_string()),
        _ => None,
    }
}

fn video_pipeline(src: &dyn CaptureSource, frames: &FrameSlots) -> Result<gst::Pipeline> {
    let pipeline = gst::Pipeline::with_name("assent-preview-video");
    let source = src.build()?;
    pipeline.add(&source)?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("width", WIDTH)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .field("framerate", gst::Fraction::new(30, 1))
        .build();
    let chain = frames.add_branch(pipeline.upcast_ref(), Source::Local, caps, None)?;
    source.link(&chain[0])?;
    Ok(pipeline)
}

fn audio_pipeline(src: &dyn CaptureSource, levels: &Levels) -> Result<gst::Pipeline> {
    let pipeline = gst::Pipeline::with_name("assent-preview-audio");
    let source = src.build()?;
    let caps = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("audio/x-raw")
                .field("format", "S16LE")
                .build(),
        )
        .build()?;
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()?;
    let chain = [&source, &make("audioconvert")?, &caps, &sink];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    if let Some(pad) = caps.static_pad("src") {
        levels.install(&pad, Source::Local);
    }
    Ok(pipeline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::level::SPEAKING_DB;
    use crate::media::source::{FileSource, TestAudio, TestVideo};
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(20);

    /// The camera's picture arrives scaled for the preview and the microphone's level moves.
    #[test]
    fn shows_the_picture_and_the_level() {
        let p = Preview::start(
            Some(&TestVideo::default()),
            Some(&TestAudio { freq: 440.0 }),
        )
        .unwrap();
        let f = p.wait_for_picture(0, WAIT).expect("a picture");
        assert_eq!(f.width, WIDTH as u32);
        assert_eq!(f.rgba.len(), (f.width * f.height * 4) as usize);
        // The test tone (volume 0.2): about −17 dBFS, loud enough to count as speaking.
        let db = p.wait_for_level(SPEAKING_DB, WAIT).expect("a level");
        assert!(db < -10.0, "{db}");
        p.wait_for_picture(f.seq, WAIT).expect("more pictures");
        assert!(p.problems().is_empty(), "{:?}", p.problems());
    }

    /// Camera off and microphone muted: nothing is captured.
    #[test]
    fn nothing_chosen_captures_nothing() {
        let p = Preview::start(None, None).unwrap();
        assert!(p.frame().is_none());
        assert_eq!(p.level_db(), FLOOR_DB);
        assert!(p.problems().is_empty());
    }

    /// A camera that cannot start is reported for the camera; the microphone goes on.
    #[test]
    fn a_broken_camera_leaves_the_microphone_working() {
        let missing = FileSource {
            path: "/nonexistent/camera.webm".into(),
            kind: Kind::Video,
        };
        let p = Preview::start(Some(&missing), Some(&TestAudio::default())).unwrap();
        let problems = p.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, Kind::Video);
        assert!(problems[0].1.contains("no such file"), "{problems:?}");
        p.wait_for_level(SPEAKING_DB, WAIT).expect("a level");
        assert!(p.frame().is_none());
    }
}
