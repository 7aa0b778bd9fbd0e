//! Camera frames in the formats cameras deliver (MJPEG, YUYV, NV12, grey, RGB), as a device
//! layer that captures outside GStreamer (`nokhwa`'s `Buffer`: the bytes of one frame, tightly
//! packed, and its format) hands them to the pipeline: each frame becomes a buffer with the
//! caps and the plane layout GStreamer needs ([`JpegDecoder`] decodes a JPEG first), and
//! `videoconvert` turns any of them into what the encoder takes.
//!
//! The camera source that captures through `nokhwa` (`webcam.rs`) hands its frames over
//! through [`caps`] and [`frame`].

use gst::prelude::*;

use super::MediaError;

/// The formats cameras deliver frames in (`nokhwa`'s `FrameFormat`: `MJPEG`, `YUYV`, `NV12`,
/// `GRAY`, `RAWRGB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameFormat {
    /// Motion JPEG: each frame a JPEG image.
    Mjpeg,
    /// YUV 4:2:2, packed Y0 U Y1 V.
    Yuyv,
    /// YUV 4:2:0: the Y plane, then interleaved U and V.
    Nv12,
    /// 8-bit grey.
    Gray,
    /// 24-bit RGB.
    Rgb,
}

impl FrameFormat {
    /// The raw video format, for the formats that are not compressed.
    fn raw(self) -> Option<gst_video::VideoFormat> {
        match self {
            FrameFormat::Mjpeg => None,
            FrameFormat::Yuyv => Some(gst_video::VideoFormat::Yuy2),
            FrameFormat::Nv12 => Some(gst_video::VideoFormat::Nv12),
            FrameFormat::Gray => Some(gst_video::VideoFormat::Gray8),
            FrameFormat::Rgb => Some(gst_video::VideoFormat::Rgb),
        }
    }

    /// The bytes of a tightly packed frame; `None` for JPEG (each frame its own size).
    pub(super) fn bytes(self, width: u32, height: u32) -> Option<usize> {
        self.raw()?;
        Some(
            self.planes(width, height)
                .iter()
                .map(|(row, rows)| row * rows)
                .sum(),
        )
    }

    /// Bytes per row of each plane and the rows of each plane, tightly packed.
    fn planes(self, width: u32, height: u32) -> Vec<(usize, usize)> {
        let (w, h) = (width as usize, height as usize);
        match self {
            FrameFormat::Mjpeg => Vec::new(),
            FrameFormat::Yuyv => vec![(w.div_ceil(2) * 4, h)],
            FrameFormat::Nv12 => vec![(w, h), (w.div_ceil(2) * 2, h.div_ceil(2))],
            FrameFormat::Gray => vec![(w, h)],
            FrameFormat::Rgb => vec![(w * 3, h)],
        }
    }
}

