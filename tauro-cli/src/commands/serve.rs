//! `tauro-cli serve`: `/metrics`, `/health` and the runs as JSON over HTTP; with
//! `--scheduler`, the scheduler runs (and executes its runs) in the same process.

use std::process::ExitCode;
use std::sync::Arc;

use tauro_orchest::{HealthThresholds, Scheduler, SchedulerOptions, ServerState, SystemClock};

use crate::cli::{OutputFormat, ServeArgs};
use crate::commands::orchest;
use crate::commands::run as exec_run;
use crate::error::CliError;
use crate::project;

/// Runs `serve` until Ctrl-C.
pub async fn run(args: ServeArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    let ctx = Arc::new(project::load(&args.project)?);
    let store = orchest::open_store(&ctx, &args.store).await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| CliError::Usage {
            message: format!("cannot listen on {}:{}: {e}", args.host, args.port),
            hint: Some("pick another --port (0 takes any free one)".into()),
        })?;
    let address = listener.local_addr().map_err(|e| CliError::Usage {
        message: format!("cannot read the bound address: {e}"),
        hint: None,
    })?;
    let (stop, ctrl_c) = exec_run::ctrl_c_token();
    let mut server_handle = None;
    let mut runner = None;
    let mut scheduler_task = None;
    if args.scheduler {
        let (r, spark) =
            orchest::runner(&ctx, store.clone(), &args.engine, &args.runner, human).await?;
        server_handle = spark;
        let mut scheduler = Scheduler::new(
            r.clone(),
            Arc::new(SystemClock),
            SchedulerOptions::default(),
        );
        let stop = stop.clone();
        scheduler_task = Some(tokio::spawn(async move { scheduler.run(stop, None).await }));
        runner = Some(r);
    }
    let state = ServerState {
        store,
        runner,
        lease: args.runner.lease,
        thresholds: HealthThresholds::default(),
    };
    // Printed on stdout in both formats: scripts read the address from it.
    println!("serving http://{address} (/metrics, /health, /runs, /schedules)");
    let served = tauro_orchest::serve(listener, state, stop.clone()).await;
    stop.cancel();
    if let Some(task) = scheduler_task
        && let Ok(Err(e)) = task.await
    {
        eprintln!("scheduler: {e}");
    }
    ctrl_c.abort();
    exec_run::stop_server(server_handle, human).await;
    served?;
    Ok(ExitCode::SUCCESS)
}
