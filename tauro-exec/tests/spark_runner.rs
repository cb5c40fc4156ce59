//! SparkNodeRunner + Executor against a real Spark Connect server.
//!
//! Set `TAURO_SPARK_REMOTE=sc://127.0.0.1:15002` (e.g. after `scripts/spark-connect-local.sh
//! start`). Without it the tests skip with a message, unless `TAURO_REQUIRE_SPARK=1`, in
//! which case they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use indexmap::IndexMap;
use tauro_config::{
    Context, DataFormat, DateWindow, GlobalSettings, InputConfig, Location, NodeCompute,
    NodeConfig, OutputConfig, PipelineConfig, PipelineType, SparkSettings, WriteMode,
};
use tauro_exec::{Executor, NodeRegistry, NodeSelection, NodeStatus, RunStatus, SparkNodeRunner};
use tauro_io::{EngineOptions, SparkEngine};

#[path = "spark_runner/expectations.rs"]
mod expectations;
#[path = "spark_runner/incremental.rs"]
mod incremental;
#[path = "spark_runner/lineage.rs"]
mod lineage;
#[path = "spark_runner/ml.rs"]
mod ml;
#[path = "spark_runner/rpcs.rs"]
mod rpcs;

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

fn loc(file: &str) -> Location {
    Location {
        file: PathBuf::from(file),
        line: 1,
    }
}

fn sql_node(name: &str, inputs: &[&str], outputs: &[&str], sql: &str) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        dependencies: Vec::new(),
        compute: NodeCompute::Sql {
            text: sql.into(),
            file: None,
        },
        params: IndexMap::new(),
        hyperparams: IndexMap::new(),
        metrics: Vec::new(),
        model_version: None,
        model: None,
        expectations: Vec::new(),
        description: None,
        tags: Vec::new(),
        node_type: None,
        timeout: None,
        retries: None,
        streaming: None,
        location: loc("nodes.yml"),
    }
}

fn function_node(
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    function: &str,
    params: serde_json::Value,
) -> NodeConfig {
    let mut node = sql_node(name, inputs, outputs, "");
    node.compute = NodeCompute::Function {
        name: function.into(),
    };
    if let serde_json::Value::Object(map) = params {
        node.params = map.into_iter().collect();
    }
    node
}

fn parquet_output(name: &str, dir: &Path) -> OutputConfig {
    OutputConfig {
        name: name.into(),
        format: DataFormat::Parquet,
        filepath: Some(dir.join(name).display().to_string()),
        table: None,
        table_format: None,
        write_mode: WriteMode::Overwrite,
        partition_by: Vec::new(),
        options: BTreeMap::new(),
        kafka: None,
        delta: None,
        location: loc("output.yml"),
    }
}

/// One pipeline `p` of `nodes`; every node output is a parquet dataset under `dir`.
fn project(dir: &Path, nodes: Vec<NodeConfig>, inputs: Vec<InputConfig>) -> Context {
    let outputs: IndexMap<String, OutputConfig> = nodes
        .iter()
        .flat_map(|n| n.output.clone())
        .map(|o| (o.clone(), parquet_output(&o, dir)))
        .collect();
    let pipeline = PipelineConfig {
        name: "p".into(),
        nodes: nodes.iter().map(|n| n.name.clone()).collect(),
        pipeline_type: PipelineType::Batch,
        description: None,
        requires_dates: false,
        max_workers: None,
        ml: Default::default(),
        location: loc("pipelines.yml"),
    };
    Context {
        env: "test".into(),
        project_dir: dir.to_path_buf(),
        global: GlobalSettings {
            project_name: "exec-it".into(),
            input_path: dir.display().to_string(),
            output_path: dir.display().to_string(),
            mode: "local".into(),
            spark: SparkSettings {
                action_timeout: Duration::from_secs(600),
                ..SparkSettings::default()
            },
            start_date: None,
            end_date: None,
            max_workers: 2,
            max_retries: 0,
            retry_delay: Duration::from_millis(100),
            node_timeout: None,
            circuit_breaker_threshold: 5,
            continue_on_error: false,
            hooks: Vec::new(),
            lineage: Default::default(),
            extra: IndexMap::new(),
        },
        pipelines: IndexMap::from([("p".to_string(), pipeline)]),
        nodes: nodes.into_iter().map(|n| (n.name.clone(), n)).collect(),
        inputs: inputs.into_iter().map(|i| (i.name.clone(), i)).collect(),
        outputs,
    }
}

async fn count_parquet(engine: &SparkEngine, path: &Path) -> u64 {
    let session = engine.new_session().await.unwrap();
    let query = format!("SELECT * FROM parquet.`{}`", path.display());
    session.sql(&query).await.unwrap().count().await.unwrap()
}

