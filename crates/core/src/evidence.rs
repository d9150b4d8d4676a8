//! Evidence: what the probe observed and what the edge measured, as plain domain types.
//!
//! A keystroke carries only timings and a coarse class. The physical key is used by the probe to
//! pair a key-down with its key-up and is then forgotten; nothing in this module can hold it.

/// A coarse class of key: enough to tell typing from editing, never which key it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyClass {
    Letter,
    Digit,
    Space,
    Punctuation,
    Enter,
    Backspace,
    Modifier,
    Navigation,
    Other,
}

impl KeyClass {
    /// Every class, in a fixed order.
    pub const ALL: [KeyClass; 9] = [
        KeyClass::Letter,
        KeyClass::Digit,
        KeyClass::Space,
        KeyClass::Punctuation,
        KeyClass::Enter,
        KeyClass::Backspace,
        KeyClass::Modifier,
        KeyClass::Navigation,
        KeyClass::Other,
    ];

    /// Classifies a `KeyboardEvent.code` value (the physical key on a US layout).
    ///
    /// The code itself is not kept: the caller drops it once it has the class.
    pub fn from_code(code: &str) -> KeyClass {
        if code.len() == 4 && code.starts_with("Key") {
            return KeyClass::Letter;
        }
        if (code.len() == 6 && code.starts_with("Digit"))
            || code.starts_with("Numpad") && code.len() == 7
        {
            return KeyClass::Digit;
        }
        match code {
            "Space" => KeyClass::Space,
            "Enter" | "NumpadEnter" => KeyClass::Enter,
            "Backspace" | "Delete" => KeyClass::Backspace,
            "ShiftLeft" | "ShiftRight" | "ControlLeft" | "ControlRight" | "AltLeft"
            | "AltRight" | "MetaLeft" | "MetaRight" | "CapsLock" | "Fn" => KeyClass::Modifier,
            "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" | "Home" | "End" | "PageUp"
            | "PageDown" | "Tab" => KeyClass::Navigation,
            "Minus" | "Equal" | "BracketLeft" | "BracketRight" | "Backslash" | "Semicolon"
            | "Quote" | "Backquote" | "Comma" | "Period" | "Slash" | "IntlBackslash"
            | "NumpadDecimal" | "NumpadAdd" | "NumpadSubtract" | "NumpadMultiply"
            | "NumpadDivide" => KeyClass::Punctuation,
            _ => KeyClass::Other,
        }
    }

    /// The stable name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyClass::Letter => "letter",
            KeyClass::Digit => "digit",
            KeyClass::Space => "space",
            KeyClass::Punctuation => "punctuation",
            KeyClass::Enter => "enter",
            KeyClass::Backspace => "backspace",
            KeyClass::Modifier => "modifier",
            KeyClass::Navigation => "navigation",
            KeyClass::Other => "other",
        }
    }

    /// Parses a name written by [`KeyClass::as_str`].
    pub fn parse(name: &str) -> Option<KeyClass> {
        KeyClass::ALL.into_iter().find(|class| class.as_str() == name)
    }
}

/// The most auto-repeat gaps kept per press; a key held for minutes repeats thousands of times.
pub const MAX_REPEAT_GAPS: usize = 32;

/// One press of one key: when it went down, when it came up, and how it auto-repeated.
///
/// Times are microseconds on the page's own monotonic clock (`event.timeStamp`); only
/// differences between them mean anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStroke {
    pub down_at_us: i64,
    pub up_at_us: i64,
    pub class: KeyClass,
    /// Auto-repeat key-downs received while the key was held (count).
    pub repeats: u32,
    /// Gaps between the key-down and the first repeat, then between repeats (µs), at most
    /// [`MAX_REPEAT_GAPS`].
    pub repeat_gaps_us: Vec<u32>,
    pub trusted: bool,
}

/// What a pointer event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PointerKind {
    Move,
    Down,
    Up,
}

/// Which device moved the pointer (`PointerEvent.pointerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PointerDevice {
    Mouse,
    Pen,
    Touch,
    Other,
}

/// One pointer event as the page received it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointerSample {
    pub at_us: i64,
    pub kind: PointerKind,
    /// Position in CSS pixels relative to the viewport.
    pub x_px: f64,
    pub y_px: f64,
    /// How many raw samples the browser delivered in the same event as this one, this one
    /// included (`getCoalescedEvents().length`, at least 1). Each raw sample is its own
    /// `PointerSample` with its own time.
    pub coalesced: u16,
    pub device: PointerDevice,
    pub trusted: bool,
}

/// A change of focus or visibility: samples taken while the page is hidden are not comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FocusKind {
    Focus,
    Blur,
    Visible,
    Hidden,
}

/// When the page gained or lost focus or visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FocusChange {
    pub at_us: i64,
    pub kind: FocusKind,
}

impl KeyStroke {
    /// How long the key was held, in microseconds (never negative).
    pub fn dwell_us(&self) -> i64 {
        (self.up_at_us - self.down_at_us).max(0)
    }
}

