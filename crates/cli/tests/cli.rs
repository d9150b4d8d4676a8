//! The `onsite` binary from the outside: offline re-scoring and clear failures on bad input.

use std::path::Path;
use std::process::Command;

fn onsite(args: &[&str]) -> (i32, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_onsite")).args(args).output().expect("onsite runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn golden(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn score_re_scores_saved_evidence_with_reasons() {
    for (case, class) in
        [("human_s002", "local"), ("zero_dwell", "remote"), ("thin", "inconclusive")]
    {
        let (code, stdout, stderr) = onsite(&["score", &golden(&format!("{case}.evidence.json"))]);
        assert_eq!(code, 0, "{stderr}");
        let verdict: serde_json::Value = serde_json::from_str(&stdout).expect("verdict JSON");
        assert_eq!(verdict["class"], class, "{case}");
        assert!(stderr.contains(&format!("verdict: {class}")), "{stderr}");
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"v\":1,\"strokes\":[{\"down_us\":5,\"up_us\":1,\"class\":\"letter\",\"repeats\":0,\"trusted\":true}],\"rtt_us\":[]}").expect("write");
    let cases: [(&[&str], i32, &str); 4] = [
        (&["score", "/nonexistent/evidence.json"], 1, "cannot read /nonexistent/evidence.json"),
        (&["score", &garbage.display().to_string()], 1, "key-up before key-down"),
        (&["verify", "--jwks", "/nonexistent/jwks.json", "a.b.c"], 1, "cannot read the key set"),
        (
            &["session", "create", "--server", "http://127.0.0.1:9", "--api-key", "k"],
            1,
            "cannot reach the edge",
        ),
    ];
    for (args, expected_code, message) in cases {
        let (code, _, stderr) = onsite(args);
        assert_eq!(code, expected_code, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// The time the verifier is told it is, so no test waits for a token to age.
const NOW_S: u64 = 1_800_000_000;

fn claims(sub: &str, aud: &str, class: &str, iat: u64) -> serde_json::Value {
    serde_json::json!({
        "iss": "https://onsite.example", "sub": sub, "aud": aud, "iat": iat, "exp": iat + 3600,
        "jti": "j",
        "verdict": {
            "v": 1, "class": class, "p_remote": 0.01, "keystrokes": 40, "rtt_samples": 10,
            "rtt_min_ms": 0.2, "rtt_median_ms": 0.3, "dwell_median_ms": 90.0,
            "flight_median_ms": 170.0, "reasons": []
        },
        "evidence_sha256": "00",
    })
}

#[test]
fn verify_fails_closed_and_checks_session_issuer_audience_and_type() {
    use onsite_core::jws::{Jwks, Signer, MEASUREMENT_TYP, VERDICT_TYP};
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = Signer::from_seed(&[5u8; 32]);
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::to_string(&Jwks { keys: vec![signer.jwk()] }).expect("jwks"))
        .expect("write");
    let jwks = jwks.display().to_string();
    let verdict = |sub: &str, aud: &str, class: &str, iat: u64| {
        signer.sign_payload(VERDICT_TYP, &claims(sub, aud, class, iat))
    };
    let local = verdict("session-a", "onsite", "local", NOW_S);
    let remote = verdict("session-a", "onsite", "remote", NOW_S);
    let measurement =
        signer.sign_payload(MEASUREMENT_TYP, &claims("session-a", "onsite", "local", NOW_S));
    let now = NOW_S.to_string();
    let later = (NOW_S + 7200).to_string();
    // (what, token, extra arguments, exit code, a part of standard error)
    let cases: Vec<(&str, &str, Vec<&str>, i32, &str)> = vec![
        ("a local verdict", &local, vec![], 0, "valid signature"),
        ("no --sub is noted", &local, vec![], 0, "no --sub given"),
        ("no --require means local only", &remote, vec![], 7, "requires local"),
        ("an empty --require", &remote, vec!["--require", ""], 1, "at least one verdict class"),
        (
            "a --require of commas",
            &remote,
            vec!["--require", " , "],
            1,
            "at least one verdict class",
        ),
        ("a named class", &remote, vec!["--require", "remote"], 0, "verdict remote"),
        ("the expected session", &local, vec!["--sub", "session-a"], 0, "session session-a"),
        (
            "another session",
            &local,
            vec!["--sub", "session-b"],
            8,
            "is about session \"session-a\"",
        ),
        ("a blank --sub", &local, vec!["--sub", " "], 1, "--sub is empty"),
        ("the expected issuer", &local, vec!["--iss", "https://onsite.example"], 0, "valid"),
        ("another issuer", &local, vec!["--iss", "https://other.example"], 8, "issuer"),
        ("another audience", &local, vec!["--aud", "https://hr.example"], 5, "audience"),
        ("a blank --aud", &local, vec!["--aud", ""], 1, "--aud is empty"),
        ("a measurement", &measurement, vec![], 3, "token type"),
        ("expired, by the clock given", &local, vec!["--now-s", &later], 4, "expired"),
        (
            "too old for --max-age",
            &local,
            vec!["--max-age", "60", "--now-s", &later, "--leeway-s", "7200"],
            6,
            "at most 60 s",
        ),
    ];
    for (what, token, extra, expected_code, part) in cases {
        let mut args = vec!["verify", "--jwks", jwks.as_str()];
        if !extra.contains(&"--now-s") {
            args.extend(["--now-s", now.as_str()]);
        }
        args.extend(extra.iter().copied());
        args.push(token);
        let (code, _, stderr) = onsite(&args);
        assert_eq!(code, expected_code, "{what}: {stderr}");
        assert!(stderr.contains(part), "{what}: {stderr}");
    }
}

#[test]
fn evidence_that_once_crashed_the_scorer_gets_a_clear_error() {
    // A tracking run spanning 9×10⁸ s: scoring it asked for 2.9 TB and aborted (exit 134).
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.json");
    let span_us: i64 = 900_000_000_000_000;
    let times: Vec<String> = (0..40).map(|i| (i * (span_us / 40)).to_string()).collect();
    let evidence = format!(
        r#"{{"v":1,"strokes":[],"rtt_us":[],"tracking":{{"status":"done","started_at_us":0,"ended_at_us":{span_us},"target_at_us":[{}],"target_x_px":[{}],"target_y_px":[{}]}}}}"#,
        times.join(","),
        vec!["1.0"; 40].join(","),
        vec!["1.0"; 40].join(",")
    );
    std::fs::write(&path, evidence).expect("write");
    let (code, _, stderr) = onsite(&["score", &path.display().to_string()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("spans more than a minute"), "{stderr}");
}
