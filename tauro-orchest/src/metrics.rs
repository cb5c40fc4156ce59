//! Orchestration metrics in the Prometheus text format, and a health verdict.
//!
//! [`Metrics`] is a snapshot the caller fills from the store, the scheduler and the
//! breakers; [`render_prometheus`] writes it in the text exposition format (version 0.0.4).
//! Per-run metrics (`tauro_run_*`, `tauro_node_*`) come from `tauro-exec`'s
//! `render_prometheus`; the families here describe the orchestrator and use other names so
//! that both can be scraped together.
//!
//! [`evaluate`] turns [`HealthInputs`] into a [`Health`] verdict with thresholds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::resilience::CircuitState;

/// Upper bounds (seconds) of the run duration histogram buckets; `+Inf` follows.
pub const DURATION_BUCKETS: [f64; 7] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// Run durations as a Prometheus histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DurationHistogram {
    /// Observations.
    pub count: u64,
    /// Sum of the observed seconds.
    pub sum: f64,
    /// Cumulative counts: `buckets[i]` observations ≤ [`DURATION_BUCKETS`]`[i]`.
    pub buckets: [u64; DURATION_BUCKETS.len()],
}

impl DurationHistogram {
    /// Adds one duration, in seconds.
    pub fn observe(&mut self, secs: f64) {
        self.count += 1;
        self.sum += secs;
        for (count, bound) in self.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if secs <= bound {
                *count += 1;
            }
        }
    }
}

impl FromIterator<f64> for DurationHistogram {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut h = Self::default();
        iter.into_iter().for_each(|secs| h.observe(secs));
        h
    }
}

/// A snapshot of the orchestrator's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Stored pipeline runs by state (`success`, `failed`, ...).
    pub runs_by_state: BTreeMap<String, u64>,
    /// Durations of finished runs.
    pub run_duration_seconds: DurationHistogram,
    /// Runs executing now.
    pub active_runs: u64,
    /// Runs waiting to start.
    pub queued_runs: u64,
    /// How late each schedule is: now minus its next (due) firing, 0 when that is ahead;
    /// seconds, by schedule id. Grows while no scheduler runs.
    pub scheduler_lag_seconds: BTreeMap<String, f64>,
    /// Circuit breaker states by name.
    pub circuit_breakers: BTreeMap<String, CircuitState>,
    /// Stored task runs (nodes of runs) by state.
    pub tasks_by_state: BTreeMap<String, u64>,
}

/// Escapes a label value: backslash, double quote and newline.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: Prometheus spells infinities `+Inf`/`-Inf` and not-a-number `NaN`.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        v.to_string()
    }
}

/// Writes one metric family: HELP, TYPE, then `name{labels} value` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

/// `{label="value"}` samples of a map.
fn labelled<V>(
    label: &str,
    map: &BTreeMap<String, V>,
    v: impl Fn(&V) -> String,
) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, x)| (format!("{{{label}=\"{}\"}}", escape_label(k)), v(x)))
        .collect()
}

