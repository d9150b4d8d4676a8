//! Storage: sessions, evidence batches, round trips and signed verdicts in an embedded SQLite
//! database (WAL mode), through `sqlx`.

use std::path::Path;
use std::str::FromStr as _;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "onsite.sqlite3";

/// Schema migrations, applied in order and recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
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
];

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("migration {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
    #[error("query failed: {0}")]
    Query(#[from] sqlx::Error),
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
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| StoreError::Open { path: shown.clone(), source })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { path: shown, source })?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)")
            .execute(&self.pool)
            .await?;
        for &(version, sql) in MIGRATIONS {
            let applied: Option<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
            if applied.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|source| StoreError::Migrate { version, source })?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)")
                .bind(version)
                .bind(crate::clock::now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Stores a new session.
    pub async fn create_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, candidate_token_sha256, interviewer_token_sha256, created_at_ms, claimed_location) VALUES (?, ?, ?, ?, ?)",
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
        let row: Option<(String, Vec<u8>, Vec<u8>, i64, Option<String>)> = sqlx::query_as(
            "SELECT id, candidate_token_sha256, interviewer_token_sha256, created_at_ms, claimed_location FROM sessions WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(id, candidate, interviewer, created_at_ms, claimed_location)| {
            Some(SessionRow {
                id,
                candidate_token_sha256: candidate.try_into().ok()?,
                interviewer_token_sha256: interviewer.try_into().ok()?,
                created_at_ms,
                claimed_location,
            })
        }))
    }

    /// Stores an evidence batch once; a resent batch with the same `seq` changes nothing.
    /// Returns whether the batch was new.
    pub async fn insert_batch(&self, session_id: &str, seq: u64, body: &str) -> Result<bool, StoreError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let result = sqlx::query(
            "INSERT INTO evidence_batches (session_id, seq, received_at_ms, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(session_id)
        .bind(seq)
        .bind(crate::clock::now_ms())
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Every stored batch of a session, in `seq` order.
    pub async fn batches(&self, session_id: &str) -> Result<Vec<(u64, String)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, body FROM evidence_batches WHERE session_id = ? ORDER BY seq")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(seq, body)| (u64::try_from(seq).unwrap_or(0), body)).collect())
    }

    /// Stores a round trip the edge measured.
    pub async fn insert_rtt(&self, session_id: &str, rtt_us: u64, page_at_us: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO rtt_samples (session_id, measured_at_ms, rtt_us, page_at_us) VALUES (?, ?, ?, ?)")
            .bind(session_id)
            .bind(crate::clock::now_ms())
            .bind(i64::try_from(rtt_us).unwrap_or(i64::MAX))
            .bind(page_at_us)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts echo probes that never came back.
    pub async fn add_lost(&self, session_id: &str, lost: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET echo_lost = echo_lost + ? WHERE id = ?")
            .bind(i64::from(lost))
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Echo probes of a session that never came back.
    pub async fn lost(&self, session_id: &str) -> Result<u32, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT echo_lost FROM sessions WHERE id = ?").bind(session_id).fetch_optional(&self.pool).await?;
        Ok(row.map_or(0, |(lost,)| u32::try_from(lost).unwrap_or(u32::MAX)))
    }

    /// Records what the candidate's browser said about itself (the newest report wins).
    pub async fn set_environment(&self, session_id: &str, environment_json: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET environment = ? WHERE id = ?")
            .bind(environment_json)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The browser's report about itself, if it sent one.
    pub async fn environment(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as("SELECT environment FROM sessions WHERE id = ?")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|(environment,)| environment))
    }

    /// Keeps a verified measurement by another edge; a newer one from the same edge replaces it.
    pub async fn upsert_measurement(&self, session_id: &str, edge_id: &str, min_rtt_us: u64, token: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO edge_measurements (session_id, edge_id, min_rtt_us, token, received_at_ms) VALUES (?, ?, ?, ?, ?)
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
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT edge_id, min_rtt_us FROM edge_measurements WHERE session_id = ? ORDER BY edge_id")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(edge, rtt)| (edge, u64::try_from(rtt).unwrap_or(0))).collect())
    }

    /// Every round trip measured for a session, oldest first, with the page's clock.
    pub async fn rtts(&self, session_id: &str) -> Result<Vec<(u64, Option<i64>)>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as("SELECT rtt_us, page_at_us FROM rtt_samples WHERE session_id = ? ORDER BY rowid")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(rtt_us, page_at_us)| (u64::try_from(rtt_us).unwrap_or(0), page_at_us)).collect())
    }

    /// Stores a signed verdict.
    pub async fn insert_verdict(&self, session_id: &str, class: &str, row: &VerdictRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO verdicts (session_id, issued_at_s, class, token, verdict) VALUES (?, ?, ?, ?, ?)")
            .bind(session_id)
            .bind(row.issued_at_s)
            .bind(class)
            .bind(&row.token)
            .bind(&row.verdict_json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest verdict of a session.
    pub async fn latest_verdict(&self, session_id: &str) -> Result<Option<VerdictRow>, StoreError> {
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT issued_at_s, token, verdict FROM verdicts WHERE session_id = ? ORDER BY issued_at_s DESC, rowid DESC LIMIT 1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(issued_at_s, token, verdict_json)| VerdictRow { issued_at_s, token, verdict_json }))
    }
}
