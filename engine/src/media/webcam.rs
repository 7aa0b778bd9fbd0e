//! Cameras through `nokhwa`, the device layer the design names (Video4Linux on Linux). A
//! source element, [`CameraSrc`], opens the camera when it starts (so a camera turned off in a
//! call is let go of, and turning on one that is not there fails at once, as `v4l2src` did)
//! and a thread of its own reads it: each frame is handed to the pipeline as the camera gave
//! it (`camera.rs` gives it its caps and plane layout; a JPEG is decoded there first).
//!
//! The thread follows the chosen camera as the microphone's follows its device: a chosen
//! camera missing at the start, or unplugged during the call, is replaced by another one, and
//! taken back when it returns; with no camera at all the others see a black picture until one
//! comes. Each change is posted as a device message for the user.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use nokhwa::utils::{ApiBackend, CameraFormat, CameraIndex, RequestedFormat, RequestedFormatType};

use super::camera::{self, FrameFormat};
use super::follow;

/// What is asked of a camera: the call's default picture (the send chain scales to the size the
/// call sends).
const WANT: Format = Format {
    format: FrameFormat::Yuyv,
    width: 640,
    height: 480,
    fps: 30,
};
/// Below this many frames a second a picture is a slide show: a format that has more wins.
const SMOOTH_FPS: u32 = 15;
/// How often a black picture is sent while no camera is there.
const BLACK_FPS: u32 = 15;

/// A capture format: how frames come, their size and rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Format {
    pub format: FrameFormat,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// The format to capture in, of those a camera offers: a smooth rate first, then the size
/// nearest to `want`, then one the pipeline takes without decoding (raw before Motion JPEG),
/// then the rate nearest to `want`'s.
pub(super) fn choose(offered: &[Format], want: Format) -> Option<Format> {
    offered.iter().copied().min_by_key(|f| {
        let size = f.width.abs_diff(want.width) + f.height.abs_diff(want.height);
        (
            f.fps < SMOOTH_FPS,
            size,
            f.format == FrameFormat::Mjpeg,
            f.fps.abs_diff(want.fps),
        )
    })
}

/// The index of the Video4Linux node `/dev/videoN`.
fn index_of(id: &str) -> Option<u32> {
    id.strip_prefix("/dev/video")?.parse().ok()
}

fn id_of(index: u32) -> String {
    format!("/dev/video{index}")
}

/// The cameras present now: (id, name), in the system's order (the first is the default).
/// Nodes that are not a device's first (a UVC camera's metadata node) are left out.
pub(crate) fn list() -> Vec<(String, String)> {
    let Ok(found) = nokhwa::query(ApiBackend::Video4Linux) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, String)> = found
        .iter()
        .filter_map(|info| match info.index() {
            CameraIndex::Index(n) => Some((*n, info.human_name())),
            CameraIndex::String(_) => None,
        })
        .filter(|(n, _)| {
            std::fs::read_to_string(format!("/sys/class/video4linux/video{n}/index"))
                .map_or(true, |i| i.trim() == "0")
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(n, name)| (id_of(n), name)).collect()
}

/// Whether the camera `id` is there now; `None`: whether any camera is.
pub(crate) fn present(id: Option<&str>) -> bool {
    let cameras = list();
    match id {
        Some(id) => cameras.iter().any(|(c, _)| c == id),
        None => !cameras.is_empty(),
    }
}

fn to_ours(f: nokhwa::utils::FrameFormat) -> Option<FrameFormat> {
    use nokhwa::utils::FrameFormat as N;
    match f {
        N::MJPEG => Some(FrameFormat::Mjpeg),
        N::YUYV => Some(FrameFormat::Yuyv),
        N::NV12 => Some(FrameFormat::Nv12),
        N::GRAY => Some(FrameFormat::Gray),
        N::RAWRGB => Some(FrameFormat::Rgb),
        N::RAWBGR => None,
    }
}

