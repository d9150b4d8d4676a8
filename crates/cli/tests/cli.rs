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
