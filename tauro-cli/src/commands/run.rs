//! What `exec` and `resume` share: the incremental run, the engine, hooks and lineage, the
//! summary. One code path, so retries and continue-on-error behave the same everywhere.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tauro_config::{Context, DateWindow, EngineKind};
use tauro_exec::{
    EventBus, Executor, FanoutSink, FileModelRegistry, IncrementalRun, LineageOptions, MlOverrides,
    MlPlan, ModelRegistry, NodeRegistry, PipelineValidator, Plan, PlanAction, PlanReason,
    RetryPolicy, RunReport, SelectionSpec, SparkNodeRunner, StateDir,
};
use tauro_io::warm::{self, ResolvedRemote};
use tauro_io::{EngineOptions, LocalServerOptions, RemoteOptions, SparkEngine, TokenSource};
use tokio_util::sync::CancellationToken;

use crate::cli::{EngineArgs, MlArgs, OutputFormat, SelectArgs, Track, WindowArgs};
use crate::commands::progress;
use crate::error::CliError;
use crate::render;

/// A pipeline, window and selection, validated (no Spark needed).
#[derive(Debug)]
pub struct RunRequest {
    /// The pipeline.
    pub pipeline: String,
    /// The effective window.
    pub window: Option<DateWindow>,
    /// `--nodes/--tags/--exclude-tags/--types`.
    pub selection: SelectionSpec,
    /// `--full`.
    pub full: bool,
    /// `--hyperparams`, `--param`, `--model-version`.
    pub ml: MlOverrides,
}

impl RunRequest {
    /// Parses dates and checks the pipeline's graph, functions and window.
    pub fn new(ctx: &Context, window: &WindowArgs, select: &SelectArgs) -> Result<Self, CliError> {
        let pipeline = ctx.pipeline(&window.pipeline)?.name.clone();
        let start = window
            .start
            .as_deref()
            .map(tauro_config::parse_date)
            .transpose()?;
        let end = window
            .end
            .as_deref()
            .map(tauro_config::parse_date)
            .transpose()?;
        let window = ctx.window_for(start, end)?;
        let validated = PipelineValidator::new(ctx)
            .with_registry(&registry())
            .validate(&pipeline, &tauro_exec::NodeSelection::All, window)?;
        Ok(Self {
            pipeline,
            window: validated.window(),
            selection: SelectionSpec::from_args(
                &select.nodes,
                &select.tags,
                &select.exclude_tags,
                &select.types,
            ),
            full: select.full,
            ml: MlOverrides::default(),
        })
    }

    /// The request with run-level ML overrides, checked against the pipeline's declared
    /// hyperparameters (type mismatches are errors; unknown names are warned about).
    pub fn with_ml(mut self, ctx: &Context, args: &MlArgs) -> Result<Self, CliError> {
        let overrides = args.overrides()?;
        let plan = MlPlan::resolve(ctx, &self.pipeline, &overrides)?;
        for w in &plan.warnings {
            eprintln!("warning: {w}");
        }
        // `latest` with nothing registered is a mistake to report before any Spark work.
        if plan.wants_latest() {
            let model = plan.run.model_name.clone();
            if FileModelRegistry::for_project(&ctx.project_dir)
                .latest(&model)?
                .is_none()
            {
                return Err(tauro_exec::Error::NoModelVersion { model }.into());
            }
        }
        self.ml = overrides;
        Ok(self)
    }
}

/// The node functions the CLI offers: the built-ins.
pub fn registry() -> NodeRegistry {
    NodeRegistry::with_builtins()
}

/// The incremental run of a request (state in `<project>/.tauro`).
pub fn incremental(ctx: &Arc<Context>, request: &RunRequest) -> IncrementalRun {
    IncrementalRun::new(Arc::clone(ctx), request.pipeline.clone())
        .with_window(request.window)
        .with_selection(request.selection.clone())
        .with_full(request.full)
        .with_ml(request.ml.clone())
}

