//! Resolving the hyperparameters and model version of each ML node of a run.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Serialize;
use tauro_config::ml::ValueKind;
use tauro_config::{Context, NodeConfig, PipelineConfig, PipelineType};

use super::MlOverrides;
use crate::error::{Error, Result};
use crate::names::closest;

/// What one ML node runs with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MlNodeSettings {
    /// The node.
    pub node: String,
    /// The model it trains or uses (`model.name`, else the pipeline's `model_name`, else the
    /// pipeline's name).
    pub model_name: String,
    /// The resolved model version, if any.
    pub model_version: Option<String>,
    /// The merged hyperparameters.
    pub hyperparams: IndexMap<String, serde_json::Value>,
    /// The metrics the node declares.
    pub metrics: Vec<String>,
}

/// The ML side of a run, as recorded in its report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MlRunInfo {
    /// The pipeline's model.
    pub model_name: String,
    /// The run's model version.
    pub model_version: Option<String>,
    /// The run's hyperparameters: defaults of every ML node, then the pipeline's, then the
    /// overrides.
    pub hyperparams: IndexMap<String, serde_json::Value>,
    /// Metrics produced by the run's nodes (a name produced by several nodes: the last in
    /// execution order).
    pub metrics: IndexMap<String, f64>,
}

/// Something worth telling the user that does not stop the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MlWarning {
    /// The message.
    pub message: String,
}

impl fmt::Display for MlWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The resolved ML settings of a run of one pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MlPlan {
    /// Run-level values (metrics empty until the run produced them).
    pub run: MlRunInfo,
    /// Settings of each ML node, by node name.
    #[serde(serialize_with = "settings_map")]
    pub nodes: IndexMap<String, Arc<MlNodeSettings>>,
    /// Overrides naming no declared hyperparameter, and the like.
    pub warnings: Vec<MlWarning>,
}

fn settings_map<S: serde::Serializer>(
    map: &IndexMap<String, Arc<MlNodeSettings>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| (k, &**v)))
}

/// Who declares a hyperparameter, and its default.
struct Declared<'a> {
    by: String,
    value: &'a serde_json::Value,
}

