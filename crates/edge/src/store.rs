//! Storage: sessions, evidence batches, round trips and signed verdicts, through `sqlx`'s `Any`
//! driver: an embedded SQLite file (WAL mode) by default, or PostgreSQL when a `postgres://` URL
//! is given, so that several edges can share sessions. The queries are the same text on both
//! (`$N` placeholders, which SQLite also reads); only the schema migrations differ.

use std::path::Path;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};

/// The database file in the data directory, when no database URL is given.
pub const DATABASE_FILE: &str = "onsite.sqlite3";

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite's schema migrations, applied in order and recorded in `schema_migrations`.
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        candidate_token_sha256 BLOB NOT NULL,
        interviewer_token_sha256 BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE evidence_batches (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        seq INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE rtt_samples (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        measured_at_ms INTEGER NOT NULL,
        rtt_us INTEGER NOT NULL
    );
    CREATE INDEX rtt_samples_session ON rtt_samples(session_id);
    CREATE TABLE verdicts (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        issued_at_s INTEGER NOT NULL,
        class TEXT NOT NULL,
        token TEXT NOT NULL,
        verdict TEXT NOT NULL
    );
    CREATE INDEX verdicts_session ON verdicts(session_id, issued_at_s);",
    ),
    (2, "ALTER TABLE sessions ADD COLUMN environment TEXT;"),
    (3, "ALTER TABLE sessions ADD COLUMN claimed_location TEXT;"),
    (
        4,
        "CREATE TABLE edge_measurements (
            session_id TEXT NOT NULL REFERENCES sessions(id),
            edge_id TEXT NOT NULL,
            min_rtt_us INTEGER NOT NULL,
            token TEXT NOT NULL,
            received_at_ms INTEGER NOT NULL,
            PRIMARY KEY (session_id, edge_id)
        );",
    ),
    (
        5,
        "ALTER TABLE rtt_samples ADD COLUMN page_at_us INTEGER;
         ALTER TABLE sessions ADD COLUMN echo_lost INTEGER NOT NULL DEFAULT 0;",
    ),
    (6, "ALTER TABLE sessions ADD COLUMN finished_at_ms INTEGER;"),
    (7, "ALTER TABLE sessions ADD COLUMN edge_rhythm TEXT;"),
];

/// The same schema on PostgreSQL: 64-bit integers, `BYTEA`, and explicit row ids where SQLite
/// has its implicit `rowid`.
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        candidate_token_sha256 BYTEA NOT NULL,
        interviewer_token_sha256 BYTEA NOT NULL,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE evidence_batches (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        seq BIGINT NOT NULL,
        received_at_ms BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE rtt_samples (
        id BIGSERIAL PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        measured_at_ms BIGINT NOT NULL,
        rtt_us BIGINT NOT NULL
    );
    CREATE INDEX rtt_samples_session ON rtt_samples(session_id);
    CREATE TABLE verdicts (
        id BIGSERIAL PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        issued_at_s BIGINT NOT NULL,
        class TEXT NOT NULL,
        token TEXT NOT NULL,
        verdict TEXT NOT NULL
    );
    CREATE INDEX verdicts_session ON verdicts(session_id, issued_at_s);",
    ),
    (2, "ALTER TABLE sessions ADD COLUMN environment TEXT;"),
    (3, "ALTER TABLE sessions ADD COLUMN claimed_location TEXT;"),
    (
        4,
        "CREATE TABLE edge_measurements (
            session_id TEXT NOT NULL REFERENCES sessions(id),
            edge_id TEXT NOT NULL,
            min_rtt_us BIGINT NOT NULL,
            token TEXT NOT NULL,
            received_at_ms BIGINT NOT NULL,
            PRIMARY KEY (session_id, edge_id)
        );",
    ),
    (
        5,
        "ALTER TABLE rtt_samples ADD COLUMN page_at_us BIGINT;
         ALTER TABLE sessions ADD COLUMN echo_lost BIGINT NOT NULL DEFAULT 0;",
    ),
    (6, "ALTER TABLE sessions ADD COLUMN finished_at_ms BIGINT;"),
    (7, "ALTER TABLE sessions ADD COLUMN edge_rhythm TEXT;"),
];

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("unsupported database URL {0:?}: use sqlite:// or postgres://")]
    Unsupported(String),
    #[error("migration {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
    #[error("query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the writer task has stopped")]
    WriterStopped,
    #[error("cannot make {path} private (mode 0600): {source}")]
    Permissions { path: String, source: std::io::Error },
}

