//! Dependency resolution: a pipeline's nodes as a petgraph DAG and a deterministic order.
//!
//! Edges come from a node's `dependencies` and, implicitly, from data: a node whose `input`
//! names the `output` of another node of the same pipeline depends on that node. (A node that
//! reads its own output, e.g. to append to it, does not depend on itself.)

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use tauro_config::{Context, NodeConfig};

use crate::error::{Error, Result};
use crate::names::closest;

/// Why one node depends on another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EdgeKind {
    /// Listed in the node's `dependencies`.
    Dependency,
    /// The node reads `dataset`, which the other node writes.
    Data {
        /// The dataset (an output of the upstream node).
        dataset: String,
    },
}

/// The resolved dependency graph of one pipeline.
///
/// Node `i` of [`graph`](Self::graph) is the pipeline's `i`-th node; an edge `a → b` means `b`
/// depends on `a` (`a` runs first).
#[derive(Debug, Clone)]
pub struct DependencyGraph {
    pipeline: String,
    graph: DiGraph<String, EdgeKind>,
    index: HashMap<String, usize>,
    order: Vec<usize>,
}

impl DependencyGraph {
    /// The pipeline's name.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// True when the pipeline has no nodes.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// True when the pipeline has a node of this name.
    pub fn contains(&self, node: &str) -> bool {
        self.index.contains_key(node)
    }

    /// Node names in pipeline order.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.graph.node_weights().map(String::as_str)
    }

    /// Node names in execution order: every node after its dependencies; among nodes that
    /// could go in either order, the one listed first in the pipeline comes first.
    pub fn topological_order(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|&i| self.name(i))
    }

    /// The nodes `node` depends on, in pipeline order (empty for an unknown node).
    pub fn dependencies(&self, node: &str) -> Vec<&str> {
        self.neighbours(node, Direction::Incoming)
    }

    /// The nodes that depend on `node`, in pipeline order (empty for an unknown node).
    pub fn dependents(&self, node: &str) -> Vec<&str> {
        self.neighbours(node, Direction::Outgoing)
    }

    /// Every edge as `(upstream, downstream, why)`.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str, &EdgeKind)> {
        self.graph.edge_indices().filter_map(|e| {
            let (a, b) = self.graph.edge_endpoints(e)?;
            Some((
                self.graph[a].as_str(),
                self.graph[b].as_str(),
                &self.graph[e],
            ))
        })
    }

    /// The underlying petgraph graph (e.g. for Mermaid/DOT export).
    pub fn graph(&self) -> &DiGraph<String, EdgeKind> {
        &self.graph
    }

    /// `roots` and everything downstream of them, in topological order. Unknown names are
    /// ignored (the validator reports them).
    pub fn with_downstream<S: AsRef<str>>(&self, roots: &[S]) -> Vec<&str> {
        let mut keep = vec![false; self.len()];
        let mut stack: Vec<usize> = roots
            .iter()
            .filter_map(|r| self.index.get(r.as_ref()).copied())
            .collect();
        while let Some(i) = stack.pop() {
            if !keep[i] {
                keep[i] = true;
                stack.extend(self.successors(i));
            }
        }
        self.order
            .iter()
            .filter(|&&i| keep[i])
            .map(|&i| self.name(i))
            .collect()
    }

    pub(crate) fn index_of(&self, node: &str) -> Option<usize> {
        self.index.get(node).copied()
    }

    pub(crate) fn name(&self, i: usize) -> &str {
        &self.graph[NodeIndex::new(i)]
    }

    pub(crate) fn order_indices(&self) -> &[usize] {
        &self.order
    }

    pub(crate) fn predecessors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
            .map(NodeIndex::index)
    }

    pub(crate) fn successors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
            .map(NodeIndex::index)
    }

    fn neighbours(&self, node: &str, dir: Direction) -> Vec<&str> {
        let Some(&i) = self.index.get(node) else {
            return Vec::new();
        };
        let mut idx: Vec<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(i), dir)
            .map(NodeIndex::index)
            .collect();
        idx.sort_unstable();
        idx.into_iter().map(|j| self.name(j)).collect()
    }
}

/// Builds [`DependencyGraph`]s from a loaded project.
#[derive(Debug, Clone, Copy)]
pub struct DependencyResolver<'a> {
    ctx: &'a Context,
}

