//! Streaming queries against a real Spark Connect server.
//!
//! Set `TAURO_SPARK_REMOTE=sc://127.0.0.1:15002` (e.g. after `scripts/spark-connect-local.sh
//! start`). Without it the tests skip with a message, unless `TAURO_REQUIRE_SPARK=1`, in
//! which case they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod detached;
mod formats;
mod hybrid;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tauro_config::{Context, OutputMode, Sources, StreamTrigger};
use tauro_io::{EngineOptions, Error as IoError, SourceFormat, SparkEngine, StreamSource};
use tauro_streaming::{
    IssueKind, ProgressSink, QueryProgress, StreamingQueryManager, StreamingValidator,
};

async fn engine() -> Option<SparkEngine> {
    let remote = match std::env::var("TAURO_SPARK_REMOTE") {
        Ok(r) if !r.trim().is_empty() => r,
        _ => {
            if std::env::var("TAURO_REQUIRE_SPARK").as_deref() == Ok("1") {
                panic!("TAURO_REQUIRE_SPARK=1 but TAURO_SPARK_REMOTE is not set");
            }
            eprintln!(
                "skipping: set TAURO_SPARK_REMOTE=sc://host:port (scripts/spark-connect-local.sh start)"
            );
            return None;
        }
    };
    Some(
        SparkEngine::connect(&remote, EngineOptions::default())
            .await
            .unwrap_or_else(|e| panic!("Spark Connect at {remote}: {e}")),
    )
}

/// A streaming project: `events` (json files under `<dir>/in`) → node `copy` → parquet
/// `sink` under `<dir>/out/sink`.
fn project(dir: &Path, pipeline: &str, trigger: serde_json::Value) -> Context {
    let sources = Sources::new(
        json!({"input_path": dir.join("in").display().to_string(),
               "output_path": dir.join("out").display().to_string()}),
        json!({pipeline: {"type": "streaming", "nodes": ["copy"]}}),
        json!({"copy": {"input": ["events"], "output": ["sink"],
                        "sql": "SELECT id, name FROM events",
                        "streaming": {"trigger": trigger}}}),
        json!({"events": {"format": "json", "filepath": dir.join("in").display().to_string(),
                          "schema": "id INT, name STRING"}}),
        json!({"sink": {"format": "parquet", "filepath": "sink"}}),
    );
    Context::from_sources(sources, "base").unwrap()
}

/// Writes a JSON-lines file of `n` rows with ids from `first` (atomically: temp + rename,
/// so the stream never sees a half-written file).
fn add_file(dir: &Path, file: &str, first: u32, n: u32) {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let body: String = (first..first + n)
        .map(|i| format!("{{\"id\": {i}, \"name\": \"n{i}\"}}\n"))
        .collect();
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(tmp, input.join(file)).unwrap();
}

/// Rows in the parquet sink, and distinct ids, read in a fresh session (no cached plan).
async fn sink_rows(engine: &SparkEngine, dir: &Path) -> (u64, u64) {
    let path = dir.join("out/sink");
    if !path.join("_spark_metadata").exists() {
        return (0, 0);
    }
    let session = engine.new_session().await.unwrap();
    let frame = session
        .sql(&format!(
            "SELECT count(*) AS n, count(DISTINCT id) AS d FROM parquet.`{}`",
            path.display()
        ))
        .await
        .unwrap();
    let rows = match frame.collect_json(1).await {
        Ok(rows) => rows,
        // The sink's log exists before its first batch is committed.
        Err(e) if e.error_class() == Some("UNABLE_TO_INFER_SCHEMA") => return (0, 0),
        Err(e) => panic!("{e:?}"),
    };
    let get = |k: &str| rows[0][k].as_u64().unwrap();
    (get("n"), get("d"))
}

