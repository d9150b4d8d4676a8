//! Another edge's signed measurement of the round trips it timed to a session's browser.

use serde::{Deserialize, Serialize};

/// The audience of every measurement: the session's edge, never a verdict verifier. An edge
/// refuses to start with this as its verdict audience.
pub const MEASUREMENT_AUDIENCE: &str = "onsite-measurement";
/// How long a measurement stays valid after it is signed (seconds).
pub const MEASUREMENT_TTL_S: u64 = 300;
/// The longest validity a measurement may claim (seconds); a longer one is refused.
pub const MEASUREMENT_MAX_LIFETIME_S: u64 = 600;
/// Clock skew tolerated between edges on a measurement's `iat` and `exp` (seconds).
pub const MEASUREMENT_LEEWAY_S: u64 = 60;
/// The longest nonce a measuring edge signs (characters).
pub const MAX_NONCE_CHARS: usize = 64;

/// An edge's signed statement of the round trips it timed to a session's browser, signed with
/// `typ` [`crate::jws::MEASUREMENT_TYP`] and `aud` [`MEASUREMENT_AUDIENCE`], so no verdict
/// verifier takes it for a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementV1 {
    /// The edge's id, as the session's edge knows it from its configuration.
    pub iss: String,
    /// The session measured.
    pub sub: String,
    /// Always [`MEASUREMENT_AUDIENCE`].
    pub aud: String,
    pub iat: u64,
    /// Expiry (seconds since 1970), [`MEASUREMENT_TTL_S`] after `iat`.
    pub exp: u64,
    /// The nonce the session's edge gave the browser for this session (in the echo URL), so a
    /// measurement counts only for the session whose edge asked for it.
    pub nonce: String,
    /// Round trips the edge timed on its own clock (µs).
    pub rtt_us: Vec<u32>,
    /// Probes sent that never came back.
    pub lost: u32,
}

