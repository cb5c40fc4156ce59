//! What an experiment reports: its trials, the best one, and a plain-text table of them.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use tauro_config::Direction;

use super::optimizer::TrialKind;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// It returned a finite objective.
    Completed,
    /// It returned an error or a non-finite objective.
    Failed,
}

impl TrialStatus {
    /// `completed` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// One trial of an [`ExperimentReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRecord {
    /// 1-based.
    pub number: u32,
    /// How the values were chosen.
    pub kind: TrialKind,
    /// Hyperparameter name → value.
    pub values: IndexMap<String, Value>,
    /// The metric's value, when the trial completed.
    pub objective: Option<f64>,
    /// How it ended.
    pub status: TrialStatus,
    /// Why it failed: the error and its causes, `: `-separated.
    pub error: Option<String>,
    /// Wall time of the trial.
    pub duration_secs: f64,
    /// The pipeline run, when the trial function gave one.
    pub run_id: Option<String>,
}

/// The result of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentReport {
    /// The metric optimised, when known ([`from_config`] or [`with_metric`]).
    ///
    /// [`from_config`]: super::ExperimentCommand::from_config
    /// [`with_metric`]: super::ExperimentCommand::with_metric
    pub metric: Option<String>,
    /// Whether larger or smaller is better.
    pub direction: Direction,
    /// The seed of the search.
    pub seed: u64,
    /// Every trial, in order.
    pub trials: Vec<TrialRecord>,
    /// The best completed trial (the first of equals).
    pub best: Option<TrialRecord>,
}

/// A plain-text table of the trials: `#`, kind, each hyperparameter, the metric (or
/// `objective`) and the status; the best trial is marked with `*` in the first column.
pub fn render_table(report: &ExperimentReport) -> String {
    let names: Vec<&String> = report
        .trials
        .first()
        .map(|t| t.values.keys().collect())
        .unwrap_or_default();
    let metric = report.metric.as_deref().unwrap_or("objective");
    let mut rows: Vec<Vec<String>> = vec![
        ["", "#", "kind"]
            .into_iter()
            .map(String::from)
            .chain(names.iter().map(|n| n.to_string()))
            .chain([metric.to_string(), "status".to_string()])
            .collect(),
    ];
    let best = report.best.as_ref().map(|b| b.number);
    for t in &report.trials {
        let mark = if best == Some(t.number) { "*" } else { "" };
        let values = names
            .iter()
            .map(|n| t.values.get(*n).map_or(String::new(), cell));
        rows.push(
            [
                mark.to_string(),
                t.number.to_string(),
                t.kind.as_str().to_string(),
            ]
            .into_iter()
            .chain(values)
            .chain([
                t.objective.map_or("-".to_string(), number),
                t.status.as_str().to_string(),
            ])
            .collect(),
        );
    }
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => n.as_f64().map_or(n.to_string(), number),
        Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

/// Five significant digits, plain for 0.001 ≤ |x| < 10⁶, scientific otherwise.
fn number(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() {
        return x.to_string();
    }
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.4e}");
    }
    let decimals = (4 - a.log10().floor() as i32).clamp(0, 8) as usize;
    let text = format!("{x:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(number: u32, lr: Value, depth: i64, objective: Option<f64>) -> TrialRecord {
        TrialRecord {
            number,
            kind: if number <= 2 {
                TrialKind::Random
            } else {
                TrialKind::Model
            },
            values: [("lr".to_string(), lr), ("depth".to_string(), json!(depth))].into(),
            objective,
            status: match objective {
                Some(_) => TrialStatus::Completed,
                None => TrialStatus::Failed,
            },
            error: objective.is_none().then(|| "boom".to_string()),
            duration_secs: 1.5,
            run_id: None,
        }
    }

    #[test]
    fn table_lists_every_trial_and_marks_the_best() {
        let trials = vec![
            record(1, json!(0.012345678), 3, Some(0.81)),
            record(2, json!(1e-5), 12, None),
            record(3, json!(0.5), 7, Some(0.912355)),
        ];
        let report = ExperimentReport {
            metric: Some("f1".to_string()),
            direction: Direction::Maximize,
            seed: 1,
            best: Some(trials[2].clone()),
            trials,
        };
        let expected = [
            "   #  kind    lr         depth  f1       status",
            "   1  random  0.012346   3      0.81     completed",
            "   2  random  1.0000e-5  12     -        failed",
            "*  3  model   0.5        7      0.91236  completed",
        ];
        assert_eq!(render_table(&report), expected.join("\n") + "\n");
    }

    #[test]
    fn numbers_keep_five_significant_digits() {
        assert_eq!(number(123.456789), "123.46");
        assert_eq!(number(-0.00123456), "-0.0012346");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(1234567.0), "1.2346e6");
        assert_eq!(number(0.0), "0");
    }
}
