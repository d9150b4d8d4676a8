//! The edge end to end over real sockets: a real server on loopback, a real SQLite file, real
//! WebSockets, and the real signing and verifying path.

// A test's client times what it sees on its own clock.
#![allow(clippy::disallowed_methods)]

mod support;

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use onsite_core::codes::ErrorCode;
use onsite_core::jws::{self, Expect, Jwks};
use onsite_core::wire::{
    self, BatchV1, ClientMsg, EnvironmentV1, RendererName, Role, ServerMsg, StrokeV1,
    PROTOCOL_VERSION,
};
use onsite_edge::{Config, Edge};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A running edge with its own data directory.
struct Running {
    addr: std::net::SocketAddr,
    api_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(data: &std::path::Path, assets: &std::path::Path) -> Running {
        Running::start_with(Config::new(
            "127.0.0.1:0".parse().expect("address"),
            data.to_path_buf(),
            assets.to_path_buf(),
        ))
        .await
    }

    async fn start_with(mut config: Config) -> Running {
        // Against PostgreSQL when scripts/test provides one, else the SQLite file.
        config.database_url = support::database_for(&config.data_dir).await;
        let edge = Edge::open(config).await.expect("edge opens");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let addr = edge.local_addr();
        let api_key = edge.api_key().to_owned();
        let task = tokio::spawn(async move {
            edge.run(async {
                let _ = stopped.await;
            })
            .await
            .expect("edge runs");
        });
        Running { addr, api_key, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("edge stops in time")
            .expect("edge task");
    }

    /// A raw HTTP/1.1 request; returns the status and body.
    async fn http(&self, method: &str, path: &str, bearer: Option<&str>) -> (u16, String) {
        self.http_with(method, path, bearer, "").await
    }

    async fn http_with(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let auth = bearer.map(|key| format!("Bearer {key}"));
        let headers: Vec<(&str, &str)> =
            auth.as_deref().map(|auth| ("Authorization", auth)).into_iter().collect();
        let (status, _, body) = self.request(method, path, &headers, body).await;
        (status, body)
    }

    /// A raw HTTP/1.1 request with extra headers; returns the status, the response head and the body.
    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        self.request_for_host(&self.addr.to_string(), method, path, headers, body).await
    }

    /// A raw HTTP/1.1 request that names `host` in its `Host` header, as a browser does for a
    /// page served from that name.
    async fn request_for_host(
        &self,
        host: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        let extra: String =
            headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let (head, body) = response
            .split_once("\r\n\r\n")
            .map(|(h, b)| (h.to_ascii_lowercase(), b.to_owned()))
            .unwrap_or_default();
        (status, head, body)
    }

    async fn create_session(&self) -> Session {
        self.create_session_with("").await
    }

    async fn create_session_with(&self, request: &str) -> Session {
        let (status, body) =
            self.http_with("POST", "/api/v1/sessions", Some(&self.api_key), request).await;
        assert_eq!(status, 201, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("json");
        let token_of = |field: &str| {
            let url = json[field].as_str().expect("url").to_owned();
            assert!(url.starts_with(&format!("http://{}/", self.addr)), "{url}");
            url.rsplit_once("token=").expect("token").1.to_owned()
        };
        Session {
            id: json["id"].as_str().expect("id").to_owned(),
            candidate: token_of("candidate_url"),
            interviewer: token_of("interviewer_url"),
        }
    }

    async fn socket(&self) -> Socket {
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws", self.addr))
            .await
            .expect("ws connects")
            .0
    }

    /// Opens a socket and says hello; returns the socket after the welcome.
    async fn join(&self, role: Role, session: &str, token: &str) -> Socket {
        let mut socket = self.socket().await;
        send(
            &mut socket,
            &ClientMsg::Hello {
                v: PROTOCOL_VERSION,
                role,
                session: session.into(),
                token: token.into(),
            },
        )
        .await;
        match next_text(&mut socket).await {
            ServerMsg::Welcome { role: welcomed, .. } => assert_eq!(welcomed, role),
            other => panic!("expected welcome, got {other:?}"),
        }
        socket
    }
}

struct Session {
    id: String,
    candidate: String,
    interviewer: String,
}

async fn send(socket: &mut Socket, msg: &ClientMsg) {
    socket.send(Message::Text(msg.to_text().into())).await.expect("send");
}

/// The next text message, answering echo probes on the way as a browser would.
async fn next_text(socket: &mut Socket) -> ServerMsg {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time");
        match frame.expect("socket open").expect("frame") {
            Message::Text(text) => return ServerMsg::parse(&text).expect("server message"),
            Message::Binary(bytes) => {
                assert!(wire::parse_echo(&bytes).is_some(), "binary frames are echo probes");
                socket.send(Message::Binary(bytes)).await.expect("echo");
            }
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// The next text message within `limit` in all (echo probes keep `next_text` waiting forever).
async fn next_text_within(socket: &mut Socket, limit: Duration) -> ServerMsg {
    tokio::time::timeout(limit, next_text(socket)).await.expect("a text frame in time")
}

/// Answers echo probes for `duration`; any text frame in that time is a failure.
async fn pump(socket: &mut Socket, duration: Duration) {
    let deadline = tokio::time::Instant::now() + duration;
    while let Ok(frame) = tokio::time::timeout_at(deadline, socket.next()).await {
        match frame.expect("socket open").expect("frame") {
            Message::Binary(bytes) => socket.send(Message::Binary(bytes)).await.expect("echo"),
            Message::Text(text) => panic!("unexpected {text}"),
            _ => {}
        }
    }
}

/// Reads until the edge closes; returns the error frame's code and the close code.
async fn refusal(socket: &mut Socket) -> (String, Option<CloseCode>) {
    let mut error = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                if let Ok(ServerMsg::Error { code, .. }) = ServerMsg::parse(&text) {
                    error = code.as_str().to_owned();
                }
            }
            Some(Ok(Message::Close(frame))) => return (error, frame.map(|f| f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (error, None),
        }
    }
}

fn typing(batch: u64, count: i64) -> Vec<StrokeV1> {
    let start = i64::try_from(batch).expect("small") * 10_000_000;
    (0..count)
        .map(|i| StrokeV1 {
            down_us: start + i * 170_000 + (i % 4) * 13_000,
            up_us: start + i * 170_000 + (i % 4) * 13_000 + 80_000 + (i % 3) * 11_000,
            class: "letter".into(),
            repeats: 0,
            repeat_gaps_us: vec![],
            trusted: true,
        })
        .collect()
}

/// The edge's defaults on a free loopback port, with these directories.
fn config(data: &tempfile::TempDir, assets: &tempfile::TempDir) -> Config {
    Config::new(
        "127.0.0.1:0".parse().expect("address"),
        data.path().to_path_buf(),
        assets.path().to_path_buf(),
    )
}

fn dirs() -> (tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("data dir");
    let assets = tempfile::tempdir().expect("assets dir");
    std::fs::write(assets.path().join("index.html"), "<!doctype html><title>onsite</title>")
        .expect("index");
    (data, assets)
}

#[tokio::test]
async fn a_candidates_evidence_reaches_the_interviewer_as_a_verifiable_verdict() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let mut interviewer = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;

    for seq in 1..=3 {
        send(
            &mut candidate,
            &ClientMsg::Evidence(BatchV1 { seq, strokes: typing(seq, 10), ..BatchV1::default() }),
        )
        .await;
        assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq });
    }
    // A resent batch is acknowledged again and stored once; a gap is refused.
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 2, strokes: typing(2, 10), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 2 });
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 5, strokes: typing(5, 10), ..BatchV1::default() }),
    )
    .await;
    let (code, close) = refusal(&mut candidate).await;
    assert_eq!((code.as_str(), close), ("out_of_order", Some(CloseCode::Policy)));
    // The probe reconnects and resends from its oldest unacknowledged batch: acknowledged again.
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 3, strokes: typing(3, 10), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 3 });
    // Answer the edge's echo probes for a while, as a browser does, then finish.
    pump(&mut candidate, Duration::from_millis(3000)).await;
    send(&mut candidate, &ClientMsg::Finish).await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Finished);

    let (status, jwks_text) = edge.http("GET", "/.well-known/jwks.json", None).await;
    assert_eq!(status, 200);
    let jwks = Jwks::parse(&jwks_text).expect("jwks");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut last = None;
    while last.as_ref().is_none_or(|(_, claims): &(String, wire::Claims)| {
        claims.verdict.rtt_samples < 5 || claims.verdict.keystrokes < 30
    }) {
        if let ServerMsg::Verdict { token, verdict } = next_text(&mut interviewer).await {
            let claims = wire::verify_verdict(
                &token,
                &jwks,
                Expect { leeway_s: 5, ..Expect::new(now_s, "onsite") },
            )
            .expect("verifies");
            assert_eq!(claims.verdict, verdict);
            assert_eq!(claims.sub, session.id);
            last = Some((token, claims));
        }
    }
    let (_, claims) = last.expect("a verdict");
    assert_eq!(claims.verdict.keystrokes, 30);
    assert_eq!(claims.verdict.class, "local");
    let rtt_min_ms = claims.verdict.rtt_min_ms.expect("round trips measured");
    assert!(rtt_min_ms < 50.0, "loopback round trip {rtt_min_ms} ms");

    // The interviewer's export is version-1 evidence, byte for byte what the final token
    // commits to, and re-scoring it gives the signed verdict.
    let mut final_claims = claims;
    while let Ok(ServerMsg::Verdict { token, .. }) =
        tokio::time::timeout(Duration::from_millis(1500), next_text(&mut interviewer)).await
    {
        final_claims = wire::verify_verdict(
            &token,
            &jwks,
            Expect { leeway_s: 5, ..Expect::new(now_s, "onsite") },
        )
        .expect("verifies");
    }
    let path = format!("/api/v1/sessions/{}/evidence", session.id);
    let (status, body) = edge.http("GET", &path, Some(&session.interviewer)).await;
    assert_eq!(status, 200, "{body}");
    let export: wire::EvidenceV1 = serde_json::from_str(&body).expect("version-1 evidence");
    assert_eq!(export.canonical_bytes(), body.as_bytes(), "served as the canonical bytes");
    assert_eq!(export.sha256_hex(), final_claims.evidence_sha256);
    let evidence = export.to_evidence().expect("decodes");
    let rescored = onsite_core::score(&onsite_core::Features::from_evidence(&evidence));
    assert_eq!(wire::VerdictV1::from_verdict(&rescored), final_claims.verdict);
    edge.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_the_edge_keeps_serving() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;

    let (status, body) = edge.http("POST", "/api/v1/sessions", Some("wrong-key")).await;
    assert_eq!((status, body.contains("API key is wrong")), (401, true), "{body}");
    let (status, _) = edge.http("POST", "/api/v1/sessions", None).await;
    assert_eq!(status, 401);

    // A wrong capability, and a candidate token used as the interviewer's.
    for (role, token) in
        [(Role::Candidate, "not-the-token"), (Role::Interviewer, session.candidate.as_str())]
    {
        let mut socket = edge.socket().await;
        send(
            &mut socket,
            &ClientMsg::Hello {
                v: PROTOCOL_VERSION,
                role,
                session: session.id.clone(),
                token: token.into(),
            },
        )
        .await;
        assert_eq!(refusal(&mut socket).await, ("unauthorized".into(), Some(CloseCode::Policy)));
    }

    // Malformed JSON after hello.
    let mut socket = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    socket.send(Message::Text("{\"t\":\"evidence\",".into())).await.expect("send");
    assert_eq!(refusal(&mut socket).await, ("malformed".into(), Some(CloseCode::Invalid)));

    // A frame over the 64 KiB limit.
    let mut socket = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    socket.send(Message::Text("x".repeat(100 * 1024).into())).await.expect("send");
    assert_eq!(refusal(&mut socket).await, ("too_large".into(), Some(CloseCode::Size)));

    // A key identity smuggled into a press.
    let mut socket = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    let smuggled = r#"{"t":"evidence","seq":1,"strokes":[{"down_us":1,"up_us":90,"class":"letter","repeats":0,"trusted":true,"code":"KeyA"}]}"#;
    socket.send(Message::Text(smuggled.into())).await.expect("send");
    assert_eq!(refusal(&mut socket).await, ("malformed".into(), Some(CloseCode::Invalid)));

    // An interviewer cannot write evidence.
    let mut socket = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    send(
        &mut socket,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 3), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(refusal(&mut socket).await.0, "forbidden");

    // Nothing above was stored, and the edge still serves everyone.
    let (status, body) = edge.http("GET", "/healthz", None).await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 3), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 1 });
    edge.stop().await;
}

