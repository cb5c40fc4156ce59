//! Per-run node bookkeeping: statuses, attempts, failure counts, dependents, summary.
//!
//! Transitions: `pending → running → completed`; `running → retrying → running`;
//! `running | retrying → failed`; `pending → skipped` (an upstream node failed or was
//! skipped); `pending | running | retrying → cancelled` (the run stopped). `completed`,
//! `failed`, `skipped` and `cancelled` are final. A node starts only when all its
//! dependencies are `completed`.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::resolver::DependencyGraph;

/// Status of one node in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Not started yet.
    Pending,
    /// An attempt is running.
    Running,
    /// Finished successfully.
    Completed,
    /// Failed after its last attempt.
    Failed,
    /// An attempt failed; waiting for the next one.
    Retrying,
    /// Stopped, or never started, because the run stopped.
    Cancelled,
    /// Not run because an upstream node failed or was skipped.
    Skipped,
    /// Not run: an incremental run kept its output from an earlier run (reports only; the
    /// scheduler never uses it).
    Cached,
}

impl NodeStatus {
    /// True for `completed`, `failed`, `skipped`, `cancelled` and `cached`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Skipped | Self::Cancelled | Self::Cached
        )
    }

    /// The lower-case name (`pending`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Cached => "cached",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use NodeStatus::{Cancelled, Completed, Failed, Pending, Retrying, Running, Skipped};
        matches!(
            (self, to),
            (Pending, Running | Skipped | Cancelled)
                | (Running, Completed | Failed | Retrying | Cancelled)
                | (Retrying, Running | Failed | Cancelled)
        )
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Overall status of the pipeline, derived from its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineStatus {
    /// No node has started.
    Initializing,
    /// Some node is running, retrying or still pending after others started.
    Running,
    /// Every node completed.
    Completed,
    /// Every node is final and at least one failed.
    Failed,
    /// Every node is final, none failed, at least one was cancelled.
    Cancelled,
}

/// One node's record.
#[derive(Debug, Clone)]
struct NodeRecord {
    name: String,
    status: NodeStatus,
    dependencies: Vec<usize>,
    dependents: Vec<usize>,
    attempts: u32,
    failures: u32,
    error: Option<String>,
}

/// Counts per status and the derived pipeline status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateSummary {
    /// Number of nodes.
    pub total: usize,
    /// Nodes pending.
    pub pending: usize,
    /// Nodes running.
    pub running: usize,
    /// Nodes completed.
    pub completed: usize,
    /// Nodes failed.
    pub failed: usize,
    /// Nodes retrying.
    pub retrying: usize,
    /// Nodes cancelled.
    pub cancelled: usize,
    /// Nodes skipped.
    pub skipped: usize,
    /// Failed attempts, summed over all nodes.
    pub failed_attempts: u32,
    /// The derived pipeline status.
    pub status: PipelineStatus,
}

/// The state of every node of one run.
#[derive(Debug, Clone, Default)]
pub struct UnifiedPipelineState {
    nodes: Vec<NodeRecord>,
    index: HashMap<String, usize>,
}

