//! Wire types: what crosses the network or is stored, versioned, and converted by hand to domain
//! types.
//!
//! Text frames carry JSON messages tagged by `t`. Binary frames carry echo probes: the edge sends
//! [`ECHO_TAG`] followed by a little-endian `u32` sequence number, and the probe sends the same
//! bytes straight back, so the edge times the round trip on its own clock.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codes::ErrorCode;
use crate::estimators::{Answer, FrameTiming, Outcome, Point, Rhythm};
use crate::evidence::{ClaimedLocation, EdgeSite};
use crate::evidence::{
    Environment, Evidence, FocusChange, FocusKind, KeyClass, KeyStroke, PointerDevice, PointerKind,
    PointerSample, Renderer, TrackingRun, MAX_REPEAT_GAPS,
};
use crate::geo::LatLon;
use crate::verdict::{Reason, Verdict};

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
const MAX_ABS_COORDINATE_PX: f64 = 1_000_000.0;
/// Times further than this from zero (µs, about 31 years) are not page timestamps.
const MAX_ABS_TIME_US: i64 = 1_000_000_000_000_000;

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

/// One key press on the wire. Unknown fields are refused, so a key identity cannot ride along.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrokeV1 {
    pub down_us: i64,
    pub up_us: i64,
    pub class: String,
    pub repeats: u32,
    /// Key-down to first repeat, then repeat to repeat (µs); absent when the key did not repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeat_gaps_us: Vec<u32>,
    pub trusted: bool,
}

/// One pointer event on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointerV1 {
    pub at_us: i64,
    /// `move`, `down` or `up`.
    pub kind: PointerKindName,
    pub x_px: f64,
    pub y_px: f64,
    pub coalesced: u16,
    /// `mouse`, `pen`, `touch` or `other`.
    pub device: PointerDeviceName,
    pub trusted: bool,
}

/// A pointer event kind on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointerKindName {
    Move,
    Down,
    Up,
}

/// A pointer device on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointerDeviceName {
    Mouse,
    Pen,
    Touch,
    Other,
}

/// A focus or visibility change on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusV1 {
    pub at_us: i64,
    /// `focus`, `blur`, `visible` or `hidden`.
    pub kind: FocusKindName,
}

/// A focus change kind on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FocusKindName {
    Focus,
    Blur,
    Visible,
    Hidden,
}

/// One evidence batch: what one `evidence` message carries, and, validated and re-encoded, what
/// the edge stores. [`BatchV1::decode`] is the one place it is validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchV1 {
    /// Batches count from 1 on the wire; stored rows carry their number in their own column.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub seq: u64,
    pub strokes: Vec<StrokeV1>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pointer: Vec<PointerV1>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub focus: Vec<FocusV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rhythm: Option<RhythmV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<FrameTimingV1>,
    /// Round trips the browser timed itself (µs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_rtt_us: Vec<u32>,
    /// The step of the page's clock the probe has seen so far (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_resolution_us: Option<u32>,
}

/// Whether a challenge ran or was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusName {
    Done,
    Skipped,
}

/// How the rhythm was tapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerName {
    Key,
    Pointer,
}

/// A rhythm task result on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RhythmV1 {
    pub status: StatusName,
    #[serde(default)]
    pub beats_at_us: Vec<i64>,
    #[serde(default)]
    pub shift_at_beat: Option<u32>,
    #[serde(default)]
    pub taps_at_us: Vec<i64>,
    pub answer: AnswerName,
}

/// A tracking task result on the wire: the target as drawn, frame by frame, in parallel arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingV1 {
    pub status: StatusName,
    #[serde(default)]
    pub started_at_us: i64,
    #[serde(default)]
    pub ended_at_us: i64,
    #[serde(default)]
    pub target_at_us: Vec<i64>,
    #[serde(default)]
    pub target_x_px: Vec<f64>,
    #[serde(default)]
    pub target_y_px: Vec<f64>,
}

/// The page's own frame and input timing on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameTimingV1 {
    pub frame_interval_us: i64,
    pub input_delay_us: i64,
}

impl FrameTimingV1 {
    /// Validates and decodes: negative values count as zero, values over
    /// [`MAX_FRAME_TIMING_US`] are refused.
    pub fn decode(self) -> Result<FrameTiming, WireError> {
        if self.frame_interval_us > MAX_FRAME_TIMING_US || self.input_delay_us > MAX_FRAME_TIMING_US
        {
            return Err(WireError::InvalidChallenge("frame timing over a second"));
        }
        Ok(FrameTiming {
            frame_interval_us: self.frame_interval_us.max(0),
            input_delay_us: self.input_delay_us.max(0),
        })
    }
}

impl RhythmV1 {
    /// Encodes a rhythm outcome.
    pub fn from_outcome(outcome: &Outcome<Rhythm>) -> RhythmV1 {
        match outcome {
            Outcome::Done(r) => RhythmV1 {
                status: StatusName::Done,
                beats_at_us: r.beats_at_us.clone(),
                shift_at_beat: r.shift_at_beat,
                taps_at_us: r.taps_at_us.clone(),
                answer: match r.answer {
                    Answer::Key => AnswerName::Key,
                    Answer::Pointer => AnswerName::Pointer,
                },
            },
            Outcome::Skipped => RhythmV1 {
                status: StatusName::Skipped,
                beats_at_us: vec![],
                shift_at_beat: None,
                taps_at_us: vec![],
                answer: AnswerName::Key,
            },
        }
    }

    /// Validates and decodes.
    pub fn decode(&self) -> Result<Outcome<Rhythm>, WireError> {
        if self.status == StatusName::Skipped {
            return Ok(Outcome::Skipped);
        }
        if self.beats_at_us.len() > MAX_BEATS || self.taps_at_us.len() > MAX_TAPS {
            return Err(WireError::InvalidChallenge("too many beats or taps"));
        }
        let in_range = |t: &i64| t.abs() <= MAX_ABS_TIME_US;
        if !self.beats_at_us.iter().all(in_range) || !self.taps_at_us.iter().all(in_range) {
            return Err(WireError::InvalidChallenge("time out of range"));
        }
        if self.beats_at_us.windows(2).any(|w| w[1] <= w[0]) {
            return Err(WireError::InvalidChallenge("beats out of order"));
        }
        if let (Some(&first_us), Some(&last_us)) =
            (self.beats_at_us.first(), self.beats_at_us.last())
        {
            if last_us - first_us > MAX_TASK_SPAN_US {
                return Err(WireError::InvalidChallenge("beats span more than a minute"));
            }
            let near = |t: &i64| {
                *t >= first_us - MAX_TAP_OUTSIDE_BEATS_US
                    && *t <= last_us + MAX_TAP_OUTSIDE_BEATS_US
            };
            if !self.taps_at_us.iter().all(near) {
                return Err(WireError::InvalidChallenge("a tap lies far from every beat"));
            }
        } else if !self.taps_at_us.is_empty() {
            return Err(WireError::InvalidChallenge("taps without beats"));
        }
        Ok(Outcome::Done(Rhythm {
            beats_at_us: self.beats_at_us.clone(),
            shift_at_beat: self.shift_at_beat,
            taps_at_us: self.taps_at_us.clone(),
            answer: match self.answer {
                AnswerName::Key => Answer::Key,
                AnswerName::Pointer => Answer::Pointer,
            },
        }))
    }
}