#[tokio::test]
async fn a_restarted_edge_keeps_its_keys_sessions_and_evidence() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let (_, jwks_before) = edge.http("GET", "/.well-known/jwks.json", None).await;
    let api_key = edge.api_key.clone();
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    let environment = EnvironmentV1 {
        webdriver: true,
        renderer: RendererName::Software,
        screen_w_px: 1280,
        screen_h_px: 800,
        time_zone: None,
    };
    send(&mut candidate, &ClientMsg::Environment(environment)).await;
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 25), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 1 });
    drop(candidate);
    edge.stop().await;

    let edge = Running::start(data.path(), assets.path()).await;
    assert_eq!(edge.api_key, api_key);
    assert_eq!(edge.http("GET", "/.well-known/jwks.json", None).await.1, jwks_before);
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    // Batch 1 is already stored: a resend is acknowledged without storing it twice.
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 25), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 1 });
    send(&mut candidate, &ClientMsg::Finish).await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Finished);
    let mut interviewer = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    match next_text(&mut interviewer).await {
        ServerMsg::Verdict { verdict, .. } => {
            assert_eq!(verdict.keystrokes, 25);
            let codes: Vec<&str> = verdict.reasons.iter().map(|r| r.code.as_str()).collect();
            assert!(
                codes.contains(&"webdriver") && codes.contains(&"software_renderer"),
                "environment survives a restart: {codes:?}"
            );
        }
        other => panic!("expected the stored verdict, got {other:?}"),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.path().join("signing-keys.json"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_claimed_location_is_checked_against_the_round_trips_and_the_time_zone() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.location = Some("New York".into());
    config.edge_id = "nyc".into();
    let edge = Running::start_with(config).await;

    let (status, body) = edge
        .http_with(
            "POST",
            "/api/v1/sessions",
            Some(&edge.api_key),
            r#"{"claimed_location":"Atlantis"}"#,
        )
        .await;
    assert_eq!((status, body.contains("unknown location")), (400, true), "{body}");

    // On loopback the browser is, physically, right next to the New York edge.
    for (claim, zone, status, time_zone_weight) in [
        ("New York", "America/New_York", "consistent", -0.2),
        ("Chicago", "Asia/Pyongyang", "inconsistent", 1.5),
    ] {
        let session =
            edge.create_session_with(&format!(r#"{{"claimed_location":"{claim}"}}"#)).await;
        let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
        let environment = EnvironmentV1 {
            webdriver: false,
            renderer: RendererName::Hardware,
            screen_w_px: 1440,
            screen_h_px: 900,
            time_zone: Some(zone.into()),
        };
        send(&mut candidate, &ClientMsg::Environment(environment)).await;
        pump(&mut candidate, Duration::from_millis(1600)).await;
        send(&mut candidate, &ClientMsg::Finish).await;
        assert_eq!(next_text(&mut candidate).await, ServerMsg::Finished);
        let mut interviewer = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
        let ServerMsg::Verdict { verdict, .. } = next_text(&mut interviewer).await else {
            panic!("expected a verdict")
        };
        let location = verdict.location.expect("a location check");
        assert_eq!(location.status, status, "{claim}: {:?}", verdict.reasons);
        if claim == "Chicago" {
            // Chicago is 1,145 km from New York; the disc the round trip allows shrinks that by
            // up to a few hundred km on a loaded machine (1.5 ms of loopback gave 999 km).
            assert!(location.by_km.is_some_and(|km| km > 500.0), "{location:?}");
        }
        let weight = |code: &str| verdict.reasons.iter().find(|r| r.code == code).map(|r| r.weight);
        assert_eq!(weight("time_zone"), Some(time_zone_weight), "{claim}");
    }
    edge.stop().await;
}

#[tokio::test]
async fn every_endpoint_answers_each_role_as_documented() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let a = edge.create_session().await;
    let b = edge.create_session().await;
    let evidence_a = format!("/api/v1/sessions/{}/evidence", a.id);
    // (what, method, path, credential, expected status)
    let cases: Vec<(&str, &str, &str, Option<&str>, u16)> = vec![
        ("create without a key", "POST", "/api/v1/sessions", None, 401),
        ("create with a wrong key", "POST", "/api/v1/sessions", Some("not-the-key"), 401),
        ("create with a candidate link", "POST", "/api/v1/sessions", Some(&a.candidate), 401),
        ("create with an interviewer link", "POST", "/api/v1/sessions", Some(&a.interviewer), 401),
        ("create with the API key", "POST", "/api/v1/sessions", Some(&edge.api_key), 201),
        ("export without a token", "GET", &evidence_a, None, 401),
        ("export with the API key", "GET", &evidence_a, Some(&edge.api_key), 403),
        ("export with the candidate's link", "GET", &evidence_a, Some(&a.candidate), 403),
        (
            "export with another session's interviewer",
            "GET",
            &evidence_a,
            Some(&b.interviewer),
            403,
        ),
        (
            "export of an unknown session",
            "GET",
            "/api/v1/sessions/nope/evidence",
            Some(&a.interviewer),
            403,
        ),
        ("export with the interviewer's link", "GET", &evidence_a, Some(&a.interviewer), 200),
        ("metrics without a key", "GET", "/metrics", None, 401),
        ("metrics with an interviewer link", "GET", "/metrics", Some(&a.interviewer), 401),
        ("metrics with the API key", "GET", "/metrics", Some(&edge.api_key), 200),
        ("key set, public", "GET", "/.well-known/jwks.json", None, 200),
        ("health, public", "GET", "/healthz", None, 200),
    ];
    for (what, method, path, credential, expected) in cases {
        let (status, body) = edge.http_with(method, path, credential, "").await;
        assert_eq!(status, expected, "{what}: {body}");
        if status >= 400 {
            let error: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{what}: an error sentence, got {body}"));
            assert!(error["error"].as_str().is_some_and(|text| text.len() > 10), "{what}: {body}");
        }
    }
    // The gate is public by design: it tells a portal only what the token it holds says.
    let (status, body) =
        edge.http_with("POST", "/api/v1/verify", None, r#"{"token":"x.y.z"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"decision\":\"hold\""), "{body}");

    // Sockets: each capability opens only its own role in its own session.
    for (what, role, session, token) in [
        ("candidate link as interviewer", Role::Interviewer, &a.id, &a.candidate),
        ("interviewer link as candidate", Role::Candidate, &a.id, &a.interviewer),
        ("candidate link for another session", Role::Candidate, &b.id, &a.candidate),
        ("interviewer link for another session", Role::Interviewer, &b.id, &a.interviewer),
        ("unknown session", Role::Candidate, &"nope".to_owned(), &a.candidate),
    ] {
        let mut socket = edge.socket().await;
        send(
            &mut socket,
            &ClientMsg::Hello {
                v: PROTOCOL_VERSION,
                role,
                session: session.clone(),
                token: token.clone(),
            },
        )
        .await;
        assert_eq!(
            refusal(&mut socket).await,
            ("unauthorized".to_owned(), Some(CloseCode::Policy)),
            "{what}"
        );
    }
    // A candidate never receives verdicts: its socket sees acks and echo probes only.
    let mut candidate = edge.join(Role::Candidate, &a.id, &a.candidate).await;
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 40), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 1 });
    pump(&mut candidate, Duration::from_millis(1500)).await;
    // An interviewer cannot write evidence.
    let mut interviewer = edge.join(Role::Interviewer, &a.id, &a.interviewer).await;
    send(
        &mut interviewer,
        &ClientMsg::Evidence(BatchV1 { seq: 2, strokes: typing(2, 5), ..BatchV1::default() }),
    )
    .await;
    let (code, close) = refusal(&mut interviewer).await;
    assert_eq!(close, Some(CloseCode::Policy), "{code}");
    let (_, body) = edge.http("GET", &evidence_a, Some(&a.interviewer)).await;
    let export: serde_json::Value = serde_json::from_str(&body).expect("export");
    assert_eq!(
        export["strokes"].as_array().map(Vec::len),
        Some(40),
        "only the candidate's batch is stored, not the interviewer's 5 presses"
    );
    edge.stop().await;
}

