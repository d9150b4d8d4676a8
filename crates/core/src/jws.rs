//! Compact JWS with `alg: EdDSA` (Ed25519, RFC 8037), JWKs with RFC 7638 thumbprints as `kid`,
//! and a verifier that refuses everything it was not built to accept. Payload-generic: what a
//! verdict or a measurement says lives in `wire`, which builds on this module and not the other
//! way round.
//!
//! The signer takes its key as seed bytes and the verifier takes the time as `now_s`: neither
//! reads a file, a clock or a random source.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;

/// The only algorithm this verifier accepts.
pub const ALG: &str = "EdDSA";
/// The longest token the verifier reads (bytes); verdicts are a few KiB.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The `typ` header of a verdict token; the verdict verifier refuses every other type.
pub const VERDICT_TYP: &str = "JWT";
/// The `typ` header of an edge's signed measurement (RFC 8725 section 3.11 explicit typing).
pub const MEASUREMENT_TYP: &str = "onsite-measurement+jwt";
/// The audience every verdict names unless the deployment sets its own.
pub const DEFAULT_AUDIENCE: &str = "onsite";

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    #[error("token algorithm {0:?} is not accepted; only EdDSA is")]
    UnsupportedAlg(String),
    #[error("token was signed by key {0:?}, which is not in the key set")]
    UnknownKey(String),
    #[error("token signature does not verify: it was altered or signed by another key")]
    BadSignature,
    #[error("token expired at {exp_s} (now {now_s})")]
    Expired { exp_s: u64, now_s: u64 },
    #[error("token is issued in the future ({iat_s}, now {now_s})")]
    NotYetValid { iat_s: u64, now_s: u64 },
    #[error("token audience is {got:?}, expected {expected:?}")]
    WrongAudience { expected: String, got: String },
    #[error("token type is {got:?}, expected {expected:?}: it is not this kind of token")]
    WrongType { expected: &'static str, got: String },
    #[error("token marks header parameters {0:?} as critical, and this verifier understands none")]
    UnknownCritical(String),
    #[error("token issuer is {got:?}, expected {expected:?}")]
    WrongIssuer { expected: String, got: String },
    #[error("token is about session {got:?}, expected {expected:?}")]
    WrongSubject { expected: String, got: String },
}

/// A public key in JWK form (RFC 8037 `OKP`, `Ed25519`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK set, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWK set from JSON text.
    pub fn parse(text: &str) -> Result<Jwks, VerifyError> {
        serde_json::from_str(text).map_err(|_| VerifyError::Malformed("key set is not a JWK set"))
    }
}

/// The registered claims (RFC 7519 section 4.1) a verifier checks against [`Expect`].
pub trait RegisteredClaims {
    /// `exp`, in seconds since the Unix epoch.
    fn expires_at_s(&self) -> u64;
    /// `iat`, in seconds since the Unix epoch.
    fn issued_at_s(&self) -> u64;
    fn audience(&self) -> &str;
    fn issuer(&self) -> &str;
    fn subject(&self) -> &str;
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    /// Extensions the recipient must understand (RFC 7515 section 4.1.11); this verifier
    /// understands none, so any value is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// An Ed25519 signing key with its thumbprint.
pub struct Signer {
    key: SigningKey,
    kid: String,
}

impl Signer {
    /// Makes a signer from a 32-byte seed (the private key).
    pub fn from_seed(seed: &[u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(seed);
        let kid = thumbprint(&b64::encode(key.verifying_key().as_bytes()));
        Signer { key, kid }
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64::encode(self.key.verifying_key().as_bytes()),
            kid: Some(self.kid.clone()),
            alg: Some(ALG.into()),
            use_: Some("sig".into()),
        }
    }

