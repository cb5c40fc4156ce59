//! OpenLineage run events (spec 2-0-2) for each node run and for the pipeline run.
//!
//! - Jobs: `<pipeline>` (the run) and `<pipeline>.<node>` (each node), in the namespace of
//!   the settings (default: the project name).
//! - Runs: `runId` is a UUID derived from the Tauro run id (and the node), so START and
//!   COMPLETE of a node share it and a re-delivery is idempotent; node runs carry a
//!   `parent` facet naming the pipeline run.
//! - Events: START when a node starts, COMPLETE / FAIL / ABORT when it completes, fails or
//!   is cancelled (skipped and cached nodes did not run: no events); the same for the
//!   pipeline.
//! - Datasets: files are namespace `file` (local paths) or `<scheme>://<authority>` with the
//!   path as name; tables are namespace `spark_catalog` with the table name. COMPLETE events
//!   have a `schema` facet per dataset with a known schema and an `outputStatistics` facet
//!   with the rows written.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::SecondsFormat;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tauro_config::{Context, OpenLineageSettings, OpenLineageTargetConfig};
use tokio::io::AsyncWriteExt;

use super::{DatasetKind, DatasetLineage};
use crate::error::BoxError;
use crate::hooks::{EventHook, EventKind, LifecycleEvent};
use crate::registry::BoxFuture;
use crate::report::{NodeResult, RunStatus};

/// The spec of the run events.
const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const SCHEMA_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";
const PARENT_FACET: &str =
    "https://openlineage.io/spec/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet";
const ERROR_FACET: &str = "https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const STATS_FACET: &str = "https://openlineage.io/spec/1-0-1/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";
const JOB_TYPE_FACET: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
/// `producer` of every event and facet.
const PRODUCER: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/tree/v",
    env!("CARGO_PKG_VERSION")
);

/// Where OpenLineage events go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenLineageTarget {
    /// Append one JSON event per line.
    File(PathBuf),
    /// POST each event (e.g. Marquez's `http://host:5000/api/v1/lineage`).
    Http {
        /// The endpoint.
        url: String,
        /// Extra headers (e.g. `Authorization`).
        headers: Vec<(String, String)>,
    },
}

/// An [`EventHook`] that turns lifecycle events into OpenLineage run events.
#[derive(Debug, Clone)]
pub struct OpenLineageHook {
    ctx: Arc<Context>,
    target: OpenLineageTarget,
    namespace: String,
    timeout: std::time::Duration,
}

impl OpenLineageHook {
    /// A hook sending the events of runs of `ctx` to `target`, jobs in the namespace of
    /// the project's name.
    pub fn new(ctx: Arc<Context>, target: OpenLineageTarget) -> Self {
        let namespace = ctx.global.project_name.clone();
        Self {
            ctx,
            target,
            namespace: if namespace.is_empty() {
                "tauro".into()
            } else {
                namespace
            },
            timeout: tauro_config::DEFAULT_HOOK_TIMEOUT,
        }
    }

    /// The hook of the `lineage.openlineage` settings.
    pub fn from_settings(ctx: Arc<Context>, settings: &OpenLineageSettings) -> Self {
        let target = match &settings.target {
            OpenLineageTargetConfig::Url { url, headers } => OpenLineageTarget::Http {
                url: url.clone(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            },
            OpenLineageTargetConfig::Path { path } => OpenLineageTarget::File(path.into()),
            _ => OpenLineageTarget::File(ctx.project_dir.join(".tauro").join("openlineage.jsonl")),
        };
        let mut hook = Self::new(ctx, target);
        if let Some(ns) = &settings.namespace {
            hook.namespace.clone_from(ns);
        }
        hook.timeout = settings.timeout;
        hook
    }

    /// Jobs in `namespace` instead of the project's name.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The OpenLineage event of a lifecycle event, if it maps to one.
    pub fn run_event(&self, event: &LifecycleEvent) -> Option<Value> {
        let time = event.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true);
        let pipeline_run = openlineage_run_id(&event.run_id, None);
        let (event_type, node, result) = match &event.kind {
            EventKind::PipelineStart { .. } => ("START", None, None),
            EventKind::PipelineComplete { .. } => ("COMPLETE", None, None),
            EventKind::PipelineError { status, .. } => (
                if *status == RunStatus::Cancelled {
                    "ABORT"
                } else {
                    "FAIL"
                },
                None,
                None,
            ),
            EventKind::NodeStart { node, .. } => ("START", Some(node.as_str()), None),
            EventKind::NodeComplete(r) => ("COMPLETE", Some(r.name.as_str()), Some(r)),
            EventKind::NodeError(r) => ("FAIL", Some(r.name.as_str()), Some(r)),
            EventKind::NodeCancelled(r) if r.started_at.is_some() => {
                ("ABORT", Some(r.name.as_str()), Some(r))
            }
            _ => return None,
        };
        let mut run_facets = serde_json::Map::new();
        let (job_name, run_id, job_type) = match node {
            Some(node) => {
                run_facets.insert(
                    "parent".into(),
                    json!({
                        "_producer": PRODUCER,
                        "_schemaURL": PARENT_FACET,
                        "run": {"runId": pipeline_run},
                        "job": {"namespace": self.namespace, "name": event.pipeline},
                    }),
                );
                (
                    format!("{}.{node}", event.pipeline),
                    openlineage_run_id(&event.run_id, Some(node)),
                    "TASK",
                )
            }
            None => (event.pipeline.clone(), pipeline_run, "DAG"),
        };
        if let Some(e) = result.and_then(|r| r.error.as_ref()) {
            run_facets.insert(
                "errorMessage".into(),
                json!({
                    "_producer": PRODUCER,
                    "_schemaURL": ERROR_FACET,
                    "message": e.message,
                    "programmingLanguage": "RUST",
                }),
            );
        }
        let (inputs, outputs) = match node {
            Some(node) => self.datasets(node, result),
            None => (Vec::new(), Vec::new()),
        };
        Some(json!({
            "eventType": event_type,
            "eventTime": time,
            "run": {"runId": run_id, "facets": run_facets},
            "job": {
                "namespace": self.namespace,
                "name": job_name,
                "facets": {
                    "jobType": {
                        "_producer": PRODUCER,
                        "_schemaURL": JOB_TYPE_FACET,
                        "processingType": "BATCH",
                        "integration": "TAURO",
                        "jobType": job_type,
                    }
                },
            },
            "inputs": inputs,
            "outputs": outputs,
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
        }))
    }

