//! The candidate widget: consent first, then a short typing task, a rhythm task and a tracking
//! task while the probe measures timings, then "done". The candidate sees that the check
//! finished, never the verdict. Each step is its own component; this page holds the state they
//! share and chooses which one to show.

mod consent;
mod finishing;
mod host;
mod task;
mod typing;

use leptos::prelude::*;
use onsite_probe::{CandidateProbe, ProbeConfig, ProbeStatus};

use super::Capability;
use consent::ConsentStep;
use finishing::FinishingStep;
use host::Host;
use task::{TaskRunner, TaskStep};
use typing::TypingStep;

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

    /// The step's name in the progress messages to a framing page.
    fn name(self) -> &'static str {
        match self {
            Step::Consent => "consent",
            Step::Typing => "typing",
            Step::Rhythm => "rhythm",
            Step::Tracking => "tracking",
            Step::Finishing => "finishing",
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
    let host = Host::new(capability.host.clone());
    host.tell("onsite:ready", &[]);
    host.follow_steps(step);
    host.follow_status(status);

    let begin = Callback::new(move |()| {
        let started = ProbeConfig::same_origin(&capability.session, &capability.token)
            .and_then(|config| CandidateProbe::start(&config, move |s| status.set(s)))
            .and_then(|mut started| {
                started.attach(&onsite_probe::page::document_target()?);
                Ok(started)
            });
        match started {
            Ok(started) => {
                probe.set_value(Some(started));
                host.tell("onsite:consented", &[]);
                step.set(Step::Typing);
            }
            Err(error) => problem.set(Some(format!("The check cannot start: {error}. Try a current version of Chrome, Edge, Firefox or Safari."))),
        }
    });
    let typed = Callback::new(move |()| step.set(Step::Rhythm));
    let runner = TaskRunner::new(step, probe, problem);

    view! {
        {move || (step.get().number() > 0).then(|| view! {
            <p class="muted step" data-testid="step">{format!("Step {} of 4", step.get().number())}</p>
            <progress class="steps" max="4" value=step.get().number().to_string() aria-label="Progress through the check"></progress>
        })}
        {move || problem.get().or_else(|| status.get().problem).map(|text| view! { <p class="problem" role="alert" data-testid="problem">{text}</p> })}
        {move || match step.get() {
            Step::Consent => view! { <ConsentStep on_begin=begin /> }.into_any(),
            Step::Typing => view! { <TypingStep status on_done=typed /> }.into_any(),
            Step::Rhythm => view! {
                <TaskStep
                    title="Tap along with the beat"
                    instructions="Press Start, then tap the space bar, or click the circle, each time it is at its biggest. It beats steadily for about 15 seconds; keep going even if the beat seems to jump."
                    testid="rhythm"
                    runner
                />
            }.into_any(),
            Step::Tracking => view! {
                <TaskStep
                    title="Follow the dot"
                    instructions="Press Start, then keep the mouse pointer (or your finger) on the orange dot as it moves, for 15 seconds."
                    testid="tracking"
                    runner
                />
            }.into_any(),
            Step::Finishing => view! { <FinishingStep status /> }.into_any(),
        }}
    }
}
