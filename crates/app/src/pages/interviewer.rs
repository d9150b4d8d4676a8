//! The interviewer's page: the session's verdict, live, with its signature verified in the
//! browser by `onsite-core` against the edge's published JWK set; charts of the evidence behind
//! it, the verdict's history, and exports of the token and the evidence.

use leptos::prelude::*;
use leptos::task::spawn_local;
use onsite_core::backoff::Backoff;
use onsite_core::codes::ErrorCode;
use onsite_core::jws::{self, Expect, Jwks};
use onsite_core::wire::{self, Claims, ClientMsg, Role, ServerMsg, VerdictV1, PROTOCOL_VERSION};
use onsite_probe::{page, EdgeSocket, SocketEvent};

use onsite_core::estimators::{LOCAL_ASYNCHRONY_US, LOCAL_TRACKING_LAG_US};
use onsite_core::features::{Series, LOCAL_DWELL_BAND_US, LOCAL_FLIGHT_BAND_US};
use onsite_core::wire::{EvidenceV1, VerdictListV1};
use onsite_core::{Evidence, Features};

use super::Capability;
use crate::charts::{BandHistogram, BeatChart, HistoryChart, LagChart, RttChart};
use crate::format;

/// What the charts draw, computed from the exported evidence by `onsite-core`.
#[derive(Debug, Clone, PartialEq, Default)]
struct Charts {
    series: Series,
    /// (name, estimate, low, high, local prior) in ms.
    lags: Vec<(String, f64, f64, f64, f64)>,
    history: Vec<f64>,
}

fn charts_from(evidence: &Evidence, history: Vec<f64>) -> Charts {
    let challenges = Features::from_evidence(evidence).challenges;
    let series = Series::from_evidence(evidence, &challenges);
    let ms = |us: i64| us as f64 / 1000.0;
    let mut lags = Vec::new();
    if let Some(rhythm) = challenges.rhythm {
        let a = rhythm.asynchrony;
        lags.push((
            "Tap asynchrony".to_owned(),
            ms(a.estimate_us),
            ms(a.low_us),
            ms(a.high_us),
            ms(LOCAL_ASYNCHRONY_US),
        ));
    }
    if let Some(tracking) = challenges.tracking {
        let l = tracking.lag;
        lags.push((
            "Tracking lag".to_owned(),
            ms(l.estimate_us),
            ms(l.low_us),
            ms(l.high_us),
            ms(LOCAL_TRACKING_LAG_US),
        ));
    }
    Charts { series, lags, history }
}

/// Fetches the export and the history with the interviewer's capability.
async fn load_charts(capability: &Capability) -> Result<(Charts, String), String> {
    let base = format!("/api/v1/sessions/{}", capability.session);
    let (status, body) =
        page::request("GET", &format!("{base}/evidence"), Some(&capability.token), None)
            .await
            .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("the evidence could not be loaded (HTTP {status})"));
    }
    // The export is version-1 evidence, the very bytes the token's `evidence_sha256` commits to.
    let evidence = serde_json::from_str::<EvidenceV1>(&body)
        .map_err(|e| e.to_string())
        .and_then(|export| export.to_evidence().map_err(|e| e.to_string()))
        .map_err(|e| format!("the evidence cannot be read: {e}"))?;
    let (status, history_body) =
        page::request("GET", &format!("{base}/verdicts"), Some(&capability.token), None)
            .await
            .map_err(|e| e.to_string())?;
    let history = if status == 200 {
        serde_json::from_str::<VerdictListV1>(&history_body)
            .map(|list| list.verdicts.into_iter().filter_map(|v| v.p_remote).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((charts_from(&evidence, history), body))
}

/// The latest verdict the edge pushed: its token and the verdict sent beside it, unverified.
type Latest = RwSignal<Option<(String, VerdictV1)>>;
/// The charts once loaded, or why they could not be.
type Drawn = RwSignal<Option<Result<Charts, String>>>;

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

    spawn_local(async move {
        let fetched = page::fetch_text("/.well-known/jwks.json")
            .await
            .map_err(|e| e.to_string())
            .and_then(|text| Jwks::parse(&text).map_err(|e| e.to_string()));
        jwks.set(Some(fetched));
    });
    follow_verdicts(&capability, latest, link);
    let checked = verified(&capability, latest, jwks);
    let (charts, evidence_json) = follow_charts(&capability, latest);

    let link_text = move || match link.get() {
        Link::Connecting => "connecting…".to_owned(),
        Link::Live => "live".to_owned(),
        Link::Closed(why) => why,
    };

    view! {
        <div class="interviewer">
            <section class="card" aria-labelledby="verdict-title" aria-live="polite">
                <h1 id="verdict-title">"Session " <code>{capability.session.clone()}</code></h1>
                <p class="muted" data-testid="link">{link_text}</p>
                <VerdictCard latest checked />
            </section>
            <Exports session=capability.session.clone() latest evidence_json />
            <EvidenceCharts charts />
        </div>
    }
}

