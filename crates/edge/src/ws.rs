//! The WebSocket: hello and capability check, echo round trips timed on the edge's clock,
//! evidence batches stored once and acknowledged, and verdicts pushed to interviewers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as Extract};
use axum::response::Response;
use onsite_core::attested::{RhythmSchedule, Step};
use onsite_core::codes::{CloseCode, ErrorCode};
use onsite_core::evidence::ClaimedLocation;
use onsite_core::geo::EdgeRtt;
use onsite_core::stats::quantile;
use onsite_core::wire::Claims;
use onsite_core::wire::{
    self, BatchV1, ClientMsg, EdgeRefV1, EnvironmentV1, MeasurementV1, Role, ServerMsg, VerdictV1,
    WireError,
};
use onsite_core::Evidence;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};

use std::sync::atomic::Ordering::Relaxed;

use crate::limits::FrameBudget;
use crate::live::{Accumulated, Live};
use crate::metrics::Metrics;
use crate::scoring::Scored;
use crate::store::{Committed, RttRow, StoreError, VerdictRow};
use crate::{secrets, State};

/// Frames above this size are cut off by the WebSocket layer itself; frames between
/// [`wire::MAX_FRAME_BYTES`] and this get a clear error from us first.
const MAX_PROTOCOL_BYTES: usize = 1024 * 1024;
/// How long a new socket may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// A socket that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Echo probes are sent this often at first...
const ECHO_FAST: Duration = Duration::from_millis(250);
/// ...for this many probes (10 s)...
const ECHO_FAST_COUNT: u32 = 40;
/// ...and this often afterwards.
const ECHO_SLOW: Duration = Duration::from_secs(2);
/// A probe not answered within this long is lost.
const ECHO_LOST_AFTER: Duration = Duration::from_secs(5);
/// The browser's own echo probes are returned at most this often.
const CLIENT_ECHO_MIN_GAP: Duration = Duration::from_millis(20);
/// A session keeps at most this many round trips.
const MAX_RTT_SAMPLES: usize = 400;
/// A session keeps at most this many presses...
const MAX_STROKES_PER_SESSION: usize = 20_000;
/// ...and this many pointer samples (about ten minutes of movement at 125 Hz).
const MAX_POINTER_PER_SESSION: usize = 100_000;
/// Round trips are re-scored every this many samples.
const RESCORE_EVERY_RTT: usize = 10;
/// A measuring socket must ask within this long, before it takes a measuring slot.
const MEASURE_HELLO_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) async fn upgrade(Extract(state): Extract<Arc<State>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_PROTOCOL_BYTES)
        .max_frame_size(MAX_PROTOCOL_BYTES)
        .on_upgrade(move |socket| handle(state, socket))
}

/// Why a socket is being closed.
struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into() }
    }

    /// The peer is gone: nothing more can be sent.
    fn closed() -> Refusal {
        Refusal::new(ErrorCode::Closed, "socket closed")
    }

    fn from_wire(error: WireError) -> Refusal {
        match error {
            WireError::TooLarge(_) => Refusal::new(ErrorCode::TooLarge, error.to_string()),
            _ => Refusal::new(ErrorCode::Malformed, error.to_string()),
        }
    }

    /// How the socket closes: every refusal closes it.
    fn close_code(&self) -> u16 {
        self.code.close().unwrap_or(CloseCode::Policy).number()
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        tracing::error!(%error, "storage failed during a session");
        Refusal::new(ErrorCode::Unavailable, "storage is unavailable; reconnect shortly")
    }
}

async fn handle(state: Arc<State>, mut socket: WebSocket) {
    Metrics::add(&state.metrics.sockets_opened);
    state.metrics.sockets_open.fetch_add(1, Relaxed);
    let outcome = match hello(&state, &mut socket).await {
        Ok((session, Role::Candidate)) => candidate(&state, &mut socket, &session).await,
        Ok((session, Role::Interviewer)) => interviewer(&state, &mut socket, &session).await,
        Err(refusal) => Err(refusal),
    };
    match outcome {
        Ok(()) => {}
        Err(refusal) => {
            tracing::info!(code = refusal.code.as_str(), message = %refusal.message, "closing socket");
            state.metrics.refused(refusal.code);
            let _ = send(
                &mut socket,
                &ServerMsg::Error { code: refusal.code, message: refusal.message.clone() },
            )
            .await;
            let reason = refusal.message.chars().take(100).collect::<String>();
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: refusal.close_code(),
                    reason: reason.into(),
                })))
                .await;
        }
    }
    state.metrics.sockets_open.fetch_sub(1, Relaxed);
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), axum::Error> {
    socket.send(Message::Text(msg.to_text().into())).await
}

/// The edge's echo probes on one socket: their numbers, the fast-then-slow schedule and which
/// are in flight. Time is passed in, so the bookkeeping is tested without a clock.
struct Echoes {
    seq: u32,
    pending: HashMap<u32, std::time::Instant>,
    opened: std::time::Instant,
    /// The smallest round trip timed on this socket (µs).
    rtt_min_us: Option<u64>,
}

impl Echoes {
    fn new(opened: std::time::Instant) -> Echoes {
        Echoes { seq: 0, pending: HashMap::new(), opened, rtt_min_us: None }
    }

    /// Forgets probes unanswered for [`ECHO_LOST_AFTER`] at `now`; returns how many.
    fn expire(&mut self, now: std::time::Instant) -> u32 {
        let before = self.pending.len();
        self.pending.retain(|_, sent| now.saturating_duration_since(*sent) < ECHO_LOST_AFTER);
        u32::try_from(before - self.pending.len()).unwrap_or(u32::MAX)
    }

