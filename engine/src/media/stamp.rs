//! Frame stamps for the latency benchmark: the sender writes the capture time (wall clock, µs,
//! 40 bits) into the top rows of each raw frame as black and white blocks; the receiver reads
//! them back from the decoded frame. Both ends run on one machine, so one clock: the difference
//! is the glass-to-glass latency minus the camera and the screen.

use std::sync::Arc;

use gst::prelude::*;
use gst_video::prelude::*;

use super::stats::PeerCounters;

const BITS: u32 = 40;
const ROWS: u32 = 16;
const MASK: u64 = (1 << BITS) - 1;
const BLACK: u8 = 16;
const WHITE: u8 = 235;

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Write `value` into a luma plane.
pub fn write(plane: &mut [u8], stride: usize, width: u32, value: u64) {
    let bw = (width / BITS) as usize;
    for bit in 0..BITS as usize {
        let on = (value >> (BITS as usize - 1 - bit)) & 1 == 1;
        let v = if on { WHITE } else { BLACK };
        for row in 0..ROWS as usize {
            let start = row * stride + bit * bw;
            if let Some(px) = plane.get_mut(start..start + bw) {
                px.fill(v);
            }
        }
    }
}

/// Read a value written by [`write`] (from the middle of each block, after lossy coding).
pub fn read(plane: &[u8], stride: usize, width: u32) -> Option<u64> {
    let bw = (width / BITS) as usize;
    if bw < 4 {
        return None;
    }
    let mut value = 0u64;
    for bit in 0..BITS as usize {
        let mut sum = 0u32;
        let mut n = 0u32;
        for row in (ROWS as usize / 4)..(3 * ROWS as usize / 4) {
            for col in (bw / 4)..(3 * bw / 4) {
                sum += u32::from(*plane.get(row * stride + bit * bw + col)?);
                n += 1;
            }
        }
        value = (value << 1) | u64::from(sum / n.max(1) > 128);
    }
    Some(value)
}

/// Read a value written by [`write`] from an RGBA picture (its red channel follows the
/// luma of the black and white blocks).
pub fn read_rgba(rgba: &[u8], width: u32) -> Option<u64> {
    let w = width as usize;
    let rows = ROWS as usize;
    let red: Vec<u8> = rgba
        .get(..w * rows * 4)?
        .iter()
        .step_by(4)
        .copied()
        .collect();
    read(&red, w, width)
}

/// Glass-to-glass latency of a picture shown now, from its stamp (µs), if it has one.
pub fn age_rgba(rgba: &[u8], width: u32) -> Option<u64> {
    let stamp = read_rgba(rgba, width)?;
    let age = (now_us() & MASK).wrapping_sub(stamp) & MASK;
    // Anything over 10 s is a misread, not a latency.
    (age < 10_000_000).then_some(age)
}

/// Stamp every frame passing `pad` (raw I420 of `width`×`height`).
pub fn add_writer(pad: &gst::Pad, width: u32, height: u32) {
    let Ok(info) =
        gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height).build()
    else {
        return;
    };
    if width / BITS < 4 {
        return;
    }
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, probe| {
        if let Some(buffer) = probe.buffer_mut() {
            let buf = buffer.make_mut();
            if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info) {
                let stride = frame.plane_stride()[0] as usize;
                if let Ok(plane) = frame.plane_data_mut(0) {
                    write(plane, stride, width, now_us() & MASK);
                }
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Read stamps from decoded frames at `pad` and record the latency.
pub fn add_reader(pad: &gst::Pad, counters: Arc<PeerCounters>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
        let (Some(buf), Some(caps)) = (probe.buffer(), pad.current_caps()) else {
            return gst::PadProbeReturn::Ok;
        };
        let Ok(info) = gst_video::VideoInfo::from_caps(&caps) else {
            return gst::PadProbeReturn::Ok;
        };
        if info.format() != gst_video::VideoFormat::I420 {
            return gst::PadProbeReturn::Ok;
        }
        if let Ok(frame) = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info) {
            let stride = frame.plane_stride()[0] as usize;
            if let Ok(plane) = frame.plane_data(0)
                && let Some(stamp) = read(plane, stride, info.width())
            {
                let age = (now_us() & MASK).wrapping_sub(stamp) & MASK;
                // Anything over 10 s is a misread, not a latency.
                if age < 10_000_000 {
                    counters.push_latency(age);
                }
            }
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_noise() {
        let (w, stride) = (640u32, 672usize);
        let mut plane = vec![0u8; stride * 20];
        let v = 0x12_3456_789A & MASK;
        write(&mut plane, stride, w, v);
        assert_eq!(read(&plane, stride, w), Some(v));
        // Coding noise of ±40 on every pixel does not change the value.
        for (i, p) in plane.iter_mut().enumerate() {
            *p = if i % 2 == 0 {
                p.saturating_add(40)
            } else {
                p.saturating_sub(40)
            };
        }
        assert_eq!(read(&plane, stride, w), Some(v));
        assert_eq!(read(&plane, stride, 100), None);
    }

    /// A stamp survives the conversion to RGBA (read from the red channel).
    #[test]
    fn read_from_rgba() {
        let w = 320u32;
        let mut plane = vec![BLACK; w as usize * ROWS as usize];
        write(&mut plane, w as usize, w, 0xAB_CDEF_0123);
        let rgba: Vec<u8> = plane.iter().flat_map(|&y| [y, y, y, 255]).collect();
        assert_eq!(read_rgba(&rgba, w), Some(0xAB_CDEF_0123));
        assert_eq!(read_rgba(&rgba[..100], w), None);
    }
}
