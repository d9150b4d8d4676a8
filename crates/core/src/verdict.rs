//! Scoring: features become weighed reasons, and reasons become a verdict.
//!
//! The model is a naive-Bayes sum of log-likelihood ratios on top of a prior. Each feature that
//! has enough data adds a term with a sentence a person can check; a feature without data adds
//! nothing. Too little evidence gives `inconclusive`, never `remote`. The weights are provisional
//! (see `docs/verdicts.md`); later work calibrates them on real typing and real remote desktops.

use crate::codes::ReasonCode;
use crate::features::{Features, KeyFeatures, MIN_STROKES};
use crate::geo::LocationCheck;

/// The prior probability that a session is remote-controlled, before any evidence.
pub const PRIOR_REMOTE: f64 = 0.05;
/// At or above this probability the verdict is `remote`.
pub const REMOTE_AT: f64 = 0.90;
/// At or above this probability the verdict is `remote_suspected`.
pub const SUSPECT_AT: f64 = 0.50;
/// Key features that compare times with a 2 ms threshold (`zero_dwell`, `near_simultaneous`,
/// `burst_release`) or a spread with 1 ms (`repeat_jitter`) need a clock at least this fine (µs);
/// with a coarser one they are not measured. Linux desktops give 1 ms, and the thresholds were
/// set on such timestamps.
pub const FINE_KEY_TIMER_US: u32 = 1_000;
/// `pointer_rate` tells 8 ms from 20-40 ms between samples: it needs a clock this fine (µs).
pub const FINE_POINTER_TIMER_US: u32 = 5_000;
/// The most `repeat_jitter` adds: below the prior's distance to `remote_suspected`
/// (logit 0.5 − logit 0.05 = 2.94), so a held key's jitter alone never flags anyone. A busy
/// machine scatters repeats too.
pub const REPEAT_JITTER_MAX_WEIGHT: f64 = 2.5;

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
    pub code: ReasonCode,
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
    /// Latency added to the person's own loop by the closed-loop challenges: estimate, low, high
    /// (ms); `None` when no challenge ran.
    pub loop_added_ms: Option<(f64, f64, f64)>,
    /// The claimed location against the round trips: `consistent`, `inconsistent` (with the
    /// distance, km) or `inconclusive`; `None` when nothing was claimed.
    pub location: Option<(&'static str, Option<f64>)>,
    /// Reasons, heaviest first.
    pub reasons: Vec<Reason>,
}

/// A weight that grows linearly with a feature, within bounds:
/// `clamp(scale·(value − offset), floor, cap)`. Each one is a row of the weight table in
/// `docs/verdicts.md`, which a test checks against these constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub code: ReasonCode,
    /// The feature's name in the formula, as the docs write it.
    pub var: &'static str,
    pub offset: f64,
    /// Weight per unit of the feature, or, when `per` is set, one unit of weight per `per`.
    pub scale: f64,
    pub per: Option<f64>,
    pub floor: f64,
    pub cap: f64,
}

impl Linear {
    /// The weight at `value`.
    pub fn weight(&self, value: f64) -> f64 {
        let moved = value - self.offset;
        clamp(self.per.map_or(moved * self.scale, |per| moved / per), self.floor, self.cap)
    }

    /// The formula as the docs write it, such as `clamp(40·(f − 0.02), −0.3, 6)`.
    pub fn formula(&self) -> String {
        let number = |v: f64| format!("{v}").replace('-', "−");
        let moved = if self.offset == 0.0 {
            self.var.to_owned()
        } else {
            format!("{} − {}", self.var, number(self.offset))
        };
        let scaled = match self.per {
            Some(per) => format!("({moved}) / {}", number(per)),
            None if self.offset == 0.0 => format!("{}·{moved}", number(self.scale)),
            None => format!("{}·({moved})", number(self.scale)),
        };
        format!("clamp({scaled}, {}, {})", number(self.floor), number(self.cap))
    }
}

