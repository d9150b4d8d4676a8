//! The candidate widget's timing tasks (rhythm, then tracking): the card with its canvas, and
//! the runner that starts, skips and finishes them and hands their results to the probe.

use leptos::prelude::*;
use onsite_core::estimators::TrackingRun;
use onsite_core::estimators::{FrameTiming, Outcome, Rhythm};
use onsite_probe::tasks::{self, RhythmConfig, RhythmTask, TrackingConfig, TrackingTask};
use onsite_probe::CandidateProbe;

use super::Step;

/// What the task cards share: the step, the probe the results go to, the canvas the tasks
/// draw on, and the task that is running.
#[derive(Clone, Copy)]
pub(super) struct TaskRunner {
    step: RwSignal<Step>,
    probe: StoredValue<Option<CandidateProbe>, LocalStorage>,
    problem: RwSignal<Option<String>>,
    running: RwSignal<bool>,
    rhythm: StoredValue<Option<RhythmTask>, LocalStorage>,
    tracking: StoredValue<Option<TrackingTask>, LocalStorage>,
    canvas: NodeRef<leptos::html::Canvas>,
    reduced_motion: bool,
}

impl TaskRunner {
    pub(super) fn new(
        step: RwSignal<Step>,
        probe: StoredValue<Option<CandidateProbe>, LocalStorage>,
        problem: RwSignal<Option<String>>,
    ) -> TaskRunner {
        TaskRunner {
            step,
            probe,
            problem,
            running: RwSignal::new(false),
            rhythm: StoredValue::new_local(None),
            tracking: StoredValue::new_local(None),
            canvas: NodeRef::new(),
            reduced_motion: tasks::prefers_reduced_motion(),
        }
    }

    fn rhythm_done(self, outcome: Outcome<Rhythm>, frames: Option<FrameTiming>) {
        self.probe.with_value(|p| {
            if let Some(p) = p {
                p.end_rhythm();
                p.submit_rhythm(&outcome, frames);
            }
        });
        self.running.set(false);
        self.step.set(Step::Tracking);
    }

    /// Hands the tracking result to the probe and finishes the check.
    fn tracking_done(self, outcome: Outcome<TrackingRun>, frames: Option<FrameTiming>) {
        self.probe.with_value(|p| {
            if let Some(p) = p {
                p.submit_tracking(&outcome, frames);
            }
        });
        self.running.set(false);
        self.probe.with_value(|p| {
            if let Some(p) = p {
                p.finish();
            }
        });
        self.step.set(Step::Finishing);
    }

    /// Starts the rhythm task on the edge's beats: the task exists before the edge is asked, so
    /// no beat arrives before there is a task to draw it, and taps go to the edge as they happen.
    /// Without a socket the page keeps the time itself.
    fn start_rhythm(
        self,
        element: &leptos::web_sys::HtmlCanvasElement,
        reduced_motion: bool,
    ) -> Result<(), onsite_probe::ProbeError> {
        let config = RhythmConfig { reduced_motion, ..RhythmConfig::default() };
        let done = move |outcome, frames| self.rhythm_done(outcome, frames);
        let tap = move |at_us| {
            self.probe.with_value(|p| {
                if let Some(p) = p {
                    p.tap(at_us);
                }
            });
        };
        let task = RhythmTask::start_with_edge(element, config, tap, done)?;
        self.rhythm.set_value(Some(task));
        let beat = move |n, of| {
            self.rhythm.with_value(|t| {
                if let Some(t) = t {
                    t.beat(n, of);
                }
            });
        };
        self.probe.with_value(|p| p.as_ref().map(|p| p.start_rhythm(beat)));
        Ok(())
    }

    /// Starts the current step's task on the canvas.
    fn start(self) {
        let Some(element) = self.canvas.get() else { return };
        let reduced_motion = self.reduced_motion;
        let started = match self.step.get_untracked() {
            Step::Rhythm => self.start_rhythm(&element, reduced_motion),
            _ => TrackingTask::start(
                &element,
                TrackingConfig {
                    speed: if reduced_motion { 0.5 } else { 1.0 },
                    ..TrackingConfig::default()
                },
                move |outcome, frames| self.tracking_done(outcome, frames),
            )
            .map(|task| self.tracking.set_value(Some(task))),
        };
        match started {
            Ok(()) => self.running.set(true),
            Err(error) => self
                .problem
                .set(Some(format!("This task cannot run here ({error}); press “Skip this task”."))),
        }
    }

    /// Skips the current step's task: a running task ends as skipped, one not started is
    /// recorded as skipped.
    fn skip(self) {
        match self.step.get_untracked() {
            Step::Rhythm => {
                let running = self.rhythm.with_value(|t| t.as_ref().map(RhythmTask::skip));
                if running.is_none() {
                    self.rhythm_done(Outcome::Skipped, None);
                }
            }
            _ => {
                let running = self.tracking.with_value(|t| t.as_ref().map(TrackingTask::skip));
                if running.is_none() {
                    self.tracking_done(Outcome::Skipped, None);
                }
            }
        }
    }
}

/// A task card: its title and instructions, the canvas, and the start and skip buttons.
#[component]
pub(super) fn TaskStep(
    title: &'static str,
    instructions: &'static str,
    testid: &'static str,
    runner: TaskRunner,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="task-title">
            <h1 id="task-title">{title}</h1>
            <p>{instructions}</p>
            <canvas node_ref=runner.canvas class="task" width="640" height="360" data-testid=testid
                aria-label="Timing task area"></canvas>
            <div class="actions">
                <button class="primary" data-testid="start-task" on:click=move |_| runner.start() disabled=move || runner.running.get()>"Start"</button>
                <button class="secondary" data-testid="skip-task" on:click=move |_| runner.skip()>"Skip this task"</button>
            </div>
            <p class="muted">"There is no score and no right answer; skipping is fine and is recorded as “not measured”."</p>
        </section>
    }
}
