//! Key timing capture: key-down and key-up are paired by physical key in memory, and only the
//! timings and a coarse class leave this module. The key's identity is dropped on key-up.

use std::cell::RefCell;
use std::rc::Rc;

use onsite_core::evidence::MAX_REPEAT_GAPS;
use onsite_core::{KeyClass, KeyStroke};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast as _;
use web_sys::{EventTarget, KeyboardEvent};

use crate::listen::Listeners;

/// Presses held at once beyond this are not tracked (no keyboard rolls over this many).
const MAX_OPEN_PRESSES: usize = 16;

/// A press whose key-up has not come yet.
#[derive(Debug, Clone)]
struct Open {
    down_at_us: i64,
    last_at_us: i64,
    class: KeyClass,
    repeats: u32,
    repeat_gaps_us: Vec<u32>,
    trusted: bool,
}

/// Pairs key events into presses.
///
/// The pairing key is a 64-bit hash of the physical key (`KeyboardEvent.code`), held only while
/// the key is down; completed presses keep nothing but times, class, auto-repeat timing and trust.
/// Open presses live in a short list rather than a map: at most a handful are down at once, and
/// the handler then allocates nothing on the hot path.
#[derive(Debug, Default)]
pub struct KeyRecorder {
    open: Vec<(u64, Open)>,
    completed: Vec<KeyStroke>,
    total: u32,
    /// The most recent key event times (µs), repeats included, to see the clock's step; times
    /// only, in a ring of [`TIMER_SAMPLES`].
    recent_at_us: Vec<i64>,
    next_recent: usize,
}

/// Key event times kept to estimate the clock's step.
const TIMER_SAMPLES: usize = 256;

/// FNV-1a: a fast hash that tells the few hundred key codes apart.
fn key_hash(code: &str) -> u64 {
    code.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl KeyRecorder {
    /// Records a key-down at `at_ms` (the event's `timeStamp`).
    pub fn key_down(&mut self, code: &str, at_ms: f64, repeat: bool, trusted: bool) {
        let at_us = to_us(at_ms);
        self.remember(at_us);
        let key = key_hash(code);
        let found = self.open.iter().position(|(k, _)| *k == key);
        if let Some(index) = found {
            let open = &mut self.open[index].1;
            // Auto-repeat sends more key-downs for a held key; time them on the press.
            if repeat {
                open.repeats = open.repeats.saturating_add(1);
                if open.repeat_gaps_us.len() < MAX_REPEAT_GAPS {
                    open.repeat_gaps_us
                        .push(u32::try_from((at_us - open.last_at_us).max(0)).unwrap_or(u32::MAX));
                }
                open.last_at_us = at_us;
                open.trusted &= trusted;
                return;
            }
            // A second key-down without a key-up means the key-up was lost (focus moved away
            // mid-press): the old press has no trustworthy dwell, so it is dropped.
            self.open.swap_remove(index);
        }
        if self.open.len() >= MAX_OPEN_PRESSES {
            return;
        }
        let class = KeyClass::from_code(code);
        let open = Open {
            down_at_us: at_us,
            last_at_us: at_us,
            class,
            repeats: 0,
            repeat_gaps_us: Vec::new(),
            trusted,
        };
        self.open.push((key, open));
    }

    /// Records a key-up; a key-up with no key-down (pressed before capture began) is ignored.
    pub fn key_up(&mut self, code: &str, at_ms: f64, trusted: bool) {
        let key = key_hash(code);
        self.remember(to_us(at_ms));
        let Some(index) = self.open.iter().position(|(k, _)| *k == key) else { return };
        let (_, open) = self.open.swap_remove(index);
        let up_at_us = to_us(at_ms).max(open.down_at_us);
        self.completed.push(KeyStroke {
            down_at_us: open.down_at_us,
            up_at_us,
            class: open.class,
            repeats: open.repeats,
            repeat_gaps_us: open.repeat_gaps_us,
            trusted: open.trusted && trusted,
        });
        self.total = self.total.saturating_add(1);
    }

    /// Forgets presses in progress, for example when the page loses focus.
    pub fn cancel_open(&mut self) {
        self.open.clear();
    }

    /// Takes the presses completed since the last call.
    pub fn take(&mut self) -> Vec<KeyStroke> {
        std::mem::take(&mut self.completed)
    }

    fn remember(&mut self, at_us: i64) {
        if self.recent_at_us.len() < TIMER_SAMPLES {
            self.recent_at_us.push(at_us);
        } else {
            self.recent_at_us[self.next_recent] = at_us;
        }
        self.next_recent = (self.next_recent + 1) % TIMER_SAMPLES;
    }

    /// The step of the page's clock seen in the recent key events (µs), or `None` with too few
    /// of them (`onsite_core::timer`).
    pub fn timer_resolution_us(&self) -> Option<u32> {
        onsite_core::timer::estimate_resolution_us(&self.recent_at_us, &[])
    }

    /// How many presses were completed since capture began.
    pub fn total(&self) -> u32 {
        self.total
    }
}

/// Page timestamps in milliseconds to whole microseconds.
pub(crate) fn to_us(at_ms: f64) -> i64 {
    // Page timestamps are at most days in milliseconds: the product is far inside i64.
    (at_ms * 1000.0).round() as i64
}

/// Key listeners attached to a target; dropping it detaches them.
pub struct KeyCapture {
    _listeners: Listeners,
}

impl KeyCapture {
    /// Listens for key events on `target` (capturing phase) and feeds `recorder`.
    pub fn attach(target: &EventTarget, recorder: Rc<RefCell<KeyRecorder>>) -> KeyCapture {
        let mut listeners = Listeners::new(target);
        let on_down = recorder.clone();
        listeners.add(
            "keydown",
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                if let Some(event) = event.dyn_ref::<KeyboardEvent>() {
                    // Read the event before borrowing the recorder: no borrow may span a call
                    // into JavaScript, which could throw and leave it borrowed for good.
                    let (code, at_ms) = (event.code(), event.time_stamp());
                    let (repeat, trusted) = (event.repeat(), event.is_trusted());
                    on_down.borrow_mut().key_down(&code, at_ms, repeat, trusted);
                }
            }),
        );
        let on_up = recorder.clone();
        listeners.add(
            "keyup",
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                if let Some(event) = event.dyn_ref::<KeyboardEvent>() {
                    let (code, at_ms, trusted) =
                        (event.code(), event.time_stamp(), event.is_trusted());
                    on_up.borrow_mut().key_up(&code, at_ms, trusted);
                }
            }),
        );
        listeners.add(
            "blur",
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| recorder.borrow_mut().cancel_open()),
        );
        KeyCapture { _listeners: listeners }
    }
}
