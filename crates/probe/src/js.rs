//! The JavaScript API of the standalone probe (`dist/probe/onsite_probe.js`), thin adapters over
//! the Rust API: `new Probe(socketUrl, session, token)`, `probe.attach(target)`,
//! `probe.finish()`, `probe.status()`; and `new Capture(target)` for local-only key capture.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::candidate::{CandidateProbe, ProbeConfig};
use crate::capture::{KeyCapture, KeyRecorder};

/// A probe streaming key and pointer timings to an edge.
#[wasm_bindgen(js_name = Probe)]
pub struct JsProbe {
    inner: CandidateProbe,
}

#[wasm_bindgen(js_class = Probe)]
impl JsProbe {
    /// Connects to the edge's WebSocket at `socket_url` for `session` with the candidate `token`;
    /// `on_status`, when given, is called with the status object each time it changes.
    #[wasm_bindgen(constructor)]
    pub fn new(
        socket_url: String,
        session: String,
        token: String,
        on_status: Option<js_sys::Function>,
    ) -> Result<JsProbe, JsError> {
        let config = ProbeConfig { socket_url, session, token };
        let last = RefCell::new(None::<crate::candidate::ProbeStatus>);
        let inner = CandidateProbe::start(&config, move |status| {
            let Some(callback) = &on_status else { return };
            if last.borrow().as_ref() == Some(&status) {
                return;
            }
            let _ = callback.call1(&JsValue::NULL, &status_object(&status));
            *last.borrow_mut() = Some(status);
        })
        .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(JsProbe { inner })
    }

    /// Captures timings on `target`, for example `document` during a live interview.
    pub fn attach(&mut self, target: &web_sys::EventTarget) {
        self.inner.attach(target);
    }

    /// Sends what is left and tells the edge the session is over.
    pub fn finish(&self) {
        self.inner.finish();
    }

    /// `{connected, keystrokes, pointerSamples, ackedBatches, unackedBatches, reconnects, finished, problem, timerResolutionUs}`.
    pub fn status(&self) -> JsValue {
        status_object(&self.inner.status())
    }
}

/// The status as a plain JavaScript object.
fn status_object(status: &crate::candidate::ProbeStatus) -> JsValue {
    let object = js_sys::Object::new();
    let set = |name: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(name), &value);
    };
    set("connected", status.connected.into());
    set("keystrokes", status.keystrokes.into());
    set("pointerSamples", status.pointer_samples.into());
    set("ackedBatches", JsValue::from_f64(status.acked_batches as f64));
    set("unackedBatches", JsValue::from_f64(status.unacked_batches as f64));
    set("reconnects", status.reconnects.into());
    set("finished", status.finished.into());
    set("problem", status.problem.as_deref().map_or(JsValue::NULL, JsValue::from_str));
    set("timerResolutionUs", status.timer_resolution_us.map_or(JsValue::NULL, JsValue::from));
    object.into()
}

/// Key capture alone, with no connection: for measuring the probe's own cost.
#[wasm_bindgen]
pub struct Capture {
    recorder: Rc<RefCell<KeyRecorder>>,
    _capture: KeyCapture,
}

#[wasm_bindgen]
impl Capture {
    /// Captures key timings on `target`.
    #[wasm_bindgen(constructor)]
    pub fn new(target: &web_sys::EventTarget) -> Capture {
        let recorder = Rc::new(RefCell::new(KeyRecorder::default()));
        let capture = KeyCapture::attach(target, recorder.clone());
        Capture { recorder, _capture: capture }
    }

    /// Presses completed so far.
    pub fn presses(&self) -> u32 {
        self.recorder.borrow().total()
    }

    /// Drops the completed presses, as sending a batch would.
    pub fn drain(&self) -> u32 {
        u32::try_from(self.recorder.borrow_mut().take().len()).unwrap_or(u32::MAX)
    }
}
