//! Lineage: what each node read and wrote in a run.
//!
//! - [`NodeLineage`]: recorded by [`crate::SparkNodeRunner`] per successful attempt (schemas
//!   from plan analysis, rows written from the write job's observation, optional samples)
//!   and carried on [`crate::NodeResult::lineage`]. Every record belongs to its own node
//!   result: nothing is shared between nodes, so parallel runs cannot mix them up.
//! - [`RunLineage`]: the whole run, built from a [`RunReport`] and its [`Context`], stored as
//!   `<project_dir>/.tauro/lineage/<run_id>.json` (versioned schema, `docs/lineage.md`) by
//!   [`LineageWriter`] / [`write_lineage`], read back with [`read_lineage`] /
//!   [`list_lineage`].
//! - OpenLineage run events: [`OpenLineageHook`] (an [`crate::EventHook`]).
//!
//! Rows read: Spark Connect reports no metrics for write commands, and an observation on
//! an input is only reported when the input's plan is part of the write's request, which is
//! not the case for the temp views SQL nodes read (and an observed frame used twice by a
//! function fails analysis with `DUPLICATED_METRICS_NAME`). So rows read are never measured
//! by an extra job: an input gets `rows` only when this run's upstream node replaced the
//! whole dataset (`rows_source: upstream_write`); otherwise they are `null`.

mod capture;
mod openlineage;
mod store;
mod table;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tauro_config::{Context, NodeConfig, WriteMode};
pub use tauro_io::SchemaField;

use crate::report::{NodeResult, RunReport};
use crate::state::NodeStatus;

pub(crate) use capture::LineageCapture;
pub use capture::LineageOptions;
pub use openlineage::{OpenLineageHook, OpenLineageTarget, openlineage_run_id};
pub(crate) use store::write_atomic as write_atomic_file;
pub use store::{
    LineageEntry, LineageStoreError, LineageWriter, list_lineage, read_lineage, write_lineage,
};

/// The version of the lineage file format ([`RunLineage::schema_version`]).
pub const LINEAGE_SCHEMA_VERSION: u32 = 1;

/// What kind of dataset a [`DatasetLineage`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// Files at a path (local or `scheme://...`).
    File,
    /// A catalog table.
    Table,
    /// A SQL query (`format: query` inputs).
    Query,
}

/// Where the rows of a [`DatasetLineage`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowsSource {
    /// Counted by the write job itself (an observation on the written frame).
    Write,
    /// Rows the upstream node of this run wrote when it replaced the whole dataset
    /// (overwrite without `partition_by`), which is what a node reading it back sees.
    UpstreamWrite,
}

/// One dataset a node read or wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetLineage {
    /// The dataset's name in the configuration.
    pub dataset: String,
    /// File, table or query.
    pub kind: Option<DatasetKind>,
    /// The path, the table name, or `query`.
    pub location: Option<String>,
    /// Its schema (plan analysis; no job), when known.
    pub schema: Option<Vec<SchemaField>>,
    /// Rows, when known (see [`RowsSource`]).
    pub rows: Option<u64>,
    /// Where `rows` comes from.
    pub rows_source: Option<RowsSource>,
    /// Up to N rows as JSON objects, when sampling is on (`--track sample`).
    pub sample: Option<Vec<serde_json::Value>>,
}

impl DatasetLineage {
    /// A dataset known only by its configuration.
    pub fn configured(ctx: &Context, dataset: &str, as_input: bool) -> Self {
        let (kind, location) = locate(ctx, dataset, as_input).unzip();
        Self {
            dataset: dataset.to_string(),
            kind,
            location,
            schema: None,
            rows: None,
            rows_source: None,
            sample: None,
        }
    }
}

/// Where the phases of an attempt went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptTimings {
    /// Loading the inputs (and registering their views).
    #[serde(rename = "load_secs", with = "secs")]
    pub load: Duration,
    /// Computing and writing the outputs (lazy plans run in the writes).
    #[serde(rename = "write_secs", with = "secs")]
    pub write: Duration,
    /// Recording lineage after the writes (schema analysis, samples).
    #[serde(rename = "lineage_secs", with = "secs")]
    pub lineage: Duration,
}

/// What one successful node attempt read and wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLineage {
    /// The attempt (1 for the first) that produced this record.
    pub attempt: u32,
    /// The inputs, in the node's `input` order.
    pub inputs: Vec<DatasetLineage>,
    /// The outputs, in the node's `output` order.
    pub outputs: Vec<DatasetLineage>,
    /// Phase timings of the attempt.
    pub timings: AttemptTimings,
    /// Results of the node's data quality expectations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<crate::expect::ExpectationResult>,
}

/// A column whose type changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeChange {
    /// The column (as named in the output).
    pub column: String,
    /// Its type in the input.
    pub before: String,
    /// Its type in the output.
    pub after: String,
}

