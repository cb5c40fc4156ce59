//! The records of the store: runs, task runs, schedules, statistics.
//!
//! Times are UTC and kept to the millisecond (the store writes epoch milliseconds).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::kinds::{Backend, MisfirePolicy, ScheduleKind};
use super::state::RunState;

/// One execution of a pipeline (over all its attempts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    /// Time-ordered id (`20250301T120000Z-1a2b3c4d`).
    pub id: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// Run parameters (window, overrides, retry settings), as given.
    pub params: serde_json::Value,
    /// Current state.
    pub state: RunState,
    /// Attempts started so far (0 until it first runs).
    pub attempt: u32,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached its current final state (none while not final).
    pub finished_at: Option<DateTime<Utc>>,
    /// The error of the latest failed attempt (cleared when an attempt starts).
    pub error: Option<String>,
    /// The schedule that fired it.
    pub schedule_id: Option<String>,
    /// The tick of the schedule it was fired for.
    pub fire_time: Option<DateTime<Utc>>,
    /// The process running (or that last ran) it.
    pub owner: Option<String>,
    /// The owner's last sign of life while running.
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// A run to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The pipeline's name.
    pub pipeline: String,
    /// Run parameters.
    pub params: serde_json::Value,
    /// The schedule that fires it.
    pub schedule_id: Option<String>,
    /// The schedule's tick.
    pub fire_time: Option<DateTime<Utc>>,
    /// The id to use; default: a new time-ordered id.
    pub id: Option<String>,
}

impl NewRun {
    /// A run of `pipeline` with `params`, not from a schedule, with a new id.
    pub fn new(pipeline: impl Into<String>, params: serde_json::Value) -> Self {
        Self {
            pipeline: pipeline.into(),
            params,
            schedule_id: None,
            fire_time: None,
            id: None,
        }
    }
}

/// Which runs [`Store::list_runs`](super::Store::list_runs) returns. Empty fields match
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFilter {
    /// Only runs of this pipeline.
    pub pipeline: Option<String>,
    /// Only runs in one of these states (empty: any state).
    pub states: Vec<RunState>,
    /// Only runs fired by this schedule.
    pub schedule_id: Option<String>,
    /// At most this many (the newest).
    pub limit: Option<u32>,
    /// Only runs created strictly after this time.
    pub created_after: Option<DateTime<Utc>>,
}

/// One node of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    /// The run.
    pub run_id: String,
    /// The node's name.
    pub node: String,
    /// Current state.
    pub state: RunState,
    /// Attempts of the node so far.
    pub attempts: u32,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
    /// Its error.
    pub error: Option<String>,
    /// Rows it wrote, when known.
    pub rows: Option<u64>,
}

impl TaskRun {
    /// A task run of `node` in `run_id` in `state`, every other field empty.
    pub fn new(run_id: impl Into<String>, node: impl Into<String>, state: RunState) -> Self {
        Self {
            run_id: run_id.into(),
            node: node.into(),
            state,
            attempts: 0,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            error: None,
            rows: None,
        }
    }
}

/// A stored schedule: when a pipeline runs by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id (a name, or generated).
    pub id: String,
    /// The pipeline it runs.
    pub pipeline: String,
    /// Interval or cron.
    pub kind: ScheduleKind,
    /// `30s`, `1h`, `0 3 * * *` … (checked by the scheduler, stored as given).
    pub expression: String,
    /// IANA time zone of cron expressions (`UTC`, `Europe/Madrid`).
    pub timezone: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Active runs of this schedule at once.
    pub max_concurrency: u32,
    /// Attempts per fired run.
    pub max_attempts: u32,
    /// Seconds between attempts.
    pub retry_delay_secs: f64,
    /// What to do with missed ticks.
    pub misfire: MisfirePolicy,
    /// Up to this many seconds of delay per tick, to spread load.
    pub jitter_secs: f64,
    /// Params of the runs it fires.
    pub params: serde_json::Value,
    /// Its next tick, once the scheduler computed it.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Its latest fired tick.
    pub last_fire_at: Option<DateTime<Utc>>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A schedule to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSchedule {
    /// The pipeline it runs.
    pub pipeline: String,
    /// Interval or cron.
    pub kind: ScheduleKind,
    /// The expression.
    pub expression: String,
    /// IANA time zone.
    pub timezone: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Active runs at once.
    pub max_concurrency: u32,
    /// Attempts per fired run.
    pub max_attempts: u32,
    /// Seconds between attempts (finite, ≥ 0).
    pub retry_delay_secs: f64,
    /// What to do with missed ticks.
    pub misfire: MisfirePolicy,
    /// Jitter in seconds (finite, ≥ 0).
    pub jitter_secs: f64,
    /// Params of the runs it fires.
    pub params: serde_json::Value,
    /// The id to use; default: a new time-ordered id.
    pub id: Option<String>,
}

impl NewSchedule {
    /// A schedule of `pipeline` with the defaults: UTC, enabled, one run at a time, one
    /// attempt, misfire `run_once`, no jitter, empty params.
    pub fn new(
        pipeline: impl Into<String>,
        kind: ScheduleKind,
        expression: impl Into<String>,
    ) -> Self {
        Self {
            pipeline: pipeline.into(),
            kind,
            expression: expression.into(),
            timezone: "UTC".to_string(),
            enabled: true,
            max_concurrency: 1,
            max_attempts: 1,
            retry_delay_secs: 0.0,
            misfire: MisfirePolicy::RunOnce,
            jitter_secs: 0.0,
            params: serde_json::Value::Object(serde_json::Map::new()),
            id: None,
        }
    }
}

/// What the store holds, for `db stats` and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Runs per state (every state, zero included).
    pub runs_by_state: BTreeMap<String, u64>,
    /// Task runs per state (every state, zero included).
    pub tasks_by_state: BTreeMap<String, u64>,
    /// Schedules.
    pub schedules: u64,
    /// Enabled schedules.
    pub enabled_schedules: u64,
    /// Size on disk: the SQLite file, or the PostgreSQL database.
    pub size_bytes: Option<u64>,
    /// The backend.
    pub backend: Backend,
    /// The schema version (latest migration applied).
    pub schema_version: i64,
}

/// How [`Store::open_with`](super::Store::open_with) connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size; default 8 for PostgreSQL, 4 for SQLite (its writers take turns anyway).
    pub max_connections: Option<u32>,
    /// How long a query waits for a free connection, and `open` for the first one (default 10 s).
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}
