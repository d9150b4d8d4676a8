//! Plain formatting of verdict numbers for people; no scoring happens here.

/// A class name as a label.
pub fn class_label(class: &str) -> &'static str {
    match class {
        "local" => "Local",
        "remote_suspected" => "Remote control suspected",
        "remote" => "Remote control",
        _ => "Inconclusive",
    }
}

/// Milliseconds with one decimal, or a dash when unknown.
pub fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} ms"))
}

/// A probability as a whole percentage.
pub fn percent(p: f64) -> String {
    format!("{:.0}%", p * 100.0)
}

/// The added loop latency with its interval, or why there is none.
pub fn loop_latency(value: Option<onsite_core::wire::LoopLatencyV1>) -> String {
    value.map_or_else(
        || "not measured".to_owned(),
        |l| format!("{:.0} ms ({:.0} to {:.0})", l.estimate, l.low, l.high),
    )
}

/// A location check in words.
pub fn location(value: Option<&onsite_core::wire::LocationV1>) -> String {
    match value {
        None => "not claimed".to_owned(),
        Some(l) => match l.by_km {
            Some(km) => format!("{} by at least {km:.0} km", l.status),
            None => l.status.clone(),
        },
    }
}
