//! Capture sources behind one trait: each builds a GStreamer bin with one `src` pad giving raw
//! video or raw audio. Cameras, microphones and the screen for people; test sources and media
//! files for headless use and tests (no camera or microphone on a build machine).

use std::path::PathBuf;

use gst::prelude::*;

use super::MediaError;

/// What a source produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Video,
    Audio,
}

/// A capture source. `build` makes a bin with a single `src` ghost pad of raw media.
pub trait CaptureSource: std::fmt::Debug + Send + Sync {
    fn kind(&self) -> Kind;
    /// What the user sees in a device picker.
    fn describe(&self) -> String;
    fn build(&self) -> Result<gst::Element, MediaError>;
    /// Whether this is a microphone in a room (whose sound voice processing cleans up); test
    /// tones and files are sent as they are.
    fn is_microphone(&self) -> bool {
        false
    }
    /// Whether this is the desktop's screen (which on Wayland only the portal grants).
    fn is_screen(&self) -> bool {
        false
    }
    /// The device this source captures from, when it is not there now (a camera unplugged or
    /// never present): the chosen device's id, or "" for the default one.
    fn missing(&self) -> Option<String> {
        None
    }
}

fn bin(description: &str) -> Result<gst::Element, MediaError> {
    gst::parse::bin_from_description(description, true)
        .map(|b| b.upcast())
        .map_err(|e| MediaError::Pipeline(format!("{description}: {e}")))
}

/// A moving test picture (a bouncing ball over a pattern), live.
#[derive(Debug, Clone)]
pub struct TestVideo {
    pub pattern: String,
}

impl Default for TestVideo {
    fn default() -> Self {
        TestVideo {
            pattern: "ball".into(),
        }
    }
}

impl CaptureSource for TestVideo {
    fn kind(&self) -> Kind {
        Kind::Video
    }
    fn describe(&self) -> String {
        format!("test picture ({})", self.pattern)
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        if self.pattern == "busy" {
            // A zone plate changing every frame: detail everywhere, so the encoder uses the
            // bitrate it is given (about 250 to 800 kbit/s at 640x480), with key frames of a
            // few kilobytes, as with a camera; the ball needs some 130 kbit/s whatever it gets.
            return bin("videotestsrc is-live=true pattern=zone-plate kx2=4 ky2=4 kt=1");
        }
        let pattern: String = self
            .pattern
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        bin(&format!("videotestsrc is-live=true pattern={pattern}"))
    }
}

/// A test tone, live.
#[derive(Debug, Clone)]
pub struct TestAudio {
    pub freq: f64,
}

impl Default for TestAudio {
    fn default() -> Self {
        TestAudio { freq: 440.0 }
    }
}

impl CaptureSource for TestAudio {
    fn kind(&self) -> Kind {
        Kind::Audio
    }
    fn describe(&self) -> String {
        format!("test tone ({} Hz)", self.freq)
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        bin(&format!(
            "audiotestsrc is-live=true wave=sine volume=0.2 freq={} samplesperbuffer=960",
            self.freq
        ))
    }
}

/// The video or the audio of a media file, paced in real time.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    pub kind: Kind,
}

impl CaptureSource for FileSource {
    fn kind(&self) -> Kind {
        self.kind
    }
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        if !self.path.is_file() {
            return Err(MediaError::Source(format!(
                "no such file: {}",
                self.path.display()
            )));
        }
        let caps = match self.kind {
            Kind::Video => "video/x-raw",
            Kind::Audio => "audio/x-raw",
        };
        let b = bin(&format!(
            "filesrc name=file ! decodebin name=dec caps={caps} ! identity sync=true name=pace"
        ))?;
        // `location` set as a property: no quoting of arbitrary paths into a pipeline string.
        if let Some(file) = b.downcast_ref::<gst::Bin>().and_then(|b| b.by_name("file")) {
            file.set_property("location", self.path.to_string_lossy().to_string());
        }
        Ok(b)
    }
}

/// A camera through nokhwa (`webcam.rs`), the system's first one or a device path
/// (`/dev/videoN`): one that goes away during the call is replaced by another (or a black
/// picture) until it comes back.
#[derive(Debug, Clone, Default)]
pub struct Camera {
    pub device: Option<String>,
}

impl CaptureSource for Camera {
    fn kind(&self) -> Kind {
        Kind::Video
    }
    fn describe(&self) -> String {
        match &self.device {
            Some(d) => format!("camera {d}"),
            None => "default camera".into(),
        }
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        let src = super::webcam::CameraSrc::new(self.device.clone());
        then_convert(src.upcast_ref(), "videoconvert")
    }
    /// Not there when no camera at all is: a chosen one that is missing gives another one
    /// (and a message) while any camera is there.
    fn missing(&self) -> Option<String> {
        let present = super::devices::camera_present(None);
        (!present).then(|| self.device.clone().unwrap_or_default())
    }
}