/// `--node X` (repeatable): exactly these nodes run, whatever changed; nothing else does.
pub fn restrict(mut plan: Plan, only: &[String]) -> Result<Plan, CliError> {
    if only.is_empty() {
        return Ok(plan);
    }
    for name in only {
        if plan.node(name).is_none() {
            return Err(CliError::Usage {
                message: format!(
                    "--node {name}: pipeline '{}' has no such node",
                    plan.pipeline
                ),
                hint: Some(format!(
                    "its nodes: {}",
                    plan.nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
        }
    }
    for node in &mut plan.nodes {
        if only.contains(&node.name) {
            node.action = PlanAction::Run;
            node.reason = PlanReason::Selected;
        } else {
            node.action = PlanAction::Skip;
            node.reason = PlanReason::NotSelected;
        }
        node.detail = None;
    }
    Ok(plan)
}

/// Runs `plan` with `inc`: starts or reuses a Spark Connect server only when something runs,
/// prints progress and the summary, writes lineage, flushes hooks, stops what it started.
pub async fn execute(
    ctx: &Arc<Context>,
    inc: IncrementalRun,
    plan: Plan,
    engine: &EngineArgs,
    output: OutputFormat,
) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    let run_id = tauro_exec::new_run_id();
    let bus = EventBus::from_settings(ctx);
    let mut sinks = FanoutSink::new().with(bus.clone());
    if human {
        let counts = plan.counts();
        sinks = sinks.with(progress::printer(counts.run + counts.cached));
    }
    let inc = inc.with_run_id(run_id.clone()).with_events(sinks);

    let mut server = None;
    let result = if plan.needs_engine() {
        let running = plan
            .nodes
            .iter()
            .filter(|n| n.action == PlanAction::Run)
            .map(|n| n.name.as_str());
        refuse_unsupported(ctx, engine, running)?;
        let connected = connect(ctx, engine, human).await?;
        server = connected.server;
        run_on_spark(ctx, &inc, plan, connected.engine, engine, &run_id).await
    } else {
        inc.execute(plan, None).await.map_err(CliError::from)
    };
    stop_server(server, human).await;
    let delivery = bus.flush(Duration::from_secs(5)).await;
    if !delivery.complete {
        tracing::warn!(?delivery, "some hook deliveries did not finish");
    }
    let (plan, report) = result?;
    let lineage = if ctx.global.lineage.enabled && plan.needs_engine() {
        match tauro_exec::write_lineage(ctx, &report) {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("warning: could not write lineage: {e}");
                None
            }
        }
    } else {
        None
    };
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    match output {
        OutputFormat::Human => {
            print!("{}", summary(&report, ctx, plan.window));
            if let Some(path) = &lineage {
                println!(
                    "lineage: {} (tauro-cli lineage show {})",
                    path.strip_prefix(&ctx.project_dir)
                        .unwrap_or(path)
                        .display(),
                    report.run_id
                );
            }
        }
        OutputFormat::Json => println!("{}", report_json(&report, ctx, &plan)),
    }
    if report.succeeded() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::RunFailed {
            pipeline: report.pipeline.clone(),
            status: report.status.to_string(),
            reason: report
                .stop_reason
                .as_ref()
                .map_or_else(|| "some nodes failed".to_string(), ToString::to_string),
        })
    }
}

/// The kind of server: `--engine`, else `spark.engine`.
pub fn engine_kind(ctx: &Context, args: &EngineArgs) -> EngineKind {
    args.engine.unwrap_or(ctx.global.spark.engine)
}

