//! The candidate widget: consent first, then a short typing task while the probe measures
//! timings, then "done". The candidate sees that the check finished, never the verdict.

use leptos::prelude::*;
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
    Finishing,
}

#[component]
pub fn CandidatePage(capability: Capability) -> impl IntoView {
    let step = RwSignal::new(Step::Consent);
    let status = RwSignal::new(ProbeStatus::default());
    let problem = RwSignal::new(None::<String>);
    let probe = StoredValue::new_local(None::<CandidateProbe>);

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
                step.set(Step::Typing);
            }
            Err(error) => problem.set(Some(format!("The check cannot start: {error}. Try a current version of Chrome, Edge, Firefox or Safari."))),
        }
    };
    let finish = move |_| {
        probe.with_value(|p| {
            if let Some(p) = p {
                p.finish();
            }
        });
        step.set(Step::Finishing);
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
                <p>"The timings are stored with your interview session and seen as a summary by your interviewer. Questions or objections: ask your interviewer or the company's recruiting contact before you continue."</p>
                <button class="primary" data-testid="consent" on:click=begin>"I agree, start the check"</button>
            </section>
        }
    };

    let typing = move || {
        let finish = finish.clone();
        let percent = move || (status.get().keystrokes.min(TARGET_KEYSTROKES) * 100 / TARGET_KEYSTROKES).to_string();
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
                <p class="muted" data-testid="probe-status">
                    {move || {
                        let s = status.get();
                        let link = if s.connected { "connected" } else { "connecting…" };
                        format!("{} key presses measured · {link}", s.keystrokes)
                    }}
                </p>
                <button class="primary" data-testid="finish" on:click=finish>"I'm done"</button>
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
        {move || problem.get().or_else(|| status.get().problem).map(|text| view! { <p class="problem" role="alert" data-testid="problem">{text}</p> })}
        {move || match step.get() {
            Step::Consent => consent().into_any(),
            Step::Typing => typing().into_any(),
            Step::Finishing => finishing().into_any(),
        }}
    }
}