/// Presses held under 2 ms, as a fraction of presses.
pub const ZERO_DWELL: Linear = Linear {
    code: ReasonCode::ZeroDwell,
    var: "f",
    offset: 0.02,
    scale: 40.0,
    per: None,
    floor: -0.3,
    cap: 6.0,
};
/// Gaps under 2 ms between events of different presses, as a fraction of such gaps.
pub const NEAR_SIMULTANEOUS: Linear = Linear {
    code: ReasonCode::NearSimultaneous,
    var: "f",
    offset: 0.05,
    scale: 20.0,
    per: None,
    floor: -0.3,
    cap: 4.0,
};
/// Key events in bursts of three or more within 2 ms, as a fraction of events.
pub const BURST_RELEASE: Linear = Linear {
    code: ReasonCode::BurstRelease,
    var: "f",
    offset: 0.02,
    scale: 25.0,
    per: None,
    floor: -0.2,
    cap: 4.0,
};
/// Untrusted presses, as a fraction of presses.
pub const UNTRUSTED_EVENTS: Linear = Linear {
    code: ReasonCode::UntrustedEvents,
    var: "f",
    offset: 0.0,
    scale: 6.0,
    per: None,
    floor: 0.0,
    cap: 3.0,
};
/// Latency added to the person's own loop (ms).
pub const LOOP_LATENCY: Linear = Linear {
    code: ReasonCode::LoopLatency,
    var: "added",
    offset: 40.0,
    scale: 1.0,
    per: Some(15.0),
    floor: -1.0,
    cap: 6.0,
};
/// Auto-repeat jitter (ms); capped so a held key alone never flags anyone.
pub const REPEAT_JITTER: Linear = Linear {
    code: ReasonCode::RepeatJitter,
    var: "jitter",
    offset: 1.0,
    scale: 2.0,
    per: None,
    floor: -0.3,
    cap: REPEAT_JITTER_MAX_WEIGHT,
};
/// Perfectly straight pointer movements, as a fraction of movements (weighed from half on).
pub const STRAIGHT_LINES: Linear = Linear {
    code: ReasonCode::StraightLines,
    var: "f",
    offset: 0.0,
    scale: 3.0,
    per: None,
    floor: 0.0,
    cap: 3.0,
};

/// Every linear weight rule, for the docs' table.
pub const LINEAR_WEIGHTS: [Linear; 7] = [
    ZERO_DWELL,
    NEAR_SIMULTANEOUS,
    BURST_RELEASE,
    UNTRUSTED_EVENTS,
    LOOP_LATENCY,
    REPEAT_JITTER,
    STRAIGHT_LINES,
];

/// Fixed weights: (code, weight).
pub const FIXED_WEIGHTS: [(ReasonCode, f64); 5] = [
    // A page caught misreporting its times: a page has no honest reason to.
    (ReasonCode::TimingInconsistent, 2.0),
    (ReasonCode::Webdriver, 1.5),
    (ReasonCode::SoftwareRenderer, 0.7),
    (ReasonCode::SmallScreen, 0.3),
    (ReasonCode::UntrustedPointer, 1.5),
];

fn fixed(code: ReasonCode) -> f64 {
    FIXED_WEIGHTS.iter().find(|(known, _)| *known == code).map_or(0.0, |(_, weight)| *weight)
}

/// Scores features into a verdict.
pub fn score(features: &Features) -> Verdict {
    let keys = &features.keys;
    let net = &features.net;
    let mut reasons = Vec::new();

    timer_reasons(features, &mut reasons);
    keystroke_reasons(keys, &mut reasons);
    // Pointer samples carry the same page clock as key events; the clock is read off the key
    // events, whose irregular human gaps cannot pass for a grid the way a steady pointer rate can.
    pointer_reasons(&features.pointer, keys.timer_resolution_us, &mut reasons);
    loop_reasons(&features.challenges, features.attested.as_ref(), &mut reasons);
    if let Some(location) = &features.location {
        location_reasons(location, &mut reasons);
    }
    network_reasons(net, &mut reasons);
    if let Some(environment) = &features.environment {
        environment_reasons(environment, &mut reasons);
    }

    let (enough, witnessed) = sufficiency_reasons(features, &mut reasons);

    let log_odds = logit(PRIOR_REMOTE) + reasons.iter().map(|r| r.weight).sum::<f64>();
    let p_remote = round3(logistic(log_odds));
    // A page caught misreporting its times has nothing of its own left to vouch for it.
    let trusted = !reasons.iter().any(|r| r.code == ReasonCode::TimingInconsistent);
    let class = classify(p_remote, enough, witnessed && trusted);
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
        location: features.location.as_ref().map(|l| match &l.check {
            LocationCheck::Consistent { .. } => ("consistent", None),
            LocationCheck::Inconsistent { by_km, .. } => {
                ("inconsistent", Some(libm::round(*by_km)))
            }
            LocationCheck::Inconclusive => ("inconclusive", None),
        }),
        // The edge's own measurement when it ran the task, else the page's.
        loop_added_ms: features
            .attested
            .as_ref()
            .and_then(|a| a.estimate.added)
            .or(features.challenges.added)
            .map(|a| {
                (
                    round2(ms(a.estimate_us as f64)),
                    round2(ms(a.low_us as f64)),
                    round2(ms(a.high_us as f64)),
                )
            }),
        reasons,
    }
}

