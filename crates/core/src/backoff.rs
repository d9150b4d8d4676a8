//! The wait between attempts to reconnect: a first wait that doubles with each failure up to a
//! cap, and starts again after a success. Sans-IO: the caller keeps the timer.

/// The first wait after a lost connection (ms).
pub const RECONNECT_FIRST_MS: u32 = 250;
/// The longest wait between two attempts (ms).
pub const RECONNECT_MAX_MS: u32 = 4_000;

/// A doubling backoff, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first_ms: u32,
    max_ms: u32,
    next_ms: u32,
}

impl Backoff {
    /// A backoff whose first wait is `first_ms` and whose waits never exceed `max_ms` (a first
    /// wait above the cap is the cap).
    pub const fn new(first_ms: u32, max_ms: u32) -> Backoff {
        let first_ms = if first_ms < max_ms { first_ms } else { max_ms };
        Backoff { first_ms, max_ms, next_ms: first_ms }
    }

    /// The backoff both the probe and the interviewer's page reconnect with: 0.25, 0.5, 1, 2,
    /// then every 4 s.
    pub const fn reconnect() -> Backoff {
        Backoff::new(RECONNECT_FIRST_MS, RECONNECT_MAX_MS)
    }

    /// The wait before the next attempt (ms); the one after is twice as long, up to the cap.
    pub fn next_wait_ms(&mut self) -> u32 {
        let wait_ms = self.next_ms;
        self.next_ms = wait_ms.saturating_mul(2).min(self.max_ms);
        wait_ms
    }

    /// After a success: the next wait is the first one again.
    pub fn reset(&mut self) {
        self.next_ms = self.first_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Checks the first `expected.len()` waits of `backoff`.
    fn check(mut backoff: Backoff, expected: &[u32]) {
        let waits_ms: Vec<u32> = expected.iter().map(|_| backoff.next_wait_ms()).collect();
        assert_eq!(waits_ms, expected);
    }

    #[test]
    fn waits_start_at_the_first_and_double_up_to_the_cap() {
        check(Backoff::reconnect(), &[250, 500, 1_000, 2_000, 4_000, 4_000, 4_000]);
        check(Backoff::new(1_000, 8_000), &[1_000, 2_000, 4_000, 8_000, 8_000]);
        check(Backoff::new(3, 10), &[3, 6, 10, 10]);
        check(Backoff::new(5_000, 4_000), &[4_000, 4_000]);
        check(Backoff::new(0, 4_000), &[0, 0]);
        check(Backoff::new(u32::MAX / 2 + 1, u32::MAX), &[u32::MAX / 2 + 1, u32::MAX, u32::MAX]);
    }

    #[test]
    fn a_reset_starts_again_from_the_first_wait() {
        let mut backoff = Backoff::reconnect();
        assert_eq!((backoff.next_wait_ms(), backoff.next_wait_ms()), (250, 500));
        backoff.reset();
        check(backoff, &[250, 500, 1_000]);
        let mut untouched = Backoff::reconnect();
        untouched.reset();
        assert_eq!(untouched, Backoff::reconnect());
    }
}
