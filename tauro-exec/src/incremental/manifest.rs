//! The manifest: each pipeline compiled to nodes (kind, type, tags, config, SQL, inputs,
//! outputs, fingerprint) and edges, stored for every pipeline of a project in
//! `.tauro/manifest.json` (the file before the last write is kept as `manifest.prev.json`).
//!
//! The manifest is what a run was compiled from, for people and tools (`plan` shows the diff
//! against it). Run decisions come from the fingerprints in the run state, never from the
//! manifest, so a missing or stale manifest only changes what the diff says.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tauro_config::{Context, NodeCompute};

use super::fingerprint::NodePrint;
use super::run_state::StoredWindow;
use super::store::{StateDir, read_optional, write_atomic};
use crate::error::{Error, Result};
use crate::resolver::{DependencyGraph, EdgeKind};

/// Version of the manifest file format.
pub const MANIFEST_VERSION: u32 = 1;

/// `.tauro/manifest.json`: the last compiled manifest of each pipeline of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectManifest {
    /// [`MANIFEST_VERSION`].
    pub manifest_version: u32,
    /// When the file was last written.
    pub generated_at: DateTime<Utc>,
    /// Manifests by pipeline name.
    #[serde(default)]
    pub pipelines: BTreeMap<String, PipelineManifest>,
}

/// One compiled pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineManifest {
    /// The pipeline.
    pub pipeline: String,
    /// The environment the project was loaded for.
    pub env: String,
    /// The run's date window the fingerprints were computed for.
    #[serde(default)]
    pub window: Option<StoredWindow>,
    /// Nodes in execution (topological) order.
    pub nodes: IndexMap<String, ManifestNode>,
    /// Edges, sorted by `(from, to)`.
    pub edges: Vec<ManifestEdge>,
}

/// What a node computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// `sql:` / `sql_file:`.
    Sql,
    /// `function:`.
    Function,
}

/// One compiled node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestNode {
    /// The node.
    pub name: String,
    /// SQL or function.
    pub kind: NodeKind,
    /// The node's `type`.
    #[serde(rename = "type", default)]
    pub node_type: Option<String>,
    /// The node's `tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The node's `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// The SQL text as written (SQL nodes).
    #[serde(default)]
    pub sql: Option<String>,
    /// The file the SQL came from (`sql_file:`).
    #[serde(default)]
    pub sql_file: Option<PathBuf>,
    /// The function name (function nodes).
    #[serde(default)]
    pub function: Option<String>,
    /// Input datasets.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Output datasets.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// The functional configuration the `config` fingerprint part covers (normalised SQL,
    /// resolved dataset configs, params, ...), with sorted keys.
    pub config: serde_json::Value,
    /// The `config` part of the fingerprint.
    pub config_hash: String,
    /// True when the date window is part of the fingerprint.
    #[serde(default)]
    pub uses_window: bool,
    /// The combined fingerprint.
    pub fingerprint: String,
}

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestEdgeKind {
    /// Listed in `dependencies`.
    Dependency,
    /// The downstream node reads a dataset the upstream node writes.
    Data,
}

/// `from` runs before `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ManifestEdge {
    /// The upstream node.
    pub from: String,
    /// The downstream node.
    pub to: String,
    /// Why.
    pub kind: ManifestEdgeKind,
    /// The dataset, for data edges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

