//! Recording a node attempt's lineage inside [`crate::SparkNodeRunner`].
//!
//! Nothing here runs a Spark job unless sampling is on:
//! - schemas come from one `AnalyzePlan` per input (cheap: on the input's temp view; none
//!   when the load already knows the schema) and per distinct output frame. They are asked
//!   for as soon as the frame exists, concurrently with the node's command and writes, so
//!   they add no round trip to the attempt's path;
//! - rows written come from the write job's observation ([`tauro_io::WriteReport::rows`]);
//! - samples (off by default) are `LIMIT n` queries.
//!
//! Lineage is best effort: a failed or slow analysis is logged and leaves the field empty;
//! it never fails the node.

use std::future::Future;
use std::time::Duration;

use tauro_config::{Context, LineageSettings};
use tauro_io::{Frame, SchemaField};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{AttemptTimings, DatasetLineage, NodeLineage, RowsSource};
use crate::runner::WrittenOutput;

/// Longest wait for one lineage request (schema analysis, sample) before it is skipped.
const REQUEST_BUDGET: Duration = Duration::from_secs(30);

/// What [`crate::SparkNodeRunner`] records per node attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineageOptions {
    /// Record lineage at all (default true). Off, [`crate::NodeResult::lineage`] is `None`.
    pub enabled: bool,
    /// Sample this many rows of every input and output (default 0: no sampling, no job).
    /// Each sample is a `LIMIT n` query, so it costs a (small) job per dataset.
    pub sample_rows: usize,
}

impl Default for LineageOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            sample_rows: 0,
        }
    }
}

impl LineageOptions {
    /// The options of the project's `lineage:` settings.
    pub fn from_settings(settings: &LineageSettings) -> Self {
        Self {
            enabled: settings.enabled,
            sample_rows: settings.sample_rows,
        }
    }
}

/// A schema being asked for in the background.
type PendingSchema = JoinHandle<tauro_io::Result<Vec<SchemaField>>>;

/// One attempt's recording.
pub(crate) struct LineageCapture<'a> {
    options: LineageOptions,
    ctx: &'a Context,
    attempt: u32,
    started: Instant,
    loaded: Option<Instant>,
    inputs: Vec<(String, Frame, PendingSchema)>,
    /// Output name, frame, its schema (`None`: the previous output's frame), what was
    /// written.
    outputs: Vec<(String, Frame, Option<PendingSchema>, WrittenOutput)>,
}

impl Drop for LineageCapture<'_> {
    /// An attempt that fails leaves no schema request behind.
    fn drop(&mut self) {
        let outputs = self.outputs.iter().filter_map(|(_, _, s, _)| s.as_ref());
        for pending in self.inputs.iter().map(|(_, _, s)| s).chain(outputs) {
            pending.abort();
        }
    }
}

/// Starts asking for `frame`'s schema.
fn analyse(frame: &Frame) -> PendingSchema {
    let frame = frame.clone();
    tokio::spawn(async move { frame.schema_fields().await })
}

/// The schema `pending` gives.
async fn schema_of(pending: &mut PendingSchema) -> tauro_io::Result<Vec<SchemaField>> {
    match pending.await {
        Ok(result) => result,
        Err(source) => Err(tauro_io::Error::Internal {
            operation: "read a schema for lineage".into(),
            source,
        }),
    }
}

impl<'a> LineageCapture<'a> {
    pub(crate) fn new(options: LineageOptions, ctx: &'a Context, attempt: u32) -> Self {
        Self {
            options,
            ctx,
            attempt,
            started: Instant::now(),
            loaded: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// An input was loaded as `frame`: its schema is asked for now.
    pub(crate) fn input(&mut self, dataset: &str, frame: &Frame) {
        if self.options.enabled {
            self.inputs
                .push((dataset.to_string(), frame.clone(), analyse(frame)));
        }
    }

    /// `frame` is about to be written: its schema is asked for now, unless `same_frame`
    /// (the previous output's frame, a SQL node's result written to several outputs).
    pub(crate) fn analyse_output(&self, frame: &Frame, same_frame: bool) -> Option<PendingSchema> {
        (self.options.enabled && !same_frame).then(|| analyse(frame))
    }

    /// Every input is loaded.
    pub(crate) fn inputs_loaded(&mut self) {
        self.loaded = Some(Instant::now());
    }

    /// `frame` was written to the output `written.output`; `schema` is what
    /// [`analyse_output`](Self::analyse_output) gave for it.
    pub(crate) fn output(
        &mut self,
        frame: &Frame,
        schema: Option<PendingSchema>,
        written: &WrittenOutput,
    ) {
        if self.options.enabled {
            self.outputs.push((
                written.output.clone(),
                frame.clone(),
                schema,
                written.clone(),
            ));
        }
    }

    /// The record, after the writes: the schemas asked for are awaited (samples are asked
    /// for now).
    pub(crate) async fn finish(mut self) -> Option<NodeLineage> {
        if !self.options.enabled {
            return None;
        }
        let written = Instant::now();
        let loaded = self.loaded.unwrap_or(self.started);
        let n = self.options.sample_rows;
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (dataset, frame, pending) in &mut self.inputs {
            let mut d = DatasetLineage::configured(self.ctx, dataset, true);
            d.schema = best_effort("input schema", dataset, schema_of(pending)).await;
            if n > 0 {
                d.sample = best_effort("input sample", dataset, frame.collect_json(n)).await;
            }
            inputs.push(d);
        }
        let mut outputs = Vec::with_capacity(self.outputs.len());
        let mut previous: Option<Option<Vec<SchemaField>>> = None;
        for (dataset, frame, pending, report) in &mut self.outputs {
            let mut d = DatasetLineage::configured(self.ctx, dataset, false);
            d.location = Some(report.destination.clone());
            if let Some(prefix) = report.destination.strip_prefix("table ") {
                d.location = Some(prefix.to_string());
            }
            d.rows = report.rows;
            d.rows_source = report.rows.map(|_| RowsSource::Write);
            let schema = match (pending, &previous) {
                (Some(pending), _) => {
                    best_effort("output schema", dataset, schema_of(pending)).await
                }
                (None, Some(known)) => known.clone(),
                (None, None) => best_effort("output schema", dataset, frame.schema_fields()).await,
            };
            d.schema = schema.clone();
            previous = Some(schema);
            if n > 0 {
                d.sample = best_effort("output sample", dataset, frame.collect_json(n)).await;
            }
            outputs.push(d);
        }
        Some(NodeLineage {
            attempt: self.attempt,
            inputs,
            outputs,
            timings: AttemptTimings {
                load: loaded.duration_since(self.started),
                write: written.duration_since(loaded),
                lineage: written.elapsed(),
            },
            expectations: Vec::new(),
        })
    }
}

/// The value of `request`, or `None` (logged) when it fails or takes too long.
async fn best_effort<T>(
    what: &str,
    dataset: &str,
    request: impl Future<Output = tauro_io::Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(REQUEST_BUDGET, request).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::warn!(dataset, error = %e, "lineage: could not read the {what}");
            None
        }
        Err(_) => {
            tracing::warn!(dataset, after = ?REQUEST_BUDGET, "lineage: gave up on the {what}");
            None
        }
    }
}
