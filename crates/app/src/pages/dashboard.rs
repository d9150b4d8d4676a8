//! The interviewer's dashboard: the API key (kept for this tab only), the list of sessions with
//! their latest verdict, and a form that creates a session and shows its two links with copy
//! buttons. Links created in this browser are remembered for a day so their sessions can be
//! opened again; older ones are forgotten.

use leptos::prelude::*;
use leptos::task::spawn_local;
use onsite_core::wire::{
    ApiErrorV1, SessionCreateRequestV1, SessionCreatedV1, SessionListV1, SessionSummaryV1,
};
use onsite_probe::page;

use crate::format;

const API_KEY_STORE: &str = "onsite-api-key";
const LINKS_STORE: &str = "onsite-interviewer-links";
/// How long this browser remembers an interviewer link (seconds): a day, the lifetime of a
/// verdict token.
const LINK_KEPT_S: u64 = 24 * 3600;

/// The edge's error sentence from a JSON body, or the status.
fn sentence(status: u16, body: &str) -> String {
    serde_json::from_str::<ApiErrorV1>(body)
        .map(|answer| answer.error)
        .unwrap_or_else(|_| format!("the edge answered HTTP {status}"))
}

/// The remembered links still young enough to keep at `now_s`: each is
/// `{"url": "...", "saved_at_s": N}`; anything else (an older format, a link saved in the
/// future) is dropped.
fn fresh_links(
    stored: serde_json::Map<String, serde_json::Value>,
    now_s: u64,
) -> serde_json::Map<String, serde_json::Value> {
    stored
        .into_iter()
        .filter(|(_, entry)| {
            let saved_at_s = entry.get("saved_at_s").and_then(serde_json::Value::as_u64);
            let url = entry.get("url").and_then(serde_json::Value::as_str);
            url.is_some()
                && saved_at_s.is_some_and(|at_s| at_s <= now_s && now_s - at_s < LINK_KEPT_S)
        })
        .collect()
}

/// Interviewer links created in this browser in the last day, by session; older ones are
/// removed from storage as they are found.
fn remembered() -> serde_json::Map<String, serde_json::Value> {
    let stored: serde_json::Map<String, serde_json::Value> = page::local_get(LINKS_STORE)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let count = stored.len();
    let fresh = fresh_links(stored, page::now_s());
    if fresh.len() != count {
        page::local_set(LINKS_STORE, &serde_json::Value::Object(fresh.clone()).to_string());
    }
    fresh
}

fn remember(created: &SessionCreatedV1) {
    let mut links = remembered();
    links.insert(
        created.id.clone(),
        serde_json::json!({ "url": created.interviewer_url, "saved_at_s": page::now_s() }),
    );
    page::local_set(LINKS_STORE, &serde_json::Value::Object(links).to_string());
}

#[component]
fn CopyField(label: &'static str, value: String, testid: &'static str) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let text = value.clone();
    let copy = move |_| {
        let text = text.clone();
        spawn_local(async move { copied.set(Some(page::copy_text(&text).await)) });
    };
    let id = format!("{testid}-field");
    let label_for = id.clone();
    view! {
        <div class="copy-field">
            <label for=label_for>{label}</label>
            <div class="copy-row">
                <input id=id readonly=true value=value data-testid=testid />
                <button class="secondary" on:click=copy aria-label=format!("Copy the {}", label.to_lowercase())>"Copy"</button>
            </div>
            <p class="muted" aria-live="polite">{move || match copied.get() {
                Some(true) => "Copied.",
                Some(false) => "This browser did not allow copying; select the link and copy it by hand.",
                None => "",
            }}</p>
        </div>
    }
}

/// The sessions this API key may see, or a sentence saying why not.
async fn fetch_sessions(key: &str) -> Result<Vec<SessionSummaryV1>, String> {
    match page::request("GET", "/api/v1/sessions", Some(key), None).await {
        Ok((200, body)) => serde_json::from_str::<SessionListV1>(&body)
            .map(|list| list.sessions)
            .map_err(|_| "the edge sent a list this page cannot read; reload the page".to_owned()),
        Ok((401, body)) => Err(format!(
            "{}. Paste the API key from the edge's data directory (data/api-key).",
            sentence(401, &body)
        )),
        Ok((status, body)) => Err(sentence(status, &body)),
        Err(error) => {
            Err(format!("cannot reach the edge ({error}); check your connection and reload"))
        }
    }
}

