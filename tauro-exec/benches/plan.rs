//! Incremental planning: deciding that nothing changed in a 1,000-node project (target:
//! under 200 ms), with no Spark round trip.
//!
//! The project: 1,000 SQL nodes in a layered DAG (each reads the outputs of up to two
//! earlier nodes, by data edges), 20 of them reading local CSV inputs (3 files each), every
//! node writing a parquet output, tags and types on all. A first run on a no-op runner
//! fills `.tauro/run_state.json` and `manifest.json`; then:
//! - `plan_no_change_1000_nodes`: `IncrementalRun::plan` = load the run state and manifest,
//!   validate and resolve, fingerprint every node (normalised SQL, dataset configs, input
//!   file markers, output existence checks), decide, diff: all CACHED;
//! - `plan_one_change_1000_nodes`: the same with one early node's SQL edited.
//!
//! `cargo bench -p tauro-exec --bench plan` (add `-- --quick` for a short run).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use tauro_config::{Context, Sources};
use tauro_exec::{
    BoxFuture, Executor, IncrementalRun, NodeJob, NodeOutcome, NodeRunner, PlanAction,
};

const NODES: usize = 1_000;
const SOURCES: usize = 20;

/// Succeeds at once.
struct NoopRunner;

impl NodeRunner for NoopRunner {
    fn run(&self, _job: NodeJob) -> BoxFuture<'_, tauro_exec::Result<NodeOutcome>> {
        Box::pin(std::future::ready(Ok(NodeOutcome::default())))
    }
}

fn sql(i: usize, inputs: &[String]) -> String {
    let from = inputs
        .first()
        .map_or("range(10)".to_string(), |v| v.clone());
    let join = inputs
        .get(1)
        .map(|v| format!("\n  LEFT JOIN {v} AS r ON l.id = r.id"))
        .unwrap_or_default();
    format!(
        "-- node {i}: a typical transformation\n\
         SELECT l.id, l.grp, upper(l.name) AS name, coalesce(l.amount, 0) * {i} AS amount,\n  \
         CASE WHEN l.grp = 'A' THEN 'first' ELSE 'other' END AS bucket\n\
         FROM {from} AS l{join}\n\
         WHERE l.day BETWEEN DATE'2025-01-01' AND DATE'2025-12-31' /* the year */\n\
         GROUP BY l.id, l.grp, l.name, l.amount"
    )
}

fn project(dir: &Path, edit: Option<usize>) -> Context {
    let mut nodes = Map::new();
    let mut inputs = Map::new();
    let mut outputs = Map::new();
    for s in 0..SOURCES {
        let path = dir.join("in").join(format!("src{s}"));
        std::fs::create_dir_all(&path).unwrap();
        for f in 0..3 {
            let file = path.join(format!("part-{f}.csv"));
            if !file.exists() {
                std::fs::write(&file, "id,grp,name,amount,day\n1,A,x,2,2025-01-02\n").unwrap();
            }
        }
        inputs.insert(
            format!("src{s}"),
            json!({"format": "csv", "filepath": path.display().to_string()}),
        );
    }
    for i in 0..NODES {
        let mut reads: Vec<String> = Vec::new();
        if i < SOURCES {
            reads.push(format!("src{i}"));
        } else {
            reads.push(format!("o{}", i - 1 - i % 7));
            if i % 3 == 0 {
                reads.push(format!("o{}", i / 2));
            }
        }
        let mut text = sql(i, &reads);
        if edit == Some(i) {
            text = text.replace("'first'", "'First'");
        }
        let out = dir.join("out").join(format!("o{i}"));
        std::fs::create_dir_all(&out).unwrap();
        outputs.insert(
            format!("o{i}"),
            json!({"format": "parquet", "filepath": out.display().to_string()}),
        );
        nodes.insert(
            format!("n{i}"),
            json!({
                "input": reads,
                "output": [format!("o{i}")],
                "sql": text,
                "tags": [format!("layer{}", i % 10), "bench"],
                "type": if i % 2 == 0 { "transform" } else { "aggregate" },
                "description": format!("node {i}"),
                "params": {"threshold": i, "mode": "strict"},
            }),
        );
    }
    let names: Vec<String> = (0..NODES).map(|i| format!("n{i}")).collect();
    let sources = Sources::new(
        json!({"input_path": dir.display().to_string(), "output_path": dir.display().to_string(),
               "max_workers": 8}),
        json!({"big": {"nodes": names, "requires_dates": false}}),
        Value::Object(nodes),
        Value::Object(inputs),
        Value::Object(outputs),
    )
    .with_project_dir(dir);
    Context::from_sources(sources, "base").unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(project(dir.path(), None));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let executor = Executor::new(NoopRunner);
    let (plan, report) = runtime
        .block_on(IncrementalRun::new(Arc::clone(&ctx), "big").run(&executor))
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(plan.counts().run, NODES);

    let mut group = c.benchmark_group("plan");
    group.sample_size(20);
    let run = IncrementalRun::new(Arc::clone(&ctx), "big");
    group.bench_function("plan_no_change_1000_nodes", |b| {
        b.iter(|| {
            let plan = run.plan().unwrap();
            assert!(!plan.needs_engine());
            black_box(plan.counts())
        });
    });
    let edited = Arc::new(project(dir.path(), Some(25)));
    let run = IncrementalRun::new(edited, "big");
    group.bench_function("plan_one_change_1000_nodes", |b| {
        b.iter(|| {
            let plan = run.plan().unwrap();
            assert!(plan.node("n25").unwrap().action == PlanAction::Run);
            black_box(plan.counts())
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