fn to_nokhwa(f: FrameFormat) -> nokhwa::utils::FrameFormat {
    use nokhwa::utils::FrameFormat as N;
    match f {
        FrameFormat::Mjpeg => N::MJPEG,
        FrameFormat::Yuyv => N::YUYV,
        FrameFormat::Nv12 => N::NV12,
        FrameFormat::Gray => N::GRAY,
        FrameFormat::Rgb => N::RAWRGB,
    }
}

const ANY: &[nokhwa::utils::FrameFormat] = &[
    nokhwa::utils::FrameFormat::YUYV,
    nokhwa::utils::FrameFormat::NV12,
    nokhwa::utils::FrameFormat::GRAY,
    nokhwa::utils::FrameFormat::RAWRGB,
    nokhwa::utils::FrameFormat::MJPEG,
];

/// A camera open and streaming.
struct Open {
    camera: nokhwa::Camera,
    id: String,
    format: Format,
    caps: gst::Caps,
    /// For a camera that sends Motion JPEG.
    jpeg: Option<camera::JpegDecoder>,
}

impl Open {
    fn new(id: &str) -> Result<Open, String> {
        let index = index_of(id).ok_or_else(|| format!("{id} is not a camera"))?;
        let mut camera = nokhwa::Camera::with_backend(
            CameraIndex::Index(index),
            RequestedFormat::with_formats(RequestedFormatType::None, ANY),
            ApiBackend::Video4Linux,
        )
        .map_err(|e| format!("the camera {id} cannot be opened: {e}"))?;
        let offered: Vec<Format> = camera
            .compatible_camera_formats()
            .map_err(|e| format!("the camera {id} lists no formats: {e}"))?
            .iter()
            .filter_map(|f| {
                Some(Format {
                    format: to_ours(f.format())?,
                    width: f.width(),
                    height: f.height(),
                    fps: f.frame_rate(),
                })
            })
            .collect();
        let format = choose(&offered, WANT)
            .ok_or_else(|| format!("the camera {id} offers no format Assent takes"))?;
        let nokhwa_format = CameraFormat::new_from(
            format.width,
            format.height,
            to_nokhwa(format.format),
            format.fps,
        );
        if camera.camera_format() != nokhwa_format {
            let exact = [nokhwa_format.format()];
            camera
                .set_camera_requset(RequestedFormat::with_formats(
                    RequestedFormatType::Exact(nokhwa_format),
                    &exact,
                ))
                .map_err(|e| format!("the camera {id} refused {format:?}: {e}"))?;
        }
        camera
            .open_stream()
            .map_err(|e| format!("the camera {id} does not stream: {e}"))?;
        let caps = camera::caps(format.format, format.width, format.height, format.fps);
        let jpeg = match format.format {
            FrameFormat::Mjpeg => Some(
                camera::JpegDecoder::new(format.width, format.height, format.fps)
                    .map_err(|e| e.to_string())?,
            ),
            _ => None,
        };
        Ok(Open {
            camera,
            id: id.to_string(),
            format,
            caps,
            jpeg,
        })
    }

    /// The next frame, raw, with its caps (waits for the camera).
    fn read(&mut self) -> Result<(gst::Caps, gst::Buffer), String> {
        let data = self.camera.frame_raw().map_err(|e| e.to_string())?;
        let f = self.format;
        // A driver's buffer may be longer than the frame.
        let want = f.format.bytes(f.width, f.height).unwrap_or(data.len());
        let data = data.get(..want).ok_or("a short frame")?.to_vec();
        let buffer = camera::frame(f.format, f.width, f.height, data).map_err(|e| e.to_string())?;
        let Some(jpeg) = &self.jpeg else {
            return Ok((self.caps.clone(), buffer));
        };
        let picture = jpeg.decode(buffer).map_err(|e| e.to_string())?;
        match (picture.caps(), picture.buffer_owned()) {
            (Some(caps), Some(buffer)) => Ok((caps.to_owned(), buffer)),
            _ => Err("a camera frame that does not decode".into()),
        }
    }
}

