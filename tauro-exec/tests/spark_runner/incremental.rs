//! Incremental runs, plans and resume on real Spark (a module of the `spark_runner` test
//! binary: `super::` holds the shared helpers).

use std::path::Path;
use std::sync::Arc;

use tauro_config::{Context, NodeCompute, NodeConfig};
use tauro_exec::{
    Executor, IncrementalRun, NodeRegistry, NodeStatus, PlanAction, PlanReason, RunState,
    SparkNodeRunner, StateDir,
};
use tauro_io::SparkEngine;

use super::{engine, project, sql_node};

fn executor(engine: &SparkEngine) -> Executor {
    Executor::new(SparkNodeRunner::new(
        engine.clone(),
        NodeRegistry::with_builtins(),
    ))
}

fn nodes() -> Vec<NodeConfig> {
    vec![
        sql_node(
            "extract",
            &[],
            &["raw"],
            "SELECT id, id % 3 AS grp, concat('n', id) AS name FROM range(12)",
        ),
        sql_node(
            "clean",
            &["raw"],
            &["clean"],
            "SELECT id, grp, name FROM raw WHERE id >= 2",
        ),
        sql_node(
            "summary",
            &["clean"],
            &["summary"],
            "SELECT grp, count(*) AS n FROM clean GROUP BY grp",
        ),
        sql_node("side", &[], &["side"], "SELECT 'x' AS v"),
    ]
}

fn set_sql(ctx: &mut Context, node: &str, text: &str) {
    ctx.nodes[node].compute = NodeCompute::Sql {
        text: text.into(),
        file: None,
    };
}

/// Every row of a parquet output, sorted, as JSON.
async fn rows(engine: &SparkEngine, path: &Path) -> Vec<serde_json::Value> {
    let session = engine.new_session().await.unwrap();
    let query = format!("SELECT * FROM parquet.`{}` ORDER BY ALL", path.display());
    session
        .sql(&query)
        .await
        .unwrap()
        .collect_json(10_000)
        .await
        .unwrap()
}

fn reasons(plan: &tauro_exec::Plan) -> Vec<(String, PlanAction, PlanReason)> {
    plan.nodes
        .iter()
        .map(|n| (n.name.clone(), n.action, n.reason))
        .collect()
}

#[tokio::test]
async fn incremental_runs_rerun_only_what_changed() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = project(dir.path(), nodes(), Vec::new());
    let exec = executor(&engine);

    // 1. First run: everything runs.
    let (plan, report) = IncrementalRun::new(Arc::new(ctx.clone()), "p")
        .run(&exec)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(plan.counts().run, 4);
    assert!(
        plan.nodes.iter().all(|n| n.reason == PlanReason::New),
        "{:?}",
        reasons(&plan)
    );
    assert_eq!(report.node("summary").unwrap().rows_written, Some(3));

    // 2. Nothing changed: all cached, and no executor (so no Spark) is needed at all.
    let run = IncrementalRun::new(Arc::new(ctx.clone()), "p");
    let plan = run.plan().unwrap();
    assert!(!plan.needs_engine(), "{:?}", reasons(&plan));
    let (_, report) = run.execute(plan, None).await.unwrap();
    assert!(report.nodes.iter().all(|n| n.status == NodeStatus::Cached));
    assert_eq!(report.nodes.len(), 4);

    // 3. One node's SQL changes: it and its downstream run, the rest is cached.
    set_sql(
        &mut ctx,
        "clean",
        "SELECT id, grp, name FROM raw WHERE id >= 6",
    );
    let (plan, report) = IncrementalRun::new(Arc::new(ctx.clone()), "p")
        .run(&exec)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(plan.to_run(), ["clean", "summary"], "{:?}", reasons(&plan));
    assert_eq!(
        plan.node("clean").unwrap().reason,
        PlanReason::ConfigChanged
    );
    assert_eq!(
        plan.node("summary").unwrap().reason,
        PlanReason::UpstreamChanged
    );
    let status = |n: &str| report.node(n).unwrap().status;
    assert_eq!(status("extract"), NodeStatus::Cached);
    assert_eq!(status("side"), NodeStatus::Cached);
    assert_eq!(status("clean"), NodeStatus::Completed);
    assert_eq!(report.node("clean").unwrap().rows_written, Some(6));
    let summary = rows(&engine, &dir.path().join("summary")).await;
    let total: i64 = summary.iter().map(|r| r["n"].as_i64().unwrap()).sum();
    assert_eq!(total, 6, "summary rebuilt from the new clean: {summary:?}");

    // 4. Whitespace, comments and keyword case only: nothing runs.
    set_sql(
        &mut ctx,
        "summary",
        "-- per group\nselect GRP, COUNT(*) as N\n  from CLEAN\n  group by GRP",
    );
    // 5. A description edit: nothing runs either.
    ctx.nodes["side"].description = Some("a constant".into());
    let plan = IncrementalRun::new(Arc::new(ctx.clone()), "p")
        .plan()
        .unwrap();
    assert!(!plan.needs_engine(), "{:?}", reasons(&plan));
    let changed: Vec<&str> = plan
        .diff
        .modified_nodes
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        changed,
        ["summary", "side"],
        "the diff still shows the edits"
    );

    // 6. A new node runs alone; 7. a removed node is dropped from the state.
    let mut extra = sql_node(
        "extra",
        &["summary"],
        &["extra"],
        "SELECT max(n) AS top FROM summary",
    );
    extra.tags = vec!["new".into()];
    ctx.outputs
        .insert("extra".into(), super::parquet_output("extra", dir.path()));
    ctx.nodes.insert("extra".into(), extra);
    ctx.pipelines["p"].nodes = vec![
        "extract".into(),
        "clean".into(),
        "summary".into(),
        "extra".into(),
    ];
    let (plan, report) = IncrementalRun::new(Arc::new(ctx.clone()), "p")
        .run(&exec)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(plan.to_run(), ["extra"], "{:?}", reasons(&plan));
    assert_eq!(plan.node("extra").unwrap().reason, PlanReason::New);
    assert_eq!(plan.dropped_from_state, ["side"]);
    assert_eq!(plan.diff.added_nodes, ["extra"]);
    assert_eq!(plan.diff.removed_nodes, ["side"]);
    let state = RunState::load(&StateDir::for_project(dir.path())).state;
    let nodes = &state.pipeline("p").unwrap().nodes;
    assert!(!nodes.contains_key("side"), "{:?}", nodes.keys());
    assert_eq!(nodes["extra"].status, NodeStatus::Completed);
    assert_eq!(rows(&engine, &dir.path().join("extra")).await[0]["top"], 2);
}