    /// Numbers a probe sent at `now`; the flag says the fast schedule ends with it.
    fn next(&mut self, now: std::time::Instant) -> (u32, bool) {
        self.seq = self.seq.wrapping_add(1);
        self.pending.insert(self.seq, now);
        (self.seq, self.seq == ECHO_FAST_COUNT)
    }

    /// A reply to probe `seq` arriving at `now`: the round trip, and the edge's clock half-way
    /// through it (µs since the socket opened), or `None` for a probe not in flight.
    ///
    /// NTP-style: the page read its clock about half a round trip after the probe left, so the
    /// page's clock minus this is the offset between the two clocks.
    fn reply(&mut self, seq: u32, now: std::time::Instant) -> Option<(u64, i64)> {
        let sent = self.pending.remove(&seq)?;
        let rtt_us = u64::try_from(now.saturating_duration_since(sent).as_micros()).ok()?;
        self.rtt_min_us = Some(self.rtt_min_us.map_or(rtt_us, |min_us| min_us.min(rtt_us)));
        Some((rtt_us, self.since_opened_us(sent) + i64::try_from(rtt_us / 2).ok()?))
    }

    /// The edge's clock on this socket: µs from the socket's opening to `at`.
    fn since_opened_us(&self, at: std::time::Instant) -> i64 {
        i64::try_from(at.saturating_duration_since(self.opened).as_micros()).unwrap_or(i64::MAX)
    }

    /// Forgets every probe in flight: a sealed session counts none of them lost.
    fn clear(&mut self) {
        self.pending.clear();
    }
}

/// Reads the first frame, which must be a hello with a valid capability.
async fn hello(state: &State, socket: &mut WebSocket) -> Result<(String, Role), Refusal> {
    let frame = match timeout(HELLO_TIMEOUT, socket.recv()).await {
        Err(_) => return Err(Refusal::new(ErrorCode::Timeout, "no hello within 10 s")),
        Ok(None) | Ok(Some(Err(_))) => {
            return Err(Refusal::new(ErrorCode::Closed, "socket closed before hello"))
        }
        Ok(Some(Ok(frame))) => frame,
    };
    let Message::Text(text) = frame else {
        return Err(Refusal::new(ErrorCode::ExpectedHello, "the first frame must be a JSON hello"));
    };
    let (role, session, token) = match ClientMsg::parse(&text).map_err(Refusal::from_wire)? {
        ClientMsg::Hello { role, session, token, .. } => (role, session, token),
        _ => return Err(Refusal::new(ErrorCode::ExpectedHello, "the first frame must be a hello")),
    };
    let unauthorized =
        || Refusal::new(ErrorCode::Unauthorized, "this link is not valid for this session");
    let row = state.store.session(&session).await?.ok_or_else(unauthorized)?;
    let expected = match role {
        Role::Candidate => &row.candidate_token_sha256,
        Role::Interviewer => &row.interviewer_token_sha256,
    };
    if !secrets::digests_equal(&secrets::sha256(token.as_bytes()), expected) {
        return Err(unauthorized());
    }
    if role == Role::Candidate
        && crate::clock::now_ms() > row.created_at_ms + state.session_lifetime_ms
    {
        return Err(Refusal::new(
            ErrorCode::Expired,
            "this session has expired; ask for a new link",
        ));
    }
    // A reconnecting probe opens a few sockets; a loop that opens hundreds is refused. Each
    // role has its own allowance, so a candidate's flood cannot lock the interviewer out.
    if !state.limits.per_session.take(&(session.clone(), role), crate::clock::monotonic()) {
        Metrics::add(&state.metrics.rate_limited);
        return Err(Refusal::new(
            ErrorCode::RateLimited,
            "too many connections for this session; wait a few seconds",
        ));
    }
    let edges = match role {
        // Each echo URL carries this session's measurement nonce, which the measuring edge signs
        // and `measured` checks, so a measurement counts only for the session that asked.
        Role::Candidate => {
            let nonce = secrets::measurement_nonce(&row.candidate_token_sha256);
            state
                .peers
                .iter()
                .map(|(peer, _)| EdgeRefV1 {
                    id: peer.id.clone(),
                    url: format!(
                        "{}{}nonce={nonce}",
                        peer.url,
                        if peer.url.contains('?') { '&' } else { '?' }
                    ),
                })
                .collect()
        }
        Role::Interviewer => Vec::new(),
    };
    send(
        socket,
        &ServerMsg::Welcome { v: wire::PROTOCOL_VERSION, session: session.clone(), role, edges },
    )
    .await
    .map_err(|_| Refusal::closed())?;
    Ok((session, role))
}

/// Reads a session's stored evidence into its live state, once.
async fn load(
    state: &State,
    session: &str,
    accumulated: &mut Accumulated,
) -> Result<(), StoreError> {
    if accumulated.loaded {
        return Ok(());
    }
    let generation = accumulated.generation;
    *accumulated = stored(state, session).await?;
    accumulated.generation = generation;
    Ok(())
}

