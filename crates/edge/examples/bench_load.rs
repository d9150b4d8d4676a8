//! Load and crash benchmark: N simulated probes against a real `onsite serve` process over
//! loopback (echo at 5 Hz, a typing batch every 2 s, resend after reconnect), with the edge killed
//! by SIGKILL halfway and restarted. Reports echo times, the edge's CPU and memory, and lost or
//! duplicated batches (both must be 0). Run by `scripts/bench load`; prints one
//! `name: value unit` line per figure.
//!
//! Settings: `BENCH_SESSIONS` (default 2000), `BENCH_SECONDS` (default 40), `BENCH_CRASH`
//! (default 1), `ONSITE_BIN` (default target/release/onsite), `ONSITE_ASSETS` (default dist).

// A benchmark's client times what it sees on its own clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::{SinkExt as _, StreamExt as _};
use onsite_core::wire::{self, BatchV1, ClientMsg, Role, ServerMsg, StrokeV1, PROTOCOL_VERSION};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

const ECHO_EVERY: Duration = Duration::from_millis(200);
const BATCH_EVERY: Duration = Duration::from_secs(2);
const STROKES_PER_BATCH: i64 = 10;

#[path = "common/mod.rs"]
mod common;
use common::{create_session, setting, start_edge, usage};

/// Every simulated probe comes from 127.0.0.1, one network: its connection cap is lifted.
const LIFT_CONNECTION_CAP: &[&str] = &["--max-connections-per-network", "100000"];

/// What one simulated probe saw.
#[derive(Default)]
struct ProbeLog {
    /// Batches made, by number, with their press count.
    made: BTreeMap<u64, usize>,
    acked_up_to: u64,
    reconnects: u32,
}

/// Shared counters across probes.
#[derive(Default)]
struct Totals {
    rtts_us: Mutex<Vec<u32>>,
    measuring: AtomicBool,
    errors: AtomicU64,
}

fn typing(seq: u64) -> Vec<StrokeV1> {
    let start = i64::try_from(seq).unwrap_or(0) * 2_000_000;
    (0..STROKES_PER_BATCH)
        .map(|i| StrokeV1 {
            down_us: start + i * 150_000 + (i % 3) * 17_000,
            up_us: start + i * 150_000 + (i % 3) * 17_000 + 85_000 + (i % 4) * 9_000,
            class: "letter".into(),
            repeats: 0,
            repeat_gaps_us: vec![],
            trusted: true,
        })
        .collect()
}

/// One simulated probe: echo at 5 Hz, a batch every 2 s, and after a lost connection a
/// reconnect that resends every unacknowledged batch. Stops making batches at `stop_at` and
/// returns once everything is acknowledged or `give_up_at` passes.
async fn probe(
    edge: Arc<std::sync::Mutex<SocketAddr>>,
    session: String,
    token: String,
    totals: Arc<Totals>,
    stop_at: Instant,
    give_up_at: Instant,
) -> ProbeLog {
    let mut log = ProbeLog::default();
    let mut unacked: BTreeMap<u64, String> = BTreeMap::new();
    let mut next_seq = 1u64;
    let mut first = true;
    while Instant::now() < give_up_at {
        if !first {
            log.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(250 + u64::from(log.reconnects % 7) * 100))
                .await;
        }
        first = false;
        let addr = *edge.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Ok(Ok((mut socket, _))) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async_with_config(
                format!("ws://{addr}/api/v1/ws"),
                None,
                true,
            ),
        )
        .await
        else {
            continue;
        };
        let hello = ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            role: Role::Candidate,
            session: session.clone(),
            token: token.clone(),
        };
        if socket.send(Message::Text(hello.to_text().into())).await.is_err() {
            continue;
        }
        // Everything unacknowledged goes again, in order.
        let mut failed = false;
        for text in unacked.values() {
            if socket.send(Message::Text(text.clone().into())).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            continue;
        }
        let mut echo = tokio::time::interval(ECHO_EVERY);
        let mut batch = tokio::time::interval(BATCH_EVERY);
        batch.reset();
        let mut sent_at: BTreeMap<u32, Instant> = BTreeMap::new();
        let mut echo_seq = 0u32;
        loop {
            if Instant::now() >= stop_at && unacked.is_empty() {
                let _ = socket.close(None).await;
                return log;
            }
            if Instant::now() >= give_up_at {
                return log;
            }
            tokio::select! {
                _ = echo.tick() => {
                    echo_seq = echo_seq.wrapping_add(1);
                    let mut frame = wire::echo_frame(echo_seq);
                    frame[0] = wire::CLIENT_ECHO_TAG;
                    sent_at.insert(echo_seq, Instant::now());
                    if socket.send(Message::Binary(frame.to_vec().into())).await.is_err() { break; }
                }
                _ = batch.tick(), if Instant::now() < stop_at => {
                    let seq = next_seq;
                    next_seq += 1;
                    let strokes = typing(seq);
                    log.made.insert(seq, strokes.len());
                    let text = ClientMsg::Evidence(BatchV1 { seq, strokes, ..BatchV1::default() }).to_text();
                    unacked.insert(seq, text.clone());
                    if socket.send(Message::Text(text.into())).await.is_err() { break; }
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Binary(bytes))) => {
                        if wire::is_client_echo(&bytes) {
                            let seq = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
                            if let Some(at) = sent_at.remove(&seq) {
                                if totals.measuring.load(Relaxed) {
                                    totals.rtts_us.lock().await.push(u32::try_from(at.elapsed().as_micros()).unwrap_or(u32::MAX));
                                }
                            }
                        } else if let Some(seq) = wire::parse_echo(&bytes) {
                            if socket.send(Message::Binary(wire::echo_reply(seq, 0).to_vec().into())).await.is_err() { break; }
                        }
                    }
                    Some(Ok(Message::Text(text))) => match ServerMsg::parse(&text) {
                        Ok(ServerMsg::Ack { seq }) => {
                            unacked.retain(|&sent, _| sent > seq);
                            log.acked_up_to = log.acked_up_to.max(seq);
                        }
                        Ok(ServerMsg::Error { code, message }) if totals.errors.fetch_add(1, Relaxed) < 3 => {
                            eprintln!("load: error frame {code}: {message}");
                        }
                        _ => {}
                    },
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => break,
                },
            }
        }
    }
    log
}

