//! Checks a pipeline run before any Spark work: the graph, the functions, the datasets, the
//! node selection and the date window.

use std::collections::HashSet;

use tauro_config::{Context, DateWindow, NodeCompute, PipelineConfig};

use crate::error::{Error, Result};
use crate::names::closest;
use crate::registry::NodeRegistry;
use crate::resolver::{DependencyGraph, DependencyResolver};
use crate::selection::NodeSelection;

/// A pipeline run that passed validation.
#[derive(Debug, Clone)]
pub struct ValidatedPipeline {
    graph: DependencyGraph,
    selected: Vec<usize>,
    window: Option<DateWindow>,
}

impl ValidatedPipeline {
    /// The resolved graph of the whole pipeline.
    pub fn graph(&self) -> &DependencyGraph {
        &self.graph
    }

    /// The nodes to run, in topological order.
    pub fn selected(&self) -> impl Iterator<Item = &str> {
        self.selected.iter().map(|&i| self.graph.name(i))
    }

    /// The effective date window: the one given, else the global `start_date`/`end_date`.
    pub fn window(&self) -> Option<DateWindow> {
        self.window
    }

    pub(crate) fn selected_indices(&self) -> &[usize] {
        &self.selected
    }
}

/// Validates pipeline runs against a project (and optionally a node registry).
#[derive(Debug, Clone, Copy)]
pub struct PipelineValidator<'a> {
    ctx: &'a Context,
    registry: Option<&'a NodeRegistry>,
}

impl<'a> PipelineValidator<'a> {
    /// A validator for `ctx`; without a registry, `function:` names are not checked.
    pub fn new(ctx: &'a Context) -> Self {
        Self {
            ctx,
            registry: None,
        }
    }