/// A session's evidence and lifecycle as the store holds them: what a restarted edge scores, and
/// what the interviewer's export carries.
pub(crate) async fn stored(state: &State, session: &str) -> Result<Accumulated, StoreError> {
    let mut accumulated = Accumulated::default();
    for (seq, body) in state.store.batches(session).await? {
        // Stored batches were validated before they were written; a row that no longer parses
        // is skipped and logged rather than taking the session down.
        accumulated.stored_bytes += body.len();
        match serde_json::from_str::<BatchV1>(&body)
            .map_err(|e| e.to_string())
            .and_then(|batch| batch.decode().map_err(|e| e.to_string()))
        {
            Ok(batch) => batch.absorb_into(&mut accumulated.evidence),
            Err(error) => tracing::error!(session, seq, %error, "stored batch does not parse"),
        }
        accumulated.last_seq = accumulated.last_seq.max(seq);
        accumulated.committed_seq = accumulated.last_seq;
    }
    let (rtt_us, page_at_us): (Vec<u64>, Vec<i64>) = state
        .store
        .rtts(session)
        .await?
        .into_iter()
        .map(|(rtt, page_at)| (rtt, page_at.unwrap_or(i64::MIN)))
        .unzip();
    accumulated.evidence.rtt_us = rtt_us;
    accumulated.evidence.rtt_page_at_us = page_at_us;
    accumulated.evidence.rtt_lost = state.store.lost(session).await?;
    if let Some(text) = state.store.environment(session).await? {
        match serde_json::from_str::<EnvironmentV1>(&text) {
            Ok(environment) => set_environment(&mut accumulated.evidence, &environment),
            Err(error) => tracing::error!(session, %error, "stored environment does not parse"),
        }
    }
    if let Some(text) = state.store.edge_rhythm(session).await? {
        match serde_json::from_str::<wire::EdgeRhythmV1>(&text).map(|r| r.decode()) {
            Ok(Ok(rhythm)) => accumulated.evidence.edge_rhythm = Some(rhythm),
            Ok(Err(error)) => tracing::error!(session, %error, "stored edge rhythm is invalid"),
            Err(error) => tracing::error!(session, %error, "stored edge rhythm does not parse"),
        }
    }
    accumulated.evidence.edge_site = state.edge_site.clone();
    for (edge_id, min_rtt_us) in state.store.measurements(session).await? {
        if let Some((_, location)) = state.peers.iter().find(|(peer, _)| peer.id == edge_id) {
            accumulated.evidence.peer_rtts.push(EdgeRtt {
                edge_id,
                location: *location,
                min_rtt_us,
            });
        }
    }
    if let Some(row) = state.store.session(session).await? {
        accumulated.evidence.claimed =
            row.claimed_location.as_deref().and_then(ClaimedLocation::parse);
        accumulated.finished = row.finished_at_ms.is_some();
        accumulated.expires_at_ms = row.created_at_ms + state.session_lifetime_ms;
    }
    accumulated.loaded = true;
    Ok(accumulated)
}

async fn candidate(
    state: &Arc<State>,
    socket: &mut WebSocket,
    session: &str,
) -> Result<(), Refusal> {
    let mut offsets_us = Vec::new();
    let outcome = candidate_loop(state, socket, session, &mut offsets_us).await;
    offsets_us.sort_unstable();
    if let Some(offset_us) = quantile(&offsets_us, 1, 2) {
        let spread_us =
            quantile(&offsets_us, 3, 4).zip(quantile(&offsets_us, 1, 4)).map(|(q3, q1)| q3 - q1);
        tracing::info!(
            session,
            clock_offset_us = offset_us,
            offset_iqr_us = spread_us,
            samples = offsets_us.len(),
            "page clock against this socket's clock"
        );
    }
    outcome
}

/// The candidate's socket until it closes; `offsets_us` collects NTP-style clock offsets.
async fn candidate_loop(
    state: &Arc<State>,
    socket: &mut WebSocket,
    session: &str,
    offsets_us: &mut Vec<i64>,
) -> Result<(), Refusal> {
    let live = state.live.get(session);
    load(state, session, &mut *live.accumulated.lock().await).await?;
    let mut stopping = state.live.stopping();
    let mut echo = interval(ECHO_FAST);
    echo.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let opened = crate::clock::monotonic_tokio();
    let mut echoes = Echoes::new(opened.into_std());
    let mut last_client_echo: Option<Instant> = None;
    let mut last_frame_at = opened;
    let mut budget = FrameBudget::new(state.limits.frames_per_socket, opened.into_std());
    let mut environment_seen = false;
    let mut rhythm: Option<RhythmSchedule> = None;
    // Batches are committed by the writer task; each is acknowledged when its commit comes back
    // here, so this loop never waits for the database.
    let (committed_tx, mut committed) = tokio::sync::mpsc::unbounded_channel::<Committed>();

    // One shutdown future for the whole socket, and frames polled first: this loop is the echo
    // path, and every microsecond here is a microsecond on every round trip.
    let mut stop = std::pin::pin!(stopping.changed());
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => {
                return Err(Refusal::new(ErrorCode::ShuttingDown, "the edge is restarting; reconnect shortly"));
            }
            Some(done) = committed.recv() => acknowledge(state, &live, session, socket, done).await?,
            _ = echo.tick() => {
                if last_frame_at.elapsed() >= IDLE_TIMEOUT {
                    return Err(Refusal::new(ErrorCode::Idle, "no frames for 5 minutes"));
                }
                if let Flow::Close = echo_tick(state, &live, session, socket, &mut echoes, &mut echo).await {
                    return Ok(());
                }
            }
            // The rhythm task's next beat, when the edge is running one.
            _ = tokio::time::sleep_until(beat_due(&echoes, rhythm.as_ref())), if rhythm.is_some() => {
                rhythm_step(state, &live, session, socket, &mut rhythm, &echoes, offsets_us).await?;
            }
            // No timer per frame on this hot path: idleness is checked on the echo tick.
            frame = socket.recv() => {
                last_frame_at = crate::clock::monotonic_tokio();
                let frame = match frame {
                    None | Some(Err(_)) => return Ok(()),
                    Some(Ok(frame)) => frame,
                };
                match frame {
                    Message::Binary(bytes) => {
                        binary_frame(state, &live, session, socket, bytes, &mut echoes, &mut last_client_echo, offsets_us).await?;
                    }
                    Message::Text(_) if !budget.take(crate::clock::monotonic()) => {
                        Metrics::add(&state.metrics.rate_limited);
                        return Err(Refusal::new(ErrorCode::RateLimited, "frames are arriving faster than a probe sends them"));
                    }
                    Message::Text(text) => {
                        let own = SocketState { environment_seen: &mut environment_seen, rhythm: &mut rhythm, echoes: &echoes };
                        text_frame(state, &live, session, socket, &text, own, &committed_tx).await?;
                    }
                    Message::Close(_) => return Ok(()),
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
        }
    }
}

