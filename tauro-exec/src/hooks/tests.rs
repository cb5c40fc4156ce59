//! Event bus, lifecycle events and built-in hooks, with a fake runner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::error::Error;
use crate::executor::Executor;
use crate::report::{RunReport, RunStatus};
use crate::retry::RetryPolicy;
use crate::runner::{NodeJob, NodeOutcome, NodeRunner, WrittenOutput};
use crate::selection::NodeSelection;
use crate::testutil::{context, io};

/// Sleeps 10 ms per attempt; nodes in `fail` always fail, nodes in `flaky` fail once.
struct Fake {
    fail: HashSet<&'static str>,
    flaky: HashSet<&'static str>,
}

impl Fake {
    fn new(fail: &[&'static str], flaky: &[&'static str]) -> Self {
        Self {
            fail: fail.iter().copied().collect(),
            flaky: flaky.iter().copied().collect(),
        }
    }
}

impl NodeRunner for Fake {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, crate::Result<NodeOutcome>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let node = job.node();
            let name = node.name.as_str();
            if self.fail.contains(name) || (self.flaky.contains(name) && job.attempt() == 1) {
                return Err(Error::function(format!("{name} failed on purpose")));
            }
            Ok(NodeOutcome {
                metrics: Default::default(),
                expectations: Vec::new(),
                outputs: node
                    .output
                    .iter()
                    .map(|o| WrittenOutput {
                        output: o.clone(),
                        destination: format!("/tmp/out/{o}"),
                        rows: Some(5),
                    })
                    .collect(),
                lineage: None,
                spark: None,
            })
        })
    }
}

/// `root` → (`a`, `b` (flaky), `c` (fails)) → `d` reads `c`'s output (skipped).
fn fan_out() -> Vec<tauro_config::NodeConfig> {
    vec![
        io("root", &[], &["r"]),
        io("a", &["r"], &["a_out"]),
        io("b", &["r"], &["b_out"]),
        io("c", &["r"], &["c_out"]),
        io("d", &["c_out"], &["d_out"]),
    ]
}