fn quantile(values: &mut [u32], q: f64) -> f64 {
    values.sort_unstable();
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len().max(1));
    values.get(rank - 1).map_or(f64::NAN, |&v| f64::from(v) / 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sessions: usize = setting("BENCH_SESSIONS", 2000);
    let seconds: u64 = setting("BENCH_SECONDS", 40);
    let crash: u8 = setting("BENCH_CRASH", 1);
    let data = tempfile::tempdir()?;
    let mut edge = start_edge("127.0.0.1:0", data.path(), LIFT_CONNECTION_CAP)?;
    let addr = edge.addr;
    eprintln!("load: edge pid {} on {addr}; creating {sessions} sessions", edge.child.id());
    let mut ids = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        ids.push(create_session(addr).await?);
    }
    let totals = Arc::new(Totals::default());
    let shared_addr = Arc::new(std::sync::Mutex::new(addr));
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(seconds);
    let give_up_at = stop_at + Duration::from_secs(30);
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|(session, token)| {
            tokio::spawn(probe(
                shared_addr.clone(),
                session,
                token,
                totals.clone(),
                stop_at,
                give_up_at,
            ))
        })
        .collect();

    // Warm up, then measure the steady state for a third of the run.
    tokio::time::sleep(Duration::from_secs(seconds / 6)).await;
    let (cpu_before_s, _) = usage(edge.child.id()).context("no /proc for the edge")?;
    let measured_from = Instant::now();
    totals.measuring.store(true, Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    totals.measuring.store(false, Relaxed);
    let (cpu_after_s, peak_mib) = usage(edge.child.id()).context("no /proc for the edge")?;
    let cpu_percent = (cpu_after_s - cpu_before_s) / measured_from.elapsed().as_secs_f64() * 100.0;

    let mut crash_restart_ms = 0.0;
    if crash != 0 {
        eprintln!("load: SIGKILL to the edge under load");
        edge.child.kill()?;
        edge.child.wait()?;
        let down = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        edge = start_edge(&addr.to_string(), data.path(), LIFT_CONNECTION_CAP)?;
        crash_restart_ms = down.elapsed().as_secs_f64() * 1000.0;
        *shared_addr.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = edge.addr;
    }

    let mut made = 0usize;
    let mut acked = 0usize;
    let mut lost = 0usize;
    let mut reconnects = 0u64;
    let mut logs = Vec::with_capacity(tasks.len());
    for task in tasks {
        let log = task.await?;
        made += log.made.len();
        acked += log.made.keys().filter(|&&seq| seq <= log.acked_up_to).count();
        lost += log.made.keys().filter(|&&seq| seq > log.acked_up_to).count();
        reconnects += u64::from(log.reconnects);
        logs.push(log);
    }
    // Stop the edge, then read the store itself: every acknowledged batch exactly once.
    let _ = Command::new("kill").args(["-INT", &edge.child.id().to_string()]).status();
    edge.child.wait()?;
    let store =
        onsite_edge::store::Store::open(&data.path().join(onsite_edge::store::DATABASE_FILE))
            .await?;
    let mut missing = 0usize;
    let mut duplicated = 0usize;
    let mut wrong = 0usize;
    for ((session, _), log) in ids.iter().zip(&logs) {
        let stored = store.batches(session).await?;
        let mut seqs: Vec<u64> = stored.iter().map(|(seq, _)| *seq).collect();
        let before = seqs.len();
        seqs.dedup();
        duplicated += before - seqs.len();
        for (&seq, &strokes) in log.made.range(..=log.acked_up_to) {
            match stored.iter().find(|(stored_seq, _)| *stored_seq == seq) {
                None => missing += 1,
                Some((_, body)) => {
                    let count = serde_json::from_str::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| v["strokes"].as_array().map(Vec::len));
                    if count != Some(strokes) {
                        wrong += 1;
                    }
                }
            }
        }
    }
    let mut rtts = std::mem::take(&mut *totals.rtts_us.lock().await);
    println!(
        "load sessions: {sessions}, run {seconds} s, crash {}",
        if crash != 0 { "yes" } else { "no" }
    );
    println!("load_sessions: {sessions} sessions");
    println!("load_echo_samples: {} samples", rtts.len());
    println!("load_echo_p50_ms: {:.2} ms", quantile(&mut rtts, 0.5));
    println!("load_echo_p99_ms: {:.2} ms", quantile(&mut rtts, 0.99));
    println!("load_edge_cpu: {cpu_percent:.0} %");
    println!("load_edge_peak_rss_mib: {peak_mib:.0} MiB");
    println!("load_batches_made: {made} batches");
    println!("load_batches_acked: {acked} batches");
    println!("load_reconnects: {reconnects} reconnects");
    println!("load_error_frames: {} frames", totals.errors.load(Relaxed));
    println!("load_crash_restart_ms: {crash_restart_ms:.0} ms");
    println!("load_lost_batches: {} batches", lost + missing + wrong);
    println!("load_duplicate_batches: {duplicated} batches");
    if lost + missing + wrong + duplicated > 0 {
        bail!("{lost} batches never acknowledged, {missing} acknowledged but missing, {wrong} stored wrong, {duplicated} stored twice");
    }
    Ok(())
}
