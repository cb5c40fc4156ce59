//! `tauro-cli plan` (and `exec --dry-run`): what a run would do and why.

use std::process::ExitCode;
use std::sync::Arc;

use tauro_exec::{Plan, PlanAction};

use crate::cli::{OutputFormat, PlanArgs};
use crate::commands::run::{self, RunRequest};
use crate::error::CliError;
use crate::{project, render};

/// Runs `plan`.
pub fn run(args: &PlanArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = Arc::new(project::load(&args.project)?);
    let request = RunRequest::new(&ctx, &args.window, &args.select)?;
    let plan = run::incremental(&ctx, &request).plan()?;
    let plan = run::restrict(plan, &args.select.only)?;
    print(&plan, output);
    Ok(ExitCode::SUCCESS)
}

/// Prints a plan: a table of nodes with action and reason, the diff against the previous
/// manifest, and warnings.
pub fn print(plan: &Plan, output: OutputFormat) {
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(plan).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        ),
        OutputFormat::Human => print!("{}", human(plan)),
    }
}

fn human(plan: &Plan) -> String {
    let counts = plan.counts();
    let window = plan.window.map_or_else(
        || "no dates".to_string(),
        |w| format!("{}..{}", w.start, w.end),
    );
    let mode = format!("{:?}", plan.mode).to_lowercase();
    let mut out = format!(
        "plan for {} ({mode}, window {}{}): {} to run, {} cached, {} skipped\n",
        plan.pipeline,
        window,
        if plan.selection.is_empty() {
            String::new()
        } else {
            format!(", selection {}", plan.selection)
        },
        counts.run,
        counts.cached,
        counts.skip,
    );
    let rows: Vec<Vec<String>> = plan
        .nodes
        .iter()
        .map(|n| {
            let reason = match &n.detail {
                Some(d) => format!("{} ({d})", n.reason),
                None => n.reason.to_string(),
            };
            vec![n.action.label().to_string(), n.name.clone(), reason]
        })
        .collect();
    out.push_str(&render::table(&["action", "node", "reason"], &rows));
    let diff = &plan.diff;
    if diff.has_previous {
        let mut parts = Vec::new();
        if !diff.added_nodes.is_empty() {
            parts.push(format!("added nodes: {}", diff.added_nodes.join(", ")));
        }
        if !diff.removed_nodes.is_empty() {
            parts.push(format!("removed nodes: {}", diff.removed_nodes.join(", ")));
        }
        if !diff.modified_nodes.is_empty() {
            let modified: Vec<String> = diff
                .modified_nodes
                .iter()
                .map(|m| format!("{} ({})", m.name, m.changed.join(", ")))
                .collect();
            parts.push(format!("modified nodes: {}", modified.join(", ")));
        }
        if !diff.added_edges.is_empty() {
            parts.push(format!("{} edge(s) added", diff.added_edges.len()));
        }
        if !diff.removed_edges.is_empty() {
            parts.push(format!("{} edge(s) removed", diff.removed_edges.len()));
        }
        if parts.is_empty() {
            out.push_str("changes since the last manifest: none\n");
        } else {
            out.push_str("changes since the last manifest:\n");
            for p in parts {
                out.push_str(&format!("  {p}\n"));
            }
        }
    } else {
        out.push_str("changes since the last manifest: no previous manifest\n");
    }
    if !plan.dropped_from_state.is_empty() {
        out.push_str(&format!(
            "dropped from the run state: {}\n",
            plan.dropped_from_state.join(", ")
        ));
    }
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if plan.with_action(PlanAction::Run).next().is_none() {
        out.push_str("nothing to run: every selected node is up to date\n");
    }
    out
}
