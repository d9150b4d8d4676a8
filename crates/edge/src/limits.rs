//! Rate limits: token buckets per client address (API calls and socket opens) and per session
//! (socket opens), so one noisy client cannot crowd out everyone else.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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

/// The network a client address belongs to, for limits: its IPv4 /24 or IPv6 /64. One machine
/// rarely has more than one address, but one attacker easily has a range of them.
pub fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

/// Open connections per network, capped: a guard counts one connection until it is dropped.
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection, counted against its network until dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    connections: std::sync::Arc<Connections>,
    network: IpAddr,
}

impl Connections {
    /// Counts a new connection from `address`, or `None` when its network already has `max`.
    pub fn open(
        self: &std::sync::Arc<Self>,
        address: IpAddr,
        max: usize,
    ) -> Option<ConnectionGuard> {
        let network = network_of(address);
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(network).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionGuard { connections: self.clone(), network })
    }

    /// Connections open now from `address`'s network.
    #[cfg(test)]
    pub fn count(&self, address: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.get(&network_of(address)).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open =
            self.connections.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.network) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.network);
            }
        }
    }
}

/// The edge's limits.
#[derive(Debug)]
pub struct Limits {
    /// API calls and socket opens per client network ([`network_of`]).
    pub per_address: Buckets<IpAddr>,
    /// Socket opens per session and role (a reconnecting probe needs a few; a flood does not,
    /// and a candidate's reconnects never use up the interviewer's).
    pub per_session: Buckets<(String, onsite_core::wire::Role)>,
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
        let start = crate::clock::monotonic();
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
    fn limits_count_networks_not_single_addresses() {
        let cases = [
            ("127.0.0.1", "127.0.0.0"),
            ("127.0.0.4", "127.0.0.0"),
            ("203.0.113.77", "203.0.113.0"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
            ("::ffff:198.51.100.9", "198.51.100.0"),
        ];
        for (address, network) in cases {
            let address: IpAddr = address.parse().expect("address");
            assert_eq!(network_of(address), network.parse::<IpAddr>().expect("network"));
        }
        let buckets = Buckets::new(Rate { per_s: 0.0, burst: 2.0 });
        let start = crate::clock::monotonic();
        let taken = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
            .iter()
            .filter(|a| buckets.take(&network_of(a.parse().expect("address")), start))
            .count();
        assert_eq!(taken, 2, "four addresses of one /24 share one bucket");
    }

    #[test]
    fn connections_are_capped_per_network_and_released_on_drop() {
        let connections = std::sync::Arc::new(Connections::default());
        let a: IpAddr = "10.1.2.3".parse().expect("address");
        let b: IpAddr = "10.1.2.4".parse().expect("address");
        let first = connections.open(a, 2).expect("first");
        let _second = connections.open(b, 2).expect("second, same /24");
        assert!(connections.open(a, 2).is_none(), "a third from the /24 is refused");
        assert!(connections.open("10.1.3.1".parse().expect("address"), 2).is_some());
        drop(first);
        assert_eq!(connections.count(a), 1);
        assert!(connections.open(a, 2).is_some(), "a slot is free again once one closes");
    }

    #[test]
    fn a_socket_budget_refuses_a_flood_and_allows_a_steady_sender() {
        let start = crate::clock::monotonic();
        let mut budget = FrameBudget::new(Rate { per_s: 20.0, burst: 60.0 }, start);
        let flood = (0..100).filter(|_| budget.take(start)).count();
        assert_eq!(flood, 60);
        let mut steady = FrameBudget::new(Rate { per_s: 20.0, burst: 60.0 }, start);
        let accepted =
            (0..1000).filter(|i| steady.take(start + Duration::from_millis(60 * i))).count();
        assert_eq!(accepted, 1000, "16 frames a second is under the rate");
    }
}
