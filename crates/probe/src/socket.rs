//! The WebSocket to the edge: says hello, answers echo probes at once, and turns text frames into
//! events for the caller.

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
    /// The edge refused something; the sentence is meant for people.
    Error { code: String, message: String },
    /// The socket closed.
    Closed { code: u16, reason: String },
}

type Handler = Rc<dyn Fn(SocketEvent)>;

/// An open socket to the edge; dropping it closes the socket.
pub struct EdgeSocket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl EdgeSocket {
    /// Opens a socket to `url`, sends `hello` once it is open, and reports events to `on_event`.
    pub fn connect(url: &str, hello: ClientMsg, on_event: impl Fn(SocketEvent) + 'static) -> Result<EdgeSocket, ProbeError> {
        let socket = WebSocket::new(url).map_err(|e| ProbeError::Connect { url: url.to_owned(), why: describe(&e) })?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let on_event: Handler = Rc::new(on_event);

        let opened = socket.clone();
        let hello_text = hello.to_text();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let _ = opened.send_with_str(&hello_text);
        });

        let echo = socket.clone();
        let handler = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                // Echo probes go straight back, before anything else runs: the edge times them.
                let bytes = js_sys::Uint8Array::new(buffer).to_vec();
                if wire::parse_echo(&bytes).is_some() {
                    let _ = echo.send_with_u8_array(&bytes);
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
        Ok(EdgeSocket { socket, _on_open: on_open, _on_message: on_message, _on_close: on_close })
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

/// Reads a server frame with the browser's own `JSON.parse`.
///
/// The probe needs only the message type and a few plain fields; serde's number parsing would
/// bring float formatting (about 16 KB) into the probe's wasm. Verdicts are handed on whole.
fn classify(text: String) -> SocketEvent {
    let bad = |message: &str| SocketEvent::Error { code: "bad_frame".into(), message: message.into() };
    let Ok(value) = js_sys::JSON::parse(&text) else { return bad("the server sent a frame that is not JSON") };
    let field = |name: &str| js_sys::Reflect::get(&value, &JsValue::from_str(name)).ok();
    let text_field = |name: &str| field(name).and_then(|v| v.as_string()).unwrap_or_default();
    match text_field("t").as_str() {
        "welcome" => {
            let edges = field("edges")
                .filter(|v| js_sys::Array::is_array(v))
                .map(|v| js_sys::Array::from(&v).iter().collect::<Vec<_>>())
                .unwrap_or_default()
                .iter()
                .filter_map(|edge| {
                    let get = |name: &str| js_sys::Reflect::get(edge, &JsValue::from_str(name)).ok()?.as_string();
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
        "error" => SocketEvent::Error { code: text_field("code"), message: text_field("message") },
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
