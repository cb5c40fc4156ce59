//! A fake [`PipelineExecutor`]: no Spark, a plan per pipeline, and a record of what ran.
//!
//! Every pipeline has three nodes, `extract` → `transform` → `load`, writing 10, 20 and 30
//! rows. Progress goes through the runner's sink exactly as `tauro-exec` sends it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tauro_exec::{
    BoxFuture, NodeError, NodeResult, NodeStatus, ProgressEvent, ProgressSink, RunReport,
    RunStatus, StopReason,
};
use tauro_orchest::{PipelineExecutor, PipelineRun, RunParams};
use tokio_util::sync::CancellationToken;

/// The nodes of every fake pipeline and the rows each writes.
pub const NODES: [(&str, u64); 3] = [("extract", 10), ("transform", 20), ("load", 30)];

/// What a pipeline does when executed.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Every node succeeds; the whole run takes about `ms`.
    Succeed { ms: u64 },
    /// The first `k` attempts of each run fail in `transform` (`load` is then skipped);
    /// later attempts succeed.
    FailFirst { k: u32, ms: u64 },
    /// Runs whose window starts on this day fail in `transform`; others succeed.
    FailWindow { start: String, ms: u64 },
    /// `extract` starts and never ends until the run is cancelled.
    Hang,
}

/// The error text of a failing `transform`.
pub const FAILURE: &str = "transform failed on purpose";

#[derive(Debug, Default)]
struct Record {
    /// Executions per run id.
    executions: HashMap<String, u32>,
    /// Run ids in the order their executions started.
    started: Vec<String>,
    /// Executions in progress, and the most seen at once.
    running: usize,
    max_running: usize,
    /// Executions that saw their cancel token fire.
    cancelled: u32,
}

/// A [`PipelineExecutor`] following a [`Plan`] per pipeline name.
#[derive(Debug, Default)]
pub struct FakeExecutor {
    plans: Mutex<HashMap<String, Plan>>,
    record: Mutex<Record>,
}

impl FakeExecutor {
    /// An executor with these plans.
    pub fn new(plans: &[(&str, Plan)]) -> Arc<Self> {
        let fake = Self::default();
        for (pipeline, plan) in plans {
            fake.set_plan(pipeline, plan.clone());
        }
        Arc::new(fake)
    }

    /// Changes the plan of `pipeline`.
    pub fn set_plan(&self, pipeline: &str, plan: Plan) {
        self.plans
            .lock()
            .unwrap()
            .insert(pipeline.to_string(), plan);
    }

    /// How many times run `id` was executed.
    pub fn executions(&self, id: &str) -> u32 {
        self.record
            .lock()
            .unwrap()
            .executions
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// Executions per run id.
    pub fn all_executions(&self) -> HashMap<String, u32> {
        self.record.lock().unwrap().executions.clone()
    }

    /// Run ids in the order their executions started.
    pub fn started(&self) -> Vec<String> {
        self.record.lock().unwrap().started.clone()
    }

    /// The most executions seen at once.
    pub fn max_running(&self) -> usize {
        self.record.lock().unwrap().max_running
    }

    /// Executions that were cancelled (by a cancel, a timeout or a lost lease).
    pub fn cancelled(&self) -> u32 {
        self.record.lock().unwrap().cancelled
    }

    async fn execute_run(
        &self,
        run: PipelineRun,
        cancel: CancellationToken,
        events: Arc<dyn ProgressSink>,
    ) -> tauro_orchest::Result<RunReport> {
        let plan = self
            .plans
            .lock()
            .unwrap()
            .get(&run.pipeline)
            .cloned()
            .unwrap_or_else(|| panic!("no plan for pipeline '{}'", run.pipeline));
        let attempt = {
            let mut r = self.record.lock().unwrap();
            let n = r.executions.entry(run.id.clone()).or_default();
            *n += 1;
            let attempt = *n;
            r.started.push(run.id.clone());
            r.running += 1;
            r.max_running = r.max_running.max(r.running);
            attempt
        };
        let params = RunParams::of(&run).unwrap();
        let (fails, ms) = match &plan {
            Plan::Succeed { ms } => (false, *ms),
            Plan::FailFirst { k, ms } => (attempt <= *k, *ms),
            Plan::FailWindow { start, ms } => (params.start.as_deref() == Some(start), *ms),
            Plan::Hang => (false, u64::MAX),
        };
        let report = run_nodes(&run, &cancel, events.as_ref(), fails, ms).await;
        let mut r = self.record.lock().unwrap();
        r.running -= 1;
        if report.status == RunStatus::Cancelled {
            r.cancelled += 1;
        }
        Ok(report)
    }
}

impl PipelineExecutor for FakeExecutor {
    fn execute(
        &self,
        run: PipelineRun,
        cancel: CancellationToken,
        events: Arc<dyn ProgressSink>,
    ) -> BoxFuture<'_, tauro_orchest::Result<RunReport>> {
        Box::pin(self.execute_run(run, cancel, events))
    }
}

