//! [`ExperimentCommand`]: a whole experiment, the caller running each trial.

use std::future::Future;
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::Value;
use tauro_config::{Dimension, Direction, ExperimentConfig};

use super::optimizer::{BayesOptimizer, TrialKind};
use super::report::{ExperimentReport, TrialRecord, TrialStatus};
use super::space::SearchSpace;
use crate::error::{Error, Result};

/// Trials of [`ExperimentCommand::new`] unless [`ExperimentCommand::with_trials`] says otherwise.
const DEFAULT_TRIALS: u32 = 20;

/// One trial to run: the values to set.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// 1-based.
    pub number: u32,
    /// Hyperparameter name → value.
    pub values: IndexMap<String, Value>,
    /// How the values were chosen.
    pub kind: TrialKind,
}

/// What a trial produced. `From<f64>`, so a trial function may return `Ok(score)`.
///
/// A non-finite objective marks the trial failed while keeping its `run_id` (a pipeline run
/// that failed still has one).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialOutcome {
    /// The metric's value.
    pub objective: f64,
    /// The pipeline run that computed it.
    pub run_id: Option<String>,
}

impl TrialOutcome {
    /// An objective without a run id.
    pub fn new(objective: f64) -> Self {
        Self {
            objective,
            run_id: None,
        }
    }

    /// Sets the run id.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }
}

impl From<f64> for TrialOutcome {
    fn from(objective: f64) -> Self {
        Self::new(objective)
    }
}

/// A hyperparameter search: proposes values with a [`BayesOptimizer`], lets the caller run
/// each trial, and reports them all.
///
/// ```ignore
/// let report = ExperimentCommand::new(space, Direction::Maximize)
///     .with_trials(8)
///     .with_seed(42)
///     .with_initial_trials(3)
///     .run(|trial: Trial| async move { Ok(score(&trial.values)) })
///     .await?;
/// println!("{}", render_table(&report));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentCommand {
    space: IndexMap<String, Dimension>,
    direction: Direction,
    trials: u32,
    initial_trials: Option<u32>,
    seed: u64,
    metric: Option<String>,
}

impl ExperimentCommand {
    /// A search of `space`: 20 trials, seed 0, default initial trials.
    pub fn new(space: IndexMap<String, Dimension>, direction: Direction) -> Self {
        Self {
            space,
            direction,
            trials: DEFAULT_TRIALS,
            initial_trials: None,
            seed: 0,
            metric: None,
        }
    }

    /// The search of a pipeline's `experiment:` block.
    pub fn from_config(config: &ExperimentConfig) -> Self {
        Self {
            space: config.space.clone(),
            direction: config.direction,
            trials: config.trials,
            initial_trials: config.initial_trials,
            seed: config.seed,
            metric: Some(config.metric.clone()),
        }
    }

    /// Trials to run (≥ 1).
    pub fn with_trials(mut self, trials: u32) -> Self {
        self.trials = trials;
        self
    }

    /// Random trials before the model proposes (default `min(trials, max(2, dimensions + 1))`).
    pub fn with_initial_trials(mut self, initial_trials: u32) -> Self {
        self.initial_trials = Some(initial_trials);
        self
    }

    /// The seed: the same seed and the same results give the same proposals.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The metric's name, for the report.
    pub fn with_metric(mut self, metric: impl Into<String>) -> Self {
        self.metric = Some(metric.into());
        self
    }

    /// Random trials before the model proposes.
    pub fn initial_trials(&self) -> u32 {
        let default = || {
            u32::try_from(self.space.len() + 1)
                .unwrap_or(u32::MAX)
                .max(2)
        };
        self.initial_trials.unwrap_or_else(default).min(self.trials)
    }

    /// The optimiser of this search, after validating it (for callers that drive ask/tell
    /// themselves). Errors with [`Error::InvalidExperiment`].
    pub fn optimizer(&self) -> Result<BayesOptimizer> {
        if self.trials == 0 {
            return Err(Error::InvalidExperiment {
                reason: "`trials` must be at least 1".to_string(),
            });
        }
        let space = SearchSpace::new(&self.space)?;
        let initial = usize::try_from(self.initial_trials()).unwrap_or(usize::MAX);
        Ok(BayesOptimizer::new(
            space,
            self.direction,
            self.seed,
            initial,
        ))
    }

