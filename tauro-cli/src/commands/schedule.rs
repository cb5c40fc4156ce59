//! `tauro-cli schedule add|list|enable|disable|remove|start`.

use std::process::ExitCode;
use std::sync::Arc;

use tauro_orchest::{
    MisfirePolicy, NewSchedule, ScheduleKind, ScheduleSpec, Scheduler, SchedulerOptions,
    SystemClock,
};

use crate::cli::{OutputFormat, ScheduleAction, ScheduleArgs, WindowArgs};
use crate::commands::orchest::{self, print_json};
use crate::commands::run as exec_run;
use crate::commands::runs::params_of;
use crate::error::CliError;
use crate::{project, render};

/// Runs `schedule …`.
pub async fn run(args: ScheduleArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    match args.action {
        ScheduleAction::Add {
            project,
            store,
            pipeline,
            every,
            cron,
            timezone,
            max_concurrency,
            max_attempts,
            retry_delay,
            misfire,
            jitter,
            window,
            ml,
        } => {
            let ctx = project::load(&project)?;
            let (kind, expression) = match (every, cron) {
                (Some(e), _) => (ScheduleKind::Interval, e),
                (None, Some(c)) => (ScheduleKind::Cron, c),
                (None, None) => {
                    return Err(CliError::Usage {
                        message: "give --every or --cron".into(),
                        hint: Some("--every 1h, or --cron \"0 6 * * *\"".into()),
                    });
                }
            };
            // Checks the expression and the time zone now, not at the first tick.
            ScheduleSpec::new(kind, &expression, Some(&timezone))
                .map_err(tauro_orchest::Error::from)?;
            let misfire = MisfirePolicy::parse(&misfire)?;
            if !matches!(window.as_str(), "none" | "fire_date" | "previous_day") {
                return Err(CliError::Usage {
                    message: format!("--window {window}: unknown window"),
                    hint: Some("none, fire_date or previous_day".into()),
                });
            }
            let w = WindowArgs {
                pipeline: pipeline.clone(),
                start: None,
                end: None,
            };
            let mut params = params_of(&ctx, &w, &ml)?.to_value();
            if let Some(map) = params.as_object_mut() {
                map.insert("window".into(), serde_json::Value::String(window));
            }
            let store = orchest::open_store(&ctx, &store).await?;
            let schedule = store
                .add_schedule(NewSchedule {
                    pipeline,
                    kind,
                    expression,
                    timezone,
                    enabled: true,
                    max_concurrency: max_concurrency.max(1),
                    max_attempts: max_attempts.max(1),
                    retry_delay_secs: retry_delay.max(0.0),
                    misfire,
                    jitter_secs: jitter.max(0.0),
                    params,
                    id: None,
                })
                .await?;
            if human {
                println!(
                    "added schedule {} for {} ({} {})",
                    schedule.id,
                    schedule.pipeline,
                    schedule.kind.as_str(),
                    schedule.expression
                );
                println!("fire it with: tauro-cli schedule start");
            } else {
                print_json(&schedule);
            }
            Ok(ExitCode::SUCCESS)
        }
        ScheduleAction::List { project, store } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let schedules = store.list_schedules().await?;
            if human {
                let rows: Vec<Vec<String>> = schedules
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.clone(),
                            s.pipeline.clone(),
                            format!("{} {}", s.kind.as_str(), s.expression),
                            s.timezone.clone(),
                            if s.enabled { "yes" } else { "no" }.into(),
                            s.max_concurrency.to_string(),
                            s.misfire.as_str().into(),
                            s.next_run_at
                                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                                .unwrap_or_default(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    render::table(
                        &[
                            "schedule",
                            "pipeline",
                            "when",
                            "tz",
                            "enabled",
                            "max",
                            "misfire",
                            "next (UTC)"
                        ],
                        &rows
                    )
                );
            } else {
                print_json(&schedules);
            }
            Ok(ExitCode::SUCCESS)
        }
        ScheduleAction::Enable { project, store, id } => {
            toggle(&project, &store, &id, true, human).await
        }
        ScheduleAction::Disable { project, store, id } => {
            toggle(&project, &store, &id, false, human).await
        }
        ScheduleAction::Remove { project, store, id } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            if !store.remove_schedule(&id).await? {
                return Err(not_found(&id));
            }
            if human {
                println!("removed schedule {id}");
            } else {
                print_json(&serde_json::json!({"removed": id}));
            }
            Ok(ExitCode::SUCCESS)
        }
        ScheduleAction::Start {
            project,
            store,
            engine,
            runner,
            run_for,
            max_runs,
        } => {
            let ctx = Arc::new(project::load(&project)?);
            let store = orchest::open_store(&ctx, &store).await?;
            let (runner, server) = orchest::runner(&ctx, store, &engine, &runner, human).await?;
            let mut scheduler = Scheduler::new(
                runner.clone(),
                Arc::new(SystemClock),
                SchedulerOptions::default(),
            );
            let (stop, ctrl_c) = exec_run::ctrl_c_token();
            if let Some(limit) = run_for {
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(limit).await;
                    stop.cancel();
                });
            }
            if human {
                eprintln!(
                    "scheduler {} running (Ctrl-C stops it; running runs finish first)",
                    runner.options().owner
                );
            }
            let finished = scheduler.run(stop, max_runs).await;
            ctrl_c.abort();
            exec_run::stop_server(server, human).await;
            let finished = finished?;
            if human {
                println!("scheduler stopped; {finished} run(s) finished");
            } else {
                print_json(&serde_json::json!({"finished_runs": finished}));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn toggle(
    project: &crate::cli::ProjectArgs,
    store: &crate::cli::StoreArgs,
    id: &str,
    enabled: bool,
    human: bool,
) -> Result<ExitCode, CliError> {
    let ctx = project::load(project)?;
    let store = orchest::open_store(&ctx, store).await?;
    if !store.set_schedule_enabled(id, enabled).await? {
        return Err(not_found(id));
    }
    if human {
        println!(
            "schedule {id} {}",
            if enabled { "enabled" } else { "disabled" }
        );
    } else {
        print_json(&serde_json::json!({"schedule": id, "enabled": enabled}));
    }
    Ok(ExitCode::SUCCESS)
}

fn not_found(id: &str) -> CliError {
    CliError::Usage {
        message: format!("no schedule '{id}' in the store"),
        hint: Some("list schedules with `tauro-cli schedule list`".into()),
    }
}
