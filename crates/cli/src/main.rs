//! The `onsite` command: run the edge, create sessions, verify signed verdicts, re-score evidence.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use onsite_core::jws::{Expect, Jwks, VerifyError};
use onsite_core::wire::{self, EvidenceV1, VerdictV1};
use onsite_core::{score, Features, Policy, PolicyError};

#[derive(Parser)]
#[command(
    name = "onsite",
    version,
    about = "Detects remote-controlled work laptops from browser timing evidence"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the edge: web pages, session API, WebSocket, signing and storage.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ONSITE_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Directory for the database, the signing key and the generated API key.
        #[arg(long, env = "ONSITE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// Directory with the built web assets (`cargo xtask web` writes `dist/`).
        #[arg(long, env = "ONSITE_ASSETS", default_value = "dist")]
        assets: PathBuf,
        /// Address people reach this edge at, used in links; defaults to http://<addr>.
        #[arg(long, env = "ONSITE_PUBLIC_URL")]
        public_url: Option<String>,
        /// API key for creating sessions; generated into the data directory when not given.
        #[arg(long, env = "ONSITE_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Where this edge stands: a listed city (such as "Chicago") or "lat,lon"; enables the
        /// check of candidates' claimed locations against round trips.
        #[arg(long, env = "ONSITE_LOCATION")]
        location: Option<String>,
        /// This edge's name in reasons and measurements.
        #[arg(long, env = "ONSITE_EDGE_ID", default_value = "local")]
        edge_id: String,
        /// A JSON file listing other edges that time candidates' browsers:
        /// `[{"id", "url" (their /api/v1/echo WebSocket), "location", "keys" (their JWK set)}]`.
        #[arg(long, env = "ONSITE_EDGES")]
        edges: Option<PathBuf>,
        /// A PostgreSQL URL (postgres://user:password@host/db) so several edges share sessions;
        /// the embedded SQLite file in the data directory when not given.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Delete raw evidence (key timings, pointer samples, round trips) after this many days;
        /// sessions and signed verdicts are kept. Kept forever when not given.
        #[arg(long, env = "ONSITE_RETENTION_DAYS")]
        retention_days: Option<u32>,
        /// An origin (scheme://host[:port]) besides the edge's own whose pages may call the API
        /// and open sockets, such as a portal that embeds the probe; repeat for more.
        #[arg(long = "allow-origin", env = "ONSITE_ALLOW_ORIGINS", value_delimiter = ',')]
        allowed_origins: Vec<String>,
        /// API calls and socket opens allowed per client network (IPv4 /24, IPv6 /64) per
        /// second (bursts of five seconds' worth are allowed).
        #[arg(long, env = "ONSITE_RATE_LIMIT", default_value_t = 20.0)]
        rate_limit: f64,
        /// The audience (`aud`) of the verdicts this edge signs, and the one /api/v1/verify
        /// expects by default: a name for this deployment, such as https://hr.example/onboarding,
        /// so verdicts of another deployment do not verify here.
        #[arg(long, env = "ONSITE_AUDIENCE", default_value = onsite_core::jws::DEFAULT_AUDIENCE)]
        audience: String,
        /// How long a session takes evidence after it is created, in hours; its verdicts stay.
        #[arg(long, env = "ONSITE_SESSION_LIFETIME_HOURS", default_value_t = 24)]
        session_lifetime_hours: u64,
        /// The most connections open at once from one network (IPv4 /24, IPv6 /64).
        #[arg(long, env = "ONSITE_MAX_CONNECTIONS_PER_NETWORK", default_value_t = onsite_edge::DEFAULT_MAX_CONNECTIONS_PER_NETWORK)]
        max_connections_per_network: usize,
    },
    /// Manages sessions on a running edge.
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Verifies a signed verdict against a JWK set, applies a policy, and prints its claims.
    ///
    /// Exit codes: 0 valid and passes the policy; 1 could not read the token or key set, or a
    /// setting is empty or unknown; 3 refused (malformed, altered, unknown key, algorithm or
    /// token type); 4 expired or not yet valid; 5 wrong audience; 6 older than --max-age;
    /// 7 verdict class not in --require; 8 not the --sub session or not the --iss issuer.
    Verify {
        /// The JWK set: a file path or an http(s) URL such as http://127.0.0.1:8080/.well-known/jwks.json.
        #[arg(long)]
        jwks: String,
        /// The audience the token must name (the edge's --audience).
        #[arg(long, default_value = onsite_core::jws::DEFAULT_AUDIENCE)]
        aud: String,
        /// The issuer the token must name: the edge's public URL, such as https://onsite.example.
        #[arg(long)]
        iss: Option<String>,
        /// The session the token must be about: the id of the session this portal created.
        #[arg(long)]
        sub: Option<String>,
        /// Verdict classes that pass, comma-separated (local, remote_suspected, remote,
        /// inconclusive); an empty list is an error.
        #[arg(long, default_value = "local")]
        require: String,
        /// The oldest verdict accepted, in seconds since it was issued.
        #[arg(long)]
        max_age: Option<u64>,
        /// Clock skew to tolerate, in seconds.
        #[arg(long, default_value_t = 60)]
        leeway_s: u64,
        /// The time to verify at, in seconds since 1970, instead of the clock (for tests).
        #[arg(long, hide = true)]
        now_s: Option<u64>,
        /// The token, or `-` to read it from standard input.
        token: String,
    },
    /// Manages the edge's signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Re-scores saved evidence (version-1 evidence JSON) offline and prints the verdict.
    Score {
        /// The evidence file.
        evidence: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Adds a new signing key; older keys stay published until their tokens expire.
    Rotate {
        #[arg(long, env = "ONSITE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Lists the signing keys.
    List {
        #[arg(long, env = "ONSITE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Creates a session and prints its candidate and interviewer links.
    Create {
        /// The edge's address.
        #[arg(long, env = "ONSITE_URL", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The API key.
        #[arg(long, env = "ONSITE_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Where to read the API key when `--api-key` is not given.
        #[arg(long, default_value = "data/api-key")]
        api_key_file: PathBuf,
        /// Prints the answer as JSON.
        #[arg(long)]
        json: bool,
        /// Where the candidate says they are: a listed city or "lat,lon".
        #[arg(long)]
        claimed_location: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve {
            addr,
            data_dir,
            assets,
            public_url,
            api_key,
            location,
            edge_id,
            edges,
            database_url,
            retention_days,
            allowed_origins,
            rate_limit,
            audience,
            session_lifetime_hours,
            max_connections_per_network,
        } => {
            let mut config = onsite_edge::Config::new(addr, data_dir, assets);
            if let Some(path) = edges {
                match read_peers(&path) {
                    Ok(peers) => config.peers = peers,
                    Err(error) => {
                        eprintln!("onsite: {error:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            config.public_url = public_url;
            config.api_key = api_key;
            config.location = location;
            config.edge_id = edge_id;
            config.database_url = database_url;
            config.retention_days = retention_days;
            config.allowed_origins = allowed_origins;
            config.rate_limit_per_s = rate_limit;
            config.audience = audience;
            config.session_lifetime_s = session_lifetime_hours.saturating_mul(3600);
            config.max_connections_per_network = max_connections_per_network;
            serve(config).map(|()| ExitCode::SUCCESS)
        }
        Command::Session {
            command:
                SessionCommand::Create { server, api_key, api_key_file, json, claimed_location },
        } => create_session(&server, api_key, &api_key_file, json, claimed_location)
            .map(|()| ExitCode::SUCCESS),
        Command::Verify { jwks, aud, iss, sub, require, max_age, leeway_s, now_s, token } => {
            let expected = Expected { aud, iss, sub, require, max_age_s: max_age, leeway_s, now_s };
            verify(&jwks, &expected, &token)
        }
        Command::Keys { command: KeysCommand::Rotate { data_dir } } => {
            rotate_keys(&data_dir).map(|()| ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::List { data_dir } } => {
            list_keys(&data_dir).map(|()| ExitCode::SUCCESS)
        }
        Command::Score { evidence } => score_file(&evidence).map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("onsite: {error:#}");
        ExitCode::FAILURE
    })
}

fn serve(config: onsite_edge::Config) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    if !config.assets_dir.join("index.html").is_file() {
        bail!(
            "no web assets in {} (build them with `cargo xtask web`)",
            config.assets_dir.display()
        );
    }
    let data_dir = config.data_dir.clone();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let edge = onsite_edge::Edge::open(config).await.with_context(|| {
            format!("cannot start the edge with data in {}", data_dir.display())
        })?;
        println!("onsite edge listening on http://{}", edge.local_addr());
        println!("links use {}", edge.public_url());
        match edge.api_key_path() {
            Some(path) => println!("API key: in {}", path.display()),
            None => println!("API key: from ONSITE_API_KEY"),
        }
        edge.run(async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("onsite: stopping");
        })
        .await
        .context("the edge stopped with an error")
    })
}

fn read_peers(path: &Path) -> Result<Vec<onsite_edge::Peer>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the edges file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of edges", path.display()))
}

fn create_session(
    server: &str,
    api_key: Option<String>,
    api_key_file: &Path,
    json: bool,
    claimed_location: Option<String>,
) -> Result<()> {
    let api_key = match api_key {
        Some(key) => key,
        None => std::fs::read_to_string(api_key_file)
            .with_context(|| {
                format!("no --api-key given and cannot read {}", api_key_file.display())
            })?
            .trim()
            .to_owned(),
    };
    let url = format!("{}/api/v1/sessions", server.trim_end_matches('/'));
    let body = serde_json::json!({ "claimed_location": claimed_location }).to_string();
    let request = ureq::post(&url)
        .set("Authorization", &format!("Bearer {api_key}"))
        .set("Content-Type", "application/json");
    let answer = match request.send_string(&body) {
        Ok(response) => response.into_string().context("cannot read the edge's answer")?,
        Err(ureq::Error::Status(status, response)) => {
            let body = response.into_string().unwrap_or_default();
            bail!("the edge refused ({status}): {}", body.trim());
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot reach the edge at {server}"))
        }
    };
    if json {
        println!("{answer}");
        return Ok(());
    }
    let created: serde_json::Value =
        serde_json::from_str(&answer).context("the edge's answer is not JSON")?;
    let field = |name: &str| created.get(name).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    println!("session:     {}", field("id"));
    println!("candidate:   {}", field("candidate_url"));
    println!("interviewer: {}", field("interviewer_url"));
    Ok(())
}

fn read_source(source: &str, what: &str) -> Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .with_context(|| format!("cannot read the {what} from standard input"))?;
        return Ok(text);
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        return ureq::get(source)
            .call()
            .with_context(|| format!("cannot fetch the {what} from {source}"))?
            .into_string()
            .with_context(|| format!("cannot read the {what} from {source}"));
    }
    std::fs::read_to_string(source).with_context(|| format!("cannot read the {what} from {source}"))
}

