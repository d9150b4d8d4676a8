//! The rhythm task as the edge ran it: beats the edge sent when they fell due, taps it stamped
//! on arrival, both on the edge's own clock. What the page says about the same taps is only a
//! cross-check.
//!
//! How a script would fake it, and what stops it: the page cannot make a beat reach it earlier
//! than the edge sent it, nor a tap reach the edge earlier than it was sent, so an operator's
//! delay behind a remote desktop stays in the edge's times however the page reports them. A page
//! that reports its taps earlier than they were sent (to hide that delay from the page-timed
//! estimate) is caught by comparing each reported time, moved onto the edge's clock by the offset
//! the echoes measured on the same socket, with the tap's arrival. What stays out of reach: a
//! program on the candidate's machine that taps in real time with a human's timing, and a page
//! that draws beats early by predicting the period (only the unannounced shift exposes it).

use crate::estimators::{credited_frame_us, estimate_around, Answer, Challenges, FrameTiming};
use crate::estimators::{LoopEstimate, Outcome, Rhythm};
use crate::stats::quantile;

/// A tap whose page time, moved onto the edge's clock, lies further than this from where its
/// arrival puts it (µs), beyond the echoes' own spread, disagrees with the edge.
pub const TAP_TOLERANCE_US: i64 = 30_000;
/// The share of checked taps that may disagree before the page's timing counts as inconsistent
/// (thousandths); a busy page delays a few handlers.
pub const MAX_DISAGREEING_MILLI: u32 = 250;
/// Fewer taps than this are not checked.
pub const MIN_CHECKED_TAPS: usize = 6;
/// The edge's rhythm is read around this asynchrony (µs), so taps from 150 ms before to 450 ms
/// after a beat are paired with it: local people (about 30 ms before) and loops of up to about
/// 480 ms read right. A tap only says where it fell within the period, and the page's tracking
/// result, which could unwrap longer loops, is a claim the edge does not lean on.
pub const ATTESTED_EXPECTED_ASYNCHRONY_US: i64 = 150_000;

/// One tap of an edge-run rhythm task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeTap {
    /// When the tap's frame reached the edge (µs, edge clock).
    pub arrived_us: i64,
    /// The time the page gave the tap (µs, page clock): a claim.
    pub page_at_us: i64,
}

/// A rhythm task the edge ran on one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRhythm {
    /// When the edge sent each beat (µs, edge clock, since the socket opened).
    pub beats_sent_us: Vec<i64>,
    /// The beat from which the edge shifted the phase, unannounced.
    pub shift_at_beat: Option<u32>,
    pub taps: Vec<EdgeTap>,
    /// The smallest round trip the edge timed on the same socket (µs): each way takes at least
    /// half of it.
    pub rtt_min_us: i64,
    /// The page clock minus the edge clock, from the echoes on the same socket (µs), and the
    /// spread of that estimate (interquartile range, µs); `None` when the page sent no clock.
    pub page_offset_us: Option<i64>,
    pub offset_spread_us: i64,
}

/// How the page's own tap times compare with the edge's arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consistency {
    pub checked: u32,
    pub disagreeing: u32,
    /// The median of page-claimed time minus the time the arrival implies (µs): negative when
    /// the page claims its taps happened earlier than the edge's clock allows.
    pub median_shift_us: i64,
}

impl Consistency {
    /// Whether the page's times disagree with the edge's beyond what a busy page explains.
    pub fn inconsistent(&self) -> bool {
        self.checked > 0 && self.disagreeing * 1000 > self.checked * MAX_DISAGREEING_MILLI
    }
}

/// What the edge's own run of the rhythm task says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The loop read on the edge's clock from the rhythm alone (`rhythm` and `added`), if enough
    /// taps answered beats.
    pub estimate: LoopEstimate,
    pub consistency: Option<Consistency>,
}

