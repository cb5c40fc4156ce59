//! `tauro-cli exec`: run a pipeline on Spark Connect.
//!
//! Load and validate (no Spark), then resolve the endpoint (`local` starts a server for the
//! run unless a warm one is up), connect with a readiness probe, run, print progress and a
//! summary, and stop what was started — also on errors and Ctrl-C.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::json;
use tauro_config::{Context, DateWindow};
use tauro_exec::{
    CallbackSink, Executor, NodeRegistry, NodeSelection, NodeStatus, PipelineValidator,
    ProgressEvent, RetryPolicy, RunReport, SparkNodeRunner,
};
use tauro_io::warm::{self, ResolvedRemote};
use tauro_io::{EngineOptions, LocalServerOptions, SparkEngine};
use tokio_util::sync::CancellationToken;

use crate::cli::{ExecArgs, OutputFormat};
use crate::error::CliError;
use crate::{project, render};

/// Runs `exec`.
pub async fn run(args: ExecArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let ctx = Arc::new(project::load(&args.project)?);
    let pipeline = ctx.pipeline(&args.pipeline)?.name.clone();
    let start = args
        .start
        .as_deref()
        .map(tauro_config::parse_date)
        .transpose()?;
    let end = args
        .end
        .as_deref()
        .map(tauro_config::parse_date)
        .transpose()?;
    let window = ctx.window_for(start, end)?;
    let selection = if args.nodes.is_empty() {
        NodeSelection::All
    } else {
        NodeSelection::Only(args.nodes.clone())
    };
    let registry = Arc::new(NodeRegistry::with_builtins());
    // Everything that can be checked without Spark is checked before a server starts.
    let validated = PipelineValidator::new(&ctx)
        .with_registry(&registry)
        .validate(&pipeline, &selection, window)?;
    let window = validated.window();

    let human = output == OutputFormat::Human;
    let remote = args
        .remote
        .clone()
        .unwrap_or_else(|| ctx.global.spark.remote.clone());
    let ResolvedRemote { remote, server } = {
        let local = LocalServerOptions {
            master: ctx.global.spark.local_master.clone(),
            ..LocalServerOptions::default()
        };
        if human && remote.trim().eq_ignore_ascii_case("local") {
            eprintln!("starting a local Spark Connect server (spark.remote: local) …");
        }
        let started = Instant::now();
        let resolved = warm::resolve_local(&remote, local).await?;
        if human && resolved.server.is_some() {
            eprintln!(
                "Spark Connect server ready at {} in {}",
                resolved.remote,
                render::duration(started.elapsed())
            );
        }
        resolved
    };

    let outcome = run_on(
        &ctx, &args, &pipeline, window, selection, &remote, registry, output,
    )
    .await;

    if let Some(server) = server {
        if human {
            eprintln!("stopping the local Spark Connect server …");
        }
        if let Err(e) = server.stop().await {
            eprint!("{}", render::error_report(&e, e.hint().as_deref()));
        }
    }
    let report = outcome?;
    match output {
        OutputFormat::Human => print!("{}", summary(&report, &ctx, window)),
        OutputFormat::Json => println!("{}", report_json(&report, &ctx, window)),
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

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces of one run"
)]
async fn run_on(
    ctx: &Arc<Context>,
    args: &ExecArgs,
    pipeline: &str,
    window: Option<DateWindow>,
    selection: NodeSelection,
    remote: &str,
    registry: Arc<NodeRegistry>,
    output: OutputFormat,
) -> Result<RunReport, CliError> {
    let spark = &ctx.global.spark;
    let options = EngineOptions {
        connect_timeout: spark.connect_timeout,
        action_timeout: spark.action_timeout,
        session_conf: spark.config.clone(),
    };
    let engine = SparkEngine::connect(remote, options).await?;

    let cancel = CancellationToken::new();
    let ctrl_c = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: cancelling running Spark work …");
                cancel.cancel();
            }
        }
    });

    let mut executor = Executor::new(SparkNodeRunner::new(engine, registry)).with_cancel(cancel);
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
    if output == OutputFormat::Human {
        executor = executor.with_events(progress_printer());
    }
    let result = executor
        .run(Arc::clone(ctx), pipeline, window, &selection)
        .await;
    ctrl_c.abort();
    Ok(result?)
}

/// One line per finished node on stderr: `3 of 8 OK clean_orders … [142 rows, 1.2s]`.
fn progress_printer() -> CallbackSink<impl Fn(&ProgressEvent) + Send + Sync> {
    let total = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    CallbackSink(move |event: &ProgressEvent| match event {
        ProgressEvent::RunStarted { pipeline, nodes } => {
            total.store(*nodes, Ordering::Relaxed);
            eprintln!("running pipeline {pipeline} ({nodes} nodes)");
        }
        ProgressEvent::NodeRetrying {
            node,
            attempt,
            max_attempts,
            delay,
            error,
        } => {
            eprintln!(
                "      retry {node}: attempt {attempt} of {max_attempts} in {} ({error})",
                render::duration(*delay)
            );
        }
        ProgressEvent::NodeFinished(result) => {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let m = total.load(Ordering::Relaxed);
            let (word, code) = match result.status {
                NodeStatus::Completed => ("OK", "32"),
                NodeStatus::Failed => ("FAILED", "31"),
                NodeStatus::Skipped => ("SKIPPED", "33"),
                NodeStatus::Cancelled => ("CANCELLED", "33"),
                NodeStatus::Pending | NodeStatus::Running | NodeStatus::Retrying => ("…", "0"),
            };
            let word = if color {
                format!("\x1b[{code}m{word}\x1b[0m")
            } else {
                word.to_string()
            };
            let mut detail = Vec::new();
            if let Some(rows) = result.rows_written {
                detail.push(format!("{} rows", render::count(rows)));
            }
            if let Some(d) = result.duration {
                detail.push(render::duration(d));
            }
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" [{}]", detail.join(", "))
            };
            eprintln!("{n} of {m} {word} {}{detail}", result.name);
            if let Some(err) = &result.error
                && result.status == NodeStatus::Failed
            {
                let text = render::error_report(err.error.as_ref(), err.hint.as_deref());
                for line in text.lines() {
                    eprintln!("      {line}");
                }
            }
        }
        _ => {}
    })
}

fn window_text(window: Option<DateWindow>) -> String {
    window.map_or_else(
        || "no dates".to_string(),
        |w| format!("{}..{}", w.start, w.end),
    )
}

fn summary(report: &RunReport, ctx: &Context, window: Option<DateWindow>) -> String {
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
        "\npipeline {} {} in {} (window {}, env {}); {} rows written\n",
        report.pipeline,
        report.status,
        render::duration(report.duration),
        window_text(window),
        ctx.env,
        render::count(report.rows_written()),
    );
    out.push_str(&render::table(
        &["node", "status", "attempts", "duration", "rows", "outputs"],
        &rows,
    ));
    if let Some(reason) = &report.stop_reason {
        out.push_str(&format!("stopped: {reason}\n"));
    }
    out
}

fn report_json(report: &RunReport, ctx: &Context, window: Option<DateWindow>) -> serde_json::Value {
    let mut value =
        serde_json::to_value(report).unwrap_or_else(|e| json!({"error": e.to_string()}));
    if let Some(map) = value.as_object_mut() {
        map.insert("env".into(), json!(ctx.env));
        map.insert(
            "window".into(),
            json!(window.map(|w| json!({"start": w.start, "end": w.end}))),
        );
        map.insert("rows_written".into(), json!(report.rows_written()));
    }
    value
}
