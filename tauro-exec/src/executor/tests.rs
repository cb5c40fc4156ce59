//! Scheduler tests with a fake runner (sleeps, failures, hangs, counters).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::error::Error;
use crate::events::{CallbackSink, ProgressEvent};
use crate::registry::BoxFuture;
use crate::report::{RunStatus, StopReason};
use crate::runner::{NodeJob, NodeOutcome, WrittenOutput};
use crate::state::NodeStatus;
use crate::testutil::{context, deps};

#[derive(Debug, Clone, Copy)]
enum Act {
    /// Succeeds after sleeping.
    Sleep(u64),
    /// Fails the first `n` attempts (after a short sleep), then succeeds.
    FailTimes(u32),
    /// Always fails.
    Fail,
    /// Runs until cancelled.
    Hang,
    /// Panics.
    Panic,
}

#[derive(Debug, Clone)]
struct Call {
    node: String,
    start: Instant,
    end: Instant,
    saw_cancel: bool,
}

#[derive(Default)]
struct Fake {
    acts: HashMap<String, Act>,
    calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn new(acts: &[(&str, Act)]) -> Self {
        Self {
            acts: acts.iter().map(|(n, a)| (n.to_string(), *a)).collect(),
            calls: Mutex::default(),
        }
    }

    fn calls(&self, node: &str) -> Vec<Call> {
        let calls = self.calls.lock().unwrap();
        calls.iter().filter(|c| c.node == node).cloned().collect()
    }

    fn one(&self, node: &str) -> Call {
        let calls = self.calls(node);
        assert_eq!(calls.len(), 1, "{node}: {calls:?}");
        calls[0].clone()
    }

    fn start_order(&self) -> Vec<String> {
        let mut calls = self.calls.lock().unwrap().clone();
        calls.sort_by_key(|c| c.start);
        calls.into_iter().map(|c| c.node).collect()
    }
}

impl NodeRunner for Fake {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, crate::Result<NodeOutcome>> {
        Box::pin(async move {
            let start = Instant::now();
            let name = job.node().name.clone();
            let act = self.acts.get(&name).copied().unwrap_or(Act::Sleep(0));
            let sleep = |ms| {
                let cancel = job.cancel_token().clone();
                async move {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(ms)) => false,
                        () = cancel.cancelled() => true,
                    }
                }
            };
            let (saw_cancel, ok) = match act {
                Act::Sleep(ms) => {
                    let c = sleep(ms).await;
                    (c, !c)
                }
                Act::FailTimes(n) => (sleep(5).await, job.attempt() > n),
                Act::Fail => (sleep(5).await, false),
                Act::Hang => (sleep(3_600_000).await, false),
                Act::Panic => panic!("fake node exploded"),
            };
            self.calls.lock().unwrap().push(Call {
                node: name.clone(),
                start,
                end: Instant::now(),
                saw_cancel,
            });
            match (ok, saw_cancel) {
                (true, _) => Ok(NodeOutcome {
                    metrics: Default::default(),
                    expectations: Vec::new(),
                    outputs: vec![WrittenOutput {
                        output: format!("{name}_out"),
                        destination: format!("/tmp/{name}"),
                        rows: Some(7),
                    }],
                    lineage: None,
                    spark: None,
                }),
                (false, true) => Err(Error::Cancelled { node: name }),
                (false, false) => Err(Error::function(format!("{name} failed on purpose"))),
            }
        })
    }
}

fn executor(fake: &Arc<Fake>) -> Executor {
    Executor::from_arc(fake.clone() as Arc<dyn NodeRunner>)
        .with_retry(RetryPolicy::default().with_base_delay(Duration::from_millis(1)))
        .with_cancel_grace(Duration::from_secs(5))
}

async fn run(exec: &Executor, nodes: Vec<tauro_config::NodeConfig>) -> RunReport {
    exec.run(Arc::new(context(nodes)), "p", None, &NodeSelection::All)
        .await
        .unwrap()
}

fn status(report: &RunReport, node: &str) -> NodeStatus {
    report.node(node).unwrap().status
}