/// Connects to the edge as the session's interviewer and puts each verdict it pushes in
/// `latest`; after a lost connection connects again with the probe's backoff (0.25, 0.5, 1, 2,
/// then every 4 s), but a refusal of the link itself is final.
fn follow_verdicts(capability: &Capability, latest: Latest, link: RwSignal<Link>) {
    let socket = StoredValue::new_local(None::<EdgeSocket>);
    let connect: StoredValue<Option<std::rc::Rc<dyn Fn()>>, LocalStorage> =
        StoredValue::new_local(None);
    let retry = StoredValue::new_local(None::<gloo_timers::callback::Timeout>);
    let backoff = StoredValue::new_local(Backoff::reconnect());
    let refused = StoredValue::new_local(false);
    let (session, token) = (capability.session.clone(), capability.token.clone());
    connect.set_value(Some(std::rc::Rc::new(move || {
        let hello = ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            role: Role::Interviewer,
            session: session.clone(),
            token: token.clone(),
        };
        let connected = page::socket_url().and_then(|url| {
            EdgeSocket::connect(&url, hello, move |event| match event {
                SocketEvent::Welcome { .. } => {
                    backoff.update_value(Backoff::reset);
                    link.set(Link::Live);
                }
                SocketEvent::Verdict { frame } => match ServerMsg::parse(&frame) {
                    Ok(ServerMsg::Verdict { token, verdict }) => latest.set(Some((token, verdict))),
                    _ => link.set(Link::Closed(
                        "the server sent a verdict this page cannot read; reload the page".into(),
                    )),
                },
                SocketEvent::Error { code, message } => {
                    if code == ErrorCode::Unauthorized {
                        refused.set_value(true);
                        link.set(Link::Closed(format!(
                            "{message}; ask for a new interviewer link"
                        )));
                    } else {
                        link.set(Link::Closed(message));
                    }
                }
                SocketEvent::Closed { .. } if refused.get_value() => {}
                SocketEvent::Closed { .. } => {
                    let wait_ms = backoff.write_value().next_wait_ms();
                    link.set(Link::Closed(format!(
                        "the connection to the server was lost; reconnecting in {} s…",
                        f64::from(wait_ms) / 1000.0
                    )));
                    retry.set_value(Some(gloo_timers::callback::Timeout::new(
                        wait_ms,
                        move || {
                            if let Some(again) = connect.get_value() {
                                again();
                            }
                        },
                    )));
                }
                SocketEvent::Ack(_)
                | SocketEvent::Finished
                | SocketEvent::Measurement { .. }
                | SocketEvent::Beat { .. } => {}
            })
        });
        match connected {
            Ok(open) => socket.set_value(Some(open)),
            Err(error) => link.set(Link::Closed(error.to_string())),
        }
    })));
    if let Some(first) = connect.get_value() {
        first();
    }
}

/// The latest verdict's claims as verified against the key set, once both are there.
///
/// The verdict shown is the one inside the verified token, not the copy sent beside it. It must
/// be about this link's session and name this deployment's audience.
fn verified(
    capability: &Capability,
    latest: Latest,
    jwks: RwSignal<Option<Result<Jwks, String>>>,
) -> Memo<Option<Result<Claims, String>>> {
    let expected_session = capability.session.clone();
    let expected_audience =
        capability.audience.clone().unwrap_or_else(|| jws::DEFAULT_AUDIENCE.to_owned());
    Memo::new(move |_| -> Option<Result<Claims, String>> {
        let (token, _) = latest.get()?;
        match jwks.get()? {
            Ok(keys) => Some(
                wire::verify_verdict(
                    &token,
                    &keys,
                    Expect {
                        subject: Some(&expected_session),
                        ..Expect::new(page::now_s(), &expected_audience)
                    },
                )
                .map_err(|e| e.to_string()),
            ),
            Err(error) => Some(Err(format!("cannot load the signing keys: {error}"))),
        }
    })
}

