//! Scheduler overhead: a 10,000-node synthetic DAG of no-op nodes through the real
//! executor (validation + resolution + scheduling), and the resolver alone.
//!
//! `cargo bench -p tauro-exec --bench scheduler` (add `-- --quick` for a short run).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use indexmap::IndexMap;
use tauro_config::{
    Context, GlobalSettings, Location, NodeCompute, NodeConfig, PipelineConfig, PipelineType,
    SparkSettings,
};
use tauro_exec::{
    BoxFuture, DependencyResolver, Executor, NodeJob, NodeOutcome, NodeRunner, NodeSelection,
    PipelineValidator,
};

const NODES: usize = 10_000;

/// Succeeds at once.
struct NoopRunner;

impl NodeRunner for NoopRunner {
    fn run(&self, _job: NodeJob) -> BoxFuture<'_, tauro_exec::Result<NodeOutcome>> {
        Box::pin(std::future::ready(Ok(NodeOutcome::default())))
    }
}

/// Sleeps for the node's `ms` parameter.
struct SleepRunner;

impl NodeRunner for SleepRunner {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, tauro_exec::Result<NodeOutcome>> {
        let ms = job
            .node()
            .params
            .get("ms")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(NodeOutcome::default())
        })
    }
}

/// A skewed DAG: `SHORT` independent 20 ms nodes declared first, then a chain of `LONG`
/// 40 ms nodes. First-come order runs the short ones first and leaves the chain for last;
/// critical-path order starts the chain at once.
const SHORT: usize = 8;
const LONG: usize = 4;

fn skewed() -> (Context, std::collections::HashMap<String, Duration>) {
    let mut nodes = Vec::new();
    let mut estimates = std::collections::HashMap::new();
    for i in 0..SHORT {
        let mut n = node(0);
        n.name = format!("short{i}");
        n.dependencies = Vec::new();
        n.params.insert("ms".into(), serde_json::json!(20));
        estimates.insert(n.name.clone(), Duration::from_millis(20));
        nodes.push(n);
    }
    for i in 0..LONG {
        let mut n = node(0);
        n.name = format!("long{i}");
        n.dependencies = if i == 0 {
            Vec::new()
        } else {
            vec![format!("long{}", i - 1)]
        };
        n.params.insert("ms".into(), serde_json::json!(40));
        estimates.insert(n.name.clone(), Duration::from_millis(40));
        nodes.push(n);
    }
    (context_of(nodes, "skewed"), estimates)
}

fn node(i: usize) -> NodeConfig {
    // A layered DAG: node i depends on i-1 (a long chain through every 10th node) and on
    // i/2 (wide fan-out), so there is plenty of parallelism and plenty of edges.
    let mut dependencies = Vec::new();
    if !i.is_multiple_of(10) && i > 0 {
        dependencies.push(format!("n{}", i - 1));
    }
    if i > 1 && i / 2 != i - 1 {
        dependencies.push(format!("n{}", i / 2));
    }
    NodeConfig {
        name: format!("n{i}"),
        input: Vec::new(),
        output: Vec::new(),
        dependencies,
        compute: NodeCompute::Sql {
            text: "SELECT 1".into(),
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
        location: Location {
            file: PathBuf::from("nodes.yml"),
            line: i + 1,
        },
    }
}

fn context() -> Context {
    context_of((0..NODES).map(node).collect(), "big")
}

/// A project of one pipeline `name` running `nodes`.
fn context_of(nodes: Vec<NodeConfig>, name: &str) -> Context {
    let nodes: IndexMap<String, NodeConfig> =
        nodes.into_iter().map(|n| (n.name.clone(), n)).collect();
    let pipeline = PipelineConfig {
        name: name.into(),
        nodes: nodes.keys().cloned().collect(),
        pipeline_type: PipelineType::Batch,
        description: None,
        requires_dates: false,
        max_workers: None,
        ml: Default::default(),
        location: Location {
            file: PathBuf::from("pipelines.yml"),
            line: 1,
        },
    };
    Context {
        env: "base".into(),
        project_dir: PathBuf::from("/tmp"),
        global: GlobalSettings {
            project_name: "bench".into(),
            input_path: "/tmp".into(),
            output_path: "/tmp".into(),
            mode: "local".into(),
            spark: SparkSettings::default(),
            start_date: None,
            end_date: None,
            max_workers: 8,
            max_retries: 0,
            retry_delay: Duration::from_secs(1),
            node_timeout: None,
            circuit_breaker_threshold: 5,
            continue_on_error: false,
            hooks: Vec::new(),
            lineage: Default::default(),
            extra: IndexMap::new(),
        },
        pipelines: IndexMap::from([(name.to_string(), pipeline)]),
        nodes,
        inputs: IndexMap::new(),
        outputs: IndexMap::new(),
    }
}

fn bench(c: &mut Criterion) {
    let ctx = Arc::new(context());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("scheduler");
    group.sample_size(20);
    group.bench_function("resolve_10k_nodes", |b| {
        b.iter(|| {
            let graph = DependencyResolver::new(&ctx).resolve("big").unwrap();
            black_box(graph.len())
        });
    });
    group.bench_function("validate_10k_nodes", |b| {
        b.iter(|| {
            let validated = PipelineValidator::new(&ctx)
                .validate("big", &NodeSelection::All, None)
                .unwrap();
            black_box(validated.graph().len())
        });
    });
    for workers in [8, 64] {
        let executor = Executor::new(NoopRunner).with_max_workers(workers);
        group.bench_function(format!("run_10k_noop_nodes_{workers}_workers"), |b| {
            b.iter(|| {
                let report = runtime
                    .block_on(executor.run(Arc::clone(&ctx), "big", None, &NodeSelection::All))
                    .unwrap();
                assert!(report.succeeded());
                black_box(report.nodes.len())
            });
        });
    }
    group.finish();

    // Critical path: the skewed DAG on 2 workers, first-come order vs duration estimates.
    let (skewed, estimates) = skewed();
    let skewed = Arc::new(skewed);
    let mut group = c.benchmark_group("critical_path");
    group.sample_size(10);
    for (label, executor) in [
        ("first_come", Executor::new(SleepRunner).with_max_workers(2)),
        (
            "critical_path",
            Executor::new(SleepRunner)
                .with_max_workers(2)
                .with_duration_estimates(estimates),
        ),
    ] {
        group.bench_function(
            format!("skewed_{SHORT}x20ms_chain_{LONG}x40ms_2_workers_{label}"),
            |b| {
                b.iter(|| {
                    let report = runtime
                        .block_on(executor.run(
                            Arc::clone(&skewed),
                            "skewed",
                            None,
                            &NodeSelection::All,
                        ))
                        .unwrap();
                    assert!(report.succeeded());
                    black_box(report.nodes.len())
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
