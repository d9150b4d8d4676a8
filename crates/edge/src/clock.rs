//! The edge's one clock: every other module asks here for the time, wall or monotonic (clippy's
//! `disallowed_methods` refuses the time anywhere else in the edge).

// The one module allowed to read the time.
#![allow(clippy::disallowed_methods)]

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// A monotonic instant, for timing round trips and limits.
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}

/// The same monotonic clock as tokio's instant, for its timers.
pub fn monotonic_tokio() -> tokio::time::Instant {
    tokio::time::Instant::now()
}
