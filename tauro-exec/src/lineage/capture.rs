//! Recording a node attempt's lineage inside [`crate::SparkNodeRunner`].
//!
//! Nothing here runs a Spark job unless sampling is on:
//! - input schemas come from the analysis the input's load already ran (the frame remembers
//!   it), output schemas from one `AnalyzePlan` per distinct output frame, after the writes;
//! - rows written come from the write job's observation ([`tauro_io::WriteReport::rows`]);
//! - samples (off by default) are `LIMIT n` queries.
//!
//! Lineage is best effort: a failed or slow analysis is logged and leaves the field empty;
//! it never fails the node.

use std::future::Future;
use std::time::Duration;

use tauro_config::{Context, LineageSettings};
use tauro_io::{Frame, SchemaField};
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

/// One attempt's recording.
pub(crate) struct LineageCapture<'a> {
    options: LineageOptions,
    ctx: &'a Context,
    attempt: u32,
    started: Instant,
    loaded: Option<Instant>,
    inputs: Vec<(String, Frame)>,
    /// Output name, frame, whether the frame is the previous output's, what was written.
    outputs: Vec<(String, Frame, bool, WrittenOutput)>,
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

    /// An input was loaded as `frame`.
    pub(crate) fn input(&mut self, dataset: &str, frame: &Frame) {
        if self.options.enabled {
            self.inputs.push((dataset.to_string(), frame.clone()));
        }
    }

    /// Every input is loaded.
    pub(crate) fn inputs_loaded(&mut self) {
        self.loaded = Some(Instant::now());
    }

    /// `frame` was written to the output `written.output`; `same_frame` when it is the
    /// frame of the previous output too (a SQL node's result written to several outputs).
    pub(crate) fn output(&mut self, frame: &Frame, same_frame: bool, written: &WrittenOutput) {
        if self.options.enabled {
            self.outputs.push((
                written.output.clone(),
                frame.clone(),
                same_frame,
                written.clone(),
            ));
        }
    }

    /// The record, after the writes: schemas (and samples) are asked for now.
    pub(crate) async fn finish(self) -> Option<NodeLineage> {
        if !self.options.enabled {
            return None;
        }
        let written = Instant::now();
        let loaded = self.loaded.unwrap_or(self.started);
        let n = self.options.sample_rows;
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (dataset, frame) in &self.inputs {
            let mut d = DatasetLineage::configured(self.ctx, dataset, true);
            d.schema = best_effort("input schema", dataset, frame.schema_fields()).await;
            if n > 0 {
                d.sample = best_effort("input sample", dataset, frame.collect_json(n)).await;
            }
            inputs.push(d);
        }
        let mut outputs = Vec::with_capacity(self.outputs.len());
        let mut previous: Option<Option<Vec<SchemaField>>> = None;
        for (dataset, frame, same_frame, report) in &self.outputs {
            let mut d = DatasetLineage::configured(self.ctx, dataset, false);
            d.location = Some(report.destination.clone());
            if let Some(prefix) = report.destination.strip_prefix("table ") {
                d.location = Some(prefix.to_string());
            }
            d.rows = report.rows;
            d.rows_source = report.rows.map(|_| RowsSource::Write);
            let schema = match (&previous, same_frame) {
                (Some(known), true) => known.clone(),
                _ => best_effort("output schema", dataset, frame.schema_fields()).await,
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