async fn run_with(
    bus: &EventBus,
    ctx: tauro_config::Context,
    fail: &[&'static str],
    flaky: &[&'static str],
) -> RunReport {
    Executor::new(Fake::new(fail, flaky))
        .with_max_workers(3)
        .with_continue_on_error(true)
        .with_retry(
            RetryPolicy::default()
                .with_max_retries(1)
                .with_base_delay(Duration::from_millis(1)),
        )
        .with_events(bus.clone())
        .run(Arc::new(ctx), "p", None, &NodeSelection::All)
        .await
        .unwrap()
}

/// `(kind, node)` of the events a [`recorder`] saw.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A closure hook recording `(kind, node)` per event.
fn recorder(bus: &EventBus, options: HookOptions) -> Seen {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    bus.register_fn("recorder", options, move |e| {
        sink.lock()
            .unwrap()
            .push((e.kind().to_string(), e.node().map(str::to_string)));
        Ok(())
    });
    seen
}

#[test]
fn every_kind_is_a_configurable_hook_event() {
    let result = crate::report::NodeResult {
        name: "n".into(),
        status: crate::NodeStatus::Completed,
        attempts: 1,
        started_at: None,
        duration: None,
        rows_written: None,
        outputs: Vec::new(),
        error: None,
        lineage: None,
        finished_at: None,
        metrics: Default::default(),
        expectations: Vec::new(),
        ml: None,
        spark: None,
    };
    let kinds = [
        EventKind::PipelineStart { nodes: 1 },
        EventKind::NodeStart {
            node: "n".into(),
            attempt: 1,
        },
        EventKind::NodeRetry {
            node: "n".into(),
            attempt: 2,
            max_attempts: 2,
            delay: Duration::ZERO,
            error: "x".into(),
        },
        EventKind::NodeComplete(result.clone()),
        EventKind::NodeError(result.clone()),
        EventKind::NodeSkipped(result.clone()),
        EventKind::NodeCancelled(result),
        EventKind::NodeCached {
            node: "n".into(),
            reason: "unchanged".into(),
        },
        EventKind::StreamProgress {
            node: "n".into(),
            batch_id: Some(3),
            rows: None,
            details: serde_json::Value::Null,
        },
        EventKind::PipelineComplete {
            status: RunStatus::Succeeded,
            duration: Duration::ZERO,
        },
        EventKind::PipelineError {
            status: RunStatus::Failed,
            duration: Duration::ZERO,
            stop_reason: None,
        },
    ];
    let names: Vec<&str> = kinds.iter().map(EventKind::name).collect();
    assert_eq!(names, tauro_config::HOOK_EVENTS);
    let run = RunInfo::new("r1", "p");
    for kind in kinds {
        let name = kind.name();
        let json = LifecycleEvent::new(&run, kind).to_json();
        assert_eq!(json["event"], name);
        assert_eq!(json["run_id"], "r1");
    }
}

#[test]
fn event_json_starts_with_the_common_fields() {
    let run = RunInfo::new("r1", "p");
    let progress = crate::ProgressEvent::NodeRetrying {
        node: "n".into(),
        attempt: 2,
        max_attempts: 3,
        delay: Duration::from_millis(1500),
        error: "boom".into(),
    };
    let event = LifecycleEvent::from_progress(&run, &progress).unwrap();
    let json = serde_json::to_value(&event).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "event",
            "run_id",
            "pipeline",
            "node",
            "timestamp",
            "attempt",
            "max_attempts",
            "delay_secs",
            "error"
        ]
    );
    assert_eq!(json["event"], "node_retry");
    assert_eq!(json["delay_secs"], 1.5);
    let ts = json["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.contains('.'), "{ts}");
    // Results of finished nodes: the node result's fields, `name` becoming `node`.
    let finished = crate::ProgressEvent::NodeFinished(crate::report::NodeResult {
        name: "n".into(),
        status: crate::NodeStatus::Failed,
        attempts: 2,
        started_at: None,
        duration: Some(Duration::from_secs(2)),
        rows_written: None,
        outputs: Vec::new(),
        error: Some(Error::function("bad").into()),
        lineage: None,
        finished_at: None,
        metrics: Default::default(),
        expectations: Vec::new(),
        ml: None,
        spark: None,
    });
    let json = &LifecycleEvent::from_progress(&run, &finished)
        .unwrap()
        .to_json();
    let cached = crate::ProgressEvent::NodeCached {
        node: "c".into(),
        reason: "unchanged".into(),
    };
    let cached = LifecycleEvent::from_progress(&run, &cached)
        .unwrap()
        .to_json();
    assert_eq!(cached["event"], "node_cached");
    assert_eq!(cached["node"], "c");
    assert_eq!(cached["reason"], "unchanged");
    assert_eq!(json["event"], "node_error");
    assert_eq!(json["node"], "n");
    assert!(json.get("name").is_none());
    assert_eq!(json["status"], "failed");
    assert_eq!(json["attempts"], 2);
    assert_eq!(json["duration_secs"], 2.0);
    assert_eq!(json["error"]["message"], "bad");
}

#[tokio::test]
async fn events_arrive_in_a_valid_order_for_every_node() {
    let bus = EventBus::new();
    let seen = recorder(&bus, HookOptions::default());
    let report = run_with(&bus, context(fan_out()), &["c"], &["b"]).await;
    assert_eq!(report.status, RunStatus::Failed);
    let flushed = bus.flush(Duration::from_secs(5)).await;
    assert!(flushed.complete, "{flushed:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first().unwrap().0, "pipeline_start");
    assert_eq!(seen.last().unwrap().0, "pipeline_error");
    let mut per_node: HashMap<String, Vec<String>> = HashMap::new();
    for (kind, node) in &seen {
        if let Some(node) = node {
            per_node.entry(node.clone()).or_default().push(kind.clone());
        }
    }
    let expect = |n: &str, kinds: &[&str]| assert_eq!(per_node[n], kinds, "node {n}: {seen:?}");
    expect("root", &["node_start", "node_complete"]);
    expect("a", &["node_start", "node_complete"]);
    expect("b", &["node_start", "node_retry", "node_complete"]);
    expect("c", &["node_start", "node_retry", "node_error"]);
    expect("d", &["node_skipped"]);
    // Children start only after their parent completed.
    let pos = |kind: &str, node: &str| {
        seen.iter()
            .position(|(k, n)| k == kind && n.as_deref() == Some(node))
            .unwrap()
    };
    for child in ["a", "b", "c"] {
        assert!(pos("node_complete", "root") < pos("node_start", child));
    }
    let report = bus.report();
    assert_eq!(report[0].delivered as usize, seen.len());
}

/// Handles events by panicking.
struct Panics;

impl EventHook for Panics {
    fn name(&self) -> &str {
        "panics"
    }

    fn handle<'a>(&'a self, _: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async { panic!("hook exploded") })
    }
}