impl EdgeRhythm {
    /// The run on the edge's clock, as the page would have seen it: a beat reaches the page half
    /// the smallest round trip after it is sent and is drawn about half a frame later; a tap left
    /// the page half the smallest round trip before it arrived.
    pub fn as_seen(&self, frames: Option<&FrameTiming>) -> Rhythm {
        let one_way_us = self.rtt_min_us / 2;
        let drawn_after_us = credited_frame_us(frames) / 2;
        Rhythm {
            beats_at_us: self
                .beats_sent_us
                .iter()
                .map(|b| b + one_way_us + drawn_after_us)
                .collect(),
            shift_at_beat: self.shift_at_beat,
            taps_at_us: self.taps.iter().map(|t| t.arrived_us - one_way_us).collect(),
            answer: Answer::Key,
        }
    }

    /// Compares each tap's page time with its arrival, once both are on the edge's clock.
    pub fn consistency(&self) -> Option<Consistency> {
        let offset_us = self.page_offset_us?;
        if self.taps.len() < MIN_CHECKED_TAPS {
            return None;
        }
        let one_way_us = self.rtt_min_us / 2;
        let tolerance_us = TAP_TOLERANCE_US + self.offset_spread_us.max(0);
        let mut shifts_us: Vec<i64> = self
            .taps
            .iter()
            .map(|t| (t.page_at_us - offset_us) - (t.arrived_us - one_way_us))
            .collect();
        let disagreeing = shifts_us.iter().filter(|s| s.abs() > tolerance_us).count();
        shifts_us.sort_unstable();
        Some(Consistency {
            checked: u32::try_from(shifts_us.len()).unwrap_or(u32::MAX),
            disagreeing: u32::try_from(disagreeing).unwrap_or(u32::MAX),
            median_shift_us: quantile(&shifts_us, 1, 2)?,
        })
    }

    /// Estimates the asynchrony on the edge's clock and checks the page's times against it.
    pub fn attest(&self, frames: Option<&FrameTiming>) -> Attested {
        let challenges = Challenges {
            rhythm: Some(Outcome::Done(self.as_seen(frames))),
            tracking: None,
            frames: frames.copied(),
        };
        Attested {
            estimate: estimate_around(&challenges, Some(ATTESTED_EXPECTED_ASYNCHRONY_US)),
            consistency: self.consistency(),
        }
    }
}

/// The beat period of the edge-run rhythm task (µs): 100 per minute.
pub const BEAT_PERIOD_US: i64 = 600_000;
/// Beats in one run: 14.4 s.
pub const BEATS: u32 = 24;
/// How far the phase moves at the unannounced shift (µs).
pub const SHIFT_US: i64 = 150_000;
/// The shift falls on one of these beats, drawn by the edge, so the page cannot know which.
pub const SHIFT_BEATS: std::ops::Range<u32> = 9..15;
/// The first beat comes this long after Start (µs), so the person can get ready.
pub const FIRST_BEAT_AFTER_US: i64 = 1_000_000;
/// Taps are taken until this long after the last beat (µs).
pub const TAPS_AFTER_LAST_US: i64 = 1_200_000;

/// The rhythm task's schedule as the edge runs it, without IO or a clock: the edge asks when the
/// next step is due, calls [`RhythmSchedule::handle_due`] then, and passes each tap in with the
/// time it arrived. Times are µs on the edge's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RhythmSchedule {
    started_us: i64,
    shift_at_beat: u32,
    beats_sent_us: Vec<i64>,
    taps: Vec<EdgeTap>,
}

/// What the edge does when a step falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send beat `n` of `of` now.
    Beat { n: u32, of: u32 },
    /// The run is over: take the result with [`RhythmSchedule::finish`].
    Done,
}