#[tokio::test]
async fn pages_of_other_origins_are_refused_unless_allowed_and_allowed_ones_get_cors() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.allowed_origins = vec!["https://portal.example".into()];
    let edge = Running::start_with(config).await;
    let verify = r#"{"token":"x.y.z"}"#;
    let (status, _, body) = edge
        .request(
            "POST",
            "/api/v1/verify",
            &[("Origin", "https://evil.example"), ("Content-Type", "application/json")],
            verify,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("may not call this edge") && body.contains("--allow-origin"), "{body}");
    let (status, head, _) = edge
        .request(
            "POST",
            "/api/v1/verify",
            &[("Origin", "https://portal.example"), ("Content-Type", "application/json")],
            verify,
        )
        .await;
    assert_eq!(status, 200);
    assert!(head.contains("access-control-allow-origin: https://portal.example"), "{head}");
    let (status, head, _) = edge
        .request(
            "OPTIONS",
            "/api/v1/verify",
            &[("Origin", "https://portal.example"), ("Access-Control-Request-Method", "POST")],
            "",
        )
        .await;
    assert_eq!(status, 204);
    assert!(head.contains("access-control-allow-methods: get, post"), "{head}");
    // The edge's own pages are always allowed.
    let own = format!("http://{}", edge.addr);
    let (status, _, _) = edge.request("POST", "/api/v1/verify", &[("Origin", &own)], verify).await;
    assert_eq!(status, 200);
    // WebSocket upgrades, which CORS does not cover, are checked the same way.
    let upgrade = |origin: &'static str| {
        let addr = edge.addr;
        async move {
            let mut request =
                tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                    format!("ws://{addr}/api/v1/ws"),
                )
                .expect("request");
            request.headers_mut().insert("Origin", origin.parse().expect("origin"));
            tokio_tungstenite::connect_async(request).await.map(|_| ())
        }
    };
    assert!(
        upgrade("https://evil.example").await.is_err(),
        "a foreign page cannot open the session socket"
    );
    assert!(upgrade("https://portal.example").await.is_ok(), "an allowed page can");
    // Measuring is open to every origin: other edges' pages use it.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/api/v1/echo",
            edge.addr
        ))
        .expect("request");
    request.headers_mut().insert("Origin", "https://other-edge.example".parse().expect("origin"));
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    edge.stop().await;
}

