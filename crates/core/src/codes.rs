//! The protocol's words as closed enums, each with one mapping to its text and its number: the
//! error codes the edge answers with, the WebSocket close codes it closes with and the reason codes
//! a verdict carries, shared by the
//! edge, the probe and the app.

/// A WebSocket close code (RFC 6455 section 7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    Normal,
    GoingAway,
    InvalidPayload,
    Policy,
    TooBig,
    Internal,
    TryAgainLater,
}

impl CloseCode {
    /// The number on the wire.
    pub const fn number(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::InvalidPayload => 1007,
            CloseCode::Policy => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::Internal => 1011,
            CloseCode::TryAgainLater => 1013,
        }
    }
}

/// Why the edge refused something. An error frame carries it as `code`; a code with a
/// [`close`](ErrorCode::close) also closes the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The first frame was not a hello.
    ExpectedHello,
    /// A measuring socket's first frame was not a measure request.
    ExpectedMeasure,
    /// A measuring socket was opened without the nonce the session's edge gave for it.
    ExpectedNonce,
    /// A second hello on one socket.
    UnexpectedHello,
    /// The link is not valid for the session.
    Unauthorized,
    /// The session is past its lifetime.
    Expired,
    /// The session is sealed: its candidate finished.
    Finished,
    /// A frame that does not parse or holds values outside the wire's bounds.
    Malformed,
    /// A frame over the size limit.
    TooLarge,
    /// Evidence batches count from 1.
    BadSeq,
    /// A batch arrived before the one it follows.
    OutOfOrder,
    /// The session holds all the evidence it may store.
    SessionFull,
    /// A second run of a task the edge runs once per session.
    TaskRepeated,
    /// A second environment on one socket.
    EnvironmentRepeated,
    /// Another edge's measurement did not verify.
    MeasurementRefused,
    /// Too many requests, sockets or frames.
    RateLimited,
    /// An interviewer link tried to send.
    Forbidden,
    /// The edge is measuring as many browsers as it may.
    Busy,
    /// No hello or measure request in time.
    Timeout,
    /// A socket was silent for too long.
    Idle,
    /// The edge's store failed.
    Unavailable,
    /// The edge is shutting down.
    ShuttingDown,
    /// A page of an origin that is not allowed (HTTP only).
    Origin,
    /// The probe could not read a frame from the edge (the probe's own; never sent).
    BadFrame,
    /// The peer closed the socket (the edge's own; nothing is sent).
    Closed,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::ExpectedHello,
        ErrorCode::ExpectedMeasure,
        ErrorCode::ExpectedNonce,
        ErrorCode::UnexpectedHello,
        ErrorCode::Unauthorized,
        ErrorCode::Expired,
        ErrorCode::Finished,
        ErrorCode::Malformed,
        ErrorCode::TooLarge,
        ErrorCode::BadSeq,
        ErrorCode::OutOfOrder,
        ErrorCode::SessionFull,
        ErrorCode::TaskRepeated,
        ErrorCode::EnvironmentRepeated,
        ErrorCode::MeasurementRefused,
        ErrorCode::RateLimited,
        ErrorCode::Forbidden,
        ErrorCode::Busy,
        ErrorCode::Timeout,
        ErrorCode::Idle,
        ErrorCode::Unavailable,
        ErrorCode::ShuttingDown,
        ErrorCode::Origin,
        ErrorCode::BadFrame,
        ErrorCode::Closed,
    ];

    /// The code's text on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ExpectedHello => "expected_hello",
            ErrorCode::ExpectedMeasure => "expected_measure",
            ErrorCode::ExpectedNonce => "expected_nonce",
            ErrorCode::UnexpectedHello => "unexpected_hello",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Expired => "expired",
            ErrorCode::Finished => "finished",
            ErrorCode::Malformed => "malformed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::BadSeq => "bad_seq",
            ErrorCode::OutOfOrder => "out_of_order",
            ErrorCode::SessionFull => "session_full",
            ErrorCode::TaskRepeated => "task_repeated",
            ErrorCode::EnvironmentRepeated => "environment_repeated",
            ErrorCode::MeasurementRefused => "measurement_refused",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Busy => "busy",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Idle => "idle",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Origin => "origin",
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::Closed => "closed",
        }
    }

    /// The code for a text, or `None` for a word this version does not know.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// How the edge closes the socket after this error, or `None` when the socket stays open.
    pub const fn close(self) -> Option<CloseCode> {
        match self {
            ErrorCode::ExpectedHello
            | ErrorCode::ExpectedMeasure
            | ErrorCode::ExpectedNonce
            | ErrorCode::UnexpectedHello
            | ErrorCode::Unauthorized
            | ErrorCode::Expired
            | ErrorCode::BadSeq
            | ErrorCode::OutOfOrder
            | ErrorCode::Forbidden
            | ErrorCode::Timeout
            | ErrorCode::Idle => Some(CloseCode::Policy),
            ErrorCode::Malformed => Some(CloseCode::InvalidPayload),
            ErrorCode::TooLarge => Some(CloseCode::TooBig),
            ErrorCode::RateLimited | ErrorCode::Busy => Some(CloseCode::TryAgainLater),
            ErrorCode::Unavailable => Some(CloseCode::Internal),
            ErrorCode::ShuttingDown | ErrorCode::Closed => Some(CloseCode::GoingAway),
            ErrorCode::Finished
            | ErrorCode::SessionFull
            | ErrorCode::TaskRepeated
            | ErrorCode::EnvironmentRepeated
            | ErrorCode::MeasurementRefused
            | ErrorCode::Origin
            | ErrorCode::BadFrame => None,
        }
    }

    /// Whether reconnecting cannot cure it: the link itself is wrong or spent.
    pub const fn is_permanent(self) -> bool {
        matches!(self, ErrorCode::Unauthorized | ErrorCode::ExpectedHello | ErrorCode::Expired)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ErrorCode::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {text:?}")))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`ReasonCode`] once: each variant with its word on the wire and what it is about.
macro_rules! reason_codes {
    ($($variant:ident => $text:literal, $about:literal;)+) => {
        /// Why a verdict leans one way: each reason in a verdict carries one. The word is stable
        /// for programs (policies, dashboards); the sentence beside it is for people.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ReasonCode {
            $(#[doc = $about] $variant,)+
        }

        impl ReasonCode {
            /// Every code, for tests and documentation.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant,)+];

            /// The code as it appears in a verdict.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $text,)+
                }
            }

            /// What the reason is about, in one sentence.
            pub const fn about(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $about,)+
                }
            }
        }
    };
}

