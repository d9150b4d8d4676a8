//! Abuse benchmark: the crash, stall and exhaustion attacks of the hardening issue against a real
//! `onsite serve` process while honest probes run, each for a few seconds. Honest probes come
//! from 127.0.1.0/24 and time the edge's answer to their own echo probes; every attack comes from
//! other loopback networks. Prints, per attack, the honest echo p99 as a ratio to the quiet
//! baseline measured in the same run, and whether the edge stayed up; one `name: value unit`
//! line per figure. Run by `scripts/bench abuse`.
//!
//! Settings: `BENCH_HONEST` (default 20 probes), `BENCH_SECONDS` (default 6 per phase),
//! `ONSITE_BIN`, `ONSITE_ASSETS`.

// A benchmark's client times what it sees on its own clock.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use onsite_core::wire::{
    self, BatchV1, ClientMsg, EnvironmentV1, PointerDeviceName, PointerKindName, PointerV1,
    RendererName, Role, StatusName, TrackingV1, PROTOCOL_VERSION,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

#[path = "common/mod.rs"]
mod common;
use common::{create_session, create_session_links, setting, start_edge};

/// The honest probes' network.
const HONEST_NETWORK: &str = "127.0.1";
const ECHO_EVERY: Duration = Duration::from_millis(100);

type Socket = WebSocketStream<TcpStream>;

/// A TCP connection from a chosen loopback address.
async fn connect_from(edge: SocketAddr, source: &str) -> anyhow::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse()?)?;
    socket.set_nodelay(true)?;
    Ok(socket.connect(edge).await?)
}

/// A WebSocket from a chosen loopback address to `path`.
async fn socket_from(edge: SocketAddr, source: &str, path: &str) -> anyhow::Result<Socket> {
    let stream = connect_from(edge, source).await?;
    let (socket, _) = tokio_tungstenite::client_async(format!("ws://{edge}{path}"), stream).await?;
    Ok(socket)
}

/// A candidate or interviewer socket that has said hello; `None` if the edge refused it.
async fn join(
    edge: SocketAddr,
    source: &str,
    role: Role,
    session: &(String, String),
) -> Option<Socket> {
    let mut socket = socket_from(edge, source, "/api/v1/ws").await.ok()?;
    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        role,
        session: session.0.clone(),
        token: session.1.clone(),
    };
    socket.send(Message::Text(hello.to_text().into())).await.ok()?;
    match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) if text.contains("\"welcome\"") => Some(socket),
        _ => None,
    }
}

/// Round trips the honest probes saw while `measuring` is on.
#[derive(Default)]
struct Honest {
    rtts_us: Mutex<Vec<u32>>,
    measuring: AtomicBool,
}

/// One honest probe: answers the edge's echoes and times its own, until `stop`.
async fn honest_probe(edge: SocketAddr, index: usize, honest: Arc<Honest>, stop: Instant) {
    let source = format!("{HONEST_NETWORK}.{}", 1 + index % 200);
    let Ok(session) = create_session(edge).await else { return };
    while Instant::now() < stop {
        let Some(mut socket) = join(edge, &source, Role::Candidate, &session).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut tick = tokio::time::interval(ECHO_EVERY);
        let mut sent_at = std::collections::HashMap::new();
        let mut seq = 0u32;
        while Instant::now() < stop {
            tokio::select! {
                _ = tick.tick() => {
                    seq = seq.wrapping_add(1);
                    let mut frame = wire::echo_frame(seq);
                    frame[0] = wire::CLIENT_ECHO_TAG;
                    sent_at.insert(seq, Instant::now());
                    if socket.send(Message::Binary(frame.to_vec().into())).await.is_err() { break; }
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Binary(bytes))) if wire::is_client_echo(&bytes) => {
                        let Some(got) = bytes.get(1..5).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) else { continue };
                        if let Some(at) = sent_at.remove(&got) {
                            if honest.measuring.load(Relaxed) {
                                honest.rtts_us.lock().await.push(u32::try_from(at.elapsed().as_micros()).unwrap_or(u32::MAX));
                            }
                        }
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Some(probe) = wire::parse_echo(&bytes) {
                            let _ = socket.send(Message::Binary(wire::echo_reply(probe, 0).to_vec().into())).await;
                        }
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => break,
                },
            }
        }
    }
}

fn p99_ms(values: &mut [u32]) -> f64 {
    values.sort_unstable();
    let rank = ((values.len() as f64 * 0.99).ceil() as usize).clamp(1, values.len().max(1));
    values.get(rank - 1).map_or(f64::NAN, |&v| f64::from(v) / 1000.0)
}