#[tokio::test]
async fn rate_limits_refuse_floods_with_a_clear_answer_and_others_keep_being_served() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.rate_limit_per_s = 4.0; // bursts of 20
    let edge = Running::start_with(config).await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        let (status, head, _) =
            edge.request("POST", "/api/v1/verify", &[], r#"{"token":"x.y.z"}"#).await;
        if status == 429 {
            assert!(head.contains("retry-after: 5"), "{head}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 20, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 5, "{statuses:?}");
    let (status, body) = edge.http("GET", "/healthz", None).await;
    assert_eq!(status, 200, "health is not rate limited: {body}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _) = edge.http_with("POST", "/api/v1/verify", None, r#"{"token":"x.y.z"}"#).await;
    assert_eq!(status, 200, "the bucket refills");
    edge.stop().await;

    // A socket that floods text frames is closed with "try again later"; the edge serves on.
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let flooded = edge.create_session().await;
    let session = edge.create_session().await;
    let mut flood = edge.join(Role::Candidate, &flooded.id, &flooded.candidate).await;
    for _ in 0..100 {
        if flood.send(Message::Text(ClientMsg::Finish.to_text().into())).await.is_err() {
            break;
        }
    }
    let (code, close) = refusal(&mut flood).await;
    assert_eq!((code.as_str(), close), ("rate_limited", Some(CloseCode::Again)));
    let mut calm = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(
        &mut calm,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 5), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut calm).await, ServerMsg::Ack { seq: 1 });
    let (status, metrics) = edge.http("GET", "/metrics", Some(&edge.api_key)).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("onsite_refusals_total{code=\"rate_limited\"} 1"), "{metrics}");
    assert!(metrics.contains("onsite_batches_stored_total 1"), "{metrics}");
    assert!(metrics.contains("onsite_stored_sessions 2"), "{metrics}");
    edge.stop().await;
}

// Attacks from the hardening issue, each reproduced against a real edge. Every one of them
// failed (or crashed the test process) on the edge before the fix.

/// An evidence frame with only the given task results.
fn task_batch(seq: u64, tracking: Option<wire::TrackingV1>) -> ClientMsg {
    ClientMsg::Evidence(BatchV1 { seq, strokes: vec![], tracking, ..BatchV1::default() })
}

/// A counter from the edge's Prometheus text.
async fn metric(edge: &Running, name: &str) -> u64 {
    let (status, text) = edge.http("GET", "/metrics", Some(&edge.api_key)).await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// A TCP connection to the edge from a chosen loopback address.
async fn connect_from(edge: &Running, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{source}:0").parse().expect("source")).expect("bind");
    socket.connect(edge.addr).await.expect("connect")
}

/// A plain GET from a chosen loopback address; the status, or 0 if the edge closed at once.
async fn get_from(edge: &Running, source: &str, path: &str) -> u16 {
    let mut stream = connect_from(edge, source).await;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", edge.addr);
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_frame_that_once_crashed_the_edge_is_refused_and_nothing_is_stored() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    // 1.5 KB that spans 9×10⁸ s: the estimator's resampling asked for 2.9 TB and aborted.
    let points = 40;
    let span_us: i64 = 900_000_000_000_000;
    let crash = wire::TrackingV1 {
        status: wire::StatusName::Done,
        started_at_us: 0,
        ended_at_us: span_us,
        target_at_us: (0..points).map(|i| i * (span_us / points)).collect(),
        target_x_px: vec![100.0; 40],
        target_y_px: vec![100.0; 40],
    };
    send(&mut candidate, &task_batch(1, Some(crash))).await;
    let (code, close) = refusal(&mut candidate).await;
    assert_eq!((code.as_str(), close), ("malformed", Some(CloseCode::Invalid)));
    assert_eq!(edge.http("GET", "/healthz", None).await.0, 200, "the edge is up");
    assert_eq!(metric(&edge, "onsite_batches_stored_total").await, 0, "nothing was stored");
    // The reconnecting candidate is served as if the frame had never come.
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(&mut candidate, &task_batch(1, None)).await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 1 });
    edge.stop().await;
}

#[tokio::test]
async fn verdicts_are_coalesced_whatever_frame_triggers_them() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let environment = ClientMsg::Environment(EnvironmentV1 {
        webdriver: false,
        renderer: RendererName::Hardware,
        screen_w_px: 1440,
        screen_h_px: 900,
        time_zone: None,
    });
    // 60 environment frames over 12 sockets: each once signed and stored a verdict.
    let mut sockets = Vec::new();
    for _ in 0..12 {
        let mut socket = edge.join(Role::Candidate, &session.id, &session.candidate).await;
        for _ in 0..5 {
            send(&mut socket, &environment).await;
        }
        sockets.push(socket);
    }
    let mut repeated = 0;
    for socket in &mut sockets {
        for _ in 0..4 {
            match next_text(socket).await {
                ServerMsg::Error { code, .. } if code.as_str() == "environment_repeated" => {
                    repeated += 1
                }
                other => panic!("expected environment_repeated, got {other:?}"),
            }
        }
    }
    assert_eq!(repeated, 48, "a second environment on one socket changes nothing");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let signed = metric(&edge, "onsite_verdicts_signed_total").await;
    assert!((1..=2).contains(&signed), "{signed} verdicts for 60 frames in about a second");
    edge.stop().await;
}

#[tokio::test]
async fn a_session_stores_at_most_its_byte_budget() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.max_session_bytes = 96 * 1024;
    let edge = Running::start_with(config).await;
    let session = edge.create_session().await;
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    // Each batch replaces the last tracking result (about 40 KB stored each time), so the
    // evidence in memory does not grow while the rows on disk did.
    let tracking = wire::TrackingV1 {
        status: wire::StatusName::Done,
        started_at_us: 0,
        ended_at_us: 15_000_000,
        target_at_us: (0..1500).map(|i| i * 10_000).collect(),
        target_x_px: (0..1500).map(|i| f64::from(i) * 0.37).collect(),
        target_y_px: (0..1500).map(|i| f64::from(i) * 0.73).collect(),
    };
    let mut acked = 0;
    let mut full_at = None;
    for seq in 1..=6 {
        send(&mut candidate, &task_batch(seq, Some(tracking.clone()))).await;
        match next_text(&mut candidate).await {
            ServerMsg::Ack { .. } => acked += 1,
            ServerMsg::Error { code, message } => {
                assert_eq!(code.as_str(), "session_full", "{message}");
                full_at = Some(seq);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(full_at, Some(3), "two batches of about 40 KB fit in 96 KiB, a third does not");
    assert_eq!(metric(&edge, "onsite_batches_stored_total").await, acked);
    assert_eq!(edge.http("GET", "/healthz", None).await.0, 200);
    edge.stop().await;
}

#[tokio::test]
async fn a_trickling_header_is_cut_off_and_each_network_gets_its_share_of_connections() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.header_read_timeout = Duration::from_millis(400);
    config.max_connections_per_network = 4;
    let edge = Running::start_with(config).await;
    // A byte now and then never finishes the headers: the edge closes the connection.
    let mut slow = connect_from(&edge, "127.0.3.1").await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.expect("write");
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut buffer)).await;
    assert!(closed.is_ok(), "a connection that never finishes its headers is closed");
    // Four idle connections fill 127.0.0.0/24; a fifth from another address of it is closed at
    // once, while another network is served.
    let mut idle = Vec::new();
    for host in 2..6 {
        idle.push(connect_from(&edge, &format!("127.0.0.{host}")).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get_from(&edge, "127.0.0.9", "/healthz").await, 0, "the fifth is refused");
    assert_eq!(get_from(&edge, "127.0.1.1", "/healthz").await, 200, "another /24 is served");
    drop(idle);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get_from(&edge, "127.0.0.9", "/healthz").await, 200, "slots free up on close");
    assert!(metric(&edge, "onsite_connections_refused_total").await >= 1);
    edge.stop().await;
}

