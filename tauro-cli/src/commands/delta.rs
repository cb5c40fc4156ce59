//! `tauro-cli delta vacuum|optimize|history <output>`: Delta maintenance of one output.

use std::process::ExitCode;

use tauro_io::delta::{Maintenance, maintain};

use crate::cli::{DeltaAction, DeltaArgs, OutputFormat};
use crate::commands::run;
use crate::error::CliError;
use crate::project;

/// Runs the statement on the output's table and prints what it answers.
pub async fn run(args: DeltaArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    let (target, what) = match args.action {
        DeltaAction::Vacuum {
            target,
            retain_hours,
            dry_run,
        } => (
            target,
            Maintenance::Vacuum {
                retain_hours,
                dry_run,
            },
        ),
        DeltaAction::Optimize {
            target,
            filter,
            zorder_by,
        } => (target, Maintenance::Optimize { filter, zorder_by }),
        DeltaAction::History { target } => (target, Maintenance::History),
    };
    let ctx = project::load(&target.project)?;
    let name = target.name;
    let Some(config) = ctx.outputs.get(&name) else {
        let known: Vec<&str> = ctx.outputs.keys().map(String::as_str).collect();
        return Err(CliError::Usage {
            message: format!("no output named '{name}'"),
            hint: Some(format!("outputs: {}", known.join(", "))),
        });
    };
    tauro_io::delta::refuse_maintenance(run::engine_kind(&ctx, &target.engine), &what)?;
    let connected = run::connect(&ctx, &target.engine, human).await?;
    let result = match connected.engine.new_session().await {
        Ok(session) => maintain(&session, config, &what).await,
        Err(e) => Err(e),
    };
    run::stop_server(connected.server, human).await;
    let rows = result?;
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"output": name, "action": what.name(), "rows": rows})
        ),
        OutputFormat::Human => {
            println!(
                "delta {} of output '{name}': {} row(s)",
                what.name(),
                rows.len()
            );
            for row in rows {
                println!("  {row}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
