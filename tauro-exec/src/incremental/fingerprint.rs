//! Node fingerprints: SHA-256 (hex) over what determines a node's result.
//!
//! A fingerprint has four parts, each a hash of its own, and the combined hash of the four:
//! - `config`: the node's own configuration ([`node_config`]): kind, the normalised SQL text
//!   (whitespace, comments and keyword case do not count; literals and quoted identifiers
//!   do) or the function name, inputs and outputs with the resolved dataset configurations
//!   they read and write, `params`, `hyperparams`, `metrics`, `model_version`, `type`, and the
//!   project's Spark confs. Not `description`, `tags`, `timeout`, `retries` or `dependencies`
//!   (ordering only: the upstream part covers what they bring).
//! - `params`: the run parameters the node uses: the date window when its SQL names
//!   `:start_date`/`:end_date`, when it is a function node (functions see the window), or
//!   when it reads an input with a `date_column` (rows are filtered to the window).
//! - `inputs`: change markers of the files it reads that no node of the pipeline writes
//!   (size and mtime of the files under a local path or glob; nothing for remote URIs,
//!   tables and queries).
//! - `upstream`: the combined fingerprints of the nodes it depends on, so a change anywhere
//!   upstream changes every fingerprint downstream.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tauro_config::{Context, DataFormat, DateWindow, NodeCompute, NodeConfig};

use super::marker::file_marker;
use super::sql::normalize_sql;
use crate::resolver::DependencyGraph;

/// Bumped when what goes into a fingerprint changes: every node then counts as changed.
const FINGERPRINT_VERSION: &str = "tauro-fingerprint-1";

/// The four parts of a node's fingerprint (hex SHA-256 each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintParts {
    /// The node's own configuration and normalised SQL.
    pub config: String,
    /// The run parameters it uses (date window).
    pub params: String,
    /// Change markers of the files it reads.
    pub inputs: String,
    /// The fingerprints of its upstream nodes.
    pub upstream: String,
    /// ML nodes: the hyperparameters and model version it uses (empty for other nodes, and
    /// then not part of the combined hash).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ml: String,
}

/// A node's fingerprint: the combined hash and its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Hash of the four parts.
    pub combined: String,
    /// The parts.
    pub parts: FingerprintParts,
}

/// Everything the fingerprint of one node was computed from, for the manifest.
#[derive(Debug, Clone)]
pub(crate) struct NodePrint {
    /// The functional configuration (canonical JSON), as hashed into `config`.
    pub(crate) config: Value,
    /// True when the window is part of `params`.
    pub(crate) uses_window: bool,
    /// The fingerprint.
    pub(crate) fingerprint: Fingerprint,
}

