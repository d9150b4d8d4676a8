//! The WebSocket's binary echo frames: the edge's probes, the page's replies with its clock, and
//! the page's own probes.

use super::{ECHO_LEN, ECHO_TAG};

/// Builds an echo frame.
pub fn echo_frame(seq: u32) -> [u8; ECHO_LEN] {
    let mut frame = [0u8; ECHO_LEN];
    frame[0] = ECHO_TAG;
    frame[1..].copy_from_slice(&seq.to_le_bytes());
    frame
}

/// Reads the sequence number of an echo frame.
pub fn parse_echo(frame: &[u8]) -> Option<u32> {
    match frame {
        [ECHO_TAG, a, b, c, d] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// The first byte of a probe the browser sends to time round trips itself; the edge returns it
/// unchanged.
pub const CLIENT_ECHO_TAG: u8 = 2;
/// The length of an echo reply that carries the page's clock.
pub const ECHO_REPLY_LEN: usize = 13;

/// Builds the browser's reply to an echo probe: the probe's bytes and the page's clock when it
/// arrived (µs, little-endian), from which the edge estimates the clock offset NTP-style.
pub fn echo_reply(seq: u32, page_at_us: i64) -> [u8; ECHO_REPLY_LEN] {
    let mut frame = [0u8; ECHO_REPLY_LEN];
    frame[..ECHO_LEN].copy_from_slice(&echo_frame(seq));
    frame[ECHO_LEN..].copy_from_slice(&page_at_us.to_le_bytes());
    frame
}

/// Reads an echo reply: the sequence number and, when the browser sent it, the page's clock.
pub fn parse_echo_reply(frame: &[u8]) -> Option<(u32, Option<i64>)> {
    match frame.len() {
        ECHO_LEN => parse_echo(frame).map(|seq| (seq, None)),
        ECHO_REPLY_LEN => {
            let seq = parse_echo(&frame[..ECHO_LEN])?;
            let page_at_us = i64::from_le_bytes(frame[ECHO_LEN..].try_into().ok()?);
            Some((seq, Some(page_at_us)))
        }
        _ => None,
    }
}

/// Whether a binary frame is the browser's own echo probe (`CLIENT_ECHO_TAG` and a `u32`).
pub fn is_client_echo(frame: &[u8]) -> bool {
    frame.len() == ECHO_LEN && frame[0] == CLIENT_ECHO_TAG
}