reason_codes! {
    AutoRepeat => "auto_repeat", "How regular a held key's auto-repeat was.";
    BurstRelease => "burst_release", "Presses released together in bursts, as a remote desktop forwards them.";
    ChallengeSkipped => "challenge_skipped", "A closed-loop task the person skipped: not measured, never remote.";
    ClaimedLocation => "claimed_location", "Whether the edges' round trips fit the place the candidate claims.";
    ClientRtt => "client_rtt", "Round trips the page timed itself: a cross-check, never evidence.";
    Dwell => "dwell", "How long keys were held.";
    FrameTiming => "frame_timing", "The page's reported frame and input timing.";
    LoopLatency => "loop_latency", "The latency added to the person's own loop, from both tasks.";
    NearSimultaneous => "near_simultaneous", "Presses that began within a few milliseconds of each other.";
    NetworkRtt => "network_rtt", "The smallest round trip the edge timed to the browser.";
    NotEnoughTyping => "not_enough_typing", "Too few presses to read typing from.";
    PointerRate => "pointer_rate", "How often the pointer reported, against its device's usual rate.";
    RepeatJitter => "repeat_jitter", "How much a held key's auto-repeat wavered.";
    Rhythm => "rhythm", "What the rhythm task measured.";
    RoundTripsMissing => "round_trips_missing", "Too few edge-timed round trips for `local`.";
    SmallScreen => "small_screen", "A screen smaller than a laptop's.";
    SoftwareRenderer => "software_renderer", "A software renderer, as virtual machines and remote sessions use.";
    StraightLines => "straight_lines", "Pointer paths straighter than a hand draws.";
    TimingInconsistent => "timing_inconsistent", "The page's own times disagree with when the edge received them.";
    TimeZone => "time_zone", "Whether the browser's time zone fits the claimed place.";
    TimerResolution => "timer_resolution", "The page clock's step, which decides which timings can be measured.";
    TimestampGrid => "timestamp_grid", "Timestamps on a coarser grid than the page clock's.";
    Tracking => "tracking", "What the tracking task measured.";
    UntrustedEvents => "untrusted_events", "Key events a script made, not the keyboard.";
    UntrustedPointer => "untrusted_pointer", "Pointer events a script made, not the device.";
    Webdriver => "webdriver", "The browser says it is driven by automation.";
    ZeroDwell => "zero_dwell", "Presses held under 2 ms.";
}

impl ReasonCode {
    /// The code for a word, or `None` for one this version does not know.
    pub fn parse(text: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.iter().copied().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_code_round_trips_through_its_text_once() {
        let mut texts: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), ErrorCode::ALL.len(), "no two codes share a text");
        assert_eq!(ErrorCode::parse("launch"), None);
    }

    #[test]
    fn every_reason_code_round_trips_through_its_word_once() {
        let mut texts: Vec<&str> = ReasonCode::ALL.iter().map(|code| code.as_str()).collect();
        for &code in ReasonCode::ALL {
            assert_eq!(ReasonCode::parse(code.as_str()), Some(code));
            assert!(code.about().ends_with('.'), "{code}: a sentence");
        }
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), ReasonCode::ALL.len(), "no two reason codes share a word");
        assert_eq!(ReasonCode::parse("vibes"), None);
    }

    #[test]
    fn refusals_close_with_the_code_their_kind_calls_for() {
        let cases = [
            (ErrorCode::Unauthorized, Some(1008)),
            (ErrorCode::Malformed, Some(1007)),
            (ErrorCode::TooLarge, Some(1009)),
            (ErrorCode::RateLimited, Some(1013)),
            (ErrorCode::Unavailable, Some(1011)),
            (ErrorCode::ShuttingDown, Some(1001)),
            (ErrorCode::SessionFull, None),
            (ErrorCode::Finished, None),
        ];
        for (code, close) in cases {
            assert_eq!(code.close().map(CloseCode::number), close, "{code}");
        }
        assert!(ErrorCode::Expired.is_permanent() && !ErrorCode::RateLimited.is_permanent());
    }
}
