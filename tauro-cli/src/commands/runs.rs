//! `tauro-cli run create|start|status|list|tasks|cancel`: stored runs.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use tauro_orchest::{RunFilter, RunParams, RunState};

use crate::cli::{MlArgs, OutputFormat, RunAction, RunArgs, WindowArgs};
use crate::commands::orchest::{self, print_json, runs_table, tasks_table};
use crate::commands::run as exec_run;
use crate::error::CliError;
use crate::project;

/// Runs `run …`.
pub async fn run(args: RunArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    match args.action {
        RunAction::Create {
            project,
            store,
            window,
            ml,
        } => {
            let ctx = project::load(&project)?;
            let params = params_of(&ctx, &window, &ml)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let run = store
                .create_run(tauro_orchest::NewRun {
                    pipeline: window.pipeline.clone(),
                    params: params.to_value(),
                    schedule_id: None,
                    fire_time: None,
                    id: None,
                })
                .await?;
            if human {
                println!("created run {} of {} (pending)", run.id, run.pipeline);
                println!("start it with: tauro-cli run start {}", run.id);
            } else {
                print_json(&run);
            }
            Ok(ExitCode::SUCCESS)
        }
        RunAction::Start {
            project,
            store,
            engine,
            runner,
            id,
        } => {
            let ctx = Arc::new(project::load(&project)?);
            let store = orchest::open_store(&ctx, &store).await?;
            let (runner, server) = orchest::runner(&ctx, store, &engine, &runner, human).await?;
            let recovered = runner.recover().await;
            let (cancel, ctrl_c) = exec_run::ctrl_c_token();
            let result = tokio::select! {
                r = runner.start(&id) => r,
                () = cancel.cancelled() => runner.cancel(&id).await,
            };
            ctrl_c.abort();
            exec_run::stop_server(server, human).await;
            match recovered {
                Ok(runs) => {
                    for r in runs {
                        eprintln!("recovered orphaned run {} ({})", r.id, r.state.as_str());
                    }
                }
                Err(e) => eprintln!("warning: could not recover orphaned runs: {e}"),
            }
            let run = result?;
            let tasks = runner.tasks(&run.id).await?;
            if human {
                print!("{}", runs_table(std::slice::from_ref(&run)));
                print!("{}", tasks_table(&tasks));
            } else {
                print_json(&json!({"run": run, "tasks": tasks}));
            }
            Ok(if run.state == RunState::Success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        RunAction::Status { project, store, id } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let run = store.get_run(&id).await?.ok_or_else(|| not_found(&id))?;
            let tasks = store.list_tasks(&id).await?;
            if human {
                print!("{}", runs_table(std::slice::from_ref(&run)));
                if !tasks.is_empty() {
                    print!("{}", tasks_table(&tasks));
                }
            } else {
                print_json(&json!({"run": run, "tasks": tasks}));
            }
            Ok(ExitCode::SUCCESS)
        }
        RunAction::List {
            project,
            store,
            pipeline,
            state,
            limit,
        } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let states = state
                .iter()
                .map(|s| RunState::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            let runs = store
                .list_runs(&RunFilter {
                    pipeline,
                    states,
                    limit: Some(limit),
                    ..RunFilter::default()
                })
                .await?;
            if human {
                print!("{}", runs_table(&runs));
            } else {
                print_json(&runs);
            }
            Ok(ExitCode::SUCCESS)
        }
        RunAction::Tasks { project, store, id } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            store.get_run(&id).await?.ok_or_else(|| not_found(&id))?;
            let tasks = store.list_tasks(&id).await?;
            if human {
                print!("{}", tasks_table(&tasks));
            } else {
                print_json(&tasks);
            }
            Ok(ExitCode::SUCCESS)
        }
        RunAction::Cancel { project, store, id } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            store.get_run(&id).await?.ok_or_else(|| not_found(&id))?;
            let run = store.cancel_run(&id, "cancelled by request").await?;
            if human {
                println!(
                    "run {} is {} (a running run stops at its runner's next heartbeat)",
                    run.id,
                    run.state.as_str()
                );
            } else {
                print_json(&run);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The stored params of a run: window (checked) and ML overrides.
pub fn params_of(
    ctx: &tauro_config::Context,
    window: &WindowArgs,
    ml: &MlArgs,
) -> Result<RunParams, CliError> {
    ctx.pipeline(&window.pipeline)?;
    for d in [&window.start, &window.end].into_iter().flatten() {
        tauro_config::parse_date(d)?;
    }
    let overrides = ml.overrides()?;
    tauro_exec::MlPlan::resolve(ctx, &window.pipeline, &overrides)?;
    Ok(RunParams {
        start: window.start.clone(),
        end: window.end.clone(),
        hyperparams: overrides.hyperparams.into_iter().collect(),
        model_version: overrides.model_version,
        ..RunParams::default()
    })
}

fn not_found(id: &str) -> CliError {
    CliError::Usage {
        message: format!("no run '{id}' in the store"),
        hint: Some("list runs with `tauro-cli run list`".into()),
    }
}