impl RhythmSchedule {
    /// A run that starts at `now_us`, with the shift on `shift_at_beat` (taken into
    /// [`SHIFT_BEATS`]); the edge draws it at random.
    pub fn new(now_us: i64, shift_at_beat: u32) -> RhythmSchedule {
        let span = SHIFT_BEATS.end - SHIFT_BEATS.start;
        RhythmSchedule {
            started_us: now_us,
            shift_at_beat: SHIFT_BEATS.start + shift_at_beat % span,
            beats_sent_us: Vec::new(),
            taps: Vec::new(),
        }
    }

    /// When beat `n` falls due (µs).
    fn beat_due_us(&self, n: u32) -> i64 {
        let shift_us = if n >= self.shift_at_beat { SHIFT_US } else { 0 };
        self.started_us + FIRST_BEAT_AFTER_US + i64::from(n) * BEAT_PERIOD_US + shift_us
    }

    /// When the next step falls due (µs).
    pub fn next_due_us(&self) -> i64 {
        match u32::try_from(self.beats_sent_us.len()) {
            Ok(n) if n < BEATS => self.beat_due_us(n),
            _ => self.beat_due_us(BEATS - 1) + TAPS_AFTER_LAST_US,
        }
    }

    /// The step due at `now_us`, if one is: a beat is recorded as sent at `now_us` (when it
    /// really left, however late the timer fired).
    pub fn handle_due(&mut self, now_us: i64) -> Option<Step> {
        if now_us < self.next_due_us() {
            return None;
        }
        match u32::try_from(self.beats_sent_us.len()) {
            Ok(n) if n < BEATS => {
                self.beats_sent_us.push(now_us);
                Some(Step::Beat { n, of: BEATS })
            }
            _ => Some(Step::Done),
        }
    }

    /// Records a tap that arrived at `arrived_us` and that the page timed at `page_at_us`. Taps
    /// before the first beat or beyond what a run holds are not kept.
    pub fn handle_tap(&mut self, arrived_us: i64, page_at_us: i64) {
        if !self.beats_sent_us.is_empty() && self.taps.len() < crate::wire::MAX_TAPS {
            self.taps.push(EdgeTap { arrived_us, page_at_us });
        }
    }

