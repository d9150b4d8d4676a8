//! Pointer and focus capture: where and when the pointer moved, how many raw samples each event
//! merged, and when the page lost focus or visibility.

use std::cell::RefCell;
use std::rc::Rc;

use onsite_core::evidence::{FocusChange, FocusKind, PointerDevice, PointerKind, PointerSample};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{EventTarget, PointerEvent};

use crate::capture::to_us;
use crate::listen::Listeners;

/// Pointer samples and focus changes since the last batch.
#[derive(Debug, Default)]
pub struct PointerRecorder {
    samples: Vec<PointerSample>,
    focus: Vec<FocusChange>,
}

impl PointerRecorder {
    /// Records one pointer event.
    pub fn record(&mut self, sample: PointerSample) {
        self.samples.push(sample);
    }

    /// Records a focus or visibility change.
    pub fn focus(&mut self, at_ms: f64, kind: FocusKind) {
        self.focus.push(FocusChange { at_us: to_us(at_ms), kind });
    }

    /// Takes what was recorded since the last call.
    pub fn take(&mut self) -> (Vec<PointerSample>, Vec<FocusChange>) {
        (std::mem::take(&mut self.samples), std::mem::take(&mut self.focus))
    }
}

fn number(event: &PointerEvent, name: &str) -> f64 {
    // Pointer events carry fractional coordinates; web-sys exposes only the integer ones. A
    // hundredth of a pixel is finer than any pointer and keeps the wire text short.
    let value = js_sys::Reflect::get(event, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    (value * 100.0).round() / 100.0
}

fn device(pointer_type: &str) -> PointerDevice {
    match pointer_type {
        "mouse" => PointerDevice::Mouse,
        "pen" => PointerDevice::Pen,
        "touch" => PointerDevice::Touch,
        _ => PointerDevice::Other,
    }
}

/// `PointerEvent.getCoalescedEvents`, when this browser has it (Safari before 18 and some
/// embedded engines do not), as a function to call.
fn coalesced_events_function(event: &PointerEvent) -> Option<js_sys::Function> {
    js_sys::Reflect::get(event, &JsValue::from_str("getCoalescedEvents"))
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
}

/// The raw samples one pointer event carries: a move event merges the raw samples of one frame,
/// each with its own time; without `getCoalescedEvents` (missing, throwing or empty) the event
/// is its own only sample.
fn read_samples(event: &PointerEvent, kind: PointerKind) -> Vec<PointerSample> {
    let trusted = event.is_trusted();
    let sample = |raw: &PointerEvent, merged: u16| PointerSample {
        at_us: to_us(raw.time_stamp()),
        kind,
        x_px: number(raw, "clientX"),
        y_px: number(raw, "clientY"),
        coalesced: merged,
        device: device(&raw.pointer_type()),
        trusted,
    };
    let raw: Vec<PointerEvent> = if kind == PointerKind::Move {
        coalesced_events_function(event)
            .and_then(|function| function.call0(event).ok())
            .and_then(|list| list.dyn_into::<js_sys::Array>().ok())
            .map(|list| {
                list.iter().filter_map(|item| item.dyn_into::<PointerEvent>().ok()).collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if raw.is_empty() {
        return vec![sample(event, 1)];
    }
    let merged = u16::try_from(raw.len()).unwrap_or(u16::MAX);
    raw.iter().map(|item| sample(item, merged)).collect()
}

/// Pointer listeners on a target plus focus and visibility listeners on the page.
pub struct PointerCapture {
    _target: Listeners,
    _window: Option<Listeners>,
    _document: Option<Listeners>,
}

impl PointerCapture {
    /// Listens for pointer events on `target` and focus changes on the window and document.
    pub fn attach(target: &EventTarget, recorder: Rc<RefCell<PointerRecorder>>) -> PointerCapture {
        let mut listeners = Listeners::new(target);
        for (name, kind) in [
            ("pointermove", PointerKind::Move),
            ("pointerdown", PointerKind::Down),
            ("pointerup", PointerKind::Up),
        ] {
            let recorder = recorder.clone();
            listeners.add(
                name,
                Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                    let Some(event) = event.dyn_ref::<PointerEvent>() else { return };
                    // Everything is read from the page first; the recorder is borrowed only to
                    // store the result, so an exception thrown by the page can never leave it
                    // borrowed.
                    let samples = read_samples(event, kind);
                    recorder.borrow_mut().samples.extend(samples);
                }),
            );
        }
        let window = web_sys::window();
        let document = window.as_ref().and_then(|w| w.document());
        let window_listeners = window.map(|window| {
            let mut listeners = Listeners::new(&window);
            for (name, kind) in [("focus", FocusKind::Focus), ("blur", FocusKind::Blur)] {
                let recorder = recorder.clone();
                listeners.add(
                    name,
                    Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                        // Focus events of elements inside the page bubble here in the capture
                        // phase; only the window's own count.
                        if event.target().is_some_and(|t| t.dyn_ref::<web_sys::Window>().is_some())
                        {
                            let at_ms = event.time_stamp();
                            recorder.borrow_mut().focus(at_ms, kind);
                        }
                    }),
                );
            }
            listeners
        });
        let document_listeners = document.map(|document| {
            let mut listeners = Listeners::new(&document);
            let page = document.clone();
            listeners.add(
                "visibilitychange",
                Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                    let kind = match page.visibility_state() {
                        web_sys::VisibilityState::Hidden => FocusKind::Hidden,
                        _ => FocusKind::Visible,
                    };
                    let at_ms = event.time_stamp();
                    recorder.borrow_mut().focus(at_ms, kind);
                }),
            );
            listeners
        });
        PointerCapture {
            _target: listeners,
            _window: window_listeners,
            _document: document_listeners,
        }
    }
}
