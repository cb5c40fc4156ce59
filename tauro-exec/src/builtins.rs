//! Built-in node functions, usable from YAML as `function: <name>` with `params:`.
//!
//! | name | inputs | params | result |
//! |---|---|---|---|
//! | `passthrough` | ≥ 1 | — | the first input, unchanged |
//! | `union_all` | ≥ 1 | `allow_missing_columns` (bool, default false) | all rows of all inputs, columns matched **by name** (order of first appearance); a column missing from an input is an error, or NULL with `allow_missing_columns: true` |
//! | `dedupe` | 1 | `keys` (list, optional), `order_by` (SQL, optional) | without `keys`: distinct rows; with `keys`: one row per key, the first by `order_by` (an arbitrary one without it) |
//! | `filter` | 1 | `condition` (SQL predicate, required) | the rows where it holds |
//! | `select` | 1 | `columns` (list of names) and/or `expressions` (list of SQL expressions, or a map alias → expression) | those columns, then those expressions |
//!
//! They are written with SQL over temp views in the node's own session (`__tauro_<fn>_<i>`).

use indexmap::IndexMap;
use serde::Deserialize;
use tauro_io::Frame;

use crate::error::{Error, Result};
use crate::names::{closest, quote_ident};
use crate::registry::{NodeContext, NodeOutput, NodeRegistry};

pub(crate) fn register_all(registry: &mut NodeRegistry) {
    registry
        .replace("passthrough", passthrough)
        .replace("union_all", union_all)
        .replace("dedupe", dedupe)
        .replace("filter", filter)
        .replace("select", select);
}

/// `passthrough`: the first input, unchanged.
pub async fn passthrough(ctx: NodeContext, inputs: Vec<Frame>) -> Result<NodeOutput> {
    let first = inputs.into_iter().next();
    first
        .map(NodeOutput::Frame)
        .ok_or_else(|| needs_inputs(&ctx, "at least one input"))
}

/// `union_all`: the rows of all inputs, columns matched by name.
pub async fn union_all(ctx: NodeContext, inputs: Vec<Frame>) -> Result<NodeOutput> {
    if inputs.len() <= 1 {
        return passthrough(ctx, inputs).await;
    }
    let allow_missing = ctx.param::<bool>("allow_missing_columns")?.unwrap_or(false);
    let mut views = Vec::with_capacity(inputs.len());
    for (i, frame) in inputs.iter().enumerate() {
        let view = format!("__tauro_union_{i}");
        frame.create_temp_view(&view).await?;
        views.push((view, frame.columns().await?));
    }
    let sql = union_sql(&views, allow_missing).map_err(|reason| Error::InvalidParam {
        function: "union_all".to_string(),
        param: "allow_missing_columns".to_string(),
        reason,
    })?;
    Ok(NodeOutput::Frame(ctx.session().sql(&sql).await?))
}

/// `dedupe`: distinct rows, or one row per `keys`.
pub async fn dedupe(ctx: NodeContext, inputs: Vec<Frame>) -> Result<NodeOutput> {
    let frame = single_input(&ctx, inputs)?;
    let keys: Vec<String> = ctx.param("keys")?.unwrap_or_default();
    let order_by: Option<String> = ctx.param("order_by")?;
    frame.create_temp_view("__tauro_dedupe_0").await?;
    let columns = if keys.is_empty() {
        Vec::new()
    } else {
        frame.columns().await?
    };
    for key in &keys {
        if !columns.contains(key) {
            return Err(unknown_column(&ctx, "keys", key, &columns));
        }
    }
    let sql = dedupe_sql("__tauro_dedupe_0", &columns, &keys, order_by.as_deref());
    Ok(NodeOutput::Frame(ctx.session().sql(&sql).await?))
}

/// `filter`: the rows where `params.condition` holds.
pub async fn filter(ctx: NodeContext, inputs: Vec<Frame>) -> Result<NodeOutput> {
    let frame = single_input(&ctx, inputs)?;
    let condition: String = ctx.required_param("condition")?;
    Ok(NodeOutput::Frame(frame.filter(&condition)))
}

/// Expressions of `select`: a list, or a map alias → expression.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expressions {
    List(Vec<String>),
    Aliased(IndexMap<String, String>),
}

/// `select`: `params.columns` then `params.expressions`.
pub async fn select(ctx: NodeContext, inputs: Vec<Frame>) -> Result<NodeOutput> {
    let frame = single_input(&ctx, inputs)?;
    let columns: Vec<String> = ctx.param("columns")?.unwrap_or_default();
    let mut items: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    match ctx.param::<Expressions>("expressions")? {
        Some(Expressions::List(list)) => items.extend(list),
        Some(Expressions::Aliased(map)) => items.extend(
            map.iter()
                .map(|(alias, expr)| format!("{expr} AS {}", quote_ident(alias))),
        ),
        None => {}
    }
    if items.is_empty() {
        return Err(Error::InvalidParam {
            function: "select".to_string(),
            param: "columns".to_string(),
            reason: "give `columns` and/or `expressions`".to_string(),
        });
    }
    frame.create_temp_view("__tauro_select_0").await?;
    let sql = format!("SELECT {} FROM __tauro_select_0", items.join(", "));
    Ok(NodeOutput::Frame(ctx.session().sql(&sql).await?))
}

