//! The verdict claim on the wire: what the edge signs and a verifier reads.

use serde::{Deserialize, Serialize};

use crate::jws::{self, Expect, Jwks, RegisteredClaims, Signer, VerifyError, VERDICT_TYP};
use crate::verdict::{Reason, Verdict};

/// The claims of a verdict token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The session the verdict is about.
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub verdict: VerdictV1,
    /// SHA-256 of the canonical evidence that was scored (hex).
    pub evidence_sha256: String,
}

impl RegisteredClaims for Claims {
    fn expires_at_s(&self) -> u64 {
        self.exp
    }
    fn issued_at_s(&self) -> u64 {
        self.iat
    }
    fn audience(&self) -> &str {
        &self.aud
    }
    fn issuer(&self) -> &str {
        &self.iss
    }
    fn subject(&self) -> &str {
        &self.sub
    }
}

impl Claims {
    /// Signs the claims as a compact JWS of type [`VERDICT_TYP`].
    pub fn sign(&self, signer: &Signer) -> String {
        signer.sign_payload(VERDICT_TYP, self)
    }
}

/// Verifies a verdict token (compact JWS of type [`VERDICT_TYP`]) against a key set and
/// returns its claims.
pub fn verify_verdict(token: &str, jwks: &Jwks, expect: Expect<'_>) -> Result<Claims, VerifyError> {
    jws::verify(token, jwks, VERDICT_TYP, "claims are not a version-1 verdict", expect)
}

/// One reason on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonV1 {
    pub code: String,
    pub weight: f64,
    pub text: String,
}

/// The verdict claim, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictV1 {
    pub v: u32,
    pub class: String,
    pub p_remote: f64,
    pub keystrokes: u32,
    pub rtt_samples: u32,
    pub rtt_min_ms: Option<f64>,
    pub rtt_median_ms: Option<f64>,
    pub dwell_median_ms: Option<f64>,
    pub flight_median_ms: Option<f64>,
    /// Latency added to the person's own loop; absent when no closed-loop challenge ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_added_ms: Option<LoopLatencyV1>,
    /// The claimed location against the round trips; absent when nothing was claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationV1>,
    pub reasons: Vec<ReasonV1>,
}

/// A location check: `consistent`, `inconsistent` (by at least `by_km`) or `inconclusive`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationV1 {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_km: Option<f64>,
}

/// An added loop latency with its 95 % interval (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoopLatencyV1 {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl VerdictV1 {
    /// Encodes a verdict for a token.
    pub fn from_verdict(verdict: &Verdict) -> VerdictV1 {
        VerdictV1 {
            v: 1,
            class: verdict.class.as_str().to_owned(),
            p_remote: verdict.p_remote,
            keystrokes: verdict.keystrokes,
            rtt_samples: verdict.rtt_samples,
            rtt_min_ms: verdict.rtt_min_ms,
            rtt_median_ms: verdict.rtt_median_ms,
            dwell_median_ms: verdict.dwell_median_ms,
            flight_median_ms: verdict.flight_median_ms,
            loop_added_ms: verdict.loop_added_ms.map(|(estimate, low, high)| LoopLatencyV1 {
                estimate,
                low,
                high,
            }),
            location: verdict
                .location
                .map(|(status, by_km)| LocationV1 { status: status.to_owned(), by_km }),
            reasons: verdict.reasons.iter().map(ReasonV1::from_reason).collect(),
        }
    }
}

impl ReasonV1 {
    fn from_reason(reason: &Reason) -> ReasonV1 {
        // Weights are shown to people; three decimals are plenty and keep the bytes stable.
        let weight = libm::round(reason.weight * 1000.0) / 1000.0;
        ReasonV1 { code: reason.code.as_str().to_owned(), weight, text: reason.text.clone() }
    }
}
