//! The hybrid example (`examples/hybrid`) through [`HybridRunner`] on real Spark.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tauro_config::{Context, LoadOptions, StreamTrigger, StreamingSettings, load_project};
use tauro_exec::{Executor, NodeRegistry, NodeStatus, SparkNodeRunner};
use tauro_io::SparkEngine;
use tauro_streaming::{Error, HybridRunner, HybridStatus, StopCondition};

use super::{Collect, engine};

const PIPELINE: &str = "sales_stream";

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hybrid")
}

/// The example project, writing under `out` (outputs and checkpoints).
fn example(out: &Path) -> Context {
    let vars = HashMap::from([("HYBRID_OUTPUT".to_string(), out.display().to_string())]);
    load_project(&LoadOptions::new(example_dir()).with_vars(vars)).unwrap()
}

fn runner(engine: &SparkEngine, ctx: Context) -> HybridRunner {
    let executor = Executor::new(SparkNodeRunner::new(
        engine.clone(),
        NodeRegistry::with_builtins(),
    ));
    HybridRunner::new(Arc::new(ctx), PIPELINE, engine.clone(), executor)
        .with_stop_timeout(Duration::from_secs(30))
}

/// Rows of the streaming sink and how many matched a product.
async fn sink_rows(engine: &SparkEngine, out: &Path) -> u64 {
    let session = engine.new_session().await.unwrap();
    let rows = session
        .sql(&format!(
            "SELECT count(*) AS n FROM parquet.`{}` WHERE product_name IS NOT NULL",
            out.join("stream/enriched_sales").display()
        ))
        .await
        .unwrap()
        .collect_json(1)
        .await
        .unwrap();
    rows[0]["n"].as_u64().unwrap()
}

/// Event rows shipped with the example, and how many of them name a known product.
const EVENT_ROWS: u64 = 8;
const JOINED_ROWS: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_example_until_available() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let collect = Arc::new(Collect::default());
    let report = runner(&engine, example(&out))
        .with_stop(StopCondition {
            until_available: true,
            ..StopCondition::default()
        })
        .with_progress(collect.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(report.status, HybridStatus::Succeeded, "{report:#?}");
    assert_eq!(report.stopped_by.as_deref(), Some("available_now finished"));
    let batch = report.batch.as_ref().unwrap();
    assert!(batch.succeeded());
    assert_eq!(
        batch.node("build_products").map(|n| n.status),
        Some(NodeStatus::Completed)
    );
    // The batch part runs only the batch nodes.
    assert!(batch.node("enrich_events").is_none());
    let stream = report.stream("enrich_events").unwrap();
    assert!(stream.query_id.is_some());
    assert_eq!(stream.query_name.as_deref(), Some("enriched_sales"));
    assert_eq!(stream.sink, "enriched_sales");
    assert_eq!(stream.input_rows, EVENT_ROWS, "{stream:#?}");
    assert!(stream.batches >= 1);
    assert!(stream.last_progress.is_some());
    assert_eq!(stream.error, None);
    assert_eq!(sink_rows(&engine, &out).await, JOINED_ROWS);
    assert!(
        out.join("_checkpoints/sales_stream/enrich_events/offsets")
            .is_dir()
    );
    assert!(
        collect
            .progress
            .lock()
            .unwrap()
            .iter()
            .all(|p| p.key == "sales_stream.enrich_events")
    );
    // The report serialises for `--output json`.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "succeeded");

    // A re-run processes nothing new (same checkpoint), and the batch part runs again.
    let again = runner(&engine, example(&out))
        .with_stop(StopCondition {
            until_available: true,
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap();
    assert_eq!(again.status, HybridStatus::Succeeded);
    assert_eq!(again.stream("enrich_events").unwrap().input_rows, 0);
    assert_eq!(sink_rows(&engine, &out).await, JOINED_ROWS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_failure_starts_no_query() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut ctx = example(&out);
    ctx.inputs.get_mut("products_raw").unwrap().filepath = Some(
        tmp.path()
            .join("missing/products.csv")
            .display()
            .to_string(),
    );
    let report = runner(&engine, ctx)
        .with_stop(StopCondition {
            until_available: true,
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap();
    assert_eq!(report.status, HybridStatus::Failed);
    assert_eq!(report.stopped_by.as_deref(), Some("batch failed"));
    assert!(!report.batch.as_ref().unwrap().succeeded());
    let stream = report.stream("enrich_events").unwrap();
    assert_eq!(stream.query_id, None);
    assert_eq!(stream.batches, 0);
    assert!(!out.join("_checkpoints").exists());
    assert!(!out.join("stream").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_stream_stops_at_the_timeout_with_progress() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut ctx = example(&out);
    ctx.nodes.get_mut("enrich_events").unwrap().streaming = Some(StreamingSettings {
        trigger: StreamTrigger::ProcessingTime("1 second".into()),
        query_name: Some("enriched_sales".into()),
        ..StreamingSettings::default()
    });

    // until_available cannot end a processing-time stream: refused before anything runs.
    let err = runner(&engine, ctx.clone())
        .with_stop(StopCondition {
            until_available: true,
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::NeverEnds { nodes } if nodes == &["enrich_events"]));
    assert!(err.hint().unwrap().contains("--timeout"));
    assert!(!out.exists());

    let collect = Arc::new(Collect::default());
    let started = std::time::Instant::now();
    let report = runner(&engine, ctx)
        .with_stop(StopCondition {
            timeout: Some(Duration::from_secs(20)),
            ..StopCondition::default()
        })
        .with_progress(collect.clone())
        .run()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(20));
    assert_eq!(report.status, HybridStatus::Succeeded, "{report:#?}");
    assert_eq!(report.stopped_by.as_deref(), Some("timeout"));
    let stream = report.stream("enrich_events").unwrap();
    assert_eq!(stream.error, None);
    assert_eq!(stream.input_rows, EVENT_ROWS, "{stream:#?}");
    assert!(stream.batches >= 1);
    assert!(stream.last_progress.is_some());
    assert!(!collect.progress.lock().unwrap().is_empty());
    assert_eq!(sink_rows(&engine, &out).await, JOINED_ROWS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_the_streams_start() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cancel = tokio_util::sync::CancellationToken::new();
    cancel.cancel();
    let report = runner(&engine, example(&out))
        .with_stop(StopCondition {
            cancel: Some(cancel),
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap();
    assert_eq!(report.status, HybridStatus::Cancelled);
    assert_eq!(report.stopped_by.as_deref(), Some("cancelled"));
    assert_eq!(report.stream("enrich_events").unwrap().query_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_query_ends_the_phase_as_failed() {
    let Some(engine) = engine().await else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let events = tmp.path().join("events");
    std::fs::create_dir_all(&events).unwrap();
    std::fs::write(events.join("bad.json"), "{\"event_id\": \"not json\n").unwrap();
    let mut ctx = example(&out);
    let input = ctx.inputs.get_mut("sales_events").unwrap();
    input.filepath = Some(events.display().to_string());
    input.options.insert("mode".into(), "FAILFAST".into());
    let report = runner(&engine, ctx)
        .with_stop(StopCondition {
            timeout: Some(Duration::from_secs(120)),
            ..StopCondition::default()
        })
        .run()
        .await
        .unwrap();
    assert_eq!(report.status, HybridStatus::Failed, "{report:#?}");
    assert_eq!(report.stopped_by.as_deref(), Some("query failed"));
    assert!(report.batch.as_ref().unwrap().succeeded());
    let stream = report.stream("enrich_events").unwrap();
    assert!(stream.query_id.is_some());
    assert!(stream.error.is_some(), "{stream:#?}");
}