/// The edge's round trips as a reported reason, and the page's own as a cross-check.
fn network_reasons(net: &crate::features::NetFeatures, reasons: &mut Vec<Reason>) {
    if let (Some(min_us), Some(median_us), Some(p90_us), Some(jitter_us)) =
        (net.min_us, net.median_us, net.p90_us, net.jitter_us)
    {
        reasons.push(Reason {
            code: ReasonCode::NetworkRtt,
            weight: 0.0,
            text: format!(
                "network round trip to this edge: at least {:.1} ms, median {:.1} ms, 90% under {:.1} ms, jitter {:.1} ms, {} lost, {} taken while the page said it was hidden; distance is judged by the claimed-location check",
                ms(min_us as f64),
                ms(median_us as f64),
                ms(p90_us as f64),
                ms(jitter_us as f64),
                net.loss.map_or_else(|| "none".to_owned(), percent),
                net.hidden
            ),
        });
    }
    if let (Some(client_us), Some(edge_us)) = (net.client_min_us, net.min_us) {
        // The edge's own timing is authoritative; the browser's should agree. Both are compared
        // at their minimum, since a busy page inflates round trips and nothing shortens them.
        let (client_ms, edge_ms) = (ms(client_us as f64), ms(edge_us as f64));
        let agree = (client_ms - edge_ms).abs() <= 2.0_f64.max(0.2 * edge_ms);
        reasons.push(Reason {
            code: ReasonCode::ClientRtt,
            weight: if agree { 0.0 } else { 2.0 },
            text: if agree {
                format!("the browser's own shortest round trip ({client_ms:.1} ms) agrees with the edge's ({edge_ms:.1} ms)")
            } else {
                format!("the browser's own shortest round trip ({client_ms:.1} ms) disagrees with the edge's ({edge_ms:.1} ms)")
            },
        });
    }
}

/// Whether there is enough typing for a verdict and enough of the edge's own round trips for
/// `local`, with a reason for each that is missing.
fn sufficiency_reasons(features: &Features, reasons: &mut Vec<Reason>) -> (bool, bool) {
    let (keys, net) = (&features.keys, &features.net);
    let enough = keys.strokes as usize >= MIN_STROKES;
    if !enough {
        reasons.push(Reason {
            code: ReasonCode::NotEnoughTyping,
            weight: 0.0,
            text: format!(
                "only {} key presses so far; {} are needed for a verdict",
                keys.strokes, MIN_STROKES
            ),
        });
    }

    // `local` is a claim about this browser, and the edge signs only what it witnessed: without
    // its own round trips on the candidate's socket (a script that answers no echo) there is
    // nothing of the edge's in it.
    let witnessed = net.samples as usize >= crate::features::MIN_RTT_SAMPLES;
    if !witnessed {
        reasons.push(Reason {
            code: ReasonCode::RoundTripsMissing,
            weight: 0.0,
            text: format!(
                "the edge timed only {} round trips with this browser; {} are needed before it calls a session local",
                net.samples,
                crate::features::MIN_RTT_SAMPLES
            ),
        });
    }

    (enough, witnessed)
}

