//! The store against real databases: a SQLite file always, and PostgreSQL when `scripts/test`
//! provides one (`ONSITE_TEST_POSTGRES`); the same assertions run on both.

// A test's client times what it sees on its own clock.
#![allow(clippy::disallowed_methods)]

mod support;

use onsite_edge::store::{Backend, SessionRow, Store, StoreError, VerdictRow};

/// The stores to test: SQLite in a temporary directory, then PostgreSQL if configured. With
/// `ONSITE_REQUIRE_POSTGRES=1` (set by scripts/test) a missing server is a failure, not a skip.
async fn stores(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut urls = vec![(
        "sqlite".to_owned(),
        format!("sqlite://{}?mode=rwc", dir.join("store.sqlite3").display()),
    )];
    match support::fresh_postgres().await {
        Some(url) => urls.push(("postgres".to_owned(), url)),
        None if std::env::var_os("ONSITE_REQUIRE_POSTGRES").is_some() => {
            panic!("ONSITE_REQUIRE_POSTGRES is set but {} is not", support::POSTGRES_ENV)
        }
        None => {
            eprintln!("{} is not set: PostgreSQL is not tested in this run", support::POSTGRES_ENV)
        }
    }
    urls
}

fn session(id: &str) -> SessionRow {
    SessionRow {
        id: id.into(),
        candidate_token_sha256: [1; 32],
        interviewer_token_sha256: [2; 32],
        created_at_ms: 1_700_000_000_000,
        claimed_location: Some("Chicago".into()),
        finished_at_ms: None,
    }
}

#[tokio::test]
async fn sessions_batches_round_trips_and_verdicts_round_trip_on_every_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, url) in stores(dir.path()).await {
        let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            store.backend(),
            if name == "sqlite" { Backend::Sqlite } else { Backend::Postgres }
        );
        store.create_session(&session("s1")).await.expect("create");
        assert!(
            store.create_session(&session("s1")).await.is_err(),
            "{name}: a session id is unique"
        );
        let row = store.session("s1").await.expect("read").expect("found");
        assert_eq!(
            (
                row.candidate_token_sha256,
                row.interviewer_token_sha256,
                row.claimed_location.as_deref()
            ),
            ([1; 32], [2; 32], Some("Chicago"))
        );
        assert!(store.session("nope").await.expect("read").is_none());

        // Finishing seals the session once: a second finish keeps the first time.
        assert_eq!(row.finished_at_ms, None);
        store.finish_session("s1", 1_700_000_000_500).await.expect("finish");
        store.finish_session("s1", 1_700_000_009_999).await.expect("finish again");
        let row = store.session("s1").await.expect("read").expect("found");
        assert_eq!(row.finished_at_ms, Some(1_700_000_000_500), "{name}: the first finish counts");

        // A batch is stored once: a resend changes nothing.
        assert!(store.insert_batch("s1", 1, "{\"a\":1}").await.expect("insert"));
        assert!(store.insert_batch("s1", 2, "{\"a\":2}").await.expect("insert"));
        assert!(
            !store.insert_batch("s1", 1, "{\"a\":\"changed\"}").await.expect("resend"),
            "{name}: a resend is not new"
        );
        assert_eq!(
            store.batches("s1").await.expect("batches"),
            vec![(1, "{\"a\":1}".to_owned()), (2, "{\"a\":2}".to_owned())]
        );
        assert!(
            store.insert_batch("ghost", 1, "{}").await.is_err(),
            "{name}: evidence needs a session"
        );

        for (rtt_us, page_at_us) in [(900, Some(5)), (800, None), (1200, Some(-7))] {
            store.insert_rtt("s1", rtt_us, page_at_us).await.expect("rtt");
        }
        assert_eq!(
            store.rtts("s1").await.expect("rtts"),
            vec![(900, Some(5)), (800, None), (1200, Some(-7))],
            "{name}: in order"
        );
        store.add_lost("s1", 2).await.expect("lost");
        store.add_lost("s1", 3).await.expect("lost");
        assert_eq!(store.lost("s1").await.expect("lost"), 5);
        store.set_environment("s1", "{\"webdriver\":false}").await.expect("env");
        assert_eq!(
            store.environment("s1").await.expect("env").as_deref(),
            Some("{\"webdriver\":false}")
        );
        store.upsert_measurement("s1", "chi", 40_000, "t1").await.expect("measure");
        store.upsert_measurement("s1", "chi", 39_000, "t2").await.expect("measure");
        store.upsert_measurement("s1", "dal", 90_000, "t3").await.expect("measure");
        assert_eq!(
            store.measurements("s1").await.expect("m"),
            vec![("chi".to_owned(), 39_000), ("dal".to_owned(), 90_000)]
        );

        // The newest verdict wins; at the same second, the later insert.
        for (at_s, token) in [(10, "a"), (12, "b"), (12, "c"), (11, "d")] {
            store
                .insert_verdict(
                    "s1",
                    "local",
                    &VerdictRow {
                        issued_at_s: at_s,
                        token: token.into(),
                        verdict_json: "{}".into(),
                    },
                )
                .await
                .expect("verdict");
        }
        assert_eq!(
            store.latest_verdict("s1").await.expect("latest").map(|v| v.token).as_deref(),
            Some("c"),
            "{name}"
        );
        let history = store.verdict_history("s1", 3).await.expect("history");
        assert_eq!(
            history.iter().map(|v| v.token.as_str()).collect::<Vec<_>>(),
            ["b", "c", "d"],
            "{name}: the newest 3, oldest first"
        );
        store
            .create_session(&SessionRow { created_at_ms: 1_700_000_000_001, ..session("s2") })
            .await
            .expect("create");
        let listed = store.list_sessions(10).await.expect("list");
        assert_eq!(
            listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["s2", "s1"],
            "{name}: newest first"
        );
        assert_eq!(
            (listed[1].class.as_deref(), listed[1].issued_at_s),
            (Some("local"), Some(11)),
            "{name}: the last inserted verdict"
        );
        assert_eq!(listed[0].class, None, "{name}: no verdict yet");
        let counts = store.counts().await.expect("counts");
        assert_eq!((counts.sessions, counts.batches, counts.verdicts), (2, 2, 4));
        store.close().await;
    }
}

