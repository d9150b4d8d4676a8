//! The candidate's probe: key and pointer capture plus a socket, sending what was captured in
//! numbered batches and keeping each batch until the edge acknowledges it.

use onsite_core::backoff::Backoff;
use onsite_core::codes::ErrorCode;
use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::{Interval, Timeout};
use onsite_core::estimators::TrackingRun;
use onsite_core::estimators::{FrameTiming, Outcome, Rhythm};
use onsite_core::wire::{
    BatchV1, ClientMsg, EnvironmentV1, FocusV1, FrameTimingV1, PointerV1, RhythmV1, Role, StrokeV1,
    TrackingV1, PROTOCOL_VERSION,
};

use crate::capture::{KeyCapture, KeyRecorder};
use crate::pointer::{PointerCapture, PointerRecorder};
use crate::socket::{EdgeSocket, SocketEvent};
use crate::{page, ProbeError};

/// How often captured evidence is sent (ms).
const FLUSH_EVERY_MS: u32 = 500;
/// The browser's own echo probes: this many, this far apart (10 s).
const CLIENT_ECHOES: u32 = 40;
const CLIENT_ECHO_EVERY_MS: u32 = 250;
/// The most presses and pointer samples in one batch, so a batch stays well under the edge's
/// 64 KiB frame limit (about 100 and 80 bytes each).
const STROKES_PER_BATCH: usize = 200;
const POINTER_PER_BATCH: usize = 300;

/// What the candidate page shows about the probe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeStatus {
    pub connected: bool,
    /// Presses captured so far.
    pub keystrokes: u32,
    /// Pointer samples captured so far.
    pub pointer_samples: u32,
    /// Batches the edge has acknowledged.
    pub acked_batches: u64,
    /// Batches sent and not yet acknowledged.
    pub unacked_batches: usize,
    /// Times the connection was lost and made again.
    pub reconnects: u32,
    /// The step of the page's clock seen in key events (µs), once there are enough of them.
    pub timer_resolution_us: Option<u32>,
    pub finished: bool,
    /// A sentence for the candidate when something went wrong.
    pub problem: Option<String>,
}

/// Where the probe sends evidence, and with which capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The edge's WebSocket URL, such as `wss://onsite.example/api/v1/ws`.
    pub socket_url: String,
    pub session: String,
    pub token: String,
}

impl ProbeConfig {
    /// A configuration for the edge that served this page.
    pub fn same_origin(session: &str, token: &str) -> Result<ProbeConfig, ProbeError> {
        Ok(ProbeConfig {
            socket_url: page::socket_url()?,
            session: session.to_owned(),
            token: token.to_owned(),
        })
    }
}

struct Shared {
    keys: Rc<RefCell<KeyRecorder>>,
    pointer: Rc<RefCell<PointerRecorder>>,
    socket: Option<EdgeSocket>,
    next_seq: u64,
    /// Sent batches not yet acknowledged, as sent.
    unacked: Vec<(u64, ClientMsg)>,
    status: ProbeStatus,
    finish_requested: bool,
    finish_sent: bool,
    /// Challenge results waiting for the next batch.
    challenge: Option<(Option<RhythmV1>, Option<TrackingV1>, Option<FrameTimingV1>)>,
    /// Sockets to measuring edges, while they measure.
    measuring: Vec<EdgeSocket>,
    session: String,
    on_status: Rc<dyn Fn(ProbeStatus)>,
    config: ProbeConfig,
    /// The last refusal's code, to tell a lost connection from a wrong link.
    last_refusal: Option<ErrorCode>,
    /// Where beats of the rhythm task the edge runs go, while it runs.
    on_beat: Option<Rc<dyn Fn(u32, u32)>>,
    /// The pending reconnect and how long the next one waits.
    reconnect: Option<Timeout>,
    backoff: Backoff,
}

/// A running candidate probe; dropping it stops capture and closes the socket.
pub struct CandidateProbe {
    shared: Rc<RefCell<Shared>>,
    captures: Vec<(KeyCapture, PointerCapture)>,
    _flush: Interval,
    _client_echo: Interval,
}

