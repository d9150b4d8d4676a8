//! The onsite edge: the native server that creates sessions, times echo round trips on its own
//! clock, stores evidence, re-scores it with `onsite-core`, signs verdicts and pushes them live.
//!
//! [`Edge::open`] prepares everything (data directory, keys, database, socket) and [`Edge::run`]
//! serves until the shutdown future completes. It is the only crate with sockets, storage and a
//! wall clock; the clock lives in [`clock`].

mod accept;
pub mod clock;
mod http;
pub mod keyring;
mod limits;
mod live;
mod metrics;
mod scoring;
pub mod secrets;
pub mod store;
mod ws;

use std::net::SocketAddr;

use std::path::PathBuf;
use std::sync::Arc;

/// How an edge is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen, for example `127.0.0.1:8080`; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Holds the database, the signing key and the generated API key.
    pub data_dir: PathBuf,
    /// The built web assets (`index.html`, the app's JS and wasm).
    pub assets_dir: PathBuf,
    /// The address people reach this edge at; defaults to `http://<addr>`.
    pub public_url: Option<String>,
    /// The API key; when `None` one is generated into the data directory on first start.
    pub api_key: Option<String>,
    /// How long a signed verdict stays valid (seconds).
    pub token_ttl_s: u64,
    /// The audience (`aud`) of every verdict this edge signs, and the one `/api/v1/verify`
    /// expects unless asked otherwise: a name for this deployment, such as
    /// `https://hr.example.com/onboarding`. `onsite` by default.
    pub audience: String,
    /// This edge's name and place (a listed city or `"lat,lon"`), for checking claimed locations.
    pub edge_id: String,
    pub location: Option<String>,
    /// Other edges that time the candidate's browser and sign what they measured.
    pub peers: Vec<Peer>,
    /// A `postgres://` (or `sqlite://`) URL; the SQLite file in the data directory when `None`.
    pub database_url: Option<String>,
    /// Raw evidence (batches and round trips) older than this is deleted; verdicts are kept.
    pub retention_days: Option<u32>,
    /// Origins, besides the edge's own, whose pages may call the API and open sockets
    /// (for example a portal that embeds the probe), such as `https://hr.example.com`.
    pub allowed_origins: Vec<String>,
    /// API calls and socket opens allowed per client network (IPv4 /24, IPv6 /64), per second
    /// (bursts of five seconds' worth).
    pub rate_limit_per_s: f64,
    /// How long a session takes evidence after it is created (seconds).
    pub session_lifetime_s: u64,
    /// The most connections open at once from one network (IPv4 /24, IPv6 /64).
    pub max_connections_per_network: usize,
    /// A connection must send a request's headers within this long, and an idle keep-alive
    /// connection is closed after it.
    pub header_read_timeout: std::time::Duration,
    /// The most bytes of evidence batches one session stores.
    pub max_session_bytes: usize,
    /// The most browsers this edge measures for other edges at once.
    pub max_measuring: usize,
}

/// Another edge, as this one knows it: where it listens, where it stands, and its public keys.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub id: String,
    /// Its measuring WebSocket, such as `wss://chi.onsite.example/api/v1/echo`.
    pub url: String,
    /// A listed city or `"lat,lon"`.
    pub location: String,
    /// Its JWK set (`/.well-known/jwks.json`), which signs its measurements.
    pub keys: onsite_core::jws::Jwks,
}

impl Config {
    /// A configuration with the defaults for everything but the addresses and directories.
    pub fn new(addr: SocketAddr, data_dir: PathBuf, assets_dir: PathBuf) -> Config {
        Config {
            addr,
            data_dir,
            assets_dir,
            public_url: None,
            api_key: None,
            token_ttl_s: 24 * 3600,
            audience: onsite_core::jws::DEFAULT_AUDIENCE.into(),
            edge_id: "local".into(),
            location: None,
            peers: Vec::new(),
            database_url: None,
            retention_days: None,
            allowed_origins: Vec::new(),
            rate_limit_per_s: limits::DEFAULT_PER_ADDRESS.per_s,
            session_lifetime_s: 24 * 3600,
            max_connections_per_network: DEFAULT_MAX_CONNECTIONS_PER_NETWORK,
            header_read_timeout: std::time::Duration::from_secs(10),
            max_session_bytes: 8 * 1024 * 1024,
            max_measuring: 1024,
        }
    }
}

/// Why the edge could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("secret file {path} is unreadable or corrupt: {why}")]
    Secret { path: PathBuf, why: String },
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("unknown edge location {0:?}: give a listed city or \"lat,lon\"")]
    Location(String),
    #[error("audience {0:?} cannot name verdicts: give a non-blank name other than \"onsite-measurement\", which measurements use")]
    Audience(String),
    #[error(
        "public URL {0:?} must be an http:// or https:// origin, such as https://onsite.example"
    )]
    PublicUrl(String),
}

/// How often the retention pass runs.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes raw evidence older than `days`, now and then every hour, for as long as the edge runs.
async fn retain(state: Arc<State>, days: u32) {
    let mut every = tokio::time::interval(RETENTION_EVERY);
    loop {
        every.tick().await;
        let before_ms = clock::now_ms() - i64::from(days) * 24 * 3600 * 1000;
        match state.store.purge_raw_evidence(before_ms).await {
            Ok(purged) => tracing::info!(
                days,
                batches = purged.batches,
                rtts = purged.rtts,
                "retention: raw evidence deleted"
            ),
            Err(error) => tracing::error!(%error, "retention pass failed"),
        }
    }
}

/// The most connections one network may hold open: an office behind one address with many
/// candidates and interviewers fits, a flood that would use up the edge's file descriptors does
/// not.
pub const DEFAULT_MAX_CONNECTIONS_PER_NETWORK: usize = 256;

