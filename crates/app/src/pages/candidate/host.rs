//! The candidate widget's progress messages to the page that frames it: ready, consented, each
//! step, progress, problems and done, sent to that page's origin only.

use leptos::prelude::*;
use onsite_probe::ProbeStatus;
use wasm_bindgen::JsValue;

use super::{Step, TARGET_KEYSTROKES};

/// The framing page's origin, when the widget is framed by the page its link names.
#[derive(Debug, Clone)]
pub(super) struct Host {
    origin: Option<String>,
}

impl Host {
    /// The origin a link's `host=` names, kept only when the widget is inside a frame.
    pub(super) fn new(origin: Option<String>) -> Host {
        Host { origin: origin.filter(|_| onsite_probe::page::in_frame()) }
    }

    /// Posts one message to the framing page; without one, nothing.
    pub(super) fn tell(&self, kind: &str, fields: &[(&str, JsValue)]) {
        if let Some(origin) = &self.origin {
            onsite_probe::page::post_to_parent(origin, kind, fields);
        }
    }

    /// Tells the framing page every step the candidate reaches.
    pub(super) fn follow_steps(&self, step: RwSignal<Step>) {
        let host = self.clone();
        Effect::new(move |_| {
            let current = step.get();
            host.tell(
                "onsite:step",
                &[
                    ("step", current.number().into()),
                    ("of", 4.into()),
                    ("name", current.name().into()),
                ],
            );
        });
    }

    /// Tells the framing page when the check is done, each new problem, and the count of
    /// presses every ten.
    pub(super) fn follow_status(&self, status: RwSignal<ProbeStatus>) {
        let host = self.clone();
        Effect::new(move |previous: Option<(bool, Option<String>, u32)>| {
            let s = status.get();
            let now = (s.finished, s.problem.clone(), s.keystrokes);
            if previous.as_ref() != Some(&now) {
                if s.finished && !previous.as_ref().is_some_and(|p| p.0) {
                    host.tell("onsite:done", &[]);
                }
                if let Some(message) = &s.problem {
                    if previous.as_ref().and_then(|p| p.1.as_ref()) != Some(message) {
                        host.tell(
                            "onsite:problem",
                            &[
                                ("message", message.as_str().into()),
                                ("connected", s.connected.into()),
                            ],
                        );
                    }
                }
                if previous.as_ref().map(|p| p.2 / 10) != Some(s.keystrokes / 10) {
                    host.tell(
                        "onsite:progress",
                        &[
                            ("keystrokes", s.keystrokes.into()),
                            ("target", TARGET_KEYSTROKES.into()),
                        ],
                    );
                }
            }
            now
        });
    }
}
