//! The onboarding gate: a portal's person pastes a verdict token and the session it must be about,
//! sets the policy (classes that pass, maximum age, audience), and the edge answers "ship" or
//! "hold" with its reasons (`POST /api/v1/verify`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use onsite_core::wire::{ApiErrorV1, DecisionV1, VerifyAnswerV1, VerifyRequestV1};
use onsite_probe::page;

const CLASSES: [(&str, &str); 4] = [
    ("local", "Local"),
    ("inconclusive", "Inconclusive"),
    ("remote_suspected", "Remote control suspected"),
    ("remote", "Remote control"),
];

/// Reads the form into a request for the edge, or says what to fix first.
fn verify_request(
    token: &str,
    max_age_h: &str,
    require: Vec<String>,
    session: &str,
    audience: &str,
) -> Result<VerifyRequestV1, String> {
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(
            "Paste the verdict token first: three parts separated by dots, starting with “ey”."
                .into(),
        );
    }
    let max_age_s =
        match max_age_h.trim() {
            "" => None,
            hours => match hours.parse::<f64>() {
                Ok(h) if h > 0.0 => Some((h * 3600.0).round() as u64),
                _ => return Err(
                    "The maximum age must be a number of hours above zero, or empty for no limit."
                        .into(),
                ),
            },
        };
    if require.is_empty() {
        return Err(
            "Tick at least one verdict that may pass: with none ticked, nothing can ship.".into()
        );
    }
    let session = session.trim().to_owned();
    if session.is_empty() {
        return Err("Enter the session this laptop's candidate was interviewed in (its id, as the dashboard lists it): a verdict about another session must not ship this laptop.".into());
    }
    let audience = audience.trim().to_owned();
    Ok(VerifyRequestV1 {
        aud: (!audience.is_empty()).then_some(audience),
        iss: None,
        max_age_s,
        require: Some(require),
        sub: Some(session),
        token,
    })
}

/// Asks the edge whether the token ships under the request's policy.
async fn ask_edge(request: &VerifyRequestV1) -> Result<VerifyAnswerV1, String> {
    // Serialising strings and numbers cannot fail; an empty body would be refused.
    let body = serde_json::to_string(request).unwrap_or_default();
    match page::request("POST", "/api/v1/verify", None, Some(&body)).await {
        Ok((200, body)) => serde_json::from_str::<VerifyAnswerV1>(&body)
            .map_err(|e| format!("the edge's answer cannot be read: {e}")),
        Ok((status, body)) => Err(serde_json::from_str::<ApiErrorV1>(&body)
            .map(|answer| answer.error)
            .unwrap_or_else(|_| format!("the edge answered HTTP {status}"))),
        Err(error) => {
            Err(format!("cannot reach the edge ({error}); check your connection and try again"))
        }
    }
}

#[component]
pub fn GatePage() -> impl IntoView {
    let token = RwSignal::new(String::new());
    let allowed = RwSignal::new(vec!["local".to_owned()]);
    let max_age_h = RwSignal::new("72".to_owned());
    let session = RwSignal::new(String::new());
    // Empty: the edge's own audience (its `--audience`).
    let audience = RwSignal::new(String::new());
    let answer = RwSignal::new(None::<Result<VerifyAnswerV1, String>>);
    let busy = RwSignal::new(false);

    let check = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let request = match verify_request(
            &token.get_untracked(),
            &max_age_h.get_untracked(),
            allowed.get_untracked(),
            &session.get_untracked(),
            &audience.get_untracked(),
        ) {
            Ok(request) => request,
            Err(why) => return answer.set(Some(Err(why))),
        };
        busy.set(true);
        spawn_local(async move {
            answer.set(Some(ask_edge(&request).await));
            busy.set(false);
        });
    };

    let result = move || {
        answer.get().map(|result| match result {
            Err(why) => {
                view! { <p class="problem" role="alert" data-testid="gate-problem">{why}</p> }
                    .into_any()
            }
            Ok(answer) => view! { <GateAnswer answer /> }.into_any(),
        })
    };

    view! {
        <section class="card" aria-labelledby="gate-title">
            <h1 id="gate-title">"Onboarding gate"</h1>
            <p>"Check a candidate's signed verdict before shipping a laptop. The edge verifies the signature and applies your policy."</p>
            <form on:submit=check>
                <label for="token">"Verdict token"</label>
                <textarea id="token" rows="4" spellcheck="false" data-testid="gate-token"
                    prop:value=move || token.get() on:input=move |e| token.set(event_target_value(&e))></textarea>
                <label for="session">"Session (the candidate's session id)"</label>
                <input id="session" spellcheck="false" autocomplete="off" data-testid="gate-session"
                    prop:value=move || session.get() on:input=move |e| session.set(event_target_value(&e)) />
                <ClassChecks allowed />
                <div class="inline-form">
                    <label for="max-age">"Maximum age (hours; empty for none)"</label>
                    <input id="max-age" inputmode="decimal" data-testid="gate-max-age" prop:value=move || max_age_h.get() on:input=move |e| max_age_h.set(event_target_value(&e)) />
                    <label for="audience">"Audience (empty for this edge's)"</label>
                    <input id="audience" data-testid="gate-audience" placeholder="this edge's audience" prop:value=move || audience.get() on:input=move |e| audience.set(event_target_value(&e)) />
                </div>
                <button class="primary" type="submit" data-testid="gate-check" disabled=move || busy.get()>"Check"</button>
            </form>
            <div aria-live="polite">{result}</div>
        </section>
    }
}

