//! Sans-IO core of onsite: evidence types, features, scoring, verdicts, and JWS signing and verifying.
//!
//! Nothing here touches a socket, a file, a clock or a random number generator: time arrives as
//! a parameter (`now_s`), keys arrive as bytes. The same inputs give the same bytes on wasm32 and
//! native, which is what lets the edge re-score evidence the browser collected and lets a browser
//! verify a token the edge signed.

pub mod attested;
pub mod b64;
pub mod backoff;
pub mod codes;
pub mod estimators;
pub mod evidence;
pub mod features;
pub mod geo;
pub mod jws;
pub mod policy;
pub mod stats;
pub mod timer;
pub mod verdict;
pub mod wire;

pub use backoff::Backoff;
pub use evidence::{Environment, Evidence, KeyClass, KeyStroke, Renderer};
pub use features::{Features, KeyFeatures, NetFeatures};
pub use jws::{Jwk, Jwks, Signer, VerifyError};
pub use policy::{Policy, PolicyError};
pub use verdict::{score, Reason, Verdict, VerdictClass};
pub use wire::Claims;

// Unit tests also run in headless Chromium: `cargo test -p onsite-core --target wasm32-unknown-unknown`.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
