//! The runner: stored pipeline runs executed through `tauro-exec`, with retries, timeouts,
//! cancellation, a concurrency limit and crash safety.
//!
//! - [`Runner::create`] stores a `pending` run; [`Runner::start`] claims it (atomically:
//!   one process wins), runs it, mirrors node states into task runs and writes its final
//!   state; [`Runner::run`] does both.
//! - Attempts: a failed attempt becomes `retrying`, waits the retry delay and runs again, up
//!   to `max_attempts` (the run's `params`, else [`RunnerOptions`]). A timeout cancels the
//!   attempt's Spark work and counts as a failure.
//! - Cancel: [`Runner::cancel`] stops a run of this process at once (its Spark work is
//!   interrupted); a run of another process is marked `cancelled` in the store and that
//!   process notices at its next heartbeat and stops.
//! - Crash safety: a running run renews a lease (`heartbeat_at`) every
//!   `heartbeat_interval`; [`Runner::recover`] finds runs whose lease expired (their process
//!   died) and fails or re-queues them by [`OrphanPolicy`], closing their task runs.

mod execute;
mod tasks;

pub use execute::{PipelineExecutor, RunParams, SparkPipelineExecutor};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tauro_exec::{ProgressEvent, ProgressSink, RunReport, RunStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::resilience::{Bulkhead, CircuitBreaker, CircuitBreakerConfig, Jitter, RetryPolicy};
use crate::store::{NewRun, PipelineRun, RunFilter, RunState, Store, TaskRun};

/// What to do with runs whose process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrphanPolicy {
    /// Mark them failed.
    Fail,
    /// Put them back in the queue (`queued`) for another attempt.
    Requeue,
}

/// How a [`Runner`] runs.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Who this runner is in the store (`host-pid-random` by default).
    pub owner: String,
    /// Attempts per run unless its params say otherwise (default 1).
    pub max_attempts: u32,
    /// Wait before the first retry (default 5 s); later retries back off exponentially
    /// (×2, with equal jitter, at most 10 minutes).
    pub retry_delay: Duration,
    /// Deadline of one attempt (default none).
    pub timeout: Option<Duration>,
    /// Runs executing at once in this process (default 2); `start` waits for a slot.
    pub max_concurrent_runs: usize,
    /// Runs waiting for a slot before `start` is refused (default 1,000): a bulkhead.
    pub max_queued_runs: usize,
    /// The runner's circuit breaker: after `failure_threshold` runs failed in a row, runs
    /// are not started (they stay queued) until `open_timeout` passed.
    pub breaker: CircuitBreakerConfig,
    /// How often a running run renews its lease (default 5 s).
    pub heartbeat_interval: Duration,
    /// A run whose lease is older than this is orphaned (default 30 s).
    pub lease: Duration,
    /// What [`Runner::recover`] does with orphans (default: fail).
    pub orphan_policy: OrphanPolicy,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            owner: default_owner(),
            max_attempts: 1,
            retry_delay: Duration::from_secs(5),
            timeout: None,
            max_concurrent_runs: 2,
            max_queued_runs: 1_000,
            breaker: CircuitBreakerConfig::default(),
            heartbeat_interval: Duration::from_secs(5),
            lease: Duration::from_secs(30),
            orphan_policy: OrphanPolicy::Fail,
        }
    }
}

/// `host-pid-xxxx`.
fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    let suffix: u16 = rand::random();
    format!("{host}-{}-{suffix:04x}", std::process::id())
}

