//! Verdicts on the rhythm task the edge ran itself, from the wire up: the edge's clock counts
//! both ways, the page's times only as a cross-check, and a page caught misreporting is never
//! `local`. Each case is a forgery or an honest run, scored through `EvidenceV1` as stored.

use onsite_core::attested::{EdgeRhythm, EdgeTap};
use onsite_core::codes::ReasonCode;
use onsite_core::estimators::{Answer, Outcome, Rhythm};
use onsite_core::verdict::{score, VerdictClass};
use onsite_core::wire::EvidenceV1;
use onsite_core::{Evidence, Features, KeyClass, KeyStroke};

const OFFSET_US: i64 = 7_000_000_000;
const RTT_US: i64 = 24_000;

/// Forty presses of local typing and five edge-timed round trips.
fn typing() -> Evidence {
    let strokes = (0..40)
        .map(|i| KeyStroke {
            down_at_us: i * 180_000 + (i % 3) * 17_000,
            up_at_us: i * 180_000 + (i % 3) * 17_000 + 90_000 + (i % 5) * 9_000,
            class: KeyClass::Letter,
            repeats: 0,
            repeat_gaps_us: vec![],
            trusted: true,
        })
        .collect();
    Evidence {
        strokes,
        rtt_us: vec![24_000, 25_000, 26_000, 27_000, 28_000],
        ..Evidence::default()
    }
}

/// The edge's run: 24 beats with the shift at beat 12, answered `loop_ms` after a local person
/// would, reported by the page `early_ms` earlier than they were sent. The page's own rhythm
/// result claims what it reports.
fn with_rhythm(loop_ms: i64, early_ms: i64) -> Evidence {
    let beats_sent_us: Vec<i64> =
        (0..24).map(|i| 2_000_000 + i * 600_000 + if i >= 12 { 150_000 } else { 0 }).collect();
    let taps: Vec<EdgeTap> = beats_sent_us
        .iter()
        .enumerate()
        .map(|(i, sent_us)| {
            let left_page_us =
                sent_us + RTT_US / 2 - 30_000 + loop_ms * 1000 + [(-9_000), 6_000, 2_000][i % 3];
            EdgeTap {
                arrived_us: left_page_us + RTT_US / 2,
                page_at_us: left_page_us + OFFSET_US - early_ms * 1000,
            }
        })
        .collect();
    let page_rhythm = Rhythm {
        beats_at_us: beats_sent_us.iter().map(|b| b + RTT_US / 2 + OFFSET_US).collect(),
        shift_at_beat: Some(12),
        taps_at_us: taps.iter().map(|t| t.page_at_us).collect(),
        answer: Answer::Key,
    };
    let run = EdgeRhythm {
        beats_sent_us,
        shift_at_beat: Some(12),
        taps,
        rtt_min_us: RTT_US,
        page_offset_us: Some(OFFSET_US),
        offset_spread_us: 800,
    };
    Evidence { edge_rhythm: Some(run), rhythm: Some(Outcome::Done(page_rhythm)), ..typing() }
}

/// Scores evidence as the edge stores it.
fn scored(evidence: &Evidence) -> onsite_core::Verdict {
    let stored = EvidenceV1::from_evidence(evidence);
    let decoded = stored.to_evidence().expect("stored evidence decodes");
    score(&Features::from_evidence(&decoded))
}

fn weight(verdict: &onsite_core::Verdict, code: ReasonCode) -> Option<f64> {
    verdict.reasons.iter().find(|r| r.code == code).map(|r| r.weight)
}

#[test]
fn an_honest_local_run_is_local_on_the_edges_clock() {
    let verdict = scored(&with_rhythm(0, 0));
    assert_eq!(verdict.class, VerdictClass::Local, "{verdict:#?}");
    assert!(weight(&verdict, ReasonCode::LoopLatency).is_some_and(|w| w < 0.0), "{verdict:#?}");
    assert_eq!(weight(&verdict, ReasonCode::TimingInconsistent), None);
}

#[test]
fn an_operator_110_ms_behind_is_remote_however_the_page_reports_it() {
    for (name, early_ms) in [("reported honestly", 0), ("reported 110 ms earlier", 110)] {
        let verdict = scored(&with_rhythm(110, early_ms));
        assert_ne!(verdict.class, VerdictClass::Local, "{name}: {verdict:#?}");
        assert!(
            weight(&verdict, ReasonCode::LoopLatency).is_some_and(|w| w >= 3.0),
            "{name}: the edge's clock shows the loop: {verdict:#?}"
        );
        assert!(verdict.loop_added_ms.is_some());
    }
    let forged = scored(&with_rhythm(110, 110));
    assert!(weight(&forged, ReasonCode::TimingInconsistent).is_some(), "{forged:#?}");
}

#[test]
fn a_page_that_reports_early_taps_is_caught_even_when_its_loop_is_local() {
    // Times shifted for no gain are still a page misreporting: never `local`.
    let verdict = scored(&with_rhythm(0, 80));
    assert_eq!(weight(&verdict, ReasonCode::TimingInconsistent), Some(2.0), "{verdict:#?}");
    assert_ne!(verdict.class, VerdictClass::Local, "{verdict:#?}");
}

#[test]
fn a_loop_only_the_page_timed_counts_against_a_session_never_for_it() {
    let mut local = with_rhythm(0, 0);
    local.edge_rhythm = None;
    let verdict = scored(&local);
    assert_eq!(weight(&verdict, ReasonCode::LoopLatency), Some(0.0), "{verdict:#?}");
    let mut remote = with_rhythm(110, 0);
    remote.edge_rhythm = None;
    let verdict = scored(&remote);
    assert!(weight(&verdict, ReasonCode::LoopLatency).is_some_and(|w| w >= 3.0), "{verdict:#?}");
}

#[test]
fn taps_far_earlier_than_any_local_persons_never_count_for_the_session() {
    // 120 ms ahead of a local person's: what a loop too long to unwrap looks like.
    let verdict = scored(&with_rhythm(-120, 0));
    assert!(weight(&verdict, ReasonCode::LoopLatency).is_some_and(|w| w >= 0.0), "{verdict:#?}");
}

#[test]
fn taps_scattered_over_the_period_never_count_for_the_session() {
    // What a viewer that shows a picture every few hundred milliseconds produces: taps all over
    // the beat, whose median may happen to look local.
    let mut scattered = with_rhythm(0, 0);
    if let Some(run) = scattered.edge_rhythm.as_mut() {
        for (i, tap) in run.taps.iter_mut().enumerate() {
            let jump_us = [(-110_000), 140_000, 0, 120_000, -100_000, 130_000, -90_000][i % 7];
            tap.arrived_us += jump_us;
            tap.page_at_us += jump_us;
        }
    }
    let verdict = scored(&scattered);
    assert!(weight(&verdict, ReasonCode::LoopLatency).is_some_and(|w| w >= 0.0), "{verdict:#?}");
}
