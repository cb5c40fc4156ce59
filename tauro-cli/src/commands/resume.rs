//! `tauro-cli resume`: re-run the nodes that failed or never ran in the pipeline's last run,
//! with the same window, reusing what succeeded.

use std::process::ExitCode;
use std::sync::Arc;

use tauro_exec::IncrementalRun;

use crate::cli::{OutputFormat, ResumeArgs};
use crate::commands::{plan, run};
use crate::error::CliError;
use crate::project;

/// Runs `resume`.
pub async fn run(args: ResumeArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = Arc::new(project::load(&args.project)?);
    let pipeline = ctx.pipeline(&args.pipeline)?.name.clone();
    let inc = IncrementalRun::new(Arc::clone(&ctx), pipeline).resume();
    let the_plan = inc.plan()?;
    if args.dry_run {
        plan::print(&the_plan, output);
        return Ok(ExitCode::SUCCESS);
    }
    run::execute(&ctx, inc, the_plan, &args.engine, output).await
}
