//! The picture of a decoded video frame, shared by the call, the meeting setup and the
//! viewer.

use iced::widget::image;

/// A decoded frame's RGBA buffer, as the bytes of an image handle.
struct SharedRgba(std::sync::Arc<Vec<u8>>);

/// An image of a decoded RGBA frame. The frame's buffer is shared with the engine, not copied
/// (30 times a second for each person, a copy would be most of the drawing's memory traffic).
pub fn picture(width: u32, height: u32, rgba: std::sync::Arc<Vec<u8>>) -> image::Handle {
    image::Handle::from_rgba(width, height, bytes::Bytes::from_owner(SharedRgba(rgba)))
}

impl AsRef<[u8]> for SharedRgba {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
