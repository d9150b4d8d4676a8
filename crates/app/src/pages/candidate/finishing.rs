//! The candidate widget's last step: the last measurements are on their way, then thanks.

use leptos::prelude::*;
use onsite_probe::ProbeStatus;

/// The closing card, which turns into the thank-you once the edge has sealed the session.
#[component]
pub(super) fn FinishingStep(status: RwSignal<ProbeStatus>) -> impl IntoView {
    view! {
        <section class="card" aria-live="polite">
            {move || if status.get().finished {
                view! { <h1 data-testid="done">"Thank you — the check is complete"</h1><p>"You can close this page."</p> }.into_any()
            } else {
                view! { <h1>"Sending the last measurements…"</h1> }.into_any()
            }}
        </section>
    }
}
