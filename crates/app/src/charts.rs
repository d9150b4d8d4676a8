//! Small SVG charts for the interviewer's page: a line over time, a histogram against the local
//! human band, dots per beat and intervals against a prior. Each has a title, a description for
//! screen readers, and draws with the Okabe-Ito colours in the stylesheet.

use leptos::prelude::*;

/// The drawing area inside the SVG's view box (the rest holds the axes' labels).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// A value range with a little room, never empty.
fn range(values: impl Iterator<Item = f64>, include: &[f64]) -> (f64, f64) {
    let (mut low, mut high) = values
        .chain(include.iter().copied())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !low.is_finite() || !high.is_finite() {
        return (0.0, 1.0);
    }
    if high - low < 1e-9 {
        high = low + 1.0;
    }
    let pad = (high - low) * 0.05;
    // A range of values that cannot be negative does not pad below zero.
    low = if low >= 0.0 { (low - pad).max(0.0) } else { low - pad };
    high += pad;
    (low, high)
}

fn x_of(value: f64, (low, high): (f64, f64)) -> f64 {
    LEFT + (value - low) / (high - low) * (WIDTH - LEFT - 4.0)
}

fn y_of(value: f64, (low, high): (f64, f64)) -> f64 {
    TOP + (1.0 - (value - low) / (high - low)) * (HEIGHT - TOP - BOTTOM)
}

/// Three tick values across a range, rounded for reading.
fn ticks((low, high): (f64, f64)) -> [f64; 3] {
    [low, (low + high) / 2.0, high].map(|v| {
        if (high - low) > 20.0 {
            v.round()
        } else {
            (v * 10.0).round() / 10.0
        }
    })
}

/// The axes with their labels, under the marks.
fn axes(x: (f64, f64), y: (f64, f64), x_label: String, y_label: String) -> impl IntoView {
    view! {
        <line class="axis" x1=LEFT y1=HEIGHT - BOTTOM x2=WIDTH y2=HEIGHT - BOTTOM />
        <line class="axis" x1=LEFT y1=TOP x2=LEFT y2=HEIGHT - BOTTOM />
        {ticks(y).into_iter().map(|v| view! { <text class="tick" x=LEFT - 4.0 y=y_of(v, y) + 4.0 text-anchor="end">{v.to_string()}</text> }).collect_view()}
        {ticks(x).into_iter().map(|v| view! { <text class="tick" x=x_of(v, x) y=HEIGHT - 6.0 text-anchor="middle">{v.to_string()}</text> }).collect_view()}
        <text class="label" x=WIDTH - 4.0 y=HEIGHT - BOTTOM - 4.0 text-anchor="end">{x_label}</text>
        <text class="label" x=LEFT + 4.0 y=TOP + 10.0>{y_label}</text>
    }
}

/// A frame for a chart: heading, SVG with title and description, or a sentence when empty.
fn frame(
    id: &'static str,
    title: &'static str,
    description: String,
    empty: bool,
    marks: AnyView,
) -> AnyView {
    let heading = format!("{id}-title");
    let desc = format!("{id}-desc");
    let labelled_by = format!("{heading} {desc}");
    view! {
        <figure class="chart" data-testid=id>
            <figcaption id=heading>{title}</figcaption>
            {if empty {
                view! { <p class="muted">"Not measured yet (or the task was skipped)."</p> }.into_any()
            } else {
                view! {
                    <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-labelledby=labelled_by>
                        <desc id=desc>{description}</desc>
                        {marks}
                    </svg>
                }
                .into_any()
            }}
        </figure>
    }
    .into_any()
}

/// Round trips in the order they were timed.
#[component]
pub fn RttChart(rtt_ms: Vec<f64>) -> impl IntoView {
    let x = (0.0, (rtt_ms.len().max(2) - 1) as f64);
    let y = range(rtt_ms.iter().copied(), &[0.0]);
    let points: String = rtt_ms
        .iter()
        .enumerate()
        .map(|(i, &v)| format!("{:.1},{:.1} ", x_of(i as f64, x), y_of(v, y)))
        .collect();
    let min = rtt_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let description = format!("{} round trips; the smallest {:.1} ms.", rtt_ms.len(), min);
    let marks = view! {
        {axes(x, y, "probe".into(), "ms".into())}
        <polyline class="series" points=points />
    }
    .into_any();
    frame("chart-rtt", "Round trip to the edge over time", description, rtt_ms.is_empty(), marks)
}

