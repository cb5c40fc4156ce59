//! Lineage records, files, rendering and OpenLineage events, with a fake runner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::error::Error;
use crate::executor::Executor;
use crate::hooks::{EventKind, LifecycleEvent};
use crate::registry::BoxFuture;
use crate::report::RunStatus;
use crate::retry::RetryPolicy;
use crate::runner::{NodeJob, NodeOutcome, NodeRunner, WrittenOutput};
use crate::selection::NodeSelection;
use crate::testutil::{context, io};
use crate::{RunInfo, RunReport};

fn fields(cols: &[(&str, &str)]) -> Vec<SchemaField> {
    cols.iter()
        .map(|(n, t)| SchemaField {
            name: (*n).into(),
            data_type: (*t).into(),
            nullable: true,
        })
        .collect()
}

fn base_schema() -> Vec<SchemaField> {
    fields(&[("id", "bigint"), ("amount", "int"), ("note", "string")])
}

/// Succeeds like the Spark runner would (lineage included), except for the nodes in `fail`
/// (always) and `flaky` (first attempt). Node `n` writes `rows(n)` rows per output; its
/// output schema is the input's with `amount` widened to double, `note` dropped and a
/// `<node>_flag` column added.
struct LineageFake {
    fail: HashSet<String>,
    flaky: HashSet<String>,
}

fn rows(node: &str) -> u64 {
    10 * node.len() as u64
}

impl NodeRunner for LineageFake {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, crate::Result<NodeOutcome>> {
        Box::pin(async move {
            let node = job.node().clone();
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail.contains(&node.name)
                || (self.flaky.contains(&node.name) && job.attempt() == 1)
            {
                return Err(Error::function(format!("{} failed on purpose", node.name)));
            }
            let ctx = job.context();
            let inputs: Vec<DatasetLineage> = node
                .input
                .iter()
                .map(|i| DatasetLineage {
                    schema: Some(base_schema()),
                    ..DatasetLineage::configured(ctx, i, true)
                })
                .collect();
            let mut out_schema = fields(&[("id", "bigint"), ("AMOUNT", "double")]);
            out_schema.push(SchemaField {
                name: format!("{}_flag", node.name),
                data_type: "boolean".into(),
                nullable: false,
            });
            let written: Vec<WrittenOutput> = node
                .output
                .iter()
                .map(|o| WrittenOutput {
                    output: o.clone(),
                    destination: format!("/tmp/out/{o}"),
                    rows: Some(rows(&node.name)),
                })
                .collect();
            let outputs = written
                .iter()
                .map(|w| DatasetLineage {
                    schema: Some(out_schema.clone()),
                    rows: w.rows,
                    rows_source: Some(RowsSource::Write),
                    ..DatasetLineage::configured(ctx, &w.output, false)
                })
                .collect();
            Ok(NodeOutcome {
                metrics: Default::default(),
                expectations: Vec::new(),
                outputs: written,
                lineage: Some(NodeLineage {
                    attempt: job.attempt(),
                    inputs,
                    outputs,
                    timings: AttemptTimings::default(),
                    expectations: Vec::new(),
                }),
                spark: None,
            })
        })
    }
}

/// `src` writes `raw`; `wide`, `flaky` and `broken` read it in parallel; `wide` also reads
/// the external input `ext`; `after` reads `broken`'s output (so it is skipped).
async fn fan_out_run() -> (Arc<tauro_config::Context>, RunReport) {
    let nodes = vec![
        io("src", &[], &["raw"]),
        io("wide", &["raw", "ext"], &["wide_out"]),
        io("flaky", &["raw"], &["flaky_out"]),
        io("broken", &["raw"], &["broken_out"]),
        io("after", &["broken_out"], &["after_out"]),
    ];
    let ctx = Arc::new(context(nodes));
    let runner = LineageFake {
        fail: HashSet::from(["broken".to_string()]),
        flaky: HashSet::from(["flaky".to_string()]),
    };
    let report = Executor::new(runner)
        .with_max_workers(4)
        .with_continue_on_error(true)
        .with_retry(
            RetryPolicy::default()
                .with_max_retries(1)
                .with_base_delay(Duration::from_millis(1)),
        )
        .with_run_id("20250101T000000Z-abcdef")
        .run(Arc::clone(&ctx), "p", None, &NodeSelection::All)
        .await
        .unwrap();
    (ctx, report)
}

