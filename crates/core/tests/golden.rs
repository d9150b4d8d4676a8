//! Golden vectors: the same evidence gives byte-identical verdicts and signatures on native and
//! wasm32. Natively the verdicts are insta snapshots; in headless Chromium the same snapshot files
//! are compared byte for byte.

use onsite_core::jws::Signer;
use onsite_core::wire::Claims;
use onsite_core::wire::{EvidenceV1, VerdictV1};
use onsite_core::{score, Features};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A case: its name, its evidence, and (in the browser) its snapshot file.
struct Case {
    name: &'static str,
    evidence: &'static str,
    #[cfg(target_arch = "wasm32")]
    snapshot: &'static str,
}

macro_rules! case {
    ($name:literal) => {
        Case {
            name: $name,
            evidence: include_str!(concat!("../../../tests/golden/", $name, ".evidence.json")),
            #[cfg(target_arch = "wasm32")]
            snapshot: include_str!(concat!("snapshots/golden__", $name, ".snap")),
        }
    };
}

const CASES: [Case; 12] = [
    case!("human_s002"),
    case!("human_s017"),
    case!("thin"),
    case!("zero_dwell"),
    case!("burst_release"),
    case!("automated_software"),
    case!("laptop_hardware"),
    case!("held_key_local"),
    case!("held_key_jitter"),
    case!("held_key_silent"),
    case!("pointer_local"),
    case!("pointer_25hz"),
];

fn verdict_text(evidence_json: &str) -> String {
    let wire: EvidenceV1 = serde_json::from_str(evidence_json).expect("golden evidence parses");
    let evidence = wire.to_evidence().expect("golden evidence is valid");
    let verdict = VerdictV1::from_verdict(&score(&Features::from_evidence(&evidence)));
    serde_json::to_string_pretty(&verdict).expect("verdict serialises")
}

#[test]
fn verdicts_match_the_golden_snapshots() {
    for case in &CASES {
        let text = verdict_text(case.evidence);
        #[cfg(not(target_arch = "wasm32"))]
        insta::assert_snapshot!(case.name, text);
        #[cfg(target_arch = "wasm32")]
        {
            // An insta file is a `---` header block followed by the snapshot itself.
            let body = case.snapshot.splitn(3, "---\n").nth(2).expect("snapshot body");
            assert_eq!(text.trim_end(), body.trim_end(), "{}", case.name);
        }
    }
}

#[test]
fn the_expected_classes_come_out() {
    let expected = [
        ("human_s002", "local"),
        ("human_s017", "local"),
        ("thin", "inconclusive"),
        ("zero_dwell", "remote"),
        ("burst_release", "remote"),
        ("automated_software", "local"),
        ("laptop_hardware", "local"),
        ("held_key_local", "local"),
        // 5 ms of repeat jitter alone no longer flags: a busy machine scatters repeats too.
        ("held_key_jitter", "local"),
        ("held_key_silent", "remote_suspected"),
        ("pointer_local", "local"),
        ("pointer_25hz", "remote_suspected"),
    ];
    for (case, (name, class)) in CASES.iter().zip(expected) {
        assert_eq!(case.name, name);
        let verdict: VerdictV1 =
            serde_json::from_str(&verdict_text(case.evidence)).expect("verdict");
        assert_eq!(verdict.class, class, "{name}: {verdict:#?}");
    }
}

/// Ed25519 signatures are deterministic, so a fixed key and fixed claims give one token.
#[test]
fn signatures_are_byte_identical() {
    let evidence: EvidenceV1 = serde_json::from_str(CASES[0].evidence).expect("evidence");
    let verdict = VerdictV1::from_verdict(&score(&Features::from_evidence(
        &evidence.to_evidence().expect("valid"),
    )));
    let claims = Claims {
        iss: "https://edge.example".into(),
        sub: "golden".into(),
        aud: "onsite".into(),
        iat: 1_800_000_000,
        exp: 1_800_086_400,
        jti: "golden-1".into(),
        verdict,
        evidence_sha256: evidence.sha256_hex(),
    };
    let token = claims.sign(&Signer::from_seed(&[42u8; 32]));
    let expected = include_str!("../../../tests/golden/human_s002.token");
    assert_eq!(token, expected.trim_end());
}