/// The ticks for the verdict classes that may pass.
#[component]
fn ClassChecks(allowed: RwSignal<Vec<String>>) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Verdicts that may pass"</legend>
            {CLASSES.into_iter().map(|(name, label)| {
                let id = format!("allow-{name}");
                let label_for = id.clone();
                view! {
                    <label class="check" for=label_for>
                        <input type="checkbox" id=id data-testid=format!("allow-{name}")
                            prop:checked=move || allowed.get().iter().any(|a| a == name)
                            on:change=move |e| {
                                let on = event_target_checked(&e);
                                allowed.update(|list| {
                                    list.retain(|a| a != name);
                                    if on { list.push(name.to_owned()); }
                                });
                            } />
                        {label}
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}

/// The edge's answer: ship or hold, the signature, the session and class, and the reasons.
#[component]
fn GateAnswer(answer: VerifyAnswerV1) -> impl IntoView {
    let ship = answer.decision == DecisionV1::Ship;
    let subject = answer.claims.as_ref().map_or_else(|| "—".to_owned(), |c| c.sub.clone());
    let class = answer.claims.as_ref().map_or_else(|| "—".to_owned(), |c| c.verdict.class.clone());
    view! {
        <div class=if ship { "decision ship" } else { "decision hold" } role="status" data-testid="decision" data-decision=answer.decision.as_str()>
            <p class="decision-word">{if ship { "Ship" } else { "Hold" }}</p>
            <p>{if ship {
                "The token is genuine and its verdict passes this policy."
            } else if answer.valid {
                "The token is genuine, but its verdict does not pass this policy."
            } else {
                "The token cannot be trusted."
            }}</p>
        </div>
        <dl class="figures">
            <dt>"Signature"</dt><dd data-testid="gate-valid">{if answer.valid { "verified" } else { "not verified" }}</dd>
            <dt>"Session"</dt><dd><code>{subject}</code></dd>
            <dt>"Verdict"</dt><dd>{class}</dd>
        </dl>
        <h2>"Reasons"</h2>
        <ul class="reasons" data-testid="gate-reasons">{answer.reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_request_or_says_what_to_fix() {
        let local = || vec!["local".to_owned()];
        let request = verify_request(" ey.a.b ", "1.5", local(), " s1 ", "").expect("a request");
        assert_eq!(
            (request.token.as_str(), request.max_age_s, request.sub.as_deref(), request.aud),
            ("ey.a.b", Some(5400), Some("s1"), None)
        );
        let request = verify_request("t", "", local(), "s1", "other").expect("a request");
        assert_eq!((request.max_age_s, request.aud.as_deref()), (None, Some("other")));
        let refused = |token, hours, require, session| {
            verify_request(token, hours, require, session, "").err().unwrap_or_default()
        };
        assert!(refused(" ", "72", local(), "s1").starts_with("Paste the verdict token"));
        assert!(refused("t", "0", local(), "s1").starts_with("The maximum age"));
        assert!(refused("t", "soon", local(), "s1").starts_with("The maximum age"));
        assert!(refused("t", "72", Vec::new(), "s1").starts_with("Tick at least one"));
        assert!(refused("t", "72", local(), " ").starts_with("Enter the session"));
    }
}