async fn run_available_now(engine: &SparkEngine, ctx: &Context, pipeline: &str) {
    let specs = StreamingValidator::validate_pipeline(ctx, pipeline).unwrap();
    assert_eq!(specs.len(), 1);
    assert_eq!(specs[0].sink.trigger, StreamTrigger::AvailableNow);
    let manager = StreamingQueryManager::new(engine.clone());
    let info = manager.start(ctx, &specs[0]).await.unwrap();
    let key = format!("{pipeline}.copy");
    assert_eq!(info.key, key);
    assert!(
        manager
            .await_termination(&key, Duration::from_secs(120))
            .await
            .unwrap(),
        "an available-now query ends by itself"
    );
    assert_eq!(manager.exception(&key).await.unwrap(), None);
    assert!(!manager.status(&key).await.unwrap().is_active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn available_now_processes_exactly_the_files_present_and_restarts_resume() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ctx = project(dir, "avail", json!("available_now"));
    add_file(dir, "a.json", 0, 5);
    add_file(dir, "b.json", 5, 7);
    run_available_now(&engine, &ctx, "avail").await;
    assert_eq!(sink_rows(&engine, dir).await, (12, 12));
    // The default checkpoint is derived from the pipeline and node, under output_path.
    assert!(dir.join("out/_checkpoints/avail/copy/offsets").is_dir());

    // Several restarts from the same checkpoint: only new files are read, none twice.
    let mut expected = 12;
    for round in 0..3u32 {
        let n = 3 + round;
        add_file(dir, &format!("r{round}.json"), 100 + round * 10, n);
        expected += u64::from(n);
        run_available_now(&engine, &ctx, "avail").await;
        assert_eq!(
            sink_rows(&engine, dir).await,
            (expected, expected),
            "round {round}"
        );
    }
    // A restart with nothing new writes nothing.
    run_available_now(&engine, &ctx, "avail").await;
    assert_eq!(sink_rows(&engine, dir).await, (expected, expected));
}

#[derive(Default)]
struct Collect {
    progress: Mutex<Vec<QueryProgress>>,
    ended: Mutex<Vec<String>>,
}

impl ProgressSink for Collect {
    fn on_progress(&self, p: &QueryProgress) {
        self.progress.lock().unwrap().push(p.clone());
    }
    fn on_terminated(&self, key: &str, _: Option<&tauro_io::QueryException>) {
        self.ended.lock().unwrap().push(key.to_string());
    }
}

async fn wait_for_rows(engine: &SparkEngine, dir: &Path, want: u64) -> (u64, u64) {
    let start = Instant::now();
    loop {
        let got = sink_rows(engine, dir).await;
        if got.0 >= want || start.elapsed() > Duration::from_secs(90) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_picks_up_new_files_and_stop_restart_loses_nothing() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ctx = project(
        dir,
        "pt",
        json!({"type": "processing_time", "interval": "1 second"}),
    );
    add_file(dir, "a.json", 0, 4);
    let specs = StreamingValidator::validate_pipeline(&ctx, "pt").unwrap();
    let mut expected = 4;
    let mut query_id = None;
    for round in 0..3u32 {
        let manager = StreamingQueryManager::new(engine.clone());
        let info = manager.start(&ctx, &specs[0]).await.unwrap();
        // The same checkpoint keeps the query id; every start gets a new run id.
        if let Some(id) = &query_id {
            assert_eq!(&info.id, id);
        }
        query_id = Some(info.id.clone());
        let collect = Arc::new(Collect::default());
        manager
            .watch("pt.copy", Duration::from_millis(500), collect.clone())
            .await
            .unwrap();
        assert!(manager.status("pt.copy").await.unwrap().is_active);
        // Files added after the start are picked up.
        for f in 0..2u32 {
            let n = 2 + f;
            add_file(
                dir,
                &format!("r{round}_{f}.json"),
                1000 * (round + 1) + 100 * f,
                n,
            );
            expected += u64::from(n);
            assert_eq!(
                wait_for_rows(&engine, dir, expected).await,
                (expected, expected)
            );
        }
        assert!(
            !manager
                .await_termination("pt.copy", Duration::from_secs(1))
                .await
                .unwrap()
        );
        let last = manager.last_progress("pt.copy").await.unwrap();
        assert!(last.is_some_and(|p| p.batch_id >= 0));
        assert!(!manager.recent_progress("pt.copy").await.unwrap().is_empty());
        let stopped = manager.stop_all(Duration::from_secs(30)).await;
        assert!(stopped.values().all(Result::is_ok), "{stopped:?}");
        assert!(!manager.status("pt.copy").await.unwrap().is_active);
        assert_eq!(manager.exception("pt.copy").await.unwrap(), None);
        // A file added while stopped is read after the restart, exactly once.
        add_file(dir, &format!("stopped{round}.json"), 50_000 + round * 10, 3);
        expected += 3;
        let _ = collect;
    }
    // The last file arrives with the final start.
    let manager = StreamingQueryManager::new(engine.clone());
    let mut spec = specs[0].clone();
    spec.sink.trigger = StreamTrigger::AvailableNow;
    manager.start(&ctx, &spec).await.unwrap();
    assert!(
        manager
            .await_termination("pt.copy", Duration::from_secs(120))
            .await
            .unwrap()
    );
    assert_eq!(sink_rows(&engine, dir).await, (expected, expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_reports_progress_and_the_end() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ctx = project(dir, "watch", json!("available_now"));
    add_file(dir, "a.json", 0, 6);
    let specs = StreamingValidator::validate_pipeline(&ctx, "watch").unwrap();
    let manager = StreamingQueryManager::new(engine.clone());
    manager.start(&ctx, &specs[0]).await.unwrap();
    let collect = Arc::new(Collect::default());
    manager
        .watch("watch.copy", Duration::from_millis(300), collect.clone())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(120), manager.join_watchers())
        .await
        .unwrap();
    assert_eq!(
        *collect.ended.lock().unwrap(),
        vec!["watch.copy".to_string()]
    );
    let rows: u64 = collect
        .progress
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.input_rows)
        .sum();
    assert_eq!(rows, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_query_on_a_running_checkpoint_is_refused() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ctx = project(dir, "dup", json!("5 seconds"));
    add_file(dir, "a.json", 0, 1);
    let specs = StreamingValidator::validate_pipeline(&ctx, "dup").unwrap();
    let manager = StreamingQueryManager::new(engine.clone());
    manager.start(&ctx, &specs[0]).await.unwrap();
    let err = manager.start(&ctx, &specs[0]).await.unwrap_err();
    assert!(
        matches!(err, tauro_streaming::Error::AlreadyRunning { .. }),
        "{err}"
    );
    let mut other = specs[0].clone();
    other.node = "copy2".into();
    other.sink.query_name = Some("dup_copy2".into());
    let err = manager.start(&ctx, &other).await.unwrap_err();
    match err {
        tauro_streaming::Error::Invalid { issues } => {
            assert_eq!(issues[0].kind, IssueKind::CheckpointReused)
        }
        other => panic!("{other}"),
    }
    manager.stop_all(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_and_delta_without_their_packages_are_clear_errors() {
    let Some(engine) = engine().await else { return };
    let session = engine.new_session().await.unwrap();
    let kafka = StreamSource {
        name: "clicks".into(),
        format: SourceFormat::Kafka,
        path: None,
        schema: None,
        options: BTreeMap::from([
            ("kafka.bootstrap.servers".into(), "localhost:9092".into()),
            ("subscribe".into(), "clicks".into()),
        ]),
        kafka: None,
    };
    let err = session.read_stream(&kafka).await.unwrap_err();
    match &err {
        IoError::MissingDataSource {
            format, package, ..
        } => {
            assert_eq!(format, "kafka");
            assert!(
                package
                    .as_deref()
                    .is_some_and(|p| p.contains("spark-sql-kafka"))
            );
        }
        other => panic!("expected a missing data source, got {other:?}"),
    }
    assert!(err.hint().is_some_and(|h| h.contains("spark-sql-kafka")));

    let tmp = tempfile::tempdir().unwrap();
    let delta = StreamSource {
        name: "table".into(),
        format: SourceFormat::Delta,
        path: Some(tmp.path().display().to_string()),
        schema: None,
        options: BTreeMap::new(),
        kafka: None,
    };
    let err = session.read_stream(&delta).await.unwrap_err();
    match &err {
        IoError::MissingDataSource {
            format, package, ..
        } => {
            assert_eq!(format, "delta");
            assert!(
                package
                    .as_deref()
                    .is_some_and(|p| p.contains("delta-spark"))
            );
        }
        other => panic!("expected a missing data source, got {other:?}"),
    }
}

#[test]
fn config_validation_names_the_node_and_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sources = Sources::new(
        json!({"input_path": dir.display().to_string(), "output_path": dir.display().to_string()}),
        json!({"p": {"type": "streaming", "nodes": ["a", "b"]},
               "h": {"type": "hybrid", "nodes": ["batch", "b"]}}),
        json!({
            "a": {"input": ["tbl"], "output": ["out_a"], "sql": "SELECT * FROM tbl"},
            "b": {"input": ["ev"], "output": ["out_b"], "sql": "SELECT * FROM ev",
                  "streaming": {"output_mode": "complete", "trigger": {"type": "continuous"}}},
            "batch": {"input": ["tbl"], "output": ["out_a"], "sql": "SELECT * FROM tbl"}
        }),
        json!({"tbl": {"format": "table", "table": "db.t"},
               "ev": {"format": "json", "filepath": "ev", "schema": "id INT"}}),
        json!({"out_a": {"format": "parquet", "filepath": "a"},
               "out_b": {"format": "parquet", "filepath": "b"}}),
    );
    let ctx = Context::from_sources(sources, "base").unwrap();
    let issues = StreamingValidator::validate_pipeline(&ctx, "p").unwrap_err();
    let kinds: Vec<IssueKind> = issues.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        vec![
            IssueKind::BatchOnlySource,
            IssueKind::TriggerFormat,
            IssueKind::TriggerFormat,
            IssueKind::OutputMode,
            IssueKind::OutputMode,
        ],
        "{issues:#?}"
    );
    assert!(
        issues[0]
            .to_string()
            .contains("node 'a': input 'tbl' has format table"),
        "{}",
        issues[0]
    );
    // In a hybrid pipeline only nodes with a `streaming:` section stream.
    let issues = StreamingValidator::validate_pipeline(&ctx, "h").unwrap_err();
    assert!(issues.iter().all(|i| i.node == "b"), "{issues:#?}");
    assert_eq!(
        ctx.nodes["b"].streaming.as_ref().map(|s| s.output_mode),
        Some(OutputMode::Complete)
    );
}