/// Whether `/healthz` answers 200 within a second, from the honest network.
async fn healthy(edge: SocketAddr) -> bool {
    let check = async {
        let mut stream = connect_from(edge, &format!("{HONEST_NETWORK}.250")).await?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {edge}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        anyhow::Ok(response.starts_with("HTTP/1.1 200"))
    };
    matches!(tokio::time::timeout(Duration::from_secs(1), check).await, Ok(Ok(true)))
}

/// A tracking result: `span_us` long with `points` target points, at the wire's limits.
fn tracking(span_us: i64, points: i64) -> TrackingV1 {
    TrackingV1 {
        status: StatusName::Done,
        started_at_us: 0,
        ended_at_us: span_us,
        target_at_us: (0..points).map(|i| i * (span_us / points)).collect(),
        target_x_px: (0..points)
            .map(|i| ((i as f64 * 0.05).sin() * 300.0 + 400.0).round())
            .collect(),
        target_y_px: (0..points)
            .map(|i| ((i as f64 * 0.03).cos() * 200.0 + 300.0).round())
            .collect(),
    }
}

fn batch(seq: u64, tracking: Option<TrackingV1>, pointer: Vec<PointerV1>) -> String {
    ClientMsg::Evidence(BatchV1 { seq, strokes: vec![], pointer, tracking, ..BatchV1::default() })
        .to_text()
}

/// Runs the named attack until `until`, from its own networks; returns what it did.
async fn attack(name: &str, edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    match name {
        "crash" => crash(edge, until).await,
        "stall" => stall(edge, until).await,
        "verdict_spam" => verdict_spam(edge, until).await,
        "storage_spam" => storage_spam(edge, until).await,
        "slowloris" => slowloris(edge, until).await,
        "echo_idle" => echo_idle(edge, until).await,
        "lockout" => lockout(edge, until).await,
        _ => anyhow::bail!("unknown attack {name}"),
    }
}

/// The 1.5 KB frame that once aborted the edge, sent again and again.
async fn crash(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    let frame = batch(1, Some(tracking(900_000_000_000_000, 40)), vec![]);
    // Twenty candidate links, reconnecting in turn as fast as each link's allowance lets them.
    let mut sessions = Vec::new();
    for _ in 0..20 {
        sessions.push(create_session(edge).await?);
    }
    let mut sent = 0;
    for session in sessions.iter().cycle() {
        if Instant::now() >= until {
            break;
        }
        if let Some(mut socket) = join(edge, "127.0.2.1", Role::Candidate, session).await {
            let _ = socket.send(Message::Text(frame.clone().into())).await;
            sent += 1;
            while let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_secs(1), socket.next()).await
            {}
        }
    }
    Ok(format!("{sent} crashing frames"))
}

/// Several candidate links sending the costliest results the wire allows, as fast as
/// their frame budget lets them: each makes the session's evidence worth re-scoring.
async fn stall(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    let mut tasks = Vec::new();
    for link in 0..4 {
        tasks.push(tokio::spawn(async move {
            let session = create_session(edge).await?;
            let source = format!("127.0.3.{}", link + 1);
            let mut socket = join(edge, &source, Role::Candidate, &session)
                .await
                .context("stall socket refused")?;
            let pointer: Vec<PointerV1> = (0..150)
                .map(|i| PointerV1 {
                    at_us: i * 400_000,
                    kind: PointerKindName::Move,
                    x_px: ((i as f64 * 0.05).sin() * 300.0 + 400.0).round(),
                    y_px: ((i as f64 * 0.03).cos() * 200.0 + 300.0).round(),
                    coalesced: 1,
                    device: PointerDeviceName::Mouse,
                    trusted: true,
                })
                .collect();
            // Built once; only the batch number changes from frame to frame.
            let template = batch(999_999_999, Some(tracking(60_000_000, 1_200)), pointer);
            anyhow::ensure!(template.len() < wire::MAX_FRAME_BYTES, "frame too large");
            let mut seq = 0;
            while Instant::now() < until {
                seq += 1;
                let frame = template.replacen("999999999", &seq.to_string(), 1);
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(60)).await;
                while let Ok(Some(Ok(_))) =
                    tokio::time::timeout(Duration::from_millis(1), socket.next()).await
                {
                }
            }
            anyhow::Ok(seq)
        }));
    }
    let mut frames = 0;
    for task in tasks {
        frames += task.await?.unwrap_or(0);
    }
    Ok(format!("{frames} maximal frames from 4 links"))
}