impl PipelineManifest {
    /// Compiles a resolved pipeline with its fingerprints (by graph index).
    pub(crate) fn compile(
        ctx: &Context,
        graph: &DependencyGraph,
        prints: &[NodePrint],
        window: Option<StoredWindow>,
    ) -> Self {
        let mut nodes = IndexMap::with_capacity(graph.len());
        for &i in graph.order_indices() {
            let Some(node) = ctx.nodes.get(graph.name(i)) else {
                continue;
            };
            let print = &prints[i];
            let (kind, sql, sql_file, function) = match &node.compute {
                NodeCompute::Sql { text, file } => {
                    (NodeKind::Sql, Some(text.clone()), file.clone(), None)
                }
                NodeCompute::Function { name } => {
                    (NodeKind::Function, None, None, Some(name.clone()))
                }
            };
            nodes.insert(
                node.name.clone(),
                ManifestNode {
                    name: node.name.clone(),
                    kind,
                    node_type: node.node_type.clone(),
                    tags: node.tags.clone(),
                    description: node.description.clone(),
                    sql,
                    sql_file,
                    function,
                    inputs: node.input.clone(),
                    outputs: node.output.clone(),
                    config: print.config.clone(),
                    config_hash: print.fingerprint.parts.config.clone(),
                    uses_window: print.uses_window,
                    fingerprint: print.fingerprint.combined.clone(),
                },
            );
        }
        let mut edges: Vec<ManifestEdge> = graph
            .edges()
            .map(|(from, to, kind)| {
                let (kind, dataset) = match kind {
                    EdgeKind::Dependency => (ManifestEdgeKind::Dependency, None),
                    EdgeKind::Data { dataset } => (ManifestEdgeKind::Data, Some(dataset.clone())),
                };
                ManifestEdge {
                    from: from.to_string(),
                    to: to.to_string(),
                    kind,
                    dataset,
                }
            })
            .collect();
        edges.sort();
        Self {
            pipeline: graph.pipeline().to_string(),
            env: ctx.env.clone(),
            window,
            nodes,
            edges,
        }
    }
}

/// A manifest file as loaded: what it holds and what was wrong with it.
#[derive(Debug, Clone, Default)]
pub struct LoadedManifest {
    /// The manifest; `None` when there is none or it could not be read.
    pub manifest: Option<ProjectManifest>,
    /// Why it could not be read, if it could not.
    pub warning: Option<String>,
}

impl ProjectManifest {
    /// Loads `.tauro/manifest.json`. A missing file is no manifest; an unreadable, corrupt or
    /// newer-version file is reported in `warning` and treated as no manifest.
    pub fn load(dir: &StateDir) -> LoadedManifest {
        let path = dir.manifest();
        let bytes = match read_optional(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return LoadedManifest::default(),
            Err(e) => return unreadable(&path, &e.to_string()),
        };
        match serde_json::from_slice::<ProjectManifest>(&bytes) {
            Ok(m) if m.manifest_version <= MANIFEST_VERSION => LoadedManifest {
                manifest: Some(m),
                warning: None,
            },
            Ok(m) => unreadable(
                &path,
                &format!(
                    "it has manifest_version {}, newer than this tauro's {MANIFEST_VERSION}",
                    m.manifest_version
                ),
            ),
            Err(e) => unreadable(&path, &e.to_string()),
        }
    }

    /// The manifest of one pipeline.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineManifest> {
        self.pipelines.get(name)
    }

    /// Stores `manifest` as its pipeline's entry of `.tauro/manifest.json` (other pipelines
    /// are kept), keeping the file as it was in `manifest.prev.json`.
    pub fn store(dir: &StateDir, manifest: &PipelineManifest) -> Result<()> {
        let _lock = dir.lock()?;
        let mut file = Self::load(dir).manifest.unwrap_or_else(|| ProjectManifest {
            manifest_version: MANIFEST_VERSION,
            generated_at: Utc::now(),
            pipelines: BTreeMap::new(),
        });
        file.manifest_version = MANIFEST_VERSION;
        file.generated_at = Utc::now();
        file.pipelines
            .insert(manifest.pipeline.clone(), manifest.clone());
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::StateFile {
            path: dir.manifest(),
            action: "serialise",
            source: std::io::Error::other(e),
        })?;
        write_atomic(&dir.manifest(), &bytes, Some(&dir.previous_manifest()))
    }
}

fn unreadable(path: &std::path::Path, why: &str) -> LoadedManifest {
    let warning = format!(
        "ignoring the manifest {}: {why} (the plan shows no diff; the next run rewrites it)",
        path.display()
    );
    tracing::warn!("{warning}");
    LoadedManifest {
        manifest: None,
        warning: Some(warning),
    }
}

/// What changed between the previous manifest of a pipeline and the new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    /// False when there was no previous manifest of the pipeline (first run): then every
    /// list is empty.
    pub has_previous: bool,
    /// Nodes new in the pipeline.
    pub added_nodes: Vec<String>,
    /// Nodes no longer in the pipeline.
    pub removed_nodes: Vec<String>,
    /// Nodes in both whose manifest entry differs.
    pub modified_nodes: Vec<ModifiedNode>,
    /// Edges new in the pipeline.
    pub added_edges: Vec<EdgeRef>,
    /// Edges no longer in the pipeline.
    pub removed_edges: Vec<EdgeRef>,
}

