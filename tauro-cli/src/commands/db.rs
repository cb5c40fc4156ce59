//! `tauro-cli db stats|cleanup|vacuum`: the run store's upkeep.

use std::process::ExitCode;

use crate::cli::{DbAction, DbArgs, OutputFormat};
use crate::commands::orchest::{self, print_json};
use crate::error::CliError;
use crate::{project, render};

/// Runs `db …`.
pub async fn run(args: DbArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    match args.action {
        DbAction::Stats { project, store } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let stats = store.stats().await?;
            if human {
                println!(
                    "store: {:?}, schema version {}, size {}",
                    stats.backend,
                    stats.schema_version,
                    stats
                        .size_bytes
                        .map(|b| format!("{} bytes", render::count(b)))
                        .unwrap_or_else(|| "unknown".into())
                );
                println!(
                    "schedules: {} ({} enabled)",
                    stats.schedules, stats.enabled_schedules
                );
                let line = |m: &std::collections::BTreeMap<String, u64>| {
                    if m.is_empty() {
                        "none".to_string()
                    } else {
                        m.iter()
                            .map(|(k, v)| format!("{k} {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                println!("runs: {}", line(&stats.runs_by_state));
                println!("task runs: {}", line(&stats.tasks_by_state));
            } else {
                print_json(&stats);
            }
            Ok(ExitCode::SUCCESS)
        }
        DbAction::Cleanup {
            project,
            store,
            days,
        } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let deleted = store
                .cleanup(chrono::Duration::days(i64::from(days)))
                .await?;
            if human {
                println!("deleted {deleted} finished run(s) older than {days} day(s)");
            } else {
                print_json(&serde_json::json!({"deleted_runs": deleted, "older_than_days": days}));
            }
            Ok(ExitCode::SUCCESS)
        }
        DbAction::Metrics { project, store } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let metrics = tauro_orchest::monitor::collect(&store, None).await?;
            if human {
                print!("{}", tauro_orchest::render_prometheus(&metrics));
            } else {
                print_json(&metrics);
            }
            Ok(ExitCode::SUCCESS)
        }
        DbAction::Health {
            project,
            store,
            lease,
        } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            let health = tauro_orchest::monitor::health(
                &store,
                None,
                lease,
                &tauro_orchest::HealthThresholds::default(),
            )
            .await;
            if human {
                println!(
                    "{}",
                    if health.healthy {
                        "healthy"
                    } else {
                        "unhealthy"
                    }
                );
                for i in &health.issues {
                    println!("issue: {i}");
                }
                for w in &health.warnings {
                    println!("warning: {w}");
                }
            } else {
                print_json(&health);
            }
            Ok(if health.healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        DbAction::Vacuum { project, store } => {
            let ctx = project::load(&project)?;
            let store = orchest::open_store(&ctx, &store).await?;
            store.vacuum().await?;
            if human {
                println!("vacuumed the run store");
            } else {
                print_json(&serde_json::json!({"vacuumed": true}));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