// The CLI reads the wall clock to judge a token's age.
#[allow(clippy::disallowed_methods)]
fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// What `onsite verify` checks besides the signature.
struct Expected {
    aud: String,
    iss: Option<String>,
    sub: Option<String>,
    require: String,
    max_age_s: Option<u64>,
    leeway_s: u64,
    now_s: Option<u64>,
}

/// A setting that must not be blank when given: a blank `--sub ''` would otherwise look like a
/// check while checking nothing a portal meant.
fn not_blank(flag: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        bail!("{flag} is empty: give the value the token must carry, or leave the flag out");
    }
    Ok(value.to_owned())
}

fn verify(jwks_source: &str, expected: &Expected, token: &str) -> Result<ExitCode> {
    let allowed = Policy::parse_classes(&expected.require)
        .map_err(anyhow::Error::msg)
        .context("--require")?;
    let policy = Policy { allowed, max_age_s: expected.max_age_s };
    let aud = not_blank("--aud", &expected.aud)?;
    let iss = expected.iss.as_deref().map(|iss| not_blank("--iss", iss)).transpose()?;
    let sub = expected.sub.as_deref().map(|sub| not_blank("--sub", sub)).transpose()?;
    let token = if token == "-" { read_source("-", "token")? } else { token.to_owned() };
    let jwks = Jwks::parse(&read_source(jwks_source, "key set")?)
        .with_context(|| format!("{jwks_source} is not a JWK set"))?;
    let now_s = expected.now_s.unwrap_or_else(now_s);
    let expect = Expect {
        now_s,
        audience: &aud,
        issuer: iss.as_deref(),
        subject: sub.as_deref(),
        leeway_s: expected.leeway_s,
    };
    match wire::verify_verdict(token.trim(), &jwks, expect) {
        Ok(claims) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&claims).context("cannot print the claims")?
            );
            eprintln!(
                "onsite: valid signature by {}; verdict {} for session {}",
                jwks_kid(&token),
                claims.verdict.class,
                claims.sub
            );
            if sub.is_none() {
                eprintln!("onsite: note: no --sub given, so this may be a verdict about any session signed by these keys");
            }
            match policy.check(&claims, now_s) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(error) => {
                    eprintln!("onsite: hold: {error}");
                    Ok(ExitCode::from(match error {
                        PolicyError::TooOld { .. } => 6,
                        PolicyError::ClassNotAllowed { .. } | PolicyError::NothingAllowed => 7,
                    }))
                }
            }
        }
        Err(error) => {
            eprintln!("onsite: refused: {error}");
            Ok(ExitCode::from(match error {
                VerifyError::Expired { .. } | VerifyError::NotYetValid { .. } => 4,
                VerifyError::WrongAudience { .. } => 5,
                VerifyError::WrongIssuer { .. } | VerifyError::WrongSubject { .. } => 8,
                VerifyError::Malformed(_)
                | VerifyError::UnsupportedAlg(_)
                | VerifyError::UnknownKey(_)
                | VerifyError::BadSignature
                | VerifyError::WrongType { .. }
                | VerifyError::UnknownCritical(_) => 3,
            }))
        }
    }
}