/// Environment frames on many sockets: each once signed and stored a verdict.
async fn verdict_spam(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    let session = create_session(edge).await?;
    let environment = ClientMsg::Environment(EnvironmentV1 {
        webdriver: false,
        renderer: RendererName::Hardware,
        screen_w_px: 1440,
        screen_h_px: 900,
        time_zone: None,
    })
    .to_text();
    let mut sent = 0;
    while Instant::now() < until {
        if let Some(mut socket) = join(edge, "127.0.4.1", Role::Candidate, &session).await {
            for _ in 0..50 {
                if socket.send(Message::Text(environment.clone().into())).await.is_err() {
                    break;
                }
                sent += 1;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(format!("{sent} environment frames"))
}

/// Batches of replaced task results until the session is full.
async fn storage_spam(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    // Frames near the 64 KiB limit, at the socket's frame budget: what once stored 170
    // batches (8.9 MB) in 6 s from one socket.
    let pointer = |count: i64| -> Vec<PointerV1> {
        (0..count)
            .map(|i| PointerV1 {
                at_us: i * 50_000,
                kind: PointerKindName::Move,
                x_px: (i % 800) as f64,
                y_px: (i % 600) as f64,
                coalesced: 1,
                device: PointerDeviceName::Mouse,
                trusted: true,
            })
            .collect()
    };
    // As many pointer samples as fit under the frame limit.
    let template = (0..=60)
        .rev()
        .map(|tens| batch(999_999_999, Some(tracking(15_000_000, 1_500)), pointer(tens * 10)))
        .find(|frame| frame.len() < wire::MAX_FRAME_BYTES - 100)
        .context("no frame fits")?;
    anyhow::ensure!(template.len() < wire::MAX_FRAME_BYTES, "frame too large");
    let (mut stored, mut full, mut sent_bytes) = (0, 0, 0usize);
    while Instant::now() < until {
        let session = create_session(edge).await?;
        let Some(mut socket) = join(edge, "127.0.5.1", Role::Candidate, &session).await else {
            continue;
        };
        let mut seq = 0;
        'session: while Instant::now() < until {
            seq += 1;
            let frame = template.replacen("999999999", &seq.to_string(), 1);
            sent_bytes += frame.len();
            if socket.send(Message::Text(frame.into())).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(45)).await;
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_millis(1), socket.next()).await
            {
                if let Message::Text(text) = message {
                    if text.contains("\"ack\"") {
                        stored += 1;
                    } else if text.contains("session_full") {
                        full += 1;
                        break 'session;
                    }
                }
            }
        }
    }
    Ok(format!(
        "{} MB sent, {stored} batches stored, {full} sessions filled",
        sent_bytes / 1_000_000
    ))
}

/// Half-open connections trickling a byte every few seconds, from one network.
async fn slowloris(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    let mut open = Vec::new();
    let mut refused = 0;
    for i in 0..1_100 {
        match connect_from(edge, &format!("127.0.6.{}", 1 + i % 4)).await {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\n").await;
                open.push(stream);
            }
            Err(_) => refused += 1,
        }
    }
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut alive = Vec::new();
        for mut stream in open {
            if stream.write_all(b"X").await.is_ok() {
                alive.push(stream);
            }
        }
        open = alive;
    }
    Ok(format!("{} of 1100 still open at the end, {refused} refused", open.len()))
}

/// Idle measuring sockets from five addresses, and then a real measuring request.
async fn echo_idle(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    let mut idle = Vec::new();
    for i in 0..1_200 {
        if let Ok(socket) =
            socket_from(edge, &format!("127.0.7.{}", 1 + i % 5), "/api/v1/echo?nonce=bench").await
        {
            idle.push(socket);
        }
    }
    let mut real =
        socket_from(edge, &format!("{HONEST_NETWORK}.251"), "/api/v1/echo?nonce=bench").await?;
    let measure = ClientMsg::Measure { v: PROTOCOL_VERSION, session: "bench".into() };
    real.send(Message::Text(measure.to_text().into())).await?;
    let first = tokio::time::timeout(Duration::from_secs(3), real.next()).await;
    let measured = matches!(first, Ok(Some(Ok(Message::Binary(_)))));
    let note = format!("{} idle sockets held; a real request measured: {measured}", idle.len());
    tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
    Ok(note)
}