/// The fingerprint of every node of `graph`, by graph index.
pub(crate) fn fingerprints(
    ctx: &Context,
    graph: &DependencyGraph,
    window: Option<DateWindow>,
    ml: Option<&crate::ml::MlPlan>,
) -> Vec<NodePrint> {
    let produced: HashSet<&str> = graph
        .nodes()
        .filter_map(|n| ctx.nodes.get(n))
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    let mut prints: Vec<Option<NodePrint>> = vec![None; graph.len()];
    for &i in graph.order_indices() {
        let Some(node) = ctx.nodes.get(graph.name(i)) else {
            continue; // the validator rejects such a graph before this runs
        };
        let (config, uses_window) = node_config(ctx, node);
        // `node_config` sorts every object's keys: the text is canonical.
        let config_hash = hash(&["config", &config.to_string()]);
        let params = match (uses_window, window) {
            (true, Some(w)) => format!("window:{}..{}", w.start, w.end),
            (true, None) => "window:none".to_string(),
            (false, _) => "-".to_string(),
        };
        // An ML node's effective hyperparameters and model version are run parameters too
        // (pipeline values, defaults and run overrides change what it computes).
        let mut ml_part = String::new();
        // A SQL node depends only on what its text references (`${tauro.ml.<name>}`); a
        // function node may read any of them.
        if let Some(settings) = ml.and_then(|m| m.node(&node.name)) {
            let effective = match &node.compute {
                tauro_config::NodeCompute::Sql { text, .. } => {
                    let used = |name: &str| text.contains(&format!("${{tauro.ml.{name}}}"));
                    let hyperparams: serde_json::Map<String, serde_json::Value> = settings
                        .hyperparams
                        .iter()
                        .filter(|(k, _)| used(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    serde_json::json!({
                        "hyperparams": hyperparams,
                        "model_version": settings.model_version.as_ref().filter(|_| used("model_version")),
                        "model_name": used("model_name").then_some(&settings.model_name),
                    })
                }
                tauro_config::NodeCompute::Function { .. } => serde_json::json!({
                    "hyperparams": settings.hyperparams,
                    "model_version": settings.model_version,
                    "model_name": settings.model_name,
                }),
            };
            ml_part = hash(&["ml", &effective.to_string()]);
        }
        let mut markers: Vec<(&str, String)> = node
            .input
            .iter()
            .filter(|d| !produced.contains(d.as_str()))
            .filter_map(|d| Some((d.as_str(), file_marker(&dataset_path(ctx, d)?)?)))
            .collect();
        markers.sort();
        let mut inputs = vec!["inputs".to_string()];
        for (d, m) in markers {
            inputs.push(d.to_string());
            inputs.push(m);
        }
        let mut upstream: Vec<(&str, &str)> = graph
            .predecessors(i)
            .filter_map(|p| {
                let print = prints[p].as_ref()?;
                Some((graph.name(p), print.fingerprint.combined.as_str()))
            })
            .collect();
        upstream.sort_unstable();
        let mut up = vec!["upstream"];
        for (name, fp) in upstream {
            up.push(name);
            up.push(fp);
        }
        let parts = FingerprintParts {
            config: config_hash,
            params: hash(&["params", &params]),
            inputs: hash(&inputs.iter().map(String::as_str).collect::<Vec<_>>()),
            upstream: hash(&up),
            ml: ml_part,
        };
        let mut hashed = vec![
            FINGERPRINT_VERSION,
            &parts.config,
            &parts.params,
            &parts.inputs,
            &parts.upstream,
        ];
        if !parts.ml.is_empty() {
            hashed.push(&parts.ml);
        }
        let combined = hash(&hashed);
        prints[i] = Some(NodePrint {
            config,
            uses_window,
            fingerprint: Fingerprint { combined, parts },
        });
    }
    prints
        .into_iter()
        .map(|p| {
            p.unwrap_or_else(|| NodePrint {
                config: Value::Null,
                uses_window: false,
                fingerprint: Fingerprint {
                    combined: String::new(),
                    parts: FingerprintParts {
                        config: String::new(),
                        params: String::new(),
                        inputs: String::new(),
                        upstream: String::new(),
                        ml: String::new(),
                    },
                },
            })
        })
        .collect()
}

/// A node's functional configuration (what its `config` hash covers) and whether it uses
/// the run's date window.
pub(crate) fn node_config(ctx: &Context, node: &NodeConfig) -> (Value, bool) {
    let (compute, mut uses_window) = match &node.compute {
        NodeCompute::Sql { text, .. } => {
            let sql = normalize_sql(text);
            (json!({"kind": "sql", "sql": sql.text}), sql.uses_dates)
        }
        NodeCompute::Function { name } => (json!({"kind": "function", "function": name}), true),
    };
    let inputs: Vec<Value> = node
        .input
        .iter()
        .map(|d| {
            if let Some(input) = ctx.inputs.get(d) {
                uses_window |= input.date_column.is_some();
                json!({"name": d, "input": without_identity(serde_json::to_value(input))})
            } else if let Some(output) = ctx.outputs.get(d) {
                json!({"name": d, "output": without_identity(serde_json::to_value(output))})
            } else {
                json!({"name": d})
            }
        })
        .collect();
    let outputs: Vec<Value> = node
        .output
        .iter()
        .map(|d| match ctx.outputs.get(d) {
            Some(o) => json!({"name": d, "output": without_identity(serde_json::to_value(o))}),
            None => json!({"name": d}),
        })
        .collect();
    let mut config = json!({
        "compute": compute,
        "inputs": inputs,
        "outputs": outputs,
        "params": node.params,
        "hyperparams": node.hyperparams,
        "metrics": node.metrics,
        "model_version": node.model_version,
        "type": node.node_type,
        "spark_conf": ctx.global.spark.config,
    });
    if let Value::Object(map) = &mut config {
        // Secrets (`options.password`, tokens in URLs, ...) are masked before hashing and
        // storing: the manifest must not hold them, nor a hash to guess them from. The SQL
        // text is kept as written.
        let compute = map.remove("compute");
        tauro_config::redact::redact_json(&mut config);
        if let (Value::Object(map), Some(compute)) = (&mut config, compute) {
            map.insert("compute".to_string(), compute);
        }
    }
    if let Value::Object(map) = &mut config {
        sort_keys(map);
    }
    (config, uses_window)
}

/// Where the dataset `name` lives, when it is a path (not a table or query).
fn dataset_path(ctx: &Context, name: &str) -> Option<String> {
    if let Some(input) = ctx.inputs.get(name) {
        return match input.format {
            DataFormat::Table | DataFormat::Query => None,
            _ => input.filepath.clone(),
        };
    }
    let output = ctx.outputs.get(name)?;
    if output.format == DataFormat::Table {
        return None;
    }
    output.filepath.clone()
}

/// A dataset config without its name and location (edits elsewhere in the file move it).
fn without_identity(value: serde_json::Result<Value>) -> Value {
    match value {
        Ok(Value::Object(mut map)) => {
            map.remove("name");
            map.remove("location");
            Value::Object(map)
        }
        Ok(other) => other,
        Err(e) => Value::String(format!("<unserialisable: {e}>")),
    }
}

/// Sorts object keys recursively (YAML key order does not count).
fn sort_keys(map: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, mut v) in entries {
        sort_value(&mut v);
        map.insert(k, v);
    }
}

fn sort_value(value: &mut Value) {
    match value {
        Value::Object(map) => sort_keys(map),
        Value::Array(items) => items.iter_mut().for_each(sort_value),
        _ => {}
    }
}

/// Hex SHA-256 of the parts, each followed by a NUL byte.
pub(crate) fn hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::NaiveDate;

    use super::*;
    use crate::resolver::DependencyResolver;
    use crate::testutil::{context, io};

    fn sql(name: &str, inputs: &[&str], outputs: &[&str], text: &str) -> NodeConfig {
        let mut n = io(name, inputs, outputs);
        n.compute = NodeCompute::Sql {
            text: text.into(),
            file: None,
        };
        n
    }

    /// a → b → c (by data), plus d independent.
    fn nodes() -> Vec<NodeConfig> {
        vec![
            sql("a", &["raw"], &["a_out"], "SELECT * FROM raw"),
            sql(
                "b",
                &["a_out"],
                &["b_out"],
                "SELECT id FROM a_out WHERE x = 'K'",
            ),
            sql("c", &["b_out"], &["c_out"], "SELECT count(*) FROM b_out"),
            sql("d", &[], &["d_out"], "SELECT 1"),
        ]
    }

    fn prints(ctx: &Context, window: Option<DateWindow>) -> Vec<Fingerprint> {
        let graph = DependencyResolver::new(ctx).resolve("p").unwrap();
        fingerprints(ctx, &graph, window, None)
            .into_iter()
            .map(|p| p.fingerprint)
            .collect()
    }

    fn edit(f: impl FnOnce(&mut Context)) -> (Vec<Fingerprint>, Vec<Fingerprint>) {
        let ctx = context(nodes());
        let before = prints(&ctx, None);
        let mut changed = ctx.clone();
        f(&mut changed);
        (before, prints(&changed, None))
    }

    fn set_sql(ctx: &mut Context, node: &str, text: &str) {
        ctx.nodes[node].compute = NodeCompute::Sql {
            text: text.into(),
            file: None,
        };
    }

    #[test]
    fn fingerprints_are_stable_hex() {
        let ctx = context(nodes());
        let (a, b) = (prints(&ctx, None), prints(&ctx, None));
        assert_eq!(a, b);
        assert_eq!(a[0].combined.len(), 64);
        assert!(a[0].combined.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn whitespace_only_edit_keeps_the_fingerprint() {
        let (before, after) = edit(|c| {
            set_sql(c, "b", "SELECT id\n  FROM a_out\n  WHERE x = 'K'   ");
        });
        assert_eq!(before, after);
    }

    #[test]
    fn comment_edit_keeps_the_fingerprint() {
        let (before, after) = edit(|c| {
            set_sql(
                c,
                "b",
                "-- ids only\nSELECT id /* key */ FROM a_out WHERE x = 'K'",
            );
        });
        assert_eq!(before, after);
    }

    #[test]
    fn keyword_case_keeps_the_fingerprint() {
        let (before, after) = edit(|c| set_sql(c, "b", "select ID from A_OUT where X = 'K'"));
        assert_eq!(before, after);
    }

    #[test]
    fn literal_case_changes_the_node_and_its_downstream() {
        let (before, after) = edit(|c| set_sql(c, "b", "SELECT id FROM a_out WHERE x = 'k'"));
        assert_eq!(before[0], after[0], "upstream a unchanged");
        assert_ne!(before[1].parts.config, after[1].parts.config);
        assert_eq!(before[1].parts.upstream, after[1].parts.upstream);
        assert_eq!(
            before[2].parts.config, after[2].parts.config,
            "c's own config"
        );
        assert_ne!(before[2].parts.upstream, after[2].parts.upstream);
        assert_ne!(before[2].combined, after[2].combined, "downstream changes");
        assert_eq!(before[3], after[3], "independent node unchanged");
    }

    #[test]
    fn description_and_tag_edits_keep_the_fingerprint() {
        let (before, after) = edit(|c| {
            c.nodes["b"].description = Some("now documented".into());
            c.nodes["b"].tags = vec!["nightly".into()];
            c.nodes["b"].timeout = Some(std::time::Duration::from_secs(5));
            c.nodes["b"].retries = Some(3);
        });
        assert_eq!(before, after);
    }

    #[test]
    fn upstream_change_changes_every_downstream_fingerprint() {
        let (before, after) = edit(|c| set_sql(c, "a", "SELECT * FROM raw WHERE 1 = 1"));
        for i in 0..3 {
            assert_ne!(before[i].combined, after[i].combined, "node {i}");
        }
        assert_eq!(before[3], after[3]);
    }

    #[test]
    fn params_type_and_dataset_configs_count() {
        let (b, a) = edit(|c| {
            c.nodes["d"].params.insert("k".into(), serde_json::json!(1));
        });
        assert_ne!(b[3].parts.config, a[3].parts.config);
        let (b, a) = edit(|c| c.nodes["d"].node_type = Some("ml".into()));
        assert_ne!(b[3].parts.config, a[3].parts.config);
        // The output dataset b writes (and c reads back) moves: both change.
        let (b, a) = edit(|c| c.outputs["b_out"].filepath = Some("/tmp/elsewhere".into()));
        assert_ne!(b[1].parts.config, a[1].parts.config);
        assert_ne!(b[2].parts.config, a[2].parts.config);
        assert_eq!(b[0], a[0]);
    }

    #[test]
    fn secrets_are_masked_in_the_config() {
        let mut ctx = context(nodes());
        ctx.inputs["raw"]
            .options
            .insert("password".into(), "hunter2".into());
        ctx.nodes["d"]
            .params
            .insert("api_key".into(), serde_json::json!("abc123"));
        let (a, _) = node_config(&ctx, &ctx.nodes["a"]);
        let (d, _) = node_config(&ctx, &ctx.nodes["d"]);
        let text = format!("{a}{d}");
        assert!(
            !text.contains("hunter2") && !text.contains("abc123"),
            "{text}"
        );
        assert_eq!(a["inputs"][0]["input"]["options"]["password"], "***");
        assert_eq!(a["compute"]["sql"], "select * from raw");
    }

    #[test]
    fn param_key_order_does_not_count() {
        let (b, a) = edit(|c| {
            let p = &mut c.nodes["d"].params;
            p.insert("x".into(), serde_json::json!({"b": 1, "a": 2}));
            p.insert("y".into(), serde_json::json!(2));
        });
        assert_ne!(b[3], a[3]);
        let mut ctx = context(nodes());
        ctx.nodes["d"]
            .params
            .insert("y".into(), serde_json::json!(2));
        ctx.nodes["d"]
            .params
            .insert("x".into(), serde_json::json!({"a": 2, "b": 1}));
        assert_eq!(prints(&ctx, None)[3], a[3]);
    }

    #[test]
    fn the_window_counts_only_for_nodes_that_use_it() {
        let mut ctx = context(nodes());
        set_sql(
            &mut ctx,
            "d",
            "SELECT * FROM range(3) WHERE :start_date IS NOT NULL",
        );
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let w1 = Some(DateWindow {
            start: d("2025-01-01"),
            end: d("2025-01-07"),
        });
        let w2 = Some(DateWindow {
            start: d("2025-01-08"),
            end: d("2025-01-14"),
        });
        let (p1, p2) = (prints(&ctx, w1), prints(&ctx, w2));
        assert_eq!(p1[0], p2[0], "a does not use the window");
        assert_ne!(p1[3].parts.params, p2[3].parts.params);
        // An input filtered by date_column uses it too.
        ctx.inputs["raw"].date_column = Some("day".into());
        let (p1, p2) = (prints(&ctx, w1), prints(&ctx, w2));
        assert_ne!(p1[0].parts.params, p2[0].parts.params);
        // Function nodes always do.
        ctx.nodes["c"].compute = NodeCompute::Function {
            name: "passthrough".into(),
        };
        let (p1, p2) = (prints(&ctx, w1), prints(&ctx, w2));
        assert_ne!(p1[2].parts.params, p2[2].parts.params);
    }

    #[test]
    fn local_input_files_count_through_their_marker() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = context(nodes());
        let raw = dir.path().join("raw");
        std::fs::create_dir(&raw).unwrap();
        std::fs::write(raw.join("part-0"), b"1").unwrap();
        ctx.inputs["raw"].filepath = Some(raw.display().to_string());
        let before = prints(&ctx, None);
        std::fs::write(raw.join("part-1"), b"2").unwrap();
        let after = prints(&ctx, None);
        assert_ne!(before[0].parts.inputs, after[0].parts.inputs);
        assert_eq!(before[0].parts.config, after[0].parts.config);
        // b reads a's output, written inside the pipeline: no marker, only upstream.
        assert_eq!(before[1].parts.inputs, after[1].parts.inputs);
    }
}