/// Fails (before any server starts) when the engine cannot run some of `nodes` (Sail: streaming
/// nodes, ORC and Kafka datasets), naming each with where it is configured.
pub fn refuse_unsupported<'a>(
    ctx: &Context,
    args: &EngineArgs,
    nodes: impl IntoIterator<Item = &'a str>,
) -> Result<(), CliError> {
    let kind = engine_kind(ctx, args);
    let found = tauro_config::engine::unsupported(ctx, nodes, kind);
    if found.is_empty() {
        return Ok(());
    }
    Err(CliError::Usage {
        message: format!(
            "engine `{kind}` cannot run this pipeline:\n{}",
            found
                .iter()
                .map(|u| format!("  {u}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        hint: Some(
            "run it on Apache Spark: `--engine spark` or `spark.engine: spark` (the default)"
                .into(),
        ),
    })
}

/// A connected engine, and the embedded server started for it (stop it at the end).
pub struct Connected {
    /// The engine.
    pub engine: SparkEngine,
    /// The server started for this run, if any.
    pub server: Option<tauro_io::LocalServer>,
}

/// Resolves the endpoint (`local`: a warm server, else an embedded one) and connects with a
/// readiness probe. On a connect failure the embedded server is stopped before returning.
pub async fn connect(ctx: &Context, args: &EngineArgs, human: bool) -> Result<Connected, CliError> {
    let remote = args
        .remote
        .clone()
        .unwrap_or_else(|| ctx.global.spark.remote.clone());
    let embedded = remote.trim().eq_ignore_ascii_case("local");
    let kind = engine_kind(ctx, args);
    let ResolvedRemote { remote, server } = resolve_remote(ctx, &remote, kind, human).await?;
    let spark = &ctx.global.spark;
    let mut remote_options = RemoteOptions::from_settings(spark);
    if embedded {
        // The local server tauro runs takes no token.
        remote_options.token = TokenSource::None;
    }
    if let Some(id) = &args.session_id {
        remote_options.session_id = Some(id.clone());
    }
    let options = EngineOptions {
        connect_timeout: spark.connect_timeout,
        action_timeout: spark.action_timeout,
        session_conf: spark.config.clone(),
        remote: remote_options,
        engine: kind,
    };
    match SparkEngine::connect(&remote, options).await {
        Ok(engine) => Ok(Connected { engine, server }),
        Err(e) => {
            stop_server(server, human).await;
            Err(e.into())
        }
    }
}

/// Stops the server a run started, reporting (not failing on) problems.
pub async fn stop_server(server: Option<tauro_io::LocalServer>, human: bool) {
    if let Some(server) = server {
        if human {
            eprintln!("stopping the local Spark Connect server …");
        }
        if let Err(e) = server.stop().await {
            eprint!("{}", render::error_report(&e, e.hint().as_deref()));
        }
    }
}

async fn resolve_remote(
    ctx: &Context,
    remote: &str,
    kind: EngineKind,
    human: bool,
) -> Result<ResolvedRemote, CliError> {
    let spark = &ctx.global.spark;
    let local = LocalServerOptions {
        master: spark.local_master.clone(),
        engine: kind,
        catalog_dir: spark
            .persistent_catalog
            .then(|| ctx.project_dir.join(".tauro").join("catalog")),
        ..LocalServerOptions::default()
    };
    if human && remote.trim().eq_ignore_ascii_case("local") {
        let server = match kind {
            EngineKind::Spark => "Spark Connect server",
            EngineKind::Sail => "Sail server",
        };
        eprintln!("starting a local {server} (spark.remote: local) …");
    }
    let started = Instant::now();
    let resolved = warm::resolve_local(remote, local).await?;
    if human && resolved.server.is_some() {
        eprintln!(
            "Spark Connect server ready at {} in {}",
            resolved.remote,
            render::duration(started.elapsed())
        );
    }
    Ok(resolved)
}

/// A token cancelled on Ctrl-C, and the task watching for it (abort it when done).
pub fn ctrl_c_token() -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: cancelling running Spark work …");
                cancel.cancel();
            }
        }
    });
    (cancel, task)
}

/// The executor of a run: the Spark runner with lineage, and the CLI's overrides. With
/// `journal` (the state directory of an incremental run), `append` outputs go through the
/// write-ahead journal there, so a resumed node does not append twice. Node sessions are
/// recorded in the session ledger of that directory (else the project's `.tauro/`), so the
/// run first ends what a killed run left running on the server.
pub fn executor(
    ctx: &Context,
    engine: SparkEngine,
    args: &EngineArgs,
    cancel: CancellationToken,
    run_id: &str,
    journal: Option<&StateDir>,
) -> Executor {
    let mut runner = SparkNodeRunner::new(engine, registry())
        .with_lineage(LineageOptions::from_settings(&ctx.global.lineage));
    let project_state = StateDir::for_project(&ctx.project_dir);
    runner = runner.with_session_ledger(journal.unwrap_or(&project_state));
    if let Some(dir) = journal {
        runner = runner.with_append_journal(dir.clone());
    }
    if args.track.contains(&Track::Sample) && ctx.global.lineage.sample_rows == 0 {
        runner = runner.with_sample_rows(5);
    }
    let mut executor = Executor::new(runner)
        .with_cancel(cancel)
        .with_run_id(run_id.to_string());
    if let Some(n) = args.max_workers {
        executor = executor.with_max_workers(n);
    }
    if let Some(retries) = args.retry {
        executor =
            executor.with_retry(RetryPolicy::from_settings(&ctx.global).with_max_retries(retries));
    }
    if args.continue_on_error {
        executor = executor.with_continue_on_error(true);
    }
    executor
}

