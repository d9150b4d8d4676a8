//! What the edge benchmarks share: the edge as a child process, its CPU and memory from /proc,
//! session creation over raw HTTP, and settings from the environment.

// A benchmark's client times what it sees on its own clock.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The API key the benchmarks start the edge with.
pub const API_KEY: &str = "bench-api-key";

pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The edge under test, as a child process.
pub struct EdgeProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

/// Starts `onsite serve` with the API rate limit lifted (the benchmark's own session creation
/// would hit it) and `extra` arguments.
pub fn start_edge(
    addr: &str,
    data: &std::path::Path,
    extra: &[&str],
) -> anyhow::Result<EdgeProcess> {
    let bin = std::env::var("ONSITE_BIN").unwrap_or_else(|_| "target/release/onsite".into());
    let assets = std::env::var("ONSITE_ASSETS").unwrap_or_else(|_| "dist".into());
    let mut child = Command::new(&bin)
        .args(["serve", "--addr", addr, "--data-dir"])
        .arg(data)
        .args(["--assets", &assets, "--rate-limit", "1000000"])
        .args(extra)
        .env("ONSITE_API_KEY", API_KEY)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {bin}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let addr = loop {
        let Some(line) = lines.next() else { bail!("the edge exited before listening") };
        if let Some(url) = line?.split("listening on http://").nth(1) {
            break url.trim().parse()?;
        }
    };
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(EdgeProcess { child, addr })
}

/// CPU time (s) and peak resident memory (MiB) of a process, from /proc.
pub fn usage(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15, counted from 1 with the pid; here after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks / 100.0, hwm_kib / 1024.0))
}

pub async fn create_session(edge: SocketAddr) -> anyhow::Result<(String, String)> {
    let (id, candidate, _) = create_session_links(edge).await?;
    Ok((id, candidate))
}

/// Creates a session; returns its id and the candidate's and the interviewer's tokens.
pub async fn create_session_links(edge: SocketAddr) -> anyhow::Result<(String, String, String)> {
    let mut stream = TcpStream::connect(edge).await?;
    let request = format!("POST /api/v1/sessions HTTP/1.1\r\nHost: {edge}\r\nAuthorization: Bearer {API_KEY}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(body)
        .with_context(|| format!("session create answered {response}"))?;
    let token = |field: &str| {
        let url = json[field].as_str().unwrap_or_default();
        url.rsplit_once("token=").map(|(_, t)| t.to_owned()).unwrap_or_default()
    };
    Ok((
        json["id"].as_str().unwrap_or_default().to_owned(),
        token("candidate_url"),
        token("interviewer_url"),
    ))
}
