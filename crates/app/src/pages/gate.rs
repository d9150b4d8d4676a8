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
        let text = token.get_untracked().trim().to_owned();
        if text.is_empty() {
            answer.set(Some(Err(
                "Paste the verdict token first: three parts separated by dots, starting with “ey”."
                    .into(),
            )));
            return;
        }
        let max_age_s = match max_age_h.get_untracked().trim() {
            "" => None,
            hours => match hours.parse::<f64>() {
                Ok(h) if h > 0.0 => Some((h * 3600.0).round() as u64),
                _ => {
                    answer.set(Some(Err("The maximum age must be a number of hours above zero, or empty for no limit.".into())));
                    return;
                }
            },
        };
        let require = allowed.get_untracked();
        if require.is_empty() {
            answer.set(Some(Err(
                "Tick at least one verdict that may pass: with none ticked, nothing can ship."
                    .into(),
            )));
            return;
        }
        let expected_session = session.get_untracked().trim().to_owned();
        if expected_session.is_empty() {
            answer.set(Some(Err("Enter the session this laptop's candidate was interviewed in (its id, as the dashboard lists it): a verdict about another session must not ship this laptop.".into())));
            return;
        }
        let aud = audience.get_untracked().trim().to_owned();
        let request = VerifyRequestV1 {
            aud: (!aud.is_empty()).then_some(aud),
            iss: None,
            max_age_s,
            require: Some(require),
            sub: Some(expected_session),
            token: text,
        };
        // Serialising strings and numbers cannot fail; an empty body would be refused.
        let body = serde_json::to_string(&request).unwrap_or_default();
        busy.set(true);
        spawn_local(async move {
            let result = match page::request("POST", "/api/v1/verify", None, Some(&body)).await {
                Ok((200, body)) => serde_json::from_str::<VerifyAnswerV1>(&body)
                    .map_err(|e| format!("the edge's answer cannot be read: {e}")),
                Ok((status, body)) => Err(serde_json::from_str::<ApiErrorV1>(&body)
                    .map(|answer| answer.error)
                    .unwrap_or_else(|_| format!("the edge answered HTTP {status}"))),
                Err(error) => Err(format!(
                    "cannot reach the edge ({error}); check your connection and try again"
                )),
            };
            answer.set(Some(result));
            busy.set(false);
        });
    };

    let result = move || {
        answer.get().map(|result| match result {
            Err(why) => view! { <p class="problem" role="alert" data-testid="gate-problem">{why}</p> }.into_any(),
            Ok(answer) => {
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
                .into_any()
            }
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