    /// Checks `function:` nodes against `registry`.
    pub fn with_registry(mut self, registry: &'a NodeRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Validates a run of `pipeline`; the first problem found is the error.
    pub fn validate(
        &self,
        pipeline: &str,
        selection: &NodeSelection,
        window: Option<DateWindow>,
    ) -> Result<ValidatedPipeline> {
        let (validated, mut errors) = self.run_checks(pipeline, selection, window);
        match validated {
            Some(v) if errors.is_empty() => Ok(v),
            _ if !errors.is_empty() => Err(errors.swap_remove(0)),
            _ => Err(self.not_found(pipeline)),
        }
    }

    /// Every problem of a run of `pipeline` (empty when it is valid), for `tauro validate`.
    pub fn check(
        &self,
        pipeline: &str,
        selection: &NodeSelection,
        window: Option<DateWindow>,
    ) -> Vec<Error> {
        self.run_checks(pipeline, selection, window).1
    }

    fn run_checks(
        &self,
        pipeline: &str,
        selection: &NodeSelection,
        window: Option<DateWindow>,
    ) -> (Option<ValidatedPipeline>, Vec<Error>) {
        let Some(config) = self.ctx.pipelines.get(pipeline) else {
            return (None, vec![self.not_found(pipeline)]);
        };
        let mut errors = Vec::new();
        self.check_nodes(config, &mut errors);
        let graph = match DependencyResolver::new(self.ctx).resolve(pipeline) {
            Ok(graph) => Some(graph),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        self.check_selection(config, selection, &mut errors);
        let window = window.or_else(|| self.global_window());
        if window.is_none() && config.requires_dates {
            errors.push(Error::DatesRequired {
                pipeline: pipeline.to_string(),
                location: Box::new(config.location.clone()),
            });
        }
        let validated = graph.map(|graph| {
            let selected = match selection {
                NodeSelection::All => graph.order_indices().to_vec(),
                NodeSelection::Only(names) => {
                    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
                    graph
                        .order_indices()
                        .iter()
                        .copied()
                        .filter(|&i| wanted.contains(graph.name(i)))
                        .collect()
                }
                NodeSelection::WithDownstream(names) => graph
                    .with_downstream(names)
                    .into_iter()
                    .filter_map(|n| graph.index_of(n))
                    .collect(),
            };
            ValidatedPipeline {
                graph,
                selected,
                window,
            }
        });
        (validated, errors)
    }

    /// Functions registered, datasets declared.
    fn check_nodes(&self, config: &PipelineConfig, errors: &mut Vec<Error>) {
        let datasets = || {
            self.ctx
                .inputs
                .keys()
                .chain(self.ctx.outputs.keys())
                .map(String::as_str)
        };
        for node in config.nodes.iter().filter_map(|n| self.ctx.nodes.get(n)) {
            if let (NodeCompute::Function { name }, Some(registry)) = (&node.compute, self.registry)
                && !registry.contains(name)
            {
                errors.push(Error::UnknownFunction {
                    node: node.name.clone(),
                    function: name.clone(),
                    registered: registry.names().map(str::to_string).collect(),
                    suggestion: closest(name, registry.names()),
                    location: Box::new(node.location.clone()),
                });
            }
            if let Err(e) = crate::names::input_views(node) {
                errors.push(e);
            }
            for input in &node.input {
                if !self.ctx.inputs.contains_key(input) && !self.ctx.outputs.contains_key(input) {
                    errors.push(Error::UnknownInput {
                        node: node.name.clone(),
                        dataset: input.clone(),
                        suggestion: closest(input, datasets()),
                        location: Box::new(node.location.clone()),
                    });
                }
            }
            for output in &node.output {
                if !self.ctx.outputs.contains_key(output) {
                    errors.push(Error::UnknownOutput {
                        node: node.name.clone(),
                        dataset: output.clone(),
                        suggestion: closest(output, self.ctx.outputs.keys().map(String::as_str)),
                        location: Box::new(node.location.clone()),
                    });
                }
            }
        }
    }

    fn check_selection(
        &self,
        config: &PipelineConfig,
        selection: &NodeSelection,
        errors: &mut Vec<Error>,
    ) {
        let known: HashSet<&str> = config.nodes.iter().map(String::as_str).collect();
        for name in selection.names() {
            if !known.contains(name.as_str()) {
                errors.push(Error::UnknownSelection {
                    pipeline: config.name.clone(),
                    node: name.clone(),
                    suggestion: closest(name, config.nodes.iter().map(String::as_str)),
                    location: Box::new(config.location.clone()),
                });
            }
        }
    }

    fn global_window(&self) -> Option<DateWindow> {
        match (self.ctx.global.start_date, self.ctx.global.end_date) {
            (Some(start), Some(end)) if start <= end => Some(DateWindow { start, end }),
            _ => None,
        }
    }

    fn not_found(&self, pipeline: &str) -> Error {
        Error::PipelineNotFound {
            name: pipeline.to_string(),
            available: self.ctx.pipelines.keys().cloned().collect(),
            suggestion: closest(pipeline, self.ctx.pipelines.keys().map(String::as_str)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use chrono::NaiveDate;
    use tauro_io::Frame;

    use super::*;
    use crate::registry::{NodeContext, NodeOutput};
    use crate::testutil::{context, deps, io};

    fn function_node(name: &str, function: &str) -> tauro_config::NodeConfig {
        let mut n = deps(name, &[]);
        n.compute = NodeCompute::Function {
            name: function.into(),
        };
        n
    }

    #[test]
    fn unregistered_function_lists_the_registered_ones() {
        let ctx = context(vec![function_node("a", "dedup")]);
        let registry = NodeRegistry::with_builtins();
        let err = PipelineValidator::new(&ctx)
            .with_registry(&registry)
            .validate("p", &NodeSelection::All, None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "node 'a' uses function 'dedup', which is not registered"
        );
        let hint = err.hint().unwrap();
        assert!(hint.starts_with("did you mean 'dedupe'?"), "{hint}");
        assert!(
            hint.contains("filter, passthrough, select, union_all"),
            "{hint}"
        );
        assert_eq!(err.location().unwrap().to_string(), "nodes.yml:1");
        // Without a registry the name is not checked.
        assert!(
            PipelineValidator::new(&ctx)
                .validate("p", &NodeSelection::All, None)
                .is_ok()
        );
    }

    #[test]
    fn registered_custom_function_passes() {
        let ctx = context(vec![function_node("a", "mine")]);
        let mut registry = NodeRegistry::new();
        registry
            .register("mine", |_c: NodeContext, _i: Vec<Frame>| async {
                Ok(NodeOutput::Nothing)
            })
            .unwrap();
        let v = PipelineValidator::new(&ctx)
            .with_registry(&registry)
            .validate("p", &NodeSelection::All, None)
            .unwrap();
        assert_eq!(v.selected().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn selection_must_exist_and_selects_in_order() {
        let ctx = context(vec![deps("a", &[]), deps("b", &["a"]), deps("c", &["b"])]);
        let v = PipelineValidator::new(&ctx);
        let err = v
            .validate("p", &NodeSelection::Only(vec!["bb".into()]), None)
            .unwrap_err();
        assert!(matches!(err, Error::UnknownSelection { .. }), "{err:?}");
        assert_eq!(err.hint().as_deref(), Some("did you mean 'b'?"));
        let only = v
            .validate(
                "p",
                &NodeSelection::Only(vec!["c".into(), "a".into()]),
                None,
            )
            .unwrap();
        assert_eq!(only.selected().collect::<Vec<_>>(), ["a", "c"]);
        let down = v
            .validate("p", &NodeSelection::WithDownstream(vec!["b".into()]), None)
            .unwrap();
        assert_eq!(down.selected().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn check_reports_every_problem() {
        let mut ctx = context(vec![io("a", &["raw"], &["out"]), deps("b", &["a"])]);
        ctx.nodes[0].input.push("missing_in".into());
        ctx.nodes[1].output.push("missing_out".into());
        ctx.pipelines[0].requires_dates = true;
        let problems =
            PipelineValidator::new(&ctx).check("p", &NodeSelection::Only(vec!["zz".into()]), None);
        let classes: Vec<String> = problems.iter().map(Error::error_class).collect();
        assert_eq!(
            classes,
            [
                "UNKNOWN_INPUT",
                "UNKNOWN_OUTPUT",
                "UNKNOWN_SELECTION",
                "DATES_REQUIRED"
            ]
        );
    }

    #[test]
    fn global_dates_are_the_fallback_window() {
        let mut ctx = context(vec![deps("a", &[])]);
        ctx.pipelines[0].requires_dates = true;
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        ctx.global.start_date = Some(d("2025-01-01"));
        ctx.global.end_date = Some(d("2025-01-31"));
        let v = PipelineValidator::new(&ctx)
            .validate("p", &NodeSelection::All, None)
            .unwrap();
        assert_eq!(v.window().unwrap().end, d("2025-01-31"));
    }
}
