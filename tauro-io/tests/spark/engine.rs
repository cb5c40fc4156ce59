//! The async facade: connect, sessions, SQL, errors, deadlines and cancellation.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tauro_io::{EngineOptions, Error, SparkEngine, SqlValue};

use crate::common::*;

/// Sleeps on the server for `ms` per row; `execute` collects it (no aggregate around the
/// non-deterministic `reflect`, which Spark would reject).
fn slow_query(ms: u64) -> String {
    format!("SELECT reflect('java.lang.Thread', 'sleep', CAST({ms} AS BIGINT)) AS s FROM range(1)")
}

#[tokio::test]
async fn unreachable_server_is_reported_within_the_connect_timeout() {
    let opts = EngineOptions {
        connect_timeout: Duration::from_secs(3),
        ..EngineOptions::default()
    };
    let started = Instant::now();
    let err = SparkEngine::connect("sc://127.0.0.1:1", opts)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    match &err {
        Error::Unreachable { remote, waited, .. } => {
            assert_eq!(remote, "sc://127.0.0.1:1");
            assert!(*waited >= Duration::from_secs(3));
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.is_unreachable());
    assert!(err.hint().unwrap().contains("tauro-cli spark start"));
}

#[tokio::test]
async fn invalid_remotes_are_rejected_without_waiting() {
    let err = SparkEngine::connect("http://127.0.0.1:15002", EngineOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRemote { .. }), "{err:?}");
}

#[tokio::test]
async fn version_sql_schema_and_rows() {
    let Some(engine) = engine().await else { return };
    assert!(engine.version().await.unwrap().starts_with('4'));
    let session = engine.new_session().await.unwrap();
    let frame = session
        .sql("SELECT id, CAST(id AS STRING) AS name FROM range(5)")
        .await
        .unwrap();
    assert_eq!(frame.count().await.unwrap(), 5);
    assert_eq!(frame.columns().await.unwrap(), ["id", "name"]);
    assert_eq!(
        frame.schema_ddl().await.unwrap(),
        "id bigint NOT NULL,name string NOT NULL"
    );
    let fields = frame.schema_fields().await.unwrap();
    let described: Vec<(&str, &str, bool)> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.data_type.as_str(), f.nullable))
        .collect();
    assert_eq!(
        described,
        [("id", "bigint", false), ("name", "string", false)]
    );
    assert_eq!(
        frame.filter("id > 1").schema_fields().await.unwrap(),
        fields
    );
    let rows = frame.filter("id >= 3").collect_json(10).await.unwrap();
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"id": 3, "name": "3"}),
            serde_json::json!({"id": 4, "name": "4"}),
        ]
    );
    assert_eq!(frame.collect_json(2).await.unwrap().len(), 2);
}

#[tokio::test]
async fn named_parameters_are_bound_not_spliced() {
    let Some(session) = session().await else {
        return;
    };
    let frame = session
        .sql_with_params(
            "SELECT :d AS d, :s AS s, :l AS l, :x AS x, :b AS b",
            vec![
                ("d".into(), SqlValue::Date(date("2025-01-31"))),
                ("s".into(), SqlValue::String("it's".into())),
                ("l".into(), SqlValue::Long(42)),
                ("x".into(), SqlValue::Double(2.5)),
                ("b".into(), SqlValue::Bool(true)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        frame.schema_ddl().await.unwrap(),
        "d date NOT NULL,s string NOT NULL,l bigint NOT NULL,x double NOT NULL,b boolean NOT NULL"
    );
    let rows = frame.collect_json(1).await.unwrap();
    assert_eq!(
        rows[0],
        serde_json::json!({"d": "2025-01-31", "s": "it's", "l": 42, "x": 2.5, "b": true})
    );
}

#[tokio::test]
async fn statements_run_and_temp_views_are_per_session() {
    let Some(engine) = engine().await else { return };
    let a = engine.new_session().await.unwrap();
    let b = engine.new_session().await.unwrap();
    a.execute("CREATE OR REPLACE TEMP VIEW io_v AS SELECT 1 AS x")
        .await
        .unwrap();
    assert_eq!(a.table("io_v").await.unwrap().count().await.unwrap(), 1);
    a.sql("SELECT x + 1 AS y FROM io_v")
        .await
        .unwrap()
        .create_temp_view("io_w")
        .await
        .unwrap();
    assert_eq!(
        a.sql("SELECT * FROM io_w")
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        1
    );

    let err = b.table("io_v").await.unwrap().count().await.unwrap_err();
    assert_eq!(
        err.error_class(),
        Some("TABLE_OR_VIEW_NOT_FOUND"),
        "{err:?}"
    );
    let failure = err.spark_failure().unwrap();
    assert_eq!(failure.sql_state.as_deref(), Some("42P01"));
    assert!(failure.grpc_code.is_some());
    let text = failure.to_string();
    assert!(text.starts_with("[TABLE_OR_VIEW_NOT_FOUND]"), "{text}");
    assert!(
        !text.contains("[TABLE_OR_VIEW_NOT_FOUND] [TABLE_OR_VIEW_NOT_FOUND]"),
        "{text}"
    );
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn session_conf_is_applied_and_protected_keys_are_skipped() {
    let Some(remote) = tokio::task::spawn_blocking(remote).await.unwrap() else {
        return;
    };
    let mut session_conf = BTreeMap::new();
    session_conf.insert(
        "spark.sql.session.timeZone".to_string(),
        "America/New_York".to_string(),
    );
    session_conf.insert("spark.sql.shuffle.partitions".to_string(), "17".to_string());
    let engine = SparkEngine::connect(
        &remote,
        EngineOptions {
            session_conf,
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    let session = engine.new_session().await.unwrap();
    assert_eq!(
        session
            .get_conf("spark.sql.session.timeZone")
            .await
            .unwrap()
            .as_deref(),
        Some("America/New_York")
    );
    assert_ne!(
        session
            .get_conf("spark.sql.shuffle.partitions")
            .await
            .unwrap()
            .as_deref(),
        Some("17")
    );
    // Other sessions keep the server default.
    let other = engine.new_session().await.unwrap();
    other
        .set_conf("spark.sql.session.timeZone", "UTC")
        .await
        .unwrap();
    assert_eq!(
        session
            .get_conf("spark.sql.session.timeZone")
            .await
            .unwrap()
            .as_deref(),
        Some("America/New_York")
    );
}

#[tokio::test]
async fn an_action_past_its_deadline_is_interrupted() {
    let Some(session) = session().await else {
        return;
    };
    let short = session.with_action_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = short.execute(&slow_query(120_000)).await.unwrap_err();
    match &err {
        Error::Timeout { after, .. } => assert_eq!(*after, Duration::from_secs(2)),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    // The session stays usable.
    assert_eq!(
        session
            .sql("SELECT 1")
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn cancel_interrupts_the_sessions_running_work() {
    let Some(session) = session().await else {
        return;
    };
    let running = {
        let s = session.clone();
        tokio::spawn(async move { s.execute(&slow_query(120_000)).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    session.cancel().await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("cancelled promptly")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    // Later work of the same session runs normally.
    assert_eq!(
        session
            .sql("SELECT 1")
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        1
    );
}
