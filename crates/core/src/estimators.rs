//! Closed-loop challenges: the human-in-the-loop latency a remote operator cannot hide.
//!
//! The page draws a stimulus and the person answers it. Locally the loop is the person's own;
//! through a remote desktop the picture travels to the operator and the answer travels back, so
//! every answer comes one network loop later. Two tasks measure it:
//!
//! - **Rhythm**: tap with a pulse that beats steadily. People anticipate a predictable beat and
//!   tap slightly ahead of it; an operator's taps land one loop later. The median asynchrony
//!   (tap minus beat) is robust to missed, doubled and stray taps.
//! - **Tracking**: keep the pointer on a target moving on a smooth path. The lag that best aligns
//!   the pointer's velocity with the target's, found by cross-correlation, is the person's
//!   tracking lag plus the loop.
//!
//! Population priors for local people, with their sources, are the constants below.

use crate::stats::quantile;

/// Local people tap this far from a predictable visual beat (µs, negative is early).
///
/// Sources: Repp (2005), "Sensorimotor synchronization: a review of the tapping literature",
/// Psychonomic Bulletin & Review 12(6): mean negative asynchrony of 20-50 ms for non-musicians with
/// auditory beats; Hove, Iversen et al. (2013, J. Exp. Psychol. HPP 39(4)) and Iversen et al.
/// (2015, Exp. Brain Res. 233): smoothly moving visual stimuli are tracked with auditory-like
/// asynchronies, flashes much less precisely. The pulse here moves smoothly to its peak.
pub const LOCAL_ASYNCHRONY_US: i64 = -30_000;
/// Spread of the mean asynchrony between local people (µs, one standard deviation).
pub const LOCAL_ASYNCHRONY_SD_US: i64 = 20_000;
/// Local people's lag in tracking a smooth, partly predictable target (µs).
///
/// Sources: manual tracking of pseudo-random sums of sines gives effective delays of about
/// 100-150 ms (McRuer & Jex 1967, IEEE Trans. HFE 8(3)); predictable components reduce it
/// (Miall et al. 1993, J. Motor Behavior 25(1)).
pub const LOCAL_TRACKING_LAG_US: i64 = 100_000;
/// Spread of the tracking lag between local people (µs, one standard deviation).
pub const LOCAL_TRACKING_LAG_SD_US: i64 = 30_000;
/// Fewer usable taps than this give no rhythm estimate.
pub const MIN_TAPS: usize = 8;
/// Beats just after the unannounced phase shift are left out: people take a few beats to
/// re-synchronise, whether local or remote.
pub const SETTLE_BEATS: u32 = 3;
/// The longest lag searched in tracking (µs): a person's own 100-200 ms plus a loop of up to
/// 800 ms, which covers a classic remote-desktop viewer 150 ms away (one picture per round trip).
pub const MAX_TRACKING_LAG_US: i64 = 1_000_000;
/// The first second of tracking is the reach from the Start button onto the target, not
/// tracking, and is left out: counting it biased the lag of local people upward by about 30 ms.
pub const TRACKING_REACH_US: i64 = 1_000_000;
/// Tracking is resampled on this grid (µs).
const GRID_US: i64 = 5_000;
/// A tracking run longer than this many grid points (two minutes) is not estimated: the wire
/// refuses runs over a minute, and this keeps the estimator's cost bounded whatever calls it.
const MAX_GRID_POINTS: usize = 24_000;
/// Velocities are displacements over this span (µs): a low-pass that leaves the lag alone (both
/// series get the same filter) but lets a pointer that moves in jumps, because its person sees
/// a new picture only every few hundred milliseconds, still correlate with the smooth target.
/// The target's slowest components take seconds, so it keeps them.
const VELOCITY_SPAN_US: i64 = 400_000;

/// How the person answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Key,
    Pointer,
}

/// One run of the rhythm task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rhythm {
    /// When each beat peaked on screen: the time of the frame that showed the peak (µs).
    pub beats_at_us: Vec<i64>,
    /// The beat from which the phase was shifted, unannounced.
    pub shift_at_beat: Option<u32>,
    /// When each tap happened (`event.timeStamp`, µs).
    pub taps_at_us: Vec<i64>,
    pub answer: Answer,
}

/// A point of a drawn target or of the pointer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at_us: i64,
    pub x_px: f64,
    pub y_px: f64,
}

