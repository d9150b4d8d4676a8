//! Test support shared by the edge's integration tests: which databases to run against.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sqlx::{Connection as _, Executor as _};

/// The PostgreSQL server to test against, as an admin URL (`scripts/test` starts one and sets it).
pub const POSTGRES_ENV: &str = "ONSITE_TEST_POSTGRES";

/// A new, empty PostgreSQL database for one test, or `None` when no server is configured.
pub async fn fresh_postgres() -> Option<String> {
    let admin = std::env::var(POSTGRES_ENV).ok()?;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_ENV}: {e}"));
    let name = format!(
        "onsite_test_{}",
        onsite_edge::secrets::random_bytes(6)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    connection
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a test database");
    let (base, query) =
        admin.split_once('?').map_or((admin.as_str(), ""), |(base, query)| (base, query));
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    Some(if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    })
}

/// Set to `postgres` to run the edge's end-to-end tests on PostgreSQL rather than SQLite.
pub const EDGE_DATABASE_ENV: &str = "ONSITE_TEST_EDGE_DATABASE";

/// The database URL an edge with this data directory uses in this test run: with
/// `ONSITE_TEST_EDGE_DATABASE=postgres`, a fresh PostgreSQL database per data directory (kept
/// for restarts); otherwise `None`, the SQLite file in the data directory.
pub async fn database_for(data: &Path) -> Option<String> {
    if std::env::var(EDGE_DATABASE_ENV).as_deref() != Ok("postgres") {
        return None;
    }
    static CHOSEN: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);
    if let Some(url) = CHOSEN.lock().expect("lock").get_or_insert_with(HashMap::new).get(data) {
        return Some(url.clone());
    }
    let url = fresh_postgres()
        .await
        .unwrap_or_else(|| panic!("{EDGE_DATABASE_ENV}=postgres needs {POSTGRES_ENV}"));
    CHOSEN
        .lock()
        .expect("lock")
        .get_or_insert_with(HashMap::new)
        .insert(data.to_path_buf(), url.clone());
    Some(url)
}