/// The snapshot in the Prometheus text exposition format.
///
/// Families: `tauro_runs{state}`, `tauro_runs_duration_seconds` (histogram),
/// `tauro_active_runs`, `tauro_queued_runs`, `tauro_scheduler_lag_seconds{schedule}`,
/// `tauro_circuit_breaker_state{name}` (0 closed, 1 half-open, 2 open),
/// `tauro_tasks{state}`. All are gauges except the histogram: counts by current state go
/// down as runs move on, so they carry no `_total` suffix.
pub fn render_prometheus(m: &Metrics) -> String {
    let mut out = String::new();
    let count = |n: &u64| n.to_string();
    family(
        &mut out,
        "tauro_runs",
        "gauge",
        "Pipeline runs in the store by state.",
        &labelled("state", &m.runs_by_state, count),
    );
    let h = &m.run_duration_seconds;
    let mut samples: Vec<(String, String)> = DURATION_BUCKETS
        .iter()
        .zip(h.buckets)
        .map(|(le, n)| (format!("_bucket{{le=\"{}\"}}", value(*le)), n.to_string()))
        .collect();
    samples.push(("_bucket{le=\"+Inf\"}".to_string(), h.count.to_string()));
    samples.push(("_sum".to_string(), value(h.sum)));
    samples.push(("_count".to_string(), h.count.to_string()));
    family(
        &mut out,
        "tauro_runs_duration_seconds",
        "histogram",
        "Durations of finished pipeline runs.",
        &samples,
    );
    family(
        &mut out,
        "tauro_active_runs",
        "gauge",
        "Pipeline runs executing now.",
        &[(String::new(), m.active_runs.to_string())],
    );
    family(
        &mut out,
        "tauro_queued_runs",
        "gauge",
        "Pipeline runs waiting to start.",
        &[(String::new(), m.queued_runs.to_string())],
    );
    family(
        &mut out,
        "tauro_scheduler_lag_seconds",
        "gauge",
        "How overdue each schedule's next firing is (0 when it is ahead).",
        &labelled("schedule", &m.scheduler_lag_seconds, |v| value(*v)),
    );
    family(
        &mut out,
        "tauro_circuit_breaker_state",
        "gauge",
        "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
        &labelled("name", &m.circuit_breakers, |s| s.gauge().to_string()),
    );
    family(
        &mut out,
        "tauro_tasks",
        "gauge",
        "Task runs (nodes of pipeline runs) in the store by state.",
        &labelled("state", &m.tasks_by_state, count),
    );
    out
}

/// What [`evaluate`] looks at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthInputs {
    /// When the inputs were gathered.
    pub checked_at: DateTime<Utc>,
    /// Whether the run store answered.
    pub store_reachable: bool,
    /// Runs left `running` by a process that died.
    pub orphaned_runs: u64,
    /// Lag of each schedule (seconds), by schedule id.
    pub scheduler_lag_seconds: BTreeMap<String, f64>,
    /// Circuit breaker states by name.
    pub circuit_breakers: BTreeMap<String, CircuitState>,
    /// Finished runs looked at (the last N).
    pub recent_runs: u64,
    /// How many of them failed.
    pub recent_failed_runs: u64,
}

/// Limits of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthThresholds {
    /// Schedule lag above this is a warning (default 60 s).
    pub lag_warning: Duration,
    /// Schedule lag above this makes the orchestrator unhealthy (default 15 min).
    pub lag_critical: Duration,
    /// Fewer recent runs than this give no failure-rate verdict (default 10).
    pub min_recent_runs: u64,
    /// Failure rate above this is a warning (default 0.2).
    pub failure_rate_warning: f64,
    /// Failure rate above this makes the orchestrator unhealthy (default 0.5).
    pub failure_rate_critical: f64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            lag_warning: Duration::from_secs(60),
            lag_critical: Duration::from_secs(15 * 60),
            min_recent_runs: 10,
            failure_rate_warning: 0.2,
            failure_rate_critical: 0.5,
        }
    }
}

/// A health verdict: unhealthy when there is any issue; warnings do not change it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// True when `issues` is empty.
    pub healthy: bool,
    /// What makes it unhealthy.
    pub issues: Vec<String>,
    /// What deserves a look.
    pub warnings: Vec<String>,
    /// When the inputs were gathered.
    pub checked_at: DateTime<Utc>,
}