#[tokio::test]
async fn rate_limits_cover_a_whole_network_not_one_address() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.rate_limit_per_s = 4.0; // bursts of 20
    let edge = Running::start_with(config).await;
    let mut served = 0;
    for host in 2..5 {
        for _ in 0..10 {
            // Unauthenticated, so 401 when served and 429 when limited.
            match get_from(&edge, &format!("127.0.0.{host}"), "/api/v1/sessions").await {
                401 => served += 1,
                429 => {}
                other => panic!("unexpected status {other}"),
            }
        }
    }
    assert_eq!(served, 20, "127.0.0.2 to .4 share one burst of 20, not three");
    edge.stop().await;
}

#[tokio::test]
async fn a_candidates_reconnects_never_lock_the_interviewer_out() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let mut refused = 0;
    for _ in 0..25 {
        let mut socket = edge.socket().await;
        send(
            &mut socket,
            &ClientMsg::Hello {
                v: PROTOCOL_VERSION,
                role: Role::Candidate,
                session: session.id.clone(),
                token: session.candidate.clone(),
            },
        )
        .await;
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next()).await;
        if let Ok(Some(Ok(Message::Text(text)))) = frame {
            if matches!(ServerMsg::parse(&text), Ok(ServerMsg::Error { code, .. }) if code.as_str() == "rate_limited")
            {
                refused += 1;
            }
        }
    }
    assert!(refused >= 5, "the candidate's own allowance runs out ({refused} refused)");
    for _ in 0..6 {
        // `join` asserts the welcome.
        edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    }
    edge.stop().await;
}

#[tokio::test]
async fn idle_echo_sockets_hold_no_measuring_slot() {
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.max_measuring = 2;
    let edge = Running::start_with(config).await;
    // Each with a nonce, as a session's edge lists it, so only the missing request is wrong.
    let url = format!("ws://{}/api/v1/echo?nonce=a-nonce", edge.addr);
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(tokio_tungstenite::connect_async(&url).await.expect("connects").0);
    }
    let mut real = tokio_tungstenite::connect_async(&url).await.expect("connects").0;
    send(&mut real, &ClientMsg::Measure { v: PROTOCOL_VERSION, session: "s".into() }).await;
    let frame = tokio::time::timeout(Duration::from_secs(5), real.next()).await;
    match frame.expect("a frame in time").expect("open").expect("frame") {
        Message::Binary(bytes) => assert!(wire::parse_echo(&bytes).is_some()),
        other => panic!("expected an echo probe, got {other:?}"),
    }
    // The idle ones are closed once their short deadline passes.
    let (code, _) = refusal(&mut idle[0]).await;
    assert_eq!(code, "expected_measure");
    edge.stop().await;
}

#[tokio::test]
async fn a_finished_session_is_sealed_and_an_expired_one_takes_nothing() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(
        &mut candidate,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 30), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Ack { seq: 1 });
    send(&mut candidate, &ClientMsg::Finish).await;
    assert_eq!(next_text(&mut candidate).await, ServerMsg::Finished);
    let signed = metric(&edge, "onsite_verdicts_signed_total").await;
    // A later socket cannot add evidence that would change the final verdict.
    let mut later = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(
        &mut later,
        &ClientMsg::Evidence(BatchV1 { seq: 2, strokes: typing(2, 500), ..BatchV1::default() }),
    )
    .await;
    match next_text(&mut later).await {
        ServerMsg::Error { code, .. } => assert_eq!(code.as_str(), "finished"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    send(&mut later, &ClientMsg::Finish).await;
    assert_eq!(next_text(&mut later).await, ServerMsg::Finished, "finishing again is harmless");
    assert_eq!(metric(&edge, "onsite_batches_stored_total").await, 1);
    assert_eq!(metric(&edge, "onsite_verdicts_signed_total").await, signed, "no new verdict");
    edge.stop().await;

    // A session past its lifetime refuses its candidate; the interviewer may still look.
    let (data, assets) = dirs();
    let mut config = config(&data, &assets);
    config.session_lifetime_s = 0;
    let edge = Running::start_with(config).await;
    let session = edge.create_session().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut candidate = edge.socket().await;
    send(
        &mut candidate,
        &ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            role: Role::Candidate,
            session: session.id.clone(),
            token: session.candidate.clone(),
        },
    )
    .await;
    let (code, close) = refusal(&mut candidate).await;
    assert_eq!((code.as_str(), close), ("expired", Some(CloseCode::Policy)));
    edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    edge.stop().await;
}

/// Signs `claims` with the edge's own current key, read from its data directory, as a stand-in
/// for a verdict the edge issued (any class, any session, any audience).
fn sign_as_edge(data: &std::path::Path, claims: &serde_json::Value) -> String {
    signer_of(data).sign_payload(jws::VERDICT_TYP, claims)
}

