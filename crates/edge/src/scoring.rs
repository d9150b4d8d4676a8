//! Scoring off the async workers: a bounded pool of blocking threads scores and hashes evidence,
//! so that no session's scoring holds up another session's echoes, and each session's verdicts
//! are spaced by what its own scoring costs.

use std::sync::Arc;
use std::time::Duration;

use onsite_core::wire::{EvidenceV1, VerdictV1};
use onsite_core::{score, Evidence, Features};
use tokio::sync::Semaphore;

/// A session's verdicts are at least this many times the cost of its last scoring apart, so
/// that one session can take at most a twentieth of a scoring thread however it sends.
pub(crate) const BUDGET_FACTOR: u32 = 20;

/// What scoring a snapshot gave.
pub(crate) struct Scored {
    pub(crate) verdict: VerdictV1,
    pub(crate) evidence_sha256: String,
    /// How long scoring and hashing took on its thread.
    pub(crate) took: Duration,
}

/// The scoring pool: at most `threads` snapshots are scored at once, each on a blocking thread.
pub(crate) struct Scoring {
    permits: Arc<Semaphore>,
}

impl Scoring {
    /// A pool that uses at most half the machine's cores (at least one), leaving the rest to the
    /// sockets.
    pub(crate) fn for_this_machine() -> Scoring {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Scoring::new((cores / 2).max(1))
    }

    pub(crate) fn new(threads: usize) -> Scoring {
        Scoring { permits: Arc::new(Semaphore::new(threads.max(1))) }
    }

    /// Scores `evidence` once a thread is free; `None` only if the pool is shutting down or the
    /// scoring thread panicked (a bug, logged).
    pub(crate) async fn score(&self, evidence: Evidence) -> Option<Scored> {
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let started = crate::clock::monotonic();
            let verdict = VerdictV1::from_verdict(&score(&Features::from_evidence(&evidence)));
            let evidence_sha256 = EvidenceV1::from_evidence(&evidence).sha256_hex();
            Scored { verdict, evidence_sha256, took: started.elapsed() }
        })
        .await;
        match joined {
            Ok(scored) => Some(scored),
            Err(error) => {
                tracing::error!(%error, "a scoring thread failed");
                None
            }
        }
    }
}

/// How long a session waits after a verdict before the next one: a second, or
/// [`BUDGET_FACTOR`] times what its last scoring took, whichever is longer.
pub(crate) fn gap_after(last_cost: Duration, min_gap: Duration) -> Duration {
    min_gap.max(last_cost.saturating_mul(BUDGET_FACTOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expensive_session_waits_longer_between_verdicts() {
        let second = Duration::from_secs(1);
        assert_eq!(gap_after(Duration::from_millis(2), second), second, "cheap: once a second");
        assert_eq!(
            gap_after(Duration::from_millis(850), second),
            Duration::from_millis(17_000),
            "0.85 s of scoring: at most a twentieth of a thread"
        );
    }

    #[tokio::test]
    async fn the_pool_scores_evidence() {
        let scoring = Scoring::new(1);
        let scored = scoring.score(Evidence::default()).await.expect("scored");
        assert_eq!(scored.verdict.class, "inconclusive", "no evidence is inconclusive");
        assert_eq!(scored.evidence_sha256.len(), 64);
    }
}
