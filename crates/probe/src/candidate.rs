//! The candidate's probe: key capture plus a socket, sending completed presses in numbered
//! batches and keeping each batch until the edge acknowledges it.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use onsite_core::wire::{ClientMsg, EnvironmentV1, Role, StrokeV1, PROTOCOL_VERSION};

use crate::keys::{KeyCapture, KeyRecorder};
use crate::socket::{EdgeSocket, SocketEvent};
use crate::{page, ProbeError};

/// How often completed presses are sent (ms).
const FLUSH_EVERY_MS: u32 = 500;

/// What the candidate page shows about the probe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeStatus {
    pub connected: bool,
    /// Presses captured so far.
    pub keystrokes: u32,
    /// Batches the edge has acknowledged.
    pub acked_batches: u64,
    /// Batches sent and not yet acknowledged.
    pub unacked_batches: usize,
    pub finished: bool,
    /// A sentence for the candidate when something went wrong.
    pub problem: Option<String>,
}

struct Shared {
    recorder: Rc<RefCell<KeyRecorder>>,
    socket: Option<EdgeSocket>,
    next_seq: u64,
    unacked: Vec<(u64, Vec<StrokeV1>)>,
    status: ProbeStatus,
    finish_requested: bool,
    finish_sent: bool,
    on_status: Rc<dyn Fn(ProbeStatus)>,
}

/// A running candidate probe; dropping it stops capture and closes the socket.
pub struct CandidateProbe {
    shared: Rc<RefCell<Shared>>,
    _capture: KeyCapture,
    _flush: Interval,
}

impl CandidateProbe {
    /// Connects to the edge that served the page and starts capturing key timings on the document.
    pub fn start(session: &str, token: &str, on_status: impl Fn(ProbeStatus) + 'static) -> Result<CandidateProbe, ProbeError> {
        let recorder = Rc::new(RefCell::new(KeyRecorder::default()));
        let shared = Rc::new(RefCell::new(Shared {
            recorder: recorder.clone(),
            socket: None,
            next_seq: 1,
            unacked: Vec::new(),
            status: ProbeStatus::default(),
            finish_requested: false,
            finish_sent: false,
            on_status: Rc::new(on_status),
        }));
        let hello = ClientMsg::Hello { v: PROTOCOL_VERSION, role: Role::Candidate, session: session.to_owned(), token: token.to_owned() };
        let weak = Rc::downgrade(&shared);
        let socket = EdgeSocket::connect(&page::socket_url()?, hello, move |event| {
            if let Some(shared) = weak.upgrade() {
                handle(&shared, event);
            }
        })?;
        shared.borrow_mut().socket = Some(socket);
        let capture = KeyCapture::attach(&page::document_target()?, recorder);
        let weak = Rc::downgrade(&shared);
        let flush = Interval::new(FLUSH_EVERY_MS, move || {
            if let Some(shared) = weak.upgrade() {
                flush_batch(&shared);
            }
        });
        Ok(CandidateProbe { shared, _capture: capture, _flush: flush })
    }

    /// Sends what is left and tells the edge the task is done.
    pub fn finish(&self) {
        self.shared.borrow_mut().finish_requested = true;
        flush_batch(&self.shared);
    }

    /// The current status.
    pub fn status(&self) -> ProbeStatus {
        self.shared.borrow().status.clone()
    }
}

fn handle(shared: &Rc<RefCell<Shared>>, event: SocketEvent) {
    {
        let mut s = shared.borrow_mut();
        match event {
            SocketEvent::Welcome => {
                s.status.connected = true;
                s.status.problem = None;
                if let Some(socket) = &s.socket {
                    let environment = EnvironmentV1::from_environment(&page::environment());
                    let _ = socket.send(&ClientMsg::Environment(environment));
                }
            }
            SocketEvent::Ack(seq) => {
                s.unacked.retain(|(sent, _)| *sent != seq);
                s.status.acked_batches = s.status.acked_batches.max(seq);
            }
            SocketEvent::Finished => s.status.finished = true,
            SocketEvent::Error { message, .. } => s.status.problem = Some(message),
            SocketEvent::Closed { code, reason } => {
                s.status.connected = false;
                if !s.status.finished {
                    s.status.problem = Some(if reason.is_empty() {
                        format!("the connection to the server closed (code {code}); reload the page to continue")
                    } else {
                        reason
                    });
                }
            }
            SocketEvent::Verdict { .. } => {}
        }
    }
    flush_batch(shared);
}

/// Sends completed presses as a new batch, resends unacknowledged batches after a welcome, and
/// sends `finish` once everything is acknowledged.
fn flush_batch(shared: &Rc<RefCell<Shared>>) {
    let mut s = shared.borrow_mut();
    let strokes: Vec<StrokeV1> = s.recorder.borrow_mut().take().iter().map(StrokeV1::from_stroke).collect();
    let total = s.recorder.borrow().total();
    s.status.keystrokes = total;
    if !strokes.is_empty() {
        let seq = s.next_seq;
        s.next_seq += 1;
        if let Some(socket) = &s.socket {
            let _ = socket.send(&ClientMsg::Evidence { seq, strokes: strokes.clone() });
        }
        s.unacked.push((seq, strokes));
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