/// A node whose manifest entry changed, and which fields did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModifiedNode {
    /// The node.
    pub name: String,
    /// What changed: keys of its functional `config` (`compute`, `inputs`, `outputs`,
    /// `params`, ...) and metadata (`tags`, `description`, `sql formatting` for SQL edits
    /// that normalise to the same text). Only `config` keys change the fingerprint.
    pub changed: Vec<String>,
}

/// An edge, for diffs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EdgeRef {
    /// Upstream node.
    pub from: String,
    /// Downstream node.
    pub to: String,
}

impl ManifestDiff {
    /// The diff from `old` (none: first run) to `new`.
    pub fn between(old: Option<&PipelineManifest>, new: &PipelineManifest) -> Self {
        let Some(old) = old else {
            return Self::default();
        };
        let mut diff = Self {
            has_previous: true,
            ..Self::default()
        };
        for (name, node) in &new.nodes {
            match old.nodes.get(name) {
                None => diff.added_nodes.push(name.clone()),
                Some(before) => {
                    let changed = changed_fields(before, node);
                    if !changed.is_empty() {
                        diff.modified_nodes.push(ModifiedNode {
                            name: name.clone(),
                            changed,
                        });
                    }
                }
            }
        }
        diff.removed_nodes = old
            .nodes
            .keys()
            .filter(|n| !new.nodes.contains_key(*n))
            .cloned()
            .collect();
        let pairs = |m: &PipelineManifest| -> std::collections::BTreeSet<EdgeRef> {
            m.edges
                .iter()
                .map(|e| EdgeRef {
                    from: e.from.clone(),
                    to: e.to.clone(),
                })
                .collect()
        };
        let (before, after) = (pairs(old), pairs(new));
        diff.added_edges = after.difference(&before).cloned().collect();
        diff.removed_edges = before.difference(&after).cloned().collect();
        diff
    }

    /// True when anything was added, removed or modified.
    pub fn has_changes(&self) -> bool {
        !(self.added_nodes.is_empty()
            && self.removed_nodes.is_empty()
            && self.modified_nodes.is_empty()
            && self.added_edges.is_empty()
            && self.removed_edges.is_empty())
    }