impl TrackingV1 {
    /// Encodes a tracking outcome.
    pub fn from_outcome(outcome: &Outcome<TrackingRun>) -> TrackingV1 {
        match outcome {
            Outcome::Done(run) => TrackingV1 {
                status: StatusName::Done,
                started_at_us: run.started_at_us,
                ended_at_us: run.ended_at_us,
                target_at_us: run.target.iter().map(|p| p.at_us).collect(),
                target_x_px: run.target.iter().map(|p| p.x_px).collect(),
                target_y_px: run.target.iter().map(|p| p.y_px).collect(),
            },
            Outcome::Skipped => TrackingV1 {
                status: StatusName::Skipped,
                started_at_us: 0,
                ended_at_us: 0,
                target_at_us: vec![],
                target_x_px: vec![],
                target_y_px: vec![],
            },
        }
    }

    /// Validates and decodes.
    pub fn decode(&self) -> Result<Outcome<TrackingRun>, WireError> {
        if self.status == StatusName::Skipped {
            return Ok(Outcome::Skipped);
        }
        let n = self.target_at_us.len();
        if n > MAX_TARGET_POINTS || self.target_x_px.len() != n || self.target_y_px.len() != n {
            return Err(WireError::InvalidChallenge(
                "target arrays differ in length or are too long",
            ));
        }
        if self.started_at_us.abs() > MAX_ABS_TIME_US
            || self.ended_at_us.abs() > MAX_ABS_TIME_US
            || self.ended_at_us < self.started_at_us
        {
            return Err(WireError::InvalidChallenge("task window out of range"));
        }
        if self.ended_at_us - self.started_at_us > MAX_TASK_SPAN_US {
            return Err(WireError::InvalidChallenge("task window spans more than a minute"));
        }
        let in_window = |t: &i64| {
            *t >= self.started_at_us - TARGET_SLACK_US && *t <= self.ended_at_us + TARGET_SLACK_US
        };
        if !self.target_at_us.iter().all(in_window) {
            return Err(WireError::InvalidChallenge("target drawn outside the task window"));
        }
        let on_screen = |v: &f64| v.is_finite() && v.abs() <= MAX_ABS_COORDINATE_PX;
        if !self.target_x_px.iter().all(on_screen) || !self.target_y_px.iter().all(on_screen) {
            return Err(WireError::InvalidChallenge("target position out of range"));
        }
        if self.target_at_us.windows(2).any(|w| w[1] < w[0]) {
            return Err(WireError::InvalidChallenge("target times out of order"));
        }
        let target = (0..n)
            .map(|i| Point {
                at_us: self.target_at_us[i],
                x_px: self.target_x_px[i],
                y_px: self.target_y_px[i],
            })
            .collect();
        Ok(Outcome::Done(TrackingRun {
            started_at_us: self.started_at_us,
            ended_at_us: self.ended_at_us,
            target,
        }))
    }
}

/// Messages from a browser to the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
// An allowance rather than an expectation: on wasm32 the variants are small enough not to trip it.
#[allow(
    clippy::large_enum_variant,
    reason = "a message is parsed, handled and dropped one at a time; none are kept in bulk"
)]
pub enum ClientMsg {
    /// The first frame: which session, which role, and the capability token for it.
    Hello { v: u32, role: Role, session: String, token: String },
    /// Completed presses, pointer samples, focus changes and task results since the last batch.
    Evidence(BatchV1),
    /// What the browser says about itself; sent once, after hello.
    Environment(EnvironmentV1),
    /// To a measuring edge, instead of hello: time round trips for this session and sign them.
    Measure { v: u32, session: String },
    /// To the session's edge: a measurement another edge signed, passed on.
    Measured { token: String },
    /// The candidate finished the task.
    Finish,
}

/// The browser's self-description on the wire: classes and sizes, no names or identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentV1 {
    pub webdriver: bool,
    /// `hardware`, `software` or `unknown`.
    pub renderer: RendererName,
    pub screen_w_px: u32,
    pub screen_h_px: u32,
    /// The IANA time zone the browser reports (`Intl`), such as `America/Chicago`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// Whether a time zone name looks like an IANA name (letters, digits, `_ / + -`, at most 64).
pub fn valid_time_zone(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_/+-".contains(c))
}

/// A renderer class on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RendererName {
    Hardware,
    Software,
    Unknown,
}

impl EnvironmentV1 {
    /// Encodes an environment for the wire.
    pub fn from_environment(environment: &Environment) -> EnvironmentV1 {
        EnvironmentV1 {
            webdriver: environment.webdriver,
            renderer: match environment.renderer {
                Renderer::Hardware => RendererName::Hardware,
                Renderer::Software => RendererName::Software,
                Renderer::Unknown => RendererName::Unknown,
            },
            screen_w_px: environment.screen_width_px,
            screen_h_px: environment.screen_height_px,
            time_zone: None,
        }
    }

    /// Decodes into the domain type.
    pub fn to_environment(&self) -> Environment {
        Environment {
            webdriver: self.webdriver,
            renderer: match self.renderer {
                RendererName::Hardware => Renderer::Hardware,
                RendererName::Software => Renderer::Software,
                RendererName::Unknown => Renderer::Unknown,
            },
            screen_width_px: self.screen_w_px,
            screen_height_px: self.screen_h_px,
        }
    }
}

/// Where a measuring edge listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRefV1 {
    pub id: String,
    /// Its measuring WebSocket, such as `wss://chi.onsite.example/api/v1/echo`.
    pub url: String,
}