/// How an output's schema differs from an input's. Columns are matched by name, ignoring
/// case (as Spark does by default); nullability is not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDiff {
    /// The input compared (the node's first input with a known schema).
    pub input: String,
    /// The output compared (the node's first output with a known schema).
    pub output: String,
    /// Columns of the output that are not in the input, in output order.
    pub added: Vec<SchemaField>,
    /// Columns of the input that are not in the output, in input order.
    pub removed: Vec<SchemaField>,
    /// Columns in both whose type differs, in output order.
    pub type_changed: Vec<TypeChange>,
}

impl SchemaDiff {
    /// The difference from `before` (an input) to `after` (an output).
    pub fn between(
        input: &str,
        before: &[SchemaField],
        output: &str,
        after: &[SchemaField],
    ) -> Self {
        let key = |f: &SchemaField| f.name.to_lowercase();
        let old: HashMap<String, &SchemaField> = before.iter().map(|f| (key(f), f)).collect();
        let new: HashMap<String, &SchemaField> = after.iter().map(|f| (key(f), f)).collect();
        let mut added = Vec::new();
        let mut type_changed = Vec::new();
        for f in after {
            match old.get(&key(f)) {
                None => added.push(f.clone()),
                Some(o) if !o.data_type.eq_ignore_ascii_case(&f.data_type) => {
                    type_changed.push(TypeChange {
                        column: f.name.clone(),
                        before: o.data_type.clone(),
                        after: f.data_type.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        let removed = before
            .iter()
            .filter(|f| !new.contains_key(&key(f)))
            .cloned()
            .collect();
        Self {
            input: input.to_string(),
            output: output.to_string(),
            added,
            removed,
            type_changed,
        }
    }

    /// True when the schemas have the same columns with the same types.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.type_changed.is_empty()
    }
}

/// A node's failure as recorded in the lineage file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedError {
    /// The error and its causes.
    pub message: String,
    /// Spark's or Tauro's error class.
    pub class: String,
    /// How to fix it, where known.
    pub hint: Option<String>,
}

/// One node of a [`RunLineage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node.
    pub node: String,
    /// Its final status (`completed`, `failed`, `skipped`, `cancelled`, `cached`, ...).
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// The attempt the datasets below were recorded by (the successful one), if any.
    pub lineage_attempt: Option<u32>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When its last attempt ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// From the start of its first attempt to the end of its last.
    pub duration_secs: Option<f64>,
    /// The last error, for failed (timed-out, cancelled) nodes.
    pub error: Option<RecordedError>,
    /// The inputs (from the configuration when the node did not complete).
    pub inputs: Vec<DatasetLineage>,
    /// The outputs (from the configuration when the node did not complete).
    pub outputs: Vec<DatasetLineage>,
    /// Rows read: the sum over inputs, when every input's rows are known.
    pub rows_read: Option<u64>,
    /// Rows written: the sum over outputs, when every output reported it.
    pub rows_written: Option<u64>,
    /// `rows_written - rows_read`, when both are known.
    pub row_delta: Option<i64>,
    /// First input → first output, when both schemas are known.
    pub schema_diff: Option<SchemaDiff>,
    /// Phase timings of the recorded attempt.
    pub timings: Option<AttemptTimings>,
}

/// Counts of a [`RunLineage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageSummary {
    /// Nodes in the run.
    pub nodes: usize,
    /// Nodes per final status.
    pub by_status: std::collections::BTreeMap<String, usize>,
    /// Rows written, over nodes that reported it.
    pub rows_written: u64,
}

/// The lineage of one run: the content of `.tauro/lineage/<run_id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLineage {
    /// [`LINEAGE_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The run.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// `project_name` of the global settings.
    pub project: String,
    /// The environment the project was loaded for.
    pub env: String,
    /// How the run ended (`succeeded`, `failed`, `cancelled`).
    pub status: String,
    /// Why it stopped early, if it did.
    pub stop_reason: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How long it took.
    pub duration_secs: f64,
    /// Counts.
    pub summary: LineageSummary,
    /// Every node of the run, in execution (topological) order.
    pub nodes: Vec<NodeRecord>,
}

impl RunLineage {
    /// The lineage of the run `report` of the project `ctx`.
    pub fn from_report(ctx: &Context, report: &RunReport) -> Self {
        let mut nodes: Vec<NodeRecord> = report
            .nodes
            .iter()
            .map(|r| node_record(ctx, ctx.nodes.get(&r.name), r))
            .collect();
        fill_rows_read(ctx, report, &mut nodes);
        for record in &mut nodes {
            finish_record(record);
        }
        let mut summary = LineageSummary {
            nodes: nodes.len(),
            rows_written: report.rows_written(),
            ..LineageSummary::default()
        };
        for n in &nodes {
            *summary.by_status.entry(n.status.clone()).or_default() += 1;
        }
        let finished_at = report.started_at
            + chrono::Duration::from_std(report.duration)
                .unwrap_or_else(|_| chrono::Duration::zero());
        Self {
            schema_version: LINEAGE_SCHEMA_VERSION,
            run_id: report.run_id.clone(),
            pipeline: report.pipeline.clone(),
            project: ctx.global.project_name.clone(),
            env: ctx.env.clone(),
            status: report.status.to_string(),
            stop_reason: report.stop_reason.as_ref().map(ToString::to_string),
            started_at: report.started_at,
            finished_at,
            duration_secs: report.duration.as_secs_f64(),
            summary,
            nodes,
        }
    }