/// A run of the tracking task: where the target was drawn, frame by frame, and when the task ran.
/// The pointer's own samples are in [`crate::evidence::Evidence::pointer`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingRun {
    pub started_at_us: i64,
    pub ended_at_us: i64,
    pub target: Vec<Point>,
}

/// One run of the tracking task.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// Where the target was drawn, frame by frame.
    pub target: Vec<Point>,
    /// Where the pointer was, raw sample by raw sample.
    pub pointer: Vec<Point>,
}

/// The most of the page's reported frame interval taken out of a loop (µs): two frames of a
/// 60 Hz display, one of a 30 Hz one. The page reports the interval and the edge cannot check
/// more than that; reporting 137 ms once hid a 120 ms operator.
pub const MAX_CREDITED_FRAME_US: i64 = 33_334;

/// What of the page's reported frame timing is taken out of a loop: the frame interval, within
/// [`MAX_CREDITED_FRAME_US`].
pub(crate) fn credited_frame_us(frames: Option<&FrameTiming>) -> i64 {
    frames.map_or(0, |f| f.frame_interval_us.clamp(0, MAX_CREDITED_FRAME_US))
}

/// The page's own timing, so display latency is not taken for remote control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTiming {
    /// Median time between animation frames (µs).
    pub frame_interval_us: i64,
    /// Median time from an input event's timestamp to its handler running (µs).
    pub input_delay_us: i64,
}

/// A challenge that ran, or was skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Done(T),
    /// Skipped by the person (or unavailable); recorded as not measured, never as remote.
    Skipped,
}

/// Everything the challenges produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Challenges {
    pub rhythm: Option<Outcome<Rhythm>>,
    pub tracking: Option<Outcome<Tracking>>,
    pub frames: Option<FrameTiming>,
}

/// An estimate with a 95 % interval (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub estimate_us: i64,
    pub low_us: i64,
    pub high_us: i64,
}

/// What the rhythm task measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RhythmEstimate {
    /// Median tap-minus-beat time, with the order-statistic interval of the median (µs).
    pub asynchrony: Interval,
    /// Taps used, and beats shown.
    pub taps: u32,
    pub beats: u32,
}

/// What the tracking task measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingEstimate {
    /// The lag that best aligns pointer and target, with the spread over three thirds (µs).
    pub lag: Interval,
    /// The peak correlation of the velocities (thousandths), a measure of how well the person
    /// tracked at all.
    pub correlation_milli: i32,
}

/// Everything estimated from the challenges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoopEstimate {
    pub rhythm: Option<RhythmEstimate>,
    pub tracking: Option<TrackingEstimate>,
    /// Latency added to the person's own loop, from both tasks against the local priors (µs).
    pub added: Option<Interval>,
    pub frames: Option<FrameTiming>,
    /// Tasks the person skipped.
    pub skipped: u32,
    /// The asynchrony taps were paired around (µs): the rhythm unwrapped by what tracking found.
    pub rhythm_expected_us: i64,
}

/// Estimates the rhythm task: nearest beat for each tap, first tap per beat, settling beats left
/// out, then the median and its interval.
pub fn estimate_rhythm(rhythm: &Rhythm, frames: Option<&FrameTiming>) -> Option<RhythmEstimate> {
    estimate_rhythm_around(rhythm, frames, 0)
}

