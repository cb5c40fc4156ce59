//! Metrics and health read from the run store (and a runner, when this process has one).
//!
//! Everything comes from the store, so any process — `serve` beside a scheduler in another
//! process, say — reports the same numbers. Scheduler lag is how late each enabled
//! schedule's next firing is (0 when it is in the future).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;

use crate::error::Result;
use crate::metrics::{
    DurationHistogram, Health, HealthInputs, HealthThresholds, Metrics, evaluate,
};
use crate::runner::Runner;
use crate::store::{RunFilter, RunState, Store};

/// Finished runs the duration histogram and the failure rate look at.
const RECENT_RUNS: u32 = 1_000;

/// The metrics snapshot of `store` (and `runner`'s circuit breaker, when given).
pub async fn collect(store: &Store, runner: Option<&Runner>) -> Result<Metrics> {
    let stats = store.stats().await?;
    let now = Utc::now();
    let recent = store
        .list_runs(&RunFilter {
            states: vec![RunState::Success, RunState::Failed, RunState::Cancelled],
            limit: Some(RECENT_RUNS),
            ..RunFilter::default()
        })
        .await?;
    let run_duration_seconds: DurationHistogram = recent
        .iter()
        .filter_map(|r| Some((r.finished_at? - r.started_at?).num_milliseconds() as f64 / 1000.0))
        .collect();
    let count = |state: RunState| {
        stats
            .runs_by_state
            .get(state.as_str())
            .copied()
            .unwrap_or(0)
    };
    let mut lag = BTreeMap::new();
    for s in store.list_schedules().await? {
        if s.enabled
            && let Some(next) = s.next_run_at
        {
            let late = (now - next).num_milliseconds() as f64 / 1000.0;
            lag.insert(s.id.clone(), late.max(0.0));
        }
    }
    let mut circuit_breakers = BTreeMap::new();
    if let Some(runner) = runner {
        let breaker = runner.breaker();
        circuit_breakers.insert(breaker.name().to_string(), breaker.state());
    }
    Ok(Metrics {
        runs_by_state: stats.runs_by_state.clone(),
        run_duration_seconds,
        active_runs: count(RunState::Running) + count(RunState::Retrying),
        queued_runs: count(RunState::Queued) + count(RunState::Pending),
        scheduler_lag_seconds: lag,
        circuit_breakers,
        tasks_by_state: stats.tasks_by_state,
    })
}

/// The health of the orchestrator: store reachable, orphaned runs (lease older than
/// `lease`), schedule lag, breakers, the failure rate of recent runs.
pub async fn health(
    store: &Store,
    runner: Option<&Runner>,
    lease: Duration,
    thresholds: &HealthThresholds,
) -> Health {
    let now = Utc::now();
    let metrics = collect(store, runner).await;
    let Ok(metrics) = metrics else {
        return evaluate(
            &HealthInputs {
                checked_at: now,
                store_reachable: false,
                orphaned_runs: 0,
                scheduler_lag_seconds: BTreeMap::new(),
                circuit_breakers: BTreeMap::new(),
                recent_runs: 0,
                recent_failed_runs: 0,
            },
            thresholds,
        );
    };
    let stale = now - chrono::Duration::from_std(lease).unwrap_or_default();
    let orphaned = store
        .orphaned_runs(stale)
        .await
        .map(|o| o.len() as u64)
        .unwrap_or(0);
    let recent = store
        .list_runs(&RunFilter {
            states: vec![RunState::Success, RunState::Failed],
            limit: Some(100),
            ..RunFilter::default()
        })
        .await
        .unwrap_or_default();
    let failed = recent
        .iter()
        .filter(|r| r.state == RunState::Failed)
        .count() as u64;
    evaluate(
        &HealthInputs {
            checked_at: now,
            store_reachable: true,
            orphaned_runs: orphaned,
            scheduler_lag_seconds: metrics.scheduler_lag_seconds,
            circuit_breakers: metrics.circuit_breakers,
            recent_runs: recent.len() as u64,
            recent_failed_runs: failed,
        },
        thresholds,
    )
}
