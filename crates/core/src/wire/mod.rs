//! Wire types: what crosses the network or is stored, versioned, and converted by hand to domain
//! types. One module per concern: `frames` (the WebSocket's text messages), `echo` (its binary
//! echo frames), `evidence` (batches, task results and the stored, hashed evidence), `verdict`
//! (the signed claim), `token` (other edges' signed measurements) and `http` (the HTTP API's
//! JSON bodies).
//!
//! Text frames carry JSON messages tagged by `t`. Binary frames carry echo probes: the edge sends
//! [`ECHO_TAG`] followed by a little-endian `u32` sequence number, and the probe answers with the
//! same bytes followed by its own clock, so the edge times the round trip on its own clock and
//! estimates the page clock's offset.

use serde::{Deserialize, Serialize};

mod echo;
mod evidence;
mod frames;
mod http;
mod token;
mod verdict;

pub use echo::*;
pub use evidence::*;
pub use frames::*;
pub use http::*;
pub use token::*;
pub use verdict::*;

/// The protocol version spoken on the WebSocket.
pub const PROTOCOL_VERSION: u32 = 1;
/// The first byte of an echo frame.
pub const ECHO_TAG: u8 = 1;
/// The length of an echo frame in bytes.
pub const ECHO_LEN: usize = 5;
/// The largest text frame either side accepts (bytes).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// The most presses one evidence batch may carry.
pub const MAX_STROKES_PER_BATCH: usize = 512;
/// The most pointer samples one evidence batch may carry.
pub const MAX_POINTER_PER_BATCH: usize = 1024;
/// The most focus changes one evidence batch may carry.
pub const MAX_FOCUS_PER_BATCH: usize = 64;
/// The most beats, taps and target points a challenge result may carry.
pub const MAX_BEATS: usize = 200;
pub const MAX_TAPS: usize = 400;
pub const MAX_TARGET_POINTS: usize = 2_400;
/// The coarsest clock step a page may report (µs): one second.
pub const MAX_TIMER_RESOLUTION_US: u32 = 1_000_000;
/// Pointer coordinates beyond this (px) are not on any screen.
pub(crate) const MAX_ABS_COORDINATE_PX: f64 = 1_000_000.0;
/// Times further than this from zero (µs, about 31 years) are not page timestamps.
pub(crate) const MAX_ABS_TIME_US: i64 = 1_000_000_000_000_000;

// Bounds on every decoded quantity, checked here and nowhere else: past the boundary, the cost
// of scoring a session is bounded by construction (a tracking run of a minute is 12,000 grid
// points; one of 9×10⁸ s asked for 2.9 TB).

/// A task's window (first to last beat, start to end of tracking) is at most this long (µs);
/// both tasks take about 15 s.
pub const MAX_TASK_SPAN_US: i64 = 60_000_000;
/// A tap further than this from the first or last beat answers no beat (µs).
pub const MAX_TAP_OUTSIDE_BEATS_US: i64 = 5_000_000;
/// Target points may be drawn this long before the task window opens or after it closes (µs):
/// the first frame is scheduled before the start is recorded.
pub const TARGET_SLACK_US: i64 = 1_000_000;
/// A key is held down at most this long (µs); the held-key task asks for about two seconds.
pub const MAX_HOLD_US: i64 = 60_000_000;
/// One auto-repeat gap is at most this long (µs); browsers repeat every 30-500 ms.
pub const MAX_REPEAT_GAP_US: u32 = 5_000_000;
/// The page's reported frame interval and input delay are at most this (µs).
pub const MAX_FRAME_TIMING_US: i64 = 1_000_000;
/// Screens are at most this many pixels across.
pub const MAX_SCREEN_PX: u32 = 100_000;
/// Session ids and capability tokens are at most this many bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Why a frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("frame is {0} bytes; the limit is {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("batch carries {0} presses; the limit is {MAX_STROKES_PER_BATCH}")]
    TooManyStrokes(usize),
    #[error("batch carries {0} pointer samples; the limit is {MAX_POINTER_PER_BATCH}")]
    TooManyPointerSamples(usize),
    #[error("batch carries {0} focus changes; the limit is {MAX_FOCUS_PER_BATCH}")]
    TooManyFocusChanges(usize),
    #[error("pointer sample {index} is invalid: {why}")]
    InvalidPointer { index: usize, why: &'static str },
    #[error("challenge result is invalid: {0}")]
    InvalidChallenge(&'static str),
    #[error("unknown key class {0:?}")]
    UnknownClass(String),
    #[error("press {index} is invalid: {why}")]
    InvalidStroke { index: usize, why: &'static str },
    #[error("unsupported protocol version {0}; this edge speaks {PROTOCOL_VERSION}")]
    Version(u32),
}

/// Who is on the other end of a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Candidate,
    Interviewer,
}

#[cfg(test)]
mod tests;
