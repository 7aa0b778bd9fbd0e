//! The Assent client engine: everything the desktop window and the headless command line share.
//! It owns the IO (HTTP and WebSocket to the rendezvous server, GStreamer media, the keyring,
//! the local store) around pure state machines (the call machine here, consent in `shared`).

pub mod account;
pub mod api;
pub mod audit;
pub mod call;
pub mod keyring;
pub mod library;
pub mod media;
pub mod recorder;
pub mod signaling;
pub mod store;
pub mod transparency;
pub mod upload;