/// Makes `path` readable and writable by its owner only, creating it (empty) when `create` is
/// set and it does not exist; a missing file that need not be created is left alone.
fn make_private(path: &Path, create: bool) -> Result<(), StoreError> {
    let failed = |source: std::io::Error| StoreError::Permissions {
        path: path.display().to_string(),
        source,
    };
    if create {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        options.open(path).map_err(failed)?;
    } else if !path.exists() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    }
    Ok(())
}

/// A session's stored capability digests.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub candidate_token_sha256: [u8; 32],
    pub interviewer_token_sha256: [u8; 32],
    pub created_at_ms: i64,
    /// Where the candidate says they are, as given (a listed city or `"lat,lon"`).
    pub claimed_location: Option<String>,
    /// When the candidate finished: the session is sealed from then on.
    pub finished_at_ms: Option<i64>,
}

/// A round trip the edge measured, waiting to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttRow {
    pub session_id: String,
    pub rtt_us: u64,
    pub page_at_us: Option<i64>,
    pub measured_at_ms: i64,
}

/// A batch's commit, reported back to its socket.
#[derive(Debug)]
pub struct Committed {
    pub seq: u64,
    /// Whether the batch was new, or why it could not be stored.
    pub result: Result<bool, String>,
}

/// One write for the writer task.
enum Write {
    /// An evidence batch; its socket hears when it is committed, and only then acknowledges it.
    Batch {
        session_id: String,
        seq: u64,
        body: String,
        reply: tokio::sync::mpsc::UnboundedSender<Committed>,
    },
    Verdict {
        session_id: String,
        class: String,
        row: VerdictRow,
        done: Option<tokio::sync::oneshot::Sender<()>>,
    },
    Rtt(RttRow),
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// All writes on the hot paths go through one task that commits them in groups: thousands of
/// sockets each storing a batch, a verdict and a few round trips a second would otherwise queue
/// one transaction each, and the sockets (and their echoes) would wait on the database.
#[derive(Clone)]
pub struct Writer {
    queue: tokio::sync::mpsc::Sender<Write>,
}

/// Writes waiting beyond this make batches and verdicts wait (backpressure) and drop round
/// trips (which the socket keeps in memory).
const WRITE_QUEUE: usize = 100_000;
/// The most writes in one transaction.
const WRITE_GROUP: usize = 2_000;

impl Writer {
    /// Starts the writing task.
    pub fn start(store: Store) -> Writer {
        let (queue, mut writes) = tokio::sync::mpsc::channel::<Write>(WRITE_QUEUE);
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(WRITE_GROUP);
            while writes.recv_many(&mut group, WRITE_GROUP).await > 0 {
                store.write_group(std::mem::take(&mut group)).await;
            }
        });
        Writer { queue }
    }

    /// Queues a batch; its commit is reported on `reply`.
    pub async fn batch(
        &self,
        session_id: &str,
        seq: u64,
        body: String,
        reply: tokio::sync::mpsc::UnboundedSender<Committed>,
    ) -> Result<(), StoreError> {
        let write = Write::Batch { session_id: session_id.to_owned(), seq, body, reply };
        self.queue.send(write).await.map_err(|_| StoreError::WriterStopped)
    }

    /// Queues a verdict; waits for its commit when `wait` is set.
    pub async fn verdict(
        &self,
        session_id: &str,
        class: &str,
        row: VerdictRow,
        wait: bool,
    ) -> Result<(), StoreError> {
        let (done, committed) = tokio::sync::oneshot::channel();
        let write = Write::Verdict {
            session_id: session_id.to_owned(),
            class: class.to_owned(),
            row,
            done: wait.then_some(done),
        };
        self.queue.send(write).await.map_err(|_| StoreError::WriterStopped)?;
        if wait {
            committed.await.map_err(|_| StoreError::WriterStopped)?;
        }
        Ok(())
    }

    /// Queues one round trip; never waits.
    pub fn rtt(&self, row: RttRow) {
        if self.queue.try_send(Write::Rtt(row)).is_err() {
            tracing::warn!("write queue full: a round trip is kept in memory only");
        }
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        if self.queue.send(Write::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

impl Store {
    /// Writes a group in one transaction; if that fails, each write alone, so one bad write
    /// cannot take others down with it. Replies go out only after the commit.
    async fn write_group(&self, group: Vec<Write>) {
        match self.write_all(&group).await {
            Ok(new) => {
                for (write, new) in group.into_iter().zip(new) {
                    Store::reply(write, Ok(new));
                }
            }
            Err(error) if group.len() > 1 => {
                tracing::warn!(%error, writes = group.len(), "group commit failed; writing one at a time");
                for write in group {
                    let result = self
                        .write_all(std::slice::from_ref(&write))
                        .await
                        .map(|new| new.first().copied().unwrap_or(false));
                    Store::reply(write, result.map_err(|error| error.to_string()));
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot write");
                for write in group {
                    Store::reply(write, Err(error.to_string()));
                }
            }
        }
    }

    fn reply(write: Write, result: Result<bool, String>) {
        match write {
            Write::Batch { seq, reply, .. } => {
                let _ = reply.send(Committed { seq, result });
            }
            Write::Verdict { done: Some(done), .. } | Write::Flush(done) => {
                let _ = done.send(());
            }
            Write::Verdict { done: None, .. } | Write::Rtt(_) => {}
        }
    }

    /// Executes writes in one transaction; for each, whether it stored a new row.
    async fn write_all(&self, group: &[Write]) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut new = Vec::with_capacity(group.len());
        let now_ms = crate::clock::now_ms();
        for write in group {
            let affected = match write {
                Write::Batch { session_id, seq, body, .. } => sqlx::query(
                    "INSERT INTO evidence_batches (session_id, seq, received_at_ms, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(session_id)
                .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
                .bind(now_ms)
                .bind(body)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Write::Verdict { session_id, class, row, .. } => sqlx::query("INSERT INTO verdicts (session_id, issued_at_s, class, token, verdict) VALUES ($1, $2, $3, $4, $5)")
                    .bind(session_id)
                    .bind(row.issued_at_s)
                    .bind(class)
                    .bind(&row.token)
                    .bind(&row.verdict_json)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                Write::Rtt(row) => sqlx::query("INSERT INTO rtt_samples (session_id, measured_at_ms, rtt_us, page_at_us) VALUES ($1, $2, $3, $4)")
                    .bind(&row.session_id)
                    .bind(row.measured_at_ms)
                    .bind(i64::try_from(row.rtt_us).unwrap_or(i64::MAX))
                    .bind(row.page_at_us)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                Write::Flush(_) => 0,
            };
            new.push(affected == 1);
        }
        tx.commit().await?;
        Ok(new)
    }
}

/// What a retention pass deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub batches: u64,
    pub rtts: u64,
}

/// Rows stored, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub sessions: i64,
    pub batches: i64,
    pub verdicts: i64,
}

/// A session as listed on the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub created_at_ms: i64,
    pub claimed_location: Option<String>,
    pub class: Option<String>,
    pub issued_at_s: Option<i64>,
    pub verdict_json: Option<String>,
}

