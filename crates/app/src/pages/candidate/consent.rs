//! The candidate widget's first step: what is measured, what never is, who sees it, and the
//! button that starts the check.

use leptos::prelude::*;

/// The consent card; `on_begin` runs when the candidate agrees.
#[component]
pub(super) fn ConsentStep(on_begin: Callback<()>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="consent-title">
            <h1 id="consent-title">"Before we start"</h1>
            <p>"This check helps the company that is interviewing you confirm that you are using this computer yourself, and not controlling it from somewhere else."</p>
            <h2>"What is measured"</h2>
            <ul>
                <li>"When each key goes down and comes up, to the fraction of a millisecond, and a rough kind of key (letter, digit, space, punctuation, Enter…)."</li>
                <li>"How long messages take to travel between this page and our server."</li>
                <li>"Where the pointer moves on this page and when, and when you tap in the two short timing tasks."</li>
                <li>"When this page goes out of view or comes back (not what you switch to)."</li>
                <li>"Your browser's screen size, whether its graphics are drawn in software, whether it is run by automation, and its time zone."</li>
            </ul>
            <h2>"What is never measured"</h2>
            <ul>
                <li>"Which keys you press or what you type: the text stays in this page and is never sent."</li>
                <li>"Your camera, microphone, screen, files or other tabs."</li>
            </ul>
            <h2>"Who sees it, and for how long"</h2>
            <p>"The timings are stored with your interview session. Your interviewer sees a summary, charts of the timings and a signed result; the company's onboarding team may check that result. The raw timings are deleted after the company's retention period; the summary result is kept with your application."</p>
            <p>"It takes about two minutes. You will not see a score. Questions or objections: ask your interviewer or the company's recruiting contact before you continue; you can also stop at any time by closing this page."</p>
            <button class="primary" data-testid="consent" on:click=move |_| on_begin.run(())>"I agree, start the check"</button>
        </section>
    }
}