    /// Runs the trials one after the other with `run_trial`. A trial's error (or non-finite
    /// objective) is recorded in its [`TrialRecord`] and the search goes on; when every trial
    /// fails, the result is [`Error::ExperimentFailed`] with the first failure as its cause.
    pub async fn run<F, Fut, O>(self, mut run_trial: F) -> Result<ExperimentReport>
    where
        F: FnMut(Trial) -> Fut,
        Fut: Future<Output = Result<O>>,
        O: Into<TrialOutcome>,
    {
        let mut optimizer = self.optimizer()?;
        let mut trials = Vec::new();
        let mut first_failure = None;
        for number in 1..=self.trials {
            let proposal = optimizer.ask();
            let trial = Trial {
                number,
                values: proposal.values.clone(),
                kind: proposal.kind,
            };
            let started = Instant::now();
            let result = run_trial(trial).await;
            let duration_secs = started.elapsed().as_secs_f64();
            let (objective, run_id, failure) = match result.map(Into::into) {
                Ok(TrialOutcome { objective, run_id }) if objective.is_finite() => {
                    (Some(objective), run_id, None)
                }
                Ok(TrialOutcome { objective, run_id }) => {
                    let message = format!("the objective is not a finite number ({objective})");
                    (None, run_id, Some(Error::function(message)))
                }
                Err(e) => (None, None, Some(e)),
            };
            optimizer.tell(&proposal.values, objective.unwrap_or(f64::NAN))?;
            trials.push(TrialRecord {
                number,
                kind: proposal.kind,
                values: proposal.values,
                objective,
                status: match failure {
                    None => TrialStatus::Completed,
                    Some(_) => TrialStatus::Failed,
                },
                error: failure.as_ref().map(describe),
                duration_secs,
                run_id,
            });
            if first_failure.is_none() {
                first_failure = failure;
            }
        }
        let best = best_trial(&trials, self.direction).cloned();
        match (best, first_failure) {
            (None, Some(first)) => Err(Error::ExperimentFailed {
                trials: trials.len(),
                source: Box::new(first),
            }),
            (best, _) => Ok(ExperimentReport {
                metric: self.metric,
                direction: self.direction,
                seed: self.seed,
                trials,
                best,
            }),
        }
    }
}

fn best_trial(trials: &[TrialRecord], direction: Direction) -> Option<&TrialRecord> {
    let mut best: Option<(&TrialRecord, f64)> = None;
    for t in trials {
        if let Some(v) = t.objective
            && best.is_none_or(|(_, b)| direction.better(v, b))
        {
            best = Some((t, v));
        }
    }
    best.map(|(t, _)| t)
}

