//! The WebSocket to the edge: says hello, answers echo probes at once, and turns text frames into
//! events for the caller.

use onsite_core::codes::ErrorCode;
use std::rc::Rc;

use onsite_core::wire::{self, ClientMsg};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::{describe, ProbeError};

/// Something that happened on the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// The edge accepted the hello, and named other edges that should time this browser.
    Welcome { edges: Vec<(String, String)> },
    /// A measuring edge's signed measurement, to pass on.
    Measurement { token: String },
    /// The edge stored evidence batch `seq`.
    Ack(u64),
    /// A new signed verdict: the whole frame, for `ServerMsg::parse` (interviewer pages only).
    Verdict { frame: String },
    /// The edge has the candidate's last evidence.
    Finished,
    /// Beat `n` of `of` of the rhythm task the edge runs is due now.
    Beat { n: u32, of: u32 },
    /// The edge refused something; the sentence is meant for people. A code this version does
    /// not know reads as [`ErrorCode::BadFrame`].
    Error { code: ErrorCode, message: String },
    /// The socket closed.
    Closed { code: u16, reason: String },
}

type Handler = Rc<dyn Fn(SocketEvent)>;

/// The browser's own echo probes in flight and the round trips they gave.
#[derive(Default)]
struct ClientEcho {
    sent_at_ms: std::collections::HashMap<u32, f64>,
    next_seq: u32,
    rtt_us: Vec<u32>,
}

/// An open socket to the edge; dropping it closes the socket.
pub struct EdgeSocket {
    socket: WebSocket,
    client_echo: Rc<std::cell::RefCell<ClientEcho>>,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl EdgeSocket {
    /// Opens a socket to `url`, sends `hello` once it is open, and reports events to `on_event`.
    pub fn connect(
        url: &str,
        hello: ClientMsg,
        on_event: impl Fn(SocketEvent) + 'static,
    ) -> Result<EdgeSocket, ProbeError> {
        let socket = WebSocket::new(url)
            .map_err(|e| ProbeError::Connect { url: url.to_owned(), why: describe(&e) })?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let on_event: Handler = Rc::new(on_event);

        let opened = socket.clone();
        let hello_text = hello.to_text();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let _ = opened.send_with_str(&hello_text);
        });

        let echo = socket.clone();
        let handler = on_event.clone();
        let client_echo: Rc<std::cell::RefCell<ClientEcho>> = Rc::default();
        let answered = client_echo.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                let now_ms = now_ms();
                let bytes = js_sys::Uint8Array::new(buffer).to_vec();
                // Echo probes go straight back, before anything else runs: the edge times them.
                // The reply carries the page's clock, for the edge's NTP-style offset estimate.
                if let Some(seq) = wire::parse_echo(&bytes) {
                    let _ = echo.send_with_u8_array(&wire::echo_reply(
                        seq,
                        (now_ms * 1000.0).round() as i64,
                    ));
                } else if wire::is_client_echo(&bytes) {
                    let seq = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
                    let mut answered = answered.borrow_mut();
                    if let Some(sent) = answered.sent_at_ms.remove(&seq) {
                        answered.rtt_us.push(((now_ms - sent) * 1000.0).round().max(0.0) as u32);
                    }
                }
                return;
            }
            let Some(text) = data.as_string() else { return };
            handler(classify(text));
        });

        let handler = on_event;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            handler(SocketEvent::Closed { code: event.code(), reason: event.reason() });
        });

        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(EdgeSocket {
            socket,
            client_echo,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one of the browser's own echo probes; the edge returns it at once.
    pub fn send_client_echo(&self) {
        if !self.is_open() {
            return;
        }
        let mut echo = self.client_echo.borrow_mut();
        echo.next_seq = echo.next_seq.wrapping_add(1);
        let seq = echo.next_seq;
        // Probes unanswered for long are dropped rather than kept forever.
        echo.sent_at_ms.retain(|&sent, _| seq.wrapping_sub(sent) < 64);
        echo.sent_at_ms.insert(seq, now_ms());
        let mut frame = wire::echo_frame(seq);
        frame[0] = wire::CLIENT_ECHO_TAG;
        let _ = self.socket.send_with_u8_array(&frame);
    }

    /// Takes the round trips the browser timed itself since the last call (µs).
    pub fn take_client_rtts(&self) -> Vec<u32> {
        std::mem::take(&mut self.client_echo.borrow_mut().rtt_us)
    }

    /// Sends a message; fails if the socket is not open.
    pub fn send(&self, msg: &ClientMsg) -> Result<(), ProbeError> {
        if self.socket.ready_state() != WebSocket::OPEN {
            return Err(ProbeError::NotOpen);
        }
        self.socket.send_with_str(&msg.to_text()).map_err(|_| ProbeError::NotOpen)
    }

    /// Whether the socket is open.
    pub fn is_open(&self) -> bool {
        self.socket.ready_state() == WebSocket::OPEN
    }
}

/// The page's monotonic clock (ms).
fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Reads a server frame with the browser's own `JSON.parse`.
///
/// The probe needs only the message type and a few plain fields; serde's number parsing would
/// bring float formatting (about 16 KB) into the probe's wasm. Verdicts are handed on whole.
fn classify(text: String) -> SocketEvent {
    let bad =
        |message: &str| SocketEvent::Error { code: ErrorCode::BadFrame, message: message.into() };
    let Ok(value) = js_sys::JSON::parse(&text) else {
        return bad("the server sent a frame that is not JSON");
    };
    let field = |name: &str| js_sys::Reflect::get(&value, &JsValue::from_str(name)).ok();
    let text_field = |name: &str| field(name).and_then(|v| v.as_string()).unwrap_or_default();
    match text_field("t").as_str() {
        "welcome" => {
            let edges = field("edges")
                .filter(js_sys::Array::is_array)
                .map(|v| js_sys::Array::from(&v).iter().collect::<Vec<_>>())
                .unwrap_or_default()
                .iter()
                .filter_map(|edge| {
                    let get = |name: &str| {
                        js_sys::Reflect::get(edge, &JsValue::from_str(name)).ok()?.as_string()
                    };
                    Some((get("id")?, get("url")?))
                })
                .collect();
            SocketEvent::Welcome { edges }
        }
        "measurement" => SocketEvent::Measurement { token: text_field("token") },
        // Batch numbers stay far below 2^53, so the double is exact.
        "ack" => match field("seq").and_then(|v| v.as_f64()) {
            Some(seq) if seq >= 0.0 && seq.fract() == 0.0 => SocketEvent::Ack(seq as u64),
            _ => bad("the server sent an acknowledgement without a batch number"),
        },
        "finished" => SocketEvent::Finished,
        "beat" => {
            let count = |name: &str| {
                field(name).and_then(|v| v.as_f64()).filter(|v| *v >= 0.0 && v.fract() == 0.0)
            };
            match (count("n"), count("of")) {
                // Beat numbers are tens at most, so the doubles are exact.
                (Some(n), Some(of)) if n < of && of <= 1000.0 => {
                    SocketEvent::Beat { n: n as u32, of: of as u32 }
                }
                _ => bad("the server sent a beat without its number"),
            }
        }
        "error" => SocketEvent::Error {
            code: ErrorCode::parse(&text_field("code")).unwrap_or(ErrorCode::BadFrame),
            message: text_field("message"),
        },
        "verdict" => SocketEvent::Verdict { frame: text },
        _ => bad("the server sent a message of an unknown type"),
    }
}

impl Drop for EdgeSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
