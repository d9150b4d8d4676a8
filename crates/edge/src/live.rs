//! Live state: each open session's evidence in memory and the channel its verdicts are pushed on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use onsite_core::Evidence;
use tokio::sync::{broadcast, watch};

/// How many verdict frames a slow interviewer may fall behind before it skips to the newest.
const VERDICT_BACKLOG: usize = 16;

/// A session's evidence as far as the edge has stored it.
#[derive(Debug, Default)]
pub(crate) struct Accumulated {
    /// Whether the stored batches and round trips have been read in.
    pub(crate) loaded: bool,
    pub(crate) evidence: Evidence,
    /// The highest evidence batch received so far (batches count from 1)...
    pub(crate) last_seq: u64,
    /// ...and the highest known to be committed to the store.
    pub(crate) committed_seq: u64,
    /// Counts changes to the evidence, so a verdict on older evidence is never published after
    /// one on newer evidence.
    pub(crate) generation: u64,
    /// Bytes of evidence batches stored for the session (counted against its budget).
    pub(crate) stored_bytes: usize,
    /// Whether the candidate finished: the session is sealed and its last verdict is final.
    pub(crate) finished: bool,
    /// When the session stops taking evidence (milliseconds since the Unix epoch).
    pub(crate) expires_at_ms: i64,
}

/// One session's live state.
pub(crate) struct Live {
    pub(crate) verdicts: broadcast::Sender<Arc<str>>,
    pub(crate) accumulated: tokio::sync::Mutex<Accumulated>,
    /// The generation of the newest verdict published; held while one is being published.
    pub(crate) published: tokio::sync::Mutex<u64>,
    /// The newest snapshot waiting for a scheduled publish (at most one is scheduled), and
    /// when the last scheduled publish ran.
    pub(crate) pending: Mutex<Option<(Evidence, u64)>>,
    pub(crate) last_scheduled: Mutex<Option<std::time::Instant>>,
    /// What the session's last scoring took, which spaces its next verdict.
    pub(crate) last_cost: Mutex<std::time::Duration>,
}

/// Every session with live state, and the signal that tells open sockets the edge is stopping.
pub(crate) struct Registry {
    sessions: Mutex<HashMap<String, Arc<Live>>>,
    stopping: watch::Sender<bool>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry { sessions: Mutex::new(HashMap::new()), stopping: watch::channel(false).0 }
    }
}

impl Registry {
    /// The live state of a session, created on first use.
    pub(crate) fn get(&self, session_id: &str) -> Arc<Live> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sessions
            .entry(session_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Live {
                    verdicts: broadcast::channel(VERDICT_BACKLOG).0,
                    accumulated: tokio::sync::Mutex::new(Accumulated::default()),
                    published: tokio::sync::Mutex::new(0),
                    pending: Mutex::new(None),
                    last_scheduled: Mutex::new(None),
                    last_cost: Mutex::new(std::time::Duration::ZERO),
                })
            })
            .clone()
    }

    /// A receiver that changes to `true` when the edge starts shutting down.
    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Tells every open socket to close.
    pub(crate) fn close_all(&self) {
        self.stopping.send_replace(true);
    }
}
