//! Coarse timers and busy machines: the CMU keystroke sample replayed as a browser with
//! `privacy.resistFingerprinting` would time it, and held keys whose repeats a loaded scheduler
//! scatters. Neither may make a local typist look remote.

#![cfg(not(target_arch = "wasm32"))]

use onsite_core::verdict::REPEAT_JITTER_MAX_WEIGHT;
use onsite_core::{score, Evidence, Features, KeyClass, KeyStroke, Verdict, VerdictClass};
use proptest::prelude::*;

const CMU: &str = include_str!("../../../tests/data/cmu-keystrokes-sample.csv");
/// The features whose thresholds are finer than a coarse clock.
const FINE_FEATURES: [&str; 5] =
    ["zero_dwell", "near_simultaneous", "burst_release", "repeat_jitter", "pointer_rate"];
/// Firefox with `privacy.resistFingerprinting`: 1/60 s, as a fraction of a microsecond.
const RFP_STEP: (i64, i64) = (50_000, 3);

/// One subject's first `reps` repetitions of the password as presses (µs from 1 s), 1.5 s apart.
fn subject_strokes(subject: &str, reps: usize) -> Vec<KeyStroke> {
    let mut lines = CMU.lines();
    let header: Vec<&str> = lines.next().map(|h| h.split(',').collect()).unwrap_or_default();
    let mut strokes = Vec::new();
    let mut at_us = 1_000_000_i64;
    for line in lines.filter(|l| l.starts_with(&format!("{subject},"))).take(reps) {
        let cells: Vec<&str> = line.split(',').collect();
        let value = |name: &str| -> i64 {
            let column = header.iter().position(|h| *h == name).expect("column exists");
            let seconds: f64 = cells[column].parse().expect("a number");
            (seconds * 1e6).round() as i64
        };
        let keys: Vec<&str> =
            header.iter().filter_map(|h| h.strip_prefix("H.")).collect::<Vec<&str>>();
        for (index, key) in keys.iter().enumerate() {
            let hold_us = value(&format!("H.{key}"));
            strokes.push(KeyStroke {
                down_at_us: at_us,
                up_at_us: at_us + hold_us,
                class: if key.len() == 1 { KeyClass::Letter } else { KeyClass::Other },
                repeats: 0,
                repeat_gaps_us: vec![],
                trusted: true,
            });
            if let Some(next) = keys.get(index + 1) {
                at_us += value(&format!("DD.{key}.{next}"));
            }
        }
        at_us += 1_500_000;
    }
    strokes
}

fn subjects() -> Vec<String> {
    let mut names: Vec<String> =
        CMU.lines().skip(1).filter_map(|l| l.split(',').next()).map(str::to_owned).collect();
    names.dedup();
    names
}

/// A space bar held for 1.2 s after the typing, repeating every 33.3 ms after 500 ms, with the
/// repeat times given by `gap_us`.
fn held_space(after_us: i64, gaps_us: Vec<u32>) -> KeyStroke {
    let down_at_us = after_us + 1_000_000;
    let held_us: i64 = gaps_us.iter().map(|&g| i64::from(g)).sum::<i64>() + 20_000;
    KeyStroke {
        down_at_us,
        up_at_us: down_at_us + held_us.max(1_200_000),
        class: KeyClass::Space,
        repeats: u32::try_from(gaps_us.len()).unwrap_or(u32::MAX),
        repeat_gaps_us: gaps_us,
        trusted: true,
    }
}

/// Repeat gaps of a local keyboard: 500 ms, then 33.3 ms on a 1 ms grid.
fn steady_repeats() -> Vec<u32> {
    std::iter::once(500_000)
        .chain((0..21).map(|i| if i % 3 == 2 { 34_000 } else { 33_000 }))
        .collect()
}

/// Rounds a time down to a grid of `numerator / denominator` µs, from an offset, then to whole
/// microseconds, as a browser's coarse clock and then the probe do.
fn round_down(at_us: i64, (numerator, denominator): (i64, i64), offset_us: i64) -> i64 {
    let steps = (at_us + offset_us) * denominator / numerator;
    (steps * numerator + denominator / 2) / denominator
}

/// The same presses as a coarse clock times them: every key event, and every repeat.
fn coarsen(strokes: &[KeyStroke], step: (i64, i64), offset_us: i64) -> Vec<KeyStroke> {
    strokes
        .iter()
        .map(|s| {
            let mut repeat_at_us = s.down_at_us;
            let mut last_rounded = round_down(s.down_at_us, step, offset_us);
            let repeat_gaps_us = s
                .repeat_gaps_us
                .iter()
                .map(|&gap| {
                    repeat_at_us += i64::from(gap);
                    let rounded = round_down(repeat_at_us, step, offset_us);
                    let gap = rounded - last_rounded;
                    last_rounded = rounded;
                    u32::try_from(gap).unwrap_or(0)
                })
                .collect();
            KeyStroke {
                down_at_us: round_down(s.down_at_us, step, offset_us),
                up_at_us: round_down(s.up_at_us, step, offset_us),
                repeat_gaps_us,
                ..s.clone()
            }
        })
        .collect()
}

