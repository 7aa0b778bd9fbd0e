//! A desktop portal backend for the tests: `org.freedesktop.impl.portal.ScreenCast` on the
//! session bus, standing in for the desktop's own (the part that asks the user and makes the
//! PipeWire stream of the chosen screen). The real `xdg-desktop-portal` talks to it, and the
//! real PipeWire carries the stream. It grants every request without asking, and the stream is
//! a picture of one colour made by GStreamer's `pipewiresink` (a "screen" that can be
//! recognised at the far end of a call).
//!
//! Why a stand-in: the wlroots backend (`xdg-desktop-portal-wlr` 0.7) refuses every screencast
//! when the compositor renders with pixman, as it must on a machine without a GPU (its issue
//! #289), so its granting path cannot run here.
//!
//! `assent-test-portal NAME COLOUR`: owns `org.freedesktop.impl.portal.desktop.NAME`, shares
//! a 320x240 picture of `COLOUR` (`0xAARRGGBB`), prints `ready` once it serves.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use zbus::object_server::ObjectServer;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// What `Start` answers: the response code (0: granted) and its results.
type Answer = (u32, HashMap<String, OwnedValue>);

struct ScreenCast {
    colour: String,
    /// The `gst-launch-1.0` making the stream, once started.
    stream: Mutex<Option<(Child, u32)>>,
}

#[zbus::interface(name = "org.freedesktop.impl.portal.ScreenCast")]
impl ScreenCast {
    async fn create_session(
        &self,
        #[zbus(object_server)] server: &ObjectServer,
        _handle: OwnedObjectPath,
        session_handle: OwnedObjectPath,
        _app_id: String,
        _options: HashMap<String, OwnedValue>,
    ) -> Answer {
        let _ = server.at(session_handle, Session).await;
        (0, HashMap::new())
    }

    async fn select_sources(
        &self,
        _handle: OwnedObjectPath,
        _session_handle: OwnedObjectPath,
        _app_id: String,
        _options: HashMap<String, OwnedValue>,
    ) -> Answer {
        (0, HashMap::new())
    }

    async fn start(
        &self,
        _handle: OwnedObjectPath,
        _session_handle: OwnedObjectPath,
        _app_id: String,
        _parent_window: String,
        _options: HashMap<String, OwnedValue>,
    ) -> Answer {
        let node = match self.node() {
            Ok(node) => node,
            Err(why) => {
                eprintln!("assent-test-portal: {why}");
                return (2, HashMap::new());
            }
        };
        let mut props = HashMap::new();
        props.insert("source_type".to_string(), OwnedValue::from(1u32));
        let size = Value::from((320i32, 240i32));
        if let Ok(size) = OwnedValue::try_from(size) {
            props.insert("size".to_string(), size);
        }
        let streams = Value::from(vec![(node, props)]);
        let mut results = HashMap::new();
        if let Ok(streams) = OwnedValue::try_from(streams) {
            results.insert("streams".to_string(), streams);
        }
        (0, results)
    }

    #[zbus(property)]
    fn available_source_types(&self) -> u32 {
        // Monitor and window.
        3
    }

    #[zbus(property)]
    fn available_cursor_modes(&self) -> u32 {
        // Hidden and embedded.
        3
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        4
    }
}

impl ScreenCast {
    /// The stream's PipeWire node: made on first use, found by its name.
    fn node(&self) -> Result<u32, String> {
        let mut stream = self.stream.lock().map_err(|_| "lock".to_string())?;
        if let Some((_, node)) = stream.as_ref() {
            return Ok(*node);
        }
        let name = format!("assent-test-screen-{}", std::process::id());
        let child = Command::new("gst-launch-1.0")
            .args([
                "-q",
                "videotestsrc",
                "is-live=true",
                "pattern=solid-color",
                &format!("foreground-color={}", self.colour),
                "!",
                "video/x-raw,format=BGRx,width=320,height=240,framerate=15/1",
                "!",
                "pipewiresink",
                "mode=provide",
                &format!("stream-properties=props,media.class=Video/Source,node.name={name}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("gst-launch-1.0: {e}"))?;
        let node = watch_for_node(&name, Duration::from_secs(20))
            .ok_or_else(|| format!("no PipeWire node {name}"))?;
        *stream = Some((child, node));
        Ok(node)
    }
}

/// The id of the PipeWire node called `name`, as it appears: `pw-dump --monitor` prints the
/// graph and then each change, as JSON arrays of objects.
fn watch_for_node(name: &str, timeout: Duration) -> Option<u32> {
    let mut dump = Command::new("pw-dump")
        .arg("--monitor")
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let out = dump.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let name = name.to_string();
    std::thread::spawn(move || {
        let stream = serde_json::Deserializer::from_reader(out).into_iter::<serde_json::Value>();
        for objects in stream {
            let Ok(objects) = objects else { return };
            if let Some(id) = objects.as_array().into_iter().flatten().find_map(|o| {
                let named = o["info"]["props"]["node.name"].as_str() == Some(name.as_str());
                let node = o["type"].as_str() == Some("PipeWire:Interface:Node");
                (named && node).then(|| o["id"].as_u64())??.try_into().ok()
            }) {
                let _ = tx.send(id);
                return;
            }
        }
    });
    let node = rx.recv_timeout(timeout).ok();
    let _ = dump.kill();
    let _ = dump.wait();
    node
}

/// A session: the portal closes it when the client does.
struct Session;

#[zbus::interface(name = "org.freedesktop.impl.portal.Session")]
impl Session {
    async fn close(
        &self,
        #[zbus(object_server)] server: &ObjectServer,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        if let Some(path) = header.path() {
            let _ = server.remove::<Session, _>(path.clone()).await;
        }
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, name, colour] = args.as_slice() else {
        return Err("usage: assent-test-portal NAME COLOUR".into());
    };
    let cast = ScreenCast {
        colour: colour.clone(),
        stream: Mutex::new(None),
    };
    let _connection = zbus::blocking::connection::Builder::session()?
        .name(format!("org.freedesktop.impl.portal.desktop.{name}"))?
        .serve_at("/org/freedesktop/portal/desktop", cast)?
        .build()?;
    println!("ready");
    loop {
        std::thread::park();
    }
}
