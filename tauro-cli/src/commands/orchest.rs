//! What the orchestration commands share: opening the run store, building a runner on a
//! Spark engine, rendering runs.

use std::sync::Arc;

use tauro_config::Context;
use tauro_exec::FileModelRegistry;
use tauro_orchest::{
    OrphanPolicy, PipelineRun, Runner, RunnerOptions, SparkPipelineExecutor, Store, TaskRun,
};

use crate::cli::{EngineArgs, OrphanArg, RunnerArgs, StoreArgs};
use crate::commands::run::{self, Connected};
use crate::error::CliError;
use crate::render;

/// The store URL: `--store` / `TAURO_STORE_URL`, else the project's `store_url` setting,
/// else the project's SQLite file.
pub async fn open_store(ctx: &Context, args: &StoreArgs) -> Result<Store, CliError> {
    let configured = ctx
        .global
        .extra
        .get("store_url")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    match args.url.clone().or(configured) {
        Some(url) => Ok(Store::open(&url).await?),
        None => Ok(Store::for_project(&ctx.project_dir).await?),
    }
}

/// A runner executing this project's pipelines on a freshly connected engine; the
/// connection's embedded server (if any) is returned to be stopped at the end.
pub async fn runner(
    ctx: &Arc<Context>,
    store: Store,
    engine: &EngineArgs,
    args: &RunnerArgs,
    human: bool,
) -> Result<(Runner, Option<tauro_io::LocalServer>), CliError> {
    let Connected { engine, server } = run::connect(ctx, engine, human).await?;
    let executor = SparkPipelineExecutor::new(Arc::clone(ctx), engine, run::registry())
        .with_model_registry(Arc::new(FileModelRegistry::for_project(&ctx.project_dir)));
    let options = RunnerOptions {
        max_attempts: args.max_attempts.max(1),
        retry_delay: std::time::Duration::try_from_secs_f64(args.retry_delay.max(0.0))
            .unwrap_or_default(),
        timeout: args.run_timeout,
        max_concurrent_runs: args.concurrency.max(1),
        // The lease must outlive a few heartbeats: a short --lease makes heartbeats faster.
        heartbeat_interval: args
            .heartbeat
            .min(args.lease / 3)
            .max(std::time::Duration::from_millis(100)),
        lease: args.lease,
        orphan_policy: match args.orphans {
            OrphanArg::Fail => OrphanPolicy::Fail,
            OrphanArg::Requeue => OrphanPolicy::Requeue,
        },
        ..RunnerOptions::default()
    };
    Ok((Runner::new(store, Arc::new(executor), options), server))
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn took(
    run_start: Option<chrono::DateTime<chrono::Utc>>,
    end: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    match (run_start, end) {
        (Some(s), Some(e)) => render::duration((e - s).to_std().unwrap_or_default()),
        _ => String::new(),
    }
}

/// Runs as a table.
pub fn runs_table(runs: &[PipelineRun]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let params = tauro_orchest::RunParams::of(r).unwrap_or_default();
            let window = match (&params.start, &params.end) {
                (Some(s), Some(e)) if s != e => format!("{s}..{e}"),
                (Some(s), _) => s.clone(),
                _ => String::new(),
            };
            vec![
                r.id.clone(),
                r.pipeline.clone(),
                r.state.as_str().to_string(),
                r.attempt.to_string(),
                window,
                time(Some(r.created_at)),
                took(r.started_at, r.finished_at),
                r.schedule_id.clone().unwrap_or_default(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    render::table(
        &[
            "run", "pipeline", "state", "attempt", "window", "created", "took", "schedule", "error",
        ],
        &rows,
    )
}

/// Task runs as a table.
pub fn tasks_table(tasks: &[TaskRun]) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.node.clone(),
                t.state.as_str().to_string(),
                t.attempts.to_string(),
                t.duration_ms
                    .map(|ms| render::duration(std::time::Duration::from_millis(ms)))
                    .unwrap_or_default(),
                t.rows.map(render::count).unwrap_or_default(),
                t.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    render::table(
        &["node", "state", "attempts", "duration", "rows", "error"],
        &rows,
    )
}

/// Prints `value` as JSON.
pub fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    );
}
