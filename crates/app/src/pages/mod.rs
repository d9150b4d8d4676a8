//! The pages, chosen by path: the candidate widget, the interviewer's live verdict, and a landing
//! page for everything else.

mod candidate;
mod interviewer;

use leptos::prelude::*;

pub use candidate::CandidatePage;
pub use interviewer::InterviewerPage;

/// The capability a link carries in its fragment: which session, and the token for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub session: String,
    pub token: String,
}

impl Capability {
    /// Reads the capability from the page's URL fragment.
    pub fn from_fragment() -> Option<Capability> {
        let params = onsite_probe::page::fragment_params();
        let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        Some(Capability { session: get("session")?, token: get("token")? })
    }
}

#[component]
pub fn App() -> impl IntoView {
    let path = onsite_probe::page::path();
    let capability = Capability::from_fragment();
    let body = match (path.as_str(), capability) {
        ("/candidate", Some(capability)) => view! { <CandidatePage capability /> }.into_any(),
        ("/interviewer", Some(capability)) => view! { <InterviewerPage capability /> }.into_any(),
        ("/candidate" | "/interviewer", None) => view! {
            <section class="card problem" role="alert">
                <h2>"This link is incomplete"</h2>
                <p>"The link you opened is missing its session or its access token. Copy the whole link from the invitation, including everything after the # sign, and open it again."</p>
            </section>
        }
        .into_any(),
        _ => view! { <Home /> }.into_any(),
    };
    view! {
        <header class="top"><span class="brand">"onsite"</span></header>
        <main>{body}</main>
    }
}

#[component]
fn Home() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"onsite"</h1>
            <p>"onsite checks whether the computer in a remote interview is being driven from somewhere else, from timing alone."</p>
            <p>"Create a session with "<code>"onsite session create"</code>" or "<code>"POST /api/v1/sessions"</code>", then send the candidate link to the candidate and open the interviewer link yourself."</p>
        </section>
    }
}