/// A signed verdict as stored.
#[derive(Debug, Clone)]
pub struct VerdictRow {
    pub issued_at_s: i64,
    pub token: String,
    pub verdict_json: String,
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the SQLite file and applies pending migrations. The file and
    /// its `-wal` and `-shm` companions are readable by the owner only (0600): they hold
    /// capability digests, evidence and signed verdicts.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        make_private(path, true)?;
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
        // SQLite gives the companions the database file's mode; files left by an older edge
        // are tightened here.
        for suffix in ["-wal", "-shm"] {
            let mut companion = path.as_os_str().to_owned();
            companion.push(suffix);
            make_private(Path::new(&companion), false)?;
        }
        Ok(store)
    }

    /// Opens the database a URL names (`sqlite://path?mode=rwc` or `postgres://...`) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        // Shown without the password.
        let shown = match url.split_once('@') {
            Some((_, host)) if url.starts_with("postgres") => format!("postgres://…@{host}"),
            _ => url.to_owned(),
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Unsupported(shown));
        };
        let options: AnyConnectOptions =
            url.parse().map_err(|source| StoreError::Open { path: shown.clone(), source })?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers do not block the writer; NORMAL: a commit survives a
                        // crash of the process (not of the machine) without an fsync each.
                        connection
                            .execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { path: shown, source })?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // Several edges may start at once against one database: one migrates, the others wait
        // and then find the work done. PostgreSQL: an advisory lock held by this connection for
        // the whole run; SQLite: each migration takes the write lock at BEGIN IMMEDIATE.
        let mut connection = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock(7106)").execute(&mut *connection).await?;
        }
        let outcome = self.apply_migrations(&mut connection).await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7106)").execute(&mut *connection).await?;
        }
        outcome
    }

    async fn apply_migrations(
        &self,
        connection: &mut sqlx::AnyConnection,
    ) -> Result<(), StoreError> {
        use sqlx::Connection as _;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)")
            .execute(&mut *connection)
            .await?;
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        for &(version, sql) in migrations {
            let mut tx = match self.backend {
                Backend::Sqlite => connection.begin_with("BEGIN IMMEDIATE").await?,
                Backend::Postgres => connection.begin().await?,
            };
            let applied: Option<(i64,)> =
                sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(|source| StoreError::Migrate { version, source })?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)")
                .bind(version)
                .bind(crate::clock::now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The column that orders rows as they were inserted.
    fn insertion_order(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "id",
        }
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Stores a new session.
    pub async fn create_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, candidate_token_sha256, interviewer_token_sha256, created_at_ms, claimed_location) VALUES ($1, $2, $3, $4, $5)",
        )
            .bind(&row.id)
            .bind(row.candidate_token_sha256.as_slice())
            .bind(row.interviewer_token_sha256.as_slice())
            .bind(row.created_at_ms)
            .bind(&row.claimed_location)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Looks a session up.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        type Row = (String, Vec<u8>, Vec<u8>, i64, Option<String>, Option<i64>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, candidate_token_sha256, interviewer_token_sha256, created_at_ms, claimed_location, finished_at_ms FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(
            |(id, candidate, interviewer, created_at_ms, claimed_location, finished_at_ms)| {
                Some(SessionRow {
                    id,
                    candidate_token_sha256: candidate.try_into().ok()?,
                    interviewer_token_sha256: interviewer.try_into().ok()?,
                    created_at_ms,
                    claimed_location,
                    finished_at_ms,
                })
            },
        ))
    }

    /// Seals a session: records when its candidate finished, once (a later call keeps the
    /// first time).
    pub async fn finish_session(&self, id: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET finished_at_ms = $1 WHERE id = $2 AND finished_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores an evidence batch once, now; a resent batch with the same `seq` changes nothing.
    /// Returns whether the batch was new. (The edge's sockets go through [`Writer`].)
    pub async fn insert_batch(
        &self,
        session_id: &str,
        seq: u64,
        body: &str,
    ) -> Result<bool, StoreError> {
        let (reply, _) = tokio::sync::mpsc::unbounded_channel();
        let write =
            Write::Batch { session_id: session_id.to_owned(), seq, body: body.to_owned(), reply };
        Ok(self.write_all(std::slice::from_ref(&write)).await?.first().copied().unwrap_or(false))
    }

    /// Every stored batch of a session, in `seq` order.
    pub async fn batches(&self, session_id: &str) -> Result<Vec<(u64, String)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, body FROM evidence_batches WHERE session_id = $1 ORDER BY seq",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(seq, body)| (u64::try_from(seq).unwrap_or(0), body)).collect())
    }

    /// Stores a round trip the edge measured, now.
    pub async fn insert_rtt(
        &self,
        session_id: &str,
        rtt_us: u64,
        page_at_us: Option<i64>,
    ) -> Result<(), StoreError> {
        let row = RttRow {
            session_id: session_id.to_owned(),
            rtt_us,
            page_at_us,
            measured_at_ms: crate::clock::now_ms(),
        };
        self.write_all(&[Write::Rtt(row)]).await.map(drop)
    }

    /// Counts echo probes that never came back.
    pub async fn add_lost(&self, session_id: &str, lost: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET echo_lost = echo_lost + $1 WHERE id = $2")
            .bind(i64::from(lost))
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Echo probes of a session that never came back.
    pub async fn lost(&self, session_id: &str) -> Result<u32, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT echo_lost FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map_or(0, |(lost,)| u32::try_from(lost).unwrap_or(u32::MAX)))
    }

    /// Records what the candidate's browser said about itself (the newest report wins).
    pub async fn set_environment(
        &self,
        session_id: &str,
        environment_json: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET environment = $1 WHERE id = $2")
            .bind(environment_json)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the rhythm task the edge ran itself (`EdgeRhythmV1` as JSON), once: a session
    /// that already holds one keeps it. Returns whether this one was stored.
    pub async fn set_edge_rhythm(
        &self,
        session_id: &str,
        rhythm_json: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET edge_rhythm = $1 WHERE id = $2 AND edge_rhythm IS NULL",
        )
        .bind(rhythm_json)
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The rhythm task the edge ran itself, if it ran one.
    pub async fn edge_rhythm(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT edge_rhythm FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(rhythm,)| rhythm))
    }

    /// The browser's report about itself, if it sent one.
    pub async fn environment(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT environment FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(environment,)| environment))
    }

    /// Keeps a verified measurement by another edge; a newer one from the same edge replaces it.
    pub async fn upsert_measurement(
        &self,
        session_id: &str,
        edge_id: &str,
        min_rtt_us: u64,
        token: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO edge_measurements (session_id, edge_id, min_rtt_us, token, received_at_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id, edge_id) DO UPDATE SET min_rtt_us = excluded.min_rtt_us, token = excluded.token, received_at_ms = excluded.received_at_ms",
        )
        .bind(session_id)
        .bind(edge_id)
        .bind(i64::try_from(min_rtt_us).unwrap_or(i64::MAX))
        .bind(token)
        .bind(crate::clock::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Other edges' smallest round trips for a session.
    pub async fn measurements(&self, session_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT edge_id, min_rtt_us FROM edge_measurements WHERE session_id = $1 ORDER BY edge_id")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(edge, rtt)| (edge, u64::try_from(rtt).unwrap_or(0))).collect())
    }

    /// Every round trip measured for a session, oldest first, with the page's clock.
    pub async fn rtts(&self, session_id: &str) -> Result<Vec<(u64, Option<i64>)>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT rtt_us, page_at_us FROM rtt_samples WHERE session_id = $1 ORDER BY {}",
            self.insertion_order()
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(rtt_us, page_at_us)| (u64::try_from(rtt_us).unwrap_or(0), page_at_us))
            .collect())
    }

    /// Deletes raw evidence (batches and round trips) received before `before_ms`; sessions,
    /// measurements by other edges and signed verdicts stay. Returns what was deleted.
    pub async fn purge_raw_evidence(&self, before_ms: i64) -> Result<Purged, StoreError> {
        let mut tx = self.pool.begin().await?;
        let batches = sqlx::query("DELETE FROM evidence_batches WHERE received_at_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        let rtts = sqlx::query("DELETE FROM rtt_samples WHERE measured_at_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Purged { batches: batches.rows_affected(), rtts: rtts.rows_affected() })
    }

    /// The newest sessions first, each with its latest verdict's class, issue time and verdict
    /// JSON, if it has one.
    pub async fn list_sessions(&self, limit: i64) -> Result<Vec<SessionSummary>, StoreError> {
        type Row = (String, i64, Option<String>, Option<String>, Option<i64>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT s.id, s.created_at_ms, s.claimed_location, v.class, v.issued_at_s, v.verdict FROM sessions s
             LEFT JOIN verdicts v ON v.session_id = s.id AND v.{order} = (SELECT MAX(w.{order}) FROM verdicts w WHERE w.session_id = s.id)
             ORDER BY s.created_at_ms DESC, s.id LIMIT $1",
            order = self.insertion_order()
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, created_at_ms, claimed_location, class, issued_at_s, verdict_json)| {
                SessionSummary {
                    id,
                    created_at_ms,
                    claimed_location,
                    class,
                    issued_at_s,
                    verdict_json,
                }
            })
            .collect())
    }

    /// A session's verdicts, oldest first (at most `limit`, the newest ones).
    pub async fn verdict_history(
        &self,
        session_id: &str,
        limit: i64,
    ) -> Result<Vec<VerdictRow>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(&format!(
            "SELECT issued_at_s, token, verdict FROM (SELECT issued_at_s, token, verdict, {order} AS n FROM verdicts WHERE session_id = $1 ORDER BY {order} DESC LIMIT $2) newest ORDER BY n",
            order = self.insertion_order()
        ))
        .bind(session_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(issued_at_s, token, verdict_json)| VerdictRow {
                issued_at_s,
                token,
                verdict_json,
            })
            .collect())
    }

    /// Counts of stored rows, for metrics.
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        let (sessions, batches, verdicts): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM evidence_batches), (SELECT COUNT(*) FROM verdicts)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Counts { sessions, batches, verdicts })
    }

    /// Stores a signed verdict, now.
    pub async fn insert_verdict(
        &self,
        session_id: &str,
        class: &str,
        row: &VerdictRow,
    ) -> Result<(), StoreError> {
        let write = Write::Verdict {
            session_id: session_id.to_owned(),
            class: class.to_owned(),
            row: row.clone(),
            done: None,
        };
        self.write_all(&[write]).await.map(drop)
    }

    /// The newest verdict of a session.
    pub async fn latest_verdict(&self, session_id: &str) -> Result<Option<VerdictRow>, StoreError> {
        let row: Option<(i64, String, String)> = sqlx::query_as(&format!(
            "SELECT issued_at_s, token, verdict FROM verdicts WHERE session_id = $1 ORDER BY issued_at_s DESC, {} DESC LIMIT 1",
            self.insertion_order()
        ))
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(issued_at_s, token, verdict_json)| VerdictRow {
            issued_at_s,
            token,
            verdict_json,
        }))
    }
}