async fn run_on_spark(
    ctx: &Arc<Context>,
    inc: &IncrementalRun,
    plan: Plan,
    engine: SparkEngine,
    args: &EngineArgs,
    run_id: &str,
) -> Result<(Plan, RunReport), CliError> {
    let (cancel, ctrl_c) = ctrl_c_token();
    let executor = executor(ctx, engine, args, cancel, run_id, Some(inc.state_dir()))
        .with_ml(plan.ml.clone())
        .with_model_registry(Arc::new(FileModelRegistry::for_project(&ctx.project_dir)));
    let result = inc.execute(plan, Some(&executor)).await;
    ctrl_c.abort();
    Ok(result?)
}

fn window_text(window: Option<DateWindow>) -> String {
    window.map_or_else(
        || "no dates".to_string(),
        |w| format!("{}..{}", w.start, w.end),
    )
}

pub fn summary(report: &RunReport, ctx: &Context, window: Option<DateWindow>) -> String {
    let rows: Vec<Vec<String>> = report
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.status.to_string(),
                n.attempts.to_string(),
                n.duration.map(render::duration).unwrap_or_default(),
                n.rows_written.map(render::count).unwrap_or_default(),
                n.outputs
                    .iter()
                    .map(|o| o.destination.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let mut out = format!(
        "\npipeline {} {} in {} (window {}, env {}, run {}); {} rows written\n",
        report.pipeline,
        report.status,
        render::duration(report.duration),
        window_text(window),
        ctx.env,
        report.run_id,
        render::count(report.rows_written()),
    );
    out.push_str(&render::table(
        &["node", "status", "attempts", "duration", "rows", "outputs"],
        &rows,
    ));
    if let Some(ml) = &report.ml {
        out.push_str(&ml_summary(ml));
    }
    for n in &report.nodes {
        let checked = n.expectations.len();
        let flagged: Vec<String> = n
            .expectations
            .iter()
            .filter(|e| !e.passed)
            .map(|e| {
                format!(
                    "{} {} ({} of {} rows)",
                    e.name,
                    e.outcome,
                    render::count(e.failed_rows),
                    render::count(e.total_rows)
                )
            })
            .collect();
        if checked > 0 {
            out.push_str(&format!(
                "expectations of {}: {} passed{}{}\n",
                n.name,
                checked - flagged.len(),
                if flagged.is_empty() { "" } else { "; " },
                flagged.join(", ")
            ));
        }
    }
    if let Some(reason) = &report.stop_reason {
        out.push_str(&format!("stopped: {reason}\n"));
    }
    out
}

/// `model …` and `metrics …` lines of an ML run.
fn ml_summary(ml: &tauro_exec::MlRunInfo) -> String {
    let params: Vec<String> = ml
        .hyperparams
        .iter()
        .map(|(k, v)| format!("{k}={}", tauro_config::ml::conf_text(v)))
        .collect();
    let mut out = format!(
        "model {} version {}; hyperparams: {}\n",
        ml.model_name,
        ml.model_version.as_deref().unwrap_or("(none)"),
        if params.is_empty() {
            "none".to_string()
        } else {
            params.join(", ")
        }
    );
    if !ml.metrics.is_empty() {
        let metrics: Vec<String> = ml
            .metrics
            .iter()
            .map(|(k, v)| format!("{k}={}", render::metric(*v)))
            .collect();
        out.push_str(&format!("metrics: {}\n", metrics.join(", ")));
    }
    out
}

fn report_json(report: &RunReport, ctx: &Context, plan: &Plan) -> serde_json::Value {
    let mut value =
        serde_json::to_value(report).unwrap_or_else(|e| json!({"error": e.to_string()}));
    if let Some(map) = value.as_object_mut() {
        map.insert("env".into(), json!(ctx.env));
        map.insert(
            "window".into(),
            json!(plan.window.map(|w| json!({"start": w.start, "end": w.end}))),
        );
        map.insert("rows_written".into(), json!(report.rows_written()));
        map.insert(
            "plan".into(),
            json!(
                plan.nodes
                    .iter()
                    .map(|n| json!({"node": n.name, "action": n.action.label(),
                                                     "reason": n.reason.as_str()}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    value
}