/// The class a probability earns: thin evidence is never `remote`, and `local` needs the
/// edge's own round trips and a page whose times agree with the edge's.
fn classify(p_remote: f64, enough: bool, witnessed: bool) -> VerdictClass {
    if !enough {
        VerdictClass::Inconclusive
    } else if p_remote >= REMOTE_AT {
        VerdictClass::Remote
    } else if p_remote >= SUSPECT_AT {
        VerdictClass::RemoteSuspected
    } else if !witnessed {
        VerdictClass::Inconclusive
    } else {
        VerdictClass::Local
    }
}

fn location_reasons(location: &crate::features::LocationFeatures, reasons: &mut Vec<Reason>) {
    let claimed = &location.claimed;
    let (weight, text) = match &location.check {
        LocationCheck::Consistent { radius_km, edge_id } => (
            -0.3,
            format!("the claimed location, {claimed}, fits the round trips: the browser is within {radius_km:.0} km of edge {edge_id}"),
        ),
        // A round trip can be inflated, never shortened: this is a physical bound, not a guess.
        LocationCheck::Inconsistent { by_km, edge_id } => (
            4.0,
            format!("the claimed location, {claimed}, is at least {by_km:.0} km farther from edge {edge_id} than its round trip allows"),
        ),
        LocationCheck::Inconclusive => {
            (0.0, format!("the round trips are too long or too few to check the claimed location, {claimed}"))
        }
    };
    reasons.push(Reason { code: ReasonCode::ClaimedLocation, weight, text });
    if let (Some(fits), Some(zone)) = (location.time_zone_fits, &location.browser_time_zone) {
        reasons.push(if fits {
            Reason {
                code: ReasonCode::TimeZone,
                weight: -0.2,
                text: format!("the browser's time zone, {zone}, fits {claimed}"),
            }
        } else {
            Reason {
                code: ReasonCode::TimeZone,
                weight: 1.5,
                text: format!("the browser's time zone, {zone}, does not fit {claimed}"),
            }
        });
    }
}

/// An added loop this far below a local person's (µs), that is taps over 100 ms ahead of the
/// beat, is no local person's: three standard deviations of local people's asynchrony.
pub const IMPLAUSIBLY_EARLY_ADDED_US: i64 = -70_000;

/// The widest 95 % interval of the edge's loop estimate that still counts for a session (µs):
/// local people's runs give 40-60 ms; taps scattered over the period give hundreds.
pub const MAX_CREDITED_INTERVAL_US: i64 = 120_000;

/// One weighed reason for the loop, so the same loop is not counted twice. Local people scatter
/// around 0 ms added (one standard deviation about 20 ms); a remote operator adds a full network
/// loop, rarely under 40 ms.
///
/// What the edge timed itself counts both ways. What the page timed is a claim: it can count
/// against the session (a page has no reason to report a longer loop than it had), never for it.
fn loop_latency_reason(
    reported: &crate::estimators::LoopEstimate,
    attested: Option<&crate::attested::Attested>,
    reasons: &mut Vec<Reason>,
) {
    let describe = |added: crate::estimators::Interval| {
        format!(
            "{:.0} ms later than a local person's (95% interval {:.0} to {:.0} ms)",
            ms(added.estimate_us as f64),
            ms(added.low_us as f64),
            ms(added.high_us as f64)
        )
    };
    let weigh =
        |added: crate::estimators::Interval| LOOP_LATENCY.weight(ms(added.estimate_us as f64));
    let edge = attested.and_then(|a| a.estimate.added);
    let (weight, text) = match (edge, reported.added) {
        (Some(edge), page) => {
            // Taps far earlier than any local person's are no sign of one: a loop longer than
            // the edge's rhythm can unwrap reads as early tapping, so it never counts for the
            // session.
            let implausibly_early = edge.estimate_us < IMPLAUSIBLY_EARLY_ADDED_US;
            // Taps scattered over much of the period (a viewer that shows a picture every few
            // hundred milliseconds) say nothing of a loop, so they never count for the session.
            let scattered = edge.high_us - edge.low_us > MAX_CREDITED_INTERVAL_US;
            let edge_weight = if implausibly_early || scattered {
                weigh(edge).max(0.0)
            } else {
                weigh(edge)
            };
            let page_weight = page.map(weigh).filter(|w| *w > 0.0 && *w > edge_weight);
            let page_text = page.map_or_else(String::new, |p| {
                format!("; the page's own timing of both tasks says {}", describe(p))
            });
            (
                page_weight.unwrap_or(edge_weight),
                format!(
                    "on the edge's own clock, taps answered the beats it sent {}{page_text}",
                    describe(edge)
                ),
            )
        }
        (None, Some(page)) => (
            weigh(page).max(0.0),
            format!(
                "answers to what the screen showed came {} as the page timed them; the edge did not time them, so this can count against the session but not for it",
                describe(page)
            ),
        ),
        (None, None) => return,
    };
    reasons.push(Reason { code: ReasonCode::LoopLatency, weight, text });
}

