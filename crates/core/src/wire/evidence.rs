//! Evidence on the wire: presses, pointer samples, focus changes and task results as one batch
//! carries them, their one validation point, and the evidence as stored and hashed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::attested::{EdgeRhythm, EdgeTap};
use crate::estimators::{Answer, FrameTiming, Outcome, Point, Rhythm, TrackingRun};
use crate::evidence::{
    ClaimedLocation, EdgeSite, Environment, Evidence, FocusChange, FocusKind, KeyClass, KeyStroke,
    PointerDevice, PointerKind, PointerSample, Renderer, MAX_REPEAT_GAPS,
};
use crate::geo::LatLon;

use super::{
    WireError, MAX_ABS_COORDINATE_PX, MAX_ABS_TIME_US, MAX_BEATS, MAX_FOCUS_PER_BATCH,
    MAX_FRAME_TIMING_US, MAX_HOLD_US, MAX_POINTER_PER_BATCH, MAX_REPEAT_GAP_US,
    MAX_STROKES_PER_BATCH, MAX_TAPS, MAX_TAP_OUTSIDE_BEATS_US, MAX_TARGET_POINTS, MAX_TASK_SPAN_US,
    MAX_TIMER_RESOLUTION_US, TARGET_SLACK_US,
};

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

/// The bounds every rhythm result keeps, the page's and the edge's alike: counts, times in
/// range, beats in order within a minute, and every tap near the beats.
fn check_beats_and_taps(beats_us: &[i64], taps_us: &[i64]) -> Result<(), WireError> {
    if beats_us.len() > MAX_BEATS || taps_us.len() > MAX_TAPS {
        return Err(WireError::InvalidChallenge("too many beats or taps"));
    }
    let in_range = |t: &i64| t.abs() <= MAX_ABS_TIME_US;
    if !beats_us.iter().all(in_range) || !taps_us.iter().all(in_range) {
        return Err(WireError::InvalidChallenge("time out of range"));
    }
    if beats_us.windows(2).any(|w| w[1] <= w[0]) {
        return Err(WireError::InvalidChallenge("beats out of order"));
    }
    if let (Some(&first_us), Some(&last_us)) = (beats_us.first(), beats_us.last()) {
        if last_us - first_us > MAX_TASK_SPAN_US {
            return Err(WireError::InvalidChallenge("beats span more than a minute"));
        }
        let near = |t: &i64| {
            *t >= first_us - MAX_TAP_OUTSIDE_BEATS_US && *t <= last_us + MAX_TAP_OUTSIDE_BEATS_US
        };
        if !taps_us.iter().all(near) {
            return Err(WireError::InvalidChallenge("a tap lies far from every beat"));
        }
    } else if !taps_us.is_empty() {
        return Err(WireError::InvalidChallenge("taps without beats"));
    }
    Ok(())
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
        check_beats_and_taps(&self.beats_at_us, &self.taps_at_us)?;
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
    /// The rhythm task as the edge ran it (edge clock); absent when the edge did not run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_rhythm: Option<EdgeRhythmV1>,
}

/// The rhythm task as the edge ran it, on the wire and in storage: the beats it sent and the
/// taps it received, on its own clock (µs since the socket opened), with the page's own time for
/// each tap and the socket's round trip and clock offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeRhythmV1 {
    pub beats_sent_us: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_at_beat: Option<u32>,
    pub taps_arrived_us: Vec<i64>,
    pub taps_page_at_us: Vec<i64>,
    pub rtt_min_us: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_offset_us: Option<i64>,
    #[serde(default)]
    pub offset_spread_us: i64,
}

impl EdgeRhythmV1 {
    /// Encodes an edge-run rhythm task.
    pub fn from_run(run: &EdgeRhythm) -> EdgeRhythmV1 {
        EdgeRhythmV1 {
            beats_sent_us: run.beats_sent_us.clone(),
            shift_at_beat: run.shift_at_beat,
            taps_arrived_us: run.taps.iter().map(|t| t.arrived_us).collect(),
            taps_page_at_us: run.taps.iter().map(|t| t.page_at_us).collect(),
            rtt_min_us: run.rtt_min_us,
            page_offset_us: run.page_offset_us,
            offset_spread_us: run.offset_spread_us,
        }
    }

    /// Validates and decodes, with the same bounds as a page's rhythm result.
    pub fn decode(&self) -> Result<EdgeRhythm, WireError> {
        let invalid = WireError::InvalidChallenge;
        check_beats_and_taps(&self.beats_sent_us, &self.taps_arrived_us)?;
        if self.taps_arrived_us.len() != self.taps_page_at_us.len() {
            return Err(invalid("tap arrivals and page times differ in number"));
        }
        let in_range = |t: &i64| t.abs() <= MAX_ABS_TIME_US;
        if !self.taps_page_at_us.iter().all(in_range) || !self.page_offset_us.iter().all(in_range) {
            return Err(invalid("time out of range"));
        }
        if !(0..=MAX_TASK_SPAN_US).contains(&self.rtt_min_us)
            || !(0..=MAX_TASK_SPAN_US).contains(&self.offset_spread_us)
        {
            return Err(invalid("round trip or offset spread out of range"));
        }
        Ok(EdgeRhythm {
            beats_sent_us: self.beats_sent_us.clone(),
            shift_at_beat: self.shift_at_beat,
            taps: self
                .taps_arrived_us
                .iter()
                .zip(&self.taps_page_at_us)
                .map(|(&arrived_us, &page_at_us)| EdgeTap { arrived_us, page_at_us })
                .collect(),
            rtt_min_us: self.rtt_min_us,
            page_offset_us: self.page_offset_us,
            offset_spread_us: self.offset_spread_us,
        })
    }
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
            edge_rhythm: evidence.edge_rhythm.as_ref().map(EdgeRhythmV1::from_run),
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
                edge_rhythm: self.edge_rhythm.as_ref().map(EdgeRhythmV1::decode).transpose()?,
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
