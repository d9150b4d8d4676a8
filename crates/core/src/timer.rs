//! Timer resolution: how finely the page's clock steps, estimated from the timestamps it gave.
//!
//! Browsers coarsen `event.timeStamp` and `performance.now()`: Chromium to 5 µs when the page is
//! cross-origin isolated and 100 µs otherwise, Firefox and Safari to 20 µs or 1 ms, Linux
//! desktops put key events on a 1 ms grid, and Firefox with `privacy.resistFingerprinting` (Tor
//! Browser, Mullvad Browser) rounds to 16.667 ms or coarser. Every timestamp is then a whole
//! number of steps from every other, so the step shows in the differences between timestamps:
//! the estimate is the coarsest step of a fixed ladder on which nearly every difference lands.
//! Features that compare times with a threshold finer than the step cannot be measured.

/// The steps tried, finest first, as a fraction `numerator / denominator` of a microsecond so
/// that 16.667 ms (1/60 s) is exact; Firefox may also round to a whole 16,667 µs. Each is a
/// resolution some browser or setting gives.
const LADDER: [(i64, i64); 18] = [
    (1, 1),
    (5, 1),
    (10, 1),
    (20, 1),
    (50, 1),
    (100, 1),
    (200, 1),
    (500, 1),
    (1_000, 1),
    (2_000, 1),
    (5_000, 1),
    (10_000, 1),
    (50_000, 3),
    (16_667, 1),
    (20_000, 1),
    (100_000, 3),
    (50_000, 1),
    (100_000, 1),
];

/// Fewer differences than this give no estimate: too few to tell a grid from chance.
pub const MIN_STEPS: usize = 16;

/// A clock's grid shows in gaps of at least this many different lengths (in steps).
const MIN_DISTINCT_MULTIPLES: usize = 3;

/// The share of differences that must land on a step's grid (the odd timestamp from another
/// source does not break the estimate; chance alignment of fine timestamps is far below this).
const ON_GRID_SHARE_PERMILLE: usize = 970;

/// Estimates the clock's step (µs, rounded) from absolute timestamps and from differences that
/// were measured on the same clock (such as auto-repeat gaps).
///
/// Returns `None` with fewer than [`MIN_STEPS`] positive differences; `Some(1)` when the clock
/// is finer than every step of the ladder.
pub fn estimate_resolution_us(timestamps_us: &[i64], differences_us: &[i64]) -> Option<u32> {
    let mut sorted = timestamps_us.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let steps: Vec<i64> = sorted
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .chain(differences_us.iter().copied())
        .filter(|&step_us| step_us > 0)
        .collect();
    if steps.len() < MIN_STEPS {
        return None;
    }
    let fits = |&(numerator, denominator): &(i64, i64)| {
        // A timestamp rounded to whole microseconds may sit a little off a fractional grid, and
        // 16,667 µs drifts from 1/60 s by a third of a microsecond a step: a grid tolerates 0.5 %
        // of its step. Any more and a steady 30 Hz auto-repeat would pass for a 33 ms clock.
        let tolerance = (numerator / 200).max(if denominator > 1 { denominator } else { 0 });
        let (numerator, denominator) = (i128::from(numerator), i128::from(denominator));
        let mut multiples: Vec<i128> = steps
            .iter()
            .filter_map(|&step_us| {
                let scaled = i128::from(step_us) * denominator;
                let remainder = scaled.rem_euclid(numerator);
                (remainder.min(numerator - remainder) <= i128::from(tolerance))
                    .then(|| (scaled + numerator / 2) / numerator)
            })
            .collect();
        let on_grid = multiples.len();
        multiples.sort_unstable();
        multiples.dedup();
        // Events that come at one steady period (a rate-limited pointer, a script typing every
        // 100 ms) sit on a grid of that period too, but a clock's grid shows in gaps of many
        // different lengths.
        on_grid * 1000 >= steps.len() * ON_GRID_SHARE_PERMILLE
            && multiples.len() >= MIN_DISTINCT_MULTIPLES
    };
    // Whole microseconds are the floor: every difference is on that grid.
    let (numerator, denominator) =
        LADDER.iter().skip(1).rev().find(|step| fits(step)).copied().unwrap_or((1, 1));
    Some(u32::try_from((numerator + denominator / 2) / denominator).unwrap_or(u32::MAX))
}