/// Shared state of a running edge.
pub(crate) struct State {
    pub(crate) store: store::Store,
    pub(crate) writer: store::Writer,
    pub(crate) keyring: keyring::KeyStore,
    pub(crate) api_key_sha256: [u8; 32],
    pub(crate) public_url: String,
    /// The audience of the verdicts this edge signs.
    pub(crate) audience: String,
    pub(crate) assets_dir: PathBuf,
    pub(crate) token_ttl_s: u64,
    pub(crate) live: live::Registry,
    pub(crate) edge_site: Option<onsite_core::evidence::EdgeSite>,
    pub(crate) edge_id: String,
    pub(crate) peers: Vec<(Peer, onsite_core::geo::LatLon)>,
    /// Measuring sockets open now, capped so measuring cannot starve sessions.
    pub(crate) measuring: tokio::sync::Semaphore,
    /// Origins allowed besides the edge's own (`scheme://host[:port]`).
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) retention_days: Option<u32>,
    pub(crate) limits: limits::Limits,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) scoring: scoring::Scoring,
    pub(crate) session_lifetime_ms: i64,
    pub(crate) connections: Arc<limits::Connections>,
    pub(crate) max_connections_per_network: usize,
    pub(crate) header_read_timeout: std::time::Duration,
    pub(crate) max_session_bytes: usize,
}

/// An edge that is ready to serve.
pub struct Edge {
    state: Arc<State>,
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    api_key: String,
    api_key_path: Option<PathBuf>,
}

impl Edge {
    /// Prepares the data directory, keys and database, and binds the socket.
    pub async fn open(config: Config) -> Result<Edge, EdgeError> {
        let audience = config.audience.trim().to_owned();
        if audience.is_empty() || audience == onsite_core::wire::MEASUREMENT_AUDIENCE {
            return Err(EdgeError::Audience(config.audience.clone()));
        }
        let mut data_dir = std::fs::DirBuilder::new();
        data_dir.recursive(true);
        #[cfg(unix)]
        {
            // A new data directory is the owner's alone; an existing one keeps its mode.
            use std::os::unix::fs::DirBuilderExt as _;
            data_dir.mode(0o700);
        }
        data_dir
            .create(&config.data_dir)
            .map_err(|source| EdgeError::DataDir { path: config.data_dir.clone(), source })?;
        let (api_key, api_key_path) = match config.api_key.clone() {
            Some(key) => (key, None),
            None => {
                let path = config.data_dir.join(secrets::API_KEY_FILE);
                (secrets::load_or_create_api_key(&path)?, Some(path))
            }
        };
        let edge_site = match &config.location {
            Some(text) => {
                let (location, _) = onsite_core::geo::LatLon::parse(text)
                    .ok_or_else(|| EdgeError::Location(text.clone()))?;
                Some(onsite_core::evidence::EdgeSite { id: config.edge_id.clone(), location })
            }
            None => None,
        };
        let peers = config
            .peers
            .iter()
            .map(|peer| {
                let (location, _) = onsite_core::geo::LatLon::parse(&peer.location)
                    .ok_or_else(|| EdgeError::Location(peer.location.clone()))?;
                Ok((peer.clone(), location))
            })
            .collect::<Result<Vec<_>, EdgeError>>()?;
        let keyring = keyring::KeyStore::open(
            config.data_dir.join(keyring::KEYRING_FILE),
            config.token_ttl_s,
        )?;
        let store = match &config.database_url {
            Some(url) => store::Store::connect(url).await?,
            None => store::Store::open(&config.data_dir.join(store::DATABASE_FILE)).await?,
        };
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| EdgeError::Bind { addr: config.addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| EdgeError::Bind { addr: config.addr, source })?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://"))
            || public_url.split('/').nth(2).is_none_or(str::is_empty)
        {
            return Err(EdgeError::PublicUrl(public_url));
        }
        let state = Arc::new(State {
            writer: store::Writer::start(store.clone()),
            store,
            keyring,
            api_key_sha256: secrets::sha256(api_key.as_bytes()),
            public_url,
            audience,
            assets_dir: config.assets_dir.clone(),
            token_ttl_s: config.token_ttl_s,
            live: live::Registry::default(),
            edge_site,
            edge_id: config.edge_id.clone(),
            peers,
            measuring: tokio::sync::Semaphore::new(config.max_measuring),
            allowed_origins: config
                .allowed_origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect(),
            retention_days: config.retention_days,
            limits: limits::Limits::new(limits::Rate {
                per_s: config.rate_limit_per_s,
                burst: config.rate_limit_per_s * 5.0,
            }),
            metrics: metrics::Metrics::default(),
            scoring: scoring::Scoring::for_this_machine(),
            session_lifetime_ms: i64::try_from(config.session_lifetime_s)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
            connections: Arc::new(limits::Connections::default()),
            max_connections_per_network: config.max_connections_per_network,
            header_read_timeout: config.header_read_timeout,
            max_session_bytes: config.max_session_bytes,
        });
        Ok(Edge { state, listener, local_addr, api_key, api_key_path })
    }

    /// The address the edge listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public URL links are built from.
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// The API key that may create sessions.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Where the generated API key is kept, if it was generated.
    pub fn api_key_path(&self) -> Option<&std::path::Path> {
        self.api_key_path.as_deref()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets open requests finish.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), EdgeError> {
        let app = http::router(self.state.clone());
        if let Some(days) = self.state.retention_days {
            tokio::spawn(retain(self.state.clone(), days));
        }
        accept::serve(self.listener, app, self.state.clone(), shutdown).await;
        // Everything acknowledged is already committed; this writes the last verdicts and
        // round trips.
        self.state.writer.flush().await;
        self.state.store.close().await;
        Ok(())
    }
}
