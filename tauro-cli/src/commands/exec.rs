//! `tauro-cli exec`: run a pipeline on Spark Connect, incrementally by default.
//!
//! Load and validate (no Spark), plan (what changed since the last run), then — only if
//! something runs — resolve the endpoint (`local` starts a server for the run unless a warm
//! one is up), run, print progress and a summary, and stop what was started.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{ExecArgs, OutputFormat};
use crate::commands::run::{self, RunRequest};
use crate::commands::{plan, stream};
use crate::error::CliError;
use crate::project;
use tauro_config::PipelineType;

/// Runs `exec`.
pub async fn run(args: ExecArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = Arc::new(project::load(&args.project)?);
    let kind = ctx.pipeline(&args.window.pipeline)?.pipeline_type;
    if matches!(kind, PipelineType::Streaming | PipelineType::Hybrid) && !args.dry_run {
        return stream::run(ctx, &args, output).await;
    }
    let request = RunRequest::new(&ctx, &args.window, &args.select)?.with_ml(&ctx, &args.ml)?;
    let inc = run::incremental(&ctx, &request);
    let the_plan = run::restrict(inc.plan()?, &args.select.only)?;
    if args.dry_run {
        plan::print(&the_plan, output);
        return Ok(ExitCode::SUCCESS);
    }
    run::execute(&ctx, inc, the_plan, &args.engine, output).await
}