/// The verdict on `inputs`:
/// - issue: the store is unreachable; a breaker is open; a schedule lags more than
///   `lag_critical`; more than `failure_rate_critical` of the recent runs failed;
/// - warning: orphaned runs; a breaker is half-open; a schedule lags more than
///   `lag_warning`; more than `failure_rate_warning` of the recent runs failed.
pub fn evaluate(inputs: &HealthInputs, thresholds: &HealthThresholds) -> Health {
    let mut issues = Vec::new();
    let mut warnings = Vec::new();
    if !inputs.store_reachable {
        issues.push("run store is not reachable".to_string());
    }
    if inputs.orphaned_runs > 0 {
        warnings.push(format!(
            "{} orphaned run(s): left running by a process that stopped",
            inputs.orphaned_runs
        ));
    }
    for (name, state) in &inputs.circuit_breakers {
        match state {
            CircuitState::Open => issues.push(format!("circuit breaker '{name}' is open")),
            CircuitState::HalfOpen => {
                warnings.push(format!(
                    "circuit breaker '{name}' is half-open (recovering)"
                ));
            }
            CircuitState::Closed => {}
        }
    }
    for (schedule, lag) in &inputs.scheduler_lag_seconds {
        let message = |limit: Duration| {
            format!(
                "schedule '{schedule}' is {lag:.0}s overdue (limit {}s): is a scheduler running?",
                limit.as_secs()
            )
        };
        if *lag > thresholds.lag_critical.as_secs_f64() {
            issues.push(message(thresholds.lag_critical));
        } else if *lag > thresholds.lag_warning.as_secs_f64() {
            warnings.push(message(thresholds.lag_warning));
        }
    }
    if inputs.recent_runs >= thresholds.min_recent_runs.max(1) {
        let rate = inputs.recent_failed_runs as f64 / inputs.recent_runs as f64;
        let message = format!(
            "{} of the last {} runs failed ({:.0}%)",
            inputs.recent_failed_runs,
            inputs.recent_runs,
            rate * 100.0
        );
        if rate > thresholds.failure_rate_critical {
            issues.push(message);
        } else if rate > thresholds.failure_rate_warning {
            warnings.push(message);
        }
    }
    Health {
        healthy: issues.is_empty(),
        issues,
        warnings,
        checked_at: inputs.checked_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h: DurationHistogram = [0.5, 3.0, 61.0, 7_200.0].into_iter().collect();
        assert_eq!(h.count, 4);
        assert_eq!(h.sum, 7_264.5);
        assert_eq!(h.buckets, [1, 2, 2, 2, 3, 3, 3]);
    }

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics {
            runs_by_state: map(&[("failed", 2), ("success", 10)]),
            run_duration_seconds: [0.5, 12.0, 90.0].into_iter().collect(),
            active_runs: 1,
            queued_runs: 3,
            scheduler_lag_seconds: map(&[("nightly \"etl\"\\", 1.5)]),
            circuit_breakers: map(&[("runner", CircuitState::HalfOpen)]),
            tasks_by_state: map(&[("success", 40)]),
        };
        let expected = r#"# HELP tauro_runs Pipeline runs in the store by state.
# TYPE tauro_runs gauge
tauro_runs{state="failed"} 2
tauro_runs{state="success"} 10
# HELP tauro_runs_duration_seconds Durations of finished pipeline runs.
# TYPE tauro_runs_duration_seconds histogram
tauro_runs_duration_seconds_bucket{le="1"} 1
tauro_runs_duration_seconds_bucket{le="5"} 1
tauro_runs_duration_seconds_bucket{le="15"} 2
tauro_runs_duration_seconds_bucket{le="60"} 2
tauro_runs_duration_seconds_bucket{le="300"} 3
tauro_runs_duration_seconds_bucket{le="900"} 3
tauro_runs_duration_seconds_bucket{le="3600"} 3
tauro_runs_duration_seconds_bucket{le="+Inf"} 3
tauro_runs_duration_seconds_sum 102.5
tauro_runs_duration_seconds_count 3
# HELP tauro_active_runs Pipeline runs executing now.
# TYPE tauro_active_runs gauge
tauro_active_runs 1
# HELP tauro_queued_runs Pipeline runs waiting to start.
# TYPE tauro_queued_runs gauge
tauro_queued_runs 3
# HELP tauro_scheduler_lag_seconds How overdue each schedule's next firing is (0 when it is ahead).
# TYPE tauro_scheduler_lag_seconds gauge
tauro_scheduler_lag_seconds{schedule="nightly \"etl\"\\"} 1.5
# HELP tauro_circuit_breaker_state Circuit breaker state: 0 closed, 1 half-open, 2 open.
# TYPE tauro_circuit_breaker_state gauge
tauro_circuit_breaker_state{name="runner"} 1
# HELP tauro_tasks Task runs (nodes of pipeline runs) in the store by state.
# TYPE tauro_tasks gauge
tauro_tasks{state="success"} 40
"#;
        assert_eq!(render_prometheus(&metrics), expected);
    }

    #[test]
    fn special_values_use_prometheus_spelling() {
        assert_eq!(
            [
                value(f64::INFINITY),
                value(f64::NEG_INFINITY),
                value(f64::NAN),
                value(0.25)
            ],
            ["+Inf", "-Inf", "NaN", "0.25"]
        );
        assert_eq!(escape_label("a\nb"), "a\\nb");
    }

    fn healthy_inputs() -> HealthInputs {
        HealthInputs {
            checked_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
            store_reachable: true,
            orphaned_runs: 0,
            scheduler_lag_seconds: map(&[("hourly", 0.8)]),
            circuit_breakers: map(&[("runner", CircuitState::Closed)]),
            recent_runs: 100,
            recent_failed_runs: 3,
        }
    }

    #[test]
    fn all_clear_is_healthy() {
        let health = evaluate(&healthy_inputs(), &HealthThresholds::default());
        assert!(health.healthy);
        assert!(health.issues.is_empty() && health.warnings.is_empty());
        assert_eq!(health.checked_at, healthy_inputs().checked_at);
    }

    #[test]
    fn issues_make_it_unhealthy_and_warnings_do_not() {
        let t = HealthThresholds::default();
        let mut warn = healthy_inputs();
        warn.orphaned_runs = 2;
        warn.circuit_breakers = map(&[("runner", CircuitState::HalfOpen)]);
        warn.scheduler_lag_seconds = map(&[("hourly", 120.0)]);
        warn.recent_failed_runs = 30;
        let health = evaluate(&warn, &t);
        assert!(health.healthy);
        assert_eq!(
            health.warnings,
            [
                "2 orphaned run(s): left running by a process that stopped",
                "circuit breaker 'runner' is half-open (recovering)",
                "schedule 'hourly' is 120s overdue (limit 60s): is a scheduler running?",
                "30 of the last 100 runs failed (30%)",
            ]
        );

        let mut bad = healthy_inputs();
        bad.store_reachable = false;
        bad.circuit_breakers = map(&[("runner", CircuitState::Open)]);
        bad.scheduler_lag_seconds = map(&[("hourly", 3_600.0)]);
        bad.recent_failed_runs = 60;
        let health = evaluate(&bad, &t);
        assert!(!health.healthy);
        assert_eq!(
            health.issues,
            [
                "run store is not reachable",
                "circuit breaker 'runner' is open",
                "schedule 'hourly' is 3600s overdue (limit 900s): is a scheduler running?",
                "60 of the last 100 runs failed (60%)",
            ]
        );
    }

    #[test]
    fn few_recent_runs_give_no_failure_rate_verdict() {
        let mut inputs = healthy_inputs();
        inputs.recent_runs = 3;
        inputs.recent_failed_runs = 3;
        assert!(evaluate(&inputs, &HealthThresholds::default()).healthy);
    }

    #[test]
    fn health_serializes() {
        let json = serde_json::to_value(evaluate(&healthy_inputs(), &HealthThresholds::default()))
            .unwrap();
        assert_eq!(json["healthy"], true);
        assert_eq!(json["checked_at"], "2025-06-01T12:00:00Z");
    }
}