    /// `2 node(s) added, 1 node(s) modified`, `no changes`, or `no previous manifest`.
    pub fn summary(&self) -> String {
        if !self.has_previous {
            return "no previous manifest".to_string();
        }
        let parts: Vec<String> = [
            (self.added_nodes.len(), "node(s) added"),
            (self.removed_nodes.len(), "node(s) removed"),
            (self.modified_nodes.len(), "node(s) modified"),
            (self.added_edges.len(), "edge(s) added"),
            (self.removed_edges.len(), "edge(s) removed"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            "no changes".to_string()
        } else {
            parts.join(", ")
        }
    }
}

fn changed_fields(before: &ManifestNode, after: &ManifestNode) -> Vec<String> {
    let mut changed = Vec::new();
    match (&before.config, &after.config) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            changed.extend(keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned());
        }
        (a, b) if a != b => changed.push("config".to_string()),
        _ => {}
    }
    if changed.is_empty() && before.sql != after.sql {
        changed.push("sql formatting".to_string());
    }
    if before.tags != after.tags {
        changed.push("tags".to_string());
    }
    if before.description != after.description {
        changed.push("description".to_string());
    }
    changed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::incremental::fingerprint::fingerprints;
    use crate::resolver::DependencyResolver;
    use crate::testutil::{context, deps, io};

    fn compile(ctx: &Context) -> PipelineManifest {
        let graph = DependencyResolver::new(ctx).resolve("p").unwrap();
        let prints = fingerprints(ctx, &graph, None, None);
        PipelineManifest::compile(ctx, &graph, &prints, None)
    }

    fn project() -> Context {
        context(vec![
            io("a", &["raw"], &["a_out"]),
            io("b", &["a_out"], &["b_out"]),
            deps("c", &["a"]),
        ])
    }

    #[test]
    fn compiles_nodes_and_sorted_edges() {
        let m = compile(&project());
        assert_eq!(m.nodes.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        let a = &m.nodes["a"];
        assert_eq!(a.kind, NodeKind::Sql);
        assert_eq!(a.sql.as_deref(), Some("SELECT 1"));
        assert_eq!(a.inputs, ["raw"]);
        assert_eq!(a.fingerprint.len(), 64);
        assert_eq!(
            m.edges,
            [
                ManifestEdge {
                    from: "a".into(),
                    to: "b".into(),
                    kind: ManifestEdgeKind::Data,
                    dataset: Some("a_out".into())
                },
                ManifestEdge {
                    from: "a".into(),
                    to: "c".into(),
                    kind: ManifestEdgeKind::Dependency,
                    dataset: None
                },
            ]
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["nodes"]["a"]["type"], serde_json::Value::Null);
        assert_eq!(json["edges"][1]["kind"], "dependency");
        let back: PipelineManifest = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn diff_lists_added_removed_modified_nodes_and_edges() {
        let old = compile(&project());
        let mut ctx = project();
        ctx.nodes["b"].description = Some("docs".into());
        ctx.nodes["b"].compute = tauro_config::NodeCompute::Sql {
            text: "select   1".into(),
            file: None,
        };
        ctx.nodes["c"].params.insert("k".into(), 1.into());
        ctx.nodes["c"].dependencies.clear();
        let mut d = deps("d", &["b"]);
        d.tags = vec!["new".into()];
        ctx.nodes.insert("d".into(), d);
        ctx.pipelines["p"].nodes = vec!["b".into(), "c".into(), "d".into(), "a".into()];
        let new = compile(&ctx);
        let diff = ManifestDiff::between(Some(&old), &new);
        assert_eq!(diff.added_nodes, ["d"]);
        assert!(diff.removed_nodes.is_empty());
        assert_eq!(
            diff.modified_nodes,
            // In the new execution order: c no longer waits for a.
            [
                ModifiedNode {
                    name: "c".into(),
                    changed: vec!["params".into()]
                },
                ModifiedNode {
                    name: "b".into(),
                    changed: vec!["sql formatting".into(), "description".into()]
                },
            ]
        );
        assert_eq!(
            diff.added_edges,
            [EdgeRef {
                from: "b".into(),
                to: "d".into()
            }]
        );
        assert_eq!(
            diff.removed_edges,
            [EdgeRef {
                from: "a".into(),
                to: "c".into()
            }]
        );
        assert_eq!(
            diff.summary(),
            "1 node(s) added, 2 node(s) modified, 1 edge(s) added, 1 edge(s) removed"
        );
        let back = ManifestDiff::between(Some(&new), &old);
        assert_eq!(back.removed_nodes, ["d"]);
        assert_eq!(
            ManifestDiff::between(None, &new).summary(),
            "no previous manifest"
        );
        assert_eq!(
            ManifestDiff::between(Some(&new), &new).summary(),
            "no changes"
        );
    }

    #[test]
    fn store_keeps_other_pipelines_and_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        let mut m = compile(&project());
        ProjectManifest::store(&sd, &m).unwrap();
        let mut other = m.clone();
        other.pipeline = "q".into();
        ProjectManifest::store(&sd, &other).unwrap();
        m.env = "dev".into();
        ProjectManifest::store(&sd, &m).unwrap();
        let loaded = ProjectManifest::load(&sd).manifest.unwrap();
        assert_eq!(loaded.manifest_version, 1);
        assert_eq!(loaded.pipelines.len(), 2);
        assert_eq!(loaded.pipeline("p").unwrap().env, "dev");
        let prev: ProjectManifest =
            serde_json::from_slice(&std::fs::read(sd.previous_manifest()).unwrap()).unwrap();
        assert_eq!(prev.pipeline("p").unwrap().env, "base");
        // A corrupt file is a warning and no manifest.
        std::fs::write(sd.manifest(), b"{ nope").unwrap();
        let loaded = ProjectManifest::load(&sd);
        assert!(loaded.manifest.is_none());
        assert!(loaded.warning.unwrap().contains("ignoring the manifest"));
    }
}
