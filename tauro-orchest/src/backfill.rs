//! Backfills: one stored run per date window, created and started in window order with
//! bounded concurrency, resumable.
//!
//! A backfill's id is derived from its pipeline and windows, so running the same backfill
//! again finds its runs (`params.backfill_id`): windows whose run succeeded (or is still
//! active) are kept, windows whose run failed or was cancelled get a new run.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::Result;
use crate::runner::{RunParams, Runner};
use crate::store::{NewRun, PipelineRun, RunFilter, RunState, Store};

/// One window of a backfill and its run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackfillWindow {
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
    /// Its run (the latest, when the window ran several times).
    pub run: PipelineRun,
    /// True when the run already existed (a resumed backfill).
    pub reused: bool,
}

/// What a backfill did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackfillReport {
    /// The backfill's id.
    pub id: String,
    /// The pipeline.
    pub pipeline: String,
    /// Every window in order, with its run in its final (or current) state.
    pub windows: Vec<BackfillWindow>,
}

impl BackfillReport {
    /// Windows whose run succeeded.
    pub fn succeeded(&self) -> usize {
        self.windows
            .iter()
            .filter(|w| w.run.state == RunState::Success)
            .count()
    }
}

/// A backfill of `pipeline` over `windows`.
#[derive(Debug, Clone)]
pub struct Backfill {
    pipeline: String,
    windows: Vec<(NaiveDate, NaiveDate)>,
    params: RunParams,
}

impl Backfill {
    /// A backfill of `pipeline` over `windows` (run in this order).
    pub fn new(pipeline: impl Into<String>, windows: Vec<(NaiveDate, NaiveDate)>) -> Self {
        Self {
            pipeline: pipeline.into(),
            windows,
            params: RunParams::default(),
        }
    }

    /// Parameters every run gets besides its window (hyperparameters, attempts, ...).
    pub fn with_params(mut self, params: RunParams) -> Self {
        self.params = params;
        self
    }

    /// The id: `bf-` and 12 hex digits of a hash of the pipeline and windows.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.pipeline.as_bytes());
        for (s, e) in &self.windows {
            h.update(format!("|{s}..{e}").as_bytes());
        }
        let hex: String = h
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("bf-{hex}")
    }

    /// Creates the runs this backfill still needs (as `queued`), in window order; returns
    /// every window with its run.
    pub async fn create(&self, store: &Store) -> Result<BackfillReport> {
        let id = self.id();
        let existing = store
            .list_runs(&RunFilter {
                pipeline: Some(self.pipeline.clone()),
                ..RunFilter::default()
            })
            .await?;
        let mut windows = Vec::with_capacity(self.windows.len());
        for &(start, end) in &self.windows {
            let start_text = start.format("%Y-%m-%d").to_string();
            // Newest first: the first match is the window's latest run.
            let previous = existing.iter().find(|r| {
                let p = RunParams::of(r).unwrap_or_default();
                p.backfill_id.as_deref() == Some(id.as_str())
                    && p.start.as_deref() == Some(start_text.as_str())
            });
            let keep = previous.filter(|r| {
                !matches!(
                    r.state,
                    RunState::Failed | RunState::Cancelled | RunState::Skipped
                )
            });
            if let Some(run) = keep {
                windows.push(BackfillWindow {
                    start,
                    end,
                    run: run.clone(),
                    reused: true,
                });
                continue;
            }
            let mut params = self.params.clone();
            params.start = Some(start_text);
            params.end = Some(end.format("%Y-%m-%d").to_string());
            params.backfill_id = Some(id.clone());
            let run = store
                .create_run(NewRun {
                    pipeline: self.pipeline.clone(),
                    params: params.to_value(),
                    schedule_id: None,
                    fire_time: None,
                    id: None,
                })
                .await?;
            let run = store
                .transition_run(&run.id, RunState::Queued, None)
                .await?;
            windows.push(BackfillWindow {
                start,
                end,
                run,
                reused: false,
            });
        }
        Ok(BackfillReport {
            id,
            pipeline: self.pipeline.clone(),
            windows,
        })
    }

    /// Creates what is missing, then executes the queued runs on `runner`, at most
    /// `concurrency` at a time, starting them in window order.
    pub async fn run(&self, runner: &Runner, concurrency: usize) -> Result<BackfillReport> {
        let mut report = self.create(runner.store()).await?;
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for (i, w) in report.windows.iter().enumerate() {
            if w.run.state != RunState::Queued {
                continue;
            }
            // Acquired here, in order: window i starts before window i + 1.
            let permit = Arc::clone(&gate).acquire_owned().await;
            let runner = runner.clone();
            let id = w.run.id.clone();
            tasks.spawn(async move {
                let _permit = permit;
                (i, runner.start(&id).await)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, result)) = joined else { continue };
            match result {
                Ok(run) => report.windows[i].run = run,
                Err(e) => tracing::warn!(error = %e, "a backfill run could not be executed"),
            }
        }
        // Current states of runs executed elsewhere or that failed to start.
        for w in &mut report.windows {
            if let Some(run) = runner.store().get_run(&w.run.id).await? {
                w.run = run;
            }
        }
        Ok(report)
    }
}