/// The charts and the exported evidence, loaded again after each new verdict (at most one a
/// second per session).
fn follow_charts(capability: &Capability, latest: Latest) -> (Drawn, RwSignal<Option<String>>) {
    let charts = RwSignal::new(None::<Result<Charts, String>>);
    let evidence_json = RwSignal::new(None::<String>);
    let loading = StoredValue::new(false);
    let for_charts = capability.clone();
    Effect::new(move |_| {
        if latest.get().is_none() || loading.get_value() {
            return;
        }
        loading.set_value(true);
        let capability = for_charts.clone();
        spawn_local(async move {
            match load_charts(&capability).await {
                Ok((drawn, body)) => {
                    charts.set(Some(Ok(drawn)));
                    evidence_json.set(Some(body));
                }
                Err(why) => charts.set(Some(Err(why))),
            }
            loading.set_value(false);
        });
    });
    (charts, evidence_json)
}

/// The latest verdict with its signature badge, figures and reasons, or a wait for the first.
#[component]
fn VerdictCard(latest: Latest, checked: Memo<Option<Result<Claims, String>>>) -> impl IntoView {
    move || {
        let Some((_, unverified)) = latest.get() else {
            return view! { <p class="muted" data-testid="waiting">"Waiting for the candidate to start the check…"</p> }.into_any();
        };
        let (verdict, badge, badge_class) = match checked.get() {
            Some(Ok(claims)) => (claims.verdict, "signature verified".to_owned(), "badge ok"),
            Some(Err(why)) => (unverified, format!("signature NOT verified: {why}"), "badge bad"),
            None => (unverified, "verifying signature…".to_owned(), "badge"),
        };
        view! { <VerdictFigures verdict badge badge_class /> }.into_any()
    }
}

/// A verdict's class, probability, signature badge, figures and reasons.
#[component]
fn VerdictFigures(verdict: VerdictV1, badge: String, badge_class: &'static str) -> impl IntoView {
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
}

/// Downloads of the signed verdict and the evidence, and a copy of the token, once there is a
/// verdict.
#[component]
fn Exports(
    session: String,
    latest: Latest,
    evidence_json: RwSignal<Option<String>>,
) -> impl IntoView {
    move || {
        let (token, _) = latest.get()?;
        let session = session.clone();
        let token_url = page::data_url("application/jwt", &token);
        let evidence = evidence_json.get().map(|json| page::data_url("application/json", &json));
        let copy = move |_| {
            let token = token.clone();
            spawn_local(async move {
                let _ = page::copy_text(&token).await;
            });
        };
        Some(view! {
            <section class="card" aria-labelledby="export-title">
                <h2 id="export-title">"Export"</h2>
                <div class="actions">
                    <a class="button" href=token_url download=format!("onsite-{session}.jwt") data-testid="export-token">"Download the signed verdict"</a>
                    <button class="secondary" on:click=copy data-testid="copy-token">"Copy the token"</button>
                    {evidence.map(|url| view! { <a class="button" href=url download=format!("onsite-{session}-evidence.json") data-testid="export-evidence">"Download the evidence (JSON)"</a> })}
                </div>
                <p class="muted">"A portal checks the token at "<a href="/gate">"the onboarding gate"</a>" or with "<code>"onsite verify"</code>"."</p>
            </section>
        })
    }
}

/// The charts of the evidence behind the verdict, or why they could not be drawn.
#[component]
fn EvidenceCharts(charts: Drawn) -> impl IntoView {
    move || match charts.get() {
        None => None,
        Some(Err(why)) => Some(
            view! { <section class="card"><p class="problem" role="alert">{why}</p></section> }
                .into_any(),
        ),
        Some(Ok(drawn)) => {
            let ms = |(low, high): (i64, i64)| (low as f64 / 1000.0, high as f64 / 1000.0);
            Some(view! {
                <section class="card charts" aria-labelledby="charts-title" data-testid="charts">
                    <h2 id="charts-title">"Evidence"</h2>
                    <HistoryChart p_remote=drawn.history.clone() />
                    <RttChart rtt_ms=drawn.series.rtt_ms.clone() />
                    <BandHistogram id="chart-dwell" title="Key hold times against the local human band" values_ms=drawn.series.dwell_ms.clone() band_ms=ms(LOCAL_DWELL_BAND_US) bin_ms=10.0 />
                    <BandHistogram id="chart-flight" title="Release-to-press gaps against the local human band" values_ms=drawn.series.flight_ms.clone() band_ms=ms(LOCAL_FLIGHT_BAND_US) bin_ms=40.0 />
                    <BeatChart asynchrony_ms=drawn.series.asynchrony_ms.clone() shift_at_beat=drawn.series.shift_at_beat />
                    <LagChart rows=drawn.lags.clone() />
                </section>
            }.into_any())
        }
    }
}