/// Runs stored pipeline runs. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Runner {
    store: Store,
    executor: Arc<dyn PipelineExecutor>,
    options: Arc<RunnerOptions>,
    slots: Arc<Bulkhead>,
    breaker: Arc<CircuitBreaker>,
    active: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over `store` executing with `executor`.
    pub fn new(store: Store, executor: Arc<dyn PipelineExecutor>, options: RunnerOptions) -> Self {
        let slots = Arc::new(Bulkhead::new(
            "runner",
            options.max_concurrent_runs.max(1),
            options.max_queued_runs,
        ));
        let breaker = Arc::new(CircuitBreaker::new("runner", options.breaker));
        Self {
            store,
            executor,
            options: Arc::new(options),
            slots,
            breaker,
            active: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This runner's options.
    pub fn options(&self) -> &RunnerOptions {
        &self.options
    }

    /// Stores a `pending` run of `pipeline`.
    pub async fn create(&self, pipeline: &str, params: RunParams) -> Result<PipelineRun> {
        self.store
            .create_run(NewRun {
                pipeline: pipeline.to_string(),
                params: params.to_value(),
                schedule_id: None,
                fire_time: None,
                id: None,
            })
            .await
    }

    /// Creates and starts a run; returns it in its final state.
    pub async fn run(&self, pipeline: &str, params: RunParams) -> Result<PipelineRun> {
        let run = self.create(pipeline, params).await?;
        self.start(&run.id).await
    }

    /// One run.
    pub async fn get(&self, id: &str) -> Result<Option<PipelineRun>> {
        self.store.get_run(id).await
    }

    /// Runs matching `filter`, newest first.
    pub async fn list(&self, filter: &RunFilter) -> Result<Vec<PipelineRun>> {
        self.store.list_runs(filter).await
    }

    /// The task runs of a run.
    pub async fn tasks(&self, id: &str) -> Result<Vec<TaskRun>> {
        self.store.list_tasks(id).await
    }

    /// Free execution slots of this process.
    pub fn free_slots(&self) -> usize {
        let stats = self.slots.stats();
        self.options
            .max_concurrent_runs
            .saturating_sub(stats.active + stats.queued)
    }

    /// The runner's circuit breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// Runs currently executing in this process.
    pub fn active_here(&self) -> Vec<String> {
        self.active
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Executes the stored run `id` (pending, queued or retrying) until it ends; returns it
    /// in its final state. Waits for a free slot first.
    pub async fn start(&self, id: &str) -> Result<PipelineRun> {
        let _slot = self.slots.acquire().await.map_err(|full| Error::Busy {
            reason: full.to_string(),
        })?;
        let cancel = CancellationToken::new();
        self.track(id, Some(cancel.clone()));
        let result = self.attempts(id, &cancel).await;
        self.track(id, None);
        result
    }

    fn track(&self, id: &str, token: Option<CancellationToken>) {
        if let Ok(mut active) = self.active.lock() {
            match token {
                Some(t) => {
                    active.insert(id.to_string(), t);
                }
                None => {
                    active.remove(id);
                }
            }
        }
    }

    async fn attempts(&self, id: &str, cancel: &CancellationToken) -> Result<PipelineRun> {
        loop {
            // An open breaker leaves the run where it is (queued runs wait for it).
            let permit = self.breaker.try_acquire().map_err(|open| Error::Busy {
                reason: open.to_string(),
            })?;
            if !self.store.claim_run(id, &self.options.owner).await? {
                let run = self.must_get(id).await?;
                return Err(Error::NotClaimable {
                    id: id.to_string(),
                    state: run.state.as_str().to_string(),
                    owner: run.owner,
                });
            }
            let run = self.must_get(id).await?;
            if run.attempt > 1 {
                // Task runs describe the latest attempt (earlier ones ended failed or
                // skipped, states a node cannot leave).
                self.store.clear_tasks(id).await?;
            }
            let params = RunParams::of(&run)?;
            let outcome = self.attempt(&run, &params, cancel).await;
            match &outcome {
                Ok(report) if report.status == RunStatus::Succeeded => permit.success(),
                Ok(report) if report.status == RunStatus::Cancelled => drop(permit),
                _ => permit.failure(),
            }
            let current = self.must_get(id).await?;
            if current.state != RunState::Running {
                // Cancelled from outside (another process, or `cancel`) while it ran.
                self.store
                    .fail_unfinished_tasks(id, "the run was cancelled")
                    .await?;
                return Ok(current);
            }
            match outcome {
                Ok(report) if report.status == RunStatus::Succeeded => {
                    return self.store.transition_run(id, RunState::Success, None).await;
                }
                Ok(report) if report.status == RunStatus::Cancelled || cancel.is_cancelled() => {
                    let _ = report;
                    self.store
                        .fail_unfinished_tasks(id, "the run was cancelled")
                        .await?;
                    return self
                        .store
                        .transition_run(id, RunState::Cancelled, Some("cancelled"))
                        .await;
                }
                outcome => {
                    let error = match outcome {
                        Ok(report) => failure_text(&report),
                        Err(e) => e.to_string(),
                    };
                    let max = params
                        .max_attempts
                        .unwrap_or(self.options.max_attempts)
                        .max(1);
                    if current.attempt < max {
                        self.store
                            .transition_run(id, RunState::Retrying, Some(&error))
                            .await?;
                        let first = params
                            .retry_delay_secs
                            .and_then(|s| Duration::try_from_secs_f64(s).ok())
                            .unwrap_or(self.options.retry_delay);
                        let policy = RetryPolicy {
                            max_attempts: max,
                            initial_delay: first,
                            max_delay: Duration::from_secs(600).max(first),
                            multiplier: 2.0,
                            jitter: Jitter::Equal,
                        };
                        let delay = policy.delay(current.attempt, &mut rand::rng());
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = cancel.cancelled() => {
                                return self
                                    .store
                                    .transition_run(id, RunState::Cancelled, Some("cancelled while waiting to retry"))
                                    .await;
                            }
                        }
                        continue;
                    }
                    self.store.fail_unfinished_tasks(id, &error).await?;
                    return self
                        .store
                        .transition_run(id, RunState::Failed, Some(&error))
                        .await;
                }
            }
        }
    }

    /// One attempt: the pipeline under the run's timeout, a heartbeat beside it, node
    /// states mirrored into task runs.
    async fn attempt(
        &self,
        run: &PipelineRun,
        params: &RunParams,
        cancel: &CancellationToken,
    ) -> Result<RunReport> {
        let attempt_cancel = cancel.child_token();
        let heartbeat = tokio::spawn(heartbeat(
            self.store.clone(),
            run.id.clone(),
            self.options.owner.clone(),
            self.options.heartbeat_interval,
            attempt_cancel.clone(),
        ));
        let (tx, rx) = mpsc::unbounded_channel::<ProgressEvent>();
        let mirror = tokio::spawn(tasks::mirror(self.store.clone(), run.id.clone(), rx));
        let sink: Arc<dyn ProgressSink> = Arc::new(tx);
        let timeout = params
            .timeout_secs
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .or(self.options.timeout);
        let work = self
            .executor
            .execute(run.clone(), attempt_cancel.clone(), sink);
        let result = match timeout {
            None => work.await,
            Some(limit) => {
                tokio::pin!(work);
                tokio::select! {
                    r = &mut work => r,
                    () = tokio::time::sleep(limit) => {
                        attempt_cancel.cancel();
                        // Let the executor interrupt its Spark work and report.
                        let _ = tokio::time::timeout(Duration::from_secs(30), &mut work).await;
                        Err(Error::Timeout { id: run.id.clone(), after: limit })
                    }
                }
            }
        };
        heartbeat.abort();
        // The sink was moved into the executor; the channel closes when it is dropped.
        if tokio::time::timeout(Duration::from_secs(10), mirror)
            .await
            .is_err()
        {
            tracing::warn!(run = %run.id, "task runs were still being written after the run");
        }
        result
    }

    /// Cancels a run: one of this process stops at once; a pending, queued or retrying run
    /// is marked `cancelled`; a run of another process is marked `cancelled` and stops at
    /// its next heartbeat. Returns the run as stored.
    pub async fn cancel(&self, id: &str) -> Result<PipelineRun> {
        let local = self.active.lock().ok().and_then(|a| a.get(id).cloned());
        let cancelled = self.store.cancel_run(id, "cancelled by request").await?;
        if let Some(token) = local {
            token.cancel();
        }
        Ok(cancelled)
    }

    /// Handles runs whose process died (lease older than `lease`): fails or re-queues them
    /// by the orphan policy, and closes their unfinished task runs. Returns them as stored.
    pub async fn recover(&self) -> Result<Vec<PipelineRun>> {
        let lease = chrono::Duration::from_std(self.options.lease).unwrap_or_default();
        let orphans = self.store.orphaned_runs(Utc::now() - lease).await?;
        let mut out = Vec::with_capacity(orphans.len());
        for run in orphans {
            let owner = run.owner.clone().unwrap_or_default();
            let error = format!("orphaned: its runner ({owner}) stopped renewing its lease");
            self.store.fail_unfinished_tasks(&run.id, &error).await?;
            let handled = match self.options.orphan_policy {
                OrphanPolicy::Fail => {
                    self.store
                        .transition_run(&run.id, RunState::Failed, Some(&error))
                        .await
                }
                OrphanPolicy::Requeue => {
                    self.store
                        .transition_run(&run.id, RunState::Retrying, Some(&error))
                        .await?;
                    self.store
                        .transition_run(&run.id, RunState::Queued, None)
                        .await
                }
            };
            match handled {
                Ok(r) => out.push(r),
                // Another process handled it first.
                Err(Error::IllegalTransition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn must_get(&self, id: &str) -> Result<PipelineRun> {
        self.store
            .get_run(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "run".to_string(),
                id: id.to_string(),
            })
    }
}

/// Renews the lease every `every`; cancels `cancel` when the run is no longer this
/// owner's running run (cancelled from outside).
async fn heartbeat(
    store: Store,
    id: String,
    owner: String,
    every: Duration,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = cancel.cancelled() => return,
        }
        match store.heartbeat(&id, &owner).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(run = %id, "the run is no longer ours to run (cancelled?): stopping it");
                cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!(run = %id, error = %e, "could not renew the run's lease"),
        }
    }
}

/// One line on why a run failed.
fn failure_text(report: &RunReport) -> String {
    let failed: Vec<String> = report
        .nodes
        .iter()
        .filter_map(|n| {
            n.error
                .as_ref()
                .map(|e| format!("{}: {}", n.name, e.message))
        })
        .collect();
    match (&report.stop_reason, failed.is_empty()) {
        (Some(reason), true) => reason.to_string(),
        (Some(reason), false) => format!("{reason}; {}", failed.join("; ")),
        (None, false) => failed.join("; "),
        (None, true) => format!("pipeline '{}' {}", report.pipeline, report.status),
    }
}