/// What the capture thread hands the element.
enum Item {
    Frame(gst::Caps, gst::Buffer),
    /// Look at the flushing flag (sent by `unlock`).
    Wake,
}

/// The capture thread: opens the chosen camera (or another), reads it and follows it.
struct Capture {
    wanted: Option<String>,
    element: glib::WeakRef<CameraSrc>,
    frames: SyncSender<Item>,
    stop: Arc<AtomicBool>,
}

impl Capture {
    /// The first camera that opens, other than `not`.
    fn any(not: Option<&str>) -> Option<Open> {
        list()
            .iter()
            .filter(|(id, _)| Some(id.as_str()) != not)
            .find_map(|(id, _)| Open::new(id).ok())
    }

    fn tell(&self, state: &str, using: &str) {
        if let Some(e) = self.element.upgrade() {
            let device = self.wanted.as_deref().unwrap_or("");
            let _ = e.post_message(follow::device_message_using(
                "camera", state, device, using, &e,
            ));
        }
    }

    fn run(self, ready: mpsc::Sender<Result<gst::Caps, String>>) {
        let mut current = match &self.wanted {
            Some(id) => match Open::new(id) {
                Ok(open) => Some(open),
                Err(why) => {
                    let other = Self::any(Some(id));
                    if other.is_some() {
                        self.tell("lost", "default");
                    } else {
                        let _ = ready.send(Err(why));
                        return;
                    }
                    other
                }
            },
            None => Self::any(None),
        };
        // The first frame gives the caps the element starts with.
        let first = match current.as_mut().map(Open::read) {
            Some(Ok(first)) => first,
            Some(Err(why)) => {
                let _ = ready.send(Err(format!("the camera sends nothing: {why}")));
                return;
            }
            None => {
                let _ = ready.send(Err("no camera: the system has none".into()));
                return;
            }
        };
        let _ = ready.send(Ok(first.0.clone()));
        if self.frames.send(Item::Frame(first.0, first.1)).is_err() {
            return;
        }
        // Black frames in the last camera's format, or grey after a camera that sent JPEG.
        let mut black = Format {
            format: FrameFormat::Gray,
            fps: BLACK_FPS,
            ..WANT
        };
        let mut looked = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            let item = match current.as_mut() {
                Some(open) => match open.read() {
                    Ok((caps, buffer)) => Item::Frame(caps, buffer),
                    Err(_) => {
                        // Unplugged (or broken): another one stands in, or a black picture.
                        if open.format.format != FrameFormat::Mjpeg {
                            black = open.format;
                        }
                        let gone = current.take().map(|o| o.id);
                        current = Self::any(gone.as_deref());
                        let chosen = self.wanted.is_none() || self.wanted == gone;
                        match (&current, chosen) {
                            (Some(_), true) => self.tell("lost", "default"),
                            (Some(_), false) => {}
                            (None, _) => self.tell("lost", "black"),
                        }
                        continue;
                    }
                },
                None => {
                    std::thread::sleep(Duration::from_secs(1) / BLACK_FPS);
                    let Format {
                        format,
                        width,
                        height,
                        fps,
                    } = black;
                    let frame = camera::black(format, width, height)
                        .ok_or_else(|| "no black frame".to_string())
                        .and_then(|f| {
                            camera::frame(format, width, height, f).map_err(|e| e.to_string())
                        });
                    match frame {
                        Ok(buffer) => Item::Frame(camera::caps(format, width, height, fps), buffer),
                        Err(_) => break,
                    }
                }
            };
            if self.frames.send(item).is_err() {
                break;
            }
            if looked.elapsed() >= follow::WATCH {
                looked = Instant::now();
                self.look(&mut current);
            }
        }
    }

    /// Take the chosen camera back when it returns (or any camera, when none was chosen and
    /// none is in use).
    fn look(&self, current: &mut Option<Open>) {
        let using = current.as_ref().map(|o| o.id.as_str());
        let back = match (&self.wanted, using) {
            // The stand-in goes on until the chosen one has opened (and if it does not).
            (Some(id), using) if using != Some(id.as_str()) && present(Some(id)) => {
                Open::new(id).ok()
            }
            (None, None) => Self::any(None),
            _ => None,
        };
        if let Some(open) = back {
            let id = open.id.clone();
            *current = Some(open);
            self.tell("back", self.wanted.as_deref().unwrap_or(&id));
        } else if current.is_none() && self.wanted.is_some() {
            // The chosen one is still away: any other camera beats a black picture.
            if let Some(open) = Self::any(self.wanted.as_deref()) {
                *current = Some(open);
                self.tell("lost", "default");
            }
        }
    }
}