/// Messages from the edge to a browser.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        v: u32,
        session: String,
        role: Role,
        /// Other edges the candidate's browser should let time it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        edges: Vec<EdgeRefV1>,
    },
    /// From a measuring edge: its signed measurement, to pass on to the session's edge.
    Measurement {
        token: String,
    },
    /// The batch `seq` is stored.
    Ack {
        seq: u64,
    },
    /// A newly signed verdict; `token` is the compact JWS and `verdict` its claim, for display.
    Verdict {
        token: String,
        verdict: VerdictV1,
    },
    /// The candidate's `finish` was received and the final verdict is signed.
    Finished,
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ClientMsg {
    /// Parses a text frame, refusing oversized or malformed ones.
    pub fn parse(text: &str) -> Result<ClientMsg, WireError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(WireError::TooLarge(text.len()));
        }
        let msg: ClientMsg =
            serde_json::from_str(text).map_err(|e| WireError::Malformed(e.to_string()))?;
        match &msg {
            ClientMsg::Hello { v, .. } | ClientMsg::Measure { v, .. } if *v != PROTOCOL_VERSION => {
                Err(WireError::Version(*v))
            }
            ClientMsg::Hello { session, token, .. }
                if session.is_empty()
                    || session.len() > MAX_ID_BYTES
                    || token.len() > MAX_ID_BYTES =>
            {
                Err(WireError::Malformed("session id or token is empty or too long".into()))
            }
            ClientMsg::Measure { session, .. }
                if session.is_empty() || session.len() > MAX_ID_BYTES =>
            {
                Err(WireError::Malformed("session id is empty or too long".into()))
            }
            ClientMsg::Environment(environment)
                if environment.screen_w_px > MAX_SCREEN_PX
                    || environment.screen_h_px > MAX_SCREEN_PX =>
            {
                Err(WireError::Malformed(format!("screens are at most {MAX_SCREEN_PX} px across")))
            }
            _ => Ok(msg),
        }
    }

    /// Encodes the message as a text frame.
    pub fn to_text(&self) -> String {
        // Plain structs with string keys and finite numbers: serialising cannot fail.
        serde_json::to_string(self).expect("a message always serialises")
    }
}

impl ServerMsg {
    /// Encodes the message as a text frame.
    pub fn to_text(&self) -> String {
        // Plain structs with string keys and finite numbers: serialising cannot fail.
        serde_json::to_string(self).expect("a message always serialises")
    }

    /// Parses a text frame from the edge.
    ///
    /// It reads a flat struct and builds the enum by hand: serde's internally tagged enums buffer
    /// every field generically, which would cost the browser probe about 10 KB of wasm.
    pub fn parse(text: &str) -> Result<ServerMsg, WireError> {
        #[derive(Deserialize)]
        struct Flat {
            t: String,
            v: Option<u32>,
            session: Option<String>,
            role: Option<Role>,
            #[serde(default)]
            edges: Vec<EdgeRefV1>,
            seq: Option<u64>,
            token: Option<String>,
            verdict: Option<VerdictV1>,
            code: Option<ErrorCode>,
            message: Option<String>,
        }
        let flat: Flat =
            serde_json::from_str(text).map_err(|e| WireError::Malformed(e.to_string()))?;
        let missing =
            |field: &str| WireError::Malformed(format!("`{}` message lacks `{field}`", flat.t));
        Ok(match flat.t.as_str() {
            "welcome" => ServerMsg::Welcome {
                v: flat.v.ok_or_else(|| missing("v"))?,
                session: flat.session.clone().ok_or_else(|| missing("session"))?,
                role: flat.role.ok_or_else(|| missing("role"))?,
                edges: flat.edges.clone(),
            },
            "measurement" => ServerMsg::Measurement {
                token: flat.token.clone().ok_or_else(|| missing("token"))?,
            },
            "ack" => ServerMsg::Ack { seq: flat.seq.ok_or_else(|| missing("seq"))? },
            "verdict" => ServerMsg::Verdict {
                token: flat.token.clone().ok_or_else(|| missing("token"))?,
                verdict: flat.verdict.clone().ok_or_else(|| missing("verdict"))?,
            },
            "finished" => ServerMsg::Finished,
            "error" => ServerMsg::Error {
                code: flat.code.ok_or_else(|| missing("code"))?,
                message: flat.message.clone().ok_or_else(|| missing("message"))?,
            },
            other => return Err(WireError::Malformed(format!("unknown message type {other:?}"))),
        })
    }
}

/// Builds an echo frame.
pub fn echo_frame(seq: u32) -> [u8; ECHO_LEN] {
    let mut frame = [0u8; ECHO_LEN];
    frame[0] = ECHO_TAG;
    frame[1..].copy_from_slice(&seq.to_le_bytes());
    frame
}