/// Never finishes handling an event.
struct Hangs;

impl EventHook for Hangs {
    fn name(&self) -> &str {
        "hangs"
    }

    fn handle<'a>(&'a self, _: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn failing_panicking_and_hanging_hooks_neither_fail_nor_stall_the_run() {
    let bus = EventBus::new(); // default hook timeout: 5 s
    bus.register_fn("fails", HookOptions::priority(1), |_| {
        Err("hook refused".into())
    });
    bus.register(Panics, HookOptions::priority(2));
    bus.register(Hangs, HookOptions::priority(3));
    bus.register_fn("blocks", HookOptions::priority(4), |_| {
        std::thread::sleep(Duration::from_secs(2));
        Ok(())
    });
    bus.register_fn("sync_panics", HookOptions::priority(5), |_| {
        panic!("sync hook exploded")
    });
    let seen = recorder(&bus, HookOptions::priority(6));

    let started = Instant::now();
    let report = run_with(&bus, context(fan_out()), &[], &[]).await;
    let took = started.elapsed();
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert!(
        took < Duration::from_secs(1),
        "the run took {took:?}: hooks must not hold it up (hook timeout 5 s)"
    );

    // The well-behaved hook gets everything; the flush gives up on the hanging ones at
    // its deadline instead of waiting for them.
    let started = Instant::now();
    let flushed = bus.flush(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!flushed.complete);
    let by_name: HashMap<&str, &HookReport> =
        flushed.hooks.iter().map(|h| (h.name.as_str(), h)).collect();
    let events = seen.lock().unwrap().len() as u64;
    assert_eq!(events, 12, "{:?}", seen.lock().unwrap());
    assert_eq!(by_name["recorder"].delivered, events);
    assert_eq!(by_name["fails"].failed, events);
    assert_eq!(by_name["panics"].panicked, events);
    assert_eq!(
        by_name["sync_panics"].failed, events,
        "a closure's panic is its error"
    );
    assert_eq!(by_name["hangs"].delivered, 0);
    assert!(by_name["hangs"].pending > 0);
    assert!(by_name["blocks"].pending > 0);
    let order: Vec<&str> = flushed.hooks.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "fails",
            "panics",
            "hangs",
            "blocks",
            "sync_panics",
            "recorder"
        ]
    );
}

#[tokio::test]
async fn timed_out_calls_are_cut_off_and_a_hook_that_keeps_timing_out_is_disabled() {
    let bus = EventBus::new();
    bus.register(
        Hangs,
        HookOptions::default().timeout(Duration::from_millis(20)),
    );
    let run = RunInfo::new("r", "p");
    for _ in 0..5 {
        bus.emit(LifecycleEvent::new(
            &run,
            EventKind::PipelineStart { nodes: 0 },
        ));
    }
    let flushed = bus.flush(Duration::from_secs(5)).await;
    assert!(flushed.complete);
    let h = &flushed.hooks[0];
    assert_eq!((h.timed_out, h.dropped, h.disabled), (3, 2, true), "{h:?}");
    bus.emit(LifecycleEvent::new(
        &run,
        EventKind::PipelineStart { nodes: 0 },
    ));
    assert_eq!(bus.report()[0].dropped, 3);
}

#[tokio::test]
async fn a_full_queue_drops_events_instead_of_waiting() {
    let bus = EventBus::with_options(BusOptions {
        queue_capacity: 2,
        ..BusOptions::default()
    });
    bus.register_fn("slow", HookOptions::default(), |_| {
        std::thread::sleep(Duration::from_millis(100));
        Ok(())
    });
    let run = RunInfo::new("r", "p");
    let started = Instant::now();
    for _ in 0..20 {
        bus.emit(LifecycleEvent::new(
            &run,
            EventKind::PipelineStart { nodes: 0 },
        ));
    }
    assert!(started.elapsed() < Duration::from_millis(50));
    let flushed = bus.flush(Duration::from_secs(5)).await;
    let h = &flushed.hooks[0];
    assert_eq!(h.delivered + h.dropped, 20, "{h:?}");
    assert!(h.dropped >= 15, "{h:?}");
}