/// The candidate link reconnecting in a loop while the interviewer tries to join.
async fn lockout(edge: SocketAddr, until: Instant) -> anyhow::Result<String> {
    let (id, candidate, interviewer) = create_session_links(edge).await?;
    let (candidate, interviewer) = ((id.clone(), candidate), (id, interviewer));
    let mut refused = 0;
    let mut welcomed = 0;
    while Instant::now() < until {
        if join(edge, "127.0.8.1", Role::Candidate, &candidate).await.is_none() {
            refused += 1;
        }
        if refused > 0 && join(edge, "127.0.9.1", Role::Interviewer, &interviewer).await.is_some() {
            welcomed += 1;
        }
    }
    Ok(format!("{refused} candidate reconnects refused, the interviewer welcomed {welcomed} times"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name, addr, phase_ms] = args.as_slice() {
        if role == "attack" {
            let until = Instant::now() + Duration::from_millis(phase_ms.parse()?);
            println!("{}", attack(name, addr.parse()?, until).await?);
            return Ok(());
        }
    }
    let honest_count: usize = setting("BENCH_HONEST", 20);
    let phase = Duration::from_secs(setting("BENCH_SECONDS", 6));
    let data = tempfile::tempdir()?;
    // The edge's own defaults for connections per network: the attacks must meet them.
    let mut edge = start_edge("127.0.0.1:0", data.path(), &[])?;
    let addr = edge.addr;
    let pid = edge.child.id();
    eprintln!("abuse: edge pid {pid} on {addr}; {honest_count} honest probes");
    let attacks =
        ["crash", "stall", "verdict_spam", "storage_spam", "slowloris", "echo_idle", "lockout"];
    let total = phase * (u32::try_from(attacks.len()).unwrap_or(8) + 3) * 3;
    let honest = Arc::new(Honest::default());
    let stop = Instant::now() + total;
    let probes: Vec<_> = (0..honest_count)
        .map(|i| tokio::spawn(honest_probe(addr, i, honest.clone(), stop)))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let measure = |honest: Arc<Honest>| async move {
        honest.rtts_us.lock().await.clear();
        honest.measuring.store(true, Relaxed);
    };
    let mut restarts = 0;
    let mut figures = Vec::new();
    let mut quiet_ms = Vec::new();
    let me = std::env::current_exe()?;
    // Each attack is compared with a quiet phase just before it, so the machine's drift (other
    // work, warm-up) is in both; `none` is a quiet phase against a quiet phase, the noise floor.
    for name in std::iter::once("none").chain(attacks) {
        measure(honest.clone()).await;
        tokio::time::sleep(phase).await;
        honest.measuring.store(false, Relaxed);
        let mut quiet = std::mem::take(&mut *honest.rtts_us.lock().await);
        let baseline_ms = p99_ms(&mut quiet);
        quiet_ms.push(baseline_ms);
        measure(honest.clone()).await;
        if name == "none" {
            tokio::time::sleep(phase).await;
        }
        // The attacker is a process of its own, so its work does not slow the honest probes'
        // runtime; it shares the machine's two cores with them and the edge, as it would.
        let note = if name == "none" {
            "no attack".to_owned()
        } else {
            let mut command = std::process::Command::new(&me);
            command.args(["attack", name, &addr.to_string(), &phase.as_millis().to_string()]);
            let output = tokio::task::spawn_blocking(move || command.output()).await??;
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        honest.measuring.store(false, Relaxed);
        let mut during = std::mem::take(&mut *honest.rtts_us.lock().await);
        let p99 = p99_ms(&mut during);
        let up = edge.child.try_wait()?.is_none() && healthy(addr).await;
        if !up {
            restarts += 1;
            eprintln!("abuse: the edge is down after {name}; restarting it");
            let _ = edge.child.kill();
            let _ = edge.child.wait();
            edge = start_edge(&addr.to_string(), data.path(), &[])?;
        }
        println!(
            "abuse: {name}: {note}; honest p99 {p99:.2} ms over {} echoes against {baseline_ms:.2} ms just before; edge up: {up}",
            during.len()
        );
        figures.push((name, p99 / baseline_ms, up));
        // Let the attack's connections drain before the next one.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for probe in probes {
        probe.abort();
    }
    let _ = edge.child.kill();
    let _ = edge.child.wait();
    quiet_ms.sort_by(f64::total_cmp);
    let median_quiet_ms = quiet_ms.get(quiet_ms.len() / 2).copied().unwrap_or(f64::NAN);
    println!("abuse_quiet_echo_p99_ms_median: {median_quiet_ms:.3} ms");
    for (name, ratio, up) in &figures {
        println!("abuse_{name}_echo_p99_ratio: {ratio:.2} x");
        println!("abuse_{name}_edge_up: {} boolean", u8::from(*up));
    }
    let worst = figures
        .iter()
        .filter(|(name, _, _)| *name != "none")
        .map(|(_, ratio, _)| *ratio)
        .fold(0.0, f64::max);
    println!("abuse_worst_echo_p99_ratio: {worst:.2} x");
    println!("abuse_edge_restarts: {restarts} restarts");
    Ok(())
}
