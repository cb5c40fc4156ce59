//! `tauro-cli experiment`: search a pipeline's hyperparameters by Bayesian optimisation.
//!
//! One full pipeline run per trial (no incremental reuse: every trial recomputes with its
//! own hyperparameters), on one Spark Connect server for the whole experiment. The metric is
//! read from the run's report (a node declaring it in `metrics:`); the next trial is proposed
//! by the Gaussian-process optimiser of `tauro-exec`. Trial runs do not register model
//! versions: run `exec` with the best parameters to train the model you keep.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use tauro_config::{Context, ExperimentConfig};
use tauro_exec::{
    ExperimentCommand, ExperimentReport, MlOverrides, NodeSelection, Trial, TrialOutcome,
    render_table,
};

use crate::cli::{ExperimentArgs, OutputFormat, SelectArgs};
use crate::commands::run::{self, RunRequest};
use crate::error::CliError;
use crate::{project, render};

/// Runs `experiment`.
pub async fn run(args: ExperimentArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    let ctx = Arc::new(project::load(&args.project)?);
    let pipeline = ctx.pipeline(&args.window.pipeline)?;
    let Some(config) = pipeline.ml.experiment.clone() else {
        return Err(CliError::Usage {
            message: format!("pipeline '{}' has no `experiment:` block", pipeline.name),
            hint: Some(
                "add `experiment: {metric: f1, direction: maximize, trials: 20, seed: 1, \
                 space: {name: {type: real, low: 0, high: 1}}}` to the pipeline"
                    .to_string(),
            ),
        });
    };
    let select = SelectArgs {
        full: true,
        nodes: Vec::new(),
        tags: Vec::new(),
        exclude_tags: Vec::new(),
        types: Vec::new(),
        only: Vec::new(),
    };
    let request = RunRequest::new(&ctx, &args.window, &select)?.with_ml(&ctx, &args.ml)?;
    let mut command = ExperimentCommand::from_config(&config);
    if let Some(n) = args.trials {
        command = command.with_trials(n);
    }
    if let Some(seed) = args.seed {
        command = command.with_seed(seed);
    }
    // Validates the search (trials, ranges) before any Spark work.
    command.optimizer()?;
    let trials = args.trials.unwrap_or(config.trials);

    let connected = run::connect(&ctx, &args.engine, human).await?;
    let (cancel, ctrl_c) = run::ctrl_c_token();
    let experiment_id = tauro_exec::new_run_id();
    let result = {
        let ctx = &ctx;
        let request = &request;
        let config = &config;
        let engine = &connected.engine;
        let engine_args = &args.engine;
        let cancel = &cancel;
        let experiment_id = experiment_id.as_str();
        command
            .run(|trial: Trial| async move {
                if cancel.is_cancelled() {
                    return Err(tauro_exec::Error::Cancelled {
                        node: format!("<trial {}>", trial.number),
                    });
                }
                let mut overrides: MlOverrides = request.ml.clone();
                overrides.hyperparams.extend(trial.values.clone());
                let run_id = format!("{experiment_id}-t{}", trial.number);
                let executor = run::executor(
                    ctx,
                    engine.clone(),
                    engine_args,
                    cancel.clone(),
                    &run_id,
                    None,
                )
                .with_ml(overrides);
                let started = std::time::Instant::now();
                let outcome = executor
                    .run(
                        Arc::clone(ctx),
                        &request.pipeline,
                        request.window,
                        &NodeSelection::All,
                    )
                    .await
                    .and_then(|report| objective(report, config));
                if human {
                    eprintln!(
                        "{}",
                        trial_line(&trial, trials, config, &outcome, started.elapsed())
                    );
                }
                outcome
            })
            .await
    };
    ctrl_c.abort();
    run::stop_server(connected.server, human).await;
    let report = result?;
    let path = write_report(
        &ctx,
        &request,
        &config,
        &experiment_id,
        &report,
        args.out.as_ref(),
    )?;
    match output {
        OutputFormat::Human => {
            print!("{}", render_table(&report));
            if let Some(best) = &report.best {
                let values: Vec<String> = best
                    .values
                    .iter()
                    .map(|(k, v)| format!("{k}={}", short(v)))
                    .collect();
                println!(
                    "best: trial {} {}={} with {}",
                    best.number,
                    config.metric,
                    best.objective.map(render::metric).unwrap_or_default(),
                    values.join(", ")
                );
            }
            println!(
                "experiment {experiment_id}: {}",
                path.strip_prefix(&ctx.project_dir)
                    .unwrap_or(&path)
                    .display()
            );
        }
        OutputFormat::Json => println!("{}", document(&request, &config, &experiment_id, &report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The trial's objective from its run's report.
fn objective(
    report: tauro_exec::RunReport,
    config: &ExperimentConfig,
) -> Result<TrialOutcome, tauro_exec::Error> {
    let run_id = report.run_id.clone();
    let report = report.into_result()?;
    let value = report.metric(&config.metric).ok_or_else(|| {
        tauro_exec::Error::function(format!(
            "the run produced no metric '{}' (run {run_id})",
            config.metric
        ))
    })?;
    Ok(TrialOutcome::new(value).with_run_id(run_id))
}

fn trial_line(
    trial: &Trial,
    trials: u32,
    config: &ExperimentConfig,
    outcome: &Result<TrialOutcome, tauro_exec::Error>,
    took: std::time::Duration,
) -> String {
    let values: Vec<String> = trial
        .values
        .iter()
        .map(|(k, v)| format!("{k}={}", short(v)))
        .collect();
    let result = match outcome {
        Ok(o) => format!("{}={}", config.metric, render::metric(o.objective)),
        Err(e) => format!("failed: {e}"),
    };
    format!(
        "trial {}/{trials} ({}) {} -> {result} in {}",
        trial.number,
        trial.kind.as_str(),
        values.join(" "),
        render::duration(took)
    )
}

fn short(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(f) if !v.is_i64() && !v.is_u64() => render::metric(f),
        _ => tauro_config::ml::conf_text(v),
    }
}

fn document(
    request: &RunRequest,
    config: &ExperimentConfig,
    id: &str,
    report: &ExperimentReport,
) -> serde_json::Value {
    json!({
        "experiment_id": id,
        "pipeline": request.pipeline,
        "window": request.window.map(|w| json!({"start": w.start, "end": w.end})),
        "fixed_hyperparams": request.ml.hyperparams,
        "space": config.space,
        "metric": config.metric,
        "direction": report.direction,
        "seed": report.seed,
        "trials": report.trials,
        "best": report.best,
    })
}

/// Writes `<project>/.tauro/experiments/<pipeline>-<id>.json` (and `--out`); returns the
/// project file's path.
fn write_report(
    ctx: &Context,
    request: &RunRequest,
    config: &ExperimentConfig,
    id: &str,
    report: &ExperimentReport,
    out: Option<&PathBuf>,
) -> Result<PathBuf, CliError> {
    let text = serde_json::to_string_pretty(&document(request, config, id, report))
        .unwrap_or_else(|e| json!({"error": e.to_string()}).to_string());
    let dir = ctx.project_dir.join(".tauro").join("experiments");
    let path = dir.join(format!("{}-{id}.json", request.pipeline));
    let write = |p: &std::path::Path| -> Result<(), CliError> {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(p, &e))?;
        }
        std::fs::write(p, &text).map_err(|e| io_error(p, &e))
    };
    write(&path)?;
    if let Some(out) = out {
        write(out)?;
    }
    Ok(path)
}

fn io_error(path: &std::path::Path, e: &std::io::Error) -> CliError {
    CliError::Usage {
        message: format!("cannot write {}: {e}", path.display()),
        hint: None,
    }
}
