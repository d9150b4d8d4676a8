//! Counters the edge keeps about itself, served as Prometheus text at `GET /metrics`.

use onsite_core::codes::ErrorCode;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::store::Counts;

/// Upper bounds (ms) of the echo round-trip histogram's buckets.
const RTT_BUCKETS_MS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// The edge's counters; all are cheap atomics except the refusal table.
#[derive(Debug, Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub connections_refused: AtomicU64,
    pub sockets_opened: AtomicU64,
    pub sockets_open: AtomicU64,
    pub batches_stored: AtomicU64,
    pub batches_resent: AtomicU64,
    pub verdicts_signed: AtomicU64,
    rtt_buckets: [AtomicU64; RTT_BUCKETS_MS.len()],
    rtt_count: AtomicU64,
    rtt_sum_us: AtomicU64,
    refusals: Mutex<Vec<(&'static str, u64)>>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Records one echo round trip the edge measured.
    pub fn observe_rtt(&self, rtt_us: u64) {
        let rtt_ms = rtt_us as f64 / 1000.0;
        for (bucket, &bound_ms) in self.rtt_buckets.iter().zip(RTT_BUCKETS_MS.iter()) {
            if rtt_ms <= bound_ms {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.rtt_count.fetch_add(1, Relaxed);
        self.rtt_sum_us.fetch_add(rtt_us, Relaxed);
    }

    /// Counts a refused frame or socket by its error code.
    pub fn refused(&self, code: ErrorCode) {
        let code = code.as_str();
        let mut refusals = self.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match refusals.iter_mut().find(|(known, _)| *known == code) {
            Some((_, count)) => *count += 1,
            None => refusals.push((code, 1)),
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, counts: Option<Counts>) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        counter(
            "onsite_http_requests_total",
            "API requests received.",
            "counter",
            self.http_requests.load(Relaxed),
        );
        counter(
            "onsite_rate_limited_total",
            "Requests and sockets refused by a rate limit.",
            "counter",
            self.rate_limited.load(Relaxed),
        );
        counter(
            "onsite_connections_refused_total",
            "TCP connections closed at once because their network held its share.",
            "counter",
            self.connections_refused.load(Relaxed),
        );
        counter(
            "onsite_sockets_opened_total",
            "WebSockets opened.",
            "counter",
            self.sockets_opened.load(Relaxed),
        );
        counter(
            "onsite_sockets_open",
            "WebSockets open now.",
            "gauge",
            self.sockets_open.load(Relaxed),
        );
        counter(
            "onsite_batches_stored_total",
            "Evidence batches stored.",
            "counter",
            self.batches_stored.load(Relaxed),
        );
        counter(
            "onsite_batches_resent_total",
            "Evidence batches received again and acknowledged without change.",
            "counter",
            self.batches_resent.load(Relaxed),
        );
        counter(
            "onsite_verdicts_signed_total",
            "Verdicts signed.",
            "counter",
            self.verdicts_signed.load(Relaxed),
        );
        if let Some(counts) = counts {
            for (name, help, value) in [
                ("onsite_stored_sessions", "Sessions in the store.", counts.sessions),
                ("onsite_stored_batches", "Evidence batches in the store.", counts.batches),
                ("onsite_stored_verdicts", "Signed verdicts in the store.", counts.verdicts),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
            }
        }
        let _ = writeln!(out, "# HELP onsite_refusals_total Frames and sockets refused, by reason.\n# TYPE onsite_refusals_total counter");
        for (code, count) in
            self.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter()
        {
            let _ = writeln!(out, "onsite_refusals_total{{code=\"{code}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP onsite_echo_rtt_ms Echo round trips timed by the edge.\n# TYPE onsite_echo_rtt_ms histogram");
        for (bucket, bound_ms) in self.rtt_buckets.iter().zip(RTT_BUCKETS_MS) {
            let _ = writeln!(
                out,
                "onsite_echo_rtt_ms_bucket{{le=\"{bound_ms}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.rtt_count.load(Relaxed);
        let _ = writeln!(out, "onsite_echo_rtt_ms_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "onsite_echo_rtt_ms_sum {}",
            self.rtt_sum_us.load(Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "onsite_echo_rtt_ms_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_cumulative_buckets_and_counts_refusals_by_code() {
        let metrics = Metrics::default();
        for rtt_us in [500, 1_500, 30_000, 2_000_000] {
            metrics.observe_rtt(rtt_us);
        }
        metrics.refused(ErrorCode::Malformed);
        metrics.refused(ErrorCode::Malformed);
        metrics.refused(ErrorCode::RateLimited);
        let text = metrics.render(Some(Counts { sessions: 2, batches: 5, verdicts: 7 }));
        assert!(text.contains("onsite_echo_rtt_ms_bucket{le=\"1\"} 1\n"), "{text}");
        assert!(text.contains("onsite_echo_rtt_ms_bucket{le=\"2\"} 2\n"), "{text}");
        assert!(text.contains("onsite_echo_rtt_ms_bucket{le=\"50\"} 3\n"), "{text}");
        assert!(text.contains("onsite_echo_rtt_ms_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("onsite_echo_rtt_ms_count 4\n"), "{text}");
        assert!(text.contains("onsite_refusals_total{code=\"malformed\"} 2\n"), "{text}");
        assert!(text.contains("onsite_stored_verdicts 7\n"), "{text}");
    }
}
