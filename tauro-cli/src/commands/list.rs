//! `tauro-cli list`: the pipelines of a project, or one pipeline's nodes in execution order.

use std::process::ExitCode;

use serde_json::json;
use tauro_config::NodeCompute;
use tauro_exec::DependencyResolver;

use crate::cli::{ListArgs, OutputFormat};
use crate::error::CliError;
use crate::{project, render};

/// Runs `list`.
pub fn run(args: &ListArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = project::load(&args.project)?;
    let Some(name) = &args.pipeline else {
        let rows: Vec<Vec<String>> = ctx
            .pipelines
            .values()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.pipeline_type.as_str().to_string(),
                    p.nodes.len().to_string(),
                    p.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        match output {
            OutputFormat::Human => {
                print!(
                    "{}",
                    render::table(&["pipeline", "type", "nodes", "description"], &rows)
                );
            }
            OutputFormat::Json => {
                let list: Vec<_> = ctx
                    .pipelines
                    .values()
                    .map(|p| {
                        json!({"name": p.name, "type": p.pipeline_type.as_str(), "nodes": p.nodes,
                                    "description": p.description})
                    })
                    .collect();
                println!("{}", json!({"env": ctx.env, "pipelines": list}));
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    ctx.pipeline(name)?;
    let graph = DependencyResolver::new(&ctx).resolve(name)?;
    let mut rows = Vec::new();
    let mut nodes = Vec::new();
    for node_name in graph.topological_order() {
        let Some(node) = ctx.node(node_name) else {
            continue;
        };
        let kind = match &node.compute {
            NodeCompute::Sql { file: Some(f), .. } => format!(
                "sql_file {}",
                f.strip_prefix(&ctx.project_dir).unwrap_or(f).display()
            ),
            NodeCompute::Sql { file: None, .. } => "sql".to_string(),
            NodeCompute::Function { name } => format!("function {name}"),
        };
        let deps = graph.dependencies(node_name).join(", ");
        rows.push(vec![
            node.name.clone(),
            kind.clone(),
            deps.clone(),
            node.output.join(", "),
        ]);
        nodes.push(
            json!({"name": node.name, "compute": kind, "depends_on": graph.dependencies(node_name),
                          "inputs": node.input, "outputs": node.output, "tags": node.tags}),
        );
    }
    match output {
        OutputFormat::Human => print!(
            "{}",
            render::table(&["node", "computes", "depends on", "outputs"], &rows)
        ),
        OutputFormat::Json => println!(
            "{}",
            json!({"pipeline": name, "env": ctx.env, "nodes": nodes})
        ),
    }
    Ok(ExitCode::SUCCESS)
}
