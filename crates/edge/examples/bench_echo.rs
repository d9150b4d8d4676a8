//! Benchmark of the edge's echo path: its added latency against a bare tokio WebSocket echo
//! server measured in the same run, and how many concurrently probed sessions one edge holds.
//! Run by `scripts/bench echo`; prints one `name: value unit` line per figure.
//!
//! The edge and the bare server each run in a child process of their own (this program, started
//! again with `serve-edge` or `serve-bare`), both pinned to the second core with `taskset` while
//! the client keeps the first: sharing one runtime with the client, the servers' tails measured
//! the client's scheduling as much as their own.

// A benchmark's client times what it sees on its own clock.
#![allow(clippy::disallowed_methods)]

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use futures_util::{SinkExt as _, StreamExt as _};
use onsite_core::wire::{self, ClientMsg, Role, ServerMsg, PROTOCOL_VERSION};
use onsite_edge::{Config, Edge};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Client-initiated probes per server, alternating between the two, rounds this far apart (the
/// edge answers one per 20 ms), in blocks whose ratios are reported one by one as well.
const PINGS: usize = 4000;
const BLOCKS: usize = 4;
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
            Some(Ok(Message::Binary(bytes))) if bytes.as_ref() == frame => {
                return Ok(sent.elapsed().as_secs_f64() * 1000.0)
            }
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
async fn connect(
    url: &str,
) -> anyhow::Result<(Socket, tokio_tungstenite::tungstenite::handshake::client::Response)> {
    Ok(tokio_tungstenite::connect_async_with_config(url, None, true).await?)
}

async fn create_session(
    edge: std::net::SocketAddr,
    api_key: &str,
) -> anyhow::Result<(String, String)> {
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
    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        role: Role::Candidate,
        session: session.into(),
        token: token.into(),
    };
    socket.send(Message::Text(hello.to_text().into())).await?;
    match socket.next().await {
        Some(Ok(Message::Text(text)))
            if matches!(ServerMsg::parse(&text), Ok(ServerMsg::Welcome { .. })) =>
        {
            Ok(socket)
        }
        other => anyhow::bail!("no welcome: {other:?}"),
    }
}

/// A server child process, pinned to `cpu` when `taskset` is there; it prints its address (and
/// for the edge, its API key) on its first line.
struct Server {
    child: Child,
    line: String,
}

impl Server {
    fn start(role: &str, cpu: Option<usize>) -> anyhow::Result<Self> {
        let me = std::env::current_exe().context("finding this program")?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.args(["-c", &cpu.to_string()]).arg(&me);
                command
            }
            None => Command::new(&me),
        };
        let mut child = command
            .arg(role)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the {role} server"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        anyhow::ensure!(!line.trim().is_empty(), "the {role} server did not start");
        Ok(Self { child, line: line.trim().to_owned() })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The edge, as `onsite serve` runs it, in this process; prints `ADDR API_KEY`.
async fn serve_edge() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let assets = tempfile::tempdir()?;
    std::fs::write(assets.path().join("index.html"), "<!doctype html>")?;
    let mut config = Config::new("127.0.0.1:0".parse()?, data.path().into(), assets.path().into());
    // Every simulated browser comes from 127.0.0.1: the per-network limits are lifted.
    config.rate_limit_per_s = 1e6;
    config.max_connections_per_network = 100_000;
    let edge = Edge::open(config).await?;
    println!("{} {}", edge.local_addr(), edge.api_key());
    Ok(edge.run(std::future::pending()).await?)
}

/// The bare tokio WebSocket echo server in this process; prints `ADDR`.
async fn serve_bare() -> anyhow::Result<()> {
    println!("{}", bare_echo_server().await?);
    std::future::pending::<()>().await;
    Ok(())
}

/// Whether `taskset` can pin processes here, and the machine has a second core to pin to.
fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset").args(["-c", "0", "true"]).status().is_ok_and(|s| s.success())
}