    /// Signs any serialisable payload as a compact JWS with the given `typ` header (for example
    /// [`MEASUREMENT_TYP`] for an edge's measurement).
    pub fn sign_payload(&self, typ: &str, payload: &impl Serialize) -> String {
        let header = Header {
            alg: ALG.into(),
            typ: Some(typ.into()),
            kid: Some(self.kid.clone()),
            crit: None,
        };
        let header_json = serde_json::to_vec(&header).expect("a header is strings only");
        // Every payload type this crate signs is plain data (strings, numbers, vectors), which
        // serde_json always serialises; an empty payload is never signed in its place.
        let claims_json = serde_json::to_vec(payload).expect("a payload is plain data");
        let signing_input = format!("{}.{}", b64::encode(&header_json), b64::encode(&claims_json));
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64::encode(&signature.to_bytes()))
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key given as base64url `x`.
pub fn thumbprint(x: &str) -> String {
    // Required members only, in lexicographic order, no white space (RFC 7638 section 3).
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    b64::encode(&Sha256::digest(canonical.as_bytes()))
}

/// What a verifier expects of a token besides a good signature.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The time now, in seconds since the Unix epoch.
    pub now_s: u64,
    /// The audience the token must name: always checked.
    pub audience: &'a str,
    /// The issuer (the edge's public URL) the token must name, if the caller knows it.
    pub issuer: Option<&'a str>,
    /// The session the token must be about, if the caller knows which one it expects.
    pub subject: Option<&'a str>,
    /// Clock skew tolerated on `iat` and `exp` (seconds).
    pub leeway_s: u64,
}

impl<'a> Expect<'a> {
    /// Expects `audience` at `now_s`, with no issuer or session and a minute of leeway.
    pub fn new(now_s: u64, audience: &'a str) -> Expect<'a> {
        Expect { now_s, audience, issuer: None, subject: None, leeway_s: 60 }
    }
}

/// Verifies a token of type `typ` against a key set and [`Expect`], and returns its claims;
/// `shape` names what the claims should be, for the error when they are not.
pub fn verify<C: DeserializeOwned + RegisteredClaims>(
    token: &str,
    jwks: &Jwks,
    typ: &'static str,
    shape: &'static str,
    expect: Expect<'_>,
) -> Result<C, VerifyError> {
    let claims_json = verify_payload(token, jwks, typ)?;
    let claims: C =
        serde_json::from_slice(&claims_json).map_err(|_| VerifyError::Malformed(shape))?;
    let (exp_s, iat_s) = (claims.expires_at_s(), claims.issued_at_s());
    if exp_s.saturating_add(expect.leeway_s) <= expect.now_s {
        return Err(VerifyError::Expired { exp_s, now_s: expect.now_s });
    }
    if iat_s > expect.now_s.saturating_add(expect.leeway_s) {
        return Err(VerifyError::NotYetValid { iat_s, now_s: expect.now_s });
    }
    if claims.audience() != expect.audience {
        return Err(VerifyError::WrongAudience {
            expected: expect.audience.into(),
            got: claims.audience().into(),
        });
    }
    if let Some(expected) = expect.issuer {
        if claims.issuer() != expected {
            return Err(VerifyError::WrongIssuer {
                expected: expected.into(),
                got: claims.issuer().into(),
            });
        }
    }
    if let Some(expected) = expect.subject {
        if claims.subject() != expected {
            return Err(VerifyError::WrongSubject {
                expected: expected.into(),
                got: claims.subject().into(),
            });
        }
    }
    Ok(claims)
}

/// Checks a compact JWS's signature (EdDSA only) against a key set, and that its `typ` header
/// is `typ` and it has no `crit` header, and returns its payload bytes.
pub fn verify_payload(token: &str, jwks: &Jwks, typ: &'static str) -> Result<Vec<u8>, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::Malformed("token is too long"));
    }
    let mut parts = token.trim().split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("a compact JWS has exactly three parts"));
    };
    let header_json =
        b64::decode(header_b64).ok_or(VerifyError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| VerifyError::Malformed("header is not JSON"))?;
    if header.alg != ALG {
        return Err(VerifyError::UnsupportedAlg(header.alg));
    }
    if let Some(crit) = header.crit {
        return Err(VerifyError::UnknownCritical(crit.to_string()));
    }
    if header.typ.as_deref() != Some(typ) {
        return Err(VerifyError::WrongType { expected: typ, got: header.typ.unwrap_or_default() });
    }
    let kid = header.kid.ok_or(VerifyError::Malformed("header has no kid"))?;
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid.as_str()) && k.kty == "OKP" && k.crv == "Ed25519")
        .ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?;
    let public = b64::decode(&jwk.x)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or(VerifyError::Malformed("key in the key set is not an Ed25519 public key"))?;
    let signature = b64::decode(signature_b64)
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or(VerifyError::Malformed("signature is not 64 bytes of base64url"))?;
    let signing_input_len = header_b64.len() + 1 + claims_b64.len();
    let signing_input = &token.trim().as_bytes()[..signing_input_len];
    public.verify_strict(signing_input, &signature).map_err(|_| VerifyError::BadSignature)?;
    b64::decode(claims_b64).ok_or(VerifyError::Malformed("claims are not base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{verify_verdict as verify, Claims, VerdictV1};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW_S: u64 = 1_800_000_000;

    fn claims() -> Claims {
        Claims {
            iss: "http://127.0.0.1:8080".into(),
            sub: "session-1".into(),
            aud: "onsite".into(),
            iat: NOW_S,
            exp: NOW_S + 3600,
            jti: "j1".into(),
            verdict: VerdictV1 {
                v: 1,
                class: "local".into(),
                p_remote: 0.01,
                keystrokes: 42,
                rtt_samples: 9,
                rtt_min_ms: Some(0.3),
                rtt_median_ms: Some(0.5),
                dwell_median_ms: Some(95.0),
                flight_median_ms: Some(180.0),
                loop_added_ms: None,
                location: None,
                reasons: vec![],
            },
            evidence_sha256: "00".repeat(32),
        }
    }

    fn setup() -> (Signer, Jwks, String) {
        let signer = Signer::from_seed(&[7u8; 32]);
        let jwks = Jwks { keys: vec![signer.jwk()] };
        let token = claims().sign(&signer);
        (signer, jwks, token)
    }

    fn expect(now_s: u64) -> Expect<'static> {
        Expect { leeway_s: 0, ..Expect::new(now_s, "onsite") }
    }

    fn check(token: &str, jwks: &Jwks, now_s: u64, expected: Result<(), VerifyError>) {
        assert_eq!(verify(token, jwks, expect(now_s)).map(|_| ()), expected, "{token}");
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_its_claims() {
        let (_, jwks, token) = setup();
        assert_eq!(verify(&token, &jwks, expect(NOW_S)), Ok(claims()));
    }

    /// The classic key-confusion forgery: an HS256 token whose HMAC secret is the public key.
    fn hmac_with_public_key_as_secret(jwks: &Jwks) -> String {
        let secret = b64::decode(&jwks.keys[0].x).unwrap_or_default();
        let kid = jwks.keys[0].kid.clone().unwrap_or_default();
        let header =
            b64::encode(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#).as_bytes());
        let mut forged = claims();
        forged.verdict.class = "local".into();
        let body = b64::encode(&serde_json::to_vec(&forged).unwrap_or_default());
        let input = format!("{header}.{body}");
        // HMAC-SHA256 (RFC 2104), written out so the test needs no HMAC crate.
        let mut key = [0u8; 64];
        key[..secret.len()].copy_from_slice(&secret);
        let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
        let inner = Sha256::new().chain_update(pad(0x36)).chain_update(input.as_bytes()).finalize();
        let mac = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
        format!("{input}.{}", b64::encode(&mac))
    }

    /// A token signed by the genuine key under an arbitrary header.
    fn signed_with_header(signer: &Signer, header_json: &str) -> String {
        let body = b64::encode(&serde_json::to_vec(&claims()).unwrap_or_default());
        let input = format!("{}.{body}", b64::encode(header_json.as_bytes()));
        let signature = signer.key.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(&signature.to_bytes()))
    }

    #[test]
    fn refuses_other_token_types_and_critical_headers_even_when_genuinely_signed() {
        let (signer, jwks, _) = setup();
        let kid = signer.kid().to_owned();
        let wrong_type =
            |got: &str| Err(VerifyError::WrongType { expected: VERDICT_TYP, got: got.to_owned() });
        let cases: [(String, Result<(), VerifyError>); 6] = [
            (signer.sign_payload(MEASUREMENT_TYP, &claims()), wrong_type(MEASUREMENT_TYP)),
            (
                signed_with_header(&signer, &format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#)),
                wrong_type(""),
            ),
            (
                signed_with_header(
                    &signer,
                    &format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
                ),
                wrong_type("at+jwt"),
            ),
            (
                signed_with_header(
                    &signer,
                    &format!(
                        r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":["exp"],"exp":1}}"#
                    ),
                ),
                Err(VerifyError::UnknownCritical(r#"["exp"]"#.into())),
            ),
            (
                signed_with_header(
                    &signer,
                    &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","crit":[]}}"#),
                ),
                Err(VerifyError::UnknownCritical("[]".into())),
            ),
            (
                signed_with_header(
                    &signer,
                    &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
                ),
                Ok(()),
            ),
        ];
        for (token, expected) in cases {
            check(&token, &jwks, NOW_S, expected);
        }
    }

    #[test]
    fn an_expected_issuer_or_session_must_match() {
        let (_, jwks, token) = setup();
        let cases = [
            (None::<&str>, None::<&str>, Ok(())),
            (Some("http://127.0.0.1:8080"), Some("session-1"), Ok(())),
            (
                Some("https://other.example"),
                None,
                Err(VerifyError::WrongIssuer {
                    expected: "https://other.example".into(),
                    got: "http://127.0.0.1:8080".into(),
                }),
            ),
            (
                None,
                Some("session-2"),
                Err(VerifyError::WrongSubject {
                    expected: "session-2".into(),
                    got: "session-1".into(),
                }),
            ),
            (
                Some("http://127.0.0.1:8080"),
                Some(""),
                Err(VerifyError::WrongSubject { expected: "".into(), got: "session-1".into() }),
            ),
        ];
        for (issuer, subject, expected) in cases {
            let got = verify(&token, &jwks, Expect { issuer, subject, ..expect(NOW_S) });
            assert_eq!(got.map(|_| ()), expected, "{issuer:?} {subject:?}");
        }
    }

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint() {
        // RFC 8037 appendix A.3 gives this thumbprint for the appendix A.1 key.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        assert_eq!(thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn refuses_what_it_must() {
        let (_, jwks, token) = setup();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = {
            let mut c = claims();
            c.verdict.class = "remote".into();
            b64::encode(&serde_json::to_vec(&c).unwrap_or_default())
        };
        let none_header = b64::encode(br#"{"alg":"none","kid":"x"}"#);
        let hs_header = b64::encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let other = Signer::from_seed(&[9u8; 32]);
        check(
            &token,
            &jwks,
            NOW_S + 3600,
            Err(VerifyError::Expired { exp_s: NOW_S + 3600, now_s: NOW_S + 3600 }),
        );
        check(
            &format!("{}.{}.{}", parts[0], forged_claims, parts[2]),
            &jwks,
            NOW_S,
            Err(VerifyError::BadSignature),
        );
        check(
            &format!("{none_header}.{}.", parts[1]),
            &jwks,
            NOW_S,
            Err(VerifyError::UnsupportedAlg("none".into())),
        );
        check(
            &format!("{hs_header}.{}.{}", parts[1], parts[2]),
            &jwks,
            NOW_S,
            Err(VerifyError::UnsupportedAlg("HS256".into())),
        );
        check(
            &claims().sign(&other),
            &jwks,
            NOW_S,
            Err(VerifyError::UnknownKey(other.kid().into())),
        );
        check(
            &token[..token.len() - 10],
            &jwks,
            NOW_S,
            Err(VerifyError::Malformed("signature is not 64 bytes of base64url")),
        );
        check(
            &format!("{}.{}", parts[0], parts[1]),
            &jwks,
            NOW_S,
            Err(VerifyError::Malformed("a compact JWS has exactly three parts")),
        );
        check(
            &token,
            &jwks,
            NOW_S - 100,
            Err(VerifyError::NotYetValid { iat_s: NOW_S, now_s: NOW_S - 100 }),
        );
        check(
            &hmac_with_public_key_as_secret(&jwks),
            &jwks,
            NOW_S,
            Err(VerifyError::UnsupportedAlg("HS256".into())),
        );
        let wrong_aud = verify(&token, &jwks, Expect { audience: "portal", ..expect(NOW_S) });
        assert_eq!(
            wrong_aud.map(|_| ()),
            Err(VerifyError::WrongAudience { expected: "portal".into(), got: "onsite".into() })
        );
    }
}