#[tokio::test]
async fn hooks_only_get_the_events_they_subscribed_to() {
    let bus = EventBus::new();
    let seen = recorder(
        &bus,
        HookOptions::default().events(["node_error", "pipeline_error"]),
    );
    run_with(&bus, context(fan_out()), &["c"], &[]).await;
    bus.flush(Duration::from_secs(5)).await;
    let kinds: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(kinds, ["node_error", "pipeline_error"]);
}

#[tokio::test]
async fn the_file_hook_appends_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/events.jsonl");
    let bus = EventBus::new().with_hook(
        FileHook::new("file", &path),
        HookOptions::default().events(["node_complete", "pipeline_complete"]),
    );
    run_with(&bus, context(fan_out()), &[], &[]).await;
    run_with(&bus, context(fan_out()), &[], &[]).await;
    assert!(bus.flush(Duration::from_secs(5)).await.complete);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12, "{text}");
    assert_eq!(lines[5]["event"], "pipeline_complete");
    assert_eq!(lines[0]["event"], "node_complete");
    assert_eq!(lines[0]["node"], "root");
    assert_eq!(lines[0]["rows_written"], 5);
    assert_ne!(lines[0]["run_id"], lines[6]["run_id"], "two runs, two ids");
}

#[tokio::test]
async fn the_command_hook_runs_with_the_event_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let script = "cat >> events.jsonl; echo >> events.jsonl; \
                  echo \"$TAURO_EVENT $TAURO_PIPELINE $TAURO_NODE\" >> env.txt";
    let bus = EventBus::new()
        .with_hook(
            CommandHook::new("cmd", "sh")
                .with_args(["-c".to_string(), script.to_string()])
                .in_dir(dir.path()),
            HookOptions::default().events(["node_start", "pipeline_start"]),
        )
        .with_hook(
            CommandHook::new("bad", "sh")
                .with_args(["-c".to_string(), "echo nope >&2; exit 3".to_string()]),
            HookOptions::default().events(["pipeline_start"]),
        )
        .with_hook(
            CommandHook::new("missing", "/nonexistent/tauro-hook"),
            HookOptions::default().events(["pipeline_start"]),
        );
    run_with(&bus, context(vec![io("only", &[], &["o"])]), &[], &[]).await;
    let flushed = bus.flush(Duration::from_secs(10)).await;
    assert!(flushed.complete);
    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert_eq!(env, "pipeline_start p \nnode_start p only\n");
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "pipeline_start");
    assert_eq!(first["nodes"], 1);
    assert_eq!(flushed.hooks[0].delivered, 2);
    assert_eq!(flushed.hooks[1].failed, 1);
    assert_eq!(flushed.hooks[2].failed, 1);
}

/// A tiny HTTP server: answers each request with the next status of `statuses` (the last
/// repeats; 0 means never answer), and returns the requests it read.
async fn http_server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook?x=1", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        let mut i = 0;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let status = statuses[i.min(statuses.len() - 1)];
            i += 1;
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break (head, text[end + 4..end + 4 + len].to_string());
                        }
                    }
                };
                seen.lock().unwrap().push((head, body));
                if status == 0 {
                    std::future::pending::<()>().await;
                }
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 4\r\nconnection: close\r\n\r\noops"
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, requests)
}

