//! Optional browser APIs, missing or broken, in a real browser: without
//! `PointerEvent.getCoalescedEvents`, or with one that throws, every pointer event is still kept
//! as its own sample, key presses are still counted, and no recorder is left borrowed.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use onsite_probe::{KeyCapture, KeyRecorder, PointerCapture, PointerRecorder};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{EventTarget, KeyboardEvent, KeyboardEventInit};

wasm_bindgen_test_configure!(run_in_browser);

/// `PointerEvent.prototype`, whose methods the tests take away and put back.
fn pointer_prototype() -> js_sys::Object {
    let global = js_sys::global();
    let constructor = js_sys::Reflect::get(&global, &JsValue::from_str("PointerEvent"))
        .expect("PointerEvent exists");
    js_sys::Reflect::get(&constructor, &JsValue::from_str("prototype"))
        .expect("a prototype")
        .unchecked_into()
}

fn pointer_move(target: &EventTarget, x_px: f64) {
    let make = js_sys::Function::new_with_args(
        "kind, x",
        "return new PointerEvent(kind, {clientX: x, clientY: x / 2, pointerType: 'mouse'});",
    );
    let event = make
        .call2(&JsValue::NULL, &JsValue::from_str("pointermove"), &JsValue::from_f64(x_px))
        .expect("a pointer event");
    target.dispatch_event(event.unchecked_ref()).expect("dispatch");
}

fn press(target: &EventTarget, code: &str) {
    for kind in ["keydown", "keyup"] {
        let init = KeyboardEventInit::new();
        init.set_code(code);
        let event = KeyboardEvent::new_with_keyboard_event_init_dict(kind, &init).expect("event");
        target.dispatch_event(&event).expect("dispatch");
    }
}

/// Moves the pointer and presses keys with `getCoalescedEvents` replaced by `replacement`
/// (`None`: deleted), then puts the original back; returns pointer samples and presses seen.
fn capture_with(replacement: Option<JsValue>) -> (Vec<onsite_core::evidence::PointerSample>, u32) {
    let prototype = pointer_prototype();
    let name = JsValue::from_str("getCoalescedEvents");
    let original = js_sys::Reflect::get(&prototype, &name).expect("read");
    match &replacement {
        None => {
            js_sys::Reflect::delete_property(&prototype, &name).expect("delete");
        }
        Some(function) => {
            js_sys::Reflect::set(&prototype, &name, function).expect("replace");
        }
    }
    let target = EventTarget::new().expect("target");
    let keys = Rc::new(RefCell::new(KeyRecorder::default()));
    let pointer = Rc::new(RefCell::new(PointerRecorder::default()));
    let _keys = KeyCapture::attach(&target, keys.clone());
    let _pointer = PointerCapture::attach(&target, pointer.clone());
    for step in 0..5 {
        pointer_move(&target, f64::from(step) * 10.0);
        press(&target, "KeyA");
    }
    if !original.is_undefined() {
        js_sys::Reflect::set(&prototype, &name, &original).expect("restore");
    }
    // Both recorders can be borrowed again: nothing was left borrowed by a failed call.
    let (samples, _) = pointer.try_borrow_mut().expect("the pointer recorder is free").take();
    let presses = keys.try_borrow().expect("the key recorder is free").total();
    (samples, presses)
}

#[wasm_bindgen_test]
fn without_get_coalesced_events_each_event_is_its_own_sample() {
    let (samples, presses) = capture_with(None);
    assert_eq!(presses, 5, "key presses are still counted");
    assert_eq!(samples.len(), 5, "{samples:?}");
    assert!(samples.iter().all(|s| s.coalesced == 1));
    let xs: Vec<f64> = samples.iter().map(|s| s.x_px).collect();
    assert_eq!(xs, [0.0, 10.0, 20.0, 30.0, 40.0]);
}

#[wasm_bindgen_test]
fn a_get_coalesced_events_that_throws_leaves_nothing_borrowed() {
    let throwing = js_sys::Function::new_no_args("throw new Error('not supported here');");
    let (samples, presses) = capture_with(Some(throwing.into()));
    assert_eq!(presses, 5);
    assert_eq!(samples.len(), 5, "{samples:?}");
    assert!(samples.iter().all(|s| s.coalesced == 1));
}

#[wasm_bindgen_test]
fn the_key_recorder_sees_the_clock_step() {
    let mut recorder = KeyRecorder::default();
    // Key events on a 16.667 ms clock, as Firefox with resistFingerprinting gives them.
    for i in 0..30_u32 {
        let at_ms = f64::from(i * 7 + (i * i) % 5) * (50.0 / 3.0);
        recorder.key_down("KeyA", at_ms, false, true);
        recorder.key_up("KeyA", at_ms + 100.0, true);
    }
    assert_eq!(recorder.timer_resolution_us(), Some(16_667));
}
