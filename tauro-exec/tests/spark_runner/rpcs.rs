//! The Spark Connect RPCs each node sends, as its report shows them (a module of the
//! `spark_runner` test binary). See BENCHMARKS.md for what each one is for.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tauro_config::{Context, Sources};
use tauro_exec::{Executor, NodeRegistry, NodeSelection, RunReport, SparkNodeRunner};
use tauro_io::{EngineOptions, SparkEngine};

use super::engine;

/// `extract` (no input) → `clean` (one input) → `checked` (one input, two expectations)
/// → `checked_again` (same): a chain, so the RPCs of each node are deterministic.
fn project(dir: &std::path::Path) -> Context {
    let out = |name: &str| {
        json!({"format": "parquet", "filepath": dir.join(name).display().to_string(),
               "write_mode": "overwrite"})
    };
    let expectations = json!([
        {"name": "id_set", "not_null": ["id"], "action": "warn"},
        {"name": "few", "row_count": {"max": 100}, "action": "fail"}
    ]);
    let mut sources = Sources::new(
        json!({"input_path": dir.display().to_string(), "output_path": dir.display().to_string()}),
        json!({"p": {"nodes": ["extract", "clean", "checked", "checked_again"],
                     "requires_dates": false}}),
        json!({
            "extract": {"sql": "SELECT id, id % 3 AS grp FROM range(10)", "output": ["raw"]},
            "clean": {"input": ["raw"], "sql": "SELECT * FROM raw WHERE grp > 0",
                      "output": ["clean"]},
            "checked": {"input": ["clean"], "sql": "SELECT * FROM clean", "output": ["checked"],
                        "expectations": expectations},
            "checked_again": {"input": ["checked"], "sql": "SELECT * FROM checked",
                              "output": ["checked_again"], "expectations": expectations}
        }),
        json!({}),
        json!({"raw": out("raw"), "clean": out("clean"), "checked": out("checked"),
               "checked_again": out("checked_again")}),
    );
    sources.project_dir = dir.to_path_buf();
    Context::from_sources(sources, "base").unwrap()
}

async fn run(engine: &SparkEngine, ctx: Context) -> RunReport {
    Executor::new(SparkNodeRunner::new(
        engine.clone(),
        NodeRegistry::with_builtins(),
    ))
    .run(Arc::new(ctx), "p", None, &NodeSelection::All)
    .await
    .unwrap()
}