fn rotate_keys(data_dir: &Path) -> Result<()> {
    let path = data_dir.join(onsite_edge::keyring::KEYRING_FILE);
    let key = onsite_edge::keyring::Keyring::rotate(&path, now_s())
        .with_context(|| format!("cannot rotate the keys in {}", path.display()))?;
    println!("new signing key {}", key.kid);
    eprintln!("a running edge signs with it from its next verdict; older keys stay in the JWK set until their tokens expire");
    Ok(())
}

fn list_keys(data_dir: &Path) -> Result<()> {
    let path = data_dir.join(onsite_edge::keyring::KEYRING_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let keyring: onsite_edge::keyring::Keyring = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a keyring", path.display()))?;
    for key in keyring.info() {
        let state =
            key.retired_at_s.map_or_else(|| "signing".to_owned(), |at| format!("retired at {at}"));
        println!("{}  created {}  {state}", key.kid, key.created_at_s);
    }
    Ok(())
}

fn jwks_kid(token: &str) -> String {
    token
        .split('.')
        .next()
        .and_then(onsite_core::b64::decode)
        .and_then(|header| serde_json::from_slice::<serde_json::Value>(&header).ok())
        .and_then(|header| header.get("kid").and_then(|kid| kid.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn score_file(path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let wire: EvidenceV1 = serde_json::from_str(&text)
        .with_context(|| format!("{} is not version-1 evidence", path.display()))?;
    let evidence =
        wire.to_evidence().with_context(|| format!("{} holds invalid evidence", path.display()))?;
    let verdict = VerdictV1::from_verdict(&score(&Features::from_evidence(&evidence)));
    println!("{}", serde_json::to_string_pretty(&verdict).context("cannot print the verdict")?);
    eprintln!("verdict: {} (p_remote {:.3})", verdict.class, verdict.p_remote);
    for reason in &verdict.reasons {
        eprintln!("  {:+.2}  {}", reason.weight, reason.text);
    }
    Ok(())
}