/// Creates a session, with the place the candidate claims when one is given.
async fn create_session(key: &str, place: String) -> Result<SessionCreatedV1, String> {
    let request = SessionCreateRequestV1 { claimed_location: (!place.is_empty()).then_some(place) };
    // Serialising a struct of strings cannot fail; the fallback asks for no location.
    let body = serde_json::to_string(&request).unwrap_or_else(|_| "{}".to_owned());
    match page::request("POST", "/api/v1/sessions", Some(key), Some(&body)).await {
        Ok((201, body)) => serde_json::from_str::<SessionCreatedV1>(&body)
            .map_err(|e| format!("the edge's answer cannot be read: {e}")),
        Ok((status, body)) => Err(sentence(status, &body)),
        Err(error) => {
            Err(format!("cannot reach the edge ({error}); check your connection and try again"))
        }
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let api_key = RwSignal::new(page::session_get(API_KEY_STORE).unwrap_or_default());
    let sessions = RwSignal::new(None::<Result<Vec<SessionSummaryV1>, String>>);
    let created = RwSignal::new(None::<Result<SessionCreatedV1, String>>);
    let claimed = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let refresh = move || {
        let key = api_key.get_untracked();
        if key.is_empty() {
            sessions.set(None);
            return;
        }
        spawn_local(async move { sessions.set(Some(fetch_sessions(&key).await)) });
    };
    refresh();
    // The list follows new verdicts without a reload.
    // Kept by the page's owner and stopped with it.
    StoredValue::new_local(gloo_interval(refresh));

    let save_key = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        page::session_set(API_KEY_STORE, api_key.get_untracked().trim());
        api_key.update(|k| *k = k.trim().to_owned());
        refresh();
    };
    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        busy.set(true);
        let key = api_key.get_untracked();
        let place = claimed.get_untracked().trim().to_owned();
        spawn_local(async move {
            let result = create_session(&key, place).await;
            if let Ok(created) = &result {
                remember(created);
            }
            created.set(Some(result));
            busy.set(false);
            refresh();
        });
    };

    view! {
        <section class="card" aria-labelledby="dashboard-title">
            <h1 id="dashboard-title">"Interview sessions"</h1>
            <form class="inline-form" on:submit=save_key>
                <label for="api-key">"API key"</label>
                <input id="api-key" type="password" autocomplete="off" data-testid="api-key"
                    prop:value=move || api_key.get() on:input=move |e| api_key.set(event_target_value(&e)) />
                <button class="secondary" type="submit" data-testid="save-key">"Use this key"</button>
            </form>
            <p class="muted">"The key stays in this tab only and is sent to this edge alone."</p>
        </section>
        <section class="card" aria-labelledby="create-title">
            <h2 id="create-title">"New session"</h2>
            <form class="inline-form" on:submit=create>
                <label for="claimed">"Where the candidate says they are (optional)"</label>
                <input id="claimed" placeholder="a city such as Chicago, or 41.88,-87.63" data-testid="claimed-location"
                    prop:value=move || claimed.get() on:input=move |e| claimed.set(event_target_value(&e)) />
                <button class="primary" type="submit" data-testid="create-session" disabled=move || busy.get() || api_key.get().is_empty()>"Create session"</button>
            </form>
            {move || created.get().map(|result| match result {
                Ok(created) => view! { <CreatedLinks created /> }.into_any(),
                Err(why) => view! { <p class="problem" role="alert">{why}</p> }.into_any(),
            })}
        </section>
        <section class="card" aria-labelledby="list-title">
            <h2 id="list-title">"Sessions"</h2>
            <SessionList sessions />
        </section>
    }
}

