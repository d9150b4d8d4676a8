//! The interviewer's page: the session's verdict, live, with its signature verified in the
//! browser by `onsite-core` against the edge's published JWK set.

use leptos::prelude::*;
use leptos::task::spawn_local;
use onsite_core::jws::{self, Claims, Expect, Jwks};
use onsite_core::wire::{ClientMsg, Role, ServerMsg, VerdictV1, PROTOCOL_VERSION};
use onsite_probe::{page, EdgeSocket, SocketEvent};

use super::Capability;
use crate::format;

#[derive(Debug, Clone, PartialEq)]
enum Link {
    Connecting,
    Live,
    Closed(String),
}

#[component]
pub fn InterviewerPage(capability: Capability) -> impl IntoView {
    let latest = RwSignal::new(None::<(String, VerdictV1)>);
    let jwks = RwSignal::new(None::<Result<Jwks, String>>);
    let link = RwSignal::new(Link::Connecting);
    let socket = StoredValue::new_local(None::<EdgeSocket>);

    spawn_local(async move {
        let fetched = page::fetch_text("/.well-known/jwks.json")
            .await
            .map_err(|e| e.to_string())
            .and_then(|text| Jwks::parse(&text).map_err(|e| e.to_string()));
        jwks.set(Some(fetched));
    });

    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        role: Role::Interviewer,
        session: capability.session.clone(),
        token: capability.token.clone(),
    };
    let connected = page::socket_url().and_then(|url| {
        EdgeSocket::connect(&url, hello, move |event| match event {
            SocketEvent::Welcome { .. } => link.set(Link::Live),
            SocketEvent::Verdict { frame } => match ServerMsg::parse(&frame) {
                Ok(ServerMsg::Verdict { token, verdict }) => latest.set(Some((token, verdict))),
                _ => link.set(Link::Closed("the server sent a verdict this page cannot read; reload the page".into())),
            },
            SocketEvent::Error { message, .. } => link.set(Link::Closed(message)),
            SocketEvent::Closed { code, reason } => link.update(|l| {
                if !matches!(l, Link::Closed(_)) {
                    *l = Link::Closed(if reason.is_empty() { format!("the connection closed (code {code}); reload to reconnect") } else { reason });
                }
            }),
            SocketEvent::Ack(_) | SocketEvent::Finished | SocketEvent::Measurement { .. } => {}
        })
    });
    match connected {
        Ok(open) => socket.set_value(Some(open)),
        Err(error) => link.set(Link::Closed(error.to_string())),
    }

    // The verdict shown is the one inside the verified token, not the copy sent beside it.
    let checked = Memo::new(move |_| -> Option<Result<Claims, String>> {
        let (token, _) = latest.get()?;
        match jwks.get()? {
            Ok(keys) => Some(
                jws::verify(&token, &keys, Expect { now_s: page::now_s(), audience: Some("onsite"), leeway_s: 60 })
                    .map_err(|e| e.to_string()),
            ),
            Err(error) => Some(Err(format!("cannot load the signing keys: {error}"))),
        }
    });

    let link_text = move || match link.get() {
        Link::Connecting => "connecting…".to_owned(),
        Link::Live => "live".to_owned(),
        Link::Closed(why) => why,
    };

    let card = move || {
        let Some((_, unverified)) = latest.get() else {
            return view! { <p class="muted" data-testid="waiting">"Waiting for the candidate to start the check…"</p> }.into_any();
        };
        let (verdict, badge, badge_class) = match checked.get() {
            Some(Ok(claims)) => (claims.verdict, "signature verified".to_owned(), "badge ok"),
            Some(Err(why)) => (unverified, format!("signature NOT verified: {why}"), "badge bad"),
            None => (unverified, "verifying signature…".to_owned(), "badge"),
        };
        let class_css = format!("verdict {}", verdict.class);
        view! {
            <div class=class_css>
                <p class="verdict-class" data-testid="verdict-class" data-class=verdict.class.clone()>{format::class_label(&verdict.class)}</p>
                <p class="muted">"probability of remote control " <span data-testid="p-remote">{format::percent(verdict.p_remote)}</span></p>
            </div>
            <p class=badge_class data-testid="signature">{badge}</p>
            <dl class="figures">
                <dt>"Key presses"</dt><dd data-testid="keystrokes">{verdict.keystrokes}</dd>
                <dt>"Round trip, minimum"</dt><dd data-testid="rtt-min" data-ms=verdict.rtt_min_ms.map(|v| v.to_string())>{format::ms(verdict.rtt_min_ms)}</dd>
                <dt>"Round trip, median"</dt><dd data-testid="rtt-median" data-ms=verdict.rtt_median_ms.map(|v| v.to_string())>{format::ms(verdict.rtt_median_ms)}</dd>
                <dt>"Key hold, median"</dt><dd>{format::ms(verdict.dwell_median_ms)}</dd>
                <dt>"Added loop latency"</dt><dd data-testid="loop-added">{format::loop_latency(verdict.loop_added_ms)}</dd>
                <dt>"Claimed location"</dt><dd data-testid="location">{format::location(verdict.location.as_ref())}</dd>
            </dl>
            <h2>"Why"</h2>
            <ul class="reasons">
                {verdict.reasons.into_iter().map(|r| {
                    let sign = if r.weight > 0.0 { "toward remote" } else if r.weight < 0.0 { "toward local" } else { "not scored" };
                    view! { <li><span class="weight">{format!("{:+.2}", r.weight)}</span>" "{r.text}<span class="visually-hidden">{format!(" ({sign})")}</span></li> }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };

    view! {
        <section class="card" aria-labelledby="verdict-title" aria-live="polite">
            <h1 id="verdict-title">"Session " <code>{capability.session.clone()}</code></h1>
            <p class="muted" data-testid="link">{link_text}</p>
            {card}
        </section>
    }
}
