//! `tauro-cli graph`: a pipeline's dependency graph in Mermaid or DOT.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::json;
use tauro_exec::{DependencyGraph, DependencyResolver, EdgeKind};

use crate::cli::{GraphArgs, GraphFormat, OutputFormat};
use crate::error::CliError;
use crate::project;

/// Runs `graph`.
pub fn run(args: &GraphArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = project::load(&args.project)?;
    ctx.pipeline(&args.pipeline)?;
    let graph = DependencyResolver::new(&ctx).resolve(&args.pipeline)?;
    let text = match args.format {
        GraphFormat::Mermaid => mermaid(&graph),
        GraphFormat::Dot => dot(&graph),
    };
    match output {
        OutputFormat::Human => print!("{text}"),
        OutputFormat::Json => println!(
            "{}",
            json!({"pipeline": args.pipeline, "format": format!("{:?}", args.format).to_lowercase(),
                   "graph": text})
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Mermaid flowchart, nodes in topological order; data edges are labelled with the dataset.
pub fn mermaid(graph: &DependencyGraph) -> String {
    let mut out = String::from("flowchart LR\n");
    for node in graph.topological_order() {
        let _ = writeln!(out, "    {}[\"{}\"]", ident(node), node);
    }
    for (from, to, kind) in graph.edges() {
        match label(kind) {
            Some(l) => {
                let _ = writeln!(out, "    {} -->|{}| {}", ident(from), l, ident(to));
            }
            None => {
                let _ = writeln!(out, "    {} --> {}", ident(from), ident(to));
            }
        }
    }
    out
}

/// Graphviz DOT digraph.
pub fn dot(graph: &DependencyGraph) -> String {
    let mut out = format!("digraph \"{}\" {{\n    rankdir=LR;\n", graph.pipeline());
    for node in graph.topological_order() {
        let _ = writeln!(out, "    \"{node}\";");
    }
    for (from, to, kind) in graph.edges() {
        match label(kind) {
            Some(l) => {
                let _ = writeln!(out, "    \"{from}\" -> \"{to}\" [label=\"{l}\"];");
            }
            None => {
                let _ = writeln!(out, "    \"{from}\" -> \"{to}\";");
            }
        }
    }
    out.push_str("}\n");
    out
}

fn label(kind: &EdgeKind) -> Option<String> {
    match kind {
        EdgeKind::Dependency => None,
        EdgeKind::Data { dataset } => Some(dataset.clone()),
    }
}

/// Mermaid ids must be plain words.
fn ident(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