fn loop_reasons(
    estimate: &crate::estimators::LoopEstimate,
    attested: Option<&crate::attested::Attested>,
    reasons: &mut Vec<Reason>,
) {
    use crate::estimators::{
        LOCAL_ASYNCHRONY_SD_US, LOCAL_ASYNCHRONY_US, LOCAL_TRACKING_LAG_SD_US,
        LOCAL_TRACKING_LAG_US,
    };
    let band = |mean_us: i64, sd_us: i64| {
        (ms((mean_us - 2 * sd_us) as f64), ms((mean_us + 2 * sd_us) as f64))
    };
    if let Some(rhythm) = &estimate.rhythm {
        let a = rhythm.asynchrony;
        let (low, high) = band(LOCAL_ASYNCHRONY_US, LOCAL_ASYNCHRONY_SD_US);
        let when = |value_ms: f64| {
            if value_ms < 0.0 {
                format!("{:.0} ms before", -value_ms)
            } else {
                format!("{value_ms:.0} ms after")
            }
        };
        reasons.push(Reason {
            code: ReasonCode::Rhythm,
            weight: 0.0,
            text: format!(
                "taps landed {} the beat (95% interval {:.0} to {:.0} ms, {} taps); local people tap between {} and {} it",
                when(ms(a.estimate_us as f64)),
                ms(a.low_us as f64),
                ms(a.high_us as f64),
                rhythm.taps,
                when(low),
                when(high)
            ),
        });
    }
    if let Some(tracking) = &estimate.tracking {
        let (low, high) = band(LOCAL_TRACKING_LAG_US, LOCAL_TRACKING_LAG_SD_US);
        reasons.push(Reason {
            code: ReasonCode::Tracking,
            weight: 0.0,
            text: format!(
                "the pointer followed the moving target {:.0} ms behind (thirds: {:.0} to {:.0} ms); local people lag {low:.0}-{high:.0} ms",
                ms(tracking.lag.estimate_us as f64),
                ms(tracking.lag.low_us as f64),
                ms(tracking.lag.high_us as f64)
            ),
        });
    }
    loop_latency_reason(estimate, attested, reasons);
    if let Some(consistency) = attested.and_then(|a| a.consistency).filter(|c| c.inconsistent()) {
        let shift_ms = ms(consistency.median_shift_us as f64);
        reasons.push(Reason {
            code: ReasonCode::TimingInconsistent,
            weight: fixed(ReasonCode::TimingInconsistent),
            text: format!(
                "the page's own times for {} of {} taps disagree with when the edge received them (typically {:.0} ms {} the edge's clock allows): what the page timed is not trusted, and the session cannot be local",
                consistency.disagreeing,
                consistency.checked,
                shift_ms.abs(),
                if shift_ms < 0.0 { "earlier than" } else { "later than" }
            ),
        });
    }
    if estimate.skipped > 0 {
        reasons.push(Reason {
            code: ReasonCode::ChallengeSkipped,
            weight: 0.0,
            text: format!("{} timing task(s) skipped: not measured", estimate.skipped),
        });
    }
    if let Some(frames) = estimate.frames {
        reasons.push(Reason {
            code: ReasonCode::FrameTiming,
            weight: 0.0,
            text: format!(
                "this screen draws a frame every {:.1} ms and input reaches the page {:.1} ms after it happens; both are taken out of the loop",
                ms(frames.frame_interval_us as f64),
                ms(frames.input_delay_us as f64)
            ),
        });
    }
}