impl CandidateProbe {
    /// Connects to the edge; call [`CandidateProbe::attach`] to start capturing.
    pub fn start(
        config: &ProbeConfig,
        on_status: impl Fn(ProbeStatus) + 'static,
    ) -> Result<CandidateProbe, ProbeError> {
        let shared = Rc::new(RefCell::new(Shared {
            keys: Rc::default(),
            pointer: Rc::default(),
            socket: None,
            next_seq: 1,
            unacked: Vec::new(),
            status: ProbeStatus::default(),
            finish_requested: false,
            finish_sent: false,
            challenge: None,
            measuring: Vec::new(),
            session: config.session.clone(),
            on_status: Rc::new(on_status),
            config: config.clone(),
            last_refusal: None,
            on_beat: None,
            reconnect: None,
            backoff: Backoff::reconnect(),
        }));
        let socket = open_socket(&shared, config)?;
        shared.borrow_mut().socket = Some(socket);
        let weak = Rc::downgrade(&shared);
        let flush = Interval::new(FLUSH_EVERY_MS, move || {
            if let Some(shared) = weak.upgrade() {
                flush_batch(&shared);
            }
        });
        let weak = Rc::downgrade(&shared);
        let mut sent = 0u32;
        let client_echo = Interval::new(CLIENT_ECHO_EVERY_MS, move || {
            if let Some(shared) = weak.upgrade() {
                let shared = shared.borrow();
                if let (Some(socket), false) = (&shared.socket, shared.finish_requested) {
                    if sent < CLIENT_ECHOES && socket.is_open() {
                        sent += 1;
                        socket.send_client_echo();
                    }
                }
            }
        });
        Ok(CandidateProbe {
            shared,
            captures: Vec::new(),
            _flush: flush,
            _client_echo: client_echo,
        })
    }

    /// Captures key and pointer timings on `target` (an element, or the whole document) until
    /// the probe is dropped.
    pub fn attach(&mut self, target: &web_sys::EventTarget) {
        let (keys, pointer) = {
            let shared = self.shared.borrow();
            (shared.keys.clone(), shared.pointer.clone())
        };
        self.captures
            .push((KeyCapture::attach(target, keys), PointerCapture::attach(target, pointer)));
    }

    /// Asks the edge to run the rhythm task: it sends each beat when it falls due, and
    /// `on_beat(n, of)` is called as each arrives. Returns whether the request went out (the
    /// socket may be reconnecting); the task then runs on the page's own schedule.
    pub fn start_rhythm(&self, on_beat: impl Fn(u32, u32) + 'static) -> bool {
        let mut s = self.shared.borrow_mut();
        let sent =
            s.socket.as_ref().is_some_and(|socket| socket.send(&ClientMsg::StartRhythm).is_ok());
        if sent {
            s.on_beat = Some(Rc::new(on_beat));
        }
        sent
    }

    /// Stops passing beats on: the rhythm task ended.
    pub fn end_rhythm(&self) {
        self.shared.borrow_mut().on_beat = None;
    }

    /// Sends a tap of the rhythm task now, in a frame of its own, with the page's time for it
    /// (µs): the edge times its arrival itself.
    pub fn tap(&self, at_us: i64) {
        if let Some(socket) = &self.shared.borrow().socket {
            let _ = socket.send(&ClientMsg::Tap { at_us });
        }
    }

    /// Sends a challenge's result with the next batch.
    pub fn submit_rhythm(&self, outcome: &Outcome<Rhythm>, frames: Option<FrameTiming>) {
        self.queue(Some(RhythmV1::from_outcome(outcome)), None, frames);
    }

    /// Sends the tracking task's result with the next batch.
    pub fn submit_tracking(&self, outcome: &Outcome<TrackingRun>, frames: Option<FrameTiming>) {
        self.queue(None, Some(TrackingV1::from_outcome(outcome)), frames);
    }

    fn queue(
        &self,
        rhythm: Option<RhythmV1>,
        tracking: Option<TrackingV1>,
        frames: Option<FrameTiming>,
    ) {
        let frames = frames.map(|f| FrameTimingV1 {
            frame_interval_us: f.frame_interval_us,
            input_delay_us: f.input_delay_us,
        });
        let mut s = self.shared.borrow_mut();
        let (r, t, f) = s.challenge.get_or_insert((None, None, None));
        *r = rhythm.or(r.take());
        *t = tracking.or(t.take());
        *f = frames.or(f.take());
        drop(s);
        flush_batch(&self.shared);
    }

    /// Sends what is left and tells the edge the task is done.
    ///
    /// What was captured until now goes first; anything captured afterwards (the pointer still
    /// moving on the thank-you page) is discarded, since the edge seals the session at `finish`.
    pub fn finish(&self) {
        flush_batch(&self.shared);
        self.shared.borrow_mut().finish_requested = true;
        flush_batch(&self.shared);
    }

