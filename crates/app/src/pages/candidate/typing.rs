//! The candidate widget's typing step: a sentence to type, a held space bar, and the count of
//! presses measured so far.

use leptos::prelude::*;
use onsite_probe::ProbeStatus;

use super::TARGET_KEYSTROKES;

/// The sentence the candidate is asked to type.
const SENTENCE: &str = "The quick brown fox jumps over the lazy dog while five wizards box.";

/// The typing card; `on_done` runs when the candidate presses "I'm done".
#[component]
pub(super) fn TypingStep(status: RwSignal<ProbeStatus>, on_done: Callback<()>) -> impl IntoView {
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
            <button class="primary" data-testid="finish" on:click=move |_| on_done.run(())>"I'm done"</button>
        </section>
    }
}
