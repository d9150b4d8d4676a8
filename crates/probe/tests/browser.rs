//! Key capture in a real browser: real `KeyboardEvent`s dispatched in headless Chromium, paired
//! into presses that carry timings and a class but no key identity.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use onsite_core::wire::StrokeV1;
use onsite_core::KeyClass;
use onsite_probe::{KeyCapture, KeyRecorder};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{EventTarget, KeyboardEvent, KeyboardEventInit};

wasm_bindgen_test_configure!(run_in_browser);

fn dispatch(target: &EventTarget, kind: &str, code: &str, key: &str, repeat: bool) {
    let init = KeyboardEventInit::new();
    init.set_code(code);
    init.set_key(key);
    init.set_repeat(repeat);
    let event = KeyboardEvent::new_with_keyboard_event_init_dict(kind, &init).expect("event");
    target.dispatch_event(&event).expect("dispatch");
}

#[wasm_bindgen_test]
async fn presses_are_paired_by_physical_key_and_keep_no_identity() {
    let target = EventTarget::new().expect("target");
    let recorder = Rc::new(RefCell::new(KeyRecorder::default()));
    let capture = KeyCapture::attach(&target, recorder.clone());

    dispatch(&target, "keyup", "KeyZ", "z", false); // pressed before capture began: ignored
    dispatch(&target, "keydown", "KeyQ", "q", false);
    TimeoutFuture::new(30).await;
    dispatch(&target, "keydown", "ShiftLeft", "Shift", false); // rollover: Shift goes down while Q is held
    dispatch(&target, "keydown", "KeyQ", "q", true); // auto-repeat of the held Q
    TimeoutFuture::new(20).await;
    dispatch(&target, "keyup", "KeyQ", "q", false);
    dispatch(&target, "keyup", "ShiftLeft", "Shift", false);
    dispatch(&target, "keydown", "Digit5", "5", false);
    dispatch(&target, "keyup", "Digit5", "5", false);

    let strokes = recorder.borrow_mut().take();
    let classes: Vec<KeyClass> = strokes.iter().map(|s| s.class).collect();
    assert_eq!(classes, [KeyClass::Letter, KeyClass::Modifier, KeyClass::Digit]);
    assert_eq!(strokes[0].repeats, 1);
    assert_eq!(strokes[0].repeat_gaps_us.len(), 1);
    assert!(
        strokes[0].repeat_gaps_us[0] >= 25_000,
        "the repeat came about 30 ms after the key-down: {:?}",
        strokes[0]
    );
    assert!(strokes[0].dwell_us() >= 45_000, "Q was held about 50 ms: {:?}", strokes[0]);
    assert!(
        strokes[1].down_at_us > strokes[0].down_at_us && strokes[1].up_at_us >= strokes[0].up_at_us
    );
    assert!(strokes.iter().all(|s| !s.trusted), "script-made events are marked untrusted");
    assert_eq!(recorder.borrow().total(), 3);

    // What would leave the page names no key.
    let wire =
        serde_json::to_string(&strokes.iter().map(StrokeV1::from_stroke).collect::<Vec<_>>())
            .expect("json");
    for identity in ["KeyQ", "ShiftLeft", "Digit5", "\"q\"", "\"5\"", "Shift\""] {
        assert!(!wire.contains(identity), "{identity} in {wire}");
    }

    // Detached capture records nothing more.
    drop(capture);
    dispatch(&target, "keydown", "KeyA", "a", false);
    dispatch(&target, "keyup", "KeyA", "a", false);
    assert!(recorder.borrow_mut().take().is_empty());
}

#[wasm_bindgen_test]
fn a_lost_key_up_drops_the_press_instead_of_inventing_a_dwell() {
    let mut recorder = KeyRecorder::default();
    recorder.key_down("KeyA", 100.0, false, true);
    recorder.key_down("KeyA", 400.0, false, true); // the first key-up never came
    recorder.key_up("KeyA", 480.0, true);
    let strokes = recorder.take();
    assert_eq!(strokes.len(), 1);
    assert_eq!((strokes[0].down_at_us, strokes[0].up_at_us), (400_000, 480_000));
}

#[wasm_bindgen_test]
fn link_fragments_decode_the_host_origin_and_keep_capabilities_as_they_are() {
    let params = onsite_probe::page::parse_params(
        "session=ab-C_1&token=Zz9_-x&host=https%3A%2F%2Fportal.example%3A8443&bad=%zz",
    );
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(get("session"), Some("ab-C_1"));
    assert_eq!(get("token"), Some("Zz9_-x"));
    assert_eq!(get("host"), Some("https://portal.example:8443"));
    assert_eq!(get("bad"), Some("%zz"), "a value that does not decode is kept");
}
