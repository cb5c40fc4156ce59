//! Kafka, rate and console datasets written in the configuration files.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tauro_config::{Context, LoadOptions, StreamTrigger, load_project};
use tauro_exec::{Executor, NodeRegistry, SparkNodeRunner};
use tauro_io::{Error as IoError, SinkFormat, SourceFormat, SparkEngine};
use tauro_streaming::{
    Error, HybridRunner, HybridStatus, IssueKind, StopCondition, StreamingQueryManager,
    StreamingValidator,
};

use super::engine;

/// Writes a YAML project under `dir` (outputs and checkpoints under `dir/out`).
fn write_project(dir: &Path, pipelines: &str, nodes: &str, inputs: &str, outputs: &str) {
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        dir.join("settings_yml.json"),
        r#"{"base_path": ".", "env_config": {"base": {
            "global_settings_path": "config/global_settings.yaml",
            "pipelines_config_path": "config/pipelines.yaml",
            "nodes_config_path": "config/nodes.yaml",
            "input_config_path": "config/input.yaml",
            "output_config_path": "config/output.yaml"}}}"#,
    )
    .unwrap();
    std::fs::write(
        config.join("global_settings.yaml"),
        format!(
            "project_name: formats\ninput_path: {in_}\noutput_path: {out}\n",
            in_ = dir.join("in").display(),
            out = dir.join("out").display()
        ),
    )
    .unwrap();
    for (file, text) in [
        ("pipelines.yaml", pipelines),
        ("nodes.yaml", nodes),
        ("input.yaml", inputs),
        ("output.yaml", outputs),
    ] {
        std::fs::write(config.join(file), text).unwrap();
    }
}

fn load(dir: &Path) -> tauro_config::Result<Context> {
    load_project(&LoadOptions::new(dir))
}

const KAFKA_PIPELINE: &str = "clicks:\n  type: streaming\n  nodes: [relay]\n";
const KAFKA_NODES: &str = "relay:\n  input: [raw_clicks]\n  output: [clean_clicks]\n  \
    sql: SELECT key, value FROM raw_clicks\n  \
    streaming:\n    trigger: {type: continuous, interval: 1 second}\n";
const KAFKA_INPUTS: &str = "raw_clicks:\n  format: kafka\n  options:\n    \
    kafka.bootstrap.servers: localhost:9092\n    subscribe: clicks\n";

#[test]
fn yaml_kafka_to_kafka_pipeline_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_project(
        dir,
        KAFKA_PIPELINE,
        KAFKA_NODES,
        KAFKA_INPUTS,
        "clean_clicks:\n  format: kafka\n  options:\n    \
         kafka.bootstrap.servers: localhost:9092\n    topic: clean_clicks\n",
    );
    let ctx = load(dir).unwrap();
    let specs = StreamingValidator::validate_pipeline(&ctx, "clicks").unwrap();
    assert_eq!(specs.len(), 1);
    let spec = &specs[0];
    assert_eq!(spec.sources[0].format, SourceFormat::Kafka);
    assert_eq!(spec.sources[0].path, None);
    assert_eq!(spec.sources[0].options["subscribe"], "clicks");
    assert_eq!(spec.sink.format, SinkFormat::Kafka);
    assert_eq!(spec.sink.options["topic"], "clean_clicks");
    assert_eq!(
        spec.sink.trigger,
        StreamTrigger::Continuous("1 second".into())
    );
    assert!(
        spec.sink
            .checkpoint_location
            .as_deref()
            .is_some_and(|c| c.ends_with("_checkpoints/clicks/relay")),
        "{:?}",
        spec.sink.checkpoint_location
    );

    // Without its topic the validator refuses the sink...
    let mut no_topic = spec.clone();
    no_topic.sink.options.remove("topic");
    let issues = StreamingValidator::check_one(&no_topic);
    assert_eq!(
        issues.iter().map(|i| i.kind).collect::<Vec<_>>(),
        vec![IssueKind::MissingOption]
    );
    assert!(
        issues[0]
            .to_string()
            .contains("kafka output 'clean_clicks' needs option topic"),
        "{}",
        issues[0]
    );
    // ...and the configuration already does, with the file and line.
    write_project(
        dir,
        KAFKA_PIPELINE,
        KAFKA_NODES,
        KAFKA_INPUTS,
        "clean_clicks:\n  format: kafka\n  options:\n    kafka.bootstrap.servers: localhost:9092\n",
    );
    let err = load(dir).unwrap_err().to_string();
    assert!(
        err.contains("config/output.yaml:3: kafka output 'clean_clicks' needs `topic` (or the option `topic`)"),
        "{err}"
    );
}