/// Whether `nonce` is one a measuring edge signs: 1 to [`MAX_NONCE_CHARS`] base64url characters.
pub fn valid_nonce(nonce: &str) -> bool {
    (1..=MAX_NONCE_CHARS).contains(&nonce.len())
        && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a measurement was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MeasurementError {
    #[error("measurement signature: {0}")]
    Signature(#[from] crate::jws::VerifyError),
    #[error("measurement is not a version-1 measurement")]
    Malformed,
    #[error("measurement names edge {0:?}, which is not the edge whose key signed it")]
    WrongEdge(String),
    #[error("measurement is for another session")]
    WrongSession,
    #[error("measurement audience is {0:?}, not {MEASUREMENT_AUDIENCE:?}")]
    WrongAudience(String),
    #[error("measurement was not asked for by this session's edge (its nonce does not match)")]
    WrongNonce,
    #[error("measurement expired at {exp_s} (now {now_s})")]
    Expired { exp_s: u64, now_s: u64 },
    #[error("measurement is issued in the future ({iat_s}, now {now_s})")]
    NotYetValid { iat_s: u64, now_s: u64 },
    #[error("measurement claims {0} s of validity; at most 600 s are accepted")]
    Lifetime(u64),
    #[error("measurement carries {0} round trips; 1 to 200 are accepted")]
    Size(usize),
}

/// What the session's edge expects of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct MeasurementExpect<'a> {
    /// The session the measurement must be about.
    pub session: &'a str,
    /// The nonce this edge gave the browser for that session.
    pub nonce: &'a str,
    /// The time now, in seconds since the Unix epoch.
    pub now_s: u64,
}

/// Verifies a measurement signed by `edge_id` (whose public key is `jwks`) for a session.
pub fn verify_measurement(
    token: &str,
    edge_id: &str,
    jwks: &crate::jws::Jwks,
    expect: MeasurementExpect<'_>,
) -> Result<MeasurementV1, MeasurementError> {
    let payload = crate::jws::verify_payload(token, jwks, crate::jws::MEASUREMENT_TYP)?;
    let measurement: MeasurementV1 =
        serde_json::from_slice(&payload).map_err(|_| MeasurementError::Malformed)?;
    if measurement.iss != edge_id {
        return Err(MeasurementError::WrongEdge(measurement.iss));
    }
    if measurement.sub != expect.session {
        return Err(MeasurementError::WrongSession);
    }
    if measurement.aud != MEASUREMENT_AUDIENCE {
        return Err(MeasurementError::WrongAudience(measurement.aud));
    }
    if measurement.nonce.as_bytes() != expect.nonce.as_bytes() || !valid_nonce(expect.nonce) {
        return Err(MeasurementError::WrongNonce);
    }
    let now_s = expect.now_s;
    if measurement.exp.saturating_add(MEASUREMENT_LEEWAY_S) <= now_s {
        return Err(MeasurementError::Expired { exp_s: measurement.exp, now_s });
    }
    if measurement.iat > now_s.saturating_add(MEASUREMENT_LEEWAY_S) {
        return Err(MeasurementError::NotYetValid { iat_s: measurement.iat, now_s });
    }
    let lifetime_s = measurement.exp.saturating_sub(measurement.iat);
    if lifetime_s > MEASUREMENT_MAX_LIFETIME_S {
        return Err(MeasurementError::Lifetime(lifetime_s));
    }
    if measurement.rtt_us.is_empty() || measurement.rtt_us.len() > 200 {
        return Err(MeasurementError::Size(measurement.rtt_us.len()));
    }
    Ok(measurement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::{Jwks, Signer, VerifyError, MEASUREMENT_TYP, VERDICT_TYP};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW_S: u64 = 1_800_000_000;

    fn measurement() -> MeasurementV1 {
        MeasurementV1 {
            iss: "chi".into(),
            sub: "session-1".into(),
            aud: MEASUREMENT_AUDIENCE.into(),
            iat: NOW_S,
            exp: NOW_S + MEASUREMENT_TTL_S,
            nonce: "n0nce".into(),
            rtt_us: vec![40_000, 41_000],
            lost: 0,
        }
    }

    fn check(
        token: &str,
        session: &str,
        nonce: &str,
        now_s: u64,
        expected: Result<(), MeasurementError>,
    ) {
        let signer = Signer::from_seed(&[3u8; 32]);
        let jwks = Jwks { keys: vec![signer.jwk()] };
        let got =
            verify_measurement(token, "chi", &jwks, MeasurementExpect { session, nonce, now_s });
        assert_eq!(got.map(|_| ()), expected, "{token}");
    }

    #[test]
    fn a_measurement_counts_only_for_its_session_nonce_audience_and_lifetime() {
        let signer = Signer::from_seed(&[3u8; 32]);
        let sign = |m: &MeasurementV1| signer.sign_payload(MEASUREMENT_TYP, m);
        let with = |change: fn(&mut MeasurementV1)| {
            let mut m = measurement();
            change(&mut m);
            sign(&m)
        };
        let genuine = sign(&measurement());
        check(&genuine, "session-1", "n0nce", NOW_S + 10, Ok(()));
        check(&genuine, "session-2", "n0nce", NOW_S, Err(MeasurementError::WrongSession));
        check(&genuine, "session-1", "other", NOW_S, Err(MeasurementError::WrongNonce));
        check(
            &with(|m| m.nonce = String::new()),
            "session-1",
            "",
            NOW_S,
            Err(MeasurementError::WrongNonce),
        );
        check(
            &genuine,
            "session-1",
            "n0nce",
            NOW_S + MEASUREMENT_TTL_S + MEASUREMENT_LEEWAY_S,
            Err(MeasurementError::Expired {
                exp_s: NOW_S + MEASUREMENT_TTL_S,
                now_s: NOW_S + MEASUREMENT_TTL_S + MEASUREMENT_LEEWAY_S,
            }),
        );
        check(
            &genuine,
            "session-1",
            "n0nce",
            NOW_S - 61,
            Err(MeasurementError::NotYetValid { iat_s: NOW_S, now_s: NOW_S - 61 }),
        );
        check(
            &with(|m| m.aud = "onsite".into()),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::WrongAudience("onsite".into())),
        );
        check(
            &with(|m| m.exp = m.iat + 10 * 24 * 3600),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::Lifetime(10 * 24 * 3600)),
        );
        check(
            &with(|m| m.iss = "nyc".into()),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::WrongEdge("nyc".into())),
        );
        // A measurement signed as a verdict (the old `typ`) is refused as the wrong type.
        check(
            &signer.sign_payload(VERDICT_TYP, &measurement()),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::Signature(VerifyError::WrongType {
                expected: MEASUREMENT_TYP,
                got: VERDICT_TYP.into(),
            })),
        );
        // The old shape (no aud, exp or nonce) does not parse.
        let old = serde_json::json!({"iss": "chi", "sub": "session-1", "iat": NOW_S, "rtt_us": [1], "lost": 0});
        check(
            &signer.sign_payload(MEASUREMENT_TYP, &old),
            "session-1",
            "n0nce",
            NOW_S,
            Err(MeasurementError::Malformed),
        );
    }

    #[test]
    fn nonces_are_short_base64url() {
        for (nonce, valid) in [("abc-_09", true), ("", false), ("a b", false), ("a.b", false)] {
            assert_eq!(valid_nonce(nonce), valid, "{nonce:?}");
        }
        assert!(
            valid_nonce(&"a".repeat(MAX_NONCE_CHARS))
                && !valid_nonce(&"a".repeat(MAX_NONCE_CHARS + 1))
        );
    }
}