/// Estimates the rhythm task with each tap paired to the beat it lands nearest `expected_us`
/// after, so asynchronies are read in the window `expected_us` ± half a period.
///
/// A tap can only say where it fell within the beat's period: a loop longer than half the
/// period pairs taps with the next beat and reads as early tapping. The tracking task has no
/// such ambiguity, so [`estimate`] unwraps the rhythm with what tracking measured.
pub fn estimate_rhythm_around(
    rhythm: &Rhythm,
    frames: Option<&FrameTiming>,
    expected_us: i64,
) -> Option<RhythmEstimate> {
    let beats = &rhythm.beats_at_us;
    if beats.len() < 2 {
        return None;
    }
    let mut gaps: Vec<i64> = beats.windows(2).map(|b| b[1] - b[0]).collect();
    gaps.sort_unstable();
    let period_us = quantile(&gaps, 1, 2)?;
    // A frame's time is when it started; it reaches the screen about one frame later.
    let presented_after_us = credited_frame_us(frames);
    let mut used = vec![false; beats.len()];
    let mut asynchronies = Vec::new();
    for &tap in &rhythm.taps_at_us {
        let nearest = beats
            .iter()
            .enumerate()
            .min_by_key(|(_, &beat)| (tap - beat - presented_after_us - expected_us).abs())
            .map(|(index, _)| index)?;
        let asynchrony = tap - beats[nearest] - presented_after_us;
        if (asynchrony - expected_us).abs() > period_us / 2 || used[nearest] {
            continue;
        }
        used[nearest] = true;
        let settling = rhythm.shift_at_beat.is_some_and(|shift| {
            (shift..shift + SETTLE_BEATS).contains(&u32::try_from(nearest).unwrap_or(u32::MAX))
        });
        if !settling {
            asynchronies.push(asynchrony);
        }
    }
    if asynchronies.len() < MIN_TAPS {
        return None;
    }
    asynchronies.sort_unstable();
    Some(RhythmEstimate {
        asynchrony: median_interval(&asynchronies)?,
        taps: u32::try_from(asynchronies.len()).unwrap_or(u32::MAX),
        beats: u32::try_from(beats.len()).unwrap_or(u32::MAX),
    })
}

/// The median of sorted values with its distribution-free 95 % interval: the order statistics
/// at ranks n/2 ∓ 0.98·√n (the binomial interval of the median).
fn median_interval(sorted: &[i64]) -> Option<Interval> {
    let n = sorted.len();
    let half_width = libm::ceil(0.98 * libm::sqrt(n as f64)) as usize;
    let low_rank = (n / 2).saturating_sub(half_width).max(1);
    let high_rank = (n / 2 + 1 + half_width).min(n);
    Some(Interval {
        estimate_us: quantile(sorted, 1, 2)?,
        low_us: *sorted.get(low_rank - 1)?,
        high_us: *sorted.get(high_rank - 1)?,
    })
}

/// Positions resampled on the grid from `start_us`, by linear interpolation.
fn resample(points: &[Point], start_us: i64, count: usize) -> Option<Vec<(f64, f64)>> {
    let mut out = Vec::with_capacity(count);
    let mut j = 0;
    for i in 0..count {
        let t = start_us + i64::try_from(i).ok()? * GRID_US;
        while j + 1 < points.len() && points[j + 1].at_us < t {
            j += 1;
        }
        let (a, b) = (points.get(j)?, points.get(j + 1).unwrap_or(points.get(j)?));
        let span = (b.at_us - a.at_us) as f64;
        let s = if span > 0.0 { ((t - a.at_us) as f64 / span).clamp(0.0, 1.0) } else { 0.0 };
        out.push((a.x_px + (b.x_px - a.x_px) * s, a.y_px + (b.y_px - a.y_px) * s));
    }
    Some(out)
}

/// The lag (µs) in `0..=MAX_TRACKING_LAG_US` that maximises the correlation of target velocity
/// with later pointer velocity, and that correlation.
fn best_lag(target: &[(f64, f64)], pointer: &[(f64, f64)]) -> Option<(i64, f64)> {
    let span = usize::try_from(VELOCITY_SPAN_US / GRID_US).ok()?;
    let velocity = |p: &[(f64, f64)]| {
        p.windows(span + 1).map(|w| (w[span].0 - w[0].0, w[span].1 - w[0].1)).collect::<Vec<_>>()
    };
    let (tv, pv) = (velocity(target), velocity(pointer));
    let max_shift = usize::try_from(MAX_TRACKING_LAG_US / GRID_US).ok()?;
    if tv.len() <= max_shift * 2 {
        return None;
    }
    let n = tv.len() - max_shift;
    let mut best: Option<(usize, f64)> = None;
    for shift in 0..=max_shift {
        let (mut dot, mut tt, mut pp) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (a, b) = (tv[i], pv[i + shift]);
            dot += a.0 * b.0 + a.1 * b.1;
            tt += a.0 * a.0 + a.1 * a.1;
            pp += b.0 * b.0 + b.1 * b.1;
        }
        let correlation = if tt > 0.0 && pp > 0.0 { dot / libm::sqrt(tt * pp) } else { 0.0 };
        if best.is_none_or(|(_, c)| correlation > c) {
            best = Some((shift, correlation));
        }
    }
    let (shift, correlation) = best?;
    Some((i64::try_from(shift).ok()? * GRID_US, correlation))
}

