//! `tauro-cli backfill`: one stored run per window, in order, with bounded concurrency.

use std::process::ExitCode;
use std::sync::Arc;

use tauro_orchest::{Backfill, BackfillStep, backfill_count, backfill_windows};

use crate::cli::{BackfillArgs, MlArgs, OutputFormat, WindowArgs};
use crate::commands::orchest::{self, print_json, runs_table};
use crate::commands::run as exec_run;
use crate::commands::runs::params_of;
use crate::error::CliError;
use crate::project;

/// Runs `backfill`.
pub async fn run(args: BackfillArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    let ctx = Arc::new(project::load(&args.project)?);
    let step: BackfillStep = args.step.parse().map_err(tauro_orchest::Error::from)?;
    let to = match &args.to {
        Some(d) => tauro_config::parse_date(d)?,
        None => chrono::Utc::now().date_naive(),
    };
    let windows = match (&args.from, args.count) {
        (Some(from), _) => backfill_windows(tauro_config::parse_date(from)?, to, step)
            .map_err(tauro_orchest::Error::from)?,
        (None, Some(n)) => {
            backfill_count(to, n as usize, step).map_err(tauro_orchest::Error::from)?
        }
        (None, None) => {
            return Err(CliError::Usage {
                message: "give --from (or --count)".into(),
                hint: Some("backfill --pipeline P --from 2025-01-01 --to 2025-01-31".into()),
            });
        }
    };
    if windows.is_empty() {
        return Err(CliError::Usage {
            message: "the backfill has no windows (is --from after --to?)".into(),
            hint: None,
        });
    }
    let w = WindowArgs {
        pipeline: args.pipeline.clone(),
        start: None,
        end: None,
    };
    let params = params_of(&ctx, &w, &MlArgs::default())?;
    let backfill = Backfill::new(args.pipeline.clone(), windows).with_params(params);
    let store = orchest::open_store(&ctx, &args.store).await?;
    let report = if args.create_only {
        backfill.create(&store).await?
    } else {
        let (runner, server) =
            orchest::runner(&ctx, store, &args.engine, &args.runner, human).await?;
        let (cancel, ctrl_c) = exec_run::ctrl_c_token();
        let result = tokio::select! {
            r = backfill.run(&runner, args.runner.concurrency) => r,
            () = cancel.cancelled() => {
                for id in runner.active_here() {
                    let _ = runner.cancel(&id).await;
                }
                Err(tauro_orchest::Error::Unsupported { what: "the backfill was interrupted; run it again to resume".into() })
            }
        };
        ctrl_c.abort();
        exec_run::stop_server(server, human).await;
        result?
    };
    if human {
        let runs: Vec<_> = report.windows.iter().map(|w| w.run.clone()).collect();
        print!("{}", runs_table(&runs));
        let reused = report.windows.iter().filter(|w| w.reused).count();
        println!(
            "backfill {} of {}: {} window(s), {} succeeded, {} reused from an earlier run",
            report.id,
            report.pipeline,
            report.windows.len(),
            report.succeeded(),
            reused
        );
    } else {
        print_json(&report);
    }
    let all_done = args.create_only || report.succeeded() == report.windows.len();
    Ok(if all_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