fn single_input(ctx: &NodeContext, inputs: Vec<Frame>) -> Result<Frame> {
    let mut inputs = inputs.into_iter();
    match (inputs.next(), inputs.next()) {
        (Some(frame), None) => Ok(frame),
        _ => Err(needs_inputs(ctx, "exactly one input")),
    }
}

fn needs_inputs(ctx: &NodeContext, what: &str) -> Error {
    Error::function(format!(
        "node '{}': function '{}' takes {what}, got {}",
        ctx.name(),
        ctx.function(),
        ctx.node().input.len()
    ))
}

fn unknown_column(ctx: &NodeContext, param: &str, column: &str, columns: &[String]) -> Error {
    let hint = closest(column, columns.iter().map(String::as_str))
        .map(|c| format!("; did you mean '{c}'?"))
        .unwrap_or_default();
    Error::InvalidParam {
        function: ctx.function().to_string(),
        param: param.to_string(),
        reason: format!(
            "no column '{column}' (columns: {}){hint}",
            columns.join(", ")
        ),
    }
}

/// `SELECT .. FROM v0 UNION ALL SELECT .. FROM v1 ..`, columns by name.
fn union_sql(
    views: &[(String, Vec<String>)],
    allow_missing: bool,
) -> std::result::Result<String, String> {
    let mut all: Vec<&str> = Vec::new();
    for (_, columns) in views {
        for c in columns {
            if !all.contains(&c.as_str()) {
                all.push(c);
            }
        }
    }
    let mut parts = Vec::with_capacity(views.len());
    for (i, (view, columns)) in views.iter().enumerate() {
        let missing: Vec<&str> = all
            .iter()
            .copied()
            .filter(|c| !columns.iter().any(|have| have == c))
            .collect();
        if !missing.is_empty() && !allow_missing {
            return Err(format!(
                "input {} lacks column(s) {}; set it to true to fill them with NULL",
                i + 1,
                missing.join(", ")
            ));
        }
        let items: Vec<String> = all
            .iter()
            .map(|c| {
                if missing.contains(c) {
                    format!("NULL AS {}", quote_ident(c))
                } else {
                    quote_ident(c)
                }
            })
            .collect();
        parts.push(format!("SELECT {} FROM {view}", items.join(", ")));
    }
    Ok(parts.join(" UNION ALL "))
}

fn dedupe_sql(view: &str, columns: &[String], keys: &[String], order_by: Option<&str>) -> String {
    if keys.is_empty() {
        return format!("SELECT DISTINCT * FROM {view}");
    }
    let keys: Vec<String> = keys.iter().map(|k| quote_ident(k)).collect();
    let keys = keys.join(", ");
    let order = order_by.map_or_else(|| keys.clone(), str::to_string);
    let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!(
        "SELECT {} FROM (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {order}) \
         AS __tauro_rn FROM {view}) WHERE __tauro_rn = 1",
        columns.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn union_matches_columns_by_name() {
        let views = vec![
            ("v0".to_string(), cols(&["id", "name"])),
            ("v1".to_string(), cols(&["name", "id"])),
        ];
        assert_eq!(
            union_sql(&views, false).unwrap(),
            "SELECT `id`, `name` FROM v0 UNION ALL SELECT `id`, `name` FROM v1"
        );
        let views = vec![
            ("v0".to_string(), cols(&["id"])),
            ("v1".to_string(), cols(&["id", "extra"])),
        ];
        assert!(
            union_sql(&views, false)
                .unwrap_err()
                .contains("input 1 lacks column(s) extra")
        );
        assert_eq!(
            union_sql(&views, true).unwrap(),
            "SELECT `id`, NULL AS `extra` FROM v0 UNION ALL SELECT `id`, `extra` FROM v1"
        );
    }

    #[test]
    fn dedupe_keeps_the_columns_and_one_row_per_key() {
        assert_eq!(dedupe_sql("v", &[], &[], None), "SELECT DISTINCT * FROM v");
        let sql = dedupe_sql("v", &cols(&["id", "ts"]), &cols(&["id"]), Some("ts DESC"));
        assert!(
            sql.starts_with("SELECT `id`, `ts` FROM (SELECT *, row_number()"),
            "{sql}"
        );
        assert!(sql.contains("PARTITION BY `id` ORDER BY ts DESC"), "{sql}");
    }
}
