//! The pages, chosen by path: the candidate widget, the interviewer's live verdict, and a landing
//! page for everything else.

mod candidate;
mod dashboard;
mod gate;
mod interviewer;

use leptos::prelude::*;

pub use candidate::CandidatePage;
pub use interviewer::InterviewerPage;

/// The capability a link carries in its fragment: which session, and the token for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub session: String,
    pub token: String,
    /// The embedding page's origin (`host=` in the fragment), which alone receives the widget's
    /// progress messages.
    pub host: Option<String>,
    /// The audience the edge's verdicts name (`aud=` in an interviewer link), when it is not
    /// the default `onsite`.
    pub audience: Option<String>,
}

impl Capability {
    /// Reads the capability from the page's URL fragment.
    pub fn from_fragment() -> Option<Capability> {
        let params = onsite_probe::page::fragment_params();
        let get = |name: &str| {
            params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
        };
        // Only a bare origin (scheme://host[:port]) is accepted as a message target.
        let host = get("host").filter(|h| {
            h.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
            })
        });
        Some(Capability {
            session: get("session")?,
            token: get("token")?,
            host,
            audience: get("aud"),
        })
    }
}

#[component]
pub fn App() -> impl IntoView {
    let path = onsite_probe::page::path();
    let capability = Capability::from_fragment();
    let body = match (path.as_str(), capability) {
        ("/candidate", Some(capability)) => view! { <CandidatePage capability /> }.into_any(),
        ("/interviewer", Some(capability)) => view! { <InterviewerPage capability /> }.into_any(),
        ("/dashboard", _) => view! { <dashboard::DashboardPage /> }.into_any(),
        ("/gate", _) => view! { <gate::GatePage /> }.into_any(),
        ("/candidate" | "/interviewer", None) => view! {
            <section class="card problem" role="alert">
                <h2>"This link is incomplete"</h2>
                <p>"The link you opened is missing its session or its access token. Copy the whole link from the invitation, including everything after the # sign, and open it again."</p>
            </section>
        }
        .into_any(),
        _ => view! { <Home /> }.into_any(),
    };
    let wide = matches!(path.as_str(), "/dashboard" | "/interviewer");
    view! {
        <header class="top">
            <span class="brand">"onsite"</span>
            {(path != "/candidate").then(|| view! {
                <nav aria-label="Pages"><a href="/dashboard">"Dashboard"</a><a href="/gate">"Onboarding gate"</a></nav>
            })}
        </header>
        <main class:wide=wide>{body}</main>
    }
}

#[component]
fn Home() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"onsite"</h1>
            <p>"onsite checks whether the computer in a remote interview is being driven from somewhere else, from timing alone."</p>
            <p>"Interviewers: open the "<a href="/dashboard">"dashboard"</a>" to create a session, send the candidate link and watch the verdict live. Onboarding portals: check a signed verdict at the "<a href="/gate">"onboarding gate"</a>" or with "<code>"POST /api/v1/verify"</code>"."</p>
        </section>
    }
}