#[tokio::test]
async fn independent_nodes_run_in_parallel_up_to_max_workers() {
    let fake = Arc::new(Fake::new(&[("a", Act::Sleep(150)), ("b", Act::Sleep(150))]));
    let nodes = || vec![deps("a", &[]), deps("b", &[])];
    let report = run(&executor(&fake).with_max_workers(2), nodes()).await;
    assert!(report.succeeded());
    let (a, b) = (fake.one("a"), fake.one("b"));
    assert!(
        a.start < b.end && b.start < a.end,
        "a and b overlap: {a:?} {b:?}"
    );

    let fake = Arc::new(Fake::new(&[("a", Act::Sleep(50)), ("b", Act::Sleep(50))]));
    run(&executor(&fake).with_max_workers(1), nodes()).await;
    let (a, b) = (fake.one("a"), fake.one("b"));
    assert!(a.end <= b.start, "one worker: no overlap: {a:?} {b:?}");
}

#[tokio::test]
async fn a_slow_branch_does_not_hold_back_a_fast_branchs_dependents() {
    let fake = Arc::new(Fake::new(&[
        ("slow", Act::Sleep(400)),
        ("fast", Act::Sleep(10)),
        ("fast_child", Act::Sleep(10)),
        ("slow_child", Act::Sleep(10)),
    ]));
    let report = run(
        &executor(&fake).with_max_workers(4),
        vec![
            deps("slow", &[]),
            deps("fast", &[]),
            deps("slow_child", &["slow"]),
            deps("fast_child", &["fast"]),
        ],
    )
    .await;
    assert!(report.succeeded());
    let (slow, fast_child) = (fake.one("slow"), fake.one("fast_child"));
    assert!(
        fast_child.end < slow.end,
        "fast_child finished while slow still ran: {fast_child:?} {slow:?}"
    );
    assert!(fake.one("slow_child").start >= slow.end);
}

#[tokio::test]
async fn start_order_is_deterministic() {
    for _ in 0..5 {
        let fake = Arc::new(Fake::default());
        let report = run(
            &executor(&fake).with_max_workers(1),
            vec![
                deps("d", &[]),
                deps("b", &[]),
                deps("c", &["b", "d"]),
                deps("a", &[]),
            ],
        )
        .await;
        assert_eq!(fake.start_order(), ["d", "b", "c", "a"]);
        let names: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["d", "b", "c", "a"]);
    }
}

#[tokio::test]
async fn with_duration_estimates_the_longest_remaining_path_starts_first() {
    // Two short independent nodes are declared before a chain of two long ones.
    let nodes = || {
        vec![
            deps("s1", &[]),
            deps("s2", &[]),
            deps("l1", &[]),
            deps("l2", &["l1"]),
        ]
    };
    let fake = Arc::new(Fake::default());
    run(&executor(&fake).with_max_workers(1), nodes()).await;
    assert_eq!(fake.start_order(), ["s1", "s2", "l1", "l2"]);

    let estimates = HashMap::from([
        ("s1".to_string(), Duration::from_secs(1)),
        ("s2".to_string(), Duration::from_secs(2)),
        ("l1".to_string(), Duration::from_secs(5)),
        ("l2".to_string(), Duration::from_secs(5)),
    ]);
    let fake = Arc::new(Fake::default());
    let exec = executor(&fake)
        .with_max_workers(1)
        .with_duration_estimates(estimates);
    run(&exec, nodes()).await;
    // l1 heads 10 s of work; then l2 (5 s) before s2 (2 s) and s1 (1 s).
    assert_eq!(fake.start_order(), ["l1", "l2", "s2", "s1"]);
}