/// Reads the sequence number of an echo frame.
pub fn parse_echo(frame: &[u8]) -> Option<u32> {
    match frame {
        [ECHO_TAG, a, b, c, d] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// The first byte of a probe the browser sends to time round trips itself; the edge returns it
/// unchanged.
pub const CLIENT_ECHO_TAG: u8 = 2;
/// The length of an echo reply that carries the page's clock.
pub const ECHO_REPLY_LEN: usize = 13;

/// Builds the browser's reply to an echo probe: the probe's bytes and the page's clock when it
/// arrived (µs, little-endian), from which the edge estimates the clock offset NTP-style.
pub fn echo_reply(seq: u32, page_at_us: i64) -> [u8; ECHO_REPLY_LEN] {
    let mut frame = [0u8; ECHO_REPLY_LEN];
    frame[..ECHO_LEN].copy_from_slice(&echo_frame(seq));
    frame[ECHO_LEN..].copy_from_slice(&page_at_us.to_le_bytes());
    frame
}

/// Reads an echo reply: the sequence number and, when the browser sent it, the page's clock.
pub fn parse_echo_reply(frame: &[u8]) -> Option<(u32, Option<i64>)> {
    match frame.len() {
        ECHO_LEN => parse_echo(frame).map(|seq| (seq, None)),
        ECHO_REPLY_LEN => {
            let seq = parse_echo(&frame[..ECHO_LEN])?;
            let page_at_us = i64::from_le_bytes(frame[ECHO_LEN..].try_into().ok()?);
            Some((seq, Some(page_at_us)))
        }
        _ => None,
    }
}

/// Whether a binary frame is the browser's own echo probe (`CLIENT_ECHO_TAG` and a `u32`).
pub fn is_client_echo(frame: &[u8]) -> bool {
    frame.len() == ECHO_LEN && frame[0] == CLIENT_ECHO_TAG
}

impl StrokeV1 {
    /// Encodes a press for the wire.
    pub fn from_stroke(stroke: &KeyStroke) -> StrokeV1 {
        StrokeV1 {
            down_us: stroke.down_at_us,
            up_us: stroke.up_at_us,
            class: stroke.class.as_str().to_owned(),
            repeats: stroke.repeats,
            repeat_gaps_us: stroke.repeat_gaps_us.clone(),
            trusted: stroke.trusted,
        }
    }
}

impl PointerV1 {
    /// Encodes a pointer sample for the wire.
    pub fn from_sample(sample: &PointerSample) -> PointerV1 {
        PointerV1 {
            at_us: sample.at_us,
            kind: match sample.kind {
                PointerKind::Move => PointerKindName::Move,
                PointerKind::Down => PointerKindName::Down,
                PointerKind::Up => PointerKindName::Up,
            },
            x_px: sample.x_px,
            y_px: sample.y_px,
            coalesced: sample.coalesced,
            device: match sample.device {
                PointerDevice::Mouse => PointerDeviceName::Mouse,
                PointerDevice::Pen => PointerDeviceName::Pen,
                PointerDevice::Touch => PointerDeviceName::Touch,
                PointerDevice::Other => PointerDeviceName::Other,
            },
            trusted: sample.trusted,
        }
    }
}

impl FocusV1 {
    /// Encodes a focus change for the wire.
    pub fn from_change(change: &FocusChange) -> FocusV1 {
        FocusV1 {
            at_us: change.at_us,
            kind: match change.kind {
                FocusKind::Focus => FocusKindName::Focus,
                FocusKind::Blur => FocusKindName::Blur,
                FocusKind::Visible => FocusKindName::Visible,
                FocusKind::Hidden => FocusKindName::Hidden,
            },
        }
    }
}

/// Evidence decoded from one batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub strokes: Vec<KeyStroke>,
    pub pointer: Vec<PointerSample>,
    pub focus: Vec<FocusChange>,
    pub rhythm: Option<Outcome<Rhythm>>,
    pub tracking: Option<Outcome<TrackingRun>>,
    pub frames: Option<FrameTiming>,
    pub client_rtt_us: Vec<u32>,
    pub timer_resolution_us: Option<u32>,
}

impl Batch {
    /// Adds this batch to a session's evidence, as the edge does on receipt and on reload.
    pub fn absorb_into(self, evidence: &mut crate::Evidence) {
        evidence.strokes.extend(self.strokes);
        evidence.pointer.extend(self.pointer);
        evidence.focus.extend(self.focus);
        // A task's newest result replaces an earlier one (a retried task).
        if self.rhythm.is_some() {
            evidence.rhythm = self.rhythm;
        }
        if self.tracking.is_some() {
            evidence.tracking = self.tracking;
        }
        if self.frames.is_some() {
            evidence.frames = self.frames;
        }
        evidence.client_rtt_us.extend(self.client_rtt_us);
        if self.timer_resolution_us.is_some() {
            evidence.timer_resolution_us = self.timer_resolution_us;
        }
    }
}

impl BatchV1 {
    /// Encodes decoded evidence, for storage.
    pub fn from_batch(batch: &Batch) -> BatchV1 {
        BatchV1 {
            seq: 0,
            strokes: batch.strokes.iter().map(StrokeV1::from_stroke).collect(),
            pointer: batch.pointer.iter().map(PointerV1::from_sample).collect(),
            focus: batch.focus.iter().map(FocusV1::from_change).collect(),
            rhythm: batch.rhythm.as_ref().map(RhythmV1::from_outcome),
            tracking: batch.tracking.as_ref().map(TrackingV1::from_outcome),
            frames: batch.frames.map(|f| FrameTimingV1 {
                frame_interval_us: f.frame_interval_us,
                input_delay_us: f.input_delay_us,
            }),
            client_rtt_us: batch.client_rtt_us.clone(),
            timer_resolution_us: batch.timer_resolution_us,
        }
    }

    /// Validates and decodes a batch; any invalid item refuses the whole batch.
    pub fn decode(&self) -> Result<Batch, WireError> {
        Ok(Batch {
            strokes: strokes_from_wire(&self.strokes)?,
            pointer: pointer_from_wire(&self.pointer)?,
            focus: focus_from_wire(&self.focus)?,
            rhythm: self.rhythm.as_ref().map(RhythmV1::decode).transpose()?,
            tracking: self.tracking.as_ref().map(TrackingV1::decode).transpose()?,
            frames: self.frames.map(FrameTimingV1::decode).transpose()?,
            client_rtt_us: if self.client_rtt_us.len() <= MAX_BEATS {
                self.client_rtt_us.clone()
            } else {
                return Err(WireError::InvalidChallenge("too many client round trips"));
            },
            timer_resolution_us: match self.timer_resolution_us {
                Some(step_us) if step_us == 0 || step_us > MAX_TIMER_RESOLUTION_US => {
                    return Err(WireError::Malformed(format!(
                        "timer resolution {step_us} µs is out of range"
                    )))
                }
                step => step,
            },
        })
    }
}

/// Turns wire pointer samples into domain samples, refusing the batch if any one is invalid.
pub fn pointer_from_wire(samples: &[PointerV1]) -> Result<Vec<PointerSample>, WireError> {
    if samples.len() > MAX_POINTER_PER_BATCH {
        return Err(WireError::TooManyPointerSamples(samples.len()));
    }
    samples
        .iter()
        .enumerate()
        .map(|(index, p)| {
            if p.at_us.abs() > MAX_ABS_TIME_US {
                return Err(WireError::InvalidPointer { index, why: "time out of range" });
            }
            let on_screen = |v: f64| v.is_finite() && v.abs() <= MAX_ABS_COORDINATE_PX;
            if !on_screen(p.x_px) || !on_screen(p.y_px) {
                return Err(WireError::InvalidPointer { index, why: "position out of range" });
            }
            Ok(PointerSample {
                at_us: p.at_us,
                kind: match p.kind {
                    PointerKindName::Move => PointerKind::Move,
                    PointerKindName::Down => PointerKind::Down,
                    PointerKindName::Up => PointerKind::Up,
                },
                x_px: p.x_px,
                y_px: p.y_px,
                coalesced: p.coalesced.max(1),
                device: match p.device {
                    PointerDeviceName::Mouse => PointerDevice::Mouse,
                    PointerDeviceName::Pen => PointerDevice::Pen,
                    PointerDeviceName::Touch => PointerDevice::Touch,
                    PointerDeviceName::Other => PointerDevice::Other,
                },
                trusted: p.trusted,
            })
        })
        .collect()
}

/// Turns wire focus changes into domain changes.
pub fn focus_from_wire(changes: &[FocusV1]) -> Result<Vec<FocusChange>, WireError> {
    if changes.len() > MAX_FOCUS_PER_BATCH {
        return Err(WireError::TooManyFocusChanges(changes.len()));
    }
    if changes.iter().any(|c| c.at_us.abs() > MAX_ABS_TIME_US) {
        return Err(WireError::InvalidChallenge("focus change time out of range"));
    }
    Ok(changes
        .iter()
        .map(|c| FocusChange {
            at_us: c.at_us,
            kind: match c.kind {
                FocusKindName::Focus => FocusKind::Focus,
                FocusKindName::Blur => FocusKind::Blur,
                FocusKindName::Visible => FocusKind::Visible,
                FocusKindName::Hidden => FocusKind::Hidden,
            },
        })
        .collect())
}

/// Turns wire presses into domain presses, refusing the batch if any one is invalid.
pub fn strokes_from_wire(strokes: &[StrokeV1]) -> Result<Vec<KeyStroke>, WireError> {
    if strokes.len() > MAX_STROKES_PER_BATCH {
        return Err(WireError::TooManyStrokes(strokes.len()));
    }
    strokes
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let class = KeyClass::parse(&s.class)
                .ok_or_else(|| WireError::UnknownClass(s.class.clone()))?;
            if s.down_us.abs() > MAX_ABS_TIME_US || s.up_us.abs() > MAX_ABS_TIME_US {
                return Err(WireError::InvalidStroke { index, why: "time out of range" });
            }
            if s.up_us < s.down_us {
                return Err(WireError::InvalidStroke { index, why: "key-up before key-down" });
            }
            if s.up_us - s.down_us > MAX_HOLD_US {
                return Err(WireError::InvalidStroke { index, why: "held for over a minute" });
            }
            if s.repeat_gaps_us.len() > MAX_REPEAT_GAPS {
                return Err(WireError::InvalidStroke { index, why: "too many repeat gaps" });
            }
            if s.repeat_gaps_us.iter().any(|&gap| gap > MAX_REPEAT_GAP_US) {
                return Err(WireError::InvalidStroke { index, why: "a repeat gap over 5 s" });
            }
            Ok(KeyStroke {
                down_at_us: s.down_us,
                up_at_us: s.up_us,
                class,
                repeats: s.repeats,
                repeat_gaps_us: s.repeat_gaps_us.clone(),
                trusted: s.trusted,
            })
        })
        .collect()
}