/// Up to 10 rows of `query` (a SQL text over `parquet.\`path\`` and the like) as JSON.
async fn query_rows(engine: &SparkEngine, query: &str) -> Vec<serde_json::Value> {
    let session = engine.new_session().await.unwrap();
    let frame = session.sql(query).await.unwrap();
    frame.collect_json(10).await.unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn three_sql_nodes_write_parquet_with_bound_dates() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    // `clean` reads `staging.raw` (the output of `extract`), visible as view `staging_raw`;
    // `summary` reads `clean`. Listed out of order: the implicit edges order them.
    let nodes = vec![
        sql_node(
            "summary",
            &["clean"],
            &["by_group"],
            "SELECT grp, count(*) AS n FROM clean GROUP BY grp",
        ),
        sql_node(
            "clean",
            &["staging.raw"],
            &["clean"],
            "SELECT * FROM staging_raw WHERE day BETWEEN :start_date AND :end_date",
        ),
        sql_node(
            "extract",
            &[],
            &["staging.raw"],
            "SELECT id, date_add(DATE'2025-01-01', CAST(id AS INT)) AS day, id % 3 AS grp \
             FROM range(10)",
        ),
    ];
    let ctx = Arc::new(project(dir.path(), nodes, Vec::new()));
    let window = DateWindow {
        start: date("2025-01-03"),
        end: date("2025-01-06"),
    };
    let runner = SparkNodeRunner::new(engine.clone(), NodeRegistry::with_builtins());
    let report = Executor::new(runner)
        .run(ctx, "p", Some(window), &NodeSelection::All)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let order: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(order, ["extract", "clean", "summary"]);
    let rows = |n: &str| report.node(n).unwrap().rows_written;
    assert_eq!(rows("extract"), Some(10));
    assert_eq!(
        rows("clean"),
        Some(4),
        "2025-01-03..=2025-01-06 are ids 2..=5"
    );
    assert_eq!(rows("summary"), Some(3));
    assert_eq!(count_parquet(&engine, &dir.path().join("clean")).await, 4);
    assert_eq!(
        count_parquet(&engine, &dir.path().join("by_group")).await,
        3
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["nodes"][1]["outputs"][0]["rows"], 4);
}

#[tokio::test]
async fn builtin_functions_run_on_spark() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![
        sql_node("a", &[], &["a"], "SELECT id, 'a' AS src FROM range(5)"),
        sql_node("b", &[], &["b"], "SELECT 'b' AS src, id FROM range(3, 8)"),
        function_node("u", &["a", "b"], &["u"], "union_all", serde_json::json!({})),
        function_node(
            "d",
            &["u"],
            &["d"],
            "dedupe",
            serde_json::json!({"keys": ["id"], "order_by": "src"}),
        ),
        function_node(
            "f",
            &["d"],
            &["f"],
            "filter",
            serde_json::json!({"condition": "id >= 2"}),
        ),
        function_node(
            "s",
            &["f"],
            &["s"],
            "select",
            serde_json::json!({"columns": ["id"], "expressions": {"twice": "id * 2"}}),
        ),
        function_node(
            "pass",
            &["s"],
            &["pass"],
            "passthrough",
            serde_json::json!({}),
        ),
    ];
    let ctx = Arc::new(project(dir.path(), nodes, Vec::new()));
    let runner = SparkNodeRunner::new(engine.clone(), NodeRegistry::with_builtins());
    let report = Executor::new(runner)
        .run(ctx, "p", None, &NodeSelection::All)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let rows = |n: &str| report.node(n).unwrap().rows_written;
    assert_eq!(rows("u"), Some(10));
    assert_eq!(rows("d"), Some(8), "ids 0..=7 once each");
    assert_eq!(rows("f"), Some(6));
    assert_eq!(rows("pass"), Some(6));
    let query = format!(
        "SELECT * FROM parquet.`{}` ORDER BY id",
        dir.path().join("pass").display()
    );
    let rows = query_rows(&engine, &query).await;
    assert_eq!(rows[0], serde_json::json!({"id": 2, "twice": 4}));
    // dedupe kept the 'a' row for the ids both inputs have (order_by src).
    let query = format!(
        "SELECT src FROM parquet.`{}` WHERE id = 4",
        dir.path().join("d").display()
    );
    let rows = query_rows(&engine, &query).await;
    assert_eq!(rows, [serde_json::json!({"src": "a"})]);
}

