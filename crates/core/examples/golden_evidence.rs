//! Writes the golden evidence files (and one signed token) in `tests/golden/` from the CMU
//! keystroke sample.
//!
//! Run `cargo run -p onsite-core --example golden_evidence` after changing a case; the verdicts
//! these files must produce are the insta snapshots in `crates/core/tests/snapshots/`.

use std::path::Path;

use onsite_core::evidence::{PointerDevice, PointerKind, PointerSample};
use onsite_core::jws::Signer;
use onsite_core::wire::Claims;
use onsite_core::wire::{EvidenceV1, VerdictV1};
use onsite_core::{score, Environment, Evidence, Features, KeyClass, KeyStroke, Renderer};

/// The keys of the CMU password `.tie5Roanl` and Return, in order, with their classes.
const KEYS: [(&str, KeyClass); 11] = [
    ("period", KeyClass::Punctuation),
    ("t", KeyClass::Letter),
    ("i", KeyClass::Letter),
    ("e", KeyClass::Letter),
    ("five", KeyClass::Digit),
    ("Shift.r", KeyClass::Modifier),
    ("o", KeyClass::Letter),
    ("a", KeyClass::Letter),
    ("n", KeyClass::Letter),
    ("l", KeyClass::Letter),
    ("Return", KeyClass::Enter),
];

/// Turns consecutive repetitions of one subject into presses, 1.5 s apart.
fn typing(csv: &str, subject: &str, reps: usize) -> Vec<KeyStroke> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let mut strokes = Vec::new();
    let mut start_us: i64 = 1_000_000;
    for line in lines.filter(|l| l.starts_with(&format!("{subject},"))).take(reps) {
        let cells: Vec<&str> = line.split(',').collect();
        let seconds = |name: &str| {
            column(name)
                .and_then(|i| cells.get(i))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let mut down_us = start_us;
        for (index, (key, class)) in KEYS.iter().enumerate() {
            if index > 0 {
                down_us +=
                    (seconds(&format!("DD.{}.{key}", KEYS[index - 1].0)) * 1e6).round() as i64;
            }
            let hold_us = (seconds(&format!("H.{key}")) * 1e6).round() as i64;
            strokes.push(KeyStroke {
                down_at_us: down_us,
                up_at_us: down_us + hold_us,
                class: *class,
                repeats: 0,
                repeat_gaps_us: vec![],
                trusted: true,
            });
        }
        start_us = down_us + 1_500_000;
    }
    strokes
}

fn loopback_rtts() -> Vec<u64> {
    (0..12).map(|i| 400 + (i * 37) % 300).collect()
}