/// Evidence as stored and hashed: presses in press order and the edge's round trips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceV1 {
    pub v: u32,
    pub strokes: Vec<StrokeV1>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pointer: Vec<PointerV1>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub focus: Vec<FocusV1>,
    pub rtt_us: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rhythm: Option<RhythmV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<FrameTimingV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_site: Option<EdgeSiteV1>,
    /// As the session was created with: a listed city or `"lat,lon"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_location: Option<String>,
    /// Verified measurements of other edges: their place and smallest round trip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_rtts: Vec<PeerRttV1>,
    /// For each of `rtt_us`, the page's clock when the echo arrived (µs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rtt_page_at_us: Vec<i64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rtt_lost: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_rtt_us: Vec<u32>,
    /// The step of the page's clock the probe saw (µs); absent in evidence older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_resolution_us: Option<u32>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// Another edge's smallest round trip and its place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRttV1 {
    pub edge_id: String,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub min_rtt_us: u64,
}

/// An edge's place on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSiteV1 {
    pub id: String,
    pub lat_deg: f64,
    pub lon_deg: f64,
}

impl EvidenceV1 {
    /// Encodes normalised evidence.
    pub fn from_evidence(evidence: &Evidence) -> EvidenceV1 {
        let mut evidence = evidence.clone();
        evidence.normalise();
        EvidenceV1 {
            v: 1,
            strokes: evidence.strokes.iter().map(StrokeV1::from_stroke).collect(),
            pointer: evidence.pointer.iter().map(PointerV1::from_sample).collect(),
            focus: evidence.focus.iter().map(FocusV1::from_change).collect(),
            rtt_us: evidence.rtt_us,
            environment: evidence.environment.as_ref().map(|e| EnvironmentV1 {
                time_zone: evidence.time_zone.clone(),
                ..EnvironmentV1::from_environment(e)
            }),
            edge_site: evidence.edge_site.as_ref().map(|site| EdgeSiteV1 {
                id: site.id.clone(),
                lat_deg: site.location.lat_deg,
                lon_deg: site.location.lon_deg,
            }),
            claimed_location: evidence.claimed.as_ref().map(|c| c.label.clone()),
            rtt_page_at_us: evidence.rtt_page_at_us.clone(),
            rtt_lost: evidence.rtt_lost,
            client_rtt_us: evidence.client_rtt_us.clone(),
            timer_resolution_us: evidence.timer_resolution_us,
            peer_rtts: evidence
                .peer_rtts
                .iter()
                .map(|p| PeerRttV1 {
                    edge_id: p.edge_id.clone(),
                    lat_deg: p.location.lat_deg,
                    lon_deg: p.location.lon_deg,
                    min_rtt_us: p.min_rtt_us,
                })
                .collect(),
            rhythm: evidence.rhythm.as_ref().map(RhythmV1::from_outcome),
            tracking: evidence.tracking.as_ref().map(TrackingV1::from_outcome),
            frames: evidence.frames.map(|f| FrameTimingV1 {
                frame_interval_us: f.frame_interval_us,
                input_delay_us: f.input_delay_us,
            }),
        }
    }

    /// Decodes into domain evidence.
    pub fn to_evidence(&self) -> Result<Evidence, WireError> {
        if self.v != 1 {
            return Err(WireError::Version(self.v));
        }
        let mut evidence =
            Evidence {
                rtt_us: self.rtt_us.clone(),
                environment: self.environment.as_ref().map(EnvironmentV1::to_environment),
                time_zone: self
                    .environment
                    .as_ref()
                    .and_then(|e| e.time_zone.clone())
                    .filter(|z| valid_time_zone(z)),
                edge_site: self.edge_site.as_ref().map(|site| EdgeSite {
                    id: site.id.clone(),
                    location: LatLon { lat_deg: site.lat_deg, lon_deg: site.lon_deg },
                }),
                rtt_page_at_us: self.rtt_page_at_us.clone(),
                rtt_lost: self.rtt_lost,
                client_rtt_us: self.client_rtt_us.clone(),
                timer_resolution_us: self
                    .timer_resolution_us
                    .filter(|&step_us| step_us > 0 && step_us <= MAX_TIMER_RESOLUTION_US),
                peer_rtts: self
                    .peer_rtts
                    .iter()
                    .map(|p| crate::geo::EdgeRtt {
                        edge_id: p.edge_id.clone(),
                        location: LatLon { lat_deg: p.lat_deg, lon_deg: p.lon_deg },
                        min_rtt_us: p.min_rtt_us,
                    })
                    .collect(),
                claimed: match &self.claimed_location {
                    Some(text) => Some(ClaimedLocation::parse(text).ok_or(
                        WireError::Malformed(format!("unknown claimed location {text:?}")),
                    )?),
                    None => None,
                },
                rhythm: self.rhythm.as_ref().map(RhythmV1::decode).transpose()?,
                tracking: self.tracking.as_ref().map(TrackingV1::decode).transpose()?,
                frames: self.frames.map(FrameTimingV1::decode).transpose()?,
                ..Evidence::default()
            };
        for chunk in self.strokes.chunks(MAX_STROKES_PER_BATCH) {
            evidence.strokes.extend(strokes_from_wire(chunk)?);
        }
        for chunk in self.pointer.chunks(MAX_POINTER_PER_BATCH) {
            evidence.pointer.extend(pointer_from_wire(chunk)?);
        }
        for chunk in self.focus.chunks(MAX_FOCUS_PER_BATCH) {
            evidence.focus.extend(focus_from_wire(chunk)?);
        }
        evidence.normalise();
        Ok(evidence)
    }

    /// The canonical bytes: compact JSON with fields in declaration order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Bounded, finite values with string keys: serialising cannot fail, and an empty digest
        // input would sign nothing.
        serde_json::to_vec(self).expect("evidence always serialises")
    }

    /// The SHA-256 of the canonical bytes, in hexadecimal: what a token commits to.
    pub fn sha256_hex(&self) -> String {
        crate::b64::hex(&Sha256::digest(self.canonical_bytes()))
    }
}