/// The caps of frames in `format` at `width`x`height` and `fps`, with square pixels, as cameras
/// have: without a pixel aspect ratio the getting-ready preview's scaler failed to negotiate
/// with the camera source (`the_window_previews_the_chosen_camera_and_follows_it`).
pub fn caps(format: FrameFormat, width: u32, height: u32, fps: u32) -> gst::Caps {
    let size = |b: gst::caps::Builder<gst::caps::NoFeature>| {
        b.field("width", width as i32)
            .field("height", height as i32)
            .field("framerate", gst::Fraction::new(fps as i32, 1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build()
    };
    match format.raw() {
        None => size(gst::Caps::builder("image/jpeg")),
        Some(raw) => size(gst::Caps::builder("video/x-raw").field("format", raw.to_str())),
    }
}

/// One captured frame as a buffer. A raw frame's planes are tightly packed, which is not
/// GStreamer's default layout (rows padded to 4 bytes): the buffer says where they are. A raw
/// frame of the wrong size is refused (a camera that changed format under us).
pub fn frame(
    format: FrameFormat,
    width: u32,
    height: u32,
    data: Vec<u8>,
) -> Result<gst::Buffer, MediaError> {
    let planes = format.planes(width, height);
    let want: usize = planes.iter().map(|(row, rows)| row * rows).sum();
    if format.raw().is_some() && data.len() != want {
        return Err(MediaError::Source(format!(
            "a {format:?} frame of {width}x{height} has {want} bytes, not {}",
            data.len()
        )));
    }
    let mut buffer = gst::Buffer::from_mut_slice(data);
    if let (Some(raw), Some(b)) = (format.raw(), buffer.get_mut()) {
        let mut offsets = Vec::new();
        let mut at = 0;
        for (row, rows) in &planes {
            offsets.push(at);
            at += row * rows;
        }
        let strides: Vec<i32> = planes.iter().map(|(row, _)| *row as i32).collect();
        gst_video::VideoMeta::add_full(
            b,
            gst_video::VideoFrameFlags::empty(),
            raw,
            width,
            height,
            &offsets,
            &strides,
        )
        .map_err(|e| MediaError::Source(format!("frame layout: {e}")))?;
    }
    Ok(buffer)
}

/// A black frame in `format` (tightly packed, as [`frame`] takes it), for the raw formats.
pub fn black(format: FrameFormat, width: u32, height: u32) -> Option<Vec<u8>> {
    let (w, h) = (width as usize, height as usize);
    match format {
        FrameFormat::Mjpeg => None,
        FrameFormat::Yuyv => Some([16, 128].repeat(w.div_ceil(2) * 2 * h)),
        FrameFormat::Nv12 => {
            let mut f = vec![16; w * h];
            f.resize(w * h + w.div_ceil(2) * 2 * h.div_ceil(2), 128);
            Some(f)
        }
        FrameFormat::Gray => Some(vec![0; w * h]),
        FrameFormat::Rgb => Some(vec![0; w * h * 3]),
    }
}

/// Motion JPEG frames decoded one at a time (`appsrc ! jpegdec ! appsink`), so that the camera
/// source hands on raw pictures whatever its camera sends: a camera that stands in for another
/// in another format then only changes the caps, which the converter after it follows.
pub struct JpegDecoder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    sink: gst_app::AppSink,
}

impl JpegDecoder {
    /// A decoder for JPEG frames of `width`x`height` at `fps`.
    pub fn new(width: u32, height: u32, fps: u32) -> Result<JpegDecoder, MediaError> {
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(&caps(FrameFormat::Mjpeg, width, height, fps))
            .format(gst::Format::Time)
            .build();
        let decoder = gst::ElementFactory::make("jpegdec")
            .build()
            .map_err(|_| MediaError::MissingElement("jpegdec".into()))?;
        let sink = gst_app::AppSink::builder().sync(false).build();
        pipeline.add_many([src.upcast_ref(), &decoder, sink.upcast_ref()])?;
        gst::Element::link_many([src.upcast_ref(), &decoder, sink.upcast_ref()])?;
        pipeline.set_state(gst::State::Playing)?;
        Ok(JpegDecoder {
            pipeline,
            src,
            sink,
        })
    }

    /// The picture in one JPEG frame (its caps say its format), or an error for a frame that
    /// does not decode.
    pub fn decode(&self, jpeg: gst::Buffer) -> Result<gst::Sample, MediaError> {
        self.src
            .push_buffer(jpeg)
            .map_err(|e| MediaError::Source(format!("the JPEG decoder: {e}")))?;
        // The decoder answers each frame at once; the limit only guards a broken one.
        self.sink
            .try_pull_sample(gst::ClockTime::from_seconds(1))
            .ok_or_else(|| MediaError::Source("a camera frame that does not decode".into()))
    }
}

impl Drop for JpegDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use gst_video::prelude::*;

    use super::*;

    const W: u32 = 322;
    const H: u32 = 240;

    /// A test picture (colour bars: every channel matters) in `caps`, pulled through
    /// `tail` (e.g. an encoder) from one run of `gst-launch`-style elements.
    fn picture(caps: &str, tail: &str) -> gst::Sample {
        let description = format!(
            "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,width={W},height={H},\
             framerate=30/1 ! videoconvert ! {caps} {tail} ! appsink name=out sync=false"
        );
        let pipeline = gst::parse::launch(&description)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let sink = pipeline
            .by_name("out")
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let sample = sink.pull_sample().unwrap();
        pipeline.set_state(gst::State::Null).unwrap();
        sample
    }

    /// The frame's planes copied row by row without padding: what a camera library hands over.
    fn packed(sample: &gst::Sample, format: FrameFormat) -> Vec<u8> {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
                .unwrap();
        let mut out = Vec::new();
        for (i, (row, rows)) in format.planes(W, H).into_iter().enumerate() {
            let stride = frame.plane_stride()[i] as usize;
            let data = frame.plane_data(i as u32).unwrap();
            for r in 0..rows {
                out.extend_from_slice(&data[r * stride..r * stride + row]);
            }
        }
        out
    }

    /// `frame` as the camera source hands it on (a JPEG decoded) through `videoconvert` into
    /// I420, as the send chain takes it.
    fn converted(format: FrameFormat, buffer: gst::Buffer) -> Vec<Vec<u8>> {
        let (caps, buffer) = match format {
            FrameFormat::Mjpeg => {
                let picture = JpegDecoder::new(W, H, 30).unwrap().decode(buffer).unwrap();
                (
                    picture.caps().unwrap().to_owned(),
                    picture.buffer_owned().unwrap(),
                )
            }
            _ => (caps(format, W, H, 30), buffer),
        };
        let convert = gst::ElementFactory::make("videoconvert").build().unwrap();
        through(&caps, convert, buffer)
    }

    /// A sample as GStreamer made it (its own caps and layout) into I420.
    fn directly(sample: &gst::Sample, jpeg: bool) -> Vec<Vec<u8>> {
        let convert = match jpeg {
            true => gst::parse::bin_from_description("jpegdec ! videoconvert", true)
                .unwrap()
                .upcast(),
            false => gst::ElementFactory::make("videoconvert").build().unwrap(),
        };
        through(
            &sample.caps().unwrap().to_owned(),
            convert,
            sample.buffer_owned().unwrap(),
        )
    }

    /// `buffer` with `caps` through `convert` into I420.
    fn through(caps: &gst::Caps, convert: gst::Element, buffer: gst::Buffer) -> Vec<Vec<u8>> {
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(caps)
            .format(gst::Format::Time)
            .build();
        let i420 = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                gst::Caps::builder("video/x-raw")
                    .field("format", "I420")
                    .build(),
            )
            .build()
            .unwrap();
        let sink = gst_app::AppSink::builder().sync(false).build();
        pipeline
            .add_many([src.upcast_ref(), &convert, &i420, sink.upcast_ref()])
            .unwrap();
        gst::Element::link_many([src.upcast_ref(), &convert, &i420, sink.upcast_ref()]).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        src.push_buffer(buffer).unwrap();
        src.end_of_stream().unwrap();
        let sample = sink.pull_sample().unwrap();
        pipeline.set_state(gst::State::Null).unwrap();
        planes_of(&sample)
    }

    /// The three planes of an I420 sample, without row padding.
    fn planes_of(sample: &gst::Sample) -> Vec<Vec<u8>> {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        assert_eq!(info.format(), gst_video::VideoFormat::I420);
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
                .unwrap();
        (0..3)
            .map(|i| {
                let (w, h) = if i == 0 {
                    (W as usize, H as usize)
                } else {
                    (W.div_ceil(2) as usize, H.div_ceil(2) as usize)
                };
                let stride = frame.plane_stride()[i] as usize;
                let data = frame.plane_data(i as u32).unwrap();
                (0..h)
                    .flat_map(|r| data[r * stride..r * stride + w].iter().copied())
                    .collect()
            })
            .collect()
    }

    fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let sum: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.len() as f64
    }

    /// Each format a camera delivers, packed as a camera library hands it over (at a width
    /// whose rows GStreamer would pad), comes out of the converter as the very picture GStreamer
    /// makes of the same frame in its own layout, and close to the original picture (within
    /// subsampling and JPEG's loss; RGB is left out there, its colour matrix differs from the
    /// test source's). A mislabelled layout (U and V swapped, a plane or a row in the wrong
    /// place) moves the colours by tens of levels.
    #[test]
    fn camera_formats_convert_to_the_encoders_picture() {
        gst::init().unwrap();
        let reference = planes_of(&picture("video/x-raw,format=I420", ""));
        for (format, caps, tail, within) in [
            (FrameFormat::Yuyv, "video/x-raw,format=YUY2", "", Some(2.0)),
            (FrameFormat::Nv12, "video/x-raw,format=NV12", "", Some(1.0)),
            (FrameFormat::Rgb, "video/x-raw,format=RGB", "", None),
            (
                FrameFormat::Mjpeg,
                "video/x-raw,format=I420",
                "! jpegenc quality=95",
                Some(4.0),
            ),
        ] {
            let sample = picture(caps, tail);
            let jpeg = format == FrameFormat::Mjpeg;
            let data = match jpeg {
                true => sample.buffer().unwrap().map_readable().unwrap().to_vec(),
                false => packed(&sample, format),
            };
            let out = converted(format, frame(format, W, H, data).unwrap());
            let same = directly(&sample, jpeg);
            for (plane, (got, want)) in out.iter().zip(&same).enumerate() {
                let d = mean_difference(got, want);
                assert!(
                    d < 0.01,
                    "{format:?}: plane {plane} differs by {d:.2} levels"
                );
            }
            let Some(within) = within else { continue };
            for (plane, (got, want)) in out.iter().zip(&reference).enumerate() {
                let d = mean_difference(got, want);
                assert!(
                    d <= within,
                    "{format:?}: plane {plane} differs from the original by {d:.2} levels"
                );
            }
        }
    }

    /// Grey keeps the brightness and has no colour.
    #[test]
    fn grey_frames_convert_to_grey() {
        gst::init().unwrap();
        let reference = planes_of(&picture("video/x-raw,format=I420", ""));
        let sample = picture("video/x-raw,format=GRAY8", "");
        let data = packed(&sample, FrameFormat::Gray);
        let out = converted(
            FrameFormat::Gray,
            frame(FrameFormat::Gray, W, H, data).unwrap(),
        );
        assert!(mean_difference(&out[0], &reference[0]) <= 2.0);
        for chroma in &out[1..] {
            assert!(chroma.iter().all(|c| c.abs_diff(128) <= 1));
        }
    }

    /// The picture sent while no camera is there is black in every raw format.
    #[test]
    fn black_frames_are_black_in_every_raw_format() {
        gst::init().unwrap();
        for format in [
            FrameFormat::Yuyv,
            FrameFormat::Nv12,
            FrameFormat::Gray,
            FrameFormat::Rgb,
        ] {
            let data = black(format, W, H).unwrap();
            assert_eq!(Some(data.len()), format.bytes(W, H), "{format:?}");
            let planes = converted(format, frame(format, W, H, data).unwrap());
            assert!(planes[0].iter().all(|&y| y <= 17), "{format:?}");
            assert!(
                planes[1..].iter().flatten().all(|&c| c.abs_diff(128) <= 1),
                "{format:?}"
            );
        }
        assert_eq!(black(FrameFormat::Mjpeg, W, H), None);
    }

    /// A frame whose size does not fit its format is refused, not misread.
    #[test]
    fn a_frame_of_the_wrong_size_is_refused() {
        let e = frame(FrameFormat::Nv12, W, H, vec![0; 100]).unwrap_err();
        assert!(e.to_string().contains("has 115920 bytes, not 100"), "{e}");
    }
}