#[tokio::test]
async fn a_failing_node_is_retried_until_it_succeeds() {
    let fake = Arc::new(Fake::new(&[("flaky", Act::FailTimes(2))]));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = events.clone();
        CallbackSink(move |e: &ProgressEvent| events.lock().unwrap().push(e.clone()))
    };
    let mut flaky = deps("flaky", &[]);
    flaky.retries = Some(3);
    let report = run(&executor(&fake).with_events(sink), vec![flaky]).await;
    assert!(report.succeeded(), "{report:?}");
    let node = report.node("flaky").unwrap();
    assert_eq!((node.status, node.attempts), (NodeStatus::Completed, 3));
    assert_eq!(node.rows_written, Some(7));
    assert!(node.error.is_none());
    let retries: Vec<(u32, u32)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::NodeRetrying {
                attempt,
                max_attempts,
                error,
                ..
            } => {
                assert!(error.contains("failed on purpose"));
                Some((*attempt, *max_attempts))
            }
            _ => None,
        })
        .collect();
    assert_eq!(retries, [(2, 4), (3, 4)]);
}

#[tokio::test]
async fn retries_run_out() {
    let fake = Arc::new(Fake::new(&[("bad", Act::Fail)]));
    let report = run(
        &executor(&fake).with_retry(
            RetryPolicy::default()
                .with_max_retries(2)
                .with_base_delay(Duration::from_millis(1)),
        ),
        vec![deps("bad", &[]), deps("after", &["bad"])],
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    let bad = report.node("bad").unwrap();
    assert_eq!((bad.status, bad.attempts), (NodeStatus::Failed, 3));
    let error = bad.error.as_ref().unwrap();
    assert_eq!(error.class, "FUNCTION_FAILED");
    assert_eq!(status(&report, "after"), NodeStatus::Skipped);
    assert_eq!(
        report.stop_reason,
        Some(StopReason::NodeFailed { node: "bad".into() })
    );
    let err = report.into_result().unwrap_err();
    assert_eq!(err.to_string(), "pipeline 'p' failed: node 'bad' failed");
}

#[tokio::test]
async fn the_circuit_breaker_stops_the_run_and_cancels_running_work() {
    let fake = Arc::new(Fake::new(&[
        ("hang", Act::Hang),
        ("f1", Act::Fail),
        ("f2", Act::Fail),
    ]));
    let flaky = |name: &str| {
        let mut n = deps(name, &[]);
        n.retries = Some(10);
        n
    };
    let report = run(
        &executor(&fake)
            .with_max_workers(3)
            .with_continue_on_error(true)
            .with_circuit_breaker(3),
        vec![
            deps("hang", &[]),
            flaky("f1"),
            flaky("f2"),
            deps("later", &["hang"]),
        ],
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        matches!(
            &report.stop_reason,
            Some(StopReason::CircuitBreakerOpen { threshold: 3, .. })
        ),
        "{:?}",
        report.stop_reason
    );
    // The node whose failure opened the breaker failed; the other one was cut off while
    // running or waiting for its retry.
    let mut f = [status(&report, "f1"), status(&report, "f2")];
    f.sort();
    assert_eq!(f, [NodeStatus::Failed, NodeStatus::Cancelled]);
    assert_eq!(status(&report, "hang"), NodeStatus::Cancelled);
    assert!(
        fake.one("hang").saw_cancel,
        "the running node saw its cancel token"
    );
    assert_eq!(status(&report, "later"), NodeStatus::Cancelled);
    assert!(
        fake.calls("later").is_empty(),
        "nothing starts after the breaker opened"
    );
    let failed_attempts = fake.calls("f1").len() + fake.calls("f2").len();
    assert!((3..=4).contains(&failed_attempts), "{failed_attempts}");
    let err = report.into_result().unwrap_err();
    assert!(err.to_string().contains("circuit breaker opened"), "{err}");
    assert!(err.hint().unwrap().contains("circuit_breaker_threshold"));
}

#[tokio::test]
async fn a_success_resets_the_breaker() {
    let fake = Arc::new(Fake::new(&[
        ("flaky", Act::FailTimes(1)),
        ("flaky2", Act::FailTimes(1)),
    ]));
    let mut a = deps("flaky", &[]);
    a.retries = Some(1);
    let mut b = deps("flaky2", &["flaky"]);
    b.retries = Some(1);
    let report = run(&executor(&fake).with_circuit_breaker(2), vec![a, b]).await;
    assert!(report.succeeded(), "{report:?}");
}

#[tokio::test]
async fn a_timeout_cancels_the_node_work() {
    let fake = Arc::new(Fake::new(&[("stuck", Act::Hang)]));
    let mut stuck = deps("stuck", &[]);
    stuck.timeout = Some(Duration::from_millis(50));
    let report = run(&executor(&fake), vec![stuck, deps("next", &["stuck"])]).await;
    let node = report.node("stuck").unwrap();
    assert_eq!(node.status, NodeStatus::Failed);
    assert_eq!(node.error.as_ref().unwrap().class, "TIMEOUT");
    assert!(matches!(
        *node.error.as_ref().unwrap().error,
        Error::Timeout { .. }
    ));
    assert!(
        fake.one("stuck").saw_cancel,
        "the runner observed its cancel token"
    );
    assert_eq!(status(&report, "next"), NodeStatus::Skipped);
}

#[tokio::test]
async fn global_node_timeout_applies_to_nodes_without_their_own() {
    let fake = Arc::new(Fake::new(&[("stuck", Act::Hang)]));
    let report = run(
        &executor(&fake).with_node_timeout(Duration::from_millis(30)),
        vec![deps("stuck", &[])],
    )
    .await;
    assert_eq!(
        report.node("stuck").unwrap().error.as_ref().unwrap().class,
        "TIMEOUT"
    );
}

#[tokio::test]
async fn continue_on_error_skips_only_the_dependents_of_a_failure() {
    let fake = Arc::new(Fake::new(&[("bad", Act::Fail), ("other", Act::Sleep(50))]));
    let report = run(
        &executor(&fake)
            .with_continue_on_error(true)
            .with_max_workers(1),
        vec![
            deps("bad", &[]),
            deps("child", &["bad"]),
            deps("grandchild", &["child"]),
            deps("other", &[]),
            deps("other_child", &["other"]),
        ],
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.stop_reason, None);
    assert_eq!(status(&report, "bad"), NodeStatus::Failed);
    assert_eq!(status(&report, "child"), NodeStatus::Skipped);
    assert_eq!(status(&report, "grandchild"), NodeStatus::Skipped);
    assert_eq!(status(&report, "other"), NodeStatus::Completed);
    assert_eq!(status(&report, "other_child"), NodeStatus::Completed);
}

#[tokio::test]
async fn without_continue_on_error_running_nodes_finish_and_the_rest_is_cancelled() {
    let fake = Arc::new(Fake::new(&[("bad", Act::Fail), ("busy", Act::Sleep(100))]));
    let report = run(
        &executor(&fake).with_max_workers(2),
        vec![
            deps("bad", &[]),
            deps("busy", &[]),
            deps("waiting", &[]),
            deps("child", &["bad"]),
        ],
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(status(&report, "bad"), NodeStatus::Failed);
    assert_eq!(status(&report, "busy"), NodeStatus::Completed);
    assert!(!fake.one("busy").saw_cancel);
    assert_eq!(status(&report, "waiting"), NodeStatus::Cancelled);
    assert_eq!(status(&report, "child"), NodeStatus::Skipped);
    assert!(fake.calls("waiting").is_empty());
}

#[tokio::test]
async fn external_cancellation_interrupts_running_nodes_and_reports_what_completed() {
    let fake = Arc::new(Fake::new(&[("quick", Act::Sleep(0)), ("stuck", Act::Hang)]));
    let token = CancellationToken::new();
    let exec = executor(&fake)
        .with_max_workers(2)
        .with_cancel(token.clone());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel();
    });
    let report = run(
        &exec,
        vec![
            deps("quick", &[]),
            deps("stuck", &[]),
            deps("after", &["stuck"]),
        ],
    )
    .await;
    canceller.await.unwrap();
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.stop_reason, Some(StopReason::Cancelled));
    assert_eq!(status(&report, "quick"), NodeStatus::Completed);
    assert_eq!(status(&report, "stuck"), NodeStatus::Cancelled);
    assert!(fake.one("stuck").saw_cancel);
    assert_eq!(status(&report, "after"), NodeStatus::Cancelled);
}

