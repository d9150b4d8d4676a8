//! The WebSocket's text messages, each side's, tagged by `t`.

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;

use super::{
    BatchV1, EnvironmentV1, Role, VerdictV1, WireError, MAX_FRAME_BYTES, MAX_ID_BYTES,
    MAX_SCREEN_PX, PROTOCOL_VERSION,
};

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
    /// The candidate pressed Start on the rhythm task: the edge sends its beats from now on.
    StartRhythm,
    /// A tap on the rhythm task, sent the moment it happens, with the page's time for it (µs):
    /// the edge times its arrival itself, and the page's time is only a cross-check.
    Tap { at_us: i64 },
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
    /// Beat `n` of `of` of the rhythm task is due now: draw it as it arrives. The edge decides
    /// when each beat falls, so the page cannot know one before it is sent.
    Beat {
        n: u32,
        of: u32,
    },
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
            ClientMsg::Tap { at_us } if at_us.abs() > super::MAX_ABS_TIME_US => {
                Err(WireError::Malformed("a tap's time is out of range".into()))
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
            n: Option<u32>,
            of: Option<u32>,
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
            "beat" => ServerMsg::Beat {
                n: flat.n.ok_or_else(|| missing("n"))?,
                of: flat.of.ok_or_else(|| missing("of"))?,
            },
            "error" => ServerMsg::Error {
                code: flat.code.ok_or_else(|| missing("code"))?,
                message: flat.message.clone().ok_or_else(|| missing("message"))?,
            },
            other => return Err(WireError::Malformed(format!("unknown message type {other:?}"))),
        })
    }
}
