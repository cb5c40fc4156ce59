//! ML settings: model versions, hyperparameters and experiments (`experiment:` blocks).
//!
//! Only types and their parsing live here; resolving hyperparameters for a run and searching
//! a space are `tauro-exec`'s work.

use indexmap::IndexMap;
use serde::Serialize;

use crate::model::Location;

/// One dimension of an experiment's search space.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Dimension {
    /// A real number, uniform in `[low, high]`.
    Real {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
    },
    /// An integer, uniform in `[low, high]`.
    Integer {
        /// Lower bound (inclusive).
        low: i64,
        /// Upper bound (inclusive).
        high: i64,
    },
    /// A positive real number, uniform in `[ln low, ln high]` (learning rates, penalties).
    LogUniform {
        /// Lower bound (inclusive, > 0).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
    },
    /// One of the listed values (strings, numbers or booleans, as written).
    Categorical {
        /// The choices, in the order given.
        values: Vec<serde_json::Value>,
    },
}

impl Dimension {
    /// `real`, `integer`, `log_uniform` or `categorical`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Real { .. } => "real",
            Self::Integer { .. } => "integer",
            Self::LogUniform { .. } => "log_uniform",
            Self::Categorical { .. } => "categorical",
        }
    }
}

/// Whether the experiment's metric is to be made large or small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger is better (accuracy, AUC, F1).
    Maximize,
    /// Smaller is better (loss, error).
    Minimize,
}

impl Direction {
    /// Parses `maximize`/`max` or `minimize`/`min` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "maximize" | "maximise" | "max" => Some(Self::Maximize),
            "minimize" | "minimise" | "min" => Some(Self::Minimize),
            _ => None,
        }
    }

    /// `maximize` or `minimize`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Maximize => "maximize",
            Self::Minimize => "minimize",
        }
    }

    /// True when `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Self::Maximize => a > b,
            Self::Minimize => a < b,
        }
    }
}

/// A pipeline's `experiment:` block: a hyperparameter search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentConfig {
    /// `space`: hyperparameter name → dimension, in the order given.
    pub space: IndexMap<String, Dimension>,
    /// `trials`: pipeline runs to make (≥ 1).
    pub trials: u32,
    /// `initial_trials`: random trials before the surrogate model proposes (default
    /// `min(trials, max(2, dimensions + 1))`).
    pub initial_trials: Option<u32>,
    /// `seed`: makes the search reproducible (default 0).
    pub seed: u64,
    /// `metric`: the metric to optimise; some node of the pipeline must declare it.
    pub metric: String,
    /// `direction`: `maximize` (default) or `minimize`.
    pub direction: Direction,
    /// Where the block was defined.
    pub location: Location,
}

/// ML settings of a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineMl {
    /// `hyperparams`: pipeline-level values (override node defaults).
    pub hyperparams: IndexMap<String, serde_json::Value>,
    /// `model_version`.
    pub model_version: Option<String>,
    /// `model_name` (default: the pipeline's name).
    pub model_name: Option<String>,
    /// `experiment`.
    pub experiment: Option<ExperimentConfig>,
}

/// The shape of a hyperparameter value, for type checks between defaults and overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `true`/`false`.
    Bool,
    /// A whole number.
    Integer,
    /// A number with a fraction or exponent.
    Float,
    /// Text.
    String,
    /// A list.
    List,
    /// A mapping.
    Map,
    /// Null.
    Null,
}

impl ValueKind {
    /// The kind of `value`.
    pub fn of(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::Integer,
            Value::Number(_) => Self::Float,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::List,
            Value::Object(_) => Self::Map,
        }
    }

    /// True when a value of kind `given` may replace a default of kind `self` (a whole number
    /// is a valid float; null is accepted anywhere and a null default accepts anything).
    pub fn accepts(self, given: ValueKind) -> bool {
        self == given
            || self == Self::Null
            || given == Self::Null
            || (self == Self::Float && given == Self::Integer)
    }

    /// `a boolean`, `an integer`, …
    pub fn describe(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Integer => "an integer",
            Self::Float => "a number",
            Self::String => "a string",
            Self::List => "a list",
            Self::Map => "a mapping",
            Self::Null => "null",
        }
    }
}

/// Hyperparameter names Tauro sets itself under `tauro.ml.*`; a hyperparameter cannot use them.
pub const RESERVED_HYPERPARAMS: [&str; 4] = ["model_version", "model_name", "run_id", "pipeline"];

/// The value of `value` as set on a Spark session conf (`tauro.ml.<name>`): strings raw,
/// everything else as JSON text (`0.05`, `16`, `true`, `[1,2]`).
pub fn conf_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl crate::model::GlobalSettings {
    /// `default_hyperparams`: project-wide hyperparameter defaults (lowest precedence).
    pub fn default_hyperparams(&self) -> IndexMap<String, serde_json::Value> {
        match self.extra.get("default_hyperparams") {
            Some(serde_json::Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            _ => IndexMap::new(),
        }
    }

    /// `default_model_version`: the model version when neither the run nor the pipeline
    /// names one.
    pub fn default_model_version(&self) -> Option<String> {
        match self.extra.get("default_model_version")? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}