/// The capture thread, while the element runs.
struct Running {
    frames: Arc<Mutex<Receiver<Item>>>,
    wake: SyncSender<Item>,
    stop: Arc<AtomicBool>,
    done: Receiver<()>,
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct CameraSrc {
        pub(super) wanted: Mutex<Option<String>>,
        running: Mutex<Option<Running>>,
        caps: Mutex<Option<gst::Caps>>,
        flushing: AtomicBool,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for CameraSrc {
        const NAME: &'static str = "AssentCameraSrc";
        type Type = super::CameraSrc;
        type ParentType = gst_base::PushSrc;
    }

    impl ObjectImpl for CameraSrc {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.set_live(true);
            obj.set_format(gst::Format::Time);
            obj.set_do_timestamp(true);
        }
    }

    impl GstObjectImpl for CameraSrc {}

    impl ElementImpl for CameraSrc {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static META: std::sync::OnceLock<gst::subclass::ElementMetadata> =
                std::sync::OnceLock::new();
            Some(META.get_or_init(|| {
                gst::subclass::ElementMetadata::new(
                    "Camera (nokhwa)",
                    "Source/Video",
                    "Captures from a camera through nokhwa, following the chosen one",
                    "Assent",
                )
            }))
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: std::sync::OnceLock<Vec<gst::PadTemplate>> =
                std::sync::OnceLock::new();
            TEMPLATES.get_or_init(|| {
                // What cameras send, and what a JPEG decodes to.
                let caps = gst::Caps::builder("video/x-raw")
                    .field(
                        "format",
                        gst::List::new(["YUY2", "NV12", "GRAY8", "RGB", "I420", "Y42B", "Y444"]),
                    )
                    .build();
                vec![
                    gst::PadTemplate::new(
                        "src",
                        gst::PadDirection::Src,
                        gst::PadPresence::Always,
                        &caps,
                    )
                    .expect("the camera's pad template"),
                ]
            })
        }
    }

    impl BaseSrcImpl for CameraSrc {
        fn start(&self) -> Result<(), gst::ErrorMessage> {
            let wanted = self.wanted.lock().map_err(poisoned)?.clone();
            let (frames_tx, frames) = mpsc::sync_channel(2);
            let (ready_tx, ready) = mpsc::channel();
            let (done_tx, done) = mpsc::channel();
            let stop = Arc::new(AtomicBool::new(false));
            let capture = Capture {
                wanted,
                element: self.obj().downgrade(),
                frames: frames_tx.clone(),
                stop: stop.clone(),
            };
            std::thread::Builder::new()
                .name("camera".into())
                .spawn(move || {
                    capture.run(ready_tx);
                    let _ = done_tx.send(());
                })
                .map_err(|e| open_failed(&format!("cannot start the camera: {e}")))?;
            let caps = match ready.recv() {
                Ok(Ok(caps)) => caps,
                Ok(Err(why)) => return Err(open_failed(&why)),
                Err(_) => return Err(open_failed("the camera did not start")),
            };
            *self.caps.lock().map_err(poisoned)? = Some(caps);
            *self.running.lock().map_err(poisoned)? = Some(Running {
                frames: Arc::new(Mutex::new(frames)),
                wake: frames_tx,
                stop,
                done,
            });
            Ok(())
        }

        fn stop(&self) -> Result<(), gst::ErrorMessage> {
            let running = self.running.lock().map_err(poisoned)?.take();
            if let Some(r) = running {
                r.stop.store(true, Ordering::Release);
                // Its receiver gone, the thread's next send fails and it ends, closing the
                // camera. It waits for at most one frame; a camera that hangs is left to it.
                drop(r.frames);
                drop(r.wake);
                if r.done.recv_timeout(Duration::from_secs(2)).is_err() {
                    tracing::warn!("the camera did not stop within 2 s");
                }
            }
            Ok(())
        }

        fn unlock(&self) -> Result<(), gst::ErrorMessage> {
            self.flushing.store(true, Ordering::Release);
            if let Some(r) = self.running.lock().map_err(poisoned)?.as_ref() {
                let _ = r.wake.try_send(Item::Wake);
            }
            Ok(())
        }

        fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
            self.flushing.store(false, Ordering::Release);
            Ok(())
        }

        fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
            let caps = self
                .caps
                .lock()
                .ok()?
                .clone()
                .unwrap_or_else(|| self.obj().src_pad().pad_template_caps());
            Some(match filter {
                Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
                None => caps,
            })
        }

        fn is_seekable(&self) -> bool {
            false
        }

        fn query(&self, query: &mut gst::QueryRef) -> bool {
            if let gst::QueryViewMut::Latency(q) = query.view_mut() {
                // A frame: the camera exposes it before handing it over.
                let fps = self.caps.lock().ok().and_then(|c| c.clone()).and_then(|c| {
                    c.structure(0)?
                        .get::<gst::Fraction>("framerate")
                        .ok()
                        .filter(|f| f.numer() > 0)
                });
                let frame = fps.map_or(gst::ClockTime::ZERO, |f| {
                    gst::ClockTime::SECOND
                        .mul_div_floor(f.denom() as u64, f.numer() as u64)
                        .unwrap_or(gst::ClockTime::ZERO)
                });
                q.set(true, frame, None);
                return true;
            }
            BaseSrcImplExt::parent_query(self, query)
        }
    }

    impl PushSrcImpl for CameraSrc {
        fn create(
            &self,
            _buffer: Option<&mut gst::BufferRef>,
        ) -> Result<gst_base::subclass::base_src::CreateSuccess, gst::FlowError> {
            let frames = match self.running.lock() {
                Ok(r) => r.as_ref().map(|r| r.frames.clone()),
                Err(_) => None,
            }
            .ok_or(gst::FlowError::Flushing)?;
            let frames = frames.lock().map_err(|_| gst::FlowError::Error)?;
            loop {
                if self.flushing.load(Ordering::Acquire) {
                    return Err(gst::FlowError::Flushing);
                }
                match frames.recv() {
                    Ok(Item::Wake) => continue,
                    Ok(Item::Frame(caps, buffer)) => {
                        let mut current = self.caps.lock().map_err(|_| gst::FlowError::Error)?;
                        if current.as_ref() != Some(&caps)
                            || self.obj().src_pad().current_caps().as_ref() != Some(&caps)
                        {
                            *current = Some(caps.clone());
                            drop(current);
                            self.obj()
                                .set_caps(&caps)
                                .map_err(|_| gst::FlowError::NotNegotiated)?;
                        }
                        return Ok(gst_base::subclass::base_src::CreateSuccess::NewBuffer(
                            buffer,
                        ));
                    }
                    Err(_) => {
                        gst::element_imp_error!(
                            self,
                            gst::ResourceError::Read,
                            ["the camera stopped"]
                        );
                        return Err(gst::FlowError::Error);
                    }
                }
            }
        }
    }

    fn poisoned<T>(_: T) -> gst::ErrorMessage {
        gst::error_msg!(gst::CoreError::Failed, ["the camera's state is poisoned"])
    }

    fn open_failed(why: &str) -> gst::ErrorMessage {
        gst::error_msg!(gst::ResourceError::OpenRead, ("{}", why))
    }
}

