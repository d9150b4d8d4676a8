//! Invariants of scoring, checked on generated evidence with proptest.

#![cfg(not(target_arch = "wasm32"))]

use onsite_core::features::{MIN_RTT_SAMPLES, MIN_STROKES};
use onsite_core::verdict::{PRIOR_REMOTE, REMOTE_AT, SUSPECT_AT};
use onsite_core::{score, Evidence, Features, KeyClass, KeyStroke, VerdictClass};
use proptest::prelude::*;

fn stroke() -> impl Strategy<Value = KeyStroke> {
    (0i64..600_000_000, 0i64..400_000, 0u32..3, any::<bool>()).prop_map(
        |(down_at_us, dwell_us, repeats, trusted)| KeyStroke {
            down_at_us,
            up_at_us: down_at_us + dwell_us,
            class: KeyClass::Letter,
            repeats,
            repeat_gaps_us: vec![],
            trusted,
        },
    )
}

fn evidence() -> impl Strategy<Value = Evidence> {
    (prop::collection::vec(stroke(), 0..120), prop::collection::vec(1u64..2_000_000, 0..40))
        .prop_map(|(strokes, rtt_us)| Evidence { strokes, rtt_us, ..Evidence::default() })
}

/// Presses a person makes: held 60-140 ms, well apart from each other and from everything else.
fn local_typing(after_us: i64, count: usize) -> Vec<KeyStroke> {
    (0..count)
        .map(|i| {
            let down_at_us = after_us + 1_000_000 + i64::try_from(i).unwrap_or(0) * 180_000;
            KeyStroke {
                down_at_us,
                up_at_us: down_at_us + 60_000 + (down_at_us % 80_000),
                class: KeyClass::Letter,
                repeats: 0,
                repeat_gaps_us: vec![],
                trusted: true,
            }
        })
        .collect()
}

proptest! {
    /// The probability is the prior moved by exactly the reasons listed (so a reason that
    /// weighs without being shown, or is shown without weighing, fails), and the class follows
    /// the thresholds.
    #[test]
    fn the_probability_is_the_prior_moved_by_the_reasons_shown(evidence in evidence()) {
        let verdict = score(&Features::from_evidence(&evidence));
        let prior_log_odds = (PRIOR_REMOTE / (1.0 - PRIOR_REMOTE)).ln();
        let log_odds = prior_log_odds + verdict.reasons.iter().map(|r| r.weight).sum::<f64>();
        let expected = 1.0 / (1.0 + (-log_odds).exp());
        prop_assert!((verdict.p_remote - expected).abs() <= 0.0005 + 1e-9, "{} vs {expected}", verdict.p_remote);
        prop_assert!(verdict.reasons.windows(2).all(|w| w[0].weight.abs() >= w[1].weight.abs()));
        let class = if (verdict.keystrokes as usize) < MIN_STROKES {
            VerdictClass::Inconclusive
        } else if verdict.p_remote >= REMOTE_AT {
            VerdictClass::Remote
        } else if verdict.p_remote >= SUSPECT_AT {
            VerdictClass::RemoteSuspected
        } else if (verdict.rtt_samples as usize) < MIN_RTT_SAMPLES {
            VerdictClass::Inconclusive
        } else {
            VerdictClass::Local
        };
        prop_assert_eq!(verdict.class, class);
    }

    #[test]
    fn thin_evidence_is_never_remote(evidence in evidence()) {
        let verdict = score(&Features::from_evidence(&evidence));
        if (verdict.keystrokes as usize) < MIN_STROKES {
            prop_assert_eq!(verdict.class, VerdictClass::Inconclusive);
        }
    }

    /// Once there is enough typing to judge, more local-looking typing never makes it more remote.
    #[test]
    fn local_looking_typing_never_makes_a_verdict_more_remote(evidence in evidence(), extra in 1usize..60) {
        prop_assume!(evidence.strokes.len() >= MIN_STROKES);
        let before = score(&Features::from_evidence(&evidence));
        let last_us = evidence.strokes.iter().map(|s| s.up_at_us).max().unwrap_or(0);
        let mut more = evidence.clone();
        more.strokes.extend(local_typing(last_us, extra));
        let after = score(&Features::from_evidence(&more));
        prop_assert!(after.p_remote <= before.p_remote, "{} -> {}", before.p_remote, after.p_remote);
    }
}