/// Estimates the tracking lag over the run after the reach, with the spread over its three
/// thirds.
pub fn estimate_tracking(tracking: &Tracking) -> Option<TrackingEstimate> {
    let (first, last) = (tracking.target.first()?, tracking.target.last()?);
    let start_us = (first.at_us + TRACKING_REACH_US).max(tracking.pointer.first()?.at_us);
    let end_us = last.at_us.min(tracking.pointer.last()?.at_us);
    let count = usize::try_from((end_us - start_us) / GRID_US).ok()?;
    if count > MAX_GRID_POINTS {
        return None;
    }
    let target = resample(&tracking.target, start_us, count)?;
    let pointer = resample(&tracking.pointer, start_us, count)?;
    let (lag_us, correlation) = best_lag(&target, &pointer)?;
    let third = count / 3;
    let mut parts: Vec<i64> = (0..3)
        .filter_map(|k| {
            best_lag(&target[k * third..(k + 1) * third], &pointer[k * third..(k + 1) * third])
                .map(|(lag, _)| lag)
        })
        .collect();
    parts.sort_unstable();
    let low_us = parts.first().copied().unwrap_or(lag_us).min(lag_us);
    let high_us = parts.last().copied().unwrap_or(lag_us).max(lag_us);
    Some(TrackingEstimate {
        lag: Interval { estimate_us: lag_us, low_us, high_us },
        correlation_milli: libm::round(correlation * 1000.0) as i32,
    })
}

/// Combines both tasks into the latency added to the person's own loop.
///
/// Each task gives added = measured − local prior, with a variance from its interval and from the
/// spread of local people; the two are weighted by inverse variance.
pub fn estimate(challenges: &Challenges) -> LoopEstimate {
    estimate_around(challenges, None)
}