/// What the socket loop does after a step.
enum Flow {
    Continue,
    Close,
}

/// Acknowledges a batch the writer committed, or gives up the socket when storage failed.
async fn acknowledge(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    socket: &mut WebSocket,
    Committed { seq, result }: Committed,
) -> Result<(), Refusal> {
    match result {
        Ok(new) => {
            if new {
                Metrics::add(&state.metrics.batches_stored);
            }
            let mut accumulated = live.accumulated.lock().await;
            accumulated.committed_seq = accumulated.committed_seq.max(seq);
            drop(accumulated);
            send(socket, &ServerMsg::Ack { seq }).await.map_err(|_| Refusal::closed())
        }
        Err(error) => {
            // What is in memory may now be ahead of the store: read it in again on the next
            // socket, and let the probe resend what was not acknowledged.
            tracing::error!(session, seq, error, "cannot store a batch");
            *live.accumulated.lock().await = Accumulated::default();
            Err(Refusal::new(ErrorCode::Unavailable, "storage is unavailable; reconnect shortly"))
        }
    }
}

/// One echo tick: counts the probes that went unanswered and sends the next, slowing down once
/// enough round trips are in.
async fn echo_tick(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    socket: &mut WebSocket,
    echoes: &mut Echoes,
    echo: &mut tokio::time::Interval,
) -> Flow {
    // A sealed session's evidence is final: no more probes, nothing counted lost.
    if live.accumulated.lock().await.finished {
        echoes.clear();
        return Flow::Continue;
    }
    let now = crate::clock::monotonic();
    let lost = echoes.expire(now);
    if lost > 0 {
        // Counted in the background: the echo path never waits for the database.
        let (store, session_id) = (state.store.clone(), session.to_owned());
        tokio::spawn(async move {
            if let Err(error) = store.add_lost(&session_id, lost).await {
                tracing::error!(session = session_id, %error, "cannot count lost echoes");
            }
        });
        live.accumulated.lock().await.evidence.rtt_lost += lost;
    }
    let (echo_seq, slow_down) = echoes.next(now);
    if slow_down {
        *echo = interval(ECHO_SLOW);
        echo.set_missed_tick_behavior(MissedTickBehavior::Delay);
        echo.reset();
    }
    match socket.send(Message::Binary(wire::echo_frame(echo_seq).to_vec().into())).await {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Close,
    }
}

/// One binary frame from the candidate: the browser's own probe, returned at most once per
/// 20 ms, or its reply to one of ours, timed on the edge's clock.
#[allow(clippy::too_many_arguments, reason = "the socket loop's own state, passed by reference")]
async fn binary_frame(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    socket: &mut WebSocket,
    bytes: axum::body::Bytes,
    echoes: &mut Echoes,
    last_client_echo: &mut Option<Instant>,
    offsets_us: &mut Vec<i64>,
) -> Result<(), Refusal> {
    if wire::is_client_echo(&bytes) {
        if last_client_echo.is_none_or(|at: Instant| at.elapsed() >= CLIENT_ECHO_MIN_GAP) {
            *last_client_echo = Some(crate::clock::monotonic_tokio());
            let _ = socket.send(Message::Binary(bytes)).await;
        }
        return Ok(());
    }
    let Some((seq, page_at_us)) = wire::parse_echo_reply(&bytes) else {
        return Err(Refusal::new(ErrorCode::Malformed, "binary frames must be echo replies"));
    };
    // A reply to a probe we did not send, or sent long ago, is ignored.
    let Some((rtt_us, edge_mid_us)) = echoes.reply(seq, crate::clock::monotonic()) else {
        return Ok(());
    };
    if let Some(page_at_us) = page_at_us {
        offsets_us.push(page_at_us - edge_mid_us);
    }
    record_rtt(state, live, session, rtt_us, page_at_us).await
}

/// What one candidate socket holds for itself, lent to the frame handler.
struct SocketState<'a> {
    environment_seen: &'a mut bool,
    rhythm: &'a mut Option<RhythmSchedule>,
    echoes: &'a Echoes,
}

/// When the rhythm task's next step falls due, as a timer deadline.
fn beat_due(echoes: &Echoes, rhythm: Option<&RhythmSchedule>) -> tokio::time::Instant {
    let due_us = rhythm.map_or(i64::MAX / 2, RhythmSchedule::next_due_us);
    let due = echoes.opened + Duration::from_micros(u64::try_from(due_us).unwrap_or(0));
    tokio::time::Instant::from_std(due)
}

/// Starts the rhythm task the edge runs itself, once per session: the edge draws where the
/// phase shifts, so the page cannot know it before the beat arrives.
async fn start_rhythm(
    live: &Arc<Live>,
    rhythm: &mut Option<RhythmSchedule>,
    echoes: &Echoes,
) -> Option<ServerMsg> {
    let accumulated = live.accumulated.lock().await;
    if accumulated.finished {
        return Some(error(
            ErrorCode::Finished,
            "this session is finished; nothing more is recorded",
        ));
    }
    if rhythm.is_some() || accumulated.evidence.edge_rhythm.is_some() {
        return Some(error(ErrorCode::TaskRepeated, "the rhythm task runs once per session"));
    }
    drop(accumulated);
    let shift = u32::from(crate::secrets::random_bytes(1).first().copied().unwrap_or(0));
    *rhythm = Some(RhythmSchedule::new(echoes.since_opened_us(crate::clock::monotonic()), shift));
    None
}