/// A histogram of `values_ms` with the local human band (5th to 95th percentile) shaded.
#[component]
pub fn BandHistogram(
    id: &'static str,
    title: &'static str,
    values_ms: Vec<f64>,
    band_ms: (f64, f64),
    bin_ms: f64,
) -> impl IntoView {
    let x = range(values_ms.iter().copied(), &[band_ms.0, band_ms.1]);
    let bins = ((x.1 - x.0) / bin_ms).ceil().max(1.0) as usize;
    let mut counts = vec![0usize; bins];
    for v in &values_ms {
        let bin = (((v - x.0) / bin_ms) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let y = (0.0, counts.iter().copied().max().unwrap_or(1).max(1) as f64);
    let inside = values_ms.iter().filter(|v| (band_ms.0..=band_ms.1).contains(v)).count();
    let description = format!(
        "{} values; {} of them ({:.0}%) inside the local human band of {:.0} to {:.0} ms.",
        values_ms.len(),
        inside,
        100.0 * inside as f64 / values_ms.len().max(1) as f64,
        band_ms.0,
        band_ms.1
    );
    let bar_width = (x_of(x.0 + bin_ms, x) - x_of(x.0, x) - 1.0).max(1.0);
    let marks = view! {
        <rect class="band" x=x_of(band_ms.0, x) y=TOP width=x_of(band_ms.1, x) - x_of(band_ms.0, x) height=HEIGHT - TOP - BOTTOM />
        <text class="band-label" x=x_of(band_ms.1, x) - 4.0 y=TOP + 12.0 text-anchor="end">"local human band"</text>
        {counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(i, &c)| {
            let left = x.0 + i as f64 * bin_ms;
            view! { <rect class="bar" x=x_of(left, x) y=y_of(c as f64, y) width=bar_width height=y_of(0.0, y) - y_of(c as f64, y) /> }
        }).collect_view()}
        {axes(x, y, "ms".into(), "count".into())}
    }
    .into_any();
    frame(id, title, description, values_ms.is_empty(), marks)
}

/// Each beat's tap asynchrony; the unannounced phase shift is marked.
#[component]
pub fn BeatChart(asynchrony_ms: Vec<(u32, f64)>, shift_at_beat: Option<u32>) -> impl IntoView {
    let last = asynchrony_ms.last().map_or(1, |(beat, _)| *beat).max(1);
    let x = (0.0, f64::from(last));
    let y = range(asynchrony_ms.iter().map(|(_, v)| *v), &[0.0]);
    let description = format!(
        "{} beats answered; negative means the tap came before the beat.",
        asynchrony_ms.len()
    );
    let marks = view! {
        {axes(x, y, "beat".into(), "tap − beat, ms".into())}
        <line class="zero" x1=LEFT y1=y_of(0.0, y) x2=WIDTH y2=y_of(0.0, y) />
        {shift_at_beat.map(|beat| view! {
            <line class="shift" x1=x_of(f64::from(beat), x) y1=TOP x2=x_of(f64::from(beat), x) y2=HEIGHT - BOTTOM />
            <text class="band-label" x=x_of(f64::from(beat), x) + 4.0 y=TOP + 12.0>"phase shift"</text>
        })}
        {asynchrony_ms.iter().map(|&(beat, v)| view! { <circle class="dot" cx=x_of(f64::from(beat), x) cy=y_of(v, y) r="4" /> }).collect_view()}
    }
    .into_any();
    frame(
        "chart-taps",
        "Tap asynchrony per beat (rhythm task)",
        description,
        asynchrony_ms.is_empty(),
        marks,
    )
}

/// Estimates with their 95% intervals, each beside the local prior it is judged against.
#[component]
pub fn LagChart(rows: Vec<(String, f64, f64, f64, f64)>) -> impl IntoView {
    let y_rows = rows.len().max(1) as f64;
    let x = range(rows.iter().flat_map(|&(_, e, l, h, prior)| [e, l, h, prior]), &[0.0]);
    let row_y = |i: usize| TOP + (i as f64 + 0.5) * (HEIGHT - TOP - BOTTOM) / y_rows;
    let description = rows
        .iter()
        .map(|(name, e, l, h, prior)| {
            format!("{name}: {e:.0} ms (95% {l:.0} to {h:.0}), local people about {prior:.0} ms.")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let marks = view! {
        {axes(x, (0.0, 1.0), "ms".into(), String::new())}
        {rows.iter().enumerate().map(|(i, (name, e, l, h, prior))| view! {
            <text class="tick" x=LEFT + 4.0 y=row_y(i) - 10.0>{name.clone()}</text>
            <line class="interval" x1=x_of(*l, x) y1=row_y(i) x2=x_of(*h, x) y2=row_y(i) />
            <circle class="dot" cx=x_of(*e, x) cy=row_y(i) r="5" />
            <line class="prior" x1=x_of(*prior, x) y1=row_y(i) - 12.0 x2=x_of(*prior, x) y2=row_y(i) + 12.0 />
        }).collect_view()}
    }
    .into_any();
    frame(
        "chart-lag",
        "Loop latency: estimate and 95% interval (blue) against local people (green)",
        description,
        rows.is_empty(),
        marks,
    )
}

/// The probability of remote control over the session, verdict by verdict.
#[component]
pub fn HistoryChart(p_remote: Vec<f64>) -> impl IntoView {
    let x = (0.0, (p_remote.len().max(2) - 1) as f64);
    let y = (0.0, 100.0);
    let points: String = p_remote
        .iter()
        .enumerate()
        .map(|(i, &p)| format!("{:.1},{:.1} ", x_of(i as f64, x), y_of(p * 100.0, y)))
        .collect();
    let description = format!(
        "{} verdicts; the latest says {:.0}%.",
        p_remote.len(),
        p_remote.last().copied().unwrap_or(0.0) * 100.0
    );
    let marks = view! {
        <line class="threshold" x1=LEFT y1=y_of(50.0, y) x2=WIDTH y2=y_of(50.0, y) />
        <line class="threshold bad" x1=LEFT y1=y_of(90.0, y) x2=WIDTH y2=y_of(90.0, y) />
        {axes(x, y, "verdict".into(), "P(remote) %".into())}
        <polyline class="series" points=points />
    }
    .into_any();
    frame(
        "chart-history",
        "Probability of remote control, verdict by verdict",
        description,
        p_remote.is_empty(),
        marks,
    )
}