/// A camera through GStreamer's `v4l2src` (raw formats only, no hot-plug): the path before
/// nokhwa, kept to compare (`cargo xtask bench-devices`) and as a way around a camera nokhwa
/// cannot open.
#[derive(Debug, Clone, Default)]
pub struct V4l2Camera {
    pub device: Option<String>,
}

impl CaptureSource for V4l2Camera {
    fn kind(&self) -> Kind {
        Kind::Video
    }
    fn describe(&self) -> String {
        match &self.device {
            Some(d) => format!("camera {d} (GStreamer)"),
            None => "default camera (GStreamer)".into(),
        }
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        let src = gst::ElementFactory::make("v4l2src")
            .build()
            .map_err(|_| MediaError::Source("no camera support (v4l2src is missing)".into()))?;
        if let Some(d) = &self.device {
            src.set_property("device", d);
        }
        then_convert(&src, "videoconvert")
    }
}

/// A microphone: the sound server's default input, or a named device, captured through cpal
/// (a chosen device that goes away is replaced by the default until it comes back).
#[derive(Debug, Clone, Default)]
pub struct Microphone {
    pub device: Option<String>,
}

impl CaptureSource for Microphone {
    fn kind(&self) -> Kind {
        Kind::Audio
    }
    fn describe(&self) -> String {
        match &self.device {
            Some(d) => format!("microphone {d}"),
            None => "default microphone".into(),
        }
    }
    fn is_microphone(&self) -> bool {
        true
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        // Through cpal (see `mic`): its own thread captures, an appsrc hands the samples on.
        let src = super::mic::source(self.device.clone())?;
        then_convert(&src, "audioconvert")
    }
}

/// A microphone read by GStreamer's own PulseAudio element (`pulsesrc`) instead of cpal:
/// what the engine used before cpal, kept to compare the two (`cargo xtask bench-devices`) and
/// as a way around a device cpal cannot open.
#[derive(Debug, Clone, Default)]
pub struct PulseMicrophone {
    pub device: Option<String>,
}

impl CaptureSource for PulseMicrophone {
    fn kind(&self) -> Kind {
        Kind::Audio
    }
    fn describe(&self) -> String {
        match &self.device {
            Some(d) => format!("microphone {d} (GStreamer)"),
            None => "default microphone (GStreamer)".into(),
        }
    }
    fn is_microphone(&self) -> bool {
        true
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        let src = gst::ElementFactory::make("pulsesrc").build().map_err(|_| {
            MediaError::Source("no PulseAudio support (pulsesrc is missing)".into())
        })?;
        if let Some(d) = &self.device {
            src.set_property("device", d);
        }
        then_convert(&src, "audioconvert")
    }
}

/// The screen on X11 (`ximagesrc`). On Wayland the screen is what the desktop portal grants
/// (`portal.rs`): a Wayland client cannot capture it otherwise.
#[derive(Debug, Clone, Default)]
pub struct Screen;

impl CaptureSource for Screen {
    fn kind(&self) -> Kind {
        Kind::Video
    }
    fn describe(&self) -> String {
        "screen".into()
    }
    fn is_screen(&self) -> bool {
        true
    }
    fn build(&self) -> Result<gst::Element, MediaError> {
        if super::portal::needed() {
            return Err(MediaError::Source(
                "on Wayland the screen is shared through the desktop portal, which has not \
                 granted it"
                    .into(),
            ));
        }
        let src = gst::ElementFactory::make("ximagesrc")
            .build()
            .map_err(|_| MediaError::Source("no screen capture (ximagesrc is missing)".into()))?;
        src.set_property("use-damage", false);
        src.set_property("show-pointer", true);
        then_convert(&src, "videoconvert")
    }
}

pub(super) fn leaky_queue(buffers: u32) -> Result<gst::Element, MediaError> {
    Ok(gst::ElementFactory::make("queue")
        .property("max-size-buffers", buffers)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .property_from_str("leaky", "downstream")
        .build()?)
}

pub(super) fn make(factory: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement(factory.into()))
}

/// `src` followed by a converter (`videoconvert`, `audioconvert`), in a bin.
pub(super) fn then_convert(
    src: &gst::Element,
    converter: &str,
) -> Result<gst::Element, MediaError> {
    let b = gst::Bin::new();
    let conv = make(converter)?;
    b.add_many([src, &conv])?;
    src.link(&conv)?;
    ghost_src(&b, &conv)?;
    Ok(b.upcast())
}

