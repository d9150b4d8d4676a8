//! Scoring: features become weighed reasons, and reasons become a verdict.
//!
//! The model is a naive-Bayes sum of log-likelihood ratios on top of a prior. Each feature that
//! has enough data adds a term with a sentence a person can check; a feature without data adds
//! nothing. Too little evidence gives `inconclusive`, never `remote`. The weights are provisional
//! (see `docs/scoring.md`); later work calibrates them on real typing and real remote desktops.

use crate::features::{Features, MIN_STROKES};

/// The prior probability that a session is remote-controlled, before any evidence.
pub const PRIOR_REMOTE: f64 = 0.05;
/// At or above this probability the verdict is `remote`.
pub const REMOTE_AT: f64 = 0.90;
/// At or above this probability the verdict is `remote_suspected`.
pub const SUSPECT_AT: f64 = 0.50;

/// What the verdict says about the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictClass {
    Local,
    RemoteSuspected,
    Remote,
    Inconclusive,
}

impl VerdictClass {
    /// The stable name used in tokens and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictClass::Local => "local",
            VerdictClass::RemoteSuspected => "remote_suspected",
            VerdictClass::Remote => "remote",
            VerdictClass::Inconclusive => "inconclusive",
        }
    }

    /// Parses a name written by [`VerdictClass::as_str`].
    pub fn parse(name: &str) -> Option<VerdictClass> {
        [Self::Local, Self::RemoteSuspected, Self::Remote, Self::Inconclusive]
            .into_iter()
            .find(|class| class.as_str() == name)
    }
}

/// One weighed piece of the verdict, in plain English.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// A stable identifier, for programs.
    pub code: &'static str,
    /// The natural-log likelihood ratio this reason adds (positive points to remote control).
    pub weight: f64,
    /// The sentence shown to a person.
    pub text: String,
}

/// The verdict on one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub class: VerdictClass,
    /// Probability of remote control, rounded to three decimals.
    pub p_remote: f64,
    pub keystrokes: u32,
    pub rtt_samples: u32,
    pub rtt_min_ms: Option<f64>,
    pub rtt_median_ms: Option<f64>,
    pub dwell_median_ms: Option<f64>,
    pub flight_median_ms: Option<f64>,
    /// Reasons, heaviest first.
    pub reasons: Vec<Reason>,
}

/// Scores features into a verdict.
pub fn score(features: &Features) -> Verdict {
    let keys = &features.keys;
    let net = &features.net;
    let mut reasons = Vec::new();

    if let Some(fraction) = keys.zero_dwell_fraction {
        // People hold a key for tens of ms; remote tools that send key-up with key-down give 0 ms.
        // Measured through x11vnc: 10-20 % of presses; local typing: well under 1 %.
        let weight = clamp((fraction - 0.02) * 40.0, -0.5, 6.0);
        reasons.push(Reason {
            code: "zero_dwell",
            weight,
            text: format!(
                "{:.0}% of key presses were released within 2 ms (local typing: under 2%)",
                fraction * 100.0
            ),
        });
    }
    if let Some(fraction) = keys.burst_fraction {
        // Remote desktops release queued input together: 23-33 % of gaps under 2 ms via x11vnc.
        let weight = clamp((fraction - 0.05) * 20.0, -0.5, 4.0);
        reasons.push(Reason {
            code: "burst_release",
            weight,
            text: format!(
                "{:.0}% of key events arrived within 2 ms of another key's (local typing: under 5%)",
                fraction * 100.0
            ),
        });
    }
    if keys.strokes > 0 && keys.untrusted > 0 {
        let share = f64::from(keys.untrusted) / f64::from(keys.strokes);
        reasons.push(Reason {
            code: "untrusted_events",
            weight: clamp(share * 6.0, 0.0, 3.0),
            text: format!("{} of {} key presses were synthetic (not from a real keyboard)", keys.untrusted, keys.strokes),
        });
    }
    if let Some(min_us) = net.min_us {
        reasons.push(Reason {
            code: "network_rtt",
            weight: 0.0,
            text: format!(
                "network round trip to this edge at least {:.1} ms (not scored yet: distance checks come with more edges)",
                ms(min_us as f64)
            ),
        });
    }

    if let Some(environment) = &features.environment {
        environment_reasons(environment, &mut reasons);
    }

    let enough = keys.strokes as usize >= MIN_STROKES;
    if !enough {
        reasons.push(Reason {
            code: "not_enough_typing",
            weight: 0.0,
            text: format!("only {} key presses so far; {} are needed for a verdict", keys.strokes, MIN_STROKES),
        });
    }

    let log_odds = logit(PRIOR_REMOTE) + reasons.iter().map(|r| r.weight).sum::<f64>();
    let p_remote = round3(logistic(log_odds));
    let class = if !enough {
        VerdictClass::Inconclusive
    } else if p_remote >= REMOTE_AT {
        VerdictClass::Remote
    } else if p_remote >= SUSPECT_AT {
        VerdictClass::RemoteSuspected
    } else {
        VerdictClass::Local
    };
    // Heaviest first; ties keep their order, so the list is the same on every platform.
    reasons.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));

    Verdict {
        class,
        p_remote,
        keystrokes: keys.strokes,
        rtt_samples: net.samples,
        rtt_min_ms: net.min_us.map(|us| round2(ms(us as f64))),
        rtt_median_ms: net.median_us.map(|us| round2(ms(us as f64))),
        dwell_median_ms: keys.dwell_median_us.map(|us| round2(ms(us as f64))),
        flight_median_ms: keys.flight_median_us.map(|us| round2(ms(us as f64))),
        reasons,
    }
}

