//! The HTTP API's JSON bodies (sessions, verdict history, verification, errors), written by the
//! edge and read by the pages.
//!
//! The bytes are those the edge sent before these types existed, when it built the bodies with
//! `serde_json::json!`: that macro sorts a body's keys, so the types that replaced it declare
//! their fields in alphabetical order, and fields written as `null` stay `null`. Portals, the
//! example embed and the end-to-end tests read these bodies, and `docs/verdicts.md` documents the
//! verifier's.

use serde::{Deserialize, Serialize};

use super::Claims;

/// Every error answer of the HTTP API: a sentence saying what went wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorV1 {
    pub error: String,
}

/// `POST /api/v1/sessions`: what may come with a new session (an empty body means nothing).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCreateRequestV1 {
    /// Where the candidate says they are: a listed city or `"lat,lon"`; left out when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_location: Option<String>,
}

/// The answer to `POST /api/v1/sessions`: the new session and its two links, whose fragments
/// carry the capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreatedV1 {
    pub id: String,
    pub candidate_url: String,
    pub interviewer_url: String,
}

/// The answer to `GET /api/v1/sessions`: the newest sessions first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionListV1 {
    pub sessions: Vec<SessionSummaryV1>,
}

/// One session in the list, with its latest verdict's class, probability and issue time
/// (`null` until it has a verdict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummaryV1 {
    /// Where the candidate said they are, as given at creation.
    pub claimed_location: Option<String>,
    pub class: Option<String>,
    pub created_at_ms: i64,
    pub id: String,
    pub issued_at_s: Option<i64>,
    pub p_remote: Option<f64>,
}

/// The answer to `GET /api/v1/sessions/{id}/verdicts`: a session's verdicts, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictListV1 {
    pub session: String,
    pub verdicts: Vec<IssuedVerdictV1>,
}

/// One verdict as it was issued: its signed token and, read from the verdict beside it, its
/// class and probability (`null` if the stored verdict lacks them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedVerdictV1 {
    pub class: Option<String>,
    pub issued_at_s: i64,
    pub p_remote: Option<f64>,
    pub token: String,
}

/// `POST /api/v1/verify`: does this token verify, is it about the session the portal expects,
/// and does its verdict pass this policy? Absent and `null` fields both mean "not given"; `iss`
/// is left out when not given, the others are written as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequestV1 {
    /// The audience the token must name; the edge's audience (`--audience`) when not given.
    #[serde(default)]
    pub aud: Option<String>,
    /// The issuer (the edge's public URL) the token must name, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The oldest verdict accepted, in seconds.
    #[serde(default)]
    pub max_age_s: Option<u64>,
    /// Verdict classes that pass; only `local` when not given; an empty list is refused.
    #[serde(default)]
    pub require: Option<Vec<String>>,
    /// The session the portal expects the verdict to be about, if given.
    #[serde(default)]
    pub sub: Option<String>,
    pub token: String,
}

/// What the verifier tells a portal to do with a laptop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionV1 {
    /// The token is valid and its verdict passes the policy.
    Ship,
    /// Anything else.
    Hold,
}

impl DecisionV1 {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionV1::Ship => "ship",
            DecisionV1::Hold => "hold",
        }
    }
}

/// The answer to `POST /api/v1/verify`: `ship` only for a valid token whose verdict passes the
/// policy, with the reasons, and the claims when the signature verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyAnswerV1 {
    pub decision: DecisionV1,
    pub valid: bool,
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Claims>,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Checks that `body` is written as exactly `json` and reads back as itself.
    fn check<T>(body: T, json: &str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let written = serde_json::to_string(&body).expect("a body serialises");
        assert_eq!(written, json);
        let read: T = serde_json::from_str(&written).expect("a body reads back");
        assert_eq!(read, body);
    }

    #[test]
    fn bodies_round_trip_as_the_edge_has_always_written_them() {
        check(
            ApiErrorV1 { error: "the API key is wrong".into() },
            r#"{"error":"the API key is wrong"}"#,
        );
        check(SessionCreateRequestV1::default(), "{}");
        check(
            SessionCreateRequestV1 { claimed_location: Some("Chicago".into()) },
            r#"{"claimed_location":"Chicago"}"#,
        );
        check(
            SessionCreatedV1 {
                id: "s1".into(),
                candidate_url: "http://e/candidate#session=s1&token=c".into(),
                interviewer_url: "http://e/interviewer#session=s1&token=i".into(),
            },
            r#"{"id":"s1","candidate_url":"http://e/candidate#session=s1&token=c","interviewer_url":"http://e/interviewer#session=s1&token=i"}"#,
        );
        check(
            SessionListV1 {
                sessions: vec![
                    SessionSummaryV1 {
                        claimed_location: Some("London".into()),
                        class: Some("local".into()),
                        created_at_ms: 1_800_000_000_000,
                        id: "s2".into(),
                        issued_at_s: Some(1_800_000_060),
                        p_remote: Some(0.125),
                    },
                    SessionSummaryV1 {
                        claimed_location: None,
                        class: None,
                        created_at_ms: 1_799_999_000_000,
                        id: "s1".into(),
                        issued_at_s: None,
                        p_remote: None,
                    },
                ],
            },
            concat!(
                r#"{"sessions":[{"claimed_location":"London","class":"local","created_at_ms":1800000000000,"id":"s2","issued_at_s":1800000060,"p_remote":0.125},"#,
                r#"{"claimed_location":null,"class":null,"created_at_ms":1799999000000,"id":"s1","issued_at_s":null,"p_remote":null}]}"#
            ),
        );
        check(
            VerdictListV1 {
                session: "s1".into(),
                verdicts: vec![IssuedVerdictV1 {
                    class: Some("remote".into()),
                    issued_at_s: 1_800_000_060,
                    p_remote: Some(0.9),
                    token: "a.b.c".into(),
                }],
            },
            r#"{"session":"s1","verdicts":[{"class":"remote","issued_at_s":1800000060,"p_remote":0.9,"token":"a.b.c"}]}"#,
        );
        check(
            VerifyRequestV1 {
                aud: None,
                iss: None,
                max_age_s: Some(3600),
                require: Some(vec!["local".into()]),
                sub: Some("s1".into()),
                token: "a.b.c".into(),
            },
            r#"{"aud":null,"max_age_s":3600,"require":["local"],"sub":"s1","token":"a.b.c"}"#,
        );
        check(
            VerifyAnswerV1 {
                decision: DecisionV1::Hold,
                valid: false,
                reasons: vec!["token is malformed".into()],
                claims: None,
            },
            r#"{"decision":"hold","valid":false,"reasons":["token is malformed"]}"#,
        );
    }

    #[test]
    fn requests_refuse_unknown_fields_and_read_null_as_not_given() {
        let request: VerifyRequestV1 =
            serde_json::from_str(r#"{"token":"t","iss":null}"#).expect("a minimal request");
        assert_eq!((request.iss, request.require, request.token.as_str()), (None, None, "t"));
        assert!(serde_json::from_str::<VerifyRequestV1>(r#"{"token":"t","policy":1}"#).is_err());
        let request: SessionCreateRequestV1 =
            serde_json::from_str(r#"{"claimed_location":null}"#).expect("a null location");
        assert_eq!(request, SessionCreateRequestV1::default());
        assert!(serde_json::from_str::<SessionCreateRequestV1>(r#"{"where":"x"}"#).is_err());
        assert_eq!(DecisionV1::Ship.as_str(), "ship");
    }
}