    /// The record of one node.
    pub fn node(&self, name: &str) -> Option<&NodeRecord> {
        self.nodes.iter().find(|n| n.node == name)
    }
}

fn node_record(ctx: &Context, config: Option<&NodeConfig>, r: &NodeResult) -> NodeRecord {
    let configured = |names: &[String], as_input: bool| -> Vec<DatasetLineage> {
        names
            .iter()
            .map(|d| DatasetLineage::configured(ctx, d, as_input))
            .collect()
    };
    let (inputs, outputs, lineage_attempt, timings) = match &r.lineage {
        Some(l) => (
            l.inputs.clone(),
            l.outputs.clone(),
            Some(l.attempt),
            Some(l.timings),
        ),
        None => (
            config.map_or_else(Vec::new, |c| configured(&c.input, true)),
            config.map_or_else(Vec::new, |c| configured(&c.output, false)),
            None,
            None,
        ),
    };
    let finished_at = match (r.started_at, r.duration) {
        (Some(s), Some(d)) => chrono::Duration::from_std(d).ok().map(|d| s + d),
        _ => None,
    };
    NodeRecord {
        node: r.name.clone(),
        status: r.status.as_str().to_string(),
        attempts: r.attempts,
        lineage_attempt,
        started_at: r.started_at,
        finished_at,
        duration_secs: r.duration.map(|d| d.as_secs_f64()),
        error: r.error.as_ref().map(|e| RecordedError {
            message: e.message.clone(),
            class: e.class.clone(),
            hint: e.hint.clone(),
        }),
        inputs,
        outputs,
        rows_read: None,
        rows_written: r.rows_written,
        row_delta: None,
        schema_diff: None,
        timings,
    }
}

/// Inputs that this run's upstream nodes replaced entirely get the rows those wrote.
fn fill_rows_read(ctx: &Context, report: &RunReport, nodes: &mut [NodeRecord]) {
    let mut written: HashMap<&str, u64> = HashMap::new();
    for r in report
        .nodes
        .iter()
        .filter(|r| r.status == NodeStatus::Completed)
    {
        for o in &r.outputs {
            let whole = ctx.outputs.get(&o.output).is_some_and(|c| {
                matches!(c.write_mode, WriteMode::Overwrite | WriteMode::Error)
                    && c.partition_by.is_empty()
            });
            if let (true, Some(rows)) = (whole, o.rows) {
                written.insert(o.output.as_str(), rows);
            }
        }
    }
    for record in nodes.iter_mut() {
        for input in &mut record.inputs {
            // An input dataset of the same name shadows the output when reading.
            if input.rows.is_some() || ctx.inputs.contains_key(&input.dataset) {
                continue;
            }
            if let Some(rows) = written.get(input.dataset.as_str()) {
                input.rows = Some(*rows);
                input.rows_source = Some(RowsSource::UpstreamWrite);
            }
        }
    }
}

/// Totals, delta and schema diff of a record whose datasets are final.
fn finish_record(record: &mut NodeRecord) {
    if !record.inputs.is_empty() {
        record.rows_read = record.inputs.iter().map(|i| i.rows).sum();
    }
    record.row_delta = match (record.rows_written, record.rows_read) {
        (Some(w), Some(r)) => i64::try_from(w)
            .ok()
            .zip(i64::try_from(r).ok())
            .map(|(w, r)| w - r),
        _ => None,
    };
    let first_input = record.inputs.iter().find(|d| d.schema.is_some());
    let first_output = record.outputs.iter().find(|d| d.schema.is_some());
    record.schema_diff = match (first_input, first_output) {
        (Some(i), Some(o)) => match (&i.schema, &o.schema) {
            (Some(before), Some(after)) => {
                Some(SchemaDiff::between(&i.dataset, before, &o.dataset, after))
            }
            _ => None,
        },
        _ => None,
    };
}

/// The kind and location of a dataset as the configuration describes it. Reading, an input
/// dataset of the name wins over an output (as `InputLoader` does).
pub(crate) fn locate(ctx: &Context, name: &str, as_input: bool) -> Option<(DatasetKind, String)> {
    if as_input && let Some(i) = ctx.inputs.get(name) {
        if let Some(path) = &i.filepath {
            return Some((DatasetKind::File, path.clone()));
        }
        if let Some(table) = &i.table {
            return Some((DatasetKind::Table, table.clone()));
        }
        return Some((DatasetKind::Query, "query".to_string()));
    }
    let o = ctx.outputs.get(name)?;
    match (&o.filepath, &o.table) {
        (Some(path), _) => Some((DatasetKind::File, path.clone())),
        (None, Some(table)) => Some((DatasetKind::Table, table.clone())),
        (None, None) => None,
    }
}

/// Serde of a `Duration` as fractional seconds.
mod secs {
    use super::{Deserialize, Deserializer, Duration, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
