//! The browser side of onsite, and the only crate that touches `web-sys`: it captures key and
//! pointer timings (never key identities), answers the edge's echo probes, streams evidence
//! batches until they are acknowledged, and offers the page helpers the Leptos app needs. Host
//! pages use it from JavaScript through the `Probe` class.
//!
//! Everything that decides anything lives in `onsite-core`; this crate only observes and carries.

pub mod candidate;
pub mod capture;
mod js;
mod listen;
pub mod page;
pub mod pointer;
pub mod socket;
pub mod tasks;

pub use candidate::{CandidateProbe, ProbeConfig, ProbeStatus};
pub use capture::{KeyCapture, KeyRecorder};
pub use pointer::{PointerCapture, PointerRecorder};
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
    // JavaScript's own text rather than Rust's Debug, which would pull float formatting into the wasm.
    use wasm_bindgen::JsCast as _;
    if let Some(text) = value.as_string() {
        return text;
    }
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return error.message().into();
    }
    js_sys::JSON::stringify(value)
        .map(String::from)
        .unwrap_or_else(|_| "an unknown error".to_owned())
}