    /// The current status.
    pub fn status(&self) -> ProbeStatus {
        self.shared.borrow().status.clone()
    }
}

/// Opens the socket to the session's edge, with its events routed to `handle`.
fn open_socket(
    shared: &Rc<RefCell<Shared>>,
    config: &ProbeConfig,
) -> Result<EdgeSocket, ProbeError> {
    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        role: Role::Candidate,
        session: config.session.clone(),
        token: config.token.clone(),
    };
    let weak = Rc::downgrade(shared);
    EdgeSocket::connect(&config.socket_url, hello, move |event| {
        if let Some(shared) = weak.upgrade() {
            handle(&shared, event);
        }
    })
}

/// Connects again after a wait that doubles with each failure; unacknowledged batches are
/// resent once the edge says welcome.
fn schedule_reconnect(shared: &Rc<RefCell<Shared>>) {
    let mut s = shared.borrow_mut();
    if s.reconnect.is_some() {
        return;
    }
    let wait_ms = s.backoff.next_wait_ms();
    let weak = Rc::downgrade(shared);
    s.reconnect = Some(Timeout::new(wait_ms, move || {
        let Some(shared) = weak.upgrade() else { return };
        let config = {
            let mut s = shared.borrow_mut();
            s.reconnect = None;
            s.config.clone()
        };
        match open_socket(&shared, &config) {
            Ok(socket) => {
                let mut s = shared.borrow_mut();
                s.socket = Some(socket);
                s.status.reconnects += 1;
            }
            Err(_) => schedule_reconnect(&shared),
        }
    }));
}

/// Lets each measuring edge time this browser; each signed measurement goes to the session's edge.
fn measure(shared: &Rc<RefCell<Shared>>, edges: Vec<(String, String)>) {
    let session = shared.borrow().session.clone();
    for (_, url) in edges {
        let weak = Rc::downgrade(shared);
        let hello = ClientMsg::Measure { v: PROTOCOL_VERSION, session: session.clone() };
        let opened = EdgeSocket::connect(&url, hello, move |event| {
            if let (SocketEvent::Measurement { token }, Some(shared)) = (event, weak.upgrade()) {
                if let Some(socket) = &shared.borrow().socket {
                    let _ = socket.send(&ClientMsg::Measured { token });
                }
            }
        });
        // An edge that cannot be reached is simply not measured.
        if let Ok(socket) = opened {
            shared.borrow_mut().measuring.push(socket);
        }
    }
}

fn handle(shared: &Rc<RefCell<Shared>>, event: SocketEvent) {
    if let SocketEvent::Beat { n, of } = event {
        // Drawn as it arrives, with no borrow held while the task runs its callback.
        let on_beat = shared.borrow().on_beat.clone();
        if let Some(on_beat) = on_beat {
            on_beat(n, of);
        }
        return;
    }
    if let SocketEvent::Welcome { edges } = &event {
        if !edges.is_empty() && shared.borrow().measuring.is_empty() {
            measure(shared, edges.clone());
        }
    }
    {
        let mut s = shared.borrow_mut();
        match event {
            SocketEvent::Welcome { .. } => {
                s.status.connected = true;
                s.status.problem = None;
                s.last_refusal = None;
                s.backoff.reset();
                if let Some(socket) = &s.socket {
                    let environment = EnvironmentV1 {
                        time_zone: page::time_zone(),
                        ..EnvironmentV1::from_environment(&page::environment())
                    };
                    let _ = socket.send(&ClientMsg::Environment(environment));
                    // Everything not yet acknowledged goes again, in order: the edge stores
                    // each batch number once and acknowledges a resend without change.
                    for (_, batch) in &s.unacked {
                        let _ = socket.send(batch);
                    }
                }
                // A finish sent on a lost socket may never have arrived.
                if !s.status.finished {
                    s.finish_sent = false;
                }
            }
            SocketEvent::Measurement { .. } => {}
            SocketEvent::Ack(seq) => {
                // The edge stores batches in order, so an ack covers every earlier batch too.
                s.unacked.retain(|(sent, _)| *sent > seq);
                s.status.acked_batches = s.status.acked_batches.max(seq);
            }
            SocketEvent::Finished => s.status.finished = true,
            // The edge sealed the session: after our own finish that is success, not a problem
            // (a reconnect after `finish` gets this answer to its environment).
            SocketEvent::Error { code: ErrorCode::Finished, .. } if s.finish_requested => {
                s.status.finished = true;
            }
            SocketEvent::Error { code, message } => {
                s.status.problem = Some(message);
                s.last_refusal = Some(code);
            }
            SocketEvent::Closed { code, reason } => {
                s.status.connected = false;
                // A refusal that a reconnect cannot cure: the link itself is wrong or spent.
                let permanent = s.last_refusal.is_some_and(ErrorCode::is_permanent);
                if permanent && !s.status.finished {
                    s.status.problem = Some(if reason.is_empty() {
                        format!("the server refused this link (code {code}); ask for a new link")
                    } else {
                        format!("{reason}; ask for a new link")
                    });
                } else if !s.status.finished {
                    s.status.problem =
                        Some("the connection to the server was lost; reconnecting…".into());
                    drop(s);
                    schedule_reconnect(shared);
                    flush_batch(shared);
                    return;
                }
            }
            SocketEvent::Verdict { .. } | SocketEvent::Beat { .. } => {}
        }
    }
    flush_batch(shared);
}