fn write(dir: &Path, name: &str, evidence: &Evidence) {
    let text =
        serde_json::to_string_pretty(&EvidenceV1::from_evidence(evidence)).unwrap_or_default();
    let path = dir.join(format!("{name}.evidence.json"));
    if let Err(error) = std::fs::write(&path, text + "\n") {
        eprintln!("cannot write {}: {error}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let csv = match std::fs::read_to_string(root.join("tests/data/cmu-keystrokes-sample.csv")) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("cannot read the CMU sample: {error}");
            std::process::exit(1);
        }
    };
    let dir = root.join("tests/golden");
    let human = |subject: &str| Evidence {
        strokes: typing(&csv, subject, 4),
        rtt_us: loopback_rtts(),
        ..Evidence::default()
    };

    write(&dir, "human_s002", &human("s002"));
    write(&dir, "human_s017", &human("s017"));

    let mut thin = human("s002");
    thin.strokes.truncate(12);
    write(&dir, "thin", &thin);

    // A remote tool that sends the key-up right after the key-down.
    let mut zero_dwell = human("s002");
    for stroke in &mut zero_dwell.strokes {
        stroke.up_at_us = stroke.down_at_us + 300;
    }
    write(&dir, "zero_dwell", &zero_dwell);

    // A remote desktop that releases queued input every 250 ms, events 0.2 ms apart.
    let mut burst = human("s002");
    let release = |at_us: i64, nth: i64| (at_us / 250_000 + 1) * 250_000 + nth * 200;
    for (nth, stroke) in burst.strokes.iter_mut().enumerate() {
        let nth = i64::try_from(nth % 4).unwrap_or(0);
        let down = release(stroke.down_at_us, nth);
        let up = release(stroke.up_at_us, nth).max(down + 200);
        *stroke = KeyStroke { down_at_us: down, up_at_us: up, ..stroke.clone() };
    }
    write(&dir, "burst_release", &burst);

    let mut automated = human("s017");
    automated.environment = Some(Environment {
        webdriver: true,
        renderer: Renderer::Software,
        screen_width_px: 800,
        screen_height_px: 600,
    });
    write(&dir, "automated_software", &automated);

    // The signed token the golden test expects for `human_s002`: fixed key, fixed claims.
    let evidence = human("s002");
    let wire = EvidenceV1::from_evidence(&evidence);
    let claims = Claims {
        iss: "https://edge.example".into(),
        sub: "golden".into(),
        aud: "onsite".into(),
        iat: 1_800_000_000,
        exp: 1_800_086_400,
        jti: "golden-1".into(),
        verdict: VerdictV1::from_verdict(&score(&Features::from_evidence(&evidence))),
        evidence_sha256: wire.sha256_hex(),
    };
    let token = claims.sign(&Signer::from_seed(&[42u8; 32]));
    if let Err(error) = std::fs::write(dir.join("human_s002.token"), token + "\n") {
        eprintln!("cannot write the golden token: {error}");
        std::process::exit(1);
    }

    // A key held for 1.2 s: locally it repeats every 33.3 ms after 500 ms; over VNC it does not
    // repeat at all; over a jittery link its repeats carry the jitter.
    let held = |gaps: Vec<u32>| {
        let mut evidence = human("s017");
        let last_up = evidence.strokes.iter().map(|s| s.up_at_us).max().unwrap_or(0);
        let down_at_us = last_up + 1_000_000;
        evidence.strokes.push(KeyStroke {
            down_at_us,
            up_at_us: down_at_us + 1_200_000,
            class: KeyClass::Space,
            repeats: u32::try_from(gaps.len()).unwrap_or(0),
            repeat_gaps_us: gaps,
            trusted: true,
        });
        evidence
    };
    let repeat_gaps = |jitter_us: u32| -> Vec<u32> {
        (0..21u32)
            .map(|i| if i == 0 { 500_000 } else { 33_333 + (i * 7_919) % (jitter_us + 1) })
            .collect()
    };
    write(&dir, "held_key_local", &held(repeat_gaps(300)));
    write(&dir, "held_key_jitter", &held(repeat_gaps(10_000)));
    write(&dir, "held_key_silent", &held(vec![]));

    // The pointer following a curve: sampled 125 times a second locally, 25 times over a
    // rate-limited remote desktop.
    let pointer = |interval_us: i64| {
        let mut evidence = human("s002");
        let start_us = evidence.strokes.iter().map(|s| s.up_at_us).max().unwrap_or(0) + 500_000;
        for sweep in 0..4i64 {
            for i in 0..(1_200_000 / interval_us) {
                let t = (i * interval_us) as f64 / 1_200_000.0;
                evidence.pointer.push(PointerSample {
                    at_us: start_us + sweep * 2_000_000 + i * interval_us,
                    kind: PointerKind::Move,
                    x_px: 100.0 + 600.0 * t,
                    y_px: 300.0 + 120.0 * (t * std::f64::consts::PI).sin() + (sweep as f64) * 10.0,
                    coalesced: 1,
                    device: PointerDevice::Mouse,
                    trusted: true,
                });
            }
        }
        evidence
    };
    write(&dir, "pointer_local", &pointer(8_000));
    write(&dir, "pointer_25hz", &pointer(40_000));

    let mut laptop = human("s017");
    laptop.environment = Some(Environment {
        webdriver: false,
        renderer: Renderer::Hardware,
        screen_width_px: 1440,
        screen_height_px: 900,
    });
    write(&dir, "laptop_hardware", &laptop);
}