fn kinds(report: &RunReport, node: &str) -> BTreeMap<String, u64> {
    let spark = report.node(node).unwrap().spark.clone();
    let spark = spark.unwrap_or_else(|| panic!("node {node} has no RPC counts"));
    assert_eq!(spark.rpcs, spark.by_kind.values().sum::<u64>());
    assert!(spark.rpc_secs > 0.0, "{spark:?}");
    spark.by_kind
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[tokio::test]
async fn every_node_reports_its_rpcs_by_kind() {
    let Some(plain) = engine().await else { return };
    // Two session confs: sent together, in one Config RPC per node.
    let mut options = EngineOptions::default();
    options
        .session_conf
        .insert("spark.sql.session.timeZone".into(), "UTC".into());
    options
        .session_conf
        .insert("spark.sql.ansi.enabled".into(), "true".into());
    let engine = SparkEngine::connect(plain.remote(), options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = run(&engine, project(dir.path())).await;
    assert!(report.succeeded(), "{report:#?}");
    // Session confs; the write; the output's schema for lineage (the session's release
    // follows the attempt, in the background, and is not counted).
    assert_eq!(
        kinds(&report, "extract"),
        expect(&[("Config", 1), ("ExecutePlan", 1), ("AnalyzePlan", 1)])
    );
    // + the input: its temp view (which analyses the read) and its schema, read from the view.
    // `clean` may run in `extract`'s session, handed on with the confs already set.
    let mut clean = kinds(&report, "clean");
    let reused = !clean.contains_key("Config");
    clean.entry("Config".into()).or_insert(1);
    assert_eq!(
        clean,
        expect(&[("Config", 1), ("ExecutePlan", 2), ("AnalyzePlan", 2)])
    );
    // + the check: the view of the checked rows, the one check query, and adaptive
    // execution off and back on (the first check of the engine also reads its value).
    assert_eq!(
        kinds(&report, "checked"),
        expect(&[("Config", 4), ("ExecutePlan", 4), ("AnalyzePlan", 2)])
    );
    assert_eq!(
        kinds(&report, "checked_again"),
        expect(&[("Config", 3), ("ExecutePlan", 4), ("AnalyzePlan", 2)])
    );
    let checked = &report.node("checked_again").unwrap().expectations;
    assert_eq!(checked.len(), 2);
    assert!(checked.iter().all(|e| e.passed), "{checked:?}");
    assert_eq!(checked[0].total_rows, 6);
    // A temporary conf is put back: the value this engine's sessions start with, known now
    // (read by the first check), so the change costs two Config RPCs.
    let session = engine.new_session().await.unwrap();
    let before = session.rpc_stats().count(tauro_io::RpcKind::Config);
    let key = "spark.sql.adaptive.enabled";
    let inside = session
        .with_conf(key, "false", session.get_conf(key))
        .await
        .unwrap();
    assert_eq!(inside.as_deref(), Some("false"));
    let after = session.rpc_stats().count(tauro_io::RpcKind::Config);
    assert_eq!(after - before, 3, "set, get (ours), restore");
    assert_eq!(
        session.get_conf(key).await.unwrap().as_deref(),
        Some("true")
    );
    let json = serde_json::to_value(report.node("clean").unwrap()).unwrap();
    assert_eq!(json["spark"]["by_kind"]["AnalyzePlan"], 2, "{json}");
    assert_eq!(json["spark"]["rpcs"], if reused { 4 } else { 5 }, "{json}");
}

/// `a` → `b` → `pause` → `c`: `pause` (an expectation, so its session is not reused)
/// sleeps 1 s, so `c` starts when the sessions of `a` and `b` are back in the pool, reset;
/// `b` made its input view `a_out` in its session, and `c` reads `a_out` without declaring
/// it.
fn reuse_project(dir: &std::path::Path) -> Context {
    let out = |name: &str| {
        json!({"format": "parquet", "filepath": dir.join(name).display().to_string(),
               "write_mode": "overwrite"})
    };
    let mut sources = Sources::new(
        json!({"input_path": dir.display().to_string(), "output_path": dir.display().to_string()}),
        json!({"p": {"nodes": ["a", "b", "pause", "c"], "requires_dates": false}}),
        json!({
            "a": {"sql": "SELECT id FROM range(5)", "output": ["a_out"]},
            "b": {"input": ["a_out"], "sql": "SELECT id FROM a_out", "output": ["b_out"],
                  "dependencies": ["a"]},
            "pause": {"sql": "SELECT reflect('java.lang.Thread', 'sleep', CAST(1000 AS BIGINT)) AS z",
                      "output": ["p_out"], "dependencies": ["b"],
                      "expectations": [{"name": "one", "row_count": {"max": 1}, "action": "fail"}]},
            "c": {"input": ["b_out"], "sql": "SELECT id FROM a_out", "output": ["c_out"],
                  "dependencies": ["pause"]}
        }),
        json!({}),
        json!({"a_out": out("a_out"), "b_out": out("b_out"), "p_out": out("p_out"),
               "c_out": out("c_out")}),
    );
    sources.project_dir = dir.to_path_buf();
    Context::from_sources(sources, "base").unwrap()
}

#[tokio::test]
async fn a_reused_session_keeps_no_view_of_its_earlier_node() {
    let Some(plain) = engine().await else { return };
    let engine = SparkEngine::connect(plain.remote(), EngineOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = run(&engine, reuse_project(dir.path())).await;
    // `c` ran in a reused session: at most `a`, `b` and `pause` made one.
    assert!(engine.sessions_made() <= 3, "{}", engine.sessions_made());
    // ... where `b`'s view `a_out` was dropped: `c` fails as in a new session.
    let c = report.node("c").unwrap();
    let error = c
        .error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        error.contains("TABLE_OR_VIEW_NOT_FOUND") && error.contains("a_out"),
        "{report:#?}"
    );
    assert_eq!(report.node("b").unwrap().status.to_string(), "completed");
}