fn ghost_src(b: &gst::Bin, last: &gst::Element) -> Result<(), MediaError> {
    let pad = last
        .static_pad("src")
        .ok_or_else(|| MediaError::Pipeline("no src pad".into()))?;
    let ghost = gst::GhostPad::with_target(&pad)?;
    ghost.set_active(true)?;
    b.add_pad(&ghost)?;
    Ok(())
}

/// A source description that names no source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("not a frequency: {0}")]
    Frequency(String),
    #[error("a file source needs its path: file:PATH")]
    NoPath,
    #[error(
        "unknown video source {0:?}: use test[:PATTERN], test:flash, file:PATH, camera[:DEVICE], v4l2[:DEVICE], screen or none"
    )]
    UnknownVideo(String),
    #[error(
        "unknown audio source {0:?}: use test[:HZ], test:beep, file:PATH, mic[:DEVICE], pulse[:DEVICE] or none"
    )]
    UnknownAudio(String),
}

/// Parse a source description: `test`, `test:PATTERN` (video) or `test:HZ` (audio),
/// `test:flash` and `test:beep` (a flash and a beep at the same instant once a second),
/// `file:PATH`, `camera[:DEVICE]` (through nokhwa), `v4l2[:DEVICE]` (GStreamer's `v4l2src`),
/// `mic[:DEVICE]` (through cpal), `pulse[:DEVICE]` (GStreamer's `pulsesrc`), `screen`, `none`.
pub fn parse(kind: Kind, spec: &str) -> Result<Option<Box<dyn CaptureSource>>, SourceError> {
    let (head, arg) = match spec.split_once(':') {
        Some((h, a)) => (h, Some(a)),
        None => (spec, None),
    };
    let source: Box<dyn CaptureSource> = match (kind, head) {
        (_, "none") => return Ok(None),
        (Kind::Video, "test") if arg == Some("flash") => Box::new(super::lipsync::Flash),
        (Kind::Audio, "test") if arg == Some("beep") => Box::new(super::lipsync::Beep),
        (Kind::Video, "test") => Box::new(TestVideo {
            pattern: arg.unwrap_or("ball").into(),
        }),
        (Kind::Audio, "test") => Box::new(TestAudio {
            freq: arg
                .map(|a| {
                    a.parse::<f64>()
                        .map_err(|_| SourceError::Frequency(a.to_string()))
                })
                .transpose()?
                .unwrap_or(440.0),
        }),
        (_, "file") => Box::new(FileSource {
            path: arg.ok_or(SourceError::NoPath)?.into(),
            kind,
        }),
        (Kind::Video, "camera") => Box::new(Camera {
            device: arg.map(str::to_string),
        }),
        (Kind::Video, "v4l2") => Box::new(V4l2Camera {
            device: arg.map(str::to_string),
        }),
        (Kind::Video, "screen") => Box::new(Screen),
        (Kind::Audio, "mic") => Box::new(Microphone {
            device: arg.map(str::to_string),
        }),
        (Kind::Audio, "pulse") => Box::new(PulseMicrophone {
            device: arg.map(str::to_string),
        }),
        _ => {
            return Err(match kind {
                Kind::Video => SourceError::UnknownVideo(spec.to_string()),
                Kind::Audio => SourceError::UnknownAudio(spec.to_string()),
            });
        }
    };
    Ok(Some(source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_specs() {
        assert_eq!(
            parse(Kind::Video, "test").unwrap().unwrap().describe(),
            "test picture (ball)"
        );
        assert_eq!(
            parse(Kind::Audio, "test:300").unwrap().unwrap().describe(),
            "test tone (300 Hz)"
        );
        assert!(parse(Kind::Audio, "none").unwrap().is_none());
        assert!(parse(Kind::Audio, "screen").is_err());
        assert!(parse(Kind::Video, "mic").is_err());
        assert_eq!(
            parse(Kind::Audio, "test:loud").err(),
            Some(SourceError::Frequency("loud".into()))
        );
        assert_eq!(parse(Kind::Video, "file").err(), Some(SourceError::NoPath));
        assert_eq!(
            parse(Kind::Video, "file:/x y.webm")
                .unwrap()
                .unwrap()
                .describe(),
            "file /x y.webm"
        );
        assert_eq!(
            parse(Kind::Video, "v4l2:/dev/video2")
                .unwrap()
                .unwrap()
                .describe(),
            "camera /dev/video2 (GStreamer)"
        );
        assert!(parse(Kind::Audio, "v4l2").is_err());
    }
}
