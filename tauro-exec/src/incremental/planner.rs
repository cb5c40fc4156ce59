//! Plans: for each node of a pipeline, RUN, CACHED or SKIP and why — decided from the project,
//! the run state and the previous manifest alone (no Spark).
//!
//! Incremental (the default), for each selected node in execution order, the first rule
//! that applies:
//! 1. never ran (no state) → RUN `new`;
//! 2. failed in the last run that touched it → RUN `failed last time`;
//! 3. skipped or cancelled there → RUN `did not complete last time`;
//! 4. own configuration or SQL changed → RUN `config changed`;
//! 5. the date window it uses changed → RUN `window changed`;
//! 6. a local input file it reads changed (size/mtime) → RUN `input files changed`;
//! 7. an upstream node runs now, or its upstream fingerprint changed → RUN `upstream changed`;
//! 8. one of its local output paths is gone → RUN `output missing`;
//! 9. otherwise → CACHED `unchanged`.
//!
//! `--full`: every selected node is RUN `selected`. Nodes outside the selection are SKIP
//! `not selected`. Resume ([`Planner::resume`]) has its own rules (see there).

use std::path::Path;

use tauro_config::{Context, DataFormat, DateWindow};

use super::fingerprint::{NodePrint, fingerprints};
use super::manifest::{ManifestDiff, NodeKind, PipelineManifest, ProjectManifest};
use super::plan::{Plan, PlanAction, PlanMode, PlanReason, PlannedNode};
use super::run_state::{
    LastRun, LastRunStatus, NodeRunState, PipelineRunState, RunState, StoredWindow,
};
use super::select::SelectionSpec;
use crate::error::{Error, Result};
use crate::selection::NodeSelection;
use crate::state::NodeStatus;
use crate::validator::PipelineValidator;

/// Decides plans (see the module docs). Reads files only (run state, manifest, input file
/// metadata); never Spark.
#[derive(Debug, Clone)]
pub struct Planner<'a> {
    ctx: &'a Context,
    pipeline: &'a str,
    window: Option<DateWindow>,
    state: Option<&'a RunState>,
    previous: Option<&'a ProjectManifest>,
    selection: SelectionSpec,
    full: bool,
    ml: crate::ml::MlOverrides,
}

impl<'a> Planner<'a> {
    /// A planner for `pipeline` of `ctx`, with no run state (every node is new).
    pub fn new(ctx: &'a Context, pipeline: &'a str) -> Self {
        Self {
            ctx,
            pipeline,
            window: None,
            state: None,
            previous: None,
            selection: SelectionSpec::default(),
            full: false,
            ml: crate::ml::MlOverrides::default(),
        }
    }

    /// The run's date window (default: the global `start_date`/`end_date`; for resume, the
    /// last run's).
    pub fn with_window(mut self, window: Option<DateWindow>) -> Self {
        self.window = window;
        self
    }

    /// The project's run state.
    pub fn with_state(mut self, state: &'a RunState) -> Self {
        self.state = Some(state);
        self
    }

    /// The project's previous manifest, for the diff.
    pub fn with_previous_manifest(mut self, manifest: Option<&'a ProjectManifest>) -> Self {
        self.previous = manifest;
        self
    }

    /// Restricts the plan to a selection.
    pub fn with_selection(mut self, selection: SelectionSpec) -> Self {
        self.selection = selection;
        self
    }

    /// The run's ML overrides: ML nodes whose effective hyperparameters or model version
    /// differ from their last run's run again.
    pub fn with_ml(mut self, overrides: crate::ml::MlOverrides) -> Self {
        self.ml = overrides;
        self
    }

