//! Event listeners that detach themselves when dropped.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast as _;
use web_sys::EventTarget;

type Handler = Closure<dyn FnMut(web_sys::Event)>;

/// Listeners on one target, in the capturing phase.
pub(crate) struct Listeners {
    target: EventTarget,
    handlers: Vec<(&'static str, Handler)>,
}

impl Listeners {
    pub(crate) fn new(target: &EventTarget) -> Listeners {
        Listeners { target: target.clone(), handlers: Vec::new() }
    }

    /// Adds a listener for `kind`.
    pub(crate) fn add(&mut self, kind: &'static str, handler: Handler) {
        let _ = self.target.add_event_listener_with_callback_and_bool(
            kind,
            handler.as_ref().unchecked_ref(),
            true,
        );
        self.handlers.push((kind, handler));
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (kind, handler) in &self.handlers {
            let _ = self.target.remove_event_listener_with_callback_and_bool(
                kind,
                handler.as_ref().unchecked_ref(),
                true,
            );
        }
    }
}