#[test]
fn yaml_rate_to_console_and_format_misuse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_project(
        dir,
        "ticks:\n  type: streaming\n  nodes: [show]\n",
        "show:\n  input: [ticks]\n  output: [screen]\n  sql: SELECT value FROM ticks\n  \
         streaming:\n    trigger: {type: continuous, interval: 1 second}\n",
        "ticks:\n  format: rate\n  options: {rowsPerSecond: 5}\n",
        "screen:\n  format: console\n",
    );
    let specs = StreamingValidator::validate_pipeline(&load(dir).unwrap(), "ticks").unwrap();
    assert_eq!(specs[0].sources[0].format, SourceFormat::Rate);
    assert_eq!(specs[0].sources[0].options["rowsPerSecond"], "5");
    assert_eq!(specs[0].sink.format, SinkFormat::Console);

    // A continuous trigger still refuses a file sink.
    write_project(
        dir,
        "ticks:\n  type: streaming\n  nodes: [show]\n",
        "show:\n  input: [ticks]\n  output: [files]\n  sql: SELECT value FROM ticks\n  \
         streaming:\n    trigger: {type: continuous, interval: 1 second}\n",
        "ticks:\n  format: rate\n",
        "files:\n  format: parquet\n  filepath: files\n",
    );
    let issues = StreamingValidator::validate_pipeline(&load(dir).unwrap(), "ticks").unwrap_err();
    assert_eq!(
        issues.iter().map(|i| i.kind).collect::<Vec<_>>(),
        vec![IssueKind::TriggerFormat]
    );

    // A kafka input without a subscription is a configuration error at its line.
    write_project(
        dir,
        KAFKA_PIPELINE,
        KAFKA_NODES,
        "raw_clicks:\n  format: kafka\n  options: {kafka.bootstrap.servers: 'h:9092'}\n",
        "clean_clicks:\n  format: console\n",
    );
    let err = load(dir).unwrap_err().to_string();
    assert!(
        err.contains("config/input.yaml:3: kafka input 'raw_clicks' needs exactly one of `topics`, `topic_pattern`, `assign` (found none)"),
        "{err}"
    );
}

fn runner(engine: &SparkEngine, ctx: Context, pipeline: &str) -> HybridRunner {
    let executor = Executor::new(SparkNodeRunner::new(
        engine.clone(),
        NodeRegistry::with_builtins(),
    ));
    HybridRunner::new(Arc::new(ctx), pipeline, engine.clone(), executor)
        .with_stop_timeout(Duration::from_secs(30))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_rate_source_streams_rows_to_parquet() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_project(
        dir,
        "ticks:\n  type: streaming\n  nodes: [store]\n",
        "store:\n  input: [ticks]\n  output: [tick_files]\n  \
         sql: SELECT timestamp, value FROM ticks\n  \
         streaming:\n    trigger: {type: processing_time, interval: 1 second}\n",
        "ticks:\n  format: rate\n  options: {rowsPerSecond: 20}\n",
        "tick_files:\n  format: parquet\n  filepath: ticks\n",
    );
    let ctx = load(dir).unwrap();
    let report = runner(&engine, ctx, "ticks")
        .with_stop(StopCondition {
            timeout: Some(Duration::from_secs(10)),
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap();
    assert_eq!(report.status, HybridStatus::Succeeded, "{report:#?}");
    assert_eq!(report.stopped_by.as_deref(), Some("timeout"));
    let stream = report.stream("store").unwrap();
    assert!(stream.input_rows > 0, "{report:#?}");

    let session = engine.new_session().await.unwrap();
    let rows = session
        .sql(&format!(
            "SELECT count(*) AS n FROM parquet.`{}`",
            dir.join("out/ticks").display()
        ))
        .await
        .unwrap()
        .collect_json(1)
        .await
        .unwrap();
    assert!(rows[0]["n"].as_u64().unwrap() > 0, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_kafka_source_without_the_package_is_a_clear_error() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_project(
        dir,
        "clicks:\n  type: streaming\n  nodes: [relay]\n",
        "relay:\n  input: [raw_clicks]\n  output: [screen]\n  \
         sql: SELECT CAST(value AS STRING) AS v FROM raw_clicks\n  \
         streaming:\n    trigger: {type: processing_time, interval: 1 second}\n",
        KAFKA_INPUTS,
        "screen:\n  format: console\n",
    );
    let ctx = load(dir).unwrap();
    let specs = StreamingValidator::validate_pipeline(&ctx, "clicks").unwrap();
    let manager = StreamingQueryManager::new(engine.clone());
    let err = manager.start(&ctx, &specs[0]).await.unwrap_err();
    match &err {
        Error::Io(IoError::MissingDataSource {
            format, package, ..
        }) => {
            assert_eq!(format, "kafka");
            assert!(
                package
                    .as_deref()
                    .is_some_and(|p| p.contains("spark-sql-kafka")),
                "{package:?}"
            );
        }
        other => panic!("expected a missing data source, got {other:?}"),
    }
    let Error::Io(io) = &err else { unreachable!() };
    assert!(
        io.hint().is_some_and(|h| h.contains("spark-sql-kafka")),
        "{:?}",
        io.hint()
    );
    manager.stop_all(Duration::from_secs(10)).await;

    // Through the runner: the run fails and the stream's error carries the hint.
    let report = runner(&engine, ctx, "clicks")
        .with_stop(StopCondition {
            timeout: Some(Duration::from_secs(5)),
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap();
    assert_eq!(report.status, HybridStatus::Failed, "{report:#?}");
    let error = report
        .stream("relay")
        .and_then(|s| s.error.clone())
        .unwrap();
    assert!(error.contains("spark-sql-kafka"), "{error}");
}