    /// The run as it happened, with the socket's smallest round trip and the page clock's
    /// offset and its spread, as the echoes measured them.
    pub fn finish(
        self,
        rtt_min_us: i64,
        page_offset_us: Option<i64>,
        offset_spread_us: i64,
    ) -> EdgeRhythm {
        EdgeRhythm {
            beats_sent_us: self.beats_sent_us,
            shift_at_beat: Some(self.shift_at_beat),
            taps: self.taps,
            rtt_min_us,
            page_offset_us,
            offset_spread_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OFFSET_US: i64 = 5_000_000_000;
    const RTT_US: i64 = 20_000;

    /// A run of 24 beats 600 ms apart with the shift at beat 12, answered `loop_ms` after a local
    /// person would (who taps 30 ms ahead of what they see), with the page reporting its taps
    /// `reported_early_ms` earlier than they were sent.
    fn run(loop_ms: i64, reported_early_ms: i64) -> EdgeRhythm {
        let beats_sent_us: Vec<i64> =
            (0..24).map(|i| 1_000_000 + i * 600_000 + if i >= 12 { 150_000 } else { 0 }).collect();
        let taps = beats_sent_us
            .iter()
            .enumerate()
            .map(|(i, sent)| {
                let seen_us = sent + RTT_US / 2;
                let wobble_us = [(-12_000), 4_000, 10_000, -3_000][i % 4];
                let sent_from_page_us = seen_us - 30_000 + loop_ms * 1000 + wobble_us;
                EdgeTap {
                    arrived_us: sent_from_page_us + RTT_US / 2,
                    page_at_us: sent_from_page_us + OFFSET_US - reported_early_ms * 1000,
                }
            })
            .collect();
        EdgeRhythm {
            beats_sent_us,
            shift_at_beat: Some(12),
            taps,
            rtt_min_us: RTT_US,
            page_offset_us: Some(OFFSET_US),
            offset_spread_us: 1_000,
        }
    }

    #[test]
    fn a_local_person_reads_local_and_consistent() {
        let attested = run(0, 0).attest(None);
        let asynchrony_us = attested.estimate.rhythm.expect("enough taps").asynchrony.estimate_us;
        assert!((asynchrony_us + 30_000).abs() <= 5_000, "asynchrony {asynchrony_us} µs");
        let added_us = attested.estimate.added.expect("an estimate").estimate_us;
        assert!(added_us.abs() <= 5_000, "added {added_us} µs");
        let consistency = attested.consistency.expect("checked");
        assert_eq!(consistency.disagreeing, 0);
        assert!(!consistency.inconsistent());
    }

    #[test]
    fn an_operator_behind_a_remote_desktop_shows_on_the_edges_clock() {
        let attested = run(110, 0).attest(None);
        let added_us = attested.estimate.added.expect("an estimate").estimate_us;
        assert!((added_us - 110_000).abs() <= 5_000, "added {added_us} µs");
        assert!(!attested.consistency.expect("checked").inconsistent());
    }

    #[test]
    fn reporting_taps_earlier_changes_nothing_the_edge_timed_and_is_caught() {
        let honest = run(110, 0).attest(None);
        let forged = run(110, 110).attest(None);
        assert_eq!(
            forged.estimate, honest.estimate,
            "the edge's estimate ignores the page's times"
        );
        let consistency = forged.consistency.expect("checked");
        assert!(consistency.inconsistent(), "{consistency:?}");
        assert!((consistency.median_shift_us + 110_000).abs() <= 1_000, "{consistency:?}");
    }

    #[test]
    fn a_page_without_a_clock_or_with_few_taps_is_not_checked() {
        let mut quiet = run(0, 0);
        quiet.page_offset_us = None;
        assert_eq!(quiet.consistency(), None);
        let mut short = run(0, 0);
        short.taps.truncate(MIN_CHECKED_TAPS - 1);
        assert_eq!(short.consistency(), None);
    }

    #[test]
    fn the_schedule_runs_in_virtual_time_with_the_shift_where_the_edge_drew_it() {
        let mut schedule = RhythmSchedule::new(10_000_000, 3);
        assert_eq!(schedule.handle_due(10_000_000), None, "the first beat waits a second");
        schedule.handle_tap(10_500_000, 0);
        let mut now_us = schedule.next_due_us();
        let mut beats = Vec::new();
        while let Some(step) = schedule.handle_due(now_us) {
            match step {
                Step::Beat { n, of } => {
                    assert_eq!(of, BEATS);
                    beats.push((n, now_us));
                    // A timer that fires 2 ms late records the beat when it really left.
                    schedule.handle_tap(now_us + 40_000, now_us + 30_000);
                    now_us = schedule.next_due_us() + 2_000;
                }
                Step::Done => break,
            }
        }
        assert_eq!(beats.len(), BEATS as usize);
        let gaps: Vec<i64> = beats.windows(2).map(|w| w[1].1 - w[0].1).collect();
        assert_eq!(gaps.iter().filter(|&&g| g == BEAT_PERIOD_US + SHIFT_US).count(), 1, "{gaps:?}");
        let run = schedule.finish(20_000, Some(0), 500);
        assert_eq!(run.shift_at_beat, Some(12));
        assert_eq!(run.taps.len(), BEATS as usize, "the tap before the first beat is not kept");
        assert_eq!(run.beats_sent_us, beats.iter().map(|b| b.1).collect::<Vec<_>>());
    }

    #[test]
    fn a_loop_longer_than_half_the_period_still_reads_late_not_early() {
        // 380 ms added: taps 350 ms after the beat, which read around 0 would pair with the next
        // beat as 250 ms early.
        let added_us = run(380, 0).attest(None).estimate.added.expect("an estimate").estimate_us;
        assert!((added_us - 380_000).abs() <= 10_000, "added {added_us} µs");
    }
}
