//! Evaluating a node's data quality expectations on its result, in one Spark job.
//!
//! Every check becomes one aggregate of a single query over the node's result: row-level
//! checks count the rows whose predicate is not true (`count_if(NOT coalesce(p, false))`),
//! `unique` counts rows minus distinct keys, `row_count` reads the total. Then: a failed
//! `fail` expectation fails the node before anything is written; `drop` expectations filter
//! their violating rows out of what is written (lazily: the write computes it); `warn` only
//! records.

use chrono::NaiveDate;
use serde::Serialize;
use tauro_config::{Expectation, ExpectationAction, ExpectationCheck};
use tauro_io::Frame;

use crate::error::{Error, Result};

/// What one expectation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExpectationResult {
    /// The expectation.
    pub name: String,
    /// The input it checked (`None`: the node's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `expr`, `not_null`, ...
    pub kind: String,
    /// Its configured action.
    pub action: String,
    /// Rows checked.
    pub total_rows: u64,
    /// Rows violating it (for `unique`: rows beyond the first of each key; for `row_count`:
    /// 1 when the count is out of range).
    pub failed_rows: u64,
    /// True when nothing violated it.
    pub passed: bool,
    /// `passed`, `warned`, `dropped` or `failed`.
    pub outcome: String,
}

/// A backquoted identifier (`a.b` stays one name).
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => {
            format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
        }
        serde_json::Value::Null => "NULL".to_string(),
        other => other.to_string(),
    }
}