#[tokio::test]
async fn a_sql_node_without_outputs_runs_as_a_statement() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("written_by_statement");
    let statement = format!(
        "INSERT OVERWRITE DIRECTORY '{}' USING parquet SELECT id FROM range(3)",
        target.display()
    );
    let ctx = Arc::new(project(
        dir.path(),
        vec![sql_node("ddl", &[], &[], &statement)],
        Vec::new(),
    ));
    let window = DateWindow {
        start: date("2025-01-01"),
        end: date("2025-01-03"),
    };
    let runner = SparkNodeRunner::new(engine.clone(), NodeRegistry::new());
    let report = Executor::new(runner)
        .run(ctx, "p", Some(window), &NodeSelection::All)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.node("ddl").unwrap().rows_written, None);
    assert_eq!(count_parquet(&engine, &target).await, 3);

    // Date parameters in a statement are reported, not spliced.
    let statement = format!(
        "INSERT OVERWRITE DIRECTORY '{}' USING parquet SELECT :start_date AS d",
        target.display()
    );
    let ctx = Arc::new(project(
        dir.path(),
        vec![sql_node("ddl", &[], &[], &statement)],
        Vec::new(),
    ));
    let runner = SparkNodeRunner::new(engine.clone(), NodeRegistry::new());
    let report = Executor::new(runner)
        .run(ctx, "p", Some(window), &NodeSelection::All)
        .await
        .unwrap();
    let error = report.node("ddl").unwrap().error.clone().unwrap();
    assert_eq!(error.class, "UNBOUND_SQL_PARAMETER", "{error:?}");
    assert!(error.hint.is_some());
}

#[tokio::test]
async fn a_slow_sql_node_is_cancelled_by_its_timeout() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut slow = sql_node(
        "slow",
        &[],
        &["slow"],
        "SELECT reflect('java.lang.Thread', 'sleep', CAST(120000 AS BIGINT)) AS r FROM range(1)",
    );
    slow.timeout = Some(Duration::from_secs(3));
    let ctx = Arc::new(project(dir.path(), vec![slow], Vec::new()));
    let runner = SparkNodeRunner::new(engine.clone(), NodeRegistry::new());
    let started = Instant::now();
    let report = Executor::new(runner)
        .run(ctx, "p", None, &NodeSelection::All)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.status, RunStatus::Failed);
    let node = report.node("slow").unwrap();
    assert_eq!(node.status, NodeStatus::Failed);
    assert_eq!(node.error.as_ref().unwrap().class, "TIMEOUT");
    // The 120 s query was interrupted on the server, not waited for.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    assert!(!dir.path().join("slow").join("_SUCCESS").exists());
    // The engine is still usable afterwards.
    let session = engine.new_session().await.unwrap();
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
async fn cancelling_the_run_interrupts_spark_and_reports_what_completed() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![
        sql_node("quick", &[], &["quick"], "SELECT id FROM range(3)"),
        sql_node(
            "slow",
            &["quick"],
            &["slow"],
            "SELECT reflect('java.lang.Thread', 'sleep', CAST(120000 AS BIGINT)) AS r FROM quick",
        ),
    ];
    let ctx = Arc::new(project(dir.path(), nodes, Vec::new()));
    let token = tokio_util::sync::CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let executor = Executor::new(SparkNodeRunner::new(engine, NodeRegistry::new()))
        .with_cancel(token.clone())
        .with_events(tx);
    // Ctrl-C once `slow` has started.
    let ctrl_c = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if matches!(&event, tauro_exec::ProgressEvent::NodeStarted { node } if node == "slow") {
                tokio::time::sleep(Duration::from_secs(2)).await;
                token.cancel();
            }
        }
    });
    let started = Instant::now();
    let report = executor
        .run(ctx, "p", None, &NodeSelection::All)
        .await
        .unwrap();
    drop(executor);
    ctrl_c.await.unwrap();
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.node("quick").unwrap().status, NodeStatus::Completed);
    assert_eq!(report.node("slow").unwrap().status, NodeStatus::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "interrupted, not waited for"
    );
}

#[tokio::test]
async fn spark_errors_keep_their_class_and_hint() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let missing = InputConfig {
        name: "missing".into(),
        format: DataFormat::Parquet,
        filepath: Some(dir.path().join("does/not/exist").display().to_string()),
        table: None,
        query: None,
        options: BTreeMap::new(),
        schema: None,
        date_column: None,
        partition_filter: None,
        expectations: Vec::new(),
        kafka: None,
        location: loc("input.yml"),
    };
    let nodes = vec![sql_node(
        "read",
        &["missing"],
        &["out"],
        "SELECT * FROM missing",
    )];
    let ctx = Arc::new(project(dir.path(), nodes, vec![missing]));
    let runner = SparkNodeRunner::new(engine, NodeRegistry::new());
    let report = Executor::new(runner)
        .run(ctx, "p", None, &NodeSelection::All)
        .await
        .unwrap();
    let error = report.node("read").unwrap().error.clone().unwrap();
    assert_eq!(error.class, "PATH_NOT_FOUND", "{error:?}");
    assert!(error.hint.is_some());
    assert!(matches!(*error.error, tauro_exec::Error::Io(_)));
}