/// The local-human bands quoted in reasons, from the CMU keystroke sample replayed in Chromium
/// (23 subjects; see `docs/forensics.md`).
mod band {
    /// Median hold per subject (ms).
    pub const DWELL_MEDIAN_MS: (f64, f64) = (59.0, 131.0);
    /// Share of presses released within 2 ms: 2 of 17,138 holds.
    pub const ZERO_DWELL_MAX: f64 = 0.0002;
    /// Share of near-simultaneous gaps per subject: at most 3 %.
    pub const NEAR_SIMULTANEOUS_MAX: f64 = 0.03;
}

/// Whether a clock step allows a feature that needs `finest_us`; an unknown step (too few
/// timestamps to tell) is taken as fine, since the features then lack data anyway.
fn fine_enough(resolution_us: Option<u32>, finest_us: u32) -> bool {
    resolution_us.is_none_or(|step_us| step_us <= finest_us)
}

/// A feature the clock is too coarse for: said, weighed 0.
fn not_measured(code: ReasonCode, resolution_us: Option<u32>, needs: &str) -> Reason {
    let step = resolution_us.map_or_else(String::new, crate::timer::describe_resolution);
    Reason {
        code,
        weight: 0.0,
        text: format!(
            "not measured: this browser's clock steps by {step}, too coarse for {needs}; it counts neither way"
        ),
    }
}

fn timer_reasons(features: &Features, reasons: &mut Vec<Reason>) {
    let Some(step_us) = features.keys.timer_resolution_us else { return };
    let reported = match features.reported_timer_resolution_us {
        Some(reported_us) if reported_us != step_us => format!(
            " (the page reported {}; the timestamps decide)",
            crate::timer::describe_resolution(reported_us)
        ),
        _ => String::new(),
    };
    let consequence = if step_us > FINE_KEY_TIMER_US {
        "timing features that need a finer clock are not measured"
    } else {
        "fine enough for every key timing feature"
    };
    reasons.push(Reason {
        code: ReasonCode::TimerResolution,
        weight: 0.0,
        text: format!(
            "key events were timed with a clock that steps by {}{reported}: {consequence}",
            crate::timer::describe_resolution(step_us)
        ),
    });
}

/// What held keys say: whether they auto-repeated at all, and how steadily.
fn repeat_reasons(keys: &KeyFeatures, fine: bool, reasons: &mut Vec<Reason>) {
    if keys.long_holds > 0 {
        let silent = keys.long_holds - keys.long_holds_repeating;
        let (weight, text) = if silent == 0 {
            (
                -0.3,
                format!("{} held key(s) auto-repeated, as a local keyboard does", keys.long_holds),
            )
        } else {
            // Held for 0.7 s or more without a single repeat: VNC sessions suppress auto-repeat.
            (
                clamp(5.0 + f64::from(silent - 1) * 0.5, 5.0, 6.0),
                format!(
                    "{silent} of {} keys held for over 0.7 s never auto-repeated (a local keyboard repeats after 0.25-0.66 s)",
                    keys.long_holds
                ),
            )
        };
        reasons.push(Reason { code: ReasonCode::AutoRepeat, weight, text });
    }
    if let (Some(period_us), Some(jitter_us), true) =
        (keys.repeat_period_us, keys.repeat_jitter_us, fine)
    {
        // The operating system's repeat timer is steady to about a millisecond; repeats that
        // cross a network arrive with its jitter. The spread is robust to the two ways a loaded
        // machine disturbs repeats (`features::KeyFeatures::repeat_jitter_us`), and the weight is
        // capped, so the held key alone never flags anyone.
        let jitter_ms = ms(jitter_us as f64);
        reasons.push(Reason {
            code: ReasonCode::RepeatJitter,
            weight: REPEAT_JITTER.weight(jitter_ms),
            text: format!(
                "auto-repeat came every {:.1} ms, typically {jitter_ms:.1} ms off that (a local keyboard: under 1 ms, a busy one a little more)",
                ms(period_us as f64)
            ),
        });
    }
}

