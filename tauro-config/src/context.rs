//! Accessors of a loaded [`Context`] used by the executor and the CLI.

use chrono::NaiveDate;

use crate::dates;
use crate::error::{Error, Result};
use crate::model::{Context, DateWindow, NodeConfig, PipelineConfig};
use crate::redact;
use crate::suggest;

impl Context {
    /// The pipeline `name`, or an error listing the pipelines (with "did you mean").
    pub fn pipeline(&self, name: &str) -> Result<&PipelineConfig> {
        self.pipelines
            .get(name)
            .ok_or_else(|| Error::UnknownPipeline {
                name: name.to_owned(),
                available: self.pipelines.keys().cloned().collect(),
                suggestion: suggest::closest(name, self.pipelines.keys().map(String::as_str)),
            })
    }

    /// The node `name`, if defined.
    pub fn node(&self, name: &str) -> Option<&NodeConfig> {
        self.nodes.get(name)
    }

    /// The nodes of pipeline `name`, in the pipeline's order.
    pub fn pipeline_nodes(&self, name: &str) -> Result<Vec<&NodeConfig>> {
        let pipeline = self.pipeline(name)?;
        // Validation guarantees every listed node exists.
        Ok(pipeline
            .nodes
            .iter()
            .filter_map(|n| self.nodes.get(n))
            .collect())
    }

    /// The date window of a run: `start`/`end` when given, else the global `start_date` /
    /// `end_date`; a missing end is the start. `None` when no start date is known.
    pub fn window_for(
        &self,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Result<Option<DateWindow>> {
        dates::window_for(start, end, self.global.start_date, self.global.end_date)
    }

    /// The whole context as JSON with secrets masked: values of secret-looking keys
    /// (`password`, `token`, `secret`, `api_key`, `access_key`, …) and `token=` /
    /// `user:password@` parts of URLs such as `sc://host:15002/;token=…`.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        redact::redact_json(&mut value);
        value
    }
}
