//! Reading the metrics a node declares from its result.
//!
//! Two shapes are understood:
//! - wide: one row with a column per metric (`SELECT 0.81 AS auc, 0.62 AS f1`);
//! - long: rows of `metric` (or `name`) and `value` (`SELECT 'auc' AS metric, 0.81 AS value`).
//!
//! Only a few rows are collected (a metrics result is small by nature).

use indexmap::IndexMap;
use tauro_io::Frame;

use crate::error::{Error, Result};

/// At most this many rows of a long-form metrics result are read.
const MAX_METRIC_ROWS: usize = 1_000;

/// The metrics in `frame` (wide or long), checked against `declared`; `recorded` are the
/// ones a function recorded itself, which win.
pub(crate) async fn metrics_from_frame(
    node: &str,
    frame: Option<&Frame>,
    declared: &[String],
    recorded: IndexMap<String, f64>,
) -> Result<IndexMap<String, f64>> {
    let missing_from_recorded = declared.iter().any(|m| !recorded.contains_key(m));
    let mut found_columns = Vec::new();
    let mut out = IndexMap::new();
    if let Some(frame) = frame
        && missing_from_recorded
    {
        let rows = frame.collect_json(MAX_METRIC_ROWS).await?;
        let (metrics, columns) = from_rows(&rows, declared);
        out = metrics;
        found_columns = columns;
    }
    for (k, v) in recorded {
        found_columns.push(k.clone());
        out.insert(k, v);
    }
    let missing: Vec<String> = declared
        .iter()
        .filter(|m| !out.contains_key(m.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingMetrics {
            node: node.to_string(),
            missing,
            found: found_columns,
        });
    }
    Ok(out)
}

/// Metrics from collected rows, and the column names seen (for messages).
pub(crate) fn from_rows(
    rows: &[serde_json::Value],
    declared: &[String],
) -> (IndexMap<String, f64>, Vec<String>) {
    let mut out = IndexMap::new();
    let Some(serde_json::Value::Object(first)) = rows.first() else {
        return (out, Vec::new());
    };
    let columns: Vec<String> = first.keys().cloned().collect();
    let key = ["metric", "name"]
        .into_iter()
        .find(|k| first.contains_key(*k));
    if let Some(key) = key.filter(|_| first.contains_key("value")) {
        for row in rows {
            let name = row.get(key).and_then(|v| v.as_str());
            let value = row.get("value").and_then(number);
            if let (Some(name), Some(value)) = (name, value) {
                out.insert(name.to_string(), value);
            }
        }
    } else {
        for name in declared {
            if let Some(value) = first.get(name).and_then(number) {
                out.insert(name.clone(), value);
            }
        }
    }
    (out, columns)
}

fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        serde_json::Value::Null | serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wide_and_long_shapes() {
        let declared = vec!["auc".to_string(), "f1".to_string()];
        let (m, _) = from_rows(&[json!({"auc": 0.8, "f1": "0.5", "n": 3})], &declared);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("auc".into(), 0.8), ("f1".into(), 0.5)]
        );
        let rows = [
            json!({"metric": "auc", "value": 0.7}),
            json!({"metric": "loss", "value": 1.5}),
        ];
        let (m, cols) = from_rows(&rows, &declared);
        assert_eq!(m["auc"], 0.7);
        assert_eq!(m["loss"], 1.5);
        assert_eq!(cols, ["metric", "value"]);
        let (m, _) = from_rows(&[json!({"auc": null})], &declared);
        assert!(m.is_empty(), "a null metric is not produced");
    }
}