#[tokio::test]
async fn the_http_hook_posts_each_event_as_json() {
    let (url, requests) = http_server(vec![200, 204, 500]).await;
    let bus = EventBus::new().with_hook(
        HttpHook::new("http", &url).with_headers([("X-Token".to_string(), "s3cret".to_string())]),
        HookOptions::default().events(["pipeline_start", "node_complete", "pipeline_complete"]),
    );
    run_with(&bus, context(vec![io("only", &[], &["o"])]), &[], &[]).await;
    let flushed = bus.flush(Duration::from_secs(5)).await;
    assert!(flushed.complete);
    let h = &flushed.hooks[0];
    assert_eq!(
        (h.delivered, h.failed),
        (2, 1),
        "the 500 is a failure: {h:?}"
    );
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    let (head, body) = &requests[0];
    assert!(head.starts_with("POST /hook?x=1 HTTP/1.1"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("x-token: s3cret"), "{head}");
    assert!(head.contains("host: 127.0.0.1:"), "{head}");
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["event"], "pipeline_start");
    let kinds: Vec<String> = requests
        .iter()
        .map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).unwrap()["event"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "\"pipeline_start\"",
            "\"node_complete\"",
            "\"pipeline_complete\""
        ]
    );
}

#[tokio::test]
async fn an_http_endpoint_that_never_answers_times_out_without_stalling_the_run() {
    let (url, _) = http_server(vec![0]).await;
    let bus = EventBus::new().with_hook(
        HttpHook::new("http", &url).with_timeout(Duration::from_millis(200)),
        HookOptions::default(),
    );
    let started = Instant::now();
    let report = run_with(&bus, context(vec![io("only", &[], &["o"])]), &[], &[]).await;
    assert!(report.succeeded());
    assert!(started.elapsed() < Duration::from_millis(500));
    let flushed = bus.flush(Duration::from_secs(5)).await;
    assert!(flushed.complete);
    assert_eq!(flushed.hooks[0].failed, 4, "{:?}", flushed.hooks[0]);
    // Nobody listens on a closed port: a connection error, counted, not raised.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let bus = EventBus::new().with_hook(
        HttpHook::new("down", format!("http://{closed}/")),
        HookOptions::default(),
    );
    run_with(&bus, context(vec![io("only", &[], &["o"])]), &[], &[]).await;
    assert_eq!(bus.flush(Duration::from_secs(5)).await.hooks[0].failed, 4);
}

#[tokio::test]
async fn summary_and_metrics_hooks_describe_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let summary = SummaryHook::new();
    let bus = EventBus::new()
        .with_hook(summary.clone(), HookOptions::default())
        .with_hook(
            MetricsHook::new("metrics", dir.path().join("{pipeline}.prom")),
            HookOptions::default(),
        );
    let report = run_with(&bus, context(fan_out()), &["c"], &["b"]).await;
    assert!(bus.flush(Duration::from_secs(5)).await.complete);
    let s = summary.summary(&report.run_id).unwrap();
    assert_eq!(summary.latest().unwrap(), s);
    assert_eq!(s.status.as_deref(), Some("failed"));
    assert!(s.finished());
    assert_eq!(s.selected, 5);
    assert_eq!(s.by_status["completed"], 3);
    assert_eq!(s.by_status["failed"], 1);
    assert_eq!(s.by_status["skipped"], 1);
    assert_eq!(s.retries, 2);
    assert_eq!(s.rows_written, 15);
    assert_eq!(s.nodes.len(), 5);
    let prom = std::fs::read_to_string(dir.path().join("p.prom")).unwrap();
    for line in [
        "# TYPE tauro_node_duration_seconds gauge",
        &format!(
            "tauro_run_info{{pipeline=\"p\",run_id=\"{}\",status=\"failed\"}} 1",
            report.run_id
        ),
        "tauro_run_nodes{pipeline=\"p\",status=\"completed\"} 3",
        "tauro_run_nodes{pipeline=\"p\",status=\"cached\"} 0",
        "tauro_run_retries{pipeline=\"p\"} 2",
        "tauro_node_rows_written{pipeline=\"p\",node=\"a\"} 5",
        "tauro_node_attempts{pipeline=\"p\",node=\"b\"} 2",
        "tauro_node_attempts{pipeline=\"p\",node=\"d\"} 0",
    ] {
        assert!(prom.lines().any(|l| l == line), "missing {line}:\n{prom}");
    }
    assert!(
        prom.lines().any(|l| l.starts_with(
            "tauro_node_duration_seconds{pipeline=\"p\",node=\"c\",status=\"failed\"} "
        )),
        "{prom}"
    );
}

