//! [`MlContext`]: what an ML node's Rust function gets besides its inputs.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use super::MlNodeSettings;
use crate::error::{Error, Result};

/// Metrics recorded by a function while it runs (shared with the runner).
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricSink(Arc<Mutex<IndexMap<String, f64>>>);

impl MetricSink {
    pub(crate) fn record(&self, name: &str, value: f64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.to_string(), value);
        }
    }

    pub(crate) fn take(&self) -> IndexMap<String, f64> {
        self.0
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

/// The ML side of a node attempt: merged hyperparameters, model, metrics to compute and
/// execution metadata. Read it with [`crate::NodeContext::ml`].
#[derive(Debug, Clone)]
pub struct MlContext {
    settings: Arc<MlNodeSettings>,
    run_id: Option<String>,
    started_at: DateTime<Utc>,
    sink: MetricSink,
}

impl MlContext {
    pub(crate) fn new(
        settings: Arc<MlNodeSettings>,
        run_id: Option<String>,
        sink: MetricSink,
    ) -> Self {
        Self {
            settings,
            run_id,
            started_at: Utc::now(),
            sink,
        }
    }

    /// The merged hyperparameters (defaults < node < pipeline < run overrides).
    pub fn hyperparams(&self) -> &IndexMap<String, serde_json::Value> {
        &self.settings.hyperparams
    }

    /// Hyperparameter `name` converted to `T`; `Ok(None)` when absent or null.
    pub fn hyperparam<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        match self.settings.hyperparams.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => {
                serde_json::from_value(v.clone())
                    .map(Some)
                    .map_err(|e| Error::InvalidParam {
                        function: self.settings.node.clone(),
                        param: format!("hyperparams.{name}"),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// The model version of the run (`None` when nothing names one).
    pub fn model_version(&self) -> Option<&str> {
        self.settings.model_version.as_deref()
    }

    /// The model the node trains or uses.
    pub fn model_name(&self) -> &str {
        &self.settings.model_name
    }

    /// The metrics the node declares (`metrics:`), which it must produce.
    pub fn metrics(&self) -> &[String] {
        &self.settings.metrics
    }

    /// The run's id, when the executor gave one.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// When this attempt started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Records a metric of this node (any name; declared ones are checked after the
    /// function returns).
    pub fn record_metric(&self, name: &str, value: f64) {
        self.sink.record(name, value);
    }
}