    /// Runs every selected node (`--full`).
    pub fn with_full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// The incremental (or full) plan.
    pub fn plan(&self) -> Result<Plan> {
        let mut draft = self.draft(self.window, &self.ml)?;
        let selected = self.selection.resolve(self.ctx, &draft.graph)?;
        let pstate = self.pipeline_state();
        let mode = if self.full {
            PlanMode::Full
        } else {
            PlanMode::Incremental
        };
        let last_window = pstate
            .and_then(|p| p.last_run.as_ref())
            .and_then(|r| r.window);
        let graph = &draft.graph;
        let mut runs = vec![false; graph.len()];
        let mut decisions = Vec::with_capacity(graph.len());
        for &i in graph.order_indices() {
            let name = graph.name(i);
            let print = &draft.prints[i];
            let stored = pstate.and_then(|p| p.nodes.get(name));
            let (action, reason, detail) = if !selected[i] {
                (PlanAction::Skip, PlanReason::NotSelected, None)
            } else if self.full {
                (PlanAction::Run, PlanReason::Selected, Some("--full".into()))
            } else {
                let upstream_runs = graph
                    .predecessors(i)
                    .filter(|&p| runs[p])
                    .map(|p| graph.name(p))
                    .min();
                decide(
                    self.ctx,
                    name,
                    print,
                    stored,
                    upstream_runs,
                    draft.window,
                    last_window,
                )
            };
            runs[i] = action == PlanAction::Run;
            decisions.push((i, action, reason, detail));
        }
        for &(i, action, ..) in &decisions {
            if action != PlanAction::Run {
                continue;
            }
            for p in graph.predecessors(i) {
                if !selected[p] && !completed(pstate, graph.name(p)) {
                    draft.warnings.push(format!(
                        "'{}' reads from '{}', which is not selected and has not completed; \
                         its input may be missing",
                        graph.name(i),
                        graph.name(p)
                    ));
                }
            }
        }
        Ok(self.finish(draft, mode, decisions, None))
    }

    /// The resume plan: finishes the last run of the pipeline.
    ///
    /// Of the nodes the last run was to run, those that failed, were skipped or cancelled, or
    /// never finished (the process died) RUN; those that completed in it are CACHED. Nodes
    /// outside the last run are CACHED if their last state is `completed`, else SKIP. The
    /// window defaults to the last run's. Changes made since are not picked up (a warning
    /// names them): the next incremental run does that.
    ///
    /// Errors: no previous run of the pipeline ([`Error::NoPreviousRun`]); nothing left to
    /// run ([`Error::NothingToResume`]).
    pub fn resume(&self) -> Result<Plan> {
        let Some(last) = self.pipeline_state().and_then(|p| p.last_run.as_ref()) else {
            return Err(Error::NoPreviousRun {
                pipeline: self.pipeline.to_string(),
            });
        };
        let window = self.window.or(last.window.map(DateWindow::from));
        let ml = if self.ml.is_empty() {
            last.ml.clone()
        } else {
            self.ml.clone()
        };
        let mut draft = self.draft(window, &ml)?;
        if let (Some(given), Some(before)) = (self.window, last.window)
            && StoredWindow::from(given) != before
        {
            draft.warnings.push(format!(
                "resuming run {} with window {} instead of its window {before}",
                last.run_id,
                StoredWindow::from(given)
            ));
        }
        if last.status == LastRunStatus::Running {
            draft.warnings.push(format!(
                "run {} never recorded its end: it was killed, or is still running elsewhere",
                last.run_id
            ));
        }
        let pstate = self.pipeline_state();
        let graph = &draft.graph;
        let mut decisions = Vec::with_capacity(graph.len());
        let mut changed = Vec::new();
        for &i in graph.order_indices() {
            let name = graph.name(i);
            let stored = pstate.and_then(|p| p.nodes.get(name));
            let (action, reason, detail) = resume_decision(last, name, stored);
            if action == PlanAction::Cached
                && stored.is_some_and(|s| s.fingerprint != draft.prints[i].fingerprint.combined)
            {
                changed.push(name.to_string());
            }
            decisions.push((i, action, reason, detail));
        }
        if !decisions.iter().any(|d| d.1 == PlanAction::Run) {
            return Err(Error::NothingToResume {
                pipeline: self.pipeline.to_string(),
                run_id: last.run_id.clone(),
                status: last.status.to_string(),
            });
        }
        if !changed.is_empty() {
            draft.warnings.push(format!(
                "changed since run {}: {} (resume keeps their outputs; run `exec` to rebuild them)",
                last.run_id,
                changed.join(", ")
            ));
        }
        Ok(self.finish(
            draft,
            PlanMode::Resume,
            decisions,
            Some(last.run_id.clone()),
        ))
    }

