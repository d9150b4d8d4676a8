//! The candidate widget: consent first, then a short typing task, a rhythm task and a tracking
//! task while the probe measures timings, then "done". The candidate sees that the check
//! finished, never the verdict.

use leptos::prelude::*;
use onsite_core::estimators::TrackingRun;
use onsite_core::estimators::{FrameTiming, Outcome, Rhythm};
use onsite_probe::tasks::{self, RhythmConfig, RhythmTask, TrackingConfig, TrackingTask};
use onsite_probe::{CandidateProbe, ProbeConfig, ProbeStatus};

use super::Capability;

/// The sentence the candidate is asked to type.
const SENTENCE: &str = "The quick brown fox jumps over the lazy dog while five wizards box.";
/// Presses that make a useful sample; the progress bar fills at this count.
const TARGET_KEYSTROKES: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Consent,
    Typing,
    Rhythm,
    Tracking,
    Finishing,
}

impl Step {
    /// "Step n of 4" for the progress line; consent is not counted.
    fn number(self) -> u32 {
        match self {
            Step::Consent => 0,
            Step::Typing => 1,
            Step::Rhythm => 2,
            Step::Tracking => 3,
            Step::Finishing => 4,
        }
    }
}

#[component]
pub fn CandidatePage(capability: Capability) -> impl IntoView {
    let step = RwSignal::new(Step::Consent);
    let status = RwSignal::new(ProbeStatus::default());
    let problem = RwSignal::new(None::<String>);
    let probe = StoredValue::new_local(None::<CandidateProbe>);

    // Inside a host page's frame, progress goes to that page's origin only.
    let host = capability.host.clone().filter(|_| onsite_probe::page::in_frame());
    let tell = move |kind: &str, fields: &[(&str, wasm_bindgen::JsValue)]| {
        if let Some(origin) = &host {
            onsite_probe::page::post_to_parent(origin, kind, fields);
        }
    };
    let tell_step = tell.clone();
    tell("onsite:ready", &[]);
    Effect::new(move |_| {
        let current = step.get();
        let label = match current {
            Step::Consent => "consent",
            Step::Typing => "typing",
            Step::Rhythm => "rhythm",
            Step::Tracking => "tracking",
            Step::Finishing => "finishing",
        };
        tell_step(
            "onsite:step",
            &[("step", current.number().into()), ("of", 4.into()), ("name", label.into())],
        );
    });
    let tell_status = tell.clone();
    Effect::new(move |previous: Option<(bool, Option<String>, u32)>| {
        let s = status.get();
        let now = (s.finished, s.problem.clone(), s.keystrokes);
        if previous.as_ref() != Some(&now) {
            if s.finished && !previous.as_ref().is_some_and(|p| p.0) {
                tell_status("onsite:done", &[]);
            }
            if let Some(message) = &s.problem {
                if previous.as_ref().and_then(|p| p.1.as_ref()) != Some(message) {
                    tell_status(
                        "onsite:problem",
                        &[("message", message.as_str().into()), ("connected", s.connected.into())],
                    );
                }
            }
            if previous.as_ref().map(|p| p.2 / 10) != Some(s.keystrokes / 10) {
                tell_status(
                    "onsite:progress",
                    &[("keystrokes", s.keystrokes.into()), ("target", TARGET_KEYSTROKES.into())],
                );
            }
        }
        now
    });

    let begin = move |_| {
        let started = ProbeConfig::same_origin(&capability.session, &capability.token)
            .and_then(|config| CandidateProbe::start(&config, move |s| status.set(s)))
            .and_then(|mut started| {
                started.attach(&onsite_probe::page::document_target()?);
                Ok(started)
            });
        match started {
            Ok(started) => {
                probe.set_value(Some(started));
                tell("onsite:consented", &[]);
                step.set(Step::Typing);
            }
            Err(error) => problem.set(Some(format!("The check cannot start: {error}. Try a current version of Chrome, Edge, Firefox or Safari."))),
        }
    };
    let finish = move || {
        probe.with_value(|p| {
            if let Some(p) = p {
                p.finish();
            }
        });
        step.set(Step::Finishing);
    };
    let typed = move |_| step.set(Step::Rhythm);
    let reduced_motion = tasks::prefers_reduced_motion();
    let running = RwSignal::new(false);
    let rhythm_task = StoredValue::new_local(None::<RhythmTask>);
    let tracking_task = StoredValue::new_local(None::<TrackingTask>);
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let rhythm_done = move |outcome: Outcome<Rhythm>, frames: Option<FrameTiming>| {
        probe.with_value(|p| {
            if let Some(p) = p {
                p.submit_rhythm(&outcome, frames);
            }
        });
        running.set(false);
        step.set(Step::Tracking);
    };
    let tracking_done = move |outcome: Outcome<TrackingRun>, frames: Option<FrameTiming>| {
        probe.with_value(|p| {
            if let Some(p) = p {
                p.submit_tracking(&outcome, frames);
            }
        });
        running.set(false);
        finish();
    };
    let start_task = move |_| {
        let Some(element) = canvas.get() else { return };
        let started = match step.get_untracked() {
            Step::Rhythm => RhythmTask::start(
                &element,
                RhythmConfig { reduced_motion, ..RhythmConfig::default() },
                rhythm_done,
            )
            .map(|task| rhythm_task.set_value(Some(task))),
            _ => TrackingTask::start(
                &element,
                TrackingConfig {
                    speed: if reduced_motion { 0.5 } else { 1.0 },
                    ..TrackingConfig::default()
                },
                tracking_done,
            )
            .map(|task| tracking_task.set_value(Some(task))),
        };
        match started {
            Ok(()) => running.set(true),
            Err(error) => problem
                .set(Some(format!("This task cannot run here ({error}); press “Skip this task”."))),
        }
    };
    let skip_task = move |_| match step.get_untracked() {
        Step::Rhythm => match rhythm_task.with_value(|t| t.is_some()) {
            true => rhythm_task.with_value(|t| t.as_ref().map(RhythmTask::skip)).unwrap_or(()),
            false => rhythm_done(Outcome::Skipped, None),
        },
        _ => match tracking_task.with_value(|t| t.is_some()) {
            true => tracking_task.with_value(|t| t.as_ref().map(TrackingTask::skip)).unwrap_or(()),
            false => tracking_done(Outcome::Skipped, None),
        },
    };

    let consent = move || {
        let begin = begin.clone();
        view! {
            <section class="card" aria-labelledby="consent-title">
                <h1 id="consent-title">"Before we start"</h1>
                <p>"This check helps the company that is interviewing you confirm that you are using this computer yourself, and not controlling it from somewhere else."</p>
                <h2>"What is measured"</h2>
                <ul>
                    <li>"When each key goes down and comes up, to the fraction of a millisecond, and a rough kind of key (letter, digit, space, punctuation, Enter…)."</li>
                    <li>"How long messages take to travel between this page and our server."</li>
                </ul>
                <h2>"What is never measured"</h2>
                <ul>
                    <li>"Which keys you press or what you type: the text stays in this page and is never sent."</li>
                    <li>"Your camera, microphone, screen, files or other tabs."</li>
                </ul>
                <h2>"Who sees it, and for how long"</h2>
                <p>"The timings are stored with your interview session. Your interviewer sees a summary, charts of the timings and a signed result; the company's onboarding team may check that result. The raw timings are deleted after the company's retention period; the summary result is kept with your application."</p>
                <p>"It takes about two minutes. You will not see a score. Questions or objections: ask your interviewer or the company's recruiting contact before you continue; you can also stop at any time by closing this page."</p>
                <button class="primary" data-testid="consent" on:click=begin>"I agree, start the check"</button>
            </section>
        }
    };

    let typing = move || {
        let percent = move || {
            (status.get().keystrokes.min(TARGET_KEYSTROKES) * 100 / TARGET_KEYSTROKES).to_string()
        };
        view! {
            <section class="card" aria-labelledby="typing-title">
                <h1 id="typing-title">"Type this sentence"</h1>
                <p class="sentence">{SENTENCE}</p>
                <p class="muted">"Then hold the space bar down for about two seconds, and press “I'm done”."</p>
                <label for="typing-box" class="visually-hidden">"Type the sentence here"</label>
                <textarea id="typing-box" data-testid="typing-box" rows="3" autocomplete="off" spellcheck="false" autofocus=true></textarea>
                <div class="progress" role="progressbar" aria-label="Typing progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent>
                    <progress max="100" value=percent></progress>
                </div>
                <p class="muted" data-testid="probe-status" data-timer-resolution-us=move || status.get().timer_resolution_us.map(|us| us.to_string())>
                    {move || {
                        let s = status.get();
                        let link = if s.connected { "connected" } else { "connecting…" };
                        format!("{} key presses measured · {link}", s.keystrokes)
                    }}
                </p>
                <button class="primary" data-testid="finish" on:click=typed>"I'm done"</button>
            </section>
        }
    };

    let task = move |title: &'static str, instructions: &'static str, testid: &'static str| {
        view! {
            <section class="card" aria-labelledby="task-title">
                <h1 id="task-title">{title}</h1>
                <p>{instructions}</p>
                <canvas node_ref=canvas class="task" width="640" height="360" data-testid=testid
                    aria-label="Timing task area"></canvas>
                <div class="actions">
                    <button class="primary" data-testid="start-task" on:click=start_task disabled=move || running.get()>"Start"</button>
                    <button class="secondary" data-testid="skip-task" on:click=skip_task>"Skip this task"</button>
                </div>
                <p class="muted">"There is no score and no right answer; skipping is fine and is recorded as “not measured”."</p>
            </section>
        }
    };

    let finishing = move || {
        view! {
            <section class="card" aria-live="polite">
                {move || if status.get().finished {
                    view! { <h1 data-testid="done">"Thank you — the check is complete"</h1><p>"You can close this page."</p> }.into_any()
                } else {
                    view! { <h1>"Sending the last measurements…"</h1> }.into_any()
                }}
            </section>
        }
    };

    view! {
        {move || (step.get().number() > 0).then(|| view! {
            <p class="muted step" data-testid="step">{format!("Step {} of 4", step.get().number())}</p>
            <progress class="steps" max="4" value=step.get().number().to_string() aria-label="Progress through the check"></progress>
        })}
        {move || problem.get().or_else(|| status.get().problem).map(|text| view! { <p class="problem" role="alert" data-testid="problem">{text}</p> })}
        {move || match step.get() {
            Step::Consent => consent().into_any(),
            Step::Typing => typing().into_any(),
            Step::Rhythm => task(
                "Tap along with the beat",
                "Press Start, then tap the space bar, or click the circle, each time it is at its biggest. It beats steadily for about 15 seconds; keep going even if the beat seems to jump.",
                "rhythm",
            ).into_any(),
            Step::Tracking => task(
                "Follow the dot",
                "Press Start, then keep the mouse pointer (or your finger) on the orange dot as it moves, for 15 seconds.",
                "tracking",
            ).into_any(),
            Step::Finishing => finishing().into_any(),
        }}
    }
}
