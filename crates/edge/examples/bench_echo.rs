//! Benchmark of the edge's echo path: its added latency against a bare tokio WebSocket echo
//! server measured in the same run, and how many concurrently probed sessions one edge holds.
//! Run by `scripts/bench echo`; prints one `name: value unit` line per figure.

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use onsite_core::wire::{self, ClientMsg, Role, ServerMsg, PROTOCOL_VERSION};
use onsite_edge::{Config, Edge};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Client-initiated probes per server, alternating between the two, rounds this far apart (the
/// edge answers one per 20 ms).
const PINGS: usize = 2000;
const PING_EVERY: Duration = Duration::from_millis(21);
/// Session counts tried, and the p99 echo time (ms) under which an edge still "holds" them.
const LOADS: [usize; 4] = [250, 500, 1000, 2000];
const HOLD_P99_MS: f64 = 50.0;

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len().max(1));
    values.get(rank - 1).copied().unwrap_or(f64::NAN)
}

async fn bare_echo_server() -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // As on the edge: no Nagle.
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_binary() && socket.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Sends one probe and times its return; other frames (the edge's own probes) are answered.
async fn ping_once(socket: &mut Socket, seq: u32) -> anyhow::Result<f64> {
    let mut frame = wire::echo_frame(seq);
    frame[0] = wire::CLIENT_ECHO_TAG;
    let sent = Instant::now();
    socket.send(Message::Binary(frame.to_vec().into())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Binary(bytes))) if bytes.as_ref() == frame => return Ok(sent.elapsed().as_secs_f64() * 1000.0),
            Some(Ok(Message::Binary(bytes))) => socket.send(Message::Binary(bytes)).await?,
            Some(Ok(_)) => {}
            _ => anyhow::bail!("socket closed during the benchmark"),
        }
    }
}

/// Sends `count` probes, one every `PING_EVERY`.
async fn ping(socket: &mut Socket, count: usize) -> anyhow::Result<Vec<f64>> {
    let mut rtts = Vec::with_capacity(count);
    for seq in 0..count {
        rtts.push(ping_once(socket, u32::try_from(seq)?).await?);
        tokio::time::sleep(PING_EVERY).await;
    }
    Ok(rtts)
}

/// Connects as a browser does: with Nagle's algorithm off (Chromium sets `TCP_NODELAY`).
async fn connect(url: &str) -> anyhow::Result<(Socket, tokio_tungstenite::tungstenite::handshake::client::Response)> {
    Ok(tokio_tungstenite::connect_async_with_config(url, None, true).await?)
}

async fn create_session(edge: std::net::SocketAddr, api_key: &str) -> anyhow::Result<(String, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = TcpStream::connect(edge).await?;
    let request = format!("POST /api/v1/sessions HTTP/1.1\r\nHost: {edge}\r\nAuthorization: Bearer {api_key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(body)?;
    let url = json["candidate_url"].as_str().unwrap_or_default();
    let token = url.rsplit_once("token=").map(|(_, t)| t.to_owned()).unwrap_or_default();
    Ok((json["id"].as_str().unwrap_or_default().to_owned(), token))
}

async fn join(edge: std::net::SocketAddr, session: &str, token: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = connect(&format!("ws://{edge}/api/v1/ws")).await?;
    let hello = ClientMsg::Hello { v: PROTOCOL_VERSION, role: Role::Candidate, session: session.into(), token: token.into() };
    socket.send(Message::Text(hello.to_text().into())).await?;
    match socket.next().await {
        Some(Ok(Message::Text(text))) if matches!(ServerMsg::parse(&text), Ok(ServerMsg::Welcome { .. })) => Ok(socket),
        other => anyhow::bail!("no welcome: {other:?}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let assets = tempfile::tempdir()?;
    std::fs::write(assets.path().join("index.html"), "<!doctype html>")?;
    let mut config = Config::new("127.0.0.1:0".parse()?, data.path().into(), assets.path().into());
    // Every simulated browser comes from 127.0.0.1: the per-address limit is lifted.
    config.rate_limit_per_s = 1e6;
    let edge = Edge::open(config).await?;
    let (edge_addr, api_key) = (edge.local_addr(), edge.api_key().to_owned());
    tokio::spawn(edge.run(std::future::pending()));
    let bare_addr = bare_echo_server().await?;

    // Added latency: the same client and pacing, the two servers probed alternately, so both see
    // the same moments of the machine.
    let (session, token) = create_session(edge_addr, &api_key).await?;
    let mut socket = join(edge_addr, &session, &token).await?;
    let (mut bare, _) = connect(&format!("ws://{bare_addr}/")).await?;
    let (mut edge_rtts, mut bare_rtts) = (Vec::with_capacity(PINGS), Vec::with_capacity(PINGS));
    for seq in 0..u32::try_from(PINGS)? {
        // Whichever goes second finds the threads awake; the order alternates.
        if seq % 2 == 0 {
            edge_rtts.push(ping_once(&mut socket, seq).await?);
            bare_rtts.push(ping_once(&mut bare, seq).await?);
        } else {
            bare_rtts.push(ping_once(&mut bare, seq).await?);
            edge_rtts.push(ping_once(&mut socket, seq).await?);
        }
        tokio::time::sleep(PING_EVERY).await;
    }
    let (edge_p50, edge_p99) = (quantile(&mut edge_rtts, 0.5), quantile(&mut edge_rtts, 0.99));
    let (bare_p50, bare_p99) = (quantile(&mut bare_rtts, 0.5), quantile(&mut bare_rtts, 0.99));
    println!("edge_echo_p50_ms: {edge_p50:.3} ms");
    println!("edge_echo_p99_ms: {edge_p99:.3} ms");
    println!("bare_echo_p50_ms: {bare_p50:.3} ms");
    println!("bare_echo_p99_ms: {bare_p99:.3} ms");
    println!("edge_echo_ratio_p50: {:.3} x", edge_p50 / bare_p50);
    println!("edge_echo_ratio_p99: {:.3} x", edge_p99 / bare_p99);

    // Concurrent sessions: every socket answers the edge's 4 Hz probes while one more socket
    // measures the echo time; the edge holds a load while its p99 stays under 50 ms.
    let mut held = 0;
    for load in LOADS {
        let mut sockets = Vec::with_capacity(load);
        for _ in 0..load {
            let (session, token) = create_session(edge_addr, &api_key).await?;
            sockets.push(join(edge_addr, &session, &token).await?);
        }
        let answering: Vec<_> = sockets
            .into_iter()
            .map(|mut socket| {
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
                    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
                        if let Message::Binary(bytes) = message {
                            if socket.send(Message::Binary(bytes)).await.is_err() {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        let (session, token) = create_session(edge_addr, &api_key).await?;
        let mut probe = join(edge_addr, &session, &token).await?;
        let mut rtts = ping(&mut probe, 120).await.unwrap_or_default();
        for task in answering {
            let _ = task.await;
        }
        let p99 = if rtts.is_empty() { f64::INFINITY } else { quantile(&mut rtts, 0.99) };
        println!("load {load} sessions: echo p99 {p99:.2} ms");
        if p99 > HOLD_P99_MS {
            break;
        }
        held = load;
    }
    println!("edge_concurrent_sessions_held: {held} sessions");
    Ok(())
}