/// One reason on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonV1 {
    pub code: String,
    pub weight: f64,
    pub text: String,
}

/// The verdict claim, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictV1 {
    pub v: u32,
    pub class: String,
    pub p_remote: f64,
    pub keystrokes: u32,
    pub rtt_samples: u32,
    pub rtt_min_ms: Option<f64>,
    pub rtt_median_ms: Option<f64>,
    pub dwell_median_ms: Option<f64>,
    pub flight_median_ms: Option<f64>,
    /// Latency added to the person's own loop; absent when no closed-loop challenge ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_added_ms: Option<LoopLatencyV1>,
    /// The claimed location against the round trips; absent when nothing was claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationV1>,
    pub reasons: Vec<ReasonV1>,
}

/// A location check: `consistent`, `inconsistent` (by at least `by_km`) or `inconclusive`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationV1 {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_km: Option<f64>,
}

/// An added loop latency with its 95 % interval (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoopLatencyV1 {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl VerdictV1 {
    /// Encodes a verdict for a token.
    pub fn from_verdict(verdict: &Verdict) -> VerdictV1 {
        VerdictV1 {
            v: 1,
            class: verdict.class.as_str().to_owned(),
            p_remote: verdict.p_remote,
            keystrokes: verdict.keystrokes,
            rtt_samples: verdict.rtt_samples,
            rtt_min_ms: verdict.rtt_min_ms,
            rtt_median_ms: verdict.rtt_median_ms,
            dwell_median_ms: verdict.dwell_median_ms,
            flight_median_ms: verdict.flight_median_ms,
            loop_added_ms: verdict.loop_added_ms.map(|(estimate, low, high)| LoopLatencyV1 {
                estimate,
                low,
                high,
            }),
            location: verdict
                .location
                .map(|(status, by_km)| LocationV1 { status: status.to_owned(), by_km }),
            reasons: verdict.reasons.iter().map(ReasonV1::from_reason).collect(),
        }
    }
}