    fn pipeline_state(&self) -> Option<&'a PipelineRunState> {
        self.state.and_then(|s| s.pipelines.get(self.pipeline))
    }

    fn draft(&self, window: Option<DateWindow>, ml: &crate::ml::MlOverrides) -> Result<Draft> {
        let validated = PipelineValidator::new(self.ctx).validate(
            self.pipeline,
            &NodeSelection::All,
            window,
        )?;
        let window = validated.window();
        let graph = validated.graph().clone();
        let ml_plan = crate::ml::MlPlan::resolve(self.ctx, self.pipeline, ml)?;
        let prints = fingerprints(self.ctx, &graph, window, Some(&ml_plan));
        let manifest =
            PipelineManifest::compile(self.ctx, &graph, &prints, window.map(StoredWindow::from));
        Ok(Draft {
            graph,
            prints,
            manifest,
            window,
            warnings: Vec::new(),
            ml: ml.clone(),
        })
    }

    fn finish(
        &self,
        draft: Draft,
        mode: PlanMode,
        decisions: Vec<(usize, PlanAction, PlanReason, Option<String>)>,
        resumes_run: Option<String>,
    ) -> Plan {
        let Draft {
            graph,
            prints,
            manifest,
            window,
            warnings,
            ml: draft_ml,
        } = draft;
        let pstate = self.pipeline_state();
        let nodes = decisions
            .into_iter()
            .map(|(i, action, reason, detail)| {
                let name = graph.name(i);
                let config = self.ctx.nodes.get(name);
                let stored = pstate.and_then(|p| p.nodes.get(name));
                PlannedNode {
                    name: name.to_string(),
                    action,
                    reason,
                    detail,
                    kind: manifest.nodes.get(name).map_or(NodeKind::Sql, |n| n.kind),
                    node_type: config.and_then(|c| c.node_type.clone()),
                    tags: config.map(|c| c.tags.clone()).unwrap_or_default(),
                    upstream: graph
                        .dependencies(name)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    fingerprint: prints[i].fingerprint.combined.clone(),
                    previous_fingerprint: stored.map(|s| s.fingerprint.clone()),
                    last_status: stored.map(|s| s.status),
                }
            })
            .collect();
        let dropped_from_state = pstate
            .map(|p| {
                p.nodes
                    .keys()
                    .filter(|n| !graph.contains(n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let previous = self.previous.and_then(|m| m.pipeline(self.pipeline));
        Plan {
            pipeline: self.pipeline.to_string(),
            mode,
            window,
            selection: self.selection.describe(),
            nodes,
            dropped_from_state,
            diff: ManifestDiff::between(previous, &manifest),
            warnings,
            resumes_run,
            ml: draft_ml,
            prints: (0..graph.len())
                .map(|i| (graph.name(i).to_string(), prints[i].fingerprint.clone()))
                .collect(),
            manifest,
        }
    }
}

struct Draft {
    graph: crate::resolver::DependencyGraph,
    prints: Vec<NodePrint>,
    manifest: PipelineManifest,
    window: Option<DateWindow>,
    warnings: Vec<String>,
    ml: crate::ml::MlOverrides,
}

fn completed(pstate: Option<&PipelineRunState>, node: &str) -> bool {
    pstate
        .and_then(|p| p.nodes.get(node))
        .is_some_and(|s| s.status == NodeStatus::Completed)
}

/// The incremental rules for one selected node (module docs).
fn decide(
    ctx: &Context,
    name: &str,
    print: &NodePrint,
    stored: Option<&NodeRunState>,
    upstream_runs: Option<&str>,
    window: Option<DateWindow>,
    last_window: Option<StoredWindow>,
) -> (PlanAction, PlanReason, Option<String>) {
    let run = |reason, detail: Option<String>| (PlanAction::Run, reason, detail);
    let Some(stored) = stored else {
        return run(PlanReason::New, None);
    };
    match stored.status {
        NodeStatus::Completed => {}
        NodeStatus::Failed => {
            let detail = stored
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.class, first_line(&e.message)));
            return run(PlanReason::FailedLastTime, detail);
        }
        other => {
            let detail = match &stored.reason {
                Some(why) => format!("{other}: {why}"),
                None => other.to_string(),
            };
            return run(PlanReason::DidNotComplete, Some(detail));
        }
    }
    let now = &print.fingerprint;
    if stored.fingerprint == now.combined {
        return match upstream_runs {
            Some(up) => run(
                PlanReason::UpstreamChanged,
                Some(format!("upstream '{up}' runs")),
            ),
            None => match missing_output(ctx, name) {
                Some(path) => run(PlanReason::OutputMissing, Some(path)),
                None => (PlanAction::Cached, PlanReason::Unchanged, None),
            },
        };
    }
    let Some(parts) = &stored.parts else {
        return run(PlanReason::ConfigChanged, None);
    };
    if parts.config != now.parts.config {
        run(PlanReason::ConfigChanged, None)
    } else if parts.params != now.parts.params {
        let detail = window.map(|w| {
            let now = StoredWindow::from(w);
            match last_window {
                Some(before) if before != now => format!("{now} (was {before})"),
                _ => now.to_string(),
            }
        });
        run(PlanReason::WindowChanged, detail)
    } else if parts.ml != now.parts.ml {
        run(PlanReason::HyperparamsChanged, None)
    } else if parts.inputs != now.parts.inputs {
        run(PlanReason::InputsChanged, None)
    } else {
        let detail = match upstream_runs {
            Some(up) => format!("upstream '{up}' runs"),
            None => "an upstream node changed since this one ran".to_string(),
        };
        run(PlanReason::UpstreamChanged, Some(detail))
    }
}

fn resume_decision(
    last: &LastRun,
    name: &str,
    stored: Option<&NodeRunState>,
) -> (PlanAction, PlanReason, Option<String>) {
    let in_last_run = last.nodes.iter().any(|n| n == name);
    let run = |reason, detail: Option<String>| (PlanAction::Run, reason, detail);
    match stored {
        Some(s) if in_last_run && s.run_id == last.run_id => match s.status {
            NodeStatus::Completed => (
                PlanAction::Cached,
                PlanReason::Unchanged,
                Some(format!("completed in run {}", last.run_id)),
            ),
            NodeStatus::Failed => run(
                PlanReason::FailedLastTime,
                s.error
                    .as_ref()
                    .map(|e| format!("{}: {}", e.class, first_line(&e.message))),
            ),
            other => run(
                PlanReason::DidNotComplete,
                Some(match &s.reason {
                    Some(why) => format!("{other}: {why}"),
                    None => other.to_string(),
                }),
            ),
        },
        _ if in_last_run => run(
            PlanReason::DidNotComplete,
            Some(format!("did not finish in run {}", last.run_id)),
        ),
        Some(s) if s.status == NodeStatus::Completed => {
            (PlanAction::Cached, PlanReason::Unchanged, None)
        }
        _ => (
            PlanAction::Skip,
            PlanReason::NotSelected,
            Some(format!("not part of run {}", last.run_id)),
        ),
    }
}

/// The first local output path of `node` that does not exist.
fn missing_output(ctx: &Context, node: &str) -> Option<String> {
    let config = ctx.nodes.get(node)?;
    config.output.iter().find_map(|o| {
        let out = ctx.outputs.get(o)?;
        if out.format == DataFormat::Table {
            return None;
        }
        let path = out.filepath.as_deref()?;
        let local = path
            .strip_prefix("file://")
            .or_else(|| path.strip_prefix("file:"))
            .unwrap_or(path);
        let remote = local.contains("://")
            || local
                .split_once(':')
                .is_some_and(|(s, r)| s.len() > 1 && r.starts_with('/'));
        (!remote && !Path::new(local).exists()).then(|| local.to_string())
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