/// As [`estimate`], with the rhythm read around `expected_asynchrony_us` when it is given
/// instead of around what tracking implies.
pub fn estimate_around(
    challenges: &Challenges,
    expected_asynchrony_us: Option<i64>,
) -> LoopEstimate {
    let frames = challenges.frames;
    // The target reaches the screen about a frame after it is drawn: that part of the lag is
    // the display's, not the person's or the network's.
    let presented_after_us = credited_frame_us(frames.as_ref());
    let tracking = match &challenges.tracking {
        Some(Outcome::Done(tracking)) => {
            estimate_tracking(tracking).filter(|t| t.correlation_milli >= 300).map(|mut t| {
                t.lag.estimate_us -= presented_after_us;
                t.lag.low_us -= presented_after_us;
                t.lag.high_us -= presented_after_us;
                t
            })
        }
        _ => None,
    };
    // The rhythm is read around the asynchrony that tracking implies: a local person's, plus
    // whatever loop tracking found beyond a local person's lag.
    let expected_asynchrony_us = expected_asynchrony_us.unwrap_or_else(|| {
        tracking
            .as_ref()
            .map_or(0, |t| LOCAL_ASYNCHRONY_US + (t.lag.estimate_us - LOCAL_TRACKING_LAG_US).max(0))
    });
    let rhythm = match &challenges.rhythm {
        Some(Outcome::Done(rhythm)) => {
            estimate_rhythm_around(rhythm, frames.as_ref(), expected_asynchrony_us)
        }
        _ => None,
    };
    let skipped = [
        matches!(challenges.rhythm, Some(Outcome::Skipped)),
        matches!(challenges.tracking, Some(Outcome::Skipped)),
    ]
    .iter()
    .filter(|&&s| s)
    .count();
    // Each task: (added, variance, low, high), against its local prior (mean and spread).
    let against = |measured: Interval, prior_us: i64, prior_sd_us: i64| {
        let spread = (measured.high_us - measured.low_us) as f64 / 3.92;
        let variance = spread * spread + (prior_sd_us as f64).powi(2);
        let shift = prior_us as f64;
        (
            measured.estimate_us as f64 - shift,
            variance,
            measured.low_us as f64 - shift,
            measured.high_us as f64 - shift,
        )
    };
    let parts: Vec<(f64, f64, f64, f64)> = [
        rhythm.as_ref().map(|r| against(r.asynchrony, LOCAL_ASYNCHRONY_US, LOCAL_ASYNCHRONY_SD_US)),
        tracking.as_ref().map(|t| against(t.lag, LOCAL_TRACKING_LAG_US, LOCAL_TRACKING_LAG_SD_US)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let added = (!parts.is_empty()).then(|| {
        let weights: Vec<f64> = parts.iter().map(|p| 1.0 / p.1.max(1.0)).collect();
        let total: f64 = weights.iter().sum();
        let mean = parts.iter().zip(&weights).map(|(p, w)| p.0 * w).sum::<f64>() / total;
        let low = parts.iter().zip(&weights).map(|(p, w)| p.2 * w).sum::<f64>() / total;
        let high = parts.iter().zip(&weights).map(|(p, w)| p.3 * w).sum::<f64>() / total;
        Interval {
            estimate_us: libm::round(mean) as i64,
            low_us: libm::round(low) as i64,
            high_us: libm::round(high) as i64,
        }
    });
    LoopEstimate {
        rhythm,
        tracking,
        added,
        frames,
        skipped: u32::try_from(skipped).unwrap_or(0),
        rhythm_expected_us: expected_asynchrony_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 24 beats 600 ms apart with a 150 ms phase shift at beat 12; taps `offset_ms` after each
    /// beat, wobbling ±15 ms, with a missed beat, a doubled tap and a stray tap.
    fn rhythm(offset_ms: i64) -> Rhythm {
        let beats: Vec<i64> =
            (0..24).map(|i| i * 600_000 + if i >= 12 { 150_000 } else { 0 }).collect();
        let mut taps: Vec<i64> = beats
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 5)
            .map(|(i, b)| b + offset_ms * 1000 + [(-15_000), 0, 15_000, 5_000][i % 4])
            .collect();
        taps.push(beats[7] + offset_ms * 1000 + 40_000); // a second tap for beat 7
        taps.push(beats[9] + 290_000); // a stray tap between beats
        taps.sort_unstable();
        Rhythm {
            beats_at_us: beats,
            shift_at_beat: Some(12),
            taps_at_us: taps,
            answer: Answer::Key,
        }
    }

    #[test]
    fn rhythm_asynchrony_is_robust_to_missed_doubled_and_stray_taps() {
        for offset_ms in [-30, 0, 80, 170] {
            let estimate = estimate_rhythm(&rhythm(offset_ms), None).expect("enough taps");
            let off_us = estimate.asynchrony.estimate_us - offset_ms * 1000;
            assert!(off_us.abs() <= 5_000, "offset {offset_ms}: {estimate:?}");
            assert!(estimate.asynchrony.low_us <= estimate.asynchrony.estimate_us);
            assert!(estimate.asynchrony.high_us >= estimate.asynchrony.estimate_us);
            assert_eq!(estimate.taps, 20, "23 answered beats less the 3 settling ones");
        }
    }

    #[test]
    fn a_loop_longer_than_half_the_beat_aliases_without_tracking_and_unwraps_with_it() {
        let late = rhythm(-30 + 450);
        let alone = estimate_rhythm(&late, None).expect("enough taps");
        assert!((alone.asynchrony.estimate_us - (420_000 - 600_000)).abs() <= 5_000, "{alone:?}");
        let unwrapped = estimate_rhythm_around(&late, None, 400_000).expect("enough taps");
        assert!((unwrapped.asynchrony.estimate_us - 420_000).abs() <= 5_000, "{unwrapped:?}");
    }

    #[test]
    fn a_pointer_that_moves_in_jumps_is_still_tracked() {
        // A classic remote-desktop viewer 150 ms away shows a new picture every 330 ms, 330 ms
        // old: the pointer jumps to the pictured place 120 ms after each picture arrives.
        let mut run = tracking(0);
        let smooth = run.pointer.clone();
        for point in &mut run.pointer {
            let shown_us = (point.at_us - 120_000).div_euclid(330_000) * 330_000 - 330_000;
            let pictured =
                smooth.iter().rev().find(|p| p.at_us <= shown_us).copied().unwrap_or(smooth[0]);
            (point.x_px, point.y_px) = (pictured.x_px, pictured.y_px);
        }
        let estimate = estimate_tracking(&run).expect("a pointer that moves in jumps still tracks");
        assert!(estimate.correlation_milli >= 300, "{estimate:?}");
        // The held picture's mean age: 330 ms old on arrival, held half the interval, answered
        // 120 ms later, is 330 + 165 + 120 = 615 ms.
        assert!((estimate.lag.estimate_us - 615_000).abs() <= 30_000, "{estimate:?}");
    }

    #[test]
    fn the_reach_onto_the_target_is_left_out() {
        // The pointer rests on the Start button for the first 0.8 s, then tracks 120 ms behind.
        let mut run = tracking(120);
        for point in run.pointer.iter_mut().filter(|p| p.at_us < 800_000) {
            (point.x_px, point.y_px) = (400.0, 560.0);
        }
        let estimate = estimate_tracking(&run).expect("enough samples");
        assert!((estimate.lag.estimate_us - 120_000).abs() <= 5_000, "{estimate:?}");
    }

    #[test]
    fn too_few_taps_give_no_estimate() {
        let mut thin = rhythm(0);
        thin.taps_at_us.truncate(6);
        assert_eq!(estimate_rhythm(&thin, None), None);
    }

    /// A target on a sum of sines, and a pointer that follows it `lag_ms` later.
    fn tracking(lag_ms: i64) -> Tracking {
        let position = |t_us: i64| {
            let t = t_us as f64 / 1e6;
            (
                400.0 + 200.0 * libm::sin(t * 1.3) + 80.0 * libm::sin(t * 3.1 + 1.0),
                300.0 + 150.0 * libm::sin(t * 0.9 + 2.0) + 60.0 * libm::sin(t * 2.3),
            )
        };
        let target = (0..900).map(|i| i * 16_667).map(|at_us| {
            let (x_px, y_px) = position(at_us);
            Point { at_us, x_px, y_px }
        });
        let pointer = (0..1_875).map(|i| i * 8_000).map(|at_us| {
            let (x_px, y_px) = position(at_us - lag_ms * 1000);
            Point { at_us, x_px, y_px }
        });
        Tracking { target: target.collect(), pointer: pointer.collect() }
    }

    #[test]
    fn tracking_lag_is_found_by_cross_correlation() {
        for lag_ms in [100, 150, 210, 300, 550, 850] {
            let estimate = estimate_tracking(&tracking(lag_ms)).expect("enough samples");
            assert!(
                (estimate.lag.estimate_us - lag_ms * 1000).abs() <= 5_000,
                "lag {lag_ms}: {estimate:?}"
            );
            assert!(estimate.correlation_milli > 900);
        }
    }

    #[test]
    fn a_reported_frame_interval_is_credited_only_up_to_two_frames() {
        let with_frames = |frame_interval_us: i64| {
            estimate(&Challenges {
                rhythm: Some(Outcome::Done(rhythm(-30 + 120))),
                tracking: Some(Outcome::Done(tracking(100 + 120))),
                frames: Some(FrameTiming { frame_interval_us, input_delay_us: 0 }),
            })
            .added
            .expect("an estimate")
            .estimate_us
        };
        let honest = with_frames(16_667);
        // Reporting 137 ms of frame interval once took a 120 ms operator's loop to nothing.
        let inflated = with_frames(137_000);
        assert!(honest - inflated <= MAX_CREDITED_FRAME_US - 16_667 + 1, "{honest} vs {inflated}");
        assert!(inflated >= 80_000, "the operator's loop still shows: {inflated} µs");
    }

    #[test]
    fn both_tasks_combine_into_the_added_latency() {
        let challenges = |added_ms: i64| Challenges {
            rhythm: Some(Outcome::Done(rhythm(-30 + added_ms))),
            tracking: Some(Outcome::Done(tracking(100 + added_ms))),
            frames: None,
        };
        // 450 ms is more than half the 600 ms beat: the rhythm alone would pair taps with the
        // next beat, and only the unwrapping by tracking reads it right.
        for added_ms in [0, 110, 200, 450] {
            let loop_estimate = estimate(&challenges(added_ms));
            // The taps were paired around where tracking says they land (the chart uses it too).
            assert!(
                (loop_estimate.rhythm_expected_us - (added_ms - 30) * 1000).abs() <= 10_000,
                "{loop_estimate:?}"
            );
            let added = loop_estimate.added.expect("an estimate");
            assert!(
                (added.estimate_us - added_ms * 1000).abs() <= 6_000,
                "added {added_ms}: {added:?}"
            );
        }
        let skipped = Challenges {
            rhythm: Some(Outcome::Skipped),
            tracking: Some(Outcome::Skipped),
            frames: None,
        };
        let estimate = estimate(&skipped);
        assert_eq!((estimate.added, estimate.skipped), (None, 2));
    }
}
