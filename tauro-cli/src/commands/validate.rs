//! `tauro-cli validate`: load the project and check every pipeline's graph and functions,
//! without Spark.

use std::process::ExitCode;

use serde_json::json;
use tauro_exec::{NodeRegistry, NodeSelection, PipelineValidator};

use crate::cli::{OutputFormat, ValidateArgs};
use crate::error::CliError;
use crate::{project, render};

/// Runs `validate`.
pub async fn run(args: &ValidateArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
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
    let mut server_problems = Vec::new();
    let mut notes = Vec::new();
    if args.spark && problems.is_empty() {
        let (p, n) = on_server(&ctx, &names, args, output == OutputFormat::Human).await?;
        server_problems = p;
        notes = n;
    }
    let valid = problems.is_empty() && server_problems.is_empty();
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
                json!({"project": ctx.global.project_name, "env": ctx.env, "valid": valid,
                       "expectation_problems": server_problems, "not_checked": notes,
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
            for p in &server_problems {
                eprintln!("error: {p}");
            }
            for n in &notes {
                eprintln!("note: {n}");
            }
            if valid {
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
                eprintln!(
                    "{} problem(s) found",
                    problems.len() + server_problems.len()
                );
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Analyses every node's expectations (and its inputs') on a Spark Connect server.
async fn on_server(
    ctx: &tauro_config::Context,
    pipelines: &[String],
    args: &ValidateArgs,
    human: bool,
) -> Result<(Vec<String>, Vec<String>), CliError> {
    let connected = crate::commands::run::connect(ctx, &args.engine, human).await?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let window = ctx.window_for(None, None).ok().flatten();
    let mut seen = std::collections::HashSet::new();
    for p in pipelines {
        for node in ctx.pipeline_nodes(p).unwrap_or_default() {
            let has_checks = !node.expectations.is_empty()
                || node.input.iter().any(|i| {
                    ctx.inputs
                        .get(i)
                        .is_some_and(|c| !c.expectations.is_empty())
                });
            if !has_checks || !seen.insert(node.name.clone()) {
                continue;
            }
            let session = connected.engine.new_session().await?;
            let (p, n) = tauro_exec::analyze_expectations(ctx, node, &session, window).await;
            problems.extend(p);
            notes.extend(n);
        }
    }
    crate::commands::run::stop_server(connected.server, human).await;
    Ok((problems, notes))
}
