//! Tests of the wire types: frames refused and accepted, bounds, round trips of every shape.

use super::*;
use crate::codes::ErrorCode;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn check(text: &str, expected: Result<(), &str>) {
    let got = ClientMsg::parse(text).map(|_| ()).map_err(|e| e.to_string());
    match expected {
        Ok(()) => assert!(got.is_ok(), "{text}: {got:?}"),
        Err(part) => {
            let message = got.err().unwrap_or_default();
            assert!(message.contains(part), "{text}: {message:?} lacks {part:?}");
        }
    }
}

#[test]
fn parses_and_refuses_client_frames() {
    check(r#"{"t":"hello","v":1,"role":"candidate","session":"s","token":"k"}"#, Ok(()));
    check(r#"{"t":"hello","v":2,"role":"candidate","session":"s","token":"k"}"#, Err("version 2"));
    check(r#"{"t":"finish"}"#, Ok(()));
    check(r#"{"t":"start_rhythm"}"#, Ok(()));
    check(r#"{"t":"tap","at_us":1234567}"#, Ok(()));
    check(r#"{"t":"tap","at_us":1234567,"key":"a"}"#, Err("unknown field `key`"));
    check(r#"{"t":"tap","at_us":9000000000000000000}"#, Err("out of range"));
    check(r#"{"t":"evidence","seq":1,"strokes":[]}"#, Ok(()));
    check("{not json", Err("malformed"));
    check(r#"{"t":"launch"}"#, Err("malformed"));
    check(
        r#"{"t":"evidence","seq":1,"strokes":[{"down_us":1,"up_us":2,"class":"letter","repeats":0,"trusted":true,"key":"a"}]}"#,
        Err("unknown field `key`"),
    );
    check(&"x".repeat(MAX_FRAME_BYTES + 1), Err("limit is"));
    check(r#"{"t":"evidence","seq":1,"strokes":[],"text":"hello"}"#, Err("unknown field `text`"));
    check(
        r#"{"t":"environment","webdriver":false,"renderer":"hardware","screen_w_px":1440,"screen_h_px":900}"#,
        Ok(()),
    );
    check(
        r#"{"t":"environment","webdriver":false,"renderer":"ANGLE (NVIDIA GeForce)","screen_w_px":1440,"screen_h_px":900}"#,
        Err("unknown variant"),
    );
    check(
        r#"{"t":"environment","webdriver":false,"renderer":"unknown","screen_w_px":1,"screen_h_px":1,"gpu":"x"}"#,
        Err("unknown field `gpu`"),
    );
}

/// Parses an evidence frame and decodes its batch, as the edge does on receipt.
fn check_batch(fields: &str, expected: Result<(), &str>) {
    let text = format!(r#"{{"t":"evidence","seq":1,"strokes":[]{fields}}}"#);
    let got = ClientMsg::parse(&text).and_then(|msg| match msg {
        ClientMsg::Evidence(batch) => batch.decode().map(|_| ()),
        _ => Err(WireError::Malformed("not evidence".into())),
    });
    match expected {
        Ok(()) => assert!(got.is_ok(), "{fields}: {got:?}"),
        Err(part) => {
            let message = got.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(part), "{fields}: {message:?} lacks {part:?}");
        }
    }
}

#[test]
fn every_decoded_quantity_is_bounded() {
    // A task window of 15 s passes; one of 9×10⁸ s once made the estimator ask for 2.9 TB.
    let tracking = |start_us: i64, end_us: i64, at_us: i64| {
        format!(
            r#","tracking":{{"status":"done","started_at_us":{start_us},"ended_at_us":{end_us},"target_at_us":[{at_us}],"target_x_px":[1.0],"target_y_px":[1.0]}}"#
        )
    };
    check_batch(&tracking(0, 15_000_000, 1_000), Ok(()));
    check_batch(&tracking(0, 900_000_000_000_000, 1_000), Err("spans more than a minute"));
    check_batch(&tracking(0, 15_000_000, 20_000_000), Err("outside the task window"));
    let rhythm = |beats: &str, taps: &str| {
        format!(
            r#","rhythm":{{"status":"done","beats_at_us":[{beats}],"taps_at_us":[{taps}],"answer":"key"}}"#
        )
    };
    check_batch(&rhythm("0,600000,1200000", "590000"), Ok(()));
    check_batch(&rhythm("0,61000000", ""), Err("beats span more than a minute"));
    check_batch(&rhythm("0,600000", "900000000"), Err("far from every beat"));
    check_batch(&rhythm("", "1"), Err("taps without beats"));
    let stroke = |down_us: i64, up_us: i64, gaps: &str| {
        format!(
            r#""down_us":{down_us},"up_us":{up_us},"class":"letter","repeats":0,"repeat_gaps_us":[{gaps}],"trusted":true"#
        )
    };
    let strokes = |one: String| format!(r#"{{"t":"evidence","seq":1,"strokes":[{{{one}}}]}}"#);
    let decoded = |text: String| match ClientMsg::parse(&text) {
        Ok(ClientMsg::Evidence(BatchV1 { strokes, .. })) => {
            strokes_from_wire(&strokes).map(|_| ()).map_err(|e| e.to_string())
        }
        other => Err(format!("{other:?}")),
    };
    assert!(decoded(strokes(stroke(0, 100_000, "500000"))).is_ok());
    assert!(decoded(strokes(stroke(0, 61_000_000, ""))).is_err_and(|e| e.contains("over a minute")));
    assert!(
        decoded(strokes(stroke(0, 100_000, "6000000"))).is_err_and(|e| e.contains("repeat gap"))
    );
    check_batch(r#","frames":{"frame_interval_us":16667,"input_delay_us":4000}"#, Ok(()));
    // The clock step the probe saw: a microsecond to a second.
    check_batch(r#","timer_resolution_us":16667"#, Ok(()));
    check_batch(r#","timer_resolution_us":0"#, Err("timer resolution 0"));
    check_batch(r#","timer_resolution_us":2000000"#, Err("out of range"));
    check_batch(r#","timer_resolution_us":-5"#, Err("invalid value"));
    check_batch(
        r#","frames":{"frame_interval_us":137000000,"input_delay_us":0}"#,
        Err("over a second"),
    );
    check_batch(r#","focus":[{"at_us":1000,"kind":"hidden"}]"#, Ok(()));
    check_batch(r#","focus":[{"at_us":9000000000000000000,"kind":"hidden"}]"#, Err("out of range"));
    let long = "s".repeat(MAX_ID_BYTES + 1);
    check(
        &format!(r#"{{"t":"hello","v":1,"role":"candidate","session":"{long}","token":"k"}}"#),
        Err("too long"),
    );
    check(r#"{"t":"hello","v":1,"role":"candidate","session":"","token":"k"}"#, Err("empty"));
    check(
        r#"{"t":"environment","webdriver":false,"renderer":"hardware","screen_w_px":4000000000,"screen_h_px":900}"#,
        Err("px across"),
    );
}

#[test]
fn refuses_invalid_strokes() {
    let stroke = |down_us, up_us, class: &str| StrokeV1 {
        down_us,
        up_us,
        class: class.into(),
        repeats: 0,
        repeat_gaps_us: vec![],
        trusted: true,
    };
    assert!(strokes_from_wire(&[stroke(1, 2, "letter")]).is_ok());
    assert_eq!(
        strokes_from_wire(&[stroke(5, 2, "letter")]),
        Err(WireError::InvalidStroke { index: 0, why: "key-up before key-down" })
    );
    assert_eq!(
        strokes_from_wire(&[stroke(1, 2, "KeyA")]),
        Err(WireError::UnknownClass("KeyA".into()))
    );
}

#[test]
fn server_messages_round_trip() {
    let messages = [
        ServerMsg::Welcome { v: 1, session: "s".into(), role: Role::Interviewer, edges: vec![] },
        ServerMsg::Welcome {
            v: 1,
            session: "s".into(),
            role: Role::Candidate,
            edges: vec![EdgeRefV1 {
                id: "chi".into(),
                url: "wss://chi.example/api/v1/echo".into(),
            }],
        },
        ServerMsg::Measurement { token: "a.b.c".into() },
        ServerMsg::Ack { seq: 7 },
        ServerMsg::Finished,
        ServerMsg::Beat { n: 3, of: 24 },
        ServerMsg::Error { code: ErrorCode::OutOfOrder, message: "expected 2".into() },
    ];
    for msg in messages {
        assert_eq!(ServerMsg::parse(&msg.to_text()), Ok(msg));
    }
    assert!(
        ServerMsg::parse(r#"{"t":"ack"}"#).is_err_and(|e| e.to_string().contains("lacks `seq`"))
    );
    assert!(ServerMsg::parse(r#"{"t":"shrug"}"#)
        .is_err_and(|e| e.to_string().contains("unknown message type")));
}

#[test]
fn echo_frames_round_trip() {
    assert_eq!(parse_echo(&echo_frame(0xdead_beef)), Some(0xdead_beef));
    assert_eq!(parse_echo(&[2, 0, 0, 0, 0]), None);
    assert_eq!(parse_echo(&[1, 0, 0]), None);
    assert_eq!(parse_echo_reply(&echo_reply(7, -42)), Some((7, Some(-42))));
    assert_eq!(parse_echo_reply(&echo_frame(7)), Some((7, None)));
    assert_eq!(parse_echo_reply(&[1; 9]), None);
    assert!(is_client_echo(&[2, 1, 0, 0, 0]) && !is_client_echo(&echo_frame(1)));
}

#[test]
fn the_edges_rhythm_run_is_bounded_like_the_pages() {
    let valid = EdgeRhythmV1 {
        beats_sent_us: vec![1_000_000, 1_600_000, 2_200_000],
        shift_at_beat: Some(1),
        taps_arrived_us: vec![1_580_000, 2_170_000],
        taps_page_at_us: vec![9_001_570_000, 9_002_160_000],
        rtt_min_us: 20_000,
        page_offset_us: Some(9_000_000_000),
        offset_spread_us: 500,
    };
    assert!(valid.decode().is_ok());
    let cases: Vec<(&str, EdgeRhythmV1)> = vec![
        ("differ in number", EdgeRhythmV1 { taps_page_at_us: vec![1], ..valid.clone() }),
        ("out of order", EdgeRhythmV1 { beats_sent_us: vec![2, 1], ..valid.clone() }),
        (
            "far from every beat",
            EdgeRhythmV1 { taps_arrived_us: vec![1, 90_000_000], ..valid.clone() },
        ),
        ("out of range", EdgeRhythmV1 { page_offset_us: Some(i64::MAX), ..valid.clone() }),
        ("round trip", EdgeRhythmV1 { rtt_min_us: -1, ..valid.clone() }),
    ];
    for (part, run) in cases {
        let error = run.decode().expect_err(part).to_string();
        assert!(error.contains(part), "{part}: {error}");
    }
}
