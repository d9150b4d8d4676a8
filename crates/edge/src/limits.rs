//! Rate limits: token buckets per client address (API calls and socket opens) and per session
//! (socket opens), so one noisy client cannot crowd out everyone else.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// A bucket that holds up to `burst` tokens and refills at `per_s` tokens a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_s: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets by key; the time is passed in, so the arithmetic is tested without a clock.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// Past this many keys, full buckets (clients that have been quiet) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

impl<K: Eq + Hash + Clone> Buckets<K> {
    pub fn new(rate: Rate) -> Buckets<K> {
        Buckets { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key` at `now`; false when the bucket is empty.
    pub fn take(&self, key: &K, now: Instant) -> bool {
        let rate = self.rate;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| {
                bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * rate.per_s
                    < rate.burst
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket { tokens: rate.burst, at: now });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * rate.per_s;
        bucket.tokens = (bucket.tokens + refilled).min(rate.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The edge's limits.
#[derive(Debug)]
pub struct Limits {
    /// API calls and socket opens per client address.
    pub per_address: Buckets<IpAddr>,
    /// Socket opens per session (a reconnecting probe needs a few; a flood does not).
    pub per_session: Buckets<String>,
    /// Text frames (evidence and control) per socket.
    pub frames_per_socket: Rate,
}

impl Limits {
    pub fn new(per_address: Rate) -> Limits {
        Limits {
            per_address: Buckets::new(per_address),
            per_session: Buckets::new(Rate { per_s: 0.5, burst: 20.0 }),
            frames_per_socket: Rate { per_s: 20.0, burst: 60.0 },
        }
    }
}

/// The default per-address rate: generous for a person and a portal, tight for a flood.
pub const DEFAULT_PER_ADDRESS: Rate = Rate { per_s: 20.0, burst: 100.0 };

/// A socket's own frame bucket (not shared, so no lock).
#[derive(Debug, Clone, Copy)]
pub struct FrameBudget {
    rate: Rate,
    bucket: Bucket,
}

impl FrameBudget {
    pub fn new(rate: Rate, now: Instant) -> FrameBudget {
        FrameBudget { rate, bucket: Bucket { tokens: rate.burst, at: now } }
    }

    /// Takes one token at `now`; false when the socket is sending too fast.
    pub fn take(&mut self, now: Instant) -> bool {
        let refilled =
            now.saturating_duration_since(self.bucket.at).as_secs_f64() * self.rate.per_s;
        self.bucket =
            Bucket { tokens: (self.bucket.tokens + refilled).min(self.rate.burst), at: now };
        if self.bucket.tokens >= 1.0 {
            self.bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let buckets = Buckets::new(Rate { per_s: 2.0, burst: 3.0 });
        let start = Instant::now();
        let taken = (0..5).filter(|_| buckets.take(&"a", start)).count();
        assert_eq!(taken, 3, "the burst");
        assert!(
            !buckets.take(&"a", start + Duration::from_millis(400)),
            "0.8 of a token is not enough"
        );
        assert!(
            buckets.take(&"a", start + Duration::from_millis(500)),
            "one token after half a second"
        );
        assert!(buckets.take(&"b", start), "another key has its own bucket");
        let full = start + Duration::from_secs(3600);
        assert_eq!(
            (0..10).filter(|_| buckets.take(&"a", full)).count(),
            3,
            "never more than the burst"
        );
    }

    #[test]
    fn a_socket_budget_refuses_a_flood_and_allows_a_steady_sender() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(Rate { per_s: 20.0, burst: 60.0 }, start);
        let flood = (0..100).filter(|_| budget.take(start)).count();
        assert_eq!(flood, 60);
        let mut steady = FrameBudget::new(Rate { per_s: 20.0, burst: 60.0 }, start);
        let accepted =
            (0..1000).filter(|i| steady.take(start + Duration::from_millis(60 * i))).count();
        assert_eq!(accepted, 1000, "16 frames a second is under the rate");
    }
}