fn signer_of(data: &std::path::Path) -> jws::Signer {
    let text =
        std::fs::read_to_string(data.join(onsite_edge::keyring::KEYRING_FILE)).expect("keys");
    let keyring: onsite_edge::keyring::Keyring = serde_json::from_str(&text).expect("keyring");
    let seed = onsite_core::b64::unhex(&keyring.keys.last().expect("a key").seed_hex)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .expect("a seed");
    jws::Signer::from_seed(&seed)
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// Verdict claims as the edge signs them, for `class` about `sub` naming `aud`.
fn verdict_claims(iss: &str, sub: &str, aud: &str, class: &str) -> serde_json::Value {
    let now_s = now_s();
    serde_json::json!({
        "iss": iss, "sub": sub, "aud": aud, "iat": now_s, "exp": now_s + 3600, "jti": "j",
        "verdict": {
            "v": 1, "class": class, "p_remote": 0.01, "keystrokes": 40, "rtt_samples": 10,
            "rtt_min_ms": 0.2, "rtt_median_ms": 0.3, "dwell_median_ms": 90.0,
            "flight_median_ms": 170.0, "reasons": []
        },
        "evidence_sha256": "00",
    })
}

#[tokio::test]
async fn the_verify_api_fails_closed_and_checks_the_session_issuer_and_audience() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let a = edge.create_session().await;
    let iss = format!("http://{}", edge.addr);
    let sign = |sub: &str, aud: &str, class: &str| {
        sign_as_edge(data.path(), &verdict_claims(&iss, sub, aud, class))
    };
    let remote_a = sign(&a.id, "onsite", "remote");
    let local_a = sign(&a.id, "onsite", "local");
    let local_other = sign("another-session", "onsite", "local");
    // A measurement signed by this edge's key: it must never pass for a verdict.
    let measurement = signer_of(data.path())
        .sign_payload(jws::MEASUREMENT_TYP, &verdict_claims(&iss, &a.id, "onsite", "local"));
    // (what, request body, expected status, expected decision, a part of the reasons or error)
    let cases: Vec<(&str, serde_json::Value, u16, &str, &str)> = vec![
        (
            "empty require",
            serde_json::json!({"token": remote_a, "require": []}),
            400,
            "",
            "at least one verdict class",
        ),
        (
            "blank require",
            serde_json::json!({"token": remote_a, "require": [""]}),
            400,
            "",
            "at least one verdict class",
        ),
        (
            "blanks and commas",
            serde_json::json!({"token": remote_a, "require": [" ", ","]}),
            400,
            "",
            "without commas",
        ),
        ("default policy", serde_json::json!({"token": remote_a}), 200, "hold", "requires local"),
        ("expected session", serde_json::json!({"token": local_a, "sub": a.id}), 200, "ship", ""),
        (
            "another session's verdict",
            serde_json::json!({"token": local_other, "sub": a.id}),
            200,
            "hold",
            "is about session \\\"another-session\\\"",
        ),
        (
            "blank session",
            serde_json::json!({"token": local_a, "sub": " "}),
            400,
            "",
            "sub\\\" is blank",
        ),
        (
            "expected issuer",
            serde_json::json!({"token": local_a, "sub": a.id, "iss": iss}),
            200,
            "ship",
            "",
        ),
        (
            "another issuer",
            serde_json::json!({"token": local_a, "iss": "https://other.example"}),
            200,
            "hold",
            "issuer",
        ),
        (
            "no session named",
            serde_json::json!({"token": local_a}),
            200,
            "ship",
            "was given, so this verdict may be about any session",
        ),
        (
            "a measurement",
            serde_json::json!({"token": measurement, "sub": a.id}),
            200,
            "hold",
            "token type is \\\"onsite-measurement+jwt\\\"",
        ),
    ];
    for (what, body, expected_status, expected_decision, part) in cases {
        let (status, head, answer) = edge
            .request(
                "POST",
                "/api/v1/verify",
                &[("Content-Type", "application/json")],
                &body.to_string(),
            )
            .await;
        assert_eq!(status, expected_status, "{what}: {answer}");
        assert!(head.contains("cache-control: no-store"), "{what}: {head}");
        assert!(answer.contains(part), "{what}: {answer}");
        if status == 200 {
            let answer: serde_json::Value = serde_json::from_str(&answer).expect("answer");
            assert_eq!(answer["decision"], expected_decision, "{what}: {answer}");
        }
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_deployment_audience_is_signed_into_verdicts_and_expected_by_default() {
    let (data, assets) = dirs();
    for audience in ["", "  ", "onsite-measurement"] {
        let mut config = Config::new(
            "127.0.0.1:0".parse().expect("address"),
            data.path().to_path_buf(),
            assets.path().to_path_buf(),
        );
        config.audience = audience.into();
        let refused = Edge::open(config).await.err().map(|e| e.to_string());
        assert!(
            refused.as_deref().is_some_and(|e| e.contains("cannot name verdicts")),
            "{audience:?}: {refused:?}"
        );
    }
    let mut config = Config::new(
        "127.0.0.1:0".parse().expect("address"),
        data.path().to_path_buf(),
        assets.path().to_path_buf(),
    );
    config.audience = "https://hr.example/onboarding".into();
    let edge = Running::start_with(config).await;
    let session = edge.create_session().await;
    let (_, created) = edge.http("POST", "/api/v1/sessions", Some(&edge.api_key)).await;
    assert!(created.contains("&aud=https%3A%2F%2Fhr.example%2Fonboarding&token="), "{created}");
    // A verdict the edge itself signs names the deployment's audience.
    let mut interviewer = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    let mut candidate = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    let environment = EnvironmentV1 {
        webdriver: false,
        renderer: RendererName::Hardware,
        screen_w_px: 1440,
        screen_h_px: 900,
        time_zone: None,
    };
    send(&mut candidate, &ClientMsg::Environment(environment)).await;
    let ServerMsg::Verdict { token, .. } = next_text(&mut interviewer).await else {
        panic!("expected a verdict")
    };
    let (_, jwks) = edge.http("GET", "/.well-known/jwks.json", None).await;
    let jwks = Jwks::parse(&jwks).expect("jwks");
    let signed =
        wire::verify_verdict(&token, &jwks, Expect::new(now_s(), "https://hr.example/onboarding"));
    assert_eq!(signed.map(|claims| claims.sub), Ok(session.id.clone()));
    assert!(wire::verify_verdict(&token, &jwks, Expect::new(now_s(), "onsite")).is_err());
    // The API expects the deployment's audience unless told otherwise, so a verdict made for
    // another deployment (audience "onsite") does not ship here.
    let iss = format!("http://{}", edge.addr);
    let foreign = sign_as_edge(data.path(), &verdict_claims(&iss, &session.id, "onsite", "local"));
    for (what, token, aud, decision) in [
        ("another deployment's verdict", foreign.as_str(), None, "hold"),
        ("this edge's own verdict", token.as_str(), None, "ship"),
        ("another deployment's, asked for", foreign.as_str(), Some("onsite"), "ship"),
    ] {
        let body = serde_json::json!({"token": token, "sub": session.id, "aud": aud, "require": ["local", "inconclusive"]});
        let (status, answer) =
            edge.http_with("POST", "/api/v1/verify", None, &body.to_string()).await;
        assert_eq!(status, 200, "{what}: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("answer");
        assert_eq!(answer["decision"], decision, "{what}: {answer}");
    }
    edge.stop().await;
}

#[tokio::test]
async fn pages_served_from_a_rebound_name_are_refused_and_https_edges_send_hsts() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let verify = r#"{"token":"x.y.z"}"#;
    let rebound = format!("evil.example:{}", edge.addr.port());
    let rebound_origin = format!("http://{rebound}");
    // DNS rebinding: a page at evil.example, whose name now resolves to the edge, calls it
    // "same-origin": Host and Origin both name evil.example.
    let (status, head, body) = edge
        .request_for_host(
            &rebound,
            "POST",
            "/api/v1/verify",
            &[("Origin", &rebound_origin)],
            verify,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    // The edge's own origin sent under a foreign Host is refused as well.
    let own = format!("http://{}", edge.addr);
    let (status, _, _) = edge
        .request_for_host(&rebound, "POST", "/api/v1/verify", &[("Origin", &own)], verify)
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = edge.request("POST", "/api/v1/verify", &[("Origin", &own)], verify).await;
    assert_eq!(status, 200);
    // Names no one else's DNS can point here are the edge's own: localhost and IP literals.
    let localhost = format!("localhost:{}", edge.addr.port());
    let (status, _, _) = edge
        .request_for_host(
            &localhost,
            "POST",
            "/api/v1/verify",
            &[("Origin", &format!("http://{localhost}"))],
            verify,
        )
        .await;
    assert_eq!(status, 200);
    // The socket upgrade is checked the same way.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/api/v1/ws",
            edge.addr
        ))
        .expect("request");
    request.headers_mut().insert("Host", rebound.parse().expect("host"));
    request.headers_mut().insert("Origin", rebound_origin.parse().expect("origin"));
    assert!(
        tokio_tungstenite::connect_async(request).await.is_err(),
        "a rebound page cannot open the socket"
    );
    // Plain HTTP: no HSTS (it would be ignored, and would break a local edge).
    let (_, head, _) = edge.request("GET", "/healthz", &[], "").await;
    assert!(!head.contains("strict-transport-security"), "{head}");
    edge.stop().await;

    let (data, assets) = dirs();
    let mut config = Config::new(
        "127.0.0.1:0".parse().expect("address"),
        data.path().to_path_buf(),
        assets.path().to_path_buf(),
    );
    config.public_url = Some("https://onsite.example".into());
    let edge = Running::start_with(config).await;
    for path in ["/healthz", "/dashboard", "/.well-known/jwks.json"] {
        let (_, head, _) = edge.request_for_host("onsite.example", "GET", path, &[], "").await;
        assert!(head.contains("strict-transport-security: max-age=31536000"), "{path}: {head}");
    }
    let (status, _, _) = edge
        .request_for_host(
            "onsite.example",
            "POST",
            "/api/v1/verify",
            &[("Origin", "https://onsite.example")],
            verify,
        )
        .await;
    assert_eq!(status, 200, "the public host and origin are served");
    edge.stop().await;
}

#[tokio::test]
async fn answers_with_capabilities_tokens_or_evidence_are_not_stored_by_caches() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let api_key = format!("Bearer {}", edge.api_key);
    let interviewer = format!("Bearer {}", session.interviewer);
    let cases: [(&str, String, &str, &str); 4] = [
        ("POST", "/api/v1/sessions".into(), api_key.as_str(), "no-store"),
        (
            "GET",
            format!("/api/v1/sessions/{}/evidence", session.id),
            interviewer.as_str(),
            "no-store",
        ),
        (
            "GET",
            format!("/api/v1/sessions/{}/verdicts", session.id),
            interviewer.as_str(),
            "no-store",
        ),
        ("GET", "/.well-known/jwks.json".into(), "", "public, max-age=300"),
    ];
    for (method, path, authorization, cache) in cases {
        let headers: Vec<(&str, &str)> =
            [("Authorization", authorization)].into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let (status, head, body) = edge.request(method, &path, &headers, "").await;
        assert!(status < 300, "{path}: {body}");
        assert!(head.contains(&format!("cache-control: {cache}")), "{path}: {head}");
    }
    edge.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_companions_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (parent, assets) = dirs();
    // A fresh data directory, and one left by an older edge with a world-readable database.
    let fresh = parent.path().join("fresh");
    let older = parent.path().join("older");
    std::fs::create_dir(&older).expect("older dir");
    let database = older.join(onsite_edge::store::DATABASE_FILE);
    std::fs::write(&database, b"").expect("database");
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for data in [&fresh, &older] {
        // The SQLite file itself, whatever database the other tests use.
        let config = Config::new(
            "127.0.0.1:0".parse().expect("address"),
            data.clone(),
            assets.path().to_path_buf(),
        );
        let edge = Edge::open(config).await.expect("edge opens");
        for name in [
            "onsite.sqlite3",
            "onsite.sqlite3-wal",
            "onsite.sqlite3-shm",
            "signing-keys.json",
            "api-key",
        ] {
            assert_eq!(mode(&data.join(name)), 0o600, "{}: {name}", data.display());
        }
        drop(edge);
    }
    assert_eq!(mode(&fresh), 0o700, "a new data directory is the owner's");
}