/// The rhythm task's step that fell due: send a beat, or, after the last, keep the run as
/// attested evidence and score it.
async fn rhythm_step(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    socket: &mut WebSocket,
    rhythm: &mut Option<RhythmSchedule>,
    echoes: &Echoes,
    offsets_us: &[i64],
) -> Result<(), Refusal> {
    let Some(schedule) = rhythm.as_mut() else { return Ok(()) };
    match schedule.handle_due(echoes.since_opened_us(crate::clock::monotonic())) {
        None => Ok(()),
        Some(Step::Beat { n, of }) => {
            send(socket, &ServerMsg::Beat { n, of }).await.map_err(|_| Refusal::closed())
        }
        Some(Step::Done) => {
            let Some(schedule) = rhythm.take() else { return Ok(()) };
            let mut sorted_us = offsets_us.to_vec();
            sorted_us.sort_unstable();
            let offset_us = quantile(&sorted_us, 1, 2);
            let spread_us = quantile(&sorted_us, 3, 4)
                .zip(quantile(&sorted_us, 1, 4))
                .map_or(0, |(high, low)| high - low);
            let rtt_min_us = echoes.rtt_min_us.map_or(0, |us| i64::try_from(us).unwrap_or(0));
            let run = schedule.finish(rtt_min_us, offset_us, spread_us);
            let text = serde_json::to_string(&wire::EdgeRhythmV1::from_run(&run))
                .expect("a rhythm run is plain numbers");
            // A sealed session's evidence is final; the store keeps the first run only.
            if live.accumulated.lock().await.finished
                || !state.store.set_edge_rhythm(session, &text).await?
            {
                return Ok(());
            }
            let mut accumulated = live.accumulated.lock().await;
            accumulated.evidence.edge_rhythm = Some(run);
            let snapshot = snapshot(&mut accumulated);
            drop(accumulated);
            schedule_publish(state, live, session, snapshot);
            Ok(())
        }
    }
}

/// One text frame from the candidate: evidence, environment, finish or another edge's
/// measurement. A refusal closes the socket; an error frame changes nothing.
async fn text_frame(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    socket: &mut WebSocket,
    text: &str,
    own: SocketState<'_>,
    committed_tx: &tokio::sync::mpsc::UnboundedSender<Committed>,
) -> Result<(), Refusal> {
    let SocketState { environment_seen, rhythm, echoes } = own;
    let reply = match ClientMsg::parse(text).map_err(Refusal::from_wire)? {
        ClientMsg::Evidence(batch) => {
            evidence(state, live, session, batch.seq, &batch, committed_tx).await?
        }
        ClientMsg::Environment(_) if *environment_seen => Some(error(
            ErrorCode::EnvironmentRepeated,
            "the environment is sent once per connection",
        )),
        ClientMsg::Environment(_) if live.accumulated.lock().await.finished => {
            Some(error(ErrorCode::Finished, "this session is finished; nothing more is recorded"))
        }
        ClientMsg::Environment(environment) => {
            *environment_seen = true;
            let text =
                serde_json::to_string(&environment).expect("an environment always serialises");
            state.store.set_environment(session, &text).await?;
            let mut accumulated = live.accumulated.lock().await;
            set_environment(&mut accumulated.evidence, &environment);
            let snapshot = snapshot(&mut accumulated);
            drop(accumulated);
            // Coalesced like every other verdict: a frame never signs one itself.
            schedule_publish(state, live, session, snapshot);
            None
        }
        ClientMsg::Finish => {
            finish(state, live, session).await?;
            Some(ServerMsg::Finished)
        }
        ClientMsg::StartRhythm => start_rhythm(live, rhythm, echoes).await,
        ClientMsg::Tap { at_us } => {
            // Stamped on arrival, before anything else: this is the edge's own measurement.
            let arrived_us = echoes.since_opened_us(crate::clock::monotonic());
            if let Some(schedule) = rhythm.as_mut() {
                schedule.handle_tap(arrived_us, at_us);
            }
            None
        }
        ClientMsg::Measured { token } => measured(state, live, session, &token).await?,
        ClientMsg::Hello { .. } | ClientMsg::Measure { .. } => {
            return Err(Refusal::new(
                ErrorCode::UnexpectedHello,
                "hello was already said on this socket",
            ));
        }
    };
    match reply {
        Some(reply) => send(socket, &reply).await.map_err(|_| Refusal::closed()),
        None => Ok(()),
    }
}

/// Seals the session once: sealed first, so no batch slips in behind the final verdict, and
/// the final verdict is committed before the page hears "finished". A second finish changes
/// nothing.
async fn finish(state: &Arc<State>, live: &Arc<Live>, session: &str) -> Result<(), Refusal> {
    let mut accumulated = live.accumulated.lock().await;
    if accumulated.finished {
        return Ok(());
    }
    accumulated.finished = true;
    let snapshot = snapshot(&mut accumulated);
    drop(accumulated);
    state.store.finish_session(session, crate::clock::now_ms()).await?;
    live.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    publish(state, live, session, snapshot, true).await?;
    Ok(())
}

