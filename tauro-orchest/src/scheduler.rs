//! The scheduler loop: fires stored schedules into runs, and executes queued runs.
//!
//! Each tick (every `poll_interval`, or earlier when a schedule is due):
//! 1. for each enabled schedule whose `next_run_at` has passed, the due fire times are
//!    computed by its misfire policy ([`crate::schedule::due_fires`]); each fire time is
//!    **claimed** in the store (`claim_tick`: a unique key on schedule + fire time), so two
//!    schedulers on one database never fire the same tick twice; a claimed tick becomes a
//!    `queued` run (its window from the fire time, retries from the schedule) unless the
//!    schedule already has `max_concurrency` active runs (the tick is then skipped and
//!    logged); then `next_run_at` moves past now;
//! 2. queued runs — from any scheduler, `backfill --create-only` or re-queued orphans — are
//!    started while this process has free slots; starting claims the run atomically, so
//!    schedulers share the work.
//!
//! A schedule's jitter delays the start of each run by a deterministic amount (the same in
//! every scheduler).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::error::Result;
use crate::runner::{RunParams, Runner};
use crate::schedule::{ScheduleSpec, due_fires, jittered, next_run_after};
use crate::store::{NewRun, PipelineRun, RunFilter, RunState, Schedule};

/// How a [`Scheduler`] runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Longest wait between ticks (default 1 s).
    pub poll_interval: Duration,
    /// Most missed ticks a `catch_up` schedule fires at once (default 1,000).
    pub max_catch_up: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            max_catch_up: 1_000,
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickReport {
    /// Runs created from schedules.
    pub fired: Vec<PipelineRun>,
    /// Ticks left out because their schedule had `max_concurrency` active runs.
    pub skipped_busy: Vec<(String, DateTime<Utc>)>,
    /// Queued runs this process started.
    pub started: Vec<String>,
    /// Scheduler lag of each fired tick (now − fire time), seconds.
    pub lag_secs: Vec<(String, f64)>,
}

/// Fires schedules and runs queued runs on a [`Runner`].
#[derive(Debug)]
pub struct Scheduler {
    runner: Runner,
    clock: Arc<dyn Clock>,
    options: SchedulerOptions,
    /// The runs this scheduler started. A `JoinSet` keeps a task until it is joined, so
    /// finished ones are reaped (`reap`) before the set is counted.
    /// Each task yields whether it executed its run (false: another process claimed it).
    running: JoinSet<bool>,
    /// Runs of `running` that finished (were joined) so far.
    finished: u64,
}

/// The `window` a schedule gives its runs (its params' `window` key).
fn window_for(schedule: &Schedule, fire: DateTime<Utc>) -> (Option<String>, Option<String>) {
    let mode = schedule
        .params
        .get("window")
        .and_then(|v| v.as_str())
        .unwrap_or("none");
    let day = |d: NaiveDate| Some(d.format("%Y-%m-%d").to_string());
    let local = fire.date_naive();
    match mode {
        "fire_date" => (day(local), day(local)),
        "previous_day" => {
            let prev = local.pred_opt().unwrap_or(local);
            (day(prev), day(prev))
        }
        _ => (None, None),
    }
}

impl Scheduler {
    /// A scheduler starting runs on `runner`, reading time from `clock`.
    pub fn new(runner: Runner, clock: Arc<dyn Clock>, options: SchedulerOptions) -> Self {
        Self {
            runner,
            clock,
            options,
            running: JoinSet::new(),
            finished: 0,
        }
    }

    /// The runner.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Runs started by this scheduler that have not finished.
    pub fn in_flight(&mut self) -> usize {
        self.reap();
        self.running.len()
    }

    /// Joins the runs that finished, so that `running` holds only unfinished ones.
    fn reap(&mut self) {
        while let Some(joined) = self.running.try_join_next() {
            self.count(joined);
        }
    }

    /// Counts a joined run task when it executed its run.
    fn count(&mut self, joined: std::result::Result<bool, tokio::task::JoinError>) {
        if joined.unwrap_or(false) {
            self.finished += 1;
        }
    }

    /// One tick at the clock's now.
    pub async fn tick(&mut self) -> Result<TickReport> {
        // Finished runs free their place in `running` (checked by `start_queued`).
        self.reap();
        let now = self.clock.now();
        let mut report = TickReport::default();
        let store = self.runner.store().clone();
        for schedule in store.list_schedules().await? {
            if schedule.enabled {
                self.fire(&schedule, now, &mut report).await?;
            }
        }
        self.start_queued(&mut report).await?;
        Ok(report)
    }