/// A new session's two links, each with a copy button, and the way to its live verdict.
#[component]
fn CreatedLinks(created: SessionCreatedV1) -> impl IntoView {
    view! {
        <div class="created" data-testid="created" data-session=created.id.clone()>
            <CopyField label="Candidate link: send it to the candidate" value=created.candidate_url.clone() testid="candidate-link" />
            <CopyField label="Interviewer link: keep it to yourself" value=created.interviewer_url.clone() testid="interviewer-link" />
            <p><a href=created.interviewer_url.clone() data-testid="open-interviewer">"Open the live verdict"</a></p>
        </div>
    }
}

/// The list of sessions, or why there is none to show.
#[component]
fn SessionList(sessions: RwSignal<Option<Result<Vec<SessionSummaryV1>, String>>>) -> impl IntoView {
    move || match sessions.get() {
        None => view! { <p class="muted">"Enter the API key to see the sessions."</p> }.into_any(),
        Some(Err(why)) => {
            view! { <p class="problem" role="alert" data-testid="dashboard-problem">{why}</p> }
                .into_any()
        }
        Some(Ok(rows)) if rows.is_empty() => {
            view! { <p class="muted">"No sessions yet: create one above."</p> }.into_any()
        }
        Some(Ok(rows)) => view! { <SessionTable rows /> }.into_any(),
    }
}

/// The sessions, newest first, each with its latest verdict and, when this browser created it,
/// a link to its live verdict.
#[component]
fn SessionTable(rows: Vec<SessionSummaryV1>) -> impl IntoView {
    let links = remembered();
    view! {
        <div class="table-scroll">
        <table class="sessions" data-testid="sessions">
            <caption class="visually-hidden">"Sessions, newest first"</caption>
            <thead><tr><th scope="col">"Session"</th><th scope="col">"Created"</th><th scope="col">"Claimed location"</th><th scope="col">"Verdict"</th><th scope="col">"P(remote)"</th><th scope="col"><span class="visually-hidden">"Open"</span></th></tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let link = links.get(&row.id).and_then(|v| v.get("url")).and_then(|v| v.as_str()).map(str::to_owned);
                    view! { <SessionRow row link /> }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// One session of the table.
#[component]
fn SessionRow(row: SessionSummaryV1, link: Option<String>) -> impl IntoView {
    let class = row.class.clone().unwrap_or_else(|| "waiting".into());
    view! {
        <tr data-session=row.id.clone()>
            <td><code>{row.id.clone()}</code></td>
            <td>{format::time_ms(row.created_at_ms)}</td>
            <td>{row.claimed_location.clone().unwrap_or_else(|| "—".into())}</td>
            <td><span class=format!("pill {class}") data-testid="row-class">{row.class.as_deref().map_or("waiting", format::class_label)}</span></td>
            <td>{row.p_remote.map_or_else(|| "—".to_owned(), format::percent)}</td>
            <td>{match link {
                Some(url) => view! { <a href=url>"Open"</a> }.into_any(),
                None => view! { <span class="muted" title="The interviewer link was created in another browser, or more than a day ago">"link elsewhere"</span> }.into_any(),
            }}</td>
        </tr>
    }
}

/// Calls `tick` every 5 s while the page is open.
fn gloo_interval(tick: impl Fn() + 'static) -> gloo_timers::callback::Interval {
    gloo_timers::callback::Interval::new(5_000, tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_links_are_forgotten_after_a_day() {
        const NOW_S: u64 = 1_800_000_000;
        let stored = serde_json::json!({
            "fresh": { "url": "http://e/interviewer#a", "saved_at_s": NOW_S - 60 },
            "almost": { "url": "http://e/interviewer#b", "saved_at_s": NOW_S - LINK_KEPT_S + 1 },
            "old": { "url": "http://e/interviewer#c", "saved_at_s": NOW_S - LINK_KEPT_S },
            "future": { "url": "http://e/interviewer#d", "saved_at_s": NOW_S + 60 },
            "legacy": "http://e/interviewer#e",
            "no_url": { "saved_at_s": NOW_S },
        });
        let stored = stored.as_object().cloned().expect("an object");
        let kept: Vec<String> = fresh_links(stored, NOW_S).keys().cloned().collect();
        assert_eq!(kept, vec!["almost".to_owned(), "fresh".to_owned()]);
    }
}