/// The predicate a passing row satisfies, for row-level checks.
pub(crate) fn predicate(check: &ExpectationCheck) -> Option<String> {
    match check {
        ExpectationCheck::Expr { expr } => Some(format!("({expr})")),
        ExpectationCheck::NotNull { columns } => Some(format!(
            "({})",
            columns
                .iter()
                .map(|c| format!("{} IS NOT NULL", ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ")
        )),
        ExpectationCheck::AcceptedValues { column, values } => {
            let c = ident(column);
            let list: Vec<String> = values.iter().map(literal).collect();
            Some(format!("({c} IS NULL OR {c} IN ({}))", list.join(", ")))
        }
        ExpectationCheck::Range { column, min, max } => {
            let c = ident(column);
            let mut parts = Vec::new();
            if let Some(m) = min {
                parts.push(format!("{c} >= {m}"));
            }
            if let Some(m) = max {
                parts.push(format!("{c} <= {m}"));
            }
            Some(format!("({c} IS NULL OR ({}))", parts.join(" AND ")))
        }
        ExpectationCheck::Unique { .. }
        | ExpectationCheck::RowCount { .. }
        | ExpectationCheck::Freshness { .. }
        | ExpectationCheck::Referential { .. }
        | ExpectationCheck::Sql { .. } => None,
    }
}

/// The aggregate of expectation `i` in the check query; freshness is measured from the day
/// after `until` (the end of the run's window) or from now.
fn aggregate(i: usize, e: &Expectation, until: Option<NaiveDate>) -> String {
    match (&e.check, predicate(&e.check)) {
        (_, Some(p)) => format!("count_if(NOT coalesce({p}, false)) AS f{i}"),
        (ExpectationCheck::Unique { columns }, None) => {
            let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
            format!(
                "count_if({}) - count(DISTINCT {}) AS f{i}",
                cols.iter()
                    .map(|c| format!("{c} IS NOT NULL"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
                cols.join(", ")
            )
        }
        (
            ExpectationCheck::Freshness {
                column,
                max_age_secs,
            },
            None,
        ) => {
            let reference = until.map_or_else(
                || "current_timestamp()".to_string(),
                |d| format!("(TIMESTAMP'{d} 00:00:00' + INTERVAL 1 DAY)"),
            );
            format!(
                "CASE WHEN max(CAST({} AS TIMESTAMP)) >= timestampadd(SECOND, -{max_age_secs}, {reference}) \
                 THEN 0 ELSE 1 END AS f{i}",
                ident(column)
            )
        }
        _ => format!("0 AS f{i}"),
    }
}

/// The one query computing every expectation's failing rows over [`CHECKED`] (aliased `c`):
/// one aggregate per check; a `referential` check left-joins the distinct keys of its dataset
/// (so no row is repeated) and counts the rows without a match; a `sql` check counts its
/// query's rows in a one-row side query cross-joined to the aggregates. The hints keep every
/// join inside the query's one job: a sort-merge join instead of a broadcast (a broadcast is a
/// job of its own), a cartesian product for the one-row sides. With adaptive execution off
/// (see [`check`]) the whole query is one Spark job.
fn check_query(expectations: &[Expectation], until: Option<NaiveDate>) -> String {
    let mut aggregates = vec!["count(*) AS total".to_string()];
    let mut joins = String::new();
    let mut merge = Vec::new();
    let mut sides = Vec::new();
    for (i, e) in expectations.iter().enumerate() {
        match &e.check {
            ExpectationCheck::Referential {
                column,
                to,
                to_column,
            } => {
                let r = format!("__tauro_ref{i}");
                joins.push_str(&format!(
                    " LEFT JOIN (SELECT DISTINCT {} AS __tauro_key, true AS __tauro_hit FROM {}) {r} \
                     ON c.{} = {r}.__tauro_key",
                    ident(to_column),
                    crate::names::view_name(to),
                    ident(column)
                ));
                aggregates.push(format!(
                    "count_if(c.{} IS NOT NULL AND {r}.__tauro_hit IS NULL) AS f{i}",
                    ident(column)
                ));
                merge.push(format!("MERGE({r})"));
            }
            ExpectationCheck::Sql { query } => {
                sides.push((
                    format!("__tauro_sql{i}"),
                    format!("SELECT count(*) AS f{i} FROM ({query}) __tauro_q{i}"),
                ));
            }
            _ => aggregates.push(aggregate(i, e, until)),
        }
    }
    let hint = if merge.is_empty() {
        String::new()
    } else {
        format!("/*+ {} */ ", merge.join(", "))
    };
    let main = format!(
        "SELECT {hint}{} FROM {CHECKED} c{joins}",
        aggregates.join(", ")
    );
    if sides.is_empty() {
        return main;
    }
    let names: Vec<&str> = sides.iter().map(|(n, _)| n.as_str()).collect();
    let mut query = format!(
        "SELECT /*+ SHUFFLE_REPLICATE_NL({}) */ * FROM ({main}) __tauro_main",
        names.join(", ")
    );
    for (name, side) in &sides {
        query.push_str(&format!(" CROSS JOIN ({side}) {name}"));
    }
    query
}

/// Runs `f` with adaptive query execution off in `session` (restored after), so a query with
/// shuffles runs as one Spark job rather than one job per query stage: two `Config` RPCs
/// (see [`tauro_io::Session::with_conf`]). Sail has no adaptive execution to turn off, so
/// there `f` runs as it is.
async fn without_adaptive<T, F>(session: &tauro_io::Session, f: F) -> Result<T>
where
    F: std::future::Future<Output = tauro_io::Result<T>>,
{
    const AQE: &str = "spark.sql.adaptive.enabled";
    if session.engine() == tauro_config::EngineKind::Sail {
        return Ok(f.await?);
    }
    Ok(session.with_conf(AQE, "false", f).await?)
}

/// The view the checked rows are registered as (each node attempt has its own session, so
/// the name cannot collide); `sql:` expectations query it.
const CHECKED: &str = "__checked";

/// What a check runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The node.
    pub node: &'a str,
    /// The input checked, or `None` for the node's result.
    pub input: Option<&'a str>,
    /// The expectations.
    pub expectations: &'a [Expectation],
    /// The end of the run's window (freshness reference).
    pub until: Option<NaiveDate>,
}

/// The operation tag of the check query of `node`'s result (or of its `input`):
/// `tauro-expectations-<node>[-<input>]`, with characters other than ASCII letters, digits, `_`
/// and `-` replaced by `_`. The Spark UI's job list shows it among each job's tags, so the jobs
/// the checks cost can be counted.
pub fn job_tag(node: &str, input: Option<&str>) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    match input {
        Some(input) => format!("tauro-expectations-{}-{}", clean(node), clean(input)),
        None => format!("tauro-expectations-{}", clean(node)),
    }
}

/// Checks `frame` against the target's expectations; returns the frame to use (rows of
/// `drop` expectations filtered out) and the results. A violated `fail` expectation is an
/// error: nothing is written.
pub(crate) async fn check(
    target: Target<'_>,
    frame: Frame,
) -> Result<(Frame, Vec<ExpectationResult>)> {
    let expectations = target.expectations;
    let view = CHECKED;
    frame.create_temp_view(view).await?;
    let query = check_query(expectations, target.until);
    let session = frame.session();
    let tag = session.tag_operations(&job_tag(target.node, target.input))?;
    let checked = session.sql(&query).await?;
    let row = without_adaptive(session, checked.collect_json(1))
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    drop(tag);
    let get = |k: &str| row.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let total = get("total");
    let mut results = Vec::with_capacity(expectations.len());
    let mut drops = Vec::new();
    let mut failures = Vec::new();
    for (i, e) in expectations.iter().enumerate() {
        let failed = match &e.check {
            ExpectationCheck::RowCount { min, max } => {
                u64::from(min.is_some_and(|m| total < m) || max.is_some_and(|m| total > m))
            }
            _ => get(&format!("f{i}")),
        };
        let outcome = match (failed, e.action) {
            (0, _) => "passed",
            (_, ExpectationAction::Fail) => "failed",
            (_, ExpectationAction::Drop) if e.check.is_row_level() => "dropped",
            (_, ExpectationAction::Drop | ExpectationAction::Warn) => "warned",
        };
        if outcome == "failed" {
            let on = target
                .input
                .map(|i| format!(" on input '{i}'"))
                .unwrap_or_default();
            failures.push(format!("{}{on} ({failed} of {total} rows)", e.name));
        }
        if e.action == ExpectationAction::Drop
            && let Some(p) = predicate(&e.check)
        {
            drops.push(format!("coalesce({p}, false)"));
        }
        results.push(ExpectationResult {
            name: e.name.clone(),
            input: target.input.map(str::to_string),
            kind: e.check.kind().to_string(),
            action: e.action.as_str().to_string(),
            total_rows: total,
            failed_rows: failed,
            passed: failed == 0,
            outcome: outcome.to_string(),
        });
    }
    if !failures.is_empty() {
        return Err(Error::ExpectationsFailed {
            node: target.node.to_string(),
            failed: failures,
            results,
        });
    }
    let frame = if drops.is_empty() {
        frame
    } else {
        frame.filter(&drops.join(" AND "))
    };
    Ok((frame, results))
}

/// Checks on the server, without running anything, that the expectations of `node` (and of
/// the inputs it reads) parse and name existing columns: each check's aggregate is analysed
/// over the node's result (its SQL planned, not executed) and over each input. Returns the
/// problems found, and notes on what could not be checked (function nodes, inputs that are
/// outputs not written yet).
pub async fn analyze_expectations(
    ctx: &tauro_config::Context,
    node: &tauro_config::NodeConfig,
    session: &tauro_io::Session,
    window: Option<tauro_config::DateWindow>,
) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let loader = tauro_io::InputLoader::new(ctx, session);
    for input in &node.input {
        let frame = match loader.load(input, window).await {
            Ok(f) => f,
            Err(e) => {
                notes.push(format!(
                    "node '{}': not checked: input '{input}' cannot be read yet ({e})",
                    node.name
                ));
                return (problems, notes);
            }
        };
        if let Err(e) = frame
            .create_temp_view(&crate::names::view_name(input))
            .await
        {
            problems.push(format!("node '{}': input '{input}': {e}", node.name));
            return (problems, notes);
        }
        if let Some(config) = ctx.inputs.get(input) {
            let owner = format!("input '{input}'");
            analyze(&frame, &owner, &config.expectations, window, &mut problems).await;
        }
    }
    if node.expectations.is_empty() {
        return (problems, notes);
    }
    let frame = match &node.compute {
        tauro_config::NodeCompute::Sql { text, .. } => {
            let params = crate::spark_runner::date_params(window.or_else(|| {
                let d = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)?;
                Some(tauro_config::DateWindow { start: d, end: d })
            }));
            match session.sql_with_params(text, params).await {
                Ok(f) => f,
                Err(e) => {
                    problems.push(format!("node '{}': its SQL: {}", node.name, chain(&e)));
                    return (problems, notes);
                }
            }
        }
        tauro_config::NodeCompute::Function { name } => {
            notes.push(format!(
                "node '{}': expectations not checked on the server (function '{name}' computes its result)",
                node.name
            ));
            return (problems, notes);
        }
    };
    let owner = format!("node '{}'", node.name);
    analyze(&frame, &owner, &node.expectations, window, &mut problems).await;
    (problems, notes)
}

