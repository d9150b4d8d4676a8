//! Fuzzes the token verifier: arbitrary text is refused without a panic, and a genuine token
//! with any bytes changed either fails to verify or still carries exactly the signed claims.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onsite_core::jws::{Expect, Jwks, Signer};
use onsite_core::wire::{verify_verdict, Claims};

const NOW_S: u64 = 1_800_000_000;

fn genuine() -> &'static (Jwks, String, Claims) {
    static GENUINE: OnceLock<(Jwks, String, Claims)> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let signer = Signer::from_seed(&[42; 32]);
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "https://edge.example", "sub": "session", "aud": "onsite",
            "iat": NOW_S, "exp": NOW_S + 3600, "jti": "j",
            "verdict": { "v": 1, "class": "local", "p_remote": 0.01, "keystrokes": 0, "rtt_samples": 0, "reasons": [] },
            "evidence_sha256": "00"
        }))
        .expect("claims");
        let token = claims.sign(&signer);
        (Jwks { keys: vec![signer.jwk()] }, token, claims)
    })
}

fuzz_target!(|data: &[u8]| {
    let (jwks, token, claims) = genuine();
    let expect = Expect::new(NOW_S, "onsite");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = verify_verdict(text, jwks, expect);
    }
    // The fuzz input as edits to a genuine token: (position, byte) pairs.
    let mut altered = token.clone().into_bytes();
    for edit in data.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % altered.len();
        altered[at] = edit[2];
    }
    if let Ok(text) = String::from_utf8(altered) {
        if let Ok(verified) = verify_verdict(&text, jwks, expect) {
            assert_eq!(&verified, claims, "a changed token verified with different claims");
        }
    }
});