glib::wrapper! {
    /// A camera, through nokhwa: the chosen one (`/dev/videoN`) or the system's first.
    pub struct CameraSrc(ObjectSubclass<imp::CameraSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

impl CameraSrc {
    pub fn new(wanted: Option<String>) -> CameraSrc {
        let src: CameraSrc = glib::Object::new();
        if let Ok(mut w) = src.imp().wanted.lock() {
            *w = wanted;
        }
        src
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: FrameFormat, width: u32, height: u32, fps: u32) -> Format {
        Format {
            format,
            width,
            height,
            fps,
        }
    }

    #[test]
    fn the_format_nearest_the_call_is_chosen_raw_before_jpeg_and_smooth_before_all() {
        use FrameFormat::*;
        let offered = [
            f(Mjpeg, 1280, 720, 30),
            f(Yuyv, 1280, 720, 10),
            f(Mjpeg, 640, 480, 30),
            f(Yuyv, 640, 480, 30),
            f(Yuyv, 640, 480, 15),
        ];
        assert_eq!(choose(&offered, WANT), Some(f(Yuyv, 640, 480, 30)));
        // A camera whose raw pictures are a slide show at the size: JPEG at that size.
        let offered = [f(Yuyv, 640, 480, 5), f(Mjpeg, 640, 480, 30)];
        assert_eq!(choose(&offered, WANT), Some(f(Mjpeg, 640, 480, 30)));
        // Only larger sizes: the nearest.
        let offered = [f(Nv12, 1920, 1080, 30), f(Nv12, 1280, 720, 30)];
        assert_eq!(choose(&offered, WANT), Some(f(Nv12, 1280, 720, 30)));
        // The rate nearest to the call's.
        let offered = [f(Yuyv, 640, 480, 60), f(Yuyv, 640, 480, 24)];
        assert_eq!(choose(&offered, WANT), Some(f(Yuyv, 640, 480, 24)));
        assert_eq!(choose(&[], WANT), None);
    }

    #[test]
    fn camera_ids_are_video4linux_nodes() {
        assert_eq!(index_of("/dev/video0"), Some(0));
        assert_eq!(index_of("/dev/video12"), Some(12));
        assert_eq!(index_of("/dev/video"), None);
        assert_eq!(index_of("/dev/video-unplugged"), None);
        assert_eq!(index_of("/dev/sda"), None);
        assert_eq!(id_of(3), "/dev/video3");
    }

    /// No camera on a build machine: the source fails to start with a message saying so, as
    /// `v4l2src` did, instead of a stream that never comes.
    #[test]
    fn a_camera_that_is_not_there_fails_to_start_with_a_message() {
        gst::init().unwrap();
        let src = CameraSrc::new(Some("/dev/video63".into()));
        let sink = gst::ElementFactory::make("fakesink").build().unwrap();
        let pipeline = gst::Pipeline::new();
        pipeline.add_many([src.upcast_ref(), &sink]).unwrap();
        src.link(&sink).unwrap();
        assert!(pipeline.set_state(gst::State::Playing).is_err());
        let bus = pipeline.bus().unwrap();
        let error = bus
            .iter_filtered(&[gst::MessageType::Error])
            .next()
            .expect("an error message");
        let gst::MessageView::Error(e) = error.view() else {
            unreachable!()
        };
        let text = e.error().to_string();
        assert!(
            text.contains("/dev/video63") || text.contains("no camera"),
            "{text}"
        );
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
