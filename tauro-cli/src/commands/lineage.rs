//! `tauro-cli lineage show|list`: what runs did to the data.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{LineageAction, LineageArgs, OutputFormat};
use crate::error::CliError;
use crate::{project, render};

/// Runs `lineage`.
pub fn run(args: &LineageArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    match &args.action {
        LineageAction::Show { project, run_id } => {
            let ctx = project::load(project)?;
            let lineage = tauro_exec::read_lineage(&ctx.project_dir, run_id).map_err(|e| {
                CliError::Usage {
                    message: format!("cannot read the lineage of run '{run_id}': {e}"),
                    hint: Some("`tauro-cli lineage list` shows the recorded runs".into()),
                }
            })?;
            match output {
                OutputFormat::Human => print!("{}", lineage.to_table()),
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string(&lineage)
                        .unwrap_or_else(|e| json!({"error": e.to_string()}).to_string())
                ),
            }
        }
        LineageAction::List { project } => {
            let ctx = project::load(project)?;
            let entries =
                tauro_exec::list_lineage(&ctx.project_dir).map_err(|e| CliError::Usage {
                    message: format!("cannot list lineage: {e}"),
                    hint: None,
                })?;
            match output {
                OutputFormat::Human => {
                    let rows: Vec<Vec<String>> = entries
                        .iter()
                        .map(|e| {
                            vec![
                                e.run_id.clone(),
                                e.pipeline.clone(),
                                e.status.clone(),
                                e.started_at.to_string(),
                                format!("{:.1}s", e.duration_secs),
                                e.nodes.to_string(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        render::table(
                            &["run", "pipeline", "status", "started", "duration", "nodes"],
                            &rows
                        )
                    );
                }
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string(&entries)
                        .unwrap_or_else(|e| json!({"error": e.to_string()}).to_string())
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