fn verdict(strokes: Vec<KeyStroke>) -> (Features, Verdict) {
    // The edge's own round trips on the socket, as an honest browser's echoes give them.
    let rtt_us = vec![800, 850, 900, 950, 1_000, 1_050];
    let features = Features::from_evidence(&Evidence { strokes, rtt_us, ..Evidence::default() });
    let verdict = score(&features);
    (features, verdict)
}

fn weight(verdict: &Verdict, code: &str) -> f64 {
    verdict.reasons.iter().filter(|r| r.code.as_str() == code).map(|r| r.weight).sum()
}

fn not_flagged(verdict: &Verdict) -> bool {
    matches!(verdict.class, VerdictClass::Local | VerdictClass::Inconclusive)
}

#[test]
fn the_cmu_sample_on_a_16_7_ms_clock_is_never_flagged() {
    let names = subjects();
    assert!(names.len() >= 20, "the sample has its subjects");
    for (index, name) in names.iter().enumerate() {
        let mut strokes = subject_strokes(name, 12);
        let end_us = strokes.last().map_or(0, |s| s.up_at_us);
        strokes.push(held_space(end_us, steady_repeats()));
        let offset_us = i64::try_from(index).unwrap_or(0) * 7_919;
        let (features, coarse) = verdict(coarsen(&strokes, RFP_STEP, offset_us));
        assert_eq!(features.keys.timer_resolution_us, Some(16_667), "{name}: the clock is seen");
        assert!(not_flagged(&coarse), "{name}: {:?} p {}", coarse.class, coarse.p_remote);
        for code in FINE_FEATURES {
            assert_eq!(weight(&coarse, code), 0.0, "{name}: {code} counted on a coarse clock");
        }
        let said = coarse
            .reasons
            .iter()
            .find(|r| r.code == onsite_core::codes::ReasonCode::NearSimultaneous);
        assert!(
            said.is_some_and(|r| r.text.starts_with("not measured") && r.weight == 0.0),
            "{name}: near_simultaneous is said to be not measured: {said:?}"
        );
        // The same typing on a fine clock is measured, and local.
        let (features, fine) = verdict(strokes);
        // The sample is recorded to a tenth of a millisecond.
        assert_eq!(features.keys.timer_resolution_us, Some(100), "{name}");
        assert_eq!(fine.class, VerdictClass::Local, "{name}: p {}", fine.p_remote);
    }
}

#[test]
fn the_rounding_that_used_to_flag_a_held_space_bar_is_not_measured() {
    // A 25 Hz repeat on a 16.7 ms clock alternates 33.3 and 50 ms: 8.3 ms from the period, which
    // once weighed +5 and made a local candidate `remote`.
    let mut strokes = subject_strokes("s002", 12);
    let end_us = strokes.last().map_or(0, |s| s.up_at_us);
    let repeats = std::iter::once(500_000).chain(std::iter::repeat_n(40_000, 20)).collect();
    strokes.push(held_space(end_us, repeats));
    let coarsened = coarsen(&strokes, RFP_STEP, 0);
    // The interquartile range of the rounded intervals, which the old feature scored: 16.7 ms.
    let mut intervals: Vec<u32> =
        coarsened.iter().flat_map(|s| s.repeat_gaps_us.iter().skip(1).copied()).collect();
    intervals.sort_unstable();
    let quartile = |q: usize| intervals[(intervals.len() * q).div_ceil(4) - 1];
    assert!(quartile(3) - quartile(1) >= 16_000, "{intervals:?}");
    let (_, coarse) = verdict(coarsened);
    assert_eq!(weight(&coarse, "repeat_jitter"), 0.0);
    assert!(not_flagged(&coarse), "{:?} p {}", coarse.class, coarse.p_remote);
}

#[test]
fn a_clock_coarser_than_16_7_ms_is_seen_and_not_held_against_anyone() {
    for step in [(100_000, 3), (50_000, 1), (100_000, 1)] {
        let (features, coarse) = verdict(coarsen(&subject_strokes("s017", 20), step, 3_000));
        let expected = u32::try_from((step.0 + step.1 / 2) / step.1).unwrap_or(0);
        assert_eq!(features.keys.timer_resolution_us, Some(expected));
        assert!(not_flagged(&coarse), "step {step:?}: {:?} p {}", coarse.class, coarse.p_remote);
    }
}