#[test]
fn prometheus_labels_are_escaped() {
    let summary = RunSummary {
        run_id: "r".into(),
        pipeline: "we\"ird\\pipe\nline".into(),
        started_at: chrono::Utc::now(),
        status: Some("succeeded".into()),
        duration_secs: Some(1.0),
        selected: 0,
        by_status: Default::default(),
        retries: 0,
        rows_written: 0,
        node_secs: 0.0,
        nodes: Vec::new(),
    };
    let text = render_prometheus(&summary);
    assert!(
        text.contains("tauro_run_retries{pipeline=\"we\\\"ird\\\\pipe\\nline\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn a_fanout_sink_feeds_every_sink_even_if_one_fails() {
    let bus = EventBus::new();
    let seen = recorder(&bus, HookOptions::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<crate::ProgressEvent>();
    drop(rx); // a sink that always errors
    let printed = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&printed);
    let fanout = FanoutSink::new()
        .with(tx)
        .with(crate::CallbackSink(|_: &crate::ProgressEvent| {
            panic!("printer broke")
        }))
        .with(bus.clone())
        .with(crate::CallbackSink(move |_: &crate::ProgressEvent| {
            *count.lock().unwrap() += 1;
        }));
    let report = Executor::new(Fake::new(&[], &[]))
        .with_events(fanout)
        .run(
            Arc::new(context(vec![io("only", &[], &["o"])])),
            "p",
            None,
            &NodeSelection::All,
        )
        .await
        .unwrap();
    assert!(report.succeeded());
    bus.flush(Duration::from_secs(5)).await;
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert_eq!(*printed.lock().unwrap(), 4);
}

#[tokio::test]
async fn hooks_and_openlineage_come_from_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(fan_out());
    ctx.project_dir = dir.path().to_path_buf();
    let events_path = dir.path().join("events.jsonl");
    let ol_path = dir.path().join("ol.jsonl");
    let loc = tauro_config::Location {
        file: "global.yml".into(),
        line: 3,
    };
    ctx.global.hooks = vec![
        tauro_config::HookConfig {
            name: "events".into(),
            target: tauro_config::HookTarget::File {
                path: events_path.display().to_string(),
            },
            events: vec!["node_error".into()],
            priority: 5,
            timeout: Duration::from_secs(1),
            location: loc.clone(),
        },
        tauro_config::HookConfig {
            name: "prom".into(),
            target: tauro_config::HookTarget::Metrics {
                path: dir.path().join("m.prom").display().to_string(),
            },
            events: Vec::new(),
            priority: 200,
            timeout: Duration::from_secs(1),
            location: loc.clone(),
        },
    ];
    ctx.global.lineage.openlineage = Some(tauro_config::OpenLineageSettings {
        target: tauro_config::OpenLineageTargetConfig::Path {
            path: ol_path.display().to_string(),
        },
        namespace: Some("shop".into()),
        timeout: Duration::from_secs(1),
        location: loc,
    });
    let ctx = Arc::new(ctx);
    let bus = EventBus::from_settings(&ctx);
    assert_eq!(bus.hook_names(), ["events", "openlineage", "prom"]);
    run_with(&bus, (*ctx).clone(), &["c"], &[]).await;
    assert!(bus.flush(Duration::from_secs(5)).await.complete);
    let events = std::fs::read_to_string(&events_path).unwrap();
    assert_eq!(events.lines().count(), 1);
    assert!(dir.path().join("m.prom").exists());
    let ol: Vec<serde_json::Value> = std::fs::read_to_string(&ol_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<String> = ol
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["eventType"].as_str().unwrap(),
                e["job"]["name"].as_str().unwrap()
            )
        })
        .collect();
    // START before COMPLETE/FAIL per job; `d` was skipped: no events.
    for job in ["p", "p.root", "p.a", "p.b", "p.c"] {
        let start = summary.iter().position(|s| s == &format!("START {job}"));
        let end = summary
            .iter()
            .position(|s| s == &format!("COMPLETE {job}") || s == &format!("FAIL {job}"));
        assert!(
            start.is_some() && end.is_some() && start < end,
            "{job}: {summary:?}"
        );
    }
    assert!(!summary.iter().any(|s| s.ends_with("p.d")), "{summary:?}");
    assert!(summary.contains(&"FAIL p.c".to_string()));
    assert!(summary.contains(&"FAIL p".to_string()));
    assert!(ol.iter().all(|e| e["job"]["namespace"] == "shop"));
}