/// How the browser draws graphics, from the WebGL renderer name; only the class leaves the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    /// A real GPU.
    Hardware,
    /// A software rasteriser (SwiftShader, llvmpipe, Microsoft Basic Render Driver): usual in
    /// virtual machines and remote-desktop sessions, rare on a laptop's own screen.
    Software,
    /// WebGL is unavailable or does not name its renderer.
    Unknown,
}

impl Renderer {
    /// Classifies an `UNMASKED_RENDERER_WEBGL` string; the string itself is not kept.
    pub fn classify(name: &str) -> Renderer {
        let lower = name.to_ascii_lowercase();
        // WebKit names every GPU "Apple GPU", whatever draws: the name says nothing.
        if lower.is_empty() || lower == "apple gpu" {
            Renderer::Unknown
        } else if ["swiftshader", "llvmpipe", "softpipe", "software", "basic render"]
            .iter()
            .any(|s| lower.contains(s))
        {
            Renderer::Software
        } else {
            Renderer::Hardware
        }
    }

    /// The stable name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Renderer::Hardware => "hardware",
            Renderer::Software => "software",
            Renderer::Unknown => "unknown",
        }
    }

    /// Parses a name written by [`Renderer::as_str`].
    pub fn parse(name: &str) -> Option<Renderer> {
        [Renderer::Hardware, Renderer::Software, Renderer::Unknown]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// What the browser says about itself, once per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Environment {
    /// `navigator.webdriver`: the browser is driven by automation.
    pub webdriver: bool,
    pub renderer: Renderer,
    /// `screen.width` and `screen.height` in CSS pixels.
    pub screen_width_px: u32,
    pub screen_height_px: u32,
}

/// Everything known about one session so far.
///
/// `rtt_us` holds round trips the edge measured itself; the browser cannot shorten them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub strokes: Vec<KeyStroke>,
    pub pointer: Vec<PointerSample>,
    pub focus: Vec<FocusChange>,
    pub rtt_us: Vec<u64>,
    pub environment: Option<Environment>,
    pub rhythm: Option<crate::estimators::Outcome<crate::estimators::Rhythm>>,
    pub tracking: Option<crate::estimators::Outcome<crate::estimators::TrackingRun>>,
    pub frames: Option<crate::estimators::FrameTiming>,
    /// The browser's time zone (`Intl`), an IANA name such as `America/Chicago`.
    pub time_zone: Option<String>,
    /// Where the edge that timed `rtt_us` stands.
    pub edge_site: Option<EdgeSite>,
    /// Where the candidate says they are.
    pub claimed: Option<ClaimedLocation>,
    /// The smallest round trips other edges timed and signed.
    pub peer_rtts: Vec<crate::geo::EdgeRtt>,
    /// For each of `rtt_us`, the page's clock when the echo reached it (µs), so samples taken
    /// while the page was hidden can be left out; empty when the browser did not say.
    pub rtt_page_at_us: Vec<i64>,
    /// The edge's echo probes that never came back.
    pub rtt_lost: u32,
    /// Round trips the browser timed itself, to the same edge (µs).
    pub client_rtt_us: Vec<u32>,
    /// The step of the page's clock as the probe saw it in its key events (µs); scoring does not
    /// rely on it, it estimates the step again from the timestamps themselves.
    pub timer_resolution_us: Option<u32>,
    /// The rhythm task as the edge ran it, on its own clock: attested, where `rhythm` is what
    /// the page reported.
    pub edge_rhythm: Option<crate::attested::EdgeRhythm>,
}

/// An edge at a known place.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeSite {
    pub id: String,
    pub location: crate::geo::LatLon,
}

/// A location the candidate claims: a city from the built-in table, or coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedLocation {
    /// As given, for reasons shown to people.
    pub label: String,
    pub location: crate::geo::LatLon,
    /// The city, when a listed one was named: its time zone can be checked too.
    pub city: Option<&'static crate::geo::City>,
}

impl ClaimedLocation {
    /// Parses `"Chicago"` or `"41.88,-87.63"`.
    pub fn parse(text: &str) -> Option<ClaimedLocation> {
        let (location, city) = crate::geo::LatLon::parse(text)?;
        Some(ClaimedLocation {
            label: city.map_or_else(|| text.trim().to_owned(), |c| c.name.to_owned()),
            location,
            city,
        })
    }
}

impl Evidence {
    /// Puts strokes in the order they were pressed, so the same evidence always hashes and
    /// scores the same whatever order its batches arrived in.
    pub fn normalise(&mut self) {
        self.strokes.sort_by(|a, b| {
            (a.down_at_us, a.up_at_us, a.class, a.repeats, &a.repeat_gaps_us, a.trusted).cmp(&(
                b.down_at_us,
                b.up_at_us,
                b.class,
                b.repeats,
                &b.repeat_gaps_us,
                b.trusted,
            ))
        });
        // A stable sort by time keeps same-time samples in arrival order.
        self.pointer.sort_by_key(|p| p.at_us);
        self.focus.sort_by_key(|f| (f.at_us, f.kind));
    }
}
