//! IncrementalRun with a fake runner: state and manifest files, cached reports and events,
//! failures, resume, parallel completion, a run killed half-way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use tauro_config::{NodeCompute, NodeConfig};

use super::*;
use crate::events::CallbackSink;
use crate::incremental::run_state::{LastRunStatus, PipelineRunState};
use crate::registry::BoxFuture;
use crate::runner::{NodeJob, NodeOutcome, NodeRunner, WrittenOutput};
use crate::testutil::{context, io};

/// Succeeds (writing 7 rows), fails the nodes in `failing`, hangs the nodes in `hanging`.
#[derive(Default)]
struct Fake {
    failing: Mutex<HashSet<String>>,
    hanging: Mutex<HashSet<String>>,
    ran: Mutex<Vec<String>>,
}

impl Fake {
    fn ran(&self) -> Vec<String> {
        let mut ran = std::mem::take(&mut *self.ran.lock().unwrap());
        ran.sort();
        ran
    }

    fn set(&self, failing: &[&str]) {
        *self.failing.lock().unwrap() = failing.iter().map(|s| s.to_string()).collect();
    }
}

impl NodeRunner for Fake {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, crate::Result<NodeOutcome>> {
        Box::pin(async move {
            let name = job.node().name.clone();
            self.ran.lock().unwrap().push(name.clone());
            if self.hanging.lock().unwrap().contains(&name) {
                std::future::pending::<()>().await;
            }
            tokio::task::yield_now().await;
            if self.failing.lock().unwrap().contains(&name) {
                return Err(Error::function(format!("{name} failed on purpose")));
            }
            Ok(NodeOutcome {
                outputs: vec![WrittenOutput {
                    output: format!("{name}_out"),
                    destination: format!("/tmp/{name}"),
                    rows: Some(7),
                }],
                ..NodeOutcome::default()
            })
        })
    }
}

fn sql(name: &str, inputs: &[&str], outputs: &[&str], text: &str) -> NodeConfig {
    let mut n = io(name, inputs, outputs);
    n.compute = NodeCompute::Sql {
        text: text.into(),
        file: None,
    };
    n
}

/// a → b → c, d alone; the project (and its outputs) in `dir`.
fn project(dir: &Path, nodes: Vec<NodeConfig>) -> Arc<Context> {
    let mut ctx = context(nodes);
    ctx.project_dir = dir.to_path_buf();
    for (name, out) in &mut ctx.outputs {
        let path = dir.join("out").join(name);
        std::fs::create_dir_all(&path).unwrap();
        out.filepath = Some(path.display().to_string());
    }
    Arc::new(ctx)
}

fn chain() -> Vec<NodeConfig> {
    vec![
        sql("a", &[], &["a_out"], "SELECT 1 AS id"),
        sql("b", &["a_out"], &["b_out"], "SELECT id FROM a_out"),
        sql("c", &["b_out"], &["c_out"], "SELECT count(*) FROM b_out"),
        sql("d", &[], &["d_out"], "SELECT 2 AS id"),
    ]
}

fn executor(fake: &Arc<Fake>) -> Executor {
    Executor::from_arc(fake.clone() as Arc<dyn NodeRunner>).with_max_workers(2)
}

fn statuses(report: &RunReport) -> Vec<(String, NodeStatus)> {
    report
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.status))
        .collect()
}

fn state_of(dir: &Path) -> PipelineRunState {
    RunState::load(&StateDir::for_project(dir))
        .state
        .pipelines
        .remove("p")
        .unwrap()
}