#[tokio::test]
async fn two_edges_on_one_database_share_sessions_and_a_batch_is_stored_once_between_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, url) in stores(dir.path()).await {
        // Opening twice also runs the migrations twice: the second finds them applied.
        let (first, second) = tokio::join!(Store::connect(&url), Store::connect(&url));
        let (first, second) = (first.expect("first edge"), second.expect("second edge"));
        first.create_session(&session("shared")).await.expect("create");
        assert!(
            second.session("shared").await.expect("read").is_some(),
            "{name}: the other edge sees it"
        );
        let (a, b) = tokio::join!(
            first.insert_batch("shared", 1, "{}"),
            second.insert_batch("shared", 1, "{}")
        );
        assert_eq!(
            u8::from(a.expect("a")) + u8::from(b.expect("b")),
            1,
            "{name}: exactly one edge stored batch 1"
        );
        assert_eq!(first.batches("shared").await.expect("batches").len(), 1);
    }
}

#[tokio::test]
async fn retention_deletes_raw_evidence_and_keeps_sessions_and_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, url) in stores(dir.path()).await {
        let store = Store::connect(&url).await.expect("open");
        store.create_session(&session("old")).await.expect("create");
        store.insert_batch("old", 1, "{}").await.expect("batch");
        store.insert_rtt("old", 1000, None).await.expect("rtt");
        store
            .insert_verdict(
                "old",
                "local",
                &VerdictRow { issued_at_s: 1, token: "t".into(), verdict_json: "{}".into() },
            )
            .await
            .expect("verdict");
        // Nothing is older than a day ago.
        let day_ago_ms = onsite_edge::clock::now_ms() - 24 * 3600 * 1000;
        let purged = store.purge_raw_evidence(day_ago_ms).await.expect("purge");
        assert_eq!((purged.batches, purged.rtts), (0, 0), "{name}");
        // Everything is older than a moment from now.
        let purged =
            store.purge_raw_evidence(onsite_edge::clock::now_ms() + 1).await.expect("purge");
        assert_eq!((purged.batches, purged.rtts), (1, 1), "{name}");
        assert!(store.batches("old").await.expect("batches").is_empty());
        assert!(store.rtts("old").await.expect("rtts").is_empty());
        assert!(
            store.session("old").await.expect("session").is_some(),
            "{name}: the session stays"
        );
        assert!(
            store.latest_verdict("old").await.expect("verdict").is_some(),
            "{name}: the verdict stays"
        );
    }
}

#[tokio::test]
async fn an_unsupported_or_unreachable_database_is_a_clear_error() {
    let Err(error) = Store::connect("mysql://root@localhost/onsite").await else {
        panic!("mysql is not supported")
    };
    assert!(matches!(error, StoreError::Unsupported(_)), "{error}");
    assert!(error.to_string().contains("use sqlite:// or postgres://"), "{error}");
    let Err(error) =
        Store::connect("postgres://onsite:secret-password@127.0.0.1:9/onsite?connect_timeout=2")
            .await
    else {
        panic!("nothing listens on port 9")
    };
    let text = error.to_string();
    assert!(text.starts_with("cannot open database postgres://"), "{text}");
    assert!(!text.contains("secret-password"), "the password is not shown: {text}");
}