/// An error and its causes on one line, Spark's plan dump left out.
fn chain(err: &dyn std::error::Error) -> String {
    crate::error::error_chain(err, true)
}

async fn analyze(
    frame: &Frame,
    owner: &str,
    expectations: &[Expectation],
    window: Option<tauro_config::DateWindow>,
    problems: &mut Vec<String>,
) {
    if expectations.is_empty() {
        return;
    }
    if let Err(e) = frame.create_temp_view(CHECKED).await {
        problems.push(format!("{owner}: {e}"));
        return;
    }
    for e in expectations {
        let query = check_query(std::slice::from_ref(e), window.map(|w| w.end));
        let analysed = match frame.session().sql(&query).await {
            Ok(f) => f.schema_fields().await.map(|_| ()),
            Err(err) => Err(err),
        };
        if let Err(err) = analysed {
            problems.push(format!(
                "{owner}: expectation '{}': {}",
                e.name,
                chain(&err)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn predicates_quote_names_and_values() {
        let p = predicate(&ExpectationCheck::AcceptedValues {
            column: "status".into(),
            values: vec![json!("new"), json!("it's"), json!(3)],
        });
        assert_eq!(
            p.as_deref(),
            Some("(`status` IS NULL OR `status` IN ('new', 'it\\'s', 3))")
        );
        let p = predicate(&ExpectationCheck::Range {
            column: "qty".into(),
            min: Some(1.0),
            max: None,
        });
        assert_eq!(p.as_deref(), Some("(`qty` IS NULL OR (`qty` >= 1))"));
        assert!(
            predicate(&ExpectationCheck::Unique {
                columns: vec!["a".into()]
            })
            .is_none()
        );
    }
}