async fn record_rtt(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    rtt_us: u64,
    page_at_us: Option<i64>,
) -> Result<(), Refusal> {
    state.metrics.observe_rtt(rtt_us);
    let mut accumulated = live.accumulated.lock().await;
    if accumulated.finished || accumulated.evidence.rtt_us.len() >= MAX_RTT_SAMPLES {
        return Ok(());
    }
    // Written in the background, in group commits: the socket loop must not wait for the disk
    // between two echoes. A sample not yet written when the edge dies is measured again.
    state.writer.rtt(RttRow {
        session_id: session.to_owned(),
        rtt_us,
        page_at_us,
        measured_at_ms: crate::clock::now_ms(),
    });
    accumulated.evidence.rtt_us.push(rtt_us);
    accumulated.evidence.rtt_page_at_us.push(page_at_us.unwrap_or(i64::MIN));
    if accumulated.evidence.rtt_us.len() % RESCORE_EVERY_RTT == 0 {
        let snapshot = snapshot(&mut accumulated);
        drop(accumulated);
        // Re-scored in the background: signing and storing a verdict must not hold up echoes.
        schedule_publish(state, live, session, snapshot);
    }
    Ok(())
}

/// Stores a batch once and answers with an ack, or with an error that changes nothing.
async fn evidence(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    seq: u64,
    batch: &BatchV1,
    committed: &tokio::sync::mpsc::UnboundedSender<Committed>,
) -> Result<Option<ServerMsg>, Refusal> {
    let batch = batch.decode().map_err(Refusal::from_wire)?;
    let mut accumulated = live.accumulated.lock().await;
    if seq == 0 {
        return Err(Refusal::new(ErrorCode::BadSeq, "evidence batches count from 1"));
    }
    if seq <= accumulated.last_seq {
        // A resend of a batch already received: change nothing, and acknowledge again once it
        // is committed. If it is still queued, an idempotent write queued behind it says when.
        Metrics::add(&state.metrics.batches_resent);
        if seq <= accumulated.committed_seq {
            return Ok(Some(ServerMsg::Ack { seq }));
        }
        state
            .writer
            .batch(
                session,
                seq,
                serde_json::to_string(&BatchV1::from_batch(&batch))
                    .expect("a batch always serialises"),
                committed.clone(),
            )
            .await?;
        return Ok(None);
    }
    if accumulated.finished {
        return Ok(Some(error(
            ErrorCode::Finished,
            "this session is finished; nothing more is recorded",
        )));
    }
    if crate::clock::now_ms() > accumulated.expires_at_ms {
        return Ok(Some(error(
            ErrorCode::Expired,
            "this session has expired; nothing more is recorded",
        )));
    }
    if seq != accumulated.last_seq + 1 {
        // Closing makes the probe reconnect and resend from its oldest unacknowledged batch.
        return Err(Refusal::new(
            ErrorCode::OutOfOrder,
            format!("expected batch {}, got {seq}", accumulated.last_seq + 1),
        ));
    }
    if accumulated.evidence.strokes.len() + batch.strokes.len() > MAX_STROKES_PER_SESSION
        || accumulated.evidence.pointer.len() + batch.pointer.len() > MAX_POINTER_PER_SESSION
    {
        return Ok(Some(error(ErrorCode::SessionFull,
            format!("a session holds at most {MAX_STROKES_PER_SESSION} key presses and {MAX_POINTER_PER_SESSION} pointer samples"),
        )));
    }
    // Store what was validated, re-encoded, rather than the frame as received.
    let body =
        serde_json::to_string(&BatchV1::from_batch(&batch)).expect("a batch always serialises");
    // Replaced task results count too, so a socket cannot fill the disk with frames that
    // change nothing.
    if accumulated.stored_bytes + body.len() > state.max_session_bytes {
        return Ok(Some(error(
            ErrorCode::SessionFull,
            format!("a session stores at most {} KiB of evidence", state.max_session_bytes >> 10),
        )));
    }
    accumulated.stored_bytes += body.len();
    state.writer.batch(session, seq, body, committed.clone()).await?;
    batch.absorb_into(&mut accumulated.evidence);
    accumulated.last_seq = seq;
    let snapshot = snapshot(&mut accumulated);
    drop(accumulated);
    // The acknowledgement follows the commit; scoring, signing and pushing happen in the
    // background, so the socket (and its echoes) never waits for the verdict.
    schedule_publish(state, live, session, snapshot);
    Ok(None)
}

/// Verifies another edge's signed measurement and adds it to the session; a refusal is an error
/// frame and changes nothing.
async fn measured(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    token: &str,
) -> Result<Option<ServerMsg>, StoreError> {
    let now_s = crate::clock::now_s();
    let Some(row) = state.store.session(session).await? else {
        return Ok(Some(error(ErrorCode::MeasurementRefused, "this session no longer exists")));
    };
    let nonce = secrets::measurement_nonce(&row.candidate_token_sha256);
    let expect = wire::MeasurementExpect { session, nonce: &nonce, now_s };
    let mut refusal = String::from("no configured edge signed this measurement");
    for (peer, location) in &state.peers {
        match wire::verify_measurement(token, &peer.id, &peer.keys, expect) {
            Ok(measurement) => {
                let Some(min_rtt_us) = measurement.rtt_us.iter().min().map(|&rtt| u64::from(rtt))
                else {
                    continue;
                };
                state.store.upsert_measurement(session, &peer.id, min_rtt_us, token).await?;
                let mut accumulated = live.accumulated.lock().await;
                accumulated.evidence.peer_rtts.retain(|rtt| rtt.edge_id != peer.id);
                accumulated.evidence.peer_rtts.push(EdgeRtt {
                    edge_id: peer.id.clone(),
                    location: *location,
                    min_rtt_us,
                });
                let snapshot = snapshot(&mut accumulated);
                drop(accumulated);
                schedule_publish(state, live, session, snapshot);
                return Ok(None);
            }
            // A key this peer does not have: try the next peer.
            Err(wire::MeasurementError::Signature(onsite_core::jws::VerifyError::UnknownKey(
                _,
            ))) => {}
            Err(error) => refusal = error.to_string(),
        }
    }
    Ok(Some(error(ErrorCode::MeasurementRefused, refusal)))
}