/// extract → clean → bad → final; summary and other after them in pipeline order. With one
/// worker, `bad` fails and stops the run: `final` is skipped, `summary` and `other` never
/// start.
fn failing_project(dir: &Path, bad_sql: &str) -> Context {
    let mut nodes = nodes();
    nodes.pop(); // side
    nodes.insert(2, sql_node("bad", &["clean"], &["bad"], bad_sql));
    nodes.insert(
        3,
        sql_node(
            "final",
            &["bad"],
            &["final"],
            "SELECT sum(id) AS s FROM bad",
        ),
    );
    nodes.push(sql_node("other", &[], &["other"], "SELECT 7 AS seven"));
    let mut ctx = project(dir, nodes, Vec::new());
    ctx.global.max_workers = 1;
    ctx
}

#[tokio::test]
async fn a_failure_then_resume_matches_a_clean_full_run() {
    let Some(engine) = engine().await else { return };
    let exec = executor(&engine);
    let fixed = "SELECT id, name FROM clean WHERE grp > 0";
    let dir = tempfile::tempdir().unwrap();
    let broken = failing_project(dir.path(), "SELECT no_such_column FROM clean");
    let (_, report) = IncrementalRun::new(Arc::new(broken), "p")
        .run(&exec)
        .await
        .unwrap();
    assert!(!report.succeeded());
    let status = |r: &tauro_exec::RunReport, n: &str| r.node(n).unwrap().status;
    assert_eq!(status(&report, "clean"), NodeStatus::Completed);
    assert_eq!(status(&report, "bad"), NodeStatus::Failed);
    assert_eq!(status(&report, "final"), NodeStatus::Skipped);
    assert_eq!(status(&report, "other"), NodeStatus::Cancelled);
    let state = RunState::load(&StateDir::for_project(dir.path())).state;
    let p = state.pipeline("p").unwrap();
    assert_eq!(
        p.nodes["final"].reason.as_deref(),
        Some("upstream 'bad' failed")
    );
    assert!(p.nodes["bad"].error.is_some());

    // Fix the node, resume: only what failed or never ran executes.
    let ctx = Arc::new(failing_project(dir.path(), fixed));
    let (plan, report) = IncrementalRun::new(Arc::clone(&ctx), "p")
        .resume()
        .run(&exec)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(plan.to_run(), ["bad", "final", "summary", "other"]);
    assert_eq!(status(&report, "extract"), NodeStatus::Cached);
    assert_eq!(status(&report, "clean"), NodeStatus::Cached);
    assert_eq!(report.node("extract").unwrap().attempts, 0);

    // A clean full run of the fixed project elsewhere writes the same data.
    let clean_dir = tempfile::tempdir().unwrap();
    let (_, full) = IncrementalRun::new(Arc::new(failing_project(clean_dir.path(), fixed)), "p")
        .with_full(true)
        .run(&exec)
        .await
        .unwrap();
    assert!(full.succeeded(), "{full:#?}");
    for output in ["raw", "clean", "bad", "final", "summary", "other"] {
        let resumed = rows(&engine, &dir.path().join(output)).await;
        let reference = rows(&engine, &clean_dir.path().join(output)).await;
        assert!(!reference.is_empty(), "{output}");
        assert_eq!(resumed, reference, "{output}");
    }
}