#[tokio::test]
async fn measurements_are_typed_expire_and_count_only_for_the_session_whose_edge_asked() {
    // The measuring edge ("chi") and the session's edge, which knows chi's keys.
    let (chi_data, chi_assets) = dirs();
    let mut chi_config = Config::new(
        "127.0.0.1:0".parse().expect("address"),
        chi_data.path().to_path_buf(),
        chi_assets.path().to_path_buf(),
    );
    chi_config.edge_id = "chi".into();
    let chi = Running::start_with(chi_config).await;
    let (_, chi_keys) = chi.http("GET", "/.well-known/jwks.json", None).await;
    let (data, assets) = dirs();
    let mut config = Config::new(
        "127.0.0.1:0".parse().expect("address"),
        data.path().to_path_buf(),
        assets.path().to_path_buf(),
    );
    config.location = Some("New York".into());
    config.peers = vec![onsite_edge::Peer {
        id: "chi".into(),
        url: format!("ws://{}/api/v1/echo", chi.addr),
        location: "Chicago".into(),
        keys: Jwks::parse(&chi_keys).expect("chi's keys"),
    }];
    let edge = Running::start_with(config).await;
    let session = edge.create_session().await;
    let mut candidate = edge.socket().await;
    send(
        &mut candidate,
        &ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            role: Role::Candidate,
            session: session.id.clone(),
            token: session.candidate.clone(),
        },
    )
    .await;
    let ServerMsg::Welcome { edges, .. } = next_text(&mut candidate).await else {
        panic!("expected welcome")
    };
    let echo_url = edges.first().map(|edge| edge.url.clone()).expect("chi is listed");
    assert!(echo_url.contains("/api/v1/echo?nonce="), "{echo_url}");

    /// Lets the edge at `url` time this "browser" for `session`; its answer frame's text.
    async fn measure(url: String, session: String) -> ServerMsg {
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("echo connects");
        send(&mut socket, &ClientMsg::Measure { v: PROTOCOL_VERSION, session }).await;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
                .await
                .expect("a frame in time");
            match frame.expect("socket open").expect("frame") {
                Message::Text(text) => return ServerMsg::parse(&text).expect("server message"),
                Message::Binary(bytes) => socket.send(Message::Binary(bytes)).await.expect("echo"),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }
    // Anyone can open the echo socket, but without the nonce the session's edge gave, nothing
    // is measured or signed.
    let bare = format!("ws://{}/api/v1/echo", chi.addr);
    let (genuine, forged, bare) = tokio::join!(
        measure(echo_url.clone(), session.id.clone()),
        measure(format!("{bare}?nonce=made-up"), session.id.clone()),
        measure(bare.clone(), session.id.clone()),
    );
    assert!(matches!(&bare, ServerMsg::Error { code: ErrorCode::ExpectedNonce, .. }), "{bare:?}");
    let (ServerMsg::Measurement { token: genuine }, ServerMsg::Measurement { token: forged }) =
        (genuine, forged)
    else {
        panic!("expected two measurements")
    };
    let decode = |part: usize| -> serde_json::Value {
        let bytes =
            onsite_core::b64::decode(genuine.split('.').nth(part).expect("part")).expect("b64");
        serde_json::from_slice(&bytes).expect("json")
    };
    let (header, claims) = (decode(0), decode(1));
    assert_eq!(header["typ"], jws::MEASUREMENT_TYP);
    assert_eq!(claims["aud"], wire::MEASUREMENT_AUDIENCE);
    assert_eq!(claims["sub"], session.id.as_str());
    let (iat, exp) = (claims["iat"].as_u64().expect("iat"), claims["exp"].as_u64().expect("exp"));
    assert_eq!(exp - iat, wire::MEASUREMENT_TTL_S, "{claims}");
    assert!(echo_url.ends_with(claims["nonce"].as_str().expect("nonce")), "{claims}");
    // No verdict verifier takes it for a verdict, whatever audience it expects.
    let chi_jwks = Jwks::parse(&chi_keys).expect("chi's keys");
    for audience in ["onsite", wire::MEASUREMENT_AUDIENCE] {
        assert!(wire::verify_verdict(&genuine, &chi_jwks, Expect::new(now_s(), audience)).is_err());
    }
    // The session's edge refuses the measurement it did not ask for and takes the one it did.
    let refused = |reply: ServerMsg| match reply {
        ServerMsg::Error { code: ErrorCode::MeasurementRefused, message } => message,
        other => panic!("expected a refusal, got {other:?}"),
    };
    send(&mut candidate, &ClientMsg::Measured { token: forged.clone() }).await;
    assert!(
        refused(next_text_within(&mut candidate, Duration::from_secs(10)).await).contains("nonce")
    );
    send(&mut candidate, &ClientMsg::Measured { token: genuine }).await;
    send(&mut candidate, &ClientMsg::Measured { token: forged }).await;
    assert!(
        refused(next_text_within(&mut candidate, Duration::from_secs(10)).await).contains("nonce"),
        "the genuine one was taken silently"
    );
    let (_, export) = edge
        .http(
            "GET",
            &format!("/api/v1/sessions/{}/evidence", session.id),
            Some(&session.interviewer),
        )
        .await;
    let export: serde_json::Value = serde_json::from_str(&export).expect("export");
    let measured: Vec<&str> = export["peer_rtts"]
        .as_array()
        .expect("the measurement the edge took")
        .iter()
        .filter_map(|m| m["edge_id"].as_str())
        .collect();
    assert_eq!(measured, vec!["chi"]);
    edge.stop().await;
    chi.stop().await;
}

/// The next text frame, leaving echo probes unanswered, as a script that never answers does.
async fn next_text_ignoring_echoes(socket: &mut Socket) -> ServerMsg {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time");
        if let Message::Text(text) = frame.expect("socket open").expect("frame") {
            return ServerMsg::parse(&text).expect("server message");
        }
    }
}