/// The error and its causes.
fn describe(error: &Error) -> String {
    crate::error::error_chain(error, false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tauro_config::Location;

    use super::*;

    fn plane() -> IndexMap<String, Dimension> {
        let range = || Dimension::Real {
            low: -5.0,
            high: 5.0,
        };
        [("x".to_string(), range()), ("y".to_string(), range())].into()
    }

    fn score(values: &IndexMap<String, Value>) -> f64 {
        let (x, y) = (values["x"].as_f64().unwrap(), values["y"].as_f64().unwrap());
        -((x - 0.3).powi(2) + (y + 1.2).powi(2))
    }

    #[tokio::test]
    async fn runs_every_trial_and_reports_the_best() {
        let report = ExperimentCommand::new(plane(), Direction::Maximize)
            .with_trials(8)
            .with_seed(42)
            .with_initial_trials(3)
            .run(|trial: Trial| async move {
                let score = score(&trial.values);
                Ok(score)
            })
            .await
            .unwrap();
        let numbers: Vec<u32> = report.trials.iter().map(|t| t.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
        let kinds: Vec<TrialKind> = report.trials.iter().map(|t| t.kind).collect();
        assert_eq!(
            &kinds[..4],
            [
                TrialKind::Random,
                TrialKind::Random,
                TrialKind::Random,
                TrialKind::Model
            ]
        );
        let best = report.best.clone().unwrap();
        let top = report
            .trials
            .iter()
            .filter_map(|t| t.objective)
            .fold(f64::MIN, f64::max);
        assert_eq!(best.objective, Some(top));
        assert_eq!(best.objective, Some(score(&best.values)));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["direction"], "maximize");
        assert_eq!(json["seed"], 42);
        assert_eq!(json["metric"], Value::Null);
        assert_eq!(json["trials"][0]["kind"], "random");
        assert_eq!(json["trials"][0]["status"], "completed");
        assert_eq!(json["trials"][0]["run_id"], Value::Null);
    }

    #[tokio::test]
    async fn an_experiment_can_run_on_a_spawned_task() {
        let command = ExperimentCommand::new(plane(), Direction::Minimize).with_trials(2);
        let task = tokio::spawn(command.run(|trial: Trial| async move {
            tokio::task::yield_now().await;
            Ok(TrialOutcome::new(-score(&trial.values)).with_run_id("r"))
        }));
        let report = task.await.unwrap().unwrap();
        assert_eq!(report.trials.len(), 2);
        assert_eq!(report.best.unwrap().run_id.as_deref(), Some("r"));
    }

    #[tokio::test]
    async fn failed_trials_are_recorded_and_the_search_goes_on() {
        let report = ExperimentCommand::new(plane(), Direction::Maximize)
            .with_trials(5)
            .with_metric("f1")
            .run(|trial: Trial| async move {
                match trial.number {
                    2 => Err(Error::function_with_source(
                        "training failed",
                        "out of memory",
                    )),
                    3 => Ok(TrialOutcome::new(f64::NAN).with_run_id("run-3")),
                    n => {
                        Ok(TrialOutcome::new(score(&trial.values)).with_run_id(format!("run-{n}")))
                    }
                }
            })
            .await
            .unwrap();
        let status: Vec<TrialStatus> = report.trials.iter().map(|t| t.status).collect();
        use TrialStatus::{Completed, Failed};
        assert_eq!(status, [Completed, Failed, Failed, Completed, Completed]);
        let second = &report.trials[1];
        assert_eq!(
            second.error.as_deref(),
            Some("training failed: out of memory")
        );
        assert_eq!((second.objective, second.run_id.as_deref()), (None, None));
        let third = &report.trials[2];
        assert_eq!(third.run_id.as_deref(), Some("run-3"));
        assert!(
            third
                .error
                .as_deref()
                .unwrap()
                .contains("not a finite number")
        );
        assert_eq!(report.metric.as_deref(), Some("f1"));
        let best = report.best.unwrap();
        assert!([1, 4, 5].contains(&best.number));
        assert_eq!(best.run_id, Some(format!("run-{}", best.number)));
    }

    #[tokio::test]
    async fn all_trials_failing_is_an_error() {
        let err = ExperimentCommand::new(plane(), Direction::Minimize)
            .with_trials(3)
            .run(|trial: Trial| async move {
                Err::<f64, _>(Error::function(format!("trial {} broke", trial.number)))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ExperimentFailed { trials: 3, .. }),
            "{err}"
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(cause, "trial 1 broke");
        assert_eq!(err.error_class(), "EXPERIMENT_FAILED");
    }

    #[tokio::test]
    async fn invalid_experiments_are_refused_before_any_trial() {
        let inverted: IndexMap<String, Dimension> =
            [("x".to_string(), Dimension::Integer { low: 3, high: 1 })].into();
        let commands = [
            ExperimentCommand::new(plane(), Direction::Maximize).with_trials(0),
            ExperimentCommand::new(IndexMap::new(), Direction::Maximize),
            ExperimentCommand::new(inverted, Direction::Maximize),
        ];
        for command in commands {
            let err = command
                .run(|_: Trial| async { panic!("no trial may run") as Result<f64> })
                .await
                .unwrap_err();
            assert!(matches!(err, Error::InvalidExperiment { .. }), "{err}");
            assert!(err.is_validation() && err.hint().is_some());
        }
    }

    #[test]
    fn from_config_and_default_initial_trials() {
        let config = ExperimentConfig {
            space: plane(),
            trials: 12,
            initial_trials: None,
            seed: 9,
            metric: "auc".to_string(),
            direction: Direction::Minimize,
            location: Location {
                file: "pipelines.yaml".into(),
                line: 3,
            },
        };
        let command = ExperimentCommand::from_config(&config);
        assert_eq!(command.initial_trials(), 3, "max(2, 2 dimensions + 1)");
        assert_eq!(command.clone().with_trials(2).initial_trials(), 2);
        assert_eq!(command.clone().with_initial_trials(5).initial_trials(), 5);
        assert_eq!(command.metric.as_deref(), Some("auc"));
        let one: IndexMap<String, Dimension> = [(
            "c".to_string(),
            Dimension::Categorical {
                values: vec![json!(1)],
            },
        )]
        .into();
        let single = ExperimentCommand::new(one, Direction::Maximize);
        assert_eq!(single.initial_trials(), 2);
        assert!(single.optimizer().is_ok());
    }
}
