//! Cameras, microphones and speakers, as the device pickers list them (GStreamer's device
//! monitor: Video4Linux, PulseAudio/PipeWire, ALSA).

use gst::prelude::*;
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

/// Every camera, microphone and speaker present now.
pub fn list() -> super::Result<Vec<Device>> {
    super::init()?;
    let monitor = gst::DeviceMonitor::new();
    for class in ["Video/Source", "Audio/Source", "Audio/Sink"] {
        monitor.add_filter(Some(class), None);
    }
    if monitor.start().is_err() {
        // No provider could start (no device subsystem at all): no devices.
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for d in monitor.devices() {
        let class = d.device_class();
        let kind = if class.contains("Video/Source") {
            DeviceKind::Camera
        } else if class.contains("Audio/Source") {
            DeviceKind::Microphone
        } else if class.contains("Audio/Sink") {
            DeviceKind::Speaker
        } else {
            continue;
        };
        let id = d.properties().and_then(|p| {
            ["device.path", "api.v4l2.path", "node.name", "device.string"]
                .iter()
                .find_map(|k| p.get::<String>(*k).ok())
        });
        out.push(Device {
            kind,
            name: d.display_name().to_string(),
            id,
        });
    }
    monitor.stop();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn listing_works_without_devices() {
        // A build machine has no camera or microphone: the list may be empty, but listing works.
        let devices = super::list().unwrap();
        assert!(devices.iter().all(|d| !d.name.is_empty()));
    }
}
