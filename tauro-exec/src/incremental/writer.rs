//! [`StateWriter`]: keeps `.tauro/run_state.json` up to date while a run goes on, as a
//! [`ProgressSink`] fed by the executor's `NodeFinished` events.
//!
//! - [`start`](StateWriter::start): the run is recorded as `running` with the nodes it is to
//!   run, and the nodes no longer in the pipeline are dropped from the state.
//! - Each node that finishes (`completed`, `failed`, `skipped`, `cancelled`) is recorded at
//!   once in memory and written by the writer's own thread: the executor never waits for the
//!   disk. Every write is a complete, atomic replacement (lock, re-read, merge this run's
//!   records, temp file + fsync + rename, previous good file kept as the backup), so writes
//!   that fall behind coalesce and no update is lost, however many nodes finish together.
//!   After each write the thread pauses for three times as long as the write took (at most
//!   250 ms; a flush or the end of the run cuts the pause short), so that rewriting a
//!   large file after every node cannot keep a core busy: on a 1,000-node run of short nodes
//!   the writer used to take about half a core, next to the Spark server.
//! - [`flush`](StateWriter::flush) (on `RunFinished`) waits until everything recorded is on
//!   disk; [`finish`](StateWriter::finish) records the run's end and stops the thread.
//!
//! If the process dies, the file holds every node recorded up to the last write; a node
//! recorded after it is simply not there, and resume runs it again — the safe side.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use chrono::Utc;

use super::fingerprint::Fingerprint;
use super::plan::Plan;
use super::run_state::{LastRun, LastRunStatus, NodeRunState, StoredError, update};
use super::store::StateDir;
use crate::error::{BoxError, Error, Result};
use crate::events::{ProgressEvent, ProgressSink};
use crate::report::{NodeResult, RunReport, RunStatus};
use crate::state::NodeStatus;

/// After a write, the writer waits this many times as long as the write took before the next
/// one (changes made meanwhile go into that next write), so it is busy at most a quarter of
/// the time.
const PACE: u32 = 3;
/// The longest such pause: a node finished is on disk at most this long after the previous
/// write ended.
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Records a run in the run state (see the module docs).
#[derive(Debug)]
pub struct StateWriter {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    dir: StateDir,
    pipeline: String,
    inner: Mutex<Inner>,
    /// Wakes the worker: something changed, or it must stop.
    changed: Condvar,
    /// Wakes waiters: a write finished.
    written: Condvar,
}

#[derive(Debug)]
struct Inner {
    run_id: String,
    prints: HashMap<String, Fingerprint>,
    upstream: HashMap<String, Vec<String>>,
    /// Every node this run recorded so far (each write carries all of them: idempotent).
    records: BTreeMap<String, NodeRunState>,
    failed: BTreeSet<String>,
    dropped: Vec<String>,
    last_run: LastRun,
    /// Bumped by every change.
    version: u64,
    /// The version the last finished write had.
    written: u64,
    /// True when a worker thread writes (else writes happen in the caller).
    threaded: bool,
    /// Callers waiting in `flush`: the writer does not pause while there are any.
    flushing: u32,
    closed: bool,
    last_error: Option<String>,
}

/// What one write puts in the file.
struct Snapshot {
    records: BTreeMap<String, NodeRunState>,
    dropped: Vec<String>,
    last_run: LastRun,
}

