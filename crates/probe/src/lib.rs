//! The browser side of onsite, and the only crate that touches `web-sys`: it captures key timings
//! (never key identities), answers the edge's echo probes, streams evidence batches until they are
//! acknowledged, and offers the page helpers the Leptos app needs.
//!
//! Everything that decides anything lives in `onsite-core`; this crate only observes and carries.

pub mod candidate;
pub mod keys;
pub mod page;
pub mod socket;

pub use candidate::{CandidateProbe, ProbeStatus};
pub use keys::{KeyCapture, KeyRecorder};
pub use socket::{EdgeSocket, SocketEvent};

/// Why the probe could not do what it was asked.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProbeError {
    #[error("this browser lacks {0}")]
    Unsupported(&'static str),
    #[error("cannot open a connection to {url}: {why}")]
    Connect { url: String, why: String },
    #[error("the connection is not open")]
    NotOpen,
    #[error("request to {url} failed: {why}")]
    Fetch { url: String, why: String },
}

/// Describes a JavaScript exception for an error message.
pub(crate) fn describe(value: &wasm_bindgen::JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