/// Screens smaller than this in either direction (CSS px) are unusual for a work laptop.
const SMALL_SCREEN_PX: (u32, u32) = (1024, 600);

fn environment_reasons(environment: &crate::evidence::Environment, reasons: &mut Vec<Reason>) {
    use crate::evidence::Renderer;
    if environment.webdriver {
        reasons.push(Reason {
            code: "webdriver",
            weight: 1.5,
            text: "the browser reports that automation software controls it (navigator.webdriver)".into(),
        });
    }
    if environment.renderer == Renderer::Software {
        reasons.push(Reason {
            code: "software_renderer",
            weight: 0.7,
            text: "graphics are drawn in software, as in virtual machines and remote-desktop sessions".into(),
        });
    }
    let (width_px, height_px) = (environment.screen_width_px, environment.screen_height_px);
    if width_px > 0 && height_px > 0 && (width_px < SMALL_SCREEN_PX.0 || height_px < SMALL_SCREEN_PX.1) {
        reasons.push(Reason {
            code: "small_screen",
            weight: 0.3,
            text: format!("the screen is {width_px}×{height_px} px, smaller than a laptop's"),
        });
    }
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

fn clamp(value: f64, low: f64, high: f64) -> f64 {
    value.max(low).min(high)
}

// `libm` rather than `f64::exp`: the platform's own maths library may differ in the last bit,
// and verdicts must be byte-identical on wasm32 and native.
fn logistic(log_odds: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-log_odds))
}

fn logit(p: f64) -> f64 {
    libm::log(p / (1.0 - p))
}

fn round2(value: f64) -> f64 {
    libm::round(value * 100.0) / 100.0
}

fn round3(value: f64) -> f64 {
    libm::round(value * 1000.0) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Evidence, KeyClass, KeyStroke};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn typing(count: i64, dwell_ms: i64) -> Evidence {
        let strokes = (0..count)
            .map(|i| KeyStroke {
                down_at_us: i * 180_000 + (i % 3) * 17_000,
                up_at_us: i * 180_000 + (i % 3) * 17_000 + dwell_ms * 1000 + (i % 5) * 9_000,
                class: KeyClass::Letter,
                repeats: 0,
                trusted: true,
            })
            .collect();
        Evidence { strokes, rtt_us: vec![800, 900, 1000, 1100, 1200], environment: None }
    }

    fn check(evidence: &Evidence, expected: VerdictClass) {
        let verdict = score(&Features::from_evidence(evidence));
        assert_eq!(verdict.class, expected, "{verdict:#?}");
        assert!((0.0..=1.0).contains(&verdict.p_remote));
    }

    #[test]
    fn human_typing_is_local() {
        check(&typing(40, 90), VerdictClass::Local);
    }

    #[test]
    fn thin_typing_is_inconclusive() {
        check(&typing(10, 90), VerdictClass::Inconclusive);
        check(&typing(10, 0), VerdictClass::Inconclusive);
    }

    #[test]
    fn zero_dwell_typing_is_remote() {
        let mut evidence = typing(40, 0);
        for stroke in &mut evidence.strokes {
            stroke.up_at_us = stroke.down_at_us;
        }
        check(&evidence, VerdictClass::Remote);
    }

    #[test]
    fn the_verdict_carries_the_measured_round_trip() {
        let verdict = score(&Features::from_evidence(&typing(40, 90)));
        assert_eq!(verdict.rtt_min_ms, Some(0.8));
        assert_eq!(verdict.rtt_median_ms, Some(1.0));
        assert_eq!(verdict.keystrokes, 40);
    }
}