    async fn fire(
        &mut self,
        s: &Schedule,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<()> {
        let store = self.runner.store().clone();
        let spec = ScheduleSpec::from_schedule(s)?;
        let Some(next) = s.next_run_at.or_else(|| spec.next_after(s.created_at)) else {
            return Ok(());
        };
        if next > now {
            if s.next_run_at.is_none() {
                store
                    .set_next_run(&s.id, Some(next), s.last_fire_at)
                    .await?;
            }
            return Ok(());
        }
        let fires = due_fires(
            &spec,
            s.last_fire_at,
            next,
            now,
            s.misfire,
            self.options.max_catch_up,
        );
        let mut last_fire = s.last_fire_at;
        for fire in fires {
            last_fire = Some(fire);
            // Catch-up queues every missed tick (their execution still respects
            // max_concurrency); other policies skip a tick while the schedule is busy.
            if s.misfire != crate::store::MisfirePolicy::CatchUp
                && store.active_runs(Some(&s.id)).await? >= u64::from(s.max_concurrency.max(1))
            {
                tracing::warn!(schedule = %s.id, %fire, "tick skipped: the schedule has max_concurrency active runs");
                report.skipped_busy.push((s.id.clone(), fire));
                continue;
            }
            if !store
                .claim_tick(&s.id, fire, &self.runner.options().owner)
                .await?
            {
                continue; // another scheduler fired it
            }
            let (start, end) = window_for(s, fire);
            let mut params: RunParams =
                serde_json::from_value(s.params.clone()).unwrap_or_default();
            params.start = params.start.or(start);
            params.end = params.end.or(end);
            params.max_attempts = params.max_attempts.or(Some(s.max_attempts));
            params.retry_delay_secs = params.retry_delay_secs.or(Some(s.retry_delay_secs));
            let run = store
                .create_run(NewRun {
                    pipeline: s.pipeline.clone(),
                    params: params.to_value(),
                    schedule_id: Some(s.id.clone()),
                    fire_time: Some(fire),
                    id: None,
                })
                .await?;
            let run = store
                .transition_run(&run.id, RunState::Queued, None)
                .await?;
            let lag = (now - fire).num_milliseconds() as f64 / 1000.0;
            report.lag_secs.push((s.id.clone(), lag.max(0.0)));
            let delay_until = jittered(fire, s.jitter_secs, &s.id);
            if delay_until > now {
                self.spawn_later(run.id.clone(), delay_until);
                report.started.push(run.id.clone());
            }
            report.fired.push(run);
        }
        store
            .set_next_run(&s.id, next_run_after(&spec, now), last_fire)
            .await?;
        Ok(())
    }

    /// Starts queued runs while this process has free slots.
    async fn start_queued(&mut self, report: &mut TickReport) -> Result<()> {
        let free = self.runner.free_slots();
        if free == 0 {
            return Ok(());
        }
        let mut queued = self
            .runner
            .list(&RunFilter {
                states: vec![RunState::Queued],
                ..RunFilter::default()
            })
            .await?;
        // Oldest first (list is newest first).
        queued.reverse();
        let now = self.clock.now();
        // Per schedule: how many more of its runs may execute (max_concurrency minus those
        // executing when this pass began).
        let mut room: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for run in queued.into_iter() {
            if self.running.len() >= self.runner.options().max_concurrent_runs {
                break;
            }
            let schedule = match &run.schedule_id {
                Some(id) => self.runner.store().get_schedule(id).await.ok().flatten(),
                None => None,
            };
            if let Some(s) = schedule {
                // Jittered runs wait for their own task.
                if run
                    .fire_time
                    .is_some_and(|fire| jittered(fire, s.jitter_secs, &s.id) > now)
                {
                    continue;
                }
                // A schedule's runs execute at most max_concurrency at a time.
                if !room.contains_key(&s.id) {
                    let executing = self
                        .runner
                        .list(&RunFilter {
                            schedule_id: Some(s.id.clone()),
                            states: vec![RunState::Running, RunState::Retrying],
                            ..RunFilter::default()
                        })
                        .await?
                        .len();
                    let max = s.max_concurrency.max(1) as usize;
                    room.insert(s.id.clone(), max.saturating_sub(executing));
                }
                match room.get_mut(&s.id) {
                    Some(left) if *left > 0 => *left -= 1,
                    _ => continue,
                }
            }
            report.started.push(run.id.clone());
            let runner = self.runner.clone();
            self.running
                .spawn(async move { execute(&runner, &run.id).await });
        }
        Ok(())
    }

    fn spawn_later(&mut self, id: String, at: DateTime<Utc>) {
        let runner = self.runner.clone();
        let clock = Arc::clone(&self.clock);
        self.running.spawn(async move {
            clock.sleep_until(at).await;
            execute(&runner, &id).await
        });
    }

    /// Ticks until `stop` is cancelled (or `max_runs` runs finished), then waits for the
    /// runs it started. Runs left `running` by dead processes are recovered first.
    pub async fn run(&mut self, stop: CancellationToken, max_runs: Option<u64>) -> Result<u64> {
        let recovered = self.runner.recover().await?;
        for r in &recovered {
            tracing::warn!(run = %r.id, state = r.state.as_str(), "recovered an orphaned run");
        }
        let first = self.finished;
        loop {
            self.tick().await?;
            let wake = self.clock.now()
                + chrono::Duration::from_std(self.options.poll_interval).unwrap_or_default();
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.clock.sleep_until(wake) => {}
                Some(joined) = self.running.join_next(), if !self.running.is_empty() => {
                    self.count(joined);
                }
            }
            self.reap();
            if max_runs.is_some_and(|m| self.finished - first >= m) {
                break;
            }
        }
        while let Some(joined) = self.running.join_next().await {
            self.count(joined);
        }
        Ok(self.finished - first)
    }
}

/// Executes a queued run; true when this process executed it (false when another process
/// claimed it first, or it could not start).
async fn execute(runner: &Runner, id: &str) -> bool {
    match runner.start(id).await {
        Ok(done) => {
            tracing::info!(run = %done.id, state = done.state.as_str(), "run finished");
            true
        }
        Err(crate::Error::NotClaimable { .. }) => false, // another process took it
        Err(e) => {
            tracing::warn!(run = %id, error = %e, "run could not be executed");
            false
        }
    }
}