/// Runs the three nodes one after another, each for a third of `ms` (`u64::MAX`: until
/// cancelled), `transform` failing when `fails`.
async fn run_nodes(
    run: &PipelineRun,
    cancel: &CancellationToken,
    events: &dyn ProgressSink,
    fails: bool,
    ms: u64,
) -> RunReport {
    let started_at = Utc::now();
    let began = std::time::Instant::now();
    let per_node = if ms == u64::MAX {
        Duration::MAX
    } else {
        Duration::from_millis(ms / 3)
    };
    let mut nodes = Vec::new();
    let mut stop = None;
    for (name, rows) in NODES {
        if stop.is_some() {
            // Downstream of a failure or a cancel: never started.
            let status = if stop == Some(StopReason::Cancelled) {
                NodeStatus::Cancelled
            } else {
                NodeStatus::Skipped
            };
            let result = node(name, status, None, None);
            let _ = events.on_event(&ProgressEvent::NodeFinished(result.clone()));
            nodes.push(result);
            continue;
        }
        let _ = events.on_event(&ProgressEvent::NodeStarted {
            node: name.to_string(),
        });
        let node_start = Utc::now();
        let cancelled = tokio::select! {
            () = tokio::time::sleep(per_node) => false,
            () = cancel.cancelled() => true,
        };
        let mut result = if cancelled {
            stop = Some(StopReason::Cancelled);
            node(name, NodeStatus::Cancelled, None, Some("cancelled"))
        } else if fails && name == "transform" {
            stop = Some(StopReason::NodeFailed {
                node: name.to_string(),
            });
            node(name, NodeStatus::Failed, None, Some(FAILURE))
        } else {
            node(name, NodeStatus::Completed, Some(rows), None)
        };
        result.attempts = 1;
        result.started_at = Some(node_start);
        result.finished_at = Some(Utc::now());
        result.duration = Some((Utc::now() - node_start).to_std().unwrap_or_default());
        let _ = events.on_event(&ProgressEvent::NodeFinished(result.clone()));
        nodes.push(result);
    }
    let status = match &stop {
        None => RunStatus::Succeeded,
        Some(StopReason::Cancelled) => RunStatus::Cancelled,
        Some(_) => RunStatus::Failed,
    };
    RunReport {
        run_id: run.id.clone(),
        pipeline: run.pipeline.clone(),
        status,
        stop_reason: stop,
        started_at,
        duration: began.elapsed(),
        nodes,
        ml: None,
    }
}

fn node(name: &str, status: NodeStatus, rows: Option<u64>, error: Option<&str>) -> NodeResult {
    NodeResult {
        name: name.to_string(),
        status,
        attempts: 0,
        started_at: None,
        finished_at: None,
        duration: None,
        rows_written: rows,
        outputs: Vec::new(),
        error: error.map(|m| NodeError::from(tauro_exec::Error::function(m))),
        lineage: None,
        metrics: Default::default(),
        expectations: Vec::new(),
        ml: None,
        spark: None,
    }
}
