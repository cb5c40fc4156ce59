//! Lineage and lifecycle events of a parallel run on real Spark (a module of the
//! `spark_runner` test binary: `super::` holds the shared helpers).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tauro_exec::{
    EventBus, Executor, HookOptions, NodeRegistry, NodeSelection, OpenLineageHook,
    OpenLineageTarget, RowsSource, RunStatus, SparkNodeRunner, read_lineage, write_lineage,
};
use tauro_io::SparkEngine;

use super::{count_parquet, engine, project, sql_node};

/// Name and type of every column of the parquet files at `path`, read back by Spark.
async fn parquet_schema(engine: &SparkEngine, path: &Path) -> Vec<(String, String)> {
    let session = engine.new_session().await.unwrap();
    let query = format!("SELECT * FROM parquet.`{}`", path.display());
    let frame = session.sql(&query).await.unwrap();
    frame
        .schema_fields()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.data_type))
        .collect()
}

fn names_and_types(fields: Option<&Vec<tauro_exec::SchemaField>>) -> Vec<(String, String)> {
    fields
        .unwrap()
        .iter()
        .map(|f| (f.name.clone(), f.data_type.clone()))
        .collect()
}

#[tokio::test]
async fn a_parallel_runs_lineage_matches_what_spark_reads_back() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    // extract → (by_grp, evens, copies) in parallel; `copies` writes one result twice.
    let nodes = vec![
        sql_node(
            "extract",
            &[],
            &["raw"],
            "SELECT id, id % 3 AS grp, concat('n', id) AS name, id * 1.5 AS amount \
             FROM range(20)",
        ),
        sql_node(
            "by_grp",
            &["raw"],
            &["by_grp"],
            "SELECT grp, count(*) AS n, sum(amount) AS total FROM raw GROUP BY grp",
        ),
        sql_node(
            "evens",
            &["raw"],
            &["evens"],
            "SELECT id, name, CAST(amount AS INT) AS amount, true AS even FROM raw \
             WHERE id % 2 = 0",
        ),
        sql_node(
            "copies",
            &["raw"],
            &["copy_a", "copy_b"],
            "SELECT * FROM raw WHERE id < 5",
        ),
    ];
    let ctx = Arc::new(project(dir.path(), nodes, Vec::new()));
    let ol_path = dir.path().join("openlineage.jsonl");
    let bus = EventBus::new();
    bus.register(
        OpenLineageHook::new(Arc::clone(&ctx), OpenLineageTarget::File(ol_path.clone())),
        HookOptions::default(),
    );
    let runner =
        SparkNodeRunner::new(engine.clone(), NodeRegistry::with_builtins()).with_sample_rows(2);
    let report = Executor::new(runner)
        .with_max_workers(3)
        .with_run_id("it-lineage-1")
        .with_events(bus.clone())
        .run(Arc::clone(&ctx), "p", None, &NodeSelection::All)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(report.run_id, "it-lineage-1");

    let path = write_lineage(&ctx, &report).unwrap();
    assert_eq!(path, dir.path().join(".tauro/lineage/it-lineage-1.json"));
    let lineage = read_lineage(dir.path(), "latest").unwrap();
    assert_eq!(lineage.run_id, "it-lineage-1");
    assert_eq!(lineage.summary.by_status["completed"], 4);

    // Every output: the schema and row count Spark reads back from the files.
    for record in &lineage.nodes {
        assert_eq!(record.lineage_attempt, Some(1), "{}", record.node);
        assert!(record.timings.is_some());
        let mut total = 0;
        for out in &record.outputs {
            let files = dir.path().join(&out.dataset);
            assert_eq!(out.location.as_deref(), Some(files.to_str().unwrap()));
            let rows = count_parquet(&engine, &files).await;
            assert_eq!(out.rows, Some(rows), "{}.{}", record.node, out.dataset);
            assert_eq!(out.rows_source, Some(RowsSource::Write));
            assert_eq!(
                names_and_types(out.schema.as_ref()),
                parquet_schema(&engine, &files).await,
                "{}.{}",
                record.node,
                out.dataset
            );
            assert_eq!(
                out.sample.as_ref().map(Vec::len),
                Some(2.min(rows as usize))
            );
            total += rows;
        }
        assert_eq!(record.rows_written, Some(total), "{}", record.node);
    }

    // Inputs: the schema the node saw, and the rows `extract` wrote in this run.
    let raw_schema = parquet_schema(&engine, &dir.path().join("raw")).await;
    assert_eq!(
        raw_schema,
        [
            ("id".to_string(), "bigint".to_string()),
            ("grp".into(), "bigint".into()),
            ("name".into(), "string".into()),
            ("amount".into(), "decimal(23,1)".into()),
        ]
    );
    let evens = lineage.node("evens").unwrap();
    assert_eq!(names_and_types(evens.inputs[0].schema.as_ref()), raw_schema);
    assert_eq!(evens.inputs[0].rows, Some(20));
    assert_eq!(evens.inputs[0].rows_source, Some(RowsSource::UpstreamWrite));
    assert_eq!(evens.rows_read, Some(20));
    assert_eq!(evens.rows_written, Some(10));
    assert_eq!(evens.row_delta, Some(-10));
    let diff = evens.schema_diff.as_ref().unwrap();
    let added: Vec<&str> = diff.added.iter().map(|f| f.name.as_str()).collect();
    let removed: Vec<&str> = diff.removed.iter().map(|f| f.name.as_str()).collect();
    assert_eq!((added, removed), (vec!["even"], vec!["grp"]));
    assert_eq!(diff.type_changed.len(), 1);
    assert_eq!(diff.type_changed[0].column, "amount");
    assert_eq!(diff.type_changed[0].after, "int");
    let by_grp = lineage.node("by_grp").unwrap();
    assert_eq!(by_grp.rows_written, Some(3));
    assert_eq!(by_grp.row_delta, Some(3 - 20));
    let copies = lineage.node("copies").unwrap();
    assert_eq!(copies.rows_written, Some(10));
    assert!(copies.schema_diff.as_ref().unwrap().is_empty());
    let sample = &evens.outputs[0].sample.as_ref().unwrap()[0];
    assert!(sample.get("even").is_some(), "{sample}");

    // OpenLineage: START then COMPLETE per node, with the same schemas.
    let flushed = bus.flush(Duration::from_secs(10)).await;
    assert!(flushed.complete, "{flushed:?}");
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&ol_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events.len(),
        2 + 2 * 4,
        "pipeline + 4 nodes, START and COMPLETE each"
    );
    let complete = events
        .iter()
        .find(|e| e["eventType"] == "COMPLETE" && e["job"]["name"] == "p.evens")
        .unwrap();
    assert_eq!(
        complete["outputs"][0]["name"],
        dir.path().join("evens").to_str().unwrap()
    );
    assert_eq!(complete["outputs"][0]["namespace"], "file");
    assert_eq!(
        complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
        10
    );
    let fields = complete["outputs"][0]["facets"]["schema"]["fields"]
        .as_array()
        .unwrap();
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        parquet_schema(&engine, &dir.path().join("evens")).await
    );
}

#[tokio::test]
async fn lineage_can_be_turned_off() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![sql_node("one", &[], &["one"], "SELECT 1 AS x")];
    let ctx = Arc::new(project(dir.path(), nodes, Vec::new()));
    let runner = SparkNodeRunner::new(engine, NodeRegistry::with_builtins()).with_lineage(
        tauro_exec::LineageOptions {
            enabled: false,
            sample_rows: 0,
        },
    );
    let report = Executor::new(runner)
        .run(ctx, "p", None, &NodeSelection::All)
        .await
        .unwrap();
    assert!(report.succeeded());
    let node = report.node("one").unwrap();
    assert_eq!(node.rows_written, Some(1));
    assert!(node.lineage.is_none());
}