#[test]
fn schema_diff_reports_added_removed_and_retyped_columns() {
    let before = base_schema();
    let after = fields(&[("ID", "bigint"), ("amount", "double"), ("flag", "boolean")]);
    let d = SchemaDiff::between("in", &before, "out", &after);
    assert_eq!(d.input, "in");
    assert_eq!(d.output, "out");
    assert_eq!(d.added, fields(&[("flag", "boolean")]));
    assert_eq!(d.removed, fields(&[("note", "string")]));
    assert_eq!(
        d.type_changed,
        [TypeChange {
            column: "amount".into(),
            before: "int".into(),
            after: "double".into()
        }]
    );
    assert!(!d.is_empty());
    assert!(SchemaDiff::between("a", &before, "b", &before).is_empty());
}

#[tokio::test]
async fn a_parallel_run_keeps_each_nodes_lineage_apart() {
    let (ctx, report) = fan_out_run().await;
    assert_eq!(report.run_id, "20250101T000000Z-abcdef");
    assert_eq!(report.status, RunStatus::Failed);
    // Every successful node carries its own record, from its own (last) attempt.
    for name in ["src", "wide", "flaky"] {
        let r = report.node(name).unwrap();
        let l = r.lineage.as_ref().unwrap();
        assert_eq!(l.attempt, r.attempts, "{name}");
        assert_eq!(l.outputs[0].rows, Some(rows(name)), "{name}");
        assert_eq!(
            l.outputs[0].schema.as_ref().unwrap()[2].name,
            format!("{name}_flag")
        );
    }
    assert!(report.node("broken").unwrap().lineage.is_none());

    let lineage = RunLineage::from_report(&ctx, &report);
    assert_eq!(lineage.schema_version, LINEAGE_SCHEMA_VERSION);
    assert_eq!(lineage.run_id, report.run_id);
    assert_eq!(lineage.status, "failed");
    assert_eq!(lineage.summary.nodes, 5);
    assert_eq!(lineage.summary.by_status["completed"], 3);
    assert_eq!(lineage.summary.by_status["failed"], 1);
    assert_eq!(lineage.summary.by_status["skipped"], 1);
    assert_eq!(
        lineage.summary.rows_written,
        rows("src") + rows("wide") + rows("flaky")
    );

    let wide = lineage.node("wide").unwrap();
    assert_eq!(wide.lineage_attempt, Some(1));
    // `raw` was replaced entirely by `src` in this run: rows read are known; `ext` is an
    // external input: unknown, so the total is unknown too.
    assert_eq!(wide.inputs[0].rows, Some(rows("src")));
    assert_eq!(wide.inputs[0].rows_source, Some(RowsSource::UpstreamWrite));
    assert_eq!(wide.inputs[1].rows, None);
    assert_eq!(wide.rows_read, None);
    assert_eq!(wide.row_delta, None);
    assert_eq!(wide.rows_written, Some(rows("wide")));
    let diff = wide.schema_diff.as_ref().unwrap();
    assert_eq!(
        (diff.input.as_str(), diff.output.as_str()),
        ("raw", "wide_out")
    );
    assert_eq!(
        diff.added,
        fields(&[("wide_flag", "boolean")])
            .into_iter()
            .map(|mut f| {
                f.nullable = false;
                f
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(diff.removed, fields(&[("note", "string")]));
    assert_eq!(diff.type_changed[0].column, "AMOUNT");

    let flaky = lineage.node("flaky").unwrap();
    assert_eq!((flaky.attempts, flaky.lineage_attempt), (2, Some(2)));
    assert_eq!(flaky.rows_read, Some(rows("src")));
    assert_eq!(
        flaky.row_delta,
        Some(rows("flaky") as i64 - rows("src") as i64)
    );
    assert_eq!(
        flaky.inputs[0].location.as_deref(),
        Some("/tmp/out/raw"),
        "read back from where src wrote it"
    );

    // Failed and skipped nodes: configured datasets, the error, no schemas.
    let broken = lineage.node("broken").unwrap();
    assert_eq!(broken.status, "failed");
    assert!(
        broken
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("failed on purpose")
    );
    assert_eq!(broken.outputs[0].dataset, "broken_out");
    assert_eq!(broken.outputs[0].kind, Some(DatasetKind::File));
    assert!(broken.outputs[0].schema.is_none());
    assert_eq!(broken.lineage_attempt, None);
    let after = lineage.node("after").unwrap();
    assert_eq!(after.status, "skipped");
    assert_eq!(after.inputs[0].rows, None, "broken wrote nothing");
}

#[tokio::test]
async fn lineage_files_are_written_atomically_and_read_back() {
    let (mut ctx, report) = fan_out_run().await;
    let dir = tempfile::tempdir().unwrap();
    Arc::make_mut(&mut ctx).project_dir = dir.path().to_path_buf();
    let path = write_lineage(&ctx, &report).unwrap();
    assert_eq!(
        path,
        dir.path()
            .join(".tauro/lineage/20250101T000000Z-abcdef.json")
    );
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["20250101T000000Z-abcdef.json"], "no temp file left");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["nodes"][1]["node"], "wide");
    assert_eq!(
        json["nodes"][1]["inputs"][0]["rows_source"],
        "upstream_write"
    );
    assert_eq!(
        json["nodes"][1]["outputs"][0]["schema"][0]["type"],
        "bigint"
    );

    let expected = RunLineage::from_report(&ctx, &report);
    assert_eq!(read_lineage(dir.path(), &report.run_id).unwrap(), expected);

    // A second, later run; `latest` and the listing follow start times.
    let mut later = expected.clone();
    later.run_id = "20250102T000000Z-000001".into();
    later.started_at += chrono::Duration::days(1);
    LineageWriter::new(dir.path()).write(&later).unwrap();
    std::fs::write(path.parent().unwrap().join("junk.json"), "{not json").unwrap();
    let listed: Vec<String> = list_lineage(dir.path())
        .unwrap()
        .into_iter()
        .map(|e| e.run_id)
        .collect();
    assert_eq!(
        listed,
        ["20250101T000000Z-abcdef", "20250102T000000Z-000001"]
    );
    assert_eq!(
        read_lineage(dir.path(), "latest").unwrap().run_id,
        later.run_id
    );

    let err = read_lineage(dir.path(), "nope").unwrap_err();
    assert!(matches!(err, LineageStoreError::NotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("recent runs: 20250102T000000Z-000001, 20250101T000000Z-abcdef"),
        "{err}"
    );
    let err = read_lineage(dir.path(), "../../etc/passwd").unwrap_err();
    assert!(matches!(err, LineageStoreError::InvalidRunId(_)), "{err}");
    assert!(matches!(
        read_lineage(dir.path(), "junk").unwrap_err(),
        LineageStoreError::Parse { .. }
    ));
    let mut bad = later.clone();
    bad.run_id = "a/b".into();
    assert!(matches!(
        LineageWriter::new(dir.path()).write(&bad).unwrap_err(),
        LineageStoreError::InvalidRunId(_)
    ));
    let mut future = serde_json::to_value(&later).unwrap();
    future["schema_version"] = 2.into();
    future["run_id"] = "future".into();
    std::fs::write(
        path.parent().unwrap().join("future.json"),
        serde_json::to_vec(&future).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        read_lineage(dir.path(), "future").unwrap_err(),
        LineageStoreError::UnsupportedVersion { found: 2, .. }
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(list_lineage(empty.path()).unwrap().is_empty());
    assert!(matches!(
        read_lineage(empty.path(), "latest").unwrap_err(),
        LineageStoreError::Empty(_)
    ));
}

#[tokio::test]
async fn the_table_shows_every_node_and_dataset() {
    let (ctx, report) = fan_out_run().await;
    let table = RunLineage::from_report(&ctx, &report).to_table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("run 20250101T000000Z-abcdef  pipeline p  failed"),
        "{table}"
    );
    assert!(table.contains("NODE    STATUS     ATTEMPT"), "{table}");
    let flaky = lines.iter().find(|l| l.starts_with("flaky ")).unwrap();
    assert!(
        flaky.contains("completed") && flaky.contains(" 2 "),
        "{flaky}"
    );
    assert!(flaky.contains("+1 -1 ~1 cols"), "{flaky}");
    assert!(
        table.contains(
            "  in  raw (/tmp/out/raw), 30 rows (upstream write): id bigint, amount int, note string"
        ),
        "{table}"
    );
    assert!(
        table.contains(
            "  schema raw -> wide_out: added wide_flag; removed note; AMOUNT int -> double"
        ),
        "{table}"
    );
    assert!(
        table.contains("  error [FUNCTION_FAILED]: broken failed on purpose"),
        "{table}"
    );
}

#[tokio::test]
async fn openlineage_events_follow_the_spec() {
    let (ctx, report) = fan_out_run().await;
    let hook = OpenLineageHook::new(
        Arc::clone(&ctx),
        OpenLineageTarget::File("/dev/null".into()),
    )
    .with_namespace("shop");
    let run = RunInfo::new(report.run_id.clone(), "p");
    let event = |kind| LifecycleEvent::new(&run, kind);

    let start = hook
        .run_event(&event(EventKind::NodeStart {
            node: "wide".into(),
            attempt: 1,
        }))
        .unwrap();
    assert_eq!(start["eventType"], "START");
    assert_eq!(start["job"]["namespace"], "shop");
    assert_eq!(start["job"]["name"], "p.wide");
    assert_eq!(start["schemaURL"], SCHEMA_URL_FOR_TESTS);
    assert!(start["producer"].as_str().unwrap().starts_with("https://"));
    let node_run = openlineage_run_id(&report.run_id, Some("wide"));
    assert_eq!(start["run"]["runId"], node_run.as_str());
    assert_eq!(
        start["run"]["facets"]["parent"]["run"]["runId"],
        openlineage_run_id(&report.run_id, None).as_str()
    );
    assert_eq!(start["run"]["facets"]["parent"]["job"]["name"], "p");
    assert_eq!(start["inputs"][0]["namespace"], "file");
    assert_eq!(start["inputs"][0]["name"], "/tmp/out/raw");
    assert_eq!(start["inputs"][1]["name"], "/tmp/in/ext");
    assert_eq!(start["outputs"][0]["name"], "/tmp/out/wide_out");
    assert!(start["eventTime"].as_str().unwrap().ends_with('Z'));

    let complete = hook
        .run_event(&event(EventKind::NodeComplete(
            report.node("wide").unwrap().clone(),
        )))
        .unwrap();
    assert_eq!(complete["eventType"], "COMPLETE");
    assert_eq!(
        complete["run"]["runId"],
        node_run.as_str(),
        "same run as START"
    );
    let schema = &complete["outputs"][0]["facets"]["schema"];
    assert_eq!(
        schema["fields"][1],
        serde_json::json!({"name": "AMOUNT", "type": "double"})
    );
    assert!(
        schema["_schemaURL"]
            .as_str()
            .unwrap()
            .contains("SchemaDatasetFacet")
    );
    assert_eq!(
        complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
        rows("wide")
    );
    assert_eq!(
        complete["inputs"][0]["facets"]["schema"]["fields"][2]["name"],
        "note"
    );

    let fail = hook
        .run_event(&event(EventKind::NodeError(
            report.node("broken").unwrap().clone(),
        )))
        .unwrap();
    assert_eq!(fail["eventType"], "FAIL");
    assert!(
        fail["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap()
            .contains("failed on purpose")
    );
    assert!(
        hook.run_event(&event(EventKind::NodeSkipped(
            report.node("after").unwrap().clone()
        )))
        .is_none(),
        "a skipped node never ran"
    );
    let pipeline = hook
        .run_event(&event(EventKind::PipelineError {
            status: RunStatus::Failed,
            duration: Duration::from_secs(1),
            stop_reason: None,
        }))
        .unwrap();
    assert_eq!(pipeline["eventType"], "FAIL");
    assert_eq!(pipeline["job"]["name"], "p");
    assert!(pipeline["run"]["facets"].get("parent").is_none());
}

const SCHEMA_URL_FOR_TESTS: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

#[test]
fn openlineage_run_ids_are_deterministic_uuids() {
    let a = openlineage_run_id("r1", Some("n"));
    assert_eq!(a, openlineage_run_id("r1", Some("n")));
    assert_ne!(a, openlineage_run_id("r1", Some("m")));
    assert_ne!(a, openlineage_run_id("r1", None));
    let parts: Vec<&str> = a.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('8'), "version 8: {a}");
    assert!(
        matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
        "RFC variant: {a}"
    );
    assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
}
