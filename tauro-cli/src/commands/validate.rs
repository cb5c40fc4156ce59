//! `tauro-cli validate`: load the project and check every pipeline's graph and functions,
//! without Spark.

use std::process::ExitCode;

use serde_json::json;
use tauro_exec::{NodeRegistry, NodeSelection, PipelineValidator};

use crate::cli::{OutputFormat, ValidateArgs};
use crate::error::CliError;
use crate::{project, render};

/// Runs `validate`.
pub fn run(args: &ValidateArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = project::load(&args.project)?;
    let names: Vec<String> = match &args.pipeline {
        Some(name) => vec![ctx.pipeline(name)?.name.clone()],
        None => ctx.pipelines.keys().cloned().collect(),
    };
    let registry = NodeRegistry::with_builtins();
    let validator = PipelineValidator::new(&ctx).with_registry(&registry);
    let mut problems = Vec::new();
    for name in &names {
        // A missing date window is a property of a run, not of the project.
        problems.extend(
            validator
                .check(name, &NodeSelection::All, None)
                .into_iter()
                .filter(|e| !matches!(e, tauro_exec::Error::DatesRequired { .. })),
        );
    }
    match output {
        OutputFormat::Json => {
            let errors: Vec<_> = problems
                .iter()
                .map(|e| {
                    json!({"error": e.to_string(), "location": e.location().map(ToString::to_string),
                           "hint": e.hint()})
                })
                .collect();
            println!(
                "{}",
                json!({"project": ctx.global.project_name, "env": ctx.env, "valid": problems.is_empty(),
                       "pipelines": names, "nodes": ctx.nodes.len(), "inputs": ctx.inputs.len(),
                       "outputs": ctx.outputs.len(), "errors": errors})
            );
        }
        OutputFormat::Human => {
            for problem in &problems {
                let location = problem.location().map(ToString::to_string);
                let hint = problem.hint();
                eprint!(
                    "{}",
                    render::located_report(problem, location.as_deref(), hint.as_deref())
                );
            }
            if problems.is_empty() {
                println!(
                    "ok: project '{}' (env {}) is valid: {} pipeline(s), {} nodes, {} inputs, {} outputs",
                    ctx.global.project_name,
                    ctx.env,
                    names.len(),
                    ctx.nodes.len(),
                    ctx.inputs.len(),
                    ctx.outputs.len()
                );
            } else {
                eprintln!("{} problem(s) found", problems.len());
            }
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