    /// Input and output datasets of `node`: the recorded lineage when the node completed,
    /// else its configuration.
    fn datasets(&self, node: &str, result: Option<&NodeResult>) -> (Vec<Value>, Vec<Value>) {
        let (inputs, outputs): (Vec<DatasetLineage>, Vec<DatasetLineage>) =
            match result.and_then(|r| r.lineage.as_ref()) {
                Some(l) => (l.inputs.clone(), l.outputs.clone()),
                None => match self.ctx.nodes.get(node) {
                    Some(config) => (
                        config
                            .input
                            .iter()
                            .map(|d| DatasetLineage::configured(&self.ctx, d, true))
                            .collect(),
                        config
                            .output
                            .iter()
                            .map(|d| DatasetLineage::configured(&self.ctx, d, false))
                            .collect(),
                    ),
                    None => (Vec::new(), Vec::new()),
                },
            };
        let with_stats = result.is_some_and(|r| r.lineage.is_some());
        (
            inputs.iter().filter_map(|d| dataset(d, false)).collect(),
            outputs
                .iter()
                .filter_map(|d| dataset(d, with_stats))
                .collect(),
        )
    }

    async fn deliver(&self, event: &Value) -> Result<(), BoxError> {
        match &self.target {
            OpenLineageTarget::File(path) => {
                let mut line = serde_json::to_vec(event)?;
                line.push(b'\n');
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    tokio::fs::create_dir_all(dir).await?;
                }
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| format!("open {}: {e}", path.display()))?;
                file.write_all(&line).await?;
                Ok(())
            }
            OpenLineageTarget::Http { url, headers } => {
                let body = serde_json::to_vec(event)?;
                crate::hooks::post_json(url, headers, body, self.timeout).await?;
                Ok(())
            }
        }
    }
}

/// An OpenLineage dataset (with a schema facet, and output statistics for written
/// outputs); `None` for query inputs, which have no physical name.
fn dataset(d: &DatasetLineage, output_stats: bool) -> Option<Value> {
    let location = d.location.as_deref()?;
    let (namespace, name) = match d.kind {
        Some(DatasetKind::Table) => ("spark_catalog".to_string(), location.to_string()),
        Some(DatasetKind::File) | None => file_name(location),
        Some(DatasetKind::Query) => return None,
    };
    let mut facets = serde_json::Map::new();
    if let Some(schema) = &d.schema {
        let fields: Vec<Value> = schema
            .iter()
            .map(|f| json!({"name": f.name, "type": f.data_type}))
            .collect();
        facets.insert(
            "schema".into(),
            json!({"_producer": PRODUCER, "_schemaURL": SCHEMA_FACET, "fields": fields}),
        );
    }
    let mut out = json!({"namespace": namespace, "name": name, "facets": facets});
    if output_stats && let Some(rows) = d.rows {
        out["outputFacets"] = json!({
            "outputStatistics": {
                "_producer": PRODUCER,
                "_schemaURL": STATS_FACET,
                "rowCount": rows,
            }
        });
    }
    Some(out)
}

/// OpenLineage naming of a path: `file` + the absolute path, or `scheme://authority` + the
/// path for URIs (`s3a://bucket/key` → `s3a://bucket`, `/key`).
fn file_name(location: &str) -> (String, String) {
    if let Some(rest) = location.strip_prefix("file://") {
        return ("file".into(), rest.to_string());
    }
    if let Some((scheme, rest)) = location.split_once("://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        return (format!("{scheme}://{authority}"), path.to_string());
    }
    ("file".into(), location.to_string())
}

/// The OpenLineage `runId` (a UUID) of the Tauro run `run_id`, or of one of its nodes:
/// the first 128 bits of SHA-256(`tauro:<run_id>[:<node>]`) with the version set to 8
/// (custom, RFC 9562) and the RFC variant. Deterministic: the same run and node always
/// give the same id.
pub fn openlineage_run_id(run_id: &str, node: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"tauro:");
    hasher.update(run_id.as_bytes());
    if let Some(node) = node {
        hasher.update(b":");
        hasher.update(node.as_bytes());
    }
    let digest = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl EventHook for OpenLineageHook {
    fn name(&self) -> &str {
        "openlineage"
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            match self.run_event(event) {
                Some(ol) => self.deliver(&ol).await,
                None => Ok(()),
            }
        })
    }
}