fn set_environment(evidence: &mut Evidence, environment: &EnvironmentV1) {
    evidence.environment = Some(environment.to_environment());
    evidence.time_zone = environment.time_zone.clone().filter(|zone| wire::valid_time_zone(zone));
}

fn error(code: ErrorCode, message: impl Into<String>) -> ServerMsg {
    ServerMsg::Error { code, message: message.into() }
}

/// A copy of the evidence to score, with its generation.
fn snapshot(accumulated: &mut Accumulated) -> (Evidence, u64) {
    accumulated.generation += 1;
    (accumulated.evidence.clone(), accumulated.generation)
}

/// Verdicts scheduled in the background are published at most this often per session: scoring,
/// hashing and signing the whole evidence for every batch would cost thousands of signatures a
/// second on a busy edge, and the interviewer's view needs no more than this.
const MIN_VERDICT_GAP: Duration = Duration::from_millis(1000);

/// Publishes `snapshot` soon, in the background: snapshots that arrive meanwhile replace it, and
/// a session publishes at most once per [`MIN_VERDICT_GAP`].
fn schedule_publish(
    state: &Arc<State>,
    live: &Arc<Live>,
    session: &str,
    snapshot: (Evidence, u64),
) {
    let already_scheduled = {
        let mut pending = live.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let scheduled = pending.is_some();
        *pending = Some(snapshot);
        scheduled
    };
    if already_scheduled {
        return;
    }
    let (state, live, session) = (state.clone(), live.clone(), session.to_owned());
    tokio::spawn(async move {
        let last = *live.last_scheduled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cost = *live.last_cost.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let gap = crate::scoring::gap_after(cost, MIN_VERDICT_GAP);
        if let Some(wait) = last.and_then(|at| gap.checked_sub(at.elapsed())) {
            tokio::time::sleep(wait).await;
        }
        *live.last_scheduled.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(crate::clock::monotonic());
        let Some(snapshot) =
            live.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
        else {
            return;
        };
        if let Err(error) = publish(&state, &live, &session, snapshot, false).await {
            tracing::error!(session, %error, "cannot publish a verdict");
        }
    });
}

/// Scores the evidence, signs the verdict, stores it and pushes it to every interviewer; a
/// snapshot older than the last one published is dropped.
async fn publish(
    state: &State,
    live: &Live,
    session: &str,
    (evidence, generation): (Evidence, u64),
    durable: bool,
) -> Result<(), StoreError> {
    let mut published = live.published.lock().await;
    if generation <= *published {
        return Ok(());
    }
    *published = generation;
    // Scored on the pool's threads, never on the async workers that carry everyone's echoes.
    let Some(Scored { verdict, evidence_sha256, took }) = state.scoring.score(evidence).await
    else {
        return Ok(());
    };
    *live.last_cost.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = took;
    let now_s = crate::clock::now_s();
    let claims = Claims {
        iss: state.public_url.clone(),
        sub: session.to_owned(),
        aud: state.audience.clone(),
        iat: now_s,
        exp: now_s + state.token_ttl_s,
        jti: onsite_core::b64::encode(&secrets::random_bytes(12)),
        verdict: verdict.clone(),
        evidence_sha256,
    };
    let token = claims.sign(&state.keyring.current().signer);
    let row = VerdictRow {
        issued_at_s: i64::try_from(now_s).unwrap_or(i64::MAX),
        token: token.clone(),
        verdict_json: serde_json::to_string(&verdict).expect("a verdict always serialises"),
    };
    state.writer.verdict(session, &verdict.class, row, durable).await?;
    Metrics::add(&state.metrics.verdicts_signed);
    // No interviewer listening is fine: the verdict is stored and sent when one connects.
    let _ = live.verdicts.send(ServerMsg::Verdict { token, verdict }.to_text().into());
    Ok(())
}

async fn interviewer(state: &State, socket: &mut WebSocket, session: &str) -> Result<(), Refusal> {
    let live = state.live.get(session);
    let mut verdicts = live.verdicts.subscribe();
    let mut stopping = state.live.stopping();
    if let Some(row) = state.store.latest_verdict(session).await? {
        if let Ok(verdict) = serde_json::from_str::<VerdictV1>(&row.verdict_json) {
            send(socket, &ServerMsg::Verdict { token: row.token, verdict })
                .await
                .map_err(|_| Refusal::closed())?;
        }
    }
    loop {
        tokio::select! {
            _ = stopping.changed() => {
                return Err(Refusal::new(ErrorCode::ShuttingDown, "the edge is restarting; reconnect shortly"));
            }
            pushed = verdicts.recv() => match pushed {
                Ok(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        return Ok(());
                    }
                }
                // A slow reader skips to the newest verdict; the next one brings it up to date.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
            frame = timeout(IDLE_TIMEOUT, socket.recv()) => match frame {
                Err(_) => {
                    // Interviewers only listen; keep the socket open while verdicts can still come.
                }
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return Ok(()),
                Ok(Some(Ok(Message::Text(_)))) | Ok(Some(Ok(Message::Binary(_)))) => {
                    return Err(Refusal::new(ErrorCode::Forbidden, "an interviewer link can only listen, not send evidence"));
                }
                Ok(Some(Ok(_))) => {}
            },
        }
    }
}

/// Probes sent by a measuring edge, this far apart (30 probes in 9 s).
const MEASURE_PROBES: u32 = 30;
const MEASURE_EVERY: Duration = Duration::from_millis(300);
/// A measuring probe not answered within this long is lost.
const MEASURE_LOST_AFTER: Duration = Duration::from_secs(2);

