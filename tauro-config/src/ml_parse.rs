//! Parsing and cross-checking ML settings: pipeline `hyperparams` / `model_version` /
//! `model_name` / `experiment`, and the hyperparameters of nodes.

use indexmap::IndexMap;

use crate::diag::Diags;
use crate::fields::Fields;
use crate::ml::{
    Dimension, Direction, ExperimentConfig, PipelineMl, RESERVED_HYPERPARAMS, ValueKind,
};
use crate::model::{Location, NodeConfig, PipelineConfig};
use crate::suggest;
use crate::tree::{Entry, Kind, Loc, Node};

const EXPERIMENT_KEYS: [&str; 6] = [
    "space",
    "trials",
    "initial_trials",
    "seed",
    "metric",
    "direction",
];
const DIMENSION_KEYS: [&str; 4] = ["type", "low", "high", "values"];
const DIMENSION_TYPES: [&str; 4] = ["real", "integer", "log_uniform", "categorical"];

/// The ML settings of one pipeline.
pub(crate) fn pipeline_ml(
    f: &Fields<'_>,
    pipeline: &str,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> PipelineMl {
    let hyperparams = f.json_map("hyperparams", diags);
    reserved_names(f, &hyperparams, diags);
    let experiment = f
        .get("experiment")
        .and_then(|e| experiment(pipeline, e, &location, diags));
    PipelineMl {
        hyperparams,
        model_version: f.text("model_version", diags),
        model_name: f.text("model_name", diags),
        experiment,
    }
}

/// Reports hyperparameters named like the values Tauro sets itself.
pub(crate) fn reserved_names(
    f: &Fields<'_>,
    hyperparams: &IndexMap<String, serde_json::Value>,
    diags: &mut Diags,
) {
    let Some(entry) = f.get("hyperparams") else {
        return;
    };
    for name in hyperparams.keys() {
        if RESERVED_HYPERPARAMS.contains(&name.as_str()) {
            diags.error_hint(
                key_loc(entry, name),
                format!(
                    "{}: hyperparameter '{name}' uses a reserved name",
                    f.what
                ),
                format!(
                    "Tauro sets tauro.ml.{name} itself; reserved: {} (use the `{name}:` key of the pipeline or node instead, or rename the hyperparameter)",
                    RESERVED_HYPERPARAMS.join(", ")
                ),
            );
        }
    }
}

fn experiment(
    pipeline: &str,
    entry: &Entry,
    location: &impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> Option<ExperimentConfig> {
    let what = format!("the experiment of pipeline '{pipeline}'");
    let f = Fields::of(what, entry.key_loc, &entry.value, diags)?;
    f.check_keys(&EXPERIMENT_KEYS, diags);
    let mut ok = true;
    let trials = match f.get("trials") {
        Some(_) => f.count("trials", 1, diags),
        None => {
            diags.error_hint(
                entry.key_loc,
                format!("{}: `trials` is missing", f.what),
                "say how many pipeline runs to make, e.g. `trials: 20`",
            );
            None
        }
    };
    ok &= trials.is_some();
    let initial_trials = f.count("initial_trials", 1, diags);
    let seed = match f.get("seed") {
        None => Some(0),
        Some(e) => match &e.value.kind {
            Kind::Num(n) => n.as_u64(),
            Kind::Str(s) => s.trim().parse().ok(),
            Kind::Null | Kind::Bool(_) | Kind::Seq(_) | Kind::Map(_) => None,
        }
        .or_else(|| {
            f.expected("seed", e, "a whole number >= 0", diags);
            None
        }),
    };
    let metric = f.text("metric", diags).filter(|m| !m.trim().is_empty());
    if metric.is_none() {
        diags.error_hint(
            f.get("metric").map_or(entry.key_loc, |e| e.key_loc),
            format!("{}: `metric` is missing", f.what),
            "name the metric to optimise, one a node of the pipeline declares in `metrics:`",
        );
    }
    let direction = match f.get("direction") {
        None => Some(Direction::Maximize),
        Some(e) => f.text_of("direction", e, diags).and_then(|d| {
            Direction::parse(&d).or_else(|| {
                f.expected("direction", e, "`maximize` or `minimize`", diags);
                None
            })
        }),
    };
    let space = space(&f, entry, diags);
    ok &= seed.is_some() && metric.is_some() && direction.is_some() && space.is_some();
    if !ok {
        return None;
    }
    Some(ExperimentConfig {
        space: space?,
        trials: trials?,
        initial_trials,
        seed: seed?,
        metric: metric?.trim().to_owned(),
        direction: direction?,
        location: location(entry.key_loc),
    })
}

fn space(f: &Fields<'_>, block: &Entry, diags: &mut Diags) -> Option<IndexMap<String, Dimension>> {
    let Some(entry) = f.get("space") else {
        diags.error_hint(
            block.key_loc,
            format!("{}: `space` is missing", f.what),
            "give each hyperparameter to search a range: `space: {learning_rate: {type: log_uniform, low: 0.001, high: 0.3}}`",
        );
        return None;
    };
    let Kind::Map(map) = &entry.value.kind else {
        f.expected(
            "space",
            entry,
            "a mapping of hyperparameter names to ranges",
            diags,
        );
        return None;
    };
    if map.is_empty() {
        diags.error_hint(
            entry.key_loc,
            format!("{}: the search `space` is empty", f.what),
            "give at least one hyperparameter a range to search",
        );
        return None;
    }
    let mut out = IndexMap::new();
    let mut ok = true;
    for (name, dim) in map {
        match dimension(&f.what, name, dim, diags) {
            Some(d) => {
                out.insert(name.clone(), d);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn dimension(experiment: &str, name: &str, entry: &Entry, diags: &mut Diags) -> Option<Dimension> {
    // `name: [a, b, c]` is a categorical dimension.
    if let Kind::Seq(items) = &entry.value.kind {
        return categorical(experiment, name, entry, items, diags);
    }
    let what = format!("{experiment}: dimension '{name}'");
    let f = Fields::of(what, entry.key_loc, &entry.value, diags)?;
    f.check_keys(&DIMENSION_KEYS, diags);
    let kind = match f.get("type") {
        None if f.get("values").is_some() => "categorical".to_owned(),
        None => "real".to_owned(),
        Some(e) => {
            let t = f.text_of("type", e, diags)?;
            let normal = t.trim().to_ascii_lowercase().replace('-', "_");
            let normal = match normal.as_str() {
                "float" | "uniform" | "double" => "real".to_owned(),
                "int" => "integer".to_owned(),
                "loguniform" | "log" => "log_uniform".to_owned(),
                "choice" => "categorical".to_owned(),
                _ => normal,
            };
            if !DIMENSION_TYPES.contains(&normal.as_str()) {
                diags.error(
                    e.key_loc,
                    format!(
                        "{}: unknown type '{t}'{} (expected one of: {})",
                        f.what,
                        suggest::did_you_mean(&normal, DIMENSION_TYPES),
                        DIMENSION_TYPES.join(", ")
                    ),
                );
                return None;
            }
            normal
        }
    };
    if kind == "categorical" {
        let Some(values) = f.get("values") else {
            diags.error(entry.key_loc, format!("{}: `values` is missing", f.what));
            return None;
        };
        let Kind::Seq(items) = &values.value.kind else {
            f.expected("values", values, "a list of choices", diags);
            return None;
        };
        return categorical(experiment, name, values, items, diags);
    }
    let low = number(&f, "low", entry, diags);
    let high = number(&f, "high", entry, diags);
    let (low, high) = (low?, high?);
    let range_loc = f.get("high").map_or(entry.key_loc, |e| e.key_loc);
    if low >= high || low.is_nan() || high.is_nan() {
        diags.error_hint(
            range_loc,
            format!(
                "{}: the range is {} (low {low}, high {high})",
                f.what,
                if low == high { "empty" } else { "inverted" }
            ),
            "`low` must be below `high`",
        );
        return None;
    }
    match kind.as_str() {
        "integer" => {
            let (lo, hi) = (low.ceil(), high.floor());
            if lo.fract() != 0.0 || low.fract() != 0.0 || high.fract() != 0.0 {
                diags.error(
                    range_loc,
                    format!("{}: integer bounds must be whole numbers", f.what),
                );
                return None;
            }
            #[expect(
                clippy::cast_possible_truncation,
                reason = "whole numbers checked above; YAML integers fit i64"
            )]
            Some(Dimension::Integer {
                low: lo as i64,
                high: hi as i64,
            })
        }
        "log_uniform" if low <= 0.0 => {
            diags.error_hint(
                f.get("low").map_or(entry.key_loc, |e| e.key_loc),
                format!(
                    "{}: a log-uniform range must be positive (low {low})",
                    f.what
                ),
                "use `type: real` for ranges that include 0 or negative values",
            );
            None
        }
        "log_uniform" => Some(Dimension::LogUniform { low, high }),
        _ => Some(Dimension::Real { low, high }),
    }
}

fn categorical(
    experiment: &str,
    name: &str,
    entry: &Entry,
    items: &[Node],
    diags: &mut Diags,
) -> Option<Dimension> {
    if items.is_empty() {
        diags.error_hint(
            entry.key_loc,
            format!("{experiment}: dimension '{name}' has no values to choose from"),
            "list at least one value: `values: [a, b]`",
        );
        return None;
    }
    Some(Dimension::Categorical {
        values: items.iter().map(Node::to_json).collect(),
    })
}

fn number(f: &Fields<'_>, key: &str, dim: &Entry, diags: &mut Diags) -> Option<f64> {
    let Some(entry) = f.get(key) else {
        diags.error(dim.key_loc, format!("{}: `{key}` is missing", f.what));
        return None;
    };
    let parsed = match &entry.value.kind {
        Kind::Num(n) => n.as_f64(),
        Kind::Str(s) => s.trim().parse::<f64>().ok(),
        Kind::Null | Kind::Bool(_) | Kind::Seq(_) | Kind::Map(_) => None,
    }
    .filter(|x| x.is_finite());
    if parsed.is_none() {
        f.expected(key, entry, "a number", diags);
    }
    parsed
}

/// The location of `key` inside the mapping `entry`, else the entry's own.
fn key_loc(entry: &Entry, key: &str) -> Loc {
    match &entry.value.kind {
        Kind::Map(map) => map.get(key).map_or(entry.key_loc, |e| e.key_loc),
        _ => entry.key_loc,
    }
}

/// Cross-checks after pipelines and nodes are built: pipeline hyperparameters against the
/// defaults of their nodes, experiment dimensions against those defaults, and the experiment
/// metric against the metrics the pipeline's nodes declare.
pub(crate) fn check(
    pipelines_doc: &Node,
    pipelines: &IndexMap<String, PipelineConfig>,
    nodes: &IndexMap<String, NodeConfig>,
    diags: &mut Diags,
) {
    let Kind::Map(docs) = &pipelines_doc.kind else {
        return;
    };
    for (name, pipeline) in pipelines {
        let Some(doc) = docs.get(name) else {
            continue;
        };
        let defaults = node_defaults(pipeline, nodes);
        if let Some(entry) = field(doc, "hyperparams") {
            for (key, value) in &pipeline.ml.hyperparams {
                if let Some((node, default)) = defaults.get(key.as_str())
                    && !ValueKind::of(default).accepts(ValueKind::of(value))
                {
                    diags.error(
                        key_loc(entry, key),
                        format!(
                            "pipeline '{name}': hyperparameter '{key}' is {}, but node '{node}' declares it as {} ({default})",
                            ValueKind::of(value).describe(),
                            ValueKind::of(default).describe(),
                        ),
                    );
                }
            }
        }
        let Some(exp) = &pipeline.ml.experiment else {
            continue;
        };
        let Some(block) = field(doc, "experiment") else {
            continue;
        };
        let space_entry = field(block, "space");
        for (key, dim) in &exp.space {
            let declared = pipeline
                .ml
                .hyperparams
                .get(key)
                .map(|v| ("the pipeline".to_owned(), v))
                .or_else(|| {
                    defaults
                        .get(key.as_str())
                        .map(|(n, v)| (format!("node '{n}'"), *v))
                });
            let Some((owner, default)) = declared else {
                continue;
            };
            if let Some(given) = dimension_kind(dim)
                && !ValueKind::of(default).accepts(given)
            {
                diags.error(
                    space_entry.map_or(block.key_loc, |e| key_loc(e, key)),
                    format!(
                        "pipeline '{name}': experiment dimension '{key}' gives {}, but {owner} declares '{key}' as {} ({default})",
                        given.describe(),
                        ValueKind::of(default).describe(),
                    ),
                );
            }
        }
        let declared: Vec<&str> = pipeline
            .nodes
            .iter()
            .filter_map(|n| nodes.get(n))
            .flat_map(|n| n.metrics.iter().map(String::as_str))
            .collect();
        if !declared.contains(&exp.metric.as_str()) {
            let at = field(block, "metric").map_or(block.key_loc, |e| e.key_loc);
            let known = if declared.is_empty() {
                "none of its nodes declares `metrics:`".to_owned()
            } else {
                format!("declared: {}", declared.join(", "))
            };
            diags.error_hint(
                at,
                format!(
                    "pipeline '{name}': the experiment optimises '{}', which no node of the pipeline produces ({known}){}",
                    exp.metric,
                    suggest::did_you_mean(&exp.metric, declared.iter().copied())
                ),
                "add the metric to the `metrics:` of the node that computes it",
            );
        }
    }
}

/// Hyperparameter defaults of a pipeline's nodes: name → (first node declaring it, value).
fn node_defaults<'a>(
    pipeline: &'a PipelineConfig,
    nodes: &'a IndexMap<String, NodeConfig>,
) -> IndexMap<&'a str, (&'a str, &'a serde_json::Value)> {
    let mut out = IndexMap::new();
    for node in pipeline.nodes.iter().filter_map(|n| nodes.get(n)) {
        for (k, v) in &node.hyperparams {
            out.entry(k.as_str()).or_insert((node.name.as_str(), v));
        }
    }
    out
}

/// The kind of values a dimension proposes (`None` for mixed categorical values).
fn dimension_kind(dim: &Dimension) -> Option<ValueKind> {
    match dim {
        Dimension::Real { .. } | Dimension::LogUniform { .. } => Some(ValueKind::Float),
        Dimension::Integer { .. } => Some(ValueKind::Integer),
        Dimension::Categorical { values } => {
            let first = ValueKind::of(values.first()?);
            let widest =
                values
                    .iter()
                    .map(ValueKind::of)
                    .try_fold(first, |acc, k| match (acc, k) {
                        (a, b) if a == b => Some(a),
                        (ValueKind::Integer, ValueKind::Float)
                        | (ValueKind::Float, ValueKind::Integer) => Some(ValueKind::Float),
                        _ => None,
                    })?;
            Some(widest)
        }
    }
}

fn field<'a>(entry: &'a Entry, key: &str) -> Option<&'a Entry> {
    match &entry.value.kind {
        Kind::Map(map) => map.get(key),
        _ => None,
    }
}
