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

/// A time since the Unix epoch (ms) as `YYYY-MM-DD HH:MM UTC`.
pub fn time_ms(at_ms: i64) -> String {
    let days = at_ms.div_euclid(86_400_000);
    let minute_of_day = at_ms.rem_euclid(86_400_000) / 60_000;
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", minute_of_day / 60, minute_of_day % 60)
}