#[tokio::test]
async fn a_cancelled_token_before_the_run_starts_nothing() {
    let fake = Arc::new(Fake::default());
    let token = CancellationToken::new();
    token.cancel();
    let report = run(&executor(&fake).with_cancel(token), vec![deps("a", &[])]).await;
    assert_eq!(report.status, RunStatus::Cancelled);
    assert!(fake.calls("a").is_empty());
}

#[tokio::test]
async fn a_panicking_node_fails_without_taking_the_run_down() {
    let fake = Arc::new(Fake::new(&[("boom", Act::Panic)]));
    let report = run(
        &executor(&fake).with_continue_on_error(true),
        vec![deps("boom", &[]), deps("fine", &[])],
    )
    .await;
    let boom = report.node("boom").unwrap();
    assert_eq!(boom.status, NodeStatus::Failed);
    assert!(
        boom.error
            .as_ref()
            .unwrap()
            .message
            .contains("fake node exploded")
    );
    assert_eq!(status(&report, "fine"), NodeStatus::Completed);
}

#[tokio::test]
async fn a_failing_progress_sink_never_fails_the_run() {
    let fake = Arc::new(Fake::default());
    let report = run(
        &executor(&fake).with_events(CallbackSink(|_: &ProgressEvent| panic!("sink broke"))),
        vec![deps("a", &[]), deps("b", &["a"])],
    )
    .await;
    assert!(report.succeeded());

    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    drop(rx);
    let report = run(&executor(&fake).with_events(tx), vec![deps("a", &[])]).await;
    assert!(report.succeeded());
}

