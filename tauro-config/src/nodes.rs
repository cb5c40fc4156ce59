//! The nodes document → [`NodeConfig`]s.

use std::path::Path;

use indexmap::{IndexMap, IndexSet};

use crate::diag::Diags;
use crate::fields::{self, Fields};
use crate::model::{Location, NodeCompute, NodeConfig};
use crate::parse;
use crate::paths;
use crate::tree::{Kind, Loc, Node};

const KEYS: [&str; 20] = [
    "input",
    "output",
    "dependencies",
    "sql",
    "sql_file",
    "function",
    "params",
    "hyperparams",
    "metrics",
    "model_version",
    "model",
    "expectations",
    "description",
    "tags",
    "type",
    "timeout",
    "retries",
    "streaming",
    // Tauro's keys, accepted for compatibility: `module` is ignored (functions come from a
    // registry), `fail_fast` is checked to be a boolean.
    "module",
    "fail_fast",
];

const COMPUTE: [&str; 3] = ["sql", "sql_file", "function"];

/// What a node's names are checked against.
#[derive(Debug)]
pub(crate) struct Known<'a> {
    pub nodes: IndexSet<&'a str>,
    pub inputs: IndexSet<&'a str>,
    pub outputs: IndexSet<&'a str>,
}

/// Builds every node of the (interpolated) nodes document.
pub(crate) fn build(
    root: &Node,
    known: &Known<'_>,
    project_dir: &Path,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> IndexMap<String, NodeConfig> {
    let mut out = IndexMap::new();
    let Some(map) = fields::root_map(root, "nodes", &["nodes"], &KEYS, diags) else {
        return out;
    };
    for (name, entry) in map {
        let what = format!("node '{name}'");
        let Some(f) = Fields::of(what, entry.key_loc, &entry.value, diags) else {
            continue;
        };
        f.check_keys(&KEYS, diags);
        let input = inputs(&f, name, known, diags);
        let output = outputs(&f, name, known, diags);
        let dependencies = dependencies(&f, name, known, diags);
        let _ = f.boolean("fail_fast", true, diags);
        let node = NodeConfig {
            name: name.clone(),
            input,
            output,
            dependencies,
            compute: NodeCompute::Function {
                name: String::new(),
            },
            params: f.json_map("params", diags),
            hyperparams: hyperparams(&f, diags),
            metrics: names(&f, "metrics", diags),
            model_version: f.text("model_version", diags),
            model: model(&f, diags),
            expectations: f
                .get("expectations")
                .map(|e| crate::expectations::parse(&format!("node '{name}'"), e, &location, diags))
                .unwrap_or_default(),
            description: f.text("description", diags),
            tags: names(&f, "tags", diags),
            node_type: f.text("type", diags),
            timeout: f.seconds("timeout", false, diags),
            retries: f.count("retries", 0, diags),
            streaming: f
                .get("streaming")
                .and_then(|e| crate::streaming::parse(name, e, diags)),
            location: location(entry.key_loc),
        };
        if let Some(compute) = compute(&f, name, project_dir, diags) {
            out.insert(name.clone(), NodeConfig { compute, ..node });
        }
    }
    out
}

fn hyperparams(f: &Fields<'_>, diags: &mut Diags) -> IndexMap<String, serde_json::Value> {
    let map = f.json_map("hyperparams", diags);
    crate::ml_parse::reserved_names(f, &map, diags);
    map
}

/// `model: {name: churn, type: sql}` or `model: churn`.
fn model(f: &Fields<'_>, diags: &mut Diags) -> Option<IndexMap<String, serde_json::Value>> {
    let entry = f.get("model")?;
    match &entry.value.kind {
        Kind::Map(_) => Some(f.json_map("model", diags)),
        Kind::Str(s) => Some(IndexMap::from([(
            "name".to_owned(),
            serde_json::Value::String(s.clone()),
        )])),
        Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Seq(_) => {
            f.expected("model", entry, "a model name or a mapping", diags);
            None
        }
    }
}

fn names(f: &Fields<'_>, key: &str, diags: &mut Diags) -> Vec<String> {
    f.names(key, diags).into_iter().map(|(n, _)| n).collect()
}

fn inputs(f: &Fields<'_>, node: &str, known: &Known<'_>, diags: &mut Diags) -> Vec<String> {
    let mut out = Vec::new();
    for (name, loc) in f.names("input", diags) {
        if !known.inputs.contains(name.as_str()) && !known.outputs.contains(name.as_str()) {
            let candidates = known.inputs.iter().chain(known.outputs.iter()).copied();
            let hint = diags.did_you_mean(&name, candidates);
            diags.error(
                loc,
                format!(
                    "node '{node}' reads '{name}', which is neither an input nor an output dataset{hint}"
                ),
            );
        }
        out.push(name);
    }
    out
}

fn outputs(f: &Fields<'_>, node: &str, known: &Known<'_>, diags: &mut Diags) -> Vec<String> {
    // A set: a hostile list of many names dedupes in linear time.
    let mut out: IndexSet<String> = IndexSet::new();
    for (name, loc) in f.names("output", diags) {
        if !known.outputs.contains(name.as_str()) {
            let hint = diags.did_you_mean(&name, known.outputs.iter().copied());
            diags.error(
                loc,
                format!(
                    "node '{node}' writes '{name}', which is not defined in the output document{hint}"
                ),
            );
        }
        out.insert(name);
    }
    out.into_iter().collect()
}

/// `dependencies:` as a name, a mapping (keys are names) or a list of names and
/// single-key mappings.
fn dependencies(f: &Fields<'_>, node: &str, known: &Known<'_>, diags: &mut Diags) -> Vec<String> {
    let Some(entry) = f.get("dependencies") else {
        return Vec::new();
    };
    let mut found: Vec<(String, Loc)> = Vec::new();
    match &entry.value.kind {
        Kind::Str(s) => found.push((s.trim().to_owned(), entry.value.loc)),
        Kind::Map(map) => found.extend(map.iter().map(|(k, e)| (k.clone(), e.key_loc))),
        Kind::Seq(items) => {
            for item in items {
                match &item.kind {
                    Kind::Str(s) => found.push((s.trim().to_owned(), item.loc)),
                    Kind::Map(map) if map.len() == 1 => {
                        found.extend(map.iter().map(|(k, e)| (k.clone(), e.key_loc)));
                    }
                    Kind::Map(map) => {
                        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                        diags.error_hint(
                            item.loc,
                            format!(
                                "node '{node}': a dependency given as a mapping must have exactly one key (the node name), found {}: {}",
                                keys.len(),
                                keys.join(", ")
                            ),
                            "write each dependency as its own list item: `- a` / `- b`",
                        );
                    }
                    other => diags.error(
                        item.loc,
                        format!(
                            "node '{node}': every dependency must be a node name, found {}",
                            other.type_name()
                        ),
                    ),
                }
            }
        }
        Kind::Null | Kind::Bool(_) | Kind::Num(_) => {
            f.expected(
                "dependencies",
                entry,
                "a node name or a list of node names",
                diags,
            );
        }
    }
    let mut out: IndexSet<String> = IndexSet::with_capacity(found.len());
    for (dep, loc) in found {
        if dep.is_empty() {
            diags.error(loc, format!("node '{node}': a dependency name is empty"));
            continue;
        }
        if !known.nodes.contains(dep.as_str()) {
            let hint = diags.did_you_mean(&dep, known.nodes.iter().copied());
            diags.error(
                loc,
                format!(
                    "node '{node}' depends on '{dep}', which is not defined in the nodes document{hint}"
                ),
            );
        }
        out.insert(dep);
    }
    out.into_iter().collect()
}

/// Exactly one of `sql`, `sql_file`, `function`.
fn compute(
    f: &Fields<'_>,
    node: &str,
    project_dir: &Path,
    diags: &mut Diags,
) -> Option<NodeCompute> {
    let present: Vec<&str> = COMPUTE
        .iter()
        .copied()
        .filter(|k| f.get(k).is_some())
        .collect();
    let hint = "a node computes with inline `sql`, a `sql_file`, or a registered `function`";
    match present.as_slice() {
        [] => {
            diags.error_hint(
                f.loc,
                format!("node '{node}' must set exactly one of `sql`, `sql_file` or `function`; it sets none"),
                hint,
            );
            None
        }
        [key] => one_compute(f, node, key, project_dir, diags),
        [first, second, ..] => {
            let loc = f.get(second).map_or(f.loc, |e| e.key_loc);
            diags.error_hint(
                loc,
                format!("node '{node}' sets both `{first}` and `{second}`; set exactly one of `sql`, `sql_file` or `function`"),
                hint,
            );
            None
        }
    }
}

fn one_compute(
    f: &Fields<'_>,
    node: &str,
    key: &str,
    project_dir: &Path,
    diags: &mut Diags,
) -> Option<NodeCompute> {
    let entry = f.get(key)?;
    let text = f.text_of(key, entry, diags)?;
    if text.trim().is_empty() {
        diags.error(entry.key_loc, format!("node '{node}': `{key}` is empty"));
        return None;
    }
    match key {
        "sql" => Some(NodeCompute::Sql { text, file: None }),
        "sql_file" => {
            let path = std::path::PathBuf::from(paths::resolve(project_dir, text.trim()));
            match parse::read_text(&path) {
                Ok(sql) if sql.trim().is_empty() => {
                    diags.error(
                        entry.key_loc,
                        format!("node '{node}': `sql_file` {} is empty", path.display()),
                    );
                    None
                }
                Ok(sql) => Some(NodeCompute::Sql {
                    text: sql,
                    file: Some(path),
                }),
                Err(message) => {
                    diags.error(
                        entry.key_loc,
                        format!("node '{node}': `sql_file`: {message}"),
                    );
                    None
                }
            }
        }
        _ => {
            let name = text.trim();
            if name.chars().any(char::is_whitespace) {
                diags.error(
                    entry.key_loc,
                    format!("node '{node}': `function` must be a registered function name, found '{name}'"),
                );
                return None;
            }
            Some(NodeCompute::Function {
                name: name.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn build_nodes(text: &str) -> (IndexMap<String, NodeConfig>, Vec<String>) {
        let doc = yaml(text);
        let names: Vec<String> = match &doc.kind {
            Kind::Map(m) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let known = Known {
            nodes: names.iter().map(String::as_str).collect(),
            inputs: ["raw"].into_iter().collect(),
            outputs: ["o"].into_iter().collect(),
        };
        let mut diags = Diags::default();
        let out = build(&doc, &known, Path::new("/proj"), location, &mut diags);
        (out, messages(diags))
    }

    #[test]
    fn dependency_forms_are_normalised() {
        let (nodes, errors) = build_nodes(
            "a:\n  function: f\n\
             b:\n  function: f\n  dependencies: a\n\
             c:\n  function: f\n  dependencies: {a: {}, b: x}\n\
             d:\n  function: f\n  dependencies: [a, {b: {}}, a]\n\
             e:\n  function: f\n  dependencies: ~\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(nodes["b"].dependencies, vec!["a"]);
        assert_eq!(nodes["c"].dependencies, vec!["a", "b"]);
        assert_eq!(nodes["d"].dependencies, vec!["a", "b"]);
        assert!(nodes["e"].dependencies.is_empty());
    }

    #[test]
    fn inputs_outputs_and_values() {
        let (nodes, errors) = build_nodes(
            "a:\n  input: raw\n  output: [o, o]\n  sql: SELECT 1\n  timeout: '2.5'\n  retries: 3\n  module: x.y\n  fail_fast: false\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let a = &nodes["a"];
        assert_eq!(a.input, vec!["raw"]);
        assert_eq!(a.output, vec!["o"]);
        assert_eq!(a.timeout, Some(std::time::Duration::from_millis(2500)));
        assert_eq!(a.retries, Some(3));
    }

    #[test]
    fn bad_values() {
        let (_, errors) = build_nodes(
            "a:\n  input: {x: 1}\n  sql: ''\n  timeout: 0\n  fail_fast: maybe\n  dependencies: [1]\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:2: node 'a': `input` must be a name or a list of names, found a mapping",
                "t.yaml:3: node 'a': `sql` is empty",
                "t.yaml:4: node 'a': `timeout` must be a number of seconds > 0, found '0'",
                "t.yaml:5: node 'a': `fail_fast` must be true or false, found 'maybe'",
                "t.yaml:6: node 'a': every dependency must be a node name, found a number",
            ]
        );
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};
    use crate::streaming::{OutputMode, StreamTrigger};

    fn build_one(text: &str) -> (IndexMap<String, NodeConfig>, Vec<String>) {
        let doc = yaml(text);
        let known = Known {
            nodes: ["s"].into_iter().collect(),
            inputs: ["raw"].into_iter().collect(),
            outputs: ["o"].into_iter().collect(),
        };
        let mut diags = Diags::default();
        let out = build(&doc, &known, Path::new("/proj"), location, &mut diags);
        (out, messages(diags))
    }

    #[test]
    fn streaming_section_is_parsed() {
        let (nodes, errors) = build_one(
            "s:\n  input: raw\n  output: o\n  sql: SELECT * FROM raw\n  streaming:\n    trigger: {type: processing_time, interval: 5 seconds}\n    output_mode: update\n    checkpoint_location: /ck/s\n    query_name: q\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let s = nodes["s"].streaming.clone().unwrap_or_default();
        assert_eq!(s.trigger, StreamTrigger::ProcessingTime("5 seconds".into()));
        assert_eq!(s.output_mode, OutputMode::Update);
        assert_eq!(s.checkpoint_location.as_deref(), Some("/ck/s"));
        assert_eq!(s.query_name.as_deref(), Some("q"));

        let (nodes, errors) =
            build_one("s:\n  sql: SELECT 1\n  streaming:\n    trigger: available_now\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            nodes["s"].streaming.as_ref().map(|s| s.trigger.clone()),
            Some(StreamTrigger::AvailableNow)
        );
        let (nodes, _) =
            build_one("s:\n  sql: SELECT 1\n  streaming:\n    trigger: {type: continuous}\n");
        assert_eq!(
            nodes["s"].streaming.as_ref().map(|s| s.trigger.clone()),
            Some(StreamTrigger::Continuous("1 second".into()))
        );
    }

    #[test]
    fn streaming_errors_name_the_line() {
        let (_, errors) = build_one(
            "s:\n  sql: SELECT 1\n  streaming:\n    trigger: {type: processing_time, interval: 5 weeks}\n",
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("t.yaml:4: node 's': invalid trigger interval '5 weeks'"),
            "{errors:?}"
        );
        let (_, errors) =
            build_one("s:\n  sql: SELECT 1\n  streaming:\n    trigger: avaliable_now\n");
        assert!(
            errors[0].starts_with("t.yaml:4: node 's': unknown trigger type 'avaliable_now'"),
            "{errors:?}"
        );
        assert!(errors[0].contains("available_now"), "{errors:?}");
        let (_, errors) = build_one(
            "s:\n  sql: SELECT 1\n  streaming:\n    output_mode: all\n    checkpoint_location: rel/ck\n",
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("t.yaml:4: node 's': unknown output_mode 'all'"),
            "{errors:?}"
        );
        assert!(
            errors[1]
                .starts_with("t.yaml:5: node 's': checkpoint_location 'rel/ck' must be absolute"),
            "{errors:?}"
        );
    }
}
