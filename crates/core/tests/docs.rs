//! The tables in `docs/verdicts.md` say what the code does: every linear rule's formula and every
//! fixed weight is checked against the constants in `verdict.rs`, and every reason code a verdict
//! can carry is listed with what it is about.

#![cfg(not(target_arch = "wasm32"))]

use onsite_core::codes::ReasonCode;
use onsite_core::verdict::{FIXED_WEIGHTS, LINEAR_WEIGHTS};

/// The table row of `docs/verdicts.md` for a reason code.
fn row(code: ReasonCode) -> Option<String> {
    rows(code).into_iter().next()
}

/// Every table row of `docs/verdicts.md` that starts with a reason code.
fn rows(code: ReasonCode) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/verdicts.md");
    let text = std::fs::read_to_string(path).expect("docs/verdicts.md");
    text.lines()
        .filter(|line| line.starts_with(&format!("| `{code}` |")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_reason_code_is_listed_with_what_it_is_about() {
    let drift: Vec<String> = ReasonCode::ALL
        .iter()
        .filter(|code| {
            !rows(**code).iter().any(|line| line == &format!("| `{code}` | {} |", code.about()))
        })
        .map(|code| format!("| `{code}` | {} |", code.about()))
        .collect();
    assert!(drift.is_empty(), "docs/verdicts.md's reason codes lack these rows: {drift:#?}");
}

#[test]
fn the_docs_weight_table_matches_the_code() {
    let mut drift = Vec::new();
    for rule in LINEAR_WEIGHTS {
        match row(rule.code) {
            Some(line) if line.contains(&rule.formula()) => {}
            Some(line) => {
                drift.push(format!("{}: the code weighs {}; {line}", rule.code, rule.formula()))
            }
            None => drift.push(format!("{}: no row", rule.code)),
        }
    }
    for (code, weight) in FIXED_WEIGHTS {
        match row(code) {
            Some(line) if line.contains(&format!("| +{weight} |")) => {}
            Some(line) => drift.push(format!("{code}: the code weighs +{weight}; {line}")),
            None => drift.push(format!("{code}: no row")),
        }
    }
    assert!(drift.is_empty(), "docs/verdicts.md disagrees with verdict.rs: {drift:#?}");
}

#[test]
fn formulas_read_as_the_docs_write_them() {
    let formulas: Vec<String> = LINEAR_WEIGHTS.iter().map(|rule| rule.formula()).collect();
    assert!(formulas.contains(&"clamp(40·(f − 0.02), −0.3, 6)".to_owned()), "{formulas:?}");
    assert!(formulas.contains(&"clamp((added − 40) / 15, −1, 6)".to_owned()), "{formulas:?}");
    assert!(formulas.contains(&"clamp(6·f, 0, 3)".to_owned()), "{formulas:?}");
}
