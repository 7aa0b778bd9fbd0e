//! Screen sharing on Wayland. A Wayland client cannot read the screen itself: it asks the
//! desktop portal (`org.freedesktop.portal.ScreenCast`, through `ashpd`), the desktop asks the
//! user which screen or window to share (in its own dialog), and grants a PipeWire stream of
//! it, which `pipewiresrc` captures through the connection the portal opened. The session
//! stays open while the screen is shared (the desktop shows that it is) and is closed when
//! sharing stops.
//!
//! The question is asked by the call's task without holding up the call (the dialog may stay
//! open a while, `call/run.rs`); the media only uses what was granted.

use std::os::fd::{AsRawFd, OwnedFd};

use ashpd::desktop::PersistMode;
use ashpd::desktop::Session;
use ashpd::desktop::screencast::{CursorMode, Screencast, SelectSourcesOptions, SourceType};
use gst::prelude::*;

use super::MediaError;
use super::source::{CaptureSource, Kind, then_convert};

/// Whether sharing the screen goes through the portal: the session is a Wayland one.
pub fn needed() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

/// A screen or window the user chose to share: the portal's session and its PipeWire stream.
pub struct ScreenGrant {
    proxy: Screencast,
    session: Session<Screencast>,
    /// The connection to PipeWire the portal opened for us (it sees only the granted stream).
    remote: OwnedFd,
    /// The stream's PipeWire node.
    node: u32,
}

impl std::fmt::Debug for ScreenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScreenGrant(node {})", self.node)
    }
}

impl ScreenGrant {
    /// Ask the desktop to share a screen or a window; the user answers in its dialog. A
    /// refusal, or a desktop without the portal, is an error the user can read.
    pub async fn ask() -> Result<ScreenGrant, MediaError> {
        let failed = |e: ashpd::Error| {
            MediaError::Source(match e {
                ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled) => {
                    "screen sharing was cancelled".to_string()
                }
                e => format!("the desktop did not share the screen: {e}"),
            })
        };
        let proxy = Screencast::new().await.map_err(failed)?;
        let session = proxy
            .create_session(Default::default())
            .await
            .map_err(failed)?;
        proxy
            .select_sources(
                &session,
                SelectSourcesOptions::default()
                    .set_cursor_mode(CursorMode::Embedded)
                    .set_sources(SourceType::Monitor | SourceType::Window)
                    .set_multiple(false)
                    .set_persist_mode(PersistMode::DoNot),
            )
            .await
            .map_err(failed)?;
        let streams = proxy
            .start(&session, None, Default::default())
            .await
            .map_err(failed)?
            .response()
            .map_err(failed)?;
        let Some(stream) = streams.streams().first() else {
            let _ = session.close().await;
            return Err(MediaError::Source(
                "the desktop shared no screen or window".into(),
            ));
        };
        let node = stream.pipe_wire_node_id();
        let remote = match proxy
            .open_pipe_wire_remote(&session, Default::default())
            .await
        {
            Ok(fd) => fd,
            Err(e) => {
                let _ = session.close().await;
                return Err(failed(e));
            }
        };
        Ok(ScreenGrant {
            proxy,
            session,
            remote,
            node,
        })
    }

    /// End the session: the desktop stops the stream and no longer shows it as shared. The
    /// call to the portal is made on a thread of its own (zbus drives it there), so stopping
    /// never waits on the desktop.
    pub fn close(self) {
        let ScreenGrant { proxy, session, .. } = self;
        let _ = std::thread::Builder::new()
            .name("portal-close".into())
            .spawn(move || {
                let _ = ashpd::zbus::block_on(session.close());
                drop(proxy);
            });
    }
}

impl CaptureSource for ScreenGrant {
    fn kind(&self) -> Kind {
        Kind::Video
    }

    fn describe(&self) -> String {
        "the screen the desktop shares".into()
    }

    /// `pipewiresrc` on the granted stream (it connects through its own copy of the portal's
    /// connection), converted as every source is.
    fn build(&self) -> Result<gst::Element, MediaError> {
        let src = gst::ElementFactory::make("pipewiresrc")
            .build()
            .map_err(|_| MediaError::MissingElement("pipewiresrc".into()))?;
        src.set_property("fd", self.remote.as_raw_fd());
        src.set_property("path", self.node.to_string());
        // A screen that does not change sends no new frames: the last one is sent again so
        // a newcomer and the encoder get pictures.
        if src.find_property("keepalive-time").is_some() {
            src.set_property("keepalive-time", 1000i32);
        }
        then_convert(&src, "videoconvert")
    }
}
