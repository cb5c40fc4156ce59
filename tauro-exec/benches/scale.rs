//! Scale: time and peak memory of planning and scheduling 10,000 and 100,000 synthetic
//! nodes on a no-op engine, to show that both grow linearly with the node count.
//!
//! `cargo bench -p tauro-exec --bench scale` (sizes: `TAURO_SCALE_SIZES=10000,100000`).
//!
//! The project: N SQL nodes in one pipeline; node i reads the parquet output of node i-1
//! (except every 10th node, which starts a new chain) and of node i/2, so the DAG has about
//! 2N data edges, long chains and wide fan-out; every node writes one parquet output. The
//! phases, each measured in a child process of its own so that its peak RSS (`VmHWM` of
//! `/proc/self/status`) is its own:
//! - `context`: build the typed project from its documents (`Context::from_sources`);
//! - `validate`: validate the pipeline and resolve its graph (`PipelineValidator`);
//! - `validate_only`: the same with every node named in the selection
//!   (`NodeSelection::Only`), which is how an incremental run hands its RUN nodes to the
//!   executor;
//! - `plan`: the incremental plan of a first run (`IncrementalRun::plan`, what
//!   `tauro-cli plan` does after loading);
//! - `schedule`: run every node through the real executor (8 workers) on a runner that does
//!   nothing (`Executor::run`);
//! - `exec`: plan, run and record the run (`IncrementalRun::run`: run state and manifest
//!   written to `.tauro/`), i.e. `tauro-cli exec` without Spark.
//!
//! Every phase but `exec` is repeated and the median reported; each child includes building
//! the context, so the peak RSS of a phase includes the context's.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tauro_config::{Context, Sources};
use tauro_exec::{
    BoxFuture, Executor, IncrementalRun, NodeJob, NodeOutcome, NodeRunner, NodeSelection,
    PipelineValidator,
};

const PHASES: [&str; 6] = [
    "context",
    "validate",
    "validate_only",
    "plan",
    "schedule",
    "exec",
];

/// Succeeds at once.
struct NoopRunner;

impl NodeRunner for NoopRunner {
    fn run(&self, _job: NodeJob) -> BoxFuture<'_, tauro_exec::Result<NodeOutcome>> {
        Box::pin(std::future::ready(Ok(NodeOutcome::default())))
    }
}

fn sources(dir: &Path, n: usize) -> Sources {
    let mut nodes = Map::new();
    let mut outputs = Map::new();
    for i in 0..n {
        let mut reads: Vec<String> = Vec::new();
        if i > 0 && i % 10 != 0 {
            reads.push(format!("o{}", i - 1));
        }
        if i > 1 && i / 2 != i - 1 {
            reads.push(format!("o{}", i / 2));
        }
        let from = reads.first().map_or("range(10)".to_string(), Clone::clone);
        outputs.insert(
            format!("o{i}"),
            json!({"format": "parquet", "filepath": format!("out/o{i}")}),
        );
        nodes.insert(
            format!("n{i}"),
            json!({
                "input": reads,
                "output": [format!("o{i}")],
                "sql": format!("SELECT id, value * {i} AS value FROM {from} WHERE id > {i}"),
                "tags": [format!("layer{}", i % 10)],
            }),
        );
    }
    let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    Sources::new(
        json!({"input_path": dir.display().to_string(),
               "output_path": dir.display().to_string(), "max_workers": 8}),
        json!({"big": {"nodes": names, "requires_dates": false}}),
        Value::Object(nodes),
        Value::Object(Map::new()),
        Value::Object(outputs),
    )
    .with_project_dir(dir)
}

/// `VmHWM` (peak resident set) of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs one phase at size `n`; prints `n phase median_secs peak_rss_bytes`.
fn child(n: usize, phase: &str) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reps = if n >= 100_000 { 3 } else { 7 };
    let build = || Context::from_sources(sources(dir.path(), n), "base").unwrap();
    let mut times = Vec::new();
    if phase == "context" {
        for _ in 0..reps {
            let t = Instant::now();
            let ctx = build();
            times.push(t.elapsed());
            assert_eq!(ctx.nodes.len(), n);
        }
    } else {
        let ctx = Arc::new(build());
        for _ in 0..(if phase == "exec" { 1 } else { reps }) {
            let t = Instant::now();
            match phase {
                "validate" => {
                    let v = PipelineValidator::new(&ctx)
                        .validate("big", &NodeSelection::All, None)
                        .unwrap();
                    assert_eq!(v.graph().len(), n);
                }
                "validate_only" => {
                    let names: Vec<String> = ctx.nodes.keys().cloned().collect();
                    let v = PipelineValidator::new(&ctx)
                        .validate("big", &NodeSelection::Only(names), None)
                        .unwrap();
                    assert_eq!(v.selected().count(), n);
                }
                "plan" => {
                    let plan = IncrementalRun::new(Arc::clone(&ctx), "big").plan().unwrap();
                    assert_eq!(plan.counts().run, n);
                }
                "schedule" => {
                    let executor = Executor::new(NoopRunner).with_max_workers(8);
                    let report = runtime
                        .block_on(executor.run(Arc::clone(&ctx), "big", None, &NodeSelection::All))
                        .unwrap();
                    assert!(report.succeeded());
                    assert_eq!(report.nodes.len(), n);
                }
                "exec" => {
                    let executor = Executor::new(NoopRunner).with_max_workers(8);
                    let (plan, report) = runtime
                        .block_on(IncrementalRun::new(Arc::clone(&ctx), "big").run(&executor))
                        .unwrap();
                    assert!(report.succeeded());
                    assert_eq!(plan.counts().run, n);
                }
                other => panic!("unknown phase {other}"),
            }
            times.push(t.elapsed());
        }
    }
    println!(
        "{n} {phase} {:.6} {}",
        median(times).as_secs_f64(),
        peak_rss()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        child(args[at + 1].parse().unwrap(), &args[at + 2]);
        return;
    }
    let sizes: Vec<usize> = std::env::var("TAURO_SCALE_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let exe = std::env::current_exe().unwrap();
    // (n, phase) -> (secs, peak bytes)
    let mut results = std::collections::HashMap::new();
    for &n in &sizes {
        for phase in PHASES {
            let out = Command::new(&exe)
                .args(["--child", &n.to_string(), phase])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{n} {phase}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let f: Vec<&str> = line.split_whitespace().collect();
            let secs: f64 = f[2].parse().unwrap();
            let bytes: u64 = f[3].parse().unwrap();
            println!(
                "{n:>7} nodes  {phase:<13} {:>10.1} ms  {:>8.2} µs/node  peak RSS {:>7.1} MiB  {:>6.0} B/node",
                secs * 1e3,
                secs * 1e6 / n as f64,
                bytes as f64 / (1 << 20) as f64,
                bytes as f64 / n as f64
            );
            results.insert((n, phase), (secs, bytes));
        }
    }
    if let [small, .., large] = sizes[..] {
        println!(
            "growth from {small} to {large} nodes ({}x the nodes):",
            large / small
        );
        for phase in PHASES {
            let (ts, ms) = results[&(small, phase)];
            let (tl, ml) = results[&(large, phase)];
            println!(
                "  {phase:<13} time {:>5.1}x, peak RSS {:>5.1}x, marginal {:>6.0} B/node",
                tl / ts,
                ml as f64 / ms as f64,
                (ml as f64 - ms as f64) / (large - small) as f64
            );
        }
    }
}