fn keystroke_reasons(keys: &KeyFeatures, reasons: &mut Vec<Reason>) {
    let step_us = keys.timer_resolution_us;
    let fine = fine_enough(step_us, FINE_KEY_TIMER_US);
    let two_ms = "a 2 ms threshold";
    if !fine {
        if keys.zero_dwell_fraction.is_some() {
            reasons.push(not_measured(ReasonCode::ZeroDwell, step_us, two_ms));
        }
        if keys.near_simultaneous_fraction.is_some() {
            reasons.push(not_measured(ReasonCode::NearSimultaneous, step_us, two_ms));
        }
        if keys.burst_fraction.is_some() {
            reasons.push(not_measured(ReasonCode::BurstRelease, step_us, two_ms));
        }
        if keys.repeat_jitter_us.is_some() {
            reasons.push(not_measured(
                ReasonCode::RepeatJitter,
                step_us,
                "a jitter of a millisecond",
            ));
        }
    }
    if let Some(fraction) = keys.zero_dwell_fraction.filter(|_| fine) {
        // People hold a key for tens of ms; remote tools that send key-up with key-down give 0 ms.
        reasons.push(Reason {
            code: ReasonCode::ZeroDwell,
            weight: ZERO_DWELL.weight(fraction),
            text: format!(
                "{} of key presses were released within 2 ms (local typing: {})",
                percent(fraction),
                percent(band::ZERO_DWELL_MAX)
            ),
        });
    }
    if let Some(fraction) = keys.near_simultaneous_fraction.filter(|_| fine) {
        // Rollover overlaps presses but almost never puts two events within 2 ms.
        reasons.push(Reason {
            code: ReasonCode::NearSimultaneous,
            weight: NEAR_SIMULTANEOUS.weight(fraction),
            text: format!(
                "{} of gaps between different keys' events were under 2 ms (local typing: at most {})",
                percent(fraction),
                percent(band::NEAR_SIMULTANEOUS_MAX)
            ),
        });
    }
    if let Some(fraction) = keys.burst_fraction.filter(|_| fine) {
        // Remote desktops release queued input together: 23-33 % of gaps under 2 ms via x11vnc.
        reasons.push(Reason {
            code: ReasonCode::BurstRelease,
            weight: BURST_RELEASE.weight(fraction),
            text: format!("{} of key events arrived in bursts of three or more within 2 ms (local typing: none)", percent(fraction)),
        });
    }
    repeat_reasons(keys, fine, reasons);
    if keys.strokes > 0 && keys.untrusted > 0 {
        let share = f64::from(keys.untrusted) / f64::from(keys.strokes);
        reasons.push(Reason {
            code: ReasonCode::UntrustedEvents,
            weight: UNTRUSTED_EVENTS.weight(share),
            text: format!(
                "{} of {} key presses were synthetic (not from a real keyboard)",
                keys.untrusted, keys.strokes
            ),
        });
    }
    if let Some(median_us) = keys.dwell_median_us {
        let dwell_ms = ms(median_us as f64);
        reasons.push(Reason {
            code: ReasonCode::Dwell,
            weight: 0.0,
            text: format!(
                "keys were held {dwell_ms:.0} ms (median; local people: {:.0}-{:.0} ms); a steady delay does not change this, so it is not scored",
                band::DWELL_MEDIAN_MS.0,
                band::DWELL_MEDIAN_MS.1
            ),
        });
    }
    if let Some(fraction) = keys.whole_ms_fraction {
        if fraction >= 0.95 {
            reasons.push(Reason {
                code: ReasonCode::TimestampGrid,
                weight: 0.0,
                text: "key timestamps fall on a 1 ms grid, as on Linux desktops both local and remote; not scored".into(),
            });
        }
    }
}

