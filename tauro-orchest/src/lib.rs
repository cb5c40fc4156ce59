//! Tauro Orchest: stored pipeline runs, schedules and the machinery that executes them.
//!
//! The top layer below the CLI (`config ← io ← exec ← streaming ← orchest ← cli`). Its
//! [`store`] keeps pipeline runs, task runs and schedules in a SQLite file (the embedded
//! default, `<project>/.tauro/tauro.db`) or in PostgreSQL (shared by many processes), with
//! migrations applied on open and every state change a compare-and-set.
//!
//! ```no_run
//! # async fn demo() -> tauro_orchest::Result<()> {
//! use tauro_orchest::{NewRun, RunFilter, RunState, Store};
//!
//! let store = Store::open("postgres://tauro@db:5432/tauro").await?;
//! let run = store.create_run(NewRun::new("daily_sales", serde_json::json!({}))).await?;
//! store.transition_run(&run.id, RunState::Queued, None).await?;
//! let queued = store
//!     .list_runs(&RunFilter { states: vec![RunState::Queued], ..RunFilter::default() })
//!     .await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
pub mod store;

pub use error::{Error, Result};
pub use store::{
    Backend, MisfirePolicy, NewRun, NewSchedule, PipelineRun, RunFilter, RunState, Schedule,
    ScheduleKind, Store, StoreOptions, StoreStats, TaskRun,
};

mod backfill;
pub mod clock;
pub mod metrics;
pub mod monitor;
pub mod resilience;
mod runner;
pub mod schedule;
mod scheduler;
mod server;

pub use backfill::{Backfill, BackfillReport, BackfillWindow};
pub use clock::{Clock, ManualClock, SystemClock};
pub use metrics::{Health, HealthThresholds, Metrics, render_prometheus};
pub use runner::{
    OrphanPolicy, PipelineExecutor, RunParams, Runner, RunnerOptions, SparkPipelineExecutor,
};
pub use schedule::{BackfillStep, ScheduleSpec, backfill_count, backfill_windows};
pub use scheduler::{Scheduler, SchedulerOptions, TickReport};
pub use server::{ServerState, router, serve};