#[tokio::test]
async fn events_cover_the_run() {
    let fake = Arc::new(Fake::new(&[("bad", Act::Fail)]));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = run(
        &executor(&fake).with_events(tx),
        vec![deps("bad", &[]), deps("child", &["bad"])],
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(match e {
            ProgressEvent::RunStarted { nodes, .. } => format!("run_started {nodes}"),
            ProgressEvent::NodeStarted { node } => format!("started {node}"),
            ProgressEvent::NodeRetrying { node, .. } => format!("retrying {node}"),
            ProgressEvent::NodeFinished(r) => format!("finished {} {}", r.name, r.status),
            ProgressEvent::RunFinished { status, .. } => format!("run_finished {status}"),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        [
            "run_started 2",
            "started bad",
            "finished bad failed",
            "finished child skipped",
            "run_finished failed"
        ]
    );
}

#[tokio::test]
async fn selection_runs_only_the_selected_nodes() {
    let fake = Arc::new(Fake::default());
    let exec = executor(&fake);
    let ctx = Arc::new(context(vec![
        deps("a", &[]),
        deps("b", &["a"]),
        deps("c", &["b"]),
    ]));
    let report = exec
        .run(ctx, "p", None, &NodeSelection::Only(vec!["b".into()]))
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(fake.start_order(), ["b"]);
    assert_eq!(report.nodes.len(), 1);
}

#[tokio::test]
async fn validation_errors_come_before_any_work() {
    let fake = Arc::new(Fake::default());
    let ctx = Arc::new(context(vec![deps("a", &["b"]), deps("b", &["a"])]));
    let err = executor(&fake)
        .run(ctx, "p", None, &NodeSelection::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a -> b -> a"), "{err}");
    assert!(fake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_report_serialises_for_json_output() {
    let fake = Arc::new(Fake::new(&[("bad", Act::Fail)]));
    let report = run(
        &executor(&fake).with_continue_on_error(true),
        vec![deps("ok", &[]), deps("bad", &[])],
    )
    .await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["nodes"][0]["status"], "completed");
    assert_eq!(json["nodes"][0]["rows_written"], 7);
    assert_eq!(json["nodes"][0]["outputs"][0]["destination"], "/tmp/ok");
    assert_eq!(json["nodes"][1]["error"]["class"], "FUNCTION_FAILED");
    assert!(json["duration_secs"].is_f64());
}