impl StateWriter {
    /// A writer for the run `run_id` of `plan` into `dir`. Nothing is written until
    /// [`start`](Self::start).
    pub fn new(dir: StateDir, plan: &Plan, run_id: impl Into<String>) -> Self {
        let run_id = run_id.into();
        let last_run = LastRun {
            run_id: run_id.clone(),
            mode: plan.mode,
            status: LastRunStatus::Running,
            started_at: Utc::now(),
            finished_at: None,
            window: plan.window.map(Into::into),
            nodes: plan.to_run(),
            error: None,
            ml: plan.ml.clone(),
        };
        let inner = Inner {
            run_id,
            prints: plan.prints.clone(),
            upstream: plan
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.upstream.clone()))
                .collect(),
            records: BTreeMap::new(),
            failed: BTreeSet::new(),
            dropped: plan.dropped_from_state.clone(),
            last_run,
            version: 0,
            written: 0,
            threaded: false,
            flushing: 0,
            closed: false,
            last_error: None,
        };
        Self {
            shared: Arc::new(Shared {
                dir,
                pipeline: plan.pipeline.clone(),
                inner: Mutex::new(inner),
                changed: Condvar::new(),
                written: Condvar::new(),
            }),
            worker: Mutex::new(None),
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> String {
        self.shared.lock().run_id.clone()
    }

    /// Records the start of the run (status `running`, the nodes to run), drops the nodes
    /// no longer in the pipeline, and starts the writer thread. Returns once written.
    pub fn start(&self) -> Result<()> {
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if worker.is_none() {
            let shared = Arc::clone(&self.shared);
            match std::thread::Builder::new()
                .name("tauro-state-writer".into())
                .spawn(move || shared.work())
            {
                Ok(handle) => {
                    self.shared.lock().threaded = true;
                    *worker = Some(handle);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no thread for the state writer; writing inline");
                }
            }
        }
        drop(worker);
        self.shared.change(|_| {})?;
        self.flush()
    }

    /// Records a node's final result (non-final statuses and `cached` are ignored).
    pub fn record(&self, result: &NodeResult) -> Result<()> {
        let status = result.status;
        if !matches!(
            status,
            NodeStatus::Completed
                | NodeStatus::Failed
                | NodeStatus::Skipped
                | NodeStatus::Cancelled
        ) {
            return Ok(());
        }
        self.shared.change(|inner| {
            let reason = match status {
                NodeStatus::Skipped => Some(skip_reason(inner, &result.name)),
                NodeStatus::Cancelled => {
                    Some("the run stopped before the node finished".to_string())
                }
                _ => None,
            };
            if status == NodeStatus::Failed {
                inner.failed.insert(result.name.clone());
            }
            let print = inner.prints.get(&result.name);
            let entry = NodeRunState {
                status,
                fingerprint: print.map(|p| p.combined.clone()).unwrap_or_default(),
                parts: print.map(|p| p.parts.clone()),
                run_id: inner.run_id.clone(),
                started_at: result.started_at,
                finished_at: Some(Utc::now()),
                duration_secs: result.duration.map(|d| d.as_secs_f64()),
                rows_written: result.rows_written,
                attempts: result.attempts,
                error: result.error.as_ref().map(|e| StoredError {
                    message: e.message.clone(),
                    class: e.class.clone(),
                }),
                reason,
                expectations: result.expectations.clone(),
            };
            inner.records.insert(result.name.clone(), entry);
        })
    }

    /// Waits until everything recorded so far is written; the last write's error, if any.
    pub fn flush(&self) -> Result<()> {
        let mut inner = self.shared.lock();
        if inner.threaded {
            let target = inner.version;
            inner.flushing += 1;
            self.shared.changed.notify_all();
            while inner.written < target && !inner.closed {
                inner = self
                    .shared
                    .written
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            inner.flushing -= 1;
        }
        match &inner.last_error {
            None => Ok(()),
            Some(e) => Err(Error::StateFile {
                path: self.shared.dir.run_state(),
                action: "write",
                source: std::io::Error::other(e.clone()),
            }),
        }
    }

    /// Records the end of the run from its report, writes, and stops the writer thread.
    pub fn finish(&self, report: &RunReport) -> Result<()> {
        self.shared.change(|inner| {
            inner.last_run.status = match report.status {
                RunStatus::Succeeded => LastRunStatus::Succeeded,
                RunStatus::Failed => LastRunStatus::Failed,
                RunStatus::Cancelled => LastRunStatus::Cancelled,
            };
            inner.last_run.finished_at = Some(Utc::now());
            if let Some(stop) = &report.stop_reason {
                let why = format!("the run stopped: {stop}");
                for record in inner.records.values_mut() {
                    if record.status == NodeStatus::Cancelled {
                        record.reason = Some(why.clone());
                    }
                }
            }
        })?;
        let result = self.flush();
        self.stop();
        result
    }

    /// Records that the run failed before running any node (e.g. it did not validate),
    /// writes, and stops the writer thread.
    pub fn abort(&self, error: &Error) -> Result<()> {
        self.shared.change(|inner| {
            inner.last_run.status = LastRunStatus::Failed;
            inner.last_run.finished_at = Some(Utc::now());
            inner.last_run.error = Some(error.to_string());
        })?;
        let result = self.flush();
        self.stop();
        result
    }

    /// The last write error, if the last write failed.
    pub fn last_error(&self) -> Option<String> {
        self.shared.lock().last_error.clone()
    }

    /// Lets the thread write what is pending, then joins it.
    fn stop(&self) {
        {
            let mut inner = self.shared.lock();
            inner.closed = true;
            self.shared.changed.notify_all();
        }
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the state writer thread panicked");
        }
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a change; the thread writes it (or, without a thread, it is written now).
    fn change(&self, f: impl FnOnce(&mut Inner)) -> Result<()> {
        let mut inner = self.lock();
        f(&mut inner);
        inner.version += 1;
        if inner.threaded {
            // The thread writes it (even when closing: it drains what is pending first).
            self.changed.notify_one();
            return Ok(());
        }
        let snapshot = inner.snapshot();
        let version = inner.version;
        let result = snapshot.write(&self.dir, &self.pipeline);
        inner.written = version;
        inner.last_error = result.as_ref().err().map(ToString::to_string);
        result
    }

    /// The writer thread: write the latest snapshot whenever something changed.
    fn work(&self) {
        let mut inner = self.lock();
        loop {
            while inner.version == inner.written && !inner.closed {
                inner = self
                    .changed
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if inner.version == inner.written {
                break; // closed, nothing pending
            }
            let (snapshot, version) = (inner.snapshot(), inner.version);
            drop(inner);
            let started = std::time::Instant::now();
            let result = snapshot.write(&self.dir, &self.pipeline);
            if let Err(e) = &result {
                tracing::warn!(error = %e, "could not write the run state");
            }
            let pause = (started.elapsed() * PACE).min(MAX_PAUSE);
            let until = std::time::Instant::now() + pause;
            inner = self.lock();
            inner.written = version;
            inner.last_error = result.err().map(|e| e.to_string());
            self.written.notify_all();
            while !inner.closed && inner.flushing == 0 {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                inner = self
                    .changed
                    .wait_timeout(inner, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        inner.threaded = false;
        self.written.notify_all();
    }
}

impl Inner {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            records: self.records.clone(),
            dropped: self.dropped.clone(),
            last_run: self.last_run.clone(),
        }
    }
}

impl Snapshot {
    fn write(self, dir: &StateDir, pipeline: &str) -> Result<()> {
        update(dir, |state| {
            let p = state.pipelines.entry(pipeline.to_string()).or_default();
            for name in &self.dropped {
                p.nodes.remove(name);
            }
            p.nodes.extend(self.records);
            p.last_run = Some(self.last_run);
        })
    }
}

/// `upstream 'a' failed` (the failed nodes upstream of `node` in this run).
fn skip_reason(inner: &Inner, node: &str) -> String {
    let mut failed = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = vec![node];
    while let Some(n) = stack.pop() {
        for up in inner.upstream.get(n).into_iter().flatten() {
            if seen.insert(up.as_str()) {
                if inner.failed.contains(up) {
                    failed.insert(up.as_str());
                }
                stack.push(up);
            }
        }
    }
    match failed.len() {
        0 => "an upstream node did not complete".to_string(),
        1 => format!(
            "upstream '{}' failed",
            failed.first().copied().unwrap_or_default()
        ),
        _ => format!(
            "upstream nodes {} failed",
            failed
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl ProgressSink for StateWriter {
    fn on_event(&self, event: &ProgressEvent) -> std::result::Result<(), BoxError> {
        match event {
            ProgressEvent::NodeFinished(result) => Ok(self.record(result)?),
            ProgressEvent::RunFinished { .. } => Ok(self.flush()?),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::incremental::planner::Planner;
    use crate::incremental::run_state::RunState;
    use crate::testutil::{context, deps};

    fn result(name: &str, status: NodeStatus) -> NodeResult {
        NodeResult {
            name: name.to_string(),
            status,
            attempts: 1,
            started_at: None,
            duration: Some(Duration::from_millis(5)),
            rows_written: Some(1),
            outputs: Vec::new(),
            error: None,
            lineage: None,
            finished_at: None,
            metrics: Default::default(),
            expectations: Vec::new(),
            ml: None,
            spark: None,
        }
    }

    #[test]
    fn concurrent_records_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..200).map(|i| format!("n{i}")).collect();
        let ctx = context(names.iter().map(|n| deps(n, &[])).collect());
        let plan = Planner::new(&ctx, "p").plan().unwrap();
        let sd = StateDir::new(dir.path());
        let writer = Arc::new(StateWriter::new(sd.clone(), &plan, "r1"));
        writer.start().unwrap();
        let state = RunState::load(&sd).state;
        let p = state.pipeline("p").unwrap();
        assert_eq!(p.last_run.as_ref().unwrap().status, LastRunStatus::Running);
        assert_eq!(p.last_run.as_ref().unwrap().nodes.len(), 200);
        std::thread::scope(|s| {
            for chunk in names.chunks(25) {
                let writer = Arc::clone(&writer);
                s.spawn(move || {
                    for n in chunk {
                        writer.record(&result(n, NodeStatus::Completed)).unwrap();
                    }
                });
            }
        });
        writer.flush().unwrap();
        let state = RunState::load(&sd).state;
        let p = state.pipeline("p").unwrap();
        assert_eq!(p.nodes.len(), 200);
        assert!(
            p.nodes
                .values()
                .all(|n| n.run_id == "r1" && n.fingerprint.len() == 64)
        );
        drop(writer); // joins the thread
    }

    #[test]
    fn skipped_and_cancelled_nodes_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(vec![
            deps("a", &[]),
            deps("b", &["a"]),
            deps("c", &["b"]),
            deps("d", &[]),
        ]);
        let plan = Planner::new(&ctx, "p").plan().unwrap();
        let sd = StateDir::new(dir.path());
        let writer = StateWriter::new(sd.clone(), &plan, "r1");
        writer.start().unwrap();
        writer.record(&result("a", NodeStatus::Failed)).unwrap();
        writer.record(&result("b", NodeStatus::Skipped)).unwrap();
        writer.record(&result("c", NodeStatus::Skipped)).unwrap();
        writer.record(&result("d", NodeStatus::Cancelled)).unwrap();
        writer.record(&result("x", NodeStatus::Cached)).unwrap();
        let report = RunReport {
            run_id: "r1".into(),
            pipeline: "p".into(),
            status: RunStatus::Failed,
            stop_reason: Some(crate::report::StopReason::NodeFailed { node: "a".into() }),
            started_at: Utc::now(),
            duration: Duration::ZERO,
            nodes: Vec::new(),
            ml: None,
        };
        writer.finish(&report).unwrap();
        let state = RunState::load(&sd).state;
        let p = state.pipeline("p").unwrap();
        assert_eq!(p.last_run.as_ref().unwrap().status, LastRunStatus::Failed);
        assert!(p.last_run.as_ref().unwrap().finished_at.is_some());
        let reason = |n: &str| p.nodes[n].reason.clone().unwrap_or_default();
        assert_eq!(reason("b"), "upstream 'a' failed");
        assert_eq!(reason("c"), "upstream 'a' failed");
        assert_eq!(reason("d"), "the run stopped: node 'a' failed");
        assert!(!p.nodes.contains_key("x"), "cached nodes are not recorded");
        // After finish, a late change is still written (inline).
        writer.record(&result("d", NodeStatus::Completed)).unwrap();
        let state = RunState::load(&sd).state;
        assert_eq!(
            state.pipeline("p").unwrap().nodes["d"].status,
            NodeStatus::Completed
        );
    }
}