#[tokio::test]
async fn the_minimal_forgery_gets_no_local_verdict() {
    // Hello, 40 made-up presses and finish in a fraction of a second, no echo answered and no
    // task run: once signed `local` (p 0.023, `rtt_samples: 0`).
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let mut script = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(
        &mut script,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 40), ..BatchV1::default() }),
    )
    .await;
    assert_eq!(next_text_ignoring_echoes(&mut script).await, ServerMsg::Ack { seq: 1 });
    send(&mut script, &ClientMsg::Finish).await;
    assert_eq!(next_text_ignoring_echoes(&mut script).await, ServerMsg::Finished);
    let mut interviewer = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    let ServerMsg::Verdict { verdict, .. } = next_text(&mut interviewer).await else {
        panic!("expected the final verdict")
    };
    assert_eq!(verdict.class, "inconclusive", "{:?}", verdict.reasons);
    assert_eq!(verdict.rtt_samples, 0);
    assert!(
        verdict.reasons.iter().any(|r| r.code == "round_trips_missing"),
        "{:?}",
        verdict.reasons
    );
    edge.stop().await;
}

/// How a scripted candidate answers the rhythm task the edge runs: it taps for each beat where
/// a local person would (30 ms ahead of the beat it predicts from the last one it received),
/// plus `loop_ms` (an operator behind a remote desktop), and reports each tap `early_ms` earlier
/// than it sent it. Its page clock runs 5,000 s ahead of the edge's.
struct RhythmScript {
    loop_ms: u64,
    early_ms: i64,
}

/// Runs a whole session as `script`: typing, the edge's rhythm task answered in real time, echo
/// replies with the page's clock, then finish; returns the final verdict.
async fn run_rhythm_script(edge: &Running, script: RhythmScript) -> wire::VerdictV1 {
    const PAGE_AHEAD_US: i64 = 5_000_000_000;
    let session = edge.create_session().await;
    let mut socket = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    // The script's own clock; tests may read the time (clippy.toml).
    #[allow(clippy::disallowed_methods, reason = "a scripted page reads its own clock")]
    let epoch = tokio::time::Instant::now();
    let page_now_us = move || {
        #[allow(clippy::disallowed_methods, reason = "a scripted page reads its own clock")]
        let elapsed = epoch.elapsed();
        i64::try_from(elapsed.as_micros()).expect("small") + PAGE_AHEAD_US
    };
    send(
        &mut socket,
        &ClientMsg::Evidence(BatchV1 { seq: 1, strokes: typing(1, 40), ..BatchV1::default() }),
    )
    .await;
    send(&mut socket, &ClientMsg::StartRhythm).await;
    // Taps fall due in the order their beats came; a late operator's tap for one beat is still
    // pending when the next beat arrives.
    let mut taps_due: std::collections::VecDeque<tokio::time::Instant> = Default::default();
    let mut beats = 0;
    let mut finished_at: Option<tokio::time::Instant> = None;
    loop {
        let far = epoch + Duration::from_secs(3600);
        let tap_due = taps_due.front().copied();
        let wake = tap_due.unwrap_or(far).min(finished_at.unwrap_or(far));
        tokio::select! {
            frame = socket.next() => match frame.expect("socket open").expect("frame") {
                Message::Binary(bytes) => {
                    let seq = wire::parse_echo(&bytes).expect("an echo probe");
                    let reply = wire::echo_reply(seq, page_now_us());
                    socket.send(Message::Binary(reply.to_vec().into())).await.expect("echo");
                }
                Message::Text(text) => match ServerMsg::parse(&text).expect("server message") {
                    ServerMsg::Beat { n, of } => {
                        beats += 1;
                        // The next beat, as a person predicts it from this one.
                        let next_ms = 600 - 30 + script.loop_ms;
                        #[allow(clippy::disallowed_methods, reason = "the script's own clock")]
                        let now = tokio::time::Instant::now();
                        taps_due.push_back(now + Duration::from_millis(next_ms));
                        if n + 1 == of {
                            finished_at = Some(now + Duration::from_millis(1_500 + script.loop_ms));
                        }
                    }
                    ServerMsg::Ack { .. } => {}
                    other => panic!("unexpected {other:?}"),
                },
                _ => {}
            },
            () = tokio::time::sleep_until(wake) => {
                if finished_at.is_some_and(|at| at <= wake) && tap_due.is_none_or(|at| at > wake) {
                    break;
                }
                taps_due.pop_front();
                let at_us = page_now_us() - script.early_ms * 1000;
                send(&mut socket, &ClientMsg::Tap { at_us }).await;
            }
        }
    }
    assert_eq!(beats, onsite_core::attested::BEATS, "every beat arrived");
    // The run is scored once its last taps are in; then the candidate finishes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&mut socket, &ClientMsg::Finish).await;
    while next_text(&mut socket).await != ServerMsg::Finished {}
    let mut interviewer = edge.join(Role::Interviewer, &session.id, &session.interviewer).await;
    let ServerMsg::Verdict { verdict, .. } = next_text(&mut interviewer).await else {
        panic!("expected the final verdict")
    };
    verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversaries_of_the_edge_run_rhythm_never_get_local() {
    // Three scripts speaking the wire protocol, concurrently (each run takes 17 s of beats):
    // a local person, an operator 110 ms behind a remote desktop who reports honestly, and the
    // same operator's page reporting every tap 110 ms earlier to hide it.
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let (local, operator, hidden) = tokio::join!(
        run_rhythm_script(&edge, RhythmScript { loop_ms: 0, early_ms: 0 }),
        run_rhythm_script(&edge, RhythmScript { loop_ms: 110, early_ms: 0 }),
        run_rhythm_script(&edge, RhythmScript { loop_ms: 110, early_ms: 110 }),
    );
    let weight = |verdict: &wire::VerdictV1, code: &str| {
        verdict.reasons.iter().find(|r| r.code == code).map(|r| r.weight)
    };
    let added_ms = |verdict: &wire::VerdictV1| verdict.loop_added_ms.as_ref().map(|l| l.estimate);
    for (name, verdict) in [("local", &local), ("operator", &operator), ("hiding", &hidden)] {
        println!(
            "{name}: class {}, p {}, loop added {:?} ms, timing_inconsistent {:?}",
            verdict.class,
            verdict.p_remote,
            added_ms(verdict),
            weight(verdict, "timing_inconsistent")
        );
    }
    assert_eq!(local.class, "local", "{:#?}", local.reasons);
    assert!(added_ms(&local).is_some_and(|ms| ms.abs() <= 20.0), "{:?}", local.loop_added_ms);
    assert_eq!(weight(&local, "timing_inconsistent"), None, "{:#?}", local.reasons);
    for (name, verdict) in [("honest operator", &operator), ("hiding operator", &hidden)] {
        assert_ne!(verdict.class, "local", "{name}: {:#?}", verdict.reasons);
        let added = added_ms(verdict);
        assert!(added.is_some_and(|ms| (ms - 110.0).abs() <= 20.0), "{name}: {added:?}");
        assert!(weight(verdict, "loop_latency").is_some_and(|w| w >= 3.0), "{name}");
    }
    assert_eq!(weight(&hidden, "timing_inconsistent"), Some(2.0), "{:#?}", hidden.reasons);
    assert_eq!(weight(&operator, "timing_inconsistent"), None, "{:#?}", operator.reasons);
    edge.stop().await;
}

#[tokio::test]
async fn the_edge_runs_the_rhythm_task_once_per_session() {
    let (data, assets) = dirs();
    let edge = Running::start(data.path(), assets.path()).await;
    let session = edge.create_session().await;
    let mut socket = edge.join(Role::Candidate, &session.id, &session.candidate).await;
    send(&mut socket, &ClientMsg::StartRhythm).await;
    send(&mut socket, &ClientMsg::StartRhythm).await;
    let ServerMsg::Error { code, .. } = next_text(&mut socket).await else {
        panic!("a second start is refused")
    };
    assert_eq!(code, ErrorCode::TaskRepeated);
    // The first run goes on: its first beat comes a second after Start.
    assert_eq!(next_text(&mut socket).await, ServerMsg::Beat { n: 0, of: 24 });
    edge.stop().await;
}