fn pointer_reasons(
    pointer: &crate::features::PointerFeatures,
    step_us: Option<u32>,
    reasons: &mut Vec<Reason>,
) {
    let fine = fine_enough(step_us, FINE_POINTER_TIMER_US);
    if !fine && pointer.sample_interval_us.is_some() {
        reasons.push(not_measured(
            ReasonCode::PointerRate,
            step_us,
            "telling 8 ms from 20 ms between pointer samples",
        ));
    }
    if let Some(interval_us) = pointer.sample_interval_us.filter(|_| fine) {
        // A local mouse reports 60-1000 times a second; remote desktops send 20-25 positions a
        // second when they rate-limit pointer updates.
        let interval_ms = ms(interval_us as f64);
        let weight = if interval_ms >= 35.0 {
            5.0
        } else if interval_ms >= 20.0 {
            1.0 + (interval_ms - 20.0) / 15.0 * 4.0
        } else {
            -0.3
        };
        reasons.push(Reason {
            code: ReasonCode::PointerRate,
            weight,
            text: format!(
                "the pointer reported its position {:.0} times a second (a local mouse: 60-1000)",
                1000.0 / interval_ms.max(0.001)
            ),
        });
    }
    if let Some(fraction) = pointer.straight_fraction {
        if fraction >= 0.5 {
            reasons.push(Reason {
                code: ReasonCode::StraightLines,
                weight: STRAIGHT_LINES.weight(fraction),
                text: format!(
                    "{} of {} pointer movements were perfectly straight lines, as scripted input draws them",
                    percent(fraction),
                    pointer.segments
                ),
            });
        }
    }
    if pointer.untrusted > 0 {
        reasons.push(Reason {
            code: ReasonCode::UntrustedPointer,
            weight: fixed(ReasonCode::UntrustedPointer),
            text: format!(
                "{} pointer events were synthetic (not from a real mouse or touch)",
                pointer.untrusted
            ),
        });
    }
}

fn percent(fraction: f64) -> String {
    let value = fraction * 100.0;
    if value > 0.0 && value < 1.0 {
        format!("{value:.2}%")
    } else {
        format!("{value:.0}%")
    }
}

/// Screens smaller than this in either direction (CSS px) are unusual for a work laptop.
const SMALL_SCREEN_PX: (u32, u32) = (1024, 600);

fn environment_reasons(environment: &crate::evidence::Environment, reasons: &mut Vec<Reason>) {
    use crate::evidence::Renderer;
    if environment.webdriver {
        reasons.push(Reason {
            code: ReasonCode::Webdriver,
            weight: fixed(ReasonCode::Webdriver),
            text: "the browser reports that automation software controls it (navigator.webdriver)"
                .into(),
        });
    }
    if environment.renderer == Renderer::Unknown {
        reasons.push(Reason {
            code: ReasonCode::SoftwareRenderer,
            weight: 0.0,
            text: "not measured: the browser does not say what draws its graphics (WebGL is off, or the name is masked, as WebKit's \"Apple GPU\" is)".into(),
        });
    }
    if environment.renderer == Renderer::Software {
        reasons.push(Reason {
            code: ReasonCode::SoftwareRenderer,
            weight: fixed(ReasonCode::SoftwareRenderer),
            text:
                "graphics are drawn in software, as in virtual machines and remote-desktop sessions"
                    .into(),
        });
    }
    let (width_px, height_px) = (environment.screen_width_px, environment.screen_height_px);
    if width_px > 0
        && height_px > 0
        && (width_px < SMALL_SCREEN_PX.0 || height_px < SMALL_SCREEN_PX.1)
    {
        reasons.push(Reason {
            code: ReasonCode::SmallScreen,
            weight: fixed(ReasonCode::SmallScreen),
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
                repeat_gaps_us: vec![],
                trusted: true,
            })
            .collect();
        Evidence { strokes, rtt_us: vec![800, 900, 1000, 1100, 1200], ..Evidence::default() }
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
    fn typing_without_edge_timed_round_trips_is_never_local() {
        // The minimal forgery: 40 made-up presses, no echo answered, no task run.
        let mut forged = typing(40, 90);
        forged.rtt_us.clear();
        let verdict = score(&Features::from_evidence(&forged));
        assert_eq!(verdict.class, VerdictClass::Inconclusive, "{verdict:#?}");
        assert!(verdict.reasons.iter().any(|r| r.code == ReasonCode::RoundTripsMissing));
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
