//! Fuzzes the wire protocol: client and server frames and binary echo frames. A frame either
//! parses or is refused, and a parsed client frame survives a round trip through its own text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onsite_core::wire::{self, ClientMsg, ServerMsg};

fuzz_target!(|data: &[u8]| {
    let _ = wire::parse_echo(data);
    let _ = wire::parse_echo_reply(data);
    let _ = wire::is_client_echo(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = ClientMsg::parse(text) {
        let again = ClientMsg::parse(&message.to_text())
            .expect("a parsed frame parses again from its own text");
        assert_eq!(again, message);
    }
    let _ = ServerMsg::parse(text);
});