impl UnifiedPipelineState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every node of `graph`, pending, with its dependencies and dependents.
    pub fn from_graph(graph: &DependencyGraph) -> Self {
        Self::from_graph_subset(graph, &vec![true; graph.len()])
    }

    /// The nodes of `graph` with `keep[i]`, in topological order; dependencies on nodes left
    /// out count as already satisfied.
    pub(crate) fn from_graph_subset(graph: &DependencyGraph, keep: &[bool]) -> Self {
        let mut state = Self::new();
        let mut local = vec![usize::MAX; graph.len()];
        for &i in graph.order_indices() {
            if !keep[i] {
                continue;
            }
            let deps: Vec<usize> = graph
                .predecessors(i)
                .filter(|&p| keep[p])
                .map(|p| local[p])
                .collect();
            local[i] = state.push(graph.name(i).to_string(), deps);
        }
        state
    }

    /// Adds a pending node whose dependencies are already registered.
    pub fn register_node(&mut self, name: &str, dependencies: &[&str]) -> Result<()> {
        if self.index.contains_key(name) {
            return Err(Error::NodeAlreadyRegistered {
                node: name.to_string(),
            });
        }
        let deps = dependencies
            .iter()
            .map(|d| self.idx(d))
            .collect::<Result<Vec<_>>>()?;
        self.push(name.to_string(), deps);
        Ok(())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True without nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A node's status.
    pub fn status(&self, node: &str) -> Option<NodeStatus> {
        self.index.get(node).map(|&i| self.nodes[i].status)
    }

    /// How many attempts a node has started.
    pub fn attempts(&self, node: &str) -> Option<u32> {
        self.index.get(node).map(|&i| self.nodes[i].attempts)
    }

    /// How many attempts of a node failed.
    pub fn failures(&self, node: &str) -> Option<u32> {
        self.index.get(node).map(|&i| self.nodes[i].failures)
    }

    /// The last error of a node.
    pub fn error(&self, node: &str) -> Option<&str> {
        let i = *self.index.get(node)?;
        self.nodes[i].error.as_deref()
    }

    /// The nodes that depend directly on `node`, in registration order.
    pub fn dependents(&self, node: &str) -> Vec<&str> {
        self.index.get(node).map_or_else(Vec::new, |&i| {
            self.nodes[i]
                .dependents
                .iter()
                .map(|&d| self.nodes[d].name.as_str())
                .collect()
        })
    }

    /// Pending nodes whose dependencies all completed, in registration order.
    pub fn ready_nodes(&self) -> Vec<&str> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].status == NodeStatus::Pending && self.deps_done(i))
            .map(|i| self.nodes[i].name.as_str())
            .collect()
    }

    /// Starts an attempt: `pending`/`retrying` → `running`, dependencies must be completed.
    pub fn start(&mut self, node: &str) -> Result<()> {
        let i = self.idx(node)?;
        self.start_at(i)
    }

    /// `running` → `completed`.
    pub fn complete(&mut self, node: &str) -> Result<()> {
        let i = self.idx(node)?;
        self.set(i, NodeStatus::Completed)
    }

    /// A failed attempt: `running` → `retrying` (when `will_retry`) or `failed`.
    pub fn fail(&mut self, node: &str, error: &str, will_retry: bool) -> Result<()> {
        let i = self.idx(node)?;
        self.fail_at(i, error, will_retry)
    }

    /// `pending` → `skipped`.
    pub fn skip(&mut self, node: &str) -> Result<()> {
        let i = self.idx(node)?;
        self.set(i, NodeStatus::Skipped)
    }

    /// `pending | running | retrying` → `cancelled`.
    pub fn cancel(&mut self, node: &str) -> Result<()> {
        let i = self.idx(node)?;
        self.set(i, NodeStatus::Cancelled)
    }

    /// Marks every pending node downstream of `node` skipped; returns their names.
    pub fn skip_downstream(&mut self, node: &str) -> Result<Vec<String>> {
        let i = self.idx(node)?;
        Ok(self
            .skip_downstream_at(i)
            .into_iter()
            .map(|j| self.nodes[j].name.clone())
            .collect())
    }

    /// Counts per status.
    pub fn summary(&self) -> StateSummary {
        let count = |s: NodeStatus| self.nodes.iter().filter(|n| n.status == s).count();
        let mut summary = StateSummary {
            total: self.nodes.len(),
            pending: count(NodeStatus::Pending),
            running: count(NodeStatus::Running),
            completed: count(NodeStatus::Completed),
            failed: count(NodeStatus::Failed),
            retrying: count(NodeStatus::Retrying),
            cancelled: count(NodeStatus::Cancelled),
            skipped: count(NodeStatus::Skipped),
            failed_attempts: self.nodes.iter().map(|n| n.failures).sum(),
            status: PipelineStatus::Initializing,
        };
        let started = summary.total - summary.pending;
        summary.status =
            if summary.running + summary.retrying > 0 || (summary.pending > 0 && started > 0) {
                PipelineStatus::Running
            } else if summary.pending > 0 || summary.total == 0 {
                PipelineStatus::Initializing
            } else if summary.failed > 0 {
                PipelineStatus::Failed
            } else if summary.cancelled + summary.skipped > 0 {
                PipelineStatus::Cancelled
            } else {
                PipelineStatus::Completed
            };
        summary
    }

    // ---- index-based API for the scheduler ----

    pub(crate) fn name_at(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    pub(crate) fn status_at(&self, i: usize) -> NodeStatus {
        self.nodes[i].status
    }

    pub(crate) fn attempts_at(&self, i: usize) -> u32 {
        self.nodes[i].attempts
    }

    pub(crate) fn dependents_at(&self, i: usize) -> &[usize] {
        &self.nodes[i].dependents
    }

    pub(crate) fn dependency_count_at(&self, i: usize) -> usize {
        self.nodes[i].dependencies.len()
    }

    pub(crate) fn start_at(&mut self, i: usize) -> Result<()> {
        if !self.deps_done(i) {
            return Err(self.refused(i, NodeStatus::Running));
        }
        self.set(i, NodeStatus::Running)?;
        self.nodes[i].attempts += 1;
        Ok(())
    }

    pub(crate) fn fail_at(&mut self, i: usize, error: &str, will_retry: bool) -> Result<()> {
        let to = if will_retry {
            NodeStatus::Retrying
        } else {
            NodeStatus::Failed
        };
        self.set(i, to)?;
        let node = &mut self.nodes[i];
        node.failures += 1;
        node.error = Some(error.to_string());
        Ok(())
    }

    pub(crate) fn set(&mut self, i: usize, to: NodeStatus) -> Result<()> {
        if !self.nodes[i].status.can_become(to) {
            return Err(self.refused(i, to));
        }
        self.nodes[i].status = to;
        Ok(())
    }

    /// Pending nodes downstream of `i` become skipped; returns them in discovery order.
    pub(crate) fn skip_downstream_at(&mut self, i: usize) -> Vec<usize> {
        let mut skipped = Vec::new();
        let mut stack: Vec<usize> = self.nodes[i].dependents.clone();
        while let Some(d) = stack.pop() {
            if self.nodes[d].status == NodeStatus::Pending {
                self.nodes[d].status = NodeStatus::Skipped;
                skipped.push(d);
                stack.extend(self.nodes[d].dependents.iter().copied());
            }
        }
        skipped
    }

    fn push(&mut self, name: String, dependencies: Vec<usize>) -> usize {
        let i = self.nodes.len();
        for &d in &dependencies {
            self.nodes[d].dependents.push(i);
        }
        self.index.insert(name.clone(), i);
        self.nodes.push(NodeRecord {
            name,
            status: NodeStatus::Pending,
            dependencies,
            dependents: Vec::new(),
            attempts: 0,
            failures: 0,
            error: None,
        });
        i
    }

    fn deps_done(&self, i: usize) -> bool {
        self.nodes[i]
            .dependencies
            .iter()
            .all(|&d| self.nodes[d].status == NodeStatus::Completed)
    }

    fn idx(&self, node: &str) -> Result<usize> {
        self.index
            .get(node)
            .copied()
            .ok_or_else(|| Error::NodeNotRegistered {
                node: node.to_string(),
            })
    }

    fn refused(&self, i: usize, to: NodeStatus) -> Error {
        Error::InvalidTransition {
            node: self.nodes[i].name.clone(),
            from: self.nodes[i].status,
            to,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn diamond() -> UnifiedPipelineState {
        let mut s = UnifiedPipelineState::new();
        s.register_node("a", &[]).unwrap();
        s.register_node("b", &["a"]).unwrap();
        s.register_node("c", &["a"]).unwrap();
        s.register_node("d", &["b", "c"]).unwrap();
        s
    }

    #[test]
    fn lifecycle_with_retry_and_summary() {
        let mut s = diamond();
        assert_eq!(s.summary().status, PipelineStatus::Initializing);
        assert_eq!(s.ready_nodes(), ["a"]);
        assert!(matches!(s.start("b"), Err(Error::InvalidTransition { .. })));
        s.start("a").unwrap();
        s.fail("a", "boom", true).unwrap();
        assert_eq!(s.status("a"), Some(NodeStatus::Retrying));
        s.start("a").unwrap();
        s.complete("a").unwrap();
        assert_eq!((s.attempts("a"), s.failures("a")), (Some(2), Some(1)));
        assert_eq!(s.ready_nodes(), ["b", "c"]);
        assert_eq!(s.dependents("a"), ["b", "c"]);
        let summary = s.summary();
        assert_eq!((summary.completed, summary.pending), (1, 3));
        assert_eq!(summary.status, PipelineStatus::Running);
        assert_eq!(summary.failed_attempts, 1);
    }

    #[test]
    fn failure_skips_downstream_and_fails_the_pipeline() {
        let mut s = diamond();
        s.start("a").unwrap();
        s.complete("a").unwrap();
        s.start("b").unwrap();
        s.fail("b", "boom", false).unwrap();
        assert_eq!(s.skip_downstream("b").unwrap(), ["d"]);
        s.start("c").unwrap();
        s.complete("c").unwrap();
        assert_eq!(s.error("b"), Some("boom"));
        let summary = s.summary();
        assert_eq!((summary.failed, summary.skipped), (1, 1));
        assert_eq!(summary.status, PipelineStatus::Failed);
        assert!(s.complete("b").is_err(), "final states stay final");
    }

    #[test]
    fn registration_errors() {
        let mut s = diamond();
        assert!(matches!(
            s.register_node("a", &[]),
            Err(Error::NodeAlreadyRegistered { .. })
        ));
        assert!(matches!(
            s.register_node("e", &["zz"]),
            Err(Error::NodeNotRegistered { .. })
        ));
        assert!(s.cancel("zz").is_err());
        s.cancel("d").unwrap();
        assert_eq!(s.status("d"), Some(NodeStatus::Cancelled));
    }
}
