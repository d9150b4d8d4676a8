//! Fuzzes the evidence decoder: any bytes, as a batch frame or as a whole evidence file, either
//! decode to evidence whose score is a probability, or fail with an error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onsite_core::wire::{ClientMsg, EvidenceV1};
use onsite_core::{score, Features};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(ClientMsg::Evidence(batch)) = ClientMsg::parse(text) {
        let _ = batch.decode();
    }
    if let Ok(file) = serde_json::from_str::<EvidenceV1>(text) {
        if let Ok(evidence) = file.to_evidence() {
            let verdict = score(&Features::from_evidence(&evidence));
            assert!(
                (0.0..=1.0).contains(&verdict.p_remote),
                "P(remote) {} out of range",
                verdict.p_remote
            );
        }
    }
});