impl MlPlan {
    /// Resolves the ML settings of every node of `pipeline`. Errors: an override whose type
    /// does not fit a declared default.
    pub fn resolve(ctx: &Context, pipeline: &str, overrides: &MlOverrides) -> Result<Self> {
        let Some(p) = ctx.pipelines.get(pipeline) else {
            return Ok(Self::default());
        };
        let nodes: Vec<&NodeConfig> = p.nodes.iter().filter_map(|n| ctx.nodes.get(n)).collect();
        let globals = ctx.global.default_hyperparams();
        let declared = declarations(&globals, &nodes, p);
        let mut warnings = Vec::new();
        for (name, value) in &overrides.hyperparams {
            match declared.get(name.as_str()) {
                Some(d) if !ValueKind::of(d.value).accepts(ValueKind::of(value)) => {
                    return Err(Error::HyperparamType {
                        name: name.clone(),
                        given: ValueKind::of(value).describe(),
                        expected: ValueKind::of(d.value).describe(),
                        default: d.value.to_string(),
                        declared_by: d.by.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    let in_space =
                        p.ml.experiment
                            .as_ref()
                            .is_some_and(|e| e.space.contains_key(name));
                    if !in_space {
                        let hint = closest(name, declared.keys().copied())
                            .map(|s| format!(" (did you mean '{s}'?)"))
                            .unwrap_or_default();
                        warnings.push(MlWarning {
                            message: format!(
                                "hyperparameter '{name}' is not declared by pipeline '{pipeline}', its nodes or default_hyperparams{hint}; it is set anyway"
                            ),
                        });
                    }
                }
            }
        }
        let pipeline_version = overrides
            .model_version
            .clone()
            .or_else(|| p.ml.model_version.clone())
            .or_else(|| ctx.global.default_model_version());
        let model_name = p.ml.model_name.clone().unwrap_or_else(|| p.name.clone());
        let mut run = MlRunInfo {
            model_name: model_name.clone(),
            model_version: pipeline_version.clone(),
            hyperparams: globals.clone(),
            metrics: IndexMap::new(),
        };
        let mut out = IndexMap::new();
        for node in nodes.iter().filter(|n| is_ml_node(p, n)) {
            let mut hyperparams = globals.clone();
            extend(&mut hyperparams, &node.hyperparams);
            extend(&mut run.hyperparams, &node.hyperparams);
            extend(&mut hyperparams, &p.ml.hyperparams);
            extend(&mut hyperparams, &overrides.hyperparams);
            let version = overrides
                .model_version
                .clone()
                .or_else(|| node.model_version.clone())
                .or_else(|| pipeline_version.clone());
            let node_model = node
                .model
                .as_ref()
                .and_then(|m| m.get("name"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            out.insert(
                node.name.clone(),
                Arc::new(MlNodeSettings {
                    node: node.name.clone(),
                    model_name: node_model.unwrap_or_else(|| model_name.clone()),
                    model_version: version,
                    hyperparams,
                    metrics: node.metrics.clone(),
                }),
            );
        }
        extend(&mut run.hyperparams, &p.ml.hyperparams);
        extend(&mut run.hyperparams, &overrides.hyperparams);
        Ok(Self {
            run,
            nodes: out,
            warnings,
        })
    }

    /// True when the run or one of its nodes asks for the `latest` model version.
    pub fn wants_latest(&self) -> bool {
        self.run.model_version.as_deref() == Some("latest")
            || self
                .nodes
                .values()
                .any(|n| n.model_version.as_deref() == Some("latest"))
    }

    /// True when the pipeline has no ML node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The settings of `node`, when it is an ML node.
    pub fn node(&self, node: &str) -> Option<&Arc<MlNodeSettings>> {
        self.nodes.get(node)
    }

    /// Replaces the model version `from` (e.g. `latest`) with `to` everywhere.
    pub fn replace_model_version(&mut self, from: &str, to: &str) {
        if self.run.model_version.as_deref() == Some(from) {
            self.run.model_version = Some(to.to_string());
        }
        for settings in self.nodes.values_mut() {
            if settings.model_version.as_deref() == Some(from) {
                Arc::make_mut(settings).model_version = Some(to.to_string());
            }
        }
    }
}

/// A node is an ML node in an `ml` pipeline, or when it declares hyperparameters, metrics or
/// a model.
pub(crate) fn is_ml_node(pipeline: &PipelineConfig, node: &NodeConfig) -> bool {
    pipeline.pipeline_type == PipelineType::Ml
        || !node.hyperparams.is_empty()
        || !node.metrics.is_empty()
        || node.model.is_some()
}

fn extend(
    into: &mut IndexMap<String, serde_json::Value>,
    from: &IndexMap<String, serde_json::Value>,
) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

/// Every declared hyperparameter and its most specific declaration (pipeline, else the first
/// node, else the global defaults).
fn declarations<'a>(
    globals: &'a IndexMap<String, serde_json::Value>,
    nodes: &[&'a NodeConfig],
    pipeline: &'a PipelineConfig,
) -> IndexMap<&'a str, Declared<'a>> {
    let mut out: IndexMap<&str, Declared<'_>> = IndexMap::new();
    for (k, v) in &pipeline.ml.hyperparams {
        out.insert(
            k,
            Declared {
                by: format!("pipeline '{}'", pipeline.name),
                value: v,
            },
        );
    }
    for node in nodes {
        for (k, v) in &node.hyperparams {
            out.entry(k).or_insert_with(|| Declared {
                by: format!("node '{}'", node.name),
                value: v,
            });
        }
    }
    for (k, v) in globals {
        out.entry(k).or_insert_with(|| Declared {
            by: "default_hyperparams".to_string(),
            value: v,
        });
    }
    // A null default accepts anything: look past it.
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;
    use tauro_config::Sources;

    use super::*;

    fn ctx(global: serde_json::Value, pipeline: serde_json::Value) -> Context {
        let sources = Sources::new(
            global,
            json!({"p": pipeline}),
            json!({
                "train": {"sql": "SELECT 1 AS x", "output": ["o"],
                          "hyperparams": {"lr": 0.1, "depth": 3, "kind": "a"}, "metrics": ["auc"]},
                "plain": {"sql": "SELECT 1 AS x", "output": ["o2"]}
            }),
            json!({}),
            json!({"o": {"format": "parquet", "filepath": "o"}, "o2": {"format": "parquet", "filepath": "o2"}}),
        );
        Context::from_sources(sources, "base").unwrap()
    }

    fn global() -> serde_json::Value {
        json!({"input_path": "/i", "output_path": "/o",
               "default_hyperparams": {"lr": 0.5, "seed": 7}, "default_model_version": "v0"})
    }

    #[test]
    fn merge_order_is_defaults_node_pipeline_override() {
        let c = ctx(
            global(),
            json!({"nodes": ["train", "plain"], "hyperparams": {"depth": 5}, "model_version": "v3"}),
        );
        let o = MlOverrides::new().with_hyperparam("kind", json!("b"));
        let plan = MlPlan::resolve(&c, "p", &o).unwrap();
        let train = plan.node("train").unwrap();
        assert_eq!(
            serde_json::to_value(&train.hyperparams).unwrap(),
            json!({"lr": 0.1, "seed": 7, "depth": 5, "kind": "b"})
        );
        assert_eq!(train.model_version.as_deref(), Some("v3"));
        assert_eq!(train.model_name, "p");
        assert!(plan.node("plain").is_none(), "a batch node without ML keys");
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn model_version_run_then_pipeline_then_default() {
        let c = ctx(global(), json!({"nodes": ["train"], "type": "ml"}));
        let plan = MlPlan::resolve(&c, "p", &MlOverrides::new()).unwrap();
        assert_eq!(plan.run.model_version.as_deref(), Some("v0"));
        let o = MlOverrides::new().with_model_version("v9");
        let plan = MlPlan::resolve(&c, "p", &o).unwrap();
        assert_eq!(
            plan.node("train").unwrap().model_version.as_deref(),
            Some("v9")
        );
    }

    #[test]
    fn type_mismatch_is_an_error_unknown_name_a_warning() {
        let c = ctx(global(), json!({"nodes": ["train"]}));
        let bad = MlOverrides::new().with_hyperparam("depth", json!("deep"));
        let err = MlPlan::resolve(&c, "p", &bad).unwrap_err();
        assert!(err.is_validation());
        assert!(
            err.to_string()
                .contains("node 'train' declares it as an integer"),
            "{err}"
        );
        // An integer is a fine float.
        let ok = MlOverrides::new().with_hyperparam("lr", json!(1));
        assert!(MlPlan::resolve(&c, "p", &ok).is_ok());
        let unknown = MlOverrides::new().with_hyperparam("deph", json!(4));
        let plan = MlPlan::resolve(&c, "p", &unknown).unwrap();
        assert_eq!(plan.warnings.len(), 1);
        assert!(plan.warnings[0].message.contains("did you mean 'depth'"));
        assert_eq!(plan.node("train").unwrap().hyperparams["deph"], json!(4));
    }
}
