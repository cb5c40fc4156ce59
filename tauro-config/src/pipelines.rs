//! The pipelines document → [`PipelineConfig`]s.

use indexmap::{IndexMap, IndexSet};

use crate::diag::Diags;
use crate::fields::{self, Fields};
use crate::model::{Location, PipelineConfig, PipelineType};
use crate::suggest;
use crate::tree::{Kind, Loc, Node};

const KEYS: [&str; 13] = [
    "nodes",
    "type",
    "description",
    "requires_dates",
    "max_workers",
    "experiment",
    "hyperparams",
    "model_version",
    "model_name",
    // Tauro's keys, accepted for compatibility (validated as shapes only).
    "spark_config",
    "inputs",
    "outputs",
    "streaming",
];

const TYPES: [&str; 4] = ["batch", "ml", "streaming", "hybrid"];

impl PipelineType {
    /// Parses `batch`, `ml`, `streaming` or `hybrid` (any case).
    pub fn parse(s: &str) -> Option<PipelineType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "batch" => Some(PipelineType::Batch),
            "ml" => Some(PipelineType::Ml),
            "streaming" => Some(PipelineType::Streaming),
            "hybrid" => Some(PipelineType::Hybrid),
            _ => None,
        }
    }

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineType::Batch => "batch",
            PipelineType::Ml => "ml",
            PipelineType::Streaming => "streaming",
            PipelineType::Hybrid => "hybrid",
        }
    }
}

/// Builds every pipeline; `nodes` are the names defined in the nodes document.
pub(crate) fn build(
    root: &Node,
    nodes: &IndexSet<&str>,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> IndexMap<String, PipelineConfig> {
    let mut out = IndexMap::new();
    let Some(map) = fields::root_map(root, "pipelines", &["pipelines"], &KEYS, diags) else {
        return out;
    };
    for (name, entry) in map {
        let what = format!("pipeline '{name}'");
        let Some(f) = Fields::of(what, entry.key_loc, &entry.value, diags) else {
            continue;
        };
        f.check_keys(&KEYS, diags);
        let pipeline_type = match f.get("type") {
            None => PipelineType::Batch,
            Some(e) => match f.text_of("type", e, diags) {
                Some(t) => PipelineType::parse(&t).unwrap_or_else(|| {
                    diags.error(
                        e.key_loc,
                        format!(
                            "pipeline '{name}': unknown type '{t}'{} (expected one of: {})",
                            suggest::did_you_mean(&t, TYPES),
                            TYPES.join(", ")
                        ),
                    );
                    PipelineType::Batch
                }),
                None => PipelineType::Batch,
            },
        };
        let node_names = node_list(&f, name, nodes, diags);
        let max_workers = f
            .count("max_workers", 1, diags)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let config = PipelineConfig {
            name: name.clone(),
            nodes: node_names,
            pipeline_type,
            description: f.text("description", diags),
            requires_dates: f.boolean("requires_dates", true, diags),
            max_workers,
            ml: crate::ml_parse::pipeline_ml(&f, name, &location, diags),
            location: location(entry.key_loc),
        };
        out.insert(name.clone(), config);
    }
    out
}

/// The `nodes:` list: names or single-key maps (`- load: {}`), each defined exactly once.
fn node_list(
    f: &Fields<'_>,
    pipeline: &str,
    nodes: &IndexSet<&str>,
    diags: &mut Diags,
) -> Vec<String> {
    let Some(entry) = f.get("nodes") else {
        diags.error_hint(
            f.loc,
            format!("pipeline '{pipeline}' has no nodes"),
            "list the nodes to run: `nodes: [node_a, node_b]`",
        );
        return Vec::new();
    };
    let items: Vec<&Node> = match &entry.value.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Str(_) => vec![&entry.value],
        Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Map(_) => {
            f.expected("nodes", entry, "a list of node names", diags);
            return Vec::new();
        }
    };
    if items.is_empty() {
        diags.error_hint(
            entry.key_loc,
            format!("pipeline '{pipeline}' has no nodes"),
            "list the nodes to run: `nodes: [node_a, node_b]`",
        );
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    let mut seen: IndexSet<String> = IndexSet::with_capacity(items.len());
    for item in items {
        let Some(name) = item_name(item, pipeline, diags) else {
            continue;
        };
        if !nodes.contains(name.as_str()) {
            let hint = diags.did_you_mean(&name, nodes.iter().copied());
            diags.error(
                item.loc,
                format!(
                    "pipeline '{pipeline}' names node '{name}', which is not defined in the nodes document{hint}"
                ),
            );
        }
        if !seen.insert(name.clone()) {
            diags.error(
                item.loc,
                format!("pipeline '{pipeline}' lists node '{name}' more than once"),
            );
            continue;
        }
        out.push(name);
    }
    out
}

/// A node reference: `name`, `{name: {...}}` or Tauro's expanded `{name: x, ...}`.
fn item_name(item: &Node, pipeline: &str, diags: &mut Diags) -> Option<String> {
    match &item.kind {
        Kind::Str(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Kind::Map(map) if map.len() == 1 => map.keys().next().cloned(),
        Kind::Map(map) => match map.get("name").map(|e| &e.value.kind) {
            Some(Kind::Str(s)) => Some(s.clone()),
            _ => {
                diags.error(
                    item.loc,
                    format!(
                        "pipeline '{pipeline}': a node given as a mapping must have exactly one key (the node name), found {}",
                        map.len()
                    ),
                );
                None
            }
        },
        other => {
            diags.error(
                item.loc,
                format!(
                    "pipeline '{pipeline}': every item of `nodes` must be a node name, found {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn build_pipelines(text: &str) -> (IndexMap<String, PipelineConfig>, Vec<String>) {
        let nodes: IndexSet<&str> = ["a", "b"].into_iter().collect();
        let mut diags = Diags::default();
        let out = build(&yaml(text), &nodes, location, &mut diags);
        (out, messages(diags))
    }

    #[test]
    fn node_item_forms() {
        let (p, errors) = build_pipelines(
            "p:\n  nodes:\n    - a\n    - {b: {}}\nq:\n  type: Streaming\n  nodes: [{name: a, x: 1}]\n  streaming: {max_concurrent_queries: 2}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(p["p"].nodes, vec!["a", "b"]);
        assert_eq!(p["p"].pipeline_type, PipelineType::Batch);
        assert_eq!(p["q"].nodes, vec!["a"]);
        assert_eq!(p["q"].pipeline_type, PipelineType::Streaming);
    }

    #[test]
    fn problems() {
        let (_, errors) =
            build_pipelines("p:\n  type: bach\n  nodes: [a, a, {x: 1, y: 2}]\n  max_workers: 0\n");
        assert_eq!(
            errors,
            vec![
                "t.yaml:2: pipeline 'p': unknown type 'bach'; did you mean 'batch'? (expected one of: batch, ml, streaming, hybrid)",
                "t.yaml:3: pipeline 'p' lists node 'a' more than once",
                "t.yaml:3: pipeline 'p': a node given as a mapping must have exactly one key (the node name), found 2",
                "t.yaml:4: pipeline 'p': `max_workers` must be a whole number >= 1, found '0'",
            ]
        );
    }
}