/// How a resolution reads to people: `5 µs`, `1 ms`, `16.7 ms`.
pub fn describe_resolution(resolution_us: u32) -> String {
    if resolution_us < 1_000 {
        format!("{resolution_us} µs")
    } else if resolution_us % 1_000 == 0 {
        format!("{} ms", resolution_us / 1_000)
    } else {
        format!("{:.1} ms", f64::from(resolution_us) / 1_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Timestamps of irregular events (a small linear congruential sequence, so the test is
    /// deterministic), rounded down to a grid of `numerator / denominator` µs as a browser does.
    fn rounded(numerator: i64, denominator: i64, count: i64) -> Vec<i64> {
        let mut state = 12_345_i64;
        let mut at_us = 5_000_000_i64;
        (0..count)
            .map(|_| {
                state = (state * 1_103_515_245 + 12_345).rem_euclid(1 << 31);
                at_us += 40_000 + state % 200_000;
                // Whole steps, then to whole microseconds as the probe does.
                let steps = at_us * denominator / numerator;
                (steps * numerator + denominator / 2) / denominator
            })
            .collect()
    }

    fn check(numerator: i64, denominator: i64, expected: Option<u32>) {
        assert_eq!(
            estimate_resolution_us(&rounded(numerator, denominator, 60), &[]),
            expected,
            "grid {numerator}/{denominator} µs"
        );
    }

    #[test]
    fn each_browser_grid_is_recognised() {
        check(1, 1, Some(1));
        check(5, 1, Some(5));
        check(20, 1, Some(20));
        check(100, 1, Some(100));
        check(1_000, 1, Some(1_000));
        check(50_000, 3, Some(16_667));
        check(100_000, 1, Some(100_000));
    }

    #[test]
    fn a_grid_off_the_ladder_reads_as_the_finer_step_below_it() {
        // 3 µs is not a browser's step; the estimate never claims a coarser clock than it saw.
        check(3, 1, Some(1));
        check(3_000, 1, Some(1_000));
    }

    #[test]
    fn too_few_differences_give_no_estimate() {
        assert_eq!(estimate_resolution_us(&rounded(50_000, 3, 10), &[]), None);
        assert_eq!(estimate_resolution_us(&[7; 40], &[]), None, "identical times have no step");
    }

    #[test]
    fn an_odd_timestamp_does_not_hide_a_coarse_clock() {
        let mut times = rounded(50_000, 3, 200);
        times.push(123_457);
        assert_eq!(estimate_resolution_us(&times, &[]), Some(16_667));
    }

    #[test]
    fn a_steady_period_is_not_a_coarse_clock() {
        // A pointer rate-limited to exactly 25 Hz, or a script typing every 100 ms.
        let every_40_ms: Vec<i64> = (0..60).map(|i| 1_000_000 + i * 40_000).collect();
        assert_eq!(estimate_resolution_us(&every_40_ms, &[]), Some(1));
        let script: Vec<i64> = (0..40).flat_map(|i| [i * 100_000, i * 100_000 + 30_000]).collect();
        assert_eq!(estimate_resolution_us(&script, &[]), Some(1));
    }

    #[test]
    fn differences_count_as_steps() {
        let gaps: Vec<i64> = (0..20).map(|i| 16_667 * (2 + i % 4)).collect();
        assert_eq!(estimate_resolution_us(&[], &gaps), Some(16_667));
        // A steady repeat on a fine clock sits near a grid of its own period; the irregular
        // gaps between presses show the clock is fine.
        let steady: Vec<i64> = (0..20).map(|i| 33_330 + i % 7).collect();
        assert_eq!(estimate_resolution_us(&rounded(1, 1, 40), &steady), Some(1));
    }

    #[test]
    fn resolutions_read_with_units() {
        assert_eq!(describe_resolution(5), "5 µs");
        assert_eq!(describe_resolution(1_000), "1 ms");
        assert_eq!(describe_resolution(16_667), "16.7 ms");
    }
}
