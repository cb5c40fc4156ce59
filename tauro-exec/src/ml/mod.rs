//! ML runs: hyperparameters, model versions, metrics and the model registry.
//!
//! A node is an **ML node** when its pipeline is `type: ml`, or when it declares
//! `hyperparams`, `metrics` or `model`. For each ML node of a run, [`MlPlan`] resolves:
//! - hyperparameters, later wins: global `default_hyperparams` → the node's `hyperparams`
//!   (its defaults) → the pipeline's `hyperparams` → run overrides ([`MlOverrides`], from
//!   `--hyperparams '{...}'` / `--param k=v`); values keep their YAML/JSON types, and an
//!   override whose type does not fit a declared default is an error before any Spark work;
//! - the model version: the run's, else the node's, else the pipeline's, else global
//!   `default_model_version`; `latest` asks the [`ModelRegistry`].
//!
//! The Spark runner sets them on the node's session as `tauro.ml.<name>` (plus
//! `tauro.ml.model_version`, `tauro.ml.model_name`, `tauro.ml.run_id`) so SQL reads
//! `${tauro.ml.learning_rate}`, and hands Rust functions an [`MlContext`]. Metrics a node
//! declares (`metrics: [auc, f1]`) are read from its result (one row with a column per
//! metric, or rows of `metric`/`value`) or recorded by its function, and land in
//! [`crate::NodeResult::metrics`] and the run's [`MlRunInfo`].

mod context;
mod metrics;
mod registry;
mod resolve;

pub(crate) use context::MetricSink;
pub use context::MlContext;
pub(crate) use metrics::metrics_from_frame;
pub use registry::{FileModelRegistry, ModelRecord, ModelRegistry, ModelVersionRecord};
pub use resolve::{MlNodeSettings, MlPlan, MlRunInfo, MlWarning};

use indexmap::IndexMap;
use serde::Serialize;

use crate::error::{Error, Result};

/// Run-level ML overrides: hyperparameters (highest precedence) and a model version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MlOverrides {
    /// Hyperparameters that win over node and pipeline values.
    #[serde(default)]
    pub hyperparams: IndexMap<String, serde_json::Value>,
    /// The model version of the run.
    pub model_version: Option<String>,
}

impl MlOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.hyperparams.is_empty() && self.model_version.is_none()
    }

    /// Sets one hyperparameter.
    pub fn with_hyperparam(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.hyperparams.insert(name.into(), value);
        self
    }

    /// Sets the model version.
    pub fn with_model_version(mut self, version: impl Into<String>) -> Self {
        self.model_version = Some(version.into());
        self
    }

    /// Merges a JSON object (`--hyperparams '{"lr": 0.1}'`) over the current values.
    pub fn merge_json(&mut self, text: &str) -> Result<()> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::InvalidOverride {
                text: text.to_string(),
                reason: format!("not valid JSON: {e}"),
            })?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::InvalidOverride {
                text: text.to_string(),
                reason: "expected a JSON object of name → value".to_string(),
            });
        };
        self.hyperparams.extend(map);
        Ok(())
    }

    /// Merges one `name=value` (`--param num_buckets=16`); the value is typed as YAML
    /// would type it: `16` an integer, `0.1` a number, `true` a boolean, `null`, `[1, 2]`
    /// a list, `"16"` or anything else text.
    pub fn merge_param(&mut self, text: &str) -> Result<()> {
        let Some((name, value)) = text.split_once('=') else {
            return Err(Error::InvalidOverride {
                text: text.to_string(),
                reason: "expected name=value".to_string(),
            });
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::InvalidOverride {
                text: text.to_string(),
                reason: "the name is empty".to_string(),
            });
        }
        self.hyperparams
            .insert(name.to_string(), scalar(value.trim()));
        Ok(())
    }
}

/// A command-line value typed like a YAML scalar.
fn scalar(text: &str) -> serde_json::Value {
    use serde_json::Value;
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "null" | "~" | "" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
        && text.bytes().any(|b| b.is_ascii_digit())
    {
        return Value::from(f);
    }
    if (text.starts_with('[') || text.starts_with('{') || text.starts_with('"'))
        && let Ok(v) = serde_json::from_str(text)
    {
        return v;
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn params_keep_yaml_types() {
        let mut o = MlOverrides::new();
        for p in [
            "n=16",
            "lr=0.05",
            "on=true",
            "name=tenure_months",
            "quoted=\"16\"",
            "list=[1, 2]",
            "exp=1e-3",
            "empty=",
        ] {
            o.merge_param(p).unwrap();
        }
        assert_eq!(
            serde_json::to_value(&o.hyperparams).unwrap(),
            json!({"n": 16, "lr": 0.05, "on": true, "name": "tenure_months", "quoted": "16",
                   "list": [1, 2], "exp": 0.001, "empty": null})
        );
    }

    #[test]
    fn json_overrides_merge_and_bad_input_is_an_error() {
        let mut o = MlOverrides::new();
        o.merge_param("a=1").unwrap();
        o.merge_json(r#"{"a": 2, "b": "x"}"#).unwrap();
        assert_eq!(o.hyperparams["a"], json!(2));
        assert!(matches!(
            o.merge_json("[1]"),
            Err(Error::InvalidOverride { .. })
        ));
        assert!(matches!(
            o.merge_json("{"),
            Err(Error::InvalidOverride { .. })
        ));
        assert!(matches!(
            o.merge_param("novalue"),
            Err(Error::InvalidOverride { .. })
        ));
        assert!(matches!(
            o.merge_param("=1"),
            Err(Error::InvalidOverride { .. })
        ));
    }
}