/// Sends what was captured as new batches, and sends `finish` once everything is acknowledged.
///
/// Once the candidate has asked to finish, whatever is captured is discarded unsent: the edge
/// seals the session at `finish`, and the pointer moving over the thank-you page is not evidence.
fn flush_batch(shared: &Rc<RefCell<Shared>>) {
    let mut s = shared.borrow_mut();
    let strokes = s.keys.borrow_mut().take();
    let (samples, changes) = s.pointer.borrow_mut().take();
    let client_rtt_us = s.socket.as_ref().map(EdgeSocket::take_client_rtts).unwrap_or_default();
    if !s.finish_requested {
        let (total, timer_resolution_us) = {
            let keys = s.keys.borrow();
            (keys.total(), keys.timer_resolution_us())
        };
        s.status.keystrokes = total;
        s.status.timer_resolution_us = timer_resolution_us;
        s.status.pointer_samples = s
            .status
            .pointer_samples
            .saturating_add(u32::try_from(samples.len()).unwrap_or(u32::MAX));
        let captured = Captured {
            strokes: strokes.iter().map(StrokeV1::from_stroke).collect(),
            pointer: samples.iter().map(PointerV1::from_sample).collect(),
            // Focus changes are few (a batch allows 64); more in half a second would be a bug
            // upstream.
            focus: changes
                .iter()
                .take(onsite_core::wire::MAX_FOCUS_PER_BATCH)
                .map(FocusV1::from_change)
                .collect(),
            client_rtt_us,
            timer_resolution_us,
        };
        send_batches(&mut s, captured);
    }
    if s.finish_requested && s.unacked.is_empty() && !s.finish_sent {
        let sent = s.socket.as_ref().is_some_and(|socket| socket.send(&ClientMsg::Finish).is_ok());
        s.finish_sent = sent;
    }
    s.status.unacked_batches = s.unacked.len();
    let status = s.status.clone();
    let on_status = s.on_status.clone();
    drop(s);
    on_status(status);
}

/// What the recorders held at one flush, in wire form.
struct Captured {
    strokes: Vec<StrokeV1>,
    pointer: Vec<PointerV1>,
    focus: Vec<FocusV1>,
    client_rtt_us: Vec<u32>,
    timer_resolution_us: Option<u32>,
}

/// Splits what was captured, and any challenge result waiting, into batches within the wire's
/// limits, sends them and keeps them until they are acknowledged.
fn send_batches(s: &mut Shared, captured: Captured) {
    let Captured { strokes, pointer, focus, mut client_rtt_us, timer_resolution_us } = captured;
    let mut strokes = strokes.into_iter().peekable();
    let mut samples = pointer.into_iter().peekable();
    let mut changes = focus;
    let mut challenge = s.challenge.take();
    while strokes.peek().is_some()
        || samples.peek().is_some()
        || !changes.is_empty()
        || challenge.is_some()
        || !client_rtt_us.is_empty()
    {
        let (rhythm, tracking, frames) = challenge.take().unwrap_or((None, None, None));
        let seq = s.next_seq;
        s.next_seq += 1;
        let batch = ClientMsg::Evidence(BatchV1 {
            seq,
            strokes: strokes.by_ref().take(STROKES_PER_BATCH).collect(),
            pointer: samples.by_ref().take(POINTER_PER_BATCH).collect(),
            focus: std::mem::take(&mut changes),
            rhythm,
            tracking,
            frames,
            client_rtt_us: std::mem::take(&mut client_rtt_us),
            timer_resolution_us,
        });
        if let Some(socket) = &s.socket {
            let _ = socket.send(&batch);
        }
        s.unacked.push((seq, batch));
    }
}