impl ReasonV1 {
    fn from_reason(reason: &Reason) -> ReasonV1 {
        // Weights are shown to people; three decimals are plenty and keep the bytes stable.
        let weight = libm::round(reason.weight * 1000.0) / 1000.0;
        ReasonV1 { code: reason.code.to_owned(), weight, text: reason.text.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn check(text: &str, expected: Result<(), &str>) {
        let got = ClientMsg::parse(text).map(|_| ()).map_err(|e| e.to_string());
        match expected {
            Ok(()) => assert!(got.is_ok(), "{text}: {got:?}"),
            Err(part) => {
                let message = got.err().unwrap_or_default();
                assert!(message.contains(part), "{text}: {message:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn parses_and_refuses_client_frames() {
        check(r#"{"t":"hello","v":1,"role":"candidate","session":"s","token":"k"}"#, Ok(()));
        check(
            r#"{"t":"hello","v":2,"role":"candidate","session":"s","token":"k"}"#,
            Err("version 2"),
        );
        check(r#"{"t":"finish"}"#, Ok(()));
        check(r#"{"t":"evidence","seq":1,"strokes":[]}"#, Ok(()));
        check("{not json", Err("malformed"));
        check(r#"{"t":"launch"}"#, Err("malformed"));
        check(
            r#"{"t":"evidence","seq":1,"strokes":[{"down_us":1,"up_us":2,"class":"letter","repeats":0,"trusted":true,"key":"a"}]}"#,
            Err("unknown field `key`"),
        );
        check(&"x".repeat(MAX_FRAME_BYTES + 1), Err("limit is"));
        check(
            r#"{"t":"evidence","seq":1,"strokes":[],"text":"hello"}"#,
            Err("unknown field `text`"),
        );
        check(
            r#"{"t":"environment","webdriver":false,"renderer":"hardware","screen_w_px":1440,"screen_h_px":900}"#,
            Ok(()),
        );
        check(
            r#"{"t":"environment","webdriver":false,"renderer":"ANGLE (NVIDIA GeForce)","screen_w_px":1440,"screen_h_px":900}"#,
            Err("unknown variant"),
        );
        check(
            r#"{"t":"environment","webdriver":false,"renderer":"unknown","screen_w_px":1,"screen_h_px":1,"gpu":"x"}"#,
            Err("unknown field `gpu`"),
        );
    }

    /// Parses an evidence frame and decodes its batch, as the edge does on receipt.
    fn check_batch(fields: &str, expected: Result<(), &str>) {
        let text = format!(r#"{{"t":"evidence","seq":1,"strokes":[]{fields}}}"#);
        let got = ClientMsg::parse(&text).and_then(|msg| match msg {
            ClientMsg::Evidence(batch) => batch.decode().map(|_| ()),
            _ => Err(WireError::Malformed("not evidence".into())),
        });
        match expected {
            Ok(()) => assert!(got.is_ok(), "{fields}: {got:?}"),
            Err(part) => {
                let message = got.err().map(|e| e.to_string()).unwrap_or_default();
                assert!(message.contains(part), "{fields}: {message:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn every_decoded_quantity_is_bounded() {
        // A task window of 15 s passes; one of 9×10⁸ s once made the estimator ask for 2.9 TB.
        let tracking = |start_us: i64, end_us: i64, at_us: i64| {
            format!(
                r#","tracking":{{"status":"done","started_at_us":{start_us},"ended_at_us":{end_us},"target_at_us":[{at_us}],"target_x_px":[1.0],"target_y_px":[1.0]}}"#
            )
        };
        check_batch(&tracking(0, 15_000_000, 1_000), Ok(()));
        check_batch(&tracking(0, 900_000_000_000_000, 1_000), Err("spans more than a minute"));
        check_batch(&tracking(0, 15_000_000, 20_000_000), Err("outside the task window"));
        let rhythm = |beats: &str, taps: &str| {
            format!(
                r#","rhythm":{{"status":"done","beats_at_us":[{beats}],"taps_at_us":[{taps}],"answer":"key"}}"#
            )
        };
        check_batch(&rhythm("0,600000,1200000", "590000"), Ok(()));
        check_batch(&rhythm("0,61000000", ""), Err("beats span more than a minute"));
        check_batch(&rhythm("0,600000", "900000000"), Err("far from every beat"));
        check_batch(&rhythm("", "1"), Err("taps without beats"));
        let stroke = |down_us: i64, up_us: i64, gaps: &str| {
            format!(
                r#""down_us":{down_us},"up_us":{up_us},"class":"letter","repeats":0,"repeat_gaps_us":[{gaps}],"trusted":true"#
            )
        };
        let strokes = |one: String| format!(r#"{{"t":"evidence","seq":1,"strokes":[{{{one}}}]}}"#);
        let decoded = |text: String| match ClientMsg::parse(&text) {
            Ok(ClientMsg::Evidence(BatchV1 { strokes, .. })) => {
                strokes_from_wire(&strokes).map(|_| ()).map_err(|e| e.to_string())
            }
            other => Err(format!("{other:?}")),
        };
        assert!(decoded(strokes(stroke(0, 100_000, "500000"))).is_ok());
        assert!(
            decoded(strokes(stroke(0, 61_000_000, ""))).is_err_and(|e| e.contains("over a minute"))
        );
        assert!(decoded(strokes(stroke(0, 100_000, "6000000")))
            .is_err_and(|e| e.contains("repeat gap")));
        check_batch(r#","frames":{"frame_interval_us":16667,"input_delay_us":4000}"#, Ok(()));
        // The clock step the probe saw: a microsecond to a second.
        check_batch(r#","timer_resolution_us":16667"#, Ok(()));
        check_batch(r#","timer_resolution_us":0"#, Err("timer resolution 0"));
        check_batch(r#","timer_resolution_us":2000000"#, Err("out of range"));
        check_batch(r#","timer_resolution_us":-5"#, Err("invalid value"));
        check_batch(
            r#","frames":{"frame_interval_us":137000000,"input_delay_us":0}"#,
            Err("over a second"),
        );
        check_batch(r#","focus":[{"at_us":1000,"kind":"hidden"}]"#, Ok(()));
        check_batch(
            r#","focus":[{"at_us":9000000000000000000,"kind":"hidden"}]"#,
            Err("out of range"),
        );
        let long = "s".repeat(MAX_ID_BYTES + 1);
        check(
            &format!(r#"{{"t":"hello","v":1,"role":"candidate","session":"{long}","token":"k"}}"#),
            Err("too long"),
        );
        check(r#"{"t":"hello","v":1,"role":"candidate","session":"","token":"k"}"#, Err("empty"));
        check(
            r#"{"t":"environment","webdriver":false,"renderer":"hardware","screen_w_px":4000000000,"screen_h_px":900}"#,
            Err("px across"),
        );
    }

    #[test]
    fn refuses_invalid_strokes() {
        let stroke = |down_us, up_us, class: &str| StrokeV1 {
            down_us,
            up_us,
            class: class.into(),
            repeats: 0,
            repeat_gaps_us: vec![],
            trusted: true,
        };
        assert!(strokes_from_wire(&[stroke(1, 2, "letter")]).is_ok());
        assert_eq!(
            strokes_from_wire(&[stroke(5, 2, "letter")]),
            Err(WireError::InvalidStroke { index: 0, why: "key-up before key-down" })
        );
        assert_eq!(
            strokes_from_wire(&[stroke(1, 2, "KeyA")]),
            Err(WireError::UnknownClass("KeyA".into()))
        );
    }

    #[test]
    fn server_messages_round_trip() {
        let messages = [
            ServerMsg::Welcome {
                v: 1,
                session: "s".into(),
                role: Role::Interviewer,
                edges: vec![],
            },
            ServerMsg::Welcome {
                v: 1,
                session: "s".into(),
                role: Role::Candidate,
                edges: vec![EdgeRefV1 {
                    id: "chi".into(),
                    url: "wss://chi.example/api/v1/echo".into(),
                }],
            },
            ServerMsg::Measurement { token: "a.b.c".into() },
            ServerMsg::Ack { seq: 7 },
            ServerMsg::Finished,
            ServerMsg::Error { code: ErrorCode::OutOfOrder, message: "expected 2".into() },
        ];
        for msg in messages {
            assert_eq!(ServerMsg::parse(&msg.to_text()), Ok(msg));
        }
        assert!(ServerMsg::parse(r#"{"t":"ack"}"#)
            .is_err_and(|e| e.to_string().contains("lacks `seq`")));
        assert!(ServerMsg::parse(r#"{"t":"shrug"}"#)
            .is_err_and(|e| e.to_string().contains("unknown message type")));
    }

    #[test]
    fn echo_frames_round_trip() {
        assert_eq!(parse_echo(&echo_frame(0xdead_beef)), Some(0xdead_beef));
        assert_eq!(parse_echo(&[2, 0, 0, 0, 0]), None);
        assert_eq!(parse_echo(&[1, 0, 0]), None);
        assert_eq!(parse_echo_reply(&echo_reply(7, -42)), Some((7, Some(-42))));
        assert_eq!(parse_echo_reply(&echo_frame(7)), Some((7, None)));
        assert_eq!(parse_echo_reply(&[1; 9]), None);
        assert!(is_client_echo(&[2, 1, 0, 0, 0]) && !is_client_echo(&echo_frame(1)));
    }
}

/// The audience of every measurement: the session's edge, never a verdict verifier. An edge
/// refuses to start with this as its verdict audience.
pub const MEASUREMENT_AUDIENCE: &str = "onsite-measurement";
/// How long a measurement stays valid after it is signed (seconds).
pub const MEASUREMENT_TTL_S: u64 = 300;
/// The longest validity a measurement may claim (seconds); a longer one is refused.
pub const MEASUREMENT_MAX_LIFETIME_S: u64 = 600;
/// Clock skew tolerated between edges on a measurement's `iat` and `exp` (seconds).
pub const MEASUREMENT_LEEWAY_S: u64 = 60;
/// The longest nonce a measuring edge signs (characters).
pub const MAX_NONCE_CHARS: usize = 64;

/// An edge's signed statement of the round trips it timed to a session's browser, signed with
/// `typ` [`crate::jws::MEASUREMENT_TYP`] and `aud` [`MEASUREMENT_AUDIENCE`], so no verdict
/// verifier takes it for a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementV1 {
    /// The edge's id, as the session's edge knows it from its configuration.
    pub iss: String,
    /// The session measured.
    pub sub: String,
    /// Always [`MEASUREMENT_AUDIENCE`].
    pub aud: String,
    pub iat: u64,
    /// Expiry (seconds since 1970), [`MEASUREMENT_TTL_S`] after `iat`.
    pub exp: u64,
    /// The nonce the session's edge gave the browser for this session (in the echo URL), so a
    /// measurement counts only for the session whose edge asked for it.
    pub nonce: String,
    /// Round trips the edge timed on its own clock (µs).
    pub rtt_us: Vec<u32>,
    /// Probes sent that never came back.
    pub lost: u32,
}

/// Whether `nonce` is one a measuring edge signs: 1 to [`MAX_NONCE_CHARS`] base64url characters.
pub fn valid_nonce(nonce: &str) -> bool {
    (1..=MAX_NONCE_CHARS).contains(&nonce.len())
        && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a measurement was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MeasurementError {
    #[error("measurement signature: {0}")]
    Signature(#[from] crate::jws::VerifyError),
    #[error("measurement is not a version-1 measurement")]
    Malformed,
    #[error("measurement names edge {0:?}, which is not the edge whose key signed it")]
    WrongEdge(String),
    #[error("measurement is for another session")]
    WrongSession,
    #[error("measurement audience is {0:?}, not {MEASUREMENT_AUDIENCE:?}")]
    WrongAudience(String),
    #[error("measurement was not asked for by this session's edge (its nonce does not match)")]
    WrongNonce,
    #[error("measurement expired at {exp_s} (now {now_s})")]
    Expired { exp_s: u64, now_s: u64 },
    #[error("measurement is issued in the future ({iat_s}, now {now_s})")]
    NotYetValid { iat_s: u64, now_s: u64 },
    #[error("measurement claims {0} s of validity; at most 600 s are accepted")]
    Lifetime(u64),
    #[error("measurement carries {0} round trips; 1 to 200 are accepted")]
    Size(usize),
}

/// What the session's edge expects of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct MeasurementExpect<'a> {
    /// The session the measurement must be about.
    pub session: &'a str,
    /// The nonce this edge gave the browser for that session.
    pub nonce: &'a str,
    /// The time now, in seconds since the Unix epoch.
    pub now_s: u64,
}

/// Verifies a measurement signed by `edge_id` (whose public key is `jwks`) for a session.
pub fn verify_measurement(
    token: &str,
    edge_id: &str,
    jwks: &crate::jws::Jwks,
    expect: MeasurementExpect<'_>,
) -> Result<MeasurementV1, MeasurementError> {
    let payload = crate::jws::verify_payload(token, jwks, crate::jws::MEASUREMENT_TYP)?;
    let measurement: MeasurementV1 =
        serde_json::from_slice(&payload).map_err(|_| MeasurementError::Malformed)?;
    if measurement.iss != edge_id {
        return Err(MeasurementError::WrongEdge(measurement.iss));
    }
    if measurement.sub != expect.session {
        return Err(MeasurementError::WrongSession);
    }
    if measurement.aud != MEASUREMENT_AUDIENCE {
        return Err(MeasurementError::WrongAudience(measurement.aud));
    }
    if measurement.nonce.as_bytes() != expect.nonce.as_bytes() || !valid_nonce(expect.nonce) {
        return Err(MeasurementError::WrongNonce);
    }
    let now_s = expect.now_s;
    if measurement.exp.saturating_add(MEASUREMENT_LEEWAY_S) <= now_s {
        return Err(MeasurementError::Expired { exp_s: measurement.exp, now_s });
    }
    if measurement.iat > now_s.saturating_add(MEASUREMENT_LEEWAY_S) {
        return Err(MeasurementError::NotYetValid { iat_s: measurement.iat, now_s });
    }
    let lifetime_s = measurement.exp.saturating_sub(measurement.iat);
    if lifetime_s > MEASUREMENT_MAX_LIFETIME_S {
        return Err(MeasurementError::Lifetime(lifetime_s));
    }
    if measurement.rtt_us.is_empty() || measurement.rtt_us.len() > 200 {
        return Err(MeasurementError::Size(measurement.rtt_us.len()));
    }
    Ok(measurement)
}

#[cfg(test)]
mod measurement_tests {
    use super::*;
    use crate::jws::{Jwks, Signer, VerifyError, MEASUREMENT_TYP, VERDICT_TYP};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW_S: u64 = 1_800_000_000;

    fn measurement() -> MeasurementV1 {
        MeasurementV1 {
            iss: "chi".into(),
            sub: "session-1".into(),
            aud: MEASUREMENT_AUDIENCE.into(),
            iat: NOW_S,
            exp: NOW_S + MEASUREMENT_TTL_S,
            nonce: "n0nce".into(),
            rtt_us: vec![40_000, 41_000],
            lost: 0,
        }
    }

    fn check(
        token: &str,
        session: &str,
        nonce: &str,
        now_s: u64,
        expected: Result<(), MeasurementError>,
    ) {
        let signer = Signer::from_seed(&[3u8; 32]);
        let jwks = Jwks { keys: vec![signer.jwk()] };
        let got =
            verify_measurement(token, "chi", &jwks, MeasurementExpect { session, nonce, now_s });
        assert_eq!(got.map(|_| ()), expected, "{token}");
    }

    #[test]
    fn a_measurement_counts_only_for_its_session_nonce_audience_and_lifetime() {
        let signer = Signer::from_seed(&[3u8; 32]);
        let sign = |m: &MeasurementV1| signer.sign_payload(MEASUREMENT_TYP, m);
        let with = |change: fn(&mut MeasurementV1)| {
            let mut m = measurement();
            change(&mut m);
            sign(&m)
        };
        let genuine = sign(&measurement());
        check(&genuine, "session-1", "n0nce", NOW_S + 10, Ok(()));
        check(&genuine, "session-2", "n0nce", NOW_S, Err(MeasurementError::WrongSession));
        check(&genuine, "session-1", "other", NOW_S, Err(MeasurementError::WrongNonce));
        check(
            &with(|m| m.nonce = String::new()),
            "session-1",
            "",
            NOW_S,
            Err(MeasurementError::WrongNonce),
        );
        check(
            &genuine,
            "session-1",
            "n0nce",
            NOW_S + MEASUREMENT_TTL_S + MEASUREMENT_LEEWAY_S,
            Err(MeasurementError::Expired {
                exp_s: NOW_S + MEASUREMENT_TTL_S,
                now_s: NOW_S + MEASUREMENT_TTL_S + MEASUREMENT_LEEWAY_S,
            }),
        );
        check(
            &genuine,
            "session-1",
            "n0nce",
            NOW_S - 61,
            Err(MeasurementError::NotYetValid { iat_s: NOW_S, now_s: NOW_S - 61 }),
        );
        check(
            &with(|m| m.aud = "onsite".into()),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::WrongAudience("onsite".into())),
        );
        check(
            &with(|m| m.exp = m.iat + 10 * 24 * 3600),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::Lifetime(10 * 24 * 3600)),
        );
        check(
            &with(|m| m.iss = "nyc".into()),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::WrongEdge("nyc".into())),
        );
        // A measurement signed as a verdict (the old `typ`) is refused as the wrong type.
        check(
            &signer.sign_payload(VERDICT_TYP, &measurement()),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::Signature(VerifyError::WrongType {
                expected: MEASUREMENT_TYP,
                got: VERDICT_TYP.into(),
            })),
        );
        // The old shape (no aud, exp or nonce) does not parse.
        let old = serde_json::json!({"iss": "chi", "sub": "session-1", "iat": NOW_S, "rtt_us": [1], "lost": 0});
        check(
            &signer.sign_payload(MEASUREMENT_TYP, &old),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::Malformed),
        );
    }

    #[test]
    fn nonces_are_short_base64url() {
        for (nonce, valid) in [("abc-_09", true), ("", false), ("a b", false), ("a.b", false)] {
            assert_eq!(valid_nonce(nonce), valid, "{nonce:?}");
        }
        assert!(
            valid_nonce(&"a".repeat(MAX_NONCE_CHARS))
                && !valid_nonce(&"a".repeat(MAX_NONCE_CHARS + 1))
        );
    }
}