#[tokio::test]
async fn second_run_is_all_cached_without_calling_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path(), chain());
    let fake = Arc::new(Fake::default());
    let (plan, report) = IncrementalRun::new(ctx.clone(), "p")
        .run(&executor(&fake))
        .await
        .unwrap();
    assert_eq!(plan.to_run(), ["a", "b", "c", "d"]);
    assert!(report.succeeded());
    assert_eq!(fake.ran(), ["a", "b", "c", "d"]);
    let state = state_of(dir.path());
    let last = state.last_run.clone().unwrap();
    assert_eq!(last.status, LastRunStatus::Succeeded);
    assert_eq!(last.run_id, report.run_id);
    assert_eq!(state.nodes["b"].status, NodeStatus::Completed);
    assert_eq!(state.nodes["b"].rows_written, Some(7));
    assert_eq!(
        state.nodes["b"].fingerprint,
        plan.node("b").unwrap().fingerprint
    );
    let sd = StateDir::for_project(dir.path());
    assert!(sd.manifest().exists());

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let (plan, report) = IncrementalRun::new(ctx, "p")
        .with_events(CallbackSink(move |e: &ProgressEvent| {
            seen.lock().unwrap().push(format!("{e:?}"));
        }))
        .run(&executor(&fake))
        .await
        .unwrap();
    assert!(fake.ran().is_empty(), "nothing ran");
    assert!(!plan.needs_engine());
    assert!(report.succeeded());
    assert!(report.nodes.iter().all(|n| n.status == NodeStatus::Cached));
    assert_eq!(report.nodes.len(), 4);
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 6, "{events:?}");
    assert!(events[0].starts_with("RunStarted"), "{events:?}");
    assert!(
        events[1..5].iter().all(|e| e.starts_with("NodeCached")),
        "{events:?}"
    );
    assert!(events[5].starts_with("RunFinished"), "{events:?}");
    assert!(sd.previous_manifest().exists());
    assert_eq!(
        serde_json::to_value(&report.nodes[0]).unwrap()["status"],
        "cached"
    );
}

#[tokio::test]
async fn a_failure_is_recorded_then_resume_runs_only_what_did_not_complete() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path(), chain());
    let fake = Arc::new(Fake::default());
    fake.set(&["b"]);
    let exec = executor(&fake).with_continue_on_error(true);
    let (_, report) = IncrementalRun::new(ctx.clone(), "p")
        .run(&exec)
        .await
        .unwrap();
    assert!(!report.succeeded());
    let state = state_of(dir.path());
    assert_eq!(
        state.last_run.as_ref().unwrap().status,
        LastRunStatus::Failed
    );
    assert_eq!(state.nodes["b"].status, NodeStatus::Failed);
    assert_eq!(
        state.nodes["b"].error.as_ref().unwrap().class,
        "FUNCTION_FAILED"
    );
    assert_eq!(state.nodes["c"].status, NodeStatus::Skipped);
    assert_eq!(
        state.nodes["c"].reason.as_deref(),
        Some("upstream 'b' failed")
    );
    assert_eq!(state.nodes["d"].status, NodeStatus::Completed);
    fake.ran();

    // Fixed: resume runs b and c only; a and d are cached.
    fake.set(&[]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let exec = exec.with_events(CallbackSink(move |e: &ProgressEvent| {
        let name = match e {
            ProgressEvent::RunStarted { .. } => "start".to_string(),
            ProgressEvent::NodeCached { node, .. } => format!("cached {node}"),
            ProgressEvent::NodeStarted { node } => format!("started {node}"),
            _ => return,
        };
        seen.lock().unwrap().push(name);
    }));
    let (plan, report) = IncrementalRun::new(ctx.clone(), "p")
        .resume()
        .run(&exec)
        .await
        .unwrap();
    // The executor's own sink gets the cached nodes right after the start.
    assert_eq!(
        events.lock().unwrap()[..3],
        ["start", "cached a", "cached d"]
    );
    assert_eq!(plan.to_run(), ["b", "c"]);
    assert_eq!(fake.ran(), ["b", "c"]);
    assert!(report.succeeded());
    assert_eq!(
        statuses(&report),
        [
            ("a".to_string(), NodeStatus::Cached),
            ("b".to_string(), NodeStatus::Completed),
            ("c".to_string(), NodeStatus::Completed),
            ("d".to_string(), NodeStatus::Cached),
        ]
    );
    let err = IncrementalRun::new(ctx.clone(), "p")
        .resume()
        .plan()
        .unwrap_err();
    assert!(matches!(err, Error::NothingToResume { .. }), "{err:?}");
    // And the next incremental run has nothing to do.
    assert!(!IncrementalRun::new(ctx, "p").plan().unwrap().needs_engine());
}