/// The query of a measuring socket's URL: the nonce the session's edge gave the browser.
#[derive(serde::Deserialize)]
pub(crate) struct MeasureQuery {
    #[serde(default)]
    nonce: Option<String>,
}

pub(crate) async fn measure_upgrade(
    Extract(state): Extract<Arc<State>>,
    Query(query): Query<MeasureQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(wire::MAX_FRAME_BYTES).max_frame_size(wire::MAX_FRAME_BYTES).on_upgrade(
        move |mut socket| async move {
            if let Err(refusal) = measure(&state, &mut socket, query.nonce).await {
                let _ = send(
                    &mut socket,
                    &ServerMsg::Error { code: refusal.code, message: refusal.message.clone() },
                )
                .await;
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: refusal.close_code(),
                        reason: refusal.message.into(),
                    })))
                    .await;
            }
        },
    )
}

/// Times round trips to a browser for a session and answers with a signed measurement. This
/// edge knows nothing of the session; the session's edge checks the signature, the session, the
/// nonce it gave the browser and the age.
async fn measure(
    state: &State,
    socket: &mut WebSocket,
    nonce: Option<String>,
) -> Result<(), Refusal> {
    let Some(nonce) = nonce.filter(|nonce| wire::valid_nonce(nonce)) else {
        return Err(Refusal::new(
            ErrorCode::ExpectedNonce,
            "open the echo URL the session's edge gave, with its nonce",
        ));
    };
    let session = match timeout(MEASURE_HELLO_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => match ClientMsg::parse(&text)
            .map_err(Refusal::from_wire)?
        {
            ClientMsg::Measure { session, .. } if !session.is_empty() && session.len() <= 64 => {
                session
            }
            _ => {
                return Err(Refusal::new(
                    ErrorCode::ExpectedMeasure,
                    "the first frame must be a measure request",
                ))
            }
        },
        _ => {
            return Err(Refusal::new(
                ErrorCode::ExpectedMeasure,
                "the first frame must be a measure request",
            ))
        }
    };
    // A slot is taken only now, after a valid request: idle sockets hold none.
    let Ok(_permit) = state.measuring.try_acquire() else {
        return Err(Refusal::new(
            ErrorCode::Busy,
            "this edge is measuring too many browsers; try again shortly",
        ));
    };
    let mut pending: HashMap<u32, Instant> = HashMap::new();
    let mut rtt_us: Vec<u32> = Vec::new();
    let mut lost = 0u32;
    let mut ticker = interval(MEASURE_EVERY);
    let mut sent = 0u32;
    let finish_at =
        crate::clock::monotonic_tokio() + MEASURE_EVERY * MEASURE_PROBES + MEASURE_LOST_AFTER;
    loop {
        tokio::select! {
            _ = ticker.tick(), if sent < MEASURE_PROBES => {
                sent += 1;
                pending.insert(sent, crate::clock::monotonic_tokio());
                socket.send(Message::Binary(wire::echo_frame(sent).to_vec().into())).await.map_err(|_| Refusal::closed())?;
            }
            _ = tokio::time::sleep_until(finish_at) => break,
            frame = socket.recv() => match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    let Some((seq, _)) = wire::parse_echo_reply(&bytes) else {
                        return Err(Refusal::new(ErrorCode::Malformed, "binary frames must be echo replies"));
                    };
                    if let Some(at) = pending.remove(&seq) {
                        rtt_us.push(u32::try_from(at.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    if sent == MEASURE_PROBES && pending.is_empty() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
    lost += u32::try_from(pending.len()).unwrap_or(u32::MAX);
    let iat = crate::clock::now_s();
    let measurement = MeasurementV1 {
        iss: state.edge_id.clone(),
        sub: session,
        aud: wire::MEASUREMENT_AUDIENCE.into(),
        iat,
        exp: iat + wire::MEASUREMENT_TTL_S,
        nonce,
        rtt_us,
        lost,
    };
    let token = state
        .keyring
        .current()
        .signer
        .sign_payload(onsite_core::jws::MEASUREMENT_TYP, &measurement);
    send(socket, &ServerMsg::Measurement { token }).await.map_err(|_| Refusal::closed())?;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal.number(),
            reason: "measured".into(),
        })))
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_timed_counted_lost_and_slowed_in_virtual_time() {
        let opened = crate::clock::monotonic();
        let at = |ms: u64| opened + Duration::from_millis(ms);
        let mut echoes = Echoes::new(opened);
        assert_eq!(echoes.next(at(0)), (1, false));
        assert_eq!(echoes.next(at(250)), (2, false));
        assert_eq!(echoes.reply(1, at(12)), Some((12_000, 6_000)), "12 ms, half-way at 6 ms");
        assert_eq!(echoes.reply(1, at(13)), None, "a second reply to one probe is ignored");
        assert_eq!(echoes.reply(99, at(13)), None, "a probe never sent");
        assert_eq!(echoes.expire(at(5_249)), 0, "probe 2 is not lost yet");
        assert_eq!(echoes.expire(at(5_250)), 1, "unanswered for 5 s: lost");
        assert_eq!(echoes.reply(2, at(5_300)), None, "a reply after it was counted lost");
        let slowed: Vec<bool> = (3..=ECHO_FAST_COUNT).map(|_| echoes.next(at(6_000)).1).collect();
        assert_eq!(slowed.iter().filter(|&&s| s).count(), 1);
        assert_eq!(slowed.last(), Some(&true), "the schedule slows after the fast probes");
        echoes.clear();
        assert_eq!(echoes.expire(at(60_000)), 0, "cleared probes are not counted lost");
    }
}