impl<'a> DependencyResolver<'a> {
    /// A resolver over the project `ctx`.
    pub fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }

    /// Resolves the pipeline `pipeline`: unknown, duplicate and undefined nodes, dependencies
    /// outside the pipeline and cycles are errors.
    pub fn resolve(&self, pipeline: &str) -> Result<DependencyGraph> {
        let Some(config) = self.ctx.pipelines.get(pipeline) else {
            return Err(Error::PipelineNotFound {
                name: pipeline.to_string(),
                available: self.ctx.pipelines.keys().cloned().collect(),
                suggestion: closest(pipeline, self.ctx.pipelines.keys().map(String::as_str)),
            });
        };
        let mut nodes = Vec::with_capacity(config.nodes.len());
        for name in &config.nodes {
            let Some(node) = self.ctx.nodes.get(name) else {
                return Err(Error::NodeNotDefined {
                    pipeline: pipeline.to_string(),
                    node: name.clone(),
                    suggestion: closest(name, self.ctx.nodes.keys().map(String::as_str)),
                    location: Box::new(config.location.clone()),
                });
            };
            nodes.push(node);
        }
        match Self::resolve_nodes(pipeline, &nodes) {
            Err(Error::DuplicateNode { pipeline, node, .. }) => Err(Error::DuplicateNode {
                pipeline,
                node,
                location: Box::new(config.location.clone()),
            }),
            Err(Error::UnknownDependency {
                pipeline,
                node,
                dependency,
                suggestion,
                location,
                ..
            }) => Err(Error::UnknownDependency {
                defined_elsewhere: self.ctx.nodes.contains_key(&dependency),
                pipeline,
                node,
                dependency,
                suggestion,
                location,
            }),
            other => other,
        }
    }

    /// Resolves a pipeline given directly as its node configurations, in pipeline order.
    pub fn resolve_nodes(pipeline: &str, nodes: &[&NodeConfig]) -> Result<DependencyGraph> {
        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.len());
        let mut index = HashMap::with_capacity(nodes.len());
        let mut producers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            if index.insert(node.name.clone(), i).is_some() {
                return Err(Error::DuplicateNode {
                    pipeline: pipeline.to_string(),
                    node: node.name.clone(),
                    location: Box::new(node.location.clone()),
                });
            }
            graph.add_node(node.name.clone());
            for output in &node.output {
                producers.entry(output.as_str()).or_default().push(i);
            }
        }
        for (i, node) in nodes.iter().enumerate() {
            for dep in &node.dependencies {
                let Some(&d) = index.get(dep) else {
                    return Err(Error::UnknownDependency {
                        pipeline: pipeline.to_string(),
                        node: node.name.clone(),
                        dependency: dep.clone(),
                        defined_elsewhere: false,
                        suggestion: closest(dep, nodes.iter().map(|n| n.name.as_str())),
                        location: Box::new(node.location.clone()),
                    });
                };
                add_edge(&mut graph, d, i, EdgeKind::Dependency);
            }
            for input in &node.input {
                for &p in producers.get(input.as_str()).into_iter().flatten() {
                    if p != i {
                        let kind = EdgeKind::Data {
                            dataset: input.clone(),
                        };
                        add_edge(&mut graph, p, i, kind);
                    }
                }
            }
        }
        let order = match kahn(&graph) {
            Ok(order) => order,
            Err(remaining) => return Err(cycle_error(pipeline, nodes, &graph, &remaining)),
        };
        Ok(DependencyGraph {
            pipeline: pipeline.to_string(),
            graph,
            index,
            order,
        })
    }
}

fn add_edge(graph: &mut DiGraph<String, EdgeKind>, from: usize, to: usize, kind: EdgeKind) {
    let (a, b) = (NodeIndex::new(from), NodeIndex::new(to));
    if graph.find_edge(a, b).is_none() {
        graph.add_edge(a, b, kind);
    }
}

/// Kahn's algorithm with a min-heap on pipeline position, so ties follow pipeline order.
/// On a cycle, returns the in-degrees left (non-zero for nodes that could not be ordered).
fn kahn(graph: &DiGraph<String, EdgeKind>) -> std::result::Result<Vec<usize>, Vec<usize>> {
    let n = graph.node_count();
    let mut indegree: Vec<usize> = (0..n)
        .map(|i| {
            graph
                .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for s in graph.neighbors_directed(NodeIndex::new(i), Direction::Outgoing) {
            let s = s.index();
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err(indegree)
    }
}

/// Finds one cycle among the nodes Kahn could not order and describes it.
///
/// Every such node has an unordered predecessor, so walking to predecessors must revisit a
/// node; the revisited stretch is a cycle, read as "depends on" from left to right.
fn cycle_error(
    pipeline: &str,
    nodes: &[&NodeConfig],
    graph: &DiGraph<String, EdgeKind>,
    indegree: &[usize],
) -> Error {
    let stuck = |i: usize| indegree[i] > 0;
    let start = (0..indegree.len()).find(|&i| stuck(i)).unwrap_or(0);
    let mut walk = vec![start];
    let mut seen_at = HashMap::from([(start, 0usize)]);
    let mut current = start;
    let cycle: Vec<usize> = loop {
        let next = graph
            .neighbors_directed(NodeIndex::new(current), Direction::Incoming)
            .map(NodeIndex::index)
            .filter(|&p| stuck(p))
            .min();
        let Some(next) = next else {
            break walk; // unreachable for a real cycle; keeps the error total
        };
        if let Some(&at) = seen_at.get(&next) {
            break walk.split_off(at);
        }
        seen_at.insert(next, walk.len());
        walk.push(next);
        current = next;
    };
    // Start the path at the node listed first in the pipeline.
    let first = cycle
        .iter()
        .enumerate()
        .min_by_key(|&(_, &i)| i)
        .map_or(0, |(pos, _)| pos);
    let mut path: Vec<usize> = cycle[first..]
        .iter()
        .chain(&cycle[..first])
        .copied()
        .collect();
    let head = path.first().copied().unwrap_or(start);
    path.push(head);
    let implicit = path
        .windows(2)
        .filter_map(|w| {
            let edge = graph.find_edge(NodeIndex::new(w[1]), NodeIndex::new(w[0]))?;
            match &graph[edge] {
                EdgeKind::Data { dataset } => Some(format!(
                    "'{}' reads '{dataset}', written by '{}'",
                    nodes[w[0]].name, nodes[w[1]].name
                )),
                EdgeKind::Dependency => None,
            }
        })
        .collect();
    Error::Cycle {
        pipeline: pipeline.to_string(),
        path: path.iter().map(|&i| nodes[i].name.clone()).collect(),
        implicit,
        location: Box::new(nodes[head].location.clone()),
    }
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