#[tokio::test]
async fn parallel_completions_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<NodeConfig> = (0..40)
        .map(|i| sql(&format!("n{i}"), &[], &[], &format!("SELECT {i}")))
        .collect();
    let ctx = project(dir.path(), nodes);
    let fake = Arc::new(Fake::default());
    let exec = Executor::from_arc(fake.clone() as Arc<dyn NodeRunner>).with_max_workers(8);
    let (_, report) = IncrementalRun::new(ctx.clone(), "p")
        .run(&exec)
        .await
        .unwrap();
    assert!(report.succeeded());
    let state = state_of(dir.path());
    assert_eq!(state.nodes.len(), 40);
    assert!(
        state
            .nodes
            .values()
            .all(|n| n.status == NodeStatus::Completed && n.run_id == report.run_id)
    );
    let backup = std::fs::read(StateDir::for_project(dir.path()).run_state_backup()).unwrap();
    assert!(serde_json::from_slice::<RunState>(&backup).is_ok());
}

#[tokio::test]
async fn a_run_killed_half_way_leaves_a_valid_state_that_resume_completes() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path(), chain());
    let fake = Arc::new(Fake::default());
    fake.hanging.lock().unwrap().insert("b".into());
    let run = IncrementalRun::new(ctx.clone(), "p");
    let exec = executor(&fake);
    let task = tokio::spawn(async move { run.run(&exec).await });
    // Wait until a and d are recorded, then "kill" the run (drop it mid-flight).
    let sd = StateDir::for_project(dir.path());
    for _ in 0..500 {
        let state = RunState::load(&sd).state;
        let done = state.pipeline("p").is_some_and(|p| {
            ["a", "d"].iter().all(|n| {
                p.nodes
                    .get(*n)
                    .is_some_and(|s| s.status == NodeStatus::Completed)
            })
        });
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    let loaded = RunState::load(&sd);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let state = loaded.state.pipeline("p").unwrap().clone();
    assert_eq!(
        state.last_run.as_ref().unwrap().status,
        LastRunStatus::Running
    );
    fake.hanging.lock().unwrap().clear();
    fake.ran();
    let (plan, report) = IncrementalRun::new(ctx, "p")
        .resume()
        .run(&executor(&fake))
        .await
        .unwrap();
    assert_eq!(plan.to_run(), ["b", "c"]);
    assert!(
        plan.warnings[0].contains("never recorded its end"),
        "{:?}",
        plan.warnings
    );
    assert_eq!(fake.ran(), ["b", "c"]);
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_corrupt_state_is_a_warning_and_everything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path(), chain());
    let sd = StateDir::for_project(dir.path());
    std::fs::create_dir_all(sd.path()).unwrap();
    std::fs::write(sd.run_state(), b"{ not json").unwrap();
    let fake = Arc::new(Fake::default());
    let (plan, report) = IncrementalRun::new(ctx, "p")
        .run(&executor(&fake))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(plan.counts().run, 4);
    assert!(
        plan.warnings.iter().any(|w| w.contains("corrupt")),
        "{:?}",
        plan.warnings
    );
    assert!(RunState::load(&sd).warnings.is_empty(), "rewritten");
}

#[tokio::test]
async fn a_plan_with_work_needs_an_executor() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path(), chain());
    let run = IncrementalRun::new(ctx, "p");
    let plan = run.plan().unwrap();
    let err = run.execute(plan, None).await.unwrap_err();
    assert!(
        matches!(err, Error::ExecutorRequired { nodes: 4, .. }),
        "{err:?}"
    );
    assert!(
        !StateDir::for_project(dir.path()).run_state().exists(),
        "planning writes nothing"
    );
}