/// Repeat gaps as a loaded scheduler delivers them: each repeat is late by `delays_us`, and a
/// late repeat makes the next gap short by as much.
fn scattered(delays_us: &[u32]) -> Vec<u32> {
    let mut gaps = vec![500_000_u32];
    let mut last_delay = 0_i64;
    for (index, &delay) in delays_us.iter().enumerate() {
        let base: i64 = if index % 3 == 2 { 34_000 } else { 33_000 };
        let gap = base + i64::from(delay) - last_delay;
        gaps.push(u32::try_from(gap.max(0)).unwrap_or(0));
        last_delay = i64::from(delay);
    }
    gaps
}

#[test]
fn a_held_key_on_a_busy_machine_does_not_flag() {
    // Two busy loops on two cores: a third of the repeats 2-15 ms late.
    let delays: Vec<u32> =
        (0..30).map(|i| if i % 3 == 0 { 2_000 + (i * 1_700) % 13_000 } else { 0 }).collect();
    let mut strokes = subject_strokes("s031", 12);
    let end_us = strokes.last().map_or(0, |s| s.up_at_us);
    strokes.push(held_space(end_us, scattered(&delays)));
    let (_, busy) = verdict(strokes);
    assert!(weight(&busy, "repeat_jitter") <= 0.0, "{:?}", busy.reasons);
    assert_eq!(busy.class, VerdictClass::Local, "p {}", busy.p_remote);
}

proptest! {
    /// However the repeats of one held key scatter, that alone never flags a local typist.
    #[test]
    fn a_held_key_alone_never_flags(delays in prop::collection::vec(0u32..30_000, 8..31)) {
        let mut strokes = subject_strokes("s044", 12);
        let end_us = strokes.last().map_or(0, |s| s.up_at_us);
        strokes.push(held_space(end_us, scattered(&delays)));
        let (_, v) = verdict(strokes);
        prop_assert!(weight(&v, "repeat_jitter") <= REPEAT_JITTER_MAX_WEIGHT);
        prop_assert_eq!(v.class, VerdictClass::Local, "p {}", v.p_remote);
    }

    /// On a clock of 10 ms or coarser, no feature that needs a finer one counts, whatever the
    /// typing and wherever the grid starts.
    #[test]
    fn a_coarse_clock_never_counts_fine_features(
        step in prop::sample::select(vec![(50_000_i64, 3_i64), (100_000, 3), (10_000, 1), (50_000, 1)]),
        offset_us in 0i64..100_000,
        subject in 0usize..20,
        reps in 3usize..20,
    ) {
        let name = &subjects()[subject];
        let mut strokes = subject_strokes(name, reps);
        let end_us = strokes.last().map_or(0, |s| s.up_at_us);
        strokes.push(held_space(end_us, steady_repeats()));
        let (features, v) = verdict(coarsen(&strokes, step, offset_us));
        prop_assert!(features.keys.timer_resolution_us.is_some_and(|r| r >= 10_000), "{:?}", features.keys.timer_resolution_us);
        for code in FINE_FEATURES {
            prop_assert_eq!(weight(&v, code), 0.0, "{} counted", code);
        }
        prop_assert!(not_flagged(&v), "{:?} p {}", v.class, v.p_remote);
    }
}

proptest! {
    /// Timestamps of irregular events on a browser's grid read as that grid, from any offset.
    #[test]
    fn a_grid_is_read_as_itself(
        step in prop::sample::select(vec![(5_i64, 1_i64), (20, 1), (100, 1), (1_000, 1), (50_000, 3), (100_000, 1)]),
        offset_us in 0i64..1_000_000,
        gaps_us in prop::collection::vec(30_000i64..400_000, 40..120),
    ) {
        let times: Vec<i64> = gaps_us
            .iter()
            .scan(1_000_000_i64, |at_us, gap| {
                *at_us += gap;
                Some(round_down(*at_us, step, offset_us))
            })
            .collect();
        let expected = u32::try_from((step.0 + step.1 / 2) / step.1).unwrap_or(0);
        prop_assert_eq!(onsite_core::timer::estimate_resolution_us(&times, &[]), Some(expected));
    }

    /// A clock finer than a millisecond is never taken for one that would switch features off.
    #[test]
    fn a_fine_clock_is_never_read_as_coarse(
        gaps_us in prop::collection::vec(1i64..400_000, 20..200),
    ) {
        let times: Vec<i64> = gaps_us
            .iter()
            .scan(0_i64, |at_us, gap| {
                *at_us += gap;
                Some(*at_us)
            })
            .collect();
        let step = onsite_core::timer::estimate_resolution_us(&times, &[]);
        prop_assert!(step.is_some_and(|s| s <= 1_000), "{:?}", step);
    }
}