fn main() -> anyhow::Result<()> {
    let role = std::env::args().nth(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match role.as_deref() {
        Some("serve-edge") => runtime.block_on(serve_edge()),
        Some("serve-bare") => runtime.block_on(serve_bare()),
        _ => {
            // The client: one thread, on the first core when pinning works.
            let pinned = can_pin();
            if pinned {
                let _ = Command::new("taskset")
                    .args(["-p", "-c", "0", &std::process::id().to_string()])
                    .stdout(Stdio::null())
                    .status();
            }
            drop(runtime);
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(client(pinned))
        }
    }
}

async fn client(pinned: bool) -> anyhow::Result<()> {
    let cpu = pinned.then_some(1);
    let edge = Server::start("serve-edge", cpu)?;
    let bare = Server::start("serve-bare", cpu)?;
    let (edge_addr, api_key) = edge.line.split_once(' ').context("the edge printed no API key")?;
    let edge_addr: std::net::SocketAddr = edge_addr.parse()?;
    let bare_addr: std::net::SocketAddr = bare.line.parse()?;
    eprintln!(
        "echo: edge and bare server {}",
        if pinned {
            "pinned to core 1, client to core 0"
        } else {
            "not pinned (no taskset or one core)"
        }
    );

    // Added latency: the same client and pacing, the two servers probed alternately, so both see
    // the same moments of the machine.
    let (session, token) = create_session(edge_addr, api_key).await?;
    let mut socket = join(edge_addr, &session, &token).await?;
    let (mut bare_socket, _) = connect(&format!("ws://{bare_addr}/")).await?;
    let (mut edge_rtts, mut bare_rtts) = (Vec::with_capacity(PINGS), Vec::with_capacity(PINGS));
    for seq in 0..u32::try_from(PINGS)? {
        // Whichever goes second finds the threads awake; the order alternates.
        if seq % 2 == 0 {
            edge_rtts.push(ping_once(&mut socket, seq).await?);
            bare_rtts.push(ping_once(&mut bare_socket, seq).await?);
        } else {
            bare_rtts.push(ping_once(&mut bare_socket, seq).await?);
            edge_rtts.push(ping_once(&mut socket, seq).await?);
        }
        tokio::time::sleep(PING_EVERY).await;
    }
    let block = PINGS / BLOCKS;
    let mut block_ratios = Vec::new();
    for (k, (edge_block, bare_block)) in
        edge_rtts.chunks(block).zip(bare_rtts.chunks(block)).enumerate()
    {
        let (mut e, mut b) = (edge_block.to_vec(), bare_block.to_vec());
        let (p50, p99) = (
            quantile(&mut e, 0.5) / quantile(&mut b, 0.5),
            quantile(&mut e, 0.99) / quantile(&mut b, 0.99),
        );
        eprintln!(
            "echo block {k}: {} probes each; edge/bare p50 {p50:.3}x, p99 {p99:.3}x",
            e.len()
        );
        block_ratios.push(p99);
    }
    let (edge_p50, edge_p99) = (quantile(&mut edge_rtts, 0.5), quantile(&mut edge_rtts, 0.99));
    let (bare_p50, bare_p99) = (quantile(&mut bare_rtts, 0.5), quantile(&mut bare_rtts, 0.99));
    println!("edge_echo_p50_ms: {edge_p50:.3} ms");
    println!("edge_echo_p99_ms: {edge_p99:.3} ms");
    println!("bare_echo_p50_ms: {bare_p50:.3} ms");
    println!("bare_echo_p99_ms: {bare_p99:.3} ms");
    println!("edge_echo_ratio_p50: {:.3} x", edge_p50 / bare_p50);
    println!("edge_echo_ratio_p99: {:.3} x", edge_p99 / bare_p99);
    println!("edge_echo_ratio_p99_block_median: {:.3} x", quantile(&mut block_ratios, 0.5));
    println!("edge_echo_ratio_p99_block_max: {:.3} x", quantile(&mut block_ratios, 1.0));
    drop((bare, edge));

    // How many sessions one edge holds uses the whole machine: a new edge, nothing pinned.
    if pinned {
        let _ = Command::new("taskset")
            .args(["-a", "-p", "-c", "0-1023", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
    let edge = Server::start("serve-edge", None)?;
    let (edge_addr, api_key) = edge.line.split_once(' ').context("the edge printed no API key")?;
    let edge_addr = &edge_addr.parse::<std::net::SocketAddr>()?;

    // Concurrent sessions: every socket answers the edge's 4 Hz probes while one more socket
    // measures the echo time; the edge holds a load while its p99 stays under 50 ms.
    let mut held = 0;
    for load in LOADS {
        let mut sockets = Vec::with_capacity(load);
        for _ in 0..load {
            let (session, token) = create_session(*edge_addr, api_key).await?;
            sockets.push(join(*edge_addr, &session, &token).await?);
        }
        let answering: Vec<_> = sockets
            .into_iter()
            .map(|mut socket| {
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
                    while let Ok(Some(Ok(message))) =
                        tokio::time::timeout_at(deadline, socket.next()).await
                    {
                        if let Message::Binary(bytes) = message {
                            if socket.send(Message::Binary(bytes)).await.is_err() {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        let (session, token) = create_session(*edge_addr, api_key).await?;
        let mut probe = join(*edge_addr, &session, &token).await?;
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
    drop(edge);
    Ok(())
}
